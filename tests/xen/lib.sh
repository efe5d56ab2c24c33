#!/bin/bash
# lib.sh (real-Xen lane): the harness of tests.sh inside dom0: the LAN namespace, guests
# created with xl and driven through their consoles, frames counted where they arrive,
# assertions, and a runner that gives each test its own process, time limit and clean-up.
# shellcheck shell=bash
set -u

LANE=${LANE:-/lane}
PKT=$LANE/tests/tools/pkt.py
# shellcheck source=tests/tap-lib.sh
. "$LANE/tests/tap-lib.sh"
RESULTS=${RESULTS:-$LANE/results}
GUEST_KERNEL=/var/lib/lane/vmlinux
GUEST_RAMDISK=/var/lib/lane/initrd
SCRIPTS=/etc/xen/scripts
TEST_TIMEOUT=${TEST_TIMEOUT:-300}

# The LAN: dom0's card eth0 and, on the same qemu hub, eth1 inside the namespace "lan", the
# LAN's one peer (and its gateway).
LAN_NS=lan
LAN_IF=eth1
DOM0_IF=eth0
LAN_IP=192.0.2.1
DOM0_IP=192.0.2.2
LAN_IP6=2001:db8:1::1
DOM0_IP6=2001:db8:1::2
PREFIX=24
PREFIX6=64

OUT=
RC=0
declare -A CONS_FD=()

# note TEXT: a line shown under the test's ok line.
note() { echo "#note: $*"; }

# fail MESSAGE: the test fails (it goes on, so that one run shows every wrong thing).
fail() {
	echo "# FAIL: $*"
	: >"$TEST_FAILED"
}

assert_eq() { # EXPECTED ACTUAL WHAT
	[[ $1 == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

assert_contains() { # TEXT WORD WHAT
	[[ $1 == *"$2"* ]] || fail "$3: '$2' not in: $1"
}

# assert_same BEFORE AFTER WHAT: two snapshots are equal, else the difference is shown.
assert_same() {
	if [[ $1 != "$2" ]]; then
		fail "$3 differs:"
		diff <(printf '%s\n' "$1") <(printf '%s\n' "$2") | head -n 40 | sed 's/^/#   /'
	fi
}

# run CMD...: runs a command, OUT its output (stdout and stderr), RC its status.
run() {
	OUT=$("$@" 2>&1)
	RC=$?
}

# must CMD...: a step the test needs; a failure ends the test.
must() {
	run "$@"
	if [[ $RC -ne 0 ]]; then
		fail "'$*' exited $RC: $OUT"
		exit 1
	fi
}

# wait_until SECONDS WHAT CMD...: a bounded wait for CMD to succeed (every 0.2 s).
wait_until() {
	local limit=$1 what=$2 end
	shift 2
	end=$((SECONDS + limit))
	while ! "$@" >/dev/null 2>&1; do
		if ((SECONDS >= end)); then
			fail "$what: not within ${limit}s"
			return 1
		fi
		sleep 0.2
	done
}

lan() { ip netns exec "$LAN_NS" "$@"; }

# ---------------------------------------------------------------- dom0 and the LAN

# The network dom0 has before every test: eth0 with an IPv4 and an IPv6 address and the
# default route through the LAN's gateway, and the LAN namespace.
net_baseline() {
	if ! ip netns list | grep -qw "$LAN_NS"; then
		ip netns add "$LAN_NS"
		ip link set "$LAN_IF" netns "$LAN_NS"
		lan ip link set lo up
		lan sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
		lan sysctl -q -w "net.ipv6.conf.$LAN_IF.accept_dad=0"
		lan ip addr add "$LAN_IP/$PREFIX" dev "$LAN_IF"
		lan ip addr add "$LAN_IP6/$PREFIX6" dev "$LAN_IF" nodad
		lan ip link set "$LAN_IF" up
	fi
	sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	sysctl -q -w "net.ipv6.conf.$DOM0_IF.accept_dad=0"
	ip link set "$DOM0_IF" up
	ip addr show dev "$DOM0_IF" | grep -q "inet $DOM0_IP/" ||
		ip addr add "$DOM0_IP/$PREFIX" dev "$DOM0_IF"
	ip addr show dev "$DOM0_IF" | grep -q "inet6 $DOM0_IP6/" ||
		ip addr add "$DOM0_IP6/$PREFIX6" dev "$DOM0_IF" nodad
	ip route show default | grep -q . || ip route add default via "$LAN_IP" dev "$DOM0_IF"
	ip -6 route show default | grep -q . || ip -6 route add default via "$LAN_IP6" dev "$DOM0_IF"
}

# What network-bridge must give back: addresses, routes, links (name, MAC, MTU, state,
# master), with the kernel's own link-local items and counters left out, and the carrier
# (LOWER_UP, NO-CARRIER): the wire's state, not one a program sets; a bond's follows its
# slave only at its next link check.
net_state() {
	ip -j addr show | jq -S '[.[] | {ifname, address, mtu,
		flags: (.flags - ["LOWER_UP", "NO-CARRIER"]),
		master, addr: [.addr_info[] | select(.scope != "link" or .family == "inet")
		| {family, "local": .local, prefixlen, scope, "label": .label, secondary}]}]'
	ip -j route show table all | jq -S '[.[] | select(.type != "local" and .type != "broadcast"
		and (.dst // "" | startswith("fe80") | not))]'
	ip -j -6 route show table all | jq -S '[.[] | select((.dst // "" | startswith("fe80") or
		startswith("ff00") | not) and .type != "local" and .type != "multicast")]'
}

