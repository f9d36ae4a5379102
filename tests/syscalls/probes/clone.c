/*
 * clone: fork, vfork, clone and clone3.  Copy versus sharing of memory,
 * CLONE_VFORK suspending the parent, threads with the flag set glibc uses,
 * CLONE_PARENT_SETTID / CLONE_CHILD_SETTID / CLONE_CHILD_CLEARTID (with the
 * futex wake at exit), CLONE_FILES / CLONE_FS / CLONE_SIGHAND sharing,
 * CLONE_PARENT, clone3 with CLONE_PIDFD and a non-SIGCHLD exit signal, the
 * flag-combination errors, what fork does to masks and pending signals, and
 * the FPU state a fork child and a thread start with.
 *
 * Children made with clone() here run without a TLS block of their own
 * (no CLONE_SETTLS), so they only make raw system calls and touch globals.
 */
#include "probe_proc.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define STACK_SIZE (256 * 1024)

/* The flags glibc's pthread_create passes, minus CLONE_SETTLS. */
#define THREAD_FLAGS                                                           \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |    \
	 CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

static char *stack_top(void)
{
	char *s = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (s == MAP_FAILED) {
		perror("mmap stack");
		exit(2);
	}
	return s + STACK_SIZE;
}

static volatile long g_val;
static volatile long g_pid, g_tid, g_ppid;
static volatile long g_fd = -1;

static void fork_tests(void)
{
	long *shared = px_shared(4096);
	long me = getpid();

	g_val = 1;
	*shared = 1;
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		int ok = g_val == 1 && getppid() == me;
		g_val = 2;
		*shared = 2;
		_exit(ok ? 0 : 1);
	}
	CHECK_TRUE("fork returns a positive pid", pid > 0);
	px_expect_exit("fork child saw a copy of memory", pid, "exited 0");
	CHECK_TRUE("child's write to private memory not seen", g_val == 1);
	CHECK_TRUE("child's write to MAP_SHARED memory seen", *shared == 2);

	/* vfork: memory shared, parent held until the child exits. */
	g_val = 0;
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		for (long i = 0; i < 100000; i++)
			g_val = g_val + 1;
		_exit(4);
	}
	CHECK_TRUE("vfork: child's writes seen, child finished first",
		   g_val == 100000);
	px_expect_exit("vfork child", pid, "exited 4");
	munmap(shared, 4096);
}

static int vm_vfork_child(void *arg)
{
	for (long i = 0; i < 100000; i++)
		g_val = g_val + 1;
	g_pid = syscall(SYS_getpid);
	return 9;
}

static int novm_vfork_child(void *arg)
{
	int fd = *(int *)arg;
	char c = 'v';

	g_val = 77; /* a private copy: the parent must not see it */
	syscall(SYS_write, fd, &c, 1);
	return 3;
}

