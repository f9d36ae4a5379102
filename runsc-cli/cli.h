/* runsc: the command-line front end. One file per command. */
#pragma once

#include <stdbool.h>

struct cli_globals {
	const char *root;
	const char *log_path;
	bool log_json;
	bool debug;
	const char *platform;
	bool strace;
};

int cli_do(struct cli_globals *g, int argc, char **argv);
int cli_gofer(struct cli_globals *g, int argc, char **argv);
/* An option that takes one of two words: 0 for first, 1 for second; -1
 * (after saying so on stderr, as "WHO: --OPT must be FIRST or SECOND") for
 * anything else. */
int cli_one_of(const char *who, const char *opt, const char *val,
	       const char *first, const char *second);
/* Opens the log named by --log (or stderr) and sets the level. */
void cli_setup_log(const struct cli_globals *g, const char *role);
