/* Open files: making one on an inode, and the generic entry points that do
 * fs/read_write.c's checks before the file's ops. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../kernel/kernel.h"
#include "vfs_impl.h"

/* O_PATH files do nothing but name their path. */
static const struct file_ops path_fops = {0};

static unsigned fmode_for(uint32_t type, int flags)
{
	unsigned m = 0;
	if (flags & O_PATH)
		return FMODE_PATH;
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		m = FMODE_READ;
		break;
	case O_WRONLY:
		m = FMODE_WRITE;
		break;
	case O_RDWR:
		m = FMODE_READ | FMODE_WRITE;
		break;
	}
	switch (type) {
	case S_IFREG:
	case S_IFBLK:
		m |=
		    FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE | FMODE_ATOMIC_POS;
		break;
	case S_IFDIR:
		m |= FMODE_LSEEK | FMODE_ATOMIC_POS;
		break;
	case S_IFCHR:
		/* Devices decide in their open (a tty is a stream). */
		m |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
		break;
	}
	return m;
}

int vfs_file_open(struct task *t, const struct vfs_path *p, int flags,
		  struct file **out)
{
	struct vfs_inode *inode = p->dentry->inode;
	/* What F_GETFL reports: open(2) on x86-64 adds O_LARGEFILE (the
	 * kernel's value: glibc's is 0 there), and the creation-time flags
	 * are not kept. */
	int fl = (flags | VFS_O_LARGEFILE) &
		 ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);
	if (flags & O_PATH)
		fl = flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW);
	struct file *f = file_new(NULL, fl, NULL);
	if (!f)
		return -ENOMEM;
	f->mode = fmode_for(inode->type, flags);
	f->mnt = vfs_mnt_ref(p->mnt);
	f->dentry = vfs_dget(p->dentry);
	f->inode = vfs_inode_ref(inode);
	int err = 0;
	if (S_ISREG(inode->type) && (f->mode & FMODE_WRITE) &&
	    !(flags & O_PATH)) {
		int wc = atomic_load(&inode->writecount);
		do {
			if (wc < 0) {
				file_put(f);
				return -ETXTBSY;
			}
		} while (!atomic_compare_exchange_weak(&inode->writecount, &wc,
						       wc + 1));
		f->mode |= FMODE_WRITER;
	}
	if (flags & O_PATH) {
		f->ops = &path_fops;
	} else if (S_ISCHR(inode->type)) {
		struct vfs_attr a;
		err = vfs_getattr(inode, &a);
		if (err == 0)
			err = vfs_chrdev_open(t, f, a.rdev, flags);
	} else if (S_ISFIFO(inode->type)) {
		err = vfs_fifo_open(t, f, flags);
	} else if (S_ISSOCK(inode->type) || S_ISBLK(inode->type)) {
		err = -ENXIO;
	} else if (inode->ops && inode->ops->open) {
		err = inode->ops->open(t, f, flags);
	} else {
		f->ops = inode->fops;
		if (!f->ops)
			err = -ENXIO;
	}
	if (err < 0) {
		/* The open did not finish: no release of what never was. */
		f->ops = NULL;
		file_put(f);
		return err;
	}
	*out = f;
	return 0;
}

int vfs_deny_write(struct file *f)
{
	if (!f->inode)
		return 0;
	int wc = atomic_load(&f->inode->writecount);
	do {
		if (wc > 0)
			return -ETXTBSY;
	} while (!atomic_compare_exchange_weak(&f->inode->writecount, &wc,
					       wc - 1));
	return 0;
}

void vfs_allow_write(struct file *f)
{
	if (f->inode)
		atomic_fetch_add(&f->inode->writecount, 1);
}

void vfs_file_release(struct file *f)
{
	if (f->mode & FMODE_WRITER)
		atomic_fetch_sub(&f->inode->writecount, 1);
	vfs_dput(f->dentry);
	vfs_mnt_put(f->mnt);
	vfs_inode_put(f->inode);
	f->dentry = NULL;
	f->mnt = NULL;
	f->inode = NULL;
}

/* Linux clamps one transfer to this. */
#define MAX_RW_COUNT (INT_MAX & ~4095L)

long vfs_read(struct task *t, struct file *f, void *buf, size_t n,
	      const uint64_t *pos)
{
	if (!(f->mode & FMODE_READ))
		return -EBADF;
	if (f->inode && S_ISDIR(f->inode->type))
		return -EISDIR;
	if (!f->ops->read)
		return -EINVAL;
	if (n > MAX_RW_COUNT)
		n = MAX_RW_COUNT;
	if (pos) {
		if (!(f->mode & FMODE_PREAD))
			return -ESPIPE;
		if ((int64_t)*pos < 0)
			return -EINVAL;
		uint64_t p = *pos;
		return f->ops->read(t, f, buf, n, &p);
	}
	if (!(f->mode & FMODE_LSEEK))
		return f->ops->read(t, f, buf, n, NULL);
	bool atomic = f->mode & FMODE_ATOMIC_POS;
	if (atomic)
		pthread_mutex_lock(&f->pos_lock);
	uint64_t p = f->pos;
	long r = f->ops->read(t, f, buf, n, &p);
	if (r >= 0)
		f->pos = p;
	if (atomic)
		pthread_mutex_unlock(&f->pos_lock);
	return r;
}

/* A write by someone without CAP_FSETID drops the set-id bits, so a
 * modified program cannot keep running with its owner's rights. */
