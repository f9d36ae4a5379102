/* Pipes. The buffer lives in the sentry; readers and writers block on wait
 * queues (sentry/kernel/wait.h), so a signal interrupts them like any
 * other blocking call. Linux semantics: reads return what is there (0 at
 * end of file once every writer is gone); a write of at most PIPE_BUF bytes
 * is atomic; writing with no reader left raises SIGPIPE and fails with
 * EPIPE; O_DIRECT makes each write a packet that one read returns. */
#define _GNU_SOURCE
#include "pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#include "../../kernel/fdtable.h"
#include "../../kernel/kernel.h"
#include "../../kernel/poll.h"

#define PIPE_SIZE 65536
#define PIPE_BUF_ 4096
/* /proc/sys/fs/pipe-max-size: F_SETPIPE_SZ beyond needs CAP_SYS_RESOURCE. */
#define PIPE_MAX_SIZE 1048576
#define CAP_SYS_RESOURCE_ 24
/* What F_SETPIPE_SZ may add over the default sizes, sandbox-wide: the
 * buffers are the sentry's memory, whatever the workload's capabilities
 * (Linux charges them to the user, and exempts privileged ones). */
#define PIPE_GROWTH_MAX (64UL << 20)
static atomic_size_t pipe_growth;

struct pipe {
	pthread_mutex_t lock;
	atomic_int refs;
	unsigned char *buf;
	size_t head, len; /* ring: data at [head, head + len) mod size */
	size_t size;
	int readers, writers;
	bool packet;
	/* Packet mode: the lengths of the packets in the buffer, in order. */
	uint16_t *pkt; /* a ring of size entries, as the data's */
	size_t pkt_head, pkt_count;
	struct waitq rq, wq; /* readers wait for data, writers for room */
	uint64_t ino;
	uint32_t uid, gid;
	struct timespec mtime, ctime_;
};

struct pipe_end {
	struct pipe *p;
	bool read, write; /* both: reopened O_RDWR through /proc */
};

static atomic_uint_fast64_t next_ino = 1;

