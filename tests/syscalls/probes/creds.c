/*
 * creds: the set*uid/set*gid family, setgroups, setfsuid/setfsgid and
 * capget/capset (version 3), and how capabilities follow uid changes.
 *
 * The probe expects to start as root (the sandbox inherits the caller's
 * uid, so both runs agree either way; as non-root only that fact is
 * printed).  Capability sets are printed as relations, never as masks: the
 * host's root may lack some capabilities (CAP_SYS_RESOURCE on the CI
 * machine) that a sandbox grants.  Irreversible changes run in children.
 */
#include "probe_proc.h"

#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>

#define NO_SUCH_PID 0x3fffffff
#define CAPBIT(c)   (1ULL << (c))

struct caps {
	uint64_t eff, prm, inh;
};

static long cap_get(pid_t pid, struct caps *c)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, pid};
	struct __user_cap_data_struct d[2];
	long r = syscall(SYS_capget, &h, d);

	if (r == 0) {
		c->eff = d[0].effective | (uint64_t)d[1].effective << 32;
		c->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
		c->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	}
	return r;
}

static long cap_set(const struct caps *c)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
	    {(uint32_t)c->eff, (uint32_t)c->prm, (uint32_t)c->inh},
	    {(uint32_t)(c->eff >> 32), (uint32_t)(c->prm >> 32),
	     (uint32_t)(c->inh >> 32)},
	};
	return syscall(SYS_capset, &h, d);
}

