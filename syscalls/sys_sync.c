/* fsync family and sync. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>

#include "fsutil.h"

static long do_fsync(struct task *t, int fd, bool datasync)
{
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	long r;
	if (f->mode & FMODE_PATH)
		r = -EBADF;
	else if (f->ops->fsync)
		r = f->ops->fsync(f, datasync);
	else if (f->inode &&
		 (S_ISREG(f->inode->type) || S_ISDIR(f->inode->type)))
		r = 0; /* nothing the sentry holds back */
	else
		r = -EINVAL;
	file_put(f);
	return r;
}

SYSCALL(fsync)
{
	return do_fsync(t, (int)a->a[0], false);
}

SYSCALL(fdatasync)
{
	return do_fsync(t, (int)a->a[0], true);
}

static int sync_mount(struct vfs_mount *m, void *arg)
{
	(void)arg;
	if (m->sb->ops && m->sb->ops->sync)
		m->sb->ops->sync(m->sb);
	return 0;
}

SYSCALL(sync)
{
	struct vfs_path root;
	fs_struct_get_root(t->fs, &root);
	vfs_mounts_foreach(root.mnt->ns, sync_mount, NULL);
	vfs_path_put(&root);
	return 0;
}

SYSCALL(syncfs)
{
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	long r = 0;
	if (f->dentry && f->dentry->sb->ops && f->dentry->sb->ops->sync)
		r = f->dentry->sb->ops->sync(f->dentry->sb);
	file_put(f);
	return r;
}

/* Advice and hints about a file's pages: the host keeps the page cache,
 * so after Linux's checks there is nothing to do. */
static long advice_file(struct task *t, int fd, struct file **out)
{
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	if (f->mode & FMODE_PATH) {
		file_put(f);
		return -EBADF;
	}
	*out = f;
	return 0;
}

static bool is_pipe(struct file *f)
{
	return f->inode ? S_ISFIFO(f->inode->type) : !(f->mode & FMODE_LSEEK);
}

SYSCALL(fadvise64)
{
	struct file *f;
	long r = advice_file(t, (int)a->a[0], &f);
	if (r < 0)
		return r;
	if (is_pipe(f))
		r = -ESPIPE;
	else if ((int64_t)a->a[2] < 0 || a->a[3] > 5) /* POSIX_FADV_NOREUSE */
		r = -EINVAL;
	file_put(f);
	return r;
}

SYSCALL(readahead)
{
	struct file *f;
	long r = advice_file(t, (int)a->a[0], &f);
	if (r < 0)
		return r;
	if (!(f->mode & FMODE_READ))
		r = -EBADF;
	else if (!f->inode || (!S_ISREG(f->inode->type) &&
				!S_ISBLK(f->inode->type)))
		r = -EINVAL;
	file_put(f);
	return r;
}

#define SFR_VALID 7 /* WAIT_BEFORE | WRITE | WAIT_AFTER */

SYSCALL(sync_file_range)
{
	int64_t off = (int64_t)a->a[1], n = (int64_t)a->a[2];
	unsigned flags = (unsigned)a->a[3];
	struct file *f;
	long r = advice_file(t, (int)a->a[0], &f);
	if (r < 0)
		return r;
	/* Linux looks at the fd first, then the arguments. */
	if ((flags & ~SFR_VALID) || off < 0 || n < 0 ||
	    (uint64_t)off + (uint64_t)n > (uint64_t)INT64_MAX) {
		file_put(f);
		return -EINVAL;
	}
	uint32_t type = f->inode ? f->inode->type : 0;
	if (!S_ISREG(type) && !S_ISDIR(type) && !S_ISLNK(type) &&
	    !S_ISBLK(type))
		r = -ESPIPE;
	else if ((flags & 2) && f->ops->fsync) /* SYNC_FILE_RANGE_WRITE */
		r = f->ops->fsync(f, true);
	file_put(f);
	return r;
}
