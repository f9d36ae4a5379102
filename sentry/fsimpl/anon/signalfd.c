/* signalfd: reading takes the reader's pending signals of the file's mask
 * (the thread's own first, then its process's), as struct signalfd_siginfo
 * records. Readers and pollers wait on the kernel's signalfd_wq, woken at
 * every queued signal and mask change (a sandbox-wide queue: an epoll
 * watch can outlive the process that added it); readiness is always the
 * calling task's, as on Linux (a signalfd shared with another process reads
 * that process's signals). */
#define _GNU_SOURCE
#include "anon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "../../kernel/fdtable.h"
#include "../../kernel/kernel.h"
#include "../../kernel/poll.h"

struct sfd {
	_Atomic uint64_t mask; /* bit sig-1; never SIGKILL or SIGSTOP */
};

static const struct file_ops signalfd_ops;

#define SIG_MASK(s) (1ULL << ((s)-1))
#define SI_TIMER_   (-2)

/* Linux's signalfd_copyinfo: the fields that make sense for the kind of
 * signal, the rest zero. */
static void to_ssi(const struct ksiginfo *k, struct signalfd_siginfo *o)
{
	memset(o, 0, sizeof(*o));
	o->ssi_signo = (uint32_t)k->signo;
	o->ssi_errno = k->errno_;
	o->ssi_code = k->code;
	int s = k->signo;
	bool fault = s == SIGSEGV || s == SIGBUS || s == SIGILL ||
		     s == SIGFPE || s == SIGTRAP;
	if (k->code == SI_TIMER_) {
		o->ssi_tid = (uint32_t)k->timer.tid;
		o->ssi_overrun = (uint32_t)k->timer.overrun;
		o->ssi_int = (int32_t)k->timer.value;
		o->ssi_ptr = k->timer.value;
	} else if (s == SIGCHLD && k->code > 0) {
		o->ssi_pid = (uint32_t)k->chld.pid;
		o->ssi_uid = k->chld.uid;
		o->ssi_status = k->chld.status;
		o->ssi_utime = (uint64_t)k->chld.utime;
		o->ssi_stime = (uint64_t)k->chld.stime;
	} else if (fault && k->code > 0) {
		o->ssi_addr = k->fault.addr;
	} else {
		o->ssi_pid = (uint32_t)k->kill.pid;
		o->ssi_uid = k->kill.uid;
		o->ssi_int = (int32_t)k->kill.value;
		o->ssi_ptr = k->kill.value;
	}
}

static long sfd_read(struct task *t, struct file *f, void *buf, size_t n,
		     uint64_t *pos)
{
	struct sfd *s = f->priv;
	struct kernel *k;
	struct waiter w;
	size_t max = n / sizeof(struct signalfd_siginfo), got = 0;
	long ret = 0;
	(void)pos;

	if (!t || max == 0)
		return -EINVAL;
	k = t->k;
	waitq_add(&t->k->signalfd_wq, &w, t);
	pthread_mutex_lock(&k->lock);
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		uint64_t mask = atomic_load(&s->mask);
		struct ksiginfo info;
		while (got < max && dequeue_signal_locked(t, ~mask, &info)) {
			to_ssi(&info, (struct signalfd_siginfo *)buf + got);
			got++;
		}
		if (got)
			break;
		if (f->flags & O_NONBLOCK) {
			ret = -EAGAIN;
			break;
		}
		/* the queue first, then signals to deliver (Linux's order) */
		if (task_signal_pending(t)) {
			ret = -ERESTARTSYS;
			break;
		}
		pthread_mutex_unlock(&k->lock);
		task_sleep(t, seq, 0);
		pthread_mutex_lock(&k->lock);
	}
	if (got)
		recalc_sigpending_locked(t);
	pthread_mutex_unlock(&k->lock);
	waitq_remove(&t->k->signalfd_wq, &w);
	return got ? (long)(got * sizeof(struct signalfd_siginfo)) : ret;
}

static unsigned sfd_poll(struct file *f, struct poll_table *pt)
{
	struct sfd *s = f->priv;
	struct task *t = pt && pt->t ? pt->t : task_current();
	if (!t)
		return 0;
	poll_wait(pt, &t->k->signalfd_wq);
	pthread_mutex_lock(&t->k->lock);
	uint64_t pend = (t->pending.set | t->tg->shared_pending.set) &
			atomic_load(&s->mask);
	pthread_mutex_unlock(&t->k->lock);
	return pend ? POLLIN | POLLRDNORM : 0;
}

static void sfd_release(struct file *f)
{
	free(f->priv);
}

static int signalfd_name(struct file *f, char *buf, size_t len)
{
	(void)f;
	int n = snprintf(buf, len, "anon_inode:[signalfd]");
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

static const struct file_ops signalfd_ops = {
    .read = sfd_read,
    .poll = sfd_poll,
    .fstat = anon_inode_fstat,
    .name = signalfd_name,
    .release = sfd_release,
};

int signalfd_update(struct task *t, struct file *f, uint64_t mask)
{
	if (f->ops != &signalfd_ops)
		return -EINVAL;
	mask &= ~(SIG_MASK(SIGKILL) | SIG_MASK(SIGSTOP));
	atomic_store(&((struct sfd *)f->priv)->mask, mask);
	/* A reader may now have something to read. */
	waitq_wake_all(&t->k->signalfd_wq);
	return 0;
}

int signalfd_new(uint64_t mask, int flags, struct file **out)
{
	if (flags & ~(SFD_NONBLOCK | SFD_CLOEXEC))
		return -EINVAL;
	struct sfd *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	atomic_init(&s->mask, mask & ~(SIG_MASK(SIGKILL) | SIG_MASK(SIGSTOP)));
	struct file *f =
	    file_new(&signalfd_ops, O_RDWR | (flags & SFD_NONBLOCK), s);
	if (!f) {
		free(s);
		return -ENOMEM;
	}
	*out = f;
	return 0;
}
