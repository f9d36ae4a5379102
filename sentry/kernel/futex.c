/* Futexes, served by the sentry (class `sentry` in the table): waiters are
 * sentry threads sleeping on their task's event counter, so a signal or a
 * group exit interrupts them like any other blocking call, and thread exit
 * (CLONE_CHILD_CLEARTID, robust lists) wakes them without the host.
 *
 * A futex is named by its key: (mm, address) for private memory, (memory
 * object, offset) for MAP_SHARED memory, so processes sharing memory across
 * fork meet on the same futex. One lock covers every futex: operations are
 * short and this machine has two CPUs; a hashed set of locks would be the
 * next step if it shows in profiles. */
#define _GNU_SOURCE
#include "futex.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../mm/mm.h"
#include "kernel.h"

#define HASH 256

struct fkey {
	uint64_t space; /* mm pointer, or shared object id | 1 << 63 */
	uint64_t off;
};

struct fwaiter {
	struct task *t;
	struct fkey key;
	uint32_t bitset;
	bool woken;
	struct fwaiter *next, *prev;
};

static pthread_mutex_t futex_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fwaiter *buckets[HASH];

static unsigned hash(const struct fkey *k)
{
	uint64_t h = k->space * 0x9e3779b97f4a7c15ULL ^ (k->off >> 2);
	return (unsigned)(h ^ (h >> 32)) % HASH;
}

static bool key_eq(const struct fkey *a, const struct fkey *b)
{
	return a->space == b->space && a->off == b->off;
}

static int get_key(struct task *t, uint64_t addr, bool priv, struct fkey *k)
{
	uint64_t obj, off;
	if (addr & 3)
		return -EINVAL;
	int err = mm_futex_key(t->mm, addr, priv, &obj, &off);
	if (err < 0)
		return err;
	if (obj) {
		k->space = obj | (1ULL << 63);
		k->off = off;
	} else {
		k->space = (uint64_t)(uintptr_t)t->mm;
		k->off = addr;
	}
	return 0;
}

static void enqueue(struct fwaiter *w)
{
	struct fwaiter **b = &buckets[hash(&w->key)];
	w->prev = NULL;
	w->next = *b;
	if (*b)
		(*b)->prev = w;
	*b = w;
}

static void dequeue(struct fwaiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		buckets[hash(&w->key)] = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->next = w->prev = NULL;
}

/* futex_lock held. */
static int wake_key(const struct fkey *k, int n, uint32_t bitset)
{
	int woken = 0;
	struct fwaiter *w = buckets[hash(k)], *next;
	/* Oldest first: waiters are pushed at the head. */
	while (w && w->next)
		w = w->next;
	for (; w && woken < n; w = next) {
		next = w->prev;
		if (!key_eq(&w->key, k) || !(w->bitset & bitset))
			continue;
		dequeue(w);
		w->woken = true;
		task_wake(w->t);
		woken++;
	}
	return woken;
}

static int read_word(struct task *t, uint64_t addr, uint32_t *v)
{
	return task_copy_in(t, v, addr, sizeof(*v));
}

static long futex_wait_restart(struct task *t);

static long do_wait(struct task *t, uint64_t addr, bool priv, uint32_t val,
		    uint64_t deadline, uint32_t bitset, bool restartable)
{
	struct fwaiter w = { .t = t, .bitset = bitset };
	uint32_t cur;
	int err = get_key(t, addr, priv, &w.key);
	if (err < 0)
		return err;

	mm_flush(t, addr, addr + sizeof(cur)); /* not under futex_lock */
	pthread_mutex_lock(&futex_lock);
	enqueue(&w);
	/* Read under the lock: a waker changes the word before it takes
	 * the lock, so either we see the new value or it sees us queued. */
	err = read_word(t, addr, &cur);
	if (err < 0 || cur != val) {
		dequeue(&w);
		pthread_mutex_unlock(&futex_lock);
		return err < 0 ? err : -EAGAIN;
	}
	long ret = 0;
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		if (w.woken)
			break;
		pthread_mutex_unlock(&futex_lock);
		int r = task_sleep(t, seq, deadline);
		pthread_mutex_lock(&futex_lock);
		if (w.woken)
			break;
		if (r == -ETIMEDOUT) {
			ret = -ETIMEDOUT;
			break;
		}
		if (r < 0) {
			ret = -ERESTARTSYS;
			break;
		}
	}
	if (!w.woken)
		dequeue(&w);
	pthread_mutex_unlock(&futex_lock);
	if (ret == -ERESTARTSYS && deadline) {
		if (!restartable)
			return -EINTR;
		/* Restarted with the same absolute deadline. */
		t->restart.fn = futex_wait_restart;
		t->restart.a[0] = addr;
		t->restart.a[1] = val | ((uint64_t)priv << 32);
		t->restart.a[2] = deadline;
		t->restart.a[3] = bitset;
		return -ERESTART_RESTARTBLOCK;
	}
	return ret;
}

