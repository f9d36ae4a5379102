/*
 * fs_stat: stat, fstat, lstat, newfstatat (AT_EMPTY_PATH,
 * AT_SYMLINK_NOFOLLOW), statx, statfs/fstatfs, access/faccessat/
 * faccessat2: types, modes, sizes, link counts, owners, identity of hard
 * links, and the errors. Only what every file system agrees on is shown.
 */
#include "probe_fs.h"

#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

static void show(const char *label, const struct stat *st)
{
	printf("%s: %c %04o nlink %lu uid %u gid %u", label,
	       fs_type(st->st_mode), st->st_mode & 07777,
	       (unsigned long)st->st_nlink, st->st_uid, st->st_gid);
	if (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode))
		printf(" size %ld", (long)st->st_size);
	if (S_ISCHR(st->st_mode))
		printf(" rdev %u:%u", major(st->st_rdev), minor(st->st_rdev));
	printf("\n");
}

static void stats(void)
{
	struct stat st, st2;
	fs_put("f", "twelve bytes", 0640);
	mkdir("d", 0751);
	mkdir("d/sub", 0700);
	symlink("f", "ln");
	symlink("nowhere", "dangling");
	link("f", "hard");
	mkfifo("fifo", 0600);

	FOK("stat f", stat("f", &st));
	show("f", &st);
	FOK("stat d", stat("d", &st));
	show("d", &st);
	FOK("lstat ln", lstat("ln", &st));
	show("ln", &st);
	FOK("stat ln", stat("ln", &st));
	show("ln followed", &st);
	FOK("lstat dangling", lstat("dangling", &st));
	show("dangling", &st);
	FERR("stat dangling", stat("dangling", &st), ENOENT);
	FOK("stat fifo", stat("fifo", &st));
	show("fifo", &st);
	FOK("stat /dev/null", stat("/dev/null", &st));
	show("/dev/null", &st);
	FOK("stat hard", stat("hard", &st2));
	stat("f", &st);
	CHECK_TRUE("hard link: same inode",
		   st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
	CHECK_TRUE("different files: different inodes",
		   stat("d", &st2) == 0 && st.st_ino != st2.st_ino);
	CHECK_TRUE("st_blksize is set", st.st_blksize > 0);

	int fd = open("f", O_RDONLY);
	FOK("fstat", fstat(fd, &st));
	show("fstat f", &st);
	FOK("newfstatat AT_EMPTY_PATH", fstatat(fd, "", &st, AT_EMPTY_PATH));
	show("empty path", &st);
	FERR("newfstatat empty without the flag", fstatat(fd, "", &st, 0),
	     ENOENT);
	close(fd);
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	FOK("fstatat in dir", fstatat(dfd, "sub", &st, 0));
	show("d/sub", &st);
	FOK("fstatat ..", fstatat(dfd, "../ln", &st, AT_SYMLINK_NOFOLLOW));
	show("../ln nofollow", &st);
	FERR("fstatat bad flags", fstatat(dfd, "sub", &st, 0x8000000), EINVAL);
	close(dfd);
	FERR("fstat bad fd", fstat(999, &st), EBADF);
	FERR("stat missing", stat("missing", &st), ENOENT);
	FERR("stat through file", stat("f/x", &st), ENOTDIR);
	FERR("stat bad pointer", syscall(SYS_stat, "f", (void *)1), EFAULT);

	/* O_PATH fds stat too. */
	fd = open("ln", O_PATH | O_NOFOLLOW);
	FOK("fstat O_PATH symlink", fstat(fd, &st));
	show("O_PATH ln", &st);
	close(fd);
}

static void statxs(void)
{
	struct statx sx;
	FOK("statx f", statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, &sx));
	CHECK_TRUE("statx basic mask",
		   (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
	printf("statx f: %c %04o size %llu nlink %u\n", fs_type(sx.stx_mode),
	       sx.stx_mode & 07777, (unsigned long long)sx.stx_size,
	       sx.stx_nlink);
	struct stat st;
	stat("f", &st);
	CHECK_TRUE("statx ino = stat ino", sx.stx_ino == st.st_ino);
	CHECK_TRUE("statx dev = stat dev",
		   makedev(sx.stx_dev_major, sx.stx_dev_minor) == st.st_dev);
	FOK("statx nofollow",
	    statx(AT_FDCWD, "ln", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx));
	printf("statx ln: %c size %llu\n", fs_type(sx.stx_mode),
	       (unsigned long long)sx.stx_size);
	int fd = open("d", O_RDONLY);
	FOK("statx empty path", statx(fd, "", AT_EMPTY_PATH, STATX_MODE, &sx));
	printf("statx empty: %c\n", fs_type(sx.stx_mode));
	close(fd);
	FERR("statx reserved mask", statx(AT_FDCWD, "f", 0, 0x80000000U, &sx),
	     EINVAL);
	FERR("statx bad flags", statx(AT_FDCWD, "f", 0x1, STATX_MODE, &sx),
	     EINVAL);
	FERR("statx both sync types",
	     statx(AT_FDCWD, "f", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC,
		   STATX_MODE, &sx),
	     EINVAL);
	FERR("statx missing", statx(AT_FDCWD, "missing", 0, STATX_MODE, &sx),
	     ENOENT);
}

static void statfss(void)
{
	struct statfs a, b;
	FOK("statfs .", statfs(".", &a));
	int fd = open("f", O_RDONLY);
	FOK("fstatfs", fstatfs(fd, &b));
	close(fd);
	CHECK_TRUE("same file system", a.f_type == b.f_type);
	CHECK_TRUE("namelen 255", a.f_namelen == 255);
	CHECK_TRUE("bsize set", a.f_bsize > 0);
	CHECK_TRUE("not read-only", !(a.f_flags & ST_RDONLY));
	FERR("statfs missing", statfs("missing", &a), ENOENT);
	FERR("fstatfs bad fd", fstatfs(999, &a), EBADF);
}

static void accesses(void)
{
	fs_put("x", "#!", 0755);
	fs_put("nox", "", 0644);
	FOK("access F_OK", access("f", F_OK));
	FOK("access R|W (root)", access("f", R_OK | W_OK));
	FOK("access X on 0755", access("x", X_OK));
	FERR("access X on 0644 (even root)", access("nox", X_OK), EACCES);
	FOK("access X on a dir", access("d", X_OK));
	/* Root's capabilities answer without the mode, except to execute
	 * a file: that needs an x bit somewhere. */
	mkdir("shut", 0700);
	fs_put("shut/in", "", 0644);
	chmod("shut", 0);
	fs_put("none", "", 0);
	fs_put("xonly", "", 0100);
	FOK("access R|W|X on a 0000 dir (root)", access("shut", R_OK | W_OK | X_OK));
	FOK("access through a 0000 dir (root)", access("shut/in", R_OK));
	FOK("access R|W on a 0000 file (root)", access("none", R_OK | W_OK));
	FERR("access X on a 0000 file (root)", access("none", X_OK), EACCES);
	FOK("access X on a 0100 file (root)", access("xonly", X_OK));
	chmod("shut", 0700);
	FERR("access missing", access("missing", F_OK), ENOENT);
	FERR("access bad mode", access("f", 8), EINVAL);
	int dfd = open("d", O_RDONLY);
	FOK("faccessat", faccessat(dfd, "sub", R_OK, 0));
	close(dfd);
	FOK("faccessat2 nofollow dangling",
	    syscall(SYS_faccessat2, AT_FDCWD, "dangling", F_OK,
		    AT_SYMLINK_NOFOLLOW));
	FERR("faccessat2 follow dangling",
	     syscall(SYS_faccessat2, AT_FDCWD, "dangling", F_OK, 0), ENOENT);
	FERR("faccessat2 bad flags",
	     syscall(SYS_faccessat2, AT_FDCWD, "f", F_OK, 0x1), EINVAL);
	FOK("faccessat2 AT_EACCESS",
	    syscall(SYS_faccessat2, AT_FDCWD, "f", R_OK, AT_EACCESS));
}

int main(void)
{
	fs_setup();
	stats();
	statxs();
	statfss();
	accesses();
	fs_cleanup();
	return probe_done();
}
