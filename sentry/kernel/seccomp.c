/* seccomp(2) for the workload. A process's filters are classic BPF programs
 * over struct seccomp_data, kept as a chain (newest first, each holding the
 * one before) shared by the threads and fork children that inherited it.
 * syscall_dispatch asks seccomp_enter before serving a call: every filter
 * runs, and the action of highest precedence wins (Linux's order: kill
 * process, kill thread, trap, errno, user notification, trace, log,
 * allow; for equal actions the newest filter's data).
 *
 * The sandbox's own filters (the stub's, the sentry's) are not these: they
 * are invisible to the workload, as /proc/PID/status and PR_GET_SECCOMP
 * show. What differs from Linux: no user notification (no listener can be
 * made), no tracer for TRACE (it is always "no tracer": ENOSYS), filters
 * see x86-64 calls only (32-bit calls are refused anyway), and a call
 * through a site systrap rewrote reports the rewritten site's gadget as its
 * instruction pointer. */
#define _GNU_SOURCE
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../syscalls/table.h"
#include "kernel.h"

#define MAX_INSNS_PER_PATH 32768 /* Linux's limit on a chain, with 4 per filter */
#define CAP_SYS_ADMIN_ 21
#define SYS_SECCOMP_ 1 /* si_code of a TRAP's SIGSYS */

struct seccomp_filter {
	atomic_int refs;
	struct seccomp_filter *prev;
	bool log; /* SECCOMP_FILTER_FLAG_LOG */
	unsigned short len;
	struct sock_filter insns[];
};

static void filter_put(struct seccomp_filter *f)
{
	while (f && atomic_fetch_sub(&f->refs, 1) == 1) {
		struct seccomp_filter *prev = f->prev;
		free(f);
		f = prev;
	}
}

static struct seccomp_filter *filter_get(struct seccomp_filter *f)
{
	if (f)
		atomic_fetch_add(&f->refs, 1);
	return f;
}

/* --- checking a program (Linux's bpf_check_classic and
 * seccomp_check_filter) --------------------------------------------------- */

static bool jump_op(uint16_t code)
{
	return BPF_CLASS(code) == BPF_JMP;
}

/* 0, or -EINVAL: only the instructions seccomp allows, loads of aligned
 * words inside seccomp_data, jumps that stay inside, a return at the end,
 * scratch words written before they are read on every path. */
static int check_program(struct sock_filter *p, unsigned len)
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

/* --- running one ---------------------------------------------------------- */

