#!/bin/bash
# systrap's site rewriting is in effect, and can be turned off. The probes
# agree with native either way, so without this test rewriting could stop
# happening unnoticed:
#  - by default the sentry's debug log names sites of probe `sites` it
#    rewrote (its hot sites have glibc's shapes), and the probe's
#    transcript is the native one;
#  - with --syscall-patch=off the log names none, and the transcript is
#    still the native one.
# usage: sites-rewritten.sh RUNSC PROBE-SITES
set -u
runsc=$1
probe=$2
case $runsc in /*) ;; *) runsc=$PWD/$runsc ;; esac
case $probe in /*) ;; *) probe=$PWD/$probe ;; esac
# The fast-call code reads its slot with rdgsbase: without the host's
# FSGSBASE (AT_HWCAP2 bit 1) systrap rewrites nothing.
hwcap2=$(LD_SHOW_AUXV=1 /bin/true | awk '/AT_HWCAP2/ { print $2 }')
if [ -z "$hwcap2" ] || [ $(( hwcap2 & 2 )) -eq 0 ]; then
	echo "SKIP: the host does not let user code read the gs base (no FSGSBASE in AT_HWCAP2): no site is rewritten"
	exit 77
fi
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0

"$probe" </dev/null >"$tmp/native" 2>/dev/null
for mode in on off; do
	"$runsc" --debug --log="$tmp/$mode.log" do --platform=systrap \
		--syscall-patch=$mode -- "$probe" </dev/null >"$tmp/$mode" 2>"$tmp/$mode.err"
	st=$?
	n=$(grep -c ': rewritten' "$tmp/$mode.log")
	echo "syscall-patch=$mode: exit $st, $n sites rewritten"
	[ "$st" -eq 0 ] || { echo "FAIL: probe exited $st"; cat "$tmp/$mode.err"; fail=1; }
	cmp -s "$tmp/native" "$tmp/$mode" || {
		echo "FAIL: transcript differs from native"
		diff "$tmp/native" "$tmp/$mode"
		fail=1
	}
	if [ "$mode" = on ] && [ "$n" -lt 5 ]; then
		echo "FAIL: expected the probe's hot sites rewritten, the log names $n"
		fail=1
	fi
	if [ "$mode" = off ] && [ "$n" -ne 0 ]; then
		echo "FAIL: --syscall-patch=off, yet $n sites rewritten"
		fail=1
	fi
done
exit $fail
