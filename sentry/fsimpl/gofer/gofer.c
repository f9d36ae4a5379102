/* The gofer-backed file system: files the gofer process serves over
 * 9P2000.L (gofer/client/p9c.h). The sentry never opens a host path; each
 * inode holds a walked fid, and opening a regular file opens a second fid
 * whose host fd the gofer passes back ("9P2000.L+fds"), so reads and writes
 * go straight to the host file.
 *
 * Caching: the sandbox is the tree's only writer as far as it knows (a
 * --rw directory changed by the host meanwhile may look stale), so
 * dentries, negative ones included, and attributes are cached. Attributes
 * of a file with a host fd come from fstat (cheap, always fresh);
 * otherwise from the last Tgetattr, dropped by every change the sentry
 * makes.
 *
 * Handles: an inode keeps at most one read-only and one read-write open
 * fid (and their host fds), shared by every open file description, so
 * opening a file again costs no round trip. Record locks are therefore
 * the sentry's (vfs/lock.c), not the host's. Handles no open file uses
 * wait on an LRU of at most IDLE_MAX, then are closed: each is an fd in
 * the sentry and two in the gofer, and both have 20 000 at most.
 *
 * Inodes are found by qid.path in a per-sb table, so hard links share one.
 * Fids are released (Tclunk) by a worker thread of the sb, off the path
 * of the system call that let them go: evicting a dentry or closing an
 * idle handle then costs no round trip.
 *
 * Locking: gi->hlock (handles) before gsb->idle_lock (the idle LRU);
 * gsb->lock (table, per-uid attaches) and gsb->clunk_lock are leaves. None is
 * held across a round trip except hlock while opening a handle (one inode's
 * opens wait for each other, nothing else does). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../../../gofer/client/p9c.h"
#include "../../kernel/kernel.h"
#include "gofer.h"

#define TABLE_SIZE 4096
#define MAX_ATTACH 8
#define IDLE_MAX   256

struct ginode {
	uint32_t fid;
	struct p9_qid qid;
	bool shared;	 /* the host may change it (a --rw/--ro bind) */
	bool attr_valid; /* inode->lock */
	pthread_mutex_t hlock;
	uint32_t rfid, wfid; /* open fids: read-only, read-write */
	int rfd, wfd;	     /* their host fds, or -1 */
	char *target;	     /* a symlink's text, once read */
	int users;	     /* open files on the handles (hlock) */
	bool idle;	     /* on the idle LRU (idle_lock) */
	struct ginode *iprev, *inext;
	struct ginode *hnext;
	struct vfs_inode *inode;
};

struct gsb {
	struct p9c *c;
	uint32_t root_fid;
	uint32_t uid;
	uint32_t iounit;
	pthread_mutex_t lock;
	struct ginode *table[TABLE_SIZE];
	struct {
		uint32_t uid, fid;
	} attach[MAX_ATTACH];
	int nattach;
	pthread_mutex_t idle_lock;
	struct ginode *idle_head, *idle_tail;
	int nidle;
	/* fids waiting for the clunk worker */
	pthread_mutex_t clunk_lock;
	pthread_cond_t clunk_cond;
	uint32_t *clunks;
	size_t nclunks, cap_clunks;
	bool clunk_stop, clunk_thread;
	pthread_t clunker;
};

static const struct vfs_inode_ops gofer_iops;
static const struct file_ops gofer_reg_fops, gofer_dir_fops;

static struct gsb *GSB(struct vfs_sb *sb)
{
	return sb->priv;
}

static struct ginode *GI(struct vfs_inode *i)
{
	return i->priv;
}

/* ---- attributes -------------------------------------------------------- */

static void attr_from_p9(struct vfs_attr *a, const struct p9_attr *p)
{
	a->mode = p->mode;
	a->uid = p->uid;
	a->gid = p->gid;
	a->nlink = p->nlink;
	a->rdev = p->rdev;
	a->size = p->size;
	a->blksize = (uint32_t)p->blksize;
	a->blocks = p->blocks;
	a->atime = (struct timespec){(time_t)p->atime_sec, (long)p->atime_nsec};
	a->mtime = (struct timespec){(time_t)p->mtime_sec, (long)p->mtime_nsec};
	a->ctime = (struct timespec){(time_t)p->ctime_sec, (long)p->ctime_nsec};
	a->btime = (struct timespec){(time_t)p->btime_sec, (long)p->btime_nsec};
}

static void attr_from_stat(struct vfs_attr *a, const struct stat *st)
{
	a->mode = st->st_mode;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->nlink = st->st_nlink;
	a->rdev = st->st_rdev;
	a->size = (uint64_t)st->st_size;
	a->blksize = (uint32_t)st->st_blksize;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = st->st_atim;
	a->mtime = st->st_mtim;
	a->ctime = st->st_ctim;
}

static void invalidate(struct vfs_inode *i)
{
	pthread_mutex_lock(&i->lock);
	GI(i)->attr_valid = false;
	pthread_mutex_unlock(&i->lock);
}

/* fstat of the inode's host fd, if it has one; under hlock, as an idle
 * handle may be closed (and its number reused) at any time. */
static bool fstat_handle(struct ginode *gi, struct stat *st)
{
	pthread_mutex_lock(&gi->hlock);
	int fd = gi->wfd >= 0 ? gi->wfd : gi->rfd;
	bool ok = fd >= 0 && fstat(fd, st) == 0;
	pthread_mutex_unlock(&gi->hlock);
	return ok;
}

