#define _GNU_SOURCE
#include "load.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/cleanup.h"
#include "../../lib/log.h"
#include "../kernel/kernel.h"
#include "../mm/mm.h"
#include "../vfs/vfs.h"
#include "stack.h"

#define MAX_EXEC_SIZE (1ULL << 30)
#define ELF_ET_DYN_BASE 0x555555554000ULL
#define DEFAULT_STACK (8ULL << 20)

/* An executable is opened through the VFS like any file the workload
 * opens (the gofer serves it); the loader reads only its headers and maps
 * its segments from the file, as Linux does, so a 30 MB compiler costs a
 * few mmaps, not a copy. */
#define HEAD_MIN 4096
#define HEAD_MAX (64 * 1024) /* ELF and program headers, at most */

static int read_full(struct file *f, uint8_t *buf, size_t n, uint64_t off)
{
	for (size_t got = 0; got < n;) {
		long r = file_pread(f, buf + got, n - got, off + got);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return -EIO; /* shorter than its size said */
		got += (size_t)r;
	}
	return 0;
}

static int read_head(struct exec_file *f, size_t n)
{
	uint8_t *h = malloc(n ? n : 1);
	if (!h)
		return -ENOMEM;
	int err = read_full(f->file, h, n, 0);
	if (err < 0) {
		free(h);
		return err;
	}
	free(f->head);
	f->head = h;
	f->head_len = n;
	return 0;
}

int exec_file_open(struct task *t, int dirfd, const char *path, int at_flags,
		   struct exec_file *f)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	int err = vfs_open_exec_at(t, dirfd, path, at_flags, &f->file);
	if (err < 0)
		return err;
	/* No writer while it loads (or runs: the new mm takes over). */
	err = vfs_deny_write(f->file);
	if (err < 0)
		return err;
	f->denied = true;
	err = vfs_fstat(f->file, &st);
	if (err < 0)
		return err;
	if (st.st_size < 0 || (uint64_t)st.st_size > MAX_EXEC_SIZE)
		return -ENOEXEC;
	f->size = (uint64_t)st.st_size;
	err = read_head(f, f->size < HEAD_MIN ? (size_t)f->size : HEAD_MIN);
	if (err < 0)
		return err;
	if (f->head_len >= 2 && f->head[0] == '#' && f->head[1] == '!') {
		f->script = true;
		return 0;
	}
	size_t need = elf_headers_end(f->head, f->head_len);
	if (need > f->head_len && need <= f->size && need <= HEAD_MAX) {
		err = read_head(f, need);
		if (err < 0)
			return err;
	}
	return elf_parse(f->head, f->head_len, f->size, &f->elf, &f->why);
}

int exec_interp_path(const struct exec_file *f, char *buf, size_t len)
{
	const struct elf_info *e = &f->elf;
	if (!e->has_interp || e->interp_len < 1 || e->interp_len + 1 > len ||
	    e->interp_offset > f->size ||
	    e->interp_len + 1 > f->size - e->interp_offset)
		return -ENOEXEC;
	int err = read_full(f->file, (uint8_t *)buf, e->interp_len + 1,
			    e->interp_offset);
	if (err < 0)
		return err;
	/* The path is NUL-terminated at the end of the segment, and only
	 * there. */
	if (buf[e->interp_len] != '\0' || strlen(buf) != e->interp_len)
		return -ENOEXEC;
	return 0;
}

void exec_file_close(struct exec_file *f)
{
	if (f->denied)
		vfs_allow_write(f->file);
	f->denied = false;
	file_put(f->file);
	free(f->head);
	f->file = NULL;
	f->head = NULL;
	f->head_len = 0;
}

static uint64_t random_pages(uint64_t max_pages)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = 0;
	return (r % max_pages) * MM_PAGE;
}

/* Zeroes [addr, end) of the workload's memory. */
static int zero_user(struct task *t, uint64_t addr, uint64_t end)
{
	static const uint8_t zeros[MM_PAGE];
	while (addr < end) {
		size_t n = end - addr < MM_PAGE ? (size_t)(end - addr) : MM_PAGE;
		int err = task_copy_out(t, addr, zeros, n);
		if (err < 0)
			return err;
		addr += n;
	}
	return 0;
}

