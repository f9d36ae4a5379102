/* Once its file tree is set up, the sentry names no host path again: every
 * file the workload reaches comes from the gofer (or the sentry's own
 * memory). A seccomp filter on the whole sentry process makes that a
 * property of the process rather than of careful code: the system calls
 * that take a path trap, and the SIGSYS handler refuses them with EPERM
 * and counts them, so a regression shows up in the log (and in the test
 * that looks there: tests/integration/no_host_paths.sh) instead of quietly
 * reading the host.
 *
 * Why not `strace -f` on the sentry: the sentry is itself a ptracer of its
 * stubs (both platforms), so it cannot run under another tracer.
 *
 * The filter is inherited by processes the sentry forks later (zygotes,
 * stubs); they name no paths either (a workload's path calls reach the
 * sentry, never the host: the stub's own filter traps them first). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <ucontext.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../platform/platform.h"
#include "sentry.h"

static atomic_long refused;

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	(void)sig;
	atomic_fetch_add(&refused, 1);
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
	/* Async-signal-safe: formatted by hand into a stack buffer. */
	char msg[128] = "sentry: error: refused a host path system call, nr ";
	size_t n = strlen(msg);
	unsigned nr = (unsigned)si->si_syscall;
	char digits[12];
	int d = 0;
	do {
		digits[d++] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr && d < (int)sizeof(digits));
	while (d > 0 && n < sizeof(msg) - 2)
		msg[n++] = digits[--d];
	/* Where from: a return address in the sentry, for addr2line. */
	static const char hex[] = "0123456789abcdef";
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	const char at[] = " at 0x";
	for (size_t i = 0; at[i] && n < sizeof(msg) - 1; i++)
		msg[n++] = at[i];
	for (int sh = 60; sh >= 0 && n < sizeof(msg) - 1; sh -= 4)
		msg[n++] = hex[(rip >> sh) & 15];
	msg[n++] = '\n';
	int fd = log_fd();
	if (write(fd >= 0 ? fd : 2, msg, n) < 0) {
		/* nothing more to do */
	}
}

long sentry_refused_paths(void)
{
	return atomic_load(&refused);
}

/* The host's /proc, opened before the filter: the one place the sentry
 * still looks up names after boot, always its own stubs' files
 * ("PID/statm", procfs's memory figures; "PID/mem", where systrap rewrites
 * hot system call sites), never a name the workload chose. openat relative to this fd is the only path call allowed; seccomp
 * cannot check the string, so a sentry compromised some other way could
 * still follow /proc's magic links from there (a gap, in security.md). */
static int host_proc_fd = -1;

int sentry_host_proc_fd(void)
{
	return host_proc_fd;
}

/* Every x86-64 call that names a path (or a file by handle). */
static const int path_calls[] = {
    SCMP_SYS(open),
    SCMP_SYS(openat2),
    SCMP_SYS(creat),
    SCMP_SYS(stat),
    SCMP_SYS(lstat),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(execve),
    SCMP_SYS(execveat),
    SCMP_SYS(mkdir),
    SCMP_SYS(mkdirat),
    SCMP_SYS(rmdir),
    SCMP_SYS(unlink),
    SCMP_SYS(unlinkat),
    SCMP_SYS(rename),
    SCMP_SYS(renameat),
    SCMP_SYS(renameat2),
    SCMP_SYS(link),
    SCMP_SYS(linkat),
    SCMP_SYS(symlink),
    SCMP_SYS(symlinkat),
    SCMP_SYS(readlink),
    SCMP_SYS(readlinkat),
    SCMP_SYS(chmod),
    SCMP_SYS(fchmodat),
    SCMP_SYS(chown),
    SCMP_SYS(lchown),
    SCMP_SYS(fchownat),
    SCMP_SYS(truncate),
    SCMP_SYS(chdir),
    SCMP_SYS(chroot),
    SCMP_SYS(mknod),
    SCMP_SYS(mknodat),
    SCMP_SYS(utime),
    SCMP_SYS(utimes),
    SCMP_SYS(futimesat),
    SCMP_SYS(statfs),
    SCMP_SYS(getxattr),
    SCMP_SYS(lgetxattr),
    SCMP_SYS(setxattr),
    SCMP_SYS(lsetxattr),
    SCMP_SYS(listxattr),
    SCMP_SYS(llistxattr),
    SCMP_SYS(removexattr),
    SCMP_SYS(lremovexattr),
    SCMP_SYS(inotify_add_watch),
    SCMP_SYS(mount),
    SCMP_SYS(umount2),
    SCMP_SYS(pivot_root),
    SCMP_SYS(swapon),
    SCMP_SYS(swapoff),
    SCMP_SYS(acct),
    SCMP_SYS(uselib),
    SCMP_SYS(quotactl),
    SCMP_SYS(name_to_handle_at),
    SCMP_SYS(open_by_handle_at),
    SCMP_SYS(fanotify_mark),
    SCMP_SYS(open_tree),
    SCMP_SYS(move_mount),
    SCMP_SYS(fsopen),
    SCMP_SYS(fspick),
    SCMP_SYS(mount_setattr),
};

