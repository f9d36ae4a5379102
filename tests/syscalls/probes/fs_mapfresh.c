/*
 * fs_mapfresh: file mappings used for the first time by something other
 * than a plain load or store of the program's own: a system call's buffer
 * (read, write, futex, a signal frame on an alternate stack), a fork, a
 * second thread, mremap and madvise, and the map-over-map pattern of a
 * dynamic loader (a whole file read-only, then its segments at fixed
 * addresses inside it, an anonymous tail, an mprotect) with nothing
 * touched in between. Each must see the file's bytes, and an access to
 * what is unmapped or PROT_NONE must fault with the si_code Linux gives.
 * The mappings carry MAP_DENYWRITE, as glibc's loader's do (Linux ignores
 * it): a sandbox may take it as the sign of a loader's mapping and hold
 * the host's work back until the memory is used.
 */
#include "probe_fs.h"

#include <linux/futex.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define PG 4096
#define MP (MAP_PRIVATE | MAP_DENYWRITE)
#define MS (MAP_SHARED | MAP_DENYWRITE)

static sigjmp_buf jb;
static volatile int fault_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	fault_code = si->si_code;
	siglongjmp(jb, 1);
}

/* The si_code of a read of *p, or 0 if it did not fault. */
static int read_faults(const volatile char *p)
{
	fault_code = 0;
	if (sigsetjmp(jb, 1) == 0)
		(void)*p;
	return fault_code;
}

static const char *code_name(int c)
{
	return c == 0 ? "none" : c == SEGV_MAPERR ? "SEGV_MAPERR"
			       : c == SEGV_ACCERR ? "SEGV_ACCERR"
						  : "other";
}

