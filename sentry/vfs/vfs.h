/* The sentry's VFS: superblocks, inodes, the dentry cache, mounts, path
 * walk, permission checks, per-task fs state (root, cwd, umask), record
 * locks and FIFOs. File systems (sentry/fsimpl/) plug in through the ops
 * tables below; the syscall handlers (syscalls/sys_*.c) call the vfs_*
 * functions, which do the checks Linux's fs/namei.c and fs/open.c do and
 * leave the work to the file system.
 *
 * Objects and references:
 *   - struct vfs_sb: one mounted file system instance (Linux's
 *     super_block). Mounts hold a reference.
 *   - struct vfs_inode: a file. Dentries, open files and the file system's
 *     own structures (a tmpfs directory's entries) hold references.
 *   - struct vfs_dentry: a name in a directory, cached in one hash table
 *     keyed by (parent, name). A dentry holds its parent and its inode
 *     (NULL: a negative entry, the name is known not to exist). Unused
 *     dentries stay cached on an LRU list, bounded in size; evicting one
 *     drops its inode (for the gofer: clunks its fid).
 *   - struct vfs_mount: an sb's tree attached at a dentry of a parent
 *     mount. struct vfs_path is a (mount, dentry) pair.
 *   - struct fs_struct: a task's root, cwd and umask; shared by CLONE_FS.
 *
 * Lock order (outer first); none is global across a gofer round trip:
 *   1. sb->rename_lock (per file system; cross-directory renames only)
 *   2. inode->rwsem of directories: a parent before its child; two
 *      unrelated directories (rename) by address. An overlay's inode before
 *      the inodes of its layers. Held across file system calls.
 *   3. inode->rwsem of a non-directory (size changes, writes)
 *   4. per-object short locks: inode->lock (attributes), fs_struct->lock,
 *      the lock manager's and FIFOs' locks, fs-private locks
 *   5. vfs_dcache_lock (hash, LRU, parent and name of every dentry) and
 *      the mount table's lock: short, never held across any call out.
 *
 * Every function returns >= 0 or -errno. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>

#include "../kernel/fdtable.h"
#include "../kernel/wait.h"

struct task;
struct creds;
struct kernel;
struct vfs_sb;
struct vfs_inode;
struct vfs_dentry;
struct vfs_mount;
struct vfs_mntns;

/* ---- attributes -------------------------------------------------------- */

struct vfs_attr {
	uint32_t mode; /* type and permission bits */
	uint32_t uid, gid;
	uint64_t ino, dev, rdev;
	uint64_t nlink, size, blocks;
	uint32_t blksize;
	struct timespec atime, mtime, ctime, btime;
};

/* vfs_setattr.valid */
#define VFS_ATTR_MODE	   0x001
#define VFS_ATTR_UID	   0x002
#define VFS_ATTR_GID	   0x004
#define VFS_ATTR_SIZE	   0x008
#define VFS_ATTR_ATIME	   0x010 /* set atime to .atime */
#define VFS_ATTR_MTIME	   0x020 /* set mtime to .mtime */
#define VFS_ATTR_ATIME_NOW 0x040
#define VFS_ATTR_MTIME_NOW 0x080
#define VFS_ATTR_CTIME	   0x100 /* ctime = now (always with a change) */

struct vfs_setattr {
	unsigned valid;
	uint32_t mode, uid, gid;
	uint64_t size;
	struct timespec atime, mtime;
};

/* What a new file is: the type in mode picks which. */
struct vfs_create {
	uint32_t mode; /* S_IFREG/DIR/LNK/FIFO/CHR/BLK/SOCK | permissions */
	uint32_t uid, gid;
	uint64_t rdev;
	const char *target; /* symlinks */
};

/* ---- file systems ------------------------------------------------------ */

/* rename flags (Linux's values) */
#define VFS_RENAME_NOREPLACE 1
#define VFS_RENAME_EXCHANGE  2
#define VFS_RENAME_WHITEOUT  4

