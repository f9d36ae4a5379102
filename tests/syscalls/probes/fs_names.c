/*
 * fs_names: unlink/unlinkat, rename/renameat/renameat2 (NOREPLACE,
 * EXCHANGE), link/linkat (AT_SYMLINK_FOLLOW, AT_EMPTY_PATH),
 * symlink/symlinkat, readlink/readlinkat, mknod/mknodat: the results, the
 * link counts, open files surviving their names, and the errors.
 */
#include "probe_fs.h"

#include <linux/fs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

static long nlink(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0 ? (long)st.st_nlink : -1;
}

static void unlinks(void)
{
	fs_put("f", "data", 0644);
	int fd = open("f", O_RDONLY);
	FOK("unlink", unlink("f"));
	FERR("unlink again", unlink("f"), ENOENT);
	char b[8] = {0};
	CHECK_RET("read after unlink", read(fd, b, 8), 4);
	struct stat st;
	fstat(fd, &st);
	printf("open unlinked file: nlink %lu\n", (unsigned long)st.st_nlink);
	close(fd);
	mkdir("d", 0755);
	fs_put("d/x", "", 0644);
	FERR("unlink a dir", unlink("d"), EISDIR);
	FERR("unlink with trailing slash", unlink("d/x/"), ENOTDIR);
	int dfd = open("d", O_RDONLY);
	FERR("unlinkat file with AT_REMOVEDIR",
	     unlinkat(dfd, "x", AT_REMOVEDIR), ENOTDIR);
	FOK("unlinkat", unlinkat(dfd, "x", 0));
	FERR("unlinkat bad flags", unlinkat(dfd, "x", 0x1), EINVAL);
	close(dfd);
	FOK("unlinkat AT_REMOVEDIR", unlinkat(AT_FDCWD, "d", AT_REMOVEDIR));
	/* Sticky directories and someone else's file: root may. */
	mkdir("sticky", 01777);
	fs_put("sticky/f", "", 0644);
	chown("sticky/f", 1234, 1234);
	FOK("root unlinks in a sticky dir", unlink("sticky/f"));
}

static void renames(void)
{
	fs_put("a", "A", 0644);
	fs_put("b", "B", 0644);
	FOK("rename over a file", rename("a", "b"));
	printf("b: %s, a exists: %s\n", fs_get("b"),
	       access("a", F_OK) == 0 ? "yes" : "no");
	FERR("rename missing", rename("a", "c"), ENOENT);
	fs_put("a", "A", 0644);
	FERR("renameat2 NOREPLACE existing",
	     syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "b",
		     RENAME_NOREPLACE),
	     EEXIST);
	FOK("renameat2 NOREPLACE free",
	    syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "c",
		    RENAME_NOREPLACE));
	FOK("renameat2 EXCHANGE", syscall(SYS_renameat2, AT_FDCWD, "b",
					  AT_FDCWD, "c", RENAME_EXCHANGE));
	printf("after exchange b=%s c=%s\n", strdup(fs_get("b")), fs_get("c"));
	FERR("renameat2 EXCHANGE missing",
	     syscall(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "zz",
		     RENAME_EXCHANGE),
	     ENOENT);
	FERR("renameat2 both flags",
	     syscall(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "c",
		     RENAME_EXCHANGE | RENAME_NOREPLACE),
	     EINVAL);

	mkdir("d1", 0755);
	mkdir("d2", 0755);
	fs_put("d2/in", "", 0644);
	mkdir("d3", 0755);
	FERR("dir over non-empty dir", rename("d1", "d2"), ENOTEMPTY);
	FOK("dir over empty dir", rename("d1", "d3"));
	FERR("dir over a file", rename("d3", "b"), ENOTDIR);
	FERR("file over a dir", rename("b", "d2"), EISDIR);
	FERR("dir into itself", rename("d2", "d2/sub"), EINVAL);
	FERR("rename .", rename(".", "x"), EBUSY);
	FERR("rename to ..", rename("b", ".."), EBUSY);
	FERR("file with trailing slash", rename("b", "bb/"), ENOTDIR);
	FOK("dir with trailing slashes", rename("d3/", "d4/"));
	FOK("into a subdir", rename("b", "d2/b"));
	FOK("out again", rename("d2/b", "b"));
	long before = nlink("d2");
	mkdir("d2/sub", 0755);
	FOK("move a dir across parents", rename("d2/sub", "d4/sub"));
	printf("d2 nlink back: %s, d4 nlink %ld\n",
	       nlink("d2") == before ? "yes" : "no", nlink("d4"));
	/* An open file keeps working across a rename. */
	int fd = open("b", O_RDWR);
	FOK("rename an open file", rename("b", "renamed"));
	CHECK_RET("write through it", write(fd, "x", 1), 1);
	close(fd);
	printf("renamed: %s\n", fs_get("renamed"));
	/* Hard links of one file: rename is a no-op. */
	link("renamed", "alias");
	FOK("rename onto its own hard link", rename("renamed", "alias"));
	printf("both names: %s\n",
	       access("renamed", F_OK) == 0 && access("alias", F_OK) == 0
		   ? "yes"
		   : "no");
	int d = open("d4", O_RDONLY);
	FOK("renameat", renameat(d, "sub", AT_FDCWD, "top"));
	close(d);
	FERR("renameat bad dirfd", renameat(999, "x", AT_FDCWD, "y"), EBADF);
}

