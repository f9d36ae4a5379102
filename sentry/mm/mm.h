/* The workload's memory map, kept by the sentry and carried out by the host
 * inside the stub. The sentry decides every address; the stub only executes
 * MAP_FIXED requests for ranges the sentry has validated, and the stub's own
 * ranges (plat_reserved) can never be mapped over, unmapped or changed. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct task;
struct file;
struct plat_as;
struct platform_ops;

#define MM_PAGE 4096ULL
#define MM_TASK_SIZE 0x7ffffffff000ULL
#define MM_MIN_ADDR 0x10000ULL /* vm.mmap_min_addr default */
#define MM_HOT_SITES 256
/* A site is rewritten on its eighth trap: start-up calls (a new process
 * makes some three to seven times, glibc's brk) are left alone, loops are
 * caught early (docs/architecture.md has the figures). */
#define MM_PATCH_AFTER 8

struct vma {
	uint64_t start, end;
	int prot;
	int flags; /* MAP_PRIVATE / MAP_SHARED | MAP_ANONYMOUS */
	const char *name; /* "[heap]", "[stack]" or NULL; static strings */
	/* Identity of the memory, for shared futexes: a MAP_SHARED anonymous
	 * region keeps its object id (and offset) across fork and mremap;
	 * private memory has obj 0. */
	uint64_t obj, pgoff;
	/* The mapped file (a reference), or NULL for anonymous memory; pgoff
	 * is then the byte offset in the file of start. */
	struct file *file;
	struct vma *next;
	/* The protections mprotect may still grant (Linux's VM_MAY*): a
	 * shared mapping of a file opened read-only never becomes writable,
	 * one from a noexec mount never executable. */
	int maxprot;
	/* MADV_DONTFORK (Linux's VM_DONTCOPY): a fork child has nothing
	 * here; kept across mremap. */
	bool dontcopy;
};

struct mm {
	atomic_int users; /* tasks using it (threads, vfork children) */
	pthread_mutex_t lock; /* the vma list and brk; held across host calls */
	struct plat_as *as; /* the stub process carrying it out */
	struct vma *vmas; /* sorted, non-overlapping */
	uint64_t mmap_base; /* top of the top-down mmap area */
	uint64_t brk_start, brk;
	uint64_t stack_top, stack_bottom;
	/* The program this mm was built for by execve (a reference; NULL
	 * for none): /proc/[pid]/exe. Set once, before other tasks see mm. */
	struct file *exe;
	/* The stub still has an older image's mappings (an execve in place
	 * took it over): the next host mapping batch unmaps everything
	 * outside the reserved ranges first (mm_host_reset). */
	bool host_stale;
	/* The start and end of argv and envp strings on the stack, for
	 * /proc/[pid]/cmdline and environ. */
	uint64_t arg_start, arg_end, env_start, env_end;
	/* Host mapping requests held back (platform_ops.lazy_maps): file
	 * mappings into ranges the host has nothing in, and what follows
	 * inside them, until the next host call, a fault there, or the
	 * sentry reaching that memory (mm_flush). Under lock; pending (how
	 * many) may be read without it, as a hint. */
	struct mm_pend *pend;
	atomic_int pending;
	atomic_uint flushes; /* held-back batches run so far */
	/* System call sites seen trapping (rip after the instruction), for
	 * the platform's patch_syscall: a small direct-mapped count. */
	struct {
		_Atomic uint64_t rip;
		atomic_int count;
	} hot[MM_HOT_SITES];
};

/* If mm->host_stale: unmaps, in one batch, everything of the stub
 * outside the reserved ranges. 0 or -errno. */
int mm_host_reset(struct task *t);
/* A new mm on address space as (owned by the mm from now on). */
struct mm *mm_new(struct plat_as *as);
struct mm *mm_ref(struct mm *mm);
/* [start, end) lies in the workload's own mappings, readable (write:
 * writable) as they stand, with nothing of an older image left on the
 * host: a copy there cannot fault for want of permissions. false also
 * when mm's lock is busy (a host call holds it): then nothing is known. */
bool mm_range_mapped(struct mm *mm, uint64_t start, uint64_t end, bool write);
/* A copy in of memory the workload reads but another process may not
 * (execute-only pages, on a host without protection keys): 0, or -EFAULT
 * if the range is not all mapped readable or executable. */
int mm_copy_in_exec(struct task *t, void *dst, uint64_t src, size_t n);
/* [start, end) is private anonymous writable memory, carried out on the
 * host (nothing held back there): a store into it cannot fault but for
 * want of memory. false too if the mm's lock is busy. */
bool mm_range_anon_writable(struct mm *mm, uint64_t start, uint64_t end);
/* Before the sentry reads or writes [start, end) of t's memory (end 0:
 * anywhere), or lets the host do it: the host carries out the mapping
 * requests held back (all of them, if any touches the range). */
