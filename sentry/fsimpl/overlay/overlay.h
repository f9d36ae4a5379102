/* The overlay file system: a writable upper layer over a read-only lower
 * one (see overlay.c). */
#pragma once

#include "../../vfs/vfs.h"

/* An overlay of upper (writable, a tmpfs) over lower (read-only). */
int overlay_new(struct vfs_sb *upper, struct vfs_sb *lower,
		struct vfs_sb **out);
/* Gives an overlay inode its upper copy (for tests and callers that must
 * write through). */
int overlay_copy_up(struct vfs_inode *i);
