/* Stub processes, shared by the platforms: spawning a traced, emptied host
 * process from the sentry, injecting host system calls into a stopped stub
 * thread with ptrace, and copying memory in and out. Internal to platform/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "platform.h"

#define STUBPROC_TASK_SIZE 0x7ffffffff000ULL

/* The [vvar...vdso] span of the sentry, which every stub keeps. */
int stubproc_vdso_span(uint64_t *lo, uint64_t *hi);

/* Forks a stub from the calling thread, which becomes its tracer (and its
 * parent for PR_SET_PDEATHSIG). The stub has closed every fd, left the
 * session, dropped rseq and clear_child_tid, and is stopped; *regs holds its
 * registers. Nothing is unmapped yet. */
int stubproc_spawn(pid_t *pid, struct user_regs_struct *regs);

/* Runs host syscall nr in stopped, traced thread tid, using the
 * `syscall; int3` at insn. base is the register set to start from (the
 * thread's registers are clobbered: the caller restores them). */
int stubproc_inject(pid_t tid, const struct user_regs_struct *base,
		    uint64_t insn, long nr, const uint64_t args[6], long *ret);

/* The same, for code that traps (int3) at trap_rip instead of insn + 3. */
int stubproc_inject_at(pid_t tid, const struct user_regs_struct *base,
		       uint64_t insn, uint64_t trap_rip, long nr,
		       const uint64_t args[6], long *ret);

/* Attaches the calling thread to tid (PTRACE_SEIZE, exit-kill) and stops it;
 * *regs holds its registers. */
int stubproc_seize(pid_t tid, struct user_regs_struct *regs);

/* Unmaps everything of the stub but the given ranges. */
int stubproc_unmap_except(pid_t tid, const struct user_regs_struct *base,
			  uint64_t insn, const struct plat_range *keep, int n);

/* Puts the x87/SSE/AVX state in the init state exec gives. */
int stubproc_reset_fpu(pid_t tid);

int stubproc_copy_in(pid_t pid, void *dst, uint64_t src, size_t n);
/* As stubproc_copy_in, through /proc/PID/mem, which reads what the
 * process's protections would refuse a reader (a debugger's access): only
 * for memory the caller knows the workload itself can read. */
int stubproc_copy_in_force(pid_t pid, void *dst, uint64_t src, size_t n);
int stubproc_copy_out(pid_t pid, uint64_t dst, const void *src, size_t n);

/* The XSAVE image of a stopped, traced thread (platform.h's format). */
int stubproc_get_fpstate(pid_t tid, void *buf, size_t len);
int stubproc_set_fpstate(pid_t tid, const void *buf, size_t len);

int plat_fpu_init(void);

/* SIGKILLs a stub process and leaves its reaping to a background thread. */
void stubproc_kill_and_reap(pid_t pid);
/* The same with the kill itself left to that thread, which then calls
 * done(arg) (the platform's clean-up) before it reaps the stub. */
void stubproc_reap_later(pid_t pid, void (*done)(void *), void *arg);

/* Waits for tid to change state; -errno on failure. */
int stubproc_wait(pid_t tid, int *status);
