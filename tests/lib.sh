#!/bin/bash
# lib.sh: ready
# Shell test harness: sandboxes (xenstore stand-in, network namespaces, veth
# vifs), callers that run a program the way udev or xl would, link and store
# inspection, assertions and a small test runner. Sourced by the integration
# tests, the demo and the benchmark.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
# shellcheck source=tests/tap-lib.sh
. "$ROOT/tests/tap-lib.sh"
# Per-test time limit in seconds (run_tests); override with TEST_TIMEOUT.
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
# How many tests run_tests runs at once; override with TEST_JOBS.
TEST_JOBS=${TEST_JOBS:-3}
# Extra environment entries (NAME=value) that run_udev/run_xl pass to the
# program; a test sets it and resets it to ().
RUN_ENV=()
OUT=
RC=0

# Checks that the harness can run at all; exits with a message otherwise.
lib_require() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "# SKIPPED: these tests need root (network namespaces, bridges, netlink changes);" \
			"run them with sudo or as root"
		echo "0 passed, 0 failed"
		exit 0
	fi
	if [[ ! -x $BUILD/xenstored-stub ]]; then
		echo "lib.sh: $BUILD/xenstored-stub is missing: run make first" >&2
		exit 1
	fi
	local tool
	for tool in ip jq xenstore-read xenstore-write xenstore-exists flock timeout; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "lib.sh: missing tool '$tool'" >&2
			exit 1
		fi
	done
}

# ---------------------------------------------------------------- sandbox

# Creates a sandbox: $SB with lock/ log/ scripts/vif-post.d/ run/, a running
# xenstore stand-in, the XEN_* variables pointing into it and a host
# namespace in $HOST. Cleanup is installed as the EXIT trap.
sb_new() {
	lib_require
	SB=$(mktemp -d /tmp/xhtest.XXXXXX) || {
		echo "lib.sh: mktemp failed" >&2
		exit 1
	}
	SB_NSN=0
	: >"$SB/namespaces"
	: >"$SB/pids"
	trap sb_cleanup EXIT
	# A killed test (timeout) must still clean up: turn signals into exit.
	trap 'exit 143' TERM
	trap 'exit 130' INT
	mkdir -p "$SB/lock" "$SB/log" "$SB/scripts/vif-post.d" "$SB/run"
	export XENSTORED_PATH=$SB/xenstored.sock
	export XEN_LOCK_DIR=$SB/lock XEN_LOG_DIR=$SB/log
	export XEN_SCRIPT_DIR=$SB/scripts XEN_RUN_DIR=$SB/run
	stub_new XENSTORED_PATH xenstored || exit 1
	ns_new HOST
}

# sb_state_tmpfs: the sandbox's lock and run directories on tmpfs of their own, as
# XEN_LOCK_DIR and XEN_RUN_DIR (/run/xen-hotplug, /run/xen) are on a Debian host, whose /run
# is a tmpfs; for benchmarks, where a file's creation on a disk's filesystem would weigh more
# than it does on a host. Unmounted by sb_cleanup.
sb_state_tmpfs() {
	local d
	for d in "$SB/lock" "$SB/run"; do
		mount -t tmpfs -o mode=0755,size=64m xhtest "$d" || return 1
		echo "$d" >>"$SB/mounts"
	done
}

# Undoes sb_new and everything recorded since; safe to call twice.
sb_cleanup() {
	[[ -n ${SB:-} && -d $SB ]] || return 0
	local ns pid d
	if [[ -f $SB/pids ]]; then
		while read -r pid; do
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		done <"$SB/pids"
	fi
	if [[ -f $SB/namespaces ]]; then
		# Guests first, the host last: deleting a guest namespace destroys
		# its veth, which leaves the host side tidy.
		while read -r ns; do
			[[ -n $ns ]] && ip netns del "$ns" 2>/dev/null
		done < <(tac "$SB/namespaces")
	fi
	if [[ -f $SB/mounts ]]; then
		while read -r d; do
			umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null
		done < <(tac "$SB/mounts")
	fi
	rm -rf "$SB"
	SB=
}

