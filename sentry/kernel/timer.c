/* Timers. Every armed timer of the sandbox is on one list, watched by one
 * sentry thread that sleeps until the earliest wall- or monotonic-clock
 * expiry (and at most 10 ms while a CPU-time timer is armed), then sends
 * the signals. Lock order: k->lock, then timer_lock. */
#define _GNU_SOURCE
#include "timer.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

#include "../../lib/log.h"
#include "kernel.h"

#define SI_TIMER_ (-2)
#define SI_KERNEL_ 0x80
#define SIGEV_SIGNAL_ 0
#define SIGEV_NONE_ 1
#define SIGEV_THREAD_ 2
#define SIGEV_THREAD_ID_ 4
#define CPU_POLL_NS (10 * 1000 * 1000ULL)
#define MAX_TIMERS 4096

enum tclock { TC_REALTIME, TC_MONOTONIC, TC_BOOTTIME, TC_PROCESS_CPU,
	      TC_THREAD_CPU, TC_VIRT, TC_PROF };

struct ktimer {
	struct thread_group *tg;
	enum tclock clock;
	int tid; /* TC_THREAD_CPU: whose clock; SIGEV_THREAD_ID: whom */
	uint64_t expires, interval; /* in the clock's ns; expires 0: off */
	int id; /* POSIX timer id; -1 - which for itimers */
	int signo, notify;
	uint64_t value;
	int overrun, overrun_last;
	bool sig_queued;
	struct ktimer *next; /* on the tg's list */
};

struct itimers {
	struct ktimer *it[3];
};

struct posix_timers {
	struct ktimer *head;
	int count;
};

static pthread_mutex_t timer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cond;
static struct kernel *timer_k;
/* Every tg with timers, for the timer thread (singly linked through a
 * small registry: tgs come and go under k->lock). */
struct tg_ref {
	struct thread_group *tg;
	struct tg_ref *next;
};
static struct tg_ref *tgs;

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* k->lock held for the CPU clocks. */
static uint64_t tclock_now(struct ktimer *kt)
{
	uint64_t u, s;
	switch (kt->clock) {
	case TC_REALTIME:
		return clock_ns(CLOCK_REALTIME);
	case TC_MONOTONIC:
		return clock_ns(CLOCK_MONOTONIC);
	case TC_BOOTTIME:
		return clock_ns(CLOCK_BOOTTIME);
	case TC_PROCESS_CPU:
	case TC_PROF:
		tg_cputime(kt->tg, &u, &s);
		return u + s;
	case TC_VIRT:
		tg_cputime(kt->tg, &u, &s);
		return u;
	case TC_THREAD_CPU: {
		struct task *x = task_lookup(kt->tg->k, kt->tid);
		if (!x)
			return 0;
		task_cputime(x, &u, &s);
		return u + s;
	}
	}
	return 0;
}

static bool is_cpu_clock(enum tclock c)
{
	return c >= TC_PROCESS_CPU;
}

int sentry_clock_now(struct task *t, int clockid, uint64_t *ns)
{
	struct kernel *k = t->k;
	uint64_t u, s;

	switch (clockid) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_REALTIME_COARSE:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME:
	case CLOCK_TAI:
		*ns = clock_ns(clockid);
		return 0;
	case CLOCK_REALTIME_ALARM:
		*ns = clock_ns(CLOCK_REALTIME);
		return 0;
	case CLOCK_BOOTTIME_ALARM:
		*ns = clock_ns(CLOCK_BOOTTIME);
		return 0;
	case CLOCK_PROCESS_CPUTIME_ID: {
		int err = task_own_cputime(t, &u, &s);
		if (err < 0)
			return err;
		*ns = u + s;
		return 0;
	}
	case CLOCK_THREAD_CPUTIME_ID: {
		/* Only the stub thread can read its own clock. */
		struct rusage ru;
		int err = k->plat->thread_rusage(t->th, RUSAGE_THREAD, &ru);
		if (err < 0)
			return err;
		*ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
			      1000000000ULL +
		      ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
			      1000ULL;
		return 0;
	}
	}
	if (clockid >= 0)
		return -EINVAL;
	/* CPU clock of another process or thread: ~pid << 3 | thread << 2 |
	 * which (0 prof, 1 virt, 2 sched); which 3 is a dynamic (fd) clock. */
	int pid = ~(clockid >> 3);
	int which = clockid & 3;
	bool thread = clockid & 4;
	if (which == 3)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	int err = 0;
	if (pid == 0) {
		if (thread)
			task_cputime(t, &u, &s);
		else
			tg_cputime(t->tg, &u, &s);
	} else if (thread) {
		struct task *x = task_lookup(k, pid);
		if (!x || x->exiting)
			err = -EINVAL;
		else
			task_cputime(x, &u, &s);
	} else {
		struct thread_group *g = tg_lookup(k, pid);
		if (!g || g->zombie)
			err = -EINVAL;
		else
			tg_cputime(g, &u, &s);
	}
	pthread_mutex_unlock(&k->lock);
	if (err)
		return err;
	*ns = which == 1 ? u : u + s;
	return 0;
}

