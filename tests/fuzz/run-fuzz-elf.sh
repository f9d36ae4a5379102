#!/usr/bin/env bash
# Runs the ELF parser's fuzz target for SECONDS, seeded with the headers of
# real executables (each seed: the file's size, 8 bytes little-endian, then
# its first 4088 bytes), made afresh from the binaries named.
# usage: run-fuzz-elf.sh FUZZER SECONDS ARTIFACT_DIR BINARY...
set -euo pipefail
fuzzer=$1 seconds=$2 artifacts=$3
shift 3
seeds=$(mktemp -d /tmp/elf-seeds-XXXXXX)
trap 'rm -rf "$seeds"' EXIT
for b in "$@"; do
	[ -r "$b" ] || continue
	python3 - "$b" "$seeds/$(basename "$b")" <<'PY'
import os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
with open(src, 'rb') as f:
    head = f.read(4088)
with open(dst, 'wb') as f:
    f.write(struct.pack('<Q', os.path.getsize(src)) + head)
PY
done
[ -n "$(ls -A "$seeds")" ] || { echo "no seed binary readable: $*"; exit 1; }
"$(dirname "$0")/run-fuzz.sh" "$fuzzer" "$seconds" "$seeds" "$artifacts"
