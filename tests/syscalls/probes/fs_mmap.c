/*
 * fs_mmap: mmap of files. Private mappings see the file and keep their own
 * writes; shared mappings and read/write see each other's changes, across
 * fork too; the access checks of the open mode (EACCES), offsets, EBADF
 * and ENODEV; /dev/zero as anonymous memory; msync's argument checks;
 * SIGBUS past the end of a truncated file; a shared futex reached through
 * two different mappings of one file; a file of the image (the probe's
 * own executable) mapped read-only.
 */
#include "probe_fs.h"

#include <linux/futex.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#endif
#include <sys/syscall.h>
#include <sys/wait.h>

#define PG 4096

static void private_and_shared(void)
{
	fs_put_pages("f", 3);
	int fd = open("f", O_RDWR);
	char *p =
	    mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK_TRUE("private map", p != MAP_FAILED);
	CHECK_TRUE("private sees the file",
		   p[0] == 'a' && p[PG] == 'b' && p[3 * PG - 1] == 'c');
	p[0] = 'X';
	char c = 0;
	CHECK_RET("pread after a private store", pread(fd, &c, 1, 0), 1);
	CHECK_TRUE("private store stays private", c == 'a');
	munmap(p, 3 * PG);

	char *q = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
	CHECK_TRUE("map at an offset", q != MAP_FAILED && q[0] == 'b');
	munmap(q, PG);
	FERR("unaligned offset",
	     mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 100) == MAP_FAILED ? -1
									   : 0,
	     EINVAL);

	char *s = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK_TRUE("shared map", s != MAP_FAILED);
	s[5] = 'S';
	CHECK_RET("pread sees a shared store", pread(fd, &c, 1, 5), 1);
	CHECK_TRUE("the byte", c == 'S');
	CHECK_RET("pwrite", pwrite(fd, "W", 1, PG + 7), 1);
	CHECK_TRUE("the mapping sees pwrite", s[PG + 7] == 'W');

	/* A second shared mapping of the same pages, and a child's store. */
	char *s2 = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK_TRUE("second mapping sees the store",
		   s2 != MAP_FAILED && s2[5] == 'S');
	pid_t pid = fork();
	if (pid == 0) {
		s[9] = 'C';
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK_TRUE("a child's store through an inherited shared mapping",
		   s[9] == 'C' && s2[9] == 'C');

	FOK("msync MS_SYNC", msync(s, 2 * PG, MS_SYNC));
	FOK("msync MS_ASYNC", msync(s, PG, MS_ASYNC));
	FERR("msync ASYNC|SYNC", msync(s, PG, MS_ASYNC | MS_SYNC), EINVAL);
	FERR("msync bad flag", msync(s, PG, 0x100), EINVAL);
	FERR("msync unaligned", msync(s + 1, PG, MS_SYNC), EINVAL);
	munmap(s2, PG);
	munmap(s, 2 * PG);
	FERR("msync unmapped", msync(s, PG, MS_SYNC), ENOMEM);
	close(fd);
}

