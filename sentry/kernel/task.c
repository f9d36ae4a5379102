/* Tasks: one per workload thread, each served by its own sentry thread,
 * which is also the only one allowed to drive the task's stub thread
 * (ptrace's rule, kept by every platform). The loop: deliver signals, run
 * the stub until it traps, serve the trap, repeat until the task exits.
 * Also here: the pid table and the sandbox's boot (kernel_run). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../syscalls/table.h"
#include "../loader/load.h"
#include "../mm/mm.h"
#include "fdtable.h"
#include "kernel.h"
#include "../sentry.h"
#include "../vfs/vfs.h"

/* Linux x86-64 user segment selectors (__USER_CS, __USER_DS). */
#define USER_CS 0x33
#define USER_DS 0x2b
#define PID_HASH 4096
#define PID_MAX SENTRY_PID_MAX

static __thread struct task *current;

struct task *task_current(void)
{
	return current;
}

/* Small copies to and from memory the sentry knows is mapped with the
 * access needed (copy_may_map) go the platform's cheaper way: on systrap
 * a read or write of the stub's /proc/PID/mem, 1.3-1.5 us here against
 * 1.9-2.0 for process_vm_readv, which looks the process up and checks
 * ptrace access on every call: rt_sigaction's get went from 2.5 to
 * 1.75 us, the stat micro-benchmark to 0.830 of its time. */
static bool copy_may_map(struct task *t, uint64_t addr, size_t n, bool write,
			 bool has_mapped)
{
	/* Held-back mappings there are carried out first, whichever way. */
	mm_flush(t, addr, addr + n);
	return has_mapped && n <= PLAT_MAPPED_COPY_MAX &&
	       mm_range_mapped(t->mm, addr, addr + n, write);
}

/* Copies out held for the stub thread (task_copy_out) are made before any
 * other access to the task's memory, so that accesses keep their order. */
void task_out_flush(struct task *t)
{
	if (t->out_held) {
		t->out_held = false;
		if (t->th)
			t->k->plat->copy_out_flush(t->th);
	}
}

int task_copy_in(struct task *t, void *dst, uint64_t src, size_t n)
{
	if (src + n < src || src + n > MM_TASK_SIZE)
		return -EFAULT;
	const struct platform_ops *p = t->k->plat;
	/* Read ahead by the stub thread, where the sentry would read too
	 * (not execute-only memory, which the usual way refuses); the walk of
	 * the mappings only for a copy the read-ahead covers. */
	if (t->in_ahead && n && p->copy_in_ahead(t->th, dst, src, n) &&
	    mm_range_mapped(t->mm, src, src + n, false))
		return 0;
	task_out_flush(t);
	if (copy_may_map(t, src, n, false, p->copy_in_mapped) &&
	    p->copy_in_mapped(t->mm->as, dst, src, n) == 0)
		return 0;
	int err = p->copy_in(t->mm->as, dst, src, n);
	/* Execute-only memory, which the workload reads (x86 without
	 * protection keys) and another process may not. */
	if (err == -EFAULT)
		err = mm_copy_in_exec(t, dst, src, n);
	return err;
}

int task_copy_out(struct task *t, uint64_t dst, const void *src, size_t n)
{
	if (dst + n < dst || dst + n > MM_TASK_SIZE)
		return -EFAULT;
	/* The stub's own pages are never the workload's to write through us. */
	if (n && mm_range_reserved(dst, dst + n))
		return -EFAULT;
	const struct platform_ops *p = t->k->plat;
	t->in_ahead = false; /* what was read ahead may be stale from here */
	/* A small result of the call being served: the stub thread writes
	 * it as it resumes (see out_defer_ok), instead of a host call now. */
	if (t->out_defer && n && n <= PLAT_DEFER_OUT_MAX &&
	    mm_range_anon_writable(t->mm, dst, dst + n) &&
	    p->copy_out_defer(t->th, dst, src, n)) {
		t->out_held = true;
		return 0;
	}
	task_out_flush(t);
	if (copy_may_map(t, dst, n, true, p->copy_out_mapped) &&
	    p->copy_out_mapped(t->mm->as, dst, src, n) == 0)
		return 0;
	return p->copy_out(t->mm->as, dst, src, n);
}

