/*
 * copyout: the small results a system call writes to the caller's memory
 * (an old signal action or mask, a stat buffer, uname, a wait status,
 * pipe2's pair) are there when the call returns, whatever the memory:
 * the stack, the heap, the data segment, private and shared anonymous
 * mappings, private and shared file mappings; EFAULT for read-only and
 * inaccessible pages. They are there for a signal handler that runs as the
 * call returns (its frame is written after them), for a vfork parent after
 * its child's _exit or failed execve (the memory is shared), and for the
 * next system call that reads them; a fork child gets EFAULT for memory
 * its parent marked MADV_DONTFORK. And a call's inputs (a path, a signal
 * action or mask), which systrap's rewritten sites read ahead, come from
 * where they are, or give EFAULT. Each check runs 20 times through one
 * call site, so on systrap both the trapped and the rewritten way are
 * covered (a site is rewritten after its eighth trap).
 */
#include "probe_proc.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define ROUNDS 20

/* The kernel's struct sigaction for rt_sigaction. */
struct ksa {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static void usr1(int sig)
{
	(void)sig;
}

static long get_action(int sig, struct ksa *old)
{
	return syscall(SYS_rt_sigaction, sig, NULL, old, 8);
}

static long get_mask(uint64_t *old)
{
	return syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, old, 8);
}

static char g_bss[1024];
static struct utsname want_uts;
static const char *g_path = "/tmp";

/* One kind of memory: the results of three calls land there, 20 times. */
static void into(const char *what, void *mem)
{
	int ok = 0;

	for (int i = 0; i < ROUNDS; i++) {
		struct ksa *a = mem;
		uint64_t *m = (uint64_t *)((char *)mem + 64);
		struct utsname *u = (struct utsname *)((char *)mem + 128);
		memset(mem, 0x5a, 128 + sizeof(*u));
		struct stat st;
		if (get_action(SIGUSR1, a) == 0 && a->handler == usr1 &&
		    get_mask(m) == 0 && *m == (1ULL << (SIGUSR2 - 1)) &&
		    syscall(SYS_uname, u) == 0 &&
		    strcmp(u->release, want_uts.release) == 0 &&
		    strcmp(u->sysname, want_uts.sysname) == 0 &&
		    stat(g_path, &st) == 0 && S_ISDIR(st.st_mode))
			ok++;
	}
	printf("results land in %s: %d of %d\n", what, ok, ROUNDS);
}

static void kinds(void)
{
	char stack[1024];
	into("the stack", stack);
	char *heap = malloc(1024);
	into("the heap", heap);
	free(heap);
	static char data[1024] = { 1 }; /* .data */
	into("the data segment", data);
	into("the bss", g_bss);
	char *anon = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	into("a private anonymous mapping", anon + 4096 - 64); /* across pages */
	munmap(anon, 8192);
	char *shared = px_shared(8192);
	into("a shared anonymous mapping", shared);
	munmap(shared, 8192);

	char path[] = "/tmp/probe-copyout-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 8192) < 0) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	char *fp = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	into("a private file mapping", fp);
	munmap(fp, 8192);
	char *fs = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	into("a shared file mapping", fs);
	int same = 0;
	char back[sizeof(struct utsname)];
	if (pread(fd, back, sizeof(back), 128) == (ssize_t)sizeof(back) &&
	    memcmp(back, fs + 128, sizeof(back)) == 0)
		same = 1;
	CHECK_TRUE("uname's result in a shared file mapping is in the file",
		   same);
	munmap(fs, 8192);
	close(fd);

	char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			0);
	char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	int efault = 0;
	for (int i = 0; i < ROUNDS; i++)
		if (get_action(SIGUSR1, (struct ksa *)ro) == -1 &&
		    errno == EFAULT &&
		    get_mask((uint64_t *)(none + 8)) == -1 && errno == EFAULT &&
		    syscall(SYS_uname, ro) == -1 && errno == EFAULT)
			efault++;
	printf("read-only and inaccessible pages: EFAULT %d of %d\n", efault,
	       ROUNDS);
	munmap(ro, 4096);
	munmap(none, 4096);
}

/* A handler that runs as rt_sigprocmask returns sees the old mask the
 * call wrote. */
