/* The VFS over tmpfs: the path walk (".." at the root, symlink loops, the
 * 40-link limit, trailing slashes, RESOLVE_*), mounts, permissions, the
 * namespace operations and tmpfs's size limit. No task: the context is
 * built by hand, with an fd table for dirfds. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/vfs/vfs.h"

struct fx {
	struct vfs_mntns *ns;
	struct fs_struct *fs;
	struct fdtable *fdt;
	struct creds cred;
	struct vfs_ctx c;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	/* root in the sandbox: every capability (vfs_capable). */
	x->cred.cap_effective = ~0ULL;
	struct tmpfs_opts o = {.mode = 0755};
	struct vfs_sb *sb;
	assert_int_equal(tmpfs_new(&o, &sb), 0);
	assert_int_equal(vfs_mntns_new(sb, 0, "tmpfs", &x->ns), 0);
	vfs_sb_put(sb);
	struct vfs_path root;
	vfs_ns_root(x->ns, &root);
	x->fs = fs_struct_new(&root, &root, 022);
	vfs_path_put(&root);
	x->fdt = fdtable_new();
	x->c = (struct vfs_ctx){NULL, &x->cred, x->fs, x->fdt};
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	fdtable_put(x->fdt);
	fs_struct_put(x->fs);
	vfs_mntns_put(x->ns);
	free(x);
	return 0;
}

static void put_text(struct fx *x, const char *path, const char *text,
		     uint32_t mode)
{
	struct file *f;
	assert_int_equal(vfs_open(&x->c, VFS_AT_FDCWD, path,
				  O_CREAT | O_WRONLY | O_EXCL, mode, 0, &f),
			 0);
	assert_int_equal(vfs_write(NULL, f, text, strlen(text), NULL),
			 (long)strlen(text));
	file_put(f);
}

static void mkfile(struct fx *x, const char *path)
{
	struct file *f;
	assert_int_equal(vfs_open(&x->c, VFS_AT_FDCWD, path,
				  O_CREAT | O_WRONLY | O_EXCL, 0644, 0, &f),
			 0);
	file_put(f);
}

/* Walks path (following) and returns the error or 0; *name gets the
 * final dentry's name. */
static int walk(struct fx *x, int dirfd, const char *path, unsigned flags,
		char *name)
{
	struct vfs_path p;
	int err = vfs_walk(&x->c, dirfd, path, flags, &p);
	if (err == 0) {
		if (name)
			vfs_d_name(p.dentry, name, 256);
		vfs_path_put(&p);
	}
	return err;
}

static int opendir_fd(struct fx *x, const char *path)
{
	struct file *f;
	assert_int_equal(vfs_open(&x->c, VFS_AT_FDCWD, path,
				  O_RDONLY | O_DIRECTORY, 0, 0, &f),
			 0);
	int fd = fd_install(x->fdt, f, 0, false);
	file_put(f);
	assert_true(fd >= 0);
	return fd;
}

static void dotdot_at_root(void **state)
{
	struct fx *x = *state;
	char name[256];
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/a", 0755), 0);
	mkfile(x, "/a/f");
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/../../..", 0, name), 0);
	assert_string_equal(name, "/");
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/../a/../../a/f", 0, name), 0);
	assert_string_equal(name, "f");
	assert_int_equal(walk(x, VFS_AT_FDCWD, "a/./../a//f", 0, name), 0);
	assert_string_equal(name, "f");
	/* A chroot'ed task cannot climb out of its root either. */
	struct vfs_path a;
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/a", 0, &a), 0);
	struct vfs_path a2 = a;
	vfs_path_get(&a2);
	fs_struct_set_root(x->fs, &a);
	fs_struct_set_cwd(x->fs, &a2);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "../../f", 0, name), 0);
	assert_string_equal(name, "f");
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/a", 0, NULL), -ENOENT);
}

