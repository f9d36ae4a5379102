/* pidfds: a file naming one process, or one thread (PIDFD_THREAD, Linux
 * 6.9). It holds the pid (tid) and the start time, so a pidfd never
 * reaches a later process or thread that reused the number. */
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
	int pid; /* a thread pidfd's: the tid */
	uint64_t start_ns;
	bool thread;
};

/* k->lock held. A thread pidfd's task, or NULL once it is gone. */
static struct task *ref_task_locked(struct kernel *k, const struct pidref *r)
{
	struct task *x = task_lookup(k, r->pid);
	return x && x->start_ns == r->start_ns && !x->tg->reaped ? x : NULL;
}

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
	if (r->thread) {
		/* Readable and hung up once the thread is gone (any thread
		 * but a leader goes at its exit). A leader's thread pidfd
		 * says what its process's does: an exited leader whose
		 * threads live on is not readable, as on Linux. */
		struct task *x = ref_task_locked(t->k, r);
		bool leader = x && x == x->tg->leader;
		bool zombie = leader && x->tg->zombie;
		pthread_mutex_unlock(&t->k->lock);
		if (!x)
			return POLLIN | POLLRDNORM | POLLHUP;
		return zombie || (!leader && !x->mm) ? POLLIN | POLLRDNORM : 0;
	}
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

static int create(struct task *t, struct pidref *r, int flags)
{
	struct file *f = file_new(&pidfd_ops, O_RDWR | (flags & O_NONBLOCK), r);
	if (!f) {
		free(r);
		return -ENOMEM;
	}
	int fd = fd_install_task(t, f, true);
	file_put(f);
	return fd;
}

int pidfd_create(struct task *t, struct thread_group *g, int flags)
{
	struct pidref *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct pidref){ g->tgid, g->start_ns, false };
	return create(t, r, flags);
}

int pidfd_create_thread(struct task *t, struct task *x, int flags)
{
	struct pidref *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct pidref){ x->tid, x->start_ns, true };
	return create(t, r, flags);
}

int pidfd_to_pid(struct task *t, int fd, bool *thread)
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
	if (thread)
		*thread = r.thread;
	pthread_mutex_lock(&t->k->lock);
	bool same;
	if (r.thread) {
		/* A leader that exited stays with its process (Linux
		 * accepts signals for it until the process is reaped). */
		struct task *x = ref_task_locked(t->k, &r);
		same = x && (x->mm || x == x->tg->leader);
	} else {
		struct thread_group *g = tg_lookup(t->k, r.pid);
		same = g && g->start_ns == r.start_ns && !g->reaped;
	}
	pthread_mutex_unlock(&t->k->lock);
	return same ? r.pid : -ESRCH;
}
