#define _GNU_SOURCE
#include "stubproc.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
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
	/* One fd survives, as fd 1: the stub end of the socket the sentry
	 * passes host fds on (plat_fdpass_*); stdin, stdout, stderr and the
	 * sentry's own fds go. */
	int pass = plat_fdpass_stub_end();
	if (pass >= 0 && pass != PLAT_FDPASS_FD &&
	    dup2(pass, PLAT_FDPASS_FD) != PLAT_FDPASS_FD)
		_exit(124);
	syscall(SYS_close_range, 0, PLAT_FDPASS_FD - 1, 0);
	syscall(SYS_close_range, PLAT_FDPASS_FD + 1, ~0U, 0);
	if (pass < 0)
		close(PLAT_FDPASS_FD);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Raw calls: glibc's signal() refuses its internal signals (32, 33),
	 * whose sentry handlers must not survive in the stub either. */
	struct {
		uint64_t handler, flags, restorer, mask;
	} dfl = { 0, 0, 0, 0 };
	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
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

int stubproc_inject_at(pid_t tid, const struct user_regs_struct *base,
		       uint64_t insn, uint64_t trap_rip, long nr,
		       const uint64_t args[6], long *ret)
{
	struct user_regs_struct r = *base;
	int status, err, sig = 0;

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
	for (;;) {
		if (ptrace(PTRACE_CONT, tid, 0, sig) < 0)
			return -errno;
		err = stubproc_wait(tid, &status);
		if (err < 0)
			return err;
		if (!WIFSTOPPED(status))
			return -ESRCH;
		sig = WSTOPSIG(status);
		if (sig == SIGTRAP)
			break;
		/* The sentry's interrupt signal (the task is in the sentry
		 * already: drop it) or a ptrace event: carry on. Anything else
		 * is SIGKILL on its way or tampering from outside. */
		if (sig == PLAT_INTERRUPT_SIGNAL || (status >> 16)) {
			sig = 0;
			continue;
		}
		log_warn("stub %d: signal %d during injected syscall %ld", tid,
			 sig, nr);
		return -EIO;
	}
	if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
		return -errno;
	if (r.rip != trap_rip)
		return -EIO;
	*ret = (long)r.rax;
	return 0;
}

int stubproc_inject(pid_t tid, const struct user_regs_struct *base,
		    uint64_t insn, long nr, const uint64_t args[6], long *ret)
{
	return stubproc_inject_at(tid, base, insn, insn + 3, nr, args, ret);
}

int stubproc_seize(pid_t tid, struct user_regs_struct *regs)
{
	int status, err;

	if (ptrace(PTRACE_SEIZE, tid, 0,
		   PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) < 0)
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return -errno;
	for (;;) {
		err = stubproc_wait(tid, &status);
		if (err < 0)
			return err;
		if (!WIFSTOPPED(status))
			return -ESRCH;
		if ((status >> 16) == PTRACE_EVENT_STOP)
			break;
		/* A signal stop first (our interrupt signal, sent before we
		 * attached): suppress it and wait for the interrupt's stop. */
		if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
			return -errno;
	}
	if (ptrace(PTRACE_GETREGS, tid, 0, regs) < 0)
		return -errno;
	return 0;
}

int stubproc_unmap_except(pid_t tid, const struct user_regs_struct *base,
			  uint64_t insn, const struct plat_range *keep, int n)
{
	struct plat_range gaps[9];
	if (n > 8)
		return -EINVAL;
	int ng = plat_gaps(keep, n, STUBPROC_TASK_SIZE, gaps);
	for (int i = 0; i < ng; i++) {
		uint64_t args[6] = { gaps[i].start, gaps[i].end - gaps[i].start };
		long ret;
		int err = stubproc_inject(tid, base, insn, SYS_munmap, args,
					  &ret);
		if (err < 0)
			return err;
		if (ret < 0)
			return (int)ret;
	}
	return 0;
}

int stubproc_get_fpstate(pid_t tid, void *buf, size_t len)
{
	struct iovec iov = { buf, len };

	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) < 0)
		return -errno;
	if (iov.iov_len != plat_fpstate_size())
		return -EIO;
	/* ptrace puts XCR0 where a signal frame has its software bytes:
	 * rewrite them into the frame format. */
	int err = plat_fpstate_sanitize(buf, iov.iov_len);
	return err < 0 ? err : (int)iov.iov_len;
}

int stubproc_set_fpstate(pid_t tid, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	if (ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov) < 0)
		return -errno;
	return 0;
}

