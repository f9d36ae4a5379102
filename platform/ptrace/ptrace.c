/* The ptrace platform.
 *
 * Each stub is a host process forked from the sentry that keeps only a page
 * of stub code and the vDSO; every other mapping of the sentry is unmapped
 * before the workload gets it. The serving sentry thread traces the stub with
 * PTRACE_SYSEMU: every system call the workload makes stops at entry and is
 * never executed by the host kernel (seccomp is not even consulted), so the
 * workload has no host system call at all. Chosen over seccomp RET_TRACE
 * because it needs no filter to be right and costs one stop per call, the
 * same as RET_TRACE.
 *
 * Host system calls the sentry wants run inside the stub (mmap and friends)
 * are injected: point rip at the stub's `syscall; int3`, PTRACE_CONT, catch
 * the SIGTRAP of the int3, read rax, restore the workload's registers. */
#define _GNU_SOURCE
#include "../platform.h"

#include <errno.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <elf.h>
#include <unistd.h>

#include "../../lib/log.h"

/* Highest user address + 1 on x86-64 with 4-level paging. */
#define TASK_SIZE_MAX 0x7ffffffff000ULL
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

static int read_vdso_span(uint64_t *lo, uint64_t *hi)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];

	*lo = *hi = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		/* [vvar], [vvar_vclock] and [vdso] sit next to each other. */
		if (strstr(line, "[vdso]") || strstr(line, "[vvar")) {
			if (!*lo || s < *lo)
				*lo = s;
			if (e > *hi)
				*hi = e;
		}
	}
	fclose(f);
	return 0;
}

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
	err = read_vdso_span(&vlo, &vhi);
	if (err < 0)
		return err;
	if (vlo) {
		reserved[n++] = (struct plat_range){ vlo, vhi, "[vdso]" };
		plat_set_vdso_base(getauxval(AT_SYSINFO_EHDR));
	}
	plat_set_reserved(reserved, n);
	return 0;
}

static int wait_stop(pid_t tid, int *status)
{
	for (;;) {
		pid_t r = waitpid(tid, status, __WALL);
		if (r == tid)
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -errno : -ECHILD;
	}
}

static int ptrace_thread_syscall(struct plat_thread *th, long nr,
				 const uint64_t args[6], long *ret)
{
	struct user_regs_struct r = th->last;
	int status, err;

	r.rax = (uint64_t)nr;
	r.orig_rax = (uint64_t)-1; /* no syscall-restart logic on resume */
	r.rdi = args[0];
	r.rsi = args[1];
	r.rdx = args[2];
	r.r10 = args[3];
	r.r8 = args[4];
	r.r9 = args[5];
	r.rip = stub_code;
	if (ptrace(PTRACE_SETREGS, th->tid, 0, &r) < 0)
		return -errno;
	th->clobbered = true;
	if (ptrace(PTRACE_CONT, th->tid, 0, 0) < 0)
		return -errno;
	err = wait_stop(th->tid, &status);
	if (err < 0)
		return err;
	if (!WIFSTOPPED(status)) {
		th->as->dead = true;
		return -ESRCH;
	}
	if (WSTOPSIG(status) != SIGTRAP) {
		/* Only SIGKILL or tampering from outside gets here. */
		log_warn("stub %d: signal %d during injected syscall %ld",
			 th->tid, WSTOPSIG(status), nr);
		return -EIO;
	}
	if (ptrace(PTRACE_GETREGS, th->tid, 0, &r) < 0)
		return -errno;
	if (r.rip != stub_code + 3)
		return -EIO;
	*ret = (long)r.rax;
	return 0;
}

static void ptrace_as_destroy(struct plat_as *as)
{
	int status;

	if (!as)
		return;
	kill(as->pid, SIGKILL);
	while (waitpid(as->pid, &status, __WALL) < 0 && errno == EINTR)
		;
	free(as->main);
	free(as);
}

/* Unmaps everything of the sentry the fork left in the stub, keeping only
 * the reserved ranges (stub code, vDSO). */
static int clean_address_space(struct plat_thread *th)
{
	const struct plat_range *res;
	int n = plat_reserved(&res);
	uint64_t cur = 0;

	/* reserved[] is tiny; visit it in address order. */
	for (;;) {
		const struct plat_range *next = NULL;
		for (int i = 0; i < n; i++)
			if (res[i].start >= cur &&
			    (!next || res[i].start < next->start))
				next = &res[i];
		uint64_t end = next ? next->start : TASK_SIZE_MAX;
		if (end > cur) {
			uint64_t args[6] = { cur, end - cur };
			long ret;
			int err = ptrace_thread_syscall(th, SYS_munmap, args,
							&ret);
			if (err < 0)
				return err;
			if (ret < 0)
				return (int)ret;
		}
		if (!next)
			return 0;
		cur = next->end;
	}
}

/* A fork copies the sentry's x87/SSE/AVX registers: give the workload the
 * initial state exec gives on Linux instead (all XSAVE components in their
 * init state, FCW 0x37f, MXCSR 0x1f80), so no sentry data leaks through them. */
