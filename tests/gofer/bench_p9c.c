/* Figures for the gofer protocol, not a test: round trips per second of
 * Tgetattr with 1 and 4 client threads on one connection, walk+open+clunk,
 * and sequential read throughput through Tread against the fd handed over
 * by the extension. Usage: bench-p9c [DIR] (a scratch dir, default /tmp). */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "harness.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct arg {
	struct server *s;
	int n;
};

static void *getattrs(void *p)
{
	struct arg *a = p;
	struct p9_attr at;
	for (int i = 0; i < a->n; i++)
		if (p9c_getattr(a->s->c, a->s->root, P9_GETATTR_BASIC, &at) < 0)
			abort();
	return NULL;
}

static void bench_getattr(struct server *s, int threads, int per)
{
	pthread_t th[16];
	struct arg a = {s, per};
	double t0 = now();
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, getattrs, &a);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	double dt = now() - t0;
	printf("Tgetattr, %d thread(s): %8.0f calls/s, %6.2f us/call\n",
	       threads, threads * per / dt, dt * 1e6 / (threads * per));
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	char base[256];
	snprintf(base, sizeof(base), "%s/bench-p9c-XXXXXX", dir);
	if (!mkdtemp(base))
		return 1;
	char path[300];
	snprintf(path, sizeof(path), "%s/big", base);
	size_t size = 256u << 20;
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	char *chunk = malloc(1 << 20);
	memset(chunk, 'x', 1 << 20);
	for (size_t off = 0; off < size; off += 1 << 20)
		if (write(fd, chunk, 1 << 20) != 1 << 20)
			return 1;
	close(fd);

	struct gofer_serve_opts so = {.proc_fd = -1, .allow_fds = true};
	struct p9c_opts co = {.want_fds = true};
	struct server s;
	if (server_start(&s, base, &so, &co) < 0)
		return 1;
	bench_getattr(&s, 1, 50000);
	bench_getattr(&s, 4, 20000);
	server_stop(&s);
	/* One request in flight at a time: the lock-per-call design. */
	co.max_inflight = 1;
	if (server_start(&s, base, &so, &co) < 0)
		return 1;
	printf("max_inflight=1 (lock per call):\n");
	bench_getattr(&s, 1, 50000);
	bench_getattr(&s, 4, 20000);
	server_stop(&s);
	co.max_inflight = 0;
	if (server_start(&s, base, &so, &co) < 0)
		return 1;

	double t0 = now();
	int n = 20000;
	for (int i = 0; i < n; i++) {
		uint32_t f;
		const char *nm[] = {"big"};
		if (p9c_walk(s.c, s.root, 1, nm, &f, NULL) < 0 ||
		    p9c_lopen(s.c, f, O_RDONLY, NULL, NULL, NULL) < 0 ||
		    p9c_clunk(s.c, f) < 0)
			return 1;
	}
	double dt = now() - t0;
	printf("walk+lopen+clunk:       %8.2f us\n", dt * 1e6 / n);

	uint32_t f;
	int hfd;
	const char *nm[] = {"big"};
	p9c_walk(s.c, s.root, 1, nm, &f, NULL);
	p9c_lopen(s.c, f, O_RDONLY, NULL, NULL, &hfd);
	char *buf = malloc(1 << 20);
	t0 = now();
	size_t got = 0;
	for (;;) {
		ssize_t r = p9c_read(s.c, f, got, buf, 1 << 20);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	dt = now() - t0;
	printf("Tread 1 MiB msize:      %8.0f MiB/s (%zu MiB)\n",
	       (double)got / dt / (1 << 20), got >> 20);
	t0 = now();
	got = 0;
	for (;;) {
		ssize_t r = pread(hfd, buf, 1 << 20, (off_t)got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	dt = now() - t0;
	printf("pread on passed fd:     %8.0f MiB/s\n",
	       (double)got / dt / (1 << 20));
	close(hfd);
	p9c_clunk(s.c, f);
	server_stop(&s);
	rm_rf(base);
	return 0;
}
