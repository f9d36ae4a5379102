#include <stddef.h>

#include "table.h"

static const char *const names[ABI_NR_SYSCALLS] = {
#define NAME(nr, name) [nr] = #name,
	ABI_SYSCALL_LIST(NAME)
#undef NAME
};

const char *syscall_name(unsigned long nr)
{
	if (nr >= ABI_NR_SYSCALLS || !names[nr])
		return NULL;
	return names[nr];
}