static volatile uint64_t *g_oldp;
static volatile int g_saw_old;

static void usr2(int sig)
{
	(void)sig;
	g_saw_old = *g_oldp == (1ULL << (SIGUSR2 - 1));
}

static void handler_order(void)
{
	int ok = 0;

	for (int i = 0; i < ROUNDS; i++) {
		uint64_t old = 0;
		uint64_t set = 1ULL << (SIGUSR2 - 1);
		g_oldp = &old;
		g_saw_old = 0;
		raise(SIGUSR2); /* blocked: pending */
		syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, &old, 8);
		syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 8);
		if (g_saw_old && old == set)
			ok++;
	}
	printf("a handler running as the call returns sees its result: %d of "
	       "%d\n", ok, ROUNDS);
}

/* A vfork child shares the parent's memory: what its calls wrote is
 * there once it has gone (_exit) or failed to exec. */
static struct ksa v_act;
static uint64_t v_mask;
static struct utsname v_uts;

static void vfork_results(void)
{
	static int ok, ok_exec, i;

	for (i = 0; i < ROUNDS; i++) {
		struct ksa on_stack;
		memset(&on_stack, 0, sizeof(on_stack));
		memset(&v_uts, 0, sizeof(v_uts));
		v_mask = 0;
		pid_t pid = vfork();
		if (pid == 0) {
			get_action(SIGUSR1, &on_stack);
			syscall(SYS_uname, &v_uts);
			get_mask(&v_mask);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		if (on_stack.handler == usr1 &&
		    strcmp(v_uts.release, want_uts.release) == 0 &&
		    v_mask == (1ULL << (SIGUSR2 - 1)) && WIFEXITED(st))
			ok++;

		memset(&v_act, 0, sizeof(v_act));
		v_mask = 0;
		pid = vfork();
		if (pid == 0) {
			get_action(SIGUSR1, &v_act);
			char *argv[] = { "/nonexistent/copyout", NULL };
			execve(argv[0], argv, argv + 1);
			get_mask(&v_mask);
			_exit(errno == ENOENT ? 0 : 1);
		}
		waitpid(pid, &st, 0);
		if (v_act.handler == usr1 && v_mask == (1ULL << (SIGUSR2 - 1)) &&
		    WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok_exec++;
	}
	/* The call unblocks a pending SIGTERM: the child dies as it
	 * returns, its old mask written all the same. */
	static int ok_killed;
	for (i = 0; i < ROUNDS; i++) {
		v_mask = 0;
		pid_t pid = vfork();
		if (pid == 0) {
			uint64_t term = 1ULL << (SIGTERM - 1);
			syscall(SYS_rt_sigprocmask, SIG_BLOCK, &term, NULL, 8);
			syscall(SYS_tgkill, getpid(), syscall(SYS_gettid),
				SIGTERM);
			syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &term, &v_mask,
				8);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM &&
		    v_mask == ((1ULL << (SIGUSR2 - 1)) | (1ULL << (SIGTERM - 1))))
			ok_killed++;
	}
	printf("a vfork child's results, after its _exit: %d of %d\n", ok,
	       ROUNDS);
	printf("a vfork child's last result, as a signal kills it: %d of %d\n",
	       ok_killed, ROUNDS);
	printf("a vfork child's results, around a failed execve: %d of %d\n",
	       ok_exec, ROUNDS);
}

/* Results read back by the next call, and several results of one call. */
static void next_call(void)
{
	int ok = 0;

	for (int i = 0; i < ROUNDS; i++) {
		int fds[2] = { -1, -1 };
		struct utsname u;
		if (pipe2(fds, O_CLOEXEC) != 0)
			continue;
		syscall(SYS_uname, &u);
		char got[sizeof(u)];
		if (write(fds[1], &u, sizeof(u)) == (ssize_t)sizeof(u) &&
		    read(fds[0], got, sizeof(got)) == (ssize_t)sizeof(got) &&
		    memcmp(got, &want_uts, sizeof(got)) == 0)
			ok++;
		close(fds[0]);
		close(fds[1]);
	}
	printf("pipe2's pair and uname's result used by the next calls: %d of "
	       "%d\n", ok, ROUNDS);

	int st_ok = 0;
	for (int i = 0; i < ROUNDS; i++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0)
			_exit(7);
		int st = 0;
		struct rusage ru;
		memset(&ru, 0xff, sizeof(ru));
		if (wait4(pid, &st, 0, &ru) == pid && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 7 && ru.ru_utime.tv_sec >= 0 &&
		    ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000)
			st_ok++;
	}
	printf("wait4's status and usage: %d of %d\n", st_ok, ROUNDS);
}

