#!/bin/bash
# selftest.sh: checks xenstored-stub with the real xenstore-utils commands, no Xen needed.
# Usage: bash tests/xenstored/selftest.sh [path-to-xenstored-stub]
#        bash tests/xenstored/selftest.sh --store
# With --store the same checks run against the store the environment names (the real
# oxenstored in the real-Xen lane), which shows the stand-in faithful where the namespace
# lane relies on it; the checks of the stub's own life cycle and log are left out there.
# shellcheck disable=SC2016 # check bodies in single quotes are expanded by eval, when run
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
real=0
if [ "${1:-}" = --store ]; then
	real=1
else
	bin=${1:-$root/build/xenstored-stub}
fi

passed=0
failed=0
stub_pid=
tmp=$(mktemp -d "${TMPDIR:-/tmp}/xenstored-selftest.XXXXXX") || exit 1
[ "$real" -eq 1 ] || export XENSTORED_PATH=$tmp/socket

cleanup() {
	if [ -n "$stub_pid" ]; then
		kill "$stub_pid" 2>/dev/null
		wait "$stub_pid" 2>/dev/null
	fi
	# A real store keeps what the checks wrote: take it away.
	[ "$real" -eq 1 ] && timeout 5 xenstore-rm /test /local/domain/0/data/xnh-selftest 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then
		echo "ok - $what"
		passed=$((passed + 1))
	else
		echo "not ok - $what"
		failed=$((failed + 1))
	fi
}

summary() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# A hung client must fail its check, not the whole run.
xs() {
	timeout 5 "$@" 2>>"$tmp/client-errors"
}

reads() { # reads PATH EXPECTED
	[ "$(xs xenstore-read "$1")" = "$2" ]
}

# Exit status 1 is how the tools report a refused request; 124 (a hang) must not pass.
refused() {
	xs "$@" >/dev/null
	[ $? -eq 1 ]
}

