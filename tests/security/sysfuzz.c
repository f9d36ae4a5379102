/* sysfuzz SEED CHILDREN CALLS HOSTDIR VICTIMPID [THREADS]
 *
 * Random system calls from inside the sandbox: CHILDREN processes (two at
 * a time), each making CALLS calls of random numbers (0-463, and a few past
 * the table) from each of its THREADS threads (default 1; threads share
 * its fds and memory, so their calls race), with arguments drawn from what
 * breaks kernels: 0, -1, small
 * and huge integers, pointers into a scratch buffer and just before its
 * end, into an inaccessible page, at kernel addresses, to path strings
 * (the host directory security.sh watches, /proc/self/mem, "..", a name in
 * /tmp), and fds of every kind the sandbox has (pipe, eventfd, epoll, a
 * file, a directory, a memfd, a socketpair). security.sh judges the run
 * from the host: the sentry did not crash, runsc exited 0 (this program's
 * own verdict), the host directory and the victim process are untouched.
 *
 * What is left out, so that a run tests the sandbox and not the program's
 * own survival: calls that end or replace the caller (exit, exit_group,
 * execve, execveat, rt_sigreturn), that make processes with random flags
 * (vfork, clone, clone3: the clone probes cover them), that wait for a
 * signal with nothing to send it (pause, rt_sigsuspend). fork becomes a
 * fork whose child makes 50 calls of its own and exits (so the sandbox
 * forks whatever state the calls left). The kill family gets only the
 * caller itself, its own group, a pid that does not exist or the victim's
 * host pid as target (so children do not kill each other or the parent);
 * memory lengths are clamped to 64 MiB (a populated mapping of random size
 * would only test the machine's RAM), and the memory calls' addresses that
 * fall near the program's own memory are moved into a zone kept for them;
 * random signal handlers are only SIG_DFL or SIG_IGN (every 64 calls the
 * thread sends itself SIGUSR1, which has a real, empty handler on the
 * alternate stack, whatever the calls made of that), and arch_prctl never
 * moves the fs base (the program's own TLS). One call in 256 is seccomp,
 * and half of those (and every PR_SET_SECCOMP, which would otherwise ask
 * for strict mode and end the caller) install a filter the sentry accepts:
 * an action (mostly ERRNO or LOG) on a random call number or argument bit;
 * one in eight is random instructions, for the checker. Each child runs in
 * its own process group with an alarm of 2 s (re-armed every 256 calls:
 * one long sleep ends it) and a watchdog in the parent (SIGKILL after
 * 10 s). A child ended by a signal (its own random doing) is counted, not
 * judged.
 *
 * The same SEED makes the same calls: a failure is replayed by running the
 * program again with its arguments. Prints one line per child ("child N:
 * exited S" or "killed by signal S") and "sysfuzz done" at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_NR 464
#define SCRATCH (64 * 1024)
#define MAX_LEN (64UL << 20)

static __thread uint64_t rng;

static uint64_t next(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return n ? next() % n : 0;
}

static uint8_t *scratch, *noaccess, *mmzone;
#define MMZONE (64 * 4096)
static volatile long *progress; /* shared with the parent: calls made */
static const char *hostdir;
static long victim;
static int fds[16];
static int nfds;

