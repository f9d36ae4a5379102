/* ELF parser: valid images parse; every malformed header is rejected with
 * ENOEXEC (never a crash or an over-read: run under ASan to see it). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "sentry/loader/elf.h"

#define IMG_SIZE 0x3000

static void put16(uint8_t *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 0xff; }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (v >> (8 * i)) & 0xff; }

static uint8_t *phdr(uint8_t *img, int i) { return img + 64 + 56 * i; }

static void set_phdr(uint8_t *img, int i, uint32_t type, uint32_t flags,
		     uint64_t off, uint64_t vaddr, uint64_t filesz,
		     uint64_t memsz)
{
	uint8_t *p = phdr(img, i);
	put32(p, type);
	put32(p + 4, flags);
	put64(p + 8, off);
	put64(p + 16, vaddr);
	put64(p + 24, vaddr);
	put64(p + 32, filesz);
	put64(p + 40, memsz);
	put64(p + 48, 0x1000);
}

/* A minimal static ET_EXEC: text at 0x400000 (covering the headers), data
 * with bss at 0x401000, GNU_STACK. */
static uint8_t *make_exec(uint16_t type)
{
	uint8_t *img = calloc(1, IMG_SIZE);
	memcpy(img, "\177ELF", 4);
	img[4] = 2;
	img[5] = 1;
	img[6] = 1;
	put16(img + 16, type);
	put16(img + 18, 62);
	put32(img + 20, 1);
	put64(img + 24, 0x400100);
	put64(img + 32, 64);
	put16(img + 52, 64);
	put16(img + 54, 56);
	put16(img + 56, 3);
	set_phdr(img, 0, 1, 5, 0, 0x400000, 0x1000, 0x1000);
	set_phdr(img, 1, 1, 6, 0x1000, 0x401000, 0x800, 0x2000);
	set_phdr(img, 2, 0x6474e551, 6, 0, 0, 0, 0);
	return img;
}

static void parses_valid_exec(void **state)
{
	struct elf_info e;
	const char *why = NULL;
	uint8_t *img = make_exec(2);

	assert_int_equal(elf_parse(img, IMG_SIZE, IMG_SIZE, &e, &why), 0);
	assert_int_equal(e.type, 2);
	assert_int_equal(e.entry, 0x400100);
	assert_int_equal(e.nsegs, 2);
	assert_int_equal(e.segs[0].prot, PROT_READ | PROT_EXEC);
	assert_int_equal(e.segs[1].prot, PROT_READ | PROT_WRITE);
	assert_int_equal(e.min_vaddr, 0x400000);
	assert_int_equal(e.max_vaddr, 0x403000);
	assert_int_equal(e.phdr_vaddr, 0x400040); /* found inside segment 0 */
	assert_false(e.has_interp);
	assert_false(e.exec_stack);
	free(img);
}

static void parses_static_pie(void **state)
{
	struct elf_info e;
	uint8_t *img = make_exec(3);

	set_phdr(img, 0, 1, 5, 0, 0, 0x1000, 0x1000);
	set_phdr(img, 1, 1, 6, 0x1000, 0x1000, 0x800, 0x2000);
	put64(img + 24, 0x100);
	assert_int_equal(elf_parse(img, IMG_SIZE, IMG_SIZE, &e, NULL), 0);
	assert_int_equal(e.type, 3);
	assert_int_equal(e.min_vaddr, 0);
	free(img);
}

static void records_interp(void **state)
{
	struct elf_info e;
	uint8_t *img = make_exec(2);

	put16(img + 56, 4);
	strcpy((char *)img + 0x200, "/lib64/ld-linux-x86-64.so.2");
	set_phdr(img, 3, 3, 4, 0x200, 0x400200, 28, 28);
	assert_int_equal(elf_parse(img, IMG_SIZE, IMG_SIZE, &e, NULL), 0);
	assert_true(e.has_interp);
	assert_int_equal(e.interp_offset, 0x200);
	assert_int_equal(e.interp_len, 27);
	free(img);
}

