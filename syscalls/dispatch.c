#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../lib/log.h"
#include "../sentry/kernel/kernel.h"
#include "../sentry/kernel/seccomp.h"
#include "table.h"

static atomic_uchar reported[ABI_NR_SYSCALLS + 1];

static void report_unimplemented(unsigned long nr)
{
	unsigned long slot = nr < ABI_NR_SYSCALLS ? nr : ABI_NR_SYSCALLS;
	if (atomic_exchange(&reported[slot], 1))
		return;
	const char *name = syscall_name(nr);
	if (name)
		log_info("unimplemented syscall %s (%lu): returning ENOSYS",
			 name, nr);
	else
		log_info("unknown syscall %lu: returning ENOSYS", nr);
}

void syscall_dispatch(struct task *t)
{
	unsigned long nr = t->regs.orig_rax;
	struct syscall_args a = { { t->regs.rdi, t->regs.rsi, t->regs.rdx,
				    t->regs.r10, t->regs.r8, t->regs.r9 } };
	long ret;

	if (t->k->crash_nr >= 0 && nr == (unsigned long)t->k->crash_nr) {
		/* Test hook (--TESTONLY-crash-on-syscall): a real fault inside
		 * the sentry, to prove a crash takes the sandbox down. */
		log_warn("test hook: crashing the sentry on purpose");
		raise(SIGSEGV);
	}
	struct strace_line *early = NULL;
	if (t->k->cfg->strace && strace_reads_first(nr)) {
		early = malloc(sizeof(*early));
		if (early)
			strace_args(t, nr, &a, early);
	}
	if (kseccomp_enter(t, nr, &a, &ret)) {
		/* the process's own filter answered */
	} else if (nr < ABI_NR_SYSCALLS && syscall_table[nr].fn) {
		ret = syscall_table[nr].fn(t, &a);
	} else {
		report_unimplemented(nr);
		ret = -ENOSYS;
	}
	if (early) {
		strace_result(nr, ret, early);
		free(early);
	} else if (t->k->cfg->strace) {
		strace_print(t, nr, &a, ret);
	}
	t->regs.rax = (uint64_t)ret;
	t->regs_dirty = true;
}
