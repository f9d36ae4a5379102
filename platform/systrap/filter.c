#define _GNU_SOURCE
#include "filter.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../syscalls/table.h"

#define OFF_NR offsetof(struct seccomp_data, nr)
#define OFF_ARCH offsetof(struct seccomp_data, arch)
#define OFF_IP_LO offsetof(struct seccomp_data, instruction_pointer)
#define OFF_IP_HI (offsetof(struct seccomp_data, instruction_pointer) + 4)
#define OFF_ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))

struct prog {
	struct systrap_filter_insn *insn;
	int n, max;
};

static void emit(struct prog *p, uint16_t code, uint8_t jt, uint8_t jf,
		 uint32_t k)
{
	if (p->n < p->max)
		p->insn[p->n] = (struct systrap_filter_insn){ code, jt, jf, k };
	p->n++;
}

#define LD(off) emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(off))
#define RET(v) emit(p, BPF_RET | BPF_K, 0, 0, (v))

/* if IP outside [lo, hi): jump `skip` instructions past this 5-insn check.
 * The stub's code never crosses a 4 GiB boundary (checked at init). */
static void ip_check(struct prog *p, uint64_t lo, uint64_t hi, uint8_t skip)
{
	LD(OFF_IP_HI);
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)(skip + 3),
	     (uint32_t)(lo >> 32));
	LD(OFF_IP_LO);
	emit(p, BPF_JMP | BPF_JGE | BPF_K, 0, (uint8_t)(skip + 1), (uint32_t)lo);
	emit(p, BPF_JMP | BPF_JGE | BPF_K, skip, 0, (uint32_t)hi);
}

int systrap_filter_a(uint64_t lo, uint64_t hi, struct systrap_filter_insn *out,
		     int max)
{
	/* What the executor, thread start-up and a fork child's set-up call,
	 * from the stub's code. The executor acts only on requests from the
	 * control page (read-only in the stub) and keeps no stack, so the
	 * workload cannot choose these calls' arguments; workload threads
	 * reaching this code also face filter B, which allows far less. */
	static const int allowed[] = {
		SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise,
		SYS_futex, SYS_clone, SYS_rt_sigreturn, SYS_sigaltstack,
		SYS_seccomp, SYS_arch_prctl, SYS_exit, SYS_exit_group,
		SYS_clock_gettime,
		/* fork child: PR_SET_PDEATHSIG, the parent check, its block */
		SYS_prctl, SYS_getppid, SYS_memfd_create, SYS_ftruncate,
		/* the sentry closes the block's memfd once it holds a copy */
		SYS_close,
		/* CPU and memory accounting (executor: the stub's; a trapped
		 * thread, on request: its own) */
		SYS_getrusage,
		/* a hand-off's spin, to let a sentry thread on the same CPU
		 * run */
		SYS_sched_yield,
		/* a host fd passed in for an mmap (only from the sentry's
		 * socket, fd PLAT_FDPASS_FD), or for a big read straight into
		 * the workload's memory (the sentry checked the buffer) */
		SYS_recvmsg, SYS_pread64,
		/* before a received fd: make its slot free (dup2 of the
		 * socket over it, then close) */
		SYS_dup2,
	};
	struct prog pr = { out, 0, max }, *p = &pr;
	int n = (int)(sizeof(allowed) / sizeof(allowed[0]));

	/* 0-4: not from the stub's code: allow (filter B decides) */
	ip_check(p, lo, hi, (uint8_t)(4 + n)); /* to the final ALLOW */
	LD(OFF_ARCH);
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)(n + 1), AUDIT_ARCH_X86_64);
	LD(OFF_NR);
	for (int i = 0; i < n; i++)
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint8_t)(n - i), 0,
		     (uint32_t)allowed[i]);
	RET(SECCOMP_RET_KILL_PROCESS);
	RET(SECCOMP_RET_ALLOW);
	return p->n <= max ? p->n : -E2BIG;
}

/* The table's part: libseccomp builds it, we append it as BPF. */
static int table_program(struct systrap_filter_insn *out, int max)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int fd = -1, err = -ENOMEM;

	if (!ctx)
		return -ENOMEM;
	/* int 0x80, sysenter and x32 numbers trap too: the sentry refuses
	 * them with ENOSYS instead of reading them as 64-bit calls. */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
	if (err < 0)
		goto out;
	err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (err < 0)
		goto out;
	for (unsigned long nr = 0; nr < ABI_NR_SYSCALLS; nr++) {
		if (syscall_table[nr].cls != SC_HOST)
			continue;
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, (int)nr, 0);
		if (err < 0)
			goto out;
	}
	fd = memfd_create("systrap-filter", MFD_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = seccomp_export_bpf(ctx, fd);
	if (err < 0)
		goto out;
	off_t len = lseek(fd, 0, SEEK_END);
	if (len < 0 || len % 8 || len / 8 > max) {
		err = -E2BIG;
		goto out;
	}
	if (pread(fd, out, (size_t)len, 0) != len) {
		err = -EIO;
		goto out;
	}
	err = (int)(len / 8);
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return err;
}

int systrap_filter_b(uint64_t lo, uint64_t hi, struct systrap_filter_insn *out,
		     int max)
{
	struct prog pr = { out, 0, max }, *p = &pr;
	/* Stub-code rules: 17 instructions after the IP check. */
	const uint8_t stub_rules = 17;

	ip_check(p, lo, hi, stub_rules);
	/* 5 */ LD(OFF_ARCH);
	/* 6 */ emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 13, AUDIT_ARCH_X86_64);
	/* 7 */ LD(OFF_NR);
	/* 8 */ emit(p, BPF_JMP | BPF_JEQ | BPF_K, 12, 0, SYS_rt_sigreturn);
	/* 9 */ emit(p, BPF_JMP | BPF_JEQ | BPF_K, 11, 0, SYS_exit);
	/* 10 */ emit(p, BPF_JMP | BPF_JEQ | BPF_K, 10, 0, SYS_getrusage);
	/* the hand-off's spin lets a sentry thread on the same CPU run */
	/* 11 */ emit(p, BPF_JMP | BPF_JEQ | BPF_K, 9, 0, SYS_sched_yield);
	/* 12 */ emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, SYS_futex);
	/* 13 */ LD(OFF_ARG_LO(1));
	/* 14 */ emit(p, BPF_ALU | BPF_AND | BPF_K, 0, 0, 0x7f); /* FUTEX_CMD_MASK */
	/* 15 */ emit(p, BPF_JMP | BPF_JGT | BPF_K, 4, 5, 1); /* WAIT 0, WAKE 1 */
	/* 16 */ emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, SYS_arch_prctl);
	/* 17 */ LD(OFF_ARG_LO(0));
	/* 18 */ emit(p, BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 0x1002); /* ARCH_SET_FS */
	/* 19 */ emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0x1001); /* ARCH_SET_GS */
	/* 20 */ RET(SECCOMP_RET_KILL_PROCESS);
	/* 21 */ RET(SECCOMP_RET_ALLOW);
	if (p->n != 5 + stub_rules)
		return -EINVAL;
	int n = table_program(out + p->n, max - p->n);
	if (n < 0)
		return n;
	return p->n + n;
}
