/* The 9P2000.L client: tags multiplexed over one socket, the reading done
 * by whichever caller is waiting (see p9c.h). */
#define _GNU_SOURCE
#include "p9c.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MSIZE	 (1024 * 1024 + P9_IOHDRSZ)
#define DEFAULT_INFLIGHT 64
#define MAX_INFLIGHT	 1024
#define MAX_FDS_PER_MSG	 4

struct slot {
	uint16_t tag;
	bool busy, done;
	bool waiting; /* its owner sleeps on cv */
	int err;      /* transport failure seen while waiting */
	uint8_t *buf; /* request, then reply (msize bytes) */
	uint32_t len; /* reply length */
	int fd;	      /* fd that came with the reply, or -1 */
	void *dest;   /* Rread data goes straight here */
	size_t destlen;
	uint32_t rcount; /* Rread count when read into dest */
	pthread_cond_t cv;
	struct slot *next_free;
};

struct p9c {
	int sock;
	uint32_t msize;
	bool fds;
	pthread_mutex_t mu;  /* everything below, and each slot's state */
	pthread_mutex_t wmu; /* one sender at a time */
	pthread_cond_t slot_cv;
	struct slot *slots;
	unsigned nslots;
	struct slot *free;
	unsigned nfree;
	bool reading, dead;
	uint32_t next_fid;
	uint32_t *fid_free;
	size_t nfid_free, cap_fid_free;
};

/* ---- transport ---- */

/* Reads exactly len bytes; fds that arrive go to fds[] (at most
 * MAX_FDS_PER_MSG, extra ones closed). */
/* How long a reader polls for a reply before sleeping in recvmsg: waking
 * an idle vCPU costs tens of microseconds here, more than most replies
 * take to come. */
#define SPIN_NS 50000

