/*
 * probe.h - tiny helpers shared by the syscall probes.
 *
 * A probe exercises one syscall family and prints a normalized transcript:
 * one line per check, never containing pids, addresses, times or random
 * bytes.  The transcript must be byte-identical when the probe runs natively
 * and when it runs inside a correct sandbox; run-probe.sh compares the two.
 *
 * Every check also carries the result Linux is expected to produce.  When a
 * result differs from that expectation the transcript line still shows what
 * actually happened (so the native/sandbox diff points at it), a diagnostic is
 * written to stderr, and the probe's exit status becomes 1.
 *
 * Output is line buffered so that a probe that dies half way still leaves
 * everything it printed so far in the transcript, and so that printf output
 * and raw write(1, ...) calls stay in order.
 */
#ifndef PROBE_H
#define PROBE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int probe_failures;

__attribute__((constructor)) static void probe_setup(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static inline const char *probe_errname(int e)
{
	static char buf[32];

	switch (e) {
#define PROBE_E(name) case name: return #name
	PROBE_E(EPERM); PROBE_E(ENOENT); PROBE_E(ESRCH); PROBE_E(EINTR);
	PROBE_E(EIO); PROBE_E(ENXIO); PROBE_E(E2BIG); PROBE_E(ENOEXEC);
	PROBE_E(EBADF); PROBE_E(ECHILD); PROBE_E(EAGAIN); PROBE_E(ENOMEM);
	PROBE_E(EACCES); PROBE_E(EFAULT); PROBE_E(EBUSY); PROBE_E(EEXIST);
	PROBE_E(EXDEV); PROBE_E(ENODEV); PROBE_E(ENOTDIR); PROBE_E(EISDIR);
	PROBE_E(EINVAL); PROBE_E(ENFILE); PROBE_E(EMFILE); PROBE_E(ENOTTY);
	PROBE_E(EFBIG); PROBE_E(ENOSPC); PROBE_E(ESPIPE); PROBE_E(EROFS);
	PROBE_E(EPIPE); PROBE_E(EDOM); PROBE_E(ERANGE); PROBE_E(ENOSYS);
	PROBE_E(ENAMETOOLONG); PROBE_E(EOVERFLOW); PROBE_E(ENOTSUP);
	PROBE_E(ETIMEDOUT);
#undef PROBE_E
	default:
		snprintf(buf, sizeof(buf), "E#%d", e);
		return buf;
	}
}

/* Printable form of a syscall-style result: the value, or the errno name. */
static inline const char *probe_fmt(long r, int err)
{
	static char buf[2][32];
	static int which;
	char *b = buf[which ^= 1];

	if (r == -1)
		return probe_errname(err);
	snprintf(b, sizeof(buf[0]), "%ld", r);
	return b;
}

static inline void probe_mismatch(const char *label, const char *want,
				  const char *got)
{
	probe_failures++;
	fprintf(stderr, "PROBE MISMATCH: %s: expected %s, got %s\n",
		label, want, got);
}

/*
 * check_ok: expects success (anything but -1).  Prints "label: ok" or
 * "label: ENAME".
 */
static inline long check_ok(const char *label, long r, int err)
{
	if (r == -1) {
		printf("%s: %s\n", label, probe_errname(err));
		probe_mismatch(label, "success", probe_errname(err));
	} else {
		printf("%s: ok\n", label);
	}
	return r;
}

/*
 * check_err: expects failure with errno `want`.  Prints "label: ENAME", or
 * "label: ok" if the call unexpectedly succeeded.
 */
static inline long check_err(const char *label, long r, int err, int want)
{
	if (r == -1) {
		printf("%s: %s\n", label, probe_errname(err));
		if (err != want)
			probe_mismatch(label, probe_errname(want),
				       probe_errname(err));
	} else {
		printf("%s: ok\n", label);
		probe_mismatch(label, probe_errname(want), "success");
	}
	return r;
}

/*
 * check_ret: expects the exact (deterministic) return value `want`, e.g. a
 * byte count.  Prints "label -> N" or "label -> ENAME".
 */
static inline long check_ret(const char *label, long r, int err, long want)
{
	const char *got = probe_fmt(r, err);

	printf("%s -> %s\n", label, got);
	if (r != want)
		probe_mismatch(label, probe_fmt(want, 0), got);
	return r;
}

/* check_true: a relation that must hold.  Prints "label: yes" / "label: no". */
static inline int check_true(const char *label, int cond)
{
	printf("%s: %s\n", label, cond ? "yes" : "no");
	if (!cond)
		probe_mismatch(label, "yes", "no");
	return cond;
}

/* Plain informational line that is deterministic in both environments. */
#define NOTE(...) printf(__VA_ARGS__)

/*
 * The macros evaluate `expr` exactly once, with errno cleared first, and cast
 * the result to long (so MAP_FAILED and -1 both read as -1).  The result is
 * parked in probe_r so that errno is read strictly after the call (function
 * argument evaluation order is unspecified).  Each macro yields the result.
 */
static long probe_r __attribute__((unused));

#define CHECK_OK(label, expr) \
	(errno = 0, probe_r = (long)(expr), check_ok((label), probe_r, errno))
#define CHECK_ERR(label, expr, want) \
	(errno = 0, probe_r = (long)(expr), \
	 check_err((label), probe_r, errno, (want)))
#define CHECK_RET(label, expr, want) \
	(errno = 0, probe_r = (long)(expr), \
	 check_ret((label), probe_r, errno, (long)(want)))
#define CHECK_TRUE(label, cond) check_true((label), !!(cond))

/* Call at the end of main: returns the probe's exit status. */
static inline int probe_done(void)
{
	fflush(stdout);
	if (probe_failures) {
		fprintf(stderr, "probe: %d check(s) did not match Linux semantics\n",
			probe_failures);
		return 1;
	}
	return 0;
}

#endif /* PROBE_H */
