/*
 * exit: print a line, then end the process with status 7.
 *
 * Uses the raw exit syscall (not exit_group): when the only thread of a
 * process exits, the process exits with that status.  exit_group is covered
 * by every other probe (returning from main) and by tests/integration/exit7.
 * The expected outcome, natively and in the sandbox, is status 7 and the
 * transcript below.
 */
#include "probe.h"

int main(void)
{
	NOTE("exit: about to exit with status 7\n");
	fflush(stdout);
	syscall(SYS_exit, 7);
	/* Not reached. */
	NOTE("exit: still alive after SYS_exit\n");
	return 1;
}
