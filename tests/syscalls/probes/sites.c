/*
 * sites: system calls made from the same `mov $N, %eax; syscall` site many
 * times (what glibc's wrappers are), so that a sandbox that rewrites hot
 * sites (systrap) runs each check both before and after the rewrite. What
 * Linux guarantees must hold either way:
 *
 *  - All registers but rax, rcx and r11 survive; rcx is the address after
 *    the instruction, r11 the flags; the flags (DF and AC too, also across
 *    a signal delivered at the site) and the red zone below rsp are
 *    untouched.
 *  - Code that jumps to the `syscall` instruction itself, with its own
 *    rax, makes that call (not the site's); a `mov $imm, %r8d` right
 *    before `syscall` (whose bytes end like `mov $imm, %eax`) is not the
 *    call's number.
 *  - syscall(3), one site for every number: each call makes its own
 *    (an unknown number is ENOSYS, arch_prctl works through it too).
 *  - A signal sent to itself from the site is delivered on the way back,
 *    with xmm registers intact.
 *  - A read blocked at the site and interrupted by a signal is restarted
 *    (SA_RESTART) or fails with EINTR (without). (A signal that comes
 *    before the read blocks leaves its byte to be read: also right.)
 *  - A fork child and other threads go through the same sites.
 *  - Code mapped from a file privately, or shared, is never written back:
 *    the file and the shared memory keep their bytes; new code mapped
 *    where old code was runs as written (a real ud2 there is a SIGILL);
 *    code moved by mremap runs at its new place.
 */
#define _GNU_SOURCE
#include "probe.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <asm/prctl.h>

#define HOT 12 /* calls per site: well past any rewrite threshold */
#define EXPECT(label, v, want) check_ret((label), (long)(v), 0, (want))

/* ---- registers, flags, red zone ----------------------------------------- */

struct regio {
	uint64_t in[11], out[11];
	uint64_t rcx, r11, label, flags_after, redzone_bad;
};

/* getppid from one fixed site with every register loaded, CF and ZF set
 * beforehand, and a pattern in the red zone. */
static void regs_call(struct regio *io)
{
	__asm__ volatile(
		"push %%rbp\n\t"
		"push %%rbx\n\t"
		"push %%r12\n\t"
		"push %%r13\n\t"
		"push %%r14\n\t"
		"push %%r15\n\t"
		"push %%rdi\n\t"
		"mov 0(%%rdi), %%rbx\n\t"
		"mov 8(%%rdi), %%rbp\n\t"
		"mov 16(%%rdi), %%r8\n\t"
		"mov 24(%%rdi), %%r9\n\t"
		"mov 32(%%rdi), %%r10\n\t"
		"mov 40(%%rdi), %%r12\n\t"
		"mov 48(%%rdi), %%r13\n\t"
		"mov 56(%%rdi), %%r14\n\t"
		"mov 64(%%rdi), %%r15\n\t"
		"mov 72(%%rdi), %%rdx\n\t"
		"mov 80(%%rdi), %%rsi\n\t"
		/* the red zone: 16 words below rsp */
		"mov $-128, %%rax\n\t"
		"1: movq $0x5a5a5a5a, (%%rsp,%%rax)\n\t"
		"add $8, %%rax\n\t"
		"jnz 1b\n\t"
		"xor %%eax, %%eax\n\t" /* ZF */
		"stc\n\t" /* CF */
		".p2align 4\n\t"
		"mov $110, %%eax\n\t" /* getppid */
		"syscall\n\t"
		"2:\n\t"
		"lahf\n\t"
		"mov %%rax, 200(%%rdi)\n\t" /* flags_after (in bits 8-15) */
		"mov %%rcx, 176(%%rdi)\n\t"
		"mov %%r11, 184(%%rdi)\n\t"
		"xor %%ecx, %%ecx\n\t"
		"mov $-128, %%rax\n\t"
		"3: cmpq $0x5a5a5a5a, (%%rsp,%%rax)\n\t"
		"je 4f\n\t"
		"inc %%ecx\n\t"
		"4: add $8, %%rax\n\t"
		"jnz 3b\n\t"
		"mov %%rcx, 208(%%rdi)\n\t"
		"lea 2b(%%rip), %%rax\n\t"
		"mov %%rax, 192(%%rdi)\n\t"
		"mov %%rbx, 88(%%rdi)\n\t"
		"mov %%rbp, 96(%%rdi)\n\t"
		"mov %%r8, 104(%%rdi)\n\t"
		"mov %%r9, 112(%%rdi)\n\t"
		"mov %%r10, 120(%%rdi)\n\t"
		"mov %%r12, 128(%%rdi)\n\t"
		"mov %%r13, 136(%%rdi)\n\t"
		"mov %%r14, 144(%%rdi)\n\t"
		"mov %%r15, 152(%%rdi)\n\t"
		"mov %%rdx, 160(%%rdi)\n\t"
		"mov %%rsi, 168(%%rdi)\n\t"
		"pop %%rdi\n\t"
		"pop %%r15\n\t"
		"pop %%r14\n\t"
		"pop %%r13\n\t"
		"pop %%r12\n\t"
		"pop %%rbx\n\t"
		"pop %%rbp\n\t"
		:
		: "D"(io)
		: "rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11",
		  "memory", "cc");
}

