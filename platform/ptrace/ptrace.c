/* The ptrace platform.
 *
 * Stubs keep only a page of stub code and the vDSO. The serving sentry
 * thread traces its stub thread with PTRACE_SYSEMU: every system call the
 * workload makes stops at entry and is never executed by the host kernel
 * (seccomp is not even consulted), so the workload has no host system call
 * at all. SYSEMU and seccomp RET_TRACE were measured equal (16.4 us per
 * trapped call on one CPU here); SYSEMU needs no filter to be right.
 *
 * Host system calls the sentry wants run inside the stub (mmap and friends)
 * are injected: point rip at the stub's `syscall; int3`, PTRACE_CONT, catch
 * the SIGTRAP of the int3, read rax, restore the workload's registers.
 *
 * New stubs and threads: the factory thread keeps a zygote (an emptied,
 * traced stub) and forks it with CLONE_PARENT for each new address space; a
 * workload fork or thread is a clone injected into the caller's own stub
 * thread. Either way the child starts in the stub's park loop (`pause`
 * forever, untraced) until its serving sentry thread seizes it
 * (thread_adopt), so a child can be handed to any sentry thread. */
#define _GNU_SOURCE
#include "../platform.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../factory.h"
#include "../stubproc.h"

#define STUB_SIZE 4096
/* Offsets in the stub page (see ptrace_init). */
#define OFF_INJECT 0 /* syscall; int3 */
#define OFF_CLONE 8 /* syscall; child: arm PDEATHSIG, park; parent: int3 */
#define OFF_PARK 44 /* 1: pause; jmp 1b */
#define OFF_CLONE_TRAP 66 /* rip after the parent's int3 */
#define OFF_FAULTH 72 /* fault handler: err, trapno into rdi, rsi; int3 */
#define OFF_FPROG 128 /* struct sock_fprog for the vsyscall filter */
#define OFF_FILTER 192 /* its instructions */
#define VSYSCALL_ADDR 0xffffffffff600000ULL

/* Scratch slots: a reserved range, private to each stub, where each stub
 * thread gets 64 KiB: a page for the output of host calls the sentry runs
 * there (getrusage), the rest an alternate signal stack on which the host
 * delivers a fault to the stub's own handler, so the sentry learns the
 * fault's error code and trap number (ptrace does not show them). */
#define SCRATCH_SIZE (1ULL << 30)
#define SCRATCH_SLOT 0x10000ULL
#define SCRATCH_SLOTS (SCRATCH_SIZE / SCRATCH_SLOT)
#define SCRATCH_BUF 4096ULL

struct plat_as {
	pid_t pid;
	atomic_bool dead;
	bool fault_handlers; /* installed in this stub */
	pthread_mutex_t lock;
	unsigned char slot_used[SCRATCH_SLOTS];
};

struct plat_thread {
	struct plat_as *as;
	pid_t tid;
	int slot;
	bool slot_mapped, altstack_set;
	bool adopted;
	bool arm_pdeathsig; /* a new process: PR_SET_PDEATHSIG at adoption */
	/* The workload's registers in the kernel are not what the sentry holds
	 * (an injected syscall changed them): write them back before running. */
	bool clobbered;
	struct user_regs_struct last; /* registers at the last stop */
};

static uint64_t stub_code; /* the stub page, the same in every stub */
static uint64_t scratch; /* the scratch range, the same in every stub */
static struct plat_range reserved[3];
/* The zygote: traced by the factory thread, forked for every new stub. */
static pid_t zygote;
static struct user_regs_struct zygote_regs;

