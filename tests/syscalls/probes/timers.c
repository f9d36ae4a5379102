/*
 * timers: sleeping and timers.  nanosleep, clock_nanosleep (relative,
 * TIMER_ABSTIME on two clocks, on the process CPU clock, EINTR with the
 * remaining time), alarm, setitimer/getitimer (ITIMER_REAL one-shot and
 * periodic, ITIMER_VIRTUAL, ITIMER_PROF), POSIX timers (timer_create with
 * SIGEV_SIGNAL, SIGEV_THREAD_ID, SIGEV_NONE and the default sigevent;
 * timer_settime/gettime/getoverrun/delete; not inherited by fork).
 *
 * Only what is deterministic is printed: "slept at least 10ms", "remaining
 * time between 9s and 10s", never a measured duration.  The raw syscalls
 * are used where libc would reshape errors (clock_nanosleep returns the
 * errno) or hide the kernel's timer ids.  Takes about 1.3 s (alarm(1)).
 */
#include "probe_proc.h"

#include <pthread.h>
#include <sys/time.h>

#define MS	    1000000LL
#define SEC	    1000000000LL
#define RTSIG	    41
#define NO_SUCH_PID 0x3fffffff

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * SEC + t->tv_nsec;
}

static struct timespec ns_ts(int64_t ns)
{
	return (struct timespec){ns / SEC, ns % SEC};
}

static int64_t tv_us(const struct timeval *t)
{
	return (int64_t)t->tv_sec * 1000000 + t->tv_usec;
}

static volatile int alarms, vtalarms, profs;

static void on_signal(int sig)
{
	if (sig == SIGALRM)
		alarms++;
	else if (sig == SIGVTALRM)
		vtalarms++;
	else if (sig == SIGPROF)
		profs++;
}

static void handle(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = flags;
	sigaction(sig, &sa, NULL);
}

static void block(int sig, int how)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(how, &s, NULL);
}

/* Arms ITIMER_REAL once, `ms` from now. */
static void real_in(long ms)
{
	struct itimerval v = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};

	setitimer(ITIMER_REAL, &v, NULL);
}

static void disarm_real(void)
{
	struct itimerval v = {{0, 0}, {0, 0}};

	setitimer(ITIMER_REAL, &v, NULL);
}

/* ---- nanosleep / clock_nanosleep --------------------------------------- */

