/* Signals: sending (pending sets and queues), delivery before a task
 * returns to workload code (default actions, group stop, handler frames on
 * the workload's stack with siginfo, ucontext and the XSAVE state), system
 * call restart, and rt_sigreturn. Semantics follow Linux's kernel/signal.c
 * and arch/x86/kernel/signal*.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "../../lib/log.h"
#include "../mm/mm.h"
#include "kernel.h"
#include "timer.h"

#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))
#define STOP_MASK                                                              \
	(SIGBIT(SIGSTOP) | SIGBIT(SIGTSTP) | SIGBIT(SIGTTIN) | SIGBIT(SIGTTOU))
#define IGNORE_MASK                                                            \
	(SIGBIT(SIGCHLD) | SIGBIT(SIGCONT) | SIGBIT(SIGURG) | SIGBIT(SIGWINCH))
#define COREDUMP_MASK                                                          \
	(SIGBIT(SIGQUIT) | SIGBIT(SIGILL) | SIGBIT(SIGTRAP) | SIGBIT(SIGABRT) |  \
	 SIGBIT(SIGBUS) | SIGBIT(SIGFPE) | SIGBIT(SIGSEGV) | SIGBIT(SIGXCPU) |  \
	 SIGBIT(SIGXFSZ) | SIGBIT(SIGSYS))
/* Dequeued first: the faults a handler must see before anything else. */
#define SYNCHRONOUS_MASK                                                       \
	(SIGBIT(SIGSEGV) | SIGBIT(SIGBUS) | SIGBIT(SIGILL) | SIGBIT(SIGTRAP) |  \
	 SIGBIT(SIGFPE) | SIGBIT(SIGSYS))

#define SA_NOCLDSTOP_ 0x00000001
#define SA_NOCLDWAIT_ 0x00000002
#define SA_SIGINFO_ 0x00000004
#define SA_ONSTACK_ 0x08000000
#define SA_RESTART_ 0x10000000
#define SA_NODEFER_ 0x40000000
#define SA_RESETHAND_ 0x80000000
#define SA_RESTORER_ 0x04000000
#define SS_ONSTACK_ 1
#define SS_DISABLE_ 2
#define SS_AUTODISARM_ (1U << 31)

#define SI_USER_ 0
#define SI_KERNEL_ 0x80
#define CLD_EXITED_ 1
#define CLD_KILLED_ 2
#define CLD_STOPPED_ 5
#define CLD_CONTINUED_ 6

/* eflags bits a signal frame may change (FIX_EFLAGS in Linux). */
#define FIX_EFLAGS 0x50dd5ULL
#define EFLAGS_TF 0x100ULL
#define EFLAGS_DF 0x400ULL
#define EFLAGS_RF 0x10000ULL
#define USER_CS 0x33
#define USER_DS 0x2b
#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_XSTATE_MAGIC2 0x46505845U
#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4

/* The x86-64 signal frame, as the kernel lays it out. */
struct k_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved1[8];
};

struct k_stack {
	uint64_t ss_sp;
	int32_t ss_flags;
	int32_t pad;
	uint64_t ss_size;
};

struct k_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct k_stack uc_stack;
	struct k_sigcontext uc_mcontext;
	uint64_t uc_sigmask;
};

struct rt_sigframe {
	uint64_t pretcode;
	struct k_ucontext uc;
	struct ksiginfo info;
};
_Static_assert(sizeof(struct k_sigcontext) == 256, "sigcontext");
_Static_assert(sizeof(struct rt_sigframe) == 440, "rt_sigframe");

/* --- dispositions ------------------------------------------------------------ */

struct sighand *sighand_new(void)
{
	struct sighand *sh = calloc(1, sizeof(*sh));
	if (sh)
		atomic_init(&sh->refs, 1);
	return sh;
}

struct sighand *sighand_copy(const struct sighand *sh)
{
	struct sighand *n = sighand_new();
	if (n)
		memcpy(n->action, sh->action, sizeof(n->action));
	return n;
}

void sighand_put(struct sighand *sh)
{
	if (sh && atomic_fetch_sub(&sh->refs, 1) == 1)
		free(sh);
}

