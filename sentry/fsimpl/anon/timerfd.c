/* timerfd: each is a host timerfd of the sentry's on the same clock (the
 * sandbox's clocks are the host's), non-blocking on the host side. The
 * host keeps time, expiration counts and clock-change cancellation; the
 * sentry blocks readers on a wait queue that the host fd watcher
 * (hostpoll_watch) wakes at each expiration, so signals, poll and epoll
 * behave as for any sentry file. Costs one host fd of the sentry each. */
#define _GNU_SOURCE
#include "anon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../../kernel/fdtable.h"
#include "../../kernel/kernel.h"
#include "../../kernel/poll.h"

struct tfd {
	int hfd;
	struct waitq q;
};

#define TIMERFD_MAX 4096
static atomic_int nr_timerfds;

static long tfd_read(struct task *t, struct file *f, void *buf, size_t n,
		     uint64_t *pos)
{
	struct tfd *x = f->priv;
	struct waiter w;
	long ret;
	(void)pos;

	if (n < sizeof(uint64_t))
		return -EINVAL;
	waitq_add(&x->q, &w, t);
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		uint64_t v;
		ssize_t r = read(x->hfd, &v, sizeof(v));
		if (r == sizeof(v)) {
			memcpy(buf, &v, sizeof(v));
			ret = sizeof(v);
			break;
		}
		if (r >= 0) {
			ret = -EIO;
			break;
		}
		if (errno != EAGAIN) {
			ret = -errno; /* ECANCELED: the clock was set */
			break;
		}
		if (!t || (f->flags & O_NONBLOCK)) {
			ret = -EAGAIN;
			break;
		}
		/* the expirations first, then signals (Linux's order) */
		if (task_signal_pending(t)) {
			ret = -ERESTARTSYS;
			break;
		}
		task_sleep(t, seq, 0);
	}
	waitq_remove(&x->q, &w);
	return ret;
}

static unsigned tfd_poll(struct file *f, struct poll_table *pt)
{
	struct tfd *x = f->priv;
	poll_wait(pt, &x->q);
	struct pollfd p = {x->hfd, POLLIN, 0};
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN))
		return POLLIN | POLLRDNORM;
	return 0;
}

static void tfd_release(struct file *f)
{
	struct tfd *x = f->priv;
	hostpoll_unwatch(x->hfd);
	close(x->hfd);
	free(x);
	atomic_fetch_sub(&nr_timerfds, 1);
}

static int timerfd_name(struct file *f, char *buf, size_t len)
{
	(void)f;
	int n = snprintf(buf, len, "anon_inode:[timerfd]");
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

static const struct file_ops timerfd_ops = {
    .read = tfd_read,
    .poll = tfd_poll,
    .fstat = anon_inode_fstat,
    .name = timerfd_name,
    .release = tfd_release,
};

int timerfd_new(int clockid, int flags, struct file **out)
{
	if (flags & ~(TFD_NONBLOCK | TFD_CLOEXEC))
		return -EINVAL;
	switch (clockid) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_BOOTTIME:
		break;
	/* The alarm clocks would arm the host's wake-up alarm: they run as
	 * their plain clocks (a sandbox never wakes the host). */
	case CLOCK_REALTIME_ALARM:
		clockid = CLOCK_REALTIME;
		break;
	case CLOCK_BOOTTIME_ALARM:
		clockid = CLOCK_BOOTTIME;
		break;
	default:
		return -EINVAL;
	}
	/* Each costs the sentry a host fd: a sandbox-wide cap keeps the
	 * workload from exhausting them (Linux's answer at its own limit). */
	if (atomic_fetch_add(&nr_timerfds, 1) >= TIMERFD_MAX) {
		atomic_fetch_sub(&nr_timerfds, 1);
		return -ENFILE;
	}
	struct tfd *x = calloc(1, sizeof(*x));
	if (!x) {
		atomic_fetch_sub(&nr_timerfds, 1);
		return -ENOMEM;
	}
	waitq_init(&x->q);
	/* Host timerfd syscalls: allowed in the sentry (its seccomp filter
	 * only refuses path-naming calls); the fd never leaves the sentry. */
	x->hfd = timerfd_create(clockid, TFD_NONBLOCK | TFD_CLOEXEC);
	if (x->hfd < 0) {
		int e = errno;
		free(x);
		atomic_fetch_sub(&nr_timerfds, 1);
		return -e;
	}
	int err = hostpoll_watch(x->hfd, POLLIN, &x->q);
	struct file *f =
	    err ? NULL
		: file_new(&timerfd_ops, O_RDWR | (flags & TFD_NONBLOCK), x);
	if (!f) {
		if (!err)
			hostpoll_unwatch(x->hfd);
		close(x->hfd);
		free(x);
		atomic_fetch_sub(&nr_timerfds, 1);
		return err ? err : -ENOMEM;
	}
	*out = f;
	return 0;
}

static struct tfd *tfd_of(struct file *f)
{
	return f->ops == &timerfd_ops ? f->priv : NULL;
}

int timerfd_set(struct file *f, int flags, const struct itimerspec *nv,
		struct itimerspec *old)
{
	struct tfd *x = tfd_of(f);
	if (!x)
		return -EINVAL;
	if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET))
		return -EINVAL;
	if (timerfd_settime(x->hfd, flags, nv, old) < 0)
		return -errno;
	/* A new setting may make a sleeping reader's wait moot. */
	waitq_wake_all(&x->q);
	return 0;
}

int timerfd_get(struct file *f, struct itimerspec *cur)
{
	struct tfd *x = tfd_of(f);
	if (!x)
		return -EINVAL;
	return timerfd_gettime(x->hfd, cur) < 0 ? -errno : 0;
}
