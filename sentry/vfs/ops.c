/* Namespace and attribute operations with Linux's checks (fs/namei.c,
 * fs/attr.c, fs/open.c, fs/xattr.c): the VFS decides what is allowed,
 * the file system does it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../kernel/kernel.h"
#include "namei.h"
#include "ops_impl.h"

#ifndef ST_VALID
#define ST_VALID 0x0020 /* f_flags is meaningful (Linux's statfs) */
#endif

static bool is_owner(const struct vfs_ctx *c, const struct vfs_attr *a)
{
	return c->cred->fsuid == a->uid || vfs_capable(c->cred, VFS_CAP_FOWNER);
}

/* Write and search permission on the directory, after the read-only
 * check (Linux's mnt_want_write comes first). */
static int may_write_dir(const struct vfs_ctx *c, const struct vfs_path *dir)
{
	if (vfs_mnt_readonly(dir->mnt))
		return -EROFS;
	return vfs_permission(c->cred, dir->dentry->inode,
			      VFS_MAY_WRITE | VFS_MAY_EXEC);
}

/* The owner of a new file in dir and what of vc->mode it keeps. */
static int create_attrs(const struct vfs_ctx *c, struct vfs_inode *dir,
			struct vfs_create *vc)
{
	struct vfs_attr da;
	int err = vfs_getattr(dir, &da);
	if (err < 0)
		return err;
	vc->uid = c->cred->fsuid;
	vc->gid = c->cred->fsgid;
	if (da.mode & S_ISGID) {
		/* A set-group-ID directory hands its group down, and its
		 * set-group-ID bit to subdirectories. */
		vc->gid = da.gid;
		if (S_ISDIR(vc->mode))
			vc->mode |= S_ISGID;
	}
	if (!S_ISDIR(vc->mode) && (vc->mode & S_ISGID) &&
	    (vc->mode & S_IXGRP) && !vfs_in_group(c->cred, vc->gid) &&
	    !vfs_capable(c->cred, VFS_CAP_FSETID))
		vc->mode &= ~(uint32_t)S_ISGID;
	return 0;
}

int vfs_create_locked(const struct vfs_ctx *c, const struct vfs_path *parent,
		      const char *name, struct vfs_create *vc,
		      struct vfs_dentry **out)
{
	struct vfs_dentry *pd = parent->dentry;
	struct vfs_inode *dir = pd->inode;

	if (vfs_d_dead(pd))
		return -ENOENT;
	int err = may_write_dir(c, parent);
	if (err < 0)
		return err;
	if (!dir->ops || !dir->ops->create)
		return -EPERM;
	err = create_attrs(c, dir, vc);
	if (err < 0)
		return err;
	struct vfs_inode *inode;
	err = dir->ops->create(pd, name, vc, &inode);
	if (err < 0)
		return err;
	struct vfs_dentry *d = vfs_d_add(pd, name, inode);
	vfs_inode_put(inode);
	if (!d)
		return -ENOMEM;
	*out = d;
	return 0;
}

/* The parent of path locked, and its last component (negative) looked up:
 * for mknod, mkdir, symlink, link. On success the parent's rwsem is held
 * and *child is the negative dentry. */
static int lookup_create(const struct vfs_ctx *c, int dirfd, const char *path,
			 bool is_dir, struct vfs_last *last,
			 struct vfs_dentry **child)
{
	int err = vfs_walk_parent(c, dirfd, path, 0, last);
	if (err < 0)
		return err;
	if (last->type != VFS_LAST_NORM) {
		vfs_last_put(last);
		return -EEXIST;
	}
	struct vfs_inode *dir = last->parent.dentry->inode;
	*child = NULL;
	pthread_mutex_lock(&dir->rwsem);
	err = vfs_lookup_child_locked(last->parent.dentry, last->name, child);
	if (err == 0 && (*child)->inode)
		err = -EEXIST;
	else if (err == 0 && last->trailing_slash && !is_dir)
		err = -ENOENT;
	if (err == 0 && vfs_mnt_readonly(last->parent.mnt))
		err = -EROFS;
	if (err < 0) {
		pthread_mutex_unlock(&dir->rwsem);
		vfs_dput(*child);
		*child = NULL;
		vfs_last_put(last);
		return err;
	}
	return 0;
}

static void unlock_create(struct vfs_last *last, struct vfs_dentry *child)
{
	pthread_mutex_unlock(&last->parent.dentry->inode->rwsem);
	vfs_dput(child);
	vfs_last_put(last);
}

static int do_create(const struct vfs_ctx *c, int dirfd, const char *path,
		     struct vfs_create *vc)
{
	struct vfs_last last;
	struct vfs_dentry *child = NULL, *d = NULL;
	int err =
	    lookup_create(c, dirfd, path, S_ISDIR(vc->mode), &last, &child);
	if (err < 0)
		return err;
	err = vfs_create_locked(c, &last.parent, last.name, vc, &d);
	vfs_dput(d);
	unlock_create(&last, child);
	return err;
}