static void loader_pattern(void)
{
	fs_put_pages("f", 6);
	int fd = open("f", O_RDONLY);
	/* The whole file, read-only, at an address the kernel picks. */
	char *base = mmap(NULL, 8 * PG, PROT_READ, MP, fd, 0);
	CHECK_TRUE("whole file mapped", base != MAP_FAILED);
	/* Page 1 from the file's page 3, executable; an anonymous tail;
	 * page 0 made PROT_NONE; pages 2-3 writable from pages 4-5 (last:
	 * a writable one may end what a sandbox holds back). */
	char *a = mmap(base + PG, PG, PROT_READ | PROT_EXEC,
		       MP | MAP_FIXED, fd, 3 * PG);
	char *c = mmap(base + 4 * PG, 4 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
	CHECK_OK("mprotect page 0 to PROT_NONE", mprotect(base, PG, PROT_NONE));
	char *b = mmap(base + 2 * PG, 2 * PG, PROT_READ | PROT_WRITE,
		       MP | MAP_FIXED, fd, 4 * PG);
	CHECK_TRUE("fixed maps inside it",
		   a == base + PG && b == base + 2 * PG && c == base + 4 * PG);
	close(fd);
	CHECK_TRUE("segments hold the file's pages",
		   a[0] == 'd' && b[0] == 'e' && b[PG] == 'f' &&
			   b[2 * PG - 1] == 'f');
	CHECK_TRUE("anonymous tail is zero", c[0] == 0 && c[4 * PG - 1] == 0);
	b[1] = 'W';
	CHECK_TRUE("a private store sticks", b[1] == 'W');
	NOTE("read of the PROT_NONE page: %s\n", code_name(read_faults(base)));
	munmap(base, 8 * PG);
	NOTE("read after munmap: %s\n", code_name(read_faults(base + PG)));
}

/* Read-only, then made writable: a sandbox that holds back a loader's
 * mappings may run a writable one at once (it is written at once, as a
 * rule), and the cases below want the memory untouched until the call. */
static void *fresh_rw(size_t len, int fd, off_t off)
{
	char *p = mmap(NULL, len, PROT_READ, MP, fd, off);
	if (p == MAP_FAILED || mprotect(p, len, PROT_READ | PROT_WRITE) < 0) {
		perror("fresh_rw");
		exit(2);
	}
	return p;
}

/* A mapping nobody has touched yet, as a system call's buffer. */
static void syscall_buffers(void)
{
	fs_put_pages("g", 2);
	int fd = open("g", O_RDONLY);
	char *p = mmap(NULL, 2 * PG, PROT_READ, MP, fd, 0);
	int pfd[2];
	CHECK_OK("pipe", pipe(pfd));
	CHECK_RET("write from a fresh mapping", write(pfd[1], p + PG - 2, 4), 4);
	char got[5] = {0};
	CHECK_RET("read it back", read(pfd[0], got, 4), 4);
	CHECK_TRUE("the bytes", memcmp(got, "aabb", 4) == 0);
	munmap(p, 2 * PG);

	/* read(2) into a fresh writable private mapping. */
	char *w = fresh_rw(PG, fd, 0);
	CHECK_RET("write 3 bytes", write(pfd[1], "xyz", 3), 3);
	CHECK_RET("read into a fresh mapping", read(pfd[0], w + 10, 3), 3);
	CHECK_TRUE("mapping has them and the file's bytes around",
		   memcmp(w + 10, "xyz", 3) == 0 && w[9] == 'a' && w[13] == 'a');
	munmap(w, PG);

	/* futex on a word of a fresh mapping: its value is read. */
	uint32_t *fw = fresh_rw(PG, fd, 0);
	FERR("FUTEX_WAIT with the wrong value",
	     syscall(SYS_futex, fw, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0),
	     EAGAIN);
	munmap(fw, PG);

	/* A fresh read-only mapping as read(2)'s destination: EFAULT. */
	char *ro = mmap(NULL, PG, PROT_READ, MP, fd, 0);
	CHECK_RET("write 1 byte", write(pfd[1], "q", 1), 1);
	FERR("read into a fresh read-only mapping", read(pfd[0], ro, 1),
	     EFAULT);
	CHECK_TRUE("it still holds the file", ro[0] == 'a');
	munmap(ro, PG);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
}

static volatile uintptr_t handled_at;

static void on_usr1(int sig)
{
	(void)sig;
	char here;
	handled_at = (uintptr_t)&here;
}

/* A signal frame written onto a fresh private file mapping. */
static void frame_on_fresh(void)
{
	fs_put_pages("s", 16);
	int fd = open("s", O_RDONLY);
	char *st = fresh_rw(16 * PG, fd, 0);
	close(fd);
	stack_t ss = { .ss_sp = st, .ss_size = 16 * PG, .ss_flags = 0 };
	CHECK_OK("sigaltstack on a fresh mapping", sigaltstack(&ss, NULL));
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	handled_at = 0;
	raise(SIGUSR1);
	CHECK_TRUE("handler ran on it", handled_at >= (uintptr_t)st &&
						handled_at < (uintptr_t)st + 16 * PG);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	CHECK_TRUE("the bottom page still holds the file", st[0] == 'a');
	munmap(st, 16 * PG);
}

/* Waits for an address on the pipe, then reads there first. */
static void *thread_read(void *arg)
{
	int fd = *(int *)arg;
	const char *p = NULL;
	if (read(fd, &p, sizeof(p)) != sizeof(p))
		return NULL;
	return (void *)(intptr_t)(p[0] + p[PG]);
}

static void fork_and_threads(void)
{
	fs_put_pages("h", 2);
	int fd = open("h", O_RDWR);
	char *p = mmap(NULL, 2 * PG, PROT_READ, MP, fd, 0);
	pid_t pid = fork();
	if (pid == 0)
		_exit(p[0] == 'a' && p[PG] == 'b' ? 0 : 1);
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK_TRUE("a fork child reads its parent's fresh mapping",
		   WIFEXITED(st) && WEXITSTATUS(st) == 0);
	munmap(p, 2 * PG);

	/* The thread exists before the mapping, which it touches first. */
	int tp[2];
	if (pipe(tp) < 0)
		exit(2);
	pthread_t t;
	void *r = NULL;
	pthread_create(&t, NULL, thread_read, &tp[0]);
	p = mmap(NULL, 2 * PG, PROT_READ, MP, fd, 0);
	if (write(tp[1], &p, sizeof(p)) != sizeof(p))
		exit(2);
	pthread_join(t, &r);
	close(tp[0]);
	close(tp[1]);
	CHECK_TRUE("another thread reads it first", (intptr_t)r == 'a' + 'b');
	munmap(p, 2 * PG);

	/* Shared: a store through a fresh mapping reaches the file. */
	char *s = mmap(NULL, PG, PROT_READ | PROT_WRITE, MS, fd, PG);
	s[3] = 'S';
	char c = 0;
	CHECK_RET("pread", pread(fd, &c, 1, PG + 3), 1);
	CHECK_TRUE("sees the store", c == 'S');
	munmap(s, PG);
	close(fd);
}

static void remap_and_advise(void)
{
	fs_put_pages("m", 4);
	int fd = open("m", O_RDONLY);
	char *p = mmap(NULL, 2 * PG, PROT_READ, MP, fd, 0);
	char *q = mremap(p, 2 * PG, 4 * PG, MREMAP_MAYMOVE);
	CHECK_TRUE("mremap of a fresh mapping", q != MAP_FAILED);
	if (q != MAP_FAILED)
		CHECK_TRUE("grown mapping holds the file",
			   q[0] == 'a' && q[PG] == 'b' && q[3 * PG] == 'd');
	munmap(q != MAP_FAILED ? q : p, 4 * PG);

	char *w = mmap(NULL, PG, PROT_READ | PROT_WRITE, MP, fd, PG);
	CHECK_OK("madvise DONTNEED on a fresh mapping",
		 madvise(w, PG, MADV_DONTNEED));
	CHECK_TRUE("reads the file after", w[0] == 'b');
	munmap(w, PG);

	/* Two files mapped back to back, neither touched, then both read. */
	fs_put_pages("n", 1);
	int fd2 = open("n", O_RDONLY);
	char *x = mmap(NULL, PG, PROT_READ, MP, fd, 2 * PG);
	char *y = mmap(NULL, PG, PROT_READ, MP, fd2, 0);
	CHECK_TRUE("two fresh mappings of two files", x[0] == 'c' && y[0] == 'a');
	munmap(x, PG);
	munmap(y, PG);
	close(fd2);

	/* Pages past MAX_LFS_FILESIZE: refused in the call. */
	FERR("an offset whose pages end past 2^63",
	     mmap(NULL, 2 * PG, PROT_READ, MP, fd, 0x7ffffffffffff000LL) ==
			     MAP_FAILED
		     ? -1
		     : 0,
	     EOVERFLOW);

	/* PROT_NONE from the start: the access is refused, not unmapped. */
	char *n = mmap(NULL, PG, PROT_NONE, MP, fd, 0);
	NOTE("read of a fresh PROT_NONE mapping: %s\n",
	     code_name(read_faults(n)));
	munmap(n, PG);
	close(fd);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	fs_setup();
	loader_pattern();
	syscall_buffers();
	frame_on_fresh();
	fork_and_threads();
	remap_and_advise();
	fs_cleanup();
	return probe_done();
}
