#define _GNU_SOURCE
#include "mm.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "../../platform/platform.h"
#include "../../lib/log.h"

#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#include "../kernel/fdtable.h"
#include "../kernel/kernel.h"
#include "../vfs/vfs.h"

#define PROT_VALID (PROT_READ | PROT_WRITE | PROT_EXEC)

/* Object ids of shared memory (futex keys): anonymous shared regions
 * count up from 1; a file's mappings use its inode's address with the top
 * bit set, so every mapping of one file, in any process, has one id. */
static atomic_uint_fast64_t next_obj = 1;
#define FILE_OBJ(inode) ((uint64_t)(uintptr_t)(inode) | (1ULL << 63))

static void pend_clear(struct mm *mm);

struct mm *mm_new(struct plat_as *as)
{
	struct mm *mm = calloc(1, sizeof(struct mm));
	if (!mm)
		return NULL;
	atomic_init(&mm->users, 1);
	pthread_mutex_init(&mm->lock, NULL);
	mm->as = as;
	return mm;
}

struct mm *mm_ref(struct mm *mm)
{
	atomic_fetch_add(&mm->users, 1);
	return mm;
}

static void vma_free(struct vma *v)
{
	file_put(v->file);
	free(v);
}

static void vmas_free(struct vma *v)
{
	for (struct vma *n; v; v = n) {
		n = v->next;
		vma_free(v);
	}
}

void mm_put(const struct platform_ops *plat, struct mm *mm)
{
	struct plat_as *as;
	mm_put_keep_as(mm, &as);
	if (as)
		plat->as_destroy(as);
}

void mm_put_keep_as(struct mm *mm, struct plat_as **as)
{
	*as = NULL;
	if (!mm || atomic_fetch_sub(&mm->users, 1) != 1)
		return;
	*as = mm->as;
	pend_clear(mm); /* never carried out: the address space goes */
	free(mm->pend);
	vmas_free(mm->vmas);
	mm_set_exe(mm, NULL);
	pthread_mutex_destroy(&mm->lock);
	free(mm);
}

struct mm *mm_fork(struct mm *parent, struct plat_as *child_as)
{
	struct mm *mm = mm_new(child_as);
	if (!mm)
		return NULL;
	struct vma **tail = &mm->vmas;
	for (struct vma *v = parent->vmas; v; v = v->next) {
		if (v->dontcopy)
			continue; /* the host's child has nothing there either */
		struct vma *n = malloc(sizeof(*n));
		if (!n) {
			mm->as = NULL; /* the caller still owns it */
			mm_put(NULL, mm);
			return NULL;
		}
		*n = *v;
		n->next = NULL;
		if (n->file)
			file_ref(n->file);
		*tail = n;
		tail = &n->next;
	}
	mm->mmap_base = parent->mmap_base;
	mm->brk_start = parent->brk_start;
	mm->brk = parent->brk;
	mm->stack_top = parent->stack_top;
	mm->stack_bottom = parent->stack_bottom;
	mm_set_exe(mm, parent->exe);
	mm->arg_start = parent->arg_start;
	mm->arg_end = parent->arg_end;
	mm->env_start = parent->env_start;
	mm->env_end = parent->env_end;
	return mm;
}

void mm_set_exe(struct mm *mm, struct file *f)
{
	if (mm->exe) {
		vfs_allow_write(mm->exe);
		file_put(mm->exe);
	}
	mm->exe = NULL;
	/* The denial cannot fail: whoever hands f over holds one already
	 * (the exec, or the parent's mm). */
	if (f && vfs_deny_write(f) == 0)
		mm->exe = file_ref(f);
}

bool mm_range_reserved(uint64_t start, uint64_t end)
{
	const struct plat_range *r;
	int n = plat_reserved(&r);

	for (int i = 0; i < n; i++)
		if (start < r[i].end && r[i].start < end)
			return true;
	return false;
}

static bool overlaps_vma(struct mm *mm, uint64_t start, uint64_t end)
{
	for (struct vma *v = mm->vmas; v && v->start < end; v = v->next)
		if (v->end > start)
			return true;
	return false;
}

/* True if every byte of [start, end) is in some vma. */
static bool fully_mapped(struct mm *mm, uint64_t start, uint64_t end)
{
	uint64_t cur = start;
	for (struct vma *v = mm->vmas; v && cur < end; v = v->next) {
		if (v->end <= cur)
			continue;
		if (v->start > cur)
			return false;
		cur = v->end;
	}
	return cur >= end;
}

static bool pend_meets(struct mm *mm, uint64_t start, uint64_t end);

/* [start, end) lies in vmas with one of the protections need, carried out
 * on the host; anon: private anonymous ones, with nothing held back
 * there. false too if the mm's lock is busy (the caller's other way). */
static bool range_check_locked(struct mm *mm, uint64_t start, uint64_t end,
			       int need, bool anon)
{
	bool ok = start < end && !mm->host_stale &&
		  !(anon && pend_meets(mm, start, end));
	uint64_t at = start;
	for (struct vma *v = mm->vmas; ok && v && at < end; v = v->next) {
		if (v->end <= at)
			continue;
		if (v->start > at)
			break; /* a hole */
		if (!(v->prot & need) ||
		    (anon && (v->file || (v->flags & MAP_SHARED))))
			ok = false;
		at = v->end;
	}
	return ok && at >= end;
}

static bool range_check(struct mm *mm, uint64_t start, uint64_t end, int need,
			bool anon)
{
	if (pthread_mutex_trylock(&mm->lock) != 0)
		return false;
	bool ok = range_check_locked(mm, start, end, need, anon);
	pthread_mutex_unlock(&mm->lock);
	return ok;
}

/* Whether the host keeps execute-only memory unreadable (protection keys
 * enabled: Linux then gives PROT_EXEC alone an execute-only key). */
static bool host_pku(void)
{
	static int known = -1;
	if (known < 0) {
		unsigned a, b, c, d;
		known = __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
			(c & (1u << 4)); /* OSPKE */
	}
	return known;
}

int mm_copy_in_exec(struct task *t, void *dst, uint64_t src, size_t n)
{
	const struct platform_ops *p = t->k->plat;
	if (host_pku() || !p->copy_in_exec)
		return -EFAULT;
	/* Held across the read: /proc/PID/mem reads whatever is mapped,
	 * whatever its protection, so the check must still hold then. */
	struct mm *mm = t->mm;
	pthread_mutex_lock(&mm->lock);
	int err = -EFAULT;
	if (range_check_locked(mm, src, src + n,
			       PROT_READ | PROT_WRITE | PROT_EXEC, false))
		err = p->copy_in_exec(mm->as, dst, src, n);
	pthread_mutex_unlock(&mm->lock);
	return err < 0 ? -EFAULT : 0;
}

bool mm_range_mapped(struct mm *mm, uint64_t start, uint64_t end, bool write)
{
	/* Write implies read on x86. Execute-only memory, which x86 reads
	 * too, is left to the caller's usual way (which refuses it, as the
	 * host's process_vm_readv does). */
	return range_check(mm, start, end,
			   write ? PROT_WRITE : PROT_READ | PROT_WRITE, false);
}

static struct vma *vma_find(struct mm *mm, uint64_t addr)
{
	for (struct vma *v = mm->vmas; v && v->start <= addr; v = v->next)
		if (addr < v->end)
			return v;
	return NULL;
}

/* How much of [addr, addr + n) vmas cover from addr on, each with one of
 * the protections need (0: any, PROT_NONE included). */
