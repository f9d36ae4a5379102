#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <unistd.h>

extern const struct platform_ops plat_ptrace_ops;
extern const struct platform_ops plat_systrap_ops;

static const struct platform_ops *const platforms[] = {
	&plat_systrap_ops,
	&plat_ptrace_ops,
};

const struct platform_ops *plat_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(platforms) / sizeof(platforms[0]); i++)
		if (strcmp(platforms[i]->name, name) == 0)
			return platforms[i];
	return NULL;
}

const char *plat_default_name(void)
{
	return "systrap";
}

static const struct plat_range *reserved;
static int nreserved;
static uint64_t vdso_base;

int plat_reserved(const struct plat_range **ranges)
{
	*ranges = reserved;
	return nreserved;
}

void plat_set_reserved(const struct plat_range *ranges, int n)
{
	reserved = ranges;
	nreserved = n;
}

int plat_gaps(const struct plat_range *keep, int n, uint64_t top,
	      struct plat_range *out)
{
	uint64_t cur = 0;
	int k = 0;

	/* keep[] is tiny; visit it in address order. */
	for (;;) {
		const struct plat_range *next = NULL;
		for (int i = 0; i < n; i++)
			if (keep[i].start >= cur &&
			    (!next || keep[i].start < next->start))
				next = &keep[i];
		uint64_t end = next && next->start < top ? next->start : top;
		if (end > cur)
			out[k++] = (struct plat_range){ cur, end, NULL };
		if (!next || next->end >= top)
			return k;
		cur = next->end;
	}
}

uint64_t plat_vdso_base(void)
{
	return vdso_base;
}

void plat_set_vdso_base(uint64_t base)
{
	vdso_base = base;
}

void plat_recv_area_init(struct plat_recv_area *ra, uint64_t base)
{
	memset(ra, 0, sizeof(*ra));
	ra->iov.iov_base = (void *)(base + offsetof(struct plat_recv_area, byte));
	ra->iov.iov_len = 1;
	ra->msg.msg_iov =
	    (struct iovec *)(base + offsetof(struct plat_recv_area, iov));
	ra->msg.msg_iovlen = 1;
	ra->msg.msg_control =
	    (void *)(base + offsetof(struct plat_recv_area, c));
	ra->msg.msg_controllen = sizeof(ra->c.buf);
}

static bool syscall_patching = true;
static int host_proc_fd = -1;

void plat_set_host_proc_fd(int fd)
{
	host_proc_fd = fd;
}

int plat_host_proc_fd(void)
{
	return host_proc_fd;
}

void plat_set_syscall_patching(bool on)
{
	syscall_patching = on;
}

bool plat_syscall_patching(void)
{
	return syscall_patching;
}

static bool cpu_pairing = true;
static atomic_uint next_cpu;

static cpu_set_t start_cpus;
static bool start_cpus_known;

void plat_set_cpu_pairing(bool on)
{
	cpu_pairing = on;
	/* Called at start-up, before anything is pinned: the CPUs the
	 * sandbox was given. */
	start_cpus_known = sched_getaffinity(0, sizeof(start_cpus),
					     &start_cpus) == 0;
}

void plat_unpin_self(void)
{
	if (start_cpus_known)
		pthread_setaffinity_np(pthread_self(), sizeof(start_cpus),
				       &start_cpus);
}

bool plat_cpu_pairing(void)
{
	return cpu_pairing;
}

void plat_pair_cpu(pid_t tid)
{
	cpu_set_t allowed, one;
	int n, want, cpu = -1;

	if (!cpu_pairing)
		return;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return;
	n = CPU_COUNT(&allowed);
	if (n <= 1)
		return;
	/* Spread pairs round-robin over the CPUs the sandbox was given. */
	want = (int)(atomic_fetch_add(&next_cpu, 1) % (unsigned)n);
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (CPU_ISSET(i, &allowed) && want-- == 0) {
			cpu = i;
			break;
		}
	}
	if (cpu < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
	sched_setaffinity(tid, sizeof(one), &one);
}

/* --- spare address spaces ---------------------------------------------------
 * execve needs a fresh address space, and making one (a fork of the
 * zygote and its set-up) takes a few hundred microseconds. A background
 * thread keeps SPARES of them ready, so an exec only takes one. */

#define SPARES 2

static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spare_cond = PTHREAD_COND_INITIALIZER;
static struct {
	struct plat_as *as;
	struct plat_thread *th;
} spare[SPARES];
static int nspare;
static const struct platform_ops *spare_ops;
static bool spare_started;

