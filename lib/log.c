#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_role = "runsc";
static int log_out = 2;
static enum log_level log_max = LOG_WARN;

void log_init(const char *role, int fd, enum log_level level)
{
	log_role = role;
	log_out = fd;
	log_max = level;
}

int log_fd(void)
{
	return log_out;
}

bool log_enabled(enum log_level level)
{
	return level <= log_max;
}

/* One write(2) per line so lines of concurrent sentry threads never interleave. */
static void log_vwrite(const char *prefix, const char *fmt, va_list ap)
{
	char buf[4096];
	int n = 0;
	int saved = errno;

	if (prefix)
		n = snprintf(buf, sizeof(buf), "%s", prefix);
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	if (n == 0 || buf[n - 1] != '\n')
		buf[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(log_out, buf + off, (size_t)(n - off));
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			break;
		}
		off += (int)w;
	}
	errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	char prefix[64];
	va_list ap;

	if (!log_enabled(level))
		return;
	snprintf(prefix, sizeof(prefix), "%s: %s: ", log_role, names[level]);
	va_start(ap, fmt);
	log_vwrite(prefix, fmt, ap);
	va_end(ap);
}

void log_raw(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(NULL, fmt, ap);
	va_end(ap);
}
