/* The overlay (copy-up, whiteouts, opaque directories, merged listings)
 * over a tmpfs lower layer, and the gofer file system (a gofer_serve()
 * child on a socketpair over a scratch directory) alone and as the
 * overlay's lower layer: the host directory must never change through
 * the overlay. */
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
#include <ftw.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "gofer/server/gofer.h"
#include "sentry/fsimpl/gofer/gofer.h"
#include "sentry/fsimpl/overlay/overlay.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/vfs/vfs.h"

struct fx {
	struct vfs_mntns *ns;
	struct fs_struct *fs;
	struct creds cred;
	struct vfs_ctx c;
	struct vfs_sb *lower;	    /* the tmpfs or gofer lower layer */
	struct vfs_mntns *lower_ns; /* to fill the tmpfs lower directly */
	struct fs_struct *lower_fs;
	struct vfs_ctx lc;
	char host[64]; /* the gofer's scratch directory */
	pid_t server;
};

/* ---- helpers ----------------------------------------------------------- */

static void ctx_for(struct vfs_sb *sb, struct vfs_mntns **ns,
		    struct fs_struct **fs)
{
	assert_int_equal(vfs_mntns_new(sb, 0, "test", ns), 0);
	struct vfs_path root;
	vfs_ns_root(*ns, &root);
	*fs = fs_struct_new(&root, &root, 0);
	vfs_path_put(&root);
}

static void put_file(struct vfs_ctx *c, const char *path, const char *text)
{
	struct file *f;
	assert_int_equal(vfs_open(c, VFS_AT_FDCWD, path,
				  O_CREAT | O_WRONLY | O_TRUNC, 0644, 0, &f),
			 0);
	assert_int_equal(vfs_write(NULL, f, text, strlen(text), NULL),
			 (long)strlen(text));
	file_put(f);
}

