/* runsc do [--platform=NAME] [--strace] [--rw DIR]... [--ro DIR]...
 *          -- PROGRAM ARGS...
 * Runs a host program in a sandbox and exits with its status (128+N when a
 * signal killed it, 126/127 when it could not be started, 125 when the
 * sandbox itself failed).
 *
 * The sandbox sees the host's "/" through a gofer (its own process, the
 * only one that opens host files), read-only, under an in-memory overlay:
 * the program can change anything and the host tree stays as it was.
 * --rw DIR makes DIR writable through to the host, --ro DIR shows DIR
 * read-only (EROFS) instead of through the overlay. The sentry provides
 * /dev, /sys (and later /proc): the gofer hides the host's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../gofer/server/gofer.h"
#include "../lib/log.h"
#include "../platform/platform.h"
#include "../sentry/sentry.h"
#include "../sentry/vfs/vfs.h"
#include "cli.h"

#define MAX_BINDS 64

extern char **environ;

/* Finds PROGRAM on the host PATH when it has no slash, as a shell would. */
static char *resolve_program(const char *prog)
{
	if (strchr(prog, '/'))
		return strdup(prog);
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	char *copy = strdup(path), *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		char *cand;
		if (asprintf(&cand, "%s/%s", *dir ? dir : ".", prog) < 0)
			break;
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(cand, X_OK) == 0) {
			free(copy);
			return cand;
		}
		free(cand);
	}
	free(copy);
	return strdup(prog);
}

/* runsc is a child subreaper: stubs orphaned by a dying sentry are
 * reparented here. Kill and reap every remaining descendant so that none
 * outlives runsc, whatever happened to the sentry. */
static void reap_all_children(void)
{
	for (;;) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *e;
		int killed = 0;
		while (d && (e = readdir(d))) {
			char p[300];
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "/proc/self/task/%s/children",
				 e->d_name);
			FILE *f = fopen(p, "re");
			int pid;
			while (f && fscanf(f, "%d", &pid) == 1) {
				kill(pid, SIGKILL);
				killed++;
			}
			if (f)
				fclose(f);
		}
		if (d)
			closedir(d);
		int st;
		pid_t r;
		while ((r = waitpid(-1, &st, __WALL)) > 0)
			;
		if (r < 0 && errno == ECHILD)
			return;
		if (!killed)
			return;
	}
}

/* Starts the gofer serving the host's "/" on a new socket; returns the
 * sentry's end, or -errno; *gofer gets its pid. */
static int start_gofer(const struct vfs_bind *binds, size_t n, bool host_fds,
		       pid_t *gofer)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t runsc = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != runsc)
			_exit(1);
		/* Named so that ps (and the kill tests) tell it apart. */
		prctl(PR_SET_NAME, "runsc-gofer");
		close(sv[0]);
		struct gofer_bind gb[MAX_BINDS];
		size_t nb = 0;
		for (size_t i = 0; i < n; i++) {
			/* Only writable binds need the gofer's help: the root
			 * it serves is read-only everywhere else. */
			if (!binds[i].rw)
				continue;
			gb[nb++] = (struct gofer_bind){ binds[i].path,
							binds[i].path, false };
		}
		static const char *const hide[] = { "/proc", "/sys", "/dev" };
		struct gofer_config gc = {
			.sock_fd = sv[1],
			.listen_fd = -1,
			.root = "/",
			.root_ro = true,
			.binds = gb,
			.nbinds = nb,
			.hide = hide,
			.nhide = 3,
			.allow_fds = host_fds,
		};
		/* Only the socket and the log go with it. */
		int keep = log_fd();
		for (int fd = 3; fd < 1024; fd++)
			if (fd != sv[1] && fd != keep)
				close(fd);
		_exit(gofer_main(&gc) < 0 ? 1 : 0);
	}
	close(sv[1]);
	*gofer = pid;
	return sv[0];
}