static long futex_wait_restart(struct task *t)
{
	uint64_t *a = t->restart.a;
	return do_wait(t, a[0], (a[1] >> 32) & 1, (uint32_t)a[1], a[2],
		       (uint32_t)a[3], true);
}

static uint64_t realtime_to_monotonic(uint64_t rt_ns)
{
	struct timespec r, m;
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	int64_t now_rt = (int64_t)r.tv_sec * 1000000000LL + r.tv_nsec;
	int64_t now_mono = (int64_t)m.tv_sec * 1000000000LL + m.tv_nsec;
	int64_t d = (int64_t)rt_ns - now_rt;
	if (d < 0)
		d = 0;
	return (uint64_t)(now_mono + d);
}

static int read_timeout(struct task *t, uint64_t uts, bool absolute,
			bool realtime, uint64_t *deadline)
{
	struct timespec ts;
	*deadline = 0;
	if (!uts)
		return 0;
	int err = task_copy_in(t, &ts, uts, sizeof(ts));
	if (err < 0)
		return err;
	if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)
		return -EINVAL;
	uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	if (!absolute)
		*deadline = monotonic_ns() + ns;
	else if (realtime)
		*deadline = realtime_to_monotonic(ns);
	else
		*deadline = ns;
	if (*deadline == 0)
		*deadline = 1; /* the epoch itself: already past */
	return 0;
}

static long do_requeue(struct task *t, uint64_t a1, uint64_t a2, bool priv,
		       int nwake, int nreq, bool cmp, uint32_t val3)
{
	struct fkey k1, k2;
	int err = get_key(t, a1, priv, &k1);
	if (!err)
		err = get_key(t, a2, priv, &k2);
	if (err < 0)
		return err;
	if (nwake < 0 || nreq < 0)
		return -EINVAL;
	if (cmp)
		mm_flush(t, a1, a1 + sizeof(uint32_t));
	pthread_mutex_lock(&futex_lock);
	if (cmp) {
		uint32_t cur;
		err = read_word(t, a1, &cur);
		if (err < 0 || cur != val3) {
			pthread_mutex_unlock(&futex_lock);
			return err < 0 ? err : -EAGAIN;
		}
	}
	long n = wake_key(&k1, nwake, FUTEX_BITSET_MATCH_ANY);
	int moved = 0;
	struct fwaiter *w = buckets[hash(&k1)], *next;
	while (w && w->next)
		w = w->next;
	for (; w && moved < nreq; w = next) {
		next = w->prev;
		if (!key_eq(&w->key, &k1))
			continue;
		dequeue(w);
		w->key = k2;
		enqueue(w);
		moved++;
	}
	pthread_mutex_unlock(&futex_lock);
	return n + moved;
}

/* FUTEX_WAKE_OP: the read-modify-write of *uaddr2 is done by the sentry
 * under the futex lock, atomic against other futex calls but not against
 * plain atomic instructions of other workload threads (the table marks
 * this partial). */
static long do_wake_op(struct task *t, uint64_t a1, uint64_t a2, bool priv,
		       int n1, int n2, uint32_t encoded)
{
	int op = (encoded >> 28) & 7, cmp = (encoded >> 24) & 15;
	/* Both 12-bit arguments are signed, as Linux reads them. */
	uint32_t oparg = (encoded >> 12) & 0xfff, cmparg = encoded & 0xfff;
	if (oparg & 0x800)
		oparg |= 0xfffff000u;
	struct fkey k1, k2;
	uint32_t old, nv;

	/* Linux takes a shift out of 0-31 modulo 32 (and says so). */
	if (encoded & ((uint32_t)FUTEX_OP_OPARG_SHIFT << 28))
		oparg = 1U << (oparg & 31);
	int err = get_key(t, a1, priv, &k1);
	if (!err)
		err = get_key(t, a2, priv, &k2);
	if (err < 0)
		return err;
	mm_flush(t, a2, a2 + sizeof(old));
	pthread_mutex_lock(&futex_lock);
	err = read_word(t, a2, &old);
	if (err < 0)
		goto out;
	switch (op) {
	case FUTEX_OP_SET: nv = oparg; break;
	case FUTEX_OP_ADD: nv = old + oparg; break;
	case FUTEX_OP_OR: nv = old | oparg; break;
	case FUTEX_OP_ANDN: nv = old & ~oparg; break;
	case FUTEX_OP_XOR: nv = old ^ oparg; break;
	default:
		err = -ENOSYS;
		goto out;
	}
	err = task_copy_out(t, a2, &nv, sizeof(nv));
	if (err < 0)
		goto out;
	long woken = wake_key(&k1, n1, FUTEX_BITSET_MATCH_ANY);
	bool hit;
	int32_t o = (int32_t)old, c = (int32_t)((cmparg & 0x800) ? cmparg | 0xfffff000 : cmparg);
	switch (cmp) {
	case FUTEX_OP_CMP_EQ: hit = old == (uint32_t)c; break;
	case FUTEX_OP_CMP_NE: hit = old != (uint32_t)c; break;
	case FUTEX_OP_CMP_LT: hit = o < c; break;
	case FUTEX_OP_CMP_LE: hit = o <= c; break;
	case FUTEX_OP_CMP_GT: hit = o > c; break;
	case FUTEX_OP_CMP_GE: hit = o >= c; break;
	default:
		/* Linux applies the operation, then refuses the comparison. */
		err = -ENOSYS;
		goto out;
	}
	if (hit)
		woken += wake_key(&k2, n2, FUTEX_BITSET_MATCH_ANY);
	pthread_mutex_unlock(&futex_lock);
	return woken;
out:
	pthread_mutex_unlock(&futex_lock);
	return err;
}

