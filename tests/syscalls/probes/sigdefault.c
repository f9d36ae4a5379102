/*
 * sigdefault: default signal actions.  Each of the 31 standard signals is
 * raised with SIG_DFL in a child of its own: terminate and core signals
 * kill it (the core flag is never printed: it depends on the host's
 * core_pattern; children are made non-dumpable with RLIMIT_CORE 0 so no
 * core file is ever written), ignore signals leave it running, stop
 * signals stop it until SIGCONT.  Then: a signal sent to a stopped process
 * waits for SIGCONT, SIGKILL ends a stopped process, a SIGCONT handler
 * runs on continue, the job-control stops are discarded in an orphaned
 * process group (SIGSTOP is not), blocked signals are never ignored (they
 * stay pending until SIG_IGN or a default-ignore SIG_DFL discards them),
 * and fatal signals take down every thread of a process.
 *
 * Each child moves to a process group of its own in the probe's session,
 * so that its group is not orphaned in either world.
 */
#include "probe_proc.h"

#include <pthread.h>
#include <sys/prctl.h>

static void no_core(void)
{
	struct rlimit rl = {0, 0};

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static void quiet_child(void)
{
	no_core();
	setpgid(0, 0);
}

static const char *expected(int sig)
{
	switch (sig) {
	case SIGCHLD:
	case SIGURG:
	case SIGWINCH:
	case SIGCONT:
		return "ignore";
	case SIGSTOP:
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU:
		return "stop";
	default:
		return "kill";
	}
}

static void default_actions(void)
{
	for (int sig = 1; sig < 32; sig++) {
		char label[64], want[64];
		int st = 0;

		fflush(stdout);
		pid_t pid = px_fork();
		if (pid == 0) {
			sigset_t none;
			quiet_child();
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			kill(getpid(), sig);
			_exit(0);
		}
		snprintf(label, sizeof(label), "default action of %s",
			 px_signame(sig));
		const char *kind = expected(sig);
		if (strcmp(kind, "kill") == 0)
			snprintf(want, sizeof(want), "killed by %s",
				 px_signame(sig));
		else if (strcmp(kind, "stop") == 0)
			snprintf(want, sizeof(want), "stopped by %s",
				 px_signame(sig));
		else
			snprintf(want, sizeof(want), "exited 0");
		if (px_waitpid(pid, &st, WUNTRACED) != pid) {
			check_ok(label, -1, errno);
			continue;
		}
		check_status(label, st, want);
		if (WIFSTOPPED(st)) {
			kill(pid, SIGCONT);
			snprintf(label, sizeof(label), "%s, then SIGCONT",
				 px_signame(sig));
			px_expect_exit(label, pid, "exited 0");
		}
	}
}

static int gate[2];

static void stopped_process_tests(void)
{
	int st = 0;

	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		quiet_child();
		kill(getpid(), SIGSTOP);
		_exit(0);
	}
	px_waitpid(pid, &st, WUNTRACED);
	check_status("child stopped itself", st, "stopped by SIGSTOP");
	CHECK_OK("kill(stopped, SIGTERM)", kill(pid, SIGTERM));
	/* No thread of a stopped process "wants" it: no early group exit. */
	CHECK_RET("SIGTERM waits: nothing new to report",
		  waitpid(pid, &st, WNOHANG | WUNTRACED), 0);
	kill(pid, SIGCONT);
	px_expect_exit("after SIGCONT the pending SIGTERM acts", pid,
		       "killed by SIGTERM");

	fflush(stdout);
	pid = px_fork();
	if (pid == 0) {
		quiet_child();
		kill(getpid(), SIGSTOP);
		_exit(0);
	}
	px_waitpid(pid, &st, WUNTRACED);
	kill(pid, SIGKILL);
	px_expect_exit("SIGKILL ends a stopped process", pid,
		       "killed by SIGKILL");
}

static void cont_handler(int sig)
{
	char c = 'c';

	if (write(gate[1], &c, 1) != 1)
		_exit(5);
}

static void tstp_handler(int sig)
{
}

static void handled_job_control(void)
{
	int st = 0;

	if (pipe(gate) != 0) {
		check_ok("pipe", -1, errno);
		return;
	}
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		quiet_child();
		signal(SIGCONT, cont_handler);
		kill(getpid(), SIGSTOP);
		_exit(0);
	}
	px_waitpid(pid, &st, WUNTRACED);
	check_status("child with a SIGCONT handler", st, "stopped by SIGSTOP");
	kill(pid, SIGCONT);
	px_pend(gate[0]);
	CHECK_TRUE("SIGCONT continued it and ran the handler", 1);
	px_expect_exit("then it exits", pid, "exited 0");

	fflush(stdout);
	pid = px_fork();
	if (pid == 0) {
		quiet_child();
		signal(SIGTSTP, tstp_handler);
		kill(getpid(), SIGTSTP);
		_exit(0);
	}
	px_expect_exit("handled SIGTSTP does not stop", pid, "exited 0");

	fflush(stdout);
	pid = px_fork();
	if (pid == 0) {
		quiet_child();
		signal(SIGTERM, SIG_IGN);
		kill(getpid(), SIGTERM);
		_exit(0);
	}
	px_expect_exit("ignored SIGTERM does not kill", pid, "exited 0");
	close(gate[0]);
	close(gate[1]);
}

