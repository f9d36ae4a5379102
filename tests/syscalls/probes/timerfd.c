/*
 * timerfd: create, arm (relative, absolute, periodic), disarm, read
 * (EAGAIN, blocking, expiration counts), poll and epoll readiness, and
 * the errors of bad clocks, flags, values, sizes and fds.
 */
#include "probe.h"

#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>

static struct itimerspec its(long v_ns, long i_ns)
{
	struct itimerspec s = {{i_ns / 1000000000, i_ns % 1000000000},
			       {v_ns / 1000000000, v_ns % 1000000000}};
	return s;
}

int main(void)
{
	uint64_t n = 0;
	struct itimerspec cur, old;
	int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	CHECK_TRUE("timerfd_create", t >= 0);
	CHECK_RET("FD_CLOEXEC", fcntl(t, F_GETFD), FD_CLOEXEC);
	CHECK_ERR("read unarmed", read(t, &n, 8), EAGAIN);
	CHECK_OK("gettime unarmed", timerfd_gettime(t, &cur));
	CHECK_TRUE("disarmed",
		   cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
	CHECK_ERR("read 4 bytes", read(t, &n, 4), EINVAL);

	struct itimerspec one = its(1000000, 0); /* 1 ms, once */
	CHECK_OK("arm 1 ms", timerfd_settime(t, 0, &one, NULL));
	struct pollfd p = {t, POLLIN, 0};
	CHECK_RET("poll until it fires", poll(&p, 1, 5000), 1);
	CHECK_RET("read", read(t, &n, 8), 8);
	CHECK_RET("one expiration", (long)n, 1);
	CHECK_ERR("read again", read(t, &n, 8), EAGAIN);
	CHECK_OK("gettime after", timerfd_gettime(t, &cur));
	CHECK_TRUE("a one-shot is disarmed after",
		   cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);

	/* Absolute, already in the past: expired at once. */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct itimerspec past = {{0, 0}, {now.tv_sec - 1, now.tv_nsec}};
	if (past.it_value.tv_sec < 0)
		past.it_value.tv_sec = 0;
	CHECK_OK("arm in the past (ABSTIME)",
		 timerfd_settime(t, TFD_TIMER_ABSTIME, &past, NULL));
	CHECK_RET("expired at once", read(t, &n, 8), 8);

	/* Periodic, read blocking from a blocking twin fd via epoll. */
	struct itimerspec per = its(2000000, 2000000);
	CHECK_OK("arm periodic", timerfd_settime(t, 0, &per, &old));
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
	CHECK_OK("epoll ADD", epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev));
	CHECK_RET("epoll sees it fire", epoll_wait(ep, &out, 1, 5000), 1);
	CHECK_TRUE("the watch", out.data.u32 == 7);
	CHECK_RET("read", read(t, &n, 8), 8);
	CHECK_TRUE("at least one expiration", n >= 1);
	CHECK_OK("gettime periodic", timerfd_gettime(t, &cur));
	CHECK_TRUE("the interval", cur.it_interval.tv_sec == 0 &&
				       cur.it_interval.tv_nsec == 2000000);
	struct itimerspec zero = its(0, 0);
	CHECK_OK("disarm", timerfd_settime(t, 0, &zero, &old));
	CHECK_TRUE("old interval returned", old.it_interval.tv_nsec == 2000000);
	close(ep);

	int b = timerfd_create(CLOCK_REALTIME, 0);
	struct itimerspec soon = its(3000000, 0);
	timerfd_settime(b, 0, &soon, NULL);
	CHECK_RET("blocking read", read(b, &n, 8), 8);
	CHECK_RET("fired once", (long)n, 1);
	struct stat st;
	CHECK_OK("fstat", fstat(b, &st));
	CHECK_TRUE("no file type, mode 0600",
		   (st.st_mode & S_IFMT) == 0 && (st.st_mode & 0777) == 0600);
	close(b);

	CHECK_ERR("bad clock", timerfd_create(12345, 0), EINVAL);
	CHECK_ERR("CLOCK_PROCESS_CPUTIME_ID",
		  timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL);
	CHECK_ERR("bad flags", timerfd_create(CLOCK_MONOTONIC, 0x10), EINVAL);
	CHECK_ERR("settime bad flags", timerfd_settime(t, 0x10, &one, NULL),
		  EINVAL);
	struct itimerspec badns = {{0, 0}, {0, 1000000000}};
	CHECK_ERR("settime nsec out of range",
		  timerfd_settime(t, 0, &badns, NULL), EINVAL);
	int e = eventfd(0, 0);
	CHECK_ERR("settime on an eventfd", timerfd_settime(e, 0, &one, NULL),
		  EINVAL);
	CHECK_ERR("gettime on an eventfd", timerfd_gettime(e, &cur), EINVAL);
	CHECK_ERR("settime bad fd", timerfd_settime(555, 0, &one, NULL), EBADF);
	CHECK_ERR("settime bad pointer", timerfd_settime(t, 0, (void *)8, NULL),
		  EFAULT);
	close(e);
	close(t);
	return probe_done();
}