/* Memory the parent marked MADV_DONTFORK is not in the child: a result
 * aimed there is EFAULT (the child survives), 20 times per child so the
 * site is rewritten; after MADV_DOFORK it is there again. */
static void dontfork(void)
{
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return;
	memset(m, 1, 8192);
	CHECK_OK("madvise MADV_DONTFORK", madvise(m, 4096, MADV_DONTFORK));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int efault = 0;
		for (int i = 0; i < ROUNDS; i++) {
			struct stat st;
			if (get_action(SIGUSR1, (struct ksa *)(m + 64)) == -1 &&
			    errno == EFAULT &&
			    get_mask((uint64_t *)(m + 8)) == -1 &&
			    errno == EFAULT && stat("/", (struct stat *)m) == -1 &&
			    errno == EFAULT && stat("/", &st) == 0)
				efault++;
		}
		uint64_t mk = 0;
		int ok = efault == ROUNDS && get_mask((uint64_t *)(m + 4096)) == 0 &&
			 get_mask(&mk) == 0 && *(uint64_t *)(m + 4096) == mk;
		_exit(ok ? 0 : 1);
	}
	px_expect_exit("fork child: results aimed at MADV_DONTFORK memory are "
		       "EFAULT, the rest of the mapping is there", pid,
		       "exited 0");
	CHECK_OK("madvise MADV_DOFORK", madvise(m, 4096, MADV_DOFORK));
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(get_action(SIGUSR1, (struct ksa *)(m + 64)) == 0 &&
				      ((struct ksa *)(m + 64))->handler == usr1
			      ? 0
			      : 1);
	px_expect_exit("fork child: after MADV_DOFORK the result lands", pid,
		       "exited 0");
	munmap(m, 8192);
}

/* Inputs (a path, a signal action, a mask), read where they are, 20
 * times through one call site: in ordinary memory; ending just before an
 * inaccessible page and running into one; in an inaccessible page, at
 * NULL and above user memory; in a file mapping past the file's end
 * (SIGBUS to a reader, EFAULT to the call); in a private file mapping
 * never touched yet; an action read and the old one written back into
 * the same buffer. */
static int path_stat(const char *p)
{
	struct stat st;
	return syscall(SYS_newfstatat, AT_FDCWD, p, &st, 0) == 0 ? 0 : errno;
}