/* --- firing ----------------------------------------------------------------- */

static void fire(struct kernel *k, struct ktimer *kt, uint64_t now)
{
	struct thread_group *tg = kt->tg;
	/* Expirations since the last fire: the extra ones are overruns. */
	uint64_t n = 1;
	if (kt->interval) {
		n += (now - kt->expires) / kt->interval;
		kt->expires += n * kt->interval;
	} else {
		kt->expires = 0;
	}
	if (kt->notify == SIGEV_NONE_ || !kt->signo)
		return;
	if (kt->sig_queued) {
		kt->overrun += (int)(n > INT32_MAX ? INT32_MAX : n);
		return;
	}
	kt->overrun += (int)(n - 1);
	struct ksiginfo info;
	memset(&info, 0, sizeof(info));
	struct task *target = tg->leader;
	bool group = true;
	if (kt->id >= 0) {
		info.code = SI_TIMER_;
		info.timer.tid = kt->id;
		info.timer.overrun = 0;
		info.timer.value = kt->value;
		if (kt->notify == SIGEV_THREAD_ID_) {
			target = task_lookup(k, kt->tid);
			group = false;
			if (!target || target->tg != tg || target->exiting)
				return;
		}
		kt->sig_queued = true;
	} else {
		info.code = SI_KERNEL_;
	}
	if (tg->nr_threads > 0 && target)
		send_signal_locked(target, kt->signo, &info, group);
}

static void *timer_main(void *arg)
{
	struct kernel *k = arg;

	plat_unpin_self(); /* made by a task's (maybe paired) thread */
	for (;;) {
		pthread_mutex_lock(&k->lock);
		pthread_mutex_lock(&timer_lock);
		uint64_t wait = UINT64_MAX;
		for (struct tg_ref *r = tgs; r; r = r->next) {
			struct thread_group *tg = r->tg;
			struct ktimer *list[3 + MAX_TIMERS];
			int n = 0;
			if (tg->itimers)
				for (int i = 0; i < 3; i++)
					if (tg->itimers->it[i])
						list[n++] = tg->itimers->it[i];
			if (tg->ptimers)
				for (struct ktimer *x = tg->ptimers->head; x;
				     x = x->next)
					list[n++] = x;
			for (int i = 0; i < n; i++) {
				struct ktimer *kt = list[i];
				if (!kt->expires)
					continue;
				uint64_t now = tclock_now(kt);
				if (now >= kt->expires)
					fire(k, kt, now);
				if (!kt->expires)
					continue;
				uint64_t d = is_cpu_clock(kt->clock)
						     ? CPU_POLL_NS
						     : kt->expires - tclock_now(kt);
				if (d < wait)
					wait = d;
			}
		}
		pthread_mutex_unlock(&k->lock);
		struct timespec until;
		if (wait == UINT64_MAX) {
			pthread_cond_wait(&timer_cond, &timer_lock);
		} else {
			uint64_t at = clock_ns(CLOCK_MONOTONIC) + wait;
			until.tv_sec = (time_t)(at / 1000000000ULL);
			until.tv_nsec = (long)(at % 1000000000ULL);
			pthread_cond_timedwait(&timer_cond, &timer_lock, &until);
		}
		pthread_mutex_unlock(&timer_lock);
	}
	return NULL;
}

