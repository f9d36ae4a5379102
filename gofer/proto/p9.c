/* The 9P2000.L codec. Each message is described once, by a function that
 * walks its fields through a cursor that either encodes or decodes: the two
 * directions cannot disagree about a layout. */
#include "p9.h"

#include <errno.h>
#include <string.h>

struct cur {
	uint8_t *p; /* never written through when decoding */
	size_t pos, end;
	bool enc;
	int err; /* first error, sticky */
};

static bool room(struct cur *c, size_t n)
{
	if (c->err)
		return false;
	if (c->end - c->pos < n) {
		c->err = c->enc ? -EMSGSIZE : -EBADMSG;
		return false;
	}
	return true;
}

static void f8(struct cur *c, uint8_t *v)
{
	if (!room(c, 1))
		return;
	if (c->enc)
		c->p[c->pos] = *v;
	else
		*v = c->p[c->pos];
	c->pos += 1;
}

static void fint(struct cur *c, uint64_t *v, unsigned bytes)
{
	if (!room(c, bytes))
		return;
	uint8_t *b = c->p + c->pos;
	if (c->enc) {
		for (unsigned i = 0; i < bytes; i++)
			b[i] = (uint8_t)(*v >> (8 * i));
	} else {
		uint64_t x = 0;
		for (unsigned i = 0; i < bytes; i++)
			x |= (uint64_t)b[i] << (8 * i);
		*v = x;
	}
	c->pos += bytes;
}

static void f16(struct cur *c, uint16_t *v)
{
	uint64_t x = *v;
	fint(c, &x, 2);
	if (!c->enc)
		*v = (uint16_t)x;
}

static void f32(struct cur *c, uint32_t *v)
{
	uint64_t x = *v;
	fint(c, &x, 4);
	if (!c->enc)
		*v = (uint32_t)x;
}

static void f64(struct cur *c, uint64_t *v)
{
	fint(c, v, 8);
}

/* Strings carry no NUL on the wire; one inside a name would let a C
 * consumer see a different name than the one checked, so it is malformed. */
static void fstr(struct cur *c, struct p9_str *s)
{
	if (c->enc && !s->s && s->len) {
		if (!c->err)
			c->err = -EINVAL; /* p9_str() of an over-long string */
		return;
	}
	f16(c, &s->len);
	if (!room(c, s->len))
		return;
	if (c->enc) {
		if (s->len)
			memcpy(c->p + c->pos, s->s, s->len);
	} else {
		s->s = (const char *)c->p + c->pos;
		if (memchr(s->s, 0, s->len)) {
			c->err = -EBADMSG;
			return;
		}
	}
	c->pos += s->len;
}

static void fqid(struct cur *c, struct p9_qid *q)
{
	f8(c, &q->type);
	f32(c, &q->version);
	f64(c, &q->path);
}

/* count[4] then count bytes. Encoding skips the copy when the payload is
 * already where it belongs (the server reads a file straight into place). */
static void fdata(struct cur *c, uint32_t *count, const uint8_t **data)
{
	f32(c, count);
	if (!room(c, *count))
		return;
	if (c->enc) {
		if (*count && *data != c->p + c->pos)
			memmove(c->p + c->pos, *data, *count);
	} else {
		*data = c->p + c->pos;
	}
	c->pos += *count;
}

static void fflock(struct cur *c, struct p9_flock *l, bool with_flags)
{
	f8(c, &l->type);
	if (with_flags)
		f32(c, &l->flags);
	f64(c, &l->start);
	f64(c, &l->length);
	f32(c, &l->proc_id);
	fstr(c, &l->client_id);
}

static void fattr(struct cur *c, struct p9_attr *a)
{
	f64(c, &a->valid);
	fqid(c, &a->qid);
	f32(c, &a->mode);
	f32(c, &a->uid);
	f32(c, &a->gid);
	f64(c, &a->nlink);
	f64(c, &a->rdev);
	f64(c, &a->size);
	f64(c, &a->blksize);
	f64(c, &a->blocks);
	f64(c, &a->atime_sec);
	f64(c, &a->atime_nsec);
	f64(c, &a->mtime_sec);
	f64(c, &a->mtime_nsec);
	f64(c, &a->ctime_sec);
	f64(c, &a->ctime_nsec);
	f64(c, &a->btime_sec);
	f64(c, &a->btime_nsec);
	f64(c, &a->gen);
	f64(c, &a->data_version);
}

