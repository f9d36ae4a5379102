#include "stack.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t count(char *const v[])
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int stack_build(uint64_t top, char *const argv[], char *const envp[],
		const char *execfn, const uint8_t random[16],
		const struct auxv_entry *aux, size_t naux, size_t max_strings,
		struct stack_image *out)
{
	static const char platform[] = "x86_64";
	size_t argc = count(argv), envc = count(envp);
	/* 8-byte end marker, execfn, platform, 16 random bytes + 15 of alignment. */
	size_t strings = 8 + strlen(execfn) + 1 + sizeof(platform) + 16 + 15;
	uint64_t *argp, *envpp, *vec;
	uint64_t pos;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < argc; i++)
		strings += strlen(argv[i]) + 1;
	for (size_t i = 0; i < envc; i++)
		strings += strlen(envp[i]) + 1;
	if (strings > max_strings)
		return -E2BIG;
	size_t nwords = 1 + argc + 1 + envc + 1 + 2 * (naux + 4);
	uint64_t strings_bottom = (top - strings) & ~15ULL;
	uint64_t sp = (strings_bottom - nwords * 8) & ~15ULL;
	size_t len = (size_t)(top - sp);

	uint8_t *buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
#define AT(addr) (buf + ((addr)-sp))
	/* Strings from the top down: an 8-byte end marker, execfn, the env and
	 * arg strings, the platform name, the random bytes. */
	pos = top - 8;
	pos -= strlen(execfn) + 1;
	memcpy(AT(pos), execfn, strlen(execfn) + 1);
	uint64_t execfn_addr = pos;

	vec = (uint64_t *)AT(sp);
	argp = vec + 1;
	envpp = argp + argc + 1;
	uint64_t env_end = pos;
	for (size_t i = envc; i-- > 0;) {
		pos -= strlen(envp[i]) + 1;
		memcpy(AT(pos), envp[i], strlen(envp[i]) + 1);
		envpp[i] = pos;
	}
	uint64_t env_start = pos;
	for (size_t i = argc; i-- > 0;) {
		pos -= strlen(argv[i]) + 1;
		memcpy(AT(pos), argv[i], strlen(argv[i]) + 1);
		argp[i] = pos;
	}
	out->arg_start = pos;
	out->arg_end = env_start;
	out->env_start = env_start;
	out->env_end = env_end;
	pos -= sizeof(platform);
	memcpy(AT(pos), platform, sizeof(platform));
	uint64_t platform_addr = pos;
	pos = (pos - 16) & ~15ULL;
	memcpy(AT(pos), random, 16);
	uint64_t random_addr = pos;

	vec[0] = argc;
	argp[argc] = 0;
	envpp[envc] = 0;
	uint64_t *av = envpp + envc + 1;
	for (size_t i = 0; i < naux; i++) {
		*av++ = aux[i].type;
		*av++ = aux[i].value;
	}
	*av++ = AT_RANDOM;
	*av++ = random_addr;
	*av++ = AT_EXECFN;
	*av++ = execfn_addr;
	*av++ = AT_PLATFORM;
	*av++ = platform_addr;
	*av++ = AT_NULL;
	*av++ = 0;
#undef AT
	out->buf = buf;
	out->len = len;
	out->sp = sp;
	return 0;
}

void stack_image_free(struct stack_image *img)
{
	free(img->buf);
	img->buf = NULL;
}
