/* tmpfs: a file system in the sentry's memory (see tmpfs.c). Also the
 * building block of devfs, the overlay's upper layer and memfd_create. */
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/xattr.h>

#include "../../vfs/vfs.h"

/* Newer than some C libraries' headers (Linux 5.1 and 6.3). */
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#define MFD_EXEC 0x0010U
#endif

#define XATTR_CREATE_  XATTR_CREATE
#define XATTR_REPLACE_ XATTR_REPLACE

struct tmpfs_opts {
	uint64_t max_bytes;  /* 0: half of the machine's RAM */
	uint64_t max_inodes; /* 0: no limit */
	uint32_t mode;	     /* of the root directory */
	uint32_t uid, gid;
	const char *type; /* name in /proc/mounts; NULL: "tmpfs" */
};

int tmpfs_new(const struct tmpfs_opts *o, struct vfs_sb **out);
/* Makes "tmpfs" known to vfs_make_fs (options: size=, mode=, uid=, gid=,
 * nr_inodes=). */
int tmpfs_register(void);
/* A new unlinked inode of sb (a tmpfs), owned by root. */
int tmpfs_make_node(struct vfs_sb *sb, uint32_t mode, struct vfs_inode **out);
bool tmpfs_is(const struct vfs_inode *i);
/* memfd_create: an unlinked tmpfs file, opened read-write; mfd_flags:
 * MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL (mode 0666 and F_SEAL_EXEC). */
int tmpfs_memfd_open(struct task *t, const char *name, uint32_t uid,
		     uint32_t gid, unsigned mfd_flags, struct file **out);
/* fcntl's F_ADD_SEALS (add) and F_GET_SEALS: -EINVAL for any file but a
 * memfd_create one. */
long tmpfs_fcntl_seals(struct file *f, bool add, uint32_t seals);
/* memfd.c's: the seals a new memfd starts with (tmpfs.c keeps them). */
void tmpfs_set_sealable(struct vfs_inode *i, uint32_t seals);
