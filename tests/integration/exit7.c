/*
 * exit7: a minimal static program whose only observable behaviour is its
 * exit status, 7, reached through libc's exit() (exit_group).
 */
#include <stdlib.h>

int main(void)
{
	exit(7);
}