static size_t prefix_covered(struct mm *mm, uint64_t addr, size_t n, int need)
{
	size_t ok = 0;
	pthread_mutex_lock(&mm->lock);
	for (struct vma *v = vma_find(mm, addr); v && ok < n; v = v->next) {
		if (v->start > addr + ok || (need && !(v->prot & need)))
			break;
		ok = v->end - addr < n ? v->end - addr : n;
	}
	pthread_mutex_unlock(&mm->lock);
	return ok;
}

size_t mm_usable_prefix(struct mm *mm, uint64_t addr, size_t n, bool write)
{
	/* x86 reads whatever it may write or execute (no pkeys here). */
	return prefix_covered(mm, addr, n,
			      write ? PROT_WRITE
				    : PROT_READ | PROT_WRITE | PROT_EXEC);
}

void mm_note_syscall(struct task *t)
{
	const struct platform_ops *p = t->k->plat;
	struct mm *mm = t->mm;
	uint64_t rip = t->regs.rip;

	if (!p->patch_syscall || !plat_syscall_patching() || !mm ||
	    p->patched_code(rip) || rip < 7)
		return;
	unsigned h = (unsigned)((rip * 0x9e3779b97f4a7c15ULL) >> 56);
	if (atomic_load(&mm->hot[h].rip) != rip) {
		atomic_store(&mm->hot[h].rip, rip);
		atomic_store(&mm->hot[h].count, 1);
		return;
	}
	if (atomic_fetch_add(&mm->hot[h].count, 1) + 1 != MM_PATCH_AFTER)
		return;
	struct timespec ta, tb;
	clock_gettime(CLOCK_MONOTONIC, &ta);
	pthread_mutex_lock(&mm->lock);
	struct vma *v = vma_find(mm, rip - 7);
	int err = -EINVAL;
	/* Only a program's or library's text: private (the pages are copied
	 * on the write, as for a debugger's breakpoint, and never reach the
	 * file or another process), from a file, not writable (code the
	 * workload generates or edits is its own business). */
	if (v && rip <= v->end && (v->prot & PROT_EXEC) &&
	    !(v->prot & PROT_WRITE) && v->file && !(v->flags & MAP_SHARED) &&
	    !mm_range_reserved(rip - 7, rip))
		err = p->patch_syscall(t->th, rip, t->regs.orig_rax,
				       atomic_load(&mm->users) == 1);
	pthread_mutex_unlock(&mm->lock);
	clock_gettime(CLOCK_MONOTONIC, &tb);
	long us = (tb.tv_sec - ta.tv_sec) * 1000000L +
		  (tb.tv_nsec - ta.tv_nsec) / 1000;
	log_debug("task %d: syscall site %#lx: %s (%ld us)", t->tid,
		  (unsigned long)(rip - 7), err ? strerror(-err) : "rewritten", us);
}

/* Splits the vma containing addr so that addr starts a vma. */
static int split_at(struct mm *mm, uint64_t addr)
{
	struct vma *v = vma_find(mm, addr);
	if (!v || v->start == addr)
		return 0;
	struct vma *n = malloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	*n = *v;
	n->start = addr;
	n->pgoff = v->pgoff + (addr - v->start);
	if (n->file)
		file_ref(n->file);
	v->end = addr;
	v->next = n;
	return 0;
}

static void merge_neighbours(struct mm *mm)
{
	for (struct vma *v = mm->vmas; v && v->next;) {
		struct vma *n = v->next;
		if (v->end == n->start && v->prot == n->prot &&
		    v->flags == n->flags && v->name == n->name &&
		    v->obj == n->obj && v->file == n->file &&
		    v->maxprot == n->maxprot && v->dontcopy == n->dontcopy &&
		    (!(v->obj || v->file) ||
		     v->pgoff + (v->end - v->start) == n->pgoff)) {
			v->end = n->end;
			v->next = n->next;
			vma_free(n);
			continue;
		}
		v = n;
	}
}

/* Marks [start, end)'s vmas MADV_DONTFORK (dc) or MADV_DOFORK. */
static int set_dontcopy(struct mm *mm, uint64_t start, uint64_t end, bool dc)
{
	int err = split_at(mm, start);
	if (!err)
		err = split_at(mm, end);
	if (err)
		return err;
	for (struct vma *v = mm->vmas; v && v->start < end; v = v->next)
		if (v->start >= start)
			v->dontcopy = dc;
	merge_neighbours(mm);
	return 0;
}

static int vma_remove(struct mm *mm, uint64_t start, uint64_t end)
{
	int err = split_at(mm, start);
	if (!err)
		err = split_at(mm, end);
	if (err)
		return err;
	for (struct vma **pp = &mm->vmas; *pp;) {
		struct vma *v = *pp;
		if (v->start >= start && v->end <= end) {
			*pp = v->next;
			vma_free(v);
			continue;
		}
		pp = &v->next;
	}
	return 0;
}

/* Maps [start, end) in the list, replacing what was there; file (may be
 * NULL) gets a reference of its own. */
static int vma_insert_max(struct mm *mm, uint64_t start, uint64_t end,
			  int prot, int flags, const char *name, uint64_t obj,
			  uint64_t pgoff, struct file *file, int maxprot);

static int vma_insert(struct mm *mm, uint64_t start, uint64_t end, int prot,
		      int flags, const char *name, uint64_t obj, uint64_t pgoff,
		      struct file *file)
{
	return vma_insert_max(mm, start, end, prot, flags, name, obj, pgoff,
			      file, PROT_VALID);
}

/* vma_insert with the protections mprotect may still grant. */
static int vma_insert_max(struct mm *mm, uint64_t start, uint64_t end,
			  int prot, int flags, const char *name, uint64_t obj,
			  uint64_t pgoff, struct file *file, int maxprot)
{
	int err = vma_remove(mm, start, end);
	if (err)
		return err;
	struct vma *n = malloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	*n = (struct vma){ start, end, prot, flags, name, obj, pgoff,
			   file ? file_ref(file) : NULL, NULL, maxprot };
	struct vma **pp = &mm->vmas;
	while (*pp && (*pp)->start < start)
		pp = &(*pp)->next;
	n->next = *pp;
	*pp = n;
	merge_neighbours(mm);
	return 0;
}

static bool range_free(struct mm *mm, uint64_t start, uint64_t end)
{
	return start >= MM_MIN_ADDR && end <= MM_TASK_SIZE && start < end &&
	       !overlaps_vma(mm, start, end) && !mm_range_reserved(start, end);
}

int mm_find_free(struct mm *mm, uint64_t len, uint64_t below_top,
		 uint64_t *out)
{
	const struct plat_range *res;
	int nres = plat_reserved(&res);
	uint64_t top = below_top;

	/* Top-down first fit: slide below whatever is in the way. */
	while (top >= MM_MIN_ADDR + len) {
		uint64_t start = top - len;
		uint64_t lowest_conflict = 0;
		bool conflict = false;
		for (struct vma *v = mm->vmas; v && v->start < top; v = v->next)
			if (v->end > start) {
				conflict = true;
				lowest_conflict = v->start;
				break;
			}
		for (int i = 0; i < nres; i++)
			if (res[i].start < top && res[i].end > start &&
			    (!conflict || res[i].start < lowest_conflict)) {
				conflict = true;
				lowest_conflict = res[i].start;
			}
		if (!conflict) {
			*out = start;
			return 0;
		}
		top = lowest_conflict & ~(MM_PAGE - 1);
	}
	return -ENOMEM;
}

