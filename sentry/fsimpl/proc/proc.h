/* procfs: the sandbox's /proc. Everything it shows comes from the sentry's
 * own state (its pid namespace, tasks, credentials, memory maps, fd tables
 * and mounts), so no host pid, host path or sentry fd can appear in it.
 *
 * proc.c is the file system (inodes, lookups, listings, reads, magic
 * links), pid.c the files of /proc/[pid] and /proc/[pid]/task/[tid],
 * fd.c the fd/ and fdinfo/ directories and the exe/cwd/root links,
 * sys.c the host-wide files (meminfo, cpuinfo, stat, ...) and /proc/sys.
 *
 * Where it differs from Linux, on purpose or for now:
 *   - a task's state is coarse: R while it runs workload code (or reads
 *     the file), S inside any system call, T stopped, Z a zombie;
 *   - resident memory (VmRSS, statm) is the stub process's as the host
 *     counts it (its few own pages included); fault and context-switch
 *     counts are 0;
 *   - cmdline and environ are empty until the loader records where argv
 *     and envp are (mm->arg_start...), and exe falls back to the path the
 *     process was started with until it records mm->exe;
 *   - reopening a pipe through fd/N does not wait for a peer as a FIFO's
 *     open does; a host-backed standard stream reopens on the same host
 *     fd (shared offset, its access mode the limit), a host null, zero,
 *     full or random device as the sandbox's own;
 *   - access to another process's environ, maps, fd/, fdinfo/ and links
 *     needs its uid (all of real, effective, saved) and gid and that it
 *     is dumpable, or CAP_SYS_PTRACE (proc_may_inspect); changing ids does
 *     not make a process undumpable yet (that needs exec to undo it).
 *
 * Depends on sentry/vfs, sentry/kernel and sentry/mm (read only). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../kernel/kernel.h"
#include "../../vfs/vfs.h"

/* Registers "proc" with vfs_register_fs. */
int proc_register(void);

/* ---- internal ---------------------------------------------------------- */

/* A growing text buffer; the first allocation failure sticks in err. */
struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};
void sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sb_put(struct sbuf *b, const void *p, size_t n);

enum proc_kind {
	PK_DIR,		/* a fixed directory (ent->sub); the root adds pids */
	PK_FILE,	/* generated at read (ent->show) */
	PK_SYMLINK,	/* fixed target text (ent->target) */
	PK_SELF,	/* "self": the reader's tgid */
	PK_THREAD_SELF, /* "thread-self": tgid/task/tid */
	PK_PID,		/* /proc/[pid] (ent = the per-process table) */
	PK_TASKDIR,	/* /proc/[pid]/task */
	PK_TID,		/* /proc/[pid]/task/[tid] */
	PK_FDDIR,	/* fd/ */
	PK_FDINFODIR,	/* fdinfo/ */
	PK_FD,		/* fd/N: magic link */
	PK_FDINFO,	/* fdinfo/N */
	PK_EXE,		/* magic links of a process */
	PK_CWD,
	PK_ROOT,
	PK_ANON, /* a hidden inode standing for an anonymous file (fd/N) */
};

struct proc_ent;
struct proc_node;

/* Who reads what: the reader (the calling task) and the node read. */
struct proc_req {
	struct kernel *k;
	struct task *reader;
	const struct proc_node *n;
};

typedef int (*proc_show_fn)(const struct proc_req *r, struct sbuf *b);
/* A write of the whole text buf (n bytes, sentry memory); returns n or
 * -errno. */
typedef long (*proc_store_fn)(const struct proc_req *r, const char *buf,
			      size_t n);

struct proc_ent {
	const char *name;
	uint32_t mode; /* type and permission bits */
	enum proc_kind kind;
	proc_show_fn show;
	proc_store_fn store;
	const struct proc_ent *sub; /* PK_DIR, PK_PID, PK_TID */
	size_t nsub;
	const char *target; /* PK_SYMLINK */
	/* Reading needs ptrace-like access to the process (environ...). */
	bool ptrace_check;
};