static void check_regs(void)
{
	int bad_regs = 0, bad_rcx = 0, bad_r11 = 0, bad_flags = 0, bad_rz = 0;

	for (int i = 0; i < HOT; i++) {
		struct regio io;
		memset(&io, 0, sizeof(io));
		for (int j = 0; j < 11; j++)
			io.in[j] = 0x1111111111111111ULL * (uint64_t)(j + 1) + (uint64_t)i;
		regs_call(&io);
		for (int j = 0; j < 11; j++)
			bad_regs += io.out[j] != io.in[j];
		bad_rcx += io.rcx != io.label;
		bad_r11 += (io.r11 & 0x41) != 0x41; /* CF and ZF as they were */
		bad_flags += ((io.flags_after >> 8) & 0x41) != 0x41;
		bad_rz += io.redzone_bad != 0;
	}
	EXPECT("registers kept", bad_regs, 0);
	EXPECT("rcx is the return address", bad_rcx, 0);
	EXPECT("r11 holds the flags", bad_r11, 0);
	EXPECT("flags kept", bad_flags, 0);
	EXPECT("red zone kept", bad_rz, 0);
}

/* ---- DF and AC ------------------------------------------------------------ */

#define DF_AC 0x40400UL

/* getppid from a fixed site with DF and AC set; returns the flags after
 * (and r11, the flags the instruction saw), then clears both. Only
 * aligned accesses while AC is set. */
static void df_ac_call(uint64_t *after, uint64_t *r11out)
{
	uint64_t f, r11;
	__asm__ volatile("pushfq\n\t"
			 "orq $0x40400, (%%rsp)\n\t"
			 "popfq\n\t"
			 "mov $110, %%eax\n\t"
			 "syscall\n\t"
			 "pushfq\n\t"
			 "pop %0\n\t"
			 "mov %%r11, %1\n\t"
			 "pushfq\n\t"
			 "andq $~0x40400, (%%rsp)\n\t"
			 "popfq"
			 : "=&r"(f), "=&r"(r11)
			 :
			 : "rax", "rcx", "r11", "memory", "cc");
	*after = f;
	*r11out = r11;
}

/* kill(pid, SIGUSR1) from a fixed site with DF set; the flags after. */
static uint64_t df_kill(long pid)
{
	uint64_t f;
	__asm__ volatile("std\n\t"
			 "mov $62, %%eax\n\t"
			 "syscall\n\t"
			 "pushfq\n\t"
			 "pop %0\n\t"
			 "cld"
			 : "=&r"(f)
			 : "D"(pid), "S"((long)SIGUSR1)
			 : "rax", "rcx", "r11", "memory", "cc");
	return f;
}

