#define _GNU_SOURCE
#include "wait.h"

#include <errno.h>
#include <sched.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"

void waitq_init(struct waitq *q)
{
	pthread_mutex_init(&q->lock, NULL);
	q->head = NULL;
}

void waitq_add(struct waitq *q, struct waiter *w, struct task *t)
{
	w->t = t;
	w->fn = NULL;
	waitq_add_fn(q, w);
}

void waitq_add_fn(struct waitq *q, struct waiter *w)
{
	pthread_mutex_lock(&q->lock);
	w->prev = NULL;
	w->next = q->head;
	if (q->head)
		q->head->prev = w;
	q->head = w;
	pthread_mutex_unlock(&q->lock);
}

void waitq_remove(struct waitq *q, struct waiter *w)
{
	pthread_mutex_lock(&q->lock);
	if (w->prev)
		w->prev->next = w->next;
	else if (q->head == w)
		q->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->next = w->prev = NULL;
	pthread_mutex_unlock(&q->lock);
}

void waitq_wake_all(struct waitq *q)
{
	pthread_mutex_lock(&q->lock);
	for (struct waiter *w = q->head; w; w = w->next) {
		if (w->fn)
			w->fn(w);
		else
			task_wake(w->t);
	}
	pthread_mutex_unlock(&q->lock);
}

bool waitq_empty(struct waitq *q)
{
	pthread_mutex_lock(&q->lock);
	bool empty = q->head == NULL;
	pthread_mutex_unlock(&q->lock);
	return empty;
}

uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint32_t task_wait_seq(struct task *t)
{
	return atomic_load(&t->wake_seq);
}

void task_wake(struct task *t)
{
	atomic_fetch_add(&t->wake_seq, 1);
	syscall(SYS_futex, &t->wake_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

#define SLEEP_SPIN 300
/* While CPUs are to spare (the platform says so), about 50 us: the
 * partner's answer through the sandbox (a futex or pipe ping-pong between
 * two threads, a new thread's first call) often comes 10-50 us later, and
 * a sleep then ends with the wake of a halted vCPU. Medians of 9
 * interleaved rounds: futex ping-pong 29.9 -> 6.8 us, thread create+join
 * 215 -> 184 us; fork, getppid in 4 busy threads and the gcc build (CPUs
 * taken: the short spin) within noise. */
#define SLEEP_SPIN_IDLE 1500

/* t's process has a handler for some signal: a long sleep may well end
 * with one to run (read without the lock: only a hint). */
static bool catches_any(struct task *t)
{
	struct sighand *sh = t->tg ? t->tg->sighand : NULL;
	if (!sh)
		return false;
	for (int i = 0; i < SENTRY_NSIG; i++) {
		uint64_t h = __atomic_load_n(&sh->action[i].handler,
					     __ATOMIC_RELAXED);
		if (h != KSIG_DFL && h != KSIG_IGN)
			return true;
	}
	return false;
}

static int sleep_on(struct task *t, uint32_t seq, uint64_t deadline_ns,
		    bool interruptible)
{
	if (interruptible && task_signal_pending(t))
		return -ERESTARTSYS;
	if (deadline_ns && monotonic_ns() >= deadline_ns)
		return -ETIMEDOUT;
	struct timespec ts, *tp = NULL;
	if (deadline_ns) {
		ts.tv_sec = (time_t)(deadline_ns / 1000000000ULL);
		ts.tv_nsec = (long)(deadline_ns % 1000000000ULL);
		tp = &ts;
	}
	/* The wake-up often comes within microseconds (a pipe's other end,
	 * a futex partner): a short spin saves the futex sleep, and waking
	 * a sleeping thread on these VMs costs tens of microseconds. */
	const struct platform_ops *p = t->k ? t->k->plat : NULL;
	int spin = p && p->cpus_to_spare && p->cpus_to_spare()
			   ? SLEEP_SPIN_IDLE
			   : SLEEP_SPIN;
	for (int i = 0; i < spin; i++) {
		if (atomic_load(&t->wake_seq) != seq)
			return interruptible && task_signal_pending(t)
				       ? -ERESTARTSYS
				       : 0;
		if (i >= 100 && (i & 15) == 0)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
	if (interruptible && p && p->thread_sleeps && t->th && catches_any(t))
		p->thread_sleeps(t->th);
	/* Absolute CLOCK_MONOTONIC deadline: FUTEX_WAIT_BITSET. */
	long r = syscall(SYS_futex, &t->wake_seq,
			 FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, seq, tp, NULL,
			 FUTEX_BITSET_MATCH_ANY);
	if (r < 0 && errno == ETIMEDOUT)
		return -ETIMEDOUT;
	if (interruptible && task_signal_pending(t))
		return -ERESTARTSYS;
	return 0;
}

int task_sleep(struct task *t, uint32_t seq, uint64_t deadline_ns)
{
	return sleep_on(t, seq, deadline_ns, true);
}

int task_sleep_uninterruptible(struct task *t, uint32_t seq,
			       uint64_t deadline_ns)
{
	return sleep_on(t, seq, deadline_ns, false);
}
