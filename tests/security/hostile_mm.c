/*
 * hostile_mm: the workload attacks the address ranges the sandbox reserves
 * for itself and every attempt must fail cleanly.
 *
 * On the ptrace platform the stub process keeps two things of its own in the
 * workload's address space: a page of stub code (`syscall; int3`, used to
 * inject the sentry's mmap calls) and the vDSO with its vvar pages. The
 * sentry's policy (sentry/mm/mm.c, sentry/kernel/task.c) is that the
 * workload can never unmap, remap, reprotect, replace, madvise or write
 * (through a system call) any of those ranges:
 *
 *   munmap overlapping a reserved range             EINVAL
 *   mprotect (never a vma of the workload)           ENOMEM
 *   mmap MAP_FIXED / MAP_FIXED_NOREPLACE over one    ENOMEM
 *   madvise overlapping one                          ENOMEM
 *   mremap from one (not a vma)                      EFAULT
 *   mremap MREMAP_FIXED to one                       EINVAL
 *   mremap growing in place into one                 ENOMEM
 *   any system call writing its result into one      EFAULT
 *
 * Reading them is allowed (the workload can read them itself), so a write(2)
 * from the vDSO works as on Linux.
 *
 * The reserved ranges are found without knowing the platform: an
 * mmap(MAP_FIXED_NOREPLACE) probe returns ENOMEM for a range overlapping a
 * reserved one (EEXIST for the workload's own mappings), so a bisection of
 * the address space finds them all. The vDSO (getauxval(AT_SYSINFO_EHDR))
 * must be inside one.
 *
 * SANDBOX ONLY: Linux itself allows several of these (munmap of the vDSO,
 * for one), so natively the program reports failures or dies.
 *
 * stdin must have at least 64 bytes to read (read(2) into the vDSO can only
 * fail with EFAULT when there is data to copy): `runsc do -- hostile_mm
 * <some-file`. Prints `ok NAME` for each check that held, `FAIL NAME: ...`
 * otherwise; exits 0 only if every check held.
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

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#define ARCH_GET_FS 0x1003
#define PR_GET_NAME_ 16

#define PAGE 4096UL
#define MIN_ADDR 0x10000UL /* vm.mmap_min_addr: the sandbox's lowest address */
#define TASK_SIZE 0x7ffffffff000UL /* highest user address + 1 (4-level) */
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static int failures;

/* A raw system call: the result, or -errno. */
#define SC(...) sc_ret(syscall(__VA_ARGS__))
static long sc_ret(long r)
{
	return r == -1 ? -errno : r;
}

static const char *ename(long r)
{
	static char buf[32];
	switch (-r) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case ENOSYS: return "ENOSYS";
	case ENOTTY: return "ENOTTY";
	case ESRCH: return "ESRCH";
	}
	if (r >= 0)
		snprintf(buf, sizeof(buf), "%#lx", (unsigned long)r);
	else
		snprintf(buf, sizeof(buf), "errno %ld", -r);
	return buf;
}

static void pass(const char *name)
{
	printf("ok %s\n", name);
}

