/* poll, ppoll, select, pselect6: one loop over the files' poll operations
 * (sentry/kernel/poll.h), sleeping on their wait queues until something is
 * ready, the time is up or a signal arrives. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "../sentry/kernel/epoll.h"
#include "../sentry/kernel/fdtable.h"
#include "../sentry/kernel/poll.h"
#include "handlers.h"

#define POLLIN_SET (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define POLLOUT_SET (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)
#define POLLEX_SET (POLLPRI)
#define MAX_FDS (1 << 20)

struct pitem {
	int fd;
	unsigned events, revents;
	/* The file whose wait queues the pass that registered linked us
	 * into: held until the waits are unlinked, since another thread may
	 * close the fd meanwhile, and the queues live in the file (Linux's
	 * poll table entries hold their files the same way). */
	struct file *held;
};

/* One pass; registers on wait queues when pt is given. Returns how many
 * items have events. */
static int poll_once(struct task *t, struct pitem *it, size_t n,
		     struct poll_table *pt)
{
	int count = 0;
	for (size_t i = 0; i < n; i++) {
		it[i].revents = 0;
		if (it[i].fd < 0)
			continue;
		struct file *f = fd_get(t->fdt, it[i].fd);
		if (!f) {
			it[i].revents = POLLNVAL;
			count++;
			continue;
		}
		unsigned m = f->ops->poll ? f->ops->poll(f, pt)
					  : (POLLIN | POLLOUT | POLLRDNORM |
					     POLLWRNORM);
		if (pt && !it[i].held)
			it[i].held = f;
		else
			file_put(f);
		it[i].revents = m & (it[i].events | POLLERR | POLLHUP);
		if (it[i].revents)
			count++;
	}
	return count;
}

/* Waits until an item is ready or deadline (CLOCK_MONOTONIC ns; 0 none,
 * 1 do not wait). Returns the count, 0 on timeout, or -ERESTARTSYS. */
static long poll_wait_items(struct task *t, struct pitem *it, size_t n,
			    uint64_t deadline)
{
	struct poll_table pt;
	long ret;

	poll_table_init(&pt, t);
	bool registered = false, timed_out = false;
	/* Linux's order: the fds, then the timeout, then signals. After a
	 * wake-up, whatever its cause, the fds are looked at once more, so
	 * an fd that got ready before a signal came is reported. */
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		int c = poll_once(t, it, n, registered || deadline == 1 ? NULL : &pt);
		registered = true;
		if (c) {
			ret = c;
			break;
		}
		if (pt.err) {
			ret = pt.err;
			break;
		}
		if (deadline == 1 || timed_out) {
			ret = 0;
			break;
		}
		if (task_signal_pending(t)) {
			ret = -ERESTARTSYS;
			break;
		}
		if (task_sleep(t, seq, deadline) == -ETIMEDOUT)
			timed_out = true;
	}
	poll_table_free(&pt);
	for (size_t i = 0; i < n; i++) {
		file_put(it[i].held);
		it[i].held = NULL;
	}
	return ret;
}

static uint64_t deadline_after(uint64_t ns)
{
	return ns ? monotonic_ns() + ns : 1;
}

static long do_poll(struct task *t, uint64_t ufds, uint64_t nfds,
		    uint64_t deadline, bool *interrupted)
{
	*interrupted = false;
	if (nfds > task_rlimit_cur(t, RLIMIT_NOFILE) || nfds > MAX_FDS)
		return -EINVAL;
	struct pollfd *pfd = calloc(nfds ? nfds : 1, sizeof(*pfd));
	struct pitem *it = calloc(nfds ? nfds : 1, sizeof(*it));
	long r;
	if (!pfd || !it) {
		r = -ENOMEM;
		goto out;
	}
	r = task_copy_in(t, pfd, ufds, nfds * sizeof(*pfd));
	if (r < 0)
		goto out;
	for (size_t i = 0; i < nfds; i++) {
		it[i].fd = pfd[i].fd;
		it[i].events = (unsigned)(uint16_t)pfd[i].events;
	}
	r = poll_wait_items(t, it, nfds, deadline);
	if (r == -ERESTARTSYS) {
		*interrupted = true;
		goto out;
	}
	if (r < 0)
		goto out;
	for (size_t i = 0; i < nfds; i++)
		pfd[i].revents = (short)it[i].revents;
	long err = task_copy_out(t, ufds, pfd, nfds * sizeof(*pfd));
	if (err < 0)
		r = err;
out:
	free(pfd);
	free(it);
	return r;
}

static long poll_restart(struct task *t)
{
	bool intr;
	long r = do_poll(t, t->restart.a[0], t->restart.a[1], t->restart.a[2],
			 &intr);
	if (intr) {
		t->restart.fn = poll_restart;
		return -ERESTART_RESTARTBLOCK;
	}
	return r;
}

