#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <time.h>

#include "../sentry/kernel/timer.h"
#include "../sentry/mm/mm.h"
#include "handlers.h"

SYSCALL(clock_gettime)
{
	uint64_t ns;
	int err = sentry_clock_now(t, (int32_t)a->a[0], &ns);
	if (err < 0)
		return err;
	struct timespec ts = { (time_t)(ns / 1000000000ULL),
			       (long)(ns % 1000000000ULL) };
	return task_copy_out(t, a->a[1], &ts, sizeof(ts));
}

SYSCALL(clock_getres)
{
	uint64_t ns;
	int id = (int32_t)a->a[0];
	/* Valid clock? (sentry_clock_now knows them all.) */
	int err = sentry_clock_now(t, id, &ns);
	if (err < 0)
		return err;
	struct timespec ts = { 0, 1 }; /* high resolution, CPU clocks too */
	if (id == CLOCK_REALTIME_COARSE || id == CLOCK_MONOTONIC_COARSE) {
		if (clock_getres(id, &ts) < 0)
			return -errno;
	}
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

/* --- sleeping ------------------------------------------------------------------- */

static int read_ts(struct task *t, uint64_t addr, uint64_t *ns)
{
	struct timespec ts;
	int err = task_copy_in(t, &ts, addr, sizeof(ts));
	if (err < 0)
		return err;
	if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)
		return -EINVAL;
	*ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	return 0;
}

static int write_ts(struct task *t, uint64_t addr, uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ULL),
			       (long)(ns % 1000000000ULL) };
	return task_copy_out(t, addr, &ts, sizeof(ts));
}

static long sleep_restart(struct task *t);

/* Sleeps until deadline (CLOCK_MONOTONIC). Interrupted: the time left goes
 * to rem and the call restarts through restart_syscall unless a handler
 * runs (then EINTR), as Linux's hrtimer_nanosleep. */
static long sleep_until(struct task *t, uint64_t deadline, uint64_t rem)
{
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		int r = task_sleep(t, seq, deadline);
		if (r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			break;
	}
	uint64_t now = monotonic_ns();
	if (rem) {
		int err = write_ts(t, rem, deadline > now ? deadline - now : 0);
		if (err < 0)
			return err;
	}
	t->restart.fn = sleep_restart;
	t->restart.a[0] = deadline;
	t->restart.a[1] = rem;
	return -ERESTART_RESTARTBLOCK;
}

static long sleep_restart(struct task *t)
{
	return sleep_until(t, t->restart.a[0], t->restart.a[1]);
}

SYSCALL(nanosleep)
{
	uint64_t ns;
	int err = read_ts(t, a->a[0], &ns);
	if (err < 0)
		return err;
	return sleep_until(t, monotonic_ns() + ns, a->a[1]);
}

/* CPU-time sleeps: checked every millisecond. */
static long cpu_sleep(struct task *t, int clock, uint64_t until)
{
	for (;;) {
		uint64_t now;
		int err = sentry_clock_now(t, clock, &now);
		if (err < 0)
			return err;
		if (now >= until)
			return 0;
		uint64_t d = until - now;
		if (d > 1000000)
			d = 1000000;
		int r = task_sleep(t, task_wait_seq(t), monotonic_ns() + d);
		if (r < 0 && r != -ETIMEDOUT)
			return -ERESTARTNOHAND;
	}
}

SYSCALL(clock_nanosleep)
{
	int clock = (int32_t)a->a[0], flags = (int)a->a[1];
	uint64_t ns, now;
	int err;

	switch (clock) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_BOOTTIME:
	case CLOCK_TAI:
	case CLOCK_REALTIME_ALARM:
	case CLOCK_BOOTTIME_ALARM:
	case CLOCK_PROCESS_CPUTIME_ID:
		break;
	case CLOCK_THREAD_CPUTIME_ID:
		return -EOPNOTSUPP;
	default:
		if (clock < 0 && (clock & 7) != 3 && !(clock & 4))
			break; /* another process's CPU clock */
		return -EINVAL;
	}
	err = read_ts(t, a->a[2], &ns);
	if (err < 0)
		return err;
	err = sentry_clock_now(t, clock, &now);
	if (err < 0)
		return err;
	bool abs = flags & TIMER_ABSTIME;
	if (clock == CLOCK_PROCESS_CPUTIME_ID || clock < 0)
		return cpu_sleep(t, clock, abs ? ns : now + ns);
	if (!abs)
		return sleep_until(t, monotonic_ns() + ns, a->a[3]);
	/* Absolute: the deadline in this clock, measured from now. */
	uint64_t deadline = monotonic_ns() + (ns > now ? ns - now : 0);
	for (;;) {
		int r = task_sleep(t, task_wait_seq(t), deadline);
		if (r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return -ERESTARTNOHAND;
	}
}

