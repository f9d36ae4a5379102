/*
 * sched: scheduling and accounting.  sched_yield, sched_getaffinity and
 * sched_setaffinity (with getcpu following the pinning), scheduling
 * policies and priorities, getpriority/setpriority, times, getrusage
 * (SELF, THREAD, CHILDREN; context switches; maxrss), and prctl: name,
 * dumpable, no_new_privs, seccomp mode, pdeathsig, child subreaper, timer
 * slack, capability bounding set, errors.
 *
 * CPU numbers and counts are never printed, only relations ("getcpu is in
 * the mask"); the machine may have any number of CPUs.  Irreversible
 * settings (no_new_privs) are made in a child.
 */
#include "probe_proc.h"

#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/times.h>

#define MS	    1000000LL
#define NO_SUCH_PID 0x3fffffff

static long ru_us(const struct rusage *r)
{
	return r->ru_utime.tv_sec * 1000000L + r->ru_utime.tv_usec +
	       r->ru_stime.tv_sec * 1000000L + r->ru_stime.tv_usec;
}

/* The same while other processes keep the CPUs busy with system calls
 * (the sandbox then pins single-threaded processes to CPUs of its own
 * accord, which must never override a task's own mask), and in a fork
 * child, which inherits the mask. */
static bool on_cpu(int c, int rounds)
{
	bool ok = true;
	for (int i = 0; i < rounds; i++) {
		unsigned cpu = 0;
		ok &= syscall(SYS_getcpu, &cpu, NULL, NULL) == 0 &&
		      (int)cpu == c;
	}
	return ok;
}

static void affinity_under_load(void)
{
	cpu_set_t orig;
	if (CHECK_OK("sched_getaffinity",
		     sched_getaffinity(0, sizeof(orig), &orig)) < 0)
		return;
	pid_t busy[2];
	for (int i = 0; i < 2; i++) {
		busy[i] = fork();
		if (busy[i] == 0)
			for (;;)
				getppid();
	}
	bool ok = true;
	int tried = 0;
	for (int c = 0; c < CPU_SETSIZE && tried < 2; c++) {
		if (!CPU_ISSET(c, &orig))
			continue;
		tried++;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		ok &= sched_setaffinity(0, sizeof(one), &one) == 0;
		ok &= on_cpu(c, 300);
		pid_t k = fork();
		if (k == 0)
			_exit(on_cpu(c, 300) ? 0 : 1);
		int st = 0;
		waitpid(k, &st, 0);
		ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
		ok &= on_cpu(c, 300);
	}
	for (int i = 0; i < 2; i++) {
		kill(busy[i], SIGKILL);
		waitpid(busy[i], NULL, 0);
	}
	sched_setaffinity(0, sizeof(orig), &orig);
	CHECK_TRUE("CPUs busy: a pinned process and its fork child stay on "
		   "their CPU",
		   ok);
}

static void affinity_tests(void)
{
	cpu_set_t orig, set, got;

	CHECK_OK("sched_yield", sched_yield());
	/* The raw call fills only the kernel's mask size. */
	CPU_ZERO(&orig);
	long n = syscall(SYS_sched_getaffinity, 0, sizeof(orig), &orig);
	CHECK_TRUE("raw sched_getaffinity returns a size in longs",
		   n > 0 && n % sizeof(long) == 0);
	CHECK_TRUE("at least one CPU allowed", CPU_COUNT(&orig) >= 1);
	CHECK_ERR("sched_getaffinity len 1 (not a multiple of a long)",
		  syscall(SYS_sched_getaffinity, 0, 1, &orig), EINVAL);
	CHECK_ERR("sched_getaffinity EFAULT",
		  syscall(SYS_sched_getaffinity, 0, sizeof(orig), (void *)1),
		  EFAULT);
	CHECK_ERR("sched_getaffinity no such pid",
		  sched_getaffinity(NO_SUCH_PID, sizeof(got), &got), ESRCH);

	unsigned cpu = 9999, node = 9999;
	CHECK_OK("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL));
	CHECK_TRUE("getcpu is in the affinity mask", CPU_ISSET(cpu, &orig));

	/* Pin to each allowed CPU in turn (at most 4), getcpu follows. */
	int ok = 1, tried = 0;
	for (int c = 0; c < CPU_SETSIZE && tried < 4; c++) {
		if (!CPU_ISSET(c, &orig))
			continue;
		tried++;
		CPU_ZERO(&set);
		CPU_SET(c, &set);
		ok &= sched_setaffinity(0, sizeof(set), &set) == 0;
		ok &= sched_getaffinity(0, sizeof(got), &got) == 0 &&
		      CPU_EQUAL(&got, &set);
		ok &= syscall(SYS_getcpu, &cpu, NULL, NULL) == 0 &&
		      cpu == (unsigned)c;
	}
	CHECK_TRUE("pinned to one CPU: getaffinity and getcpu agree", ok);
	CPU_ZERO(&set);
	CHECK_ERR("sched_setaffinity empty mask",
		  sched_setaffinity(0, sizeof(set), &set), EINVAL);
	CHECK_ERR("sched_setaffinity no such pid",
		  sched_setaffinity(NO_SUCH_PID, sizeof(orig), &orig), ESRCH);
	CHECK_OK("restore the mask", sched_setaffinity(0, sizeof(orig), &orig));

	/* A child inherits the mask. */
	CPU_ZERO(&set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &orig)) {
			CPU_SET(c, &set);
			break;
		}
	sched_setaffinity(0, sizeof(set), &set);
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		sched_getaffinity(0, sizeof(got), &got);
		_exit(CPU_EQUAL(&got, &set) ? 0 : 1);
	}
	px_expect_exit("fork child inherits the affinity", pid, "exited 0");
	sched_setaffinity(0, sizeof(orig), &orig);
}

