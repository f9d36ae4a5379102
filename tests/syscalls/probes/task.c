/*
 * task: the task model.  getpid/getppid/gettid relations across fork and
 * threads, process groups and sessions (setpgid, getpgid, getpgrp, setsid,
 * getsid) with their errno cases, and orphan reparenting to a subreaper.
 *
 * Natively the probe is a child of the runner, inside the runner's process
 * group; in the sandbox it is pid 1, possibly a group and session leader.
 * So every group/session check runs in a forked child (never a leader at
 * birth) and only relations are printed.  The probe makes itself a child
 * subreaper so that orphans come back to it in both worlds.
 */
#include "probe_proc.h"

#include <pthread.h>
#include <sys/prctl.h>

/* Beyond any pid_max (2^22), so it names no process anywhere. */
#define NO_SUCH_PID 0x3fffffff

struct ids {
	long pid, ppid, tid, pgid, sid;
};

static struct ids *shm;

static void get_ids(struct ids *p)
{
	p->pid = syscall(SYS_getpid);
	p->ppid = syscall(SYS_getppid);
	p->tid = syscall(SYS_gettid);
	p->pgid = syscall(SYS_getpgid, 0);
	p->sid = syscall(SYS_getsid, 0);
}

static void *thread_ids(void *arg)
{
	get_ids(arg);
	return NULL;
}

static void pid_relations(void)
{
	struct ids me, th;

	get_ids(&me);
	CHECK_TRUE("main thread: gettid == getpid", me.tid == me.pid);
	CHECK_TRUE("getpgrp == getpgid(0)", syscall(SYS_getpgrp) == me.pgid);
	CHECK_TRUE("getpgid(getpid()) == getpgid(0)",
		   syscall(SYS_getpgid, me.pid) == me.pgid);
	CHECK_TRUE("getsid(getpid()) == getsid(0)",
		   syscall(SYS_getsid, me.pid) == me.sid);

	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		get_ids(&shm[0]);
		_exit(0);
	}
	px_expect_exit("fork child", pid, "exited 0");
	CHECK_TRUE("fork returns the child's pid", shm[0].pid == pid);
	CHECK_TRUE("child's ppid == my pid", shm[0].ppid == me.pid);
	CHECK_TRUE("child's pid != my pid", shm[0].pid != me.pid);
	CHECK_TRUE("child: gettid == getpid", shm[0].tid == shm[0].pid);
	CHECK_TRUE("child inherits my process group", shm[0].pgid == me.pgid);
	CHECK_TRUE("child inherits my session", shm[0].sid == me.sid);

	pthread_t t;
	px_thread(&t, thread_ids, &th);
	pthread_join(t, NULL);
	CHECK_TRUE("thread: getpid == my pid", th.pid == me.pid);
	CHECK_TRUE("thread: gettid != getpid", th.tid != th.pid);
	CHECK_TRUE("thread: getppid == my ppid", th.ppid == me.ppid);
	CHECK_TRUE("thread: same process group and session",
		   th.pgid == me.pgid && th.sid == me.sid);

	CHECK_ERR("getpgid(no such pid)", syscall(SYS_getpgid, NO_SUCH_PID),
		  ESRCH);
	CHECK_ERR("getsid(no such pid)", syscall(SYS_getsid, NO_SUCH_PID),
		  ESRCH);
	CHECK_ERR("getpgid(-1)", syscall(SYS_getpgid, -1), ESRCH);
}

/* In a fresh child: never a group leader. */
static void groups_child(void)
{
	long pid = syscall(SYS_getpid);
	long pgid0 = syscall(SYS_getpgrp);

	CHECK_TRUE("child is not a group leader", pgid0 != pid);
	CHECK_OK("setpgid(0, 0)", syscall(SYS_setpgid, 0, 0));
	CHECK_TRUE("now leads its own group", syscall(SYS_getpgrp) == pid);
	CHECK_OK("setpgid(0, 0) again", syscall(SYS_setpgid, 0, 0));
	CHECK_ERR("setsid as group leader", syscall(SYS_setsid), EPERM);
	CHECK_OK("setpgid(0, old group) back", syscall(SYS_setpgid, 0, pgid0));
	CHECK_TRUE("back in the old group", syscall(SYS_getpgrp) == pgid0);
	CHECK_ERR("setpgid(0, -1)", syscall(SYS_setpgid, 0, -1), EINVAL);
	/* pgid 0 means "pid", and the negative pgid is caught first. */
	CHECK_ERR("setpgid(-1, 0)", syscall(SYS_setpgid, -1, 0), EINVAL);
	CHECK_ERR("setpgid(-1, my group)",
		  syscall(SYS_setpgid, -1, syscall(SYS_getpgrp)), ESRCH);
	CHECK_ERR("setpgid(0, group that does not exist)",
		  syscall(SYS_setpgid, 0, NO_SUCH_PID), EPERM);
	CHECK_ERR("setpgid(no such pid, 0)",
		  syscall(SYS_setpgid, NO_SUCH_PID, 0), ESRCH);
	/* Our parent is neither us nor our child. */
	CHECK_ERR("setpgid(parent, 0)",
		  syscall(SYS_setpgid, syscall(SYS_getppid), 0), ESRCH);
}

