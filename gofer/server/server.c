/* The gofer's 9P2000.L server: one connection, one request at a time.
 *
 * Each fid holds an O_PATH fd of the file it names, obtained one name at a
 * time with openat(O_NOFOLLOW) from the fd of its parent: no path string
 * is ever resolved by the kernel on the client's behalf, so a rename or a
 * symlink swapped in by someone else cannot lead outside the tree. Opening
 * a fid reopens its very inode through /proc/self/fd (never by name). */
#define _GNU_SOURCE
#include "gofer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "gofer/proto/p9.h"
#include "lib/log.h"

/* A connection holds an O_PATH fd per fid; stay well under the process's
 * open-files limit so one client cannot exhaust it. */
#define MAX_FIDS    8192
#define FID_BUCKETS 1024
#define MAX_DEVS    255
#define XATTR_MAX   65536

enum fid_kind { FID_FILE, FID_XATTR_READ, FID_XATTR_WRITE };

struct fid {
	uint32_t id;
	enum fid_kind kind;
	int fd;	       /* O_PATH of the file */
	int ofd;       /* opened by Tlopen/Tlcreate, else -1 */
	mode_t type;   /* S_IFMT bits */
	uint32_t uid;  /* owner given to what this fid creates */
	off_t dirpos;  /* where ofd's directory stream stands */
	int pfd;       /* symlinks only: O_PATH of the parent */
	char *name;    /* symlinks only: name in the parent */
	uint8_t *xbuf; /* xattr value or list */
	size_t xsize, xlen;
	char *xname;
	int xflags;
	struct fid *next;
};

struct conn {
	int sock, root_fd, proc_fd;
	uint32_t max_msize, msize;
	bool versioned, fds, can_fds, ro;
	struct fid *fids[FID_BUCKETS];
	unsigned nfids;
	uint64_t devs[MAX_DEVS];
	unsigned ndevs;
	uint8_t *in, *out;
	size_t incap, inoff, inlen;
	int send_fd;	     /* fd to attach to the reply being sent, or -1 */
	char link[PATH_MAX]; /* Rreadlink's text until it is encoded */
};

/* ---- fids ---- */

static struct fid *fid_get(struct conn *c, uint32_t id)
{
	for (struct fid *f = c->fids[id % FID_BUCKETS]; f; f = f->next)
		if (f->id == id)
			return f;
	return NULL;
}

static void fid_free_state(struct fid *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->ofd >= 0)
		close(f->ofd);
	if (f->pfd >= 0)
		close(f->pfd);
	free(f->name);
	free(f->xbuf);
	free(f->xname);
}

static int fid_new(struct conn *c, uint32_t id, struct fid **out)
{
	if (id == P9_NOFID)
		return -EINVAL;
	if (fid_get(c, id))
		return -EEXIST;
	if (c->nfids >= MAX_FIDS)
		return -EMFILE;
	struct fid *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->id = id;
	f->fd = f->ofd = f->pfd = -1;
	f->next = c->fids[id % FID_BUCKETS];
	c->fids[id % FID_BUCKETS] = f;
	c->nfids++;
	*out = f;
	return 0;
}

static void fid_del(struct conn *c, struct fid *f)
{
	struct fid **pp = &c->fids[f->id % FID_BUCKETS];
	while (*pp != f)
		pp = &(*pp)->next;
	*pp = f->next;
	c->nfids--;
	fid_free_state(f);
	free(f);
}

static void fid_del_all(struct conn *c)
{
	for (unsigned b = 0; b < FID_BUCKETS; b++)
		while (c->fids[b])
			fid_del(c, c->fids[b]);
}

/* ---- helpers ---- */

/* A name the client may use in a directory: one component, nothing that
 * means "here" or "up". */
static int name_ok(struct p9_str s, char out[NAME_MAX + 1])
{
	if (s.len == 0 || s.len > NAME_MAX)
		return s.len ? -ENAMETOOLONG : -EINVAL;
	if (memchr(s.s, '/', s.len))
		return -EINVAL;
	if ((s.len == 1 && s.s[0] == '.') ||
	    (s.len == 2 && s.s[0] == '.' && s.s[1] == '.'))
		return -EINVAL;
	memcpy(out, s.s, s.len);
	out[s.len] = 0;
	return 0;
}

static int fd_stat(int fd, struct statx *st)
{
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		  STATX_BASIC_STATS | STATX_BTIME, st) < 0)
		return -errno;
	return 0;
}

/* Files on different mounts may share inode numbers: the top byte of a
 * qid path numbers the device (the first one seen keeps plain inodes). */
static uint64_t qid_path(struct conn *c, uint32_t major, uint32_t minor,
			 uint64_t ino)
{
	uint64_t dev = (uint64_t)major << 32 | minor;
	unsigned i;
	for (i = 0; i < c->ndevs; i++)
		if (c->devs[i] == dev)
			break;
	if (i == c->ndevs && c->ndevs < MAX_DEVS)
		c->devs[c->ndevs++] = dev;
	/* past MAX_DEVS mounts, the extra ones share the last index */
	if (i >= MAX_DEVS)
		i = MAX_DEVS - 1;
	return (uint64_t)i << 56 | (ino & ((1ULL << 56) - 1));
}

static uint8_t qid_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return P9_QTDIR;
	if (S_ISLNK(mode))
		return P9_QTSYMLINK;
	return P9_QTFILE;
}

static struct p9_qid make_qid(struct conn *c, const struct statx *st)
{
	return (struct p9_qid){
	    .type = qid_type(st->stx_mode),
	    .version = 0,
	    .path =
		qid_path(c, st->stx_dev_major, st->stx_dev_minor, st->stx_ino),
	};
}

/* The magic link of fd under our procfs, for reopening that very inode. */
static void proc_name(char *buf, size_t n, int fd)
{
	snprintf(buf, n, "self/fd/%d", fd);
}

