#include <errno.h>

#include "handlers.h"

SYSCALL(getpid)
{
	(void)a;
	return t->tgid;
}

SYSCALL(getppid)
{
	(void)a;
	return t->ppid;
}

SYSCALL(gettid)
{
	(void)a;
	return t->tid;
}

SYSCALL(getuid)
{
	(void)a;
	return t->cred.ruid;
}

SYSCALL(geteuid)
{
	(void)a;
	return t->cred.euid;
}

SYSCALL(getgid)
{
	(void)a;
	return t->cred.rgid;
}

SYSCALL(getegid)
{
	(void)a;
	return t->cred.egid;
}

SYSCALL(getgroups)
{
	int size = (int)a->a[0];
	uint32_t n = t->cred.ngroups;

	if (size < 0)
		return -EINVAL;
	if (size == 0)
		return n;
	if ((uint32_t)size < n)
		return -EINVAL;
	int err = task_copy_out(t, a->a[1], t->cred.groups, n * sizeof(uint32_t));
	return err < 0 ? err : (long)n;
}

static long put_three(struct task *t, const struct syscall_args *a,
		      uint32_t x, uint32_t y, uint32_t z)
{
	int err = task_copy_out(t, a->a[0], &x, sizeof(x));
	if (!err)
		err = task_copy_out(t, a->a[1], &y, sizeof(y));
	if (!err)
		err = task_copy_out(t, a->a[2], &z, sizeof(z));
	return err;
}

SYSCALL(getresuid)
{
	return put_three(t, a, t->cred.ruid, t->cred.euid, t->cred.suid);
}

SYSCALL(getresgid)
{
	return put_three(t, a, t->cred.rgid, t->cred.egid, t->cred.sgid);
}
