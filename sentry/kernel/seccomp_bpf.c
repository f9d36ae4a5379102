/* The classic BPF of seccomp filters: Linux's checks and an interpreter.
 * Kept apart from seccomp.c (and from the rest of the sentry) so that a
 * fuzz target can run it alone (tests/fuzz/fuzz_bpf.c): its input is the
 * workload's. */
#define _GNU_SOURCE
#include "seccomp_bpf.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* --- checking a program (Linux's bpf_check_classic and
 * seccomp_check_filter) --------------------------------------------------- */

static bool jump_op(uint16_t code)
{
	return BPF_CLASS(code) == BPF_JMP;
}

/* 0, or -EINVAL: only the instructions seccomp allows, loads of aligned
 * words inside seccomp_data, jumps that stay inside, a return at the end,
 * scratch words written before they are read on every path. */
int kseccomp_bpf_check(struct sock_filter *p, unsigned len)
{
	if (len == 0 || len > BPF_MAXINSNS ||
	    BPF_CLASS(p[len - 1].code) != BPF_RET)
		return -EINVAL;
	uint16_t *written = calloc(len, sizeof(*written)); /* M[] known set */
	bool *reached = calloc(len, sizeof(*reached));
	int err = 0;
	if (!written || !reached) {
		err = -ENOMEM;
		goto out;
	}
	reached[0] = true;
	written[0] = 0;
	for (unsigned pc = 0; pc < len; pc++) {
		struct sock_filter *i = &p[pc];
		uint16_t code = i->code;
		uint16_t mem = written[pc];
		/* The scratch words set on entry are those set on every path
		 * into this instruction (jumps only go forward). */
		switch (code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (i->k & 3 || i->k >= sizeof(struct seccomp_data))
				err = -EINVAL;
			break;
		case BPF_LD | BPF_W | BPF_LEN:
			/* the data's length, a constant */
			i->code = BPF_LD | BPF_IMM;
			i->k = sizeof(struct seccomp_data);
			break;
		case BPF_LDX | BPF_W | BPF_LEN:
			i->code = BPF_LDX | BPF_IMM;
			i->k = sizeof(struct seccomp_data);
			break;
		case BPF_LD | BPF_IMM:
		case BPF_LDX | BPF_IMM:
		case BPF_MISC | BPF_TAX:
		case BPF_MISC | BPF_TXA:
		case BPF_ALU | BPF_ADD | BPF_K:
		case BPF_ALU | BPF_ADD | BPF_X:
		case BPF_ALU | BPF_SUB | BPF_K:
		case BPF_ALU | BPF_SUB | BPF_X:
		case BPF_ALU | BPF_MUL | BPF_K:
		case BPF_ALU | BPF_MUL | BPF_X:
		case BPF_ALU | BPF_DIV | BPF_X:
		case BPF_ALU | BPF_MOD | BPF_X:
		case BPF_ALU | BPF_AND | BPF_K:
		case BPF_ALU | BPF_AND | BPF_X:
		case BPF_ALU | BPF_OR | BPF_K:
		case BPF_ALU | BPF_OR | BPF_X:
		case BPF_ALU | BPF_XOR | BPF_K:
		case BPF_ALU | BPF_XOR | BPF_X:
		case BPF_ALU | BPF_LSH | BPF_X:
		case BPF_ALU | BPF_RSH | BPF_X:
		case BPF_ALU | BPF_NEG:
		case BPF_RET | BPF_K:
		case BPF_RET | BPF_A:
			break;
		case BPF_ALU | BPF_DIV | BPF_K:
		case BPF_ALU | BPF_MOD | BPF_K:
			if (i->k == 0)
				err = -EINVAL;
			break;
		case BPF_ALU | BPF_LSH | BPF_K:
		case BPF_ALU | BPF_RSH | BPF_K:
			if (i->k >= 32)
				err = -EINVAL;
			break;
		case BPF_LD | BPF_MEM:
		case BPF_LDX | BPF_MEM:
			if (i->k >= BPF_MEMWORDS || !(mem & (1u << i->k)))
				err = -EINVAL;
			break;
		case BPF_ST:
		case BPF_STX:
			if (i->k >= BPF_MEMWORDS)
				err = -EINVAL;
			else
				mem |= (uint16_t)(1u << i->k);
			break;
		case BPF_JMP | BPF_JA:
			if (i->k >= len - pc - 1)
				err = -EINVAL;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JEQ | BPF_X:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_X:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_X:
		case BPF_JMP | BPF_JSET | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_X:
			if ((unsigned)i->jt + 1 >= len - pc ||
			    (unsigned)i->jf + 1 >= len - pc)
				err = -EINVAL;
			break;
		default:
			err = -EINVAL;
		}
		if (err)
			goto out;
		if (!reached[pc])
			continue; /* dead code: Linux checks it, runs none of it */
		/* Where control goes next, with the scratch words known set. */
		unsigned next[2];
		int n = 0;
		if (BPF_CLASS(i->code) == BPF_RET) {
			n = 0;
		} else if (jump_op(i->code)) {
			if (BPF_OP(i->code) == BPF_JA) {
				next[n++] = pc + 1 + i->k;
			} else {
				next[n++] = pc + 1 + i->jt;
				next[n++] = pc + 1 + i->jf;
			}
		} else {
			next[n++] = pc + 1;
		}
		for (int j = 0; j < n; j++) {
			unsigned to = next[j];
			if (to >= len) {
				err = -EINVAL; /* fell off the end */
				goto out;
			}
			written[to] = reached[to] ? (uint16_t)(written[to] & mem)
						  : mem;
			reached[to] = true;
		}
	}
out:
	free(written);
	free(reached);
	return err;
}

