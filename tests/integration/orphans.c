/*
 * orphans: pid 1 ends while its children and grandchildren live. Each of 4
 * children forks 3 grandchildren; every one of the 16 tells the root it
 * runs (a byte down a pipe) and then waits for the root to go (end of
 * file on a second pipe), and exits. The root prints "PASS orphans" once
 * all are there and exits 0: the sandbox kills the rest, or they end by
 * themselves, and each dying child hands its children on while pid 1 is
 * already gone (the sentry once read pid 1's freed record there: ASan
 * caught it). Natively they end too: nothing is left behind.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define CHILDREN 4
#define GRANDCHILDREN 3

static int gate[2]; /* only the root holds the write end */

static void wait_root(void)
{
	char c;
	close(gate[1]);
	while (read(gate[0], &c, 1) > 0)
		;
	_exit(0);
}

int main(void)
{
	int p[2];
	if (pipe(p) < 0 || pipe(gate) < 0) {
		perror("pipe");
		return 1;
	}
	for (int i = 0; i < CHILDREN; i++) {
		pid_t c = fork();
		if (c < 0) {
			perror("fork");
			return 1;
		}
		if (c > 0)
			continue;
		for (int j = 0; j < GRANDCHILDREN; j++) {
			pid_t g = fork();
			if (g == 0) {
				if (write(p[1], "g", 1) != 1)
					_exit(1);
				wait_root();
			}
		}
		if (write(p[1], "c", 1) != 1)
			_exit(1);
		wait_root();
	}
	close(p[1]);
	int want = CHILDREN * (1 + GRANDCHILDREN);
	for (int got = 0; got < want;) {
		char buf[64];
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n <= 0) {
			printf("FAIL only %d of %d processes started\n", got,
			       want);
			return 1;
		}
		got += (int)n;
	}
	printf("PASS orphans\n");
	return 0;
}