struct vfs_inode_ops {
	/* Finds name in the directory dir (the dentry that reached it is
	 * dparent). *out gets a new inode reference; -ENOENT: no such name
	 * (cached as a negative dentry). */
	int (*lookup)(struct vfs_dentry *dparent, const char *name,
		      struct vfs_inode **out);
	/* For directories with VFS_I_REVALIDATE (someone else may change
	 * them): is the cached child (maybe negative) still what name is?
	 * 1 yes, 0 no (it is looked up again), or -errno. */
	int (*revalidate)(struct vfs_dentry *dparent, const char *name,
			  struct vfs_dentry *cached);
	/* Attributes, fresh enough for stat. NULL: inode->attr as is. */
	int (*getattr)(struct vfs_inode *inode, struct vfs_attr *a);
	/* Applies the changes the VFS already allowed. */
	int (*setattr)(struct vfs_inode *inode, const struct vfs_setattr *s);
	/* Creates name (known not to exist) in dir; dir's rwsem is held. */
	int (*create)(struct vfs_dentry *dir, const char *name,
		      const struct vfs_create *c, struct vfs_inode **out);
	int (*link)(struct vfs_dentry *dir, const char *name,
		    struct vfs_inode *target);
	/* O_TMPFILE: a new inode of dir's file system in no directory
	 * (nlink 0), for the VFS to open; dir's rwsem is held. NULL: the
	 * file system has none (EOPNOTSUPP). */
	int (*tmpfile)(struct vfs_dentry *dir, const struct vfs_create *c,
		       struct vfs_inode **out);
	/* Removes name (victim, a positive dentry) from dir. */
	int (*unlink)(struct vfs_dentry *dir, const char *name,
		      struct vfs_dentry *victim, bool rmdir);
	/* Renames; the VFS has checked types, emptiness and flags. nvictim
	 * is the dentry at newname (negative if none). */
	int (*rename)(struct vfs_dentry *odir, const char *oname,
		      struct vfs_dentry *ndir, const char *nname,
		      struct vfs_dentry *ovictim, struct vfs_dentry *nvictim,
		      unsigned flags);
	/* Copies the target into buf (no NUL); returns its length. */
	long (*readlink)(struct vfs_inode *inode, char *buf, size_t len);
	/* Magic links (procfs): instead of a target text, a place. */
	int (*get_link)(struct task *t, struct vfs_inode *inode,
			struct vfs_dentry *d, struct vfs_mount **mnt,
			struct vfs_dentry **out);
	/* Sets f->ops and f->priv for an open of this inode. NULL: use
	 * inode->fops. */
	int (*open)(struct task *t, struct file *f, int flags);
	long (*getxattr)(struct vfs_inode *inode, const char *name, void *buf,
			 size_t len);
	int (*setxattr)(struct vfs_inode *inode, const char *name,
			const void *val, size_t len, int flags);
	long (*listxattr)(struct vfs_inode *inode, char *buf, size_t len);
	int (*removexattr)(struct vfs_inode *inode, const char *name);
	/* The last reference is gone (the inode is freed after this). */
	void (*evict)(struct vfs_inode *inode);
};

struct vfs_sb_ops {
	int (*statfs)(struct vfs_sb *sb, struct statfs *st);
	int (*sync)(struct vfs_sb *sb);
	/* The last mount is gone and the dentries are dropped. */
	void (*release)(struct vfs_sb *sb);
};

#define VFS_SB_RDONLY	   0x1
#define VFS_SB_NO_NEGATIVE 0x2 /* do not cache negative dentries */

struct vfs_sb {
	atomic_long refs;
	const struct vfs_sb_ops *ops;
	const char *type; /* "tmpfs": /proc/mounts, statfs */
	uint64_t dev;	  /* st_dev of its files */
	unsigned flags;	  /* VFS_SB_* */
	long magic;	  /* statfs f_type */
	struct vfs_dentry *root;
	pthread_mutex_t rename_lock;
	void *priv;
};

struct vfs_lockctx;
struct vfs_fifo;

