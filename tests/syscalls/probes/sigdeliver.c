/*
 * sigdeliver: signal delivery to handlers.  rt_sigaction flags at work
 * (SA_SIGINFO, SA_RESTART versus EINTR on a blocking pipe read, SA_ONSTACK
 * with sigaltstack, SA_NODEFER, SA_RESETHAND, SA_RESTORER), masks and
 * pending sets, kill/tkill/tgkill/rt_sigqueueinfo/rt_tgsigqueueinfo and
 * the siginfo each produces, rt_sigsuspend, rt_sigtimedwait, rt_sigpending,
 * sigaltstack and its errors, the order in which several pending signals
 * run, thread-directed versus process-directed signals, and the saved mask
 * in the ucontext (read and changed by a handler).
 *
 * (signals.c is the bookkeeping-only companion; sigcontext.c covers
 * registers in the frame, faults.c synchronous faults, sigdefault.c the
 * default actions.)
 */
#include "probe_proc.h"

#include <pthread.h>
#include <sched.h>
#include <ucontext.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
#define NO_SUCH_PID 0x3fffffff
#define RTSIG	    40 /* a realtime signal glibc leaves alone */

struct rec {
	int sig, code, pid, uid, val;
	long tid;
	int self_blocked; /* the signal is in the mask while its handler runs */
	int hup_blocked;
	int ss_flags;
	void *stack;	/* an address on the handler's stack */
	int uc_has_hup; /* SIGHUP in the interrupted context's mask */
	int uc_has_self;
};

/* Written by handlers: volatile, so reads after a kill() are real reads. */
static volatile struct rec recs[16];
static volatile int nrec;
static volatile int add_hup_on_return;

static void record(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	volatile struct rec *r = &recs[nrec < 16 ? nrec : 15];
	sigset_t m;
	stack_t ss;
	int here;

	r->sig = sig;
	r->code = si ? si->si_code : 0;
	r->pid = si ? si->si_pid : 0;
	r->uid = si ? (int)si->si_uid : 0;
	r->val = si ? si->si_value.sival_int : 0;
	r->tid = syscall(SYS_gettid);
	sigprocmask(SIG_BLOCK, NULL, &m);
	r->self_blocked = sigismember(&m, sig);
	r->hup_blocked = sigismember(&m, SIGHUP);
	sigaltstack(NULL, &ss);
	r->ss_flags = ss.ss_flags;
	r->stack = &here;
	if (uc) {
		r->uc_has_hup = sigismember(&uc->uc_sigmask, SIGHUP);
		r->uc_has_self = sigismember(&uc->uc_sigmask, sig);
		if (add_hup_on_return)
			sigaddset(&uc->uc_sigmask, SIGHUP);
	}
	nrec = nrec + 1;
}

static void plain_handler(int sig)
{
	record(sig, NULL, NULL);
}

static void set_handler(int sig, int flags, const sigset_t *mask)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	if (flags & SA_SIGINFO)
		sa.sa_sigaction = record;
	else
		sa.sa_handler = plain_handler;
	sa.sa_flags = flags;
	if (mask)
		sa.sa_mask = *mask;
	sigaction(sig, &sa, NULL);
}

static void set_default(int sig)
{
	signal(sig, SIG_DFL);
}

static sigset_t setof(int a, int b, int c)
{
	sigset_t s;

	sigemptyset(&s);
	if (a)
		sigaddset(&s, a);
	if (b)
		sigaddset(&s, b);
	if (c)
		sigaddset(&s, c);
	return s;
}

static void block(int sig)
{
	sigset_t s = setof(sig, 0, 0);
	sigprocmask(SIG_BLOCK, &s, NULL);
}

static void unblock(int sig)
{
	sigset_t s = setof(sig, 0, 0);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
}

static int is_pending(int sig)
{
	sigset_t p;

	sigpending(&p);
	return sigismember(&p, sig);
}

/* ---- senders and siginfo ----------------------------------------------- */

