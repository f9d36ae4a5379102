/* vfs_boot's file systems: the gofer's tree under an overlay, the binds
 * straight onto the gofer, and the synthetic file systems' registration. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "../fsimpl/gofer/gofer.h"
#include "../fsimpl/overlay/overlay.h"
#include "../fsimpl/proc/proc.h"
#include "../fsimpl/synth/synth.h"
#include "../fsimpl/tmpfs/tmpfs.h"
#include "boot.h"

void vfs_boot_register_fs(void)
{
	sysfs_register();
	proc_register();
}

int vfs_boot_gofer(const struct vfs_boot_config *cfg, uint32_t uid,
		   struct vfs_sb **root, struct vfs_sb **lower)
{
	struct vfs_sb *g, *upper, *ovl;
	int err = gofer_fs_new(cfg->gofer_sock, uid, &g);
	if (err < 0)
		return err;
	struct tmpfs_opts o = {.max_bytes = cfg->tmpfs_size, .mode = 0755};
	err = tmpfs_new(&o, &upper);
	if (err < 0) {
		vfs_sb_put(g);
		return err;
	}
	err = overlay_new(upper, g, &ovl);
	vfs_sb_put(upper);
	if (err < 0) {
		vfs_sb_put(g);
		return err;
	}
	*root = ovl;
	*lower = g;
	return 0;
}

int vfs_boot_bind(struct vfs_ctx *c, struct vfs_sb *gofer,
		  const struct vfs_bind *b)
{
	if (b->path[0] != '/')
		return -EINVAL;
	/* The same directory in the gofer's own tree: runsc passed a
	 * resolved path, so no symlink is on the way. */
	struct vfs_dentry *d = vfs_dget(gofer->root);
	const char *p = b->path;
	int err = 0;
	while (*p && err == 0) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (len == 0)
			break;
		char name[256];
		if (len > 255) {
			err = -ENAMETOOLONG;
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		struct vfs_dentry *next;
		err = vfs_lookup_child(d, name, &next);
		vfs_dput(d);
		d = err == 0 ? next : NULL;
		if (err == 0 && (!d->inode || !S_ISDIR(d->inode->type)))
			err = d->inode ? -ENOTDIR : -ENOENT;
	}
	if (err == 0) {
		/* The host may change a bound directory while the sandbox
		 * runs: no stale names there. */
		gofer_mark_shared(d->inode);
		struct vfs_path at;
		err = vfs_walk(c, VFS_AT_FDCWD, b->path,
			       VFS_LOOKUP_FOLLOW | VFS_LOOKUP_DIRECTORY, &at);
		if (err == 0) {
			err = vfs_mount_at(&at, gofer, d,
					   b->rw ? 0 : VFS_MNT_RDONLY, "9p");
			vfs_path_put(&at);
		}
	}
	vfs_dput(d);
	return err;
}
