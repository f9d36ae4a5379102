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
#include "stack.h"

#define MAX_EXEC_SIZE (1ULL << 30)
#define ELF_ET_DYN_BASE 0x555555554000ULL
#define DEFAULT_STACK (8ULL << 20)

/* TEMPORARY (until the gofer and VFS land, issue 5): the sentry reads the
 * executable straight from a host path. This is the only place the sentry
 * names a host path on the workload's behalf. */
/* Recently executed files, kept read: a build runs the same compiler and
 * shell thousands of times. An entry is valid while the file's identity
 * (device, inode, size, modification time) is unchanged. */
#define EXEC_CACHE 8

struct exec_blob {
	atomic_int refs;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime_;
	uint8_t *data;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct exec_blob *cache[EXEC_CACHE]; /* most recent first */

static void blob_put(struct exec_blob *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
		free(b->data);
		free(b);
	}
}

static bool same_file(const struct exec_blob *b, const struct stat *st)
{
	return b->dev == st->st_dev && b->ino == st->st_ino &&
	       b->size == st->st_size &&
	       b->mtime.tv_sec == st->st_mtim.tv_sec &&
	       b->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       b->ctime_.tv_sec == st->st_ctim.tv_sec &&
	       b->ctime_.tv_nsec == st->st_ctim.tv_nsec;
}

static struct exec_blob *cache_get(const struct stat *st)
{
	struct exec_blob *b = NULL;
	pthread_mutex_lock(&cache_lock);
	for (int i = 0; i < EXEC_CACHE && cache[i]; i++)
		if (same_file(cache[i], st)) {
			b = cache[i];
			memmove(cache + 1, cache, (size_t)i * sizeof(cache[0]));
			cache[0] = b;
			atomic_fetch_add(&b->refs, 1);
			break;
		}
	pthread_mutex_unlock(&cache_lock);
	return b;
}

static void cache_add(struct exec_blob *b)
{
	atomic_fetch_add(&b->refs, 1);
	pthread_mutex_lock(&cache_lock);
	struct exec_blob *old = cache[EXEC_CACHE - 1];
	memmove(cache + 1, cache, (EXEC_CACHE - 1) * sizeof(cache[0]));
	cache[0] = b;
	pthread_mutex_unlock(&cache_lock);
	blob_put(old);
}

static struct exec_blob *read_blob(int fd, const struct stat *st, int *err)
{
	struct exec_blob *b = calloc(1, sizeof(*b));
	size_t len = (size_t)st->st_size;
	*err = -ENOMEM;
	if (!b || !(b->data = malloc(len ? len : 1))) {
		free(b);
		return NULL;
	}
	atomic_init(&b->refs, 1);
	for (size_t off = 0; off < len;) {
		ssize_t n = pread(fd, b->data + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err = n < 0 ? -errno : -EIO;
			blob_put(b);
			return NULL;
		}
		off += (size_t)n;
	}
	b->dev = st->st_dev;
	b->ino = st->st_ino;
	b->size = st->st_size;
	b->mtime = st->st_mtim;
	b->ctime_ = st->st_ctim;
	*err = 0;
	return b;
}

/* TEMPORARY (until the gofer and VFS land, issue 5): the sentry reads the
 * executable straight from a host path. This is the only place the sentry
 * names a host path on the workload's behalf. */
int exec_file_open(const char *path, struct exec_file *f)
{
	cleanup_close int fd = -1;
	struct stat st;
	int err;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EACCES;
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return -EACCES;
	if ((uint64_t)st.st_size > MAX_EXEC_SIZE)
		return -ENOEXEC;
	struct exec_blob *b = cache_get(&st);
	if (!b) {
		b = read_blob(fd, &st, &err);
		if (!b)
			return err;
		cache_add(b);
	}
	f->blob = b;
	f->data = b->data;
	f->len = (size_t)st.st_size;
	if (f->len >= 2 && f->data[0] == '#' && f->data[1] == '!') {
		f->script = true;
		return 0;
	}
	return elf_parse(f->data, f->len, &f->elf, &f->why);
}

