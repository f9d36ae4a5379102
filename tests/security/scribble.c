/*
 * scribble: plain stores into the stub's memory (escape attempt 4 of issue
 * 3, without system calls; hostile_mm.c covers the system calls).
 *
 * The stub's code and the vDSO are read-only: a store faults, as it would
 * natively, and the workload dies of SIGSEGV. On systrap the control page
 * is read-only in the stub too, but the result page, the slots and the
 * signal stacks are writable by design (the stub's own code writes them),
 * so the workload can scribble on them. That must only ever hurt the
 * workload itself: the sentry reads a forged slot as a trap of that thread
 * (and serves it like one: no host call outside the table), refuses a slot
 * it cannot make sense of by killing the sandbox, and never crashes.
 *
 * usage: scribble MODE [ARG]
 * MODE and what security.sh expects of it (exit status of runsc):
 *   code              store into the stub's code             139 (SIGSEGV)
 *   vdso              store into the vDSO                    139
 * systrap only (the block is found in the arena, layout.h):
 *   control           store into the control page            139
 *   slot-garbage      fill our slot with 0xa5 and wait       137 (killed)
 *   forge-getpid      forge a getpid trap: the sentry's answer (1) appears
 *                     in the slot; then go on                0
 *   forge-upper       nr 1<<40 | getpid: ENOSYS              0
 *   forge-minus1      nr -1: ENOSYS                          0
 *   forge-compat      i386 arch, exit(99): ENOSYS            0
 *   forge-mkdir DIR   mkdir DIR/forged: served by the sandbox
 *                     (in its overlay, or an error), DIR
 *                     intact on the host                     0
 *   forge-kill PID    kill(PID, SIGKILL): an error           0
 *   forge-exit        exit_group(57): the sandbox exits 57   57
 *   forge-segv        a SIGSEGV fault                        139
 *   forge-sigkill     a "fault" with signal 9                137
 *   forge-kind        kind 99                                137
 *   forge-start       kind START (thread start-up only)      137
 *   slot-lies         spin budget 2^32-1, both waiting flags set, then
 *                     200 system calls                       0
 *   idle-threads      fill slots and signal stacks of threads 1..63 with
 *                     garbage (state TRAPPED), then 200 calls 0
 *   stack             fill our own signal stack with garbage between
 *                     traps, then 200 calls                  0
 *   result-garbage    fill the result page, then mmap twice  0
 *   result-ahead      forge the executor's next answer (seq+1, -EPERM),
 *                     then mmap twice: the first may believe
 *                     the lie, the second must be real       0
 *   fast-forge DIR    jump into the fast-call code (rewritten system
 *                     call sites) with the last site number (none so
 *                     small a program rewrites) and
 *                     mkdir(DIR/forged-fast): served by the sandbox, DIR
 *                     intact; the "return address" of no site is 0 139
 *   fast-gs-arena     gs base at another (unmapped) block of the arena,
 *                     then the same jump: a fault in the stub's code,
 *                     a SIGSEGV for the workload                   139
 *   fork-ready        a thread keeps writing fd numbers (1..8) as the
 *                     fork child's memfd into the result page while
 *                     the main thread forks 30 times: forks run or
 *                     fail, never with another block             0
 * (Without site rewriting the region is absent: reading its header is the
 * SIGSEGV.)
 * A mode that expects to be killed waits (without system calls, a few
 * seconds by the TSC) and exits 10 if nothing happened; a forged trap the
 * sentry never answers exits 11. Exit 2: bad usage or no block found.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#include "../../platform/systrap/layout.h"
#include "attempt.h"

/* About 5 s at 2 GHz or more: only a bound for a wait that should end in
 * a fraction of a second (the sentry's liveness check runs every 100 ms). */
#define WAIT_CYCLES 10000000000ULL

static volatile struct systrap_slot *slot;
static uintptr_t block;

