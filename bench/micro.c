/* Micro-benchmarks, one per mode; prints the mean ns per operation (best of
 * 5 runs). Static, so the same binary runs natively and in the sandbox.
 *   getppid   a trapped system call, through glibc's wrapper (a `mov $N,
 *             %eax; syscall` site, which systrap rewrites once hot)
 *   getppidsc the same through syscall(3), whose site takes the number
 *             from a register (never rewritten: every call takes a signal)
 *   getppid4  getppid() from 4 threads at once: wall time per call of one
 *             thread (each thread makes ITERATIONS calls)
 *   clock     clock_gettime(CLOCK_MONOTONIC) through the vDSO
 *   write4k   write(1, 4 KiB) (the runner points stdout at /dev/null)
 *   thread    pthread_create + pthread_join of a thread that returns at once
 *   futexpp   a futex round trip between two threads (wake, then be woken)
 *   pipepp    a 1-byte round trip between two threads over two pipes
 *   fork      fork + _exit(0) in the child + waitpid
 *   forkexec  fork + execve of this binary in mode "true" + waitpid
 *   spawn     posix_spawn of the same + waitpid (what make and gcc do:
 *             glibc spawns with clone(CLONE_VM | CLONE_VFORK))
 *   true      exits 0 at once (the exec target of forkexec)
 * File modes (issue 5) work on a tree BENCH_DIR (run.sh makes it on the
 * host; the sandbox sees it through the gofer, under the overlay):
 *   openclose open + close of BENCH_DIR/small
 *   stat      stat of BENCH_DIR/small
 *   pread4k   pread of 4 KiB from BENCH_DIR/big, cycling over its first MiB
 *   seqread   read of 1 MiB from BENCH_DIR/big, from the start to the end
 *             (256 MiB) and round again
 *   listdir   opendir + readdir of BENCH_DIR/many (10 000 entries) +
 *             closedir
 * forkexec needs argv[0] to be a path to this binary. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char buf[4096];
static const char *self;

static void op_getppid(void)
{
	getppid();
}

static void op_getppidsc(void)
{
	syscall(SYS_getppid);
}

static void op_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
}

/* An anonymous mapping made and dropped, as malloc does for big blocks:
 * two calls the host carries out in the stub. */
static void op_mmap(void)
{
	void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || munmap(p, 8192) != 0)
		abort();
}

static void op_write4k(void)
{
	if (write(1, buf, sizeof(buf)) != sizeof(buf))
		abort();
}

static long par_n;
static pthread_barrier_t par_start;

static void *par_getppid(void *arg)
{
	pthread_barrier_wait(&par_start);
	for (long k = 0; k < par_n; k++)
		getppid();
	return arg;
}

/* 4 threads trapping at once; best of 5 runs. */
static int run_getppid4(long n)
{
	if (n <= 0)
		return 2;
	par_n = n;
	double best = 1e30;
	for (int run = 0; run < 5; run++) {
		pthread_t t[4];
		pthread_barrier_init(&par_start, NULL, 5);
		for (int i = 0; i < 4; i++)
			if (pthread_create(&t[i], NULL, par_getppid, NULL))
				return 1;
		pthread_barrier_wait(&par_start);
		double t0 = now_ns();
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		double per = (now_ns() - t0) / (double)n;
		pthread_barrier_destroy(&par_start);
		if (per < best)
			best = per;
	}
	fprintf(stderr, "%.1f\n", best);
	return 0;
}

static void *nothing(void *arg)
{
	return arg;
}

static void op_thread(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, nothing, NULL) != 0 ||
	    pthread_join(t, NULL) != 0)
		abort();
}

/* futexpp: the word is 1 while the partner owes a reply, 2 to stop. */
static uint32_t word;
static pthread_t partner;

static long futex(uint32_t *w, int op, uint32_t val)
{
	return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static void *futex_partner(void *arg)
{
	for (;;) {
		uint32_t v;
		while ((v = __atomic_load_n(&word, __ATOMIC_ACQUIRE)) == 0)
			futex(&word, FUTEX_WAIT_PRIVATE, 0);
		if (v == 2)
			return NULL;
		__atomic_store_n(&word, 0, __ATOMIC_RELEASE);
		futex(&word, FUTEX_WAKE_PRIVATE, 1);
	}
}

static void setup_futexpp(void)
{
	if (pthread_create(&partner, NULL, futex_partner, NULL) != 0)
		abort();
}

static void op_futexpp(void)
{
	__atomic_store_n(&word, 1, __ATOMIC_RELEASE);
	futex(&word, FUTEX_WAKE_PRIVATE, 1);
	while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) == 1)
		futex(&word, FUTEX_WAIT_PRIVATE, 1);
}

static void teardown_futexpp(void)
{
	__atomic_store_n(&word, 2, __ATOMIC_RELEASE);
	futex(&word, FUTEX_WAKE_PRIVATE, 1);
	pthread_join(partner, NULL);
}

/* pipepp: the partner echoes each byte until its input reaches EOF. */
static int to_partner[2], from_partner[2];

static void *pipe_partner(void *arg)
{
	char c;

	while (read(to_partner[0], &c, 1) == 1)
		if (write(from_partner[1], &c, 1) != 1)
			abort();
	return NULL;
}