static int ptrace_init(void)
{
	static const unsigned char code[] = {
		/* 0: injection */
		0x0f, 0x05, /* syscall */
		0xcc, /* int3 */
		0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
		/* 8: clone (rdx = the sentry's pid); the parent traps */
		0x0f, 0x05, /* syscall */
		0x48, 0x85, 0xc0, /* test %rax, %rax */
		0x75, 0x32, /* jnz 65 */
		/* 15: the child dies with the sentry, which must still be
		 * its parent, then parks until a sentry thread seizes it */
		0xb8, SYS_prctl, 0x00, 0x00, 0x00, /* mov $SYS_prctl, %eax */
		0xbf, PR_SET_PDEATHSIG, 0x00, 0x00, 0x00, /* mov $1, %edi */
		0xbe, SIGKILL, 0x00, 0x00, 0x00, /* mov $SIGKILL, %esi */
		0x0f, 0x05, /* syscall */
		0xb8, SYS_getppid, 0x00, 0x00, 0x00, /* mov $SYS_getppid, %eax */
		0x0f, 0x05, /* syscall */
		0x48, 0x39, 0xd0, /* cmp %rdx, %rax */
		0x75, 0x09, /* jne 53 */
		/* 44: park */
		0xb8, SYS_pause, 0x00, 0x00, 0x00, /* mov $SYS_pause, %eax */
		0x0f, 0x05, /* syscall */
		0xeb, 0xf7, /* jmp 44 */
		/* 53: the sentry is gone: so is this stub */
		0xb8, SYS_exit_group & 0xff, SYS_exit_group >> 8, 0x00, 0x00,
		0xbf, 0x01, 0x00, 0x00, 0x00, /* mov $1, %edi */
		0x0f, 0x05, /* syscall */
		/* 65 */
		0xcc, /* int3 */
		0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
		/* 72: fault handler (rdx = ucontext) */
		0x48, 0x8b, 0xba, 0xc0, 0x00, 0x00, 0x00, /* mov 0xc0(%rdx), %rdi: REG_ERR */
		0x48, 0x8b, 0xb2, 0xc8, 0x00, 0x00, 0x00, /* mov 0xc8(%rdx), %rsi: REG_TRAPNO */
		0xcc, /* int3 */
	};
	_Static_assert(sizeof(code) == OFF_FAULTH + 15, "stub code layout");
	uint64_t vlo, vhi;
	int n = 0, err;

	err = plat_fpu_init();
	if (!err)
		err = plat_fdpass_init();
	if (err < 0)
		return err;
	void *p = mmap(NULL, STUB_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	memset(p, 0xcc, STUB_SIZE);
	memcpy(p, code, sizeof(code));
	/* The host kernel runs vsyscall-page calls (gettimeofday, time,
	 * getcpu) itself without a SYSEMU stop: a seccomp filter turns those,
	 * and only those, into SIGSYS, which the sentry serves. */
	const uint32_t ip_lo = offsetof(struct seccomp_data, instruction_pointer);
	const struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip_lo + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffff, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip_lo),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xfffff000),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)VSYSCALL_ADDR, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	};
	struct sock_fprog prog = { sizeof(filter) / sizeof(filter[0]),
				   (struct sock_filter *)((char *)p + OFF_FILTER) };
	memcpy((char *)p + OFF_FILTER, filter, sizeof(filter));
	memcpy((char *)p + OFF_FPROG, &prog, sizeof(prog));
	if (mprotect(p, STUB_SIZE, PROT_READ | PROT_EXEC) < 0)
		return -errno;
	stub_code = (uint64_t)p;
	reserved[n++] = (struct plat_range){ stub_code, stub_code + STUB_SIZE,
					     "[stub]" };
	void *sc = mmap(NULL, SCRATCH_SIZE, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sc == MAP_FAILED)
		return -errno;
	scratch = (uint64_t)sc;
	reserved[n++] = (struct plat_range){ scratch, scratch + SCRATCH_SIZE,
					     "[stub scratch]" };
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

/* A thread with a free scratch slot (slot >= 0: that one, inherited). */
static struct plat_thread *thread_new(struct plat_as *as, pid_t tid, int slot,
				      bool mapped)
{
	struct plat_thread *th = calloc(1, sizeof(*th));
	if (!th)
		return NULL;
	th->as = as;
	th->tid = tid;
	th->clobbered = true;
	pthread_mutex_lock(&as->lock);
	if (slot < 0)
		for (uint64_t i = 0; i < SCRATCH_SLOTS; i++)
			if (!as->slot_used[i]) {
				slot = (int)i;
				break;
			}
	if (slot >= 0)
		as->slot_used[slot] = 1;
	pthread_mutex_unlock(&as->lock);
	if (slot < 0) {
		free(th);
		return NULL;
	}
	th->slot = slot;
	th->slot_mapped = mapped;
	return th;
}

