/* Readiness of files (poll, select, later epoll). A file's poll operation
 * returns the events ready now (POLLIN, POLLOUT, POLLHUP, ...) and, when
 * the caller will sleep, names the wait queues that a change of readiness
 * wakes, with poll_wait. */
#pragma once

#include "wait.h"

struct task;

struct poll_entry {
	struct waitq *q;
	struct waiter w;
};

struct poll_table {
	struct task *t;
	struct poll_entry *e;
	int n, cap;
	int err; /* -ENOMEM if an entry could not be kept */
};

/* Registers pt's task on q (pt may be NULL: just asking). */
void poll_wait(struct poll_table *pt, struct waitq *q);
void poll_table_init(struct poll_table *pt, struct task *t);
/* Removes every registration. */
void poll_table_free(struct poll_table *pt);

/* Host fds (the standard streams runsc hands over): a sentry thread
 * watches them with epoll and wakes q once fd has one of events. */
int hostpoll_watch(int fd, unsigned events, struct waitq *q);
