/* fsync family and sync. */
#define _GNU_SOURCE
#include <errno.h>

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
