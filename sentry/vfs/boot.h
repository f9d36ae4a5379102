/* vfs_boot's helpers, one per kind of file system it mounts. */
#pragma once

#include "vfs.h"

/* Connects to the gofer (cfg->gofer_sock) as uid and builds the root: an
 * overlay with a tmpfs upper layer over the gofer's tree. *lower: the gofer's
 * sb (referenced), for the binds. */
int vfs_boot_gofer(const struct vfs_boot_config *cfg, uint32_t uid,
		   struct vfs_sb **root, struct vfs_sb **lower);
/* Mounts the gofer's tree at b->path onto the same path (read-write or
 * read-only), over the overlay. */
int vfs_boot_bind(struct vfs_ctx *c, struct vfs_sb *gofer,
		  const struct vfs_bind *b);
/* Registers sysfs (and any other synthetic file system) by type name. */
void vfs_boot_register_fs(void);
