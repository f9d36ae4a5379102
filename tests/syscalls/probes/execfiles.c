/*
 * execfiles: the execve/execveat cases that need files, kept apart from
 * exec.c so that one can run before the VFS lands.  The probe makes its own
 * files in a mkdtemp directory under /tmp and removes them.
 *
 * Covered: EACCES (no execute bit, a directory), ENOEXEC (garbage, empty
 * file, a #! line longer than the kernel's buffer), ENOTDIR, ETXTBSY, `#!`
 * scripts (with and without an argument, an argument with spaces, CRLF
 * line end, a missing interpreter, a script as interpreter, busybox sh as
 * interpreter), a copy of the probe exec'd from /tmp, and execveat with
 * AT_EMPTY_PATH (O_RDONLY and O_PATH fds, a script fd with and without
 * O_CLOEXEC), a dirfd-relative name, AT_SYMLINK_NOFOLLOW, bad flags and
 * bad fds.
 *
 * The interpreter used by the scripts is the probe itself: the stage named
 * in PROBE_EXEC_STAGE prints what it was given.
 */
#include "probe_proc.h"

#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/stat.h>

extern char **environ;

static const char *self;
static char dir[64];

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v ? v : def;
}

/* ---- stages ------------------------------------------------------------- */

/* Interpreter: argv must equal PROBE_WANT_ARGV, '|'-separated. */
static int stage_interp(int argc, char **argv)
{
	char want[8192];
	int i = 0, ok = 1;

	snprintf(want, sizeof(want), "%s", env_or("PROBE_WANT_ARGV", ""));
	for (char *tok = strtok(want, "|"); tok; tok = strtok(NULL, "|"), i++)
		ok &= i < argc && strcmp(argv[i], tok) == 0;
	ok &= i == argc;
	if (!ok) {
		for (i = 0; i < argc; i++)
			fprintf(stderr, "interp argv[%d] = \"%s\"\n", i,
				argv[i]);
	}
	return ok ? 0 : 1;
}

/* A plain image: AT_EXECFN must equal PROBE_WANT_EXECFN. */
static int stage_image(void)
{
	const char *fn = (const char *)getauxval(AT_EXECFN);
	const char *want = env_or("PROBE_WANT_EXECFN", "");

	if (!fn || strcmp(fn, want) != 0) {
		fprintf(stderr, "AT_EXECFN \"%s\", wanted \"%s\"\n",
			fn ? fn : "(null)", want);
		return 1;
	}
	return 0;
}

/* A running program: says so on stdout, then waits for a byte on stdin. */
static int stage_wait(void)
{
	char c = 'r';
	if (write(1, &c, 1) != 1)
		return 1;
	return read(0, &c, 1) == 1 ? 0 : 1;
}

/* ---- helpers ------------------------------------------------------------ */

static char *path(const char *name)
{
	static char buf[8][256];
	static int which;
	char *b = buf[which++ & 7];

	snprintf(b, sizeof(buf[0]), "%s/%s", dir, name);
	return b;
}