int timers_start(struct kernel *k)
{
	pthread_condattr_t ca;
	pthread_t thr;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&timer_cond, &ca);
	pthread_condattr_destroy(&ca);
	timer_k = k;
	int err = pthread_create(&thr, NULL, timer_main, k);
	if (err)
		return -err;
	pthread_detach(thr);
	return 0;
}

/* --- bookkeeping (k->lock and timer_lock held) ------------------------------- */

static void register_tg(struct thread_group *tg)
{
	for (struct tg_ref *r = tgs; r; r = r->next)
		if (r->tg == tg)
			return;
	struct tg_ref *r = malloc(sizeof(*r));
	if (!r)
		return; /* its timers then never fire: only on ENOMEM */
	r->tg = tg;
	r->next = tgs;
	tgs = r;
}

static void unregister_tg(struct thread_group *tg)
{
	for (struct tg_ref **pp = &tgs; *pp; pp = &(*pp)->next)
		if ((*pp)->tg == tg) {
			struct tg_ref *r = *pp;
			*pp = r->next;
			free(r);
			return;
		}
}

static void free_posix(struct thread_group *tg)
{
	if (!tg->ptimers)
		return;
	for (struct ktimer *x = tg->ptimers->head, *n; x; x = n) {
		n = x->next;
		free(x);
	}
	free(tg->ptimers);
	tg->ptimers = NULL;
}

void timers_exit_locked(struct thread_group *tg)
{
	pthread_mutex_lock(&timer_lock);
	if (tg->itimers) {
		for (int i = 0; i < 3; i++)
			free(tg->itimers->it[i]);
		free(tg->itimers);
		tg->itimers = NULL;
	}
	free_posix(tg);
	unregister_tg(tg);
	pthread_mutex_unlock(&timer_lock);
}

void timers_exec_locked(struct thread_group *tg)
{
	pthread_mutex_lock(&timer_lock);
	free_posix(tg);
	pthread_mutex_unlock(&timer_lock);
}

static struct ktimer *find_posix(struct thread_group *tg, int id)
{
	if (!tg->ptimers)
		return NULL;
	for (struct ktimer *x = tg->ptimers->head; x; x = x->next)
		if (x->id == id)
			return x;
	return NULL;
}

void timer_signal_dequeued(struct thread_group *tg, struct ksiginfo *info)
{
	if (info->code != SI_TIMER_)
		return;
	pthread_mutex_lock(&timer_lock);
	struct ktimer *kt = find_posix(tg, info->timer.tid);
	if (kt) {
		info->timer.overrun = kt->overrun;
		kt->overrun_last = kt->overrun;
		kt->overrun = 0;
		kt->sig_queued = false;
	}
	pthread_mutex_unlock(&timer_lock);
}

/* Current value (time left) and interval of kt; k->lock and timer_lock. */
static void read_timer(struct ktimer *kt, struct ktime_spec *cur)
{
	cur->interval_ns = kt->interval;
	cur->value_ns = 0;
	if (kt->expires) {
		uint64_t now = tclock_now(kt);
		if (kt->expires > now) {
			cur->value_ns = kt->expires - now;
		} else if (kt->notify == SIGEV_NONE_) {
			/* Nothing to deliver, so nothing pending: a one-shot
			 * reads 0 once due, a periodic one the time to its
			 * next period, whether or not the timer thread has
			 * been round yet (Linux's common_timer_get). */
			if (kt->interval)
				cur->value_ns = kt->interval -
						(now - kt->expires) % kt->interval;
		} else {
			/* Due, its signal not yet sent: a tiny positive
			 * value, as Linux. */
			cur->value_ns = 1;
		}
	}
}

