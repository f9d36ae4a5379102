/*
 * pipe: pipe and pipe2.  Flags (O_CLOEXEC, O_NONBLOCK, O_DIRECT packet
 * mode) and their errors, data through the pipe in order, EOF once every
 * writer is closed (including a writer held by a child), EAGAIN on an empty
 * non-blocking pipe and on a full one, the default 64 KiB capacity, PIPE_BUF
 * atomicity of non-blocking writes, EPIPE with SIGPIPE (default action
 * kills, ignored gives EPIPE, blocked leaves it pending), a blocked reader
 * woken by a writer thread, a pipe shared across fork, and reads into
 * memory they cannot write (nothing taken, or a short count), and a byte
 * or the end of file that came before a signal winning over EINTR.
 */
#include "probe_proc.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/uio.h>

static void basic_tests(void)
{
	int p[2] = {-1, -1};
	char buf[64];

	CHECK_OK("pipe", pipe(p));
	CHECK_TRUE("two new descriptors", p[0] >= 0 && p[1] > p[0]);
	CHECK_RET("read end is O_RDONLY", fcntl(p[0], F_GETFL) & O_ACCMODE,
		  O_RDONLY);
	CHECK_RET("write end is O_WRONLY", fcntl(p[1], F_GETFL) & O_ACCMODE,
		  O_WRONLY);
	CHECK_RET("no close-on-exec", fcntl(p[0], F_GETFD), 0);
	struct stat st;
	CHECK_OK("fstat", fstat(p[0], &st));
	CHECK_TRUE("S_ISFIFO", S_ISFIFO(st.st_mode));
	CHECK_RET("write 5", write(p[1], "hello", 5), 5);
	CHECK_RET("write 3", write(p[1], "abc", 3), 3);
	CHECK_RET("read 4 of 8", read(p[0], buf, 4), 4);
	CHECK_TRUE("in order", memcmp(buf, "hell", 4) == 0);
	CHECK_RET("read the rest", read(p[0], buf, sizeof(buf)), 4);
	CHECK_TRUE("in order", memcmp(buf, "oabc", 4) == 0);
	CHECK_RET("read 0 bytes", read(p[0], buf, 0), 0);
	CHECK_ERR("read from the write end", read(p[1], buf, 1), EBADF);
	CHECK_ERR("write to the read end", write(p[0], "x", 1), EBADF);
	CHECK_ERR("lseek on a pipe", lseek(p[0], 0, SEEK_SET), ESPIPE);
	close(p[1]);
	CHECK_RET("read with the writer closed: EOF", read(p[0], buf, 1), 0);
	close(p[0]);

	CHECK_OK("pipe2(O_CLOEXEC)", pipe2(p, O_CLOEXEC));
	CHECK_TRUE("both ends close-on-exec",
		   fcntl(p[0], F_GETFD) == FD_CLOEXEC &&
		       fcntl(p[1], F_GETFD) == FD_CLOEXEC);
	close(p[0]);
	close(p[1]);
	CHECK_ERR("pipe2 unknown flag", pipe2(p, O_APPEND), EINVAL);
	CHECK_ERR("pipe2 EFAULT", syscall(SYS_pipe2, (void *)1, 0), EFAULT);
	CHECK_ERR("pipe EFAULT", syscall(SYS_pipe, (void *)1), EFAULT);
}

static void nonblock_tests(void)
{
	int p[2];
	static char big[70000];
	char c;

	CHECK_OK("pipe2(O_NONBLOCK)", pipe2(p, O_NONBLOCK));
	CHECK_TRUE("both ends O_NONBLOCK",
		   (fcntl(p[0], F_GETFL) & O_NONBLOCK) &&
		       (fcntl(p[1], F_GETFL) & O_NONBLOCK));
	CHECK_ERR("read of an empty pipe", read(p[0], &c, 1), EAGAIN);

	/* Page-sized writes: the capacity is 16 pages, 64 KiB. */
	long total = 0, n;
	while ((n = write(p[1], big, 4096)) > 0)
		total += n;
	CHECK_TRUE("the filling loop ended on a failed write", n == -1);
	CHECK_ERR("write to a full pipe", write(p[1], big, 4096), EAGAIN);
	CHECK_RET("capacity", total, 65536);
	CHECK_RET("read 4096", read(p[0], big, 4096), 4096);
	CHECK_RET("an 8192-byte write takes the 4096 that fit",
		  write(p[1], big, 8192), 4096);
	CHECK_RET("read 1000", read(p[0], big, 1000), 1000);
	/* 1000 bytes free, but a PIPE_BUF write is all or nothing. */
	CHECK_ERR("write PIPE_BUF with less room", write(p[1], big, PIPE_BUF),
		  EAGAIN);
	close(p[0]);
	close(p[1]);

	CHECK_OK("pipe2(O_NONBLOCK) again", pipe2(p, O_NONBLOCK));
	CHECK_RET("70000-byte write to an empty pipe is partial",
		  write(p[1], big, sizeof(big)), 65536);
	close(p[1]);
	total = 0;
	while ((n = read(p[0], big, sizeof(big))) > 0)
		total += n;
	CHECK_RET("then EOF", n, 0);
	CHECK_RET("all of it read back", total, 65536);
	close(p[0]);

	/* O_NONBLOCK through fcntl on a plain pipe. */
	pipe(p);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	CHECK_ERR("F_SETFL O_NONBLOCK read", read(p[0], &c, 1), EAGAIN);
	close(p[0]);
	close(p[1]);
}

