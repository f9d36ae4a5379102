/* Scheduling calls and prctl. The sandbox's scheduling attributes are
 * recorded and reported; the host schedules the stub threads as it sees
 * fit (the table says which are only recorded). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "handlers.h"
#include "../sentry/kernel/seccomp.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif

SYSCALL(sched_yield)
{
	(void)t;
	(void)a;
	sched_yield();
	return 0;
}

/* The CPUs the sandbox runs on: those runsc was given. */
static int sandbox_cpus(struct task *t, cpu_set_t *set)
{
	memcpy(set, t->k->cpus, sizeof(*set));
	return 0;
}

/* Linux's cpumask size for this machine: nr_cpu_ids bits in longs. */
static long ncpus_conf;

/* glibc counts the configured CPUs by reading /sys: done once, before
 * the sentry's path filter (sentry/confine.c) goes in. */
__attribute__((constructor)) static void count_cpus(void)
{
	ncpus_conf = sysconf(_SC_NPROCESSORS_CONF);
}

static size_t mask_bytes(void)
{
	long n = ncpus_conf;
	if (n < 1)
		n = 1;
	return (size_t)((n + 63) / 64 * 8);
}

static struct task *find_task(struct task *t, int pid)
{
	return pid ? task_lookup(t->k, pid) : t;
}

SYSCALL(sched_getaffinity)
{
	int pid = (int)a->a[0];
	uint64_t len = a->a[1];
	size_t need = mask_bytes();
	cpu_set_t set;

	if (len < need || (len & 7))
		return -EINVAL;
	CPU_ZERO(&set);
	pthread_mutex_lock(&t->k->lock);
	struct task *x = find_task(t, pid);
	bool have = x && !x->exiting;
	bool own = have && x->cpus_set;
	if (own)
		memcpy(&set, x->cpus, sizeof(x->cpus));
	pthread_mutex_unlock(&t->k->lock);
	if (!have)
		return -ESRCH;
	if (!own) {
		int err = sandbox_cpus(t, &set);
		if (err < 0)
			return err;
	}
	int err = task_copy_out(t, a->a[2], &set, need);
	return err < 0 ? err : (long)need;
}

SYSCALL(sched_setaffinity)
{
	int pid = (int)a->a[0];
	uint64_t len = a->a[1];
	cpu_set_t want, allowed;

	memset(&want, 0, sizeof(want));
	size_t n = len < sizeof(want) ? (size_t)len : sizeof(want);
	int err = task_copy_in(t, &want, a->a[2], n);
	if (err < 0)
		return err;
	err = sandbox_cpus(t, &allowed);
	if (err < 0)
		return err;
	CPU_AND(&want, &want, &allowed);
	if (CPU_COUNT(&want) == 0)
		return -EINVAL;
	pthread_mutex_lock(&t->k->lock);
	struct task *x = find_task(t, pid);
	if (!x || x->exiting)
		err = -ESRCH;
	else if (!may_signal(t, x, 0))
		err = -EPERM;
	else {
		memcpy(x->cpus, &want, sizeof(x->cpus));
		x->cpus_set = true;
		/* No CPU pairing from now on (undone before the mask). */
		if (x->th && t->k->plat->thread_pairing)
			t->k->plat->thread_pairing(x->th, false);
		/* Applied to the stub thread and to its serving thread, so
		 * the workload and the sentry's work for it run there (and
		 * getcpu, which reports the serving thread's CPU, agrees). */
		if (x->th)
			sched_setaffinity(t->k->plat->thread_host_tid(x->th),
					  sizeof(want), &want);
		if (x->thread_started)
			pthread_setaffinity_np(x->thread, sizeof(want), &want);
	}
	pthread_mutex_unlock(&t->k->lock);
	return err;
}

SYSCALL(getcpu)
{
	unsigned cpu = (unsigned)sched_getcpu(), node = 0;
	int err = 0;
	if (a->a[0])
		err = task_copy_out(t, a->a[0], &cpu, sizeof(cpu));
	if (!err && a->a[1])
		err = task_copy_out(t, a->a[1], &node, sizeof(node));
	return err;
}

static bool valid_policy(int policy)
{
	return policy == SCHED_OTHER || policy == SCHED_FIFO ||
	       policy == SCHED_RR || policy == SCHED_BATCH ||
	       policy == SCHED_IDLE;
}

static bool rt_policy(int policy)
{
	return policy == SCHED_FIFO || policy == SCHED_RR;
}

SYSCALL(sched_getscheduler)
{
	int pid = (int)a->a[0];
	if (pid < 0)
		return -EINVAL;
	pthread_mutex_lock(&t->k->lock);
	struct task *x = find_task(t, pid);
	long r = x ? x->sched_policy : -ESRCH;
	pthread_mutex_unlock(&t->k->lock);
	return r;
}

