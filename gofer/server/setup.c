/* The gofer process set-up: a private mount namespace that holds only the
 * tree it serves, pivot_root into it, no new privileges, seccomp.
 *
 * The trees are cloned with open_tree(OPEN_TREE_CLONE) before anything is
 * mounted, so a root that contains the staging point (the host's "/")
 * is served as it was. Mount points of binds are resolved inside the new
 * root with openat2(RESOLVE_IN_ROOT): a symlink in an image cannot send a
 * bind mount outside it. */
#define _GNU_SOURCE
#include "gofer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"

#define MAX_BINDS 64

static int openat2_in(int root, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* Creates the missing components of path under root (directories, and a
 * file at the end when the source is not a directory). Each step stays
 * inside root. */
static int make_mountpoint(int root, const char *path, bool dir)
{
	char buf[4096];
	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1;; p++) {
		bool last = *p == 0;
		if (*p != '/' && !last)
			continue;
		*p = 0;
		int fd = openat2_in(root, buf, O_PATH);
		if (fd == -ENOENT) {
			char *slash = strrchr(buf, '/');
			cleanup_close int parent = -1;
			if (slash == buf)
				parent = fcntl(root, F_DUPFD_CLOEXEC, 0);
			else {
				*slash = 0;
				parent = openat2_in(root, buf, O_PATH);
				*slash = '/';
			}
			if (parent < 0)
				return parent;
			int r =
			    (!last || dir)
				? mkdirat(parent, slash + 1, 0755)
				: mknodat(parent, slash + 1, S_IFREG | 0644, 0);
			if (r < 0 && errno != EEXIST)
				return -errno;
		} else if (fd < 0) {
			return fd;
		} else {
			close(fd);
		}
		if (last)
			return 0;
		*p = '/';
	}
}

static int set_attrs(int fd, uint64_t set)
{
	struct mount_attr a = {.attr_set = set};
	if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) <
	    0)
		return -errno;
	return 0;
}