# stub_new VAR [NAME]: starts a xenstore stand-in on $SB/NAME.sock (NAME
# defaults to stubN), waits (bounded) until it serves, records it for
# cleanup and stores the socket path in VAR. sb_new starts the first one;
# a test needing a second, independent store (the differential test) calls
# this and switches XENSTORED_PATH.
stub_new() {
	local name=${2:-stub$RANDOM} pid i
	local sock=$SB/$name.sock
	"$BUILD/xenstored-stub" --socket "$sock" --pid-file "$SB/$name.pid" \
		--log "$SB/$name.log" </dev/null >>"$SB/$name.out" 2>&1 &
	pid=$!
	echo "$pid" >>"$SB/pids"
	for ((i = 0; i < 500; i++)); do
		[[ -s $SB/$name.pid && -S $sock ]] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "lib.sh: xenstored-stub exited at start:" >&2
			cat "$SB/$name.out" >&2
			return 1
		fi
		sleep 0.01
	done
	if [[ ! -s $SB/$name.pid ]]; then
		echo "lib.sh: xenstored-stub did not write its pid file within 5s" >&2
		return 1
	fi
	printf -v "$1" %s "$sock"
}

# ns_new VAR: a new uniquely named namespace (lo up), recorded for cleanup.
ns_new() {
	local name
	SB_NSN=$((SB_NSN + 1))
	name=xt${BASHPID}n${SB_NSN}r$RANDOM
	# Recorded before creation so a half-made namespace is still removed.
	echo "$name" >>"$SB/namespaces"
	if ! ip netns add "$name"; then
		echo "lib.sh: ip netns add $name failed" >&2
		exit 1
	fi
	ip -n "$name" link set lo up
	printf -v "$1" %s "$name"
}

# inh CMD...: run CMD in the host namespace.
inh() {
	ip netns exec "$HOST" "$@"
}

# bridge_add NAME [MTU]: an up bridge in the host namespace, stp off,
# forward delay 0 (ports forward at once).
bridge_add() {
	ip -n "$HOST" link add name "$1" type bridge stp_state 0 forward_delay 0 || return 1
	if [[ -n ${2:-} ]]; then
		ip -n "$HOST" link set dev "$1" mtu "$2" || return 1
	fi
	ip -n "$HOST" link set dev "$1" up
}

# lan_new [HOST_ADDR]: a LAN namespace ($LAN) behind the host's eth0, a veth
# whose LAN end lan0 has 192.0.2.1/24 and whose host end eth0 has
# HOST_ADDR/24 (default 192.0.2.2) and the host's IPv4 default route through
# the LAN; both up.
lan_new() {
	ns_new LAN
	ip -n "$HOST" link add eth0 type veth peer name lan0 netns "$LAN" ||
		fail "cannot create the host's eth0"
	ip -n "$LAN" link set lan0 up && ip -n "$LAN" addr add 192.0.2.1/24 dev lan0 &&
		ip -n "$HOST" link set eth0 up &&
		ip -n "$HOST" addr add "${1:-192.0.2.2}/24" dev eth0 &&
		ip -n "$HOST" route add default via 192.0.2.1 || fail "cannot set up the LAN"
}

# The MAC the toolstack would give vif DOMID.DEVID (also the guest's eth0).
vif_mac() {
	printf '00:16:3e:%02x:%02x:%02x' $((($1 >> 8) & 255)) $(($1 & 255)) $(($2 & 255))
}

# vif_add DOMID DEVID [IFNAME]: a veth standing in for netback's vif: host end
# vif<D>.<I> (or IFNAME, left down) in $HOST, peer eth0 (up, with the guest's
# MAC) in a new guest namespace, whose name goes to $GUEST.
vif_add() {
	local name=${3:-vif$1.$2}
	ns_new GUEST
	ip -n "$HOST" link add name "$name" type veth peer name eth0 netns "$GUEST" || return 1
	ip -n "$GUEST" link set dev eth0 address "$(vif_mac "$1" "$2")" up
}

# ---------------------------------------------------------------- xenstore

xs_read() { xenstore-read "$1"; }
xs_write() { xenstore-write "$1" "$2"; }
xs_exists() { xenstore-exists "$1" >/dev/null 2>&1; }
xs_rm() { xenstore-rm "$1" >/dev/null 2>&1; }

# Backend and frontend paths of vif DOMID.DEVID.
xs_backend() { echo "/local/domain/0/backend/vif/$1/$2"; }
xs_frontend() { echo "/local/domain/$1/device/vif/$2"; }