int sentry_confine_paths(void)
{
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SENTRY_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(SENTRY_ASAN)
	/* AddressSanitizer's reports read /proc/self/maps and the binary to
	 * name functions: a sanitizer build is for debugging the sentry, and
	 * keeps its reports rather than the filter. */
	log_warn("the sentry's path filter is off in this sanitizer build");
	return 0;
#endif
	/* glibc's malloc counts the CPUs (reading /sys and /proc) when a
	 * thread first needs a new arena, unless the limit is set: set it
	 * now, to glibc's own default of 8 arenas per CPU. */
	int ncpu = get_nprocs();
	mallopt(M_ARENA_MAX, 8 * (ncpu > 0 ? ncpu : 1));

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;

	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	if (host_proc_fd < 0)
		host_proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	plat_set_host_proc_fd(host_proc_fd);
	int err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	/* A binary search over the syscall numbers rather than a chain of
	 * ~70 compares: every host call of the sentry and of its stubs (which
	 * inherit the filter) runs it. */
	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (size_t i = 0;
	     !err && i < sizeof(path_calls) / sizeof(path_calls[0]); i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_TRAP, path_calls[i], 0);
	/* Calls libseccomp 2.5 has no names for: fchmodat2, the *xattrat
	 * family, open_tree_attr and file_getattr/setattr (Linux 6.6+).
	 * io_uring could open files without a system call per open: it traps
	 * too. */
	static const int raw[] = {
	    452 /* fchmodat2 */,    463, 464, 465, 466, 467,
	    468 /* file_getattr */, 469 /* file_setattr */};
	for (size_t i = 0; !err && i < sizeof(raw) / sizeof(raw[0]); i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_TRAP, raw[i], 0);
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_TRAP,
				       SCMP_SYS(io_uring_setup), 0);
	/* A new Unix socket could bind or connect to a path: the sentry makes
	 * all of its sockets before the filter goes in. */
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	/* openat: only from the host's /proc (see host_proc_fd). */
	if (!err)
		err = seccomp_rule_add(
		    ctx, SCMP_ACT_TRAP, SCMP_SYS(openat), 1,
		    SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)(uint32_t)host_proc_fd));
	/* fstat is newfstatat(fd, "", st, AT_EMPTY_PATH) in glibc, statx
	 * likewise; utimensat(fd, NULL, ...) is futimens. The path forms
	 * trap. A gap: with AT_EMPTY_PATH and a non-empty path the kernel
	 * still walks the path, and seccomp cannot look at the string; the
	 * sentry's own code never makes such a call. */
	if (!err)
		err = seccomp_rule_add(
		    ctx, SCMP_ACT_TRAP, SCMP_SYS(newfstatat), 1,
		    SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0));
	if (!err)
		err = seccomp_rule_add(
		    ctx, SCMP_ACT_TRAP, SCMP_SYS(statx), 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0));
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(utimensat),
				       1, SCMP_A1(SCMP_CMP_NE, 0));
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}

/* Resident and shared pages of the stub process: only the host knows
 * which pages it made resident. The stub's own pages count too (a few). */
void sentry_stub_rss(pid_t pid, uint64_t *resident, uint64_t *shared)
{
	*resident = *shared = 0;
	if (pid <= 0)
		return;
	char path[64], buf[256];
	/* Relative to the host /proc the sentry opened at boot: the only
	 * lookup its path filter allows (sentry/confine.c). */
	snprintf(path, sizeof(path), "%d/statm", (int)pid);
	int fd = openat(sentry_host_proc_fd(), path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unsigned long long size, res, sh;
	if (n > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "%llu %llu %llu", &size, &res, &sh) == 3) {
			*resident = res;
			*shared = sh;
		}
	}
}
