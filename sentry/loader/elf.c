#include "elf.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096ULL
/* Lowest and one-past-highest address a segment may occupy. */
#define USER_MIN 0x10000ULL
#define USER_MAX 0x7ffffffff000ULL

enum {
	ET_EXEC_ = 2,
	ET_DYN_ = 3,
	EM_X86_64_ = 62,
	PT_LOAD_ = 1,
	PT_INTERP_ = 3,
	PT_PHDR_ = 6,
	PT_GNU_STACK_ = 0x6474e551,
	PF_X_ = 1,
	PF_W_ = 2,
	PF_R_ = 4,
	EHDR_SIZE = 64,
	PHDR_SIZE = 56,
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

#define REJECT(msg)                                                            \
	do {                                                                   \
		*why = (msg);                                                  \
		return -ENOEXEC;                                               \
	} while (0)

size_t elf_headers_end(const uint8_t *buf, size_t len)
{
	if (len < EHDR_SIZE || memcmp(buf, "\177ELF", 4) != 0)
		return 0;
	uint64_t phoff = le64(buf + 32);
	uint64_t end = phoff + (uint64_t)le16(buf + 56) * PHDR_SIZE;
	return end < phoff || end > SIZE_MAX ? 0 : (size_t)end;
}

int elf_parse(const uint8_t *buf, size_t len, uint64_t file_size,
	      struct elf_info *out, const char **why)
{
	static const char dummy_reason[] = "";
	const char *unused = dummy_reason;
	uint64_t phoff;

	if (!why)
		why = &unused;
	memset(out, 0, sizeof(*out));
	if (len < 4 || memcmp(buf, "\177ELF", 4) != 0)
		REJECT("not an ELF file");
	if (len < EHDR_SIZE)
		REJECT("truncated ELF header");
	if (buf[4] != 2)
		REJECT("not a 64-bit ELF file");
	if (buf[5] != 1)
		REJECT("not little-endian");
	if (buf[6] != 1)
		REJECT("unknown ELF version");
	out->type = le16(buf + 16);
	if (out->type != ET_EXEC_ && out->type != ET_DYN_)
		REJECT("not an executable (ELF type is neither EXEC nor DYN)");
	if (le16(buf + 18) != EM_X86_64_)
		REJECT("not an x86-64 executable");
	out->entry = le64(buf + 24);
	phoff = le64(buf + 32);
	out->phentsize = le16(buf + 54);
	out->phnum = le16(buf + 56);
	if (out->phentsize != PHDR_SIZE)
		REJECT("bad program header entry size");
	if (out->phnum == 0 || out->phnum > ELF_MAX_PHNUM)
		REJECT("bad number of program headers");
	if (phoff > file_size ||
	    (uint64_t)out->phnum * PHDR_SIZE > file_size - phoff)
		REJECT("program headers outside the file");
	if (phoff > len || (uint64_t)out->phnum * PHDR_SIZE > len - phoff)
		REJECT("program headers too far into the file");

	bool have_phdr = false;
	for (unsigned i = 0; i < out->phnum; i++) {
		const uint8_t *ph = buf + phoff + (uint64_t)i * PHDR_SIZE;
		uint32_t type = le32(ph);
		uint32_t flags = le32(ph + 4);
		uint64_t offset = le64(ph + 8);
		uint64_t vaddr = le64(ph + 16);
		uint64_t filesz = le64(ph + 32);
		uint64_t memsz = le64(ph + 40);
		uint64_t align = le64(ph + 48);

		switch (type) {
		case PT_LOAD_: {
			struct elf_segment *s;
			if (out->nsegs == ELF_MAX_LOAD)
				REJECT("too many loadable segments");
			if (filesz > memsz)
				REJECT("segment file size exceeds memory size");
			if (offset > file_size || filesz > file_size - offset)
				REJECT("segment data outside the file");
			if (memsz == 0)
				break;
			if (vaddr >= USER_MAX || memsz > USER_MAX - vaddr)
				REJECT("segment outside the user address range");
			if ((vaddr & (PAGE - 1)) != (offset & (PAGE - 1)))
				REJECT("segment address and offset disagree modulo the page size");
			if (align > 1 && (align & (align - 1)))
				REJECT("segment alignment is not a power of two");
			if (out->nsegs > 0 &&
			    vaddr < out->segs[out->nsegs - 1].vaddr)
				REJECT("loadable segments not in address order");
			s = &out->segs[out->nsegs++];
			s->vaddr = vaddr;
			s->memsz = memsz;
			s->offset = offset;
			s->filesz = filesz;
			s->prot = ((flags & PF_R_) ? PROT_READ : 0) |
				  ((flags & PF_W_) ? PROT_WRITE : 0) |
				  ((flags & PF_X_) ? PROT_EXEC : 0);
			break;
		}
		case PT_INTERP_:
			if (out->has_interp)
				REJECT("more than one interpreter");
			if (offset > file_size || filesz > file_size - offset ||
			    filesz < 2 || filesz > ELF_INTERP_MAX)
				REJECT("bad interpreter path");
			/* The terminator is checked here when the path is in
			 * buf; the loader checks it again when it reads it. */
			if (offset + filesz <= len &&
			    buf[offset + filesz - 1] != '\0')
				REJECT("interpreter path not terminated");
			out->has_interp = true;
			out->interp_offset = offset;
			out->interp_len = filesz - 1;
			break;
		case PT_PHDR_:
			out->phdr_vaddr = vaddr;
			have_phdr = true;
			break;
		case PT_GNU_STACK_:
			out->exec_stack = (flags & PF_X_) != 0;
			break;
		default:
			break;
		}
	}
	if (out->nsegs == 0)
		REJECT("no loadable segment");
	out->min_vaddr = out->segs[0].vaddr & ~(PAGE - 1);
	const struct elf_segment *last = &out->segs[out->nsegs - 1];
	out->max_vaddr = (last->vaddr + last->memsz + PAGE - 1) & ~(PAGE - 1);
	for (int i = 0; i < out->nsegs; i++) {
		uint64_t end = out->segs[i].vaddr + out->segs[i].memsz;
		if (end > out->max_vaddr)
			REJECT("loadable segments overlap");
	}
	if (out->type == ET_EXEC_ && out->min_vaddr < USER_MIN)
		REJECT("segment below the lowest mappable address");
	if (out->max_vaddr - out->min_vaddr > USER_MAX / 2)
		REJECT("image too large");
	if (!have_phdr) {
		/* No PT_PHDR: find the headers inside a loaded segment. */
		for (int i = 0; i < out->nsegs; i++) {
			const struct elf_segment *s = &out->segs[i];
			if (phoff >= s->offset &&
			    phoff + (uint64_t)out->phnum * PHDR_SIZE <=
				    s->offset + s->filesz) {
				out->phdr_vaddr = s->vaddr + (phoff - s->offset);
				have_phdr = true;
				break;
			}
		}
	}
	if (!have_phdr)
		out->phdr_vaddr = 0; /* AT_PHDR 0: as Linux when not loaded */
	if (out->entry < out->min_vaddr || out->entry >= out->max_vaddr)
		REJECT("entry point outside the loaded image");
	return 0;
}
