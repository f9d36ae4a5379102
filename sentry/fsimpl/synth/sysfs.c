/* A minimal sysfs: what programs commonly read to size themselves. The
 * CPUs are the ones the sentry may run on (its affinity at mount time),
 * numbered from 0 as a container sees them. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "synth.h"

static int ncpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n > 0 ? n : 1;
}

static int build(struct synth_dir *root)
{
	char range[32];
	int n = ncpus();
	if (n == 1)
		snprintf(range, sizeof(range), "0\n");
	else
		snprintf(range, sizeof(range), "0-%d\n", n - 1);

	struct synth_dir *devices = synth_mkdir(root, "devices", 0755);
	struct synth_dir *system =
	    devices ? synth_mkdir(devices, "system", 0755) : NULL;
	struct synth_dir *cpu =
	    system ? synth_mkdir(system, "cpu", 0755) : NULL;
	if (!cpu)
		return -ENOMEM;
	int err = 0;
	for (int i = 0; i < n && err == 0; i++) {
		char name[16];
		snprintf(name, sizeof(name), "cpu%d", i);
		struct synth_dir *c = synth_mkdir(cpu, name, 0755);
		if (!c)
			return -ENOMEM;
		err = synth_text(c, "online", 0644, "1\n");
	}
	if (err == 0)
		err = synth_text(cpu, "online", 0444, range);
	if (err == 0)
		err = synth_text(cpu, "possible", 0444, range);
	if (err == 0)
		err = synth_text(cpu, "present", 0444, range);
	if (err == 0)
		err = synth_text(cpu, "kernel_max", 0444, "8191\n");

	struct synth_dir *node =
	    system ? synth_mkdir(system, "node", 0755) : NULL;
	struct synth_dir *node0 =
	    node ? synth_mkdir(node, "node0", 0755) : NULL;
	if (!node0)
		return -ENOMEM;
	if (err == 0)
		err = synth_text(node, "online", 0444, "0\n");
	if (err == 0)
		err = synth_text(node, "possible", 0444, "0\n");
	if (err == 0)
		err = synth_text(node0, "cpulist", 0444, range);

	struct synth_dir *kernel = synth_mkdir(root, "kernel", 0755);
	struct synth_dir *mm = kernel ? synth_mkdir(kernel, "mm", 0755) : NULL;
	struct synth_dir *thp =
	    mm ? synth_mkdir(mm, "transparent_hugepage", 0755) : NULL;
	if (!thp)
		return -ENOMEM;
	if (err == 0)
		err = synth_text(thp, "enabled", 0644,
				 "always [madvise] never\n");
	if (err == 0)
		err = synth_text(thp, "hpage_pmd_size", 0444, "2097152\n");

	struct synth_dir *fs = synth_mkdir(root, "fs", 0755);
	if (!fs || !synth_mkdir(fs, "cgroup", 0755))
		return -ENOMEM;
	if (!synth_mkdir(root, "class", 0755) ||
	    !synth_mkdir(root, "bus", 0755) ||
	    !synth_mkdir(root, "block", 0755) ||
	    !synth_mkdir(root, "module", 0755))
		return -ENOMEM;
	return err;
}

static int sysfs_ctor(const char *source, const char *data, struct vfs_sb **out)
{
	(void)source, (void)data;
	struct synth_dir *root;
	struct vfs_sb *sb;
	int err = synth_new("sysfs", SYSFS_MAGIC, &sb, &root);
	if (err < 0)
		return err;
	err = build(root);
	if (err < 0) {
		vfs_sb_put(sb);
		return err;
	}
	sb->flags |= VFS_SB_RDONLY;
	*out = sb;
	return 0;
}

int sysfs_register(void)
{
	int err = vfs_register_fs("sysfs", sysfs_ctor);
	return err == -EEXIST ? 0 : err;
}