# xs_vif_seed DOMID DEVID [key=value...]: the nodes the toolstack writes for a
# vif before the hotplug script runs; extras go to the backend directory.
xs_vif_seed() {
	local d=$1 i=$2 kv
	shift 2
	local be fe mac
	be=$(xs_backend "$d" "$i")
	fe=$(xs_frontend "$d" "$i")
	mac=$(vif_mac "$d" "$i")
	xenstore-write "$be/frontend" "$fe" "$be/frontend-id" "$d" \
		"$be/handle" "$i" "$be/mac" "$mac" "$be/online" 1 "$be/state" 2 \
		"$be/script" /etc/xen/scripts/vif-bridge || return 1
	for kv in "$@"; do
		xenstore-write "$be/${kv%%=*}" "${kv#*=}" || return 1
	done
	xenstore-write "$fe/backend" "$be" "$fe/backend-id" 0 "$fe/handle" "$i" \
		"$fe/mac" "$mac"
}

# ---------------------------------------------------------------- callers

# The environment every run starts from: a minimal one, as udev and xl give,
# plus the sandbox overrides and sanitizer settings.
_base_env() {
	local v
	BASE_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
	for v in $(compgen -e); do
		case $v in
		XEN_* | XENSTORED_PATH | ASAN_* | UBSAN_* | LSAN_* | MSAN_* | LLVM_PROFILE_FILE)
			BASE_ENV+=("$v=${!v}")
			;;
		esac
	done
}

