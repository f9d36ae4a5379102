/* Memory shared between the sentry and a systrap stub. Each address space
 * owns one 4 MiB block at the same virtual address in the sentry and in the
 * stub (both map one memfd there); the stub's code is one region common to
 * every stub. Included by the sentry side (systrap.c) and by the code that
 * runs inside the stub (stub_code.c), so: no pointers to sentry memory, and
 * the constants are plain numbers the stub's assembly can use.
 *
 *   block + 0            control   RO in the stub: executor requests (one, or a
 *                                  batch), filter B
 *   block + CTRL_SIZE    result    RW: executor results, set-up scratch
 *   block + SLOTS_OFF    slots     RW: one per stub thread (registers, state)
 *   block + STACKS_OFF   stacks    RW, stub-private: each thread's signal stack
 *
 * Everything the stub can write (result page, slots, stacks) is untrusted
 * input to the sentry. */
#pragma once

#include <stdint.h>

#define SYSTRAP_BLOCK_SIZE 0x400000
#define SYSTRAP_CTRL_SIZE 0x3000
#define SYSTRAP_RESULT_OFF 0x3000
#define SYSTRAP_RESULT_SIZE 0x1000
#define SYSTRAP_SLOTS_OFF 0x4000
#define SYSTRAP_SLOT_SIZE 0x1000
#define SYSTRAP_MAX_THREADS 128
#define SYSTRAP_SHARED_SIZE 0x84000 /* SLOTS_OFF + MAX_THREADS * SLOT_SIZE */
#define SYSTRAP_STACKS_OFF 0x200000
#define SYSTRAP_STACK_SIZE 0x4000
#define SYSTRAP_FILTER_MAX 1000
/* Where, in a thread's signal stack, the sentry leaves the FPU image a new
 * thread starts with (64-byte aligned, room for any XSAVE layout). */
#define SYSTRAP_FP_ENTRY_OFF 0x800

/* Executor requests beside plain system call numbers. */
#define SYSTRAP_OP_THREAD (-2) /* clone a workload thread into the stub */
#define SYSTRAP_OP_FORK (-3) /* host fork; the child moves to a new block */
/* Runs ctrl->batch[0 .. args[0]) in order, stopping after the first that
 * fails; result: how many succeeded; res->batch_ret[i] each result. */
#define SYSTRAP_OP_BATCH (-4)
#define SYSTRAP_BATCH_MAX 64

#define SYSTRAP_CTRL_EXEC_SPIN 4
/* A fork child's executor waits awake this many times its parent's spin
 * budget before its own block's budget is set (about the sentry's time to
 * map the block; 0 with one CPU, as the budget). */
#define SYSTRAP_FORK_SPIN_MUL 5
#define SYSTRAP_CTRL_BATCH 8072 /* 72 + 8 * FILTER_MAX */
#define SYSTRAP_CTRL_PREFETCH 11656 /* CTRL_BATCH + 56 * BATCH_MAX */
#define SYSTRAP_PREFETCH_NR 512
#define SYSTRAP_USER_TOP 0x7ffffffff000 /* the end of user memory */
/* filter_len, pad2 and filter: what a fork child copies from its parent's
 * control page into its own for its first thread (SYSTRAP_OP_FORK). */
#define SYSTRAP_CTRL_FILTER_LEN 64
#define SYSTRAP_CTRL_FILTER_BYTES 8008 /* CTRL_BATCH - CTRL_FILTER_LEN */
/* A stub thread's clone flags (thread_spawn's, and a fork child's first
 * thread): CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
 * CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID. */
#define SYSTRAP_THREAD_CLONE_FLAGS 0x250f00

/* Offsets in the result page the stub's assembly writes. */
#define SYSTRAP_RES_SEQ 0
#define SYSTRAP_RES_RET 8
#define SYSTRAP_RES_FORK_READY 16
#define SYSTRAP_RES_BATCH_RET 2072

/* Slot states. DEAD is 0 because the kernel clears the word on thread death
 * (CLONE_CHILD_CLEARTID) and wakes its futex. */
#define SLOT_DEAD 0
#define SLOT_TRAPPED 1 /* the stub thread waits; the sentry serves */
#define SLOT_RESUME 2 /* the workload runs */
#define SLOT_EXIT 3 /* the sentry asks the stub thread to exit */
#define SLOT_CMD 4 /* the sentry asks the trapped thread for its rusage */
/* A thread trapped through a patched site (no signal frame) must re-trap
 * through the signal handler, so its FPU state sits in a frame. */