static void sleep_tests(void)
{
	struct timespec req, rem;
	int64_t t0;

	req = ns_ts(10 * MS);
	rem = (struct timespec){77, 77};
	t0 = px_now_ns(CLOCK_MONOTONIC);
	CHECK_OK("nanosleep 10ms", nanosleep(&req, &rem));
	CHECK_TRUE("slept at least 10ms",
		   px_now_ns(CLOCK_MONOTONIC) - t0 >= 10 * MS);
	CHECK_TRUE("remaining time not written on success",
		   rem.tv_sec == 77 && rem.tv_nsec == 77);
	req = (struct timespec){0, 1000000000};
	CHECK_ERR("nanosleep tv_nsec 1e9", nanosleep(&req, NULL), EINVAL);
	req = (struct timespec){0, -1};
	CHECK_ERR("nanosleep tv_nsec -1", nanosleep(&req, NULL), EINVAL);
	req = (struct timespec){-1, 0};
	CHECK_ERR("nanosleep tv_sec -1", nanosleep(&req, NULL), EINVAL);
	CHECK_ERR("nanosleep EFAULT", syscall(SYS_nanosleep, (void *)1, NULL),
		  EFAULT);
	req = (struct timespec){0, 0};
	CHECK_OK("nanosleep 0", nanosleep(&req, NULL));

	/* Interrupted by a handled SIGALRM: EINTR, even with SA_RESTART. */
	handle(SIGALRM, SA_RESTART);
	alarms = 0;
	/* t0 before the timer is armed: the check below is about time since
	 * arming (taken after, a delay before the clock read made it fail). */
	t0 = px_now_ns(CLOCK_MONOTONIC);
	real_in(20);
	req = ns_ts(10 * SEC);
	CHECK_ERR("nanosleep 10s, SIGALRM after 20ms (SA_RESTART)",
		  nanosleep(&req, &rem), EINTR);
	CHECK_TRUE("handler ran, at least 20ms in",
		   alarms == 1 && px_now_ns(CLOCK_MONOTONIC) - t0 >= 20 * MS);
	CHECK_TRUE("remaining time between 9s and 10s",
		   ts_ns(&rem) > 9 * SEC && ts_ns(&rem) < 10 * SEC);

	req = ns_ts(10 * MS);
	t0 = px_now_ns(CLOCK_MONOTONIC);
	CHECK_OK("clock_nanosleep MONOTONIC relative 10ms",
		 syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, NULL));
	CHECK_TRUE("slept at least 10ms",
		   px_now_ns(CLOCK_MONOTONIC) - t0 >= 10 * MS);
	req = ns_ts(px_now_ns(CLOCK_MONOTONIC) - SEC);
	CHECK_OK("clock_nanosleep TIMER_ABSTIME in the past",
		 syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME,
			 &req, NULL));
	int64_t target = px_now_ns(CLOCK_MONOTONIC) + 15 * MS;
	req = ns_ts(target);
	CHECK_OK("clock_nanosleep MONOTONIC TIMER_ABSTIME +15ms",
		 syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME,
			 &req, NULL));
	CHECK_TRUE("woke at or after the deadline",
		   px_now_ns(CLOCK_MONOTONIC) >= target);
	target = px_now_ns(CLOCK_REALTIME) + 15 * MS;
	req = ns_ts(target);
	CHECK_OK("clock_nanosleep REALTIME TIMER_ABSTIME +15ms",
		 syscall(SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME,
			 &req, NULL));
	CHECK_TRUE("woke at or after the deadline",
		   px_now_ns(CLOCK_REALTIME) >= target);
	CHECK_ERR("clock_nanosleep invalid clock",
		  syscall(SYS_clock_nanosleep, 100, 0, &req, NULL), EINVAL);
	/* A thread cannot sleep on its own CPU clock: EOPNOTSUPP, not EINVAL.
	 */
	CHECK_ERR("clock_nanosleep THREAD_CPUTIME",
		  syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &req,
			  NULL),
		  EOPNOTSUPP);
	req = (struct timespec){0, 1000000000};
	CHECK_ERR("clock_nanosleep tv_nsec 1e9",
		  syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, NULL),
		  EINVAL);

	alarms = 0;
	real_in(20);
	req = ns_ts(10 * SEC);
	rem = (struct timespec){0, 0};
	CHECK_ERR("clock_nanosleep relative 10s interrupted",
		  syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, &rem),
		  EINTR);
	CHECK_TRUE("remaining time between 9s and 10s",
		   ts_ns(&rem) > 9 * SEC && ts_ns(&rem) < 10 * SEC);
	alarms = 0;
	real_in(20);
	req = ns_ts(px_now_ns(CLOCK_MONOTONIC) + 10 * SEC);
	rem = (struct timespec){77, 77};
	CHECK_ERR("clock_nanosleep TIMER_ABSTIME interrupted",
		  syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME,
			  &req, &rem),
		  EINTR);
	CHECK_TRUE("absolute sleep leaves the remaining time alone",
		   rem.tv_sec == 77 && rem.tv_nsec == 77);
	disarm_real();
	signal(SIGALRM, SIG_DFL);
}

/* The process CPU clock only advances while some thread runs. */
static void *burner(void *arg)
{
	px_burn_cpu(40 * MS);
	return NULL;
}

static void cpu_clock_sleep(void)
{
	pthread_t t;
	struct timespec req = ns_ts(10 * MS);
	int64_t c0 = px_now_ns(CLOCK_PROCESS_CPUTIME_ID);

	px_thread(&t, burner, NULL);
	CHECK_OK("clock_nanosleep PROCESS_CPUTIME 10ms while a thread burns",
		 syscall(SYS_clock_nanosleep, CLOCK_PROCESS_CPUTIME_ID, 0, &req,
			 NULL));
	CHECK_TRUE("process CPU time advanced at least 10ms",
		   px_now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0 >= 10 * MS);
	pthread_join(t, NULL);
}

