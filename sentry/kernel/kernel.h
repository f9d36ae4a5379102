/* The sentry's kernel: global state of one sandbox and the task (workload
 * thread) type. Tasks are served one sentry thread each (see task.c). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "../../platform/platform.h"

#define SENTRY_NSIG 64

/* Kernel-internal errnos (never seen by the workload): a blocking call cut
 * short by a signal returns one, and signal delivery turns it into EINTR or
 * a transparent restart, as on Linux. */
#define ERESTARTSYS 512 /* restart if the handler has SA_RESTART */
#define ERESTARTNOINTR 513 /* always restart */
#define ERESTARTNOHAND 514 /* restart only if no handler runs */
#define ERESTART_RESTARTBLOCK 516 /* restart through restart_syscall */
#define SENTRY_RLIM_NLIMITS 16

struct mm;
struct fdtable;

struct sentry_config {
	const char *platform;
	bool strace;
	bool cpu_pairing;
	char **argv; /* workload argv; argv[0] is the program path */
	char **envp;
	const char *exec_path; /* path of the executable (argv[0] unless set) */
	const char *crash_on_syscall; /* test hook: fault inside the sentry */
	uint32_t uid, gid;
	int stdio[3]; /* host fds given to the workload as 0, 1, 2 */
};

struct kernel {
	const struct sentry_config *cfg;
	const struct platform_ops *plat;
	struct utsname uts;
	struct rlimit rlim[SENTRY_RLIM_NLIMITS];
	int crash_nr; /* syscall number of the crash test hook, or -1 */
	pthread_mutex_t lock;
	int next_tid;
};

struct creds {
	uint32_t ruid, euid, suid, fsuid;
	uint32_t rgid, egid, sgid, fsgid;
	uint32_t ngroups;
	uint32_t groups[32];
};

struct k_sigaction {
	uint64_t handler, flags, restorer, mask;
};

struct task {
	struct kernel *k;
	struct plat_as *as;
	struct plat_thread *th;
	struct mm *mm;
	struct fdtable *fdt;
	struct plat_regs regs;
	bool regs_dirty;
	int tid, tgid, ppid; /* sandbox ids, never host ones */
	struct creds cred;
	struct k_sigaction sigactions[SENTRY_NSIG];
	uint64_t sigmask;
	uint64_t clear_child_tid, robust_list, robust_len;
	struct rlimit rlim[SENTRY_RLIM_NLIMITS];
	char comm[16];
	bool exited;
	int exit_status; /* wait(2) status of the thread group */
	_Atomic uint32_t wake_seq; /* event counter: sentry/kernel/wait.h */
};

/* A signal is pending and unblocked for t: blocking calls give up. */
bool task_signal_pending(struct task *t);
/* The soft limit of resource res for t's process. */
uint64_t task_rlimit_cur(struct task *t, int res);

/* Copies between the sentry and workload memory; -EFAULT on a bad range. */
int task_copy_in(struct task *t, void *dst, uint64_t src, size_t n);
int task_copy_out(struct task *t, uint64_t dst, const void *src, size_t n);
/* Reads a NUL-terminated string of at most max-1 bytes; -ENAMETOOLONG. */
int task_copy_in_string(struct task *t, char *dst, uint64_t src, size_t max);
/* Runs a host system call inside the task's address space. */
long task_host_syscall(struct task *t, long nr, uint64_t a0, uint64_t a1,
		       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);

int kernel_init(struct kernel *k, const struct sentry_config *cfg);
/* Runs the workload to completion; returns its wait(2) status, or -errno
 * if it could not be started (the error is logged). */
int kernel_run(struct kernel *k);

/* Per sentry thread set-up: the alternate stack the fault handler runs on. */
void sentry_thread_setup(void);
void sentry_thread_teardown(void);
