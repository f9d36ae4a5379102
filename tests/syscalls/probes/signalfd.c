/*
 * signalfd: blocked signals read as signalfd_siginfo records (sender's
 * pid and uid, sigqueue values, SIGCHLD status), the mask's filter, a
 * read that blocks until a signal comes, poll and epoll readiness, mask
 * updates, and the errors of sizes, flags and fds.
 */
#include "probe.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

static int upd_fd;

static void *blocked_reader(void *arg)
{
	(void)arg;
	struct signalfd_siginfo si;
	long r = read(upd_fd, &si, sizeof(si));
	return (void *)(long)(r == sizeof(si) && si.ssi_signo == SIGUSR1);
}

/* A reader blocked on a mask without the pending signal wakes when the
 * mask is changed to include it. */
static void mask_update_wakes(void)
{
	sigset_t u2, u1;
	sigemptyset(&u2);
	sigaddset(&u2, SIGUSR2);
	sigemptyset(&u1);
	sigaddset(&u1, SIGUSR1);
	upd_fd = signalfd(-1, &u2, 0);
	kill(getpid(), SIGUSR1);
	pthread_t th;
	pthread_create(&th, NULL, blocked_reader, NULL);
	for (int i = 0; i < 1000; i++)
		sched_yield(); /* the reader most likely blocks first */
	CHECK_RET("update the mask to the pending signal",
		  signalfd(upd_fd, &u1, 0), upd_fd);
	void *ok;
	pthread_join(th, &ok);
	CHECK_TRUE("the blocked reader woke with SIGUSR1", ok != NULL);
	close(upd_fd);
}

/* An epoll watching a signalfd outlives the process that added the watch:
 * a grandchild closes it after that process is gone and reaped. */
static void epoll_outlives_adder(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	int pfd[2];
	pipe(pfd);
	pid_t a = fork();
	if (a == 0) {
		sigset_t m;
		sigemptyset(&m);
		sigaddset(&m, SIGUSR1);
		int s = signalfd(-1, &m, SFD_NONBLOCK);
		int ep = epoll_create1(0);
		struct epoll_event ev = {.events = EPOLLIN};
		epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
		pid_t b = fork();
		if (b == 0) {
			char c;
			close(pfd[1]);
			/* Until the adder is reaped: the pipe closes at its
			 * exit, and the probe reaps it before writing. */
			if (read(pfd[0], &c, 1) != 1)
				_exit(3);
			close(ep);
			close(s);
			_exit(0);
		}
		_exit(0);
	}
	close(pfd[0]);
	int st;
	waitpid(a, &st, 0);
	CHECK_TRUE("the adder exited", WIFEXITED(st));
	write(pfd[1], "x", 1);
	close(pfd[1]);
	pid_t b = wait(&st);
	CHECK_TRUE("the grandchild closed the epoll and exited 0",
		   b > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

int main(void)
{
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGCHLD);
	sigaddset(&m, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &m, NULL);

	sigset_t only1;
	sigemptyset(&only1);
	sigaddset(&only1, SIGUSR1);
	int s = signalfd(-1, &only1, SFD_NONBLOCK | SFD_CLOEXEC);
	CHECK_TRUE("signalfd", s >= 0);
	CHECK_RET("FD_CLOEXEC", fcntl(s, F_GETFD), FD_CLOEXEC);
	struct signalfd_siginfo si[2];
	CHECK_ERR("nothing pending", read(s, si, sizeof(si)), EAGAIN);
	struct pollfd p = {s, POLLIN, 0};
	CHECK_RET("not readable", poll(&p, 1, 0), 0);

	kill(getpid(), SIGUSR2);
	CHECK_ERR("SIGUSR2 is not in the mask", read(s, si, sizeof(si)),
		  EAGAIN);
	kill(getpid(), SIGUSR1);
	CHECK_RET("readable", poll(&p, 1, 0), 1);
	CHECK_RET("read one record", read(s, si, sizeof(si)), sizeof(si[0]));
	CHECK_TRUE("SIGUSR1 from this process",
		   si[0].ssi_signo == SIGUSR1 &&
		       si[0].ssi_pid == (uint32_t)getpid() &&
		       si[0].ssi_code == SI_USER && si[0].ssi_uid == getuid());
	CHECK_ERR("read a short buffer", read(s, si, 100), EINVAL);

	/* A new mask: now SIGUSR2 (still pending) and a queued RT signal. */
	sigset_t two;
	sigemptyset(&two);
	sigaddset(&two, SIGUSR2);
	sigaddset(&two, SIGRTMIN);
	CHECK_RET("update the mask", signalfd(s, &two, 0), s);
	union sigval v = {.sival_int = 1234};
	sigqueue(getpid(), SIGRTMIN, v);
	CHECK_RET("read two records", read(s, si, sizeof(si)),
		  2 * sizeof(si[0]));
	CHECK_TRUE("SIGUSR2 first (lower number)", si[0].ssi_signo == SIGUSR2);
	CHECK_TRUE("then SIGRTMIN with its value",
		   si[1].ssi_signo == (uint32_t)SIGRTMIN &&
		       si[1].ssi_code == SI_QUEUE && si[1].ssi_int == 1234);

	/* SIGCHLD carries the child's status; the read blocks until then. */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	int c = signalfd(-1, &chld, 0);
	pid_t kid = fork();
	if (kid == 0)
		_exit(7);
	CHECK_RET("blocking read of SIGCHLD", read(c, si, sizeof(si[0])),
		  sizeof(si[0]));
	CHECK_TRUE("the child's pid, CLD_EXITED, status 7",
		   si[0].ssi_pid == (uint32_t)kid &&
		       si[0].ssi_code == CLD_EXITED && si[0].ssi_status == 7);
	waitpid(kid, NULL, 0);

	/* epoll: readiness when a signal arrives. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 9}, out;
	CHECK_OK("epoll ADD", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
	CHECK_RET("nothing yet", epoll_wait(ep, &out, 1, 0), 0);
	kill(getpid(), SIGUSR2);
	CHECK_RET("ready", epoll_wait(ep, &out, 1, 1000), 1);
	CHECK_RET("read it", read(s, si, sizeof(si)), sizeof(si[0]));
	close(ep);

	CHECK_ERR("bad size", syscall(SYS_signalfd4, -1, &only1, 4, 0), EINVAL);
	CHECK_ERR("bad flags", syscall(SYS_signalfd4, -1, &only1, 8, 0x10),
		  EINVAL);
	CHECK_ERR("update a non-signalfd", signalfd(1, &only1, 0), EINVAL);
	CHECK_ERR("update a bad fd", signalfd(555, &only1, 0), EBADF);
	CHECK_ERR("bad mask pointer",
		  syscall(SYS_signalfd4, -1, (void *)8, 8, 0), EFAULT);
	close(c);
	close(s);
	mask_update_wakes();
	epoll_outlives_adder();
	return probe_done();
}
