/* The syscall table: consistent with the ABI list and with itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "syscalls/table.h"

static void known_numbers(void **state)
{
	assert_string_equal(syscall_name(0), "read");
	assert_string_equal(syscall_name(1), "write");
	assert_string_equal(syscall_name(39), "getpid");
	assert_string_equal(syscall_name(60), "exit");
	assert_string_equal(syscall_name(231), "exit_group");
	assert_string_equal(syscall_name(334), "rseq");
	assert_string_equal(syscall_name(435), "clone3");
	assert_null(syscall_name(ABI_NR_SYSCALLS));
	assert_null(syscall_name((unsigned long)-1));
	/* Numbers 335..423 are unassigned on x86-64. */
	assert_null(syscall_name(400));
}

static void entries_consistent(void **state)
{
	int implemented = 0;
	for (unsigned long nr = 0; nr < ABI_NR_SYSCALLS; nr++) {
		const struct syscall_def *d = &syscall_table[nr];
		if (d->fn || d->status != SC_ENOSYS || d->note)
			assert_non_null(syscall_name(nr));
		if (d->fn) {
			implemented++;
			/* A handler is full or partial, never "enosys". */
			assert_int_not_equal(d->status, SC_ENOSYS);
			assert_non_null(d->args);
			assert_true(strlen(d->args) <= 6);
			assert_true(strspn(d->args, "duoxpsbBS") == strlen(d->args));
		} else {
			assert_int_equal(d->status, SC_ENOSYS);
		}
		if (d->status == SC_PARTIAL)
			assert_non_null(d->note); /* partial says why */
		if (d->cls == SC_HOST)
			assert_non_null(d->note); /* host says why it is safe */
	}
	assert_true(implemented > 30);
}

static void core_calls_served(void **state)
{
	static const int must[] = { ABI_NR_read, ABI_NR_write, ABI_NR_mmap,
				    ABI_NR_brk, ABI_NR_exit_group,
				    ABI_NR_arch_prctl, ABI_NR_uname,
				    ABI_NR_clock_gettime, ABI_NR_getrandom };
	for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
		assert_non_null(syscall_table[must[i]].fn);
	assert_null(syscall_table[ABI_NR_rseq].fn);
	assert_non_null(syscall_table[ABI_NR_rseq].note);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_numbers),
		cmocka_unit_test(entries_consistent),
		cmocka_unit_test(core_calls_served),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