static int gofer_getattr(struct vfs_inode *i, struct vfs_attr *a)
{
	struct ginode *gi = GI(i);
	struct stat st;
	if (fstat_handle(gi, &st)) {
		pthread_mutex_lock(&i->lock);
		attr_from_stat(&i->attr, &st);
		gi->attr_valid = true;
		*a = i->attr;
		pthread_mutex_unlock(&i->lock);
		return 0;
	}
	pthread_mutex_lock(&i->lock);
	if (gi->attr_valid && !gi->shared) {
		*a = i->attr;
		pthread_mutex_unlock(&i->lock);
		return 0;
	}
	pthread_mutex_unlock(&i->lock);
	struct p9_attr pa;
	int err = p9c_getattr(GSB(i->sb)->c, gi->fid,
			      P9_GETATTR_BASIC | P9_GETATTR_BTIME, &pa);
	if (err < 0)
		return err;
	pthread_mutex_lock(&i->lock);
	attr_from_p9(&i->attr, &pa);
	gi->attr_valid = true;
	*a = i->attr;
	pthread_mutex_unlock(&i->lock);
	return 0;
}

/* ---- releasing fids ---------------------------------------------------- */

static void *clunk_worker(void *arg)
{
	struct gsb *g = arg;
	uint32_t batch[64];
	plat_unpin_self(); /* made by a task's (maybe paired) thread */
	pthread_mutex_lock(&g->clunk_lock);
	for (;;) {
		while (!g->nclunks && !g->clunk_stop)
			pthread_cond_wait(&g->clunk_cond, &g->clunk_lock);
		if (!g->nclunks && g->clunk_stop)
			break;
		size_t n = g->nclunks < 64 ? g->nclunks : 64;
		g->nclunks -= n;
		memcpy(batch, g->clunks + g->nclunks, n * sizeof(*batch));
		pthread_mutex_unlock(&g->clunk_lock);
		for (size_t k = 0; k < n; k++)
			p9c_clunk(g->c, batch[k]);
		pthread_mutex_lock(&g->clunk_lock);
	}
	pthread_mutex_unlock(&g->clunk_lock);
	return NULL;
}

/* Clunks fid later, on the worker (now, if there is none). */
static void release_fid(struct gsb *g, uint32_t fid)
{
	if (fid == P9_NOFID)
		return;
	pthread_mutex_lock(&g->clunk_lock);
	if (g->clunk_thread && !g->clunk_stop) {
		if (g->nclunks == g->cap_clunks) {
			size_t cap = g->cap_clunks ? g->cap_clunks * 2 : 256;
			uint32_t *n = realloc(g->clunks, cap * sizeof(*n));
			if (n) {
				g->clunks = n;
				g->cap_clunks = cap;
			}
		}
		if (g->nclunks < g->cap_clunks) {
			g->clunks[g->nclunks++] = fid;
			pthread_cond_signal(&g->clunk_cond);
			pthread_mutex_unlock(&g->clunk_lock);
			return;
		}
	}
	pthread_mutex_unlock(&g->clunk_lock);
	p9c_clunk(g->c, fid);
}

/* ---- idle handles ------------------------------------------------------ */

/* idle_lock held. */
static void idle_del(struct gsb *g, struct ginode *gi)
{
	if (!gi->idle)
		return;
	if (gi->iprev)
		gi->iprev->inext = gi->inext;
	else
		g->idle_head = gi->inext;
	if (gi->inext)
		gi->inext->iprev = gi->iprev;
	else
		g->idle_tail = gi->iprev;
	gi->iprev = gi->inext = NULL;
	gi->idle = false;
	g->nidle--;
}

/* hlock held: the inode's handles are unused now. */
static void idle_add(struct gsb *g, struct ginode *gi)
{
	if (gi->rfid == P9_NOFID && gi->wfid == P9_NOFID)
		return;
	pthread_mutex_lock(&g->idle_lock);
	if (!gi->idle) {
		gi->iprev = g->idle_tail;
		gi->inext = NULL;
		if (g->idle_tail)
			g->idle_tail->inext = gi;
		else
			g->idle_head = gi;
		g->idle_tail = gi;
		gi->idle = true;
		g->nidle++;
	}
	pthread_mutex_unlock(&g->idle_lock);
}

/* Closes the oldest idle handles beyond IDLE_MAX. No lock held. */
static void idle_trim(struct gsb *g)
{
	for (;;) {
		pthread_mutex_lock(&g->idle_lock);
		struct ginode *gi = g->idle_head;
		if (!gi || g->nidle <= IDLE_MAX) {
			pthread_mutex_unlock(&g->idle_lock);
			return;
		}
		idle_del(g, gi);
		/* Hold the inode so it outlives the unlocked part; one on its
		 * way out (refs 0) closes its handles itself. */
		long r = atomic_load(&gi->inode->refs);
		bool held = false;
		while (r > 0 && !held)
			held = atomic_compare_exchange_weak(&gi->inode->refs,
							    &r, r + 1);
		pthread_mutex_unlock(&g->idle_lock);
		if (!held)
			continue;
		uint32_t rfid = P9_NOFID, wfid = P9_NOFID;
		int rfd = -1, wfd = -1;
		pthread_mutex_lock(&gi->hlock);
		if (gi->users == 0 && !gi->idle) {
			rfid = gi->rfid;
			wfid = gi->wfid;
			rfd = gi->rfd;
			wfd = gi->wfd;
			gi->rfid = gi->wfid = P9_NOFID;
			gi->rfd = gi->wfd = -1;
		}
		pthread_mutex_unlock(&gi->hlock);
		release_fid(g, rfid);
		release_fid(g, wfid);
		if (rfd >= 0)
			close(rfd);
		if (wfd >= 0)
			close(wfd);
		vfs_inode_put(gi->inode);
	}
}

