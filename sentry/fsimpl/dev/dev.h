/* The sandbox's character devices (null, zero, full, random, urandom,
 * tty) and devfs, the file system /dev is. */
#pragma once

#include "../../vfs/vfs.h"

/* The host fd /dev/tty reaches (the sandbox's terminal), or -1. */
void dev_set_console(int host_fd);
/* A new devfs: the device nodes, fd/stdin/stdout/stderr links, and the
 * shm and pts mount points. */
int devfs_new(struct vfs_sb **out);
