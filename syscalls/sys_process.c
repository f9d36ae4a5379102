/* Processes: clone family, execve, exit, wait, ids, process groups and
 * sessions, pidfds. Thin: the work is in sentry/kernel/. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

#include "../sentry/kernel/fdtable.h"
#include "../sentry/kernel/pidfd.h"
#include "handlers.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#define PIDFD_THREAD_ O_EXCL
#define PIDFD_NONBLOCK_ O_NONBLOCK
#ifndef CSIGNAL
#define CSIGNAL 0xff
#endif

SYSCALL(clone)
{
	/* x86-64 argument order: flags, stack, parent_tid, child_tid, tls. */
	uint64_t flags = a->a[0];
	struct clone_args_k ca = {
		.flags = flags & ~(uint64_t)CSIGNAL,
		.exit_signal = flags & CSIGNAL,
		.stack = a->a[1],
		.parent_tid = a->a[2],
		.child_tid = a->a[3],
		.tls = a->a[4],
	};
	if (ca.exit_signal > SENTRY_NSIG)
		return -EINVAL;
	if (ca.flags & CLONE_PIDFD) {
		/* clone() returns the pidfd through parent_tid. */
		if (ca.flags & CLONE_PARENT_SETTID)
			return -EINVAL;
		ca.pidfd = a->a[2];
	}
	if (ca.flags & CLONE_THREAD)
		ca.exit_signal = 0;
	return task_clone(t, &ca);
}

SYSCALL(fork)
{
	(void)a;
	struct clone_args_k ca = { .exit_signal = SIGCHLD };
	return task_clone(t, &ca);
}

SYSCALL(vfork)
{
	(void)a;
	struct clone_args_k ca = { .flags = CLONE_VM | CLONE_VFORK,
				   .exit_signal = SIGCHLD };
	return task_clone(t, &ca);
}

SYSCALL(clone3)
{
	struct {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal,
			stack, stack_size, tls, set_tid, set_tid_size, cgroup;
	} u;
	uint64_t size = a->a[1];

	memset(&u, 0, sizeof(u));
	if (size > 4096)
		return -E2BIG;
	if (size < 64)
		return -EINVAL;
	size_t n = size < sizeof(u) ? (size_t)size : sizeof(u);
	int err = task_copy_in(t, &u, a->a[0], n);
	if (err < 0)
		return err;
	if (size > sizeof(u)) {
		/* A newer struct: the bytes we do not know must be zero. */
		unsigned char extra[4096];
		err = task_copy_in(t, extra, a->a[0] + sizeof(u),
				   (size_t)size - sizeof(u));
		if (err < 0)
			return err;
		for (size_t i = 0; i < size - sizeof(u); i++)
			if (extra[i])
				return -E2BIG;
	}
	if (u.exit_signal & ~(uint64_t)CSIGNAL || u.exit_signal > SENTRY_NSIG)
		return -EINVAL;
	if ((u.flags & (CLONE_THREAD | CLONE_PARENT)) && u.exit_signal)
		return -EINVAL;
	/* clone3 takes the exit signal in its own field and never
	 * CLONE_DETACHED (clone3_args_valid). */
	if (u.flags & (CSIGNAL | CLONE_DETACHED))
		return -EINVAL;
	if (u.flags & ~(0xffffff00ULL | 0x100000000ULL | 0x200000000ULL))
		return -EINVAL;
	if (u.set_tid || u.set_tid_size)
		return -EINVAL; /* choosing pids: not supported (table note) */
	if ((u.stack == 0) != (u.stack_size == 0))
		return -EINVAL;
	struct clone_args_k ca = {
		.flags = u.flags, .pidfd = u.pidfd, .child_tid = u.child_tid,
		.parent_tid = u.parent_tid, .exit_signal = u.exit_signal,
		.stack = u.stack, .stack_size = u.stack_size, .tls = u.tls,
	};
	return task_clone(t, &ca);
}

static long do_execve(struct task *t, uint64_t upath, uint64_t argv,
		      uint64_t envp, int dirfd, int flags)
{
	char path[PATH_MAX];
	int err = task_copy_in_string(t, path, upath, sizeof(path));
	if (err < 0)
		return err;
	if (!path[0] && !(flags & AT_EMPTY_PATH))
		return -ENOENT;
	return task_execve(t, path, argv, envp, flags, dirfd);
}

SYSCALL(execve)
{
	return do_execve(t, a->a[0], a->a[1], a->a[2], AT_FDCWD, 0);
}

SYSCALL(execveat)
{
	int flags = (int)a->a[4];
	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -EINVAL;
	return do_execve(t, a->a[1], a->a[2], a->a[3], (int)a->a[0], flags);
}

SYSCALL(exit)
{
	task_exit(t, (int)a->a[0]);
	return 0; /* not reached */
}

SYSCALL(exit_group)
{
	pthread_mutex_lock(&t->k->lock);
	group_exit_locked(t->tg, ((int)a->a[0] & 0xff) << 8);
	pthread_mutex_unlock(&t->k->lock);
	task_exit(t, (int)a->a[0]);
	return 0;
}

