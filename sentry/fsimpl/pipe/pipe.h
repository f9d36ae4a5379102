/* Pipes (pipe.c): a buffer in the sentry (64 KiB unless F_SETPIPE_SZ says
 * otherwise) shared by a read end and a write end. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct task;
struct file;

/* fcntl's F_GETPIPE_SZ (set false) and F_SETPIPE_SZ (arg: the size asked):
 * the size, or -errno; -EBADF if f is not a pipe. */
long pipe_fcntl_size(struct task *t, struct file *f, bool set, uint32_t arg);

/* Makes both ends; flags: O_NONBLOCK, O_DIRECT (packet mode). */
int pipe_create(struct task *t, int flags, struct file **rd, struct file **wr);
