/*
 * sigcontext: the x86-64 signal frame as a handler sees it, and what
 * rt_sigreturn restores from it.
 *
 *  - General registers: the handler reads r12/r13/rip/rax of the
 *    interrupted code (a kill syscall issued from assembly) and changes
 *    r12; the change is in effect after the return.  The 128-byte red zone
 *    below the interrupted rsp is left alone; DF is clear in the handler
 *    and restored afterwards.  cs/ss and uc_flags are checked.
 *  - Handler entry: rsp + 8 is 16-byte aligned, on the normal and on a
 *    misaligned alternate stack.
 *  - rt_sigreturn sanitises eflags (a handler cannot set IOPL, NT, VM...)
 *    and takes rip/rax from the frame (a SIGILL handler skips a ud2).
 *  - FPU/SSE/AVX state: xmm0-15, the upper halves of ymm0-15 (when the CPU
 *    has AVX), MXCSR and the x87 control word survive a handler that
 *    clobbers them all; the handler starts with the default MXCSR and
 *    control word; it finds the interrupted values in the frame, the
 *    FP_XSTATE magic numbers, and its changes to xmm3 and to ymm5's upper
 *    half in the frame are what the code sees after the return.
 *
 * Whether the CPU has AVX is printed; it is the same for a native and a
 * sandboxed run on one machine.
 */
#include "probe_proc.h"

#include <cpuid.h>
#include <ucontext.h>

#if !defined(__x86_64__)
#error "sigcontext probes the x86-64 signal frame"
#endif

#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_XSTATE_MAGIC2 0x46505845U
#ifndef UC_FP_XSTATE
#define UC_FP_XSTATE	     0x1
#define UC_SIGCONTEXT_SS     0x2
#define UC_STRICT_RESTORE_SS 0x4
#endif

/* ---- general registers -------------------------------------------------- */

struct regs_io {
	uint64_t pid, sig, in12, in13;
	uint64_t out12, out13, outrax, label, redzone_bad, eflags;
};

/*
 * Loads r12/r13, fills the red zone with a pattern, sets DF and calls
 * kill(pid, sig); the handler runs on the way back from the syscall.
 */
__asm__(".text\n"
	".globl sig_regs_probe\n"
	".type sig_regs_probe, @function\n"
	"sig_regs_probe:\n"
	"	push %rbx\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	mov %rdi, %rbx\n"
	"	mov 16(%rbx), %r12\n"
	"	mov 24(%rbx), %r13\n"
	"	mov $1, %ecx\n"
	"1:	mov %r13, %rax\n"
	"	xor %rcx, %rax\n"
	"	mov %rcx, %rdx\n"
	"	neg %rdx\n"
	"	mov %rax, (%rsp,%rdx,8)\n"
	"	inc %ecx\n"
	"	cmp $17, %ecx\n"
	"	jne 1b\n"
	"	mov $62, %eax\n"
	"	mov 0(%rbx), %rdi\n"
	"	mov 8(%rbx), %rsi\n"
	"	lea 2f(%rip), %r14\n"
	"	std\n"
	"	syscall\n"
	"2:	mov %r12, 32(%rbx)\n"
	"	mov %r13, 40(%rbx)\n"
	"	mov %rax, 48(%rbx)\n"
	"	mov %r14, 56(%rbx)\n"
	"	xor %r15, %r15\n"
	"	mov $1, %ecx\n"
	"3:	mov %r13, %rax\n"
	"	xor %rcx, %rax\n"
	"	mov %rcx, %rdx\n"
	"	neg %rdx\n"
	"	cmp %rax, (%rsp,%rdx,8)\n"
	"	je 4f\n"
	"	inc %r15\n"
	"4:	inc %ecx\n"
	"	cmp $17, %ecx\n"
	"	jne 3b\n"
	"	mov %r15, 64(%rbx)\n"
	"	pushf\n"
	"	pop %rax\n"
	"	cld\n"
	"	mov %rax, 72(%rbx)\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbx\n"
	"	ret\n"
	".size sig_regs_probe, .-sig_regs_probe\n");
void sig_regs_probe(struct regs_io *io);

#define NEW_R12 0x1234567887654321ULL
#define EFL_DF	0x400ULL

static volatile struct {
	uint64_t r12, r13, rip, rax, efl, csgsfs, uc_flags;
	int df_in_handler;
	int ran;
} seen;

