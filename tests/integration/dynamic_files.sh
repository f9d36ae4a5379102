#!/bin/bash
# dynamic_files.sh RUNSC PLATFORM
#
# Debian's dynamic programs over the sandbox's file tree (issue 5, point 7):
# bash, coreutils (ls, cat, cp, mv, sort), findutils, grep, sed, tar,
# python3 -c, and gcc compiling and running hello.c in a --rw directory.
# Read-only runs must print what they print natively; the host tree must be
# unchanged afterwards except in the --rw directory.
#
# RUNSC may be "native" to check the script itself. Exit 1 if a case failed, 77 if a program is missing.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 RUNSC PLATFORM" >&2
	exit 99
fi
runsc=$1
platform=$2
for p in bash ls cat cp mv sort find grep sed tar python3 gcc; do
	if ! command -v "$p" >/dev/null; then
		echo "SKIP: $p is not installed"
		exit 77
	fi
done
case $runsc in native | /*) ;; *) runsc=$PWD/$runsc ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dyn-files.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
ro=$tmp/ro
rw=$tmp/rw
mkdir -p "$ro/dir" "$rw" || exit 99
printf 'b\na\nc\n' >"$ro/list"
printf 'hello\n' >"$ro/dir/h"
cat >"$rw/hello.c" <<'EOF'
#include <stdio.h>
int main(void) { printf("hello, sandbox\n"); return 0; }
EOF
failures=0

snapshot() {
	(cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort &&
		find . -type f -exec md5sum {} + | LC_ALL=C sort)
}
before=$(snapshot "$ro")
etc_before=$(ls -la --time-style=+%s /etc | md5sum)

run() { # [--rw DIR] -- PROGRAM ARGS...: output in $tmp/out, status in $st
	local opts=()
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	if [ "$runsc" = native ]; then
		"$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	else
		timeout -k 5 120 "$runsc" do --platform="$platform" "${opts[@]}" \
			-- "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	fi
	st=$?
}

same() { # NAME -- PROGRAM ARGS...
	local name=$1
	shift 2
	"$@" </dev/null >"$tmp/native" 2>/dev/null
	local nst=$?
	run -- "$@"
	if [ "$st" = "$nst" ] && cmp -s "$tmp/out" "$tmp/native"; then
		echo "ok $name"
	else
		echo "FAIL $name: status $st (native $nst): $(diff "$tmp/native" "$tmp/out" | head -3) $(head -c 200 "$tmp/err")"
		failures=$((failures + 1))
	fi
}

works() { # NAME [--rw DIR] -- PROGRAM ARGS...
	local name=$1
	shift
	run "$@"
	if [ "$st" = 0 ]; then
		echo "ok $name"
	else
		echo "FAIL $name: status $st: $(head -c 300 "$tmp/err")"
		failures=$((failures + 1))
	fi
}

cd "$tmp" || exit 99
same "bash: ls /usr/bin | wc -l" -- bash -c 'ls /usr/bin | wc -l'
same "ls -l names" -- bash -c "ls -1 $ro $ro/dir"
same "cat" -- cat "$ro/list" "$ro/dir/h"
same "sort" -- sort "$ro/list"
same "find" -- find "$ro" -name '*'
same "grep -r" -- grep -r hello "$ro"
same "sed" -- sed -n 's/a/A/p' "$ro/list"
same "python3 -c" -- python3 -c 'import os; print(sorted(os.listdir("/etc"))[:8])'
works "cp/mv/rm in the overlay" -- bash -c "cp -r $ro/dir $ro/d2 && mv $ro/list $ro/l2 && rm -rf $ro/dir && ls $ro"
works "tar -c into --rw" --rw "$rw" -- tar -cf "$rw/a.tar" -C "$ro" .
works "tar -x in --rw" --rw "$rw" -- bash -c "mkdir $rw/x && tar -xf $rw/a.tar -C $rw/x"
diff -r "$ro" "$rw/x" >/dev/null && echo "ok tar round trip on the host" ||
	{ echo "FAIL tar round trip on the host"; failures=$((failures + 1)); }
works "gcc in --rw" --rw "$rw" -- gcc -O2 -o "$rw/hello" "$rw/hello.c"
run --rw "$rw" -- "$rw/hello"
[ "$(cat "$tmp/out")" = "hello, sandbox" ] && echo "ok hello runs in the sandbox" ||
	{ echo "FAIL hello runs in the sandbox: $(cat "$tmp/out" "$tmp/err")"; failures=$((failures + 1)); }
[ "$("$rw/hello")" = "hello, sandbox" ] && echo "ok hello runs on the host" ||
	{ echo "FAIL hello runs on the host"; failures=$((failures + 1)); }
same "python3 multiprocessing, subprocess, sqlite3, threads" -- python3 -c '
import multiprocessing as mp, subprocess, sqlite3, tempfile, threading
def sq(x): return x * x
if __name__ == "__main__":
    with mp.Pool(2) as p: print(sum(p.map(sq, range(100))))
    print(subprocess.run(["echo", "hi"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory() as d:
        c = sqlite3.connect(d + "/db")
        c.execute("create table t(x)"); c.execute("insert into t values (1)"); c.commit()
        print(c.execute("select count(*) from t").fetchone()[0]); c.close()
    ts = [threading.Thread(target=print, args=(i,)) for i in range(4)]
    [t.start() or t.join() for t in ts]
'
same "make -j2 and xargs -P2" -- bash -c 'd=$(mktemp -d) && trap "rm -rf $d" EXIT && cd "$d" && printf "all: a b\na:\n\t@echo a\nb:\n\t@echo b\n" > Makefile && make -s -j2 | sort && seq 1 6 | xargs -P2 -n1 echo | sort -n'
if command -v git >/dev/null; then
	same "git init, commit, log" -- bash -c 'd=$(mktemp -d) && trap "rm -rf $d" EXIT && cd "$d" && git init -q r && cd r && echo a > f && git add f && git -c user.name=a -c user.email=a@b commit -qm m && git log --oneline | wc -l'
else
	echo "skip git: not installed"
fi
works "python3 writes only to the overlay" -- python3 -c "open('$ro/py', 'w').write('x'); import shutil; shutil.rmtree('$ro/dir', ignore_errors=True)"

[ "$runsc" = native ] && exit $((failures > 0))
[ "$before" = "$(snapshot "$ro")" ] && echo "ok the host tree is unchanged" ||
	{ echo "FAIL the host tree changed"; failures=$((failures + 1)); }
[ "$etc_before" = "$(ls -la --time-style=+%s /etc | md5sum)" ] && echo "ok /etc unchanged" ||
	{ echo "FAIL /etc changed"; failures=$((failures + 1)); }
echo "$failures failed"
[ "$failures" = 0 ]
