/*
 * uname: field contents and termination, EFAULT.
 *
 * The sandbox reports the host's sysname/release/version/machine/hostname,
 * so besides the fixed strings we print a hash of the host-specific fields:
 * both runs happen on the same host, so the hashes must agree, without the
 * transcript containing the host's actual release or name.
 */
#include "probe.h"

#include <ctype.h>
#include <stdint.h>
#include <sys/utsname.h>

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static int terminated(const char *f, size_t len)
{
	return memchr(f, '\0', len) != NULL;
}

int main(void)
{
	struct utsname u;

	memset(&u, 0xff, sizeof(u));
	if (CHECK_OK("uname", syscall(SYS_uname, &u)) == -1)
		return probe_done();

	int all_term = terminated(u.sysname, sizeof(u.sysname)) &&
		       terminated(u.nodename, sizeof(u.nodename)) &&
		       terminated(u.release, sizeof(u.release)) &&
		       terminated(u.version, sizeof(u.version)) &&
		       terminated(u.machine, sizeof(u.machine)) &&
		       terminated(u.domainname, sizeof(u.domainname));
	CHECK_TRUE("all fields NUL-terminated", all_term);
	if (!all_term)
		return probe_done();

	NOTE("sysname: %s\n", u.sysname);
	NOTE("machine: %s\n", u.machine);
	CHECK_TRUE("sysname==Linux", strcmp(u.sysname, "Linux") == 0);
	CHECK_TRUE("machine==x86_64", strcmp(u.machine, "x86_64") == 0);
	CHECK_TRUE("nodename nonempty", u.nodename[0] != '\0');
	CHECK_TRUE("release nonempty", u.release[0] != '\0');
	CHECK_TRUE("release starts with digit",
		   isdigit((unsigned char)u.release[0]));
	CHECK_TRUE("version nonempty", u.version[0] != '\0');
	CHECK_TRUE("domainname nonempty", u.domainname[0] != '\0');
	NOTE("nodename hash: %08x\n", fnv1a(u.nodename));
	NOTE("release hash: %08x\n", fnv1a(u.release));
	NOTE("version hash: %08x\n", fnv1a(u.version));

	/* The libc wrapper and the raw syscall must agree. */
	struct utsname v;
	memset(&v, 0, sizeof(v));
	CHECK_OK("uname libc", uname(&v));
	CHECK_TRUE("libc==raw",
		   strcmp(u.sysname, v.sysname) == 0 &&
			   strcmp(u.nodename, v.nodename) == 0 &&
			   strcmp(u.release, v.release) == 0 &&
			   strcmp(u.version, v.version) == 0 &&
			   strcmp(u.machine, v.machine) == 0);

	/* gethostname is derived from uname in glibc. */
	char host[sizeof(u.nodename)];
	CHECK_OK("gethostname", gethostname(host, sizeof(host)));
	CHECK_TRUE("gethostname==nodename", strcmp(host, u.nodename) == 0);

	CHECK_ERR("uname EFAULT", syscall(SYS_uname, (void *)1), EFAULT);
	CHECK_ERR("uname NULL", syscall(SYS_uname, NULL), EFAULT);

	return probe_done();
}
