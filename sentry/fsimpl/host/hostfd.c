/* Files backed by host fds handed to the sandbox by runsc (the workload's
 * standard streams). Only read, write, seeks, fstat and terminal queries
 * reach the host fd; nothing else about it is exposed. The offset is the
 * host file's own (runsc's descriptor is shared, as a shell's redirection
 * is), so the sentry keeps none (no FMODE_LSEEK). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "../../kernel/fdtable.h"
#include "../../kernel/kernel.h"
#include "../../kernel/poll.h"
#include "../../vfs/vfs.h"

struct hostfd {
	int fd;
	/* Open files on it: the first, and reopens through /proc, which
	 * share the host fd rather than spend another of the sentry's. */
	atomic_int refs;
	struct waitq q; /* woken by the host fd watcher (poll.c) */
};

static int host_fd(struct file *f)
{
	return ((struct hostfd *)f->priv)->fd;
}

static unsigned host_ready(int fd, unsigned events)
{
	struct pollfd p = { fd, (short)events, 0 };
	if (poll(&p, 1, 0) < 0)
		return POLLERR;
	return (unsigned)p.revents;
}

static unsigned hostfd_poll(struct file *f, struct poll_table *pt)
{
	struct hostfd *h = f->priv;
	unsigned ev = POLLIN | POLLOUT | POLLPRI;
	unsigned r = host_ready(h->fd, ev);
	if (!pt || r)
		return r;
	/* epoll refuses regular files: those are always ready. */
	if (hostpoll_watch(h->fd, ev, &h->q) == -EPERM)
		return POLLIN | POLLOUT;
	poll_wait(pt, &h->q);
	return host_ready(h->fd, ev);
}

/* Waits, interruptibly, until the host fd has events: a host read or
 * write that blocked could not be cut short by a signal. */
static long wait_host(struct task *t, struct file *f, unsigned events)
{
	struct hostfd *h = f->priv;
	if (!t || (f->flags & O_NONBLOCK))
		return 0;
	struct poll_table pt;
	long ret = 0;
	poll_table_init(&pt, t);
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		if (host_ready(h->fd, events | POLLHUP | POLLERR))
			break;
		if (!pt.n) {
			if (hostpoll_watch(h->fd, events, &h->q) < 0)
				break; /* not pollable: let the host call block */
			poll_wait(&pt, &h->q);
			continue;
		}
		/* the fd first, then signals (Linux's order) */
		if (task_signal_pending(t)) {
			ret = -ERESTARTSYS;
			break;
		}
		task_sleep(t, seq, 0);
	}
	poll_table_free(&pt);
	return ret;
}

static long hostfd_read(struct task *t, struct file *f, void *buf, size_t n,
			uint64_t *pos)
{
	ssize_t r;
	long w = pos ? 0 : wait_host(t, f, POLLIN);
	if (w < 0)
		return w;
	do
		r = pos ? pread(host_fd(f), buf, n, (off_t)*pos)
			: read(host_fd(f), buf, n);
	while (r < 0 && errno == EINTR);
	if (r > 0 && pos)
		*pos += (uint64_t)r;
	return r < 0 ? -errno : r;
}

static long hostfd_write(struct task *t, struct file *f, const void *buf,
			 size_t n, uint64_t *pos)
{
	ssize_t r;
	long w = pos ? 0 : wait_host(t, f, POLLOUT);
	if (w < 0)
		return w;
	do
		r = pos ? pwrite(host_fd(f), buf, n, (off_t)*pos)
			: write(host_fd(f), buf, n);
	while (r < 0 && errno == EINTR);
	if (r > 0 && pos)
		*pos += (uint64_t)r;
	return r < 0 ? -errno : r;
}

static long hostfd_llseek(struct file *f, int64_t off, int whence,
			  uint64_t *pos)
{
	(void)pos;
	off_t r = lseek(host_fd(f), off, whence);
	return r < 0 ? -errno : (long)r;
}

static long hostfd_fstat(struct file *f, struct stat *st)
{
	return fstat(host_fd(f), st) < 0 ? -errno : 0;
}

static long hostfd_ioctl(struct task *t, struct file *f, unsigned cmd,
			 uint64_t arg)
{
	switch (cmd) {
	case TCGETS: {
		struct termios tio;
		if (ioctl(host_fd(f), TCGETS, &tio) < 0)
			return -errno;
		return task_copy_out(t, arg, &tio, sizeof(tio));
	}
	case TIOCGWINSZ: {
		struct winsize ws;
		if (ioctl(host_fd(f), TIOCGWINSZ, &ws) < 0)
			return -errno;
		return task_copy_out(t, arg, &ws, sizeof(ws));
	}
	default:
		/* Terminal control (TCSETS, job control) arrives with the
		 * terminal work; refuse rather than pass it to the host. */
		return -ENOTTY;
	}
}

static long hostfd_readable(struct file *f)
{
	int n;
	if (ioctl(host_fd(f), FIONREAD, &n) < 0)
		return -errno;
	return n;
}