static int recv_all(int sock, void *buf, size_t len, int *fds, int *nfds,
		    bool spin)
{
	uint8_t *p = buf;
	struct timespec t0 = {0, 0};
	if (spin)
		clock_gettime(CLOCK_MONOTONIC, &t0);
	while (len) {
		struct iovec iov = {p, len};
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MSG)];
		} cm;
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cm.b,
				    .msg_controllen = sizeof(cm.b)};
		ssize_t n = recvmsg(
		    sock, &mh, MSG_CMSG_CLOEXEC | (spin ? MSG_DONTWAIT : 0));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (spin && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				/* The server may wait for this very CPU (a
				 * sync wake-up puts it on the sender's): let
				 * it run rather than poll it off. */
				sched_yield();
				struct timespec t;
				clock_gettime(CLOCK_MONOTONIC, &t);
				spin = (t.tv_sec - t0.tv_sec) * 1000000000L +
					   t.tv_nsec - t0.tv_nsec <
				       SPIN_NS;
				continue;
			}
			return -errno;
		}
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h;
		     h = CMSG_NXTHDR(&mh, h)) {
			if (h->cmsg_level != SOL_SOCKET ||
			    h->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(h) + i * sizeof(int),
				       sizeof(int));
				if (*nfds < MAX_FDS_PER_MSG)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_iov(int sock, struct iovec *iov, int n)
{
	while (n > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Marks the connection failed and wakes every waiter. mu held. */
static void fail_all(struct p9c *c, int err)
{
	c->dead = true;
	for (unsigned i = 0; i < c->nslots; i++) {
		struct slot *s = &c->slots[i];
		if (s->busy && !s->done) {
			s->done = true;
			s->err = err;
			pthread_cond_signal(&s->cv);
		}
	}
	pthread_cond_broadcast(&c->slot_cv);
}

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* Reads one reply and hands it to its slot. Called without mu, by the one
 * caller that holds the reader role. */
static int read_one(struct p9c *c)
{
	uint8_t hdr[P9_HDRSZ];
	int fds[MAX_FDS_PER_MSG], nfds = 0, e;

	if ((e = recv_all(c->sock, hdr, sizeof(hdr), fds, &nfds, true)) < 0)
		goto bad;
	uint32_t size = p9_peek_size(hdr);
	uint8_t type = hdr[4];
	uint16_t tag = (uint16_t)(hdr[5] | hdr[6] << 8);
	if ((e = p9_check_frame(hdr, c->msize)) < 0 || tag >= c->nslots) {
		e = -EPROTO;
		goto bad;
	}
	struct slot *s = &c->slots[tag];
	pthread_mutex_lock(&c->mu);
	bool waiting = s->busy && !s->done;
	void *dest = s->dest;
	size_t destlen = s->destlen;
	pthread_mutex_unlock(&c->mu);
	if (!waiting) {
		e = -EPROTO; /* a reply nobody asked for */
		goto bad;
	}
	/* Only the owner touches the slot's buffer until done is set, and
	 * the owner is waiting: it is ours to fill. */
	memcpy(s->buf, hdr, sizeof(hdr));
	if (type == P9_RREAD && dest) {
		uint8_t cnt[4];
		if (size < P9_RREAD_DATA_OFF) {
			e = -EPROTO;
			goto bad;
		}
		if ((e = recv_all(c->sock, cnt, 4, fds, &nfds, false)) < 0)
			goto bad;
		uint32_t n = p9_peek_size(cnt);
		if (n > destlen || size != P9_RREAD_DATA_OFF + n) {
			e = -EPROTO;
			goto bad;
		}
		if ((e = recv_all(c->sock, dest, n, fds, &nfds, false)) < 0)
			goto bad;
		s->rcount = n;
	} else if ((e = recv_all(c->sock, s->buf + P9_HDRSZ, size - P9_HDRSZ,
				 fds, &nfds, false)) < 0) {
		goto bad;
	}
	pthread_mutex_lock(&c->mu);
	s->len = size;
	s->fd = -1;
	if (nfds == 1 && (type == P9_RLOPEN || type == P9_RLCREATE) && c->fds)
		s->fd = fds[0];
	else
		close_fds(fds, nfds);
	s->done = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&c->mu);
	return 0;
bad:
	close_fds(fds, nfds);
	return e;
}

/* Takes n (1 or 2) slots at once, so that two callers each holding one of
 * the last slots cannot wait on each other for a second. */
static int slots_get(struct p9c *c, unsigned n, struct slot **out)
{
	pthread_mutex_lock(&c->mu);
	while (c->nfree < n && !c->dead)
		pthread_cond_wait(&c->slot_cv, &c->mu);
	if (c->dead) {
		pthread_mutex_unlock(&c->mu);
		return -ECONNRESET;
	}
	for (unsigned i = 0; i < n; i++) {
		struct slot *s = c->free;
		c->free = s->next_free;
		c->nfree--;
		s->busy = true;
		s->done = false;
		s->err = 0;
		s->fd = -1;
		s->dest = NULL;
		s->destlen = 0;
		out[i] = s;
	}
	pthread_mutex_unlock(&c->mu);
	return 0;
}

static void slot_put(struct p9c *c, struct slot *s)
{
	pthread_mutex_lock(&c->mu);
	if (s->fd >= 0)
		close(s->fd); /* an fd the caller did not take */
	s->fd = -1;
	s->busy = false;
	s->next_free = c->free;
	c->free = s;
	c->nfree++;
	/* A waiter may want two: wake them all, few ever wait. */
	pthread_cond_broadcast(&c->slot_cv);
	pthread_mutex_unlock(&c->mu);
}

/* Waits for s's reply, reading for everyone while nobody else does. */
static int wait_reply(struct p9c *c, struct slot *s)
{
	pthread_mutex_lock(&c->mu);
	while (!s->done) {
		if (!c->reading) {
			c->reading = true;
			pthread_mutex_unlock(&c->mu);
			int e = read_one(c);
			pthread_mutex_lock(&c->mu);
			c->reading = false;
			if (e < 0)
				fail_all(c,
					 e == -EPROTO ? -EPROTO : -ECONNRESET);
			continue;
		}
		s->waiting = true;
		pthread_cond_wait(&s->cv, &c->mu);
		s->waiting = false;
	}
	/* Pass the reader role to a caller waiting now. (A caller that has
	 * not begun to wait, or waits on another of its slots, would not
	 * take it; one that comes later finds nobody reading.) */
	if (!c->reading)
		for (unsigned i = 0; i < c->nslots; i++) {
			struct slot *o = &c->slots[i];
			if (o->waiting && !o->done) {
				pthread_cond_signal(&o->cv);
				break;
			}
		}
	int err = s->err;
	pthread_mutex_unlock(&c->mu);
	return err;
}

/* Encodes t into s's buffer (only its head when a payload follows). */
static ssize_t encode(struct p9c *c, struct p9_msg *t, bool payload,
		      struct slot *s)
{
	t->tag = s->tag;
	return payload ? p9_encode_head(t, s->buf, c->msize)
		       : p9_encode(t, s->buf, c->msize);
}

/* Sends the iovecs as one message (one sendmsg for a group of requests). */
static int send_locked(struct p9c *c, struct iovec *iov, int niov)
{
	pthread_mutex_lock(&c->wmu);
	int e = send_iov(c->sock, iov, niov);
	pthread_mutex_unlock(&c->wmu);
	if (e < 0) {
		/* a partial send has broken the stream for everyone */
		pthread_mutex_lock(&c->mu);
		fail_all(c, -ECONNRESET);
		pthread_mutex_unlock(&c->mu);
	}
	return e;
}

/* Waits for the reply to t in s and decodes it into *r (pointing into
 * s->buf). On success the slot stays the caller's, to release with
 * slot_put(); on failure it is released here. */
static int finish(struct p9c *c, const struct p9_msg *t, struct slot *s,
		  struct p9_msg *r)
{
	int e;
	if ((e = wait_reply(c, s)) < 0)
		goto fail;
	if (s->buf[4] == P9_RREAD && s->dest) {
		memset(r, 0, sizeof(*r));
		r->type = P9_RREAD;
		r->u.rread.count = s->rcount;
		r->u.rread.data = s->dest;
	} else if ((e = p9_decode(s->buf, s->len, r)) < 0) {
		e = -EPROTO;
		goto fail;
	}
	if (r->type == P9_RLERROR) {
		e = r->u.rlerror.ecode && r->u.rlerror.ecode < 4096
			? -(int)r->u.rlerror.ecode
			: -EPROTO;
		goto fail;
	}
	if (r->type != t->type + 1) {
		e = -EPROTO;
		goto fail;
	}
	return 0;
fail:
	slot_put(c, s);
	return e;
}

/* Sends t (with payload after its head for Twrite) and waits. On success
 * the reply is decoded into *r (pointing into s->buf) and the slot is
 * returned for the caller to release with slot_put(). */
static int rpc(struct p9c *c, struct p9_msg *t, const void *payload, void *dest,
	       size_t destlen, struct p9_msg *r, struct slot **out)
{
	struct slot *s;
	int e;

	if ((e = slots_get(c, 1, &s)) < 0)
		return e;
	s->dest = dest;
	s->destlen = destlen;
	ssize_t n = encode(c, t, payload != NULL, s);
	if (n < 0) {
		slot_put(c, s);
		return (int)n;
	}
	struct iovec iov[2] = {{s->buf, (size_t)n}};
	int niov = 1;
	if (payload) {
		iov[1] = (struct iovec){(void *)payload, t->u.twrite.count};
		niov = 2;
	}
	send_locked(c, iov, niov); /* a failure reaches us in finish() */
	if ((e = finish(c, t, s, r)) < 0)
		return e;
	*out = s;
	return 0;
}

/* Two requests in one message, the second usually on a fid the first
 * makes: one round trip instead of two. A server that handles requests in
 * order (ours) answers the second as if it had waited; one that does not
 * (diod's worker threads) may answer it with an error, which the caller
 * treats as "ask again alone". Without room for two requests in flight,
 * only the first is sent and e[1] is -EAGAIN: the caller asks the second
 * alone. Each e[i] is rpc()'s result for t[i], and s[i] the slot to
 * release when e[i] is 0. */
static void rpc_pair(struct p9c *c, struct p9_msg *t[2], struct p9_msg *r[2],
		     struct slot *s[2], int e[2])
{
	if (c->nslots < 2) {
		/* The first reply holds the only slot until its caller is done
		 * with it: the second goes out later, as a retry. */
		e[0] = rpc(c, t[0], NULL, NULL, 0, r[0], &s[0]);
		e[1] = -EAGAIN;
		return;
	}
	if ((e[0] = e[1] = slots_get(c, 2, s)) < 0)
		return;
	struct iovec iov[2];
	for (int i = 0; i < 2; i++) {
		ssize_t n = encode(c, t[i], false, s[i]);
		if (n < 0) {
			slot_put(c, s[0]);
			slot_put(c, s[1]);
			e[0] = e[1] = (int)n;
			return;
		}
		iov[i] = (struct iovec){s[i]->buf, (size_t)n};
	}
	send_locked(c, iov, 2);
	for (int i = 0; i < 2; i++)
		e[i] = finish(c, t[i], s[i], r[i]);
}

/* For replies with nothing in them worth keeping. */
static int rpc0(struct p9c *c, struct p9_msg *t)
{
	struct p9_msg r;
	struct slot *s;
	int e = rpc(c, t, NULL, NULL, 0, &r, &s);
	if (e < 0)
		return e;
	slot_put(c, s);
	return 0;
}

/* ---- fids ---- */

static int fid_alloc(struct p9c *c, uint32_t *fid)
{
	int e = 0;
	pthread_mutex_lock(&c->mu);
	if (c->nfid_free)
		*fid = c->fid_free[--c->nfid_free];
	else if (c->next_fid == P9_NOFID)
		e = -EMFILE;
	else
		*fid = c->next_fid++;
	pthread_mutex_unlock(&c->mu);
	return e;
}

static void fid_release(struct p9c *c, uint32_t fid)
{
	pthread_mutex_lock(&c->mu);
	if (c->nfid_free == c->cap_fid_free) {
		size_t cap = c->cap_fid_free ? 2 * c->cap_fid_free : 64;
		uint32_t *n = realloc(c->fid_free, cap * sizeof(*n));
		if (!n) {
			/* Losing a fid number is harmless; there are 2^32. */
			pthread_mutex_unlock(&c->mu);
			return;
		}
		c->fid_free = n;
		c->cap_fid_free = cap;
	}
	c->fid_free[c->nfid_free++] = fid;
	pthread_mutex_unlock(&c->mu);
}

/* ---- set-up ---- */

/* Tversion before any other traffic: one request, one reply, no tags. */
static int version(struct p9c *c, const char *ver, uint32_t msize,
		   struct p9_msg *r, uint8_t *buf)
{
	struct p9_msg t = {.type = P9_TVERSION, .tag = P9_NOTAG};
	t.u.version.msize = msize;
	t.u.version.version = p9_str(ver);
	ssize_t n = p9_encode(&t, buf, c->msize);
	if (n < 0)
		return (int)n;
	struct iovec iov = {buf, (size_t)n};
	int e = send_iov(c->sock, &iov, 1);
	int fds[MAX_FDS_PER_MSG], nfds = 0;
	if (e < 0 || (e = recv_all(c->sock, buf, 4, fds, &nfds, false)) < 0)
		goto out;
	uint32_t size = p9_peek_size(buf);
	if (size < P9_HDRSZ || size > c->msize) {
		e = -EPROTO;
		goto out;
	}
	if ((e = recv_all(c->sock, buf + 4, size - 4, fds, &nfds, false)) < 0)
		goto out;
	if (p9_decode(buf, size, r) < 0 ||
	    (r->type != P9_RVERSION && r->type != P9_RLERROR))
		e = -EPROTO;
out:
	close_fds(fds, nfds);
	return e;
}

int p9c_connect(int sock, const struct p9c_opts *o, struct p9c **out)
{
	struct p9c_opts def = {0};
	struct p9_msg r;
	int e;

	if (!o)
		o = &def;
	struct p9c *c = calloc(1, sizeof(*c));
	if (!c) {
		close(sock);
		return -ENOMEM;
	}
	c->sock = sock;
	c->msize = o->msize ? o->msize : DEFAULT_MSIZE;
	c->next_fid = 1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->wmu, NULL);
	pthread_cond_init(&c->slot_cv, NULL);
	if (c->msize < P9_MIN_MSIZE) {
		e = -EINVAL;
		goto fail;
	}
	uint8_t *vbuf = malloc(c->msize);
	if (!vbuf) {
		e = -ENOMEM;
		goto fail;
	}
	e = version(c, o->want_fds ? P9_VERSION_L_FDS : P9_VERSION_L, c->msize,
		    &r, vbuf);
	/* A server that does not know our version may say so with
	 * "unknown" or with an error: ask again for plain 9P2000.L. */
	if (e == 0 && o->want_fds &&
	    (r.type == P9_RLERROR ||
	     (!p9_str_eq(r.u.version.version, P9_VERSION_L) &&
	      !p9_str_eq(r.u.version.version, P9_VERSION_L_FDS))))
		e = version(c, P9_VERSION_L, c->msize, &r, vbuf);
	if (e == 0 && r.type == P9_RLERROR)
		e = -EPROTONOSUPPORT;
	if (e == 0) {
		if (p9_str_eq(r.u.version.version, P9_VERSION_L_FDS) &&
		    o->want_fds)
			c->fds = true;
		else if (!p9_str_eq(r.u.version.version, P9_VERSION_L))
			e = -EPROTONOSUPPORT;
		else if (r.u.version.msize > c->msize ||
			 r.u.version.msize < P9_MIN_MSIZE)
			e = -EPROTO;
		if (e == 0)
			c->msize = r.u.version.msize;
	}
	free(vbuf);
	if (e < 0)
		goto fail;
	c->nslots = o->max_inflight ? o->max_inflight : DEFAULT_INFLIGHT;
	if (c->nslots > MAX_INFLIGHT)
		c->nslots = MAX_INFLIGHT;
	c->slots = calloc(c->nslots, sizeof(*c->slots));
	if (!c->slots) {
		e = -ENOMEM;
		goto fail;
	}
	for (unsigned i = c->nslots; i-- > 0;) {
		struct slot *s = &c->slots[i];
		s->tag = (uint16_t)i;
		s->fd = -1;
		pthread_cond_init(&s->cv, NULL);
		s->buf = malloc(c->msize);
		if (!s->buf) {
			e = -ENOMEM;
			goto fail;
		}
		s->next_free = c->free;
		c->free = s;
		c->nfree++;
	}
	*out = c;
	return 0;
fail:
	p9c_close(c);
	return e;
}

void p9c_close(struct p9c *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	shutdown(c->sock, SHUT_RDWR);
	fail_all(c, -ECONNRESET);
	pthread_mutex_unlock(&c->mu);
	close(c->sock);
	for (unsigned i = 0; i < c->nslots && c->slots; i++) {
		pthread_cond_destroy(&c->slots[i].cv);
		free(c->slots[i].buf);
	}
	free(c->slots);
	free(c->fid_free);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->wmu);
	pthread_cond_destroy(&c->slot_cv);
	free(c);
}

