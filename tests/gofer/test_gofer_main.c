/* The gofer process as runsc starts it (`runsc gofer --sock-fd N ...`):
 * its mount namespace (binds read-only and read-write, EROFS), pivot_root
 * (nothing above the root), the host root served read-only with /proc,
 * /sys and /dev hidden, and its seccomp allowlist (every operation below
 * runs under it; a call outside the list would kill the gofer and fail the
 * test at its exit status). argv[1] is the runsc binary. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/xattr.h>

#include <cmocka.h>

#include "harness.h"

static const char *runsc;

struct gofer {
	pid_t pid;
	struct p9c *c;
	uint32_t root;
};

/* Starts runsc gofer with the socket as fd 3 and the given arguments. */
static int gofer_start(struct gofer *g, bool fds, const char *const *args)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	g->pid = fork();
	if (g->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(sv[1], 3); /* dup2 clears FD_CLOEXEC on 3 */
		const char *argv[32] = {runsc, "gofer", "--sock-fd", "3"};
		int n = 4;
		for (; *args && n < 30; args++)
			argv[n++] = *args;
		argv[n] = NULL;
		execv(runsc, (char **)argv);
		_exit(127);
	}
	clean_add_pid(g->pid);
	close(sv[1]);
	struct p9c_opts co = {.want_fds = fds};
	int e = p9c_connect(sv[0], &co, &g->c);
	if (e < 0)
		return e;
	return p9c_attach(g->c, "root", "", 0, &g->root, NULL);
}

static int gofer_stop(struct gofer *g)
{
	struct server s = {.pid = g->pid, .c = g->c};
	g->c = NULL;
	return server_stop(&s);
}

