/* eventfd: a 64-bit counter in the sentry. A read takes the whole count
 * (or one, in semaphore mode) and blocks while it is 0; a write adds and
 * blocks while the sum would pass 0xfffffffffffffffe. Readers and writers
 * sleep on wait queues like a pipe's, so signals and poll/epoll work the
 * same way. */
#define _GNU_SOURCE
#include "anon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "../../kernel/fdtable.h"
#include "../../kernel/kernel.h"
#include "../../kernel/poll.h"

#define EFD_MAX 0xfffffffffffffffeULL

struct eventfd {
	pthread_mutex_t lock;
	uint64_t count;
	bool semaphore;
	struct waitq rq, wq;
};

static long efd_read(struct task *t, struct file *f, void *buf, size_t n,
		     uint64_t *pos)
{
	struct eventfd *e = f->priv;
	struct waiter w;
	long ret;
	(void)pos;

	if (n < sizeof(uint64_t))
		return -EINVAL;
	waitq_add(&e->rq, &w, t);
	pthread_mutex_lock(&e->lock);
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		if (e->count > 0) {
			uint64_t v = e->semaphore ? 1 : e->count;
			e->count -= v;
			memcpy(buf, &v, sizeof(v));
			ret = sizeof(v);
			break;
		}
		if (!t || (f->flags & O_NONBLOCK)) {
			ret = -EAGAIN;
			break;
		}
		pthread_mutex_unlock(&e->lock);
		int r = task_sleep(t, seq, 0);
		pthread_mutex_lock(&e->lock);
		if (r < 0 && e->count == 0) {
			ret = -ERESTARTSYS;
			break;
		}
	}
	pthread_mutex_unlock(&e->lock);
	waitq_remove(&e->rq, &w);
	if (ret > 0)
		waitq_wake_all(&e->wq);
	return ret;
}

static long efd_write(struct task *t, struct file *f, const void *buf, size_t n,
		      uint64_t *pos)
{
	struct eventfd *e = f->priv;
	struct waiter w;
	uint64_t v;
	long ret;
	(void)pos;

	if (n < sizeof(v))
		return -EINVAL;
	memcpy(&v, buf, sizeof(v));
	if (v == UINT64_MAX)
		return -EINVAL;
	waitq_add(&e->wq, &w, t);
	pthread_mutex_lock(&e->lock);
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		if (EFD_MAX - e->count >= v) {
			e->count += v;
			ret = sizeof(v);
			break;
		}
		if (!t || (f->flags & O_NONBLOCK)) {
			ret = -EAGAIN;
			break;
		}
		pthread_mutex_unlock(&e->lock);
		int r = task_sleep(t, seq, 0);
		pthread_mutex_lock(&e->lock);
		if (r < 0 && EFD_MAX - e->count < v) {
			ret = -ERESTARTSYS;
			break;
		}
	}
	pthread_mutex_unlock(&e->lock);
	waitq_remove(&e->wq, &w);
	if (ret > 0 && v > 0)
		waitq_wake_all(&e->rq);
	return ret;
}

static unsigned efd_poll(struct file *f, struct poll_table *pt)
{
	struct eventfd *e = f->priv;
	unsigned m = 0;
	poll_wait(pt, &e->rq);
	poll_wait(pt, &e->wq);
	pthread_mutex_lock(&e->lock);
	if (e->count > 0)
		m |= POLLIN | POLLRDNORM;
	if (e->count < EFD_MAX)
		m |= POLLOUT | POLLWRNORM;
	pthread_mutex_unlock(&e->lock);
	return m;
}

static void efd_release(struct file *f)
{
	struct eventfd *e = f->priv;
	pthread_mutex_destroy(&e->lock);
	free(e);
}

long anon_inode_fstat(struct file *f, struct stat *st)
{
	(void)f;
	memset(st, 0, sizeof(*st));
	st->st_mode = 0600; /* an anonymous inode: no file type bits */
	st->st_nlink = 1;
	st->st_blksize = 4096;
	return 0;
}

static int eventfd_name(struct file *f, char *buf, size_t len)
{
	(void)f;
	int n = snprintf(buf, len, "anon_inode:[eventfd]");
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

static const struct file_ops eventfd_ops = {
    .read = efd_read,
    .write = efd_write,
    .poll = efd_poll,
    .fstat = anon_inode_fstat,
    .name = eventfd_name,
    .release = efd_release,
};

int eventfd_create(uint64_t initval, int flags, struct file **out)
{
	if (flags & ~(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC))
		return -EINVAL;
	struct eventfd *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	waitq_init(&e->rq);
	waitq_init(&e->wq);
	e->count = initval;
	e->semaphore = flags & EFD_SEMAPHORE;
	struct file *f =
	    file_new(&eventfd_ops, O_RDWR | (flags & EFD_NONBLOCK), e);
	if (!f) {
		pthread_mutex_destroy(&e->lock);
		free(e);
		return -ENOMEM;
	}
	*out = f;
	return 0;
}
