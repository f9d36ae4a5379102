/* Internals shared by the files of sentry/vfs/ (not for file systems). */
#pragma once

#include "vfs.h"

/* dcache.c */
struct vfs_dentry *vfs_d_make_root(struct vfs_sb *sb, struct vfs_inode *inode);
void vfs_d_move(struct vfs_dentry *d, struct vfs_dentry *ndir,
		const char *nname, struct vfs_dentry *other, bool exchange);
void vfs_dcache_lock(void);
void vfs_dcache_unlock(void);

/* namei.c: the dirfd or cwd a relative walk starts from. */
int vfs_start_path(const struct vfs_ctx *c, int dirfd, struct vfs_path *out);
