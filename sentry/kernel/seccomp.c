/* seccomp(2) for the workload. A process's filters are classic BPF programs
 * over struct seccomp_data, kept as a chain (newest first, each holding the
 * one before) shared by the threads and fork children that inherited it.
 * syscall_dispatch asks kseccomp_enter before serving a call: every filter
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
 * instruction pointer. SECCOMP_FILTER_FLAG_LOG is taken and adds nothing:
 * what the actions do is logged at debug level whatever the flags. */
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
#include "seccomp_bpf.h"

#define MAX_INSNS_PER_PATH 32768 /* Linux's limit on a chain, with 4 per filter */
#define CAP_SYS_ADMIN_ 21
#define SYS_SECCOMP_ 1 /* si_code of a TRAP's SIGSYS */

struct seccomp_filter {
	atomic_int refs;
	struct seccomp_filter *prev;
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

/* Higher precedence is a smaller action, read as a signed number. */
static int32_t action_of(uint32_t ret)
{
	return (int32_t)(ret & SECCOMP_RET_ACTION_FULL);
}

static uint32_t run_chain(const struct seccomp_filter *f,
			  const struct seccomp_data *d)
{
	uint32_t ret = SECCOMP_RET_ALLOW;
	for (; f; f = f->prev) {
		uint32_t r = kseccomp_bpf_run(f->insns, f->len, d);
		if (action_of(r) < action_of(ret))
			ret = r;
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
	if (atomic_load(&t->seccomp_mode) == SECCOMP_MODE_FILTER)
		err = -EINVAL;
	else
		atomic_store(&t->seccomp_mode, SECCOMP_MODE_STRICT);
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
	f->len = fp.len;
	err = task_copy_in(t, f->insns, fp.filter,
			   fp.len * sizeof(struct sock_filter));
	if (!err)
		err = kseccomp_bpf_check(f->insns, fp.len);
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
	if (atomic_load(&t->seccomp_mode) == SECCOMP_MODE_STRICT) {
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
			if (atomic_load(&o->seccomp_mode) == SECCOMP_MODE_STRICT ||
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
	atomic_store(&t->seccomp_mode, SECCOMP_MODE_FILTER);
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
			atomic_store(&o->seccomp_mode, SECCOMP_MODE_FILTER);
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
 * dies of sig, whatever its handler and mask: a thread among others ends
 * here (task_exit does not return), a process at the signal's delivery. */
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

/* The SIGSYS of a TRAP or kill action: the call, and the filter's data in
 * si_errno. */
static struct ksiginfo sigsys_info(struct task *t, unsigned long nr,
				   uint32_t data)
{
	struct ksiginfo info;
	memset(&info, 0, sizeof(info));
	info.signo = SIGSYS;
	info.errno_ = (int32_t)data;
	info.code = SYS_SECCOMP_;
	info.sys.call_addr = t->regs.rip;
	info.sys.syscall = (int32_t)nr;
	info.sys.arch = AUDIT_ARCH_X86_64;
	return info;
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
	if (mode == SECCOMP_MODE_DISABLED)
		return false;
	if (mode == SECCOMP_MODE_STRICT) {
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
	uint32_t r = run_chain(atomic_load(&t->seccomp), &d);
	uint32_t data = r & SECCOMP_RET_DATA;

	switch (r & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_ALLOW:
		return false;
	case SECCOMP_RET_LOG:
		/* At debug level: a workload's filter must not flood the
		 * sandbox's log (Linux's audit log is rate-limited). */
		log_debug("seccomp: task %d: %s logged", t->tid,
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
		struct ksiginfo info = sigsys_info(t, nr, data);
		force_signal(t, SIGSYS, &info);
		*ret = (long)nr; /* the handler sees rax as it was */
		break;
	}
	case SECCOMP_RET_KILL_THREAD:
	case SECCOMP_RET_KILL_PROCESS:
	default: {
		bool process = (r & SECCOMP_RET_ACTION_FULL) !=
			       SECCOMP_RET_KILL_THREAD;
		log_debug("seccomp: task %d killed by its filter at %s",
			  t->tid, syscall_name(nr) ?: "?");
		struct ksiginfo info = sigsys_info(t, nr, data);
		kill_by(t, SIGSYS, process, &info);
		*ret = (long)nr;
		break;
	}
	}
	return true;
}
