/* The platform interface: how the sentry runs workload code.
 *
 * An address space (plat_as) is a stub host process whose memory holds the
 * workload; a plat_thread is one host thread of it. The sentry runs a thread
 * until it traps (system call, fault, interrupt or death), reads and changes
 * its registers and FPU state, copies memory in and out, and has the stub
 * execute host system calls on its behalf (to map memory) -- nothing else
 * reaches the host.
 *
 * Threading contract (it fits both ptrace, where only the attaching host
 * thread may control a tracee, and systrap, where a stub thread hands traps to
 * one sentry thread): every plat_thread is served by exactly one sentry thread,
 * the one that adopted it (thread_adopt), and only that thread calls run,
 * thread_syscall, fpstate_get/set, thread_create, as_fork and
 * thread_release on it. A new thread or address space comes back stopped
 * and unadopted, so its creator can hand it to another sentry thread.
 * copy_in/copy_out and interrupt may be called from any thread.
 *
 * Every function returns >= 0 or -errno. Depends on lib/ only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Registers of a workload thread, same layout as the kernel's x86-64
 * user_regs_struct (so the ptrace platform copies it whole). */
struct plat_regs {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	uint64_t rax, rcx, rdx, rsi, rdi, orig_rax;
	uint64_t rip, cs, eflags, rsp, ss;
	uint64_t fs_base, gs_base, ds, es, fs, gs;
};

enum plat_trap_kind {
	PLAT_TRAP_SYSCALL, /* 64-bit syscall: number in regs.orig_rax */
	PLAT_TRAP_SYSCALL_COMPAT, /* int 0x80 / sysenter: never served */
	PLAT_TRAP_FAULT, /* synchronous fault: SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP */
	PLAT_TRAP_SIGNAL, /* host signal arrived for the stub (other than faults) */
	PLAT_TRAP_INTERRUPT, /* interrupt() asked the thread to stop */
	PLAT_TRAP_DEAD, /* the stub thread is gone (killed from outside) */
};

struct plat_trap {
	enum plat_trap_kind kind;
	int signo; /* FAULT, SIGNAL */
	int si_code; /* FAULT */
	uint64_t fault_addr; /* FAULT */
	/* FAULT: the hardware error code and trap number, as a signal frame
	 * carries them; trap_info says they are known. */
	uint64_t err, trapno;
	bool trap_info;
};

/* The host signal the sentry sends a stub thread to make it trap. */
#define PLAT_INTERRUPT_SIGNAL 12 /* SIGUSR2 */

struct plat_as;
struct plat_thread;
struct rusage;

/* One host system call for platform_ops.batch. */
struct plat_sysreq {
	long nr;
	uint64_t args[6];
};

