/* Code that runs inside a systrap stub. Everything here lives in section
 * "stub_text", which the sentry copies verbatim into one region mapped in
 * every stub: so it calls nothing outside the section, uses no data outside
 * the shared block, and is compiled without stack protector, builtins or jump
 * tables (see meson.build). It never trusts what other stub threads can
 * write: all it does with slot contents is load them into its own context.
 *
 * Three entry points:
 * - stub_signal_handler: SIGSYS from seccomp RET_TRAP, workload faults and
 *   the sentry's interrupt signal.
 *   Copies the registers to the thread's slot, hands the trap to the sentry,
 *   waits, copies the registers back and returns through stub_restorer.
 * - stub_thread_entry: first code of a new stub thread (cloned by the
 *   executor): signal stack, seccomp filter B, then waits for its first
 *   registers and jumps to them with rt_sigreturn.
 * - stub_executor: the stub's main thread, with no stack at all, runs the
 *   host system calls the sentry posts in the control page (read-only here,
 *   so no workload thread can forge a request). */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>

#include "layout.h"

#define STUB __attribute__((section("stub_text"), used, noinline))
#define INLINE static inline __attribute__((always_inline))

#define FUTEX_WAIT_ 0
#define FUTEX_WAKE_ 1
#define ARCH_SET_GS_ 0x1001
#define ARCH_SET_FS_ 0x1002
#define SECCOMP_SET_MODE_FILTER_ 1
#define PR_SET_PDEATHSIG_ 1
#define RUSAGE_SELF_ 0
#define AUDIT_ARCH_X86_64_ 0xc000003eu
#define SYSTRAP_STACKS_SIZE_ 0x200000 /* BLOCK_SIZE - STACKS_OFF */
_Static_assert(SYSTRAP_STACKS_SIZE_ == SYSTRAP_BLOCK_SIZE - SYSTRAP_STACKS_OFF, "asm");

INLINE long sys1(long nr, long a)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a) : "rcx", "r11", "memory");
	return r;
}

