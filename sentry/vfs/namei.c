/* The path walk: one component at a time through the dentry cache, with
 * "." and ".." handled here (".." never leaves the walk's root: the task's
 * root, or the dirfd for RESOLVE_BENEATH/IN_ROOT), mounts crossed both
 * ways, and symlinks expanded in place: the walk keeps the rest of the
 * path as text, and following a link replaces the component by the link's
 * target. At most VFS_MAXSYMLINKS links per walk (ELOOP).
 *
 * No lock is held between components; a lookup the cache cannot answer
 * holds that one directory's rwsem while the file system answers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "../kernel/kernel.h"
#include "namei.h"

#define WALK_BUF_MAX (256 * 1024)

/* A cached child, checked again if its directory asks for it (a directory
 * the host may change too). NULL: not cached, or stale (dropped). */
static struct vfs_dentry *cached_child(struct vfs_dentry *parent,
				       const char *name, int *err)
{
	struct vfs_inode *dir = parent->inode;
	struct vfs_dentry *d = vfs_d_lookup(parent, name);
	*err = 0;
	if (!d || !(dir->flags & VFS_I_REVALIDATE) || !dir->ops->revalidate)
		return d;
	int v = dir->ops->revalidate(parent, name, d);
	if (v > 0)
		return d;
	if (v == 0)
		vfs_d_drop(d);
	else
		*err = v;
	vfs_dput(d);
	return NULL;
}

int vfs_lookup_child_locked(struct vfs_dentry *parent, const char *name,
			    struct vfs_dentry **out)
{
	struct vfs_inode *dir = parent->inode;
	if (!dir || !S_ISDIR(dir->type))
		return -ENOTDIR;
	int err;
	struct vfs_dentry *d = cached_child(parent, name, &err);
	if (err < 0)
		return err;
	if (d) {
		*out = d;
		return 0;
	}
	if (vfs_d_dead(parent))
		return -ENOENT; /* a removed directory has no entries */
	if (!dir->ops || !dir->ops->lookup)
		return -ENOENT;
	struct vfs_inode *inode = NULL;
	err = dir->ops->lookup(parent, name, &inode);
	if (err < 0 && err != -ENOENT)
		return err;
	d = vfs_d_add(parent, name, err < 0 ? NULL : inode);
	vfs_inode_put(inode);
	if (!d)
		return -ENOMEM;
	*out = d;
	return 0;
}

int vfs_lookup_child(struct vfs_dentry *parent, const char *name,
		     struct vfs_dentry **out)
{
	struct vfs_inode *dir = parent->inode;
	if (!dir || !S_ISDIR(dir->type))
		return -ENOTDIR;
	int err;
	struct vfs_dentry *d = cached_child(parent, name, &err);
	if (err < 0)
		return err;
	if (d) {
		*out = d;
		return 0;
	}
	pthread_mutex_lock(&dir->rwsem);
	err = vfs_lookup_child_locked(parent, name, out);
	pthread_mutex_unlock(&dir->rwsem);
	return err;
}

int vfs_start_path(const struct vfs_ctx *c, int dirfd, struct vfs_path *out)
{
	if (dirfd == VFS_AT_FDCWD) {
		fs_struct_get_cwd(c->fs, out);
		return 0;
	}
	if (!c->fdt)
		return -EBADF;
	struct file *f = fd_get(c->fdt, dirfd);
	if (!f)
		return -EBADF;
	if (!f->dentry) {
		file_put(f);
		return -ENOTDIR;
	}
	out->mnt = vfs_mnt_ref(f->mnt);
	out->dentry = vfs_dget(f->dentry);
	file_put(f);
	return 0;
}

void nd_release(struct nd *nd)
{
	vfs_path_put(&nd->cur);
	vfs_path_put(&nd->root);
	free(nd->buf);
	nd->buf = NULL;
}

/* Replaces the text still to walk (buf[pos..]) by head + tail. */
static int nd_set_text(struct nd *nd, const char *head, size_t hlen,
		       const char *tail)
{
	size_t tlen = strlen(tail);
	if (hlen + tlen + 1 > WALK_BUF_MAX)
		return -ENAMETOOLONG;
	char *b = malloc(hlen + tlen + 1);
	if (!b)
		return -ENOMEM;
	memcpy(b, head, hlen);
	memcpy(b + hlen, tail, tlen + 1);
	free(nd->buf);
	nd->buf = b;
	nd->pos = 0;
	return 0;
}

/* Moves cur to the root (absolute path or symlink). */
static int nd_jump_root(struct nd *nd)
{
	if (nd->flags & VFS_RESOLVE_BENEATH)
		return -EXDEV;
	if ((nd->flags & VFS_RESOLVE_NO_XDEV) && nd->cur.mnt != nd->root.mnt)
		return -EXDEV;
	vfs_path_put(&nd->cur);
	nd->cur = nd->root;
	vfs_path_get(&nd->cur);
	return 0;
}