static uint32_t run_filter(const struct seccomp_filter *f,
			   const struct seccomp_data *d)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = { 0 };
	const uint8_t *data = (const uint8_t *)d;

	for (unsigned pc = 0; pc < f->len; pc++) {
		const struct sock_filter *i = &f->insns[pc];
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

/* Higher precedence is a smaller action, read as a signed number. */
static int32_t action_of(uint32_t ret)
{
	return (int32_t)(ret & SECCOMP_RET_ACTION_FULL);
}

static uint32_t run_chain(const struct seccomp_filter *f,
			  const struct seccomp_data *d, bool *log)
{
	uint32_t ret = SECCOMP_RET_ALLOW;
	*log = false;
	for (; f; f = f->prev) {
		uint32_t r = run_filter(f, d);
		if (action_of(r) < action_of(ret)) {
			ret = r;
			*log = f->log;
		}
	}
	return ret;
}

/* --- the task's side ----------------------------------------------------- */

int kseccomp_mode(struct task *t)
{
	return atomic_load(&t->seccomp_mode);
}

int kseccomp_nfilters(struct task *t)
{
	int n = 0;
	for (struct seccomp_filter *f = atomic_load(&t->seccomp); f; f = f->prev)
		n++;
	return n;
}

void kseccomp_inherit(struct task *child, struct task *parent)
{
	atomic_store(&child->seccomp, filter_get(atomic_load(&parent->seccomp)));
	atomic_store(&child->seccomp_mode, atomic_load(&parent->seccomp_mode));
}

void kseccomp_release(struct task *t)
{
	/* Under the lock: /proc readers walk another task's chain under it. */
	pthread_mutex_lock(&t->k->lock);
	struct seccomp_filter *f = atomic_exchange(&t->seccomp, NULL);
	pthread_mutex_unlock(&t->k->lock);
	filter_put(f);
}

/* Whether a is b or one of b's ancestors (a thread that may be synced to b). */
static bool is_ancestor(const struct seccomp_filter *a,
			const struct seccomp_filter *b)
{
	if (!a)
		return true;
	for (; b; b = b->prev)
		if (a == b)
			return true;
	return false;
}

static long set_strict(struct task *t)
{
	pthread_mutex_lock(&t->k->lock);
	long err = 0;
	if (atomic_load(&t->seccomp_mode) == SECCOMP_MODE_FILTER_)
		err = -EINVAL;
	else
		atomic_store(&t->seccomp_mode, SECCOMP_MODE_STRICT_);
	pthread_mutex_unlock(&t->k->lock);
	return err;
}

static long set_filter(struct task *t, unsigned flags, uint64_t uprog)
{
	const unsigned known = SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
			       SECCOMP_FILTER_FLAG_SPEC_ALLOW |
			       SECCOMP_FILTER_FLAG_NEW_LISTENER |
			       SECCOMP_FILTER_FLAG_TSYNC_ESRCH |
			       SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	if (flags & ~known)
		return -EINVAL;
	/* No user notification here: no listener can be made. */
	if (flags & (SECCOMP_FILTER_FLAG_NEW_LISTENER |
		     SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV))
		return -EINVAL;

	struct sock_fprog_user {
		uint16_t len;
		uint16_t pad[3];
		uint64_t filter;
	} fp;
	_Static_assert(sizeof(fp) == 16, "sock_fprog layout");
	int err = task_copy_in(t, &fp, uprog, sizeof(fp));
	if (err < 0)
		return err;
	if (fp.len == 0 || fp.len > BPF_MAXINSNS)
		return -EINVAL;
	struct seccomp_filter *f =
		malloc(sizeof(*f) + fp.len * sizeof(struct sock_filter));
	if (!f)
		return -ENOMEM;
	atomic_init(&f->refs, 1);
	f->prev = NULL;
	f->log = flags & SECCOMP_FILTER_FLAG_LOG;
	f->len = fp.len;
	err = task_copy_in(t, f->insns, fp.filter,
			   fp.len * sizeof(struct sock_filter));
	if (!err)
		err = check_program(f->insns, fp.len);
	if (err < 0) {
		free(f);
		return err;
	}
	/* Without NO_NEW_PRIVS only CAP_SYS_ADMIN may install one. */
	if (!t->cred.no_new_privs &&
	    !(t->cred.cap_effective & (1ULL << CAP_SYS_ADMIN_))) {
		free(f);
		return -EACCES;
	}

	struct kernel *k = t->k;
	pthread_mutex_lock(&k->lock);
	struct seccomp_filter *cur = atomic_load(&t->seccomp);
	long ret = 0;
	if (atomic_load(&t->seccomp_mode) == SECCOMP_MODE_STRICT_) {
		ret = -EINVAL;
		goto unlock;
	}
	unsigned total = fp.len + 4u;
	for (struct seccomp_filter *p = cur; p; p = p->prev)
		total += p->len + 4u;
	if (total > MAX_INSNS_PER_PATH) {
		ret = -ENOMEM;
		goto unlock;
	}
	if (flags & SECCOMP_FILTER_FLAG_TSYNC) {
		/* Every other thread must be on our chain, or on part of it. */
		list_for_each(pos, &t->tg->threads) {
			struct task *o = list_entry(pos, struct task, tg_link);
			if (o == t || o->exiting)
				continue;
			if (atomic_load(&o->seccomp_mode) == SECCOMP_MODE_STRICT_ ||
			    !is_ancestor(atomic_load(&o->seccomp), cur)) {
				ret = (flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH)
					      ? -ESRCH
					      : o->tid;
				goto unlock;
			}
		}
	}
	f->prev = cur; /* our reference to cur moves to f */
	atomic_store(&t->seccomp, f);
	atomic_store(&t->seccomp_mode, SECCOMP_MODE_FILTER_);
	if (flags & SECCOMP_FILTER_FLAG_TSYNC) {
		/* The others take the same chain; what they held stays alive
		 * in it, so a thread still reading it is safe. */
		list_for_each(pos, &t->tg->threads) {
			struct task *o = list_entry(pos, struct task, tg_link);
			if (o == t || o->exiting)
				continue;
			struct seccomp_filter *old =
				atomic_exchange(&o->seccomp, filter_get(f));
			filter_put(old);
			atomic_store(&o->seccomp_mode, SECCOMP_MODE_FILTER_);
			/* Linux sets NO_NEW_PRIVS on synced threads too. */
			if (t->cred.no_new_privs)
				o->cred.no_new_privs = true;
		}
	}
	f = NULL;
unlock:
	pthread_mutex_unlock(&k->lock);
	free(f);
	return ret;
}

static bool action_known(uint32_t action)
{
	switch (action) {
	case SECCOMP_RET_KILL_PROCESS:
	case SECCOMP_RET_KILL_THREAD:
	case SECCOMP_RET_TRAP:
	case SECCOMP_RET_ERRNO:
	case SECCOMP_RET_TRACE:
	case SECCOMP_RET_LOG:
	case SECCOMP_RET_ALLOW:
		return true;
	default:
		return false; /* SECCOMP_RET_USER_NOTIF too: no listeners */
	}
}

long kseccomp_syscall(struct task *t, unsigned op, unsigned flags, uint64_t uargs)
{
	switch (op) {
	case SECCOMP_SET_MODE_STRICT:
		if (flags || uargs)
			return -EINVAL;
		return set_strict(t);
	case SECCOMP_SET_MODE_FILTER:
		return set_filter(t, flags, uargs);
	case SECCOMP_GET_ACTION_AVAIL: {
		uint32_t action;
		if (flags)
			return -EINVAL;
		int err = task_copy_in(t, &action, uargs, sizeof(action));
		if (err < 0)
			return err;
		return action_known(action) ? 0 : -EOPNOTSUPP;
	}
	case SECCOMP_GET_NOTIF_SIZES: {
		struct seccomp_notif_sizes s = {
			sizeof(struct seccomp_notif),
			sizeof(struct seccomp_notif_resp),
			sizeof(struct seccomp_data),
		};
		if (flags)
			return -EINVAL;
		return task_copy_out(t, uargs, &s, sizeof(s));
	}
	default:
		return -EINVAL;
	}
}

/* --- at each system call ------------------------------------------------- */

/* The thread (and the process, if it is the last thread or kill_process)
 * dies of sig, whatever its handler and mask. Does not return. */
static void kill_by(struct task *t, int sig, bool kill_process,
		    const struct ksiginfo *info)
{
	struct kernel *k = t->k;
	pthread_mutex_lock(&k->lock);
	bool alone = t->tg->nr_threads == 1;
	pthread_mutex_unlock(&k->lock);
	if (kill_process || alone) {
		force_signal_default(t, sig, info);
		return; /* delivery ends the process */
	}
	task_exit(t, 0);
}

static bool strict_allows(unsigned long nr)
{
	return nr == ABI_NR_read || nr == ABI_NR_write || nr == ABI_NR_exit ||
	       nr == ABI_NR_rt_sigreturn;
}

bool kseccomp_enter(struct task *t, unsigned long nr,
		   const struct syscall_args *a, long *ret)
{
	int mode = atomic_load(&t->seccomp_mode);
	if (mode == SECCOMP_MODE_OFF)
		return false;
	if (mode == SECCOMP_MODE_STRICT_) {
		if (strict_allows(nr))
			return false;
		kill_by(t, SIGKILL, false, NULL);
		*ret = -EINTR; /* not seen: the signal ends the thread */
		return true;
	}

	struct seccomp_data d;
	memset(&d, 0, sizeof(d));
	d.nr = (int)nr;
	d.arch = AUDIT_ARCH_X86_64;
	d.instruction_pointer = t->regs.rip;
	for (int i = 0; i < 6; i++)
		d.args[i] = a->a[i];
	bool log;
	uint32_t r = run_chain(atomic_load(&t->seccomp), &d, &log);
	uint32_t data = r & SECCOMP_RET_DATA;

	switch (r & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_ALLOW:
		return false;
	case SECCOMP_RET_LOG:
		log_info("seccomp: task %d: %s logged", t->tid,
			 syscall_name(nr) ?: "?");
		return false;
	case SECCOMP_RET_ERRNO:
		*ret = -(long)(data > 4095 ? 4095 : data);
		break;
	case SECCOMP_RET_TRACE:
	case SECCOMP_RET_USER_NOTIF:
		/* No tracer, no listener: as Linux without them. */
		*ret = -ENOSYS;
		break;
	case SECCOMP_RET_TRAP: {
		struct ksiginfo info;
		memset(&info, 0, sizeof(info));
		info.signo = SIGSYS;
		info.errno_ = (int32_t)data;
		info.code = SYS_SECCOMP_;
		info.sys.call_addr = t->regs.rip;
		info.sys.syscall = (int32_t)nr;
		info.sys.arch = AUDIT_ARCH_X86_64;
		force_signal(t, SIGSYS, &info);
		*ret = (long)nr; /* the handler sees rax as it was */
		break;
	}
	case SECCOMP_RET_KILL_THREAD:
	case SECCOMP_RET_KILL_PROCESS:
	default: {
		bool process = (r & SECCOMP_RET_ACTION_FULL) !=
			       SECCOMP_RET_KILL_THREAD;
		if (log || process)
			log_info("seccomp: task %d killed by its filter at %s",
				 t->tid, syscall_name(nr) ?: "?");
		struct ksiginfo info;
		memset(&info, 0, sizeof(info));
		info.signo = SIGSYS;
		info.errno_ = (int32_t)data;
		info.code = SYS_SECCOMP_;
		info.sys.call_addr = t->regs.rip;
		info.sys.syscall = (int32_t)nr;
		info.sys.arch = AUDIT_ARCH_X86_64;
		kill_by(t, SIGSYS, process, &info);
		*ret = (long)nr;
		break;
	}
	}
	if (log)
		log_info("seccomp: task %d: %s: action %#x", t->tid,
			 syscall_name(nr) ?: "?", r & SECCOMP_RET_ACTION_FULL);
	return true;
}
