/* Synthetic read-only file systems: a fixed tree of directories, symlinks
 * and files whose contents a function produces at each open (a snapshot
 * per open file, as Linux's seq_file gives). sysfs is one; procfs can be
 * another, or bring its own vfs_inode_ops for per-process directories:
 * any constructor registered with vfs_register_fs() can be mounted.
 *
 * Build the tree before the sb is mounted; it does not change after. */
#pragma once

#include "../../vfs/vfs.h"

struct synth_dir;

/* Writes the file's contents into *buf (malloc'd, the caller frees) and
 * returns its length, or -errno. */
typedef long (*synth_gen)(void *arg, char **buf);

int synth_new(const char *type, long magic, struct vfs_sb **out,
	      struct synth_dir **root);
/* NULL if out of memory (synth_new's caller then drops the sb). */
struct synth_dir *synth_mkdir(struct synth_dir *parent, const char *name,
			      uint32_t mode);
int synth_file(struct synth_dir *parent, const char *name, uint32_t mode,
	       synth_gen gen, void *arg);
/* A file with fixed text. */
int synth_text(struct synth_dir *parent, const char *name, uint32_t mode,
	       const char *text);
int synth_symlink(struct synth_dir *parent, const char *name,
		  const char *target);

/* Registers "sysfs" with vfs_register_fs. */
int sysfs_register(void);
