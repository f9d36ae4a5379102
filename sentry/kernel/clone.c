/* fork, vfork, clone and clone3: a new task (thread) or thread group
 * (process). A new process's memory is a host fork of the parent's stub
 * (copy-on-write done by the host kernel); a thread or a CLONE_VM child is
 * a new host thread in the same stub. The sentry's own state (fd table,
 * signal handlers, fs) is shared or copied per the flags, as in Linux's
 * copy_process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "../mm/mm.h"
#include "../vfs/vfs.h"
#include "fdtable.h"
#include "kernel.h"
#include "seccomp.h"
#include "pidfd.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#define CLONE_NS_FLAGS                                                         \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |           \
	 CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP | 0x00000080 /* NEWTIME */)
#define SS_DISABLE_ 2

static int check_flags(struct task *t, const struct clone_args_k *ca)
{
	uint64_t f = ca->flags;

	if ((f & CLONE_THREAD) && !(f & CLONE_SIGHAND))
		return -EINVAL;
	if ((f & CLONE_SIGHAND) && !(f & CLONE_VM))
		return -EINVAL;
	if ((f & CLONE_NEWNS) && (f & CLONE_FS))
		return -EINVAL;
	if ((f & (CLONE_NEWUSER | CLONE_THREAD)) == (CLONE_NEWUSER | CLONE_THREAD))
		return -EINVAL;
	if ((f & CLONE_CLEAR_SIGHAND) && (f & CLONE_SIGHAND))
		return -EINVAL;
	if ((f & CLONE_PIDFD) && (f & CLONE_DETACHED))
		return -EINVAL;
	/* pid 1 has no parent to share: no siblings (Linux refuses init
	 * of a pid namespace the same way). */
	if ((f & CLONE_PARENT) && t->tg == t->k->init)
		return -EINVAL;
	if (f & CLONE_NS_FLAGS)
		return -EINVAL; /* namespaces: not in the sandbox (table note) */
	if (f & CLONE_INTO_CGROUP)
		return -EINVAL;
	return 0;
}

static struct task *task_alloc(struct task *parent)
{
	struct task *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->k = parent->k;
	n->cred = parent->cred;
	memcpy(n->comm, parent->comm, sizeof(n->comm));
	n->personality = parent->personality;
	n->sigmask = parent->sigmask;
	n->ss_sp = parent->ss_sp;
	n->ss_size = parent->ss_size;
	n->ss_flags = parent->ss_flags;
	n->regs = parent->regs;
	n->start_ns = monotonic_ns();
	memcpy(n->cpus, parent->cpus, sizeof(n->cpus));
	n->cpus_set = parent->cpus_set;
	n->sched_policy = parent->sched_policy;
	n->sched_priority = parent->sched_priority;
	n->nice = parent->nice;
	n->timer_slack_ns = parent->timer_slack_ns;
	kseccomp_inherit(n, parent);
	return n;
}

static struct thread_group *tg_alloc(struct task *parent, struct task *leader,
				     const struct clone_args_k *ca)
{
	struct thread_group *p = parent->tg;
	struct thread_group *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->k = parent->k;
	list_init(&g->threads);
	list_init(&g->children);
	list_init(&g->sibling);
	waitq_init(&g->child_wait);
	waitq_init(&g->stop_wait);
	g->leader = leader;
	g->pgid = p->pgid;
	g->sid = p->sid;
	memcpy(g->rlim, p->rlim, sizeof(g->rlim));
	g->exit_signal = (int)ca->exit_signal;
	g->start_ns = leader->start_ns;
	g->exe_path = p->exe_path ? strdup(p->exe_path) : NULL;
	g->oom_score_adj = p->oom_score_adj;
	g->image_creds = p->image_creds;
	/* Dumpability goes with the memory (Linux's mm flags). */
	g->dumpable_off = p->dumpable_off;
	return g;
}