static void policy_tests(void)
{
	struct sched_param p = {.sched_priority = 7};

	CHECK_RET("sched_getscheduler", sched_getscheduler(0), SCHED_OTHER);
	CHECK_OK("sched_getparam", sched_getparam(0, &p));
	CHECK_TRUE("priority 0 under SCHED_OTHER", p.sched_priority == 0);
	CHECK_RET("priority max SCHED_FIFO", sched_get_priority_max(SCHED_FIFO),
		  99);
	CHECK_RET("priority min SCHED_FIFO", sched_get_priority_min(SCHED_FIFO),
		  1);
	CHECK_RET("priority max SCHED_OTHER",
		  sched_get_priority_max(SCHED_OTHER), 0);
	CHECK_ERR("priority max of policy 42", sched_get_priority_max(42),
		  EINVAL);
	p.sched_priority = 0;
	CHECK_OK("sched_setscheduler SCHED_BATCH",
		 sched_setscheduler(0, SCHED_BATCH, &p));
	CHECK_RET("now SCHED_BATCH", sched_getscheduler(0), SCHED_BATCH);
	p.sched_priority = 5;
	CHECK_ERR("SCHED_OTHER with priority 5",
		  sched_setscheduler(0, SCHED_OTHER, &p), EINVAL);
	p.sched_priority = 0;
	CHECK_OK("back to SCHED_OTHER", sched_setscheduler(0, SCHED_OTHER, &p));
	CHECK_ERR("sched_setscheduler policy 42", sched_setscheduler(0, 42, &p),
		  EINVAL);
	CHECK_ERR("sched_getscheduler no such pid",
		  sched_getscheduler(NO_SUCH_PID), ESRCH);
	struct timespec rr;
	CHECK_OK("sched_rr_get_interval", sched_rr_get_interval(0, &rr));

	/* Nice values: the raw syscall returns 20 - nice. */
	long raw0 = syscall(SYS_getpriority, PRIO_PROCESS, 0);
	int nice0 = 20 - (int)raw0;
	CHECK_TRUE("raw getpriority in 1..40", raw0 >= 1 && raw0 <= 40);
	CHECK_OK("setpriority(self, 5)", setpriority(PRIO_PROCESS, 0, 5));
	CHECK_RET("raw getpriority == 20 - 5",
		  syscall(SYS_getpriority, PRIO_PROCESS, 0), 15);
	CHECK_RET("libc getpriority", getpriority(PRIO_PROCESS, 0), 5);
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0)
		_exit(getpriority(PRIO_PROCESS, 0) == 5 ? 0 : 1);
	px_expect_exit("fork child inherits nice 5", pid, "exited 0");
	CHECK_OK("setpriority(self, 100) clamps",
		 setpriority(PRIO_PROCESS, 0, 100));
	CHECK_RET("clamped to 19", getpriority(PRIO_PROCESS, 0), 19);
	CHECK_ERR("setpriority which 7", setpriority(7, 0, 0), EINVAL);
	CHECK_ERR("getpriority no such pid",
		  getpriority(PRIO_PROCESS, NO_SUCH_PID), ESRCH);
	CHECK_OK("restore the nice value (root may lower it)",
		 setpriority(PRIO_PROCESS, 0, nice0));
}