static void *spare_main(void *arg)
{
	(void)arg;
	plat_unpin_self(); /* made by a task's (maybe paired) thread */
	pthread_mutex_lock(&spare_lock);
	for (;;) {
		while (nspare >= SPARES)
			pthread_cond_wait(&spare_cond, &spare_lock);
		pthread_mutex_unlock(&spare_lock);
		struct plat_as *as;
		struct plat_thread *th;
		int err = spare_ops->as_create(&as, &th);
		pthread_mutex_lock(&spare_lock);
		if (err < 0) {
			/* Creation fails only under pressure: exec then
			 * creates its own and reports the error. */
			pthread_cond_wait(&spare_cond, &spare_lock);
			continue;
		}
		spare[nspare].as = as;
		spare[nspare].th = th;
		nspare++;
	}
	return NULL;
}

int plat_as_take(const struct platform_ops *ops, struct plat_as **as,
		 struct plat_thread **th)
{
	pthread_mutex_lock(&spare_lock);
	if (!spare_started) {
		pthread_t thr;
		sigset_t all, old;
		spare_ops = ops;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&thr, NULL, spare_main, NULL) == 0) {
			pthread_detach(thr);
			spare_started = true;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (nspare > 0 && ops == spare_ops) {
		nspare--;
		*as = spare[nspare].as;
		*th = spare[nspare].th;
		pthread_cond_signal(&spare_cond);
		pthread_mutex_unlock(&spare_lock);
		return 0;
	}
	pthread_cond_signal(&spare_cond);
	pthread_mutex_unlock(&spare_lock);
	return ops->as_create(as, th);
}

/* --- passing host fds into stubs ------------------------------------------------
 * One socket pair for the sandbox: the sentry keeps one end, every stub
 * has the other as fd 1 (inherited through every fork). Only the sentry
 * makes a stub receive (the workload cannot call recvmsg), one stub at a
 * time under fdpass_lock, so each fd reaches the stub it was meant for;
 * the stub holds no other fd then, so it always lands as fd 0. */

static int fdpass[2] = { -1, -1 };
static pthread_mutex_t fdpass_lock = PTHREAD_MUTEX_INITIALIZER;

int plat_fdpass_init(void)
{
	if (fdpass[0] >= 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fdpass) < 0)
		return -errno;
	return 0;
}

int plat_fdpass_stub_end(void)
{
	return fdpass[1];
}

void plat_fdpass_lock(void)
{
	pthread_mutex_lock(&fdpass_lock);
}

void plat_fdpass_unlock(void)
{
	pthread_mutex_unlock(&fdpass_lock);
}

int plat_fd_send(int sock, int fd)
{
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
		return -errno;
	return 0;
}

bool plat_fd_unreceived(int sock)
{
	int n = 0;
	return ioctl(sock, SIOCOUTQ, &n) == 0 && n > 0;
}

int plat_fdpass_send(int fd)
{
	/* Whatever an earlier batch left queued (a stub that never took it,
	 * whatever its result page claims) goes first: a stub only ever
	 * receives the fd sent for its own batch. */
	plat_fdpass_drain();
	return plat_fd_send(fdpass[0], fd);
}

static long with_fd(const struct platform_ops *p, struct plat_thread *th,
		    int host_fd, long nr, const uint64_t args[6])
{
	struct plat_sysreq req = { nr, { 0 } };
	long r = -EIO;
	memcpy(req.args, args, sizeof(req.args));
	int err = p->batch(th, host_fd, &req, 1, &r);
	return err < 0 ? err : r;
}

long plat_map_fd(const struct platform_ops *p, struct plat_thread *th,
		 int host_fd, uint64_t addr, uint64_t len, int prot, int flags,
		 uint64_t off)
{
	uint64_t a[6] = { addr, len, (uint64_t)prot,
			  (uint64_t)(flags | MAP_FIXED), PLAT_FDPASS_RECV_FD,
			  off };
	return with_fd(p, th, host_fd, SYS_mmap, a);
}

long plat_fd_pread(const struct platform_ops *p, struct plat_thread *th,
		   int host_fd, uint64_t buf, uint64_t len, uint64_t off)
{
	uint64_t a[6] = { PLAT_FDPASS_RECV_FD, buf, len, off };
	return with_fd(p, th, host_fd, SYS_pread64, a);
}

bool plat_fdpass_pending(void)
{
	int n = 0;
	return ioctl(fdpass[1], FIONREAD, &n) == 0 && n > 0;
}

void plat_fdpass_drain(void)
{
	plat_fd_drain(fdpass[1]);
}

void plat_fd_drain(int peer)
{
	/* A message no stub took (its recvmsg failed): drop it, and the fd
	 * it carries, so the next stub does not get it. */
	char byte;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	/* Read from the stub end in the sentry: the queue is shared. */
	while (recvmsg(peer, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) > 0) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		if (c && c->cmsg_type == SCM_RIGHTS) {
			int fd;
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
			close(fd);
		}
		msg.msg_controllen = sizeof(u.buf);
	}
}
