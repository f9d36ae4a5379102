/* epoll: an instance is a file holding watches. Each watch registers a
 * callback waiter on its file's wait queues (the file's poll operation),
 * which marks the watch and wakes the instance's sleepers; epoll_wait then
 * asks each file for its readiness. Level-triggered by default, EPOLLET
 * reports a watch again only after a new event, EPOLLONESHOT disables it
 * after one report. As on Linux, regular files and directories cannot be
 * watched (EPERM). A watch whose fd was closed (or now names another file)
 * goes away at the next look. */
#define _GNU_SOURCE
#include "epoll.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "fdtable.h"
#include "kernel.h"
#include "poll.h"

struct epitem {
	struct eventpoll *ep;
	int fd;
	struct file *file;
	uint32_t events;
	uint64_t data;
	bool disabled; /* EPOLLONESHOT, reported */
	atomic_bool signaled; /* an event since the last report (EPOLLET) */
	struct poll_table pt;
	struct epitem *next;
};

struct eventpoll {
	pthread_mutex_t lock;
	struct epitem *items;
	struct waitq wq;
};

#define EP_EVENT_BITS                                                          \
	(EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDNORM |   \
	 EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP)
#define EP_FLAGS (EPOLLET | EPOLLONESHOT | EPOLLWAKEUP | EPOLLEXCLUSIVE)

static const struct file_ops epoll_ops;

static void item_woken(struct waiter *w)
{
	struct poll_entry *e = (struct poll_entry *)((char *)w -
						     offsetof(struct poll_entry, w));
	struct epitem *it = e->ctx;
	atomic_store(&it->signaled, true);
	waitq_wake_all(&it->ep->wq);
}

static void item_free(struct epitem *it)
{
	poll_table_free(&it->pt);
	file_put(it->file);
	free(it);
}

/* What the watch has to report now (0: nothing); ep->lock held. */
static unsigned item_ready(struct epitem *it)
{
	if (it->disabled)
		return 0;
	unsigned m = it->file->ops->poll(it->file, NULL);
	m &= (it->events & EP_EVENT_BITS) | EPOLLERR | EPOLLHUP;
	if (!m) {
		if (it->events & EPOLLET)
			atomic_store(&it->signaled, false);
		return 0;
	}
	if ((it->events & EPOLLET) && !atomic_load(&it->signaled))
		return 0;
	return m;
}

/* Drops watches whose fd no longer names their file; ep->lock held. */
static void prune(struct task *t, struct eventpoll *ep)
{
	for (struct epitem **pp = &ep->items; *pp;) {
		struct epitem *it = *pp;
		struct file *f = t ? fd_get(t->fdt, it->fd) : it->file;
		bool same = f == it->file;
		if (t)
			file_put(f);
		if (!same) {
			*pp = it->next;
			item_free(it);
			continue;
		}
		pp = &it->next;
	}
}

static unsigned epoll_poll(struct file *f, struct poll_table *pt)
{
	struct eventpoll *ep = f->priv;
	unsigned m = 0;
	poll_wait(pt, &ep->wq);
	pthread_mutex_lock(&ep->lock);
	for (struct epitem *it = ep->items; it && !m; it = it->next)
		if (item_ready(it))
			m = POLLIN | POLLRDNORM;
	pthread_mutex_unlock(&ep->lock);
	return m;
}

static void epoll_release(struct file *f)
{
	struct eventpoll *ep = f->priv;
	for (struct epitem *it = ep->items, *n; it; it = n) {
		n = it->next;
		item_free(it);
	}
	pthread_mutex_destroy(&ep->lock);
	free(ep);
}

