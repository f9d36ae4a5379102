/*
 * procfs probe: /proc/self, /proc/[pid] and /proc/[pid]/task/[tid], their
 * fd/ and fdinfo/ directories and magic links, and the sandbox-wide files.
 * Prints derived facts only (never a pid, a path of the run, a time or a
 * host figure): "stat field 4 (ppid) == getppid(): yes".
 *
 * Expects to run as root (the permission checks drop to another uid in a
 * child), with stdin from /dev/null as run-probe.sh gives it.
 */
#include "probe_proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* The value after "key:" on its line of a status-like file. */
static const char *field(const char *text, const char *key, char *out,
			 size_t len)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p;
	     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			p += kl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			size_t n = strcspn(p, "\n");
			if (n >= len)
				n = len - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return out;
		}
	}
	out[0] = '\0';
	return NULL;
}

/* Field i (1-based) of a /proc/.../stat line, the comm (2) with parens. */
static int stat_field(const char *text, int i, char *out, size_t len)
{
	const char *close = strrchr(text, ')');
	if (!close)
		return -1;
	if (i == 1 || i == 2) {
		const char *open = strchr(text, '(');
		const char *s = i == 1 ? text : open;
		size_t n = i == 1 ? (size_t)(open - text - 1)
				  : (size_t)(close - open + 1);
		if (n >= len)
			return -1;
		memcpy(out, s, n);
		out[n] = '\0';
		return 0;
	}
	const char *p = close + 2;
	for (int f = 3; f < i; f++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	size_t n = strcspn(p, " \n");
	if (n >= len)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static long stat_num(const char *path, int i)
{
	char *t = slurp(path, NULL);
	char v[64];
	long r = -1;
	if (t && stat_field(t, i, v, sizeof(v)) == 0)
		r = atol(v);
	free(t);
	return r;
}

static char stat_state(const char *path)
{
	char *t = slurp(path, NULL);
	char v[8] = "?";
	if (t)
		stat_field(t, 3, v, sizeof(v));
	free(t);
	return v[0];
}

static int rl_eq(const char *path, const char *want)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, want) == 0;
}

/* Sorted numeric names of a directory, as one string "0,1,2". */
static void list_ids(const char *path, char *out, size_t len)
{
	int ids[256], n = 0;
	DIR *d = opendir(path);
	struct dirent *e;
	out[0] = '\0';
	while (d && (e = readdir(d)) && n < 256) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (strcmp(path, "/proc/self/fd") == 0 &&
		    atoi(e->d_name) == dirfd(d))
			continue;
		ids[n++] = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (ids[j] < ids[i]) {
				int x = ids[i];
				ids[i] = ids[j];
				ids[j] = x;
			}
	for (int i = 0; i < n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, len - l, i ? ",%d" : "%d", ids[i]);
	}
}

/* Does a listing of path hold name? (The host's /proc is long.) */
static int dir_has(const char *path, const char *name)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int found = 0;
	while (d && (e = readdir(d)))
		if (!strcmp(e->d_name, name))
			found = 1;
	if (d)
		closedir(d);
	return found;
}

/* Every entry's d_ino is what lstat says (listings and lookups agree). */
static int dino_matches(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int ok = d != NULL, n = 0;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[512];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (lstat(p, &st) == 0 && st.st_ino != e->d_ino) {
			fprintf(stderr, "%s: d_ino %lu, st_ino %lu\n", p,
				(unsigned long)e->d_ino,
				(unsigned long)st.st_ino);
			ok = 0;
		}
		n++;
	}
	if (d)
		closedir(d);
	return ok && n > 0;
}