uint32_t p9c_msize(const struct p9c *c)
{
	return c->msize;
}

uint32_t p9c_iounit(const struct p9c *c)
{
	return c->msize - P9_IOHDRSZ;
}

bool p9c_fds_enabled(const struct p9c *c)
{
	return c->fds;
}

/* ---- one wrapper per message ---- */

int p9c_attach(struct p9c *c, const char *uname, const char *aname,
	       uint32_t n_uname, uint32_t *fid, struct p9_qid *qid)
{
	struct p9_msg t = {.type = P9_TATTACH}, r;
	struct slot *s;
	uint32_t f;
	int e;

	if ((e = fid_alloc(c, &f)) < 0)
		return e;
	t.u.tattach.fid = f;
	t.u.tattach.afid = P9_NOFID;
	t.u.tattach.uname = p9_str(uname);
	t.u.tattach.aname = p9_str(aname);
	t.u.tattach.n_uname = n_uname;
	if ((e = rpc(c, &t, NULL, NULL, 0, &r, &s)) < 0) {
		fid_release(c, f);
		return e;
	}
	if (qid)
		*qid = r.u.rattach.qid;
	slot_put(c, s);
	*fid = f;
	return 0;
}

static int open_reply(struct p9c *c, struct slot *s, struct p9_msg *r,
		      struct p9_qid *qid, uint32_t *iounit, int *hostfd)
{
	if (qid)
		*qid = r->u.ropen.qid;
	if (iounit)
		*iounit = r->u.ropen.iounit;
	if (hostfd) {
		*hostfd = s->fd;
		s->fd = -1; /* the caller's now */
	}
	slot_put(c, s);
	return 0;
}

