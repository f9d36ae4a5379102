/* Record locks (POSIX and open-file-description) and flock(2), kept by the
 * sentry for every file system alike. The gofer's files included: their
 * host fds are shared between descriptions, so host locks could not tell
 * two sandbox owners apart; the price is that host processes do not see
 * the sandbox's locks.
 *
 * Owners: a POSIX lock belongs to an fd table (Linux's files_struct: the
 * threads of a process share it, a fork gets its own), an OFD lock and a
 * flock to the open file description. Each inode's locks sit in one list
 * under its lockctx's mutex; waiters sleep on the ctx's queue and re-check
 * after every change. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>

#include "../kernel/kernel.h"
#include "vfs_impl.h"

struct plock {
	struct plock *next;
	void *owner;
	bool ofd;
	bool flock; /* a flock(2) lock: whole file, owner = the file */
	int pid;
	short type;
	uint64_t start, end;
};

struct vfs_lockctx {
	pthread_mutex_t lock;
	struct plock *locks;
	struct waitq waiters;
};

/* Who waits for whom, for EDEADLK: POSIX owners only, as Linux. */
struct blocked {
	void *waiter, *holder;
	struct blocked *next;
};
static pthread_mutex_t blocked_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blocked *blocked_list;

/* The process id F_GETLK reports for a POSIX lock. */
static int locker_pid(struct task *t)
{
	return t ? t->tg->tgid : 0;
}

static struct vfs_lockctx *lockctx(struct vfs_inode *inode, bool create)
{
	pthread_mutex_lock(&inode->lock);
	struct vfs_lockctx *lc = inode->locks;
	if (!lc && create) {
		lc = calloc(1, sizeof(*lc));
		if (lc) {
			pthread_mutex_init(&lc->lock, NULL);
			waitq_init(&lc->waiters);
			inode->locks = lc;
		}
	}
	pthread_mutex_unlock(&inode->lock);
	return lc;
}

bool vfs_lock_waited_for(struct file *f)
{
	struct vfs_lockctx *lc = lockctx(f->inode, false);
	return lc && !waitq_empty(&lc->waiters);
}

void vfs_lockctx_free(struct vfs_lockctx *lc)
{
	if (!lc)
		return;
	while (lc->locks) {
		struct plock *p = lc->locks;
		lc->locks = p->next;
		free(p);
	}
	pthread_mutex_destroy(&lc->lock);
	free(lc);
}

static bool overlaps(const struct plock *p, uint64_t start, uint64_t end)
{
	return p->start <= end && start <= p->end;
}

/* A lock of another owner that keeps (type, start..end) from being set. */
static struct plock *conflict(struct vfs_lockctx *lc, void *owner, bool flock,
			      short type, uint64_t start, uint64_t end)
{
	for (struct plock *p = lc->locks; p; p = p->next) {
		if (p->flock != flock || p->owner == owner)
			continue;
		if (!overlaps(p, start, end))
			continue;
		if (p->type == F_WRLCK || type == F_WRLCK)
			return p;
	}
	return NULL;
}

/* Removes owner's locks in start..end (splitting the ones that stick
 * out). Returns -ENOMEM only if a split could not be recorded. */
static int punch(struct vfs_lockctx *lc, void *owner, bool flock,
		 uint64_t start, uint64_t end)
{
	for (struct plock **pp = &lc->locks; *pp;) {
		struct plock *p = *pp;
		if (p->owner != owner || p->flock != flock ||
		    !overlaps(p, start, end)) {
			pp = &p->next;
			continue;
		}
		if (p->start < start && p->end > end) {
			struct plock *tail = malloc(sizeof(*tail));
			if (!tail)
				return -ENOMEM;
			*tail = *p;
			tail->start = end + 1;
			p->end = start - 1;
			tail->next = p->next;
			p->next = tail;
			return 0;
		}
		if (p->start < start) {
			p->end = start - 1;
			pp = &p->next;
		} else if (p->end > end) {
			p->start = end + 1;
			pp = &p->next;
		} else {
			*pp = p->next;
			free(p);
		}
	}
	return 0;
}

/* Adds a lock and merges it with the owner's touching locks of its type. */
static int add_lock(struct vfs_lockctx *lc, const struct plock *n)
{
	struct plock *l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	*l = *n;
	for (struct plock **pp = &lc->locks; *pp;) {
		struct plock *p = *pp;
		bool touch =
		    p->owner == l->owner && p->flock == l->flock &&
		    p->type == l->type &&
		    (overlaps(p, l->start, l->end) ||
		     (l->end != UINT64_MAX && p->start == l->end + 1) ||
		     (p->end != UINT64_MAX && p->end + 1 == l->start));
		if (touch) {
			if (p->start < l->start)
				l->start = p->start;
			if (p->end > l->end)
				l->end = p->end;
			*pp = p->next;
			free(p);
		} else {
			pp = &p->next;
		}
	}
	l->next = lc->locks;
	lc->locks = l;
	return 0;
}

int vfs_lock_get(struct file *f, void *owner, bool ofd, struct vfs_flock *l)
{
	struct vfs_lockctx *lc = lockctx(f->inode, false);
	if (!lc) {
		l->type = F_UNLCK;
		return 0;
	}
	pthread_mutex_lock(&lc->lock);
	struct plock *p = conflict(lc, owner, false, l->type, l->start, l->end);
	if (p) {
		l->type = p->type;
		l->start = p->start;
		l->end = p->end;
		l->pid = p->ofd ? -1 : p->pid;
	} else {
		l->type = F_UNLCK;
	}
	pthread_mutex_unlock(&lc->lock);
	return 0;
}

