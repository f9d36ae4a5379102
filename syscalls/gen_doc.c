/* Prints docs/syscalls.md from the syscall table. */
#include <stdio.h>

#include "table.h"

int main(void)
{
	int full = 0, partial = 0, nosys = 0;

	for (unsigned long nr = 0; nr < ABI_NR_SYSCALLS; nr++) {
		if (!syscall_name(nr))
			continue;
		switch (syscall_table[nr].status) {
		case SC_FULL: full++; break;
		case SC_PARTIAL: partial++; break;
		case SC_ENOSYS: nosys++; break;
		}
	}
	printf("# System call compatibility\n\n"
	       "Generated from `syscalls/table.c` by `make docs`; do not edit.\n\n"
	       "x86-64 system calls: %d full, %d partial, %d not implemented "
	       "(they return `ENOSYS`). Class `sentry`: served by the sentry; "
	       "`host`: allowed to run on the host unchanged.\n\n"
	       "| nr | name | status | class | notes |\n"
	       "|---:|---|---|---|---|\n",
	       full, partial, nosys);
	for (unsigned long nr = 0; nr < ABI_NR_SYSCALLS; nr++) {
		const char *name = syscall_name(nr);
		const struct syscall_def *d = &syscall_table[nr];
		static const char *const st[] = { "enosys", "full", "partial" };
		if (!name)
			continue;
		printf("| %lu | %s | %s | %s | %s |\n", nr, name, st[d->status],
		       d->cls == SC_HOST ? "host" : "sentry",
		       d->note ? d->note : "");
	}
	return 0;
}