#define VFS_I_REVALIDATE 0x1 /* a directory whose cache entries are checked */
/* An O_TMPFILE file that linkat may still give a name, although its nlink
 * is 0 (Linux's I_LINKABLE); under the inode's lock, cleared by the first
 * link. */
#define VFS_I_LINKABLE 0x2

struct vfs_inode {
	atomic_long refs;
	unsigned flags; /* VFS_I_*, set before the inode is shared (but
			 * VFS_I_LINKABLE) */
	struct vfs_sb *sb; /* no reference: mounts keep the sb */
	const struct vfs_inode_ops *ops;
	const struct file_ops *fops; /* for opens, unless ops->open says */
	uint32_t type;		     /* S_IFMT bits, never change */
	uint64_t ino;
	pthread_mutex_t lock;	   /* attr and the lazily made fields below */
	pthread_mutex_t rwsem;	   /* see the lock order above */
	struct vfs_attr attr;	   /* for file systems that keep it here */
	struct vfs_lockctx *locks; /* record locks and flocks */
	struct vfs_fifo *fifo;	   /* a FIFO's pipe, on its first open */
	void *priv;
	/* Linux's i_writecount: > 0 files open for writing, < 0 programs
	 * running from it (writes then fail with ETXTBSY, and exec fails
	 * while it is > 0). */
	atomic_int writecount;
};

#define VFS_D_HASHED 0x1 /* reachable through the hash */
#define VFS_D_DEAD   0x2 /* unlinked, or replaced by a newer entry */
#define VFS_D_ONLRU  0x4

struct vfs_dentry {
	atomic_long refs;
	struct vfs_dentry *parent; /* vfs_dcache_lock; NULL: an sb root */
	char *name;		   /* vfs_dcache_lock */
	uint32_t hash;
	struct vfs_inode *inode; /* never changes; NULL: negative */
	struct vfs_sb *sb;
	unsigned flags;	    /* VFS_D_*, vfs_dcache_lock */
	atomic_int mounted; /* mounts whose mountpoint this is */
	struct vfs_dentry *hnext;
	struct vfs_dentry *lru_prev, *lru_next;
};

/* ---- mounts ------------------------------------------------------------ */

#define VFS_MNT_RDONLY 0x1
#define VFS_MNT_NOSUID 0x2
#define VFS_MNT_NODEV  0x4
#define VFS_MNT_NOEXEC 0x8

struct vfs_mount {
	atomic_long refs;
	struct vfs_sb *sb;
	struct vfs_dentry *root;
	struct vfs_mount *parent; /* NULL: the namespace's root */
	struct vfs_dentry *mountpoint;
	unsigned flags;
	int id;
	char *source; /* /proc/mounts' first column */
	struct vfs_mntns *ns;
	struct vfs_mount *next; /* the namespace's list, in mount order */
};

struct vfs_path {
	struct vfs_mount *mnt;
	struct vfs_dentry *dentry;
};

struct vfs_mntns {
	atomic_long refs;
	pthread_rwlock_t lock;
	struct vfs_mount *root;
	struct vfs_mount *mounts; /* every mount, oldest first */
	int next_id;
};

/* ---- per-task state ---------------------------------------------------- */

struct fs_struct {
	atomic_int refs;
	pthread_mutex_t lock;
	struct vfs_path root, cwd;
	uint32_t umask;
};

/* Who is asking, and from where: built from the task for syscalls, by
 * hand in unit tests (t and fdt may then be NULL). */
struct vfs_ctx {
	struct task *t;
	const struct creds *cred;
	struct fs_struct *fs;
	struct fdtable *fdt;
};

struct vfs_ctx vfs_ctx_of(struct task *t);

/* ---- references -------------------------------------------------------- */

