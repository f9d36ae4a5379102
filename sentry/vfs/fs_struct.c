/* A task's file system context: root, working directory and umask. Shared
 * between tasks made with CLONE_FS; fork copies it. Its lock is short: the
 * paths are copied out with a reference and used unlocked. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../kernel/kernel.h"
#include "vfs_impl.h"

struct vfs_ctx vfs_ctx_of(struct task *t)
{
	return (struct vfs_ctx){t, &t->cred, t->fs, t->fdt};
}

struct fs_struct *fs_struct_new(const struct vfs_path *root,
				const struct vfs_path *cwd, uint32_t umask)
{
	struct fs_struct *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	atomic_init(&fs->refs, 1);
	pthread_mutex_init(&fs->lock, NULL);
	fs->root = *root;
	fs->cwd = *cwd;
	vfs_path_get(&fs->root);
	vfs_path_get(&fs->cwd);
	fs->umask = umask & 0777;
	return fs;
}

struct fs_struct *fs_struct_copy(struct fs_struct *fs)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_struct *n = fs_struct_new(&fs->root, &fs->cwd, fs->umask);
	pthread_mutex_unlock(&fs->lock);
	return n;
}

struct fs_struct *fs_struct_ref(struct fs_struct *fs)
{
	atomic_fetch_add(&fs->refs, 1);
	return fs;
}

void fs_struct_put(struct fs_struct *fs)
{
	if (!fs || atomic_fetch_sub(&fs->refs, 1) != 1)
		return;
	vfs_path_put(&fs->root);
	vfs_path_put(&fs->cwd);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}

void fs_struct_get_root(struct fs_struct *fs, struct vfs_path *out)
{
	pthread_mutex_lock(&fs->lock);
	*out = fs->root;
	vfs_path_get(out);
	pthread_mutex_unlock(&fs->lock);
}

void fs_struct_get_cwd(struct fs_struct *fs, struct vfs_path *out)
{
	pthread_mutex_lock(&fs->lock);
	*out = fs->cwd;
	vfs_path_get(out);
	pthread_mutex_unlock(&fs->lock);
}

void fs_struct_set_cwd(struct fs_struct *fs, struct vfs_path *p)
{
	pthread_mutex_lock(&fs->lock);
	struct vfs_path old = fs->cwd;
	fs->cwd = *p;
	pthread_mutex_unlock(&fs->lock);
	*p = (struct vfs_path){NULL, NULL};
	vfs_path_put(&old);
}

void fs_struct_set_root(struct fs_struct *fs, struct vfs_path *p)
{
	pthread_mutex_lock(&fs->lock);
	struct vfs_path old = fs->root;
	fs->root = *p;
	pthread_mutex_unlock(&fs->lock);
	*p = (struct vfs_path){NULL, NULL};
	vfs_path_put(&old);
}

uint32_t fs_struct_umask(struct fs_struct *fs, int set)
{
	pthread_mutex_lock(&fs->lock);
	uint32_t old = fs->umask;
	if (set >= 0)
		fs->umask = (uint32_t)set & 0777;
	pthread_mutex_unlock(&fs->lock);
	return old;
}

long vfs_path_string(const struct vfs_path *root, const struct vfs_path *p,
		     char *buf, size_t len, bool *reachable)
{
	/* Built backwards from the end of buf, then moved to the front. */
	size_t end = len;
	struct vfs_mount *m = p->mnt;
	struct vfs_dentry *d = p->dentry;
	bool dead = false, under = false, first = true;
	const char *deleted = " (deleted)";

	if (len < 2)
		return -ERANGE;
	vfs_dcache_lock();
	dead = (d->flags & VFS_D_DEAD) != 0;
	if (dead) {
		size_t dl = strlen(deleted);
		if (dl + 1 > end) {
			vfs_dcache_unlock();
			return -ERANGE;
		}
		end -= dl + 1;
		memcpy(buf + end, deleted, dl + 1);
	} else {
		buf[--end] = '\0';
	}
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
		size_t nl = strlen(d->name);
		if (nl + 1 > end) {
			vfs_dcache_unlock();
			return -ERANGE;
		}
		end -= nl;
		memcpy(buf + end, d->name, nl);
		buf[--end] = '/';
		first = false;
		d = d->parent;
	}
	vfs_dcache_unlock();
	if (first) {
		if (end < 1)
			return -ERANGE;
		buf[--end] = '/';
	}
	size_t n = len - end;
	memmove(buf, buf + end, n);
	if (reachable)
		*reachable = under;
	return (long)(n - 1);
}
