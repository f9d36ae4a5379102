/*
 * fs_attr: chmod/fchmod/fchmodat/fchmodat2, chown/fchown/lchown/fchownat,
 * utime/utimes/futimesat/utimensat, truncate/ftruncate, fallocate, umask:
 * what changes (read back with stat), what the set-id bits do, and the
 * errors. Run as root, as the tests are.
 */
#include "probe_fs.h"

#include <linux/falloc.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <utime.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static unsigned mode_of(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0 ? st.st_mode & 07777 : 0xffff;
}

static void chmods(void)
{
	fs_put("f", "0123456789", 0644);
	FOK("chmod", chmod("f", 0600));
	printf("mode %o\n", mode_of("f"));
	FOK("chmod setuid", chmod("f", 04755));
	printf("mode %o\n", mode_of("f"));
	int fd = open("f", O_RDONLY);
	FOK("fchmod", fchmod(fd, 0640));
	printf("mode %o\n", mode_of("f"));
	close(fd);
	FOK("fchmodat", fchmodat(AT_FDCWD, "f", 0444, 0));
	printf("mode %o\n", mode_of("f"));
	FOK("chmod ignores type bits", chmod("f", S_IFDIR | 0644));
	printf("mode %o, still a file: %s\n", mode_of("f"),
	       access("f", R_OK) == 0 ? "yes" : "no");
	symlink("f", "ln");
	FOK("chmod through a link", chmod("ln", 0600));
	printf("target mode %o\n", mode_of("f"));
	FERR("fchmodat2 on the link itself",
	     syscall(SYS_fchmodat2, AT_FDCWD, "ln", 0644, AT_SYMLINK_NOFOLLOW),
	     EOPNOTSUPP);
	FERR("fchmodat2 bad flags",
	     syscall(SYS_fchmodat2, AT_FDCWD, "f", 0644, 0x1), EINVAL);
	FERR("chmod missing", chmod("nope", 0644), ENOENT);
	fd = open("f", O_PATH);
	FERR("fchmod on O_PATH", fchmod(fd, 0644), EBADF);
	close(fd);
	FERR("fchmod bad fd", fchmod(999, 0644), EBADF);
}

static void chowns(void)
{
	struct stat st;
	fs_put("o", "", 04755);
	chmod("o", 06755);
	FOK("chown", chown("o", 1000, 2000));
	stat("o", &st);
	printf("owner %u:%u mode %o (set-id bits dropped)\n", st.st_uid,
	       st.st_gid, st.st_mode & 07777);
	FOK("chown -1 -1", chown("o", -1, -1));
	FOK("chown gid only", chown("o", -1, 3000));
	stat("o", &st);
	printf("owner %u:%u\n", st.st_uid, st.st_gid);
	symlink("o", "ol");
	FOK("lchown the link", lchown("ol", 5, 6));
	lstat("ol", &st);
	printf("link owner %u:%u\n", st.st_uid, st.st_gid);
	stat("o", &st);
	printf("target owner %u:%u\n", st.st_uid, st.st_gid);
	int fd = open("o", O_RDONLY);
	FOK("fchown", fchown(fd, 0, 0));
	close(fd);
	FOK("fchownat nofollow",
	    fchownat(AT_FDCWD, "ol", 7, 8, AT_SYMLINK_NOFOLLOW));
	lstat("ol", &st);
	printf("link owner %u:%u\n", st.st_uid, st.st_gid);
	fd = open("o", O_RDONLY);
	FOK("fchownat AT_EMPTY_PATH", fchownat(fd, "", 9, 9, AT_EMPTY_PATH));
	close(fd);
	stat("o", &st);
	printf("owner %u:%u\n", st.st_uid, st.st_gid);
	FERR("fchownat bad flags", fchownat(AT_FDCWD, "o", 1, 1, 0x1), EINVAL);
	mkdir("sgdir", 02755);
	FOK("chown a setgid dir", chown("sgdir", 1, 1));
	printf("dir keeps setgid: %s\n",
	       (mode_of("sgdir") & S_ISGID) ? "yes" : "no");
}