static uint64_t slot_addr(const struct plat_thread *th)
{
	return scratch + (uint64_t)th->slot * SCRATCH_SLOT;
}

static int clone_in(pid_t tid, const struct user_regs_struct *base,
		    uint64_t flags, long *child)
{
	/* rdx (the parent-tid pointer, unused here) carries the sentry's pid
	 * for the child's check. */
	uint64_t args[6] = { flags, 0, (uint64_t)getpid(), 0, 0, 0 };
	int err = stubproc_inject_at(tid, base, stub_code + OFF_CLONE,
				     stub_code + OFF_CLONE_TRAP, SYS_clone,
				     args, child);
	if (err < 0)
		return err;
	return *child < 0 ? (int)*child : 0;
}

/* On the factory thread: makes the zygote once, then forks it. */
static int zygote_fork(void *out)
{
	int err;

	if (!zygote) {
		const struct plat_range *keep;
		pid_t pid;
		err = stubproc_spawn(&pid, &zygote_regs);
		if (err < 0)
			return err;
		int n = plat_reserved(&keep);
		err = stubproc_unmap_except(pid, &zygote_regs,
					    stub_code + OFF_INJECT, keep, n);
		if (!err)
			err = stubproc_reset_fpu(pid);
		uint64_t nnp[6] = { PR_SET_NO_NEW_PRIVS, 1 };
		uint64_t filt[6] = { SECCOMP_SET_MODE_FILTER, 0,
				     stub_code + OFF_FPROG };
		long r = 0;
		if (!err)
			err = stubproc_inject(pid, &zygote_regs,
					      stub_code + OFF_INJECT, SYS_prctl,
					      nnp, &r);
		if (!err && !r)
			err = stubproc_inject(pid, &zygote_regs,
					      stub_code + OFF_INJECT,
					      SYS_seccomp, filt, &r);
		if (!err && r < 0)
			err = (int)r;
		if (err < 0) {
			int st;
			kill(pid, SIGKILL);
			stubproc_wait(pid, &st);
			return err;
		}
		zygote = pid;
	}
	/* CLONE_PARENT: the child is the factory's, like the zygote. Exit
	 * signal 0: the sentry reaps stubs with __WALL, nobody needs SIGCHLD. */
	long child;
	err = clone_in(zygote, &zygote_regs, CLONE_PARENT, &child);
	if (err < 0)
		return err;
	*(pid_t *)out = (pid_t)child;
	return 0;
}

static int as_new(pid_t pid, const struct plat_thread *parent,
		  struct plat_as **asp, struct plat_thread **thp)
{
	struct plat_as *as = calloc(1, sizeof(*as));
	if (as) {
		pthread_mutex_init(&as->lock, NULL);
		/* A fork child's handlers and its thread's scratch slot and
		 * alternate stack are copies of the parent's. */
		as->fault_handlers = parent && parent->as->fault_handlers;
	}
	struct plat_thread *th =
		as ? thread_new(as, pid, parent ? parent->slot : -1,
				parent && parent->slot_mapped)
		   : NULL;
	if (th && parent)
		th->altstack_set = parent->altstack_set;
	if (!th) {
		int st;
		free(as);
		kill(pid, SIGKILL);
		stubproc_wait(pid, &st);
		return -ENOMEM;
	}
	as->pid = pid;
	th->arm_pdeathsig = true;
	*asp = as;
	*thp = th;
	return 0;
}

static int ptrace_as_create(struct plat_as **asp, struct plat_thread **thp)
{
	pid_t pid;
	int err = plat_factory_call(zygote_fork, &pid);
	if (err < 0)
		return err;
	return as_new(pid, NULL, asp, thp);
}