static void sender_tests(void)
{
	pid_t me = getpid();
	long tid = syscall(SYS_gettid);
	siginfo_t si;

	set_handler(SIGUSR1, SA_SIGINFO, NULL);

	nrec = 0;
	CHECK_OK("kill(self, SIGUSR1)", kill(me, SIGUSR1));
	CHECK_TRUE("delivered before kill returned", nrec == 1);
	CHECK_TRUE("kill: SI_USER, my pid and uid",
		   recs[0].sig == SIGUSR1 && recs[0].code == SI_USER &&
		       recs[0].pid == me && recs[0].uid == (int)getuid());

	nrec = 0;
	CHECK_OK("tkill(self)", syscall(SYS_tkill, tid, SIGUSR1));
	CHECK_TRUE("tkill: SI_TKILL",
		   nrec == 1 && recs[0].code == SI_TKILL && recs[0].pid == me);
	nrec = 0;
	CHECK_OK("tgkill(self)", syscall(SYS_tgkill, me, tid, SIGUSR1));
	CHECK_TRUE("tgkill: SI_TKILL", nrec == 1 && recs[0].code == SI_TKILL);

	nrec = 0;
	CHECK_OK("sigqueue(self, 42)",
		 sigqueue(me, SIGUSR1, (union sigval){.sival_int = 42}));
	CHECK_TRUE("sigqueue: SI_QUEUE, value 42",
		   nrec == 1 && recs[0].code == SI_QUEUE && recs[0].val == 42 &&
		       recs[0].pid == me);

	/* rt_sigqueueinfo passes the caller's siginfo through as is. */
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGUSR1;
	si.si_code = -10;
	si.si_pid = 12345;
	si.si_uid = 777;
	si.si_value.sival_int = 7;
	nrec = 0;
	CHECK_OK("rt_sigqueueinfo(self, code -10)",
		 syscall(SYS_rt_sigqueueinfo, me, SIGUSR1, &si));
	CHECK_TRUE("caller's code, pid, uid and value arrive unchanged",
		   nrec == 1 && recs[0].code == -10 && recs[0].pid == 12345 &&
		       recs[0].uid == 777 && recs[0].val == 7);
	si.si_code = SI_USER;
	nrec = 0;
	CHECK_OK("rt_sigqueueinfo(self, SI_USER) allowed to oneself",
		 syscall(SYS_rt_sigqueueinfo, me, SIGUSR1, &si));
	si.si_code = SI_QUEUE;
	si.si_value.sival_int = 9;
	nrec = 0;
	CHECK_OK("rt_tgsigqueueinfo(self thread)",
		 syscall(SYS_rt_tgsigqueueinfo, me, tid, SIGUSR1, &si));
	CHECK_TRUE("rt_tgsigqueueinfo: value 9",
		   nrec == 1 && recs[0].code == SI_QUEUE && recs[0].val == 9);

	/* Errors. */
	fflush(stdout);
	pid_t child = px_fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	si.si_code = SI_USER;
	CHECK_ERR("rt_sigqueueinfo(child, SI_USER)",
		  syscall(SYS_rt_sigqueueinfo, child, SIGUSR1, &si), EPERM);
	si.si_code = SI_TKILL;
	CHECK_ERR("rt_sigqueueinfo(child, SI_TKILL)",
		  syscall(SYS_rt_sigqueueinfo, child, SIGUSR1, &si), EPERM);
	CHECK_ERR("tgkill(child's tgid, my tid)",
		  syscall(SYS_tgkill, child, tid, SIGUSR1), ESRCH);
	kill(child, SIGKILL);
	px_expect_exit("helper child", child, "killed by SIGKILL");

	CHECK_OK("kill(self, 0)", kill(me, 0));
	CHECK_ERR("kill(self, 65)", kill(me, 65), EINVAL);
	CHECK_ERR("kill(no such pid, 0)", kill(NO_SUCH_PID, 0), ESRCH);
	CHECK_ERR("tkill(0)", syscall(SYS_tkill, 0, SIGUSR1), EINVAL);
	CHECK_ERR("tgkill(tgid 0)", syscall(SYS_tgkill, 0, tid, SIGUSR1),
		  EINVAL);
	CHECK_ERR("tgkill(no such tid)",
		  syscall(SYS_tgkill, me, NO_SUCH_PID, SIGUSR1), ESRCH);
	CHECK_ERR("tgkill(self, 65)", syscall(SYS_tgkill, me, tid, 65), EINVAL);
	CHECK_ERR("rt_sigqueueinfo EFAULT",
		  syscall(SYS_rt_sigqueueinfo, me, SIGUSR1, (void *)1), EFAULT);
	set_default(SIGUSR1);
}

