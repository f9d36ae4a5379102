/* The top of /proc: the sandbox-wide files and /proc/sys.
 *
 * Host-wide figures (memory, load, the CPU's identity) come from
 * sysinfo(2) and the CPUID instruction, not from the host's /proc: the
 * sentry is meant to lose its view of the host's file tree, and these two
 * need nothing but the calling thread. The CPUs are the sandbox's (its
 * affinity at start, numbered from 0 as sysfs numbers them); times are
 * the sandbox's (uptime from its boot, CPU time of its processes). */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/sysinfo.h>
#include <time.h>

#include "../../mm/mm.h"
#include "proc.h"

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int ncpus(struct kernel *k)
{
	int n = 0;
	for (size_t i = 0; i < sizeof(k->cpus) / sizeof(k->cpus[0]); i++)
		n += __builtin_popcountll(k->cpus[i]);
	return n > 0 ? n : 1;
}

/* CPU time of every process of the sandbox, and how many tasks run. */
static void sandbox_cputime(struct kernel *k, uint64_t *user, uint64_t *sys,
			    int *running, int *threads)
{
	*user = *sys = 0;
	*running = *threads = 0;
	pthread_mutex_lock(&k->lock);
	list_for_each(pos, &k->groups)
	{
		struct thread_group *g =
		    list_entry(pos, struct thread_group, link);
		uint64_t u, s;
		tg_cputime(g, &u, &s);
		*user += u + g->child_utime_ns;
		*sys += s + g->child_stime_ns;
		list_for_each(tp, &g->threads)
		{
			struct task *x = list_entry(tp, struct task, tg_link);
			(*threads)++;
			if (atomic_load(&x->in_user))
				(*running)++;
		}
	}
	pthread_mutex_unlock(&k->lock);
}

/* ---- files -----------------------------------------------------------------
 */

static int show_uptime(const struct proc_req *r, struct sbuf *b)
{
	uint64_t up = now_ns(CLOCK_MONOTONIC) - r->k->boot_ns;
	uint64_t u, s;
	int running, threads;
	sandbox_cputime(r->k, &u, &s, &running, &threads);
	uint64_t all = up * (uint64_t)ncpus(r->k);
	uint64_t idle = all > u + s ? all - (u + s) : 0;
	sb_printf(b, "%" PRIu64 ".%02" PRIu64 " %" PRIu64 ".%02" PRIu64 "\n",
		  (uint64_t)(up / 1000000000ULL),
		  (uint64_t)(up % 1000000000ULL / 10000000ULL),
		  (uint64_t)(idle / 1000000000ULL),
		  (uint64_t)(idle % 1000000000ULL / 10000000ULL));
	return 0;
}

static int show_loadavg(const struct proc_req *r, struct sbuf *b)
{
	struct sysinfo si;
	if (sysinfo(&si) < 0)
		return -errno;
	uint64_t u, s;
	int running, threads;
	sandbox_cputime(r->k, &u, &s, &running, &threads);
	pthread_mutex_lock(&r->k->lock);
	int last = r->k->last_pid;
	pthread_mutex_unlock(&r->k->lock);
	/* The reader runs. */
	if (running == 0)
		running = 1;
	/* The load is the host's (what its CPUs carry); the task counts
	 * are the sandbox's. */
	double l[3];
	for (int i = 0; i < 3; i++)
		l[i] = (double)si.loads[i] / (double)(1 << SI_LOAD_SHIFT);
	sb_printf(b, "%.2f %.2f %.2f %d/%d %d\n", l[0], l[1], l[2], running,
		  threads, last);
	return 0;
}