static const char *get_file(struct vfs_ctx *c, const char *path)
{
	static char buf[256];
	struct file *f;
	int err = vfs_open(c, VFS_AT_FDCWD, path, O_RDONLY, 0, 0, &f);
	if (err < 0) {
		snprintf(buf, sizeof(buf), "<%d>", err);
		return buf;
	}
	long n = vfs_read(NULL, f, buf, sizeof(buf) - 1, NULL);
	file_put(f);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int exists(struct vfs_ctx *c, const char *path)
{
	struct vfs_path p;
	int err = vfs_walk(c, VFS_AT_FDCWD, path, 0, &p);
	if (err == 0)
		vfs_path_put(&p);
	return err;
}

struct names {
	struct vfs_dir_ctx ctx;
	char list[1024];
};

static bool add_name(struct vfs_dir_ctx *ctx, const char *name, size_t len,
		     uint64_t ino, unsigned type, uint64_t next)
{
	struct names *n = (struct names *)ctx;
	(void)ino, (void)type, (void)next;
	if (len <= 2 && name[0] == '.')
		return true;
	char one[300];
	snprintf(one, sizeof(one), "%.*s ", (int)len, name);
	strncat(n->list, one, sizeof(n->list) - strlen(n->list) - 1);
	return true;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of a directory, space-separated. */
static const char *listing(struct vfs_ctx *c, const char *path)
{
	static char out[1024];
	struct file *f;
	struct names n = {{add_name, 0}, ""};
	if (vfs_open(c, VFS_AT_FDCWD, path, O_RDONLY | O_DIRECTORY, 0, 0, &f) <
	    0)
		return "<error>";
	assert_int_equal(vfs_iterate(NULL, f, &n.ctx), 0);
	file_put(f);
	char *v[64];
	int k = 0;
	for (char *s = strtok(n.list, " "); s && k < 64; s = strtok(NULL, " "))
		v[k++] = s;
	qsort(v, (size_t)k, sizeof(v[0]), cmp);
	out[0] = '\0';
	for (int i = 0; i < k; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, v[i]);
	}
	return out;
}

/* ---- fixtures ---------------------------------------------------------- */

static void mount_overlay(struct fx *x)
{
	struct tmpfs_opts o = {.mode = 0755};
	struct vfs_sb *upper, *ovl;
	assert_int_equal(tmpfs_new(&o, &upper), 0);
	assert_int_equal(overlay_new(upper, x->lower, &ovl), 0);
	vfs_sb_put(upper);
	ctx_for(ovl, &x->ns, &x->fs);
	vfs_sb_put(ovl);
	x->c = (struct vfs_ctx){NULL, &x->cred, x->fs, NULL};
}

/* The lower layer's contents, made before the overlay exists. */
static void fill_lower(struct vfs_ctx *c)
{
	assert_int_equal(vfs_mkdir(c, VFS_AT_FDCWD, "/dir", 0755), 0);
	put_file(c, "/dir/a", "lower a");
	put_file(c, "/dir/b", "lower b");
	assert_int_equal(vfs_mkdir(c, VFS_AT_FDCWD, "/dir/sub", 0755), 0);
	put_file(c, "/dir/sub/deep", "deep");
	put_file(c, "/top", "top file");
	assert_int_equal(vfs_symlink(c, "dir/a", VFS_AT_FDCWD, "/link"), 0);
	assert_int_equal(vfs_mkdir(c, VFS_AT_FDCWD, "/full", 0755), 0);
	put_file(c, "/full/x", "x");
}

static int setup_tmpfs(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	/* root in the sandbox: every capability (vfs_capable). */
	x->cred.cap_effective = ~0ULL;
	struct tmpfs_opts o = {.mode = 0755};
	assert_int_equal(tmpfs_new(&o, &x->lower), 0);
	ctx_for(x->lower, &x->lower_ns, &x->lower_fs);
	x->lc = (struct vfs_ctx){NULL, &x->cred, x->lower_fs, NULL};
	fill_lower(&x->lc);
	mount_overlay(x);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	fs_struct_put(x->fs);
	vfs_mntns_put(x->ns);
	fs_struct_put(x->lower_fs);
	vfs_mntns_put(x->lower_ns);
	vfs_sb_put(x->lower);
	if (x->server > 0) {
		kill(x->server, SIGKILL);
		waitpid(x->server, NULL, 0);
	}
	if (x->host[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", x->host);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", x->host);
	}
	free(x);
	return 0;
}

/* ---- the overlay over tmpfs -------------------------------------------- */

static void reads_and_copy_up(void **state)
{
	struct fx *x = *state;
	assert_string_equal(get_file(&x->c, "/dir/a"), "lower a");
	assert_string_equal(get_file(&x->c, "/link"), "lower a");
	/* A write copies up; the lower layer keeps its bytes. */
	put_file(&x->c, "/dir/a", "upper a");
	assert_string_equal(get_file(&x->c, "/dir/a"), "upper a");
	assert_string_equal(get_file(&x->lc, "/dir/a"), "lower a");
	/* chmod copies up with the data. */
	struct vfs_path p;
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/dir/b", 0, &p), 0);
	assert_int_equal(vfs_chmod(&x->c, &p, 0600), 0);
	struct vfs_attr a;
	assert_int_equal(vfs_stat_path(&p, &a), 0);
	assert_int_equal(a.mode & 07777, 0600);
	uint64_t ino = a.ino;
	vfs_path_put(&p);
	assert_string_equal(get_file(&x->c, "/dir/b"), "lower b");
	assert_int_equal(vfs_walk(&x->lc, VFS_AT_FDCWD, "/dir/b", 0, &p), 0);
	assert_int_equal(vfs_stat_path(&p, &a), 0);
	assert_int_equal(a.mode & 07777, 0644);
	vfs_path_put(&p);
	/* The inode number survives the copy-up (a fresh lookup). */
	vfs_dcache_shrink(NULL);
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/dir/b", 0, &p), 0);
	assert_int_equal(vfs_stat_path(&p, &a), 0);
	assert_int_equal(a.ino, ino);
	vfs_path_put(&p);
	/* O_TRUNC of a lower file: an empty upper copy. */
	struct file *f;
	assert_int_equal(
	    vfs_open(&x->c, VFS_AT_FDCWD, "/top", O_WRONLY | O_TRUNC, 0, 0, &f),
	    0);
	file_put(f);
	assert_string_equal(get_file(&x->c, "/top"), "");
	assert_string_equal(get_file(&x->lc, "/top"), "top file");
	/* xattrs land in the upper copy. */
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/dir/sub/deep", 0, &p),
			 0);
	assert_int_equal(vfs_setxattr(&x->c, &p, "user.k", "v", 1, 0), 0);
	char v[4];
	assert_int_equal(vfs_getxattr(&x->c, &p, "user.k", v, sizeof(v)), 1);
	vfs_path_put(&p);
	assert_int_equal(vfs_walk(&x->lc, VFS_AT_FDCWD, "/dir/sub/deep", 0, &p),
			 0);
	assert_int_equal(vfs_getxattr(&x->lc, &p, "user.k", v, sizeof(v)),
			 -ENODATA);
	vfs_path_put(&p);
}

