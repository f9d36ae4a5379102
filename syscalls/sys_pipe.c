/* pipe and pipe2 (pipes themselves are sentry/fsimpl/pipe), eventfd,
 * timerfd, signalfd (sentry/fsimpl/anon). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>

#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "../sentry/fsimpl/anon/anon.h"
#include "../sentry/fsimpl/pipe/pipe.h"
#include "../sentry/kernel/fdtable.h"
#include "handlers.h"

static long do_pipe(struct task *t, uint64_t ufds, int flags)
{
	struct file *rd, *wr;

	if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
		return -EINVAL;
	int err = pipe_create(t, flags, &rd, &wr);
	if (err < 0)
		return err;
	bool cloexec = flags & O_CLOEXEC;
	int fds[2] = { fd_install_task(t, rd, cloexec), -1 };
	if (fds[0] >= 0)
		fds[1] = fd_install_task(t, wr, cloexec);
	file_put(rd);
	file_put(wr);
	err = fds[0] < 0 ? fds[0] : fds[1] < 0 ? fds[1] : 0;
	if (!err)
		err = task_copy_out(t, ufds, fds, sizeof(fds));
	if (err < 0) {
		if (fds[0] >= 0)
			fd_close(t->fdt, fds[0]);
		if (fds[1] >= 0)
			fd_close(t->fdt, fds[1]);
	}
	return err;
}

SYSCALL(pipe)
{
	return do_pipe(t, a->a[0], 0);
}

SYSCALL(pipe2)
{
	return do_pipe(t, a->a[0], (int)a->a[1]);
}

static long do_eventfd(struct task *t, uint64_t initval, int flags)
{
	struct file *f;
	/* The count is an unsigned int in the call. */
	int err = eventfd_create((uint32_t)initval, flags, &f);
	if (err < 0)
		return err;
	int fd = fd_install_task(t, f, flags & EFD_CLOEXEC);
	file_put(f);
	return fd;
}

SYSCALL(eventfd)
{
	return do_eventfd(t, a->a[0], 0);
}

SYSCALL(eventfd2)
{
	return do_eventfd(t, a->a[0], (int)a->a[1]);
}

SYSCALL(timerfd_create)
{
	struct file *f;
	int flags = (int)a->a[1];
	int err = timerfd_new((int)a->a[0], flags, &f);
	if (err < 0)
		return err;
	int fd = fd_install_task(t, f, flags & TFD_CLOEXEC);
	file_put(f);
	return fd;
}

SYSCALL(timerfd_settime)
{
	struct itimerspec nv, old;
	int err = task_copy_in(t, &nv, a->a[2], sizeof(nv));
	if (err < 0)
		return err;
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	err = timerfd_set(f, (int)a->a[1], &nv, &old);
	file_put(f);
	if (!err && a->a[3])
		err = task_copy_out(t, a->a[3], &old, sizeof(old));
	return err;
}

SYSCALL(timerfd_gettime)
{
	struct itimerspec cur;
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	int err = timerfd_get(f, &cur);
	file_put(f);
	if (!err)
		err = task_copy_out(t, a->a[1], &cur, sizeof(cur));
	return err;
}

static long do_signalfd(struct task *t, int fd, uint64_t umask, uint64_t size,
			int flags)
{
	uint64_t mask;
	if (size != sizeof(mask))
		return -EINVAL;
	if (flags & ~(SFD_NONBLOCK | SFD_CLOEXEC))
		return -EINVAL;
	int err = task_copy_in(t, &mask, umask, sizeof(mask));
	if (err < 0)
		return err;
	if (fd != -1) {
		struct file *f = fd_get(t->fdt, fd);
		if (!f)
			return -EBADF;
		err = signalfd_update(t, f, mask);
		file_put(f);
		return err < 0 ? err : fd;
	}
	struct file *f;
	err = signalfd_new(mask, flags, &f);
	if (err < 0)
		return err;
	int nfd = fd_install_task(t, f, flags & SFD_CLOEXEC);
	file_put(f);
	return nfd;
}

SYSCALL(signalfd)
{
	return do_signalfd(t, (int)a->a[0], a->a[1], a->a[2], 0);
}

SYSCALL(signalfd4)
{
	return do_signalfd(t, (int)a->a[0], a->a[1], a->a[2], (int)a->a[3]);
}
