/* The gofer's seccomp allowlist: the host system calls gofer_serve() and
 * glibc make once the tree is set up, and nothing else. Anything outside
 * the list kills the process: a gofer that tries it is compromised or
 * buggy, and either way must not go on. */
#define _GNU_SOURCE
#include "gofer.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stddef.h>

#include "lib/cleanup.h"

struct allowed {
	int nr;
	const char *why;
};

#define A(name, why)                                                           \
	{                                                                      \
		SCMP_SYS(name), why                                            \
	}

static const struct allowed allowlist[] = {
    /* the connection */
    A(read, "requests from the socket"),
    A(recvfrom, "polling the socket (MSG_DONTWAIT) before a blocking read"),
    A(sendmsg, "replies, with an fd attached when the extension is on"),
    A(write, "the log"),
    /* walking and opening, always relative to an fd */
    A(openat, "walk one name (O_PATH|O_NOFOLLOW), reopen via /proc fd"),
    A(close, "clunk"),
    A(fcntl, "dup fds, F_SETFL after create, OFD locks"),
    A(statx, "qids and Tgetattr"),
    A(newfstatat, "glibc's fstat"),
    A(fstatfs, "Tstatfs"),
    A(readlinkat, "Treadlink (text only, never followed)"),
    A(getdents64, "Treaddir"),
    A(lseek, "Treaddir offsets"),
    /* data */
    A(pread64, "Tread"),
    A(pwrite64, "Twrite"),
    A(ftruncate, "Tsetattr size"),
    A(fsync, "Tfsync"),
    A(fdatasync, "Tfsync datasync"),
    /* changes to the tree */
    A(mkdirat, "Tmkdir"),
    A(mknodat, "Tmknod (regular, FIFO, socket only)"),
    A(symlinkat, "Tsymlink"),
    A(linkat, "Tlink"),
    A(unlinkat, "Tunlinkat, undo of a failed create"),
    A(renameat, "Trenameat"),
    A(renameat2, "glibc may implement renameat with it"),
    A(fchownat, "owner of new files, Tsetattr uid/gid"),
    A(fchown, "owner of a new file by fd"),
    A(fchmodat, "Tsetattr mode"),
    A(fchmod, "set-id bits after chown"),
    A(utimensat, "Tsetattr times"),
    A(fgetxattr, "Txattrwalk"),
    A(flistxattr, "Txattrwalk with no name"),
    A(fsetxattr, "Txattrcreate, at clunk"),
    A(fremovexattr, "Txattrcreate of size 0"),
    /* the process itself */
    A(umask, "gofer_serve sets 0: modes are the client's"),
    A(geteuid, "whether a failed chown is expected"),
    A(getsockopt, "gofer_serve checks the socket's domain"),
    A(brk, "malloc"),
    A(mmap, "malloc of big buffers"),
    A(munmap, "free"),
    A(mremap, "realloc"),
    A(madvise, "glibc malloc trims"),
    A(futex, "glibc internal locks"),
    A(clock_gettime, "vDSO fallback"),
    A(sched_yield, "the socket poll lets a client thread on this CPU run"),
    A(rt_sigreturn, "return from a signal handler"),
    A(rt_sigprocmask, "glibc abort()"),
    A(getpid, "glibc abort()"),
    A(gettid, "glibc abort()"),
    A(tgkill, "glibc abort()"),
    A(exit, "thread exit"),
    A(exit_group, "process exit"),
    A(restart_syscall, "restart after a stop"),
};

/* ASan/UBSan builds only (-Db_sanitize): what the sanitizer runtime does on
 * its own (its _exit and report paths). Never in a normal build. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
static const struct allowed sanitizer_list[] = {
    A(sigaltstack, "sanitizer runtime"),
    A(prctl, "sanitizer runtime"),
    A(rt_sigaction, "sanitizer runtime"),
    A(mprotect, "sanitizer runtime"),
    A(readlink, "sanitizer runtime (report)"),
    A(getppid, "sanitizer runtime"),
};
#endif

int gofer_seccomp_install(bool with_accept)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int e = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(allowlist); i++) {
		e = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowlist[i].nr, 0);
		if (e < 0)
			goto out;
	}
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
	for (size_t i = 0; i < ARRAY_SIZE(sanitizer_list); i++) {
		e = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sanitizer_list[i].nr,
				     0);
		if (e < 0)
			goto out;
	}
#endif
	if (with_accept && (e = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
						 SCMP_SYS(accept4), 0)) < 0)
		goto out; /* listen mode (tests): one connection after another
			   */
	e = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return e;
}
