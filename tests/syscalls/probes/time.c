/*
 * time: clock_gettime (libc, which may use the vDSO, and the raw syscall,
 * which always traps), clock_getres, gettimeofday, time.
 *
 * Only relations are printed, plus the resolution of the high-resolution
 * clocks, which is 1ns on any Linux with hrtimers.
 */
#include "probe.h"

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#define NSEC 1000000000LL

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * NSEC + t->tv_nsec;
}

static int valid(const struct timespec *t)
{
	return t->tv_sec >= 0 && t->tv_nsec >= 0 && t->tv_nsec < NSEC;
}

static long raw_gettime(clockid_t id, struct timespec *t)
{
	return syscall(SYS_clock_gettime, id, t);
}

struct clk {
	clockid_t id;
	const char *name;
	int coarse;
};

static void check_clock(const struct clk *c)
{
	struct timespec a, b, r, d;
	char label[96];
	int ok;

	snprintf(label, sizeof(label), "%s libc", c->name);
	ok = CHECK_OK(label, clock_gettime(c->id, &a)) != -1;
	snprintf(label, sizeof(label), "%s raw", c->name);
	ok &= CHECK_OK(label, raw_gettime(c->id, &r)) != -1;
	snprintf(label, sizeof(label), "%s libc again", c->name);
	ok &= CHECK_OK(label, clock_gettime(c->id, &b)) != -1;
	if (!ok)
		return;

	snprintf(label, sizeof(label), "%s values normalized", c->name);
	CHECK_TRUE(label, valid(&a) && valid(&r) && valid(&b));
	if (!c->coarse) {
		/* libc(vDSO) <= raw <= libc(vDSO): one time source. */
		snprintf(label, sizeof(label),
			 "%s non-decreasing libc<=raw<=libc", c->name);
		CHECK_TRUE(label, ns(&a) <= ns(&r) && ns(&r) <= ns(&b));
	} else {
		/*
		 * A coarse clock may legitimately be served by a finer source
		 * in one path and the tick-based one in the other, so only
		 * each path's own ordering is checked.
		 */
		snprintf(label, sizeof(label), "%s libc non-decreasing",
			 c->name);
		CHECK_TRUE(label, ns(&a) <= ns(&b));
	}

	snprintf(label, sizeof(label), "%s raw non-decreasing", c->name);
	ok = 1;
	for (int i = 0; i < 50; i++) {
		if (raw_gettime(c->id, &d) != 0 || ns(&d) < ns(&r))
			ok = 0;
		r = d;
	}
	CHECK_TRUE(label, ok);

	if (!c->coarse) {
		/* A fine-grained clock must visibly advance while we spin. */
		snprintf(label, sizeof(label), "%s advances", c->name);
		struct timespec start, now;
		volatile unsigned sink = 0;

		ok = 0;
		clock_gettime(CLOCK_MONOTONIC, &start);
		clock_gettime(c->id, &a);
		for (long i = 1; !ok; i++) {
			for (int j = 0; j < 1000; j++)
				sink += (unsigned)j;
			clock_gettime(c->id, &b);
			ok = ns(&b) > ns(&a);
			/* Give up after ~2s of monotonic time. */
			if (i % 64 == 0) {
				clock_gettime(CLOCK_MONOTONIC, &now);
				if (ns(&now) - ns(&start) > 2 * NSEC)
					break;
			}
		}
		CHECK_TRUE(label, ok);
	}
}