/* ---- masks, pending, queueing, order ------------------------------------ */

static void mask_tests(void)
{
	pid_t me = getpid();
	uint64_t raw = 0;

	set_handler(SIGUSR1, SA_SIGINFO, NULL);
	block(SIGUSR1);
	nrec = 0;
	kill(me, SIGUSR1);
	kill(me, SIGUSR1);
	kill(me, SIGUSR1);
	CHECK_TRUE("blocked: not delivered", nrec == 0);
	CHECK_TRUE("sigpending shows SIGUSR1", is_pending(SIGUSR1));
	CHECK_OK("rt_sigpending size 8", syscall(SYS_rt_sigpending, &raw, 8));
	CHECK_TRUE("raw pending bit", raw == (1ULL << (SIGUSR1 - 1)));
	CHECK_OK("rt_sigpending size 4 (shorter is fine)",
		 syscall(SYS_rt_sigpending, &raw, 4));
	CHECK_ERR("rt_sigpending size 16", syscall(SYS_rt_sigpending, &raw, 16),
		  EINVAL);
	CHECK_ERR("rt_sigpending EFAULT",
		  syscall(SYS_rt_sigpending, (void *)1, 8), EFAULT);
	unblock(SIGUSR1);
	CHECK_TRUE("unblocking delivers it, once (standard signals merge)",
		   nrec == 1);
	CHECK_TRUE("no longer pending", !is_pending(SIGUSR1));

	/* Realtime signals queue, in order, with their values. */
	set_handler(RTSIG, SA_SIGINFO, NULL);
	block(RTSIG);
	nrec = 0;
	for (int v = 1; v <= 3; v++)
		sigqueue(me, RTSIG, (union sigval){.sival_int = v});
	unblock(RTSIG);
	CHECK_TRUE("realtime: 3 deliveries, values 1, 2, 3",
		   nrec == 3 && recs[0].val == 1 && recs[1].val == 2 &&
		       recs[2].val == 3);

	/*
	 * Several different signals pending at once.  With each handler
	 * blocking the others they run one at a time, lowest number first.
	 * Without that, Linux sets up one frame per signal in a single return
	 * to user space, lowest first, so the last frame (highest number)
	 * runs first.
	 */
	sigset_t all3 = setof(SIGUSR1, SIGUSR2, RTSIG);
	set_handler(SIGUSR1, SA_SIGINFO, &all3);
	set_handler(SIGUSR2, SA_SIGINFO, &all3);
	set_handler(RTSIG, SA_SIGINFO, &all3);
	sigprocmask(SIG_BLOCK, &all3, NULL);
	nrec = 0;
	kill(me, RTSIG);
	kill(me, SIGUSR2);
	kill(me, SIGUSR1);
	sigprocmask(SIG_UNBLOCK, &all3, NULL);
	CHECK_TRUE("mutually blocking handlers run USR1, USR2, 40",
		   nrec == 3 && recs[0].sig == SIGUSR1 &&
		       recs[1].sig == SIGUSR2 && recs[2].sig == RTSIG);
	set_handler(SIGUSR1, SA_SIGINFO, NULL);
	set_handler(SIGUSR2, SA_SIGINFO, NULL);
	set_handler(RTSIG, SA_SIGINFO, NULL);
	sigprocmask(SIG_BLOCK, &all3, NULL);
	nrec = 0;
	kill(me, RTSIG);
	kill(me, SIGUSR2);
	kill(me, SIGUSR1);
	sigprocmask(SIG_UNBLOCK, &all3, NULL);
	CHECK_TRUE("stacked frames run 40, USR2, USR1",
		   nrec == 3 && recs[0].sig == RTSIG &&
		       recs[1].sig == SIGUSR2 && recs[2].sig == SIGUSR1);

	/* Masks during a handler, and the saved mask in the ucontext. */
	sigset_t hup = setof(SIGHUP, 0, 0);
	sigset_t hmask = setof(SIGUSR2, 0, 0);
	set_handler(SIGUSR1, SA_SIGINFO, &hmask);
	sigprocmask(SIG_BLOCK, &hup, NULL);
	nrec = 0;
	kill(me, SIGUSR1);
	CHECK_TRUE("in handler: own signal blocked",
		   nrec == 1 && recs[0].self_blocked);
	sigset_t cur;
	CHECK_TRUE("uc_sigmask is the interrupted mask (HUP, not USR1)",
		   recs[0].uc_has_hup && !recs[0].uc_has_self);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK_TRUE("mask restored after the handler",
		   sigismember(&cur, SIGHUP) && !sigismember(&cur, SIGUSR1) &&
		       !sigismember(&cur, SIGUSR2));
	sigprocmask(SIG_UNBLOCK, &hup, NULL);
	add_hup_on_return = 1;
	kill(me, SIGUSR1);
	add_hup_on_return = 0;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK_TRUE("handler's change to uc_sigmask takes effect",
		   sigismember(&cur, SIGHUP));
	sigprocmask(SIG_UNBLOCK, &hup, NULL);

	set_handler(SIGUSR1, SA_SIGINFO | SA_NODEFER, NULL);
	nrec = 0;
	kill(me, SIGUSR1);
	CHECK_TRUE("SA_NODEFER: own signal not blocked in handler",
		   nrec == 1 && !recs[0].self_blocked);

	set_handler(SIGUSR1, SA_SIGINFO | SA_RESETHAND, NULL);
	nrec = 0;
	kill(me, SIGUSR1);
	struct sigaction q;
	sigaction(SIGUSR1, NULL, &q);
	CHECK_TRUE("SA_RESETHAND: handler ran once", nrec == 1);
	CHECK_TRUE("SA_RESETHAND: own signal still blocked in handler",
		   recs[0].self_blocked);
	CHECK_TRUE("SA_RESETHAND: disposition back to SIG_DFL",
		   q.sa_handler == SIG_DFL);

	set_default(SIGUSR1);
	set_default(SIGUSR2);
	set_default(RTSIG);
}