/* --- running one ----------------------------------------------------------- */

uint32_t kseccomp_bpf_run(const struct sock_filter *insns, unsigned len,
			  const struct seccomp_data *d)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = { 0 };
	const uint8_t *data = (const uint8_t *)d;

	for (unsigned pc = 0; pc < len; pc++) {
		const struct sock_filter *i = &insns[pc];
		uint32_t k = i->k;
		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			memcpy(&A, data + k, 4);
			break;
		case BPF_LD | BPF_IMM: A = k; break;
		case BPF_LDX | BPF_IMM: X = k; break;
		case BPF_LD | BPF_MEM: A = M[k]; break;
		case BPF_LDX | BPF_MEM: X = M[k]; break;
		case BPF_ST: M[k] = A; break;
		case BPF_STX: M[k] = X; break;
		case BPF_MISC | BPF_TAX: X = A; break;
		case BPF_MISC | BPF_TXA: A = X; break;
		case BPF_ALU | BPF_ADD | BPF_K: A += k; break;
		case BPF_ALU | BPF_ADD | BPF_X: A += X; break;
		case BPF_ALU | BPF_SUB | BPF_K: A -= k; break;
		case BPF_ALU | BPF_SUB | BPF_X: A -= X; break;
		case BPF_ALU | BPF_MUL | BPF_K: A *= k; break;
		case BPF_ALU | BPF_MUL | BPF_X: A *= X; break;
		case BPF_ALU | BPF_DIV | BPF_K: A /= k; break;
		case BPF_ALU | BPF_MOD | BPF_K: A %= k; break;
		case BPF_ALU | BPF_DIV | BPF_X:
			if (X == 0)
				return 0; /* as classic BPF: the program returns 0 */
			A /= X;
			break;
		case BPF_ALU | BPF_MOD | BPF_X:
			if (X == 0)
				return 0;
			A %= X;
			break;
		case BPF_ALU | BPF_AND | BPF_K: A &= k; break;
		case BPF_ALU | BPF_AND | BPF_X: A &= X; break;
		case BPF_ALU | BPF_OR | BPF_K: A |= k; break;
		case BPF_ALU | BPF_OR | BPF_X: A |= X; break;
		case BPF_ALU | BPF_XOR | BPF_K: A ^= k; break;
		case BPF_ALU | BPF_XOR | BPF_X: A ^= X; break;
		case BPF_ALU | BPF_LSH | BPF_K: A = k < 32 ? A << k : 0; break;
		case BPF_ALU | BPF_LSH | BPF_X: A = X < 32 ? A << X : 0; break;
		case BPF_ALU | BPF_RSH | BPF_K: A = k < 32 ? A >> k : 0; break;
		case BPF_ALU | BPF_RSH | BPF_X: A = X < 32 ? A >> X : 0; break;
		case BPF_ALU | BPF_NEG: A = -A; break;
		case BPF_JMP | BPF_JA: pc += k; break;
		case BPF_JMP | BPF_JEQ | BPF_K: pc += A == k ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JEQ | BPF_X: pc += A == X ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGT | BPF_K: pc += A > k ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGT | BPF_X: pc += A > X ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGE | BPF_K: pc += A >= k ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGE | BPF_X: pc += A >= X ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JSET | BPF_K: pc += (A & k) ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JSET | BPF_X: pc += (A & X) ? i->jt : i->jf; break;
		case BPF_RET | BPF_K: return k;
		case BPF_RET | BPF_A: return A;
		default: return SECCOMP_RET_KILL_PROCESS; /* checked: not reached */
		}
	}
	return SECCOMP_RET_KILL_PROCESS; /* checked: not reached */
}
