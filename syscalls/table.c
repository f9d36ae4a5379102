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

	/* Identity: the sandbox's own pid namespace and credentials. */
	FULL(getpid, ""),
	FULL(getppid, ""),
	FULL(gettid, ""),
	FULL(getuid, ""),
	FULL(geteuid, ""),
	FULL(getgid, ""),
	FULL(getegid, ""),
	FULL(getgroups, "dp"),
	FULL(getresuid, "ppp"),
	FULL(getresgid, "ppp"),

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
	PARTIAL(clock_gettime, "dp", "CPU clocks of other processes and dynamic (fd) clocks return EINVAL"),
	PARTIAL(clock_getres, "dp", "CPU clocks of other processes and dynamic (fd) clocks return EINVAL"),
	FULL(gettimeofday, "pp"),
	FULL(time, "p"),

	/* Signals: dispositions and masks are kept; no delivery yet. */
	PARTIAL(rt_sigaction, "Sppu", "bookkeeping only: signals are not delivered yet"),
	PARTIAL(rt_sigprocmask, "dppu", "bookkeeping only: signals are not delivered yet"),

	/* System information, limits, thread set-up, exit. */
	FULL(uname, "p"),
	FULL(getrandom, "pux"),
	PARTIAL(prlimit64, "ddpp", "limits are recorded; only RLIMIT_STACK (at exec) and RLIMIT_DATA (brk) are enforced so far; hard limits can only be lowered"),
	PARTIAL(getrlimit, "dp", "see prlimit64"),
	PARTIAL(setrlimit, "dp", "see prlimit64"),
	PARTIAL(arch_prctl, "xx", "ARCH_SET_CPUID returns ENODEV; CET and shadow-stack codes return EINVAL"),
	PARTIAL(set_tid_address, "p", "the address is recorded; the exit-time clear and futex wake need threads (issue 4)"),
	PARTIAL(set_robust_list, "pu", "the list is recorded; exit-time cleanup needs threads and futexes (issue 4)"),
	PARTIAL(get_robust_list, "dpp", "only the calling thread"),
	PARTIAL(prctl, "dxxxx", "PR_SET_NAME and PR_GET_NAME; other options return EINVAL until issue 4"),
	PARTIAL(exit, "d", "ends the whole process: one thread per process until clone lands"),
	FULL(exit_group, "d"),

	NOSYS(rseq, "restartable sequences need preemption and migration notification from the platform; glibc and others fall back when it fails"),
};
