/* memfd_create: an unlinked regular file of a private tmpfs, mounted in a
 * namespace of its own that no task can reach by path. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "tmpfs.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct vfs_mntns *memfd_ns;
static int memfd_err;

static void memfd_init(void)
{
	struct tmpfs_opts o = {.mode = 01777, .type = "tmpfs"};
	struct vfs_sb *sb;
	memfd_err = tmpfs_new(&o, &sb);
	if (memfd_err < 0)
		return;
	memfd_err = vfs_mntns_new(sb, 0, "memfd", &memfd_ns);
	vfs_sb_put(sb);
}

int tmpfs_memfd_open(struct task *t, const char *name, uint32_t uid,
		     uint32_t gid, unsigned mfd_flags, struct file **out)
{
	pthread_once(&once, memfd_init);
	if (memfd_err < 0)
		return memfd_err;
	struct vfs_path root;
	vfs_ns_root(memfd_ns, &root);
	struct vfs_dentry *dir = root.dentry;
	char dname[256];
	/* Several memfds may share a name: each gets its own dentry, which
	 * is unlinked at once (what /proc shows as "(deleted)"). */
	snprintf(dname, sizeof(dname), "memfd:%s", name);
	/* Linux's: 0777, or 0666 with F_SEAL_EXEC (MFD_NOEXEC_SEAL, which
	 * allows sealing); F_SEAL_SEAL unless sealing is allowed. */
	bool noexec = mfd_flags & MFD_NOEXEC_SEAL;
	struct vfs_create vc = {.mode = S_IFREG | (noexec ? 0666 : 0777),
				.uid = uid, .gid = gid};
	struct vfs_inode *inode;
	pthread_mutex_lock(&dir->inode->rwsem);
	int err = dir->inode->ops->create(dir, dname, &vc, &inode);
	struct vfs_dentry *d = NULL;
	if (err == 0) {
		uint32_t seals = F_SEAL_SEAL;
		if (noexec)
			seals = F_SEAL_EXEC;
		else if (mfd_flags & MFD_ALLOW_SEALING)
			seals = 0;
		tmpfs_set_sealable(inode, seals);
		d = vfs_d_add(dir, dname, inode);
		if (!d)
			err = -ENOMEM;
		else
			err = dir->inode->ops->unlink(dir, dname, d, false);
		if (d)
			vfs_d_delete(d);
		vfs_inode_put(inode);
	}
	pthread_mutex_unlock(&dir->inode->rwsem);
	if (err == 0) {
		struct vfs_path p = {root.mnt, d};
		err = vfs_file_open(t, &p, O_RDWR, out);
	}
	vfs_dput(d);
	vfs_path_put(&root);
	return err;
}
