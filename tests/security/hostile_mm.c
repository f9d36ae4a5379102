/*
 * hostile_mm: the workload attacks the address ranges the sandbox reserves
 * for itself (escape attempt 4 of issue 3, through system calls; plain
 * stores are scribble.c's), and every attempt must fail cleanly.
 *
 * What the stub keeps in the workload's address space:
 *   ptrace:  a page of stub code (`syscall; int3`, for the sentry's
 *            injected calls) and the vDSO with its vvar pages;
 *   systrap: the stub's code (signal handler, executor, restorer), the
 *            vDSO, and a 16 GiB arena of 2 MiB blocks, one per address
 *            space (platform/systrap/layout.h): control page (read-only
 *            in the stub), result page and per-thread slots (shared with
 *            the sentry, writable), per-thread signal stacks.
 * The sentry's policy (sentry/mm/mm.c, sentry/kernel/task.c) is that the
 * workload can never unmap, remap, reprotect, replace, madvise or write
 * (through a system call) any of those ranges:
 *
 *   munmap overlapping a reserved range             EINVAL
 *   mprotect (never a vma of the workload)           ENOMEM
 *   mmap MAP_FIXED / MAP_FIXED_NOREPLACE over one    ENOMEM
 *   NOREPLACE over one and a page of the workload's  EEXIST (as Linux for
 *                                                    the workload's page)
 *   madvise overlapping one                          ENOMEM (or EINVAL /
 *                                                    EPERM for advice the
 *                                                    sandbox refuses first)
 *   mremap from one (not a vma)                      EFAULT
 *   mremap MREMAP_FIXED to one                       EINVAL
 *   mremap growing in place into one                 ENOMEM
 *   brk stretched over one                           the break stays
 *   any system call writing its result into one      EFAULT
 *
 * Reading them is allowed (the workload can read them itself), so a write(2)
 * from the vDSO works as on Linux.
 *
 * The reserved ranges are found without knowing the platform (attempt.c).
 * Small ranges are attacked page by page; the 16 GiB arena at its ends, on
 * every page of the workload's own block and at 64 pages spread over it.
 * At the end the stub's code must be byte for byte what it was, and on
 * systrap the slots and signal stacks of the threads that do not exist
 * (only one thread per process so far) must be untouched.
 *
 * SANDBOX ONLY: Linux itself allows several of these (munmap of the vDSO,
 * for one), so natively the program reports failures or dies.
 *
 * stdin must have at least 64 bytes to read (read(2) into a reserved page
 * can only fail with EFAULT when there is data to copy): `runsc do --
 * hostile_mm <some-file`. Prints `ok NAME` for each check that held,
 * `FAIL NAME: ...` otherwise; exits 0 only if every check held.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../../platform/systrap/layout.h"
#include "attempt.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#define ARCH_GET_FS  0x1003
#define PR_GET_NAME_ 16

#define ANON	(MAP_PRIVATE | MAP_ANONYMOUS)
#define SC(...) RAW(__VA_ARGS__)

/* The address of a vDSO function, from its section headers. */
static void *vdso_sym(const char *name)
{
	const Elf64_Ehdr *eh = (const void *)vdso;

	if (!eh->e_shoff || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff + (uintptr_t)eh->e_shnum * sizeof(Elf64_Shdr) >
		vdso_size)
		return NULL;
	const Elf64_Shdr *sh = (const void *)(vdso + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM ||
		    sh[i].sh_link >= eh->e_shnum ||
		    sh[i].sh_entsize != sizeof(Elf64_Sym))
			continue;
		const Elf64_Sym *sym = (const void *)(vdso + sh[i].sh_offset);
		const char *str =
		    (const char *)(vdso + sh[sh[i].sh_link].sh_offset);
		size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
		for (size_t j = 0; j < n; j++)
			if (sym[j].st_shndx != SHN_UNDEF && sym[j].st_value &&
			    strcmp(str + sym[j].st_name, name) == 0)
				return (void *)(vdso + sym[j].st_value);
	}
	return NULL;
}

