/*
 * arch: arch_prctl (FS/GS base) and set_tid_address.
 *
 * While FS points at our private block nothing may touch libc's TLS (errno,
 * stack protector canary, ...), so that window uses an inline-asm syscall and
 * accesses TLS only via inline asm.  The copied block keeps the TCB header
 * (self pointer, canary, pointer guard) valid anyway.
 */
#include "probe.h"

#include <asm/prctl.h>
#include <stdint.h>

#ifndef ARCH_SET_GS
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004
#endif

__thread int probe_tls_var = 12345;

static long raw2(long nr, long a, long b)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline uintptr_t read_fs0(void)
{
	uintptr_t v;

	__asm__ volatile("mov %%fs:0, %0" : "=r"(v)::"memory");
	return v;
}

static inline uintptr_t read_gs0(void)
{
	uintptr_t v;

	__asm__ volatile("mov %%gs:0, %0" : "=r"(v)::"memory");
	return v;
}

static inline int tls_load(void)
{
	int v;

	__asm__ volatile("movl %%fs:probe_tls_var@tpoff, %0" : "=r"(v)::"memory");
	return v;
}

static inline void tls_store(int v)
{
	__asm__ volatile("movl %0, %%fs:probe_tls_var@tpoff" ::"r"(v) : "memory");
}

struct fs_res {
	long set, get, restore;
	uintptr_t got, fs0;
	int seen;
};

__attribute__((noinline)) static void
fs_switch(struct fs_res *r, uintptr_t newfs, uintptr_t oldfs)
{
	r->set = raw2(SYS_arch_prctl, ARCH_SET_FS, (long)newfs);
	r->fs0 = read_fs0();
	r->get = raw2(SYS_arch_prctl, ARCH_GET_FS, (long)&r->got);
	r->seen = tls_load();
	tls_store(777);
	r->restore = raw2(SYS_arch_prctl, ARCH_SET_FS, (long)oldfs);
}

static int ctid;

int main(void)
{
	uintptr_t fs = 0, gs = 1;

	/* Where does FS point natively?  At the TCB, whose first word is a
	 * pointer to itself; static TLS sits just below it (variant II). */
	CHECK_OK("arch_prctl ARCH_GET_FS", syscall(SYS_arch_prctl, ARCH_GET_FS, &fs));
	CHECK_TRUE("fs base == %fs:0 (TCB self pointer)", fs == read_fs0());
	uintptr_t tv = (uintptr_t)&probe_tls_var;
	CHECK_TRUE("__thread var just below fs base", tv < fs && fs - tv < 65536);
	CHECK_TRUE("__thread var via fs == via address",
		   tls_load() == probe_tls_var && probe_tls_var == 12345);

	/* Switch FS to a private copy of the TLS block + TCB header. */
	size_t below = fs - tv;
	size_t hdr = 256;
	char *blk = aligned_alloc(64, 2 * 65536);
	memset(blk, 0, 2 * 65536);
	uintptr_t newfs = (uintptr_t)blk + 65536;
	memcpy((void *)(newfs - below), (void *)tv, below);
	memcpy((void *)newfs, (void *)fs, hdr);
	*(uintptr_t *)newfs = newfs;
	*(int *)(newfs - below) = 54321;

	struct fs_res r;
	memset(&r, 0, sizeof(r));
	fs_switch(&r, newfs, fs);
	CHECK_RET("arch_prctl ARCH_SET_FS new block", r.set, 0);
	CHECK_TRUE("%fs:0 reads new block", r.fs0 == newfs);
	CHECK_RET("arch_prctl ARCH_GET_FS while switched", r.get, 0);
	CHECK_TRUE("ARCH_GET_FS returns new block", r.got == newfs);
	CHECK_TRUE("__thread var read from new block", r.seen == 54321);
	CHECK_RET("arch_prctl ARCH_SET_FS back", r.restore, 0);
	CHECK_TRUE("__thread write went to new block",
		   *(int *)(newfs - below) == 777);
	CHECK_TRUE("original __thread var untouched", probe_tls_var == 12345);
	uintptr_t fs2 = 0;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs2);
	CHECK_TRUE("fs base restored", fs2 == fs && read_fs0() == fs);
	free(blk);

	/* GS starts out zero on x86-64 Linux; set it, read through it. */
	CHECK_OK("arch_prctl ARCH_GET_GS", syscall(SYS_arch_prctl, ARCH_GET_GS, &gs));
	CHECK_TRUE("gs base initially 0", gs == 0);
	static uintptr_t gsblock[8] = { 0x1234567890abcdefULL };
	CHECK_OK("arch_prctl ARCH_SET_GS",
		 syscall(SYS_arch_prctl, ARCH_SET_GS, gsblock));
	CHECK_TRUE("%gs:0 reads block", read_gs0() == 0x1234567890abcdefULL);
	syscall(SYS_arch_prctl, ARCH_GET_GS, &gs);
	CHECK_TRUE("ARCH_GET_GS returns block", gs == (uintptr_t)gsblock);
	CHECK_OK("arch_prctl ARCH_SET_GS 0", syscall(SYS_arch_prctl, ARCH_SET_GS, 0));
	syscall(SYS_arch_prctl, ARCH_GET_GS, &gs);
	CHECK_TRUE("gs base back to 0", gs == 0);

	/* Errors. */
	CHECK_ERR("arch_prctl invalid code", syscall(SYS_arch_prctl, 0x9999, 0),
		  EINVAL);
	CHECK_ERR("arch_prctl ARCH_GET_FS EFAULT",
		  syscall(SYS_arch_prctl, ARCH_GET_FS, (void *)1), EFAULT);
	CHECK_ERR("arch_prctl ARCH_GET_GS EFAULT",
		  syscall(SYS_arch_prctl, ARCH_GET_GS, (void *)1), EFAULT);
	CHECK_ERR("arch_prctl ARCH_SET_FS non-canonical",
		  syscall(SYS_arch_prctl, ARCH_SET_FS, 1UL << 63), EPERM);
	CHECK_ERR("arch_prctl ARCH_SET_GS non-canonical",
		  syscall(SYS_arch_prctl, ARCH_SET_GS, 1UL << 63), EPERM);
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs2);
	CHECK_TRUE("fs base unchanged after failed set", fs2 == fs);

	/* set_tid_address returns the caller's tid (== pid, single thread). */
	long tid = syscall(SYS_set_tid_address, &ctid);
	CHECK_TRUE("set_tid_address returns tid", tid == syscall(SYS_gettid));
	CHECK_TRUE("set_tid_address tid==getpid", tid == getpid());
	CHECK_TRUE("set_tid_address NULL returns tid",
		   syscall(SYS_set_tid_address, NULL) == tid);
	syscall(SYS_set_tid_address, &ctid);

	return probe_done();
}
