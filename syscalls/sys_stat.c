/* stat family, statx, statfs/fstatfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "fsutil.h"

static long stat_at(struct task *t, int dirfd, uint64_t upath, int flags,
		    struct vfs_attr *a, struct vfs_mount **mnt)
{
	char path[PATH_MAX];
	int err = path_in(t, upath, path);
	if (err < 0)
		return err;
	unsigned lf = 0;
	if (!(flags & AT_SYMLINK_NOFOLLOW))
		lf |= VFS_LOOKUP_FOLLOW;
	if (flags & AT_EMPTY_PATH)
		lf |= VFS_LOOKUP_EMPTY;
	struct vfs_ctx c = vfs_ctx_of(t);
	struct vfs_path p;
	if (path[0] == '\0' && (flags & AT_EMPTY_PATH) &&
	    dirfd != VFS_AT_FDCWD) {
		/* fstat of any fd, anonymous files included. */
		struct file *f = fd_get(t->fdt, dirfd);
		if (!f)
			return -EBADF;
		if (!f->inode) {
			struct stat st;
			err =
			    f->ops->fstat ? (int)f->ops->fstat(f, &st) : -EBADF;
			file_put(f);
			if (err < 0)
				return err;
			memset(a, 0, sizeof(*a));
			a->mode = st.st_mode;
			a->uid = st.st_uid;
			a->gid = st.st_gid;
			a->ino = st.st_ino;
			a->dev = st.st_dev;
			a->rdev = st.st_rdev;
			a->nlink = st.st_nlink;
			a->size = (uint64_t)st.st_size;
			a->blocks = (uint64_t)st.st_blocks;
			a->blksize = (uint32_t)st.st_blksize;
			a->atime = st.st_atim;
			a->mtime = st.st_mtim;
			a->ctime = st.st_ctim;
			if (mnt)
				*mnt = NULL;
			return 0;
		}
		file_put(f);
	}
	err = vfs_walk(&c, dirfd, path, lf, &p);
	if (err < 0)
		return err;
	err = vfs_stat_path(&p, a);
	if (err == 0 && mnt)
		*mnt = vfs_mnt_ref(p.mnt);
	vfs_path_put(&p);
	return err;
}

static long stat_out(struct task *t, const struct vfs_attr *a, uint64_t buf)
{
	struct stat st;
	vfs_attr_to_stat(a, &st);
	return task_copy_out(t, buf, &st, sizeof(st));
}

SYSCALL(stat)
{
	struct vfs_attr at;
	long r = stat_at(t, VFS_AT_FDCWD, a->a[0], 0, &at, NULL);
	return r < 0 ? r : stat_out(t, &at, a->a[1]);
}

SYSCALL(lstat)
{
	struct vfs_attr at;
	long r =
	    stat_at(t, VFS_AT_FDCWD, a->a[0], AT_SYMLINK_NOFOLLOW, &at, NULL);
	return r < 0 ? r : stat_out(t, &at, a->a[1]);
}

SYSCALL(fstat)
{
	struct stat st;
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	int err = vfs_fstat(f, &st);
	file_put(f);
	if (err < 0)
		return err;
	return task_copy_out(t, a->a[1], &st, sizeof(st));
}

SYSCALL(newfstatat)
{
	int flags = (int)a->a[3];
	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT))
		return -EINVAL;
	struct vfs_attr at;
	long r = stat_at(t, dirfd_arg(a->a[0]), a->a[1], flags, &at, NULL);
	return r < 0 ? r : stat_out(t, &at, a->a[2]);
}

SYSCALL(statx)
{
	int flags = (int)a->a[2];
	unsigned mask = (unsigned)a->a[3];
	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT |
		      AT_STATX_SYNC_TYPE))
		return -EINVAL;
	if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE)
		return -EINVAL;
	if (mask & STATX__RESERVED)
		return -EINVAL;
	struct vfs_attr at;
	struct vfs_mount *mnt = NULL;
	long r = stat_at(t, dirfd_arg(a->a[0]), a->a[1], flags, &at, &mnt);
	if (r < 0)
		return r;
	struct statx sx;
	memset(&sx, 0, sizeof(sx));
	sx.stx_mask = STATX_BASIC_STATS | STATX_MNT_ID;
	if (at.btime.tv_sec || at.btime.tv_nsec)
		sx.stx_mask |= STATX_BTIME;
	sx.stx_blksize = at.blksize;
	sx.stx_nlink = (uint32_t)at.nlink;
	sx.stx_uid = at.uid;
	sx.stx_gid = at.gid;
	sx.stx_mode = (uint16_t)at.mode;
	sx.stx_ino = at.ino;
	sx.stx_size = at.size;
	sx.stx_blocks = at.blocks;
	sx.stx_atime.tv_sec = at.atime.tv_sec;
	sx.stx_atime.tv_nsec = (uint32_t)at.atime.tv_nsec;
	sx.stx_btime.tv_sec = at.btime.tv_sec;
	sx.stx_btime.tv_nsec = (uint32_t)at.btime.tv_nsec;
	sx.stx_ctime.tv_sec = at.ctime.tv_sec;
	sx.stx_ctime.tv_nsec = (uint32_t)at.ctime.tv_nsec;
	sx.stx_mtime.tv_sec = at.mtime.tv_sec;
	sx.stx_mtime.tv_nsec = (uint32_t)at.mtime.tv_nsec;
	sx.stx_rdev_major = major(at.rdev);
	sx.stx_rdev_minor = minor(at.rdev);
	sx.stx_dev_major = major(at.dev);
	sx.stx_dev_minor = minor(at.dev);
	sx.stx_mnt_id = mnt ? (uint64_t)mnt->id : 0;
	vfs_mnt_put(mnt);
	return task_copy_out(t, a->a[4], &sx, sizeof(sx));
}

SYSCALL(statfs)
{
	char path[PATH_MAX];
	int err = path_in(t, a->a[0], path);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	struct vfs_path p;
	err = vfs_walk(&c, VFS_AT_FDCWD, path, VFS_LOOKUP_FOLLOW, &p);
	if (err < 0)
		return err;
	struct statfs st;
	err = vfs_statfs(&p, &st);
	vfs_path_put(&p);
	if (err < 0)
		return err;
	return task_copy_out(t, a->a[1], &st, sizeof(st));
}

SYSCALL(fstatfs)
{
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	struct statfs st;
	int err;
	if (!f->dentry) {
		/* Pipes and host streams: an anonymous file system. */
		memset(&st, 0, sizeof(st));
		st.f_type = 0x50495045; /* PIPEFS_MAGIC */
		st.f_bsize = 4096;
		st.f_namelen = 255;
		st.f_frsize = 4096;
		st.f_flags = 0x20; /* ST_VALID */
		err = 0;
	} else {
		struct vfs_path p = {f->mnt, f->dentry};
		err = vfs_statfs(&p, &st);
	}
	file_put(f);
	if (err < 0)
		return err;
	return task_copy_out(t, a->a[1], &st, sizeof(st));
}