# Everything the programs may leave behind: links, nft, state and lock files, the store's
# backends.
leftovers() {
	ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(vif|xenbr|peth)' || true
	nft list tables 2>/dev/null | grep -v -E '^table (ip|ip6|inet) (filter|nat)$' || true
	find /var/run/xen-hotplug -mindepth 1 -maxdepth 1 ! -name 'network-*' -printf '%f\n' 2>/dev/null
	ls /run/xen-net-hooks 2>/dev/null || true
	xenstore-list /local/domain/0/backend/vif 2>/dev/null || true
}

# ---------------------------------------------------------------- guests

# guest_create NAME VIF... [-- XL-SETTING...]: writes NAME's xl configuration (a PV guest of
# the lane's kernel and initrd, one vif line per VIF) and runs xl create; OUT and RC as run.
guest_create() {
	local name=$1 v vifs="" cfg=/tmp/$1.cfg
	shift
	while [[ $# -gt 0 && $1 != -- ]]; do
		vifs+="${vifs:+, }'$1'"
		shift
	done
	[[ ${1:-} == -- ]] && shift
	{
		echo "name = \"$name\""
		echo "type = \"pv\""
		echo "kernel = \"$GUEST_KERNEL\""
		echo "ramdisk = \"$GUEST_RAMDISK\""
		echo "extra = \"console=hvc0 quiet\""
		echo "memory = 128"
		echo "vcpus = 1"
		echo "vif = [ $vifs ]"
		echo "on_crash = \"destroy\""
		for v in "$@"; do
			echo "$v"
		done
	} >"$cfg"
	run xl create "$cfg"
	echo "$name" >>"$TEST_DIR/guests"
}

# guest_up NAME VIF...: guest_create that must succeed, then waits for the guest's console.
guest_up() {
	guest_create "$@"
	if [[ $RC -ne 0 ]]; then
		fail "xl create $1 exited $RC: $OUT"
		exit 1
	fi
	guest_wait "$1" || exit 1
}

domid() { xl domid "$1" 2>/dev/null; }

# guest_wait NAME: opens NAME's console and waits (bounded) until its init answers.
guest_wait() {
	local name=$1 id tty end fd line
	id=$(domid "$name") || {
		fail "no domain $name"
		return 1
	}
	# Under emulation, four guests booting at once take more than a minute.
	end=$((SECONDS + 150))
	while ! tty=$(xenstore-read "/local/domain/$id/console/tty" 2>/dev/null) || [[ -z $tty ]]; do
		((SECONDS < end)) || {
			fail "$name: no console tty in the store"
			return 1
		}
		sleep 0.2
	done
	exec {fd}<>"$tty"
	stty -F "$tty" raw -echo 2>/dev/null
	CONS_FD[$name]=$fd
	# The init answers "@@ready" once; a console opened later sees only the answers to
	# what is sent, so ask until one comes.
	while ((SECONDS < end)); do
		printf 'sync%s\t%s\n' "$SECONDS" "$(printf true | base64 -w 0)" >&"$fd"
		while IFS= read -r -t 1 -u "$fd" line; do
			[[ $line == @@sync* || $line == @@ready* ]] && {
				# Drain what else is queued.
				while IFS= read -r -t 0.3 -u "$fd" line; do :; done
				return 0
			}
		done
	done
	fail "$name: the guest's init did not answer on its console within 150s"
	return 1
}

# guest_run NAME COMMAND [SECONDS]: runs COMMAND (sh) in the guest; OUT its output, RC its
# status (124 when no answer came in time, default 30 s).
GUEST_SEQ=0
guest_run() {
	local name=$1 cmd=$2 limit=${3:-30} fd id line end
	fd=${CONS_FD[$name]:-}
	[[ -n $fd ]] || guest_wait "$name" || return 1
	fd=${CONS_FD[$name]}
	GUEST_SEQ=$((GUEST_SEQ + 1))
	id="c$BASHPID.$GUEST_SEQ"
	# In base64, so that a command of several lines is still one line on the console.
	printf '%s\t%s\n' "$id" "$(printf '%s' "$cmd" | base64 -w 0)" >&"$fd"
	OUT='' RC=124
	end=$((SECONDS + limit))
	while ((SECONDS < end)); do
		IFS= read -r -t 1 -u "$fd" line || continue
		line=${line%$'\r'}
		# The end marker "@@ID STATUS"; a loaded emulator's console may drop a character of
		# it, and a lost marker would read as a command that never ended.
		if [[ $line =~ ^@{1,2}$id\ ([0-9]+)$ ]]; then
			RC=${BASH_REMATCH[1]}
			break
		fi
		[[ $line == @* ]] && continue
		OUT+=$line$'\n'
	done
	OUT=${OUT%$'\n'}
	echo "guest $name \$ $cmd -> $RC" >>"$TEST_DIR/transcript"
	[[ -n $OUT ]] && printf '%s\n' "$OUT" | sed 's/^/    /' >>"$TEST_DIR/transcript"
	return 0
}

# guest_must NAME COMMAND [SECONDS]: guest_run that must exit 0.
guest_must() {
	guest_run "$@"
	[[ $RC -eq 0 ]] || fail "guest $1: '$2' exited $RC: $OUT"
	[[ $RC -eq 0 ]]
}

# guest_net NAME IF ADDR/PREFIX [GATEWAY] [ADDR6/PREFIX6]: the guest's addresses and route.
guest_net() {
	local name=$1 ifc=$2 a=$3 gw=${4:-} a6=${5:-} cmd
	cmd="ip link set $ifc up && ip addr add $a dev $ifc"
	[[ -n $gw ]] && cmd+=" && ip route add default via $gw"
	# (busybox's ip has no nodad: the guest's init has switched DAD off.)
	[[ -n $a6 ]] && cmd+=" && ip -6 addr add $a6 dev $ifc"
	guest_must "$name" "$cmd"
}

guest_destroy() {
	local fd=${CONS_FD[$1]:-}
	if [[ -n $fd ]]; then
		exec {fd}>&-
		unset "CONS_FD[$1]"
	fi
	run xl destroy "$1"
}

# Every guest left: destroyed (the clean-up after any test).
destroy_all_guests() {
	local name
	while read -r name; do
		[[ -n $name && $name != Domain-0 ]] && xl destroy "$name" >/dev/null 2>&1
	done < <(xl list 2>/dev/null | awk 'NR > 1 {print $1}')
}

# ping_ok NS-OR-GUEST TARGET: a ping from dom0's LAN namespace ("lan") or a guest.
lan_ping() {
	run lan ping -c 1 -W 3 "$1"
	[[ $RC -eq 0 ]] || { run lan ping -c 2 -W 3 "$1"; }
	[[ $RC -eq 0 ]] || fail "the LAN cannot ping $1: $OUT"
}

guest_ping() {
	local name=$1 target=$2 p=ping
	[[ $target == *:* ]] && p=ping6
	guest_run "$name" "$p -c 1 -W 3 $target || $p -c 2 -W 3 $target" 20
	[[ $RC -eq 0 ]] || fail "guest $name cannot ping $target: $OUT"
}

# ---------------------------------------------------------------- frames

# frames_probe GUEST IF SMAC WANT FRAME...: the LAN listens, the guest sends FRAMEs (pkt.py
# NAME,KIND,... specs, built in dom0 with the guest's MAC SMAC unless a frame sets smac=)
# through rawsend; RECV is what arrived, one line per frame name.
RECV=
frames_probe() {
	local name=$1 ifc=$2 smac=$3 want=$4 w hex prefix ready pid out
	shift 4
	prefix="L${RANDOM}-"
	ready=$TEST_DIR/ready.$RANDOM
	out=$TEST_DIR/recv.$RANDOM
	local -a wargs=()
	for w in $want; do
		wargs+=(--want "$w")
	done
	# Ends soon after the wanted frames came; the bound only counts when one does not come,
	# and a long rawsend line takes a while to reach a guest on a loaded emulator.
	lan python3 "$PKT" recv "$LAN_IF" --prefix "$prefix" "${wargs[@]}" --timeout 30 \
		--ready "$ready" >"$out" 2>&1 &
	pid=$!
	wait_until 10 "pkt.py recv ready" test -e "$ready" || return 1
	if ! hex=$(python3 "$PKT" hex --smac "$smac" --prefix "$prefix" "$@" 2>&1); then
		kill "$pid" 2>/dev/null
		fail "pkt.py hex: $hex"
		return 1
	fi
	guest_must "$name" "rawsend $ifc ${hex//$'\n'/ }" || return 1
	wait "$pid"
	RECV=$(cat "$out")
	echo "frames from $name: $* -> $(echo "$RECV" | tr '\n' ';')" >>"$TEST_DIR/transcript"
}

arrived() { grep -qE "^$1 " <<<"$RECV"; }

assert_arrived() {
	local n
	for n in "$@"; do
		arrived "$n" || fail "frame $n did not arrive (got: $(echo "$RECV" | tr '\n' ';'))"
	done
}

assert_dropped() {
	local n
	for n in "$@"; do
		arrived "$n" && fail "frame $n arrived but must be dropped: $(grep -E "^$n " <<<"$RECV")"
	done
	return 0
}

# ---------------------------------------------------------------- runner

# Puts dom0 back to the baseline after a test, whatever it left: guests, bridges, the
# programs' state. A test's own assertions say whether it left anything; this only keeps
# one failure from failing the tests after it.
reset_dom0() {
	local b
	destroy_all_guests
	for b in $(ip -o link show type bridge | awk -F': ' '{print $2}'); do
		"$SCRIPTS/network-bridge" stop "bridge=$b" force=yes >/dev/null 2>&1
		ip link del "$b" 2>/dev/null
	done
	if ip link show "p$DOM0_IF" >/dev/null 2>&1; then
		ip link del "$DOM0_IF" 2>/dev/null
		ip link set "p$DOM0_IF" down
		ip link set "p$DOM0_IF" name "$DOM0_IF"
	fi
	for b in $(ip -o link show type bond | awk -F': ' '{print $2}'); do
		ip link del "$b"
	done
	"$SCRIPTS/network-route" stop >/dev/null 2>&1
	"$SCRIPTS/network-nat" stop >/dev/null 2>&1
	rm -f "$SCRIPTS/vif-nat-dnsmasq"
	nft delete table bridge xen_hotplug 2>/dev/null
	nft delete table inet xen_hotplug 2>/dev/null
	rm -rf /var/run/xen/nft-*
	net_baseline
}

# run_tests [NAME...]: each test_* function (or those named) in a fresh process with its
# own directory and time limit; prints ok/not ok and "N passed, N failed".
run_tests() {
	if [[ -n ${_LANE_ONE:-} ]]; then
		_run_one "$_LANE_ONE"
		exit $?
	fi
	local -a tests=("$@")
	[[ ${#tests[@]} -gt 0 ]] ||
		mapfile -t tests < <(grep -oE '^test_[A-Za-z0-9_]+ *\(\)' "$0" | sed 's/ *()//')
	local t passed=0 failed=0 rc dir t0
	for t in "${tests[@]}"; do
		dir=$RESULTS/$t
		rm -rf "$dir"
		mkdir -p "$dir"
		t0=$SECONDS
		_LANE_ONE=$t TEST_DIR=$dir timeout -k 5 "$TEST_TIMEOUT" bash "$0" >"$dir/log" 2>&1
		rc=$?
		tap_result "xen: $t ($((SECONDS - t0)) s)" "$rc" "$dir/log" "$dir/transcript"
		reset_dom0 >>"$dir/reset.log" 2>&1
	done
	echo "$passed passed, $failed failed"
}

_run_one() {
	TEST_FAILED=$TEST_DIR/failed
	rm -f "$TEST_FAILED" "$TEST_DIR/cleanup"
	: >"$TEST_DIR/guests"
	local rc
	(
		"$1"
	)
	rc=$?
	# The test's guests go, whatever happened to it; then what it listed in its cleanup
	# file, newest first (a command per line, failures ignored: the thing may be gone).
	local g c
	while read -r g; do
		xl destroy "$g" >/dev/null 2>&1
	done <"$TEST_DIR/guests"
	if [[ -e $TEST_DIR/cleanup ]]; then
		tac "$TEST_DIR/cleanup" | while read -r c; do
			bash -c "$c" >/dev/null 2>&1
		done
	fi
	[[ $rc -eq 0 && ! -e $TEST_FAILED ]]
}