static int show_stat(const struct proc_req *r, struct sbuf *b)
{
	uint64_t u, s;
	int running, threads;
	sandbox_cputime(r->k, &u, &s, &running, &threads);
	if (running == 0)
		running = 1;
	int n = ncpus(r->k);
	uint64_t up = now_ns(CLOCK_MONOTONIC) - r->k->boot_ns;
	uint64_t all = up * (uint64_t)n;
	uint64_t idle = all > u + s ? all - (u + s) : 0;
	const uint64_t tick = 10000000ULL; /* USER_HZ 100 */
	sb_printf(b, "cpu  %" PRIu64 " 0 %" PRIu64 " %" PRIu64 " 0 0 0 0 0 0\n",
		  u / tick, s / tick, idle / tick);
	/* Which CPU ran what is not known: each gets an equal share. */
	for (int i = 0; i < n; i++)
		sb_printf(b,
			  "cpu%d %" PRIu64 " 0 %" PRIu64 " %" PRIu64
			  " 0 0 0 0 0 0\n",
			  i, u / tick / (uint64_t)n, s / tick / (uint64_t)n,
			  idle / tick / (uint64_t)n);
	uint64_t real = now_ns(CLOCK_REALTIME);
	uint64_t btime = (real > up ? real - up : 0) / 1000000000ULL;
	pthread_mutex_lock(&r->k->lock);
	int last = r->k->last_pid;
	pthread_mutex_unlock(&r->k->lock);
	/* Pids are handed out in order from 1, so the last one counts the
	 * processes and threads made (until pids wrap). */
	/* The sandbox counts neither interrupts nor context switches. */
	sb_printf(b,
		  "intr 0\nctxt 0\nbtime %" PRIu64
		  "\nprocesses %d\nprocs_running %d\nprocs_blocked 0\n"
		  "softirq 0 0 0 0 0 0 0 0 0 0 0\n",
		  btime, last, running);
	return 0;
}

static int show_meminfo(const struct proc_req *r, struct sbuf *b)
{
	(void)r;
	struct sysinfo si;
	if (sysinfo(&si) < 0)
		return -errno;
	uint64_t unit = si.mem_unit ? si.mem_unit : 1;
#define KB(x) ((uint64_t)(x)*unit / 1024)
	/* sysinfo has no page cache figure: what is free or in buffers is
	 * what the sandbox can count on. */
	sb_printf(b,
		  "MemTotal:       %8" PRIu64 " kB\n"
		  "MemFree:        %8" PRIu64 " kB\n"
		  "MemAvailable:   %8" PRIu64 " kB\n"
		  "Buffers:        %8" PRIu64 " kB\n"
		  "Shmem:          %8" PRIu64 " kB\n"
		  "SwapTotal:      %8" PRIu64 " kB\n"
		  "SwapFree:       %8" PRIu64 " kB\n",
		  KB(si.totalram), KB(si.freeram),
		  KB(si.freeram) + KB(si.bufferram), KB(si.bufferram),
		  KB(si.sharedram), KB(si.totalswap), KB(si.freeswap));
#undef KB
	return 0;
}

/* CPUID feature bits by Linux's /proc/cpuinfo names (a common subset). */
struct cpuflag {
	uint32_t leaf, sub;
	int reg; /* 0 eax, 1 ebx, 2 ecx, 3 edx */
	int bit;
	const char *name;
};

