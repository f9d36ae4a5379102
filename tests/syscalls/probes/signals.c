/*
 * signals: rt_sigaction / rt_sigprocmask bookkeeping.  No signal is ever
 * raised or delivered.
 *
 * The raw syscalls are used with the kernel's struct sigaction layout, so
 * that libc cannot add SA_RESTORER, reject its reserved signals, or hide a
 * bad sigsetsize.
 */
#include "probe.h"

#include <signal.h>
#include <stdint.h>

struct ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

#define KSIGSET 8 /* the only sigsetsize x86-64 Linux accepts */

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
#define SA_UNSUPPORTED_BIT 0x00000400 /* never a valid flag */

#define BIT(sig) (1ULL << ((sig) - 1))

static long ksa(int sig, const struct ksigaction *act, struct ksigaction *old,
		size_t size)
{
	return syscall(SYS_rt_sigaction, sig, act, old, size);
}

static long kmask(int how, const uint64_t *set, uint64_t *old, size_t size)
{
	return syscall(SYS_rt_sigprocmask, how, set, old, size);
}

static void handler(int sig)
{
	(void)sig;
}

static void handler2(int sig)
{
	(void)sig;
}

static void restorer(void)
{
}

static void sigaction_tests(void)
{
	struct ksigaction act, old;

	/* Roundtrip: set a handler with flags and a mask, read it back. */
	memset(&act, 0, sizeof(act));
	act.handler = handler;
	act.flags = SA_RESTART | SA_RESTORER | SA_SIGINFO;
	act.restorer = restorer;
	act.mask = BIT(SIGUSR2) | BIT(SIGTERM);
	CHECK_OK("rt_sigaction set SIGUSR1", ksa(SIGUSR1, &act, NULL, KSIGSET));

	memset(&old, 0, sizeof(old));
	CHECK_OK("rt_sigaction get SIGUSR1", ksa(SIGUSR1, NULL, &old, KSIGSET));
	CHECK_TRUE("handler roundtrip", old.handler == handler);
	CHECK_TRUE("flags roundtrip (SA_RESTART|SA_RESTORER|SA_SIGINFO)",
		   old.flags == (SA_RESTART | SA_RESTORER | SA_SIGINFO));
	CHECK_TRUE("SA_RESTART kept", (old.flags & SA_RESTART) != 0);
	CHECK_TRUE("restorer roundtrip", old.restorer == restorer);
	CHECK_TRUE("mask roundtrip", old.mask == (BIT(SIGUSR2) | BIT(SIGTERM)));

	/* Replace and get the old one in the same call. */
	struct ksigaction act2 = act;
	act2.handler = handler2;
	act2.flags = SA_RESTORER | SA_NODEFER | SA_ONSTACK;
	act2.mask = BIT(SIGKILL) | BIT(SIGSTOP) | BIT(SIGINT);
	memset(&old, 0, sizeof(old));
	CHECK_OK("rt_sigaction replace with old",
		 ksa(SIGUSR1, &act2, &old, KSIGSET));
	CHECK_TRUE("old is previous handler", old.handler == handler &&
						       old.flags == act.flags);
	memset(&old, 0, sizeof(old));
	ksa(SIGUSR1, NULL, &old, KSIGSET);
	CHECK_TRUE("new handler installed", old.handler == handler2);
	CHECK_TRUE("flags SA_NODEFER|SA_ONSTACK kept",
		   old.flags == (SA_RESTORER | SA_NODEFER | SA_ONSTACK));
	CHECK_TRUE("SIGKILL/SIGSTOP dropped from sa_mask",
		   old.mask == BIT(SIGINT));

	/* Unknown flag bits are cleared (Linux >= 5.11). */
	act2.flags = SA_RESTORER | SA_UNSUPPORTED_BIT;
	ksa(SIGUSR1, &act2, NULL, KSIGSET);
	ksa(SIGUSR1, NULL, &old, KSIGSET);
	CHECK_TRUE("unknown sa_flags bit cleared",
		   old.flags == SA_RESTORER);

	/* SIG_IGN / SIG_DFL. */
	act2.handler = SIG_IGN;
	act2.flags = SA_RESTORER;
	act2.mask = 0;
	CHECK_OK("rt_sigaction SIGUSR2 SIG_IGN", ksa(SIGUSR2, &act2, NULL, KSIGSET));
	ksa(SIGUSR2, NULL, &old, KSIGSET);
	CHECK_TRUE("SIG_IGN roundtrip", old.handler == SIG_IGN);
	act2.handler = SIG_DFL;
	CHECK_OK("rt_sigaction SIGUSR2 SIG_DFL", ksa(SIGUSR2, &act2, &old, KSIGSET));
	CHECK_TRUE("old was SIG_IGN", old.handler == SIG_IGN);
	ksa(SIGUSR2, NULL, &old, KSIGSET);
	CHECK_TRUE("SIG_DFL roundtrip", old.handler == SIG_DFL);

	/* Realtime signals, including the ones glibc reserves for itself. */
	act.handler = handler;
	act.flags = SA_RESTORER;
	act.mask = 0;
	CHECK_OK("rt_sigaction raw signal 32", ksa(32, &act, NULL, KSIGSET));
	CHECK_OK("rt_sigaction raw signal 64", ksa(64, &act, NULL, KSIGSET));
	ksa(64, NULL, &old, KSIGSET);
	CHECK_TRUE("signal 64 roundtrip", old.handler == handler);
	act.handler = SIG_DFL;
	ksa(32, &act, NULL, KSIGSET);
	ksa(64, &act, NULL, KSIGSET);
	ksa(SIGUSR1, &act, NULL, KSIGSET);

	/* libc wrapper agrees with the raw view. */
	struct sigaction sa, osa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGHUP);
	CHECK_OK("sigaction libc SIGUSR1", sigaction(SIGUSR1, &sa, NULL));
	CHECK_OK("sigaction libc get", sigaction(SIGUSR1, NULL, &osa));
	CHECK_TRUE("libc roundtrip handler+SA_RESTART+mask",
		   osa.sa_handler == handler && (osa.sa_flags & SA_RESTART) &&
			   sigismember(&osa.sa_mask, SIGHUP) &&
			   !sigismember(&osa.sa_mask, SIGINT));
	ksa(SIGUSR1, NULL, &old, KSIGSET);
	CHECK_TRUE("libc sets SA_RESTORER", (old.flags & SA_RESTORER) != 0);
	ksa(SIGUSR1, &act, NULL, KSIGSET);

	/* Errors. */
	act.handler = handler;
	CHECK_ERR("rt_sigaction SIGKILL handler", ksa(SIGKILL, &act, NULL, KSIGSET),
		  EINVAL);
	CHECK_ERR("rt_sigaction SIGSTOP handler", ksa(SIGSTOP, &act, NULL, KSIGSET),
		  EINVAL);
	act.handler = SIG_IGN;
	CHECK_ERR("rt_sigaction SIGKILL SIG_IGN", ksa(SIGKILL, &act, NULL, KSIGSET),
		  EINVAL);
	act.handler = SIG_DFL;
	CHECK_ERR("rt_sigaction SIGSTOP SIG_DFL", ksa(SIGSTOP, &act, NULL, KSIGSET),
		  EINVAL);
	CHECK_OK("rt_sigaction SIGKILL query only",
		 ksa(SIGKILL, NULL, &old, KSIGSET));
	CHECK_TRUE("SIGKILL is SIG_DFL", old.handler == SIG_DFL);
	CHECK_ERR("rt_sigaction signal 0", ksa(0, &act, NULL, KSIGSET), EINVAL);
	CHECK_ERR("rt_sigaction signal 0 query", ksa(0, NULL, &old, KSIGSET),
		  EINVAL);
	CHECK_ERR("rt_sigaction signal 65", ksa(65, &act, NULL, KSIGSET), EINVAL);
	CHECK_ERR("rt_sigaction signal -1", ksa(-1, &act, NULL, KSIGSET), EINVAL);
	CHECK_ERR("rt_sigaction sigsetsize 4", ksa(SIGUSR1, &act, NULL, 4), EINVAL);
	CHECK_ERR("rt_sigaction sigsetsize 16", ksa(SIGUSR1, NULL, &old, 16),
		  EINVAL);
	CHECK_ERR("rt_sigaction act EFAULT",
		  ksa(SIGUSR1, (void *)1, NULL, KSIGSET), EFAULT);
	CHECK_ERR("rt_sigaction oldact EFAULT",
		  ksa(SIGUSR1, NULL, (void *)1, KSIGSET), EFAULT);
	CHECK_OK("rt_sigaction NULL NULL", ksa(SIGUSR1, NULL, NULL, KSIGSET));
	CHECK_ERR("libc sigaction SIGKILL", sigaction(SIGKILL, &sa, NULL), EINVAL);
}