static int ptrace_as_fork(struct plat_thread *th, struct plat_as **asp,
			  struct plat_thread **childp)
{
	long child;

	th->clobbered = true;
	int err = clone_in(th->tid, &th->last, CLONE_PARENT, &child);
	if (err == -ESRCH)
		th->as->dead = true;
	if (err < 0)
		return err;
	return as_new((pid_t)child, th, asp, childp);
}

static int ptrace_thread_create(struct plat_thread *th, struct plat_thread **ntp)
{
	long tid;

	th->clobbered = true;
	int err = clone_in(th->tid, &th->last,
			   CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
				   CLONE_THREAD | CLONE_SYSVSEM,
			   &tid);
	if (err == -ESRCH)
		th->as->dead = true;
	if (err < 0)
		return err;
	struct plat_thread *nt = thread_new(th->as, (pid_t)tid, -1, false);
	if (!nt) {
		/* Adopt it just to end it: SIGKILL would take the process. */
		struct plat_thread tmp = { .as = th->as, .tid = (pid_t)tid };
		if (stubproc_seize(tmp.tid, &tmp.last) == 0)
			ptrace(PTRACE_DETACH, tmp.tid, 0, 0);
		return -ENOMEM;
	}
	*ntp = nt;
	return 0;
}

static int ptrace_thread_syscall(struct plat_thread *th, long nr,
				 const uint64_t args[6], long *ret)
{
	th->clobbered = true;
	int err = stubproc_inject(th->tid, &th->last, stub_code + OFF_INJECT,
				  nr, args, ret);
	if (err == -ESRCH)
		th->as->dead = true;
	return err;
}

/* Maps th's scratch slot in its stub (once). */
static int ensure_slot(struct plat_thread *th)
{
	if (th->slot_mapped)
		return 0;
	uint64_t args[6] = { slot_addr(th), SCRATCH_SLOT, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			     (uint64_t)-1, 0 };
	long r;
	int err = ptrace_thread_syscall(th, SYS_mmap, args, &r);
	if (!err && r != (long)slot_addr(th))
		err = r < 0 ? (int)r : -EIO;
	if (!err)
		th->slot_mapped = true;
	return err;
}

/* Runs syscall nr in th with args, where a value of SCRATCH_ARG is
 * replaced by the address of th's scratch page; then copies len bytes of
 * that page to out. */
#define SCRATCH_ARG ((uint64_t)-4096)
static int syscall_scratch(struct plat_thread *th, long nr, uint64_t a[6],
			   const void *in, size_t inlen, void *out,
			   size_t outlen, long *ret)
{
	int err = ensure_slot(th);
	if (err < 0)
		return err;
	uint64_t buf = slot_addr(th);
	for (int i = 0; i < 6; i++)
		if (a[i] == SCRATCH_ARG)
			a[i] = buf;
	if (inlen && (err = stubproc_copy_out(th->as->pid, buf, in, inlen)) < 0)
		return err;
	err = ptrace_thread_syscall(th, nr, a, ret);
	if (!err && outlen)
		err = stubproc_copy_in(th->as->pid, out, buf, outlen);
	return err;
}

/* Handlers for the fault signals, and th's alternate stack, so that a
 * fault can be replayed into the stub's own handler (see fault_info). */
