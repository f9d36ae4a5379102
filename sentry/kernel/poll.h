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
	void *ctx; /* the poll_table's ctx (epoll: the watch) */
};

struct poll_table {
	struct task *t;
	/* Callback waiters instead of waking t (epoll); ctx for the callback. */
	void (*fn)(struct waiter *w);
	void *ctx;
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
 * watches them with epoll and wakes q at every new event on fd (events is
 * a hint; every kind is watched). */
int hostpoll_watch(int fd, unsigned events, struct waitq *q);
/* The host fd is being closed: no more wake-ups for it. */
void hostpoll_unwatch(int fd);