int nd_init(struct nd *nd, const struct vfs_ctx *c, int dirfd, const char *path,
	    unsigned flags)
{
	memset(nd, 0, sizeof(*nd));
	nd->c = c;
	nd->flags = flags;
	int err = nd_set_text(nd, path, strlen(path), "");
	if (err < 0)
		return err;
	bool scoped = flags & (VFS_RESOLVE_BENEATH | VFS_RESOLVE_IN_ROOT);
	if (path[0] == '/' && !scoped) {
		fs_struct_get_root(c->fs, &nd->root);
		nd->cur = nd->root;
		vfs_path_get(&nd->cur);
		return 0;
	}
	if (path[0] == '\0' && !(flags & VFS_LOOKUP_EMPTY))
		return -ENOENT;
	err = vfs_start_path(c, dirfd, &nd->cur);
	if (err < 0)
		return err;
	if (scoped) {
		nd->root = nd->cur;
		vfs_path_get(&nd->root);
		if (path[0] == '/' && (flags & VFS_RESOLVE_BENEATH))
			return -EXDEV;
	} else {
		fs_struct_get_root(c->fs, &nd->root);
	}
	return 0;
}

/* Follows mounts stacked on cur down to the topmost's root. */
static int nd_follow_mounts(struct nd *nd, struct vfs_path *p)
{
	struct vfs_mount *m;
	while ((m = vfs_lookup_mnt(p->mnt, p->dentry))) {
		if (nd->flags & VFS_RESOLVE_NO_XDEV) {
			vfs_mnt_put(m);
			return -EXDEV;
		}
		vfs_dput(p->dentry);
		vfs_mnt_put(p->mnt);
		p->mnt = m;
		p->dentry = vfs_dget(m->root);
	}
	return 0;
}

/* Is p at or below root (through dentry parents and mounts)? */
static bool path_is_under(const struct vfs_path *p, const struct vfs_path *root)
{
	struct vfs_mount *m = p->mnt;
	struct vfs_dentry *d = p->dentry;
	bool under = false;
	vfs_dcache_lock();
	for (;;) {
		if (m == root->mnt && d == root->dentry) {
			under = true;
			break;
		}
		if (d == m->root || !d->parent) {
			if (!m->parent)
				break;
			d = m->mountpoint;
			m = m->parent;
			continue;
		}
		d = d->parent;
	}
	vfs_dcache_unlock();
	return under;
}

static int nd_dotdot(struct nd *nd)
{
	for (;;) {
		if (vfs_path_equal(&nd->cur, &nd->root)) {
			if (nd->flags & VFS_RESOLVE_BENEATH)
				return -EXDEV;
			return 0; /* ".." of the root is the root */
		}
		if (nd->cur.dentry != nd->cur.mnt->root)
			break;
		struct vfs_mount *m = nd->cur.mnt;
		if (!m->parent)
			return 0; /* the namespace's root */
		if (nd->flags & VFS_RESOLVE_NO_XDEV)
			return -EXDEV;
		struct vfs_path up = {vfs_mnt_ref(m->parent),
				      vfs_dget(m->mountpoint)};
		vfs_path_put(&nd->cur);
		nd->cur = up;
	}
	struct vfs_dentry *parent = vfs_d_parent(nd->cur.dentry);
	vfs_dput(nd->cur.dentry);
	nd->cur.dentry = parent;
	int err = nd_follow_mounts(nd, &nd->cur);
	if (err < 0)
		return err;
	/* A rename may have moved cur out from under a scoped root while we
	 * walked: refuse rather than resolve outside it. */
	if ((nd->flags & (VFS_RESOLVE_BENEATH | VFS_RESOLVE_IN_ROOT)) &&
	    !path_is_under(&nd->cur, &nd->root))
		return -EXDEV;
	return 0;
}

static int may_lookup(struct nd *nd)
{
	struct vfs_inode *dir = nd->cur.dentry->inode;
	if (!dir || !S_ISDIR(dir->type))
		return -ENOTDIR;
	return vfs_permission(nd->c->cred, dir, VFS_MAY_EXEC);
}

int nd_follow_link(struct nd *nd, struct vfs_path *link, const char *rest)
{
	struct vfs_inode *inode = link->dentry->inode;

	if (nd->flags & VFS_RESOLVE_NO_SYMLINKS)
		return -ELOOP;
	if (++nd->nlinks > VFS_MAXSYMLINKS)
		return -ELOOP;
	if (inode->ops && inode->ops->get_link) {
		/* A magic link (procfs): a jump to a place, not a text. */
		if (nd->flags & VFS_RESOLVE_NO_MAGICLINKS)
			return -ELOOP;
		if (nd->flags & (VFS_RESOLVE_BENEATH | VFS_RESOLVE_IN_ROOT))
			return -EXDEV;
		struct vfs_mount *m = NULL;
		struct vfs_dentry *d = NULL;
		int err =
		    inode->ops->get_link(nd->c->t, inode, link->dentry, &m, &d);
		if (err < 0)
			return err;
		if ((nd->flags & VFS_RESOLVE_NO_XDEV) && m != nd->cur.mnt) {
			vfs_dput(d);
			vfs_mnt_put(m);
			return -EXDEV;
		}
		vfs_path_put(&nd->cur);
		nd->cur.mnt = m;
		nd->cur.dentry = d;
		return nd_set_text(nd, "", 0, rest);
	}
	if (!inode->ops || !inode->ops->readlink)
		return -EINVAL;
	char *target = malloc(4097);
	if (!target)
		return -ENOMEM;
	long n = inode->ops->readlink(inode, target, 4096);
	if (n < 0) {
		free(target);
		return (int)n;
	}
	if (n == 0) {
		free(target);
		return -ENOENT;
	}
	target[n] = '\0';
	int err = 0;
	if (target[0] == '/')
		err = nd_jump_root(nd);
	if (err == 0)
		err = nd_set_text(nd, target, (size_t)n, rest);
	free(target);
	return err;
}