SYSCALL(poll)
{
	int ms = (int)a->a[2];
	uint64_t deadline = ms < 0 ? 0 : deadline_after((uint64_t)ms * 1000000ULL);
	bool intr;
	long r = do_poll(t, a->a[0], a->a[1], deadline, &intr);
	if (intr) {
		/* Restarted with the same deadline unless a handler runs. */
		t->restart.fn = poll_restart;
		t->restart.a[0] = a->a[0];
		t->restart.a[1] = a->a[1];
		t->restart.a[2] = deadline;
		return -ERESTART_RESTARTBLOCK;
	}
	return r;
}

/* ppoll/pselect's signal mask: in effect while waiting, restored after
 * (or after the handler it let in runs). */
static long swap_mask(struct task *t, uint64_t umask, uint64_t size)
{
	if (!umask)
		return 0;
	if (size != sizeof(uint64_t))
		return -EINVAL;
	uint64_t m;
	int err = task_copy_in(t, &m, umask, sizeof(m));
	if (err < 0)
		return err;
	pthread_mutex_lock(&t->k->lock);
	t->saved_sigmask = t->sigmask;
	t->restore_sigmask = true;
	set_sigmask_locked(t, m);
	pthread_mutex_unlock(&t->k->lock);
	return 0;
}

static int read_timespec(struct task *t, uint64_t addr, uint64_t *ns)
{
	struct timespec ts;
	int err = task_copy_in(t, &ts, addr, sizeof(ts));
	if (err < 0)
		return err;
	if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)
		return -EINVAL;
	*ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	return 0;
}

/* The time left, written back as Linux does for ppoll/pselect/select. */
static void write_left(struct task *t, uint64_t addr, uint64_t deadline,
		       bool timeval)
{
	if (!addr || deadline <= 1)
		return;
	uint64_t now = monotonic_ns();
	uint64_t left = deadline > now ? deadline - now : 0;
	if (timeval) {
		struct timeval tv = { (time_t)(left / 1000000000ULL),
				      (suseconds_t)(left % 1000000000ULL / 1000) };
		task_copy_out(t, addr, &tv, sizeof(tv));
	} else {
		struct timespec ts = { (time_t)(left / 1000000000ULL),
				       (long)(left % 1000000000ULL) };
		task_copy_out(t, addr, &ts, sizeof(ts));
	}
}

SYSCALL(ppoll)
{
	uint64_t deadline = 0, ns;
	if (a->a[2]) {
		int err = read_timespec(t, a->a[2], &ns);
		if (err < 0)
			return err;
		deadline = deadline_after(ns);
	}
	long err = swap_mask(t, a->a[3], a->a[4]);
	if (err < 0)
		return err;
	bool intr;
	long r = do_poll(t, a->a[0], a->a[1], deadline, &intr);
	write_left(t, a->a[2], deadline, false);
	return intr ? -ERESTARTNOHAND : r;
}

static long do_select(struct task *t, int nfds, uint64_t ur, uint64_t uw,
		      uint64_t ue, uint64_t deadline, bool *intr)
{
	*intr = false;
	if (nfds < 0)
		return -EINVAL;
	/* Like Linux, nothing past the fd table's size is looked at. */
	pthread_mutex_lock(&t->fdt->lock);
	int max = t->fdt->size;
	pthread_mutex_unlock(&t->fdt->lock);
	if (nfds > max)
		nfds = max;
	size_t words = ((size_t)nfds + 63) / 64;
	uint64_t *in[3], *out[3];
	uint64_t *mem = calloc(words ? words * 6 : 1, sizeof(uint64_t));
	if (!mem)
		return -ENOMEM;
	for (int k = 0; k < 3; k++) {
		in[k] = mem + (size_t)k * words;
		out[k] = mem + (size_t)(3 + k) * words;
	}
	uint64_t addr[3] = { ur, uw, ue };
	size_t bytes = ((size_t)nfds + 7) / 8;
	for (int k = 0; k < 3; k++)
		if (addr[k] && bytes) {
			int err = task_copy_in(t, in[k], addr[k], bytes);
			if (err < 0) {
				free(mem);
				return err;
			}
		}
	struct pitem *it = calloc((size_t)nfds ? (size_t)nfds : 1, sizeof(*it));
	long r = -ENOMEM;
	if (!it)
		goto out;
	size_t n = 0;
	for (int fd = 0; fd < nfds; fd++) {
		uint64_t bit = 1ULL << (fd % 64);
		unsigned ev = 0;
		if (in[0][fd / 64] & bit)
			ev |= POLLIN_SET;
		if (in[1][fd / 64] & bit)
			ev |= POLLOUT_SET;
		if (in[2][fd / 64] & bit)
			ev |= POLLEX_SET;
		if (!ev)
			continue;
		it[n].fd = fd;
		it[n].events = ev;
		n++;
	}
	r = poll_wait_items(t, it, n, deadline);
	if (r == -ERESTARTSYS)
		*intr = true;
	if (r < 0)
		goto out;
	long count = 0;
	for (size_t i = 0; i < n; i++) {
		if (it[i].revents & POLLNVAL) {
			r = -EBADF;
			goto out;
		}
		int fd = it[i].fd;
		uint64_t bit = 1ULL << (fd % 64);
		unsigned rv = it[i].revents;
		if ((rv & POLLIN_SET) && (it[i].events & POLLIN)) {
			out[0][fd / 64] |= bit;
			count++;
		}
		if ((rv & POLLOUT_SET) && (it[i].events & POLLOUT)) {
			out[1][fd / 64] |= bit;
			count++;
		}
		if ((rv & POLLEX_SET) && (it[i].events & POLLPRI)) {
			out[2][fd / 64] |= bit;
			count++;
		}
	}
	r = count;
	for (int k = 0; k < 3; k++)
		if (addr[k] && bytes) {
			int err = task_copy_out(t, addr[k], out[k], bytes);
			if (err < 0) {
				r = err;
				break;
			}
		}
out:
	free(it);
	free(mem);
	return r;
}

