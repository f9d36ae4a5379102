/* read/write families on the fd table. Workload buffers pass through a
 * sentry bounce buffer; a transfer is at most RW_CHUNK bytes per host call,
 * and a short transfer ends the call, as a short count on Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include "../lib/cleanup.h"
#include "../sentry/kernel/fdtable.h"
#include "handlers.h"

#define RW_CHUNK (256 * 1024)
#define MAX_RW_COUNT (INT_MAX & ~4095L) /* Linux clamps every transfer */

static bool can_read(struct file *f)
{
	return (f->flags & O_ACCMODE) != O_WRONLY;
}

static bool can_write(struct file *f)
{
	return (f->flags & O_ACCMODE) != O_RDONLY;
}

static long do_read(struct task *t, struct file *f, uint64_t buf, size_t n)
{
	if (!can_read(f) || !f->ops->read)
		return -EBADF;
	if (n == 0)
		return 0;
	size_t chunk = n < RW_CHUNK ? n : RW_CHUNK;
	cleanup_free char *b = malloc(chunk);
	if (!b)
		return -ENOMEM;
	long r = f->ops->read(f, b, chunk);
	if (r > 0) {
		int err = task_copy_out(t, buf, b, (size_t)r);
		if (err < 0)
			return err;
	}
	return r;
}

static long do_write(struct task *t, struct file *f, uint64_t buf, size_t n)
{
	if (!can_write(f) || !f->ops->write)
		return -EBADF;
	if (n > MAX_RW_COUNT)
		n = MAX_RW_COUNT;
	size_t chunk = n < RW_CHUNK ? n : RW_CHUNK;
	cleanup_free char *b = malloc(chunk ? chunk : 1);
	size_t done = 0;
	if (!b)
		return -ENOMEM;
	while (done < n || n == 0) {
		size_t c = n - done < chunk ? n - done : chunk;
		int err = task_copy_in(t, b, buf + done, c);
		if (err < 0)
			return done ? (long)done : err;
		long r = f->ops->write(f, b, c);
		if (r < 0)
			return done ? (long)done : r;
		done += (size_t)r;
		if ((size_t)r < c || n == 0)
			break;
	}
	return (long)done;
}

SYSCALL(read)
{
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	long r = do_read(t, f, a->a[1], a->a[2] > MAX_RW_COUNT ? MAX_RW_COUNT : a->a[2]);
	file_put(f);
	return r;
}

SYSCALL(write)
{
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	long r = do_write(t, f, a->a[1], a->a[2]);
	file_put(f);
	return r;
}

/* Copies in and checks an iovec array as Linux's import_iovec does. */
static long import_iov(struct task *t, uint64_t addr, uint64_t cnt,
		       struct iovec **out, size_t *total)
{
	if (cnt > IOV_MAX)
		return -EINVAL;
	*total = 0;
	*out = NULL;
	if (cnt == 0)
		return 0;
	struct iovec *iov = calloc(cnt, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	int err = task_copy_in(t, iov, addr, cnt * sizeof(*iov));
	if (err < 0) {
		free(iov);
		return err;
	}
	for (uint64_t i = 0; i < cnt; i++) {
		if ((ssize_t)iov[i].iov_len < 0) {
			free(iov);
			return -EINVAL;
		}
		size_t room = MAX_RW_COUNT - *total;
		if (iov[i].iov_len > room)
			iov[i].iov_len = room;
		*total += iov[i].iov_len;
	}
	*out = iov;
	return 0;
}

SYSCALL(readv)
{
	struct iovec *iov = NULL;
	char *b = NULL;
	size_t total;
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	long r = import_iov(t, a->a[1], a->a[2], &iov, &total);
	if (r < 0)
		goto out;
	r = -EBADF;
	if (!can_read(f) || !f->ops->read)
		goto out;
	r = 0;
	if (total == 0)
		goto out;
	size_t chunk = total < RW_CHUNK ? total : RW_CHUNK;
	b = malloc(chunk);
	r = -ENOMEM;
	if (!b)
		goto out;
	r = f->ops->read(f, b, chunk);
	/* Scatter what was read over the iovecs in order. */
	for (size_t i = 0, off = 0; r > 0 && off < (size_t)r; i++) {
		size_t c = iov[i].iov_len;
		if (c > (size_t)r - off)
			c = (size_t)r - off;
		int err = task_copy_out(t, (uint64_t)iov[i].iov_base, b + off, c);
		if (err < 0) {
			r = off ? (long)off : err;
			break;
		}
		off += c;
	}
out:
	free(b);
	free(iov);
	file_put(f);
	return r;
}

SYSCALL(writev)
{
	struct iovec *iov = NULL;
	char *b = NULL;
	size_t total;
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	long r = import_iov(t, a->a[1], a->a[2], &iov, &total);
	if (r < 0)
		goto out;
	r = -EBADF;
	if (!can_write(f) || !f->ops->write)
		goto out;
	/* Gathered into one host write, so a pipe sees it whole. */
	b = malloc(total ? total : 1);
	r = -ENOMEM;
	if (!b)
		goto out;
	size_t off = 0;
	for (uint64_t i = 0; i < a->a[2]; i++) {
		int err = task_copy_in(t, b + off, (uint64_t)iov[i].iov_base,
				       iov[i].iov_len);
		if (err < 0) {
			r = err;
			goto out;
		}
		off += iov[i].iov_len;
	}
	r = f->ops->write(f, b, total);
out:
	free(b);
	free(iov);
	file_put(f);
	return r;
}

SYSCALL(close)
{
	return fd_close(t->fdt, (int)a->a[0]);
}

static long do_fstat(struct task *t, int fd, uint64_t statbuf)
{
	struct stat st;
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	long r = f->ops->fstat ? f->ops->fstat(f, &st) : -EBADF;
	file_put(f);
	if (r < 0)
		return r;
	return task_copy_out(t, statbuf, &st, sizeof(st));
}

SYSCALL(fstat)
{
	return do_fstat(t, (int)a->a[0], a->a[1]);
}

SYSCALL(newfstatat)
{
	char c;
	int flags = (int)a->a[3];

	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT))
		return -EINVAL;
	int err = task_copy_in(t, &c, a->a[1], 1);
	if (err < 0)
		return err;
	if (c == '\0') {
		if (!(flags & AT_EMPTY_PATH))
			return -ENOENT;
		return do_fstat(t, (int)a->a[0], a->a[2]);
	}
	return -ENOSYS; /* path lookup needs the VFS (issue 5) */
}

SYSCALL(ioctl)
{
	unsigned cmd = (unsigned)a->a[1];
	int fd = (int)a->a[0];
	struct file *f = fd_get(t->fdt, fd);
	long r;

	if (!f)
		return -EBADF;
	switch (cmd) {
	case FIOCLEX:
	case FIONCLEX:
		t->fdt->cloexec[fd] = cmd == FIOCLEX;
		r = 0;
		break;
	default:
		r = f->ops->ioctl ? f->ops->ioctl(t, f, cmd, a->a[2]) : -ENOTTY;
	}
	file_put(f);
	return r;
}
