/* read/write families and lseek. Workload buffers pass through a bounce
 * buffer of the serving sentry thread. A regular file's transfer is
 * carried out in chunks until done (it never blocks, and a short count
 * there would be a lie); a stream's (pipe, terminal, FIFO) is one call of
 * at most one chunk, since a short count is normal there and a second
 * call could block after data was already moved. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fsutil.h"
#include "../platform/platform.h"
#include "../sentry/kernel/poll.h"
#include "../sentry/mm/mm.h"

#define MAX_RW_COUNT (INT_MAX & ~4095L) /* Linux clamps every transfer */

static __thread char *bounce;

char *rw_buffer(void)
{
	/* One per sentry thread, kept: a fresh 1 MiB malloc per call would
	 * be an mmap and page faults each time. Page-aligned: host reads into
	 * a misaligned buffer run several times slower (AMD EPYC here). */
	if (!bounce)
		bounce = aligned_alloc(4096, RW_CHUNK);
	return bounce;
}

/* Linux's access_ok: [buf, buf + n) lies in user space, mapped or not. */
static bool user_range(uint64_t buf, size_t n)
{
	return buf + n >= buf && buf + n <= MM_TASK_SIZE;
}

static bool loops(struct file *f)
{
	return f->inode && (S_ISREG(f->inode->type) || S_ISBLK(f->inode->type));
}

/* What a stream read (a pipe, socket, terminal...) may take: what it can
 * store. The bytes go through the bounce buffer, so a read into memory the
 * workload cannot write would take them out of the stream and lose them;
 * Linux leaves them there and answers EFAULT, or the count before the
 * first byte it could not store. So the read asks only for the writable
 * head of the buffers; with none, stream_unstorable says what Linux would.
 * One corner differs: Linux's pipes take whole pipe buffers (pages written
 * at once), so a head ending inside one is EFAULT or a shorter count
 * there. */
static size_t stream_room(struct task *t, struct file *f,
			  const struct iovec *iov, uint64_t cnt, size_t total)
{
	if (f->ops->read_no_data)
		return total;
	size_t room = 0;
	for (uint64_t i = 0; i < cnt && room < total; i++) {
		size_t want = iov[i].iov_len;
		if (want > total - room)
			want = total - room;
		if (!want)
			continue;
		size_t w = mm_usable_prefix(t->mm, (uint64_t)iov[i].iov_base,
					     want, true);
		room += w;
		if (w < want)
			break;
	}
	return room;
}

/* A stream read whose buffers can store nothing. Linux only finds that
 * out when it has bytes to give: an empty stream still answers EAGAIN when
 * non-blocking, waits when blocking, and 0 at end of file. So: wait as
 * poll would for readable or hung up, then EFAULT if bytes are there and
 * 0 if not. A file without a poll operation is EFAULT at once. */
static long stream_unstorable(struct task *t, struct file *f)
{
	if (!f->ops->poll)
		return -EFAULT;
	struct poll_table pt;
	bool registered = false;
	long ret;
	poll_table_init(&pt, t);
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		unsigned ev = f->ops->poll(f, registered ? NULL : &pt);
		if (ev & (POLLIN | POLLERR)) {
			ret = -EFAULT;
			break;
		}
		if (ev & POLLHUP) {
			ret = 0;
			break;
		}
		if (f->flags & O_NONBLOCK) {
			ret = -EAGAIN;
			break;
		}
		if (!registered) {
			registered = true;
			/* Nothing to wait on: no wake-up would come. */
			ret = pt.err < 0 ? pt.err : -EFAULT;
			if (pt.err < 0 || !pt.n)
				break;
		}
		/* a signal only once the stream has been looked at again */
		if (task_signal_pending(t)) {
			ret = -ERESTARTSYS;
			break;
		}
		task_sleep(t, seq, 0);
	}
	poll_table_free(&pt);
	return ret;
}

/* A big read of a regular file that has a host fd (gofer files, tmpfs
 * files in a memfd) is done by the stub itself, straight into the
 * workload's buffer: one copy instead of two (into the bounce buffer, then
 * out). Below this size the fd passing costs more than the copy saves. */