static void store32(volatile uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static uint32_t load32(volatile uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

/* No system call may happen here: the first trap would overwrite the slot. */
static void wait_to_be_killed(const char *mode)
{
	uint64_t end = __rdtsc() + WAIT_CYCLES;
	while (__rdtsc() < end)
		_mm_pause();
	printf("FAIL %s: still running: the sentry did not react\n", mode);
	exit(10);
}

/* Posts a trap in our own slot while we keep running, and waits for the
 * sentry's answer. Returns the rax it wrote back. */
static long forge(const char *mode, uint32_t kind, uint64_t nr, uint32_t arch,
		  int signo, uint64_t a0, uint64_t a1)
{
	slot->kind = kind;
	slot->nr = nr;
	slot->arch = arch;
	slot->signo = signo;
	slot->code = 0;
	slot->addr = 0;
	slot->regs.rax = (uint64_t)-ENOSYS;
	slot->regs.rdi = a0;
	slot->regs.rsi = a1;
	slot->regs.rdx = 0;
	slot->regs.r10 = 0;
	slot->stub_waiting = 0;
	store32(&slot->state, SLOT_TRAPPED);
	uint64_t end = __rdtsc() + WAIT_CYCLES;
	while (load32(&slot->state) == SLOT_TRAPPED && __rdtsc() < end)
		_mm_pause();
	if (load32(&slot->state) == SLOT_TRAPPED) {
		printf("FAIL %s: the sentry never answered the forged trap\n",
		       mode);
		exit(11);
	}
	return (long)slot->regs.rax;
}

/* Jumps to the fast-call code's entry, as a rewritten site's block does
 * (eax = the site's number, r11 = the call's), with two arguments. Does
 * not return here: the code "returns" to the site's address. */
static void fast_jump(const char *mode, uint32_t k, uint64_t nr, uint64_t a0,
		      uint64_t a1)
{
	uint64_t target = *(volatile uint64_t *)PATCH_HDR_COMMON;
	register uint64_t r11 __asm__("r11") = nr;
	register uint64_t rax __asm__("rax") = k;
	register uint64_t rdi __asm__("rdi") = a0;
	register uint64_t rsi __asm__("rsi") = a1;
	__asm__ volatile("jmp *%4"
			 :
			 : "r"(r11), "r"(rax), "r"(rdi), "r"(rsi), "r"(target)
			 : "memory");
	printf("FAIL %s: came back from the fast-call code\n", mode);
	exit(12);
}

static int calls_still_work(const char *name)
{
	pid_t first = getpid();
	for (int i = 0; i < 200; i++)
		if (RAW(SYS_getpid) != first) {
			fail(name, "getpid changed its answer");
			return 1;
		}
	pass(name);
	return 0;
}

/* A mapping made through the executor, written and read back. */
static void mmap_works(const char *name, long r)
{
	if (r < 0 || r % PAGE) {
		fail(name, "mmap: %s", ename(r));
		return;
	}
	memset((void *)r, 0x3c, 3 * PAGE);
	if (((unsigned char *)r)[3 * PAGE - 1] == 0x3c)
		printf("ok %s\n", name);
	else
		fail(name, "the mapping does not hold what was written");
}

static long map3(void)
{
	return RAW(SYS_mmap, 0, 3 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static int need_block(void)
{
	block = find_block();
	if (!block) {
		fprintf(stderr, "scribble: no systrap block here\n");
		return -1;
	}
	/* Thread 0's slot: the only workload thread so far. */
	slot = (volatile struct systrap_slot *)(block + SYSTRAP_SLOTS_OFF);
	return 0;
}

static volatile int spam_stop;

/* fork_ready is the futex word a fork child tells the sentry its memfd
 * by; the workload can write it too. Plain stores only. */
static void *spam_fork_ready(void *arg)
{
	volatile uint32_t *fr = (volatile uint32_t *)(block + SYSTRAP_RESULT_OFF +
						     SYSTRAP_RES_FORK_READY);
	uint32_t v = 1;
	(void)arg;
	while (!spam_stop) {
		store32(fr, v);
		v = v % 8 + 1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (vdso_find() < 0)
		vdso = vdso_size = 0;
	find_reserved();

	if (!strcmp(mode, "code") || !strcmp(mode, "vdso")) {
		uintptr_t a = 0;
		for (int i = 0; i < nreserved && !a && mode[0] == 'c'; i++)
			if (is_code_range(&reserved[i]))
				a = reserved[i].start;
		if (mode[0] == 'v')
			a = vdso;
		if (!a)
			return 2;
		printf("storing into %s at %#lx\n", mode, (unsigned long)a);
		*(volatile uint64_t *)a = 0x0b0f0b0f0b0f0b0fULL; /* ud2 x4 */
		printf("FAIL %s: the store went through\n", mode);
		return 1;
	}
	if (need_block() < 0)
		return 2;
	printf("block at %#lx\n", (unsigned long)block);

	if (!strcmp(mode, "control")) {
		struct systrap_ctrl *c = (struct systrap_ctrl *)block;
		*(volatile uint64_t *)&c->nr = SYS_kill;
		printf("FAIL control: the store went through\n");
		return 1;
	}
	if (!strcmp(mode, "slot-garbage")) {
		memset((void *)slot, 0xa5, SYSTRAP_SLOT_SIZE);
		wait_to_be_killed(mode);
	}
	if (!strcmp(mode, "forge-getpid")) {
		long r = forge(mode, SLOT_KIND_SYSCALL, SYS_getpid,
			       AUDIT_ARCH_X86_64, SIGSYS, 0, 0);
		if (r == 1)
			pass("forge-getpid-served");
		else
			fail("forge-getpid-served", "got %s, want 1", ename(r));
		calls_still_work("forge-getpid-calls-after");
		return failures ? 1 : 0;
	}
	static const struct {
		const char *mode;
		uint64_t nr;
		uint32_t arch;
	} enosys[] = {
	    {"forge-upper", (1ULL << 40) | SYS_getpid, AUDIT_ARCH_X86_64},
	    {"forge-minus1", (uint64_t)-1, AUDIT_ARCH_X86_64},
	    {"forge-compat", 1 /* i386 exit */, AUDIT_ARCH_I386},
	};
	for (size_t i = 0; i < sizeof(enosys) / sizeof(enosys[0]); i++) {
		if (strcmp(mode, enosys[i].mode))
			continue;
		expect_err(mode,
			   forge(mode, SLOT_KIND_SYSCALL, enosys[i].nr,
				 enosys[i].arch, SIGSYS, 99, 0),
			   ENOSYS);
		calls_still_work("calls-after");
		return failures ? 1 : 0;
	}
	if (!strcmp(mode, "forge-mkdir") && arg) {
		static char path[4096];
		snprintf(path, sizeof(path), "%s/forged", arg);
		/* The sandbox may well make it, in its own tree: what
		 * counts is the host's DIR, which security.sh checks. */
		long r = forge(mode, SLOT_KIND_SYSCALL, SYS_mkdir,
			       AUDIT_ARCH_X86_64, SIGSYS, (uint64_t)path, 0755);
		printf("ok %s answered %ld\n", mode, r);
		calls_still_work("calls-after");
		return failures ? 1 : 0;
	}
	if (!strcmp(mode, "fast-forge") && arg) {
		static char path[4096];
		snprintf(path, sizeof(path), "%s/forged-fast", arg);
		fast_jump(mode, PATCH_MAX - 1, SYS_mkdir, (uint64_t)path, 0755);
	}
	if (!strcmp(mode, "fast-gs-arena")) {
		uintptr_t other = 0;
		for (int i = 0; i < nreserved; i++)
			if (reserved[i].start <= block && block < reserved[i].end)
				other = reserved[i].end - SYSTRAP_BLOCK_SIZE == block
						? reserved[i].start
						: reserved[i].end - SYSTRAP_BLOCK_SIZE;
		if (!other || RAW(SYS_arch_prctl, ARCH_SET_GS, other + SYSTRAP_SLOTS_OFF)) {
			fprintf(stderr, "scribble: cannot set gs\n");
			return 2;
		}
		fast_jump(mode, PATCH_MAX - 1, SYS_getpid, 0, 0);
	}
	if (!strcmp(mode, "fork-ready")) {
		pthread_t th;
		int ran = 0, failed = 0;
		if (pthread_create(&th, NULL, spam_fork_ready, NULL))
			return 2;
		for (int i = 0; i < 30; i++) {
			pid_t p = fork();
			if (p == 0)
				_exit(0);
			if (p < 0) {
				failed++;
				continue;
			}
			int st = 0;
			if (waitpid(p, &st, 0) == p && WIFEXITED(st) &&
			    WEXITSTATUS(st) == 0)
				ran++;
		}
		spam_stop = 1;
		pthread_join(th, NULL);
		printf("ok %s: %d forks ran, %d failed\n", mode, ran, failed);
		calls_still_work("calls-after");
		return failures ? 1 : 0;
	}
	if (!strcmp(mode, "forge-kill") && arg) {
		expect_any_err(mode, forge(mode, SLOT_KIND_SYSCALL, SYS_kill,
					   AUDIT_ARCH_X86_64, SIGSYS,
					   strtoull(arg, NULL, 0), SIGKILL));
		calls_still_work("calls-after");
		return failures ? 1 : 0;
	}
	if (!strcmp(mode, "forge-exit")) {
		forge(mode, SLOT_KIND_SYSCALL, SYS_exit_group,
		      AUDIT_ARCH_X86_64, SIGSYS, 57, 0);
		wait_to_be_killed(mode);
	}
	static const struct {
		const char *mode;
		uint32_t kind;
		int signo;
	} bad_traps[] = {
	    {"forge-segv", SLOT_KIND_FAULT, SIGSEGV},
	    {"forge-sigkill", SLOT_KIND_FAULT, SIGKILL},
	    {"forge-kind", 99, SIGSEGV},
	    {"forge-start", SLOT_KIND_START, 0},
	};
	for (size_t i = 0; i < sizeof(bad_traps) / sizeof(bad_traps[0]); i++) {
		if (strcmp(mode, bad_traps[i].mode))
			continue;
		slot->kind = bad_traps[i].kind;
		slot->signo = bad_traps[i].signo;
		slot->nr = (uint64_t)-1;
		slot->addr = 0x1000;
		store32(&slot->state, SLOT_TRAPPED);
		wait_to_be_killed(mode);
	}
	if (!strcmp(mode, "slot-lies")) {
		slot->spin = 0xffffffffu;
		slot->sentry_waiting = 1;
		slot->stub_waiting = 1;
		return calls_still_work(mode);
	}
	if (!strcmp(mode, "idle-threads")) {
		for (int i = 1; i < SYSTRAP_MAX_THREADS; i++) {
			volatile struct systrap_slot *s =
			    (volatile struct systrap_slot
				 *)(block + SYSTRAP_SLOTS_OFF +
				    i * SYSTRAP_SLOT_SIZE);
			memset((void *)s, 0x5a, SYSTRAP_SLOT_SIZE);
			s->kind = SLOT_KIND_SYSCALL;
			s->nr = SYS_exit_group;
			s->regs.rdi = 58;
			store32(&s->state, SLOT_TRAPPED);
			memset((void *)(block + SYSTRAP_STACKS_OFF +
					i * SYSTRAP_STACK_SIZE),
			       0x5a, SYSTRAP_STACK_SIZE);
		}
		return calls_still_work(mode);
	}
	if (!strcmp(mode, "stack")) {
		/* Between traps nothing lives there: each trap's frame is
		 * written fresh by the kernel. */
		memset((void *)(block + SYSTRAP_STACKS_OFF), 0xc3,
		       SYSTRAP_STACK_SIZE);
		return calls_still_work(mode);
	}
	if (!strcmp(mode, "result-garbage")) {
		memset((void *)(block + SYSTRAP_RESULT_OFF), 0x77,
		       SYSTRAP_RESULT_SIZE);
		mmap_works("result-garbage-first-mmap", map3());
		mmap_works("result-garbage-second-mmap", map3());
		return failures ? 1 : 0;
	}
	if (!strcmp(mode, "result-ahead")) {
		struct systrap_result *res =
		    (struct systrap_result *)(block + SYSTRAP_RESULT_OFF);
		uint32_t next = load32(&res->seq) + 1;
		res->ret = -EPERM;
		store32(&res->seq, next);
		long r = map3();
		if (r == -EPERM)
			pass("result-ahead-first-mmap-believed-the-lie");
		else
			mmap_works("result-ahead-first-mmap-real", r);
		mmap_works("result-ahead-second-mmap", map3());
		return failures ? 1 : 0;
	}
	fprintf(stderr, "scribble: unknown mode '%s' (see the source)\n", mode);
	return 2;
}