struct vfs_inode *vfs_inode_ref(struct vfs_inode *i);
void vfs_inode_put(struct vfs_inode *i); /* accepts NULL */
struct vfs_dentry *vfs_dget(struct vfs_dentry *d);
void vfs_dput(struct vfs_dentry *d); /* accepts NULL */
struct vfs_mount *vfs_mnt_ref(struct vfs_mount *m);
void vfs_mnt_put(struct vfs_mount *m);
struct vfs_sb *vfs_sb_ref(struct vfs_sb *sb);
void vfs_sb_put(struct vfs_sb *sb);
void vfs_path_get(const struct vfs_path *p);
void vfs_path_put(struct vfs_path *p); /* and clears it */
static inline bool vfs_path_equal(const struct vfs_path *a,
				  const struct vfs_path *b)
{
	return a->mnt == b->mnt && a->dentry == b->dentry;
}

/* ---- building file systems --------------------------------------------- */

/* A new sb with one reference and a fresh device number. */
struct vfs_sb *vfs_sb_new(const char *type, long magic,
			  const struct vfs_sb_ops *ops, void *priv);
/* Makes root the sb's root dentry (takes the inode reference). */
int vfs_sb_set_root(struct vfs_sb *sb, struct vfs_inode *root);
/* A new inode of type (S_IFMT bits) with one reference; attr.mode,
 * attr.ino and attr.dev are filled, the rest is the caller's. */
struct vfs_inode *vfs_inode_new(struct vfs_sb *sb, uint32_t type, uint64_t ino,
				const struct vfs_inode_ops *ops,
				const struct file_ops *fops, void *priv);
/* The current time, for timestamps. */
struct timespec vfs_now(void);

/* A synthetic file system's constructor, for vfs_mount_new by type name
 * (procfs registers itself here). data is the mount's option string. */
typedef int (*vfs_fs_ctor)(const char *source, const char *data,
			   struct vfs_sb **out);
int vfs_register_fs(const char *type, vfs_fs_ctor ctor);
int vfs_make_fs(const char *type, const char *source, const char *data,
		struct vfs_sb **out);

/* ---- the dentry cache -------------------------------------------------- */

/* The child name of parent, from the cache or the file system: a
 * referenced dentry, possibly negative. -ENOTDIR if parent is no directory. */
int vfs_lookup_child(struct vfs_dentry *parent, const char *name,
		     struct vfs_dentry **out);
/* The cached child, or NULL: no file system call. */
struct vfs_dentry *vfs_d_lookup(struct vfs_dentry *parent, const char *name);
/* Caches inode (a reference is taken; NULL: negative) as parent/name,
 * replacing whatever was cached; returns the new referenced dentry. */
struct vfs_dentry *vfs_d_add(struct vfs_dentry *parent, const char *name,
			     struct vfs_inode *inode);
/* Forgets d (stale): later lookups ask the file system again. */
void vfs_d_drop(struct vfs_dentry *d);
/* d was unlinked: forgotten, and marked deleted for its holders. */
void vfs_d_delete(struct vfs_dentry *d);
/* A dentry for inode under parent that lookups never find, already
 * deleted: what an O_TMPFILE file's holders see. */
struct vfs_dentry *vfs_d_new_dead(struct vfs_dentry *parent, const char *name,
				  struct vfs_inode *inode);
/* The child as vfs_lookup_child, with parent->inode->rwsem already held
 * by the caller. */
int vfs_lookup_child_locked(struct vfs_dentry *parent, const char *name,
			    struct vfs_dentry **out);
/* d was unlinked (or its directory removed). */
bool vfs_d_dead(struct vfs_dentry *d);
/* The parent of d, referenced (d itself at an sb root). */
struct vfs_dentry *vfs_d_parent(struct vfs_dentry *d);
/* d's name copied into buf (at most len bytes with the NUL). */
int vfs_d_name(struct vfs_dentry *d, char *buf, size_t len);
/* Evicts every unused dentry of sb (or all if NULL); for unmount, tests. */
void vfs_dcache_shrink(struct vfs_sb *sb);
/* How many unused dentries the LRU keeps (tests lower it). */
void vfs_dcache_set_limit(long n);
long vfs_dcache_count(void);