static void *burn_thread(void *arg)
{
	struct rusage *ru = arg;

	px_burn_cpu(30 * MS);
	getrusage(RUSAGE_THREAD, ru);
	return NULL;
}

/* fresh[0]: its RUSAGE_THREAD at once; fresh[1].ru_utime: its
 * CLOCK_THREAD_CPUTIME_ID at once. */
static void *fresh_thread(void *arg)
{
	struct rusage *fresh = arg;
	struct timespec ts;

	getrusage(RUSAGE_THREAD, &fresh[0]);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	memset(&fresh[1], 0, sizeof(fresh[1]));
	fresh[1].ru_utime.tv_sec = ts.tv_sec;
	fresh[1].ru_utime.tv_usec = ts.tv_nsec / 1000;
	return NULL;
}

static void accounting_tests(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	struct tms t0, t1;
	struct rusage ru0, ru1, rth;

	CHECK_TRUE("clock ticks per second == 100", hz == 100);
	clock_t c0 = times(&t0);
	getrusage(RUSAGE_SELF, &ru0);
	px_burn_cpu(50 * MS);
	getrusage(RUSAGE_SELF, &ru1);
	clock_t c1 = times(&t1);
	CHECK_TRUE(
	    "times: user+system grew by at least 3 ticks",
	    (t1.tms_utime + t1.tms_stime) - (t0.tms_utime + t0.tms_stime) >= 3);
	CHECK_TRUE("times: return value advanced at least 3 ticks",
		   c1 - c0 >= 3);
	CHECK_TRUE("getrusage SELF grew by at least 45ms",
		   ru_us(&ru1) - ru_us(&ru0) >= 45000);
	CHECK_OK("times(NULL)", syscall(SYS_times, NULL) == -1 ? -1 : 0);
	CHECK_ERR("times EFAULT", syscall(SYS_times, (void *)1), EFAULT);

	pthread_t t;
	px_thread(&t, burn_thread, &rth);
	pthread_join(t, NULL);
	getrusage(RUSAGE_SELF, &ru1);
	CHECK_TRUE("RUSAGE_THREAD of a 30ms burner >= 25ms",
		   ru_us(&rth) >= 25000);
	CHECK_TRUE("RUSAGE_THREAD < RUSAGE_SELF", ru_us(&rth) < ru_us(&ru1));
	/* A thread made after the burner ended starts from nothing (the
	 * sandbox may run it on the burner's host thread). */
	struct rusage fresh[2];
	px_thread(&t, fresh_thread, fresh);
	pthread_join(t, NULL);
	CHECK_TRUE("a new thread's RUSAGE_THREAD starts near 0",
		   ru_us(&fresh[0]) < 15000);
	CHECK_TRUE("a new thread's CPU clock starts near 0",
		   fresh[1].ru_utime.tv_sec == 0 &&
			   fresh[1].ru_utime.tv_usec < 15000);

	getrusage(RUSAGE_SELF, &ru0);
	struct timespec req = {0, MS};
	nanosleep(&req, NULL);
	getrusage(RUSAGE_SELF, &ru1);
	CHECK_TRUE("a sleep is a voluntary context switch",
		   ru1.ru_nvcsw > ru0.ru_nvcsw);

	getrusage(RUSAGE_SELF, &ru0);
	size_t sz = 32u << 20;
	char *m = mmap(NULL, sz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(m, 1, sz);
	getrusage(RUSAGE_SELF, &ru1);
	munmap(m, sz);
	CHECK_TRUE("ru_maxrss grew by at least 16 MiB after touching 32 MiB",
		   ru1.ru_maxrss - ru0.ru_maxrss >= 16 * 1024);

	getrusage(RUSAGE_CHILDREN, &ru0);
	times(&t0);
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		px_burn_cpu(50 * MS);
		_exit(0);
	}
	getrusage(RUSAGE_CHILDREN, &ru1);
	CHECK_TRUE("RUSAGE_CHILDREN unchanged before the reap",
		   ru_us(&ru1) == ru_us(&ru0));
	px_expect_exit("CPU-burning child", pid, "exited 0");
	getrusage(RUSAGE_CHILDREN, &ru1);
	times(&t1);
	CHECK_TRUE("RUSAGE_CHILDREN grew by at least 45ms",
		   ru_us(&ru1) - ru_us(&ru0) >= 45000);
	CHECK_TRUE("tms_cutime+cstime grew by at least 3 ticks",
		   (t1.tms_cutime + t1.tms_cstime) -
			   (t0.tms_cutime + t0.tms_cstime) >=
		       3);
	CHECK_ERR("getrusage who 5", getrusage(5, &ru0), EINVAL);
	CHECK_ERR("getrusage EFAULT",
		  syscall(SYS_getrusage, RUSAGE_SELF, (void *)1), EFAULT);
}