static void regs_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;

	seen.df_in_handler = (__builtin_ia32_readeflags_u64() & EFL_DF) != 0;
	seen.r12 = g[REG_R12];
	seen.r13 = g[REG_R13];
	seen.rip = g[REG_RIP];
	seen.rax = g[REG_RAX];
	seen.efl = g[REG_EFL];
	seen.csgsfs = g[REG_CSGSFS];
	seen.uc_flags = uc->uc_flags;
	g[REG_R12] = (greg_t)NEW_R12;
	seen.ran = 1;
}

static void regs_tests(void)
{
	struct sigaction sa;
	struct regs_io io;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = regs_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	memset(&io, 0, sizeof(io));
	io.pid = getpid();
	io.sig = SIGUSR1;
	io.in12 = 0xa5a5a5a5a5a5a5a5ULL;
	io.in13 = 0x0123456789abcdefULL;
	sig_regs_probe(&io);

	CHECK_TRUE("handler ran", seen.ran);
	CHECK_TRUE("frame: r12 and r13 of the interrupted code",
		   seen.r12 == io.in12 && seen.r13 == io.in13);
	CHECK_TRUE("frame: rip is just after the syscall",
		   seen.rip == io.label);
	CHECK_TRUE("frame: rax holds kill's return value 0", seen.rax == 0);
	CHECK_TRUE("frame: eflags has the DF we set", (seen.efl & EFL_DF) != 0);
	CHECK_TRUE("DF clear inside the handler", !seen.df_in_handler);
	CHECK_TRUE("frame: cs == 0x33, ss == 0x2b",
		   (seen.csgsfs & 0xffff) == 0x33 &&
		       ((seen.csgsfs >> 48) & 0xffff) == 0x2b);
	CHECK_TRUE(
	    "uc_flags: UC_SIGCONTEXT_SS|UC_STRICT_RESTORE_SS",
	    (seen.uc_flags & (UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS)) ==
		(UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS));
	CHECK_TRUE("after return: r12 is the handler's value",
		   io.out12 == NEW_R12);
	CHECK_TRUE("after return: r13 untouched", io.out13 == io.in13);
	CHECK_TRUE("after return: rax == 0", io.outrax == 0);
	CHECK_RET("red-zone words clobbered", io.redzone_bad, 0);
	CHECK_TRUE("after return: DF restored", (io.eflags & EFL_DF) != 0);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- handler entry alignment ------------------------------------------- */

volatile uint64_t entry_rsp;

/* Reached only from align_tramp, by name. */
void align_handler_c(int sig);
__attribute__((used)) void align_handler_c(int sig)
{
}

__asm__(".text\n"
	".globl align_tramp\n"
	".type align_tramp, @function\n"
	"align_tramp:\n"
	"	mov %rsp, entry_rsp(%rip)\n"
	"	jmp align_handler_c\n"
	".size align_tramp, .-align_tramp\n");
void align_tramp(int sig);

static char alt[65536 + 64] __attribute__((aligned(64)));

static void align_tests(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = align_tramp;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	entry_rsp = 1;
	kill(getpid(), SIGUSR2);
	CHECK_TRUE("handler entry: (rsp + 8) % 16 == 0",
		   (entry_rsp + 8) % 16 == 0);

	stack_t ss = {.ss_sp = alt + 3, .ss_size = 65536 - 5, .ss_flags = 0};
	sigaltstack(&ss, NULL);
	entry_rsp = 1;
	kill(getpid(), SIGUSR2);
	CHECK_TRUE("on a misaligned alternate stack: still aligned",
		   (entry_rsp + 8) % 16 == 0 &&
		       entry_rsp > (uint64_t)(uintptr_t)alt &&
		       entry_rsp < (uint64_t)(uintptr_t)alt + sizeof(alt));
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	signal(SIGUSR2, SIG_DFL);
}

/* ---- sigreturn: rip, rax and eflags from the frame --------------------- */

#define EFL_ARITH      0x8d5ULL /* CF PF AF ZF SF OF */
#define EFL_IF	       0x200ULL
#define EFL_FIXED1     0x2ULL
#define EFL_PRIVILEGED 0x1b3000ULL /* IOPL, NT, VM, VIF, VIP */

static void ill_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;

	g[REG_RIP] += 2; /* skip the ud2 */
	g[REG_RAX] = 42;
	g[REG_EFL] = (greg_t)(EFL_ARITH | EFL_PRIVILEGED);
}

