/* open(2), with creation, and execve's open. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "../kernel/kernel.h"
#include "namei.h"
#include "ops_impl.h"

/* Linux's may_open: what the type and the permission bits allow. */
static int may_open(const struct vfs_ctx *c, const struct vfs_path *p,
		    int flags)
{
	struct vfs_inode *inode = p->dentry->inode;
	int acc = flags & O_ACCMODE;
	int mask = 0;

	if (flags & O_PATH)
		return 0;
	switch (inode->type) {
	case S_IFLNK:
		return -ELOOP;
	case S_IFDIR:
		if (acc != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))
			return -EISDIR;
		break;
	case S_IFCHR:
	case S_IFBLK:
		if (p->mnt->flags & VFS_MNT_NODEV)
			return -EACCES;
		break;
	}
	if (acc == O_RDONLY || acc == O_RDWR)
		mask |= VFS_MAY_READ;
	if (acc == O_WRONLY || acc == O_RDWR)
		mask |= VFS_MAY_WRITE;
	if ((flags & O_TRUNC) && S_ISREG(inode->type))
		mask |= VFS_MAY_WRITE;
	if ((mask & VFS_MAY_WRITE) &&
	    (S_ISREG(inode->type) || S_ISDIR(inode->type)) &&
	    vfs_mnt_readonly(p->mnt))
		return -EROFS;
	struct vfs_attr a;
	int err = vfs_getattr(inode, &a);
	if (err < 0)
		return err;
	err = vfs_permission_attr(c->cred, &a, mask);
	if (err < 0)
		return err;
	if ((flags & O_NOATIME) && c->cred->fsuid != a.uid &&
	    !vfs_capable(c->cred, VFS_CAP_FOWNER))
		return -EPERM;
	return 0;
}

/* Creates path's last component for open(O_CREAT), or finds it; follows a
 * trailing symlink (creating its target, as Linux does). */
static int open_create(const struct vfs_ctx *c, int dirfd, const char *path,
		       int flags, uint32_t mode, unsigned resolve,
		       struct vfs_path *out, bool *created)
{
	struct nd nd;
	struct vfs_last last;
	int err = nd_init(&nd, c, dirfd, path, resolve);

	*created = false;
	while (err == 0) {
		memset(&last, 0, sizeof(last));
		err = nd_walk(&nd, &last);
		if (err < 0)
			break;
		if (last.type != VFS_LAST_NORM || last.trailing_slash) {
			err = -EISDIR;
			vfs_last_put(&last);
			break;
		}
		struct vfs_inode *dir = last.parent.dentry->inode;
		struct vfs_dentry *child = NULL;
		pthread_mutex_lock(&dir->rwsem);
		err = vfs_lookup_child_locked(last.parent.dentry, last.name,
					      &child);
		if (err == 0 && !child->inode) {
			struct vfs_create vc = {.mode =
						    S_IFREG | (mode & 07777)};
			vfs_dput(child);
			child = NULL;
			err = vfs_create_locked(c, &last.parent, last.name, &vc,
						&child);
			if (err == 0)
				*created = true;
		} else if (err == 0 && (flags & O_EXCL)) {
			err = -EEXIST;
		}
		pthread_mutex_unlock(&dir->rwsem);
		if (err < 0) {
			vfs_dput(child);
			vfs_last_put(&last);
			break;
		}
		struct vfs_path cp = {vfs_mnt_ref(last.parent.mnt), child};
		vfs_last_put(&last);
		if (S_ISLNK(child->inode->type) && !*created) {
			if (flags & O_NOFOLLOW) {
				vfs_path_put(&cp);
				err = -ELOOP;
				break;
			}
			bool magic =
			    child->inode->ops && child->inode->ops->get_link;
			err = nd_follow_link(&nd, &cp, "");
			vfs_path_put(&cp);
			if (err < 0 || !magic)
				continue;
			/* A magic link (procfs) lands on its target itself,
			 * which exists: nothing to create, it is opened
			 * (Linux's LAST_BIND). "> /dev/stdout" does this. */
			cp = nd.cur;
			vfs_path_get(&cp);
		}
		/* A name that is a mount point opens the mount's root. */
		struct vfs_mount *m;
		while ((m = vfs_lookup_mnt(cp.mnt, cp.dentry))) {
			vfs_path_put(&cp);
			cp.mnt = m;
			cp.dentry = vfs_dget(m->root);
		}
		if (S_ISDIR(cp.dentry->inode->type)) {
			vfs_path_put(&cp);
			err = -EISDIR;
			break;
		}
		*out = cp;
		break;
	}
	nd_release(&nd);
	return err;
}

static int truncate_opened(struct file *f)
{
	struct vfs_inode *inode = f->inode;
	struct vfs_setattr s = {.valid = VFS_ATTR_SIZE | VFS_ATTR_MTIME_NOW |
					 VFS_ATTR_CTIME,
				.size = 0};
	if (!inode->ops || !inode->ops->setattr)
		return -EINVAL;
	pthread_mutex_lock(&inode->rwsem);
	int err = inode->ops->setattr(inode, &s);
	pthread_mutex_unlock(&inode->rwsem);
	return err;
}