static void *name_thread(void *arg)
{
	char *out = arg;

	prctl(PR_SET_NAME, "worker", 0, 0, 0);
	prctl(PR_GET_NAME, out, 0, 0, 0);
	return NULL;
}

static void nnp_child(void)
{
	CHECK_OK("PR_SET_NO_NEW_PRIVS 1",
		 prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK_RET("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
		  1);
	CHECK_ERR("PR_SET_NO_NEW_PRIVS 0 (one-way)",
		  prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL);
	CHECK_ERR("PR_SET_NO_NEW_PRIVS with a stray argument",
		  prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0), EINVAL);
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0)
		_exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	px_expect_exit("inherited by fork", pid, "exited 1");
}

static void prctl_tests(void)
{
	char name[32];

	CHECK_OK("PR_SET_NAME", prctl(PR_SET_NAME, "probe-sched-nm", 0, 0, 0));
	memset(name, 'x', sizeof(name));
	CHECK_OK("PR_GET_NAME", prctl(PR_GET_NAME, name, 0, 0, 0));
	CHECK_TRUE("name reads back", strcmp(name, "probe-sched-nm") == 0);
	prctl(PR_SET_NAME, "0123456789abcdefXYZ", 0, 0, 0);
	prctl(PR_GET_NAME, name, 0, 0, 0);
	CHECK_TRUE("long name cut to 15 bytes",
		   strcmp(name, "0123456789abcde") == 0);
	char tname[32] = "";
	pthread_t t;
	px_thread(&t, name_thread, tname);
	pthread_join(t, NULL);
	prctl(PR_GET_NAME, name, 0, 0, 0);
	CHECK_TRUE("a thread's name is its own",
		   strcmp(tname, "worker") == 0 &&
		       strcmp(name, "0123456789abcde") == 0);
	CHECK_ERR("PR_SET_NAME EFAULT", prctl(PR_SET_NAME, (void *)1, 0, 0, 0),
		  EFAULT);

	CHECK_RET("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	CHECK_OK("PR_SET_DUMPABLE 0", prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
	CHECK_RET("reads 0", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	CHECK_ERR("PR_SET_DUMPABLE 2", prctl(PR_SET_DUMPABLE, 2, 0, 0, 0),
		  EINVAL);
	CHECK_OK("PR_SET_DUMPABLE 1", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));

	CHECK_RET("PR_GET_SECCOMP: no filter of our own",
		  prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 0);
	CHECK_RET("PR_GET_NO_NEW_PRIVS initially",
		  prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
	px_child("no_new_privs, in a child", nnp_child);

	int v = -1;
	CHECK_OK("PR_SET_PDEATHSIG SIGHUP", prctl(PR_SET_PDEATHSIG, SIGHUP));
	prctl(PR_GET_PDEATHSIG, &v);
	CHECK_TRUE("reads SIGHUP", v == SIGHUP);
	prctl(PR_SET_PDEATHSIG, 0);
	CHECK_OK("PR_SET_CHILD_SUBREAPER 1", prctl(PR_SET_CHILD_SUBREAPER, 1));
	prctl(PR_GET_CHILD_SUBREAPER, &v);
	CHECK_TRUE("reads 1", v == 1);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	prctl(PR_GET_CHILD_SUBREAPER, &v);
	CHECK_TRUE("cleared", v == 0);

	CHECK_OK("PR_SET_TIMERSLACK 12345", prctl(PR_SET_TIMERSLACK, 12345));
	CHECK_RET("PR_GET_TIMERSLACK", prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0),
		  12345);
	CHECK_RET("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 0);
	CHECK_RET("PR_CAPBSET_READ CAP_CHOWN",
		  prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0), 1);
	CHECK_ERR("PR_CAPBSET_READ 99", prctl(PR_CAPBSET_READ, 99, 0, 0, 0),
		  EINVAL);
	CHECK_ERR("unknown prctl option", prctl(0x7fffffff, 0, 0, 0, 0),
		  EINVAL);
}

int main(void)
{
	px_reset();
	affinity_tests();
	affinity_under_load();
	policy_tests();
	accounting_tests();
	prctl_tests();
	return probe_done();
}
