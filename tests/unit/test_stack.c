/* Initial stack builder: layout, alignment, auxv and limits. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sentry/loader/stack.h"

#define TOP 0x7ffffff00000ULL

static const char *str_at(const struct stack_image *img, uint64_t addr)
{
	assert_true(addr >= img->sp && addr < img->sp + img->len);
	return (const char *)img->buf + (addr - img->sp);
}

static uint64_t word(const struct stack_image *img, size_t i)
{
	uint64_t v;
	memcpy(&v, img->buf + 8 * i, 8);
	return v;
}

static void layout(void **state)
{
	char *argv[] = { "prog", "-x", "arg two", NULL };
	char *envp[] = { "A=1", "PATH=/bin", NULL };
	uint8_t rnd[16];
	struct auxv_entry aux[] = { { AT_PAGESZ, 4096 }, { AT_ENTRY, 0x401000 } };
	struct stack_image img;

	for (int i = 0; i < 16; i++)
		rnd[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(stack_build(TOP, argv, envp, "/bin/prog", rnd, aux, 2,
				     1 << 20, &img), 0);
	assert_int_equal(img.sp % 16, 0);
	assert_int_equal(img.sp + img.len, TOP);
	assert_int_equal(word(&img, 0), 3);
	assert_string_equal(str_at(&img, word(&img, 1)), "prog");
	assert_string_equal(str_at(&img, word(&img, 2)), "-x");
	assert_string_equal(str_at(&img, word(&img, 3)), "arg two");
	assert_int_equal(word(&img, 4), 0);
	assert_string_equal(str_at(&img, word(&img, 5)), "A=1");
	assert_string_equal(str_at(&img, word(&img, 6)), "PATH=/bin");
	assert_int_equal(word(&img, 7), 0);

	/* auxv: caller's entries, then AT_RANDOM, AT_EXECFN, AT_PLATFORM, AT_NULL */
	size_t a = 8;
	assert_int_equal(word(&img, a), AT_PAGESZ);
	assert_int_equal(word(&img, a + 1), 4096);
	assert_int_equal(word(&img, a + 2), AT_ENTRY);
	assert_int_equal(word(&img, a + 3), 0x401000);
	assert_int_equal(word(&img, a + 4), AT_RANDOM);
	uint64_t raddr = word(&img, a + 5);
	assert_int_equal(raddr % 16, 0);
	assert_memory_equal(str_at(&img, raddr), rnd, 16);
	assert_int_equal(word(&img, a + 6), AT_EXECFN);
	assert_string_equal(str_at(&img, word(&img, a + 7)), "/bin/prog");
	assert_int_equal(word(&img, a + 8), AT_PLATFORM);
	assert_string_equal(str_at(&img, word(&img, a + 9)), "x86_64");
	assert_int_equal(word(&img, a + 10), AT_NULL);
	/* Strings lie above the vector and below the 8-byte end marker. */
	uint64_t vec_end = img.sp + 8 * (a + 12);
	assert_true(raddr >= vec_end);
	assert_true(word(&img, a + 7) + strlen("/bin/prog") + 1 <= TOP - 8);
	stack_image_free(&img);
}

static void empty_vectors(void **state)
{
	char *argv[] = { NULL };
	uint8_t rnd[16] = { 0 };
	struct stack_image img;

	assert_int_equal(stack_build(TOP, argv, NULL, "x", rnd, NULL, 0, 4096,
				     &img), 0);
	assert_int_equal(img.sp % 16, 0);
	assert_int_equal(word(&img, 0), 0);
	assert_int_equal(word(&img, 1), 0);
	assert_int_equal(word(&img, 2), 0);
	stack_image_free(&img);
}

/* Alignment holds whatever the string lengths and counts are. */
static void alignment_all_sizes(void **state)
{
	char buf[64];
	uint8_t rnd[16] = { 0 };
	for (int n = 0; n < 40; n++) {
		memset(buf, 'a', sizeof(buf));
		buf[n] = '\0';
		char *argv[] = { buf, buf, NULL };
		char *envp[] = { buf, NULL };
		struct auxv_entry aux[] = { { AT_PAGESZ, 4096 } };
		struct stack_image img;
		assert_int_equal(stack_build(TOP - (uint64_t)n, argv,
					     n % 2 ? envp : NULL, buf, rnd, aux,
					     (size_t)(n % 2), 1 << 16, &img),
				 0);
		assert_int_equal(img.sp % 16, 0);
		assert_int_equal(word(&img, 0), 2);
		assert_string_equal(str_at(&img, word(&img, 1)), buf);
		stack_image_free(&img);
	}
}

static void too_big(void **state)
{
	char *big = malloc(200000);
	memset(big, 'x', 199999);
	big[199999] = '\0';
	char *argv[] = { big, NULL };
	uint8_t rnd[16] = { 0 };
	struct stack_image img;

	assert_int_equal(stack_build(TOP, argv, NULL, "p", rnd, NULL, 0,
				     131072, &img), -E2BIG);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout),
		cmocka_unit_test(empty_vectors),
		cmocka_unit_test(alignment_all_sizes),
		cmocka_unit_test(too_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