/* ---- SA_RESTORER -------------------------------------------------------- */

static volatile int restorer_ran;

/* Marks that it ran, then returns from the handler like libc's does. */
__asm__(".text\n"
	".globl probe_restorer\n"
	"probe_restorer:\n"
	"	movl $1, restorer_ran(%rip)\n"
	"	movq $15, %rax\n"
	"	syscall\n"
	"	hlt\n");
void probe_restorer(void);

struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static void restorer_test(void)
{
	struct ksigaction ka = {(void *)plain_handler, SA_RESTORER | SA_RESTART,
				(void *)probe_restorer, 0};

	CHECK_OK("rt_sigaction with our own SA_RESTORER",
		 syscall(SYS_rt_sigaction, SIGUSR2, &ka, NULL, 8));
	nrec = 0;
	restorer_ran = 0;
	kill(getpid(), SIGUSR2);
	CHECK_TRUE("handler ran, then returned through our restorer",
		   nrec == 1 && restorer_ran == 1);
	set_default(SIGUSR2);
}

/* ---- sigsuspend, sigtimedwait ------------------------------------------- */

static void *send_usr1_to_main(void *arg)
{
	kill(getpid(), SIGUSR1);
	return NULL;
}

static void wait_tests(void)
{
	pid_t me = getpid();
	sigset_t none, m, usr2 = setof(SIGUSR2, 0, 0);
	siginfo_t si;

	set_handler(SIGUSR1, SA_SIGINFO, NULL);
	block(SIGUSR1);
	kill(me, SIGUSR1);
	sigemptyset(&none);
	nrec = 0;
	CHECK_ERR("sigsuspend with a pending signal", sigsuspend(&none), EINTR);
	CHECK_TRUE("its handler ran", nrec == 1);
	sigprocmask(SIG_BLOCK, NULL, &m);
	CHECK_TRUE("mask restored (SIGUSR1 blocked again)",
		   sigismember(&m, SIGUSR1));

	/* A signal from another thread; blocked until sigsuspend opens. */
	pthread_t t;
	nrec = 0;
	px_thread(&t, send_usr1_to_main, NULL);
	CHECK_ERR("sigsuspend woken from another thread", sigsuspend(&none),
		  EINTR);
	pthread_join(t, NULL);
	CHECK_TRUE("handler ran in the main thread",
		   nrec == 1 && recs[0].tid == syscall(SYS_gettid));
	CHECK_ERR("rt_sigsuspend sigsetsize 16",
		  syscall(SYS_rt_sigsuspend, &none, 16), EINVAL);
	unblock(SIGUSR1);

	block(SIGUSR2);
	kill(me, SIGUSR2);
	struct timespec zero = {0, 0};
	memset(&si, 0, sizeof(si));
	CHECK_RET("sigtimedwait takes the pending SIGUSR2",
		  sigtimedwait(&usr2, &si, &zero), SIGUSR2);
	CHECK_TRUE("its siginfo: SI_USER from me", si.si_signo == SIGUSR2 &&
						       si.si_code == SI_USER &&
						       si.si_pid == me);
	CHECK_TRUE("no longer pending", !is_pending(SIGUSR2));
	CHECK_ERR("sigtimedwait zero timeout, nothing pending",
		  sigtimedwait(&usr2, &si, &zero), EAGAIN);
	struct timespec ten_ms = {0, 10 * 1000000};
	int64_t t0 = px_now_ns(CLOCK_MONOTONIC);
	CHECK_ERR("sigtimedwait 10ms timeout",
		  sigtimedwait(&usr2, &si, &ten_ms), EAGAIN);
	CHECK_TRUE("waited at least 10ms",
		   px_now_ns(CLOCK_MONOTONIC) - t0 >= 10 * 1000000LL);
	struct timespec bad = {0, 1000000000};
	CHECK_ERR("sigtimedwait tv_nsec 1e9", sigtimedwait(&usr2, &si, &bad),
		  EINVAL);
	CHECK_ERR("rt_sigtimedwait sigsetsize 16",
		  syscall(SYS_rt_sigtimedwait, &usr2, &si, &zero, 16), EINVAL);

	/* Realtime values through sigwaitinfo, in order. */
	sigset_t rt = setof(RTSIG, 0, 0);
	block(RTSIG);
	sigqueue(me, RTSIG, (union sigval){.sival_int = 5});
	sigqueue(me, RTSIG, (union sigval){.sival_int = 6});
	int ok = sigwaitinfo(&rt, &si) == RTSIG && si.si_value.sival_int == 5;
	ok &= sigwaitinfo(&rt, &si) == RTSIG && si.si_value.sival_int == 6;
	CHECK_TRUE("sigwaitinfo: queued values 5 then 6", ok);
	unblock(RTSIG);
	unblock(SIGUSR2);
	set_default(SIGUSR1);
}

