/* File syscalls that name paths: open family, close, the namespace calls
 * (mknod, mkdir, unlink, rename, link, symlink, readlink), attribute
 * changes (chmod, chown, utimes, truncate, fallocate), access, the
 * working directory and root, umask and memfd_create. Each decodes its
 * arguments and calls the VFS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#include "../sentry/fsimpl/tmpfs/tmpfs.h"
#include "../sentry/kernel/kernel.h"
#include "fsutil.h"

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Walks an *at path with the AT_* flags of the call. */
static int walk_at(struct task *t, int dirfd, uint64_t upath, int atflags,
		   bool follow, struct vfs_path *out)
{
	char path[PATH_MAX];
	int err = path_in(t, upath, path);
	if (err < 0)
		return err;
	unsigned lf = 0;
	if (follow && !(atflags & AT_SYMLINK_NOFOLLOW))
		lf |= VFS_LOOKUP_FOLLOW;
	if (atflags & AT_EMPTY_PATH)
		lf |= VFS_LOOKUP_EMPTY;
	struct vfs_ctx c = vfs_ctx_of(t);
	return vfs_walk(&c, dirfd, path, lf, out);
}

/* ---- open -------------------------------------------------------------- */

static long do_open(struct task *t, int dirfd, uint64_t upath, int flags,
		    uint32_t mode, unsigned resolve)
{
	char path[PATH_MAX];
	int err = path_in(t, upath, path);
	if (err < 0)
		return err;
	if (!(flags & (O_CREAT | VFS_O_TMPFILE_BIT)))
		mode = 0;
	struct vfs_ctx c = vfs_ctx_of(t);
	struct file *f;
	err = vfs_open(&c, dirfd, path, flags, mode, resolve, &f);
	if (err < 0)
		return err;
	long fd = fd_install_task(t, f, flags & O_CLOEXEC);
	file_put(f);
	return fd;
}

SYSCALL(open)
{
	return do_open(t, VFS_AT_FDCWD, a->a[0], (int)a->a[1],
		       (uint32_t)a->a[2], 0);
}

SYSCALL(openat)
{
	return do_open(t, dirfd_arg(a->a[0]), a->a[1], (int)a->a[2],
		       (uint32_t)a->a[3], 0);
}

SYSCALL(creat)
{
	return do_open(t, VFS_AT_FDCWD, a->a[0], O_CREAT | O_WRONLY | O_TRUNC,
		       (uint32_t)a->a[1], 0);
}

#define OPEN_VALID_FLAGS                                                       \
	(O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND |        \
	 O_NONBLOCK | O_DSYNC | FASYNC | O_DIRECT | VFS_O_LARGEFILE |              \
	 O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH |           \
	 __O_TMPFILE | O_SYNC)
#define OPEN_HOW_SIZE_VER0_ 24 /* the first struct open_how */
#define RESOLVE_ALL                                                            \
	(RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS |       \
	 RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED)

SYSCALL(openat2)
{
	struct open_how how = {0};
	uint64_t size = a->a[3];
	if (size < OPEN_HOW_SIZE_VER0_)
		return -EINVAL;
	if (size > 4096)
		return -E2BIG;
	size_t n = size < sizeof(how) ? (size_t)size : sizeof(how);
	int err = task_copy_in(t, &how, a->a[2], n);
	if (err < 0)
		return err;
	/* A newer, larger struct is fine if what we do not know is zero. */
	for (uint64_t off = sizeof(how); off < size; off += 64) {
		unsigned char tail[64];
		size_t c = size - off < 64 ? (size_t)(size - off) : 64;
		err = task_copy_in(t, tail, a->a[2] + off, c);
		if (err < 0)
			return err;
		for (size_t i = 0; i < c; i++)
			if (tail[i])
				return -E2BIG;
	}
	if (how.flags & ~(uint64_t)OPEN_VALID_FLAGS)
		return -EINVAL;
	if (how.resolve & ~(uint64_t)RESOLVE_ALL)
		return -EINVAL;
	if ((how.resolve & RESOLVE_BENEATH) && (how.resolve & RESOLVE_IN_ROOT))
		return -EINVAL;
	if (how.mode & ~(uint64_t)07777)
		return -EINVAL;
	if (!(how.flags & (O_CREAT | VFS_O_TMPFILE_BIT)) && how.mode)
		return -EINVAL;
	if (how.resolve & RESOLVE_CACHED)
		return -EAGAIN; /* every lookup may need the file system */
	unsigned resolve = 0;
	if (how.resolve & RESOLVE_NO_XDEV)
		resolve |= VFS_RESOLVE_NO_XDEV;
	if (how.resolve & RESOLVE_NO_MAGICLINKS)
		resolve |= VFS_RESOLVE_NO_MAGICLINKS;
	if (how.resolve & RESOLVE_NO_SYMLINKS)
		resolve |= VFS_RESOLVE_NO_SYMLINKS;
	if (how.resolve & RESOLVE_BENEATH)
		resolve |= VFS_RESOLVE_BENEATH;
	if (how.resolve & RESOLVE_IN_ROOT)
		resolve |= VFS_RESOLVE_IN_ROOT;
	return do_open(t, dirfd_arg(a->a[0]), a->a[1], (int)how.flags,
		       (uint32_t)how.mode, resolve);
}

