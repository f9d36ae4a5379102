/*
 * wait: exit and exit_group with several threads, wait4 and waitid (WNOHANG,
 * WUNTRACED/WSTOPPED, WCONTINUED, WNOWAIT, P_PID, P_PGID, P_ALL, P_PIDFD),
 * rusage, SIGCHLD delivery with its si_code/si_status, SA_NOCLDSTOP,
 * SA_NOCLDWAIT and SIG_IGN auto-reaping, PR_SET_PDEATHSIG (including the
 * parent *thread* exiting), pidfd_open, pidfd_send_signal and poll on a
 * pidfd, and on a thread's own pidfd (PIDFD_THREAD).
 *
 * The probe is a child subreaper so that grandchildren orphaned by a test
 * come back to it in both the native and the sandboxed run.  SIGCHLD
 * notifications are collected with sigwaitinfo while SIGCHLD is blocked:
 * the kernel makes a stop or exit visible to wait() slightly before it
 * queues SIGCHLD, so "pending right after wait returned" would be a race.
 */
#include "probe_proc.h"

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#define NO_SUCH_PID 0x3fffffff

static long *shm;

static sigset_t chld_set;

/* Next SIGCHLD notification, as "CLD_x status" words. */
static const char *next_sigchld(pid_t want_pid)
{
	static char buf[64];
	siginfo_t si;
	int r;

	do
		r = sigwaitinfo(&chld_set, &si);
	while (r == -1 && errno == EINTR);
	if (r != SIGCHLD)
		return "no SIGCHLD";
	const char *code = si.si_code == CLD_EXITED	 ? "CLD_EXITED"
			   : si.si_code == CLD_KILLED	 ? "CLD_KILLED"
			   : si.si_code == CLD_DUMPED	 ? "CLD_DUMPED"
			   : si.si_code == CLD_STOPPED	 ? "CLD_STOPPED"
			   : si.si_code == CLD_CONTINUED ? "CLD_CONTINUED"
							 : "CLD_?";
	if (si.si_code == CLD_EXITED)
		snprintf(buf, sizeof(buf), "%s %d", code, si.si_status);
	else
		snprintf(buf, sizeof(buf), "%s %s", code,
			 px_signame(si.si_status));
	if (si.si_pid != want_pid || si.si_uid != getuid())
		strcat(buf, " (wrong pid/uid)");
	return buf;
}

static void check_sigchld(const char *label, pid_t pid, const char *want)
{
	const char *got = next_sigchld(pid);

	printf("%s: %s\n", label, got);
	if (strcmp(got, want) != 0)
		probe_mismatch(label, want, got);
}

static int pending_sigchld(void)
{
	sigset_t p;

	sigpending(&p);
	return sigismember(&p, SIGCHLD);
}