static void symlink_loops(void **state)
{
	struct fx *x = *state;
	assert_int_equal(vfs_symlink(&x->c, "self", VFS_AT_FDCWD, "/self"), 0);
	assert_int_equal(vfs_symlink(&x->c, "b", VFS_AT_FDCWD, "/a"), 0);
	assert_int_equal(vfs_symlink(&x->c, "/a", VFS_AT_FDCWD, "/b"), 0);
	assert_int_equal(
	    walk(x, VFS_AT_FDCWD, "/self", VFS_LOOKUP_FOLLOW, NULL), -ELOOP);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/a", VFS_LOOKUP_FOLLOW, NULL),
			 -ELOOP);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/a/x", 0, NULL), -ELOOP);
	/* Not followed at the end: the link itself. */
	char name[256];
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/a", 0, name), 0);
	assert_string_equal(name, "a");
	/* A dangling link: ENOENT when followed. */
	assert_int_equal(vfs_symlink(&x->c, "nowhere", VFS_AT_FDCWD, "/dang"),
			 0);
	assert_int_equal(
	    walk(x, VFS_AT_FDCWD, "/dang", VFS_LOOKUP_FOLLOW, NULL), -ENOENT);
	/* open(O_CREAT) through a dangling link creates its target. */
	struct file *f;
	assert_int_equal(vfs_open(&x->c, VFS_AT_FDCWD, "/dang",
				  O_CREAT | O_WRONLY, 0600, 0, &f),
			 0);
	file_put(f);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/nowhere", 0, NULL), 0);
	assert_int_equal(vfs_open(&x->c, VFS_AT_FDCWD, "/dang",
				  O_CREAT | O_EXCL | O_WRONLY, 0600, 0, &f),
			 -EEXIST);
	assert_int_equal(vfs_open(&x->c, VFS_AT_FDCWD, "/dang",
				  O_RDONLY | O_NOFOLLOW, 0, 0, &f),
			 -ELOOP);
}

static void forty_links(void **state)
{
	struct fx *x = *state;
	char name[32], target[32];
	mkfile(x, "/target");
	/* l0 -> target, l1 -> l0, ... l40 -> l39: l39 takes 40 links. */
	for (int i = 0; i <= 40; i++) {
		snprintf(name, sizeof(name), "/l%d", i);
		if (i == 0)
			snprintf(target, sizeof(target), "target");
		else
			snprintf(target, sizeof(target), "l%d", i - 1);
		assert_int_equal(vfs_symlink(&x->c, target, VFS_AT_FDCWD, name),
				 0);
	}
	char got[256];
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/l39", VFS_LOOKUP_FOLLOW, got),
			 0);
	assert_string_equal(got, "target");
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/l40", VFS_LOOKUP_FOLLOW, NULL),
			 -ELOOP);
}

static void trailing_slashes(void **state)
{
	struct fx *x = *state;
	struct file *f;
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/d", 0755), 0);
	mkfile(x, "/f");
	assert_int_equal(vfs_symlink(&x->c, "d", VFS_AT_FDCWD, "/ld"), 0);
	assert_int_equal(vfs_symlink(&x->c, "f", VFS_AT_FDCWD, "/lf"), 0);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/d/", 0, NULL), 0);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/d//", 0, NULL), 0);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/f/", 0, NULL), -ENOTDIR);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/f/.", 0, NULL), -ENOTDIR);
	/* A trailing slash follows the link even without FOLLOW. */
	char name[256];
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/ld/", 0, name), 0);
	assert_string_equal(name, "d");
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/lf/", 0, NULL), -ENOTDIR);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/new/", 0755), 0);
	assert_int_equal(vfs_open(&x->c, VFS_AT_FDCWD, "/newf/",
				  O_CREAT | O_WRONLY, 0644, 0, &f),
			 -EISDIR);
	assert_int_equal(vfs_unlink(&x->c, VFS_AT_FDCWD, "/f/"), -ENOTDIR);
	assert_int_equal(
	    vfs_mknod(&x->c, VFS_AT_FDCWD, "/nod/", S_IFIFO | 0644, 0),
	    -ENOENT);
	assert_int_equal(vfs_rmdir(&x->c, VFS_AT_FDCWD, "/new/"), 0);
	assert_int_equal(
	    vfs_rename(&x->c, VFS_AT_FDCWD, "/f", VFS_AT_FDCWD, "/g/", 0),
	    -ENOTDIR);
	assert_int_equal(
	    vfs_rename(&x->c, VFS_AT_FDCWD, "/d/", VFS_AT_FDCWD, "/e/", 0), 0);
	/* Empty paths. */
	assert_int_equal(walk(x, VFS_AT_FDCWD, "", 0, NULL), -ENOENT);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "", VFS_LOOKUP_EMPTY, name), 0);
	assert_string_equal(name, "/");
}

