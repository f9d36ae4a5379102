/* execve: the sentry's own loader. Everything the caller can get an errno
 * for is checked before the point of no return. A process alone in its
 * stub (one thread, no vfork parent or CLONE_VM sibling) keeps the stub:
 * past that point it is emptied and the new program loaded into it, and a
 * failure then (a host mmap out of memory) kills the process with SIGSEGV,
 * as on Linux. Otherwise the new program (and its interpreter) is loaded
 * into a fresh stub while the caller's stays intact; then the other
 * threads die and the old address space goes. Either way descriptors
 * marked close-on-exec close and handled signals return to their
 * defaults. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "../loader/load.h"
#include "../mm/mm.h"
#include "fdtable.h"
#include "futex.h"
#include "kernel.h"
#include "timer.h"

#define MAX_ARG_STRLEN (32 * 4096)
#define BINPRM_BUF_SIZE 256
#define MAX_SCRIPT_DEPTH 5 /* Linux's limit on nested interpreters */
#define USER_CS 0x33
#define USER_DS 0x2b

struct strvec {
	char **v;
	size_t n, cap;
	size_t bytes; /* strings, NULs included */
};

static void strvec_free(struct strvec *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int strvec_insert(struct strvec *s, size_t at, const char *str)
{
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(char *));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	char *c = strdup(str);
	if (!c)
		return -ENOMEM;
	memmove(s->v + at + 1, s->v + at, (s->n - at) * sizeof(char *));
	s->v[at] = c;
	s->n++;
	s->v[s->n] = NULL;
	s->bytes += strlen(str) + 1;
	return 0;
}

static void strvec_remove(struct strvec *s, size_t at)
{
	s->bytes -= strlen(s->v[at]) + 1;
	free(s->v[at]);
	memmove(s->v + at, s->v + at + 1, (s->n - at) * sizeof(char *));
	s->n--;
}

/* The workload's pages that argv and envp are read from, each read whole
 * in one go: an environment's pointers and strings sit on a few pages, but
 * not in order (a shell's strings alternate between its stack, in
 * descending order there, and its heap), and reading from each string to
 * its page's end re-read a page for most strings: 14 reads for a shell's
 * 37 variables, some 30 us of every exec. Access is page-granular, so a
 * page reads whole exactly when a string on it does; a read that fails
 * (or a pointer or string that leaves its page) goes the byte-exact way,
 * so what faults and what a string holds stay as a read of each would have
 * them. Round-robin among EXEC_PAGES, kept from argv to envp (often on the
 * same pages). */
#define EXEC_PAGES 8
#define NO_PAGE UINT64_MAX /* never a page's base */

struct user_pages {
	uint64_t base[EXEC_PAGES];
	int next;
	uint8_t bytes[EXEC_PAGES][MM_PAGE];
};

/* The bytes from addr to its page's end, read if w holds no copy yet;
 * NULL if the page does not read (*have: how many bytes). */
static const uint8_t *page_at(struct task *t, struct user_pages *w,
			      uint64_t addr, size_t *have)
{
	uint64_t base = addr & ~(uint64_t)(MM_PAGE - 1);
	size_t off = (size_t)(addr - base);
	*have = MM_PAGE - off;
	for (int i = 0; i < EXEC_PAGES; i++)
		if (w->base[i] == base)
			return w->bytes[i] + off;
	int i = w->next;
	w->next = (w->next + 1) % EXEC_PAGES;
	w->base[i] = NO_PAGE;
	if (task_copy_in(t, w->bytes[i], base, MM_PAGE) < 0)
		return NULL;
	w->base[i] = base;
	return w->bytes[i] + off;
}

/* Copies a NULL-terminated array of workload strings; buf holds
 * MAX_ARG_STRLEN bytes. */