static void access_modes(void)
{
	fs_put_pages("g", 1);
	int ro = open("g", O_RDONLY);
	FERR("shared writable of O_RDONLY",
	     mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) ==
		     MAP_FAILED
		 ? -1
		 : 0,
	     EACCES);
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	CHECK_TRUE("private writable of O_RDONLY", p != MAP_FAILED);
	p[0] = 'z';
	munmap(p, PG);
	char *s = mmap(NULL, PG, PROT_READ, MAP_SHARED, ro, 0);
	CHECK_TRUE("shared read-only of O_RDONLY", s != MAP_FAILED);
	FERR("mprotect it writable", mprotect(s, PG, PROT_READ | PROT_WRITE),
	     EACCES);
	/* Moving or growing the mapping keeps that limit. */
	fs_put_pages("g2", 2);
	int ro2 = open("g2", O_RDONLY);
	char *m = mmap(NULL, PG, PROT_READ, MAP_SHARED, ro2, 0);
	char *moved = mremap(m, PG, 2 * PG, MREMAP_MAYMOVE);
	CHECK_TRUE("mremap it", moved != MAP_FAILED);
	FERR("mprotect the moved mapping writable",
	     mprotect(moved, 2 * PG, PROT_READ | PROT_WRITE), EACCES);
	munmap(moved, 2 * PG);
	close(ro2);
	munmap(s, PG);
	close(ro);
	FERR("mmap an O_PATH fd",
	     mmap(NULL, PG, PROT_READ, MAP_PRIVATE, open("g", O_PATH), 0) ==
		     MAP_FAILED
		 ? -1
		 : 0,
	     EBADF);

	int wo = open("g", O_WRONLY);
	FERR("map O_WRONLY",
	     mmap(NULL, PG, PROT_READ, MAP_PRIVATE, wo, 0) == MAP_FAILED ? -1
									 : 0,
	     EACCES);
	close(wo);
	int ap = open("g", O_RDWR | O_APPEND);
	/* Only an append-only inode (chattr +a) refuses this, not O_APPEND. */
	FOK("shared writable of O_APPEND",
	    mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ap, 0) ==
		    MAP_FAILED
		? -1
		: 0);
	close(ap);
	FERR("bad fd",
	     mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 555, 0) == MAP_FAILED ? -1
									  : 0,
	     EBADF);
	int d = open(".", O_RDONLY | O_DIRECTORY);
	FERR("a directory",
	     mmap(NULL, PG, PROT_READ, MAP_PRIVATE, d, 0) == MAP_FAILED ? -1
									: 0,
	     ENODEV);
	close(d);
}

static void dev_zero(void)
{
	int z = open("/dev/zero", O_RDWR);
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, z, 0);
	CHECK_TRUE("private /dev/zero",
		   p != MAP_FAILED && p[0] == 0 && p[2 * PG - 1] == 0);
	p[0] = 1;
	munmap(p, 2 * PG);
	char *s = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
	CHECK_TRUE("shared /dev/zero", s != MAP_FAILED);
	pid_t pid = fork();
	if (pid == 0) {
		s[3] = 42;
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK_TRUE("shared /dev/zero is shared with a child", s[3] == 42);
	munmap(s, PG);
	close(z);
}

static sigjmp_buf jb;
static volatile int bus_code;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bus_code = si->si_code;
	siglongjmp(jb, 1);
}

static void past_eof(void)
{
	fs_put_pages("h", 2);
	int fd = open("h", O_RDWR);
	char *p = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK_TRUE("map two pages", p != MAP_FAILED);
	FOK("truncate to one page", ftruncate(fd, PG));
	struct sigaction sa = {.sa_sigaction = on_bus, .sa_flags = SA_SIGINFO};
	sigaction(SIGBUS, &sa, NULL);
	volatile char c = 0;
	if (sigsetjmp(jb, 1) == 0) {
		c = p[PG];
		CHECK_TRUE("a read past the end faults", 0);
	} else {
		CHECK_TRUE("SIGBUS with BUS_ADRERR", bus_code == BUS_ADRERR);
	}
	CHECK_TRUE("the first page still reads", p[0] == 'a');
	(void)c;
	signal(SIGBUS, SIG_DFL);
	munmap(p, 2 * PG);
	close(fd);
}

static long futex(uint32_t *a, int op, uint32_t v)
{
	return syscall(SYS_futex, a, op, v, NULL, NULL, 0);
}

/* A shared futex is the file's page, not the address: a child waits on its
 * own mapping, the parent wakes it through another. */