SYSCALL(close)
{
	return fd_close(t->fdt, (int)a->a[0]);
}

SYSCALL(close_range)
{
	unsigned lo = (unsigned)a->a[0], hi = (unsigned)a->a[1];
	unsigned flags = (unsigned)a->a[2];
	if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC))
		return -EINVAL;
	if (lo > hi)
		return -EINVAL;
	if ((flags & CLOSE_RANGE_UNSHARE) && atomic_load(&t->fdt->refs) > 1) {
		/* This thread stops sharing its table (CLONE_FILES). */
		struct fdtable *n = fdtable_copy(t->fdt);
		if (!n)
			return -ENOMEM;
		struct fdtable *old = t->fdt;
		/* Under k->lock: procfs references other tasks' tables. */
		pthread_mutex_lock(&t->k->lock);
		t->fdt = n;
		pthread_mutex_unlock(&t->k->lock);
		fdtable_put(old);
	}
	return fd_close_range(t->fdt, lo, hi, flags & CLOSE_RANGE_CLOEXEC);
}

/* ---- namespace --------------------------------------------------------- */

/* mknod's dev argument is the kernel's 32-bit encoding. */
static uint64_t decode_dev(uint32_t dev)
{
	unsigned maj = (dev & 0xfff00) >> 8;
	unsigned min = (dev & 0xff) | ((dev >> 12) & 0xfff00);
	return makedev(maj, min);
}

static long do_mknod(struct task *t, int dirfd, uint64_t upath, uint32_t mode,
		     uint32_t dev)
{
	char path[PATH_MAX];
	int err = path_in(t, upath, path);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	return vfs_mknod(&c, dirfd, path, mode, decode_dev(dev));
}

SYSCALL(mknod)
{
	return do_mknod(t, VFS_AT_FDCWD, a->a[0], (uint32_t)a->a[1],
			(uint32_t)a->a[2]);
}

SYSCALL(mknodat)
{
	return do_mknod(t, dirfd_arg(a->a[0]), a->a[1], (uint32_t)a->a[2],
			(uint32_t)a->a[3]);
}

static long do_mkdir(struct task *t, int dirfd, uint64_t upath, uint32_t mode)
{
	char path[PATH_MAX];
	int err = path_in(t, upath, path);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	return vfs_mkdir(&c, dirfd, path, mode);
}

SYSCALL(mkdir)
{
	return do_mkdir(t, VFS_AT_FDCWD, a->a[0], (uint32_t)a->a[1]);
}

SYSCALL(mkdirat)
{
	return do_mkdir(t, dirfd_arg(a->a[0]), a->a[1], (uint32_t)a->a[2]);
}

static long do_unlink(struct task *t, int dirfd, uint64_t upath, int flags)
{
	char path[PATH_MAX];
	if (flags & ~AT_REMOVEDIR)
		return -EINVAL;
	int err = path_in(t, upath, path);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	if (flags & AT_REMOVEDIR)
		return vfs_rmdir(&c, dirfd, path);
	return vfs_unlink(&c, dirfd, path);
}