/* Namespace changes made by the sentry itself on a file system's own
 * dentries, without permission checks: for stacked file systems (the
 * overlay's copy-up and whiteouts) and set-up. Each takes the directory's
 * rwsem (the caller must not hold it) and keeps the cache right. */
int vfs_k_create(struct vfs_dentry *dir, const char *name,
		 const struct vfs_create *vc, struct vfs_dentry **out);
int vfs_k_unlink(struct vfs_dentry *dir, struct vfs_dentry *victim, bool rmdir);
int vfs_k_rename(struct vfs_dentry *odir, struct vfs_dentry *old,
		 struct vfs_dentry *ndir, const char *nname, unsigned flags);
int vfs_k_link(struct vfs_dentry *dir, const char *name,
	       struct vfs_inode *target, struct vfs_dentry **out);
/* An unnamed file in dir (its tmpfile op), as a dead dentry in *out. */
int vfs_k_tmpfile(struct vfs_dentry *dir, const struct vfs_create *vc,
		  struct vfs_dentry **out);

/* ---- mounts ------------------------------------------------------------ */

/* A new namespace whose root is sb's root. */
int vfs_mntns_new(struct vfs_sb *sb, unsigned mnt_flags, const char *source,
		  struct vfs_mntns **out);
void vfs_mntns_put(struct vfs_mntns *ns);
/* Mounts the tree of sb rooted at root (sb->root if NULL) on at. */
int vfs_mount_at(const struct vfs_path *at, struct vfs_sb *sb,
		 struct vfs_dentry *root, unsigned mnt_flags,
		 const char *source);
/* The mount on (mnt, d), the topmost if stacked, referenced; or NULL. */
struct vfs_mount *vfs_lookup_mnt(struct vfs_mount *mnt, struct vfs_dentry *d);
/* The root of the namespace mnt belongs to. */
void vfs_ns_root(struct vfs_mntns *ns, struct vfs_path *out);
/* Calls fn for each mount in mount order (for /proc/mounts). */
int vfs_mounts_foreach(struct vfs_mntns *ns,
		       int (*fn)(struct vfs_mount *m, void *arg), void *arg);

/* ---- path walk --------------------------------------------------------- */

#define VFS_LOOKUP_FOLLOW    0x0001 /* follow a final symlink */
#define VFS_LOOKUP_DIRECTORY 0x0002 /* the result must be a directory */
#define VFS_LOOKUP_EMPTY     0x0004 /* "" means dirfd itself */
/* openat2's RESOLVE_* */
#define VFS_RESOLVE_NO_XDEV	  0x0100
#define VFS_RESOLVE_NO_MAGICLINKS 0x0200
#define VFS_RESOLVE_NO_SYMLINKS	  0x0400
#define VFS_RESOLVE_BENEATH	  0x0800
#define VFS_RESOLVE_IN_ROOT	  0x1000

#define VFS_MAXSYMLINKS 40
#define VFS_O_LARGEFILE 0100000 /* the kernel's value; glibc's is 0 */
/* The kernel's __O_TMPFILE bit alone (glibc's __O_TMPFILE has O_DIRECTORY
 * in it). */
#define VFS_O_TMPFILE_BIT 020000000
#define VFS_AT_FDCWD	-100

/* Walks path from dirfd (VFS_AT_FDCWD: the cwd) to *out (referenced). */
int vfs_walk(const struct vfs_ctx *c, int dirfd, const char *path,
	     unsigned flags, struct vfs_path *out);

enum vfs_last_type {
	VFS_LAST_NORM,
	VFS_LAST_DOT,
	VFS_LAST_DOTDOT,
	VFS_LAST_ROOT
};

/* The directory that holds path's last component, and that component:
 * what the calls that create or remove a name need. */
struct vfs_last {
	struct vfs_path parent;
	char name[256];
	enum vfs_last_type type;
	bool trailing_slash;
};
int vfs_walk_parent(const struct vfs_ctx *c, int dirfd, const char *path,
		    unsigned flags, struct vfs_last *out);