/* ---- threads ------------------------------------------------------------ */

static volatile long waiter_tid;

static void *waiter(void *arg)
{
	sigset_t none;

	sigemptyset(&none);
	waiter_tid = syscall(SYS_gettid);
	/* Returns after one handler has run in this thread. */
	sigsuspend(&none);
	return NULL;
}

static void thread_tests(void)
{
	pthread_t t;

	set_handler(SIGUSR1, SA_SIGINFO, NULL);
	/* Our mask is inherited: the waiter unblocks only in sigsuspend. */
	block(SIGUSR1);
	nrec = 0;
	waiter_tid = 0;
	px_thread(&t, waiter, NULL);
	while (!waiter_tid)
		sched_yield();
	CHECK_OK("tgkill(the waiter)",
		 syscall(SYS_tgkill, getpid(), waiter_tid, SIGUSR1));
	pthread_join(t, NULL);
	CHECK_TRUE("thread-directed: ran in that thread",
		   nrec == 1 && recs[0].tid == waiter_tid);
	CHECK_TRUE("main thread has nothing pending", !is_pending(SIGUSR1));

	/* Process-directed, with the main thread blocking it. */
	nrec = 0;
	waiter_tid = 0;
	px_thread(&t, waiter, NULL);
	while (!waiter_tid)
		sched_yield();
	CHECK_OK("kill(process) with the main thread blocking it",
		 kill(getpid(), SIGUSR1));
	pthread_join(t, NULL);
	CHECK_TRUE("process-directed: ran in the thread that allows it",
		   nrec == 1 && recs[0].tid == waiter_tid);
	unblock(SIGUSR1);
	set_default(SIGUSR1);
}

