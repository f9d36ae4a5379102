/* ELF64 executable parsing for the loader. Pure: works on a byte buffer,
 * reads every field byte by byte, and rejects anything malformed with
 * -ENOEXEC and a reason. Depends on nothing but libc. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_LOAD 16
#define ELF_MAX_PHNUM 128
#define ELF_INTERP_MAX 4096

struct elf_segment {
	uint64_t vaddr, memsz; /* in the file's address space (before bias) */
	uint64_t offset, filesz;
	int prot; /* PROT_READ | PROT_WRITE | PROT_EXEC */
};

struct elf_info {
	uint16_t type; /* ET_EXEC or ET_DYN */
	uint64_t entry;
	uint64_t phdr_vaddr; /* where the program headers are once loaded */
	uint16_t phnum, phentsize;
	struct elf_segment segs[ELF_MAX_LOAD];
	int nsegs;
	uint64_t min_vaddr, max_vaddr; /* page-aligned span of the PT_LOADs */
	bool has_interp;
	uint64_t interp_offset, interp_len; /* PT_INTERP path, in the file */
	bool exec_stack;
};

/* Parses the headers of an x86-64 ELF executable of file_size bytes whose
 * first len bytes are in buf (they must hold the ELF and program headers).
 * Returns 0, or -ENOEXEC with *why set to a static reason. */
int elf_parse(const uint8_t *buf, size_t len, uint64_t file_size,
	      struct elf_info *out, const char **why);
/* How many bytes from the start of the file the ELF header and program
 * headers span, judging by buf[0..len); 0 if buf is not an ELF header. */
size_t elf_headers_end(const uint8_t *buf, size_t len);
