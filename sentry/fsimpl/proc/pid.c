/* The files of /proc/[pid] and /proc/[pid]/task/[tid], in Linux's formats
 * (fs/proc/array.c, base.c, task_mmu.c). Values are the sentry's: sandbox
 * pids, the task's credentials and limits, the sentry's map of the
 * address space. What is read under k->lock is copied out first; memory
 * and paths are read after it is dropped. */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

#include "../../kernel/seccomp.h"
#include "../../mm/mm.h"
#include "../../sentry.h"
#include "proc.h"

#define TICKS_PER_SEC 100 /* USER_HZ */
#define NS_PER_TICK   (1000000000ULL / TICKS_PER_SEC)

/* What one read needs of a task, copied under k->lock. */
struct tinfo {
	int tgid, tid, ppid, pgid, sid, nthreads, exit_signal, exit_code;
	int nice, policy, rtprio, oom_score_adj;
	char comm[16];
	char state;
	struct creds cred;
	uint64_t sigpnd, shdpnd, blocked, ignored, caught;
	uint64_t utime, stime, cutime, cstime, start_ns;
	struct rlimit rlim[SENTRY_RLIM_NLIMITS];
	uint64_t cpus[16];
	long nvcsw, nivcsw;
	int seccomp_mode, seccomp_filters;
};

static const char *state_name(char s)
{
	switch (s) {
	case 'R':
		return "R (running)";
	case 'S':
		return "S (sleeping)";
	case 'T':
		return "T (stopped)";
	case 'Z':
		return "Z (zombie)";
	default:
		return "X (dead)";
	}
}

