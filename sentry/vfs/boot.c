/* The sandbox's file tree at start: the root (an overlay of an in-memory
 * tmpfs over the gofer's read-only host tree, or a bare tmpfs without a
 * gofer), the --rw/--ro binds straight onto the gofer, devfs on /dev with
 * a tmpfs on /dev/shm, sysfs on /sys, procfs on /proc; and the init
 * task's fs_struct. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "../fsimpl/dev/dev.h"
#include "../fsimpl/tmpfs/tmpfs.h"
#include "../kernel/kernel.h"
#include "boot.h"
#include "vfs_impl.h"

/* Set-up runs as the sandbox's root, whoever the workload is. */
static const struct creds boot_creds = {0};

static int mount_on(struct vfs_ctx *c, const char *path, struct vfs_sb *sb,
		    struct vfs_dentry *root, unsigned flags, const char *source)
{
	struct vfs_path at;
	int err = vfs_mkdir(c, VFS_AT_FDCWD, path, 0755);
	if (err < 0 && err != -EEXIST && err != -EROFS)
		return err;
	err = vfs_walk(c, VFS_AT_FDCWD, path, VFS_LOOKUP_FOLLOW, &at);
	if (err < 0)
		return err;
	err = vfs_mount_at(&at, sb, root, flags, source);
	vfs_path_put(&at);
	return err;
}

static int mount_tmpfs(struct vfs_ctx *c, const char *path, const char *type,
		       uint32_t mode)
{
	struct tmpfs_opts o = {.mode = mode, .type = type};
	struct vfs_sb *sb;
	int err = tmpfs_new(&o, &sb);
	if (err < 0)
		return err;
	err = mount_on(c, path, sb, NULL, VFS_MNT_NOSUID | VFS_MNT_NODEV, type);
	vfs_sb_put(sb);
	return err;
}

int vfs_boot(struct kernel *k, struct task *init)
{
	const struct vfs_boot_config *cfg = k->cfg->vfs;
	struct vfs_sb *rootsb = NULL, *lower = NULL;
	struct vfs_mntns *ns = NULL;
	int err;

	tmpfs_register();
	vfs_boot_register_fs();
	if (cfg && cfg->gofer_sock >= 0) {
		err = vfs_boot_gofer(cfg, k->cfg->uid, &rootsb, &lower);
	} else {
		struct tmpfs_opts o = {.mode = 0755};
		err = tmpfs_new(&o, &rootsb);
	}
	if (err < 0)
		return err;
	err = vfs_mntns_new(rootsb, 0, rootsb->type, &ns);
	vfs_sb_put(rootsb);
	if (err < 0) {
		vfs_sb_put(lower);
		return err;
	}
	struct vfs_path root;
	vfs_ns_root(ns, &root);
	struct fs_struct *fs = fs_struct_new(&root, &root, 022);
	if (!fs) {
		err = -ENOMEM;
		goto out;
	}
	struct vfs_ctx c = {NULL, &boot_creds, fs, NULL};

	for (size_t i = 0; cfg && lower && i < cfg->nbinds && err == 0; i++)
		err = vfs_boot_bind(&c, lower, &cfg->binds[i]);
	if (err == 0) {
		struct vfs_sb *dev;
		err = devfs_new(&dev);
		if (err == 0) {
			err = mount_on(&c, "/dev", dev, NULL, VFS_MNT_NOSUID,
				       "devtmpfs");
			vfs_sb_put(dev);
		}
	}
	if (err == 0)
		err = mount_tmpfs(&c, "/dev/shm", "tmpfs", 01777);
	if (err == 0) {
		struct vfs_sb *sys;
		err = vfs_make_fs("sysfs", "sysfs", NULL, &sys);
		if (err == 0) {
			err = mount_on(&c, "/sys", sys, NULL,
				       VFS_MNT_RDONLY | VFS_MNT_NOSUID |
					   VFS_MNT_NODEV | VFS_MNT_NOEXEC,
				       "sysfs");
			vfs_sb_put(sys);
		}
	}
	if (err == 0) {
		struct vfs_sb *proc;
		err = vfs_make_fs("proc", "proc", NULL, &proc);
		if (err == 0) {
			err = mount_on(&c, "/proc", proc, NULL,
				       VFS_MNT_NOSUID | VFS_MNT_NODEV |
					   VFS_MNT_NOEXEC,
				       "proc");
			vfs_sb_put(proc);
		}
	}
	if (err < 0)
		goto out;
	if (cfg && cfg->console_fd >= 0)
		dev_set_console(cfg->console_fd);

	/* The workload starts where runsc was, if that exists inside. */
	struct vfs_path cwd = root;
	vfs_path_get(&cwd);
	if (cfg && cfg->cwd) {
		struct vfs_path p;
		if (vfs_walk(&c, VFS_AT_FDCWD, cfg->cwd,
			     VFS_LOOKUP_FOLLOW | VFS_LOOKUP_DIRECTORY,
			     &p) == 0) {
			vfs_path_put(&cwd);
			cwd = p;
		} else {
			log_warn("working directory %s is not in the sandbox; "
				 "starting in /",
				 cfg->cwd);
		}
	}
	init->fs = fs_struct_new(&root, &cwd, cfg ? cfg->umask : 022);
	vfs_path_put(&cwd);
	if (!init->fs)
		err = -ENOMEM;
out:
	fs_struct_put(fs);
	vfs_path_put(&root);
	vfs_sb_put(lower);
	/* The namespace lives as long as the sentry: one sandbox, one
	 * tree. */
	(void)ns;
	return err;
}
