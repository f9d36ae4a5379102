#!/bin/bash
# files.sh RUNSC PLATFORM
#
# Debian's static busybox applets over the sandbox's file tree (issue 5):
# ls, cat, cp, mv, find, grep, sed, tar, sort, wc, plus rm, mkdir, touch,
# chmod, ln. A host scratch tree is seen through the overlay (read-only
# below: changes stay in the sandbox) and a second one with --rw (changes
# reach the host). Each case is one `runsc do` (no fork yet, so no shell
# scripts): read-only applets must print what they print natively; writing
# ones must succeed, change the --rw tree as asked, and leave everything
# else on the host exactly as it was (compared before and after).
#
# Prints "ok NAME" / "FAIL NAME: why" per case; exit 1 if any failed, 77 if
# busybox is missing.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 RUNSC PLATFORM" >&2
	exit 99
fi
runsc=$1
platform=$2
bb=${BUSYBOX:-/bin/busybox}
case $runsc in /*) ;; *) runsc=$PWD/$runsc ;; esac
if [ ! -x "$bb" ]; then
	echo "SKIP: busybox not found at $bb (install busybox-static)"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/files-it.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
ro=$tmp/ro
rw=$tmp/rw
failures=0
passes=0

# The host trees.
mkdir -p "$ro/dir/sub" "$ro/empty" "$rw/in" || exit 99
printf 'alpha\nbeta\ngamma\n' >"$ro/lines"
printf 'zeta\nalpha\nmu\nbeta\n' >"$ro/unsorted"
printf 'hello from the host\n' >"$ro/dir/hello"
printf 'deep\n' >"$ro/dir/sub/deep"
head -c 200000 /dev/urandom >"$ro/dir/binary"
ln -s dir/hello "$ro/link"
chmod 0640 "$ro/lines"
printf 'rw file\n' >"$rw/in/file"

snapshot() { # DIR: everything about it, for before/after comparisons
	(cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort &&
		find . -type f -exec md5sum {} + | LC_ALL=C sort)
}
ro_before=$(snapshot "$ro")

ok() {
	echo "ok $1"
	passes=$((passes + 1))
}

bad() {
	echo "FAIL $1: $2"
	failures=$((failures + 1))
}

# sb NAME [--rw] -- APPLET ARGS...: runs busybox in the sandbox; output in
# $tmp/out, stderr in $tmp/err, status in $st.
sb() {
	local name=$1 opts=()
	shift
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	timeout -k 5 60 "$runsc" do --platform="$platform" "${opts[@]}" -- \
		"$bb" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	st=$?
}

# Same output and status as busybox natively.
same() { # NAME -- APPLET ARGS...
	local name=$1
	shift 2
	(cd "$tmp" && "$bb" "$@" </dev/null >"$tmp/native" 2>/dev/null)
	local nst=$?
	sb "$name" -- "$@"
	if [ "$st" != "$nst" ]; then
		bad "$name" "status $st, natively $nst: $(head -c 300 "$tmp/err")"
	elif ! cmp -s "$tmp/out" "$tmp/native"; then
		bad "$name" "output differs: $(diff "$tmp/native" "$tmp/out" | head -5)"
	else
		ok "$name"
	fi
}

# Must exit 0.
works() { # NAME [--rw DIR] -- APPLET ARGS...
	local name=$1
	sb "$@"
	if [ "$st" != 0 ]; then
		bad "$name" "status $st: $(head -c 300 "$tmp/err")"
		return 1
	fi
	ok "$name"
}

cd "$tmp" || exit 99

# Reading: exactly what the host shows.
same "ls -1" -- ls -1 "$ro"
same "ls -1R" -- ls -1R "$ro"
same "cat" -- cat "$ro/lines" "$ro/dir/hello"
same "cat through a symlink" -- cat "$ro/link"
same "wc" -- wc "$ro/lines" "$ro/unsorted" "$ro/dir/binary"
same "sort" -- sort "$ro/unsorted"
same "sort -r -u" -- sort -r -u "$ro/unsorted" "$ro/lines"
same "grep -r" -- grep -rn a "$ro"
same "grep -c" -- grep -c alpha "$ro/lines"
same "find" -- find "$ro"
same "find -type f -name" -- find "$ro" -type f -name "*e*"
same "sed -n" -- sed -n 2p "$ro/lines"
same "md5sum" -- md5sum "$ro/dir/binary"
same "readlink" -- readlink "$ro/link"
same "stat -c" -- stat -c '%n %s %F %a' "$ro/lines" "$ro/dir" "$ro/link"
same "ls /" -- ls /bin/busybox /usr /etc/hostname

# Writing under the overlay: works in the sandbox, the host never sees it.
works "cp into the overlay" -- cp "$ro/lines" "$ro/copy"
works "cp -r into the overlay" -- cp -r "$ro/dir" "$ro/dir2"
works "mv in the overlay" -- mv "$ro/lines" "$ro/moved"
works "rm -rf in the overlay" -- rm -rf "$ro/dir"
works "sed -i in the overlay" -- sed -i s/alpha/ALPHA/ "$ro/lines"
works "touch, mkdir in the overlay" -- mkdir -p "$ro/new/deeper"
works "chmod in the overlay" -- chmod 0777 "$ro/lines"
works "ln -s in the overlay" -- ln -s /etc/passwd "$ro/pw"
works "tar -c into the overlay" -- tar -cf "$ro/t.tar" -C "$ro" dir
works "truncate a host file in the overlay" -- truncate -s 0 "$ro/unsorted"
works "rm a host file in the overlay" -- rm "$ro/unsorted"
works "write over /etc/hostname in the overlay" -- cp "$ro/lines" /etc/hostname

# Writing with --rw: the host sees exactly that.
works "cp -r into --rw" --rw "$rw" -- cp -r "$ro/dir" "$rw/copy"
if diff -r "$ro/dir" "$rw/copy" >/dev/null; then ok "the copy is on the host"; else bad "the copy is on the host" "$(diff -r "$ro/dir" "$rw/copy" | head -3)"; fi
works "mv in --rw" --rw "$rw" -- mv "$rw/copy/hello" "$rw/moved"
[ -f "$rw/moved" ] && [ ! -e "$rw/copy/hello" ] && ok "the move is on the host" || bad "the move is on the host" "$(ls -la "$rw" "$rw/copy")"
works "sed -i in --rw" --rw "$rw" -- sed -i s/rw/RW/ "$rw/in/file"
[ "$(cat "$rw/in/file")" = "RW file" ] && ok "sed's edit is on the host" || bad "sed's edit is on the host" "$(cat "$rw/in/file")"
works "tar -c into --rw" --rw "$rw" -- tar -cf "$rw/ro.tar" -C "$ro" .
if tar -tf "$rw/ro.tar" 2>/dev/null | grep -q dir/sub/deep; then ok "the archive is readable on the host"; else bad "the archive is readable on the host" "tar -tf failed"; fi
mkdir -p "$rw/x"
works "tar -x from --rw into --rw" --rw "$rw" -- tar -xf "$rw/ro.tar" -C "$rw/x"
if diff -r "$ro" "$rw/x" >/dev/null; then ok "the extracted tree matches"; else bad "the extracted tree matches" "$(diff -r "$ro" "$rw/x" | head -3)"; fi
works "rm -rf in --rw" --rw "$rw" -- rm -rf "$rw/x"
[ ! -e "$rw/x" ] && ok "the removal is on the host" || bad "the removal is on the host" "$rw/x still there"
# The overlay's view of a --rw tree's neighbour stays read-only below.
works "cp next to --rw goes to the overlay" --rw "$rw/in" -- cp "$ro/dir/hello" "$rw/outside"
[ ! -e "$rw/outside" ] && ok "outside the --rw dir: not on the host" || bad "outside the --rw dir: not on the host" "$rw/outside exists"
# --ro: read-only for real (EROFS), not through the overlay.
sb "--ro refuses writes" --ro "$ro" -- touch "$ro/nope"
if [ "$st" != 0 ] && grep -qi "read-only" "$tmp/err"; then ok "--ro refuses writes"; else bad "--ro refuses writes" "status $st: $(cat "$tmp/err")"; fi

ro_after=$(snapshot "$ro")
if [ "$ro_before" = "$ro_after" ]; then
	ok "the host's read-only tree is unchanged"
else
	bad "the host's read-only tree is unchanged" "$(diff <(echo "$ro_before") <(echo "$ro_after") | head -10)"
fi
[ "$(cat /etc/hostname)" != "$(cat "$ro/lines")" ] && ok "/etc/hostname unchanged" || bad "/etc/hostname unchanged" "it was overwritten"

echo "$passes passed, $failures failed"
[ "$failures" = 0 ]