/* Would owner waiting for holder close a cycle of waiting owners? */
static bool would_deadlock(void *owner, void *holder)
{
	bool dead = false;
	pthread_mutex_lock(&blocked_lock);
	for (int depth = 0; holder && depth < 64; depth++) {
		if (holder == owner) {
			dead = true;
			break;
		}
		void *next = NULL;
		for (struct blocked *b = blocked_list; b; b = b->next)
			if (b->waiter == holder)
				next = b->holder;
		holder = next;
	}
	pthread_mutex_unlock(&blocked_lock);
	return dead;
}

static void set_blocked(struct blocked *b, void *owner, void *holder)
{
	pthread_mutex_lock(&blocked_lock);
	if (b->waiter) {
		b->holder = holder;
	} else {
		b->waiter = owner;
		b->holder = holder;
		b->next = blocked_list;
		blocked_list = b;
	}
	pthread_mutex_unlock(&blocked_lock);
}

static void clear_blocked(struct blocked *b)
{
	if (!b->waiter)
		return;
	pthread_mutex_lock(&blocked_lock);
	for (struct blocked **pp = &blocked_list; *pp; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	}
	pthread_mutex_unlock(&blocked_lock);
	b->waiter = NULL;
}

static int set_lock(struct task *t, struct vfs_inode *inode,
		    const struct plock *n, bool wait)
{
	struct vfs_lockctx *lc = lockctx(inode, true);
	if (!lc)
		return -ENOMEM;
	struct waiter w;
	struct blocked b = {0};
	bool queued = false;
	int err = 0;

	pthread_mutex_lock(&lc->lock);
	if (n->type == F_UNLCK) {
		err = punch(lc, n->owner, n->flock, n->start, n->end);
		goto done;
	}
	for (;;) {
		struct plock *c =
		    conflict(lc, n->owner, n->flock, n->type, n->start, n->end);
		if (!c)
			break;
		if (!wait || !t) {
			err = -EAGAIN;
			goto done;
		}
		if (!n->flock && !n->ofd && !c->ofd) {
			if (would_deadlock(n->owner, c->owner)) {
				err = -EDEADLK;
				goto done;
			}
			set_blocked(&b, n->owner, c->owner);
		}
		if (!queued) {
			waitq_add(&lc->waiters, &w, t);
			queued = true;
		}
		/* A lock freed before a signal came is taken (the conflict is
		 * looked at again first, as Linux's wait_event does). */
		if (task_signal_pending(t)) {
			err = -ERESTARTSYS;
			goto done;
		}
		uint32_t seq = task_wait_seq(t);
		pthread_mutex_unlock(&lc->lock);
		task_sleep(t, seq, 0);
		pthread_mutex_lock(&lc->lock);
	}
	err = punch(lc, n->owner, n->flock, n->start, n->end);
	if (err == 0)
		err = add_lock(lc, n);
done:
	pthread_mutex_unlock(&lc->lock);
	clear_blocked(&b);
	if (queued)
		waitq_remove(&lc->waiters, &w);
	/* Any change may let a waiter through. */
	waitq_wake_all(&lc->waiters);
	return err;
}

int vfs_lock_set(struct task *t, struct file *f, void *owner, bool ofd,
		 const struct vfs_flock *l, bool wait)
{
	if (l->type == F_RDLCK && !(f->mode & FMODE_READ))
		return -EBADF;
	if (l->type == F_WRLCK && !(f->mode & FMODE_WRITE))
		return -EBADF;
	struct plock n = {.owner = owner,
			  .ofd = ofd,
			  .pid = locker_pid(t),
			  .type = l->type,
			  .start = l->start,
			  .end = l->end};
	return set_lock(t, f->inode, &n, wait);
}

int vfs_flock(struct task *t, struct file *f, int op)
{
	bool nb = op & LOCK_NB;
	op &= ~LOCK_NB;
	struct plock n = {
	    .owner = f, .flock = true, .start = 0, .end = UINT64_MAX};
	switch (op) {
	case LOCK_SH:
		n.type = F_RDLCK;
		break;
	case LOCK_EX:
		n.type = F_WRLCK;
		break;
	case LOCK_UN:
		n.type = F_UNLCK;
		break;
	default:
		return -EINVAL;
	}
	if (n.type != F_UNLCK) {
		/* A conversion drops the old lock first, as on Linux. */
		struct plock un = n;
		un.type = F_UNLCK;
		struct vfs_lockctx *lc = lockctx(f->inode, false);
		bool held = false;
		if (lc) {
			pthread_mutex_lock(&lc->lock);
			for (struct plock *p = lc->locks; p; p = p->next)
				if (p->flock && p->owner == f &&
				    p->type != n.type)
					held = true;
			pthread_mutex_unlock(&lc->lock);
		}
		if (held)
			set_lock(t, f->inode, &un, false);
	}
	int err = set_lock(t, f->inode, &n, !nb);
	return err == -EAGAIN ? -EWOULDBLOCK : err;
}

static void drop_owner(struct vfs_inode *inode, void *owner, bool posix_only)
{
	struct vfs_lockctx *lc = lockctx(inode, false);
	if (!lc)
		return;
	bool changed = false;
	pthread_mutex_lock(&lc->lock);
	for (struct plock **pp = &lc->locks; *pp;) {
		struct plock *p = *pp;
		bool match = p->owner == owner &&
			     (posix_only ? (!p->ofd && !p->flock) : true);
		if (match) {
			*pp = p->next;
			free(p);
			changed = true;
		} else {
			pp = &p->next;
		}
	}
	pthread_mutex_unlock(&lc->lock);
	if (changed)
		waitq_wake_all(&lc->waiters);
}

void vfs_lock_close(struct file *f, void *owner)
{
	drop_owner(f->inode, owner, true);
}

void vfs_lock_file_release(struct file *f)
{
	drop_owner(f->inode, f, false);
}
