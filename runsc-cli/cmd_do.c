/* runsc do [--platform=NAME] [--strace] -- PROGRAM ARGS...
 * Runs a host program in a sandbox and exits with its status (128+N when a
 * signal killed it, 126/127 when it could not be started, 125 when the
 * sandbox itself failed). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../platform/platform.h"
#include "../sentry/sentry.h"
#include "cli.h"

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

int cli_do(struct cli_globals *g, int argc, char **argv)
{
	struct sentry_config cfg = {
		.platform = g->platform ? g->platform : plat_default_name(),
		.strace = g->strace,
		.cpu_pairing = true,
	};
	static const struct option opts[] = {
		{ "platform", required_argument, NULL, 'p' },
		{ "strace", no_argument, NULL, 's' },
		{ "cpu-pairing", required_argument, NULL, 'c' },
		{ "TESTONLY-crash-on-syscall", required_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'p': cfg.platform = optarg; break;
		case 's': cfg.strace = true; break;
		case 'c':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				fprintf(stderr, "runsc do: --cpu-pairing must be on or off\n");
				return 2;
			}
			cfg.cpu_pairing = strcmp(optarg, "on") == 0;
			break;
		case 'X': cfg.crash_on_syscall = optarg; break;
		default:
			fprintf(stderr, "usage: runsc do [--platform=NAME] [--strace] -- PROGRAM [ARGS...]\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: runsc do [--platform=NAME] [--strace] -- PROGRAM [ARGS...]\n");
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
		cli_setup_log(g, "sentry");
		/* The sentry's copies of the streams, for the workload. */
		for (int i = 0; i < 3; i++)
			cfg.stdio[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
		_exit(sentry_main(&cfg));
	}
	/* Terminal signals reach the sentry too (same process group); runsc
	 * only waits for it. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			log_error("waitpid: %s", strerror(errno));
			return 125;
		}
	}
	reap_all_children();
	free((char *)cfg.exec_path);
	if (WIFSIGNALED(st)) {
		log_error("the sentry died of signal %d (%s); the sandbox is gone",
			  WTERMSIG(st), strsignal(WTERMSIG(st)));
		return 128 + WTERMSIG(st);
	}
	return WEXITSTATUS(st);
}
