/* Credentials inside the sandbox: the set*id family, groups and
 * capabilities, with Linux's rules (kernel/sys.c, security/commoncap.c).
 * They govern what the sandbox allows; the host never sees them. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "handlers.h"

#define CAP_CHOWN 0
#define CAP_DAC_OVERRIDE 1
#define CAP_DAC_READ_SEARCH 2
#define CAP_FOWNER 3
#define CAP_FSETID 4
#define CAP_SETGID 6
#define CAP_SETUID 7
#define CAP_SETPCAP 8
#define CAP_LINUX_IMMUTABLE 9
#define CAP_MKNOD 27
#define CAP_MAC_OVERRIDE 32
#define CAP_LAST_CAP SENTRY_CAP_LAST_CAP
#define CAP_FULL ((1ULL << (CAP_LAST_CAP + 1)) - 1)
#define CAP_FS_MASK                                                            \
	((1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) |                    \
	 (1ULL << CAP_DAC_READ_SEARCH) | (1ULL << CAP_FOWNER) |                 \
	 (1ULL << CAP_FSETID) | (1ULL << CAP_LINUX_IMMUTABLE) |                 \
	 (1ULL << CAP_MAC_OVERRIDE) | (1ULL << CAP_MKNOD))
#define NOCHANGE 0xffffffffU
#define MAX_GROUPS (sizeof(((struct creds *)0)->groups) / sizeof(uint32_t))

static bool capable(const struct creds *c, int cap)
{
	return c->cap_effective & (1ULL << cap);
}

/* Capabilities follow uid changes (commoncap's cap_emulate_setxuid). */
static void fix_caps(struct creds *n, const struct creds *o)
{
	bool old_root = o->ruid == 0 || o->euid == 0 || o->suid == 0;
	bool new_root = n->ruid == 0 || n->euid == 0 || n->suid == 0;
	if (old_root && !new_root && !n->keepcaps) {
		n->cap_permitted = 0;
		n->cap_effective = 0;
		n->cap_ambient = 0;
	}
	if (o->euid == 0 && n->euid != 0)
		n->cap_effective = 0;
	if (o->euid != 0 && n->euid == 0)
		n->cap_effective = n->cap_permitted;
	if (o->fsuid == 0 && n->fsuid != 0)
		n->cap_effective &= ~CAP_FS_MASK;
	else if (o->fsuid != 0 && n->fsuid == 0)
		n->cap_effective |= n->cap_permitted & CAP_FS_MASK;
}

static long commit_uids(struct task *t, struct creds *n)
{
	fix_caps(n, &t->cred);
	/* Linux's commit_creds: a change of effective or fs ids makes the
	 * process undumpable (suid_dumpable 0) until its next exec. */
	if (n->euid != t->cred.euid || n->egid != t->cred.egid ||
	    n->fsuid != t->cred.fsuid || n->fsgid != t->cred.fsgid)
		t->tg->dumpable_off = true;
	t->cred = *n;
	return 0;
}

/* gid changes: no capability follows, dumpability does. */
static long commit_gids(struct task *t, struct creds *n)
{
	if (n->egid != t->cred.egid || n->fsgid != t->cred.fsgid)
		t->tg->dumpable_off = true;
	t->cred = *n;
	return 0;
}

SYSCALL(setuid)
{
	uint32_t uid = (uint32_t)a->a[0];
	struct creds n = t->cred;
	if (uid == NOCHANGE)
		return -EINVAL;
	if (capable(&t->cred, CAP_SETUID)) {
		n.ruid = n.euid = n.suid = n.fsuid = uid;
	} else if (uid == n.ruid || uid == n.suid) {
		n.euid = n.fsuid = uid;
	} else {
		return -EPERM;
	}
	return commit_uids(t, &n);
}

SYSCALL(setgid)
{
	uint32_t gid = (uint32_t)a->a[0];
	struct creds n = t->cred;
	if (gid == NOCHANGE)
		return -EINVAL;
	if (capable(&t->cred, CAP_SETGID))
		n.rgid = n.egid = n.sgid = n.fsgid = gid;
	else if (gid == n.rgid || gid == n.sgid)
		n.egid = n.fsgid = gid;
	else
		return -EPERM;
	return commit_gids(t, &n);
}

static bool one_of(uint32_t x, uint32_t a, uint32_t b, uint32_t c)
{
	return x == a || x == b || x == c;
}

SYSCALL(setreuid)
{
	uint32_t r = (uint32_t)a->a[0], e = (uint32_t)a->a[1];
	struct creds n = t->cred;
	const struct creds *o = &t->cred;
	bool priv = capable(o, CAP_SETUID);
	if (r != NOCHANGE) {
		if (!priv && r != o->ruid && r != o->euid)
			return -EPERM;
		n.ruid = r;
	}
	if (e != NOCHANGE) {
		if (!priv && !one_of(e, o->ruid, o->euid, o->suid))
			return -EPERM;
		n.euid = e;
	}
	if (r != NOCHANGE || (e != NOCHANGE && e != o->ruid))
		n.suid = n.euid;
	n.fsuid = n.euid;
	return commit_uids(t, &n);
}

