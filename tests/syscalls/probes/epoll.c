/*
 * epoll: create/create1 and their flags, epoll_ctl's errors, level- and
 * edge-triggered reports on pipes, EPOLLONESHOT and re-arming with MOD,
 * EPOLLHUP and EPOLLERR when the other end goes, epoll_wait timeouts and
 * bad arguments, the data word passed back, a watch gone once its fd is
 * closed, an epoll fd inside poll() and inside another epoll, a waiter
 * woken by a writer thread, epoll_pwait's signal mask, and an fd that got
 * ready before a signal came winning over EINTR (epoll_wait and poll).
 * Also poll/ppoll/select basics on pipes.
 */
#include "probe_proc.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>

static int add(int ep, int fd, uint32_t ev, uint64_t data)
{
	struct epoll_event e = { .events = ev, .data.u64 = data };
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static int wait1(int ep, struct epoll_event *e, int ms)
{
	return epoll_wait(ep, e, 1, ms);
}

static void create_tests(void)
{
	int ep;
	CHECK_ERR("epoll_create(0)", epoll_create(0), EINVAL);
	CHECK_ERR("epoll_create(-1)", epoll_create(-1), EINVAL);
	ep = epoll_create(1);
	CHECK_TRUE("epoll_create(1) gives an fd", ep >= 0);
	CHECK_RET("no close-on-exec", fcntl(ep, F_GETFD), 0);
	close(ep);
	ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK_TRUE("epoll_create1(EPOLL_CLOEXEC)", ep >= 0);
	CHECK_RET("close-on-exec set", fcntl(ep, F_GETFD), FD_CLOEXEC);
	close(ep);
	CHECK_ERR("epoll_create1(bad flag)", epoll_create1(1), EINVAL);
}

static void ctl_tests(void)
{
	int p[2], ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN };
	CHECK_OK("pipe", pipe(p));
	CHECK_OK("ADD", add(ep, p[0], EPOLLIN, 1));
	CHECK_ERR("ADD again", add(ep, p[0], EPOLLIN, 1), EEXIST);
	CHECK_ERR("MOD of an fd not watched",
		  epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &e), ENOENT);
	CHECK_ERR("DEL of an fd not watched",
		  epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), ENOENT);
	CHECK_ERR("ADD of a bad fd", add(ep, 999, EPOLLIN, 0), EBADF);
	CHECK_ERR("ctl on a bad epoll fd", add(999, p[0], EPOLLIN, 0), EBADF);
	CHECK_ERR("ctl on a pipe as the epoll fd", add(p[1], p[0], EPOLLIN, 0),
		  EINVAL);
	CHECK_ERR("ADD the epoll fd to itself", add(ep, ep, EPOLLIN, 0), EINVAL);
	CHECK_ERR("unknown op", epoll_ctl(ep, 99, p[0], &e), EINVAL);
	CHECK_ERR("EPOLLEXCLUSIVE with EPOLLONESHOT",
		  add(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT, 0),
		  EINVAL);
	CHECK_OK("DEL", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	CHECK_ERR("DEL again", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), ENOENT);
	struct epoll_event out[2];
	CHECK_ERR("wait with maxevents 0", epoll_wait(ep, out, 0, 0), EINVAL);
	CHECK_ERR("wait on a pipe", epoll_wait(p[0], out, 1, 0), EINVAL);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void level_edge_tests(void)
{
	int p[2], ep = epoll_create1(0);
	struct epoll_event e;
	char buf[16];

	CHECK_OK("pipe", pipe(p));
	CHECK_OK("watch the read end (level)", add(ep, p[0], EPOLLIN, 0x1234));
	CHECK_RET("empty pipe: nothing, timeout 0", wait1(ep, &e, 0), 0);
	CHECK_RET("write 3", write(p[1], "abc", 3), 3);
	CHECK_RET("readable", wait1(ep, &e, 0), 1);
	CHECK_TRUE("EPOLLIN and the data word",
		   e.events == EPOLLIN && e.data.u64 == 0x1234);
	CHECK_RET("still readable (level-triggered)", wait1(ep, &e, 0), 1);
	CHECK_RET("read it all", read(p[0], buf, sizeof(buf)), 3);
	CHECK_RET("drained: nothing", wait1(ep, &e, 0), 0);

	struct epoll_event m = { .events = EPOLLIN | EPOLLET, .data.u64 = 7 };
	CHECK_OK("MOD to edge-triggered", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &m));
	CHECK_RET("write 2", write(p[1], "xy", 2), 2);
	CHECK_RET("edge: reported once", wait1(ep, &e, 0), 1);
	CHECK_RET("edge: not again without a new event", wait1(ep, &e, 0), 0);
	CHECK_RET("write 1 more", write(p[1], "z", 1), 1);
	CHECK_RET("edge: the new write reports", wait1(ep, &e, 0), 1);
	CHECK_RET("read it all", read(p[0], buf, sizeof(buf)), 3);

	m.events = EPOLLIN | EPOLLONESHOT;
	CHECK_OK("MOD to one-shot", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &m));
	CHECK_RET("write 1", write(p[1], "q", 1), 1);
	CHECK_RET("one-shot: reported", wait1(ep, &e, 0), 1);
	CHECK_RET("one-shot: then disabled", wait1(ep, &e, 0), 0);
	CHECK_OK("MOD re-arms", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &m));
	CHECK_RET("reported again", wait1(ep, &e, 0), 1);
	CHECK_RET("read", read(p[0], buf, sizeof(buf)), 1);

	CHECK_OK("watch the write end", add(ep, p[1], EPOLLOUT, 99));
	CHECK_RET("write end: writable", wait1(ep, &e, 0), 1);
	CHECK_TRUE("EPOLLOUT, data 99", e.events == EPOLLOUT && e.data.u64 == 99);
	close(p[0]);
	CHECK_RET("reader gone: the write end reports", wait1(ep, &e, 0), 1);
	CHECK_TRUE("EPOLLOUT|EPOLLERR", e.events == (EPOLLOUT | EPOLLERR));
	close(p[1]);
	CHECK_RET("closed fds are no longer watched", wait1(ep, &e, 0), 0);
	close(ep);

	CHECK_OK("pipe", pipe(p));
	ep = epoll_create1(0);
	CHECK_OK("watch for input", add(ep, p[0], EPOLLIN, 0));
	close(p[1]);
	CHECK_RET("writer gone", wait1(ep, &e, 0), 1);
	CHECK_TRUE("EPOLLHUP", e.events == EPOLLHUP);
	close(p[0]);
	close(ep);
}