static int resuid_is(uid_t r, uid_t e, uid_t s)
{
	uid_t a, b, c;

	return getresuid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

static int resgid_is(gid_t r, gid_t e, gid_t s)
{
	gid_t a, b, c;

	return getresgid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

/* setfsuid/setfsgid return the previous value and never fail loudly. */
static uid_t fsuid_now(void)
{
	return (uid_t)syscall(SYS_setfsuid, -1);
}

static gid_t fsgid_now(void)
{
	return (gid_t)syscall(SYS_setfsgid, -1);
}

static void groups_tests(void)
{
	gid_t set[3] = {10, 20, 30}, got[8];

	CHECK_OK("setgroups 3", syscall(SYS_setgroups, 3, set));
	CHECK_RET("getgroups count", syscall(SYS_getgroups, 0, NULL), 3);
	long n = syscall(SYS_getgroups, 8, got);
	CHECK_TRUE("getgroups == {10,20,30}",
		   n == 3 && got[0] == 10 && got[1] == 20 && got[2] == 30);
	CHECK_OK("setgroups 0", syscall(SYS_setgroups, 0, NULL));
	CHECK_RET("getgroups after clearing", syscall(SYS_getgroups, 0, NULL),
		  0);
	CHECK_ERR("setgroups -1", syscall(SYS_setgroups, -1, set), EINVAL);
	CHECK_ERR("setgroups NGROUPS_MAX+1",
		  syscall(SYS_setgroups, NGROUPS_MAX + 1, set), EINVAL);
	CHECK_ERR("setgroups EFAULT", syscall(SYS_setgroups, 2, (void *)1),
		  EFAULT);
	CHECK_RET("groups unchanged by failures",
		  syscall(SYS_getgroups, 0, NULL), 0);
	set[0] = 0;
	CHECK_OK("setgroups {0}", syscall(SYS_setgroups, 1, set));
}

static void gid_tests(void)
{
	CHECK_OK("setresgid(100, 200, 300)",
		 syscall(SYS_setresgid, 100, 200, 300));
	CHECK_TRUE("resgid == 100/200/300", resgid_is(100, 200, 300));
	CHECK_TRUE("getgid/getegid agree",
		   syscall(SYS_getgid) == 100 && syscall(SYS_getegid) == 200);
	CHECK_TRUE("fsgid follows egid", fsgid_now() == 200);
	CHECK_OK("setresgid(-1, -1, -1) is a no-op",
		 syscall(SYS_setresgid, -1, -1, -1));
	CHECK_TRUE("resgid unchanged", resgid_is(100, 200, 300));
	CHECK_OK("setregid(-1, 7)", syscall(SYS_setregid, -1, 7));
	/* egid != old rgid, so the saved gid follows the new egid. */
	CHECK_TRUE("setregid: saved follows egid", resgid_is(100, 7, 7));
	CHECK_OK("setgid(0) with CAP_SETGID sets all three",
		 syscall(SYS_setgid, 0));
	CHECK_TRUE("resgid == 0/0/0", resgid_is(0, 0, 0));
	CHECK_OK("setegid(5)", setegid(5));
	CHECK_TRUE("resgid == 0/5/0", resgid_is(0, 5, 0));
	CHECK_RET("setfsgid(9) returns the old fsgid", syscall(SYS_setfsgid, 9),
		  5);
	CHECK_TRUE("fsgid now 9", fsgid_now() == 9);
	CHECK_TRUE("setfsgid leaves egid alone", resgid_is(0, 5, 0));
	CHECK_OK("setegid(0)", setegid(0));
	CHECK_TRUE("setegid resets fsgid", fsgid_now() == 0);
	CHECK_ERR("setgid(-1)", syscall(SYS_setgid, -1), EINVAL);
}

static void cap_tests(void)
{
	struct caps c, c2;

	if (CHECK_OK("capget v3 self", cap_get(0, &c)) == -1)
		return;
	CHECK_TRUE("root: CAP_SETUID and CAP_SETGID effective",
		   (c.eff & CAPBIT(CAP_SETUID)) &&
		       (c.eff & CAPBIT(CAP_SETGID)));
	CHECK_TRUE("effective == permitted", c.eff == c.prm);
	CHECK_TRUE("inheritable empty", c.inh == 0);
	CHECK_OK("capget v3 by own pid", cap_get(getpid(), &c2));
	CHECK_TRUE("same sets by pid", memcmp(&c, &c2, sizeof(c)) == 0);
	CHECK_ERR("capget no such pid", cap_get(NO_SUCH_PID, &c2), ESRCH);
	CHECK_ERR("capget pid -1", cap_get(-1, &c2), EINVAL);

	/* An unknown version fails and reports the preferred one. */
	struct __user_cap_header_struct h = {0x12345678, 0};
	struct __user_cap_data_struct d[2];
	CHECK_ERR("capget bad version", syscall(SYS_capget, &h, d), EINVAL);
	CHECK_TRUE("kernel wrote back version 3",
		   h.version == _LINUX_CAPABILITY_VERSION_3);
	h.version = 0;
	CHECK_OK("capget version probe with NULL data",
		 syscall(SYS_capget, &h, NULL));
	CHECK_TRUE("version probe answers version 3",
		   h.version == _LINUX_CAPABILITY_VERSION_3);
	CHECK_ERR("capget NULL header", syscall(SYS_capget, NULL, d), EFAULT);

	/* A child's sets equal ours. */
	fflush(stdout);
	pid_t pid = px_fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	CHECK_OK("capget of a child", cap_get(pid, &c2));
	CHECK_TRUE("child has the same sets", memcmp(&c, &c2, sizeof(c)) == 0);
	kill(pid, SIGKILL);
	px_expect_exit("child", pid, "killed by SIGKILL");

	/* Drop and raise an effective bit, then lose a permitted one. */
	c2 = c;
	c2.eff &= ~CAPBIT(CAP_CHOWN);
	CHECK_OK("capset: drop CAP_CHOWN from effective", cap_set(&c2));
	cap_get(0, &c2);
	CHECK_TRUE("CAP_CHOWN effective off, still permitted",
		   !(c2.eff & CAPBIT(CAP_CHOWN)) &&
		       (c2.prm & CAPBIT(CAP_CHOWN)));
	c2.eff |= CAPBIT(CAP_CHOWN);
	CHECK_OK("capset: raise it again from permitted", cap_set(&c2));
	c2.eff &= ~CAPBIT(CAP_CHOWN);
	c2.prm &= ~CAPBIT(CAP_CHOWN);
	CHECK_OK("capset: drop CAP_CHOWN from permitted", cap_set(&c2));
	c2.eff |= CAPBIT(CAP_CHOWN);
	CHECK_ERR("capset: effective beyond permitted", cap_set(&c2), EPERM);
	c2.eff &= ~CAPBIT(CAP_CHOWN);
	c2.prm |= CAPBIT(CAP_CHOWN);
	CHECK_ERR("capset: regain a dropped permitted bit", cap_set(&c2),
		  EPERM);
	cap_get(0, &c2);
	CHECK_TRUE("CAP_CHOWN stays gone", !(c2.prm & CAPBIT(CAP_CHOWN)));

	struct __user_cap_header_struct ho = {_LINUX_CAPABILITY_VERSION_3, 1};
	memset(d, 0, sizeof(d));
	ho.pid = getppid() > 0 ? getppid() : NO_SUCH_PID;
	CHECK_ERR("capset on another process", syscall(SYS_capset, &ho, d),
		  EPERM);
}

/* seteuid away from 0 and back: effective caps follow, permitted stay. */
static void euid_dance(void)
{
	struct caps c;

	cap_get(0, &c);
	uint64_t full = c.prm;

	CHECK_OK("seteuid(1000)", seteuid(1000));
	CHECK_TRUE("resuid == 0/1000/0", resuid_is(0, 1000, 0));
	CHECK_TRUE("fsuid follows euid", fsuid_now() == 1000);
	cap_get(0, &c);
	CHECK_TRUE("effective caps cleared", c.eff == 0);
	CHECK_TRUE("permitted caps kept", c.prm == full);
	CHECK_ERR("setgroups without CAP_SETGID",
		  syscall(SYS_setgroups, 0, NULL), EPERM);
	CHECK_OK("seteuid(0) through the saved uid", seteuid(0));
	cap_get(0, &c);
	CHECK_TRUE("effective caps restored", c.eff == full);
	CHECK_TRUE("fsuid back to 0", fsuid_now() == 0);

	CHECK_RET("setfsuid(1234) returns the old fsuid",
		  syscall(SYS_setfsuid, 1234), 0);
	cap_get(0, &c);
	/* Leaving fsuid 0 drops the file-system capabilities. */
	CHECK_TRUE("fsuid != 0: CAP_CHOWN/DAC_OVERRIDE/FOWNER off",
		   !(c.eff & (CAPBIT(CAP_CHOWN) | CAPBIT(CAP_DAC_OVERRIDE) |
			      CAPBIT(CAP_FOWNER))));
	CHECK_TRUE("fsuid != 0: CAP_SETUID still on",
		   (c.eff & CAPBIT(CAP_SETUID)) != 0);
	syscall(SYS_setfsuid, 0);
	cap_get(0, &c);
	CHECK_TRUE("fsuid 0 again: effective restored", c.eff == full);

	CHECK_OK("setresuid(1000, 1000, 0)",
		 syscall(SYS_setresuid, 1000, 1000, 0));
	cap_get(0, &c);
	CHECK_TRUE("saved uid 0 keeps permitted", c.prm == full && c.eff == 0);
	CHECK_OK("setresuid(-1, 0, -1)", syscall(SYS_setresuid, -1, 0, -1));
	CHECK_TRUE("resuid == 1000/0/0", resuid_is(1000, 0, 0));
	CHECK_OK("setresuid(0, -1, -1)", syscall(SYS_setresuid, 0, -1, -1));
	CHECK_TRUE("resuid == 0/0/0", resuid_is(0, 0, 0));
}

/* All three uids leave 0: every capability goes, for good. */
static void drop_all_child(void)
{
	struct caps c;

	CHECK_OK("setreuid(1000, 2000)", syscall(SYS_setreuid, 1000, 2000));
	CHECK_TRUE("resuid == 1000/2000/2000", resuid_is(1000, 2000, 2000));
	cap_get(0, &c);
	CHECK_TRUE("permitted and effective empty", c.prm == 0 && c.eff == 0);
	CHECK_ERR("setuid(0)", syscall(SYS_setuid, 0), EPERM);
	CHECK_ERR("seteuid(0)", seteuid(0), EPERM);
	CHECK_ERR("setresuid(0, 0, 0)", syscall(SYS_setresuid, 0, 0, 0), EPERM);
	CHECK_OK("setuid(1000) to the real uid", syscall(SYS_setuid, 1000));
	/* Unprivileged setuid moves only euid (and fsuid). */
	CHECK_TRUE("resuid == 1000/1000/2000", resuid_is(1000, 1000, 2000));
	CHECK_OK("setresuid(2000, -1, 1000) shuffles own ids",
		 syscall(SYS_setresuid, 2000, -1, 1000));
	CHECK_TRUE("resuid == 2000/1000/1000", resuid_is(2000, 1000, 1000));
	CHECK_ERR("setresuid to a foreign uid",
		  syscall(SYS_setresuid, -1, 3000, -1), EPERM);
	CHECK_RET("setfsuid to a foreign uid leaves it",
		  syscall(SYS_setfsuid, 3000), 1000);
	CHECK_TRUE("fsuid still 1000", fsuid_now() == 1000);
	CHECK_ERR("setgid without CAP_SETGID", syscall(SYS_setgid, 77), EPERM);
	CHECK_ERR(
	    "capset cannot raise anything",
	    cap_set(&(struct caps){CAPBIT(CAP_KILL), CAPBIT(CAP_KILL), 0}),
	    EPERM);
}

/* PR_SET_KEEPCAPS: permitted survives leaving uid 0, effective does not. */
static void keepcaps_child(void)
{
	struct caps before, c;

	cap_get(0, &before);
	CHECK_OK("prctl(PR_SET_KEEPCAPS, 1)",
		 prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	CHECK_RET("prctl(PR_GET_KEEPCAPS)", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0),
		  1);
	CHECK_OK("setresuid(1000, 1000, 1000)",
		 syscall(SYS_setresuid, 1000, 1000, 1000));
	cap_get(0, &c);
	CHECK_TRUE("permitted kept", c.prm == before.prm);
	CHECK_TRUE("effective cleared", c.eff == 0);
	c.eff = CAPBIT(CAP_SETUID);
	CHECK_OK("capset: raise CAP_SETUID as uid 1000", cap_set(&c));
	CHECK_OK("setuid(0) with CAP_SETUID", syscall(SYS_setuid, 0));
	CHECK_TRUE("resuid == 0/0/0", resuid_is(0, 0, 0));
}

int main(void)
{
	px_reset();
	uid_t r, e, s;
	getresuid(&r, &e, &s);
	if (!CHECK_TRUE("running as root", r == 0 && e == 0 && s == 0))
		return probe_done();
	groups_tests();
	gid_tests();
	cap_tests();
	euid_dance();
	px_child("uid 0 left for good, in a child", drop_all_child);
	px_child("PR_SET_KEEPCAPS, in a child", keepcaps_child);
	return probe_done();
}
