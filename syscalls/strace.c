/* --strace: one line per trapped call, in strace's format:
 *   write(1, "hi\n", 3) = 3
 *   openat(AT_FDCWD, "/x", 0) = -1 ENOENT (No such file or directory) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../lib/log.h"
#include "../sentry/kernel/kernel.h"
#include "table.h"

#define STRACE_STRMAX 32

static void put(struct strace_line *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct strace_line *o, const char *fmt, ...)
{
	va_list ap;
	if (o->len >= sizeof(o->buf) - 1)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
	if (o->len > sizeof(o->buf) - 1)
		o->len = sizeof(o->buf) - 1;
}

static void put_quoted(struct strace_line *o, const unsigned char *s, size_t n,
		       bool more)
{
	put(o, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		switch (c) {
		case '\n': put(o, "\\n"); break;
		case '\t': put(o, "\\t"); break;
		case '\r': put(o, "\\r"); break;
		case '"': put(o, "\\\""); break;
		case '\\': put(o, "\\\\"); break;
		default:
			if (c >= 0x20 && c < 0x7f)
				put(o, "%c", c);
			else
				put(o, "\\%o", c);
		}
	}
	put(o, more ? "\"..." : "\"");
}

static void put_buffer(struct strace_line *o, struct task *t, uint64_t addr,
		       uint64_t len)
{
	unsigned char tmp[STRACE_STRMAX];
	size_t n = len < STRACE_STRMAX ? (size_t)len : STRACE_STRMAX;
	if (task_copy_in(t, tmp, addr, n) < 0) {
		put(o, "%#lx", (unsigned long)addr);
		return;
	}
	put_quoted(o, tmp, n, len > n);
}

static void put_string(struct strace_line *o, struct task *t, uint64_t addr)
{
	char tmp[STRACE_STRMAX + 1];
	int r = task_copy_in_string(t, tmp, addr, sizeof(tmp));
	if (r < 0 && r != -ENAMETOOLONG) {
		put(o, "%#lx", (unsigned long)addr);
		return;
	}
	put_quoted(o, (unsigned char *)tmp, strnlen(tmp, STRACE_STRMAX),
		   r == -ENAMETOOLONG);
}

/* name(args, with `B` buffers as ret says */
static void put_call(struct strace_line *o, struct task *t, unsigned long nr,
		     const struct syscall_args *a, long ret)
{
	const char *name = syscall_name(nr);
	const char *fmt = nr < ABI_NR_SYSCALLS && syscall_table[nr].args
				  ? syscall_table[nr].args
				  : "xxxxxx";

	if (name)
		put(o, "%s(", name);
	else
		put(o, "syscall_%lu(", nr);
	for (int i = 0; fmt[i] && i < 6; i++) {
		uint64_t v = a->a[i];
		if (i)
			put(o, ", ");
		switch (fmt[i]) {
		case 'd': put(o, "%d", (int)v); break;
		case 'u': put(o, "%lu", (unsigned long)v); break;
		case 'o': put(o, "%#lo", (unsigned long)v); break;
		case 'S': put(o, "SIG%s", sigabbrev_np((int)v) ? sigabbrev_np((int)v) : "?"); break;
		case 'p': put(o, v ? "%#lx" : "NULL", (unsigned long)v); break;
		case 's': put_string(o, t, v); break;
		case 'b': put_buffer(o, t, v, i < 5 ? a->a[i + 1] : 0); break;
		case 'B':
			if (ret >= 0)
				put_buffer(o, t, v, (uint64_t)ret);
			else
				put(o, "%#lx", (unsigned long)v);
			break;
		default: put(o, "%#lx", (unsigned long)v); break;
		}
	}
}

void strace_result(unsigned long nr, long ret, struct strace_line *o)
{
	if (ret < 0 && ret >= -4095)
		put(o, ") = -1 %s (%s)", strerrorname_np((int)-ret) ?: "E?",
		    strerror((int)-ret));
	else if (nr == ABI_NR_mmap || nr == ABI_NR_brk || nr == ABI_NR_mremap)
		put(o, ") = %#lx", (unsigned long)ret);
	else
		put(o, ") = %ld", ret);
	log_raw("%.*s", (int)o->len, o->buf);
}

bool strace_reads_first(unsigned long nr)
{
	return nr == ABI_NR_execve || nr == ABI_NR_execveat;
}

void strace_args(struct task *t, unsigned long nr,
		 const struct syscall_args *a, struct strace_line *o)
{
	o->len = 0;
	/* No `B` (output) buffer in these calls: ret is not needed. */
	put_call(o, t, nr, a, -1);
}

void strace_print(struct task *t, unsigned long nr,
		  const struct syscall_args *a, long ret)
{
	struct strace_line o = { .len = 0 };

	put_call(&o, t, nr, a, ret);
	strace_result(nr, ret, &o);
}
