#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "../sentry/mm/mm.h"
#include "handlers.h"

SYSCALL(uname)
{
	return task_copy_out(t, a->a[0], &t->k->uts, sizeof(struct utsname));
}

SYSCALL(getrandom)
{
	unsigned flags = (unsigned)a->a[2];
	uint64_t len = a->a[1], done = 0;
	char buf[4096];

	if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE))
		return -EINVAL;
	if ((flags & GRND_INSECURE) && (flags & GRND_RANDOM))
		return -EINVAL;
	if (len > (INT32_MAX & ~4095L))
		len = INT32_MAX & ~4095L;
	while (done < len) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t r = getrandom(buf, n, flags & GRND_NONBLOCK);
		if (r < 0)
			return done ? (long)done : -errno;
		int err = task_copy_out(t, a->a[0] + done, buf, (size_t)r);
		if (err < 0)
			return done ? (long)done : err;
		done += (uint64_t)r;
	}
	return (long)done;
}

/* Hard limits can only be lowered: the sandbox grants no CAP_SYS_RESOURCE,
 * and the sentry could not honour more than runsc was given anyway. */
static long do_prlimit(struct task *t, int pid, unsigned res, uint64_t newp,
		       uint64_t oldp)
{
	struct rlimit nl, old;

	if (pid != 0 && pid != t->tgid)
		return -ESRCH;
	if (res >= SENTRY_RLIM_NLIMITS)
		return -EINVAL;
	if (newp) {
		int err = task_copy_in(t, &nl, newp, sizeof(nl));
		if (err < 0)
			return err;
		if (nl.rlim_cur > nl.rlim_max)
			return -EINVAL;
		if (nl.rlim_max > t->rlim[res].rlim_max)
			return -EPERM;
		if (res == RLIMIT_NOFILE && nl.rlim_max > 1024 * 1024)
			return -EPERM;
	}
	old = t->rlim[res];
	if (newp)
		t->rlim[res] = nl;
	if (oldp)
		return task_copy_out(t, oldp, &old, sizeof(old));
	return 0;
}

SYSCALL(prlimit64)
{
	return do_prlimit(t, (int)a->a[0], (unsigned)a->a[1], a->a[2], a->a[3]);
}

SYSCALL(getrlimit)
{
	return do_prlimit(t, 0, (unsigned)a->a[0], 0, a->a[1]);
}

SYSCALL(setrlimit)
{
	return do_prlimit(t, 0, (unsigned)a->a[0], a->a[1], 0);
}

SYSCALL(arch_prctl)
{
	uint64_t addr = a->a[1];

	switch (a->a[0]) {
	case ARCH_SET_FS:
	case ARCH_SET_GS:
		if (addr >= MM_TASK_SIZE)
			return -EPERM;
		if (a->a[0] == ARCH_SET_FS)
			t->regs.fs_base = addr;
		else
			t->regs.gs_base = addr;
		t->regs_dirty = true;
		return 0;
	case ARCH_GET_FS:
		return task_copy_out(t, addr, &t->regs.fs_base, sizeof(uint64_t));
	case ARCH_GET_GS:
		return task_copy_out(t, addr, &t->regs.gs_base, sizeof(uint64_t));
	case ARCH_GET_CPUID:
		return 1; /* CPUID is never made to fault */
	case ARCH_SET_CPUID:
		return -ENODEV; /* would need CPUID faulting in the stub */
	default:
		return -EINVAL;
	}
}

SYSCALL(set_tid_address)
{
	t->clear_child_tid = a->a[0];
	return t->tid;
}

SYSCALL(set_robust_list)
{
	if (a->a[1] != 24) /* sizeof(struct robust_list_head) */
		return -EINVAL;
	t->robust_list = a->a[0];
	t->robust_len = a->a[1];
	return 0;
}

SYSCALL(get_robust_list)
{
	int pid = (int)a->a[0];
	if (pid != 0 && pid != t->tid)
		return -ESRCH;
	int err = task_copy_out(t, a->a[1], &t->robust_list, sizeof(uint64_t));
	if (!err)
		err = task_copy_out(t, a->a[2], &t->robust_len, sizeof(uint64_t));
	return err;
}

/* One thread per process until clone lands: exit ends the process. */
SYSCALL(exit)
{
	t->exited = true;
	t->exit_status = (int)(a->a[0] & 0xff) << 8;
	return 0;
}

SYSCALL(exit_group)
{
	t->exited = true;
	t->exit_status = (int)(a->a[0] & 0xff) << 8;
	return 0;
}

SYSCALL(prctl)
{
	switch ((int)a->a[0]) {
	case PR_SET_NAME: {
		char name[16];
		int r = task_copy_in_string(t, name, a->a[1], sizeof(name));
		if (r < 0 && r != -ENAMETOOLONG)
			return r;
		memcpy(t->comm, name, sizeof(name));
		t->comm[15] = '\0';
		return 0;
	}
	case PR_GET_NAME:
		return task_copy_out(t, a->a[1], t->comm, sizeof(t->comm));
	default:
		return -EINVAL; /* the rest of prctl arrives with issue 4 */
	}
}
