/* Loads a program image into a task's fresh address space: ELF segments,
 * the stack with argv/envp/auxv, the heap start, and the initial registers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elf.h"

struct task;

struct exec_blob;

struct exec_file {
	struct exec_blob *blob; /* the file's bytes, shared with a cache */
	const uint8_t *data;
	size_t len;
	bool script; /* starts with "#!": data holds the file, elf is unset */
	struct elf_info elf;
	const char *why; /* reason when parsing failed */
};

/* Reads the executable at path and parses it (unless it is a script).
 * Returns 0 or -errno (ENOENT, EACCES, ENOEXEC with f->why set). */
int exec_file_open(const char *path, struct exec_file *f);
void exec_file_close(struct exec_file *f);
/* The PT_INTERP path of an ELF file with one; -ENOEXEC if malformed. */
int exec_interp_path(const struct exec_file *f, char *buf, size_t len);

/* Loads f (and its interpreter, if any) into t's empty address space and
 * builds the stack; sets t->regs to the entry state. */
int loader_load(struct task *t, const struct exec_file *f,
		const struct exec_file *interp, char *const argv[],
		char *const envp[], const char *execfn);