static void fail(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(const char *name, const char *fmt, ...)
{
	va_list ap;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failures++;
}

/* The call must have failed with exactly -want. */
static void expect_err(const char *name, long r, int want)
{
	if (r == -want)
		pass(name);
	else
		fail(name, "got %s, want %s", ename(r), ename(-want));
}

/* ---- reserved-range discovery ---- */

struct range {
	uintptr_t start, end;
};
#define MAX_RANGES 16
static struct range reserved[MAX_RANGES];
static int nreserved;
static int probes;

/* -ENOMEM if [a, a+len) overlaps a reserved range, 0 if it is free, -EEXIST
 * if it overlaps only mappings of ours. */
static long probe(uintptr_t a, uintptr_t len)
{
	long r = SC(SYS_mmap, a, len, PROT_NONE,
		    ANON | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	probes++;
	if (r >= 0) {
		SC(SYS_munmap, r, len);
		return (uintptr_t)r == a ? 0 : -EEXIST; /* pre-4.17 hint */
	}
	return r;
}

static void add_reserved_page(uintptr_t a)
{
	if (nreserved && reserved[nreserved - 1].end == a) {
		reserved[nreserved - 1].end = a + PAGE;
		return;
	}
	if (nreserved == MAX_RANGES)
		return;
	reserved[nreserved++] = (struct range){ a, a + PAGE };
}

/* Bisection of [lo, hi), in ascending address order. */
static void find_reserved(uintptr_t lo, uintptr_t hi, int depth)
{
	if (lo >= hi || depth > 64 || probes > 20000)
		return;
	long r = probe(lo, hi - lo);
	if (r != -ENOMEM)
		return;
	if (hi - lo == PAGE) {
		add_reserved_page(lo);
		return;
	}
	uintptr_t mid = lo + (((hi - lo) / 2) & ~(PAGE - 1));
	if (mid == lo)
		mid = lo + PAGE;
	find_reserved(lo, mid, depth + 1);
	find_reserved(mid, hi, depth + 1);
}

static const struct range *reserved_at(uintptr_t a)
{
	for (int i = 0; i < nreserved; i++)
		if (a >= reserved[i].start && a < reserved[i].end)
			return &reserved[i];
	return NULL;
}

static int overlaps_reserved(uintptr_t a, uintptr_t len)
{
	for (int i = 0; i < nreserved; i++)
		if (a < reserved[i].end && reserved[i].start < a + len)
			return 1;
	return 0;
}

/* ---- the vDSO image ---- */

static uintptr_t vdso;
static uintptr_t vdso_size;

static int vdso_parse(void)
{
	const Elf64_Ehdr *eh = (const void *)vdso;
	uintptr_t lo = UINTPTR_MAX, hi = 0;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64)
		return -1;
	const Elf64_Phdr *ph = (const void *)(vdso + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ph[i].p_vaddr < lo)
			lo = ph[i].p_vaddr;
		if (ph[i].p_vaddr + ph[i].p_memsz > hi)
			hi = ph[i].p_vaddr + ph[i].p_memsz;
	}
	if (hi <= lo)
		return -1;
	vdso_size = ((hi - (lo & ~(PAGE - 1))) + PAGE - 1) & ~(PAGE - 1);
	return 0;
}