_prog_path() {
	if [[ $1 == /* ]]; then echo "$1"; else echo "$BUILD/$1"; fi
}

# Runs env... prog args... in the host namespace, stdin /dev/null; sets OUT
# (stdout+stderr) and RC, appends a transcript to $SB/transcript.
_run_in_host() {
	local -a envs=("${!1}")
	shift
	_base_env
	OUT=$(ip netns exec "$HOST" env -i "${BASE_ENV[@]}" "${envs[@]}" \
		"${RUN_ENV[@]}" "$@" </dev/null 2>&1)
	RC=$?
	{
		echo "\$ ${envs[*]} ${RUN_ENV[*]} $* -> exit $RC"
		[[ -n $OUT ]] && printf '%s\n' "$OUT"
	} >>"$SB/transcript"
	return "$RC"
}

# run_udev PROG DOMID DEVID ACTION [ARGS...]: as udev ran the vif script in
# the xend era: argv PROG ARGS... ACTION, relative XENBUS_PATH.
run_udev() {
	local prog d=$2 i=$3 action=$4
	prog=$(_prog_path "$1")
	shift 4
	local -a envs=("vif=vif$d.$i" "XENBUS_PATH=backend/vif/$d/$i"
		XENBUS_TYPE=vif "ACTION=$action" "script=$prog")
	_run_in_host envs[@] "$prog" "$@" "$action"
}

# run_xl PROG DOMID DEVID ACTION [type_if=tap]: as libxl runs it.
run_xl() {
	local prog d=$2 i=$3 action=$4 tif=${5:-}
	prog=$(_prog_path "$1")
	local -a envs=("script=$prog" XENBUS_TYPE=vif
		"XENBUS_PATH=/local/domain/0/backend/vif/$d/$i"
		XENBUS_BASE_PATH=/local/domain/0/backend netdev= "vif=vif$d.$i")
	local -a args=("$action")
	if [[ $tif == type_if=tap ]]; then
		envs+=("INTERFACE=vif$d.$i-emu")
		args+=(type_if=tap)
	fi
	_run_in_host envs[@] "$prog" "${args[@]}"
}

# run_env PROG [ENV=value...] -- ARGS...: full control, for malformed calls.
run_env() {
	local prog
	prog=$(_prog_path "$1")
	shift
	local -a envs=()
	while [[ $# -gt 0 && $1 != -- ]]; do
		envs+=("$1")
		shift
	done
	[[ ${1:-} == -- ]] && shift
	_run_in_host envs[@] "$prog" "$@"
}

# ---------------------------------------------------------------- links

# link_json NAME: `ip -j -d link show` of one host link, as a JSON object.
link_json() {
	ip -n "$HOST" -j -d link show dev "$1" 2>/dev/null | jq -c '.[0]'
}
link_exists() { ip -n "$HOST" link show dev "$1" >/dev/null 2>&1; }

# The one-line `ip -o link` of a host link, parsed in bash: these helpers are
# called often and one process is much cheaper than ip plus jq.
_link_line() { ip -n "$HOST" -o link show dev "$1" 2>/dev/null; }
link_master() {
	local l
	l=$(_link_line "$1")
	[[ $l =~ \ master\ ([^ ]+) ]] && echo "${BASH_REMATCH[1]}"
	return 0
}
link_mac() {
	local l
	l=$(_link_line "$1")
	[[ $l =~ link/[a-z]+\ ([0-9a-f:]+) ]] && echo "${BASH_REMATCH[1]}"
	return 0
}
link_mtu() {
	local l
	l=$(_link_line "$1")
	[[ $l =~ \ mtu\ ([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
	return 0
}
# Administratively up (the UP flag): a vif whose guest end is down is up
# but its operstate is LOWERLAYERDOWN.
link_is_up() {
	local l re='<([^>]*)>'
	l=$(_link_line "$1")
	[[ $l =~ $re && ,${BASH_REMATCH[1]}, == *,UP,* ]]
}
# Addresses on a host link, one "addr/prefix" a line.
link_addrs() {
	ip -n "$HOST" -j addr show dev "$1" 2>/dev/null |
		jq -r '.[0].addr_info[]? | "\(.local)/\(.prefixlen)"'
}
# All host link names, sorted, one a line (to prove nothing was created).
link_names() {
	ip -n "$HOST" -j link show | jq -r '.[].ifname' | sort
}

# ---------------------------------------------------------------- firewall

# The owned table of FAMILY (bridge or inet) as lines "SET KEY[ : DATA]", one
# per element, sorted: a concatenation as "a . b", a prefix as ADDR/LEN, a range
# as A-B. The layout of SPEC §6 is a handful of sets; a vif's rules are the
# elements that name it (fw_elems_of).
fw_elems() { # FAMILY
	ip netns exec "$HOST" nft -j list table "$1" xen_hotplug 2>/dev/null | jq -r '
		def v: if type == "object" then
				if .prefix then "\(.prefix.addr)/\(.prefix.len)"
				elif .range then "\(.range[0])-\(.range[1])"
				elif .concat then [.concat[] | v] | join(" . ")
				else tojson end
			else tostring end;
		.nftables[] | (.set // .map // empty) as $s | $s.elem[]? |
		if type == "array" then "\($s.name) \(.[0] | v) : \(.[1] | v)"
		else "\($s.name) \(v)" end' | sort
}
# The elements that name DEV (as a whole word).
fw_elems_of() { # FAMILY DEV
	fw_elems "$1" | grep -E "(^| |\")${2//./\\.}(\"| |$)" || true
}
# Does DEV have rules (is it in the table's set of vifs)?
fw_has_rules() { # FAMILY DEV
	fw_elems "$1" | grep -qx "vifs $2"
}

# ---------------------------------------------------------------- assertions

# Records a failure: prints the reason and ends the current test.
fail() {
	echo "# $*"
	[[ -n ${TEST_FAILED_FILE:-} ]] && echo "$*" >>"$TEST_FAILED_FILE"
	exit 1
}

# note MSG: a remark shown under the test's "ok" line even when it passes
# (e.g. a deliberate difference from the reference scripts).
note() {
	echo "#note: $*"
}

assert_eq() {
	[[ "$1" == "$2" ]] || fail "${3:-values differ}: expected '$1', got '$2'"
}

# assert_same EXPECTED ACTUAL MSG: multi-line values; a failure shows only
# the lines that differ (< expected, > actual).
assert_same() {
	[[ "$1" == "$2" ]] && return 0
	fail "${3:-values differ} (< expected, > actual):
$(diff <(printf '%s\n' "$1") <(printf '%s\n' "$2") | grep '^[<>]')"
}

assert_ne() {
	[[ "$1" != "$2" ]] || fail "${3:-values equal}: did not expect '$1'"
}

assert_ok() {
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	[[ $rc -eq 0 ]] || fail "expected success, got exit $rc: $* ${out:+: $out}"
}

assert_fail() {
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	[[ $rc -ne 0 ]] || fail "expected failure, got exit 0: $* ${out:+: $out}"
}

assert_contains() {
	[[ "$1" == *"$2"* ]] || fail "${3:-missing text}: '$2' not in '$1'"
}

assert_not_contains() {
	[[ "$1" != *"$2"* ]] || fail "${3:-unexpected text}: '$2' found in '$1'"
}

# ---------------------------------------------------------------- vif calls

# vif_online PROG D I [ARGS...]: PROG online as udev runs it; must succeed
# and report connected.
vif_online() {
	local prog=$1 d=$2 i=$3
	shift 3
	run_udev "$prog" "$d" "$i" online "$@"
	assert_eq 0 "$RC" "online of vif$d.$i: $OUT"
	assert_eq connected "$(xs_read "$(xs_backend "$d" "$i")/hotplug-status")" \
		"hotplug-status of vif$d.$i"
}

# vif_offline PROG D I [ARGS...]: PROG offline as udev runs it; must succeed.
vif_offline() {
	local prog=$1 d=$2 i=$3
	shift 3
	run_udev "$prog" "$d" "$i" offline "$@"
	assert_eq 0 "$RC" "offline of vif$d.$i: $OUT"
}

# assert_vif_refused BACKEND BEFORE WORD...: a refused vif call: exit
# non-zero, hotplug-status error, a hotplug-error naming every word given, the
# host exactly as BEFORE (compared with the test file's host_state).
assert_vif_refused() {
	local be=$1 before=$2 err w
	shift 2
	assert_ne 0 "$RC" "exit status"
	assert_eq error "$(xs_read "$be/hotplug-status" 2>&1)" "hotplug-status"
	err=$(xs_read "$be/hotplug-error" 2>&1)
	for w in "$@"; do
		assert_contains "$err" "$w" "hotplug-error"
	done
	assert_same "$before" "$(host_state)" "host state after the refusal"
}

# ---------------------------------------------------------------- runner

# Runs the test functions (all test_* or those named) each in a fresh
# process with its own sandbox and time limit; prints TAP-like lines and
# "N passed, N failed". Returns non-zero when any failed.
run_tests() {
	if [[ -n ${_LIB_ONE_TEST:-} ]]; then
		_run_one "$_LIB_ONE_TEST"
		exit $?
	fi
	lib_require
	local -a tests=("$@")
	if [[ ${#tests[@]} -eq 0 ]]; then
		# In the file's order (declare -F would sort them by name).
		mapfile -t tests < <(grep -oE '^test_[A-Za-z0-9_]+ *\(\)' "$0" |
			sed 's/ *()//')
	fi
	local i t passed=0 failed=0 rc dir running=0
	dir=$(mktemp -d)
	# Tests are independent (own sandbox, uniquely named namespaces), so up
	# to TEST_JOBS run at once; results are printed in order.
	for i in "${!tests[@]}"; do
		t=${tests[$i]}
		if ! declare -F "$t" >/dev/null; then
			echo "# no such test" >"$dir/$i.log"
			echo 127 >"$dir/$i.rc"
			continue
		fi
		while ((running >= TEST_JOBS)); do
			wait -n
			running=$((running - 1))
		done
		(
			_LIB_ONE_TEST=$t timeout -k 5 "$TEST_TIMEOUT" bash "$0" >"$dir/$i.log" 2>&1
			echo $? >"$dir/$i.rc"
		) &
		running=$((running + 1))
	done
	wait
	for i in "${!tests[@]}"; do
		t=${tests[$i]}
		rc=$(cat "$dir/$i.rc" 2>/dev/null || echo 1)
		tap_result "$t" "$rc" "$dir/$i.log"
	done
	rm -rf "$dir"
	echo "$passed passed, $failed failed"
	[[ $failed -eq 0 ]]
}

# One test, in this (fresh) process: sandbox, test, verdict; on failure the
# transcript of program runs is shown to help diagnosis.
_run_one() {
	unset _LIB_ONE_TEST
	sb_new
	TEST_FAILED_FILE=$SB/failed
	: >"$TEST_FAILED_FILE"
	local rc
	(
		trap - EXIT
		"$1"
	)
	rc=$?
	if [[ $rc -ne 0 || -s $TEST_FAILED_FILE ]]; then
		[[ $rc -ne 0 && ! -s $TEST_FAILED_FILE ]] && echo "# test exited with $rc"
		if [[ -s $SB/transcript ]]; then
			echo "# program runs:"
			tail -n 30 "$SB/transcript"
		fi
		return 1
	fi
	return 0
}