static void resolve_flags(void **state)
{
	struct fx *x = *state;
	char name[256];
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/jail", 0755), 0);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/jail/sub", 0755), 0);
	mkfile(x, "/jail/in");
	mkfile(x, "/out");
	mkfile(x, "/in");
	assert_int_equal(vfs_symlink(&x->c, "/in", VFS_AT_FDCWD, "/jail/abs"),
			 0);
	assert_int_equal(vfs_symlink(&x->c, "../out", VFS_AT_FDCWD, "/jail/up"),
			 0);
	assert_int_equal(
	    vfs_symlink(&x->c, "../in", VFS_AT_FDCWD, "/jail/sub/rel"), 0);
	int jfd = opendir_fd(x, "/jail");
	const unsigned B = VFS_RESOLVE_BENEATH, R = VFS_RESOLVE_IN_ROOT,
		       F = VFS_LOOKUP_FOLLOW;

	assert_int_equal(walk(x, jfd, "in", B, NULL), 0);
	assert_int_equal(walk(x, jfd, "sub/../in", B, NULL), 0);
	assert_int_equal(walk(x, jfd, "sub/rel", B | F, NULL), 0);
	assert_int_equal(walk(x, jfd, "../out", B, NULL), -EXDEV);
	assert_int_equal(walk(x, jfd, "..", B, NULL), -EXDEV);
	assert_int_equal(walk(x, jfd, "/in", B, NULL), -EXDEV);
	assert_int_equal(walk(x, jfd, "abs", B | F, NULL), -EXDEV);
	assert_int_equal(walk(x, jfd, "up", B | F, NULL), -EXDEV);

	/* IN_ROOT: "/" and ".." stop at the dirfd. */
	assert_int_equal(walk(x, jfd, "/in", R, name), 0);
	assert_string_equal(name, "in");
	assert_int_equal(walk(x, jfd, "abs", R | F, name), 0);
	struct vfs_path p;
	assert_int_equal(vfs_walk(&x->c, jfd, "abs", R | F, &p), 0);
	struct vfs_path jail;
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/jail", 0, &jail), 0);
	/* It is /jail/in, not /in. */
	struct vfs_dentry *parent = vfs_d_parent(p.dentry);
	assert_ptr_equal(parent, jail.dentry);
	vfs_dput(parent);
	vfs_path_put(&p);
	vfs_path_put(&jail);
	assert_int_equal(walk(x, jfd, "../../in", R, NULL), 0);
	assert_int_equal(walk(x, jfd, "up", R | F, NULL), -ENOENT);

	/* NO_SYMLINKS: any link on the way, or at the end when followed. */
	assert_int_equal(walk(x, jfd, "abs", VFS_RESOLVE_NO_SYMLINKS | F, NULL),
			 -ELOOP);
	assert_int_equal(
	    walk(x, jfd, "sub/rel", VFS_RESOLVE_NO_SYMLINKS | F, NULL), -ELOOP);
	assert_int_equal(walk(x, jfd, "abs", VFS_RESOLVE_NO_SYMLINKS, NULL), 0);
	assert_int_equal(walk(x, jfd, "in", VFS_RESOLVE_NO_SYMLINKS, NULL), 0);
	fd_close(x->fdt, jfd);
	/* Bad dirfds. */
	assert_int_equal(walk(x, 99, "in", 0, NULL), -EBADF);
	assert_int_equal(walk(x, 99, "/out", 0, NULL), 0); /* ignored */
}