static void self_links(void)
{
	char want[64];
	snprintf(want, sizeof(want), "%d", getpid());
	CHECK_TRUE("readlink /proc/self == getpid()",
		   rl_eq("/proc/self", want));
	snprintf(want, sizeof(want), "%d/task/%d", getpid(), gettid());
	CHECK_TRUE("readlink /proc/thread-self == pid/task/tid",
		   rl_eq("/proc/thread-self", want));
	CHECK_TRUE("readlink /proc/mounts == self/mounts",
		   rl_eq("/proc/mounts", "self/mounts"));
	char cwd[PATH_MAX];
	CHECK_TRUE("readlink /proc/self/cwd == getcwd()",
		   getcwd(cwd, sizeof(cwd)) && rl_eq("/proc/self/cwd", cwd));
	CHECK_TRUE("readlink /proc/self/root == /",
		   rl_eq("/proc/self/root", "/"));
	char exe[PATH_MAX];
	CHECK_TRUE("readlink /proc/self/exe == realpath of the program",
		   realpath("/proc/self/exe", exe) &&
		       rl_eq("/proc/self/exe", exe));
	struct stat a, b;
	CHECK_TRUE("stat /proc/self/exe is the program file",
		   stat("/proc/self/exe", &a) == 0 && stat(exe, &b) == 0 &&
		       a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	CHECK_TRUE("stat /proc/self/cwd is .",
		   stat("/proc/self/cwd", &a) == 0 && stat(".", &b) == 0 &&
		       a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	CHECK_TRUE("lstat /proc/self is a symlink",
		   lstat("/proc/self", &a) == 0 && S_ISLNK(a.st_mode));
	CHECK_TRUE("stat /proc/self is a directory",
		   stat("/proc/self", &a) == 0 && S_ISDIR(a.st_mode));
	CHECK_TRUE("d_ino == st_ino in /proc/self", dino_matches("/proc/self"));
	CHECK_TRUE("d_ino == st_ino in /proc/self/fd",
		   dino_matches("/proc/self/fd"));
	CHECK_TRUE("d_ino == st_ino in /proc/sys/kernel",
		   dino_matches("/proc/sys/kernel"));
}

static void stat_status(void)
{
	char comm[16] = {0}, v[256];
	prctl(PR_GET_NAME, comm);
	char *t = slurp("/proc/self/stat", NULL);
	CHECK_TRUE("/proc/self/stat readable", t != NULL);
	if (!t)
		return;
	char paren[32];
	snprintf(paren, sizeof(paren), "(%s)", comm);
	CHECK_TRUE("stat field 1 == getpid()",
		   stat_field(t, 1, v, sizeof(v)) == 0 && atol(v) == getpid());
	CHECK_TRUE("stat field 2 == (comm)",
		   stat_field(t, 2, v, sizeof(v)) == 0 && !strcmp(v, paren));
	CHECK_TRUE("stat field 3 (state) == R",
		   stat_field(t, 3, v, sizeof(v)) == 0 && !strcmp(v, "R"));
	CHECK_TRUE("stat field 4 (ppid) == getppid()",
		   stat_field(t, 4, v, sizeof(v)) == 0 && atol(v) == getppid());
	CHECK_TRUE("stat field 5 (pgrp) == getpgrp()",
		   stat_field(t, 5, v, sizeof(v)) == 0 && atol(v) == getpgrp());
	CHECK_TRUE("stat field 6 (session) == getsid(0)",
		   stat_field(t, 6, v, sizeof(v)) == 0 && atol(v) == getsid(0));
	CHECK_TRUE("stat field 20 (threads) == 1",
		   stat_field(t, 20, v, sizeof(v)) == 0 && atol(v) == 1);
	CHECK_TRUE("stat field 23 (vsize) > 0",
		   stat_field(t, 23, v, sizeof(v)) == 0 && atoll(v) > 0);
	CHECK_TRUE("stat has 52 fields",
		   stat_field(t, 52, v, sizeof(v)) == 0 &&
		       stat_field(t, 53, v, sizeof(v)) < 0);
	free(t);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGUSR2, SIG_IGN);
	t = slurp("/proc/self/status", NULL);
	if (!t)
		return;
	CHECK_TRUE("status Name == comm",
		   field(t, "Name", v, sizeof(v)) && !strcmp(v, comm));
	CHECK_TRUE("status State == R (running)",
		   field(t, "State", v, sizeof(v)) &&
		       !strcmp(v, "R (running)"));
	CHECK_TRUE("status Pid == getpid()",
		   field(t, "Pid", v, sizeof(v)) && atol(v) == getpid());
	CHECK_TRUE("status Tgid == getpid()",
		   field(t, "Tgid", v, sizeof(v)) && atol(v) == getpid());
	CHECK_TRUE("status PPid == getppid()",
		   field(t, "PPid", v, sizeof(v)) && atol(v) == getppid());
	uid_t r, e, s;
	gid_t gr, ge, gs;
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	char want[128];
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", r, e, s,
		 (unsigned)setfsuid(-1));
	CHECK_TRUE("status Uid == real, effective, saved, fs",
		   field(t, "Uid", v, sizeof(v)) && !strcmp(v, want));
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", gr, ge, gs,
		 (unsigned)setfsgid(-1));
	CHECK_TRUE("status Gid == real, effective, saved, fs",
		   field(t, "Gid", v, sizeof(v)) && !strcmp(v, want));
	CHECK_TRUE("status Threads == 1",
		   field(t, "Threads", v, sizeof(v)) && atol(v) == 1);
	CHECK_TRUE("status SigBlk has SIGUSR1 (bit 9)",
		   field(t, "SigBlk", v, sizeof(v)) &&
		       (strtoull(v, NULL, 16) & (1ULL << (SIGUSR1 - 1))));
	CHECK_TRUE("status SigIgn has SIGUSR2 (bit 11)",
		   field(t, "SigIgn", v, sizeof(v)) &&
		       (strtoull(v, NULL, 16) & (1ULL << (SIGUSR2 - 1))));
	mode_t um = umask(022);
	umask(um);
	snprintf(want, sizeof(want), "%04o", um);
	CHECK_TRUE("status Umask == umask()",
		   field(t, "Umask", v, sizeof(v)) && !strcmp(v, want));
	CHECK_TRUE("status has VmSize in kB",
		   field(t, "VmSize", v, sizeof(v)) && strstr(v, " kB"));
	free(t);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGUSR2, SIG_DFL);

	t = slurp("/proc/self/statm", NULL);
	long sz = -1, res = -1, sh, tx, lib, dt, dat;
	int n = t ? sscanf(t, "%ld %ld %ld %ld %ld %ld %ld", &sz, &res, &sh,
			   &tx, &lib, &dat, &dt)
		  : 0;
	CHECK_TRUE("statm has 7 numbers, size > 0, lib and dt 0",
		   n == 7 && sz > 0 && lib == 0 && dt == 0);
	free(t);
}