/* ---- host requests held back ---------------------------------------------
 *
 * A dynamic loader maps a library as a whole file, read-only, then its
 * segments at fixed addresses inside that, an anonymous tail, maybe an
 * mprotect, and only then touches it: five hand-offs to the stub's
 * executor, 15-25 us each. On a platform whose batches any sentry thread
 * may ask for (platform_ops.lazy_maps), such a first mapping into a range
 * the host has nothing in (map_file_at says which) is held back instead,
 * and so is whatever follows inside such a range (mmap, mprotect,
 * munmap): the host has nothing there until they run, so an access by
 * the workload faults (mm_flush_fault runs them and the access is tried
 * again), and before the sentry reaches that memory itself (copies, a
 * pread into it, a fork) mm_flush runs them. Any other host call of the
 * mm runs them first, in the same batch. */
#define MM_PEND_MAX 16
#define MM_PEND_RANGES 8
struct mm_pend {
	int n;
	struct plat_sysreq req[MM_PEND_MAX];
	struct file *file; /* the file the held-back mappings map (a ref) */
	int fd; /* its host fd, the mm's own copy; -1 */
	/* The host mounts it noexec: nothing executable is held back, since
	 * the host refuses it (EPERM, EACCES) and the caller must see that. */
	bool noexec;
	/* The ranges of the held-back mmaps that began in empty space:
	 * every held-back request lies inside one of them. */
	int nranges;
	uint64_t lo[MM_PEND_RANGES], hi[MM_PEND_RANGES];
};

static void pend_clear(struct mm *mm)
{
	struct mm_pend *pd = mm->pend;
	if (!pd)
		return;
	if (pd->fd >= 0)
		close(pd->fd);
	if (pd->file)
		file_put(pd->file);
	pd->fd = -1;
	pd->file = NULL;
	pd->n = pd->nranges = 0;
	atomic_store(&mm->pending, 0);
}

/* [start, end) lies inside one held-back range. */
static bool pend_covers(struct mm *mm, uint64_t start, uint64_t end)
{
	struct mm_pend *pd = mm->pend;
	if (!pd || pd->n == 0)
		return false;
	for (int i = 0; i < pd->nranges; i++)
		if (start >= pd->lo[i] && end <= pd->hi[i])
			return true;
	return false;
}

static bool pend_meets(struct mm *mm, uint64_t start, uint64_t end)
{
	struct mm_pend *pd = mm->pend;
	if (!pd || pd->n == 0)
		return false;
	for (int i = 0; i < pd->nranges; i++)
		if (start < pd->hi[i] && pd->lo[i] < end)
			return true;
	return false;
}

bool mm_range_anon_writable(struct mm *mm, uint64_t start, uint64_t end)
{
	return range_check(mm, start, end, PROT_WRITE, true);
}

static bool host_noexec(int fd)
{
	struct statvfs sv;
	return fstatvfs(fd, &sv) != 0 || (sv.f_flag & ST_NOEXEC);
}

/* Holds q back: f and host_fd for a file mapping (else NULL, -1), and the
 * range it opens when it maps into empty space (lo == hi: none). Only what
 * the host cannot refuse is held back: private memory (a shared mapping's
 * host checks, such as a memfd's seals, must run now), and nothing
 * executable from a file the host mounts noexec. false if it cannot be
 * (room, another file, the platform): the caller runs it. */