static void links(void)
{
	fs_put("t", "T", 0644);
	FOK("link", link("t", "t2"));
	printf("nlink %ld %ld\n", nlink("t"), nlink("t2"));
	FERR("link existing", link("t", "t2"), EEXIST);
	FERR("link missing", link("nope", "x"), ENOENT);
	mkdir("dd", 0755);
	FERR("link a dir", link("dd", "dd2"), EPERM);
	FOK("unlink one name", unlink("t"));
	printf("t2 nlink %ld content %s\n", nlink("t2"), fs_get("t2"));
	symlink("t2", "sl");
	FOK("linkat a symlink itself",
	    linkat(AT_FDCWD, "sl", AT_FDCWD, "sl2", 0));
	struct stat st;
	lstat("sl2", &st);
	printf("sl2 type %c\n", fs_type(st.st_mode));
	FOK("linkat AT_SYMLINK_FOLLOW",
	    linkat(AT_FDCWD, "sl", AT_FDCWD, "t3", AT_SYMLINK_FOLLOW));
	lstat("t3", &st);
	printf("t3 type %c nlink %lu\n", fs_type(st.st_mode),
	       (unsigned long)st.st_nlink);
	int fd = open("t2", O_RDONLY);
	FOK("linkat AT_EMPTY_PATH (root)",
	    linkat(fd, "", AT_FDCWD, "t4", AT_EMPTY_PATH));
	close(fd);
	FERR("linkat bad flags", linkat(AT_FDCWD, "t2", AT_FDCWD, "t5", 0x1),
	     EINVAL);
	FERR("link to trailing slash", link("t2", "t6/"), ENOENT);
}

static void symlinks(void)
{
	char buf[64];
	FOK("symlink", symlink("some/target", "s"));
	CHECK_RET("readlink", readlink("s", buf, sizeof(buf)), 11);
	printf("target %.11s\n", buf);
	CHECK_RET("readlink short buffer", readlink("s", buf, 4), 4);
	FERR("readlink size 0", readlink("s", buf, 0), EINVAL);
	FERR("readlink a file", readlink("t2", buf, sizeof(buf)), EINVAL);
	FERR("readlink missing", readlink("nope", buf, sizeof(buf)), ENOENT);
	FERR("symlink existing", symlink("x", "s"), EEXIST);
	FERR("symlink empty target", symlink("", "e"), ENOENT);
	int d = open(".", O_RDONLY);
	FOK("symlinkat", symlinkat("/abs/path", d, "s2"));
	CHECK_RET("readlinkat", readlinkat(d, "s2", buf, sizeof(buf)), 9);
	close(d);
	/* A link through a link, and a link to a directory. */
	mkdir("realdir", 0755);
	fs_put("realdir/file", "R", 0644);
	symlink("realdir", "dirlink");
	symlink("dirlink/file", "chain");
	printf("through two links: %s\n", fs_get("chain"));
	struct stat st;
	lstat("s", &st);
	printf("symlink mode %c%o size %ld\n", fs_type(st.st_mode),
	       st.st_mode & 0777, (long)st.st_size);
}

static void mknods(void)
{
	struct stat st;
	FOK("mknod fifo", mknod("p", S_IFIFO | 0640, 0));
	lstat("p", &st);
	printf("fifo %c%o\n", fs_type(st.st_mode), st.st_mode & 07777);
	FOK("mknod regular (mode 0)", mknod("r", 0644, 0));
	lstat("r", &st);
	printf("regular %c size %ld\n", fs_type(st.st_mode), (long)st.st_size);
	FERR("mknod dir", mknod("dir", S_IFDIR | 0755, 0), EPERM);
	FERR("mknod bad type", mknod("bad", 0170000 | 0644, 0), EINVAL);
	FERR("mknod existing", mknod("p", S_IFIFO | 0644, 0), EEXIST);
	FOK("mknod char device (root)",
	    mknod("null2", S_IFCHR | 0666, makedev(1, 3)));
	lstat("null2", &st);
	printf("char dev %c %u:%u\n", fs_type(st.st_mode), major(st.st_rdev),
	       minor(st.st_rdev));
	int fd = open("null2", O_WRONLY);
	CHECK_RET("write to a made /dev/null", write(fd, "abc", 3), 3);
	close(fd);
	FOK("mkfifo", mkfifo("p2", 0600));
	int d = open(".", O_RDONLY);
	FOK("mknodat", mknodat(d, "p3", S_IFIFO | 0600, 0));
	close(d);
}

int main(void)
{
	fs_setup();
	unlinks();
	renames();
	links();
	symlinks();
	mknods();
	fs_cleanup();
	return probe_done();
}