/* Arms kt; value relative unless abs. k->lock and timer_lock held. */
static void arm(struct ktimer *kt, const struct ktime_spec *nv, bool abs)
{
	kt->interval = nv->interval_ns;
	if (!nv->value_ns) {
		kt->expires = 0;
	} else {
		kt->expires = abs ? nv->value_ns : tclock_now(kt) + nv->value_ns;
		if (!kt->expires)
			kt->expires = 1;
	}
	kt->overrun = 0;
	register_tg(kt->tg);
	pthread_cond_signal(&timer_cond);
}

/* --- interval timers ------------------------------------------------------------ */

long itimer_get(struct task *t, int which, struct ktime_spec *cur)
{
	if (which < 0 || which > 2)
		return -EINVAL;
	memset(cur, 0, sizeof(*cur));
	pthread_mutex_lock(&t->k->lock);
	pthread_mutex_lock(&timer_lock);
	struct ktimer *kt = t->tg->itimers ? t->tg->itimers->it[which] : NULL;
	if (kt)
		read_timer(kt, cur);
	pthread_mutex_unlock(&timer_lock);
	pthread_mutex_unlock(&t->k->lock);
	return 0;
}

long itimer_set(struct task *t, int which, const struct ktime_spec *nv,
		struct ktime_spec *old)
{
	static const enum tclock clocks[3] = { TC_REALTIME, TC_VIRT, TC_PROF };
	static const int sigs[3] = { SIGALRM, SIGVTALRM, SIGPROF };
	struct thread_group *tg = t->tg;
	long err = 0;

	if (which < 0 || which > 2)
		return -EINVAL;
	pthread_mutex_lock(&t->k->lock);
	pthread_mutex_lock(&timer_lock);
	if (!tg->itimers)
		tg->itimers = calloc(1, sizeof(*tg->itimers));
	struct ktimer *kt = tg->itimers ? tg->itimers->it[which] : NULL;
	if (tg->itimers && !kt) {
		kt = calloc(1, sizeof(*kt));
		if (kt) {
			kt->tg = tg;
			/* ITIMER_REAL counts real time: the monotonic clock,
			 * so setting the wall clock does not move it. */
			kt->clock = which == 0 ? TC_MONOTONIC : clocks[which];
			kt->id = -1 - which;
			kt->signo = sigs[which];
			kt->notify = SIGEV_SIGNAL_;
			tg->itimers->it[which] = kt;
		}
	}
	if (!kt) {
		err = -ENOMEM;
		goto out;
	}
	if (old)
		read_timer(kt, old);
	arm(kt, nv, false);
out:
	pthread_mutex_unlock(&timer_lock);
	pthread_mutex_unlock(&t->k->lock);
	return err;
}

/* --- POSIX timers ------------------------------------------------------------------ */

static int clock_of(int clockid, enum tclock *c, int *tid, struct task *t)
{
	*tid = 0;
	switch (clockid) {
	case CLOCK_REALTIME:
	case CLOCK_REALTIME_ALARM:
	case CLOCK_TAI:
		*c = TC_REALTIME;
		return 0;
	case CLOCK_MONOTONIC:
		*c = TC_MONOTONIC;
		return 0;
	case CLOCK_BOOTTIME:
	case CLOCK_BOOTTIME_ALARM:
		*c = TC_BOOTTIME;
		return 0;
	case CLOCK_PROCESS_CPUTIME_ID:
		*c = TC_PROCESS_CPU;
		return 0;
	case CLOCK_THREAD_CPUTIME_ID:
		*c = TC_THREAD_CPU;
		*tid = t->tid;
		return 0;
	default:
		/* Timers on other processes' CPU clocks, the raw and coarse
		 * clocks (EINVAL on Linux too for those two). */
		return -EINVAL;
	}
}

