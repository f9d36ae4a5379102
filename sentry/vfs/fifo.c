/* FIFOs (named pipes) of any file system: the pipe lives on the inode
 * while it is open. Open blocks for a peer as on Linux (fs/pipe.c,
 * fifo_open): a reader waits until some writer has opened since it
 * started waiting, and the reverse; O_NONBLOCK readers never wait,
 * O_NONBLOCK writers without a reader get ENXIO, O_RDWR never waits.
 * The buffer is private to this file; the lead's pipe code can take over
 * its read/write side later (the open protocol stays here). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../kernel/kernel.h"
#include "vfs_impl.h"

#define FIFO_SIZE (64 * 1024)

struct vfs_fifo {
	pthread_mutex_t lock;
	struct waitq wait; /* readers, writers and openers alike */
	char *buf;
	size_t head, len;
	int readers, writers;
	unsigned r_counter, w_counter; /* opens so far, for open's wait */
};

static struct vfs_fifo *fifo_get(struct vfs_inode *inode)
{
	pthread_mutex_lock(&inode->lock);
	struct vfs_fifo *p = inode->fifo;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (p) {
			pthread_mutex_init(&p->lock, NULL);
			waitq_init(&p->wait);
			inode->fifo = p;
		}
	}
	pthread_mutex_unlock(&inode->lock);
	return p;
}

void vfs_fifo_free(struct vfs_fifo *p)
{
	if (!p)
		return;
	free(p->buf);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Sleeps on the FIFO's queue until cond(p) holds; p->lock held on entry
 * and return. */
static int fifo_wait(struct task *t, struct vfs_fifo *p,
		     bool (*cond)(struct vfs_fifo *p, void *arg), void *arg)
{
	struct waiter w;
	int err = 0;
	if (!t)
		return -EAGAIN;
	waitq_add(&p->wait, &w, t);
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		if (cond(p, arg))
			break;
		/* the partner first, then signals (Linux's wait_event) */
		if (task_signal_pending(t)) {
			err = -ERESTARTSYS;
			break;
		}
		pthread_mutex_unlock(&p->lock);
		task_sleep(t, seq, 0);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	waitq_remove(&p->wait, &w);
	pthread_mutex_lock(&p->lock);
	return err;
}

static bool writer_came(struct vfs_fifo *p, void *arg)
{
	return p->writers > 0 || p->w_counter != *(unsigned *)arg;
}

static bool reader_came(struct vfs_fifo *p, void *arg)
{
	return p->readers > 0 || p->r_counter != *(unsigned *)arg;
}

static bool can_read(struct vfs_fifo *p, void *arg)
{
	(void)arg;
	return p->len > 0 || p->writers == 0;
}

static bool can_write(struct vfs_fifo *p, void *arg)
{
	size_t need = *(size_t *)arg;
	return p->readers == 0 || FIFO_SIZE - p->len >= need;
}

static long fifo_read(struct task *t, struct file *f, void *buf, size_t n,
		      uint64_t *pos)
{
	struct vfs_fifo *p = f->inode->fifo;
	(void)pos;
	if (n == 0)
		return 0;
	pthread_mutex_lock(&p->lock);
	if (p->len == 0 && p->writers > 0) {
		if (atomic_load(&f->flags) & O_NONBLOCK) {
			pthread_mutex_unlock(&p->lock);
			return -EAGAIN;
		}
		int err = fifo_wait(t, p, can_read, NULL);
		if (err < 0) {
			pthread_mutex_unlock(&p->lock);
			return err;
		}
	}
	size_t got = 0;
	while (got < n && p->len > 0) {
		size_t c = FIFO_SIZE - p->head;
		if (c > p->len)
			c = p->len;
		if (c > n - got)
			c = n - got;
		memcpy((char *)buf + got, p->buf + p->head, c);
		p->head = (p->head + c) % FIFO_SIZE;
		p->len -= c;
		got += c;
	}
	pthread_mutex_unlock(&p->lock);
	if (got)
		waitq_wake_all(&p->wait);
	return (long)got;
}

static long fifo_write(struct task *t, struct file *f, const void *buf,
		       size_t n, uint64_t *pos)
{
	struct vfs_fifo *p = f->inode->fifo;
	bool nb = atomic_load(&f->flags) & O_NONBLOCK;
	size_t done = 0;
	(void)pos;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&p->lock);
	if (!p->buf) {
		p->buf = malloc(FIFO_SIZE);
		if (!p->buf) {
			pthread_mutex_unlock(&p->lock);
			return -ENOMEM;
		}
	}
	while (done < n) {
		if (p->readers == 0) {
			/* SIGPIPE goes with signal delivery (issue 4). */
			pthread_mutex_unlock(&p->lock);
			return done ? (long)done : -EPIPE;
		}
		/* Up to PIPE_BUF bytes go in whole or not at all. */
		size_t need = n - done <= PIPE_BUF ? n - done : 1;
		if (FIFO_SIZE - p->len < need) {
			if (nb) {
				pthread_mutex_unlock(&p->lock);
				return done ? (long)done : -EAGAIN;
			}
			if (done)
				waitq_wake_all(&p->wait);
			int err = fifo_wait(t, p, can_write, &need);
			if (err < 0) {
				pthread_mutex_unlock(&p->lock);
				return done ? (long)done : err;
			}
			continue;
		}
		size_t room = FIFO_SIZE - p->len;
		size_t c = n - done < room ? n - done : room;
		for (size_t put = 0; put < c;) {
			size_t tail = (p->head + p->len) % FIFO_SIZE;
			size_t k = FIFO_SIZE - tail;
			if (k > c - put)
				k = c - put;
			memcpy(p->buf + tail, (const char *)buf + done + put,
			       k);
			p->len += k;
			put += k;
		}
		done += c;
	}
	pthread_mutex_unlock(&p->lock);
	waitq_wake_all(&p->wait);
	return (long)done;
}