INLINE long sys3(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

INLINE long sys4(long nr, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}

INLINE uint32_t load(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

INLINE void store(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

INLINE uint64_t block_of(uint64_t sp)
{
	return sp & ~(SYSTRAP_BLOCK_SIZE - 1);
}

/* A thread's slot from any address inside its signal stack. */
INLINE struct systrap_slot *slot_of(uint64_t sp)
{
	uint64_t block = block_of(sp);
	uint64_t idx = (sp - block - SYSTRAP_STACKS_OFF) / SYSTRAP_STACK_SIZE;
	return (struct systrap_slot *)(block + SYSTRAP_SLOTS_OFF +
				       idx * SYSTRAP_SLOT_SIZE);
}

/* Hands the trap to the sentry and waits until it says resume. A bounded
 * spin first: waking a sleeping vCPU costs tens of microseconds here, a
 * served syscall a couple. The flags pair (stub_waiting/sentry_waiting) with
 * sequentially consistent stores and loads means a side only pays for a
 * futex wake when the other side is really asleep. */
#define YIELD_AFTER 100
/* The executor's spin yields sooner: its answer's reader is a workload
 * thread that often shares its CPU (see stub_executor). */
#define EXEC_YIELD_AFTER 16
#define PATCH_MAX_MASK_ 511 /* PATCH_MAX - 1 */
_Static_assert(PATCH_MAX_MASK_ == PATCH_MAX - 1, "asm");

/* The CPU this thread runs on, as the vDSO's getcpu reads it (from the
 * limit of the per-CPU GDT entry, Linux's __CPUNODE_SEG); a hint only. */
#define CPUNODE_SEG 0x7b
INLINE uint16_t this_cpu(void)
{
	uint32_t p;
	__asm__ volatile("lsl %1, %0" : "=r"(p) : "r"((uint32_t)CPUNODE_SEG));
	return p & 0xfff;
}

/* The slot is the sentry's again: trapped, and the sentry woken if it
 * sleeps. */
INLINE void trap_to_sentry(struct systrap_slot *s)
{
	store(&s->state, SLOT_TRAPPED);
	if (load(&s->sentry_waiting))
		sys3(SYS_futex, (long)&s->state, FUTEX_WAKE_, 1);
}

INLINE void handoff(struct systrap_slot *s)
{
	uint16_t cpu = this_cpu();
	__atomic_store_n(&s->stub_cpu, cpu, __ATOMIC_RELAXED);
	trap_to_sentry(s);
	for (;;) {
		uint32_t spin = load(&s->spin), st;
		if (__atomic_load_n(&s->sentry_cpu, __ATOMIC_RELAXED) == cpu)
			spin = 0;
		for (uint32_t i = 0; i < spin; i++) {
			if (load(&s->state) != SLOT_TRAPPED)
				goto moved;
			/* Past a few microseconds the sentry thread may share
			 * this CPU: let it run rather than burn the budget. */
			if (i >= YIELD_AFTER && (i & 15) == 0)
				sys1(SYS_sched_yield, 0);
			else
				__builtin_ia32_pause();
		}
		store(&s->stub_waiting, 1);
		while (load(&s->state) == SLOT_TRAPPED)
			sys4(SYS_futex, (long)&s->state, FUTEX_WAIT_,
			     SLOT_TRAPPED, 0);
		store(&s->stub_waiting, 0);
moved:
		st = load(&s->state);
		/* The sentry is done with this thread: CLONE_CHILD_CLEARTID
		 * turns the state into SLOT_DEAD once the host thread is
		 * gone. */
		if (st == SLOT_EXIT)
			sys1(SYS_exit, 0);
		if (st == SLOT_PARK) {
			/* Kept for the next thread: trap as a new thread
			 * does, from this frame (the sentry gives it all its
			 * registers and FPU state when it resumes it). */
			s->kind = SLOT_KIND_START;
			s->nr = (uint64_t)-1;
		} else if (st == SLOT_CMD) {
			/* Only this thread can read its own CPU usage; it
			 * reads its process's too, sparing the executor a
			 * wake-up. */
			s->cmd_ret = sys3(SYS_getrusage, s->cmd_who,
					  (long)s->cmd_buf, 0);
		} else {
			return;
		}
		trap_to_sentry(s);
	}
}

/* The general registers, rsp and rip of a slot into a signal frame's. */
INLINE void regs_to_gregs(greg_t *g, const struct systrap_regs *r)
{
	g[REG_R8] = (greg_t)r->r8;
	g[REG_R9] = (greg_t)r->r9;
	g[REG_R10] = (greg_t)r->r10;
	g[REG_R11] = (greg_t)r->r11;
	g[REG_R12] = (greg_t)r->r12;
	g[REG_R13] = (greg_t)r->r13;
	g[REG_R14] = (greg_t)r->r14;
	g[REG_R15] = (greg_t)r->r15;
	g[REG_RDI] = (greg_t)r->rdi;
	g[REG_RSI] = (greg_t)r->rsi;
	g[REG_RBP] = (greg_t)r->rbp;
	g[REG_RBX] = (greg_t)r->rbx;
	g[REG_RDX] = (greg_t)r->rdx;
	g[REG_RAX] = (greg_t)r->rax;
	g[REG_RCX] = (greg_t)r->rcx;
	g[REG_RSP] = (greg_t)r->rsp;
	g[REG_RIP] = (greg_t)r->rip;
}

/* memcpy, which this freestanding code cannot call. */
INLINE void copy_bytes(void *to, const void *from, uint64_t n)
{
	__asm__ volatile("cld\n\trep movsb"
			 : "+D"(to), "+S"(from), "+c"(n)
			 :
			 : "memory", "cc");
}

/* The system call's small copies out (slot out_*), as the fast-call code
 * makes them too. */
INLINE void apply_out(struct systrap_slot *s)
{
	uint32_t n = s->out_n, used = 0;
	if (!n)
		return;
	if (n > SLOT_OUT_N)
		n = SLOT_OUT_N;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = s->out_len[i];
		if (len > SLOT_OUT_BYTES - used)
			break;
		copy_bytes((void *)s->out_addr[i], s->out_buf + used, len);
		used += len;
	}
	s->out_n = 0;
}

/* fs and gs bases are not in a signal frame: set them with arch_prctl. */
INLINE void apply_tls(struct systrap_slot *s)
{
	uint32_t p = s->tls_pending;
	if (p & TLS_FS)
		sys3(SYS_arch_prctl, ARCH_SET_FS_, (long)s->regs.fs_base, 0);
	/* A gs base of 0 (the workload's default) is the slot itself: the
	 * fast-call code finds its slot there. */
	if (p & TLS_GS)
		sys3(SYS_arch_prctl, ARCH_SET_GS_,
		     s->regs.gs_base ? (long)s->regs.gs_base : (long)s, 0);
	s->tls_pending = 0;
}

extern const char stub_fastcall[] __attribute__((visibility("hidden")));
extern const char stub_fast_tail[] __attribute__((visibility("hidden")));
extern const char stub_fast_conv[] __attribute__((visibility("hidden")));
extern const char stub_fast_end[] __attribute__((visibility("hidden")));
extern const char stub_in_copy[] __attribute__((visibility("hidden")));
extern const char stub_in_skip[] __attribute__((visibility("hidden")));

/* The flags the fast-call code keeps as they were: CF PF AF ZF SF OF,
 * DF, AC. */
#define FAST_FLAGS 0x40cd5ULL

STUB void stub_signal_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	struct systrap_slot *s = slot_of((uint64_t)uc->uc_stack.ss_sp);
	struct systrap_regs *r = &s->regs;
	uint64_t rip = (uint64_t)g[REG_RIP];
	uint32_t conv = 0;

	/* The fast-call code (see the assembly below) is not inside a signal
	 * handler, so the interrupt signal can land in it. Before its exit
	 * check it only notes the interrupt, which it turns into a trap on
	 * its way out (or its next trap serves); past the check, and at its
	 * own re-trap (ud2), the thread is as good as back in the workload
	 * with the slot's registers: take those. */
	/* The fast-call code's read-ahead of the call's input faulted (a bad
	 * pointer, or one the call does not read): go on without it. */
	if ((sig == SIGSEGV || sig == SIGBUS) && rip == (uint64_t)stub_in_copy) {
		g[REG_RIP] = (greg_t)(uint64_t)stub_in_skip;
		return;
	}
	if (sig == SYSTRAP_INTERRUPT_SIGNAL && rip >= (uint64_t)stub_fastcall &&
	    rip < (uint64_t)stub_fast_tail) {
		s->intr_deferred = 1;
		return;
	}
	if (sig == SYSTRAP_INTERRUPT_SIGNAL && rip >= (uint64_t)stub_fast_tail &&
	    rip < (uint64_t)stub_fast_end)
		conv = SLOT_KIND_INTERRUPT;
	else if (sig == SIGILL && rip == (uint64_t)stub_fast_conv)
		conv = s->conv_kind == SLOT_KIND_CONVERTED ? SLOT_KIND_CONVERTED
							   : SLOT_KIND_INTERRUPT;
	if (conv) {
		regs_to_gregs(g, r);
		g[REG_EFL] = (greg_t)(((uint64_t)g[REG_EFL] & ~FAST_FLAGS) |
				      (r->eflags & FAST_FLAGS));
	}
	s->intr_deferred = 0; /* this trap reaches the sentry anyway */

	r->r8 = g[REG_R8];
	r->r9 = g[REG_R9];
	r->r10 = g[REG_R10];
	r->r11 = g[REG_R11];
	r->r12 = g[REG_R12];
	r->r13 = g[REG_R13];
	r->r14 = g[REG_R14];
	r->r15 = g[REG_R15];
	r->rdi = g[REG_RDI];
	r->rsi = g[REG_RSI];
	r->rbp = g[REG_RBP];
	r->rbx = g[REG_RBX];
	r->rdx = g[REG_RDX];
	r->rax = g[REG_RAX];
	r->rcx = g[REG_RCX];
	r->rsp = g[REG_RSP];
	r->rip = g[REG_RIP];
	r->eflags = g[REG_EFL];
	s->signo = sig;
	s->code = si->si_code;
	s->fpstate = (uint64_t)uc->uc_mcontext.fpregs;
	if (conv) {
		s->kind = conv;
		s->nr = (uint64_t)-1;
		s->arch = 0;
		s->addr = 0;
	} else if (sig == SYSTRAP_INTERRUPT_SIGNAL) {
		s->kind = SLOT_KIND_INTERRUPT;
		s->nr = (uint64_t)-1;
		s->arch = 0;
		s->addr = 0;
	} else if (sig == SIGSYS && si->si_code == 1 /* SYS_SECCOMP */) {
		s->kind = SLOT_KIND_SYSCALL;
		s->nr = (uint64_t)(int64_t)si->si_syscall;
		s->arch = si->si_arch;
		s->addr = (uint64_t)si->si_call_addr;
		/* An exit: the process's usage now, while this thread runs
		 * anyway. The sentry reads it when the stub goes, and would
		 * otherwise wake this thread to ask (some 40 us per process
		 * exit here). */
		if ((s->nr == SYS_exit_group || s->nr == SYS_exit) &&
		    s->arch == AUDIT_ARCH_X86_64_) {
			s->cmd_ret = sys3(SYS_getrusage, RUSAGE_SELF_,
					  (long)s->cmd_buf, 0);
			s->pre_rusage = 1;
		}
	} else {
		s->kind = SLOT_KIND_FAULT;
		s->nr = (uint64_t)-1;
		s->arch = 0;
		s->addr = (uint64_t)si->si_addr;
		s->err = (uint64_t)g[REG_ERR];
		s->trapno = (uint64_t)g[REG_TRAPNO];
	}
	handoff(s);
	apply_out(s);
	apply_tls(s);
	regs_to_gregs(g, r);
	g[REG_EFL] = (greg_t)r->eflags;
	if (s->fp_clear) {
		uc->uc_mcontext.fpregs = NULL;
		s->fp_clear = 0;
	}
}

STUB __attribute__((noreturn)) void stub_thread_entry(void)
{
	uint64_t sp = (uint64_t)__builtin_frame_address(0);
	struct systrap_slot *s = slot_of(sp);
	uint64_t block = block_of(sp);
	struct systrap_ctrl *ctrl = (struct systrap_ctrl *)block;
	uint64_t stack = block + SYSTRAP_STACKS_OFF +
			 (sp - block - SYSTRAP_STACKS_OFF) / SYSTRAP_STACK_SIZE *
				 SYSTRAP_STACK_SIZE;
	stack_t ss;
	struct sock_fprog prog;
	ucontext_t *uc;

	ss.ss_sp = (void *)stack;
	ss.ss_size = SYSTRAP_STACK_SIZE;
	ss.ss_flags = 0;
	if (sys3(SYS_sigaltstack, (long)&ss, 0, 0) != 0)
		sys1(SYS_exit, 1);
	prog.len = (unsigned short)ctrl->filter_len;
	prog.filter = (struct sock_filter *)ctrl->filter;
	if (sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER_, 0, (long)&prog) != 0)
		sys1(SYS_exit, 1);
	/* gs points at the slot (see apply_tls) for the fast-call code. */
	sys3(SYS_arch_prctl, ARCH_SET_GS_, (long)s, 0);

	s->kind = SLOT_KIND_START;
	s->nr = (uint64_t)-1;
	handoff(s);
	apply_tls(s);

	/* Enter the workload as a signal return would: rt_sigreturn reads the
	 * ucontext at the stack pointer. No FPU state (fpregs NULL) gives the
	 * init state; the signal mask is empty; the signal stack stays. */
	uc = (ucontext_t *)((stack + 256) & ~15ULL);
	for (unsigned i = 0; i < sizeof(*uc) / 8; i++)
		((volatile uint64_t *)uc)[i] = 0;
	uc->uc_stack.ss_sp = (void *)stack;
	uc->uc_stack.ss_size = SYSTRAP_STACK_SIZE;
	/* The FPU state the thread starts with (its creator's, as clone gives
	 * on Linux), left here by the sentry, or in the slot (fp_entry 2,
	 * its length bounded here: the slot is the workload's to write);
	 * none means the init state. */
	if (s->fp_entry == 2) {
		uint32_t n = s->fp_len;
		if (n > SLOT_FP_IMAGE_MAX)
			n = SLOT_FP_IMAGE_MAX;
		copy_bytes((void *)(stack + SYSTRAP_FP_ENTRY_OFF),
			   (const char *)s + SLOT_FP_IMAGE_OFF, n);
	}
	/* A fork child's CLONE_CHILD_SETTID, as Linux writes it before the
	 * child's first instruction (the sentry checked the address is in
	 * private anonymous writable memory; a workload that changed it
	 * here only writes its own memory). */
	if (s->settid_addr) {
		*(volatile uint32_t *)s->settid_addr = s->settid_val;
		s->settid_addr = 0;
	}
	if (s->fp_entry)
		uc->uc_mcontext.fpregs =
			(struct _libc_fpstate *)(stack + SYSTRAP_FP_ENTRY_OFF);
	greg_t *g = uc->uc_mcontext.gregs;
	struct systrap_regs *r = &s->regs;
	regs_to_gregs(g, r);
	g[REG_EFL] = (greg_t)r->eflags;
	/* cs, gs, fs, ss: the 64-bit user selectors. */
	g[REG_CSGSFS] = 0x33 | (0x2bLL << 48);
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "mov $15, %%eax\n\t" /* rt_sigreturn */
			 "syscall\n\t"
			 "ud2"
			 :
			 : "r"(uc)
			 : "memory");
	__builtin_unreachable();
}

