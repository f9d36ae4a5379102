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
	return calloc(1, sizeof(struct fdtable));
}

void fdtable_free(struct fdtable *fdt)
{
	if (!fdt)
		return;
	for (int i = 0; i < FDTABLE_MAX; i++)
		file_put(fdt->files[i]);
	free(fdt);
}

int fd_install(struct fdtable *fdt, struct file *f, int min, bool cloexec)
{
	for (int i = min < 0 ? 0 : min; i < FDTABLE_MAX; i++) {
		if (!fdt->files[i]) {
			fdt->files[i] = file_ref(f);
			fdt->cloexec[i] = cloexec;
			return i;
		}
	}
	return -EMFILE;
}

struct file *fd_get(struct fdtable *fdt, int fd)
{
	if (fd < 0 || fd >= FDTABLE_MAX || !fdt->files[fd])
		return NULL;
	return file_ref(fdt->files[fd]);
}

int fd_close(struct fdtable *fdt, int fd)
{
	if (fd < 0 || fd >= FDTABLE_MAX || !fdt->files[fd])
		return -EBADF;
	file_put(fdt->files[fd]);
	fdt->files[fd] = NULL;
	fdt->cloexec[fd] = false;
	return 0;
}
