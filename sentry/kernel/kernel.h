/* The sentry's kernel: global state of one sandbox, tasks (workload
 * threads) and thread groups (processes).
 *
 * Every task is served by its own sentry thread (task.c), which alone runs
 * its stub thread, builds its signal frames and changes its registers.
 *
 * Locking: k->lock (the task lock) protects the task tree, the pid table,
 * process groups and sessions, signal state (dispositions, pending sets,
 * masks of other tasks), exit and wait state and group stops. It is never
 * held across a platform run, an executor call, a copy of workload memory
 * or a sleep. Each mm has its own lock (mm.h); the VFS its own. Order:
 * k->lock before a waitq's lock; mm->lock is never taken under k->lock. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "../../lib/list.h"
#include "../../platform/platform.h"
#include "wait.h"

struct seccomp_filter;

#define SENTRY_NSIG 64
#define SENTRY_RLIM_NLIMITS 16
/* The highest pid + 1 (/proc/sys/kernel/pid_max, 64-bit Linux's). */
#define SENTRY_PID_MAX 4194304
/* The highest capability number the sandbox knows (CAP_CHECKPOINT_RESTORE;
 * /proc/sys/kernel/cap_last_cap). */
#define SENTRY_CAP_LAST_CAP 40

/* Kernel-internal errnos (never seen by the workload): a blocking call cut
 * short by a signal returns one, and signal delivery turns it into EINTR or
 * a transparent restart, as on Linux. */
#define ERESTARTSYS 512 /* restart if the handler has SA_RESTART */
#define ERESTARTNOINTR 513 /* always restart */
#define ERESTARTNOHAND 514 /* restart only if no handler runs */
#define ERESTART_RESTARTBLOCK 516 /* restart through restart_syscall */

#define SIGBIT(s) (1ULL << ((s)-1))

struct mm;
struct fdtable;
struct fs_struct;
struct exec_file;
struct vfs_boot_config;

struct sentry_config {
	const char *platform;
	const struct vfs_boot_config *vfs; /* the file tree (sentry/vfs/vfs.h) */
	bool strace;
	bool cpu_pairing;
	/* systrap: rewrite hot `mov $N,%eax; syscall` sites into calls that
	 * trap without a signal (platform/systrap/layout.h). */
	bool syscall_patch;
	char **argv; /* workload argv; argv[0] is the program path */
	char **envp;
	const char *exec_path; /* path of the executable (argv[0] unless set) */
	const char *crash_on_syscall; /* test hook: fault inside the sentry */
	uint32_t uid, gid;
	int stdio[3]; /* host fds given to the workload as 0, 1, 2 */
	/* Pid 1 ignores signals whose action is the default (a container's
	 * init, as in a pid namespace). Off for `runsc do`, where the command
	 * must behave as it would in a shell. */
	bool init_protected;
};

struct kernel {
	const struct sentry_config *cfg;
	const struct platform_ops *plat;
	struct utsname uts;
	struct rlimit rlim[SENTRY_RLIM_NLIMITS]; /* the init process's */
	int crash_nr; /* syscall number of the crash test hook, or -1 */

	pthread_mutex_t lock; /* the task lock: see the top of this file */
	struct list tasks; /* every task not yet released */
	struct list groups; /* every thread group not yet reaped */
	struct task **pid_hash; /* tid -> task (chained on pid_next) */
	int last_pid;
	struct thread_group *init; /* pid 1 */
	int nr_tasks; /* tasks whose sentry thread has not ended */
	pthread_cond_t tasks_gone; /* nr_tasks reached 0 */
	bool shutting_down; /* init is gone: every task is being killed */
	int init_status; /* wait(2) status of pid 1 */
	uint64_t boot_ns; /* CLOCK_MONOTONIC at start */
	int boot_err; /* the first program could not be loaded */
	struct waitq exit_wait; /* woken whenever a process exits or is reaped (pidfds) */
	/* Readers and pollers of every signalfd: woken whenever a signal is
	 * queued anywhere (k->lock held) or a mask changes; they re-check.
	 * The kernel's, so that an epoll watch may outlive any process. */
	struct waitq signalfd_wq;
	uint64_t cpus[16]; /* the CPUs the sandbox was given (a cpu_set_t) */
};