#define STRING_FIRST 256

int task_copy_in_string(struct task *t, char *dst, uint64_t src, size_t max)
{
	size_t got = 0;

	/* Read page by page: a string may end just before an unmapped page.
	 * The first read takes 256 bytes at most, which hold most paths:
	 * a copy's cost grows with its length (/proc/PID/mem goes through
	 * a bounce page), and the rest of a page averages 2 KiB. */
	while (got < max) {
		uint64_t addr = src + got;
		size_t n = MM_PAGE - (addr & (MM_PAGE - 1));
		if (got == 0 && n > STRING_FIRST)
			n = STRING_FIRST;
		if (n > max - got)
			n = max - got;
		int err = task_copy_in(t, dst + got, addr, n);
		if (err < 0)
			return err;
		char *nul = memchr(dst + got, '\0', n);
		if (nul)
			return (int)(nul - dst);
		got += n;
	}
	dst[max - 1] = '\0';
	return -ENAMETOOLONG;
}

long task_host_syscall(struct task *t, long nr, uint64_t a0, uint64_t a1,
		       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	uint64_t args[6] = { a0, a1, a2, a3, a4, a5 };
	long ret;
	int err = t->k->plat->thread_syscall(t->th, nr, args, &ret);
	return err < 0 ? err : ret;
}

bool task_signal_pending(struct task *t)
{
	return atomic_load(&t->sigpending_hint);
}

uint64_t task_rlimit_cur(struct task *t, int res)
{
	return t->tg->rlim[res].rlim_cur;
}

/* --- the pid table -------------------------------------------------------- */

struct task *task_lookup(struct kernel *k, int tid)
{
	if (tid <= 0)
		return NULL;
	for (struct task *t = k->pid_hash[tid % PID_HASH]; t; t = t->pid_next)
		if (t->tid == tid)
			return t;
	return NULL;
}

struct thread_group *tg_lookup(struct kernel *k, int tgid)
{
	struct task *t = task_lookup(k, tgid);
	return t && t->tg->tgid == tgid ? t->tg : NULL;
}

/* A pid is taken while a task, a thread group (a zombie's leader keeps its
 * tid), a process group or a session still names it. */
static bool pid_in_use(struct kernel *k, int pid)
{
	if (task_lookup(k, pid))
		return true;
	list_for_each(pos, &k->groups) {
		struct thread_group *g = list_entry(pos, struct thread_group, link);
		if (g->tgid == pid || g->pgid == pid || g->sid == pid)
			return true;
	}
	return false;
}

int pid_alloc(struct kernel *k)
{
	for (int tries = 0; tries < PID_MAX; tries++) {
		int pid = k->last_pid + 1;
		if (pid >= PID_MAX)
			pid = 300; /* Linux restarts above the kernel threads */
		k->last_pid = pid;
		if (!pid_in_use(k, pid))
			return pid;
	}
	return -EAGAIN;
}

void pid_hash_add(struct kernel *k, struct task *t)
{
	struct task **b = &k->pid_hash[t->tid % PID_HASH];
	t->pid_next = *b;
	*b = t;
}

void pid_hash_del(struct kernel *k, struct task *t)
{
	for (struct task **p = &k->pid_hash[t->tid % PID_HASH]; *p;
	     p = &(*p)->pid_next)
		if (*p == t) {
			*p = t->pid_next;
			return;
		}
}

/* --- the run loop ---------------------------------------------------------- */