static void assert_clean_exit(int st)
{
	if (WIFSIGNALED(st))
		fail_msg("gofer killed by signal %d (31 = seccomp)",
			 WTERMSIG(st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int write_via(struct p9c *c, uint32_t root, const char *dir,
		     const char *name, const char *text)
{
	uint32_t d;
	int e = walk_path(c, root, dir, &d);
	if (e < 0)
		return e;
	e = p9c_lcreate(c, d, name, O_WRONLY, 0644, 0, NULL, NULL, NULL);
	if (e == 0) {
		ssize_t n = p9c_write(c, d, 0, text, strlen(text));
		e = n < 0 ? (int)n : 0;
	}
	p9c_clunk(c, d);
	return e;
}

/* The gofer proper (the child of the runsc process) runs in its own mount
 * and pid namespaces, with no new privileges and a seccomp filter. */
static void check_isolation(pid_t runsc_pid)
{
	char p[128], line[256];
	snprintf(p, sizeof(p), "/proc/%d/task/%d/children", runsc_pid,
		 runsc_pid);
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	int child = 0;
	assert_int_equal(fscanf(f, "%d", &child), 1);
	fclose(f);
	const char *nss[] = {"pid", "mnt"};
	for (int i = 0; i < 2; i++) {
		char a[64] = "", b[64] = "", q[128];
		snprintf(q, sizeof(q), "/proc/%d/ns/%s", child, nss[i]);
		assert_true(readlink(q, a, sizeof(a) - 1) > 0);
		snprintf(q, sizeof(q), "/proc/self/ns/%s", nss[i]);
		assert_true(readlink(q, b, sizeof(b) - 1) > 0);
		assert_string_not_equal(a, b);
	}
	snprintf(p, sizeof(p), "/proc/%d/status", child);
	f = fopen(p, "r");
	assert_non_null(f);
	int seccomp = -1, nnp = -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Seccomp: %d", &seccomp);
		sscanf(line, "NoNewPrivs: %d", &nnp);
	}
	fclose(f);
	assert_int_equal(seccomp, 2); /* SECCOMP_MODE_FILTER */
	assert_int_equal(nnp, 1);
}

/* A bundle-like root: a writable rootfs with a read-only and a read-write
 * bind, mount points created inside it, and a symlink that tries to send a
 * bind mount outside. */
static void bundle_root(void **state)
{
	char base[] = "/tmp/gofer-main-XXXXXX";
	assert_non_null(mkdtemp(base));
	clean_add_dir(base);
	char rootfs[128], ro[128], rw[128], p[256], a1[300], a2[300], a3[300];
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", base);
	snprintf(ro, sizeof(ro), "%s/hostro", base);
	snprintf(rw, sizeof(rw), "%s/hostrw", base);
	mkdir(rootfs, 0755);
	mkdir(ro, 0755);
	mkdir(rw, 0755);
	snprintf(p, sizeof(p), "%s/data", ro);
	write_file(p, "read-only data");
	snprintf(p, sizeof(p), "%s/etc", rootfs);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/etc/motd", rootfs);
	write_file(p, "motd");
	/* /evil in the image points at the host's base dir, which inside
	 * the root names rootfs/<base> */
	snprintf(p, sizeof(p), "%s/evil", rootfs);
	symlink(base, p);
	snprintf(p, sizeof(p), "mkdir -p %s%s", rootfs, base);
	assert_int_equal(system(p), 0);

	snprintf(a1, sizeof(a1), "%s:/mnt/ro", ro);
	snprintf(a2, sizeof(a2), "%s:/mnt/rw", rw);
	snprintf(a3, sizeof(a3), "%s:/evil/escaped", rw);
	const char *args[] = {"--root", rootfs, "--ro", a1,	 "--rw",
			      a2,	"--rw", a3,	"--fds", NULL};
	struct gofer g;
	assert_int_equal(gofer_start(&g, true, args), 0);
	struct p9c *c = g.c;
	assert_true(p9c_fds_enabled(c));
	check_isolation(g.pid);

	/* the bind through the symlink landed inside the rootfs */
	snprintf(p, sizeof(p), "%s/escaped", base);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s/%s/escaped", rootfs, base);
	assert_int_equal(access(p, F_OK), 0);

	char buf[64] = {0};
	assert_int_equal(p9_read_all(c, g.root, "mnt/ro/data", buf, 63), 14);
	assert_string_equal(buf, "read-only data");
	assert_int_equal(write_via(c, g.root, "mnt/ro", "new", "x"), -EROFS);
	uint32_t fid;
	assert_int_equal(walk_path(c, g.root, "mnt/ro/data", &fid), 0);
	assert_int_equal(p9c_lopen(c, fid, O_RDWR, NULL, NULL, NULL), -EROFS);
	struct p9_iattr ia = {.valid = P9_SETATTR_MODE, .mode = 0600};
	assert_int_equal(p9c_setattr(c, fid, &ia), -EROFS);
	p9c_clunk(c, fid);
	uint32_t mro;
	assert_int_equal(walk_path(c, g.root, "mnt/ro", &mro), 0);
	assert_int_equal(p9c_unlinkat(c, mro, "data", 0), -EROFS);
	assert_int_equal(p9c_mkdir(c, mro, "d", 0755, 0, NULL), -EROFS);
	p9c_clunk(c, mro);

	assert_int_equal(write_via(c, g.root, "mnt/rw", "out", "written"), 0);
	snprintf(p, sizeof(p), "%s/out", rw);
	assert_string_equal(read_file(p), "written");
	assert_int_equal(write_via(c, g.root, "etc", "new", "root-rw"), 0);
	snprintf(p, sizeof(p), "%s/etc/new", rootfs);
	assert_string_equal(read_file(p), "root-rw");

	/* nothing above the root: the only names are those in it */
	const char *up[] = {".."};
	assert_int_equal(p9c_walk(c, g.root, 1, up, &fid, NULL), -EINVAL);
	assert_int_equal(walk_path(c, g.root, "evil", &fid), 0);
	assert_int_equal(p9c_lopen(c, fid, O_RDONLY, NULL, NULL, NULL), -ELOOP);
	p9c_clunk(c, fid);
	/* an absolute symlink target is the host's only as text */
	assert_int_equal(walk_path(c, g.root, "evil/hostro", &fid), -ENOENT);

	/* every kind of operation, under the gofer's seccomp filter */
	uint32_t d;
	assert_int_equal(walk_path(c, g.root, "etc", &d), 0);
	assert_int_equal(p9c_mkdir(c, d, "dir", 02755, 0, NULL), 0);
	assert_int_equal(p9c_symlink(c, d, "sl", "motd", 0, NULL), 0);
	assert_int_equal(p9c_mknod(c, d, "fifo", S_IFIFO | 0600, 0, 0, 0, NULL),
			 0);
	assert_int_equal(walk_path(c, d, "motd", &fid), 0);
	assert_int_equal(p9c_link(c, d, fid, "hard"), 0);
	int hfd;
	assert_int_equal(p9c_lopen(c, fid, O_RDWR, NULL, NULL, &hfd), 0);
	assert_true(hfd >= 0);
	assert_int_equal(pread(hfd, buf, 4, 0), 4);
	close(hfd);
	struct p9_flock l = {.type = P9_LOCK_TYPE_WRLCK, .length = 1};
	assert_int_equal(p9c_lock(c, fid, &l), P9_LOCK_SUCCESS);
	assert_int_equal(p9c_getlock(c, fid, &l), 0);
	assert_int_equal(p9c_fsync(c, fid, false), 0);
	ia = (struct p9_iattr){.valid = P9_SETATTR_MODE | P9_SETATTR_SIZE |
					P9_SETATTR_MTIME | P9_SETATTR_UID,
			       .mode = 0600,
			       .size = 2,
			       .uid = 7};
	assert_int_equal(p9c_setattr(c, fid, &ia), 0);
	struct p9_attr at;
	assert_int_equal(p9c_getattr(c, fid, P9_GETATTR_ALL, &at), 0);
	assert_int_equal(at.size, 2);
	assert_int_equal(at.uid, 7);
	int xr = p9c_setxattr(c, fid, "user.k", "v", 1, 0);
	assert_true(xr == 0 || xr == -EOPNOTSUPP);
	char xb[16];
	assert_true(p9c_getxattr(c, fid, "", xb, sizeof(xb)) >= 0);
	p9c_clunk(c, fid);
	uint8_t db[4096];
	uint32_t dd;
	assert_int_equal(p9c_walk(c, d, 0, NULL, &dd, NULL), 0);
	assert_int_equal(p9c_lopen(c, dd, O_RDONLY, NULL, NULL, NULL), 0);
	assert_true(p9c_readdir(c, dd, 0, db, sizeof(db)) > 0);
	p9c_clunk(c, dd);
	assert_int_equal(p9c_renameat(c, d, "hard", d, "hard2"), 0);
	assert_int_equal(p9c_unlinkat(c, d, "hard2", 0), 0);
	assert_int_equal(p9c_unlinkat(c, d, "dir", P9_AT_REMOVEDIR), 0);
	struct p9_statfs sf;
	assert_int_equal(p9c_statfs(c, d, &sf), 0);
	uint32_t nf;
	assert_int_equal(p9c_walk(c, d, 0, NULL, &nf, NULL), 0);
	assert_int_equal(
	    p9c_lcreate(c, nf, "created", O_RDWR, 0640, 0, NULL, NULL, &hfd),
	    0);
	assert_true(hfd >= 0);
	close(hfd);
	p9c_clunk(c, nf);
	char lb[32];
	assert_int_equal(walk_path(c, d, "sl", &fid), 0);
	assert_int_equal(p9c_readlink(c, fid, lb, sizeof(lb)), 4);
	p9c_clunk(c, fid);
	p9c_clunk(c, d);

	assert_clean_exit(gofer_stop(&g));
	rm_rf(base);
}

/* The host's "/" served read-only as `runsc do` will, with one writable
 * directory and the host's /proc, /sys, /dev hidden. */
static void host_root(void **state)
{
	char base[] = "/tmp/gofer-host-XXXXXX";
	assert_non_null(mkdtemp(base));
	clean_add_dir(base);
	char p[256], bind[300];
	snprintf(p, sizeof(p), "%s/mine", base);
	write_file(p, "mine");
	snprintf(bind, sizeof(bind), "%s:%s", base, base);
	const char *args[] = {"--root", "/",	  "--read-only-root",
			      "--hide", "/proc",  "--hide",
			      "/sys",	"--hide", "/dev",
			      "--rw",	bind,	  NULL};
	struct gofer g;
	assert_int_equal(gofer_start(&g, false, args), 0);
	struct p9c *c = g.c;

	char buf[4096] = {0}, *host = read_file("/etc/debian_version");
	assert_non_null(host);
	ssize_t n =
	    p9_read_all(c, g.root, "etc/debian_version", buf, sizeof(buf) - 1);
	assert_int_equal(n, (ssize_t)strlen(host));
	assert_string_equal(buf, host);

	/* /tmp is the host's, even though the gofer staged itself there */
	char rel[256];
	snprintf(rel, sizeof(rel), "%s/mine", base + 1);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(p9_read_all(c, g.root, rel, buf, 100), 4);

	/* hidden: the directories are there, their file systems are not */
	uint32_t fid;
	assert_int_equal(walk_path(c, g.root, "proc/self", &fid), -ENOENT);
	assert_int_equal(walk_path(c, g.root, "proc/1", &fid), -ENOENT);
	assert_int_equal(walk_path(c, g.root, "sys/kernel", &fid), -ENOENT);
	assert_int_equal(walk_path(c, g.root, "dev/null", &fid), -ENOENT);

	/* read-only everywhere but the bind */
	assert_int_equal(write_via(c, g.root, "", "gofer-was-here", "x"),
			 -EROFS);
	assert_int_equal(write_via(c, g.root, "etc", "gofer-was-here", "x"),
			 -EROFS);
	assert_int_equal(access("/gofer-was-here", F_OK), -1);
	assert_int_equal(access("/etc/gofer-was-here", F_OK), -1);
	assert_int_equal(write_via(c, g.root, base + 1, "new", "through"), 0);
	snprintf(p, sizeof(p), "%s/new", base);
	assert_string_equal(read_file(p), "through");
	/* device nodes of the host root (the /dev mount point's own
	 * directory is empty) are neither created nor opened */
	uint32_t d;
	assert_int_equal(walk_path(c, g.root, base + 1, &d), 0);
	assert_int_equal(p9c_mknod(c, d, "tty", S_IFCHR | 0666, 5, 0, 0, NULL),
			 -EPERM);
	p9c_clunk(c, d);

	assert_clean_exit(gofer_stop(&g));
	rm_rf(base);
}

static int run_status(const char *const *args)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		const char *argv[16] = {runsc, "gofer"};
		int n = 2;
		for (; *args; args++)
			argv[n++] = *args;
		argv[n] = NULL;
		execv(runsc, (char **)argv);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Bad command lines fail with a status, never a crash. */
static void bad_arguments(void **state)
{
	const char *noroot[] = {"--sock-fd", "0", NULL};
	assert_int_equal(run_status(noroot), 2);
	const char *closed[] = {"--sock-fd", "250", "--root", "/", NULL};
	assert_int_equal(run_status(closed), 2);
	const char *badfd[] = {"--sock-fd", "x", "--root", "/", NULL};
	assert_int_equal(run_status(badfd), 2);
	const char *badbind[] = {"--sock-fd", "1",	 "--root", "/",
				 "--ro",      "nocolon", NULL};
	assert_int_equal(run_status(badbind), 2);
	const char *relbind[] = {"--sock-fd", "1",	  "--root", "/",
				 "--ro",      "/tmp:rel", NULL};
	assert_int_equal(run_status(relbind), 2);
	const char *missing[] = {"--sock-fd", "1", "--root",
				 "/nonexistent-gofer-root", NULL};
	assert_int_equal(run_status(missing), 1);
	const char *bothmodes[] = {
	    "--sock-fd", "1", "--listen-tcp", "0", "--root", "/", NULL};
	assert_int_equal(run_status(bothmodes), 2);
	/* a mount point behind a dangling symlink: refused, nothing made
	 * outside the root */
	char base[] = "/tmp/gofer-dang-XXXXXX", lnk[64], bind[96];
	assert_non_null(mkdtemp(base));
	clean_add_dir(base);
	snprintf(lnk, sizeof(lnk), "%s/dangling", base);
	symlink("/tmp/gofer-dangling-target", lnk);
	snprintf(bind, sizeof(bind), "/tmp:/dangling/x");
	const char *dang[] = {"--sock-fd", "1",	 "--root", base,
			      "--ro",	   bind, NULL};
	assert_int_equal(run_status(dang), 1);
	assert_int_equal(access("/tmp/gofer-dangling-target", F_OK), -1);
	rm_rf(base);
	/* a read-only root cannot grow a mount point */
	const char *nomp[] = {"--sock-fd",
			      "1",
			      "--root",
			      "/",
			      "--read-only-root",
			      "--ro",
			      "/tmp:/no/such/mountpoint",
			      NULL};
	assert_int_equal(run_status(nomp), 1);
	assert_int_equal(access("/no", F_OK), -1);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s RUNSC\n", argv[0]);
		return 2;
	}
	if (geteuid() != 0) {
		printf("skipped: the gofer needs root (mount namespace)\n");
		return 77;
	}
	runsc = argv[1];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(bundle_root, clean_all),
	    cmocka_unit_test_teardown(host_root, clean_all),
	    cmocka_unit_test_teardown(bad_arguments, clean_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