static int reopen(struct conn *c, int fd, int flags)
{
	char p[32];
	proc_name(p, sizeof(p), fd);
	int r = openat(c->proc_fd, p, flags | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

static struct fid *file_fid(struct conn *c, uint32_t id)
{
	struct fid *f = fid_get(c, id);
	return f && f->kind == FID_FILE ? f : NULL;
}

static int dir_fid(struct conn *c, uint32_t id, struct fid **out)
{
	struct fid *f = file_fid(c, id);
	if (!f)
		return -EBADF;
	if (!S_ISDIR(f->type))
		return -ENOTDIR;
	*out = f;
	return 0;
}

/* ---- handlers: each fills r (type set by the caller) or returns -errno */

static int h_version(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	/* A new version starts a new session: earlier fids are gone. */
	fid_del_all(c);
	c->versioned = false;
	c->fds = false;
	uint32_t msize = t->u.version.msize;
	if (msize > c->max_msize)
		msize = c->max_msize;
	r->u.version.msize = msize;
	if (msize < P9_MIN_MSIZE) {
		r->u.version.version = p9_str(P9_VERSION_UNKNOWN);
		return 0;
	}
	if (p9_str_eq(t->u.version.version, P9_VERSION_L_FDS) && c->can_fds) {
		c->fds = true;
		r->u.version.version = p9_str(P9_VERSION_L_FDS);
	} else if (p9_str_eq(t->u.version.version, P9_VERSION_L) ||
		   p9_str_eq(t->u.version.version, P9_VERSION_L_FDS)) {
		r->u.version.version = p9_str(P9_VERSION_L);
	} else {
		r->u.version.version = p9_str(P9_VERSION_UNKNOWN);
		return 0;
	}
	c->msize = msize;
	c->versioned = true;
	return 0;
}

static int h_attach(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f;
	struct statx st;
	int e;

	if (t->u.tattach.afid != P9_NOFID)
		return -EINVAL; /* no authentication: there is no afid */
	/* The aname is not used: one connection serves one tree. */
	if ((e = fid_new(c, t->u.tattach.fid, &f)) < 0)
		return e;
	f->fd = fcntl(c->root_fd, F_DUPFD_CLOEXEC, 0);
	if (f->fd < 0 || (e = fd_stat(f->fd, &st)) < 0) {
		e = f->fd < 0 ? -errno : e;
		fid_del(c, f);
		return e;
	}
	f->type = st.stx_mode & S_IFMT;
	f->uid = t->u.tattach.n_uname == P9_NONUNAME ? 0 : t->u.tattach.n_uname;
	r->u.rattach.qid = make_qid(c, &st);
	return 0;
}

static int h_walk(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.twalk.fid), *nf = NULL;
	uint32_t newid = t->u.twalk.newfid;
	int cur = -1, parent = -1, e = 0;
	char name[NAME_MAX + 1] = "";
	struct statx st;
	unsigned i;

	if (!f)
		return -EBADF;
	if (newid != f->id && fid_get(c, newid))
		return -EEXIST;
	cur = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -errno;
	mode_t type = f->type;
	for (i = 0; i < t->u.twalk.nwname; i++) {
		if ((e = name_ok(t->u.twalk.wname[i], name)) < 0)
			break;
		int next = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			e = -errno;
			break;
		}
		if ((e = fd_stat(next, &st)) < 0) {
			close(next);
			break;
		}
		if (parent >= 0)
			close(parent);
		parent = cur;
		cur = next;
		type = st.stx_mode & S_IFMT;
		r->u.rwalk.wqid[i] = make_qid(c, &st);
	}
	r->u.rwalk.nwqid = (uint16_t)i;
	if (i < t->u.twalk.nwname) {
		/* A walk that stops early creates no fid; only a failure of
		 * the first name is an error. */
		close(cur);
		if (parent >= 0)
			close(parent);
		return i == 0 ? e : 0;
	}
	if (newid == f->id) {
		nf = f;
		fid_free_state(nf);
		nf->fd = nf->ofd = nf->pfd = -1;
		nf->name = NULL;
		nf->xbuf = NULL;
		nf->xname = NULL;
	} else if ((e = fid_new(c, newid, &nf)) < 0) {
		close(cur);
		if (parent >= 0)
			close(parent);
		return e;
	} else {
		nf->uid = f->uid;
	}
	nf->fd = cur;
	nf->type = type;
	nf->kind = FID_FILE;
	if (S_ISLNK(type)) {
		/* Times of a symlink can only be set through its parent. */
		if (i > 0) {
			nf->pfd = parent;
			parent = -1;
			nf->name = strdup(name);
		} else if (f != nf && f->pfd >= 0) {
			nf->pfd = fcntl(f->pfd, F_DUPFD_CLOEXEC, 0);
			nf->name = f->name ? strdup(f->name) : NULL;
		}
	}
	if (parent >= 0)
		close(parent);
	return 0;
}

static int open_flags(uint32_t flags)
{
	/* 9P2000.L flags have Linux's x86 values; keep only those that make
	 * sense for reopening an existing file. */
	return (int)(flags & (O_ACCMODE | O_TRUNC | O_APPEND | O_DSYNC |
			      O_DIRECT | O_NOATIME | O_SYNC)) |
	       O_NOCTTY;
}

static bool writes(uint32_t flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static int h_lopen(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.tlopen.fid);
	struct statx st;
	int e;

	if (!f)
		return -EBADF;
	if (f->ofd >= 0)
		return -EINVAL; /* already open */
	int fl = open_flags(t->u.tlopen.flags);
	if (S_ISLNK(f->type))
		return -ELOOP;
	if (S_ISDIR(f->type)) {
		if ((fl & O_ACCMODE) != O_RDONLY)
			return -EISDIR;
		fl = O_RDONLY | O_DIRECTORY;
	} else if (!S_ISREG(f->type)) {
		/* Devices, FIFOs and sockets are the sentry's to emulate;
		 * opening a device node of the image could reach the host. */
		return -EPERM;
	}
	if (writes(t->u.tlopen.flags) && c->ro)
		return -EROFS;
	int ofd = reopen(c, f->fd, fl);
	if (ofd < 0)
		return ofd;
	if ((e = fd_stat(ofd, &st)) < 0) {
		close(ofd);
		return e;
	}
	f->ofd = ofd;
	f->dirpos = 0;
	r->u.ropen.qid = make_qid(c, &st);
	r->u.ropen.iounit = c->msize - P9_IOHDRSZ;
	if (c->fds && S_ISREG(f->type))
		c->send_fd = ofd;
	return 0;
}

