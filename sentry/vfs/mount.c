/* Mounts and mount namespaces. A namespace's list of mounts is under its
 * rwlock (short; the walk takes it for reading at mount points only, which
 * dentry->mounted flags). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vfs_impl.h"

struct vfs_mount *vfs_mnt_ref(struct vfs_mount *m)
{
	atomic_fetch_add(&m->refs, 1);
	return m;
}

static void mnt_free(struct vfs_mount *m)
{
	vfs_dput(m->root);
	vfs_sb_put(m->sb);
	free(m->source);
	free(m);
}

void vfs_mnt_put(struct vfs_mount *m)
{
	/* The namespace holds every mount it lists; the last reference of a
	 * listed mount goes with the namespace (vfs_mntns_put). */
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	mnt_free(m);
}

void vfs_path_get(const struct vfs_path *p)
{
	if (p->mnt)
		vfs_mnt_ref(p->mnt);
	if (p->dentry)
		vfs_dget(p->dentry);
}

void vfs_path_put(struct vfs_path *p)
{
	vfs_dput(p->dentry);
	vfs_mnt_put(p->mnt);
	p->dentry = NULL;
	p->mnt = NULL;
}

static struct vfs_mount *mnt_alloc(struct vfs_sb *sb, struct vfs_dentry *root,
				   unsigned flags, const char *source)
{
	struct vfs_mount *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->source = strdup(source ? source : "none");
	if (!m->source) {
		free(m);
		return NULL;
	}
	atomic_init(&m->refs, 1);
	m->sb = vfs_sb_ref(sb);
	m->root = vfs_dget(root ? root : sb->root);
	m->flags = flags;
	return m;
}

int vfs_mntns_new(struct vfs_sb *sb, unsigned mnt_flags, const char *source,
		  struct vfs_mntns **out)
{
	struct vfs_mntns *ns = calloc(1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	struct vfs_mount *m = mnt_alloc(sb, NULL, mnt_flags, source);
	if (!m) {
		free(ns);
		return -ENOMEM;
	}
	atomic_init(&ns->refs, 1);
	pthread_rwlock_init(&ns->lock, NULL);
	m->ns = ns;
	m->id = ns->next_id++;
	ns->root = m;
	ns->mounts = m;
	*out = ns;
	return 0;
}

void vfs_mntns_put(struct vfs_mntns *ns)
{
	if (!ns || atomic_fetch_sub(&ns->refs, 1) != 1)
		return;
	/* Newest first, so a mount goes before the one it sits on. */
	size_t n = 0;
	for (struct vfs_mount *m = ns->mounts; m; m = m->next)
		n++;
	struct vfs_mount **all = calloc(n ? n : 1, sizeof(*all));
	size_t i = 0;
	for (struct vfs_mount *m = ns->mounts; m && all; m = m->next)
		all[i++] = m;
	while (all && i-- > 0) {
		struct vfs_mount *m = all[i];
		if (m->mountpoint) {
			atomic_fetch_sub(&m->mountpoint->mounted, 1);
			vfs_dput(m->mountpoint);
		}
		vfs_mnt_put(m->parent);
		m->parent = NULL;
		m->mountpoint = NULL;
		vfs_mnt_put(m);
	}
	free(all);
	pthread_rwlock_destroy(&ns->lock);
	free(ns);
}

int vfs_mount_at(const struct vfs_path *at, struct vfs_sb *sb,
		 struct vfs_dentry *root, unsigned mnt_flags,
		 const char *source)
{
	struct vfs_mntns *ns = at->mnt->ns;
	if (!at->dentry->inode || !S_ISDIR(at->dentry->inode->type))
		return -ENOTDIR;
	struct vfs_mount *m = mnt_alloc(sb, root, mnt_flags, source);
	if (!m)
		return -ENOMEM;
	m->parent = vfs_mnt_ref(at->mnt);
	m->mountpoint = vfs_dget(at->dentry);
	m->ns = ns;
	pthread_rwlock_wrlock(&ns->lock);
	m->id = ns->next_id++;
	struct vfs_mount **pp = &ns->mounts;
	while (*pp)
		pp = &(*pp)->next;
	*pp = m;
	atomic_fetch_add(&at->dentry->mounted, 1);
	pthread_rwlock_unlock(&ns->lock);
	return 0;
}

struct vfs_mount *vfs_lookup_mnt(struct vfs_mount *mnt, struct vfs_dentry *d)
{
	if (atomic_load(&d->mounted) == 0)
		return NULL;
	struct vfs_mntns *ns = mnt->ns;
	struct vfs_mount *found = NULL;
	pthread_rwlock_rdlock(&ns->lock);
	/* The newest mount on the spot hides older ones. */
	for (struct vfs_mount *m = ns->mounts; m; m = m->next)
		if (m->parent == mnt && m->mountpoint == d)
			found = m;
	if (found)
		vfs_mnt_ref(found);
	pthread_rwlock_unlock(&ns->lock);
	return found;
}

void vfs_ns_root(struct vfs_mntns *ns, struct vfs_path *out)
{
	out->mnt = vfs_mnt_ref(ns->root);
	out->dentry = vfs_dget(ns->root->root);
}

int vfs_mounts_foreach(struct vfs_mntns *ns,
		       int (*fn)(struct vfs_mount *m, void *arg), void *arg)
{
	int err = 0;
	pthread_rwlock_rdlock(&ns->lock);
	for (struct vfs_mount *m = ns->mounts; m && err >= 0; m = m->next)
		err = fn(m, arg);
	pthread_rwlock_unlock(&ns->lock);
	return err;
}