void sighand_exec_reset(struct sighand *sh)
{
	for (int i = 0; i < SENTRY_NSIG; i++) {
		struct k_sigaction *a = &sh->action[i];
		/* Handlers go back to the default; ignored signals stay
		 * ignored. The flags and masks go too. */
		if (a->handler != KSIG_IGN)
			memset(a, 0, sizeof(*a));
		else
			a->flags = a->mask = a->restorer = 0;
	}
}

void sigpending_flush(struct sigpending *p)
{
	for (struct sigqueue *q = p->head, *n; q; q = n) {
		n = q->next;
		free(q);
	}
	p->head = NULL;
	p->set = 0;
}

static bool default_ignored(int sig)
{
	return sig <= 31 && (IGNORE_MASK & SIGBIT(sig));
}

static bool is_stop_signal(int sig)
{
	return sig <= 31 && (STOP_MASK & SIGBIT(sig));
}

static struct k_sigaction *action_of(struct thread_group *tg, int sig)
{
	/* sig is 1..SENTRY_NSIG here; the modulo only tells the compiler
	 * (its bounds warning under the sanitizers). */
	return &tg->sighand->action[(unsigned)(sig - 1) % SENTRY_NSIG];
}

/* The signal would be discarded right away (Linux's sig_ignored): never a
 * blocked one, since its handler may change before it is unblocked. */
static bool sig_ignored(struct task *t, int sig)
{
	if ((t->sigmask | t->real_blocked) & SIGBIT(sig))
		return false;
	struct k_sigaction *a = action_of(t->tg, sig);
	if (a->handler == KSIG_IGN)
		return sig != SIGKILL && sig != SIGSTOP;
	if (a->handler != KSIG_DFL)
		return false;
	if (default_ignored(sig))
		return true;
	/* A container's init only takes signals it handles. */
	return t->tg == t->k->init && t->k->cfg->init_protected;
}

/* Default action terminates the process (core or not). */
static bool sig_fatal(struct task *t, int sig)
{
	struct k_sigaction *a = action_of(t->tg, sig);
	if (sig == SIGKILL)
		return true;
	if (a->handler != KSIG_DFL || default_ignored(sig) || is_stop_signal(sig))
		return false;
	return !(t->tg == t->k->init && t->k->cfg->init_protected);
}

/* --- pending sets ------------------------------------------------------------- */

static void pending_remove(struct sigpending *p, uint64_t mask)
{
	p->set &= ~mask;
	for (struct sigqueue **pp = &p->head; *pp;) {
		struct sigqueue *q = *pp;
		if (SIGBIT(q->info.signo) & mask) {
			*pp = q->next;
			free(q);
			continue;
		}
		pp = &q->next;
	}
}

/* Takes the oldest queued instance of sig (siginfo into *info). */
static void pending_take(struct sigpending *p, int sig, struct ksiginfo *info)
{
	struct sigqueue **pp, *q = NULL, **found = NULL;
	bool more = false;

	for (pp = &p->head; *pp; pp = &(*pp)->next) {
		if ((*pp)->info.signo != sig)
			continue;
		if (!found)
			found = pp;
		else
			more = true;
	}
	if (found) {
		q = *found;
		*found = q->next;
		*info = q->info;
		free(q);
	} else {
		/* Queue allocation failed when it was sent: still deliver. */
		memset(info, 0, sizeof(*info));
		info->signo = sig;
		info->code = SI_USER_;
	}
	if (!more)
		p->set &= ~SIGBIT(sig);
}

static int next_signal(uint64_t pending, uint64_t mask)
{
	uint64_t x = pending & ~mask;
	if (!x)
		return 0;
	if (x & SYNCHRONOUS_MASK)
		x &= SYNCHRONOUS_MASK;
	return __builtin_ctzll(x) + 1;
}

int dequeue_signal_locked(struct task *t, uint64_t mask, struct ksiginfo *info)
{
	int sig = next_signal(t->pending.set, mask);
	if (sig) {
		pending_take(&t->pending, sig, info);
	} else {
		sig = next_signal(t->tg->shared_pending.set, mask);
		if (sig)
			pending_take(&t->tg->shared_pending, sig, info);
	}
	if (sig)
		timer_signal_dequeued(t->tg, info);
	return sig;
}

