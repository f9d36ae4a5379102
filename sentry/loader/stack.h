/* Builds the initial stack of a new program image: argument and environment
 * strings, AT_RANDOM bytes, the platform string, then argc, argv[], envp[]
 * and the auxiliary vector, with the stack pointer 16-byte aligned at argc
 * as the x86-64 psABI requires. Pure: produces a byte image for the caller to
 * copy to the workload. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct auxv_entry {
	uint64_t type, value;
};

struct stack_image {
	uint8_t *buf; /* bytes of [sp, top) */
	size_t len;
	uint64_t sp; /* where argc sits */
	/* The argument and environment strings ([start, end)), for
	 * /proc/[pid]/cmdline and environ. */
	uint64_t arg_start, arg_end, env_start, env_end;
};

/* AT_RANDOM, AT_EXECFN and AT_PLATFORM are added by the builder, pointing at
 * the copies it places in the image; aux[] holds the rest (no AT_NULL).
 * Returns 0, -E2BIG if the strings exceed max_strings bytes, -ENOMEM. */
int stack_build(uint64_t top, char *const argv[], char *const envp[],
		const char *execfn, const uint8_t random[16],
		const struct auxv_entry *aux, size_t naux, size_t max_strings,
		struct stack_image *out);
void stack_image_free(struct stack_image *img);