/* The body of every message; stops before the payload of Twrite, Rread and
 * Rreaddir when head_only. Returns false for an unknown type. */
static bool fbody(struct cur *c, struct p9_msg *m, bool head_only)
{
	switch (m->type) {
	case P9_TVERSION:
	case P9_RVERSION:
		f32(c, &m->u.version.msize);
		fstr(c, &m->u.version.version);
		break;
	case P9_TAUTH:
		f32(c, &m->u.tauth.afid);
		fstr(c, &m->u.tauth.uname);
		fstr(c, &m->u.tauth.aname);
		f32(c, &m->u.tauth.n_uname);
		break;
	case P9_RAUTH:
		fqid(c, &m->u.rauth.aqid);
		break;
	case P9_TATTACH:
		f32(c, &m->u.tattach.fid);
		f32(c, &m->u.tattach.afid);
		fstr(c, &m->u.tattach.uname);
		fstr(c, &m->u.tattach.aname);
		f32(c, &m->u.tattach.n_uname);
		break;
	case P9_RATTACH:
		fqid(c, &m->u.rattach.qid);
		break;
	case P9_RLERROR:
		f32(c, &m->u.rlerror.ecode);
		break;
	case P9_TFLUSH:
		f16(c, &m->u.tflush.oldtag);
		break;
	case P9_TWALK:
		f32(c, &m->u.twalk.fid);
		f32(c, &m->u.twalk.newfid);
		f16(c, &m->u.twalk.nwname);
		if (m->u.twalk.nwname > P9_MAXWELEM) {
			if (!c->err)
				c->err = c->enc ? -EINVAL : -EBADMSG;
			break;
		}
		for (unsigned i = 0; i < m->u.twalk.nwname; i++)
			fstr(c, &m->u.twalk.wname[i]);
		break;
	case P9_RWALK:
		f16(c, &m->u.rwalk.nwqid);
		if (m->u.rwalk.nwqid > P9_MAXWELEM) {
			if (!c->err)
				c->err = c->enc ? -EINVAL : -EBADMSG;
			break;
		}
		for (unsigned i = 0; i < m->u.rwalk.nwqid; i++)
			fqid(c, &m->u.rwalk.wqid[i]);
		break;
	case P9_TLOPEN:
		f32(c, &m->u.tlopen.fid);
		f32(c, &m->u.tlopen.flags);
		break;
	case P9_RLOPEN:
	case P9_RLCREATE:
		fqid(c, &m->u.ropen.qid);
		f32(c, &m->u.ropen.iounit);
		break;
	case P9_TLCREATE:
		f32(c, &m->u.tlcreate.fid);
		fstr(c, &m->u.tlcreate.name);
		f32(c, &m->u.tlcreate.flags);
		f32(c, &m->u.tlcreate.mode);
		f32(c, &m->u.tlcreate.gid);
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		f32(c, &m->u.tread.fid);
		f64(c, &m->u.tread.offset);
		f32(c, &m->u.tread.count);
		break;
	case P9_RREAD:
	case P9_RREADDIR:
		if (head_only)
			f32(c, &m->u.rread.count);
		else
			fdata(c, &m->u.rread.count, &m->u.rread.data);
		break;
	case P9_TWRITE:
		f32(c, &m->u.twrite.fid);
		f64(c, &m->u.twrite.offset);
		if (head_only)
			f32(c, &m->u.twrite.count);
		else
			fdata(c, &m->u.twrite.count, &m->u.twrite.data);
		break;
	case P9_RWRITE:
		f32(c, &m->u.rwrite.count);
		break;
	case P9_TCLUNK:
	case P9_TREMOVE:
	case P9_TSTATFS:
	case P9_TREADLINK:
		f32(c, &m->u.tfid.fid);
		break;
	case P9_RCLUNK:
	case P9_RREMOVE:
	case P9_RFLUSH:
	case P9_RSETATTR:
	case P9_RUNLINKAT:
	case P9_RRENAMEAT:
	case P9_RRENAME:
	case P9_RLINK:
	case P9_RFSYNC:
	case P9_RXATTRCREATE:
		break;
	case P9_TGETATTR:
		f32(c, &m->u.tgetattr.fid);
		f64(c, &m->u.tgetattr.request_mask);
		break;
	case P9_RGETATTR:
		fattr(c, &m->u.rgetattr);
		break;
	case P9_TSETATTR:
		f32(c, &m->u.tsetattr.fid);
		f32(c, &m->u.tsetattr.attr.valid);
		f32(c, &m->u.tsetattr.attr.mode);
		f32(c, &m->u.tsetattr.attr.uid);
		f32(c, &m->u.tsetattr.attr.gid);
		f64(c, &m->u.tsetattr.attr.size);
		f64(c, &m->u.tsetattr.attr.atime_sec);
		f64(c, &m->u.tsetattr.attr.atime_nsec);
		f64(c, &m->u.tsetattr.attr.mtime_sec);
		f64(c, &m->u.tsetattr.attr.mtime_nsec);
		break;
	case P9_TMKDIR:
		f32(c, &m->u.tmkdir.dfid);
		fstr(c, &m->u.tmkdir.name);
		f32(c, &m->u.tmkdir.mode);
		f32(c, &m->u.tmkdir.gid);
		break;
	case P9_RMKDIR:
	case P9_RSYMLINK:
	case P9_RMKNOD:
		fqid(c, &m->u.rqid.qid);
		break;
	case P9_TUNLINKAT:
		f32(c, &m->u.tunlinkat.dfid);
		fstr(c, &m->u.tunlinkat.name);
		f32(c, &m->u.tunlinkat.flags);
		break;
	case P9_TRENAME:
		f32(c, &m->u.trename.fid);
		f32(c, &m->u.trename.dfid);
		fstr(c, &m->u.trename.name);
		break;
	case P9_TRENAMEAT:
		f32(c, &m->u.trenameat.olddfid);
		fstr(c, &m->u.trenameat.oldname);
		f32(c, &m->u.trenameat.newdfid);
		fstr(c, &m->u.trenameat.newname);
		break;
	case P9_TSYMLINK:
		f32(c, &m->u.tsymlink.dfid);
		fstr(c, &m->u.tsymlink.name);
		fstr(c, &m->u.tsymlink.target);
		f32(c, &m->u.tsymlink.gid);
		break;
	case P9_RREADLINK:
		fstr(c, &m->u.rreadlink.target);
		break;
	case P9_TLINK:
		f32(c, &m->u.tlink.dfid);
		f32(c, &m->u.tlink.fid);
		fstr(c, &m->u.tlink.name);
		break;
	case P9_TMKNOD:
		f32(c, &m->u.tmknod.dfid);
		fstr(c, &m->u.tmknod.name);
		f32(c, &m->u.tmknod.mode);
		f32(c, &m->u.tmknod.major);
		f32(c, &m->u.tmknod.minor);
		f32(c, &m->u.tmknod.gid);
		break;
	case P9_RSTATFS:
		f32(c, &m->u.rstatfs.type);
		f32(c, &m->u.rstatfs.bsize);
		f64(c, &m->u.rstatfs.blocks);
		f64(c, &m->u.rstatfs.bfree);
		f64(c, &m->u.rstatfs.bavail);
		f64(c, &m->u.rstatfs.files);
		f64(c, &m->u.rstatfs.ffree);
		f64(c, &m->u.rstatfs.fsid);
		f32(c, &m->u.rstatfs.namelen);
		break;
	case P9_TFSYNC:
		f32(c, &m->u.tfsync.fid);
		f32(c, &m->u.tfsync.datasync);
		break;
	case P9_TXATTRWALK:
		f32(c, &m->u.txattrwalk.fid);
		f32(c, &m->u.txattrwalk.newfid);
		fstr(c, &m->u.txattrwalk.name);
		break;
	case P9_RXATTRWALK:
		f64(c, &m->u.rxattrwalk.size);
		break;
	case P9_TXATTRCREATE:
		f32(c, &m->u.txattrcreate.fid);
		fstr(c, &m->u.txattrcreate.name);
		f64(c, &m->u.txattrcreate.size);
		f32(c, &m->u.txattrcreate.flags);
		break;
	case P9_TLOCK:
		f32(c, &m->u.tlock.fid);
		fflock(c, &m->u.tlock.lock, true);
		break;
	case P9_RLOCK:
		f8(c, &m->u.rlock.status);
		break;
	case P9_TGETLOCK:
		f32(c, &m->u.tlock.fid);
		fflock(c, &m->u.tlock.lock, false);
		break;
	case P9_RGETLOCK:
		fflock(c, &m->u.rgetlock, false);
		break;
	default:
		return false;
	}
	return true;
}

