/* Anonymous files that are not pipes: eventfd, timerfd, signalfd. */
#pragma once

#include <stdint.h>

struct file;
struct stat;

/* fstat of any of them: an anonymous inode, mode 0600, no file type. */
long anon_inode_fstat(struct file *f, struct stat *st);

/* A new eventfd file with the count initval; flags are eventfd2's
 * (EFD_SEMAPHORE, EFD_NONBLOCK; EFD_CLOEXEC is the caller's). */
int eventfd_create(uint64_t initval, int flags, struct file **out);

struct itimerspec;

/* timerfd_create, timerfd_settime, timerfd_gettime on a sentry file (the
 * last two: EINVAL if f is not a timerfd). */
int timerfd_new(int clockid, int flags, struct file **out);
int timerfd_set(struct file *f, int flags, const struct itimerspec *nv,
		struct itimerspec *old);
int timerfd_get(struct file *f, struct itimerspec *cur);

/* signalfd: a new one with mask (flags SFD_NONBLOCK; SFD_CLOEXEC is the
 * caller's), or a new mask for an existing one (EINVAL if f is not). */
int signalfd_new(uint64_t mask, int flags, struct file **out);
struct task;
int signalfd_update(struct task *t, struct file *f, uint64_t mask);