#define DIRECT_MIN (128 * 1024)
#define DIRECT_CHUNK (16 * 1024 * 1024)

/* -ENOTSUP: not a case for it (the caller takes the bounce path). */
static long read_direct(struct task *t, struct file *f, uint64_t buf,
			size_t n, const uint64_t *pos)
{
	const struct platform_ops *plat = t->k->plat;
	if (n < DIRECT_MIN || !plat->batch || !f->ops->io_fd ||
	    !f->inode || !S_ISREG(f->inode->type) || !(f->mode & FMODE_READ))
		return -ENOTSUP;
	if (pos ? !(f->mode & FMODE_PREAD) : !(f->mode & FMODE_LSEEK))
		return -ENOTSUP;
	/* The stub's own ranges are never written for the workload: the
	 * bounce path refuses them with EFAULT. */
	if (buf + n < buf || buf + n > MM_TASK_SIZE ||
	    mm_range_reserved(buf, buf + n))
		return -ENOTSUP;
	int hfd = f->ops->io_fd(f);
	if (hfd < 0)
		return -ENOTSUP;
	mm_flush(t, buf, buf + n); /* the host writes there itself */
	bool atomic = !pos && (f->mode & FMODE_ATOMIC_POS);
	if (atomic)
		pthread_mutex_lock(&f->pos_lock);
	uint64_t off = pos ? *pos : f->pos;
	long r = 0;
	if ((int64_t)off < 0)
		r = -EINVAL;
	/* In pieces: the sandbox's fd-passing lock is held for each. */
	for (size_t done = 0; r >= 0 && done < n;) {
		size_t c = n - done < DIRECT_CHUNK ? n - done : DIRECT_CHUNK;
		long got = plat_fd_pread(plat, t->th, hfd, buf + done, c,
					 off + done);
		if (got < 0) {
			r = done ? (long)done : got;
			break;
		}
		done += (size_t)got;
		r = (long)done;
		if ((size_t)got < c)
			break;
	}
	if (r > 0 && !pos)
		f->pos = off + (uint64_t)r;
	if (r > 0 && f->ops->accessed)
		f->ops->accessed(f);
	if (atomic)
		pthread_mutex_unlock(&f->pos_lock);
	close(hfd);
	return r;
}

/* Reads at most n bytes of a regular file into workload memory at buf;
 * pos NULL: the file's offset. */
static long read_to(struct task *t, struct file *f, uint64_t buf, size_t n,
		    const uint64_t *pos)
{
	long direct = read_direct(t, f, buf, n, pos);
	if (direct != -ENOTSUP)
		return direct;
	char *b = rw_buffer();
	size_t done = 0;
	if (!b)
		return -ENOMEM;
	do {
		size_t c = n - done < RW_CHUNK ? n - done : RW_CHUNK;
		uint64_t p = pos ? *pos + done : 0;
		long r = vfs_read(t, f, b, c, pos ? &p : NULL);
		if (r < 0)
			return done ? (long)done : r;
		if (r > 0) {
			int err = task_copy_out(t, buf + done, b, (size_t)r);
			if (err < 0)
				return done ? (long)done : err;
		}
		done += (size_t)r;
		if ((size_t)r < c)
			break;
	} while (done < n);
	return (long)done;
}

/* How much of a write Linux carries out when its buffers stop being
 * readable part way (room: the readable head of n bytes): a regular file
 * takes the head, up to the first byte it could not read; a pipe takes
 * whole pages of the data (a pipe buffer is filled from one page's worth
 * at once), so less than a page is EFAULT. (A page merged into a pipe's
 * last, partly filled buffer is the corner this does not follow.) */
static size_t write_room(struct file *f, size_t n, size_t room)
{
	if (room >= n || loops(f))
		return room;
	return room & ~(size_t)4095;
}

static long write_iov(struct task *t, struct file *f, const struct iovec *iov,
		     uint64_t cnt, size_t total, const uint64_t *pos);

static long write_from(struct task *t, struct file *f, uint64_t buf, size_t n,
		       const uint64_t *pos)
{
	/* Linux's order: the file's refusals, access_ok, then the bytes. */
	long err = vfs_write_check(f, pos);
	if (err)
		return err;
	if (!user_range(buf, n))
		return -EFAULT;
	struct iovec one = { (void *)(uintptr_t)buf, n };
	return write_iov(t, f, &one, 1, n, pos);
}

