/* procfs: inodes, lookups, listings, generated files and magic links.
 *
 * Inodes are made at lookup and name what they show by ids (struct
 * proc_node), never by pointers into the kernel: a process that exits
 * leaves its inodes naming nothing, and every access looks it up again
 * under k->lock. Directories whose entries come and go (the root's pids,
 * a process's threads and fds) are VFS_I_REVALIDATE, so a cached name is
 * checked before use, and the sb caches no negative names: a pid that
 * appears later is found.
 *
 * Files are generated when read at offset 0 (or first read elsewhere), as
 * Linux's seq_file does: a reader that rewinds sees fresh values, one that
 * reads in pieces sees one consistent snapshot. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../mm/mm.h"
#include "proc.h"

/* Generated files larger than this are cut (maps of a huge address space,
 * a cmdline): the sentry's memory is not the workload's to exhaust. */
#define PROC_MAX_TEXT (16u << 20)

static const struct vfs_inode_ops proc_iops, proc_magic_iops;
static const struct file_ops proc_file_fops, proc_dir_fops, proc_anon_fops;

/* ---- text buffers ------------------------------------------------------- */

static bool sb_grow(struct sbuf *b, size_t need)
{
	if (b->err)
		return false;
	if (b->len + need <= b->cap)
		return true;
	if (b->len + need > PROC_MAX_TEXT) {
		b->err = -EFBIG;
		return false;
	}
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->len + need)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void sb_put(struct sbuf *b, const void *p, size_t n)
{
	if (n && sb_grow(b, n)) {
		memcpy(b->p + b->len, p, n);
		b->len += n;
	}
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0 || !sb_grow(b, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ---- the kernel's side -------------------------------------------------- */

struct kernel *proc_kernel(void)
{
	struct task *t = task_current();
	return t ? t->k : NULL;
}

static bool has_pid(const struct proc_node *n)
{
	return n->tgid > 0;
}

struct thread_group *
proc_find_locked(struct kernel *k, const struct proc_node *n, struct task **tp)
{
	struct thread_group *tg = tg_lookup(k, n->tgid);
	if (!tg || tg->reaped || tg->start_ns != n->gen)
		return NULL;
	struct task *t = NULL;
	if (n->tid) {
		t = task_lookup(k, n->tid);
		if (!t || t->tg != tg)
			return NULL;
	} else if (tg->leader && tg->leader->mm) {
		t = tg->leader;
	} else {
		list_for_each(pos, &tg->threads)
		{
			struct task *x = list_entry(pos, struct task, tg_link);
			if (x->mm) {
				t = x;
				break;
			}
		}
		if (!t)
			t = tg->leader; /* a zombie: its leader stays with it */
	}
	if (!t)
		return NULL;
	if (tp)
		*tp = t;
	return tg;
}

struct mm *proc_get_mm(struct kernel *k, const struct proc_node *n)
{
	struct task *t;
	struct mm *mm = NULL;
	pthread_mutex_lock(&k->lock);
	if (proc_find_locked(k, n, &t) && t->mm)
		mm = mm_ref(t->mm);
	pthread_mutex_unlock(&k->lock);
	return mm;
}

struct fdtable *proc_get_fdt(struct kernel *k, const struct proc_node *n)
{
	struct task *t;
	struct fdtable *fdt = NULL;
	pthread_mutex_lock(&k->lock);
	if (proc_find_locked(k, n, &t) && t->fdt)
		fdt = fdtable_ref(t->fdt);
	pthread_mutex_unlock(&k->lock);
	return fdt;
}

struct fs_struct *proc_get_fs(struct kernel *k, const struct proc_node *n)
{
	struct task *t;
	struct fs_struct *fs = NULL;
	pthread_mutex_lock(&k->lock);
	if (proc_find_locked(k, n, &t) && t->fs)
		fs = fs_struct_ref(t->fs);
	pthread_mutex_unlock(&k->lock);
	return fs;
}

#define CAP_SYS_PTRACE_ 19

int proc_may_inspect(struct kernel *k, struct task *reader,
		     const struct proc_node *n)
{
	struct task *t;
	int err = 0;
	if (!reader)
		return 0; /* the sentry itself */
	pthread_mutex_lock(&k->lock);
	struct thread_group *tg = proc_find_locked(k, n, &t);
	if (!tg) {
		err = -ENOENT;
	} else if (tg != reader->tg &&
		   !vfs_capable(&reader->cred, CAP_SYS_PTRACE_)) {
		/* Linux's __ptrace_may_access with FSCREDS: the reader's
		 * fsuid/fsgid must be every one of the target's ids, and a
		 * non-dumpable target is for privileged readers only. */
		const struct creds *c = &t->cred, *r = &reader->cred;
		bool same = r->fsuid == c->ruid && r->fsuid == c->euid &&
			    r->fsuid == c->suid && r->fsgid == c->rgid &&
			    r->fsgid == c->egid && r->fsgid == c->sgid;
		if (!same || tg->dumpable_off)
			err = -EACCES;
	}
	pthread_mutex_unlock(&k->lock);
	return err;
}

int proc_reader_root(struct task *reader, struct vfs_path *out)
{
	if (!reader || !reader->fs)
		return -ENOENT;
	fs_struct_get_root(reader->fs, out);
	return 0;
}

int proc_mm_read(struct kernel *k, struct mm *mm, void *dst, uint64_t src,
		 size_t n)
{
	if (!mm->as || src + n < src || src + n > MM_TASK_SIZE)
		return -EFAULT;
	return k->plat->copy_in(mm->as, dst, src, n);
}

long proc_file_name(struct file *f, const struct vfs_path *root, char *buf,
		    size_t len)
{
	if (f->dentry) {
		struct vfs_path p = {f->mnt, f->dentry}, nsroot;
		if (root)
			return vfs_path_string(root, &p, buf, len, NULL);
		vfs_ns_root(f->mnt->ns, &nsroot);
		long r = vfs_path_string(&nsroot, &p, buf, len, NULL);
		vfs_path_put(&nsroot);
		return r;
	}
	if (f->ops && f->ops->name)
		return f->ops->name(f, buf, len);
	int n = snprintf(buf, len, "anon_inode:[file]");
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

/* ---- inodes -------------------------------------------------------------- */

struct proc_sb {
	atomic_ullong next_ino;
};

static struct proc_node *node_of(struct vfs_inode *i)
{
	return i->priv;
}

static bool dir_kind(enum proc_kind k)
{
	return k == PK_DIR || k == PK_PID || k == PK_TID || k == PK_TASKDIR ||
	       k == PK_FDDIR || k == PK_FDINFODIR;
}

/* Directories whose names come and go with processes, threads or fds. */
static bool dynamic_dir(const struct proc_node *n)
{
	return n->kind != PK_DIR || !n->ent || n->ent->name == NULL;
}

/* Inode numbers of pid-context nodes are a function of what they name, so
 * a listing's d_ino and a later stat agree. Fixed nodes count from 1. */
static uint64_t pid_ino(int id, enum proc_kind kind, uint32_t sub)
{
	return ((uint64_t)(unsigned)id << 32) | ((uint64_t)kind << 24) |
	       (sub & 0xffffff);
}

static const struct proc_ent root_ent;

/* Fixed entries: a function of the table entry (the root is 1). */
static uint64_t static_ino(const struct proc_ent *e)
{
	if (e == &root_ent)
		return 1;
	return 0x80000000u + ((uintptr_t)e / sizeof(*e)) % 0x7fffffffu;
}

static uint64_t node_ino(struct vfs_sb *sb, const struct proc_node *n,
			 uint32_t sub)
{
	if (has_pid(n))
		return pid_ino(n->tid ? n->tid : n->tgid, n->kind, sub);
	if (n->ent)
		return static_ino(n->ent);
	struct proc_sb *ps = sb->priv;
	return atomic_fetch_add(&ps->next_ino, 1);
}

static int make_inode(struct vfs_sb *sb, const struct proc_node *tmpl,
		      uint32_t mode, uint32_t sub, struct vfs_inode **out)
{
	struct proc_node *n = malloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	*n = *tmpl;
	bool magic = n->kind == PK_FD || n->kind == PK_EXE ||
		     n->kind == PK_CWD || n->kind == PK_ROOT;
	struct vfs_inode *i =
	    vfs_inode_new(sb, mode & S_IFMT, node_ino(sb, n, sub),
			  magic ? &proc_magic_iops : &proc_iops, NULL, n);
	if (!i) {
		free(n);
		return -ENOMEM;
	}
	struct timespec now = vfs_now();
	i->attr.mode = mode;
	i->attr.nlink = S_ISDIR(mode) ? 2 : 1;
	i->attr.atime = i->attr.mtime = i->attr.ctime = now;
	i->attr.blksize = 1024;
	if (dir_kind(n->kind) && dynamic_dir(n))
		i->flags |= VFS_I_REVALIDATE;
	*out = i;
	return 0;
}

int proc_parse_id(const char *name, long max)
{
	if (name[0] < '0' || name[0] > '9' || (name[0] == '0' && name[1]))
		return -1;
	long v = 0;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
		if (v > max)
			return -1;
	}
	return (int)v;
}

static const struct proc_ent *find_ent(const struct proc_ent *ents, size_t n,
				       const char *name, uint32_t *idx)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ents[i].name, name) == 0) {
			*idx = (uint32_t)i;
			return &ents[i];
		}
	return NULL;
}