static const char *paths[] = {
    NULL, /* hostdir */
    NULL, /* hostdir/existing */
    "/",
    "..",
    "/proc/self/mem",
    "/proc/self/root",
    "/proc/1/fd/0",
    "/tmp/sysfuzz-file",
    "/dev/null",
    "/dev/full",
    "/sys",
    "",
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

/* A pointer to one of the path strings, copied into the scratch buffer
 * (so the call may also write over it). */
static uint64_t path_arg(void)
{
	const char *p = paths[below(NPATHS)];
	if (!p)
		p = hostdir;
	size_t n = strlen(p) + 1;
	uint8_t *at = scratch + SCRATCH - 4096 - below(2048) - n;
	memcpy(at, p, n);
	return (uint64_t)(uintptr_t)at;
}

static uint64_t arg(void)
{
	switch (below(16)) {
	case 0:
		return 0;
	case 1:
		return (uint64_t)-1;
	case 2:
		return below(64);
	case 3:
		return below(65536);
	case 4:
		return (uint32_t)next();
	case 5:
		return next();
	case 6:
	case 7:
		return (uint64_t)(uintptr_t)(scratch + below(SCRATCH));
	case 8: /* just before the buffer's end */
		return (uint64_t)(uintptr_t)(scratch + SCRATCH - below(64));
	case 9:
		return (uint64_t)(uintptr_t)(noaccess + below(4096));
	case 10:
		return 0xffff800000000000ULL + below(1 << 20) * 4096;
	case 11:
		return path_arg();
	case 12:
	case 13:
		return nfds ? (uint64_t)fds[below(nfds)] : 0;
	case 14:
		return 1ULL << below(64);
	default:
		return (uint64_t)(int64_t)-(int64_t)below(4096);
	}
}

static bool left_out(long nr)
{
	switch (nr) {
	case SYS_exit:
	case SYS_exit_group:
	case SYS_execve:
	case SYS_execveat:
	case SYS_rt_sigreturn:
	case SYS_fork:
	case SYS_vfork:
	case SYS_clone:
	case SYS_clone3:
	case SYS_pause:
	case SYS_rt_sigsuspend:
		return true;
	}
	return false;
}

/* A target for the kill family: never another process of this program. */
static uint64_t pid_target(void)
{
	switch (below(4)) {
	case 0:
		return (uint64_t)getpid();
	case 1:
		return 0; /* its own process group: itself */
	case 2:
		return 4000000 + below(100000); /* above any pid_max default */
	default:
		return (uint64_t)victim;
	}
}

/* A seccomp filter the sentry will accept, most of the time (a few are
 * random instructions, for its checker): on one system call number (or on
 * a bit of an argument) an action, else allow. The actions are mostly
 * ERRNO and LOG; one in 64 traps or kills, which ends the caller. The
 * program is the thread's own (the call copies it). */
static __thread struct sock_filter prog[8];
static __thread struct sock_fprog fprog;

static uint64_t filter_arg(void)
{
	static const uint32_t rare[] = { SECCOMP_RET_TRAP, SECCOMP_RET_KILL_THREAD,
					 SECCOMP_RET_KILL_PROCESS,
					 SECCOMP_RET_TRACE };
	uint32_t act = below(2) ? SECCOMP_RET_ERRNO | (uint32_t)(1 + below(133))
				: SECCOMP_RET_LOG;
	if (below(64) == 0)
		act = rare[below(4)] | (uint32_t)below(65536);
	/* Not the calls this program needs to go on: its signal returns,
	 * its exits and fork's. */
	uint32_t on = (uint32_t)below(472);
	if (on == SYS_rt_sigreturn || on == SYS_exit || on == SYS_exit_group ||
	    on == SYS_fork || on == SYS_wait4 || on == SYS_alarm)
		on = SYS_getppid;
	unsigned n = 0;
	if (below(8) == 0) {
		/* random instructions: the checker refuses nearly all */
		n = 1 + (unsigned)below(8);
		for (unsigned i = 0; i < n; i++) {
			uint64_t r = next();
			memcpy(&prog[i], &r, sizeof(prog[i]));
		}
	} else if (below(2)) {
		prog[n++] = (struct sock_filter)BPF_STMT(
			BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
		prog[n++] = (struct sock_filter)BPF_JUMP(
			BPF_JMP | BPF_JEQ | BPF_K, on, 0, 1);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, act);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
							 SECCOMP_RET_ALLOW);
	} else {
		prog[n++] = (struct sock_filter)BPF_STMT(
			BPF_LD | BPF_W | BPF_ABS,
			offsetof(struct seccomp_data, args[0]) + 8 * below(6));
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_ST, 5);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_MEM, 5);
		prog[n++] = (struct sock_filter)BPF_JUMP(
			BPF_JMP | BPF_JSET | BPF_K, 1u << below(32), 0, 1);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, act);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
							 SECCOMP_RET_ALLOW);
	}
	fprog.len = (unsigned short)n;
	fprog.filter = prog;
	return (uint64_t)(uintptr_t)&fprog;
}