static void whiteouts(void **state)
{
	struct fx *x = *state;
	assert_string_equal(listing(&x->c, "/dir"), "a b sub");
	assert_int_equal(vfs_unlink(&x->c, VFS_AT_FDCWD, "/dir/a"), 0);
	assert_int_equal(exists(&x->c, "/dir/a"), -ENOENT);
	assert_string_equal(listing(&x->c, "/dir"), "b sub");
	assert_int_equal(exists(&x->lc, "/dir/a"), 0);
	/* The name can be made again. */
	put_file(&x->c, "/dir/a", "new");
	assert_string_equal(get_file(&x->c, "/dir/a"), "new");
	assert_string_equal(listing(&x->c, "/dir"), "a b sub");
	assert_int_equal(vfs_unlink(&x->c, VFS_AT_FDCWD, "/dir/a"), 0);
	assert_int_equal(exists(&x->c, "/dir/a"), -ENOENT);
	/* Renames: the old name is whited out, the new one is upper. */
	assert_int_equal(vfs_rename(&x->c, VFS_AT_FDCWD, "/dir/b", VFS_AT_FDCWD,
				    "/moved", 0),
			 0);
	assert_int_equal(exists(&x->c, "/dir/b"), -ENOENT);
	assert_string_equal(get_file(&x->c, "/moved"), "lower b");
	assert_int_equal(exists(&x->lc, "/dir/b"), 0);
	/* Over a lower file. */
	put_file(&x->c, "/n", "n");
	assert_int_equal(
	    vfs_rename(&x->c, VFS_AT_FDCWD, "/n", VFS_AT_FDCWD, "/top", 0), 0);
	assert_string_equal(get_file(&x->c, "/top"), "n");
	/* A directory with lower contents does not move. */
	assert_int_equal(
	    vfs_rename(&x->c, VFS_AT_FDCWD, "/dir", VFS_AT_FDCWD, "/dir2", 0),
	    -EXDEV);
	/* Hard links copy up and share the file. */
	assert_int_equal(
	    vfs_link(&x->c, VFS_AT_FDCWD, "/full/x", VFS_AT_FDCWD, "/xlink", 0),
	    0);
	put_file(&x->c, "/xlink", "both");
	assert_string_equal(get_file(&x->c, "/full/x"), "both");
	assert_string_equal(get_file(&x->lc, "/full/x"), "x");
}

