/*
 * hints: calls whose work the host does or that only record a choice:
 * mlock family (range checks), posix_fadvise/readahead/sync_file_range
 * (argument and file-type checks), sethostname/setdomainname (as seen
 * through uname; root in a sandbox or a scratch namespace natively is not
 * assumed: the probe runs unprivileged checks only if it lacks
 * CAP_SYS_ADMIN), personality (query, set, inherit).
 */
#include "probe_fs.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static void locking(void)
{
	char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p + 4096, 4096);
	CHECK_OK("mlock a mapped page", mlock(p, 4096));
	CHECK_OK("mlock an unaligned piece", mlock(p + 100, 50));
	CHECK_ERR("mlock across a hole", mlock(p, 3 * 4096), ENOMEM);
	CHECK_OK("munlock", munlock(p, 4096));
	CHECK_ERR("munlock across a hole", munlock(p, 3 * 4096), ENOMEM);
	CHECK_OK("mlock length 0", mlock(p, 0));
	CHECK_ERR("mlock2 bad flags", syscall(SYS_mlock2, p, 4096, 2), EINVAL);
	CHECK_OK("mlock2 MLOCK_ONFAULT", syscall(SYS_mlock2, p, 4096, 1));
	CHECK_ERR("mlockall 0", mlockall(0), EINVAL);
	CHECK_ERR("mlockall MCL_ONFAULT alone", mlockall(4), EINVAL);
	CHECK_ERR("mlockall bad bit", mlockall(MCL_CURRENT | 8), EINVAL);
	CHECK_OK("mlockall current", mlockall(MCL_CURRENT));
	CHECK_OK("munlockall", munlockall());
	munmap(p, 3 * 4096);
}

