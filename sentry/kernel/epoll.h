/* epoll instances (epoll.c). */
#pragma once

#include <stdint.h>

struct task;
struct epoll_event;

/* A new epoll fd in t's table (flags: O_CLOEXEC). */
int epoll_create_file(struct task *t, int flags);
long epoll_ctl_impl(struct task *t, int epfd, int op, int fd,
		    const struct epoll_event *ev);
/* Waits until deadline (CLOCK_MONOTONIC ns; 0 none, 1 do not wait). */
long epoll_wait_impl(struct task *t, int epfd, uint64_t uevents, int max,
		     uint64_t deadline);