static void packet_tests(void)
{
	int p[2];
	char buf[64];

	CHECK_OK("pipe2(O_DIRECT)", pipe2(p, O_DIRECT));
	write(p[1], "one", 3);
	write(p[1], "three", 5);
	CHECK_RET("packet mode: one write per read",
		  read(p[0], buf, sizeof(buf)), 3);
	CHECK_RET("next packet", read(p[0], buf, sizeof(buf)), 5);
	write(p[1], "abcdef", 6);
	CHECK_RET("short read of a packet", read(p[0], buf, 2), 2);
	/* The rest of that packet is discarded. */
	write(p[1], "xy", 2);
	CHECK_RET("next read gets the next packet",
		  read(p[0], buf, sizeof(buf)), 2);
	CHECK_TRUE("which is xy", memcmp(buf, "xy", 2) == 0);
	close(p[0]);
	close(p[1]);
}

static void sigpipe_tests(void)
{
	int p[2];

	pipe(p);
	close(p[0]);
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (write(p[1], "x", 1) == -1)
			_exit(errno == EPIPE ? 2 : 3);
		_exit(4);
	}
	px_expect_exit("write with no reader, SIGPIPE default", pid,
		       "killed by SIGPIPE");

	signal(SIGPIPE, SIG_IGN);
	CHECK_ERR("write with no reader, SIGPIPE ignored", write(p[1], "x", 1),
		  EPIPE);
	signal(SIGPIPE, SIG_DFL);

	sigset_t s, pend;
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	sigprocmask(SIG_BLOCK, &s, NULL);
	CHECK_ERR("write with no reader, SIGPIPE blocked", write(p[1], "x", 1),
		  EPIPE);
	sigpending(&pend);
	CHECK_TRUE("SIGPIPE pending", sigismember(&pend, SIGPIPE));
	struct timespec zero = {0, 0};
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK_RET("take it", sigtimedwait(&s, &si, &zero), SIGPIPE);
	/* Sent by the kernel to the writing thread. */
	CHECK_TRUE("SIGPIPE si_code SI_USER, si_pid my pid",
		   si.si_code == SI_USER && si.si_pid == getpid());
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	close(p[1]);
}

static int wake_fd;
static void *late_writer(void *arg);

/* A read that cannot store what it takes takes nothing: EFAULT with the
 * data left in the pipe, or a short count when a whole pipe buffer (a
 * page written at once) went in before the first byte it could not
 * store. */
