/* The gofer-backed file system (see gofer.c). */
#pragma once

#include "../../vfs/vfs.h"

/* Speaks 9P2000.L (with the fd extension if the server offers it) on
 * sock, which the new sb owns, attached as uid. */
int gofer_fs_new(int sock, uint32_t uid, struct vfs_sb **out);
bool gofer_fds_enabled(struct vfs_sb *sb);
/* Marks a directory (a bind's root) as shared with the host: names in it
 * and below are checked with the gofer at each lookup, attributes read
 * afresh, and nothing of it is cached as missing for long. */
void gofer_mark_shared(struct vfs_inode *dir);