static void session_child(void)
{
	long pid = syscall(SYS_getpid);
	long old_sid = syscall(SYS_getsid, 0);
	long old_pgid = syscall(SYS_getpgrp);
	long parent = syscall(SYS_getppid);

	CHECK_TRUE("child is not a session leader", old_sid != pid);
	CHECK_RET("setsid returns my pid", syscall(SYS_setsid) == pid, 1);
	CHECK_TRUE("getsid(0) == my pid", syscall(SYS_getsid, 0) == pid);
	CHECK_TRUE("getpgrp == my pid", syscall(SYS_getpgrp) == pid);
	CHECK_ERR("setsid again", syscall(SYS_setsid), EPERM);
	/* Even a no-op move is refused to a session leader. */
	CHECK_ERR("session leader setpgid(0, 0)", syscall(SYS_setpgid, 0, 0),
		  EPERM);
	CHECK_ERR("session leader moves to the old group",
		  syscall(SYS_setpgid, 0, old_pgid), EPERM);
	/* Linux does not hide other sessions from getsid/getpgid. */
	CHECK_TRUE("getsid(parent) is the old session",
		   syscall(SYS_getsid, parent) == old_sid);
	CHECK_TRUE("getpgid(parent) is the old group",
		   syscall(SYS_getpgid, parent) == old_pgid);

	/* A child of the new session leader inherits the new session. */
	fflush(stdout);
	pid_t c = px_fork();
	if (c == 0) {
		int ok = syscall(SYS_getsid, 0) == pid &&
			 syscall(SYS_getpgrp) == pid;
		/* Joining a group of another session is refused. */
		ok &= syscall(SYS_setpgid, 0, old_pgid) == -1 && errno == EPERM;
		_exit(ok ? 0 : 1);
	}
	px_expect_exit("grandchild in the new session", c, "exited 0");
}

/*
 * The parent side of the shell's job-control dance: the parent moves its
 * children between groups while they wait on a pipe.
 */
static void parent_moves_children(void)
{
	int gate[2];
	pid_t a, b;

	if (pipe(gate) != 0) {
		check_ok("pipe", -1, errno);
		return;
	}
	fflush(stdout);
	a = px_fork();
	if (a == 0) {
		close(gate[1]);
		px_pend(gate[0]);
		_exit(syscall(SYS_getpgrp) == syscall(SYS_getpid) ? 0 : 1);
	}
	b = px_fork();
	if (b == 0) {
		close(gate[1]);
		px_pend(gate[0]);
		_exit(syscall(SYS_getpgrp) == a ? 0 : 1);
	}
	CHECK_OK("parent: setpgid(child A, child A)",
		 syscall(SYS_setpgid, a, a));
	CHECK_TRUE("getpgid(child A) == A", syscall(SYS_getpgid, a) == a);
	CHECK_OK("parent: setpgid(child B, group A)",
		 syscall(SYS_setpgid, b, a));
	CHECK_TRUE("getpgid(child B) == A", syscall(SYS_getpgid, b) == a);
	CHECK_OK("parent: setpgid(child B, B) then back to A",
		 syscall(SYS_setpgid, b, 0) == 0 && syscall(SYS_getpgid, b) == b
		     ? syscall(SYS_setpgid, b, a)
		     : -1);
	CHECK_ERR("parent: setpgid(child A, no such group)",
		  syscall(SYS_setpgid, a, NO_SUCH_PID), EPERM);
	px_post(gate[1]);
	px_post(gate[1]);
	close(gate[0]);
	close(gate[1]);
	px_expect_exit("child A saw its own group", a, "exited 0");
	px_expect_exit("child B saw group A", b, "exited 0");
}

