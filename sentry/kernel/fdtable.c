#include "fdtable.h"

#include <errno.h>
#include <stdlib.h>

struct file *file_new(const struct file_ops *ops, int flags, void *priv)
{
	struct file *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	atomic_init(&f->refs, 1);
	f->ops = ops;
	f->flags = flags;
	f->priv = priv;
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
	if (f->ops->release)
		f->ops->release(f);
	free(f);
}

struct fdtable *fdtable_new(void)
{
	struct fdtable *fdt = calloc(1, sizeof(struct fdtable));
	if (fdt) {
		atomic_init(&fdt->refs, 1);
		pthread_mutex_init(&fdt->lock, NULL);
	}
	return fdt;
}

struct fdtable *fdtable_ref(struct fdtable *fdt)
{
	atomic_fetch_add(&fdt->refs, 1);
	return fdt;
}

void fdtable_put(struct fdtable *fdt)
{
	if (!fdt || atomic_fetch_sub(&fdt->refs, 1) != 1)
		return;
	for (int i = 0; i < FDTABLE_MAX; i++)
		file_put(fdt->files[i]);
	pthread_mutex_destroy(&fdt->lock);
	free(fdt);
}

struct fdtable *fdtable_copy(struct fdtable *fdt)
{
	struct fdtable *n = fdtable_new();
	if (!n)
		return NULL;
	pthread_mutex_lock(&fdt->lock);
	for (int i = 0; i < FDTABLE_MAX; i++) {
		if (fdt->files[i])
			n->files[i] = file_ref(fdt->files[i]);
		n->cloexec[i] = fdt->cloexec[i];
	}
	pthread_mutex_unlock(&fdt->lock);
	return n;
}

void fdtable_close_on_exec(struct fdtable *fdt)
{
	struct file *drop[FDTABLE_MAX];
	int n = 0;

	pthread_mutex_lock(&fdt->lock);
	for (int i = 0; i < FDTABLE_MAX; i++)
		if (fdt->files[i] && fdt->cloexec[i]) {
			drop[n++] = fdt->files[i];
			fdt->files[i] = NULL;
			fdt->cloexec[i] = false;
		}
	pthread_mutex_unlock(&fdt->lock);
	for (int i = 0; i < n; i++)
		file_put(drop[i]);
}

int fd_install(struct fdtable *fdt, struct file *f, int min, bool cloexec)
{
	int ret = -EMFILE;
	pthread_mutex_lock(&fdt->lock);
	for (int i = min < 0 ? 0 : min; i < FDTABLE_MAX; i++) {
		if (!fdt->files[i]) {
			fdt->files[i] = file_ref(f);
			fdt->cloexec[i] = cloexec;
			ret = i;
			break;
		}
	}
	pthread_mutex_unlock(&fdt->lock);
	return ret;
}

struct file *fd_get(struct fdtable *fdt, int fd)
{
	struct file *f = NULL;
	if (fd < 0 || fd >= FDTABLE_MAX)
		return NULL;
	pthread_mutex_lock(&fdt->lock);
	if (fdt->files[fd])
		f = file_ref(fdt->files[fd]);
	pthread_mutex_unlock(&fdt->lock);
	return f;
}

int fd_close(struct fdtable *fdt, int fd)
{
	if (fd < 0 || fd >= FDTABLE_MAX)
		return -EBADF;
	pthread_mutex_lock(&fdt->lock);
	struct file *f = fdt->files[fd];
	fdt->files[fd] = NULL;
	fdt->cloexec[fd] = false;
	pthread_mutex_unlock(&fdt->lock);
	if (!f)
		return -EBADF;
	file_put(f);
	return 0;
}

int fd_install_at(struct fdtable *fdt, struct file *f, int fd, bool cloexec)
{
	if (fd < 0 || fd >= FDTABLE_MAX)
		return -EBADF;
	pthread_mutex_lock(&fdt->lock);
	struct file *old = fdt->files[fd];
	fdt->files[fd] = file_ref(f);
	fdt->cloexec[fd] = cloexec;
	pthread_mutex_unlock(&fdt->lock);
	file_put(old);
	return fd;
}

int fd_cloexec(struct fdtable *fdt, int fd, int set)
{
	int ret;
	if (fd < 0 || fd >= FDTABLE_MAX)
		return -EBADF;
	pthread_mutex_lock(&fdt->lock);
	if (!fdt->files[fd])
		ret = -EBADF;
	else {
		if (set >= 0)
			fdt->cloexec[fd] = set;
		ret = fdt->cloexec[fd];
	}
	pthread_mutex_unlock(&fdt->lock);
	return ret;
}
