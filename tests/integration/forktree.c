/*
 * forktree: a tree of processes 4 levels deep (the root, then 3 levels of
 * 3 children each: 40 processes), every exit status collected.
 *
 * A leaf exits with a code derived from its position; an inner node waits
 * for each of its children by pid, checks that each exited normally with
 * the code it predicts for that child, and exits with a code that folds in
 * its children's codes.  The root computes the whole tree's expected
 * result without forking and compares.  Each process also checks that its
 * parent is the process that forked it and that it has no other children
 * left once its own have been reaped.  Prints "PASS forktree" and exits 0
 * when everything agrees.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define FANOUT 3
#define DEPTH  4 /* levels, the root included */

/* Exit code of the node at `path` (base-FANOUT digits) on level `level`. */
static int expected(int level, int path)
{
	if (level == DEPTH)
		return 1 + path % 61;
	int sum = 0;
	for (int c = 0; c < FANOUT; c++)
		sum += expected(level + 1, path * FANOUT + c) * (c + 1);
	return 1 + sum % 200;
}

/* Returns this node's exit code, or 255 when something did not match. */
static int node(int level, int path)
{
	if (level == DEPTH)
		return expected(level, path);

	pid_t me = getpid(), kids[FANOUT];
	int bad = 0, sum = 0;

	for (int c = 0; c < FANOUT; c++) {
		fflush(stdout);
		kids[c] = fork();
		if (kids[c] == -1) {
			perror("fork");
			return 255;
		}
		if (kids[c] == 0) {
			int code = node(level + 1, path * FANOUT + c);
			if (getppid() != me)
				code = 255;
			_exit(code);
		}
	}
	/* Reap in reverse order of creation, each by its pid. */
	for (int c = FANOUT - 1; c >= 0; c--) {
		int st = 0;
		pid_t r;
		do
			r = waitpid(kids[c], &st, 0);
		while (r == -1 && errno == EINTR);
		int want = expected(level + 1, path * FANOUT + c);
		if (r != kids[c] || !WIFEXITED(st) || WEXITSTATUS(st) != want) {
			fprintf(stderr,
				"level %d path %d child %d: status 0x%x, want "
				"exit %d\n",
				level, path, c, st, want);
			bad = 1;
		}
		sum += (WIFEXITED(st) ? WEXITSTATUS(st) : 0) * (c + 1);
	}
	if (wait(NULL) != -1 || errno != ECHILD) {
		fprintf(stderr, "level %d path %d: children left over\n", level,
			path);
		bad = 1;
	}
	return bad ? 255 : 1 + sum % 200;
}

int main(void)
{
	int want = expected(1, 0), got = node(1, 0);
	int procs = 0;

	for (int l = 0, n = 1; l < DEPTH; l++, n *= FANOUT)
		procs += n;
	if (got != want) {
		printf("FAIL forktree: root computed %d, expected %d\n", got,
		       want);
		return 1;
	}
	printf("ok %d processes, %d levels, all exit statuses collected\n",
	       procs, DEPTH);
	printf("PASS forktree\n");
	return 0;
}
