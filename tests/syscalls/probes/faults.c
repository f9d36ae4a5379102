/*
 * faults: hardware faults turned into signals, with the si_code, si_addr
 * and trap details of x86-64 Linux.
 *
 *  SIGSEGV  SEGV_MAPERR (unmapped page, NULL), SEGV_ACCERR (write to a
 *           read-only page, read of PROT_NONE, instruction fetch from a
 *           non-executable page), SI_KERNEL with si_addr 0 for a general
 *           protection fault (non-canonical address, hlt); trapno 14 and
 *           the page-fault error code bits (write, user, fetch), cr2.
 *  SIGBUS   BUS_ADRALN from a misaligned load with EFLAGS.AC set.
 *  SIGFPE   FPE_INTDIV for division by zero and for INT64_MIN / -1, with
 *           si_addr at the idiv.
 *  SIGILL   ILL_ILLOPN for ud2, si_addr at the ud2.
 *  SIGTRAP  SI_KERNEL for int3 (rip after it), TRAP_TRACE for a single
 *           step with EFLAGS.TF.
 *  And the cases that must kill: SIGSEGV blocked, ignored, a handler that
 *  returns without fixing anything (SA_RESETHAND), a fault inside the
 *  SIGSEGV handler, SIGFPE blocked, a stack overflow without an alternate
 *  stack; with one the handler runs.
 *
 * Handlers record what they saw and leave with siglongjmp.
 */
#include "probe_proc.h"

#include <setjmp.h>
#include <sys/prctl.h>
#include <ucontext.h>

#if !defined(__x86_64__)
#error "faults probes x86-64 trap details"
#endif

#define PF_WRITE 0x2
#define PF_USER	 0x4
#define PF_INSTR 0x10
#define EFL_TF	 0x100
#define EFL_AC	 0x40000

/* Instruction sites with known addresses. */
__asm__(".text\n"
	".globl fault_idiv, fault_idiv_insn\n"
	"fault_idiv:\n" /* long fault_idiv(long a, long b): a / b */
	"	mov %rdi, %rax\n"
	"	cqo\n"
	"fault_idiv_insn:\n"
	"	idiv %rsi\n"
	"	ret\n"
	".globl fault_ud2, fault_ud2_insn\n"
	"fault_ud2:\n"
	"fault_ud2_insn:\n"
	"	ud2\n"
	"	ret\n"
	".globl fault_int3, fault_int3_after\n"
	"fault_int3:\n"
	"	int3\n"
	"fault_int3_after:\n"
	"	ret\n"
	".globl fault_hlt\n"
	"fault_hlt:\n"
	"	hlt\n"
	"	ret\n"
	/* Misaligned load with AC set; the handler clears AC. */
	".globl fault_ac\n"
	"fault_ac:\n" /* uint32_t fault_ac(void *p) */
	"	pushf\n"
	"	orl $0x40000, (%rsp)\n"
	"	popf\n"
	"	movl (%rdi), %eax\n"
	"	pushf\n"
	"	andl $~0x40000, (%rsp)\n"
	"	popf\n"
	"	ret\n"
	/* Sets TF: the trap comes after the next instruction. */
	".globl fault_tf, fault_tf_after\n"
	"fault_tf:\n"
	"	pushf\n"
	"	orl $0x100, (%rsp)\n"
	"	popf\n"
	"	nop\n"
	"fault_tf_after:\n"
	"	nop\n"
	"	ret\n");
long fault_idiv(long a, long b);
void fault_ud2(void);
void fault_int3(void);
void fault_hlt(void);
uint32_t fault_ac(void *p);
void fault_tf(void);
extern char fault_idiv_insn[], fault_ud2_insn[], fault_int3_after[],
    fault_tf_after[];

static sigjmp_buf env;

static volatile struct {
	int sig, code;
	uintptr_t addr, rip, cr2;
	long trapno, err;
	int count;
} got;

static volatile int resume; /* return from the handler instead of jumping */

static void handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;

	got.sig = sig;
	got.code = si->si_code;
	got.addr = (uintptr_t)si->si_addr;
	got.rip = (uintptr_t)g[REG_RIP];
	got.trapno = g[REG_TRAPNO];
	got.err = g[REG_ERR];
	got.cr2 = (uintptr_t)g[REG_CR2];
	got.count++;
	if (resume) {
		g[REG_EFL] &= ~(greg_t)(EFL_TF | EFL_AC);
		return;
	}
	siglongjmp(env, 1);
}

static void install(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(sig, &sa, NULL);
}