static int prepare_fault_capture(struct plat_thread *th)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP };
	long r;
	int err = 0;

	if (!th->as->fault_handlers) {
		/* SA_NODEFER and an empty mask: the handler's int3 must stop
		 * the thread even when the fault was a SIGTRAP. */
		struct {
			uint64_t handler, flags, restorer, mask;
		} act = { stub_code + OFF_FAULTH,
			  SA_SIGINFO | SA_ONSTACK | SA_NODEFER | 0x04000000,
			  stub_code + OFF_INJECT, 0 };
		for (size_t i = 0; !err && i < sizeof(sigs) / sizeof(sigs[0]); i++) {
			uint64_t a[6] = { (uint64_t)sigs[i], SCRATCH_ARG, 0, 8 };
			err = syscall_scratch(th, SYS_rt_sigaction, a, &act,
					      sizeof(act), NULL, 0, &r);
			if (!err && r < 0)
				err = (int)r;
		}
		if (err < 0)
			return err;
		th->as->fault_handlers = true;
	}
	if (!th->altstack_set) {
		stack_t ss = { (void *)(slot_addr(th) + SCRATCH_BUF), 0,
			       SCRATCH_SLOT - SCRATCH_BUF };
		uint64_t a[6] = { SCRATCH_ARG, 0 };
		err = syscall_scratch(th, SYS_sigaltstack, a, &ss, sizeof(ss),
				      NULL, 0, &r);
		if (!err && r < 0)
			err = (int)r;
		if (err < 0)
			return err;
		th->altstack_set = true;
	}
	return 0;
}

/* th is stopped with fault signal sig pending delivery. Lets the host
 * deliver it to the stub's handler, which stops at once with the frame's
 * error code and trap number in rdi and rsi; then puts the thread back as
 * it was (registers and FPU state: the handler frame is abandoned). */
static bool fault_info(struct plat_thread *th, int sig, uint64_t *err,
		       uint64_t *trapno)
{
	unsigned char fp[16384] __attribute__((aligned(64)));
	struct user_regs_struct saved = th->last, r;
	int status;
	bool ok = false;

	int fpn = stubproc_get_fpstate(th->tid, fp, sizeof(fp));
	if (fpn < 0)
		return false;
	saved.orig_rax = (uint64_t)-1;
	int deliver = sig;
	for (;;) {
		if (ptrace(PTRACE_CONT, th->tid, 0, deliver) < 0 ||
		    stubproc_wait(th->tid, &status) < 0 || !WIFSTOPPED(status)) {
			th->as->dead = true;
			return false;
		}
		deliver = 0;
		if (status >> 16)
			continue;
		int s = WSTOPSIG(status);
		if (s == PLAT_INTERRUPT_SIGNAL)
			continue;
		if (s == SIGTRAP && ptrace(PTRACE_GETREGS, th->tid, 0, &r) == 0 &&
		    r.rip == stub_code + OFF_FAULTH + 15) {
			*err = r.rdi;
			*trapno = r.rsi;
			ok = true;
		}
		/* Anything else (the frame could not be written: SIGSEGV):
		 * the information is lost, the fault still goes on. */
		break;
	}
	if (ptrace(PTRACE_SETREGS, th->tid, 0, &saved) < 0 ||
	    stubproc_set_fpstate(th->tid, fp, (size_t)fpn) < 0) {
		th->as->dead = true;
		return false;
	}
	th->clobbered = true;
	return ok;
}

static bool fault_capture_ready(const struct plat_thread *th)
{
	return th->as->fault_handlers && th->altstack_set;
}

/* prepare_fault_capture, leaving th's registers and FPU state as they
 * were (the set-up injects host calls). */
static int prepare_fault_capture_keep(struct plat_thread *th)
{
	unsigned char fp[16384] __attribute__((aligned(64)));
	struct user_regs_struct saved = th->last;
	int fpn = stubproc_get_fpstate(th->tid, fp, sizeof(fp));
	if (fpn < 0)
		return fpn;
	int err = prepare_fault_capture(th);
	saved.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, th->tid, 0, &saved) < 0 ||
	    stubproc_set_fpstate(th->tid, fp, (size_t)fpn) < 0)
		return -errno;
	th->last = saved;
	th->clobbered = false;
	return err;
}

/* Runs nr(args) in th's stub with host_fd received at PLAT_FDPASS_RECV_FD
 * (the args name it there), then closes it. */
/* platform_ops.batch: one injected call after another (a ptrace stop
 * each; nothing to gain from a batch here but the common interface). */
