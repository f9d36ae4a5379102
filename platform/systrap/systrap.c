/* The systrap platform: seccomp RET_TRAP, an in-stub SIGSYS handler, and a
 * shared-memory hand-off between each stub thread and its sentry thread.
 *
 * The zygote: a stub forked by the factory thread (so PR_SET_PDEATHSIG means
 * "the sentry died"), emptied, given its block (layout.h), signal handlers,
 * NO_NEW_PRIVS and filter A with ptrace, then detached; its main thread
 * becomes the executor. Every other stub is a host fork run by an executor
 * (SYSTRAP_OP_FORK): of the zygote for a new address space, of the
 * workload's stub for fork(2). The child moves itself to a new block made
 * from a memfd that the sentry takes with pidfd_getfd. Workload threads are
 * cloned by the executor and install filter B themselves before running
 * workload code.
 *
 * The hand-off (docs/architecture.md has the figures): each side spins a
 * bounded time on the slot's state word before sleeping on it as a futex;
 * the waking side only makes a futex call when the other side sleeps. */
#define _GNU_SOURCE
#include "../platform.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../factory.h"
#include "../stubproc.h"
#include "filter.h"
#include "../../syscalls/table.h"
#include "layout.h"

/* Blocks for all address spaces: 16 GiB of address space reserved in the
 * sentry (and, as reserved ranges, in every workload). */
#define ARENA_SIZE (16ULL << 30)
#define ARENA_BLOCKS (ARENA_SIZE / SYSTRAP_BLOCK_SIZE)

/* Spin budgets, in pause iterations (~30-40 ns each here): about 20 us.
 * Shorter budgets sleep on nearly every call (a futex wake of a halted vCPU
 * costs ~100 us on these VMs); see docs/architecture.md. */
#define SPIN_BUDGET 600
/* How long a workload's fork waits awake for its child's set-up. */
#define FORK_WAIT_BUDGETS 8
#define FORK_PARENT_SPIN 0
/* How long the sentry waits awake for the next trap of a single-threaded
 * process, in budgets (about 100 us): see wait_trap. */
#define TRAP_WAIT_BUDGETS 5
/* Exited threads' host threads kept per address space for reuse. */
#define PARK_MAX 4
/* With one CPU the other side cannot run while we spin: sleep at once. */
static int spin_budget = SPIN_BUDGET;
/* Spinning only pays while every spinner has a CPU: each thread inside
 * run() has two would-be spinners (its stub thread and its sentry thread),
 * so both sides sleep at once when more threads run than CPUs can carry. */
static atomic_int in_run;
static int ncpus = 1;

#define FRESH_RUNS 3

static int current_budget(int running)
{
	return running * 2 <= ncpus ? spin_budget : 0;
}

/* The budget for the sentry's other waits on a stub (its executor's
 * answer, a command, a conversion): as if the caller's thread were one
 * more inside run(). Once the CPUs are all taken the executor is paired
 * on the caller's own CPU, where a spin only delays it, and elsewhere a
 * spin's yields hand the CPU to a computing workload thread for a whole
 * time slice: a gcc build (make -j2) made 130 000 sched_yield calls
 * with a fixed budget here, 22 000 with this one. */
static int budget_now(void)
{
	return current_budget(atomic_load(&in_run) + 1);
}

/* While the workload computes, the sentry thread sleeps and re-checks that
 * the stub is alive this often. */
#define LIVENESS_NS (100 * 1000 * 1000)
#define SA_RESTORER_ 0x04000000

extern const char __start_stub_text[] __attribute__((visibility("hidden")));
extern const char __stop_stub_text[] __attribute__((visibility("hidden")));
void stub_signal_handler(int, siginfo_t *, void *);
void stub_thread_entry(void);
extern const char stub_fastcall[] __attribute__((visibility("hidden")));
extern const char stub_restorer[] __attribute__((visibility("hidden")));
extern const char stub_inject[] __attribute__((visibility("hidden")));
extern const char stub_executor[] __attribute__((visibility("hidden")));

struct plat_as {
	pid_t pid;
	int pidfd;
	uint64_t block;
	struct systrap_ctrl *ctrl; /* the sentry's view of the block */
	struct systrap_result *res;
	pthread_mutex_t lock; /* executor requests and the slot table */
	uint32_t seq;
	bool dead;
	bool slot_used[SYSTRAP_MAX_THREADS];
	/* Its fd-passing channel (the stub's end is its fd PLAT_FDPASS_FD):
	 * its own, or its fork parent's (shared), or NULL: the sandbox-wide
	 * one (the zygote). */
	struct fdchan *chan;
	atomic_int nthreads; /* threads spawned and not released */
	dev_t block_dev; /* its block's memfd, as fstat says */
	ino_t block_ino;
	/* Patched system call sites: sites[k] is site k's address (set
	 * before its bytes change, never removed); fork copies them with the
	 * memory. Written under the mm's lock, read by fault fix-ups. */
	uint64_t *sites;
	_Atomic uint8_t *site_state; /* SITE_WRITING, SITE_DONE */
	/* The stub's /proc/PID/mem: opened at a fork child's birth, at the
	 * PROC_MEM_AFTER-th mapped copy, or when a site is rewritten. */
	int proc_mem;
	atomic_int mem_copies; /* copies asked for before proc_mem was open */
	_Atomic int nsites;
	/* Host threads of exited workload threads, kept at START for the
	 * next clone (thread_park), with their CPU usage so far. Under lock;
	 * their slots stay used. */
	struct {
		int idx;
		pid_t tid;
		struct rusage base;
	} parked[PARK_MAX];
	int nparked;
};

#define SITE_WRITING 1 /* being rewritten, or the rewrite failed */
#define SITE_DONE 2

/* An fd-passing socket, shared by a stub and the fork children that have
 * not exec'd (they inherit its stub end). One message is in flight at a
 * time, sent and taken under lock, so whichever stub is asked takes the
 * fd meant for it. */
struct fdchan {
	int fd; /* the sentry's end */
	int peer; /* a copy of the stubs' end: drains what no stub took */
	pthread_mutex_t lock;
	atomic_int refs;
};

static struct fdchan *chan_get(struct fdchan *c)
{
	if (c)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

static void chan_put(struct fdchan *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	close(c->fd);
	close(c->peer);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Takes c's lock (NULL: the sandbox-wide channel's). */
static void chan_lock(struct fdchan *c)
{
	if (c)
		pthread_mutex_lock(&c->lock);
	else
		plat_fdpass_lock();
}

static void chan_unlock(struct fdchan *c)
{
	if (c)
		pthread_mutex_unlock(&c->lock);
	else
		plat_fdpass_unlock();
}

/* Sends fd, after dropping whatever an earlier batch left queued (a stub
 * that never took it, whatever its result page claims): a stub only ever
 * receives the fd sent for its own batch. c's lock held. */
static int chan_send(struct fdchan *c, int fd)
{
	if (!c)
		return plat_fdpass_send(fd);
	plat_fd_drain(c->peer);
	return plat_fd_send(c->fd, fd);
}

static bool chan_unreceived(struct fdchan *c)
{
	return c ? plat_fd_unreceived(c->fd) : plat_fdpass_pending();
}

static void chan_drain(struct fdchan *c)
{
	if (c)
		plat_fd_drain(c->peer);
	else
		plat_fdpass_drain();
}

struct plat_thread {
	struct plat_as *as;
	int idx;
	pid_t tid;
	bool started; /* past its START trap: fpstate lives in a trap frame */
	/* Before then: where its first FPU state is (the slot's fp_entry as
	 * the sentry set it: 0 the init state, 1 its stack, 2 the slot). */
	uint8_t fp_entry;
	/* Started: it resumes with the FPU in its init state (slot fp_clear),
	 * which fpstate_get reports meanwhile. */
	bool fp_clear;
	struct systrap_slot *slot;
	uint64_t fs_base, gs_base; /* what the stub thread has */
	bool start_pending; /* spawned; its START trap not yet seen */
	/* CPU pairing (below): allowed by the sentry; the CPU the stub
	 * thread, the executor and the serving thread are pinned to, or -1;
	 * the serving thread pinned. Under pair_lock. */
	bool pair_ok;
	int pair_cpu;
	pthread_t serving;
	/* When a run last found the CPUs all taken (budget 0), CLOCK_MONOTONIC
	 * ns: a pair is kept for PAIR_HOLD_NS after it (pair_wanted). Only
	 * the serving thread touches it. */
	uint64_t pair_busy_ns;
	int runs; /* run() calls so far, up to FRESH_RUNS */
	/* Runs in a row, with CPUs to spare, that found the stub thread
	 * waiting on the serving thread's own CPU, and how many times the
	 * serving thread moved away (part_ways). Serving thread only. */
	int same_cpu, moves;
	/* A vfork child's (thread_vfork_child): the stub's other thread is
	 * its parent's, waiting. */
	bool vfork_child;
	/* A getrusage asked of the trapped thread, not yet collected. */
	bool cmd_asked;
	int cmd_who;
	/* The answer to cmd_who is in the slot, collected while the thread
	 * stayed trapped (thread_release settles commands before thread_park
	 * reads it). */
	bool cmd_ready;
	/* The trap being served is an exit whose stub left its process's
	 * getrusage in the slot (pre_rusage): RUSAGE_SELF needs no asking. */
	bool pre_rusage;
	/* A fast call's conversion was posted ahead (thread_sleeps): the
	 * next fast_convert only waits for it. */
	bool conv_posted;
	/* Trapped through a patched site: no signal frame until converted. */
	bool fast;
	/* The fast call's input as the stub read it ahead (slot in_*),
	 * copied here as the trap is taken: valid until the next run. */
	uint32_t in_len;
	uint64_t in_addr;
	uint8_t in_buf[SLOT_IN_BYTES];
	/* Copies out held for the thread to make as it resumes
	 * (copy_out_defer), put in the slot by run. */
	int out_n;
	uint32_t out_used;
	uint32_t out_len[SLOT_OUT_N];
	uint64_t out_addr[SLOT_OUT_N];
	uint8_t out_buf[SLOT_OUT_BYTES];
	uint64_t fast_eflags; /* the flags that trap reported */
	/* A parked host thread taken over (thread_park): what it had used
	 * before, taken off its RUSAGE_THREAD figures. */
	bool ru_based;
	struct rusage ru_base;
};

/* CPU pairing. When more threads run than CPUs can carry spinning (budget
 * 0 above), every hand-off sleeps, and a sleeping thread is woken on the
 * CPU it last ran on, idle by then: an inter-processor wake-up of a halted
 * vCPU, 30-100 us on these VMs, several times per system call. A stub
 * thread of a single-threaded address space is then pinned with its
 * executor and its serving sentry thread to one CPU, where each hand-off
 * is a plain switch between two threads; pairs go to the CPU with the
 * fewest pairs running. Multi-threaded processes are left alone: their
 * threads wake each other across CPUs, and pinned they waited longer (a
 * futex ping-pong between two threads took 2-4 times as long). When
 * spinning pays again the pins go. A task with its own affinity
 * (sched_setaffinity) is never paired. docs/architecture.md has the
 * figures. */
static pthread_mutex_t pair_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int pair_running[CPU_SETSIZE];
static cpu_set_t sandbox_cpus; /* what the sentry was given */

static void pin(pid_t tid, int cpu)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	sched_setaffinity(tid, sizeof(one), &one);
}

/* Back to every CPU the sandbox was given. */
static void unpin(pid_t tid)
{
	sched_setaffinity(tid, sizeof(sandbox_cpus), &sandbox_cpus);
}

/* pair_lock held. */
static void pair_undo_locked(struct plat_thread *th)
{
	if (th->pair_cpu < 0)
		return;
	/* A thread gone (DEAD: its tid may be another's soon) is skipped. */
	if (!th->as->dead &&
	    __atomic_load_n(&th->slot->state, __ATOMIC_SEQ_CST) != SLOT_DEAD)
		unpin(th->tid);
	unpin(th->as->pid);
	pthread_setaffinity_np(th->serving, sizeof(sandbox_cpus),
			       &sandbox_cpus);
	th->pair_cpu = -1;
}

/* Before a run: pairs th (or keeps its pair, moving it off a CPU where
 * another pair runs when some CPU has none) if pair, else undoes it.
 * Returns the CPU it counts th as running on (pair_done ends that), or
 * -1: not paired. */
static int pair_update(struct plat_thread *th, bool pair)
{
	if (!pair && th->pair_cpu < 0)
		return -1;
	pthread_mutex_lock(&pair_lock);
	pair = pair && th->pair_ok;
	if (!pair) {
		pair_undo_locked(th);
		pthread_mutex_unlock(&pair_lock);
		return -1;
	}
	int c = th->pair_cpu;
	if (c < 0 || atomic_load(&pair_running[c]) > 0) {
		int best = -1;
		for (int i = 0; i < CPU_SETSIZE; i++) {
			if (!CPU_ISSET(i, &sandbox_cpus))
				continue;
			if (best < 0 || atomic_load(&pair_running[i]) <
					       atomic_load(&pair_running[best]))
				best = i;
		}
		if (best >= 0 && (c < 0 || atomic_load(&pair_running[best]) <
						   atomic_load(&pair_running[c]))) {
			pin(th->tid, best);
			pin(th->as->pid, best); /* the executor */
			pin(0, best);
			th->serving = pthread_self();
			th->pair_cpu = best;
		}
	}
	int counted = th->pair_cpu;
	if (counted >= 0)
		atomic_fetch_add(&pair_running[counted], 1);
	pthread_mutex_unlock(&pair_lock);
	return counted;
}

/* Whether th's next run should be paired, given the budget the CPUs allow
 * now. The count of threads inside run() moves with every system call:
 * when one of two computing processes is being served, the other's run
 * sees a CPU to spare. Undoing the pair then and redoing it at the next
 * call cost three sched_setaffinity calls each way, 11 400 of them in the
 * bench's gcc build (make -j2), and a spin on a CPU that was not free.
 * So a pair stays until the CPUs have looked free for PAIR_HOLD_NS. */
