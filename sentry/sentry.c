#define _GNU_SOURCE
#include "sentry.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "../lib/log.h"

void sentry_install_fault_handlers(void);

int sentry_main(const struct sentry_config *cfg)
{
	struct kernel k;
	int err;

	sentry_install_fault_handlers();
	plat_set_cpu_pairing(cfg->cpu_pairing);
	plat_set_syscall_patching(cfg->syscall_patch);
	err = kernel_init(&k, cfg);
	if (err < 0) {
		log_error("cannot start the sandbox: %s", strerror(-err));
		return 125;
	}
	int status = kernel_run(&k);
	if (status < 0)
		return status == -ENOENT ? 127 : 126;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