static void clone_vfork_tests(void)
{
	char *stk = stack_top();

	g_val = 0;
	fflush(stdout);
	long pid =
	    clone(vm_vfork_child, stk, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	CHECK_TRUE("clone(VM|VFORK): parent resumed after the child ended",
		   pid > 0 && g_val == 100000 && g_pid == pid);
	px_expect_exit("clone(VM|VFORK) child", pid, "exited 9");

	int p[2];
	if (pipe2(p, O_NONBLOCK) != 0) {
		check_ok("pipe2", -1, errno);
		return;
	}
	g_val = 0;
	pid = clone(novm_vfork_child, stk, CLONE_VFORK | SIGCHLD, &p[1]);
	char c = 0;
	/* The child wrote before exiting, and we were held until then. */
	CHECK_RET("clone(VFORK) without VM: child's byte already there",
		  read(p[0], &c, 1), 1);
	CHECK_TRUE("clone(VFORK) without VM: memory was copied", g_val == 0);
	px_expect_exit("clone(VFORK) child", pid, "exited 3");
	close(p[0]);
	close(p[1]);
	munmap(stk - STACK_SIZE, STACK_SIZE);
}

static pid_t g_ptid, g_ctid;
static uint32_t g_go;

static int thread_child(void *arg)
{
	g_pid = syscall(SYS_getpid);
	g_tid = syscall(SYS_gettid);
	g_ppid = syscall(SYS_getppid);
	/* Hold on until the parent has looked, so the wake is the exit's. */
	while (__atomic_load_n(&g_go, __ATOMIC_ACQUIRE) == 0)
		syscall(SYS_futex, &g_go, FUTEX_WAIT_PRIVATE, 0, NULL);
	return 0;
}

static void raw_thread_tests(void)
{
	char *stk = stack_top();

	g_go = 0;
	g_ptid = 0;
	g_ctid = -1;
	g_pid = g_tid = 0;
	long tid = clone(thread_child, stk, THREAD_FLAGS, NULL, &g_ptid, NULL,
			 &g_ctid);
	if (!CHECK_TRUE("clone(thread flags) returns a tid", tid > 0)) {
		munmap(stk - STACK_SIZE, STACK_SIZE);
		return;
	}
	CHECK_TRUE("CLONE_PARENT_SETTID: tid stored before clone returned",
		   g_ptid == tid);
	/* Wait until the thread has recorded its ids. */
	while (__atomic_load_n(&g_tid, __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	CHECK_TRUE("thread: getpid == mine", g_pid == getpid());
	CHECK_TRUE("thread: gettid == clone's return", g_tid == tid);
	CHECK_TRUE("thread: getppid == mine", g_ppid == getppid());
	CHECK_TRUE("CLONE_CHILD_CLEARTID word untouched while running",
		   g_ctid == -1);
	__atomic_store_n(&g_go, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &g_go, FUTEX_WAKE_PRIVATE, 1);
	/* The kernel zeroes the word and does a (shared) futex wake. */
	for (;;) {
		pid_t v = __atomic_load_n(&g_ctid, __ATOMIC_ACQUIRE);
		if (v == 0)
			break;
		syscall(SYS_futex, &g_ctid, FUTEX_WAIT, v, NULL);
	}
	CHECK_TRUE("CLONE_CHILD_CLEARTID: zeroed and woken at exit",
		   g_ctid == 0);
	CHECK_ERR("a thread is not a waitable child",
		  waitpid(tid, NULL, __WALL | WNOHANG), ECHILD);
	munmap(stk - STACK_SIZE, STACK_SIZE);
}

/* Fork-like raw clone(2): the child runs on a copy of our stack. */
static long raw_clone(unsigned long flags, pid_t *ptid, pid_t *ctid)
{
	return syscall(SYS_clone, flags, NULL, ptid, ctid, 0);
}

static void settid_tests(void)
{
	pid_t ptid = 0, ctid = 0;

	fflush(stdout);
	long pid = raw_clone(CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | SIGCHLD,
			     &ptid, &ctid);
	if (pid == 0)
		_exit(ctid == syscall(SYS_gettid) && ctid != 0 ? 0 : 1);
	CHECK_TRUE("fork-like clone: PARENT_SETTID in parent", ptid == pid);
	CHECK_TRUE("fork-like clone: CHILD_SETTID not in parent's copy",
		   ctid == 0);
	px_expect_exit("fork-like clone: CHILD_SETTID in child's copy", pid,
		       "exited 0");

	CHECK_ERR("clone SIGHAND without VM", raw_clone(CLONE_SIGHAND, 0, 0),
		  EINVAL);
	CHECK_ERR("clone THREAD without SIGHAND",
		  raw_clone(CLONE_THREAD | CLONE_VM, 0, 0), EINVAL);
	CHECK_ERR("clone NEWNS with FS",
		  raw_clone(CLONE_NEWNS | CLONE_FS, 0, 0), EINVAL);
}

static void *pthread_fn(void *arg)
{
	static __thread long tls = 100;

	tls += (long)arg;
	return (void *)(tls * 10 + (syscall(SYS_gettid) != getpid()));
}

static void pthread_tests(void)
{
	pthread_t t[4];
	int ok = 1;

	for (long i = 0; i < 4; i++)
		px_thread(&t[i], pthread_fn, (void *)i);
	for (long i = 0; i < 4; i++) {
		void *ret = NULL;
		pthread_join(t[i], &ret);
		/* Each thread starts from its own TLS image (100). */
		ok &= (long)ret == (100 + i) * 10 + 1;
	}
	CHECK_TRUE("threads: own TLS, own tid, joined values", ok);
}

/* CLONE_FILES / CLONE_FS / CLONE_SIGHAND children (VM + VFORK). */
static void sig_handler(int sig)
{
}

struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static int share_child(void *arg)
{
	long what = (long)arg;

	if (what == 0)
		g_fd = syscall(SYS_dup, 1);
	else if (what == 1)
		syscall(SYS_umask, 077);
	else {
		struct ksigaction ka, old;
		/* Copy the restorer from the parent's libc-installed entry. */
		syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 8);
		ka = old;
		ka.handler = (void *)sig_handler;
		syscall(SYS_rt_sigaction, SIGUSR2, &ka, NULL, 8);
	}
	return 0;
}

static void sharing_tests(void)
{
	char *stk = stack_top();
	struct sigaction sa, cur;
	long pid;

	g_fd = -1;
	pid = clone(share_child, stk,
		    CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, (void *)0);
	px_expect_exit("CLONE_FILES child", pid, "exited 0");
	CHECK_OK("CLONE_FILES: child's new fd is ours", fcntl(g_fd, F_GETFD));
	close(g_fd);
	g_fd = -1;
	pid = clone(share_child, stk, CLONE_VM | CLONE_VFORK | SIGCHLD,
		    (void *)0);
	px_expect_exit("copied-fd-table child", pid, "exited 0");
	CHECK_ERR("without CLONE_FILES: child's fd not ours",
		  fcntl(g_fd, F_GETFD), EBADF);

	umask(022);
	pid = clone(share_child, stk,
		    CLONE_VM | CLONE_VFORK | CLONE_FS | SIGCHLD, (void *)1);
	px_expect_exit("CLONE_FS child", pid, "exited 0");
	CHECK_RET("CLONE_FS: child's umask is ours", umask(022), 077);
	pid = clone(share_child, stk, CLONE_VM | CLONE_VFORK | SIGCHLD,
		    (void *)1);
	px_expect_exit("copied-fs child", pid, "exited 0");
	CHECK_RET("without CLONE_FS: our umask unchanged", umask(022), 022);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sigaction(SIGUSR1, &sa, NULL);
	pid =
	    clone(share_child, stk,
		  CLONE_VM | CLONE_VFORK | CLONE_SIGHAND | SIGCHLD, (void *)2);
	px_expect_exit("CLONE_SIGHAND child", pid, "exited 0");
	sigaction(SIGUSR2, NULL, &cur);
	CHECK_TRUE("CLONE_SIGHAND: child's handler is ours",
		   cur.sa_handler == sig_handler);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGUSR2, &sa, NULL);
	pid = clone(share_child, stk, CLONE_VM | CLONE_VFORK | SIGCHLD,
		    (void *)2);
	px_expect_exit("copied-handlers child", pid, "exited 0");
	sigaction(SIGUSR2, NULL, &cur);
	CHECK_TRUE("without CLONE_SIGHAND: ours unchanged",
		   cur.sa_handler == SIG_DFL);
	sigaction(SIGUSR1, &sa, NULL);
	munmap(stk - STACK_SIZE, STACK_SIZE);
}

/*
 * CLONE_PARENT from a child: the grandchild becomes our child.  (Not from
 * the probe itself: the init of a pid namespace may not use it.)
 */
static void clone_parent_test(void)
{
	long *shared = px_shared(4096);
	long me = getpid();

	fflush(stdout);
	pid_t mid = px_fork();
	if (mid == 0) {
		long g = raw_clone(CLONE_PARENT | SIGCHLD, 0, 0);
		if (g == 0) {
			shared[1] = getppid() == me;
			_exit(8);
		}
		shared[0] = g;
		_exit(g > 0 ? 0 : 1);
	}
	px_expect_exit("CLONE_PARENT caller", mid, "exited 0");
	px_expect_exit("CLONE_PARENT child is our child", (pid_t)shared[0],
		       "exited 8");
	CHECK_TRUE("CLONE_PARENT child's ppid == our pid", shared[1] == 1);
	munmap(shared, 4096);
}

static long clone3(struct clone_args *ca, size_t size)
{
	return syscall(SYS_clone3, ca, size);
}

static void clone3_tests(void)
{
	struct clone_args ca;
	int pidfd = -1;
	siginfo_t si;

	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	fflush(stdout);
	long pid = clone3(&ca, sizeof(ca));
	if (pid == 0)
		_exit(5);
	CHECK_TRUE("clone3(CLONE_PIDFD): pid and pidfd", pid > 0 && pidfd >= 0);
	CHECK_TRUE("pidfd is close-on-exec",
		   fcntl(pidfd, F_GETFD) == FD_CLOEXEC);
	memset(&si, 0, sizeof(si));
	CHECK_OK("waitid(P_PIDFD)", waitid(P_PIDFD, pidfd, &si, WEXITED));
	CHECK_TRUE("P_PIDFD: that child, exited 5",
		   si.si_pid == pid && si.si_code == CLD_EXITED &&
		       si.si_status == 5);
	close(pidfd);

	/* exit_signal SIGUSR1: a "clone" child, invisible to plain wait. */
	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGUSR1;
	fflush(stdout);
	pid = clone3(&ca, CLONE_ARGS_SIZE_VER0);
	if (pid == 0)
		_exit(6);
	CHECK_ERR("plain waitpid ignores a non-SIGCHLD child",
		  waitpid(pid, NULL, 0), ECHILD);
	int st = 0;
	CHECK_TRUE("waitpid __WCLONE finds it",
		   px_waitpid(pid, &st, __WCLONE) == pid);
	check_status("its status", st, "exited 6");
	struct timespec zero = {0, 0};
	memset(&si, 0, sizeof(si));
	CHECK_RET("its exit signal SIGUSR1 was queued",
		  sigtimedwait(&usr1, &si, &zero), SIGUSR1);
	CHECK_TRUE("exit signal carries CLD_EXITED and status 6",
		   si.si_code == CLD_EXITED && si.si_status == 6 &&
		       si.si_pid == pid);
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* exit_signal 0: no signal at all, __WALL reaps it. */
	memset(&ca, 0, sizeof(ca));
	fflush(stdout);
	pid = clone3(&ca, sizeof(ca));
	if (pid == 0)
		_exit(7);
	st = 0;
	CHECK_TRUE("exit_signal 0: waitpid __WALL finds it",
		   px_waitpid(pid, &st, __WALL) == pid);
	check_status("its status", st, "exited 7");

	/* Errors. */
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	CHECK_ERR("clone3 size 0", clone3(&ca, 0), EINVAL);
	CHECK_ERR("clone3 size below VER0",
		  clone3(&ca, CLONE_ARGS_SIZE_VER0 - 8), EINVAL);
	CHECK_ERR("clone3 NULL args", clone3(NULL, sizeof(ca)), EFAULT);
	static char big[8192] __attribute__((aligned(8)));
	memcpy(big, &ca, sizeof(ca));
	CHECK_ERR("clone3 size > page", clone3((void *)big, sizeof(big)),
		  E2BIG);
	big[sizeof(ca)] = 1;
	CHECK_ERR("clone3 unknown non-zero tail",
		  clone3((void *)big, sizeof(ca) + 8), E2BIG);
	ca.flags = CLONE_THREAD | CLONE_VM;
	ca.exit_signal = 0;
	CHECK_ERR("clone3 THREAD without SIGHAND", clone3(&ca, sizeof(ca)),
		  EINVAL);
	ca.flags = CLONE_SIGHAND;
	CHECK_ERR("clone3 SIGHAND without VM", clone3(&ca, sizeof(ca)), EINVAL);
	ca.flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
	ca.exit_signal = SIGCHLD;
	CHECK_ERR("clone3 thread with an exit signal", clone3(&ca, sizeof(ca)),
		  EINVAL);
	ca.flags = 0;
	ca.exit_signal = 65;
	CHECK_ERR("clone3 exit_signal 65", clone3(&ca, sizeof(ca)), EINVAL);
	ca.exit_signal = SIGCHLD;
	ca.stack = (uintptr_t)big;
	ca.stack_size = 0;
	CHECK_ERR("clone3 stack without a size", clone3(&ca, sizeof(ca)),
		  EINVAL);
	ca.stack = 0;
	ca.flags = CLONE_DETACHED; /* unknown to clone3 */
	CHECK_ERR("clone3 CLONE_DETACHED", clone3(&ca, sizeof(ca)), EINVAL);
	CHECK_ERR("no children left behind",
		  waitpid(-1, NULL, __WALL | WNOHANG), ECHILD);
}

static void *mask_thread(void *arg)
{
	sigset_t m, p;

	pthread_sigmask(SIG_BLOCK, NULL, &m);
	sigpending(&p);
	return (void *)(long)(sigismember(&m, SIGUSR2) * 2 +
			      sigismember(&p, SIGUSR2));
}

static void inherit_tests(void)
{
	sigset_t m, p;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	kill(getpid(), SIGUSR2);
	sigpending(&p);
	CHECK_TRUE("SIGUSR2 blocked and pending", sigismember(&p, SIGUSR2));
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		sigset_t cm, cp;
		sigprocmask(SIG_BLOCK, NULL, &cm);
		sigpending(&cp);
		_exit(sigismember(&cm, SIGUSR2) * 2 +
		      sigismember(&cp, SIGUSR2));
	}
	px_expect_exit("fork child: mask inherited, pending not", pid,
		       "exited 2");
	pthread_t t;
	void *ret = NULL;
	px_thread(&t, mask_thread, NULL);
	pthread_join(t, &ret);
	CHECK_RET("thread: mask inherited, process-wide pending visible",
		  (long)ret, 3);
	/* Ignoring a pending signal discards it. */
	signal(SIGUSR2, SIG_IGN);
	sigpending(&p);
	CHECK_TRUE("SIG_IGN discards the pending SIGUSR2",
		   !sigismember(&p, SIGUSR2));
	signal(SIGUSR2, SIG_DFL);
	sigprocmask(SIG_UNBLOCK, &m, NULL);
}