/* The directory root: the fixed entries, then the pids. */
static const struct proc_ent root_ent = {
    NULL, S_IFDIR | 0555, PK_DIR, NULL, NULL, NULL, 0, NULL, false};

/* /proc/N: a process, or (not listed, as Linux) any thread by its tid,
 * whose directory then shows that thread. */
static int lookup_pid(struct kernel *k, int id, struct proc_node *out)
{
	int err = -ENOENT;
	pthread_mutex_lock(&k->lock);
	struct thread_group *tg = tg_lookup(k, id);
	struct task *t = tg ? NULL : task_lookup(k, id);
	if (tg && !tg->reaped) {
		out->tgid = id;
		out->tid = 0;
		out->gen = tg->start_ns;
		err = 0;
	} else if (t && !t->exiting && !t->tg->reaped) {
		out->tgid = t->tg->tgid;
		out->tid = id;
		out->gen = t->tg->start_ns;
		err = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return err;
}

static int proc_lookup(struct vfs_dentry *dp, const char *name,
		       struct vfs_inode **out)
{
	const struct proc_node *dir = node_of(dp->inode);
	struct kernel *k = proc_kernel();
	struct proc_node n = *dir;
	const struct proc_ent *ents = NULL;
	size_t nents = 0;
	uint32_t idx = 0;

	n.anon = NULL;
	switch (dir->kind) {
	case PK_DIR:
		if (dir->ent == &root_ent) {
			ents = proc_root_ents;
			nents = proc_root_nents;
		} else {
			ents = dir->ent->sub;
			nents = dir->ent->nsub;
		}
		break;
	case PK_PID:
		ents = proc_tgid_ents;
		nents = proc_tgid_nents;
		break;
	case PK_TID:
		ents = proc_tid_ents;
		nents = proc_tid_nents;
		break;
	case PK_TASKDIR: {
		int tid = proc_parse_id(name, INT_MAX);
		if (tid <= 0 || !k)
			return -ENOENT;
		n.tid = tid;
		struct task *t;
		pthread_mutex_lock(&k->lock);
		bool ok = proc_find_locked(k, &n, &t) && !t->exiting;
		pthread_mutex_unlock(&k->lock);
		if (!ok)
			return -ENOENT;
		n.kind = PK_TID;
		n.ent = NULL;
		return make_inode(dp->sb, &n, S_IFDIR | 0555, 0, out);
	}
	case PK_FDDIR:
	case PK_FDINFODIR: {
		int fd;
		if (!k)
			return -ENOENT;
		int err = proc_fd_lookup(k, dir, name, &fd);
		if (err < 0)
			return err;
		n.fd = fd;
		n.ent = NULL;
		if (dir->kind == PK_FDDIR) {
			n.kind = PK_FD;
			return make_inode(dp->sb, &n,
					  S_IFLNK | proc_fd_mode(k, &n),
					  (uint32_t)fd, out);
		}
		n.kind = PK_FDINFO;
		return make_inode(dp->sb, &n, S_IFREG | 0444, (uint32_t)fd,
				  out);
	}
	default:
		return -ENOTDIR;
	}
	const struct proc_ent *e = find_ent(ents, nents, name, &idx);
	if (e) {
		n.kind = e->kind;
		n.ent = e;
		n.fd = -1;
		return make_inode(dp->sb, &n, e->mode, idx, out);
	}
	if (dir->ent != &root_ent || !k)
		return -ENOENT;
	int tgid = proc_parse_id(name, INT_MAX);
	if (tgid <= 0 || lookup_pid(k, tgid, &n) < 0)
		return -ENOENT;
	n.kind = PK_PID;
	n.ent = NULL;
	n.fd = -1;
	return make_inode(dp->sb, &n, S_IFDIR | 0555, 0, out);
}

/* Is what the node names still there? */
static bool node_alive(struct kernel *k, const struct proc_node *n)
{
	if (n->kind == PK_ANON)
		return false; /* never found by name */
	if (!has_pid(n))
		return true;
	if (!k)
		return false;
	if (n->kind == PK_FD || n->kind == PK_FDINFO)
		return proc_fd_alive(k, n);
	struct task *t;
	pthread_mutex_lock(&k->lock);
	bool ok = proc_find_locked(k, n, &t) != NULL;
	if (ok && n->tid && (n->kind == PK_TID || n->kind == PK_PID))
		ok = !t->exiting;
	pthread_mutex_unlock(&k->lock);
	return ok;
}

static int proc_revalidate(struct vfs_dentry *dp, const char *name,
			   struct vfs_dentry *cached)
{
	(void)dp, (void)name;
	if (!cached->inode)
		return 0;
	return node_alive(proc_kernel(), node_of(cached->inode)) ? 1 : 0;
}

static int proc_getattr(struct vfs_inode *i, struct vfs_attr *a)
{
	const struct proc_node *n = node_of(i);
	pthread_mutex_lock(&i->lock);
	*a = i->attr;
	pthread_mutex_unlock(&i->lock);
	if (n->kind == PK_ANON) {
		/* What fstat of the file says (a pipe is a FIFO). */
		struct stat st;
		if (vfs_fstat(n->anon, &st) == 0) {
			a->mode = st.st_mode;
			a->uid = st.st_uid;
			a->gid = st.st_gid;
			a->ino = st.st_ino;
			a->size = (uint64_t)st.st_size;
		}
		return 0;
	}
	if (!has_pid(n))
		return 0;
	struct kernel *k = proc_kernel();
	if (!k)
		return 0;
	struct task *t;
	pthread_mutex_lock(&k->lock);
	struct thread_group *tg = proc_find_locked(k, n, &t);
	/* Linux's task_dump_owner: the task's effective ids, root's for a
	 * process that is not dumpable. */
	if (tg && !tg->dumpable_off) {
		a->uid = t->cred.euid;
		a->gid = t->cred.egid;
	}
	pthread_mutex_unlock(&k->lock);
	if (n->kind == PK_FD)
		a->mode = S_IFLNK | proc_fd_mode(k, n);
	return 0;
}

/* Nothing is made in /proc: a name that is not there is not there
 * (Linux's lookups fail with ENOENT before any creation is tried). */
static int proc_create(struct vfs_dentry *dir, const char *name,
		       const struct vfs_create *c, struct vfs_inode **out)
{
	(void)dir, (void)name, (void)c, (void)out;
	return -ENOENT;
}

/* open(O_TRUNC) of a writable file (echo 1 > oom_score_adj) truncates
 * nothing, as on Linux; owners and modes are fixed. */
static int proc_setattr(struct vfs_inode *i, const struct vfs_setattr *s)
{
	(void)i;
	if (s->valid & (VFS_ATTR_MODE | VFS_ATTR_UID | VFS_ATTR_GID))
		return -EPERM;
	return 0;
}

static long proc_readlink(struct vfs_inode *i, char *buf, size_t len)
{
	const struct proc_node *n = node_of(i);
	struct task *reader = task_current();
	struct kernel *k = proc_kernel();
	int r;
	switch (n->kind) {
	case PK_SYMLINK:
		r = snprintf(buf, len, "%s", n->ent->target);
		break;
	case PK_SELF:
		if (!reader)
			return -ENOENT;
		r = snprintf(buf, len, "%d", reader->tg->tgid);
		break;
	case PK_THREAD_SELF:
		if (!reader)
			return -ENOENT;
		r = snprintf(buf, len, "%d/task/%d", reader->tg->tgid,
			     reader->tid);
		break;
	case PK_FD:
	case PK_EXE:
	case PK_CWD:
	case PK_ROOT:
		if (!k)
			return -ENOENT;
		return proc_link_text(k, reader, n, buf, len);
	default:
		return -EINVAL;
	}
	if (r < 0)
		return -EINVAL;
	/* readlink(2) truncates silently. */
	return (size_t)r < len ? r : (long)len;
}

/* The mount procfs is reached through, for the hidden inodes of
 * anonymous files (a path needs a mount). */
struct find_mnt {
	struct vfs_sb *sb;
	struct vfs_mount *m;
};

static int find_mnt_fn(struct vfs_mount *m, void *arg)
{
	struct find_mnt *fm = arg;
	if (m->sb == fm->sb && !fm->m)
		fm->m = vfs_mnt_ref(m);
	return 0;
}

static int anon_path(struct task *t, struct vfs_sb *sb, struct file *f,
		     struct vfs_mount **mnt, struct vfs_dentry **out)
{
	struct vfs_path root;
	int err = proc_reader_root(t, &root);
	if (err < 0)
		return err;
	struct find_mnt fm = {sb, NULL};
	vfs_mounts_foreach(root.mnt->ns, find_mnt_fn, &fm);
	vfs_path_put(&root);
	if (!fm.m)
		return -ENOENT;
	struct proc_node n = {.kind = PK_ANON, .fd = -1, .anon = f};
	struct vfs_inode *i;
	err = make_inode(sb, &n, S_IFREG | 0600, 0, &i);
	if (err < 0) {
		vfs_mnt_put(fm.m);
		return err;
	}
	file_ref(f); /* the node's */
	/* Unhashed at once: no walk can find it by name. */
	struct vfs_dentry *d = vfs_d_add(sb->root, ".anon", i);
	vfs_inode_put(i);
	if (!d) {
		vfs_mnt_put(fm.m);
		return -ENOMEM;
	}
	vfs_d_drop(d);
	*mnt = fm.m;
	*out = d;
	return 0;
}

static int proc_get_link(struct task *t, struct vfs_inode *i,
			 struct vfs_dentry *d, struct vfs_mount **mnt,
			 struct vfs_dentry **out)
{
	(void)d;
	const struct proc_node *n = node_of(i);
	struct kernel *k = t ? t->k : proc_kernel();
	if (!k)
		return -ENOENT;
	struct vfs_path p = {NULL, NULL};
	struct file *anon = NULL;
	int err = proc_link_target(k, t, n, &p, &anon);
	if (err < 0)
		return err;
	if (anon) {
		err = anon_path(t, i->sb, anon, mnt, out);
		file_put(anon);
		return err;
	}
	*mnt = p.mnt;
	*out = p.dentry;
	return 0;
}

/* ---- open files ---------------------------------------------------------- */

struct proc_open {
	struct proc_node n;
	/* The snapshot: preads at offset 0 by two threads of one open file
	 * replace it, so its users hold the lock. */
	pthread_mutex_t lock;
	char *buf;
	size_t len;
	bool have;
};

static int proc_open(struct task *t, struct file *f, int flags)
{
	const struct proc_node *n = node_of(f->inode);
	struct kernel *k = t ? t->k : proc_kernel();
	if (dir_kind(n->kind)) {
		if (has_pid(n) && k && !node_alive(k, n))
			return -ENOENT;
		f->ops = &proc_dir_fops;
		return 0;
	}
	if (n->kind == PK_ANON) {
		struct file *inner = n->anon;
		if (!inner->ops || !inner->ops->reopen)
			return -ENXIO; /* sockets, epoll: as Linux */
		struct file *nf;
		int err = inner->ops->reopen(t, inner, flags, &nf);
		if (err < 0)
			return err;
		f->priv = nf;
		f->ops = &proc_anon_fops;
		/* A stream like the file it reopens. */
		f->mode = nf->mode & ~(FMODE_ATOMIC_POS);
		return 0;
	}
	if (n->kind != PK_FILE && n->kind != PK_FDINFO)
		return -ENXIO;
	bool wr = (flags & O_ACCMODE) != O_RDONLY;
	if (wr && (n->kind != PK_FILE || !n->ent->store))
		return -EACCES;
	if (k && has_pid(n)) {
		int err = 0;
		if (n->kind == PK_FDINFO || n->ent->ptrace_check)
			err = proc_may_inspect(k, t, n);
		else if (!node_alive(k, n))
			err = -ENOENT;
		if (err < 0)
			return err;
	}
	struct proc_open *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->n = *n;
	pthread_mutex_init(&o->lock, NULL);
	f->priv = o;
	f->ops = &proc_file_fops;
	return 0;
}

static int generate(struct task *t, struct proc_open *o)
{
	struct kernel *k = t ? t->k : proc_kernel();
	if (!k)
		return -ESRCH;
	struct proc_req r = {k, t, &o->n};
	struct sbuf b = {0};
	proc_show_fn show =
	    o->n.kind == PK_FDINFO ? proc_fdinfo_show : o->n.ent->show;
	int err = show ? show(&r, &b) : -EINVAL;
	if (err == 0)
		err = b.err;
	if (err < 0) {
		free(b.p);
		return err;
	}
	free(o->buf);
	o->buf = b.p;
	o->len = b.len;
	o->have = true;
	return 0;
}

static long proc_read(struct task *t, struct file *f, void *buf, size_t n,
		      uint64_t *pos)
{
	struct proc_open *o = f->priv;
	if (!t)
		t = task_current();
	pthread_mutex_lock(&o->lock);
	if (*pos == 0 || !o->have) {
		int err = generate(t, o);
		if (err < 0) {
			pthread_mutex_unlock(&o->lock);
			return err;
		}
	}
	if (*pos >= o->len) {
		pthread_mutex_unlock(&o->lock);
		return 0;
	}
	if (n > o->len - *pos)
		n = (size_t)(o->len - *pos);
	memcpy(buf, o->buf + *pos, n);
	*pos += n;
	pthread_mutex_unlock(&o->lock);
	return (long)n;
}

static long proc_write(struct task *t, struct file *f, const void *buf,
		       size_t n, uint64_t *pos)
{
	struct proc_open *o = f->priv;
	if (!t)
		t = task_current();
	struct kernel *k = t ? t->k : proc_kernel();
	if (!k || !o->n.ent || !o->n.ent->store)
		return -EINVAL;
	/* Linux's proc writers take one small write at offset 0. */
	if (n > 4096)
		n = 4096;
	struct proc_req r = {k, t, &o->n};
	long ret = o->n.ent->store(&r, buf, n);
	if (ret > 0)
		*pos += (uint64_t)ret;
	return ret;
}

static long proc_llseek(struct file *f, int64_t off, int whence, uint64_t *pos)
{
	(void)f;
	/* seq_lseek: no SEEK_END, the size is not known. */
	if (whence != SEEK_SET && whence != SEEK_CUR)
		return -EINVAL;
	return vfs_generic_llseek(f, off, whence, pos, 0);
}

static void proc_release(struct file *f)
{
	struct proc_open *o = f->priv;
	if (o) {
		free(o->buf);
		pthread_mutex_destroy(&o->lock);
	}
	free(o);
}

/* ---- listings ------------------------------------------------------------ */

static bool emit_ents(struct vfs_dir_ctx *ctx, const struct proc_node *dir,
		      struct vfs_sb *sb, const struct proc_ent *ents, size_t n)
{
	(void)sb;
	for (size_t i = 0; i < n; i++) {
		uint64_t pos = 2 + i;
		if (pos < ctx->pos)
			continue;
		uint64_t ino = has_pid(dir)
				   ? pid_ino(dir->tid ? dir->tid : dir->tgid,
					     ents[i].kind, (uint32_t)i)
				   : static_ino(&ents[i]);
		if (!ctx->emit(ctx, ents[i].name, strlen(ents[i].name), ino,
			       (ents[i].mode >> 12) & 15, pos + 1))
			return false;
		ctx->pos = pos + 1;
	}
	return true;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Appends id to *ids (n used of cap, doubled when full). */
static int push_id(int **ids, size_t *n, size_t *cap, int id)
{
	if (*n == *cap) {
		int *p = realloc(*ids, 2 * *cap * sizeof(int));
		if (!p)
			return -ENOMEM;
		*ids = p;
		*cap *= 2;
	}
	(*ids)[(*n)++] = id;
	return 0;
}

/* The live ids, sorted: processes (tg NULL) or the threads of tg. */
static int collect_ids(struct kernel *k, const struct proc_node *dir, int **out,
		       size_t *count)
{
	size_t n = 0, cap = 64;
	int *ids = malloc(cap * sizeof(int));
	if (!ids)
		return -ENOMEM;
	int err = 0;
	pthread_mutex_lock(&k->lock);
	if (dir->kind == PK_TASKDIR) {
		struct thread_group *tg = proc_find_locked(k, dir, NULL);
		if (tg) {
			list_for_each(pos, &tg->threads)
			{
				struct task *x =
				    list_entry(pos, struct task, tg_link);
				if (!x->exiting && !err)
					err = push_id(&ids, &n, &cap, x->tid);
			}
			/* A leader that exited while its threads live on is
			 * listed still, a zombie, as on Linux. */
			if (!err && tg_leader_gone(tg))
				err = push_id(&ids, &n, &cap, tg->leader->tid);
		}
	} else {
		list_for_each(pos, &k->groups)
		{
			struct thread_group *g =
			    list_entry(pos, struct thread_group, link);
			if (!g->reaped && !err)
				err = push_id(&ids, &n, &cap, g->tgid);
		}
	}
	pthread_mutex_unlock(&k->lock);
	if (err < 0) {
		free(ids);
		return err;
	}
	qsort(ids, n, sizeof(int), cmp_int);
	*out = ids;
	*count = n;
	return 0;
}

static int emit_ids(struct vfs_dir_ctx *ctx, struct kernel *k,
		    const struct proc_node *dir, uint64_t base,
		    enum proc_kind kind)
{
	int *ids;
	size_t n;
	int err = collect_ids(k, dir, &ids, &n);
	if (err < 0)
		return err;
	for (size_t i = 0; i < n; i++) {
		uint64_t pos = base + (uint64_t)ids[i];
		if (pos < ctx->pos)
			continue;
		char name[16];
		int len = snprintf(name, sizeof(name), "%d", ids[i]);
		if (!ctx->emit(ctx, name, (size_t)len, pid_ino(ids[i], kind, 0),
			       DT_DIR, pos + 1))
			break;
		ctx->pos = pos + 1;
	}
	free(ids);
	return 0;
}

static uint64_t fd_entry_ino(const struct proc_node *dir, int fd)
{
	return pid_ino(dir->tid ? dir->tid : dir->tgid,
		       dir->kind == PK_FDDIR ? PK_FD : PK_FDINFO, (uint32_t)fd);
}

static int proc_iterate(struct task *t, struct file *f, struct vfs_dir_ctx *ctx)
{
	const struct proc_node *dir = node_of(f->inode);
	struct kernel *k = t ? t->k : proc_kernel();
	if (!vfs_dir_emit_dots(f, ctx))
		return 0;
	switch (dir->kind) {
	case PK_DIR:
		if (dir->ent == &root_ent) {
			if (!emit_ents(ctx, dir, f->inode->sb, proc_root_ents,
				       proc_root_nents) ||
			    !k)
				return 0;
			return emit_ids(ctx, k, dir, 2 + proc_root_nents,
					PK_PID);
		}
		emit_ents(ctx, dir, f->inode->sb, dir->ent->sub,
			  dir->ent->nsub);
		return 0;
	case PK_PID:
		emit_ents(ctx, dir, f->inode->sb, proc_tgid_ents,
			  proc_tgid_nents);
		return 0;
	case PK_TID:
		emit_ents(ctx, dir, f->inode->sb, proc_tid_ents,
			  proc_tid_nents);
		return 0;
	case PK_TASKDIR:
		return k ? emit_ids(ctx, k, dir, 2, PK_TID) : 0;
	case PK_FDDIR:
	case PK_FDINFODIR:
		return k ? proc_fd_iterate(k, dir, ctx, fd_entry_ino) : 0;
	default:
		return -ENOTDIR;
	}
}

/* ---- reopened anonymous files (fd/N of a pipe) -------------------------- */

static struct file *inner(struct file *f)
{
	return f->priv;
}

static long anon_read(struct task *t, struct file *f, void *buf, size_t n,
		      uint64_t *pos)
{
	struct file *in = inner(f);
	return in->ops->read ? in->ops->read(t, in, buf, n, pos) : -EINVAL;
}

static long anon_write(struct task *t, struct file *f, const void *buf,
		       size_t n, uint64_t *pos)
{
	struct file *in = inner(f);
	return in->ops->write ? in->ops->write(t, in, buf, n, pos) : -EINVAL;
}

static long anon_llseek(struct file *f, int64_t off, int whence, uint64_t *pos)
{
	struct file *in = inner(f);
	return in->ops->llseek ? in->ops->llseek(in, off, whence, pos)
			       : -ESPIPE;
}

static long anon_ioctl(struct task *t, struct file *f, unsigned cmd,
		       uint64_t arg)
{
	struct file *in = inner(f);
	return in->ops->ioctl ? in->ops->ioctl(t, in, cmd, arg) : -ENOTTY;
}

static long anon_readable(struct file *f)
{
	struct file *in = inner(f);
	return in->ops->readable ? in->ops->readable(in) : -ENOTTY;
}

static unsigned anon_poll(struct file *f, struct poll_table *pt)
{
	struct file *in = inner(f);
	return in->ops->poll ? in->ops->poll(in, pt) : 0x1 | 0x4;
}

static int anon_fsync(struct file *f, bool datasync)
{
	struct file *in = inner(f);
	return in->ops->fsync ? in->ops->fsync(in, datasync) : -EINVAL;
}

static void anon_release(struct file *f)
{
	file_put(inner(f));
}

struct file *proc_anon_inner(struct file *f)
{
	return f->ops == &proc_anon_fops ? inner(f) : NULL;
}

/* ---- tables and the file system ------------------------------------------ */

static void proc_evict(struct vfs_inode *i)
{
	struct proc_node *n = i->priv;
	if (n)
		file_put(n->anon);
	free(n);
}

static const struct vfs_inode_ops proc_iops = {
    .lookup = proc_lookup,
    .revalidate = proc_revalidate,
    .create = proc_create,
    .getattr = proc_getattr,
    .setattr = proc_setattr,
    .readlink = proc_readlink,
    .open = proc_open,
    .evict = proc_evict,
};

/* fd/N, exe, cwd, root: links that jump to a place (the VFS follows
 * get_link instead of reading a target text). */
static const struct vfs_inode_ops proc_magic_iops = {
    .getattr = proc_getattr,
    .readlink = proc_readlink,
    .get_link = proc_get_link,
    .open = proc_open,
    .evict = proc_evict,
};

static const struct file_ops proc_file_fops = {
    .read = proc_read,
    .write = proc_write,
    .llseek = proc_llseek,
    .release = proc_release,
};

static const struct file_ops proc_dir_fops = {
    .iterate = proc_iterate,
};

static const struct file_ops proc_anon_fops = {
    .read = anon_read,
    .write = anon_write,
    .llseek = anon_llseek,
    .ioctl = anon_ioctl,
    .readable = anon_readable,
    .poll = anon_poll,
    .fsync = anon_fsync,
    .release = anon_release,
};

static void proc_sb_release(struct vfs_sb *sb)
{
	free(sb->priv);
}

static const struct vfs_sb_ops proc_sb_ops = {
    .release = proc_sb_release,
};

static int proc_ctor(const char *source, const char *data, struct vfs_sb **out)
{
	(void)source, (void)data;
	struct proc_sb *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	atomic_init(&ps->next_ino, 1);
	struct vfs_sb *sb =
	    vfs_sb_new("proc", PROC_SUPER_MAGIC, &proc_sb_ops, ps);
	if (!sb) {
		free(ps);
		return -ENOMEM;
	}
	/* A pid that does not exist now may exist at the next look. */
	sb->flags |= VFS_SB_NO_NEGATIVE;
	struct proc_node rn = {.kind = PK_DIR, .ent = &root_ent, .fd = -1};
	struct vfs_inode *root;
	int err = make_inode(sb, &rn, S_IFDIR | 0555, 0, &root);
	if (err == 0)
		err = vfs_sb_set_root(sb, root);
	if (err < 0) {
		vfs_sb_put(sb);
		return err;
	}
	*out = sb;
	return 0;
}

int proc_register(void)
{
	int err = vfs_register_fs("proc", proc_ctor);
	return err == -EEXIST ? 0 : err;
}
