/* runsc gofer --sock-fd N --root DIR [--ro HOST:DEST] [--rw HOST:DEST]
 *             [--read-only-root] [--hide PATH] [--fds] [--no-seccomp]
 * Becomes a gofer serving DIR on the inherited socket N (see
 * gofer/server/gofer.h). For tests and interop only, the hidden
 * --listen-unix PATH / --listen-tcp PORT serve connections one after
 * another on a new socket instead (port 0 picks one); the address is
 * printed on stdout once listening. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../gofer/server/gofer.h"
#include "../lib/log.h"
#include "cli.h"

#define MAX_BINDS 64
#define MAX_HIDE  16

static void gofer_usage(void)
{
	fprintf(
	    stderr,
	    "usage: runsc gofer --sock-fd N --root DIR [--ro HOST:DEST]... "
	    "[--rw HOST:DEST]...\n"
	    "                   [--read-only-root] [--hide PATH]... [--fds]\n");
}

static int parse_bind(char *arg, bool ro, struct gofer_bind *b)
{
	char *colon = strchr(arg, ':');
	if (!colon || colon == arg || colon[1] != '/') {
		fprintf(stderr, "runsc gofer: '%s': expected HOSTDIR:/DEST\n",
			arg);
		return -EINVAL;
	}
	*colon = 0;
	*b = (struct gofer_bind){.src = arg, .dst = colon + 1, .ro = ro};
	return 0;
}

static int parse_fd(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 65535)
		return -EINVAL;
	return (int)v;
}

/* Only the socket(s) and the log survive into the gofer. */
static void close_others(int a, int b, int c)
{
	int keep[3] = {a, b, c};
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (keep[j] < keep[i]) {
				int t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
	int from = 3;
	for (int i = 0; i < 3; i++) {
		if (keep[i] < from)
			continue;
		if (keep[i] > from)
			close_range((unsigned)from, (unsigned)keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	close_range((unsigned)from, ~0U, 0);
}

static int listen_on(const char *unix_path, const char *tcp_port)
{
	int fd;
	if (unix_path) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		if (strlen(unix_path) >= sizeof(a.sun_path))
			return -ENAMETOOLONG;
		strcpy(a.sun_path, unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(fd, 8) < 0)
			return -errno;
		printf("listening on %s\n", unix_path);
	} else {
		int port = parse_fd(tcp_port);
		if (port < 0)
			return -EINVAL;
		/* Loopback only: this is a test hook, never a service. */
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)port),
					.sin_addr.s_addr =
					    htonl(INADDR_LOOPBACK)};
		socklen_t al = sizeof(a);
		int one = 1;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
			       sizeof(one)) < 0 ||
		    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(fd, 8) < 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
			return -errno;
		printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
	}
	fflush(stdout);
	return fd;
}

int cli_gofer(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"sock-fd", required_argument, NULL, 's'},
	    {"root", required_argument, NULL, 'r'},
	    {"ro", required_argument, NULL, 'o'},
	    {"rw", required_argument, NULL, 'w'},
	    {"read-only-root", no_argument, NULL, 'R'},
	    {"hide", required_argument, NULL, 'H'},
	    {"fds", no_argument, NULL, 'f'},
	    {"no-seccomp", no_argument, NULL, 'n'},
	    {"listen-unix", required_argument, NULL, 'U'},
	    {"listen-tcp", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct gofer_bind binds[MAX_BINDS];
	const char *hide[MAX_HIDE];
	struct gofer_config cfg = {.sock_fd = -1, .binds = binds, .hide = hide};
	const char *unix_path = NULL, *tcp_port = NULL;
	int c;

	cli_setup_log(g, "gofer");
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if ((cfg.sock_fd = parse_fd(optarg)) < 0) {
				fprintf(stderr, "runsc gofer: bad --sock-fd\n");
				return 2;
			}
			break;
		case 'r':
			cfg.root = optarg;
			break;
		case 'o':
		case 'w':
			if (cfg.nbinds == MAX_BINDS) {
				fprintf(stderr,
					"runsc gofer: too many binds\n");
				return 2;
			}
			if (parse_bind(optarg, c == 'o', &binds[cfg.nbinds]) <
			    0)
				return 2;
			cfg.nbinds++;
			break;
		case 'R':
			cfg.root_ro = true;
			break;
		case 'H':
			if (cfg.nhide == MAX_HIDE) {
				fprintf(stderr,
					"runsc gofer: too many --hide\n");
				return 2;
			}
			hide[cfg.nhide++] = optarg;
			break;
		case 'f':
			cfg.allow_fds = true;
			break;
		case 'n':
			cfg.no_seccomp = true;
			break;
		case 'U':
			unix_path = optarg;
			break;
		case 'T':
			tcp_port = optarg;
			break;
		case 'h':
			gofer_usage();
			return 0;
		default:
			gofer_usage();
			return 2;
		}
	}
	int modes = (cfg.sock_fd >= 0) + !!unix_path + !!tcp_port;
	if (!cfg.root || modes != 1 || optind != argc) {
		gofer_usage();
		return 2;
	}
	if (cfg.sock_fd >= 0 && fcntl(cfg.sock_fd, F_GETFD) < 0) {
		fprintf(stderr, "runsc gofer: --sock-fd %d is not open\n",
			cfg.sock_fd);
		return 2;
	}
	int lfd = -1;
	if (unix_path || tcp_port) {
		lfd = listen_on(unix_path, tcp_port);
		if (lfd < 0) {
			fprintf(stderr, "runsc gofer: listen: %s\n",
				strerror(-lfd));
			return 1;
		}
		cfg.listen_fd = lfd;
	} else {
		cfg.listen_fd = -1;
	}
	close_others(cfg.sock_fd, lfd, log_fd());
	/* The gofer reports its own errors; this only relays its status. */
	int e = gofer_main(&cfg);
	/* _exit: under the seccomp filter no exit-time work may run (a
	 * sanitizer's leak check would be killed), and nothing is buffered. */
	_exit(e < 0 ? 1 : 0);
}
