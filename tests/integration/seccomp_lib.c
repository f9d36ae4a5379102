/* A dynamic program filtering itself with libseccomp, as real programs do
 * (sshd, man-db, systemd units): the filter libseccomp generates (its
 * architecture checks, 64-bit argument comparisons split into halves) must
 * act as on Linux. Self-checking: prints "PASS seccomp_lib" and exits 0
 * when every call gave what Linux gives. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures;

static void expect(const char *what, long got, int err, long want, int want_err)
{
	if (got != want || (want == -1 && err != want_err)) {
		printf("FAIL %s: got %ld (errno %d), want %ld (errno %d)\n", what,
		       got, err, want, want_err);
		failures++;
	}
}

int main(void)
{
	scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
	if (!c ||
	    seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(getpid), 0) ||
	    seccomp_rule_add(c, SCMP_ACT_ERRNO(EBADE), SCMP_SYS(dup), 1,
			     SCMP_A0(SCMP_CMP_EQ, 999)) ||
	    seccomp_rule_add(c, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(lseek), 1,
			     SCMP_A1(SCMP_CMP_GT, 0x100000000ULL)) ||
	    seccomp_rule_add(c, SCMP_ACT_ERRNO(EROFS), SCMP_SYS(fchmod), 1,
			     SCMP_A1(SCMP_CMP_MASKED_EQ, 0700, 0700))) {
		printf("FAIL building the filter\n");
		return 1;
	}
	int r = seccomp_load(c);
	seccomp_release(c);
	if (r) {
		printf("FAIL seccomp_load: %d\n", r);
		return 1;
	}
	errno = 0;
	long v = syscall(SYS_getpid);
	expect("getpid", v, errno, -1, EPERM);
	errno = 0;
	v = dup(999);
	expect("dup(999)", v, errno, -1, EBADE);
	errno = 0;
	v = dup(998);
	expect("dup(998) runs", v, errno, -1, EBADF);
	errno = 0;
	v = (long)lseek(0, 0x200000000LL, SEEK_SET);
	expect("lseek past 4 GiB", v, errno, -1, ENOTTY);
	errno = 0;
	v = (long)lseek(0, 5, SEEK_SET);
	expect("lseek to 5 runs (/dev/null says 0)", v, errno, 0, 0);
	errno = 0;
	v = fchmod(-1, 0755);
	expect("fchmod 0755", v, errno, -1, EROFS);
	v = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	expect("PR_GET_SECCOMP", v, errno, 2, 0);
	if (failures)
		return 1;
	printf("PASS seccomp_lib\n");
	return 0;
}
