/* Loads a program image into a task's fresh address space: ELF segments,
 * the stack with argv/envp/auxv, the heap start, and the initial registers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elf.h"

struct task;
struct file;

struct exec_file {
	struct file *file; /* open for reading, through the VFS */
	bool denied;	   /* holds a vfs_deny_write on file */
	uint64_t size;
	uint8_t *head; /* the file's first head_len bytes: the headers */
	size_t head_len;
	bool script; /* starts with "#!": elf is unset */
	struct elf_info elf;
	const char *why; /* reason when parsing failed */
};

/* Opens the executable at path (from dirfd, with execveat's AT_* flags)
 * as t sees the file tree, and parses its headers (unless it is a
 * script). Returns 0 or -errno (ENOENT, EACCES, ELOOP, ENOEXEC with f->why
 * set); exec_file_close releases f either way. */
int exec_file_open(struct task *t, int dirfd, const char *path, int at_flags,
		   struct exec_file *f);
void exec_file_close(struct exec_file *f);
/* The PT_INTERP path of an ELF file with one; -ENOEXEC if malformed. */
int exec_interp_path(const struct exec_file *f, char *buf, size_t len);

/* 0 if loader_load can only fail for want of host resources (an
 * out-of-memory mmap, a read error), not for what the files say; else
 * -errno. For an exec that empties the caller's address space before
 * loading (past the point of no return, where a failure kills). */
int loader_check(const struct exec_file *f, const struct exec_file *interp);
/* Loads f (and its interpreter, if any) into t's empty address space and
 * builds the stack; sets t->regs to the entry state. */
int loader_load(struct task *t, const struct exec_file *f,
		const struct exec_file *interp, char *const argv[],
		char *const envp[], const char *execfn);
