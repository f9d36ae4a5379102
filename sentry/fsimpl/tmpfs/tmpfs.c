/* tmpfs: files in the sentry's memory, bounded by a size limit (ENOSPC).
 *
 * A directory keeps its entries in a list ordered by a per-directory
 * cookie (getdents offsets, stable across insertions and removals) and a
 * hash by name; entries hold their inodes, so a linked file lives as long
 * as its name. Regular files keep small contents on the heap and move
 * them to a memfd of their own when they grow past SMALL_MAX (256 KiB) or when
 * the memory manager asks for a host fd to mmap (file_ops.mmap_fd): every memfd
 * is a host fd of the sentry, and the sentry's fd limit is far below the number
 * of small files a build makes.
 *
 * Locking: the VFS holds a directory's rwsem around every change to its
 * entries and around lookups; getdents takes it too. A regular file's
 * data is under its node's rwlock (readers share it); attributes are
 * under inode->lock. The sb's accounting lock is innermost. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "../../kernel/kernel.h"
#include "tmpfs.h"

#define SMALL_MAX	 (256 * 1024)
#define BOGO_DIRENT_SIZE 20 /* what Linux's tmpfs counts per entry */
#define PAGE		 4096ULL

struct tmpfs_sb {
	pthread_mutex_t lock;
	uint64_t max_bytes, used_bytes;
	uint64_t max_inodes, used_inodes;
	_Atomic uint64_t next_ino;
};

struct tdirent {
	struct tdirent *next, *prev; /* by cookie */
	struct tdirent *hnext;
	char *name;
	uint64_t cookie;
	struct vfs_inode *inode;
};

struct txattr {
	struct txattr *next;
	char *name;
	void *val;
	size_t len;
};

struct tnode {
	/* directories */
	struct tdirent *head, *tail;
	struct tdirent **hash;
	unsigned hsize, count;
	uint64_t next_cookie;
	/* regular files */
	pthread_rwlock_t data_lock;
	int memfd;
	char *data;
	size_t cap;
	uint64_t charged;
	/* File seals (memfd_create's files only: sealable; F_SEAL_*), under
	 * data_lock. The host memfd, once there, carries the ones that
	 * guard its mappings too (WRITE, FUTURE_WRITE, GROW, SHRINK). */
	bool sealable;
	uint32_t seals;
	/* symlinks */
	char *target;
	struct txattr *xattrs;
};

static const struct vfs_inode_ops tmpfs_iops;
static const struct file_ops tmpfs_reg_fops, tmpfs_dir_fops;

static struct tmpfs_sb *TSB(struct vfs_sb *sb)
{
	return sb->priv;
}

static struct tnode *TN(struct vfs_inode *i)
{
	return i->priv;
}

/* ---- accounting -------------------------------------------------------- */

/* A file is charged for the memory it holds: its pages on the heap, or
 * the memfd's allocated blocks (a sparse file costs what it stores). A
 * write is cut to the free space before it runs; the exact charge is
 * taken after, and may pass the limit by the part of a page. */
static void charge_to(struct vfs_sb *sb, uint64_t *charged, uint64_t now)
{
	struct tmpfs_sb *ts = TSB(sb);
	pthread_mutex_lock(&ts->lock);
	ts->used_bytes = ts->used_bytes - *charged + now;
	pthread_mutex_unlock(&ts->lock);
	*charged = now;
}

static uint64_t free_bytes(struct vfs_sb *sb)
{
	struct tmpfs_sb *ts = TSB(sb);
	if (!ts->max_bytes)
		return UINT64_MAX;
	pthread_mutex_lock(&ts->lock);
	uint64_t f =
	    ts->max_bytes > ts->used_bytes ? ts->max_bytes - ts->used_bytes : 0;
	pthread_mutex_unlock(&ts->lock);
	return f;
}

/* ---- inodes ------------------------------------------------------------ */

static struct vfs_inode *tnode_new(struct vfs_sb *sb, uint32_t mode,
				   uint32_t uid, uint32_t gid, uint64_t rdev)
{
	struct tmpfs_sb *ts = TSB(sb);
	pthread_mutex_lock(&ts->lock);
	if (ts->max_inodes && ts->used_inodes >= ts->max_inodes) {
		pthread_mutex_unlock(&ts->lock);
		return NULL;
	}
	ts->used_inodes++;
	pthread_mutex_unlock(&ts->lock);
	struct tnode *n = calloc(1, sizeof(*n));
	if (!n)
		goto fail;
	n->memfd = -1;
	n->next_cookie = 2;
	pthread_rwlock_init(&n->data_lock, NULL);
	struct vfs_inode *i = vfs_inode_new(
	    sb, mode & S_IFMT, atomic_fetch_add(&ts->next_ino, 1), &tmpfs_iops,
	    S_ISDIR(mode) ? &tmpfs_dir_fops : &tmpfs_reg_fops, n);
	if (!i) {
		free(n);
		goto fail;
	}
	struct timespec now = vfs_now();
	i->attr.mode = mode;
	i->attr.uid = uid;
	i->attr.gid = gid;
	i->attr.rdev = rdev;
	i->attr.nlink = S_ISDIR(mode) ? 2 : 1;
	i->attr.atime = i->attr.mtime = i->attr.ctime = i->attr.btime = now;
	if (S_ISDIR(mode))
		i->attr.size = 2 * BOGO_DIRENT_SIZE;
	return i;
fail:
	pthread_mutex_lock(&ts->lock);
	ts->used_inodes--;
	pthread_mutex_unlock(&ts->lock);
	return NULL;
}