#define S_(x) #x
#define S(x) S_(x)

/* stub_restorer: where a handler returns to (SA_RESTORER).
 * stub_inject: `syscall; int3` for the sentry's ptrace set-up.
 * stub_executor: r12 = control page, r13 = result page, r14 = last request
 * done (request numbers are even). Waits on ctrl->seq; runs ctrl->nr(args); stores the result, then the
 * request number, and wakes the sentry. No stack is used, so no other thread
 * can redirect it by writing memory: everything it acts on comes from its
 * registers and the control page, which the stub cannot write.
 *
 * SYSTRAP_OP_THREAD clones a workload thread (args as for clone); the child
 * starts at stub_thread_entry on the stack the sentry gave it.
 * SYSTRAP_OP_BATCH runs the control page's batch of calls in order, each
 * result into the result page, until one fails; the result is how many
 * succeeded.
 * SYSTRAP_OP_FORK runs a host fork (args[0] = clone flags, args[2] = the
 * child's block, args[3] = the sentry's pid). The child, alone in its copy
 * of the address space, arms PR_SET_PDEATHSIG, makes a memfd for its own
 * block, maps it (and fresh signal stacks) at args[2], tells the sentry the
 * memfd's number through the parent's result page (the sentry takes the fd
 * with pidfd_getfd), clones its first thread into slot 0 (as
 * SYSTRAP_OP_THREAD would; filter B copied from the parent's control page)
 * and leaves its tid in its own result page's ret, drops the parent's
 * block and serves its own, closing the memfd when the first request
 * comes. */
