/* File-system escape attempts (issue 5), run by security.sh with
 *   runsc do --rw RWDIR -- escape_files HOSTDIR RWDIR
 * HOSTDIR is a host directory the sandbox sees only read-only (through the
 * overlay: writes land in memory); RWDIR is writable through to the host.
 * security.sh made RWDIR/out-abs -> HOSTDIR/existing and RWDIR/out-rel ->
 * ../host/existing on the host, and during the "swap" part it keeps
 * turning RWDIR/swap from a directory into a symlink to HOSTDIR and back.
 *
 * Whatever the sandbox answers, HOSTDIR must not change (security.sh
 * compares it before and after). Some answers are fixed as well:
 *   dotdot       ".." of "/" is "/"; "/../.." names the root
 *   symlinks     writes through links pointing out of RWDIR (made on the
 *                host, or by the sandbox) reach the overlay, not the host
 *   hardlink     a hard link from RWDIR to a file outside: EXDEV
 *   rename       moving a file between the overlay and RWDIR: EXDEV
 *   devices      device nodes the sandbox makes open only the sentry's own
 *                devices (a disk or /dev/mem: ENXIO); the gofer refuses
 *                to make one in RWDIR
 *   hidden       the host's /proc, /sys and /dev are not there; /proc is
 *                the sentry's, with the sandbox's pids and fds only
 *   swap         files made through RWDIR/swap while the host swaps it
 *                with a symlink to HOSTDIR land in RWDIR or the overlay
 * Exit 0 if every fixed answer held, 1 otherwise. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "attempt.h"

static const char *host, *rw;

static const char *at(const char *dir, const char *name)
{
	static char buf[4][4096];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

/* Writes text into path (O_TRUNC); the result or -errno. */
static long scribble(const char *path, const char *text)
{
	long fd = RAW(SYS_open, path, O_WRONLY | O_TRUNC | O_CREAT, 0644);
	if (fd < 0)
		return fd;
	long r = RAW(SYS_write, fd, text, strlen(text));
	RAW(SYS_close, fd);
	return r;
}

static void dotdot(void)
{
	struct stat a, b;
	if (stat("/", &a) || stat("/..", &b) || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev)
		fail("dotdot-stat", "/.. is not /");
	else
		pass("dotdot-stat");
	char cwd[256];
	if (chdir("/") || chdir("../../..") || !getcwd(cwd, sizeof(cwd)) ||
	    strcmp(cwd, "/"))
		fail("dotdot-chdir", "chdir(\"../../..\") from / left /");
	else
		pass("dotdot-chdir");
	/* Long ".." chains land on the root too; a write through one goes
	 * to the overlay. */
	char path[4096] = "";
	for (int i = 0; i < 50; i++)
		strcat(path, "../");
	strcat(path, host + 1);
	strcat(path, "/existing");
	printf("ok dotdot-write answered %s\n", ename(scribble(path, "OWNED")));
	long dfd = RAW(SYS_open, rw, O_RDONLY | O_DIRECTORY);
	struct open_how how = {.flags = O_RDONLY, .resolve = RESOLVE_BENEATH};
	expect_err("beneath-dotdot",
		   RAW(SYS_openat2, dfd, "../host/existing", &how, sizeof(how)),
		   EXDEV);
	expect_err("beneath-abs-link",
		   RAW(SYS_openat2, dfd, "out-abs", &how, sizeof(how)), EXDEV);
	expect_err("beneath-rel-link",
		   RAW(SYS_openat2, dfd, "out-rel", &how, sizeof(how)), EXDEV);
	RAW(SYS_close, dfd);
}

static void symlinks(void)
{
	/* Made by the host: the sentry resolves them, in its own tree. */
	printf("ok write-through-host-abs-link answered %s\n",
	       ename(scribble(at(rw, "out-abs"), "OWNED")));
	printf("ok write-through-host-rel-link answered %s\n",
	       ename(scribble(at(rw, "out-rel"), "OWNED")));
	printf("ok unlink-through-host-link answered %s\n",
	       ename(RAW(SYS_unlink, at(rw, "out-abs/.."))));
	/* Made by the sandbox, in RWDIR (so they exist on the host too). */
	RAW(SYS_symlink, at(host, "existing"), at(rw, "in-abs"));
	RAW(SYS_symlink, "../host/existing-dir", at(rw, "in-rel-dir"));
	printf("ok write-through-own-link answered %s\n",
	       ename(scribble(at(rw, "in-abs"), "OWNED")));
	printf("ok create-through-own-dir-link answered %s\n",
	       ename(scribble(at(rw, "in-rel-dir/planted"), "OWNED")));
	printf("ok chmod-through-own-link answered %s\n",
	       ename(RAW(SYS_chmod, at(rw, "in-abs"), 04777)));
	printf("ok truncate-through-link answered %s\n",
	       ename(RAW(SYS_truncate, at(rw, "out-rel"), 0)));
	/* The legitimate write must work, or this proves nothing. */
	if (scribble(at(rw, "legit"), "written by the sandbox") < 0)
		fail("rw-write", "could not write in RWDIR");
	else
		pass("rw-write");
}