static void pipe_put(struct pipe *p)
{
	if (atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	if (p->size > PIPE_SIZE)
		atomic_fetch_sub(&pipe_growth, p->size - PIPE_SIZE);
	free(p->buf);
	free(p->pkt);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static size_t ring_copy_out(struct pipe *p, void *dst, size_t n)
{
	size_t first = p->size - p->head;
	if (first > n)
		first = n;
	memcpy(dst, p->buf + p->head, first);
	memcpy((unsigned char *)dst + first, p->buf, n - first);
	p->head = (p->head + n) % p->size;
	p->len -= n;
	return n;
}

static void ring_copy_in(struct pipe *p, const void *src, size_t n)
{
	size_t tail = (p->head + p->len) % p->size;
	size_t first = p->size - tail;
	if (first > n)
		first = n;
	memcpy(p->buf + tail, src, first);
	memcpy(p->buf, (const unsigned char *)src + first, n - first);
	p->len += n;
}

static long pipe_read(struct task *t, struct file *f, void *buf, size_t n,
		      uint64_t *pos)
{
	struct pipe_end *e = f->priv;
	struct pipe *p = e->p;
	(void)pos;
	struct waiter w;
	long ret;

	if (n == 0)
		return 0;
	waitq_add(&p->rq, &w, t); /* t NULL: never sleeps, never woken */
	pthread_mutex_lock(&p->lock);
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		if (p->len > 0) {
			size_t take = n < p->len ? n : p->len;
			if (p->packet && p->pkt_count) {
				size_t plen = p->pkt[p->pkt_head];
				take = n < plen ? n : plen;
				ring_copy_out(p, buf, take);
				/* The rest of a packet too long for the
				 * buffer is dropped, as on Linux. */
				if (plen > take) {
					char sink[256];
					size_t left = plen - take;
					while (left) {
						size_t c = left < sizeof(sink) ? left : sizeof(sink);
						ring_copy_out(p, sink, c);
						left -= c;
					}
				}
				p->pkt_head = (p->pkt_head + 1) % p->size;
				p->pkt_count--;
			} else {
				ring_copy_out(p, buf, take);
			}
			ret = (long)take;
			break;
		}
		if (p->writers == 0) {
			ret = 0;
			break;
		}
		if (!t || (f->flags & O_NONBLOCK)) {
			ret = -EAGAIN;
			break;
		}
		/* Bytes or the end of the stream first, then signals. */
		if (task_signal_pending(t)) {
			ret = -ERESTARTSYS;
			break;
		}
		pthread_mutex_unlock(&p->lock);
		task_sleep(t, seq, 0);
		pthread_mutex_lock(&p->lock);
	}
	if (ret > 0)
		clock_gettime(CLOCK_REALTIME, &p->mtime);
	pthread_mutex_unlock(&p->lock);
	waitq_remove(&p->rq, &w);
	if (ret > 0)
		waitq_wake_all(&p->wq);
	return ret;
}

static long pipe_write(struct task *t, struct file *f, const void *buf,
		       size_t n, uint64_t *pos)
{
	struct pipe_end *e = f->priv;
	struct pipe *p = e->p;
	(void)pos;
	struct waiter w;
	size_t done = 0;
	long ret = 0;

	if (n == 0)
		return 0;
	if (p->packet && n > PIPE_BUF_)
		n = PIPE_BUF_; /* larger writes are cut into one packet here */
	waitq_add(&p->wq, &w, t);
	pthread_mutex_lock(&p->lock);
	while (done < n) {
		uint32_t seq = task_wait_seq(t);
		if (p->readers == 0) {
			ret = -EPIPE;
			break;
		}
		size_t room = p->size - p->len;
		size_t want = n - done;
		bool atomic = n <= PIPE_BUF_;
		if (p->packet && p->pkt_count >= p->size)
			room = 0;
		if (room >= want || (!atomic && room > 0)) {
			size_t c = want < room ? want : room;
			ring_copy_in(p, (const unsigned char *)buf + done, c);
			if (p->packet) {
				size_t at = (p->pkt_head + p->pkt_count) % p->size;
				p->pkt[at] = (uint16_t)c;
				p->pkt_count++;
			}
			done += c;
			waitq_wake_all(&p->rq);
			continue;
		}
		if (!t || (f->flags & O_NONBLOCK)) {
			if (!done)
				ret = -EAGAIN;
			break;
		}
		/* Room made before a signal came is written first (Linux's
		 * order: the readers, the room, then signals). */
		if (task_signal_pending(t)) {
			if (!done)
				ret = -ERESTARTSYS;
			break;
		}
		pthread_mutex_unlock(&p->lock);
		task_sleep(t, seq, 0);
		pthread_mutex_lock(&p->lock);
	}
	if (done)
		clock_gettime(CLOCK_REALTIME, &p->mtime);
	pthread_mutex_unlock(&p->lock);
	waitq_remove(&p->wq, &w);
	if (ret == -EPIPE) {
		/* As Linux's send_sig(SIGPIPE, current, 0): from ourselves. */
		struct ksiginfo info;
		memset(&info, 0, sizeof(info));
		info.signo = SIGPIPE;
		info.kill.pid = t->tg->tgid;
		info.kill.uid = t->cred.ruid;
		pthread_mutex_lock(&t->k->lock);
		send_signal_locked(t, SIGPIPE, &info, false);
		pthread_mutex_unlock(&t->k->lock);
	}
	return done ? (long)done : ret;
}

static unsigned pipe_poll(struct file *f, struct poll_table *pt)
{
	struct pipe_end *e = f->priv;
	struct pipe *p = e->p;
	unsigned m = 0;
	if (e->write)
		poll_wait(pt, &p->wq);
	if (e->read)
		poll_wait(pt, &p->rq);
	pthread_mutex_lock(&p->lock);
	if (e->write) {
		if (p->size - p->len >= PIPE_BUF_)
			m |= POLLOUT | POLLWRNORM;
		if (p->readers == 0)
			m |= POLLERR;
	}
	if (e->read) {
		if (p->len > 0)
			m |= POLLIN | POLLRDNORM;
		if (p->writers == 0)
			m |= POLLHUP;
	}
	pthread_mutex_unlock(&p->lock);
	return m;
}

static long pipe_fstat(struct file *f, struct stat *st)
{
	struct pipe *p = ((struct pipe_end *)f->priv)->p;
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFIFO | 0600;
	st->st_nlink = 1;
	st->st_ino = p->ino;
	st->st_dev = 0xd; /* the anonymous pipefs device */
	st->st_uid = p->uid;
	st->st_gid = p->gid;
	st->st_blksize = 4096;
	st->st_mtim = st->st_atim = p->mtime;
	st->st_ctim = p->ctime_;
	return 0;
}

static long pipe_readable(struct file *f)
{
	struct pipe *p = ((struct pipe_end *)f->priv)->p;
	pthread_mutex_lock(&p->lock);
	long n = (long)p->len;
	pthread_mutex_unlock(&p->lock);
	return n;
}

static void pipe_release(struct file *f)
{
	struct pipe_end *e = f->priv;
	struct pipe *p = e->p;
	pthread_mutex_lock(&p->lock);
	if (e->write)
		p->writers--;
	if (e->read)
		p->readers--;
	pthread_mutex_unlock(&p->lock);
	/* The other side sees end of file or EPIPE. */
	waitq_wake_all(&p->rq);
	waitq_wake_all(&p->wq);
	pipe_put(p);
	free(e);
}

static int pipe_name(struct file *f, char *buf, size_t len)
{
	struct pipe *p = ((struct pipe_end *)f->priv)->p;
	int n = snprintf(buf, len, "pipe:[%llu]", (unsigned long long)p->ino);
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

static int pipe_reopen(struct task *t, struct file *f, int flags,
		       struct file **out);

static const struct file_ops pipe_ops = {
	.read = pipe_read,
	.write = pipe_write,
	.fstat = pipe_fstat,
	.readable = pipe_readable,
	.poll = pipe_poll,
	.release = pipe_release,
	.name = pipe_name,
	.reopen = pipe_reopen,
};

static struct file *end_new(struct pipe *p, int acc, int flags);

/* open(2) of /proc/[pid]/fd/N: a new end of the same pipe, of the access
 * the open asks (O_RDWR makes one end that is both). Unlike a FIFO's
 * open, it does not wait for a peer. */
static int pipe_reopen(struct task *t, struct file *f, int flags,
		       struct file **out)
{
	(void)t;
	struct pipe *p = ((struct pipe_end *)f->priv)->p;
	int acc = flags & O_ACCMODE;
	if (acc != O_RDONLY && acc != O_WRONLY && acc != O_RDWR)
		return -EINVAL;
	struct file *n = end_new(p, acc, flags & (O_NONBLOCK | O_DIRECT));
	if (!n)
		return -ENOMEM;
	pthread_mutex_lock(&p->lock);
	if (acc != O_RDONLY)
		p->writers++;
	if (acc != O_WRONLY)
		p->readers++;
	pthread_mutex_unlock(&p->lock);
	*out = n;
	return 0;
}

static struct file *end_new(struct pipe *p, int acc, int flags)
{
	struct pipe_end *e = malloc(sizeof(*e));
	if (!e)
		return NULL;
	e->p = p;
	e->read = acc != O_WRONLY;
	e->write = acc != O_RDONLY;
	struct file *f = file_new(&pipe_ops, acc | flags, e);
	if (!f) {
		free(e);
		return NULL;
	}
	atomic_fetch_add(&p->refs, 1);
	return f;
}

/* A buffer's share of PIPE_GROWTH_MAX goes from sub to add bytes; false
 * (and nothing moves) if that would pass the budget. */
static bool growth_move(size_t add, size_t sub)
{
	if (add <= sub) {
		atomic_fetch_sub(&pipe_growth, sub - add);
		return true;
	}
	size_t cur = atomic_load(&pipe_growth);
	do {
		if (cur + (add - sub) > PIPE_GROWTH_MAX)
			return false;
	} while (!atomic_compare_exchange_weak(&pipe_growth, &cur,
					       cur + (add - sub)));
	return true;
}

/* The buffer becomes size bytes (its data, and in packet mode its packets,
 * kept in order); p->lock held. */
static int pipe_resize_locked(struct pipe *p, size_t size)
{
	unsigned char *nb = malloc(size);
	uint16_t *np = p->packet ? malloc(size * sizeof(uint16_t)) : NULL;
	if (!nb || (p->packet && !np)) {
		free(nb);
		free(np);
		return -ENOMEM;
	}
	size_t first = p->size - p->head;
	if (first > p->len)
		first = p->len;
	memcpy(nb, p->buf + p->head, first);
	memcpy(nb + first, p->buf, p->len - first);
	for (size_t i = 0; np && i < p->pkt_count; i++)
		np[i] = p->pkt[(p->pkt_head + i) % p->size];
	free(p->buf);
	free(p->pkt);
	p->buf = nb;
	p->pkt = np;
	p->head = 0;
	p->pkt_head = 0;
	p->size = size;
	return 0;
}

long pipe_fcntl_size(struct task *t, struct file *f, bool set, uint32_t arg)
{
	if (f->ops != &pipe_ops)
		return -EBADF;
	struct pipe *p = ((struct pipe_end *)f->priv)->p;
	if (!set) {
		pthread_mutex_lock(&p->lock);
		long r = (long)p->size;
		pthread_mutex_unlock(&p->lock);
		return r;
	}
	/* Linux's round_pipe_size: a power-of-two number of pages. */
	if (arg > (1U << 31))
		return -EINVAL;
	size_t size = PIPE_BUF_;
	while (size < arg)
		size <<= 1;
	bool privileged = t->cred.cap_effective & (1ULL << CAP_SYS_RESOURCE_);
	pthread_mutex_lock(&p->lock);
	long r;
	size_t was = p->size;
	if (size > was && size > PIPE_MAX_SIZE && !privileged) {
		r = -EPERM;
	} else if (size < p->len || (p->packet && size < p->pkt_count)) {
		r = -EBUSY;
	} else if (size == was) {
		r = (long)size;
	} else {
		/* The sandbox-wide budget for enlarged buffers. */
		size_t add = size > PIPE_SIZE ? size - PIPE_SIZE : 0;
		size_t sub = was > PIPE_SIZE ? was - PIPE_SIZE : 0;
		if (!growth_move(add, sub)) {
			r = -EPERM;
		} else {
			r = pipe_resize_locked(p, size);
			if (r < 0) {
				if (add > sub)
					atomic_fetch_sub(&pipe_growth, add - sub);
				else
					atomic_fetch_add(&pipe_growth, sub - add);
			} else {
				r = (long)size;
			}
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (r > 0)
		waitq_wake_all(&p->wq); /* room for waiting writers, maybe */
	return r;
}

int pipe_create(struct task *t, int flags, struct file **rd, struct file **wr)
{
	struct pipe *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	atomic_init(&p->refs, 1);
	p->size = PIPE_SIZE;
	p->buf = malloc(PIPE_SIZE);
	p->packet = flags & O_DIRECT;
	if (p->packet)
		p->pkt = malloc(PIPE_SIZE * sizeof(uint16_t));
	if (!p->buf || (p->packet && !p->pkt)) {
		pipe_put(p);
		return -ENOMEM;
	}
	waitq_init(&p->rq);
	waitq_init(&p->wq);
	p->readers = p->writers = 1;
	p->ino = atomic_fetch_add(&next_ino, 1);
	p->uid = t->cred.euid;
	p->gid = t->cred.egid;
	clock_gettime(CLOCK_REALTIME, &p->ctime_);
	p->mtime = p->ctime_;
	*rd = end_new(p, O_RDONLY, flags & (O_NONBLOCK | O_DIRECT));
	*wr = end_new(p, O_WRONLY, flags & (O_NONBLOCK | O_DIRECT));
	pipe_put(p);
	if (!*rd || !*wr) {
		file_put(*rd);
		file_put(*wr);
		return -ENOMEM;
	}
	return 0;
}