__asm__(".pushsection stub_text,\"ax\",@progbits\n"
	".globl stub_restorer\n"
	".hidden stub_restorer\n"
	"stub_restorer:\n"
	"	mov $" S(SYS_rt_sigreturn) ", %eax\n"
	"	syscall\n"
	"	ud2\n"
	".globl stub_inject\n"
	".hidden stub_inject\n"
	"stub_inject:\n"
	"	syscall\n"
	"	int3\n"
	"stub_memfd_name:\n"
	"	.asciz \"stub\"\n"
	".globl stub_executor\n"
	".hidden stub_executor\n"
	"stub_executor:\n"
	/* Awake for a while after each request: the next one often follows
	 * at once (exec's mappings, a fork's set-up), and waking a sleeping
	 * thread costs tens of microseconds on these VMs. From the 16th
	 * pause on (EXEC_YIELD_AFTER), every 16th is a sched_yield: the
	 * workload thread whose call this answered often waits for this
	 * CPU, and without the yields got it only once the whole budget
	 * (some 20 us) was spent. r15d counts the pauses (syscall keeps it;
	 * the fork child reuses r15 only past label 5). */
	"1:	xor %r15d, %r15d\n"
	"7:	mov (%r12), %eax\n"
	"	cmp %r14d, %eax\n"
	"	jne 2f\n"
	"	cmp " S(SYSTRAP_CTRL_EXEC_SPIN) "(%r12), %r15d\n"
	"	jae 8f\n"
	"	inc %r15d\n"
	"	cmp $" S(EXEC_YIELD_AFTER) ", %r15d\n"
	"	jb 18f\n"
	"	test $15, %r15d\n"
	"	jnz 18f\n"
	"	mov $" S(SYS_sched_yield) ", %eax\n"
	"	syscall\n"
	"	jmp 7b\n"
	"18:	pause\n"
	"	jmp 7b\n"
	"8:	mov %r12, %rdi\n"
	"	mov $" S(FUTEX_WAIT_) ", %esi\n"
	"	mov %r14d, %edx\n"
	"	xor %r10d, %r10d\n"
	"	mov $" S(SYS_futex) ", %eax\n"
	"	syscall\n"
	"	jmp 1b\n"
	/* A seqlock: the sentry makes seq odd while it writes a request, so
	 * a request is only run if seq was even and unchanged around the
	 * loads (the sentry may post early if the workload forged a result). */
	"2:	test $1, %eax\n"
	"	jz 6f\n"
	"	pause\n"
	"	jmp 1b\n"
	"6:	mov %eax, %ebx\n"
	"	mov 8(%r12), %rax\n"
	"	mov 16(%r12), %rdi\n"
	"	mov 24(%r12), %rsi\n"
	"	mov 32(%r12), %rdx\n"
	"	mov 40(%r12), %r10\n"
	"	mov 48(%r12), %r8\n"
	"	mov 56(%r12), %r9\n"
	"	cmp (%r12), %ebx\n"
	"	jne 1b\n"
	"	mov %ebx, %r14d\n"
	"	cmp $" S(SYSTRAP_OP_THREAD) ", %rax\n"
	"	je 4f\n"
	"	cmp $" S(SYSTRAP_OP_FORK) ", %rax\n"
	"	je 5f\n"
	"	cmp $" S(SYSTRAP_OP_BATCH) ", %rax\n"
	"	je 10f\n"
	"	syscall\n"
	"3:	mov %rax, " S(SYSTRAP_RES_RET) "(%r13)\n"
	"	mov %r14d, " S(SYSTRAP_RES_SEQ) "(%r13)\n"
	"	lea " S(SYSTRAP_RES_SEQ) "(%r13), %rdi\n"
	"	mov $" S(FUTEX_WAKE_) ", %esi\n"
	"	mov $1, %edx\n"
	"	mov $" S(SYS_futex) ", %eax\n"
	"	syscall\n"
	"	jmp 1b\n"
	"4:	mov $" S(SYS_clone) ", %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 3b\n"
	"	call stub_thread_entry\n"
	"	ud2\n"
	"5:	mov $" S(SYS_clone) ", %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 3b\n"
	/* the fork child: r15 = its block, rbx = the sentry's pid */
	"	mov %rdx, %r15\n"
	"	mov %r10, %rbx\n"
	"	mov $" S(SYS_prctl) ", %eax\n"
	"	mov $" S(PR_SET_PDEATHSIG_) ", %edi\n"
	"	mov $9, %esi\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 9f\n"
	/* the sentry may have died before PDEATHSIG was armed */
	"	mov $" S(SYS_getppid) ", %eax\n"
	"	syscall\n"
	"	cmp %rbx, %rax\n"
	"	jne 9f\n"
	/* rbx from here: the spin budget from the request (args[4]) */
	"	mov %r8d, %ebx\n"
	"	lea stub_memfd_name(%rip), %rdi\n"
	"	xor %esi, %esi\n"
	"	mov $" S(SYS_memfd_create) ", %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	js 9f\n"
	"	mov %rax, %rbp\n"
	"	mov %rbp, %rdi\n"
	"	mov $" S(SYSTRAP_SHARED_SIZE) ", %esi\n"
	"	mov $" S(SYS_ftruncate) ", %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 9f\n"
	"	mov %r15, %rdi\n"
	"	mov $" S(SYSTRAP_SHARED_SIZE) ", %esi\n"
	"	mov $3, %edx\n" /* PROT_READ | PROT_WRITE */
	"	mov $0x11, %r10d\n" /* MAP_SHARED | MAP_FIXED */
	"	mov %rbp, %r8\n"
	"	xor %r9d, %r9d\n"
	"	mov $" S(SYS_mmap) ", %eax\n"
	"	syscall\n"
	"	cmp %r15, %rax\n"
	"	jne 9f\n"
	"	lea " S(SYSTRAP_STACKS_OFF) "(%r15), %rdi\n"
	"	mov $" S(SYSTRAP_STACKS_SIZE_) ", %esi\n"
	"	mov $3, %edx\n"
	"	mov $0x32, %r10d\n" /* MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED */
	"	mov $-1, %r8\n"
	"	xor %r9d, %r9d\n"
	"	mov $" S(SYS_mmap) ", %eax\n"
	"	syscall\n"
	"	lea " S(SYSTRAP_STACKS_OFF) "(%r15), %rdi\n"
	"	cmp %rdi, %rax\n"
	"	jne 9f\n"
	/* Filter B for the first thread: the parent's, from its control
	 * page (the sentry's; read-only to the stub), as the sentry will
	 * write it there too. */
	"	lea " S(SYSTRAP_CTRL_FILTER_LEN) "(%r12), %rsi\n"
	"	lea " S(SYSTRAP_CTRL_FILTER_LEN) "(%r15), %rdi\n"
	"	mov $" S(SYSTRAP_CTRL_FILTER_BYTES) ", %ecx\n"
	"	cld\n"
	"	rep movsb\n"
	"	mov %r15, %rdi\n"
	"	mov $" S(SYSTRAP_CTRL_SIZE) ", %esi\n"
	"	mov $1, %edx\n" /* PROT_READ */
	"	mov $" S(SYS_mprotect) ", %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 9f\n"
	"	lea 1(%rbp), %eax\n"
	"	mov %eax, " S(SYSTRAP_RES_FORK_READY) "(%r13)\n"
	"	lea " S(SYSTRAP_RES_FORK_READY) "(%r13), %rdi\n"
	"	mov $" S(FUTEX_WAKE_) ", %esi\n"
	"	mov $1, %edx\n"
	"	mov $" S(SYS_futex) ", %eax\n"
	"	syscall\n"
	/* The first thread, in slot 0, as SYSTRAP_OP_THREAD would make it
	 * (the sentry would ask for it at once): it is made and sets itself
	 * up while the sentry takes and maps the block. Its tid goes in the
	 * new result page (the sentry waits for it there, with a wake). */
	"	movl $" S(SLOT_RESUME) ", " S(SYSTRAP_SLOTS_OFF) "(%r15)\n"
	"	mov $" S(SYSTRAP_THREAD_CLONE_FLAGS) ", %edi\n"
	"	lea " S(SYSTRAP_STACKS_OFF) "+" S(SYSTRAP_STACK_SIZE) "(%r15), %rsi\n"
	"	xor %edx, %edx\n"
	"	lea " S(SYSTRAP_SLOTS_OFF) "(%r15), %r10\n"
	"	xor %r8d, %r8d\n"
	"	mov $" S(SYS_clone) ", %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 17f\n"
	"	call stub_thread_entry\n"
	"	ud2\n"
	"17:	js 9f\n"
	"	mov %rax, " S(SYSTRAP_RESULT_OFF) "+" S(SYSTRAP_RES_RET) "(%r15)\n"
	"	lea " S(SYSTRAP_RESULT_OFF) "+" S(SYSTRAP_RES_RET) "(%r15), %rdi\n"
	"	mov $" S(FUTEX_WAKE_) ", %esi\n"
	"	mov $1, %edx\n"
	"	mov $" S(SYS_futex) ", %eax\n"
	"	syscall\n"
	"	mov %r12, %rdi\n"
	"	mov $" S(SYSTRAP_BLOCK_SIZE) ", %esi\n"
	"	mov $" S(SYS_munmap) ", %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 9f\n"
	"	mov %r15, %r12\n"
	"	lea " S(SYSTRAP_RESULT_OFF) "(%r15), %r13\n"
	"	xor %r14d, %r14d\n"
	/* The sentry takes the memfd (pidfd_getfd) before it posts its
	 * first request: the child closes it then, before serving anything,
	 * so no stub ever holds another block's memfd (a workload could
	 * otherwise name it as its fork child's). Until then the new block's
	 * spin budget is not set (0): stay awake a while anyway, the
	 * sentry's first requests follow at once; then sleep on seq. Woken
	 * with seq unchanged (batch_soon: an exec's batch is coming), wait
	 * awake for exec_spin pauses. */
	"	imul $" S(SYSTRAP_FORK_SPIN_MUL) ", %ebx, %ecx\n"
	"14:	mov (%r12), %eax\n"
	"	cmp %r14d, %eax\n"
	"	jne 15f\n"
	"	test %ecx, %ecx\n"
	"	jz 16f\n"
	"	pause\n"
	"	dec %ecx\n"
	"	jmp 14b\n"
	"16:	mov %r12, %rdi\n"
	"	mov $" S(FUTEX_WAIT_) ", %esi\n"
	"	mov %r14d, %edx\n"
	"	xor %r10d, %r10d\n"
	"	mov $" S(SYS_futex) ", %eax\n"
	"	syscall\n"
	"	mov " S(SYSTRAP_CTRL_EXEC_SPIN) "(%r12), %ecx\n"
	"	jmp 14b\n"
	"15:	mov %rbp, %rdi\n"
	"	mov $" S(SYS_close) ", %eax\n"
	"	syscall\n"
	"	jmp 1b\n"
	"9:	mov $1, %edi\n"
	"	mov $" S(SYS_exit_group) ", %eax\n"
	"	syscall\n"
	"	ud2\n"
	/* SYSTRAP_OP_BATCH: rdi = count; rbx = index, r15 = entry, rbp =
	 * count, all read from the control page as the single request. */
	"10:	mov %rdi, %rbp\n"
	"	cmp $" S(SYSTRAP_BATCH_MAX) ", %rbp\n"
	"	jbe 11f\n"
	"	mov $-22, %rax\n" /* EINVAL */
	"	jmp 3b\n"
	"11:	lea " S(SYSTRAP_CTRL_BATCH) "(%r12), %r15\n"
	"	xor %ebx, %ebx\n"
	"12:	cmp %rbp, %rbx\n"
	"	jae 13f\n"
	/* A newer request (posted early after a forged result) ends this
	 * batch: its entries may be changing. */
	"	mov (%r12), %eax\n"
	"	cmp %r14d, %eax\n"
	"	jne 13f\n"
	"	mov (%r15), %rax\n"
	"	mov 8(%r15), %rdi\n"
	"	mov 16(%r15), %rsi\n"
	"	mov 24(%r15), %rdx\n"
	"	mov 32(%r15), %r10\n"
	"	mov 40(%r15), %r8\n"
	"	mov 48(%r15), %r9\n"
	/* ...and again after the loads (a seqlock's second read): the
	 * registers hold one request's entry, not a mix of two. */
	"	cmp %r14d, (%r12)\n"
	"	jne 13f\n"
	"	syscall\n"
	"	mov %rax, " S(SYSTRAP_RES_BATCH_RET) "(%r13,%rbx,8)\n"
	"	cmp $-4095, %rax\n"
	"	jae 13f\n"
	"	inc %rbx\n"
	"	add $56, %r15\n"
	"	jmp 12b\n"
	"13:	mov %rbx, %rax\n"
	"	jmp 3b\n"
	".popsection\n");

