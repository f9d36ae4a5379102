/*
 * stdio: read/write/readv/writev/close/fstat/newfstatat/ioctl on fds 0-2.
 *
 * run-probe.sh runs every probe with stdin from /dev/null (opened read-only)
 * and stdout redirected to a fresh regular file (opened write-only), in both
 * the native and the sandboxed run.  stderr is left alone and not relied on.
 */
#include "probe.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <termios.h>

/* Raw write to stdout; the transcript shows the bytes themselves. */
static long wr(const void *buf, size_t len)
{
	return syscall(SYS_write, 1, buf, len);
}

static void write_tests(void)
{
	CHECK_RET("write 6 bytes", wr("hello\n", 6), 6);
	CHECK_RET("write 0 bytes", wr("x", 0), 0);
	CHECK_RET("write NULL 0 bytes", wr(NULL, 0), 0);
	CHECK_RET("write libc 3 bytes", write(1, "ab\n", 3), 3);

	struct iovec iov[3] = {
		{ .iov_base = "wri", .iov_len = 3 },
		{ .iov_base = "tev", .iov_len = 3 },
		{ .iov_base = "\n", .iov_len = 1 },
	};
	CHECK_RET("writev 3 iovecs", syscall(SYS_writev, 1, iov, 3), 7);
	struct iovec hole[3] = {
		{ .iov_base = "a", .iov_len = 1 },
		{ .iov_base = NULL, .iov_len = 0 },
		{ .iov_base = "b\n", .iov_len = 2 },
	};
	CHECK_RET("writev with empty iovec", syscall(SYS_writev, 1, hole, 3), 3);
	CHECK_RET("writev 0 iovecs", syscall(SYS_writev, 1, iov, 0), 0);
	CHECK_ERR("writev iovcnt -1", syscall(SYS_writev, 1, iov, -1), EINVAL);
	CHECK_ERR("writev iovcnt 1025", syscall(SYS_writev, 1, iov, 1025), EINVAL);
	CHECK_ERR("writev iov EFAULT", syscall(SYS_writev, 1, (void *)1, 1),
		  EFAULT);
	struct iovec badbase = { .iov_base = (void *)1, .iov_len = 4 };
	CHECK_ERR("writev iov_base EFAULT", syscall(SYS_writev, 1, &badbase, 1),
		  EFAULT);
	struct iovec neg[2] = {
		{ .iov_base = "a", .iov_len = 1 },
		{ .iov_base = "b", .iov_len = (size_t)-1 },
	};
	CHECK_ERR("writev iov_len overflow", syscall(SYS_writev, 1, neg, 2),
		  EINVAL);

	CHECK_ERR("write EFAULT", wr((void *)1, 4), EFAULT);
	CHECK_ERR("write fd 99", syscall(SYS_write, 99, "x", 1), EBADF);
	CHECK_ERR("write fd -1", syscall(SYS_write, -1, "x", 1), EBADF);
	CHECK_ERR("write to read-only stdin", syscall(SYS_write, 0, "x", 1),
		  EBADF);
	CHECK_ERR("writev fd 99", syscall(SYS_writev, 99, iov, 1), EBADF);
}

static void read_tests(void)
{
	char buf[16];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

	CHECK_RET("read stdin (/dev/null)", syscall(SYS_read, 0, buf, sizeof(buf)),
		  0);
	CHECK_RET("read stdin 0 bytes", syscall(SYS_read, 0, buf, 0), 0);
	CHECK_RET("readv stdin (/dev/null)", syscall(SYS_readv, 0, &iov, 1), 0);
	CHECK_ERR("read fd 99", syscall(SYS_read, 99, buf, sizeof(buf)), EBADF);
	CHECK_ERR("read from write-only stdout",
		  syscall(SYS_read, 1, buf, sizeof(buf)), EBADF);
	CHECK_ERR("readv iovcnt -1", syscall(SYS_readv, 0, &iov, -1), EINVAL);
	CHECK_ERR("readv fd 99", syscall(SYS_readv, 99, &iov, 1), EBADF);
}

static void stat_tests(void)
{
	struct stat s0, s1, s1b, s99;

	CHECK_OK("fstat 0", fstat(0, &s0));
	CHECK_TRUE("fstat 0 is char device", S_ISCHR(s0.st_mode));
	CHECK_TRUE("fstat 0 is /dev/null (1,3)",
		   major(s0.st_rdev) == 1 && minor(s0.st_rdev) == 3);
	CHECK_OK("fstat 1", syscall(SYS_fstat, 1, &s1));
	CHECK_TRUE("fstat 1 is regular file", S_ISREG(s1.st_mode));
	CHECK_TRUE("fstat 1 is not fifo", !S_ISFIFO(s1.st_mode));
	CHECK_TRUE("fstat 1 nlink>=1", s1.st_nlink >= 1);
	CHECK_TRUE("fstat 1 blksize>0", s1.st_blksize > 0);
	CHECK_OK("newfstatat(1, \"\", AT_EMPTY_PATH)",
		 syscall(SYS_newfstatat, 1, "", &s1b, AT_EMPTY_PATH));
	CHECK_TRUE("newfstatat == fstat (dev, ino, mode)",
		   s1.st_dev == s1b.st_dev && s1.st_ino == s1b.st_ino &&
			   s1.st_mode == s1b.st_mode);
	CHECK_OK("fstat 2", fstat(2, &s1b));
	CHECK_ERR("fstat 99", syscall(SYS_fstat, 99, &s99), EBADF);
	CHECK_ERR("fstat EFAULT", syscall(SYS_fstat, 1, (void *)1), EFAULT);
	CHECK_ERR("newfstatat(99, AT_EMPTY_PATH)",
		  syscall(SYS_newfstatat, 99, "", &s99, AT_EMPTY_PATH), EBADF);
	CHECK_ERR("newfstatat empty path without AT_EMPTY_PATH",
		  syscall(SYS_newfstatat, 1, "", &s99, 0), ENOENT);
	CHECK_ERR("newfstatat bad flags",
		  syscall(SYS_newfstatat, 1, "", &s99, 0x80000000), EINVAL);
}

static void ioctl_tests(void)
{
	struct termios t;
	struct winsize ws;

	CHECK_ERR("ioctl TCGETS stdout (file)", ioctl(1, TCGETS, &t), ENOTTY);
	CHECK_ERR("ioctl TIOCGWINSZ stdout (file)", ioctl(1, TIOCGWINSZ, &ws),
		  ENOTTY);
	CHECK_ERR("ioctl TCGETS stdin (/dev/null)", ioctl(0, TCGETS, &t), ENOTTY);
	CHECK_ERR("ioctl TIOCGWINSZ stdin (/dev/null)",
		  ioctl(0, TIOCGWINSZ, &ws), ENOTTY);
	CHECK_ERR("ioctl TCGETS fd 99", ioctl(99, TCGETS, &t), EBADF);
	CHECK_TRUE("isatty(1) false", !isatty(1));
}

static void close_tests(void)
{
	char c;
	struct stat st;

	CHECK_ERR("close fd 99", close(99), EBADF);
	CHECK_ERR("close fd -1", close(-1), EBADF);
	CHECK_OK("close stdin", close(0));
	CHECK_ERR("read closed stdin", syscall(SYS_read, 0, &c, 1), EBADF);
	CHECK_ERR("fstat closed stdin", syscall(SYS_fstat, 0, &st), EBADF);
	CHECK_ERR("close stdin again", close(0), EBADF);
}

int main(void)
{
	write_tests();
	read_tests();
	stat_tests();
	ioctl_tests();
	close_tests();
	return probe_done();
}