/*
 * The child leads a new session, so the parent cannot move it: EPERM.
 * (A child that has called execve gives EACCES; see the exec probe.)
 */
static void parent_vs_session_leader(void)
{
	int ready[2], gate[2];

	if (pipe(ready) != 0 || pipe(gate) != 0) {
		check_ok("pipe", -1, errno);
		return;
	}
	fflush(stdout);
	pid_t c = px_fork();
	if (c == 0) {
		syscall(SYS_setsid);
		px_post(ready[1]);
		px_pend(gate[0]);
		_exit(0);
	}
	px_pend(ready[0]);
	CHECK_ERR("parent: setpgid(session-leader child, its pid)",
		  syscall(SYS_setpgid, c, c), EPERM);
	CHECK_ERR("parent: setpgid(child in another session, my group)",
		  syscall(SYS_setpgid, c, syscall(SYS_getpgrp)), EPERM);
	px_post(gate[1]);
	px_expect_exit("session-leader child", c, "exited 0");
	close(ready[0]);
	close(ready[1]);
	close(gate[0]);
	close(gate[1]);
}

/* Grandchild of the probe: reports whether it was handed to the probe. */
static void orphans(void)
{
	long me = syscall(SYS_getpid);
	int gate[2], ready[2];

	CHECK_OK("prctl(PR_SET_CHILD_SUBREAPER, 1)",
		 prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	int v = -1;
	CHECK_OK("prctl(PR_GET_CHILD_SUBREAPER)",
		 prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0));
	CHECK_TRUE("subreaper flag reads back 1", v == 1);

	if (pipe(gate) != 0 || pipe(ready) != 0) {
		check_ok("pipe", -1, errno);
		return;
	}
	fflush(stdout);
	pid_t mid = px_fork();
	if (mid == 0) {
		int sub = -1;
		prctl(PR_GET_CHILD_SUBREAPER, &sub, 0, 0, 0);
		shm[1].pid = sub; /* the flag is not inherited */
		shm[1].tid = syscall(SYS_getpid);
		pid_t g = px_fork();
		if (g == 0) {
			shm[1].ppid = syscall(SYS_getppid) == shm[1].tid;
			px_post(ready[1]);
			/* Released once the middle process is gone. */
			px_pend(gate[0]);
			shm[1].sid = syscall(SYS_getppid) == me;
			_exit(5);
		}
		shm[1].pgid = g;
		/* Stay until the orphan-to-be has looked at its parent. */
		px_pend(ready[0]);
		_exit(0);
	}
	px_expect_exit("middle process", mid, "exited 0");
	CHECK_TRUE("subreaper flag not inherited by fork", shm[1].pid == 0);
	CHECK_TRUE("orphan's first parent was the middle process",
		   shm[1].ppid == 1);
	/* Reparenting is done by the time the middle process is reapable. */
	px_post(gate[1]);
	px_expect_exit("orphan reaped by the subreaper", shm[1].pgid,
		       "exited 5");
	CHECK_TRUE("orphan's new parent is the subreaper", shm[1].sid == 1);

	/* An orphaned zombie is handed over too, and still reapable. */
	fflush(stdout);
	mid = px_fork();
	if (mid == 0) {
		pid_t g = px_fork();
		if (g == 0)
			_exit(6);
		/* Make sure it is a zombie before we leave it behind. */
		siginfo_t si;
		waitid(P_PID, g, &si, WEXITED | WNOWAIT);
		shm[2].pid = g;
		_exit(0);
	}
	px_expect_exit("middle process leaving a zombie", mid, "exited 0");
	px_expect_exit("orphaned zombie reaped by the subreaper", shm[2].pid,
		       "exited 6");
	CHECK_ERR("no children left", wait(NULL), ECHILD);
	close(gate[0]);
	close(gate[1]);
	close(ready[0]);
	close(ready[1]);
}

int main(void)
{
	px_reset();
	shm = px_shared(4096);
	pid_relations();
	px_child("process group checks in a child", groups_child);
	px_child("session checks in a child", session_child);
	parent_moves_children();
	parent_vs_session_leader();
	orphans();
	return probe_done();
}
