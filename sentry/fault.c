/* A fault inside the sentry is a bug: print a backtrace to the log and take
 * the whole sandbox down. Stubs cannot survive it: each is killed by
 * PTRACE_O_EXITKILL and PR_SET_PDEATHSIG when its serving thread dies, and
 * runsc, a child subreaper, reaps whatever is left. */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "kernel/kernel.h"

#define ALTSTACK_SIZE (64 * 1024)

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
	unw_context_t ctx;
	unw_cursor_t cursor;
	(void)uc;

	log_raw("sentry: fatal signal %d (%s) at address %p: this is a sentry bug",
		sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", si->si_addr);
	log_raw("sentry: backtrace:");
	unw_getcontext(&ctx);
	unw_init_local(&cursor, &ctx);
	for (int i = 0; i < 64 && unw_step(&cursor) > 0; i++) {
		unw_word_t ip = 0, off = 0;
		char name[256];
		Dl_info di;
		unw_get_reg(&cursor, UNW_REG_IP, &ip);
		/* dladdr reads the symbol tables in memory; libunwind's
		 * unw_get_proc_name would open the executable's file, which
		 * the sentry's path filter refuses (sentry/confine.c). */
		if (dladdr((void *)ip, &di) && di.dli_sname) {
			off = ip - (unw_word_t)di.dli_saddr;
			snprintf(name, sizeof(name), "%s", di.dli_sname);
			log_raw("  #%-2d %#014lx %s+%#lx", i, (unsigned long)ip,
				name, (unsigned long)off);
		} else {
			log_raw("  #%-2d %#014lx ?", i, (unsigned long)ip);
		}
	}
	/* SA_RESETHAND restored the default action: re-raise so the whole
	 * sentry dies of the same signal once this handler returns. */
	raise(sig);
}

static __thread void *own_altstack;

void sentry_thread_setup(void)
{
	stack_t old, ss = { .ss_size = ALTSTACK_SIZE, .ss_flags = 0 };

	/* Keep an alternate stack someone else installed (ASan does): it
	 * owns it and frees it at thread exit. */
	if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
		return;
	ss.ss_sp = malloc(ALTSTACK_SIZE);
	if (ss.ss_sp && sigaltstack(&ss, NULL) == 0)
		own_altstack = ss.ss_sp;
	else
		free(ss.ss_sp);
}

void sentry_thread_teardown(void)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	if (!own_altstack)
		return;
	sigaltstack(&ss, NULL);
	free(own_altstack);
	own_altstack = NULL;
}

void sentry_install_fault_handlers(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fault_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sentry_thread_setup();
}
