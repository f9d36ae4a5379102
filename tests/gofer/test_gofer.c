/* The gofer's server through the client library, on a socketpair, over a
 * temporary tree: every operation checked against the host's view of the
 * same files, then escape attempts and malformed input. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#include <cmocka.h>

#include "harness.h"

struct fx {
	char base[64];
	char tree[96];
	char outside[96];
	struct server s;
};

static struct fx *fx_new(const struct gofer_serve_opts *so,
			 const struct p9c_opts *co)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[256];
	strcpy(f->base, "/tmp/gofer-test-XXXXXX");
	if (!mkdtemp(f->base))
		abort();
	clean_add_dir(f->base);
	snprintf(f->tree, sizeof(f->tree), "%s/tree", f->base);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
	mkdir(f->tree, 0755);
	mkdir(f->outside, 0755);
	snprintf(p, sizeof(p), "%s/secret", f->outside);
	write_file(p, "SECRET");
	snprintf(p, sizeof(p), "%s/a.txt", f->tree);
	write_file(p, "hello\n");
	snprintf(p, sizeof(p), "%s/sub", f->tree);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/sub/inner.txt", f->tree);
	write_file(p, "inner");
	snprintf(p, sizeof(p), "%s/link_out", f->tree);
	symlink("../outside/secret", p);
	char t[256];
	snprintf(t, sizeof(t), "%s/secret", f->outside);
	snprintf(p, sizeof(p), "%s/abs_out", f->tree);
	symlink(t, p);
	snprintf(p, sizeof(p), "%s/dir_out", f->tree);
	symlink(f->outside, p);
	if (server_start(&f->s, f->tree, so, co) < 0)
		abort();
	return f;
}

static int fx_free(struct fx *f)
{
	int st = server_stop(&f->s);
	rm_rf(f->base);
	clean_drop_dir(f->base);
	free(f);
	return st;
}

static int setup(void **state)
{
	struct gofer_serve_opts so = {.proc_fd = -1};
	*state = fx_new(&so, NULL);
	return 0;
}

static int teardown(void **state)
{
	int st = fx_free(*state);
	clean_all(state);
	/* The server ended cleanly at EOF. */
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static const char *hp(struct fx *f, const char *rel)
{
	static char p[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", f->tree, rel);
	return p[i];
}

/* ---- walks ---- */

static void walk_basic(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t fid, fid2;
	struct p9_qid q[2];
	struct stat st;

	const char *n1[] = {"a.txt"};
	assert_int_equal(p9c_walk(c, f->s.root, 1, n1, &fid, q), 0);
	assert_int_equal(q[0].type, P9_QTFILE);
	stat(hp(f, "a.txt"), &st);
	assert_int_equal(q[0].path, st.st_ino);
	assert_int_equal(p9c_clunk(c, fid), 0);

	const char *n2[] = {"sub", "inner.txt"};
	assert_int_equal(p9c_walk(c, f->s.root, 2, n2, &fid, q), 0);
	assert_int_equal(q[0].type, P9_QTDIR);
	assert_int_equal(q[1].type, P9_QTFILE);
	/* clone */
	assert_int_equal(p9c_walk(c, fid, 0, NULL, &fid2, NULL), 0);
	char buf[64];
	assert_int_equal(p9c_lopen(c, fid2, O_RDONLY, NULL, NULL, NULL), 0);
	assert_int_equal(p9c_read(c, fid2, 0, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "inner", 5);
	p9c_clunk(c, fid2);
	p9c_clunk(c, fid);

	const char *n3[] = {"missing"};
	assert_int_equal(p9c_walk(c, f->s.root, 1, n3, &fid, NULL), -ENOENT);
	const char *n4[] = {"sub", "missing"};
	assert_int_equal(p9c_walk(c, f->s.root, 2, n4, &fid, NULL), -ENOENT);
	const char *n5[] = {"a.txt", "x"};
	assert_int_equal(p9c_walk(c, f->s.root, 2, n5, &fid, NULL), -ENOENT);
	/* a clunked fid is gone */
	assert_int_equal(p9c_clunk(c, 999999), -EBADF);
}

/* Creates name exclusively in a clone of the directory dir (the paired
 * call); *fid is the new file, open read-write. */
static int create_excl(struct p9c *c, uint32_t dir, const char *name,
		       uint32_t mode, uint32_t *fid)
{
	return p9c_clone_open(c, dir, name, O_RDWR | O_CREAT | O_EXCL, mode, 0,
			      fid, NULL, NULL, NULL);
}

/* A walk sent with its getattr, and a clone sent with its open or create:
 * the same answers as the calls one by one, and no fid left behind when
 * the first half fails. */
static void walk_pairs(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t fid, fid2;
	struct p9_qid q[2];
	struct p9_attr a;
	struct stat st;

	const char *n2[] = {"sub", "inner.txt"};
	assert_int_equal(p9c_walk_getattr(c, f->s.root, 2, n2, P9_GETATTR_BASIC,
					  &fid, q, &a),
			 0);
	stat(hp(f, "sub/inner.txt"), &st);
	assert_int_equal(q[0].type, P9_QTDIR);
	assert_int_equal(q[1].path, st.st_ino);
	assert_int_equal(a.size, 5);
	assert_int_equal(a.mode, st.st_mode);
	int fd = -1;
	uint32_t iounit = 0;
	assert_int_equal(p9c_clone_open(c, fid, NULL, O_RDONLY, 0, 0, &fid2,
					&q[0], &iounit, &fd),
			 0);
	assert_int_equal(q[0].path, st.st_ino);
	assert_true(iounit > 0);
	char buf[16] = {0};
	assert_int_equal(p9c_read(c, fid2, 0, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "inner", 5);
	if (fd >= 0)
		close(fd);
	/* the walked fid is still the file, not the open clone */
	assert_int_equal(p9c_clunk(c, fid2), 0);
	assert_int_equal(p9c_getattr(c, fid, P9_GETATTR_BASIC, &a), 0);
	assert_int_equal(p9c_clunk(c, fid), 0);

	const char *miss[] = {"missing"};
	assert_int_equal(p9c_walk_getattr(c, f->s.root, 1, miss,
					  P9_GETATTR_BASIC, &fid, NULL, &a),
			 -ENOENT);
	const char *half[] = {"sub", "missing"};
	assert_int_equal(p9c_walk_getattr(c, f->s.root, 2, half,
					  P9_GETATTR_BASIC, &fid, NULL, &a),
			 -ENOENT);
	assert_int_equal(p9c_clone_open(c, 999999, NULL, O_RDONLY, 0, 0, &fid,
					NULL, NULL, NULL),
			 -EBADF);

	/* a create in a clone of the directory */
	uint32_t d;
	assert_int_equal(p9c_walk(c, f->s.root, 0, NULL, &d, NULL), 0);
	assert_int_equal(create_excl(c, d, "paired.txt", 0640, &fid), 0);
	assert_int_equal(p9c_write(c, fid, 0, "pair", 4), 4);
	assert_int_equal(p9c_clunk(c, fid), 0);
	assert_int_equal(stat(hp(f, "paired.txt"), &st), 0);
	assert_int_equal(st.st_size, 4);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(create_excl(c, d, "paired.txt", 0640, &fid), -EEXIST);
	/* the directory fid was not turned into a file by the failed
	 * create's clone */
	assert_int_equal(p9c_getattr(c, d, P9_GETATTR_BASIC, &a), 0);
	assert_true(S_ISDIR(a.mode));
	p9c_clunk(c, d);
}

/* Names that are not one plain component are refused, wherever they
 * appear in the walk. */
static void walk_rejects_bad_names(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t fid;
	const char *bad[] = {"",	   ".", "..", "sub/inner.txt",
			     "../outside", "/", "a/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *n[] = {bad[i]};
		assert_int_equal(p9c_walk(c, f->s.root, 1, n, &fid, NULL),
				 -EINVAL);
		const char *n2[] = {"sub", bad[i]};
		/* after a good first name the walk stops: no fid */
		assert_int_equal(p9c_walk(c, f->s.root, 2, n2, &fid, NULL),
				 -ENOENT);
	}
	/* and in every call that takes a name */
	assert_int_equal(p9c_mkdir(c, f->s.root, "..", 0755, 0, NULL), -EINVAL);
	assert_int_equal(p9c_mkdir(c, f->s.root, "x/y", 0755, 0, NULL),
			 -EINVAL);
	assert_int_equal(p9c_unlinkat(c, f->s.root, "../outside/secret", 0),
			 -EINVAL);
	assert_int_equal(
	    p9c_renameat(c, f->s.root, "a.txt", f->s.root, "../stolen"),
	    -EINVAL);
	assert_int_equal(p9c_symlink(c, f->s.root, "sub/x", "t", 0, NULL),
			 -EINVAL);
	uint32_t d;
	assert_int_equal(p9c_walk(c, f->s.root, 0, NULL, &d, NULL), 0);
	assert_int_equal(
	    p9c_lcreate(c, d, "../new", O_RDWR, 0644, 0, NULL, NULL, NULL),
	    -EINVAL);
	p9c_clunk(c, d);
	assert_int_equal(access(hp(f, "../stolen"), F_OK), -1);
	assert_int_equal(access(hp(f, "../new"), F_OK), -1);
}

/* ---- files ---- */

static void create_write_read(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t d, fid;
	struct p9_qid q;
	uint32_t iounit;
	struct stat st;

	assert_int_equal(p9c_walk(c, f->s.root, 0, NULL, &d, NULL), 0);
	assert_int_equal(
	    p9c_lcreate(c, d, "new.txt", O_RDWR, 0640, 1234, &q, &iounit, NULL),
	    0);
	assert_int_equal(q.type, P9_QTFILE);
	assert_true(iounit > 0 && iounit <= p9c_msize(c));
	/* write more than one message can carry */
	size_t big = 3 * p9c_iounit(c) + 17;
	char *data = malloc(big), *back = malloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)(i * 7 + 3);
	size_t done = 0;
	while (done < big) {
		ssize_t n = p9c_write(c, d, done, data + done, big - done);
		assert_true(n > 0);
		done += (size_t)n;
	}
	assert_int_equal(stat(hp(f, "new.txt"), &st), 0);
	assert_int_equal(st.st_size, big);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 1234);
	done = 0;
	for (;;) {
		ssize_t n = p9c_read(c, d, done, back + done, big - done);
		assert_true(n >= 0);
		if (n == 0)
			break;
		done += (size_t)n;
	}
	assert_int_equal(done, big);
	assert_memory_equal(data, back, big);
	assert_int_equal(p9c_fsync(c, d, false), 0);
	assert_int_equal(p9c_fsync(c, d, true), 0);
	p9c_clunk(c, d);

	/* O_EXCL on an existing name */
	assert_int_equal(p9c_walk(c, f->s.root, 0, NULL, &d, NULL), 0);
	assert_int_equal(p9c_lcreate(c, d, "new.txt", O_RDWR | O_EXCL, 0600, 0,
				     NULL, NULL, NULL),
			 -EEXIST);
	/* without O_EXCL the existing file is opened, owner kept */
	assert_int_equal(p9c_lcreate(c, d, "new.txt", O_RDWR | O_TRUNC, 0600,
				     99, NULL, NULL, NULL),
			 0);
	p9c_clunk(c, d);
	assert_int_equal(stat(hp(f, "new.txt"), &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_gid, 1234);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* an owner from the attach: files created under it get it */
	uint32_t r2;
	assert_int_equal(p9c_attach(c, "u", "", 4321, &r2, NULL), 0);
	assert_int_equal(p9c_walk(c, r2, 0, NULL, &d, NULL), 0);
	assert_int_equal(
	    p9c_lcreate(c, d, "owned", O_WRONLY, 04755, 55, NULL, NULL, NULL),
	    0);
	p9c_clunk(c, d);
	assert_int_equal(p9c_mkdir(c, r2, "odir", 02770, 56, NULL), 0);
	p9c_clunk(c, r2);
	assert_int_equal(stat(hp(f, "owned"), &st), 0);
	assert_int_equal(st.st_uid, 4321);
	assert_int_equal(st.st_gid, 55);
	assert_int_equal(st.st_mode & 07777, 04755); /* set-uid survives */
	assert_int_equal(stat(hp(f, "odir"), &st), 0);
	assert_int_equal(st.st_uid, 4321);
	assert_int_equal(st.st_gid, 56);
	assert_int_equal(st.st_mode & 07777, 02770);
	free(data);
	free(back);

	/* opening a directory for writing, reading an unopened fid */
	assert_int_equal(walk_path(c, f->s.root, "sub", &fid), 0);
	assert_int_equal(p9c_lopen(c, fid, O_RDWR, NULL, NULL, NULL), -EISDIR);
	char b[4];
	assert_int_equal(p9c_read(c, fid, 0, b, 4), -EBADF);
	assert_int_equal(p9c_lopen(c, fid, O_RDONLY, NULL, NULL, NULL), 0);
	assert_int_equal(p9c_lopen(c, fid, O_RDONLY, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(p9c_read(c, fid, 0, b, 4), -EISDIR);
	p9c_clunk(c, fid);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists a directory through Treaddir with small buffers (many calls,
 * offsets resumed) and compares the names with the host's. */
static void mkdir_readdir(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t d;
	struct p9_qid q;

	assert_int_equal(p9c_mkdir(c, f->s.root, "many", 0750, 0, &q), 0);
	assert_int_equal(q.type, P9_QTDIR);
	assert_int_equal(p9c_mkdir(c, f->s.root, "many", 0750, 0, NULL),
			 -EEXIST);
	enum { N = 300 };
	for (int i = 0; i < N; i++) {
		char p[64];
		snprintf(p, sizeof(p), "many/file-with-a-longish-name-%03d", i);
		write_file(hp(f, p), "x");
	}
	assert_int_equal(walk_path(c, f->s.root, "many", &d), 0);
	assert_int_equal(p9c_lopen(c, d, O_RDONLY, NULL, NULL, NULL), 0);
	char *names[N + 8];
	int n = 0, calls = 0;
	uint64_t off = 0;
	for (;;) {
		uint8_t buf[300];
		ssize_t len = p9c_readdir(c, d, off, buf, sizeof(buf));
		assert_true(len >= 0);
		if (len == 0)
			break;
		calls++;
		for (ssize_t pos = 0; pos < len;) {
			struct p9_dirent de;
			ssize_t used = p9_dirent_decode(
			    buf + pos, (size_t)(len - pos), &de);
			assert_true(used > 0);
			assert_true(n < N + 8);
			names[n++] = strndup(de.name.s, de.name.len);
			assert_int_equal(de.type, DT_REG);
			off = de.offset;
			pos += used;
		}
	}
	assert_true(calls > 10); /* the small buffer forced many calls */
	assert_int_equal(n, N);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
	DIR *dir = opendir(hp(f, "many"));
	char *host[N + 8];
	int hn = 0;
	struct dirent *e;
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			host[hn++] = strdup(e->d_name);
	closedir(dir);
	qsort(host, (size_t)hn, sizeof(host[0]), cmp_str);
	assert_int_equal(hn, n);
	for (int i = 0; i < n; i++) {
		assert_string_equal(names[i], host[i]);
		free(names[i]);
		free(host[i]);
	}
	/* restarting from 0 gives the first entries again */
	uint8_t buf[4096];
	assert_true(p9c_readdir(c, d, 0, buf, sizeof(buf)) > 0);
	/* a buffer too small for one entry is an error, not an end */
	assert_int_equal(p9c_readdir(c, d, 0, buf, 20), -EINVAL);
	p9c_clunk(c, d);
	struct stat st;
	stat(hp(f, "many"), &st);
	assert_int_equal(st.st_mode & 07777, 0750);
}

static void rename_unlink(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t sub;

	assert_int_equal(walk_path(c, f->s.root, "sub", &sub), 0);
	assert_int_equal(p9c_renameat(c, f->s.root, "a.txt", sub, "moved"), 0);
	assert_int_equal(access(hp(f, "a.txt"), F_OK), -1);
	assert_string_equal(read_file(hp(f, "sub/moved")), "hello\n");
	assert_int_equal(p9c_renameat(c, f->s.root, "nothere", sub, "x"),
			 -ENOENT);
	assert_int_equal(p9c_unlinkat(c, sub, "moved", 0), 0);
	assert_int_equal(access(hp(f, "sub/moved"), F_OK), -1);
	assert_int_equal(p9c_unlinkat(c, f->s.root, "sub", P9_AT_REMOVEDIR),
			 -ENOTEMPTY);
	assert_int_equal(p9c_unlinkat(c, f->s.root, "sub", 0), -EISDIR);
	assert_int_equal(p9c_unlinkat(c, sub, "inner.txt", 0x1000), -EINVAL);
	assert_int_equal(p9c_unlinkat(c, sub, "inner.txt", 0), 0);
	assert_int_equal(p9c_unlinkat(c, f->s.root, "sub", P9_AT_REMOVEDIR), 0);
	assert_int_equal(access(hp(f, "sub"), F_OK), -1);
	/* Tremove is not supported, but still clunks */
	uint32_t x;
	assert_int_equal(walk_path(c, f->s.root, "link_out", &x), 0);
	assert_int_equal(p9c_remove(c, x), -EOPNOTSUPP);
	assert_int_equal(p9c_clunk(c, x), -EBADF);
	p9c_clunk(c, sub);
}

static void symlinks(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t l;
	struct p9_qid q;
	char buf[256];

	assert_int_equal(p9c_symlink(c, f->s.root, "ln", "/etc/passwd", 77, &q),
			 0);
	assert_int_equal(q.type, P9_QTSYMLINK);
	ssize_t n = readlink(hp(f, "ln"), buf, sizeof(buf));
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "/etc/passwd", 11);
	struct stat st;
	lstat(hp(f, "ln"), &st);
	assert_int_equal(st.st_gid, 77);

	/* walking to a symlink gives the link, never its target */
	assert_int_equal(walk_path(c, f->s.root, "ln", &l), 0);
	assert_int_equal(p9c_readlink(c, l, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "/etc/passwd");
	struct p9_attr a;
	assert_int_equal(p9c_getattr(c, l, P9_GETATTR_ALL, &a), 0);
	assert_true(S_ISLNK(a.mode));
	assert_int_equal(p9c_lopen(c, l, O_RDONLY, NULL, NULL, NULL), -ELOOP);
	assert_int_equal(p9c_readlink(c, l, buf, 5), -ENAMETOOLONG);
	/* lutimes through the parent */
	struct p9_iattr ia = {.valid = P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET,
			      .mtime_sec = 1000000000};
	assert_int_equal(p9c_setattr(c, l, &ia), 0);
	lstat(hp(f, "ln"), &st);
	assert_int_equal(st.st_mtime, 1000000000);
	ia.valid = P9_SETATTR_MODE;
	assert_int_equal(p9c_setattr(c, l, &ia), -EOPNOTSUPP);
	p9c_clunk(c, l);

	uint32_t fid;
	assert_int_equal(walk_path(c, f->s.root, "a.txt", &fid), 0);
	assert_int_equal(p9c_readlink(c, fid, buf, sizeof(buf)), -EINVAL);
	p9c_clunk(c, fid);
	assert_int_equal(p9c_symlink(c, f->s.root, "empty", "", 0, NULL),
			 -ENOENT);
}

static void hard_links_and_mknod(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t fid, sub;
	struct stat st;
	struct p9_qid q;

	assert_int_equal(walk_path(c, f->s.root, "a.txt", &fid), 0);
	assert_int_equal(walk_path(c, f->s.root, "sub", &sub), 0);
	assert_int_equal(p9c_link(c, sub, fid, "hard"), 0);
	stat(hp(f, "a.txt"), &st);
	assert_int_equal(st.st_nlink, 2);
	assert_string_equal(read_file(hp(f, "sub/hard")), "hello\n");
	assert_int_equal(p9c_link(c, sub, fid, "hard"), -EEXIST);
	assert_int_equal(p9c_link(c, f->s.root, sub, "dirlink"), -EPERM);
	p9c_clunk(c, fid);

	assert_int_equal(p9c_mknod(c, sub, "fifo", S_IFIFO | 0600, 0, 0, 5, &q),
			 0);
	lstat(hp(f, "sub/fifo"), &st);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_gid, 5);
	/* never a device node, never opening a special file */
	assert_int_equal(
	    p9c_mknod(c, sub, "null", S_IFCHR | 0666, 1, 3, 0, NULL), -EPERM);
	assert_int_equal(
	    p9c_mknod(c, sub, "blk", S_IFBLK | 0666, 8, 0, 0, NULL), -EPERM);
	assert_int_equal(access(hp(f, "sub/null"), F_OK), -1);
	assert_int_equal(walk_path(c, sub, "fifo", &fid), 0);
	assert_int_equal(p9c_lopen(c, fid, O_RDONLY, NULL, NULL, NULL), -EPERM);
	p9c_clunk(c, fid);
	/* an existing FIFO at a create's name is not opened (no hang) */
	assert_int_equal(
	    p9c_lcreate(c, sub, "fifo", O_RDWR, 0600, 0, NULL, NULL, NULL),
	    -EEXIST);
	p9c_clunk(c, sub);
}

static void getattr_setattr(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t fid;
	struct p9_attr a;
	struct stat st;

	assert_int_equal(walk_path(c, f->s.root, "a.txt", &fid), 0);
	assert_int_equal(p9c_getattr(c, fid, P9_GETATTR_ALL, &a), 0);
	stat(hp(f, "a.txt"), &st);
	assert_true((a.valid & P9_GETATTR_BASIC) == P9_GETATTR_BASIC);
	assert_int_equal(a.mode, st.st_mode);
	assert_int_equal(a.size, 6);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.uid, st.st_uid);
	assert_int_equal(a.qid.path, st.st_ino);
	assert_int_equal(a.mtime_sec, st.st_mtim.tv_sec);
	assert_int_equal(a.mtime_nsec, st.st_mtim.tv_nsec);
	assert_int_equal(a.blocks, st.st_blocks);

	struct p9_iattr ia = {
	    .valid = P9_SETATTR_MODE | P9_SETATTR_UID | P9_SETATTR_GID |
		     P9_SETATTR_SIZE | P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET |
		     P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET,
	    .mode = 0604,
	    .uid = 11,
	    .gid = 22,
	    .size = 3,
	    .atime_sec = 1500000000,
	    .atime_nsec = 5,
	    .mtime_sec = 1600000000,
	    .mtime_nsec = 7,
	};
	assert_int_equal(p9c_setattr(c, fid, &ia), 0);
	stat(hp(f, "a.txt"), &st);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(st.st_uid, 11);
	assert_int_equal(st.st_gid, 22);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(st.st_atim.tv_sec, 1500000000);
	assert_int_equal(st.st_atim.tv_nsec, 5);
	assert_int_equal(st.st_mtim.tv_sec, 1600000000);
	assert_int_equal(st.st_mtim.tv_nsec, 7);
	/* "now" times and one id at a time */
	ia = (struct p9_iattr){.valid = P9_SETATTR_MTIME | P9_SETATTR_GID,
			       .gid = 33};
	assert_int_equal(p9c_setattr(c, fid, &ia), 0);
	stat(hp(f, "a.txt"), &st);
	assert_true(st.st_mtim.tv_sec > 1600000000);
	assert_int_equal(st.st_uid, 11);
	assert_int_equal(st.st_gid, 33);
	p9c_clunk(c, fid);

	assert_int_equal(walk_path(c, f->s.root, "sub", &fid), 0);
	ia = (struct p9_iattr){.valid = P9_SETATTR_SIZE};
	assert_int_equal(p9c_setattr(c, fid, &ia), -EISDIR);
	ia = (struct p9_iattr){.valid = P9_SETATTR_MODE, .mode = 0711};
	assert_int_equal(p9c_setattr(c, fid, &ia), 0);
	stat(hp(f, "sub"), &st);
	assert_int_equal(st.st_mode & 07777, 0711);
	p9c_clunk(c, fid);
}

static void statfs_works(void **state)
{
	struct fx *f = *state;
	struct p9_statfs s;
	struct statfs h;
	assert_int_equal(p9c_statfs(f->s.c, f->s.root, &s), 0);
	statfs(f->tree, &h);
	assert_int_equal(s.type, (uint32_t)h.f_type);
	assert_int_equal(s.bsize, h.f_bsize);
	assert_int_equal(s.blocks, h.f_blocks);
	assert_int_equal(s.namelen, h.f_namelen);
}

static void xattrs(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t fid;
	char buf[256];

	if (setxattr(hp(f, "a.txt"), "user.probe", "1", 1, 0) < 0) {
		skip(); /* the temp file system has no user xattrs */
		return;
	}
	removexattr(hp(f, "a.txt"), "user.probe");
	assert_int_equal(walk_path(c, f->s.root, "a.txt", &fid), 0);
	assert_int_equal(p9c_setxattr(c, fid, "user.color", "blue", 4, 0), 0);
	assert_int_equal(
	    getxattr(hp(f, "a.txt"), "user.color", buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "blue", 4);
	assert_int_equal(p9c_getxattr(c, fid, "user.color", buf, sizeof(buf)),
			 4);
	assert_memory_equal(buf, "blue", 4);
	assert_int_equal(p9c_getxattr(c, fid, "user.color", NULL, 0), 4);
	assert_int_equal(p9c_getxattr(c, fid, "user.color", buf, 2), -ERANGE);
	assert_int_equal(
	    p9c_setxattr(c, fid, "user.color", "red", 3, XATTR_CREATE),
	    -EEXIST);
	assert_int_equal(
	    p9c_setxattr(c, fid, "user.size", "x", 1, XATTR_REPLACE), -ENODATA);
	/* a big value crosses several Twrites with a small msize? no: one */
	char big[3000];
	memset(big, 'z', sizeof(big));
	assert_int_equal(p9c_setxattr(c, fid, "user.big", big, sizeof(big), 0),
			 0);
	char back[3000];
	assert_int_equal(p9c_getxattr(c, fid, "user.big", back, sizeof(back)),
			 3000);
	assert_memory_equal(back, big, sizeof(big));
	ssize_t n = p9c_getxattr(c, fid, "", buf, sizeof(buf));
	assert_true(n > 0);
	bool saw_color = false, saw_big = false;
	for (ssize_t p = 0; p < n; p += (ssize_t)strlen(buf + p) + 1) {
		saw_color |= strcmp(buf + p, "user.color") == 0;
		saw_big |= strcmp(buf + p, "user.big") == 0;
	}
	assert_true(saw_color && saw_big);
	assert_int_equal(p9c_setxattr(c, fid, "user.color", NULL, 0, 0), 0);
	assert_int_equal(getxattr(hp(f, "a.txt"), "user.color", buf, 10), -1);
	assert_int_equal(errno, ENODATA);
	assert_int_equal(p9c_getxattr(c, fid, "user.color", buf, sizeof(buf)),
			 -ENODATA);
	p9c_clunk(c, fid);
}

/* Locks of two opens of one file conflict like those of two processes. */
static void locks(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t a, b;

	assert_int_equal(walk_path(c, f->s.root, "a.txt", &a), 0);
	assert_int_equal(walk_path(c, f->s.root, "a.txt", &b), 0);
	assert_int_equal(p9c_lopen(c, a, O_RDWR, NULL, NULL, NULL), 0);
	assert_int_equal(p9c_lopen(c, b, O_RDWR, NULL, NULL, NULL), 0);
	struct p9_flock l = {.type = P9_LOCK_TYPE_WRLCK,
			     .start = 0,
			     .length = 10,
			     .proc_id = 1,
			     .client_id = p9_str("t")};
	assert_int_equal(p9c_lock(c, a, &l), P9_LOCK_SUCCESS);
	l.proc_id = 2;
	assert_int_equal(p9c_lock(c, b, &l), P9_LOCK_BLOCKED);
	struct p9_flock q = l;
	assert_int_equal(p9c_getlock(c, b, &q), 0);
	assert_int_equal(q.type, P9_LOCK_TYPE_WRLCK);
	assert_int_equal(q.start, 0);
	assert_int_equal(q.length, 10);
	/* outside the locked range there is no conflict */
	struct p9_flock far = l;
	far.start = 100;
	assert_int_equal(p9c_lock(c, b, &far), P9_LOCK_SUCCESS);
	l.type = P9_LOCK_TYPE_UNLCK;
	l.proc_id = 1;
	assert_int_equal(p9c_lock(c, a, &l), P9_LOCK_SUCCESS);
	l.type = P9_LOCK_TYPE_WRLCK;
	l.proc_id = 2;
	assert_int_equal(p9c_lock(c, b, &l), P9_LOCK_SUCCESS);
	q = l;
	q.proc_id = 1;
	assert_int_equal(p9c_getlock(c, b, &q), 0);
	assert_int_equal(q.type, P9_LOCK_TYPE_UNLCK); /* own lock */
	l.type = 7;
	assert_int_equal(p9c_lock(c, a, &l), -EINVAL);
	p9c_clunk(c, a);
	p9c_clunk(c, b);
	/* an unopened fid cannot lock */
	assert_int_equal(walk_path(c, f->s.root, "a.txt", &a), 0);
	l.type = P9_LOCK_TYPE_RDLCK;
	assert_int_equal(p9c_lock(c, a, &l), -EBADF);
	p9c_clunk(c, a);
}

/* ---- the fd extension ---- */

static void fd_passing(void **state)
{
	struct gofer_serve_opts so = {.proc_fd = -1, .allow_fds = true};
	struct p9c_opts co = {.want_fds = true};
	struct fx *f = fx_new(&so, &co);
	struct p9c *c = f->s.c;
	uint32_t fid, d;
	int hfd;
	char buf[64];

	assert_true(p9c_fds_enabled(c));
	assert_int_equal(walk_path(c, f->s.root, "a.txt", &fid), 0);
	assert_int_equal(p9c_lopen(c, fid, O_RDWR, NULL, NULL, &hfd), 0);
	assert_true(hfd >= 0);
	assert_int_equal(pread(hfd, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "hello\n", 6);
	/* writes through the passed fd are the file's */
	assert_int_equal(pwrite(hfd, "J", 1, 0), 1);
	assert_int_equal(p9c_read(c, fid, 0, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "Jello\n", 6);
	close(hfd);
	p9c_clunk(c, fid);
	/* directories never come with an fd */
	assert_int_equal(walk_path(c, f->s.root, "sub", &d), 0);
	assert_int_equal(p9c_lopen(c, d, O_RDONLY, NULL, NULL, &hfd), 0);
	assert_int_equal(hfd, -1);
	p9c_clunk(c, d);
	/* a created file does */
	assert_int_equal(walk_path(c, f->s.root, "sub", &d), 0);
	assert_int_equal(
	    p9c_lcreate(c, d, "c", O_RDWR, 0600, 0, NULL, NULL, &hfd), 0);
	assert_true(hfd >= 0);
	assert_int_equal(write(hfd, "abc", 3), 3);
	close(hfd);
	p9c_clunk(c, d);
	assert_string_equal(read_file(hp(f, "sub/c")), "abc");
	assert_int_equal(fx_free(f), 0);

	/* a server that does not offer it: plain 9P2000.L, no fds */
	so.allow_fds = false;
	f = fx_new(&so, &co);
	assert_false(p9c_fds_enabled(f->s.c));
	assert_int_equal(walk_path(f->s.c, f->s.root, "a.txt", &fid), 0);
	assert_int_equal(p9c_lopen(f->s.c, fid, O_RDONLY, NULL, NULL, &hfd), 0);
	assert_int_equal(hfd, -1);
	p9c_clunk(f->s.c, fid);
	assert_int_equal(fx_free(f), 0);
}

/* ---- read-only ---- */

static void read_only_server(void **state)
{
	struct gofer_serve_opts so = {.proc_fd = -1, .read_only = true};
	struct fx *f = fx_new(&so, NULL);
	struct p9c *c = f->s.c;
	uint32_t d, fid;

	assert_int_equal(p9c_walk(c, f->s.root, 0, NULL, &d, NULL), 0);
	assert_int_equal(
	    p9c_lcreate(c, d, "n", O_RDWR, 0644, 0, NULL, NULL, NULL), -EROFS);
	assert_int_equal(p9c_mkdir(c, d, "n", 0755, 0, NULL), -EROFS);
	assert_int_equal(p9c_symlink(c, d, "n", "t", 0, NULL), -EROFS);
	assert_int_equal(p9c_mknod(c, d, "n", S_IFIFO | 0644, 0, 0, 0, NULL),
			 -EROFS);
	assert_int_equal(p9c_unlinkat(c, d, "a.txt", 0), -EROFS);
	assert_int_equal(p9c_renameat(c, d, "a.txt", d, "b"), -EROFS);
	assert_int_equal(walk_path(c, f->s.root, "a.txt", &fid), 0);
	assert_int_equal(p9c_link(c, d, fid, "h"), -EROFS);
	assert_int_equal(p9c_lopen(c, fid, O_WRONLY, NULL, NULL, NULL), -EROFS);
	assert_int_equal(
	    p9c_lopen(c, fid, O_RDONLY | O_TRUNC, NULL, NULL, NULL), -EROFS);
	struct p9_iattr ia = {.valid = P9_SETATTR_MODE, .mode = 0777};
	assert_int_equal(p9c_setattr(c, fid, &ia), -EROFS);
	assert_int_equal(p9c_setxattr(c, fid, "user.x", "1", 1, 0), -EROFS);
	assert_int_equal(p9c_lopen(c, fid, O_RDONLY, NULL, NULL, NULL), 0);
	char buf[8];
	assert_int_equal(p9c_read(c, fid, 0, buf, sizeof(buf)), 6);
	p9c_clunk(c, fid);
	p9c_clunk(c, d);
	assert_string_equal(read_file(hp(f, "a.txt")), "hello\n");
	assert_int_equal(fx_free(f), 0);
}

/* ---- escapes ---- */

static void symlinks_pointing_out(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	uint32_t fid, d;
	char buf[64];
	const char *links[] = {"link_out", "abs_out"};

	for (int i = 0; i < 2; i++) {
		assert_int_equal(walk_path(c, f->s.root, links[i], &fid), 0);
		assert_int_equal(p9c_lopen(c, fid, O_RDONLY, NULL, NULL, NULL),
				 -ELOOP);
		struct p9_attr a;
		assert_int_equal(p9c_getattr(c, fid, P9_GETATTR_ALL, &a), 0);
		assert_true(S_ISLNK(a.mode)); /* not the secret's attributes */
		p9c_clunk(c, fid);
	}
	/* walking through a symlinked directory */
	const char *through[] = {"dir_out", "secret"};
	assert_int_equal(p9c_walk(c, f->s.root, 2, through, &fid, NULL),
			 -ENOENT);
	assert_int_equal(walk_path(c, f->s.root, "dir_out", &d), 0);
	const char *sec[] = {"secret"};
	assert_int_equal(p9c_walk(c, d, 1, sec, &fid, NULL), -ENOTDIR);
	/* creating through a symlink as directory */
	assert_int_equal(p9c_mkdir(c, d, "x", 0755, 0, NULL), -ENOTDIR);
	assert_int_equal(
	    p9c_lcreate(c, d, "x", O_RDWR, 0644, 0, NULL, NULL, NULL),
	    -ENOTDIR);
	p9c_clunk(c, d);
	/* creating at the name of a symlink does not write its target */
	assert_int_equal(p9c_walk(c, f->s.root, 0, NULL, &d, NULL), 0);
	assert_int_equal(p9c_lcreate(c, d, "abs_out", O_RDWR | O_TRUNC, 0644, 0,
				     NULL, NULL, NULL),
			 -ELOOP);
	p9c_clunk(c, d);
	/* a hard link needs a fid, and no fid reaches outside */
	assert_int_equal(walk_path(c, f->s.root, "abs_out", &fid), 0);
	assert_int_equal(p9c_link(c, f->s.root, fid, "hl"), 0);
	struct stat st;
	assert_int_equal(lstat(hp(f, "hl"), &st), 0);
	assert_true(S_ISLNK(st.st_mode)); /* a link to the symlink itself */
	/* setattr on the symlink fid never reaches its target */
	struct p9_iattr ia = {
	    .valid = P9_SETATTR_UID | P9_SETATTR_GID, .uid = 3, .gid = 3};
	assert_int_equal(p9c_setattr(c, fid, &ia), 0);
	p9c_clunk(c, fid);
	char sp[256];
	snprintf(sp, sizeof(sp), "%s/secret", f->outside);
	assert_int_equal(stat(sp, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_string_equal(read_file(sp), "SECRET");
	(void)buf;
}

struct swapper {
	const char *a, *b;
	volatile int stop;
	long swaps;
};

static void *swap_loop(void *arg)
{
	struct swapper *s = arg;
	while (!s->stop) {
		if (renameat2(AT_FDCWD, s->a, AT_FDCWD, s->b,
			      RENAME_EXCHANGE) == 0)
			s->swaps++;
	}
	return NULL;
}

/* A directory of the tree and a symlink to the outside trade places as
 * fast as the host can while the client walks through that name: every
 * read sees the inside file or fails, never the secret. */
static void symlink_swapped_during_walk(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	char in_dir[256], link[256];

	snprintf(in_dir, sizeof(in_dir), "%s/d", f->tree);
	mkdir(in_dir, 0755);
	snprintf(link, sizeof(link), "%s/d/secret", f->tree);
	write_file(link, "inside");
	snprintf(link, sizeof(link), "%s/swap", f->tree);
	assert_int_equal(symlink(f->outside, link), 0);

	struct swapper sw = {.a = in_dir, .b = link};
	pthread_t th;
	pthread_create(&th, NULL, swap_loop, &sw);
	int inside = 0, refused = 0;
	for (int i = 0; i < 2000; i++) {
		const char *path = i % 2 ? "d/secret" : "swap/secret";
		char buf[16] = {0};
		ssize_t n =
		    p9_read_all(c, f->s.root, path, buf, sizeof(buf) - 1);
		if (n >= 0) {
			assert_string_equal(buf, "inside");
			inside++;
		} else {
			assert_true(n == -ENOENT || n == -ENOTDIR ||
				    n == -ELOOP);
			refused++;
		}
	}
	sw.stop = 1;
	pthread_join(th, NULL);
	/* the race really ran both ways */
	assert_true(sw.swaps > 10);
	assert_true(inside > 0 && refused > 0);
}

struct mover {
	struct p9c *c;
	uint32_t root, a;
	volatile int stop;
	long moves;
};

static void *move_loop(void *arg)
{
	struct mover *m = arg;
	while (!m->stop) {
		/* a/b <-> b: a directory moves up and down under a walker */
		if (p9c_renameat(m->c, m->a, "b", m->root, "b") == 0)
			m->moves++;
		if (p9c_renameat(m->c, m->root, "b", m->a, "b") == 0)
			m->moves++;
	}
	return NULL;
}

/* Renames by the client itself, from another thread, while fids held in
 * the moving directory keep being used: everything stays inside. */
static void rename_race(void **state)
{
	struct fx *f = *state;
	struct p9c *c = f->s.c;
	mkdir(hp(f, "a"), 0755);
	mkdir(hp(f, "a/b"), 0755);
	write_file(hp(f, "a/b/f"), "in-b");
	struct mover m = {.c = c, .root = f->s.root};
	assert_int_equal(walk_path(c, f->s.root, "a", &m.a), 0);
	uint32_t held;
	assert_int_equal(walk_path(c, f->s.root, "a/b", &held), 0);
	pthread_t th;
	pthread_create(&th, NULL, move_loop, &m);
	int ok = 0;
	for (int i = 0; i < 1000; i++) {
		char buf[16] = {0};
		/* by the held fid: always the same directory */
		uint32_t x;
		const char *fn[] = {"f"};
		assert_int_equal(p9c_walk(c, held, 1, fn, &x, NULL), 0);
		assert_int_equal(p9c_lopen(c, x, O_RDONLY, NULL, NULL, NULL),
				 0);
		assert_int_equal(p9c_read(c, x, 0, buf, sizeof(buf)), 4);
		assert_string_equal(buf, "in-b");
		p9c_clunk(c, x);
		/* by name: found in one place or the other */
		ssize_t n = p9_read_all(c, f->s.root, i % 2 ? "a/b/f" : "b/f",
					buf, sizeof(buf) - 1);
		if (n == 4)
			ok++;
		else
			assert_int_equal(n, -ENOENT);
	}
	m.stop = 1;
	pthread_join(th, NULL);
	assert_true(m.moves > 10);
	assert_true(ok > 0);
	p9c_clunk(c, held);
	p9c_clunk(c, m.a);
	/* the tree holds the same files as before, nothing went out */
	assert_true(access(hp(f, "a/b/f"), F_OK) == 0 ||
		    access(hp(f, "b/f"), F_OK) == 0);
	char sp[256];
	snprintf(sp, sizeof(sp), "%s/b", f->outside);
	assert_int_equal(access(sp, F_OK), -1);
}

/* ---- concurrency ---- */

struct worker {
	struct fx *f;
	int id, ok;
};

/* p9_read_all() through the paired calls: a walk with its getattr, then
 * a clone with its open. */
static ssize_t read_paired(struct p9c *c, uint32_t root, const char *name,
			   char *buf, size_t len)
{
	uint32_t fid, open_fid;
	struct p9_qid q;
	struct p9_attr a;
	const char *n[] = {name};
	int e = p9c_walk_getattr(c, root, 1, n, P9_GETATTR_BASIC, &fid, &q,
				 &a);
	if (e < 0)
		return e;
	e = p9c_clone_open(c, fid, NULL, O_RDONLY, 0, 0, &open_fid, NULL,
			   NULL, NULL);
	p9c_clunk(c, fid);
	if (e < 0)
		return e;
	ssize_t r = p9c_read(c, open_fid, 0, buf, len);
	p9c_clunk(c, open_fid);
	return r >= 0 && (uint64_t)r != a.size ? -EIO : r;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct p9c *c = w->f->s.c;
	for (int i = 0; i < 200; i++) {
		char buf[32] = {0};
		const char *path = (i + w->id) % 2 ? "a.txt" : "sub/inner.txt";
		/* every third round in pairs, which take two tags at once */
		ssize_t n =
		    i % 3 == 2 && (i + w->id) % 2
			? read_paired(c, w->f->s.root, path, buf,
				      sizeof(buf) - 1)
			: p9_read_all(c, w->f->s.root, path, buf,
				      sizeof(buf) - 1);
		if ((i + w->id) % 2 ? n == 6 && !strcmp(buf, "hello\n")
				    : n == 5 && !strcmp(buf, "inner"))
			w->ok++;
	}
	return NULL;
}

/* n threads at once on f's connection, each reading files 200 times. */
static void run_workers(struct fx *f, int n)
{
	pthread_t th[16];
	struct worker w[16];
	assert_true(n <= 16);
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){f, i, 0};
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].ok, 200);
	}
}

static void many_threads_one_connection(void **state)
{
	run_workers(*state, 8);
}

/* More threads than tags: callers queue for a free slot. */
static void more_threads_than_tags(void **state)
{
	struct gofer_serve_opts so = {.proc_fd = -1};
	struct p9c_opts co = {.max_inflight = 2, .msize = 8192};
	struct fx *f = fx_new(&so, &co);
	run_workers(f, 12);
	assert_int_equal(p9c_msize(f->s.c), 8192);
	assert_int_equal(fx_free(f), 0);
}

/* With one tag the paired calls send their halves one after the other. */
static void pairs_with_one_tag(void **state)
{
	struct gofer_serve_opts so = {.proc_fd = -1};
	struct p9c_opts co = {.max_inflight = 1};
	struct fx *f = fx_new(&so, &co);
	struct p9c *c = f->s.c;
	for (int i = 0; i < 3; i++) {
		char buf[32] = {0};
		assert_int_equal(read_paired(c, f->s.root, "a.txt", buf,
					     sizeof(buf) - 1),
				 6);
		assert_string_equal(buf, "hello\n");
	}
	uint32_t fid;
	struct p9_attr a;
	const char *miss[] = {"missing"};
	assert_int_equal(p9c_walk_getattr(c, f->s.root, 1, miss,
					  P9_GETATTR_BASIC, &fid, NULL, &a),
			 -ENOENT);
	assert_int_equal(create_excl(c, f->s.root, "one-tag.txt", 0600, &fid),
			 0);
	p9c_clunk(c, fid);
	assert_int_equal(fx_free(f), 0);
}

/* ---- malformed input on the wire ---- */

static int raw_rpc(int fd, const uint8_t *msg, size_t len, uint8_t *reply,
		   size_t cap)
{
	if (write(fd, msg, len) != (ssize_t)len)
		return -1;
	size_t got = 0;
	while (got < 4) {
		ssize_t n = read(fd, reply + got, cap - got);
		if (n <= 0)
			return n == 0 ? 0 : -1;
		got += (size_t)n;
	}
	uint32_t size = p9_peek_size(reply);
	while (got < size) {
		ssize_t n = read(fd, reply + got, cap - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return (int)got;
}

static void malformed_messages(void **state)
{
	char base[] = "/tmp/gofer-raw-XXXXXX";
	assert_non_null(mkdtemp(base));
	clean_add_dir(base);
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		int root = open(base, O_PATH | O_DIRECTORY);
		struct gofer_serve_opts so = {.proc_fd = -1, .max_msize = 8192};
		_exit(gofer_serve(sv[1], root, &so) == -EMSGSIZE ? 0 : 1);
	}
	clean_add_pid(pid);
	close(sv[1]);
	uint8_t buf[256], rep[8192];
	struct p9_msg m = {.type = P9_TVERSION, .tag = P9_NOTAG}, r;
	m.u.version.msize = 1 << 20;
	m.u.version.version = p9_str("9P2000.L");
	ssize_t l = p9_encode(&m, buf, sizeof(buf));
	int n = raw_rpc(sv[0], buf, (size_t)l, rep, sizeof(rep));
	assert_int_equal(p9_decode(rep, (size_t)n, &r), 0);
	assert_int_equal(r.type, P9_RVERSION);
	assert_int_equal(r.u.version.msize, 8192); /* lowered to ours */

	/* an attach whose string runs past the end: an error for that tag */
	struct p9_msg a = {.type = P9_TATTACH, .tag = 5};
	a.u.tattach.fid = 1;
	a.u.tattach.afid = P9_NOFID;
	a.u.tattach.uname = p9_str("root");
	l = p9_encode(&a, buf, sizeof(buf));
	buf[15] = 200; /* uname length */
	n = raw_rpc(sv[0], buf, (size_t)l, rep, sizeof(rep));
	assert_int_equal(p9_decode(rep, (size_t)n, &r), 0);
	assert_int_equal(r.type, P9_RLERROR);
	assert_int_equal(r.tag, 5);
	assert_int_equal(r.u.rlerror.ecode, EBADMSG);
	/* an unknown type */
	uint8_t unk[] = {7, 0, 0, 0, 112, 9, 0};
	n = raw_rpc(sv[0], unk, sizeof(unk), rep, sizeof(rep));
	assert_int_equal(p9_decode(rep, (size_t)n, &r), 0);
	assert_int_equal(r.type, P9_RLERROR);
	assert_int_equal(r.tag, 9);
	assert_int_equal(r.u.rlerror.ecode, EOPNOTSUPP);
	/* an R message sent as a request */
	uint8_t rcl[] = {7, 0, 0, 0, P9_RCLUNK, 10, 0};
	n = raw_rpc(sv[0], rcl, sizeof(rcl), rep, sizeof(rep));
	assert_int_equal(p9_decode(rep, (size_t)n, &r), 0);
	assert_int_equal(r.u.rlerror.ecode, EOPNOTSUPP);
	/* Tauth: no authentication, in the words diod's clients expect */
	struct p9_msg au = {.type = P9_TAUTH, .tag = 11};
	au.u.tauth.afid = 3;
	l = p9_encode(&au, buf, sizeof(buf));
	n = raw_rpc(sv[0], buf, (size_t)l, rep, sizeof(rep));
	assert_int_equal(p9_decode(rep, (size_t)n, &r), 0);
	assert_int_equal(r.u.rlerror.ecode, ENOENT);
	/* still serving after all that */
	a.u.tattach.uname = p9_str("root");
	l = p9_encode(&a, buf, sizeof(buf));
	n = raw_rpc(sv[0], buf, (size_t)l, rep, sizeof(rep));
	assert_int_equal(p9_decode(rep, (size_t)n, &r), 0);
	assert_int_equal(r.type, P9_RATTACH);
	/* a size above msize ends the connection: framing is lost */
	uint8_t huge[] = {0, 0, 1, 0, P9_TCLUNK, 1, 0, 1, 0, 0, 0};
	n = raw_rpc(sv[0], huge, sizeof(huge), rep, sizeof(rep));
	assert_int_equal(n, 0); /* EOF */
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(sv[0]);
	rmdir(base);
}

/* Requests before Tversion, and a version nobody speaks. */
static void version_rules(void **state)
{
	char base[] = "/tmp/gofer-raw-XXXXXX";
	assert_non_null(mkdtemp(base));
	clean_add_dir(base);
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		int root = open(base, O_PATH | O_DIRECTORY);
		_exit(gofer_serve(sv[1], root, NULL) == 0 ? 0 : 1);
	}
	clean_add_pid(pid);
	close(sv[1]);
	uint8_t buf[256], rep[512];
	struct p9_msg a = {.type = P9_TATTACH, .tag = 1}, r;
	a.u.tattach.afid = P9_NOFID;
	ssize_t l = p9_encode(&a, buf, sizeof(buf));
	int n = raw_rpc(sv[0], buf, (size_t)l, rep, sizeof(rep));
	assert_int_equal(p9_decode(rep, (size_t)n, &r), 0);
	assert_int_equal(r.u.rlerror.ecode, EPROTO);
	struct p9_msg v = {.type = P9_TVERSION, .tag = P9_NOTAG};
	v.u.version.msize = 65536;
	v.u.version.version = p9_str("9P2000.u");
	l = p9_encode(&v, buf, sizeof(buf));
	n = raw_rpc(sv[0], buf, (size_t)l, rep, sizeof(rep));
	assert_int_equal(p9_decode(rep, (size_t)n, &r), 0);
	assert_true(p9_str_eq(r.u.version.version, "unknown"));
	/* the fd version on a server that does not offer it */
	v.u.version.version = p9_str(P9_VERSION_L_FDS);
	l = p9_encode(&v, buf, sizeof(buf));
	n = raw_rpc(sv[0], buf, (size_t)l, rep, sizeof(rep));
	assert_int_equal(p9_decode(rep, (size_t)n, &r), 0);
	assert_true(p9_str_eq(r.u.version.version, P9_VERSION_L));
	/* too small an msize */
	v.u.version.msize = 100;
	l = p9_encode(&v, buf, sizeof(buf));
	n = raw_rpc(sv[0], buf, (size_t)l, rep, sizeof(rep));
	assert_int_equal(p9_decode(rep, (size_t)n, &r), 0);
	assert_true(p9_str_eq(r.u.version.version, "unknown"));
	close(sv[0]);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	rmdir(base);
}

/* The client against a server that dies: calls fail, nothing hangs. */
static void server_gone(void **state)
{
	struct fx *f = *state;
	uint32_t fid;
	kill(f->s.pid, SIGKILL);
	assert_true(walk_path(f->s.c, f->s.root, "a.txt", &fid) == -ECONNRESET);
	assert_int_equal(p9c_clunk(f->s.c, f->s.root), -ECONNRESET);
}

static int teardown_killed(void **state)
{
	int st = fx_free(*state);
	clean_all(state);
	return WIFSIGNALED(st) ? 0 : -1;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	if (geteuid() != 0) {
		/* ownership checks need to chown like the real gofer */
		printf("skipped: needs root\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
	    T(walk_basic),
	    T(walk_pairs),
	    T(walk_rejects_bad_names),
	    T(create_write_read),
	    T(mkdir_readdir),
	    T(rename_unlink),
	    T(symlinks),
	    T(hard_links_and_mknod),
	    T(getattr_setattr),
	    T(statfs_works),
	    T(xattrs),
	    T(locks),
	    cmocka_unit_test_teardown(fd_passing, clean_all),
	    cmocka_unit_test_teardown(read_only_server, clean_all),
	    T(symlinks_pointing_out),
	    T(symlink_swapped_during_walk),
	    T(rename_race),
	    T(many_threads_one_connection),
	    cmocka_unit_test_teardown(more_threads_than_tags, clean_all),
	    cmocka_unit_test_teardown(pairs_with_one_tag, clean_all),
	    cmocka_unit_test_teardown(malformed_messages, clean_all),
	    cmocka_unit_test_teardown(version_rules, clean_all),
	    cmocka_unit_test_setup_teardown(server_gone, setup,
					    teardown_killed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
