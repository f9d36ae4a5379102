/*
 * rlimit: getrlimit/setrlimit/prlimit64.
 *
 * The values are inherited from whoever started the probe, so only
 * relations between the different interfaces are printed.  Limits are only
 * ever lowered: raising a hard limit needs CAP_SYS_RESOURCE.
 */
#include "probe.h"

#include <sys/resource.h>

/* The kernel's struct rlimit64 and the old struct rlimit are both two u64s
 * on x86-64. */
struct krlimit {
	unsigned long long cur, max;
};

static long prlimit_raw(long pid, int res, const struct krlimit *nw,
			struct krlimit *old)
{
	return syscall(SYS_prlimit64, pid, res, nw, old);
}

static void compare(int res, const char *name)
{
	struct rlimit libc;
	struct krlimit pl, old;
	char label[96];

	snprintf(label, sizeof(label), "getrlimit %s", name);
	CHECK_OK(label, getrlimit(res, &libc));
	snprintf(label, sizeof(label), "prlimit64(0) %s", name);
	CHECK_OK(label, prlimit_raw(0, res, NULL, &pl));
	snprintf(label, sizeof(label), "raw getrlimit %s", name);
	CHECK_OK(label, syscall(SYS_getrlimit, res, &old));
	snprintf(label, sizeof(label), "%s getrlimit==prlimit64 equal", name);
	CHECK_TRUE(label, libc.rlim_cur == pl.cur && libc.rlim_max == pl.max);
	snprintf(label, sizeof(label), "%s raw getrlimit==prlimit64 equal", name);
	CHECK_TRUE(label, old.cur == pl.cur && old.max == pl.max);
	snprintf(label, sizeof(label), "%s soft<=hard", name);
	CHECK_TRUE(label, pl.cur <= pl.max);
}

int main(void)
{
	compare(RLIMIT_NOFILE, "NOFILE");
	compare(RLIMIT_STACK, "STACK");
	compare(RLIMIT_AS, "AS");
	compare(RLIMIT_DATA, "DATA");
	compare(RLIMIT_CORE, "CORE");
	compare(RLIMIT_CPU, "CPU");

	struct krlimit self, viapid;
	CHECK_OK("prlimit64(getpid) NOFILE",
		 prlimit_raw(getpid(), RLIMIT_NOFILE, NULL, &viapid));
	prlimit_raw(0, RLIMIT_NOFILE, NULL, &self);
	CHECK_TRUE("prlimit64(getpid)==prlimit64(0)",
		   self.cur == viapid.cur && self.max == viapid.max);
	CHECK_ERR("prlimit64 nonexistent pid",
		  prlimit_raw(0x3ffffff0, RLIMIT_NOFILE, NULL, &viapid), ESRCH);
	CHECK_OK("prlimit64 no new no old",
		 prlimit_raw(0, RLIMIT_NOFILE, NULL, NULL));

	/* Lower the NOFILE soft limit, read it back everywhere. */
	struct krlimit nf = self;
	unsigned long long want = nf.cur / 2;
	struct rlimit set = { (rlim_t)want, (rlim_t)nf.max };
	CHECK_OK("setrlimit lower soft NOFILE", setrlimit(RLIMIT_NOFILE, &set));
	struct rlimit got;
	getrlimit(RLIMIT_NOFILE, &got);
	CHECK_TRUE("soft NOFILE lowered", got.rlim_cur == want);
	CHECK_TRUE("hard NOFILE unchanged", got.rlim_max == nf.max);

	/* prlimit64 set+get in one call returns the previous value. */
	struct krlimit nw = { want / 2, nf.max }, prev;
	CHECK_OK("prlimit64 set and get old",
		 prlimit_raw(0, RLIMIT_NOFILE, &nw, &prev));
	CHECK_TRUE("prlimit64 old value is previous", prev.cur == want &&
							      prev.max == nf.max);
	prlimit_raw(0, RLIMIT_NOFILE, NULL, &prev);
	CHECK_TRUE("prlimit64 new value applied", prev.cur == want / 2);

	/* Raising the soft limit back up to the hard limit is allowed. */
	set.rlim_cur = nf.cur;
	CHECK_OK("setrlimit raise soft back", setrlimit(RLIMIT_NOFILE, &set));
	getrlimit(RLIMIT_NOFILE, &got);
	CHECK_TRUE("soft NOFILE restored", got.rlim_cur == nf.cur);

	/* Lowering a hard limit is allowed for anyone (CORE, harmless). */
	struct krlimit core;
	prlimit_raw(0, RLIMIT_CORE, NULL, &core);
	struct rlimit lc = { 0, core.max > 4096 ? 4096 : core.max };
	CHECK_OK("setrlimit lower hard CORE", setrlimit(RLIMIT_CORE, &lc));
	getrlimit(RLIMIT_CORE, &got);
	CHECK_TRUE("hard CORE lowered", got.rlim_cur == 0 &&
						got.rlim_max == lc.rlim_max);

	/* Errors. */
	struct rlimit bad = { 10, 5 };
	CHECK_ERR("setrlimit soft>hard", setrlimit(RLIMIT_NOFILE, &bad), EINVAL);
	CHECK_ERR("getrlimit invalid resource",
		  prlimit_raw(0, 100, NULL, &prev), EINVAL);
	CHECK_ERR("setrlimit invalid resource",
		  prlimit_raw(0, 100, &nw, NULL), EINVAL);
	CHECK_ERR("raw getrlimit invalid resource",
		  syscall(SYS_getrlimit, 100, &prev), EINVAL);
	CHECK_ERR("raw setrlimit invalid resource",
		  syscall(SYS_setrlimit, 100, &nw), EINVAL);
	CHECK_ERR("prlimit64 new EFAULT",
		  prlimit_raw(0, RLIMIT_NOFILE, (void *)1, NULL), EFAULT);
	CHECK_ERR("prlimit64 old EFAULT",
		  prlimit_raw(0, RLIMIT_NOFILE, NULL, (void *)1), EFAULT);
	CHECK_ERR("raw getrlimit EFAULT",
		  syscall(SYS_getrlimit, RLIMIT_NOFILE, (void *)1), EFAULT);

	return probe_done();
}
