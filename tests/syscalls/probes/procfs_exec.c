/*
 * procfs probe, the parts the program loader feeds: /proc/self/cmdline and
 * environ (the argv and envp strings on the initial stack), and the
 * executable's own line in /proc/self/maps. Run again through execve with
 * other arguments, so the new image's are checked too.
 */
#include "probe_proc.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	ssize_t r;
	while (fd >= 0 && n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	if (fd >= 0)
		close(fd);
	*len = n;
	return buf;
}

/* The strings of v, each with its NUL, back to back. */
static size_t joined(char **v, char *out, size_t cap)
{
	size_t n = 0;
	for (; *v; v++) {
		size_t l = strlen(*v) + 1;
		if (n + l > cap)
			break;
		memcpy(out + n, *v, l);
		n += l;
	}
	return n;
}

static void check_args(char **argv, char **envp, const char *who)
{
	static char want[1 << 16];
	char label[128];
	size_t got_len, want_len = joined(argv, want, sizeof(want));
	char *got = slurp("/proc/self/cmdline", &got_len);
	snprintf(label, sizeof(label), "%s: cmdline bytes == argv", who);
	CHECK_TRUE(label, got_len == want_len && !memcmp(got, want, got_len));
	free(got);
	want_len = joined(envp, want, sizeof(want));
	got = slurp("/proc/self/environ", &got_len);
	snprintf(label, sizeof(label), "%s: environ bytes == envp", who);
	CHECK_TRUE(label, got_len == want_len && !memcmp(got, want, got_len));
	free(got);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	got = slurp("/proc/self/maps", &got_len);
	got[got_len < (1 << 16) ? got_len : got_len - 1] = '\0';
	bool code = false;
	for (char *line = got; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char perms[8];
		const char *path = strchr(line, '/');
		if (sscanf(line, "%*x-%*x %7s", perms) == 1 && path &&
		    !strcmp(path, exe) && perms[2] == 'x')
			code = true;
		line = nl ? nl + 1 : NULL;
	}
	free(got);
	snprintf(label, sizeof(label),
		 "%s: maps has the executable's path on an x line", who);
	CHECK_TRUE(label, code);
}

int main(int argc, char **argv, char **envp)
{
	if (argc > 1 && !strcmp(argv[1], "again")) {
		check_args(argv, envp, "after execve");
		return probe_done();
	}
	check_args(argv, envp, "first image");
	char *nargv[] = {argv[0], "again", "an arg with spaces",
			 "",	  "last",  NULL};
	char *nenvp[] = {"A=1", "EMPTY=", "PATH=/nowhere", NULL};
	pid_t c = px_fork();
	if (c == 0) {
		execve("/proc/self/exe", nargv, nenvp);
		_exit(127);
	}
	px_expect_exit("the execve'd copy", c, "exited 0");
	return probe_done();
}