/* Gives a file the client's owner; chown clears set-id bits, so those are
 * put back afterwards. */
static int set_owner(int dirfd, const char *name, int fd, uint32_t uid,
		     uint32_t gid, uint32_t mode)
{
	int r = fd >= 0 ? fchown(fd, uid, gid)
			: fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
	if (r < 0) {
		/* An unprivileged gofer (tests) creates files as itself. */
		if (errno == EPERM && geteuid() != 0)
			return 0;
		return -errno;
	}
	if ((mode & (S_ISUID | S_ISGID)) && fd >= 0 &&
	    fchmod(fd, mode & 07777) < 0)
		return -errno;
	return 0;
}

static int h_lcreate(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *d;
	char name[NAME_MAX + 1];
	struct statx st;
	int e;
	uint32_t flags = t->u.tlcreate.flags, mode = t->u.tlcreate.mode & 07777;

	if ((e = dir_fid(c, t->u.tlcreate.fid, &d)) < 0)
		return e;
	if (d->ofd >= 0)
		return -EINVAL;
	if ((e = name_ok(t->u.tlcreate.name, name)) < 0)
		return e;
	if (c->ro)
		return -EROFS;
	int fl = open_flags(flags) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	bool created = true;
	int ofd = openat(d->fd, name, fl | O_CREAT | O_EXCL, mode);
	if (ofd < 0 && errno == EEXIST && !(flags & O_EXCL)) {
		/* Without O_EXCL an existing file is opened, and keeps its
		 * owner. O_NONBLOCK: a FIFO there must not block us. */
		created = false;
		ofd = openat(d->fd, name, fl);
	}
	if (ofd < 0)
		return -errno;
	if ((e = fd_stat(ofd, &st)) < 0)
		goto fail;
	if (!S_ISREG(st.stx_mode)) {
		e = S_ISDIR(st.stx_mode) ? -EISDIR : -EEXIST;
		goto fail;
	}
	if (fcntl(ofd, F_SETFL, fl & ~O_NONBLOCK & ~O_ACCMODE) < 0) {
		e = -errno;
		goto fail;
	}
	if (created && (e = set_owner(d->fd, name, ofd, d->uid,
				      t->u.tlcreate.gid, mode)) < 0)
		goto fail;
	int pfd = reopen(c, ofd, O_PATH);
	if (pfd < 0) {
		e = pfd;
		goto fail;
	}
	close(d->fd);
	d->fd = pfd;
	d->ofd = ofd;
	d->type = S_IFREG;
	r->u.ropen.qid = make_qid(c, &st);
	r->u.ropen.iounit = c->msize - P9_IOHDRSZ;
	if (c->fds)
		c->send_fd = ofd;
	return 0;
fail:
	close(ofd);
	if (created)
		unlinkat(d->fd, name, 0);
	return e;
}

static int h_read(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = fid_get(c, t->u.tread.fid);
	uint32_t count = t->u.tread.count;
	uint8_t *dst = c->out + P9_RREAD_DATA_OFF;

	if (!f)
		return -EBADF;
	if (count > c->msize - P9_RREAD_DATA_OFF)
		count = c->msize - P9_RREAD_DATA_OFF;
	if (f->kind == FID_XATTR_READ) {
		uint64_t off = t->u.tread.offset;
		size_t n = off >= f->xsize ? 0 : f->xsize - (size_t)off;
		if (n > count)
			n = count;
		memcpy(dst, f->xbuf + (off < f->xsize ? off : 0), n);
		r->u.rread.count = (uint32_t)n;
		r->u.rread.data = dst;
		return 0;
	}
	if (f->kind != FID_FILE || f->ofd < 0)
		return -EBADF;
	if (S_ISDIR(f->type))
		return -EISDIR;
	if (t->u.tread.offset > INT64_MAX)
		return -EINVAL;
	ssize_t n = pread(f->ofd, dst, count, (off_t)t->u.tread.offset);
	if (n < 0)
		return -errno;
	r->u.rread.count = (uint32_t)n;
	r->u.rread.data = dst;
	return 0;
}

static int h_write(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = fid_get(c, t->u.twrite.fid);
	if (!f)
		return -EBADF;
	if (f->kind == FID_XATTR_WRITE) {
		/* The value arrives in order, in pieces. */
		if (t->u.twrite.offset != f->xlen ||
		    t->u.twrite.count > f->xsize - f->xlen)
			return -EINVAL;
		memcpy(f->xbuf + f->xlen, t->u.twrite.data, t->u.twrite.count);
		f->xlen += t->u.twrite.count;
		r->u.rwrite.count = t->u.twrite.count;
		return 0;
	}
	if (f->kind != FID_FILE || f->ofd < 0)
		return -EBADF;
	if (t->u.twrite.offset > INT64_MAX)
		return -EINVAL;
	ssize_t n = pwrite(f->ofd, t->u.twrite.data, t->u.twrite.count,
			   (off_t)t->u.twrite.offset);
	if (n < 0)
		return -errno;
	r->u.rwrite.count = (uint32_t)n;
	return 0;
}

