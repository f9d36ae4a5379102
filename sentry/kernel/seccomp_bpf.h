/* Classic BPF for seccomp filters (seccomp_bpf.c). */
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>

/* 0 if p[0..len) is a program Linux accepts as a seccomp filter (and
 * rewrites its length loads into constants, as Linux does), else -EINVAL
 * (-ENOMEM if memory ran out). */
int kseccomp_bpf_check(struct sock_filter *p, unsigned len);
/* Runs a program kseccomp_bpf_check accepted over d: its return value. */
uint32_t kseccomp_bpf_run(const struct sock_filter *p, unsigned len,
			  const struct seccomp_data *d);