/* stub_fastcall: where a patched site lands (through its block's entry),
 * with eax = k and r11 = the system call's number, on the workload's own
 * stack, which it never touches. rax, rcx and r11 are free: the real
 * instruction sets rax and clobbers rcx and r11. Until the registers are in
 * the slot only those three change (k and the flags share eax), so the slow
 * path (50:) can run the site's gadget, the original instructions, instead:
 * when gs is not a slot (the workload set its own gs base). Then the slot
 * gets what a trap would have written (rip = the gadget's after-syscall
 * address, rcx = the site's return address, r11 = rflags), the thread hands
 * off as the signal handler does, and on RESUME loads the slot's registers
 * and jumps to its rip. The flags are read with pushf and set with popf on
 * a few words of the slot used as a stack. SLOT_CONVERT (the sentry needs the FPU
 * state) and an interrupt that came meanwhile end in ud2 at stub_fast_conv
 * instead, which the signal handler turns into a trap with the slot's
 * registers and a full frame. */
__asm__(".pushsection stub_text,\"ax\",@progbits\n"
	".globl stub_fastcall\n"
	".hidden stub_fastcall\n"
	"stub_fastcall:\n"
	"	mov %eax, %ecx\n"
	"	lahf\n"
	"	seto %al\n"
	"	shl $16, %ecx\n"
	"	or %ecx, %eax\n" /* eax = k << 16 | flags */
	"	rdgsbase %rcx\n"
	"	cmp " S(PATCH_HDR) ", %rcx\n"
	"	jb 50f\n"
	"	cmp " S(PATCH_HDR_HI) ", %rcx\n"
	"	jae 50f\n"
	"	test $0xfff, %ecx\n"
	"	jnz 50f\n"
	"	mov %r15, " S(SLOT_O_R15) "(%rcx)\n"
	"	mov %r14, " S(SLOT_O_R14) "(%rcx)\n"
	"	mov %r13, " S(SLOT_O_R13) "(%rcx)\n"
	"	mov %r12, " S(SLOT_O_R12) "(%rcx)\n"
	"	mov %rbp, " S(SLOT_O_RBP) "(%rcx)\n"
	"	mov %rbx, " S(SLOT_O_RBX) "(%rcx)\n"
	"	mov %r10, " S(SLOT_O_R10) "(%rcx)\n"
	"	mov %r9, " S(SLOT_O_R9) "(%rcx)\n"
	"	mov %r8, " S(SLOT_O_R8) "(%rcx)\n"
	"	mov %rdx, " S(SLOT_O_RDX) "(%rcx)\n"
	"	mov %rsi, " S(SLOT_O_RSI) "(%rcx)\n"
	"	mov %rdi, " S(SLOT_O_RDI) "(%rcx)\n"
	"	mov %rsp, " S(SLOT_O_RSP) "(%rcx)\n"
	"	mov %r11, " S(SLOT_O_RAX) "(%rcx)\n"
	"	mov %r11, " S(SLOT_O_NR) "(%rcx)\n"
	"	mov %rcx, %r11\n"
	/* rflags: pushf on the slot's own little stack gives DF, AC and the
	 * rest as they were (nothing here changes them); the arithmetic
	 * flags come from lahf/seto, taken before the checks above. */
	"	lea " S(SLOT_O_FAST_STACK_TOP) "(%r11), %rsp\n"
	"	pushfq\n"
	"	pop %rdx\n"
	"	and $~0x8d5, %rdx\n"
	"	movzbl %ah, %ecx\n"
	"	and $0xd5, %ecx\n"
	"	or %rcx, %rdx\n"
	"	test %al, %al\n"
	"	jz 51f\n"
	"	or $0x800, %rdx\n"
	"51:	mov %rdx, " S(SLOT_O_EFLAGS) "(%r11)\n"
	"	mov %rdx, " S(SLOT_O_R11) "(%r11)\n"
	"	shr $16, %eax\n"
	"	and $" S(PATCH_MAX_MASK_) ", %eax\n"
	"	shl $" S(PATCH_BLOCK_SHIFT) ", %eax\n"
	"	lea " S(PATCH_SITES) "(%rax), %rdx\n"
	"	mov " S(PB_RET) "(%rdx), %rax\n" /* the site's return address */
	"	mov %rax, " S(SLOT_O_RCX) "(%r11)\n"
	"	mov " S(PB_RIP) "(%rdx), %rax\n"
	"	mov %rax, " S(SLOT_O_RIP) "(%r11)\n"
	"	mov %rax, " S(SLOT_O_ADDR) "(%r11)\n"
	"	movl $" S(SLOT_KIND_FASTCALL) ", " S(SLOT_O_KIND) "(%r11)\n"
	"	movl $0xc000003e, " S(SLOT_O_ARCH) "(%r11)\n" /* AUDIT_ARCH_X86_64 */
	"	mov %r11, %rbx\n"
	/* Read the call's input ahead (the control page's prefetch table
	 * names the register pointing at it), so that the sentry need not
	 * read it through /proc/PID/mem: up to SLOT_IN_BYTES, never past
	 * its page's end. A fault on the read (stub_in_copy) makes the
	 * signal handler go on at stub_in_skip, with in_len 0. */
	"	movl $0, " S(SLOT_O_IN_LEN) "(%rbx)\n"
	"	mov " S(SLOT_O_NR) "(%rbx), %rax\n"
	"	cmp $" S(SYSTRAP_PREFETCH_NR) ", %rax\n"
	"	jae 71f\n"
	"	mov %rbx, %rcx\n"
	"	and $-" S(SYSTRAP_BLOCK_SIZE) ", %rcx\n"
	"	movzbl " S(SYSTRAP_CTRL_PREFETCH) "(%rcx,%rax), %edx\n"
	"	test %edx, %edx\n"
	"	jz 71f\n"
	"	mov (%rbx,%rdx), %rsi\n"
	/* NULL (an optional argument left out) and what is not user
	 * memory would only fault */
	"	cmp $4096, %rsi\n"
	"	jb 71f\n"
	"	mov $" S(SYSTRAP_USER_TOP) ", %rcx\n"
	"	cmp %rcx, %rsi\n"
	"	jae 71f\n"
	"	mov %rsi, " S(SLOT_O_IN_ADDR) "(%rbx)\n"
	"	mov %esi, %ecx\n"
	"	and $4095, %ecx\n"
	"	neg %ecx\n"
	"	add $4096, %ecx\n"
	"	cmp $" S(SLOT_IN_BYTES) ", %ecx\n"
	"	jbe 72f\n"
	"	mov $" S(SLOT_IN_BYTES) ", %ecx\n"
	"72:	mov %ecx, %eax\n"
	"	lea " S(SLOT_O_IN_BUF) "(%rbx), %rdi\n"
	"	cld\n"
	".globl stub_in_copy\n"
	".hidden stub_in_copy\n"
	"stub_in_copy:\n"
	"	rep movsb\n"
	"	mov %eax, " S(SLOT_O_IN_LEN) "(%rbx)\n"
	".globl stub_in_skip\n"
	".hidden stub_in_skip\n"
	"stub_in_skip:\n"
	"71:\n"
	/* this CPU (this_cpu() in C) */
	"	mov $" S(CPUNODE_SEG) ", %eax\n"
	"	lsl %eax, %eax\n"
	"	and $0xfff, %eax\n"
	"	mov %ax, " S(SLOT_O_STUB_CPU) "(%rbx)\n"
	"	mov $" S(SLOT_TRAPPED) ", %eax\n"
	"	xchg %eax, " S(SLOT_O_STATE) "(%rbx)\n"
	"	cmpl $0, " S(SLOT_O_SENTRY_WAITING) "(%rbx)\n"
	"	je 52f\n"
	"	lea " S(SLOT_O_STATE) "(%rbx), %rdi\n"
	"	mov $" S(FUTEX_WAKE_) ", %esi\n"
	"	mov $1, %edx\n"
	"	mov $" S(SYS_futex) ", %eax\n"
	"	syscall\n"
	/* the hand-off's wait, as handoff() in C: spin (yielding now and
	 * then past YIELD_AFTER), then sleep with stub_waiting set */
	"52:	mov " S(SLOT_O_SPIN) "(%rbx), %r12d\n"
	"	xor %r13d, %r13d\n"
	/* no spin when the sentry thread waited on this CPU */
	"	movzwl " S(SLOT_O_SENTRY_CPU) "(%rbx), %eax\n"
	"	cmp " S(SLOT_O_STUB_CPU) "(%rbx), %ax\n"
	"	cmove %r13d, %r12d\n"
	"53:	cmpl $" S(SLOT_TRAPPED) ", " S(SLOT_O_STATE) "(%rbx)\n"
	"	jne 57f\n"
	"	cmp %r12d, %r13d\n"
	"	jae 55f\n"
	"	inc %r13d\n"
	"	cmp $" S(YIELD_AFTER) ", %r13d\n"
	"	jb 54f\n"
	"	test $15, %r13d\n"
	"	jnz 54f\n"
	"	mov $" S(SYS_sched_yield) ", %eax\n"
	"	syscall\n"
	"	jmp 53b\n"
	"54:	pause\n"
	"	jmp 53b\n"
	"55:	movl $1, " S(SLOT_O_STUB_WAITING) "(%rbx)\n"
	"	mfence\n"
	"56:	cmpl $" S(SLOT_TRAPPED) ", " S(SLOT_O_STATE) "(%rbx)\n"
	"	jne 58f\n"
	"	lea " S(SLOT_O_STATE) "(%rbx), %rdi\n"
	"	mov $" S(FUTEX_WAIT_) ", %esi\n"
	"	mov $" S(SLOT_TRAPPED) ", %edx\n"
	"	xor %r10d, %r10d\n"
	"	mov $" S(SYS_futex) ", %eax\n"
	"	syscall\n"
	"	jmp 56b\n"
	"58:	movl $0, " S(SLOT_O_STUB_WAITING) "(%rbx)\n"
	"57:	mov " S(SLOT_O_STATE) "(%rbx), %eax\n"
	"	cmp $" S(SLOT_EXIT) ", %eax\n"
	"	jne 63f\n"
	"	xor %edi, %edi\n"
	"	mov $" S(SYS_exit) ", %eax\n"
	"	syscall\n"
	"	ud2\n"
	/* SLOT_CMD: the thread's own CPU usage, as handoff() does it */
	"63:	cmp $" S(SLOT_CMD) ", %eax\n"
	"	jne 59f\n"
	"	mov " S(SLOT_O_CMD_WHO) "(%rbx), %edi\n"
	"	lea " S(SLOT_O_CMD_BUF) "(%rbx), %rsi\n"
	"	mov $" S(SYS_getrusage) ", %eax\n"
	"	syscall\n"
	"	mov %rax, " S(SLOT_O_CMD_RET) "(%rbx)\n"
	"	mov $" S(SLOT_TRAPPED) ", %eax\n"
	"	xchg %eax, " S(SLOT_O_STATE) "(%rbx)\n"
	"	cmpl $0, " S(SLOT_O_SENTRY_WAITING) "(%rbx)\n"
	"	je 52b\n"
	"	lea " S(SLOT_O_STATE) "(%rbx), %rdi\n"
	"	mov $" S(FUTEX_WAKE_) ", %esi\n"
	"	mov $1, %edx\n"
	"	mov $" S(SYS_futex) ", %eax\n"
	"	syscall\n"
	"	jmp 52b\n"
	"59:	cmp $" S(SLOT_CONVERT) ", %eax\n"
	"	jne 60f\n"
	"	movl $" S(SLOT_KIND_CONVERTED) ", " S(SLOT_O_CONV) "(%rbx)\n"
	"	jmp 61f\n"
	/* slow path: eax = k << 16 | flags, r11 = the number */
	"50:	mov %eax, %ecx\n"
	"	shr $16, %ecx\n"
	"	and $" S(PATCH_MAX_MASK_) ", %ecx\n"
	"	shl $" S(PATCH_BLOCK_SHIFT) ", %ecx\n"
	"	mov " S(PATCH_SITES_GADGET_PTR) "(%rcx), %rcx\n"
	"	add $0x7f, %al\n"
	"	sahf\n"
	"	mov %r11, %rax\n"
	"	jmp *%rcx\n"
	/* RESUME: first the system call's small copies out (slot out_*, as
	 * apply_out), before the interrupt check, so that a trap from here
	 * on finds them made. rdi, rsi, rcx, r8-r10 and the flags come back
	 * from the slot below. */
	"60:	mov " S(SLOT_O_OUT_N) "(%rbx), %r8d\n"
	"	test %r8d, %r8d\n"
	"	jz 65f\n"
	"	cmp $" S(SLOT_OUT_N) ", %r8d\n"
	"	jbe 66f\n"
	"	mov $" S(SLOT_OUT_N) ", %r8d\n"
	"66:	xor %r9d, %r9d\n" /* entry */
	"	xor %r10d, %r10d\n" /* bytes taken */
	"	cld\n"
	"67:	mov " S(SLOT_O_OUT_LEN) "(%rbx,%r9,4), %ecx\n"
	"	lea (%r10,%rcx), %rax\n"
	"	cmp $" S(SLOT_OUT_BYTES) ", %rax\n"
	"	ja 68f\n"
	"	mov " S(SLOT_O_OUT_ADDR) "(%rbx,%r9,8), %rdi\n"
	"	lea " S(SLOT_O_OUT_BUF) "(%rbx,%r10), %rsi\n"
	"	mov %rax, %r10\n"
	"	rep movsb\n"
	"	inc %r9d\n"
	"	cmp %r8d, %r9d\n"
	"	jb 67b\n"
	"68:	movl $0, " S(SLOT_O_OUT_N) "(%rbx)\n"
	"65:	cmpl $0, " S(SLOT_O_INTR) "(%rbx)\n"
	/* From here an interrupt can no longer be noted for later: the
	 * handler takes the slot's registers and traps at once. */
	".globl stub_fast_tail\n"
	".hidden stub_fast_tail\n"
	"stub_fast_tail:\n"
	"	jne 62f\n"
	/* every flag user code may set, from the slot (the sentry converts
	 * the thread rather than return with TF set) */
	"	lea " S(SLOT_O_FAST_STACK_TOP) "(%rbx), %rsp\n"
	"	pushq " S(SLOT_O_EFLAGS) "(%rbx)\n"
	"	popfq\n"
	"	mov " S(SLOT_O_R15) "(%rbx), %r15\n"
	"	mov " S(SLOT_O_R14) "(%rbx), %r14\n"
	"	mov " S(SLOT_O_R13) "(%rbx), %r13\n"
	"	mov " S(SLOT_O_R12) "(%rbx), %r12\n"
	"	mov " S(SLOT_O_RBP) "(%rbx), %rbp\n"
	"	mov " S(SLOT_O_R11) "(%rbx), %r11\n"
	"	mov " S(SLOT_O_R10) "(%rbx), %r10\n"
	"	mov " S(SLOT_O_R9) "(%rbx), %r9\n"
	"	mov " S(SLOT_O_R8) "(%rbx), %r8\n"
	"	mov " S(SLOT_O_RAX) "(%rbx), %rax\n"
	"	mov " S(SLOT_O_RCX) "(%rbx), %rcx\n"
	"	mov " S(SLOT_O_RDX) "(%rbx), %rdx\n"
	"	mov " S(SLOT_O_RSI) "(%rbx), %rsi\n"
	"	mov " S(SLOT_O_RDI) "(%rbx), %rdi\n"
	"	mov " S(SLOT_O_RSP) "(%rbx), %rsp\n"
	"	mov " S(SLOT_O_RBX) "(%rbx), %rbx\n"
	"	jmp *%gs:" S(SLOT_O_RIP) "\n"
	"62:	movl $" S(SLOT_KIND_INTERRUPT) ", " S(SLOT_O_CONV) "(%rbx)\n"
	"61:	movl $0, " S(SLOT_O_INTR) "(%rbx)\n"
	".globl stub_fast_conv\n"
	".hidden stub_fast_conv\n"
	"stub_fast_conv:\n"
	"	ud2\n"
	".globl stub_fast_end\n"
	".hidden stub_fast_end\n"
	"stub_fast_end:\n"
	".popsection\n");
