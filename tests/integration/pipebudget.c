/* The sandbox's budget for enlarged pipe buffers (sentry/fsimpl/pipe): the
 * buffers are the sentry's memory, so F_SETPIPE_SZ may add at most 64 MiB
 * over the default 64 KiB per pipe in a whole sandbox, whatever the
 * workload's capabilities (EPERM beyond), and closing pipes gives their
 * share back. Sandbox-only: natively root may grow every pipe. Prints
 * "PASS pipebudget" and exits 0 when all holds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define NPIPES 100
#define MIB (1 << 20)

static int grow_all(int p[][2], int *eperm)
{
	int grown = 0;
	*eperm = 0;
	for (int i = 0; i < NPIPES; i++) {
		if (fcntl(p[i][1], F_SETPIPE_SZ, MIB) == MIB)
			grown++;
		else if (errno == EPERM)
			(*eperm)++;
	}
	return grown;
}

int main(void)
{
	static int p[NPIPES][2];
	int eperm;

	for (int i = 0; i < NPIPES; i++)
		if (pipe(p[i]) != 0) {
			printf("FAIL pipe %d: errno %d\n", i, errno);
			return 1;
		}
	int grown = grow_all(p, &eperm);
	/* 64 MiB / (1 MiB - 64 KiB) = 68 pipes. */
	if (grown != 68 || eperm != NPIPES - 68) {
		printf("FAIL first round: %d grown, %d EPERM\n", grown, eperm);
		return 1;
	}
	/* A small pipe can still be made smaller and back. */
	if (fcntl(p[NPIPES - 1][1], F_SETPIPE_SZ, 4096) != 4096 ||
	    fcntl(p[NPIPES - 1][1], F_SETPIPE_SZ, 65536) != 65536) {
		printf("FAIL resizing within the default\n");
		return 1;
	}
	for (int i = 0; i < NPIPES; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	for (int i = 0; i < NPIPES; i++)
		if (pipe(p[i]) != 0)
			return 1;
	grown = grow_all(p, &eperm);
	if (grown != 68) {
		printf("FAIL after closing: %d grown, %d EPERM\n", grown, eperm);
		return 1;
	}
	printf("PASS pipebudget\n");
	return 0;
}
