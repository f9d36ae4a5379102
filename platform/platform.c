#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

extern const struct platform_ops plat_ptrace_ops;
extern const struct platform_ops plat_systrap_ops;

static const struct platform_ops *const platforms[] = {
	&plat_systrap_ops,
	&plat_ptrace_ops,
};

const struct platform_ops *plat_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(platforms) / sizeof(platforms[0]); i++)
		if (strcmp(platforms[i]->name, name) == 0)
			return platforms[i];
	return NULL;
}

const char *plat_default_name(void)
{
	return "systrap";
}

static const struct plat_range *reserved;
static int nreserved;
static uint64_t vdso_base;

int plat_reserved(const struct plat_range **ranges)
{
	*ranges = reserved;
	return nreserved;
}

void plat_set_reserved(const struct plat_range *ranges, int n)
{
	reserved = ranges;
	nreserved = n;
}

uint64_t plat_vdso_base(void)
{
	return vdso_base;
}

void plat_set_vdso_base(uint64_t base)
{
	vdso_base = base;
}

static bool cpu_pairing = true;
static atomic_uint next_cpu;

void plat_set_cpu_pairing(bool on)
{
	cpu_pairing = on;
}

void plat_pair_cpu(pid_t tid)
{
	cpu_set_t allowed, one;
	int n, want, cpu = -1;

	if (!cpu_pairing)
		return;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return;
	n = CPU_COUNT(&allowed);
	if (n <= 1)
		return;
	/* Spread pairs round-robin over the CPUs the sandbox was given. */
	want = (int)(atomic_fetch_add(&next_cpu, 1) % (unsigned)n);
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (CPU_ISSET(i, &allowed) && want-- == 0) {
			cpu = i;
			break;
		}
	}
	if (cpu < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
	sched_setaffinity(tid, sizeof(one), &one);
}
