/* fd-table calls: dup family, fcntl (with record locks), flock, ioctl. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include "fsutil.h"
#include "../sentry/fsimpl/pipe/pipe.h"
#include "../sentry/fsimpl/tmpfs/tmpfs.h"

static uint64_t nofile(struct task *t)
{
	return task_rlimit_cur(t, RLIMIT_NOFILE);
}

static long dup_at_least(struct task *t, struct file *f, long min, bool cloexec)
{
	if (min < 0 || (uint64_t)min >= nofile(t))
		return -EINVAL;
	return fd_alloc(t->fdt, f, (int)min, cloexec, nofile(t));
}

static long dup_to(struct task *t, int oldfd, int newfd, bool cloexec)
{
	struct file *f = fd_get(t->fdt, oldfd);
	if (!f)
		return -EBADF;
	long r = fd_replace(t->fdt, newfd, f, cloexec, nofile(t));
	file_put(f);
	return r;
}

SYSCALL(dup)
{
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	long r = fd_install_task(t, f, false);
	file_put(f);
	return r;
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

static long setfl(struct task *t, struct file *f, int fl)
{
	if ((fl & O_NOATIME) && f->inode) {
		struct vfs_attr at;
		int err = vfs_getattr(f->inode, &at);
		if (err < 0)
			return err;
		if (t->cred.fsuid != at.uid &&
		    !vfs_capable(&t->cred, VFS_CAP_FOWNER))
			return -EPERM;
	}
	int old = atomic_load(&f->flags);
	while (!atomic_compare_exchange_weak(
	    &f->flags, &old, (old & ~SETFL_MASK) | (fl & SETFL_MASK)))
		;
	return 0;
}

/* struct flock's range in absolute offsets (Linux's flock_to_posix_lock). */
static long flock_range(struct file *f, const struct flock *fl,
			struct vfs_flock *l)
{
	int64_t base;
	switch (fl->l_whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (int64_t)f->pos;
		break;
	case SEEK_END: {
		struct vfs_attr at;
		int err = vfs_getattr(f->inode, &at);
		if (err < 0)
			return err;
		base = (int64_t)at.size;
		break;
	}
	default:
		return -EINVAL;
	}
	int64_t start;
	if (__builtin_add_overflow(base, (int64_t)fl->l_start, &start))
		return -EOVERFLOW;
	if (start < 0)
		return -EINVAL;
	int64_t len = fl->l_len;
	uint64_t end;
	if (len > 0) {
		int64_t e;
		if (__builtin_add_overflow(start, len - 1, &e))
			return -EOVERFLOW;
		end = (uint64_t)e;
	} else if (len == 0) {
		end = UINT64_MAX;
	} else {
		end = (uint64_t)(start - 1);
		start += len;
		if (start < 0)
			return -EINVAL;
	}
	l->start = (uint64_t)start;
	l->end = end;
	l->type = fl->l_type;
	return 0;
}

static long do_lock(struct task *t, struct file *f, int cmd, uint64_t arg)
{
	struct flock fl;
	struct vfs_flock l = {0};
	bool ofd =
	    cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
	int err = task_copy_in(t, &fl, arg, sizeof(fl));
	if (err < 0)
		return err;
	if ((f->mode & FMODE_PATH) || !f->inode)
		return f->inode ? -EBADF : -EINVAL;
	if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK &&
	    fl.l_type != F_UNLCK)
		return -EINVAL;
	if (ofd && fl.l_pid != 0)
		return -EINVAL;
	err = (int)flock_range(f, &fl, &l);
	if (err < 0)
		return err;
	void *owner = ofd ? (void *)f : (void *)t->fdt;
	if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
		if (fl.l_type == F_UNLCK)
			return -EINVAL;
		err = vfs_lock_get(f, owner, ofd, &l);
		if (err < 0)
			return err;
		fl.l_type = l.type;
		if (l.type != F_UNLCK) {
			fl.l_whence = SEEK_SET;
			fl.l_start = (off_t)l.start;
			fl.l_len = l.end == UINT64_MAX
				       ? 0
				       : (off_t)(l.end - l.start + 1);
			fl.l_pid = l.pid;
		}
		return task_copy_out(t, arg, &fl, sizeof(fl));
	}
	return vfs_lock_set(t, f, owner, ofd, &l,
			    cmd == F_SETLKW || cmd == F_OFD_SETLKW);
}

