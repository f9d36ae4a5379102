/* The syscall table. Every entry not listed here is ENOSYS: the dispatcher
 * returns ENOSYS and logs the name once. Notes on partial entries say what
 * is missing; docs/syscalls.md is generated from this file. */
#include "handlers.h"

#define FULL(name, fmt) [ABI_NR_##name] = { sys_##name, SC_FULL, SC_SENTRY, NULL, fmt }
#define PARTIAL(name, fmt, why) [ABI_NR_##name] = { sys_##name, SC_PARTIAL, SC_SENTRY, why, fmt }
#define NOSYS(name, why) [ABI_NR_##name] = { NULL, SC_ENOSYS, SC_SENTRY, why, NULL }

const struct syscall_def syscall_table[ABI_NR_SYSCALLS] = {
	/* Memory: the sentry tracks every mapping and has the stub map it. */
	FULL(brk, "x"),
	PARTIAL(mmap, "xudxdx", "anonymous memory only until the VFS lands; MAP_HUGETLB and MAP_LOCKED are refused with EINVAL; MAP_GROWSDOWN maps a plain region"),
	FULL(munmap, "xu"),
	FULL(mprotect, "xud"),
	PARTIAL(mremap, "xuuxx", "MREMAP_DONTUNMAP and duplicating a shared mapping (old_size 0) return EINVAL"),
	PARTIAL(madvise, "xud", "MADV_HWPOISON and MADV_SOFT_OFFLINE return EPERM (they act on host pages)"),

	/* Identity and credentials: the sandbox's own pid namespace. */
	FULL(getpid, ""),
	FULL(getppid, ""),
	FULL(gettid, ""),
	FULL(getuid, ""),
	FULL(geteuid, ""),
	FULL(getgid, ""),
	FULL(getegid, ""),
	FULL(getgroups, "dp"),
	PARTIAL(setgroups, "dp", "at most 256 groups are kept; more gives ENOMEM"),
	FULL(getresuid, "ppp"),
	FULL(getresgid, "ppp"),
	FULL(setuid, "u"),
	FULL(setgid, "u"),
	FULL(setreuid, "uu"),
	FULL(setregid, "uu"),
	FULL(setresuid, "uuu"),
	FULL(setresgid, "uuu"),
	FULL(setfsuid, "u"),
	FULL(setfsgid, "u"),
	PARTIAL(capget, "pp", "capabilities are the sandbox's bookkeeping: they gate what the sentry allows, file capabilities do not exist"),
	PARTIAL(capset, "pp", "see capget"),

	/* Processes: clone is a host fork or thread of the stub driven by the
	 * sentry; exec is the sentry's loader into a fresh stub. */
	PARTIAL(clone, "xpppx", "namespaces (CLONE_NEW*) and CLONE_INTO_CGROUP return EINVAL"),
	FULL(fork, ""),
	FULL(vfork, ""),
	PARTIAL(clone3, "pu", "as clone; set_tid (choosing pids) returns EINVAL"),
	PARTIAL(execve, "spp", "executables are read from the host path until the VFS lands (issue 5); paths resolve against the sandbox's starting directory"),
	PARTIAL(execveat, "dsppx", "AT_EMPTY_PATH (exec by fd) returns ENOSYS until the VFS lands; dirfd is ignored"),
	FULL(exit, "d"),
	FULL(wait4, "dpxp"),
	FULL(waitid, "ddpxp"),
	FULL(set_tid_address, "p"),
	FULL(restart_syscall, ""),
	FULL(setpgid, "dd"),
	FULL(getpgid, "d"),
	FULL(getpgrp, ""),
	FULL(getsid, "d"),
	FULL(setsid, ""),
	PARTIAL(pidfd_open, "dx", "PIDFD_THREAD returns EINVAL for non-leaders; poll on a pidfd is not supported yet"),
	PARTIAL(prctl, "dxxxx", "names, PDEATHSIG, subreaper, NO_NEW_PRIVS, DUMPABLE, KEEPCAPS, capability bounding set, timer slack, GET_TID_ADDRESS, GET_SECCOMP (always 0); PR_SET_SECCOMP, PR_SET_MM, PR_SET_VMA and the rest return EINVAL"),

	/* Signals: delivered by the sentry with Linux's frames. */
	FULL(rt_sigaction, "Sppu"),
	FULL(rt_sigprocmask, "dppu"),
	FULL(rt_sigpending, "pu"),
	FULL(rt_sigsuspend, "pu"),
	FULL(pause, ""),
	FULL(rt_sigtimedwait, "ppps"),
	FULL(kill, "dS"),
	FULL(tkill, "dS"),
	FULL(tgkill, "ddS"),
	FULL(rt_sigqueueinfo, "dSp"),
	FULL(rt_tgsigqueueinfo, "ddSp"),
	PARTIAL(pidfd_send_signal, "dSpx", "PIDFD_SIGNAL_THREAD is treated as the process"),
	FULL(sigaltstack, "pp"),
	FULL(rt_sigreturn, ""),

	/* Futexes: served by the sentry, so signals, thread exit and robust
	 * lists wake them without the host. */
	PARTIAL(futex, "pdupux", "priority-inheritance operations return ENOSYS; FUTEX_WAKE_OP's read-modify-write is atomic against other futex calls, not against plain atomic instructions of other threads"),
	FULL(set_robust_list, "pu"),
	FULL(get_robust_list, "dpp"),

	/* Scheduling: recorded and reported; the host schedules the stubs. */
	FULL(sched_yield, ""),
	PARTIAL(sched_getaffinity, "dup", "affinity is recorded, not applied to the host threads"),
	PARTIAL(sched_setaffinity, "dup", "see sched_getaffinity"),
	PARTIAL(getcpu, "ppp", "reports the CPU of the serving sentry thread, node 0"),
	PARTIAL(sched_getscheduler, "d", "policies and priorities are recorded, not applied"),
	PARTIAL(sched_setscheduler, "ddp", "see sched_getscheduler"),
	PARTIAL(sched_getparam, "dp", "see sched_getscheduler"),
	PARTIAL(sched_setparam, "dp", "see sched_getscheduler"),
	FULL(sched_get_priority_max, "d"),
	FULL(sched_get_priority_min, "d"),
	PARTIAL(sched_rr_get_interval, "dp", "see sched_getscheduler"),
	PARTIAL(getpriority, "dd", "nice values are recorded, not applied"),
	PARTIAL(setpriority, "ddd", "see getpriority"),

	/* Time: the wall and monotonic clocks are the host's (the vDSO serves
	 * them without a trap); CPU clocks measure the stub threads. */
	FULL(nanosleep, "pp"),
	PARTIAL(clock_nanosleep, "ddpp", "CPU-clock sleeps are checked every millisecond"),
	FULL(getitimer, "dp"),
	PARTIAL(setitimer, "dpp", "ITIMER_VIRTUAL and ITIMER_PROF fire up to 10 ms late (CPU time is sampled)"),
	FULL(alarm, "u"),
	PARTIAL(timer_create, "dpp", "CPU-clock timers fire up to 10 ms late; timers on other processes' CPU clocks return EINVAL"),
	FULL(timer_settime, "ddpp"),
	FULL(timer_gettime, "dp"),
	FULL(timer_getoverrun, "d"),
	FULL(timer_delete, "d"),
	PARTIAL(times, "p", "system time counts the host's work for the stub, not the sentry's"),
	PARTIAL(getrusage, "dp", "only user and system time are filled in"),

	/* Readiness. */
	FULL(poll, "pud"),
	FULL(ppoll, "puppu"),
	FULL(select, "dpppp"),
	FULL(pselect6, "dppppp"),
	FULL(epoll_create, "d"),
	FULL(epoll_create1, "x"),
	PARTIAL(epoll_ctl, "ddxp", "a watch goes when its fd is closed or reused (Linux keeps it until the last reference to the open file goes); EPOLLEXCLUSIVE wakes every waiter"),
	FULL(epoll_wait, "dpdd"),
	FULL(epoll_pwait, "dpddpu"),
	FULL(epoll_pwait2, "dpdppu"),

	/* Pipes: the sentry's own buffers. */
	PARTIAL(pipe, "p", "F_SETPIPE_SZ is not supported; capacity is 64 KiB"),
	PARTIAL(pipe2, "px", "see pipe"),

	/* Files: the standard streams only until the VFS lands. */
	FULL(read, "dBu"),
	FULL(write, "dbu"),
	FULL(readv, "dpd"),
	FULL(writev, "dpd"),
	FULL(close, "d"),
	PARTIAL(fstat, "dp", "host-backed standard streams report the host file's metadata"),
	PARTIAL(newfstatat, "dspx", "only AT_EMPTY_PATH on an open fd until the VFS lands; paths return ENOSYS"),
	FULL(dup, "d"),
	FULL(dup2, "dd"),
	FULL(dup3, "ddx"),
	PARTIAL(fcntl, "ddx", "F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL; O_NONBLOCK on a host-backed stream is recorded but its host I/O still blocks; locks and leases return EINVAL"),
	PARTIAL(ioctl, "dxx", "TCGETS, TIOCGWINSZ, FIOCLEX, FIONCLEX; other requests return ENOTTY"),

	/* Time: host clocks; the vDSO serves the common case without a trap. */
	PARTIAL(clock_gettime, "dp", "dynamic (fd) clocks return EINVAL"),
	PARTIAL(clock_getres, "dp", "dynamic (fd) clocks return EINVAL"),
	FULL(gettimeofday, "pp"),
	FULL(time, "p"),

	/* System information, limits, thread set-up, exit. */
	FULL(uname, "p"),
	FULL(getrandom, "pux"),
	PARTIAL(prlimit64, "ddpp", "limits are recorded; RLIMIT_STACK (at exec), RLIMIT_DATA (brk) and RLIMIT_NOFILE are enforced, the others not yet"),
	PARTIAL(getrlimit, "dp", "see prlimit64"),
	PARTIAL(setrlimit, "dp", "see prlimit64"),
	PARTIAL(arch_prctl, "xx", "ARCH_SET_CPUID returns ENODEV; CET and shadow-stack codes return EINVAL"),
	FULL(exit_group, "d"),

	NOSYS(rseq, "restartable sequences need preemption and migration notification from the platform; glibc and others fall back when it fails"),
};