static void sigreturn_tests(void)
{
	struct sigaction sa;
	uint64_t rax, fl;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = ill_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGILL, &sa, NULL);
	/* Step over the red zone: pushf writes below rsp. */
	__asm__ volatile("sub $128, %%rsp\n\t"
			 "xor %%eax, %%eax\n\t"
			 "ud2\n\t"
			 "pushf\n\t"
			 "pop %%rdx\n\t"
			 "add $128, %%rsp\n\t"
			 : "=a"(rax), "=d"(fl)
			 :
			 : "memory", "cc");
	CHECK_TRUE("handler moved rip past ud2 and set rax = 42", rax == 42);
	CHECK_TRUE("arithmetic flags from the frame applied",
		   (fl & EFL_ARITH) == EFL_ARITH);
	CHECK_TRUE("IOPL/NT/VM/VIF/VIP from the frame refused",
		   (fl & EFL_PRIVILEGED) == 0);
	CHECK_TRUE("IF kept", (fl & EFL_IF) != 0);
	CHECK_TRUE("eflags exactly arith|IF|bit1",
		   fl == (EFL_ARITH | EFL_IF | EFL_FIXED1));
	signal(SIGILL, SIG_DFL);
}

/* ---- FPU / SSE / AVX ---------------------------------------------------- */

struct fpu_io {
	uint64_t pid, sig;	      /* 0, 8 */
	uint8_t in_xmm[16][16];	      /* 16 */
	uint8_t in_yhi[16][16];	      /* 272 */
	uint8_t out_xmm[16][16];      /* 528 */
	uint8_t out_yhi[16][16];      /* 784 */
	uint32_t mxcsr_in, mxcsr_out; /* 1040, 1044 */
	uint16_t fcw_in, fcw_out;     /* 1048, 1050 */
	uint32_t use_avx;	      /* 1052 */
};

_Static_assert(__builtin_offsetof(struct fpu_io, mxcsr_in) == 1040, "io");
_Static_assert(__builtin_offsetof(struct fpu_io, use_avx) == 1052, "io");

#define REGS16 "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15"

__asm__(".text\n"
	".globl sig_fpu_probe\n"
	".type sig_fpu_probe, @function\n"
	"sig_fpu_probe:\n"
	"	push %rbx\n"
	"	mov %rdi, %rbx\n"
	"	ldmxcsr 1040(%rbx)\n"
	"	fldcw 1048(%rbx)\n"
	"	.irp i," REGS16 "\n"
	"	movdqu (16+16*\\i)(%rbx), %xmm\\i\n"
	"	.endr\n"
	"	cmpl $0, 1052(%rbx)\n"
	"	je 1f\n"
	"	.irp i," REGS16 "\n"
	"	vinsertf128 $1, (272+16*\\i)(%rbx), %ymm\\i, %ymm\\i\n"
	"	.endr\n"
	"1:	mov $62, %eax\n"
	"	mov 0(%rbx), %rdi\n"
	"	mov 8(%rbx), %rsi\n"
	"	syscall\n"
	"	.irp i," REGS16 "\n"
	"	movdqu %xmm\\i, (528+16*\\i)(%rbx)\n"
	"	.endr\n"
	"	cmpl $0, 1052(%rbx)\n"
	"	je 2f\n"
	"	.irp i," REGS16 "\n"
	"	vextractf128 $1, %ymm\\i, (784+16*\\i)(%rbx)\n"
	"	.endr\n"
	"	vzeroupper\n"
	"2:	stmxcsr 1044(%rbx)\n"
	"	fnstcw 1050(%rbx)\n"
	"	sub $8, %rsp\n"
	"	movl $0x1f80, (%rsp)\n"
	"	ldmxcsr (%rsp)\n"
	"	movw $0x37f, 4(%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	add $8, %rsp\n"
	"	pop %rbx\n"
	"	ret\n"
	".size sig_fpu_probe, .-sig_fpu_probe\n");
void sig_fpu_probe(struct fpu_io *io);

static struct fpu_io fio;
static uint32_t ymm_offset; /* of the YMM_Hi128 component in XSAVE */
static const uint8_t new_xmm3[16] = {0x33, 0x33, 0x33, 0x33, 0x44, 0x44,
				     0x44, 0x44, 0x55, 0x55, 0x55, 0x55,
				     0x66, 0x66, 0x66, 0x66};