int vfs_mknod(const struct vfs_ctx *c, int dirfd, const char *path,
	      uint32_t mode, uint64_t dev)
{
	uint32_t type = mode & S_IFMT;
	if (type == 0)
		type = S_IFREG;
	switch (type) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case S_IFCHR:
	case S_IFBLK:
		if (!vfs_capable(c->cred, VFS_CAP_MKNOD))
			return -EPERM;
		break;
	case S_IFDIR:
		return -EPERM;
	default:
		return -EINVAL;
	}
	uint32_t um = fs_struct_umask(c->fs, -1);
	struct vfs_create vc = {
	    .mode = type | (mode & 07777 & ~um),
	    .rdev = (type == S_IFCHR || type == S_IFBLK) ? dev : 0};
	return do_create(c, dirfd, path, &vc);
}

int vfs_mkdir(const struct vfs_ctx *c, int dirfd, const char *path,
	      uint32_t mode)
{
	uint32_t um = fs_struct_umask(c->fs, -1);
	struct vfs_create vc = {.mode = S_IFDIR | (mode & 01777 & ~um)};
	return do_create(c, dirfd, path, &vc);
}

int vfs_symlink(const struct vfs_ctx *c, const char *target, int dirfd,
		const char *path)
{
	if (!target[0])
		return -ENOENT;
	struct vfs_create vc = {.mode = S_IFLNK | 0777, .target = target};
	return do_create(c, dirfd, path, &vc);
}

/* Linux's may_delete, with dir's rwsem held. */
static int may_delete(const struct vfs_ctx *c, const struct vfs_path *dir,
		      struct vfs_dentry *victim, bool isdir)
{
	if (!victim->inode)
		return -ENOENT;
	int err = vfs_permission(c->cred, dir->dentry->inode,
				 VFS_MAY_WRITE | VFS_MAY_EXEC);
	if (err < 0)
		return err;
	struct vfs_attr da, va;
	err = vfs_getattr(dir->dentry->inode, &da);
	if (err == 0)
		err = vfs_getattr(victim->inode, &va);
	if (err < 0)
		return err;
	/* Sticky directories: only the file's or the directory's owner. */
	if ((da.mode & S_ISVTX) && c->cred->fsuid != va.uid &&
	    c->cred->fsuid != da.uid && !vfs_capable(c->cred, VFS_CAP_FOWNER))
		return -EPERM;
	if (isdir) {
		if (!S_ISDIR(victim->inode->type))
			return -ENOTDIR;
	} else if (S_ISDIR(victim->inode->type)) {
		return -EISDIR;
	}
	if (vfs_d_dead(dir->dentry))
		return -ENOENT;
	if (atomic_load(&victim->mounted))
		return -EBUSY;
	return 0;
}

static int do_remove(const struct vfs_ctx *c, int dirfd, const char *path,
		     bool rmdir)
{
	struct vfs_last last;
	struct vfs_dentry *child = NULL;
	int err = vfs_walk_parent(c, dirfd, path, 0, &last);
	if (err < 0)
		return err;
	if (last.type != VFS_LAST_NORM) {
		if (!rmdir)
			err = -EISDIR;
		else if (last.type == VFS_LAST_DOTDOT)
			err = -ENOTEMPTY;
		else if (last.type == VFS_LAST_DOT)
			err = -EINVAL;
		else
			err = -EBUSY;
		vfs_last_put(&last);
		return err;
	}
	if (vfs_mnt_readonly(last.parent.mnt)) {
		vfs_last_put(&last);
		return -EROFS;
	}
	struct vfs_inode *dir = last.parent.dentry->inode;
	pthread_mutex_lock(&dir->rwsem);
	err = vfs_lookup_child_locked(last.parent.dentry, last.name, &child);
	if (err == 0 && !child->inode)
		err = -ENOENT;
	if (err == 0 && !rmdir && last.trailing_slash)
		err = S_ISDIR(child->inode->type) ? -EISDIR : -ENOTDIR;
	if (err == 0)
		err = may_delete(c, &last.parent, child, rmdir);
	if (err == 0)
		err = dir->ops && dir->ops->unlink
			  ? dir->ops->unlink(last.parent.dentry, last.name,
					     child, rmdir)
			  : -EPERM;
	if (err == 0)
		vfs_d_delete(child);
	pthread_mutex_unlock(&dir->rwsem);
	vfs_dput(child);
	vfs_last_put(&last);
	return err;
}

int vfs_unlink(const struct vfs_ctx *c, int dirfd, const char *path)
{
	return do_remove(c, dirfd, path, false);
}

int vfs_rmdir(const struct vfs_ctx *c, int dirfd, const char *path)
{
	return do_remove(c, dirfd, path, true);
}