/* ---- inodes ------------------------------------------------------------ */

static void table_del(struct gsb *g, struct ginode *gi)
{
	struct ginode **pp = &g->table[gi->qid.path % TABLE_SIZE];
	while (*pp && *pp != gi)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = gi->hnext;
}

/* A live inode for qid, referenced, or NULL. gsb lock held. */
static struct vfs_inode *table_find(struct gsb *g, uint64_t path)
{
	for (struct ginode *gi = g->table[path % TABLE_SIZE]; gi;
	     gi = gi->hnext) {
		if (gi->qid.path != path)
			continue;
		/* One on its way out (refs 0) is not revived. */
		long r = atomic_load(&gi->inode->refs);
		while (r > 0) {
			if (atomic_compare_exchange_weak(&gi->inode->refs, &r,
							 r + 1))
				return gi->inode;
		}
	}
	return NULL;
}

/* The inode for a fid just walked (the fid is consumed). */
static void set_shared(struct vfs_inode *i)
{
	GI(i)->shared = true;
	if (S_ISDIR(i->type))
		i->flags |= VFS_I_REVALIDATE;
}

/* The inode for a fid just walked (the fid is consumed); shared: the
 * directory it was found in is shared with the host, so it is too. pa: the
 * fid's attributes if the walk brought them, else NULL. */
static int inode_for(struct vfs_sb *sb, uint32_t fid, const struct p9_qid *qid,
		     bool shared, const struct p9_attr *pa_in,
		     struct vfs_inode **out)
{
	struct gsb *g = GSB(sb);
	pthread_mutex_lock(&g->lock);
	struct vfs_inode *i = table_find(g, qid->path);
	pthread_mutex_unlock(&g->lock);
	if (i) {
		release_fid(g, fid);
		if (shared && !GI(i)->shared)
			set_shared(i);
		*out = i;
		return 0;
	}
	struct p9_attr pa;
	if (pa_in) {
		pa = *pa_in;
	} else {
		int err = p9c_getattr(g->c, fid,
				      P9_GETATTR_BASIC | P9_GETATTR_BTIME, &pa);
		if (err < 0) {
			p9c_clunk(g->c, fid);
			return err;
		}
	}
	struct ginode *gi = calloc(1, sizeof(*gi));
	if (!gi) {
		p9c_clunk(g->c, fid);
		return -ENOMEM;
	}
	gi->fid = fid;
	gi->qid = *qid;
	gi->rfid = gi->wfid = P9_NOFID;
	gi->rfd = gi->wfd = -1;
	pthread_mutex_init(&gi->hlock, NULL);
	i = vfs_inode_new(sb, pa.mode & S_IFMT, qid->path, &gofer_iops,
			  S_ISDIR(pa.mode) ? &gofer_dir_fops : &gofer_reg_fops,
			  gi);
	if (!i) {
		pthread_mutex_destroy(&gi->hlock);
		free(gi);
		p9c_clunk(g->c, fid);
		return -ENOMEM;
	}
	gi->inode = i;
	if (shared)
		set_shared(i);
	attr_from_p9(&i->attr, &pa);
	i->attr.ino = qid->path;
	i->attr.dev = sb->dev;
	gi->attr_valid = true;
	pthread_mutex_lock(&g->lock);
	/* Someone may have made the same one meanwhile (a hard link). */
	struct vfs_inode *other = table_find(g, qid->path);
	if (!other) {
		struct ginode **b = &g->table[qid->path % TABLE_SIZE];
		gi->hnext = *b;
		*b = gi;
	}
	pthread_mutex_unlock(&g->lock);
	if (other) {
		vfs_inode_put(i);
		i = other;
		if (shared && !GI(i)->shared)
			set_shared(i);
	}
	*out = i;
	return 0;
}

static void gofer_evict(struct vfs_inode *i)
{
	struct ginode *gi = GI(i);
	struct gsb *g = GSB(i->sb);
	if (!gi)
		return;
	pthread_mutex_lock(&g->lock);
	table_del(g, gi);
	pthread_mutex_unlock(&g->lock);
	pthread_mutex_lock(&g->idle_lock);
	idle_del(g, gi);
	pthread_mutex_unlock(&g->idle_lock);
	release_fid(g, gi->rfid);
	release_fid(g, gi->wfid);
	release_fid(g, gi->fid);
	if (gi->rfd >= 0)
		close(gi->rfd);
	if (gi->wfd >= 0)
		close(gi->wfd);
	free(gi->target);
	pthread_mutex_destroy(&gi->hlock);
	free(gi);
	i->priv = NULL;
}

static int gofer_lookup(struct vfs_dentry *dp, const char *name,
			struct vfs_inode **out)
{
	struct gsb *g = GSB(dp->sb);
	uint32_t fid;
	struct p9_qid qid;
	struct p9_attr pa;
	const char *names[1] = {name};
	/* The attributes come with the walk (one round trip): a new inode
	 * needs them, and a name the sandbox has not seen is seldom a second
	 * link to an inode it has. */
	int err = p9c_walk_getattr(g->c, GI(dp->inode)->fid, 1, names,
				   P9_GETATTR_BASIC | P9_GETATTR_BTIME, &fid,
				   &qid, &pa);
	if (err < 0)
		return err;
	return inode_for(dp->sb, fid, &qid, GI(dp->inode)->shared, &pa, out);
}