struct creds {
	uint32_t ruid, euid, suid, fsuid;
	uint32_t rgid, egid, sgid, fsgid;
	uint32_t ngroups;
	uint32_t groups[65536 / 256]; /* NGROUPS_MAX is larger; 256 is plenty */
	uint64_t cap_permitted, cap_effective, cap_inheritable, cap_bounding,
		cap_ambient;
	bool keepcaps;
	bool no_new_privs;
};

struct k_sigaction {
	uint64_t handler, flags, restorer, mask;
};

/* The ids and capabilities a credential set has, to compare two. */
struct cred_mark {
	uint32_t id[8];
	uint64_t cap_effective, cap_permitted;
};

static inline struct cred_mark cred_mark_of(const struct creds *c)
{
	return (struct cred_mark){ { c->ruid, c->euid, c->suid, c->fsuid,
				     c->rgid, c->egid, c->sgid, c->fsgid },
				   c->cap_effective, c->cap_permitted };
}

#define KSIG_DFL 0
#define KSIG_IGN 1

struct sighand {
	atomic_int refs;
	struct k_sigaction action[SENTRY_NSIG];
};

/* Raw siginfo_t (128 bytes, x86-64 layout). */
struct ksiginfo {
	int32_t signo, errno_, code, pad;
	union {
		uint8_t raw[112];
		struct { /* kill, sigqueue */
			int32_t pid;
			uint32_t uid;
			uint64_t value;
		} kill;
		struct { /* SIGCHLD */
			int32_t pid;
			uint32_t uid;
			int32_t status;
			int32_t pad;
			int64_t utime, stime;
		} chld;
		struct { /* faults */
			uint64_t addr;
		} fault;
		struct { /* POSIX timers */
			int32_t tid, overrun;
			uint64_t value;
		} timer;
		struct { /* SIGSYS from a seccomp filter */
			uint64_t call_addr;
			int32_t syscall;
			uint32_t arch;
		} sys;
	};
};
_Static_assert(sizeof(struct ksiginfo) == 128, "siginfo size");

struct sigqueue {
	struct ksiginfo info;
	struct sigqueue *next;
};

struct sigpending {
	uint64_t set; /* bit sig-1 */
	struct sigqueue *head; /* queued siginfos, oldest first */
};

/* A thread group: a process. */
/* getrusage's counters (times and maxrss aside), summed over host stubs
 * (a process has one per image) and over reaped children. */
struct ru_counts {
	long minflt, majflt, inblock, oublock, nvcsw, nivcsw;
};

struct thread_group {
	struct kernel *k;
	int tgid;
	struct task *leader;
	struct list threads; /* tasks, on task->tg_link */
	int nr_threads; /* tasks of it that have not exited */
	struct list link; /* on k->groups */

	struct thread_group *parent; /* whom we tell about our exit */
	struct task *parent_task; /* the thread that made us (PDEATHSIG) */
	struct list children; /* thread groups, on sibling */
	struct list sibling;
	int exit_signal; /* what the parent gets at our exit (0: none) */

	int pgid, sid;

	struct sighand *sighand;
	struct sigpending shared_pending;

	/* Exit: group_exit says every thread must go (status in
	 * exit_status); zombie once the last thread is gone. */
	bool group_exit;
	int exit_status;
	bool zombie;
	bool reaped;

	/* Group stop (job control). */
	bool stopping; /* a stop is under way or done */
	int stop_signal;
	int nr_stop_pending; /* threads yet to stop */
	bool stopped; /* every thread stopped: reportable */
	bool stop_reported; /* to wait(WUNTRACED) */
	bool continued; /* SIGCONT since the stop: reportable (WCONTINUED) */
	struct waitq stop_wait; /* stopped threads sleep here */