static bool pend_add(struct task *t, const struct plat_sysreq *q,
		     struct file *f, int host_fd, uint64_t lo, uint64_t hi)
{
	uint64_t prot = q->args[2]; /* mmap's and mprotect's; munmap's 0 */
	if (q->nr == SYS_mmap && (q->args[3] & MAP_TYPE) != MAP_PRIVATE)
		return false;
	struct mm *mm = t->mm;
	if (!t->k->plat->lazy_maps || mm->host_stale)
		return false;
	if (!mm->pend) {
		mm->pend = calloc(1, sizeof(*mm->pend));
		if (!mm->pend)
			return false;
		mm->pend->fd = -1;
	}
	struct mm_pend *pd = mm->pend;
	if (pd->n >= MM_PEND_MAX || (lo < hi && pd->nranges >= MM_PEND_RANGES))
		return false;
	if (f && pd->file && pd->file != f)
		return false;
	if (f && !pd->file) /* nothing held back yet: noexec is free */
		pd->noexec = host_noexec(host_fd);
	if ((prot & PROT_EXEC) && (f || pd->file) && pd->noexec)
		return false;
	if (f && !pd->file) {
		int fd = fcntl(host_fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return false;
		pd->fd = fd;
		pd->file = file_ref(f);
	}
	pd->req[pd->n++] = *q;
	if (lo < hi) {
		pd->lo[pd->nranges] = lo;
		pd->hi[pd->nranges++] = hi;
	}
	atomic_store(&mm->pending, pd->n);
	return true;
}

/* Runs the held-back requests, then q (NULL: none) in the same batch;
 * host_fd (-1: none) is the fd q names, of the held-back mappings' file
 * if they have one. Returns q's result (0 without q), or -errno if the
 * batch could not run. A held-back request that fails is logged and its
 * range unmapped (below): an access there then faults. mm locked. */
static long host_batch(struct task *t, const struct plat_sysreq *q,
		       int host_fd)
{
	struct mm *mm = t->mm;
	struct mm_pend *pd = mm->pend;
	int np = pd ? pd->n : 0;
	struct plat_sysreq all[MM_PEND_MAX + 1];
	long r[MM_PEND_MAX + 1];

	if (np == 0 && !q)
		return 0;
	int fd = host_fd >= 0 ? host_fd : np ? pd->fd : -1;
	if (np)
		memcpy(all, pd->req, (size_t)np * sizeof(all[0]));
	if (q)
		all[np] = *q;
	int total = np + (q != NULL), at = 0, ret = 0, unmapped_at = -1;
	int held = np;
	while (at < total) {
		int ok = t->k->plat->batch(t->th, fd, all + at, total - at,
					   r + at);
		if (ok < 0) {
			ret = ok;
			break;
		}
		at += ok;
		if (at >= total || at >= np)
			break;
		log_warn("a held-back host mapping request (%ld at %#lx) "
			 "failed: %s", (long)all[at].nr,
			 (unsigned long)all[at].args[0], strerror((int)-r[at]));
		/* Its whole range goes instead, with what else is held back
		 * in it: an access there then faults, since the VMAs cannot
		 * say what the host has. (If that munmap fails too, on.) */
		if (at == unmapped_at || pd->nranges == 0) {
			at++;
			continue;
		}
		int k = 0;
		while (k < pd->nranges - 1 &&
		       !(all[at].args[0] >= pd->lo[k] &&
			 all[at].args[0] < pd->hi[k]))
			k++;
		uint64_t lo = pd->lo[k], hi = pd->hi[k];
		all[at] = (struct plat_sysreq){ SYS_munmap, { lo, hi - lo } };
		unmapped_at = at;
		int w = at + 1, gone = 0;
		for (int i = at + 1; i < total; i++) {
			if (i < np && all[i].args[0] >= lo && all[i].args[0] < hi) {
				gone++;
				continue;
			}
			all[w++] = all[i];
		}
		np -= gone;
		total -= gone;
	}
	pend_clear(mm);
	if (held)
		atomic_fetch_add(&mm->flushes, 1);
	if (ret < 0)
		return ret;
	return q ? r[np] : 0; /* q ran: its result, or its error */
}

/* One host call, after whatever was held back. */
static long host_call(struct task *t, long nr, uint64_t a0, uint64_t a1,
		      uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	if (!atomic_load(&t->mm->pending))
		return task_host_syscall(t, nr, a0, a1, a2, a3, a4, a5);
	struct plat_sysreq q = { nr, { a0, a1, a2, a3, a4, a5 } };
	return host_batch(t, &q, -1);
}

void mm_flush_locked(struct task *t)
{
	if (atomic_load(&t->mm->pending))
		host_batch(t, NULL, -1);
}

void mm_flush(struct task *t, uint64_t start, uint64_t end)
{
	struct mm *mm = t->mm;
	if (!mm || !atomic_load(&mm->pending))
		return;
	pthread_mutex_lock(&mm->lock);
	if (end == 0 || pend_meets(mm, start, end))
		mm_flush_locked(t);
	pthread_mutex_unlock(&mm->lock);
}

bool mm_flush_fault(struct task *t, uint64_t addr, unsigned seen)
{
	struct mm *mm = t->mm;
	if (!mm || (!atomic_load(&mm->pending) &&
		    atomic_load(&mm->flushes) == seen))
		return false;
	pthread_mutex_lock(&mm->lock);
	bool again = pend_meets(mm, addr, addr + 1);
	if (again)
		mm_flush_locked(t);
	/* Another thread's host call ran them between this fault and now:
	 * the memory may be there (if not, the access faults again, with
	 * nothing new to run). */
	else if (atomic_load(&mm->flushes) != seen && vma_find(mm, addr))
		again = true;
	pthread_mutex_unlock(&mm->lock);
	return again;
}

static long host_mmap_fixed(struct task *t, uint64_t start, uint64_t len,
			    int prot, int flags)
{
	struct plat_sysreq q = {
		SYS_mmap, { start, len, (uint64_t)prot,
			    (uint64_t)(flags | MAP_FIXED), (uint64_t)-1, 0 } };
	/* Anonymous memory inside a held-back file mapping (a bss). */
	if (!(flags & MAP_POPULATE) && pend_covers(t->mm, start, start + len) &&
	    pend_add(t, &q, NULL, -1, 0, 0))
		return (long)start;
	long r = host_call(t, SYS_mmap, start, len, (uint64_t)prot,
			   (uint64_t)(flags | MAP_FIXED), (uint64_t)-1, 0);
	if (r >= 0 && (uint64_t)r != start)
		return -EIO; /* the stub disobeyed MAP_FIXED: cannot happen */
	return r;
}

static int do_map_fixed(struct task *t, uint64_t start, uint64_t end, int prot,
		 const char *name)
{
	if (start < MM_MIN_ADDR || end > MM_TASK_SIZE ||
	    mm_range_reserved(start, end))
		return -ENOMEM;
	long r = host_mmap_fixed(t, start, end - start, prot,
				 MAP_PRIVATE | MAP_ANONYMOUS);
	if (r < 0)
		return (int)r;
	return vma_insert(t->mm, start, end, prot, MAP_PRIVATE | MAP_ANONYMOUS,
			  name, 0, 0, NULL);
}

/* Flags passed on to the host as they are; everything else the sentry
 * interprets or ignores (MAP_GROWSDOWN becomes a plain mapping, MAP_LOCKED
 * and MAP_HUGETLB are not supported: see the syscall table). */
#define MAP_PASS (MAP_NORESERVE | MAP_POPULATE | MAP_STACK)

/* The checks Linux's do_mmap makes of a file mapping; returns the
 * protections the mapping may ever have, or -errno. */
static int file_maxprot(struct file *f, int type, int prot)
{
	int max = PROT_VALID;
	if (!(f->mode & FMODE_READ) || (f->mode & FMODE_PATH))
		return -EACCES;
	if (type != MAP_PRIVATE) {
		if (!(f->mode & FMODE_WRITE)) {
			if (prot & PROT_WRITE)
				return -EACCES;
			max &= ~PROT_WRITE;
		}
	}
	if (f->mnt && (f->mnt->flags & VFS_MNT_NOEXEC)) {
		if (prot & PROT_EXEC)
			return -EPERM;
		max &= ~PROT_EXEC;
	}
	return max;
}

/* Maps host_fd (f's data) at start in the stub and records the vma.
 * may_hold: the mapping may open a range held back. Only a loader's first
 * mapping of a library is worth it: glibc's passes MAP_DENYWRITE (which
 * Linux ignores), and its segments follow at fixed addresses inside it
 * before anything touches it. Any other file mapping is touched first, as
 * a rule (ld.so.cache, a data file), and its fault would cost more than
 * the hand-off saved. Mappings inside a held-back range are always held. */
static long map_file_at(struct task *t, uint64_t start, uint64_t len, int prot,
			int flags, struct file *f, int host_fd, uint64_t off,
			int maxprot, bool may_hold)
{
	struct mm *mm = t->mm;
	int type = flags & MAP_TYPE;
	struct plat_sysreq q = {
		SYS_mmap, { start, len, (uint64_t)prot,
			    (uint64_t)(type | (flags & MAP_PASS) | MAP_FIXED),
			    PLAT_FDPASS_RECV_FD, off } };
	/* One file's fd per batch: another file's held-back requests (the
	 * last library's) go first. */
	if (mm->pend && mm->pend->file && mm->pend->file != f)
		mm_flush_locked(t);
	bool inside = pend_covers(mm, start, start + len);
	bool held = !(flags & MAP_POPULATE) &&
		    (inside ||
		     (may_hold && !overlaps_vma(mm, start, start + len))) &&
		    pend_add(t, &q, f, host_fd, inside ? 0 : start,
			     inside ? 0 : start + len);
	/* A writable file mapping is written at once, as a rule (a
	 * library's data: the loader zeroes the end of its last page), so
	 * the batch runs now, in this hand-off, rather than in a fault's. */
	if (held && (prot & PROT_WRITE))
		mm_flush_locked(t);
	long r = held ? (long)start
	       : atomic_load(&mm->pending)
		       ? host_batch(t, &q, host_fd)
		       : plat_map_fd(t->k->plat, t->th, host_fd, start, len, prot,
				     type | (flags & MAP_PASS) | MAP_FIXED, off);
	if (r < 0)
		return r;
	if ((uint64_t)r != start)
		return -EIO; /* the stub disobeyed MAP_FIXED: cannot happen */
	uint64_t obj = type == MAP_SHARED ? FILE_OBJ(f->inode ? (void *)f->inode
							      : (void *)f)
					  : 0;
	int err = vma_insert_max(t->mm, start, start + len, prot, type, NULL,
				 obj, off, f, maxprot);
	if (err)
		return err;
	return (long)start;
}

/* f and host_fd: the file of a file mapping and an fd the host can map
 * (both NULL/-1 for anonymous memory). */
static long do_mmap(struct task *t, uint64_t addr, uint64_t len, int prot,
		    int flags, struct file *f, int host_fd, uint64_t off)
{
	struct mm *mm = t->mm;
	int type = flags & MAP_TYPE;
	int maxprot = PROT_VALID;
	uint64_t start;

	if (len == 0)
		return -EINVAL;
	if (type != MAP_PRIVATE && type != MAP_SHARED &&
	    type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	if (off & (MM_PAGE - 1))
		return -EINVAL;
	if (len > MM_TASK_SIZE)
		return -ENOMEM;
	len = ALIGN_UP_PAGE(len);
	if (prot & ~PROT_VALID)
		return -EINVAL;
	if (flags & (MAP_HUGETLB | MAP_LOCKED))
		return -EINVAL;
	if (type == MAP_SHARED_VALIDATE)
		type = MAP_SHARED;
	if (f) {
		/* Linux's file_mmap_ok: a regular file's pages end at
		 * MAX_LFS_FILESIZE (the host's check, made here since the
		 * host may see the request only later: held back). */
		if (off + len < off ||
		    (f->inode && S_ISREG(f->inode->type) &&
		     off > (uint64_t)INT64_MAX - len))
			return -EOVERFLOW;
		maxprot = file_maxprot(f, type, prot);
		if (maxprot < 0)
			return maxprot;
		if (host_fd < 0)
			return host_fd == -EBADF ? -ENODEV : host_fd;
	}

	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (addr & (MM_PAGE - 1))
			return -EINVAL;
		if (addr < MM_MIN_ADDR)
			return -EPERM;
		if (addr > MM_TASK_SIZE - len)
			return -ENOMEM;
		/* A NOREPLACE range that meets one of the workload's own
		 * mappings is EEXIST, as on Linux, even if it also reaches a
		 * range the sandbox keeps for itself (stub, vDSO, the
		 * sentry's arena): those alone are ENOMEM, no room there. */
		if ((flags & MAP_FIXED_NOREPLACE) &&
		    overlaps_vma(mm, addr, addr + len))
			return -EEXIST;
		if (mm_range_reserved(addr, addr + len))
			return -ENOMEM;
		start = addr;
	} else {
		uint64_t hint = ALIGN_DOWN_PAGE(addr);
		uint64_t top = (flags & MAP_32BIT) ? 0x80000000ULL
						   : mm->mmap_base;
		if (hint && range_free(mm, hint, hint + len) &&
		    hint + len <= MM_TASK_SIZE)
			start = hint;
		else if (mm_find_free(mm, len, top, &start) < 0)
			return -ENOMEM;
	}
	if (f)
		return map_file_at(t, start, len, prot, type | (flags & MAP_PASS),
				   f, host_fd, off, maxprot,
				   (flags & MAP_DENYWRITE) != 0);
	long r = host_mmap_fixed(t, start, len, prot,
				 type | MAP_ANONYMOUS | (flags & MAP_PASS));
	if (r < 0)
		return r;
	uint64_t obj = type == MAP_SHARED ? atomic_fetch_add(&next_obj, 1) : 0;
	int err = vma_insert(mm, start, start + len, prot,
			     type | MAP_ANONYMOUS, NULL, obj, 0, NULL);
	if (err)
		return err;
	return (long)start;
}

static long do_munmap(struct task *t, uint64_t addr, uint64_t len)
{
	if ((addr & (MM_PAGE - 1)) || len == 0)
		return -EINVAL;
	len = ALIGN_UP_PAGE(len);
	if (addr >= MM_TASK_SIZE || len > MM_TASK_SIZE - addr)
		return -EINVAL;
	if (mm_range_reserved(addr, addr + len))
		return -EINVAL;
	struct plat_sysreq q = { SYS_munmap, { addr, len, 0, 0, 0, 0 } };
	long r = 0;
	if (!(pend_covers(t->mm, addr, addr + len) &&
	      pend_add(t, &q, NULL, -1, 0, 0)))
		r = host_call(t, SYS_munmap, addr, len, 0, 0, 0, 0);
	if (r < 0)
		return r;
	return vma_remove(t->mm, addr, addr + len);
}

/* The workload's stores into a shared file mapping go straight into the
 * host's page cache, which the file's readers (the gofer's fds, a memfd)
 * share: msync only has durability to add, so MS_SYNC syncs the files,
 * each once, after the mm is unlocked (a gofer file's fsync is a round
 * trip). *files gets a malloc'd array of references (*nfiles of them). */
static long do_msync(struct task *t, uint64_t addr, uint64_t len, int flags,
		     struct file ***files, int *nfiles)
{
	struct mm *mm = t->mm;

