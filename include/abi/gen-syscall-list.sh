#!/bin/sh
# Prints the X(number, name) lines of syscall_nr.h from the installed kernel
# headers; numbers past the installed headers' range are appended by hand.
grep '^#define __NR_' /usr/include/x86_64-linux-gnu/asm/unistd_64.h |
	awk '{sub("__NR_","",$2); printf "\tX(%d, %s) \\\n", $3, $2}'