/* Tlopen of fid (name NULL), or Tlcreate of name in the directory fid;
 * mode and gid are the create's. */
static void open_msg(struct p9_msg *t, uint32_t fid, const char *name,
		     uint32_t flags, uint32_t mode, uint32_t gid)
{
	if (name) {
		t->type = P9_TLCREATE;
		t->u.tlcreate.fid = fid;
		t->u.tlcreate.name = p9_str(name);
		t->u.tlcreate.flags = flags;
		t->u.tlcreate.mode = mode;
		t->u.tlcreate.gid = gid;
	} else {
		t->type = P9_TLOPEN;
		t->u.tlopen.fid = fid;
		t->u.tlopen.flags = flags;
	}
}

/* p9c_lopen() or p9c_lcreate(), as open_msg() says. */
static int open_call(struct p9c *c, uint32_t fid, const char *name,
		     uint32_t flags, uint32_t mode, uint32_t gid,
		     struct p9_qid *qid, uint32_t *iounit, int *hostfd)
{
	struct p9_msg t = {0}, r;
	struct slot *s;
	int e;

	if (hostfd)
		*hostfd = -1;
	open_msg(&t, fid, name, flags, mode, gid);
	if ((e = rpc(c, &t, NULL, NULL, 0, &r, &s)) < 0)
		return e;
	return open_reply(c, s, &r, qid, iounit, hostfd);
}