/* A name in a shared directory: the host may have removed, replaced or
 * made it since it was cached. */
static int gofer_revalidate(struct vfs_dentry *dp, const char *name,
			    struct vfs_dentry *cached)
{
	struct gsb *g = GSB(dp->sb);
	uint32_t fid;
	struct p9_qid qid;
	const char *names[1] = {name};
	int err = p9c_walk(g->c, GI(dp->inode)->fid, 1, names, &fid, &qid);
	if (err == -ENOENT)
		return cached->inode ? 0 : 1;
	if (err < 0)
		return err;
	release_fid(g, fid);
	return cached->inode && GI(cached->inode)->qid.path == qid.path ? 1 : 0;
}

void gofer_mark_shared(struct vfs_inode *dir)
{
	if (dir->ops == &gofer_iops)
		set_shared(dir);
}

/* ---- creating as another user ------------------------------------------ */

/* A fid for the directory dir that descends from an attach as uid (files
 * the gofer makes through it belong to uid). *temp: the caller clunks it. */
static int dir_fid_for(struct vfs_dentry *dir, uint32_t uid, uint32_t *fid,
		       bool *temp)
{
	struct gsb *g = GSB(dir->sb);
	*temp = false;
	if (uid == g->uid) {
		*fid = GI(dir->inode)->fid;
		return 0;
	}
	uint32_t root = P9_NOFID;
	int err = 0;
	pthread_mutex_lock(&g->lock);
	for (int k = 0; k < g->nattach; k++)
		if (g->attach[k].uid == uid)
			root = g->attach[k].fid;
	pthread_mutex_unlock(&g->lock);
	if (root == P9_NOFID) {
		struct p9_qid q;
		char uname[16];
		snprintf(uname, sizeof(uname), "%u", uid);
		err = p9c_attach(g->c, uname, "", uid, &root, &q);
		if (err < 0)
			return err;
		pthread_mutex_lock(&g->lock);
		if (g->nattach < MAX_ATTACH) {
			g->attach[g->nattach].uid = uid;
			g->attach[g->nattach].fid = root;
			g->nattach++;
		} else {
			*temp = true; /* too many users: walk and drop */
		}
		pthread_mutex_unlock(&g->lock);
	}
	/* The names from the sb root down to dir. */
	char *names[256];
	int n = 0;
	struct vfs_dentry *d = vfs_dget(dir);
	while (d != dir->sb->root && n < 256) {
		char buf[256];
		vfs_d_name(d, buf, sizeof(buf));
		names[n++] = strdup(buf);
		struct vfs_dentry *p = vfs_d_parent(d);
		vfs_dput(d);
		if (p == d) {
			vfs_dput(p);
			d = NULL;
			break;
		}
		d = p;
	}
	vfs_dput(d);
	uint32_t cur = root;
	bool cur_temp = *temp;
	if (n == 0) {
		err = p9c_walk(g->c, root, 0, NULL, &cur, NULL);
		cur_temp = true;
	}
	for (int k = n - 1; k >= 0 && err == 0;) {
		const char *chunk[P9_MAXWELEM];
		int c = 0;
		while (k >= 0 && c < P9_MAXWELEM)
			chunk[c++] = names[k--];
		uint32_t next;
		err = p9c_walk(g->c, cur, (unsigned)c, chunk, &next, NULL);
		if (cur_temp)
			p9c_clunk(g->c, cur);
		cur = next;
		cur_temp = true;
	}
	for (int k = 0; k < n; k++)
		free(names[k]);
	if (err < 0)
		return err;
	*fid = cur;
	*temp = true;
	return 0;
}

/* ---- namespace --------------------------------------------------------- */

static int gofer_create(struct vfs_dentry *dir, const char *name,
			const struct vfs_create *c, struct vfs_inode **out)
{
	struct gsb *g = GSB(dir->sb);
	uint32_t dfid;
	bool temp;
	int err = dir_fid_for(dir, c->uid, &dfid, &temp);
	if (err < 0)
		return err;
	struct p9_qid qid;
	uint32_t mode = c->mode & 07777;
	uint32_t open_fid = P9_NOFID;
	int hostfd = -1;
	switch (c->mode & S_IFMT) {
	case S_IFREG: {
		uint32_t iounit;
		err = p9c_clone_open(g->c, dfid, name,
				     O_RDWR | O_CREAT | O_EXCL, mode, c->gid,
				     &open_fid, &qid, &iounit, &hostfd);
		if (err < 0)
			open_fid = P9_NOFID;
		break;
	}
	case S_IFDIR:
		err = p9c_mkdir(g->c, dfid, name, mode, c->gid, &qid);
		break;
	case S_IFLNK:
		err = p9c_symlink(g->c, dfid, name, c->target, c->gid, &qid);
		break;
	default:
		err = p9c_mknod(g->c, dfid, name, c->mode, major(c->rdev),
				minor(c->rdev), c->gid, &qid);
		break;
	}
	uint32_t fid = P9_NOFID;
	struct p9_attr pa;
	if (err == 0) {
		const char *names[1] = {name};
		err = p9c_walk_getattr(g->c, GI(dir->inode)->fid, 1, names,
				       P9_GETATTR_BASIC | P9_GETATTR_BTIME,
				       &fid, &qid, &pa);
	}
	if (temp)
		p9c_clunk(g->c, dfid);
	invalidate(dir->inode);
	if (err == 0)
		err =
		    inode_for(dir->sb, fid, &qid, GI(dir->inode)->shared, &pa,
			      out);
	if (err == 0 && open_fid != P9_NOFID) {
		/* The open fid of the create is the new file's first
		 * read-write handle. */
		struct ginode *gi = GI(*out);
		pthread_mutex_lock(&gi->hlock);
		if (gi->wfid == P9_NOFID) {
			gi->wfid = open_fid;
			gi->wfd = hostfd;
			open_fid = P9_NOFID;
			hostfd = -1;
			if (gi->users == 0)
				idle_add(GSB(dir->sb), gi);
		}
		pthread_mutex_unlock(&gi->hlock);
		idle_trim(GSB(dir->sb));
	}
	if (open_fid != P9_NOFID)
		p9c_clunk(g->c, open_fid);
	if (hostfd >= 0)
		close(hostfd);
	return err;
}