/* A child that runs fn (which may block on the gate) then exits. */
static pid_t spawn(int (*fn)(int), int arg)
{
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

static int gate_r = -1, gate_w = -1;

static void new_gate(void)
{
	int p[2];

	if (gate_r >= 0) {
		close(gate_r);
		close(gate_w);
	}
	if (pipe(p) != 0) {
		perror("pipe");
		exit(2);
	}
	gate_r = p[0];
	gate_w = p[1];
}

static int wait_gate_then_exit(int code)
{
	px_pend(gate_r);
	return code;
}

static int stop_self_then_gate(int code)
{
	kill(getpid(), SIGSTOP);
	px_pend(gate_r);
	return code;
}

/* ---- exit_group and the leader's status ------------------------------- */

static uint32_t never;

static void *block_forever(void *arg)
{
	for (;;)
		px_futex(&never, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

static void *exit_group_9(void *arg)
{
	syscall(SYS_exit_group, 9);
	return NULL;
}

static int threads_exit_group(int unused)
{
	pthread_t t;

	for (int i = 0; i < 3; i++)
		px_thread(&t, block_forever, NULL);
	px_thread(&t, exit_group_9, NULL);
	block_forever(NULL);
	return 1;
}

static uint32_t leader_gone;

/* Runs once the leader has left (its clear_child_tid word was zeroed). */
static void *exit_5_after_leader(void *arg)
{
	while (__atomic_load_n(&leader_gone, __ATOMIC_ACQUIRE) != 0)
		px_futex(&leader_gone, FUTEX_WAIT, 1, NULL, NULL, 0);
	syscall(SYS_exit, 5);
	return NULL;
}

/*
 * The leader leaves with exit(3), the last thread with exit(5).  Linux
 * reports the code of the thread that exits last.
 */
static int leader_exits_first(int unused)
{
	pthread_t t;

	leader_gone = 1;
	syscall(SYS_set_tid_address, &leader_gone);
	px_thread(&t, exit_5_after_leader, NULL);
	syscall(SYS_exit, 3);
	return 1;
}

static void *exit_5(void *arg)
{
	syscall(SYS_exit, 5);
	return NULL;
}

static int leader_exits_last(int unused)
{
	pthread_t t;

	px_thread(&t, exit_5, NULL);
	/* The kernel's CLONE_CHILD_CLEARTID wake ends the join. */
	pthread_join(t, NULL);
	syscall(SYS_exit, 3);
	return 1;
}

static void *exit_group_from_main(void *arg)
{
	px_post(gate_w);
	return block_forever(NULL);
}

static int main_exit_group_with_blocked_threads(int unused)
{
	pthread_t t;

	for (int i = 0; i < 4; i++) {
		px_thread(&t, exit_group_from_main, NULL);
		px_pend(gate_r);
	}
	syscall(SYS_exit_group, 4);
	return 1;
}

static void exit_tests(void)
{
	px_expect_exit("exit_group(9) from one of 4 threads",
		       spawn(threads_exit_group, 0), "exited 9");
	px_expect_exit("leader exit(3), then last thread exit(5)",
		       spawn(leader_exits_first, 0), "exited 5");
	px_expect_exit("thread exit(5), then leader exit(3)",
		       spawn(leader_exits_last, 0), "exited 3");
	new_gate();
	px_expect_exit("exit_group(4) from main, 4 threads blocked",
		       spawn(main_exit_group_with_blocked_threads, 0),
		       "exited 4");
}

/* ---- wait4 -------------------------------------------------------------- */

/* Uses 30 ms of CPU and touches TOUCH_PAGES fresh pages (small pages:
 * one minor fault each). */
#define TOUCH_PAGES 1024
static int burn_and_exit(int code)
{
	size_t len = TOUCH_PAGES * 4096UL;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 9;
	madvise(m, len, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < len; i += 4096)
		m[i] = 1;
	px_burn_cpu(30 * 1000000LL);
	return code;
}

/* Reaps a grandchild that does burn_and_exit's work, and does none
 * itself: its rusage in wait4 is its own and its reaped children's. */
static int reap_burner(int code)
{
	pid_t pid = spawn(burn_and_exit, 0);
	int st;
	if (waitpid(pid, &st, 0) != pid || st != 0)
		return 8;
	return code;
}

static void wait4_tests(void)
{
	int st;
	struct rusage ru;

	CHECK_ERR("wait4 without children", wait4(-1, &st, 0, NULL), ECHILD);
	CHECK_ERR("wait4 WNOHANG without children",
		  wait4(-1, &st, WNOHANG, NULL), ECHILD);

	new_gate();
	pid_t pid = spawn(wait_gate_then_exit, 2);
	CHECK_RET("wait4 WNOHANG, child running",
		  wait4(pid, &st, WNOHANG, NULL), 0);
	CHECK_ERR("wait4 with WNOWAIT (waitid only)",
		  wait4(pid, &st, WNOWAIT, NULL), EINVAL);
	CHECK_ERR("wait4 with an unknown option bit",
		  wait4(pid, &st, 0x100, NULL), EINVAL);
	CHECK_ERR("wait4 for a pid that is not our child",
		  wait4(NO_SUCH_PID, &st, 0, NULL), ECHILD);
	/* A zombie still accepts signals. */
	px_post(gate_w);
	siginfo_t si;
	waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	CHECK_OK("kill(zombie, SIGKILL)", kill(pid, SIGKILL));
	px_expect_exit("zombie keeps its exit status", pid, "exited 2");

	/* Stop and continue. */
	new_gate();
	pid = spawn(stop_self_then_gate, 6);
	st = 0;
	CHECK_TRUE("wait4 WUNTRACED", px_waitpid(pid, &st, WUNTRACED) == pid);
	check_status("status", st, "stopped by SIGSTOP");
	CHECK_RET("a stop is reported once",
		  wait4(pid, &st, WUNTRACED | WNOHANG, NULL), 0);
	kill(pid, SIGCONT);
	CHECK_TRUE("wait4 WCONTINUED", px_waitpid(pid, &st, WCONTINUED) == pid);
	check_status("status", st, "continued");
	px_post(gate_w);
	px_expect_exit("then it exits", pid, "exited 6");

	/* rusage of a child that used 30ms of CPU. */
	pid = spawn(burn_and_exit, 0);
	memset(&ru, 0, sizeof(ru));
	CHECK_TRUE("wait4 with rusage", wait4(pid, &st, 0, &ru) == pid);
	long us = ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec +
		  ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec;
	CHECK_TRUE("child's user+system time >= 20ms", us >= 20000);
	CHECK_TRUE("child's maxrss > 0", ru.ru_maxrss > 0);
	CHECK_TRUE("child's minor faults >= the pages it touched",
		   ru.ru_minflt >= TOUCH_PAGES);
	getrusage(RUSAGE_CHILDREN, &ru);
	us = ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec +
	     ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec;
	CHECK_TRUE("RUSAGE_CHILDREN includes it", us >= 20000);
	CHECK_TRUE("RUSAGE_CHILDREN includes its minor faults",
		   ru.ru_minflt >= TOUCH_PAGES);

	/* wait4's rusage counts the child's own reaped children too. */
	pid = spawn(reap_burner, 0);
	memset(&ru, 0, sizeof(ru));
	CHECK_TRUE("wait4 of a child that reaped a burner",
		   wait4(pid, &st, 0, &ru) == pid && st == 0);
	us = ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec +
	     ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec;
	CHECK_TRUE("its rusage has the grandchild's time", us >= 20000);
	CHECK_TRUE("and the grandchild's minor faults",
		   ru.ru_minflt >= TOUCH_PAGES);

	/* waitpid(0): a child in our own group; waitpid(-pgid): another. */
	new_gate();
	pid = spawn(wait_gate_then_exit, 11);
	pid_t other = spawn(wait_gate_then_exit, 12);
	setpgid(other, other);
	px_post(gate_w);
	px_post(gate_w);
	st = 0;
	CHECK_TRUE("waitpid(-pgid) picks the child in that group",
		   px_waitpid(-other, &st, 0) == other);
	check_status("status", st, "exited 12");
	CHECK_TRUE("waitpid(0) picks the child in our group",
		   px_waitpid(0, &st, 0) == pid);
	check_status("status", st, "exited 11");
}

/* ---- waitid ------------------------------------------------------------- */

static void waitid_tests(void)
{
	siginfo_t si;

	new_gate();
	pid_t pid = spawn(wait_gate_then_exit, 21);
	memset(&si, 0xff, sizeof(si));
	CHECK_OK("waitid WNOHANG, child running",
		 waitid(P_PID, pid, &si, WEXITED | WNOHANG));
	CHECK_TRUE("nothing ready: si_pid and si_signo zeroed",
		   si.si_pid == 0 && si.si_signo == 0);
	CHECK_ERR("waitid without WEXITED/WSTOPPED/WCONTINUED",
		  waitid(P_PID, pid, &si, WNOHANG), EINVAL);
	CHECK_ERR("waitid bad idtype", waitid((idtype_t)42, pid, &si, WEXITED),
		  EINVAL);
	px_post(gate_w);

	memset(&si, 0, sizeof(si));
	CHECK_OK("waitid WEXITED|WNOWAIT",
		 waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
	CHECK_TRUE("siginfo: SIGCHLD, CLD_EXITED, status 21, pid, uid",
		   si.si_signo == SIGCHLD && si.si_code == CLD_EXITED &&
		       si.si_status == 21 && si.si_pid == pid &&
		       si.si_uid == getuid());
	memset(&si, 0, sizeof(si));
	CHECK_OK("waitid WEXITED again reaps",
		 waitid(P_PID, pid, &si, WEXITED));
	CHECK_TRUE("same child", si.si_pid == pid && si.si_status == 21);
	CHECK_ERR("third waitid", waitid(P_PID, pid, &si, WEXITED), ECHILD);

	/* WSTOPPED / WCONTINUED / killed. */
	new_gate();
	pid = spawn(stop_self_then_gate, 0);
	memset(&si, 0, sizeof(si));
	CHECK_OK("waitid WSTOPPED", waitid(P_PID, pid, &si, WSTOPPED));
	CHECK_TRUE("CLD_STOPPED by SIGSTOP",
		   si.si_code == CLD_STOPPED && si.si_status == SIGSTOP);
	kill(pid, SIGCONT);
	memset(&si, 0, sizeof(si));
	CHECK_OK("waitid WCONTINUED", waitid(P_PID, pid, &si, WCONTINUED));
	CHECK_TRUE("CLD_CONTINUED with SIGCONT",
		   si.si_code == CLD_CONTINUED && si.si_status == SIGCONT);
	kill(pid, SIGKILL);
	memset(&si, 0, sizeof(si));
	CHECK_OK("waitid after SIGKILL", waitid(P_ALL, 0, &si, WEXITED));
	CHECK_TRUE("CLD_KILLED by SIGKILL", si.si_code == CLD_KILLED &&
						si.si_status == SIGKILL &&
						si.si_pid == pid);

	/* P_PGID: two children in a group led by the first one. */
	new_gate();
	pid_t a = spawn(wait_gate_then_exit, 31);
	pid_t b = spawn(wait_gate_then_exit, 32);
	pid_t c = spawn(wait_gate_then_exit, 33);
	setpgid(a, a);
	setpgid(b, a);
	for (int i = 0; i < 3; i++)
		px_post(gate_w);
	int ok = 1;
	for (int i = 0; i < 2; i++) {
		memset(&si, 0, sizeof(si));
		ok &= waitid(P_PGID, a, &si, WEXITED) == 0 &&
		      (si.si_pid == a || si.si_pid == b);
	}
	CHECK_TRUE("waitid(P_PGID) reaps both members of the group", ok);
	CHECK_ERR("waitid(P_PGID) with the group empty",
		  waitid(P_PGID, a, &si, WEXITED), ECHILD);
	memset(&si, 0, sizeof(si));
	CHECK_OK("waitid(P_PGID, 0): our own group",
		 waitid(P_PGID, 0, &si, WEXITED));
	CHECK_TRUE("that is the third child", si.si_pid == c);

	/* P_PIDFD. */
	new_gate();
	pid = spawn(wait_gate_then_exit, 41);
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	CHECK_TRUE("pidfd_open(child)", pidfd >= 0);
	px_post(gate_w);
	memset(&si, 0, sizeof(si));
	CHECK_OK("waitid(P_PIDFD)", waitid(P_PIDFD, pidfd, &si, WEXITED));
	CHECK_TRUE("P_PIDFD: exited 41",
		   si.si_pid == pid && si.si_status == 41);
	CHECK_ERR("waitid(P_PIDFD) after reaping",
		  waitid(P_PIDFD, pidfd, &si, WEXITED), ECHILD);
	CHECK_ERR("waitid(P_PIDFD, stdout)", waitid(P_PIDFD, 1, &si, WEXITED),
		  EBADF);
	close(pidfd);
}

/* ---- SIGCHLD ------------------------------------------------------------ */

static volatile sig_atomic_t chld_count;
static volatile pid_t chld_want;

static void chld_handler(int sig, siginfo_t *si, void *uc)
{
	if (si->si_pid == chld_want)
		chld_count++;
}

static int burn_briefly(int code)
{
	px_burn_cpu(2 * 1000000LL);
	return code;
}

static void set_chld(void (*h)(int, siginfo_t *, void *), void (*plain)(int),
		     int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	if (h) {
		sa.sa_sigaction = h;
		sa.sa_flags = SA_SIGINFO | flags;
	} else {
		sa.sa_handler = plain;
		sa.sa_flags = flags;
	}
	sigaction(SIGCHLD, &sa, NULL);
}

static void sigchld_tests(void)
{
	int st;

	sigemptyset(&chld_set);
	sigaddset(&chld_set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld_set, NULL);
	set_chld(chld_handler, NULL, 0);

	new_gate();
	pid_t pid = spawn(wait_gate_then_exit, 3);
	px_post(gate_w);
	check_sigchld("SIGCHLD on exit", pid, "CLD_EXITED 3");
	px_expect_exit("reaped", pid, "exited 3");

	new_gate();
	pid = spawn(wait_gate_then_exit, 0);
	kill(pid, SIGKILL);
	check_sigchld("SIGCHLD on SIGKILL", pid, "CLD_KILLED SIGKILL");
	px_expect_exit("reaped", pid, "killed by SIGKILL");

	new_gate();
	pid = spawn(stop_self_then_gate, 5);
	check_sigchld("SIGCHLD on stop", pid, "CLD_STOPPED SIGSTOP");
	kill(pid, SIGCONT);
	check_sigchld("SIGCHLD on continue", pid, "CLD_CONTINUED SIGCONT");
	px_post(gate_w);
	check_sigchld("SIGCHLD on the exit after", pid, "CLD_EXITED 5");
	px_expect_exit("reaped", pid, "exited 5");

	/* Once SIGCHLD says a child exited, the child is reapable at once
	 * (WNOHANG finds it) with its whole rusage, and the signal carries
	 * its CPU time in clock ticks (30 ms: 3 ticks, 2 allowing for
	 * rounding). */
	pid = spawn(burn_and_exit, 6);
	siginfo_t csi;
	int r;
	do
		r = sigwaitinfo(&chld_set, &csi);
	while (r == -1 && errno == EINTR);
	CHECK_TRUE("SIGCHLD of a child that used 30ms of CPU",
		   r == SIGCHLD && csi.si_pid == pid &&
			   csi.si_code == CLD_EXITED);
	CHECK_TRUE("its si_utime + si_stime >= 2 ticks",
		   csi.si_utime + csi.si_stime >= 2);
	struct rusage cru;
	memset(&cru, 0, sizeof(cru));
	st = 0;
	CHECK_TRUE("then wait4 WNOHANG reaps it",
		   wait4(pid, &st, WNOHANG, &cru) == pid);
	check_status("its status", st, "exited 6");
	long cus = cru.ru_utime.tv_sec * 1000000L + cru.ru_utime.tv_usec +
		   cru.ru_stime.tv_sec * 1000000L + cru.ru_stime.tv_usec;
	CHECK_TRUE("with its user+system time >= 20ms", cus >= 20000);
	CHECK_TRUE("and its minor faults", cru.ru_minflt >= TOUCH_PAGES);

	/* A handler without SA_RESTART does not make a sleeping wait4 fail
	 * with EINTR when the child it waits for exits: Linux looks at the
	 * children again before it looks at signals, so wait4 returns the
	 * child and the handler runs on the way out. The child computes
	 * first, so the parent is mostly asleep in wait4 when it exits. */
	for (int k = 0; k < 5; k++) {
		chld_count = 0;
		pid = spawn(burn_briefly, 4);
		/* Counted only for this child: an orphan reparented to this
		 * subreaper may exit meanwhile. SIGCHLD is blocked until the
		 * child is known, then open for the wait. */
		chld_want = pid;
		sigprocmask(SIG_UNBLOCK, &chld_set, NULL);
		st = 0;
		CHECK_TRUE("wait4 while a no-SA_RESTART handler is set: the "
			   "child, not EINTR",
			   wait4(pid, &st, 0, NULL) == pid);
		sigprocmask(SIG_BLOCK, &chld_set, NULL);
		check_status("its status", st, "exited 4");
		CHECK_TRUE("the handler ran once for it", chld_count == 1);
	}

	/* SA_NOCLDSTOP: the first notification is the exit. */
	set_chld(chld_handler, NULL, SA_NOCLDSTOP);
	new_gate();
	pid = spawn(stop_self_then_gate, 7);
	st = 0;
	px_waitpid(pid, &st, WUNTRACED);
	check_status("SA_NOCLDSTOP child", st, "stopped by SIGSTOP");
	kill(pid, SIGCONT);
	px_waitpid(pid, &st, WCONTINUED);
	px_post(gate_w);
	check_sigchld("SA_NOCLDSTOP: first SIGCHLD", pid, "CLD_EXITED 7");
	px_expect_exit("reaped", pid, "exited 7");

	/* SA_NOCLDWAIT: no zombie, but SIGCHLD is still sent. */
	set_chld(chld_handler, NULL, SA_NOCLDWAIT);
	new_gate();
	pid = spawn(wait_gate_then_exit, 8);
	px_post(gate_w);
	CHECK_ERR("SA_NOCLDWAIT: wait blocks until gone, then ECHILD",
		  wait(&st), ECHILD);
	check_sigchld("SA_NOCLDWAIT: SIGCHLD still sent", pid, "CLD_EXITED 8");

	/* SIG_IGN: no zombie and no signal, even blocked. */
	set_chld(NULL, SIG_IGN, 0);
	new_gate();
	pid = spawn(wait_gate_then_exit, 9);
	px_post(gate_w);
	CHECK_ERR("SIG_IGN: wait blocks until gone, then ECHILD", wait(&st),
		  ECHILD);
	CHECK_TRUE("SIG_IGN: no SIGCHLD pending", !pending_sigchld());

	/* Ignoring SIGCHLD later does not reap an existing zombie. */
	set_chld(NULL, SIG_DFL, 0);
	new_gate();
	pid = spawn(wait_gate_then_exit, 10);
	px_post(gate_w);
	siginfo_t si;
	waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	set_chld(NULL, SIG_IGN, 0);
	px_expect_exit("zombie from before SIG_IGN still reapable", pid,
		       "exited 10");
	set_chld(NULL, SIG_DFL, 0);
	/* Drain the default-disposition notification. */
	struct timespec zero = {0, 0};
	sigtimedwait(&chld_set, &si, &zero);
	sigprocmask(SIG_UNBLOCK, &chld_set, NULL);
}

/* ---- PR_SET_PDEATHSIG --------------------------------------------------- */

static int pdeath_grandchild(int sig)
{
	prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0);
	int got = -1;
	prctl(PR_GET_PDEATHSIG, &got, 0, 0, 0);
	shm[0] = got == sig;
	shm[1] = getppid() == shm[2];
	px_post(gate_w);
	for (;;)
		pause();
	return 1;
}

static int pdeath_middle(int sig)
{
	shm[2] = getpid();
	pid_t g = spawn(pdeath_grandchild, sig);
	shm[3] = g;
	px_pend(gate_r); /* the grandchild is set up */
	return 0;
}

static void *pdeath_thread(void *arg)
{
	shm[2] = getpid();
	shm[3] = spawn(pdeath_grandchild, SIGUSR2);
	px_pend(gate_r);
	return NULL; /* this thread's exit is the "parent death" */
}

static int pdeath_thread_middle(int unused)
{
	pthread_t t;
	int st = 0;

	px_thread(&t, pdeath_thread, NULL);
	pthread_join(t, NULL);
	/* The grandchild now belongs to this (main) thread's process. */
	if (px_waitpid((pid_t)shm[3], &st, 0) != (pid_t)shm[3])
		return 2;
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR2 ? 0 : 1;
}

static int pdeath_get_in_child(int unused)
{
	int got = -1;

	prctl(PR_GET_PDEATHSIG, &got, 0, 0, 0);
	return got;
}

static void pdeathsig_tests(void)
{
	int v = -1;

	CHECK_OK("prctl(PR_SET_PDEATHSIG, SIGUSR1)",
		 prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0));
	prctl(PR_GET_PDEATHSIG, &v, 0, 0, 0);
	CHECK_TRUE("PR_GET_PDEATHSIG reads it back", v == SIGUSR1);
	px_expect_exit("fork clears the death signal",
		       spawn(pdeath_get_in_child, 0), "exited 0");
	CHECK_OK("prctl(PR_SET_PDEATHSIG, 0)",
		 prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0));
	CHECK_ERR("prctl(PR_SET_PDEATHSIG, 65)",
		  prctl(PR_SET_PDEATHSIG, 65, 0, 0, 0), EINVAL);
	CHECK_ERR("prctl(PR_GET_PDEATHSIG, bad pointer)",
		  prctl(PR_GET_PDEATHSIG, (void *)1, 0, 0, 0), EFAULT);

	new_gate();
	memset(shm, 0, 4096);
	pid_t mid = spawn(pdeath_middle, SIGUSR1);
	px_expect_exit("middle process", mid, "exited 0");
	px_expect_exit("grandchild got its death signal", (pid_t)shm[3],
		       "killed by SIGUSR1");
	CHECK_TRUE("grandchild saw the setting and its first parent",
		   shm[0] == 1 && shm[1] == 1);

	new_gate();
	memset(shm, 0, 4096);
	px_expect_exit("death signal fires when the parent *thread* exits",
		       spawn(pdeath_thread_middle, 0), "exited 0");
}

/* ---- pidfds ------------------------------------------------------------- */

static volatile sig_atomic_t got_value = -1, got_code;

static void value_handler(int sig, siginfo_t *si, void *uc)
{
	got_code = si->si_code;
	got_value = si->si_value.sival_int;
}

static volatile long thread_tid;
static uint32_t thread_go;

static void *tid_thread(void *arg)
{
	thread_tid = syscall(SYS_gettid);
	while (!__atomic_load_n(&thread_go, __ATOMIC_ACQUIRE))
		px_futex(&thread_go, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

static void on_siginfo(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO;
	sigaction(sig, &sa, NULL);
}

/* pidfd_send_signal's scope flags (Linux 6.9): PIDFD_SIGNAL_THREAD is the
 * pidfd's own thread (for a process pidfd, the leader), with SI_TKILL; no
 * flag is the process, SI_USER. The leader blocks SIGUSR2, a helper thread
 * does not, and the helper sends. */
static volatile long usr2_tid, usr2_code;
static int self_pidfd;
static volatile int usr2_sent;

static void usr2_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	usr2_tid = syscall(SYS_gettid);
	usr2_code = si->si_code;
}

static void *usr2_sender(void *arg)
{
	long flags = (long)arg;
	sigset_t none;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	syscall(SYS_pidfd_send_signal, self_pidfd, SIGUSR2, NULL, flags);
	usr2_sent = 1;
	return NULL;
}

static void pidfd_signal_flags(void)
{
	on_siginfo(SIGUSR2, usr2_handler);
	self_pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	CHECK_ERR("two PIDFD_SIGNAL_ flags at once",
		  syscall(SYS_pidfd_send_signal, self_pidfd, 0, NULL, 3), EINVAL);
	sigset_t usr2, pend;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, NULL);

	pthread_t th;
	usr2_tid = 0;
	px_thread(&th, usr2_sender, (void *)1L); /* PIDFD_SIGNAL_THREAD */
	pthread_join(th, NULL);
	CHECK_TRUE("PIDFD_SIGNAL_THREAD: not taken by the sender", usr2_tid == 0);
	sigpending(&pend);
	CHECK_TRUE("pending for the leader", sigismember(&pend, SIGUSR2));
	pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
	CHECK_TRUE("handled by the leader, SI_TKILL",
		   usr2_tid == getpid() && usr2_code == SI_TKILL);
	pthread_sigmask(SIG_BLOCK, &usr2, NULL);

	usr2_tid = 0;
	px_thread(&th, usr2_sender, (void *)0L);
	pthread_join(th, NULL);
	CHECK_TRUE("no flag: the process, taken by the thread that can, SI_USER",
		   usr2_tid != 0 && usr2_tid != getpid() && usr2_code == SI_USER);
	pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
	close(self_pidfd);
	signal(SIGUSR2, SIG_DFL);
}

static int leader_fd;
static pid_t leader_tid;
static pthread_t leader_thread;

/* Once the leader's thread is joined (its tid word cleared as it exits):
 * bit 1 poll was ready, bit 2 pidfd_send_signal(0) failed, bit 4
 * tgkill(0) failed, 8 the join failed; once /proc/self/status shows the
 * process's state as the leader's, a zombie (16 if never), bit 32 its
 * Threads: line does not count the leader still, 64 /proc/self/task does
 * not list it. */
static void *after_leader(void *arg)
{
	(void)arg;
	int bad = pthread_join(leader_thread, NULL) ? 8 : 0;
	int zombie = 0, threads = 0;
	for (int i = 0; i < 100000 && !zombie; i++) {
		FILE *f = fopen("/proc/self/status", "r");
		char line[256];
		while (f && fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "State:\tZ", 8))
				zombie = 1;
			sscanf(line, "Threads: %d", &threads);
		}
		if (f)
			fclose(f);
		if (!zombie)
			sched_yield();
	}
	if (!zombie)
		bad |= 16;
	else if (threads != 2)
		bad |= 32;
	int entries = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	while (d && (e = readdir(d)))
		entries += e->d_name[0] != '.';
	if (d)
		closedir(d);
	if (entries != 2)
		bad |= 64;
	struct pollfd p = {.fd = leader_fd, .events = POLLIN};
	if (poll(&p, 1, 0) != 0)
		bad |= 1;
	if (syscall(SYS_pidfd_send_signal, leader_fd, 0, NULL, 0) != 0)
		bad |= 2;
	if (syscall(SYS_tgkill, leader_tid, leader_tid, 0) != 0)
		bad |= 4;
	_exit(bad);
}