static void mounts(void **state)
{
	struct fx *x = *state;
	char name[256];
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/mnt", 0755), 0);
	mkfile(x, "/mnt/hidden");
	mkfile(x, "/top");
	struct tmpfs_opts o = {.mode = 0755};
	struct vfs_sb *sb;
	assert_int_equal(tmpfs_new(&o, &sb), 0);
	struct vfs_path at;
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/mnt", 0, &at), 0);
	assert_int_equal(vfs_mount_at(&at, sb, NULL, 0, "tmpfs"), 0);
	vfs_path_put(&at);
	vfs_sb_put(sb);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/mnt/hidden", 0, NULL),
			 -ENOENT);
	mkfile(x, "/mnt/new");
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/mnt/sub", 0755), 0);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/mnt/sub/../../top", 0, name),
			 0);
	assert_string_equal(name, "top");
	/* ".." after a file is ENOTDIR, as the file is no directory. */
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/mnt/new/../sub", 0, NULL),
			 -ENOTDIR);
	assert_int_equal(
	    walk(x, VFS_AT_FDCWD, "/mnt/new", VFS_RESOLVE_NO_XDEV, NULL),
	    -EXDEV);
	int mfd = opendir_fd(x, "/mnt");
	assert_int_equal(walk(x, mfd, "new", VFS_RESOLVE_NO_XDEV, NULL), 0);
	assert_int_equal(walk(x, mfd, "..", VFS_RESOLVE_NO_XDEV, NULL), -EXDEV);
	fd_close(x->fdt, mfd);
	/* Across mounts: no hard links, no renames. */
	assert_int_equal(
	    vfs_link(&x->c, VFS_AT_FDCWD, "/top", VFS_AT_FDCWD, "/mnt/top", 0),
	    -EXDEV);
	assert_int_equal(vfs_rename(&x->c, VFS_AT_FDCWD, "/top", VFS_AT_FDCWD,
				    "/mnt/top", 0),
			 -EXDEV);
	assert_int_equal(vfs_rmdir(&x->c, VFS_AT_FDCWD, "/mnt"), -EBUSY);
	/* The path of a file under a mount. */
	struct vfs_path root, p;
	char buf[256];
	bool reach;
	vfs_ns_root(x->ns, &root);
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/mnt/new", 0, &p), 0);
	assert_int_equal(vfs_path_string(&root, &p, buf, sizeof(buf), &reach),
			 8);
	assert_string_equal(buf, "/mnt/new");
	assert_true(reach);
	vfs_path_put(&p);
	vfs_path_put(&root);
}

static void permissions(void **state)
{
	struct fx *x = *state;
	fs_struct_umask(x->fs, 0);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/priv", 0700), 0);
	mkfile(x, "/priv/f");
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/pub", 0777), 0);
	mkfile(x, "/pub/rootfile");
	struct creds user = {.ruid = 1000,
			     .euid = 1000,
			     .fsuid = 1000,
			     .rgid = 1000,
			     .egid = 1000,
			     .fsgid = 1000};
	struct vfs_ctx uc = {NULL, &user, x->fs, x->fdt};
	struct vfs_path p;
	struct file *f;
	assert_int_equal(vfs_walk(&uc, VFS_AT_FDCWD, "/priv/f", 0, &p),
			 -EACCES);
	assert_int_equal(
	    vfs_open(&uc, VFS_AT_FDCWD, "/pub/rootfile", O_WRONLY, 0, 0, &f),
	    -EACCES);
	assert_int_equal(
	    vfs_open(&uc, VFS_AT_FDCWD, "/pub/rootfile", O_RDONLY, 0, 0, &f),
	    0);
	file_put(f);
	assert_int_equal(vfs_open(&uc, VFS_AT_FDCWD, "/pub/mine",
				  O_CREAT | O_WRONLY, 0600, 0, &f),
			 0);
	file_put(f);
	struct vfs_attr a;
	assert_int_equal(vfs_walk(&uc, VFS_AT_FDCWD, "/pub/mine", 0, &p), 0);
	assert_int_equal(vfs_stat_path(&p, &a), 0);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.mode, S_IFREG | 0600);
	/* Someone else's file: no chmod; one's own: yes. */
	assert_int_equal(vfs_chmod(&uc, &p, 0644), 0);
	vfs_path_put(&p);
	assert_int_equal(vfs_walk(&uc, VFS_AT_FDCWD, "/pub/rootfile", 0, &p),
			 0);
	assert_int_equal(vfs_chmod(&uc, &p, 0666), -EPERM);
	assert_int_equal(vfs_chown(&uc, &p, 1000, -1), -EPERM);
	vfs_path_put(&p);
	/* Sticky directory: only the owner removes. */
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/sticky", 01777), 0);
	mkfile(x, "/sticky/rootfile");
	assert_int_equal(vfs_unlink(&uc, VFS_AT_FDCWD, "/sticky/rootfile"),
			 -EPERM);
	assert_int_equal(vfs_unlink(&x->c, VFS_AT_FDCWD, "/sticky/rootfile"),
			 0);
	/* The umask applies to creation. */
	fs_struct_umask(x->fs, 077);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/um", 0777), 0);
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/um", 0, &p), 0);
	assert_int_equal(vfs_stat_path(&p, &a), 0);
	assert_int_equal(a.mode, S_IFDIR | 0700);
	vfs_path_put(&p);
}