struct platform_ops {
	const char *name;
	/* One-time set-up in the sentry, before any address space exists. */
	int (*init)(void);
	/* A new, empty address space with one thread, stopped, unadopted. The
	 * stub's code pages and the vDSO are its only mappings (plat_reserved
	 * lists them); the thread's FPU state is the init state. */
	int (*as_create)(struct plat_as **as, struct plat_thread **th);
	/* A copy-on-write copy of th's address space (a host fork of the stub),
	 * with one thread, stopped, unadopted, with th's FPU state. */
	int (*as_fork)(struct plat_thread *th, struct plat_as **as,
		       struct plat_thread **child);
	/* Kills every stub thread of the address space and reaps them; its
	 * threads must have been released. */
	void (*as_destroy)(struct plat_as *as);
	/* A new thread in th's address space, stopped, unadopted, with th's
	 * FPU state. */
	int (*thread_create)(struct plat_thread *th, struct plat_thread **nt);
	/* The calling sentry thread becomes th's serving thread. */
	int (*thread_adopt)(struct plat_thread *th);
	/* Ends the stub thread (if it still runs) and frees th. */
	void (*thread_release)(struct plat_thread *th);
	/* Makes th trap with PLAT_TRAP_INTERRUPT soon if it runs workload
	 * code; harmless (a spurious interrupt trap at most) otherwise. */
	void (*interrupt)(struct plat_thread *th);
	/* Runs th from regs until it traps; regs holds the state at the trap. */
	int (*run)(struct plat_thread *th, struct plat_regs *regs,
		   bool regs_dirty, struct plat_trap *trap);
	/* Executes host syscall nr inside th's address space (th must be stopped,
	 * i.e. between two run calls); *ret is the raw result (-errno on error).
	 * The thread's workload registers are preserved. */
	int (*thread_syscall)(struct plat_thread *th, long nr,
			      const uint64_t args[6], long *ret);
	/* The thread's FPU/SSE/AVX state as an XSAVE image in the format of a
	 * signal frame's fpstate (fpx_sw_bytes in the software-reserved bytes,
	 * no trailing magic); returns its size. th is stopped. */
	int (*fpstate_get)(struct plat_thread *th, void *buf, size_t len);
	/* Replaces it; the image must have passed plat_fpstate_sanitize. */
	int (*fpstate_set)(struct plat_thread *th, const void *buf, size_t len);
	/* getrusage(who) as the host sees th's stub: RUSAGE_SELF for the
	 * stub process, RUSAGE_THREAD for the stub thread itself. */
	int (*thread_rusage)(struct plat_thread *th, int who, struct rusage *ru);
	/* Optional: starts that question while the caller works on; the
	 * next thread_rusage(who) takes the answer. th stays trapped, and
	 * the platform settles the question before anything else of th. */
	void (*thread_rusage_ask)(struct plat_thread *th, int who);
	/* Optional: whether th may be pinned to a CPU with its serving
	 * thread (CPU pairing, if on); false undoes a pairing now, before
	 * the sentry applies the task's own affinity. Not allowed until
	 * said. */
	void (*thread_pairing)(struct plat_thread *th, bool allow);
	/* Optional: th (made by thread_create) is a vfork child's: the
	 * parent's thread waits, trapped, in the same stub until the child
	 * execs or exits. */
	void (*thread_vfork_child)(struct plat_thread *th);
	/* Optional: th, the first thread of a fork child (as_fork), not yet
	 * run, stores val at addr before the workload's first instruction,
	 * as Linux does for CLONE_CHILD_SETTID in the child itself (a write
	 * from outside takes the page copy-on-write there, and first opens
	 * the new process's memory). The caller checked that [addr, addr +
	 * 4) is private anonymous writable memory of th's mm. false: not
	 * taken (the caller writes it). */
	bool (*thread_settid)(struct plat_thread *th, uint64_t addr,
			      uint32_t val);
	/* Optional, both or neither: a copy of n bytes to dst that th makes
	 * itself as it next resumes, before any workload instruction, in
	 * the order held (at most PLAT_DEFER_OUT_MAX bytes and a few copies
	 * at a time; false: no room, the caller copies now). The caller
	 * checked dst is private anonymous writable memory that nothing may
	 * read or change before th resumes, and calls copy_out_flush before
	 * any other access to th's memory, and when th will not resume. */
	bool (*copy_out_defer)(struct plat_thread *th, uint64_t dst,
			       const void *src, size_t n);
	void (*copy_out_flush)(struct plat_thread *th);
	/* Optional: a copy in served from what th read of its system call's
	 * input as it trapped (false: not read, or not all of [src, src +
	 * n)); the caller uses it only before the call has written memory,
	 * and only where it would read the memory itself (it checks after:
	 * dst is then written either way). */
	bool (*copy_in_ahead)(struct plat_thread *th, void *dst, uint64_t src,
			      size_t n);
	/* Optional: the stub's [old, old + len) was moved to new (mremap),
	 * bytes and all; code rewritten there must follow. The mm's lock
	 * held, as for patch_syscall. */
	void (*sites_moved)(struct plat_as *as, uint64_t old, uint64_t len,
			    uint64_t new);
	/* Optional: th's address space gets a new program (execve) in place
	 * of a fresh one: th is its only workload thread (parked host threads
	 * may stay) and no other mm uses it. The platform forgets what it
	 * kept of the old image (rewritten sites); the caller unmaps
	 * everything outside the reserved ranges (in its next batch) and sets
	 * th's registers and FPU state. 0 or -errno. */
	int (*as_reset)(struct plat_thread *th);
	/* Runs n (<= PLAT_BATCH_MAX) calls in th's stub in one hand-off, in
	 * order, stopping after the first that fails; rets[i] gets each
	 * result. host_fd >= 0 is passed in first, at PLAT_FDPASS_RECV_FD
	 * (the calls may name it there), and closed after. Returns how many
	 * calls succeeded, or -errno if the batch could not run. */
	int (*batch)(struct plat_thread *th, int host_fd,
		     const struct plat_sysreq *reqs, int n, long *rets);
	/* Optional: batch with two host fds, host_fd at PLAT_FDPASS_RECV_FD
	 * and host_fd2 at PLAT_FDPASS_RECV_FD2 (both closed after); n <=
	 * PLAT_BATCH2_MAX. */
	int (*batch2)(struct plat_thread *th, int host_fd, int host_fd2,
		      const struct plat_sysreq *reqs, int n, long *rets);
	/* Optional: a batch is coming to th's address space soon (an exec
	 * has opened its file): whoever runs batches there wakes now and
	 * waits awake for it, so that its wake-up overlaps the caller's
	 * work. A hint only. */
	void (*batch_soon)(struct plat_thread *th);
	/* batch may be asked from any thread's sentry side while others of
	 * the address space run (systrap: its executor): the mm may then
	 * hold mapping requests back and batch them (mm_flush). */
	bool lazy_maps;
	int (*copy_in)(struct plat_as *as, void *dst, uint64_t src, size_t n);
	/* Optional: copy_in that reads memory the process's protections let
	 * the workload read but not another process (execute-only pages,
	 * which x86 reads without protection keys). Only for such memory. */
	int (*copy_in_exec)(struct plat_as *as, void *dst, uint64_t src,
			    size_t n);
	int (*copy_out)(struct plat_as *as, uint64_t dst, const void *src,
			size_t n);
	/* Optional: the same, for at most PLAT_MAPPED_COPY_MAX bytes the
	 * caller has found mapped with the access it needs
	 * (mm_range_mapped), so the platform may use a way that does not
	 * check protections itself. Any failure: the caller copies again
	 * with copy_in or copy_out, which tell the error. */
	int (*copy_in_mapped)(struct plat_as *as, void *dst, uint64_t src,
			      size_t n);
	int (*copy_out_mapped)(struct plat_as *as, uint64_t dst,
			       const void *src, size_t n);
	/* Host id of the stub thread (for logs and CPU-time clocks only: it is
	 * never shown to the workload). */
	pid_t (*thread_host_tid)(struct plat_thread *th);
	/* Host pid of the stub process (CPU-time accounting only). */
	pid_t (*as_host_pid)(struct plat_as *as);
	/* Optional (NULL: not supported). Rewrites the system call whose
	 * `syscall` instruction ends at rip (in private, read-only file
	 * text; nr is the number that just trapped from there) so it no
	 * longer costs a signal. alone: no other thread runs in the address
	 * space. The caller holds the address space's mapping lock. 0, or
	 * -errno if the site is not one it can rewrite. */
	int (*patch_syscall)(struct plat_thread *th, uint64_t rip, uint64_t nr,
			     bool alone);
	/* rip lies in code the platform generated for patched sites (its
	 * traps are not worth counting). */
	bool (*patched_code)(uint64_t rip);
	/* Optional: CPUs are to spare now (the platform's own hand-offs
	 * spin rather than sleep): a sentry thread about to sleep for the
	 * workload may wait awake longer first. */
	bool (*cpus_to_spare)(void);
	/* Optional: th's serving thread is about to sleep in a blocking call
	 * (th stays trapped) and a signal handler may run at its end: the
	 * platform may prepare now what delivering it needs (systrap:
	 * turning a fast call into a full trap, fpstate_get's condition). */
	void (*thread_sleeps)(struct plat_thread *th);
};