static int gofer_link(struct vfs_dentry *dir, const char *name,
		      struct vfs_inode *target)
{
	struct gsb *g = GSB(dir->sb);
	int err = p9c_link(g->c, GI(dir->inode)->fid, GI(target)->fid, name);
	invalidate(dir->inode);
	invalidate(target);
	return err;
}

static int gofer_unlink(struct vfs_dentry *dir, const char *name,
			struct vfs_dentry *victim, bool rmdir)
{
	struct gsb *g = GSB(dir->sb);
	int err = p9c_unlinkat(g->c, GI(dir->inode)->fid, name,
			       rmdir ? P9_AT_REMOVEDIR : 0);
	invalidate(dir->inode);
	if (victim->inode)
		invalidate(victim->inode);
	return err;
}

static int gofer_rename(struct vfs_dentry *odir, const char *oname,
			struct vfs_dentry *ndir, const char *nname,
			struct vfs_dentry *ov, struct vfs_dentry *nv,
			unsigned flags)
{
	struct gsb *g = GSB(odir->sb);
	if (flags & (VFS_RENAME_EXCHANGE | VFS_RENAME_WHITEOUT))
		return -EINVAL; /* 9P2000.L has neither */
	int err = p9c_renameat(g->c, GI(odir->inode)->fid, oname,
			       GI(ndir->inode)->fid, nname);
	invalidate(odir->inode);
	invalidate(ndir->inode);
	invalidate(ov->inode);
	if (nv && nv->inode)
		invalidate(nv->inode);
	return err;
}

static int gofer_setattr(struct vfs_inode *i, const struct vfs_setattr *s)
{
	struct gsb *g = GSB(i->sb);
	struct ginode *gi = GI(i);
	struct p9_iattr ia = {0};
	int err = 0;
	if (s->valid & VFS_ATTR_SIZE) {
		pthread_mutex_lock(&gi->hlock);
		int fd = gi->wfd;
		if (fd >= 0 && ftruncate(fd, (off_t)s->size) < 0)
			err = -errno;
		pthread_mutex_unlock(&gi->hlock);
		if (fd < 0) {
			ia.valid |= P9_SETATTR_SIZE;
			ia.size = s->size;
		}
	}
	if (s->valid & VFS_ATTR_MODE) {
		ia.valid |= P9_SETATTR_MODE;
		ia.mode = s->mode & 07777;
	}
	if (s->valid & VFS_ATTR_UID) {
		ia.valid |= P9_SETATTR_UID;
		ia.uid = s->uid;
	}
	if (s->valid & VFS_ATTR_GID) {
		ia.valid |= P9_SETATTR_GID;
		ia.gid = s->gid;
	}
	if (s->valid & (VFS_ATTR_ATIME | VFS_ATTR_ATIME_NOW)) {
		ia.valid |= P9_SETATTR_ATIME;
		if (s->valid & VFS_ATTR_ATIME) {
			ia.valid |= P9_SETATTR_ATIME_SET;
			ia.atime_sec = (uint64_t)s->atime.tv_sec;
			ia.atime_nsec = (uint64_t)s->atime.tv_nsec;
		}
	}
	if (s->valid & (VFS_ATTR_MTIME | VFS_ATTR_MTIME_NOW)) {
		ia.valid |= P9_SETATTR_MTIME;
		if (s->valid & VFS_ATTR_MTIME) {
			ia.valid |= P9_SETATTR_MTIME_SET;
			ia.mtime_sec = (uint64_t)s->mtime.tv_sec;
			ia.mtime_nsec = (uint64_t)s->mtime.tv_nsec;
		}
	}
	if (s->valid & VFS_ATTR_CTIME)
		ia.valid |= P9_SETATTR_CTIME;
	/* A change of the size alone through the fd still needs its times
	 * (ctime) from the host: the fd's truncate set them. */
	if (err == 0 && (ia.valid & ~P9_SETATTR_CTIME))
		err = p9c_setattr(g->c, gi->fid, &ia);
	invalidate(i);
	return err;
}

static long gofer_readlink(struct vfs_inode *i, char *buf, size_t len)
{
	struct ginode *gi = GI(i);
	pthread_mutex_lock(&i->lock);
	char *t = gi->target ? strdup(gi->target) : NULL;
	pthread_mutex_unlock(&i->lock);
	if (!t) {
		char tmp[4097];
		long n = p9c_readlink(GSB(i->sb)->c, gi->fid, tmp, sizeof(tmp));
		if (n < 0)
			return n;
		t = strdup(tmp);
		if (!t)
			return -ENOMEM;
		pthread_mutex_lock(&i->lock);
		if (!gi->target)
			gi->target = strdup(t);
		pthread_mutex_unlock(&i->lock);
	}
	size_t n = strlen(t);
	if (n > len)
		n = len;
	memcpy(buf, t, n);
	free(t);
	return (long)n;
}

