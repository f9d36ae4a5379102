/*
 * procrace: /proc read while processes and threads come and go. One
 * process walks /proc over and over until the parent is done: every pid's
 * stat, status, statm, maps, cmdline, environ, mounts, mountinfo, limits
 * and comm, its fd/ links read and opened, its task/ threads' stat, its
 * exe link. Meanwhile the parent forks 100 short-lived children, each
 * with a thread reading its own maps, and reaps them. Whatever a read
 * meets (a pid gone, an fd closed, a thread ended), the sentry must
 * neither crash nor hang; every answer must be data or ENOENT, ESRCH,
 * EACCES. Prints "PASS procrace" and exits 0 when both sides finished and
 * every child exited 0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 100
#define WALKS	 40

static int bad;

/* Reads a file to its end; an error other than "gone" counts as bad. */
static void readall(const char *p)
{
	char b[16384];
	int fd = open(p, O_RDONLY);
	if (fd < 0) {
		if (errno != ENOENT && errno != ESRCH && errno != EACCES) {
			fprintf(stderr, "open %s: %s\n", p, strerror(errno));
			bad++;
		}
		return;
	}
	ssize_t n;
	while ((n = read(fd, b, sizeof(b))) > 0)
		;
	if (n < 0 && errno != ENOENT && errno != ESRCH && errno != EACCES) {
		fprintf(stderr, "read %s: %s\n", p, strerror(errno));
		bad++;
	}
	close(fd);
}

static void walk_pid(const char *pid)
{
	static const char *const files[] = {
	    "stat",    "status", "statm",     "maps",	"cmdline",
	    "environ", "mounts", "mountinfo", "limits", "comm"};
	char p[256], q[600], l[512];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "/proc/%s/%s", pid, files[i]);
		readall(p);
	}
	snprintf(p, sizeof(p), "/proc/%s/fd", pid);
	DIR *d = opendir(p);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		snprintf(q, sizeof(q), "%s/%s", p, e->d_name);
		if (readlink(q, l, sizeof(l)) < 0)
			continue;
		int o = open(q, O_RDONLY | O_NONBLOCK);
		if (o >= 0)
			close(o);
	}
	if (d)
		closedir(d);
	snprintf(p, sizeof(p), "/proc/%s/task", pid);
	d = opendir(p);
	while (d && (e = readdir(d))) {
		snprintf(q, sizeof(q), "%s/%s/stat", p, e->d_name);
		if (e->d_name[0] != '.')
			readall(q);
	}
	if (d)
		closedir(d);
	snprintf(p, sizeof(p), "/proc/%s/exe", pid);
	readlink(p, l, sizeof(l));
}

/* Walks until the parent is done (EOF on done_fd), at least WALKS times. */
static int walker(int done_fd)
{
	for (int r = 0; r < 100000; r++) {
		char c;
		if (r >= WALKS && read(done_fd, &c, 1) == 0)
			break;
		DIR *d = opendir("/proc");
		struct dirent *e;
		if (!d) {
			perror("opendir /proc");
			return 1;
		}
		while ((e = readdir(d)))
			if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
				walk_pid(e->d_name);
		closedir(d);
	}
	return bad ? 1 : 0;
}

static void *reader(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++)
		readall("/proc/self/maps");
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int done[2];
	if (pipe(done) < 0) {
		perror("pipe");
		return 1;
	}
	pid_t w = fork();
	if (w < 0) {
		perror("fork");
		return 1;
	}
	if (w == 0) {
		close(done[1]);
		fcntl(done[0], F_SETFL, O_NONBLOCK);
		_exit(walker(done[0]));
	}
	close(done[0]);
	int failed = 0;
	for (int i = 0; i < CHILDREN; i++) {
		pid_t c = fork();
		if (c < 0) {
			perror("fork");
			return 1;
		}
		if (c == 0) {
			pthread_t t;
			if (pthread_create(&t, NULL, reader, NULL) != 0)
				_exit(2);
			readall("/proc/self/status");
			pthread_join(t, NULL);
			_exit(bad ? 1 : 0);
		}
		int st;
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			failed++;
	}
	close(done[1]);
	int st;
	if (waitpid(w, &st, 0) != w || !WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("FAIL procrace: the /proc walker: status 0x%x\n", st);
		return 1;
	}
	if (failed) {
		printf("FAIL procrace: %d children failed\n", failed);
		return 1;
	}
	printf("PASS procrace\n");
	return 0;
}
