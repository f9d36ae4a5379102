#define _GNU_SOURCE
#include "kernel.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../syscalls/table.h"
#include "timer.h"

int kernel_init(struct kernel *k, const struct sentry_config *cfg)
{
	memset(k, 0, sizeof(*k));
	k->cfg = cfg;
	k->plat = plat_lookup(cfg->platform);
	if (!k->plat)
		return -EINVAL;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->tasks_gone, NULL);
	list_init(&k->tasks);
	list_init(&k->groups);
	waitq_init(&k->exit_wait);
	waitq_init(&k->signalfd_wq);
	k->pid_hash = calloc(4096, sizeof(struct task *));
	if (!k->pid_hash)
		return -ENOMEM;
	k->boot_ns = monotonic_ns();
	cpu_set_t cpus;
	_Static_assert(sizeof(cpus) == sizeof(k->cpus), "cpu set size");
	CPU_ZERO(&cpus);
	if (sched_getaffinity(0, sizeof(cpus), &cpus) < 0)
		return -errno;
	memcpy(k->cpus, &cpus, sizeof(cpus));
	/* The sandbox reports the host's kernel identity (programs check the
	 * release) and, for `runsc do`, the host's hostname. */
	if (uname(&k->uts) < 0)
		return -errno;
	for (int i = 0; i < SENTRY_RLIM_NLIMITS; i++)
		if (getrlimit(i, &k->rlim[i]) < 0)
			k->rlim[i] = (struct rlimit){ RLIM_INFINITY, RLIM_INFINITY };
	k->crash_nr = -1;
	if (cfg->crash_on_syscall) {
		for (unsigned long nr = 0; nr < ABI_NR_SYSCALLS; nr++) {
			const char *n = syscall_name(nr);
			if (n && strcmp(n, cfg->crash_on_syscall) == 0)
				k->crash_nr = (int)nr;
		}
		if (k->crash_nr < 0)
			return -EINVAL;
	}
	int err = k->plat->init();
	if (err < 0)
		return err;
	return timers_start(k);
}