static int copy_strings(struct task *t, struct user_pages *w, char *buf,
			uint64_t uv, struct strvec *out)
{
	int err = 0;
	for (uint64_t i = 0; uv; i++) {
		uint64_t p, at = uv + i * 8;
		size_t have = 0;
		const uint8_t *pp = at < uv || at >= MM_TASK_SIZE
					    ? NULL
					    : page_at(t, w, at, &have);
		if (pp && have >= 8) {
			memcpy(&p, pp, 8);
		} else {
			/* A pointer across a page boundary, or a fault. */
			err = task_copy_in(t, &p, at, 8);
			if (err < 0)
				break;
		}
		if (!p)
			break;
		const uint8_t *s = p < MM_TASK_SIZE ? page_at(t, w, p, &have)
						    : NULL;
		const uint8_t *nul = s ? memchr(s, '\0', have) : NULL;
		if (nul && nul - s < MAX_ARG_STRLEN) {
			memcpy(buf, s, (size_t)(nul - s) + 1);
		} else {
			err = task_copy_in_string(t, buf, p, MAX_ARG_STRLEN);
			if (err == -ENAMETOOLONG)
				err = -E2BIG;
			if (err < 0)
				break;
		}
		err = strvec_insert(out, out->n, buf);
		if (err < 0)
			break;
		if (out->n > 0x7fffffff) {
			err = -E2BIG;
			break;
		}
	}
	return err < 0 ? err : 0;
}

/* argv, then envp (Linux's errors for them: EFAULT, E2BIG). */
static int copy_argv_envp(struct task *t, uint64_t uargv, uint64_t uenvp,
			  struct strvec *argv, struct strvec *envp)
{
	char *buf = malloc(MAX_ARG_STRLEN);
	struct user_pages *w = malloc(sizeof(*w));
	int err = -ENOMEM;
	if (buf && w) {
		for (int i = 0; i < EXEC_PAGES; i++)
			w->base[i] = NO_PAGE;
		w->next = 0;
		err = copy_strings(t, w, buf, uargv, argv);
		if (!err)
			err = copy_strings(t, w, buf, uenvp, envp);
	}
	free(buf);
	free(w);
	return err;
}

/* The limit Linux puts on argv + envp: a quarter of the stack limit, at
 * least 32 pages, at most 3/4 of 8 MiB. */
static int check_size(struct task *t, const struct strvec *argv,
		      const struct strvec *envp)
{
	uint64_t stk = task_rlimit_cur(t, RLIMIT_STACK);
	uint64_t limit = 6ULL << 20;
	if (stk / 4 < limit)
		limit = stk / 4;
	if (limit < 32 * 4096)
		limit = 32 * 4096;
	uint64_t ptrs = (argv->n + envp->n) * sizeof(void *);
	if (limit <= ptrs)
		return -E2BIG;
	if (argv->bytes + envp->bytes > limit - ptrs)
		return -E2BIG;
	return 0;
}

/* "#!interpreter [arg]": argv becomes interpreter [arg] path args[1..]. */
static int parse_script(const struct exec_file *f, const char *path,
			struct strvec *argv, char *interp, size_t len)
{
	char line[BINPRM_BUF_SIZE + 1];
	size_t n = f->head_len < BINPRM_BUF_SIZE ? f->head_len : BINPRM_BUF_SIZE;
	memcpy(line, f->head, n);
	line[n] = '\0';
	char *nl = memchr(line, '\n', n);
	if (nl)
		*nl = '\0';
	else if (f->size > BINPRM_BUF_SIZE)
		return -ENOEXEC; /* the line does not fit: Linux refuses it */
	char *p = line + 2;
	while (*p == ' ' || *p == '\t')
		p++;
	char *end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (!*p)
		return -ENOEXEC;
	char *arg = p;
	while (*arg && *arg != ' ' && *arg != '\t')
		arg++;
	if (*arg) {
		*arg++ = '\0';
		while (*arg == ' ' || *arg == '\t')
			arg++;
	}
	if (strlen(p) >= len)
		return -ENAMETOOLONG;
	strcpy(interp, p);
	/* argv[0] is replaced by the script's path. */
	if (argv->n)
		strvec_remove(argv, 0);
	int err = strvec_insert(argv, 0, path);
	if (!err && *arg)
		err = strvec_insert(argv, 0, arg);
	if (!err)
		err = strvec_insert(argv, 0, interp);
	return err;
}