static void walk_msg(struct p9_msg *t, uint32_t fid, uint32_t newfid,
		     unsigned n, const char *const *names)
{
	t->type = P9_TWALK;
	t->u.twalk.fid = fid;
	t->u.twalk.newfid = newfid;
	t->u.twalk.nwname = (uint16_t)n;
	for (unsigned i = 0; i < n; i++)
		t->u.twalk.wname[i] = p9_str(names[i]);
}

/* Rwalk of n names (slot released): 0 if the new fid was made. */
static int walk_made(struct p9c *c, struct p9_msg *r, struct slot *s,
		     unsigned n, struct p9_qid *qids)
{
	unsigned got = r->u.rwalk.nwqid;
	if (got == n && qids)
		memcpy(qids, r->u.rwalk.wqid, n * sizeof(*qids));
	slot_put(c, s);
	if (got == n)
		return 0;
	/* Stopped early: the server made no fid. */
	return got > n ? -EPROTO : -ENOENT;
}

int p9c_walk(struct p9c *c, uint32_t fid, unsigned n, const char *const *names,
	     uint32_t *newfid, struct p9_qid *qids)
{
	struct p9_msg t = {0}, r;
	struct slot *s;
	uint32_t f;
	int e;

	if (n > P9_MAXWELEM)
		return -EINVAL;
	if ((e = fid_alloc(c, &f)) < 0)
		return e;
	walk_msg(&t, fid, f, n, names);
	if ((e = rpc(c, &t, NULL, NULL, 0, &r, &s)) < 0 ||
	    (e = walk_made(c, &r, s, n, qids)) < 0) {
		fid_release(c, f);
		return e;
	}
	*newfid = f;
	return 0;
}

/* The walk of a pair sent by rpc_pair(): 0 if fid f was made. The second
 * request's slot is released if the walk failed (a server that answered
 * it for a fid it never made is wrong, but costs nothing here). */
static int pair_walk(struct p9c *c, int e[2], struct p9_msg *r[2],
		     struct slot *s[2], unsigned n, struct p9_qid *qids)
{
	int w = e[0] < 0 ? e[0] : walk_made(c, r[0], s[0], n, qids);
	if (w < 0 && e[1] == 0)
		slot_put(c, s[1]);
	return w;
}

int p9c_walk_getattr(struct p9c *c, uint32_t fid, unsigned n,
		     const char *const *names, uint64_t mask,
		     uint32_t *newfid, struct p9_qid *qids,
		     struct p9_attr *attr)
{
	struct p9_msg t0 = {0}, t1 = {.type = P9_TGETATTR}, r0, r1;
	struct p9_msg *t[2] = {&t0, &t1}, *r[2] = {&r0, &r1};
	struct slot *s[2];
	uint32_t f;
	int e[2];

