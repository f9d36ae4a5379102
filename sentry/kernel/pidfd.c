/* pidfds: a file naming one process. It holds the process's pid and start
 * time, so a pidfd never reaches a later process that reused the pid. */
#define _GNU_SOURCE
#include "pidfd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "fdtable.h"
#include "kernel.h"
#include "poll.h"

struct pidref {
	int pid;
	uint64_t start_ns;
};

static void pidfd_release(struct file *f)
{
	free(f->priv);
}

/* Readable once the process has exited (a zombie); hung up as well once
 * it is reaped (Linux since 6.9). */
static unsigned pidfd_poll(struct file *f, struct poll_table *pt)
{
	struct pidref *r = f->priv;
	struct task *t = task_current();
	if (!t)
		return 0;
	poll_wait(pt, &t->k->exit_wait);
	pthread_mutex_lock(&t->k->lock);
	struct thread_group *g = tg_lookup(t->k, r->pid);
	bool reaped = !g || g->start_ns != r->start_ns || g->reaped;
	bool zombie = !reaped && g->zombie;
	pthread_mutex_unlock(&t->k->lock);
	if (reaped)
		return POLLIN | POLLRDNORM | POLLHUP;
	return zombie ? POLLIN | POLLRDNORM : 0;
}

static int pidfd_name(struct file *f, char *buf, size_t len)
{
	(void)f;
	int n = snprintf(buf, len, "anon_inode:[pidfd]");
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

static const struct file_ops pidfd_ops = {
	.poll = pidfd_poll,
	.release = pidfd_release,
	.name = pidfd_name,
};

int pidfd_create(struct task *t, struct thread_group *g, int flags)
{
	struct pidref *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->pid = g->tgid;
	r->start_ns = g->start_ns;
	struct file *f = file_new(&pidfd_ops, O_RDWR | (flags & O_NONBLOCK), r);
	if (!f) {
		free(r);
		return -ENOMEM;
	}
	int fd = fd_install_task(t, f, true);
	file_put(f);
	return fd;
}

int pidfd_to_pid(struct task *t, int fd)
{
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	if (f->ops != &pidfd_ops) {
		file_put(f);
		return -EBADF;
	}
	struct pidref r = *(struct pidref *)f->priv;
	file_put(f);
	pthread_mutex_lock(&t->k->lock);
	struct thread_group *g = tg_lookup(t->k, r.pid);
	bool same = g && g->start_ns == r.start_ns && !g->reaped;
	pthread_mutex_unlock(&t->k->lock);
	return same ? r.pid : -ESRCH;
}