/* A stop and continue during nanosleep is invisible to the sleeper. */
static void stopped_sleeper(void)
{
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		struct timespec req = ns_ts(100 * MS);
		int64_t t0 = px_now_ns(CLOCK_MONOTONIC);
		int ok = nanosleep(&req, NULL) == 0 &&
			 px_now_ns(CLOCK_MONOTONIC) - t0 >= 100 * MS;
		_exit(ok ? 0 : 1);
	}
	int st = 0;
	kill(pid, SIGSTOP);
	px_waitpid(pid, &st, WUNTRACED);
	kill(pid, SIGCONT);
	px_expect_exit("nanosleep across SIGSTOP/SIGCONT returns 0", pid,
		       "exited 0");
}

/* ---- alarm and itimers -------------------------------------------------- */

static void itimer_tests(void)
{
	struct itimerval v, old;

	CHECK_RET("alarm(10) with none pending", alarm(10), 0);
	getitimer(ITIMER_REAL, &v);
	CHECK_TRUE("alarm is ITIMER_REAL: 9s < value <= 10s",
		   tv_us(&v.it_value) > 9000000 &&
		       tv_us(&v.it_value) <= 10000000 &&
		       tv_us(&v.it_interval) == 0);
	CHECK_RET("alarm(5) returns the old, rounded", alarm(5), 10);
	CHECK_RET("alarm(0) cancels, returns 5", alarm(0), 5);
	getitimer(ITIMER_REAL, &v);
	CHECK_TRUE("disarmed", tv_us(&v.it_value) == 0);

	handle(SIGALRM, 0);
	block(SIGALRM, SIG_BLOCK);
	alarms = 0;
	int64_t t0 = px_now_ns(CLOCK_MONOTONIC);
	alarm(1);
	sigset_t none;
	sigemptyset(&none);
	/* Waiting only makes sense if the alarm is really armed. */
	if (getitimer(ITIMER_REAL, &v) == 0 && tv_us(&v.it_value) > 0)
		sigsuspend(&none);
	CHECK_TRUE("alarm(1): SIGALRM after at least 1s",
		   alarms == 1 && px_now_ns(CLOCK_MONOTONIC) - t0 >= SEC);

	v = (struct itimerval){{0, 0}, {0, 30000}};
	t0 = px_now_ns(CLOCK_MONOTONIC);
	long armed =
	    CHECK_OK("setitimer REAL 30ms", setitimer(ITIMER_REAL, &v, &old));
	CHECK_TRUE("old value was disarmed", tv_us(&old.it_value) == 0);
	getitimer(ITIMER_REAL, &v);
	CHECK_TRUE("getitimer: 0 < value <= 30ms, no interval",
		   tv_us(&v.it_value) > 0 && tv_us(&v.it_value) <= 30000 &&
		       tv_us(&v.it_interval) == 0);
	alarms = 0;
	if (armed == 0)
		sigsuspend(&none);
	CHECK_TRUE("SIGALRM after at least 30ms",
		   alarms == 1 && px_now_ns(CLOCK_MONOTONIC) - t0 >= 30 * MS);
	getitimer(ITIMER_REAL, &v);
	CHECK_TRUE("one-shot: disarmed after firing", tv_us(&v.it_value) == 0);

	v = (struct itimerval){{0, 5000}, {0, 5000}};
	t0 = px_now_ns(CLOCK_MONOTONIC);
	armed = setitimer(ITIMER_REAL, &v, NULL);
	alarms = 0;
	while (armed == 0 && alarms < 3)
		sigsuspend(&none);
	CHECK_TRUE("periodic 5ms: 3 signals, at least 15ms",
		   px_now_ns(CLOCK_MONOTONIC) - t0 >= 15 * MS);
	memset(&v, 0, sizeof(v));
	CHECK_OK("disarm", setitimer(ITIMER_REAL, &v, &old));
	CHECK_TRUE("old interval exactly 5ms", tv_us(&old.it_interval) == 5000);
	block(SIGALRM, SIG_UNBLOCK);

	/* A NULL new value is taken as "disarm" (with a kernel warning). */
	v = (struct itimerval){{0, 0}, {10, 0}};
	setitimer(ITIMER_REAL, &v, NULL);
	CHECK_OK("setitimer(REAL, NULL, &old)",
		 syscall(SYS_setitimer, ITIMER_REAL, NULL, &old));
	getitimer(ITIMER_REAL, &v);
	CHECK_TRUE("it was armed, and is now disarmed",
		   tv_us(&old.it_value) > 9000000 && tv_us(&v.it_value) == 0);

	/* CPU-time itimers fire while we burn CPU. */
	handle(SIGVTALRM, 0);
	handle(SIGPROF, 0);
	v = (struct itimerval){{0, 0}, {0, 10000}};
	int64_t c0 = px_now_ns(CLOCK_PROCESS_CPUTIME_ID);
	CHECK_OK("setitimer VIRTUAL 10ms", setitimer(ITIMER_VIRTUAL, &v, NULL));
	CHECK_OK("setitimer PROF 10ms", setitimer(ITIMER_PROF, &v, NULL));
	while ((!vtalarms || !profs) &&
	       px_now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0 < 5 * SEC)
		px_burn_cpu(MS);
	CHECK_TRUE("SIGVTALRM and SIGPROF arrived",
		   vtalarms == 1 && profs == 1);
	/*
	 * User time is sampled at ticks, so ITIMER_VIRTUAL may fire a tick
	 * early by the precise CPU clock: only "well after arming" holds.
	 */
	CHECK_TRUE("after at least 5ms of CPU",
		   px_now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0 >= 5 * MS);
	signal(SIGVTALRM, SIG_DFL);
	signal(SIGPROF, SIG_DFL);

	CHECK_ERR("setitimer which 5", setitimer(5, &v, NULL), EINVAL);
	CHECK_ERR("getitimer which 5", getitimer(5, &v), EINVAL);
	v = (struct itimerval){{0, 0}, {0, 1000000}};
	CHECK_ERR("setitimer tv_usec 1e6", setitimer(ITIMER_REAL, &v, NULL),
		  EINVAL);
	v = (struct itimerval){{0, 0}, {-1, 0}};
	CHECK_ERR("setitimer negative", setitimer(ITIMER_REAL, &v, NULL),
		  EINVAL);
	CHECK_ERR("getitimer EFAULT",
		  syscall(SYS_getitimer, ITIMER_REAL, (void *)1), EFAULT);
	signal(SIGALRM, SIG_DFL);
}

