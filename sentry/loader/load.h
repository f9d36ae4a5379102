/* Loads a program image into a task's fresh address space: ELF segments,
 * the stack with argv/envp/auxv, the heap start, and the initial registers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "elf.h"

struct task;

struct exec_file {
	uint8_t *data;
	size_t len;
	struct elf_info elf;
	const char *why; /* reason when parsing failed */
};

/* Reads and parses the executable at path. Returns 0 or -errno (ENOENT,
 * EACCES, ENOEXEC with f->why set). */
int exec_file_open(const char *path, struct exec_file *f);
void exec_file_close(struct exec_file *f);

int loader_load(struct task *t, const struct exec_file *f, char *const argv[],
		char *const envp[], const char *execfn);