	*files = NULL;
	*nfiles = 0;
	if (addr & (MM_PAGE - 1))
		return -EINVAL;
	if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC))
		return -EINVAL;
	if ((flags & MS_ASYNC) && (flags & MS_SYNC))
		return -EINVAL;
	len = ALIGN_UP_PAGE(len);
	if (addr + len < addr)
		return -ENOMEM;
	if (len == 0)
		return 0;
	bool gap = !fully_mapped(mm, addr, addr + len);
	if (!(flags & MS_SYNC))
		return gap ? -ENOMEM : 0;
	int cap = 0;
	for (struct vma *v = mm->vmas; v && v->start < addr + len; v = v->next) {
		if (v->end <= addr || !v->file ||
		    (v->flags & MAP_TYPE) != MAP_SHARED || !v->file->ops->fsync)
			continue;
		bool seen = false;
		for (int i = 0; i < *nfiles && !seen; i++)
			seen = (*files)[i] == v->file;
		if (seen)
			continue;
		if (*nfiles == cap) {
			cap = cap ? cap * 2 : 4;
			struct file **n = realloc(*files, (size_t)cap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			*files = n;
		}
		(*files)[(*nfiles)++] = file_ref(v->file);
	}
	return gap ? -ENOMEM : 0;
}

static long do_mprotect(struct task *t, uint64_t addr, uint64_t len, int prot)
{
	struct mm *mm = t->mm;

	if (addr & (MM_PAGE - 1))
		return -EINVAL;
	if (prot & ~(PROT_VALID | PROT_GROWSDOWN | PROT_GROWSUP))
		return -EINVAL;
	if ((prot & PROT_GROWSDOWN) && (prot & PROT_GROWSUP))
		return -EINVAL;
	prot &= PROT_VALID;
	if (len == 0)
		return 0;
	len = ALIGN_UP_PAGE(len);
	if (len == 0 || addr + len < addr)
		return -ENOMEM;
	if (!fully_mapped(mm, addr, addr + len))
		return -ENOMEM;
	for (struct vma *v = vma_find(mm, addr); v && v->start < addr + len;
	     v = v->next)
		if (prot & ~v->maxprot)
			return -EACCES;
	struct plat_sysreq q = { SYS_mprotect, { addr, len, (uint64_t)prot } };
	long r = 0;
	if (!(pend_covers(mm, addr, addr + len) &&
	      pend_add(t, &q, NULL, -1, 0, 0)))
		r = host_call(t, SYS_mprotect, addr, len, (uint64_t)prot, 0, 0,
			      0);
	if (r < 0)
		return r;
	int err = split_at(mm, addr);
	if (!err)
		err = split_at(mm, addr + len);
	if (err)
		return err;
	for (struct vma *v = mm->vmas; v && v->start < addr + len; v = v->next)
		if (v->start >= addr)
			v->prot = prot;
	merge_neighbours(mm);
	return 0;
}

static long do_mremap_file(struct task *t, uint64_t old, uint64_t oldlen,
			   uint64_t newlen, int flags, uint64_t newaddr,
			   struct vma *v);

/* The host moved [old, old + len) to new: rewritten system call sites in
 * it (systrap) must now return to their new place. */
static void moved(struct task *t, uint64_t old, uint64_t len, uint64_t new)
{
	if (t->k->plat->sites_moved && old != new)
		t->k->plat->sites_moved(t->mm->as, old, len, new);
}

