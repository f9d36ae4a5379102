/* Character devices and devfs. The sandbox's devices are the sentry's own:
 * a device inode of any file system (devfs, a tmpfs mknod by root, a
 * device node in the image) opens here by its number, never on the host.
 * devfs itself is a tmpfs holding the nodes, the usual symlinks and the
 * mount points for /dev/shm and /dev/pts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "../../kernel/kernel.h"
#include "../tmpfs/tmpfs.h"
#include "dev.h"

static int console_fd = -1;

void dev_set_console(int host_fd)
{
	console_fd = host_fd;
}

static long null_read(struct task *t, struct file *f, void *buf, size_t n,
		      uint64_t *pos)
{
	(void)t, (void)f, (void)buf, (void)n, (void)pos;
	return 0;
}

static long null_write(struct task *t, struct file *f, const void *buf,
		       size_t n, uint64_t *pos)
{
	(void)t, (void)f, (void)buf, (void)pos;
	return (long)n;
}

static long zero_read(struct task *t, struct file *f, void *buf, size_t n,
		      uint64_t *pos)
{
	(void)t, (void)f, (void)pos;
	memset(buf, 0, n);
	return (long)n;
}

static long full_write(struct task *t, struct file *f, const void *buf,
		       size_t n, uint64_t *pos)
{
	(void)t, (void)f, (void)buf, (void)n, (void)pos;
	return -ENOSPC;
}

static long random_read(struct task *t, struct file *f, void *buf, size_t n,
			uint64_t *pos)
{
	size_t done = 0;
	(void)t, (void)f, (void)pos;
	while (done < n) {
		ssize_t r = getrandom((char *)buf + done, n - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return done ? (long)done : -errno;
		done += (size_t)r;
	}
	return (long)done;
}

/* Seeking a memory-like device always lands at 0, whatever is asked. */
static long dev_llseek(struct file *f, int64_t off, int whence, uint64_t *pos)
{
	(void)f, (void)off, (void)whence;
	*pos = 0;
	return 0;
}

static const struct file_ops null_ops = {
    .read = null_read,
    .write = null_write,
    .llseek = dev_llseek,
    .write_no_data = true,
    .read_no_data = true,
};
static const struct file_ops zero_ops = {
    .read = zero_read,
    .write = null_write,
    .llseek = dev_llseek,
    .mmap_anon = true,
    .write_no_data = true,
};
static const struct file_ops full_ops = {
    .read = zero_read,
    .write = full_write,
    .llseek = dev_llseek,
    .write_no_data = true,
};
static const struct file_ops random_ops = {
    .read = random_read,
    .write = null_write,
    .llseek = dev_llseek,
};

/* /dev/tty: the sandbox's terminal, if runsc was given one. */
static long tty_read(struct task *t, struct file *f, void *buf, size_t n,
		     uint64_t *pos)
{
	(void)t, (void)pos;
	ssize_t r;
	do
		r = read((int)(intptr_t)f->priv, buf, n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static long tty_write(struct task *t, struct file *f, const void *buf, size_t n,
		      uint64_t *pos)
{
	(void)t, (void)pos;
	ssize_t r;
	do
		r = write((int)(intptr_t)f->priv, buf, n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static long tty_ioctl(struct task *t, struct file *f, unsigned cmd,
		      uint64_t arg)
{
	int fd = (int)(intptr_t)f->priv;
	switch (cmd) {
	case TCGETS: {
		struct termios tio;
		if (ioctl(fd, TCGETS, &tio) < 0)
			return -errno;
		return task_copy_out(t, arg, &tio, sizeof(tio));
	}
	case TIOCGWINSZ: {
		struct winsize ws;
		if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
			return -errno;
		return task_copy_out(t, arg, &ws, sizeof(ws));
	}
	default:
		return -ENOTTY;
	}
}

static void tty_release(struct file *f)
{
	close((int)(intptr_t)f->priv);
}

static const struct file_ops tty_ops = {
    .read = tty_read,
    .write = tty_write,
    .ioctl = tty_ioctl,
    .release = tty_release,
};

int vfs_chrdev_open(struct task *t, struct file *f, uint64_t rdev, int flags)
{
	(void)t, (void)flags;
	unsigned maj = major(rdev), min = minor(rdev);
	if (maj == 1) {
		switch (min) {
		case 3:
			f->ops = &null_ops;
			return 0;
		case 5:
			f->ops = &zero_ops;
			return 0;
		case 7:
			f->ops = &full_ops;
			return 0;
		case 8:
		case 9:
			f->ops = &random_ops;
			return 0;
		}
	}
	if (maj == 5 && min == 0) {
		if (console_fd < 0)
			return -ENXIO; /* no controlling terminal */
		int fd = fcntl(console_fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		f->priv = (void *)(intptr_t)fd;
		f->mode &=
		    ~(unsigned)(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE);
		f->ops = &tty_ops;
		return 0;
	}
	return -ENXIO;
}

/* ---- devfs ------------------------------------------------------------- */

static int add(struct vfs_sb *sb, const char *name, uint32_t mode,
	       uint64_t rdev, const char *target)
{
	struct vfs_dentry *root = sb->root;
	struct vfs_create vc = {.mode = mode, .rdev = rdev, .target = target};
	struct vfs_inode *i;
	pthread_mutex_lock(&root->inode->rwsem);
	int err = root->inode->ops->create(root, name, &vc, &i);
	pthread_mutex_unlock(&root->inode->rwsem);
	if (err == 0)
		vfs_inode_put(i);
	return err;
}

int devfs_new(struct vfs_sb **out)
{
	struct tmpfs_opts o = {
	    .max_bytes = 1 << 20, .mode = 0755, .type = "devtmpfs"};
	struct vfs_sb *sb;
	int err = tmpfs_new(&o, &sb);
	if (err < 0)
		return err;
	static const struct {
		const char *name;
		unsigned maj, min;
	} devs[] = {
	    {"null", 1, 3},   {"zero", 1, 5},	 {"full", 1, 7},
	    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
	};
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]) && !err; i++)
		err = add(sb, devs[i].name, S_IFCHR | 0666,
			  makedev(devs[i].maj, devs[i].min), NULL);
	static const struct {
		const char *name, *target;
	} links[] = {
	    {"fd", "/proc/self/fd"},
	    {"stdin", "/proc/self/fd/0"},
	    {"stdout", "/proc/self/fd/1"},
	    {"stderr", "/proc/self/fd/2"},
	};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]) && !err; i++)
		err =
		    add(sb, links[i].name, S_IFLNK | 0777, 0, links[i].target);
	if (!err)
		err = add(sb, "shm", S_IFDIR | 01777, 0, NULL);
	if (!err)
		err = add(sb, "pts", S_IFDIR | 0755, 0, NULL);
	if (err < 0) {
		vfs_sb_put(sb);
		return err;
	}
	*out = sb;
	return 0;
}