/* ---- POSIX timers ------------------------------------------------------- */

struct ksigevent {
	union sigval value;
	int signo;
	int notify;
	int tid;
	int pad[11];
};

static long tcreate(clockid_t clk, struct ksigevent *ev, int *id)
{
	return syscall(SYS_timer_create, clk, ev, id);
}

static long tset(int id, int flags, int64_t value, int64_t interval,
		 struct itimerspec *old)
{
	struct itimerspec its = {ns_ts(interval), ns_ts(value)};

	return syscall(SYS_timer_settime, id, flags, &its, old);
}

static long tget(int id, struct itimerspec *cur)
{
	return syscall(SYS_timer_gettime, id, cur);
}

static volatile long thread_tid;
static volatile int thread_got, thread_code;

static void *rt_waiter(void *arg)
{
	sigset_t s;
	siginfo_t si;

	sigemptyset(&s);
	sigaddset(&s, RTSIG);
	thread_tid = syscall(SYS_gettid);
	if (sigwaitinfo(&s, &si) == RTSIG) {
		thread_got = 1;
		thread_code = si.si_code;
	}
	return NULL;
}

static void posix_timer_tests(void)
{
	struct ksigevent ev;
	struct itimerspec cur;
	sigset_t rt;
	siginfo_t si;
	int id = -1;

	sigemptyset(&rt);
	sigaddset(&rt, RTSIG);
	sigprocmask(SIG_BLOCK, &rt, NULL);

	memset(&ev, 0, sizeof(ev));
	ev.notify = SIGEV_SIGNAL;
	ev.signo = RTSIG;
	ev.value.sival_int = 77;
	CHECK_OK("timer_create MONOTONIC SIGEV_SIGNAL",
		 tcreate(CLOCK_MONOTONIC, &ev, &id));
	CHECK_OK("timer_gettime unarmed", tget(id, &cur));
	CHECK_TRUE("unarmed: zero", ts_ns(&cur.it_value) == 0);
	int64_t t0 = px_now_ns(CLOCK_MONOTONIC);
	CHECK_OK("timer_settime 20ms", tset(id, 0, 20 * MS, 0, NULL));
	tget(id, &cur);
	CHECK_TRUE("timer_gettime: 0 < value <= 20ms",
		   ts_ns(&cur.it_value) > 0 && ts_ns(&cur.it_value) <= 20 * MS);
	memset(&si, 0, sizeof(si));
	CHECK_RET("sigwaitinfo gets the timer signal", sigwaitinfo(&rt, &si),
		  RTSIG);
	CHECK_TRUE("after at least 20ms",
		   px_now_ns(CLOCK_MONOTONIC) - t0 >= 20 * MS);
	CHECK_TRUE("SI_TIMER, value 77, its timer id, overrun 0",
		   si.si_code == SI_TIMER && si.si_value.sival_int == 77 &&
		       si.si_timerid == id && si.si_overrun == 0);

	/* Periodic 1ms while the signal stays blocked: overruns pile up. */
	tset(id, 0, MS, MS, NULL);
	struct timespec req = ns_ts(20 * MS);
	nanosleep(&req, NULL);
	memset(&si, 0, sizeof(si));
	sigwaitinfo(&rt, &si);
	long ov = syscall(SYS_timer_getoverrun, id);
	CHECK_TRUE("overrun > 0 after 20 blocked periods", si.si_overrun > 0);
	CHECK_TRUE("timer_getoverrun == si_overrun", ov == si.si_overrun);
	struct itimerspec old;
	CHECK_OK("disarm", tset(id, 0, 0, 0, &old));
	CHECK_TRUE("old interval exactly 1ms", ts_ns(&old.it_interval) == MS);
	struct timespec zero = {0, 0};
	sigtimedwait(&rt, &si, &zero); /* one may have queued meanwhile */

	/* TIMER_ABSTIME in the past fires at once. */
	CHECK_OK(
	    "timer_settime TIMER_ABSTIME in the past",
	    tset(id, TIMER_ABSTIME, px_now_ns(CLOCK_MONOTONIC) - SEC, 0, NULL));
	CHECK_RET("fired", sigwaitinfo(&rt, &si), RTSIG);
	CHECK_OK("timer_delete", syscall(SYS_timer_delete, id));
	CHECK_ERR("timer_gettime after delete", tget(id, &cur), EINVAL);
	CHECK_ERR("timer_delete again", syscall(SYS_timer_delete, id), EINVAL);

	/* SIGEV_NONE counts down silently. */
	ev.notify = SIGEV_NONE;
	tcreate(CLOCK_MONOTONIC, &ev, &id);
	tset(id, 0, 10 * MS, 0, NULL);
	tget(id, &cur);
	CHECK_TRUE("SIGEV_NONE: counting down",
		   ts_ns(&cur.it_value) > 0 && ts_ns(&cur.it_value) <= 10 * MS);
	req = ns_ts(15 * MS);
	nanosleep(&req, NULL);
	tget(id, &cur);
	CHECK_TRUE("SIGEV_NONE: expired, reads 0", ts_ns(&cur.it_value) == 0);
	CHECK_ERR("SIGEV_NONE: no signal", sigtimedwait(&rt, &si, &zero),
		  EAGAIN);
	/* Periodic: past several periods it reads the time to the next one
	 * (never the "due, not yet delivered" 1 ns of a signalling timer). */
	tset(id, 0, 3 * MS, 3 * MS, NULL);
	req = ns_ts(20 * MS);
	nanosleep(&req, NULL);
	tget(id, &cur);
	CHECK_TRUE("SIGEV_NONE periodic: reads within one period",
		   ts_ns(&cur.it_value) > 1 && ts_ns(&cur.it_value) <= 3 * MS &&
			   ts_ns(&cur.it_interval) == 3 * MS);
	syscall(SYS_timer_delete, id);

	/* SIGEV_THREAD_ID: to one thread. */
	pthread_t t;
	thread_tid = 0;
	px_thread(&t, rt_waiter, NULL);
	while (!thread_tid)
		sched_yield();
	ev.notify = SIGEV_SIGNAL | SIGEV_THREAD_ID;
	ev.tid = (int)thread_tid;
	if (CHECK_OK("timer_create SIGEV_THREAD_ID",
		     tcreate(CLOCK_MONOTONIC, &ev, &id)) == -1 ||
	    tset(id, 0, 5 * MS, 0, NULL) == -1)
		syscall(SYS_tgkill, getpid(), thread_tid, RTSIG); /* release */
	pthread_join(t, NULL);
	CHECK_TRUE("the target thread got it, SI_TIMER",
		   thread_got && thread_code == SI_TIMER);
	CHECK_ERR("nothing for the main thread", sigtimedwait(&rt, &si, &zero),
		  EAGAIN);
	syscall(SYS_timer_delete, id);
	ev.tid = NO_SUCH_PID;
	CHECK_ERR("SIGEV_THREAD_ID with no such thread",
		  tcreate(CLOCK_MONOTONIC, &ev, &id), EINVAL);

	/* Defaults: SIGALRM carrying the timer id. */
	block(SIGALRM, SIG_BLOCK);
	CHECK_OK("timer_create with NULL sigevent",
		 tcreate(CLOCK_REALTIME, NULL, &id));
	tset(id, 0, 2 * MS, 0, NULL);
	sigset_t al;
	sigemptyset(&al);
	sigaddset(&al, SIGALRM);
	memset(&si, 0, sizeof(si));
	CHECK_RET("default: SIGALRM", sigwaitinfo(&al, &si), SIGALRM);
	CHECK_TRUE("default: si_value is the timer id",
		   si.si_value.sival_int == id && si.si_code == SI_TIMER);
	block(SIGALRM, SIG_UNBLOCK);

	/* Not inherited across fork. */
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0)
		_exit(tget(id, &cur) == -1 && errno == EINVAL ? 0 : 1);
	px_expect_exit("fork child does not have the timer", pid, "exited 0");
	syscall(SYS_timer_delete, id);

	ev.notify = SIGEV_SIGNAL;
	CHECK_ERR("timer_create invalid clock", tcreate(100, &ev, &id), EINVAL);
	ev.notify = 99;
	CHECK_ERR("timer_create invalid sigev_notify",
		  tcreate(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev.notify = SIGEV_SIGNAL;
	ev.signo = 65;
	CHECK_ERR("timer_create signal 65", tcreate(CLOCK_MONOTONIC, &ev, &id),
		  EINVAL);
	ev.signo = RTSIG;
	tcreate(CLOCK_MONOTONIC, &ev, &id);
	struct itimerspec bad = {{0, 0}, {0, 1000000000}};
	CHECK_ERR("timer_settime tv_nsec 1e9",
		  syscall(SYS_timer_settime, id, 0, &bad, NULL), EINVAL);
	syscall(SYS_timer_delete, id);
	CHECK_ERR("timer_settime on no timer", tset(12345, 0, MS, 0, NULL),
		  EINVAL);
	sigprocmask(SIG_UNBLOCK, &rt, NULL);
}

int main(void)
{
	px_reset();
	sleep_tests();
	cpu_clock_sleep();
	stopped_sleeper();
	itimer_tests();
	posix_timer_tests();
	return probe_done();
}
