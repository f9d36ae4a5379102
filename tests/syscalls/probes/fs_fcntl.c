/*
 * fs_fcntl: dup/dup2/dup3, fcntl (F_DUPFD[_CLOEXEC], F_GETFD/F_SETFD,
 * F_GETFL/F_SETFL), record locks (F_GETLK/F_SETLK, OFD locks, which
 * conflict between two opens of one process), flock, and ioctl FIOCLEX,
 * FIONCLEX, FIONREAD, FIONBIO. One process: POSIX locks of the same
 * process never conflict, OFD locks and flocks of separate opens do.
 */
#include "probe_fs.h"

#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static void dups(void)
{
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	int d = dup(fd);
	CHECK_TRUE("dup gives the next fd", d == fd + 1);
	CHECK_RET("dup clears cloexec", fcntl(d, F_GETFD), 0);
	CHECK_RET("dup2 to 20", dup2(fd, 20), 20);
	CHECK_RET("dup2 same fd", dup2(20, 20), 20);
	CHECK_ERR("dup2 bad old", dup2(99, 21), EBADF);
	CHECK_ERR("dup2 negative new", dup2(fd, -1), EBADF);
	CHECK_RET("dup3 cloexec", dup3(fd, 21, O_CLOEXEC), 21);
	CHECK_RET("cloexec set", fcntl(21, F_GETFD), FD_CLOEXEC);
	CHECK_ERR("dup3 same fd", dup3(21, 21, 0), EINVAL);
	CHECK_ERR("dup3 bad flags", dup3(fd, 22, 0x1), EINVAL);
	/* dup2 over an open fd closes it. */
	int other = open("/dev/null", O_RDONLY);
	CHECK_RET("dup2 over an open fd", dup2(fd, other), other);
	CHECK_RET("it now writes to f", write(other, "abc", 3), 3);
	CHECK_RET("F_DUPFD >= 30", fcntl(fd, F_DUPFD, 30), 30);
	CHECK_RET("F_DUPFD_CLOEXEC >= 30", fcntl(fd, F_DUPFD_CLOEXEC, 30), 31);
	CHECK_RET("its cloexec", fcntl(31, F_GETFD), FD_CLOEXEC);
	CHECK_ERR("F_DUPFD negative", fcntl(fd, F_DUPFD, -1), EINVAL);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	CHECK_ERR("F_DUPFD at the limit", fcntl(fd, F_DUPFD, (int)rl.rlim_cur),
		  EINVAL);
	CHECK_ERR("dup2 at the limit", dup2(fd, (int)rl.rlim_cur), EBADF);
	CHECK_RET("F_SETFD", fcntl(30, F_SETFD, FD_CLOEXEC), 0);
	CHECK_RET("F_GETFD", fcntl(30, F_GETFD), FD_CLOEXEC);
	CHECK_RET("F_SETFD 0", fcntl(30, F_SETFD, 0), 0);
	CHECK_RET("F_GETFD cleared", fcntl(30, F_GETFD), 0);
	CHECK_ERR("fcntl bad cmd", fcntl(fd, 9999), EINVAL);
	CHECK_ERR("fcntl bad fd", fcntl(999, F_GETFD), EBADF);
	/* Status flags are shared by dups. */
	CHECK_RET("F_SETFL O_APPEND|O_NONBLOCK",
		  fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK | O_RDONLY), 0);
	CHECK_RET("dup sees it",
		  fcntl(d, F_GETFL) & (O_APPEND | O_NONBLOCK | O_ACCMODE),
		  O_APPEND | O_NONBLOCK | O_RDWR);
	fcntl(fd, F_SETFL, 0);
	for (int i = 20; i <= 31; i++)
		if (i > 21 && i < 30)
			continue;
		else
			close(i);
	close(d);
	close(other);
	close(fd);
	/* Limits: RLIMIT_NOFILE caps new fds. */
	struct rlimit small = {10, rl.rlim_max};
	setrlimit(RLIMIT_NOFILE, &small);
	int n = 0, last = -1;
	for (;;) {
		int x = open("f", O_RDONLY);
		if (x < 0)
			break;
		last = x;
		n++;
	}
	CHECK_TRUE("stops below the limit", last == 9);
	CHECK_ERR("then EMFILE", open("f", O_RDONLY), EMFILE);
	for (int i = 3; i <= last; i++)
		close(i);
	setrlimit(RLIMIT_NOFILE, &rl);
}