static void pidfd_tests(void)
{
	new_gate();
	pid_t pid = spawn(wait_gate_then_exit, 0);
	int fd = syscall(SYS_pidfd_open, pid, 0);

	CHECK_TRUE("pidfd_open", fd >= 0);
	CHECK_ERR("pidfd_open flags 1", syscall(SYS_pidfd_open, pid, 1),
		  EINVAL);
	CHECK_ERR("pidfd_open no such pid",
		  syscall(SYS_pidfd_open, NO_SUCH_PID, 0), ESRCH);
	CHECK_ERR("pidfd_open pid -1", syscall(SYS_pidfd_open, -1, 0), EINVAL);

	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	CHECK_RET("poll(pidfd) while it runs", poll(&pfd, 1, 0), 0);
	CHECK_OK("pidfd_send_signal(sig 0)",
		 syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0));
	CHECK_ERR("pidfd_send_signal unknown flag 8",
		  syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 8), EINVAL);
	CHECK_ERR("pidfd_send_signal on stdout",
		  syscall(SYS_pidfd_send_signal, 1, SIGTERM, NULL, 0), EBADF);
	CHECK_OK("pidfd_send_signal(SIGTERM)",
		 syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0));
	pfd.revents = 0;
	CHECK_RET("poll(pidfd) once it has died", poll(&pfd, 1, -1), 1);
	CHECK_TRUE("POLLIN", (pfd.revents & POLLIN) != 0);
	CHECK_TRUE("no POLLHUP while a zombie", !(pfd.revents & POLLHUP));
	px_expect_exit("child", pid, "killed by SIGTERM");
	pfd.revents = 0;
	CHECK_RET("poll(pidfd) once reaped", poll(&pfd, 1, 0), 1);
	CHECK_TRUE("POLLIN and POLLHUP once reaped",
		   (pfd.revents & (POLLIN | POLLHUP)) == (POLLIN | POLLHUP));
	CHECK_ERR("pidfd_send_signal after reaping",
		  syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0), ESRCH);
	close(fd);

	/* A queued value through our own pidfd. */
	on_siginfo(SIGUSR1, value_handler);
	fd = syscall(SYS_pidfd_open, getpid(), 0);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGUSR1;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = 42;
	CHECK_OK("pidfd_send_signal(self, SIGUSR1, SI_QUEUE info)",
		 syscall(SYS_pidfd_send_signal, fd, SIGUSR1, &si, 0));
	CHECK_TRUE("handler got SI_QUEUE and value 42",
		   got_code == SI_QUEUE && got_value == 42);
	close(fd);
	signal(SIGUSR1, SIG_DFL);

	pidfd_signal_flags();

	pthread_t t;
	px_thread(&t, tid_thread, NULL);
	while (!thread_tid)
		sched_yield();
	CHECK_ERR("pidfd_open of a non-leader thread",
		  syscall(SYS_pidfd_open, thread_tid, 0), ENOENT);
	/* PIDFD_THREAD (Linux 6.9): a pidfd for that one thread. */
	int tfd = syscall(SYS_pidfd_open, thread_tid, 0200 /* PIDFD_THREAD */);
	CHECK_TRUE("pidfd_open(thread, PIDFD_THREAD)", tfd >= 0);
	struct pollfd tp = {.fd = tfd, .events = POLLIN};
	CHECK_RET("poll(thread pidfd) while it runs", poll(&tp, 1, 0), 0);
	on_siginfo(SIGUSR2, usr2_handler);
	usr2_tid = 0;
	CHECK_OK("pidfd_send_signal(thread pidfd, SIGUSR2)",
		 syscall(SYS_pidfd_send_signal, tfd, SIGUSR2, NULL, 0));
	for (int i = 0; i < 1000000 && !usr2_tid; i++)
		sched_yield();
	CHECK_TRUE("taken by that thread, SI_TKILL",
		   usr2_tid == thread_tid && usr2_code == SI_TKILL);
	__atomic_store_n(&thread_go, 1, __ATOMIC_RELEASE);
	px_futex(&thread_go, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	pthread_join(t, NULL);
	tp.revents = 0;
	CHECK_RET("poll(thread pidfd) once the thread is gone",
		  poll(&tp, 1, 1000), 1);
	/* pthread_join returns once the kernel cleared the tid, which is
	 * before the thread is released: POLLIN may come a moment before
	 * POLLHUP (natively too). Look again for up to a second. */
	int64_t until = px_now_ns(CLOCK_MONOTONIC) + 1000000000LL;
	while ((tp.revents & (POLLIN | POLLHUP)) != (POLLIN | POLLHUP) &&
	       px_now_ns(CLOCK_MONOTONIC) < until) {
		sched_yield();
		tp.revents = 0;
		poll(&tp, 1, 1000);
	}
	CHECK_TRUE("POLLIN and POLLHUP",
		   (tp.revents & (POLLIN | POLLHUP)) == (POLLIN | POLLHUP));
	CHECK_ERR("pidfd_send_signal to the gone thread",
		  syscall(SYS_pidfd_send_signal, tfd, SIGUSR2, NULL, 0), ESRCH);
	close(tfd);
	signal(SIGUSR2, SIG_DFL);

	/* A leader that exits while another thread lives: its thread pidfd
	 * is not readable, and it still takes signal 0 (Linux keeps it with
	 * its process). In a child, whose leader calls pthread_exit. */
	pid_t c = fork();
	if (c == 0) {
		leader_fd = syscall(SYS_pidfd_open, getpid(), 0200);
		leader_tid = getpid();
		leader_thread = pthread_self();
		pthread_t o;
		if (leader_fd < 0 || pthread_create(&o, NULL, after_leader, NULL))
			_exit(90);
		pthread_exit(NULL);
	}
	px_expect_exit("an exited leader: its thread pidfd not readable, "
		       "signal 0 and tgkill 0 still accepted, a zombie in "
		       "/proc/PID/status, counted in Threads and listed in "
		       "task/", c, "exited 0");
}

int main(void)
{
	px_reset();
	shm = px_shared(4096);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	exit_tests();
	wait4_tests();
	waitid_tests();
	sigchld_tests();
	pdeathsig_tests();
	pidfd_tests();
	CHECK_ERR("no children left", wait(NULL), ECHILD);
	return probe_done();
}