static int epoll_name(struct file *f, char *buf, size_t len)
{
	(void)f;
	int n = snprintf(buf, len, "anon_inode:[eventpoll]");
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

static const struct file_ops epoll_ops = {
	.poll = epoll_poll,
	.release = epoll_release,
	.name = epoll_name,
};

int epoll_create_file(struct task *t, int flags)
{
	struct eventpoll *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	pthread_mutex_init(&ep->lock, NULL);
	waitq_init(&ep->wq);
	struct file *f = file_new(&epoll_ops, O_RDWR, ep);
	if (!f) {
		pthread_mutex_destroy(&ep->lock);
		free(ep);
		return -ENOMEM;
	}
	int fd = fd_install_task(t, f, flags & O_CLOEXEC);
	file_put(f);
	return fd;
}

static struct eventpoll *get_ep(struct task *t, int epfd, struct file **fp)
{
	struct file *f = fd_get(t->fdt, epfd);
	if (!f)
		return NULL;
	if (f->ops != &epoll_ops) {
		file_put(f);
		*fp = NULL;
		return (struct eventpoll *)-1;
	}
	*fp = f;
	return f->priv;
}

long epoll_ctl_impl(struct task *t, int epfd, int op, int fd,
		    const struct epoll_event *ev)
{
	struct file *epf = NULL;
	struct eventpoll *ep = get_ep(t, epfd, &epf);
	long err = 0;

	if (!ep)
		return -EBADF;
	if (ep == (struct eventpoll *)-1)
		return -EINVAL;
	struct file *f = fd_get(t->fdt, fd);
	if (!f) {
		file_put(epf);
		return -EBADF;
	}
	if (f == epf) {
		err = -EINVAL;
		goto out;
	}
	if (!f->ops->poll) {
		err = -EPERM; /* regular files and directories */
		goto out;
	}
	if (ev && (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) &&
	    (ev->events & EPOLLEXCLUSIVE) &&
	    (op == EPOLL_CTL_MOD || (ev->events & EPOLLONESHOT))) {
		err = -EINVAL;
		goto out;
	}
	pthread_mutex_lock(&ep->lock);
	prune(t, ep);
	struct epitem **pp = &ep->items, *it = NULL;
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->fd == fd && (*pp)->file == f) {
			it = *pp;
			break;
		}
	switch (op) {
	case EPOLL_CTL_ADD:
		if (it) {
			err = -EEXIST;
			break;
		}
		it = calloc(1, sizeof(*it));
		if (!it) {
			err = -ENOMEM;
			break;
		}
		it->ep = ep;
		it->fd = fd;
		it->file = file_ref(f);
		it->events = ev->events;
		it->data = ev->data.u64;
		atomic_init(&it->signaled, true);
		poll_table_init(&it->pt, t);
		it->pt.fn = item_woken;
		it->pt.ctx = it;
		f->ops->poll(f, &it->pt); /* registers the callbacks */
		if (it->pt.err) {
			err = it->pt.err;
			item_free(it);
			break;
		}
		it->next = ep->items;
		ep->items = it;
		break;
	case EPOLL_CTL_MOD:
		if (!it) {
			err = -ENOENT;
			break;
		}
		it->events = ev->events;
		it->data = ev->data.u64;
		it->disabled = false;
		atomic_store(&it->signaled, true);
		break;
	case EPOLL_CTL_DEL:
		if (!it) {
			err = -ENOENT;
			break;
		}
		*pp = it->next;
		item_free(it);
		break;
	default:
		err = -EINVAL;
	}
	pthread_mutex_unlock(&ep->lock);
	if (!err)
		waitq_wake_all(&ep->wq); /* a new watch may be ready now */
out:
	file_put(f);
	file_put(epf);
	return err;
}

long epoll_wait_impl(struct task *t, int epfd, uint64_t uevents, int max,
		     uint64_t deadline)
{
	struct file *epf = NULL;
	struct eventpoll *ep = get_ep(t, epfd, &epf);
	struct waiter w;
	long ret;

	if (!ep)
		return -EBADF;
	if (ep == (struct eventpoll *)-1)
		return -EINVAL;
	if (max <= 0 || (size_t)max > 0x7fffffff / sizeof(struct epoll_event)) {
		file_put(epf);
		return -EINVAL;
	}
	size_t cap = max < 256 ? (size_t)max : 256;
	struct epoll_event *out = malloc(cap * sizeof(*out));
	if (!out) {
		file_put(epf);
		return -ENOMEM;
	}
	waitq_add(&ep->wq, &w, t);
	bool timed_out = false;
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		int n = 0;
		pthread_mutex_lock(&ep->lock);
		prune(t, ep);
		for (struct epitem *it = ep->items; it && (size_t)n < cap;
		     it = it->next) {
			unsigned m = item_ready(it);
			if (!m)
				continue;
			out[n].events = m;
			out[n].data.u64 = it->data;
			n++;
			if (it->events & EPOLLET)
				atomic_store(&it->signaled, false);
			if (it->events & EPOLLONESHOT)
				it->disabled = true;
		}
		pthread_mutex_unlock(&ep->lock);
		if (n) {
			ret = task_copy_out(t, uevents, out, (size_t)n * sizeof(*out));
			if (!ret)
				ret = n;
			break;
		}
		/* Linux's order, as poll's: the events, the timeout, then
		 * signals; a wake-up of any cause looks at the events again. */
		if (deadline == 1 || timed_out) {
			ret = 0;
			break;
		}
		if (task_signal_pending(t)) {
			ret = -EINTR; /* epoll_wait is never restarted */
			break;
		}
		if (task_sleep(t, seq, deadline) == -ETIMEDOUT)
			timed_out = true;
	}
	waitq_remove(&ep->wq, &w);
	free(out);
	file_put(epf);
	return ret;
}