static const struct cpuflag cpuflags[] = {
    {1, 0, 3, 0, "fpu"},
    {1, 0, 3, 1, "vme"},
    {1, 0, 3, 2, "de"},
    {1, 0, 3, 3, "pse"},
    {1, 0, 3, 4, "tsc"},
    {1, 0, 3, 5, "msr"},
    {1, 0, 3, 6, "pae"},
    {1, 0, 3, 7, "mce"},
    {1, 0, 3, 8, "cx8"},
    {1, 0, 3, 9, "apic"},
    {1, 0, 3, 11, "sep"},
    {1, 0, 3, 12, "mtrr"},
    {1, 0, 3, 13, "pge"},
    {1, 0, 3, 14, "mca"},
    {1, 0, 3, 15, "cmov"},
    {1, 0, 3, 16, "pat"},
    {1, 0, 3, 17, "pse36"},
    {1, 0, 3, 19, "clflush"},
    {1, 0, 3, 23, "mmx"},
    {1, 0, 3, 24, "fxsr"},
    {1, 0, 3, 25, "sse"},
    {1, 0, 3, 26, "sse2"},
    {1, 0, 3, 27, "ss"},
    {1, 0, 3, 28, "ht"},
    {0x80000001, 0, 3, 11, "syscall"},
    {0x80000001, 0, 3, 20, "nx"},
    {0x80000001, 0, 3, 26, "pdpe1gb"},
    {0x80000001, 0, 3, 27, "rdtscp"},
    {0x80000001, 0, 3, 29, "lm"},
    {1, 0, 2, 0, "pni"},
    {1, 0, 2, 1, "pclmulqdq"},
    {1, 0, 2, 9, "ssse3"},
    {1, 0, 2, 12, "fma"},
    {1, 0, 2, 13, "cx16"},
    {1, 0, 2, 19, "sse4_1"},
    {1, 0, 2, 20, "sse4_2"},
    {1, 0, 2, 21, "x2apic"},
    {1, 0, 2, 22, "movbe"},
    {1, 0, 2, 23, "popcnt"},
    {1, 0, 2, 25, "aes"},
    {1, 0, 2, 26, "xsave"},
    {1, 0, 2, 28, "avx"},
    {1, 0, 2, 29, "f16c"},
    {1, 0, 2, 30, "rdrand"},
    {1, 0, 2, 31, "hypervisor"},
    {0x80000001, 0, 2, 0, "lahf_lm"},
    {0x80000001, 0, 2, 5, "abm"},
    {0x80000001, 0, 2, 8, "3dnowprefetch"},
    {7, 0, 1, 0, "fsgsbase"},
    {7, 0, 1, 3, "bmi1"},
    {7, 0, 1, 5, "avx2"},
    {7, 0, 1, 7, "smep"},
    {7, 0, 1, 8, "bmi2"},
    {7, 0, 1, 9, "erms"},
    {7, 0, 1, 10, "invpcid"},
    {7, 0, 1, 16, "avx512f"},
    {7, 0, 1, 17, "avx512dq"},
    {7, 0, 1, 18, "rdseed"},
    {7, 0, 1, 19, "adx"},
    {7, 0, 1, 20, "smap"},
    {7, 0, 1, 23, "clflushopt"},
    {7, 0, 1, 24, "clwb"},
    {7, 0, 1, 28, "avx512cd"},
    {7, 0, 1, 29, "sha_ni"},
    {7, 0, 1, 30, "avx512bw"},
    {7, 0, 1, 31, "avx512vl"},
    {7, 0, 2, 1, "avx512vbmi"},
    {7, 0, 2, 4, "pku"},
    {7, 0, 2, 8, "gfni"},
    {7, 0, 2, 9, "vaes"},
    {7, 0, 2, 10, "vpclmulqdq"},
    {7, 0, 2, 14, "avx512_vpopcntdq"},
    {7, 0, 2, 22, "rdpid"},
    {7, 0, 3, 4, "fsrm"},
    {7, 0, 3, 18, "pconfig"},
    {0xd, 1, 0, 0, "xsaveopt"},
    {0xd, 1, 0, 1, "xsavec"},
    {0xd, 1, 0, 3, "xsaves"},
};

static uint32_t cpuid_reg(uint32_t leaf, uint32_t sub, int reg)
{
	unsigned r[4] = {0, 0, 0, 0};
	uint32_t max = __get_cpuid_max(leaf & 0x80000000u, NULL);
	if (leaf > max)
		return 0;
	__cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
	return r[reg];
}