/* --- interval timers ----------------------------------------------------------------- */

static void tv_to_ns(const struct timeval *tv, uint64_t *ns)
{
	*ns = (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000;
}

static void ns_to_tv(uint64_t ns, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ns / 1000000000ULL);
	/* Rounded up, as Linux reports a timer's remaining time. */
	tv->tv_usec = (suseconds_t)((ns % 1000000000ULL + 999) / 1000);
	if (tv->tv_usec >= 1000000) {
		tv->tv_sec++;
		tv->tv_usec -= 1000000;
	}
}

SYSCALL(getitimer)
{
	struct ktime_spec cur;
	long err = itimer_get(t, (int)a->a[0], &cur);
	if (err < 0)
		return err;
	struct itimerval v;
	ns_to_tv(cur.interval_ns, &v.it_interval);
	ns_to_tv(cur.value_ns, &v.it_value);
	return task_copy_out(t, a->a[1], &v, sizeof(v));
}

SYSCALL(setitimer)
{
	struct itimerval v;
	struct ktime_spec nv = { 0, 0 }, old;
	if (a->a[1]) {
		int err = task_copy_in(t, &v, a->a[1], sizeof(v));
		if (err < 0)
			return err;
		if (v.it_value.tv_usec < 0 || v.it_value.tv_usec >= 1000000 ||
		    v.it_interval.tv_usec < 0 || v.it_interval.tv_usec >= 1000000 ||
		    v.it_value.tv_sec < 0 || v.it_interval.tv_sec < 0)
			return -EINVAL;
		tv_to_ns(&v.it_value, &nv.value_ns);
		tv_to_ns(&v.it_interval, &nv.interval_ns);
	}
	long err = itimer_set(t, (int)a->a[0], &nv, &old);
	if (err < 0 || !a->a[2])
		return err;
	struct itimerval o;
	ns_to_tv(old.interval_ns, &o.it_interval);
	ns_to_tv(old.value_ns, &o.it_value);
	return task_copy_out(t, a->a[2], &o, sizeof(o));
}

SYSCALL(alarm)
{
	struct ktime_spec nv = { a->a[0] * 1000000000ULL, 0 }, old;
	if (a->a[0] > 0xffffffffULL)
		nv.value_ns = 0xffffffffULL * 1000000000ULL;
	long err = itimer_set(t, ITIMER_REAL, &nv, &old);
	if (err < 0)
		return err;
	uint64_t sec = old.value_ns / 1000000000ULL;
	uint64_t rest = old.value_ns % 1000000000ULL;
	/* Round to the nearest second, and never report 0 for an armed one. */
	if ((!sec && rest) || rest >= 500000000ULL)
		sec++;
	return (long)sec;
}

/* --- POSIX timers ----------------------------------------------------------------------- */

SYSCALL(timer_create)
{
	struct {
		uint64_t value;
		int32_t signo, notify;
		int32_t tid;
		int32_t pad[11];
	} sev;
	struct ksigevent k;
	int id;
	if (a->a[1]) {
		int err = task_copy_in(t, &sev, a->a[1], sizeof(sev));
		if (err < 0)
			return err;
		k = (struct ksigevent){ sev.value, sev.signo, sev.notify, sev.tid };
	}
	long err = ptimer_create(t, (int32_t)a->a[0], a->a[1] ? &k : NULL, &id);
	if (err < 0)
		return err;
	err = task_copy_out(t, a->a[2], &id, sizeof(id));
	if (err < 0)
		ptimer_delete(t, id);
	return err;
}

static int read_its(struct task *t, uint64_t addr, struct ktime_spec *ks)
{
	struct itimerspec its;
	int err = task_copy_in(t, &its, addr, sizeof(its));
	if (err < 0)
		return err;
	if (its.it_value.tv_nsec < 0 || its.it_value.tv_nsec >= 1000000000L ||
	    its.it_interval.tv_nsec < 0 ||
	    its.it_interval.tv_nsec >= 1000000000L || its.it_value.tv_sec < 0 ||
	    its.it_interval.tv_sec < 0)
		return -EINVAL;
	ks->value_ns = (uint64_t)its.it_value.tv_sec * 1000000000ULL +
		       (uint64_t)its.it_value.tv_nsec;
	ks->interval_ns = (uint64_t)its.it_interval.tv_sec * 1000000000ULL +
			  (uint64_t)its.it_interval.tv_nsec;
	return 0;
}