static void remove_privs(struct task *t, struct file *f)
{
	struct vfs_attr a;
	if (!t || !f->inode || !S_ISREG(f->inode->type))
		return;
	if (vfs_getattr(f->inode, &a) < 0)
		return;
	bool kill_sgid = (a.mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP);
	if (!(a.mode & S_ISUID) && !kill_sgid)
		return;
	if (vfs_capable(&t->cred, VFS_CAP_FSETID))
		return;
	struct vfs_setattr s = {.valid = VFS_ATTR_MODE | VFS_ATTR_CTIME};
	s.mode = a.mode & ~(uint32_t)S_ISUID;
	if (kill_sgid)
		s.mode &= ~(uint32_t)S_ISGID;
	if (f->inode->ops && f->inode->ops->setattr)
		f->inode->ops->setattr(f->inode, &s);
}

long vfs_write_check(struct file *f, const uint64_t *pos)
{
	if (!(f->mode & FMODE_WRITE))
		return -EBADF;
	if (!f->ops->write)
		return -EINVAL;
	if (pos) {
		if (!(f->mode & FMODE_PWRITE))
			return -ESPIPE;
		if ((int64_t)*pos < 0)
			return -EINVAL;
	}
	return 0;
}

long vfs_write(struct task *t, struct file *f, const void *buf, size_t n,
	       const uint64_t *pos)
{
	long err = vfs_write_check(f, pos);
	if (err)
		return err;
	if (n > MAX_RW_COUNT)
		n = MAX_RW_COUNT;
	if (n)
		remove_privs(t, f);
	if (pos) {
		uint64_t p = *pos;
		return f->ops->write(t, f, buf, n, &p);
	}
	if (!(f->mode & FMODE_LSEEK))
		return f->ops->write(t, f, buf, n, NULL);
	bool atomic = f->mode & FMODE_ATOMIC_POS;
	if (atomic)
		pthread_mutex_lock(&f->pos_lock);
	uint64_t p = f->pos;
	long r = f->ops->write(t, f, buf, n, &p);
	if (r >= 0)
		f->pos = p;
	if (atomic)
		pthread_mutex_unlock(&f->pos_lock);
	return r;
}

long vfs_generic_llseek(struct file *f, int64_t off, int whence, uint64_t *pos,
			uint64_t size)
{
	int64_t n;
	(void)f;
	switch (whence) {
	case SEEK_SET:
		n = off;
		break;
	case SEEK_CUR:
		if (__builtin_add_overflow((int64_t)*pos, off, &n))
			return -EINVAL;
		break;
	case SEEK_END:
		if (__builtin_add_overflow((int64_t)size, off, &n))
			return -EINVAL;
		break;
	case SEEK_DATA:
		if (off < 0 || (uint64_t)off >= size)
			return -ENXIO;
		n = off;
		break;
	case SEEK_HOLE:
		if (off < 0 || (uint64_t)off >= size)
			return -ENXIO;
		n = (int64_t)size;
		break;
	default:
		return -EINVAL;
	}
	if (n < 0)
		return -EINVAL;
	*pos = (uint64_t)n;
	return n;
}

long vfs_llseek(struct file *f, int64_t off, int whence)
{
	if (f->mode & FMODE_PATH)
		return -EBADF;
	if (!(f->mode & FMODE_LSEEK) && !f->ops->llseek)
		return -ESPIPE;
	long r;
	pthread_mutex_lock(&f->pos_lock);
	if (f->ops->llseek) {
		r = f->ops->llseek(f, off, whence, &f->pos);
	} else if (f->inode && S_ISDIR(f->inode->type)) {
		/* Directory offsets are cookies: only set and move. */
		if (whence == SEEK_SET || whence == SEEK_CUR)
			r = vfs_generic_llseek(f, off, whence, &f->pos, 0);
		else
			r = -EINVAL;
	} else if (f->inode) {
		struct vfs_attr a;
		r = vfs_getattr(f->inode, &a);
		if (r == 0)
			r = vfs_generic_llseek(f, off, whence, &f->pos, a.size);
	} else {
		r = -ESPIPE;
	}
	pthread_mutex_unlock(&f->pos_lock);
	return r;
}

bool vfs_dir_emit_dots(struct file *f, struct vfs_dir_ctx *ctx)
{
	if (ctx->pos == 0) {
		if (!ctx->emit(ctx, ".", 1, f->inode->ino, DT_DIR, 1))
			return false;
		ctx->pos = 1;
	}
	if (ctx->pos == 1) {
		struct vfs_dentry *p = vfs_d_parent(f->dentry);
		uint64_t ino = p->inode ? p->inode->ino : f->inode->ino;
		vfs_dput(p);
		if (!ctx->emit(ctx, "..", 2, ino, DT_DIR, 2))
			return false;
		ctx->pos = 2;
	}
	return true;
}

int vfs_iterate(struct task *t, struct file *f, struct vfs_dir_ctx *ctx)
{
	if (f->mode & FMODE_PATH)
		return -EBADF;
	if (!f->ops->iterate)
		return -ENOTDIR;
	pthread_mutex_lock(&f->pos_lock);
	int err = -ENOENT; /* a removed directory lists nothing */
	if (!f->dentry || !vfs_d_dead(f->dentry)) {
		ctx->pos = f->pos;
		err = f->ops->iterate(t, f, ctx);
		f->pos = ctx->pos;
	}
	pthread_mutex_unlock(&f->pos_lock);
	return err;
}