static int hostfd_fsync(struct file *f, bool datasync)
{
	int r = datasync ? fdatasync(host_fd(f)) : fsync(host_fd(f));
	return r < 0 ? -errno : 0;
}

static void hostfd_release(struct file *f)
{
	struct hostfd *h = f->priv;
	if (atomic_fetch_sub(&h->refs, 1) != 1)
		return;
	hostpoll_unwatch(h->fd);
	close(h->fd);
	free(h);
}

/* What /proc/[pid]/fd/N says: the kind of file, never a host path. */
static int hostfd_name(struct file *f, char *buf, size_t len)
{
	struct stat st;
	int n;
	if (fstat(host_fd(f), &st) < 0)
		return -errno;
	unsigned long long ino = (unsigned long long)st.st_ino;
	unsigned maj = major(st.st_rdev), min = minor(st.st_rdev);
	static const struct {
		unsigned maj, min;
		const char *name;
	} devs[] = {{1, 3, "/dev/null"},    {1, 5, "/dev/zero"},
		    {1, 7, "/dev/full"},    {1, 8, "/dev/random"},
		    {1, 9, "/dev/urandom"}, {5, 0, "/dev/tty"}};
	if (S_ISFIFO(st.st_mode)) {
		n = snprintf(buf, len, "pipe:[%llu]", ino);
	} else if (S_ISSOCK(st.st_mode)) {
		n = snprintf(buf, len, "socket:[%llu]", ino);
	} else if (S_ISCHR(st.st_mode) && maj == 136) {
		n = snprintf(buf, len, "/dev/pts/%u", min);
	} else {
		n = snprintf(buf, len, "host:[%llu]", ino);
		for (size_t i = 0;
		     S_ISCHR(st.st_mode) && i < sizeof(devs) / sizeof(devs[0]);
		     i++)
			if (devs[i].maj == maj && devs[i].min == min)
				n = snprintf(buf, len, "%s", devs[i].name);
	}
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

static const struct file_ops hostfd_ops;

/* open(2) of /proc/[pid]/fd/N (a shell's /dev/stdin): a new file on the
 * same host fd (a workload reopening in a loop must not use up the
 * sentry's fds). The host fd's access mode bounds the new one's, and a
 * regular file's offset stays shared (the host has one). */
static int hostfd_reopen(struct task *t, struct file *f, int flags,
			 struct file **out)
{
	struct hostfd *h = f->priv;
	int acc = flags & O_ACCMODE;
	struct stat st;
	if (fstat(h->fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	    major(st.st_rdev) == 1) {
		/* null, zero, full, random, urandom: opened anew, as any
		 * other open of them, as the sandbox's own device. */
		struct file *n = file_new(
		    NULL, flags & (O_ACCMODE | O_APPEND | O_NONBLOCK), NULL);
		if (!n)
			return -ENOMEM;
		int err = vfs_chrdev_open(t, n, st.st_rdev, flags);
		if (err == 0) {
			*out = n;
			return 0;
		}
		n->ops = NULL;
		file_put(n);
		if (err != -ENXIO)
			return err;
	}
	int have = fcntl(h->fd, F_GETFL);
	if (have < 0)
		return -errno;
	have &= O_ACCMODE;
	if ((acc == O_RDONLY && have == O_WRONLY) ||
	    (acc == O_WRONLY && have == O_RDONLY) ||
	    (acc == O_RDWR && have != O_RDWR))
		return -EACCES;
	struct file *n = file_new(
	    &hostfd_ops, flags & (O_ACCMODE | O_APPEND | O_NONBLOCK), h);
	if (!n)
		return -ENOMEM;
	atomic_fetch_add(&h->refs, 1);
	n->mode |= f->mode & (FMODE_PREAD | FMODE_PWRITE);
	*out = n;
	return 0;
}

static const struct file_ops hostfd_ops = {
    .read = hostfd_read,
    .write = hostfd_write,
    .llseek = hostfd_llseek,
    .fstat = hostfd_fstat,
    .ioctl = hostfd_ioctl,
    .readable = hostfd_readable,
    .fsync = hostfd_fsync,
    .poll = hostfd_poll,
    .release = hostfd_release,
    .name = hostfd_name,
    .reopen = hostfd_reopen,
};

struct file *hostfd_file_new(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return NULL;
	struct hostfd *h = malloc(sizeof(*h));
	if (!h)
		return NULL;
	h->fd = fd;
	atomic_init(&h->refs, 1);
	waitq_init(&h->q);
	struct file *f =
	    file_new(&hostfd_ops, fl & (O_ACCMODE | O_APPEND | O_NONBLOCK), h);
	if (!f) {
		free(h);
		return NULL;
	}
	/* Positioned I/O where the host file has positions. */
	if (lseek(fd, 0, SEEK_CUR) >= 0)
		f->mode |= FMODE_PREAD | FMODE_PWRITE;
	return f;
}

int hostfd_host_fd(struct file *f)
{
	return f->ops == &hostfd_ops ? host_fd(f) : -1;
}
