/* Shared by open.c and ops.c. */
#pragma once

#include "vfs_impl.h"

/* Creates name in parent (whose rwsem the caller holds; the name is known
 * not to exist): permission, read-only mount, owner and group, then the
 * file system. *out: the new positive dentry. The mode's permission bits
 * are final (umask applied). */
int vfs_create_locked(const struct vfs_ctx *c, const struct vfs_path *parent,
		      const char *name, struct vfs_create *vc,
		      struct vfs_dentry **out);
/* O_TMPFILE's file in dir (whose rwsem the caller holds): permission,
 * read-only mount, owner and group as for a creation, then the file
 * system's tmpfile (EOPNOTSUPP without one). *out: a dead dentry. */
int vfs_tmpfile_locked(const struct vfs_ctx *c, const struct vfs_path *dir,
		       struct vfs_create *vc, struct vfs_dentry **out);
