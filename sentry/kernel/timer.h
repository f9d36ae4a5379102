/* Interval timers (setitimer, alarm) and POSIX timers (timer_create),
 * fired by one sentry thread (timer.c). CPU-time timers are checked every
 * 10 ms, so they fire up to 10 ms late. */
#pragma once

#include <stdint.h>

struct task;
struct thread_group;
struct kernel;
struct ksiginfo;

struct ktime_spec {
	uint64_t value_ns, interval_ns; /* value 0: disarmed */
};

/* Clocks the sandbox knows (clock_gettime ids and the CPU clocks of
 * other processes and threads): now in ns. -EINVAL for an unknown id. */
int sentry_clock_now(struct task *t, int clockid, uint64_t *ns);

int timers_start(struct kernel *k);
/* Process exit: every timer of tg goes; k->lock held. */
void timers_exit_locked(struct thread_group *tg);
/* execve: POSIX timers are deleted, interval timers stay; k->lock held. */
void timers_exec_locked(struct thread_group *tg);
/* A timer's signal was dequeued: its overrun count goes into the siginfo
 * and the timer may queue the next one; k->lock held. */
void timer_signal_dequeued(struct thread_group *tg, struct ksiginfo *info);

/* which: ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF. */
long itimer_set(struct task *t, int which, const struct ktime_spec *nv,
		struct ktime_spec *old);
long itimer_get(struct task *t, int which, struct ktime_spec *cur);

struct ksigevent {
	uint64_t value;
	int32_t signo, notify;
	int32_t tid;
};
long ptimer_create(struct task *t, int clockid, const struct ksigevent *sev,
		   int *id);
long ptimer_settime(struct task *t, int id, int flags,
		    const struct ktime_spec *nv, struct ktime_spec *old);
long ptimer_gettime(struct task *t, int id, struct ktime_spec *cur);
long ptimer_getoverrun(struct task *t, int id);
long ptimer_delete(struct task *t, int id);
