/* libFuzzer target for the seccomp filter checker and interpreter
 * (sentry/kernel/seccomp_bpf.c): the workload hands the sentry these
 * programs. Input: 64 bytes of struct seccomp_data, then the program's
 * instructions (8 bytes each). The checker must never read outside the
 * program, and a program it accepts must run without reading outside the
 * data or its scratch memory (ASan, UBSan), end in a return, and give the
 * same answer twice; an input breaking any of it aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sentry/kernel/seccomp_bpf.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < sizeof(struct seccomp_data))
		return 0;
	/* Exact-size copies: ASan sees any read past their ends. */
	struct seccomp_data *d = malloc(sizeof(*d));
	size_t len = (size - sizeof(*d)) / sizeof(struct sock_filter);
	struct sock_filter *p = malloc(len ? len * sizeof(*p) : 1);
	if (!d || !p) {
		free(d);
		free(p);
		return 0;
	}
	memcpy(d, data, sizeof(*d));
	memcpy(p, data + sizeof(*d), len * sizeof(*p));

	int r = kseccomp_bpf_check(p, (unsigned)len);
	check(r == 0 || r == -22 /* EINVAL */ || r == -12 /* ENOMEM */);
	if (r == 0) {
		check(len > 0 && len <= BPF_MAXINSNS);
		check(BPF_CLASS(p[len - 1].code) == BPF_RET);
		uint32_t a = kseccomp_bpf_run(p, (unsigned)len, d);
		uint32_t b = kseccomp_bpf_run(p, (unsigned)len, d);
		check(a == b);
	}
	free(d);
	free(p);
	return 0;
}
