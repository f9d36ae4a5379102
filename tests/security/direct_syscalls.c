/*
 * direct_syscalls: the workload's own `syscall` instruction, aimed at the
 * host (escape attempt 1 of issue 3).
 *
 * Each call below would change something on the host if the host kernel
 * ran it for the stub: create, remove, rename or change files in HOSTDIR (a
 * host directory security.sh prepared), signal, trace or write the memory
 * of VPID (a host process security.sh started), run a host shell. The
 * sandbox must answer each itself (ENOSYS today; a future VFS may answer
 * file calls from its own overlay) and the host must not change:
 * security.sh checks HOSTDIR and the victim while this program waits, then
 * again after it exited.
 *
 * Every call is made three ways: plainly, with garbage in the upper 32
 * bits of rax (Linux ignores them and runs the low number), and with the
 * number sign-extended (0xffffffff00000000 | nr).
 *
 * Calls that would be destructive if they ever reached the host as root
 * (kill(-1), reboot, setuid on the host) are represented by their harmless
 * relatives: a kill aimed at the victim proves the same path.
 *
 * usage: direct_syscalls HOSTDIR VPID VADDR
 * Prints `ok NAME` / `FAIL NAME: ...` per check, then `attempts done`, then
 * reads stdin to end of file (security.sh inspects the host meanwhile) and
 * exits 0 only if every in-sandbox check held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attempt.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

static const char *dir;
static uint64_t vpid, vaddr;

static const char *host(const char *name)
{
	static char bufs[4][4096];
	static int next;
	char *b = bufs[next++ % 4];
	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

static const uint64_t variants[] = {0, 0xdead000000000000ULL,
				    0xffffffff00000000ULL};
static const char *const variant_names[] = {"", "-upperbits", "-signext"};

/* File calls: any answer is the sandbox's to give; the host decides. */
#define TRY_FILE(name, nr, ...)                                                \
	do {                                                                   \
		for (int v_ = 0; v_ < 3; v_++) {                               \
			long r_ = RAW(variants[v_] | (nr), __VA_ARGS__);       \
			printf("ok %s%s answered %s\n", name,                  \
			       variant_names[v_], ename(r_));                  \
		}                                                              \
	} while (0)

/* Calls on a host process: the sandbox has no such process, so it must
 * answer with an error whatever it implements. */
#define TRY_PROC(name, nr, ...)                                                \
	do {                                                                   \
		for (int v_ = 0; v_ < 3; v_++) {                               \
			char n_[96];                                           \
			snprintf(n_, sizeof(n_), "%s%s", name,                 \
				 variant_names[v_]);                           \
			expect_any_err(n_,                                     \
				       RAW(variants[v_] | (nr), __VA_ARGS__)); \
		}                                                              \
	} while (0)

