/*
 * identity: getpid/getppid/gettid and the uid/gid/groups family.
 *
 * Natively the pid is some large number and the parent is the runner; in the
 * sandbox the pid is 1 and the parent 0.  Only relations are printed.
 */
#include "probe.h"

#include <grp.h>
#include <limits.h>
#include <sys/types.h>

int main(void)
{
	long pid = syscall(SYS_getpid);
	long ppid = syscall(SYS_getppid);
	long tid = syscall(SYS_gettid);

	CHECK_TRUE("getpid>0", pid > 0);
	CHECK_TRUE("getpid raw==libc", pid == (long)getpid());
	CHECK_TRUE("getppid>=0", ppid >= 0);
	CHECK_TRUE("getppid!=getpid", ppid != pid);
	CHECK_TRUE("gettid==getpid", tid == pid);
	CHECK_TRUE("getpid stable", syscall(SYS_getpid) == pid);

	/* uid family */
	uid_t ruid = (uid_t)-2, euid = (uid_t)-2, suid = (uid_t)-2;
	long uid = syscall(SYS_getuid);
	long eu = syscall(SYS_geteuid);

	CHECK_OK("getresuid", syscall(SYS_getresuid, &ruid, &euid, &suid));
	CHECK_TRUE("getuid==resuid.r", (uid_t)uid == ruid);
	CHECK_TRUE("geteuid==resuid.e", (uid_t)eu == euid);
	CHECK_TRUE("resuid.s valid", suid != (uid_t)-2 && suid != (uid_t)-1);
	CHECK_TRUE("getuid libc==raw", getuid() == (uid_t)uid);
	CHECK_ERR("getresuid EFAULT",
		  syscall(SYS_getresuid, (void *)1, &euid, &suid), EFAULT);
	CHECK_ERR("getresuid EFAULT 3rd",
		  syscall(SYS_getresuid, &ruid, &euid, (void *)1), EFAULT);

	/* gid family */
	gid_t rgid = (gid_t)-2, egid = (gid_t)-2, sgid = (gid_t)-2;
	long gid = syscall(SYS_getgid);
	long eg = syscall(SYS_getegid);

	CHECK_OK("getresgid", syscall(SYS_getresgid, &rgid, &egid, &sgid));
	CHECK_TRUE("getgid==resgid.r", (gid_t)gid == rgid);
	CHECK_TRUE("getegid==resgid.e", (gid_t)eg == egid);
	CHECK_TRUE("resgid.s valid", sgid != (gid_t)-2 && sgid != (gid_t)-1);
	CHECK_TRUE("getgid libc==raw", getgid() == (gid_t)gid);
	CHECK_ERR("getresgid EFAULT",
		  syscall(SYS_getresgid, &rgid, (void *)1, &sgid), EFAULT);

	/* supplementary groups */
	long n = syscall(SYS_getgroups, 0, NULL);
	CHECK_TRUE("getgroups count>=0", n >= 0);
	CHECK_TRUE("getgroups count<=NGROUPS_MAX", n <= NGROUPS_MAX);

	gid_t *list = calloc((size_t)(n > 0 ? n : 1) + 1, sizeof(gid_t));
	long m = syscall(SYS_getgroups, n + 1, list);
	CHECK_TRUE("getgroups list count==query count", m == n);
	long m2 = syscall(SYS_getgroups, n, list);
	CHECK_TRUE("getgroups exact size ok", m2 == n);
	CHECK_ERR("getgroups negative size", syscall(SYS_getgroups, -1, list),
		  EINVAL);
	if (n >= 2)
		CHECK_ERR("getgroups too small", syscall(SYS_getgroups, 1, list),
			  EINVAL);
	else
		NOTE("getgroups too small: n/a\n");
	if (n >= 1)
		CHECK_ERR("getgroups EFAULT", syscall(SYS_getgroups, n, (void *)1),
			  EFAULT);
	else
		NOTE("getgroups EFAULT: n/a\n");
	free(list);

	return probe_done();
}