#define SLOT_CONVERT 5
/* The workload thread exited; its host thread waits at START again, for
 * the next clone (thread_park). */
#define SLOT_PARK 6

#define SLOT_KIND_SYSCALL 1
#define SLOT_KIND_FAULT 2
#define SLOT_KIND_START 3
#define SLOT_KIND_INTERRUPT 4
#define SLOT_KIND_FASTCALL 5 /* a system call through a patched site */
#define SLOT_KIND_CONVERTED 6 /* re-trapped after SLOT_CONVERT */

#define TLS_FS 1
#define TLS_GS 2

/* The host signal the sentry sends a stub thread to make it trap. */
#define SYSTRAP_INTERRUPT_SIGNAL 12 /* SIGUSR2 */

struct systrap_regs {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	uint64_t rax, rcx, rdx, rsi, rdi, orig_rax;
	uint64_t rip, cs, eflags, rsp, ss;
	uint64_t fs_base, gs_base, ds, es, fs, gs;
};

#define SLOT_OUT_N 4
#define SLOT_OUT_BYTES 256
#define SLOT_IN_BYTES 256

struct systrap_slot {
	uint32_t state; /* futex word */
	uint32_t stub_waiting; /* the stub sleeps on state: wake it */
	uint32_t sentry_waiting; /* the sentry sleeps on state: wake it */
	uint32_t kind;
	int32_t signo, code;
	uint32_t arch;
	uint32_t tls_pending; /* TLS_FS | TLS_GS: the sentry changed a base */
	uint64_t addr, nr;
	uint64_t err, trapno; /* of a fault, from the kernel's frame */
	uint32_t spin; /* pause iterations before sleeping */
	/* The CPU each side last waited on, a hint: a side that finds the
	 * other one on its own CPU sleeps at once instead of spinning, since
	 * its spinning would only keep the other from running. Here because
	 * both sides write this cache line on every call anyway. */
	uint16_t stub_cpu, sentry_cpu;
	uint64_t fpstate; /* where the trap frame's FPU state is (stub address) */
	struct systrap_regs regs;
	int32_t cmd_who; /* SLOT_CMD: getrusage's who */
	uint32_t fp_entry; /* a new thread starts with the image at FP_ENTRY_OFF */
	int64_t cmd_ret;
	uint8_t cmd_buf[256]; /* SLOT_CMD: getrusage(RUSAGE_THREAD) output */
	/* The interrupt signal came while the thread ran the fast-call code:
	 * it traps as an interrupt on its way out instead. */
	uint32_t intr_deferred;
	uint32_t conv_kind; /* fast-call code's re-trap: CONVERTED or INTERRUPT */
	/* The fast-call code's stack for pushf/popf (it never touches the
	 * workload's). */
	uint64_t fast_stack[4];
	/* Set by the stub when it traps an exit: cmd_buf already holds its
	 * process's getrusage (RUSAGE_SELF), cmd_ret its result. */
	uint32_t pre_rusage;
	/* For a new thread's entry (stub_thread_entry), set by the sentry
	 * before its first resume. fp_entry 2: the FPU image is in this slot
	 * at SLOT_FP_IMAGE_OFF, fp_len bytes, copied to FP_ENTRY_OFF first.
	 * settid_addr (not 0): settid_val goes there before the workload
	 * runs (a fork child's CLONE_CHILD_SETTID, in private anonymous
	 * memory the sentry checked). */
	uint32_t fp_len;
	uint32_t settid_val;
	uint64_t settid_addr;
	/* A system call's small copies out, made by the thread itself as it
	 * resumes, before any workload instruction (the sentry's
	 * copy_out_defer): out_n entries, out_len[i] bytes to out_addr[i],
	 * the bytes one after another in out_buf. The thread clears out_n
	 * and bounds what it reads (the slot is the workload's to write). */
	uint32_t out_n;
	uint32_t out_len[SLOT_OUT_N];
	uint64_t out_addr[SLOT_OUT_N];
	uint8_t out_buf[SLOT_OUT_BYTES];
	/* A fast call's input, read by the fast-call code as it traps (the
	 * control page's prefetch table says which argument, if any, points
	 * at it): in_len bytes from in_addr, up to SLOT_IN_BYTES and never
	 * past the end of in_addr's page; 0 when there is none or the read
	 * faulted (the signal handler skips the rest). */
	uint32_t in_len;
	/* Set by the sentry with RESUME: the thread returns with the FPU in
	 * its init state (its frame's fpstate NULL for rt_sigreturn), as a
	 * signal handler or a new program starts, instead of an init image
	 * written into the frame. */
	uint32_t fp_clear;
	uint64_t in_addr;
	uint8_t in_buf[SLOT_IN_BYTES];
};

