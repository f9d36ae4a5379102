/* Files backed by host fds handed to the sandbox by runsc (the workload's
 * standard streams). Only read, write, fstat and terminal queries reach the
 * host fd; nothing else about it is exposed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "../../kernel/fdtable.h"
#include "../../kernel/kernel.h"

static int host_fd(struct file *f)
{
	return (int)(intptr_t)f->priv;
}

static long hostfd_read(struct file *f, void *buf, size_t n)
{
	ssize_t r;
	do
		r = read(host_fd(f), buf, n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static long hostfd_write(struct file *f, const void *buf, size_t n)
{
	ssize_t r;
	do
		r = write(host_fd(f), buf, n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
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

static void hostfd_release(struct file *f)
{
	close(host_fd(f));
}

static const struct file_ops hostfd_ops = {
	.read = hostfd_read,
	.write = hostfd_write,
	.fstat = hostfd_fstat,
	.ioctl = hostfd_ioctl,
	.release = hostfd_release,
};

struct file *hostfd_file_new(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return NULL;
	return file_new(&hostfd_ops, fl & (O_ACCMODE | O_APPEND | O_NONBLOCK),
			(void *)(intptr_t)fd);
}
