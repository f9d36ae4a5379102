/*
 * eventfd: counter and semaphore modes, the limits of read and write
 * sizes and values, EAGAIN when empty or full, poll and epoll readiness,
 * a read that blocks until another process writes, flags.
 */
#include "probe.h"

#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

static unsigned ready(int fd)
{
	struct pollfd p = {fd, POLLIN | POLLOUT, 0};
	poll(&p, 1, 0);
	return (unsigned)p.revents;
}

int main(void)
{
	uint64_t v = 0;
	int e = eventfd(3, EFD_NONBLOCK);
	CHECK_TRUE("eventfd", e >= 0);
	CHECK_RET("read the count", read(e, &v, 8), 8);
	CHECK_RET("it was 3", (long)v, 3);
	CHECK_ERR("read empty", read(e, &v, 8), EAGAIN);
	CHECK_TRUE("empty: writable only", ready(e) == POLLOUT);
	v = 5;
	CHECK_RET("write 5", write(e, &v, 8), 8);
	CHECK_RET("write 5 again", write(e, &v, 8), 8);
	CHECK_TRUE("readable and writable", ready(e) == (POLLIN | POLLOUT));
	CHECK_RET("read the sum", read(e, &v, 8), 8);
	CHECK_RET("it was 10", (long)v, 10);
	CHECK_ERR("read 4 bytes", read(e, &v, 4), EINVAL);
	CHECK_ERR("write 4 bytes", write(e, &v, 4), EINVAL);
	v = UINT64_MAX;
	CHECK_ERR("write the all-ones value", write(e, &v, 8), EINVAL);
	v = 0xfffffffffffffffeULL;
	CHECK_RET("write the maximum", write(e, &v, 8), 8);
	CHECK_TRUE("full: readable only", ready(e) == POLLIN);
	v = 1;
	CHECK_ERR("write past the maximum", write(e, &v, 8), EAGAIN);
	v = 0;
	CHECK_RET("write 0 when full", write(e, &v, 8), 8);
	CHECK_RET("read 16 bytes takes 8", read(e, (uint64_t[2]){0}, 16), 8);
	CHECK_RET("GETFL", fcntl(e, F_GETFL) & (O_ACCMODE | O_NONBLOCK),
		  O_RDWR | O_NONBLOCK);
	CHECK_RET("no FD_CLOEXEC", fcntl(e, F_GETFD), 0);
	struct stat st;
	CHECK_OK("fstat", fstat(e, &st));
	CHECK_TRUE("no file type, mode 0600",
		   (st.st_mode & S_IFMT) == 0 && (st.st_mode & 0777) == 0600);
	close(e);

	int s = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK_RET("FD_CLOEXEC", fcntl(s, F_GETFD), FD_CLOEXEC);
	CHECK_RET("semaphore read", read(s, &v, 8), 8);
	CHECK_RET("takes 1", (long)v, 1);
	CHECK_RET("semaphore read again", read(s, &v, 8), 8);
	CHECK_ERR("then empty", read(s, &v, 8), EAGAIN);
	close(s);
	CHECK_ERR("bad flags", eventfd(0, 0x10), EINVAL);

	/* A blocking read wakes when another process writes. */
	int b = eventfd(0, 0);
	pid_t c = fork();
	if (c == 0) {
		uint64_t seven = 7;
		_exit(write(b, &seven, 8) == 8 ? 0 : 1);
	}
	CHECK_RET("blocking read", read(b, &v, 8), 8);
	CHECK_RET("the child's 7", (long)v, 7);
	int st2;
	waitpid(c, &st2, 0);

	/* epoll sees it become readable. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42}, out;
	CHECK_OK("epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev));
	CHECK_RET("nothing yet", epoll_wait(ep, &out, 1, 0), 0);
	v = 1;
	write(b, &v, 8);
	CHECK_RET("readable", epoll_wait(ep, &out, 1, 0), 1);
	CHECK_TRUE("the right watch",
		   out.data.u64 == 42 && (out.events & EPOLLIN));
	close(ep);
	close(b);
	return probe_done();
}