static void setup_pipepp(void)
{
	if (pipe(to_partner) != 0 || pipe(from_partner) != 0 ||
	    pthread_create(&partner, NULL, pipe_partner, NULL) != 0)
		abort();
}

static void op_pipepp(void)
{
	char c = 'x';

	if (write(to_partner[1], &c, 1) != 1 ||
	    read(from_partner[0], &c, 1) != 1)
		abort();
}

static void teardown_pipepp(void)
{
	close(to_partner[1]);
	pthread_join(partner, NULL);
	close(to_partner[0]);
	close(from_partner[0]);
	close(from_partner[1]);
}

static void reap(pid_t pid)
{
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		abort();
}

static void op_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	reap(pid);
}

static void op_spawn(void)
{
	char *argv[] = {(char *)self, "true", NULL};
	char *envp[] = {NULL};
	pid_t pid;

	if (posix_spawn(&pid, self, NULL, NULL, argv, envp) != 0)
		exit(1);
	reap(pid);
}

static void op_forkexec(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		char *argv[] = {(char *)self, "true", NULL};
		char *envp[] = {NULL};
		execve(self, argv, envp);
		_exit(127);
	}
	reap(pid);
}

static char path_small[4096], path_many[4096];
static int big_fd = -1;
static char *mib;
static off_t big_off;

static void setup_files(void)
{
	const char *d = getenv("BENCH_DIR");
	if (!d) {
		fprintf(stderr, "BENCH_DIR is not set\n");
		exit(2);
	}
	snprintf(path_small, sizeof(path_small), "%s/small", d);
	snprintf(path_many, sizeof(path_many), "%s/many", d);
	char big[4096];
	snprintf(big, sizeof(big), "%s/big", d);
	big_fd = open(big, O_RDONLY);
	/* Page-aligned: the kernel copies into a misaligned buffer several
	 * times slower on this machine (malloc's would be 16 bytes off). */
	mib = aligned_alloc(4096, 1 << 20);
	if (big_fd < 0 || !mib)
		abort();
}

static void op_openclose(void)
{
	int fd = open(path_small, O_RDONLY);
	if (fd < 0)
		abort();
	close(fd);
}

static void op_stat(void)
{
	struct stat st;
	if (stat(path_small, &st) < 0)
		abort();
}

static void op_pread4k(void)
{
	if (pread(big_fd, buf, sizeof(buf), big_off) != sizeof(buf))
		abort();
	big_off = (big_off + 4096) % (1 << 20);
}

static void op_seqread(void)
{
	ssize_t n = read(big_fd, mib, 1 << 20);
	if (n == 0) {
		lseek(big_fd, 0, SEEK_SET);
		n = read(big_fd, mib, 1 << 20);
	}
	if (n <= 0)
		abort();
}

static void op_listdir(void)
{
	DIR *d = opendir(path_many);
	int n = 0;
	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	if (n < 10000)
		abort();
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*op)(void);
		void (*setup)(void);
		void (*teardown)(void);
	} modes[] = {
	    {"getppid", op_getppid, NULL, NULL},
	    {"getppidsc", op_getppidsc, NULL, NULL},
	    {"clock", op_clock, NULL, NULL},
	    {"write4k", op_write4k, NULL, NULL},
	    {"mmap", op_mmap, NULL, NULL},
	    {"thread", op_thread, NULL, NULL},
	    {"futexpp", op_futexpp, setup_futexpp, teardown_futexpp},
	    {"pipepp", op_pipepp, setup_pipepp, teardown_pipepp},
	    {"fork", op_fork, NULL, NULL},
	    {"forkexec", op_forkexec, NULL, NULL},
	    {"spawn", op_spawn, NULL, NULL},
	    {"openclose", op_openclose, setup_files, NULL},
	    {"stat", op_stat, setup_files, NULL},
	    {"pread4k", op_pread4k, setup_files, NULL},
	    {"seqread", op_seqread, setup_files, NULL},
	    {"listdir", op_listdir, setup_files, NULL},
	};
	if (argc >= 2 && strcmp(argv[1], "true") == 0)
		return 0;
	if (argc >= 3 && strcmp(argv[1], "getppid4") == 0)
		return run_getppid4(atol(argv[2]));
	if (argc < 3) {
		fprintf(stderr,
			"usage: %s getppid|getppidsc|clock|write4k|thread|futexpp|pipepp|"
			"fork|forkexec|spawn|openclose|stat|pread4k|seqread|listdir "
			"ITERATIONS\n       %s true\n",
			argv[0], argv[0]);
		return 2;
	}
	self = argv[0];
	long n = atol(argv[2]);
	size_t m = sizeof(modes) / sizeof(modes[0]);
	size_t i;
	for (i = 0; i < m; i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			break;
	if (i == m || n <= 0)
		return 2;
	if (modes[i].setup)
		modes[i].setup();
	double best = 1e30;
	for (int run = 0; run < 5; run++) {
		double t0 = now_ns();
		for (long k = 0; k < n; k++)
			modes[i].op();
		double per = (now_ns() - t0) / (double)n;
		if (per < best)
			best = per;
	}
	if (modes[i].teardown)
		modes[i].teardown();
	/* stdout may be /dev/null (write4k): report on stderr. */
	fprintf(stderr, "%.1f\n", best);
	return 0;
}