/* For files the host cannot map: anonymous memory and a copy. */
static int copy_segment(struct task *t, struct file *file, uint64_t start,
			uint64_t end, uint64_t dst, uint64_t off, uint64_t n)
{
	int err = mm_map_fixed(t, start, end, PROT_READ | PROT_WRITE, NULL);
	uint8_t *buf = malloc(64 * 1024);
	if (!err && !buf)
		err = -ENOMEM;
	for (uint64_t done = 0; !err && done < n;) {
		size_t c = n - done < 64 * 1024 ? (size_t)(n - done) : 64 * 1024;
		err = read_full(file, buf, c, off + done);
		if (!err)
			err = task_copy_out(t, dst + done, buf, c);
		done += c;
	}
	free(buf);
	return err;
}

/* Maps each PT_LOAD as Linux's elf_map does: the file's pages private at
 * the segment's address (a later segment sharing a page with an earlier
 * one maps over it), the rest of the last file page zeroed, anonymous
 * pages for the remaining bss. */
static int load_segments(struct task *t, const struct elf_info *e,
			 struct file *file, uint64_t bias)
{
	for (int i = 0; i < e->nsegs; i++) {
		const struct elf_segment *s = &e->segs[i];
		uint64_t start = ALIGN_DOWN_PAGE(s->vaddr + bias);
		uint64_t file_end = s->vaddr + bias + s->filesz;
		uint64_t file_page_end = ALIGN_UP_PAGE(file_end);
		uint64_t mem_end = ALIGN_UP_PAGE(s->vaddr + bias + s->memsz);
		uint64_t off = ALIGN_DOWN_PAGE(s->offset);
		bool bss_in_page = s->memsz > s->filesz &&
				   file_end < file_page_end;
		int prot = s->prot;
		int err = 0;

		if (s->filesz > 0) {
			int mprot = prot | (bss_in_page ? PROT_WRITE : 0);
			err = mm_map_file_fixed(t, start, file_page_end - start,
						mprot, file, off);
			if (err == -ENODEV) {
				err = copy_segment(t, file, start,
						   file_page_end, start,
						   off, file_end - start);
				mprot = PROT_READ | PROT_WRITE;
			}
			if (!err && bss_in_page)
				err = zero_user(t, file_end, file_page_end);
			if (!err && mprot != prot)
				err = (int)mm_mprotect(t, start,
						       file_page_end - start,
						       prot);
		} else {
			file_page_end = start;
		}
		if (!err && mem_end > file_page_end) {
			err = mm_map_fixed(t, file_page_end, mem_end, prot,
					   NULL);
		}
		if (err < 0)
			return err;
	}
	return 0;
}

/* The PT_LOADs of e at bias as mm_load_segments regions, after any already
 * in segs[0 .. *n). */
static int build_segs(const struct elf_info *e, uint64_t bias,
		      struct mm_seg *segs, int *n)
{
	for (int i = 0; i < e->nsegs; i++) {
		const struct elf_segment *s = &e->segs[i];
		if (*n >= MM_LOAD_MAX)
			return -ENOEXEC;
		uint64_t start = ALIGN_DOWN_PAGE(s->vaddr + bias);
		uint64_t file_exact = s->vaddr + bias + s->filesz;
		struct mm_seg *g = &segs[(*n)++];
		g->start = start;
		g->file_end = s->filesz ? ALIGN_UP_PAGE(file_exact) : start;
		g->end = ALIGN_UP_PAGE(s->vaddr + bias + s->memsz);
		g->off = ALIGN_DOWN_PAGE(s->offset);
		g->prot = s->prot;
		g->name = NULL;
		g->zero_from = g->file_end;
		/* A bss starting inside the last file page is zeroed there,
		 * unless the next segment maps over that page anyway. */
		bool overmapped = i + 1 < e->nsegs &&
				  ALIGN_DOWN_PAGE(e->segs[i + 1].vaddr + bias) <
					  g->file_end;
		if (s->memsz > s->filesz && s->filesz && !overmapped)
			g->zero_from = file_exact;
	}
	return 0;
}