wait_for() { # wait_for FILE: up to 5 s
	local i
	for i in $(seq 50); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

start_stub() {
	rm -f "$tmp/pid"
	"$bin" --socket "$tmp/socket" --pid-file "$tmp/pid" --log "$tmp/log" 2>>"$tmp/stub-errors" &
	stub_pid=$!
	wait_for "$tmp/pid" && [ -S "$tmp/socket" ] && [ "$(cat "$tmp/pid")" = "$stub_pid" ]
}

tools_present() {
	local t
	for t in xenstore-read xenstore-write xenstore-rm xenstore-ls xenstore-list xenstore-exists \
		xenstore-chmod xenstore-watch; do
		command -v "$t" >/dev/null || return 1
	done
}

# Everything below drives the stub through these commands alone: no test client to compile.
check "only xenstore-utils commands are needed" tools_present

if [ "$real" -eq 1 ]; then
	echo "# against the store of this machine (XENSTORED_PATH=${XENSTORED_PATH:-default})"
	check "the store answers" eval 'xs xenstore-read /local/domain/0/name >/dev/null'
	xs xenstore-rm /test /local/domain/0/data/xnh-selftest
else
	if [ ! -x "$bin" ]; then
		echo "not ok - stub binary $bin exists"
		failed=$((failed + 1))
		summary
		exit
	fi

	check "stub starts, listens and writes its pid file" start_stub
	if [ "$failed" -ne 0 ]; then
		cat "$tmp/stub-errors" >&2
		summary
		exit
	fi

	stale_socket_replaced() {
		kill -KILL "$stub_pid"
		wait "$stub_pid" 2>/dev/null
		[ -S "$tmp/socket" ] && start_stub
	}
	check "a stale socket from a killed stub is replaced" stale_socket_replaced
fi

check "write and read an absolute path" \
	eval 'xs xenstore-write /test/abs value && reads /test/abs value'
check "values keep their spaces" \
	eval 'xs xenstore-write /test/spaces "a b  c " && reads /test/spaces "a b  c "'
check "an empty value reads back empty" \
	eval 'xs xenstore-write /test/empty "" && reads /test/empty ""'
check "a relative path lands under /local/domain/0" \
	eval 'xs xenstore-write data/xnh-selftest/vif/0/bridge xenbr0 &&
	      reads /local/domain/0/data/xnh-selftest/vif/0/bridge xenbr0'
check "an absolute write reads back through a relative path" \
	eval 'xs xenstore-write /local/domain/0/data/xnh-selftest/vif/0/mac 00:16:3e:00:00:01 &&
	      reads data/xnh-selftest/vif/0/mac 00:16:3e:00:00:01'
check "one call writes several pairs" \
	eval 'xs xenstore-write /test/multi/a 1 /test/multi/b 2 &&
	      reads /test/multi/a 1 && reads /test/multi/b 2'
check "a nested write creates its parents with empty values" \
	eval 'xs xenstore-write /test/deep/x/y/z leaf && xs xenstore-exists /test/deep/x/y &&
	      reads /test/deep/x ""'
check "reading a missing node is refused" refused xenstore-read /test/missing
check "exists says no for a missing node" refused xenstore-exists /test/missing
check "the error names the path" \
	eval 'xs xenstore-read /test/missing2; grep -q "/test/missing2" "$tmp/client-errors"'
check "list shows children in creation order" \
	eval '[ "$(xs xenstore-list /test/multi)" = "$(printf "a\nb")" ]'
check "list of a missing node is refused" refused xenstore-list /test/missing
check "ls prints the subtree with values" \
	eval '[ "$(xs xenstore-ls /test/deep)" = "$(printf "x = \"\"\n y = \"\"\n  z = \"leaf\"")" ]'
check "rm removes a whole subtree" \
	eval 'xs xenstore-rm /test/deep && refused xenstore-exists /test/deep/x/y/z &&
	      refused xenstore-exists /test/deep && xs xenstore-exists /test'
check "rm of a relative path" \
	eval 'xs xenstore-rm data/xnh-selftest/vif/0/mac &&
	      refused xenstore-exists /local/domain/0/data/xnh-selftest/vif/0/mac &&
	      reads data/xnh-selftest/vif/0/bridge xenbr0'
check "rm of a missing node under an existing parent succeeds" xs xenstore-rm /test/nothing
check "rm of a node whose parent is missing is refused" refused xenstore-rm /test/no/thing
check "a path with // is refused" refused xenstore-read //test
check "a path ending in / is refused" refused xenstore-write /test/ x
check "a path with a bad character is refused" refused xenstore-write '/test/a b' x
check "chmod sets permissions that ls -p shows" \
	eval 'xs xenstore-chmod /test/abs n0 r5 && xs xenstore-ls -p /test | grep -q "abs = \"value\".*(n0,r5)"'
check "new nodes inherit their parent's permissions" \
	eval 'xs xenstore-chmod /test/multi b0 && xs xenstore-write /test/multi/c 3 &&
	      xs xenstore-ls -p /test/multi | grep -q "c = \"3\".*(b0)"'

# 300 children of 37 bytes do not fit in one 4096-byte reply. C xenstored and the stand-in
# list them in parts (DIRECTORY_PART); Xen 4.17's oxenstored refuses the listing. Either is
# faithful: what no store may do is answer with a list cut short.
big_directory() {
	local args=() i list rc
	for i in $(seq -w 300); do
		args+=("/test/big/a-rather-long-child-name-number-$i" "$i")
	done
	xs xenstore-write "${args[@]}" || return 1
	list=$(xs xenstore-list /test/big 2>/dev/null)
	rc=$?
	if [ "$real" -eq 1 ] && [ "$rc" -ne 0 ] && [ -z "$list" ]; then
		echo "# the store refuses to list a directory too big for one reply"
		return 0
	fi
	[ "$rc" -eq 0 ] && [ "$(wc -l <<<"$list")" -eq 300 ] &&
		[ "$(tail -n 1 <<<"$list")" = a-rather-long-child-name-number-300 ] &&
		{ [ "$real" -eq 1 ] || grep -q '^DIRECTORY_PART .*"/test/big 0"' "$tmp/log"; }
}
check "a directory too big for one reply is listed whole in parts, or refused, never cut short" big_directory

watch_fires() {
	local w i
	timeout 5 xenstore-watch -n 3 /test/w >"$tmp/watch" 2>&1 &
	w=$!
	# The watch's first event, sent once it is in place, says when to go on: no sleep
	# guesses.
	for i in $(seq 50); do
		[ -s "$tmp/watch" ] && break
		sleep 0.1
	done
	xs xenstore-write /test/w/x 1 && xs xenstore-rm /test/w
	wait "$w" && [ "$(cat "$tmp/watch")" = "$(printf "/test/w\n/test/w/x\n/test/w")" ]
}
check "a watch fires once when set, then on each change at or below it" watch_fires

concurrent_clients() {
	local i pids=()
	for i in $(seq 20); do
		xs xenstore-write "/test/par/$i" "v$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || return 1
	done
	[ "$(xs xenstore-list /test/par | wc -l)" -eq 20 ] && reads /test/par/17 v17
}
check "twenty clients at once" concurrent_clients

stops_cleanly() {
	kill -TERM "$stub_pid" && wait "$stub_pid"
	local rc=$?
	stub_pid=
	[ "$rc" -eq 0 ] && [ ! -e "$tmp/socket" ] && [ ! -e "$tmp/pid" ]
}
[ "$real" -eq 1 ] ||
	check "SIGTERM stops the stub and removes its socket and pid file" stops_cleanly

summary
