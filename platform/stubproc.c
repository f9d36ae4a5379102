#define _GNU_SOURCE
#include "stubproc.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/log.h"

int stubproc_vdso_span(uint64_t *lo, uint64_t *hi)
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

int stubproc_wait(pid_t tid, int *status)
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

static void stub_child(pid_t parent)
{
	sigset_t none;

	/* The stub must never outlive the sentry thread that made it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	/* Out of the terminal's process group: the sentry decides which
	 * signals the workload sees. */
	setsid();
	/* Nothing of the sentry's host fds may reach the workload. */
	syscall(SYS_close_range, 0, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	/* glibc registered an rseq area and a clear_child_tid word in the
	 * sentry's TLS, which is about to be unmapped: the kernel would fault
	 * updating rseq on the next return to user mode. */
	if (__rseq_size > 0) {
		void *area = (char *)__builtin_thread_pointer() + __rseq_offset;
		if (syscall(SYS_rseq, area, __rseq_size, 1, RSEQ_SIG))
			syscall(SYS_rseq, area, 32, 1, RSEQ_SIG);
	}
	syscall(SYS_set_tid_address, NULL);
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
		_exit(126);
	syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
	_exit(125);
}

int stubproc_spawn(pid_t *pidp, struct user_regs_struct *regs)
{
	pid_t parent = getpid();
	int status, err;

	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		stub_child(parent);
	err = stubproc_wait(pid, &status);
	if (err < 0)
		goto fail;
	err = -ECHILD;
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP)
		goto fail;
	if (ptrace(PTRACE_SETOPTIONS, pid, 0,
		   PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) < 0 ||
	    ptrace(PTRACE_GETREGS, pid, 0, regs) < 0) {
		err = -errno;
		goto fail;
	}
	*pidp = pid;
	return 0;
fail:
	kill(pid, SIGKILL);
	stubproc_wait(pid, &status);
	return err;
}

int stubproc_inject(pid_t tid, const struct user_regs_struct *base,
		    uint64_t insn, long nr, const uint64_t args[6], long *ret)
{
	struct user_regs_struct r = *base;
	int status, err;

	r.rax = (uint64_t)nr;
	r.orig_rax = (uint64_t)-1; /* no syscall-restart logic on resume */
	r.rdi = args[0];
	r.rsi = args[1];
	r.rdx = args[2];
	r.r10 = args[3];
	r.r8 = args[4];
	r.r9 = args[5];
	r.rip = insn;
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
		return -errno;
	if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
		return -errno;
	err = stubproc_wait(tid, &status);
	if (err < 0)
		return err;
	if (!WIFSTOPPED(status))
		return -ESRCH;
	if (WSTOPSIG(status) != SIGTRAP) {
		/* Only SIGKILL or tampering from outside gets here. */
		log_warn("stub %d: signal %d during injected syscall %ld", tid,
			 WSTOPSIG(status), nr);
		return -EIO;
	}
	if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
		return -errno;
	if (r.rip != insn + 3)
		return -EIO;
	*ret = (long)r.rax;
	return 0;
}

int stubproc_unmap_except(pid_t tid, const struct user_regs_struct *base,
			  uint64_t insn, const struct plat_range *keep, int n)
{
	uint64_t cur = 0;

	/* keep[] is tiny; visit it in address order. */
	for (;;) {
		const struct plat_range *next = NULL;
		for (int i = 0; i < n; i++)
			if (keep[i].start >= cur &&
			    (!next || keep[i].start < next->start))
				next = &keep[i];
		uint64_t end = next ? next->start : STUBPROC_TASK_SIZE;
		if (end > cur) {
			uint64_t args[6] = { cur, end - cur };
			long ret;
			int err = stubproc_inject(tid, base, insn, SYS_munmap,
						  args, &ret);
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
int stubproc_reset_fpu(pid_t pid)
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

int stubproc_copy_in(pid_t pid, void *dst, uint64_t src, size_t n)
{
	struct iovec local = { dst, n };
	struct iovec remote = { (void *)src, n };

	if (n == 0)
		return 0;
	ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (r < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	return (size_t)r == n ? 0 : -EFAULT;
}

int stubproc_copy_out(pid_t pid, uint64_t dst, const void *src, size_t n)
{
	struct iovec local = { (void *)src, n };
	struct iovec remote = { (void *)dst, n };

	if (n == 0)
		return 0;
	ssize_t r = process_vm_writev(pid, &local, 1, &remote, 1, 0);
	if (r < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	return (size_t)r == n ? 0 : -EFAULT;
}