static long readv_file(struct task *t, struct file *f, const struct iovec *iov,
		       uint64_t cnt, size_t total, const uint64_t *pos);

static long do_read(struct task *t, int fd, uint64_t buf, uint64_t n,
		    const uint64_t *pos)
{
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	if (n > MAX_RW_COUNT)
		n = MAX_RW_COUNT;
	long r;
	if (n == 0) { /* still checks the fd, mode and offset */
		char none[1]; /* a file's read op may memset or memcpy 0 bytes */
		r = vfs_read(t, f, none, 0, pos);
	} else if (!loops(f) && !user_range(buf, n)) {
		r = -EFAULT; /* access_ok, before a stream gives up bytes */
	} else {
		/* One buffer of readv's: a regular file read at its offset
		 * moves it by what reached the caller; a stream's read takes
		 * only what its buffer can store (stream_room). */
		struct iovec one = { (void *)(uintptr_t)buf, (size_t)n };
		r = readv_file(t, f, &one, 1, (size_t)n, pos);
	}
	file_put(f);
	return r;
}

static long do_write(struct task *t, int fd, uint64_t buf, uint64_t n,
		     const uint64_t *pos)
{
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	if (n > MAX_RW_COUNT)
		n = MAX_RW_COUNT;
	long r;
	if (n == 0)
		r = vfs_write(t, f, "", 0, pos);
	else
		r = write_from(t, f, buf, n, pos);
	file_put(f);
	return r;
}

SYSCALL(read)
{
	return do_read(t, (int)a->a[0], a->a[1], a->a[2], NULL);
}

SYSCALL(write)
{
	return do_write(t, (int)a->a[0], a->a[1], a->a[2], NULL);
}

SYSCALL(pread64)
{
	uint64_t pos = a->a[3];
	if ((int64_t)pos < 0)
		return -EINVAL;
	return do_read(t, (int)a->a[0], a->a[1], a->a[2], &pos);
}

SYSCALL(pwrite64)
{
	uint64_t pos = a->a[3];
	if ((int64_t)pos < 0)
		return -EINVAL;
	return do_write(t, (int)a->a[0], a->a[1], a->a[2], &pos);
}