void tg_discard_signal_locked(struct thread_group *tg, int sig)
{
	pending_remove(&tg->shared_pending, SIGBIT(sig));
	list_for_each(pos, &tg->threads)
		pending_remove(&list_entry(pos, struct task, tg_link)->pending,
			       SIGBIT(sig));
}

void task_kick(struct task *t)
{
	task_wake(t);
	if (atomic_load(&t->in_user) && t->th)
		t->k->plat->interrupt(t->th);
}

void recalc_sigpending_locked(struct task *t)
{
	struct thread_group *tg = t->tg;
	uint64_t pend = (t->pending.set | tg->shared_pending.set) & ~t->sigmask;
	bool hint = pend || tg->group_exit || t->exiting ||
		    (tg->stopping && !t->stop_counted);
	atomic_store(&t->sigpending_hint, hint);
	if (hint)
		task_kick(t);
}

void set_sigmask_locked(struct task *t, uint64_t mask)
{
	t->sigmask = mask & ~UNBLOCKABLE;
	recalc_sigpending_locked(t);
	/* Signals this thread unblocked may be waiting at the process level
	 * for a thread to take them: nothing more to do, get_signal looks
	 * at the shared set too. */
}

void group_exit_locked(struct thread_group *tg, int status)
{
	if (tg->group_exit)
		return;
	tg->group_exit = true;
	tg->exit_status = status;
	tg->stopping = false;
	list_for_each(pos, &tg->threads) {
		struct task *x = list_entry(pos, struct task, tg_link);
		recalc_sigpending_locked(x);
	}
	waitq_wake_all(&tg->stop_wait);
}

/* Picks the thread that takes a process-directed signal and wakes it, or
 * kills the whole process at once for a fatal one (Linux's
 * complete_signal). */
/* Linux's wants_signal: a stopped or exiting thread takes no signal
 * (but SIGKILL), nor one it blocks. */
static bool wants_signal(const struct task *x, int sig)
{
	if (sig == SIGKILL)
		return true;
	if (x->exiting || (x->sigmask & SIGBIT(sig)))
		return false;
	return !(x->tg->stopping && x->stop_counted);
}

static void complete_signal(struct task *t, int sig, bool group)
{
	struct thread_group *tg = t->tg;
	struct task *target = NULL;

	if (wants_signal(t, sig))
		target = t;
	else if (group) {
		list_for_each(pos, &tg->threads) {
			struct task *x = list_entry(pos, struct task, tg_link);
			if (wants_signal(x, sig)) {
				target = x;
				break;
			}
		}
	}
	if (!target) {
		/* Nobody takes it now: it waits in the pending set. */
		return;
	}
	if (sig_fatal(target, sig) && !tg->group_exit &&
	    !((target->sigmask | target->real_blocked) & SIGBIT(sig))) {
		group_exit_locked(tg, sig);
		return;
	}
	recalc_sigpending_locked(target);
}

static void notify_parent_cldstop(struct thread_group *tg, int why, int status);