void vfs_last_put(struct vfs_last *l);

/* ---- permissions ------------------------------------------------------- */

#define VFS_MAY_EXEC  1
#define VFS_MAY_WRITE 2
#define VFS_MAY_READ  4

/* Capabilities the file code asks about (Linux's numbers). */
#define VFS_CAP_CHOWN		0
#define VFS_CAP_DAC_OVERRIDE	1
#define VFS_CAP_DAC_READ_SEARCH 2
#define VFS_CAP_FOWNER		3
#define VFS_CAP_FSETID		4
#define VFS_CAP_MKNOD		27
#define VFS_CAP_SYS_CHROOT	18
#define VFS_CAP_SYS_ADMIN	21
#define VFS_CAP_LINUX_IMMUTABLE 9
bool vfs_capable(const struct creds *c, int cap);
bool vfs_in_group(const struct creds *c, uint32_t gid);
/* Checks mask (VFS_MAY_*) against the inode's mode for c. */
int vfs_permission(const struct creds *c, struct vfs_inode *inode, int mask);
/* The same from attributes already read. */
int vfs_permission_attr(const struct creds *c, const struct vfs_attr *a,
			int mask);
int vfs_getattr(struct vfs_inode *inode, struct vfs_attr *a);
bool vfs_mnt_readonly(const struct vfs_mount *m);

/* ---- operations (vfs/ops.c, vfs/open.c) -------------------------------- */

/* open(2) and friends: flags are the open flags, mode the creation mode
 * (before umask), resolve VFS_RESOLVE_*. The new file is in *out. */
int vfs_open(const struct vfs_ctx *c, int dirfd, const char *path, int flags,
	     uint32_t mode, unsigned resolve, struct file **out);
/* Opens an inode already found (O_* flags; no creation). */
int vfs_open_path(const struct vfs_ctx *c, const struct vfs_path *p, int flags,
		  struct file **out);
/* execve's open: the file at path (followed), O_RDONLY, which must be a
 * regular file with execute permission on a mount that allows exec.
 * ENOENT, EACCES (not regular, no x bit, noexec mount), ENOTDIR, ELOOP as
 * Linux; whether it is a valid image (ENOEXEC) is the loader's call. */
int vfs_open_exec(struct task *t, const char *path, struct file **f);
/* execveat's: from dirfd; at_flags AT_EMPTY_PATH (path "" is dirfd's file)
 * and AT_SYMLINK_NOFOLLOW (a final symlink is ELOOP). */
int vfs_open_exec_at(struct task *t, int dirfd, const char *path,
		     int at_flags, struct file **f);

int vfs_mknod(const struct vfs_ctx *c, int dirfd, const char *path,
	      uint32_t mode, uint64_t dev);
int vfs_mkdir(const struct vfs_ctx *c, int dirfd, const char *path,
	      uint32_t mode);
int vfs_symlink(const struct vfs_ctx *c, const char *target, int dirfd,
		const char *path);
int vfs_link(const struct vfs_ctx *c, int olddirfd, const char *oldpath,
	     int newdirfd, const char *newpath, int flags);
int vfs_unlink(const struct vfs_ctx *c, int dirfd, const char *path);
int vfs_rmdir(const struct vfs_ctx *c, int dirfd, const char *path);
int vfs_rename(const struct vfs_ctx *c, int olddirfd, const char *oldpath,
	       int newdirfd, const char *newpath, unsigned flags);
long vfs_readlink(const struct vfs_ctx *c, int dirfd, const char *path,
		  char *buf, size_t len);

/* stat of a found path, in struct stat form. */
int vfs_stat_path(const struct vfs_path *p, struct vfs_attr *a);
/* stat of an open file (anonymous ones through ops->fstat). */
int vfs_fstat(struct file *f, struct stat *st);
void vfs_attr_to_stat(const struct vfs_attr *a, struct stat *st);

