/*
 * fs_open: open, openat, openat2 (RESOLVE_*), creat, close, close_range;
 * creation flags, access modes, O_PATH, O_DIRECTORY, O_NOFOLLOW, symlinks
 * on the way and at the end, and what F_GETFL reports; O_TMPFILE and
 * linking its file in with linkat.
 */
#include "probe_fs.h"

#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* The kernel's O_LARGEFILE (glibc spells it 0 on x86-64). */
#define K_LARGEFILE 0100000

static long openat2_(int dirfd, const char *path, uint64_t flags, uint64_t mode,
		     uint64_t resolve)
{
	struct open_how how = {
	    .flags = flags, .mode = mode, .resolve = resolve};
	long r;
	/* Linux fails a ".." under RESOLVE_BENEATH or IN_ROOT with EAGAIN
	 * when a rename or mount happened anywhere meanwhile (other tests run
	 * beside this one): openat2(2) says to retry. */
	for (int i = 0; i < 100; i++) {
		r = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (!(r < 0 && errno == EAGAIN &&
		      (resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT))))
			break;
	}
	return r;
}

static void closeit(long fd)
{
	if (fd >= 0)
		close((int)fd);
}

static void basics(void)
{
	long fd;
	struct stat st;

	FERR("open missing", open("nofile", O_RDONLY), ENOENT);
	fd = FOK("open O_CREAT", open("f", O_CREAT | O_WRONLY, 0640));
	FOK("fstat new", fstat((int)fd, &st));
	printf("new mode %o size %ld nlink %lu\n", st.st_mode, (long)st.st_size,
	       (unsigned long)st.st_nlink);
	CHECK_RET("write 5", write((int)fd, "hello", 5), 5);
	closeit(fd);
	FERR("O_CREAT|O_EXCL existing",
	     open("f", O_CREAT | O_EXCL | O_WRONLY, 0600), EEXIST);
	fd = FOK("O_CREAT existing", open("f", O_CREAT | O_RDONLY, 0600));
	FOK("fstat existing", fstat((int)fd, &st));
	printf("kept mode %o size %ld\n", st.st_mode, (long)st.st_size);
	closeit(fd);
	fd = FOK("O_TRUNC", open("f", O_WRONLY | O_TRUNC));
	FOK("fstat trunc", fstat((int)fd, &st));
	printf("after trunc size %ld\n", (long)st.st_size);
	closeit(fd);
	fd = FOK("creat", creat("c", 0755));
	CHECK_RET("F_GETFL creat", fcntl((int)fd, F_GETFL) & ~K_LARGEFILE,
		  O_WRONLY);
	closeit(fd);
	umask(077);
	closeit(FOK("open under umask 077", open("u", O_CREAT | O_RDWR, 0666)));
	FOK("stat u", stat("u", &st));
	printf("umask 077 mode %o\n", st.st_mode & 07777);
	umask(022);

	/* Access modes against permission bits (as root: only x matters). */
	fs_put("ro", "data", 0444);
	closeit(FOK("root opens 0444 for writing", open("ro", O_WRONLY)));

	/* Directories. */
	mkdir("d", 0755);
	fd = FOK("open dir O_RDONLY", open("d", O_RDONLY));
	closeit(fd);
	FERR("open dir O_WRONLY", open("d", O_WRONLY), EISDIR);
	FERR("open dir O_RDWR", open("d", O_RDWR), EISDIR);
	FERR("open dir O_CREAT", open("d", O_CREAT | O_RDONLY, 0644), EISDIR);
	FERR("O_DIRECTORY on file", open("f", O_RDONLY | O_DIRECTORY), ENOTDIR);
	FERR("O_CREAT|O_DIRECTORY", open("newdir", O_CREAT | O_DIRECTORY, 0755),
	     EINVAL);
	FERR("create in missing dir", open("nodir/x", O_CREAT | O_WRONLY, 0644),
	     ENOENT);
	FERR("file as dir", open("f/x", O_RDONLY), ENOTDIR);
	FERR("trailing slash create", open("g/", O_CREAT | O_WRONLY, 0644),
	     EISDIR);
	FERR("trailing slash on file", open("f/", O_RDONLY), ENOTDIR);
	closeit(FOK("trailing slash on dir", open("d/", O_RDONLY)));
	FERR("O_CREAT on \".\"", open(".", O_CREAT | O_WRONLY, 0644), EISDIR);
	FERR("empty path", open("", O_RDONLY), ENOENT);
	char longname[300];
	memset(longname, 'n', 299);
	longname[299] = 0;
	FERR("name too long", open(longname, O_RDONLY), ENAMETOOLONG);
	FERR("bad path pointer", syscall(SYS_open, (void *)1, O_RDONLY),
	     EFAULT);
}

