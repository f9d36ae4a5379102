/* The factory thread: a sentry thread that lives as long as the sentry,
 * takes no signals, and runs every job that creates a stub process. Every
 * stub is its child (zygotes directly, the rest through CLONE_PARENT), so a
 * stub's PR_SET_PDEATHSIG fires exactly when the sentry dies, never when
 * the sentry thread that happened to ask for it ends. */
#define _GNU_SOURCE
#include "factory.h"
#include "platform.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

struct factory_job {
	int (*fn)(void *);
	void *arg;
	int ret;
	bool done;
	struct factory_job *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct factory_job *queue, **tail = &queue;
static bool started;

static void *factory_main(void *unused)
{
	(void)unused;
	plat_unpin_self();
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!queue)
			pthread_cond_wait(&cond, &lock);
		struct factory_job *job = queue;
		queue = job->next;
		if (!queue)
			tail = &queue;
		pthread_mutex_unlock(&lock);
		int ret = job->fn(job->arg);
		pthread_mutex_lock(&lock);
		job->ret = ret;
		job->done = true;
		pthread_cond_broadcast(&cond);
	}
	return NULL;
}

int plat_factory_call(int (*fn)(void *), void *arg)
{
	struct factory_job job = { fn, arg, 0, false, NULL };

	pthread_mutex_lock(&lock);
	if (!started) {
		pthread_t t;
		sigset_t all, old;
		/* The factory takes no signals: its children's death signal
		 * (PDEATHSIG) must mean the sentry's death, nothing less. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		int err = pthread_create(&t, NULL, factory_main, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (err) {
			pthread_mutex_unlock(&lock);
			return -err;
		}
		pthread_detach(t);
		started = true;
	}
	*tail = &job;
	tail = &job.next;
	pthread_cond_broadcast(&cond);
	while (!job.done)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return job.ret;
}
