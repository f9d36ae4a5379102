/* Sleeping in the sentry: wait queues and interruptible sleeps.
 *
 * Every task has an event counter. A waiter reads it, checks its condition,
 * and sleeps only while the counter is unchanged; anything that may make
 * the condition true (data arriving, a futex wake, a signal) bumps the
 * counter of the tasks on the relevant wait queue. So a wake-up can never
 * be lost between the check and the sleep, and a task can wait on several
 * queues at once (poll):
 *
 *	struct waiter w;
 *	waitq_add(&obj->readers, &w, t);
 *	for (;;) {
 *		uint32_t seq = task_wait_seq(t);
 *		if (condition(obj))
 *			break;
 *		err = task_sleep(t, seq, deadline);
 *		if (err < 0)
 *			break;	// -ERESTARTSYS (a signal) or -ETIMEDOUT
 *	}
 *	waitq_remove(&obj->readers, &w);
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct task;

struct waiter {
	struct task *t;
	/* If set, called (under the queue's lock) instead of waking t: epoll
	 * watches use it to note readiness. */
	void (*fn)(struct waiter *w);
	struct waiter *next, *prev;
};

struct waitq {
	pthread_mutex_t lock;
	struct waiter *head;
};

#define WAITQ_INIT { PTHREAD_MUTEX_INITIALIZER, NULL }

void waitq_init(struct waitq *q);
void waitq_add(struct waitq *q, struct waiter *w, struct task *t);
void waitq_remove(struct waitq *q, struct waiter *w);
/* Adds a callback waiter (w->fn set by the caller, t unused). */
void waitq_add_fn(struct waitq *q, struct waiter *w);
/* Wakes every waiter (they re-check their condition). */
void waitq_wake_all(struct waitq *q);
bool waitq_empty(struct waitq *q);

/* The task's event counter, to read before checking a condition. */
uint32_t task_wait_seq(struct task *t);
/* Bumps t's counter and wakes it if it sleeps. Any thread. */
void task_wake(struct task *t);
/* Sleeps until t's counter moves past seq. Returns 0 (re-check the
 * condition), -ERESTARTSYS if a signal is pending for t (the caller returns
 * it, or -EINTR where Linux never restarts), or -ETIMEDOUT once
 * deadline_ns (CLOCK_MONOTONIC, absolute; 0 = none) has passed. */
int task_sleep(struct task *t, uint32_t seq, uint64_t deadline_ns);
/* The same without the signal check: for waits that must not be cut
 * short (only short, bounded ones). */
int task_sleep_uninterruptible(struct task *t, uint32_t seq,
			       uint64_t deadline_ns);

/* CLOCK_MONOTONIC now, in ns. */
uint64_t monotonic_ns(void);