static void task_serve_fault(struct task *t, const struct plat_trap *trap)
{
	struct ksiginfo info;

	/* The host has nothing there yet: the mapping was held back. */
	if (trap->signo == SIGSEGV &&
	    mm_flush_fault(t, trap->fault_addr, t->mm_flushes))
		return;
	memset(&info, 0, sizeof(info));
	info.signo = trap->signo;
	info.code = trap->si_code;
	info.fault.addr = trap->fault_addr;
	t->fault_err = trap->err;
	t->fault_trapno = trap->trapno;
	log_debug("task %d: fault: signal %d code %d addr %#lx at rip %#lx",
		  t->tid, trap->signo, trap->si_code,
		  (unsigned long)trap->fault_addr, (unsigned long)t->regs.rip);
	force_signal(t, trap->signo, &info);
}

/* Whether the system call t is about to serve may leave its small copies
 * out to the stub thread (platform_ops.copy_out_defer). Only calls whose
 * copies out are results, with nothing of theirs reading or mapping memory
 * after (a readv into overlapping buffers could have its later buffer
 * written by the stub's direct pread before an earlier one's held copy:
 * not here; a read has one buffer, filled one way or the other), and
 * only while no other thread can reach the memory before t resumes: t
 * alone in its mm, or a vfork child whose parent, alone in its process,
 * waits for it (posix_spawn's child resets every signal's action: some
 * 120 rt_sigaction calls). */
static bool out_defer_ok(struct task *t)
{
	if (!t->k->plat->copy_out_defer)
		return false;
	switch (t->regs.orig_rax) {
	case ABI_NR_rt_sigaction: case ABI_NR_rt_sigprocmask: case ABI_NR_rt_sigpending:
	case ABI_NR_sigaltstack: case ABI_NR_fstat: case ABI_NR_newfstatat:
	case ABI_NR_stat: case ABI_NR_lstat: case ABI_NR_statx: case ABI_NR_uname:
	case ABI_NR_wait4: case ABI_NR_waitid: case ABI_NR_pipe: case ABI_NR_pipe2:
	case ABI_NR_prlimit64: case ABI_NR_getrlimit: case ABI_NR_getrusage:
	case ABI_NR_sysinfo: case ABI_NR_times: case ABI_NR_getcwd: case ABI_NR_readlink:
	case ABI_NR_readlinkat: case ABI_NR_ioctl: case ABI_NR_gettimeofday:
	case ABI_NR_clock_gettime: case ABI_NR_clock_getres:
	case ABI_NR_sched_getaffinity: case ABI_NR_getresuid: case ABI_NR_getresgid:
	case ABI_NR_getgroups: case ABI_NR_poll: case ABI_NR_ppoll:
	case ABI_NR_select: case ABI_NR_pselect6: case ABI_NR_epoll_wait:
	case ABI_NR_epoll_pwait: case ABI_NR_getdents64: case ABI_NR_statfs:
	case ABI_NR_fstatfs: case ABI_NR_getrandom: case ABI_NR_nanosleep:
	case ABI_NR_clock_nanosleep: case ABI_NR_getitimer:
	case ABI_NR_timer_gettime: case ABI_NR_timerfd_gettime:
	case ABI_NR_capget: case ABI_NR_fcntl: case ABI_NR_rt_sigtimedwait:
	case ABI_NR_read: case ABI_NR_pread64:
		break;
	default:
		return false;
	}
	/* Only t adds threads to its process, and only tasks of the mm's
	 * processes add users: neither grows while t serves this call. */
	int users = atomic_load(&t->mm->users);
	if (t->tg->nr_threads != 1 || users > 2)
		return false;
	if (users == 1)
		return true;
	/* A dying vfork parent clears vfork_parent under the lock. */
	pthread_mutex_lock(&t->k->lock);
	struct task *p = t->vfork_parent;
	bool ok = p && p->mm == t->mm && p->tg->nr_threads == 1 &&
		  !p->tg->group_exit;
	pthread_mutex_unlock(&t->k->lock);
	return ok;
}

