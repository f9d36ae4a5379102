/* libFuzzer target for the loader's ELF parser (sentry/loader/elf.c), which
 * reads the headers of any file a workload asks to exec. Input: 8 bytes of
 * claimed file size (little-endian), then the file's first bytes. The
 * parser must never read outside them (ASan), and what it accepts must
 * hold what the loader relies on; an input breaking either aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sentry/loader/elf.h"

#define USER_END 0x800000000000ULL /* 47-bit user space */

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	uint64_t file_size = 0;
	for (int i = 0; i < 8; i++)
		file_size |= (uint64_t)data[i] << (8 * i);
	size -= 8;
	/* An exact-size copy: ASan sees any read past its end. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 8, size);

	size_t end = elf_headers_end(buf, size);
	(void)end;
	struct elf_info e;
	const char *why = NULL;
	int r = elf_parse(buf, size, file_size, &e, &why);
	if (r != 0) {
		check(why != NULL && why[0] != '\0');
		free(buf);
		return 0;
	}
	check(e.nsegs >= 1 && e.nsegs <= ELF_MAX_LOAD);
	check(e.min_vaddr <= e.max_vaddr && e.max_vaddr <= USER_END);
	check(e.entry >= e.min_vaddr && e.entry < e.max_vaddr);
	for (int i = 0; i < e.nsegs; i++) {
		const struct elf_segment *s = &e.segs[i];
		check(s->filesz <= s->memsz && s->memsz > 0);
		check(s->offset <= file_size &&
		      s->filesz <= file_size - s->offset);
		check(s->vaddr < USER_END && s->memsz <= USER_END - s->vaddr);
		check(s->vaddr + s->memsz <= e.max_vaddr &&
		      s->vaddr >= e.min_vaddr);
		check(i == 0 || s->vaddr >= e.segs[i - 1].vaddr);
	}
	if (e.has_interp)
		check(e.interp_offset <= file_size &&
		      e.interp_len + 1 <= file_size - e.interp_offset &&
		      e.interp_len + 1 <= ELF_INTERP_MAX);
	free(buf);
	return 0;
}