int send_signal_locked(struct task *t, int sig, const struct ksiginfo *info,
		       bool group)
{
	struct thread_group *tg = t->tg;

	if (sig < 1 || sig > SENTRY_NSIG)
		return -EINVAL;
	if (tg->group_exit || tg->zombie)
		return 0;
	if (is_stop_signal(sig)) {
		/* A stop cancels a pending continue. */
		pending_remove(&tg->shared_pending, SIGBIT(SIGCONT));
		list_for_each(pos, &tg->threads)
			pending_remove(&list_entry(pos, struct task, tg_link)->pending,
				       SIGBIT(SIGCONT));
	} else if (sig == SIGCONT) {
		/* A continue cancels pending stops and resumes a stopped
		 * process even when SIGCONT itself is ignored. */
		pending_remove(&tg->shared_pending, STOP_MASK);
		list_for_each(pos, &tg->threads)
			pending_remove(&list_entry(pos, struct task, tg_link)->pending,
				       STOP_MASK);
		if (tg->stopping) {
			bool was_stopped = tg->stopped;
			tg->stopping = false;
			tg->stopped = false;
			list_for_each(pos, &tg->threads) {
				struct task *x =
					list_entry(pos, struct task, tg_link);
				x->stop_counted = false;
				recalc_sigpending_locked(x);
			}
			waitq_wake_all(&tg->stop_wait);
			if (was_stopped) {
				tg->continued = true;
				notify_parent_cldstop(tg, CLD_CONTINUED_, SIGCONT);
			}
		}
	}
	if (sig_ignored(t, sig))
		return 0;

	struct sigpending *p = group ? &tg->shared_pending : &t->pending;
	/* Standard signals are not queued: one pending instance at most. */
	if (sig < 32 && (p->set & SIGBIT(sig)))
		return 0;
	struct sigqueue *q = malloc(sizeof(*q));
	if (q) {
		if (info)
			q->info = *info;
		else {
			memset(&q->info, 0, sizeof(q->info));
			q->info.code = SI_KERNEL_;
		}
		q->info.signo = sig;
		q->next = NULL;
		struct sigqueue **pp = &p->head;
		while (*pp)
			pp = &(*pp)->next;
		*pp = q;
	} else if (sig >= 32) {
		return -EAGAIN; /* a real-time signal must carry its value */
	}
	p->set |= SIGBIT(sig);
	waitq_wake_all(&tg->k->signalfd_wq);
	complete_signal(t, sig, group);
	return 0;
}

void force_signal(struct task *t, int sig, const struct ksiginfo *info)
{
	pthread_mutex_lock(&t->k->lock);
	struct k_sigaction *a = action_of(t->tg, sig);
	bool blocked = t->sigmask & SIGBIT(sig);
	/* A fault cannot be ignored or blocked away: it kills instead. */
	if (blocked || a->handler == KSIG_IGN) {
		a->handler = KSIG_DFL;
		if (blocked)
			t->sigmask &= ~SIGBIT(sig);
	}
	send_signal_locked(t, sig, info, false);
	pthread_mutex_unlock(&t->k->lock);
}

void force_signal_default(struct task *t, int sig, const struct ksiginfo *info)
{
	pthread_mutex_lock(&t->k->lock);
	struct k_sigaction *a = action_of(t->tg, sig);
	a->handler = KSIG_DFL;
	t->sigmask &= ~SIGBIT(sig);
	send_signal_locked(t, sig, info, false);
	pthread_mutex_unlock(&t->k->lock);
}

bool may_signal(const struct task *from, const struct task *to, int sig)
{
	const struct creds *a = &from->cred, *b = &to->cred;
	if (a->cap_effective & (1ULL << 5)) /* CAP_KILL */
		return true;
	if (a->euid == b->suid || a->euid == b->ruid || a->ruid == b->suid ||
	    a->ruid == b->ruid)
		return true;
	/* SIGCONT within a session is always allowed. */
	return sig == SIGCONT && from->tg->sid == to->tg->sid;
}

/* --- parent notification ------------------------------------------------------- */

static void notify_parent_cldstop(struct thread_group *tg, int why, int status)
{
	struct thread_group *parent = tg->parent;
	if (!parent)
		return;
	waitq_wake_all(&parent->child_wait);
	struct k_sigaction *a = action_of(parent, SIGCHLD);
	if (a->handler == KSIG_IGN || (a->flags & SA_NOCLDSTOP_))
		return;
	struct ksiginfo info;
	memset(&info, 0, sizeof(info));
	info.signo = SIGCHLD;
	info.code = why;
	info.chld.pid = tg->tgid;
	info.chld.uid = tg->leader->cred.ruid;
	info.chld.status = status;
	send_signal_locked(parent->leader, SIGCHLD, &info, true);
}

/* --- job control ------------------------------------------------------------------ */

/* A process group is orphaned when no member has a parent in another
 * process group of the same session (POSIX): stop signals from the
 * terminal are then discarded. */
static bool pgrp_orphaned(struct kernel *k, int pgid)
{
	list_for_each(pos, &k->groups) {
		struct thread_group *g = list_entry(pos, struct thread_group, link);
		if (g->pgid != pgid || g->zombie)
			continue;
		struct thread_group *p = g->parent;
		if (p && p->pgid != pgid && p->sid == g->sid)
			return false;
	}
	return true;
}

