/* Pipes (pipe.c): a 64 KiB buffer in the sentry shared by a read end and a
 * write end. */
#pragma once

struct task;
struct file;

/* Makes both ends; flags: O_NONBLOCK, O_DIRECT (packet mode). */
int pipe_create(struct task *t, int flags, struct file **rd, struct file **wr);