static struct flock lk(short type, off_t start, off_t len)
{
	struct flock l = {.l_type = type,
			  .l_whence = SEEK_SET,
			  .l_start = start,
			  .l_len = len};
	return l;
}

static void locks(void)
{
	int a = open("lk", O_RDWR | O_CREAT | O_TRUNC, 0644);
	int b = open("lk", O_RDWR);
	write(a, "0123456789", 10);
	struct flock l = lk(F_WRLCK, 0, 5);
	CHECK_RET("F_SETLK write 0..4", fcntl(a, F_SETLK, &l), 0);
	l = lk(F_WRLCK, 2, 5);
	CHECK_RET("same process: no conflict", fcntl(b, F_SETLK, &l), 0);
	l = lk(F_WRLCK, 0, 0);
	CHECK_RET("F_GETLK own locks", fcntl(b, F_GETLK, &l), 0);
	CHECK_TRUE("reports unlocked", l.l_type == F_UNLCK);
	l = lk(F_UNLCK, 0, 0);
	CHECK_RET("unlock all", fcntl(a, F_SETLK, &l), 0);

	/* OFD locks belong to the open file description. */
	l = lk(F_WRLCK, 0, 4);
	CHECK_RET("F_OFD_SETLK a 0..3", fcntl(a, F_OFD_SETLK, &l), 0);
	l = lk(F_RDLCK, 2, 4);
	CHECK_ERR("F_OFD_SETLK b 2..5 conflicts", fcntl(b, F_OFD_SETLK, &l),
		  EAGAIN);
	l = lk(F_RDLCK, 4, 4);
	CHECK_RET("F_OFD_SETLK b 4..7 is free", fcntl(b, F_OFD_SETLK, &l), 0);
	l = lk(F_WRLCK, 0, 10);
	CHECK_RET("F_OFD_GETLK from b", fcntl(b, F_OFD_GETLK, &l), 0);
	printf("conflict: type %s start %ld len %ld pid %d\n",
	       l.l_type == F_WRLCK   ? "W"
	       : l.l_type == F_RDLCK ? "R"
				     : "U",
	       (long)l.l_start, (long)l.l_len, l.l_pid);
	l = lk(F_RDLCK, 0, 0);
	l.l_pid = 1;
	CHECK_ERR("OFD with l_pid set", fcntl(a, F_OFD_SETLK, &l), EINVAL);
	int a2 = dup(a);
	l = lk(F_WRLCK, 0, 4);
	CHECK_RET("a dup shares the OFD lock", fcntl(a2, F_OFD_SETLK, &l), 0);
	close(a2);
	l = lk(F_UNLCK, 0, 0);
	CHECK_RET("a's OFD unlock", fcntl(a, F_OFD_SETLK, &l), 0);
	l = lk(F_WRLCK, 0, 4);
	CHECK_RET("now b can", fcntl(b, F_OFD_SETLK, &l), 0);
	close(b); /* its locks go with its last fd */
	l = lk(F_WRLCK, 0, 10);
	CHECK_RET("after close: free", fcntl(a, F_OFD_SETLK, &l), 0);

	/* Ranges and whence. */
	lseek(a, 5, SEEK_SET);
	l = (struct flock){
	    .l_type = F_RDLCK, .l_whence = SEEK_CUR, .l_start = -2, .l_len = 2};
	CHECK_ERR("a POSIX lock meets the OFD lock of the same file",
		  fcntl(a, F_SETLK, &l), EAGAIN);
	struct flock u = lk(F_UNLCK, 0, 0);
	fcntl(a, F_OFD_SETLK, &u);
	CHECK_RET("SEEK_CUR range", fcntl(a, F_SETLK, &l), 0);
	l = lk(F_WRLCK, 0, 0);
	CHECK_RET("F_OFD_GETLK sees the POSIX lock", fcntl(a, F_OFD_GETLK, &l),
		  0);
	printf("conflict: start %ld len %ld pid is mine: %s\n", (long)l.l_start,
	       (long)l.l_len, l.l_pid == getpid() ? "yes" : "no");
	l = (struct flock){
	    .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = -6};
	CHECK_ERR("negative range below 0", fcntl(a, F_SETLK, &l), EINVAL);
	l = (struct flock){.l_type = F_RDLCK,
			   .l_whence = SEEK_END,
			   .l_start = -20,
			   .l_len = 1};
	CHECK_ERR("start before 0", fcntl(a, F_SETLK, &l), EINVAL);
	l = lk(42, 0, 1);
	CHECK_ERR("bad type", fcntl(a, F_SETLK, &l), EINVAL);
	l = lk(F_UNLCK, 0, 1);
	CHECK_ERR("F_GETLK F_UNLCK", fcntl(a, F_GETLK, &l), EINVAL);
	int r = open("lk", O_RDONLY);
	l = lk(F_WRLCK, 0, 1);
	CHECK_ERR("write lock on a read-only fd", fcntl(r, F_SETLK, &l), EBADF);
	close(r);
	close(a);
}

