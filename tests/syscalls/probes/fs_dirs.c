/*
 * fs_dirs: mkdir/mkdirat, rmdir, getdents64 and getdents (every entry
 * once, "." and "..", d_type, small buffers, rewinding, a removed
 * directory), chdir/fchdir/getcwd (including a renamed and a removed cwd),
 * and chroot.
 */
#include "probe_fs.h"

#include <sys/syscall.h>

struct linux_dirent64_ {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Lists fd with getdents64 through a buffer of bufsize bytes: the sorted
 * names with their d_type, and the number of calls it took. */
static void dents(const char *label, int fd, size_t bufsize)
{
	char *buf = malloc(bufsize);
	char *names[512];
	int n = 0, calls = 0;
	long r;
	lseek(fd, 0, SEEK_SET);
	while ((r = syscall(SYS_getdents64, fd, buf, bufsize)) > 0) {
		calls++;
		for (long off = 0; off < r;) {
			struct linux_dirent64_ *d = (void *)(buf + off);
			char *e = malloc(strlen(d->d_name) + 4);
			sprintf(e, "%s/%c", d->d_name,
				d->d_type == DT_DIR   ? 'd'
				: d->d_type == DT_REG ? 'f'
				: d->d_type == DT_LNK ? 'l'
						      : '?');
			if (n < 512)
				names[n++] = e;
			off += d->d_reclen;
		}
	}
	qsort(names, (size_t)n, sizeof(names[0]), fs_cmp);
	printf("%s (%s):", label, r < 0 ? fs_errname(errno) : "end");
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
	printf("%s: several calls: %s\n", label, calls > 1 ? "yes" : "no");
	free(buf);
}

static void makedirs(void)
{
	FOK("mkdir", mkdir("d", 0750));
	FERR("mkdir existing", mkdir("d", 0750), EEXIST);
	FERR("mkdir missing parent", mkdir("no/d", 0750), ENOENT);
	FERR("mkdir under a file", (fs_put("f", "", 0644), mkdir("f/d", 0755)),
	     ENOTDIR);
	FOK("mkdir trailing slash", mkdir("e/", 0755));
	FERR("mkdir .", mkdir(".", 0755), EEXIST);
	FERR("mkdir ..", mkdir("..", 0755), EEXIST);
	int dfd = open("d", O_RDONLY);
	FOK("mkdirat", mkdirat(dfd, "inner", 0700));
	struct stat st;
	fstatat(dfd, "inner", &st, 0);
	printf("inner mode %o nlink %lu\n", st.st_mode & 07777,
	       (unsigned long)st.st_nlink);
	stat("d", &st);
	printf("d nlink %lu (one more for inner)\n",
	       (unsigned long)st.st_nlink);
	close(dfd);
	FOK("mkdir setgid parent", chmod("d", 02775));
	FOK("mkdir in setgid dir", mkdir("d/sg", 0755));
	stat("d/sg", &st);
	printf("inherits setgid: %s\n", st.st_mode & S_ISGID ? "yes" : "no");

	FERR("rmdir non-empty", rmdir("d"), ENOTEMPTY);
	FERR("rmdir a file", rmdir("f"), ENOTDIR);
	FERR("rmdir .", rmdir("."), EINVAL);
	FERR("rmdir ..", rmdir(".."), ENOTEMPTY);
	FERR("rmdir d/.", rmdir("d/."), EINVAL);
	FOK("rmdir trailing slash", rmdir("e/"));
	FERR("rmdir missing", rmdir("e"), ENOENT);
	FERR("unlink a dir", unlink("d"), EISDIR);
}

static void listings(void)
{
	mkdir("l", 0755);
	char name[32];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "l/file%02d", i);
		fs_put(name, "", 0644);
	}
	mkdir("l/subdir", 0755);
	symlink("file00", "l/link");
	int fd = open("l", O_RDONLY | O_DIRECTORY);
	dents("big buffer", fd, 65536);
	dents("small buffer", fd, 64);
	char tiny[8];
	lseek(fd, 0, SEEK_SET);
	FERR("buffer too small for one entry",
	     syscall(SYS_getdents64, fd, tiny, sizeof(tiny)), EINVAL);
	/* Changes between calls: the removed name goes, an added one may
	 * or may not appear; none twice. */
	unlink("l/file39");
	dents("after unlink", fd, 65536);
	close(fd);
	fd = open("l/file00", O_RDONLY);
	FERR("getdents on a file", syscall(SYS_getdents64, fd, tiny, 8),
	     ENOTDIR);
	close(fd);
	FERR("getdents bad fd", syscall(SYS_getdents64, 999, tiny, 8), EBADF);

	/* The old getdents: the same names. */
	fd = open("l", O_RDONLY | O_DIRECTORY);
	char buf[4096];
	int n = 0;
	long r;
	while ((r = syscall(SYS_getdents, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < r;) {
			unsigned short reclen;
			memcpy(&reclen, buf + off + 16, 2);
			char type = buf[off + reclen - 1];
			if (strcmp(buf + off + 18, "subdir") == 0)
				printf("getdents d_type of subdir: %s\n",
				       type == DT_DIR ? "DT_DIR" : "other");
			n++;
			off += reclen;
		}
	}
	printf("getdents entries %d\n", n);
	close(fd);

	/* A removed directory lists nothing. */
	mkdir("gone", 0755);
	fd = open("gone", O_RDONLY | O_DIRECTORY);
	rmdir("gone");
	FERR("getdents of a removed dir",
	     syscall(SYS_getdents64, fd, buf, 4096), ENOENT);
	close(fd);
}