static int reset_fpu(pid_t pid)
{
	unsigned char buf[16384] __attribute__((aligned(64)));
	struct iovec iov = { buf, sizeof(buf) };

	if (ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov) == 0 &&
	    iov.iov_len >= 576) {
		memset(buf, 0, iov.iov_len);
		buf[0] = 0x7f; /* FCW = 0x037f */
		buf[1] = 0x03;
		buf[24] = 0x80; /* MXCSR = 0x1f80 */
		buf[25] = 0x1f;
		/* XSTATE_BV (offset 512) = 0: every component in init state. */
		if (ptrace(PTRACE_SETREGSET, pid, NT_X86_XSTATE, &iov) == 0)
			return 0;
	}
	struct user_fpregs_struct fp;
	memset(&fp, 0, sizeof(fp));
	fp.cwd = 0x37f;
	fp.mxcsr = 0x1f80;
	if (ptrace(PTRACE_SETFPREGS, pid, 0, &fp) < 0)
		return -errno;
	return 0;
}

static int ptrace_as_create(struct plat_as **asp, struct plat_thread **thp)
{
	pid_t parent = getpid();
	struct plat_as *as;
	struct plat_thread *th;
	int status, err;

	as = calloc(1, sizeof(*as));
	th = calloc(1, sizeof(*th));
	if (!as || !th) {
		free(as);
		free(th);
		return -ENOMEM;
	}
	pid_t pid = fork();
	if (pid < 0) {
		err = -errno;
		free(as);
		free(th);
		return err;
	}
	if (pid == 0) {
		sigset_t none;
		/* The stub must never outlive the sentry thread serving it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		/* Out of the terminal's process group: the sentry decides
		 * which signals the workload sees. */
		setsid();
		/* Nothing of the sentry's host fds may reach the workload. */
		syscall(SYS_close_range, 0, ~0U, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		/* glibc registered an rseq area and a clear_child_tid word in
		 * the sentry's TLS, which is about to be unmapped: the kernel
		 * would fault updating rseq on the next return to user mode. */
		if (__rseq_size > 0) {
			void *area = (char *)__builtin_thread_pointer() +
				     __rseq_offset;
			if (syscall(SYS_rseq, area, __rseq_size, 1, RSEQ_SIG))
				syscall(SYS_rseq, area, 32, 1, RSEQ_SIG);
		}
		syscall(SYS_set_tid_address, NULL);
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			_exit(126);
		syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
		_exit(125);
	}
	as->pid = pid;
	as->main = th;
	th->as = as;
	th->tid = pid;
	err = wait_stop(pid, &status);
	if (err < 0)
		goto fail;
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
		err = -ECHILD;
		goto fail;
	}
	if (ptrace(PTRACE_SETOPTIONS, pid, 0,
		   PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) < 0) {
		err = -errno;
		goto fail;
	}
	if (ptrace(PTRACE_GETREGS, pid, 0, &th->last) < 0) {
		err = -errno;
		goto fail;
	}
	err = clean_address_space(th);
	if (err < 0)
		goto fail;
	err = reset_fpu(pid);
	if (err < 0)
		goto fail;
	plat_pair_cpu(pid);
	*asp = as;
	*thp = th;
	return 0;
fail:
	ptrace_as_destroy(as);
	return err;
}

static void regs_to_user(const struct plat_regs *in, struct user_regs_struct *out)
{
	_Static_assert(sizeof(*in) == sizeof(*out), "register layout");
	memcpy(out, in, sizeof(*out));
}

static int ptrace_run(struct plat_thread *th, struct plat_regs *regs,
		      bool dirty, struct plat_trap *trap)
{
	struct user_regs_struct r;
	int status, err, sig;

	memset(trap, 0, sizeof(*trap));
	if (th->as->dead) {
		trap->kind = PLAT_TRAP_DEAD;
		return 0;
	}
	if (dirty || th->clobbered) {
		regs_to_user(regs, &r);
		if (ptrace(PTRACE_SETREGS, th->tid, 0, &r) < 0)
			return -errno;
		th->clobbered = false;
	}
	for (;;) {
		if (ptrace(PTRACE_SYSEMU, th->tid, 0, 0) < 0)
			return -errno;
		err = wait_stop(th->tid, &status);
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
	struct iovec local = { dst, n };
	struct iovec remote = { (void *)src, n };

	if (n == 0)
		return 0;
	ssize_t r = process_vm_readv(as->pid, &local, 1, &remote, 1, 0);
	if (r < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	return (size_t)r == n ? 0 : -EFAULT;
}

static int ptrace_copy_out(struct plat_as *as, uint64_t dst, const void *src,
			   size_t n)
{
	struct iovec local = { (void *)src, n };
	struct iovec remote = { (void *)dst, n };

	if (n == 0)
		return 0;
	ssize_t r = process_vm_writev(as->pid, &local, 1, &remote, 1, 0);
	if (r < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	return (size_t)r == n ? 0 : -EFAULT;
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