static void opaque_dirs(void **state)
{
	struct fx *x = *state;
	assert_int_equal(vfs_rmdir(&x->c, VFS_AT_FDCWD, "/full"), -ENOTEMPTY);
	assert_int_equal(vfs_unlink(&x->c, VFS_AT_FDCWD, "/full/x"), 0);
	/* Empty now as the overlay shows it, though the lower has x and
	 * the upper a whiteout. */
	assert_string_equal(listing(&x->c, "/full"), "");
	assert_int_equal(vfs_rmdir(&x->c, VFS_AT_FDCWD, "/full"), 0);
	assert_int_equal(exists(&x->c, "/full"), -ENOENT);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/full", 0755), 0);
	/* A new directory where the lower one was: nothing shows through. */
	assert_string_equal(listing(&x->c, "/full"), "");
	assert_int_equal(exists(&x->c, "/full/x"), -ENOENT);
	vfs_dcache_shrink(NULL);
	assert_int_equal(exists(&x->c, "/full/x"), -ENOENT);
	put_file(&x->c, "/full/y", "y");
	assert_string_equal(listing(&x->c, "/full"), "y");
	/* Merged listing: upper and lower entries, each once. */
	put_file(&x->c, "/dir/c", "c");
	put_file(&x->c, "/dir/a", "a again");
	assert_string_equal(listing(&x->c, "/dir"), "a b c sub");
	assert_string_equal(listing(&x->c, "/"), "dir full link top");
	/* A pure upper directory renames fine, over an empty merged one. */
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/newdir", 0755), 0);
	put_file(&x->c, "/newdir/f", "f");
	assert_int_equal(vfs_unlink(&x->c, VFS_AT_FDCWD, "/dir/sub/deep"), 0);
	assert_int_equal(vfs_rename(&x->c, VFS_AT_FDCWD, "/newdir",
				    VFS_AT_FDCWD, "/dir/sub", 0),
			 0);
	assert_string_equal(listing(&x->c, "/dir/sub"), "f");
	vfs_dcache_shrink(NULL);
	assert_string_equal(listing(&x->c, "/dir/sub"), "f");
	assert_int_equal(exists(&x->c, "/dir/sub/deep"), -ENOENT);
	assert_int_equal(exists(&x->lc, "/dir/sub/deep"), 0);
}

static void symlinks_and_types(void **state)
{
	struct fx *x = *state;
	char buf[64];
	assert_int_equal(
	    vfs_readlink(&x->c, VFS_AT_FDCWD, "/link", buf, sizeof(buf)), 5);
	struct vfs_path p;
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/link", 0, &p), 0);
	assert_int_equal(vfs_chown(&x->c, &p, 7, 7), 0);
	struct vfs_attr a;
	assert_int_equal(vfs_stat_path(&p, &a), 0);
	assert_true(S_ISLNK(a.mode));
	assert_int_equal(a.uid, 7);
	vfs_path_put(&p);
	assert_int_equal(
	    vfs_readlink(&x->c, VFS_AT_FDCWD, "/link", buf, sizeof(buf)), 5);
	assert_int_equal(
	    vfs_mknod(&x->c, VFS_AT_FDCWD, "/fifo", S_IFIFO | 0644, 0), 0);
	assert_int_equal(vfs_walk(&x->c, VFS_AT_FDCWD, "/fifo", 0, &p), 0);
	assert_int_equal(vfs_stat_path(&p, &a), 0);
	assert_true(S_ISFIFO(a.mode));
	vfs_path_put(&p);
}

/* ---- the gofer file system --------------------------------------------- */