/* exec_file_open into f (released first), saying why a file is not a
 * program in the debug log. */
static int exec_open(struct task *t, int dirfd, const char *path,
		     int at_flags, struct exec_file *f)
{
	exec_file_close(f);
	int err = exec_file_open(t, dirfd, path, at_flags, f);
	if (err == -ENOEXEC && f->why)
		log_debug("exec %s: %s", path, f->why);
	return err;
}

/* Goes on from path, opened in f (exec_open, from dirfd with execveat's
 * flags): follows `#!` interpreters (argv is rewritten for them;
 * interpreters are looked up from the cwd, as Linux does), and opens the
 * ELF interpreter if the program has one. name is the path a script sees
 * as its argument. */
static int exec_prepare(struct task *t, int dirfd, const char *path,
			const char *name, struct strvec *argv,
			struct exec_file *f, struct exec_file *interp)
{
	char cur[PATH_MAX], interp_path[PATH_MAX];
	int err = 0;

	if (strlen(path) >= sizeof(cur))
		return -ENAMETOOLONG;
	strcpy(cur, path);
	for (int depth = 0;; depth++) {
		if (depth > 0 && (err = exec_open(t, AT_FDCWD, cur, 0, f)) < 0)
			return err;
		if (!f->script)
			break;
		if (depth >= MAX_SCRIPT_DEPTH)
			return -ELOOP;
		/* A script reached through an fd gets /dev/fd/N as its
		 * path: one that exec closes would be gone for the
		 * interpreter, so Linux refuses it. */
		if (depth == 0 && dirfd != AT_FDCWD && path[0] != '/') {
			bool cloexec = false;
			struct file *df = fd_get_cloexec(t->fdt, dirfd, &cloexec);
			file_put(df);
			if (cloexec)
				return -ENOENT;
		}
		err = parse_script(f, depth == 0 ? name : cur, argv,
				   interp_path, sizeof(interp_path));
		if (err < 0)
			return err;
		strcpy(cur, interp_path);
	}
	if (f->elf.has_interp) {
		err = exec_interp_path(f, interp_path, sizeof(interp_path));
		if (!err)
			err = exec_file_open(t, AT_FDCWD, interp_path, 0, interp);
		if (err == -ENOEXEC && interp->why)
			log_debug("exec %s: interpreter %s: %s", cur,
				  interp_path, interp->why);
		if (!err && (interp->script || interp->elf.has_interp))
			err = -ELIBBAD;
	}
	return err;
}

int exec_boot(struct task *t, const char *path, char *const *uargv,
	      char *const *uenvp)
{
	struct strvec argv = { 0 }, envp = { 0 };
	struct exec_file f = { 0 }, interp = { 0 };
	int err = 0;

	for (size_t i = 0; !err && uargv[i]; i++)
		err = strvec_insert(&argv, argv.n, uargv[i]);
	for (size_t i = 0; !err && uenvp[i]; i++)
		err = strvec_insert(&envp, envp.n, uenvp[i]);
	if (!err && argv.n == 0)
		err = strvec_insert(&argv, 0, "");
	if (!err)
		err = exec_open(t, AT_FDCWD, path, 0, &f);
	if (!err)
		err = exec_prepare(t, AT_FDCWD, path, path, &argv, &f, &interp);
	if (!err)
		err = check_size(t, &argv, &envp);
	if (!err)
		err = loader_load(t, &f, f.elf.has_interp ? &interp : NULL,
				  argv.v, envp.v, path);
	if (!err)
		mm_set_exe(t->mm, f.file);
	exec_file_close(&f);
	exec_file_close(&interp);
	strvec_free(&argv);
	strvec_free(&envp);
	return err;
}

