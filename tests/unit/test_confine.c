/* The sentry's path filter (sentry/confine.c), in a forked child each
 * time: once it is in, calls that name a path fail with EPERM and are
 * counted, while the fd forms (fstat, statx on an fd, futimens) and
 * everything else still work. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sentry/sentry.h"

/* Runs fn in a child with the filter in; the child's exit status is the
 * number of failed expectations. */
static void in_child(int (*fn)(void))
{
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* the filter is off in sanitizer builds (confine.c) */
#endif
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (sentry_confine_paths() < 0)
			_exit(100);
		_exit(fn());
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

#define EXPECT(c)                                                              \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,     \
				#c);                                           \
			bad++;                                                 \
		}                                                              \
	} while (0)

static int paths_refused(void)
{
	int bad = 0;
	struct stat st;
	int fd = open("/etc/hostname", O_RDONLY);
	EXPECT(fd == -1 && errno == EPERM);
	EXPECT(openat(AT_FDCWD, "/", O_RDONLY) == -1 && errno == EPERM);
	EXPECT(stat("/", &st) == -1 && errno == EPERM);
	EXPECT(fstatat(AT_FDCWD, "/", &st, 0) == -1 && errno == EPERM);
	EXPECT(access("/", F_OK) == -1 && errno == EPERM);
	EXPECT(mkdir("/tmp/confine-test-never", 0700) == -1 && errno == EPERM);
	EXPECT(chdir("/") == -1 && errno == EPERM);
	char buf[64];
	EXPECT(readlink("/proc/self/exe", buf, sizeof(buf)) == -1 &&
	       errno == EPERM);
	EXPECT(sentry_refused_paths() == 8);
	return bad;
}

static int fd_forms_work(void)
{
	int bad = 0;
	struct stat st;
	EXPECT(fstat(1, &st) == 0);
	EXPECT(fstatat(1, "", &st, AT_EMPTY_PATH) == 0);
	struct statx sx;
	EXPECT(statx(1, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0);
	int p[2];
	EXPECT(pipe(p) == 0);
	EXPECT(write(p[1], "x", 1) == 1);
	EXPECT(getpid() > 0);
	EXPECT(sentry_refused_paths() == 0);
	return bad;
}

static void test_paths_refused(void **state)
{
	(void)state;
	in_child(paths_refused);
}

static void test_fd_forms_work(void **state)
{
	(void)state;
	in_child(fd_forms_work);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paths_refused),
	    cmocka_unit_test(test_fd_forms_work),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