#define PAIR_HOLD_NS (2 * 1000 * 1000)
static bool pair_wanted(struct plat_thread *th, int budget)
{
	if (atomic_load(&th->as->nthreads) != 1 ||
	    (budget != 0 && th->pair_cpu < 0))
		return false; /* the common case: no clock read on the trap path */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	if (budget == 0) {
		th->pair_busy_ns = now;
		return true;
	}
	return now - th->pair_busy_ns < PAIR_HOLD_NS;
}

/* With CPUs to spare, a stub thread and its serving thread that wait on
 * one CPU stay there: each skips its spin so that the other runs (the
 * CPU hint), both sleep, and each wake-up lands on the waker's CPU while
 * the other CPU idles. A vfork child met that in one run out of two:
 * getppid took 3.2 us instead of 0.6, and posix_spawn's child resets
 * every signal's action, some 120 calls. So after SAME_CPU_MOVE such runs
 * in a row the serving thread moves to another CPU (its mask without this
 * CPU, then the whole mask again; the move is the kernel's, at once),
 * where both sides spin. Each move doubles the streak the next one needs,
 * so a thread the scheduler keeps putting back stops paying for moves.
 * Only for a stub with one running thread (a vfork child's stub also holds
 * its parent's, waiting): between two threads of a process (a pipe or
 * futex ping-pong) each pair is well placed with its own, and moving them
 * made a 1-byte pipe round trip 1.6-1.9 times as long.
 * Under pair_lock, with pair_ok checked again: a task's sched_setaffinity
 * turns pairing off (thread_pairing, under the lock) before it sets its
 * mask on this thread, so the mask always lands after a move, never under
 * it. cpu: the serving thread's; budget: this run's (0 when paired).
 * Returns the CPU it now runs on. */
#define SAME_CPU_MOVE 4
static int part_ways(struct plat_thread *th, int cpu, int budget)
{
	if (budget == 0 || cpu < 0 ||
	    !__atomic_load_n(&th->pair_ok, __ATOMIC_RELAXED) ||
	    (uint16_t)cpu != __atomic_load_n(&th->slot->stub_cpu,
					     __ATOMIC_RELAXED) ||
	    atomic_load(&th->as->nthreads) != 1 + th->vfork_child) {
		th->same_cpu = 0;
		return cpu;
	}
	if (++th->same_cpu < SAME_CPU_MOVE << (th->moves < 10 ? th->moves : 10))
		return cpu;
	th->same_cpu = 0;
	th->moves++;
	cpu_set_t others = sandbox_cpus;
	CPU_CLR(cpu, &others);
	if (CPU_COUNT(&others) == 0)
		return cpu;
	pthread_mutex_lock(&pair_lock);
	if (th->pair_ok &&
	    sched_setaffinity(0, sizeof(others), &others) == 0) {
		sched_setaffinity(0, sizeof(sandbox_cpus), &sandbox_cpus);
		cpu = sched_getcpu();
	}
	pthread_mutex_unlock(&pair_lock);
	return cpu;
}

/* cpu: what pair_update returned (th's pairing may have been undone
 * since, by another thread's thread_pairing). */
static void pair_done(int cpu)
{
	if (cpu >= 0)
		atomic_fetch_sub(&pair_running[cpu], 1);
}

static void systrap_thread_pairing(struct plat_thread *th, bool allow)
{
	pthread_mutex_lock(&pair_lock);
	__atomic_store_n(&th->pair_ok, allow && plat_cpu_pairing() && ncpus > 1,
			 __ATOMIC_RELAXED);
	if (!th->pair_ok)
		pair_undo_locked(th);
	pthread_mutex_unlock(&pair_lock);
}

/* A small copy out that th makes itself as it resumes (systrap_run puts it
 * in the slot): a write of /proc/PID/mem costs some 1.3 us, about what a
 * whole fast call costs besides. */
static bool systrap_copy_out_defer(struct plat_thread *th, uint64_t dst,
				   const void *src, size_t n)
{
	if (n == 0 || th->out_n == SLOT_OUT_N ||
	    n > SLOT_OUT_BYTES - th->out_used)
		return false;
	th->out_addr[th->out_n] = dst;
	th->out_len[th->out_n] = (uint32_t)n;
	memcpy(th->out_buf + th->out_used, src, n);
	th->out_used += (uint32_t)n;
	th->out_n++;
	return true;
}

static int systrap_copy_out(struct plat_as *as, uint64_t dst, const void *src,
			    size_t n);
static int systrap_copy_out_mapped(struct plat_as *as, uint64_t dst,
				   const void *src, size_t n);
_Static_assert(PLAT_DEFER_OUT_MAX <= SLOT_OUT_BYTES, "deferred copies");

static void systrap_copy_out_flush(struct plat_thread *th)
{
	uint32_t at = 0;
	for (int i = 0; i < th->out_n; i++) {
		/* Checked writable when held; a failure now (the process
		 * dying) loses nothing anyone can read. */
		if (systrap_copy_out_mapped(th->as, th->out_addr[i],
					    th->out_buf + at,
					    th->out_len[i]) < 0)
			systrap_copy_out(th->as, th->out_addr[i],
					 th->out_buf + at, th->out_len[i]);
		at += th->out_len[i];
	}
	th->out_n = 0;
	th->out_used = 0;
}

/* A copy in served from what the fast-call code read ahead (slot in_*),
 * when it covers [src, src + n). */
static bool systrap_copy_in_ahead(struct plat_thread *th, void *dst,
				  uint64_t src, size_t n)
{
	uint64_t a = th->in_addr;
	if (!th->in_len || src < a || n > th->in_len ||
	    src - a > th->in_len - n)
		return false;
	memcpy(dst, th->in_buf + (src - a), n);
	return true;
}

static bool systrap_thread_settid(struct plat_thread *th, uint64_t addr,
				  uint32_t val)
{
	if (th->started || th->as->dead)
		return false;
	th->slot->settid_val = val;
	th->slot->settid_addr = addr;
	return true;
}

static void systrap_thread_vfork_child(struct plat_thread *th)
{
	th->vfork_child = true;
}

static uint64_t code_lo, code_hi; /* the stub code region */
static uint64_t arena;
static unsigned char arena_used[ARENA_BLOCKS];
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static struct plat_range reserved[4];
/* Sites may be patched: the host lets user code read the gs base
 * (FSGSBASE), which the fast-call code finds its slot with. */
static bool patch_ok;
static struct plat_as *zygote;
/* Filter B, the same for every stub: generated once (libseccomp is slow). */
static struct systrap_filter_insn filter_b[SYSTRAP_FILTER_MAX];
static int filter_b_len;
static pthread_mutex_t zygote_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t code_addr(const void *sym)
{
	return code_lo + (uint64_t)((const char *)sym - __start_stub_text);
}