static int ptrace_batch(struct plat_thread *th, int host_fd,
			const struct plat_sysreq *reqs, int n, long *rets)
{
	struct plat_recv_area ra;
	long r;

	if (n < 0 || n > PLAT_BATCH_MAX)
		return -EINVAL;
	int err = 0;
	if (host_fd < 0)
		goto calls;
	err = ensure_slot(th);
	if (err < 0)
		return err;
	plat_recv_area_init(&ra, slot_addr(th));
	/* Free the slot the fd lands in, whatever an earlier batch left
	 * there (dup2 of the socket over it, then close: both succeed). */
	uint64_t d[6] = { PLAT_FDPASS_FD, PLAT_FDPASS_RECV_FD };
	uint64_t c0[6] = { PLAT_FDPASS_RECV_FD };
	long ignored;
	/* Held from the slot's freeing to the final close: sibling stub
	 * threads share the fd table, and use the same slot. */
	plat_fdpass_lock();
	err = ptrace_thread_syscall(th, SYS_dup2, d, &ignored);
	if (!err)
		err = ptrace_thread_syscall(th, SYS_close, c0, &ignored);
	if (err < 0) {
		plat_fdpass_unlock();
		return err;
	}
	err = plat_fdpass_send(host_fd);
	if (!err) {
		uint64_t a[6] = { PLAT_FDPASS_FD, SCRATCH_ARG,
				  MSG_CMSG_CLOEXEC | MSG_DONTWAIT };
		err = syscall_scratch(th, SYS_recvmsg, a, &ra, sizeof(ra), NULL, 0,
				      &r);
		if (!err && r != 1)
			err = r < 0 ? (int)r : -EIO;
		if (err < 0)
			plat_fdpass_drain();
	}
	if (err < 0) {
		/* The fd may have arrived all the same (the scratch slot is
		 * the workload's to scribble on). */
		ptrace_thread_syscall(th, SYS_close, c0, &ignored);
		plat_fdpass_unlock();
		return err;
	}
calls:;
	int ok = 0;
	for (; ok < n; ok++) {
		uint64_t m[6];
		memcpy(m, reqs[ok].args, sizeof(m));
		err = ptrace_thread_syscall(th, reqs[ok].nr, m, &r);
		if (err < 0)
			break;
		rets[ok] = r;
		if ((unsigned long)r >= -4095UL)
			break;
	}
	if (host_fd >= 0) {
		uint64_t c[6] = { PLAT_FDPASS_RECV_FD };
		long ignored2;
		ptrace_thread_syscall(th, SYS_close, c, &ignored2);
		plat_fdpass_unlock();
	}
	return err < 0 ? err : ok;
}

static int ptrace_thread_rusage(struct plat_thread *th, int who,
				struct rusage *ru)
{
	uint64_t a[6] = { (uint64_t)who, SCRATCH_ARG };
	long r;
	int err = syscall_scratch(th, SYS_getrusage, a, NULL, 0, ru,
				  sizeof(*ru), &r);
	if (!err && r < 0)
		err = (int)r;
	return err;
}

static int ptrace_thread_adopt(struct plat_thread *th)
{
	int err = stubproc_seize(th->tid, &th->last);
	if (err < 0)
		return err;
	th->adopted = true;
	th->clobbered = true;
	/* A new stub arms its own PR_SET_PDEATHSIG before it parks; one
	 * seized before it got to the park loop is armed here instead. */
	bool parked = th->last.rip - (stub_code + OFF_PARK) <= 9;
	if (th->arm_pdeathsig && !parked) {
		/* The new stub must die with the sentry; check the sentry was
		 * still there when that was armed. */
		uint64_t args[6] = { PR_SET_PDEATHSIG, SIGKILL };
		long r;
		err = ptrace_thread_syscall(th, SYS_prctl, args, &r);
		if (!err && r < 0)
			err = (int)r;
		if (!err) {
			uint64_t none[6] = { 0 };
			err = ptrace_thread_syscall(th, SYS_getppid, none, &r);
			if (!err && r != getpid())
				err = -ESRCH;
		}
		if (err < 0)
			return err;
	}
	th->arm_pdeathsig = false;
	plat_pair_cpu(th->tid);
	return 0;
}