static void start_group_stop(struct task *t, int sig)
{
	struct thread_group *tg = t->tg;
	tg->stopping = true;
	tg->stopped = false;
	tg->stop_signal = sig;
	tg->stop_reported = false;
	tg->continued = false;
	tg->nr_stop_pending = 0;
	list_for_each(pos, &tg->threads) {
		struct task *x = list_entry(pos, struct task, tg_link);
		if (x->exiting)
			continue;
		x->stop_counted = false;
		tg->nr_stop_pending++;
		recalc_sigpending_locked(x);
	}
}

/* This thread takes part in its group's stop and sleeps until continued or
 * killed. k->lock held; released while asleep. */
static void do_group_stop(struct task *t)
{
	struct thread_group *tg = t->tg;
	struct waiter w;

	t->stop_counted = true;
	if (--tg->nr_stop_pending <= 0 && !tg->stopped) {
		tg->stopped = true;
		notify_parent_cldstop(tg, CLD_STOPPED_, tg->stop_signal);
	}
	recalc_sigpending_locked(t);
	waitq_add(&tg->stop_wait, &w, t);
	while (tg->stopping && !tg->group_exit && !t->exiting) {
		uint32_t seq = task_wait_seq(t);
		pthread_mutex_unlock(&t->k->lock);
		task_sleep_uninterruptible(t, seq, 0);
		pthread_mutex_lock(&t->k->lock);
	}
	waitq_remove(&tg->stop_wait, &w);
}

/* --- frames ------------------------------------------------------------------------- */

static bool on_altstack(const struct task *t, uint64_t sp)
{
	if (t->ss_flags & SS_AUTODISARM_)
		return false;
	return t->ss_size && sp > t->ss_sp && sp - t->ss_sp <= t->ss_size;
}