int vfs_open_path(const struct vfs_ctx *c, const struct vfs_path *p, int flags,
		  struct file **out)
{
	int err = may_open(c, p, flags);
	if (err < 0)
		return err;
	struct file *f;
	err = vfs_file_open(c->t, p, flags, &f);
	if (err < 0)
		return err;
	if ((flags & O_TRUNC) && !(flags & O_PATH) &&
	    S_ISREG(p->dentry->inode->type)) {
		err = truncate_opened(f);
		if (err < 0) {
			file_put(f);
			return err;
		}
	}
	*out = f;
	return 0;
}

/* open(O_TMPFILE): an unnamed file in the directory path names, which
 * linkat may name later unless O_EXCL says never. */
static int open_tmpfile(const struct vfs_ctx *c, int dirfd, const char *path,
			int flags, uint32_t mode, unsigned resolve,
			struct file **out)
{
	struct vfs_path dir;
	unsigned lf = resolve | VFS_LOOKUP_DIRECTORY;
	if (!(flags & O_NOFOLLOW))
		lf |= VFS_LOOKUP_FOLLOW;
	int err = vfs_walk(c, dirfd, path, lf, &dir);
	if (err < 0)
		return err;
	uint32_t um = fs_struct_umask(c->fs, -1);
	struct vfs_create vc = {.mode = S_IFREG | (mode & 07777 & ~um)};
	struct vfs_dentry *d = NULL;
	struct vfs_inode *di = dir.dentry->inode;
	pthread_mutex_lock(&di->rwsem);
	err = vfs_tmpfile_locked(c, &dir, &vc, &d);
	pthread_mutex_unlock(&di->rwsem);
	if (err == 0) {
		if (!(flags & O_EXCL)) {
			pthread_mutex_lock(&d->inode->lock);
			d->inode->flags |= VFS_I_LINKABLE;
			pthread_mutex_unlock(&d->inode->lock);
		}
		/* Linux checks the new file's own mode too (may_open). */
		struct vfs_path p = {dir.mnt, d};
		err = vfs_open_path(c, &p, flags & ~(O_EXCL | O_TRUNC), out);
	}
	vfs_dput(d);
	vfs_path_put(&dir);
	return err;
}

int vfs_open(const struct vfs_ctx *c, int dirfd, const char *path, int flags,
	     uint32_t mode, unsigned resolve, struct file **out)
{
	struct vfs_path p = {NULL, NULL};
	bool created = false;
	int err;

	if (flags & O_PATH)
		flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	if (flags & VFS_O_TMPFILE_BIT) {
		/* With O_DIRECTORY, without O_CREAT, for writing: the
		 * first makes kernels without O_TMPFILE fail it. */
		int acc = flags & O_ACCMODE;
		if ((flags & (VFS_O_TMPFILE_BIT | O_DIRECTORY | O_CREAT)) !=
			(VFS_O_TMPFILE_BIT | O_DIRECTORY) ||
		    (acc != O_WRONLY && acc != O_RDWR))
			return -EINVAL;
		return open_tmpfile(c, dirfd, path, flags, mode, resolve, out);
	}
	if ((flags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY))
		return -EINVAL;
	if (flags & O_CREAT) {
		uint32_t um = fs_struct_umask(c->fs, -1);
		err = open_create(c, dirfd, path, flags, mode & ~um, resolve,
				  &p, &created);
	} else {
		unsigned lf = resolve;
		if (!(flags & O_NOFOLLOW))
			lf |= VFS_LOOKUP_FOLLOW;
		if (flags & O_DIRECTORY)
			lf |= VFS_LOOKUP_DIRECTORY;
		err = vfs_walk(c, dirfd, path, lf, &p);
	}
	if (err < 0)
		return err;
	struct file *f;
	if (created) {
		/* The creator opens what it made whatever the new mode
		 * says; the file is empty, so no truncation either. */
		err = vfs_file_open(c->t, &p, flags & ~O_TRUNC, &f);
	} else {
		err = vfs_open_path(c, &p, flags, &f);
	}
	vfs_path_put(&p);
	if (err < 0)
		return err;
	*out = f;
	return 0;
}

int vfs_open_exec(struct task *t, const char *path, struct file **out)
{
	return vfs_open_exec_at(t, VFS_AT_FDCWD, path, 0, out);
}

int vfs_open_exec_at(struct task *t, int dirfd, const char *path,
		     int at_flags, struct file **out)
{
	struct vfs_ctx c = vfs_ctx_of(t);
	struct vfs_path p;
	unsigned lf = (at_flags & AT_SYMLINK_NOFOLLOW) ? 0 : VFS_LOOKUP_FOLLOW;
	if (at_flags & AT_EMPTY_PATH)
		lf |= VFS_LOOKUP_EMPTY;
	int err = vfs_walk(&c, dirfd, path, lf, &p);
	if (err < 0)
		return err;
	struct vfs_inode *inode = p.dentry->inode;
	struct vfs_attr a;
	err = vfs_getattr(inode, &a);
	if (err == 0 && S_ISLNK(inode->type))
		err = -ELOOP;
	if (err == 0 && !S_ISREG(inode->type))
		err = -EACCES;
	if (err == 0 && (p.mnt->flags & VFS_MNT_NOEXEC))
		err = -EACCES;
	if (err == 0)
		err = vfs_permission_attr(&t->cred, &a, VFS_MAY_EXEC);
	if (err == 0)
		err = vfs_file_open(t, &p, O_RDONLY, out);
	vfs_path_put(&p);
	return err;
}