static long futex(uint32_t *w, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

static uint32_t load(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void store(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static int systrap_init(void)
{
	size_t len = (size_t)(__stop_stub_text - __start_stub_text);
	size_t size = (len + 4095) & ~4095UL;
	uint64_t vlo, vhi;
	void *p = MAP_FAILED;

	int err = plat_fpu_init();
	if (!err)
		err = plat_fdpass_init();
	if (err < 0)
		return err;
	/* The filters compare only the low 32 bits of the instruction pointer
	 * after matching the high ones: keep the code inside one 4 GiB window. */
	for (int tries = 0; tries < 8; tries++) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
		if (((uint64_t)p >> 32) == (((uint64_t)p + size - 1) >> 32))
			break;
		munmap(p, size);
		p = MAP_FAILED;
	}
	if (p == MAP_FAILED)
		return -ENOMEM;
	memset(p, 0xcc, size);
	memcpy(p, __start_stub_text, len);
	if (mprotect(p, size, PROT_READ | PROT_EXEC) < 0)
		return -errno;
	code_lo = (uint64_t)p;
	code_hi = code_lo + size;

	cpu_set_t cpus;
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
		ncpus = CPU_COUNT(&cpus);
	sandbox_cpus = cpus;
	if (ncpus < 2)
		spin_budget = 0;
	filter_b_len = systrap_filter_b(code_lo, code_hi, filter_b,
					SYSTRAP_FILTER_MAX);
	if (filter_b_len < 0)
		return filter_b_len;
	log_debug("systrap: filter B has %d instructions", filter_b_len);

	void *a = mmap(NULL, ARENA_SIZE + SYSTRAP_BLOCK_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED)
		return -errno;
	arena = ((uint64_t)a + SYSTRAP_BLOCK_SIZE - 1) &
		~((uint64_t)SYSTRAP_BLOCK_SIZE - 1);

	patch_ok = (getauxval(AT_HWCAP2) & (1UL << 1)) && plat_syscall_patching();

	int n = 0;
	reserved[n++] = (struct plat_range){ code_lo, code_hi, "[stub]" };
	if (patch_ok)
		reserved[n++] = (struct plat_range){ PATCH_BASE,
						     PATCH_BASE + PATCH_SIZE,
						     "[stub patches]" };
	reserved[n++] = (struct plat_range){ arena, arena + ARENA_SIZE,
					     "[stub blocks]" };
	err = stubproc_vdso_span(&vlo, &vhi);
	if (err < 0)
		return err;
	if (vlo) {
		reserved[n++] = (struct plat_range){ vlo, vhi, "[vdso]" };
		plat_set_vdso_base(getauxval(AT_SYSINFO_EHDR));
	}
	plat_set_reserved(reserved, n);
	return 0;
}

/* --- blocks ------------------------------------------------------------- */

static int block_reserve(uint64_t *out)
{
	int idx = -1;

	pthread_mutex_lock(&arena_lock);
	for (uint64_t i = 0; i < ARENA_BLOCKS; i++)
		if (!arena_used[i]) {
			arena_used[i] = 1;
			idx = (int)i;
			break;
		}
	pthread_mutex_unlock(&arena_lock);
	if (idx < 0)
		return -EAGAIN;
	*out = arena + (uint64_t)idx * SYSTRAP_BLOCK_SIZE;
	return 0;
}

/* Frees the slot only. The sentry's mapping of the dead stub's memfd
 * stays until block_map maps the next one over it: the touched pages of
 * at most as many blocks as the sandbox ever had at once stay. Turning
 * it back into a PROT_NONE reservation here was a second replacement of
 * the mapping per stub, each a TLB shoot-down of the sentry's threads on
 * every other CPU (an IPI, and the wake of a halted vCPU if it slept):
 * fork+exec went to 0.92 and 0.97 of what it was (medians of 11 and 7
 * interleaved rounds). Nothing in the sentry touches a free block. */
static void block_free(uint64_t b)
{
	pthread_mutex_lock(&arena_lock);
	arena_used[(b - arena) / SYSTRAP_BLOCK_SIZE] = 0;
	pthread_mutex_unlock(&arena_lock);
}

/* The calls whose input the fast-call code reads ahead, and the register
 * pointing at it: only calls that read it first thing, before any other
 * input and before anything of theirs could change it or wait (openat2,
 * utimensat and ppoll read another input first; sigaltstack is never a
 * fast call). A path is read as the sentry reads one first (256 bytes or
 * to the page's end), a structure from its start. */
static const uint8_t prefetch_table[SYSTRAP_PREFETCH_NR] = {
	[SYS_open] = SLOT_O_RDI,
	[SYS_creat] = SLOT_O_RDI,
	[SYS_openat] = SLOT_O_RSI,
	[SYS_stat] = SLOT_O_RDI,
	[SYS_lstat] = SLOT_O_RDI,
	[SYS_newfstatat] = SLOT_O_RSI,
	[SYS_statx] = SLOT_O_RSI,
	[SYS_access] = SLOT_O_RDI,
	[SYS_faccessat] = SLOT_O_RSI,
	[SYS_faccessat2] = SLOT_O_RSI,
	[SYS_readlink] = SLOT_O_RDI,
	[SYS_readlinkat] = SLOT_O_RSI,
	[SYS_chdir] = SLOT_O_RDI,
	[SYS_mkdir] = SLOT_O_RDI,
	[SYS_mkdirat] = SLOT_O_RSI,
	[SYS_unlink] = SLOT_O_RDI,
	[SYS_unlinkat] = SLOT_O_RSI,
	[SYS_rmdir] = SLOT_O_RDI,
	[SYS_rename] = SLOT_O_RDI,
	[SYS_renameat] = SLOT_O_RSI,
	[SYS_renameat2] = SLOT_O_RSI,
	[SYS_link] = SLOT_O_RDI,
	[SYS_linkat] = SLOT_O_RSI,
	[SYS_symlink] = SLOT_O_RDI,
	[SYS_chmod] = SLOT_O_RDI,
	[SYS_fchmodat] = SLOT_O_RSI,
	[SYS_chown] = SLOT_O_RDI,
	[SYS_lchown] = SLOT_O_RDI,
	[SYS_fchownat] = SLOT_O_RSI,
	[SYS_truncate] = SLOT_O_RDI,
	[SYS_statfs] = SLOT_O_RDI,
	[SYS_getxattr] = SLOT_O_RDI,
	[SYS_lgetxattr] = SLOT_O_RDI,
	[SYS_rt_sigaction] = SLOT_O_RSI,
	[SYS_rt_sigprocmask] = SLOT_O_RSI,
	[SYS_nanosleep] = SLOT_O_RDI,
	[SYS_clock_nanosleep] = SLOT_O_RDX,
	[SYS_setitimer] = SLOT_O_RSI,
	[SYS_setrlimit] = SLOT_O_RSI,
	[SYS_prlimit64] = SLOT_O_RDX,
	[SYS_poll] = SLOT_O_RDI,
	/* a write's data (copied in before the file may make the writer
	 * wait, as the sentry does anyway), an iovec array */
	[SYS_write] = SLOT_O_RSI,
	[SYS_pwrite64] = SLOT_O_RSI,
	[SYS_readv] = SLOT_O_RSI,
	[SYS_writev] = SLOT_O_RSI,
	[SYS_preadv] = SLOT_O_RSI,
	[SYS_pwritev] = SLOT_O_RSI,
	[SYS_epoll_ctl] = SLOT_O_R10,
	[SYS_timerfd_settime] = SLOT_O_RDX,
	[SYS_timer_settime] = SLOT_O_RDX,
	[SYS_sched_setaffinity] = SLOT_O_RDX,
};


/* Maps the shared part of block b from memfd fd in the sentry, and gives
 * it filter B (every new thread of the stub installs it from there) and
 * the prefetch table. */
static int block_map(uint64_t b, int fd)
{
	if (mmap((void *)b, SYSTRAP_SHARED_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		return -errno;
	struct systrap_ctrl *c = (struct systrap_ctrl *)b;
	memcpy(c->filter, filter_b, (size_t)filter_b_len * sizeof(filter_b[0]));
	c->filter_len = (uint32_t)filter_b_len;
	c->exec_spin = (uint32_t)spin_budget;
	memcpy(c->prefetch, prefetch_table, sizeof(c->prefetch));
	return 0;
}

static struct plat_as *as_alloc(uint64_t block)
{
	struct plat_as *as = calloc(1, sizeof(*as));
	if (!as)
		return NULL;
	as->pidfd = -1;
	as->proc_mem = -1;
	as->block = block;
	as->ctrl = (struct systrap_ctrl *)block;
	as->res = (struct systrap_result *)(block + SYSTRAP_RESULT_OFF);
	pthread_mutex_init(&as->lock, NULL);
	return as;
}

static void as_free(void *arg)
{
	struct plat_as *as = arg;

	if (as->pidfd >= 0)
		close(as->pidfd);
	chan_put(as->chan);
	if (as->block)
		block_free(as->block);
	pthread_mutex_destroy(&as->lock);
	free(as->sites);
	free(as->site_state);
	if (as->proc_mem >= 0)
		close(as->proc_mem);
	free(as);
}

/* The caller is the address space's last user and none of its threads
 * runs: the stub is killed, its block and fds freed, by the reaper
 * thread. */
static void systrap_as_destroy(struct plat_as *as)
{
	if (!as)
		return;
	if (as->pid > 0)
		stubproc_reap_later(as->pid, as_free, as);
	else
		as_free(as);
}

/* --- the zygote, set up by the factory thread ----------------------------- */

static int inject(pid_t pid, const struct user_regs_struct *base, long nr,
		  uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		  uint64_t a4, uint64_t a5)
{
	uint64_t args[6] = { a0, a1, a2, a3, a4, a5 };
	long ret;
	int err = stubproc_inject(pid, base, code_addr(stub_inject), nr, args,
				  &ret);
	if (err < 0)
		return err;
	return ret < 0 ? (int)ret : 0;
}

static int setup_zygote(void *arg)
{
	struct plat_as *as = arg;
	struct user_regs_struct regs;
	uint64_t b = as->block;
	pid_t pid;
	int err;

	err = stubproc_spawn(&pid, &regs);
	if (err < 0)
		return err;
	as->pid = pid;
	struct plat_range keep[4];
	const struct plat_range *res;
	int n = plat_reserved(&res), k = 0;
	for (int i = 0; i < n; i++)
		if (res[i].start != arena)
			keep[k++] = res[i];
	keep[k++] = (struct plat_range){ b, b + SYSTRAP_BLOCK_SIZE, "block" };
	err = stubproc_unmap_except(pid, &regs, code_addr(stub_inject), keep, k);
	if (!err)
		err = stubproc_reset_fpu(pid);
	if (err < 0)
		return err;
	/* Signal stacks: private to the stub. The control page becomes
	 * read-only there: the sentry writes it through its own mapping. */
	err = inject(pid, &regs, SYS_mmap, b + SYSTRAP_STACKS_OFF,
		     SYSTRAP_BLOCK_SIZE - SYSTRAP_STACKS_OFF,
		     PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, (uint64_t)-1, 0);
	if (!err)
		err = inject(pid, &regs, SYS_mprotect, b, SYSTRAP_CTRL_SIZE,
			     PROT_READ, 0, 0, 0);
	/* The patched sites' region, empty: its header says where slots can
	 * be (the arena) and where the fast-call code is. */
	if (!err && patch_ok)
		err = inject(pid, &regs, SYS_mmap, PATCH_BASE, PATCH_SIZE,
			     PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, (uint64_t)-1, 0);
	if (!err && patch_ok) {
		uint64_t hdr[3] = { arena, arena + ARENA_SIZE,
				    code_addr(stub_fastcall) };
		err = stubproc_copy_out(pid, PATCH_HDR, hdr, sizeof(hdr));
	}
	if (!err && patch_ok)
		err = inject(pid, &regs, SYS_mprotect, PATCH_BASE, PATCH_SIZE,
			     PROT_READ | PROT_EXEC, 0, 0, 0);
	if (!err)
		err = inject(pid, &regs, SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0,
			     0, 0);
	/* Handlers for the trap, workload faults and the sentry's interrupt,
	 * on the signal stack, with every signal blocked while they run. */
	struct {
		uint64_t handler, flags, restorer, mask;
	} act = { code_addr((const void *)stub_signal_handler),
		  SA_SIGINFO | SA_ONSTACK | SA_RESTORER_,
		  code_addr(stub_restorer), ~0ULL };
	static const int sigs[] = { SIGSYS, SIGSEGV, SIGBUS, SIGFPE, SIGILL,
				    SIGTRAP, SYSTRAP_INTERRUPT_SIGNAL };
	memcpy(as->res->scratch, &act, sizeof(act));
	uint64_t scratch = b + SYSTRAP_RESULT_OFF +
			   offsetof(struct systrap_result, scratch);
	for (size_t i = 0; !err && i < sizeof(sigs) / sizeof(sigs[0]); i++)
		err = inject(pid, &regs, SYS_rt_sigaction, (uint64_t)sigs[i],
			     scratch, 0, 8, 0, 0);
	/* The executor takes no signals; the threads it clones unblock them
	 * as they enter the workload. SIGTRAP stays open: the int3 after each
	 * injected call raises it, and a blocked forced signal would reset
	 * the SIGTRAP handler to the default. */
	uint64_t all = ~(1ULL << (SIGTRAP - 1));
	memcpy(as->res->scratch, &all, sizeof(all));
	if (!err)
		err = inject(pid, &regs, SYS_rt_sigprocmask, SIG_SETMASK,
			     scratch, 0, 8, 0, 0);
	if (err < 0)
		return err;

	/* Filter A for the whole stub (filter B waits in the control page). */
	struct systrap_filter_insn *fa =
		(struct systrap_filter_insn *)(as->res->scratch + 16);
	int na = systrap_filter_a(code_lo, code_hi, fa, 200);
	if (na < 0)
		return na;
	struct {
		uint16_t len;
		uint16_t pad[3];
		uint64_t filter;
	} fprog = { (uint16_t)na, { 0 }, scratch + 16 };
	memcpy(as->res->scratch, &fprog, sizeof(fprog));
	err = inject(pid, &regs, SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0,
		     scratch, 0, 0, 0);
	if (err < 0)
		return err;

	/* The main thread becomes the executor, with no stack. */
	regs.rip = code_addr(stub_executor);
	regs.r12 = b;
	regs.r13 = b + SYSTRAP_RESULT_OFF;
	regs.r14 = 0;
	regs.rsp = 0;
	regs.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, pid, 0, &regs) < 0 ||
	    ptrace(PTRACE_DETACH, pid, 0, 0) < 0)
		return -errno;
	return 0;
}

static int zygote_make(struct plat_as **out)
{
	uint64_t b;
	int err = block_reserve(&b);
	if (err < 0)
		return err;
	struct plat_as *as = as_alloc(b);
	if (!as) {
		block_free(b);
		return -ENOMEM;
	}
	int fd = memfd_create("systrap-block", MFD_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	err = ftruncate(fd, SYSTRAP_SHARED_SIZE) < 0 ? -errno : block_map(b, fd);
	close(fd); /* the mapping keeps the memory */
	if (err < 0)
		goto fail;
	/* The zygote inherits the block at the same address from the fork. */
	err = plat_factory_call(setup_zygote, as);
	if (err < 0)
		goto fail;
	as->pidfd = (int)syscall(SYS_pidfd_open, as->pid, 0);
	if (as->pidfd < 0) {
		err = -errno;
		goto fail;
	}
	*out = as;
	return 0;
fail:
	systrap_as_destroy(as);
	return err;
}

/* --- executor calls and the hand-off --------------------------------------- */

static bool pid_alive(int pidfd)
{
	struct pollfd p = { pidfd, POLLIN, 0 };
	return poll(&p, 1, 0) != 1;
}

static bool stub_alive(struct plat_as *as)
{
	if (as->dead)
		return false;
	if (!pid_alive(as->pidfd)) {
		as->dead = true;
		return false;
	}
	return true;
}

/* Waits until *w != val, spinning first; false if the process behind pidfd
 * died first. */
static bool wait_change(int pidfd, uint32_t *w, uint32_t val,
			uint32_t *sleeping, int spin)
{
	struct timespec ts = { 0, LIVENESS_NS };
	bool ok = true;

	for (int i = 0; i < spin; i++) {
		if (load(w) != val)
			return true;
		/* Past a few microseconds the stub thread may share this
		 * CPU (the scheduler likes to put a ping-ponging pair
		 * together): let it run rather than burn the budget. */
		if (i >= 100 && (i & 15) == 0)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
	if (sleeping)
		store(sleeping, 1);
	while (load(w) == val) {
		long r = futex(w, FUTEX_WAIT, val, &ts);
		if (r < 0 && errno == ETIMEDOUT && !pid_alive(pidfd)) {
			ok = false;
			break;
		}
	}
	if (sleeping)
		store(sleeping, 0);
	return ok;
}

/* Posts a request to the executor and waits for its answer; as->lock held.
 * batch (n entries, for SYSTRAP_OP_BATCH) is written with the request,
 * while seq is odd. exec_spin: how long the executor stays awake after
 * answering; wait_spin: how long we wait for the answer awake. */
static int executor_post_spins(struct plat_as *as, long nr,
			       const uint64_t args[6],
			       const struct systrap_req *batch, int n,
			       int exec_spin, int wait_spin, long *ret)
{
	struct systrap_ctrl *c = as->ctrl;

	if (as->dead)
		return -ESRCH;
	uint32_t prev = load(&as->res->seq);
	uint32_t seq = as->seq + 2;
	as->seq = seq;
	__atomic_store_n(&c->exec_spin, (uint32_t)exec_spin, __ATOMIC_RELAXED);
	/* Odd while the request is written (the executor's seqlock). */
	store(&c->seq, seq - 1);
	__atomic_store_n(&c->nr, (uint64_t)nr, __ATOMIC_RELAXED);
	for (int i = 0; i < 6; i++)
		__atomic_store_n(&c->args[i], args[i], __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++) {
		__atomic_store_n(&c->batch[i].nr, batch[i].nr, __ATOMIC_RELAXED);
		for (int j = 0; j < 6; j++)
			__atomic_store_n(&c->batch[i].args[j], batch[i].args[j],
					 __ATOMIC_RELAXED);
	}
	store(&c->seq, seq);
	futex(&c->seq, FUTEX_WAKE, 1, NULL);
	/* The result page is writable by the workload: a forged seq only
	 * makes it lie to itself about its own memory (the executor checks
	 * seq before each call of a batch, so a request posted early cuts an
	 * older batch short rather than mixing with it). */
	while (load(&as->res->seq) != seq) {
		if (!wait_change(as->pidfd, &as->res->seq, prev, NULL,
				 wait_spin)) {
			as->dead = true;
			return -ESRCH;
		}
		prev = load(&as->res->seq);
	}
	*ret = (long)__atomic_load_n(&as->res->ret, __ATOMIC_SEQ_CST);
	return 0;
}

/* One call, both spins the budget now: paired on this thread's CPU
 * (budget 0), the executor's spin would hold the CPU the answer's reader
 * needs. */
static int executor_call_locked(struct plat_as *as, long nr,
				const uint64_t args[6], long *ret)
{
	int budget = budget_now();
	return executor_post_spins(as, nr, args, NULL, 0, budget, budget, ret);
}

static int executor_call(struct plat_as *as, long nr, const uint64_t args[6],
			 long *ret)
{
	pthread_mutex_lock(&as->lock);
	int err = executor_call_locked(as, nr, args, ret);
	pthread_mutex_unlock(&as->lock);
	return err;
}

static int systrap_thread_syscall(struct plat_thread *th, long nr,
				  const uint64_t args[6], long *ret)
{
	return executor_call(th->as, nr, args, ret);
}

/* Lays out the fd-passing msghdr in as's result page; returns its stub
 * address (recvmsg's msghdr). as->lock held. */
static uint64_t recv_area_init(struct plat_as *as)
{
	uint64_t base = as->block + SYSTRAP_RESULT_OFF +
			offsetof(struct systrap_result, scratch);
	struct plat_recv_area *ra = (struct plat_recv_area *)as->res->scratch;
	_Static_assert(sizeof(*ra) <= sizeof(as->res->scratch), "scratch size");
	plat_recv_area_init(ra, base);
	return base;
}

static int as_batch(struct plat_as *as, int host_fd, int host_fd2,
		    const struct plat_sysreq *reqs, int n, long *rets);
static int proc_mem_fd(struct plat_as *as);

/* Gives a new stub its own fd-passing channel in place of the one it
 * inherited (as->chan: its parent's). One batch of the new stub's executor
 * (which has closed its block's memfd on seeing it): the new socket's end
 * is passed over the inherited channel like any host fd, and moved to
 * PLAT_FDPASS_FD. The new stub runs no workload code yet: nothing of this
 * can be forged. */
static int own_socket(struct plat_as *as)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	struct fdchan *c = calloc(1, sizeof(*c));
	if (!c) {
		close(sp[0]);
		close(sp[1]);
		return -ENOMEM;
	}
	c->fd = sp[0];
	c->peer = sp[1];
	pthread_mutex_init(&c->lock, NULL);
	atomic_init(&c->refs, 1);

	struct plat_sysreq req = {
		SYS_dup2, { PLAT_FDPASS_RECV_FD, PLAT_FDPASS_FD } };
	long r = -EIO;
	int ok = as_batch(as, sp[1], -1, &req, 1, &r);
	if (ok != 1 || r != PLAT_FDPASS_FD) {
		chan_put(c);
		return ok < 0 ? ok : -EIO;
	}
	chan_put(as->chan);
	as->chan = c;
	return 0;
}

static struct systrap_slot *slot_at(const struct plat_as *as, int idx)
{
	return (struct systrap_slot *)(as->block + SYSTRAP_SLOTS_OFF +
				       (uint64_t)idx * SYSTRAP_SLOT_SIZE);
}

/* th, a host thread already made (a fork child's first, or a parked one),
 * becomes one of its address space's threads: it spins start_spin for its
 * first resume, and its START trap is awaited before its first run
 * (start_wait). */
static void thread_awaits_start(struct plat_thread *th, int start_spin,
				struct plat_thread **out)
{
	__atomic_store_n(&th->slot->spin, (uint32_t)start_spin,
			 __ATOMIC_SEQ_CST);
	atomic_fetch_add(&th->as->nthreads, 1);
	th->start_pending = true;
	*out = th;
}

/* The thread a fork child's executor cloned into slot 0 on its own
 * (SYSTRAP_OP_FORK), taken on as thread_spawn's would be. tid: what the
 * child left in its new result page before its first request (nothing but
 * stub code has run there yet), checked to be a thread of the child all
 * the same. */
static int thread_first(struct plat_as *as, long tid, struct plat_thread **out,
			int start_spin)
{
	if (tid <= 0 || tid > INT32_MAX ||
	    syscall(SYS_tgkill, as->pid, (pid_t)tid, 0) < 0)
		return -ECHILD;
	struct plat_thread *th = calloc(1, sizeof(*th));
	if (!th)
		return -ENOMEM;
	th->as = as;
	th->pair_cpu = -1;
	th->idx = 0;
	th->tid = (pid_t)tid;
	th->slot = slot_at(as, 0);
	pthread_mutex_lock(&as->lock);
	as->slot_used[0] = true;
	pthread_mutex_unlock(&as->lock);
	thread_awaits_start(th, start_spin, out);
	return 0;
}

/* A host fork of parent's stub; the child serves its own new block. With
 * share, it keeps its parent's fd-passing channel (a workload's fork: the
 * child mostly execs soon, into a new stub; own_socket would cost a round
 * trip of some 70-110 us here), else it gets its own (the spare stock).
 * *first: the child's first thread (thread_first), spinning start_spin
 * for its first resume. */
static int stub_fork(struct plat_as *parent, struct plat_as **out, bool share,
		     struct plat_thread **first, int start_spin)
{
	uint64_t b;
	int err = block_reserve(&b);
	if (err < 0)
		return err;
	struct plat_as *as = as_alloc(b);
	if (!as) {
		block_free(b);
		return -ENOMEM;
	}

	/* The child's set-up until it reports (some 90 us here), then its
	 * first thread's clone: a workload's fork, with CPUs to spare, waits
	 * through them awake (FORK_WAIT_BUDGETS budgets), since a sleep ends
	 * with the wake of a halted vCPU. Sentry-side medians of 100 fork+
	 * exec, three runs each: clone 422-490 -> 356-376 us, the child's
	 * whole life as wait4 sees it 2.36-3.16 -> 2.10-2.14 ms. */
	int budget = budget_now();
	int child_spin = share ? budget * FORK_WAIT_BUDGETS : spin_budget;
	pthread_mutex_lock(&parent->lock);
	store(&parent->res->fork_ready, 0);
	/* CLONE_PARENT: the child is the factory thread's, as every stub is.
	 * Exit signal 0: stubs are reaped with __WALL, nobody needs SIGCHLD.
	 * args[4]: how long the child's executor waits awake for its first
	 * request (times SYSTRAP_FORK_SPIN_MUL). A spare's follows at once
	 * (own_socket). A workload's fork child's comes no sooner than its
	 * first thread's first system call, some 150-250 us on: it sleeps
	 * at once, since its spin held a CPU that the first thread needed
	 * for its set-up (filter B) and the sentry waited for that.
	 * The parent's executor sleeps after the fork (FORK_PARENT_SPIN):
	 * its workload's next request is no sooner. */
	uint64_t args[6] = { CLONE_PARENT, 0, b, (uint64_t)getpid(),
			     (uint64_t)(share ? 0 : budget), 0 };
	long pid;
	err = executor_post_spins(parent, SYSTRAP_OP_FORK, args, NULL, 0,
				  FORK_PARENT_SPIN, child_spin, &pid);
	if (!err && pid < 0)
		err = (int)pid;
	if (err < 0) {
		pthread_mutex_unlock(&parent->lock);
		goto fail;
	}
	as->pid = (pid_t)pid;
	as->pidfd = (int)syscall(SYS_pidfd_open, as->pid, 0);
	if (as->pidfd < 0) {
		err = -errno;
		pthread_mutex_unlock(&parent->lock);
		goto fail;
	}
	/* Its /proc/PID/mem, opened while the child sets itself up (we
	 * would wait for that anyway): process_vm_readv pins what it reads,
	 * and pinning a page still shared copy-on-write with the parent
	 * copies it (the host's unsharing), some 5-20 us a page; a read
	 * through /proc/PID/mem does not. A fork child's copies are mostly of
	 * such pages (what exec reads: its path, argv and envp), and so are
	 * its parent's until it writes them. Failing, copies go the other
	 * way. */
	if (share && proc_mem_fd(as) < 0)
		as->proc_mem = -1; /* not ours to give up on yet: later again */
	/* The child tells us its memfd through the parent's result page. */
	bool alive = wait_change(as->pidfd, &parent->res->fork_ready, 0, NULL,
				 child_spin);
	uint32_t ready = load(&parent->res->fork_ready);
	pthread_mutex_unlock(&parent->lock);
	if (!alive || ready == 0 || ready > 1024) {
		err = -ECHILD;
		goto fail;
	}
	int fd = (int)syscall(SYS_pidfd_getfd, as->pidfd, (int)ready - 1, 0);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	/* The number comes through the parent's result page, which its
	 * workload can write: take only a fresh, unlinked memfd of a block's
	 * size that is not the parent's own block (the child closes its copy
	 * before it serves, so it holds no other). */
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size != SYSTRAP_SHARED_SIZE || st.st_nlink != 0 ||
	    fcntl(fd, F_GET_SEALS) < 0 ||
	    (st.st_dev == parent->block_dev && st.st_ino == parent->block_ino)) {
		close(fd);
		err = -ECHILD;
		goto fail;
	}
	as->block_dev = st.st_dev;
	as->block_ino = st.st_ino;
	err = block_map(b, fd);
	close(fd);
	if (err < 0)
		goto fail;
	/* The child's first thread (it clones it after fork_ready): its tid,
	 * before any request overwrites the word. */
	if (!wait_change(as->pidfd, (uint32_t *)&as->res->ret, 0, NULL,
			 child_spin)) {
		err = -ECHILD;
		goto fail;
	}
	long first_tid = __atomic_load_n(&as->res->ret, __ATOMIC_SEQ_CST);
	as->chan = chan_get(parent->chan); /* what its fd 1 is */
	if (!share) {
		err = own_socket(as);
		if (err < 0)
			goto fail;
	}
	/* The child's memory has the parent's patched sites. */
	int nsites = atomic_load(&parent->nsites);
	if (nsites > 0) {
		as->sites = calloc(PATCH_MAX, sizeof(*as->sites));
		as->site_state = calloc(PATCH_MAX, sizeof(*as->site_state));
		if (!as->sites || !as->site_state) {
			err = -ENOMEM;
			goto fail;
		}
		memcpy(as->sites, parent->sites, (size_t)nsites * sizeof(*as->sites));
		for (int i = 0; i < nsites; i++)
			as->site_state[i] = atomic_load(&parent->site_state[i]);
		atomic_store(&as->nsites, nsites);
	}
	err = thread_first(as, first_tid, first, start_spin);
	if (err < 0)
		goto fail;
	*out = as;
	return 0;
fail:
	systrap_as_destroy(as);
	return err;
}

static void regs_from_slot(const struct systrap_slot *s, struct plat_regs *r)
{
	const struct systrap_regs *x = &s->regs;
	r->r15 = x->r15; r->r14 = x->r14; r->r13 = x->r13; r->r12 = x->r12;
	r->rbp = x->rbp; r->rbx = x->rbx; r->r11 = x->r11; r->r10 = x->r10;
	r->r9 = x->r9; r->r8 = x->r8; r->rax = x->rax; r->rcx = x->rcx;
	r->rdx = x->rdx; r->rsi = x->rsi; r->rdi = x->rdi;
	r->rip = x->rip; r->eflags = x->eflags; r->rsp = x->rsp;
	/* fs_base, gs_base and the selectors are the sentry's own record. */
}

static void regs_to_slot(const struct plat_regs *r, struct systrap_slot *s)
{
	struct systrap_regs *x = &s->regs;
	x->r15 = r->r15; x->r14 = r->r14; x->r13 = r->r13; x->r12 = r->r12;
	x->rbp = r->rbp; x->rbx = r->rbx; x->r11 = r->r11; x->r10 = r->r10;
	x->r9 = r->r9; x->r8 = r->r8; x->rax = r->rax; x->rcx = r->rcx;
	x->rdx = r->rdx; x->rsi = r->rsi; x->rdi = r->rdi;
	x->rip = r->rip; x->eflags = r->eflags; x->rsp = r->rsp;
	x->fs_base = r->fs_base;
	x->gs_base = r->gs_base;
}

/* Waits for the thread's next trap; cpu: the caller's (sched_getcpu).
 * false: the thread or stub is gone. */
static bool wait_trap(struct plat_thread *th, int budget, int cpu)
{
	struct systrap_slot *s = th->slot;
	/* The stub thread trapped from this CPU (its word, a hint): our spin
	 * would only keep it from running. */
	if (cpu >= 0 &&
	    (uint16_t)cpu == __atomic_load_n(&s->stub_cpu, __ATOMIC_RELAXED))
		budget = 0;
	/* The next trap comes after the workload's own work, often 20-100 us
	 * of it (ld between its reads): a process with one thread, so no
	 * partner thread of its own wants this CPU, gets a longer wait. */
	if (atomic_load(&th->as->nthreads) == 1)
		budget *= TRAP_WAIT_BUDGETS;
	if (!wait_change(th->as->pidfd, &s->state, SLOT_RESUME,
			 &s->sentry_waiting, budget)) {
		th->as->dead = true;
		return false;
	}
	return load(&s->state) == SLOT_TRAPPED;
}

static uint64_t stack_of(const struct plat_thread *th)
{
	return th->as->block + SYSTRAP_STACKS_OFF +
	       (uint64_t)th->idx * SYSTRAP_STACK_SIZE;
}

/* A new workload thread in as, cloned by the executor, stopped at START. */
static int thread_spawn(struct plat_as *as, struct plat_thread **out,
			int start_spin)
{
	struct plat_thread *th = calloc(1, sizeof(*th));
	int err;

	if (!th)
		return -ENOMEM;
	th->as = as;
	th->pair_cpu = -1;
	pthread_mutex_lock(&as->lock);
	if (as->nparked > 0) {
		/* An exited thread's host thread, kept at START (thread_park):
		 * no clone, no filter to install. It is resumed from the trap
		 * frame it exited in, which gets the new thread's registers
		 * and FPU state like any frame; fs and gs are set anew. */
		int k = --as->nparked;
		th->idx = as->parked[k].idx;
		th->tid = as->parked[k].tid;
		th->ru_base = as->parked[k].base;
		pthread_mutex_unlock(&as->lock);
		th->ru_based = true;
		th->started = true;
		th->fs_base = th->gs_base = UINT64_MAX;
		th->slot = slot_at(as, th->idx);
		/* The stub thread turns PARK into a START trap. */
		if (!wait_change(as->pidfd, &th->slot->state, SLOT_PARK,
				 &th->slot->sentry_waiting, budget_now())) {
			as->dead = true;
			free(th);
			return -ESRCH;
		}
		thread_awaits_start(th, start_spin, out);
		return 0;
	}
	th->idx = -1;
	for (int i = 0; i < SYSTRAP_MAX_THREADS; i++) {
		struct systrap_slot *s = slot_at(as, i);
		/* Free, and its last host thread gone (CLONE_CHILD_CLEARTID). */
		if (!as->slot_used[i] && load(&s->state) == SLOT_DEAD) {
			as->slot_used[i] = true;
			th->idx = i;
			break;
		}
	}
	if (th->idx < 0) {
		pthread_mutex_unlock(&as->lock);
		free(th);
		return -EAGAIN;
	}
	th->slot = slot_at(as, th->idx);
	memset(th->slot, 0, sizeof(*th->slot));
	/* How long the new thread spins for its first resume, once set up. */
	th->slot->spin = (uint32_t)start_spin;
	store(&th->slot->state, SLOT_RESUME);
	_Static_assert(SYSTRAP_THREAD_CLONE_FLAGS ==
			       (CLONE_VM | CLONE_FS | CLONE_FILES |
				CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
				CLONE_CHILD_CLEARTID),
		       "clone flags");
	uint64_t args[6] = {
		SYSTRAP_THREAD_CLONE_FLAGS,
		stack_of(th) + SYSTRAP_STACK_SIZE, 0,
		(uint64_t)&th->slot->state, 0, 0
	};
	long tid;
	err = executor_call_locked(as, SYSTRAP_OP_THREAD, args, &tid);
	if (!err && tid < 0)
		err = (int)tid;
	if (err < 0) {
		store(&th->slot->state, SLOT_DEAD);
		as->slot_used[th->idx] = false;
		pthread_mutex_unlock(&as->lock);
		free(th);
		return err;
	}
	pthread_mutex_unlock(&as->lock);
	atomic_fetch_add(&as->nthreads, 1);
	th->tid = (pid_t)tid;
	/* The new thread sets itself up (its signal stack, filter B: some
	 * 70 us here, most of it the filter) while the sentry goes on with
	 * the fork or clone; its START trap is awaited before its first run
	 * (start_wait). */
	th->start_pending = true;
	*out = th;
	return 0;
}

static bool cmd_collect(struct plat_thread *th);

/* Waits for a new thread's START trap. false: it never came (the thread
 * or the stub died). */
static bool start_wait(struct plat_thread *th)
{
	if (!th->start_pending)
		return true;
	th->start_pending = false;
	if (!wait_trap(th, spin_budget, sched_getcpu()) ||
	    th->slot->kind != SLOT_KIND_START) {
		th->as->dead = true;
		return false;
	}
	return true;
}

static bool thread_park(struct plat_thread *th);
static int fast_convert(struct plat_thread *th);

static void systrap_thread_release(struct plat_thread *th)
{
	if (!th)
		return;
	struct plat_as *as = th->as;
	struct systrap_slot *s = th->slot;
	bool parked = false;
	/* Unpinned while its tid is surely its own (before it exits). */
	pthread_mutex_lock(&pair_lock);
	pair_undo_locked(th);
	pthread_mutex_unlock(&pair_lock);
	/* A thread still setting itself up is told to exit once it is at
	 * START (until then it would not see the request). */
	cmd_collect(th);
	if (th->conv_posted)
		fast_convert(th); /* it traps again, converted */
	if (!as->dead && start_wait(th) && load(&s->state) == SLOT_TRAPPED) {
		/* A parked thread keeps its slot (thread_spawn takes both). */
		parked = thread_park(th);
		if (!parked) {
			store(&s->state, SLOT_EXIT);
			if (load(&s->stub_waiting))
				futex(&s->state, FUTEX_WAKE, 1, NULL);
		}
	}
	atomic_fetch_sub(&as->nthreads, 1);
	/* The slot is reused once its state reads SLOT_DEAD (thread_spawn). */
	if (!parked) {
		pthread_mutex_lock(&as->lock);
		as->slot_used[th->idx] = false;
		pthread_mutex_unlock(&as->lock);
	}
	free(th);
}

static int copy_fpstate(struct plat_thread *from, struct plat_thread *to);

static int systrap_as_create(struct plat_as **asp, struct plat_thread **thp)
{
	struct plat_as *as;
	int err;

	pthread_mutex_lock(&zygote_lock);
	if (!zygote || !stub_alive(zygote)) {
		systrap_as_destroy(zygote);
		zygote = NULL;
		err = zygote_make(&zygote);
		if (err < 0) {
			pthread_mutex_unlock(&zygote_lock);
			return err;
		}
	}
	struct plat_as *z = zygote;
	pthread_mutex_unlock(&zygote_lock);
	/* Mostly for the spare stock: its thread may wait long for an exec,
	 * and spinning (yielding) there takes CPU from whatever runs. */
	err = stub_fork(z, &as, false, thp, 0);
	if (err < 0)
		return err;
	*asp = as;
	return 0;
}

static int systrap_as_fork(struct plat_thread *th, struct plat_as **asp,
			   struct plat_thread **childp)
{
	struct plat_as *as;
	struct plat_thread *child = NULL; /* released on failure: never garbage */

	int err = stub_fork(th->as, &as, true, &child, spin_budget);
	if (err < 0)
		return err;
	/* A paired parent's executor forks the child pinned to its CPU:
	 * the child starts free, and so does the thread it cloned. */
	if (plat_cpu_pairing() && ncpus > 1) {
		unpin(as->pid);
		unpin(child->tid);
	}
	err = copy_fpstate(th, child);
	if (err < 0) {
		systrap_thread_release(child);
		systrap_as_destroy(as);
		return err;
	}
	*asp = as;
	*childp = child;
	return 0;
}

static int systrap_thread_create(struct plat_thread *th,
				 struct plat_thread **ntp)
{
	struct plat_thread *nt;
	int err = thread_spawn(th->as, &nt, spin_budget);
	if (err < 0)
		return err;
	if (plat_cpu_pairing() && ncpus > 1) /* maybe cloned by a paired executor */
		unpin(nt->tid);
	err = copy_fpstate(th, nt);
	if (err < 0) {
		systrap_thread_release(nt);
		return err;
	}
	*ntp = nt;
	return 0;
}

static int systrap_thread_adopt(struct plat_thread *th)
{
	(void)th; /* any sentry thread may wait on a slot */
	return 0;
}

static void systrap_interrupt(struct plat_thread *th)
{
	syscall(SYS_tgkill, th->as->pid, th->tid, SYSTRAP_INTERRUPT_SIGNAL);
}

/* --- patched sites ------------------------------------------------------------ */


/* A thread trapped through a patched site has no signal frame, so no FPU
 * image in memory, and can only return with the general registers. This
 * makes it trap once more through the signal handler (stub_fast_conv), after
 * which it is like any other trapped thread. */
static int fast_convert(struct plat_thread *th)
{
	struct systrap_slot *s = th->slot;

	if (!th->fast)
		return 0;
	th->fast = false;
	if (!th->conv_posted) { /* else posted ahead: only wait for it */
		cmd_collect(th);
		if (!th->as->dead) {
			store(&s->state, SLOT_CONVERT);
			if (load(&s->stub_waiting))
				futex(&s->state, FUTEX_WAKE, 1, NULL);
		}
	}
	th->conv_posted = false;
	if (th->as->dead)
		return -ESRCH;
	if (!wait_change(th->as->pidfd, &s->state, SLOT_CONVERT,
			 &s->sentry_waiting, budget_now())) {
		th->as->dead = true;
		return -ESRCH;
	}
	uint32_t kind = s->kind;
	if (load(&s->state) != SLOT_TRAPPED ||
	    (kind != SLOT_KIND_CONVERTED && kind != SLOT_KIND_INTERRUPT)) {
		log_warn("systrap: stub %d did not convert a fast call (kind "
			 "%u): killing it", th->as->pid, kind);
		kill(th->as->pid, SIGKILL);
		th->as->dead = true;
		return -ESRCH;
	}
	return 0;
}

/* The sentry thread serving th goes to sleep in a blocking call: a fast
 * call is converted meanwhile, so that a signal delivered when the call
 * ends does not wait for it (fast_convert: the stub thread, asleep by
 * then, had to be woken for it first; 30 us median, 81 at p90, in a
 * shell loop whose wait4 ended with SIGCHLD to a handler). Not waited
 * for here: the next fast_convert, or run, collects it. A thread resumed
 * converted returns through its signal frame (about 1.5 us more). */
static void systrap_thread_sleeps(struct plat_thread *th)
{
	if (!th->fast || th->conv_posted || th->as->dead || th->cmd_asked)
		return;
	struct systrap_slot *s = th->slot;
	uint32_t trapped = SLOT_TRAPPED;
	/* Converted, it traps again and would spin out the budget of its
	 * last run while this thread sleeps: it sleeps at once instead (run
	 * sets the budget anew). */
	store(&s->spin, 0);
	if (!__atomic_compare_exchange_n(&s->state, &trapped, SLOT_CONVERT,
					 false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return;
	if (load(&s->stub_waiting))
		futex(&s->state, FUTEX_WAKE, 1, NULL);
	th->conv_posted = true;
}

static bool systrap_patched_code(uint64_t rip)
{
	return rip >= PATCH_BASE && rip < PATCH_BASE + PATCH_SIZE;
}

/* Calls a fast call must never take: they need the whole register state or
 * the FPU state every time (the conversion would cost more than the trap
 * saves), or they change what the fast-call code relies on (gs, fs). */
static bool patch_excluded(uint64_t nr)
{
	switch (nr) {
	case SYS_rt_sigreturn: case SYS_clone: case SYS_fork: case SYS_vfork:
	case SYS_execve: case SYS_execveat: case SYS_clone3:
	case SYS_arch_prctl: case SYS_rt_sigsuspend: case SYS_pause:
	case SYS_restart_syscall: case SYS_sigaltstack:
	/* a thread exits once (nothing to gain), and through the signal
	 * handler it leaves a frame its host thread can be reused from
	 * (thread_park) */
	case SYS_exit:
		return true;
	default:
		return false;
	}
}

/* glibc's syscall(3) up to its `syscall`: the arguments moved into place
 * and the number in rax; the site is its last 7 bytes (mov 8(%rsp), %r9;
 * syscall). Matched whole, so there is no doubt where its instructions
 * start. */
static const uint8_t glibc_syscall_fn[25] = {
	0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x89, 0xd6, 0x48, 0x89,
	0xca, 0x4d, 0x89, 0xc2, 0x4d, 0x89, 0xc8, 0x4c, 0x8b, 0x4c, 0x24,
	0x08, 0x0f, 0x05,
};

/* A number a fast call may carry to the sentry; any other (a syscall(3)
 * site passes whatever it is given) is run by the site's real instruction
 * in its gadget instead. */
static bool fast_servable(uint64_t nr)
{
	return nr < ABI_NR_SYSCALLS && syscall_table[nr].cls != SC_HOST &&
	       !patch_excluded(nr);
}

/* Bytes that, right before the site, would make its b8 part of a longer
 * instruction (a REX or legacy prefix): the rewrite would change that
 * instruction's meaning. */
static bool is_prefix(uint8_t c)
{
	return (c >= 0x40 && c <= 0x4f) || c == 0x66 || c == 0x67 ||
	       c == 0xf0 || c == 0xf2 || c == 0xf3 || c == 0x2e ||
	       c == 0x36 || c == 0x3e || c == 0x26 || c == 0x64 || c == 0x65;
}

#define PROC_MEM_FAILED (-2) /* as->proc_mem: the open failed */

/* The stub's /proc/PID/mem (opened relative to the host /proc the sentry
 * keeps, the only lookup its path filter allows), opened once; any thread
 * may ask. -errno if it cannot be opened. */
static int proc_mem_fd(struct plat_as *as)
{
	int fd = __atomic_load_n(&as->proc_mem, __ATOMIC_ACQUIRE);
	if (fd >= 0)
		return fd;
	if (fd == PROC_MEM_FAILED)
		return -EACCES; /* tried once: not again on every copy */
	char path[32];
	snprintf(path, sizeof(path), "%d/mem", (int)as->pid);
	int pfd = plat_host_proc_fd();
	fd = pfd >= 0 ? openat(pfd, path, O_RDWR | O_CLOEXEC) : -1;
	if (fd < 0 && pfd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)as->pid);
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0) {
		int err = -errno;
		int none = -1;
		__atomic_compare_exchange_n(&as->proc_mem, &none,
					    PROC_MEM_FAILED, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
		return err;
	}
	int none = -1;
	if (!__atomic_compare_exchange_n(&as->proc_mem, &none, fd, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		close(fd); /* another thread's is in */
		fd = none;
	}
	return fd;
}

/* /proc/PID/mem does not check protections (a debugger's access): only
 * for ranges known to allow the access (mm_range_mapped, or the stub's
 * own). It holds the stub's mm from its open, so no lookup or ptrace
 * check per call. */
/* A stub's first PROC_MEM_AFTER copies go the usual way (process_vm_readv,
 * some 0.5 us more each): the open costs some 12 us, which a short life
 * (a spare's exec of a small program, most of whose results the stub
 * thread writes itself) does not repay. A workload's fork child has it
 * open from the start (stub_fork), where reading through
 * process_vm_readv would copy the pages it shares with its parent. */
#define PROC_MEM_AFTER 8

static int mapped_fd(struct plat_as *as)
{
	int fd = __atomic_load_n(&as->proc_mem, __ATOMIC_ACQUIRE);
	if (fd >= 0)
		return fd;
	if (atomic_fetch_add(&as->mem_copies, 1) < PROC_MEM_AFTER)
		return -EAGAIN;
	return proc_mem_fd(as);
}

static int systrap_copy_in_mapped(struct plat_as *as, void *dst, uint64_t src,
				  size_t n)
{
	int fd = mapped_fd(as);
	if (fd < 0)
		return fd;
	return pread(fd, dst, n, (off_t)src) == (ssize_t)n ? 0 : -EFAULT;
}

/* Execute-only memory: /proc/PID/mem reads it (its fd opened now if not
 * yet), process_vm_readv does not. */
static int systrap_copy_in_exec(struct plat_as *as, void *dst, uint64_t src,
				size_t n)
{
	int fd = proc_mem_fd(as);
	if (fd < 0)
		return -EFAULT; /* never the open's own error to the workload */
	return pread(fd, dst, n, (off_t)src) == (ssize_t)n ? 0 : -EFAULT;
}

static int systrap_copy_out_mapped(struct plat_as *as, uint64_t dst,
				   const void *src, size_t n)
{
	int fd = mapped_fd(as);
	if (fd < 0)
		return fd;
	return pwrite(fd, src, n, (off_t)dst) == (ssize_t)n ? 0 : -EFAULT;
}

/* The stub's own memory (a thread's signal stack, where the kernel wrote
 * its FPU state; always mapped read-write): through /proc/PID/mem, 0.5 us
 * cheaper than process_vm_readv, else the usual way. */
static int stub_mem_read(struct plat_as *as, void *dst, uint64_t src,
			 size_t n)
{
	if (systrap_copy_in_mapped(as, dst, src, n) == 0)
		return 0;
	return stubproc_copy_in(as->pid, dst, src, n);
}

static int stub_mem_write(struct plat_as *as, uint64_t dst, const void *src,
			  size_t n)
{
	if (systrap_copy_out_mapped(as, dst, src, n) == 0)
		return 0;
	return stubproc_copy_out(as->pid, dst, src, n);
}

static int systrap_patch_syscall(struct plat_thread *th, uint64_t rip,
				 uint64_t nr_trapped, bool alone)
{
	struct plat_as *as = th->as;
	uint64_t site = rip - 7;
	uint8_t sig[25], b[7];

	if (!patch_ok)
		return -ENOSYS;
	if (rip < sizeof(sig) || as->dead)
		return -EINVAL;
	int err = stubproc_copy_in(as->pid, sig, rip - sizeof(sig), sizeof(sig));
	if (err < 0)
		return err;
	memcpy(b, sig + sizeof(sig) - 7, 7); /* the site's 7 bytes */
	bool by_reg = memcmp(sig, glibc_syscall_fn, sizeof(sig)) == 0;
	uint32_t nr = 0;
	if (!by_reg) {
		/* Reading backwards cannot tell where an instruction starts:
		 * the b8 must not follow a prefix, and its immediate must be
		 * the number that just trapped from here (so it is the mov
		 * that set rax). */
		if (is_prefix(sig[sizeof(sig) - 8]) || b[0] != 0xb8 ||
		    b[5] != 0x0f || b[6] != 0x05)
			return -EINVAL;
		nr = (uint32_t)b[1] | (uint32_t)b[2] << 8 |
		     (uint32_t)b[3] << 16 | (uint32_t)b[4] << 24;
		if (nr != nr_trapped || nr >= ABI_NR_SYSCALLS ||
		    syscall_table[nr].cls == SC_HOST || patch_excluded(nr))
			return -EINVAL;
	}
	/* With other threads running, a fetch that straddles a 16-byte
	 * block could see two moments of the rewrite: only sites inside one
	 * block are patched then. */
	if (!alone && (site & 15) + 7 > 16)
		return -EAGAIN;
	int k = atomic_load(&as->nsites);
	if (k >= PATCH_MAX)
		return -ENOSPC;
	if (!as->sites) {
		as->sites = calloc(PATCH_MAX, sizeof(*as->sites));
		as->site_state = calloc(PATCH_MAX, sizeof(*as->site_state));
		if (!as->sites || !as->site_state) {
			free(as->sites);
			free(as->site_state);
			as->sites = NULL;
			as->site_state = NULL;
			return -ENOMEM;
		}
	}

	/* The sentry writes through the stub's /proc/PID/mem, as a debugger
	 * sets a breakpoint: private read-only pages are copied on the write,
	 * nothing is remapped and the stub is not woken. */
	int pm = proc_mem_fd(as);
	if (pm < 0)
		return pm;
	uint64_t blk = PATCH_SITES + (uint64_t)k * PATCH_BLOCK;
	uint64_t entry = PATCH_TABLE + (uint64_t)k * 8;
	uint8_t block[PATCH_BLOCK];
	uint32_t k32 = (uint32_t)k;
	int at = 0;
	memset(block, 0xcc, sizeof(block));
	if (by_reg) {
		memcpy(block, b, 5); /* mov 8(%rsp), %r9 */
		static const uint8_t mov_rax_r11[] = { 0x49, 0x89, 0xc3 };
		memcpy(block + 5, mov_rax_r11, 3);
		at = 8;
		block[at] = 0xb8; /* mov $k, %eax */
		memcpy(block + at + 1, &k32, 4);
		at += 5;
	} else {
		block[0] = 0xb8; /* mov $k, %eax */
		memcpy(block + 1, &k32, 4);
		block[5] = 0x41; /* mov $N, %r11d */
		block[6] = 0xbb;
		memcpy(block + 7, &nr, 4);
		at = 11;
	}
	int32_t rel = (int32_t)(PATCH_HDR_COMMON - (blk + (uint64_t)at + 6));
	block[at] = 0xff; /* jmp *HDR_COMMON(%rip) */
	block[at + 1] = 0x25;
	memcpy(block + at + 2, &rel, 4);
	_Static_assert(PB_GADGET >= 19, "entry fits");
	memcpy(block + PB_GADGET, b, 7); /* the site's own code */
	rel = (int32_t)(PB_RET - (PB_AFTER + 6));
	block[PB_AFTER] = 0xff; /* jmp *(+PB_RET)(%rip) */
	block[PB_AFTER + 1] = 0x25;
	memcpy(block + PB_AFTER + 2, &rel, 4);
	uint64_t q[3] = { blk + PB_GADGET, blk + PB_AFTER, rip };
	memcpy(block + PB_GADGET_PTR, q, sizeof(q));
	uint8_t nw[7] = { 0xff, 0x24, 0x25 };
	uint32_t disp = (uint32_t)entry;
	memcpy(nw + 3, &disp, 4);
	if (nw[5] != 0x06 || nw[6] != 0x0b)
		return -EINVAL;

	as->sites[k] = site;
	atomic_store(&as->site_state[k], SITE_WRITING);
	atomic_store(&as->nsites, k + 1);
	/* The block and its table entry first; then the site. Alone, in one
	 * write. Otherwise a byte at a time, in an order where a racing
	 * thread sees int3, the old code, or invalid bytes where `syscall`
	 * was (each write is a system call: they land in this order). */
	uint8_t cc = 0xcc;
	struct { const void *p; size_t n; uint64_t at; } w[10];
	int nw_ = 0;
	w[nw_++] = (typeof(w[0])){ block, sizeof(block), blk };
	w[nw_++] = (typeof(w[0])){ &blk, 8, entry };
	if (alone) {
		w[nw_++] = (typeof(w[0])){ nw, 7, site };
	} else {
		static const int order[] = { 5, 6, 1, 2, 3, 4, 0 };
		w[nw_++] = (typeof(w[0])){ &cc, 1, site };
		for (int i = 0; i < 7; i++)
			w[nw_++] = (typeof(w[0])){ nw + order[i], 1,
						   site + (uint64_t)order[i] };
	}
	for (int i = 0; i < nw_; i++)
		if (pwrite(as->proc_mem, w[i].p, w[i].n, (off_t)w[i].at) !=
		    (ssize_t)w[i].n) {
			/* The site stays listed (state WRITING): a thread
			 * meeting a half-written site still reaches its
			 * gadget. */
			return errno ? -errno : -EIO;
		}
	atomic_store(&as->site_state[k], SITE_DONE);
	return 0;
}

/* mremap moved rewritten sites with their pages: each block's return
 * address (PB_RET: where its gadget jumps back to, and the rcx the fast
 * call reports) follows, as does the site list the fault fix-ups use. A
 * thread inside the moved code while it moves faults, as on Linux. */
static void systrap_sites_moved(struct plat_as *as, uint64_t old,
				uint64_t len, uint64_t new)
{
	int n = atomic_load(&as->nsites), fd = -1;
	for (int k = 0; k < n; k++) {
		uint64_t site = as->sites[k];
		if (site < old || site - old + 7 > len)
			continue;
		uint64_t to = new + (site - old), ret = to + 7;
		uint64_t at = PATCH_SITES + (uint64_t)k * PATCH_BLOCK + PB_RET;
		/* Opened now if not yet (a fork child inherits its parent's
		 * sites before its own copies open it). */
		if (fd < 0)
			fd = proc_mem_fd(as);
		if (fd < 0 || pwrite(fd, &ret, 8, (off_t)at) != 8) {
			/* The moved code cannot come back from its block:
			 * the process goes rather than run astray. */
			log_warn("systrap: cannot move site %d of stub %d: "
				 "killing it", k, as->pid);
			kill(as->pid, SIGKILL);
			as->dead = true;
			return;
		}
		as->sites[k] = to;
	}
}

/* A fault a patched site explains: int3 on a site being rewritten (or
 * just rewritten), or the invalid bytes where `syscall` was, met by a
 * thread that ran the old `mov` or jumped to the old `syscall`. Sends the
 * thread on (rip) and returns true; false for a real fault. */
static bool fast_fixup(struct plat_thread *th, int sig, int code,
		       struct plat_regs *regs)
{
	struct plat_as *as = th->as;
	int n = atomic_load(&as->nsites);
	uint64_t site;

	/* int3 raises SIGTRAP with SI_KERNEL */
	if (n == 0 || (sig != SIGTRAP && sig != SIGILL) ||
	    (sig == SIGTRAP && code != 0x80))
		return false;
	site = regs->rip - (sig == SIGTRAP ? 1 : 5);
	int k = -1;
	for (int i = 0; i < n; i++)
		if (as->sites[i] == site) {
			k = i;
			break;
		}
	if (k < 0)
		return false;
	/* The state before the bytes: read after them, it could say DONE
	 * for bytes read before the rewrite's last write (int3 still at
	 * byte 0), and the int3 would count as the workload's own. Read
	 * first, WRITING covers every byte seen after it, and DONE means
	 * the bytes read next are the final ones. */
	bool writing = atomic_load(&as->site_state[k]) == SITE_WRITING;
	uint8_t b[7];
	if (stubproc_copy_in(as->pid, b, site, sizeof(b)) < 0)
		return false;
	uint64_t blk = PATCH_SITES + (uint64_t)k * PATCH_BLOCK;
	uint32_t disp = (uint32_t)(PATCH_TABLE + (uint64_t)k * 8);
	uint8_t nw[7] = { 0xff, 0x24, 0x25 };
	memcpy(nw + 3, &disp, 4);
	if (sig == SIGILL) {
		/* Where `syscall` was: run it, with the thread's own rax,
		 * from the gadget (which then returns to site + 7). */
		/* The rewrite writes int3 first, then byte 5, then 6: a
		 * real fault (new code mapped there since) looks otherwise. */
		if ((b[0] != 0xcc && b[0] != 0xff) || b[5] != 0x06 ||
		    (b[6] != 0x05 && b[6] != 0x0b))
			return false;
		regs->rip = blk + PB_SYSCALL;
		return true;
	}
	if (memcmp(b, nw, 7) == 0) {
		regs->rip = site; /* the rewrite is done: take the jump */
		return true;
	}
	/* An int3 at a site whose rewrite is over is the workload's own. */
	if (b[0] != 0xcc || (b[5] != 0x0f && b[5] != 0x06) || !writing)
		return false;
	regs->rip = blk + PB_GADGET; /* mid-rewrite: the original code, moved */
	return true;
}

/* --- FPU state --------------------------------------------------------------- */

/* Where th's FPU image is in the stub: the trap frame the kernel wrote on
 * its signal stack (the slot says where; checked, since the stub can write
 * the slot), or, before its first run, the entry image. */
static int fpstate_addr(struct plat_thread *th, uint64_t *addr)
{
	uint64_t lo = stack_of(th), size = plat_fpstate_size();
	if (!th->started) {
		*addr = lo + SYSTRAP_FP_ENTRY_OFF;
		return 0;
	}
	uint64_t a = th->slot->fpstate;
	if (a < lo || a > lo + SYSTRAP_STACK_SIZE - size || (a & 63))
		return -EFAULT;
	*addr = a;
	return 0;
}

static int systrap_fpstate_get(struct plat_thread *th, void *buf, size_t len)
{
	size_t size = plat_fpstate_size();
	uint64_t a;

	if (len < size)
		return -EINVAL;
	int cerr = fast_convert(th);
	if (cerr < 0)
		return cerr;
	if (th->started && th->fp_clear) {
		memcpy(buf, plat_fpstate_init_image(), size);
		return (int)size;
	}
	if (!th->started) {
		/* The sentry's own record: the slot is the workload's. */
		if (th->fp_entry == 2 && size <= SLOT_FP_IMAGE_MAX)
			memcpy(buf, (const char *)th->slot + SLOT_FP_IMAGE_OFF,
			       size);
		else
			memcpy(buf, plat_fpstate_init_image(), size);
		if (th->fp_entry != 1)
			return (int)size;
	}
	int err = fpstate_addr(th, &a);
	if (!err)
		err = stub_mem_read(th->as, buf, a, size);
	return err < 0 ? err : (int)size;
}

static int systrap_fpstate_set(struct plat_thread *th, const void *buf,
			       size_t len)
{
	uint64_t a;

	if (len != plat_fpstate_size())
		return -EINVAL;
	/* A thread not yet started takes it from its slot at entry, with the
	 * FP_XSTATE_MAGIC2 word a signal frame has after it: without that
	 * word rt_sigreturn loads only the legacy x87/SSE part and resets
	 * the rest (AVX's upper halves...). */
	static const uint32_t magic2 = 0x46505845U; /* FP_XSTATE_MAGIC2 */
	if (!th->started && len + 4 <= SLOT_FP_IMAGE_MAX) {
		memcpy((char *)th->slot + SLOT_FP_IMAGE_OFF, buf, len);
		memcpy((char *)th->slot + SLOT_FP_IMAGE_OFF + len, &magic2, 4);
		th->slot->fp_len = (uint32_t)len + 4;
		th->slot->fp_entry = 2;
		th->fp_entry = 2;
		return 0;
	}
	int err = fast_convert(th);
	/* The init state needs no image: the frame's fpstate goes NULL as
	 * the thread resumes (slot fp_clear), which rt_sigreturn takes as
	 * "clear the FPU". A 2.4 KiB write of the stub's memory saved on
	 * every signal delivery and exec. */
	if (!err && th->started && buf == plat_fpstate_init_image()) {
		th->fp_clear = true;
		return 0;
	}
	if (!err)
		th->fp_clear = false;
	if (!err)
		err = fpstate_addr(th, &a);
	if (!err)
		err = stub_mem_write(th->as, a, buf, len);
	if (!err && !th->started)
		err = stub_mem_write(th->as, a + len, &magic2, 4);
	if (!err && !th->started)
		th->slot->fp_entry = th->fp_entry = 1;
	return err;
}

static int copy_fpstate(struct plat_thread *from, struct plat_thread *to)
{
	size_t size = plat_fpstate_size();
	unsigned char *buf = aligned_alloc(64, (size + 63) & ~63UL);
	if (!buf)
		return -ENOMEM;
	int err = systrap_fpstate_get(from, buf, size);
	if (err >= 0)
		err = plat_fpstate_sanitize(buf, size);
	if (err >= 0)
		err = systrap_fpstate_set(to, buf, size);
	free(buf);
	return err < 0 ? err : 0;
}


/* A batch that reads into the workload's memory (read_direct's pread of up
 * to 16 MiB) keeps its executor busy for the copy: some 75 us per MiB
 * here. A wait that sleeps through it pays for waking a halted vCPU at the
 * end (the sentry's, then the executor's for the next read: a streaming
 * reader's 1 MiB reads took 180-240 us against 75 natively). So, while
 * spinning is allowed at all (CPUs to spare), both spins stretch by one
 * budget (~20 us) per COPY_SPIN_BYTES, up to COPY_SPIN_MAX budgets.
 * Measured with 1 MiB reads: 175-200 us with plain budgets; 103-118 us with
 * only the sentry's wait stretched; 82-91 us with both (native 63-72). */
#define COPY_SPIN_BYTES (256 * 1024)
#define COPY_SPIN_MAX 16

/* An unmapping may free many pages (some 90 us for 256 here): each munmap
 * of a batch stretches the sentry's wait by one budget. An exec in place's
 * batch, whose first munmap frees what the forked image wrote, took some
 * 95 us, and its sentry had slept from the budget's end on and was woken
 * 22 us after the batch ended (medians of 100). Not the executor's spin
 * after it: the new program's first request is some 300 us off, and that
 * spin shared a CPU with the sentry's wait for the program's first trap,
 * the two handing it back and forth by sched_yield for 600 us.
 * *exec_scale: the executor's spin after the batch, in budgets (>= 1);
 * *wait_scale: the sentry's wait for it. */
static void batch_scales(const struct plat_sysreq *reqs, int n,
			 int *exec_scale, int *wait_scale)
{
	uint64_t copy = 1, unmap = 0;
	for (int i = 0; i < n; i++)
		if (reqs[i].nr == SYS_pread64)
			copy += reqs[i].args[2] / COPY_SPIN_BYTES;
		else if (reqs[i].nr == SYS_munmap)
			unmap++;
	if (copy > COPY_SPIN_MAX)
		copy = COPY_SPIN_MAX;
	if (unmap > COPY_SPIN_MAX)
		unmap = COPY_SPIN_MAX;
	*exec_scale = (int)copy;
	*wait_scale = (int)(copy + unmap);
}

/* platform_ops.batch: the calls go in the control page's batch and the
 * executor runs them in one hand-off: exec's mappings cost one wake-up,
 * not a dozen. With a host fd, the batch first makes sure fd
 * PLAT_FDPASS_RECV_FD is free (dup2 of the socket over it, then close:
 * both always succeed), so the fd received next lands there whatever an
 * earlier batch left behind, and closes it at the end. Nothing about the
 * fd is decided from the result page, which the workload can write.
 * host_fd2 (>= 0 only with host_fd): a second fd, at PLAT_FDPASS_RECV_FD2
 * (batch2). It is sent first; the stub moves it there from where it lands
 * (the lowest free number, PLAT_FDPASS_RECV_FD) before it takes host_fd:
 * a stub holds no fd but PLAT_FDPASS_FD between batches. */
static int as_batch(struct plat_as *as, int host_fd, int host_fd2,
		    const struct plat_sysreq *reqs, int n, long *rets)
{
	struct systrap_req b[SYSTRAP_BATCH_MAX];
	long done;
	int err;

	_Static_assert(PLAT_BATCH_MAX + 4 <= SYSTRAP_BATCH_MAX, "batch size");
	_Static_assert(PLAT_BATCH2_MAX + 8 <= SYSTRAP_BATCH_MAX, "batch2 size");
	if (host_fd < 0 && host_fd2 >= 0)
		return -EINVAL; /* the calls would name an fd never passed */
	if (n < 0 || n > (host_fd2 >= 0 ? PLAT_BATCH2_MAX : PLAT_BATCH_MAX))
		return -EINVAL;
	int exec_scale, wait_scale;
	batch_scales(reqs, n, &exec_scale, &wait_scale);
	/* Fixed once the address space has threads (own_socket swaps it
	 * before its first). */
	struct fdchan *ch = as->chan;
	if (host_fd2 >= 0 && !ch)
		return -ENOTSUP; /* the zygote's: never loaded into */
	if (host_fd >= 0) {
		chan_lock(ch);
		/* chan_send drains first: the second goes on its own. */
		err = chan_send(ch, host_fd2 >= 0 ? host_fd2 : host_fd);
		if (!err && host_fd2 >= 0)
			err = plat_fd_send(ch->fd, host_fd);
		if (err < 0) {
			chan_drain(ch);
			chan_unlock(ch);
			return err;
		}
	}
	pthread_mutex_lock(&as->lock);
	int k = 0;
	/* the calls before reqs */
	int fd_calls = host_fd < 0 ? 0 : host_fd2 < 0 ? 3 : 6;
	if (host_fd >= 0) {
		uint64_t base = recv_area_init(as);
		b[k++] = (struct systrap_req){
			SYS_dup2, { PLAT_FDPASS_FD, PLAT_FDPASS_RECV_FD } };
		b[k++] = (struct systrap_req){ SYS_close, { PLAT_FDPASS_RECV_FD } };
		/* Non-blocking: with the message gone (drained), the
		 * executor gets EAGAIN rather than waiting for ever. */
		b[k++] = (struct systrap_req){
			SYS_recvmsg,
			{ PLAT_FDPASS_FD, base, MSG_CMSG_CLOEXEC | MSG_DONTWAIT } };
		if (host_fd2 >= 0) {
			b[k++] = (struct systrap_req){
				SYS_dup2,
				{ PLAT_FDPASS_RECV_FD, PLAT_FDPASS_RECV_FD2 } };
			b[k++] = (struct systrap_req){
				SYS_close, { PLAT_FDPASS_RECV_FD } };
			b[k++] = (struct systrap_req){
				SYS_recvmsg,
				{ PLAT_FDPASS_FD, base,
				  MSG_CMSG_CLOEXEC | MSG_DONTWAIT } };
		}
	}
	for (int i = 0; i < n; i++) {
		b[k].nr = (uint64_t)reqs[i].nr;
		memcpy(b[k].args, reqs[i].args, sizeof(reqs[i].args));
		k++;
	}
	if (host_fd >= 0)
		b[k++] = (struct systrap_req){ SYS_close, { PLAT_FDPASS_RECV_FD } };
	if (host_fd2 >= 0)
		b[k++] = (struct systrap_req){ SYS_close, { PLAT_FDPASS_RECV_FD2 } };
	uint64_t args[6] = { (uint64_t)k };
	int budget = budget_now();
	err = executor_post_spins(as, SYSTRAP_OP_BATCH, args, b, k,
				  budget * exec_scale, budget * wait_scale,
				  &done);
	if (!err && (done < 0 || done > k))
		err = -EIO; /* a forged result: the stub lies to itself */
	if (host_fd >= 0 && chan_unreceived(ch)) {
		/* "Done" while the fd was never taken: only a forged result
		 * page (or a dead stub) says that. Its executor must not take
		 * the next fd sent, meant for another batch: the process goes,
		 * as for any tampering. */
		chan_drain(ch);
		if (!as->dead) {
			log_warn("systrap: stub %d claimed a batch it did not "
				 "run: killing it", as->pid);
			kill(as->pid, SIGKILL);
			as->dead = true;
			/* Its executor may still be about to receive: on a
			 * channel shared with its family, the next fd is not
			 * sent before it is gone. */
			if (ch && atomic_load(&ch->refs) > 1) {
				siginfo_t si;
				while (waitid(P_PIDFD, (id_t)as->pidfd, &si,
					      WEXITED | WNOWAIT) < 0 &&
				       errno == EINTR)
					;
			}
		}
		err = -EIO;
	}
	if (!err && host_fd >= 0 && done < k) {
		/* Cut short: the fd may sit at RECV_FD (the next batch frees
		 * it anyway), or still be queued (drained by the next send). */
		uint64_t cargs[6] = { PLAT_FDPASS_RECV_FD };
		long ignored;
		executor_call_locked(as, SYS_close, cargs, &ignored);
		if (host_fd2 >= 0) {
			cargs[0] = PLAT_FDPASS_RECV_FD2;
			executor_call_locked(as, SYS_close, cargs, &ignored);
		}
		chan_drain(ch);
		if (done < fd_calls)
			err = -EIO;
	}
	int ok = 0;
	if (!err) {
		for (int i = 0; i < n && fd_calls + i <= done &&
				fd_calls + i < k; i++)
			rets[i] = __atomic_load_n(&as->res->batch_ret[fd_calls + i],
						  __ATOMIC_RELAXED);
		ok = (int)done - fd_calls;
		if (ok > n)
			ok = n;
		if (ok < 0)
			ok = 0;
	}
	pthread_mutex_unlock(&as->lock);
	if (host_fd >= 0)
		chan_unlock(ch);
	return err < 0 ? err : ok;
}

/* How long (in budgets) an executor woken by batch_soon waits awake. */
#define BATCH_SOON_BUDGETS 4

/* platform_ops.batch_soon: the executor, asleep since its last request
 * (a fork child's sleeps from its set-up on), is woken to wait for the
 * batch awake, as it does after a request (exec_spin). Waking it took
 * some 27 us of an exec in place's batch (medians of 100); the exec has
 * some 20-40 us of its own work left when it asks. Nothing changes for
 * the executor but its spin: seq stays, and it sleeps again if nothing
 * comes. Only with CPUs to spare (a spin holds one). */
static void systrap_batch_soon(struct plat_thread *th)
{
	struct plat_as *as = th->as;
	int budget = budget_now();
	if (budget == 0 || as->dead)
		return;
	pthread_mutex_lock(&as->lock);
	__atomic_store_n(&as->ctrl->exec_spin,
			 (uint32_t)(budget * BATCH_SOON_BUDGETS),
			 __ATOMIC_RELAXED);
	futex(&as->ctrl->seq, FUTEX_WAKE, 1, NULL);
	pthread_mutex_unlock(&as->lock);
}

static int systrap_batch(struct plat_thread *th, int host_fd,
			 const struct plat_sysreq *reqs, int n, long *rets)
{
	return as_batch(th->as, host_fd, -1, reqs, n, rets);
}

static int systrap_batch2(struct plat_thread *th, int host_fd, int host_fd2,
			  const struct plat_sysreq *reqs, int n, long *rets)
{
	return as_batch(th->as, host_fd, host_fd2, reqs, n, rets);
}

/* The rewritten sites' region keeps its bytes: the new program's sites
 * take its blocks from the first again, and the old ones are unreachable
 * once the old code is gone (a jump there runs under filter B like any
 * other workload code). */
static int systrap_as_reset(struct plat_thread *th)
{
	atomic_store(&th->as->nsites, 0);
	return 0;
}

/* Asks the trapped thread to run getrusage(who) itself (the fast-call
 * code does it too); it traps again when done. false: it is not trapped. */
static bool cmd_ask(struct plat_thread *th, int who)
{
	struct systrap_slot *s = th->slot;
	if (th->conv_posted && fast_convert(th) < 0)
		return false;
	s->cmd_who = who;
	uint32_t trapped = SLOT_TRAPPED;
	if (!__atomic_compare_exchange_n(&s->state, &trapped, SLOT_CMD, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return false;
	if (load(&s->stub_waiting))
		futex(&s->state, FUTEX_WAKE, 1, NULL);
	th->cmd_asked = true;
	th->cmd_who = who;
	th->cmd_ready = false;
	th->pre_rusage = false; /* its answer overwrites cmd_buf */
	return true;
}

/* Waits for an asked getrusage to be done; true if the thread is trapped
 * again (its answer in the slot). Every operation that changes the slot's
 * state first settles one left outstanding (thread_rusage_ask). */
static bool cmd_collect(struct plat_thread *th)
{
	struct systrap_slot *s = th->slot;
	if (!th->cmd_asked)
		return true;
	th->cmd_asked = false;
	if (th->as->dead)
		return false;
	if (!wait_change(th->as->pidfd, &s->state, SLOT_CMD, &s->sentry_waiting,
			 budget_now())) {
		th->as->dead = true;
		return false;
	}
	th->cmd_ready = load(&s->state) == SLOT_TRAPPED;
	return th->cmd_ready;
}

/* The answer the stub left with its exit trap, if that is the question. */
static bool pre_answer(struct plat_thread *th, int who)
{
	if (!th->pre_rusage || who != RUSAGE_SELF || th->cmd_asked)
		return false;
	th->pre_rusage = false;
	th->cmd_who = RUSAGE_SELF;
	th->cmd_ready = true;
	return true;
}

static int thread_rusage_raw(struct plat_thread *th, int who,
			     struct rusage *ru)
{
	struct plat_as *as = th->as;
	struct systrap_slot *s = th->slot;

	if (who != RUSAGE_SELF && who != RUSAGE_THREAD)
		return -EINVAL;
	if (th->cmd_asked && th->cmd_who != who)
		cmd_collect(th); /* an answer to another question */
	if (!th->started || as->dead) {
		memset(ru, 0, sizeof(*ru));
		return as->dead ? -ESRCH : 0;
	}
	pre_answer(th, who);
	if (!(th->cmd_ready && th->cmd_who == who)) { /* ready: not asked */
		if (!th->cmd_asked && !cmd_ask(th, who))
			return -ESRCH; /* the thread is gone */
		if (!cmd_collect(th))
			return as->dead ? -ESRCH : -EIO;
	}
	th->cmd_ready = false;
	if (s->cmd_ret < 0)
		return -EIO;
	_Static_assert(sizeof(*ru) <= sizeof(s->cmd_buf), "rusage size");
	memcpy(ru, s->cmd_buf, sizeof(*ru));
	/* The slot is the workload's to write (a sibling thread may have
	 * scribbled on the answer): figures no host gives are refused, so
	 * they never wrap the process's sums. */
	if (ru->ru_utime.tv_sec < 0 || ru->ru_stime.tv_sec < 0 ||
	    ru->ru_utime.tv_usec < 0 || ru->ru_utime.tv_usec >= 1000000 ||
	    ru->ru_stime.tv_usec < 0 || ru->ru_stime.tv_usec >= 1000000 ||
	    ru->ru_maxrss < 0 || ru->ru_minflt < 0 || ru->ru_majflt < 0 ||
	    ru->ru_inblock < 0 || ru->ru_oublock < 0 || ru->ru_nvcsw < 0 ||
	    ru->ru_nivcsw < 0)
		return -EIO;
	return 0;
}

static void tv_sub(struct timeval *a, const struct timeval *b)
{
	long us = (a->tv_sec - b->tv_sec) * 1000000L + (a->tv_usec - b->tv_usec);
	if (us < 0)
		us = 0;
	a->tv_sec = us / 1000000L;
	a->tv_usec = us % 1000000L;
}

static long cnt_sub(long a, long b)
{
	return a > b ? a - b : 0;
}

/* A host thread taken over from an exited thread (thread_park) counts its
 * own use from then on. */
static int systrap_thread_rusage(struct plat_thread *th, int who,
				 struct rusage *ru)
{
	int err = thread_rusage_raw(th, who, ru);
	if (err < 0 || who != RUSAGE_THREAD || !th->ru_based)
		return err;
	const struct rusage *b = &th->ru_base;
	tv_sub(&ru->ru_utime, &b->ru_utime);
	tv_sub(&ru->ru_stime, &b->ru_stime);
	ru->ru_minflt = cnt_sub(ru->ru_minflt, b->ru_minflt);
	ru->ru_majflt = cnt_sub(ru->ru_majflt, b->ru_majflt);
	ru->ru_inblock = cnt_sub(ru->ru_inblock, b->ru_inblock);
	ru->ru_oublock = cnt_sub(ru->ru_oublock, b->ru_oublock);
	ru->ru_nvcsw = cnt_sub(ru->ru_nvcsw, b->ru_nvcsw);
	ru->ru_nivcsw = cnt_sub(ru->ru_nivcsw, b->ru_nivcsw);
	return 0;
}

/* An exiting workload thread's host thread is kept, waiting at START, for
 * the next clone of a thread (thread_spawn): the clone, the filter install
 * (some 70 us) and the executor's round trip are saved. Only a thread that
 * trapped through the signal handler (it has a frame to be resumed from;
 * exit is never a fast call) and while there is room. true: parked. */
static bool thread_park(struct plat_thread *th)
{
	struct plat_as *as = th->as;
	struct systrap_slot *s = th->slot;
	struct rusage raw;

	/* Not the last thread: that one goes with its address space (an
	 * exit or an exec), and asking it for its usage would only cost. */
	if (th->fast || !th->started || atomic_load(&as->nthreads) < 2)
		return false;
	pthread_mutex_lock(&as->lock);
	bool room = as->nparked < PARK_MAX;
	pthread_mutex_unlock(&as->lock);
	/* What it has used so far, raw (a parked thread taken over before
	 * has its earlier use in there too). */
	if (!room || thread_rusage_raw(th, RUSAGE_THREAD, &raw) < 0 ||
	    load(&s->state) != SLOT_TRAPPED)
		return false;
	pthread_mutex_lock(&as->lock);
	if (as->nparked >= PARK_MAX) {
		pthread_mutex_unlock(&as->lock);
		return false;
	}
	int k = as->nparked++;
	as->parked[k].idx = th->idx;
	as->parked[k].tid = th->tid;
	as->parked[k].base = raw;
	store(&s->state, SLOT_PARK);
	if (load(&s->stub_waiting))
		futex(&s->state, FUTEX_WAKE, 1, NULL);
	pthread_mutex_unlock(&as->lock);
	return true;
}

/* The same question asked ahead: a sleeping stub thread takes tens of
 * microseconds to wake, which the caller spends on other work (exec loads
 * the new image meanwhile) before thread_rusage collects the answer. */
static void systrap_thread_rusage_ask(struct plat_thread *th, int who)
{
	if (th->cmd_asked || !th->started || th->as->dead ||
	    (who != RUSAGE_SELF && who != RUSAGE_THREAD) ||
	    pre_answer(th, who))
		return;
	cmd_ask(th, who);
}

/* --- running ------------------------------------------------------------------ */

static int systrap_run(struct plat_thread *th, struct plat_regs *regs,
		       bool dirty, struct plat_trap *trap)
{
	struct systrap_slot *s = th->slot;

	(void)dirty; /* the slot always gets the registers: a few hundred bytes */
again:
	memset(trap, 0, sizeof(*trap));
	th->in_len = 0;
	cmd_collect(th);
	th->cmd_ready = false; /* it runs: an answer collected is stale */
	th->pre_rusage = false;
	if (th->as->dead || !start_wait(th)) {
		trap->kind = PLAT_TRAP_DEAD;
		return 0;
	}
	/* The fast-call code restores the general registers and, with
	 * popf, the flags as they were; besides the arithmetic ones, DF and
	 * AC, the sentry may change none (TF would single-step out of it). */
	if (th->fast && (th->conv_posted || regs->fs_base != th->fs_base ||
			 regs->gs_base != th->gs_base ||
			 ((regs->eflags ^ th->fast_eflags) & ~0x40cd5ULL) ||
			 (regs->eflags & 0x100))) {
		int err = fast_convert(th);
		if (err < 0) {
			trap->kind = PLAT_TRAP_DEAD;
			return 0;
		}
	}
	th->fast = false;
	regs_to_slot(regs, s);
	s->tls_pending = 0;
	if (regs->fs_base != th->fs_base) {
		s->tls_pending |= TLS_FS;
		th->fs_base = regs->fs_base;
	}
	if (regs->gs_base != th->gs_base) {
		s->tls_pending |= TLS_GS;
		th->gs_base = regs->gs_base;
	}
	th->started = true;
	int budget = current_budget(atomic_fetch_add(&in_run, 1) + 1);
	/* A new thread's first runs spin even when the count says the CPUs
	 * are taken: a fork child starts while its parent is back in run()
	 * for a moment, for a call that then sleeps (wait4), and the sleeps
	 * and the pinning (pair_update) budget 0 brings cost the child's
	 * start more than the spins cost the parent. */
	if (th->runs < FRESH_RUNS) {
		th->runs++;
		if (budget == 0 && ncpus > 1)
			budget = spin_budget;
	}
	int paired = pair_update(th, pair_wanted(th, budget));
	if (paired >= 0)
		budget = 0; /* both sides on one CPU: a spin only delays the other */
	s->spin = (uint32_t)budget;
	int cpu = part_ways(th, sched_getcpu(), budget);
	__atomic_store_n(&s->sentry_cpu, (uint16_t)cpu, __ATOMIC_RELAXED);
	s->fp_clear = th->fp_clear;
	th->fp_clear = false;
	if (th->out_n) {
		memcpy(s->out_buf, th->out_buf, th->out_used);
		memcpy(s->out_len, th->out_len, sizeof(s->out_len));
		memcpy(s->out_addr, th->out_addr, sizeof(s->out_addr));
		s->out_n = (uint32_t)th->out_n;
		th->out_n = 0;
		th->out_used = 0;
	}
	store(&s->state, SLOT_RESUME);
	if (load(&s->stub_waiting))
		futex(&s->state, FUTEX_WAKE, 1, NULL);
	bool trapped = wait_trap(th, budget, cpu);
	pair_done(paired);
	atomic_fetch_sub(&in_run, 1);
	if (!trapped) {
		siginfo_t si;
		/* A workload thread vanished without the sentry asking (the
		 * workload jumped to the stub's exit): the process goes. */
		if (!th->as->dead) {
			log_warn("systrap: a thread of stub %d left on its own: "
				 "killing it", th->as->pid);
			kill(th->as->pid, SIGKILL);
			th->as->dead = true;
		}
		memset(&si, 0, sizeof(si));
		/* Say how it died: a seccomp kill (SIGSYS) means tampering. */
		if (waitid(P_PIDFD, (id_t)th->as->pidfd, &si,
			   WEXITED | WNOWAIT | WNOHANG) == 0 && si.si_pid)
			log_info("systrap: stub %d ended: %s %d", th->as->pid,
				 si.si_code == CLD_EXITED ? "exit status"
							  : "signal",
				 si.si_status);
		trap->kind = PLAT_TRAP_DEAD;
		return 0;
	}
	regs_from_slot(s, regs);
	uint32_t kind = s->kind;
	/* Written by the stub with the trap (the workload could forge it,
	 * but only to misstate its own usage). */
	th->pre_rusage = kind == SLOT_KIND_SYSCALL &&
			 (s->nr == SYS_exit || s->nr == SYS_exit_group) &&
			 load(&s->pre_rusage);
	if (th->pre_rusage)
		store(&s->pre_rusage, 0);
	switch (kind) {
	case SLOT_KIND_SYSCALL:
		regs->orig_rax = s->nr;
		trap->kind = s->arch == AUDIT_ARCH_X86_64
				     ? PLAT_TRAP_SYSCALL
				     : PLAT_TRAP_SYSCALL_COMPAT;
		return 0;
	case SLOT_KIND_FASTCALL:
		regs->orig_rax = s->nr;
		th->fast = true;
		th->fast_eflags = regs->eflags;
		if (!fast_servable(s->nr)) {
			/* Back to the gadget's real instruction, rax = the
			 * number: it traps (or runs) as it would have. */
			regs->rip -= 2;
			regs->rax = s->nr;
			goto again;
		}
		/* Read once: the slot is the workload's to write (what it
		 * forges there is as if it had written its own buffer). */
		uint32_t il = load(&s->in_len);
		if (il && il <= SLOT_IN_BYTES) {
			th->in_addr = __atomic_load_n(&s->in_addr,
						      __ATOMIC_RELAXED);
			memcpy(th->in_buf, s->in_buf, il);
			th->in_len = il;
		}
		trap->kind = PLAT_TRAP_SYSCALL;
		return 0;
	case SLOT_KIND_CONVERTED: /* only asked for in fast_convert */
	case SLOT_KIND_INTERRUPT:
		regs->orig_rax = (uint64_t)-1;
		trap->kind = PLAT_TRAP_INTERRUPT;
		return 0;
	case SLOT_KIND_FAULT: {
		int sig = s->signo;
		regs->orig_rax = (uint64_t)-1;
		if (sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE &&
		    sig != SIGILL && sig != SIGTRAP)
			break;
		if (fast_fixup(th, sig, s->code, regs))
			goto again;
		trap->kind = PLAT_TRAP_FAULT;
		trap->signo = sig;
		trap->si_code = s->code;
		trap->fault_addr = s->addr;
		trap->err = s->err;
		trap->trapno = s->trapno;
		trap->trap_info = true;
		return 0;
	}
	default:
		break;
	}
	/* Only a workload writing the slot itself gets here. */
	log_warn("systrap: stub %d wrote an invalid trap (kind %u): killing it",
		 th->as->pid, kind);
	kill(th->as->pid, SIGKILL);
	th->as->dead = true;
	trap->kind = PLAT_TRAP_DEAD;
	return 0;
}

static int systrap_copy_in(struct plat_as *as, void *dst, uint64_t src,
			   size_t n)
{
	return stubproc_copy_in(as->pid, dst, src, n);
}

static int systrap_copy_out(struct plat_as *as, uint64_t dst, const void *src,
			    size_t n)
{
	return stubproc_copy_out(as->pid, dst, src, n);
}

static pid_t systrap_thread_host_tid(struct plat_thread *th)
{
	return th->tid;
}

static pid_t systrap_as_host_pid(struct plat_as *as)
{
	return as->pid;
}

static bool systrap_cpus_to_spare(void)
{
	return budget_now() > 0;
}

const struct platform_ops plat_systrap_ops = {
	.name = "systrap",
	.init = systrap_init,
	.as_create = systrap_as_create,
	.as_fork = systrap_as_fork,
	.as_destroy = systrap_as_destroy,
	.thread_create = systrap_thread_create,
	.thread_adopt = systrap_thread_adopt,
	.thread_release = systrap_thread_release,
	.interrupt = systrap_interrupt,
	.run = systrap_run,
	.thread_syscall = systrap_thread_syscall,
	.fpstate_get = systrap_fpstate_get,
	.fpstate_set = systrap_fpstate_set,
	.thread_rusage = systrap_thread_rusage,
	.thread_rusage_ask = systrap_thread_rusage_ask,
	.thread_pairing = systrap_thread_pairing,
	.thread_vfork_child = systrap_thread_vfork_child,
	.thread_settid = systrap_thread_settid,
	.copy_out_defer = systrap_copy_out_defer,
	.copy_out_flush = systrap_copy_out_flush,
	.copy_in_exec = systrap_copy_in_exec,
	.copy_in_ahead = systrap_copy_in_ahead,
	.sites_moved = systrap_sites_moved,
	.batch = systrap_batch,
	.batch_soon = systrap_batch_soon,
	.batch2 = systrap_batch2,
	.lazy_maps = true,
	.as_reset = systrap_as_reset,
	.copy_in = systrap_copy_in,
	.copy_out = systrap_copy_out,
	.copy_in_mapped = systrap_copy_in_mapped,
	.copy_out_mapped = systrap_copy_out_mapped,
	.thread_host_tid = systrap_thread_host_tid,
	.as_host_pid = systrap_as_host_pid,
	.patch_syscall = systrap_patch_syscall,
	.patched_code = systrap_patched_code,
	.cpus_to_spare = systrap_cpus_to_spare,
	.thread_sleeps = systrap_thread_sleeps,
};