	if (n > P9_MAXWELEM)
		return -EINVAL;
	if ((e[0] = fid_alloc(c, &f)) < 0)
		return e[0];
	walk_msg(&t0, fid, f, n, names);
	t1.u.tgetattr.fid = f;
	t1.u.tgetattr.request_mask = mask;
	rpc_pair(c, t, r, s, e);
	int w = pair_walk(c, e, r, s, n, qids);
	if (w < 0) {
		fid_release(c, f);
		return w;
	}
	if (e[1] == 0) {
		*attr = r1.u.rgetattr;
		slot_put(c, s[1]);
	} else if ((w = p9c_getattr(c, f, mask, attr)) < 0) {
		/* asked again alone, in case it overtook the walk */
		p9c_clunk(c, f);
		return w;
	}
	*newfid = f;
	return 0;
}

int p9c_clone_open(struct p9c *c, uint32_t fid, const char *name,
		   uint32_t flags, uint32_t mode, uint32_t gid,
		   uint32_t *newfid, struct p9_qid *qid, uint32_t *iounit,
		   int *hostfd)
{
	struct p9_msg t0 = {0}, t1 = {0}, r0, r1;
	struct p9_msg *t[2] = {&t0, &t1}, *r[2] = {&r0, &r1};
	struct slot *s[2];
	uint32_t f;
	int e[2];

	if (hostfd)
		*hostfd = -1;
	if ((e[0] = fid_alloc(c, &f)) < 0)
		return e[0];
	walk_msg(&t0, fid, f, 0, NULL);
	open_msg(&t1, f, name, flags, mode, gid);
	rpc_pair(c, t, r, s, e);
	int w = pair_walk(c, e, r, s, 0, NULL);
	if (w < 0) {
		fid_release(c, f);
		return w;
	}
	if (e[1] == 0)
		w = open_reply(c, s[1], &r1, qid, iounit, hostfd);
	else /* asked again alone, in case it overtook the walk */
		w = open_call(c, f, name, flags, mode, gid, qid, iounit,
			      hostfd);
	if (w < 0) {
		p9c_clunk(c, f);
		return w;
	}
	*newfid = f;
	return 0;
}

static int clunk_like(struct p9c *c, uint32_t fid, uint8_t type)
{
	struct p9_msg t = {.type = type};
	t.u.tfid.fid = fid;
	int e = rpc0(c, &t);
	/* The fid is gone whatever the answer, unless it never reached the
	 * server (then the connection is gone too). */
	fid_release(c, fid);
	return e;
}

int p9c_clunk(struct p9c *c, uint32_t fid)
{
	return clunk_like(c, fid, P9_TCLUNK);
}

int p9c_remove(struct p9c *c, uint32_t fid)
{
	return clunk_like(c, fid, P9_TREMOVE);
}

int p9c_lopen(struct p9c *c, uint32_t fid, uint32_t flags, struct p9_qid *qid,
	      uint32_t *iounit, int *hostfd)
{
	return open_call(c, fid, NULL, flags, 0, 0, qid, iounit, hostfd);
}

int p9c_lcreate(struct p9c *c, uint32_t fid, const char *name, uint32_t flags,
		uint32_t mode, uint32_t gid, struct p9_qid *qid,
		uint32_t *iounit, int *hostfd)
{
	return open_call(c, fid, name, flags, mode, gid, qid, iounit, hostfd);
}

static ssize_t read_like(struct p9c *c, uint8_t type, uint32_t fid,
			 uint64_t off, void *buf, size_t len)
{
	struct p9_msg t = {.type = type}, r;
	struct slot *s;
	int e;
	/* Servers check counts against msize less P9_IOHDRSZ (Linux's
	 * rule, and diod's), not against what would fit. */
	uint32_t max = c->msize - P9_IOHDRSZ;

	if (len > max)
		len = max;
	t.u.tread.fid = fid;
	t.u.tread.offset = off;
	t.u.tread.count = (uint32_t)len;
	/* Tread's data lands in buf directly; Rreaddir is small, copied. */
	if ((e = rpc(c, &t, NULL, type == P9_TREAD ? buf : NULL, len, &r, &s)) <
	    0)
		return e;
	uint32_t n = r.u.rread.count;
	if (n > len) {
		slot_put(c, s);
		return -EPROTO;
	}
	if (type == P9_TREADDIR)
		memcpy(buf, r.u.rread.data, n);
	slot_put(c, s);
	return n;
}

ssize_t p9c_read(struct p9c *c, uint32_t fid, uint64_t off, void *buf,
		 size_t len)
{
	return read_like(c, P9_TREAD, fid, off, buf, len);
}

ssize_t p9c_readdir(struct p9c *c, uint32_t fid, uint64_t offset, void *buf,
		    size_t len)
{
	return read_like(c, P9_TREADDIR, fid, offset, buf, len);
}

ssize_t p9c_write(struct p9c *c, uint32_t fid, uint64_t off, const void *buf,
		  size_t len)
{
	struct p9_msg t = {.type = P9_TWRITE}, r;
	struct slot *s;
	int e;

	if (len > c->msize - P9_IOHDRSZ)
		len = c->msize - P9_IOHDRSZ;
	t.u.twrite.fid = fid;
	t.u.twrite.offset = off;
	t.u.twrite.count = (uint32_t)len;
	/* The payload goes out from the caller's buffer (writev). */
	static const uint8_t none;
	if ((e = rpc(c, &t, len ? buf : &none, NULL, 0, &r, &s)) < 0)
		return e;
	uint32_t n = r.u.rwrite.count;
	slot_put(c, s);
	return n > len ? -EPROTO : (ssize_t)n;
}

