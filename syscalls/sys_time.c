#include <errno.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <time.h>

#include "../sentry/mm/mm.h"
#include "handlers.h"

/* Maps a workload clock id to the host clock that measures it: the wall and
 * monotonic clocks are the host's (the vDSO the workload uses reads them
 * too). CPU-time clocks must measure the workload's stub, not the sentry,
 * and Linux lets only a thread's own process read its clock: *in_stub says
 * the stub thread reads it itself (see sys_clock_gettime). */
static long host_clock(struct task *t, int64_t id, clockid_t *out,
		       bool *in_stub)
{
	*in_stub = false;
	switch (id) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_REALTIME_COARSE:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME:
	case CLOCK_TAI:
		*out = (clockid_t)id;
		return 0;
	case CLOCK_REALTIME_ALARM:
		*out = CLOCK_REALTIME;
		return 0;
	case CLOCK_BOOTTIME_ALARM:
		*out = CLOCK_BOOTTIME;
		return 0;
	case CLOCK_PROCESS_CPUTIME_ID:
	case CLOCK_THREAD_CPUTIME_ID:
		*out = (clockid_t)id;
		*in_stub = true;
		return 0;
	default:
		/* Negative ids name other processes' CPU clocks or dynamic
		 * clocks: not supported yet (see the syscall table). */
		return -EINVAL;
	}
}

SYSCALL(clock_gettime)
{
	struct timespec ts;
	clockid_t c;
	bool in_stub;
	long err = host_clock(t, (int32_t)a->a[0], &c, &in_stub);
	if (err < 0)
		return err;
	if (in_stub) {
		/* The stub thread reads its own CPU clock straight into the
		 * workload's buffer; the host kernel checks the pointer. */
		if (a->a[1] >= MM_TASK_SIZE ||
		    mm_range_reserved(a->a[1], a->a[1] + sizeof(ts)))
			return -EFAULT;
		return task_host_syscall(t, SYS_clock_gettime, (uint64_t)c,
					 a->a[1], 0, 0, 0, 0);
	}
	if (clock_gettime(c, &ts) < 0)
		return -errno;
	return task_copy_out(t, a->a[1], &ts, sizeof(ts));
}

SYSCALL(clock_getres)
{
	struct timespec ts;
	clockid_t c;
	bool in_stub;
	long err = host_clock(t, (int32_t)a->a[0], &c, &in_stub);
	if (err < 0)
		return err;
	if (clock_getres(c, &ts) < 0)
		return -errno;
	if (!a->a[1])
		return 0;
	return task_copy_out(t, a->a[1], &ts, sizeof(ts));
}

SYSCALL(gettimeofday)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	if (a->a[0]) {
		int err = task_copy_out(t, a->a[0], &tv, sizeof(tv));
		if (err < 0)
			return err;
	}
	if (a->a[1]) {
		struct timezone tz = { 0, 0 }; /* the kernel's sys_tz is UTC */
		return task_copy_out(t, a->a[1], &tz, sizeof(tz));
	}
	return 0;
}

SYSCALL(time)
{
	int64_t now = (int64_t)time(NULL);
	if (a->a[0]) {
		int err = task_copy_out(t, a->a[0], &now, sizeof(now));
		if (err < 0)
			return err;
	}
	return now;
}