SYSCALL(unlink)
{
	return do_unlink(t, VFS_AT_FDCWD, a->a[0], 0);
}

SYSCALL(rmdir)
{
	return do_unlink(t, VFS_AT_FDCWD, a->a[0], AT_REMOVEDIR);
}

SYSCALL(unlinkat)
{
	return do_unlink(t, dirfd_arg(a->a[0]), a->a[1], (int)a->a[2]);
}

static long do_rename(struct task *t, int odirfd, uint64_t oldp, int ndirfd,
		      uint64_t newp, unsigned flags)
{
	char op[PATH_MAX], np[PATH_MAX];
	int err = path_in(t, oldp, op);
	if (err == 0)
		err = path_in(t, newp, np);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	return vfs_rename(&c, odirfd, op, ndirfd, np, flags);
}

SYSCALL(rename)
{
	return do_rename(t, VFS_AT_FDCWD, a->a[0], VFS_AT_FDCWD, a->a[1], 0);
}

SYSCALL(renameat)
{
	return do_rename(t, dirfd_arg(a->a[0]), a->a[1], dirfd_arg(a->a[2]),
			 a->a[3], 0);
}

SYSCALL(renameat2)
{
	return do_rename(t, dirfd_arg(a->a[0]), a->a[1], dirfd_arg(a->a[2]),
			 a->a[3], (unsigned)a->a[4]);
}

static long do_link(struct task *t, int odirfd, uint64_t oldp, int ndirfd,
		    uint64_t newp, int flags)
{
	char op[PATH_MAX], np[PATH_MAX];
	if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	int err = path_in(t, oldp, op);
	if (err == 0)
		err = path_in(t, newp, np);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	return vfs_link(&c, odirfd, op, ndirfd, np, flags);
}

SYSCALL(link)
{
	return do_link(t, VFS_AT_FDCWD, a->a[0], VFS_AT_FDCWD, a->a[1], 0);
}

SYSCALL(linkat)
{
	return do_link(t, dirfd_arg(a->a[0]), a->a[1], dirfd_arg(a->a[2]),
		       a->a[3], (int)a->a[4]);
}

static long do_symlink(struct task *t, uint64_t target, int dirfd,
		       uint64_t newp)
{
	char tp[PATH_MAX], np[PATH_MAX];
	int err = path_in(t, target, tp);
	if (err == 0)
		err = path_in(t, newp, np);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	return vfs_symlink(&c, tp, dirfd, np);
}

SYSCALL(symlink)
{
	return do_symlink(t, a->a[0], VFS_AT_FDCWD, a->a[1]);
}

SYSCALL(symlinkat)
{
	return do_symlink(t, a->a[0], dirfd_arg(a->a[1]), a->a[2]);
}

static long do_readlink(struct task *t, int dirfd, uint64_t upath, uint64_t buf,
			int64_t len)
{
	char path[PATH_MAX];
	if (len <= 0)
		return -EINVAL;
	int err = path_in(t, upath, path);
	if (err < 0)
		return err;
	char target[PATH_MAX];
	struct vfs_ctx c = vfs_ctx_of(t);
	long n = vfs_readlink(&c, dirfd, path, target, sizeof(target));
	if (n < 0)
		return n;
	if (n > len)
		n = len;
	err = task_copy_out(t, buf, target, (size_t)n);
	return err < 0 ? err : n;
}

SYSCALL(readlink)
{
	return do_readlink(t, VFS_AT_FDCWD, a->a[0], a->a[1], (int)a->a[2]);
}

SYSCALL(readlinkat)
{
	return do_readlink(t, dirfd_arg(a->a[0]), a->a[1], a->a[2],
			   (int)a->a[3]);
}

/* ---- attributes -------------------------------------------------------- */

static long chmod_path(struct task *t, int dirfd, uint64_t upath, uint32_t mode,
		       int flags)
{
	struct vfs_path p;
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	int err = walk_at(t, dirfd, upath, flags, true, &p);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	err = vfs_chmod(&c, &p, mode);
	vfs_path_put(&p);
	return err;
}

SYSCALL(chmod)
{
	return chmod_path(t, VFS_AT_FDCWD, a->a[0], (uint32_t)a->a[1], 0);
}