static void tame(long nr, uint64_t a[6])
{
	switch (nr) {
	case SYS_kill:
	case SYS_tkill:
	case SYS_tgkill:
	case SYS_rt_sigqueueinfo:
	case SYS_rt_tgsigqueueinfo:
	case SYS_ptrace:
	case SYS_process_vm_writev:
	case SYS_process_vm_readv:
	case SYS_prlimit64:
	case SYS_kcmp:
	case SYS_pidfd_open:
	case SYS_setpgid:
		if (nr == SYS_ptrace)
			a[1] = pid_target();
		else
			a[0] = pid_target();
		if (nr == SYS_tgkill)
			a[1] = a[0];
		if (nr == SYS_setpgid)
			a[0] = a[1] = 0;
		break;
	case SYS_mmap:
	case SYS_munmap:
	case SYS_mprotect:
	case SYS_madvise:
	case SYS_mlock:
	case SYS_munlock:
	case SYS_msync:
	case SYS_mremap:
	case SYS_remap_file_pages:
	case SYS_pkey_mprotect:
	case SYS_mbind:
	case SYS_brk:
		/* Addresses of this program's own memory become the zone
		 * kept for these calls (or stay random), so that it goes on
		 * calling rather than fault at once. */
		if (a[0] >= (uint64_t)(uintptr_t)scratch - MAX_LEN &&
		    a[0] < (uint64_t)(uintptr_t)scratch + MAX_LEN)
			a[0] = (uint64_t)(uintptr_t)mmzone + below(MMZONE);
		if (nr == SYS_brk)
			a[0] = 0;
		a[1] &= MAX_LEN - 1;
		if (nr == SYS_mremap) {
			a[2] &= MAX_LEN - 1;
			a[4] = (uint64_t)(uintptr_t)mmzone + below(MMZONE);
		}
		break;
	case SYS_seccomp:
		/* Half the time a filter the sentry takes (the other half
		 * tests its argument checks). */
		if (below(2)) {
			a[0] = SECCOMP_SET_MODE_FILTER;
			a[1] = below(4) == 0 ? SECCOMP_FILTER_FLAG_TSYNC
					     : below(2) ? SECCOMP_FILTER_FLAG_LOG : 0;
			a[2] = filter_arg();
		}
		break;
	case SYS_prctl:
		/* Strict mode would end the caller at its next call: a
		 * filter instead. */
		if (a[0] == 22 /* PR_SET_SECCOMP */) {
			a[1] = 2;
			a[2] = filter_arg();
		}
		break;
	case SYS_arch_prctl:
		/* A new fs base breaks this program's own TLS (errno). */
		if (a[0] == 0x1001 || a[0] == 0x1002)
			a[0] = 0x1003;
		break;
	case SYS_rt_sigaction:
		/* A handler at a random address ends the run at the next
		 * signal: keep the default or ignore. */
		if (a[1] && a[1] >= (uint64_t)(uintptr_t)scratch &&
		    a[1] + 8 <= (uint64_t)(uintptr_t)scratch + SCRATCH) {
			uint64_t h = below(2);
			memcpy((void *)(uintptr_t)a[1], &h, 8);
		}
		break;
	}
}

#define MAX_THREADS 8
#define FORK_CALLS 50 /* calls a forked child makes */
static int nthreads = 1;

struct loop_arg {
	int k;
	long calls;
	uint64_t seed;
};

static void fuzz_loop(int k, long calls);
static void *loop_thread(void *p);

static void on_usr1(int sig)
{
	(void)sig;
}

static void catch_usr1(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
}

static void child(int k, long calls)
{
	setpgid(0, 0);
	signal(SIGALRM, SIG_DFL);
	alarm(2);
	/* Filters need it (or CAP_SYS_ADMIN, which random calls may drop). */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	rng = rng * 31 + (uint64_t)k + 1;
	/* With an inaccessible page on each side: a write that runs past
	 * its end must fault, not land in the next mapping (the progress
	 * page, say) as it would, rightly, on Linux. */
	uint8_t *area = mmap(NULL, SCRATCH + 2 * 4096, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	scratch = area == MAP_FAILED ? MAP_FAILED : area + 4096;
	if (area != MAP_FAILED &&
	    mprotect(scratch, SCRATCH, PROT_READ | PROT_WRITE) < 0)
		_exit(3);
	noaccess = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			0);
	mmzone = mmap(NULL, MMZONE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED || noaccess == MAP_FAILED ||
	    mmzone == MAP_FAILED)
		_exit(3);
	/* Signals it may send itself are ignored (a random handler is
	 * never installed: see tame). */
	for (int sig = 1; sig < 65; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGALRM &&
		    sig != SIGSEGV && sig != SIGBUS && sig != SIGILL &&
		    sig != SIGFPE && sig != SIGTRAP && sig != SIGSYS)
			signal(sig, SIG_IGN);
	catch_usr1();
	for (size_t i = 0; i < SCRATCH; i += 8) {
		uint64_t v = next();
		memcpy(scratch + i, &v, 8);
	}
	int p[2], s[2];
	if (pipe2(p, O_NONBLOCK) == 0) {
		fds[nfds++] = p[0];
		fds[nfds++] = p[1];
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s) == 0) {
		fds[nfds++] = s[0];
		fds[nfds++] = s[1];
	}
	int f = eventfd(0, EFD_NONBLOCK);
	if (f >= 0)
		fds[nfds++] = f;
	f = epoll_create1(0);
	if (f >= 0)
		fds[nfds++] = f;
	f = open("/tmp/sysfuzz-file", O_RDWR | O_CREAT, 0600);
	if (f >= 0)
		fds[nfds++] = f;
	f = open("/", O_RDONLY | O_DIRECTORY);
	if (f >= 0)
		fds[nfds++] = f;
	f = memfd_create("sysfuzz", 0);
	if (f >= 0)
		fds[nfds++] = f;
	fds[nfds++] = 0;
	fds[nfds++] = 1;
	fds[nfds++] = 1000;
	struct loop_arg la[MAX_THREADS];
	for (int j = 1; j < nthreads; j++) {
		pthread_t th;
		la[j] = (struct loop_arg){k, calls, next() | 1};
		pthread_create(&th, NULL, loop_thread, &la[j]);
	}
	fuzz_loop(k, calls);
	/* The other threads are not joined (one may be blocked for good):
	 * _exit ends them all. */
	_exit(0);
}