int vfs_link(const struct vfs_ctx *c, int olddirfd, const char *oldpath,
	     int newdirfd, const char *newpath, int flags)
{
	struct vfs_path old;
	unsigned lf = 0;
	if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (flags & AT_SYMLINK_FOLLOW)
		lf |= VFS_LOOKUP_FOLLOW;
	if (flags & AT_EMPTY_PATH) {
		if (!vfs_capable(c->cred, VFS_CAP_DAC_READ_SEARCH))
			return -ENOENT;
		lf |= VFS_LOOKUP_EMPTY;
	}
	int err = vfs_walk(c, olddirfd, oldpath, lf, &old);
	if (err < 0)
		return err;
	struct vfs_last last;
	struct vfs_dentry *child = NULL;
	err = lookup_create(c, newdirfd, newpath, false, &last, &child);
	if (err < 0) {
		vfs_path_put(&old);
		return err;
	}
	struct vfs_inode *inode = old.dentry->inode;
	struct vfs_inode *dir = last.parent.dentry->inode;
	struct vfs_attr a;
	if (last.parent.mnt != old.mnt)
		err = -EXDEV;
	if (err == 0)
		err = may_write_dir(c, &last.parent);
	if (err == 0 && S_ISDIR(inode->type))
		err = -EPERM;
	if (err == 0)
		err = vfs_getattr(inode, &a);
	/* fs.protected_hardlinks (on in Debian): a stranger may only link
	 * a plain file it could read and write. */
	if (err == 0 && c->cred->fsuid != a.uid &&
	    !vfs_capable(c->cred, VFS_CAP_FOWNER)) {
		bool setid =
		    (a.mode & S_ISUID) ||
		    (a.mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP);
		if (!S_ISREG(a.mode) || setid ||
		    vfs_permission_attr(c->cred, &a,
					VFS_MAY_READ | VFS_MAY_WRITE) < 0)
			err = -EPERM;
	}
	/* An O_TMPFILE file (not O_EXCL) may get its first name. */
	pthread_mutex_lock(&inode->lock);
	bool linkable = inode->flags & VFS_I_LINKABLE;
	pthread_mutex_unlock(&inode->lock);
	if (err == 0 && a.nlink == 0 && !linkable)
		err = -ENOENT;
	if (err == 0 && (!dir->ops || !dir->ops->link))
		err = -EPERM;
	if (err == 0)
		err = dir->ops->link(last.parent.dentry, last.name, inode);
	if (err == 0 && linkable) {
		pthread_mutex_lock(&inode->lock);
		inode->flags &= ~(unsigned)VFS_I_LINKABLE;
		pthread_mutex_unlock(&inode->lock);
	}
	if (err == 0) {
		struct vfs_dentry *d =
		    vfs_d_add(last.parent.dentry, last.name, inode);
		if (!d)
			vfs_d_drop(child);
		vfs_dput(d);
	}
	unlock_create(&last, child);
	vfs_path_put(&old);
	return err;
}

/* Is a an ancestor of (or equal to) d, in one file system? */
static bool is_ancestor(struct vfs_dentry *a, struct vfs_dentry *d)
{
	bool found = false;
	vfs_dcache_lock();
	for (; d; d = d->parent) {
		if (d == a) {
			found = true;
			break;
		}
	}
	vfs_dcache_unlock();
	return found;
}

/* Locks the two parents of a rename in the documented order. */
static void lock_rename(struct vfs_inode *a, struct vfs_dentry *da,
			struct vfs_inode *b, struct vfs_dentry *db)
{
	if (a == b) {
		pthread_mutex_lock(&a->rwsem);
		return;
	}
	pthread_mutex_lock(&da->sb->rename_lock);
	bool a_first;
	if (is_ancestor(da, db))
		a_first = true;
	else if (is_ancestor(db, da))
		a_first = false;
	else
		a_first = (uintptr_t)a < (uintptr_t)b;
	pthread_mutex_lock(a_first ? &a->rwsem : &b->rwsem);
	pthread_mutex_lock(a_first ? &b->rwsem : &a->rwsem);
}

static void unlock_rename(struct vfs_inode *a, struct vfs_dentry *da,
			  struct vfs_inode *b)
{
	pthread_mutex_unlock(&a->rwsem);
	if (a != b) {
		pthread_mutex_unlock(&b->rwsem);
		pthread_mutex_unlock(&da->sb->rename_lock);
	}
}