static void hardlinks(void)
{
	expect_err("hardlink-out-to-rw",
		   RAW(SYS_link, at(host, "existing"), at(rw, "hl")), EXDEV);
	long fd = RAW(SYS_open, at(host, "existing"), O_RDONLY);
	expect_err(
	    "hardlink-fd-to-rw",
	    RAW(SYS_linkat, fd, "", AT_FDCWD, at(rw, "hl2"), AT_EMPTY_PATH),
	    EXDEV);
	RAW(SYS_close, fd);
	expect_err("hardlink-via-host-link",
		   RAW(SYS_linkat, AT_FDCWD, at(rw, "out-abs"), AT_FDCWD,
		       at(rw, "hl3"), AT_SYMLINK_FOLLOW),
		   EXDEV);
	/* A link of the link itself stays a link in RWDIR: harmless. */
	printf("ok hardlink-of-symlink answered %s\n",
	       ename(RAW(SYS_link, at(rw, "out-abs"), at(rw, "hl4"))));
}

static void renames(void)
{
	expect_err("rename-out-into-rw",
		   RAW(SYS_rename, at(host, "existing"), at(rw, "stolen")),
		   EXDEV);
	expect_err("rename-rw-into-host",
		   RAW(SYS_rename, at(rw, "legit"), at(host, "planted")),
		   EXDEV);
	expect_err("rename-dir-out",
		   RAW(SYS_rename, at(host, "existing-dir"), at(rw, "dir")),
		   EXDEV);
}

static void devices(void)
{
	/* In the overlay: made, but they open nothing of the host. */
	long r =
	    RAW(SYS_mknod, "/tmp/escape-disk", S_IFBLK | 0600, makedev(8, 0));
	if (r == 0 || r == -EEXIST)
		expect_err("open-made-disk",
			   RAW(SYS_open, "/tmp/escape-disk", O_RDONLY), ENXIO);
	else
		printf("ok mknod-disk answered %s\n", ename(r));
	r = RAW(SYS_mknod, "/tmp/escape-mem", S_IFCHR | 0600, makedev(1, 1));
	if (r == 0 || r == -EEXIST)
		expect_err("open-made-dev-mem",
			   RAW(SYS_open, "/tmp/escape-mem", O_RDONLY), ENXIO);
	else
		printf("ok mknod-mem answered %s\n", ename(r));
	/* In RWDIR the gofer makes no device nodes at all. */
	expect_any_err("mknod-disk-in-rw", RAW(SYS_mknod, at(rw, "disk"),
					       S_IFBLK | 0600, makedev(8, 0)));
	expect_any_err("mknod-mem-in-rw", RAW(SYS_mknod, at(rw, "mem"),
					      S_IFCHR | 0600, makedev(1, 1)));
}

/* /proc is the sentry's procfs: its pids are the sandbox's (this
 * program is the only process, pid 1), its links lead inside, and the fds
 * it shows are this program's only (none of the sentry's or the gofer's,
 * which sit at numbers the program never opened). */