static void ptrace_thread_release(struct plat_thread *th)
{
	int status;

	if (!th)
		return;
	if (!th->adopted && !th->as->dead &&
	    stubproc_seize(th->tid, &th->last) == 0)
		th->adopted = true;
	pthread_mutex_lock(&th->as->lock);
	th->as->slot_used[th->slot] = 0;
	pthread_mutex_unlock(&th->as->lock);
	if (th->adopted && !th->as->dead) {
		struct user_regs_struct r = th->last;
		r.orig_rax = (uint64_t)-1;
		if (th->tid == th->as->pid) {
			/* The leader parks until the address space goes:
			 * a thread-group leader cannot leave before the rest,
			 * and an untraced parked thread costs nothing. */
			r.rip = stub_code + OFF_PARK;
			if (ptrace(PTRACE_SETREGS, th->tid, 0, &r) == 0)
				ptrace(PTRACE_DETACH, th->tid, 0, 0);
		} else {
			r.rip = stub_code + OFF_INJECT;
			r.rax = SYS_exit;
			r.rdi = 0;
			if (ptrace(PTRACE_SETREGS, th->tid, 0, &r) == 0 &&
			    ptrace(PTRACE_CONT, th->tid, 0, 0) == 0) {
				/* Until it is gone: then no tracee is left to
				 * PTRACE_O_EXITKILL when this thread ends. */
				while (stubproc_wait(th->tid, &status) == 0 &&
				       WIFSTOPPED(status))
					ptrace(PTRACE_CONT, th->tid, 0, 0);
			}
		}
	}
	free(th);
}

static void ptrace_as_destroy(struct plat_as *as)
{
	if (!as)
		return;
	stubproc_kill_and_reap(as->pid);
	pthread_mutex_destroy(&as->lock);
	free(as);
}

