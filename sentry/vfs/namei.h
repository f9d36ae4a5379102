/* The path walk's state, for the callers in sentry/vfs/ that handle the
 * last component themselves (open with O_CREAT follows a trailing symlink
 * and walks on). */
#pragma once

#include "vfs_impl.h"

struct nd {
	const struct vfs_ctx *c;
	unsigned flags;
	struct vfs_path root; /* ".." stops here; absolute paths start here */
	struct vfs_path cur;
	int nlinks;
	char *buf; /* the text still to walk, from pos */
	size_t pos;
	bool last_slash; /* the last component walked had a slash after it */
};

int nd_init(struct nd *nd, const struct vfs_ctx *c, int dirfd, const char *path,
	    unsigned flags);
/* Walks to the end (last NULL: the result is nd->cur) or up to the last
 * component, which it describes in *last (parent referenced). */
int nd_walk(struct nd *nd, struct vfs_last *last);
/* Continues the walk through the symlink at link (in the directory
 * nd->cur), with rest the text after it. */
int nd_follow_link(struct nd *nd, struct vfs_path *link, const char *rest);
void nd_release(struct nd *nd);