/* Attribute changes with Linux's permission rules; on a path or a file. */
int vfs_chmod(const struct vfs_ctx *c, const struct vfs_path *p, uint32_t mode);
int vfs_chown(const struct vfs_ctx *c, const struct vfs_path *p, uint32_t uid,
	      uint32_t gid);
/* times NULL: both now; a tv_nsec of UTIME_NOW/UTIME_OMIT as utimensat. */
int vfs_utimes(const struct vfs_ctx *c, const struct vfs_path *p,
	       const struct timespec *times);
int vfs_truncate(const struct vfs_ctx *c, const struct vfs_path *p,
		 uint64_t size);
int vfs_ftruncate(const struct vfs_ctx *c, struct file *f, int64_t size);
int vfs_access(const struct vfs_ctx *c, const struct vfs_path *p, int mode,
	       bool eaccess);
int vfs_statfs(const struct vfs_path *p, struct statfs *st);

long vfs_getxattr(const struct vfs_ctx *c, const struct vfs_path *p,
		  const char *name, void *buf, size_t len);
int vfs_setxattr(const struct vfs_ctx *c, const struct vfs_path *p,
		 const char *name, const void *val, size_t len, int flags);
long vfs_listxattr(const struct vfs_ctx *c, const struct vfs_path *p, char *buf,
		   size_t len);
int vfs_removexattr(const struct vfs_ctx *c, const struct vfs_path *p,
		    const char *name);

/* The path of p as seen from root, into buf. Returns the length; a path
 * not under root starts without '/' (getcwd then says ENOENT... as Linux
 * prefixes "(unreachable)"); an unlinked one ends in " (deleted)". */
long vfs_path_string(const struct vfs_path *root, const struct vfs_path *p,
		     char *buf, size_t len, bool *reachable);

/* ---- files ------------------------------------------------------------- */

/* A new file on an inode found at p, opened with flags (the access mode
 * picks FMODE_READ/WRITE). The file system's open op (or inode->fops)
 * supplies the ops. */
int vfs_file_open(struct task *t, const struct vfs_path *p, int flags,
		  struct file **out);
/* Releases the VFS part of f at its last put (fdtable.c calls it). */
void vfs_file_release(struct file *f);
/* For exec: no more writers of f's inode while denied (-ETXTBSY if one
 * has it open for writing now); vfs_allow_write undoes one denial. */
int vfs_deny_write(struct file *f);
void vfs_allow_write(struct file *f);

/* Generic read/write entry points: the checks of fs/read_write.c, then
 * f->ops. pos NULL: the file's own offset (under pos_lock when atomic). */
long vfs_read(struct task *t, struct file *f, void *buf, size_t n,
	      const uint64_t *pos);
long vfs_write(struct task *t, struct file *f, const void *buf, size_t n,
	       const uint64_t *pos);
/* What vfs_write refuses before the file sees the call (mode, offset), or
 * 0: for callers with checks of their own that Linux makes after these. */
long vfs_write_check(struct file *f, const uint64_t *pos);
long vfs_llseek(struct file *f, int64_t off, int whence);
/* The default lseek for files with a size (regular files, block
 * devices); SEEK_DATA/SEEK_HOLE treat the whole file as data. */
long vfs_generic_llseek(struct file *f, int64_t off, int whence, uint64_t *pos,
			uint64_t size);

/* getdents: ctx->emit is called per entry and returns false when the
 * caller's buffer is full (the entry is then not consumed). */
struct vfs_dir_ctx {
	bool (*emit)(struct vfs_dir_ctx *ctx, const char *name, size_t len,
		     uint64_t ino, unsigned type, uint64_t next_pos);
	uint64_t pos; /* position of the next entry */
};
/* Emits "." and ".." for positions 0 and 1; false if the buffer filled. */
bool vfs_dir_emit_dots(struct file *f, struct vfs_dir_ctx *ctx);
int vfs_iterate(struct task *t, struct file *f, struct vfs_dir_ctx *ctx);

/* ---- fs_struct --------------------------------------------------------- */