long ptimer_create(struct task *t, int clockid, const struct ksigevent *sev,
		   int *id)
{
	struct thread_group *tg = t->tg;
	enum tclock c;
	int ctid;
	int err = clock_of(clockid, &c, &ctid, t);
	if (err < 0)
		return err;
	struct ktimer *kt = calloc(1, sizeof(*kt));
	if (!kt)
		return -ENOMEM;
	kt->clock = c;
	kt->tid = ctid;
	kt->tg = tg;
	if (sev) {
		kt->notify = sev->notify;
		kt->signo = sev->signo;
		kt->value = sev->value;
		if (sev->notify == SIGEV_THREAD_ID_)
			kt->tid = sev->tid;
		if (sev->notify != SIGEV_NONE_ && sev->notify != SIGEV_SIGNAL_ &&
		    sev->notify != SIGEV_THREAD_ID_) {
			free(kt);
			return -EINVAL; /* SIGEV_THREAD is glibc's, not ours */
		}
		if (sev->notify != SIGEV_NONE_ &&
		    (sev->signo < 1 || sev->signo > SENTRY_NSIG)) {
			free(kt);
			return -EINVAL;
		}
	} else {
		kt->notify = SIGEV_SIGNAL_;
		kt->signo = SIGALRM;
	}
	pthread_mutex_lock(&t->k->lock);
	if (kt->notify == SIGEV_THREAD_ID_) {
		struct task *x = task_lookup(t->k, kt->tid);
		if (!x || x->tg != tg) {
			pthread_mutex_unlock(&t->k->lock);
			free(kt);
			return -EINVAL;
		}
	}
	pthread_mutex_lock(&timer_lock);
	if (!tg->ptimers)
		tg->ptimers = calloc(1, sizeof(*tg->ptimers));
	if (!tg->ptimers || tg->ptimers->count >= MAX_TIMERS) {
		err = tg->ptimers ? -EAGAIN : -ENOMEM;
		free(kt);
	} else {
		int nid = 0;
		while (find_posix(tg, nid))
			nid++;
		kt->id = nid;
		if (!sev)
			kt->value = (uint64_t)nid; /* sigev_value = the id */
		kt->next = tg->ptimers->head;
		tg->ptimers->head = kt;
		tg->ptimers->count++;
		*id = nid;
	}
	pthread_mutex_unlock(&timer_lock);
	pthread_mutex_unlock(&t->k->lock);
	return err;
}

#define LOCKED_TIMER(t, id, kt, body)                                          \
	({                                                                     \
		long r_ = 0;                                                   \
		pthread_mutex_lock(&(t)->k->lock);                             \
		pthread_mutex_lock(&timer_lock);                               \
		struct ktimer *kt = find_posix((t)->tg, (id));                 \
		if (!kt)                                                       \
			r_ = -EINVAL;                                          \
		else                                                           \
			r_ = (body);                                           \
		pthread_mutex_unlock(&timer_lock);                             \
		pthread_mutex_unlock(&(t)->k->lock);                           \
		r_;                                                            \
	})

static long do_settime(struct ktimer *kt, int flags,
		       const struct ktime_spec *nv, struct ktime_spec *old)
{
	if (old)
		read_timer(kt, old);
	arm(kt, nv, flags & TIMER_ABSTIME);
	return 0;
}

long ptimer_settime(struct task *t, int id, int flags,
		    const struct ktime_spec *nv, struct ktime_spec *old)
{
	return LOCKED_TIMER(t, id, kt, do_settime(kt, flags, nv, old));
}

static long do_gettime(struct ktimer *kt, struct ktime_spec *cur)
{
	read_timer(kt, cur);
	return 0;
}

long ptimer_gettime(struct task *t, int id, struct ktime_spec *cur)
{
	return LOCKED_TIMER(t, id, kt, do_gettime(kt, cur));
}

long ptimer_getoverrun(struct task *t, int id)
{
	return LOCKED_TIMER(t, id, kt, kt->overrun_last);
}

long ptimer_delete(struct task *t, int id)
{
	struct thread_group *tg = t->tg;
	long err = -EINVAL;
	pthread_mutex_lock(&t->k->lock);
	pthread_mutex_lock(&timer_lock);
	if (tg->ptimers)
		for (struct ktimer **pp = &tg->ptimers->head; *pp;
		     pp = &(*pp)->next)
			if ((*pp)->id == id) {
				struct ktimer *kt = *pp;
				*pp = kt->next;
				free(kt);
				tg->ptimers->count--;
				err = 0;
				break;
			}
	pthread_mutex_unlock(&timer_lock);
	pthread_mutex_unlock(&t->k->lock);
	return err;
}