static int show_cpuinfo(const struct proc_req *r, struct sbuf *b)
{
	unsigned a, bx, c, d;
	char vendor[13] = {0};
	__cpuid(0, a, bx, c, d);
	uint32_t level = a;
	memcpy(vendor, &bx, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	__cpuid(1, a, bx, c, d);
	unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
	if (family == 0xf)
		family += (a >> 20) & 0xff;
	if (family >= 6)
		model += ((a >> 16) & 0xf) << 4;
	unsigned stepping = a & 0xf;
	unsigned clflush = ((bx >> 8) & 0xff) * 8;
	char brand[49] = {0};
	if (__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
		for (unsigned i = 0; i < 3; i++) {
			unsigned v[4];
			__cpuid(0x80000002u + i, v[0], v[1], v[2], v[3]);
			memcpy(brand + 16 * i, v, 16);
		}
	}
	char *bp = brand;
	while (*bp == ' ')
		bp++;
	uint32_t addr = cpuid_reg(0x80000008u, 0, 0);
	int n = ncpus(r->k);
	for (int i = 0; i < n; i++) {
		sb_printf(
		    b,
		    "processor\t: %d\nvendor_id\t: %s\ncpu family\t: %u\n"
		    "model\t\t: %u\nmodel name\t: %s\nstepping\t: %u\n"
		    "physical id\t: 0\nsiblings\t: %d\ncore id\t\t: %d\n"
		    "cpu cores\t: %d\napicid\t\t: %d\n"
		    "initial apicid\t: %d\nfpu\t\t: yes\n"
		    "fpu_exception\t: yes\ncpuid level\t: %u\nwp\t\t: yes\n"
		    "flags\t\t:",
		    i, vendor, family, model, bp, stepping, n, i, n, i, i,
		    level);
		for (size_t f = 0; f < sizeof(cpuflags) / sizeof(cpuflags[0]);
		     f++) {
			const struct cpuflag *cf = &cpuflags[f];
			if (cpuid_reg(cf->leaf, cf->sub, cf->reg) &
			    (1u << cf->bit))
				sb_printf(b, " %s", cf->name);
		}
		sb_printf(b,
			  "\nclflush size\t: %u\ncache_alignment\t: %u\n"
			  "address sizes\t: %u bits physical, %u bits virtual\n"
			  "power management:\n\n",
			  clflush, clflush, addr & 0xff, (addr >> 8) & 0xff);
	}
	return 0;
}

static int show_version(const struct proc_req *r, struct sbuf *b)
{
	const struct utsname *u = &r->k->uts;
	sb_printf(b, "%s version %s (runsc@sandbox) %s\n", u->sysname,
		  u->release, u->version);
	return 0;
}

static int show_filesystems(const struct proc_req *r, struct sbuf *b)
{
	(void)r;
	/* The file systems the sentry implements (none is a block device
	 * one, so every line is "nodev"). */
	static const char *const types[] = {
	    "sysfs", "tmpfs", "devtmpfs", "proc", "pipefs", "overlay", "9p",
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		sb_printf(b, "nodev\t%s\n", types[i]);
	return 0;
}

/* ---- /proc/sys ----------------------------------------------------------- */

static int show_hostname(const struct proc_req *r, struct sbuf *b)
{
	sb_printf(b, "%s\n", r->k->uts.nodename);
	return 0;
}

static int show_domainname(const struct proc_req *r, struct sbuf *b)
{
	sb_printf(b, "%s\n", r->k->uts.domainname);
	return 0;
}

static int show_osrelease(const struct proc_req *r, struct sbuf *b)
{
	sb_printf(b, "%s\n", r->k->uts.release);
	return 0;
}

static int show_ostype(const struct proc_req *r, struct sbuf *b)
{
	sb_printf(b, "%s\n", r->k->uts.sysname);
	return 0;
}

static int show_kversion(const struct proc_req *r, struct sbuf *b)
{
	sb_printf(b, "%s\n", r->k->uts.version);
	return 0;
}

static int show_pid_max(const struct proc_req *r, struct sbuf *b)
{
	(void)r;
	sb_printf(b, "%d\n", SENTRY_PID_MAX);
	return 0;
}

static int show_ngroups_max(const struct proc_req *r, struct sbuf *b)
{
	(void)r;
	/* What setgroups(2) accepts here (glibc's sysconf reads this). */
	const struct creds *c = NULL;
	sb_printf(b, "%zu\n", sizeof(c->groups) / sizeof(c->groups[0]));
	return 0;
}

static int show_cap_last_cap(const struct proc_req *r, struct sbuf *b)
{
	(void)r;
	sb_printf(b, "%d\n", SENTRY_CAP_LAST_CAP);
	return 0;
}

static void put_uuid(struct sbuf *b, const uint8_t u[16])
{
	sb_printf(b,
		  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		  "%02x%02x%02x%02x%02x%02x\n",
		  u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		  u[10], u[11], u[12], u[13], u[14], u[15]);
}

static int random_uuid(uint8_t u[16])
{
	size_t got = 0;
	while (got < 16) {
		ssize_t n = getrandom(u + got, 16 - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	u[6] = (u[6] & 0x0f) | 0x40; /* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	return 0;
}

static pthread_once_t boot_id_once = PTHREAD_ONCE_INIT;
static uint8_t boot_id[16];
static int boot_id_err;

static void make_boot_id(void)
{
	boot_id_err = random_uuid(boot_id);
}

static int show_boot_id(const struct proc_req *r, struct sbuf *b)
{
	(void)r;
	/* One sentry is one boot of the sandbox's kernel. */
	pthread_once(&boot_id_once, make_boot_id);
	if (boot_id_err < 0)
		return boot_id_err;
	put_uuid(b, boot_id);
	return 0;
}

static int show_uuid(const struct proc_req *r, struct sbuf *b)
{
	(void)r;
	uint8_t u[16];
	int err = random_uuid(u);
	if (err < 0)
		return err;
	put_uuid(b, u);
	return 0;
}

static int show_file_max(const struct proc_req *r, struct sbuf *b)
{
	(void)r;
	/* The sandbox has no system-wide count of open files. */
	sb_printf(b, "%ld\n", (long)INT64_MAX);
	return 0;
}

static int show_nr_open(const struct proc_req *r, struct sbuf *b)
{
	(void)r;
	sb_printf(b, "%d\n", FDTABLE_HARD_MAX);
	return 0;
}

static int show_overcommit(const struct proc_req *r, struct sbuf *b)
{
	(void)r;
	/* The sentry commits nothing itself: the host's policy decides
	 * every mapping, and Linux's default heuristic is what it runs. */
	sb_printf(b, "0\n");
	return 0;
}

static int show_mmap_min_addr(const struct proc_req *r, struct sbuf *b)
{
	(void)r;
	sb_printf(b, "%llu\n", (unsigned long long)MM_MIN_ADDR);
	return 0;
}

#define FILE_RO(n, fn)                                                         \
	{                                                                      \
		n, S_IFREG | 0444, PK_FILE, fn, NULL, NULL, 0, NULL, false     \
	}
#define DIR(n, tbl)                                                            \
	{                                                                      \
		n, S_IFDIR | 0555, PK_DIR, NULL, NULL, tbl,                    \
		    sizeof(tbl) / sizeof(tbl[0]), NULL, false                  \
	}

static const struct proc_ent random_ents[] = {
    FILE_RO("boot_id", show_boot_id),
    FILE_RO("uuid", show_uuid),
};

static const struct proc_ent kernel_ents[] = {
    FILE_RO("cap_last_cap", show_cap_last_cap),
    FILE_RO("domainname", show_domainname),
    FILE_RO("hostname", show_hostname),
    FILE_RO("ngroups_max", show_ngroups_max),
    FILE_RO("osrelease", show_osrelease),
    FILE_RO("ostype", show_ostype),
    FILE_RO("pid_max", show_pid_max),
    DIR("random", random_ents),
    FILE_RO("version", show_kversion),
};

static const struct proc_ent fs_ents[] = {
    FILE_RO("file-max", show_file_max),
    FILE_RO("nr_open", show_nr_open),
};

static const struct proc_ent vm_ents[] = {
    FILE_RO("mmap_min_addr", show_mmap_min_addr),
    FILE_RO("overcommit_memory", show_overcommit),
};

static const struct proc_ent sys_ents[] = {
    DIR("fs", fs_ents),
    DIR("kernel", kernel_ents),
    DIR("vm", vm_ents),
};

const struct proc_ent proc_root_ents[] = {
    {"self", S_IFLNK | 0777, PK_SELF, NULL, NULL, NULL, 0, NULL, false},
    {"thread-self", S_IFLNK | 0777, PK_THREAD_SELF, NULL, NULL, NULL, 0, NULL,
     false},
    {"mounts", S_IFLNK | 0777, PK_SYMLINK, NULL, NULL, NULL, 0, "self/mounts",
     false},
    FILE_RO("cpuinfo", show_cpuinfo),
    FILE_RO("filesystems", show_filesystems),
    FILE_RO("loadavg", show_loadavg),
    FILE_RO("meminfo", show_meminfo),
    FILE_RO("stat", show_stat),
    FILE_RO("uptime", show_uptime),
    FILE_RO("version", show_version),
    DIR("sys", sys_ents),
};
const size_t proc_root_nents =
    sizeof(proc_root_ents) / sizeof(proc_root_ents[0]);
