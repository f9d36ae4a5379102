/* The gofer: the only process that touches the container's files. It serves
 * one directory tree over 9P2000.L (gofer/proto/) to the sentry.
 *
 * gofer_serve() is the protocol loop on one connected socket; gofer_main()
 * is the whole process set-up that runsc uses: a private mount namespace
 * holding only the served root and its bind mounts, pivot_root into it, no
 * new privileges, a seccomp allowlist, then gofer_serve().
 *
 * Rules it keeps whatever the client sends: a walk takes single names only
 * ("", ".", ".." and names with '/' are refused), a symlink is never
 * followed (readlink returns its text), every operation is relative to an
 * fd the client already holds, devices are never opened or created.
 * Permission checks are the sentry's; the gofer acts with its own rights
 * and gives new files the owner of the attach and the gid of the request.
 *
 * Depends on gofer/proto/ and lib/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gofer_serve_opts {
	/* Largest msize offered (0: GOFER_DEFAULT_MSIZE). */
	uint32_t max_msize;
	/* Refuse every change with EROFS, whatever the mounts allow. */
	bool read_only;
	/* Offer the fd-passing extension ("9P2000.L+fds") on unix sockets. */
	bool allow_fds;
	/* A directory fd of a procfs, used to reopen files by fd; -1 opens
	 * "/proc" (which must then be reachable). Not closed. */
	int proc_fd;
};

#define GOFER_DEFAULT_MSIZE (1024 * 1024 + 24)

/* Serves 9P2000.L on sock, a connected stream socket, rooted at root_fd (a
 * directory; O_PATH is enough), until the peer closes it. Returns 0 on a
 * clean close, -errno if the connection failed or the peer broke framing.
 * Sets the process umask to 0: modes are the client's to choose. Closes
 * neither fd. */
int gofer_serve(int sock, int root_fd, const struct gofer_serve_opts *o);

/* One bind mount of the served tree: host path src appears at dst, a path
 * inside the root. */
struct gofer_bind {
	const char *src;
	const char *dst;
	bool ro;
};

struct gofer_config {
	int sock_fd; /* connected socket to serve, or -1 */
	/* Tests and interop only: a listening socket whose connections are
	 * served one after another (sock_fd then -1). */
	int listen_fd;
	const char *root; /* host directory served as "/" */
	bool root_ro;	  /* the root and its submounts read-only */
	const struct gofer_bind *binds;
	size_t nbinds;
	/* Detach these mounts under the root if present (the host's /proc,
	 * /sys, /dev when the root is the host's "/": the sentry has its
	 * own, and the host's must not be served). */
	const char *const *hide;
	size_t nhide;
	bool allow_fds;
	bool no_seccomp; /* for debugging only */
};

/* Becomes the gofer: forks the gofer proper as pid 1 of a new pid
 * namespace (its procfs then shows no other process), which does the set-up
 * described above and serves cfg->sock_fd (or accepts on cfg->listen_fd);
 * this process closes its copies of the sockets and waits. Returns when
 * the gofer ends: 0 for a clean end of the connection, -errno for a failure
 * (the gofer logged it); if the gofer was killed by a signal, this process
 * dies of the same signal. Needs CAP_SYS_ADMIN. */
int gofer_main(const struct gofer_config *cfg);

/* Installs the gofer's seccomp allowlist (after which mount and friends
 * are gone); with_accept also lets it accept connections (listen mode). */
int gofer_seccomp_install(bool with_accept);