/* A range of the stub's address space the workload must never map over,
 * unmap or change (stub code, vDSO). */
struct plat_range {
	uint64_t start, end;
	const char *name;
};

const struct platform_ops *plat_lookup(const char *name);
/* ops->as_create, from a small stock kept ready in the background. */
int plat_as_take(const struct platform_ops *ops, struct plat_as **as,
		 struct plat_thread **th);
const char *plat_default_name(void);
/* Filled by the platform's init; valid for every address space it creates. */
int plat_reserved(const struct plat_range **ranges);
void plat_set_reserved(const struct plat_range *ranges, int n);
/* The gaps of [0, top) between the n ranges of keep (which must not
 * overlap), in address order, into out (room for n + 1); how many. */
int plat_gaps(const struct plat_range *keep, int n, uint64_t top,
	      struct plat_range *out);
/* The vDSO of every stub (0 if none), for AT_SYSINFO_EHDR. */
uint64_t plat_vdso_base(void);
void plat_set_vdso_base(uint64_t base);
/* Pins the calling thread and the host thread tid to one CPU. Stop/resume
 * hand-offs between two vCPUs cost ~15x more on VMs than on one (waking a
 * halted vCPU), so each stub thread shares its sentry thread's CPU. */
void plat_pair_cpu(pid_t tid);
void plat_set_cpu_pairing(bool on);
bool plat_cpu_pairing(void);
/* A new thread made by a (maybe paired) sentry thread inherits its pin:
 * back to the CPUs the sandbox was given. */
