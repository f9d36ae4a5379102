#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../platform/platform.h"
#include "cli.h"

struct command {
	const char *name;
	int (*run)(struct cli_globals *g, int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "do", cli_do, "run a host program in a sandbox over the host root" },
	{ "gofer", cli_gofer, "serve a directory tree over 9P2000.L (internal)" },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: runsc [global options] COMMAND [options] [args]\n\n"
		"global options:\n"
		"  --root DIR          state directory\n"
		"  --log FILE          write the log to FILE (default: stderr)\n"
		"  --log-format text|json\n"
		"  --debug             verbose log\n"
		"  --platform NAME     ptrace (default %s)\n"
		"  --strace            log every system call of the workload\n\n"
		"commands:\n",
		plat_default_name());
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int cli_one_of(const char *who, const char *opt, const char *val,
	       const char *first, const char *second)
{
	if (strcmp(val, first) == 0)
		return 0;
	if (strcmp(val, second) == 0)
		return 1;
	fprintf(stderr, "%s: --%s must be %s or %s\n", who, opt, first, second);
	return -1;
}

void cli_setup_log(const struct cli_globals *g, const char *role)
{
	int fd = 2;
	enum log_level level = g->debug ? LOG_DEBUG : LOG_WARN;

	if (g->log_path) {
		fd = open(g->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			  0644);
		if (fd < 0) {
			fprintf(stderr, "runsc: cannot open log %s: %m\n",
				g->log_path);
			fd = 2;
		} else if (!g->debug) {
			level = LOG_INFO; /* a log file gets the details */
		}
	}
	log_init(role, fd, level);
}

int main(int argc, char **argv)
{
	struct cli_globals g = { .platform = NULL };
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "platform", required_argument, NULL, 'p' },
		{ "strace", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* '+': stop at the command name; its options are its own. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': g.root = optarg; break;
		case 'l': g.log_path = optarg; break;
		case 'f': {
			int json = cli_one_of("runsc", "log-format", optarg,
					      "text", "json");
			if (json < 0)
				return 2;
			g.log_json = json;
			break;
		}
		case 'd': g.debug = true; break;
		case 'p': g.platform = optarg; break;
		case 's': g.strace = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			cli_setup_log(&g, "runsc");
			optind++;
			return commands[i].run(&g, argc - optind + 1,
					       argv + optind - 1);
		}
	}
	fprintf(stderr, "runsc: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return 2;
}
