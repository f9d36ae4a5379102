/* Probe: seccomp(2) and prctl(PR_SET/GET_SECCOMP) — filters a process
 * installs on itself. Checked: argument and program validation (EFAULT,
 * EINVAL for bad instructions, loads, jumps, scratch memory read before
 * written, lengths), the actions (ERRNO with its data capped at 4095,
 * TRAP's SIGSYS and its siginfo, KILL_THREAD, KILL_PROCESS even with a
 * SIGSYS handler, LOG, TRACE without a tracer), argument matching, the
 * precedence of stacked filters, inheritance by fork and by threads,
 * TSYNC, strict mode, PR_GET_SECCOMP and /proc/self/status, and
 * SECCOMP_GET_ACTION_AVAIL. Each filter lives in a child of its own. */
#define _GNU_SOURCE
#include "probe.h"
#include "probe_proc.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <ucontext.h>

#define NR_OFF offsetof(struct seccomp_data, nr)
#define ARCH_OFF offsetof(struct seccomp_data, arch)
#define ARG0_OFF offsetof(struct seccomp_data, args[0])

static long sc(unsigned op, unsigned flags, void *args)
{
	return syscall(SYS_seccomp, op, flags, args);
}

/* Installs: if nr == which, return action; else allow. */
static long install_on(int which, unsigned action, unsigned flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH_OFF),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)which, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = {sizeof(f) / sizeof(f[0]), f};
	return sc(SECCOMP_SET_MODE_FILTER, flags, &p);
}

static void no_core(void)
{
	struct rlimit r = {0, 0};
	setrlimit(RLIMIT_CORE, &r);
}

static int status_field(const char *name)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/status", "r");
	int v = -1;
	size_t n = strlen(name);
	if (!f)
		return -2;
	while (fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, name, n) && buf[n] == ':')
			v = atoi(buf + n + 1);
	fclose(f);
	return v;
}

/* ---- validation ---------------------------------------------------------- */

static long try_prog(struct sock_filter *f, unsigned short len)
{
	struct sock_fprog p = {len, f};
	return sc(SECCOMP_SET_MODE_FILTER, 0, &p);
}

