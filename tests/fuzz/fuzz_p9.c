/* libFuzzer target for the 9P2000.L decoder (gofer/proto/p9.c).
 *
 * Each input is decoded twice: as given, and with its size field patched to
 * its real length (so the fuzzer reaches message bodies without first
 * having to guess the size). Every message that decodes must re-encode to
 * exactly the same bytes, and every Rreaddir payload is walked entry by
 * entry. Buffers are exactly as long as the input, so ASan catches any
 * read past the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gofer/proto/p9.h"

static void check(const uint8_t *buf, size_t len)
{
	struct p9_msg m;
	if (len >= 4)
		(void)p9_check_frame(buf, 65536);
	if (p9_decode(buf, len, &m) < 0)
		return;
	uint8_t *out = malloc(len);
	if (!out)
		abort();
	ssize_t n = p9_encode(&m, out, len);
	/* the encoding of a decoded message is the message itself */
	if (n != (ssize_t)len || memcmp(out, buf, len) != 0)
		abort();
	free(out);
	if (m.type == P9_RREADDIR) {
		const uint8_t *p = m.u.rread.data;
		size_t left = m.u.rread.count;
		while (left) {
			struct p9_dirent d;
			ssize_t u = p9_dirent_decode(p, left, &d);
			if (u <= 0)
				break;
			if ((size_t)u > left || d.name.len > left)
				abort();
			p += u;
			left -= (size_t)u;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size);
	if (size >= 4 && size <= UINT32_MAX) {
		uint8_t *copy = malloc(size);
		if (!copy)
			abort();
		memcpy(copy, data, size);
		for (int i = 0; i < 4; i++)
			copy[i] = (uint8_t)(size >> (8 * i));
		check(copy, size);
		free(copy);
	}
	return 0;
}
