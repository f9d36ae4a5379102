/*
 * random: getrandom sizes, flags, errors.  Random bytes are never printed;
 * only counts and relations.
 */
#include "probe.h"

#include <sys/mman.h>
#include <sys/random.h>

#ifndef GRND_NONBLOCK
#define GRND_NONBLOCK 0x0001
#endif
#ifndef GRND_RANDOM
#define GRND_RANDOM 0x0002
#endif
#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004
#endif

static long grnd(void *buf, size_t len, unsigned flags)
{
	return syscall(SYS_getrandom, buf, len, flags);
}

static int all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

int main(void)
{
	static unsigned char big[1 << 20];
	unsigned char a[64], b[64];
	char label[64];

	static const size_t sizes[] = { 0, 1, 16, 64, 256, 257, 4096, 65536,
					1 << 20 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(label, sizeof(label), "getrandom %zu", sizes[i]);
		CHECK_RET(label, grnd(big, sizes[i], 0), sizes[i]);
	}
	CHECK_TRUE("getrandom 1MiB not all zero", !all_zero(big, sizeof(big)));

	/* Fills exactly the requested bytes and nothing after. */
	memset(a, 0, sizeof(a));
	CHECK_RET("getrandom 32 into zeroed 64", grnd(a, 32, 0), 32);
	CHECK_TRUE("bytes past length untouched", all_zero(a + 32, 32));

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	CHECK_RET("getrandom 16 (a)", grnd(a, 16, 0), 16);
	CHECK_RET("getrandom 16 (b)", grnd(b, 16, 0), 16);
	CHECK_TRUE("two calls differ", memcmp(a, b, 16) != 0);
	CHECK_TRUE("result not all zero", !all_zero(a, 16));

	CHECK_RET("getrandom GRND_NONBLOCK 16", grnd(a, 16, GRND_NONBLOCK), 16);
	CHECK_RET("getrandom GRND_RANDOM 16", grnd(a, 16, GRND_RANDOM), 16);
	CHECK_RET("getrandom GRND_RANDOM|GRND_NONBLOCK 16",
		  grnd(a, 16, GRND_RANDOM | GRND_NONBLOCK), 16);
	CHECK_RET("getrandom GRND_INSECURE 16", grnd(a, 16, GRND_INSECURE), 16);
	CHECK_RET("libc getrandom 16", getrandom(a, 16, 0), 16);

	CHECK_ERR("getrandom flag 0x8", grnd(a, 16, 0x8), EINVAL);
	CHECK_ERR("getrandom flag 0x80000000", grnd(a, 16, 0x80000000u), EINVAL);
	CHECK_ERR("getrandom GRND_INSECURE|GRND_RANDOM",
		  grnd(a, 16, GRND_INSECURE | GRND_RANDOM), EINVAL);
	CHECK_ERR("getrandom EFAULT", grnd((void *)1, 4, 0), EFAULT);
	CHECK_ERR("getrandom NULL", grnd(NULL, 4, 0), EFAULT);
	CHECK_RET("getrandom NULL len 0", grnd(NULL, 0, 0), 0);

	/* Into a read-only page: fault. */
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro != MAP_FAILED) {
		CHECK_ERR("getrandom into read-only page", grnd(ro, 16, 0), EFAULT);
		munmap(ro, 4096);
	}

	return probe_done();
}
