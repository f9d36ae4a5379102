#include <errno.h>
#include <stdbool.h>
#include <sys/resource.h>

#include "../sentry/mm/mm.h"
#include "handlers.h"

SYSCALL(brk)
{
	return mm_brk(t, a->a[0]);
}

SYSCALL(mmap)
{
	return mm_mmap(t, a->a[0], a->a[1], (int)a->a[2], (int)a->a[3],
		       (int)a->a[4], a->a[5]);
}

SYSCALL(munmap)
{
	return mm_munmap(t, a->a[0], a->a[1]);
}

SYSCALL(msync)
{
	return mm_msync(t, a->a[0], a->a[1], (int)a->a[2]);
}

SYSCALL(mprotect)
{
	return mm_mprotect(t, a->a[0], a->a[1], (int)a->a[2]);
}

SYSCALL(mremap)
{
	return mm_mremap(t, a->a[0], a->a[1], a->a[2], (int)a->a[3], a->a[4]);
}

SYSCALL(madvise)
{
	return mm_madvise(t, a->a[0], a->a[1], (int)a->a[2]);
}

SYSCALL(mincore)
{
	return mm_mincore(t, a->a[0], a->a[1], a->a[2]);
}

/* Locking memory: the range is checked as Linux does, but the sandbox
 * does not pin host memory (see the table). As Linux's can_do_mlock: a
 * zero RLIMIT_MEMLOCK without CAP_IPC_LOCK refuses. */
static bool can_mlock(struct task *t)
{
	return task_rlimit_cur(t, RLIMIT_MEMLOCK) != 0 ||
	       (t->cred.cap_effective & (1ULL << 14)); /* CAP_IPC_LOCK */
}

SYSCALL(mlock)
{
	if (!can_mlock(t))
		return -EPERM;
	return mm_mlock(t, a->a[0], a->a[1]);
}

SYSCALL(mlock2)
{
	if (a->a[2] & ~1ULL) /* MLOCK_ONFAULT */
		return -EINVAL;
	if (!can_mlock(t))
		return -EPERM;
	return mm_mlock(t, a->a[0], a->a[1]);
}

SYSCALL(munlock)
{
	return mm_mlock(t, a->a[0], a->a[1]);
}

SYSCALL(mlockall)
{
	uint64_t f = a->a[0];
	/* MCL_CURRENT 1, MCL_FUTURE 2, MCL_ONFAULT 4 (only with another) */
	if (!f || (f & ~7ULL) || f == 4)
		return -EINVAL;
	return can_mlock(t) ? 0 : -EPERM;
}

SYSCALL(munlockall)
{
	return 0;
}