/* ---- sigaltstack -------------------------------------------------------- */

static char alt[65536] __attribute__((aligned(16)));

static int on_alt(const void *p)
{
	return (const char *)p >= alt && (const char *)p < alt + sizeof(alt);
}

static void altstack_tests(void)
{
	stack_t ss, old;

	CHECK_OK("sigaltstack query", sigaltstack(NULL, &old));
	CHECK_TRUE("initially disabled", old.ss_flags == SS_DISABLE);
	ss.ss_sp = alt;
	ss.ss_size = 1024;
	ss.ss_flags = 0;
	CHECK_ERR("sigaltstack size 1024 < MINSIGSTKSZ", sigaltstack(&ss, NULL),
		  ENOMEM);
	ss.ss_size = sizeof(alt);
	ss.ss_flags = 4;
	CHECK_ERR("sigaltstack unknown flag", sigaltstack(&ss, NULL), EINVAL);
	CHECK_ERR("sigaltstack EFAULT", sigaltstack((void *)1, NULL), EFAULT);
	ss.ss_flags = 0;
	CHECK_OK("sigaltstack set 64 KiB", sigaltstack(&ss, NULL));
	CHECK_OK("query", sigaltstack(NULL, &old));
	CHECK_TRUE("reads back, not on it", old.ss_sp == alt &&
						old.ss_size == sizeof(alt) &&
						old.ss_flags == 0);

	set_handler(SIGUSR1, SA_SIGINFO | SA_ONSTACK, NULL);
	nrec = 0;
	kill(getpid(), SIGUSR1);
	CHECK_TRUE("SA_ONSTACK handler runs on the alternate stack",
		   nrec == 1 && on_alt(recs[0].stack));
	CHECK_TRUE("inside it sigaltstack reports SS_ONSTACK",
		   recs[0].ss_flags == SS_ONSTACK);
	set_handler(SIGUSR1, SA_SIGINFO, NULL);
	nrec = 0;
	kill(getpid(), SIGUSR1);
	CHECK_TRUE("without SA_ONSTACK: the normal stack",
		   nrec == 1 && !on_alt(recs[0].stack) &&
		       recs[0].ss_flags == 0);

	/* SS_AUTODISARM: the stack is disarmed while its handler runs. */
	ss.ss_flags = SS_AUTODISARM;
	CHECK_OK("sigaltstack SS_AUTODISARM", sigaltstack(&ss, NULL));
	set_handler(SIGUSR1, SA_SIGINFO | SA_ONSTACK, NULL);
	nrec = 0;
	kill(getpid(), SIGUSR1);
	CHECK_TRUE("autodisarm: on it, but reported disabled inside",
		   nrec == 1 && on_alt(recs[0].stack) &&
		       recs[0].ss_flags == SS_DISABLE);
	sigaltstack(NULL, &old);
	CHECK_TRUE("re-armed after the handler",
		   old.ss_sp == alt && old.ss_flags == (int)SS_AUTODISARM);

	/* SS_ONSTACK as an input flag is accepted as "enable". */
	ss.ss_flags = SS_ONSTACK;
	CHECK_OK("sigaltstack with SS_ONSTACK", sigaltstack(&ss, NULL));
	ss.ss_flags = SS_DISABLE;
	ss.ss_size = 0;
	CHECK_OK("sigaltstack SS_DISABLE (size ignored)",
		 sigaltstack(&ss, NULL));
	sigaltstack(NULL, &old);
	CHECK_TRUE("disabled", old.ss_flags == SS_DISABLE);
	set_default(SIGUSR1);
}