static int setup_frame(struct task *t, int sig, const struct ksiginfo *info,
		       const struct k_sigaction *ka, uint64_t oldmask)
{
	const struct platform_ops *plat = t->k->plat;
	struct plat_regs *r = &t->regs;
	size_t fpsize = plat_fpstate_size();
	uint64_t sp = r->rsp - 128; /* the red zone */
	bool onstack = on_altstack(t, r->rsp);
	bool use_alt = false;

	if ((ka->flags & SA_ONSTACK_) && t->ss_size &&
	    !(t->ss_flags & SS_DISABLE_) && !onstack) {
		sp = t->ss_sp + t->ss_size;
		use_alt = true;
	}
	uint64_t buf_fx = (sp - (fpsize + 4)) & ~63ULL;
	uint64_t frame = ((buf_fx - sizeof(struct rt_sigframe)) & ~15ULL) - 8;
	/* Overflowing the alternate stack is a fault, as on Linux. */
	if ((use_alt || onstack) &&
	    !(frame > t->ss_sp && frame - t->ss_sp <= t->ss_size))
		return -EFAULT;
	if (!(ka->flags & SA_RESTORER_))
		return -EFAULT; /* x86-64 has no default restorer */

	if (!t->fpbuf) {
		t->fpbuf = aligned_alloc(64, (fpsize + 4 + 63) & ~63ULL);
		if (!t->fpbuf)
			return -ENOMEM;
	}
	int err = plat->fpstate_get(t->th, t->fpbuf, fpsize);
	if (err < 0)
		return err;
	uint32_t magic2 = FP_XSTATE_MAGIC2;
	memcpy(t->fpbuf + fpsize, &magic2, 4);

	struct rt_sigframe f;
	memset(&f, 0, sizeof(f));
	f.pretcode = ka->restorer;
	f.uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	f.uc.uc_stack.ss_sp = t->ss_sp;
	f.uc.uc_stack.ss_flags = t->ss_flags;
	f.uc.uc_stack.ss_size = t->ss_size;
	struct k_sigcontext *sc = &f.uc.uc_mcontext;
	sc->r8 = r->r8; sc->r9 = r->r9; sc->r10 = r->r10; sc->r11 = r->r11;
	sc->r12 = r->r12; sc->r13 = r->r13; sc->r14 = r->r14; sc->r15 = r->r15;
	sc->rdi = r->rdi; sc->rsi = r->rsi; sc->rbp = r->rbp; sc->rbx = r->rbx;
	sc->rdx = r->rdx; sc->rax = r->rax; sc->rcx = r->rcx; sc->rsp = r->rsp;
	sc->rip = r->rip; sc->eflags = r->eflags;
	sc->cs = USER_CS;
	sc->ss = USER_DS;
	if (info->code > 0 && (sig == SIGSEGV || sig == SIGBUS ||
			       sig == SIGFPE || sig == SIGILL ||
			       sig == SIGTRAP)) {
		sc->err = t->fault_err;
		sc->trapno = t->fault_trapno;
		if (sig == SIGSEGV)
			sc->cr2 = info->fault.addr;
	}
	sc->oldmask = oldmask;
	sc->fpstate = buf_fx;
	f.uc.uc_sigmask = oldmask;
	f.info = *info;
	f.info.signo = sig;

	/* The frame and the FPU image above it in one copy (each copy costs
	 * a host call); the gap between them, under 80 bytes of padding in
	 * what is now the frame's area, is written as zeros. */
	size_t span = (size_t)(buf_fx + fpsize + 4 - frame);
	unsigned char *img = calloc(1, span);
	if (!img)
		return -ENOMEM;
	memcpy(img, &f, sizeof(f));
	memcpy(img + (buf_fx - frame), t->fpbuf, fpsize + 4);
	err = task_copy_out(t, frame, img, span);
	free(img);
	if (err < 0)
		return err;

	r->rdi = (uint64_t)sig;
	r->rsi = frame + offsetof(struct rt_sigframe, info);
	r->rdx = frame + offsetof(struct rt_sigframe, uc);
	r->rax = 0;
	r->rsp = frame;
	r->rip = ka->handler;
	r->eflags &= ~(EFLAGS_DF | EFLAGS_RF | EFLAGS_TF);
	r->cs = USER_CS;
	r->ss = USER_DS;
	r->orig_rax = (uint64_t)-1;
	t->regs_dirty = true;
	/* The handler starts with a clean FPU, as on Linux. */
	err = plat->fpstate_set(t->th, plat_fpstate_init_image(), fpsize);
	if (err < 0)
		return err;
	if (t->ss_flags & SS_AUTODISARM_) {
		t->ss_sp = t->ss_size = 0;
		t->ss_flags = SS_DISABLE_;
	}
	return 0;
}

static void restart_before_handler(struct task *t, const struct k_sigaction *ka)
{
	struct plat_regs *r = &t->regs;
	switch (-(long)r->rax) {
	case ERESTART_RESTARTBLOCK:
	case ERESTARTNOHAND:
		r->rax = (uint64_t)-EINTR;
		break;
	case ERESTARTSYS:
		if (!(ka->flags & SA_RESTART_)) {
			r->rax = (uint64_t)-EINTR;
			break;
		}
		/* fall through */
	case ERESTARTNOINTR:
		r->rax = r->orig_rax;
		r->rip -= 2;
		break;
	default:
		return;
	}
	t->regs_dirty = true;
}

static void restart_without_handler(struct task *t)
{
	struct plat_regs *r = &t->regs;
	switch (-(long)r->rax) {
	case ERESTARTNOHAND:
	case ERESTARTSYS:
	case ERESTARTNOINTR:
		r->rax = r->orig_rax;
		r->rip -= 2;
		break;
	case ERESTART_RESTARTBLOCK:
		r->rax = SYS_restart_syscall;
		r->rip -= 2;
		break;
	default:
		return;
	}
	t->regs_dirty = true;
}