static void host_write(const char *dir, const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static const char *host_read(const char *dir, const char *name)
{
	static char buf[256];
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return "<missing>";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int setup_gofer(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	/* root in the sandbox: every capability (vfs_capable). */
	x->cred.cap_effective = ~0ULL;
	strcpy(x->host, "/tmp/test-vfs-gofer.XXXXXX");
	assert_non_null(mkdtemp(x->host));
	chmod(x->host, 0755); /* other users walk through it too */
	char p[128];
	snprintf(p, sizeof(p), "%s/dir", x->host);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dir/sub", x->host);
	mkdir(p, 0755);
	host_write(x->host, "dir/a", "host a");
	host_write(x->host, "top", "host top");
	snprintf(p, sizeof(p), "%s/link", x->host);
	assert_int_equal(symlink("dir/a", p), 0);
	snprintf(p, sizeof(p), "%s/hard", x->host);
	char q[128];
	snprintf(q, sizeof(q), "%s/top", x->host);
	assert_int_equal(link(q, p), 0);

	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	x->server = fork();
	assert_true(x->server >= 0);
	if (x->server == 0) {
		close(sv[0]);
		int root = open(x->host, O_PATH | O_DIRECTORY);
		struct gofer_serve_opts o = {.allow_fds = true, .proc_fd = -1};
		_exit(gofer_serve(sv[1], root, &o) < 0 ? 1 : 0);
	}
	close(sv[1]);
	assert_int_equal(gofer_fs_new(sv[0], 0, &x->lower), 0);
	assert_true(gofer_fds_enabled(x->lower));
	ctx_for(x->lower, &x->lower_ns, &x->lower_fs);
	x->lc = (struct vfs_ctx){NULL, &x->cred, x->lower_fs, NULL};
	*state = x;
	return 0;
}

static void gofer_files(void **state)
{
	struct fx *x = *state;
	assert_string_equal(get_file(&x->lc, "/dir/a"), "host a");
	assert_string_equal(get_file(&x->lc, "/link"), "host a");
	assert_string_equal(listing(&x->lc, "/"), "dir hard link top");
	/* Hard links: one inode. */
	struct vfs_path p1, p2;
	assert_int_equal(vfs_walk(&x->lc, VFS_AT_FDCWD, "/top", 0, &p1), 0);
	assert_int_equal(vfs_walk(&x->lc, VFS_AT_FDCWD, "/hard", 0, &p2), 0);
	assert_ptr_equal(p1.dentry->inode, p2.dentry->inode);
	vfs_path_put(&p1);
	vfs_path_put(&p2);
	/* Changes go to the host. */
	put_file(&x->lc, "/dir/new", "made in the sandbox");
	assert_string_equal(host_read(x->host, "dir/new"),
			    "made in the sandbox");
	struct file *f;
	assert_int_equal(vfs_open(&x->lc, VFS_AT_FDCWD, "/dir/new",
				  O_WRONLY | O_APPEND, 0, 0, &f),
			 0);
	assert_int_equal(vfs_write(NULL, f, "!", 1, NULL), 1);
	assert_true(file_mmap_fd(f) >= 0); /* a host fd came with the open */
	file_put(f);
	assert_string_equal(host_read(x->host, "dir/new"),
			    "made in the sandbox!");
	struct vfs_attr a;
	assert_int_equal(vfs_walk(&x->lc, VFS_AT_FDCWD, "/dir/new", 0, &p1), 0);
	assert_int_equal(vfs_stat_path(&p1, &a), 0);
	assert_int_equal(a.size, 20);
	assert_int_equal(vfs_truncate(&x->lc, &p1, 4), 0);
	vfs_path_put(&p1);
	assert_string_equal(host_read(x->host, "dir/new"), "made");
	assert_int_equal(vfs_rename(&x->lc, VFS_AT_FDCWD, "/dir/new",
				    VFS_AT_FDCWD, "/renamed", 0),
			 0);
	assert_string_equal(host_read(x->host, "renamed"), "made");
	assert_int_equal(vfs_rename(&x->lc, VFS_AT_FDCWD, "/renamed",
				    VFS_AT_FDCWD, "/top", VFS_RENAME_EXCHANGE),
			 -EINVAL);
	assert_int_equal(vfs_unlink(&x->lc, VFS_AT_FDCWD, "/renamed"), 0);
	assert_string_equal(host_read(x->host, "renamed"), "<missing>");
	assert_int_equal(vfs_mkdir(&x->lc, VFS_AT_FDCWD, "/newdir", 0750), 0);
	assert_int_equal(
	    vfs_symlink(&x->lc, "target", VFS_AT_FDCWD, "/newdir/sl"), 0);
	char t[16];
	assert_int_equal(
	    vfs_readlink(&x->lc, VFS_AT_FDCWD, "/newdir/sl", t, sizeof(t)), 6);
	assert_int_equal(vfs_rmdir(&x->lc, VFS_AT_FDCWD, "/newdir"),
			 -ENOTEMPTY);
	/* A file made as another user belongs to that user on the host. */
	struct creds u = {.ruid = 4321,
			  .euid = 4321,
			  .fsuid = 4321,
			  .rgid = 4321,
			  .egid = 4321,
			  .fsgid = 4321};
	struct vfs_ctx uc = {NULL, &u, x->lower_fs, NULL};
	assert_int_equal(vfs_walk(&x->lc, VFS_AT_FDCWD, "/dir/sub", 0, &p1), 0);
	assert_int_equal(vfs_chmod(&x->lc, &p1, 0777), 0);
	vfs_path_put(&p1);
	put_file(&uc, "/dir/sub/users", "u");
	struct stat st;
	char hp[128];
	snprintf(hp, sizeof(hp), "%s/dir/sub/users", x->host);
	assert_int_equal(stat(hp, &st), 0);
	assert_int_equal(st.st_uid, 4321);
	assert_int_equal(st.st_gid, 4321);
}

static void shared_dirs(void **state)
{
	struct fx *x = *state;
	/* Not shared: a name looked up as missing stays missing. */
	assert_int_equal(exists(&x->lc, "/later"), -ENOENT);
	host_write(x->host, "later", "host made it");
	assert_int_equal(exists(&x->lc, "/later"), -ENOENT);
	/* Shared (a bind): the host's changes show at the next lookup. */
	struct vfs_path p;
	assert_int_equal(vfs_walk(&x->lc, VFS_AT_FDCWD, "/dir", 0, &p), 0);
	gofer_mark_shared(p.dentry->inode);
	vfs_path_put(&p);
	assert_int_equal(exists(&x->lc, "/dir/later"), -ENOENT);
	host_write(x->host, "dir/later", "host made it");
	assert_string_equal(get_file(&x->lc, "/dir/later"), "host made it");
	char hp[128], hq[128];
	snprintf(hp, sizeof(hp), "%s/dir/later", x->host);
	snprintf(hq, sizeof(hq), "%s/dir/moved", x->host);
	assert_int_equal(rename(hp, hq), 0);
	assert_int_equal(exists(&x->lc, "/dir/later"), -ENOENT);
	assert_string_equal(get_file(&x->lc, "/dir/moved"), "host made it");
	/* Below it, too. */
	assert_int_equal(exists(&x->lc, "/dir/sub/deeper"), -ENOENT);
	host_write(x->host, "dir/sub/deeper", "d");
	assert_int_equal(exists(&x->lc, "/dir/sub/deeper"), 0);
}

static void overlay_over_gofer(void **state)
{
	struct fx *x = *state;
	mount_overlay(x);
	put_file(&x->c, "/dir/a", "changed in the overlay");
	assert_string_equal(get_file(&x->c, "/dir/a"),
			    "changed in the overlay");
	assert_int_equal(vfs_unlink(&x->c, VFS_AT_FDCWD, "/top"), 0);
	assert_int_equal(vfs_mkdir(&x->c, VFS_AT_FDCWD, "/dir/sub/x", 0755), 0);
	assert_int_equal(vfs_rename(&x->c, VFS_AT_FDCWD, "/hard", VFS_AT_FDCWD,
				    "/dir/hard", 0),
			 0);
	assert_string_equal(listing(&x->c, "/"), "dir link");
	assert_string_equal(listing(&x->c, "/dir"), "a hard sub");
	/* The host saw none of it. */
	assert_string_equal(host_read(x->host, "dir/a"), "host a");
	assert_string_equal(host_read(x->host, "top"), "host top");
	assert_string_equal(host_read(x->host, "hard"), "host top");
	assert_string_equal(host_read(x->host, "dir/hard"), "<missing>");
	char p[128];
	snprintf(p, sizeof(p), "%s/dir/sub/x", x->host);
	struct stat st;
	assert_int_equal(stat(p, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(reads_and_copy_up, setup_tmpfs,
					    teardown),
	    cmocka_unit_test_setup_teardown(whiteouts, setup_tmpfs, teardown),
	    cmocka_unit_test_setup_teardown(opaque_dirs, setup_tmpfs, teardown),
	    cmocka_unit_test_setup_teardown(symlinks_and_types, setup_tmpfs,
					    teardown),
	    cmocka_unit_test_setup_teardown(gofer_files, setup_gofer, teardown),
	    cmocka_unit_test_setup_teardown(shared_dirs, setup_gofer, teardown),
	    cmocka_unit_test_setup_teardown(overlay_over_gofer, setup_gofer,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
