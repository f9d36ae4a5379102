#include "fdtable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../vfs/vfs.h"
#include "kernel.h"

/* ---- files ------------------------------------------------------------- */

static unsigned fmode_of(int flags)
{
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		return FMODE_READ;
	case O_WRONLY:
		return FMODE_WRITE;
	case O_RDWR:
		return FMODE_READ | FMODE_WRITE;
	default:
		return 0; /* 3: Linux's "ioctl only" mode */
	}
}

struct file *file_new(const struct file_ops *ops, int flags, void *priv)
{
	struct file *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	atomic_init(&f->refs, 1);
	f->ops = ops;
	atomic_init(&f->flags, flags);
	f->mode = fmode_of(flags);
	f->priv = priv;
	pthread_mutex_init(&f->pos_lock, NULL);
	return f;
}

struct file *file_ref(struct file *f)
{
	atomic_fetch_add(&f->refs, 1);
	return f;
}

void file_put(struct file *f)
{
	if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
		return;
	if (f->inode)
		vfs_lock_file_release(f);
	if (f->ops && f->ops->release)
		f->ops->release(f);
	vfs_file_release(f);
	pthread_mutex_destroy(&f->pos_lock);
	free(f);
}

long file_pread(struct file *f, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	if (!(f->mode & FMODE_READ) || !f->ops->read)
		return -EBADF;
	if (!(f->mode & FMODE_PREAD))
		return -ESPIPE;
	while (done < n) {
		uint64_t pos = off + done;
		long r =
		    f->ops->read(NULL, f, (char *)buf + done, n - done, &pos);
		if (r < 0)
			return done ? (long)done : r;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (long)done;
}

long file_pwrite(struct file *f, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	if (!(f->mode & FMODE_WRITE) || !f->ops->write)
		return -EBADF;
	if (!(f->mode & FMODE_PWRITE))
		return -ESPIPE;
	while (done < n) {
		uint64_t pos = off + done;
		long r = f->ops->write(NULL, f, (const char *)buf + done,
				       n - done, &pos);
		if (r < 0)
			return done ? (long)done : r;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (long)done;
}

int file_mmap_fd(struct file *f)
{
	if (!f->ops->mmap_fd)
		return -ENODEV;
	return f->ops->mmap_fd(f);
}

/* ---- fd tables --------------------------------------------------------- */

static bool cloexec_test(const struct fdtable *fdt, int fd)
{
	return fdt->cloexec[fd / 64] & (1ULL << (fd % 64));
}

static void cloexec_set(struct fdtable *fdt, int fd, bool on)
{
	if (on)
		fdt->cloexec[fd / 64] |= 1ULL << (fd % 64);
	else
		fdt->cloexec[fd / 64] &= ~(1ULL << (fd % 64));
}

/* Grows the table to hold fd; lock held. */
static int fdtable_grow(struct fdtable *fdt, int fd)
{
	if (fd < fdt->size)
		return 0;
	if (fd >= FDTABLE_HARD_MAX)
		return -EMFILE;
	int n = fdt->size ? fdt->size : 64;
	while (n <= fd)
		n *= 2;
	if (n > FDTABLE_HARD_MAX)
		n = FDTABLE_HARD_MAX;
	struct file **files = realloc(fdt->files, (size_t)n * sizeof(*files));
	if (!files)
		return -ENOMEM;
	memset(files + fdt->size, 0, (size_t)(n - fdt->size) * sizeof(*files));
	fdt->files = files;
	uint64_t *ce = realloc(fdt->cloexec, (size_t)(n / 64) * sizeof(*ce));
	if (!ce)
		return -ENOMEM;
	memset(ce + fdt->size / 64, 0,
	       (size_t)(n / 64 - fdt->size / 64) * sizeof(*ce));
	fdt->cloexec = ce;
	fdt->size = n;
	return 0;
}

struct fdtable *fdtable_new(void)
{
	struct fdtable *fdt = calloc(1, sizeof(*fdt));
	if (!fdt)
		return NULL;
	atomic_init(&fdt->refs, 1);
	pthread_mutex_init(&fdt->lock, NULL);
	if (fdtable_grow(fdt, 63) < 0) {
		free(fdt->files);
		free(fdt->cloexec);
		free(fdt);
		return NULL;
	}
	return fdt;
}

struct fdtable *fdtable_ref(struct fdtable *fdt)
{
	atomic_fetch_add(&fdt->refs, 1);
	return fdt;
}

/* The file in slot fd has been taken out by its closer: drop the owner's
 * POSIX locks on it, then the reference. Never under fdt->lock. */
static void close_file(struct fdtable *fdt, struct file *f)
{
	if (f->inode)
		vfs_lock_close(f, fdt);
	file_put(f);
}

void fdtable_put(struct fdtable *fdt)
{
	if (!fdt || atomic_fetch_sub(&fdt->refs, 1) != 1)
		return;
	for (int i = 0; i < fdt->size; i++)
		if (fdt->files[i])
			close_file(fdt, fdt->files[i]);
	free(fdt->files);
	free(fdt->cloexec);
	pthread_mutex_destroy(&fdt->lock);
	free(fdt);
}

void fdtable_free(struct fdtable *fdt)
{
	fdtable_put(fdt);
}

struct fdtable *fdtable_copy(struct fdtable *fdt)
{
	struct fdtable *n = fdtable_new();
	if (!n)
		return NULL;
	pthread_mutex_lock(&fdt->lock);
	if (fdtable_grow(n, fdt->size - 1) < 0) {
		pthread_mutex_unlock(&fdt->lock);
		fdtable_put(n);
		return NULL;
	}
	for (int i = 0; i < fdt->size; i++) {
		if (!fdt->files[i])
			continue;
		n->files[i] = file_ref(fdt->files[i]);
		cloexec_set(n, i, cloexec_test(fdt, i));
	}
	n->lowest_free = fdt->lowest_free;
	pthread_mutex_unlock(&fdt->lock);
	return n;
}

void fdtable_close_on_exec(struct fdtable *fdt)
{
	for (;;) {
		struct file *f = NULL;
		pthread_mutex_lock(&fdt->lock);
		for (int i = 0; i < fdt->size && !f; i++) {
			if (fdt->files[i] && cloexec_test(fdt, i)) {
				f = fdt->files[i];
				fdt->files[i] = NULL;
				cloexec_set(fdt, i, false);
				if (i < fdt->lowest_free)
					fdt->lowest_free = i;
			}
		}
		pthread_mutex_unlock(&fdt->lock);
		if (!f)
			return;
		close_file(fdt, f);
	}
}

int fd_alloc(struct fdtable *fdt, struct file *f, int min, bool cloexec,
	     uint64_t limit)
{
	if (limit > FDTABLE_HARD_MAX)
		limit = FDTABLE_HARD_MAX;
	if (min < 0)
		min = 0;
	pthread_mutex_lock(&fdt->lock);
	int i = min > fdt->lowest_free ? min : fdt->lowest_free;
	while (i < fdt->size && fdt->files[i])
		i++;
	if ((uint64_t)i >= limit) {
		pthread_mutex_unlock(&fdt->lock);
		return -EMFILE;
	}
	int err = fdtable_grow(fdt, i);
	if (err < 0) {
		pthread_mutex_unlock(&fdt->lock);
		return err;
	}
	fdt->files[i] = file_ref(f);
	cloexec_set(fdt, i, cloexec);
	if (min <= fdt->lowest_free)
		fdt->lowest_free = i + 1;
	pthread_mutex_unlock(&fdt->lock);
	return i;
}

int fd_install(struct fdtable *fdt, struct file *f, int min, bool cloexec)
{
	return fd_alloc(fdt, f, min, cloexec, FDTABLE_HARD_MAX);
}

int fd_install_task(struct task *t, struct file *f, bool cloexec)
{
	return fd_alloc(t->fdt, f, 0, cloexec,
			task_rlimit_cur(t, RLIMIT_NOFILE));
}

int fd_replace(struct fdtable *fdt, int fd, struct file *f, bool cloexec,
	       uint64_t limit)
{
	if (limit > FDTABLE_HARD_MAX)
		limit = FDTABLE_HARD_MAX;
	if (fd < 0 || (uint64_t)fd >= limit)
		return -EBADF;
	pthread_mutex_lock(&fdt->lock);
	int err = fdtable_grow(fdt, fd);
	if (err < 0) {
		pthread_mutex_unlock(&fdt->lock);
		return err;
	}
	struct file *old = fdt->files[fd];
	fdt->files[fd] = file_ref(f);
	cloexec_set(fdt, fd, cloexec);
	if (fd == fdt->lowest_free)
		fdt->lowest_free = fd + 1;
	pthread_mutex_unlock(&fdt->lock);
	if (old)
		close_file(fdt, old);
	return fd;
}

struct file *fd_get_cloexec(struct fdtable *fdt, int fd, bool *cloexec)
{
	struct file *f = NULL;
	pthread_mutex_lock(&fdt->lock);
	if (fd >= 0 && fd < fdt->size && fdt->files[fd]) {
		f = file_ref(fdt->files[fd]);
		if (cloexec)
			*cloexec = cloexec_test(fdt, fd);
	}
	pthread_mutex_unlock(&fdt->lock);
	return f;
}

struct file *fd_get(struct fdtable *fdt, int fd)
{
	return fd_get_cloexec(fdt, fd, NULL);
}

int fd_set_cloexec(struct fdtable *fdt, int fd, bool cloexec)
{
	int err = -EBADF;
	pthread_mutex_lock(&fdt->lock);
	if (fd >= 0 && fd < fdt->size && fdt->files[fd]) {
		cloexec_set(fdt, fd, cloexec);
		err = 0;
	}
	pthread_mutex_unlock(&fdt->lock);
	return err;
}

int fd_close(struct fdtable *fdt, int fd)
{
	struct file *f = NULL;
	pthread_mutex_lock(&fdt->lock);
	if (fd >= 0 && fd < fdt->size && fdt->files[fd]) {
		f = fdt->files[fd];
		fdt->files[fd] = NULL;
		cloexec_set(fdt, fd, false);
		if (fd < fdt->lowest_free)
			fdt->lowest_free = fd;
	}
	pthread_mutex_unlock(&fdt->lock);
	if (!f)
		return -EBADF;
	close_file(fdt, f);
	return 0;
}

int fd_close_range(struct fdtable *fdt, unsigned lo, unsigned hi, bool cloexec)
{
	if (lo > hi)
		return -EINVAL;
	for (unsigned fd = lo;;) {
		struct file *f = NULL;
		pthread_mutex_lock(&fdt->lock);
		unsigned end = (unsigned)fdt->size;
		if (hi < end)
			end = hi + 1;
		for (; fd < end && !f; fd++) {
			if (!fdt->files[fd])
				continue;
			if (cloexec) {
				cloexec_set(fdt, (int)fd, true);
				continue;
			}
			f = fdt->files[fd];
			fdt->files[fd] = NULL;
			cloexec_set(fdt, (int)fd, false);
			if ((int)fd < fdt->lowest_free)
				fdt->lowest_free = (int)fd;
		}
		pthread_mutex_unlock(&fdt->lock);
		if (!f)
			return 0;
		close_file(fdt, f);
	}
}

int fdtable_max_fd(struct fdtable *fdt)
{
	int n = 0;
	pthread_mutex_lock(&fdt->lock);
	for (int i = fdt->size - 1; i >= 0; i--) {
		if (fdt->files[i]) {
			n = i + 1;
			break;
		}
	}
	pthread_mutex_unlock(&fdt->lock);
	return n;
}