SYSCALL(fchmodat)
{
	return chmod_path(t, dirfd_arg(a->a[0]), a->a[1], (uint32_t)a->a[2], 0);
}

SYSCALL(fchmodat2)
{
	return chmod_path(t, dirfd_arg(a->a[0]), a->a[1], (uint32_t)a->a[2],
			  (int)a->a[3]);
}

/* The path of an open file (not O_PATH), for the f* attribute calls. */
static int file_path(struct task *t, int fd, struct vfs_path *p)
{
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	if ((f->mode & FMODE_PATH) || !f->dentry) {
		file_put(f);
		return -EBADF;
	}
	p->mnt = vfs_mnt_ref(f->mnt);
	p->dentry = vfs_dget(f->dentry);
	file_put(f);
	return 0;
}

SYSCALL(fchmod)
{
	struct vfs_path p;
	int err = file_path(t, (int)a->a[0], &p);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	err = vfs_chmod(&c, &p, (uint32_t)a->a[1]);
	vfs_path_put(&p);
	return err;
}

static long chown_path(struct task *t, int dirfd, uint64_t upath, uint32_t uid,
		       uint32_t gid, int flags)
{
	struct vfs_path p;
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	int err = walk_at(t, dirfd, upath, flags, true, &p);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	err = vfs_chown(&c, &p, uid, gid);
	vfs_path_put(&p);
	return err;
}

SYSCALL(chown)
{
	return chown_path(t, VFS_AT_FDCWD, a->a[0], (uint32_t)a->a[1],
			  (uint32_t)a->a[2], 0);
}

SYSCALL(lchown)
{
	return chown_path(t, VFS_AT_FDCWD, a->a[0], (uint32_t)a->a[1],
			  (uint32_t)a->a[2], AT_SYMLINK_NOFOLLOW);
}

SYSCALL(fchownat)
{
	return chown_path(t, dirfd_arg(a->a[0]), a->a[1], (uint32_t)a->a[2],
			  (uint32_t)a->a[3], (int)a->a[4]);
}

SYSCALL(fchown)
{
	struct vfs_path p;
	int err = file_path(t, (int)a->a[0], &p);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	err = vfs_chown(&c, &p, (uint32_t)a->a[1], (uint32_t)a->a[2]);
	vfs_path_put(&p);
	return err;
}

static long utimes_path(struct task *t, int dirfd, uint64_t upath,
			const struct timespec *ts, int flags)
{
	struct vfs_path p;
	int err;
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (upath == 0) {
		/* utimensat(fd, NULL, ...): the file dirfd itself. */
		if (flags & ~AT_SYMLINK_NOFOLLOW)
			return -EINVAL;
		if (dirfd == VFS_AT_FDCWD)
			return -EFAULT;
		struct file *f = fd_get(t->fdt, dirfd);
		if (!f)
			return -EBADF;
		if (!f->dentry) {
			file_put(f);
			return -EBADF;
		}
		p.mnt = vfs_mnt_ref(f->mnt);
		p.dentry = vfs_dget(f->dentry);
		file_put(f);
	} else {
		err = walk_at(t, dirfd, upath, flags, true, &p);
		if (err < 0)
			return err;
	}
	struct vfs_ctx c = vfs_ctx_of(t);
	err = vfs_utimes(&c, &p, ts);
	vfs_path_put(&p);
	return err;
}

SYSCALL(utimensat)
{
	struct timespec ts[2];
	if (a->a[2]) {
		int err = task_copy_in(t, ts, a->a[2], sizeof(ts));
		if (err < 0)
			return err;
		/* Nothing to change: Linux does not even look the path up. */
		if (ts[0].tv_nsec == UTIME_OMIT && ts[1].tv_nsec == UTIME_OMIT)
			return (int)a->a[3] & ~(AT_SYMLINK_NOFOLLOW |
						AT_EMPTY_PATH)
				       ? -EINVAL
				       : 0;
	}
	return utimes_path(t, dirfd_arg(a->a[0]), a->a[1], a->a[2] ? ts : NULL,
			   (int)a->a[3]);
}

