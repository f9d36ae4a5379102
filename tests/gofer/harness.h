/* Shared by the gofer tests: temporary trees, a server in a child process
 * (gofer_serve() after fork, or `runsc gofer` exec'd), and clean-up that
 * runs whether the test passed or not. */
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gofer/client/p9c.h"
#include "gofer/server/gofer.h"

struct server {
	pid_t pid;
	struct p9c *c;
	uint32_t root; /* attached fid */
};

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

static inline void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror(path);
		abort();
	}
	close(fd);
}

static inline char *read_file(const char *path)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	return buf;
}

/* What a test made that must go even if it fails half-way (a failed
 * assertion leaves the test function at once): registered when made,
 * dropped when the test cleans up itself, and cleaned by clean_all() in
 * every test's teardown. */
#define MAX_CLEAN 16
static char clean_dirs[MAX_CLEAN][256];
static pid_t clean_pids[MAX_CLEAN];

static inline void clean_add_dir(const char *p)
{
	for (int i = 0; i < MAX_CLEAN; i++)
		if (!clean_dirs[i][0]) {
			snprintf(clean_dirs[i], sizeof(clean_dirs[i]), "%s", p);
			return;
		}
}

static inline void clean_drop_dir(const char *p)
{
	for (int i = 0; i < MAX_CLEAN; i++)
		if (!strcmp(clean_dirs[i], p))
			clean_dirs[i][0] = 0;
}

static inline void clean_add_pid(pid_t pid)
{
	for (int i = 0; i < MAX_CLEAN; i++)
		if (!clean_pids[i]) {
			clean_pids[i] = pid;
			return;
		}
}

static inline void clean_drop_pid(pid_t pid)
{
	for (int i = 0; i < MAX_CLEAN; i++)
		if (clean_pids[i] == pid)
			clean_pids[i] = 0;
}

static inline int clean_all(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_CLEAN; i++) {
		if (clean_pids[i] > 0) {
			kill(clean_pids[i], SIGKILL);
			waitpid(clean_pids[i], NULL, 0);
		}
		clean_pids[i] = 0;
		if (clean_dirs[i][0])
			rm_rf(clean_dirs[i]);
		clean_dirs[i][0] = 0;
	}
	return 0;
}

/* Starts gofer_serve() over root_dir in a child; returns the connected
 * client, attached. */
static inline int server_start(struct server *s, const char *root_dir,
			       const struct gofer_serve_opts *so,
			       const struct p9c_opts *co)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	s->pid = fork();
	if (s->pid < 0)
		return -errno;
	if (s->pid == 0) {
		/* Dies with the test, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		int root = open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			_exit(3);
		_exit(gofer_serve(sv[1], root, so) < 0 ? 1 : 0);
	}
	clean_add_pid(s->pid);
	close(sv[1]);
	int e = p9c_connect(sv[0], co, &s->c);
	if (e < 0)
		return e;
	return p9c_attach(s->c, "root", "", 0, &s->root, NULL);
}

/* Closes the client, then waits for the server, which must end at EOF (a
 * server that does not is a failure the suite's timeout reports; the
 * child dies with the test anyway). Returns its wait status. */
static inline int server_stop(struct server *s)
{
	if (s->c)
		p9c_close(s->c);
	s->c = NULL;
	if (s->pid <= 0)
		return -1;
	int st = 0;
	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	clean_drop_pid(s->pid);
	s->pid = 0;
	return st;
}

/* Walks a '/'-separated path (no empty components) from fid. */
static inline int walk_path(struct p9c *c, uint32_t fid, const char *path,
			    uint32_t *out)
{
	char buf[1024];
	const char *names[P9_MAXWELEM];
	unsigned n = 0;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *t = strtok_r(buf, "/", &save); t;
	     t = strtok_r(NULL, "/", &save)) {
		if (n == P9_MAXWELEM)
			return -E2BIG;
		names[n++] = t;
	}
	return p9c_walk(c, fid, n, names, out, NULL);
}

/* Reads a whole file through the client. */
static inline ssize_t p9_read_all(struct p9c *c, uint32_t root,
				  const char *path, char *buf, size_t len)
{
	uint32_t f;
	int e = walk_path(c, root, path, &f);
	if (e < 0)
		return e;
	if ((e = p9c_lopen(c, f, O_RDONLY, NULL, NULL, NULL)) < 0) {
		p9c_clunk(c, f);
		return e;
	}
	size_t got = 0;
	for (;;) {
		ssize_t n = p9c_read(c, f, got, buf + got, len - got);
		if (n < 0) {
			p9c_clunk(c, f);
			return n;
		}
		if (n == 0 || got + (size_t)n == len) {
			got += (size_t)n;
			break;
		}
		got += (size_t)n;
	}
	p9c_clunk(c, f);
	return (ssize_t)got;
}
