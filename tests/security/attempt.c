#define _GNU_SOURCE
#include "attempt.h"
#include "../../platform/systrap/layout.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

int failures;
struct range reserved[MAX_RANGES];
int nreserved;
uintptr_t vdso, vdso_size;

void pass(const char *name)
{
	printf("ok %s\n", name);
}

void fail(const char *name, const char *fmt, ...)
{
	va_list ap;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failures++;
}

const char *ename(long r)
{
	static char buf[32];
	if (r >= 0) {
		snprintf(buf, sizeof(buf), "%#lx", (unsigned long)r);
		return buf;
	}
	const char *n = strerrorname_np((int)-r);
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno %ld", -r);
	return buf;
}

void expect_err(const char *name, long r, int want)
{
	if (r == -want)
		pass(name);
	else
		fail(name, "got %s, want %s", ename(r), ename(-want));
}

void expect_any_err(const char *name, long r)
{
	if (r < 0 && r > -4096)
		printf("ok %s (%s)\n", name, ename(r));
	else
		fail(name, "got %s, want an error", ename(r));
}

long raw_syscall6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
		  uint64_t a3, uint64_t a4, uint64_t a5)
{
	long ret;
	register uint64_t r10 __asm__("r10") = a3;
	register uint64_t r8 __asm__("r8") = a4;
	register uint64_t r9 __asm__("r9") = a5;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10),
			   "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory", "cc");
	return ret;
}

/* -ENOMEM if [a, a+len) overlaps a reserved range. */
static long probe(uintptr_t a, uintptr_t len)
{
	long r = RAW(SYS_mmap, a, len, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			 MAP_FIXED_NOREPLACE,
		     -1, 0);
	if (r >= 0)
		RAW(SYS_munmap, r, len);
	return r;
}

/* A page the sandbox keeps for itself: NOREPLACE gets ENOMEM (a page of
 * the workload's own gets EEXIST). */
int page_reserved(uintptr_t a)
{
	return probe(a, PAGE) == -ENOMEM;
}

static int page_own(uintptr_t a)
{
	return probe(a, PAGE) == -EEXIST;
}

/* [a, a+len) meets a mapping, reserved or the workload's own: a range
 * that meets one of the workload's is EEXIST whatever else it meets. */
static int mapped(uintptr_t a, uintptr_t len)
{
	long r = probe(a, len);
	return r == -ENOMEM || r == -EEXIST;
}

/* How many pages from s on are all in(page): gallop, then bisect. */
static uintptr_t run_pages(uintptr_t s, int (*in_run)(uintptr_t))
{
	uintptr_t in = 0, out = 1;
	while (s + out * PAGE < TASK_SIZE && in_run(s + out * PAGE)) {
		in = out;
		out *= 2;
	}
	if (s + out * PAGE > TASK_SIZE)
		out = (TASK_SIZE - s) / PAGE;
	while (out - in > 1) {
		uintptr_t mid = in + (out - in) / 2;
		if (in_run(s + mid * PAGE))
			in = mid;
		else
			out = mid;
	}
	return out;
}

int find_reserved(void)
{
	uintptr_t cur = MIN_ADDR;

	nreserved = 0;
	while (cur < TASK_SIZE && nreserved < MAX_RANGES) {
		if (!mapped(cur, TASK_SIZE - cur))
			break;
		/* The smallest n with [cur, cur + n pages) meeting a mapping. */
		uintptr_t lo = 1, hi = (TASK_SIZE - cur) / PAGE;
		while (lo < hi) {
			uintptr_t mid = lo + (hi - lo) / 2;
			if (mapped(cur, mid * PAGE))
				hi = mid;
			else
				lo = mid + 1;
		}
		uintptr_t s = cur + (lo - 1) * PAGE;
		if (page_own(s)) { /* the workload's own pages: past them */
			cur = s + run_pages(s, page_own) * PAGE;
			continue;
		}
		uintptr_t n = run_pages(s, page_reserved);
		reserved[nreserved++] = (struct range){s, s + n * PAGE};
		cur = s + n * PAGE;
	}
	return nreserved;
}

const struct range *reserved_at(uintptr_t a)
{
	for (int i = 0; i < nreserved; i++)
		if (a >= reserved[i].start && a < reserved[i].end)
			return &reserved[i];
	return NULL;
}

int overlaps_reserved(uintptr_t a, uintptr_t len)
{
	for (int i = 0; i < nreserved; i++)
		if (a < reserved[i].end && reserved[i].start < a + len)
			return 1;
	return 0;
}

/* rt_sigprocmask checks `how` only after copying the set in. */
int readable(uintptr_t a)
{
	return RAW(SYS_rt_sigprocmask, 99, a, 0, 8) == -EINVAL;
}

int vdso_find(void)
{
	vdso = getauxval(AT_SYSINFO_EHDR);
	if (!vdso)
		return -1;
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

int is_code_range(const struct range *r)
{
	if (r->end - r->start >= (1UL << 20))
		return 0;
	/* systrap's rewritten system call sites: the workload's own code
	 * moved out of line (calls from there are the workload's, served as
	 * any other), and it changes as sites are rewritten. */
	if (r->start == PATCH_BASE)
		return 0;
	return !(vdso && vdso >= r->start && vdso < r->end);
}

uintptr_t find_block(void)
{
	const uintptr_t align = 2UL << 20;
	for (int i = 0; i < nreserved; i++) {
		if (reserved[i].end - reserved[i].start < (1UL << 30))
			continue;
		uintptr_t b = (reserved[i].start + align - 1) & ~(align - 1);
		for (; b < reserved[i].end; b += align)
			if (readable(b))
				return b;
	}
	return 0;
}