void task_run_loop(struct task *t)
{
	const struct platform_ops *plat = t->k->plat;
	struct plat_trap trap;
	bool compat_reported = false;

	for (;;) {
		task_do_signals(t);
		/* Dekker with the signal senders (task_kick): say we are going
		 * to run, then look once more, so a signal sent in between is
		 * either seen here or interrupts the run. */
		atomic_store(&t->in_user, true);
		if (task_signal_pending(t)) {
			atomic_store(&t->in_user, false);
			continue;
		}
		t->mm_flushes = t->mm ? mm_flush_count(t->mm) : 0;
		t->out_held = false; /* run hands them to the stub thread */
		int err = plat->run(t->th, &t->regs, t->regs_dirty, &trap);
		atomic_store(&t->in_user, false);
		t->regs_dirty = false;
		t->in_syscall = false;
		if (err < 0) {
			log_error("platform: run failed: %s", strerror(-err));
			trap.kind = PLAT_TRAP_DEAD;
		}
		switch (trap.kind) {
		case PLAT_TRAP_SYSCALL:
			t->in_syscall = true;
			mm_note_syscall(t);
			t->out_defer = out_defer_ok(t);
			t->in_ahead = plat->copy_in_ahead != NULL;
			syscall_dispatch(t);
			t->out_defer = false;
			t->in_ahead = false;
			break;
		case PLAT_TRAP_SYSCALL_COMPAT:
			/* 32-bit system calls are not part of the sandbox. */
			if (!compat_reported)
				log_warn("32-bit system call %lu refused with ENOSYS",
					 (unsigned long)t->regs.orig_rax);
			compat_reported = true;
			t->regs.rax = (uint64_t)-ENOSYS;
			t->regs_dirty = true;
			break;
		case PLAT_TRAP_FAULT:
			task_serve_fault(t, &trap);
			break;
		case PLAT_TRAP_SIGNAL:
			/* A host signal aimed at the stub from outside: the
			 * workload only ever sees the sandbox's signals. */
			log_debug("ignoring host signal %d to the stub", trap.signo);
			break;
		case PLAT_TRAP_INTERRUPT:
			break; /* task_do_signals has work */
		case PLAT_TRAP_DEAD: {
			/* The stub is gone (killed from outside, or by its
			 * seccomp filter after tampering): the whole process
			 * goes with it. */
			log_warn("task %d: the workload's stub process died",
				 t->tid);
			pthread_mutex_lock(&t->k->lock);
			group_exit_locked(t->tg, SIGKILL);
			pthread_mutex_unlock(&t->k->lock);
			task_exit(t, 0);
			return;
		}
		}
	}
}

/* A task's affinity on a new stub thread th (its start, exec): its own
 * mask if it set one (sched_setaffinity; kept across fork and exec), for
 * the stub thread and this serving thread; else CPU pairing may pin them
 * (platform_ops.thread_pairing). */
void task_affinity_apply(struct task *t, struct plat_thread *th)
{
	const struct platform_ops *plat = t->k->plat;
	cpu_set_t want;

	/* Under the task lock, as sched_setaffinity, so a mask set meanwhile
	 * by another task is never undone here. */
	pthread_mutex_lock(&t->k->lock);
	bool own = t->cpus_set;
	memcpy(&want, t->cpus, sizeof(want));
	if (plat->thread_pairing)
		plat->thread_pairing(th, !own);
	if (own) {
		sched_setaffinity(plat->thread_host_tid(th), sizeof(want), &want);
		pthread_setaffinity_np(pthread_self(), sizeof(want), &want);
	}
	pthread_mutex_unlock(&t->k->lock);
}

