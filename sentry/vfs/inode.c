/* Superblocks, inodes, permission checks and the registry of file system
 * types. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "../kernel/kernel.h"
#include "vfs_impl.h"

/* ---- superblocks ------------------------------------------------------- */

static atomic_uint next_minor = 16;

struct vfs_sb *vfs_sb_new(const char *type, long magic,
			  const struct vfs_sb_ops *ops, void *priv)
{
	struct vfs_sb *sb = calloc(1, sizeof(*sb));
	if (!sb)
		return NULL;
	atomic_init(&sb->refs, 1);
	sb->ops = ops;
	sb->type = type;
	sb->magic = magic;
	/* Anonymous device numbers, as Linux gives tmpfs and friends. */
	sb->dev = makedev(0, atomic_fetch_add(&next_minor, 1));
	pthread_mutex_init(&sb->rename_lock, NULL);
	sb->priv = priv;
	return sb;
}

int vfs_sb_set_root(struct vfs_sb *sb, struct vfs_inode *root)
{
	struct vfs_dentry *d = vfs_d_make_root(sb, root);
	vfs_inode_put(root);
	if (!d)
		return -ENOMEM;
	sb->root = d;
	return 0;
}

struct vfs_sb *vfs_sb_ref(struct vfs_sb *sb)
{
	atomic_fetch_add(&sb->refs, 1);
	return sb;
}

void vfs_sb_put(struct vfs_sb *sb)
{
	if (!sb || atomic_fetch_sub(&sb->refs, 1) != 1)
		return;
	/* Only mounts hold sb references; the last is gone, so the cached
	 * dentries go (their inodes hold no sb reference of their own). */
	vfs_dcache_shrink(sb);
	vfs_dput(sb->root);
	vfs_dcache_shrink(sb);
	if (sb->ops && sb->ops->release)
		sb->ops->release(sb);
	pthread_mutex_destroy(&sb->rename_lock);
	free(sb);
}

/* ---- inodes ------------------------------------------------------------ */

struct timespec vfs_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

struct vfs_inode *vfs_inode_new(struct vfs_sb *sb, uint32_t type, uint64_t ino,
				const struct vfs_inode_ops *ops,
				const struct file_ops *fops, void *priv)
{
	struct vfs_inode *i = calloc(1, sizeof(*i));
	if (!i)
		return NULL;
	atomic_init(&i->refs, 1);
	i->sb = sb;
	i->ops = ops;
	i->fops = fops;
	i->type = type & S_IFMT;
	i->ino = ino;
	pthread_mutex_init(&i->lock, NULL);
	pthread_mutex_init(&i->rwsem, NULL);
	i->attr.mode = i->type;
	i->attr.ino = ino;
	i->attr.dev = sb ? sb->dev : 0;
	i->attr.nlink = 1;
	i->attr.blksize = 4096;
	i->priv = priv;
	return i;
}

struct vfs_inode *vfs_inode_ref(struct vfs_inode *i)
{
	atomic_fetch_add(&i->refs, 1);
	return i;
}

void vfs_inode_put(struct vfs_inode *i)
{
	if (!i || atomic_fetch_sub(&i->refs, 1) != 1)
		return;
	if (i->ops && i->ops->evict)
		i->ops->evict(i);
	vfs_lockctx_free(i->locks);
	vfs_fifo_free(i->fifo);
	pthread_mutex_destroy(&i->lock);
	pthread_mutex_destroy(&i->rwsem);
	free(i);
}

int vfs_getattr(struct vfs_inode *inode, struct vfs_attr *a)
{
	if (inode->ops && inode->ops->getattr)
		return inode->ops->getattr(inode, a);
	pthread_mutex_lock(&inode->lock);
	*a = inode->attr;
	pthread_mutex_unlock(&inode->lock);
	return 0;
}

/* ---- permissions ------------------------------------------------------- */

/* Until capability sets land (issue 4), a task whose fsuid is 0 holds the
 * file capabilities, as root without a user namespace does; the file
 * capabilities follow fsuid on Linux too (cap_task_fix_setuid). */