static void symlinks(void)
{
	long fd;
	fs_put("target", "T", 0644);
	symlink("target", "ln");
	symlink("missing", "dangling");
	symlink("d", "lnd");
	symlink("loop1", "loop2");
	symlink("loop2", "loop1");
	fd = FOK("open through link", open("ln", O_RDONLY));
	char b[4] = {0};
	CHECK_RET("read through link", read((int)fd, b, 3), 1);
	closeit(fd);
	FERR("O_NOFOLLOW on link", open("ln", O_RDONLY | O_NOFOLLOW), ELOOP);
	FERR("loop", open("loop1", O_RDONLY), ELOOP);
	FERR("dangling", open("dangling", O_RDONLY), ENOENT);
	fd = FOK("O_CREAT through dangling",
		 open("dangling", O_CREAT | O_WRONLY, 0600));
	closeit(fd);
	struct stat st;
	FOK("the target appeared", stat("missing", &st));
	FERR("O_CREAT|O_EXCL on link",
	     open("ln", O_CREAT | O_EXCL | O_WRONLY, 0600), EEXIST);
	closeit(FOK("dir through link", open("lnd/", O_RDONLY | O_DIRECTORY)));
	fd = FOK("O_PATH|O_NOFOLLOW on link", open("ln", O_PATH | O_NOFOLLOW));
	FOK("fstat O_PATH link", fstat((int)fd, &st));
	printf("O_PATH link type %c\n", fs_type(st.st_mode));
	CHECK_RET("F_GETFL O_PATH",
		  fcntl((int)fd, F_GETFL) & (O_PATH | O_NOFOLLOW | O_ACCMODE),
		  O_PATH | O_NOFOLLOW);
	char buf[16];
	FERR("read O_PATH", read((int)fd, buf, 1), EBADF);
	CHECK_RET("readlinkat O_PATH empty path",
		  readlinkat((int)fd, "", buf, sizeof(buf)), 6);
	closeit(fd);
}

static void getfl(void)
{
	long fd = open("f", O_RDWR | O_APPEND | O_NONBLOCK | O_CLOEXEC);
	long fl = fcntl((int)fd, F_GETFL);
	CHECK_RET("F_GETFL rdwr|append|nonblock (no cloexec, no creat)",
		  fl & ~K_LARGEFILE, O_RDWR | O_APPEND | O_NONBLOCK);
	CHECK_TRUE("O_LARGEFILE set", fl & K_LARGEFILE);
	CHECK_RET("F_GETFD cloexec", fcntl((int)fd, F_GETFD), FD_CLOEXEC);
	closeit(fd);
}