static volatile int df_handler_saw_df;

static void on_usr1_df(int sig)
{
	uint64_t f;
	(void)sig;
	__asm__ volatile("pushfq\n\tpop %0" : "=r"(f));
	df_handler_saw_df += (f & 0x400) != 0;
}

static void check_df_ac(void)
{
	int bad = 0, bad11 = 0, bad_sig = 0;
	struct sigaction sa;

	for (int i = 0; i < HOT; i++) {
		uint64_t after, r11;
		df_ac_call(&after, &r11);
		bad += (after & DF_AC) != DF_AC;
		bad11 += (r11 & DF_AC) != DF_AC;
	}
	EXPECT("DF and AC kept", bad, 0);
	EXPECT("r11 shows DF and AC", bad11, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1_df;
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < HOT; i++)
		bad_sig += (df_kill(getpid()) & 0x400) == 0;
	signal(SIGUSR1, SIG_DFL);
	EXPECT("DF kept across a signal delivered at the site", bad_sig, 0);
	EXPECT("handlers start with DF clear", df_handler_saw_df, 0);
}

/* ---- a jump to the site's syscall instruction ---------------------------- */

/* via_jump = 0: mov $39 (getpid); syscall. 1: rax = 110 (getppid), then
 * straight to the syscall instruction of the same site. */
static long site_or_jump(int via_jump)
{
	long r;
	__asm__ volatile(
		"test %1, %1\n\t"
		"jnz 1f\n\t"
		"mov $39, %%eax\n\t"
		"2: syscall\n\t"
		"jmp 3f\n\t"
		"1: mov $110, %%eax\n\t"
		"jmp 2b\n\t"
		"3:"
		: "=&a"(r)
		: "r"(via_jump)
		: "rcx", "r11", "memory", "cc");
	return r;
}

/* getppid, with `mov $39, %r8d` (41 b8 27 00 00 00) right before the
 * syscall: read backwards, its last 5 bytes look like `mov $39, %eax`. */
static long prefixed_site(void)
{
	long r;
	__asm__ volatile("mov $110, %%eax\n\t"
			 "mov $39, %%r8d\n\t"
			 "syscall"
			 : "=&a"(r)
			 :
			 : "rcx", "r8", "r11", "memory", "cc");
	return r;
}

static void check_jump(void)
{
	int badp = 0;
	for (int i = 0; i < HOT; i++)
		badp += prefixed_site() != getppid();
	EXPECT("a mov to r8d before the syscall is not its number", badp, 0);

	int bad = 0;
	long pid = getpid(), ppid = getppid();

	for (int i = 0; i < HOT; i++)
		bad += site_or_jump(0) != pid;
	for (int i = 0; i < HOT; i++) {
		bad += site_or_jump(1) != ppid;
		bad += site_or_jump(0) != pid;
	}
	EXPECT("jumps to the syscall instruction make their own call", bad, 0);
}

/* ---- syscall(3): one site, the number in a register ------------------------ */

static void check_syscall_fn(void)
{
	long pid = getpid(), ppid = getppid();
	int bad = 0, enosys = 0, fs_ok = 0;

	for (int i = 0; i < HOT; i++) {
		bad += syscall(SYS_getppid) != ppid;
		bad += syscall(SYS_getpid) != pid;
		errno = 0;
		enosys += syscall(9999) == -1 && errno == ENOSYS;
		unsigned long fs = 0;
		fs_ok += syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) == 0 && fs != 0;
	}
	EXPECT("syscall(3): each call its own number", bad, 0);
	EXPECT("syscall(3) of an unknown number: ENOSYS", enosys, HOT);
	EXPECT("syscall(3) of arch_prctl(ARCH_GET_FS)", fs_ok, HOT);
}

/* ---- signals at the site -------------------------------------------------- */