/* In a new session the child's group has no parent in this session. */
static void orphaned_group(void)
{
	int st = 0;
	int stops[] = {SIGTSTP, SIGTTIN, SIGTTOU};

	for (int i = 0; i < 3; i++) {
		char label[80];

		fflush(stdout);
		pid_t pid = px_fork();
		if (pid == 0) {
			no_core();
			setsid();
			kill(getpid(), stops[i]);
			_exit(0);
		}
		snprintf(label, sizeof(label),
			 "%s in an orphaned process group is discarded",
			 px_signame(stops[i]));
		px_waitpid(pid, &st, WUNTRACED);
		check_status(label, st, "exited 0");
	}
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		no_core();
		setsid();
		kill(getpid(), SIGSTOP);
		_exit(0);
	}
	px_waitpid(pid, &st, WUNTRACED);
	check_status("SIGSTOP in an orphaned process group still stops", st,
		     "stopped by SIGSTOP");
	kill(pid, SIGKILL);
	px_expect_exit("reaped", pid, "killed by SIGKILL");
}

static int pending(int sig)
{
	sigset_t p;

	sigpending(&p);
	return sigismember(&p, sig);
}

static void blocked_never_ignored(void)
{
	sigset_t m;

	sigemptyset(&m);
	sigaddset(&m, SIGURG);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, NULL);

	kill(getpid(), SIGURG);
	CHECK_TRUE("blocked SIGURG (default: ignore) stays pending",
		   pending(SIGURG));
	signal(SIGURG, SIG_DFL);
	CHECK_TRUE("setting SIG_DFL (ignore) again discards it",
		   !pending(SIGURG));

	signal(SIGUSR1, SIG_IGN);
	kill(getpid(), SIGUSR1);
	CHECK_TRUE("blocked and SIG_IGN: still pending", pending(SIGUSR1));
	signal(SIGUSR1, SIG_IGN);
	CHECK_TRUE("setting SIG_IGN again discards it", !pending(SIGUSR1));

	signal(SIGUSR1, SIG_DFL);
	kill(getpid(), SIGUSR1);
	signal(SIGUSR1, SIG_IGN);
	CHECK_TRUE("SIG_IGN discards a pending fatal signal",
		   !pending(SIGUSR1));
	signal(SIGUSR1, SIG_DFL);
	sigprocmask(SIG_UNBLOCK, &m, NULL);
	CHECK_TRUE("still alive after unblocking", 1);
}

static uint32_t never;

static void *sleeper(void *arg)
{
	for (;;)
		px_futex(&never, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

static volatile long victim_tid;

static void *victim(void *arg)
{
	victim_tid = syscall(SYS_gettid);
	return sleeper(NULL);
}

static void threaded_targets(void)
{
	int st = 0, ready[2];

	if (pipe(ready) != 0) {
		check_ok("pipe", -1, errno);
		return;
	}
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		pthread_t t;
		quiet_child();
		for (int i = 0; i < 3; i++)
			px_thread(&t, sleeper, NULL);
		px_post(ready[1]);
		sleeper(NULL);
	}
	px_pend(ready[0]);
	kill(pid, SIGSTOP);
	px_waitpid(pid, &st, WUNTRACED);
	check_status("4 threads: SIGSTOP stops the group", st,
		     "stopped by SIGSTOP");
	kill(pid, SIGCONT);
	px_waitpid(pid, &st, WCONTINUED);
	check_status("SIGCONT resumes it", st, "continued");
	kill(pid, SIGTERM);
	px_expect_exit("SIGTERM kills all 4 threads", pid, "killed by SIGTERM");

	fflush(stdout);
	pid = px_fork();
	if (pid == 0) {
		pthread_t t;
		quiet_child();
		if (pthread_create(&t, NULL, victim, NULL) != 0)
			_exit(9);
		while (!victim_tid)
			sched_yield();
		syscall(SYS_tgkill, getpid(), victim_tid, SIGUSR2);
		sleeper(NULL);
	}
	px_expect_exit("fatal signal to one thread kills the process", pid,
		       "killed by SIGUSR2");

	fflush(stdout);
	pid = px_fork();
	if (pid == 0) {
		sigset_t all;
		quiet_child();
		sigfillset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		px_post(ready[1]);
		sleeper(NULL);
	}
	px_pend(ready[0]);
	kill(pid, SIGKILL);
	px_expect_exit("SIGKILL with every signal blocked", pid,
		       "killed by SIGKILL");
	close(ready[0]);
	close(ready[1]);
}

int main(void)
{
	px_reset();
	default_actions();
	stopped_process_tests();
	handled_job_control();
	orphaned_group();
	blocked_never_ignored();
	threaded_targets();
	return probe_done();
}