struct p9_str p9_str(const char *s)
{
	struct p9_str r = {0, ""};
	if (!s)
		return r;
	size_t n = strlen(s);
	if (n > UINT16_MAX)
		return (struct p9_str){UINT16_MAX, NULL}; /* encoder refuses */
	r.len = (uint16_t)n;
	r.s = s;
	return r;
}

bool p9_str_eq(struct p9_str s, const char *c)
{
	size_t n = strlen(c);
	return s.s && n == s.len && memcmp(s.s, c, n) == 0;
}

uint32_t p9_peek_size(const void *buf)
{
	const uint8_t *b = buf;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

int p9_check_frame(const void *buf, uint32_t msize)
{
	uint32_t size = p9_peek_size(buf);
	if (size < P9_HDRSZ)
		return -EBADMSG;
	if (size > msize)
		return -EMSGSIZE;
	return 0;
}

static void fhdr(struct cur *c, struct p9_msg *m)
{
	uint32_t size = 0; /* patched once the length is known */
	f32(c, &size);
	f8(c, &m->type);
	f16(c, &m->tag);
}

int p9_decode(const void *buf, size_t len, struct p9_msg *m)
{
	struct cur c = {.p = (uint8_t *)buf, .pos = 0, .end = len};

	memset(m, 0, sizeof(*m));
	if (len < P9_HDRSZ || p9_peek_size(buf) != len)
		return -EBADMSG;
	fhdr(&c, m);
	if (!fbody(&c, m, false))
		return -EOPNOTSUPP;
	if (c.err)
		return c.err;
	if (c.pos != c.end)
		return -EBADMSG; /* trailing bytes */
	return 0;
}

static ssize_t encode(const struct p9_msg *m, void *buf, size_t cap,
		      bool head_only, uint32_t extra)
{
	struct cur c = {.p = buf, .pos = 0, .end = cap, .enc = true};
	struct p9_msg tmp = *m; /* the walkers take non-const pointers */

	fhdr(&c, &tmp);
	if (!fbody(&c, &tmp, head_only))
		return -EINVAL;
	if (c.err)
		return c.err;
	uint64_t total = (uint64_t)c.pos + extra;
	if (total > UINT32_MAX)
		return -EMSGSIZE;
	uint8_t *b = buf;
	for (unsigned i = 0; i < 4; i++)
		b[i] = (uint8_t)(total >> (8 * i));
	return (ssize_t)c.pos;
}

ssize_t p9_encode(const struct p9_msg *m, void *buf, size_t cap)
{
	return encode(m, buf, cap, false, 0);
}

ssize_t p9_encode_head(const struct p9_msg *m, void *buf, size_t cap)
{
	uint32_t count;

	switch (m->type) {
	case P9_TWRITE:
		count = m->u.twrite.count;
		break;
	case P9_RREAD:
	case P9_RREADDIR:
		count = m->u.rread.count;
		break;
	default:
		return -EINVAL;
	}
	return encode(m, buf, cap, true, count);
}

static void fdirent(struct cur *c, struct p9_dirent *d)
{
	fqid(c, &d->qid);
	f64(c, &d->offset);
	f8(c, &d->type);
	fstr(c, &d->name);
}

ssize_t p9_dirent_decode(const void *buf, size_t len, struct p9_dirent *d)
{
	struct cur c = {.p = (uint8_t *)buf, .pos = 0, .end = len};
	memset(d, 0, sizeof(*d));
	fdirent(&c, d);
	return c.err ? c.err : (ssize_t)c.pos;
}

ssize_t p9_dirent_encode(const struct p9_dirent *d, void *buf, size_t cap)
{
	struct cur c = {.p = buf, .pos = 0, .end = cap, .enc = true};
	struct p9_dirent tmp = *d;
	fdirent(&c, &tmp);
	if (c.err)
		return c.err == -EMSGSIZE ? -ENOSPC : c.err;
	return (ssize_t)c.pos;
}

const char *p9_type_name(uint8_t type)
{
	static const char *const names[256] = {
	    [P9_TLERROR] = "Tlerror",
	    [P9_RLERROR] = "Rlerror",
	    [P9_TSTATFS] = "Tstatfs",
	    [P9_RSTATFS] = "Rstatfs",
	    [P9_TLOPEN] = "Tlopen",
	    [P9_RLOPEN] = "Rlopen",
	    [P9_TLCREATE] = "Tlcreate",
	    [P9_RLCREATE] = "Rlcreate",
	    [P9_TSYMLINK] = "Tsymlink",
	    [P9_RSYMLINK] = "Rsymlink",
	    [P9_TMKNOD] = "Tmknod",
	    [P9_RMKNOD] = "Rmknod",
	    [P9_TRENAME] = "Trename",
	    [P9_RRENAME] = "Rrename",
	    [P9_TREADLINK] = "Treadlink",
	    [P9_RREADLINK] = "Rreadlink",
	    [P9_TGETATTR] = "Tgetattr",
	    [P9_RGETATTR] = "Rgetattr",
	    [P9_TSETATTR] = "Tsetattr",
	    [P9_RSETATTR] = "Rsetattr",
	    [P9_TXATTRWALK] = "Txattrwalk",
	    [P9_RXATTRWALK] = "Rxattrwalk",
	    [P9_TXATTRCREATE] = "Txattrcreate",
	    [P9_RXATTRCREATE] = "Rxattrcreate",
	    [P9_TREADDIR] = "Treaddir",
	    [P9_RREADDIR] = "Rreaddir",
	    [P9_TFSYNC] = "Tfsync",
	    [P9_RFSYNC] = "Rfsync",
	    [P9_TLOCK] = "Tlock",
	    [P9_RLOCK] = "Rlock",
	    [P9_TGETLOCK] = "Tgetlock",
	    [P9_RGETLOCK] = "Rgetlock",
	    [P9_TLINK] = "Tlink",
	    [P9_RLINK] = "Rlink",
	    [P9_TMKDIR] = "Tmkdir",
	    [P9_RMKDIR] = "Rmkdir",
	    [P9_TRENAMEAT] = "Trenameat",
	    [P9_RRENAMEAT] = "Rrenameat",
	    [P9_TUNLINKAT] = "Tunlinkat",
	    [P9_RUNLINKAT] = "Runlinkat",
	    [P9_TVERSION] = "Tversion",
	    [P9_RVERSION] = "Rversion",
	    [P9_TAUTH] = "Tauth",
	    [P9_RAUTH] = "Rauth",
	    [P9_TATTACH] = "Tattach",
	    [P9_RATTACH] = "Rattach",
	    [P9_TFLUSH] = "Tflush",
	    [P9_RFLUSH] = "Rflush",
	    [P9_TWALK] = "Twalk",
	    [P9_RWALK] = "Rwalk",
	    [P9_TREAD] = "Tread",
	    [P9_RREAD] = "Rread",
	    [P9_TWRITE] = "Twrite",
	    [P9_RWRITE] = "Rwrite",
	    [P9_TCLUNK] = "Tclunk",
	    [P9_RCLUNK] = "Rclunk",
	    [P9_TREMOVE] = "Tremove",
	    [P9_RREMOVE] = "Rremove",
	};
	return names[type];
}