/* ---- xattrs ------------------------------------------------------------ */

static long gofer_getxattr(struct vfs_inode *i, const char *name, void *buf,
			   size_t len)
{
	return p9c_getxattr(GSB(i->sb)->c, GI(i)->fid, name, buf, len);
}

static int gofer_setxattr(struct vfs_inode *i, const char *name,
			  const void *val, size_t len, int flags)
{
	if (len == 0)
		return -EINVAL; /* 9P2000.L: size 0 means remove */
	int err = p9c_setxattr(GSB(i->sb)->c, GI(i)->fid, name, val, len,
			       (uint32_t)flags);
	invalidate(i);
	return err;
}

static long gofer_listxattr(struct vfs_inode *i, char *buf, size_t len)
{
	return p9c_getxattr(GSB(i->sb)->c, GI(i)->fid, "", buf, len);
}

static int gofer_removexattr(struct vfs_inode *i, const char *name)
{
	/* A removal of what is not there must say so, as Linux does. */
	long n = p9c_getxattr(GSB(i->sb)->c, GI(i)->fid, name, NULL, 0);
	if (n < 0)
		return (int)n;
	int err = p9c_setxattr(GSB(i->sb)->c, GI(i)->fid, name, NULL, 0, 0);
	invalidate(i);
	return err;
}

/* ---- regular files ----------------------------------------------------- */

/* Makes sure the inode has a handle for writing (read-write) or reading,
 * and counts one more open file on its handles. */
static int get_handle(struct vfs_inode *i, bool write)
{
	struct gsb *g = GSB(i->sb);
	struct ginode *gi = GI(i);
	int err = 0;
	pthread_mutex_lock(&gi->hlock);
	if (write ? gi->wfid != P9_NOFID
		  : (gi->rfid != P9_NOFID || gi->wfid != P9_NOFID))
		goto out;
	uint32_t fid;
	struct p9_qid q;
	uint32_t iounit;
	int fd = -1;
	err = p9c_clone_open(g->c, gi->fid, NULL, write ? O_RDWR : O_RDONLY, 0,
			     0, &fid, &q, &iounit, &fd);
	if (err < 0)
		goto out;
	if (write) {
		gi->wfid = fid;
		gi->wfd = fd;
	} else {
		gi->rfid = fid;
		gi->rfd = fd;
	}
out:
	if (err == 0 && gi->users++ == 0) {
		pthread_mutex_lock(&g->idle_lock);
		idle_del(g, gi);
		pthread_mutex_unlock(&g->idle_lock);
	}
	pthread_mutex_unlock(&gi->hlock);
	return err;
}

static void gofer_reg_release(struct file *f)
{
	struct ginode *gi = GI(f->inode);
	struct gsb *g = GSB(f->inode->sb);
	pthread_mutex_lock(&gi->hlock);
	if (--gi->users == 0)
		idle_add(g, gi);
	pthread_mutex_unlock(&gi->hlock);
	idle_trim(g);
}

static int gofer_open(struct task *t, struct file *f, int flags)
{
	(void)t;
	struct vfs_inode *i = f->inode;
	if (S_ISDIR(i->type)) {
		f->ops = &gofer_dir_fops;
		return 0;
	}
	if (!S_ISREG(i->type))
		return -ENXIO;
	int err = get_handle(i, (flags & O_ACCMODE) != O_RDONLY);
	if (err < 0)
		return err;
	f->ops = &gofer_reg_fops;
	return 0;
}

/* The fid and host fd to use for reading or writing. */
static void handle(struct ginode *gi, bool write, uint32_t *fid, int *fd)
{
	pthread_mutex_lock(&gi->hlock);
	if (write || gi->rfid == P9_NOFID) {
		*fid = gi->wfid;
		*fd = gi->wfd;
	} else {
		*fid = gi->rfid;
		*fd = gi->rfd;
	}
	pthread_mutex_unlock(&gi->hlock);
}

static long gofer_read(struct task *t, struct file *f, void *buf, size_t n,
		       uint64_t *pos)
{
	(void)t;
	struct ginode *gi = GI(f->inode);
	struct gsb *g = GSB(f->inode->sb);
	uint32_t fid;
	int fd;
	handle(gi, false, &fid, &fd);
	if (fd >= 0) {
		ssize_t r;
		do
			r = pread(fd, buf, n, (off_t)*pos);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		*pos += (uint64_t)r;
		return r;
	}
	size_t done = 0;
	while (done < n) {
		size_t c = n - done < g->iounit ? n - done : g->iounit;
		ssize_t r =
		    p9c_read(g->c, fid, *pos + done, (char *)buf + done, c);
		if (r < 0)
			return done ? (long)done : r;
		done += (size_t)r;
		if ((size_t)r < c)
			break;
	}
	*pos += done;
	return (long)done;
}