int nd_walk(struct nd *nd, struct vfs_last *last)
{
	char name[256];
	int err;

	for (;;) {
		const char *b = nd->buf;
		size_t pos = nd->pos;
		while (b[pos] == '/')
			pos++;
		if (!b[pos]) {
			nd->pos = pos;
			break;
		}
		size_t len = strcspn(b + pos, "/");
		size_t next = pos + len;
		size_t q = next;
		while (b[q] == '/')
			q++;
		bool is_last = b[q] == '\0';
		bool slash = b[next] == '/';
		if (len > 255)
			return -ENAMETOOLONG;
		memcpy(name, b + pos, len);
		name[len] = '\0';

		if (is_last && last) {
			/* The caller handles the last component. */
			last->parent = nd->cur;
			vfs_path_get(&last->parent);
			memcpy(last->name, name, len + 1);
			last->trailing_slash = slash;
			if (strcmp(name, ".") == 0)
				last->type = VFS_LAST_DOT;
			else if (strcmp(name, "..") == 0)
				last->type = VFS_LAST_DOTDOT;
			else
				last->type = VFS_LAST_NORM;
			nd->pos = next;
			return 0;
		}
		err = may_lookup(nd);
		if (err < 0)
			return err;
		nd->last_slash = slash;
		if (strcmp(name, ".") == 0) {
			nd->pos = q;
			continue;
		}
		if (strcmp(name, "..") == 0) {
			err = nd_dotdot(nd);
			if (err < 0)
				return err;
			nd->pos = q;
			continue;
		}
		struct vfs_path child = {vfs_mnt_ref(nd->cur.mnt), NULL};
		err = vfs_lookup_child(nd->cur.dentry, name, &child.dentry);
		if (err < 0) {
			vfs_mnt_put(child.mnt);
			return err;
		}
		if (!child.dentry->inode) {
			vfs_path_put(&child);
			return -ENOENT;
		}
		err = nd_follow_mounts(nd, &child);
		if (err < 0) {
			vfs_path_put(&child);
			return err;
		}
		if (S_ISLNK(child.dentry->inode->type) &&
		    (!is_last || slash || (nd->flags & VFS_LOOKUP_FOLLOW))) {
			/* The rest keeps its slashes: "link/" must resolve
			 * to a directory. */
			char *rest = strdup(b + next);
			if (!rest) {
				vfs_path_put(&child);
				return -ENOMEM;
			}
			err = nd_follow_link(nd, &child, rest);
			free(rest);
			vfs_path_put(&child);
			if (err < 0)
				return err;
			continue;
		}
		vfs_path_put(&nd->cur);
		nd->cur = child;
		nd->pos = q;
	}
	if (last) {
		/* The path named the root or ended in "." / "..": no last
		 * component of its own. */
		last->parent = nd->cur;
		vfs_path_get(&last->parent);
		last->name[0] = '\0';
		last->type = VFS_LAST_ROOT;
		last->trailing_slash = true;
		return 0;
	}
	struct vfs_inode *inode = nd->cur.dentry->inode;
	if ((nd->last_slash || (nd->flags & VFS_LOOKUP_DIRECTORY)) &&
	    !S_ISDIR(inode->type))
		return -ENOTDIR;
	return 0;
}

int vfs_walk(const struct vfs_ctx *c, int dirfd, const char *path,
	     unsigned flags, struct vfs_path *out)
{
	struct nd nd;
	int err = nd_init(&nd, c, dirfd, path, flags);
	if (err == 0)
		err = nd_walk(&nd, NULL);
	if (err == 0) {
		*out = nd.cur;
		nd.cur = (struct vfs_path){NULL, NULL};
	}
	nd_release(&nd);
	return err;
}

int vfs_walk_parent(const struct vfs_ctx *c, int dirfd, const char *path,
		    unsigned flags, struct vfs_last *out)
{
	struct nd nd;
	memset(out, 0, sizeof(*out));
	int err = nd_init(&nd, c, dirfd, path, flags);
	if (err == 0)
		err = nd_walk(&nd, out);
	nd_release(&nd);
	return err;
}

void vfs_last_put(struct vfs_last *l)
{
	vfs_path_put(&l->parent);
}