struct fs_struct *fs_struct_new(const struct vfs_path *root,
				const struct vfs_path *cwd, uint32_t umask);
/* fork without CLONE_FS, unshare(CLONE_FS): an independent copy. */
struct fs_struct *fs_struct_copy(struct fs_struct *fs);
/* CLONE_FS: share. */
struct fs_struct *fs_struct_ref(struct fs_struct *fs);
void fs_struct_put(struct fs_struct *fs); /* accepts NULL */
void fs_struct_get_root(struct fs_struct *fs, struct vfs_path *out);
void fs_struct_get_cwd(struct fs_struct *fs, struct vfs_path *out);
/* Takes the reference in p. */
void fs_struct_set_cwd(struct fs_struct *fs, struct vfs_path *p);
void fs_struct_set_root(struct fs_struct *fs, struct vfs_path *p);
uint32_t fs_struct_umask(struct fs_struct *fs, int set /* -1: only read */);

/* ---- locks (vfs/lock.c) ------------------------------------------------ */

struct vfs_flock {
	short type; /* F_RDLCK, F_WRLCK, F_UNLCK */
	uint64_t start;
	uint64_t end; /* inclusive; UINT64_MAX: to the end of the file */
	int pid;      /* reported by F_GETLK (-1 for OFD locks) */
};

/* POSIX (owner = the fd table) and OFD (owner = the file) record locks.
 * GETLK rewrites *l with the conflicting lock or F_UNLCK. SETLKW sleeps
 * on t; -EDEADLK when a simple wait cycle between two owners would form. */
int vfs_lock_get(struct file *f, void *owner, bool ofd, struct vfs_flock *l);
int vfs_lock_set(struct task *t, struct file *f, void *owner, bool ofd,
		 const struct vfs_flock *l, bool wait);
/* flock(2): LOCK_SH / LOCK_EX / LOCK_UN, LOCK_NB. */
int vfs_flock(struct task *t, struct file *f, int op);
/* close(fd) by owner drops its POSIX locks on f's inode. */
void vfs_lock_close(struct file *f, void *owner);
/* The last reference to f: its OFD locks and flock go. */
void vfs_lock_file_release(struct file *f);
void vfs_lockctx_free(struct vfs_lockctx *lc);
/* Someone sleeps waiting for a lock on f's inode (for tests: a waiter
 * is registered for EDEADLK before it is queued). */
bool vfs_lock_waited_for(struct file *f);

/* ---- FIFOs (vfs/fifo.c) ------------------------------------------------ */

/* Opens the FIFO inode for f: blocks for a peer as Linux does. */
int vfs_fifo_open(struct task *t, struct file *f, int flags);
void vfs_fifo_free(struct vfs_fifo *p);

/* ---- devices (fsimpl/dev) ---------------------------------------------- */

/* Sets f up for the character device rdev (any file system's device
 * inode lands here); -ENXIO for devices the sandbox does not have. */
int vfs_chrdev_open(struct task *t, struct file *f, uint64_t rdev, int flags);

/* ---- boot -------------------------------------------------------------- */

struct vfs_bind {
	const char *path; /* where, in the sandbox (= the host path) */
	bool rw;	  /* writable through to the host */
};

/* How runsc do sets up the sandbox's file tree. */
struct vfs_boot_config {
	int gofer_sock; /* connected to a gofer serving the host "/" ; -1:
			   an empty tmpfs root (tests) */
	const struct vfs_bind *binds;
	size_t nbinds;
	const char *cwd;     /* initial working directory */
	uint64_t tmpfs_size; /* overlay upper layer size; 0: half of RAM */
	int console_fd;	     /* host terminal fd for /dev/tty, or -1 */
	uint32_t umask;	     /* the init task's */
};

/* Builds the mount tree from k->cfg->vfs (overlay root over the gofer,
 * binds, /dev, /sys, /dev/shm; an empty tmpfs root if there is no
 * config) and the init task's fs_struct (init->fs). Called once. */
int vfs_boot(struct kernel *k, struct task *init);
