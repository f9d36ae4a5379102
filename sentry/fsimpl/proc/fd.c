/* /proc/[pid]/fd, fdinfo and the exe, cwd and root links: where a process's
 * files are. The links are magic (a jump to the open file's own place, as
 * Linux's nd_jump_link), so they only ever lead to what the process has
 * open inside the sandbox: its fd table holds no sentry or gofer fd, and
 * every path is in the sandbox's mount tree. Following or reading one
 * needs ptrace-like access to the process (proc_may_inspect). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../mm/mm.h"
#include "proc.h"

/* The open file at n->fd of the process n names (referenced), or NULL. */
static struct file *node_file(struct kernel *k, const struct proc_node *n,
			      int fd, bool *cloexec)
{
	struct fdtable *fdt = proc_get_fdt(k, n);
	if (!fdt)
		return NULL;
	bool ce = false;
	struct file *f = fd >= 0 ? fd_get_cloexec(fdt, fd, &ce) : NULL;
	fdtable_put(fdt);
	if (cloexec)
		*cloexec = ce;
	return f;
}

int proc_fd_lookup(struct kernel *k, const struct proc_node *dir,
		   const char *name, int *fd)
{
	int v = proc_parse_id(name, FDTABLE_HARD_MAX - 1);
	if (v < 0)
		return -ENOENT;
	struct file *f = node_file(k, dir, v, NULL);
	if (!f)
		return -ENOENT;
	file_put(f);
	*fd = v;
	return 0;
}

bool proc_fd_alive(struct kernel *k, const struct proc_node *n)
{
	struct file *f = node_file(k, n, n->fd, NULL);
	file_put(f);
	return f != NULL;
}

int proc_fd_iterate(struct kernel *k, const struct proc_node *dir,
		    struct vfs_dir_ctx *ctx,
		    uint64_t (*ino)(const struct proc_node *dir, int fd))
{
	struct fdtable *fdt = proc_get_fdt(k, dir);
	if (!fdt)
		return 0;
	int max = fdtable_max_fd(fdt);
	int fd = ctx->pos > 2 ? (int)(ctx->pos - 2) : 0;
	if (ctx->pos - 2 > (uint64_t)INT_MAX)
		fd = max;
	unsigned type = dir->kind == PK_FDDIR ? DT_LNK : DT_REG;
	for (; fd < max; fd++) {
		struct file *f = fd_get(fdt, fd);
		if (!f)
			continue;
		file_put(f);
		char name[16];
		int len = snprintf(name, sizeof(name), "%d", fd);
		uint64_t pos = 2 + (uint64_t)fd;
		if (!ctx->emit(ctx, name, (size_t)len, ino(dir, fd), type,
			       pos + 1))
			break;
		ctx->pos = pos + 1;
	}
	fdtable_put(fdt);
	return 0;
}

uint32_t proc_fd_mode(struct kernel *k, const struct proc_node *n)
{
	struct file *f = k ? node_file(k, n, n->fd, NULL) : NULL;
	if (!f)
		return 0700;
	uint32_t m = 0;
	if (f->mode & FMODE_READ)
		m |= 0500;
	if (f->mode & FMODE_WRITE)
		m |= 0300;
	file_put(f);
	return m;
}

int proc_fdinfo_show(const struct proc_req *r, struct sbuf *b)
{
	int err = proc_may_inspect(r->k, r->reader, r->n);
	if (err < 0)
		return err;
	bool cloexec;
	struct file *f = node_file(r->k, r->n, r->n->fd, &cloexec);
	if (!f)
		return -ENOENT;
	uint64_t ino = 0;
	struct stat st;
	/* A pipe reopened through fd/N is that pipe. */
	struct file *src = proc_anon_inner(f) ? proc_anon_inner(f) : f;
	if (src->inode)
		ino = src->inode->ino;
	else if (src->ops && src->ops->fstat && src->ops->fstat(src, &st) == 0)
		ino = st.st_ino;
	unsigned flags = (unsigned)atomic_load(&f->flags);
	if (cloexec)
		flags |= O_CLOEXEC;
	sb_printf(b, "pos:\t%llu\nflags:\t0%o\nmnt_id:\t%d\nino:\t%llu\n",
		  (unsigned long long)f->pos, flags,
		  src->mnt ? src->mnt->id : 0, (unsigned long long)ino);
	file_put(f);
	return 0;
}