static long timevals(struct task *t, int dirfd, uint64_t upath, uint64_t utv)
{
	struct timeval tv[2];
	struct timespec ts[2];
	if (utv) {
		int err = task_copy_in(t, tv, utv, sizeof(tv));
		if (err < 0)
			return err;
		for (int i = 0; i < 2; i++) {
			if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
				return -EINVAL;
			ts[i].tv_sec = tv[i].tv_sec;
			ts[i].tv_nsec = tv[i].tv_usec * 1000;
		}
	}
	if (upath == 0)
		return -EFAULT;
	return utimes_path(t, dirfd, upath, utv ? ts : NULL, 0);
}

SYSCALL(utimes)
{
	return timevals(t, VFS_AT_FDCWD, a->a[0], a->a[1]);
}

SYSCALL(futimesat)
{
	return timevals(t, dirfd_arg(a->a[0]), a->a[1], a->a[2]);
}

SYSCALL(utime)
{
	struct utimbuf ub;
	struct timespec ts[2];
	if (a->a[1]) {
		int err = task_copy_in(t, &ub, a->a[1], sizeof(ub));
		if (err < 0)
			return err;
		ts[0] = (struct timespec){ub.actime, 0};
		ts[1] = (struct timespec){ub.modtime, 0};
	}
	if (a->a[0] == 0)
		return -EFAULT;
	return utimes_path(t, VFS_AT_FDCWD, a->a[0], a->a[1] ? ts : NULL, 0);
}

SYSCALL(truncate)
{
	struct vfs_path p;
	int64_t len = (int64_t)a->a[1];
	int err = walk_at(t, VFS_AT_FDCWD, a->a[0], 0, true, &p);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	err = len < 0 ? -EINVAL : vfs_truncate(&c, &p, (uint64_t)len);
	vfs_path_put(&p);
	return err;
}

SYSCALL(ftruncate)
{
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	struct vfs_ctx c = vfs_ctx_of(t);
	int err = vfs_ftruncate(&c, f, (int64_t)a->a[1]);
	file_put(f);
	return err;
}

SYSCALL(fallocate)
{
	int mode = (int)a->a[1];
	int64_t off = (int64_t)a->a[2], len = (int64_t)a->a[3];
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	int err = 0;
	if (off < 0 || len <= 0)
		err = -EINVAL;
	else if ((f->mode & FMODE_PATH) || !(f->mode & FMODE_WRITE))
		err = -EBADF;
	else if (!f->inode)
		err = -ESPIPE;
	else if (S_ISDIR(f->inode->type))
		err = -EISDIR;
	else if (S_ISFIFO(f->inode->type))
		err = -ESPIPE;
	else if (!S_ISREG(f->inode->type))
		err = -ENODEV;
	/* Both are >= 0 here: their sum fits in 64 unsigned bits, and past
	 * the largest offset it is EFBIG (a signed sum would overflow). */
	else if ((uint64_t)off + (uint64_t)len > (uint64_t)INT64_MAX)
		err = -EFBIG;
	else if (!(mode & FALLOC_FL_KEEP_SIZE) &&
		 (uint64_t)off + (uint64_t)len > task_rlimit_cur(t, RLIMIT_FSIZE))
		err = -EFBIG;
	else if (!f->ops->fallocate)
		err = -EOPNOTSUPP;
	else
		err = f->ops->fallocate(f, mode, (uint64_t)off, (uint64_t)len);
	file_put(f);
	return err;
}

/* ---- access ------------------------------------------------------------ */