static void comm_rw(void)
{
	char *t = slurp("/proc/self/comm", NULL);
	char comm[16] = {0}, want[20];
	prctl(PR_GET_NAME, comm);
	snprintf(want, sizeof(want), "%s\n", comm);
	CHECK_TRUE("/proc/self/comm == PR_GET_NAME + newline",
		   t && !strcmp(t, want));
	free(t);
	int fd = open("/proc/self/comm", O_WRONLY | O_TRUNC);
	CHECK_RET("write /proc/self/comm", write(fd, "renamed", 7), 7);
	close(fd);
	prctl(PR_GET_NAME, comm);
	CHECK_TRUE("PR_GET_NAME after the write == renamed",
		   !strcmp(comm, "renamed"));
	fd = open("/proc/self/comm", O_RDONLY);
	char buf[16] = {0};
	CHECK_RET("pread /proc/self/comm at 2", pread(fd, buf, 4, 2), 4);
	CHECK_TRUE("pread at 2 gives name + 2", !strcmp(buf, "name"));
	CHECK_ERR("lseek SEEK_END on a proc file", lseek(fd, 0, SEEK_END),
		  EINVAL);
	close(fd);
}

static void fds(void)
{
	char path[] = "/tmp/procfs-probe-XXXXXX";
	int tmp = mkstemp(path);
	write(tmp, "abcdef", 6);
	close(tmp);
	int f = open(path, O_RDONLY);
	dup2(f, 9);
	close(f);
	fcntl(9, F_SETFD, FD_CLOEXEC);
	lseek(9, 3, SEEK_SET);
	int p[2];
	pipe(p);
	int ep = epoll_create1(0);
	char want[256], lp[64], got[256];
	char ids[256];

	/* What fcntl says is open (a harness may pass more than 0-2). */
	want[0] = '\0';
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0) {
			size_t l = strlen(want);
			snprintf(want + l, sizeof(want) - l, l ? ",%d" : "%d",
				 fd);
		}
	list_ids("/proc/self/fd", ids, sizeof(ids));
	if (!CHECK_TRUE("/proc/self/fd lists exactly the open fds",
			!strcmp(ids, want)))
		fprintf(stderr, "listed %s, want %s\n", ids, want);
	CHECK_TRUE("readlink fd/9 == the file's path",
		   rl_eq("/proc/self/fd/9", path));
	CHECK_TRUE("readlink fd/0 == /dev/null",
		   rl_eq("/proc/self/fd/0", "/dev/null"));
	struct stat st;
	fstat(p[0], &st);
	snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)st.st_ino);
	snprintf(lp, sizeof(lp), "/proc/self/fd/%d", p[0]);
	CHECK_TRUE("readlink of a pipe == pipe:[its inode]", rl_eq(lp, want));
	snprintf(lp, sizeof(lp), "/proc/self/fd/%d", ep);
	CHECK_TRUE("readlink of an epoll fd == anon_inode:[eventpoll]",
		   rl_eq(lp, "anon_inode:[eventpoll]"));
	struct stat l;
	CHECK_TRUE("lstat fd/9: a symlink, r-x------",
		   lstat("/proc/self/fd/9", &l) == 0 && S_ISLNK(l.st_mode) &&
		       (l.st_mode & 07777) == 0500);
	snprintf(lp, sizeof(lp), "/proc/self/fd/%d", p[1]);
	CHECK_TRUE("lstat of a write end: -wx------",
		   lstat(lp, &l) == 0 && (l.st_mode & 07777) == 0300);
	snprintf(lp, sizeof(lp), "/proc/self/fd/%d", p[0]);
	struct stat ps;
	CHECK_TRUE("stat through fd/ of a pipe: a FIFO, the pipe's inode",
		   stat(lp, &ps) == 0 && S_ISFIFO(ps.st_mode) &&
		       ps.st_ino == st.st_ino);

	/* Opening fd/N opens the file anew: its own offset. */
	int r = open("/proc/self/fd/9", O_RDONLY);
	CHECK_TRUE("open fd/9 gives a new description at offset 0",
		   r >= 0 && read(r, got, 2) == 2 && !memcmp(got, "ab", 2) &&
		       lseek(9, 0, SEEK_CUR) == 3);
	close(r);
	/* A pipe's fd/N opens the same pipe. */
	snprintf(lp, sizeof(lp), "/proc/self/fd/%d", p[1]);
	int w = open(lp, O_WRONLY);
	CHECK_TRUE("open fd/ of a pipe's write end writes into the pipe",
		   w >= 0 && write(w, "x", 1) == 1 && read(p[0], got, 1) == 1 &&
		       got[0] == 'x');
	close(w);
	/* O_CREAT through a magic link opens its target ("> /dev/stdout"). */
	w = open(lp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK_TRUE("O_CREAT|O_TRUNC open of a pipe's fd/ writes into the pipe",
		   w >= 0 && write(w, "y", 1) == 1 && read(p[0], got, 1) == 1 &&
		       got[0] == 'y');
	close(w);
	w = open(lp, O_RDWR);
	char wl[64];
	snprintf(wl, sizeof(wl), "/proc/self/fd/%d", w);
	snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)st.st_ino);
	CHECK_TRUE("a reopened pipe's own fd/ link == pipe:[its inode]",
		   rl_eq(wl, want));
	CHECK_TRUE("O_RDWR open of a pipe's fd/: one end both ways",
		   w >= 0 && write(w, "z", 1) == 1 && read(w, got, 1) == 1 &&
		       got[0] == 'z');
	close(w);
	r = open("/proc/self/fd/9", O_RDWR | O_CREAT, 0600);
	CHECK_TRUE("O_CREAT open of a file's fd/ opens the file",
		   r >= 0 && read(r, got, 6) == 6 && !memcmp(got, "abcdef", 6));
	close(r);
	CHECK_ERR("O_CREAT|O_EXCL open of fd/9",
		  open("/proc/self/fd/9", O_RDWR | O_CREAT | O_EXCL, 0600),
		  EEXIST);
	/* stdin is /dev/null: reopened, it is /dev/null for writing too. */
	r = open("/proc/self/fd/0", O_RDONLY);
	CHECK_RET("read of fd/0 reopened (/dev/null)", read(r, got, 8), 0);
	close(r);
	r = open("/proc/self/fd/0", O_WRONLY);
	CHECK_RET("write to fd/0 reopened for writing", write(r, "abc", 3), 3);
	close(r);
	snprintf(lp, sizeof(lp), "/proc/self/fd/%d", ep);
	CHECK_ERR("open fd/ of an epoll fd", open(lp, O_RDONLY), ENXIO);
	CHECK_ERR("open fd/ of a closed fd", open("/proc/self/fd/77", O_RDONLY),
		  ENOENT);

	char *t = slurp("/proc/self/fdinfo/9", NULL);
	CHECK_TRUE("fdinfo/9 pos == 3",
		   t && field(t, "pos", got, sizeof(got)) && atol(got) == 3);
	snprintf(want, sizeof(want), "0%o", O_RDONLY | O_CLOEXEC | 0100000);
	CHECK_TRUE("fdinfo/9 flags == O_RDONLY|O_LARGEFILE|O_CLOEXEC",
		   t && field(t, "flags", got, sizeof(got)) &&
		       !strcmp(got, want));
	/* mnt_id names the mount holding the file in mountinfo. */
	long id = t && field(t, "mnt_id", got, sizeof(got)) ? atol(got) : -1;
	free(t);
	t = slurp("/proc/self/mountinfo", NULL);
	long best = -2;
	size_t bestlen = 0;
	for (char *line = t; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		long mid;
		char mp[PATH_MAX];
		if (sscanf(line, "%ld %*d %*s %*s %s", &mid, mp) == 2) {
			size_t ml = strlen(mp);
			bool under = !strcmp(mp, "/") ||
				     (!strncmp(path, mp, ml) &&
				      (path[ml] == '/' || !path[ml]));
			if (under && ml >= bestlen) {
				best = mid;
				bestlen = ml;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	free(t);
	CHECK_TRUE("fdinfo mnt_id == the mountinfo id of the file's mount",
		   best == id);
	close(9);
	close(p[0]);
	close(p[1]);
	close(ep);
	unlink(path);
}

static void mem_map(void)
{
	int local = 1;
	sbrk(4096);
	char *brk = sbrk(0);
	char *t = slurp("/proc/self/maps", NULL);
	bool stack = false, heap = false, code = false, format = true;
	for (char *line = t; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		unsigned long lo, hi, off, ino;
		char perms[8], dev[16];
		int n = sscanf(line, "%lx-%lx %7s %lx %15s %lu", &lo, &hi,
			       perms, &off, dev, &ino);
		if (n != 6 || strlen(perms) != 4)
			format = false;
		if (strstr(line, "[stack]") && (uintptr_t)&local >= lo &&
		    (uintptr_t)&local < hi)
			stack = true;
		if (strstr(line, "[heap]") && (uintptr_t)brk - 1 >= lo &&
		    (uintptr_t)brk - 1 < hi)
			heap = true;
		if ((uintptr_t)&mem_map >= lo && (uintptr_t)&mem_map < hi &&
		    perms[2] == 'x')
			code = true;
		line = nl ? nl + 1 : NULL;
	}
	free(t);
	CHECK_TRUE("maps lines are start-end perms offset dev inode", format);
	CHECK_TRUE("maps has a [stack] line holding a local variable", stack);
	CHECK_TRUE("maps has a [heap] line holding the brk", heap);
	CHECK_TRUE("maps has an executable line holding the code", code);
}

static void mounts_limits(void)
{
	char *t = slurp("/proc/self/mounts", NULL);
	CHECK_TRUE("mounts has /proc of type proc",
		   t && strstr(t, " /proc proc "));
	free(t);
	t = slurp("/proc/self/mountinfo", NULL);
	CHECK_TRUE("mountinfo has /proc with fstype proc",
		   t && strstr(t, " /proc ") && strstr(t, " - proc "));
	free(t);

	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 123;
	setrlimit(RLIMIT_NOFILE, &rl);
	t = slurp("/proc/self/limits", NULL);
	char want[128];
	snprintf(want, sizeof(want), "%-25s %-20s ", "Max open files", "123");
	CHECK_TRUE("limits shows the new soft RLIMIT_NOFILE",
		   t && strstr(t, want));
	CHECK_TRUE("limits header as Linux",
		   t && !strncmp(t,
				 "Limit                     Soft Limit         "
				 "  Hard Limit           Units     \n",
				 79));
	free(t);

	t = slurp("/proc/self/oom_score_adj", NULL);
	int v = t ? atoi(t) : 0;
	free(t);
	if (v < 1000) {
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_TRUNC);
		snprintf(want, sizeof(want), "%d\n", v + 1);
		CHECK_RET("write oom_score_adj + 1",
			  write(fd, want, strlen(want)), (long)strlen(want));
		close(fd);
		t = slurp("/proc/self/oom_score_adj", NULL);
		CHECK_TRUE("oom_score_adj reads back", t && atoi(t) == v + 1);
		free(t);
	}
	int fd = open("/proc/self/oom_score_adj", O_WRONLY);
	CHECK_ERR("write oom_score_adj 5000", write(fd, "5000", 4), EINVAL);
	close(fd);
	t = slurp("/proc/self/cgroup", NULL);
	CHECK_TRUE("cgroup has a 0:: line",
		   t && (strstr(t, "0::") == t || strstr(t, "\n0::")));
	free(t);
}

static volatile int thread_go;

static void *thread_fn(void *arg)
{
	pid_t *tid = arg;
	prctl(PR_SET_NAME, "worker");
	*tid = gettid();
	char want[64];
	snprintf(want, sizeof(want), "%d/task/%d", getpid(), gettid());
	int ok = rl_eq("/proc/thread-self", want);
	__atomic_store_n(&thread_go, ok ? 1 : 2, __ATOMIC_SEQ_CST);
	px_futex((uint32_t *)&thread_go, FUTEX_WAKE, 1, NULL, NULL, 0);
	while (__atomic_load_n(&thread_go, __ATOMIC_SEQ_CST) != 3)
		px_futex((uint32_t *)&thread_go, FUTEX_WAIT,
			 __atomic_load_n(&thread_go, __ATOMIC_SEQ_CST), NULL,
			 NULL, 0);
	return NULL;
}

static void threads(void)
{
	pthread_t th;
	pid_t tid = 0;
	px_thread(&th, thread_fn, &tid);
	int g;
	while ((g = __atomic_load_n(&thread_go, __ATOMIC_SEQ_CST)) == 0)
		px_futex((uint32_t *)&thread_go, FUTEX_WAIT, 0, NULL, NULL, 0);
	CHECK_TRUE("thread-self in a thread == pid/task/tid", g == 1);
	char ids[256], want[64], p[128];
	snprintf(want, sizeof(want), "%d,%d", getpid() < tid ? getpid() : tid,
		 getpid() < tid ? tid : getpid());
	list_ids("/proc/self/task", ids, sizeof(ids));
	CHECK_TRUE("/proc/self/task lists the two threads", !strcmp(ids, want));
	CHECK_TRUE("stat field 20 (threads) == 2",
		   stat_num("/proc/self/stat", 20) == 2);
	snprintf(p, sizeof(p), "/proc/self/task/%d/comm", tid);
	char *t = slurp(p, NULL);
	CHECK_TRUE("task/TID/comm == the thread's name",
		   t && !strcmp(t, "worker\n"));
	free(t);
	snprintf(p, sizeof(p), "/proc/self/task/%d/stat", tid);
	CHECK_TRUE("task/TID/stat field 1 == tid", stat_num(p, 1) == tid);
	snprintf(p, sizeof(p), "/proc/%d/status", tid);
	t = slurp(p, NULL);
	char v[64];
	CHECK_TRUE("/proc/TID (not listed) opens the thread's process",
		   t && field(t, "Tgid", v, sizeof(v)) && atol(v) == getpid());
	free(t);
	__atomic_store_n(&thread_go, 3, __ATOMIC_SEQ_CST);
	px_futex((uint32_t *)&thread_go, FUTEX_WAKE, 1, NULL, NULL, 0);
	pthread_join(th, NULL);
	snprintf(p, sizeof(p), "/proc/self/task/%d", tid);
	struct stat st;
	/* pthread_join returns once the kernel clears the thread's tid word,
	 * which Linux does before it unlists the thread: it may still be
	 * listed for a moment (seen natively). Wait for it to go, up to 5 s. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (stat(p, &st) < 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 5)
			break;
		sched_yield();
	}
	CHECK_ERR("task/TID after the thread ended", stat(p, &st), ENOENT);
}

static void other_process(void)
{
	int go[2], ready[2];
	pipe(go);
	pipe(ready);
	pid_t c = px_fork();
	if (c == 0) {
		close(go[1]);
		close(ready[0]);
		px_post(ready[1]);
		char x;
		read(go[0], &x, 1);
		_exit(3);
	}
	close(go[0]);
	close(ready[1]);
	px_pend(ready[0]);
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/stat", c);
	CHECK_TRUE("child's stat field 4 (ppid) == getpid()",
		   stat_num(p, 4) == getpid());
	/* It blocks in read soon: no sleep, just look again. */
	char s = 0;
	for (int i = 0; i < 1000000 && (s = stat_state(p)) != 'S'; i++)
		sched_yield();
	CHECK_TRUE("child blocked in read is S (sleeping)", s == 'S');
	char want[32];
	snprintf(want, sizeof(want), "%d", c);
	CHECK_TRUE("/proc lists the child", dir_has("/proc", want));
	close(go[1]);
	siginfo_t si;
	waitid(P_PID, c, &si, WEXITED | WNOWAIT);
	CHECK_TRUE("an exited, unreaped child is Z (zombie)",
		   stat_state(p) == 'Z');
	px_expect_exit("child", c, "exited 3");
	struct stat st;
	snprintf(p, sizeof(p), "/proc/%d", c);
	CHECK_ERR("/proc/PID after the child was reaped", stat(p, &st), ENOENT);
}

/* Another user sees a process's status, not its secrets. */
static void as_nobody(void)
{
	char p[64];
	pid_t parent = getppid();
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) {
		check_ok("drop to nobody", -1, errno);
		return;
	}
	snprintf(p, sizeof(p), "/proc/%d/status", parent);
	CHECK_OK("other user's status", open(p, O_RDONLY));
	snprintf(p, sizeof(p), "/proc/%d/environ", parent);
	CHECK_ERR("other user's environ", open(p, O_RDONLY), EACCES);
	snprintf(p, sizeof(p), "/proc/%d/fd", parent);
	CHECK_ERR("other user's fd/", open(p, O_RDONLY | O_DIRECTORY), EACCES);
	snprintf(p, sizeof(p), "/proc/%d/cwd", parent);
	char buf[PATH_MAX];
	CHECK_ERR("readlink other user's cwd", readlink(p, buf, sizeof(buf)),
		  EACCES);
	snprintf(p, sizeof(p), "/proc/%d/maps", parent);
	int fd;
	CHECK_ERR("read other user's maps",
		  (fd = open(p, O_RDONLY)) < 0 ? -1 : read(fd, buf, 16),
		  EACCES);
	/* (A uid change made us undumpable on Linux, which exec undoes.) */
	prctl(PR_SET_DUMPABLE, 1);
	CHECK_OK("own environ, dumpable", open("/proc/self/environ", O_RDONLY));
}

