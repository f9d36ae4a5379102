/*
 * sigaltjmp: a SIGSEGV handler running on an alternate signal stack and
 * leaving through siglongjmp, the way language runtimes recover from
 * faults.  Three kinds of fault, each three times in a row (the handler
 * must stay installed and SIGSEGV must be unblocked again after every
 * jump): a NULL write, a write to a read-only page and a stack overflow
 * from unbounded recursion (which only an alternate stack can handle).
 * Then sigsetjmp(env, 0): the jump leaves SIGSEGV blocked, as the handler
 * had it.  Prints "PASS sigaltjmp" and exits 0 when every check held.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile int faults;
static volatile uintptr_t fault_addr;
static volatile int on_alt;
static char *alt;
static size_t alt_size = 256 * 1024;
static int failures;

static void report(const char *what, int ok)
{
	printf("%s %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	int here;

	faults++;
	fault_addr = (uintptr_t)si->si_addr;
	on_alt = (char *)&here >= alt && (char *)&here < alt + alt_size;
	siglongjmp(env, 1);
}

static volatile int *volatile null_ptr;
static volatile int depth_limit = 1 << 30;

static int recurse(int n)
{
	volatile char frame[512];

	frame[0] = (char)n;
	if (n >= depth_limit)
		return 0;
	return recurse(n + 1) + frame[0];
}

static int segv_blocked(void)
{
	sigset_t m;

	sigprocmask(SIG_BLOCK, NULL, &m);
	return sigismember(&m, SIGSEGV);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	alt = mmap(NULL, alt_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss = {.ss_sp = alt, .ss_size = alt_size, .ss_flags = 0};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	if (alt == MAP_FAILED || sigaltstack(&ss, NULL) != 0 ||
	    sigaction(SIGSEGV, &sa, NULL) != 0) {
		perror("setup");
		return 2;
	}
	long pg = sysconf(_SC_PAGESIZE);
	char *ro =
	    mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	static const char *const names[] = {"NULL write", "read-only write",
					    "stack overflow"};
	for (int kind = 0; kind < 3; kind++) {
		int ok = 1;
		for (int round = 0; round < 3; round++) {
			int before = faults;
			if (sigsetjmp(env, 1) == 0) {
				if (kind == 0)
					*null_ptr = 1;
				else if (kind == 1)
					*(volatile char *)(ro + 8) = 1;
				else
					recurse(0);
				ok = 0; /* no fault: wrong */
				continue;
			}
			ok &= faults == before + 1 && on_alt;
			if (kind == 0)
				ok &= fault_addr == 0;
			else if (kind == 1)
				ok &= fault_addr == (uintptr_t)(ro + 8);
			ok &= !segv_blocked();
		}
		char what[96];
		snprintf(what, sizeof(what),
			 "%s x3: handled on the alternate stack, recovered",
			 names[kind]);
		report(what, ok);
	}

	/* Without the saved mask, the handler's mask (SIGSEGV) stays. */
	if (sigsetjmp(env, 0) == 0)
		*null_ptr = 2;
	report("sigsetjmp(env, 0): SIGSEGV still blocked after the jump",
	       segv_blocked());
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGSEGV);
	sigprocmask(SIG_UNBLOCK, &m, NULL);
	stack_t cur;
	sigaltstack(NULL, &cur);
	report("alternate stack still installed, not in use",
	       cur.ss_sp == alt && cur.ss_flags == 0);

	if (failures) {
		printf("FAILED sigaltjmp: %d check(s)\n", failures);
		return 1;
	}
	printf("PASS sigaltjmp\n");
	return 0;
}