int loader_check(const struct exec_file *f, const struct exec_file *interp)
{
	const struct elf_info *e = &f->elf;
	/* The stack, then each PT_LOAD (build_segs). */
	if (e->nsegs + 1 > MM_LOAD_MAX)
		return -ENOEXEC;
	/* Every place the image may land (loader_load's bias). */
	uint64_t lo = e->min_vaddr, hi = e->max_vaddr;
	if (e->type == ET_DYN) {
		lo += ELF_ET_DYN_BASE - e->min_vaddr;
		hi += ELF_ET_DYN_BASE - e->min_vaddr + (1ULL << 16) * 4096;
	}
	if (mm_range_reserved(lo, hi))
		return -ENOMEM;
	if (interp) {
		const struct elf_info *ie = &interp->elf;
		if (ie->type != ET_DYN)
			return -ELIBBAD;
		if (ie->nsegs > MM_LOAD_MAX ||
		    ie->max_vaddr - ie->min_vaddr > (1ULL << 40))
			return -ENOEXEC;
	}
	return 0;
}

int loader_load(struct task *t, const struct exec_file *f,
		const struct exec_file *interp, char *const argv[],
		char *const envp[], const char *execfn)
{
	const struct elf_info *e = &f->elf;
	struct mm *mm = t->mm;
	uint64_t bias = 0, interp_bias = 0;
	int err;

	uint64_t stack_size = task_rlimit_cur(t, RLIMIT_STACK);
	if (stack_size == RLIM_INFINITY || stack_size > DEFAULT_STACK)
		stack_size = DEFAULT_STACK;
	if (stack_size < 128 * 1024)
		stack_size = 128 * 1024;
	stack_size = ALIGN_UP_PAGE(stack_size);

	/* Stack near the top with up to 16 GiB of randomisation, below any
	 * reserved range (stub code, vDSO). */
	uint64_t top = MM_TASK_SIZE - random_pages(1ULL << 22);
	uint64_t stack_lo;
	err = mm_find_free(mm, stack_size, top, &stack_lo);
	if (err < 0)
		return err;
	mm->stack_bottom = stack_lo;
	mm->stack_top = stack_lo + stack_size;
	/* The stack is mapped with the program's segments, in one hand-off. */
	struct mm_seg segs[MM_LOAD_MAX];
	int nsegs = 1;
	segs[0] = (struct mm_seg){ stack_lo, stack_lo, mm->stack_top, 0,
				   stack_lo, PROT_READ | PROT_WRITE, "[stack]" };
	/* mmap area below a gap of at least 128 MiB, 28 bits of randomness as
	 * on Linux. */
	uint64_t gap = stack_size < (128ULL << 20) ? (128ULL << 20) : stack_size;
	mm->mmap_base = ALIGN_DOWN_PAGE(stack_lo - gap - random_pages(1ULL << 28));

	if (e->type == ET_DYN)
		bias = ELF_ET_DYN_BASE + random_pages(1ULL << 16) - e->min_vaddr;
	if (mm_range_reserved(e->min_vaddr + bias, e->max_vaddr + bias))
		return -ENOMEM;
	err = build_segs(e, bias, segs, &nsegs);
	if (err < 0)
		return err;
	/* The interpreter goes in the mmap area, as Linux maps it. Its place
	 * is chosen before the program is mapped (clear of the program's
	 * image), so that both go in one hand-off when the platform can pass
	 * two fds at once (an exec of a dynamic program had two batches, the
	 * second taking 25-208 us); else after, one file at a time. */
	const struct elf_info *ie = interp ? &interp->elf : NULL;
	struct mm_seg isegs[MM_LOAD_MAX];
	int nisegs = 0;
	uint64_t ibase = 0;
	bool placed = false, pair = false;
	if (ie && ie->type != ET_DYN)
		return -ELIBBAD;
	if (ie) {
		uint64_t span = ie->max_vaddr - ie->min_vaddr;
		uint64_t lo = e->min_vaddr + bias, hi = e->max_vaddr + bias;
		placed = mm_find_free(mm, span, mm->mmap_base, &ibase) == 0 &&
			 (ibase + span <= lo || ibase >= hi) &&
			 build_segs(ie, ibase - ie->min_vaddr, isegs,
				    &nisegs) == 0;
	}
	if (placed) {
		err = mm_load_pair(t, f->file, segs, nsegs, interp->file, isegs,
				   nisegs);
		pair = err != -ENOTSUP && err != -ENODEV;
		if (pair && err < 0)
			return err;
	}
	if (!pair)
		err = mm_load_segments(t, f->file, segs, nsegs);
	if (!pair && err == -ENODEV) {
		/* One call at a time: first what an exec in place left. */
		err = mm_host_reset(t);
		if (!err)
			err = mm_map_fixed(t, stack_lo, mm->stack_top,
					   PROT_READ | PROT_WRITE, "[stack]");
		if (!err)
			err = load_segments(t, e, f->file, bias);
	}
	if (err < 0)
		return err;
	mm->brk_start = mm->brk = e->max_vaddr + bias + random_pages(8192);

	uint64_t entry = e->entry + bias;
	if (ie) {
		if (!placed) {
			uint64_t span = ie->max_vaddr - ie->min_vaddr;
			nisegs = 0;
			err = mm_find_free(mm, span, mm->mmap_base, &ibase);
			if (!err)
				err = build_segs(ie, ibase - ie->min_vaddr,
						 isegs, &nisegs);
			if (err < 0)
				return err;
		}
		interp_bias = ibase - ie->min_vaddr;
		if (!pair) {
			err = mm_load_segments(t, interp->file, isegs, nisegs);
			if (err == -ENODEV)
				err = load_segments(t, ie, interp->file,
						    interp_bias);
			if (err < 0)
				return err;
		}
		mm->mmap_base = ibase;
		entry = ie->entry + interp_bias;
	}

	uint8_t rnd[16];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -EIO;
	const struct creds *c = &t->cred;
	struct auxv_entry aux[] = {
		{ AT_SYSINFO_EHDR, plat_vdso_base() },
		{ AT_MINSIGSTKSZ, 2048 },
		{ AT_HWCAP, getauxval(AT_HWCAP) },
		{ AT_PAGESZ, MM_PAGE },
		{ AT_CLKTCK, 100 },
		{ AT_PHDR, e->phdr_vaddr ? e->phdr_vaddr + bias : 0 },
		{ AT_PHENT, e->phentsize },
		{ AT_PHNUM, e->phnum },
		{ AT_BASE, interp ? interp_bias + interp->elf.min_vaddr : 0 },
		{ AT_FLAGS, 0 },
		{ AT_ENTRY, e->entry + bias },
		{ AT_UID, c->ruid },
		{ AT_EUID, c->euid },
		{ AT_GID, c->rgid },
		{ AT_EGID, c->egid },
		{ AT_SECURE, 0 },
		{ AT_HWCAP2, getauxval(AT_HWCAP2) },
	};
	size_t naux = ARRAY_SIZE(aux);
	if (!plat_vdso_base())
		aux[0].type = AT_IGNORE;
	struct stack_image img;
	size_t max_strings = stack_size / 4;
	err = stack_build(mm->stack_top, argv, envp, execfn, rnd, aux, naux,
			  max_strings, &img);
	if (err < 0)
		return err;
	err = task_copy_out(t, img.sp, img.buf, img.len);
	uint64_t sp = img.sp;
	mm->arg_start = img.arg_start;
	mm->arg_end = img.arg_end;
	mm->env_start = img.env_start;
	mm->env_end = img.env_end;
	stack_image_free(&img);
	if (err < 0)
		return err;

	/* Registers as Linux's start_thread leaves them: all zero but rip, rsp,
	 * the segments and IF in eflags. */
	struct plat_regs *r = &t->regs;
	uint64_t cs = r->cs, ss = r->ss;
	memset(r, 0, sizeof(*r));
	r->cs = cs;
	r->ss = ss;
	r->rip = entry;
	r->rsp = sp;
	r->eflags = 0x200;
	t->regs_dirty = true;
	return 0;
}