long task_clone(struct task *t, const struct clone_args_k *ca)
{
	struct kernel *k = t->k;
	const struct platform_ops *plat = k->plat;
	uint64_t f = ca->flags;
	struct task *n = NULL;
	struct thread_group *ng = NULL;
	struct plat_as *as = NULL;
	int pidfd = -1;
	long err;

	err = check_flags(t, ca);
	if (err < 0)
		return err;
	n = task_alloc(t);
	if (!n)
		return -ENOMEM;
	n->regs.rax = 0;
	if (ca->stack) {
		n->regs.rsp = ca->stack + ca->stack_size;
	}
	if (f & CLONE_SETTLS) {
		if (ca->tls >= MM_TASK_SIZE) {
			free(n);
			return -EPERM;
		}
		n->regs.fs_base = ca->tls;
	}
	/* A child sharing memory must not take over the parent's signal
	 * stack (unless the parent sleeps until it execs: vfork). */
	if ((f & (CLONE_VM | CLONE_VFORK)) == CLONE_VM) {
		n->ss_sp = n->ss_size = 0;
		n->ss_flags = SS_DISABLE_;
	}
	n->regs_dirty = true;

	/* Memory. */
	if (f & CLONE_VM) {
		err = plat->thread_create(t->th, &n->th);
		if (err < 0)
			goto fail;
		if ((f & CLONE_VFORK) && plat->thread_vfork_child)
			plat->thread_vfork_child(n->th);
		n->mm = mm_ref(t->mm);
	} else {
		pthread_mutex_lock(&t->mm->lock);
		mm_flush_locked(t); /* the child gets the host's memory */
		err = plat->as_fork(t->th, &as, &n->th);
		if (!err) {
			n->mm = mm_fork(t->mm, as);
			if (!n->mm)
				err = -ENOMEM;
		}
		pthread_mutex_unlock(&t->mm->lock);
		if (err < 0)
			goto fail;
		as = NULL; /* the mm owns it */
	}
	/* Files. */
	n->fdt = (f & CLONE_FILES) ? fdtable_ref(t->fdt) : fdtable_copy(t->fdt);
	if (!n->fdt) {
		err = -ENOMEM;
		goto fail;
	}
	/* Root, cwd and umask. */
	n->fs = (f & CLONE_FS) ? fs_struct_ref(t->fs) : fs_struct_copy(t->fs);
	if (!n->fs) {
		err = -ENOMEM;
		goto fail;
	}
	/* Signal handlers and the thread group. */
	if (f & CLONE_THREAD) {
		ng = t->tg;
	} else {
		struct clone_args_k c2 = *ca;
		ng = tg_alloc(t, n, &c2);
		if (!ng) {
			err = -ENOMEM;
			goto fail;
		}
		if (f & CLONE_SIGHAND) {
			ng->sighand = t->tg->sighand;
			atomic_fetch_add(&ng->sighand->refs, 1);
		} else {
			pthread_mutex_lock(&k->lock);
			ng->sighand = sighand_copy(t->tg->sighand);
			pthread_mutex_unlock(&k->lock);
			if (!ng->sighand) {
				err = -ENOMEM;
				goto fail;
			}
			if (f & CLONE_CLEAR_SIGHAND)
				for (int i = 0; i < SENTRY_NSIG; i++)
					if (ng->sighand->action[i].handler != KSIG_IGN)
						memset(&ng->sighand->action[i], 0,
						       sizeof(struct k_sigaction));
		}
	}

	pthread_mutex_lock(&k->lock);
	/* A parent being killed makes no children (Linux: restart after the
	 * signal, which never returns). */
	if (t->tg->group_exit || t->exiting || k->shutting_down) {
		pthread_mutex_unlock(&k->lock);
		err = -ERESTARTNOINTR;
		goto fail;
	}
	int tid = pid_alloc(k);
	if (tid < 0) {
		pthread_mutex_unlock(&k->lock);
		err = tid;
		goto fail;
	}
	n->tid = tid;
	n->tg = ng;
	if (!(f & CLONE_THREAD)) {
		struct thread_group *parent =
			(f & CLONE_PARENT) ? t->tg->parent : t->tg;
		ng->tgid = tid;
		ng->parent = parent;
		ng->parent_task = (f & CLONE_PARENT) ? t->tg->parent_task : t;
		ng->has_subreaper_ancestor = parent && (parent->subreaper ||
						      parent->has_subreaper_ancestor);
		if (parent)
			list_add_tail(&parent->children, &ng->sibling);
		list_add_tail(&k->groups, &ng->link);
	}
	list_add_tail(&ng->threads, &n->tg_link);
	ng->nr_threads++;
	list_add_tail(&k->tasks, &n->link);
	pid_hash_add(k, n);
	if (f & CLONE_CHILD_CLEARTID)
		n->clear_child_tid = ca->child_tid;
	if (f & CLONE_VFORK) {
		n->vfork_parent = t;
		atomic_store(&t->vfork_done, false);
	}
	/* A group stop under way takes the new thread too. */
	if ((f & CLONE_THREAD) && ng->stopping) {
		n->stop_counted = false;
		ng->nr_stop_pending++;
	}
	recalc_sigpending_locked(n);
	k->nr_tasks++;
	pthread_mutex_unlock(&k->lock);

	/* Identifiers written for the parent and the child. */
	if (f & CLONE_PARENT_SETTID)
		task_copy_out(t, ca->parent_tid, &tid, sizeof(tid));
	if (f & CLONE_CHILD_SETTID) {
		/* Into the child's memory: the same mm's (held-back mappings
		 * run, the stub's ranges refused), or a fork child's, where
		 * the stub's ranges are refused as task_copy_out does. */
		uint64_t a = ca->child_tid;
		const struct platform_ops *plat = n->k->plat;
		if (n->mm == t->mm)
			task_copy_out(t, a, &tid, sizeof(tid));
		else if (!mm_range_reserved(a, a + sizeof(tid)) &&
			 !(plat->thread_settid &&
			   mm_range_anon_writable(n->mm, a, a + sizeof(tid)) &&
			   plat->thread_settid(n->th, a, (uint32_t)tid)))
			plat->copy_out(n->mm->as, a, &tid, sizeof(tid));
	}
	if (f & CLONE_PIDFD) {
		pidfd = pidfd_create(t, ng, O_CLOEXEC);
		if (pidfd >= 0)
			task_copy_out(t, ca->pidfd, &pidfd, sizeof(pidfd));
	}

	err = task_start(n);
	if (err < 0) {
		/* No thread to run it: it exits at once, through the same path
		 * as any task, on this thread's behalf. */
		log_error("cannot start a sentry thread: %s", strerror((int)-err));
		pthread_mutex_lock(&k->lock);
		group_exit_locked(ng, SIGKILL);
		pthread_mutex_unlock(&k->lock);
		return -EAGAIN;
	}

	if (f & CLONE_VFORK) {
		/* The parent sleeps until the child execs or exits; only a
		 * fatal signal ends the wait early. */
		for (;;) {
			uint32_t seq = task_wait_seq(t);
			if (atomic_load(&t->vfork_done))
				break;
			pthread_mutex_lock(&k->lock);
			bool dying = t->tg->group_exit;
			if (dying) {
				/* Leaving early: the child must not tell a
				 * parent that may be gone by then. */
				struct task *c = task_lookup(k, tid);
				if (c && c->vfork_parent == t)
					c->vfork_parent = NULL;
			}
			pthread_mutex_unlock(&k->lock);
			if (dying)
				break;
			task_sleep_uninterruptible(t, seq, 0);
		}
	}
	return tid;

fail:
	if (n->th)
		plat->thread_release(n->th);
	if (n->mm)
		mm_put(plat, n->mm);
	else if (as)
		plat->as_destroy(as);
	fdtable_put(n->fdt);
	fs_struct_put(n->fs);
	if (ng && ng != t->tg) {
		sighand_put(ng->sighand);
		free(ng->exe_path);
		free(ng);
	}
	free(n);
	return err;
}
