#!/bin/bash
# no_host_fds.sh RUNSC PLATFORM
#
# The paths taken when the gofer passes no host fds (runsc do's test hook
# --TESTONLY-no-host-fds): files are read through 9P and a program is
# loaded by copying its segments instead of mapping them. A static program
# runs and reads files and its stdin; a dynamic one fails the way Linux
# fails an mmap of a file that cannot be mapped (its loader says so), and
# the sandbox goes on: after six such failures the shell still reads files
# and its stdin. (These are the paths where the paired load once closed
# the sentry's fd 0; that fd is not seen from inside, so this does not
# catch it: it covers the fallbacks, which nothing else runs.)
#
# Exit 1 if a case failed, 77 if busybox is missing.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 RUNSC PLATFORM" >&2
	exit 99
fi
runsc=$1
platform=$2
bb=/bin/busybox
if [ ! -x "$bb" ]; then
	echo "SKIP: $bb is not installed"
	exit 77
fi
case $runsc in /*) ;; *) runsc=$PWD/$runsc ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/no-host-fds.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
printf 'one\ntwo\nthree\n' >"$tmp/f"
failures=0

check() { # label expected actual
	if [ "$2" = "$3" ]; then
		echo "ok: $1"
	else
		echo "FAIL: $1: expected [$2], got [$3]"
		failures=$((failures + 1))
	fi
}

run() {
	"$runsc" do --platform="$platform" --TESTONLY-no-host-fds -- "$@"
}

out=$(run "$bb" sh -c "$bb wc -l <'$tmp/f'; $bb sort -r '$tmp/f' | $bb head -1" 2>&1)
check "a static program reads files" "3
two" "$out"

# Each failed dynamic exec goes through the loader's fallbacks; the shell
# and its stdin must be whole after six of them.
out=$(printf 'from stdin\n' | run "$bb" sh -c "
	n=0
	for i in 1 2 3 4 5 6; do /bin/true 2>/dev/null || n=\$((n + 1)); done
	echo failed \$n
	$bb cat '$tmp/f' | $bb tail -1
	$bb cat" 2>&1)
check "dynamic programs fail, the sandbox goes on" "failed 6
three
from stdin" "$out"

out=$(run /bin/true 2>&1)
rc=$?
check "a dynamic program's exit status" 127 "$rc"
case $out in
*"failed to map segment"*) echo "ok: its loader says why" ;;
*)
	echo "FAIL: no loader message: $out"
	failures=$((failures + 1))
	;;
esac

[ "$failures" -eq 0 ]