static int xattr_fd(struct conn *c, struct fid *f)
{
	/* The xattr calls need a real open file, not an O_PATH one. */
	if (f->ofd >= 0) {
		int fd = fcntl(f->ofd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	if (S_ISDIR(f->type))
		return reopen(c, f->fd, O_RDONLY | O_DIRECTORY);
	if (S_ISREG(f->type))
		return reopen(c, f->fd, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	return -EOPNOTSUPP;
}

static int h_clunk_xattr(struct conn *c, struct fid *f)
{
	if (f->xlen != f->xsize)
		return -EINVAL; /* the value never fully arrived */
	int fd = xattr_fd(c, f);
	if (fd < 0)
		return fd;
	int r;
	/* 9P2000.L has no removexattr: a create of size 0 means remove. */
	if (f->xsize == 0)
		r = fremovexattr(fd, f->xname);
	else
		r = fsetxattr(fd, f->xname, f->xbuf, f->xsize, f->xflags);
	r = r < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int h_clunk(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = fid_get(c, t->u.tfid.fid);
	if (!f)
		return -EBADF;
	int e = f->kind == FID_XATTR_WRITE ? h_clunk_xattr(c, f) : 0;
	fid_del(c, f); /* gone even if the xattr could not be set */
	return e;
}

static int h_remove(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = fid_get(c, t->u.tfid.fid);
	if (!f)
		return -EBADF;
	/* Removing by fid would need the name it was reached by, which can
	 * have changed: Tunlinkat is the supported way. Tremove clunks. */
	fid_del(c, f);
	return -EOPNOTSUPP;
}

static int h_getattr(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.tgetattr.fid);
	struct statx st;
	int e;

	if (!f)
		return -EBADF;
	if ((e = fd_stat(f->fd, &st)) < 0)
		return e;
	struct p9_attr *a = &r->u.rgetattr;
	a->valid = P9_GETATTR_BASIC;
	a->qid = make_qid(c, &st);
	a->mode = st.stx_mode;
	a->uid = st.stx_uid;
	a->gid = st.stx_gid;
	a->nlink = st.stx_nlink;
	a->rdev = (uint64_t)makedev(st.stx_rdev_major, st.stx_rdev_minor);
	a->size = st.stx_size;
	a->blksize = st.stx_blksize;
	a->blocks = st.stx_blocks;
	a->atime_sec = (uint64_t)st.stx_atime.tv_sec;
	a->atime_nsec = st.stx_atime.tv_nsec;
	a->mtime_sec = (uint64_t)st.stx_mtime.tv_sec;
	a->mtime_nsec = st.stx_mtime.tv_nsec;
	a->ctime_sec = (uint64_t)st.stx_ctime.tv_sec;
	a->ctime_nsec = st.stx_ctime.tv_nsec;
	if (st.stx_mask & STATX_BTIME) {
		a->valid |= P9_GETATTR_BTIME;
		a->btime_sec = (uint64_t)st.stx_btime.tv_sec;
		a->btime_nsec = st.stx_btime.tv_nsec;
	}
	return 0;
}

static struct timespec set_time(uint32_t valid, uint32_t now_bit,
				uint32_t set_bit, uint64_t sec, uint64_t nsec)
{
	if (!(valid & now_bit))
		return (struct timespec){0, UTIME_OMIT};
	if (!(valid & set_bit))
		return (struct timespec){0, UTIME_NOW};
	return (struct timespec){(time_t)sec, (long)nsec};
}

static int h_setattr(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.tsetattr.fid);
	const struct p9_iattr *a = &t->u.tsetattr.attr;
	char p[32];

	if (!f)
		return -EBADF;
	if (c->ro && (a->valid & ~P9_SETATTR_CTIME))
		return -EROFS;
	proc_name(p, sizeof(p), f->fd);
	if (a->valid & P9_SETATTR_SIZE) {
		if (!S_ISREG(f->type))
			return S_ISDIR(f->type) ? -EISDIR : -EINVAL;
		if (a->size > INT64_MAX)
			return -EFBIG;
		int fd = f->ofd;
		if (fd < 0 || (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
			fd = reopen(c, f->fd, O_WRONLY | O_NONBLOCK);
		if (fd < 0)
			return fd;
		int e = ftruncate(fd, (off_t)a->size) < 0 ? -errno : 0;
		if (fd != f->ofd)
			close(fd);
		if (e)
			return e;
	}
	if (a->valid & (P9_SETATTR_UID | P9_SETATTR_GID)) {
		uid_t u = a->valid & P9_SETATTR_UID ? a->uid : (uid_t)-1;
		gid_t g = a->valid & P9_SETATTR_GID ? a->gid : (gid_t)-1;
		if (fchownat(f->fd, "", u, g, AT_EMPTY_PATH) < 0)
			return -errno;
	}
	if (a->valid & P9_SETATTR_MODE) {
		/* Linux has no mode on symlinks. */
		if (S_ISLNK(f->type))
			return -EOPNOTSUPP;
		if (fchmodat(c->proc_fd, p, a->mode & 07777, 0) < 0)
			return -errno;
	}
	if (a->valid & (P9_SETATTR_ATIME | P9_SETATTR_MTIME)) {
		struct timespec ts[2] = {
		    set_time(a->valid, P9_SETATTR_ATIME, P9_SETATTR_ATIME_SET,
			     a->atime_sec, a->atime_nsec),
		    set_time(a->valid, P9_SETATTR_MTIME, P9_SETATTR_MTIME_SET,
			     a->mtime_sec, a->mtime_nsec),
		};
		int e;
		if (S_ISLNK(f->type)) {
			if (f->pfd < 0 || !f->name)
				return -EOPNOTSUPP;
			e = utimensat(f->pfd, f->name, ts, AT_SYMLINK_NOFOLLOW);
		} else {
			e = utimensat(c->proc_fd, p, ts, 0);
		}
		if (e < 0)
			return -errno;
	}
	return 0;
}

static int h_readdir(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.tread.fid);
	uint32_t count = t->u.tread.count;
	uint8_t *dst = c->out + P9_READDIRHDRSZ;
	char dbuf[32768];
	uint32_t used = 0;

	if (!f || f->ofd < 0)
		return -EBADF;
	if (!S_ISDIR(f->type))
		return -ENOTDIR;
	if (count > c->msize - P9_READDIRHDRSZ)
		count = c->msize - P9_READDIRHDRSZ;
	if (t->u.tread.offset > INT64_MAX)
		return -EINVAL;
	off_t want = (off_t)t->u.tread.offset;
	if (want != f->dirpos) {
		if (lseek(f->ofd, want, SEEK_SET) < 0)
			return -errno;
		f->dirpos = want;
	}
	struct statx dst_st;
	int e = fd_stat(f->ofd, &dst_st);
	if (e < 0)
		return e;
	size_t chunk = count < sizeof(dbuf) ? count : sizeof(dbuf);
	if (chunk < 512)
		chunk = 512; /* room for the longest single entry */
	bool full = false;
	while (!full) {
		ssize_t n = getdents64(f->ofd, dbuf, chunk);
		if (n < 0)
			return used ? 0 : -errno;
		if (n == 0)
			break;
		for (ssize_t pos = 0; pos < n;) {
			struct dirent64 *de = (struct dirent64 *)(dbuf + pos);
			/* "." and ".." are the sentry's to make up: it knows
			 * the parent, and no client should walk them. */
			if (de->d_name[0] == '.' &&
			    (de->d_name[1] == 0 ||
			     (de->d_name[1] == '.' && de->d_name[2] == 0))) {
				f->dirpos = de->d_off;
				pos += de->d_reclen;
				continue;
			}
			struct p9_dirent pd = {
			    .qid = {.type = de->d_type == DT_DIR ? P9_QTDIR
					    : de->d_type == DT_LNK
						? P9_QTSYMLINK
						: P9_QTFILE,
				    .path = qid_path(c, dst_st.stx_dev_major,
						     dst_st.stx_dev_minor,
						     de->d_ino)},
			    .offset = (uint64_t)de->d_off,
			    .type = de->d_type,
			    .name = p9_str(de->d_name),
			};
			ssize_t w =
			    p9_dirent_encode(&pd, dst + used, count - used);
			if (w < 0) {
				full = true;
				break;
			}
			used += (uint32_t)w;
			f->dirpos = de->d_off;
			pos += de->d_reclen;
		}
		if (full || used)
			break; /* one batch per request keeps replies prompt */
	}
	if (full && used == 0)
		return -EINVAL; /* count too small for the next entry */
	/* The kernel's stream may have gone past what fitted. */
	if (full && lseek(f->ofd, f->dirpos, SEEK_SET) < 0)
		return -errno;
	if (!full) {
		off_t now = lseek(f->ofd, 0, SEEK_CUR);
		if (now >= 0)
			f->dirpos = now;
	}
	r->u.rread.count = used;
	r->u.rread.data = dst;
	return 0;
}

/* mkdir ignores the set-id bits of its mode; they are set by fd (never by
 * name, which someone could have turned into a symlink meanwhile). */
static int mkdir_setid(struct conn *c, int dirfd, const char *name,
		       uint32_t mode)
{
	if (!(mode & (S_ISUID | S_ISGID)))
		return 0;
	int fd =
	    openat(dirfd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char p[32];
	proc_name(p, sizeof(p), fd);
	int e = fchmodat(c->proc_fd, p, mode & 07777, 0) < 0 ? -errno : 0;
	close(fd);
	return e;
}

static int h_mkdir(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *d;
	char name[NAME_MAX + 1];
	struct statx st;
	int e;

	if ((e = dir_fid(c, t->u.tmkdir.dfid, &d)) < 0)
		return e;
	if ((e = name_ok(t->u.tmkdir.name, name)) < 0)
		return e;
	if (c->ro)
		return -EROFS;
	if (mkdirat(d->fd, name, t->u.tmkdir.mode & 07777) < 0)
		return -errno;
	if ((e = set_owner(d->fd, name, -1, d->uid, t->u.tmkdir.gid, 0)) < 0 ||
	    (e = mkdir_setid(c, d->fd, name, t->u.tmkdir.mode)) < 0 ||
	    (statx(d->fd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &st) <
		 0 &&
	     (e = -errno))) {
		unlinkat(d->fd, name, AT_REMOVEDIR);
		return e;
	}
	r->u.rqid.qid = make_qid(c, &st);
	return 0;
}

static int h_symlink(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *d;
	char name[NAME_MAX + 1], target[PATH_MAX];
	struct statx st;
	int e;

	if ((e = dir_fid(c, t->u.tsymlink.dfid, &d)) < 0)
		return e;
	if ((e = name_ok(t->u.tsymlink.name, name)) < 0)
		return e;
	if (t->u.tsymlink.target.len == 0)
		return -ENOENT;
	if (t->u.tsymlink.target.len >= PATH_MAX)
		return -ENAMETOOLONG;
	if (c->ro)
		return -EROFS;
	memcpy(target, t->u.tsymlink.target.s, t->u.tsymlink.target.len);
	target[t->u.tsymlink.target.len] = 0;
	/* The target is text only: the gofer never resolves it. */
	if (symlinkat(target, d->fd, name) < 0)
		return -errno;
	if ((e = set_owner(d->fd, name, -1, d->uid, t->u.tsymlink.gid, 0)) <
		0 ||
	    (statx(d->fd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &st) <
		 0 &&
	     (e = -errno))) {
		unlinkat(d->fd, name, 0);
		return e;
	}
	r->u.rqid.qid = make_qid(c, &st);
	return 0;
}

static int h_mknod(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *d;
	char name[NAME_MAX + 1];
	struct statx st;
	int e;
	mode_t mode = t->u.tmknod.mode;

	if ((e = dir_fid(c, t->u.tmknod.dfid, &d)) < 0)
		return e;
	if ((e = name_ok(t->u.tmknod.name, name)) < 0)
		return e;
	switch (mode & S_IFMT) {
	case 0:
		mode |= S_IFREG;
		break;
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case S_IFCHR:
	case S_IFBLK:
		/* A device node in the tree would give whoever opens it on
		 * the host that device. */
		return -EPERM;
	default:
		return -EINVAL;
	}
	if (c->ro)
		return -EROFS;
	if (mknodat(d->fd, name, mode & (S_IFMT | 07777), 0) < 0)
		return -errno;
	if ((e = set_owner(d->fd, name, -1, d->uid, t->u.tmknod.gid, 0)) < 0 ||
	    (statx(d->fd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &st) <
		 0 &&
	     (e = -errno))) {
		unlinkat(d->fd, name, 0);
		return e;
	}
	r->u.rqid.qid = make_qid(c, &st);
	return 0;
}

static int h_link(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *d, *f = file_fid(c, t->u.tlink.fid);
	char name[NAME_MAX + 1];
	int e;

	if ((e = dir_fid(c, t->u.tlink.dfid, &d)) < 0)
		return e;
	if (!f)
		return -EBADF;
	if ((e = name_ok(t->u.tlink.name, name)) < 0)
		return e;
	if (S_ISDIR(f->type))
		return -EPERM;
	if (c->ro)
		return -EROFS;
	if (linkat(f->fd, "", d->fd, name, AT_EMPTY_PATH) == 0)
		return 0;
	/* AT_EMPTY_PATH wants CAP_DAC_READ_SEARCH; the proc link does not
	 * (it cannot name a symlink, which AT_EMPTY_PATH can). */
	if (errno != ENOENT && errno != EPERM)
		return -errno;
	if (S_ISLNK(f->type))
		return -errno;
	char p[32];
	proc_name(p, sizeof(p), f->fd);
	if (linkat(c->proc_fd, p, d->fd, name, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return 0;
}

static int h_unlinkat(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *d;
	char name[NAME_MAX + 1];
	int e;

	if ((e = dir_fid(c, t->u.tunlinkat.dfid, &d)) < 0)
		return e;
	if ((e = name_ok(t->u.tunlinkat.name, name)) < 0)
		return e;
	if (t->u.tunlinkat.flags & ~(uint32_t)P9_AT_REMOVEDIR)
		return -EINVAL;
	if (c->ro)
		return -EROFS;
	if (unlinkat(d->fd, name,
		     t->u.tunlinkat.flags & P9_AT_REMOVEDIR ? AT_REMOVEDIR
							    : 0) < 0)
		return -errno;
	return 0;
}

static int h_renameat(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *od, *nd;
	char on[NAME_MAX + 1], nn[NAME_MAX + 1];
	int e;

	if ((e = dir_fid(c, t->u.trenameat.olddfid, &od)) < 0 ||
	    (e = dir_fid(c, t->u.trenameat.newdfid, &nd)) < 0)
		return e;
	if ((e = name_ok(t->u.trenameat.oldname, on)) < 0 ||
	    (e = name_ok(t->u.trenameat.newname, nn)) < 0)
		return e;
	if (c->ro)
		return -EROFS;
	if (renameat(od->fd, on, nd->fd, nn) < 0)
		return -errno;
	return 0;
}

static int h_readlink(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.tfid.fid);
	char *buf = c->link;
	size_t cap = c->msize - P9_HDRSZ - 2;

	if (!f)
		return -EBADF;
	if (!S_ISLNK(f->type))
		return -EINVAL;
	if (cap > PATH_MAX)
		cap = PATH_MAX;
	ssize_t n = readlinkat(f->fd, "", buf, cap);
	if (n < 0)
		return -errno;
	if ((size_t)n >= cap)
		return -ENAMETOOLONG;
	buf[n] = 0;
	r->u.rreadlink.target = p9_str(buf);
	return 0;
}

static int h_statfs(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.tfid.fid);
	struct statfs s;
	if (!f)
		return -EBADF;
	if (fstatfs(f->fd, &s) < 0)
		return -errno;
	uint64_t fsid;
	memcpy(&fsid, &s.f_fsid, sizeof(fsid));
	r->u.rstatfs = (struct p9_statfs){
	    .type = (uint32_t)s.f_type,
	    .bsize = (uint32_t)s.f_bsize,
	    .blocks = s.f_blocks,
	    .bfree = s.f_bfree,
	    .bavail = s.f_bavail,
	    .files = s.f_files,
	    .ffree = s.f_ffree,
	    .fsid = fsid,
	    .namelen = (uint32_t)s.f_namelen,
	};
	return 0;
}

static int h_fsync(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.tfsync.fid);
	if (!f || f->ofd < 0)
		return -EBADF;
	int e = t->u.tfsync.datasync ? fdatasync(f->ofd) : fsync(f->ofd);
	return e < 0 ? -errno : 0;
}

static int get_xattrs(int fd, const char *name, uint8_t **out, size_t *len)
{
	/* Sizes can change between the two calls: retry on ERANGE. */
	for (int tries = 0; tries < 4; tries++) {
		ssize_t n = name ? fgetxattr(fd, name, NULL, 0)
				 : flistxattr(fd, NULL, 0);
		if (n < 0)
			return -errno;
		if (n > XATTR_MAX)
			return -E2BIG;
		uint8_t *b = malloc(n ? (size_t)n : 1);
		if (!b)
			return -ENOMEM;
		ssize_t m = name ? fgetxattr(fd, name, b, (size_t)n)
				 : flistxattr(fd, (char *)b, (size_t)n);
		if (m >= 0) {
			*out = b;
			*len = (size_t)m;
			return 0;
		}
		int e = errno;
		free(b);
		if (e != ERANGE)
			return -e;
	}
	return -ERANGE;
}

static int h_xattrwalk(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.txattrwalk.fid), *nf;
	char name[XATTR_NAME_MAX + 1];
	struct p9_str s = t->u.txattrwalk.name;
	uint8_t *buf = NULL;
	size_t len = 0;
	int e;

	if (!f)
		return -EBADF;
	if (s.len > XATTR_NAME_MAX)
		return -ERANGE;
	memcpy(name, s.s, s.len);
	name[s.len] = 0;
	if (t->u.txattrwalk.newfid != f->id &&
	    fid_get(c, t->u.txattrwalk.newfid))
		return -EEXIST;
	int fd = xattr_fd(c, f);
	if (fd < 0)
		return fd;
	e = get_xattrs(fd, s.len ? name : NULL, &buf, &len);
	close(fd);
	if (e < 0)
		return e;
	if (t->u.txattrwalk.newfid == f->id) {
		nf = f;
		free(nf->xbuf);
	} else if ((e = fid_new(c, t->u.txattrwalk.newfid, &nf)) < 0) {
		free(buf);
		return e;
	}
	nf->kind = FID_XATTR_READ;
	nf->xbuf = buf;
	nf->xsize = len;
	r->u.rxattrwalk.size = len;
	return 0;
}

static int h_xattrcreate(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.txattrcreate.fid);
	struct p9_str s = t->u.txattrcreate.name;

	if (!f)
		return -EBADF;
	if (s.len == 0 || s.len > XATTR_NAME_MAX)
		return s.len ? -ERANGE : -EINVAL;
	if (t->u.txattrcreate.size > XATTR_MAX)
		return -E2BIG;
	if (t->u.txattrcreate.flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (c->ro)
		return -EROFS;
	char *name = strndup(s.s, s.len);
	uint8_t *buf =
	    malloc(t->u.txattrcreate.size ? t->u.txattrcreate.size : 1);
	if (!name || !buf) {
		free(name);
		free(buf);
		return -ENOMEM;
	}
	/* The fid itself becomes the xattr fid; the value follows in
	 * Twrites and is set at Tclunk. */
	f->kind = FID_XATTR_WRITE;
	f->xname = name;
	f->xbuf = buf;
	f->xsize = t->u.txattrcreate.size;
	f->xlen = 0;
	f->xflags = (int)t->u.txattrcreate.flags;
	return 0;
}

static int lock_type(uint8_t t)
{
	switch (t) {
	case P9_LOCK_TYPE_RDLCK:
		return F_RDLCK;
	case P9_LOCK_TYPE_WRLCK:
		return F_WRLCK;
	case P9_LOCK_TYPE_UNLCK:
		return F_UNLCK;
	}
	return -EINVAL;
}

static int make_flock(const struct p9_flock *l, struct flock *fl)
{
	int type = lock_type(l->type);
	if (type < 0)
		return type;
	if (l->start > INT64_MAX || l->length > INT64_MAX)
		return -EINVAL;
	*fl = (struct flock){.l_type = (short)type,
			     .l_whence = SEEK_SET,
			     .l_start = (off_t)l->start,
			     .l_len = (off_t)l->length};
	return 0;
}

/* Open-file-description locks: each open fid is its own lock owner, so
 * locks of different sandbox processes conflict as they should even
 * though one gofer process holds them all. Never blocks: a conflict
 * answers "blocked" and the client retries. */
static int h_lock(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.tlock.fid);
	struct flock fl;
	int e;

	if (!f || f->ofd < 0)
		return -EBADF;
	if ((e = make_flock(&t->u.tlock.lock, &fl)) < 0)
		return e;
	if (fcntl(f->ofd, F_OFD_SETLK, &fl) < 0) {
		if (errno != EAGAIN && errno != EACCES)
			return -errno;
		r->u.rlock.status = P9_LOCK_BLOCKED;
		return 0;
	}
	r->u.rlock.status = P9_LOCK_SUCCESS;
	return 0;
}

static int h_getlock(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	struct fid *f = file_fid(c, t->u.tlock.fid);
	struct flock fl;
	int e;

	if (!f || f->ofd < 0)
		return -EBADF;
	if ((e = make_flock(&t->u.tlock.lock, &fl)) < 0)
		return e;
	if (fcntl(f->ofd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	r->u.rgetlock = t->u.tlock.lock;
	r->u.rgetlock.flags = 0;
	if (fl.l_type == F_UNLCK) {
		r->u.rgetlock.type = P9_LOCK_TYPE_UNLCK;
		return 0;
	}
	r->u.rgetlock.type =
	    fl.l_type == F_RDLCK ? P9_LOCK_TYPE_RDLCK : P9_LOCK_TYPE_WRLCK;
	r->u.rgetlock.start = (uint64_t)fl.l_start;
	r->u.rgetlock.length = (uint64_t)fl.l_len;
	/* The holder is another open of ours: no process id to report. */
	r->u.rgetlock.proc_id = 0;
	r->u.rgetlock.client_id = p9_str("");
	return 0;
}

/* ---- dispatch and transport ---- */

static int dispatch(struct conn *c, struct p9_msg *t, struct p9_msg *r)
{
	r->type = (uint8_t)(t->type + 1);
	r->tag = t->tag;
	if (t->type == P9_TVERSION)
		return h_version(c, t, r);
	if (t->type == P9_TAUTH)
		/* No authentication. ENOENT is the answer diod gives then,
		 * and the one diod's clients take as "not required". */
		return -ENOENT;
	if (!c->versioned)
		return -EPROTO;
	switch (t->type) {
	case P9_TATTACH:
		return h_attach(c, t, r);
	case P9_TFLUSH:
		/* Requests are answered in order, so the one being flushed
		 * has been answered already. */
		return 0;
	case P9_TWALK:
		return h_walk(c, t, r);
	case P9_TLOPEN:
		return h_lopen(c, t, r);
	case P9_TLCREATE:
		return h_lcreate(c, t, r);
	case P9_TREAD:
		return h_read(c, t, r);
	case P9_TWRITE:
		return h_write(c, t, r);
	case P9_TCLUNK:
		return h_clunk(c, t, r);
	case P9_TREMOVE:
		return h_remove(c, t, r);
	case P9_TGETATTR:
		return h_getattr(c, t, r);
	case P9_TSETATTR:
		return h_setattr(c, t, r);
	case P9_TREADDIR:
		return h_readdir(c, t, r);
	case P9_TMKDIR:
		return h_mkdir(c, t, r);
	case P9_TSYMLINK:
		return h_symlink(c, t, r);
	case P9_TMKNOD:
		return h_mknod(c, t, r);
	case P9_TLINK:
		return h_link(c, t, r);
	case P9_TUNLINKAT:
		return h_unlinkat(c, t, r);
	case P9_TRENAMEAT:
		return h_renameat(c, t, r);
	case P9_TREADLINK:
		return h_readlink(c, t, r);
	case P9_TSTATFS:
		return h_statfs(c, t, r);
	case P9_TFSYNC:
		return h_fsync(c, t, r);
	case P9_TXATTRWALK:
		return h_xattrwalk(c, t, r);
	case P9_TXATTRCREATE:
		return h_xattrcreate(c, t, r);
	case P9_TLOCK:
		return h_lock(c, t, r);
	case P9_TGETLOCK:
		return h_getlock(c, t, r);
	}
	return -EOPNOTSUPP; /* an R message, or Tlerror */
}

static int send_all(struct conn *c, const uint8_t *buf, size_t len)
{
	bool first = true;
	while (len) {
		struct iovec iov = {(void *)buf, len};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(int))];
		} cm;
		if (first && c->send_fd >= 0) {
			mh.msg_control = cm.b;
			mh.msg_controllen = sizeof(cm.b);
			struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(h), &c->send_fd, sizeof(int));
		}
		ssize_t n = sendmsg(c->sock, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		first = false;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int handle(struct conn *c, const uint8_t *msg, uint32_t len)
{
	struct p9_msg t, r;
	int e = p9_decode(msg, len, &t);

	memset(&r, 0, sizeof(r));
	c->send_fd = -1;
	if (e == 0) {
		if (log_enabled(LOG_DEBUG))
			log_debug("9p <- %s tag %u", p9_type_name(t.type),
				  t.tag);
		e = dispatch(c, &t, &r);
	} else {
		/* The frame is sound (its size was checked), so the client
		 * gets an error for this request and the stream goes on. */
		r.tag = (uint16_t)(msg[5] | msg[6] << 8);
	}
	if (e < 0) {
		c->send_fd = -1;
		r.type = P9_RLERROR;
		r.u.rlerror.ecode = (uint32_t)-e;
	}
	ssize_t n = p9_encode(&r, c->out, c->msize);
	if (n < 0) {
		/* Only a reply bigger than msize can fail here. */
		r.type = P9_RLERROR;
		r.u.rlerror.ecode = (uint32_t)-n;
		c->send_fd = -1;
		n = p9_encode(&r, c->out, c->msize);
	}
	return send_all(c, c->out, (size_t)n);
}

/* Waking an idle vCPU costs tens of microseconds on these machines, and a
 * client's next request often follows its last reply at once: poll the
 * socket for a short while before sleeping in read. */
#define SPIN_NS 50000

static ssize_t spin_recv(int sock, void *buf, size_t len)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n = recv(sock, buf, len, MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return n;
		/* The client's thread may wait for this very CPU to take
		 * the reply just sent: let it run rather than poll it off. */
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec -
			t0.tv_nsec >
		    SPIN_NS)
			return read(sock, buf, len);
	}
}

