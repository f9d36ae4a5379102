/* The VFS's blocking paths with real sleeping tasks (sentry threads with
 * hand-made struct task): FIFO opens wait for a peer and reads for data,
 * F_SETLKW and flock wait for the holder, and a wait that would close a
 * cycle of owners is EDEADLK at once.
 *
 * "Still waiting" is checked by watching a flag stay clear over many
 * yields: a correct implementation never sets it early, so the check
 * cannot fail spuriously; only a broken one could slip through if it were
 * that slow. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/file.h>

#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/vfs/vfs.h"

struct fx {
	struct vfs_mntns *ns;
	struct fs_struct *fs;
	struct creds cred;
	struct vfs_ctx c;
	struct task *tasks[16]; /* made by mktask, freed by teardown */
	int ntasks;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	/* root in the sandbox: every capability (vfs_capable). */
	x->cred.cap_effective = ~0ULL;
	struct tmpfs_opts o = {.mode = 0755};
	struct vfs_sb *sb;
	assert_int_equal(tmpfs_new(&o, &sb), 0);
	assert_int_equal(vfs_mntns_new(sb, 0, "tmpfs", &x->ns), 0);
	vfs_sb_put(sb);
	struct vfs_path root;
	vfs_ns_root(x->ns, &root);
	x->fs = fs_struct_new(&root, &root, 0);
	vfs_path_put(&root);
	x->c = (struct vfs_ctx){NULL, &x->cred, x->fs, NULL};
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	fs_struct_put(x->fs);
	vfs_mntns_put(x->ns);
	for (int i = 0; i < x->ntasks; i++) {
		free(x->tasks[i]->tg);
		free(x->tasks[i]);
	}
	free(x);
	return 0;
}

/* A task for a sentry thread of the test. */
static struct task *mktask(struct fx *x)
{
	static int next_pid = 100;
	struct task *t = calloc(1, sizeof(*t));
	/* Its own process: lock owners and F_GETLK's pid come from it. */
	t->tg = calloc(1, sizeof(*t->tg));
	t->tg->tgid = t->tid = next_pid++;
	t->fs = x->fs;
	t->cred = x->cred;
	assert_true(x->ntasks < 16);
	x->tasks[x->ntasks++] = t;
	return t;
}

struct job {
	struct fx *x;
	struct task *t;
	const char *path;
	int flags;
	struct file *f;
	long ret;
	atomic_int done;
	/* locks */
	struct file *lf;
	void *owner;
	struct vfs_flock l;
	int op;
};

static void *do_open(void *arg)
{
	struct job *j = arg;
	struct vfs_ctx c = j->x->c;
	c.t = j->t;
	j->ret = vfs_open(&c, VFS_AT_FDCWD, j->path, j->flags, 0, 0, &j->f);
	atomic_store(&j->done, 1);
	return NULL;
}

static void *do_read(void *arg)
{
	struct job *j = arg;
	static char buf[64];
	j->ret = vfs_read(j->t, j->f, buf, sizeof(buf), NULL);
	atomic_store(&j->done, 1);
	return NULL;
}

static void *do_setlkw(void *arg)
{
	struct job *j = arg;
	j->ret = vfs_lock_set(j->t, j->lf, j->owner, false, &j->l, true);
	atomic_store(&j->done, 1);
	return NULL;
}

static void *do_flock(void *arg)
{
	struct job *j = arg;
	j->ret = vfs_flock(j->t, j->lf, j->op);
	atomic_store(&j->done, 1);
	return NULL;
}

/* Until f's locks have a waiter: the job's thread may not even have run
 * yet on a loaded machine. Bounded (a broken wait never queues). */
static void lock_waiter_queued(struct file *f)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!vfs_lock_waited_for(f)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		assert_true(t.tv_sec - t0.tv_sec < 20);
		sched_yield();
	}
}

/* The job is still blocked after many chances to finish. */
static void still_waiting(struct job *j)
{
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(atomic_load(&j->done), 0);
		sched_yield();
	}
}