static void task_thread_main(struct task *t)
{
	current = t;
	int err = t->k->plat->thread_adopt(t->th);
	if (err < 0) {
		log_error("task %d: cannot adopt its stub thread: %s", t->tid,
			  strerror(-err));
		pthread_mutex_lock(&t->k->lock);
		group_exit_locked(t->tg, SIGKILL);
		pthread_mutex_unlock(&t->k->lock);
		task_exit(t, 0);
	}
	task_affinity_apply(t, t->th);
	log_debug("task %d: stub host pid %d", t->tid,
		  (int)t->k->plat->thread_host_tid(t->th));
	if (t->boot) {
		const struct sentry_config *cfg = t->k->cfg;
		err = exec_boot(t, cfg->exec_path, cfg->argv, cfg->envp);
		t->boot = false;
		if (err < 0) {
			log_error("cannot run %s: %s", cfg->exec_path,
				  strerror(-err));
			pthread_mutex_lock(&t->k->lock);
			t->k->boot_err = err;
			group_exit_locked(t->tg, SIGKILL);
			pthread_mutex_unlock(&t->k->lock);
			task_exit(t, 0);
		}
	}
	task_run_loop(t);
}

/* --- sentry threads ---------------------------------------------------------
 * A task's sentry thread, once the task has exited, waits in a pool for
 * the next task: creating a thread (and its stack) costs more than a fork
 * of a small process does natively. task_exit jumps back here. */

#define POOL_MAX 32

struct worker {
	pthread_t thr;
	struct task *t; /* the task to serve next */
	struct kernel *k;
	pthread_cond_t cond;
	jmp_buf jb;
	struct worker *next;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct worker *pool;
static int pool_n;
static __thread struct worker *self;

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	cpu_set_t cpus;

	self = w;
	/* Made by a task's thread, maybe pinned by CPU pairing. */
	memcpy(&cpus, w->k->cpus, sizeof(cpus));
	pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	sentry_thread_setup();
	/* task_start writes t->thread under pool_lock after pthread_create:
	 * wait for it, or a task that exits at once would be freed first. */
	pthread_mutex_lock(&pool_lock);
	pthread_mutex_unlock(&pool_lock);
	for (;;) {
		if (setjmp(w->jb) == 0)
			task_thread_main(w->t); /* ends in task_thread_done */
		current = NULL;
		/* Pinning (CPU pairing, sched_setaffinity) was the task's. */
		memcpy(&cpus, w->k->cpus, sizeof(cpus));
		pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
		pthread_mutex_lock(&pool_lock);
		if (pool_n >= POOL_MAX) {
			pthread_mutex_unlock(&pool_lock);
			break;
		}
		w->t = NULL;
		w->next = pool;
		pool = w;
		pool_n++;
		while (!w->t)
			pthread_cond_wait(&w->cond, &pool_lock);
		pthread_mutex_unlock(&pool_lock);
	}
	sentry_thread_teardown();
	pthread_cond_destroy(&w->cond);
	free(w);
	return NULL;
}

void task_thread_done(void)
{
	longjmp(self->jb, 1);
}

int task_start(struct task *t)
{
	pthread_mutex_lock(&pool_lock);
	struct worker *w = pool;
	if (w) {
		pool = w->next;
		pool_n--;
		w->t = t;
		w->k = t->k;
		t->thread = w->thr;
		t->thread_started = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&pool_lock);
		return 0;
	}
	pthread_mutex_unlock(&pool_lock);

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_cond_init(&w->cond, NULL);
	w->t = t;
	w->k = t->k;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Handlers run on this stack: keep it modest, many tasks may live. */
	pthread_attr_setstacksize(&attr, 512 * 1024);
	/* t->thread is set before the new thread can look at it. */
	pthread_mutex_lock(&pool_lock);
	int err = pthread_create(&w->thr, &attr, worker_main, w);
	if (!err) {
		t->thread = w->thr;
		t->thread_started = true;
	}
	pthread_mutex_unlock(&pool_lock);
	pthread_attr_destroy(&attr);
	if (err) {
		pthread_cond_destroy(&w->cond);
		free(w);
		return -err;
	}
	return 0;
}

/* --- boot -------------------------------------------------------------------- */