static volatile int usr1_count;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
	/* clobber xmm0: the interrupted code must get its own back */
	__asm__ volatile("pxor %%xmm0, %%xmm0" ::: "xmm0");
}

static int kill_site_keeps_xmm(long pid)
{
	uint64_t in[2] = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL }, out[2];
	long r;
	__asm__ volatile(
		"movdqu (%3), %%xmm0\n\t"
		"mov $62, %%eax\n\t" /* kill */
		"syscall\n\t"
		"movdqu %%xmm0, (%4)\n\t"
		: "=&a"(r)
		: "D"(pid), "S"((long)SIGUSR1), "r"(in), "r"(out)
		: "rcx", "r11", "xmm0", "memory", "cc");
	return r == 0 && out[0] == in[0] && out[1] == in[1];
}

static void check_signals(void)
{
	struct sigaction sa;
	int bad = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < HOT; i++)
		bad += !kill_site_keeps_xmm(getpid());
	EXPECT("self-signals from the site delivered", usr1_count, HOT);
	EXPECT("xmm0 kept across them", bad, 0);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- restarts ------------------------------------------------------------- */

static int pipe_w = -1;

static void on_alrm(int sig)
{
	(void)sig;
	char c = 'x';
	if (write(pipe_w, &c, 1) != 1)
		_exit(3);
}

static long site_read(int fd, void *buf, size_t n)
{
	long r;
	__asm__ volatile("mov $0, %%eax\n\t"
			 "syscall"
			 : "=&a"(r)
			 : "D"((long)fd), "S"(buf), "d"(n)
			 : "rcx", "r11", "memory", "cc");
	return r;
}

static void check_restart(int restart)
{
	struct sigaction sa;
	struct itimerval it;
	int p[2], got = 0, eintr = 0, other = 0;
	char buf[4];

	if (pipe(p) < 0) {
		EXPECT("pipe", -1, 0);
		return;
	}
	pipe_w = p[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alrm;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(SIGALRM, &sa, NULL);
	for (int i = 0; i < HOT; i++) {
		memset(&it, 0, sizeof(it));
		it.it_value.tv_usec = 10000;
		setitimer(ITIMER_REAL, &it, NULL);
		long r = site_read(p[0], buf, sizeof(buf));
		if (r == 1)
			got++;
		else if (r == -EINTR) {
			eintr++;
			/* the handler's byte is there: take it */
			if (site_read(p[0], buf, sizeof(buf)) != 1)
				other++;
		} else
			other++;
	}
	/* The timer may fire before the read blocks (its byte is then
	 * simply read): which one happens is timing, what each does is not. */
	if (restart) {
		EXPECT("SA_RESTART: reads restarted and done", got, HOT);
	} else {
		EXPECT("no SA_RESTART: reads end by EINTR (or find the byte)",
		       eintr + got, HOT);
		check_true("no SA_RESTART: EINTR seen", eintr > 0);
	}
	EXPECT("reads otherwise wrong", other, 0);
	signal(SIGALRM, SIG_DFL);
	close(p[0]);
	close(p[1]);
}

/* ---- fork and threads ------------------------------------------------------ */

static long site_getppid(void)
{
	long r;
	__asm__ volatile(".p2align 4\n\t"
			 "mov $110, %%eax\n\t"
			 "syscall"
			 : "=&a"(r)
			 :
			 : "rcx", "r11", "memory", "cc");
	return r;
}

static void check_fork(void)
{
	long me = getpid();
	for (int i = 0; i < HOT; i++)
		site_getppid();
	pid_t c = fork();
	if (c == 0) {
		int bad = 0;
		for (int i = 0; i < 1000; i++)
			bad += site_getppid() != me;
		_exit(bad ? 1 : 0);
	}
	int st = -1;
	waitpid(c, &st, 0);
	EXPECT("fork child's calls from the site right",
			 WIFEXITED(st) ? WEXITSTATUS(st) : 100 + st, 0);
}

static long thread_ppid;

static void *thread_main(void *arg)
{
	long bad = 0;
	(void)arg;
	for (int i = 0; i < 20000; i++)
		bad += site_getppid() != thread_ppid;
	return (void *)bad;
}

static void check_threads(void)
{
	pthread_t t[4];
	long bad = 0;

	thread_ppid = getppid();
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thread_main, NULL);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	EXPECT("4 threads' calls from one site right", bad, 0);
}