SYSCALL(setregid)
{
	uint32_t r = (uint32_t)a->a[0], e = (uint32_t)a->a[1];
	struct creds n = t->cred;
	const struct creds *o = &t->cred;
	bool priv = capable(o, CAP_SETGID);
	if (r != NOCHANGE) {
		if (!priv && r != o->rgid && r != o->egid)
			return -EPERM;
		n.rgid = r;
	}
	if (e != NOCHANGE) {
		if (!priv && !one_of(e, o->rgid, o->egid, o->sgid))
			return -EPERM;
		n.egid = e;
	}
	if (r != NOCHANGE || (e != NOCHANGE && e != o->rgid))
		n.sgid = n.egid;
	n.fsgid = n.egid;
	return commit_gids(t, &n);
}

SYSCALL(setresuid)
{
	uint32_t r = (uint32_t)a->a[0], e = (uint32_t)a->a[1],
		 s = (uint32_t)a->a[2];
	const struct creds *o = &t->cred;
	struct creds n = *o;
	if (!capable(o, CAP_SETUID)) {
		if ((r != NOCHANGE && !one_of(r, o->ruid, o->euid, o->suid)) ||
		    (e != NOCHANGE && !one_of(e, o->ruid, o->euid, o->suid)) ||
		    (s != NOCHANGE && !one_of(s, o->ruid, o->euid, o->suid)))
			return -EPERM;
	}
	if (r != NOCHANGE)
		n.ruid = r;
	if (e != NOCHANGE)
		n.euid = e;
	if (s != NOCHANGE)
		n.suid = s;
	n.fsuid = n.euid;
	return commit_uids(t, &n);
}

SYSCALL(setresgid)
{
	uint32_t r = (uint32_t)a->a[0], e = (uint32_t)a->a[1],
		 s = (uint32_t)a->a[2];
	const struct creds *o = &t->cred;
	struct creds n = *o;
	if (!capable(o, CAP_SETGID)) {
		if ((r != NOCHANGE && !one_of(r, o->rgid, o->egid, o->sgid)) ||
		    (e != NOCHANGE && !one_of(e, o->rgid, o->egid, o->sgid)) ||
		    (s != NOCHANGE && !one_of(s, o->rgid, o->egid, o->sgid)))
			return -EPERM;
	}
	if (r != NOCHANGE)
		n.rgid = r;
	if (e != NOCHANGE)
		n.egid = e;
	if (s != NOCHANGE)
		n.sgid = s;
	n.fsgid = n.egid;
	return commit_gids(t, &n);
}

/* setfsuid/setfsgid return the old value whether or not they succeed. */
SYSCALL(setfsuid)
{
	uint32_t uid = (uint32_t)a->a[0];
	const struct creds *o = &t->cred;
	uint32_t old = o->fsuid;
	if (uid != NOCHANGE &&
	    (capable(o, CAP_SETUID) || one_of(uid, o->ruid, o->euid, o->suid) ||
	     uid == o->fsuid)) {
		struct creds n = *o;
		n.fsuid = uid;
		commit_uids(t, &n);
	}
	return old;
}

SYSCALL(setfsgid)
{
	uint32_t gid = (uint32_t)a->a[0];
	struct creds *c = &t->cred;
	uint32_t old = c->fsgid;
	if (gid != NOCHANGE &&
	    (capable(c, CAP_SETGID) || one_of(gid, c->rgid, c->egid, c->sgid) ||
	     gid == c->fsgid)) {
		struct creds n = *c;
		n.fsgid = gid;
		commit_gids(t, &n);
	}
	return old;
}

SYSCALL(getuid)
{
	(void)a;
	return t->cred.ruid;
}

SYSCALL(geteuid)
{
	(void)a;
	return t->cred.euid;
}

SYSCALL(getgid)
{
	(void)a;
	return t->cred.rgid;
}

SYSCALL(getegid)
{
	(void)a;
	return t->cred.egid;
}

static long put_three(struct task *t, const struct syscall_args *a,
		      uint32_t x, uint32_t y, uint32_t z)
{
	int err = task_copy_out(t, a->a[0], &x, sizeof(x));
	if (!err)
		err = task_copy_out(t, a->a[1], &y, sizeof(y));
	if (!err)
		err = task_copy_out(t, a->a[2], &z, sizeof(z));
	return err;
}

SYSCALL(getresuid)
{
	return put_three(t, a, t->cred.ruid, t->cred.euid, t->cred.suid);
}