static const char *codename(int sig, int code)
{
	if (code == SI_KERNEL)
		return "SI_KERNEL";
	switch (sig) {
	case SIGSEGV:
		return code == SEGV_MAPERR   ? "SEGV_MAPERR"
		       : code == SEGV_ACCERR ? "SEGV_ACCERR"
					     : "SEGV_?";
	case SIGBUS:
		return code == BUS_ADRALN   ? "BUS_ADRALN"
		       : code == BUS_ADRERR ? "BUS_ADRERR"
					    : "BUS_?";
	case SIGFPE:
		return code == FPE_INTDIV   ? "FPE_INTDIV"
		       : code == FPE_INTOVF ? "FPE_INTOVF"
					    : "FPE_?";
	case SIGILL:
		return code == ILL_ILLOPN   ? "ILL_ILLOPN"
		       : code == ILL_ILLOPC ? "ILL_ILLOPC"
					    : "ILL_?";
	case SIGTRAP:
		return code == TRAP_TRACE   ? "TRAP_TRACE"
		       : code == TRAP_BRKPT ? "TRAP_BRKPT"
					    : "TRAP_?";
	}
	return "?";
}

/* Prints "label: SIGX CODE" and checks both. */
static void check_sig(const char *label, int want_sig, int want_code)
{
	char want[64], have[64];

	snprintf(want, sizeof(want), "%s %s", px_signame(want_sig),
		 codename(want_sig, want_code));
	if (got.count == 0)
		snprintf(have, sizeof(have), "no signal");
	else
		snprintf(have, sizeof(have), "%s %s", px_signame(got.sig),
			 codename(got.sig, got.code));
	printf("%s: %s\n", label, have);
	if (strcmp(want, have) != 0)
		probe_mismatch(label, want, have);
}

#define FAULT(stmt)                                                            \
	do {                                                                   \
		memset((void *)&got, 0, sizeof(got));                          \
		if (sigsetjmp(env, 1) == 0) {                                  \
			stmt;                                                  \
		}                                                              \
	} while (0)

static volatile long sink;
/* Opaque to the compiler, so a deliberate NULL access is not "diagnosed". */
static volatile long *volatile null_ptr;

static void segv_tests(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	install(SIGSEGV);
	munmap(m + pg, pg);
	mprotect(m + 2 * pg, pg, PROT_READ);
	volatile char *hole = m + pg + 123, *ro = m + 2 * pg + 45;

	FAULT(*hole = 1);
	check_sig("write to an unmapped page", SIGSEGV, SEGV_MAPERR);
	CHECK_TRUE("si_addr and cr2 are the address",
		   got.addr == (uintptr_t)hole && got.cr2 == (uintptr_t)hole);
	CHECK_TRUE("trapno 14, error code write|user",
		   got.trapno == 14 && (got.err & (PF_WRITE | PF_USER)) ==
					   (PF_WRITE | PF_USER));

	FAULT(sink = *hole);
	check_sig("read of an unmapped page", SIGSEGV, SEGV_MAPERR);
	CHECK_TRUE("error code: a read", got.err >= 0 && !(got.err & PF_WRITE));

	FAULT(sink = *null_ptr);
	check_sig("read of NULL", SIGSEGV, SEGV_MAPERR);
	CHECK_TRUE("si_addr == 0", got.addr == 0);

	FAULT(*ro = 1);
	check_sig("write to a read-only page", SIGSEGV, SEGV_ACCERR);
	CHECK_TRUE("si_addr is the address", got.addr == (uintptr_t)ro);
	CHECK_TRUE("the page is still readable", *ro == 0);

	mprotect(m, pg, PROT_NONE);
	FAULT(sink = *(volatile char *)(m + 7));
	check_sig("read of a PROT_NONE page", SIGSEGV, SEGV_ACCERR);
	CHECK_TRUE("si_addr is the address", got.addr == (uintptr_t)(m + 7));

	/* A `ret` on a readable, non-executable page. */
	mprotect(m, pg, PROT_READ | PROT_WRITE);
	m[0] = (char)0xc3;
	mprotect(m, pg, PROT_READ);
	void (*fn)(void) = (void (*)(void))(uintptr_t)m;
	FAULT(fn());
	check_sig("call into a non-executable page", SIGSEGV, SEGV_ACCERR);
	CHECK_TRUE("si_addr and rip are the page",
		   got.addr == (uintptr_t)m && got.rip == (uintptr_t)m);
	CHECK_TRUE("error code: instruction fetch", (got.err & PF_INSTR) != 0);
	mprotect(m, pg, PROT_READ | PROT_EXEC);
	FAULT(fn());
	CHECK_TRUE("after PROT_EXEC the same call returns", got.count == 0);

	FAULT(sink = *(volatile long *)0x8000000000000000ULL);
	check_sig("non-canonical address (#GP)", SIGSEGV, SI_KERNEL);
	CHECK_TRUE("si_addr == 0", got.addr == 0);
	FAULT(fault_hlt());
	check_sig("hlt in user mode (#GP)", SIGSEGV, SI_KERNEL);
	munmap(m, 3 * pg);
	signal(SIGSEGV, SIG_DFL);
}

