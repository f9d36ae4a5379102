/* pidfds (pidfd.c). */
#pragma once

#include <stdint.h>

struct task;
struct thread_group;

/* A new pidfd for process g in t's fd table; returns the fd. */
int pidfd_create(struct task *t, struct thread_group *g, int flags);
/* A new pidfd for thread x alone (PIDFD_THREAD); returns the fd. */
int pidfd_create_thread(struct task *t, struct task *x, int flags);