/* ---- code mappings ---------------------------------------------------------- */

/* mov $110, %eax; syscall; ret */
static const unsigned char code_ppid[] = { 0xb8, 110, 0, 0, 0, 0x0f, 0x05, 0xc3 };
/* mov $39, %eax; ud2; ret */
static const unsigned char code_ud2[] = { 0xb8, 39, 0, 0, 0, 0x0f, 0x0b, 0xc3 };

static sigjmp_buf ill_jb;

static void on_ill(int sig)
{
	(void)sig;
	siglongjmp(ill_jb, 1);
}

static int run_code(void *at)
{
	long (*fn)(void) = (long (*)(void))at;
	long want = getppid();
	int bad = 0;
	for (int i = 0; i < HOT; i++)
		bad += fn() != want;
	return bad;
}

static void check_mappings(void)
{
	char path[] = "/tmp/probe-sites-XXXXXX";
	int fd = mkstemp(path);
	unsigned char page[4096], back[sizeof(code_ppid)];

	if (fd < 0) {
		EXPECT("mkstemp", -1, 0);
		return;
	}
	unlink(path);
	memset(page, 0xcc, sizeof(page));
	memcpy(page + 64, code_ppid, sizeof(code_ppid));
	if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page))
		EXPECT("write", -1, 0);

	/* private file mapping: the file keeps its bytes */
	unsigned char *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	EXPECT("private file code right", run_code(m + 64), 0);
	EXPECT("file bytes kept",
			 pread(fd, back, sizeof(back), 64) == (ssize_t)sizeof(back) &&
					 memcmp(back, code_ppid, sizeof(back)) == 0,
			 1);

	/* moved elsewhere (mremap), the code still runs, and returns where
	 * it now is */
	void *hole = mmap(NULL, 3 * 4096, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *mv = mremap(m, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED,
				   (char *)hole + 4096);
	EXPECT("mremap the code", mv == (unsigned char *)hole + 4096, 1);
	if (mv != MAP_FAILED)
		EXPECT("moved code right", run_code(mv + 64), 0);
	munmap(hole, 3 * 4096);
	m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);

	/* new code where the old was: runs as written; a real ud2 traps */
	munmap(m, 4096);
	void *a = mmap(m, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
			   MAP_FIXED, -1, 0);
	memset(a, 0xcc, 4096);
	memcpy((char *)a + 64, code_ud2, sizeof(code_ud2));
	mprotect(a, 4096, PROT_READ | PROT_EXEC);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_ill;
	sigaction(SIGILL, &sa, NULL);
	int ills = 0;
	for (int i = 0; i < 3; i++) {
		if (sigsetjmp(ill_jb, 1) == 0)
			((long (*)(void))((char *)a + 64))();
		else
			ills++;
	}
	signal(SIGILL, SIG_DFL);
	EXPECT("ud2 in new code at the old place traps", ills, 3);
	munmap(a, 4096);

	/* shared code: never written */
	unsigned char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	unsigned char *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	EXPECT("shared code right", run_code(x + 64), 0);
	EXPECT("shared bytes kept", memcmp(w + 64, code_ppid, sizeof(code_ppid)) == 0, 1);
	munmap(w, 4096);
	munmap(x, 4096);
	close(fd);
}

int main(void)
{
	check_regs();
	check_df_ac();
	check_jump();
	check_syscall_fn();
	check_signals();
	check_restart(1);
	check_restart(0);
	check_fork();
	check_threads();
	check_mappings();
	return probe_done();
}
