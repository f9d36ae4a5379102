/* Anonymous files that are not pipes: eventfd. */
#pragma once

#include <stdint.h>

struct file;

/* A new eventfd file with the count initval; flags are eventfd2's
 * (EFD_SEMAPHORE, EFD_NONBLOCK; EFD_CLOEXEC is the caller's). */
int eventfd_create(uint64_t initval, int flags, struct file **out);