static long fifo_readable(struct file *f)
{
	struct vfs_fifo *p = f->inode->fifo;
	pthread_mutex_lock(&p->lock);
	long n = (long)p->len;
	pthread_mutex_unlock(&p->lock);
	return n;
}

static void fifo_release(struct file *f)
{
	struct vfs_fifo *p = f->inode->fifo;
	pthread_mutex_lock(&p->lock);
	if (f->mode & FMODE_READ)
		p->readers--;
	if (f->mode & FMODE_WRITE)
		p->writers--;
	if (p->readers == 0 && p->writers == 0) {
		/* Linux drops a FIFO's data when the last opener leaves. */
		p->len = 0;
		p->head = 0;
		free(p->buf);
		p->buf = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	waitq_wake_all(&p->wait);
}

static const struct file_ops fifo_ops = {
    .read = fifo_read,
    .write = fifo_write,
    .readable = fifo_readable,
    .release = fifo_release,
};

int vfs_fifo_open(struct task *t, struct file *f, int flags)
{
	struct vfs_fifo *p = fifo_get(f->inode);
	if (!p)
		return -ENOMEM;
	bool nb = flags & O_NONBLOCK;
	int err = 0;

	f->mode &= ~(unsigned)(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE |
			       FMODE_ATOMIC_POS);
	pthread_mutex_lock(&p->lock);
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		p->readers++;
		p->r_counter++;
		if (p->writers == 0 && !nb) {
			unsigned seen = p->w_counter;
			waitq_wake_all(&p->wait);
			err = fifo_wait(t, p, writer_came, &seen);
			if (err < 0)
				p->readers--;
		}
		break;
	case O_WRONLY:
		if (nb && p->readers == 0) {
			err = -ENXIO;
			break;
		}
		p->writers++;
		p->w_counter++;
		if (p->readers == 0) {
			unsigned seen = p->r_counter;
			waitq_wake_all(&p->wait);
			err = fifo_wait(t, p, reader_came, &seen);
			if (err < 0)
				p->writers--;
		}
		break;
	case O_RDWR:
		p->readers++;
		p->writers++;
		p->r_counter++;
		p->w_counter++;
		break;
	default:
		err = -EINVAL;
	}
	pthread_mutex_unlock(&p->lock);
	waitq_wake_all(&p->wait);
	if (err == 0)
		f->ops = &fifo_ops;
	return err;
}
