/* sendfile and copy_file_range: file to file through the sentry's bounce
 * buffer, one chunk at a time. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>

#include "fsutil.h"

#define MAX_RW_COUNT (INT_MAX & ~4095L)

/* Copies up to n bytes from in at *ipos to out at *opos (NULL: out's own
 * offset, through vfs_write). Returns the bytes copied. */
static long copy_range(struct task *t, struct file *in, uint64_t *ipos,
		       struct file *out, uint64_t *opos, size_t n)
{
	char *b = rw_buffer();
	size_t done = 0;
	if (!b)
		return -ENOMEM;
	while (done < n) {
		size_t c = n - done < RW_CHUNK ? n - done : RW_CHUNK;
		long r = vfs_read(t, in, b, c, ipos);
		if (r <= 0) {
			if (r < 0 && !done)
				return r;
			break;
		}
		long w = vfs_write(t, out, b, (size_t)r, opos);
		if (w < 0)
			return done ? (long)done : w;
		*ipos += (uint64_t)w;
		if (opos)
			*opos += (uint64_t)w;
		done += (size_t)w;
		if (w < r || (size_t)r < c)
			break;
	}
	return (long)done;
}

SYSCALL(sendfile)
{
	int ofd = (int)a->a[0], ifd = (int)a->a[1];
	uint64_t uoff = a->a[2];
	uint64_t count = a->a[3];
	struct file *in = fd_get(t->fdt, ifd);
	struct file *out = fd_get(t->fdt, ofd);
	long r = 0;
	int64_t off = 0;

	if (!in || !out) {
		r = -EBADF;
		goto out;
	}
	if (!(in->mode & FMODE_READ) || !(out->mode & FMODE_WRITE)) {
		r = -EBADF;
		goto out;
	}
	if (atomic_load(&out->flags) & O_APPEND) {
		r = -EINVAL;
		goto out;
	}
	if (!(in->mode & FMODE_PREAD) || !in->inode) {
		r = -EINVAL; /* the source must have positions */
		goto out;
	}
	if (uoff) {
		r = task_copy_in(t, &off, uoff, sizeof(off));
		if (r < 0)
			goto out;
		if (off < 0) {
			r = -EINVAL;
			goto out;
		}
	}
	if (count > MAX_RW_COUNT)
		count = MAX_RW_COUNT;
	if (uoff) {
		uint64_t pos = (uint64_t)off;
		r = copy_range(t, in, &pos, out, NULL, count);
		if (r >= 0) {
			off = (int64_t)pos;
			int err = task_copy_out(t, uoff, &off, sizeof(off));
			if (err < 0)
				r = err;
		}
	} else {
		/* Not under in's pos_lock: out's may be taken, and another
		 * call may copy the other way. */
		uint64_t pos = in->pos;
		r = copy_range(t, in, &pos, out, NULL, count);
		if (r > 0)
			in->pos = pos;
	}
out:
	file_put(in);
	file_put(out);
	return r;
}

SYSCALL(copy_file_range)
{
	int ifd = (int)a->a[0], ofd = (int)a->a[2];
	uint64_t uioff = a->a[1], uooff = a->a[3];
	uint64_t len = a->a[4];
	unsigned flags = (unsigned)a->a[5];
	struct file *in = NULL, *out = NULL;
	int64_t ioff = 0, ooff = 0;
	long r = 0;

	if (flags)
		return -EINVAL;
	in = fd_get(t->fdt, ifd);
	out = fd_get(t->fdt, ofd);
	if (!in || !out) {
		r = -EBADF;
		goto out;
	}
	if (!(in->mode & FMODE_READ) || !(out->mode & FMODE_WRITE) ||
	    (atomic_load(&out->flags) & O_APPEND)) {
		r = -EBADF;
		goto out;
	}
	if (!in->inode || !out->inode) {
		r = -EINVAL;
		goto out;
	}
	if (S_ISDIR(in->inode->type) || S_ISDIR(out->inode->type)) {
		r = -EISDIR;
		goto out;
	}
	if (!S_ISREG(in->inode->type) || !S_ISREG(out->inode->type)) {
		r = -EINVAL;
		goto out;
	}
	if (uioff && (r = task_copy_in(t, &ioff, uioff, sizeof(ioff))) < 0)
		goto out;
	if (uooff && (r = task_copy_in(t, &ooff, uooff, sizeof(ooff))) < 0)
		goto out;
	if (ioff < 0 || ooff < 0) {
		r = -EINVAL;
		goto out;
	}
	if (len > MAX_RW_COUNT)
		len = MAX_RW_COUNT;
	uint64_t ip = uioff ? (uint64_t)ioff : in->pos;
	uint64_t op = uooff ? (uint64_t)ooff : out->pos;
	if (in->inode == out->inode && ip < op + len && op < ip + len) {
		r = -EINVAL; /* overlapping ranges of one file */
	} else {
		r = copy_range(t, in, &ip, out, &op, len);
		if (r > 0) {
			if (!uioff)
				in->pos = ip;
			if (!uooff)
				out->pos = op;
		}
	}
	if (r > 0 && uioff) {
		ioff = (int64_t)ip;
		int err = task_copy_out(t, uioff, &ioff, sizeof(ioff));
		if (err < 0)
			r = err;
	}
	if (r > 0 && uooff) {
		ooff = (int64_t)op;
		int err = task_copy_out(t, uooff, &ooff, sizeof(ooff));
		if (err < 0)
			r = err;
	}
out:
	file_put(in);
	file_put(out);
	return r;
}
