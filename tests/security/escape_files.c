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
 *   hidden       the host's /proc, /sys and /dev are not there
 *   swap         files made through RWDIR/swap while the host swaps it
 *                with a symlink to HOSTDIR land in RWDIR or the overlay
 * Exit 0 if every fixed answer held, 1 otherwise. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static void hidden(void)
{
	/* /proc is the sentry's (none yet): nothing of the host's. */
	DIR *d = opendir("/proc");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	if (n)
		fail("host-proc-hidden", "/proc shows %d entries", n);
	else
		pass("host-proc-hidden");
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
