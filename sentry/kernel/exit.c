/* Exit and wait: a thread leaving, its process becoming a zombie once the
 * last thread is gone, orphans going to the nearest subreaper or to pid 1,
 * the parent told (SIGCHLD or auto-reaping), and wait4/waitid. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "../../lib/log.h"
#include "../mm/mm.h"
#include "../vfs/vfs.h"
#include "fdtable.h"
#include "futex.h"
#include "kernel.h"
#include "seccomp.h"
#include "../sentry.h"
#include "timer.h"

#define CLD_EXITED_ 1
#define CLD_KILLED_ 2
#define CLD_DUMPED_ 3
#define CLD_STOPPED_ 5
#define CLD_CONTINUED_ 6
#define SA_NOCLDWAIT_ 0x00000002
#define P_PIDFD_ 3

/* --- CPU time ------------------------------------------------------------------ */

/* CPU time is measured per stub process (the host lets the sentry read
 * another process's CPU clock, not another process's thread's): a sandbox
 * thread reports its process's time (the table marks this partial). */
static uint64_t process_clock_ns(pid_t pid, int which)
{
	/* MAKE_PROCESS_CPUCLOCK: 0 PROF (user + system), 1 VIRT (user). */
	clockid_t id = (clockid_t)((~(unsigned)pid) << 3) | which;
	struct timespec ts;
	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void mm_cputime(struct kernel *k, struct mm *mm, uint64_t *utime,
		uint64_t *stime)
{
	*utime = *stime = 0;
	if (!mm || !mm->as)
		return;
	pid_t pid = k->plat->as_host_pid(mm->as);
	uint64_t prof = process_clock_ns(pid, 0);
	uint64_t virt = process_clock_ns(pid, 1);
	*utime = virt;
	*stime = prof > virt ? prof - virt : 0;
}

void task_cputime(struct task *t, uint64_t *utime, uint64_t *stime)
{
	mm_cputime(t->k, t->mm, utime, stime);
	*utime += t->tg->dead_utime_ns;
	*stime += t->tg->dead_stime_ns;
}

/* k->lock held. */
void tg_cputime(struct thread_group *tg, uint64_t *utime, uint64_t *stime)
{
	*utime = tg->dead_utime_ns;
	*stime = tg->dead_stime_ns;
	list_for_each(pos, &tg->threads) {
		struct task *x = list_entry(pos, struct task, tg_link);
		if (x->mm) {
			task_cputime(x, utime, stime);
			return;
		}
	}
}

int task_own_cputime(struct task *t, uint64_t *utime, uint64_t *stime)
{
	struct rusage ru;
	int err = t->k->plat->thread_rusage(t->th, RUSAGE_SELF, &ru);
	if (err < 0)
		return err;
	pthread_mutex_lock(&t->k->lock);
	*utime = t->tg->dead_utime_ns;
	*stime = t->tg->dead_stime_ns;
	pthread_mutex_unlock(&t->k->lock);
	*utime += (uint64_t)ru.ru_utime.tv_sec * 1000000000ULL +
		  (uint64_t)ru.ru_utime.tv_usec * 1000;
	*stime += (uint64_t)ru.ru_stime.tv_sec * 1000000000ULL +
		  (uint64_t)ru.ru_stime.tv_usec * 1000;
	return 0;
}

/* t's stub goes with t (t is its last user and still holds its
 * thread). */
static bool stub_goes(struct task *t)
{
	return t->mm && t->th && atomic_load(&t->mm->users) == 1;
}

void tg_account_stub_begin(struct task *t)
{
	if (!t->k->plat->thread_rusage_ask || !t->mm || !t->th)
		return;
	/* The stub goes: its usage joins the process's record
	 * (tg_account_stub). It stays (a thread leaving a process that
	 * goes on, a vfork child's exec): the platform may keep the host
	 * thread for a later clone, reading its own usage first (systrap's
	 * thread_park). Asked now, the stub thread wakes and answers while
	 * the caller works on: the wake was 80-390 us on a vfork child's
	 * exec, between its parent's release and its new image's start. */
	t->k->plat->thread_rusage_ask(t->th,
				      stub_goes(t) ? RUSAGE_SELF : RUSAGE_THREAD);
}

void ru_counts_add(struct ru_counts *a, const struct ru_counts *b)
{
	a->minflt += b->minflt;
	a->majflt += b->majflt;
	a->inblock += b->inblock;
	a->oublock += b->oublock;
	a->nvcsw += b->nvcsw;
	a->nivcsw += b->nivcsw;
}

struct ru_counts ru_counts_of(const struct rusage *ru)
{
	return (struct ru_counts){ ru->ru_minflt, ru->ru_majflt,
				   ru->ru_inblock, ru->ru_oublock,
				   ru->ru_nvcsw, ru->ru_nivcsw };
}

void ru_counts_into(struct rusage *ru, const struct ru_counts *c)
{
	ru->ru_minflt += c->minflt;
	ru->ru_majflt += c->majflt;
	ru->ru_inblock += c->inblock;
	ru->ru_oublock += c->oublock;
	ru->ru_nvcsw += c->nvcsw;
	ru->ru_nivcsw += c->nivcsw;
}

/* t's stub is about to go: its CPU time, peak memory, faults, block I/O
 * and context switches join t's process's record. */
void tg_account_stub(struct task *t)
{
	struct rusage ru;
	if (!stub_goes(t))
		return;
	if (t->k->plat->thread_rusage(t->th, RUSAGE_SELF, &ru) < 0)
		return;
	/* getrusage reads the host's per-CPU batched page counts, which
	 * for a small stub can still say 0; statm sums them. Otherwise the
	 * figure stays as Linux gives it (its own exit reads the same
	 * batched counts), sparing a read of /proc (some 20 us here). */
	if (ru.ru_maxrss <= 0) {
		uint64_t res, sh;
		sentry_stub_rss(t->k->plat->as_host_pid(t->mm->as), &res,
				&sh);
		if ((long)(res * 4) > ru.ru_maxrss)
			ru.ru_maxrss = (long)(res * 4);
	}

	pthread_mutex_lock(&t->k->lock);
	struct thread_group *tg = t->tg;
	tg->dead_utime_ns += (uint64_t)ru.ru_utime.tv_sec * 1000000000ULL +
			     (uint64_t)ru.ru_utime.tv_usec * 1000;
	tg->dead_stime_ns += (uint64_t)ru.ru_stime.tv_sec * 1000000000ULL +
			     (uint64_t)ru.ru_stime.tv_usec * 1000;
	if (ru.ru_maxrss > tg->maxrss)
		tg->maxrss = ru.ru_maxrss;
	struct ru_counts c = ru_counts_of(&ru);
	ru_counts_add(&tg->dead_ru, &c);
	pthread_mutex_unlock(&t->k->lock);
}

/* --- reaping ---------------------------------------------------------------------- */

void tg_free(struct thread_group *tg)
{
	if (!tg)
		return;
	sigpending_flush(&tg->shared_pending);
	sighand_put(tg->sighand);
	if (tg->leader) {
		sigpending_flush(&tg->leader->pending);
		free(tg->leader->fpbuf);
		free(tg->leader);
	}
	free(tg->exe_path);
	free(tg);
}

/* Removes a zombie for good; k->lock held. */
static void release_tg(struct kernel *k, struct thread_group *tg)
{
	struct thread_group *parent = tg->parent;
	if (parent) {
		parent->child_utime_ns += tg->dead_utime_ns + tg->child_utime_ns;
		parent->child_stime_ns += tg->dead_stime_ns + tg->child_stime_ns;
		long m = tg->maxrss > tg->child_maxrss ? tg->maxrss : tg->child_maxrss;
		if (m > parent->child_maxrss)
			parent->child_maxrss = m;
		ru_counts_add(&parent->child_ru, &tg->dead_ru);
		ru_counts_add(&parent->child_ru, &tg->child_ru);
	}
	tg->reaped = true;
	/* Its pidfds hang up now. */
	waitq_wake_all(&k->exit_wait);
	list_del(&tg->sibling);
	list_del(&tg->link);
	if (tg->leader) {
		pid_hash_del(k, tg->leader);
		list_del(&tg->leader->link);
	}
	tg_free(tg);
}

static int wait_status_to_code(int status, int *code)
{
	if (WIFEXITED(status)) {
		*code = CLD_EXITED_;
		return WEXITSTATUS(status);
	}
	*code = (status & 0x80) ? CLD_DUMPED_ : CLD_KILLED_;
	return WTERMSIG(status);
}

/* Tells the parent a child process ended: its exit signal and a wake-up
 * of its waiters, or an immediate reap if the parent does not want
 * zombies. Returns true if tg was reaped. k->lock held. */
static bool notify_parent_exit(struct kernel *k, struct thread_group *tg)
{
	struct thread_group *parent = tg->parent;
	if (!parent)
		return false;
	int code, st = wait_status_to_code(tg->exit_status, &code);
	bool autoreap = false;
	if (tg->exit_signal == SIGCHLD) {
		struct k_sigaction *a = &parent->sighand->action[SIGCHLD - 1];
		if (a->handler == KSIG_IGN || (a->flags & SA_NOCLDWAIT_))
			autoreap = true;
		if (a->handler == KSIG_IGN)
			goto woken;
	}
	if (tg->exit_signal) {
		struct ksiginfo info;
		memset(&info, 0, sizeof(info));
		info.signo = tg->exit_signal;
		info.code = code;
		info.chld.pid = tg->tgid;
		info.chld.uid = tg->leader ? tg->leader->cred.ruid : 0;
		info.chld.status = st;
		info.chld.utime = (int64_t)(tg->dead_utime_ns / 10000000ULL);
		info.chld.stime = (int64_t)(tg->dead_stime_ns / 10000000ULL);
		struct task *to = parent->leader;
		if (to && parent->nr_threads > 0)
			send_signal_locked(to, tg->exit_signal, &info, true);
	}
woken:
	waitq_wake_all(&parent->child_wait);
	if (autoreap) {
		release_tg(k, tg);
		return true;
	}
	return false;
}

static struct task *live_thread(struct thread_group *tg)
{
	list_for_each(pos, &tg->threads) {
		struct task *x = list_entry(pos, struct task, tg_link);
		if (!x->exiting)
			return x;
	}
	return NULL;
}

/* Where the children of a dying process go: the nearest living subreaper
 * ancestor, else pid 1. */
static struct thread_group *find_reaper(struct kernel *k,
					struct thread_group *dying)
{
	if (dying->has_subreaper_ancestor)
		for (struct thread_group *a = dying->parent; a; a = a->parent)
			if (a->subreaper && a->nr_threads > 0 && !a->group_exit)
				return a;
	struct thread_group *init = k->init;
	if (init && init != dying && init->nr_threads > 0)
		return init;
	return NULL;
}

static void send_pdeath(struct thread_group *child)
{
	struct task *leader = child->leader;
	if (leader && leader->pdeath_signal && child->nr_threads > 0)
		send_signal_locked(leader, leader->pdeath_signal, NULL, true);
}

/* The thread t is leaving: children it made go to another thread of its
 * process (with their PDEATHSIG, which follows the parent *thread* on
 * Linux); when the process is dying, to the reaper. k->lock held. */
static void forget_children(struct kernel *k, struct task *t, bool process_dies)
{
	struct thread_group *tg = t->tg;
	struct task *other = process_dies ? NULL : live_thread(tg);

	if (!process_dies) {
		list_for_each(pos, &tg->children) {
			struct thread_group *c =
				list_entry(pos, struct thread_group, sibling);
			if (c->parent_task == t) {
				c->parent_task = other;
				send_pdeath(c);
			}
		}
		return;
	}
	struct thread_group *reaper = find_reaper(k, tg);
	list_for_each_safe(pos, &tg->children) {
		struct thread_group *c =
			list_entry(pos, struct thread_group, sibling);
		list_del(&c->sibling);
		if (!reaper) {
			/* pid 1 is gone: the sandbox is ending and nobody
			 * will wait; zombies go now. */
			c->parent = NULL;
			list_init(&c->sibling);
			if (c->zombie)
				release_tg(k, c);
			continue;
		}
		c->parent = reaper;
		c->parent_task = live_thread(reaper);
		c->exit_signal = SIGCHLD;
		list_add_tail(&reaper->children, &c->sibling);
		send_pdeath(c);
		if (c->zombie)
			notify_parent_exit(k, c);
	}
}

/* pid 1 has ended: every other process dies (as in a pid namespace). */
static void kill_everything(struct kernel *k)
{
	k->shutting_down = true;
	list_for_each(pos, &k->groups) {
		struct thread_group *g = list_entry(pos, struct thread_group, link);
		if (!g->zombie)
			group_exit_locked(g, SIGKILL);
	}
}

void task_exit(struct task *t, int code)
{
	struct kernel *k = t->k;
	struct thread_group *tg = t->tg;
	const struct platform_ops *plat = k->plat;

	t->out_defer = false; /* from here every copy is made at once */
	t->in_ahead = false; /* and every read reads */
	task_out_flush(t); /* a vfork parent shares the memory */
	pthread_mutex_lock(&k->lock);
	t->exiting = true;
	t->exit_code = code;
	/* A process whose threads all call exit() ends with the status of the
	 * last one out; recorded before the tid word wakes anyone, so that a
	 * thread joining us exits after us, as on Linux. */
	if (!tg->group_exit)
		tg->exit_status = (code & 0xff) << 8;
	pthread_mutex_unlock(&k->lock);

	/* The stub thread answers while the robust list and the tid word
	 * are handled. */
	tg_account_stub_begin(t);
	/* What needs the address space: robust futexes and the tid word. */
	if (t->mm && t->th) {
		futex_exit_robust_list(t);
		if (t->clear_child_tid) {
			uint32_t zero = 0;
			if (task_copy_out(t, t->clear_child_tid, &zero, 4) == 0)
				futex_wake_addr(t, t->clear_child_tid, 1);
		}
	}

	tg_account_stub(t);
	/* The last thread of a process lets its stub go after telling the
	 * parent (late): nothing the parent can see waits for that, and its
	 * wake-up overlaps the thread's release and the stub's kill. The mm
	 * itself goes before, as on Linux: a parent that reaped the child
	 * may write the program it ran (ETXTBSY before). Not pid 1, which
	 * ends the sandbox. */
	bool late = stub_goes(t);
	pthread_mutex_lock(&k->lock);
	late = late && tg != k->init;
	vfork_release_locked(t);
	struct plat_thread *th = t->th;
	t->th = NULL; /* no more interrupts */
	pthread_mutex_unlock(&k->lock);

	if (th && !late)
		plat->thread_release(th);
	/* Detached under k->lock before they are put: procfs takes its own
	 * references to another task's mm, fd table and fs under it. */
	pthread_mutex_lock(&k->lock);
	struct mm *mm = t->mm;
	struct fdtable *fdt = t->fdt;
	struct fs_struct *fs = t->fs;
	t->mm = NULL;
	t->fdt = NULL;
	t->fs = NULL;
	/* Only now is the count final: procfs takes references from t->mm
	 * under this lock. A reader holding one would destroy the address
	 * space under a late release. */
	if (late && atomic_load(&mm->users) != 1) {
		late = false;
		pthread_mutex_unlock(&k->lock);
		plat->thread_release(th);
	} else {
		pthread_mutex_unlock(&k->lock);
	}
	struct plat_as *late_as = NULL;
	if (late)
		mm_put_keep_as(mm, &late_as);
	else
		mm_put(plat, mm);
	fdtable_put(fdt);
	fs_struct_put(fs);
	free(t->fpbuf);
	t->fpbuf = NULL;
	kseccomp_release(t);

	pthread_mutex_lock(&k->lock);
	list_del(&t->tg_link);
	tg->nr_threads--;
	if (tg->exec_waiter)
		task_wake(tg->exec_waiter);
	if (tg->stopping && !t->stop_counted && --tg->nr_stop_pending <= 0 &&
	    tg->nr_threads > 0 && !tg->stopped)
		tg->stopped = true;
	bool process_dies = tg->nr_threads == 0;
	/* Thread pidfds poll for any thread's exit (a process's wakes below). */
	if (!process_dies)
		waitq_wake_all(&k->exit_wait);
	/* A parent that wants no zombies reaps tg at once below, and the
	 * leader's task struct (maybe t) goes with it. */
	struct task *leader = tg->leader;
	forget_children(k, t, process_dies);
	if (process_dies) {
		timers_exit_locked(tg);
		tg->zombie = true;
		if (tg == k->init) {
			k->init_status = tg->exit_status;
			kill_everything(k);
			if (tg->parent == NULL) {
				/* Nobody reaps pid 1: release it with its last
				 * thread (the leader goes with the group). */
			}
		}
		if (t != tg->leader) {
			/* The leader's task struct stays with the zombie. */
		}
		notify_parent_exit(k, tg);
		waitq_wake_all(&k->exit_wait);
	}
	bool free_task = t != leader;
	if (free_task) {
		pid_hash_del(k, t);
		list_del(&t->link);
	}
	if (process_dies && tg == k->init && !tg->parent && !tg->reaped) {
		/* Processes still dying ask for pid 1 as their children's
		 * reaper (find_reaper): it must not name freed memory. */
		k->init = NULL;
		release_tg(k, tg); /* frees the leader too */
	}
	if (!late && --k->nr_tasks == 0)
		pthread_cond_broadcast(&k->tasks_gone);
	pthread_mutex_unlock(&k->lock);

	if (late) {
		/* tg and the leader may be reaped by now: only our own
		 * references from here. */
		plat->thread_release(th);
		if (late_as)
			plat->as_destroy(late_as);
		pthread_mutex_lock(&k->lock);
		if (--k->nr_tasks == 0)
			pthread_cond_broadcast(&k->tasks_gone);
		pthread_mutex_unlock(&k->lock);
	}
	if (free_task) {
		sigpending_flush(&t->pending);
		free(t);
	}
	task_thread_done();
}

/* --- wait ----------------------------------------------------------------------------- */

struct wait_result {
	int pid;
	int status; /* wait4 */
	int code, sstatus; /* waitid */
	uint32_t uid;
	uint64_t utime_ns, stime_ns;
	long maxrss;
	struct ru_counts ru;
};

static bool wait_match(const struct thread_group *c, int type, int id,
		       int options)
{
	switch (type) {
	case P_PID:
		if (c->tgid != id)
			return false;
		break;
	case P_PGID:
		if (c->pgid != id)
			return false;
		break;
	default:
		break;
	}
	if (options & __WALL)
		return true;
	/* A "clone" child tells its parent with something else than
	 * SIGCHLD: waited for with __WCLONE only. */
	bool clone_child = c->exit_signal != SIGCHLD;
	return clone_child == !!(options & __WCLONE);
}

/* One pass over t's children; k->lock held. 1: *res filled; 0: children
 * match but none is ready; -ECHILD: none matches. */
static int wait_scan(struct task *t, int type, int id, int options,
		     struct wait_result *res)
{
	struct kernel *k = t->k;
	bool any = false;

	list_for_each_safe(pos, &t->tg->children) {
		struct thread_group *c =
			list_entry(pos, struct thread_group, sibling);
		if (!wait_match(c, type, id, options))
			continue;
		any = true;
		memset(res, 0, sizeof(*res));
		res->pid = c->tgid;
		res->uid = c->leader ? c->leader->cred.ruid : 0;
		if (c->zombie && (options & WEXITED)) {
			res->status = c->exit_status;
			res->sstatus = wait_status_to_code(c->exit_status,
							     &res->code);
			/* The child's own and its reaped children's, as
			 * Linux's RUSAGE_BOTH. */
			res->utime_ns = c->dead_utime_ns + c->child_utime_ns;
			res->stime_ns = c->dead_stime_ns + c->child_stime_ns;
			res->maxrss = c->maxrss > c->child_maxrss
					      ? c->maxrss
					      : c->child_maxrss;
			res->ru = c->dead_ru;
			ru_counts_add(&res->ru, &c->child_ru);
			if (!(options & WNOWAIT))
				release_tg(k, c);
			return 1;
		}
		if ((options & WSTOPPED) && c->stopped && !c->stop_reported &&
		    c->nr_threads > 0) {
			res->status = 0x7f | (c->stop_signal << 8);
			res->code = CLD_STOPPED_;
			res->sstatus = c->stop_signal;
			tg_cputime(c, &res->utime_ns, &res->stime_ns);
			if (!(options & WNOWAIT))
				c->stop_reported = true;
			return 1;
		}
		if ((options & WCONTINUED) && c->continued &&
		    c->nr_threads > 0) {
			res->status = 0xffff;
			res->code = CLD_CONTINUED_;
			res->sstatus = SIGCONT;
			tg_cputime(c, &res->utime_ns, &res->stime_ns);
			if (!(options & WNOWAIT))
				c->continued = false;
			return 1;
		}
	}
	return any ? 0 : -ECHILD;
}

static long do_wait(struct task *t, int type, int id, int options,
		    struct wait_result *res)
{
	struct kernel *k = t->k;
	struct waiter w;
	long ret;

	waitq_add(&t->tg->child_wait, &w, t);
	for (;;) {
		uint32_t seq = task_wait_seq(t);
		pthread_mutex_lock(&k->lock);
		int r = wait_scan(t, type, id, options, res);
		pthread_mutex_unlock(&k->lock);
		if (r != 0) {
			ret = r;
			break;
		}
		if (options & WNOHANG) {
			ret = 0;
			break;
		}
		/* Linux's order: the children first, then signals. An exiting
		 * child makes itself reapable and then sends SIGCHLD, which
		 * wakes us; the wait returns the child, and the handler runs
		 * after it (not EINTR, even without SA_RESTART). */
		if (task_signal_pending(t)) {
			ret = -ERESTARTSYS;
			break;
		}
		task_sleep(t, seq, 0); /* woken or signalled: look again */
	}
	waitq_remove(&t->tg->child_wait, &w);
	return ret;
}

static void fill_rusage(struct rusage *ru, uint64_t utime_ns, uint64_t stime_ns,
			long maxrss, const struct ru_counts *c)
{
	memset(ru, 0, sizeof(*ru));
	ru->ru_maxrss = maxrss;
	if (c)
		ru_counts_into(ru, c);
	ru->ru_utime.tv_sec = (time_t)(utime_ns / 1000000000ULL);
	ru->ru_utime.tv_usec = (suseconds_t)(utime_ns % 1000000000ULL / 1000);
	ru->ru_stime.tv_sec = (time_t)(stime_ns / 1000000000ULL);
	ru->ru_stime.tv_usec = (suseconds_t)(stime_ns % 1000000000ULL / 1000);
}

long do_wait4(struct task *t, int pid, uint64_t status_addr, int options,
	      uint64_t rusage_addr)
{
	struct wait_result res;
	int type, id = 0;

	if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD |
			__WCLONE | __WALL))
		return -EINVAL;
	if (pid == INT32_MIN)
		return -ESRCH;
	if (pid > 0) {
		type = P_PID;
		id = pid;
	} else if (pid == -1) {
		type = P_ALL;
	} else if (pid == 0) {
		type = P_PGID;
		pthread_mutex_lock(&t->k->lock);
		id = t->tg->pgid;
		pthread_mutex_unlock(&t->k->lock);
	} else {
		type = P_PGID;
		id = -pid;
	}
	long r = do_wait(t, type, id, options | WEXITED, &res);
	if (r <= 0)
		return r;
	if (status_addr) {
		int err = task_copy_out(t, status_addr, &res.status, sizeof(int));
		if (err < 0)
			return err;
	}
	if (rusage_addr) {
		struct rusage ru;
		fill_rusage(&ru, res.utime_ns, res.stime_ns, res.maxrss, &res.ru);
		int err = task_copy_out(t, rusage_addr, &ru, sizeof(ru));
		if (err < 0)
			return err;
	}
	return res.pid;
}