struct bad_case {
	const char *name;
	void (*mutate)(uint8_t *img);
	size_t len; /* 0: IMG_SIZE */
};

static void m_magic(uint8_t *i) { i[1] = 'X'; }
static void m_class32(uint8_t *i) { i[4] = 1; }
static void m_bigendian(uint8_t *i) { i[5] = 2; }
static void m_version(uint8_t *i) { i[6] = 0; }
static void m_type_rel(uint8_t *i) { put16(i + 16, 1); }
static void m_type_core(uint8_t *i) { put16(i + 16, 4); }
static void m_machine(uint8_t *i) { put16(i + 18, 3); }
static void m_phentsize(uint8_t *i) { put16(i + 54, 32); }
static void m_phnum0(uint8_t *i) { put16(i + 56, 0); }
static void m_phnum_huge(uint8_t *i) { put16(i + 56, 0xffff); }
static void m_phoff_past(uint8_t *i) { put64(i + 32, IMG_SIZE); }
static void m_phoff_wrap(uint8_t *i) { put64(i + 32, UINT64_MAX - 8); }
static void m_filesz_gt_memsz(uint8_t *i) { put64(phdr(i, 1) + 32, 0x3000); }
static void m_seg_past_file(uint8_t *i) { put64(phdr(i, 1) + 8, 0x2900); }
static void m_seg_off_wrap(uint8_t *i) { put64(phdr(i, 1) + 8, UINT64_MAX - 0x10); }
static void m_vaddr_kernel(uint8_t *i) { put64(phdr(i, 1) + 16, 0xffff800000000000ULL); }
static void m_memsz_wrap(uint8_t *i) { put64(phdr(i, 1) + 40, UINT64_MAX - 0x1000); }
static void m_misaligned(uint8_t *i) { put64(phdr(i, 1) + 16, 0x401010); }
static void m_unordered(uint8_t *i) { put64(phdr(i, 1) + 16, 0x300000); put64(phdr(i, 1) + 24, 0x300000); }
static void m_noload(uint8_t *i) { put32(phdr(i, 0), 4); put32(phdr(i, 1), 4); }
static void m_entry_outside(uint8_t *i) { put64(i + 24, 0x900000); }
static void m_low_exec(uint8_t *i) { put64(phdr(i, 0) + 16, 0x1000); put64(i + 24, 0x1100); put64(phdr(i, 1) + 16, 0x2000); }
static void m_interp_unterminated(uint8_t *i) { put16(i + 56, 4); memset(i + 0x200, 'a', 64); set_phdr(i, 3, 3, 4, 0x200, 0, 64, 64); }
static void m_interp_past(uint8_t *i) { put16(i + 56, 4); set_phdr(i, 3, 3, 4, 0x2ff0, 0, 0x100, 0x100); }
static void m_two_interps(uint8_t *i) { put16(i + 56, 5); strcpy((char *)i + 0x200, "/a"); set_phdr(i, 3, 3, 4, 0x200, 0, 3, 3); set_phdr(i, 4, 3, 4, 0x200, 0, 3, 3); }
static void m_overlap(uint8_t *i) { put64(phdr(i, 0) + 40, 0x10000); }
static void m_align(uint8_t *i) { put64(phdr(i, 1) + 48, 0x1001); }
static void m_none(uint8_t *i) { (void)i; }

