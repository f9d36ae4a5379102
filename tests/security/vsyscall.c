/*
 * vsyscall: the legacy vsyscall page at 0xffffffffff600000 (escape attempt
 * 5 of issue 3).
 *
 * Its three entries (gettimeofday at +0, time at +0x400, getcpu at +0x800)
 * are not code the workload can read: the host kernel emulates them when
 * the instruction fetch faults, runs the system call itself, and consults
 * seccomp first but not ptrace. So the call must come out as the sandbox's
 * own system call (security.sh finds each one, by its pointer argument, in
 * the --strace log: the sentry served it) or fault as it does natively;
 * it must never be answered by the host without the sandbox seeing it.
 *
 * usage: vsyscall MODE
 *   probe       natively: calls time through the page, prints `vsyscall
 *               available` (dies of SIGSEGV where the host has none)
 *   call        the three entries; prints `vsyscall NAME ARG=0x...` for
 *               security.sh and checks the answers are sane: a time within
 *               a minute of the system call's, getcpu 0 or ENOSYS
 *   misaligned  calls +1, not an entry: SIGSEGV natively
 *   bad-entry   calls +0xc00, not an entry: SIGSEGV natively
 *   read        reads the page (execute-only): SIGSEGV natively
 *   write       writes the page: SIGSEGV natively
 * security.sh runs the faulting modes natively too and requires the same
 * exit status in the sandbox.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "attempt.h"

#define VSYSCALL 0xffffffffff600000UL

typedef long (*gtod_fn)(struct timeval *, struct timezone *);
typedef long (*time_fn)(long *);
typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);

static long host_secs(void)
{
	struct timespec ts;
	long r = RAW(SYS_clock_gettime, CLOCK_REALTIME, &ts);
	return r < 0 ? r : ts.tv_sec;
}

static int near(long a, long b)
{
	return a - b < 60 && b - a < 60;
}

static int mode_call(void)
{
	static struct timeval tv;
	static long tloc;
	static unsigned cpu = 7777, node = 7777;
	long now = host_secs();

	/* Printed before the call: the pointer is what security.sh looks
	 * for in the --strace log. */
	printf("vsyscall gettimeofday tv=%p\n", (void *)&tv);
	long r = ((gtod_fn)VSYSCALL)(&tv, NULL);
	if (r == 0 && near(tv.tv_sec, now))
		pass("vsyscall-gettimeofday");
	else
		fail("vsyscall-gettimeofday",
		     "returned %s, tv_sec %ld, now %ld", ename(r),
		     (long)tv.tv_sec, now);

	printf("vsyscall time tloc=%p\n", (void *)&tloc);
	r = ((time_fn)(VSYSCALL + 0x400))(&tloc);
	if (near(r, now) && tloc == r)
		pass("vsyscall-time");
	else
		fail("vsyscall-time", "returned %s, *tloc %ld, now %ld",
		     ename(r), tloc, now);

	printf("vsyscall getcpu cpu=%p\n", (void *)&cpu);
	r = ((getcpu_fn)(VSYSCALL + 0x800))(&cpu, &node, NULL);
	if (r == -ENOSYS && cpu == 7777 && node == 7777)
		pass("vsyscall-getcpu (ENOSYS, as the syscall table says)");
	else if (r == 0 && cpu < 4096 && node < 4096)
		pass("vsyscall-getcpu");
	else
		fail("vsyscall-getcpu", "returned %s, cpu %u node %u", ename(r),
		     cpu, node);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "probe")) {
		long t = ((time_fn)(VSYSCALL + 0x400))(NULL);
		printf("vsyscall available (%ld)\n", t);
		return 0;
	}
	if (!strcmp(mode, "call"))
		return mode_call();
	if (!strcmp(mode, "misaligned"))
		((time_fn)(VSYSCALL + 1))(NULL);
	else if (!strcmp(mode, "bad-entry"))
		((time_fn)(VSYSCALL + 0xc00))(NULL);
	else if (!strcmp(mode, "read"))
		printf("read %#x\n", *(volatile unsigned char *)VSYSCALL);
	else if (!strcmp(mode, "write"))
		*(volatile unsigned char *)VSYSCALL = 0xcc;
	else {
		fprintf(stderr, "usage: vsyscall probe|call|misaligned|"
				"bad-entry|read|write\n");
		return 2;
	}
	printf("%s: survived\n", mode);
	return 0;
}