/* Changing the stack from a handler running on it: EPERM. */
static volatile long change_result, change_errno;

static void change_alt_handler(int sig)
{
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt), .ss_flags = 0};

	errno = 0;
	change_result = sigaltstack(&ss, NULL);
	change_errno = errno;
}

static void altstack_eperm_test(void)
{
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt), .ss_flags = 0};
	struct sigaction sa;

	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = change_alt_handler;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	change_result = 0;
	kill(getpid(), SIGUSR2);
	CHECK_ERR("sigaltstack change while on it",
		  (errno = (int)change_errno, change_result), EPERM);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	set_default(SIGUSR2);
}

/* ---- SA_RESTART versus EINTR on a blocking pipe read ------------------- */

struct hammer {
	volatile int stop;
	volatile int in_read;
};

/*
 * A helper process sends SIGUSR1 to the reader again and again: a signal
 * that lands before the read blocks is simply handled, a later one finds
 * the reader asleep.  Only the read's final result is printed.
 */
static pid_t start_hammer(struct hammer *h, int write_fd, int then_write)
{
	pid_t reader = getpid();

	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		if (then_write) {
			while (!h->in_read)
				sched_yield();
			for (int i = 0; i < 200; i++) {
				kill(reader, SIGUSR1);
				sched_yield();
			}
			if (write(write_fd, "d", 1) != 1)
				_exit(1);
		}
		while (!h->stop) {
			kill(reader, SIGUSR1);
			sched_yield();
		}
		_exit(0);
	}
	return pid;
}

static void restart_tests(void)
{
	struct hammer *h = px_shared(4096);
	int p[2];
	char c = 0;

	if (pipe(p) != 0) {
		check_ok("pipe", -1, errno);
		return;
	}
	set_handler(SIGUSR1, SA_SIGINFO, NULL);
	nrec = 0;
	pid_t pid = start_hammer(h, p[1], 0);
	CHECK_ERR("read interrupted, no SA_RESTART", read(p[0], &c, 1), EINTR);
	h->stop = 1;
	px_expect_exit("signal helper", pid, "exited 0");
	CHECK_TRUE("handler ran", nrec >= 1);

	set_handler(SIGUSR1, SA_SIGINFO | SA_RESTART, NULL);
	h->stop = 0;
	h->in_read = 0;
	nrec = 0;
	pid = start_hammer(h, p[1], 1);
	h->in_read = 1;
	CHECK_RET("read with SA_RESTART gets the data", read(p[0], &c, 1), 1);
	CHECK_TRUE("the byte", c == 'd');
	h->stop = 1;
	px_expect_exit("signal helper", pid, "exited 0");
	CHECK_TRUE("handler ran", nrec >= 1);
	set_default(SIGUSR1);
	close(p[0]);
	close(p[1]);
	munmap(h, 4096);
}

int main(void)
{
	px_reset();
	sender_tests();
	mask_tests();
	restorer_test();
	wait_tests();
	thread_tests();
	altstack_tests();
	altstack_eperm_test();
	restart_tests();
	return probe_done();
}