static int attach_bind(int newroot, const struct gofer_bind *b, int tree,
		       bool may_create)
{
	struct stat st;
	if (fstat(tree, &st) < 0)
		return -errno;
	int dfd = openat2_in(newroot, b->dst, O_PATH);
	if (dfd == -ENOENT && may_create) {
		int e = make_mountpoint(newroot, b->dst, S_ISDIR(st.st_mode));
		if (e < 0)
			return e;
		dfd = openat2_in(newroot, b->dst, O_PATH);
	}
	if (dfd < 0)
		return dfd;
	int r = move_mount(tree, "", dfd, "",
			   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	r = r < 0 ? -errno : 0;
	close(dfd);
	return r;
}

static const char *staging_dir(void)
{
	static const char *const cands[] = {"/tmp", "/mnt", "/run", "/var"};
	struct stat st;
	for (size_t i = 0; i < ARRAY_SIZE(cands); i++)
		if (lstat(cands[i], &st) == 0 && S_ISDIR(st.st_mode))
			return cands[i];
	return NULL;
}

static int build_root(const struct gofer_config *cfg, int *proc_fd)
{
	int trees[MAX_BINDS];
	size_t nt = 0;
	int e = 0;
	cleanup_close int rt = -1;
	cleanup_close int newroot = -1;

	if (cfg->nbinds > MAX_BINDS)
		return -E2BIG;
	/* Nothing done here may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	/* The host's own /proc, /sys, /dev are not served; the paths of a
	 * host root are trusted, so plain strings are fine here. */
	for (size_t i = 0; i < cfg->nhide; i++) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s",
			 strcmp(cfg->root, "/") ? cfg->root : "",
			 cfg->hide[i][0] == '/' ? cfg->hide[i] + 1
						: cfg->hide[i]);
		if (umount2(p, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 &&
		    errno != EINVAL && errno != ENOENT)
			return -errno;
	}
	rt = open_tree(AT_FDCWD, cfg->root,
		       OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC);
	if (rt < 0)
		return -errno;
	/* Files are reopened through /proc/self/fd, and the served tree has
	 * no /proc: keep an fd of a procfs of our own pid namespace (only
	 * this process in it), mounted after the clone so it is not served.
	 * The host's /proc would let a compromised gofer reach every host
	 * process's root through /proc/PID/root. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return -errno;
	*proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*proc_fd < 0)
		return -errno;
	for (; nt < cfg->nbinds; nt++) {
		const struct gofer_bind *b = &cfg->binds[nt];
		if (!b->dst || b->dst[0] != '/') {
			e = -EINVAL;
			goto out;
		}
		trees[nt] = open_tree(AT_FDCWD, b->src,
				      OPEN_TREE_CLONE | AT_RECURSIVE |
					  OPEN_TREE_CLOEXEC);
		if (trees[nt] < 0) {
			e = -errno;
			goto out;
		}
		if (b->ro &&
		    (e = set_attrs(trees[nt], MOUNT_ATTR_RDONLY |
						  MOUNT_ATTR_NOSUID |
						  MOUNT_ATTR_NODEV)) < 0) {
			nt++;
			goto out;
		}
	}
	const char *stage = staging_dir();
	if (!stage) {
		e = -ENOENT;
		goto out;
	}
	if (move_mount(rt, "", AT_FDCWD, stage, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		e = -errno;
		goto out;
	}
	newroot = open(stage, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (newroot < 0) {
		e = -errno;
		goto out;
	}
	/* A read-only root is never written, not even for mount points; a
	 * writable one gets them created, then nosuid/nodev over all. */
	if (cfg->root_ro &&
	    (e = set_attrs(newroot, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
					MOUNT_ATTR_NODEV)) < 0)
		goto out;
	for (size_t i = 0; i < nt; i++)
		if ((e = attach_bind(newroot, &cfg->binds[i], trees[i],
				     !cfg->root_ro)) < 0) {
			log_error("gofer: bind %s -> %s: %s", cfg->binds[i].src,
				  cfg->binds[i].dst, strerror(-e));
			goto out;
		}
	if (!cfg->root_ro &&
	    (e = set_attrs(newroot, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)) < 0)
		goto out;
	if (fchdir(newroot) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		e = -errno;
out:
	for (size_t i = 0; i < nt; i++)
		close(trees[i]);
	return e;
}

static int gofer_child(const struct gofer_config *cfg)
{
	cleanup_close int proc_fd = -1;
	cleanup_close int root_fd = -1;
	int e;

	if ((e = build_root(cfg, &proc_fd)) < 0)
		return e;
	root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	umask(0);
	if (!cfg->no_seccomp &&
	    (e = gofer_seccomp_install(cfg->listen_fd >= 0)) < 0)
		return e;
	struct gofer_serve_opts o = {
	    .allow_fds = cfg->allow_fds,
	    .proc_fd = proc_fd,
	};
	if (cfg->listen_fd < 0) {
		int r = gofer_serve(cfg->sock_fd, root_fd, &o);
		/* A sentry that exits with requests in flight resets the
		 * connection: the normal end of a sandbox, not an error. */
		return r == -ECONNRESET || r == -EPIPE ? 0 : r;
	}
	for (;;) {
		int s = accept4(cfg->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return -errno;
		}
		e = gofer_serve(s, root_fd, &o);
		if (e < 0)
			log_warn("gofer: connection ended: %s", strerror(-e));
		close(s);
	}
}

/* The gofer runs as pid 1 of a pid namespace of its own (so the procfs it
 * keeps shows no other process); the process runsc started only waits for
 * it and ends the same way. */
int gofer_main(const struct gofer_config *cfg)
{
	if (unshare(CLONE_NEWNS | CLONE_NEWPID) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Killed with its parent: it must not outlive runsc's view. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int e = gofer_child(cfg);
		if (e < 0)
			log_error("gofer: %s", strerror(-e));
		/* _exit: no exit-time work may run under the seccomp filter. */
		_exit(e < 0 ? (-e < 256 ? -e : EIO) : 0);
	}
	if (cfg->sock_fd >= 0)
		close(cfg->sock_fd);
	if (cfg->listen_fd >= 0)
		close(cfg->listen_fd);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(st)) {
		/* End as the gofer did, so a seccomp kill shows as SIGSYS. */
		signal(WTERMSIG(st), SIG_DFL);
		raise(WTERMSIG(st));
		return -EINTR;
	}
	return -WEXITSTATUS(st);
}
