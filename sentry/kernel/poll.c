#define _GNU_SOURCE
#include "poll.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../platform/platform.h"

void poll_table_init(struct poll_table *pt, struct task *t)
{
	pt->t = t;
	pt->fn = NULL;
	pt->ctx = NULL;
	pt->e = NULL;
	pt->n = pt->cap = 0;
	pt->err = 0;
}

static void link_entry(struct poll_table *pt, struct poll_entry *x)
{
	if (pt->fn) {
		x->w.fn = pt->fn;
		x->w.t = NULL;
		waitq_add_fn(x->q, &x->w);
	} else {
		waitq_add(x->q, &x->w, pt->t);
	}
}

void poll_wait(struct poll_table *pt, struct waitq *q)
{
	if (!pt || !q)
		return;
	if (pt->n == pt->cap) {
		int cap = pt->cap ? pt->cap * 2 : 8;
		struct poll_entry *e = malloc((size_t)cap * sizeof(*e));
		if (!e) {
			pt->err = -ENOMEM;
			return;
		}
		/* Waiters are linked into queues by address, and the queues'
		 * wakers may walk them at any moment: the new copies are
		 * linked before the old ones leave (a wake-up meanwhile finds
		 * one or both: a spare wake, never a lost one), and the old
		 * array is freed only then. (A realloc freed it while still
		 * linked, and read it afterwards.) */
		if (pt->n)
			memcpy(e, pt->e, (size_t)pt->n * sizeof(*e));
		for (int i = 0; i < pt->n; i++)
			link_entry(pt, &e[i]);
		for (int i = 0; i < pt->n; i++)
			waitq_remove(pt->e[i].q, &pt->e[i].w);
		free(pt->e);
		pt->e = e;
		pt->cap = cap;
	}
	struct poll_entry *x = &pt->e[pt->n++];
	x->q = q;
	x->ctx = pt->ctx;
	link_entry(pt, x);
}

void poll_table_free(struct poll_table *pt)
{
	for (int i = 0; i < pt->n; i++)
		waitq_remove(pt->e[i].q, &pt->e[i].w);
	free(pt->e);
	pt->e = NULL;
	pt->n = pt->cap = 0;
}

/* --- the host fd watcher -----------------------------------------------------
 * Events carry (fd, generation) rather than a pointer: an event the
 * watcher already took out of epoll may arrive after its file is closed,
 * and must then find nothing to wake. */

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static int epfd = -1;
static struct {
	struct waitq *q;
	uint32_t gen;
} *watch;
static int nwatch;

static void *watcher_main(void *arg)
{
	(void)arg;
	plat_unpin_self(); /* made by a task's (maybe paired) thread */
	for (;;) {
		struct epoll_event ev[16];
		int n = epoll_wait(epfd, ev, 16, -1);
		pthread_mutex_lock(&watch_lock);
		for (int i = 0; i < n; i++) {
			int fd = (int)(ev[i].data.u64 & 0xffffffff);
			uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);
			if (fd < nwatch && watch[fd].q && watch[fd].gen == gen)
				waitq_wake_all(watch[fd].q);
		}
		pthread_mutex_unlock(&watch_lock);
	}
	return NULL;
}

int hostpoll_watch(int fd, unsigned events, struct waitq *q)
{
	int err = 0;
	(void)events;
	if (fd < 0)
		return -EBADF;
	pthread_mutex_lock(&watch_lock);
	if (epfd < 0) {
		epfd = epoll_create1(EPOLL_CLOEXEC);
		pthread_t thr;
		if (epfd < 0 || pthread_create(&thr, NULL, watcher_main, NULL)) {
			err = epfd < 0 ? -errno : -EAGAIN;
			if (epfd >= 0)
				close(epfd);
			epfd = -1;
			goto out;
		}
		pthread_detach(thr);
	}
	if (fd >= nwatch) {
		int n = fd + 16;
		void *w = realloc(watch, (size_t)n * sizeof(*watch));
		if (!w) {
			err = -ENOMEM;
			goto out;
		}
		watch = w;
		memset(watch + nwatch, 0, (size_t)(n - nwatch) * sizeof(*watch));
		nwatch = n;
	}
	if (watch[fd].q == q)
		goto out; /* already watched */
	/* Edge-triggered, every event, registered once per host fd: each new
	 * event wakes q's waiters, who look at the fd themselves. */
	watch[fd].q = q;
	watch[fd].gen++;
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLET,
		.data.u64 = (uint64_t)fd | ((uint64_t)watch[fd].gen << 32),
	};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err = -errno;
		watch[fd].q = NULL;
	}
out:
	pthread_mutex_unlock(&watch_lock);
	return err;
}

void hostpoll_unwatch(int fd)
{
	pthread_mutex_lock(&watch_lock);
	if (fd >= 0 && fd < nwatch && watch[fd].q) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
		watch[fd].q = NULL;
		watch[fd].gen++;
	}
	pthread_mutex_unlock(&watch_lock);
}