long do_waitid(struct task *t, int which, int id, uint64_t info_addr,
	       int options, uint64_t rusage_addr)
{
	struct wait_result res;
	int type;

	if (options & ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED |
			__WNOTHREAD | __WCLONE | __WALL))
		return -EINVAL;
	if (!(options & (WEXITED | WSTOPPED | WCONTINUED)))
		return -EINVAL;
	switch (which) {
	case P_ALL:
		type = P_ALL;
		break;
	case P_PID:
		if (id <= 0)
			return -EINVAL;
		type = P_PID;
		break;
	case P_PGID:
		if (id < 0)
			return -EINVAL;
		type = P_PGID;
		if (id == 0) {
			pthread_mutex_lock(&t->k->lock);
			id = t->tg->pgid;
			pthread_mutex_unlock(&t->k->lock);
		}
		break;
	case P_PIDFD_: {
		int pid = pidfd_to_pid(t, id, NULL);
		/* A reaped process is no child of ours any more. */
		if (pid == -ESRCH)
			return -ECHILD;
		if (pid < 0)
			return pid;
		type = P_PID;
		id = pid;
		break;
	}
	default:
		return -EINVAL;
	}
	long r = do_wait(t, type, id, options, &res);
	if (r < 0)
		return r;
	if (info_addr) {
		struct ksiginfo si;
		memset(&si, 0, sizeof(si));
		if (r > 0) {
			si.signo = SIGCHLD;
			si.code = res.code;
			si.chld.pid = res.pid;
			si.chld.uid = res.uid;
			si.chld.status = res.sstatus;
		}
		int err = task_copy_out(t, info_addr, &si, sizeof(si));
		if (err < 0)
			return err;
	}
	if (rusage_addr) {
		struct rusage ru;
		fill_rusage(&ru, r > 0 ? res.utime_ns : 0, r > 0 ? res.stime_ns : 0,
			    r > 0 ? res.maxrss : 0, r > 0 ? &res.ru : NULL);
		int err = task_copy_out(t, rusage_addr, &ru, sizeof(ru));
		if (err < 0)
			return err;
	}
	return 0;
}

void vfork_release_locked(struct task *t)
{
	struct task *p = t->vfork_parent;
	if (!p)
		return;
	t->vfork_parent = NULL;
	atomic_store(&p->vfork_done, true);
	task_wake(p);
}