static void cwds(void)
{
	char buf[4096];
	size_t base = strlen(fs_dir);
	mkdir("w", 0755);
	mkdir("w/x", 0755);
	FOK("chdir", chdir("w/x"));
	CHECK_TRUE("getcwd",
		   getcwd(buf, sizeof(buf)) && strcmp(buf + base, "/w/x") == 0);
	FERR("getcwd size too small", syscall(SYS_getcwd, buf, 3), ERANGE);
	CHECK_RET("getcwd returns length+1", syscall(SYS_getcwd, buf, 4096),
		  (long)(base + strlen("/w/x") + 1));
	FOK("chdir ..", chdir(".."));
	CHECK_TRUE("getcwd after ..",
		   getcwd(buf, sizeof(buf)) && strcmp(buf + base, "/w") == 0);
	FERR("chdir a file", chdir("../f"), ENOTDIR);
	FERR("chdir missing", chdir("nope"), ENOENT);
	int fd = open("x", O_RDONLY);
	FOK("fchdir", fchdir(fd));
	close(fd);
	CHECK_TRUE("getcwd after fchdir",
		   getcwd(buf, sizeof(buf)) && strcmp(buf + base, "/w/x") == 0);
	fd = open("/dev/null", O_RDONLY);
	FERR("fchdir to a file", fchdir(fd), ENOTDIR);
	close(fd);
	/* The cwd follows a rename of its directory. */
	FOK("rename cwd's parent", rename("../../w", "../../w2"));
	CHECK_TRUE("getcwd after rename", getcwd(buf, sizeof(buf)) &&
					      strcmp(buf + base, "/w2/x") == 0);
	FOK("rmdir cwd", rmdir("../x"));
	FERR("getcwd of a removed cwd", syscall(SYS_getcwd, buf, 4096), ENOENT);
	FERR("create in a removed cwd", open("new", O_CREAT | O_WRONLY, 0644),
	     ENOENT);
	FOK("chdir back", chdir(fs_dir));
	/* Permission to enter. */
	mkdir("noexec", 0600);
	FOK("root enters 0600", chdir("noexec"));
	FOK("and back", chdir(".."));
}

static void chroots(void)
{
	mkdir("jail", 0755);
	mkdir("jail/etc", 0755);
	fs_put("jail/etc/marker", "inside", 0644);
	FERR("chroot a file", chroot("f"), ENOTDIR);
	FERR("chroot missing", chroot("nope"), ENOENT);
	int outside = open("/", O_RDONLY | O_DIRECTORY);
	FOK("chroot", chroot("jail"));
	/* The cwd stays outside the new root, as on Linux. */
	char buf[4096];
	long r = syscall(SYS_getcwd, buf, sizeof(buf));
	CHECK_TRUE("getcwd outside the root says so",
		   r > 0 && strncmp(buf, "(unreachable)", 13) == 0);
	FOK("chdir /", chdir("/"));
	CHECK_TRUE("getcwd is /",
		   getcwd(buf, sizeof(buf)) && strcmp(buf, "/") == 0);
	printf("marker: %s\n", fs_get("/etc/marker"));
	FOK("chdir /../..", chdir("/../.."));
	printf("marker after ..: %s\n", fs_get("etc/marker"));
	/* An fd from before is the way out, as on Linux. */
	FOK("fchdir outside", fchdir(outside));
	FOK("chroot back", chroot("."));
	close(outside);
	CHECK_TRUE("the old root again", access(fs_dir, F_OK) == 0);
}

int main(void)
{
	fs_setup();
	makedirs();
	listings();
	cwds();
	chroots();
	fs_cleanup();
	return probe_done();
}