/* The FPU state a new process or thread starts with is its creator's: a
 * rounding mode in MXCSR and the x87 control word, and a vector register
 * across a raw fork (the child compares xmm15 with what the parent
 * loaded, with nothing between the load and the syscall). */
static uint32_t get_mxcsr(void)
{
	uint32_t v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static uint16_t get_fcw(void)
{
	uint16_t v;
	__asm__ volatile("fnstcw %0" : "=m"(v));
	return v;
}

static void *fpu_thread(void *arg)
{
	(void)arg;
	return (void *)(long)(get_mxcsr() == 0x7f80 && get_fcw() == 0x0f7f);
}

static void fpu_inherit_tests(void)
{
	uint32_t mx0 = get_mxcsr(), mx = 0x7f80; /* round toward zero */
	uint16_t cw0 = get_fcw(), cw = 0x0f7f; /* the same, x87 */
	static const uint64_t pat[2] = { 0x0123456789abcdefULL,
					 0xfedcba9876543210ULL };
	uint64_t got[2] = { 0, 0 };
	long ret;

	fflush(stdout);
	__asm__ volatile("ldmxcsr %0" ::"m"(mx));
	__asm__ volatile("fldcw %0" ::"m"(cw));
	__asm__ volatile("movdqu %[p], %%xmm15\n\t"
			 "syscall\n\t"
			 "movdqu %%xmm15, %[g]"
			 : "=a"(ret), [g] "=m"(got)
			 : "0"((long)SYS_fork), [p] "m"(pat)
			 : "rcx", "r11", "xmm15", "memory");
	if (ret == 0)
		syscall(SYS_exit_group,
			got[0] == pat[0] && got[1] == pat[1] &&
					get_mxcsr() == mx && get_fcw() == cw
				? 0
				: 1);
	/* The whole vector register, where the CPU has AVX: ymm15's upper
	 * half too. */
	int ymm_ok = 1;
	if (__builtin_cpu_supports("avx")) {
		static const uint64_t ypat[4] = { 0x1111111122222222ULL,
						  0x3333333344444444ULL,
						  0x5555555566666666ULL,
						  0x7777777788888888ULL };
		uint64_t yg[4] = { 0, 0, 0, 0 };
		long yr;
		fflush(stdout);
		__asm__ volatile("vmovdqu %[p], %%ymm15\n\t"
				 "syscall\n\t"
				 "vmovdqu %%ymm15, %[g]"
				 : "=a"(yr), [g] "=m"(yg)
				 : "0"((long)SYS_fork), [p] "m"(ypat)
				 : "rcx", "r11", "xmm15", "memory");
		if (yr == 0)
			syscall(SYS_exit_group,
				memcmp(yg, ypat, sizeof(yg)) == 0 ? 0 : 1);
		int st = 0;
		ymm_ok = yr > 0 && waitpid((pid_t)yr, &st, 0) == yr &&
			 WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	CHECK_TRUE("fork child starts with the parent's ymm15 (upper half too)",
		   ymm_ok);
	pthread_t th;
	void *res = NULL;
	int terr = pthread_create(&th, NULL, fpu_thread, NULL);
	if (terr == 0)
		pthread_join(th, &res);
	__asm__ volatile("ldmxcsr %0" ::"m"(mx0));
	__asm__ volatile("fldcw %0" ::"m"(cw0));
	CHECK_TRUE("fork: parent's xmm15 kept", got[0] == pat[0] &&
							got[1] == pat[1]);
	px_expect_exit("fork child starts with the parent's MXCSR, x87 "
		       "control word and xmm15", (pid_t)ret, "exited 0");
	CHECK_TRUE("a thread starts with its creator's MXCSR and x87 control "
		   "word", terr == 0 && res == (void *)1L);
}

int main(void)
{
	px_reset();
	fork_tests();
	clone_vfork_tests();
	raw_thread_tests();
	settid_tests();
	pthread_tests();
	sharing_tests();
	clone_parent_test();
	clone3_tests();
	inherit_tests();
	fpu_inherit_tests();
	return probe_done();
}
