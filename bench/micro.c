/* Micro-benchmarks, one per mode; prints the mean ns per operation (best of
 * 5 runs). Static, so the same binary runs natively and in the sandbox.
 *   getppid   a trapped system call
 *   clock     clock_gettime(CLOCK_MONOTONIC) through the vDSO
 *   write4k   write(1, 4 KiB) (the runner points stdout at /dev/null) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char buf[4096];

static void op_getppid(void)
{
	syscall(SYS_getppid);
}

static void op_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
}

static void op_write4k(void)
{
	if (write(1, buf, sizeof(buf)) != sizeof(buf))
		abort();
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*op)(void);
	} modes[] = {
		{ "getppid", op_getppid },
		{ "clock", op_clock },
		{ "write4k", op_write4k },
	};
	if (argc < 3) {
		fprintf(stderr, "usage: %s getppid|clock|write4k ITERATIONS\n", argv[0]);
		return 2;
	}
	long n = atol(argv[2]);
	void (*op)(void) = NULL;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			op = modes[i].op;
	if (!op || n <= 0)
		return 2;
	double best = 1e30;
	for (int run = 0; run < 5; run++) {
		double t0 = now_ns();
		for (long i = 0; i < n; i++)
			op();
		double per = (now_ns() - t0) / (double)n;
		if (per < best)
			best = per;
	}
	/* stdout may be /dev/null (write4k): report on stderr. */
	fprintf(stderr, "%.1f\n", best);
	return 0;
}