static int write_its(struct task *t, uint64_t addr, const struct ktime_spec *ks)
{
	struct itimerspec its = {
		{ (time_t)(ks->interval_ns / 1000000000ULL),
		  (long)(ks->interval_ns % 1000000000ULL) },
		{ (time_t)(ks->value_ns / 1000000000ULL),
		  (long)(ks->value_ns % 1000000000ULL) },
	};
	return task_copy_out(t, addr, &its, sizeof(its));
}

SYSCALL(timer_settime)
{
	struct ktime_spec nv, old;
	int flags = (int)a->a[1];
	if (flags & ~TIMER_ABSTIME)
		return -EINVAL;
	int err = read_its(t, a->a[2], &nv);
	if (err < 0)
		return err;
	long r = ptimer_settime(t, (int)a->a[0], flags, &nv, &old);
	if (r < 0 || !a->a[3])
		return r;
	return write_its(t, a->a[3], &old);
}

SYSCALL(timer_gettime)
{
	struct ktime_spec cur;
	long r = ptimer_gettime(t, (int)a->a[0], &cur);
	if (r < 0)
		return r;
	return write_its(t, a->a[1], &cur);
}

SYSCALL(timer_getoverrun)
{
	return ptimer_getoverrun(t, (int)a->a[0]);
}

SYSCALL(timer_delete)
{
	return ptimer_delete(t, (int)a->a[0]);
}

/* --- accounting -------------------------------------------------------------------------- */

#define TICK_NS 10000000ULL /* USER_HZ = 100 */

SYSCALL(times)
{
	uint64_t u, s;
	int err = task_own_cputime(t, &u, &s);
	if (err < 0)
		return err;
	pthread_mutex_lock(&t->k->lock);
	struct tms tb = { (clock_t)(u / TICK_NS), (clock_t)(s / TICK_NS),
			  (clock_t)(t->tg->child_utime_ns / TICK_NS),
			  (clock_t)(t->tg->child_stime_ns / TICK_NS) };
	pthread_mutex_unlock(&t->k->lock);
	if (a->a[0]) {
		int err = task_copy_out(t, a->a[0], &tb, sizeof(tb));
		if (err < 0)
			return err;
	}
	return (long)(monotonic_ns() / TICK_NS);
}

static void add_tv(struct timeval *tv, uint64_t ns)
{
	uint64_t us = (uint64_t)tv->tv_sec * 1000000ULL + (uint64_t)tv->tv_usec +
		      ns / 1000;
	tv->tv_sec = (time_t)(us / 1000000ULL);
	tv->tv_usec = (suseconds_t)(us % 1000000ULL);
}

SYSCALL(getrusage)
{
	int who = (int)a->a[0];
	struct rusage ru;
	struct thread_group *tg = t->tg;
	int err = 0;

	memset(&ru, 0, sizeof(ru));
	switch (who) {
	case RUSAGE_SELF:
		/* The live stub as the host counts it, plus stubs gone. */
		err = t->k->plat->thread_rusage(t->th, RUSAGE_SELF, &ru);
		if (err < 0)
			return err;
		pthread_mutex_lock(&t->k->lock);
		add_tv(&ru.ru_utime, tg->dead_utime_ns);
		add_tv(&ru.ru_stime, tg->dead_stime_ns);
		if (tg->maxrss > ru.ru_maxrss)
			ru.ru_maxrss = tg->maxrss;
		ru_counts_into(&ru, &tg->dead_ru);
		pthread_mutex_unlock(&t->k->lock);
		break;
	case RUSAGE_CHILDREN:
		pthread_mutex_lock(&t->k->lock);
		add_tv(&ru.ru_utime, tg->child_utime_ns);
		add_tv(&ru.ru_stime, tg->child_stime_ns);
		ru.ru_maxrss = tg->child_maxrss;
		ru_counts_into(&ru, &tg->child_ru);
		pthread_mutex_unlock(&t->k->lock);
		break;
	case RUSAGE_THREAD:
		err = t->k->plat->thread_rusage(t->th, RUSAGE_THREAD, &ru);
		if (err < 0)
			return err;
		break;
	default:
		return -EINVAL;
	}
	return task_copy_out(t, a->a[1], &ru, sizeof(ru));
}