/* Where a new thread's FPU image waits in its slot (fp_entry 2): memory
 * the sentry writes directly, instead of the thread's private stack
 * through /proc/PID/mem (for a fork child, an open of the new process's
 * file and a page allocated from outside). */
/* 2816 bytes: this host's image is 2436, an AMX host's default frame
 * 2816 (exactly); a larger one goes the old way (slower, not wrong). */
#define SLOT_FP_IMAGE_OFF 1280
#define SLOT_FP_IMAGE_MAX (SYSTRAP_SLOT_SIZE - SLOT_FP_IMAGE_OFF)
_Static_assert(sizeof(struct systrap_slot) <= SLOT_FP_IMAGE_OFF, "slot");
_Static_assert(SYSTRAP_FP_ENTRY_OFF + SLOT_FP_IMAGE_MAX <= SYSTRAP_STACK_SIZE,
	       "fp entry");

/* Offsets the fast-call assembly uses. */
#define SLOT_O_STATE 0
#define SLOT_O_STUB_WAITING 4
#define SLOT_O_SENTRY_WAITING 8
#define SLOT_O_KIND 12
#define SLOT_O_ARCH 24
#define SLOT_O_ADDR 32
#define SLOT_O_NR 40
#define SLOT_O_SPIN 64
#define SLOT_O_STUB_CPU 68
#define SLOT_O_SENTRY_CPU 70
#define SLOT_O_REGS 80
#define SLOT_O_R15 80
#define SLOT_O_R14 88
#define SLOT_O_R13 96
#define SLOT_O_R12 104
#define SLOT_O_RBP 112
#define SLOT_O_RBX 120
#define SLOT_O_R11 128
#define SLOT_O_R10 136
#define SLOT_O_R9 144
#define SLOT_O_R8 152
#define SLOT_O_RAX 160
#define SLOT_O_RCX 168
#define SLOT_O_RDX 176
#define SLOT_O_RSI 184
#define SLOT_O_RDI 192
#define SLOT_O_RIP 208
#define SLOT_O_EFLAGS 224
#define SLOT_O_RSP 232
#define SLOT_O_CMD_WHO 296
#define SLOT_O_CMD_RET 304
#define SLOT_O_CMD_BUF 312
#define SLOT_O_INTR 568
#define SLOT_O_CONV 572
#define SLOT_O_FAST_STACK_TOP 608 /* end of fast_stack */
#define SLOT_O_OUT_N 632
#define SLOT_O_OUT_LEN 636
#define SLOT_O_OUT_ADDR 656
#define SLOT_O_OUT_BUF 688
#define SLOT_O_IN_LEN 944
#define SLOT_O_IN_ADDR 952
#define SLOT_O_IN_BUF 960

/* --- patched system call sites ------------------------------------------
 * A hot system call site in private text becomes `jmp *TABLE+8k`
 * (ff 24 25 disp32, 7 bytes), k the site's number: no signal, no stack use
 * (the red zone stays intact). Two kinds of site, both 7 bytes ending in
 * `syscall`:
 *   A  `mov $N, %eax; syscall` (b8 imm32 0f 05), glibc's wrappers;
 *   B  `mov 8(%rsp), %r9; syscall` (4c 8b 4c 24 08 0f 05) at the end of
 *      glibc's syscall(3), whose number comes in rax.
 * The table sits where byte 2 of disp32 (the old `syscall`'s first byte)
 * is 06 and byte 3 is 0b: a thread that ran the site's first instruction
 * and then meets the new bytes executes 06 or `0f 0b` (ud2), both invalid,
 * and the sentry sends it to site k's gadget. One private region per stub
 * (fork copies it):
 *   PATCH_TABLE  8-byte pointers, table[k] = &block k
 *   PATCH_SITES  64-byte blocks:
 *     +0   entry: eax = k, r11 = the number, then jmp *HDR_COMMON(%rip)
 *          (A: mov $k,%eax; mov $N,%r11d. B: mov 8(%rsp),%r9;
 *          mov %rax,%r11; mov $k,%eax)
 *     +20  gadget: the site's own 7 bytes (its `syscall` at +25), then
 *          jmp *(+56)
 *     +40  .quad the gadget (+20)   +48 .quad +27 (a fast call's rip)
 *     +56  .quad site + 7
 *   PATCH_HDR    arena start, end; the fast-call entry (stub_fastcall)
 * The gadget is the site moved out of line: the slow path, and where a fast
 * call "happened" (its rip is +27, so a restart at rip - 2 runs the real
 * instruction). */