static int wake_fd;
static pthread_t main_thread;

/* Writes a byte to wake_fd once the main thread sleeps; then, if
 * signal_main, sends it SIGUSR1. */
static void *late_writer(void *signal_main)
{
	struct pollfd none;
	poll(&none, 0, 30); /* let the main thread sleep first */
	if (write(wake_fd, "w", 1) != 1)
		_exit(3);
	if (signal_main)
		pthread_kill(main_thread, SIGUSR1);
	return NULL;
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

/* A signal that comes after the fd got ready, while the waiter sleeps:
 * Linux looks at the fds again before it looks at signals, so poll and
 * epoll_wait return the fd (the handler, set without SA_RESTART, runs on
 * the way out), never EINTR. Natively this holds whichever comes first to
 * the waiter, the wake-up or the signal. */
static void ready_then_signal_tests(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	int p[2], ep = epoll_create1(0);
	char c;

	sigaction(SIGUSR1, &sa, &old);
	main_thread = pthread_self();
	CHECK_OK("pipe", pipe(p));
	CHECK_OK("watch", add(ep, p[0], EPOLLIN, 9));
	wake_fd = p[1];
	for (int k = 0; k < 5; k++) {
		pthread_t th;
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		got_usr1 = 0;
		pthread_create(&th, NULL, late_writer, &main_thread);
		int r = poll(&pf, 1, -1);
		CHECK_TRUE("poll: ready before the signal, so the fd",
			   r == 1 && pf.revents == POLLIN);
		pthread_join(th, NULL);
		CHECK_TRUE("poll: the handler ran", got_usr1);
		CHECK_RET("drain", read(p[0], &c, 1), 1);

		struct epoll_event e = { 0 };
		got_usr1 = 0;
		pthread_create(&th, NULL, late_writer, &main_thread);
		r = wait1(ep, &e, -1);
		CHECK_TRUE("epoll_wait: ready before the signal, so the fd",
			   r == 1 && e.data.u64 == 9);
		pthread_join(th, NULL);
		CHECK_TRUE("epoll_wait: the handler ran", got_usr1);
		CHECK_RET("drain", read(p[0], &c, 1), 1);
	}
	sigaction(SIGUSR1, &old, NULL);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void wait_tests(void)
{
	int p[2], ep = epoll_create1(0), ep2 = epoll_create1(0);
	struct epoll_event e;
	pthread_t th;

	CHECK_OK("pipe", pipe(p));
	CHECK_OK("watch", add(ep, p[0], EPOLLIN, 5));
	wake_fd = p[1];
	px_thread(&th, late_writer, NULL);
	CHECK_RET("a sleeping wait is woken by a writer thread",
		  wait1(ep, &e, 5000), 1);
	pthread_join(th, NULL);
	CHECK_TRUE("data 5", e.data.u64 == 5);

	struct pollfd pf = { ep, POLLIN, 0 };
	CHECK_RET("poll() on the epoll fd", poll(&pf, 1, 0), 1);
	CHECK_TRUE("POLLIN", pf.revents == POLLIN);
	CHECK_OK("epoll inside epoll", add(ep2, ep, EPOLLIN, 77));
	CHECK_RET("the outer one reports the inner", wait1(ep2, &e, 0), 1);
	CHECK_TRUE("data 77", e.data.u64 == 77);
	char c;
	CHECK_RET("read", read(p[0], &c, 1), 1);
	CHECK_RET("outer: nothing once drained", wait1(ep2, &e, 0), 0);
	CHECK_RET("a 20 ms timeout expires", wait1(ep, &e, 20), 0);

	/* epoll_pwait lets SIGUSR1 in only while it waits. */
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t block, none;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	kill(getpid(), SIGUSR1);
	CHECK_TRUE("SIGUSR1 pending, not delivered", !got_usr1);
	sigemptyset(&none);
	CHECK_ERR("epoll_pwait with SIGUSR1 unblocked",
		  epoll_pwait(ep, &e, 1, 5000, &none), EINTR);
	CHECK_TRUE("the handler ran", got_usr1);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	CHECK_TRUE("SIGUSR1 blocked again afterwards", sigismember(&now, SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	close(p[0]);
	close(p[1]);
	close(ep);
	close(ep2);
}

static int closer_fd, closer_wake;

static void *closer(void *arg)
{
	close(closer_fd);
	if (write(closer_wake, "w", 1) != 1)
		return (void *)1;
	return arg;
}

/* Another thread closes a file this one polls: the poll goes on and finds
 * the fd gone (POLLNVAL) on its next look; when the close comes during the
 * wait, the sentry must not free what the wait is still linked into. A
 * close between poll's looks at the two fds leaves the eventfd seen open
 * (the pipe's byte ends that poll): the next poll sees it gone. */
static void poll_close_race(void)
{
	int w[2];
	CHECK_OK("pipe", pipe(w));
	closer_fd = eventfd(0, 0);
	closer_wake = w[1];
	struct pollfd pf[2] = { { closer_fd, POLLIN, 0 }, { w[0], POLLIN, 0 } };
	pthread_t th;
	CHECK_TRUE("a closing thread",
		   pthread_create(&th, NULL, closer, NULL) == 0);
	int r = poll(pf, 2, 5000);
	CHECK_TRUE("poll returns", r >= 1);
	if (pf[0].revents == 0)
		poll(pf, 1, 0);
	CHECK_TRUE("the closed fd is POLLNVAL", pf[0].revents == POLLNVAL);
	CHECK_TRUE("closer done", pthread_join(th, NULL) == 0);
	close(w[0]);
	close(w[1]);
}

static void poll_select_tests(void)
{
	int p[2];
	char buf1[1];
	CHECK_OK("pipe", pipe(p));
	struct pollfd pf[3] = { { p[0], POLLIN, 0 }, { p[1], POLLOUT, 0 },
				{ -1, POLLIN, 0 } };
	CHECK_RET("poll: only the write end is ready", poll(pf, 3, 0), 1);
	CHECK_TRUE("revents", pf[0].revents == 0 && pf[1].revents == POLLOUT &&
				      pf[2].revents == 0);
	struct pollfd bad = { 999, POLLIN, 0 };
	CHECK_RET("poll: a bad fd counts", poll(&bad, 1, 0), 1);
	CHECK_TRUE("POLLNVAL", bad.revents == POLLNVAL);
	CHECK_RET("poll: 20 ms timeout", poll(pf, 1, 20), 0);
	struct timespec ts = { 0, 1000000 };
	CHECK_RET("ppoll: 1 ms timeout", ppoll(pf, 1, &ts, NULL), 0);

	fd_set r, w;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &w);
	struct timeval tv = { 0, 0 };
	CHECK_RET("select: the write end", select(p[1] + 1, &r, &w, NULL, &tv), 1);
	CHECK_TRUE("only w is set", !FD_ISSET(p[0], &r) && FD_ISSET(p[1], &w));
	CHECK_RET("write", write(p[1], "a", 1), 1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv.tv_sec = 1;
	CHECK_RET("select: readable now", select(p[0] + 1, &r, NULL, NULL, &tv), 1);
	/* A closed fd inside the table (select looks no further than the
	 * table's size, which Linux grows on demand). */
	int closed = dup(p[0]);
	close(closed);
	FD_ZERO(&r);
	FD_SET(closed, &r);
	tv.tv_sec = 0;
	CHECK_ERR("select on a closed fd", select(closed + 1, &r, NULL, NULL, &tv),
		  EBADF);
	CHECK_ERR("select nfds -1", select(-1, NULL, NULL, NULL, &tv), EINVAL);
	close(p[0]);
	close(p[1]);

	/* More files than a waiting poll's first table holds (the sentry's
	 * grew it once while the waits were linked). */
	int many[12][2], top = 0;
	struct pollfd mp[12];
	for (int i = 0; i < 12; i++) {
		if (pipe(many[i]) < 0)
			many[i][0] = many[i][1] = -1;
		mp[i] = (struct pollfd){ many[i][0], POLLIN, 0 };
		if (many[i][0] > top)
			top = many[i][0];
	}
	CHECK_RET("poll: 12 empty pipes for 20 ms", poll(mp, 12, 20), 0);
	CHECK_RET("write to the last", write(many[11][1], "x", 1), 1);
	CHECK_RET("poll: 12 pipes, the last readable", poll(mp, 12, 1000), 1);
	CHECK_TRUE("its POLLIN", mp[11].revents == POLLIN && mp[0].revents == 0);
	CHECK_RET("read it", read(many[11][0], buf1, 1), 1);
	FD_ZERO(&r);
	for (int i = 0; i < 12; i++)
		FD_SET(many[i][0], &r);
	tv = (struct timeval){ 0, 20000 };
	CHECK_RET("select: 12 empty pipes for 20 ms",
		  select(top + 1, &r, NULL, NULL, &tv), 0);
	for (int i = 0; i < 12; i++) {
		close(many[i][0]);
		close(many[i][1]);
	}
}

int main(void)
{
	create_tests();
	ctl_tests();
	level_edge_tests();
	wait_tests();
	poll_select_tests();
	ready_then_signal_tests();
	for (int i = 0; i < 20; i++)
		poll_close_race();
	return probe_done();
}
