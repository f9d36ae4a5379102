/* The extended attribute family: {,l,f}{get,set,list,remove}xattr. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/xattr.h>

#include "fsutil.h"

#define XATTR_NAME_MAX_ 255
#define XATTR_SIZE_MAX_ 65536

enum how { BY_PATH, BY_LPATH, BY_FD };

static int name_in(struct task *t, uint64_t addr, char *name)
{
	int r = task_copy_in_string(t, name, addr, XATTR_NAME_MAX_ + 1);
	if (r == -ENAMETOOLONG || r == 0)
		return -ERANGE;
	return r < 0 ? r : 0;
}

/* The path the call names: a path (followed or not) or an fd. */
static int target(struct task *t, enum how how, uint64_t arg,
		  struct vfs_path *p)
{
	if (how == BY_FD) {
		struct file *f = fd_get(t->fdt, (int)arg);
		if (!f)
			return -EBADF;
		if ((f->mode & FMODE_PATH) || !f->dentry) {
			file_put(f);
			return -EBADF;
		}
		p->mnt = vfs_mnt_ref(f->mnt);
		p->dentry = vfs_dget(f->dentry);
		file_put(f);
		return 0;
	}
	char path[PATH_MAX];
	int err = path_in(t, arg, path);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	return vfs_walk(&c, VFS_AT_FDCWD, path,
			how == BY_PATH ? VFS_LOOKUP_FOLLOW : 0, p);
}

static long do_set(struct task *t, enum how how, const struct syscall_args *a)
{
	char name[XATTR_NAME_MAX_ + 1];
	uint64_t size = a->a[3];
	int flags = (int)a->a[4];
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	int err = name_in(t, a->a[1], name);
	if (err < 0)
		return err;
	if (size > XATTR_SIZE_MAX_)
		return -E2BIG;
	void *val = malloc(size ? size : 1);
	if (!val)
		return -ENOMEM;
	err = task_copy_in(t, val, a->a[2], size);
	struct vfs_path p;
	if (err == 0)
		err = target(t, how, a->a[0], &p);
	if (err == 0) {
		struct vfs_ctx c = vfs_ctx_of(t);
		err = vfs_setxattr(&c, &p, name, val, size, flags);
		vfs_path_put(&p);
	}
	free(val);
	return err;
}

static long do_get(struct task *t, enum how how, const struct syscall_args *a)
{
	char name[XATTR_NAME_MAX_ + 1];
	uint64_t size = a->a[3];
	int err = name_in(t, a->a[1], name);
	if (err < 0)
		return err;
	if (size > XATTR_SIZE_MAX_)
		size = XATTR_SIZE_MAX_;
	struct vfs_path p;
	err = target(t, how, a->a[0], &p);
	if (err < 0)
		return err;
	void *val = malloc(size ? size : 1);
	long r = val ? 0 : -ENOMEM;
	if (r == 0) {
		struct vfs_ctx c = vfs_ctx_of(t);
		r = vfs_getxattr(&c, &p, name, val, size);
	}
	vfs_path_put(&p);
	if (r > 0 && size) {
		int e = task_copy_out(t, a->a[2], val, (size_t)r);
		if (e < 0)
			r = e;
	}
	free(val);
	return r;
}

static long do_list(struct task *t, enum how how, const struct syscall_args *a)
{
	uint64_t size = a->a[2];
	if (size > XATTR_SIZE_MAX_)
		size = XATTR_SIZE_MAX_;
	struct vfs_path p;
	int err = target(t, how, a->a[0], &p);
	if (err < 0)
		return err;
	char *buf = malloc(size ? size : 1);
	long r = buf ? 0 : -ENOMEM;
	if (r == 0) {
		struct vfs_ctx c = vfs_ctx_of(t);
		r = vfs_listxattr(&c, &p, buf, size);
	}
	vfs_path_put(&p);
	if (r > 0 && size) {
		int e = task_copy_out(t, a->a[1], buf, (size_t)r);
		if (e < 0)
			r = e;
	}
	free(buf);
	return r;
}

static long do_remove(struct task *t, enum how how,
		      const struct syscall_args *a)
{
	char name[XATTR_NAME_MAX_ + 1];
	int err = name_in(t, a->a[1], name);
	if (err < 0)
		return err;
	struct vfs_path p;
	err = target(t, how, a->a[0], &p);
	if (err < 0)
		return err;
	struct vfs_ctx c = vfs_ctx_of(t);
	err = vfs_removexattr(&c, &p, name);
	vfs_path_put(&p);
	return err;
}

SYSCALL(setxattr)
{
	return do_set(t, BY_PATH, a);
}
SYSCALL(lsetxattr)
{
	return do_set(t, BY_LPATH, a);
}
SYSCALL(fsetxattr)
{
	return do_set(t, BY_FD, a);
}
SYSCALL(getxattr)
{
	return do_get(t, BY_PATH, a);
}
SYSCALL(lgetxattr)
{
	return do_get(t, BY_LPATH, a);
}
SYSCALL(fgetxattr)
{
	return do_get(t, BY_FD, a);
}
SYSCALL(listxattr)
{
	return do_list(t, BY_PATH, a);
}
SYSCALL(llistxattr)
{
	return do_list(t, BY_LPATH, a);
}
SYSCALL(flistxattr)
{
	return do_list(t, BY_FD, a);
}
SYSCALL(removexattr)
{
	return do_remove(t, BY_PATH, a);
}
SYSCALL(lremovexattr)
{
	return do_remove(t, BY_LPATH, a);
}
SYSCALL(fremovexattr)
{
	return do_remove(t, BY_FD, a);
}
