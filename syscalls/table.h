/* The syscall table: the single source of truth for what the sandbox serves.
 * Indexed by x86-64 syscall number; from it come the dispatcher, --strace
 * names and argument formats, and docs/syscalls.md. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../include/abi/syscall_nr.h"

struct task;

struct syscall_args {
	uint64_t a[6];
};

typedef long (*syscall_fn)(struct task *t, const struct syscall_args *a);

enum syscall_status {
	SC_ENOSYS = 0, /* not implemented: returns ENOSYS (the default) */
	SC_FULL, /* Linux semantics */
	SC_PARTIAL, /* implemented with the limits in note */
};

enum syscall_class {
	SC_SENTRY = 0, /* emulated by the sentry */
	SC_HOST, /* allowed to run on the host unchanged (note says why) */
};

struct syscall_def {
	syscall_fn fn;
	enum syscall_status status;
	enum syscall_class cls;
	/* Why it is partial or ENOSYS, or why a host call is safe. */
	const char *note;
	/* --strace argument formats, one char per argument:
	 * d int, u unsigned, x hex, p pointer, s string, o octal,
	 * b buffer in (length in the next argument),
	 * B buffer out (length = the result), S signal number. */
	const char *args;
};

extern const struct syscall_def syscall_table[ABI_NR_SYSCALLS];

const char *syscall_name(unsigned long nr);

/* Serves the system call trapped in t->regs and stores the result in rax. */
void syscall_dispatch(struct task *t);

/* The --strace line for a finished call. */
void strace_print(struct task *t, unsigned long nr,
		  const struct syscall_args *a, long ret);

/* The same in two steps, for calls whose arguments the call itself takes
 * away (a successful execve replaces the memory they are in): the name and
 * arguments before the call, the result after. */
struct strace_line {
	char buf[1024];
	size_t len;
};
bool strace_reads_first(unsigned long nr);
void strace_args(struct task *t, unsigned long nr,
		 const struct syscall_args *a, struct strace_line *l);
void strace_result(unsigned long nr, long ret, struct strace_line *l);