/* /proc/[pid]/exe before the loader records the program's file (mm->exe):
 * the path the process was started with, looked up again in its own
 * root. A program that moved since then is not found (ENOENT). */
static int exe_by_path(struct kernel *k, const struct proc_node *n,
		       struct task *reader, struct vfs_path *out)
{
	char *path = NULL;
	struct task *t;
	pthread_mutex_lock(&k->lock);
	struct thread_group *tg = proc_find_locked(k, n, &t);
	if (tg && tg->exe_path && tg->exe_path[0] == '/')
		path = strdup(tg->exe_path);
	pthread_mutex_unlock(&k->lock);
	if (!path)
		return -ENOENT;
	struct fs_struct *fs = proc_get_fs(k, n);
	if (!fs) {
		free(path);
		return -ENOENT;
	}
	static const struct creds root_creds = {0};
	struct vfs_ctx c = {reader, reader ? &reader->cred : &root_creds, fs,
			    NULL};
	int err = vfs_walk(&c, VFS_AT_FDCWD, path, VFS_LOOKUP_FOLLOW, out);
	fs_struct_put(fs);
	free(path);
	return err < 0 ? -ENOENT : 0;
}

int proc_link_target(struct kernel *k, struct task *reader,
		     const struct proc_node *n, struct vfs_path *out,
		     struct file **anon)
{
	int err = proc_may_inspect(k, reader, n);
	if (err < 0)
		return err;
	*anon = NULL;
	switch (n->kind) {
	case PK_FD: {
		struct file *f = node_file(k, n, n->fd, NULL);
		if (!f)
			return -ENOENT;
		struct file *in = proc_anon_inner(f);
		if (in) {
			*anon = file_ref(in);
			file_put(f);
		} else if (f->dentry) {
			out->mnt = vfs_mnt_ref(f->mnt);
			out->dentry = vfs_dget(f->dentry);
			file_put(f);
		} else {
			*anon = f;
		}
		return 0;
	}
	case PK_EXE: {
		struct mm *mm = proc_get_mm(k, n);
		struct file *exe = mm && mm->exe ? file_ref(mm->exe) : NULL;
		mm_put(k->plat, mm);
		if (!exe)
			return exe_by_path(k, n, reader, out);
		if (!exe->dentry) {
			file_put(exe);
			return -ENOENT;
		}
		out->mnt = vfs_mnt_ref(exe->mnt);
		out->dentry = vfs_dget(exe->dentry);
		file_put(exe);
		return 0;
	}
	case PK_CWD:
	case PK_ROOT: {
		struct fs_struct *fs = proc_get_fs(k, n);
		if (!fs)
			return -ENOENT;
		if (n->kind == PK_CWD)
			fs_struct_get_cwd(fs, out);
		else
			fs_struct_get_root(fs, out);
		fs_struct_put(fs);
		return 0;
	}
	default:
		return -EINVAL;
	}
}

long proc_link_text(struct kernel *k, struct task *reader,
		    const struct proc_node *n, char *buf, size_t len)
{
	struct vfs_path p = {NULL, NULL};
	struct file *anon = NULL;
	int err = proc_link_target(k, reader, n, &p, &anon);
	if (err < 0)
		return err;
	char *tmp = malloc(PATH_MAX + 64);
	if (!tmp) {
		vfs_path_put(&p);
		file_put(anon);
		return -ENOMEM;
	}
	long r;
	if (anon) {
		r = proc_file_name(anon, NULL, tmp, PATH_MAX + 64);
		file_put(anon);
	} else {
		struct vfs_path root;
		if (proc_reader_root(reader, &root) < 0) {
			/* The sentry's own look: from the namespace's root. */
			vfs_ns_root(p.mnt->ns, &root);
		}
		r = vfs_path_string(&root, &p, tmp, PATH_MAX + 64, NULL);
		vfs_path_put(&root);
		vfs_path_put(&p);
	}
	if (r >= 0) {
		/* readlink(2) cuts silently. */
		if ((size_t)r > len)
			r = (long)len;
		memcpy(buf, tmp, (size_t)r);
	} else if (r == -ERANGE) {
		r = -ENAMETOOLONG;
	}
	free(tmp);
	return r;
}