static void system_files(void)
{
	struct utsname u;
	uname(&u);
	char want[512];
	char *t = slurp("/proc/sys/kernel/hostname", NULL);
	snprintf(want, sizeof(want), "%s\n", u.nodename);
	CHECK_TRUE("sys/kernel/hostname == uname nodename",
		   t && !strcmp(t, want));
	free(t);
	t = slurp("/proc/sys/kernel/osrelease", NULL);
	snprintf(want, sizeof(want), "%s\n", u.release);
	CHECK_TRUE("sys/kernel/osrelease == uname release",
		   t && !strcmp(t, want));
	free(t);
	t = slurp("/proc/sys/kernel/ostype", NULL);
	CHECK_TRUE("sys/kernel/ostype == Linux", t && !strcmp(t, "Linux\n"));
	free(t);
	t = slurp("/proc/version", NULL);
	snprintf(want, sizeof(want), "Linux version %s ", u.release);
	CHECK_TRUE("/proc/version starts with Linux version RELEASE",
		   t && !strncmp(t, want, strlen(want)));
	free(t);
	t = slurp("/proc/sys/kernel/pid_max", NULL);
	CHECK_TRUE("pid_max > getpid()", t && atol(t) > getpid());
	free(t);
	t = slurp("/proc/sys/kernel/ngroups_max", NULL);
	CHECK_TRUE("ngroups_max == sysconf(_SC_NGROUPS_MAX)",
		   t && atol(t) == sysconf(_SC_NGROUPS_MAX));
	free(t);
	t = slurp("/proc/sys/kernel/cap_last_cap", NULL);
	CHECK_TRUE("cap_last_cap >= 40", t && atol(t) >= 40);
	free(t);
	char *a = slurp("/proc/sys/kernel/random/boot_id", NULL);
	char *b = slurp("/proc/sys/kernel/random/boot_id", NULL);
	CHECK_TRUE("boot_id: a uuid, the same twice",
		   a && b && strlen(a) == 37 && a[8] == '-' && !strcmp(a, b));
	free(a);
	free(b);
	a = slurp("/proc/sys/kernel/random/uuid", NULL);
	b = slurp("/proc/sys/kernel/random/uuid", NULL);
	CHECK_TRUE("uuid: a version 4 uuid, new each time",
		   a && b && strlen(a) == 37 && a[14] == '4' && strcmp(a, b));
	free(a);
	free(b);
	t = slurp("/proc/sys/fs/nr_open", NULL);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	CHECK_TRUE("fs/nr_open >= hard RLIMIT_NOFILE",
		   t && (rlim_t)atol(t) >= rl.rlim_max);
	free(t);
	t = slurp("/proc/sys/fs/file-max", NULL);
	CHECK_TRUE("fs/file-max > 0", t && atoll(t) > 0);
	free(t);
	t = slurp("/proc/sys/vm/overcommit_memory", NULL);
	CHECK_TRUE("vm/overcommit_memory is 0, 1 or 2",
		   t && t[0] >= '0' && t[0] <= '2' && t[1] == '\n');
	free(t);
	t = slurp("/proc/filesystems", NULL);
	CHECK_TRUE("filesystems lists proc", t && strstr(t, "\tproc\n"));
	free(t);
	t = slurp("/proc/meminfo", NULL);
	char v[64];
	CHECK_TRUE("meminfo MemTotal > 0 kB, MemAvailable there",
		   t && field(t, "MemTotal", v, sizeof(v)) && atol(v) > 0 &&
		       strstr(v, " kB") &&
		       field(t, "MemAvailable", v, sizeof(v)));
	free(t);
	t = slurp("/proc/cpuinfo", NULL);
	int cpus = 0;
	for (char *q = t; q && (q = strstr(q, "processor\t:")); q++)
		cpus++;
	cpu_set_t set;
	sched_getaffinity(0, sizeof(set), &set);
	CHECK_TRUE("cpuinfo lists the CPUs we may run on",
		   cpus == CPU_COUNT(&set));
	CHECK_TRUE("cpuinfo has flags with fpu",
		   t && strstr(t, "flags\t\t: fpu"));
	free(t);
	t = slurp("/proc/uptime", NULL);
	double up = -1, idle = -1;
	CHECK_TRUE("uptime: two numbers >= 0",
		   t && sscanf(t, "%lf %lf", &up, &idle) == 2 && up >= 0 &&
		       idle >= 0);
	free(t);
	t = slurp("/proc/loadavg", NULL);
	double l1, l5, l15;
	int run, tot, last;
	CHECK_TRUE("loadavg: 3 loads, running/total, last pid",
		   t &&
		       sscanf(t, "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &run,
			      &tot, &last) == 6 &&
		       run >= 1 && tot >= run);
	free(t);
	t = slurp("/proc/stat", NULL);
	CHECK_TRUE("stat: a cpu line first, btime, processes",
		   t && !strncmp(t, "cpu  ", 5) && strstr(t, "\nbtime ") &&
		       strstr(t, "\nprocesses "));
	free(t);
	snprintf(want, sizeof(want), "%d", getpid());
	CHECK_TRUE("/proc lists our pid and self",
		   dir_has("/proc", want) && dir_has("/proc", "self"));
	struct stat st;
	CHECK_ERR("/proc/0", stat("/proc/0", &st), ENOENT);
	CHECK_ERR("/proc/self/nonexistent", stat("/proc/self/nonexistent", &st),
		  ENOENT);
	CHECK_ERR("create in /proc",
		  open("/proc/newfile", O_CREAT | O_WRONLY, 0600), ENOENT);
}

int main(void)
{
	px_reset();
	self_links();
	stat_status();
	comm_rw();
	fds();
	mem_map();
	mounts_limits();
	threads();
	other_process();
	px_child("as nobody", as_nobody);
	system_files();
	return probe_done();
}