static void fuzz_loop(int k, long calls)
{
	for (long i = 0; i < calls; i++) {
		long nr = (long)below(MAX_NR + 8);
		/* One call in 256 installs a seccomp filter (tame): the
		 * calls after it run through the sentry's filters. */
		if (below(256) == 0)
			nr = SYS_seccomp;
		if (nr == SYS_fork && calls > FORK_CALLS) {
			/* A fork of whatever state the calls so far left
			 * (mappings, fds, signal state): the child makes a
			 * few calls of its own and goes; we wait for it. */
			pid_t c = fork();
			if (c == 0) {
				alarm(1);
				fuzz_loop(k, FORK_CALLS);
				_exit(0);
			}
			if (c > 0)
				waitpid(c, NULL, 0);
			continue;
		}
		if (left_out(nr))
			continue;
		uint64_t a[6];
		for (int j = 0; j < 6; j++)
			a[j] = arg();
		tame(nr, a);
		syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		__atomic_add_fetch(&progress[k], 1, __ATOMIC_RELAXED);
		/* Blocked signals, a handler at a random address or a
		 * changed mask would end or skew the run less if undone now
		 * and then. */
		if ((i & 255) == 255) {
			sigset_t none;
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			signal(SIGALRM, SIG_DFL);
			alarm(2);
			catch_usr1();
		}
		/* A signal with a handler now and then, delivered into
		 * whatever state the calls left (an alternate stack at a
		 * random place, say: then it is a SIGSEGV, as on Linux). */
		if ((i & 63) == 63)
			syscall(SYS_tgkill, getpid(), syscall(SYS_gettid),
				SIGUSR1);
	}
}

static void *loop_thread(void *p)
{
	struct loop_arg *la = p;
	rng = la->seed;
	fuzz_loop(la->k, la->calls);
	return NULL;
}

static pid_t running[2];
static int running_k[2];

static void watchdog(int sig)
{
	(void)sig;
	for (int i = 0; i < 2; i++)
		if (running[i] > 0)
			kill(running[i], SIGKILL);
}

int main(int argc, char **argv)
{
	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: sysfuzz SEED CHILDREN CALLS HOSTDIR "
				"VICTIMPID [THREADS]\n");
		return 2;
	}
	if (argc == 7) {
		nthreads = atoi(argv[6]);
		if (nthreads < 1 || nthreads > MAX_THREADS)
			return 2;
	}
	uint64_t seed = strtoull(argv[1], NULL, 0);
	int children = atoi(argv[2]);
	long calls = atol(argv[3]);
	hostdir = argv[4];
	victim = atol(argv[5]);
	char existing[4096];
	snprintf(existing, sizeof(existing), "%s/existing", hostdir);
	paths[1] = strdup(existing);
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, watchdog);
	progress = mmap(NULL, (size_t)children * sizeof(long) + 8,
			PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (progress == MAP_FAILED) {
		printf("FAIL mmap: %s\n", strerror(errno));
		return 1;
	}
	long total = 0;

	int started = 0, ended = 0, by_signal = 0;
	while (ended < children) {
		for (int i = 0; i < 2 && started < children; i++) {
			if (running[i] > 0)
				continue;
			fflush(stdout);
			pid_t pid = fork();
			if (pid < 0) {
				printf("FAIL fork: %s\n", strerror(errno));
				return 1;
			}
			if (pid == 0)
				child(started, calls);
			running[i] = pid;
			running_k[i] = started++;
		}
		alarm(10);
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		alarm(0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			printf("FAIL wait: %s\n", strerror(errno));
			return 1;
		}
		if (WIFSTOPPED(st)) {
			/* A child that made us its tracer (PTRACE_TRACEME)
			 * and stopped: it goes. */
			kill(pid, SIGKILL);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			if (running[i] != pid)
				continue;
			running[i] = 0;
			ended++;
			long made = progress[running_k[i]];
			total += made;
			if (WIFSIGNALED(st)) {
				by_signal++;
				printf("child %d: killed by signal %d after %ld "
				       "calls\n",
				       running_k[i], WTERMSIG(st), made);
			} else {
				printf("child %d: exited %d after %ld calls\n",
				       running_k[i], WEXITSTATUS(st), made);
			}
		}
	}
	printf("sysfuzz done: %d children, %ld calls, %d ended by a signal\n",
	       children, total, by_signal);
	return 0;
}