long iov_import(struct task *t, uint64_t addr, uint64_t cnt, struct iovec **out,
		size_t *total)
{
	*total = 0;
	*out = NULL;
	if (cnt > IOV_MAX)
		return -EINVAL;
	if (cnt == 0)
		return 0;
	struct iovec *iov = calloc(cnt, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	int err = task_copy_in(t, iov, addr, cnt * sizeof(*iov));
	if (err < 0) {
		free(iov);
		return err;
	}
	for (uint64_t i = 0; i < cnt; i++) {
		if ((ssize_t)iov[i].iov_len < 0) {
			free(iov);
			return -EINVAL;
		}
		/* Each buffer must lie in user space, as Linux's import
		 * checks before anything moves. */
		if (!user_range((uint64_t)iov[i].iov_base, iov[i].iov_len)) {
			free(iov);
			return -EFAULT;
		}
		size_t room = MAX_RW_COUNT - *total;
		if (iov[i].iov_len > room)
			iov[i].iov_len = room;
		*total += iov[i].iov_len;
	}
	*out = iov;
	return 0;
}

static long readv_file(struct task *t, struct file *f, const struct iovec *iov,
		       uint64_t cnt, size_t total, const uint64_t *pos)
{
	if (total == 0 || !loops(f)) {
		/* One call, scattered afterwards. */
		char *b = rw_buffer();
		if (!b)
			return -ENOMEM;
		size_t c = total < RW_CHUNK ? total : RW_CHUNK;
		if (c) {
			c = stream_room(t, f, iov, cnt, c);
			if (!c)
				return stream_unstorable(t, f);
		}
		uint64_t p = pos ? *pos : 0;
		long r = vfs_read(t, f, b, c, pos ? &p : NULL);
		for (size_t i = 0, off = 0; r > 0 && off < (size_t)r; i++) {
			size_t n = iov[i].iov_len;
			if (n > (size_t)r - off)
				n = (size_t)r - off;
			int err = task_copy_out(t, (uint64_t)iov[i].iov_base,
						b + off, n);
			if (err < 0)
				return off ? (long)off : err;
			off += n;
		}
		return r;
	}
	/* A regular file read at its offset: positional reads from it, the
	 * offset moved by what reached the caller (a copy-out that faults
	 * counts only what came before), under the offset lock throughout. */
	bool at_offset = !pos && (f->mode & FMODE_LSEEK) &&
			 (f->mode & FMODE_PREAD) && (f->mode & FMODE_READ);
	bool atomic = at_offset && (f->mode & FMODE_ATOMIC_POS);
	uint64_t base = 0;
	if (atomic)
		pthread_mutex_lock(&f->pos_lock);
	if (at_offset)
		base = f->pos;
	size_t done = 0;
	long ret = 0;
	for (uint64_t i = 0; i < cnt && done < total; i++) {
		if (!iov[i].iov_len)
			continue;
		uint64_t p = (pos ? *pos : base) + done;
		long r = read_to(t, f, (uint64_t)iov[i].iov_base,
				 iov[i].iov_len, (pos || at_offset) ? &p : NULL);
		if (r < 0) {
			ret = done ? 0 : r;
			break;
		}
		done += (size_t)r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	if (at_offset && done)
		f->pos = base + done;
	if (atomic)
		pthread_mutex_unlock(&f->pos_lock);
	return ret < 0 ? ret : (long)done;
}

static long writev_file(struct task *t, struct file *f, const struct iovec *iov,
			uint64_t cnt, size_t total, const uint64_t *pos)
{
	if (total == 0) {
		uint64_t p = pos ? *pos : 0;
		return vfs_write(t, f, "", 0, pos ? &p : NULL);
	}
	long refused = vfs_write_check(f, pos);
	if (refused)
		return refused;
	return write_iov(t, f, iov, cnt, total, pos);
}

/* Writes total (> 0) bytes from the workload's buffers, once vfs_write's
 * refusals are past. */
static long write_iov(struct task *t, struct file *f, const struct iovec *iov,
		      uint64_t cnt, size_t total, const uint64_t *pos)
{
	if (f->ops->write_no_data) {
		static const char none[1]; /* the op never reads it */
		uint64_t p = pos ? *pos : 0;
		return vfs_write(t, f, none, total, pos ? &p : NULL);
	}
	char *b = rw_buffer();
	size_t done = 0;
	uint64_t i = 0;
	size_t in_iov = 0;
	if (!b)
		return -ENOMEM;
	/* Gathered a chunk at a time, so a pipe sees each chunk whole. */
	while (done < total) {
		size_t c = 0;
		while (c < RW_CHUNK && i < cnt) {
			size_t n = iov[i].iov_len - in_iov;
			if (n > RW_CHUNK - c)
				n = RW_CHUNK - c;
			uint64_t src = (uint64_t)iov[i].iov_base + in_iov;
			int err = task_copy_in(t, b + c, src, n);
			if (err == -EFAULT) {
				/* Only now the map is asked where the bytes
				 * stop (the common write pays nothing): the
				 * write ends there, or earlier for a pipe. */
				size_t room = write_room(
				    f, total,
				    done + c +
					mm_usable_prefix(t->mm, src, n, false));
				if (room <= done + c) {
					c = room > done ? room - done : 0;
				} else if (task_copy_in(t, b + c, src,
							room - done - c) == 0) {
					c = room - done;
				}
				total = done + c;
				if (c == 0)
					return done ? (long)done : -EFAULT;
				break;
			} else if (err < 0) {
				if (c == 0)
					return done ? (long)done : err;
				break;
			}
			c += n;
			in_iov += n;
			if (in_iov == iov[i].iov_len) {
				i++;
				in_iov = 0;
			}
		}
		uint64_t p = pos ? *pos + done : 0;
		long r = vfs_write(t, f, b, c, pos ? &p : NULL);
		if (r < 0)
			return done ? (long)done : r;
		done += (size_t)r;
		if ((size_t)r < c)
			break;
	}
	return (long)done;
}

static long do_readv(struct task *t, int fd, uint64_t iovp, uint64_t cnt,
		     const uint64_t *pos)
{
	struct iovec *iov;
	size_t total;
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	long r = iov_import(t, iovp, cnt, &iov, &total);
	if (r == 0)
		r = readv_file(t, f, iov, cnt, total, pos);
	free(iov);
	file_put(f);
	return r;
}

static long do_writev(struct task *t, int fd, uint64_t iovp, uint64_t cnt,
		      const uint64_t *pos)
{
	struct iovec *iov;
	size_t total;
	struct file *f = fd_get(t->fdt, fd);
	if (!f)
		return -EBADF;
	long r = iov_import(t, iovp, cnt, &iov, &total);
	if (r == 0)
		r = writev_file(t, f, iov, cnt, total, pos);
	free(iov);
	file_put(f);
	return r;
}

SYSCALL(readv)
{
	return do_readv(t, (int)a->a[0], a->a[1], a->a[2], NULL);
}

SYSCALL(writev)
{
	return do_writev(t, (int)a->a[0], a->a[1], a->a[2], NULL);
}

SYSCALL(preadv)
{
	uint64_t pos = a->a[3]; /* 64-bit: pos_l holds it all */
	if ((int64_t)pos < 0)
		return -EINVAL;
	return do_readv(t, (int)a->a[0], a->a[1], a->a[2], &pos);
}

SYSCALL(pwritev)
{
	uint64_t pos = a->a[3];
	if ((int64_t)pos < 0)
		return -EINVAL;
	return do_writev(t, (int)a->a[0], a->a[1], a->a[2], &pos);
}

#define RWF_OURS (RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_APPEND)

SYSCALL(preadv2)
{
	int64_t off = (int64_t)a->a[3];
	int flags = (int)a->a[5];
	if (flags & ~(RWF_OURS | RWF_NOWAIT))
		return -EOPNOTSUPP;
	if (flags & RWF_NOWAIT)
		return -EOPNOTSUPP;
	if (off < -1)
		return -EINVAL;
	uint64_t pos = (uint64_t)off;
	return do_readv(t, (int)a->a[0], a->a[1], a->a[2],
			off == -1 ? NULL : &pos);
}

SYSCALL(pwritev2)
{
	int64_t off = (int64_t)a->a[3];
	int flags = (int)a->a[5];
	if (flags & ~(RWF_OURS | RWF_NOWAIT))
		return -EOPNOTSUPP;
	if (flags & RWF_NOWAIT)
		return -EOPNOTSUPP;
	if (off < -1)
		return -EINVAL;
	uint64_t pos = (uint64_t)off;
	long r;
	if (flags & RWF_APPEND) {
		/* This call only appends: at the size, not via O_APPEND on
		 * the shared description. */
		struct file *f = fd_get(t->fdt, (int)a->a[0]);
		struct vfs_attr at;
		if (!f)
			return -EBADF;
		bool reg = f->inode && S_ISREG(f->inode->type);
		r = reg ? vfs_getattr(f->inode, &at) : 0;
		file_put(f);
		if (r < 0)
			return r;
		if (reg) {
			pos = at.size;
			off = 0;
		}
	}
	r = do_writev(t, (int)a->a[0], a->a[1], a->a[2],
		      off == -1 ? NULL : &pos);
	if (r > 0 && (flags & (RWF_DSYNC | RWF_SYNC))) {
		struct file *f = fd_get(t->fdt, (int)a->a[0]);
		if (f && f->ops->fsync)
			f->ops->fsync(f, flags & RWF_DSYNC);
		file_put(f);
	}
	return r;
}

SYSCALL(lseek)
{
	struct file *f = fd_get(t->fdt, (int)a->a[0]);
	if (!f)
		return -EBADF;
	int whence = (int)a->a[2];
	long r = whence < 0 || whence > SEEK_HOLE
		     ? -EINVAL
		     : vfs_llseek(f, (int64_t)a->a[1], whence);
	file_put(f);
	return r;
}