static int get_tinfo(const struct proc_req *r, struct tinfo *ti)
{
	struct kernel *k = r->k;
	struct task *t;
	memset(ti, 0, sizeof(*ti));
	pthread_mutex_lock(&k->lock);
	struct thread_group *tg = proc_find_locked(k, r->n, &t);
	if (!tg) {
		pthread_mutex_unlock(&k->lock);
		return -ESRCH;
	}
	ti->tgid = tg->tgid;
	ti->tid = r->n->tid ? t->tid : tg->tgid;
	ti->ppid = tg->parent ? tg->parent->tgid : 0;
	ti->pgid = tg->pgid;
	ti->sid = tg->sid;
	/* A leader that exited while other threads live stays with its
	 * process as a zombie thread (Linux's delay_group_leader): the
	 * process shows its state, and counts it among its threads. */
	bool leader_gone = !r->n->tid && tg_leader_gone(tg);
	ti->nthreads = tg->nr_threads + (leader_gone ? 1 : 0);
	ti->exit_signal = tg->exit_signal;
	ti->exit_code = tg->zombie ? tg->exit_status : 0;
	ti->nice = t->nice;
	ti->policy = t->sched_policy;
	ti->rtprio = t->sched_priority;
	ti->oom_score_adj = tg->oom_score_adj;
	memcpy(ti->comm, t->comm, sizeof(ti->comm));
	ti->comm[sizeof(ti->comm) - 1] = '\0';
	ti->cred = t->cred;
	/* What a task is doing is only known coarsely: one running workload
	 * code (or reading this) runs; one inside a call sleeps. */
	if (tg->zombie || (r->n->tid && t->exiting) || leader_gone)
		ti->state = 'Z';
	else if (tg->stopped)
		ti->state = 'T';
	else if (t == r->reader || atomic_load(&t->in_user))
		ti->state = 'R';
	else
		ti->state = 'S';
	ti->sigpnd = t->pending.set;
	ti->shdpnd = tg->shared_pending.set;
	ti->blocked = t->sigmask;
	if (tg->sighand) {
		for (int s = 0; s < SENTRY_NSIG; s++) {
			uint64_t h = tg->sighand->action[s].handler;
			if (h == KSIG_IGN)
				ti->ignored |= 1ULL << s;
			else if (h != KSIG_DFL)
				ti->caught |= 1ULL << s;
		}
	}
	tg_cputime(tg, &ti->utime, &ti->stime);
	ti->cutime = tg->child_utime_ns;
	ti->cstime = tg->child_stime_ns;
	ti->start_ns = r->n->tid ? t->start_ns : tg->start_ns;
	memcpy(ti->rlim, tg->rlim, sizeof(ti->rlim));
	if (t->cpus_set)
		memcpy(ti->cpus, t->cpus, sizeof(ti->cpus));
	else
		memcpy(ti->cpus, k->cpus, sizeof(ti->cpus));
	ti->nvcsw = tg->dead_ru.nvcsw;
	ti->nivcsw = tg->dead_ru.nivcsw;
	ti->seccomp_mode = kseccomp_mode(t);
	ti->seccomp_filters = kseccomp_nfilters(t);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* ---- the memory map --------------------------------------------------- */

struct vsnap {
	uint64_t start, end, pgoff;
	int prot, flags;
	const char *name;
	struct file *file; /* referenced */
};

struct msnap {
	struct vsnap *v;
	size_t n;
	uint64_t brk_start, brk, stack_top, arg_start, arg_end, env_start,
	    env_end;
	uint64_t total, data, stack, exec;
	pid_t host_pid;
};

static void msnap_free(struct msnap *s)
{
	for (size_t i = 0; i < s->n; i++)
		file_put(s->v[i].file);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int msnap_add(struct msnap *s, size_t *cap, const struct vsnap *v)
{
	if (s->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 32;
		struct vsnap *p = realloc(s->v, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->v = p;
		*cap = nc;
	}
	s->v[s->n++] = *v;
	return 0;
}

/* A copy of the map (files referenced), with the stub's reserved ranges
 * (its code page, the vDSO) in address order: they are in the address
 * space too. No file system call is made under mm->lock. */
static int range_cmp(const void *a, const void *b)
{
	const struct plat_range *x = a, *y = b;
	return (x->start > y->start) - (x->start < y->start);
}

static int msnap_take(struct kernel *k, struct mm *mm, struct msnap *s)
{
	const struct plat_range *pr;
	struct plat_range res[8];
	int nres = plat_reserved(&pr);
	if (nres < 0)
		nres = 0;
	if (nres > 8)
		nres = 8;
	memcpy(res, pr, (size_t)nres * sizeof(res[0]));
	qsort(res, (size_t)nres, sizeof(res[0]), range_cmp);
	size_t cap = 0;
	int err = 0, ri = 0;
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&mm->lock);
	for (struct vma *v = mm->vmas;; v = v->next) {
		while (ri < nres && (!v || res[ri].start < v->start) &&
		       err == 0) {
			/* The stub's code and the vDSO are executable; its
			 * other ranges are not the workload's to use. */
			bool code = res[ri].name &&
				    (strcmp(res[ri].name, "[vdso]") == 0 ||
				     strcmp(res[ri].name, "[stub]") == 0);
			struct vsnap r = {res[ri].start,
					  res[ri].end,
					  0,
					  code ? PROT_READ | PROT_EXEC : 0,
					  MAP_PRIVATE,
					  res[ri].name,
					  NULL};
			err = msnap_add(s, &cap, &r);
			ri++;
		}
		if (!v || err < 0)
			break;
		struct vsnap x = {v->start, v->end,  v->pgoff, v->prot,
				  v->flags, v->name, NULL};
		if (v->file)
			x.file = file_ref(v->file);
		err = msnap_add(s, &cap, &x);
		if (err < 0) {
			file_put(x.file);
			break;
		}
		uint64_t len = v->end - v->start;
		s->total += len;
		if (v->name && strcmp(v->name, "[stack]") == 0)
			s->stack += len;
		else if ((v->prot & PROT_WRITE) && !(v->flags & MAP_SHARED))
			s->data += len;
		if ((v->prot & PROT_EXEC) && v->file)
			s->exec += len;
	}
	s->brk_start = mm->brk_start;
	s->brk = mm->brk;
	s->stack_top = mm->stack_top;
	s->arg_start = mm->arg_start;
	s->arg_end = mm->arg_end;
	s->env_start = mm->env_start;
	s->env_end = mm->env_end;
	s->host_pid = mm->as ? k->plat->as_host_pid(mm->as) : 0;
	pthread_mutex_unlock(&mm->lock);
	if (err < 0)
		msnap_free(s);
	return err;
}

/* /proc/[pid]/maps escapes a newline in a path as Linux's seq_path. */
static void put_path_escaped(struct sbuf *b, const char *p, const char *esc)
{
	for (; *p; p++) {
		if (strchr(esc, *p))
			sb_printf(b, "\\%03o", (unsigned char)*p);
		else
			sb_put(b, p, 1);
	}
}

static int show_maps(const struct proc_req *r, struct sbuf *b)
{
	int err = proc_may_inspect(r->k, r->reader, r->n);
	if (err < 0)
		return err;
	struct mm *mm = proc_get_mm(r->k, r->n);
	if (!mm)
		return 0; /* a zombie has no map */
	struct msnap s;
	err = msnap_take(r->k, mm, &s);
	mm_put(r->k->plat, mm);
	if (err < 0)
		return err;
	struct vfs_path root = {NULL, NULL};
	bool have_root = proc_reader_root(r->reader, &root) == 0;
	char *path = malloc(PATH_MAX + 64);
	if (!path)
		err = -ENOMEM;
	for (size_t i = 0; i < s.n && err == 0; i++) {
		const struct vsnap *v = &s.v[i];
		unsigned maj = 0, min = 0;
		uint64_t ino = 0, off = 0;
		long pl = -1;
		if (v->file && v->file->inode) {
			struct vfs_attr a;
			if (vfs_getattr(v->file->inode, &a) == 0) {
				maj = major(a.dev);
				min = minor(a.dev);
				ino = a.ino;
			}
			off = v->pgoff;
			if (have_root && v->file->dentry) {
				struct vfs_path p = {v->file->mnt,
						     v->file->dentry};
				pl = vfs_path_string(&root, &p, path,
						     PATH_MAX + 64, NULL);
			}
		} else if (v->file) {
			off = v->pgoff;
			pl = proc_file_name(v->file, NULL, path, PATH_MAX + 64);
		}
		size_t line0 = b->len;
		sb_printf(b,
			  "%08" PRIx64 "-%08" PRIx64 " %c%c%c%c %08" PRIx64
			  " %02x:%02x %" PRIu64 " ",
			  v->start, v->end, (v->prot & PROT_READ) ? 'r' : '-',
			  (v->prot & PROT_WRITE) ? 'w' : '-',
			  (v->prot & PROT_EXEC) ? 'x' : '-',
			  (v->flags & MAP_SHARED) ? 's' : 'p', off, maj, min,
			  ino);
		const char *name = pl >= 0 ? path : v->name;
		if (name) {
			/* seq_pad: the name starts at column 73. */
			size_t col = b->len - line0;
			if (col < 72)
				sb_printf(b, "%*s", (int)(72 - col), "");
			sb_put(b, " ", 1);
			put_path_escaped(b, name, "\n");
		}
		sb_put(b, "\n", 1);
	}
	free(path);
	if (have_root)
		vfs_path_put(&root);
	msnap_free(&s);
	return err;
}

/* ---- stat, status, statm ------------------------------------------------ */

static uint64_t ticks(uint64_t ns)
{
	return ns / NS_PER_TICK;
}

static int mem_figures(const struct proc_req *r, struct msnap *s,
		       uint64_t *resident, uint64_t *shared)
{
	memset(s, 0, sizeof(*s));
	*resident = *shared = 0;
	struct mm *mm = proc_get_mm(r->k, r->n);
	if (!mm)
		return 0;
	int err = msnap_take(r->k, mm, s);
	mm_put(r->k->plat, mm);
	if (err < 0)
		return err;
	sentry_stub_rss(s->host_pid, resident, shared);
	return 0;
}

static int show_stat(const struct proc_req *r, struct sbuf *b)
{
	struct tinfo ti;
	int err = get_tinfo(r, &ti);
	if (err < 0)
		return err;
	struct msnap s;
	uint64_t res, sh;
	err = mem_figures(r, &s, &res, &sh);
	if (err < 0)
		return err;
	uint64_t start_code = 0, end_code = 0;
	for (size_t i = 0; i < s.n; i++)
		if ((s.v[i].prot & PROT_EXEC) && s.v[i].file && !start_code) {
			start_code = s.v[i].start;
			end_code = s.v[i].end;
		}
	msnap_free(&s);
	uint64_t start =
	    ti.start_ns > r->k->boot_ns ? ti.start_ns - r->k->boot_ns : 0;
	uint64_t rsslim = ti.rlim[RLIMIT_RSS].rlim_cur;
	/* flags: PF_RANDOMIZE (the sentry randomizes every layout); no
	 * terminal (tty_nr 0, tpgid -1); fault counts are not known. */
	sb_printf(b, "%d (%s) %c %d %d %d 0 -1 %u 0 0 0 0 ", ti.tid, ti.comm,
		  ti.state, ti.ppid, ti.pgid, ti.sid, 0x400000u);
	sb_printf(b, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " ",
		  ticks(ti.utime), ticks(ti.stime), ticks(ti.cutime),
		  ticks(ti.cstime));
	sb_printf(b,
		  "%d %d %d 0 %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " ",
		  ti.policy ? -1 - ti.rtprio : 20 + ti.nice, ti.nice,
		  ti.nthreads, ticks(start), s.total, res,
		  rsslim == RLIM_INFINITY ? (uint64_t)-1 : rsslim);
	sb_printf(b,
		  "%" PRIu64 " %" PRIu64 " %" PRIu64 " 0 0 %" PRIu64 " %" PRIu64
		  " %" PRIu64 " %" PRIu64 " 0 0 0 %d 0 %d %d 0 0 0 ",
		  start_code, end_code, s.stack_top, ti.sigpnd | ti.shdpnd,
		  ti.blocked, ti.ignored, ti.caught, ti.exit_signal, ti.rtprio,
		  ti.policy);
	sb_printf(b,
		  "0 0 %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
		  " %d\n",
		  s.brk_start, s.arg_start, s.arg_end, s.env_start, s.env_end,
		  ti.exit_code);
	return 0;
}

static void put_sigset(struct sbuf *b, const char *name, uint64_t set)
{
	sb_printf(b, "%s:\t%016" PRIx64 "\n", name, set);
}

static void put_cpus(struct sbuf *b, const uint64_t *cpus)
{
	/* Cpus_allowed as a hex mask of 32-bit groups, then the list. */
	int hi = -1;
	for (int c = 0; c < 1024; c++)
		if (cpus[c / 64] & (1ULL << (c % 64)))
			hi = c;
	int groups = hi < 0 ? 1 : hi / 32 + 1;
	sb_printf(b, "Cpus_allowed:\t");
	for (int g = groups - 1; g >= 0; g--) {
		uint32_t w = (uint32_t)(cpus[g / 2] >> (32 * (g % 2)));
		sb_printf(b, g == groups - 1 ? "%x" : ",%08x", w);
	}
	sb_printf(b, "\nCpus_allowed_list:\t");
	bool first = true;
	for (int c = 0; c <= hi; c++) {
		if (!(cpus[c / 64] & (1ULL << (c % 64))))
			continue;
		int e = c;
		while (e + 1 <= hi &&
		       (cpus[(e + 1) / 64] & (1ULL << ((e + 1) % 64))))
			e++;
		sb_printf(b, first ? "%d" : ",%d", c);
		if (e > c)
			sb_printf(b, "-%d", e);
		first = false;
		c = e;
	}
	sb_printf(b, "\n");
}

static int show_status(const struct proc_req *r, struct sbuf *b)
{
	struct tinfo ti;
	int err = get_tinfo(r, &ti);
	if (err < 0)
		return err;
	struct msnap s;
	uint64_t res, sh;
	err = mem_figures(r, &s, &res, &sh);
	if (err < 0)
		return err;
	msnap_free(&s);
	uint32_t umask = 022;
	struct fs_struct *fs = proc_get_fs(r->k, r->n);
	if (fs) {
		umask = fs_struct_umask(fs, -1);
		fs_struct_put(fs);
	}
	int fdsize = 0;
	struct fdtable *fdt = proc_get_fdt(r->k, r->n);
	if (fdt) {
		pthread_mutex_lock(&fdt->lock);
		fdsize = fdt->size;
		pthread_mutex_unlock(&fdt->lock);
		fdtable_put(fdt);
	}
	const struct creds *c = &ti.cred;
	sb_printf(b, "Name:\t");
	put_path_escaped(b, ti.comm, "\n\\");
	sb_printf(b, "\nUmask:\t%04o\nState:\t%s\n", umask,
		  state_name(ti.state));
	sb_printf(b,
		  "Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n",
		  ti.tgid, ti.tid, ti.ppid);
	sb_printf(b, "Uid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\n", c->ruid,
		  c->euid, c->suid, c->fsuid, c->rgid, c->egid, c->sgid,
		  c->fsgid);
	sb_printf(b, "FDSize:\t%d\nGroups:\t", fdsize);
	for (uint32_t i = 0;
	     i < c->ngroups && i < sizeof(c->groups) / sizeof(c->groups[0]);
	     i++)
		sb_printf(b, "%u ", c->groups[i]);
	sb_printf(b, "\nNStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\n",
		  ti.tgid, ti.tid, ti.pgid, ti.sid);
	if (s.total) {
		sb_printf(b,
			  "VmSize:\t%8" PRIu64 " kB\nVmRSS:\t%8" PRIu64
			  " kB\nVmData:\t%8" PRIu64 " kB\nVmStk:\t%8" PRIu64
			  " kB\nVmExe:\t%8" PRIu64 " kB\n",
			  s.total >> 10, res * 4, s.data >> 10, s.stack >> 10,
			  s.exec >> 10);
	}
	sb_printf(b, "Threads:\t%d\n", ti.nthreads);
	put_sigset(b, "SigPnd", ti.sigpnd);
	put_sigset(b, "ShdPnd", ti.shdpnd);
	put_sigset(b, "SigBlk", ti.blocked);
	put_sigset(b, "SigIgn", ti.ignored);
	put_sigset(b, "SigCgt", ti.caught);
	sb_printf(b,
		  "CapInh:\t%016" PRIx64 "\nCapPrm:\t%016" PRIx64
		  "\nCapEff:\t%016" PRIx64 "\nCapBnd:\t%016" PRIx64
		  "\nCapAmb:\t%016" PRIx64 "\nNoNewPrivs:\t%d\n",
		  c->cap_inheritable, c->cap_permitted, c->cap_effective,
		  c->cap_bounding, c->cap_ambient, c->no_new_privs ? 1 : 0);
	/* The workload's own filters (the sandbox's are not its). */
	sb_printf(b, "Seccomp:\t%d\nSeccomp_filters:\t%d\n", ti.seccomp_mode,
		  ti.seccomp_filters);
	put_cpus(b, ti.cpus);
	sb_printf(b, "Mems_allowed:\t1\nMems_allowed_list:\t0\n");
	sb_printf(b,
		  "voluntary_ctxt_switches:\t%ld\n"
		  "nonvoluntary_ctxt_switches:\t%ld\n",
		  ti.nvcsw, ti.nivcsw);
	return 0;
}

static int show_statm(const struct proc_req *r, struct sbuf *b)
{
	struct msnap s;
	uint64_t res, sh;
	int err = mem_figures(r, &s, &res, &sh);
	if (err < 0)
		return err;
	msnap_free(&s);
	/* size resident shared text lib data dt, in pages; lib and dt are
	 * always 0 on Linux. */
	sb_printf(b,
		  "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " 0 %" PRIu64
		  " 0\n",
		  (uint64_t)(s.total / MM_PAGE), res, sh,
		  (uint64_t)(s.exec / MM_PAGE),
		  (uint64_t)((s.data + s.stack) / MM_PAGE));
	return 0;
}

/* ---- cmdline, environ, comm --------------------------------------------- */

/* Linux reads at most this much of a process's arguments per open. */
#define ARGS_MAX (4u << 20)

static int read_area(const struct proc_req *r, bool env, struct sbuf *b)
{
	struct mm *mm = proc_get_mm(r->k, r->n);
	if (!mm)
		return 0;
	pthread_mutex_lock(&mm->lock);
	uint64_t start = env ? mm->env_start : mm->arg_start;
	uint64_t end = env ? mm->env_end : mm->arg_end;
	uint64_t env_end = mm->env_end;
	pthread_mutex_unlock(&mm->lock);
	int err = 0;
	/* 0 until the loader records them: nothing to show. */
	if (!start || end <= start)
		goto out;
	if (end - start > ARGS_MAX)
		end = start + ARGS_MAX;
	uint64_t len = end - start;
	char *buf = malloc(len);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	/* Page by page: the area may have been unmapped in part. */
	uint64_t got = 0;
	while (got < len) {
		uint64_t a = start + got;
		uint64_t n = MM_PAGE - (a & (MM_PAGE - 1));
		if (n > len - got)
			n = len - got;
		if (proc_mm_read(r->k, mm, buf + got, a, n) < 0)
			break;
		got += n;
	}
	if (!env && got == len && len && buf[len - 1] != '\0' &&
	    env_end > end) {
		/* The process rewrote its arguments over the end (as
		 * setproctitle does): Linux then shows one string, which
		 * may run on into the environment. */
		size_t l = strnlen(buf, len);
		if (l < len) {
			sb_put(b, buf, l);
		} else {
			sb_put(b, buf, len);
			char page[256];
			uint64_t a = end;
			uint64_t lim =
			    env_end - end > ARGS_MAX ? end + ARGS_MAX : env_end;
			while (a < lim) {
				size_t n = sizeof(page);
				if (n > lim - a)
					n = (size_t)(lim - a);
				if (proc_mm_read(r->k, mm, page, a, n) < 0)
					break;
				size_t m = strnlen(page, n);
				sb_put(b, page, m);
				if (m < n)
					break;
				a += n;
			}
		}
	} else if (!env && got == len && len) {
		sb_put(b, buf, len);
	} else {
		sb_put(b, buf, got);
	}
	free(buf);
out:
	mm_put(r->k->plat, mm);
	return err;
}

static int show_cmdline(const struct proc_req *r, struct sbuf *b)
{
	return read_area(r, false, b);
}

static int show_environ(const struct proc_req *r, struct sbuf *b)
{
	return read_area(r, true, b);
}

static int show_comm(const struct proc_req *r, struct sbuf *b)
{
	struct tinfo ti;
	int err = get_tinfo(r, &ti);
	if (err < 0)
		return err;
	sb_printf(b, "%s\n", ti.comm);
	return 0;
}

static long store_comm(const struct proc_req *r, const char *buf, size_t n)
{
	char name[16] = {0};
	size_t l = n < sizeof(name) - 1 ? n : sizeof(name) - 1;
	/* As Linux: the bytes as written, a newline too. */
	memcpy(name, buf, l);
	struct task *t;
	long ret = (long)n;
	pthread_mutex_lock(&r->k->lock);
	struct thread_group *tg = proc_find_locked(r->k, r->n, &t);
	if (!tg)
		ret = -ESRCH;
	else if (!r->reader || tg != r->reader->tg)
		ret = -EINVAL; /* Linux: only within the thread group */
	else
		memcpy(t->comm, name, sizeof(t->comm));
	pthread_mutex_unlock(&r->k->lock);
	return ret;
}

/* ---- limits, cgroup, oom_score_adj -------------------------------------- */

static int show_limits(const struct proc_req *r, struct sbuf *b)
{
	static const struct {
		const char *name, *unit;
	} names[SENTRY_RLIM_NLIMITS] = {
	    {"Max cpu time", "seconds"},     {"Max file size", "bytes"},
	    {"Max data size", "bytes"},	     {"Max stack size", "bytes"},
	    {"Max core file size", "bytes"}, {"Max resident set", "bytes"},
	    {"Max processes", "processes"},  {"Max open files", "files"},
	    {"Max locked memory", "bytes"},  {"Max address space", "bytes"},
	    {"Max file locks", "locks"},     {"Max pending signals", "signals"},
	    {"Max msgqueue size", "bytes"},  {"Max nice priority", NULL},
	    {"Max realtime priority", NULL}, {"Max realtime timeout", "us"},
	};
	struct tinfo ti;
	int err = get_tinfo(r, &ti);
	if (err < 0)
		return err;
	sb_printf(b, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit",
		  "Hard Limit", "Units");
	for (int i = 0; i < SENTRY_RLIM_NLIMITS; i++) {
		uint64_t v[2] = {ti.rlim[i].rlim_cur, ti.rlim[i].rlim_max};
		sb_printf(b, "%-25s ", names[i].name);
		for (int j = 0; j < 2; j++) {
			if (v[j] == RLIM_INFINITY)
				sb_printf(b, "%-20s ", "unlimited");
			else
				sb_printf(b, "%-20" PRIu64 " ", v[j]);
		}
		if (names[i].unit)
			sb_printf(b, "%-10s", names[i].unit);
		sb_printf(b, "\n");
	}
	return 0;
}

static int show_cgroup(const struct proc_req *r, struct sbuf *b)
{
	struct tinfo ti;
	int err = get_tinfo(r, &ti);
	if (err < 0)
		return err;
	/* One cgroup v2 hierarchy, the sandbox at its root (what a
	 * container with its own cgroup namespace sees). */
	sb_printf(b, "0::/\n");
	return 0;
}

static int show_oom_score_adj(const struct proc_req *r, struct sbuf *b)
{
	struct tinfo ti;
	int err = get_tinfo(r, &ti);
	if (err < 0)
		return err;
	sb_printf(b, "%d\n", ti.oom_score_adj);
	return 0;
}

#define CAP_SYS_RESOURCE_ 24

static long store_oom_score_adj(const struct proc_req *r, const char *buf,
				size_t n)
{
	char tmp[32];
	size_t l = n < sizeof(tmp) - 1 ? n : sizeof(tmp) - 1;
	memcpy(tmp, buf, l);
	tmp[l] = '\0';
	char *end;
	errno = 0;
	long v = strtol(tmp, &end, 10);
	while (*end == ' ' || *end == '\n' || *end == '\t')
		end++;
	if (end == tmp || *end || errno)
		return -EINVAL;
	if (v < -1000 || v > 1000)
		return -EINVAL;
	long ret = (long)n;
	struct task *t;
	pthread_mutex_lock(&r->k->lock);
	struct thread_group *tg = proc_find_locked(r->k, r->n, &t);
	if (!tg)
		ret = -ESRCH;
	else if (v < tg->oom_score_adj &&
		 !(r->reader &&
		   vfs_capable(&r->reader->cred, CAP_SYS_RESOURCE_)))
		ret = -EACCES; /* lowering it is privileged, as Linux */
	else
		tg->oom_score_adj = (int)v;
	pthread_mutex_unlock(&r->k->lock);
	return ret;
}

/* ---- mounts and mountinfo ----------------------------------------------- */

struct mounts_ctx {
	struct sbuf *b;
	struct vfs_path root; /* the process's root: mounts are shown from it */
	bool info;
	char *buf;
};

static void mnt_opts(struct sbuf *b, unsigned flags)
{
	sb_printf(b, "%s", (flags & VFS_MNT_RDONLY) ? "ro" : "rw");
	if (flags & VFS_MNT_NOSUID)
		sb_printf(b, ",nosuid");
	if (flags & VFS_MNT_NODEV)
		sb_printf(b, ",nodev");
	if (flags & VFS_MNT_NOEXEC)
		sb_printf(b, ",noexec");
	sb_printf(b, ",relatime");
}

/* The path of a mount's root inside its file system ("/" for the whole
 * file system, the directory a bind mount shows otherwise). */
static int sb_relative(struct vfs_dentry *d, char *buf, size_t len)
{
	size_t end = len;
	buf[--end] = '\0';
	struct vfs_dentry *cur = vfs_dget(d);
	while (cur) {
		struct vfs_dentry *parent = vfs_d_parent(cur);
		if (parent == cur) {
			vfs_dput(parent);
			break;
		}
		char name[256];
		vfs_d_name(cur, name, sizeof(name));
		size_t nl = strlen(name);
		if (nl + 1 > end) {
			vfs_dput(parent);
			vfs_dput(cur);
			return -ERANGE;
		}
		end -= nl;
		memcpy(buf + end, name, nl);
		buf[--end] = '/';
		vfs_dput(cur);
		cur = parent;
	}
	vfs_dput(cur);
	if (end == len - 1)
		buf[--end] = '/';
	memmove(buf, buf + end, len - end);
	return 0;
}

static int mounts_fn(struct vfs_mount *m, void *arg)
{
	struct mounts_ctx *c = arg;
	struct sbuf *b = c->b;
	struct vfs_path at = m->parent
				 ? (struct vfs_path){m->parent, m->mountpoint}
				 : (struct vfs_path){m, m->root};
	bool reach = false;
	long n = vfs_path_string(&c->root, &at, c->buf, PATH_MAX + 64, &reach);
	/* Linux shows only the mounts under the process's root. */
	if (n < 0 || !reach)
		return 0;
	const char *src = m->source ? m->source : "none";
	if (c->info) {
		char *rel = malloc(PATH_MAX + 64);
		if (!rel || sb_relative(m->root, rel, PATH_MAX + 64) < 0) {
			free(rel);
			return 0;
		}
		unsigned maj = major(m->sb->dev), min = minor(m->sb->dev);
		sb_printf(b, "%d %d %u:%u ", m->id,
			  m->parent ? m->parent->id : m->id, maj, min);
		put_path_escaped(b, rel, " \t\n\\");
		sb_put(b, " ", 1);
		put_path_escaped(b, c->buf, " \t\n\\");
		sb_put(b, " ", 1);
		mnt_opts(b, m->flags);
		sb_printf(b, " - %s ", m->sb->type);
		put_path_escaped(b, src, " \t\n\\");
		sb_printf(b, " %s\n",
			  (m->sb->flags & VFS_SB_RDONLY) ? "ro" : "rw");
		free(rel);
	} else {
		put_path_escaped(b, src, " \t\n\\");
		sb_put(b, " ", 1);
		put_path_escaped(b, c->buf, " \t\n\\");
		sb_printf(b, " %s ", m->sb->type);
		mnt_opts(b, m->flags);
		sb_printf(b, " 0 0\n");
	}
	return 0;
}

static int show_mounts_common(const struct proc_req *r, struct sbuf *b,
			      bool info)
{
	struct fs_struct *fs = proc_get_fs(r->k, r->n);
	if (!fs)
		return 0;
	struct mounts_ctx c = {b, {NULL, NULL}, info, NULL};
	fs_struct_get_root(fs, &c.root);
	fs_struct_put(fs);
	c.buf = malloc(PATH_MAX + 64);
	int err =
	    c.buf ? vfs_mounts_foreach(c.root.mnt->ns, mounts_fn, &c) : -ENOMEM;
	free(c.buf);
	vfs_path_put(&c.root);
	return err < 0 ? err : 0;
}

static int show_mounts(const struct proc_req *r, struct sbuf *b)
{
	return show_mounts_common(r, b, false);
}

static int show_mountinfo(const struct proc_req *r, struct sbuf *b)
{
	return show_mounts_common(r, b, true);
}

/* ---- the tables ---------------------------------------------------------- */

#define FILE_RO(n, fn)                                                         \
	{                                                                      \
		n, S_IFREG | 0444, PK_FILE, fn, NULL, NULL, 0, NULL, false     \
	}
#define FILE_RW(n, fn, st)                                                     \
	{                                                                      \
		n, S_IFREG | 0644, PK_FILE, fn, st, NULL, 0, NULL, false       \
	}
#define FILE_PRIV(n, fn)                                                       \
	{                                                                      \
		n, S_IFREG | 0400, PK_FILE, fn, NULL, NULL, 0, NULL, true      \
	}
#define NODE(n, mode, kind)                                                    \
	{                                                                      \
		n, mode, kind, NULL, NULL, NULL, 0, NULL, false                \
	}

/* "task" first: a thread's table is this one without it. */
const struct proc_ent proc_tgid_ents[] = {
    NODE("task", S_IFDIR | 0555, PK_TASKDIR),
    NODE("fd", S_IFDIR | 0500, PK_FDDIR),
    NODE("fdinfo", S_IFDIR | 0500, PK_FDINFODIR),
    NODE("exe", S_IFLNK | 0777, PK_EXE),
    NODE("cwd", S_IFLNK | 0777, PK_CWD),
    NODE("root", S_IFLNK | 0777, PK_ROOT),
    FILE_RO("cmdline", show_cmdline),
    FILE_RW("comm", show_comm, store_comm),
    FILE_PRIV("environ", show_environ),
    FILE_RO("stat", show_stat),
    FILE_RO("status", show_status),
    FILE_RO("statm", show_statm),
    FILE_RO("maps", show_maps),
    FILE_RO("mounts", show_mounts),
    FILE_RO("mountinfo", show_mountinfo),
    FILE_RO("limits", show_limits),
    FILE_RO("cgroup", show_cgroup),
    FILE_RW("oom_score_adj", show_oom_score_adj, store_oom_score_adj),
};
const size_t proc_tgid_nents =
    sizeof(proc_tgid_ents) / sizeof(proc_tgid_ents[0]);
const struct proc_ent *const proc_tid_ents = &proc_tgid_ents[1];
const size_t proc_tid_nents =
    sizeof(proc_tgid_ents) / sizeof(proc_tgid_ents[0]) - 1;
