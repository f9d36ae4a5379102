/* The ptrace platform.
 *
 * Each stub is a host process forked from the sentry that keeps only a page
 * of stub code and the vDSO (platform/stubproc.c). The serving sentry thread
 * traces the stub with PTRACE_SYSEMU: every system call the workload makes
 * stops at entry and is never executed by the host kernel (seccomp is not
 * even consulted), so the workload has no host system call at all.
 * SYSEMU and seccomp RET_TRACE were measured equal (16.4 us per trapped call
 * on one CPU here); SYSEMU needs no filter to be right.
 *
 * Host system calls the sentry wants run inside the stub (mmap and friends)
 * are injected: point rip at the stub's `syscall; int3`, PTRACE_CONT, catch
 * the SIGTRAP of the int3, read rax, restore the workload's registers. */
#define _GNU_SOURCE
#include "../platform.h"

#include <errno.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../stubproc.h"

#define STUB_SIZE 4096

struct plat_as {
	pid_t pid;
	bool dead;
	struct plat_thread *main;
};

struct plat_thread {
	struct plat_as *as;
	pid_t tid;
	/* The workload's registers in the kernel are not what the sentry holds
	 * (an injected syscall changed them): write them back before running. */
	bool clobbered;
	struct user_regs_struct last; /* registers at the last stop */
};

static uint64_t stub_code; /* address of `syscall; int3` in every stub */
static struct plat_range reserved[2];

static int ptrace_init(void)
{
	static const unsigned char code[] = {
		0x0f, 0x05, /* syscall */
		0xcc, /* int3 */
	};
	uint64_t vlo, vhi;
	int n = 0, err;

	void *p = mmap(NULL, STUB_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	memset(p, 0xcc, STUB_SIZE);
	memcpy(p, code, sizeof(code));
	if (mprotect(p, STUB_SIZE, PROT_READ | PROT_EXEC) < 0)
		return -errno;
	stub_code = (uint64_t)p;
	reserved[n++] = (struct plat_range){ stub_code, stub_code + STUB_SIZE,
					     "[stub]" };
	err = stubproc_vdso_span(&vlo, &vhi);
	if (err < 0)
		return err;
	if (vlo) {
		reserved[n++] = (struct plat_range){ vlo, vhi, "[vdso]" };
		plat_set_vdso_base(getauxval(AT_SYSINFO_EHDR));
	}
	plat_set_reserved(reserved, n);
	return 0;
}

static int ptrace_thread_syscall(struct plat_thread *th, long nr,
				 const uint64_t args[6], long *ret)
{
	th->clobbered = true;
	int err = stubproc_inject(th->tid, &th->last, stub_code, nr, args, ret);
	if (err == -ESRCH)
		th->as->dead = true;
	return err;
}

static void ptrace_as_destroy(struct plat_as *as)
{
	int status;

	if (!as)
		return;
	kill(as->pid, SIGKILL);
	stubproc_wait(as->pid, &status);
	free(as->main);
	free(as);
}

static int ptrace_as_create(struct plat_as **asp, struct plat_thread **thp)
{
	const struct plat_range *keep;
	struct plat_as *as;
	struct plat_thread *th;
	int err;

	as = calloc(1, sizeof(*as));
	th = calloc(1, sizeof(*th));
	if (!as || !th) {
		free(as);
		free(th);
		return -ENOMEM;
	}
	as->main = th;
	th->as = as;
	err = stubproc_spawn(&as->pid, &th->last);
	if (err < 0) {
		free(as);
		free(th);
		return err;
	}
	th->tid = as->pid;
	int n = plat_reserved(&keep);
	err = stubproc_unmap_except(th->tid, &th->last, stub_code, keep, n);
	if (!err)
		err = stubproc_reset_fpu(th->tid);
	if (err < 0) {
		ptrace_as_destroy(as);
		return err;
	}
	th->clobbered = true;
	plat_pair_cpu(as->pid);
	*asp = as;
	*thp = th;
	return 0;
}

static int ptrace_run(struct plat_thread *th, struct plat_regs *regs,
		      bool dirty, struct plat_trap *trap)
{
	int status, err, sig;

	memset(trap, 0, sizeof(*trap));
	if (th->as->dead) {
		trap->kind = PLAT_TRAP_DEAD;
		return 0;
	}
	if (dirty || th->clobbered) {
		_Static_assert(sizeof(*regs) == sizeof(th->last), "register layout");
		memcpy(&th->last, regs, sizeof(th->last));
		if (ptrace(PTRACE_SETREGS, th->tid, 0, &th->last) < 0)
			return -errno;
		th->clobbered = false;
	}
	for (;;) {
		if (ptrace(PTRACE_SYSEMU, th->tid, 0, 0) < 0)
			return -errno;
		err = stubproc_wait(th->tid, &status);
		if (err < 0)
			return err;
		if (!WIFSTOPPED(status)) {
			th->as->dead = true;
			trap->kind = PLAT_TRAP_DEAD;
			return 0;
		}
		sig = WSTOPSIG(status);
		if (ptrace(PTRACE_GETREGS, th->tid, 0, &th->last) < 0)
			return -errno;
		memcpy(regs, &th->last, sizeof(*regs));
		if (sig == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info info;
			long n = ptrace(PTRACE_GET_SYSCALL_INFO, th->tid,
					sizeof(info), &info);
			trap->kind = PLAT_TRAP_SYSCALL;
			/* int 0x80 and sysenter stop here too, with 32-bit
			 * numbers that must not be read as 64-bit ones. */
			if (n > 0 && info.arch != AUDIT_ARCH_X86_64)
				trap->kind = PLAT_TRAP_SYSCALL_COMPAT;
			return 0;
		}
		if (status >> 16) /* a ptrace event we did not ask for */
			continue;
		switch (sig) {
		case SIGSEGV:
		case SIGBUS:
		case SIGFPE:
		case SIGILL:
		case SIGTRAP: {
			siginfo_t si;
			trap->kind = PLAT_TRAP_FAULT;
			trap->signo = sig;
			if (ptrace(PTRACE_GETSIGINFO, th->tid, 0, &si) == 0) {
				trap->si_code = si.si_code;
				trap->fault_addr = (uint64_t)si.si_addr;
			}
			return 0;
		}
		default:
			/* A host signal sent to the stub from outside: the
			 * workload never sees host signals; say so and go on. */
			trap->kind = PLAT_TRAP_SIGNAL;
			trap->signo = sig;
			return 0;
		}
	}
}

static int ptrace_copy_in(struct plat_as *as, void *dst, uint64_t src, size_t n)
{
	return stubproc_copy_in(as->pid, dst, src, n);
}

static int ptrace_copy_out(struct plat_as *as, uint64_t dst, const void *src,
			   size_t n)
{
	return stubproc_copy_out(as->pid, dst, src, n);
}

static pid_t ptrace_thread_host_tid(struct plat_thread *th)
{
	return th->tid;
}

const struct platform_ops plat_ptrace_ops = {
	.name = "ptrace",
	.init = ptrace_init,
	.as_create = ptrace_as_create,
	.as_destroy = ptrace_as_destroy,
	.run = ptrace_run,
	.thread_syscall = ptrace_thread_syscall,
	.copy_in = ptrace_copy_in,
	.copy_out = ptrace_copy_out,
	.thread_host_tid = ptrace_thread_host_tid,
};
