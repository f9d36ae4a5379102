/*
 * compat_syscalls: 32-bit and x32 system calls must not exist in the sandbox.
 *
 * The sandbox serves only the x86-64 system call table. A 64-bit workload
 * can still aim at the other two ABIs of an x86-64 Linux kernel:
 *   - `syscall` with bit 30 (__X32_SYSCALL_BIT) set in rax: the x32 table;
 *   - `int $0x80`, from 64-bit code or after a far jump to the 32-bit user
 *     code segment (0x23): the i386 table, where 1 is exit, 20 getpid and
 *     252 exit_group.
 * Each must come back as -ENOSYS and the program must go on: had exit(99)
 * really run, the process would end with status 99 instead of printing the
 * next line.
 *
 * usage: compat_syscalls [MODE [HOSTDIR]]
 *   x32 (default)  x32 getpid/exit/exit_group and nr -1 via `syscall`
 *   int80          int $0x80 from 64-bit mode: getpid, exit(99), exit_group(99)
 *   cs32           the same from the 32-bit code segment: getpid, exit(99)
 *   sysenter       `sysenter` from 64-bit mode with the i386 getpid number:
 *                  AMD CPUs raise #UD (SIGILL) whatever the kernel; Intel
 *                  ones enter the kernel's 32-bit entry. Either way the
 *                  call must not run on the host as a 64-bit one.
 *   probe-int80    int $0x80 getpid only, prints "int80 available": run
 *                  NATIVELY to learn whether the host has the int $0x80 gate
 *   probe-cs32     far jump to the 32-bit segment and back, no system call,
 *                  prints "cs32 available": the same for the 32-bit segment
 *   probe-sysenter sysenter with the i386 getpid number, natively: how the
 *                  host ends it is what the sandbox must match
 * With HOSTDIR, each mode also asks for mkdir HOSTDIR/compat-<mode> in its
 * ABI (x32: 0x40000000 | 83; i386: 39); security.sh checks the host.
 * A host booted without IA32 emulation has neither: `int $0x80` and the far
 * jump raise #GP and the process dies of SIGSEGV, natively as in the sandbox
 * (the trap happens before any system call exists), so security.sh asks the
 * probes first and expects the int80/cs32 modes to die the same way there.
 *
 * The int80/cs32/x32 modes are for the sandbox: natively, with IA32
 * emulation, the exit variants really end the process. Prints one `ok NAME`
 * line per check that held, `FAIL NAME: ...` otherwise; exits 0 only if
 * every check held, 2 on a bad MODE.
 *
 * Must be a static non-PIE executable: the 32-bit code runs at the address
 * the linker gave it, which has to be below 4 GiB.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define X32_SYSCALL_BIT 0x40000000L
#define I386_EXIT	1
#define I386_GETPID	20
#define I386_MKDIR	39
#define I386_EXIT_GROUP 252

static int failures;
/* Below 4 GiB (static, non-PIE): the i386 ABI passes 32-bit pointers. */
static char mkdir_path[4096];
static const char *hostdir;

static void set_path(const char *mode)
{
	snprintf(mkdir_path, sizeof(mkdir_path), "%s/compat-%s", hostdir, mode);
}

static void check(const char *name, long got, long want)
{
	if (got == want) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s: got %ld, want %ld\n", name, got, want);
		failures++;
	}
}

/* int $0x80 from 64-bit mode. The kernel's compat entry has not preserved
 * r8-r11 on every version, hence the clobbers. */
static long int80(long nr, long ebx)
{
	long ret = nr;
	__asm__ volatile("int $0x80"
			 : "+a"(ret)
			 : "b"(ebx), "c"(0L), "d"(0L), "S"(0L), "D"(0L)
			 : "r8", "r9", "r10", "r11", "memory", "cc");
	return (int)ret; /* the i386 ABI returns in eax */
}

/* sysenter from 64-bit mode. Where the CPU accepts it the kernel returns
 * through its 32-bit exit, not to the next instruction: whatever comes back
 * here is reported, nothing more is assumed. */
static long sysenter(long nr, long ebx)
{
	long ret = nr;
	__asm__ volatile("sysenter"
			 : "+a"(ret)
			 : "b"(ebx), "c"(0L), "d"(0L), "S"(0L), "D"(0L)
			 : "r8", "r9", "r10", "r11", "memory", "cc");
	return (int)ret;
}

/* The syscall instruction with a raw number (x32 numbers included). */
static long raw_syscall(long nr, long a1)
{
	long ret = nr;
	register long r10 __asm__("r10") = 0;
	__asm__ volatile("syscall"
			 : "+a"(ret)
			 : "D"(a1), "S"(0L), "d"(0L), "r"(r10)
			 : "rcx", "r11", "memory", "cc");
	return ret;
}

/* cs32_call(nr, ebx, do_int80): far jump to the 32-bit user code segment
 * (0x23), `int $0x80` there if do_int80 (else eax is only incremented), far
 * jump back to the 64-bit segment (0x33). Callee-saved registers go on the
 * stack and rsp into memory: the 32-bit part uses neither stack nor the
 * upper halves of registers. Returns eax sign-extended. */