static long do_mremap(struct task *t, uint64_t old, uint64_t oldlen, uint64_t newlen,
	       int flags, uint64_t newaddr)
{
	struct vma *v = vma_find(t->mm, old);
	/* The vma may go away below: the file stays referenced throughout. */
	struct file *f = v && v->file ? file_ref(v->file) : NULL;
	long r = do_mremap_file(t, old, oldlen, newlen, flags, newaddr, v);
	file_put(f);
	return r;
}

static long do_mremap_file(struct task *t, uint64_t old, uint64_t oldlen,
			   uint64_t newlen, int flags, uint64_t newaddr,
			   struct vma *v)
{
	struct mm *mm = t->mm;
	long r;

	if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP))
		return -EINVAL;
	if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
		return -EINVAL;
	if (flags & MREMAP_DONTUNMAP)
		return -EINVAL; /* partial: see the syscall table */
	if (old & (MM_PAGE - 1))
		return -EINVAL;
	oldlen = ALIGN_UP_PAGE(oldlen);
	newlen = ALIGN_UP_PAGE(newlen);
	if (newlen == 0 || newlen > MM_TASK_SIZE)
		return -EINVAL;
	if (oldlen == 0)
		return -EINVAL; /* duplicating a shared mapping: not supported */
	if (!v || old + oldlen > v->end || old + oldlen < old)
		return -EFAULT;
	int prot = v->prot, vflags = v->flags;
	const char *name = v->name;
	uint64_t obj = v->obj, pgoff = v->pgoff + (old - v->start);
	struct file *file = v->file;
	int maxprot = v->maxprot;
	bool dc = v->dontcopy;

	if (flags & MREMAP_FIXED) {
		if (newaddr & (MM_PAGE - 1))
			return -EINVAL;
		if (newaddr < MM_MIN_ADDR || newaddr > MM_TASK_SIZE - newlen ||
		    mm_range_reserved(newaddr, newaddr + newlen))
			return -EINVAL;
		if (newaddr < old + oldlen && old < newaddr + newlen)
			return -EINVAL;
		r = host_call(t, SYS_mremap, old, oldlen, newlen,
				      MREMAP_MAYMOVE | MREMAP_FIXED, newaddr, 0);
		if (r < 0)
			return r;
		moved(t, old, oldlen, newaddr);
		int err = vma_remove(mm, old, old + oldlen);
		if (!err)
			err = vma_insert_max(mm, newaddr, newaddr + newlen, prot,
					 vflags, name, obj, pgoff, file, maxprot);
		if (!err && dc)
			err = set_dontcopy(mm, newaddr, newaddr + newlen, true);
		return err ? err : (long)newaddr;
	}
	if (newlen <= oldlen) {
		if (newlen < oldlen) {
			r = do_munmap(t, old + newlen, oldlen - newlen);
			if (r < 0)
				return r;
		}
		return (long)old;
	}
	/* Growing: in place if the pages after the mapping are free. */
	if (old + newlen > old && range_free(mm, old + oldlen, old + newlen)) {
		r = host_call(t, SYS_mremap, old, oldlen, newlen, 0, 0,
				      0);
		if (r < 0)
			return r;
		int err = vma_insert_max(mm, old, old + newlen, prot, vflags,
					 name, obj, pgoff, file, maxprot);
		if (!err && dc)
			err = set_dontcopy(mm, old, old + newlen, true);
		return err ? err : (long)old;
	}
	if (!(flags & MREMAP_MAYMOVE))
		return -ENOMEM;
	uint64_t dest;
	if (mm_find_free(mm, newlen, mm->mmap_base, &dest) < 0)
		return -ENOMEM;
	r = host_call(t, SYS_mremap, old, oldlen, newlen,
			      MREMAP_MAYMOVE | MREMAP_FIXED, dest, 0);
	if (r < 0)
		return r;
	moved(t, old, oldlen, dest);
	int err = vma_remove(mm, old, old + oldlen);
	if (!err)
		err = vma_insert_max(mm, dest, dest + newlen, prot, vflags,
				     name, obj, pgoff, file, maxprot);
	if (!err && dc)
		err = set_dontcopy(mm, dest, dest + newlen, true);
	return err ? err : (long)dest;
}

static long do_madvise(struct task *t, uint64_t addr, uint64_t len, int advice)
{
	switch (advice) {
	/* Advice that only concerns the workload's own anonymous pages. */
	case MADV_NORMAL:
	case MADV_RANDOM:
	case MADV_SEQUENTIAL:
	case MADV_WILLNEED:
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_DONTFORK:
	case MADV_DOFORK:
	case MADV_MERGEABLE:
	case MADV_UNMERGEABLE:
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
	case MADV_DONTDUMP:
	case MADV_DODUMP:
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
	case MADV_COLD:
	case MADV_PAGEOUT:
	case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE:
		break;
	case MADV_HWPOISON:
	case MADV_SOFT_OFFLINE:
		return -EPERM; /* would act on host pages: never */
	default:
		return -EINVAL;
	}
	if (addr & (MM_PAGE - 1))
		return -EINVAL;
	if (len == 0)
		return 0;
	len = ALIGN_UP_PAGE(len);
	if (len == 0 || addr + len < addr)
		return -EINVAL;
	if (mm_range_reserved(addr, addr + len))
		return -ENOMEM;
	long r = host_call(t, SYS_madvise, addr, len, (uint64_t)advice,
				   0, 0, 0);
	if (r < 0)
		return r;
	/* What the host's fork will leave out, the sentry's must too. */
	if (advice == MADV_DONTFORK || advice == MADV_DOFORK) {
		int err = set_dontcopy(t->mm, addr, addr + len,
				       advice == MADV_DONTFORK);
		if (err)
			return err;
	}
	return fully_mapped(t->mm, addr, addr + len) ? 0 : -ENOMEM;
}

static long do_brk(struct task *t, uint64_t addr)
{
	struct mm *mm = t->mm;
	uint64_t oldend = ALIGN_UP_PAGE(mm->brk);
	uint64_t newend = ALIGN_UP_PAGE(addr);
	uint64_t data_limit = task_rlimit_cur(t, RLIMIT_DATA);

	/* brk returns the new break, or the old one when it cannot move. */
	if (addr < mm->brk_start || addr > MM_TASK_SIZE)
		return (long)mm->brk;
	if (data_limit != RLIM_INFINITY && addr - mm->brk_start > data_limit)
		return (long)mm->brk;
	if (newend > oldend) {
		if (!range_free(mm, oldend, newend))
			return (long)mm->brk;
		if (do_map_fixed(t, oldend, newend, PROT_READ | PROT_WRITE,
				 "[heap]") < 0)
			return (long)mm->brk;
	} else if (newend < oldend) {
		if (do_munmap(t, newend, oldend - newend) < 0)
			return (long)mm->brk;
	}
	mm->brk = addr;
	return (long)addr;
}

/* The system call entry points: each holds the mm's lock across its host
 * calls, so threads sharing the mm see one map. */
#define LOCKED(call)                                                           \
	({                                                                     \
		pthread_mutex_lock(&t->mm->lock);                              \
		long r_ = (call);                                              \
		pthread_mutex_unlock(&t->mm->lock);                            \
		r_;                                                            \
	})