SYSCALL(select)
{
	uint64_t deadline = 0;
	if (a->a[4]) {
		struct timeval tv;
		int err = task_copy_in(t, &tv, a->a[4], sizeof(tv));
		if (err < 0)
			return err;
		if (tv.tv_sec < 0 || tv.tv_usec < 0)
			return -EINVAL;
		/* Linux normalises large usec values rather than refusing. */
		uint64_t ns = (uint64_t)tv.tv_sec * 1000000000ULL +
			      (uint64_t)tv.tv_usec * 1000ULL;
		deadline = deadline_after(ns);
	}
	bool intr;
	long r = do_select(t, (int)a->a[0], a->a[1], a->a[2], a->a[3], deadline,
			   &intr);
	write_left(t, a->a[4], deadline, true);
	return intr ? -ERESTARTNOHAND : r;
}

SYSCALL(pselect6)
{
	uint64_t deadline = 0, ns;
	if (a->a[4]) {
		int err = read_timespec(t, a->a[4], &ns);
		if (err < 0)
			return err;
		deadline = deadline_after(ns);
	}
	if (a->a[5]) {
		struct {
			uint64_t set, size;
		} sm;
		int err = task_copy_in(t, &sm, a->a[5], sizeof(sm));
		if (err < 0)
			return err;
		long e = swap_mask(t, sm.set, sm.size);
		if (e < 0)
			return e;
	}
	bool intr;
	long r = do_select(t, (int)a->a[0], a->a[1], a->a[2], a->a[3], deadline,
			   &intr);
	write_left(t, a->a[4], deadline, false);
	return intr ? -ERESTARTNOHAND : r;
}

/* --- epoll -------------------------------------------------------------------------- */

SYSCALL(epoll_create)
{
	if ((int)a->a[0] <= 0)
		return -EINVAL;
	return epoll_create_file(t, 0);
}

SYSCALL(epoll_create1)
{
	int flags = (int)a->a[0];
	if (flags & ~EPOLL_CLOEXEC)
		return -EINVAL;
	return epoll_create_file(t, flags & EPOLL_CLOEXEC ? O_CLOEXEC : 0);
}

SYSCALL(epoll_ctl)
{
	struct epoll_event ev;
	int op = (int)a->a[1];
	if (op != EPOLL_CTL_DEL) {
		int err = task_copy_in(t, &ev, a->a[3], sizeof(ev));
		if (err < 0)
			return err;
	}
	return epoll_ctl_impl(t, (int)a->a[0], op, (int)a->a[2],
			      op == EPOLL_CTL_DEL ? NULL : &ev);
}

static uint64_t ms_deadline(int ms)
{
	return ms < 0 ? 0 : deadline_after((uint64_t)ms * 1000000ULL);
}

SYSCALL(epoll_wait)
{
	return epoll_wait_impl(t, (int)a->a[0], a->a[1], (int)a->a[2],
			       ms_deadline((int)a->a[3]));
}

SYSCALL(epoll_pwait)
{
	long err = swap_mask(t, a->a[4], a->a[5]);
	if (err < 0)
		return err;
	return epoll_wait_impl(t, (int)a->a[0], a->a[1], (int)a->a[2],
			       ms_deadline((int)a->a[3]));
}

SYSCALL(epoll_pwait2)
{
	uint64_t deadline = 0, ns;
	if (a->a[3]) {
		int err = read_timespec(t, a->a[3], &ns);
		if (err < 0)
			return err;
		deadline = deadline_after(ns);
	}
	long err = swap_mask(t, a->a[4], a->a[5]);
	if (err < 0)
		return err;
	return epoll_wait_impl(t, (int)a->a[0], a->a[1], (int)a->a[2], deadline);
}
