/* Declarations of every syscall handler, for table.c. Handlers are thin:
 * decode the arguments, call the subsystem, release. */
#pragma once

#include "../sentry/kernel/kernel.h"
#include "table.h"

#define SYSCALL(name) long sys_##name(struct task *t, const struct syscall_args *a)

/* sys_mm.c */
SYSCALL(brk); SYSCALL(mmap); SYSCALL(munmap); SYSCALL(mprotect);
SYSCALL(mremap); SYSCALL(madvise);
/* sys_identity.c */
SYSCALL(getpid); SYSCALL(getppid); SYSCALL(gettid); SYSCALL(getuid);
SYSCALL(geteuid); SYSCALL(getgid); SYSCALL(getegid); SYSCALL(getgroups);
SYSCALL(getresuid); SYSCALL(getresgid);
/* sys_read_write.c */
SYSCALL(read); SYSCALL(write); SYSCALL(readv); SYSCALL(writev);
SYSCALL(close); SYSCALL(fstat); SYSCALL(newfstatat); SYSCALL(ioctl);
/* sys_time.c */
SYSCALL(clock_gettime); SYSCALL(clock_getres); SYSCALL(gettimeofday);
SYSCALL(time);
/* sys_signal.c */
SYSCALL(rt_sigaction); SYSCALL(rt_sigprocmask);
/* sys_misc.c */
SYSCALL(uname); SYSCALL(getrandom); SYSCALL(prlimit64); SYSCALL(getrlimit);
SYSCALL(setrlimit); SYSCALL(arch_prctl); SYSCALL(set_tid_address);
SYSCALL(set_robust_list); SYSCALL(get_robust_list); SYSCALL(exit);
SYSCALL(exit_group); SYSCALL(prctl);
/* sys_fd.c */
SYSCALL(dup); SYSCALL(dup2); SYSCALL(dup3); SYSCALL(fcntl);