long mm_mmap(struct task *t, uint64_t addr, uint64_t len, int prot, int flags,
	     int fd, uint64_t off)
{
	if (flags & MAP_ANONYMOUS)
		return LOCKED(do_mmap(t, addr, len, prot, flags, NULL, -1, off));
	/* The file and its host fd are found before the mm is locked: the
	 * gofer may be asked for the fd. */
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	if (f->mode & FMODE_PATH) {
		file_put(f);
		return -EBADF;
	}
	if (f->ops->mmap_anon && !(f->mode & FMODE_PATH)) {
		int err = file_maxprot(f, flags & MAP_TYPE, prot);
		file_put(f);
		if (err < 0)
			return err;
		return LOCKED(do_mmap(t, addr, len, prot, flags | MAP_ANONYMOUS,
				      NULL, -1, 0));
	}
	int host_fd = (f->mode & FMODE_PATH) ? -EBADF : file_mmap_fd(f);
	long r = LOCKED(do_mmap(t, addr, len, prot, flags, f, host_fd, off));
	if (host_fd >= 0)
		close(host_fd);
	file_put(f);
	return r;
}

/* munmap calls over the gaps between the reserved ranges, into req (room
 * for MM_RESET_MAX); how many. */
#define MM_RESET_MAX 9
static int reset_reqs(struct plat_sysreq *req)
{
	const struct plat_range *res;
	struct plat_range gaps[MM_RESET_MAX];
	int n = plat_reserved(&res);
	if (n > MM_RESET_MAX - 1)
		n = MM_RESET_MAX - 1; /* never: the platforms have 4 at most */
	int k = plat_gaps(res, n, MM_TASK_SIZE, gaps);
	for (int i = 0; i < k; i++)
		req[i] = (struct plat_sysreq){
			SYS_munmap,
			{ gaps[i].start, gaps[i].end - gaps[i].start, 0, 0, 0, 0 } };
	return k;
}

int mm_host_reset(struct task *t)
{
	struct plat_sysreq req[MM_RESET_MAX];
	long ret[MM_RESET_MAX];
	if (!t->mm->host_stale)
		return 0;
	mm_flush(t, 0, 0);
	int k = reset_reqs(req);
	int ok = t->k->plat->batch(t->th, -1, req, k, ret);
	if (ok < 0)
		return ok;
	if (ok < k)
		return ret[ok] < 0 ? (int)ret[ok] : -EIO;
	t->mm->host_stale = false;
	return 0;
}

/* One file's part of a load (a program, its interpreter): its segments and
 * what load_check found. */
struct load_group {
	struct file *f; /* NULL: anonymous segments only */
	const struct mm_seg *segs;
	int n;
	int host_fd; /* ours, -1: none */
	uint64_t fd_at; /* host_fd's number in the stub during the batch */
	int mprot[MM_LOAD_MAX], maxprot[MM_LOAD_MAX];
};

/* The checks of g's segments, and its file's host fd. */
static int load_check(struct load_group *g)
{
	bool any_file = false;

	if (g->n < 0 || g->n > MM_LOAD_MAX)
		return -ENODEV;
	for (int i = 0; i < g->n; i++) {
		const struct mm_seg *s = &g->segs[i];
		if (s->start < MM_MIN_ADDR || s->end > MM_TASK_SIZE ||
		    s->start > s->file_end || s->file_end > s->end ||
		    ((s->start | s->file_end | s->end | s->off) &
		     (MM_PAGE - 1)) ||
		    mm_range_reserved(s->start, s->end))
			return -ENOMEM;
		bool zero = s->zero_from < s->file_end &&
			    s->zero_from >= s->start;
		g->mprot[i] = s->prot | (zero ? PROT_WRITE : 0);
		g->maxprot[i] = PROT_VALID;
		if (s->file_end > s->start) {
			if (!g->f)
				return -EINVAL;
			any_file = true;
			g->maxprot[i] = file_maxprot(g->f, MAP_PRIVATE, s->prot);
			if (g->maxprot[i] < 0)
				return g->maxprot[i];
		}
	}
	if (!any_file) {
		g->f = NULL;
		return 0;
	}
	g->host_fd = file_mmap_fd(g->f);
	return g->host_fd < 0 ? g->host_fd : 0;
}

/* Maps the groups in one hand-off (two files: platform_ops.batch2). An
 * exec in place puts its unmapping of the old image in front of the new
 * one's mappings: one hand-off to the stub's executor instead of two (the
 * first alone had been some 100 us of each fork+exec). mm locked. */
static long do_load(struct task *t, struct load_group *gs, int ng)
{
	struct plat_sysreq req[PLAT_BATCH_MAX];
	long ret[PLAT_BATCH_MAX];
	_Static_assert(2 * MM_LOAD_MAX + MM_RESET_MAX <= PLAT_BATCH_MAX,
		       "a load fits one batch");
	int k = 0, nreset = 0, fds[2], nfd = 0;
	for (int j = 0; j < ng; j++)
		if (gs[j].host_fd >= 0) {
			gs[j].fd_at = nfd ? PLAT_FDPASS_RECV_FD2
					  : PLAT_FDPASS_RECV_FD;
			fds[nfd++] = gs[j].host_fd;
		}
	int max = nfd == 2 ? PLAT_BATCH2_MAX : PLAT_BATCH_MAX;

	if (t->mm->host_stale)
		k = nreset = reset_reqs(req);
	for (int j = 0; j < ng; j++) {
		struct load_group *g = &gs[j];
		for (int i = 0; i < g->n; i++) {
			const struct mm_seg *s = &g->segs[i];
			if (k + 2 > max)
				return -E2BIG; /* mm_load_pair checked: never */
			if (s->file_end > s->start)
				req[k++] = (struct plat_sysreq){
					SYS_mmap,
					{ s->start, s->file_end - s->start,
					  (uint64_t)g->mprot[i],
					  MAP_PRIVATE | MAP_FIXED, g->fd_at,
					  s->off } };
			if (s->end > s->file_end)
				req[k++] = (struct plat_sysreq){
					SYS_mmap,
					{ s->file_end, s->end - s->file_end,
					  (uint64_t)s->prot,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
					  (uint64_t)-1, 0 } };
		}
	}
	mm_flush_locked(t);
	int ok = nfd == 2 ? t->k->plat->batch2(t->th, fds[0], fds[1], req, k,
					       ret)
			  : t->k->plat->batch(t->th, nfd ? fds[0] : -1, req, k,
					      ret);
	if (ok < 0)
		return ok; /* -ENOTSUP: batch2 ran nothing (the caller retries) */
	/* A host error once calls have run: never one that means "nothing
	 * done, try the other way" to the loader. */
	if (ok < k)
		return ret[ok] < 0 && ret[ok] != -ENODEV && ret[ok] != -ENOTSUP
			       ? ret[ok]
			       : -EIO;
	t->mm->host_stale = false;
	for (int i = nreset; i < k; i++)
		if ((uint64_t)ret[i] != req[i].args[0])
			return -EIO; /* the stub disobeyed MAP_FIXED */
	for (int j = 0; j < ng; j++) {
		struct load_group *g = &gs[j];
		for (int i = 0; i < g->n; i++) {
			const struct mm_seg *s = &g->segs[i];
			int err = 0;
			if (s->file_end > s->start)
				err = vma_insert_max(t->mm, s->start, s->file_end,
						     g->mprot[i], MAP_PRIVATE,
						     NULL, 0, s->off, g->f,
						     g->maxprot[i]);
			if (!err && s->end > s->file_end)
				err = vma_insert(t->mm, s->file_end, s->end,
						 s->prot,
						 MAP_PRIVATE | MAP_ANONYMOUS,
						 s->name, 0, 0, NULL);
			if (err)
				return err;
		}
	}
	merge_neighbours(t->mm);
	return 0;
}