static long gofer_write(struct task *t, struct file *f, const void *buf,
			size_t n, uint64_t *pos)
{
	struct vfs_inode *i = f->inode;
	struct ginode *gi = GI(i);
	struct gsb *g = GSB(i->sb);
	uint32_t fid;
	int fd;
	bool append = atomic_load(&f->flags) & O_APPEND;
	handle(gi, true, &fid, &fd);
	if (fid == P9_NOFID)
		return -EBADF;
	if (append)
		pthread_mutex_lock(&i->rwsem); /* appenders one at a time */
	uint64_t off = *pos;
	long r = 0;
	if (append) {
		struct vfs_attr a;
		invalidate(i);
		r = gofer_getattr(i, &a);
		off = a.size;
	}
	if (r == 0 && t) {
		uint64_t lim = task_rlimit_cur(t, RLIMIT_FSIZE);
		if (off >= lim)
			r = -EFBIG;
		else if (n > lim - off)
			n = (size_t)(lim - off);
	}
	if (r == 0 && fd >= 0) {
		do
			r = pwrite(fd, buf, n, (off_t)off);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			r = -errno;
	} else if (r == 0) {
		size_t done = 0;
		while (done < n) {
			size_t c = n - done < g->iounit ? n - done : g->iounit;
			ssize_t w = p9c_write(g->c, fid, off + done,
					      (const char *)buf + done, c);
			if (w < 0) {
				r = done ? (long)done : w;
				break;
			}
			done += (size_t)w;
			r = (long)done;
			if ((size_t)w < c)
				break;
		}
	}
	if (append)
		pthread_mutex_unlock(&i->rwsem);
	if (r > 0)
		*pos = off + (uint64_t)r;
	invalidate(i);
	return r;
}

static long gofer_llseek(struct file *f, int64_t off, int whence, uint64_t *pos)
{
	struct ginode *gi = GI(f->inode);
	uint32_t fid;
	int fd;
	handle(gi, false, &fid, &fd); /* in use by f: not closed under us */
	if ((whence == SEEK_DATA || whence == SEEK_HOLE) && fd >= 0) {
		off_t r = lseek(fd, off, whence);
		if (r < 0)
			return -errno;
		*pos = (uint64_t)r;
		return (long)r;
	}
	struct vfs_attr a;
	int err = gofer_getattr(f->inode, &a);
	if (err < 0)
		return err;
	return vfs_generic_llseek(f, off, whence, pos, a.size);
}