int p9c_getattr(struct p9c *c, uint32_t fid, uint64_t mask,
		struct p9_attr *attr)
{
	struct p9_msg t = {.type = P9_TGETATTR}, r;
	struct slot *s;
	int e;

	t.u.tgetattr.fid = fid;
	t.u.tgetattr.request_mask = mask;
	if ((e = rpc(c, &t, NULL, NULL, 0, &r, &s)) < 0)
		return e;
	*attr = r.u.rgetattr;
	slot_put(c, s);
	return 0;
}

int p9c_setattr(struct p9c *c, uint32_t fid, const struct p9_iattr *attr)
{
	struct p9_msg t = {.type = P9_TSETATTR};
	t.u.tsetattr.fid = fid;
	t.u.tsetattr.attr = *attr;
	return rpc0(c, &t);
}

static int qid_call(struct p9c *c, struct p9_msg *t, struct p9_qid *qid)
{
	struct p9_msg r;
	struct slot *s;
	int e = rpc(c, t, NULL, NULL, 0, &r, &s);
	if (e < 0)
		return e;
	if (qid)
		*qid = r.u.rqid.qid;
	slot_put(c, s);
	return 0;
}

int p9c_mkdir(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode,
	      uint32_t gid, struct p9_qid *qid)
{
	struct p9_msg t = {.type = P9_TMKDIR};
	t.u.tmkdir.dfid = dfid;
	t.u.tmkdir.name = p9_str(name);
	t.u.tmkdir.mode = mode;
	t.u.tmkdir.gid = gid;
	return qid_call(c, &t, qid);
}

int p9c_symlink(struct p9c *c, uint32_t dfid, const char *name,
		const char *target, uint32_t gid, struct p9_qid *qid)
{
	struct p9_msg t = {.type = P9_TSYMLINK};
	t.u.tsymlink.dfid = dfid;
	t.u.tsymlink.name = p9_str(name);
	t.u.tsymlink.target = p9_str(target);
	t.u.tsymlink.gid = gid;
	return qid_call(c, &t, qid);
}

int p9c_mknod(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode,
	      uint32_t major, uint32_t minor, uint32_t gid, struct p9_qid *qid)
{
	struct p9_msg t = {.type = P9_TMKNOD};
	t.u.tmknod.dfid = dfid;
	t.u.tmknod.name = p9_str(name);
	t.u.tmknod.mode = mode;
	t.u.tmknod.major = major;
	t.u.tmknod.minor = minor;
	t.u.tmknod.gid = gid;
	return qid_call(c, &t, qid);
}

int p9c_link(struct p9c *c, uint32_t dfid, uint32_t fid, const char *name)
{
	struct p9_msg t = {.type = P9_TLINK};
	t.u.tlink.dfid = dfid;
	t.u.tlink.fid = fid;
	t.u.tlink.name = p9_str(name);
	return rpc0(c, &t);
}

int p9c_unlinkat(struct p9c *c, uint32_t dfid, const char *name, uint32_t flags)
{
	struct p9_msg t = {.type = P9_TUNLINKAT};
	t.u.tunlinkat.dfid = dfid;
	t.u.tunlinkat.name = p9_str(name);
	t.u.tunlinkat.flags = flags;
	int e = rpc0(c, &t);
	if (e != -EOPNOTSUPP)
		return e;
	/* Servers older than Tunlinkat (diod 1.0.24): walk and Tremove. */
	uint32_t fid;
	struct p9_qid q;
	const char *n[] = {name};
	if ((e = p9c_walk(c, dfid, 1, n, &fid, &q)) < 0)
		return e;
	bool isdir = q.type & P9_QTDIR;
	if (isdir != !!(flags & P9_AT_REMOVEDIR)) {
		p9c_clunk(c, fid);
		return isdir ? -EISDIR : -ENOTDIR;
	}
	return p9c_remove(c, fid);
}

int p9c_renameat(struct p9c *c, uint32_t olddfid, const char *oldname,
		 uint32_t newdfid, const char *newname)
{
	struct p9_msg t = {.type = P9_TRENAMEAT};
	t.u.trenameat.olddfid = olddfid;
	t.u.trenameat.oldname = p9_str(oldname);
	t.u.trenameat.newdfid = newdfid;
	t.u.trenameat.newname = p9_str(newname);
	int e = rpc0(c, &t);
	if (e != -EOPNOTSUPP)
		return e;
	/* Servers older than Trenameat (diod 1.0.24) have the fid-based
	 * Trename: walk to the file and rename that. */
	uint32_t fid;
	const char *n[] = {oldname};
	if ((e = p9c_walk(c, olddfid, 1, n, &fid, NULL)) < 0)
		return e;
	struct p9_msg r = {.type = P9_TRENAME};
	r.u.trename.fid = fid;
	r.u.trename.dfid = newdfid;
	r.u.trename.name = p9_str(newname);
	e = rpc0(c, &r);
	p9c_clunk(c, fid);
	return e;
}