static int put_file(const char *name, const void *data, size_t len, mode_t mode)
{
	int fd =
	    open(path(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		return -1;
	int ok = write(fd, data, len) == (ssize_t)len;
	close(fd);
	/* open() applies the umask; the mode must be exact. */
	return ok && chmod(path(name), mode) == 0 ? 0 : -1;
}

static int put_text(const char *name, const char *text, mode_t mode)
{
	return put_file(name, text, strlen(text), mode);
}

/* fork + exec(ve|veat) in the child; returns the child's wait status. */
struct exec_req {
	int dirfd; /* -1: plain execve */
	const char *file;
	const char *const *argv;
	const char *stage;
	const char *want; /* PROBE_WANT_ARGV / PROBE_WANT_EXECFN */
	int flags;
};

static int run_exec(const struct exec_req *r, int *exec_errno)
{
	int errpipe[2];

	if (pipe2(errpipe, O_CLOEXEC) != 0)
		return -1;
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		char stage[64], want[8192];
		const char *envp[3];
		snprintf(stage, sizeof(stage), "PROBE_EXEC_STAGE=%s", r->stage);
		snprintf(want, sizeof(want), "%s=%s",
			 strcmp(r->stage, "interp") == 0 ? "PROBE_WANT_ARGV"
							 : "PROBE_WANT_EXECFN",
			 r->want ? r->want : "");
		envp[0] = stage;
		envp[1] = want;
		envp[2] = NULL;
		close(errpipe[0]);
		if (r->dirfd == -1)
			syscall(SYS_execve, r->file, r->argv, envp);
		else
			syscall(SYS_execveat, r->dirfd, r->file, r->argv, envp,
				r->flags);
		int e = errno;
		if (write(errpipe[1], &e, sizeof(e)) != sizeof(e))
			_exit(98);
		_exit(99);
	}
	close(errpipe[1]);
	*exec_errno = 0;
	if (read(errpipe[0], exec_errno, sizeof(int)) != sizeof(int))
		*exec_errno = 0;
	close(errpipe[0]);
	int st = 0;
	px_waitpid(pid, &st, 0);
	return st;
}

/* "label: ok" and the child's status when the exec worked, else the errno. */
static void expect_runs(const char *label, const struct exec_req *r,
			const char *want_status)
{
	int e, st = run_exec(r, &e);
	char l[256];

	if (e) {
		check_ok(label, -1, e);
		return;
	}
	snprintf(l, sizeof(l), "%s: exec'd, then", label);
	check_status(l, st, want_status);
}

static void expect_fails(const char *label, const struct exec_req *r, int want)
{
	int e;

	run_exec(r, &e);
	check_errx(label, e ? -1 : 0, e, want);
}

static int copy_self(const char *name)
{
	int in = open(self, O_RDONLY | O_CLOEXEC);
	int out =
	    open(path(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	char buf[65536];
	ssize_t n;
	int ok = in >= 0 && out >= 0;

	while (ok && (n = read(in, buf, sizeof(buf))) > 0)
		ok = write(out, buf, n) == n;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ok && chmod(path(name), 0755) == 0 ? 0 : -1;
}

static const char *const names[] = {
    "noexec",	     "garbage",	      "empty",		"script-arg",
    "script-noarg",  "script-spaces", "script-crlf",	"script-missing",
    "script-nested", "script-long",   "script-busybox", "copy",
    "link",	     "subdir",
};

static void cleanup(void)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (unlink(path(names[i])) != 0 && errno == EISDIR)
			rmdir(path(names[i]));
	rmdir(path("subdir"));
	rmdir(dir);
}

/* ---- the probe ---------------------------------------------------------- */

static void permission_and_format(void)
{
	const char *argv[] = {"x", NULL};
	struct exec_req r = {.dirfd = -1, .argv = argv, .stage = "image"};

	put_text("noexec", "#!/bin/sh\n", 0644);
	r.file = path("noexec");
	expect_fails("execve mode 0644 file", &r, EACCES);
	mkdir(path("subdir"), 0755);
	r.file = path("subdir");
	expect_fails("execve a directory", &r, EACCES);
	put_text("garbage", "this is neither ELF nor a script\n", 0755);
	r.file = path("garbage");
	expect_fails("execve garbage", &r, ENOEXEC);
	put_text("empty", "", 0755);
	r.file = path("empty");
	expect_fails("execve empty file", &r, ENOEXEC);
	r.file = path("garbage/x");
	expect_fails("execve through a file as directory", &r, ENOTDIR);
	r.file = path("missing");
	expect_fails("execve missing file", &r, ENOENT);

	/* Which error wins: Linux opens the file before it reads argv and
	 * envp, and looks at the file's format after. */
	CHECK_ERR("execve missing file, bad argv",
		  syscall(SYS_execve, path("missing"), (void *)1, NULL), ENOENT);
	CHECK_ERR("execve directory, bad argv",
		  syscall(SYS_execve, path("subdir"), (void *)1, NULL), EACCES);
	CHECK_ERR("execve mode 0644 file, bad envp",
		  syscall(SYS_execve, path("noexec"), argv, (void *)1), EACCES);
	CHECK_ERR("execve garbage, bad argv",
		  syscall(SYS_execve, path("garbage"), (void *)1, NULL), EFAULT);
	CHECK_ERR("execve empty file, bad envp",
		  syscall(SYS_execve, path("empty"), argv, (void *)1), EFAULT);
}

static void scripts(void)
{
	char text[1024], want[4096];
	const char *argv[] = {"ignored-argv0", "x", "y", NULL};
	struct exec_req r = {
	    .dirfd = -1, .argv = argv, .stage = "interp", .want = want};

	snprintf(text, sizeof(text), "#!%s stage-arg\n", self);
	put_text("script-arg", text, 0755);
	r.file = path("script-arg");
	snprintf(want, sizeof(want), "%s|stage-arg|%s|x|y", self, r.file);
	expect_runs("#! with one argument", &r, "exited 0");

	snprintf(text, sizeof(text), "#!%s\n", self);
	put_text("script-noarg", text, 0755);
	r.file = path("script-noarg");
	snprintf(want, sizeof(want), "%s|%s|x|y", self, r.file);
	expect_runs("#! without an argument", &r, "exited 0");

	/* Everything after the interpreter is one argument, ends trimmed. */
	snprintf(text, sizeof(text), "#! \t%s   two  words \t\nbody\n", self);
	put_text("script-spaces", text, 0755);
	r.file = path("script-spaces");
	snprintf(want, sizeof(want), "%s|two  words|%s|x|y", self, r.file);
	expect_runs("#! argument with inner spaces", &r, "exited 0");

	/* The CR belongs to the interpreter's name. */
	snprintf(text, sizeof(text), "#!%s\r\n", self);
	put_text("script-crlf", text, 0755);
	r.file = path("script-crlf");
	expect_fails("#! line ending in CRLF", &r, ENOENT);

	put_text("script-missing", "#!/nonexistent-probe-dir/interp\n", 0755);
	r.file = path("script-missing");
	expect_fails("#! missing interpreter", &r, ENOENT);

	/* A script as the interpreter of a script. */
	snprintf(text, sizeof(text), "#!%s\n", path("script-arg"));
	put_text("script-nested", text, 0755);
	r.file = path("script-nested");
	snprintf(want, sizeof(want), "%s|stage-arg|%s|%s|x|y", self,
		 path("script-arg"), r.file);
	expect_runs("#! whose interpreter is a script", &r, "exited 0");

	/* An interpreter path that does not fit the kernel's 256-byte buffer.
	 */
	memset(text, 0, sizeof(text));
	strcpy(text, "#!/");
	memset(text + 3, 'a', 300);
	strcat(text, "\n");
	put_text("script-long", text, 0755);
	r.file = path("script-long");
	expect_fails("#! line longer than 256 bytes", &r, ENOEXEC);

	if (access("/bin/busybox", X_OK) == 0) {
		put_text("script-busybox",
			 "#!/bin/busybox sh\necho \"busybox script: $0 $1\" | "
			 "/bin/busybox sed \"s|$0|SCRIPT|\"\nexit 3\n",
			 0755);
		const char *bargv[] = {"ignored", "arg1", NULL};
		struct exec_req b = {.dirfd = -1,
				     .file = path("script-busybox"),
				     .argv = bargv,
				     .stage = "none"};
		expect_runs("#!/bin/busybox sh script", &b, "exited 3");
	} else {
		NOTE("#!/bin/busybox sh script: n/a (no /bin/busybox)\n");
	}
}

static void binaries(void)
{
	const char *argv[] = {"copy", NULL};
	struct exec_req r = {.dirfd = -1, .argv = argv, .stage = "image"};

	if (CHECK_OK("copy the probe to the temp dir", copy_self("copy")) == -1)
		return;
	r.file = path("copy");
	r.want = r.file;
	expect_runs("execve the copy", &r, "exited 0");

	int w = open(path("copy"), O_WRONLY | O_CLOEXEC);
	CHECK_TRUE("copy open for writing", w >= 0);
	expect_fails("execve a file open for writing", &r, ETXTBSY);
	close(w);
	expect_runs("execve it again once closed", &r, "exited 0");

	/* While it runs, the program's file takes no writers. */
	int in[2], out[2];
	if (pipe(in) == 0 && pipe(out) == 0) {
		pid_t c = fork();
		if (c == 0) {
			dup2(in[0], 0);
			dup2(out[1], 1);
			char *const cargv[] = {"copy", NULL};
			char *const cenv[] = {"PROBE_EXEC_STAGE=wait", NULL};
			execve(path("copy"), cargv, cenv);
			_exit(127);
		}
		close(in[0]);
		close(out[1]);
		char b;
		CHECK_RET("the copy runs", read(out[0], &b, 1), 1);
		CHECK_ERR("truncate a running program", truncate(path("copy"), 0),
			  ETXTBSY);
		CHECK_ERR("open a running program for writing",
			  open(path("copy"), O_WRONLY), ETXTBSY);
		CHECK_RET("let it finish", write(in[1], "x", 1), 1);
		int st;
		waitpid(c, &st, 0);
		CHECK_TRUE("it exited 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);
		close(in[1]);
		close(out[0]);
		int w2 = open(path("copy"), O_WRONLY);
		CHECK_TRUE("writable again once it has exited", w2 >= 0);
		close(w2);
	}

	/* execveat with AT_EMPTY_PATH: the exec'd name is /dev/fd/N. */
	char fdname[32];
	int fd = open(path("copy"), O_RDONLY);
	snprintf(fdname, sizeof(fdname), "/dev/fd/%d", fd);
	struct exec_req a = {.dirfd = fd,
			     .file = "",
			     .argv = argv,
			     .stage = "image",
			     .want = fdname,
			     .flags = AT_EMPTY_PATH};
	expect_runs("execveat(fd, \"\", AT_EMPTY_PATH)", &a, "exited 0");
	a.flags = 0;
	expect_fails("execveat(fd, \"\") without AT_EMPTY_PATH", &a, ENOENT);
	close(fd);

	fd = open(path("copy"), O_PATH);
	snprintf(fdname, sizeof(fdname), "/dev/fd/%d", fd);
	a.dirfd = fd;
	a.flags = AT_EMPTY_PATH;
	expect_runs("execveat(O_PATH fd, \"\", AT_EMPTY_PATH)", &a, "exited 0");
	close(fd);

	int d = open(dir, O_RDONLY | O_DIRECTORY);
	struct exec_req rel = {
	    .dirfd = d, .file = "copy", .argv = argv, .stage = "image"};
	char want_rel[64];
	snprintf(want_rel, sizeof(want_rel), "/dev/fd/%d/copy", d);
	rel.want = want_rel;
	expect_runs("execveat(dirfd, \"copy\")", &rel, "exited 0");
	rel.file = path("copy");
	rel.want = rel.file;
	expect_runs("execveat(dirfd, absolute path)", &rel, "exited 0");
	rel.dirfd = AT_FDCWD;
	expect_runs("execveat(AT_FDCWD, absolute path)", &rel, "exited 0");

	symlink(path("copy"), path("link"));
	rel.dirfd = d;
	rel.file = "link";
	snprintf(want_rel, sizeof(want_rel), "/dev/fd/%d/link", d);
	rel.want = want_rel;
	expect_runs("execveat(dirfd, symlink)", &rel, "exited 0");
	rel.flags = AT_SYMLINK_NOFOLLOW;
	expect_fails("execveat(dirfd, symlink, AT_SYMLINK_NOFOLLOW)", &rel,
		     ELOOP);
	rel.file = "copy";
	rel.flags = 0x1;
	expect_fails("execveat bad flags", &rel, EINVAL);
	rel.flags = AT_EMPTY_PATH;
	rel.file = "";
	expect_fails("execveat(dirfd of a directory, \"\", AT_EMPTY_PATH)",
		     &rel, EACCES);
	rel.dirfd = 999;
	rel.file = "copy";
	rel.flags = 0;
	expect_fails("execveat(bad fd, relative)", &rel, EBADF);
	close(d);

	/* A script by fd: fine unless the fd is close-on-exec. */
	char want[4096];
	const char *sargv[] = {"s", "x", NULL};
	fd = open(path("script-noarg"), O_RDONLY);
	snprintf(fdname, sizeof(fdname), "/dev/fd/%d", fd);
	snprintf(want, sizeof(want), "%s|%s|x", self, fdname);
	struct exec_req s = {.dirfd = fd,
			     .file = "",
			     .argv = sargv,
			     .stage = "interp",
			     .want = want,
			     .flags = AT_EMPTY_PATH};
	expect_runs("execveat(script fd, AT_EMPTY_PATH)", &s, "exited 0");
	close(fd);
	fd = open(path("script-noarg"), O_RDONLY | O_CLOEXEC);
	s.dirfd = fd;
	expect_fails("execveat(O_CLOEXEC script fd, AT_EMPTY_PATH)", &s,
		     ENOENT);
	close(fd);
}

int main(int argc, char **argv)
{
	const char *stage = getenv("PROBE_EXEC_STAGE");

	if (stage && strcmp(stage, "interp") == 0)
		return stage_interp(argc, argv);
	if (stage && strcmp(stage, "image") == 0)
		return stage_image();
	if (stage && strcmp(stage, "wait") == 0)
		return stage_wait();

	px_reset();
	self = argv[0];
	if (!CHECK_TRUE("probe path is absolute", self && self[0] == '/'))
		return probe_done();
	strcpy(dir, "/tmp/probe-execfiles.XXXXXX");
	if (!CHECK_TRUE("mkdtemp", mkdtemp(dir) != NULL))
		return probe_done();
	permission_and_format();
	scripts();
	binaries();
	cleanup();
	CHECK_ERR("temp dir removed", access(dir, F_OK), ENOENT);
	return probe_done();
}