static uint64_t num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "direct_syscalls: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const char payload[8] = "OWNED!!!";
	char buf[8];
	char cmd[4200];

	if (argc != 4) {
		fprintf(stderr, "usage: direct_syscalls HOSTDIR VPID VADDR\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	dir = argv[1];
	vpid = num(argv[2]);
	vaddr = num(argv[3]);

	/* Files: nothing may appear, vanish or change in HOSTDIR. */
	TRY_FILE("mkdir", SYS_mkdir, host("made-dir"), 0755);
	TRY_FILE("mkdirat", SYS_mkdirat, AT_FDCWD, host("made-dirat"), 0755);
	TRY_FILE("open-creat", SYS_open, host("made-file"),
		 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	TRY_FILE("openat-creat", SYS_openat, AT_FDCWD, host("made-fileat"),
		 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	TRY_FILE("creat", SYS_creat, host("made-creat"), 0644);
	TRY_FILE("open-trunc", SYS_open, host("existing"), O_WRONLY | O_TRUNC,
		 0);
	TRY_FILE("truncate", SYS_truncate, host("existing"), 0);
	TRY_FILE("chmod", SYS_chmod, host("existing"), 04777);
	TRY_FILE("fchmodat", SYS_fchmodat, AT_FDCWD, host("existing"), 04777);
	TRY_FILE("chown", SYS_chown, host("existing"), 12345, 12345);
	TRY_FILE("unlink", SYS_unlink, host("existing"));
	TRY_FILE("unlinkat", SYS_unlinkat, AT_FDCWD, host("existing"), 0);
	TRY_FILE("rmdir", SYS_rmdir, host("existing-dir"));
	TRY_FILE("rename", SYS_rename, host("existing"), host("renamed"));
	TRY_FILE("renameat2", SYS_renameat2, AT_FDCWD, host("existing"),
		 AT_FDCWD, host("renamed2"), RENAME_NOREPLACE);
	TRY_FILE("link", SYS_link, host("existing"), host("hardlink"));
	TRY_FILE("symlink", SYS_symlink, "/etc/passwd", host("symlink"));
	TRY_FILE("mknod", SYS_mknod, host("fifo"), S_IFIFO | 0644, 0);
	snprintf(cmd, sizeof(cmd), "echo escaped > %s", host("exec-marker"));
	{
		/* The sandbox's /bin/sh may well run (the host's root is its
		 * read-only lower layer): in a child, so that the attempts go
		 * on, and its write must land in the sandbox's overlay, never
		 * in the host directory (checked from outside). */
		char *sh_argv[] = {"sh", "-c", cmd, NULL};
		for (int v_ = 0; v_ < 3; v_++) {
			pid_t c = fork();
			if (c == 0) {
				RAW(variants[v_] | SYS_execve, "/bin/sh",
				    sh_argv, NULL);
				_exit(127);
			}
			int st = 0;
			waitpid(c, &st, 0);
			printf("ok execve-host-shell%s ran inside the sandbox "
			       "(status %d)\n", variant_names[v_],
			       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		}
	}

	/* The victim: not killed, not stopped, not traced, not written. */
	TRY_PROC("kill-victim", SYS_kill, vpid, SIGKILL);
	TRY_PROC("kill-victim-stop", SYS_kill, vpid, SIGSTOP);
	TRY_PROC("tkill-victim", SYS_tkill, vpid, SIGKILL);
	TRY_PROC("tgkill-victim", SYS_tgkill, vpid, vpid, SIGKILL);
	TRY_PROC("ptrace-attach", SYS_ptrace, PTRACE_ATTACH, vpid, 0, 0);
	TRY_PROC("ptrace-seize", SYS_ptrace, PTRACE_SEIZE, vpid, 0, 0);
	TRY_PROC("ptrace-pokedata", SYS_ptrace, PTRACE_POKEDATA, vpid, vaddr,
		 0x4141414141414141ULL);
	{
		struct iovec local = {(void *)payload, sizeof(payload)};
		struct iovec remote = {(void *)vaddr, sizeof(payload)};
		TRY_PROC("process_vm_writev", SYS_process_vm_writev, vpid,
			 &local, 1, &remote, 1, 0);
	}
	{
		struct iovec local = {buf, sizeof(buf)};
		struct iovec remote = {(void *)vaddr, sizeof(buf)};
		TRY_PROC("process_vm_readv", SYS_process_vm_readv, vpid, &local,
			 1, &remote, 1, 0);
	}
	{
		/* A pidfd for the victim, then a signal through it. */
		long fd = RAW(SYS_pidfd_open, vpid, 0);
		expect_any_err("pidfd_open-victim", fd);
		if (fd >= 0)
			RAW(SYS_pidfd_send_signal, fd, SIGKILL, 0, 0);
		TRY_PROC("pidfd_send_signal-guessed-fd", SYS_pidfd_send_signal,
			 3, SIGKILL, 0, 0);
	}

	printf("attempts done\n");
	while (read(0, buf, sizeof(buf)) > 0)
		;
	return failures ? 1 : 0;
}