static void tmpfs_evict(struct vfs_inode *i)
{
	struct tnode *n = TN(i);
	if (!n)
		return;
	while (n->head) {
		struct tdirent *e = n->head;
		n->head = e->next;
		vfs_inode_put(e->inode);
		free(e->name);
		free(e);
	}
	free(n->hash);
	if (n->memfd >= 0)
		close(n->memfd);
	free(n->data);
	free(n->target);
	while (n->xattrs) {
		struct txattr *x = n->xattrs;
		n->xattrs = x->next;
		free(x->name);
		free(x->val);
		free(x);
	}
	if (i->sb) {
		charge_to(i->sb, &n->charged, 0);
		struct tmpfs_sb *ts = TSB(i->sb);
		pthread_mutex_lock(&ts->lock);
		ts->used_inodes--;
		pthread_mutex_unlock(&ts->lock);
	}
	pthread_rwlock_destroy(&n->data_lock);
	free(n);
	i->priv = NULL;
}

static void touch(struct vfs_inode *i, bool m, bool c)
{
	struct timespec now = vfs_now();
	pthread_mutex_lock(&i->lock);
	if (m)
		i->attr.mtime = now;
	if (c)
		i->attr.ctime = now;
	pthread_mutex_unlock(&i->lock);
}

static void add_nlink(struct vfs_inode *i, int d)
{
	pthread_mutex_lock(&i->lock);
	i->attr.nlink = (uint64_t)((int64_t)i->attr.nlink + d);
	i->attr.ctime = vfs_now();
	pthread_mutex_unlock(&i->lock);
}

/* ---- directories ------------------------------------------------------- */