void task_do_signals(struct task *t)
{
	struct kernel *k = t->k;
	struct thread_group *tg = t->tg;
	bool handled = false;

	if (!task_signal_pending(t) && !t->in_syscall && !t->restore_sigmask)
		return;
	pthread_mutex_lock(&k->lock);
	for (;;) {
		if (tg->group_exit || t->exiting) {
			pthread_mutex_unlock(&k->lock);
			task_exit(t, t->exit_code);
			return; /* not reached */
		}
		if (tg->stopping) {
			/* Results held for the stub thread are written
			 * before the stop is seen (not under this lock). */
			if (t->out_held) {
				pthread_mutex_unlock(&k->lock);
				task_out_flush(t);
				pthread_mutex_lock(&k->lock);
				continue;
			}
			do_group_stop(t);
			continue;
		}
		struct ksiginfo info;
		int sig = dequeue_signal_locked(t, t->sigmask, &info);
		if (!sig)
			break;
		struct k_sigaction ka = *action_of(tg, sig);
		if (ka.handler == KSIG_IGN)
			continue;
		if (ka.handler == KSIG_DFL) {
			if (default_ignored(sig))
				continue;
			if (tg == k->init && k->cfg->init_protected &&
			    sig != SIGKILL)
				continue;
			if (is_stop_signal(sig)) {
				if (sig != SIGSTOP && pgrp_orphaned(k, tg->pgid))
					continue;
				start_group_stop(t, sig);
				continue;
			}
			group_exit_locked(tg, sig);
			continue;
		}
		/* A handler. */
		if (t->in_syscall)
			restart_before_handler(t, &ka);
		t->in_syscall = false;
		uint64_t oldmask = t->restore_sigmask ? t->saved_sigmask
						      : t->sigmask;
		t->restore_sigmask = false;
		if (ka.flags & SA_RESETHAND_)
			memset(action_of(tg, sig), 0, sizeof(ka));
		pthread_mutex_unlock(&k->lock);
		int err = setup_frame(t, sig, &info, &ka, oldmask);
		pthread_mutex_lock(&k->lock);
		if (err < 0) {
			/* No room or no restorer: a SIGSEGV the workload
			 * cannot catch, as on Linux. */
			log_debug("task %d: cannot deliver signal %d: %s",
				  t->tid, sig, strerror(-err));
			struct k_sigaction *seg = action_of(tg, SIGSEGV);
			seg->handler = KSIG_DFL;
			t->sigmask = oldmask & ~SIGBIT(SIGSEGV);
			group_exit_locked(tg, SIGSEGV);
			continue;
		}
		uint64_t mask = oldmask | ka.mask;
		if (!(ka.flags & SA_NODEFER_))
			mask |= SIGBIT(sig);
		t->sigmask = mask & ~UNBLOCKABLE;
		handled = true;
	}
	if (!handled && t->in_syscall)
		restart_without_handler(t);
	t->in_syscall = false;
	if (t->restore_sigmask) {
		t->restore_sigmask = false;
		t->sigmask = t->saved_sigmask;
	}
	recalc_sigpending_locked(t);
	/* Leave the hint set only if something is really there to do. */
	pthread_mutex_unlock(&k->lock);
}

/* --- rt_sigreturn ------------------------------------------------------------------- */

/* pre: the size + 4 bytes at addr, read already (NULL: read them here). */
static int restore_fpstate(struct task *t, uint64_t addr,
			   const unsigned char *pre)
{
	const struct platform_ops *plat = t->k->plat;
	size_t size = plat_fpstate_size();

	if (!addr)
		return plat->fpstate_set(t->th, plat_fpstate_init_image(), size);
	if (addr & 63)
		return -EFAULT;
	if (!t->fpbuf) {
		t->fpbuf = aligned_alloc(64, (size + 4 + 63) & ~63ULL);
		if (!t->fpbuf)
			return -ENOMEM;
	}
	unsigned char *buf = t->fpbuf;
	int err = 0;
	if (pre)
		memcpy(buf, pre, size + 4);
	else
		err = task_copy_in(t, buf, addr, 512);
	if (err < 0)
		return err;
	uint32_t magic1, ext, xsize, magic2 = 0;
	memcpy(&magic1, buf + 464, 4);
	memcpy(&ext, buf + 468, 4);
	memcpy(&xsize, buf + 480, 4);
	bool xsave = magic1 == FP_XSTATE_MAGIC1 && xsize == size &&
		     ext == size + 4;
	if (xsave && !pre) {
		err = task_copy_in(t, buf + 512, addr + 512, size + 4 - 512);
		if (err < 0)
			return err;
	}
	if (xsave) {
		memcpy(&magic2, buf + size, 4);
		xsave = magic2 == FP_XSTATE_MAGIC2;
	}
	if (!xsave) {
		/* Only the legacy FXSAVE part: the rest in its init state. */
		memcpy(buf + 512, (const unsigned char *)plat_fpstate_init_image() + 512,
		       size - 512);
		uint64_t bv = 3;
		memcpy(buf + 512, &bv, 8);
	}
	err = plat_fpstate_sanitize(buf, size);
	if (err < 0)
		return err;
	return plat->fpstate_set(t->th, buf, size);
}