int vfs_rename(const struct vfs_ctx *c, int olddirfd, const char *oldpath,
	       int newdirfd, const char *newpath, unsigned flags)
{
	struct vfs_last ol, nl;
	struct vfs_dentry *od = NULL, *nd = NULL;
	bool exchange = flags & VFS_RENAME_EXCHANGE;

	if (flags &
	    ~(VFS_RENAME_NOREPLACE | VFS_RENAME_EXCHANGE | VFS_RENAME_WHITEOUT))
		return -EINVAL;
	if ((flags & VFS_RENAME_EXCHANGE) &&
	    (flags & (VFS_RENAME_NOREPLACE | VFS_RENAME_WHITEOUT)))
		return -EINVAL;
	if (flags & VFS_RENAME_WHITEOUT)
		return -EINVAL; /* overlay's own business */
	int err = vfs_walk_parent(c, olddirfd, oldpath, 0, &ol);
	if (err < 0)
		return err;
	err = vfs_walk_parent(c, newdirfd, newpath, 0, &nl);
	if (err < 0) {
		vfs_last_put(&ol);
		return err;
	}
	if (ol.parent.mnt != nl.parent.mnt)
		err = -EXDEV;
	else if (ol.type != VFS_LAST_NORM || nl.type != VFS_LAST_NORM)
		err = -EBUSY;
	else if (vfs_mnt_readonly(ol.parent.mnt))
		err = -EROFS;
	if (err < 0)
		goto out_paths;

	struct vfs_inode *odir = ol.parent.dentry->inode;
	struct vfs_inode *ndir = nl.parent.dentry->inode;
	lock_rename(odir, ol.parent.dentry, ndir, nl.parent.dentry);
	err = vfs_lookup_child_locked(ol.parent.dentry, ol.name, &od);
	if (err == 0 && !od->inode)
		err = -ENOENT;
	if (err == 0)
		err = vfs_lookup_child_locked(nl.parent.dentry, nl.name, &nd);
	if (err < 0)
		goto out_unlock;
	if (exchange && !nd->inode) {
		err = -ENOENT;
		goto out_unlock;
	}
	if ((flags & VFS_RENAME_NOREPLACE) && nd->inode) {
		err = -EEXIST;
		goto out_unlock;
	}
	bool odir_is = S_ISDIR(od->inode->type);
	bool ndir_is = nd->inode && S_ISDIR(nd->inode->type);
	if (!odir_is &&
	    (ol.trailing_slash || (nl.trailing_slash && !exchange))) {
		err = -ENOTDIR;
		goto out_unlock;
	}
	if (exchange && !ndir_is && nl.trailing_slash) {
		err = -ENOTDIR;
		goto out_unlock;
	}
	/* Moving a directory under itself makes a loop. */
	if (is_ancestor(od, nl.parent.dentry)) {
		err = -EINVAL;
		goto out_unlock;
	}
	if (nd->inode && is_ancestor(nd, ol.parent.dentry)) {
		err = exchange ? -EINVAL : -ENOTEMPTY;
		goto out_unlock;
	}
	if (od->inode == nd->inode)
		goto out_unlock; /* the same file: nothing to do */
	err = may_delete(c, &ol.parent, od, odir_is);
	if (err == 0 && nd->inode)
		err =
		    may_delete(c, &nl.parent, nd, exchange ? ndir_is : odir_is);
	else if (err == 0)
		err =
		    vfs_permission(c->cred, ndir, VFS_MAY_WRITE | VFS_MAY_EXEC);
	if (err == 0 && vfs_d_dead(nl.parent.dentry))
		err = -ENOENT;
	/* A directory changing parents rewrites its "..". */
	if (err == 0 && odir != ndir) {
		if (odir_is)
			err = vfs_permission(c->cred, od->inode, VFS_MAY_WRITE);
		if (err == 0 && exchange && ndir_is)
			err = vfs_permission(c->cred, nd->inode, VFS_MAY_WRITE);
	}
	if (err == 0 && (!odir->ops || !odir->ops->rename))
		err = -EPERM;
	if (err == 0)
		err =
		    odir->ops->rename(ol.parent.dentry, ol.name,
				      nl.parent.dentry, nl.name, od, nd, flags);
	if (err == 0)
		vfs_d_move(od, nl.parent.dentry, nl.name, nd->inode ? nd : NULL,
			   exchange);
out_unlock:
	unlock_rename(odir, ol.parent.dentry, ndir);
	vfs_dput(od);
	vfs_dput(nd);
out_paths:
	vfs_last_put(&ol);
	vfs_last_put(&nl);
	return err;
}

long vfs_readlink(const struct vfs_ctx *c, int dirfd, const char *path,
		  char *buf, size_t len)
{
	struct vfs_path p;
	int err = vfs_walk(c, dirfd, path, VFS_LOOKUP_EMPTY, &p);
	if (err < 0)
		return err;
	struct vfs_inode *inode = p.dentry->inode;
	long r;
	if (!S_ISLNK(inode->type))
		r = -EINVAL;
	else if (inode->ops && inode->ops->readlink)
		r = inode->ops->readlink(inode, buf, len);
	else
		r = -EINVAL;
	vfs_path_put(&p);
	return r;
}

/* ---- the sentry's own namespace changes --------------------------------- */