static uint32_t hname(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct tdirent *dir_find(struct tnode *d, const char *name)
{
	if (!d->hsize)
		return NULL;
	for (struct tdirent *e = d->hash[hname(name) & (d->hsize - 1)]; e;
	     e = e->hnext)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static int dir_rehash(struct tnode *d, unsigned size)
{
	struct tdirent **h = calloc(size, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (struct tdirent *e = d->head; e; e = e->next) {
		unsigned b = hname(e->name) & (size - 1);
		e->hnext = h[b];
		h[b] = e;
	}
	free(d->hash);
	d->hash = h;
	d->hsize = size;
	return 0;
}

/* Adds name -> inode (the reference is taken). */
static int dir_add(struct vfs_inode *dir, const char *name,
		   struct vfs_inode *inode)
{
	struct tnode *d = TN(dir);
	if (d->count + 1 > d->hsize * 2) {
		int err = dir_rehash(d, d->hsize ? d->hsize * 4 : 16);
		if (err < 0)
			return err;
	}
	struct tdirent *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->name = strdup(name);
	if (!e->name) {
		free(e);
		return -ENOMEM;
	}
	e->cookie = d->next_cookie++;
	e->inode = vfs_inode_ref(inode);
	e->prev = d->tail;
	if (d->tail)
		d->tail->next = e;
	else
		d->head = e;
	d->tail = e;
	unsigned b = hname(name) & (d->hsize - 1);
	e->hnext = d->hash[b];
	d->hash[b] = e;
	d->count++;
	pthread_mutex_lock(&dir->lock);
	dir->attr.size += BOGO_DIRENT_SIZE;
	pthread_mutex_unlock(&dir->lock);
	touch(dir, true, true);
	return 0;
}

/* Takes e out of dir; returns its inode reference to the caller. */
static struct vfs_inode *dir_del(struct vfs_inode *dir, struct tdirent *e)
{
	struct tnode *d = TN(dir);
	struct tdirent **pp = &d->hash[hname(e->name) & (d->hsize - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		d->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		d->tail = e->prev;
	d->count--;
	struct vfs_inode *i = e->inode;
	free(e->name);
	free(e);
	pthread_mutex_lock(&dir->lock);
	dir->attr.size -= BOGO_DIRENT_SIZE;
	pthread_mutex_unlock(&dir->lock);
	touch(dir, true, true);
	return i;
}

static int tmpfs_lookup(struct vfs_dentry *dp, const char *name,
			struct vfs_inode **out)
{
	struct tdirent *e = dir_find(TN(dp->inode), name);
	if (!e)
		return -ENOENT;
	*out = vfs_inode_ref(e->inode);
	return 0;
}

static int tmpfs_create(struct vfs_dentry *dir, const char *name,
			const struct vfs_create *c, struct vfs_inode **out)
{
	struct vfs_inode *i =
	    tnode_new(dir->sb, c->mode, c->uid, c->gid, c->rdev);
	if (!i)
		return -ENOSPC;
	if (S_ISLNK(c->mode)) {
		size_t len = strlen(c->target);
		if (len > 4095) {
			vfs_inode_put(i);
			return -ENAMETOOLONG;
		}
		TN(i)->target = strdup(c->target);
		if (!TN(i)->target) {
			vfs_inode_put(i);
			return -ENOMEM;
		}
		i->attr.size = len;
	}
	int err = dir_add(dir->inode, name, i);
	if (err < 0) {
		vfs_inode_put(i);
		return err;
	}
	if (S_ISDIR(c->mode))
		add_nlink(dir->inode, 1);
	*out = i;
	return 0;
}

/* O_TMPFILE: a file in no directory, gone with its last reference. */
static int tmpfs_tmpfile(struct vfs_dentry *dir, const struct vfs_create *c,
			 struct vfs_inode **out)
{
	if (!S_ISREG(c->mode))
		return -EINVAL;
	struct vfs_inode *i = tnode_new(dir->sb, c->mode, c->uid, c->gid, 0);
	if (!i)
		return -ENOSPC;
	i->attr.nlink = 0;
	*out = i;
	return 0;
}

static int tmpfs_link(struct vfs_dentry *dir, const char *name,
		      struct vfs_inode *target)
{
	int err = dir_add(dir->inode, name, target);
	if (err == 0)
		add_nlink(target, 1);
	return err;
}

static int tmpfs_unlink(struct vfs_dentry *dir, const char *name,
			struct vfs_dentry *victim, bool rmdir)
{
	struct tdirent *e = dir_find(TN(dir->inode), name);
	if (!e)
		return -ENOENT;
	struct vfs_inode *i = e->inode;
	if (rmdir && TN(i)->count)
		return -ENOTEMPTY;
	dir_del(dir->inode, e);
	if (S_ISDIR(i->type)) {
		add_nlink(dir->inode, -1);
		pthread_mutex_lock(&i->lock);
		i->attr.nlink = 0;
		pthread_mutex_unlock(&i->lock);
	} else {
		add_nlink(i, -1);
	}
	vfs_inode_put(i);
	return 0;
}

static int tmpfs_rename(struct vfs_dentry *odir, const char *oname,
			struct vfs_dentry *ndir, const char *nname,
			struct vfs_dentry *ov, struct vfs_dentry *nv,
			unsigned flags)
{
	struct vfs_inode *od = odir->inode, *nd = ndir->inode;
	struct tdirent *oe = dir_find(TN(od), oname);
	struct tdirent *ne = dir_find(TN(nd), nname);
	if (!oe)
		return -ENOENT;
	struct vfs_inode *moved = oe->inode;
	bool mdir = S_ISDIR(moved->type);

	if (flags & VFS_RENAME_EXCHANGE) {
		if (!ne)
			return -ENOENT;
		struct vfs_inode *other = ne->inode;
		bool odir_ = S_ISDIR(other->type);
		oe->inode = other;
		ne->inode = moved;
		if (od != nd && mdir != odir_) {
			add_nlink(od, mdir ? -1 : 1);
			add_nlink(nd, mdir ? 1 : -1);
		}
		touch(od, true, true);
		touch(nd, true, true);
		touch(moved, false, true);
		touch(other, false, true);
		return 0;
	}
	if (ne) {
		struct vfs_inode *victim = ne->inode;
		if (S_ISDIR(victim->type) && TN(victim)->count)
			return -ENOTEMPTY;
	}
	/* The new name first, so a failure (no memory) changes nothing. */
	if (ne) {
		struct vfs_inode *victim = ne->inode;
		ne->inode = vfs_inode_ref(moved);
		if (S_ISDIR(victim->type)) {
			add_nlink(nd, -1);
			pthread_mutex_lock(&victim->lock);
			victim->attr.nlink = 0;
			pthread_mutex_unlock(&victim->lock);
		} else {
			add_nlink(victim, -1);
		}
		vfs_inode_put(victim);
		touch(nd, true, true);
	} else {
		int err = dir_add(nd, nname, moved);
		if (err < 0)
			return err;
	}
	vfs_inode_put(dir_del(od, oe));
	if (mdir && od != nd) {
		add_nlink(od, -1);
		add_nlink(nd, 1);
	}
	touch(moved, false, true);
	(void)ov;
	(void)nv;
	return 0;
}

/* ---- regular file data ------------------------------------------------- */

#define KNOWN_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | \
		     F_SEAL_FUTURE_WRITE | F_SEAL_EXEC)
#define HOST_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | \
		    F_SEAL_FUTURE_WRITE)

/* Moves a file's contents to a memfd; data_lock held for writing. */
static int promote(struct vfs_inode *i)
{
	struct tnode *n = TN(i);
	if (n->memfd >= 0)
		return 0;
	int fd = memfd_create("tmpfs", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	uint64_t size = i->attr.size;
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	for (size_t off = 0; off < size && n->data;) {
		size_t len =
		    size - off < n->cap - off ? size - off : n->cap - off;
		if (len == 0)
			break;
		ssize_t w = pwrite(fd, n->data + off, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;
			close(fd);
			return -e;
		}
		off += (size_t)w;
	}
	/* The seals the host must keep for mappings of it. */
	uint32_t host = n->seals & HOST_SEALS;
	if (host && fcntl(fd, F_ADD_SEALS, host) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	free(n->data);
	n->data = NULL;
	n->cap = 0;
	n->memfd = fd;
	return 0;
}

/* Charges what the file holds now; data_lock held. */
static void recharge(struct vfs_inode *i)
{
	struct tnode *n = TN(i);
	uint64_t now = (i->attr.size + PAGE - 1) & ~(PAGE - 1);
	struct stat st;
	if (n->memfd >= 0 && fstat(n->memfd, &st) == 0)
		now = (uint64_t)st.st_blocks * 512;
	charge_to(i->sb, &n->charged, now);
	pthread_mutex_lock(&i->lock);
	i->attr.blocks = now / 512;
	pthread_mutex_unlock(&i->lock);
}

/* Sets the data size; data_lock held for writing. Growing allocates
 * nothing in a memfd (a hole), so only the heap case can run out. */
static int resize(struct vfs_inode *i, uint64_t size)
{
	struct tnode *n = TN(i);
	uint64_t old = i->attr.size;
	int err = 0;
	if (size == old)
		return 0;
	if ((size < old && (n->seals & F_SEAL_SHRINK)) ||
	    (size > old && (n->seals & F_SEAL_GROW)))
		return -EPERM;
	if (n->memfd < 0 && size > SMALL_MAX)
		err = promote(i);
	if (err == 0 && n->memfd >= 0) {
		if (ftruncate(n->memfd, (off_t)size) < 0)
			err = -errno;
	} else if (err == 0) {
		if (size > old && size - old > free_bytes(i->sb))
			return -ENOSPC;
		if (size > n->cap) {
			size_t cap = n->cap ? n->cap : 256;
			while (cap < size)
				cap *= 2;
			char *d = realloc(n->data, cap);
			if (!d)
				return -ENOMEM;
			n->data = d;
			n->cap = cap;
		}
		if (size > old)
			memset(n->data + old, 0, size - old);
	}
	if (err < 0)
		return err;
	pthread_mutex_lock(&i->lock);
	i->attr.size = size;
	pthread_mutex_unlock(&i->lock);
	recharge(i);
	return 0;
}

/* relatime: atime moves when it is older than the last change, as on
 * Linux's default mounts. */
static void touch_atime(struct vfs_inode *i)
{
	pthread_mutex_lock(&i->lock);
	struct timespec *a = &i->attr.atime, *m = &i->attr.mtime,
			*c = &i->attr.ctime;
	if (a->tv_sec < m->tv_sec ||
	    (a->tv_sec == m->tv_sec && a->tv_nsec <= m->tv_nsec) ||
	    a->tv_sec < c->tv_sec ||
	    (a->tv_sec == c->tv_sec && a->tv_nsec <= c->tv_nsec))
		*a = vfs_now();
	pthread_mutex_unlock(&i->lock);
}

static long tmpfs_read(struct task *t, struct file *f, void *buf, size_t len,
		       uint64_t *pos)
{
	struct vfs_inode *i = f->inode;
	struct tnode *n = TN(i);
	long r = 0;
	(void)t;
	if (len == 0)
		return 0; /* n->data may be NULL: nothing to copy from */
	pthread_rwlock_rdlock(&n->data_lock);
	uint64_t size = i->attr.size;
	uint64_t off = *pos;
	if (off < size) {
		if (len > size - off)
			len = (size_t)(size - off);
		if (n->memfd >= 0) {
			do
				r = pread(n->memfd, buf, len, (off_t)off);
			while (r < 0 && errno == EINTR);
			if (r < 0)
				r = -errno;
		} else {
			memcpy(buf, n->data + off, len);
			r = (long)len;
		}
	}
	pthread_rwlock_unlock(&n->data_lock);
	if (r > 0) {
		*pos = off + (uint64_t)r;
		touch_atime(i);
	}
	return r;
}

static void tmpfs_accessed(struct file *f)
{
	touch_atime(f->inode);
}

static long tmpfs_write(struct task *t, struct file *f, const void *buf,
			size_t len, uint64_t *pos)
{
	struct vfs_inode *i = f->inode;
	struct tnode *n = TN(i);
	long r;

	/* Nothing to write: nothing changes, not the size at an offset past
	 * the end, nor the offset of an O_APPEND file (Linux's
	 * generic_write_checks returns before both). */
	if (len == 0)
		return 0;
	pthread_rwlock_wrlock(&n->data_lock);
	if (n->seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) {
		pthread_rwlock_unlock(&n->data_lock);
		return -EPERM;
	}
	uint64_t off =
	    (atomic_load(&f->flags) & O_APPEND) ? i->attr.size : *pos;
	if (t) {
		uint64_t lim = task_rlimit_cur(t, RLIMIT_FSIZE);
		if (off >= lim) {
			pthread_rwlock_unlock(&n->data_lock);
			return -EFBIG;
		}
		if (len > lim - off)
			len = (size_t)(lim - off);
	}
	if (off + len < off || off + len > (uint64_t)INT64_MAX) {
		pthread_rwlock_unlock(&n->data_lock);
		return -EFBIG;
	}
	uint64_t avail = free_bytes(i->sb);
	if (avail < PAGE && avail < len) {
		pthread_rwlock_unlock(&n->data_lock);
		return -ENOSPC;
	}
	if (len > avail)
		len = (size_t)avail;
	uint64_t end = off + len;
	if (end > i->attr.size) {
		int err = resize(i, end);
		if (err < 0) {
			pthread_rwlock_unlock(&n->data_lock);
			return err;
		}
	}
	if (n->memfd >= 0) {
		size_t done = 0;
		r = 0;
		while (done < len) {
			ssize_t w = pwrite(n->memfd, (const char *)buf + done,
					   len - done, (off_t)(off + done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				r = w < 0 ? -errno : -EIO;
				break;
			}
			done += (size_t)w;
		}
		if (done)
			r = (long)done;
		recharge(i);
	} else {
		memcpy(n->data + off, buf, len);
		r = (long)len;
	}
	pthread_rwlock_unlock(&n->data_lock);
	if (r > 0) {
		*pos = off + (uint64_t)r;
		touch(i, true, true);
	}
	return r;
}

static long tmpfs_llseek(struct file *f, int64_t off, int whence, uint64_t *pos)
{
	struct vfs_inode *i = f->inode;
	struct tnode *n = TN(i);
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return vfs_generic_llseek(f, off, whence, pos, i->attr.size);
	pthread_rwlock_rdlock(&n->data_lock);
	long r;
	if (n->memfd >= 0) {
		off_t o = lseek(n->memfd, off, whence);
		r = o < 0 ? -errno : (long)o;
		if (r >= 0)
			*pos = (uint64_t)r;
	} else {
		r = vfs_generic_llseek(f, off, whence, pos, i->attr.size);
	}
	pthread_rwlock_unlock(&n->data_lock);
	return r;
}

static int tmpfs_fsync(struct file *f, bool datasync)
{
	(void)f;
	(void)datasync;
	return 0;
}

static int tmpfs_fallocate(struct file *f, int mode, uint64_t off, uint64_t len)
{
	struct vfs_inode *i = f->inode;
	struct tnode *n = TN(i);
	int err = 0;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	pthread_rwlock_wrlock(&n->data_lock);
	uint64_t size = i->attr.size;
	/* As shmem: a hole changes the data, an allocation past the end
	 * grows the file (even one that keeps its size). */
	if (((mode & FALLOC_FL_PUNCH_HOLE) &&
	     (n->seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))) ||
	    (!(mode & FALLOC_FL_PUNCH_HOLE) && (n->seals & F_SEAL_GROW) &&
	     off + len > size)) {
		pthread_rwlock_unlock(&n->data_lock);
		return -EPERM;
	}
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		if (off < size) {
			uint64_t e = off + len < size ? off + len : size;
			if (n->memfd >= 0) {
				if (fallocate(n->memfd, mode, (off_t)off,
					      (off_t)(e - off)) < 0)
					err = -errno;
				recharge(i);
			} else {
				memset(n->data + off, 0, e - off);
			}
		}
	} else if (len > free_bytes(i->sb)) {
		err = -ENOSPC;
	} else {
		if (n->memfd < 0 && off + len > SMALL_MAX)
			err = promote(i);
		if (err == 0 && n->memfd >= 0) {
			struct stat st;
			if (fallocate(n->memfd, mode, (off_t)off, (off_t)len) <
			    0)
				err = -errno;
			else if (fstat(n->memfd, &st) == 0) {
				pthread_mutex_lock(&i->lock);
				i->attr.size = (uint64_t)st.st_size;
				pthread_mutex_unlock(&i->lock);
			}
			recharge(i);
		} else if (err == 0 && !(mode & FALLOC_FL_KEEP_SIZE) &&
			   off + len > size) {
			err = resize(i, off + len);
		}
	}
	pthread_rwlock_unlock(&n->data_lock);
	if (err == 0)
		touch(i,
		      !(mode & FALLOC_FL_KEEP_SIZE) ||
			  (mode & FALLOC_FL_PUNCH_HOLE),
		      true);
	return err;
}

/* Only a file whose data is already in a memfd: small ones stay on the
 * heap. */
static int tmpfs_io_fd(struct file *f)
{
	struct tnode *n = TN(f->inode);
	pthread_rwlock_rdlock(&n->data_lock);
	int fd = n->memfd >= 0 ? fcntl(n->memfd, F_DUPFD_CLOEXEC, 0) : -ENODEV;
	if (fd == -1)
		fd = -errno;
	pthread_rwlock_unlock(&n->data_lock);
	return fd;
}

static int tmpfs_mmap_fd(struct file *f)
{
	struct vfs_inode *i = f->inode;
	struct tnode *n = TN(i);
	pthread_rwlock_wrlock(&n->data_lock);
	int err = promote(i);
	int fd = err < 0 ? err : fcntl(n->memfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0 && err == 0)
		fd = -errno;
	pthread_rwlock_unlock(&n->data_lock);
	return fd;
}

/* ---- attributes -------------------------------------------------------- */

static int tmpfs_setattr(struct vfs_inode *i, const struct vfs_setattr *s)
{
	if ((s->valid & VFS_ATTR_MODE) && S_ISREG(i->type)) {
		struct tnode *n = TN(i);
		pthread_rwlock_rdlock(&n->data_lock);
		bool exec_sealed = n->seals & F_SEAL_EXEC;
		pthread_rwlock_unlock(&n->data_lock);
		if (exec_sealed && ((s->mode ^ i->attr.mode) & 0111))
			return -EPERM;
	}
	if (s->valid & VFS_ATTR_SIZE) {
		if (!S_ISREG(i->type))
			return -EINVAL;
		struct tnode *n = TN(i);
		pthread_rwlock_wrlock(&n->data_lock);
		int err = resize(i, s->size);
		pthread_rwlock_unlock(&n->data_lock);
		if (err < 0)
			return err;
	}
	struct timespec now = vfs_now();
	pthread_mutex_lock(&i->lock);
	if (s->valid & VFS_ATTR_MODE)
		i->attr.mode = (i->attr.mode & S_IFMT) | (s->mode & 07777);
	if (s->valid & VFS_ATTR_UID)
		i->attr.uid = s->uid;
	if (s->valid & VFS_ATTR_GID)
		i->attr.gid = s->gid;
	if (s->valid & VFS_ATTR_ATIME)
		i->attr.atime = s->atime;
	if (s->valid & VFS_ATTR_ATIME_NOW)
		i->attr.atime = now;
	if (s->valid & VFS_ATTR_MTIME)
		i->attr.mtime = s->mtime;
	if (s->valid & VFS_ATTR_MTIME_NOW)
		i->attr.mtime = now;
	if (s->valid & VFS_ATTR_CTIME)
		i->attr.ctime = now;
	pthread_mutex_unlock(&i->lock);
	return 0;
}

static long tmpfs_readlink(struct vfs_inode *i, char *buf, size_t len)
{
	const char *t = TN(i)->target;
	size_t n = strlen(t);
	if (n > len)
		n = len;
	memcpy(buf, t, n);
	return (long)n;
}

static int tmpfs_open(struct task *t, struct file *f, int flags)
{
	(void)t;
	(void)flags;
	f->ops = S_ISDIR(f->inode->type) ? &tmpfs_dir_fops : &tmpfs_reg_fops;
	return 0;
}

/* ---- xattrs ------------------------------------------------------------ */

static struct txattr **xfind(struct tnode *n, const char *name)
{
	struct txattr **pp = &n->xattrs;
	while (*pp && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	return pp;
}

static long tmpfs_getxattr(struct vfs_inode *i, const char *name, void *buf,
			   size_t len)
{
	pthread_mutex_lock(&i->lock);
	struct txattr *x = *xfind(TN(i), name);
	long r;
	if (!x)
		r = -ENODATA;
	else if (len == 0)
		r = (long)x->len;
	else if (len < x->len)
		r = -ERANGE;
	else {
		memcpy(buf, x->val, x->len);
		r = (long)x->len;
	}
	pthread_mutex_unlock(&i->lock);
	return r;
}

static int tmpfs_setxattr(struct vfs_inode *i, const char *name,
			  const void *val, size_t len, int flags)
{
	void *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, val, len);
	pthread_mutex_lock(&i->lock);
	struct txattr **pp = xfind(TN(i), name);
	int err = 0;
	if (*pp && (flags & XATTR_CREATE_))
		err = -EEXIST;
	else if (!*pp && (flags & XATTR_REPLACE_))
		err = -ENODATA;
	else if (*pp) {
		free((*pp)->val);
		(*pp)->val = copy;
		(*pp)->len = len;
		copy = NULL;
	} else {
		struct txattr *x = calloc(1, sizeof(*x));
		if (x)
			x->name = strdup(name);
		if (!x || !x->name) {
			free(x);
			err = -ENOMEM;
		} else {
			x->val = copy;
			x->len = len;
			copy = NULL;
			*pp = x;
		}
	}
	if (err == 0)
		i->attr.ctime = vfs_now();
	pthread_mutex_unlock(&i->lock);
	free(copy);
	return err;
}

static long tmpfs_listxattr(struct vfs_inode *i, char *buf, size_t len)
{
	size_t need = 0;
	long r = 0;
	pthread_mutex_lock(&i->lock);
	for (struct txattr *x = TN(i)->xattrs; x; x = x->next)
		need += strlen(x->name) + 1;
	if (len && need > len) {
		r = -ERANGE;
	} else if (len) {
		size_t o = 0;
		for (struct txattr *x = TN(i)->xattrs; x; x = x->next) {
			size_t l = strlen(x->name) + 1;
			memcpy(buf + o, x->name, l);
			o += l;
		}
	}
	pthread_mutex_unlock(&i->lock);
	return r < 0 ? r : (long)need;
}

static int tmpfs_removexattr(struct vfs_inode *i, const char *name)
{
	pthread_mutex_lock(&i->lock);
	struct txattr **pp = xfind(TN(i), name);
	int err = -ENODATA;
	if (*pp) {
		struct txattr *x = *pp;
		*pp = x->next;
		free(x->name);
		free(x->val);
		free(x);
		i->attr.ctime = vfs_now();
		err = 0;
	}
	pthread_mutex_unlock(&i->lock);
	return err;
}

/* ---- getdents ---------------------------------------------------------- */

static unsigned dtype(uint32_t type)
{
	return (type >> 12) & 15; /* DT_* are S_IFMT >> 12 */
}

static int tmpfs_iterate(struct task *t, struct file *f,
			 struct vfs_dir_ctx *ctx)
{
	(void)t;
	if (!vfs_dir_emit_dots(f, ctx))
		return 0;
	struct vfs_inode *dir = f->inode;
	pthread_mutex_lock(&dir->rwsem);
	for (struct tdirent *e = TN(dir)->head; e; e = e->next) {
		if (e->cookie < ctx->pos)
			continue;
		if (!ctx->emit(ctx, e->name, strlen(e->name), e->inode->ino,
			       dtype(e->inode->type), e->cookie + 1))
			break;
		ctx->pos = e->cookie + 1;
	}
	pthread_mutex_unlock(&dir->rwsem);
	return 0;
}

/* ---- tables and construction ------------------------------------------- */

static const struct vfs_inode_ops tmpfs_iops = {
    .lookup = tmpfs_lookup,
    .setattr = tmpfs_setattr,
    .create = tmpfs_create,
    .link = tmpfs_link,
    .tmpfile = tmpfs_tmpfile,
    .unlink = tmpfs_unlink,
    .rename = tmpfs_rename,
    .readlink = tmpfs_readlink,
    .open = tmpfs_open,
    .getxattr = tmpfs_getxattr,
    .setxattr = tmpfs_setxattr,
    .listxattr = tmpfs_listxattr,
    .removexattr = tmpfs_removexattr,
    .evict = tmpfs_evict,
};

static const struct file_ops tmpfs_reg_fops = {
    .read = tmpfs_read,
    .write = tmpfs_write,
    .llseek = tmpfs_llseek,
    .fsync = tmpfs_fsync,
    .fallocate = tmpfs_fallocate,
    .mmap_fd = tmpfs_mmap_fd,
    .io_fd = tmpfs_io_fd,
    .accessed = tmpfs_accessed,
};

static const struct file_ops tmpfs_dir_fops = {
    .iterate = tmpfs_iterate,
    .fsync = tmpfs_fsync,
};

static int tmpfs_statfs(struct vfs_sb *sb, struct statfs *st)
{
	struct tmpfs_sb *ts = TSB(sb);
	pthread_mutex_lock(&ts->lock);
	uint64_t max = ts->max_bytes ? ts->max_bytes : ts->used_bytes;
	st->f_bsize = PAGE;
	st->f_frsize = PAGE;
	st->f_blocks = max / PAGE;
	st->f_bfree = (max - ts->used_bytes) / PAGE;
	st->f_bavail = st->f_bfree;
	st->f_files =
	    ts->max_inodes ? ts->max_inodes : ts->used_inodes + 1000000;
	st->f_ffree = st->f_files - ts->used_inodes;
	pthread_mutex_unlock(&ts->lock);
	return 0;
}

static void tmpfs_release(struct vfs_sb *sb)
{
	struct tmpfs_sb *ts = TSB(sb);
	pthread_mutex_destroy(&ts->lock);
	free(ts);
}

static const struct vfs_sb_ops tmpfs_sb_ops = {
    .statfs = tmpfs_statfs,
    .release = tmpfs_release,
};

int tmpfs_new(const struct tmpfs_opts *o, struct vfs_sb **out)
{
	struct tmpfs_sb *ts = calloc(1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	pthread_mutex_init(&ts->lock, NULL);
	ts->max_bytes = o->max_bytes;
	if (!ts->max_bytes) {
		struct sysinfo si;
		if (sysinfo(&si) == 0)
			ts->max_bytes = (uint64_t)si.totalram * si.mem_unit / 2;
	}
	ts->max_inodes = o->max_inodes;
	atomic_init(&ts->next_ino, 2);
	struct vfs_sb *sb = vfs_sb_new(o->type ? o->type : "tmpfs", TMPFS_MAGIC,
				       &tmpfs_sb_ops, ts);
	if (!sb) {
		free(ts);
		return -ENOMEM;
	}
	struct vfs_inode *root =
	    tnode_new(sb, S_IFDIR | (o->mode & 07777), o->uid, o->gid, 0);
	if (!root || vfs_sb_set_root(sb, root) < 0) {
		vfs_sb_put(sb);
		return -ENOMEM;
	}
	*out = sb;
	return 0;
}

/* "size=N[kmg],mode=OCT,uid=N,gid=N,nr_inodes=N" */
static int parse_opts(const char *data, struct tmpfs_opts *o)
{
	*o = (struct tmpfs_opts){.mode = 01777};
	if (!data || !*data)
		return 0;
	char *copy = strdup(data), *save = NULL;
	if (!copy)
		return -ENOMEM;
	int err = 0;
	for (char *opt = strtok_r(copy, ",", &save); opt && !err;
	     opt = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(opt, '=');
		if (!eq) {
			err = -EINVAL;
			break;
		}
		*eq++ = '\0';
		char *end;
		unsigned long long v =
		    strtoull(eq, &end, strcmp(opt, "mode") ? 10 : 8);
		if (end == eq) {
			err = -EINVAL;
			break;
		}
		if (strcmp(opt, "size") == 0) {
			switch (*end) {
			case 'k':
			case 'K':
				v <<= 10;
				end++;
				break;
			case 'm':
			case 'M':
				v <<= 20;
				end++;
				break;
			case 'g':
			case 'G':
				v <<= 30;
				end++;
				break;
			}
			o->max_bytes = v;
		} else if (strcmp(opt, "mode") == 0) {
			o->mode = (uint32_t)v & 07777;
		} else if (strcmp(opt, "uid") == 0) {
			o->uid = (uint32_t)v;
		} else if (strcmp(opt, "gid") == 0) {
			o->gid = (uint32_t)v;
		} else if (strcmp(opt, "nr_inodes") == 0) {
			o->max_inodes = v;
		} else {
			err = -EINVAL;
		}
		if (!err && *end)
			err = -EINVAL;
	}
	free(copy);
	return err;
}

static int tmpfs_ctor(const char *source, const char *data, struct vfs_sb **out)
{
	struct tmpfs_opts o;
	(void)source;
	int err = parse_opts(data, &o);
	if (err < 0)
		return err;
	return tmpfs_new(&o, out);
}

int tmpfs_register(void)
{
	int err = vfs_register_fs("tmpfs", tmpfs_ctor);
	return err == -EEXIST ? 0 : err;
}

int tmpfs_make_node(struct vfs_sb *sb, uint32_t mode, struct vfs_inode **out)
{
	struct vfs_inode *i = tnode_new(sb, mode, 0, 0, 0);
	if (!i)
		return -ENOSPC;
	*out = i;
	return 0;
}

bool tmpfs_is(const struct vfs_inode *i)
{
	return i->ops == &tmpfs_iops;
}

long tmpfs_fcntl_seals(struct file *f, bool add, uint32_t seals)
{
	struct vfs_inode *i = f->inode;
	if (f->ops != &tmpfs_reg_fops || !TN(i)->sealable)
		return -EINVAL;
	struct tnode *n = TN(i);
	if (!add) {
		pthread_rwlock_rdlock(&n->data_lock);
		long r = (long)n->seals;
		pthread_rwlock_unlock(&n->data_lock);
		return r;
	}
	if (!(f->mode & FMODE_WRITE))
		return -EPERM;
	if (seals & ~(uint32_t)KNOWN_SEALS)
		return -EINVAL;
	pthread_rwlock_wrlock(&n->data_lock);
	long r = 0;
	if (n->seals & F_SEAL_SEAL) {
		r = -EPERM;
	} else {
		/* The host refuses F_SEAL_WRITE (EBUSY) while a stub maps
		 * the file shared and writable: only a memfd can be mapped. */
		uint32_t host = (seals & ~n->seals) & HOST_SEALS;
		if (n->memfd >= 0 && host &&
		    fcntl(n->memfd, F_ADD_SEALS, host) < 0)
			r = -errno;
		else
			n->seals |= seals;
	}
	pthread_rwlock_unlock(&n->data_lock);
	return r;
}

void tmpfs_set_sealable(struct vfs_inode *i, uint32_t seals)
{
	struct tnode *n = TN(i);
	pthread_rwlock_wrlock(&n->data_lock);
	n->sealable = true;
	n->seals = seals;
	pthread_rwlock_unlock(&n->data_lock);
}