static long do_access(struct task *t, int dirfd, uint64_t upath, int mode,
		      int flags)
{
	struct vfs_path p;
	if (mode & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	int err = walk_at(t, dirfd, upath, flags, true, &p);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	err = vfs_access(&c, &p, mode, flags & AT_EACCESS);
	vfs_path_put(&p);
	return err;
}

SYSCALL(access)
{
	return do_access(t, VFS_AT_FDCWD, a->a[0], (int)a->a[1], 0);
}

SYSCALL(faccessat)
{
	return do_access(t, dirfd_arg(a->a[0]), a->a[1], (int)a->a[2], 0);
}

SYSCALL(faccessat2)
{
	return do_access(t, dirfd_arg(a->a[0]), a->a[1], (int)a->a[2],
			 (int)a->a[3]);
}

/* ---- cwd, root, umask -------------------------------------------------- */

static long set_cwd(struct task *t, struct vfs_path *p)
{
	int err = 0;
	if (!S_ISDIR(p->dentry->inode->type))
		err = -ENOTDIR;
	else
		err = vfs_permission(&t->cred, p->dentry->inode, VFS_MAY_EXEC);
	if (err == 0)
		fs_struct_set_cwd(t->fs, p);
	vfs_path_put(p);
	return err;
}

SYSCALL(chdir)
{
	struct vfs_path p;
	int err = walk_at(t, VFS_AT_FDCWD, a->a[0], 0, true, &p);
	if (err < 0)
		return err;
	return set_cwd(t, &p);
}

SYSCALL(fchdir)
{
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	if (!f->dentry) {
		file_put(f);
		return -ENOTDIR;
	}
	struct vfs_path p = {vfs_mnt_ref(f->mnt), vfs_dget(f->dentry)};
	file_put(f);
	return set_cwd(t, &p);
}

SYSCALL(getcwd)
{
	uint64_t size = a->a[1];
	struct vfs_path root, cwd;
	char *buf = malloc(PATH_MAX);
	if (!buf)
		return -ENOMEM;
	fs_struct_get_root(t->fs, &root);
	fs_struct_get_cwd(t->fs, &cwd);
	bool reachable;
	long n = vfs_path_string(&root, &cwd, buf, PATH_MAX, &reachable);
	bool dead = vfs_d_dead(cwd.dentry);
	vfs_path_put(&root);
	vfs_path_put(&cwd);
	if (n >= 0 && dead)
		n = -ENOENT;
	if (n >= 0 && !reachable) {
		/* Linux marks a cwd outside the root this way. */
		const char *pre = "(unreachable)";
		size_t pl = strlen(pre);
		if ((size_t)n + pl + 1 > PATH_MAX) {
			n = -ENAMETOOLONG;
		} else {
			memmove(buf + pl, buf, (size_t)n + 1);
			memcpy(buf, pre, pl);
			n += (long)pl;
		}
	}
	if (n >= 0) {
		if ((uint64_t)n + 1 > size)
			n = -ERANGE;
		else {
			int err = task_copy_out(t, a->a[0], buf, (size_t)n + 1);
			n = err < 0 ? err : n + 1;
		}
	}
	free(buf);
	return n;
}

SYSCALL(chroot)
{
	struct vfs_path p;
	int err = walk_at(t, VFS_AT_FDCWD, a->a[0], 0, true, &p);
	if (err < 0)
		return err;
	if (!S_ISDIR(p.dentry->inode->type))
		err = -ENOTDIR;
	else
		err = vfs_permission(&t->cred, p.dentry->inode, VFS_MAY_EXEC);
	if (err == 0 && !vfs_capable(&t->cred, VFS_CAP_SYS_CHROOT))
		err = -EPERM;
	if (err == 0)
		fs_struct_set_root(t->fs, &p);
	vfs_path_put(&p);
	return err;
}

SYSCALL(umask)
{
	return fs_struct_umask(t->fs, (int)(a->a[0] & 0777));
}

/* ---- memfd ------------------------------------------------------------- */

SYSCALL(memfd_create)
{
	char name[256];
	unsigned flags = (unsigned)a->a[1];
	if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL |
		      MFD_EXEC | MFD_HUGETLB))
		return -EINVAL;
	if (flags & MFD_HUGETLB)
		return -EINVAL; /* no huge pages in the sandbox */
	if ((flags & MFD_NOEXEC_SEAL) && (flags & MFD_EXEC))
		return -EINVAL;
	int r = task_copy_in_string(t, name, a->a[0], sizeof(name));
	if (r == -ENAMETOOLONG || r > 249)
		return -EINVAL;
	if (r < 0)
		return r;
	struct file *f;
	int err = tmpfs_memfd_open(t, name, t->cred.fsuid, t->cred.fsgid,
				   flags, &f);
	if (err < 0)
		return err;
	long fd = fd_install_task(t, f, flags & MFD_CLOEXEC);
	file_put(f);
	return fd;
}