static const uint8_t new_y5hi[16] = {0xf5, 0xf5, 0xf5, 0xf5, 0xe5, 0xe5,
				     0xe5, 0xe5, 0xd5, 0xd5, 0xd5, 0xd5,
				     0xc5, 0xc5, 0xc5, 0xc5};

static volatile struct {
	uint32_t mxcsr_entry;
	uint16_t fcw_entry;
	int xmm_in_frame, yhi_in_frame, mxcsr_in_frame, fcw_in_frame;
	int magic1, magic2, uc_fp_xstate, ymm_bit;
	int ran;
} fseen;

/* Set: the handler moves the frame's FPU image (edits included) to
 * moved_fp and points the frame there; rt_sigreturn must load it from
 * there. */
static int fpu_move;
static uint8_t moved_fp[8192] __attribute__((aligned(64)));

static void fpu_handler(int sig, siginfo_t *si, void *ucv)
{
	uint32_t mx;
	uint16_t cw;

	/* First, before any compiled code can touch them. */
	__asm__ volatile("stmxcsr %0" : "=m"(mx));
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	fseen.mxcsr_entry = mx;
	fseen.fcw_entry = cw;

	ucontext_t *uc = ucv;
	struct _libc_fpstate *fp = uc->uc_mcontext.fpregs;
	uint8_t *base = (uint8_t *)fp;

	fseen.uc_fp_xstate = (uc->uc_flags & UC_FP_XSTATE) != 0;
	fseen.xmm_in_frame =
	    memcmp(fp->_xmm, fio.in_xmm, sizeof(fio.in_xmm)) == 0;
	fseen.mxcsr_in_frame = fp->mxcsr == fio.mxcsr_in;
	fseen.fcw_in_frame = fp->cwd == fio.fcw_in;

	/* The software-reserved bytes of the FXSAVE image (offset 464). */
	uint32_t magic1, ext_size, magic2 = 0;
	memcpy(&magic1, base + 464, 4);
	memcpy(&ext_size, base + 468, 4);
	fseen.magic1 = magic1 == FP_XSTATE_MAGIC1;
	if (fseen.magic1 && ext_size >= 516 && ext_size < 65536)
		memcpy(&magic2, base + ext_size - 4, 4);
	fseen.magic2 = magic2 == FP_XSTATE_MAGIC2;

	if (fio.use_avx && fseen.magic1) {
		uint64_t xstate_bv;
		memcpy(&xstate_bv, base + 512, 8);
		fseen.ymm_bit = (xstate_bv & 4) != 0;
		fseen.yhi_in_frame =
		    fseen.ymm_bit && memcmp(base + ymm_offset, fio.in_yhi,
					    sizeof(fio.in_yhi)) == 0;
		memcpy(base + ymm_offset + 16 * 5, new_y5hi, 16);
	}
	memcpy(fp->_xmm[3].element, new_xmm3, 16);
	if (fpu_move) {
		size_t len = fseen.magic1 && fseen.magic2 ? ext_size : 512;
		if (len <= sizeof(moved_fp)) {
			memcpy(moved_fp, base, len);
			memset(base, 0, 512); /* the old place is not read */
			uc->uc_mcontext.fpregs = (struct _libc_fpstate *)moved_fp;
		}
	}

	/* Clobber everything the interrupted code relies on. */
	__asm__ volatile(".irp i," REGS16 "\n"
			 "pcmpeqd %%xmm\\i, %%xmm\\i\n"
			 ".endr\n" ::
			     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
			       "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
			       "xmm12", "xmm13", "xmm14", "xmm15");
	if (fio.use_avx)
		__asm__ volatile(
		    ".irp i," REGS16 "\n"
		    "vpcmpeqd %%xmm\\i, %%xmm\\i, %%xmm\\i\n"
		    "vinsertf128 $1, %%xmm\\i, %%ymm\\i, %%ymm\\i\n"
		    ".endr\n"
		    "vzeroupper\n" ::
			: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
			  "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
			  "xmm12", "xmm13", "xmm14", "xmm15");
	uint32_t bad_mx = 0x7f80;
	uint16_t bad_cw = 0x7f;
	__asm__ volatile("ldmxcsr %0" ::"m"(bad_mx));
	__asm__ volatile("fldcw %0" ::"m"(bad_cw));
	fseen.ran = 1;
}

static int have_avx(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & (1u << 27)) || !(c & (1u << 28))) /* OSXSAVE, AVX */
		return 0;
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 6) != 6)
		return 0;
	__cpuid_count(0xd, 2, a, b, c, d);
	ymm_offset = b;
	return ymm_offset != 0;
}

