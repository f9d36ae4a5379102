/* The 9P2000.L client library the sentry uses to reach the gofer (or any
 * 9P2000.L server, such as diod).
 *
 * One struct p9c is one connection, shared by any number of threads: each
 * call takes a tag, sends its request and waits for its own reply. There is
 * no reader thread: whichever waiting caller finds nobody reading becomes
 * the reader, hands other callers their replies, and passes the role on
 * when its own arrives. A lone caller thus reads its own reply with no
 * thread hand-off.
 *
 * Fids are allocated by the library and returned to the caller, which
 * releases each with p9c_clunk() (or p9c_remove()). Every function returns
 * >= 0 on success or -errno: the server's Rlerror code, -EPROTO for a reply
 * that makes no sense, -ECONNRESET once the connection has failed.
 *
 * The fd extension: when both ends agree on "9P2000.L+fds" over a unix
 * socket, p9c_lopen()/p9c_lcreate() of a regular file also return the
 * server's open host fd, which the caller owns and can read, write and
 * mmap directly.
 *
 * Depends on gofer/proto/ and libc (pthreads). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gofer/proto/p9.h"

struct p9c;

struct p9c_opts {
	uint32_t msize;	       /* asked for; 0: 1 MiB + header */
	bool want_fds;	       /* offer "9P2000.L+fds" */
	unsigned max_inflight; /* concurrent requests; 0: 64 */
};

/* Negotiates the version on sock (a connected stream socket, which the
 * connection now owns) and returns the connection in *out. -EPROTONOSUPPORT
 * if the server speaks no 9P2000.L. */
int p9c_connect(int sock, const struct p9c_opts *o, struct p9c **out);
/* Closes the socket; calls still waiting fail with -ECONNRESET. No call may
 * start after this returns. */
void p9c_close(struct p9c *c);

uint32_t p9c_msize(const struct p9c *c);
/* The most data one p9c_read/p9c_write moves (msize less the header). */
uint32_t p9c_iounit(const struct p9c *c);
bool p9c_fds_enabled(const struct p9c *c);

/* Attaches as n_uname (files created below get this owner). */
int p9c_attach(struct p9c *c, const char *uname, const char *aname,
	       uint32_t n_uname, uint32_t *fid, struct p9_qid *qid);
/* Walks n (<= P9_MAXWELEM) names from fid; n == 0 clones. A new fid is made
 * only when every name was walked: otherwise -ENOENT (or the server's
 * error for the first name). qids may be NULL. */
int p9c_walk(struct p9c *c, uint32_t fid, unsigned n, const char *const *names,
	     uint32_t *newfid, struct p9_qid *qids);
/* A walk of n names and a Tgetattr of the new fid, sent together: one
 * round trip for a lookup. Fails as p9c_walk() does, or with the getattr's
 * error (the new fid then clunked). */
int p9c_walk_getattr(struct p9c *c, uint32_t fid, unsigned n,
		     const char *const *names, uint64_t mask,
		     uint32_t *newfid, struct p9_qid *qids,
		     struct p9_attr *attr);
int p9c_clunk(struct p9c *c, uint32_t fid);
int p9c_remove(struct p9c *c, uint32_t fid);

/* Opens fid. *hostfd (may be NULL) gets the server's fd when the extension
 * passed one, else -1. */
int p9c_lopen(struct p9c *c, uint32_t fid, uint32_t flags, struct p9_qid *qid,
	      uint32_t *iounit, int *hostfd);
/* A clone of fid and a Tlopen of the clone (name NULL) or a Tlcreate of
 * name in it (fid a directory), sent together; *newfid is the open fid.
 * mode and gid are for the create only. */
int p9c_clone_open(struct p9c *c, uint32_t fid, const char *name,
		   uint32_t flags, uint32_t mode, uint32_t gid,
		   uint32_t *newfid, struct p9_qid *qid, uint32_t *iounit,
		   int *hostfd);
/* Creates name in the directory fid, which then stands for the new open
 * file. */
int p9c_lcreate(struct p9c *c, uint32_t fid, const char *name, uint32_t flags,
		uint32_t mode, uint32_t gid, struct p9_qid *qid,
		uint32_t *iounit, int *hostfd);

/* Returns the bytes moved (at most p9c_iounit()). */
ssize_t p9c_read(struct p9c *c, uint32_t fid, uint64_t off, void *buf,
		 size_t len);
ssize_t p9c_write(struct p9c *c, uint32_t fid, uint64_t off, const void *buf,
		  size_t len);

int p9c_getattr(struct p9c *c, uint32_t fid, uint64_t mask,
		struct p9_attr *attr);
int p9c_setattr(struct p9c *c, uint32_t fid, const struct p9_iattr *attr);

/* Fills buf with Rreaddir entries (decode them with p9_dirent_decode())
 * starting at offset (0, then the offset of the last entry seen). Returns
 * the bytes filled, 0 at the end. */
ssize_t p9c_readdir(struct p9c *c, uint32_t fid, uint64_t offset, void *buf,
		    size_t len);

int p9c_mkdir(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode,
	      uint32_t gid, struct p9_qid *qid);
int p9c_symlink(struct p9c *c, uint32_t dfid, const char *name,
		const char *target, uint32_t gid, struct p9_qid *qid);
int p9c_mknod(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode,
	      uint32_t major, uint32_t minor, uint32_t gid, struct p9_qid *qid);
int p9c_link(struct p9c *c, uint32_t dfid, uint32_t fid, const char *name);
int p9c_unlinkat(struct p9c *c, uint32_t dfid, const char *name,
		 uint32_t flags);
int p9c_renameat(struct p9c *c, uint32_t olddfid, const char *oldname,
		 uint32_t newdfid, const char *newname);
/* Copies the target, NUL-terminated, into buf; returns its length. */
ssize_t p9c_readlink(struct p9c *c, uint32_t fid, char *buf, size_t len);
int p9c_statfs(struct p9c *c, uint32_t fid, struct p9_statfs *st);
int p9c_fsync(struct p9c *c, uint32_t fid, bool datasync);

/* Reads the xattr name of fid (an empty name lists the names, each
 * NUL-terminated) into buf. Returns the value's size; with len 0 only the
 * size is returned. -ERANGE if buf is too small. */
ssize_t p9c_getxattr(struct p9c *c, uint32_t fid, const char *name, void *buf,
		     size_t len);
/* Sets (or, with len 0, removes) the xattr name of fid. flags: XATTR_CREATE
 * or XATTR_REPLACE. */
int p9c_setxattr(struct p9c *c, uint32_t fid, const char *name, const void *val,
		 size_t len, uint32_t flags);

/* Tlock: returns the status (P9_LOCK_SUCCESS, P9_LOCK_BLOCKED...). */
int p9c_lock(struct p9c *c, uint32_t fid, const struct p9_flock *lock);
/* Tgetlock: *lock is the question on entry, the answer on return (type
 * P9_LOCK_TYPE_UNLCK if nothing conflicts; client_id is cleared). */
int p9c_getlock(struct p9c *c, uint32_t fid, struct p9_flock *lock);