/* The bss's share of each last file page, then its final protection if
 * that page was made writable only for this. */
static int load_finish(struct task *t, const struct load_group *g)
{
	static const uint8_t zeros[MM_PAGE];
	for (int i = 0; i < g->n; i++) {
		const struct mm_seg *s = &g->segs[i];
		if (g->mprot[i] == s->prot && !(s->zero_from < s->file_end &&
						s->zero_from >= s->start))
			continue;
		int r = task_copy_out(t, s->zero_from, zeros,
				      s->file_end - s->zero_from);
		if (r == 0 && g->mprot[i] != s->prot)
			r = (int)mm_mprotect(t, s->start,
					     s->file_end - s->start, s->prot);
		if (r < 0)
			return r;
	}
	return 0;
}

static int load_groups(struct task *t, struct load_group *gs, int ng)
{
	int err = 0;
	for (int j = 0; j < ng; j++)
		gs[j].host_fd = -1; /* closed below, checked or not */
	for (int j = 0; j < ng && !err; j++)
		err = load_check(&gs[j]);
	long r = err ? err : LOCKED(do_load(t, gs, ng));
	for (int j = 0; j < ng; j++)
		if (gs[j].host_fd >= 0)
			close(gs[j].host_fd);
	for (int j = 0; r == 0 && j < ng; j++)
		r = load_finish(t, &gs[j]);
	return (int)r;
}

int mm_load_segments(struct task *t, struct file *f, const struct mm_seg *segs,
		     int n)
{
	if (!t->k->plat->batch)
		return -ENODEV;
	struct load_group g = { .f = f, .segs = segs, .n = n };
	return load_groups(t, &g, 1);
}

int mm_load_pair(struct task *t, struct file *fa, const struct mm_seg *sa,
		 int na, struct file *fb, const struct mm_seg *sb, int nb)
{
	if (!t->k->plat->batch || !t->k->plat->batch2)
		return -ENOTSUP;
	/* Room for both (each segment may take two calls, the reset its
	 * gaps) beside the platform's own calls for two fds. */
	if (na < 0 || nb < 0 || 2 * (na + nb) + MM_RESET_MAX > PLAT_BATCH2_MAX)
		return -ENOTSUP;
	struct load_group g[2] = { { .f = fa, .segs = sa, .n = na },
				   { .f = fb, .segs = sb, .n = nb } };
	return load_groups(t, g, 2);
}

int mm_map_file_fixed(struct task *t, uint64_t start, uint64_t len, int prot,
		      struct file *f, uint64_t off)
{
	if (start < MM_MIN_ADDR || start + len > MM_TASK_SIZE ||
	    start + len < start || mm_range_reserved(start, start + len))
		return -ENOMEM;
	int host_fd = file_mmap_fd(f);
	if (host_fd < 0)
		return host_fd;
	int maxprot = file_maxprot(f, MAP_PRIVATE, prot);
	long r = maxprot < 0 ? maxprot
			     : LOCKED(map_file_at(t, start, len, prot,
						  MAP_PRIVATE, f, host_fd, off,
						  maxprot, false));
	close(host_fd);
	return r < 0 ? (int)r : 0;
}

long mm_munmap(struct task *t, uint64_t addr, uint64_t len)
{
	return LOCKED(do_munmap(t, addr, len));
}

static long do_mlock(struct task *t, uint64_t addr, uint64_t len)
{
	uint64_t start = ALIGN_DOWN_PAGE(addr);
	uint64_t end = ALIGN_UP_PAGE(addr + len);
	if (addr + len < addr || end < start)
		return -EINVAL;
	if (start == end)
		return 0;
	return fully_mapped(t->mm, start, end) ? 0 : -ENOMEM;
}

long mm_mlock(struct task *t, uint64_t addr, uint64_t len)
{
	return LOCKED(do_mlock(t, addr, len));
}

long mm_msync(struct task *t, uint64_t addr, uint64_t len, int flags)
{
	struct file **files;
	int n;
	long r = LOCKED(do_msync(t, addr, len, flags, &files, &n));
	for (int i = 0; i < n; i++) {
		if (r == 0 || r == -ENOMEM) {
			int err = files[i]->ops->fsync(files[i], false);
			if (err < 0 && r == 0)
				r = err;
		}
		file_put(files[i]);
	}
	free(files);
	return r;
}

long mm_mprotect(struct task *t, uint64_t addr, uint64_t len, int prot)
{
	return LOCKED(do_mprotect(t, addr, len, prot));
}

long mm_mremap(struct task *t, uint64_t old, uint64_t oldlen, uint64_t newlen,
	       int flags, uint64_t newaddr)
{
	return LOCKED(do_mremap(t, old, oldlen, newlen, flags, newaddr));
}

long mm_madvise(struct task *t, uint64_t addr, uint64_t len, int advice)
{
	return LOCKED(do_madvise(t, addr, len, advice));
}

/* mincore: every mapped page is reported resident. The host's answer
 * would tell the sandbox which pages of a host file (a library other
 * tenants map too) are in the host's page cache, a known side channel;
 * Linux itself answers "resident" for a file the caller may not write.
 * Linux's errors come in Linux's order: EINVAL for an unaligned start,
 * ENOMEM for a range past user memory, EFAULT for a vector past it, then
 * the pages the vmas cover from the start are reported, and a hole after
 * them is ENOMEM. */
long mm_mincore(struct task *t, uint64_t start, uint64_t len, uint64_t vec)
{
	if (start & (MM_PAGE - 1))
		return -EINVAL;
	if (start + len < start || start + len > MM_TASK_SIZE)
		return -ENOMEM;
	uint64_t pages = len / MM_PAGE + (len % MM_PAGE != 0);
	if (vec + pages < vec || vec + pages > MM_TASK_SIZE)
		return -EFAULT;
	if (!pages)
		return 0;
	uint64_t span = pages * MM_PAGE;
	uint64_t covered = prefix_covered(t->mm, start, span, 0);
	if (covered == 0)
		return -ENOMEM;
	static const unsigned char ones[4096] = { [0 ... 4095] = 1 };
	for (uint64_t done = 0, n = covered / MM_PAGE; done < n;) {
		size_t c = n - done < sizeof(ones) ? (size_t)(n - done)
						   : sizeof(ones);
		int err = task_copy_out(t, vec + done, ones, c);
		if (err < 0)
			return err;
		done += c;
	}
	return covered == span ? 0 : -ENOMEM;
}

long mm_brk(struct task *t, uint64_t addr)
{
	return LOCKED(do_brk(t, addr));
}

int mm_map_fixed(struct task *t, uint64_t start, uint64_t end, int prot,
		 const char *name)
{
	return (int)LOCKED(do_map_fixed(t, start, end, prot, name));
}

int mm_futex_key(struct mm *mm, uint64_t addr, bool private_op, uint64_t *obj,
		 uint64_t *off)
{
	int err = 0;

	pthread_mutex_lock(&mm->lock);
	struct vma *v = vma_find(mm, addr);
	if (!v)
		err = -EFAULT;
	else if (!private_op && !(v->prot & (PROT_READ | PROT_WRITE)))
		err = -EFAULT; /* shared keys need the page itself */
	else if (!private_op && v->obj) {
		*obj = v->obj;
		*off = v->pgoff + (addr - v->start);
	} else {
		*obj = 0;
		*off = addr;
	}
	pthread_mutex_unlock(&mm->lock);
	return err;
}