static void own_proc(void)
{
	struct statfs sf;
	if (statfs("/proc", &sf) || sf.f_type != PROC_SUPER_MAGIC)
		fail("proc-is-procfs", "/proc is not a procfs");
	else
		pass("proc-is-procfs");
	DIR *d = opendir("/proc");
	int pids = 0, others = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *end;
		long v = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name)
			continue;
		if (v == getpid())
			pids++;
		else
			others++;
	}
	if (d)
		closedir(d);
	if (pids != 1 || others)
		fail("proc-only-sandbox-pids",
		     "/proc lists %d own and %d other pids", pids, others);
	else
		pass("proc-only-sandbox-pids");
	/* A host pid (the host's init, the sentry's neighbours) is no name. */
	struct stat st, root;
	stat("/", &root);
	long r = RAW(SYS_stat, "/proc/2/status", &st);
	expect_err("proc-host-pid-2", r, ENOENT);
	/* root and cwd links lead inside; ".." from them stays at "/". */
	const char *inside[] = {
	    "/proc/self/root", "/proc/self/root/..", "/proc/self/root/../../..",
	    "/proc/1/root/..",
	    "/proc/self/cwd/../../../../../../../../../../../../../../../.."};
	for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
		char name[80];
		snprintf(name, sizeof(name), "root-link %s", inside[i]);
		if (stat(inside[i], &st) || st.st_ino != root.st_ino ||
		    st.st_dev != root.st_dev)
			fail(name, "is not the sandbox's /");
		else
			pass(name);
	}
	/* Magic links under openat2's restrictions, as Linux. */
	struct open_how how = {.flags = O_RDONLY,
			       .resolve = RESOLVE_NO_MAGICLINKS};
	expect_err("no-magiclinks /proc/self/root/etc",
		   RAW(SYS_openat2, AT_FDCWD, "/proc/self/root/etc", &how,
		       sizeof(how)),
		   ELOOP);
	long pfd = RAW(SYS_open, "/proc", O_RDONLY | O_DIRECTORY);
	how.resolve = RESOLVE_BENEATH;
	expect_err("beneath /proc: self/root/etc",
		   RAW(SYS_openat2, pfd, "self/root/etc", &how, sizeof(how)),
		   EXDEV);
	how.resolve = RESOLVE_IN_ROOT;
	expect_err("in-root /proc: self/cwd",
		   RAW(SYS_openat2, pfd, "self/cwd", &how, sizeof(how)), EXDEV);
	RAW(SYS_close, pfd);
	char buf[4096];
	long n = RAW(SYS_readlink, "/proc/self/root", buf, sizeof(buf) - 1);
	if (n != 1 || buf[0] != '/')
		fail("root-link-text", "readlink gives %s", ename(n));
	else
		pass("root-link-text");
	/* Writing through the root link reaches the overlay only. */
	char p[4200];
	snprintf(p, sizeof(p), "/proc/self/root/../%s/existing", host + 1);
	long w = scribble(p, "OWNED via /proc/self/root");
	printf("ok proc-root-write answered %s\n", w < 0 ? ename(w) : "ok");
	/* Every fd /proc/self/fd lists is open here; no other opens. */
	int listed = 0, bogus = 0;
	d = opendir("/proc/self/fd");
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		listed++;
		if (fd != dirfd(d) && fcntl(fd, F_GETFD) < 0)
			bogus++;
	}
	if (d)
		closedir(d);
	if (!listed || bogus)
		fail("proc-fd-own-only", "%d listed, %d not ours", listed,
		     bogus);
	else
		pass("proc-fd-own-only");
	int closed = 0, opened = 0;
	for (int fd = 3; fd < 1024; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		char name[64];
		snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
		closed++;
		long o = RAW(SYS_open, name, O_RDONLY);
		if (o >= 0) {
			opened++;
			RAW(SYS_close, o);
		}
	}
	if (opened)
		fail("proc-fd-closed", "%d of %d closed fds opened", opened,
		     closed);
	else
		pass("proc-fd-closed");
	/* fd names and odd lookups: never a crash. */
	const char *odd[] = {
	    "/proc/self/fd/-1",	       "/proc/self/fd/99999999999",
	    "/proc/self/fd/0x1",       "/proc/00001/status",
	    "/proc/4294967297/status", "/proc/-1",
	    "/proc/self/task/0",       "/proc/1/task/99999"};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		char name[80];
		snprintf(name, sizeof(name), "odd %s", odd[i]);
		expect_err(name, RAW(SYS_stat, odd[i], &st), ENOENT);
	}
	/* Reads at odd offsets and of odd sizes. */
	int fd = open("/proc/self/maps", O_RDONLY);
	long a = RAW(SYS_pread64, fd, buf, sizeof(buf), (1UL << 62));
	long b = RAW(SYS_pread64, fd, buf, 0, 0);
	long c = RAW(SYS_read, fd, buf, 1);
	close(fd);
	if (fd < 0 || a != 0 || b != 0 || c != 1)
		fail("proc-odd-reads", "%ld %ld %ld", a, b, c);
	else
		pass("proc-odd-reads");
}

static void hidden(void)
{
	own_proc();
	struct stat st;
	const char *host_only[] = {
	    "/dev/vda",	 "/dev/sda",	      "/dev/mem",
	    "/dev/kmsg", "/sys/kernel/debug", "/sys/fs/cgroup/memory"};
	for (size_t i = 0; i < sizeof(host_only) / sizeof(host_only[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "hidden %s", host_only[i]);
		expect_err(name, RAW(SYS_stat, host_only[i], &st), ENOENT);
	}
	if (stat("/dev/null", &st) || !S_ISCHR(st.st_mode))
		fail("own-dev-null", "/dev/null missing");
	else
		pass("own-dev-null");
}

static void swap(int rounds)
{
	int made = 0;
	for (int i = 0; i < rounds; i++) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/swap/victim-%d", rw, i % 8);
		if (scribble(p, "OWNED") >= 0)
			made++;
		snprintf(p, sizeof(p), "%s/swap/dir-%d", rw, i % 8);
		RAW(SYS_mkdir, p, 0755);
		RAW(SYS_rmdir, p);
	}
	printf("ok swap: %d of %d writes went somewhere inside\n", made,
	       rounds);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: escape_files HOSTDIR RWDIR [swap N]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	host = argv[1];
	rw = argv[2];
	if (argc == 5 && strcmp(argv[3], "swap") == 0) {
		swap(atoi(argv[4]));
		return failures ? 1 : 0;
	}
	dotdot();
	symlinks();
	hardlinks();
	renames();
	devices();
	hidden();
	return failures ? 1 : 0;
}