long futex_op(struct task *t, uint64_t uaddr, int op, uint32_t val,
	      uint64_t timeout, uint64_t uaddr2, uint32_t val3)
{
	int cmd = op & FUTEX_CMD_MASK;
	bool priv = op & FUTEX_PRIVATE_FLAG;
	bool realtime = op & FUTEX_CLOCK_REALTIME;
	uint64_t deadline;
	int err;

	if (realtime && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET &&
	    cmd != FUTEX_WAIT_REQUEUE_PI && cmd != FUTEX_LOCK_PI2)
		return -ENOSYS;
	switch (cmd) {
	case FUTEX_WAIT:
		err = read_timeout(t, timeout, false, false, &deadline);
		if (err < 0)
			return err;
		return do_wait(t, uaddr, priv, val, deadline,
			       FUTEX_BITSET_MATCH_ANY, true);
	case FUTEX_WAIT_BITSET:
		if (!val3)
			return -EINVAL;
		err = read_timeout(t, timeout, true, realtime, &deadline);
		if (err < 0)
			return err;
		return do_wait(t, uaddr, priv, val, deadline, val3, true);
	case FUTEX_WAKE:
		val3 = FUTEX_BITSET_MATCH_ANY;
		/* fall through */
	case FUTEX_WAKE_BITSET: {
		struct fkey k;
		if (!val3)
			return -EINVAL;
		err = get_key(t, uaddr, priv, &k);
		if (err < 0)
			/* Linux: nothing can wait on an unmapped private
			 * address, so waking there wakes nobody. */
			return (priv && err == -EFAULT) ? 0 : err;
		pthread_mutex_lock(&futex_lock);
		long n = wake_key(&k, (int)(val > INT32_MAX ? INT32_MAX : val), val3);
		pthread_mutex_unlock(&futex_lock);
		return n;
	}
	case FUTEX_REQUEUE:
	case FUTEX_CMP_REQUEUE:
		return do_requeue(t, uaddr, uaddr2, priv, (int)val, (int)timeout,
				  cmd == FUTEX_CMP_REQUEUE, val3);
	case FUTEX_WAKE_OP:
		return do_wake_op(t, uaddr, uaddr2, priv, (int)val, (int)timeout,
				  val3);
	default:
		/* Priority-inheritance futexes are not implemented. */
		return -ENOSYS;
	}
}

int futex_wake_addr(struct task *t, uint64_t addr, int n)
{
	struct fkey k;
	if (get_key(t, addr, false, &k) < 0)
		return 0;
	pthread_mutex_lock(&futex_lock);
	int r = wake_key(&k, n, FUTEX_BITSET_MATCH_ANY);
	pthread_mutex_unlock(&futex_lock);
	return r;
}

/* One robust futex of a dying owner: mark it OWNER_DIED and wake a waiter. */
static void handle_futex_death(struct task *t, uint64_t uaddr, bool pending)
{
	uint32_t v;
	if (read_word(t, uaddr, &v) < 0)
		return;
	if (pending && v == 0) {
		/* The lock was being taken: a waiter may sleep on it. */
		futex_wake_addr(t, uaddr, 1);
		return;
	}
	if ((v & FUTEX_TID_MASK) != (uint32_t)t->tid)
		return;
	uint32_t nv = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
	if (task_copy_out(t, uaddr, &nv, sizeof(nv)) < 0)
		return;
	if (v & FUTEX_WAITERS)
		futex_wake_addr(t, uaddr, 1);
}

void futex_exit_robust_list(struct task *t)
{
	struct {
		uint64_t next;
		int64_t futex_offset;
		uint64_t list_op_pending;
	} head;

	if (!t->robust_list)
		return;
	if (task_copy_in(t, &head, t->robust_list, sizeof(head)) < 0)
		return;
	uint64_t entry = head.next;
	/* ROBUST_LIST_LIMIT: a cyclic list must not hang the sentry. */
	for (int i = 0; i < 2048 && entry != t->robust_list; i++) {
		uint64_t next;
		if (task_copy_in(t, &next, entry & ~1ULL, sizeof(next)) < 0)
			break;
		if (entry != head.list_op_pending)
			handle_futex_death(t, (entry & ~1ULL) + (uint64_t)head.futex_offset,
					   false);
		entry = next;
	}
	if (head.list_op_pending)
		handle_futex_death(t, (head.list_op_pending & ~1ULL) +
					      (uint64_t)head.futex_offset,
				   true);
	t->robust_list = 0;
}