void mm_flush(struct task *t, uint64_t start, uint64_t end);
/* The same, locked by the caller. */
void mm_flush_locked(struct task *t);
/* A fault at addr of a task that went to run when mm_flush_count(mm) was
 * seen: true if requests held back covered it and have now been carried
 * out, or were since seen (by another thread) and addr is mapped: the
 * access is to be tried again. */
bool mm_flush_fault(struct task *t, uint64_t addr, unsigned seen);
static inline unsigned mm_flush_count(struct mm *mm)
{
	return atomic_load(&mm->flushes);
}
/* Drops a user; the last one destroys the address space. */
void mm_put(const struct platform_ops *plat, struct mm *mm);
/* mm_put, but the last reference's address space is handed to the caller
 * (*as, else NULL) to destroy later (platform_ops.as_destroy): what the
 * workload can see of the mm (the program's deny-write, its files) goes
 * now. */
void mm_put_keep_as(struct mm *mm, struct plat_as **as);
/* Sets mm->exe (NULL: none), keeping writers of the file out (ETXTBSY)
 * while the mm holds it; f must be denied writers already. */
void mm_set_exe(struct mm *mm, struct file *f);
/* The mm of a forked address space: a copy of parent's map. */
struct mm *mm_fork(struct mm *parent, struct plat_as *child_as);
/* The futex key of a workload address: (obj, offset) for shared memory,
 * (0, addr) for private. -EFAULT if unmapped. */
int mm_futex_key(struct mm *mm, uint64_t addr, bool private_op, uint64_t *obj,
		 uint64_t *off);

/* System call semantics; return the syscall result (address or -errno). */
long mm_mmap(struct task *t, uint64_t addr, uint64_t len, int prot, int flags,
	     int fd, uint64_t off);
long mm_munmap(struct task *t, uint64_t addr, uint64_t len);
long mm_msync(struct task *t, uint64_t addr, uint64_t len, int flags);
/* mlock/munlock's checks (the memory is not locked on the host): 0, or
 * ENOMEM if part of the range is not mapped, EINVAL on overflow. */
long mm_mlock(struct task *t, uint64_t addr, uint64_t len);
long mm_mprotect(struct task *t, uint64_t addr, uint64_t len, int prot);
long mm_mremap(struct task *t, uint64_t old, uint64_t oldlen, uint64_t newlen,
	       int flags, uint64_t newaddr);
long mm_madvise(struct task *t, uint64_t addr, uint64_t len, int advice);
long mm_mincore(struct task *t, uint64_t start, uint64_t len, uint64_t vec);
long mm_brk(struct task *t, uint64_t addr);

/* For the loader: maps [start, end) anonymous at a fixed address. */
int mm_map_fixed(struct task *t, uint64_t start, uint64_t end, int prot,
		 const char *name);
/* A region the loader maps: [start, file_end) from the file at off
 * (file_end == start: none), then anonymous memory up to end. Bytes
 * [zero_from, file_end) of the file part are zeroed (a bss that starts in
 * the last file page). */
struct mm_seg {
	uint64_t start, file_end, end;
	uint64_t off;
	uint64_t zero_from;
	int prot;
	const char *name; /* of the anonymous part ("[stack]"), or NULL */
};
#define MM_LOAD_MAX 24
/* For the loader: maps n regions of f (NULL: anonymous regions only) in
 * one hand-off with the stub. -ENODEV: f has no host fd to map (the
 * caller copies instead); anything else as mmap. */
int mm_load_segments(struct task *t, struct file *f, const struct mm_seg *segs,
		     int n);
/* mm_load_segments for two files in one hand-off (a program and its
 * interpreter): -ENOTSUP if the platform cannot pass two fds at once or
 * they do not fit (nothing done: load them one at a time); else as
 * mm_load_segments. */
int mm_load_pair(struct task *t, struct file *fa, const struct mm_seg *sa,
		 int na, struct file *fb, const struct mm_seg *sb, int nb);
/* For the loader: maps len bytes of f from off, private, at start; or
 * -ENODEV if f's file system cannot give the host an fd to map. */
int mm_map_file_fixed(struct task *t, uint64_t start, uint64_t len, int prot,
		      struct file *f, uint64_t off);
/* A free, page-aligned range of len bytes at or below below_top. */
int mm_find_free(struct mm *mm, uint64_t len, uint64_t below_top,
		 uint64_t *out);
bool mm_range_reserved(uint64_t start, uint64_t end);
/* How many bytes from addr on (at most n) the workload could write (or,
 * write false, read): its own mappings that allow it, without a gap. */
size_t mm_usable_prefix(struct mm *mm, uint64_t addr, size_t n, bool write);
/* t trapped for a system call: counts its site and, once it is hot, asks
 * the platform to rewrite it (private executable memory only). */
void mm_note_syscall(struct task *t);

#define ALIGN_UP_PAGE(x) (((x) + MM_PAGE - 1) & ~(MM_PAGE - 1))
#define ALIGN_DOWN_PAGE(x) ((x) & ~(MM_PAGE - 1))