static void other_fault_tests(void)
{
	install(SIGFPE);
	FAULT(sink = fault_idiv(5, 0));
	check_sig("idiv by zero", SIGFPE, FPE_INTDIV);
	CHECK_TRUE("si_addr and rip at the idiv",
		   got.addr == (uintptr_t)fault_idiv_insn &&
		       got.rip == (uintptr_t)fault_idiv_insn);
	FAULT(sink = fault_idiv(INT64_MIN, -1));
	check_sig("INT64_MIN / -1 (same #DE)", SIGFPE, FPE_INTDIV);
	signal(SIGFPE, SIG_DFL);

	install(SIGILL);
	FAULT(fault_ud2());
	check_sig("ud2", SIGILL, ILL_ILLOPN);
	CHECK_TRUE("si_addr at the ud2",
		   got.addr == (uintptr_t)fault_ud2_insn &&
		       got.rip == (uintptr_t)fault_ud2_insn);
	signal(SIGILL, SIG_DFL);

	install(SIGTRAP);
	resume = 1;
	memset((void *)&got, 0, sizeof(got));
	fault_int3();
	check_sig("int3", SIGTRAP, SI_KERNEL);
	CHECK_TRUE("rip just after int3, si_addr 0",
		   got.rip == (uintptr_t)fault_int3_after && got.addr == 0);
	memset((void *)&got, 0, sizeof(got));
	fault_tf();
	check_sig("single step with EFLAGS.TF", SIGTRAP, TRAP_TRACE);
	CHECK_TRUE("one trap, after the instruction following popf",
		   got.count == 1 && got.rip == (uintptr_t)fault_tf_after);
	signal(SIGTRAP, SIG_DFL);

	install(SIGBUS);
	static char buf[16] __attribute__((aligned(16)));
	memset((void *)&got, 0, sizeof(got));
	sink = fault_ac(buf + 1);
	check_sig("misaligned load with EFLAGS.AC", SIGBUS, BUS_ADRALN);
	CHECK_TRUE("trapno 17 (#AC)", got.trapno == 17);
	resume = 0;
	signal(SIGBUS, SIG_DFL);
}

/* ---- faults that must kill ---------------------------------------------- */

static void no_core(void)
{
	struct rlimit rl = {0, 0};

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static void returning_handler(int sig)
{
}

static void faulting_handler(int sig)
{
	sink = null_ptr[1];
}

static volatile int depth_limit = 1 << 30;

static int recurse(int n)
{
	volatile char frame[1024];

	frame[0] = (char)n;
	if (n >= depth_limit)
		return 0;
	return recurse(n + 1) + frame[0];
}

static void overflow_handler(int sig)
{
	_exit(42);
}

enum fatal {
	BLOCKED,
	IGNORED,
	RESETHAND,
	NESTED,
	FPE_BLOCKED,
	OVERFLOW,
	OVERFLOW_ALT
};

static void fatal_case(const char *label, enum fatal how, const char *want)
{
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		struct sigaction sa;
		sigset_t s;
		no_core();
		memset(&sa, 0, sizeof(sa));
		sigemptyset(&s);
		switch (how) {
		case BLOCKED:
			sigaddset(&s, SIGSEGV);
			sigprocmask(SIG_BLOCK, &s, NULL);
			break;
		case IGNORED:
			signal(SIGSEGV, SIG_IGN);
			break;
		case RESETHAND:
			sa.sa_handler = returning_handler;
			sa.sa_flags = SA_RESETHAND;
			sigaction(SIGSEGV, &sa, NULL);
			break;
		case NESTED:
			sa.sa_handler = faulting_handler;
			sigaction(SIGSEGV, &sa, NULL);
			break;
		case FPE_BLOCKED:
			sigaddset(&s, SIGFPE);
			sigprocmask(SIG_BLOCK, &s, NULL);
			sink = fault_idiv(1, 0);
			_exit(0);
		case OVERFLOW:
			sa.sa_handler = overflow_handler;
			sigaction(SIGSEGV, &sa, NULL);
			sink = recurse(0);
			_exit(0);
		case OVERFLOW_ALT: {
			static char alt[65536];
			stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt)};
			sigaltstack(&ss, NULL);
			sa.sa_handler = overflow_handler;
			sa.sa_flags = SA_ONSTACK;
			sigaction(SIGSEGV, &sa, NULL);
			sink = recurse(0);
			_exit(0);
		}
		}
		sink = null_ptr[2];
		_exit(0);
	}
	px_expect_exit(label, pid, want);
}

int main(void)
{
	px_reset();
	segv_tests();
	other_fault_tests();
	fatal_case("SIGSEGV while SIGSEGV is blocked", BLOCKED,
		   "killed by SIGSEGV");
	fatal_case("SIGSEGV while SIGSEGV is ignored", IGNORED,
		   "killed by SIGSEGV");
	fatal_case("SA_RESETHAND handler returns, fault repeats", RESETHAND,
		   "killed by SIGSEGV");
	fatal_case("fault inside the SIGSEGV handler", NESTED,
		   "killed by SIGSEGV");
	fatal_case("SIGFPE while SIGFPE is blocked", FPE_BLOCKED,
		   "killed by SIGFPE");
	fatal_case("stack overflow, handler without an alternate stack",
		   OVERFLOW, "killed by SIGSEGV");
	fatal_case("stack overflow, handler on an alternate stack",
		   OVERFLOW_ALT, "exited 42");
	return probe_done();
}