bool vfs_capable(const struct creds *c, int cap)
{
	return cap >= 0 && cap < 64 && (c->cap_effective & (1ULL << cap));
}

bool vfs_in_group(const struct creds *c, uint32_t gid)
{
	if (c->fsgid == gid)
		return true;
	for (uint32_t i = 0;
	     i < c->ngroups && i < sizeof(c->groups) / sizeof(c->groups[0]);
	     i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

/* The capabilities grant mask on any inode of this type, whatever its
 * mode and owner: vfs_permission_attr's answer is 0 for every attribute
 * value, so they need not be fetched (a directory of a --rw bind asks the
 * gofer each time). */
static bool granted_by_caps(const struct creds *c, unsigned type, int mask)
{
	bool dir = S_ISDIR(type);
	mask &= VFS_MAY_READ | VFS_MAY_WRITE | VFS_MAY_EXEC;
	if (vfs_capable(c, VFS_CAP_DAC_OVERRIDE) &&
	    (dir || !(mask & VFS_MAY_EXEC)))
		return true;
	return vfs_capable(c, VFS_CAP_DAC_READ_SEARCH) &&
	       (mask == VFS_MAY_READ || (dir && !(mask & VFS_MAY_WRITE)));
}

int vfs_permission_attr(const struct creds *c, const struct vfs_attr *a,
			int mask)
{
	uint32_t mode = a->mode;
	unsigned bits;

	mask &= VFS_MAY_READ | VFS_MAY_WRITE | VFS_MAY_EXEC;
	/* Exactly one class applies: an owner denied by the owner bits is
	 * not rescued by the group bits. */
	if (c->fsuid == a->uid)
		bits = (mode >> 6) & 7;
	else if (vfs_in_group(c, a->gid))
		bits = (mode >> 3) & 7;
	else
		bits = mode & 7;
	if ((bits & (unsigned)mask) == (unsigned)mask)
		return 0;
	if (granted_by_caps(c, mode, mask))
		return 0;
	/* The one answer that needs the mode: CAP_DAC_OVERRIDE executes a
	 * file only if someone may execute it. */
	if (vfs_capable(c, VFS_CAP_DAC_OVERRIDE) && (mode & 0111))
		return 0;
	return -EACCES;
}

int vfs_permission(const struct creds *c, struct vfs_inode *inode, int mask)
{
	if (granted_by_caps(c, inode->type, mask))
		return 0;
	struct vfs_attr a;
	int err = vfs_getattr(inode, &a);
	if (err < 0)
		return err;
	return vfs_permission_attr(c, &a, mask);
}

bool vfs_mnt_readonly(const struct vfs_mount *m)
{
	return (m->flags & VFS_MNT_RDONLY) || (m->sb->flags & VFS_SB_RDONLY);
}

/* ---- file system types ------------------------------------------------- */

#define MAX_FS_TYPES 16

static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const char *name;
	vfs_fs_ctor ctor;
} types[MAX_FS_TYPES];

int vfs_register_fs(const char *type, vfs_fs_ctor ctor)
{
	int err = -ENOSPC;
	pthread_mutex_lock(&types_lock);
	for (int i = 0; i < MAX_FS_TYPES; i++) {
		if (types[i].name && strcmp(types[i].name, type) == 0) {
			err = -EEXIST;
			break;
		}
		if (!types[i].name) {
			types[i].name = type;
			types[i].ctor = ctor;
			err = 0;
			break;
		}
	}
	pthread_mutex_unlock(&types_lock);
	return err;
}

int vfs_make_fs(const char *type, const char *source, const char *data,
		struct vfs_sb **out)
{
	vfs_fs_ctor ctor = NULL;
	pthread_mutex_lock(&types_lock);
	for (int i = 0; i < MAX_FS_TYPES && types[i].name; i++)
		if (strcmp(types[i].name, type) == 0)
			ctor = types[i].ctor;
	pthread_mutex_unlock(&types_lock);
	if (!ctor)
		return -ENODEV;
	return ctor(source, data, out);
}
