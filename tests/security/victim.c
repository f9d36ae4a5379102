/*
 * victim: a host process the escape attempts aim at. Runs natively, beside
 * the sandbox, started by security.sh.
 *
 * Prints `PID ADDR` (its pid and the address of an 8-byte marker in its
 * memory) and then waits for stdin to reach end of file. Then it checks the
 * marker: an attempt that reached the host with process_vm_writev would
 * have changed it. A kill would have ended it before that; a ptrace attach
 * would show in /proc/PID/status, which security.sh reads while it waits.
 *
 * Exits 0 with `victim intact`, 1 with `victim: marker changed`.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile char marker[8] = "pristine";

int main(void)
{
	char buf[256];

	printf("%d %p\n", (int)getpid(), (void *)marker);
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	if (memcmp((const char *)marker, "pristine", 8) != 0) {
		printf("victim: marker changed to '%.8s'\n",
		       (const char *)marker);
		return 1;
	}
	printf("victim intact\n");
	return 0;
}