static void namespace_ops(void **state)
{
	struct fx *x = *state;
	struct vfs_path p;
	struct vfs_attr a;
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/d", 0755), 0);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/d", 0755), -EEXIST);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/d/sub", 0755), 0);
	mkfile(x, "/d/sub/f");
	assert_int_equal(vfs_rmdir(&x->c, VFS_AT_FDCWD, "/d/sub"), -ENOTEMPTY);
	assert_int_equal(vfs_rmdir(&x->c, VFS_AT_FDCWD, "/d/."), -EINVAL);
	assert_int_equal(vfs_unlink(&x->c, VFS_AT_FDCWD, "/d"), -EISDIR);
	/* Hard links share the inode and count. */
	assert_int_equal(
	    vfs_link(&x->c, VFS_AT_FDCWD, "/d/sub/f", VFS_AT_FDCWD, "/d/g", 0),
	    0);
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/d/g", 0, &p), 0);
	assert_int_equal(vfs_stat_path(&p, &a), 0);
	assert_int_equal(a.nlink, 2);
	vfs_path_put(&p);
	assert_int_equal(
	    vfs_link(&x->c, VFS_AT_FDCWD, "/d", VFS_AT_FDCWD, "/dl", 0),
	    -EPERM);
	/* Renames: into itself, over a non-empty dir, exchange. */
	assert_int_equal(
	    vfs_rename(&x->c, VFS_AT_FDCWD, "/d", VFS_AT_FDCWD, "/d/sub/x", 0),
	    -EINVAL);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/e", 0755), 0);
	assert_int_equal(
	    vfs_rename(&x->c, VFS_AT_FDCWD, "/e", VFS_AT_FDCWD, "/d", 0),
	    -ENOTEMPTY);
	assert_int_equal(vfs_rename(&x->c, VFS_AT_FDCWD, "/e", VFS_AT_FDCWD,
				    "/d", VFS_RENAME_NOREPLACE),
			 -EEXIST);
	assert_int_equal(vfs_rename(&x->c, VFS_AT_FDCWD, "/e", VFS_AT_FDCWD,
				    "/d", VFS_RENAME_EXCHANGE),
			 0);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/e/sub/f", 0, NULL), 0);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/d/sub", 0, NULL), -ENOENT);
	assert_int_equal(
	    vfs_rename(&x->c, VFS_AT_FDCWD, "/e/g", VFS_AT_FDCWD, "/moved", 0),
	    0);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/e/g", 0, NULL), -ENOENT);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/moved", 0, NULL), 0);
	/* A rename over a hard link of the same file changes nothing. */
	assert_int_equal(vfs_rename(&x->c, VFS_AT_FDCWD, "/moved", VFS_AT_FDCWD,
				    "/e/sub/f", 0),
			 0);
	assert_int_equal(walk(x, VFS_AT_FDCWD, "/moved", 0, NULL), 0);
	/* The cwd survives its directory's rename; getcwd follows it. */
	struct vfs_path sub;
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/e/sub", 0, &sub), 0);
	fs_struct_set_cwd(x->fs, &sub);
	assert_int_equal(
	    vfs_rename(&x->c, VFS_AT_FDCWD, "/e", VFS_AT_FDCWD, "/renamed", 0),
	    0);
	struct vfs_path root, cwd;
	char buf[256];
	bool reach;
	vfs_ns_root(x->ns, &root);
	fs_struct_get_cwd(x->fs, &cwd);
	assert_true(vfs_path_string(&root, &cwd, buf, sizeof(buf), &reach) > 0);
	assert_string_equal(buf, "/renamed/sub");
	assert_int_equal(walk(x, VFS_AT_FDCWD, "f", 0, NULL), 0);
	/* Removed cwd: the path says so. */
	assert_int_equal(vfs_unlink(&x->c, VFS_AT_FDCWD, "f"), 0);
	assert_int_equal(vfs_rmdir(&x->c, VFS_AT_FDCWD, "/renamed/sub"), 0);
	assert_true(vfs_path_string(&root, &cwd, buf, sizeof(buf), &reach) > 0);
	assert_string_equal(buf, "/renamed/sub (deleted)");
	struct file *f;
	assert_int_equal(vfs_open(&x->c, VFS_AT_FDCWD, "new",
				  O_CREAT | O_WRONLY, 0644, 0, &f),
			 -ENOENT);
	vfs_path_put(&cwd);
	vfs_path_put(&root);
}

