/* seccomp filters of systrap stubs (classic BPF). Internal to systrap. */
#pragma once

#include <stdint.h>

#include "layout.h"

/* Filter A, installed once per stub process: it only judges system calls
 * made from the stub's code, allowing what the executor and thread start-up
 * need; every other call passes to filter B. */
int systrap_filter_a(uint64_t code_lo, uint64_t code_hi,
		     struct systrap_filter_insn *out, int max);

/* Filter B, installed by every workload thread: from the stub's code only
 * rt_sigreturn, exit, getrusage, futex wait/wake and arch_prctl(ARCH_SET_FS/GS), anything
 * else there kills the stub (tampering); from anywhere else, the program
 * libseccomp generates from the syscall table: `host` entries allowed,
 * everything else SECCOMP_RET_TRAP (to the sentry). */
int systrap_filter_b(uint64_t code_lo, uint64_t code_hi,
		     struct systrap_filter_insn *out, int max);