long cs32_call(long nr, long ebx, long do_int80);
__asm__("	.data\n"
	"	.balign 8\n"
	"cs32_saved_rsp: .quad 0\n"
	"cs32_far: .long 0\n"
	"	.word 0x23\n"
	"	.text\n"
	"	.globl cs32_call\n"
	"	.type cs32_call, @function\n"
	"cs32_call:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	mov %rsp, cs32_saved_rsp(%rip)\n"
	"	mov %edi, %eax\n"
	"	mov %esi, %ebx\n"
	"	mov %edx, %ebp\n"
	"	xor %ecx, %ecx\n"
	"	xor %edx, %edx\n"
	"	xor %esi, %esi\n"
	"	xor %edi, %edi\n"
	"	lea 1f(%rip), %r8\n"
	"	mov %r8d, cs32_far(%rip)\n"
	"	ljmpl *cs32_far(%rip)\n"
	"	.code32\n"
	"1:	test %ebp, %ebp\n"
	"	jz 3f\n"
	"	int $0x80\n"
	"	jmp 4f\n"
	"3:	inc %eax\n"
	"4:	ljmp $0x33, $2f\n"
	"	.code64\n"
	"2:	mov cs32_saved_rsp(%rip), %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	movslq %eax, %rax\n"
	"	ret\n"
	"	.size cs32_call, . - cs32_call\n");

static int cs32_usable(void)
{
	if ((uintptr_t)&cs32_call < (1ULL << 32))
		return 1;
	printf("FAIL cs32: code at %p is above 4 GiB (built as PIE?)\n",
	       (void *)&cs32_call);
	failures++;
	return 0;
}

static void mode_x32(void)
{
	check("x32-getpid-enosys", raw_syscall(X32_SYSCALL_BIT | SYS_getpid, 0),
	      -ENOSYS);
	check("x32-exit-enosys", raw_syscall(X32_SYSCALL_BIT | SYS_exit, 99),
	      -ENOSYS);
	check("x32-exit_group-enosys",
	      raw_syscall(X32_SYSCALL_BIT | SYS_exit_group, 99), -ENOSYS);
	check("x32-max-enosys", raw_syscall(X32_SYSCALL_BIT | 0x3fffffffL, 0),
	      -ENOSYS);
	check("nr-minus-one-enosys", raw_syscall(-1L, 0), -ENOSYS);
	if (hostdir) {
		set_path("x32");
		check(
		    "x32-mkdir-enosys",
		    raw_syscall(X32_SYSCALL_BIT | SYS_mkdir, (long)mkdir_path),
		    -ENOSYS);
	}
}

static void mode_int80(void)
{
	check("int80-getpid-enosys", int80(I386_GETPID, 0), -ENOSYS);
	check("int80-exit-enosys", int80(I386_EXIT, 99), -ENOSYS);
	check("int80-exit_group-enosys", int80(I386_EXIT_GROUP, 99), -ENOSYS);
	if (hostdir) {
		set_path("int80");
		check("int80-mkdir-enosys", int80(I386_MKDIR, (long)mkdir_path),
		      -ENOSYS);
	}
}

static void mode_cs32(void)
{
	if (!cs32_usable())
		return;
	check("cs32-int80-getpid-enosys", cs32_call(I386_GETPID, 0, 1),
	      -ENOSYS);
	check("cs32-int80-exit-enosys", cs32_call(I386_EXIT, 99, 1), -ENOSYS);
	if (hostdir) {
		set_path("cs32");
		check("cs32-int80-mkdir-enosys",
		      cs32_call(I386_MKDIR, (long)mkdir_path, 1), -ENOSYS);
	}
}

static void mode_sysenter(void)
{
	if (hostdir)
		set_path("sysenter");
	long r = sysenter(hostdir ? I386_MKDIR : I386_GETPID,
			  hostdir ? (long)mkdir_path : 0);
	/* Only reached where sysenter returns here at all. */
	check("sysenter-enosys", r, -ENOSYS);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "x32";
	hostdir = argc > 2 ? argv[2] : NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "probe-int80") == 0) {
		/* Native only: dies of SIGSEGV where the gate is missing. */
		long r = int80(I386_GETPID, 0);
		printf("int80 available%s\n",
		       r > 0 ? "" : " (but getpid failed)");
		return 0;
	}
	if (strcmp(mode, "probe-sysenter") == 0) {
		long r = sysenter(I386_GETPID, 0);
		printf("sysenter returned %ld\n", r);
		return 0;
	}
	if (strcmp(mode, "probe-cs32") == 0) {
		if (!cs32_usable())
			return 1;
		long r = cs32_call(41, 0, 0);
		printf("cs32 available%s\n",
		       r == 42 ? "" : " (but eax is wrong)");
		return 0;
	}
	if (strcmp(mode, "x32") == 0)
		mode_x32();
	else if (strcmp(mode, "int80") == 0)
		mode_int80();
	else if (strcmp(mode, "cs32") == 0)
		mode_cs32();
	else if (strcmp(mode, "sysenter") == 0)
		mode_sysenter();
	else {
		fprintf(stderr,
			"usage: %s [x32|int80|cs32|sysenter|probe-int80|"
			"probe-cs32|probe-sysenter] [HOSTDIR]\n",
			argv[0]);
		return 2;
	}

	/* The 64-bit table still answers after all that. */
	long pid = raw_syscall(SYS_getpid, 0);
	if (pid > 0) {
		printf("ok getpid-still-works\n");
	} else {
		printf("FAIL getpid-still-works: got %ld\n", pid);
		failures++;
	}
	return failures ? 1 : 0;
}
