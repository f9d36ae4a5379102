/* The fd table: lowest-free allocation, limits, dup2-style replacement,
 * close-on-exec, close_range, fork copies, sharing, and file lifetimes
 * (a file is released when its last fd and reference are gone). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>

#include "sentry/kernel/fdtable.h"

static int released;

static void count_release(struct file *f)
{
	(void)f;
	released++;
}

static const struct file_ops ops = {.release = count_release};

static struct file *mk(void)
{
	return file_new(&ops, O_RDWR, NULL);
}

static void lowest_free(void **state)
{
	(void)state;
	released = 0;
	struct fdtable *t = fdtable_new();
	struct file *f = mk();
	for (int i = 0; i < 5; i++)
		assert_int_equal(fd_install(t, f, 0, false), i);
	assert_int_equal(fd_close(t, 2), 0);
	assert_int_equal(fd_close(t, 2), -EBADF);
	assert_int_equal(fd_install(t, f, 0, false), 2);
	assert_int_equal(fd_install(t, f, 10, false), 10);
	assert_int_equal(fd_install(t, f, 0, false), 5);
	assert_int_equal(fdtable_max_fd(t), 11);
	/* Growth far past the first allocation. */
	assert_int_equal(fd_install(t, f, 5000, true), 5000);
	bool ce = false;
	struct file *g = fd_get_cloexec(t, 5000, &ce);
	assert_ptr_equal(g, f);
	assert_true(ce);
	file_put(g);
	assert_null(fd_get(t, 4999));
	assert_null(fd_get(t, -1));
	assert_null(fd_get(t, 1 << 30));
	file_put(f);
	assert_int_equal(released, 0);
	fdtable_put(t);
	assert_int_equal(released, 1);
}

static void limits(void **state)
{
	(void)state;
	struct fdtable *t = fdtable_new();
	struct file *f = mk();
	assert_int_equal(fd_alloc(t, f, 0, false, 2), 0);
	assert_int_equal(fd_alloc(t, f, 0, false, 2), 1);
	assert_int_equal(fd_alloc(t, f, 0, false, 2), -EMFILE);
	assert_int_equal(fd_replace(t, 2, f, false, 2), -EBADF);
	assert_int_equal(fd_replace(t, -1, f, false, 2), -EBADF);
	assert_int_equal(fd_replace(t, 1, f, true, 2), 1);
	file_put(f);
	fdtable_put(t);
}

static void replace_closes_old(void **state)
{
	(void)state;
	released = 0;
	struct fdtable *t = fdtable_new();
	struct file *a = mk(), *b = mk();
	assert_int_equal(fd_install(t, a, 0, false), 0);
	file_put(a);
	assert_int_equal(fd_replace(t, 0, b, false, 100), 0);
	assert_int_equal(released, 1); /* a had no other reference */
	assert_ptr_equal(fd_get(t, 0), b);
	file_put(b);
	file_put(b);
	fdtable_put(t);
	assert_int_equal(released, 2);
}

static void cloexec_and_ranges(void **state)
{
	(void)state;
	struct fdtable *t = fdtable_new();
	struct file *f = mk();
	for (int i = 0; i < 8; i++)
		assert_int_equal(fd_install(t, f, 0, i % 2 == 1), i);
	fdtable_close_on_exec(t);
	for (int i = 0; i < 8; i++) {
		struct file *g = fd_get(t, i);
		if (i % 2)
			assert_null(g);
		else
			assert_non_null(g);
		file_put(g);
	}
	assert_int_equal(fd_close_range(t, 2, 4, true), 0);
	bool ce;
	struct file *g = fd_get_cloexec(t, 2, &ce);
	assert_true(ce);
	file_put(g);
	assert_int_equal(fd_close_range(t, 3, ~0U, false), 0);
	assert_int_equal(fdtable_max_fd(t), 3);
	assert_int_equal(fd_close_range(t, 5, 4, false), -EINVAL);
	assert_int_equal(fd_set_cloexec(t, 9, true), -EBADF);
	file_put(f);
	fdtable_put(t);
}

static void copy_and_share(void **state)
{
	(void)state;
	released = 0;
	struct fdtable *t = fdtable_new();
	struct file *f = mk();
	assert_int_equal(fd_install(t, f, 0, false), 0);
	assert_int_equal(fd_install(t, f, 3, true), 3);
	file_put(f);
	struct fdtable *c = fdtable_copy(t);
	bool ce;
	struct file *g = fd_get_cloexec(c, 3, &ce);
	assert_ptr_equal(g, f);
	assert_true(ce);
	file_put(g);
	/* Closing in the copy leaves the original alone. */
	assert_int_equal(fd_close(c, 0), 0);
	assert_non_null((g = fd_get(t, 0)));
	file_put(g);
	/* A shared table dies with its last user. */
	struct fdtable *s = fdtable_ref(t);
	fdtable_put(t);
	assert_non_null((g = fd_get(s, 0)));
	file_put(g);
	fdtable_put(s);
	assert_int_equal(released, 0); /* c still holds fd 3 */
	fdtable_put(c);
	assert_int_equal(released, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(lowest_free),
	    cmocka_unit_test(limits),
	    cmocka_unit_test(replace_closes_old),
	    cmocka_unit_test(cloexec_and_ranges),
	    cmocka_unit_test(copy_and_share),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
