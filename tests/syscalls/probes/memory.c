/*
 * memory: brk, anonymous mmap/munmap/mprotect/mremap/madvise.
 *
 * Whether a range is mapped is observed without faulting: an
 * mmap(MAP_FIXED_NOREPLACE) over it succeeds iff the range is free.
 */
#include "probe.h"

#include <stdint.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static long P;

#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define RW (PROT_READ | PROT_WRITE)

static char *map(size_t len, int prot)
{
	return mmap(NULL, len, prot, ANON, -1, 0);
}

/* 1 if [addr, addr+len) is entirely unmapped, 0 otherwise. */
static int is_free(void *addr, size_t len)
{
	void *r = mmap(addr, len, PROT_NONE, ANON | MAP_FIXED_NOREPLACE, -1, 0);

	if (r == MAP_FAILED)
		return 0;
	munmap(r, len);
	return r == addr;
}

/* 1 if [addr, addr+len) is entirely mapped (no part of it is free). */
static int is_mapped(char *addr, size_t len)
{
	for (size_t off = 0; off < len; off += (size_t)P)
		if (is_free(addr + off, (size_t)P))
			return 0;
	return 1;
}

static void fill(char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(seed + i * 7);
}

static int verify(const char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (char)(seed + i * 7))
			return 0;
	return 1;
}