int exec_interp_path(const struct exec_file *f, char *buf, size_t len)
{
	const struct elf_info *e = &f->elf;
	if (!e->has_interp || e->interp_len < 2 || e->interp_len > len ||
	    e->interp_offset > f->len || e->interp_len > f->len - e->interp_offset)
		return -ENOEXEC;
	memcpy(buf, f->data + e->interp_offset, e->interp_len);
	/* The path is NUL-terminated inside the segment, and only there. */
	if (buf[e->interp_len - 1] != '\0' ||
	    strlen(buf) != e->interp_len - 1)
		return -ENOEXEC;
	return 0;
}

void exec_file_close(struct exec_file *f)
{
	blob_put(f->blob);
	f->blob = NULL;
	f->data = NULL;
}

static uint64_t random_pages(uint64_t max_pages)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = 0;
	return (r % max_pages) * MM_PAGE;
}

static int load_segments(struct task *t, const struct elf_info *e,
			 const uint8_t *data, uint64_t bias)
{
	uint64_t mapped_end = 0;

	/* Map RW first (the sentry writes the contents), set final protections
	 * after; a page shared by two segments gets both protections. */
	for (int i = 0; i < e->nsegs; i++) {
		const struct elf_segment *s = &e->segs[i];
		uint64_t start = ALIGN_DOWN_PAGE(s->vaddr + bias);
		uint64_t end = ALIGN_UP_PAGE(s->vaddr + bias + s->memsz);
		if (start < mapped_end)
			start = mapped_end;
		if (start < end) {
			int err = mm_map_fixed(t, start, end,
					       PROT_READ | PROT_WRITE, NULL);
			if (err < 0)
				return err;
			mapped_end = end;
		}
		int err = task_copy_out(t, s->vaddr + bias, data + s->offset,
					s->filesz);
		if (err < 0)
			return err;
	}
	for (int i = 0; i < e->nsegs; i++) {
		const struct elf_segment *s = &e->segs[i];
		uint64_t start = ALIGN_DOWN_PAGE(s->vaddr + bias);
		uint64_t end = ALIGN_UP_PAGE(s->vaddr + bias + s->memsz);
		int prot = s->prot;
		if (i > 0) {
			const struct elf_segment *p = &e->segs[i - 1];
			uint64_t pend = ALIGN_UP_PAGE(p->vaddr + bias + p->memsz);
			if (pend > start) {
				long r = mm_mprotect(t, start, MM_PAGE,
						     prot | p->prot);
				if (r < 0)
					return (int)r;
				start += MM_PAGE;
			}
		}
		if (start < end) {
			long r = mm_mprotect(t, start, end - start, prot);
			if (r < 0)
				return (int)r;
		}
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
	err = mm_map_fixed(t, stack_lo, mm->stack_top, PROT_READ | PROT_WRITE,
			   "[stack]");
	if (err < 0)
		return err;
	/* mmap area below a gap of at least 128 MiB, 28 bits of randomness as
	 * on Linux. */
	uint64_t gap = stack_size < (128ULL << 20) ? (128ULL << 20) : stack_size;
	mm->mmap_base = ALIGN_DOWN_PAGE(stack_lo - gap - random_pages(1ULL << 28));

	if (e->type == ET_DYN)
		bias = ELF_ET_DYN_BASE + random_pages(1ULL << 16) - e->min_vaddr;
	if (mm_range_reserved(e->min_vaddr + bias, e->max_vaddr + bias))
		return -ENOMEM;
	err = load_segments(t, e, f->data, bias);
	if (err < 0)
		return err;
	mm->brk_start = mm->brk = e->max_vaddr + bias + random_pages(8192);

	/* The interpreter goes in the mmap area, as Linux maps it. */
	uint64_t entry = e->entry + bias;
	if (interp) {
		const struct elf_info *ie = &interp->elf;
		uint64_t span = ie->max_vaddr - ie->min_vaddr, base;
		if (ie->type != ET_DYN)
			return -ELIBBAD;
		err = mm_find_free(mm, span, mm->mmap_base, &base);
		if (err < 0)
			return err;
		interp_bias = base - ie->min_vaddr;
		err = load_segments(t, ie, interp->data, interp_bias);
		if (err < 0)
			return err;
		mm->mmap_base = base;
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