SYSCALL(sched_getparam)
{
	int pid = (int)a->a[0];
	if (pid < 0 || !a->a[1])
		return -EINVAL;
	pthread_mutex_lock(&t->k->lock);
	struct task *x = find_task(t, pid);
	int prio = x ? x->sched_priority : 0;
	pthread_mutex_unlock(&t->k->lock);
	if (!x)
		return -ESRCH;
	return task_copy_out(t, a->a[1], &prio, sizeof(prio));
}

static long set_sched(struct task *t, int pid, int policy, uint64_t uparam)
{
	int prio;
	if (pid < 0 || !uparam)
		return -EINVAL;
	int err = task_copy_in(t, &prio, uparam, sizeof(prio));
	if (err < 0)
		return err;
	pthread_mutex_lock(&t->k->lock);
	struct task *x = find_task(t, pid);
	if (!x) {
		err = -ESRCH;
		goto out;
	}
	if (policy < 0)
		policy = x->sched_policy;
	policy &= ~SCHED_RESET_ON_FORK;
	if (!valid_policy(policy)) {
		err = -EINVAL;
		goto out;
	}
	if (rt_policy(policy) ? (prio < 1 || prio > 99) : prio != 0) {
		err = -EINVAL;
		goto out;
	}
	/* Real-time policies need CAP_SYS_NICE, as on Linux. */
	if (rt_policy(policy) && !(t->cred.cap_effective & (1ULL << 23))) {
		err = -EPERM;
		goto out;
	}
	if (!may_signal(t, x, 0)) {
		err = -EPERM;
		goto out;
	}
	x->sched_policy = policy;
	x->sched_priority = prio;
out:
	pthread_mutex_unlock(&t->k->lock);
	return err;
}

SYSCALL(sched_setscheduler)
{
	return set_sched(t, (int)a->a[0], (int)a->a[1], a->a[2]);
}

SYSCALL(sched_setparam)
{
	return set_sched(t, (int)a->a[0], -1, a->a[1]);
}

SYSCALL(sched_get_priority_max)
{
	(void)t;
	int p = (int)a->a[0];
	return rt_policy(p) ? 99 : valid_policy(p) ? 0 : -EINVAL;
}

SYSCALL(sched_get_priority_min)
{
	(void)t;
	int p = (int)a->a[0];
	return rt_policy(p) ? 1 : valid_policy(p) ? 0 : -EINVAL;
}

SYSCALL(sched_rr_get_interval)
{
	int pid = (int)a->a[0];
	struct timespec ts = { 0, 0 };
	if (pid < 0)
		return -EINVAL;
	pthread_mutex_lock(&t->k->lock);
	struct task *x = find_task(t, pid);
	int policy = x ? x->sched_policy : 0;
	pthread_mutex_unlock(&t->k->lock);
	if (!x)
		return -ESRCH;
	/* Linux's round-robin slice is 100 ms; FIFO has none; the fair
	 * classes report their current slice, which here is the host's. */
	if (policy == SCHED_RR)
		ts.tv_nsec = 100 * 1000 * 1000;
	else if (policy != SCHED_FIFO && sched_rr_get_interval(0, &ts) < 0)
		ts.tv_nsec = 0;
	return task_copy_out(t, a->a[1], &ts, sizeof(ts));
}

/* nice values are per thread on Linux (PRIO_PROCESS names a tid). */
SYSCALL(getpriority)
{
	int which = (int)a->a[0], who = (int)a->a[1];
	long best = -ESRCH;
	pthread_mutex_lock(&t->k->lock);
	if (which == PRIO_PROCESS) {
		struct task *x = find_task(t, who);
		if (x)
			best = 20 - x->nice;
	} else if (which == PRIO_PGRP || which == PRIO_USER) {
		int pg = who ? who : t->tg->pgid;
		uint32_t uid = who ? (uint32_t)who : t->cred.ruid;
		list_for_each(pos, &t->k->tasks) {
			struct task *x = list_entry(pos, struct task, link);
			bool match = which == PRIO_PGRP ? x->tg->pgid == pg
							: x->cred.ruid == uid;
			if (match && !x->exiting && 20 - x->nice > best)
				best = 20 - x->nice;
		}
	} else {
		best = -EINVAL;
	}
	pthread_mutex_unlock(&t->k->lock);
	return best;
}