static uint64_t checksum(uintptr_t a, uintptr_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (uintptr_t i = 0; i < len; i++) {
		h ^= ((const volatile unsigned char *)a)[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* ---- attacks ---- */

/* The stub's code pages, as the sandbox reads them for us. */
static uint64_t code_sum(const struct range *r)
{
	uint64_t s = 0;
	for (uintptr_t a = r->start; a < r->end; a += PAGE)
		if (readable(a))
			s = s * 31 + checksum(a, PAGE);
	return s;
}

/* Slots and signal stacks of threads 1..63: no such thread exists (one
 * thread per process until issue 4), so nothing may ever write them. */
static uint64_t idle_threads_sum(uintptr_t block)
{
	uint64_t s = 0;
	for (int i = 1; i < SYSTRAP_MAX_THREADS; i++) {
		uintptr_t slot =
		    block + SYSTRAP_SLOTS_OFF + i * SYSTRAP_SLOT_SIZE;
		uintptr_t stack =
		    block + SYSTRAP_STACKS_OFF + i * SYSTRAP_STACK_SIZE;
		if (readable(slot))
			s = s * 31 + checksum(slot, PAGE);
		for (uintptr_t a = stack; a < stack + SYSTRAP_STACK_SIZE;
		     a += PAGE)
			if (readable(a))
				s = s * 31 + checksum(a, PAGE);
	}
	return s;
}

/* Pages of a reserved range to attack: all of a small one; of the arena of
 * systrap blocks (16 GiB), its ends, every page of our block and pages
 * spread evenly over the rest. */
#define MAX_TARGETS 1024
static int targets(const struct range *r, uintptr_t block, uintptr_t *out)
{
	int n = 0;
	uintptr_t pages = (r->end - r->start) / PAGE;

	if (pages <= 256) {
		for (uintptr_t a = r->start; a < r->end; a += PAGE)
			out[n++] = a;
		return n;
	}
	for (int i = 0; i < 8; i++) {
		out[n++] = r->start + i * PAGE;
		out[n++] = r->end - (i + 1) * PAGE;
	}
	if (block >= r->start && block < r->end)
		for (uintptr_t a = block;
		     a < block + SYSTRAP_BLOCK_SIZE && n < MAX_TARGETS - 64;
		     a += PAGE)
			out[n++] = a;
	for (int i = 1; i <= 64; i++)
		out[n++] = r->start + (pages * i / 65) * PAGE;
	return n;
}

/* Every memory-management call against the page at a, which is inside a
 * reserved range. Returns the number of attempts that did not fail as the
 * policy says (want 0: any error will do, the call is refused before the
 * range is looked at); verbose 0 reports nothing but failures. */
static int attack_mm(const char *what, uintptr_t a, uintptr_t mine, int verbose)
{
	char name[96];
	int bad = 0;
	struct {
		const char *op;
		long r;
		int want;
	} t[] = {
	    {"munmap", SC(SYS_munmap, a, PAGE), EINVAL},
	    {"mprotect-rw", SC(SYS_mprotect, a, PAGE, PROT_READ | PROT_WRITE),
	     ENOMEM},
	    {"mprotect-none", SC(SYS_mprotect, a, PAGE, PROT_NONE), ENOMEM},
	    {"mmap-fixed",
	     SC(SYS_mmap, a, PAGE, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, -1,
		0),
	     ENOMEM},
	    {"mmap-fixed-noreplace",
	     SC(SYS_mmap, a, PAGE, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1,
		0),
	     ENOMEM},
	    {"madvise-dontneed", SC(SYS_madvise, a, PAGE, MADV_DONTNEED),
	     ENOMEM},
	    {"madvise-free", SC(SYS_madvise, a, PAGE, MADV_FREE), ENOMEM},
	    {"madvise-wipeonfork", SC(SYS_madvise, a, PAGE, MADV_WIPEONFORK),
	     ENOMEM},
	    {"madvise-pageout", SC(SYS_madvise, a, PAGE, MADV_PAGEOUT), ENOMEM},
	    {"madvise-populate-write",
	     SC(SYS_madvise, a, PAGE, MADV_POPULATE_WRITE), ENOMEM},
	    {"madvise-remove", SC(SYS_madvise, a, PAGE, MADV_REMOVE), 0},
	    {"madvise-hwpoison", SC(SYS_madvise, a, PAGE, MADV_HWPOISON), 0},
	    {"pkey_mprotect",
	     SC(SYS_pkey_mprotect, a, PAGE, PROT_READ | PROT_WRITE, 0), 0},
	    {"mremap-shrink", SC(SYS_mremap, a, 2 * PAGE, PAGE, 0, 0), EFAULT},
	    {"mremap-from",
	     SC(SYS_mremap, a, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0), EFAULT},
	    {"mremap-fixed-into",
	     SC(SYS_mremap, mine, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, a),
	     EINVAL},
	    {"getrandom-into", SC(SYS_getrandom, a, 16, 0), EFAULT},
	    {"clock_gettime-cputime-into",
	     SC(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, a), EFAULT},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(name, sizeof(name), "%s-%s", what, t[i].op);
		int ok = t[i].want ? t[i].r == -t[i].want
				   : t[i].r < 0 && t[i].r > -4096;
		if (ok) {
			if (verbose)
				pass(name);
		} else {
			fail(name, "at %#lx: got %s, want %s", (unsigned long)a,
			     ename(t[i].r),
			     t[i].want ? ename(-t[i].want) : "an error");
			bad++;
		}
	}
	return bad;
}

/* System calls that write their result to a user buffer, all pointed at a.
 * The sentry must refuse before writing anything. */
static void attack_copyout(const char *what, uintptr_t a)
{
	char name[96];
	struct iovec iov = {(void *)a, 16};
	size_t robust_len = 0;
	struct {
		const char *op;
		long r;
	} t[] = {
	    {"read", SC(SYS_read, 0, a, 16)},
	    {"readv", SC(SYS_readv, 0, &iov, 1)},
	    {"getrandom", SC(SYS_getrandom, a, 16, 0)},
	    {"uname", SC(SYS_uname, a)},
	    {"clock_gettime-realtime",
	     SC(SYS_clock_gettime, CLOCK_REALTIME, a)},
	    {"clock_gettime-monotonic",
	     SC(SYS_clock_gettime, CLOCK_MONOTONIC, a)},
	    {"clock_gettime-cputime",
	     SC(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, a)},
	    {"clock_gettime-threadtime",
	     SC(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, a)},
	    {"clock_getres", SC(SYS_clock_getres, CLOCK_REALTIME, a)},
	    {"gettimeofday", SC(SYS_gettimeofday, a, 0)},
	    {"time", SC(SYS_time, a)},
	    {"fstat", SC(SYS_fstat, 0, a)},
	    {"getresuid", SC(SYS_getresuid, a, a, a)},
	    {"rt_sigprocmask-old", SC(SYS_rt_sigprocmask, SIG_BLOCK, 0, a, 8)},
	    {"rt_sigaction-old", SC(SYS_rt_sigaction, SIGUSR1, 0, a, 8)},
	    {"prlimit64-old", SC(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, a)},
	    {"getrlimit", SC(SYS_getrlimit, RLIMIT_NOFILE, a)},
	    {"arch_prctl-get_fs", SC(SYS_arch_prctl, ARCH_GET_FS, a)},
	    {"prctl-get_name", SC(SYS_prctl, PR_GET_NAME_, a, 0, 0, 0)},
	    {"get_robust_list", SC(SYS_get_robust_list, 0, a, &robust_len)},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(name, sizeof(name), "%s-%s-efault", what, t[i].op);
		if (t[i].r == -EFAULT)
			pass(name);
		else if (t[i].r == 0 && (!strcmp(t[i].op, "read") ||
					 !strcmp(t[i].op, "readv")))
			fail(name,
			     "got 0: stdin is at end of file, give it data");
		else
			fail(name, "got %s, want EFAULT", ename(t[i].r));
	}
}

static long vdso_now_ns(void)
{
	int (*fn)(clockid_t, struct timespec *) = (int (*)(
	    clockid_t, struct timespec *))vdso_sym("__vdso_clock_gettime");
	struct timespec ts;
	if (!fn)
		fn = (int (*)(clockid_t, struct timespec *))vdso_sym(
		    "clock_gettime");
	if (!fn || fn(CLOCK_REALTIME, &ts) != 0)
		return -1;
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (vdso_find() < 0) {
		fail("vdso-found", "no usable AT_SYSINFO_EHDR (%#lx)",
		     (unsigned long)vdso);
		return 1;
	}
	pass("vdso-found");
	if (vdso_now_ns() < 0)
		fail("vdso-clock_gettime-before",
		     "cannot call the vDSO's clock_gettime");
	const uint64_t vdso_sum = checksum(vdso, vdso_size);

	/* A page of ours to move around. */
	long mine = SC(SYS_mmap, 0, PAGE, PROT_READ | PROT_WRITE, ANON, -1, 0);
	if (mine < 0) {
		fail("setup", "mmap: %s", ename(mine));
		return 1;
	}

	/* ---- find every reserved range ---- */
	find_reserved();
	for (int i = 0; i < nreserved; i++)
		fprintf(stderr, "hostile_mm: reserved [%#lx, %#lx)\n",
			(unsigned long)reserved[i].start,
			(unsigned long)reserved[i].end);
	const struct range *vr = reserved_at(vdso);
	if (vr && vdso + vdso_size <= vr->end)
		pass("vdso-is-reserved");
	else
		fail("vdso-is-reserved",
		     "the vDSO [%#lx, %#lx) is not inside a "
		     "range the sandbox refuses to map over (%d ranges found)",
		     (unsigned long)vdso, (unsigned long)(vdso + vdso_size),
		     nreserved);
	/* On every platform the stub keeps code of its own beside the vDSO
	 * (on ptrace: the `syscall; int3` page the sentry injects calls with).
	 */
	{
		int others = 0;
		for (int i = 0; i < nreserved; i++)
			others += &reserved[i] != vr;
		if (others)
			pass("stub-code-is-reserved");
		else
			fail("stub-code-is-reserved",
			     "no reserved range besides "
			     "the vDSO's was found");
	}
	/* A range meeting one of the workload's own pages and a reserved one:
	 * NOREPLACE says EEXIST for the own page, as Linux would (its
	 * result must not depend on what lies beyond); MAP_FIXED still
	 * cannot replace the reserved page, and leaves the own one. */
	{
		int tried = 0;
		for (int i = 0; i < nreserved && !tried; i++) {
			uintptr_t below = reserved[i].start - PAGE;
			if (reserved[i].start < MIN_ADDR + PAGE ||
			    reserved_at(below))
				continue;
			long own = SC(SYS_mmap, below, PAGE,
				      PROT_READ | PROT_WRITE,
				      ANON | MAP_FIXED_NOREPLACE, -1, 0);
			if (own != (long)below)
				continue; /* not free: try the next range */
			tried = 1;
			*(volatile char *)below = 7;
			expect_err("boundary-mmap-noreplace",
				   SC(SYS_mmap, below, 2 * PAGE, PROT_READ,
				      ANON | MAP_FIXED_NOREPLACE, -1, 0),
				   EEXIST);
			expect_err("boundary-mmap-fixed",
				   SC(SYS_mmap, below, 2 * PAGE, PROT_READ,
				      ANON | MAP_FIXED, -1, 0),
				   ENOMEM);
			if (*(volatile char *)below == 7)
				pass("boundary-own-page-kept");
			else
				fail("boundary-own-page-kept",
				     "the page below %#lx changed",
				     (unsigned long)reserved[i].start);
			SC(SYS_munmap, below, PAGE);
		}
		if (!tried)
			fail("boundary", "no free page below any of the %d "
			     "reserved ranges", nreserved);
	}

	/* The stub's code must come out of all this byte for byte. (The
	 * systrap block's pages change by design: the control page with every
	 * request of the sentry, the slot with every trap.) */
	uint64_t sums[MAX_RANGES] = {0};
	for (int i = 0; i < nreserved; i++)
		if (is_code_range(&reserved[i]))
			sums[i] = code_sum(&reserved[i]);
	/* systrap: the block of shared and stub-private pages (layout.h). */
	const uintptr_t block = find_block();
	uint64_t idle_sum = 0;
	if (block)
		idle_sum = idle_threads_sum(block);

	/* ---- the vDSO page itself (the calls the policy names) ---- */
	expect_err("vdso-munmap", SC(SYS_munmap, vdso, PAGE), EINVAL);
	expect_err("vdso-munmap-whole", SC(SYS_munmap, vdso, vdso_size),
		   EINVAL);
	expect_err("vdso-mprotect-rw",
		   SC(SYS_mprotect, vdso, PAGE, PROT_READ | PROT_WRITE),
		   ENOMEM);
	expect_err("vdso-mprotect-rwx",
		   SC(SYS_mprotect, vdso, vdso_size,
		      PROT_READ | PROT_WRITE | PROT_EXEC),
		   ENOMEM);
	expect_err("vdso-mmap-fixed",
		   SC(SYS_mmap, vdso, PAGE, PROT_READ | PROT_WRITE,
		      ANON | MAP_FIXED, -1, 0),
		   ENOMEM);
	expect_err("vdso-mmap-fixed-shared",
		   SC(SYS_mmap, vdso, vdso_size,
		      PROT_READ | PROT_WRITE | PROT_EXEC,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		   ENOMEM);
	expect_err("vdso-madvise-dontneed",
		   SC(SYS_madvise, vdso, PAGE, MADV_DONTNEED), ENOMEM);
	expect_err("vdso-mremap-from",
		   SC(SYS_mremap, vdso, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0),
		   EFAULT);
	expect_err("vdso-mremap-fixed-into",
		   SC(SYS_mremap, mine, PAGE, PAGE,
		      MREMAP_MAYMOVE | MREMAP_FIXED, vdso),
		   EINVAL);
	expect_err("vdso-mremap-dontunmap-into",
		   SC(SYS_mremap, mine, PAGE, PAGE,
		      MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, vdso),
		   EINVAL);
	expect_err("vdso-clock_gettime-raw",
		   SC(SYS_clock_gettime, CLOCK_REALTIME, vdso), EFAULT);
	attack_copyout("vdso", vdso);
	/* The last vDSO page, a buffer running off its end. */
	expect_err("vdso-end-uname", SC(SYS_uname, vdso + vdso_size - 8),
		   EFAULT);
	/* Reading from the vDSO is allowed, as on Linux: write(2) copies it. */
	{
		long r = SC(SYS_write, 2, vdso, 4);
		if (r == 4 || r == -EFAULT)
			pass("vdso-write-from");
		else
			fail("vdso-write-from", "got %s", ename(r));
	}
	{
		/* A non-fixed mmap hinted at the vDSO goes elsewhere. */
		long r = SC(SYS_mmap, vdso, PAGE, PROT_READ, ANON, -1, 0);
		if (r >= 0 && !overlaps_reserved(r, PAGE))
			pass("vdso-mmap-hint-ignored");
		else
			fail("vdso-mmap-hint-ignored", "got %s", ename(r));
		if (r >= 0)
			SC(SYS_munmap, r, PAGE);
	}
	{
		/* brk cannot be stretched over it. */
		long cur = SC(SYS_brk, 0);
		long r = SC(SYS_brk, vdso + PAGE);
		if (r == cur)
			pass("vdso-brk-over");
		else
			fail("vdso-brk-over", "brk moved from %#lx to %#lx",
			     (unsigned long)cur, (unsigned long)r);
		if (r != cur)
			SC(SYS_brk, cur);
	}

	/* ---- pages of every reserved range (stub code included) ---- */
	{
		int bad = 0, pages = 0;
		for (int i = 0; i < nreserved; i++) {
			uintptr_t list[MAX_TARGETS];
			int n = targets(&reserved[i], block, list);
			for (int j = 0; j < n; j++) {
				if (!page_reserved(list[j]))
					continue; /* a gap find_reserved merged
						   */
				bad += attack_mm("reserved", list[j],
						 (uintptr_t)mine, 0);
				pages++;
			}
		}
		if (!bad)
			printf("ok reserved-pages-mm-refused (%d pages)\n",
			       pages);
	}
	/* ---- the systrap block: control, result, slots, signal stacks ---- */
	if (block) {
		static const struct {
			const char *name;
			uintptr_t off;
		} parts[] = {
		    {"block-control", 0},
		    {"block-result", SYSTRAP_RESULT_OFF},
		    {"block-slot0", SYSTRAP_SLOTS_OFF},
		    {"block-slot1", SYSTRAP_SLOTS_OFF + SYSTRAP_SLOT_SIZE},
		    {"block-stack0", SYSTRAP_STACKS_OFF},
		    {"block-stack1", SYSTRAP_STACKS_OFF + SYSTRAP_STACK_SIZE},
		};
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			attack_mm(parts[i].name, block + parts[i].off,
				  (uintptr_t)mine, 1);
			attack_copyout(parts[i].name, block + parts[i].off);
		}
		/* brk cannot be stretched over the block. */
		long cur = SC(SYS_brk, 0);
		long r = SC(SYS_brk, block + SYSTRAP_BLOCK_SIZE);
		if (r == cur)
			pass("block-brk-over");
		else
			fail("block-brk-over", "brk moved from %#lx to %#lx",
			     (unsigned long)cur, (unsigned long)r);
		if (r != cur)
			SC(SYS_brk, cur);
	}
	/* ---- the stub's code ---- */
	for (int i = 0; i < nreserved; i++)
		if (is_code_range(&reserved[i]))
			attack_copyout("code", reserved[i].start);

	/* ---- a mapping of ours right below the vDSO's reserved range ---- */
	if (vr) {
		uintptr_t p = vr->start - 2 * PAGE;
		long r = SC(SYS_mmap, p, 2 * PAGE, PROT_READ | PROT_WRITE,
			    ANON | MAP_FIXED_NOREPLACE, -1, 0);
		if (r != (long)p) {
			fail("neighbour-setup",
			     "mmap below the reserved range: %s", ename(r));
		} else {
			memset((void *)p, 0x5a, 2 * PAGE);
			/* Spanning ours and the reserved range: nothing at all
			 * may happen, to ours either. */
			expect_err("span-munmap", SC(SYS_munmap, p, 4 * PAGE),
				   EINVAL);
			expect_err("span-mmap-fixed",
				   SC(SYS_mmap, p, 4 * PAGE,
				      PROT_READ | PROT_WRITE, ANON | MAP_FIXED,
				      -1, 0),
				   ENOMEM);
			expect_err("span-mprotect",
				   SC(SYS_mprotect, p, 4 * PAGE, PROT_READ),
				   ENOMEM);
			expect_err("span-madvise-dontneed",
				   SC(SYS_madvise, p, 4 * PAGE, MADV_DONTNEED),
				   ENOMEM);
			expect_err("span-uname", SC(SYS_uname, vr->start - 8),
				   EFAULT);
			expect_err("span-getrandom",
				   SC(SYS_getrandom, vr->start - 8, 16, 0),
				   EFAULT);
			/* Growing in place into the reserved range. */
			expect_err("span-mremap-grow-in-place",
				   SC(SYS_mremap, p, 2 * PAGE, 3 * PAGE, 0),
				   ENOMEM);
			expect_err("span-mremap-fixed-overlapping",
				   SC(SYS_mremap, mine, PAGE, 2 * PAGE,
				      MREMAP_MAYMOVE | MREMAP_FIXED,
				      vr->start - PAGE),
				   EINVAL);
			/* Writable and intact: it would fault or differ had any
			 * of the above touched it. */
			unsigned char *q = (unsigned char *)p;
			int intact = 1;
			for (uintptr_t i = 0; i < 2 * PAGE; i++)
				intact &= q[i] == 0x5a;
			q[0] = 1;
			q[2 * PAGE - 1] = 1;
			if (intact)
				pass("span-neighbour-intact");
			else
				fail("span-neighbour-intact",
				     "our pages below the "
				     "reserved range lost their contents");
			/* Growing with MREMAP_MAYMOVE moves it clear. */
			r = SC(SYS_mremap, p, 2 * PAGE, 3 * PAGE,
			       MREMAP_MAYMOVE);
			if (r >= 0 && r != (long)p &&
			    !overlaps_reserved(r, 3 * PAGE) &&
			    ((unsigned char *)r)[2 * PAGE - 1] == 1)
				pass("span-mremap-grow-moves");
			else
				fail("span-mremap-grow-moves", "got %s",
				     ename(r));
			SC(SYS_munmap, r >= 0 ? (uintptr_t)r : p, 3 * PAGE);
		}
	}

	/* ---- huge and wrapping lengths ---- */
	expect_err(
	    "huge-mmap-2^62",
	    SC(SYS_mmap, 0, 1UL << 62, PROT_READ | PROT_WRITE, ANON, -1, 0),
	    ENOMEM);
	expect_err(
	    "huge-mmap-minus-page",
	    SC(SYS_mmap, 0, -PAGE, PROT_READ, ANON | MAP_NORESERVE, -1, 0),
	    ENOMEM);
	expect_err("huge-mmap-fixed-past-top",
		   SC(SYS_mmap, TASK_SIZE - PAGE, 2 * PAGE, PROT_READ,
		      ANON | MAP_FIXED, -1, 0),
		   ENOMEM);
	expect_err("huge-mmap-fixed-zero",
		   SC(SYS_mmap, 0, PAGE, PROT_READ, ANON | MAP_FIXED, -1, 0),
		   EPERM);
	expect_err("huge-munmap-to-2^47",
		   SC(SYS_munmap, MIN_ADDR, (1UL << 47) - MIN_ADDR), EINVAL);
	/* All of the user address space: would take everything with it on
	 * Linux; the reserved ranges inside make the sandbox refuse it whole.
	 */
	expect_err("huge-munmap-everything",
		   SC(SYS_munmap, MIN_ADDR, TASK_SIZE - MIN_ADDR), EINVAL);
	expect_err("huge-munmap-wrapping", SC(SYS_munmap, mine, -PAGE), EINVAL);
	expect_err("huge-mprotect-everything",
		   SC(SYS_mprotect, MIN_ADDR, TASK_SIZE - MIN_ADDR, PROT_NONE),
		   ENOMEM);
	expect_err("huge-mprotect-wrapping",
		   SC(SYS_mprotect, mine, -PAGE, PROT_READ), ENOMEM);
	expect_err(
	    "huge-madvise-everything",
	    SC(SYS_madvise, MIN_ADDR, TASK_SIZE - MIN_ADDR, MADV_DONTNEED),
	    ENOMEM);
	expect_err("huge-madvise-wrapping",
		   SC(SYS_madvise, mine, -PAGE, MADV_DONTNEED), EINVAL);
	expect_err("huge-mremap-2^62",
		   SC(SYS_mremap, mine, PAGE, 1UL << 62, MREMAP_MAYMOVE),
		   EINVAL);
	expect_err("huge-mremap-wrapping-old",
		   SC(SYS_mremap, mine, -PAGE, PAGE, MREMAP_MAYMOVE), EFAULT);
	{
		long cur = SC(SYS_brk, 0);
		long r = SC(SYS_brk, 1UL << 62);
		if (r == cur)
			pass("huge-brk");
		else
			fail("huge-brk", "brk moved to %#lx", (unsigned long)r);
	}

	/* ---- afterwards: everything reserved is as it was, and works ---- */
	if (checksum(vdso, vdso_size) == vdso_sum)
		pass("vdso-unchanged");
	else
		fail("vdso-unchanged", "the vDSO's contents changed");
	{
		int same = 1;
		for (int i = 0; i < nreserved; i++)
			if (is_code_range(&reserved[i]))
				same &= code_sum(&reserved[i]) == sums[i];
		if (same)
			pass("stub-code-unchanged");
		else
			fail("stub-code-unchanged", "a page of the stub's code "
						    "changed");
	}
	if (block) {
		if (idle_threads_sum(block) == idle_sum)
			pass("block-idle-slots-and-stacks-unchanged");
		else
			fail(
			    "block-idle-slots-and-stacks-unchanged",
			    "the slots or signal stacks of threads that do not "
			    "exist changed");
	}
	{
		struct timespec a, b;
		long raw;
		int ok = clock_gettime(CLOCK_MONOTONIC, &a) == 0 &&
			 clock_gettime(CLOCK_MONOTONIC, &b) == 0 &&
			 (b.tv_sec > a.tv_sec ||
			  (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec)) &&
			 (a.tv_sec | a.tv_nsec) != 0;
		if (ok)
			pass("glibc-clock_gettime-works");
		else
			fail("glibc-clock_gettime-works",
			     "clock_gettime failed");
		long v = vdso_now_ns();
		struct timespec r;
		raw = SC(SYS_clock_gettime, CLOCK_REALTIME, &r);
		long rn = r.tv_sec * 1000000000L + r.tv_nsec;
		if (v > 0 && raw == 0 &&
		    (rn - v < 10000000000L && v - rn < 10000000000L))
			pass("vdso-clock_gettime-works");
		else
			fail("vdso-clock_gettime-works",
			     "vDSO %ld, syscall %ld (%s)", v, rn, ename(raw));
	}
	return failures ? 1 : 0;
}
