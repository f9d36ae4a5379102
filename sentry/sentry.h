/* Entry point of the sentry process. */
#pragma once

#include "kernel/kernel.h"

/* Runs the sandbox described by cfg in the calling process (which runsc has
 * forked for it) and returns the process exit code for runsc: the
 * workload's exit status, 128+N if it was killed by signal N, 126/127 if it
 * could not be started. */
int sentry_main(const struct sentry_config *cfg);
/* From now on, system calls of the sentry process that name a host path
 * fail with EPERM (and are counted and logged): see confine.c. */
int sentry_confine_paths(void);
long sentry_refused_paths(void);
/* An O_PATH fd of the host's /proc (-1 if none): the only directory the
 * sentry may still open names in (its stubs' statistics). */
int sentry_host_proc_fd(void);
/* Resident and shared pages of a stub process, from its host statm (0 if
 * unknown): the host's exact count, where getrusage's may lag. */
void sentry_stub_rss(pid_t pid, uint64_t *resident, uint64_t *shared);