/* A fork copies the sentry's x87/SSE/AVX registers: give the workload the
 * initial state exec gives on Linux instead, so no sentry data leaks through
 * them. */
int stubproc_reset_fpu(pid_t pid)
{
	return stubproc_set_fpstate(pid, plat_fpstate_init_image(),
				    plat_fpstate_size());
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

int stubproc_copy_in_force(pid_t pid, void *dst, uint64_t src, size_t n)
{
	char path[32];
	snprintf(path, sizeof(path), "%d/mem", (int)pid);
	int pfd = plat_host_proc_fd();
	if (pfd < 0)
		return -EFAULT;
	int fd = openat(pfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -EFAULT;
	ssize_t r = pread(fd, dst, n, (off_t)src);
	close(fd);
	return r == (ssize_t)n ? 0 : -EFAULT;
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

/* Reaping killed stubs: a process's teardown (freeing its memory) takes
 * the host a while, and nobody in the sandbox waits for it, so one thread
 * collects them in the background. With stubproc_reap_later the kill and
 * the platform's own clean-up (closing fds, unmapping the stub's shared
 * block: a TLB shoot-down across the sentry's CPUs) move there too, off
 * exec's and exit's path (about 90 us here). */
struct reap_item {
	pid_t pid;
	bool kill; /* not killed yet: the reaper does it */
	void (*done)(void *arg);
	void *arg;
	struct reap_item *next;
};

static pthread_mutex_t reap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reap_cond = PTHREAD_COND_INITIALIZER;
static struct reap_item *reap_head, **reap_tail = &reap_head;
static bool reaper_started;
/* The reaper is waiting for a stub to die (a big one takes a while): a
 * stub queued meanwhile is killed at once by the one queuing it, so no
 * kill waits behind another stub's teardown. Under reap_lock. */
static bool reaper_waiting;

static void kill_and_clean(struct reap_item *it)
{
	/* Still our unreaped child here: its pid cannot have been reused. */
	if (it->kill)
		kill(it->pid, SIGKILL);
	it->kill = false;
	if (it->done)
		it->done(it->arg);
	it->done = NULL;
}

static void *reaper_main(void *arg)
{
	(void)arg;
	plat_unpin_self();
	pthread_mutex_lock(&reap_lock);
	for (;;) {
		while (!reap_head)
			pthread_cond_wait(&reap_cond, &reap_lock);
		/* Everything queued: killed and cleaned first, then reaped. */
		struct reap_item *list = reap_head;
		reap_head = NULL;
		reap_tail = &reap_head;
		pthread_mutex_unlock(&reap_lock);
		for (struct reap_item *it = list; it; it = it->next)
			kill_and_clean(it);
		pthread_mutex_lock(&reap_lock);
		reaper_waiting = true;
		pthread_mutex_unlock(&reap_lock);
		while (list) {
			struct reap_item *it = list;
			int st;
			list = it->next;
			stubproc_wait(it->pid, &st);
			free(it);
		}
		pthread_mutex_lock(&reap_lock);
		reaper_waiting = false;
	}
	return NULL;
}

/* In order of arrival (FIFO), so a stub queued first dies first. */
static void reap_queue(pid_t pid, bool kill_it, void (*done)(void *),
		       void *arg)
{
	struct reap_item *it = malloc(sizeof(*it));
	pthread_mutex_lock(&reap_lock);
	if (it && !reaper_started) {
		pthread_t thr;
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&thr, NULL, reaper_main, NULL) == 0) {
			pthread_detach(thr);
			reaper_started = true;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!it || !reaper_started) {
		pthread_mutex_unlock(&reap_lock);
		struct reap_item local = { pid, kill_it, done, arg, NULL };
		int st;
		kill_and_clean(&local); /* no reaper: do it all here */
		stubproc_wait(pid, &st);
		free(it);
		return;
	}
	*it = (struct reap_item){ pid, kill_it, done, arg, NULL };
	if (reaper_waiting && kill_it) {
		kill(pid, SIGKILL); /* the clean-up stays the reaper's */
		it->kill = false;
	}
	*reap_tail = it;
	reap_tail = &it->next;
	pthread_cond_signal(&reap_cond);
	pthread_mutex_unlock(&reap_lock);
}

void stubproc_kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	reap_queue(pid, false, NULL, NULL);
}

void stubproc_reap_later(pid_t pid, void (*done)(void *), void *arg)
{
	reap_queue(pid, true, done, arg);
}