#define PATCH_BASE 0x0b060000
#define PATCH_SIZE 0x10000
#define PATCH_TABLE 0x0b060000
#define PATCH_SITES 0x0b062000
#define PATCH_SITES_GADGET_PTR 0x0b062028 /* PATCH_SITES + PB_GADGET_PTR */
#define PATCH_HDR 0x0b06a000
#define PATCH_HDR_HI 0x0b06a008
#define PATCH_HDR_COMMON 0x0b06a010
#define PATCH_MAX 512
#define PATCH_BLOCK 64
#define PATCH_BLOCK_SHIFT 6
#define PB_GADGET 20
#define PB_SYSCALL 25
#define PB_AFTER 27
#define PB_GADGET_PTR 40
#define PB_RIP 48
#define PB_RET 56

struct systrap_filter_insn {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};

struct systrap_req {
	uint64_t nr;
	uint64_t args[6];
};

struct systrap_ctrl {
	uint32_t seq; /* executor request number: futex word */
	uint32_t exec_spin; /* pause iterations the executor waits awake */
	uint64_t nr;
	uint64_t args[6];
	uint32_t filter_len; /* filter B, installed by each new thread */
	uint32_t pad2;
	struct systrap_filter_insn filter[SYSTRAP_FILTER_MAX];
	struct systrap_req batch[SYSTRAP_BATCH_MAX];
	/* For each system call number below SYSTRAP_PREFETCH_NR, the slot
	 * offset of the saved register (SLOT_O_RDI...) whose value points at
	 * the call's input, for the fast-call code to read ahead; 0: none. */
	uint8_t prefetch[SYSTRAP_PREFETCH_NR];
};

struct systrap_result {
	uint32_t seq; /* last request done: futex word */
	uint32_t pad;
	int64_t ret;
	uint32_t fork_ready; /* a forked child's memfd + 1: futex word */
	uint32_t pad2;
	uint8_t scratch[2048]; /* set-up only: sigaction, filter A */
	int64_t batch_ret[SYSTRAP_BATCH_MAX];
};

_Static_assert(sizeof(struct systrap_ctrl) <= SYSTRAP_CTRL_SIZE, "ctrl size");
_Static_assert(sizeof(struct systrap_result) <= SYSTRAP_RESULT_SIZE, "result");
_Static_assert(sizeof(struct systrap_slot) <= SYSTRAP_SLOT_SIZE, "slot size");
_Static_assert(SYSTRAP_SHARED_SIZE ==
		       SYSTRAP_SLOTS_OFF + SYSTRAP_MAX_THREADS * SYSTRAP_SLOT_SIZE,
	       "layout");
_Static_assert(SYSTRAP_SHARED_SIZE <= SYSTRAP_STACKS_OFF, "layout");
_Static_assert(SYSTRAP_STACKS_OFF + SYSTRAP_MAX_THREADS * SYSTRAP_STACK_SIZE <=
		       SYSTRAP_BLOCK_SIZE,
	       "layout");
_Static_assert(__builtin_offsetof(struct systrap_result, ret) == SYSTRAP_RES_RET,
	       "asm offsets");
_Static_assert(__builtin_offsetof(struct systrap_result, fork_ready) ==
		       SYSTRAP_RES_FORK_READY,
	       "asm offsets");
_Static_assert(__builtin_offsetof(struct systrap_ctrl, filter_len) ==
		       SYSTRAP_CTRL_FILTER_LEN &&
		       SYSTRAP_CTRL_FILTER_LEN + SYSTRAP_CTRL_FILTER_BYTES ==
			       SYSTRAP_CTRL_BATCH &&
		       __builtin_offsetof(struct systrap_ctrl, filter) ==
			       SYSTRAP_CTRL_FILTER_LEN + 8,
	       "asm offsets");
_Static_assert(__builtin_offsetof(struct systrap_ctrl, exec_spin) ==
		       SYSTRAP_CTRL_EXEC_SPIN,
	       "asm offsets");
_Static_assert(__builtin_offsetof(struct systrap_ctrl, batch) ==
		       SYSTRAP_CTRL_BATCH,
	       "asm offsets");
_Static_assert(__builtin_offsetof(struct systrap_result, batch_ret) ==
		       SYSTRAP_RES_BATCH_RET,
	       "asm offsets");