	struct waitq child_wait; /* wait4 of this process's threads */
	bool subreaper;
	bool has_subreaper_ancestor;

	struct rlimit rlim[SENTRY_RLIM_NLIMITS];
	/* CPU time of reaped children, in ns (RUSAGE_CHILDREN, times). */
	uint64_t child_utime_ns, child_stime_ns;
	long child_maxrss;
	struct ru_counts child_ru; /* reaped children's, theirs included */
	long maxrss; /* KiB, of stubs gone (exec) */
	struct ru_counts dead_ru; /* of stubs gone (exec, the last exit) */
	uint64_t start_ns;
	/* CPU time of exited threads, in ns. */
	uint64_t dead_utime_ns, dead_stime_ns;
	char *exe_path; /* /proc/self/exe */
	bool did_exec; /* setpgid of a child after exec: EACCES */
	struct task *exec_waiter; /* an execve waiting for the other threads */
	bool dumpable_off; /* PR_SET_DUMPABLE 0 */
	/* The credentials the running image began with (at its exec, or
	 * in the fork that copied its memory): an exec keeps the stub only
	 * if they have not changed since (exec_in_place). */
	struct cred_mark image_creds;
	int oom_score_adj; /* /proc/[pid]/oom_score_adj: kept, inherited */
	struct itimers *itimers; /* timer.c; NULL until used */
	struct posix_timers *ptimers;
};

struct restart_block {
	long (*fn)(struct task *t);
	uint64_t a[4];
};

struct task {
	struct kernel *k;
	struct thread_group *tg;
	struct list tg_link; /* on tg->threads */
	struct list link; /* on k->tasks */
	struct task *pid_next;
	int tid;

	struct mm *mm;
	struct plat_thread *th;
	struct fdtable *fdt;
	struct fs_struct *fs;
	struct creds cred;
	struct plat_regs regs;
	bool regs_dirty;
	/* mm_flush_count(mm) as this task last went to run (mm_flush_fault). */
	unsigned mm_flushes;
	/* The trap being served is a system call whose result may be a
	 * -ERESTART* code (signal delivery then decides). */
	bool in_syscall;
	/* The system call being served may leave its small copies out to
	 * the stub thread (task_copy_out, platform_ops.copy_out_defer), and
	 * some are held. Only the task's own thread touches them. */
	bool out_defer, out_held;
	/* The call's input as the stub thread read it ahead may still serve
	 * task_copy_in (platform_ops.copy_in_ahead): from the trap until
	 * the call writes memory or ends. */
	bool in_ahead;

	/* Signals (under k->lock, except sigmask's own reads by the task). */
	uint64_t sigmask;
	uint64_t saved_sigmask; /* restored after the next delivery */
	bool restore_sigmask; /* sigsuspend, pselect, ppoll */
	struct sigpending pending;
	atomic_bool sigpending_hint; /* something for get_signal to do */
	atomic_bool in_user; /* running workload code: interrupt to stop it */
	bool stop_counted; /* this thread took part in the group stop */
	uint64_t ss_sp, ss_size; /* sigaltstack */
	int ss_flags;
	int pdeath_signal;
	struct restart_block restart;

	uint64_t clear_child_tid, robust_list, robust_len;
	char comm[16];
	unsigned personality; /* personality(2): kept and reported */
	bool exiting; /* this thread is leaving (exit or group exit) */
	int exit_code; /* its own status, for a group that ends by exit() */

	/* vfork: the parent sleeps until its vfork_done is set by the child's
	 * exec or exit (vfork_release_locked). */
	struct task *vfork_parent;
	atomic_bool vfork_done;
	uint64_t real_blocked; /* rt_sigtimedwait: the mask before the wait */