/* Without CAP_IPC_LOCK and with RLIMIT_MEMLOCK 0, locking is refused. */
static void lock_limits(void)
{
	pid_t c = fork();
	if (c == 0) {
		struct __user_cap_header_struct h = {
		    _LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2];
		if (syscall(SYS_capget, &h, d) < 0)
			_exit(10);
		d[0].effective &= ~(1u << CAP_IPC_LOCK);
		if (syscall(SYS_capset, &h, d) < 0)
			_exit(11);
		struct rlimit rl = {0, 0};
		if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
			_exit(12);
		static char page[4096] __attribute__((aligned(4096)));
		if (mlock(page, 4096) == 0 || errno != EPERM)
			_exit(13);
		if (mlockall(MCL_CURRENT) == 0 || errno != EPERM)
			_exit(14);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK_TRUE(
	    "mlock and mlockall: EPERM without the limit or CAP_IPC_LOCK",
	    WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void advice(void)
{
	fs_put("f", "hello", 0644);
	int fd = open("f", O_RDONLY);
	/* posix_fadvise returns the error instead of setting errno. */
	CHECK_TRUE("fadvise SEQUENTIAL",
		   posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0);
	CHECK_TRUE("fadvise DONTNEED",
		   posix_fadvise(fd, 0, 5, POSIX_FADV_DONTNEED) == 0);
	CHECK_TRUE("fadvise bad advice", posix_fadvise(fd, 0, 0, 42) == EINVAL);
	CHECK_TRUE("fadvise negative length",
		   posix_fadvise(fd, 0, -1, 0) == EINVAL);
	CHECK_TRUE("fadvise bad fd", posix_fadvise(555, 0, 0, 0) == EBADF);
	int pp[2];
	pipe(pp);
	CHECK_TRUE("fadvise a pipe", posix_fadvise(pp[0], 0, 0, 0) == ESPIPE);
	CHECK_OK("readahead", readahead(fd, 0, 4096));
	CHECK_ERR("readahead a pipe", readahead(pp[0], 0, 10), EINVAL);
	int wo = open("f", O_WRONLY);
	CHECK_ERR("readahead write-only", readahead(wo, 0, 10), EBADF);
	int d = open(".", O_RDONLY | O_DIRECTORY);
	CHECK_ERR("readahead a directory", readahead(d, 0, 10), EINVAL);
	CHECK_OK("sync_file_range",
		 sync_file_range(wo, 0, 0, SYNC_FILE_RANGE_WRITE));
	CHECK_ERR("sync_file_range bad flags", sync_file_range(wo, 0, 0, 8),
		  EINVAL);
	CHECK_ERR("sync_file_range negative offset",
		  sync_file_range(wo, -1, 0, 0), EINVAL);
	CHECK_ERR("sync_file_range a pipe", sync_file_range(pp[1], 0, 0, 0),
		  ESPIPE);
	CHECK_ERR("sync_file_range bad fd", sync_file_range(555, 0, 0, 0),
		  EBADF);
	int op = open("f", O_PATH);
	CHECK_ERR("sync_file_range O_PATH", sync_file_range(op, 0, 0, 0),
		  EBADF);
	close(op);
	close(d);
	close(wo);
	close(fd);
	close(pp[0]);
	close(pp[1]);
}

static void names(void)
{
	static char long_name[80];
	memset(long_name, 'x', sizeof(long_name) - 1);
	CHECK_ERR("sethostname too long", sethostname(long_name, 65), EINVAL);
	CHECK_ERR("setdomainname too long", setdomainname(long_name, 65),
		  EINVAL);
	/* Changing the names is checked only in a child with its own copy
	 * of the world: natively that is a new UTS namespace (root only). */
	pid_t c = fork();
	if (c == 0) {
		if (unshare(CLONE_NEWUTS) < 0 && errno != ENOSYS)
			_exit(3);
		if (sethostname("probe-host", 10) < 0)
			_exit(4);
		struct utsname u;
		uname(&u);
		_exit(strcmp(u.nodename, "probe-host") == 0 ? 0 : 5);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK_TRUE("sethostname shows in uname",
		   WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A change of effective ids makes a process undumpable; an exec with
 * agreeing ids makes it dumpable again. */
static void dumpable(const char *self)
{
	pid_t c = fork();
	if (c == 0) {
		if (prctl(PR_GET_DUMPABLE) != 1)
			_exit(20);
		if (setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0)
			_exit(21);
		if (prctl(PR_GET_DUMPABLE) != 0)
			_exit(22);
		char *const argv[] = { (char *)self, "dumpable", NULL };
		execv(self, argv);
		_exit(23);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK_TRUE("undumpable after setuid, dumpable again after exec",
		   WIFEXITED(st) && WEXITSTATUS(st) == 1);
	/* Dumpability is the memory's (Linux's mm flags): a fork child
	 * inherits it, an exec with agreeing ids ends it. */
	c = fork();
	if (c == 0) {
		if (prctl(PR_SET_DUMPABLE, 0) < 0)
			_exit(30);
		pid_t g = fork();
		if (g == 0)
			_exit(prctl(PR_GET_DUMPABLE));
		int gs;
		if (g < 0 || waitpid(g, &gs, 0) != g || !WIFEXITED(gs))
			_exit(31);
		if (WEXITSTATUS(gs) != 0)
			_exit(32);
		char *const argv[] = { (char *)self, "dumpable", NULL };
		execv(self, argv);
		_exit(33);
	}
	waitpid(c, &st, 0);
	CHECK_TRUE("a fork child inherits undumpable, exec ends it",
		   WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

static void persona(void)
{
	int cur = personality(0xffffffff);
	CHECK_TRUE("personality is PER_LINUX", cur == PER_LINUX);
	CHECK_RET("set UNAME26 returns the old one",
		  personality(PER_LINUX | UNAME26), PER_LINUX);
	CHECK_RET("query it", personality(0xffffffff), PER_LINUX | UNAME26);
	pid_t c = fork();
	if (c == 0)
		_exit(personality(0xffffffff) == (PER_LINUX | UNAME26) ? 0 : 1);
	int st;
	waitpid(c, &st, 0);
	CHECK_TRUE("a child inherits it",
		   WIFEXITED(st) && WEXITSTATUS(st) == 0);
	personality(PER_LINUX);
}

int main(int argc, char **argv)
{
	/* The exec'd stage of dumpable(): its dumpability as exit status. */
	if (argc > 1 && strcmp(argv[1], "dumpable") == 0)
		return prctl(PR_GET_DUMPABLE);
	char *self = realpath(argv[0], NULL);
	fs_setup();
	locking();
	lock_limits();
	advice();
	names();
	if (self)
		dumpable(self);
	persona();
	fs_cleanup();
	return probe_done();
}
