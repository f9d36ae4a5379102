#define _GNU_SOURCE
#include "poll.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../../lib/log.h"

void poll_table_init(struct poll_table *pt, struct task *t)
{
	pt->t = t;
	pt->e = NULL;
	pt->n = pt->cap = 0;
	pt->err = 0;
}

void poll_wait(struct poll_table *pt, struct waitq *q)
{
	if (!pt || !q)
		return;
	if (pt->n == pt->cap) {
		int cap = pt->cap ? pt->cap * 2 : 8;
		struct poll_entry *e = realloc(pt->e, (size_t)cap * sizeof(*e));
		if (!e) {
			pt->err = -ENOMEM;
			return;
		}
		/* Waiters are linked into queues by address: re-link. */
		for (int i = 0; i < pt->n; i++)
			waitq_remove(pt->e[i].q, &pt->e[i].w);
		pt->e = e;
		pt->cap = cap;
		for (int i = 0; i < pt->n; i++)
			waitq_add(pt->e[i].q, &pt->e[i].w, pt->t);
	}
	struct poll_entry *x = &pt->e[pt->n++];
	x->q = q;
	waitq_add(q, &x->w, pt->t);
}

void poll_table_free(struct poll_table *pt)
{
	for (int i = 0; i < pt->n; i++)
		waitq_remove(pt->e[i].q, &pt->e[i].w);
	free(pt->e);
	pt->e = NULL;
	pt->n = pt->cap = 0;
}

/* --- the host fd watcher ----------------------------------------------------- */

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static int epfd = -1;

static void *watcher_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct epoll_event ev[16];
		int n = epoll_wait(epfd, ev, 16, -1);
		for (int i = 0; i < n; i++)
			waitq_wake_all(ev[i].data.ptr);
	}
	return NULL;
}

int hostpoll_watch(int fd, unsigned events, struct waitq *q)
{
	pthread_mutex_lock(&watch_lock);
	if (epfd < 0) {
		epfd = epoll_create1(EPOLL_CLOEXEC);
		pthread_t thr;
		if (epfd < 0 || pthread_create(&thr, NULL, watcher_main, NULL)) {
			int err = epfd < 0 ? -errno : -EAGAIN;
			if (epfd >= 0)
				close(epfd);
			epfd = -1;
			pthread_mutex_unlock(&watch_lock);
			return err;
		}
		pthread_detach(thr);
	}
	pthread_mutex_unlock(&watch_lock);
	/* One-shot: armed again by the next waiter. */
	struct epoll_event ev = { .events = events | EPOLLONESHOT, .data.ptr = q };
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
		if (errno != ENOENT)
			return -errno;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
	}
	return 0;
}