ssize_t p9c_readlink(struct p9c *c, uint32_t fid, char *buf, size_t len)
{
	struct p9_msg t = {.type = P9_TREADLINK}, r;
	struct slot *s;
	int e;

	t.u.tfid.fid = fid;
	if ((e = rpc(c, &t, NULL, NULL, 0, &r, &s)) < 0)
		return e;
	size_t n = r.u.rreadlink.target.len;
	if (n + 1 > len) {
		slot_put(c, s);
		return -ENAMETOOLONG;
	}
	memcpy(buf, r.u.rreadlink.target.s, n);
	buf[n] = 0;
	slot_put(c, s);
	return (ssize_t)n;
}

int p9c_statfs(struct p9c *c, uint32_t fid, struct p9_statfs *st)
{
	struct p9_msg t = {.type = P9_TSTATFS}, r;
	struct slot *s;
	int e;

	t.u.tfid.fid = fid;
	if ((e = rpc(c, &t, NULL, NULL, 0, &r, &s)) < 0)
		return e;
	*st = r.u.rstatfs;
	slot_put(c, s);
	return 0;
}

int p9c_fsync(struct p9c *c, uint32_t fid, bool datasync)
{
	struct p9_msg t = {.type = P9_TFSYNC};
	t.u.tfsync.fid = fid;
	t.u.tfsync.datasync = datasync;
	return rpc0(c, &t);
}

ssize_t p9c_getxattr(struct p9c *c, uint32_t fid, const char *name, void *buf,
		     size_t len)
{
	struct p9_msg t = {.type = P9_TXATTRWALK}, r;
	struct slot *s;
	uint32_t xf;
	int e;

	if ((e = fid_alloc(c, &xf)) < 0)
		return e;
	t.u.txattrwalk.fid = fid;
	t.u.txattrwalk.newfid = xf;
	t.u.txattrwalk.name = p9_str(name);
	if ((e = rpc(c, &t, NULL, NULL, 0, &r, &s)) < 0) {
		fid_release(c, xf);
		return e;
	}
	uint64_t size = r.u.rxattrwalk.size;
	slot_put(c, s);
	ssize_t ret = (ssize_t)size;
	if (size > SSIZE_MAX)
		ret = -EPROTO;
	else if (len && size > len)
		ret = -ERANGE;
	for (uint64_t got = 0; ret >= 0 && len && got < size;) {
		ssize_t n =
		    p9c_read(c, xf, got, (uint8_t *)buf + got, size - got);
		if (n <= 0)
			ret = n < 0 ? n : -EPROTO;
		got += n > 0 ? (uint64_t)n : 0;
	}
	p9c_clunk(c, xf);
	return ret;
}

int p9c_setxattr(struct p9c *c, uint32_t fid, const char *name, const void *val,
		 size_t len, uint32_t flags)
{
	uint32_t xf;
	int e;

	/* Txattrcreate turns its fid into the xattr fid: use a clone. */
	if ((e = p9c_walk(c, fid, 0, NULL, &xf, NULL)) < 0)
		return e;
	struct p9_msg t = {.type = P9_TXATTRCREATE};
	t.u.txattrcreate.fid = xf;
	t.u.txattrcreate.name = p9_str(name);
	t.u.txattrcreate.size = len;
	t.u.txattrcreate.flags = flags;
	e = rpc0(c, &t);
	for (size_t done = 0; e == 0 && done < len;) {
		ssize_t n = p9c_write(c, xf, done, (const uint8_t *)val + done,
				      len - done);
		if (n <= 0)
			e = n < 0 ? (int)n : -EPROTO;
		done += n > 0 ? (size_t)n : 0;
	}
	/* The value is set at clunk: its answer is the one that counts. */
	int ce = p9c_clunk(c, xf);
	return e < 0 ? e : ce;
}

int p9c_lock(struct p9c *c, uint32_t fid, const struct p9_flock *lock)
{
	struct p9_msg t = {.type = P9_TLOCK}, r;
	struct slot *s;
	int e;

	t.u.tlock.fid = fid;
	t.u.tlock.lock = *lock;
	if ((e = rpc(c, &t, NULL, NULL, 0, &r, &s)) < 0)
		return e;
	int st = r.u.rlock.status;
	slot_put(c, s);
	return st;
}

int p9c_getlock(struct p9c *c, uint32_t fid, struct p9_flock *lock)
{
	struct p9_msg t = {.type = P9_TGETLOCK}, r;
	struct slot *s;
	int e;

	t.u.tlock.fid = fid;
	t.u.tlock.lock = *lock;
	if ((e = rpc(c, &t, NULL, NULL, 0, &r, &s)) < 0)
		return e;
	lock->type = r.u.rgetlock.type;
	lock->start = r.u.rgetlock.start;
	lock->length = r.u.rgetlock.length;
	lock->proc_id = r.u.rgetlock.proc_id;
	lock->client_id = p9_str(""); /* the reply's text dies with it */
	slot_put(c, s);
	return 0;
}