/* The address of a vDSO function, from its section headers. */
static void *vdso_sym(const char *name)
{
	const Elf64_Ehdr *eh = (const void *)vdso;

	if (!eh->e_shoff || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff + (uintptr_t)eh->e_shnum * sizeof(Elf64_Shdr) > vdso_size)
		return NULL;
	const Elf64_Shdr *sh = (const void *)(vdso + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum ||
		    sh[i].sh_entsize != sizeof(Elf64_Sym))
			continue;
		const Elf64_Sym *sym = (const void *)(vdso + sh[i].sh_offset);
		const char *str = (const char *)(vdso + sh[sh[i].sh_link].sh_offset);
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

/* True if the sandbox can read the page at a on our behalf: an invalid
 * rt_sigprocmask `how` is checked only after the set was copied in. */
static int readable(uintptr_t a)
{
	return SC(SYS_rt_sigprocmask, 99, a, 0, 8) == -EINVAL;
}

/* ---- attacks ---- */

/* Every memory-management call against the page at a, which is inside a
 * reserved range. Returns the number of attempts that did not fail as the
 * policy says; name is NULL to report nothing but failures. */
static int attack_mm(const char *what, uintptr_t a, uintptr_t mine, int verbose)
{
	char name[96];
	int bad = 0;
	struct {
		const char *op;
		long r;
		int want;
	} t[] = {
		{ "munmap", SC(SYS_munmap, a, PAGE), EINVAL },
		{ "mprotect-rw", SC(SYS_mprotect, a, PAGE, PROT_READ | PROT_WRITE), ENOMEM },
		{ "mprotect-none", SC(SYS_mprotect, a, PAGE, PROT_NONE), ENOMEM },
		{ "mmap-fixed", SC(SYS_mmap, a, PAGE, PROT_READ | PROT_WRITE,
				   ANON | MAP_FIXED, -1, 0), ENOMEM },
		{ "mmap-fixed-noreplace", SC(SYS_mmap, a, PAGE, PROT_READ,
					     ANON | MAP_FIXED_NOREPLACE, -1, 0), ENOMEM },
		{ "madvise-dontneed", SC(SYS_madvise, a, PAGE, MADV_DONTNEED), ENOMEM },
		{ "madvise-free", SC(SYS_madvise, a, PAGE, MADV_FREE), ENOMEM },
		{ "madvise-wipeonfork", SC(SYS_madvise, a, PAGE, MADV_WIPEONFORK), ENOMEM },
		{ "mremap-from", SC(SYS_mremap, a, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0), EFAULT },
		{ "mremap-fixed-into", SC(SYS_mremap, mine, PAGE, PAGE,
					  MREMAP_MAYMOVE | MREMAP_FIXED, a), EINVAL },
		{ "getrandom-into", SC(SYS_getrandom, a, 16, 0), EFAULT },
		{ "clock_gettime-cputime-into",
		  SC(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, a), EFAULT },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(name, sizeof(name), "%s-%s", what, t[i].op);
		if (t[i].r == -t[i].want) {
			if (verbose)
				pass(name);
		} else {
			fail(name, "at %#lx: got %s, want %s", (unsigned long)a,
			     ename(t[i].r), ename(-t[i].want));
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
	struct iovec iov = { (void *)a, 16 };
	size_t robust_len = 0;
	struct {
		const char *op;
		long r;
	} t[] = {
		{ "read", SC(SYS_read, 0, a, 16) },
		{ "readv", SC(SYS_readv, 0, &iov, 1) },
		{ "getrandom", SC(SYS_getrandom, a, 16, 0) },
		{ "uname", SC(SYS_uname, a) },
		{ "clock_gettime-realtime", SC(SYS_clock_gettime, CLOCK_REALTIME, a) },
		{ "clock_gettime-monotonic", SC(SYS_clock_gettime, CLOCK_MONOTONIC, a) },
		{ "clock_gettime-cputime", SC(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, a) },
		{ "clock_gettime-threadtime", SC(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, a) },
		{ "clock_getres", SC(SYS_clock_getres, CLOCK_REALTIME, a) },
		{ "gettimeofday", SC(SYS_gettimeofday, a, 0) },
		{ "time", SC(SYS_time, a) },
		{ "fstat", SC(SYS_fstat, 0, a) },
		{ "getresuid", SC(SYS_getresuid, a, a, a) },
		{ "rt_sigprocmask-old", SC(SYS_rt_sigprocmask, SIG_BLOCK, 0, a, 8) },
		{ "rt_sigaction-old", SC(SYS_rt_sigaction, SIGUSR1, 0, a, 8) },
		{ "prlimit64-old", SC(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, a) },
		{ "getrlimit", SC(SYS_getrlimit, RLIMIT_NOFILE, a) },
		{ "arch_prctl-get_fs", SC(SYS_arch_prctl, ARCH_GET_FS, a) },
		{ "prctl-get_name", SC(SYS_prctl, PR_GET_NAME_, a, 0, 0, 0) },
		{ "get_robust_list", SC(SYS_get_robust_list, 0, a, &robust_len) },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(name, sizeof(name), "%s-%s-efault", what, t[i].op);
		if (t[i].r == -EFAULT)
			pass(name);
		else if (t[i].r == 0 && (!strcmp(t[i].op, "read") ||
					 !strcmp(t[i].op, "readv")))
			fail(name, "got 0: stdin is at end of file, give it data");
		else
			fail(name, "got %s, want EFAULT", ename(t[i].r));
	}
}

static long vdso_now_ns(void)
{
	int (*fn)(clockid_t, struct timespec *) =
		(int (*)(clockid_t, struct timespec *))vdso_sym("__vdso_clock_gettime");
	struct timespec ts;
	if (!fn)
		fn = (int (*)(clockid_t, struct timespec *))vdso_sym("clock_gettime");
	if (!fn || fn(CLOCK_REALTIME, &ts) != 0)
		return -1;
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);

	vdso = getauxval(AT_SYSINFO_EHDR);
	if (!vdso || vdso_parse() < 0) {
		fail("vdso-found", "no usable AT_SYSINFO_EHDR (%#lx)",
		     (unsigned long)vdso);
		return 1;
	}
	pass("vdso-found");
	if (vdso_now_ns() < 0)
		fail("vdso-clock_gettime-before", "cannot call the vDSO's clock_gettime");
	const uint64_t vdso_sum = checksum(vdso, vdso_size);

	/* A page of ours to move around. */
	long mine = SC(SYS_mmap, 0, PAGE, PROT_READ | PROT_WRITE, ANON, -1, 0);
	if (mine < 0) {
		fail("setup", "mmap: %s", ename(mine));
		return 1;
	}

	/* ---- find every reserved range ---- */
	find_reserved(MIN_ADDR, TASK_SIZE, 0);
	for (int i = 0; i < nreserved; i++)
		fprintf(stderr, "hostile_mm: reserved [%#lx, %#lx)\n",
			(unsigned long)reserved[i].start,
			(unsigned long)reserved[i].end);
	const struct range *vr = reserved_at(vdso);
	if (vr && vdso + vdso_size <= vr->end)
		pass("vdso-is-reserved");
	else
		fail("vdso-is-reserved", "the vDSO [%#lx, %#lx) is not inside a "
		     "range the sandbox refuses to map over (%d ranges found)",
		     (unsigned long)vdso, (unsigned long)(vdso + vdso_size),
		     nreserved);
	/* On every platform the stub keeps code of its own beside the vDSO
	 * (on ptrace: the `syscall; int3` page the sentry injects calls with). */
	{
		int others = 0;
		for (int i = 0; i < nreserved; i++)
			others += &reserved[i] != vr;
		if (others)
			pass("stub-code-is-reserved");
		else
			fail("stub-code-is-reserved", "no reserved range besides "
			     "the vDSO's was found");
	}
	/* Contents of every readable reserved page, to compare at the end. */
	uint64_t sums[MAX_RANGES] = { 0 };
	for (int i = 0; i < nreserved; i++)
		for (uintptr_t a = reserved[i].start; a < reserved[i].end; a += PAGE)
			if (readable(a))
				sums[i] = sums[i] * 31 + checksum(a, PAGE);

	/* ---- the vDSO page itself (the calls the policy names) ---- */
	expect_err("vdso-munmap", SC(SYS_munmap, vdso, PAGE), EINVAL);
	expect_err("vdso-munmap-whole", SC(SYS_munmap, vdso, vdso_size), EINVAL);
	expect_err("vdso-mprotect-rw",
		   SC(SYS_mprotect, vdso, PAGE, PROT_READ | PROT_WRITE), ENOMEM);
	expect_err("vdso-mprotect-rwx",
		   SC(SYS_mprotect, vdso, vdso_size,
		      PROT_READ | PROT_WRITE | PROT_EXEC), ENOMEM);
	expect_err("vdso-mmap-fixed",
		   SC(SYS_mmap, vdso, PAGE, PROT_READ | PROT_WRITE,
		      ANON | MAP_FIXED, -1, 0), ENOMEM);
	expect_err("vdso-mmap-fixed-shared",
		   SC(SYS_mmap, vdso, vdso_size, PROT_READ | PROT_WRITE | PROT_EXEC,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0), ENOMEM);
	expect_err("vdso-madvise-dontneed",
		   SC(SYS_madvise, vdso, PAGE, MADV_DONTNEED), ENOMEM);
	expect_err("vdso-mremap-from",
		   SC(SYS_mremap, vdso, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0), EFAULT);
	expect_err("vdso-mremap-fixed-into",
		   SC(SYS_mremap, mine, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
		      vdso), EINVAL);
	expect_err("vdso-mremap-dontunmap-into",
		   SC(SYS_mremap, mine, PAGE, PAGE,
		      MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, vdso), EINVAL);
	expect_err("vdso-clock_gettime-raw",
		   SC(SYS_clock_gettime, CLOCK_REALTIME, vdso), EFAULT);
	attack_copyout("vdso", vdso);
	/* The last vDSO page, a buffer running off its end. */
	expect_err("vdso-end-uname",
		   SC(SYS_uname, vdso + vdso_size - 8), EFAULT);
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

	/* ---- every page of every reserved range (stub code included) ---- */
	{
		int bad = 0;
		for (int i = 0; i < nreserved; i++)
			for (uintptr_t a = reserved[i].start; a < reserved[i].end;
			     a += PAGE)
				bad += attack_mm("reserved", a, (uintptr_t)mine, 0);
		if (!bad)
			pass("reserved-every-page-mm-refused");
	}

	/* ---- a mapping of ours right below the vDSO's reserved range ---- */
	if (vr) {
		uintptr_t p = vr->start - 2 * PAGE;
		long r = SC(SYS_mmap, p, 2 * PAGE, PROT_READ | PROT_WRITE,
			    ANON | MAP_FIXED_NOREPLACE, -1, 0);
		if (r != (long)p) {
			fail("neighbour-setup", "mmap below the reserved range: %s",
			     ename(r));
		} else {
			memset((void *)p, 0x5a, 2 * PAGE);
			/* Spanning ours and the reserved range: nothing at all
			 * may happen, to ours either. */
			expect_err("span-munmap", SC(SYS_munmap, p, 4 * PAGE), EINVAL);
			expect_err("span-mmap-fixed",
				   SC(SYS_mmap, p, 4 * PAGE, PROT_READ | PROT_WRITE,
				      ANON | MAP_FIXED, -1, 0), ENOMEM);
			expect_err("span-mprotect",
				   SC(SYS_mprotect, p, 4 * PAGE, PROT_READ), ENOMEM);
			expect_err("span-madvise-dontneed",
				   SC(SYS_madvise, p, 4 * PAGE, MADV_DONTNEED), ENOMEM);
			expect_err("span-uname",
				   SC(SYS_uname, vr->start - 8), EFAULT);
			expect_err("span-getrandom",
				   SC(SYS_getrandom, vr->start - 8, 16, 0), EFAULT);
			/* Growing in place into the reserved range. */
			expect_err("span-mremap-grow-in-place",
				   SC(SYS_mremap, p, 2 * PAGE, 3 * PAGE, 0), ENOMEM);
			expect_err("span-mremap-fixed-overlapping",
				   SC(SYS_mremap, mine, PAGE, 2 * PAGE,
				      MREMAP_MAYMOVE | MREMAP_FIXED, vr->start - PAGE),
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
				fail("span-neighbour-intact", "our pages below the "
				     "reserved range lost their contents");
			/* Growing with MREMAP_MAYMOVE moves it clear. */
			r = SC(SYS_mremap, p, 2 * PAGE, 3 * PAGE, MREMAP_MAYMOVE);
			if (r >= 0 && r != (long)p && !overlaps_reserved(r, 3 * PAGE) &&
			    ((unsigned char *)r)[2 * PAGE - 1] == 1)
				pass("span-mremap-grow-moves");
			else
				fail("span-mremap-grow-moves", "got %s", ename(r));
			SC(SYS_munmap, r >= 0 ? (uintptr_t)r : p, 3 * PAGE);
		}
	}

	/* ---- huge and wrapping lengths ---- */
	expect_err("huge-mmap-2^62",
		   SC(SYS_mmap, 0, 1UL << 62, PROT_READ | PROT_WRITE, ANON, -1, 0),
		   ENOMEM);
	expect_err("huge-mmap-minus-page",
		   SC(SYS_mmap, 0, -PAGE, PROT_READ, ANON | MAP_NORESERVE, -1, 0),
		   ENOMEM);
	expect_err("huge-mmap-fixed-past-top",
		   SC(SYS_mmap, TASK_SIZE - PAGE, 2 * PAGE, PROT_READ,
		      ANON | MAP_FIXED, -1, 0), ENOMEM);
	expect_err("huge-mmap-fixed-zero",
		   SC(SYS_mmap, 0, PAGE, PROT_READ, ANON | MAP_FIXED, -1, 0), EPERM);
	expect_err("huge-munmap-to-2^47",
		   SC(SYS_munmap, MIN_ADDR, (1UL << 47) - MIN_ADDR), EINVAL);
	/* All of the user address space: would take everything with it on
	 * Linux; the reserved ranges inside make the sandbox refuse it whole. */
	expect_err("huge-munmap-everything",
		   SC(SYS_munmap, MIN_ADDR, TASK_SIZE - MIN_ADDR), EINVAL);
	expect_err("huge-munmap-wrapping", SC(SYS_munmap, mine, -PAGE), EINVAL);
	expect_err("huge-mprotect-everything",
		   SC(SYS_mprotect, MIN_ADDR, TASK_SIZE - MIN_ADDR, PROT_NONE), ENOMEM);
	expect_err("huge-mprotect-wrapping",
		   SC(SYS_mprotect, mine, -PAGE, PROT_READ), ENOMEM);
	expect_err("huge-madvise-everything",
		   SC(SYS_madvise, MIN_ADDR, TASK_SIZE - MIN_ADDR, MADV_DONTNEED),
		   ENOMEM);
	expect_err("huge-madvise-wrapping",
		   SC(SYS_madvise, mine, -PAGE, MADV_DONTNEED), EINVAL);
	expect_err("huge-mremap-2^62",
		   SC(SYS_mremap, mine, PAGE, 1UL << 62, MREMAP_MAYMOVE), EINVAL);
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
		for (int i = 0; i < nreserved; i++) {
			uint64_t s = 0;
			for (uintptr_t a = reserved[i].start; a < reserved[i].end;
			     a += PAGE)
				if (readable(a))
					s = s * 31 + checksum(a, PAGE);
			same &= s == sums[i];
		}
		if (same)
			pass("reserved-unchanged");
		else
			fail("reserved-unchanged", "a readable reserved page changed");
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
			fail("glibc-clock_gettime-works", "clock_gettime failed");
		long v = vdso_now_ns();
		struct timespec r;
		raw = SC(SYS_clock_gettime, CLOCK_REALTIME, &r);
		long rn = r.tv_sec * 1000000000L + r.tv_nsec;
		if (v > 0 && raw == 0 && (rn - v < 10000000000L && v - rn < 10000000000L))
			pass("vdso-clock_gettime-works");
		else
			fail("vdso-clock_gettime-works", "vDSO %ld, syscall %ld (%s)",
			     v, rn, ename(raw));
	}
	return failures ? 1 : 0;
}