void plat_unpin_self(void);
/* Whether platforms may rewrite system call sites (patch_syscall). */
void plat_set_syscall_patching(bool on);
bool plat_syscall_patching(void);
/* The host's /proc (an O_PATH fd), where the sentry may still open names
 * once its path filter is on: stubs' statm and mem. -1 until set. */
void plat_set_host_proc_fd(int fd);
int plat_host_proc_fd(void);

/* XSAVE images (platform/fpu.c). The size of the image every thread of
 * this host has, and a copy of the init state (what exec and a signal
 * handler start with). */
size_t plat_fpstate_size(void);
const void *plat_fpstate_init_image(void);
/* Makes an image from the workload (a signal frame it may have written)
 * safe to load: unsupported components and reserved bits cleared, so the
 * host never refuses it. -EINVAL if it cannot be made valid. */
int plat_fpstate_sanitize(void *buf, size_t len);

/* Host fd passing into stubs (platform.c; platforms only). */
#define PLAT_FDPASS_FD 1 /* the socket's number in every stub */
#define PLAT_BATCH_MAX 60 /* calls in one batch (besides the fd's own) */
#define PLAT_MAPPED_COPY_MAX 4096 /* copy_in_mapped, copy_out_mapped */
#define PLAT_DEFER_OUT_MAX 256 /* copy_out_defer, per copy */
#define PLAT_FDPASS_RECV_FD 0 /* where a received fd lands */
#define PLAT_FDPASS_RECV_FD2 2 /* where batch2's second fd is moved */
#define PLAT_BATCH2_MAX (PLAT_BATCH_MAX - 4) /* its calls (4 more its own) */
/* The msghdr a stub receives a passed fd with, kept in memory the stub can
 * reach (stub addresses inside). The workload can scribble on it: then the
 * receive fails, or the fd lands nowhere useful; the sentry never reads
 * back the fd number (it is always PLAT_FDPASS_RECV_FD). */
struct plat_recv_area {
	struct msghdr msg;
	struct iovec iov;
	char byte;
	char pad[7];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
};
/* Fills ra (the sentry's copy) for the stub address base it will have. */
void plat_recv_area_init(struct plat_recv_area *ra, uint64_t base);
int plat_fdpass_init(void);
int plat_fdpass_stub_end(void);
void plat_fdpass_lock(void);
void plat_fdpass_unlock(void);
int plat_fdpass_send(int fd);
void plat_fdpass_drain(void);
/* A sent fd is still queued (no stub took it). */
bool plat_fdpass_pending(void);
/* The same on any fd-passing socket (an address space's own, see
 * systrap): send fd over sock; sock's last message not yet received. */
int plat_fd_send(int sock, int fd);
bool plat_fd_unreceived(int sock);
/* Drops what is queued towards a socket's stub end, read through peer (a
 * copy of that end the sentry kept). */
void plat_fd_drain(int peer);

/* One call with a host fd of the sentry's, through platform_ops.batch
 * (the fd is passed in at PLAT_FDPASS_RECV_FD and closed after):
 * mmap(addr, len, prot, flags | MAP_FIXED, host_fd, off) inside th's stub,
 * or pread64(host_fd, buf, len, off) straight into the workload's memory at
 * buf (the caller has made sure buf is not one of the stub's ranges).
 * Return the host result (addr or bytes, or -errno). */
long plat_map_fd(const struct platform_ops *p, struct plat_thread *th,
		 int host_fd, uint64_t addr, uint64_t len, int prot, int flags,
		 uint64_t off);
long plat_fd_pread(const struct platform_ops *p, struct plat_thread *th,
		   int host_fd, uint64_t buf, uint64_t len, uint64_t off);
