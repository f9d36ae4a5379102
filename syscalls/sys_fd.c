/* fd-table calls: dup family and fcntl. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>

#include "../sentry/kernel/fdtable.h"
#include "handlers.h"

static long rlimit_nofile(struct task *t)
{
	uint64_t n = task_rlimit_cur(t, RLIMIT_NOFILE);
	return n > FDTABLE_MAX ? FDTABLE_MAX : (long)n;
}

static long dup_at_least(struct task *t, int fd, long min, bool cloexec)
{
	if (min < 0 || min >= rlimit_nofile(t))
		return -EINVAL;
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	int r = fd_install(t->fdt, f, (int)min, cloexec);
	file_put(f);
	if (r >= rlimit_nofile(t)) {
		fd_close(t->fdt, r);
		return -EMFILE;
	}
	return r;
}

static long dup_to(struct task *t, int oldfd, int newfd, bool cloexec)
{
	struct file *f = fd_get(t->fdt, oldfd);
	if (!f)
		return -EBADF;
	if (newfd < 0 || newfd >= rlimit_nofile(t)) {
		file_put(f);
		return -EBADF;
	}
	long r = fd_install_at(t->fdt, f, newfd, cloexec);
	file_put(f);
	return r;
}

SYSCALL(dup)
{
	return dup_at_least(t, (int)a->a[0], 0, false);
}

SYSCALL(dup2)
{
	int oldfd = (int)a->a[0], newfd = (int)a->a[1];
	if (oldfd == newfd) {
		struct file *f = fd_get(t->fdt, oldfd);
		file_put(f);
		return f ? newfd : -EBADF;
	}
	return dup_to(t, oldfd, newfd, false);
}

SYSCALL(dup3)
{
	int oldfd = (int)a->a[0], newfd = (int)a->a[1];
	int flags = (int)a->a[2];
	if (flags & ~O_CLOEXEC)
		return -EINVAL;
	if (oldfd == newfd)
		return -EINVAL;
	return dup_to(t, oldfd, newfd, flags & O_CLOEXEC);
}

/* Status flags fcntl(F_SETFL) may change, as on Linux. */
#define SETFL_MASK (O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME)

SYSCALL(fcntl)
{
	int fd = (int)a->a[0];
	int cmd = (int)a->a[1];
	struct file *f = fd_get(t->fdt, fd);
	long r;

	if (!f)
		return -EBADF;
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = dup_at_least(t, fd, (long)a->a[2], cmd == F_DUPFD_CLOEXEC);
		break;
	case F_GETFD:
		r = fd_cloexec(t->fdt, fd, -1);
		if (r > 0)
			r = FD_CLOEXEC;
		break;
	case F_SETFD:
		r = fd_cloexec(t->fdt, fd, (a->a[2] & FD_CLOEXEC) != 0);
		if (r > 0)
			r = 0;
		break;
	case F_GETFL:
		r = f->flags;
		break;
	case F_SETFL:
		f->flags = (f->flags & ~SETFL_MASK) | ((int)a->a[2] & SETFL_MASK);
		r = 0;
		break;
	default:
		r = -EINVAL; /* locks, leases, pipe sizes: with the VFS */
	}
	file_put(f);
	return r;
}