SYSCALL(getresgid)
{
	return put_three(t, a, t->cred.rgid, t->cred.egid, t->cred.sgid);
}

SYSCALL(getgroups)
{
	int size = (int)a->a[0];
	uint32_t n = t->cred.ngroups;

	if (size < 0)
		return -EINVAL;
	if (size == 0)
		return n;
	if ((uint32_t)size < n)
		return -EINVAL;
	int err = task_copy_out(t, a->a[1], t->cred.groups, n * sizeof(uint32_t));
	return err < 0 ? err : (long)n;
}

SYSCALL(setgroups)
{
	int64_t n = (int32_t)a->a[0];
	uint32_t g[MAX_GROUPS];

	if (!capable(&t->cred, CAP_SETGID))
		return -EPERM;
	if (n < 0 || n > 65536)
		return -EINVAL;
	if ((uint64_t)n > MAX_GROUPS)
		return -ENOMEM; /* more than the sandbox keeps (table note) */
	if (n) {
		int err = task_copy_in(t, g, a->a[1], (size_t)n * sizeof(uint32_t));
		if (err < 0)
			return err;
	}
	memcpy(t->cred.groups, g, (size_t)n * sizeof(uint32_t));
	t->cred.ngroups = (uint32_t)n;
	return 0;
}

/* --- capabilities ----------------------------------------------------------------- */

#define CAPV1 0x19980330
#define CAPV2 0x20071026
#define CAPV3 0x20080522

struct cap_header {
	uint32_t version;
	int32_t pid;
};
struct cap_data {
	uint32_t effective, permitted, inheritable;
};

static int cap_header_in(struct task *t, uint64_t uh, struct cap_header *h,
			 int *words)
{
	int err = task_copy_in(t, h, uh, sizeof(*h));
	if (err < 0)
		return err;
	switch (h->version) {
	case CAPV1:
		*words = 1;
		return 0;
	case CAPV2:
	case CAPV3:
		*words = 2;
		return 0;
	default: {
		uint32_t v = CAPV3;
		err = task_copy_out(t, uh, &v, sizeof(v));
		return err < 0 ? err : -EINVAL;
	}
	}
}

SYSCALL(capget)
{
	struct cap_header h;
	int words;
	int err = cap_header_in(t, a->a[0], &h, &words);
	if (err == -EINVAL && !a->a[1])
		return 0; /* a probe of the preferred version */
	if (err < 0)
		return err;
	if (h.pid < 0)
		return -EINVAL;
	struct creds c;
	pthread_mutex_lock(&t->k->lock);
	struct task *x = h.pid ? task_lookup(t->k, h.pid) : t;
	if (x)
		c = x->cred;
	pthread_mutex_unlock(&t->k->lock);
	if (!x)
		return -ESRCH;
	if (!a->a[1])
		return 0;
	struct cap_data d[2] = {
		{ (uint32_t)c.cap_effective, (uint32_t)c.cap_permitted,
		  (uint32_t)c.cap_inheritable },
		{ (uint32_t)(c.cap_effective >> 32), (uint32_t)(c.cap_permitted >> 32),
		  (uint32_t)(c.cap_inheritable >> 32) },
	};
	return task_copy_out(t, a->a[1], d, (size_t)words * sizeof(d[0]));
}

SYSCALL(capset)
{
	struct cap_header h;
	int words;
	int err = cap_header_in(t, a->a[0], &h, &words);
	if (err < 0)
		return err;
	if (h.pid != 0 && h.pid != t->tid)
		return -EPERM;
	struct cap_data d[2] = { { 0 } };
	err = task_copy_in(t, d, a->a[1], (size_t)words * sizeof(d[0]));
	if (err < 0)
		return err;
	uint64_t eff = d[0].effective | ((uint64_t)d[1].effective << 32);
	uint64_t perm = d[0].permitted | ((uint64_t)d[1].permitted << 32);
	uint64_t inh = d[0].inheritable | ((uint64_t)d[1].inheritable << 32);
	eff &= CAP_FULL;
	perm &= CAP_FULL;
	inh &= CAP_FULL;
	struct creds *c = &t->cred;
	/* commoncap's cap_capset rules. */
	if (!capable(c, CAP_SETPCAP) &&
	    (inh & ~(c->cap_inheritable | c->cap_permitted)))
		return -EPERM;
	if (inh & ~(c->cap_inheritable | c->cap_bounding))
		return -EPERM;
	if (perm & ~c->cap_permitted)
		return -EPERM;
	if (eff & ~perm)
		return -EPERM;
	c->cap_effective = eff;
	c->cap_permitted = perm;
	c->cap_inheritable = inh;
	c->cap_ambient &= perm & inh;
	return 0;
}