static const struct bad_case bad[] = {
	{ "bad magic", m_magic, 0 },
	{ "32-bit", m_class32, 0 },
	{ "big-endian", m_bigendian, 0 },
	{ "version", m_version, 0 },
	{ "relocatable", m_type_rel, 0 },
	{ "core", m_type_core, 0 },
	{ "i386 machine", m_machine, 0 },
	{ "phentsize", m_phentsize, 0 },
	{ "no phdrs", m_phnum0, 0 },
	{ "too many phdrs", m_phnum_huge, 0 },
	{ "phoff past end", m_phoff_past, 0 },
	{ "phoff wraps", m_phoff_wrap, 0 },
	{ "filesz > memsz", m_filesz_gt_memsz, 0 },
	{ "segment past file", m_seg_past_file, 0 },
	{ "segment offset wraps", m_seg_off_wrap, 0 },
	{ "kernel address", m_vaddr_kernel, 0 },
	{ "memsz wraps", m_memsz_wrap, 0 },
	{ "vaddr/offset misaligned", m_misaligned, 0 },
	{ "segments out of order", m_unordered, 0 },
	{ "no PT_LOAD", m_noload, 0 },
	{ "entry outside image", m_entry_outside, 0 },
	{ "below mmap_min_addr", m_low_exec, 0 },
	{ "interp unterminated", m_interp_unterminated, 0 },
	{ "interp past file", m_interp_past, 0 },
	{ "two interps", m_two_interps, 0 },
	{ "overlapping segments", m_overlap, 0 },
	{ "alignment not power of 2", m_align, 0 },
	{ "truncated header", m_none, 40 },
	{ "magic only", m_none, 4 },
	{ "empty", m_none, 1 },
	{ "phdrs truncated", m_none, 64 + 56 * 2 },
};

static void rejects_malformed(void **state)
{
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct elf_info e;
		const char *why = NULL;
		uint8_t *img = make_exec(2);
		size_t len = bad[k].len ? bad[k].len : IMG_SIZE;
		bad[k].mutate(img);
		/* Copy to an exact-size buffer so ASan catches any over-read. */
		uint8_t *exact = malloc(len);
		memcpy(exact, img, len);
		int r = elf_parse(exact, len, len, &e, &why);
		if (r != -ENOEXEC)
			fail_msg("case '%s': got %d, want -ENOEXEC", bad[k].name, r);
		assert_non_null(why);
		free(exact);
		free(img);
	}
}

/* Every truncation of a valid image is rejected or parsed, never read past. */
static void every_truncation_is_safe(void **state)
{
	uint8_t *img = make_exec(2);
	for (size_t len = 0; len < 64 + 56 * 3 + 1; len++) {
		struct elf_info e;
		uint8_t *exact = malloc(len ? len : 1);
		memcpy(exact, img, len);
		int r = elf_parse(exact, len, len, &e, NULL);
		assert_int_equal(r, -ENOEXEC);
		free(exact);
	}
	free(img);
}

/* The loader hands elf_parse only the file's first bytes: the headers
 * must be in them, the segments only in the file. */
static void headers_in_buffer_segments_in_file(void **state)
{
	(void)state;
	struct elf_info e;
	const char *why = NULL;
	uint8_t *img = make_exec(2);

	assert_int_equal(elf_headers_end(img, IMG_SIZE), 64 + 3 * 56);
	assert_int_equal(elf_headers_end(img, 63), 0); /* no full header */
	assert_int_equal(elf_headers_end((const uint8_t *)"#!/bin/sh\n", 10), 0);
	/* The first page only, of a bigger file: fine. */
	assert_int_equal(elf_parse(img, 4096, IMG_SIZE, &e, &why), 0);
	/* Headers past what was read: refused with its own reason. */
	assert_int_equal(elf_parse(img, 100, IMG_SIZE, &e, &why), -ENOEXEC);
	assert_string_equal(why, "program headers too far into the file");
	/* A segment past the end of the file: refused. */
	assert_int_equal(elf_parse(img, 4096, 0x1400, &e, &why), -ENOEXEC);
	assert_string_equal(why, "segment data outside the file");
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_valid_exec),
		cmocka_unit_test(parses_static_pie),
		cmocka_unit_test(records_interp),
		cmocka_unit_test(rejects_malformed),
		cmocka_unit_test(every_truncation_is_safe),
		cmocka_unit_test(headers_in_buffer_segments_in_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
