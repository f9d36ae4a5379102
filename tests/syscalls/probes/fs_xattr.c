/*
 * fs_xattr: {,l,f}setxattr, {,l,f}getxattr, {,l,f}listxattr,
 * {,l,f}removexattr with user.* attributes on files and directories:
 * create/replace flags, sizes, ERANGE, ENODATA, symlinks, and bad names.
 */
#include "probe_fs.h"

#include <sys/xattr.h>

static void list(const char *label, const char *path)
{
	char buf[1024], *names[32];
	ssize_t n = listxattr(path, buf, sizeof(buf));
	int k = 0;
	if (n < 0) {
		printf("%s: %s\n", label, fs_errname(errno));
		return;
	}
	for (ssize_t p = 0; p < n && k < 32; p += (ssize_t)strlen(buf + p) + 1)
		if (strncmp(buf + p, "user.", 5) == 0)
			names[k++] = buf + p;
	qsort(names, (size_t)k, sizeof(names[0]), fs_cmp);
	printf("%s:", label);
	for (int i = 0; i < k; i++)
		printf(" %s", names[i]);
	printf("\n");
}

int main(void)
{
	char buf[64];
	fs_setup();
	fs_put("f", "", 0644);
	mkdir("d", 0755);
	symlink("f", "ln");

	FOK("setxattr", setxattr("f", "user.one", "1", 1, 0));
	FOK("setxattr two", setxattr("f", "user.two", "twotwo", 6, 0));
	CHECK_RET("getxattr", getxattr("f", "user.two", buf, sizeof(buf)), 6);
	printf("value %.6s\n", buf);
	CHECK_RET("getxattr size only", getxattr("f", "user.two", NULL, 0), 6);
	FERR("getxattr small buffer", getxattr("f", "user.two", buf, 3),
	     ERANGE);
	FERR("getxattr missing", getxattr("f", "user.none", buf, sizeof(buf)),
	     ENODATA);
	FERR("XATTR_CREATE existing",
	     setxattr("f", "user.one", "x", 1, XATTR_CREATE), EEXIST);
	FERR("XATTR_REPLACE missing",
	     setxattr("f", "user.new", "x", 1, XATTR_REPLACE), ENODATA);
	FOK("XATTR_REPLACE existing",
	    setxattr("f", "user.one", "uno", 3, XATTR_REPLACE));
	CHECK_RET("replaced", getxattr("f", "user.one", buf, sizeof(buf)), 3);
	FERR("bad flags", setxattr("f", "user.x", "x", 1, 4), EINVAL);
	list("list f", "f");
	CHECK_TRUE("list size only covers both",
		   listxattr("f", NULL, 0) >= (ssize_t)(9 + 9));
	FERR("list small buffer", listxattr("f", buf, 4), ERANGE);
	FOK("removexattr", removexattr("f", "user.one"));
	FERR("removexattr again", removexattr("f", "user.one"), ENODATA);
	list("after remove", "f");

	/* Through a symlink: the target; the link itself takes no user.*. */
	CHECK_RET("getxattr through a link",
		  getxattr("ln", "user.two", buf, sizeof(buf)), 6);
	FERR("lgetxattr on the link",
	     lgetxattr("ln", "user.two", buf, sizeof(buf)), ENODATA);
	FERR("lsetxattr user.* on a link", lsetxattr("ln", "user.x", "1", 1, 0),
	     EPERM);
	FOK("llistxattr on a link", llistxattr("ln", buf, sizeof(buf)));
	FERR("lremovexattr on the link", lremovexattr("ln", "user.two"), EPERM);

	/* Directories, and by fd. */
	FOK("setxattr a dir", setxattr("d", "user.dir", "D", 1, 0));
	list("list d", "d");
	int fd = open("f", O_RDONLY);
	FOK("fsetxattr", fsetxattr(fd, "user.fd", "F", 1, 0));
	CHECK_RET("fgetxattr", fgetxattr(fd, "user.fd", buf, sizeof(buf)), 1);
	CHECK_TRUE("flistxattr", flistxattr(fd, buf, sizeof(buf)) > 0);
	FOK("fremovexattr", fremovexattr(fd, "user.fd"));
	close(fd);
	fd = open("f", O_PATH);
	FERR("fgetxattr on O_PATH", fgetxattr(fd, "user.two", buf, sizeof(buf)),
	     EBADF);
	close(fd);

	/* Names. */
	FERR("unknown namespace", setxattr("f", "bogus.x", "1", 1, 0),
	     EOPNOTSUPP);
	FERR("empty name", setxattr("f", "", "1", 1, 0), ERANGE);
	char longname[300] = "user.";
	memset(longname + 5, 'n', 290);
	longname[295] = 0;
	FERR("name too long", setxattr("f", longname, "1", 1, 0), ERANGE);
	FERR("getxattr missing file", getxattr("nope", "user.x", buf, 4),
	     ENOENT);
	static char big[70000];
	FERR("value too big", setxattr("f", "user.big", big, sizeof(big), 0),
	     E2BIG);
	fs_cleanup();
	return probe_done();
}