_Static_assert(sizeof(struct systrap_req) == 56, "asm offsets");
_Static_assert(__builtin_offsetof(struct systrap_ctrl, prefetch) ==
		       SYSTRAP_CTRL_PREFETCH,
	       "asm offsets");
#define SLOT_OFF_(f) __builtin_offsetof(struct systrap_slot, f)
_Static_assert(SLOT_OFF_(state) == SLOT_O_STATE && SLOT_OFF_(stub_waiting) == SLOT_O_STUB_WAITING &&
		       SLOT_OFF_(sentry_waiting) == SLOT_O_SENTRY_WAITING &&
		       SLOT_OFF_(kind) == SLOT_O_KIND && SLOT_OFF_(arch) == SLOT_O_ARCH &&
		       SLOT_OFF_(addr) == SLOT_O_ADDR && SLOT_OFF_(nr) == SLOT_O_NR &&
		       SLOT_OFF_(spin) == SLOT_O_SPIN && SLOT_OFF_(regs) == SLOT_O_REGS &&
		       SLOT_OFF_(regs.r15) == SLOT_O_R15 && SLOT_OFF_(regs.r14) == SLOT_O_R14 &&
		       SLOT_OFF_(regs.r13) == SLOT_O_R13 && SLOT_OFF_(regs.r12) == SLOT_O_R12 &&
		       SLOT_OFF_(regs.rbp) == SLOT_O_RBP && SLOT_OFF_(regs.rbx) == SLOT_O_RBX &&
		       SLOT_OFF_(regs.r11) == SLOT_O_R11 && SLOT_OFF_(regs.r10) == SLOT_O_R10 &&
		       SLOT_OFF_(regs.r9) == SLOT_O_R9 && SLOT_OFF_(regs.r8) == SLOT_O_R8 &&
		       SLOT_OFF_(regs.rax) == SLOT_O_RAX && SLOT_OFF_(regs.rcx) == SLOT_O_RCX &&
		       SLOT_OFF_(regs.rdx) == SLOT_O_RDX && SLOT_OFF_(regs.rsi) == SLOT_O_RSI &&
		       SLOT_OFF_(regs.rdi) == SLOT_O_RDI && SLOT_OFF_(regs.rip) == SLOT_O_RIP &&
		       SLOT_OFF_(regs.eflags) == SLOT_O_EFLAGS && SLOT_OFF_(regs.rsp) == SLOT_O_RSP &&
		       SLOT_OFF_(intr_deferred) == SLOT_O_INTR && SLOT_OFF_(conv_kind) == SLOT_O_CONV &&
		       SLOT_OFF_(cmd_who) == SLOT_O_CMD_WHO && SLOT_OFF_(cmd_ret) == SLOT_O_CMD_RET &&
		       SLOT_OFF_(cmd_buf) == SLOT_O_CMD_BUF &&
		       SLOT_OFF_(fast_stack) + sizeof(((struct systrap_slot *)0)->fast_stack) ==
			       SLOT_O_FAST_STACK_TOP &&
		       SLOT_OFF_(stub_cpu) == SLOT_O_STUB_CPU &&
		       SLOT_OFF_(out_n) == SLOT_O_OUT_N &&
		       SLOT_OFF_(out_len) == SLOT_O_OUT_LEN &&
		       SLOT_OFF_(out_addr) == SLOT_O_OUT_ADDR &&
		       SLOT_OFF_(out_buf) == SLOT_O_OUT_BUF &&
		       SLOT_OFF_(in_len) == SLOT_O_IN_LEN &&
		       SLOT_OFF_(in_addr) == SLOT_O_IN_ADDR &&
		       SLOT_OFF_(in_buf) == SLOT_O_IN_BUF &&
		       SLOT_OFF_(sentry_cpu) == SLOT_O_SENTRY_CPU,
	       "fast-call offsets");
_Static_assert(PATCH_TABLE + 8 * PATCH_MAX <= PATCH_SITES &&
		       PATCH_SITES + PATCH_BLOCK * PATCH_MAX <= PATCH_HDR &&
		       PATCH_HDR + 24 <= PATCH_BASE + PATCH_SIZE &&
		       PATCH_SITES_GADGET_PTR == PATCH_SITES + PB_GADGET_PTR &&
		       PATCH_BLOCK == 1 << PATCH_BLOCK_SHIFT &&
		       PB_SYSCALL == PB_GADGET + 5 && PB_AFTER == PB_SYSCALL + 2,
	       "patch layout");