static void at_calls(void)
{
	mkdir("sub", 0755);
	fs_put("sub/inner", "I", 0644);
	long dfd = FOK("open sub", open("sub", O_RDONLY | O_DIRECTORY));
	closeit(FOK("openat relative", openat((int)dfd, "inner", O_RDONLY)));
	closeit(FOK("openat ../", openat((int)dfd, "../f", O_RDONLY)));
	FERR("openat bad dirfd", openat(999, "inner", O_RDONLY), EBADF);
	long ffd = open("f", O_RDONLY);
	FERR("openat file dirfd", openat((int)ffd, "x", O_RDONLY), ENOTDIR);
	char abs[128];
	snprintf(abs, sizeof(abs), "%s/f", fs_dir);
	closeit(
	    FOK("openat absolute ignores dirfd", openat(999, abs, O_RDONLY)));
	closeit(ffd);

	/* openat2 and its RESOLVE_ flags. */
	symlink("/etc", "sub/abslink");
	symlink("../f", "sub/uplink");
	mkdir("sub/deep", 0755);
	symlink("../inner", "sub/deep/rel");
	closeit(
	    FOK("openat2 plain", openat2_((int)dfd, "inner", O_RDONLY, 0, 0)));
	FERR("openat2 BENEATH ..",
	     openat2_((int)dfd, "../f", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
	FERR("openat2 BENEATH abs",
	     openat2_((int)dfd, abs, O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
	FERR("openat2 BENEATH abslink",
	     openat2_((int)dfd, "abslink", O_RDONLY, 0, RESOLVE_BENEATH),
	     EXDEV);
	FERR("openat2 BENEATH uplink",
	     openat2_((int)dfd, "uplink", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
	closeit(
	    FOK("openat2 BENEATH deep/rel",
		openat2_((int)dfd, "deep/rel", O_RDONLY, 0, RESOLVE_BENEATH)));
	closeit(FOK(
	    "openat2 BENEATH deep/..",
	    openat2_((int)dfd, "deep/../inner", O_RDONLY, 0, RESOLVE_BENEATH)));
	FERR("openat2 NO_SYMLINKS",
	     openat2_((int)dfd, "deep/rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS),
	     ELOOP);
	closeit(FOK("openat2 NO_SYMLINKS O_PATH|O_NOFOLLOW",
		    openat2_((int)dfd, "deep/rel", O_PATH | O_NOFOLLOW, 0,
			     RESOLVE_NO_SYMLINKS)));
	closeit(
	    FOK("openat2 IN_ROOT abs",
		openat2_((int)dfd, "/inner", O_RDONLY, 0, RESOLVE_IN_ROOT)));
	closeit(FOK(
	    "openat2 IN_ROOT ../..",
	    openat2_((int)dfd, "../../inner", O_RDONLY, 0, RESOLVE_IN_ROOT)));
	FERR("openat2 IN_ROOT abslink (no /etc inside)",
	     openat2_((int)dfd, "abslink", O_RDONLY, 0, RESOLVE_IN_ROOT),
	     ENOENT);
	FERR("openat2 BENEATH|IN_ROOT",
	     openat2_((int)dfd, "inner", O_RDONLY, 0,
		      RESOLVE_BENEATH | RESOLVE_IN_ROOT),
	     EINVAL);
	FERR("openat2 unknown flag",
	     openat2_((int)dfd, "inner", O_RDONLY | (1ULL << 40), 0, 0),
	     EINVAL);
	FERR("openat2 mode without O_CREAT",
	     openat2_((int)dfd, "inner", O_RDONLY, 0644, 0), EINVAL);
	FERR("openat2 unknown resolve",
	     openat2_((int)dfd, "inner", O_RDONLY, 0, 1ULL << 30), EINVAL);
	struct open_how how = {.flags = O_RDONLY};
	FERR("openat2 small size",
	     syscall(SYS_openat2, (int)dfd, "inner", &how, 8), EINVAL);
	struct {
		struct open_how h;
		uint64_t extra;
	} big = {{.flags = O_RDONLY}, 1};
	FERR("openat2 nonzero tail",
	     syscall(SYS_openat2, (int)dfd, "inner", &big, sizeof(big)), E2BIG);
	big.extra = 0;
	closeit(FOK("openat2 zero tail", syscall(SYS_openat2, (int)dfd, "inner",
						 &big, sizeof(big))));
	closeit(dfd);
}

static void closing(void)
{
	FERR("close bad fd", close(999), EBADF);
	int a = open("f", O_RDONLY);
	int b = dup(a);
	int c = dup(a);
	CHECK_RET("dups in order", b - a + c - a, 3);
	FOK("close_range cloexec",
	    syscall(SYS_close_range, b, c, 4 /* CLOSE_RANGE_CLOEXEC */));
	CHECK_RET("F_GETFD after cloexec range", fcntl(c, F_GETFD), FD_CLOEXEC);
	FOK("close_range", syscall(SYS_close_range, b, c, 0));
	FERR("closed by range", fcntl(b, F_GETFD), EBADF);
	FERR("close_range lo>hi", syscall(SYS_close_range, 10, 5, 0), EINVAL);
	FERR("close_range bad flags", syscall(SYS_close_range, 5, 10, 0x100),
	     EINVAL);
	CHECK_RET("lowest free fd reused", dup(a), b);
	close(a);
	close(b);
}

static int count_entries(void)
{
	DIR *d = opendir(".");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* An unnamed file in a directory; linkat gives it a name. */
static void tmpfile_(void)
{
	char proc[64], buf[16];
	struct stat st;

	FERR("O_TMPFILE read-only", open(".", O_TMPFILE | O_RDONLY, 0600),
	     EINVAL);
	FERR("O_TMPFILE with O_CREAT",
	     open(".", O_TMPFILE | O_CREAT | O_RDWR, 0600), EINVAL);
	/* glibc's __O_TMPFILE has O_DIRECTORY in it: the kernel's bit. */
	FERR("tmpfile bit without O_DIRECTORY",
	     open(".", 020000000 | O_RDWR, 0600), EINVAL);
	FERR("O_TMPFILE on a file", open("f", O_TMPFILE | O_RDWR, 0600),
	     ENOTDIR);
	FERR("O_TMPFILE in a missing dir",
	     open("nodir", O_TMPFILE | O_RDWR, 0600), ENOENT);
	FERR("O_TMPFILE in /proc", open("/proc", O_TMPFILE | O_RDWR, 0600),
	     EOPNOTSUPP);

	int before = count_entries();
	long fd = FOK("O_TMPFILE", open(".", O_TMPFILE | O_RDWR, 0646));
	if (fd < 0)
		return;
	CHECK_TRUE("no new entry", count_entries() == before);
	FOK("fstat tmpfile", fstat((int)fd, &st));
	CHECK_TRUE("regular, nlink 0, size 0",
		   S_ISREG(st.st_mode) && st.st_nlink == 0 && st.st_size == 0);
	CHECK_RET("mode after umask", st.st_mode & 07777, 0644);
	CHECK_RET("F_GETFL", fcntl((int)fd, F_GETFL) & ~K_LARGEFILE,
		  O_RDWR | __O_TMPFILE | O_DIRECTORY);
	FRET("write", write((int)fd, "hello", 5), 5);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%ld", fd);
	char target[PATH_MAX];
	ssize_t n = readlink(proc, target, sizeof(target) - 1);
	if (n >= 0)
		target[n] = 0;
	const char *base = n > 0 ? strrchr(target, '/') : NULL;
	CHECK_TRUE("fd link: #ino (deleted)",
		   base && base[1] == '#' && n > 10 &&
			   !strcmp(target + n - 10, " (deleted)"));
	FOK("linkat by /proc/self/fd",
	    linkat(AT_FDCWD, proc, AT_FDCWD, "named", AT_SYMLINK_FOLLOW));
	FERR("linkat over a name",
	     linkat(AT_FDCWD, proc, AT_FDCWD, "named", AT_SYMLINK_FOLLOW),
	     EEXIST);
	FOK("stat named", stat("named", &st));
	CHECK_TRUE("named: nlink 1, size 5",
		   st.st_nlink == 1 && st.st_size == 5);
	FOK("fstat after link", fstat((int)fd, &st));
	CHECK_RET("fd's nlink", st.st_nlink, 1);
	FOK("second link", linkat((int)fd, "", AT_FDCWD, "named2",
				  AT_EMPTY_PATH));
	FOK("fstat after second link", fstat((int)fd, &st));
	CHECK_RET("fd's nlink now", st.st_nlink, 2);
	long rd = open("named2", O_RDONLY);
	CHECK_RET("read by the name", read((int)rd, buf, sizeof(buf)), 5);
	CHECK_TRUE("same bytes", !memcmp(buf, "hello", 5));
	closeit(rd);
	CHECK_RET("entries now", count_entries() - before, 2);
	closeit(fd);

	fd = FOK("O_TMPFILE|O_EXCL", open(".", O_TMPFILE | O_EXCL | O_WRONLY,
					  0600));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%ld", fd);
	FERR("O_EXCL: linkat", linkat(AT_FDCWD, proc, AT_FDCWD, "excl",
				      AT_SYMLINK_FOLLOW),
	     ENOENT);
	FERR("O_EXCL: AT_EMPTY_PATH",
	     linkat((int)fd, "", AT_FDCWD, "excl", AT_EMPTY_PATH), ENOENT);
	closeit(fd);

	fd = FOK("O_TMPFILE, write-only", open(".", O_TMPFILE | O_WRONLY,
					       0600));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%ld", fd);
	FOK("reopen by /proc/self/fd", rd = open(proc, O_RDONLY));
	closeit(rd);
	closeit(fd);
	CHECK_RET("entries at the end", count_entries() - before, 2);
}

/* Paths are read from the caller in pieces (the sandbox reads a short
 * first piece, then up to the page's end, then page by page): a long
 * path is read whole, one that ends at the last byte before an
 * inaccessible page is fine, and one that runs into it is EFAULT. */
static void path_pieces(void)
{
	char path[600];
	int len = 0;
	for (int i = 0; i < 6; i++) {
		len += snprintf(path + len, sizeof(path) - (size_t)len,
				"%sdir_with_a_long_name_for_the_path_pieces_%d",
				i ? "/" : "", i);
		CHECK_OK("make one more level", mkdir(path, 0755));
	}
	strcat(path, "/file");
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	CHECK_TRUE("create a file under a path of over 256 bytes",
		   fd >= 0 && strlen(path) > 256);
	close(fd);
	struct stat st;
	CHECK_OK("stat it by that path", stat(path, &st));

	char *pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_TRUE("two pages", pg != MAP_FAILED);
	CHECK_OK("the second inaccessible", mprotect(pg + 4096, 4096, PROT_NONE));
	memcpy(pg + 4096 - 3, "f2", 3);
	fd = open(pg + 4096 - 3, O_CREAT | O_WRONLY, 0644);
	CHECK_TRUE("a name ending at the page's last byte", fd >= 0);
	close(fd);
	memset(pg + 4096 - 300, 'x', 300);
	CHECK_ERR("a name running into the inaccessible page",
		  open(pg + 4096 - 300, O_RDONLY), EFAULT);
	munmap(pg, 8192);
	unlink("f2");
}

int main(void)
{
	fs_setup();
	basics();
	path_pieces();
	symlinks();
	getfl();
	at_calls();
	closing();
	tmpfile_();
	fs_cleanup();
	return probe_done();
}
