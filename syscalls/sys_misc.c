#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <sys/utsname.h>

#include "../sentry/mm/mm.h"
#include "handlers.h"

SYSCALL(uname)
{
	struct utsname u;
	pthread_mutex_lock(&t->k->lock);
	u = t->k->uts;
	pthread_mutex_unlock(&t->k->lock);
	return task_copy_out(t, a->a[0], &u, sizeof(u));
}

/* The sandbox's own names: changing them (CAP_SYS_ADMIN inside) never
 * reaches the host. */
static long set_uts_field(struct task *t, uint64_t uname, uint64_t ulen,
			  size_t field_off)
{
	char buf[65];
	int len = (int)ulen; /* an int in the call */
	if (!(t->cred.cap_effective & (1ULL << 21))) /* CAP_SYS_ADMIN */
		return -EPERM;
	if (len < 0 || len > 64)
		return -EINVAL;
	int err = task_copy_in(t, buf, uname, (size_t)len);
	if (err < 0)
		return err;
	buf[len] = '\0';
	pthread_mutex_lock(&t->k->lock);
	char *f = (char *)&t->k->uts + field_off;
	memset(f, 0, 65);
	memcpy(f, buf, (size_t)len);
	pthread_mutex_unlock(&t->k->lock);
	return 0;
}

SYSCALL(sethostname)
{
	return set_uts_field(t, a->a[0], a->a[1],
			     offsetof(struct utsname, nodename));
}

SYSCALL(setdomainname)
{
	return set_uts_field(t, a->a[0], a->a[1],
			     offsetof(struct utsname, domainname));
}

SYSCALL(personality)
{
	unsigned p = (unsigned)a->a[0];
	unsigned old = t->personality;
	if (p != 0xffffffffu)
		t->personality = p;
	return old;
}

/* The sandbox's view: its own uptime and number of tasks; memory and load
 * as the host has them (what the sandbox's CPUs and memory carry, as
 * /proc/loadavg and /proc/meminfo show). */
SYSCALL(sysinfo)
{
	struct sysinfo host, si;
	struct timespec now;

	if (sysinfo(&host) < 0)
		return -errno;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ULL +
			  (uint64_t)now.tv_nsec;
	memset(&si, 0, sizeof(si));
	si.uptime = (long)((now_ns - t->k->boot_ns) / 1000000000ULL);
	memcpy(si.loads, host.loads, sizeof(si.loads));
	si.totalram = host.totalram;
	si.freeram = host.freeram;
	si.sharedram = host.sharedram;
	si.bufferram = host.bufferram;
	si.totalswap = host.totalswap;
	si.freeswap = host.freeswap;
	si.totalhigh = host.totalhigh;
	si.freehigh = host.freehigh;
	si.mem_unit = host.mem_unit;
	pthread_mutex_lock(&t->k->lock);
	si.procs = (unsigned short)t->k->nr_tasks;
	pthread_mutex_unlock(&t->k->lock);
	return task_copy_out(t, a->a[0], &si, sizeof(si));
}

SYSCALL(getrandom)
{
	unsigned flags = (unsigned)a->a[2];
	uint64_t len = a->a[1], done = 0;
	char buf[4096];

	if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE))
		return -EINVAL;
	if ((flags & GRND_INSECURE) && (flags & GRND_RANDOM))
		return -EINVAL;
	if (len > (INT32_MAX & ~4095L))
		len = INT32_MAX & ~4095L;
	while (done < len) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t r = getrandom(buf, n, flags & GRND_NONBLOCK);
		if (r < 0)
			return done ? (long)done : -errno;
		int err = task_copy_out(t, a->a[0] + done, buf, (size_t)r);
		if (err < 0)
			return done ? (long)done : err;
		done += (uint64_t)r;
	}
	return (long)done;
}

/* Raising a hard limit needs CAP_SYS_RESOURCE in the sandbox; it can
 * never go above what runsc itself was given, since the host enforces
 * that. */
static long do_prlimit(struct task *t, int pid, unsigned res, uint64_t newp,
		       uint64_t oldp)
{
	struct rlimit nl, old;

	if (res >= SENTRY_RLIM_NLIMITS)
		return -EINVAL;
	if (newp) {
		int err = task_copy_in(t, &nl, newp, sizeof(nl));
		if (err < 0)
			return err;
		if (nl.rlim_cur > nl.rlim_max)
			return -EINVAL;
		if (res == RLIMIT_NOFILE && nl.rlim_max > 1024 * 1024)
			return -EPERM;
	}
	struct kernel *k = t->k;
	long err = 0;
	pthread_mutex_lock(&k->lock);
	struct thread_group *g = pid ? tg_lookup(k, pid) : t->tg;
	if (!g || g->zombie) {
		err = -ESRCH;
		goto out;
	}
	if (g != t->tg && !may_signal(t, g->leader, 0)) {
		err = -EPERM;
		goto out;
	}
	old = g->rlim[res];
	if (newp) {
		bool cap_resource = t->cred.cap_effective & (1ULL << 24);
		if (nl.rlim_max > g->rlim[res].rlim_max &&
		    (!cap_resource || nl.rlim_max > t->k->rlim[res].rlim_max)) {
			err = -EPERM;
			goto out;
		}
		g->rlim[res] = nl;
	}
out:
	pthread_mutex_unlock(&k->lock);
	if (!err && oldp)
		return task_copy_out(t, oldp, &old, sizeof(old));
	return err;
}

SYSCALL(prlimit64)
{
	return do_prlimit(t, (int)a->a[0], (unsigned)a->a[1], a->a[2], a->a[3]);
}

SYSCALL(getrlimit)
{
	return do_prlimit(t, 0, (unsigned)a->a[0], 0, a->a[1]);
}

SYSCALL(setrlimit)
{
	return do_prlimit(t, 0, (unsigned)a->a[0], a->a[1], 0);
}

SYSCALL(arch_prctl)
{
	uint64_t addr = a->a[1];

	switch (a->a[0]) {
	case ARCH_SET_FS:
	case ARCH_SET_GS:
		if (addr >= MM_TASK_SIZE)
			return -EPERM;
		if (a->a[0] == ARCH_SET_FS)
			t->regs.fs_base = addr;
		else
			t->regs.gs_base = addr;
		t->regs_dirty = true;
		return 0;
	case ARCH_GET_FS:
		return task_copy_out(t, addr, &t->regs.fs_base, sizeof(uint64_t));
	case ARCH_GET_GS:
		return task_copy_out(t, addr, &t->regs.gs_base, sizeof(uint64_t));
	case ARCH_GET_CPUID:
		return 1; /* CPUID is never made to fault */
	case ARCH_SET_CPUID:
		return -ENODEV; /* would need CPUID faulting in the stub */
	default:
		return -EINVAL;
	}
}