SYSCALL(wait4)
{
	return do_wait4(t, (int)a->a[0], a->a[1], (int)a->a[2], a->a[3]);
}

SYSCALL(waitid)
{
	return do_waitid(t, (int)a->a[0], (int)a->a[1], a->a[2], (int)a->a[3],
			 a->a[4]);
}

SYSCALL(set_tid_address)
{
	t->clear_child_tid = a->a[0];
	return t->tid;
}

SYSCALL(getpid)
{
	(void)a;
	return t->tg->tgid;
}

SYSCALL(getppid)
{
	(void)a;
	pthread_mutex_lock(&t->k->lock);
	struct thread_group *p = t->tg->parent;
	int pid = p ? p->tgid : 0;
	pthread_mutex_unlock(&t->k->lock);
	return pid;
}

SYSCALL(gettid)
{
	(void)a;
	return t->tid;
}

SYSCALL(restart_syscall)
{
	(void)a;
	long (*fn)(struct task *) = t->restart.fn;
	t->restart.fn = NULL;
	if (!fn)
		return -EINTR;
	return fn(t);
}

/* --- process groups and sessions ---------------------------------------------- */

static bool pgrp_in_session(struct kernel *k, int pgid, int sid)
{
	list_for_each(pos, &k->groups) {
		struct thread_group *g = list_entry(pos, struct thread_group, link);
		if (g->pgid == pgid && g->sid == sid && !g->zombie)
			return true;
	}
	return false;
}

SYSCALL(setpgid)
{
	int pid = (int)a->a[0], pgid = (int)a->a[1];
	struct kernel *k = t->k;
	long err = 0;

	if (!pid)
		pid = t->tg->tgid;
	if (!pgid)
		pgid = pid;
	if (pgid < 0)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	struct thread_group *me = t->tg;
	struct thread_group *g = tg_lookup(k, pid);
	if (!g || (g != me && g->parent != me)) {
		err = -ESRCH;
		goto out;
	}
	if (g != me) {
		if (g->sid != me->sid) {
			err = -EPERM;
			goto out;
		}
		if (g->did_exec) {
			err = -EACCES;
			goto out;
		}
	}
	if (g->sid == g->tgid) { /* a session leader */
		err = -EPERM;
		goto out;
	}
	if (pgid != g->tgid && !pgrp_in_session(k, pgid, me->sid)) {
		err = -EPERM;
		goto out;
	}
	g->pgid = pgid;
out:
	pthread_mutex_unlock(&k->lock);
	return err;
}

SYSCALL(getpgid)
{
	int pid = (int)a->a[0];
	pthread_mutex_lock(&t->k->lock);
	struct thread_group *g = pid ? tg_lookup(t->k, pid) : t->tg;
	long r = g ? g->pgid : -ESRCH;
	pthread_mutex_unlock(&t->k->lock);
	return r;
}

SYSCALL(getpgrp)
{
	(void)a;
	pthread_mutex_lock(&t->k->lock);
	long r = t->tg->pgid;
	pthread_mutex_unlock(&t->k->lock);
	return r;
}

SYSCALL(getsid)
{
	int pid = (int)a->a[0];
	pthread_mutex_lock(&t->k->lock);
	struct thread_group *g = pid ? tg_lookup(t->k, pid) : t->tg;
	long r = g ? g->sid : -ESRCH;
	pthread_mutex_unlock(&t->k->lock);
	return r;
}

SYSCALL(setsid)
{
	(void)a;
	struct kernel *k = t->k;
	long r;
	pthread_mutex_lock(&k->lock);
	struct thread_group *me = t->tg;
	/* A process group leader cannot start a session, nor can anyone
	 * whose pid names an existing process group. */
	bool taken = false;
	list_for_each(pos, &k->groups) {
		struct thread_group *g = list_entry(pos, struct thread_group, link);
		if (g->pgid == me->tgid && !g->reaped)
			taken = true;
	}
	if (taken) {
		r = -EPERM;
	} else {
		me->sid = me->pgid = me->tgid;
		r = me->sid;
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

/* --- pidfds ------------------------------------------------------------------------ */

SYSCALL(pidfd_open)
{
	int pid = (int)a->a[0];
	unsigned flags = (unsigned)a->a[1];
	if (flags & ~(unsigned)(PIDFD_NONBLOCK_ | PIDFD_THREAD_))
		return -EINVAL;
	if (pid <= 0)
		return -EINVAL;
	pthread_mutex_lock(&t->k->lock);
	struct task *x = task_lookup(t->k, pid);
	long r;
	if (!x)
		r = -ESRCH;
	else if (x->tg->tgid != pid && !(flags & PIDFD_THREAD_))
		r = -ENOENT; /* not a thread-group leader */
	else if (x->tg->reaped)
		r = -ESRCH;
	else
		r = 0;
	if (!r && (flags & PIDFD_THREAD_))
		r = pidfd_create_thread(t, x, (int)(flags & PIDFD_NONBLOCK_));
	else if (!r)
		r = pidfd_create(t, x->tg, (int)(flags & PIDFD_NONBLOCK_));
	pthread_mutex_unlock(&t->k->lock);
	return r;
}