int vfs_k_create(struct vfs_dentry *dir, const char *name,
		 const struct vfs_create *vc, struct vfs_dentry **out)
{
	struct vfs_inode *di = dir->inode;
	struct vfs_dentry *child = NULL;
	struct vfs_inode *inode;
	if (!di->ops || !di->ops->create)
		return -EPERM;
	pthread_mutex_lock(&di->rwsem);
	int err = vfs_lookup_child_locked(dir, name, &child);
	if (err == 0 && child->inode)
		err = -EEXIST;
	if (err == 0)
		err = di->ops->create(dir, name, vc, &inode);
	if (err == 0) {
		struct vfs_dentry *d = vfs_d_add(dir, name, inode);
		vfs_inode_put(inode);
		if (!d)
			err = -ENOMEM;
		else if (out)
			*out = d;
		else
			vfs_dput(d);
	}
	pthread_mutex_unlock(&di->rwsem);
	vfs_dput(child);
	return err;
}

/* dir's rwsem held. The new inode gets a dead dentry named as Linux's
 * d_tmpfile names it ("#" and the inode number). */
static int tmpfile_locked(struct vfs_dentry *dir, const struct vfs_create *vc,
			  struct vfs_dentry **out)
{
	struct vfs_inode *di = dir->inode, *inode;
	if (!di->ops || !di->ops->tmpfile)
		return -EOPNOTSUPP;
	int err = di->ops->tmpfile(dir, vc, &inode);
	if (err < 0)
		return err;
	char name[32];
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)inode->ino);
	*out = vfs_d_new_dead(dir, name, inode);
	vfs_inode_put(inode);
	return *out ? 0 : -ENOMEM;
}

int vfs_tmpfile_locked(const struct vfs_ctx *c, const struct vfs_path *dir,
		       struct vfs_create *vc, struct vfs_dentry **out)
{
	if (vfs_d_dead(dir->dentry))
		return -ENOENT;
	int err = may_write_dir(c, dir);
	if (err == 0 && (!dir->dentry->inode->ops ||
			 !dir->dentry->inode->ops->tmpfile))
		err = -EOPNOTSUPP;
	if (err == 0)
		err = create_attrs(c, dir->dentry->inode, vc);
	if (err == 0)
		err = tmpfile_locked(dir->dentry, vc, out);
	return err;
}

int vfs_k_tmpfile(struct vfs_dentry *dir, const struct vfs_create *vc,
		  struct vfs_dentry **out)
{
	pthread_mutex_lock(&dir->inode->rwsem);
	int err = tmpfile_locked(dir, vc, out);
	pthread_mutex_unlock(&dir->inode->rwsem);
	return err;
}

int vfs_k_unlink(struct vfs_dentry *dir, struct vfs_dentry *victim, bool rmdir)
{
	struct vfs_inode *di = dir->inode;
	char name[256];
	int err = vfs_d_name(victim, name, sizeof(name));
	if (err < 0)
		return err;
	if (!di->ops || !di->ops->unlink)
		return -EPERM;
	pthread_mutex_lock(&di->rwsem);
	err = di->ops->unlink(dir, name, victim, rmdir);
	if (err == 0)
		vfs_d_delete(victim);
	pthread_mutex_unlock(&di->rwsem);
	return err;
}

int vfs_k_rename(struct vfs_dentry *odir, struct vfs_dentry *old,
		 struct vfs_dentry *ndir, const char *nname, unsigned flags)
{
	struct vfs_inode *oi = odir->inode, *ni = ndir->inode;
	char oname[256];
	struct vfs_dentry *nv = NULL;
	int err = vfs_d_name(old, oname, sizeof(oname));
	if (err < 0)
		return err;
	if (!oi->ops || !oi->ops->rename)
		return -EPERM;
	lock_rename(oi, odir, ni, ndir);
	err = vfs_lookup_child_locked(ndir, nname, &nv);
	if (err == 0 && (flags & VFS_RENAME_NOREPLACE) && nv->inode)
		err = -EEXIST;
	if (err == 0)
		err = oi->ops->rename(odir, oname, ndir, nname, old, nv, flags);
	if (err == 0)
		vfs_d_move(old, ndir, nname, nv->inode ? nv : NULL,
			   flags & VFS_RENAME_EXCHANGE);
	unlock_rename(oi, odir, ni);
	vfs_dput(nv);
	return err;
}

int vfs_k_link(struct vfs_dentry *dir, const char *name,
	       struct vfs_inode *target, struct vfs_dentry **out)
{
	struct vfs_inode *di = dir->inode;
	struct vfs_dentry *child = NULL;
	if (!di->ops || !di->ops->link)
		return -EPERM;
	pthread_mutex_lock(&di->rwsem);
	int err = vfs_lookup_child_locked(dir, name, &child);
	if (err == 0 && child->inode)
		err = -EEXIST;
	if (err == 0)
		err = di->ops->link(dir, name, target);
	if (err == 0) {
		struct vfs_dentry *d = vfs_d_add(dir, name, target);
		if (!d)
			err = -ENOMEM;
		else if (out)
			*out = d;
		else
			vfs_dput(d);
	}
	pthread_mutex_unlock(&di->rwsem);
	vfs_dput(child);
	return err;
}

/* ---- attributes -------------------------------------------------------- */