static void validation(void)
{
	struct sock_filter ok[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter misaligned[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter past_end[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, sizeof(struct seccomp_data)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter half[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter jump_out[] = {
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter no_ret[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0)};
	struct sock_filter uninit[] = {
		BPF_STMT(BPF_LD | BPF_MEM, 3),
		BPF_STMT(BPF_RET | BPF_A, 0)};
	struct sock_filter scratch[] = {
		BPF_STMT(BPF_LD | BPF_IMM, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_ST, 3),
		BPF_STMT(BPF_LD | BPF_IMM, 0),
		BPF_STMT(BPF_LD | BPF_MEM, 3),
		BPF_STMT(BPF_RET | BPF_A, 0)};
	struct sock_filter bad_mem[] = {
		BPF_STMT(BPF_ST, 16),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter div0[] = {
		BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter dead_end[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0)};
	struct sock_filter shift32[] = {
		BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter shift31[] = {
		BPF_STMT(BPF_LD | BPF_IMM, 1),
		BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 31),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 31),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter ld_ind[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	static struct sock_filter big[BPF_MAXINSNS + 1];
	for (int i = 0; i < BPF_MAXINSNS + 1; i++)
		big[i] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						      SECCOMP_RET_ALLOW);

	CHECK_RET("PR_GET_SECCOMP before any filter",
		  prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 0);
	CHECK_RET("/proc/self/status Seccomp before", status_field("Seccomp"), 0);
	CHECK_ERR("unknown operation", sc(99, 0, NULL), EINVAL);
	CHECK_ERR("SET_MODE_FILTER NULL program", sc(SECCOMP_SET_MODE_FILTER, 0, NULL),
		  EFAULT);
	CHECK_ERR("unknown flag", sc(SECCOMP_SET_MODE_FILTER, 1U << 20, NULL),
		  EINVAL);
	CHECK_ERR("SET_MODE_STRICT with flags",
		  sc(SECCOMP_SET_MODE_STRICT, 1, NULL), EINVAL);
	CHECK_ERR("length 0", try_prog(ok, 0), EINVAL);
	CHECK_ERR("length 4097", try_prog(big, BPF_MAXINSNS + 1), EINVAL);
	CHECK_ERR("misaligned load", try_prog(misaligned, 2), EINVAL);
	CHECK_ERR("load past seccomp_data", try_prog(past_end, 2), EINVAL);
	CHECK_ERR("16-bit load", try_prog(half, 2), EINVAL);
	CHECK_ERR("indirect load", try_prog(ld_ind, 2), EINVAL);
	CHECK_ERR("jump past the end", try_prog(jump_out, 2), EINVAL);
	CHECK_ERR("last instruction not a return", try_prog(no_ret, 1), EINVAL);
	CHECK_ERR("scratch read before written", try_prog(uninit, 2), EINVAL);
	CHECK_ERR("scratch slot 16", try_prog(bad_mem, 2), EINVAL);
	CHECK_ERR("division by constant 0", try_prog(div0, 2), EINVAL);
	CHECK_ERR("an unreachable last instruction that does not return",
		  try_prog(dead_end, 2), EINVAL);
	CHECK_ERR("shift by constant 32", try_prog(shift32, 2), EINVAL);
	CHECK_RET("PR_GET_SECCOMP after refusals",
		  prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 0);
	/* Not an ABI error: no NO_NEW_PRIVS needed as root (CAP_SYS_ADMIN). */
	CHECK_OK("a filter using scratch memory", try_prog(scratch, 5));
	CHECK_OK("a filter shifting by 31 (it must allow)", try_prog(shift31, 6));
	CHECK_TRUE("still alive after both", getppid() > 0);
	CHECK_RET("PR_GET_SECCOMP with a filter",
		  prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 2);
	CHECK_RET("/proc/self/status Seccomp", status_field("Seccomp"), 2);
	CHECK_RET("/proc/self/status Seccomp_filters",
		  status_field("Seccomp_filters"), 2);
	CHECK_ERR("strict mode over filters",
		  prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0), EINVAL);
}

/* ---- actions ------------------------------------------------------------- */

static void errno_action(void)
{
	CHECK_OK("install ERRNO(ENOTTY) on getpid",
		 install_on(SYS_getpid, SECCOMP_RET_ERRNO | ENOTTY, 0));
	CHECK_ERR("getpid", syscall(SYS_getpid), ENOTTY);
	CHECK_TRUE("getppid still runs", syscall(SYS_getppid) > 0);
	CHECK_OK("install ERRNO(5000) on getuid",
		 install_on(SYS_getuid, SECCOMP_RET_ERRNO | 5000, 0));
	errno = 0;
	long r = syscall(SYS_getuid);
	CHECK_TRUE("getuid: -1 with errno 4095", r == -1 && errno == 4095);
	CHECK_RET("Seccomp_filters", status_field("Seccomp_filters"), 2);

	/* Inherited by a fork child. */
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0)
		_exit(syscall(SYS_getpid) == -1 && errno == ENOTTY ? 0 : 1);
	px_expect_exit("a fork child is filtered too", pid, "exited 0");
}

static void *thread_getpid(void *arg)
{
	(void)arg;
	errno = 0;
	long r = syscall(SYS_getpid);
	return (void *)(long)(r == -1 ? errno : 0);
}

static void thread_inherits(void)
{
	pthread_t t;
	void *ret;
	CHECK_OK("install ERRNO(EXDEV) on getpid",
		 install_on(SYS_getpid, SECCOMP_RET_ERRNO | EXDEV, 0));
	px_thread(&t, thread_getpid, NULL);
	pthread_join(t, &ret);
	CHECK_TRUE("a new thread is filtered too", (long)ret == EXDEV);
}

static volatile int tsync_go, tsync_done;
static volatile long tsync_err;

static void *tsync_thread(void *arg)
{
	(void)arg;
	while (!tsync_go)
		sched_yield();
	tsync_err = (long)thread_getpid(NULL);
	tsync_done = 1;
	return NULL;
}

static void tsync(void)
{
	pthread_t t;
	px_thread(&t, tsync_thread, NULL);
	CHECK_RET("install with TSYNC",
		  install_on(SYS_getpid, SECCOMP_RET_ERRNO | EXDEV,
			     SECCOMP_FILTER_FLAG_TSYNC),
		  0);
	tsync_go = 1;
	pthread_join(t, NULL);
	CHECK_TRUE("a thread that ran before is filtered", tsync_err == EXDEV);
}

static void precedence(void)
{
	struct sock_filter allow[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_fprog p = {1, allow};
	CHECK_OK("install ERRNO(EPERM) on getpid",
		 install_on(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, 0));
	CHECK_OK("then one that allows everything",
		 sc(SECCOMP_SET_MODE_FILTER, 0, &p));
	CHECK_ERR("the earlier ERRNO still wins", syscall(SYS_getpid), EPERM);
	CHECK_OK("then ERRNO(EIO) on getpid",
		 install_on(SYS_getpid, SECCOMP_RET_ERRNO | EIO, 0));
	CHECK_ERR("equal actions: the newest filter's data",
		  syscall(SYS_getpid), EIO);
	CHECK_OK("then TRACE on getpid",
		  install_on(SYS_getpid, SECCOMP_RET_TRACE, 0));
	CHECK_ERR("ERRNO outranks TRACE", syscall(SYS_getpid), EIO);
	CHECK_OK("TRACE on getppid",
		 install_on(SYS_getppid, SECCOMP_RET_TRACE | 7, 0));
	CHECK_ERR("TRACE without a tracer", syscall(SYS_getppid), ENOSYS);
	CHECK_OK("LOG on getuid", install_on(SYS_getuid, SECCOMP_RET_LOG, 0));
	CHECK_TRUE("LOG lets it run", syscall(SYS_getuid) >= 0);
}

/* Matching an argument: dup(fd) fails with EBADE only for fd 999. */
static void arguments(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_OFF),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 999, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EBADE),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = {sizeof(f) / sizeof(f[0]), f};
	CHECK_OK("install: dup(999) fails with EBADE",
		 sc(SECCOMP_SET_MODE_FILTER, 0, &p));
	CHECK_ERR("dup(999)", dup(999), EBADE);
	CHECK_ERR("dup(998) runs (and finds no fd)", dup(998), EBADF);
	int fd = dup(1);
	CHECK_TRUE("dup(1) runs", fd >= 0);
}

static volatile long trap_nr = -1, trap_arch, trap_errno, trap_code,
		     trap_rax = -1;

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	(void)sig;
	trap_nr = si->si_syscall;
	trap_arch = si->si_arch;
	trap_errno = si->si_errno;
	trap_code = si->si_code;
	trap_rax = uc->uc_mcontext.gregs[REG_RAX];
	/* The call's result, as the handler says. */
	uc->uc_mcontext.gregs[REG_RAX] = 777;
}

static void catch_sigsys(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
}

static void trap_action(void)
{
	catch_sigsys();
	CHECK_OK("install TRAP(42) on getuid",
		 install_on(SYS_getuid, SECCOMP_RET_TRAP | 42, 0));
	CHECK_RET("getuid returns what the handler set", syscall(SYS_getuid),
		  777);
	CHECK_RET("si_code SYS_SECCOMP", trap_code, 1);
	CHECK_RET("si_syscall", trap_nr, SYS_getuid);
	CHECK_TRUE("si_arch x86-64", trap_arch == AUDIT_ARCH_X86_64);
	CHECK_RET("si_errno is the filter's data", trap_errno, 42);
	CHECK_RET("rax in the handler is the call's number", trap_rax,
		  SYS_getuid);
}

static void kill_process_child(void)
{
	catch_sigsys();
	no_core();
	install_on(SYS_getuid, SECCOMP_RET_KILL_PROCESS, 0);
	syscall(SYS_getuid);
	_exit(3);
}

static void kill_thread_alone(void)
{
	no_core();
	install_on(SYS_getuid, SECCOMP_RET_KILL_THREAD, 0);
	syscall(SYS_getuid);
	_exit(3);
}

static void *killed_thread(void *arg)
{
	(void)arg;
	syscall(SYS_getuid);
	return (void *)1L;
}

static void kill_thread_of_many(void)
{
	pthread_t t;
	no_core();
	install_on(SYS_getuid, SECCOMP_RET_KILL_THREAD, 0);
	px_thread(&t, killed_thread, NULL);
	pthread_join(t, NULL);
	/* Only that thread went: this one goes on. */
	_exit(4);
}

static void strict_child(void)
{
	no_core();
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) != 0)
		_exit(2);
	static const char msg[] = "strict: write still runs\n";
	if (write(1, msg, sizeof(msg) - 1) != sizeof(msg) - 1)
		syscall(SYS_exit, 5);
	syscall(SYS_getpid);
	syscall(SYS_exit, 6);
}