static int init_task(struct kernel *k, struct task **out)
{
	const struct sentry_config *cfg = k->cfg;
	struct task *t = calloc(1, sizeof(*t));
	struct thread_group *tg = calloc(1, sizeof(*tg));
	struct plat_as *as = NULL;
	struct plat_thread *th = NULL;
	int err;

	if (!t || !tg) {
		free(t);
		free(tg);
		return -ENOMEM;
	}
	err = plat_as_take(k->plat, &as, &th);
	if (err < 0) {
		free(t);
		free(tg);
		return err;
	}
	t->k = k;
	t->tg = tg;
	t->th = th;
	t->mm = mm_new(as);
	t->fdt = fdtable_new();
	tg->sighand = sighand_new();
	if (!t->mm || !t->fdt || !tg->sighand) {
		k->plat->thread_release(th);
		if (t->mm)
			mm_put(k->plat, t->mm);
		else
			k->plat->as_destroy(as);
		fdtable_put(t->fdt);
		sighand_put(tg->sighand);
		free(t);
		free(tg);
		return -ENOMEM;
	}
	for (int i = 0; i < 3; i++) {
		struct file *f = hostfd_file_new(cfg->stdio[i]);
		if (!f)
			continue; /* that stream was closed when runsc started */
		fd_install(t->fdt, f, i, false);
		file_put(f);
	}

	tg->k = k;
	list_init(&tg->threads);
	list_init(&tg->children);
	list_init(&tg->sibling);
	waitq_init(&tg->child_wait);
	waitq_init(&tg->stop_wait);
	memcpy(tg->rlim, k->rlim, sizeof(tg->rlim));
	tg->exit_signal = SIGCHLD;
	tg->start_ns = t->start_ns = monotonic_ns();

	/* The first process of the sandbox's pid namespace. */
	t->tid = tg->tgid = tg->pgid = tg->sid = 1;
	k->last_pid = 1;
	tg->leader = t;
	tg->nr_threads = 1;
	list_add_tail(&tg->threads, &t->tg_link);
	list_add_tail(&k->groups, &tg->link);
	list_add_tail(&k->tasks, &t->link);
	pid_hash_add(k, t);
	k->init = tg;

	uint64_t caps = cfg->uid == 0 ? 0x1ffffffffffULL : 0;
	t->cred = (struct creds){ cfg->uid, cfg->uid, cfg->uid, cfg->uid,
				  cfg->gid, cfg->gid, cfg->gid, cfg->gid };
	t->cred.cap_permitted = t->cred.cap_effective = caps;
	t->cred.cap_bounding = 0x1ffffffffffULL;
	tg->image_creds = cred_mark_of(&t->cred);
	const char *base = strrchr(cfg->exec_path, '/');
	snprintf(t->comm, sizeof(t->comm), "%s", base ? base + 1 : cfg->exec_path);
	tg->exe_path = strdup(cfg->exec_path);
	t->regs.cs = USER_CS;
	t->regs.ss = USER_DS;
	*out = t;
	return 0;
}

int kernel_run(struct kernel *k)
{
	struct task *t;
	int err;

	err = init_task(k, &t);
	if (err < 0) {
		log_error("cannot create the first process: %s", strerror(-err));
		return err;
	}
	err = vfs_boot(k, t);
	if (err < 0) {
		log_error("cannot set up the file tree: %s", strerror(-err));
		return err;
	}
	/* The tree is set up: no host path from here on. */
	err = sentry_confine_paths();
	if (err < 0) {
		log_error("cannot install the sentry's path filter: %s",
			  strerror(-err));
		return err;
	}
	/* The task's own sentry thread loads the program: only the thread
	 * that adopted a stub thread may drive it. */
	t->boot = true;
	pthread_mutex_lock(&k->lock);
	k->nr_tasks = 1;
	err = task_start(t);
	if (err < 0) {
		pthread_mutex_unlock(&k->lock);
		log_error("cannot start the first task: %s", strerror(-err));
		return err;
	}
	while (k->nr_tasks > 0)
		pthread_cond_wait(&k->tasks_gone, &k->lock);
	int status = k->boot_err < 0 ? k->boot_err : k->init_status;
	pthread_mutex_unlock(&k->lock);
	return status;
}
