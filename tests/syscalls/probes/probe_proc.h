/*
 * probe_proc.h - helpers for the probes that create processes and threads,
 * wait for them and deliver signals (issue 4).  Builds on probe.h.
 *
 * Conventions these probes follow so that a native run and a sandboxed run
 * print the same transcript:
 *  - A process's starting state is not trusted: px_reset() puts every
 *    catchable standard signal back to SIG_DFL and empties the mask, since
 *    the test runner (or a shell) may have left SIGCHLD ignored or signals
 *    blocked.  Realtime signals 32 and 33 are left alone: glibc owns them.
 *  - Children never race the parent for stdout.  A child either prints
 *    nothing, or prints while its parent is blocked in waitpid for it, and
 *    hands its own verdict back through its exit status (px_child).
 *  - Synchronisation uses pipes, futexes and wait, never sleeps.
 *  - Wait statuses are printed without the core-dump bit (it depends on
 *    the host's core_pattern and limits, not on the kernel being emulated).
 */
#ifndef PROBE_PROC_H
#define PROBE_PROC_H

#include "probe.h"

#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

/* Names for the errnos that probe.h does not know. */
static inline const char *px_errname(int e)
{
	switch (e) {
	case ELOOP:
		return "ELOOP";
	case ETXTBSY:
		return "ETXTBSY";
	case EOWNERDEAD:
		return "EOWNERDEAD";
	case ENOTEMPTY:
		return "ENOTEMPTY";
	default:
		return probe_errname(e);
	}
}

/* check_err with px_errname, for the errnos probe.h prints as "E#n". */
static inline long check_errx(const char *label, long r, int err, int want)
{
	if (r == -1) {
		printf("%s: %s\n", label, px_errname(err));
		if (err != want)
			probe_mismatch(label, px_errname(want),
				       px_errname(err));
	} else {
		printf("%s: ok\n", label);
		probe_mismatch(label, px_errname(want), "success");
	}
	return r;
}

#define CHECK_ERRX(label, expr, want)                                          \
	(errno = 0, probe_r = (long)(expr),                                    \
	 check_errx((label), probe_r, errno, (want)))

static inline const char *px_signame(int sig)
{
	static char buf[4][16];
	static int which;
	char *b = buf[which++ & 3];
	const char *abbrev = (sig > 0 && sig < 32) ? sigabbrev_np(sig) : NULL;

	if (abbrev)
		snprintf(b, sizeof(buf[0]), "SIG%s", abbrev);
	else
		snprintf(b, sizeof(buf[0]), "SIG#%d", sig);
	return b;
}

/* A wait status in words, never with the core-dump flag. */
static inline const char *px_status(int st)
{
	static char buf[4][48];
	static int which;
	char *b = buf[which++ & 3];

	if (WIFEXITED(st))
		snprintf(b, sizeof(buf[0]), "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(b, sizeof(buf[0]), "killed by %s",
			 px_signame(WTERMSIG(st)));
	else if (WIFSTOPPED(st))
		snprintf(b, sizeof(buf[0]), "stopped by %s",
			 px_signame(WSTOPSIG(st)));
	else if (WIFCONTINUED(st))
		snprintf(b, sizeof(buf[0]), "continued");
	else
		snprintf(b, sizeof(buf[0]), "status 0x%x", st);
	return b;
}

/* Prints "label: <status>" and checks it against `want` (same words). */
static inline int check_status(const char *label, int st, const char *want)
{
	const char *got = px_status(st);

	printf("%s: %s\n", label, got);
	if (strcmp(got, want) != 0) {
		probe_mismatch(label, want, got);
		return 0;
	}
	return 1;
}

/* waitpid that survives EINTR; returns the pid or -1 with errno. */
static inline pid_t px_waitpid(pid_t pid, int *st, int options)
{
	pid_t r;

	do
		r = waitpid(pid, st, options);
	while (r == -1 && errno == EINTR);
	return r;
}

/*
 * Waits for `pid` and checks its status.  A failed wait counts as a
 * mismatch and prints the errno name in place of the status.
 */
static inline int px_expect_exit(const char *label, pid_t pid, const char *want)
{
	int st = 0;

	if (px_waitpid(pid, &st, 0) != pid) {
		printf("%s: wait %s\n", label, probe_errname(errno));
		probe_mismatch(label, want, "wait failed");
		return 0;
	}
	return check_status(label, st, want);
}

/* Every catchable standard signal to SIG_DFL, nothing blocked. */
static inline void px_reset(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * Runs fn in a forked child.  The child may print (the parent is waiting)
 * and its checks count through its exit status: the parent prints
 * "label: exited 0" when every check in the child held.
 */
static inline int px_child(const char *label, void (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();

	if (pid == -1) {
		check_ok(label, -1, errno);
		return 0;
	}
	if (pid == 0) {
		/* Only the child's own checks decide its status. */
		probe_failures = 0;
		fn();
		exit(probe_done());
	}
	return px_expect_exit(label, pid, "exited 0");
}

/*
 * fork and pthread_create that cannot fail quietly: without the new task
 * nothing after them can be checked, and a failed fork's -1 must never
 * reach kill() (kill(-1, sig) signals every process we may signal).  On
 * failure they say so and end the probe.
 */
static inline pid_t px_fork(void)
{
	fflush(stdout);
	pid_t pid = fork();

	if (pid == -1) {
		check_ok("fork", -1, errno);
		exit(probe_done());
	}
	return pid;
}

static inline void px_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int e = pthread_create(t, NULL, fn, arg);

	if (e != 0) {
		check_ok("pthread_create", -1, e);
		exit(probe_done());
	}
}

/* Anonymous memory shared with forked children. */
static inline void *px_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap shared");
		exit(2);
	}
	return p;
}

static inline int64_t px_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Burns CPU until this process has used `ns` of it. */
static inline void px_burn_cpu(int64_t ns)
{
	int64_t start = px_now_ns(CLOCK_PROCESS_CPUTIME_ID);
	volatile unsigned sink = 0;

	while (px_now_ns(CLOCK_PROCESS_CPUTIME_ID) - start < ns)
		for (int i = 0; i < 10000; i++)
			sink += (unsigned)i;
}

static inline long px_futex(uint32_t *uaddr, int op, uint32_t val,
			    const struct timespec *ts, uint32_t *uaddr2,
			    uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* Write/read one byte on a pipe, for hand-offs; exit on a broken harness. */
static inline void px_post(int fd)
{
	char c = 'x';

	while (write(fd, &c, 1) != 1)
		if (errno != EINTR) {
			perror("px_post");
			_exit(3);
		}
}

static inline void px_pend(int fd)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n == -1 && errno == EINTR);
	if (n != 1) {
		fprintf(stderr, "px_pend: %s\n",
			n == 0 ? "EOF" : strerror(errno));
		_exit(3);
	}
}

#endif /* PROBE_PROC_H */
