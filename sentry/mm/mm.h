/* The workload's memory map, kept by the sentry and carried out by the host
 * inside the stub. The sentry decides every address; the stub only executes
 * MAP_FIXED requests for ranges the sentry has validated, and the stub's own
 * ranges (plat_reserved) can never be mapped over, unmapped or changed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct task;

#define MM_PAGE 4096ULL
#define MM_TASK_SIZE 0x7ffffffff000ULL
#define MM_MIN_ADDR 0x10000ULL /* vm.mmap_min_addr default */

struct vma {
	uint64_t start, end;
	int prot;
	int flags; /* MAP_PRIVATE / MAP_SHARED | MAP_ANONYMOUS */
	const char *name; /* "[heap]", "[stack]" or NULL; static strings */
	struct vma *next;
};

struct mm {
	struct vma *vmas; /* sorted, non-overlapping */
	uint64_t mmap_base; /* top of the top-down mmap area */
	uint64_t brk_start, brk;
	uint64_t stack_top, stack_bottom;
};

struct mm *mm_new(void);
void mm_free(struct mm *mm);

/* System call semantics; return the syscall result (address or -errno). */
long mm_mmap(struct task *t, uint64_t addr, uint64_t len, int prot, int flags,
	     int fd, uint64_t off);
long mm_munmap(struct task *t, uint64_t addr, uint64_t len);
long mm_mprotect(struct task *t, uint64_t addr, uint64_t len, int prot);
long mm_mremap(struct task *t, uint64_t old, uint64_t oldlen, uint64_t newlen,
	       int flags, uint64_t newaddr);
long mm_madvise(struct task *t, uint64_t addr, uint64_t len, int advice);
long mm_brk(struct task *t, uint64_t addr);

/* For the loader: maps [start, end) anonymous at a fixed address. */
int mm_map_fixed(struct task *t, uint64_t start, uint64_t end, int prot,
		 const char *name);
/* A free, page-aligned range of len bytes at or below below_top. */
int mm_find_free(struct mm *mm, uint64_t len, uint64_t below_top,
		 uint64_t *out);
bool mm_range_reserved(uint64_t start, uint64_t end);

#define ALIGN_UP_PAGE(x) (((x) + MM_PAGE - 1) & ~(MM_PAGE - 1))
#define ALIGN_DOWN_PAGE(x) ((x) & ~(MM_PAGE - 1))