static void ptrace_interrupt(struct plat_thread *th)
{
	syscall(SYS_tgkill, th->as->pid, th->tid, PLAT_INTERRUPT_SIGNAL);
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
	int resume = PTRACE_SYSEMU;
	bool reexec = false;
	for (;;) {
		if (ptrace(resume, th->tid, 0, 0) < 0) {
			if (errno == ESRCH) {
				th->as->dead = true;
				trap->kind = PLAT_TRAP_DEAD;
				return 0;
			}
			return -errno;
		}
		err = stubproc_wait(th->tid, &status);
		if (err < 0)
			return err;
		if (!WIFSTOPPED(status)) {
			th->as->dead = true;
			trap->kind = PLAT_TRAP_DEAD;
			return 0;
		}
		sig = WSTOPSIG(status);
		resume = PTRACE_SYSEMU;
		if (status >> 16) /* a ptrace event we did not ask for */
			continue;
		if (ptrace(PTRACE_GETREGS, th->tid, 0, &th->last) < 0)
			return -errno;
		memcpy(regs, &th->last, sizeof(*regs));
		if (reexec && sig == SIGTRAP) {
			/* The replayed instruction did not fault again (its
			 * memory changed meanwhile): it ran; carry on. */
			trap->kind = PLAT_TRAP_INTERRUPT;
			return 0;
		}
		if (sig == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info info;
			/* Workload code never lives in the stub page: a
			 * system call from there is the workload jumping
			 * into the stub's code. */
			if (regs->rip - 2 - stub_code < STUB_SIZE) {
				log_warn("ptrace: stub %d made a system call "
					 "from the stub's code: killing it",
					 th->as->pid);
				kill(th->as->pid, SIGKILL);
				th->as->dead = true;
				trap->kind = PLAT_TRAP_DEAD;
				return 0;
			}
			long n = ptrace(PTRACE_GET_SYSCALL_INFO, th->tid,
					sizeof(info), &info);
			trap->kind = PLAT_TRAP_SYSCALL;
			/* int 0x80 and sysenter stop here too, with 32-bit
			 * numbers that must not be read as 64-bit ones. */
			if (n > 0 && info.arch != AUDIT_ARCH_X86_64)
				trap->kind = PLAT_TRAP_SYSCALL_COMPAT;
			return 0;
		}
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
			/* Only a fault of the hardware has an error code
			 * (si_code > 0); a SIGSEGV sent by kill has none. */
			if (trap->si_code <= 0 && trap->si_code != 0x80)
				return 0;
			if (!fault_capture_ready(th)) {
				/* The set-up's own int3s overwrite the thread's
				 * trap number: set up, then replay the faulting
				 * instruction (one step, no system call). A
				 * SIGTRAP is a trap, already past: name it. */
				if (prepare_fault_capture_keep(th) < 0)
					return 0;
				if (sig == SIGTRAP) {
					trap->trapno = trap->si_code == 2 ? 1 : 3;
					trap->err = 0;
					trap->trap_info = true;
					return 0;
				}
				resume = PTRACE_SYSEMU_SINGLESTEP;
				reexec = true;
				continue;
			}
			trap->trap_info = fault_info(th, sig, &trap->err,
						     &trap->trapno);
			return 0;
		}
		case PLAT_INTERRUPT_SIGNAL:
			trap->kind = PLAT_TRAP_INTERRUPT;
			return 0;
		case SIGSYS: {
			/* Only our vsyscall filter raises it: the kernel has
			 * already returned to the caller with rax -ENOSYS;
			 * serve the call as if made there. */
			siginfo_t si;
			if (ptrace(PTRACE_GETSIGINFO, th->tid, 0, &si) == 0 &&
			    si.si_code == 1 /* SYS_SECCOMP */ &&
			    ((uint64_t)si.si_call_addr & ~0xfffULL) ==
				    VSYSCALL_ADDR) {
				regs->orig_rax = (uint64_t)si.si_syscall;
				trap->kind = PLAT_TRAP_SYSCALL;
				return 0;
			}
			trap->kind = PLAT_TRAP_SIGNAL;
			trap->signo = sig;
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

static int ptrace_fpstate_get(struct plat_thread *th, void *buf, size_t len)
{
	return stubproc_get_fpstate(th->tid, buf, len);
}

static int ptrace_fpstate_set(struct plat_thread *th, const void *buf,
			      size_t len)
{
	return stubproc_set_fpstate(th->tid, buf, len);
}

static int ptrace_copy_in(struct plat_as *as, void *dst, uint64_t src, size_t n)
{
	return stubproc_copy_in(as->pid, dst, src, n);
}

static int ptrace_copy_in_exec(struct plat_as *as, void *dst, uint64_t src,
			       size_t n)
{
	return stubproc_copy_in_force(as->pid, dst, src, n);
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

static pid_t ptrace_as_host_pid(struct plat_as *as)
{
	return as->pid;
}

/* An execve in place: nothing of the old image is kept here (the caller
 * unmaps its mappings in its next batch). */
static int ptrace_as_reset(struct plat_thread *th)
{
	(void)th;
	return 0;
}

const struct platform_ops plat_ptrace_ops = {
	.name = "ptrace",
	.init = ptrace_init,
	.as_create = ptrace_as_create,
	.as_fork = ptrace_as_fork,
	.as_destroy = ptrace_as_destroy,
	.thread_create = ptrace_thread_create,
	.thread_adopt = ptrace_thread_adopt,
	.thread_release = ptrace_thread_release,
	.interrupt = ptrace_interrupt,
	.run = ptrace_run,
	.thread_syscall = ptrace_thread_syscall,
	.fpstate_get = ptrace_fpstate_get,
	.fpstate_set = ptrace_fpstate_set,
	.thread_rusage = ptrace_thread_rusage,
	.batch = ptrace_batch,
	.as_reset = ptrace_as_reset,
	.copy_in = ptrace_copy_in,
	.copy_in_exec = ptrace_copy_in_exec,
	.copy_out = ptrace_copy_out,
	.thread_host_tid = ptrace_thread_host_tid,
	.as_host_pid = ptrace_as_host_pid,
};
