/* File descriptions and the per-process fd table. A struct file is shared
 * by every fd that refers to it (dup, fork); its ops table does the work, so
 * syscall handlers stay thin: fd_get, call, file_put. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct task;
struct file;
struct poll_table;

struct file_ops {
	/* buf is sentry memory; handlers copy workload memory in and out. */
	long (*read)(struct file *f, void *buf, size_t n);
	long (*write)(struct file *f, const void *buf, size_t n);
	long (*fstat)(struct file *f, struct stat *st);
	long (*ioctl)(struct task *t, struct file *f, unsigned cmd,
		      uint64_t arg);
	/* Events ready now (POLLIN...); registers on its wait queues with
	 * poll_wait(pt, ...) when pt is not NULL (sentry/kernel/poll.h).
	 * NULL: always readable and writable, as a regular file. */
	unsigned (*poll)(struct file *f, struct poll_table *pt);
	void (*release)(struct file *f);
};

struct file {
	atomic_int refs;
	const struct file_ops *ops;
	int flags; /* O_ACCMODE | O_APPEND | O_NONBLOCK ... */
	void *priv;
};

#define FDTABLE_MAX 1024

struct fdtable {
	atomic_int refs; /* tasks sharing it (CLONE_FILES) */
	pthread_mutex_t lock;
	struct file *files[FDTABLE_MAX];
	bool cloexec[FDTABLE_MAX];
};

struct file *file_new(const struct file_ops *ops, int flags, void *priv);
struct file *file_ref(struct file *f);
void file_put(struct file *f); /* accepts NULL */

struct fdtable *fdtable_new(void);
struct fdtable *fdtable_ref(struct fdtable *fdt);
void fdtable_put(struct fdtable *fdt); /* accepts NULL */
/* A copy for fork: same open files, same close-on-exec flags. */
struct fdtable *fdtable_copy(struct fdtable *fdt);
/* execve: closes every close-on-exec descriptor. */
void fdtable_close_on_exec(struct fdtable *fdt);
/* Installs f at the lowest free fd >= min; takes a reference. */
int fd_install(struct fdtable *fdt, struct file *f, int min, bool cloexec);
/* A referenced file for fd, or NULL (EBADF). Release with file_put. */
struct file *fd_get(struct fdtable *fdt, int fd);
int fd_close(struct fdtable *fdt, int fd);
/* Puts f at fd (dup2), closing what was there; takes a reference. */
int fd_install_at(struct fdtable *fdt, struct file *f, int fd, bool cloexec);
/* Sets (set 0/1) and returns fd's close-on-exec flag; set -1 only reads. */
int fd_cloexec(struct fdtable *fdt, int fd, int set);

/* A file backed by a host fd the sandbox was given (the standard streams). */
struct file *hostfd_file_new(int host_fd);