static void times(void)
{
	struct stat st;
	fs_put("t", "", 0644);
	struct timespec ts[2] = {{1000000000, 123456789},
				 {1500000000, 987654321}};
	FOK("utimensat explicit", utimensat(AT_FDCWD, "t", ts, 0));
	stat("t", &st);
	printf("atime %ld.%09ld mtime %ld.%09ld\n", (long)st.st_atim.tv_sec,
	       st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	struct timespec omit[2] = {{0, UTIME_OMIT}, {42, 0}};
	FOK("utimensat omit atime", utimensat(AT_FDCWD, "t", omit, 0));
	stat("t", &st);
	printf("atime %ld mtime %ld\n", (long)st.st_atim.tv_sec,
	       (long)st.st_mtim.tv_sec);
	struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
	FOK("utimensat now", utimensat(AT_FDCWD, "t", now, 0));
	stat("t", &st);
	CHECK_TRUE("mtime is recent", st.st_mtim.tv_sec > 1600000000);
	struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
	FERR("utimensat bad nsec", utimensat(AT_FDCWD, "t", bad, 0), EINVAL);
	struct timespec both_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	FOK("utimensat both omitted: no lookup at all",
	    utimensat(AT_FDCWD, "nope", both_omit, 0));
	symlink("t", "tl");
	FOK("utimensat nofollow",
	    utimensat(AT_FDCWD, "tl", ts, AT_SYMLINK_NOFOLLOW));
	lstat("tl", &st);
	printf("link mtime %ld\n", (long)st.st_mtim.tv_sec);
	int fd = open("t", O_RDONLY);
	FOK("futimens (NULL path)", syscall(SYS_utimensat, fd, NULL, ts, 0));
	fstat(fd, &st);
	printf("mtime %ld\n", (long)st.st_mtim.tv_sec);
	close(fd);
	struct timeval tv[2] = {{2000, 500000}, {3000, 250000}};
	FOK("utimes", utimes("t", tv));
	stat("t", &st);
	printf("atime %ld.%06ld mtime %ld.%06ld\n", (long)st.st_atim.tv_sec,
	       st.st_atim.tv_nsec / 1000, (long)st.st_mtim.tv_sec,
	       st.st_mtim.tv_nsec / 1000);
	struct timeval badtv[2] = {{0, 1000000}, {0, 0}};
	FERR("utimes bad usec", utimes("t", badtv), EINVAL);
	FOK("futimesat", syscall(SYS_futimesat, AT_FDCWD, "t", tv));
	struct utimbuf ub = {4000, 5000};
	FOK("utime", utime("t", &ub));
	stat("t", &st);
	printf("atime %ld mtime %ld\n", (long)st.st_atim.tv_sec,
	       (long)st.st_mtim.tv_sec);
	FOK("utime NULL (now)", utime("t", NULL));
	FERR("utime missing", utime("nope", &ub), ENOENT);
}

static void sizes(void)
{
	struct stat st;
	fs_put("s", "0123456789", 0644);
	FOK("truncate shorter", truncate("s", 4));
	printf("content %s\n", fs_get("s"));
	FOK("truncate longer", truncate("s", 8));
	stat("s", &st);
	char buf[16];
	int fd = open("s", O_RDWR);
	CHECK_RET("read the extension", read(fd, buf, 16), 8);
	printf("size %ld tail zero %d\n", (long)st.st_size, buf[6] == 0);
	FOK("ftruncate", ftruncate(fd, 2));
	fstat(fd, &st);
	printf("size %ld\n", (long)st.st_size);
	FERR("ftruncate negative", ftruncate(fd, -1), EINVAL);
	close(fd);
	fd = open("s", O_RDONLY);
	FERR("ftruncate read-only fd", ftruncate(fd, 0), EINVAL);
	close(fd);
	mkdir("sd", 0755);
	FERR("truncate a dir", truncate("sd", 0), EISDIR);
	FERR("truncate negative", truncate("s", -5), EINVAL);
	FERR("truncate missing", truncate("nope", 0), ENOENT);

	fd = open("fa", O_RDWR | O_CREAT | O_TRUNC, 0644);
	FOK("fallocate extend", fallocate(fd, 0, 0, 8192));
	fstat(fd, &st);
	printf("fallocate size %ld\n", (long)st.st_size);
	FOK("fallocate keep size",
	    fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192));
	fstat(fd, &st);
	printf("keep size: size %ld\n", (long)st.st_size);
	write(fd, "xxxxxxxx", 8);
	FOK("punch hole",
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4));
	pread(fd, buf, 8, 0);
	printf("punched %d%d%d%d%c%c\n", buf[0], buf[1], buf[2], buf[3], buf[4],
	       buf[5]);
	FERR("punch without keep size",
	     fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4), EOPNOTSUPP);
	FERR("fallocate len 0", fallocate(fd, 0, 0, 0), EINVAL);
	FERR("fallocate negative offset", fallocate(fd, 0, -1, 10), EINVAL);
	FERR("fallocate whose end passes the largest offset",
	     fallocate(fd, 0, INT64_MAX - 10, 100), EFBIG);
	FERR("the same, keeping the size",
	     fallocate(fd, FALLOC_FL_KEEP_SIZE, INT64_MAX - 10, 100), EFBIG);
	close(fd);
	fd = open("fa", O_RDONLY);
	FERR("fallocate read-only", fallocate(fd, 0, 0, 10), EBADF);
	close(fd);
	fd = open("sd", O_RDONLY);
	FERR("fallocate a dir", fallocate(fd, 0, 0, 10), EBADF);
	close(fd);
}

static void umasks(void)
{
	CHECK_RET("umask old", umask(027), 022);
	CHECK_RET("umask again", umask(0777 | 01000), 027);
	CHECK_RET("umask high bits dropped", umask(022), 0777);
	umask(0);
	mkdir("um", 0777);
	printf("umask 0 mkdir mode %o\n", mode_of("um"));
	umask(022);
}

int main(void)
{
	fs_setup();
	chmods();
	chowns();
	times();
	sizes();
	umasks();
	fs_cleanup();
	return probe_done();
}