/* Kills every other thread of t's process and waits for them; t becomes
 * the leader (taking its pid) if it was not. */
static int de_thread(struct task *t)
{
	struct kernel *k = t->k;
	struct thread_group *tg = t->tg;

	pthread_mutex_lock(&k->lock);
	list_for_each(pos, &tg->threads) {
		struct task *x = list_entry(pos, struct task, tg_link);
		if (x != t && !x->exiting) {
			x->exiting = true;
			recalc_sigpending_locked(x);
		}
	}
	tg->exec_waiter = t;
	while (tg->nr_threads > 1 && !tg->group_exit) {
		uint32_t seq = task_wait_seq(t);
		pthread_mutex_unlock(&k->lock);
		task_sleep_uninterruptible(t, seq, 0);
		pthread_mutex_lock(&k->lock);
	}
	tg->exec_waiter = NULL;
	if (tg->group_exit) {
		pthread_mutex_unlock(&k->lock);
		return -EINTR;
	}
	struct task *old = tg->leader;
	if (old != t) {
		/* The old leader has exited; t takes its pid. */
		pid_hash_del(k, old);
		list_del(&old->link);
		pid_hash_del(k, t);
		t->tid = tg->tgid;
		pid_hash_add(k, t);
		tg->leader = t;
		sigpending_flush(&old->pending);
		free(old->fpbuf);
		free(old);
	}
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* Whether the new program may take over t's own stub: t is its process's
 * only thread and nothing else (a vfork parent, a CLONE_VM sibling) uses
 * the address space; and the image has run with the credentials it began
 * with and stayed dumpable. The stub keeps bytes of the old image outside
 * the workload's mappings (its signal frames, its slots, the rewritten
 * sites' code), which the new program can read: fine while whoever could
 * read the old image's memory anyway is who can read the new one's, not
 * after a setuid(2) dropped privileges the old image ran with. */
static bool exec_in_place(struct task *t)
{
	const struct platform_ops *plat = t->k->plat;
	if (!plat->as_reset || atomic_load(&t->mm->users) != 1)
		return false;
	pthread_mutex_lock(&t->k->lock);
	struct cred_mark now = cred_mark_of(&t->cred);
	bool ok = t->tg->nr_threads == 1 && !t->tg->dumpable_off &&
		  !memcmp(&now, &t->tg->image_creds, sizeof(now));
	pthread_mutex_unlock(&t->k->lock);
	return ok;
}

/* Past the point of no return, the new image in place: what every exec
 * does to the process besides its memory. */
static void exec_common_tail(struct task *t, const char *name)
{
	struct kernel *k = t->k;

	/* Descriptors: unshare, then close the close-on-exec ones. */
	if (atomic_load(&t->fdt->refs) > 1) {
		struct fdtable *n = fdtable_copy(t->fdt);
		if (n) {
			/* Swapped under the task lock: procfs takes references
			 * to other tasks' tables under it. */
			pthread_mutex_lock(&k->lock);
			struct fdtable *old = t->fdt;
			t->fdt = n;
			pthread_mutex_unlock(&k->lock);
			fdtable_put(old);
		}
	}
	fdtable_close_on_exec(t->fdt);

	pthread_mutex_lock(&k->lock);
	struct thread_group *tg = t->tg;
	if (atomic_load(&tg->sighand->refs) > 1) {
		struct sighand *sh = sighand_copy(tg->sighand);
		if (sh) {
			sighand_put(tg->sighand);
			tg->sighand = sh;
		}
	}
	sighand_exec_reset(tg->sighand);
	t->ss_sp = t->ss_size = 0;
	t->ss_flags = 2; /* SS_DISABLE */
	tg->did_exec = true;
	/* Dumpable again, unless the ids disagree (Linux's setup_new_exec). */
	tg->dumpable_off = t->cred.euid != t->cred.ruid ||
			   t->cred.egid != t->cred.rgid;
	tg->image_creds = cred_mark_of(&t->cred);
	free(tg->exe_path);
	tg->exe_path = strdup(name);
	/* comm is the file's name (for fd-based execs, the fd's number). */
	const char *base = strrchr(name, '/');
	const char *cn = base ? base + 1 : name;
	size_t cl = strnlen(cn, sizeof(t->comm) - 1);
	memset(t->comm, 0, sizeof(t->comm));
	memcpy(t->comm, cn, cl);
	timers_exec_locked(tg);
	pthread_mutex_unlock(&k->lock);
}

/* execve into t's own stub, emptied past the point of no return. */
static long exec_reuse(struct task *t, struct exec_file *f,
		       struct exec_file *interp, struct strvec *argv,
		       struct strvec *envp, const char *name)
{
	struct kernel *k = t->k;
	const struct platform_ops *plat = k->plat;

	struct mm *mm = mm_new(t->mm->as);
	if (!mm)
		return -ENOMEM;
	/* --- the point of no return --- */
	long err = de_thread(t);
	if (err < 0) {
		mm->as = NULL;
		mm_put(plat, mm);
		return err;
	}
	futex_exit_robust_list(t);
	t->clear_child_tid = 0;
	struct mm *old_mm = t->mm;
	pthread_mutex_lock(&k->lock);
	t->mm = mm;
	vfork_release_locked(t);
	pthread_mutex_unlock(&k->lock);
	old_mm->as = NULL; /* the new mm's now */
	mm_put(plat, old_mm);
	/* The old image's mappings go with the new one's first batch. */
	mm->host_stale = true;
	err = plat->as_reset(t->th);
	if (err == 0)
		err = plat->fpstate_set(t->th, plat_fpstate_init_image(),
					plat_fpstate_size());
	struct plat_regs r = { 0 };
	t->regs = r;
	t->regs.cs = USER_CS;
	t->regs.ss = USER_DS;
	if (err == 0)
		err = loader_load(t, f, f->elf.has_interp ? interp : NULL,
				  argv->v, envp->v, name);
	if (err < 0) {
		/* Too late to fail: as Linux, the process dies of SIGSEGV. */
		log_debug("exec: loading %s in place failed: %s", name,
			  strerror((int)-err));
		struct ksiginfo info = { .signo = SIGSEGV,
					 .code = 0x80 /* SI_KERNEL */ };
		force_signal_default(t, SIGSEGV, &info);
		return -EFAULT;
	}
	mm_set_exe(mm, f->file);
	t->regs_dirty = true;
	exec_common_tail(t, name);
	return 0;
}

long task_execve(struct task *t, const char *path, uint64_t uargv,
		 uint64_t uenvp, int flags, int dirfd)
{
	struct kernel *k = t->k;
	const struct platform_ops *plat = k->plat;
	struct strvec argv = { 0 }, envp = { 0 };
	struct exec_file f = { 0 }, interp = { 0 };
	struct plat_as *as = NULL;
	struct plat_thread *th = NULL;
	struct mm *mm = NULL;
	long err;

	/* What a script started by fd sees as its path (Linux's
	 * /dev/fd/N[/path]). */
	char name[PATH_MAX + 32];
	if (dirfd == AT_FDCWD || path[0] == '/')
		snprintf(name, sizeof(name), "%s", path);
	else if (!path[0])
		snprintf(name, sizeof(name), "/dev/fd/%d", dirfd);
	else
		snprintf(name, sizeof(name), "/dev/fd/%d/%s", dirfd, path);
	/* Linux's order: the file is opened (ENOENT, EACCES, ETXTBSY...)
	 * before argv and envp are read (EFAULT, E2BIG), and its format
	 * judged after (ENOEXEC). A shell's search of PATH fails here, before
	 * any string is copied. */
	long open_err = exec_open(t, dirfd, path, flags, &f);
	if (open_err < 0 && open_err != -ENOEXEC) {
		err = open_err;
		goto out;
	}
	/* An exec in place (likely: unless the file turns out not to load)
	 * loads into this stub: its executor's wake-up can overlap what
	 * comes before the load. Only once the file opened: a shell's search
	 * of PATH fails above. */
	if (!open_err && plat->batch_soon && exec_in_place(t))
		plat->batch_soon(t->th);
	err = copy_argv_envp(t, uargv, uenvp, &argv, &envp);
	/* Linux runs a NULL or empty argv with argv[0] = "". */
	if (!err && argv.n == 0)
		err = strvec_insert(&argv, 0, "");
	if (!err)
		err = check_size(t, &argv, &envp);
	if (!err)
		err = open_err;
	if (err < 0)
		goto out;

	err = exec_prepare(t, dirfd, path, name, &argv, &f, &interp);
	if (!err)
		err = check_size(t, &argv, &envp);
	if (err < 0)
		goto out;

	if (exec_in_place(t) &&
	    loader_check(&f, f.elf.has_interp ? &interp : NULL) == 0) {
		err = exec_reuse(t, &f, &interp, &argv, &envp, name);
		goto out;
	}

	/* The old stub's CPU time and peak memory join the process's record
	 * past the point of no return: its thread sleeps by now, and wakes
	 * and answers while the new image is built (some 130 us here
	 * otherwise spent waiting). */
	tg_account_stub_begin(t);

	/* Build the new image beside the old one. */
	err = plat_as_take(plat, &as, &th);
	if (err < 0)
		goto out;
	err = plat->thread_adopt(th);
	if (err < 0) {
		plat->thread_release(th);
		plat->as_destroy(as);
		goto out;
	}
	task_affinity_apply(t, th);
	mm = mm_new(as);
	if (!mm) {
		plat->thread_release(th);
		plat->as_destroy(as);
		err = -ENOMEM;
		goto out;
	}
	struct mm *old_mm = t->mm;
	struct plat_thread *old_th = t->th;
	struct plat_regs old_regs = t->regs;
	t->mm = mm;
	t->th = th; /* interrupts now reach the new thread: harmless */
	t->regs.cs = USER_CS;
	t->regs.ss = USER_DS;
	err = loader_load(t, &f, f.elf.has_interp ? &interp : NULL, argv.v,
			  envp.v, name);
	if (err < 0) {
		pthread_mutex_lock(&k->lock);
		t->mm = old_mm;
		t->th = old_th;
		pthread_mutex_unlock(&k->lock);
		t->regs = old_regs;
		t->regs_dirty = true;
		plat->thread_release(th);
		mm_put(plat, mm);
		goto out;
	}
	mm_set_exe(mm, f.file);
	struct plat_regs new_regs = t->regs;
	pthread_mutex_lock(&k->lock);
	t->mm = old_mm;
	t->th = old_th;
	pthread_mutex_unlock(&k->lock);

	/* --- the point of no return --- */
	err = de_thread(t);
	if (err < 0) {
		/* Killed meanwhile: the new image goes, the task exits. */
		plat->thread_release(th);
		mm_put(plat, mm);
		goto out;
	}
	/* The old image's futex duties: robust locks and the tid word. */
	futex_exit_robust_list(t);
	t->clear_child_tid = 0;
	tg_account_stub(t);
	pthread_mutex_lock(&k->lock);
	t->mm = mm;
	t->th = th;
	vfork_release_locked(t);
	pthread_mutex_unlock(&k->lock);
	plat->thread_release(old_th);
	mm_put(plat, old_mm);
	t->regs = new_regs;
	t->regs_dirty = true;

	exec_common_tail(t, name);
	err = 0;
out:
	exec_file_close(&f);
	exec_file_close(&interp);
	strvec_free(&argv);
	strvec_free(&envp);
	return err;
}