static void tmpfs_data_and_enospc(void **state)
{
	struct fx *x = *state;
	struct tmpfs_opts o = {.mode = 0755, .max_bytes = 1024 * 1024};
	struct vfs_sb *sb;
	assert_int_equal(tmpfs_new(&o, &sb), 0);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/small", 0755), 0);
	struct vfs_path at;
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/small", 0, &at), 0);
	assert_int_equal(vfs_mount_at(&at, sb, NULL, 0, "tmpfs"), 0);
	vfs_path_put(&at);
	vfs_sb_put(sb);
	struct file *f;
	assert_int_equal(vfs_open(&x->c, VFS_AT_FDCWD, "/small/a",
				  O_CREAT | O_RDWR, 0644, 0, &f),
			 0);
	static char buf[640 * 1024];
	memset(buf, 'x', sizeof(buf));
	/* A small file lives on the heap... */
	assert_int_equal(vfs_write(NULL, f, buf, 1000, NULL), 1000);
	/* ...and moves to a memfd past 256 KiB. */
	assert_int_equal(vfs_write(NULL, f, buf, sizeof(buf) - 1000, NULL),
			 (long)sizeof(buf) - 1000);
	/* 384 KiB left: a second 640 KiB write is short, a third fails. */
	assert_int_equal(vfs_write(NULL, f, buf, sizeof(buf), NULL),
			 384 * 1024);
	assert_int_equal(vfs_write(NULL, f, buf, sizeof(buf), NULL), -ENOSPC);
	char back[16];
	uint64_t pos = 640 * 1024 - 4;
	assert_int_equal(vfs_read(NULL, f, back, 8, &pos), 8);
	assert_memory_equal(back, "xxxxxxxx", 8);
	assert_int_equal(file_pread(f, back, 16, 1024 * 1024 - 4), 4);
	/* Freed space comes back; a hole costs nothing. */
	assert_int_equal(vfs_ftruncate(&x->c, f, 0), 0);
	assert_int_equal(vfs_write(NULL, f, buf, sizeof(buf), NULL),
			 (long)sizeof(buf));
	struct vfs_attr va;
	assert_int_equal(vfs_getattr(f->inode, &va), 0);
	assert_int_equal(va.size, 1664 * 1024);
	assert_true(va.blocks * 512 <= 644 * 1024);
	int fd = file_mmap_fd(f);
	assert_true(fd >= 0);
	close(fd);
	file_put(f);
	assert_int_equal(vfs_unlink(&x->c, VFS_AT_FDCWD, "/small/a"), 0);
	/* A small file's hole is memory: the heap holds every byte. */
	assert_int_equal(vfs_open(&x->c, VFS_AT_FDCWD, "/small/b",
				  O_CREAT | O_RDWR, 0644, 0, &f),
			 0);
	assert_int_equal(vfs_write(NULL, f, buf, sizeof(buf), NULL),
			 (long)sizeof(buf));
	assert_int_equal(vfs_ftruncate(&x->c, f, 100 * 1024), 0);
	assert_int_equal(vfs_getattr(f->inode, &va), 0);
	assert_int_equal(va.size, 100 * 1024);
	/* mmap asks for a host fd: a small file moves to a memfd too. */
	fd = file_mmap_fd(f);
	assert_true(fd >= 0);
	char c;
	assert_int_equal(pread(fd, &c, 1, 99 * 1024), 1);
	assert_int_equal(c, 'x');
	close(fd);
	file_put(f);
}

static bool count_emit(struct vfs_dir_ctx *ctx, const char *name, size_t len,
		       uint64_t ino, unsigned type, uint64_t next)
{
	(void)name, (void)len, (void)ino, (void)type, (void)next;
	int *n = (int *)(ctx + 1);
	(*n)++;
	return true;
}