static void inputs(void)
{
	int ok[8] = { 0 };
	char *pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(pg + 4096, 4096, PROT_NONE);
	char *end = pg + 4096 - 5; /* "/tmp" and its NUL end the page */
	memcpy(end, "/tmp", 5);
	char *pg2 = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(pg2 + 4096, 4096, PROT_NONE);
	char *over = pg2 + 4096 - 4; /* "/tmp" with no NUL before the page */
	memcpy(over, "/tmp", 4);
	char path[] = "/tmp/probe-copyin-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, "/tmp", 5) != 5)
		exit(2);
	char *past = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
	for (int i = 0; i < ROUNDS; i++) {
		char here[] = "/tmp";
		ok[0] += path_stat(here) == 0;
		ok[1] += path_stat(end) == 0;
		ok[2] += path_stat(over) == EFAULT;
		ok[3] += path_stat(pg + 4096) == EFAULT &&
			 path_stat(NULL) == EFAULT &&
			 path_stat((char *)0xffffffffff600000ULL) == EFAULT;
		ok[4] += path_stat(past + 4096) == EFAULT;
		/* a fresh private mapping of the file each time */
		char *fresh = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		ok[5] += fresh != MAP_FAILED && path_stat(fresh) == 0;
		munmap(fresh, 4096);
		struct ksa both;
		memset(&both, 0, sizeof(both));
		both.handler = usr1;
		ok[6] += syscall(SYS_rt_sigaction, SIGUSR1, &both, &both, 8) ==
				 0 &&
			 both.handler == usr1;
		uint64_t m = 1ULL << (SIGUSR2 - 1), old = 0;
		ok[7] += syscall(SYS_rt_sigprocmask, SIG_BLOCK, &m, &old, 8) ==
				 0 &&
			 old == m;
	}
	printf("a path in ordinary memory: %d of %d\n", ok[0], ROUNDS);
	printf("a path ending at an inaccessible page: %d of %d\n", ok[1],
	       ROUNDS);
	printf("a path running into an inaccessible page: EFAULT %d of %d\n",
	       ok[2], ROUNDS);
	printf("a path in an inaccessible page, NULL, above user memory: "
	       "EFAULT %d of %d\n", ok[3], ROUNDS);
	printf("a path past a mapped file's end: EFAULT %d of %d\n", ok[4],
	       ROUNDS);
	printf("a path in a fresh file mapping: %d of %d\n", ok[5], ROUNDS);
	printf("an action read and the old one written to one buffer: %d of "
	       "%d\n", ok[6], ROUNDS);
	printf("a mask read and the old one written: %d of %d\n", ok[7],
	       ROUNDS);

	/* Small writes, their data changed every round, and an iovec array. */
	int wok = 0, p[2];
	if (pipe(p) == 0) {
		for (int i = 0; i < ROUNDS; i++) {
			char b[64], got[64];
			memset(b, 'a' + i, sizeof(b));
			struct iovec iv[2] = { { b, 10 }, { b + 10, 54 } };
			if (write(p[1], b, sizeof(b)) == (ssize_t)sizeof(b) &&
			    read(p[0], got, sizeof(got)) == (ssize_t)sizeof(got) &&
			    memcmp(got, b, sizeof(b)) == 0) {
				b[0] = 'A' + i;
				if (writev(p[1], iv, 2) == (ssize_t)sizeof(b) &&
				    read(p[0], got, sizeof(got)) ==
					    (ssize_t)sizeof(got) &&
				    memcmp(got, b, sizeof(b)) == 0)
					wok++;
			}
		}
		close(p[0]);
		close(p[1]);
	}
	printf("small writes and writev carry the current data: %d of %d\n",
	       wok, ROUNDS);

	/* Execute-only memory: x86 reads it unless the host keeps it
	 * unreadable with a protection key, and a system call reads it as
	 * the workload would (the transcript says which, natively). */
	char *xo = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(xo, "/tmp", 5);
	memset(xo + 64, 'x', 64);
	mprotect(xo, 4096, PROT_EXEC);
	int xs = 0, xw = 0, xe = 0, p2[2];
	if (pipe(p2) == 0) {
		for (int i = 0; i < ROUNDS; i++) {
			int e = path_stat(xo);
			xs += e == 0;
			xe += e == EFAULT;
			char got[64];
			if (write(p2[1], xo + 64, 64) == 64 &&
			    read(p2[0], got, 64) == 64 && got[0] == 'x')
				xw++;
		}
		close(p2[0]);
		close(p2[1]);
	}
	printf("a path in execute-only memory: read %d, EFAULT %d of %d\n", xs,
	       xe, ROUNDS);
	printf("a write from execute-only memory: %d of %d\n", xw, ROUNDS);
	munmap(xo, 4096);
	munmap(past, 8192);
	munmap(pg, 8192);
	munmap(pg2, 8192);
	close(fd);
	unlink(path);
}

/* A second thread: its process's calls go the ordinary way; results the
 * same. */
static void *other_thread(void *arg)
{
	(void)arg;
	char buf[1024];
	into("the stack, with a second thread", buf);
	return NULL;
}

int main(void)
{
	px_reset();
	if (uname(&want_uts) != 0)
		return 2;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = usr2;
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_SETMASK, &m, NULL);

	kinds();
	handler_order();
	vfork_results();
	next_call();
	dontfork();
	inputs();
	pthread_t t;
	px_thread(&t, other_thread, NULL);
	pthread_join(t, NULL);
	return probe_done();
}
