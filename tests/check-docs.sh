#!/bin/sh
# Fails when docs/syscalls.md differs from what the syscall table generates.
gen="$1"; doc="$2"
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
"$gen" > "$tmp" || exit 1
if ! diff -u "$doc" "$tmp"; then
	echo "docs/syscalls.md is stale: run 'make docs'"
	exit 1
fi
echo "docs/syscalls.md matches the syscall table"