static pid_t fork_run(void (*fn)(void))
{
	pid_t pid = px_fork();
	if (pid == 0) {
		fn();
		_exit(9);
	}
	return pid;
}

static void action_avail(void)
{
	static const struct {
		const char *name;
		unsigned action;
	} a[] = {
		{"KILL_PROCESS", SECCOMP_RET_KILL_PROCESS},
		{"KILL_THREAD", SECCOMP_RET_KILL_THREAD},
		{"TRAP", SECCOMP_RET_TRAP},
		{"ERRNO", SECCOMP_RET_ERRNO},
		{"TRACE", SECCOMP_RET_TRACE},
		{"LOG", SECCOMP_RET_LOG},
		{"ALLOW", SECCOMP_RET_ALLOW},
	};
	char label[64];
	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		unsigned v = a[i].action;
		snprintf(label, sizeof(label), "GET_ACTION_AVAIL %s", a[i].name);
		CHECK_OK(label, sc(SECCOMP_GET_ACTION_AVAIL, 0, &v));
	}
	unsigned bogus = 0x12340000;
	CHECK_ERR("GET_ACTION_AVAIL unknown", sc(SECCOMP_GET_ACTION_AVAIL, 0, &bogus),
		  EOPNOTSUPP);
	CHECK_ERR("GET_ACTION_AVAIL with flags",
		  sc(SECCOMP_GET_ACTION_AVAIL, 1, &bogus), EINVAL);
}

int main(void)
{
	px_reset();
	action_avail();
	px_child("validation", validation);
	px_child("ERRNO", errno_action);
	px_child("threads inherit", thread_inherits);
	px_child("TSYNC", tsync);
	px_child("precedence", precedence);
	px_child("arguments", arguments);
	px_child("TRAP", trap_action);
	px_expect_exit("KILL_PROCESS, SIGSYS handler or not",
		       fork_run(kill_process_child), "killed by SIGSYS");
	px_expect_exit("KILL_THREAD, the only thread",
		       fork_run(kill_thread_alone), "killed by SIGSYS");
	px_expect_exit("KILL_THREAD, one of two threads",
		       fork_run(kill_thread_of_many), "exited 4");
	px_expect_exit("strict mode: getpid kills", fork_run(strict_child),
		       "killed by SIGKILL");
	return probe_done();
}
