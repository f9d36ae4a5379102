/* seccomp(2) for the workload: filters a process installs on itself,
 * run by the sentry on each of its system calls before serving it. */
#pragma once

#include <linux/seccomp.h> /* the modes: SECCOMP_MODE_DISABLED, ... */
#include <stdbool.h>
#include <stdint.h>

struct task;
struct syscall_args;

/* seccomp(op, flags, uargs). */
long kseccomp_syscall(struct task *t, unsigned op, unsigned flags, uint64_t uargs);
/* The filters' verdict on the call in t->regs (number nr, arguments a):
 * false to serve it; true if it is not served, with *ret the value for
 * rax (an errno, or the number itself before a SIGSYS). May end the
 * thread (a kill action). */
bool kseccomp_enter(struct task *t, unsigned long nr,
		   const struct syscall_args *a, long *ret);
/* A new task (fork or clone) takes its creator's mode and filters. */
void kseccomp_inherit(struct task *child, struct task *parent);
/* The task is gone: its reference to its filters goes. */
void kseccomp_release(struct task *t);
/* For /proc/PID/status and PR_GET_SECCOMP: the mode, and how many filters
 * (k->lock held, or t is the caller). */
int kseccomp_mode(struct task *t);
int kseccomp_nfilters(struct task *t);
