/* Futexes, served by the sentry (futex.c). */
#pragma once

#include <stdint.h>

struct task;

long futex_op(struct task *t, uint64_t uaddr, int op, uint32_t val,
	      uint64_t timeout, uint64_t uaddr2, uint32_t val3);
/* Wakes up to n waiters on addr (CLONE_CHILD_CLEARTID, robust lists). */
int futex_wake_addr(struct task *t, uint64_t addr, int n);
/* Thread exit and exec: marks the futexes of t's robust list dead and
 * wakes one waiter of each. */
void futex_exit_robust_list(struct task *t);