static int gofer_fsync(struct file *f, bool datasync)
{
	struct ginode *gi = GI(f->inode);
	uint32_t fid;
	int fd;
	if (S_ISDIR(f->inode->type))
		return 0; /* the gofer's directory changes are synchronous */
	handle(gi, (f->mode & FMODE_WRITE) != 0, &fid, &fd);
	if (fd >= 0)
		return (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
	return p9c_fsync(GSB(f->inode->sb)->c, fid, datasync);
}

static int gofer_fallocate(struct file *f, int mode, uint64_t off, uint64_t len)
{
	uint32_t fid;
	int fd;
	handle(GI(f->inode), true, &fid, &fd);
	if (fd < 0)
		return -EOPNOTSUPP;
	int r = fallocate(fd, mode, (off_t)off, (off_t)len);
	invalidate(f->inode);
	return r < 0 ? -errno : 0;
}

static int gofer_mmap_fd(struct file *f)
{
	uint32_t fid;
	int fd;
	handle(GI(f->inode), (f->mode & FMODE_WRITE) != 0, &fid, &fd);
	if (fd < 0)
		return -ENODEV;
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return n < 0 ? -errno : n;
}

static int gofer_io_fd(struct file *f)
{
	uint32_t fid;
	int fd;
	handle(GI(f->inode), false, &fid, &fd);
	if (fd < 0)
		return -ENODEV;
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return n < 0 ? -errno : n;
}

/* ---- directories ------------------------------------------------------- */

struct dirent_snap {
	char *name;
	uint64_t ino;
	uint8_t type;
};

struct dir_snap {
	struct dirent_snap *e;
	size_t n;
};

static void snap_free(struct dir_snap *s)
{
	if (!s)
		return;
	for (size_t k = 0; k < s->n; k++)
		free(s->e[k].name);
	free(s->e);
	free(s);
}

/* Reads the whole directory: offsets of a listing in progress stay valid
 * whatever the host's cookies are. */
static int snapshot(struct vfs_inode *i, struct dir_snap **out)
{
	struct gsb *g = GSB(i->sb);
	uint32_t fid;
	struct p9_qid q;
	uint32_t iounit;
	int err = p9c_clone_open(g->c, GI(i)->fid, NULL, O_RDONLY | O_DIRECTORY,
				 0, 0, &fid, &q, &iounit, NULL);
	if (err < 0)
		return err;
	struct dir_snap *s = calloc(1, sizeof(*s));
	size_t cap = 0;
	size_t blen = g->iounit < 65536 ? g->iounit : 65536;
	char *buf = malloc(blen);
	uint64_t off = 0;
	if (!s || !buf)
		err = -ENOMEM;
	while (err == 0) {
		ssize_t n = p9c_readdir(g->c, fid, off, buf, blen);
		if (n < 0)
			err = (int)n;
		if (n <= 0)
			break;
		for (ssize_t p = 0; p < n;) {
			struct p9_dirent d;
			ssize_t used =
			    p9_dirent_decode(buf + p, (size_t)(n - p), &d);
			if (used < 0) {
				err = -EPROTO;
				break;
			}
			p += used;
			off = d.offset;
			if (s->n == cap) {
				cap = cap ? cap * 2 : 64;
				void *e = realloc(s->e, cap * sizeof(*s->e));
				if (!e) {
					err = -ENOMEM;
					break;
				}
				s->e = e;
			}
			char *name = strndup(d.name.s, d.name.len);
			if (!name) {
				err = -ENOMEM;
				break;
			}
			s->e[s->n++] =
			    (struct dirent_snap){name, d.qid.path, d.type};
		}
	}
	free(buf);
	release_fid(g, fid);
	if (err < 0) {
		snap_free(s);
		return err;
	}
	*out = s;
	return 0;
}

static int gofer_iterate(struct task *t, struct file *f,
			 struct vfs_dir_ctx *ctx)
{
	(void)t;
	struct dir_snap *s = f->priv;
	if (!s || ctx->pos == 0) {
		/* A new listing (or a rewind): read it afresh. */
		struct dir_snap *n;
		int err = snapshot(f->inode, &n);
		if (err < 0)
			return err;
		snap_free(s);
		f->priv = s = n;
	}
	if (!vfs_dir_emit_dots(f, ctx))
		return 0;
	for (uint64_t k = ctx->pos - 2; k < s->n; k++) {
		struct dirent_snap *e = &s->e[k];
		if (!ctx->emit(ctx, e->name, strlen(e->name), e->ino, e->type,
			       k + 3))
			break;
		ctx->pos = k + 3;
	}
	return 0;
}

static void gofer_dir_release(struct file *f)
{
	snap_free(f->priv);
	f->priv = NULL;
}

/* ---- tables ------------------------------------------------------------ */

static const struct vfs_inode_ops gofer_iops = {
    .lookup = gofer_lookup,
    .revalidate = gofer_revalidate,
    .getattr = gofer_getattr,
    .setattr = gofer_setattr,
    .create = gofer_create,
    .link = gofer_link,
    .unlink = gofer_unlink,
    .rename = gofer_rename,
    .readlink = gofer_readlink,
    .open = gofer_open,
    .getxattr = gofer_getxattr,
    .setxattr = gofer_setxattr,
    .listxattr = gofer_listxattr,
    .removexattr = gofer_removexattr,
    .evict = gofer_evict,
};

static const struct file_ops gofer_reg_fops = {
    .release = gofer_reg_release,
    .read = gofer_read,
    .write = gofer_write,
    .llseek = gofer_llseek,
    .fsync = gofer_fsync,
    .fallocate = gofer_fallocate,
    .mmap_fd = gofer_mmap_fd,
    .io_fd = gofer_io_fd,
};

static const struct file_ops gofer_dir_fops = {
    .iterate = gofer_iterate,
    .fsync = gofer_fsync,
    .release = gofer_dir_release,
};

static int gofer_statfs(struct vfs_sb *sb, struct statfs *st)
{
	struct gsb *g = GSB(sb);
	struct p9_statfs ps;
	int err = p9c_statfs(g->c, g->root_fid, &ps);
	if (err < 0)
		return err;
	st->f_bsize = ps.bsize;
	st->f_frsize = ps.bsize;
	st->f_blocks = ps.blocks;
	st->f_bfree = ps.bfree;
	st->f_bavail = ps.bavail;
	st->f_files = ps.files;
	st->f_ffree = ps.ffree;
	st->f_namelen = ps.namelen;
	return 0;
}

static int gofer_sync(struct vfs_sb *sb)
{
	(void)sb;
	return 0; /* writes went to the host files already */
}

static void gofer_release(struct vfs_sb *sb)
{
	struct gsb *g = GSB(sb);
	if (g->clunk_thread) {
		pthread_mutex_lock(&g->clunk_lock);
		g->clunk_stop = true;
		pthread_cond_signal(&g->clunk_cond);
		pthread_mutex_unlock(&g->clunk_lock);
		pthread_join(g->clunker, NULL);
	}
	free(g->clunks);
	p9c_close(g->c);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static const struct vfs_sb_ops gofer_sb_ops = {
    .statfs = gofer_statfs,
    .sync = gofer_sync,
    .release = gofer_release,
};

int gofer_fs_new(int sock, uint32_t uid, struct vfs_sb **out)
{
	struct p9c_opts o = {.want_fds = true};
	struct p9c *c;
	int err = p9c_connect(sock, &o, &c);
	if (err < 0)
		return err;
	struct gsb *g = calloc(1, sizeof(*g));
	if (!g) {
		p9c_close(c);
		return -ENOMEM;
	}
	g->c = c;
	g->uid = uid;
	g->iounit = p9c_iounit(c);
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->idle_lock, NULL);
	pthread_mutex_init(&g->clunk_lock, NULL);
	pthread_cond_init(&g->clunk_cond, NULL);
	/* Without the worker every clunk is simply synchronous. */
	g->clunk_thread =
	    pthread_create(&g->clunker, NULL, clunk_worker, g) == 0;
	struct p9_qid qid;
	char uname[16];
	snprintf(uname, sizeof(uname), "%u", uid);
	err = p9c_attach(c, uname, "", uid, &g->root_fid, &qid);
	struct vfs_sb *sb = NULL;
	if (err == 0) {
		sb = vfs_sb_new("9p", 0x01021997 /* V9FS_MAGIC */,
				&gofer_sb_ops, g);
		if (!sb)
			err = -ENOMEM;
	}
	if (err < 0) {
		if (sb) {
			vfs_sb_put(sb); /* gofer_release closes and frees */
		} else {
			p9c_close(c);
			pthread_mutex_destroy(&g->lock);
			free(g);
		}
		return err;
	}
	uint32_t fid;
	struct vfs_inode *root;
	err = p9c_walk(c, g->root_fid, 0, NULL, &fid, NULL);
	if (err == 0)
		err = inode_for(sb, fid, &qid, false, NULL, &root);
	if (err == 0)
		err = vfs_sb_set_root(sb, root);
	if (err < 0) {
		vfs_sb_put(sb);
		return err;
	}
	*out = sb;
	return 0;
}

bool gofer_fds_enabled(struct vfs_sb *sb)
{
	return p9c_fds_enabled(GSB(sb)->c);
}