SYSCALL(setpriority)
{
	int which = (int)a->a[0], who = (int)a->a[1];
	int nice = (int)a->a[2];
	if (nice < -20)
		nice = -20;
	if (nice > 19)
		nice = 19;
	long err = -ESRCH;
	bool raise_ok = t->cred.cap_effective & (1ULL << 23); /* CAP_SYS_NICE */
	pthread_mutex_lock(&t->k->lock);
	if (which != PRIO_PROCESS && which != PRIO_PGRP && which != PRIO_USER) {
		err = -EINVAL;
		goto out;
	}
	list_for_each(pos, &t->k->tasks) {
		struct task *x = list_entry(pos, struct task, link);
		bool match;
		if (which == PRIO_PROCESS)
			match = x == find_task(t, who);
		else if (which == PRIO_PGRP)
			match = x->tg->pgid == (who ? who : t->tg->pgid);
		else
			match = x->cred.ruid == (who ? (uint32_t)who : t->cred.ruid);
		if (!match || x->exiting)
			continue;
		if (!may_signal(t, x, 0)) {
			if (err == -ESRCH)
				err = -EPERM;
			continue;
		}
		if (nice < x->nice && !raise_ok) {
			err = -EACCES;
			continue;
		}
		x->nice = nice;
		err = 0;
	}
out:
	pthread_mutex_unlock(&t->k->lock);
	return err;
}

/* --- prctl ---------------------------------------------------------------------- */

static long put_int(struct task *t, uint64_t addr, int v)
{
	return task_copy_out(t, addr, &v, sizeof(v));
}

SYSCALL(prctl)
{
	int opt = (int)a->a[0];
	uint64_t a2 = a->a[1];
	switch (opt) {
	case PR_SET_NAME: {
		char name[16];
		int r = task_copy_in_string(t, name, a2, sizeof(name));
		if (r < 0 && r != -ENAMETOOLONG)
			return r;
		name[15] = '\0';
		pthread_mutex_lock(&t->k->lock);
		memset(t->comm, 0, sizeof(t->comm));
		strcpy(t->comm, name);
		pthread_mutex_unlock(&t->k->lock);
		return 0;
	}
	case PR_GET_NAME:
		return task_copy_out(t, a2, t->comm, sizeof(t->comm));
	case PR_SET_PDEATHSIG:
		if (a2 > SENTRY_NSIG)
			return -EINVAL;
		t->pdeath_signal = (int)a2;
		return 0;
	case PR_GET_PDEATHSIG:
		return put_int(t, a2, t->pdeath_signal);
	case PR_SET_CHILD_SUBREAPER:
		pthread_mutex_lock(&t->k->lock);
		t->tg->subreaper = a2 != 0;
		pthread_mutex_unlock(&t->k->lock);
		return 0;
	case PR_GET_CHILD_SUBREAPER:
		return put_int(t, a2, t->tg->subreaper);
	case PR_SET_NO_NEW_PRIVS:
		if (a2 != 1 || a->a[2] || a->a[3] || a->a[4])
			return -EINVAL;
		t->cred.no_new_privs = true;
		return 0;
	case PR_GET_NO_NEW_PRIVS:
		if (a2 || a->a[2] || a->a[3] || a->a[4])
			return -EINVAL;
		return t->cred.no_new_privs;
	case PR_SET_DUMPABLE:
		if (a2 > 1)
			return -EINVAL;
		t->tg->dumpable_off = a2 == 0;
		return 0;
	case PR_GET_DUMPABLE:
		return t->tg->dumpable_off ? 0 : 1;
	case PR_GET_SECCOMP:
		/* The sandbox's own filters are not the workload's. */
		return kseccomp_mode(t);
	case PR_SET_SECCOMP:
		if (a2 == SECCOMP_MODE_STRICT)
			return kseccomp_syscall(t, SECCOMP_SET_MODE_STRICT, 0, 0);
		if (a2 == SECCOMP_MODE_FILTER)
			return kseccomp_syscall(t, SECCOMP_SET_MODE_FILTER, 0,
						a->a[2]);
		return -EINVAL;
	case PR_SET_KEEPCAPS:
		if (a2 > 1)
			return -EINVAL;
		t->cred.keepcaps = a2;
		return 0;
	case PR_GET_KEEPCAPS:
		return t->cred.keepcaps;
	case PR_CAPBSET_READ:
		if (a2 > 40)
			return -EINVAL;
		return (t->cred.cap_bounding >> a2) & 1;
	case PR_CAPBSET_DROP:
		if (a2 > 40)
			return -EINVAL;
		if (!(t->cred.cap_effective & (1ULL << 8))) /* CAP_SETPCAP */
			return -EPERM;
		t->cred.cap_bounding &= ~(1ULL << a2);
		return 0;
	case PR_GET_TIMERSLACK:
		return t->timer_slack_ns ? (long)t->timer_slack_ns : 50000;
	case PR_SET_TIMERSLACK:
		t->timer_slack_ns = a2 ? a2 : 50000;
		return 0;
	case PR_GET_TID_ADDRESS:
		return task_copy_out(t, a2, &t->clear_child_tid, sizeof(uint64_t));
	case PR_SET_VMA:
		return -EINVAL; /* anonymous vma names: not kept (table note) */
	case PR_GET_THP_DISABLE:
		return 0;
	default:
		return -EINVAL;
	}
}

SYSCALL(seccomp)
{
	return kseccomp_syscall(t, (unsigned)a->a[0], (unsigned)a->a[1], a->a[2]);
}
