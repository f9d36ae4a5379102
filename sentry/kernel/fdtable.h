/* File descriptions and fd tables.
 *
 * A struct file (an open file description) is shared by every fd that
 * refers to it (dup, fork, SCM_RIGHTS); its ops table does the work, so
 * syscall handlers stay thin: fd_get, call, file_put. A file opened through
 * the VFS also holds its path (mount + dentry) and inode; anonymous files
 * (the host-backed standard streams, pipes) have neither.
 *
 * An fd table is refcounted: threads made with CLONE_FILES share one
 * (fdtable_ref), fork copies it (fdtable_copy).
 *
 * Locking: fdt->lock protects the slots and close-on-exec bits only; it is
 * never held across file I/O, a release or a lock-manager call (files are
 * put after unlocking). f->pos_lock serializes the users of the offset of
 * a file with FMODE_ATOMIC_POS (read, write, lseek, getdents), as Linux's
 * f_pos_lock does; it is held across that file's I/O and nothing else is
 * taken before it except the fd table lock, never at the same time. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct task;
struct file;
struct poll_table;
struct vfs_dir_ctx;
struct vfs_inode;
struct vfs_mount;
struct vfs_dentry;

/* f->mode: what this description may do, fixed at open. */
#define FMODE_READ	 0x01
#define FMODE_WRITE	 0x02
#define FMODE_LSEEK	 0x04 /* the sentry keeps an offset (f->pos) */
#define FMODE_PREAD	 0x08 /* pread/preadv allowed (else ESPIPE) */
#define FMODE_PWRITE	 0x10
#define FMODE_ATOMIC_POS 0x20 /* offset users serialize on pos_lock */
#define FMODE_PATH	 0x40 /* O_PATH: a handle for *at calls, no I/O */
#define FMODE_WRITER	 0x80 /* counted in its inode's writecount */

struct file_ops {
	/* buf is sentry memory: handlers copy workload memory in and out.
	 * pos is the offset to use and advance, or NULL for stream files
	 * (pipes, terminals, devices without a position). A blocking op
	 * sleeps on t with sentry/kernel/wait.h and returns -ERESTARTSYS
	 * when a signal cuts it short; t is NULL for the sentry's own reads
	 * (file_pread), which never block. */
	long (*read)(struct task *t, struct file *f, void *buf, size_t n,
		     uint64_t *pos);
	long (*write)(struct task *t, struct file *f, const void *buf, size_t n,
		      uint64_t *pos);
	/* Returns the new offset; NULL: the VFS's default for files with
	 * FMODE_LSEEK, ESPIPE for the others. */
	long (*llseek)(struct file *f, int64_t off, int whence, uint64_t *pos);
	/* Anonymous files only: a VFS file reports its inode's attributes. */
	long (*fstat)(struct file *f, struct stat *st);
	long (*ioctl)(struct task *t, struct file *f, unsigned cmd,
		      uint64_t arg);
	/* Directories: emits entries from ctx->pos on (vfs.h). */
	int (*iterate)(struct task *t, struct file *f, struct vfs_dir_ctx *ctx);
	int (*fsync)(struct file *f, bool datasync);
	int (*fallocate)(struct file *f, int mode, uint64_t off, uint64_t len);
	/* A new host fd (the caller closes it) on which the host can mmap
	 * this file's data, or -ENODEV. It may allow more than f->mode
	 * (a tmpfs memfd is read-write): the caller checks f->mode. */
	int (*mmap_fd)(struct file *f);
	/* A new host fd (the caller closes it) from which the file's data
	 * can be read as it is, without side effects (no copy into a memfd):
	 * big reads then go straight into the workload's memory. -ENODEV if
	 * there is none. */
	int (*io_fd)(struct file *f);
	/* Mapping this file maps anonymous memory (/dev/zero): private or
	 * shared as the mapping says, as Linux does. */
	bool mmap_anon;
	/* write never looks at the bytes (Linux's null, zero and full
	 * devices): they are not copied in, so a buffer in unmapped user
	 * memory is no error, as there; buf is then any sentry buffer,
	 * whatever n says. */
	bool write_no_data;
	/* read never gives bytes (/dev/null): the buffer is not checked. */
	bool read_no_data;
	/* Data was read from the file's host fd without its read op (a
	 * direct read): update the access time as a read would. */
	void (*accessed)(struct file *f);
	/* Bytes readable now (FIONREAD), for files that know. */
	long (*readable)(struct file *f);
	/* Events ready now (POLLIN...); registers on its wait queues with
	 * poll_wait(pt, ...) when pt is not NULL (sentry/kernel/poll.h).
	 * NULL: always readable and writable, as a regular file (and epoll
	 * refuses the file). */
	unsigned (*poll)(struct file *f, struct poll_table *pt);
	void (*release)(struct file *f);
	/* Anonymous files: what /proc/[pid]/fd/N says they are
	 * ("pipe:[N]", "anon_inode:[eventpoll]"); returns the length, or
	 * -ERANGE if len is too small. NULL: "anon_inode:[file]". */
	int (*name)(struct file *f, char *buf, size_t len);
	/* Anonymous files: open(2) of /proc/[pid]/fd/N makes a new open
	 * file description on the same object (a pipe's new end) with the
	 * open's flags. NULL: ENXIO, as Linux for sockets and anon inodes. */
	int (*reopen)(struct task *t, struct file *f, int flags,
		      struct file **out);
};

