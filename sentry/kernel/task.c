/* Tasks: one per workload thread, each served by its own sentry thread,
 * which is also the only one allowed to drive the task's stub thread
 * (ptrace's rule, kept by every platform). The loop: run the stub until it
 * traps, serve the trap, repeat until the thread group exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../syscalls/table.h"
#include "../loader/load.h"
#include "../mm/mm.h"
#include "fdtable.h"
#include "kernel.h"

/* Linux x86-64 user segment selectors (__USER_CS, __USER_DS). */
#define USER_CS 0x33
#define USER_DS 0x2b

int task_copy_in(struct task *t, void *dst, uint64_t src, size_t n)
{
	if (src + n < src || src + n > MM_TASK_SIZE)
		return -EFAULT;
	return t->k->plat->copy_in(t->as, dst, src, n);
}

int task_copy_out(struct task *t, uint64_t dst, const void *src, size_t n)
{
	if (dst + n < dst || dst + n > MM_TASK_SIZE)
		return -EFAULT;
	/* The stub's own pages are never the workload's to write through us. */
	if (n && mm_range_reserved(dst, dst + n))
		return -EFAULT;
	return t->k->plat->copy_out(t->as, dst, src, n);
}

int task_copy_in_string(struct task *t, char *dst, uint64_t src, size_t max)
{
	size_t got = 0;

	/* Read page by page: a string may end just before an unmapped page. */
	while (got < max) {
		uint64_t addr = src + got;
		size_t n = MM_PAGE - (addr & (MM_PAGE - 1));
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
	(void)t; /* signal delivery lands with issue 4 */
	return false;
}

uint64_t task_rlimit_cur(struct task *t, int res)
{
	return t->rlim[res].rlim_cur;
}

static void task_serve_fault(struct task *t, const struct plat_trap *trap)
{
	/* Signal delivery lands with issue 4; until then a fault is fatal, as
	 * for a workload with no handler. */
	log_info("workload fault: signal %d code %d addr %#lx at rip %#lx",
		 trap->signo, trap->si_code, (unsigned long)trap->fault_addr,
		 (unsigned long)t->regs.rip);
	t->exited = true;
	t->exit_status = trap->signo;
}

static void task_loop(struct task *t)
{
	const struct platform_ops *plat = t->k->plat;
	struct plat_trap trap;
	bool compat_reported = false;

	while (!t->exited) {
		int err = plat->run(t->th, &t->regs, t->regs_dirty, &trap);
		t->regs_dirty = false;
		if (err < 0) {
			log_error("platform: run failed: %s", strerror(-err));
			t->exited = true;
			t->exit_status = SIGKILL;
			break;
		}
		switch (trap.kind) {
		case PLAT_TRAP_SYSCALL:
			syscall_dispatch(t);
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
		case PLAT_TRAP_INTERRUPT:
			/* A host signal aimed at the stub from outside: the
			 * workload only ever sees the sandbox's signals. */
			log_debug("ignoring host signal %d to the stub", trap.signo);
			break;
		case PLAT_TRAP_DEAD:
			log_warn("the workload's stub died from outside the sandbox");
			t->exited = true;
			t->exit_status = SIGKILL;
			break;
		}
	}
}

struct task_start {
	struct task *t;
	struct exec_file *exe;
	int err;
};

static void *task_main(void *arg)
{
	struct task_start *s = arg;
	struct task *t = s->t;
	const struct sentry_config *cfg = t->k->cfg;

	sentry_thread_setup();
	int err = t->k->plat->as_create(&t->as, &t->th);
	if (!err) {
		err = t->k->plat->thread_adopt(t->th);
		if (err < 0) {
			t->k->plat->thread_release(t->th);
			t->k->plat->as_destroy(t->as);
		}
	}
	if (err < 0) {
		log_error("cannot create the stub: %s", strerror(-err));
		s->err = err;
		sentry_thread_teardown();
		return NULL;
	}
	log_debug("stub host pid %d", (int)t->k->plat->thread_host_tid(t->th));
	t->regs.cs = USER_CS;
	t->regs.ss = USER_DS;
	err = loader_load(t, s->exe, cfg->argv, cfg->envp, cfg->exec_path);
	if (err < 0) {
		log_error("cannot load %s: %s", cfg->exec_path, strerror(-err));
		s->err = err;
	} else {
		task_loop(t);
	}
	t->k->plat->thread_release(t->th);
	t->k->plat->as_destroy(t->as);
	t->as = NULL;
	t->th = NULL;
	sentry_thread_teardown();
	return NULL;
}

int kernel_run(struct kernel *k)
{
	const struct sentry_config *cfg = k->cfg;
	struct exec_file exe;
	struct task *t;
	pthread_t thr;
	int err;

	err = exec_file_open(cfg->exec_path, &exe);
	if (err < 0) {
		if (err == -ENOEXEC && exe.why)
			log_error("exec %s: %s (%s)", cfg->exec_path,
				  strerror(-err), exe.why);
		else
			log_error("exec %s: %s", cfg->exec_path, strerror(-err));
		exec_file_close(&exe);
		return err;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->k = k;
	t->mm = mm_new();
	t->fdt = fdtable_new();
	if (!t->mm || !t->fdt) {
		err = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		struct file *f = hostfd_file_new(cfg->stdio[i]);
		if (!f)
			continue; /* that stream was closed when runsc started */
		fd_install(t->fdt, f, i, false);
		file_put(f);
	}
	t->tid = t->tgid = 1; /* the first process of the sandbox's pid namespace */
	t->ppid = 0;
	t->cred = (struct creds){ cfg->uid, cfg->uid, cfg->uid, cfg->uid,
				  cfg->gid, cfg->gid, cfg->gid, cfg->gid, 0, { 0 } };
	memcpy(t->rlim, k->rlim, sizeof(t->rlim));
	const char *base = strrchr(cfg->exec_path, '/');
	snprintf(t->comm, sizeof(t->comm), "%s", base ? base + 1 : cfg->exec_path);

	struct task_start s = { t, &exe, 0 };
	err = pthread_create(&thr, NULL, task_main, &s);
	if (err) {
		err = -err;
		goto out;
	}
	pthread_join(thr, NULL);
	err = s.err < 0 ? s.err : t->exit_status;
out:
	exec_file_close(&exe);
	fdtable_free(t->fdt);
	mm_free(t->mm);
	free(t);
	return err;
}