static void bad_buffer_tests(void)
{
	int p[2] = {-1, -1};
	char buf[8192];

	CHECK_OK("pipe for bad buffers", pipe(p));
	char *area = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_TRUE("an area", area != MAP_FAILED);
	CHECK_OK("its second page inaccessible",
		 mprotect(area + 4096, 4096, PROT_NONE));
	char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	CHECK_TRUE("a read-only page", ro != MAP_FAILED);
	CHECK_RET("write 3 bytes", write(p[1], "abc", 3), 3);
	CHECK_ERR("read into inaccessible memory", read(p[0], area + 4096, 3),
		  EFAULT);
	CHECK_ERR("read into a read-only page", read(p[0], ro, 3), EFAULT);
	CHECK_ERR("read into a kernel address",
		  read(p[0], (char *)0xffff800000000000ul, 3), EFAULT);
	struct iovec bad[2] = { { area + 4096, 2 }, { buf, 2 } };
	CHECK_ERR("readv into inaccessible memory first", readv(p[0], bad, 2),
		  EFAULT);
	memset(buf, 0, sizeof(buf));
	CHECK_RET("the bytes are still there", read(p[0], buf, sizeof(buf)),
		  3);
	CHECK_TRUE("in order", memcmp(buf, "abc", 3) == 0);
	memset(buf, 'x', sizeof(buf));
	CHECK_RET("write 6000 bytes", write(p[1], buf, 6000), 6000);
	CHECK_RET("read across into inaccessible memory stops at it",
		  read(p[0], area, 8192), 4096);
	CHECK_RET("the rest is still there", read(p[0], buf, sizeof(buf)),
		  6000 - 4096);
	/* A write takes whole pages of its data: less than one is EFAULT. */
	memset(area, 'z', 4096);
	CHECK_RET("write across into inaccessible memory", write(p[1], area, 8192),
		  4096);
	CHECK_ERR("a short one across it", write(p[1], area + 4000, 200),
		  EFAULT);
	struct iovec wv[2] = { { area, 100 }, { area + 4096, 10 } };
	CHECK_ERR("writev with a bad second buffer", writev(p[1], wv, 2),
		  EFAULT);
	CHECK_RET("only the page went in", read(p[0], buf, sizeof(buf)), 4096);
	/* The buffer matters only once there is something to store: an
	 * empty non-blocking pipe says EAGAIN, one with no writer left says
	 * end of file (an address past the user range is EFAULT first). */
	int fl = fcntl(p[0], F_GETFL);
	CHECK_OK("reader non-blocking", fcntl(p[0], F_SETFL, fl | O_NONBLOCK));
	CHECK_ERR("empty pipe, inaccessible buffer",
		  read(p[0], area + 4096, 3), EAGAIN);
	struct iovec nv[1] = { { area + 4096, 3 } };
	CHECK_ERR("readv, the same", readv(p[0], nv, 1), EAGAIN);
	CHECK_ERR("empty pipe, kernel address",
		  read(p[0], (char *)0xffff800000000000ul, 3), EFAULT);
	CHECK_OK("reader blocking again", fcntl(p[0], F_SETFL, fl));
	/* Blocking: it waits for data, then cannot store it (the writer may
	 * also come first: the same answer). */
	wake_fd = p[1];
	pthread_t w;
	CHECK_TRUE("a writer thread",
		   pthread_create(&w, NULL, late_writer, NULL) == 0);
	CHECK_ERR("blocking read, inaccessible buffer",
		  read(p[0], area + 4096, 3), EFAULT);
	CHECK_TRUE("writer done", pthread_join(w, NULL) == 0);
	CHECK_RET("its bytes are still there", read(p[0], buf, sizeof(buf)),
		  4);
	close(p[1]);
	p[1] = -1;
	CHECK_RET("no writer, inaccessible buffer",
		  read(p[0], area + 4096, 3), 0);
	CHECK_RET("readv, the same", readv(p[0], nv, 1), 0);
	munmap(area, 8192);
	munmap(ro, 4096);
	close(p[0]);
	close(p[1]);
}

static void *late_writer(void *arg)
{
	/* Any order works: the reader blocks, or finds the data waiting. */
	if (write(wake_fd, "late", 4) != 4)
		return (void *)1;
	return NULL;
}

static void blocking_tests(void)
{
	int p[2];
	char buf[8];

	pipe(p);
	wake_fd = p[1];
	pthread_t t;
	px_thread(&t, late_writer, NULL);
	CHECK_RET("blocking read woken by a writer thread",
		  read(p[0], buf, sizeof(buf)), 4);
	pthread_join(t, NULL);

	/* A child holds a write end: EOF only once it is gone too. */
	int gate[2];
	pipe(gate);
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		close(p[0]);
		close(gate[1]);
		px_pend(gate[0]);
		if (write(p[1], "kid", 3) != 3)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	close(gate[0]);
	px_post(gate[1]);
	CHECK_RET("data from the child's copy of the write end",
		  read(p[0], buf, sizeof(buf)), 3);
	CHECK_RET("EOF once the child has exited", read(p[0], buf, sizeof(buf)),
		  0);
	px_expect_exit("writer child", pid, "exited 0");
	close(p[0]);
	close(gate[1]);
}

/* F_GETPIPE_SZ and F_SETPIPE_SZ: sizes round up to a power-of-two number
 * of pages, the data stays, a size below it is EBUSY. (Sizes above
 * /proc/sys/fs/pipe-max-size need CAP_SYS_RESOURCE, which root here may
 * or may not have: not checked.) */
/* ---- a reader woken by the other end, then signalled ---- */