/* The 16 registers' 16-byte values in a and b agree, but register skip. */
static int same_but(const uint8_t a[16][16], const uint8_t b[16][16], int skip)
{
	int same = 1;
	for (int r = 0; r < 16; r++)
		if (r != skip)
			same &= memcmp(a[r], b[r], 16) == 0;
	return same;
}

static void fpu_tests(void)
{
	struct sigaction sa;

	memset(&fio, 0, sizeof(fio));
	for (int r = 0; r < 16; r++)
		for (int i = 0; i < 16; i++) {
			fio.in_xmm[r][i] = (uint8_t)(r * 16 + i + 1);
			fio.in_yhi[r][i] = (uint8_t)(0x80 + r * 7 + i);
		}
	fio.pid = getpid();
	fio.sig = SIGUSR1;
	fio.mxcsr_in = 0x1f80 | 0x6000; /* round toward zero */
	fio.fcw_in = 0x27f;		/* 53-bit precision */
	fio.use_avx = have_avx();
	NOTE("cpu has AVX: %s\n", fio.use_avx ? "yes" : "no");

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fpu_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	sig_fpu_probe(&fio);
	signal(SIGUSR1, SIG_DFL);

	CHECK_TRUE("handler ran", fseen.ran);
	CHECK_TRUE("handler starts with MXCSR 0x1f80",
		   fseen.mxcsr_entry == 0x1f80);
	CHECK_TRUE("handler starts with x87 control word 0x37f",
		   fseen.fcw_entry == 0x37f);
	CHECK_TRUE("frame: interrupted xmm0-15", fseen.xmm_in_frame);
	CHECK_TRUE("frame: interrupted MXCSR and control word",
		   fseen.mxcsr_in_frame && fseen.fcw_in_frame);
	CHECK_TRUE("frame: UC_FP_XSTATE and both FP_XSTATE magics",
		   fseen.uc_fp_xstate && fseen.magic1 && fseen.magic2);
	CHECK_TRUE("after return: xmm0-15 (but 3) as before",
		   same_but(fio.out_xmm, fio.in_xmm, 3));
	CHECK_TRUE("after return: xmm3 is the handler's frame edit",
		   memcmp(fio.out_xmm[3], new_xmm3, 16) == 0);
	CHECK_TRUE("after return: MXCSR restored",
		   fio.mxcsr_out == fio.mxcsr_in);
	CHECK_TRUE("after return: x87 control word restored",
		   fio.fcw_out == fio.fcw_in);
	if (fio.use_avx) {
		CHECK_TRUE("frame: XSAVE header marks YMM in use",
			   fseen.ymm_bit);
		CHECK_TRUE("frame: interrupted ymm upper halves",
			   fseen.yhi_in_frame);
		CHECK_TRUE("after return: ymm upper halves (but 5) as before",
			   same_but(fio.out_yhi, fio.in_yhi, 5));
		CHECK_TRUE("after return: ymm5 upper is the handler's edit",
			   memcmp(fio.out_yhi[5], new_y5hi, 16) == 0);
	}

	/* The same with the FPU image moved by the handler. */
	fpu_move = 1;
	memset(fio.out_xmm, 0, sizeof(fio.out_xmm));
	memset(fio.out_yhi, 0, sizeof(fio.out_yhi));
	sigaction(SIGUSR1, &sa, NULL);
	sig_fpu_probe(&fio);
	signal(SIGUSR1, SIG_DFL);
	fpu_move = 0;
	CHECK_TRUE("moved image: xmm0-15 (but 3) as before",
		   same_but(fio.out_xmm, fio.in_xmm, 3));
	CHECK_TRUE("moved image: xmm3 is the handler's edit",
		   memcmp(fio.out_xmm[3], new_xmm3, 16) == 0);
	CHECK_TRUE("moved image: MXCSR and control word restored",
		   fio.mxcsr_out == fio.mxcsr_in && fio.fcw_out == fio.fcw_in);
	if (fio.use_avx)
		CHECK_TRUE("moved image: ymm5 upper is the handler's edit",
			   memcmp(fio.out_yhi[5], new_y5hi, 16) == 0);
}

int main(void)
{
	px_reset();
	regs_tests();
	align_tests();
	sigreturn_tests();
	fpu_tests();
	return probe_done();
}