static void fifo_open_waits_for_a_peer(void **state)
{
	struct fx *x = *state;
	assert_int_equal(
	    vfs_mknod(&x->c, VFS_AT_FDCWD, "/p", S_IFIFO | 0666, 0), 0);
	struct job r = {
	    .x = x, .t = mktask(x), .path = "/p", .flags = O_RDONLY};
	pthread_t th;
	pthread_create(&th, NULL, do_open, &r);
	still_waiting(&r);
	struct task *wt = mktask(x);
	struct vfs_ctx wc = x->c;
	wc.t = wt;
	struct file *w;
	assert_int_equal(vfs_open(&wc, VFS_AT_FDCWD, "/p", O_WRONLY, 0, 0, &w),
			 0);
	pthread_join(th, NULL);
	assert_int_equal(r.ret, 0);

	/* A read waits for data, and gets it. */
	struct job rd = {.x = x, .t = r.t, .f = r.f};
	pthread_create(&th, NULL, do_read, &rd);
	still_waiting(&rd);
	assert_int_equal(vfs_write(wt, w, "hi", 2, NULL), 2);
	pthread_join(th, NULL);
	assert_int_equal(rd.ret, 2);
	/* Then for the writer to go: end of file. */
	struct job eof = {.x = x, .t = r.t, .f = r.f};
	atomic_store(&eof.done, 0);
	pthread_create(&th, NULL, do_read, &eof);
	still_waiting(&eof);
	file_put(w);
	pthread_join(th, NULL);
	assert_int_equal(eof.ret, 0);
	file_put(r.f);

	/* A writer waits for a reader just the same. */
	struct job wj = {.x = x, .t = wt, .path = "/p", .flags = O_WRONLY};
	pthread_create(&th, NULL, do_open, &wj);
	still_waiting(&wj);
	struct vfs_ctx rc = x->c;
	rc.t = r.t;
	struct file *rf;
	assert_int_equal(
	    vfs_open(&rc, VFS_AT_FDCWD, "/p", O_RDONLY | O_NONBLOCK, 0, 0, &rf),
	    0);
	pthread_join(th, NULL);
	assert_int_equal(wj.ret, 0);
	file_put(wj.f);
	file_put(rf);
}

static void setlkw_waits_and_detects_deadlock(void **state)
{
	struct fx *x = *state;
	struct file *f;
	assert_int_equal(
	    vfs_open(&x->c, VFS_AT_FDCWD, "/lk", O_CREAT | O_RDWR, 0644, 0, &f),
	    0);
	struct task *t1 = mktask(x), *t2 = mktask(x);
	int o1, o2; /* two owners (fd tables, for POSIX locks) */
	struct vfs_flock a = {.type = F_WRLCK, .start = 0, .end = 0};
	struct vfs_flock b = {.type = F_WRLCK, .start = 1, .end = 1};
	assert_int_equal(vfs_lock_set(t1, f, &o1, false, &a, false), 0);
	assert_int_equal(vfs_lock_set(t2, f, &o2, false, &b, false), 0);
	assert_int_equal(vfs_lock_set(t2, f, &o2, false, &a, false), -EAGAIN);
	/* o2 waits for o1's byte 0... */
	struct job j = {.x = x, .t = t2, .lf = f, .owner = &o2, .l = a};
	pthread_t th;
	pthread_create(&th, NULL, do_setlkw, &j);
	lock_waiter_queued(f);
	still_waiting(&j);
	/* ...so o1 waiting for o2's byte 1 would wait forever. */
	assert_int_equal(vfs_lock_set(t1, f, &o1, false, &b, true), -EDEADLK);
	struct vfs_flock un = {.type = F_UNLCK, .start = 0, .end = UINT64_MAX};
	assert_int_equal(vfs_lock_set(t1, f, &o1, false, &un, false), 0);
	pthread_join(th, NULL);
	assert_int_equal(j.ret, 0);
	struct vfs_flock q = {.type = F_WRLCK, .start = 0, .end = 0};
	assert_int_equal(vfs_lock_get(f, &o1, false, &q), 0);
	assert_int_equal(q.type, F_WRLCK); /* o2 holds it now */
	file_put(f);
}

static void flock_waits(void **state)
{
	struct fx *x = *state;
	struct file *a, *b;
	assert_int_equal(
	    vfs_open(&x->c, VFS_AT_FDCWD, "/fl", O_CREAT | O_RDWR, 0644, 0, &a),
	    0);
	assert_int_equal(
	    vfs_open(&x->c, VFS_AT_FDCWD, "/fl", O_RDONLY, 0, 0, &b), 0);
	struct task *t1 = mktask(x), *t2 = mktask(x);
	assert_int_equal(vfs_flock(t1, a, LOCK_EX), 0);
	struct job j = {.x = x, .t = t2, .lf = b, .op = LOCK_SH};
	pthread_t th;
	pthread_create(&th, NULL, do_flock, &j);
	still_waiting(&j);
	file_put(a); /* the last reference drops the flock */
	pthread_join(th, NULL);
	assert_int_equal(j.ret, 0);
	file_put(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(fifo_open_waits_for_a_peer, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(setlkw_waits_and_detects_deadlock,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(flock_waits, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
