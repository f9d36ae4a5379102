/* What every escape-attempt program shares: reporting, raw system calls,
 * and finding the address ranges the sandbox keeps for itself.
 *
 * The attempts run inside the sandbox and know nothing of the platform. The
 * reserved ranges (stub code, vDSO, the systrap blocks) are discovered with
 * the sentry's own policy as the oracle: mmap(MAP_FIXED_NOREPLACE) over a
 * range that overlaps a reserved one fails with ENOMEM, over the workload's
 * own mappings with EEXIST. Memory is read through the sentry (a system
 * call that copies in before failing), so probing never faults.
 *
 * Linked into each attempt (static, no sanitizer): depends on libc only. */
#pragma once

#include <stdint.h>

#define PAGE	 4096UL
#define MIN_ADDR 0x10000UL /* vm.mmap_min_addr: the sandbox's lowest address   \
			    */
#define TASK_SIZE 0x7ffffffff000UL /* highest user address + 1 (4-level) */

extern int failures;

void pass(const char *name);
void fail(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The call must have failed with exactly -want. */
void expect_err(const char *name, long r, int want);
/* The call must have failed, with any error. */
void expect_any_err(const char *name, long r);
/* "EFAULT", "0x1000"... for messages. Not reentrant. */
const char *ename(long r);

/* A raw system call through the syscall instruction of this program's own
 * code, whatever rax holds (upper bits, x32 bit): the result or -errno as
 * the kernel (here: the sandbox) returned it. */
long raw_syscall6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
		  uint64_t a3, uint64_t a4, uint64_t a5);
#define RAW(...) raw6_(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)
#define raw6_(nr, a, b, c, d, e, f, ...)                                       \
	raw_syscall6((uint64_t)(nr), (uint64_t)(a), (uint64_t)(b),             \
		     (uint64_t)(c), (uint64_t)(d), (uint64_t)(e),              \
		     (uint64_t)(f))

struct range {
	uintptr_t start, end;
};
#define MAX_RANGES 16
extern struct range reserved[MAX_RANGES];
extern int nreserved;

/* Fills reserved[] in ascending order. Starts are exact; an end is the
 * first free page found by galloping then bisecting, so a small free gap
 * inside what is reported as one range is possible (callers re-check
 * single pages with page_reserved before relying on one). */
int find_reserved(void);
int page_reserved(uintptr_t a);
const struct range *reserved_at(uintptr_t a);
int overlaps_reserved(uintptr_t a, uintptr_t len);
/* True if the sandbox can read the page at a on our behalf. */
int readable(uintptr_t a);

/* The vDSO image [vdso, vdso + vdso_size), 0 if there is none. */
extern uintptr_t vdso, vdso_size;
int vdso_find(void);

/* Reserved ranges that hold the stub's code: small (under 1 MiB: the arena
 * of systrap blocks is far larger and holds data) and not the vDSO's. */
int is_code_range(const struct range *r);

/* The first systrap block (layout.h) of this address space: the first
 * readable 2 MiB-aligned page of a large reserved range. 0 on ptrace. */
uintptr_t find_block(void);