int cli_do(struct cli_globals *g, int argc, char **argv)
{
	struct sentry_config cfg = {
		.platform = g->platform ? g->platform : plat_default_name(),
		.strace = g->strace,
		.cpu_pairing = true,
		.syscall_patch = true,
	};
	static const struct option opts[] = {
		{ "platform", required_argument, NULL, 'p' },
		{ "strace", no_argument, NULL, 's' },
		{ "cpu-pairing", required_argument, NULL, 'c' },
		{ "syscall-patch", required_argument, NULL, 'P' },
		{ "TESTONLY-crash-on-syscall", required_argument, NULL, 'X' },
		/* Test hook: the gofer passes no host fds, so files are read
		 * and programs loaded by copying (the fallbacks). */
		{ "TESTONLY-no-host-fds", no_argument, NULL, 'N' },
		{ "rw", required_argument, NULL, 'w' },
		{ "ro", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
		"usage: runsc do [--platform=NAME] [--strace] "
		"[--syscall-patch=on|off] [--cpu-pairing=on|off] [--rw DIR]... "
		"[--ro DIR]... -- PROGRAM [ARGS...]\n";
	struct vfs_bind binds[MAX_BINDS];
	size_t nbinds = 0;
	bool host_fds = true;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'p': cfg.platform = optarg; break;
		case 's': cfg.strace = true; break;
		case 'c':
		case 'P': {
			int on = cli_one_of("runsc do",
					    c == 'c' ? "cpu-pairing" : "syscall-patch",
					    optarg, "off", "on");
			if (on < 0)
				return 2;
			if (c == 'c')
				cfg.cpu_pairing = on;
			else
				cfg.syscall_patch = on;
			break;
		}
		case 'X': cfg.crash_on_syscall = optarg; break;
		case 'N': host_fds = false; break;
		case 'w':
		case 'r': {
			char *real = realpath(optarg, NULL);
			struct stat st;
			if (!real || stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
				fprintf(stderr, "runsc do: --%s %s: not a directory\n",
					c == 'w' ? "rw" : "ro", optarg);
				free(real);
				return 2;
			}
			if (nbinds == MAX_BINDS || strcmp(real, "/") == 0) {
				fprintf(stderr, "runsc do: --%s %s: %s\n",
					c == 'w' ? "rw" : "ro", optarg,
					nbinds == MAX_BINDS ? "too many binds"
							    : "not the root");
				free(real);
				return 2;
			}
			binds[nbinds++] = (struct vfs_bind){ real, c == 'w' };
			break;
		}
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (!plat_lookup(cfg.platform)) {
		fprintf(stderr, "runsc do: unknown platform '%s'\n", cfg.platform);
		return 2;
	}
	if (cfg.strace)
		g->strace = true;
	cfg.argv = argv + optind;
	cfg.envp = environ;
	cfg.exec_path = resolve_program(argv[optind]);
	cfg.uid = getuid();
	cfg.gid = getgid();
	cfg.stdio[0] = 0;
	cfg.stdio[1] = 1;
	cfg.stdio[2] = 2;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	char cwd[PATH_MAX];
	mode_t um = umask(022);
	umask(um);
	struct vfs_boot_config vc = {
		.gofer_sock = -1,
		.binds = binds,
		.nbinds = nbinds,
		.cwd = getcwd(cwd, sizeof(cwd)) ? cwd : "/",
		.console_fd = -1,
		.umask = um,
	};
	pid_t gofer = -1;
	vc.gofer_sock = start_gofer(binds, nbinds, host_fds, &gofer);
	if (vc.gofer_sock < 0) {
		log_error("cannot start the gofer: %s", strerror(-vc.gofer_sock));
		return 125;
	}
	cfg.vfs = &vc;
	pid_t runsc = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return 125;
	}
	if (pid == 0) {
		/* The sentry dies with runsc. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != runsc)
			_exit(125);
		prctl(PR_SET_NAME, "runsc-sentry");
		cli_setup_log(g, "sentry");
		/* The sentry's copies of the streams, for the workload; the
		 * first that is a terminal is also /dev/tty. */
		for (int i = 0; i < 3; i++) {
			cfg.stdio[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
			if (vc.console_fd < 0 && isatty(i))
				vc.console_fd = fcntl(i, F_DUPFD_CLOEXEC, 3);
		}
		_exit(sentry_main(&cfg));
	}
	close(vc.gofer_sock); /* the sentry's now */
	/* Terminal signals reach the sentry too (same process group); runsc
	 * only waits for it. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	/* runsc waits for the sentry, and for the gofer: a gofer that dies
	 * while the sandbox runs takes its file tree with it, so the sandbox
	 * ends too rather than run on with every file call failing. */
	int st, gst = 0;
	bool gofer_gone = false;
	for (;;) {
		pid_t r = waitpid(-1, &st, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_error("waitpid: %s", strerror(errno));
			return 125;
		}
		if (r == pid)
			break;
		if (r == gofer && !gofer_gone) {
			gofer_gone = true;
			gst = st;
			if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
				log_error("the gofer died (%s %d) while the "
					  "sandbox ran; ending the sandbox",
					  WIFEXITED(st) ? "exit status"
							: "signal",
					  WIFEXITED(st) ? WEXITSTATUS(st)
							: WTERMSIG(st));
				kill(pid, SIGKILL);
			}
		}
		/* Anything else is an orphaned stub reparented to us (a
		 * subreaper): reaped here, and killed below. */
	}
	if (!gofer_gone && waitpid(gofer, &gst, WNOHANG) == gofer)
		gofer_gone = true;
	/* A gofer that failed at set-up takes the sandbox's file tree with
	 * it: say so rather than let the program seem unstartable. */
	if (gofer_gone && !(WIFEXITED(gst) && WEXITSTATUS(gst) == 0) &&
	    (WIFSIGNALED(st) || WEXITSTATUS(st) >= 125)) {
		if (WIFEXITED(gst))
			log_error("the gofer failed (exit status %d): it needs "
				  "root (CAP_SYS_ADMIN) for its mount "
				  "namespace; see the log above",
				  WEXITSTATUS(gst));
		else
			log_error("the gofer was killed by signal %d (%s)",
				  WTERMSIG(gst), strsignal(WTERMSIG(gst)));
		reap_all_children();
		return 125;
	}
	reap_all_children();
	free((char *)cfg.exec_path);
	for (size_t i = 0; i < nbinds; i++)
		free((char *)binds[i].path);
	if (WIFSIGNALED(st)) {
		log_error("the sentry died of signal %d (%s); the sandbox is gone",
			  WTERMSIG(st), strsignal(WTERMSIG(st)));
		return 128 + WTERMSIG(st);
	}
	return WEXITSTATUS(st);
}