	_Atomic uint32_t wake_seq; /* event counter: sentry/kernel/wait.h */
	pthread_t thread;
	bool thread_started;
	unsigned char *fpbuf; /* XSAVE image scratch (signal frames) */
	uint64_t start_ns;
	uint64_t fault_err, fault_trapno; /* of the last fault, for frames */
	bool boot; /* the first task: load the configured program first */
	/* Scheduling attributes: recorded and reported (sys_sched.c). */
	uint64_t cpus[16]; /* affinity, if cpus_set; else the sandbox's CPUs */
	bool cpus_set;
	int sched_policy, sched_priority, nice;
	uint64_t timer_slack_ns;
	/* seccomp(2): the filters this task runs (a chain shared with the
	 * threads and children that inherited it) and the mode. */
	_Atomic(struct seccomp_filter *) seccomp;
	atomic_int seccomp_mode;
};

/* k->lock held. tg's leader has exited while other threads live on: it
 * stays with its process as a zombie thread (Linux's delay_group_leader),
 * which /proc shows. */
static inline bool tg_leader_gone(const struct thread_group *tg)
{
	const struct task *ld = tg->leader;
	return !tg->zombie && ld && ld->exiting && !ld->mm;
}

/* The task the calling sentry thread serves (NULL on other threads). */
struct task *task_current(void);

/* Copies between the sentry and workload memory; -EFAULT on a bad range. */
int task_copy_in(struct task *t, void *dst, uint64_t src, size_t n);
void task_out_flush(struct task *t);
int task_copy_out(struct task *t, uint64_t dst, const void *src, size_t n);
/* Reads a NUL-terminated string of at most max-1 bytes; -ENAMETOOLONG. */
int task_copy_in_string(struct task *t, char *dst, uint64_t src, size_t max);
/* Runs a host system call inside the task's address space. */
long task_host_syscall(struct task *t, long nr, uint64_t a0, uint64_t a1,
		       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);

/* A signal is pending and unblocked for t, or t must stop or exit:
 * blocking calls give up (lock-free read of t->sigpending_hint). */
bool task_signal_pending(struct task *t);
/* The soft limit of resource res for t's process. */
uint64_t task_rlimit_cur(struct task *t, int res);

int kernel_init(struct kernel *k, const struct sentry_config *cfg);
/* Runs the workload to completion; returns pid 1's wait(2) status, or
 * -errno if it could not be started (the error is logged). */
int kernel_run(struct kernel *k);

/* --- task.c ------------------------------------------------------------- */
/* Looks a task up by tid; k->lock held. */
struct task *task_lookup(struct kernel *k, int tid);
struct thread_group *tg_lookup(struct kernel *k, int tgid);
/* Allocates a tid; k->lock held. -EAGAIN when none is free. */
int pid_alloc(struct kernel *k);
void pid_hash_add(struct kernel *k, struct task *t);
void pid_hash_del(struct kernel *k, struct task *t);
/* Starts the sentry thread serving t (already in the tables); it adopts
 * t->th and runs. */
int task_start(struct task *t);
/* The sentry thread's entry: runs the task until it exits. */
void task_run_loop(struct task *t);
/* The calling sentry thread's task is gone: back to the pool of idle
 * sentry threads (or the thread ends). Never returns. */
__attribute__((noreturn)) void task_thread_done(void);

/* --- clone.c ------------------------------------------------------------- */
struct clone_args_k {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
		stack_size, tls;
};
long task_clone(struct task *t, const struct clone_args_k *ca);

/* The vfork parent of t (if any) may go on; k->lock held. */
void vfork_release_locked(struct task *t);

/* --- pidfd.c ---------------------------------------------------------------- */
/* The pid a pidfd refers to (a thread pidfd's: its tid, and *thread
 * set), or -EBADF/-ESRCH. thread may be NULL. */
int pidfd_to_pid(struct task *t, int fd, bool *thread);

/* --- exit.c -------------------------------------------------------------- */
/* Ends the calling task's thread (never returns to the workload). */
void task_exit(struct task *t, int code);
/* Makes the whole group exit with wait(2) status `status`; k->lock held. */
void group_exit_locked(struct thread_group *tg, int status);
/* Releases what a thread group still holds after it was reaped. */
void tg_free(struct thread_group *tg);
long do_wait4(struct task *t, int pid, uint64_t status_addr, int options,
	      uint64_t rusage_addr);