long sys_rt_sigreturn_impl(struct task *t)
{
	struct plat_regs *r = &t->regs;
	uint64_t frame = r->rsp - 8;
	struct rt_sigframe f;
	size_t fpsize = plat_fpstate_size();
	/* The frame and, in the same read, where setup_frame puts the FPU
	 * image (above the frame, within 87 bytes of padding); if that read
	 * faults, or the frame points elsewhere, each is read on its own, so
	 * faults are as Linux's. */
	size_t span = sizeof(f) + 88 + fpsize + 4;
	unsigned char *whole = malloc(span);
	const unsigned char *pre = NULL;
	int err;
	if (whole && task_copy_in(t, whole, frame, span) == 0) {
		memcpy(&f, whole, sizeof(f));
		uint64_t fp = f.uc.uc_mcontext.fpstate;
		if (fp >= frame + sizeof(f) && fp + fpsize + 4 <= frame + span)
			pre = whole + (fp - frame);
		err = 0;
	} else {
		err = task_copy_in(t, &f, frame, sizeof(f));
	}
	if (!err) {
		const struct k_sigcontext *sc = &f.uc.uc_mcontext;
		pthread_mutex_lock(&t->k->lock);
		set_sigmask_locked(t, f.uc.uc_sigmask);
		pthread_mutex_unlock(&t->k->lock);
		r->r8 = sc->r8; r->r9 = sc->r9; r->r10 = sc->r10; r->r11 = sc->r11;
		r->r12 = sc->r12; r->r13 = sc->r13; r->r14 = sc->r14;
		r->r15 = sc->r15; r->rdi = sc->rdi; r->rsi = sc->rsi;
		r->rbp = sc->rbp; r->rbx = sc->rbx; r->rdx = sc->rdx;
		r->rax = sc->rax; r->rcx = sc->rcx; r->rsp = sc->rsp;
		r->rip = sc->rip;
		r->eflags = (r->eflags & ~FIX_EFLAGS) | (sc->eflags & FIX_EFLAGS);
		r->cs = USER_CS;
		r->ss = USER_DS;
		r->orig_rax = (uint64_t)-1;
		t->regs_dirty = true;
		err = restore_fpstate(t, sc->fpstate, pre);
	}
	free(whole);
	if (!err) {
		/* The alternate stack as the frame says; errors other than a
		 * fault are ignored, as on Linux. */
		const struct k_stack *ss = &f.uc.uc_stack;
		if (!on_altstack(t, r->rsp)) {
			if (ss->ss_flags & SS_DISABLE_) {
				t->ss_sp = t->ss_size = 0;
				t->ss_flags = SS_DISABLE_;
			} else if (ss->ss_size >= 2048 &&
				   !(ss->ss_flags & ~(int32_t)SS_AUTODISARM_)) {
				t->ss_sp = ss->ss_sp;
				t->ss_size = ss->ss_size;
				t->ss_flags = ss->ss_flags;
			}
		}
	}
	if (err < 0) {
		/* A bad frame: SIGSEGV, not to be caught or ignored. */
		struct ksiginfo info;
		memset(&info, 0, sizeof(info));
		info.signo = SIGSEGV;
		info.code = SI_KERNEL_;
		force_signal(t, SIGSEGV, &info);
		return 0;
	}
	/* The restored rax is the "result": the dispatcher writes it back. */
	t->in_syscall = false;
	return (long)r->rax;
}