static void flocks(void)
{
	int a = open("fl", O_RDWR | O_CREAT, 0644);
	int b = open("fl", O_RDONLY);
	CHECK_RET("flock EX", flock(a, LOCK_EX), 0);
	CHECK_ERR("another open: EX NB", flock(b, LOCK_EX | LOCK_NB),
		  EWOULDBLOCK);
	CHECK_ERR("another open: SH NB", flock(b, LOCK_SH | LOCK_NB),
		  EWOULDBLOCK);
	int a2 = dup(a);
	CHECK_RET("a dup holds it too", flock(a2, LOCK_EX | LOCK_NB), 0);
	CHECK_RET("downgrade to SH", flock(a, LOCK_SH), 0);
	CHECK_RET("then SH elsewhere", flock(b, LOCK_SH | LOCK_NB), 0);
	CHECK_ERR("EX blocked by the other SH", flock(a, LOCK_EX | LOCK_NB),
		  EWOULDBLOCK);
	CHECK_RET("unlock b", flock(b, LOCK_UN), 0);
	CHECK_RET("EX again", flock(a, LOCK_EX | LOCK_NB), 0);
	CHECK_ERR("bad op", flock(a, 0), EINVAL);
	close(a);
	close(a2);
	CHECK_RET("free once a is closed", flock(b, LOCK_EX | LOCK_NB), 0);
	close(b);
	CHECK_ERR("flock bad fd", flock(999, LOCK_SH), EBADF);
}

static void ioctls(void)
{
	int fd = open("io", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(fd, "hello world", 11);
	lseek(fd, 3, SEEK_SET);
	int n = -1;
	CHECK_RET("FIONREAD", ioctl(fd, FIONREAD, &n), 0);
	printf("FIONREAD %d\n", n);
	CHECK_RET("FIOCLEX", ioctl(fd, FIOCLEX), 0);
	CHECK_RET("cloexec on", fcntl(fd, F_GETFD), FD_CLOEXEC);
	CHECK_RET("FIONCLEX", ioctl(fd, FIONCLEX), 0);
	CHECK_RET("cloexec off", fcntl(fd, F_GETFD), 0);
	int on = 1;
	CHECK_RET("FIONBIO", ioctl(fd, FIONBIO, &on), 0);
	CHECK_TRUE("O_NONBLOCK on", fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK_ERR("TCGETS on a file", ioctl(fd, TCGETS, &n), ENOTTY);
	CHECK_ERR("ioctl bad fd", ioctl(999, FIONREAD, &n), EBADF);
	int d = open(".", O_RDONLY);
	CHECK_ERR("FIONREAD on a dir", ioctl(d, FIONREAD, &n), ENOTTY);
	close(d);
	close(fd);
}

int main(void)
{
	fs_setup();
	dups();
	locks();
	flocks();
	ioctls();
	fs_cleanup();
	return probe_done();
}