void vfs_attr_to_stat(const struct vfs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = a->dev;
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blksize = a->blksize;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

int vfs_stat_path(const struct vfs_path *p, struct vfs_attr *a)
{
	return vfs_getattr(p->dentry->inode, a);
}

int vfs_fstat(struct file *f, struct stat *st)
{
	if (!f->inode) {
		if (!f->ops->fstat)
			return -EBADF;
		return (int)f->ops->fstat(f, st);
	}
	struct vfs_attr a;
	int err = vfs_getattr(f->inode, &a);
	if (err < 0)
		return err;
	vfs_attr_to_stat(&a, st);
	return 0;
}

static int setattr(struct vfs_inode *inode, struct vfs_setattr *s)
{
	if (!inode->ops || !inode->ops->setattr)
		return -EPERM;
	s->valid |= VFS_ATTR_CTIME;
	pthread_mutex_lock(&inode->rwsem);
	int err = inode->ops->setattr(inode, s);
	pthread_mutex_unlock(&inode->rwsem);
	return err;
}

int vfs_chmod(const struct vfs_ctx *c, const struct vfs_path *p, uint32_t mode)
{
	struct vfs_inode *inode = p->dentry->inode;
	struct vfs_attr a;
	if (S_ISLNK(inode->type))
		return -EOPNOTSUPP;
	if (vfs_mnt_readonly(p->mnt))
		return -EROFS;
	int err = vfs_getattr(inode, &a);
	if (err < 0)
		return err;
	if (!is_owner(c, &a))
		return -EPERM;
	mode &= 07777;
	if (!vfs_in_group(c->cred, a.gid) &&
	    !vfs_capable(c->cred, VFS_CAP_FSETID))
		mode &= ~(uint32_t)S_ISGID;
	struct vfs_setattr s = {.valid = VFS_ATTR_MODE,
				.mode = (a.mode & S_IFMT) | mode};
	return setattr(inode, &s);
}

int vfs_chown(const struct vfs_ctx *c, const struct vfs_path *p, uint32_t uid,
	      uint32_t gid)
{
	struct vfs_inode *inode = p->dentry->inode;
	struct vfs_attr a;
	if (vfs_mnt_readonly(p->mnt))
		return -EROFS;
	int err = vfs_getattr(inode, &a);
	if (err < 0)
		return err;
	bool cap = vfs_capable(c->cred, VFS_CAP_CHOWN);
	struct vfs_setattr s = {0};
	if (uid != (uint32_t)-1) {
		if (!cap && !(c->cred->fsuid == a.uid && uid == a.uid))
			return -EPERM;
		s.valid |= VFS_ATTR_UID;
		s.uid = uid;
	}
	if (gid != (uint32_t)-1) {
		if (!cap && !(c->cred->fsuid == a.uid &&
			      (vfs_in_group(c->cred, gid) || gid == a.gid)))
			return -EPERM;
		s.valid |= VFS_ATTR_GID;
		s.gid = gid;
	}
	/* A chown of a non-directory drops its set-id bits, even root's. */
	if (!S_ISDIR(a.mode) && !S_ISLNK(a.mode)) {
		uint32_t m = a.mode;
		m &= ~(uint32_t)S_ISUID;
		if ((m & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
			m &= ~(uint32_t)S_ISGID;
		if (m != a.mode) {
			s.valid |= VFS_ATTR_MODE;
			s.mode = m;
		}
	}
	return setattr(inode, &s);
}

int vfs_utimes(const struct vfs_ctx *c, const struct vfs_path *p,
	       const struct timespec *times)
{
	struct vfs_inode *inode = p->dentry->inode;
	struct vfs_setattr s = {0};
	bool explicit = false;

	if (times) {
		for (int i = 0; i < 2; i++) {
			long ns = times[i].tv_nsec;
			if (ns != UTIME_NOW && ns != UTIME_OMIT &&
			    (ns < 0 || ns >= 1000000000L))
				return -EINVAL;
		}
		if (times[0].tv_nsec == UTIME_OMIT &&
		    times[1].tv_nsec == UTIME_OMIT)
			return 0;
		if (times[0].tv_nsec == UTIME_NOW)
			s.valid |= VFS_ATTR_ATIME_NOW;
		else if (times[0].tv_nsec != UTIME_OMIT) {
			s.valid |= VFS_ATTR_ATIME;
			s.atime = times[0];
			explicit = true;
		}
		if (times[1].tv_nsec == UTIME_NOW)
			s.valid |= VFS_ATTR_MTIME_NOW;
		else if (times[1].tv_nsec != UTIME_OMIT) {
			s.valid |= VFS_ATTR_MTIME;
			s.mtime = times[1];
			explicit = true;
		}
	} else {
		s.valid = VFS_ATTR_ATIME_NOW | VFS_ATTR_MTIME_NOW;
	}
	if (vfs_mnt_readonly(p->mnt))
		return -EROFS;
	struct vfs_attr a;
	int err = vfs_getattr(inode, &a);
	if (err < 0)
		return err;
	if (!is_owner(c, &a)) {
		/* "Now" only needs write access; other times need the
		 * owner. */
		if (explicit)
			return -EPERM;
		err = vfs_permission_attr(c->cred, &a, VFS_MAY_WRITE);
		if (err < 0)
			return err;
	}
	return setattr(inode, &s);
}

static int do_truncate(struct vfs_inode *inode, uint64_t size)
{
	struct vfs_setattr s = {.valid = VFS_ATTR_SIZE | VFS_ATTR_MTIME_NOW,
				.size = size};
	return setattr(inode, &s);
}

static int check_fsize(const struct vfs_ctx *c, uint64_t size)
{
	if (c->t && size > task_rlimit_cur(c->t, RLIMIT_FSIZE))
		return -EFBIG;
	if (size > (uint64_t)INT64_MAX)
		return -EINVAL;
	return 0;
}

int vfs_truncate(const struct vfs_ctx *c, const struct vfs_path *p,
		 uint64_t size)
{
	struct vfs_inode *inode = p->dentry->inode;
	if (S_ISDIR(inode->type))
		return -EISDIR;
	if (!S_ISREG(inode->type))
		return -EINVAL;
	if (vfs_mnt_readonly(p->mnt))
		return -EROFS;
	int err = vfs_permission(c->cred, inode, VFS_MAY_WRITE);
	if (err < 0)
		return err;
	/* A program running from it takes no writers (Linux's
	 * get_write_access). */
	if (atomic_load(&inode->writecount) < 0)
		return -ETXTBSY;
	err = check_fsize(c, size);
	if (err < 0)
		return err;
	return do_truncate(inode, size);
}

int vfs_ftruncate(const struct vfs_ctx *c, struct file *f, int64_t size)
{
	if (size < 0)
		return -EINVAL;
	if (!f->inode || (f->mode & FMODE_PATH))
		return -EBADF;
	if (!S_ISREG(f->inode->type) || !(f->mode & FMODE_WRITE))
		return -EINVAL;
	int err = check_fsize(c, (uint64_t)size);
	if (err < 0)
		return err;
	return do_truncate(f->inode, (uint64_t)size);
}

int vfs_access(const struct vfs_ctx *c, const struct vfs_path *p, int mode,
	       bool eaccess)
{
	struct vfs_inode *inode = p->dentry->inode;
	if (mode == F_OK)
		return 0;
	struct creds real = *c->cred;
	if (!eaccess) {
		real.fsuid = c->cred->ruid;
		real.fsgid = c->cred->rgid;
	}
	int mask = 0;
	if (mode & R_OK)
		mask |= VFS_MAY_READ;
	if (mode & W_OK)
		mask |= VFS_MAY_WRITE;
	if (mode & X_OK)
		mask |= VFS_MAY_EXEC;
	if ((mask & VFS_MAY_WRITE) && vfs_mnt_readonly(p->mnt) &&
	    (S_ISREG(inode->type) || S_ISDIR(inode->type) ||
	     S_ISLNK(inode->type)))
		return -EROFS;
	if ((mask & VFS_MAY_EXEC) && S_ISREG(inode->type) &&
	    (p->mnt->flags & VFS_MNT_NOEXEC))
		return -EACCES;
	return vfs_permission(&real, inode, mask);
}

int vfs_statfs(const struct vfs_path *p, struct statfs *st)
{
	struct vfs_sb *sb = p->dentry->sb;
	memset(st, 0, sizeof(*st));
	st->f_type = sb->magic;
	st->f_bsize = 4096;
	st->f_namelen = 255;
	st->f_frsize = 4096;
	int err = sb->ops && sb->ops->statfs ? sb->ops->statfs(sb, st) : 0;
	if (err < 0)
		return err;
	unsigned mf = p->mnt->flags;
	st->f_flags = ST_VALID;
	if (mf & VFS_MNT_RDONLY || (sb->flags & VFS_SB_RDONLY))
		st->f_flags |= ST_RDONLY;
	if (mf & VFS_MNT_NOSUID)
		st->f_flags |= ST_NOSUID;
	if (mf & VFS_MNT_NODEV)
		st->f_flags |= ST_NODEV;
	if (mf & VFS_MNT_NOEXEC)
		st->f_flags |= ST_NOEXEC;
	st->f_fsid.__val[0] = (int)(sb->dev & 0xffffffff);
	return 0;
}

/* ---- extended attributes ----------------------------------------------- */

#define XATTR_NAME_MAX_ 255
#define XATTR_SIZE_MAX_ 65536

enum xns { XNS_USER, XNS_TRUSTED, XNS_SECURITY, XNS_SYSTEM, XNS_BAD };

static enum xns xattr_ns(const char *name)
{
	if (strncmp(name, "user.", 5) == 0)
		return XNS_USER;
	if (strncmp(name, "trusted.", 8) == 0)
		return XNS_TRUSTED;
	if (strncmp(name, "security.", 9) == 0)
		return XNS_SECURITY;
	if (strncmp(name, "system.", 7) == 0)
		return XNS_SYSTEM;
	return XNS_BAD;
}

/* Linux's xattr_permission. */
static int xattr_permission(const struct vfs_ctx *c, struct vfs_inode *inode,
			    const char *name, int mask)
{
	size_t len = strlen(name);
	if (len == 0 || len > XATTR_NAME_MAX_)
		return -ERANGE;
	switch (xattr_ns(name)) {
	case XNS_BAD:
		return -EOPNOTSUPP;
	case XNS_TRUSTED:
		if (!vfs_capable(c->cred, VFS_CAP_SYS_ADMIN))
			return mask & VFS_MAY_WRITE ? -EPERM : -ENODATA;
		return 0;
	case XNS_SECURITY:
	case XNS_SYSTEM:
		if (mask & VFS_MAY_WRITE)
			break;
		return 0;
	case XNS_USER:
		if (!S_ISREG(inode->type) && !S_ISDIR(inode->type))
			return mask & VFS_MAY_WRITE ? -EPERM : -ENODATA;
		if (S_ISDIR(inode->type) && (mask & VFS_MAY_WRITE)) {
			struct vfs_attr a;
			int err = vfs_getattr(inode, &a);
			if (err < 0)
				return err;
			if ((a.mode & S_ISVTX) && c->cred->fsuid != a.uid &&
			    !vfs_capable(c->cred, VFS_CAP_FOWNER))
				return -EPERM;
		}
		break;
	}
	return vfs_permission(c->cred, inode, mask);
}

long vfs_getxattr(const struct vfs_ctx *c, const struct vfs_path *p,
		  const char *name, void *buf, size_t len)
{
	struct vfs_inode *inode = p->dentry->inode;
	int err = xattr_permission(c, inode, name, VFS_MAY_READ);
	if (err < 0)
		return err;
	if (!inode->ops || !inode->ops->getxattr)
		return -EOPNOTSUPP;
	if (len > XATTR_SIZE_MAX_)
		len = XATTR_SIZE_MAX_;
	return inode->ops->getxattr(inode, name, buf, len);
}

int vfs_setxattr(const struct vfs_ctx *c, const struct vfs_path *p,
		 const char *name, const void *val, size_t len, int flags)
{
	struct vfs_inode *inode = p->dentry->inode;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (len > XATTR_SIZE_MAX_)
		return -E2BIG;
	size_t nl = strlen(name);
	if (nl == 0 || nl > XATTR_NAME_MAX_)
		return -ERANGE;
	if (vfs_mnt_readonly(p->mnt))
		return -EROFS;
	int err = xattr_permission(c, inode, name, VFS_MAY_WRITE);
	if (err < 0)
		return err;
	if (!inode->ops || !inode->ops->setxattr)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&inode->rwsem);
	err = inode->ops->setxattr(inode, name, val, len, flags);
	pthread_mutex_unlock(&inode->rwsem);
	return err;
}

long vfs_listxattr(const struct vfs_ctx *c, const struct vfs_path *p, char *buf,
		   size_t len)
{
	struct vfs_inode *inode = p->dentry->inode;
	if (!inode->ops || !inode->ops->listxattr)
		return 0;
	if (len > XATTR_SIZE_MAX_)
		len = XATTR_SIZE_MAX_;
	/* trusted.* names are only listed for CAP_SYS_ADMIN. */
	char *all = malloc(XATTR_SIZE_MAX_);
	if (!all)
		return -ENOMEM;
	long n = inode->ops->listxattr(inode, all, XATTR_SIZE_MAX_);
	if (n < 0) {
		free(all);
		return n;
	}
	size_t out = 0;
	bool admin = vfs_capable(c->cred, VFS_CAP_SYS_ADMIN);
	long err = 0;
	for (long i = 0; i < n;) {
		size_t l = strnlen(all + i, (size_t)(n - i));
		if (admin || xattr_ns(all + i) != XNS_TRUSTED) {
			if (len) {
				if (out + l + 1 > len) {
					err = -ERANGE;
					break;
				}
				memcpy(buf + out, all + i, l + 1);
			}
			out += l + 1;
		}
		i += (long)l + 1;
	}
	free(all);
	return err ? err : (long)out;
}

int vfs_removexattr(const struct vfs_ctx *c, const struct vfs_path *p,
		    const char *name)
{
	struct vfs_inode *inode = p->dentry->inode;
	if (vfs_mnt_readonly(p->mnt))
		return -EROFS;
	int err = xattr_permission(c, inode, name, VFS_MAY_WRITE);
	if (err < 0)
		return err;
	if (!inode->ops || !inode->ops->removexattr)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&inode->rwsem);
	err = inode->ops->removexattr(inode, name);
	pthread_mutex_unlock(&inode->rwsem);
	return err;
}