static void sigprocmask_tests(void)
{
	uint64_t set, old;

	/* Start from a known state (the inherited mask is not printed). */
	set = 0;
	CHECK_OK("rt_sigprocmask SETMASK empty",
		 kmask(SIG_SETMASK, &set, NULL, KSIGSET));
	CHECK_OK("rt_sigprocmask query", kmask(SIG_BLOCK, NULL, &old, KSIGSET));
	CHECK_TRUE("mask empty", old == 0);

	set = BIT(SIGUSR1) | BIT(SIGINT);
	CHECK_OK("rt_sigprocmask BLOCK USR1|INT",
		 kmask(SIG_BLOCK, &set, &old, KSIGSET));
	CHECK_TRUE("old mask was empty", old == 0);
	kmask(SIG_SETMASK, NULL, &old, KSIGSET);
	CHECK_TRUE("mask == USR1|INT", old == (BIT(SIGUSR1) | BIT(SIGINT)));

	set = BIT(SIGTERM) | BIT(33) | BIT(64);
	CHECK_OK("rt_sigprocmask BLOCK TERM|33|64",
		 kmask(SIG_BLOCK, &set, NULL, KSIGSET));
	kmask(SIG_BLOCK, NULL, &old, KSIGSET);
	CHECK_TRUE("mask accumulates",
		   old == (BIT(SIGUSR1) | BIT(SIGINT) | BIT(SIGTERM) | BIT(33) |
			   BIT(64)));

	set = BIT(SIGINT) | BIT(64);
	CHECK_OK("rt_sigprocmask UNBLOCK INT|64",
		 kmask(SIG_UNBLOCK, &set, &old, KSIGSET));
	CHECK_TRUE("unblock old mask returned", (old & BIT(64)) != 0);
	kmask(SIG_BLOCK, NULL, &old, KSIGSET);
	CHECK_TRUE("mask == USR1|TERM|33",
		   old == (BIT(SIGUSR1) | BIT(SIGTERM) | BIT(33)));

	set = BIT(SIGKILL) | BIT(SIGSTOP) | BIT(SIGHUP);
	CHECK_OK("rt_sigprocmask BLOCK KILL|STOP|HUP",
		 kmask(SIG_BLOCK, &set, NULL, KSIGSET));
	kmask(SIG_BLOCK, NULL, &old, KSIGSET);
	CHECK_TRUE("SIGKILL/SIGSTOP silently not blocked",
		   (old & (BIT(SIGKILL) | BIT(SIGSTOP))) == 0);
	CHECK_TRUE("SIGHUP blocked", (old & BIT(SIGHUP)) != 0);

	set = ~0ULL;
	CHECK_OK("rt_sigprocmask SETMASK all",
		 kmask(SIG_SETMASK, &set, NULL, KSIGSET));
	kmask(SIG_BLOCK, NULL, &old, KSIGSET);
	CHECK_TRUE("SETMASK all == all but KILL/STOP",
		   old == ~(BIT(SIGKILL) | BIT(SIGSTOP)));

	/* Errors (the mask must be left alone). */
	set = BIT(SIGUSR2);
	CHECK_ERR("rt_sigprocmask invalid how 3", kmask(3, &set, NULL, KSIGSET),
		  EINVAL);
	CHECK_ERR("rt_sigprocmask invalid how -1", kmask(-1, &set, NULL, KSIGSET),
		  EINVAL);
	CHECK_ERR("rt_sigprocmask sigsetsize 4",
		  kmask(SIG_BLOCK, &set, NULL, 4), EINVAL);
	CHECK_ERR("rt_sigprocmask set EFAULT",
		  kmask(SIG_BLOCK, (void *)1, NULL, KSIGSET), EFAULT);
	CHECK_ERR("rt_sigprocmask old EFAULT",
		  kmask(SIG_BLOCK, NULL, (void *)1, KSIGSET), EFAULT);
	kmask(SIG_BLOCK, NULL, &old, KSIGSET);
	CHECK_TRUE("mask unchanged by failed calls",
		   old == ~(BIT(SIGKILL) | BIT(SIGSTOP)));

	/* libc view. */
	sigset_t ls;
	sigemptyset(&ls);
	CHECK_OK("sigprocmask libc SETMASK empty",
		 sigprocmask(SIG_SETMASK, &ls, NULL));
	sigaddset(&ls, SIGALRM);
	CHECK_OK("sigprocmask libc BLOCK ALRM", sigprocmask(SIG_BLOCK, &ls, NULL));
	kmask(SIG_BLOCK, NULL, &old, KSIGSET);
	CHECK_TRUE("raw sees ALRM only", old == BIT(SIGALRM));
	sigemptyset(&ls);
	sigprocmask(SIG_SETMASK, &ls, NULL);
}

int main(void)
{
	sigaction_tests();
	sigprocmask_tests();
	return probe_done();
}
