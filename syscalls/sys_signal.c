/* Signal system calls: dispositions, masks, sending, waiting, the
 * alternate stack and rt_sigreturn. Delivery is sentry/kernel/signal.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "handlers.h"

#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))
/* Flag bits Linux keeps; others are cleared so programs can detect what the
 * kernel does not support (x86-64 UAPI_SA_FLAGS). */
#define SA_EXPOSE_TAGBITS_ 0x00000800
#define SA_RESTORER_ 0x04000000
#define UAPI_SA_FLAGS                                                          \
	(SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART |  \
	 SA_NODEFER | SA_RESETHAND | SA_EXPOSE_TAGBITS_ | SA_RESTORER_)
#define SI_USER_ 0
#define SI_TKILL_ (-6)
#define SS_ONSTACK_ 1
#define SS_DISABLE_ 2
#define SS_AUTODISARM_ (1U << 31)
#define MINSIGSTKSZ_ 2048
#define STOP_OR_IGNORE_DEFAULT                                                 \
	(SIGBIT(SIGCHLD) | SIGBIT(SIGCONT) | SIGBIT(SIGURG) | SIGBIT(SIGWINCH))

SYSCALL(rt_sigaction)
{
	int sig = (int)a->a[0];
	struct k_sigaction act, old;

	if (a->a[3] != sizeof(uint64_t))
		return -EINVAL;
	if (sig < 1 || sig > SENTRY_NSIG)
		return -EINVAL;
	if (a->a[1]) {
		if (sig == SIGKILL || sig == SIGSTOP)
			return -EINVAL;
		int err = task_copy_in(t, &act, a->a[1], sizeof(act));
		if (err < 0)
			return err;
		act.mask &= ~UNBLOCKABLE;
		act.flags &= UAPI_SA_FLAGS;
	}
	pthread_mutex_lock(&t->k->lock);
	struct thread_group *tg = t->tg;
	old = tg->sighand->action[sig - 1];
	if (a->a[1]) {
		tg->sighand->action[sig - 1] = act;
		/* POSIX: ignoring a pending signal discards it. */
		bool dfl_ignored = sig < 32 && (STOP_OR_IGNORE_DEFAULT & SIGBIT(sig));
		if (act.handler == KSIG_IGN ||
		    (act.handler == KSIG_DFL && dfl_ignored))
			tg_discard_signal_locked(tg, sig);
	}
	pthread_mutex_unlock(&t->k->lock);
	if (a->a[2])
		return task_copy_out(t, a->a[2], &old, sizeof(old));
	return 0;
}

SYSCALL(rt_sigprocmask)
{
	int how = (int)a->a[0];
	uint64_t set, old = t->sigmask;

	if (a->a[3] != sizeof(uint64_t))
		return -EINVAL;
	if (a->a[1]) {
		int err = task_copy_in(t, &set, a->a[1], sizeof(set));
		if (err < 0)
			return err;
		uint64_t m;
		switch (how) {
		case SIG_BLOCK:
			m = t->sigmask | set;
			break;
		case SIG_UNBLOCK:
			m = t->sigmask & ~set;
			break;
		case SIG_SETMASK:
			m = set;
			break;
		default:
			return -EINVAL;
		}
		pthread_mutex_lock(&t->k->lock);
		set_sigmask_locked(t, m);
		pthread_mutex_unlock(&t->k->lock);
	}
	if (a->a[2])
		return task_copy_out(t, a->a[2], &old, sizeof(old));
	return 0;
}

SYSCALL(rt_sigpending)
{
	uint64_t size = a->a[1];
	if (size > sizeof(uint64_t))
		return -EINVAL;
	pthread_mutex_lock(&t->k->lock);
	uint64_t p = (t->pending.set | t->tg->shared_pending.set) & t->sigmask;
	pthread_mutex_unlock(&t->k->lock);
	return task_copy_out(t, a->a[0], &p, (size_t)size);
}

