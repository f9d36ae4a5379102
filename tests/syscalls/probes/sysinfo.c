/*
 * sysinfo: the fields are consistent with each other and with what a
 * process can see otherwise (its own existence among procs, a memory size
 * that matches sysconf), and bad pointers give EFAULT. Values themselves
 * (uptime, free memory) differ between the host and a sandbox by design.
 */
#include "probe.h"

#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

int main(void)
{
	struct sysinfo si;

	memset(&si, 0xff, sizeof(si));
	if (CHECK_OK("sysinfo", syscall(SYS_sysinfo, &si)) == -1)
		return probe_done();
	CHECK_TRUE("mem_unit is at least 1", si.mem_unit >= 1);
	CHECK_TRUE("totalram is not 0", si.totalram > 0);
	CHECK_TRUE("freeram <= totalram", si.freeram <= si.totalram);
	CHECK_TRUE("freeswap <= totalswap", si.freeswap <= si.totalswap);
	CHECK_TRUE("at least this process runs", si.procs >= 1);
	CHECK_TRUE("uptime is not negative", si.uptime >= 0);
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	CHECK_TRUE("totalram matches sysconf(_SC_PHYS_PAGES)",
		   (unsigned long long)si.totalram * si.mem_unit ==
		       (unsigned long long)pages * (unsigned long long)psz);

	/* uptime moves with CLOCK_BOOTTIME's seconds, not backwards. */
	struct sysinfo again;
	CHECK_OK("sysinfo again", syscall(SYS_sysinfo, &again));
	CHECK_TRUE("uptime does not go backwards", again.uptime >= si.uptime);

	CHECK_ERR("NULL", syscall(SYS_sysinfo, NULL), EFAULT);
	void *ro =
	    mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_ERR("read-only buffer", syscall(SYS_sysinfo, ro), EFAULT);
	CHECK_ERR("kernel address", syscall(SYS_sysinfo, (void *)-4096L),
		  EFAULT);
	return probe_done();
}
