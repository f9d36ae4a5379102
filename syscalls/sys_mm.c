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