/* Reads until at least want bytes are buffered; 0 at EOF before any byte
 * of a message, 1 when there, -errno otherwise. */
static int fill(struct conn *c, size_t want)
{
	if (c->inoff + want > c->incap) {
		memmove(c->in, c->in + c->inoff, c->inlen);
		c->inoff = 0;
	}
	while (c->inlen < want) {
		ssize_t n = spin_recv(c->sock, c->in + c->inoff + c->inlen,
				      c->incap - c->inoff - c->inlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return c->inlen ? -EPIPE : 0;
		c->inlen += (size_t)n;
	}
	return 1;
}

int gofer_serve(int sock, int root_fd, const struct gofer_serve_opts *o)
{
	struct gofer_serve_opts def = {.proc_fd = -1};
	struct conn c = {.sock = sock, .root_fd = root_fd, .send_fd = -1};
	int e, domain = 0;
	socklen_t dl = sizeof(domain);

	if (!o)
		o = &def;
	umask(0);
	c.max_msize = o->max_msize ? o->max_msize : GOFER_DEFAULT_MSIZE;
	if (c.max_msize < P9_MIN_MSIZE)
		return -EINVAL;
	c.msize = c.max_msize;
	c.ro = o->read_only;
	if (getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0)
		return -errno;
	c.can_fds = o->allow_fds && domain == AF_UNIX;
	c.proc_fd = o->proc_fd;
	if (c.proc_fd < 0) {
		c.proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (c.proc_fd < 0)
			return -errno;
	}
	c.incap = 2 * (size_t)c.max_msize;
	c.in = malloc(c.incap);
	c.out = malloc(c.max_msize);
	if (!c.in || !c.out) {
		e = -ENOMEM;
		goto out;
	}
	for (;;) {
		e = fill(&c, 4);
		if (e <= 0)
			break;
		uint8_t *m = c.in + c.inoff;
		uint32_t size = p9_peek_size(m);
		/* Before Tversion the limit is ours; after, the agreed one. */
		if ((e = p9_check_frame(m, c.versioned ? c.msize
						       : c.max_msize)) < 0)
			break; /* framing lost: nothing can be trusted after */
		if ((e = fill(&c, size)) <= 0) {
			e = e ? e : -EPIPE;
			break;
		}
		m = c.in + c.inoff;
		if ((e = handle(&c, m, size)) < 0)
			break;
		c.inoff += size;
		c.inlen -= size;
		if (c.inlen == 0)
			c.inoff = 0;
	}
out:
	fid_del_all(&c);
	free(c.in);
	free(c.out);
	if (o->proc_fd < 0)
		close(c.proc_fd);
	return e;
}
