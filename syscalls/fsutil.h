/* Helpers shared by the file syscall families (sys_file.c, sys_stat.c,
 * sys_read_write.c...). */
#pragma once

#include <limits.h>

#include "../sentry/kernel/fdtable.h"
#include "../sentry/vfs/vfs.h"
#include "handlers.h"

/* Transfers go through a per-sentry-thread bounce buffer of this size. */
#define RW_CHUNK (1024 * 1024)
char *rw_buffer(void);

/* Copies a path from workload memory into buf (PATH_MAX bytes):
 * -ENAMETOOLONG, -EFAULT. */
static inline int path_in(struct task *t, uint64_t addr, char *buf)
{
	int r = task_copy_in_string(t, buf, addr, PATH_MAX);
	return r < 0 ? r : 0;
}

/* The VFS's spelling of a dirfd argument. */
static inline int dirfd_arg(uint64_t v)
{
	return (int)v;
}

/* Reads iovcnt iovecs at addr, checked as Linux's import_iovec. */
struct iovec;
long iov_import(struct task *t, uint64_t addr, uint64_t cnt, struct iovec **out,
		size_t *total);