static const struct clk clocks[] = {
	{ CLOCK_REALTIME, "REALTIME", 0 },
	{ CLOCK_MONOTONIC, "MONOTONIC", 0 },
	{ CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW", 0 },
	{ CLOCK_BOOTTIME, "BOOTTIME", 0 },
	{ CLOCK_REALTIME_COARSE, "REALTIME_COARSE", 1 },
	{ CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE", 1 },
	{ CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME_ID", 0 },
	{ CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME_ID", 0 },
};

static void print_res(clockid_t id, const char *name)
{
	struct timespec res = { -1, -1 };
	char label[64];

	snprintf(label, sizeof(label), "clock_getres %s call", name);
	if (CHECK_OK(label, syscall(SYS_clock_getres, id, &res)) == -1)
		return;
	NOTE("clock_getres %s: %llds %ldns\n", name, (long long)res.tv_sec,
	     (long)res.tv_nsec);
	snprintf(label, sizeof(label), "clock_getres %s == 1ns", name);
	CHECK_TRUE(label, res.tv_sec == 0 && res.tv_nsec == 1);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++)
		check_clock(&clocks[i]);

	/* Cross-clock relations. */
	struct timespec mono, boot, mono2, coarse, fine;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_MONOTONIC, &mono2);
	CHECK_TRUE("BOOTTIME >= MONOTONIC", ns(&boot) >= ns(&mono));
	clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse);
	clock_gettime(CLOCK_MONOTONIC, &fine);
	CHECK_TRUE("MONOTONIC_COARSE <= MONOTONIC", ns(&coarse) <= ns(&fine));
	CHECK_TRUE("MONOTONIC_COARSE within 1s of MONOTONIC",
		   ns(&fine) - ns(&coarse) < NSEC);
	clock_gettime(CLOCK_REALTIME_COARSE, &coarse);
	clock_gettime(CLOCK_REALTIME, &fine);
	CHECK_TRUE("REALTIME_COARSE within 1s of REALTIME",
		   ns(&fine) - ns(&coarse) < NSEC && ns(&coarse) - ns(&fine) < NSEC);

	/* clock_getres. */
	print_res(CLOCK_MONOTONIC, "MONOTONIC");
	print_res(CLOCK_REALTIME, "REALTIME");
	print_res(CLOCK_BOOTTIME, "BOOTTIME");
	struct timespec cres = { -1, -1 };
	CHECK_OK("clock_getres MONOTONIC_COARSE",
		 syscall(SYS_clock_getres, CLOCK_MONOTONIC_COARSE, &cres));
	CHECK_TRUE("MONOTONIC_COARSE res >= 1ns and < 1s",
		   cres.tv_sec == 0 && cres.tv_nsec >= 1);
	CHECK_OK("clock_getres NULL res",
		 syscall(SYS_clock_getres, CLOCK_MONOTONIC, NULL));
	CHECK_ERR("clock_getres invalid clock",
		  syscall(SYS_clock_getres, 100, &cres), EINVAL);
	CHECK_ERR("clock_getres EFAULT",
		  syscall(SYS_clock_getres, CLOCK_MONOTONIC, (void *)1), EFAULT);

	/* Realtime views agree: clock_gettime, gettimeofday, time. */
	struct timespec rt;
	struct timeval tv;
	long t_raw, t_libc;
	time_t t_arg = 0;

	CHECK_OK("gettimeofday libc", gettimeofday(&tv, NULL));
	CHECK_TRUE("gettimeofday usec normalized",
		   tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	clock_gettime(CLOCK_REALTIME, &rt);
	t_libc = (long)time(NULL);
	t_raw = syscall(SYS_time, &t_arg);
	CHECK_TRUE("time raw returns value == *arg", t_raw == (long)t_arg);
	CHECK_TRUE("gettimeofday vs time within 2s",
		   labs((long)tv.tv_sec - t_libc) <= 2);
	CHECK_TRUE("REALTIME vs time within 2s", labs((long)rt.tv_sec - t_raw) <= 2);
	CHECK_TRUE("time libc <= time raw", t_libc <= t_raw);
	CHECK_TRUE("realtime after 2020", t_raw > 1577836800L);

	struct timeval tv2;
	CHECK_OK("gettimeofday raw", syscall(SYS_gettimeofday, &tv2, NULL));
	CHECK_TRUE("gettimeofday raw >= libc",
		   tv2.tv_sec > tv.tv_sec ||
			   (tv2.tv_sec == tv.tv_sec && tv2.tv_usec >= tv.tv_usec));
	CHECK_OK("gettimeofday raw NULL NULL",
		 syscall(SYS_gettimeofday, NULL, NULL));
	CHECK_OK("time raw NULL", syscall(SYS_time, NULL) > 0 ? 0 : -1);

	/* Errors: only via the raw syscall (the vDSO would just fault). */
	struct timespec ts;
	CHECK_ERR("clock_gettime invalid clock libc", clock_gettime(100, &ts),
		  EINVAL);
	CHECK_ERR("clock_gettime invalid clock raw", raw_gettime(100, &ts),
		  EINVAL);
	CHECK_ERR("clock_gettime MONOTONIC EFAULT",
		  raw_gettime(CLOCK_MONOTONIC, (void *)1), EFAULT);
	CHECK_ERR("clock_gettime REALTIME EFAULT",
		  raw_gettime(CLOCK_REALTIME, (void *)1), EFAULT);
	CHECK_ERR("gettimeofday EFAULT",
		  syscall(SYS_gettimeofday, (void *)1, NULL), EFAULT);
	CHECK_ERR("time EFAULT", syscall(SYS_time, (void *)1), EFAULT);

	return probe_done();
}