long do_waitid(struct task *t, int which, int id, uint64_t info_addr,
	       int options, uint64_t rusage_addr);
/* The group's CPU time so far (live and exited threads), in ns. */
void tg_cputime(struct thread_group *tg, uint64_t *utime, uint64_t *stime);
void task_cputime(struct task *t, uint64_t *utime, uint64_t *stime);
/* The CPU time of t's own process, measured as getrusage does (exactly;
 * the clock of another process is sampled at ticks). t's own thread. */
int task_own_cputime(struct task *t, uint64_t *utime, uint64_t *stime);
void mm_cputime(struct kernel *k, struct mm *mm, uint64_t *utime,
		uint64_t *stime);
/* t's stub is about to go: its CPU time and peak memory join t's
 * process's record. t's own thread; not under k->lock. */
void tg_account_stub(struct task *t);
/* a += b */
void ru_counts_add(struct ru_counts *a, const struct ru_counts *b);
/* The counters of a host rusage. */
struct ru_counts ru_counts_of(const struct rusage *ru);
/* ru's counters += c */
void ru_counts_into(struct rusage *ru, const struct ru_counts *c);
/* Asks the stub ahead, where the platform can (thread_rusage_ask): its
 * answer is ready when tg_account_stub comes. */
void tg_account_stub_begin(struct task *t);
void task_affinity_apply(struct task *t, struct plat_thread *th);

/* --- signal.c ------------------------------------------------------------ */
/* Sends sig to one thread (group false) or to its process; k->lock held.
 * info may be NULL (SI_KERNEL). Returns 0 or -errno. */
int send_signal_locked(struct task *t, int sig, const struct ksiginfo *info,
		       bool group);
/* A synchronous fault: unblocks and resets sig if the workload blocks or
 * ignores it, so it cannot be dodged. */
void force_signal(struct task *t, int sig, const struct ksiginfo *info);
/* As force_signal, but a handler is not run either: sig's default action
 * (seccomp's kill actions). */
void force_signal_default(struct task *t, int sig, const struct ksiginfo *info);
/* Takes the next pending signal of t not in mask (thread's, then the
 * process's); 0 if none. k->lock held. */
int dequeue_signal_locked(struct task *t, uint64_t mask, struct ksiginfo *info);
/* Drops every pending instance of sig in tg and its threads. */
void tg_discard_signal_locked(struct thread_group *tg, int sig);
/* Recomputes t->sigpending_hint; k->lock held. Wakes t if set. */
void recalc_sigpending_locked(struct task *t);
/* Delivers pending signals before t returns to workload code (frames,
 * default actions, stops). Called by t's own sentry thread. */
void task_do_signals(struct task *t);
/* Wakes t and, if it runs workload code, interrupts it; k->lock held. */
void task_kick(struct task *t);
/* Changes t's mask (SIGKILL/SIGSTOP never blocked); k->lock held. */
void set_sigmask_locked(struct task *t, uint64_t mask);
long sys_rt_sigreturn_impl(struct task *t);
/* Who may send sig to whom (kill(2) permission). */
bool may_signal(const struct task *from, const struct task *to, int sig);
struct sighand *sighand_new(void);
struct sighand *sighand_copy(const struct sighand *sh);
void sighand_put(struct sighand *sh);
void sigpending_flush(struct sigpending *p);
/* exec: handled signals go back to their default action. */
void sighand_exec_reset(struct sighand *sh);

/* --- exec.c --------------------------------------------------------------- */
long task_execve(struct task *t, const char *path, uint64_t argv,
		 uint64_t envp, int flags, int dirfd);
/* The first program, into the init task's empty address space. */
int exec_boot(struct task *t, const char *path, char *const *argv,
	      char *const *envp);

/* Per sentry thread set-up: the alternate stack the fault handler runs on. */
void sentry_thread_setup(void);
void sentry_thread_teardown(void);
