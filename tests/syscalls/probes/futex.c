/*
 * futex: WAIT/WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET/WAKE_BITSET,
 * private and shared (across fork through MAP_SHARED memory), timeouts
 * (ETIMEDOUT, relative and absolute on both clocks), EAGAIN on a value
 * mismatch, the argument errors, robust-list cleanup at thread and process
 * exit (FUTEX_OWNER_DIED, list_op_pending, the waiter wake) and glibc's
 * robust mutexes on top of it.
 *
 * Waker/waiter races are avoided without sleeping: a waker first makes sure
 * the waiters are really queued by moving them with FUTEX_CMP_REQUEUE to a
 * parking word (the call returns how many it moved) and back again.  Only
 * counts and return values are printed.
 */
#include "probe_proc.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>

#define NO_SUCH_PID   0x3fffffff
#define WAIT_LIMIT_NS (10 * 1000000000LL)

static long fx(uint32_t *uaddr, int op, uint32_t val, const void *ts,
	       uint32_t *uaddr2, uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* ---- waiter threads ----------------------------------------------------- */

struct waiter {
	pthread_t t;
	uint32_t *word;
	int op;
	uint32_t bitset;
	long ret;
	int err;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	errno = 0;
	w->ret = fx(w->word, w->op, 0, NULL, NULL, w->bitset);
	w->err = errno;
	return NULL;
}

static void start_waiters(struct waiter *w, int n, uint32_t *word, int op,
			  uint32_t bitset)
{
	for (int i = 0; i < n; i++) {
		w[i].word = word;
		w[i].op = op;
		w[i].bitset = bitset;
		w[i].ret = -2;
		px_thread(&w[i].t, waiter_fn, &w[i]);
	}
}

/* Joins them; true when every wait returned 0 (woken, not EAGAIN). */
static int join_waiters(struct waiter *w, int n)
{
	int ok = 1;

	for (int i = 0; i < n; i++) {
		pthread_join(w[i].t, NULL);
		ok &= w[i].ret == 0;
	}
	return ok;
}

/*
 * Returns once `n` waiters are queued on `word` (value 0): they are moved
 * to `park` as they arrive, then all moved back.  A sleeping waiter can be
 * woken spuriously (a deferred wake-up meant for an earlier wait); the
 * kernel then queues it again on its original word, so a short count on
 * the way back just means counting again.  `shared` selects the shared
 * ops.  0 on success, -1 on a failed requeue or after 10 s.
 */
static int settle(uint32_t *word, uint32_t *park, int n, int shared)
{
	int op = shared ? FUTEX_CMP_REQUEUE : FUTEX_CMP_REQUEUE_PRIVATE;
	int64_t start = px_now_ns(CLOCK_MONOTONIC);

	for (;;) {
		long moved = 0;
		while (moved < n) {
			long r =
			    fx(word, op, 0, (void *)(long)INT_MAX, park, 0);
			if (r < 0)
				return -1;
			if (r == 0)
				sched_yield();
			moved += r;
			if (px_now_ns(CLOCK_MONOTONIC) - start > WAIT_LIMIT_NS)
				return -1;
		}
		long back = fx(park, op, 0, (void *)(long)INT_MAX, word, 0);
		if (back == n)
			return 0;
		if (back < 0)
			return -1;
	}
}

/* ---- single-thread semantics ------------------------------------------- */

static void basic_tests(void)
{
	static uint32_t a, b;
	struct timespec ts;
	void *none =
	    mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	a = 0;
	CHECK_ERR("WAIT with a different value",
		  fx(&a, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0), EAGAIN);
	ts = (struct timespec){0, 20 * 1000000};
	int64_t t0 = px_now_ns(CLOCK_MONOTONIC);
	CHECK_ERR("WAIT 20ms timeout",
		  fx(&a, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), ETIMEDOUT);
	CHECK_TRUE("waited at least 20ms",
		   px_now_ns(CLOCK_MONOTONIC) - t0 >= 20 * 1000000LL);
	ts = (struct timespec){0, 20 * 1000000};
	t0 = px_now_ns(CLOCK_MONOTONIC);
	CHECK_ERR("shared WAIT 20ms timeout",
		  fx(&a, FUTEX_WAIT, 0, &ts, NULL, 0), ETIMEDOUT);
	CHECK_TRUE("waited at least 20ms",
		   px_now_ns(CLOCK_MONOTONIC) - t0 >= 20 * 1000000LL);
	ts = (struct timespec){0, 1000000000};
	CHECK_ERR("WAIT tv_nsec 1e9",
		  fx(&a, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), EINVAL);
	ts = (struct timespec){-1, 0};
	CHECK_ERR("WAIT negative timeout",
		  fx(&a, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), EINVAL);

	/* Absolute timeouts already in the past, on both clocks. */
	ts = (struct timespec){1, 0};
	CHECK_ERR("WAIT_BITSET absolute MONOTONIC in the past",
		  fx(&a, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, NULL,
		     FUTEX_BITSET_MATCH_ANY),
		  ETIMEDOUT);
	CHECK_ERR("WAIT_BITSET absolute REALTIME in the past",
		  fx(&a, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0,
		     &ts, NULL, FUTEX_BITSET_MATCH_ANY),
		  ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 15 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	CHECK_ERR("WAIT_BITSET absolute deadline 15ms ahead",
		  fx(&a, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, NULL,
		     FUTEX_BITSET_MATCH_ANY),
		  ETIMEDOUT);
	CHECK_TRUE("woke at or after the deadline",
		   px_now_ns(CLOCK_MONOTONIC) >=
		       (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);

	CHECK_RET("WAKE with no waiters",
		  fx(&a, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
	CHECK_ERR("WAKE unaligned",
		  fx((uint32_t *)((char *)&a + 1), FUTEX_WAKE_PRIVATE, 1, NULL,
		     NULL, 0),
		  EINVAL);
	CHECK_ERR("WAIT on an inaccessible page",
		  fx(none, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EFAULT);
	/* A private wake only hashes the address; a shared one looks it up. */
	CHECK_RET("private WAKE on an inaccessible page",
		  fx(none, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
	CHECK_ERR("shared WAKE on an inaccessible page",
		  fx(none, FUTEX_WAKE, 1, NULL, NULL, 0), EFAULT);
	CHECK_ERR("unknown op 99", fx(&a, 99, 0, NULL, NULL, 0), ENOSYS);
	CHECK_ERR("WAIT_BITSET with bitset 0",
		  fx(&a, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0), EINVAL);
	CHECK_ERR("WAKE_BITSET with bitset 0",
		  fx(&a, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0), EINVAL);
	CHECK_ERR("CMP_REQUEUE value mismatch",
		  fx(&a, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1, &b, 7),
		  EAGAIN);
	CHECK_ERR(
	    "CMP_REQUEUE negative nr_wake",
	    fx(&a, FUTEX_CMP_REQUEUE_PRIVATE, (uint32_t)-1, (void *)1, &b, 0),
	    EINVAL);
	CHECK_ERR("REQUEUE negative nr_requeue",
		  fx(&a, FUTEX_REQUEUE_PRIVATE, 1, (void *)-1L, &b, 0), EINVAL);

	/* WAKE_OP arithmetic on *uaddr2, no waiters. */
	struct {
		const char *name;
		int op, arg;
		uint32_t before, after;
	} ops[] = {
	    {"SET 5", FUTEX_OP_SET, 5, 99, 5},
	    {"ADD 3", FUTEX_OP_ADD, 3, 5, 8},
	    {"OR 0x10", FUTEX_OP_OR, 0x10, 8, 0x18},
	    {"ANDN 0x8", FUTEX_OP_ANDN, 0x8, 0x18, 0x10},
	    {"XOR 0xff", FUTEX_OP_XOR, 0xff, 0x10, 0xef},
	    {"SET 1<<4 (OPARG_SHIFT)",
	     FUTEX_OP_SET | (FUTEX_OP_OPARG_SHIFT << 0), 4, 0, 16},
	    /* The 12-bit oparg is signed. */
	    {"ADD 0xfff (-1)", FUTEX_OP_ADD, 0xfff, 5, 4},
	    {"SET 0xffe (-2)", FUTEX_OP_SET, 0xffe, 0, 0xfffffffe},
	    {"ANDN 0x800 (-2048)", FUTEX_OP_ANDN, 0x800, 0xffffffff, 0x7ff},
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		char label[80];
		b = ops[i].before;
		snprintf(label, sizeof(label), "WAKE_OP %s", ops[i].name);
		CHECK_RET(
		    label,
		    fx(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &b,
		       FUTEX_OP(ops[i].op, ops[i].arg, FUTEX_OP_CMP_EQ, 0)),
		    0);
		snprintf(label, sizeof(label), "WAKE_OP %s: *uaddr2 %u -> %u",
			 ops[i].name, ops[i].before, ops[i].after);
		CHECK_TRUE(label, b == ops[i].after);
	}
	b = 5;
	CHECK_ERR("WAKE_OP unknown op 7",
		  fx(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &b,
		     FUTEX_OP(7, 1, FUTEX_OP_CMP_EQ, 0)),
		  ENOSYS);
	CHECK_TRUE("unknown op: *uaddr2 untouched", b == 5);
	/* The comparison is only decoded after the operation was applied. */
	CHECK_ERR("WAKE_OP unknown comparison 7",
		  fx(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &b,
		     FUTEX_OP(FUTEX_OP_ADD, 1, 7, 0)),
		  ENOSYS);
	CHECK_TRUE("unknown comparison: the ADD still happened (5 -> 6)",
		   b == 6);
	CHECK_ERR("WAKE_OP inaccessible uaddr2",
		  fx(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, none,
		     FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0)),
		  EFAULT);
	munmap(none, 4096);
}

/* ---- with waiting threads ----------------------------------------------- */

static uint32_t wa, wb, park;

static void thread_tests(void)
{
	struct waiter w[3];

	wa = 0;
	start_waiters(w, 1, &wa, FUTEX_WAIT_PRIVATE, 0);
	CHECK_OK("one waiter queued (counted by CMP_REQUEUE)",
		 settle(&wa, &park, 1, 0));
	CHECK_RET("WAKE 1", fx(&wa, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 1);
	CHECK_TRUE("the waiter's WAIT returned 0", join_waiters(w, 1));

	start_waiters(w, 3, &wa, FUTEX_WAIT_PRIVATE, 0);
	CHECK_OK("three waiters queued", settle(&wa, &park, 3, 0));
	CHECK_RET("WAKE 2 of 3", fx(&wa, FUTEX_WAKE_PRIVATE, 2, NULL, NULL, 0),
		  2);
	CHECK_RET("WAKE all: the last one",
		  fx(&wa, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1);
	CHECK_TRUE("all three returned 0", join_waiters(w, 3));

	/* REQUEUE: wake one, move one, leave one. */
	start_waiters(w, 3, &wa, FUTEX_WAIT_PRIVATE, 0);
	settle(&wa, &park, 3, 0);
	CHECK_RET("REQUEUE wake 1, move 1 (counts both)",
		  fx(&wa, FUTEX_REQUEUE_PRIVATE, 1, (void *)1, &wb, 0), 2);
	CHECK_RET("one left on the first word",
		  fx(&wa, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1);
	CHECK_RET("one moved to the second word",
		  fx(&wb, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1);
	CHECK_TRUE("all three returned 0", join_waiters(w, 3));

	start_waiters(w, 3, &wa, FUTEX_WAIT_PRIVATE, 0);
	settle(&wa, &park, 3, 0);
	CHECK_RET("CMP_REQUEUE wake 0, move 2",
		  fx(&wa, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)2, &wb, 0), 2);
	CHECK_RET("WAKE on the second word",
		  fx(&wb, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 2);
	CHECK_RET("WAKE on the first word",
		  fx(&wa, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1);
	CHECK_TRUE("all three returned 0", join_waiters(w, 3));

	/* WAKE_OP with one waiter on each word. */
	wb = 0;
	start_waiters(&w[0], 1, &wa, FUTEX_WAIT_PRIVATE, 0);
	start_waiters(&w[1], 1, &wb, FUTEX_WAIT_PRIVATE, 0);
	settle(&wa, &park, 1, 0);
	settle(&wb, &park, 1, 0);
	CHECK_RET("WAKE_OP ADD 1, old == 1? no: wakes only uaddr1",
		  fx(&wa, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &wb,
		     FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 1)),
		  1);
	CHECK_TRUE("*uaddr2 incremented anyway", wb == 1);
	CHECK_TRUE("the uaddr1 waiter returned 0", join_waiters(&w[0], 1));
	start_waiters(&w[0], 1, &wa, FUTEX_WAIT_PRIVATE, 0);
	settle(&wa, &park, 1, 0);
	CHECK_RET("WAKE_OP ADD 1, old == 1? yes: wakes both",
		  fx(&wa, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &wb,
		     FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 1)),
		  2);
	CHECK_TRUE("both waiters returned 0", join_waiters(w, 2));

	/* Bitsets. */
	wa = 0;
	start_waiters(w, 1, &wa, FUTEX_WAIT_BITSET_PRIVATE, 0x1);
	settle(&wa, &park, 1, 0);
	CHECK_RET("WAKE_BITSET 0x2 misses a 0x1 waiter",
		  fx(&wa, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x2),
		  0);
	CHECK_RET("WAKE_BITSET 0x3 matches it",
		  fx(&wa, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x3),
		  1);
	CHECK_TRUE("bitset waiter returned 0", join_waiters(w, 1));
	start_waiters(w, 1, &wa, FUTEX_WAIT_BITSET_PRIVATE, 0x4);
	settle(&wa, &park, 1, 0);
	CHECK_RET("plain WAKE matches any bitset",
		  fx(&wa, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1);
	CHECK_TRUE("bitset waiter returned 0", join_waiters(w, 1));
	start_waiters(w, 1, &wa, FUTEX_WAIT_PRIVATE, 0);
	settle(&wa, &park, 1, 0);
	CHECK_RET("WAKE_BITSET 0x8 matches a plain WAIT",
		  fx(&wa, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x8),
		  1);
	CHECK_TRUE("plain waiter returned 0", join_waiters(w, 1));
}

/* ---- shared across fork ------------------------------------------------- */

static void shared_tests(void)
{
	uint32_t *sh = px_shared(4096);

	sh[0] = 0;
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0)
		_exit(fx(&sh[0], FUTEX_WAIT, 0, NULL, NULL, 0) == 0 ? 0 : 1);
	CHECK_OK("child queued on the shared word",
		 settle(&sh[0], &sh[1], 1, 1));
	CHECK_RET("private WAKE does not reach another process",
		  fx(&sh[0], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
	CHECK_RET("shared WAKE does", fx(&sh[0], FUTEX_WAKE, 1, NULL, NULL, 0),
		  1);
	px_expect_exit("child's WAIT returned 0", pid, "exited 0");

	/* Two children, requeued between shared words. */
	pid_t kids[2];
	for (int i = 0; i < 2; i++) {
		fflush(stdout);
		kids[i] = px_fork();
		if (kids[i] == 0)
			_exit(fx(&sh[0], FUTEX_WAIT, 0, NULL, NULL, 0) == 0
				  ? 0
				  : 1);
	}
	settle(&sh[0], &sh[1], 2, 1);
	CHECK_RET("shared CMP_REQUEUE moves both",
		  fx(&sh[0], FUTEX_CMP_REQUEUE, 0, (void *)2, &sh[2], 0), 2);
	CHECK_RET("shared WAKE on the target",
		  fx(&sh[2], FUTEX_WAKE, 2, NULL, NULL, 0), 2);
	px_expect_exit("first child", kids[0], "exited 0");
	px_expect_exit("second child", kids[1], "exited 0");
	munmap(sh, 4096);
}

/* ---- robust lists ------------------------------------------------------- */

struct rlist {
	struct rlist *next;
};

struct rlock {
	struct rlist link;
	uint32_t word;
};

struct rhead {
	struct rlist list;
	long futex_offset;
	struct rlist *op_pending;
};

static struct rhead th_head;
static struct rlock held, pending_lock, foreign;
static pid_t robust_ctid;

#define STACK_SIZE (128 * 1024)

/* A raw thread that "holds" two locks and one pending, then exits. */
static int robust_thread(void *arg)
{
	uint32_t tid = (uint32_t)syscall(SYS_gettid);

	held.word = tid | FUTEX_WAITERS;
	pending_lock.word = tid;
	foreign.word = tid + 1; /* someone else's */
	held.link.next = &foreign.link;
	foreign.link.next = &th_head.list;
	th_head.list.next = &held.link;
	th_head.futex_offset = (long)offsetof(struct rlock, word);
	th_head.op_pending = &pending_lock.link;
	syscall(SYS_set_robust_list, &th_head, sizeof(th_head));
	return 0;
}

static void robust_tests(void)
{
	struct rhead *head = NULL;
	size_t len = 0;

	CHECK_OK("get_robust_list(0)",
		 syscall(SYS_get_robust_list, 0, &head, &len));
	CHECK_TRUE("libc registered one, 24 bytes", head != NULL && len == 24);
	CHECK_ERR("set_robust_list len 23",
		  syscall(SYS_set_robust_list, head, 23), EINVAL);
	CHECK_ERR("get_robust_list(no such pid)",
		  syscall(SYS_get_robust_list, NO_SUCH_PID, &head, &len),
		  ESRCH);

	char *stk = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	robust_ctid = -1;
	long tid =
	    clone(robust_thread, stk + STACK_SIZE,
		  CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
		      CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID,
		  NULL, NULL, NULL, &robust_ctid);
	CHECK_TRUE("robust thread started", tid > 0);
	/* The robust list is walked before the tid word is cleared. */
	int64_t start = px_now_ns(CLOCK_MONOTONIC);
	for (;;) {
		pid_t v = __atomic_load_n(&robust_ctid, __ATOMIC_ACQUIRE);
		if (v == 0 ||
		    px_now_ns(CLOCK_MONOTONIC) - start > WAIT_LIMIT_NS)
			break;
		struct timespec ts = {1, 0};
		fx((uint32_t *)&robust_ctid, FUTEX_WAIT, (uint32_t)v, &ts, NULL,
		   0);
	}
	CHECK_TRUE("thread gone (CLEARTID)", robust_ctid == 0);
	CHECK_TRUE("held lock: OWNER_DIED | WAITERS, tid cleared",
		   held.word == (FUTEX_OWNER_DIED | FUTEX_WAITERS));
	CHECK_TRUE("pending lock: OWNER_DIED",
		   pending_lock.word == FUTEX_OWNER_DIED);
	CHECK_TRUE("someone else's lock untouched",
		   foreign.word == (uint32_t)tid + 1);
	munmap(stk, STACK_SIZE);

	/* Process exit, on a shared word, with the parent waiting on it. */
	uint32_t *sh = px_shared(4096);
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		static struct rhead h;
		struct rlock *l = (struct rlock *)(sh + 4);
		l->word = (uint32_t)syscall(SYS_gettid) | FUTEX_WAITERS;
		l->link.next = &h.list;
		h.list.next = &l->link;
		h.futex_offset = (long)offsetof(struct rlock, word);
		syscall(SYS_set_robust_list, &h, sizeof(h));
		sh[0] = 1;
		fx(&sh[0], FUTEX_WAKE, 1, NULL, NULL, 0);
		_exit(0);
	}
	while (__atomic_load_n(&sh[0], __ATOMIC_ACQUIRE) == 0)
		fx(&sh[0], FUTEX_WAIT, 0, NULL, NULL, 0);
	struct rlock *l = (struct rlock *)(sh + 4);
	uint32_t v;
	while (!((v = __atomic_load_n(&l->word, __ATOMIC_ACQUIRE)) &
		 FUTEX_OWNER_DIED))
		fx(&l->word, FUTEX_WAIT, v, NULL, NULL, 0);
	CHECK_TRUE("after the owner process exits: OWNER_DIED | WAITERS",
		   l->word == (FUTEX_OWNER_DIED | FUTEX_WAITERS));
	px_expect_exit("owner process", pid, "exited 0");
	munmap(sh, 4096);
}

static pthread_mutex_t rm;

static void *lock_and_leave(void *arg)
{
	pthread_mutex_lock(&rm);
	return NULL;
}

static void robust_mutex_test(void)
{
	pthread_mutexattr_t a;
	pthread_t t;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&rm, &a);
	px_thread(&t, lock_and_leave, NULL);
	pthread_join(t, NULL);
	int r = pthread_mutex_lock(&rm);
	CHECK_TRUE("robust mutex of an exited thread: EOWNERDEAD",
		   r == EOWNERDEAD);
	CHECK_RET("pthread_mutex_consistent", pthread_mutex_consistent(&rm), 0);
	CHECK_RET("unlock", pthread_mutex_unlock(&rm), 0);
	CHECK_RET("lock again", pthread_mutex_lock(&rm), 0);
	pthread_mutex_unlock(&rm);
}

int main(void)
{
	px_reset();
	basic_tests();
	thread_tests();
	shared_tests();
	robust_tests();
	robust_mutex_test();
	return probe_done();
}
