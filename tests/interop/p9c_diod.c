/* Our client library against Debian's diod server: diod serves a temporary
 * directory on one end of a socketpair (-r/-w, so no listening socket and
 * no readiness wait), running as nobody (-u 65534, no auth), and the
 * client reads and writes the tree; every result is checked on the host.
 * It also asks for the fd extension, which diod refuses: the client must
 * fall back to plain 9P2000.L. */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../gofer/harness.h"

#define NOBODY 65534

static const char *diod_path = "/usr/sbin/diod";
static char base[64], exp_dir[96];
static pid_t diod_pid;
static struct p9c *c;
static uint32_t root;

static const char *hp(const char *rel)
{
	static char p[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", exp_dir, rel);
	return p[i];
}

static int chown_one(const char *p, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	return lchown(p, NOBODY, NOBODY);
}

static int setup(void **state)
{
	strcpy(base, "/tmp/p9c-diod-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	chmod(base, 0755);
	snprintf(exp_dir, sizeof(exp_dir), "%s/export", base);
	mkdir(exp_dir, 0755);
	write_file(hp("hello.txt"), "hello from diod\n");
	mkdir(hp("dir"), 0755);
	for (int i = 0; i < 50; i++) {
		char n[64];
		snprintf(n, sizeof(n), "dir/entry-%02d", i);
		write_file(hp(n), n);
	}
	if (nftw(exp_dir, chown_one, 16, FTW_PHYS) != 0)
		return -1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	diod_pid = fork();
	if (diod_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(sv[1], 3);
		execl(diod_path, "diod", "-f", "-n", "-u", "65534", "-r", "3",
		      "-w", "3", "-e", exp_dir, "-c", "/dev/null", "-L",
		      "stderr", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	struct p9c_opts o = {.msize = 65536 + P9_IOHDRSZ, .want_fds = true};
	int e = p9c_connect(sv[0], &o, &c);
	if (e < 0) {
		fprintf(stderr, "connect to diod: %s\n", strerror(-e));
		return -1;
	}
	e = p9c_attach(c, "nobody", exp_dir, NOBODY, &root, NULL);
	if (e < 0) {
		fprintf(stderr, "attach to diod: %s\n", strerror(-e));
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	p9c_clunk(c, root);
	struct server s = {.pid = diod_pid, .c = c};
	int st = server_stop(&s);
	rm_rf(base);
	/* diod ends when its one connection does */
	return WIFEXITED(st) ? 0 : -1;
}

static void negotiated_plain(void **state)
{
	assert_false(p9c_fds_enabled(c));
	assert_true(p9c_msize(c) <= 65536 + P9_IOHDRSZ);
	assert_true(p9c_msize(c) >= P9_MIN_MSIZE);
}

static void read_file_through_diod(void **state)
{
	char buf[128] = {0};
	assert_int_equal(p9_read_all(c, root, "hello.txt", buf, 100), 16);
	assert_string_equal(buf, "hello from diod\n");
	struct p9_attr a;
	uint32_t fid;
	assert_int_equal(walk_path(c, root, "hello.txt", &fid), 0);
	assert_int_equal(p9c_getattr(c, fid, P9_GETATTR_BASIC, &a), 0);
	struct stat st;
	stat(hp("hello.txt"), &st);
	assert_int_equal(a.size, 16);
	assert_int_equal(a.mode, st.st_mode);
	assert_int_equal(a.uid, NOBODY);
	assert_int_equal(a.mtime_sec, st.st_mtime);
	p9c_clunk(c, fid);
	assert_int_equal(walk_path(c, root, "nothere", &fid), -ENOENT);
}

/* The paired calls against a server that may answer a pair's second
 * request before its first (diod runs requests on worker threads): the
 * same results as the calls one by one, many times over. */
static void paired_requests(void **state)
{
	struct stat st;
	stat(hp("hello.txt"), &st);
	for (int i = 0; i < 200; i++) {
		uint32_t fid, open_fid;
		struct p9_qid q;
		struct p9_attr a;
		const char *n[] = {"hello.txt"};
		assert_int_equal(p9c_walk_getattr(c, root, 1, n,
						  P9_GETATTR_BASIC, &fid, &q,
						  &a),
				 0);
		assert_int_equal(q.path, st.st_ino);
		assert_int_equal(a.size, 16);
		assert_int_equal(a.mode, st.st_mode);
		assert_int_equal(p9c_clone_open(c, fid, NULL, O_RDONLY, 0, 0,
						&open_fid, NULL, NULL, NULL),
				 0);
		char buf[32] = {0};
		assert_int_equal(p9c_read(c, open_fid, 0, buf, sizeof(buf)),
				 16);
		assert_string_equal(buf, "hello from diod\n");
		assert_int_equal(p9c_clunk(c, open_fid), 0);
		assert_int_equal(p9c_clunk(c, fid), 0);
		const char *miss[] = {"nothere"};
		assert_int_equal(p9c_walk_getattr(c, root, 1, miss,
						  P9_GETATTR_BASIC, &fid, NULL,
						  &a),
				 -ENOENT);
	}
}

static void write_big_file(void **state)
{
	uint32_t d;
	size_t len = 300000; /* several messages at this msize */
	char *data = malloc(len), *back = malloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(i * 31 + (i >> 8));
	assert_int_equal(p9c_walk(c, root, 0, NULL, &d, NULL), 0);
	assert_int_equal(p9c_lcreate(c, d, "big.bin", O_RDWR, 0640, NOBODY,
				     NULL, NULL, NULL),
			 0);
	size_t off = 0;
	int writes = 0;
	while (off < len) {
		ssize_t n = p9c_write(c, d, off, data + off, len - off);
		assert_true(n > 0);
		off += (size_t)n;
		writes++;
	}
	assert_true(writes > 1);
	assert_int_equal(p9c_fsync(c, d, false), 0);
	p9c_clunk(c, d);
	/* the host sees what was written */
	int fd = open(hp("big.bin"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, back, len), (ssize_t)len);
	close(fd);
	assert_memory_equal(data, back, len);
	struct stat st;
	stat(hp("big.bin"), &st);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, NOBODY);
	/* and reads back the same through diod */
	memset(back, 0, len);
	assert_int_equal(p9_read_all(c, root, "big.bin", back, len),
			 (ssize_t)len);
	assert_memory_equal(data, back, len);
	/* truncate with setattr */
	assert_int_equal(walk_path(c, root, "big.bin", &d), 0);
	struct p9_iattr ia = {.valid = P9_SETATTR_SIZE, .size = 1000};
	assert_int_equal(p9c_setattr(c, d, &ia), 0);
	p9c_clunk(c, d);
	stat(hp("big.bin"), &st);
	assert_int_equal(st.st_size, 1000);
	free(data);
	free(back);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void readdir_matches_host(void **state)
{
	uint32_t d;
	assert_int_equal(walk_path(c, root, "dir", &d), 0);
	assert_int_equal(p9c_lopen(c, d, O_RDONLY, NULL, NULL, NULL), 0);
	char *names[64];
	int n = 0;
	uint64_t off = 0;
	for (;;) {
		uint8_t buf[512]; /* small: several calls */
		ssize_t len = p9c_readdir(c, d, off, buf, sizeof(buf));
		assert_true(len >= 0);
		if (len == 0)
			break;
		for (ssize_t pos = 0; pos < len;) {
			struct p9_dirent de;
			ssize_t u = p9_dirent_decode(buf + pos,
						     (size_t)(len - pos), &de);
			assert_true(u > 0);
			pos += u;
			off = de.offset;
			/* diod passes "." and ".." through; ours does not */
			if (p9_str_eq(de.name, ".") || p9_str_eq(de.name, ".."))
				continue;
			assert_true(n < 64);
			names[n++] = strndup(de.name.s, de.name.len);
		}
	}
	p9c_clunk(c, d);
	assert_int_equal(n, 50);
	qsort(names, (size_t)n, sizeof(*names), cmp_str);
	for (int i = 0; i < n; i++) {
		char want[32];
		snprintf(want, sizeof(want), "entry-%02d", i);
		assert_string_equal(names[i], want);
		free(names[i]);
	}
}

static void namespace_changes(void **state)
{
	uint32_t d;
	char buf[64];
	assert_int_equal(p9c_mkdir(c, root, "made", 0750, NOBODY, NULL), 0);
	struct stat st;
	assert_int_equal(stat(hp("made"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(walk_path(c, root, "made", &d), 0);
	assert_int_equal(p9c_renameat(c, root, "hello.txt", d, "moved.txt"), 0);
	assert_int_equal(access(hp("hello.txt"), F_OK), -1);
	assert_string_equal(read_file(hp("made/moved.txt")),
			    "hello from diod\n");
	assert_int_equal(p9c_symlink(c, d, "ln", "moved.txt", NOBODY, NULL), 0);
	uint32_t l;
	assert_int_equal(walk_path(c, d, "ln", &l), 0);
	assert_int_equal(p9c_readlink(c, l, buf, sizeof(buf)), 9);
	assert_string_equal(buf, "moved.txt");
	p9c_clunk(c, l);
	assert_int_equal(readlink(hp("made/ln"), buf, sizeof(buf)), 9);
	assert_int_equal(p9c_unlinkat(c, d, "ln", 0), 0);
	assert_int_equal(p9c_unlinkat(c, d, "moved.txt", 0), 0);
	p9c_clunk(c, d);
	assert_int_equal(p9c_unlinkat(c, root, "made", P9_AT_REMOVEDIR), 0);
	assert_int_equal(access(hp("made"), F_OK), -1);
	struct p9_statfs sf;
	assert_int_equal(p9c_statfs(c, root, &sf), 0);
	assert_true(sf.bsize > 0 && sf.blocks > 0);
}

int main(int argc, char **argv)
{
	if (geteuid() != 0) {
		printf("skipped: diod -u needs root to switch to nobody\n");
		return 77;
	}
	if (argc > 1)
		diod_path = argv[1];
	if (access(diod_path, X_OK) < 0) {
		printf("skipped: %s not installed (make deps)\n", diod_path);
		return 77;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(negotiated_plain),
	    cmocka_unit_test(read_file_through_diod),
	    cmocka_unit_test(paired_requests),
	    cmocka_unit_test(write_big_file),
	    cmocka_unit_test(readdir_matches_host),
	    cmocka_unit_test(namespace_changes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