/* An inode's identity. Pid-context nodes name their process by tgid and
 * start time (gen), so a reused pid is never mistaken for the old one. */
struct proc_node {
	enum proc_kind kind;
	const struct proc_ent *ent;
	int tgid, tid; /* tid 0: the process as a whole */
	uint64_t gen;
	int fd;
	struct file *anon; /* PK_ANON: the file it stands for (a reference) */
};

/* The tables of pid.c and sys.c. */
extern const struct proc_ent proc_tgid_ents[];
extern const size_t proc_tgid_nents;
/* A thread's directory: the process's entries but "task". */
extern const struct proc_ent *const proc_tid_ents;
extern const size_t proc_tid_nents;
extern const struct proc_ent proc_root_ents[];
extern const size_t proc_root_nents;

/* The kernel of the calling sentry thread's task (NULL off task threads). */
struct kernel *proc_kernel(void);

/* The process (and thread, if n->tid) a node names; k->lock held. NULL
 * if it is gone (or the pid now names another process). *tp gets the
 * thread: n->tid's, or for the process a live thread, the leader first. */
struct thread_group *
proc_find_locked(struct kernel *k, const struct proc_node *n, struct task **tp);

/* References to a process's state, taken under k->lock (NULL if none). */
struct mm *proc_get_mm(struct kernel *k, const struct proc_node *n);
struct fdtable *proc_get_fdt(struct kernel *k, const struct proc_node *n);
/* Parses a decimal id as Linux's name_to_int: no sign, no leading zero,
 * at most max. -1 if name is not one. */
int proc_parse_id(const char *name, long max);
struct fs_struct *proc_get_fs(struct kernel *k, const struct proc_node *n);

/* May reader inspect the process n names the way ptrace(2)'s
 * PTRACE_MODE_READ_FSCREDS allows? 0, -EACCES, or -ENOENT if it is gone. */
int proc_may_inspect(struct kernel *k, struct task *reader,
		     const struct proc_node *n);

/* The reader's root, referenced (paths are shown relative to it). */
int proc_reader_root(struct task *reader, struct vfs_path *out);

/* Reads workload memory of mm (another process's too); -EFAULT. */
int proc_mm_read(struct kernel *k, struct mm *mm, void *dst, uint64_t src,
		 size_t n);

/* The text fd/N shows for f: its path from root, or "pipe:[N]"... */
long proc_file_name(struct file *f, const struct vfs_path *root, char *buf,
		    size_t len);

/* The anonymous file f stands for, if f was opened through fd/N of one
 * (a pipe reopened): it is named and reopened as that file. */
struct file *proc_anon_inner(struct file *f);

/* fd.c: the fd/ and fdinfo/ directories and the process's magic links. */
int proc_fd_lookup(struct kernel *k, const struct proc_node *dir,
		   const char *name, int *fd);
bool proc_fd_alive(struct kernel *k, const struct proc_node *n);
/* Emits the open fds from position ctx->pos on (position 2 + fd). */
int proc_fd_iterate(struct kernel *k, const struct proc_node *dir,
		    struct vfs_dir_ctx *ctx,
		    uint64_t (*ino)(const struct proc_node *dir, int fd));
int proc_fdinfo_show(const struct proc_req *r, struct sbuf *b);
/* Where a magic link leads: a referenced path, or (fd/N of an anonymous
 * file) a referenced file in *anon with the path left empty. */
int proc_link_target(struct kernel *k, struct task *reader,
		     const struct proc_node *n, struct vfs_path *out,
		     struct file **anon);
long proc_link_text(struct kernel *k, struct task *reader,
		    const struct proc_node *n, char *buf, size_t len);
/* The mode bits of fd/N (Linux shows the file's access mode). */
uint32_t proc_fd_mode(struct kernel *k, const struct proc_node *n);