static void dcache_eviction(void **state)
{
	struct fx *x = *state;
	char path[64];
	vfs_dcache_set_limit(16);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/many", 0755), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "/many/f%d", i);
		mkfile(x, path);
	}
	long before = vfs_dcache_count();
	assert_true(before < 64);
	for (int i = 0; i < 200; i += 7) {
		snprintf(path, sizeof(path), "/many/f%d", i);
		assert_int_equal(walk(x, VFS_AT_FDCWD, path, 0, NULL), 0);
	}
	struct file *f;
	assert_int_equal(vfs_open(&x->c, VFS_AT_FDCWD, "/many",
				  O_RDONLY | O_DIRECTORY, 0, 0, &f),
			 0);
	struct {
		struct vfs_dir_ctx ctx;
		int n;
	} c = {{count_emit, 0}, 0};
	assert_int_equal(vfs_iterate(NULL, f, &c.ctx), 0);
	assert_int_equal(c.n, 202);
	file_put(f);
	vfs_dcache_set_limit(4096);
}

/* The loader's entry points: vfs_open_exec and file_pread. */
static void open_exec(void **state)
{
	struct fx *x = *state;
	struct task *t = calloc(1, sizeof(*t));
	t->fs = x->fs;
	t->fdt = x->fdt;
	struct file *f;
	put_text(x, "/prog", "\177ELF and the rest", 0755);
	put_text(x, "/noexec", "data", 0644);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/dir", 0755), 0);
	assert_int_equal(vfs_symlink(&x->c, "prog", VFS_AT_FDCWD, "/link"), 0);
	assert_int_equal(vfs_open_exec(t, "/prog", &f), 0);
	char buf[8];
	assert_int_equal(file_pread(f, buf, 4, 0), 4);
	assert_memory_equal(buf, "\177ELF", 4);
	assert_int_equal(file_pread(f, buf, 8, 13), 4); /* short at the end */
	assert_int_equal(file_pread(f, buf, 8, 100), 0);
	assert_int_equal(f->pos, 0); /* the offset never moved */
	assert_int_equal(file_pwrite(f, "x", 1, 0), -EBADF); /* read-only */
	file_put(f);
	struct file *w;
	assert_int_equal(
	    vfs_open(&x->c, VFS_AT_FDCWD, "/noexec", O_RDWR, 0, 0, &w), 0);
	assert_int_equal(file_pwrite(w, "DA", 2, 0), 2);
	assert_int_equal(file_pwrite(w, "!", 1, 10), 1); /* past the end */
	assert_int_equal(file_pread(w, buf, 8, 0), 8);
	assert_memory_equal(buf, "DAta\0\0\0\0", 8);
	assert_int_equal(w->pos, 0);
	file_put(w);
	assert_int_equal(vfs_open_exec(t, "/link", &f), 0);
	file_put(f);
	assert_int_equal(vfs_open_exec(t, "/missing", &f), -ENOENT);
	assert_int_equal(vfs_open_exec(t, "/noexec", &f), -EACCES);
	assert_int_equal(vfs_open_exec(t, "/dir", &f), -EACCES);
	assert_int_equal(vfs_open_exec(t, "/prog/x", &f), -ENOTDIR);
	/* Execute permission is enough: no read permission needed. */
	struct vfs_path p;
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/prog", 0, &p), 0);
	assert_int_equal(vfs_chmod(&x->c, &p, 0111), 0);
	assert_int_equal(vfs_chown(&x->c, &p, 0, 0), 0);
	vfs_path_put(&p);
	t->cred = (struct creds){.ruid = 1000,
				 .euid = 1000,
				 .fsuid = 1000,
				 .rgid = 1000,
				 .egid = 1000,
				 .fsgid = 1000};
	assert_int_equal(vfs_open_exec(t, "/prog", &f), 0);
	assert_int_equal(file_pread(f, buf, 4, 0), 4);
	file_put(f);
	assert_int_equal(vfs_open_exec(t, "/noexec", &f), -EACCES);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(dotdot_at_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(symlink_loops, setup, teardown),
	    cmocka_unit_test_setup_teardown(forty_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(trailing_slashes, setup, teardown),
	    cmocka_unit_test_setup_teardown(resolve_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(mounts, setup, teardown),
	    cmocka_unit_test_setup_teardown(permissions, setup, teardown),
	    cmocka_unit_test_setup_teardown(namespace_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(tmpfs_data_and_enospc, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(dcache_eviction, setup, teardown),
	    cmocka_unit_test_setup_teardown(open_exec, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