SYSCALL(rt_sigsuspend)
{
	uint64_t mask;
	if (a->a[1] != sizeof(uint64_t))
		return -EINVAL;
	int err = task_copy_in(t, &mask, a->a[0], sizeof(mask));
	if (err < 0)
		return err;
	pthread_mutex_lock(&t->k->lock);
	t->saved_sigmask = t->sigmask;
	t->restore_sigmask = true;
	set_sigmask_locked(t, mask);
	pthread_mutex_unlock(&t->k->lock);
	while (!task_signal_pending(t))
		task_sleep(t, task_wait_seq(t), 0);
	return -ERESTARTNOHAND;
}

SYSCALL(pause)
{
	(void)a;
	while (!task_signal_pending(t))
		task_sleep(t, task_wait_seq(t), 0);
	return -ERESTARTNOHAND;
}

/* Takes a pending signal of `set` (thread's first, then the process's). */
static int take_from(struct task *t, uint64_t set, struct ksiginfo *info)
{
	return dequeue_signal_locked(t, ~set, info);
}

SYSCALL(rt_sigtimedwait)
{
	uint64_t set;
	struct ksiginfo info;
	uint64_t deadline = 0;

	if (a->a[3] != sizeof(uint64_t))
		return -EINVAL;
	int err = task_copy_in(t, &set, a->a[0], sizeof(set));
	if (err < 0)
		return err;
	set &= ~UNBLOCKABLE;
	if (a->a[2]) {
		struct timespec ts;
		err = task_copy_in(t, &ts, a->a[2], sizeof(ts));
		if (err < 0)
			return err;
		if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)
			return -EINVAL;
		deadline = monotonic_ns() + (uint64_t)ts.tv_sec * 1000000000ULL +
			   (uint64_t)ts.tv_nsec;
	}
	struct kernel *k = t->k;
	int sig;
	pthread_mutex_lock(&k->lock);
	sig = take_from(t, set, &info);
	if (!sig) {
		/* Wait with the awaited signals unblocked, so that sending one
		 * wakes us (Linux's real_blocked). */
		t->real_blocked = t->sigmask;
		set_sigmask_locked(t, t->sigmask & ~set);
		for (;;) {
			uint32_t seq = task_wait_seq(t);
			sig = take_from(t, set, &info);
			if (sig)
				break;
			pthread_mutex_unlock(&k->lock);
			int r = task_sleep(t, seq, deadline);
			pthread_mutex_lock(&k->lock);
			sig = take_from(t, set, &info);
			if (sig || r == -ETIMEDOUT || r < 0) {
				if (!sig)
					err = r == -ETIMEDOUT ? -EAGAIN : -EINTR;
				break;
			}
		}
		set_sigmask_locked(t, t->real_blocked);
		t->real_blocked = 0;
	}
	pthread_mutex_unlock(&k->lock);
	if (!sig)
		return err ? err : -EAGAIN;
	if (a->a[1]) {
		err = task_copy_out(t, a->a[1], &info, sizeof(info));
		if (err < 0)
			return err;
	}
	return sig;
}

/* --- sending --------------------------------------------------------------------- */

static void user_info(struct task *t, int sig, int code, struct ksiginfo *i)
{
	memset(i, 0, sizeof(*i));
	i->signo = sig;
	i->code = code;
	i->kill.pid = t->tg->tgid;
	i->kill.uid = t->cred.ruid;
}

/* k->lock held. 0, -EPERM or the send error. */
static int send_checked(struct task *t, struct task *to, int sig,
			const struct ksiginfo *info, bool group)
{
	if (!may_signal(t, to, sig))
		return -EPERM;
	if (!sig)
		return 0;
	return send_signal_locked(to, sig, info, group);
}

