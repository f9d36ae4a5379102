/* Signal dispositions and masks: bookkeeping only until delivery lands
 * (issue 4); the table marks these partial. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "handlers.h"

#define SIGBIT(s) (1ULL << ((s)-1))
#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))
/* Flag bits Linux keeps; others are cleared so programs can detect what the
 * kernel does not support (x86-64 UAPI_SA_FLAGS). */
#define SA_EXPOSE_TAGBITS_ 0x00000800
#define SA_RESTORER_ 0x04000000
#define UAPI_SA_FLAGS                                                          \
	(SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART |  \
	 SA_NODEFER | SA_RESETHAND | SA_EXPOSE_TAGBITS_ | SA_RESTORER_)

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
	old = t->sigactions[sig - 1];
	if (a->a[1])
		t->sigactions[sig - 1] = act;
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
		set &= ~UNBLOCKABLE;
		switch (how) {
		case SIG_BLOCK:
			t->sigmask |= set;
			break;
		case SIG_UNBLOCK:
			t->sigmask &= ~set;
			break;
		case SIG_SETMASK:
			t->sigmask = set;
			break;
		default:
			return -EINVAL;
		}
	}
	if (a->a[2])
		return task_copy_out(t, a->a[2], &old, sizeof(old));
	return 0;
}