SYSCALL(fcntl)
{
	int fd = (int)a->a[0];
	int cmd = (int)a->a[1];
	bool cloexec;
	struct file *f = fd_get_cloexec(t->fdt, fd, &cloexec);
	long r;

	if (!f)
		return -EBADF;
	/* An O_PATH file allows only these. */
	if ((f->mode & FMODE_PATH) && cmd != F_DUPFD &&
	    cmd != F_DUPFD_CLOEXEC && cmd != F_GETFD && cmd != F_SETFD &&
	    cmd != F_GETFL) {
		file_put(f);
		return -EBADF;
	}
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = dup_at_least(t, f, (long)(int)a->a[2],
				 cmd == F_DUPFD_CLOEXEC);
		break;
	case F_GETFD:
		r = cloexec ? FD_CLOEXEC : 0;
		break;
	case F_SETFD:
		r = fd_set_cloexec(t->fdt, fd, (a->a[2] & FD_CLOEXEC) != 0);
		break;
	case F_GETFL:
		r = atomic_load(&f->flags);
		break;
	case F_SETFL:
		r = setfl(t, f, (int)a->a[2]);
		break;
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		r = do_lock(t, f, cmd, a->a[2]);
		break;
	case F_GETOWN:
		r = 0; /* no SIGIO owner: signal-driven I/O is not offered */
		break;
	case F_GETLEASE:
		r = F_UNLCK;
		break;
	case F_ADD_SEALS:
	case F_GET_SEALS:
		r = tmpfs_fcntl_seals(f, cmd == F_ADD_SEALS, (uint32_t)a->a[2]);
		break;
	case F_GETPIPE_SZ:
	case F_SETPIPE_SZ:
		r = pipe_fcntl_size(t, f, cmd == F_SETPIPE_SZ, (uint32_t)a->a[2]);
		break;
	default:
		r = -EINVAL; /* leases, SIGIO */
	}
	file_put(f);
	return r;
}

SYSCALL(flock)
{
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	int op = (int)a->a[1];
	long r;
	if (f->mode & FMODE_PATH)
		r = -EBADF;
	else if ((op & ~LOCK_NB) != LOCK_SH && (op & ~LOCK_NB) != LOCK_EX &&
		 (op & ~LOCK_NB) != LOCK_UN)
		r = -EINVAL;
	else if (!f->inode)
		r = 0; /* pipes and host streams: nobody else can lock them */
	else
		r = vfs_flock(t, f, op);
	file_put(f);
	return r;
}

SYSCALL(ioctl)
{
	unsigned cmd = (unsigned)a->a[1];
	int fd = (int)a->a[0];
	struct file *f = fd_get(t->fdt, fd);
	long r;

	if (!f)
		return -EBADF;
	if (f->mode & FMODE_PATH) {
		file_put(f);
		return -EBADF;
	}
	switch (cmd) {
	case FIOCLEX:
	case FIONCLEX:
		r = fd_set_cloexec(t->fdt, fd, cmd == FIOCLEX);
		break;
	case FIONBIO: {
		int on;
		r = task_copy_in(t, &on, a->a[2], sizeof(on));
		if (r == 0) {
			if (on)
				atomic_fetch_or(&f->flags, O_NONBLOCK);
			else
				atomic_fetch_and(&f->flags, ~O_NONBLOCK);
		}
		break;
	}
	case FIONREAD: {
		int n = 0;
		r = 0;
		if (f->inode && S_ISREG(f->inode->type)) {
			struct vfs_attr at;
			r = vfs_getattr(f->inode, &at);
			if (r == 0 && at.size > f->pos)
				n = (int)(at.size - f->pos);
		} else if (f->ops->readable) {
			r = f->ops->readable(f);
			n = (int)r;
		} else if (f->ops->ioctl) {
			r = f->ops->ioctl(t, f, cmd, a->a[2]);
			file_put(f);
			return r;
		} else {
			r = -ENOTTY;
		}
		if (r >= 0)
			r = task_copy_out(t, a->a[2], &n, sizeof(n));
		break;
	}
	default:
		r = f->ops->ioctl ? f->ops->ioctl(t, f, cmd, a->a[2]) : -ENOTTY;
	}
	file_put(f);
	return r;
}