static long do_kill(struct task *t, int pid, int sig,
		    const struct ksiginfo *info)
{
	struct kernel *k = t->k;
	long r = -ESRCH;

	if (sig < 0 || sig > SENTRY_NSIG)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	if (pid > 0) {
		struct thread_group *g = tg_lookup(k, pid);
		if (g)
			r = send_checked(t, g->leader, sig, info, true);
	} else if (pid == -1) {
		/* Every process we may signal but pid 1 and ourselves. */
		bool found = false, sent = false;
		list_for_each(pos, &k->groups) {
			struct thread_group *g =
				list_entry(pos, struct thread_group, link);
			if (g == t->tg || g == k->init || g->zombie)
				continue;
			found = true;
			if (send_checked(t, g->leader, sig, info, true) == 0)
				sent = true;
		}
		r = sent ? 0 : found ? -EPERM : -ESRCH;
	} else {
		int pgid = pid == 0 ? t->tg->pgid : -pid;
		if (pid == INT32_MIN)
			pgid = 0;
		bool found = false, sent = false;
		list_for_each(pos, &k->groups) {
			struct thread_group *g =
				list_entry(pos, struct thread_group, link);
			if (g->pgid != pgid || g->zombie || !pgid)
				continue;
			found = true;
			int e = send_checked(t, g->leader, sig, info, true);
			if (e == 0)
				sent = true;
			else if (!sent)
				r = e;
		}
		if (sent)
			r = 0;
		else if (!found)
			r = -ESRCH;
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

SYSCALL(kill)
{
	struct ksiginfo info;
	user_info(t, (int)a->a[1], SI_USER_, &info);
	return do_kill(t, (int)a->a[0], (int)a->a[1], &info);
}

static long do_tkill(struct task *t, int tgid, int tid, int sig,
		     const struct ksiginfo *info)
{
	struct kernel *k = t->k;
	if (tid <= 0 || sig < 0 || sig > SENTRY_NSIG)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	struct task *x = task_lookup(k, tid);
	long r;
	if (!x || (tgid > 0 && x->tg->tgid != tgid))
		r = -ESRCH;
	else if (x->exiting)
		/* Linux still finds an exiting thread, and an exited leader
		 * until its process is reaped: it checks permission and
		 * leaves the signal pending on a thread that never runs. */
		r = may_signal(t, x, sig) ? 0 : -EPERM;
	else
		r = send_checked(t, x, sig, info, false);
	pthread_mutex_unlock(&k->lock);
	return r;
}

SYSCALL(tkill)
{
	struct ksiginfo info;
	user_info(t, (int)a->a[1], SI_TKILL_, &info);
	return do_tkill(t, -1, (int)a->a[0], (int)a->a[1], &info);
}

SYSCALL(tgkill)
{
	if ((int)a->a[0] <= 0)
		return -EINVAL;
	struct ksiginfo info;
	user_info(t, (int)a->a[2], SI_TKILL_, &info);
	return do_tkill(t, (int)a->a[0], (int)a->a[1], (int)a->a[2], &info);
}

static int copy_queueinfo(struct task *t, int pid, int sig, uint64_t uinfo,
			  struct ksiginfo *info)
{
	int err = task_copy_in(t, info, uinfo, sizeof(*info));
	if (err < 0)
		return err;
	/* Nobody may pretend to be the kernel, kill() or tgkill() towards
	 * another process. */
	if ((info->code >= 0 || info->code == SI_TKILL_) && pid != t->tg->tgid)
		return -EPERM;
	info->signo = sig;
	return 0;
}

SYSCALL(rt_sigqueueinfo)
{
	struct ksiginfo info;
	int pid = (int)a->a[0], sig = (int)a->a[1];
	int err = copy_queueinfo(t, pid, sig, a->a[2], &info);
	if (err < 0)
		return err;
	if (pid <= 0)
		return -ESRCH; /* only a single process here */
	return do_kill(t, pid, sig, &info);
}

SYSCALL(rt_tgsigqueueinfo)
{
	struct ksiginfo info;
	int tgid = (int)a->a[0], tid = (int)a->a[1], sig = (int)a->a[2];
	if (tgid <= 0 || tid <= 0)
		return -EINVAL;
	int err = copy_queueinfo(t, tgid, sig, a->a[3], &info);
	if (err < 0)
		return err;
	return do_tkill(t, tgid, tid, sig, &info);
}

SYSCALL(pidfd_send_signal)
{
	int sig = (int)a->a[1];
	unsigned flags = (unsigned)a->a[3];
	/* PIDFD_SIGNAL_THREAD 1, _THREAD_GROUP 2, _PROCESS_GROUP 4: one at
	 * most (Linux 6.9). */
	if ((flags & ~7U) || __builtin_popcount(flags) > 1)
		return -EINVAL;
	bool thread;
	int pid = pidfd_to_pid(t, (int)a->a[0], &thread);
	if (pid < 0)
		return pid;
	/* The pidfd's own thread (a process pidfd's: its leader), or its
	 * process: a thread pidfd means the thread unless a flag says. */
	int tid = pid;
	if (thread) {
		pthread_mutex_lock(&t->k->lock);
		struct task *x = task_lookup(t->k, tid);
		pid = x ? x->tg->tgid : -ESRCH;
		pthread_mutex_unlock(&t->k->lock);
		if (pid < 0)
			return pid;
		if (!flags)
			flags = 1;
	}
	struct ksiginfo info;
	if (a->a[2]) {
		int err = copy_queueinfo(t, pid, sig, a->a[2], &info);
		if (err < 0)
			return err;
	} else {
		/* As kill, or as tgkill for one thread. */
		user_info(t, sig, (flags & 1) ? SI_TKILL_ : SI_USER_, &info);
	}
	if (flags & 4) /* PIDFD_SIGNAL_PROCESS_GROUP */
		return do_kill(t, -pid, sig, &info);
	if (flags & 1) /* PIDFD_SIGNAL_THREAD */
		return do_tkill(t, pid, tid, sig, &info);
	return do_kill(t, pid, sig, &info);
}

/* --- alternate stack, sigreturn ---------------------------------------------------------- */

static bool on_stack(const struct task *t, uint64_t sp)
{
	if (t->ss_flags & SS_AUTODISARM_)
		return false;
	return t->ss_size && sp > t->ss_sp && sp - t->ss_sp <= t->ss_size;
}

SYSCALL(sigaltstack)
{
	struct {
		uint64_t sp;
		int32_t flags;
		int32_t pad;
		uint64_t size;
	} ss, old;
	uint64_t sp = t->regs.rsp;

	memset(&old, 0, sizeof(old));
	old.sp = t->ss_sp;
	old.size = t->ss_size;
	old.flags = (int32_t)(t->ss_size ? (on_stack(t, sp) ? SS_ONSTACK_ : 0)
					 : SS_DISABLE_) |
		    (int32_t)(t->ss_flags & SS_AUTODISARM_);
	if (a->a[0]) {
		int err = task_copy_in(t, &ss, a->a[0], sizeof(ss));
		if (err < 0)
			return err;
		if (on_stack(t, sp))
			return -EPERM;
		uint32_t mode = (uint32_t)ss.flags & ~SS_AUTODISARM_;
		if (mode != SS_DISABLE_ && mode != SS_ONSTACK_ && mode != 0)
			return -EINVAL;
		if (mode == SS_DISABLE_) {
			ss.size = 0;
			ss.sp = 0;
		} else if (ss.size < MINSIGSTKSZ_) {
			return -ENOMEM;
		}
		t->ss_sp = ss.sp;
		t->ss_size = ss.size;
		t->ss_flags = ss.flags;
	}
	if (a->a[1])
		return task_copy_out(t, a->a[1], &old, sizeof(old));
	return 0;
}

SYSCALL(rt_sigreturn)
{
	(void)a;
	return sys_rt_sigreturn_impl(t);
}
