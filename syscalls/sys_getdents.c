/* getdents64 and the old getdents: entries are laid out in a sentry buffer
 * as Linux lays them out, then copied to the workload in one piece. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

struct dents {
	struct vfs_dir_ctx ctx;
	char *buf;
	size_t cap, used;
	bool old;  /* struct linux_dirent (d_type in the last byte) */
	bool full; /* an entry did not fit */
};

static bool emit(struct vfs_dir_ctx *ctx, const char *name, size_t len,
		 uint64_t ino, unsigned type, uint64_t next)
{
	struct dents *d = (struct dents *)ctx;
	size_t reclen;
	char *p;
	if (d->old) {
		/* d_ino[8] d_off[8] d_reclen[2] name NUL pad d_type */
		reclen = (18 + len + 2 + 7) & ~(size_t)7;
	} else {
		/* d_ino[8] d_off[8] d_reclen[2] d_type[1] name NUL pad */
		reclen = (19 + len + 1 + 7) & ~(size_t)7;
	}
	if (d->used + reclen > d->cap) {
		d->full = true;
		return false;
	}
	p = d->buf + d->used;
	memset(p, 0, reclen);
	memcpy(p, &ino, 8);
	memcpy(p + 8, &next, 8);
	uint16_t rl = (uint16_t)reclen;
	memcpy(p + 16, &rl, 2);
	if (d->old) {
		memcpy(p + 18, name, len);
		p[reclen - 1] = (char)type;
	} else {
		p[18] = (char)type;
		memcpy(p + 19, name, len);
	}
	d->used += reclen;
	return true;
}

static long do_getdents(struct task *t, int fd, uint64_t ubuf, uint64_t count,
			bool old)
{
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	if (count > 1 << 20)
		count = 1 << 20; /* more is read in later calls */
	struct dents d = {.ctx.emit = emit, .cap = (size_t)count, .old = old};
	d.buf = malloc(d.cap ? d.cap : 1);
	long r = d.buf ? 0 : -ENOMEM;
	if (r == 0)
		r = vfs_iterate(t, f, &d.ctx);
	file_put(f);
	if (r == 0 && d.used == 0 && d.full)
		r = -EINVAL; /* not even one entry fits */
	if (r == 0)
		r = (long)d.used;
	if (r > 0) {
		int err = task_copy_out(t, ubuf, d.buf, d.used);
		if (err < 0)
			r = err;
	}
	free(d.buf);
	return r;
}

SYSCALL(getdents64)
{
	return do_getdents(t, (int)a->a[0], a->a[1], (unsigned)a->a[2], false);
}

SYSCALL(getdents)
{
	return do_getdents(t, (int)a->a[0], a->a[1], (unsigned)a->a[2], true);
}