static pthread_t reader_thread;
static int sig_wfd;
static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void *close_then_signal(void *arg)
{
	poll(NULL, 0, 20); /* let the reader sleep first */
	if (arg)
		close(sig_wfd);
	else if (write(sig_wfd, "x", 1) != 1)
		_exit(3);
	pthread_kill(reader_thread, SIGUSR1);
	return NULL;
}

/* Linux looks at the pipe before at signals: a byte written, or the last
 * writer gone, before a signal comes is what read returns (the handler,
 * without SA_RESTART, runs on the way out), never EINTR. */
static void ready_then_signal_tests(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	sigaction(SIGUSR1, &sa, &old);
	reader_thread = pthread_self();
	for (int k = 0; k < 4; k++) {
		int p[2];
		char c = 0;
		pthread_t th;
		if (pipe(p) != 0)
			exit(2);
		sig_wfd = p[1];
		got_usr1 = 0;
		pthread_create(&th, NULL, close_then_signal, NULL);
		CHECK_TRUE("read: a byte written before the signal",
			   read(p[0], &c, 1) == 1 && c == 'x');
		pthread_join(th, NULL);
		CHECK_TRUE("the handler ran", got_usr1);
		got_usr1 = 0;
		static int do_close = 1;
		pthread_create(&th, NULL, close_then_signal, &do_close);
		CHECK_RET("read: the writer gone before the signal: end of file",
			  read(p[0], &c, 1), 0);
		pthread_join(th, NULL);
		CHECK_TRUE("the handler ran", got_usr1);
		close(p[0]);
	}
	sigaction(SIGUSR1, &old, NULL);
}

static void size_tests(void)
{
	int p[2];
	char buf[20000];

	if (pipe2(p, O_NONBLOCK) != 0)
		return;
	CHECK_RET("F_GETPIPE_SZ of a new pipe", fcntl(p[0], F_GETPIPE_SZ), 65536);
	CHECK_RET("F_SETPIPE_SZ 1 -> a page", fcntl(p[1], F_SETPIPE_SZ, 1), 4096);
	CHECK_RET("F_GETPIPE_SZ on the other end", fcntl(p[0], F_GETPIPE_SZ),
		  4096);
	memset(buf, 'x', sizeof(buf));
	CHECK_RET("a write fills 4096 bytes", write(p[1], buf, sizeof(buf)), 4096);
	CHECK_ERR("then it is full", write(p[1], buf, 1), EAGAIN);
	CHECK_RET("F_SETPIPE_SZ 10000 -> 16384",
		  fcntl(p[1], F_SETPIPE_SZ, 10000), 16384);
	CHECK_RET("now 12288 more fit", write(p[1], buf, sizeof(buf)), 12288);
	CHECK_ERR("shrinking below the data: EBUSY",
		  fcntl(p[1], F_SETPIPE_SZ, 4096), EBUSY);
	CHECK_RET("the data is all there", read(p[0], buf, sizeof(buf)), 16384);
	CHECK_TRUE("unchanged", buf[0] == 'x' && buf[16383] == 'x');
	CHECK_RET("F_SETPIPE_SZ 0 -> a page", fcntl(p[0], F_SETPIPE_SZ, 0), 4096);
	CHECK_RET("F_SETPIPE_SZ 1 MiB", fcntl(p[0], F_SETPIPE_SZ, 1 << 20),
		  1 << 20);
	CHECK_ERR("F_SETPIPE_SZ 2^31 + 1",
		  fcntl(p[0], F_SETPIPE_SZ, 0x80000001U), EINVAL);
	/* A resize keeps the data in order across the ring's wrap. */
	CHECK_RET("F_SETPIPE_SZ 8192", fcntl(p[0], F_SETPIPE_SZ, 8192), 8192);
	write(p[1], buf, 6000);
	read(p[0], buf, 6000);
	CHECK_RET("write 'abcdefgh' across the wrap",
		  write(p[1], "0123456789abcdefgh", 18), 18);
	CHECK_RET("grow to 65536", fcntl(p[1], F_SETPIPE_SZ, 65536), 65536);
	memset(buf, 0, 32);
	CHECK_RET("read it back", read(p[0], buf, 32), 18);
	CHECK_TRUE("in order", memcmp(buf, "0123456789abcdefgh", 18) == 0);
	CHECK_ERR("F_SETPIPE_SZ on a non-pipe", fcntl(1, F_SETPIPE_SZ, 4096),
		  EBADF);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	px_reset();
	size_tests();
	basic_tests();
	nonblock_tests();
	packet_tests();
	sigpipe_tests();
	blocking_tests();
	ready_then_signal_tests();
	bad_buffer_tests();
	return probe_done();
}