static void file_futex(void)
{
	fs_put_pages("k", 1);
	int fd = open("k", O_RDWR);
	uint32_t *w = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	w[1] = 0;
	pid_t pid = fork();
	if (pid == 0) {
		uint32_t *cw =
		    mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		__atomic_store_n(&cw[1], 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&cw[1], __ATOMIC_SEQ_CST) == 1)
			futex(&cw[1], FUTEX_WAIT, 1);
		_exit(cw[1] == 2 ? 0 : 1);
	}
	uint32_t *pw =
	    mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	while (__atomic_load_n(&pw[1], __ATOMIC_SEQ_CST) != 1)
		sched_yield();
	__atomic_store_n(&pw[1], 2, __ATOMIC_SEQ_CST);
	long woken = 0;
	int st = 0;
	/* The child may not sleep yet: wake until it has gone. */
	while (waitpid(pid, &st, WNOHANG) == 0)
		woken += futex(&pw[1], FUTEX_WAKE, 1);
	CHECK_TRUE("the child woke and saw the value",
		   WIFEXITED(st) && WEXITSTATUS(st) == 0);
	munmap(pw, PG);
	munmap(w, PG);
	close(fd);
}

/* A parent, its fork children and a grandchild map files at the same
 * time, each its own file, over and over: each always sees its own file's
 * bytes (systrap hands a file to a stub over a socket that a fork child
 * shares with its parent until it execs). */
static int map_own_file(int i, int rounds)
{
	char name[8];
	snprintf(name, sizeof(name), "mf%d", i);
	for (int r = 0; r < rounds; r++) {
		int fd = open(name, O_RDONLY);
		char *p = mmap(NULL, (size_t)(i + 1) * PG, PROT_READ, MAP_PRIVATE,
			       fd, 0);
		bool ok = p != MAP_FAILED && p[(size_t)i * PG] == 'a' + i &&
			  p[0] == 'a';
		if (p != MAP_FAILED)
			munmap(p, (size_t)(i + 1) * PG);
		close(fd);
		if (!ok)
			return 1;
	}
	return 0;
}

static void maps_across_forks(void)
{
	char name[8];
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "mf%d", i);
		fs_put_pages(name, i + 1);
	}
	pid_t kids[2];
	for (int c = 0; c < 2; c++) {
		kids[c] = fork();
		if (kids[c] == 0) {
			pid_t g = -1;
			if (c == 1) {
				g = fork();
				if (g == 0)
					_exit(map_own_file(3, 40));
			}
			int bad = map_own_file(c + 1, 40);
			if (g > 0) {
				int gs = 0;
				waitpid(g, &gs, 0);
				bad |= !WIFEXITED(gs) || WEXITSTATUS(gs) != 0;
			}
			_exit(bad);
		}
	}
	CHECK_TRUE("the parent maps its own file every time",
		   map_own_file(0, 40) == 0);
	for (int c = 0; c < 2; c++) {
		int st = 0;
		waitpid(kids[c], &st, 0);
		CHECK_TRUE(c ? "a child and its child map their own files"
			     : "a child maps its own file every time",
			   WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
}

static void own_image(const char *self)
{
	int fd = open(self, O_RDONLY);
	CHECK_TRUE("open the probe's executable", fd >= 0);
	char *p = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK_TRUE("map it", p != MAP_FAILED);
	CHECK_TRUE("it starts with the ELF magic",
		   memcmp(p, "\177ELF", 4) == 0);
	char *e = mmap(NULL, PG, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	CHECK_TRUE("map it executable", e != MAP_FAILED);
	munmap(e, PG);
	munmap(p, PG);
	close(fd);
}

int main(int argc, char **argv)
{
	(void)argc;
	/* Resolved before the probe moves to its scratch directory. */
	char *self = realpath(argv[0], NULL);
	fs_setup();
	private_and_shared();
	access_modes();
	dev_zero();
	past_eof();
	file_futex();
	maps_across_forks();
	if (self)
		own_image(self);
	else
		CHECK_TRUE("the probe's own path resolves", 0);
	fs_cleanup();
	return probe_done();
}