static int all_zero(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

static uintptr_t page_up(uintptr_t a)
{
	return (a + (uintptr_t)P - 1) & ~((uintptr_t)P - 1);
}

/*
 * brk runs first, before stdio has allocated anything, and restores the
 * original break before anything is printed: malloc caches the break, so it
 * must not observe our moves.
 */
struct brk_res {
	int query_ok, grow_ret, grow_query, grow_rw, shrink_ret, shrink_unmaps,
		keeps_low, regrow_ret, regrow_zero, below_start, too_high,
		restore_ret;
};

static void brk_tests(struct brk_res *r)
{
	uintptr_t b0 = (uintptr_t)syscall(SYS_brk, 0);
	uintptr_t b;

	r->query_ok = b0 != 0 && b0 != (uintptr_t)-1;

	b = (uintptr_t)syscall(SYS_brk, b0 + 3 * P);
	r->grow_ret = b == b0 + 3 * P;
	r->grow_query = (uintptr_t)syscall(SYS_brk, 0) == b0 + 3 * P;
	if (!r->grow_ret)
		return;
	fill((char *)b0, 3 * P, 11);
	r->grow_rw = verify((char *)b0, 3 * P, 11);

	b = (uintptr_t)syscall(SYS_brk, b0 + P);
	r->shrink_ret = b == b0 + P;
	uintptr_t gone = page_up(b0 + P);
	r->shrink_unmaps = is_free((void *)gone, b0 + 3 * P - gone);
	r->keeps_low = verify((char *)b0, P, 11);

	b = (uintptr_t)syscall(SYS_brk, b0 + 3 * P);
	r->regrow_ret = b == b0 + 3 * P;
	r->regrow_zero = r->regrow_ret &&
			 all_zero((char *)gone, b0 + 3 * P - gone);

	/* brk never fails with an errno; it returns the unchanged break. */
	r->below_start = (uintptr_t)syscall(SYS_brk, 1) == b0 + 3 * P;
	r->too_high = (uintptr_t)syscall(SYS_brk, b0 + (1UL << 47)) ==
		      b0 + 3 * P;

	r->restore_ret = (uintptr_t)syscall(SYS_brk, b0) == b0;
}

static void print_brk(const struct brk_res *r)
{
	CHECK_TRUE("brk(0) query", r->query_ok);
	CHECK_TRUE("brk grow returns new break", r->grow_ret);
	CHECK_TRUE("brk(0) after grow", r->grow_query);
	CHECK_TRUE("brk grown area rw", r->grow_rw);
	CHECK_TRUE("brk shrink returns new break", r->shrink_ret);
	CHECK_TRUE("brk shrink unmaps tail", r->shrink_unmaps);
	CHECK_TRUE("brk shrink keeps low data", r->keeps_low);
	CHECK_TRUE("brk regrow returns new break", r->regrow_ret);
	CHECK_TRUE("brk regrown pages zero", r->regrow_zero);
	CHECK_TRUE("brk below start returns current", r->below_start);
	CHECK_TRUE("brk too high returns current", r->too_high);
	CHECK_TRUE("brk restore", r->restore_ret);
}

static void mmap_tests(void)
{
	char *p, *q;

	/* Basic anonymous private mapping. */
	p = map(4 * P, RW);
	CHECK_OK("mmap anon private rw", p);
	if (p == MAP_FAILED)
		return;
	CHECK_TRUE("mmap anon zero-filled", all_zero(p, 4 * P));
	fill(p, 4 * P, 1);
	CHECK_TRUE("mmap anon write/read", verify(p, 4 * P, 1));
	CHECK_TRUE("mmap page aligned", ((uintptr_t)p & (P - 1)) == 0);

	/* MAP_FIXED over our own mapping replaces just that page. */
	q = mmap(p + P, P, RW, ANON | MAP_FIXED, -1, 0);
	CHECK_TRUE("mmap MAP_FIXED over own mapping at addr", q == p + P);
	CHECK_TRUE("MAP_FIXED page zeroed", all_zero(p + P, P));
	CHECK_TRUE("MAP_FIXED neighbours kept",
		   verify(p, P, 1) &&
			   verify(p + 2 * P, 2 * P, (unsigned)(1 + 2 * P * 7)));

	/* MAP_FIXED_NOREPLACE. */
	CHECK_ERR("mmap MAP_FIXED_NOREPLACE on existing",
		  mmap(p + 2 * P, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0),
		  EEXIST);
	CHECK_ERR("mmap MAP_FIXED_NOREPLACE partial overlap",
		  mmap(p + 3 * P, 2 * P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0),
		  EEXIST);

	/* munmap a middle page: a hole appears, neighbours stay. */
	CHECK_OK("munmap middle page", munmap(p + 2 * P, P));
	CHECK_TRUE("munmap hole is free", is_free(p + 2 * P, P));
	CHECK_TRUE("munmap neighbours still mapped",
		   is_mapped(p, 2 * P) && is_mapped(p + 3 * P, P));
	q = mmap(p + 2 * P, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK_TRUE("mmap MAP_FIXED_NOREPLACE into hole at addr", q == p + 2 * P);
	CHECK_TRUE("refilled hole zeroed", q == p + 2 * P && all_zero(q, P));

	/* munmap errors and edge cases. */
	CHECK_ERR("munmap unaligned", munmap(p + 1, P), EINVAL);
	CHECK_ERR("munmap len 0", munmap(p, 0), EINVAL);
	CHECK_OK("munmap len 1 (rounded up)", munmap(p + 3 * P, 1));
	CHECK_TRUE("munmap len 1 freed whole page", is_free(p + 3 * P, P));
	CHECK_OK("munmap already unmapped range", munmap(p + 3 * P, P));
	CHECK_ERR("munmap non-canonical",
		  syscall(SYS_munmap, 1UL << 63, P), EINVAL);
	CHECK_OK("munmap whole", munmap(p, 3 * P));
	CHECK_TRUE("munmap whole freed", is_free(p, 4 * P));

	/* mmap argument errors. */
	CHECK_ERR("mmap len 0", mmap(NULL, 0, RW, ANON, -1, 0), EINVAL);
	CHECK_ERR("mmap fd 99 without MAP_ANONYMOUS",
		  mmap(NULL, P, RW, MAP_PRIVATE, 99, 0), EBADF);
	CHECK_ERR("mmap neither private nor shared",
		  mmap(NULL, P, RW, MAP_ANONYMOUS, -1, 0), EINVAL);
	CHECK_ERR("mmap unaligned offset",
		  syscall(SYS_mmap, 0, P, RW, ANON, -1, 123), EINVAL);
	CHECK_ERR("mmap MAP_FIXED unaligned addr",
		  mmap((void *)(uintptr_t)(P + 1), P, RW, ANON | MAP_FIXED, -1, 0),
		  EINVAL);
	CHECK_ERR("mmap huge length", mmap(NULL, 1UL << 62, RW, ANON, -1, 0),
		  ENOMEM);

	/* Length 1 rounds up to a whole page. */
	p = map(1, RW);
	CHECK_OK("mmap len 1", p);
	if (p != MAP_FAILED) {
		p[P - 1] = 42;
		CHECK_TRUE("mmap len 1 page usable", p[P - 1] == 42);
		CHECK_OK("munmap len 1 mapping", munmap(p, P));
	}

	/* Anonymous shared mapping behaves like memory too. */
	p = mmap(NULL, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK_OK("mmap anon shared rw", p);
	if (p != MAP_FAILED) {
		CHECK_TRUE("mmap anon shared zero-filled", all_zero(p, 2 * P));
		fill(p, 2 * P, 5);
		CHECK_TRUE("mmap anon shared write/read", verify(p, 2 * P, 5));
		CHECK_OK("munmap anon shared", munmap(p, 2 * P));
	}
}

static void mprotect_tests(void)
{
	char *p = map(3 * P, RW);

	if (CHECK_OK("mmap for mprotect", p) == -1)
		return;
	fill(p, 3 * P, 3);
	CHECK_OK("mprotect PROT_READ", mprotect(p, P, PROT_READ));
	CHECK_TRUE("read after PROT_READ", verify(p, P, 3));
	CHECK_OK("mprotect back to rw", mprotect(p, P, RW));
	p[0] = 99;
	CHECK_TRUE("write after restoring rw", p[0] == 99);
	CHECK_OK("mprotect PROT_NONE", mprotect(p + P, P, PROT_NONE));
	CHECK_OK("mprotect PROT_NONE back to rw", mprotect(p + P, P, RW));
	CHECK_TRUE("data survives PROT_NONE",
		   verify(p + P, P, (unsigned)(3 + P * 7)));
	CHECK_OK("mprotect len 0", mprotect(p, 0, PROT_READ));
	CHECK_OK("mprotect len unaligned (rounded)", mprotect(p, 1, RW));
	CHECK_ERR("mprotect unaligned addr", mprotect(p + 1, P, PROT_READ),
		  EINVAL);
	CHECK_ERR("mprotect bad prot bits", mprotect(p, P, PROT_READ | 0x10),
		  EINVAL);
	CHECK_OK("munmap last page", munmap(p + 2 * P, P));
	CHECK_ERR("mprotect range with hole", mprotect(p, 3 * P, PROT_READ),
		  ENOMEM);
	CHECK_ERR("mprotect unmapped", mprotect(p + 2 * P, P, PROT_READ),
		  ENOMEM);
	munmap(p, 3 * P);

	/* PROT_NONE mapping made accessible later. */
	p = map(P, PROT_NONE);
	if (CHECK_OK("mmap PROT_NONE", p) != -1) {
		CHECK_OK("mprotect PROT_NONE->rw", mprotect(p, P, RW));
		CHECK_TRUE("PROT_NONE mapping zero after rw", all_zero(p, P));
		p[5] = 1;
		CHECK_TRUE("write after PROT_NONE->rw", p[5] == 1);
		munmap(p, P);
	}
}

static void mremap_tests(void)
{
	char *q, *r;

	/* Grow without MAYMOVE when blocked -> ENOMEM; with MAYMOVE it moves. */
	/*
	 * Reserve 3 pages first: whatever follows a fresh mapping may be
	 * something we must not MAP_FIXED over (e.g. [vvar] in a static
	 * binary).  The blocker gets different protections so that it cannot
	 * merge with the 2-page mapping into a single VMA.
	 */
	char *resv = map(3 * P, PROT_NONE);
	if (CHECK_OK("mmap 3-page reservation for mremap", resv) == -1)
		return;
	q = mmap(resv, 2 * P, RW, ANON | MAP_FIXED, -1, 0);
	CHECK_TRUE("mmap FIXED 2 pages at reservation", q == resv);
	if (q != resv)
		return;
	fill(q, 2 * P, 9);
	char *blk = mmap(q + 2 * P, P, PROT_READ, ANON | MAP_FIXED, -1, 0);
	CHECK_TRUE("mmap FIXED blocker page right after", blk == q + 2 * P);
	if (blk != q + 2 * P)
		return;
	CHECK_ERR("mremap grow in place blocked (no MAYMOVE)",
		  mremap(q, 2 * P, 4 * P, 0), ENOMEM);
	CHECK_TRUE("failed mremap left mapping intact", verify(q, 2 * P, 9));
	r = mremap(q, 2 * P, 4 * P, MREMAP_MAYMOVE);
	CHECK_OK("mremap grow MAYMOVE", r);
	if (r == MAP_FAILED)
		return;
	CHECK_TRUE("mremap MAYMOVE moved", r != q);
	CHECK_TRUE("mremap MAYMOVE keeps content", verify(r, 2 * P, 9));
	CHECK_TRUE("mremap grown tail zero", all_zero(r + 2 * P, 2 * P));
	CHECK_TRUE("mremap old range freed", is_free(q, 2 * P));
	CHECK_TRUE("mremap blocker untouched", is_mapped(blk, P));
	munmap(blk, P);

	/* Shrink: same address, tail released. */
	char *s = mremap(r, 4 * P, P, 0);
	CHECK_TRUE("mremap shrink same address", s == r);
	CHECK_TRUE("mremap shrink keeps content", s == r && verify(r, P, 9));
	CHECK_TRUE("mremap shrink frees tail", is_free(r + P, 3 * P));

	/* Grow in place when the following pages are free. */
	char *g = map(4 * P, RW);
	if (CHECK_OK("mmap 4 pages for in-place grow", g) != -1) {
		munmap(g + P, 3 * P);
		fill(g, P, 4);
		char *g2 = mremap(g, P, 4 * P, 0);
		CHECK_TRUE("mremap grow in place same address", g2 == g);
		CHECK_TRUE("mremap grow in place keeps content",
			   g2 == g && verify(g, P, 4));
		CHECK_TRUE("mremap grow in place tail zero",
			   g2 == g && all_zero(g + P, 3 * P));
		munmap(g, 4 * P);
	}

	/* MREMAP_FIXED to a chosen destination. */
	char *dst = map(2 * P, PROT_NONE);
	if (CHECK_OK("mmap destination for MREMAP_FIXED", dst) != -1) {
		char *m = mremap(r, P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		CHECK_TRUE("mremap MREMAP_FIXED at dest", m == dst);
		CHECK_TRUE("mremap MREMAP_FIXED keeps content",
			   m == dst && verify(dst, P, 9));
		CHECK_TRUE("mremap MREMAP_FIXED source freed", is_free(r, P));
		munmap(dst, 2 * P);
	}

	/* Errors. */
	q = map(2 * P, RW);
	if (CHECK_OK("mmap for mremap errors", q) == -1)
		return;
	CHECK_ERR("mremap unaligned old address", mremap(q + 1, P, 2 * P, 0),
		  EINVAL);
	CHECK_ERR("mremap new size 0", mremap(q, P, 0, MREMAP_MAYMOVE), EINVAL);
	CHECK_ERR("mremap bad flags", mremap(q, P, 2 * P, 0x80), EINVAL);
	CHECK_ERR("mremap FIXED without MAYMOVE",
		  mremap(q, P, P, MREMAP_FIXED, q + 8 * P), EINVAL);
	CHECK_ERR("mremap FIXED unaligned dest",
		  mremap(q, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, q + 8 * P + 1),
		  EINVAL);
	munmap(q, 2 * P);
	CHECK_ERR("mremap unmapped old range",
		  mremap(q, P, 2 * P, MREMAP_MAYMOVE), EFAULT);
}

static void madvise_tests(void)
{
	char *p = map(3 * P, RW);

	if (CHECK_OK("mmap for madvise", p) == -1)
		return;
	fill(p, 3 * P, 7);
	CHECK_OK("madvise DONTNEED", madvise(p + P, P, MADV_DONTNEED));
	CHECK_TRUE("DONTNEED zeroes anon private page", all_zero(p + P, P));
	CHECK_TRUE("DONTNEED leaves neighbours",
		   verify(p, P, 7) && verify(p + 2 * P, P, (unsigned)(7 + 2 * P * 7)));
	CHECK_TRUE("DONTNEED keeps page mapped", is_mapped(p + P, P));
	p[P] = 1;
	CHECK_TRUE("DONTNEED page writable again", p[P] == 1);
	CHECK_OK("madvise NORMAL", madvise(p, 3 * P, MADV_NORMAL));
	CHECK_OK("madvise WILLNEED", madvise(p, 3 * P, MADV_WILLNEED));
	CHECK_OK("madvise len 0", madvise(p, 0, MADV_DONTNEED));
	CHECK_ERR("madvise bad advice", madvise(p, P, 999), EINVAL);
	CHECK_ERR("madvise unaligned", madvise(p + 1, P, MADV_DONTNEED), EINVAL);
	munmap(p + 2 * P, P);
	CHECK_ERR("madvise unmapped", madvise(p + 2 * P, P, MADV_NORMAL), ENOMEM);
	munmap(p, 2 * P);
}

/* mincore: a touched page is resident (an untouched one may or may not
 * be: the sandbox reports every mapped page resident, so as not to show
 * the host's page cache); a hole ends the range with ENOMEM after the
 * pages before it were reported; an unaligned start is EINVAL; a result
 * vector outside user memory EFAULT. */
static void mincore_tests(void)
{
	char *p = map(4 * P, RW);
	unsigned char vec[4];

	if (CHECK_OK("mmap for mincore", p) == -1)
		return;
	p[0] = 1;
	p[2 * P] = 1;
	memset(vec, 0xee, sizeof(vec));
	CHECK_OK("mincore of 4 pages", mincore(p, 4 * P, vec));
	CHECK_TRUE("touched pages resident", (vec[0] & 1) && (vec[2] & 1));
	CHECK_TRUE("only bit 0 may be set",
		   !((vec[0] | vec[1] | vec[2] | vec[3]) & 0xfe));
	CHECK_OK("mincore len 0", mincore(p, 0, vec));
	CHECK_OK("mincore of a partial page", mincore(p, 1, vec));
	CHECK_ERR("mincore unaligned", mincore(p + 1, P, vec), EINVAL);
	CHECK_ERR("mincore bad vector", mincore(p, P, (unsigned char *)1), EFAULT);
	CHECK_ERR("mincore vector above user memory",
		  mincore(p, P, (unsigned char *)0xffff800000000000ULL), EFAULT);
	munmap(p + 2 * P, P);
	memset(vec, 0xee, sizeof(vec));
	CHECK_ERR("mincore over a hole", mincore(p, 4 * P, vec), ENOMEM);
	CHECK_TRUE("the pages before the hole reported",
		   (vec[0] & 1) && vec[1] != 0xee && vec[2] == 0xee);
	CHECK_ERR("mincore of unmapped memory", mincore(p + 2 * P, P, vec),
		  ENOMEM);
	CHECK_ERR("mincore past user memory",
		  mincore((void *)0x7ffffffff000ULL, 2 * P, vec), ENOMEM);
	munmap(p, 4 * P);
}

int main(void)
{
	struct brk_res br;

	P = sysconf(_SC_PAGESIZE);
	memset(&br, 0, sizeof(br));
	brk_tests(&br);

	CHECK_TRUE("page size 4096", P == 4096);
	print_brk(&br);
	mmap_tests();
	mprotect_tests();
	mremap_tests();
	madvise_tests();
	mincore_tests();
	return probe_done();
}