struct file {
	atomic_long refs;
	const struct file_ops *ops;
	_Atomic int flags; /* O_ACCMODE | O_APPEND | O_NONBLOCK ... */
	unsigned mode;	   /* FMODE_* */
	void *priv;
	struct vfs_mount *mnt;	   /* NULL for anonymous files */
	struct vfs_dentry *dentry; /* NULL for anonymous files */
	struct vfs_inode *inode;   /* NULL for anonymous files */
	pthread_mutex_t pos_lock;
	uint64_t pos;
};

/* The most fds a table can ever have (Linux's default fs.nr_open). */
#define FDTABLE_HARD_MAX (1 << 20)

struct fdtable {
	atomic_int refs;
	pthread_mutex_t lock;
	int size; /* slots allocated */
	struct file **files;
	uint64_t *cloexec; /* bitmap, size bits */
	int lowest_free;   /* no free slot below this */
};

/* An anonymous file: no path, no inode. mode gets FMODE_READ/WRITE from
 * flags' access mode. */
struct file *file_new(const struct file_ops *ops, int flags, void *priv);
struct file *file_ref(struct file *f);
void file_put(struct file *f); /* accepts NULL */
/* Reads up to n bytes at off without moving the file's offset (the ELF
 * loader's reads). Returns the bytes read (short only at end of file) or
 * -errno; -EBADF if f was not opened for reading. */
long file_pread(struct file *f, void *buf, size_t n, uint64_t off);
/* Writes n bytes at off without moving the file's offset (msync of a
 * shared mapping the host cannot write itself). Returns the bytes written
 * or -errno; -EBADF if f was not opened for writing. */
long file_pwrite(struct file *f, const void *buf, size_t n, uint64_t off);
/* A new host fd for mmap of f (see file_ops.mmap_fd), or -ENODEV. */
int file_mmap_fd(struct file *f);

struct fdtable *fdtable_new(void);
struct fdtable *fdtable_ref(struct fdtable *fdt);
/* Drops a reference; the last one closes every fd. Accepts NULL. */
void fdtable_put(struct fdtable *fdt);
/* The same as fdtable_put (the name the first callers used). */
void fdtable_free(struct fdtable *fdt);
/* fork: a new table with the same files in the same slots. */
struct fdtable *fdtable_copy(struct fdtable *fdt);
/* execve: closes every fd marked close-on-exec. */
void fdtable_close_on_exec(struct fdtable *fdt);

/* Installs f at the lowest free fd >= min and < limit; takes a reference.
 * -EMFILE if none is free. */
int fd_alloc(struct fdtable *fdt, struct file *f, int min, bool cloexec,
	     uint64_t limit);
/* fd_alloc with no limit but the table's own: for set-up by the kernel. */
int fd_install(struct fdtable *fdt, struct file *f, int min, bool cloexec);
/* fd_alloc at the lowest free fd under the task's RLIMIT_NOFILE: what
 * every syscall that makes an fd uses. */
int fd_install_task(struct task *t, struct file *f, bool cloexec);
/* dup2/dup3: puts f at fd (closing what was there, atomically for other
 * threads); -EBADF if fd is not below limit. */
int fd_replace(struct fdtable *fdt, int fd, struct file *f, bool cloexec,
	       uint64_t limit);
/* A referenced file for fd, or NULL (EBADF). Release with file_put. */
struct file *fd_get(struct fdtable *fdt, int fd);
/* fd_get that also reports the close-on-exec bit. */
struct file *fd_get_cloexec(struct fdtable *fdt, int fd, bool *cloexec);
int fd_set_cloexec(struct fdtable *fdt, int fd, bool cloexec);
int fd_close(struct fdtable *fdt, int fd);
/* close_range: closes (or, with cloexec, marks) fds lo..hi. */
int fd_close_range(struct fdtable *fdt, unsigned lo, unsigned hi, bool cloexec);
/* The highest open fd + 1 (0 if none). */
int fdtable_max_fd(struct fdtable *fdt);

/* A file backed by a host fd the sandbox was given (the standard streams). */
struct file *hostfd_file_new(int host_fd);
/* The host fd behind a hostfd file, or -1 for any other file. */
int hostfd_host_fd(struct file *f);
