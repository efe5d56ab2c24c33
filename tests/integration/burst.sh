#!/bin/bash
# shellcheck disable=SC2034 # RUN_ENV is read by lib.sh's run_* helpers
# Burst tests (issue 6, SPEC.md section 7 "Concurrent invocations"): what udev
# does when many guests boot or shut down at once. Every program of a burst
# is its own process, started the way udev or xend starts it, and all of them
# are let go at the same instant (they wait at a gate, a file this shell
# holds locked, until every one of them is there). Afterwards the kernel's,
# nftables', xenstore's and the DHCP files' state is read back for every vif,
# and guests send real packets.
#
# The programs serialise with the flock-based locks of Xen's locking.sh
# (common/lock.c): they never steal a lock, and a burst is over well within
# the bound of a wait (XEN_LOCK_TIMEOUT, 20 s by default). That is shown
# here by the results the locks protect being exact (every DHCP entry once,
# the network-forwarding state file, the bridge takeover never seen half
# done), by no program saying anything about a timeout or a stolen lock, and
# by a shell holding a lock with the real locking.sh (claim_lock) while a
# burst arrives: every program waits in flock, none goes ahead, until it lets
# go. The time each burst took is printed as information, never judged.

# Each burst takes longer than a single program's test, most of all with the
# ASan build; TEST_TIMEOUT still overrides.
: "${TEST_TIMEOUT:=170}"

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../dhcp-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../dhcp-lib.sh"

# Vifs in the bridged burst (at most 130: their addresses are 192.0.2.101...
# and the 20 guests that boot during the offlines follow them), in the NAT
# bursts with dnsmasq and with ISC dhcpd (at most 254: guest D is 10.0.D.1)
# and in the routed one.
BRIDGED_N=${BURST_BRIDGED_N:-100}
NAT_N=${BURST_NAT_N:-100}
# With ISC dhcpd each online restarts the server, under the lock (as the Xen
# scripts did): a few tenths of a second each, so fewer guests.
ISC_N=${BURST_ISC_N:-20}
ROUTED_N=${BURST_ROUTED_N:-30}
IPTABLES_N=${BURST_IPTABLES_N:-30}
# Guests that boot while the bridged burst's guests shut down.
BOOTING_N=20
LOCKING_SH=${LOCKING_SH:-/etc/xen/scripts/locking.sh}
DUMMY_MAC=fe:ff:ff:ff:ff:ff
LAN=

declare -A G=() # guest namespaces by domid

# ---------------------------------------------------------------- bursts

BURST=
BURSTS=0
GATE=
JOBS=()
JOB_PIDS=()

# burst_new: prepares a burst: jobs added with job wait at the gate
# ($BURST/gate, locked here) until burst_fire.
burst_new() {
	BURSTS=$((BURSTS + 1))
	BURST=$SB/burst.$BURSTS
	mkdir -p "$BURST" || fail "cannot create $BURST"
	JOBS=()
	JOB_PIDS=()
	exec {GATE}>"$BURST/gate"
	flock -x "$GATE" || fail "cannot lock the gate"
}

# job NAME CMD...: one process of the burst: CMD (run_udev, run_env... which
# set RC and OUT) runs once the gate opens; its exit status and end time go
# to $BURST/NAME.rc, its output to $BURST/NAME.out. A gate that opens
# because the test ended (it failed before burst_fire) runs nothing.
job() {
	local name=$1
	shift
	(
		exec {GATE}>&-
		flock -s "$BURST/gate" true
		[[ -e $BURST/fired ]] || exit 0
		"$@"
		printf '%s\n' "$OUT" >"$BURST/$name.out"
		echo "$RC $EPOCHREALTIME" >"$BURST/$name.rc"
	) &
	JOBS+=("$name")
	JOB_PIDS+=($!)
}

# lock_waiters FILE: how many flock requests wait for FILE (from /proc/locks,
# where a blocked request is a "->" line naming the file's inode).
lock_waiters() {
	local ino
	ino=$(stat -c %i "$1" 2>/dev/null) || {
		echo 0
		return
	}
	grep -cE -- "-> FLOCK +ADVISORY +[A-Z]+ +[0-9]+ +[0-9a-f]+:[0-9a-f]+:$ino " /proc/locks
}

# await_waiters FILE COUNT WHAT: until COUNT requests wait for FILE (bounded:
# starting a hundred ASan-built processes on a busy machine takes a while).
await_waiters() {
	local i n=0
	for ((i = 0; i < 1200; i++)); do
		n=$(lock_waiters "$1")
		((n >= $2)) && return 0
		sleep 0.05
	done
	fail "$3: $n of $2 wait for the lock ${1##*/}"
}

# burst_fire: when every job waits at the gate, opens it; T0 is that instant.
burst_fire() {
	await_waiters "$BURST/gate" "${#JOBS[@]}" "jobs at the gate"
	: >"$BURST/fired"
	T0=$EPOCHREALTIME
	flock -u "$GATE"
	exec {GATE}>&-
}

# usecs TIME: an $EPOCHREALTIME value in microseconds.
usecs() {
	local t=${1//[.,]/}
	echo $((10#$t))
}

# burst_wait: waits for every job of the burst; BURST_MS gets the time from
# T0 (burst_fire's, or set by the caller) to the end of the last job.
burst_wait() {
	local name rc t last
	wait "${JOB_PIDS[@]}"
	last=$(usecs "$T0")
	for name in "${JOBS[@]}"; do
		rc=
		[[ -s $BURST/$name.rc ]] && read -r rc t <"$BURST/$name.rc"
		[[ -n $rc ]] || fail "job $name left no result"
		t=$(usecs "$t")
		((t > last)) && last=$t
	done
	BURST_MS=$(((last - $(usecs "$T0")) / 1000))
}

job_rc() { cut -d' ' -f1 "$BURST/$1.rc"; }
job_out() { cat "$BURST/$1.out"; }

# assert_jobs_ok NAME...: each of these jobs exited 0 (the first failure is
# shown with its output).
assert_jobs_ok() {
	local name bad=()
	for name in "$@"; do
		[[ $(job_rc "$name") == 0 ]] || bad+=("$name")
	done
	[[ ${#bad[@]} -eq 0 ]] ||
		fail "${#bad[@]} job(s) failed: ${bad[*]}; ${bad[0]} said: $(job_out "${bad[0]}")"
}

# assert_nothing_alarming: no program of any burst, nor the hotplug log,
# mentions a lock timeout, a stolen lock or a sanitizer report; and the
# programs' lines in the hotplug log, appended by many at once, are whole.
assert_nothing_alarming() {
	local hits
	hits=$(cat "$SB"/burst.*/*.out "$XEN_LOG_DIR"/* 2>/dev/null |
		grep -iE 'steal|stole|timed? ?out|sanitizer|runtime error|leak' | head -n 5)
	assert_eq "" "$hits" "alarming messages"
	hits=$(grep -vE '^(vif-bridge|vif-route|vif-nat|network-bridge|network-route|network-nat): ' 		"$XEN_LOG_DIR/xen-hotplug.log" 2>/dev/null | head -n 5)
	assert_eq "" "$hits" "broken lines in the hotplug log"
}

# names DIR: the names in DIR (none when it does not exist), one a line, sorted.
names() {
	find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | LC_ALL=C sort
}

# assert_no_lock_files: every program released its locks (a released lock
# file is unlinked, as locking.sh's release_lock does).
assert_no_lock_files() {
	assert_eq "" "$(ls -A "$XEN_LOCK_DIR")" "files left in the lock directory"
}

# hold_lock NAME: a shell takes the lock NAME as Xen's scripts take it
# (claim_lock of the real locking.sh, on the sandbox's lock directory) and
# keeps it until release_held.
hold_lock() {
	[[ -r $LOCKING_SH ]] || fail "$LOCKING_SH missing (package xen-utils-common)"
	rm -f "$SB/held" "$SB/release"
	(
		set +u
		# shellcheck source=/dev/null
		source "$LOCKING_SH"
		LOCK_BASEDIR=$XEN_LOCK_DIR
		claim_lock "$1"
		touch "$SB/held"
		while [[ ! -e $SB/release ]]; do
			sleep 0.02
		done
		release_lock "$1"
	) &
	HOLDER=$!
	echo "$HOLDER" >>"$SB/pids"
	local i
	for ((i = 0; i < 500; i++)); do
		[[ -e $SB/held ]] && break
		sleep 0.01
	done
	[[ -e $SB/held ]] || fail "locking.sh's claim_lock $1 did not return"
}

# release_held: the holder lets go (release_lock, then it exits); T0 is then.
release_held() {
	T0=$EPOCHREALTIME
	touch "$SB/release"
	wait "$HOLDER"
}

# jobs_done: how many jobs of the burst have ended.
jobs_done() {
	local f n=0
	for f in "$BURST"/*.rc; do
		[[ -e $f ]] && n=$((n + 1))
	done
	echo "$n"
}

# await_jobs COUNT WHAT: until COUNT jobs of the burst have ended (bounded);
# LAST_END gets the latest end time among them, in microseconds.
await_jobs() {
	local i f rc t
	for ((i = 0; i < 1200; i++)); do
		(($(jobs_done) >= $1)) && break
		sleep 0.05
	done
	(($(jobs_done) >= $1)) || fail "$2: $(jobs_done) of $1 ended"
	LAST_END=0
	for f in "$BURST"/*.rc; do
		read -r rc t <"$f"
		t=$(usecs "$t")
		((t > LAST_END)) && LAST_END=$t
	done
	return 0
}

# ---------------------------------------------------------------- host state

nft_h() { ip netns exec "$HOST" nft "$@"; }

# fw_lines FAMILY: the per-vif part of our nft table of FAMILY: every element
# of its sets and maps (lib.sh's fw_elems: "SET KEY[ : DATA]"), sorted as
# expected_fw sorts. A vif's rules are the elements that name it (its base
# chain is shared by all), network-nat's masquerade the element
# "masquerade <netdev>".
fw_lines() {
	fw_elems "$1" | LC_ALL=C sort
}

# has_line TEXT LINE: TEXT has LINE as a whole line.
has_line() {
	grep -qxF -- "$2" <<<"$1"
}

# expected_fw REF_LINES REF_DEV REF_ADDR REF_MAC D ADDR...: the lines fw_lines
# (or ipt_lines) must show for the vifs vif<D>.0 with address ADDR (pairs):
# those of the reference vif, each with its own name, address and MAC.
expected_fw() {
	local ref=$1 rdev=$2 raddr=$3 rmac=$4 d addr mac lines out=""
	shift 4
	while [[ $# -gt 0 ]]; do
		d=$1 addr=$2
		shift 2
		printf -v mac '00:16:3e:%02x:%02x:00' $(((d >> 8) & 255)) $((d & 255))
		lines=${ref//$rdev/vif$d.0}
		lines=${lines//$raddr/$addr}
		out+=${lines//$rmac/$mac}$'\n'
	done
	printf '%s' "$out" | sed '/^$/d' | LC_ALL=C sort
}

# rule_lines KIND: the per-vif rules of KIND: fw_lines bridge|inet, or
# ipt_lines for iptables.
rule_lines() {
	if [[ $1 == iptables ]]; then ipt_lines; else fw_lines "$1"; fi
}

# reference PROG KIND ADDR [tap] [ARGS...]: the reference vif vif999.0 (made
# and seeded by the caller), whose rules every vif's must equal but for its
# name, address and MAC: PROG brings it up alone (and its tap, with tap);
# REF gets its rule_lines of KIND, which must name ADDR; then PROG takes it
# down again, after which nothing of it is left: an nft table goes with its
# last vif, so the burst's programs find none and race to make it.
reference() {
	local prog=$1 kind=$2 addr=$3 tap=${4:-}
	shift 4
	run_udev "$prog" 999 0 online "$@"
	assert_eq 0 "$RC" "online of the reference vif: $OUT"
	if [[ $tap == tap ]]; then
		run_xl "$prog" 999 0 add type_if=tap
		assert_eq 0 "$RC" "add of the reference tap: $OUT"
	fi
	REF=$(rule_lines "$kind")
	assert_contains "$REF" "$addr" "the reference vif's rules"
	run_udev "$prog" 999 0 offline "$@"
	assert_eq 0 "$RC" "offline of the reference vif: $OUT"
	if [[ $tap == tap ]]; then
		run_xl "$prog" 999 0 remove type_if=tap
		assert_eq 0 "$RC" "remove of the reference tap: $OUT"
	fi
	assert_eq "" "$(rule_lines "$kind")" "rules left after the reference's offline"
	if [[ $kind != iptables ]]; then
		assert_eq "" "$(nft_h list tables | grep -x "table $kind xen_hotplug")" \
			"table $kind xen_hotplug after the reference's offline"
	fi
}

# assert_connected D...: hotplug-status of every vif<D>.0 is connected.
assert_connected() {
	local st=()
	mapfile -t st < <(xs_values hotplug-status "$@")
	assert_eq "$# connected" "$(printf '%s\n' "${st[@]}" | uniq -c | sed 's/^ *//')" \
		"hotplug-status of the vifs"
}

# vif_links: "name master up|down mac mtu" of every host link vif<D>.<I>.
vif_links() {
	ip -n "$HOST" -j link show | jq -r '.[] | select(.ifname | test("^vif[0-9]+\\.[0-9]+$"))
		| "\(.ifname) \(.master // "-") \(if (.flags | index("UP")) then "up" else "down" end)"
		+ " \(.address) \(.mtu)"' | LC_ALL=C sort
}

# xs_values KEY D...: the value of KEY under each vif<D>.0's backend, a line
# each ("-" when missing), from one xenstore-read per vif group.
xs_values() {
	local key=$1 d
	shift
	for d in "$@"; do
		xenstore-read "$(xs_backend "$d" 0)/$key" 2>/dev/null || echo -
	done
}

# reach_all GATEWAY_OF D...: every guest D pings the address `GATEWAY_OF D`
# prints, all at once, a few tries each; prints the domids that could not.
reach_all() {
	local of=$1 d gw pids=()
	shift
	: >"$SB/unreached"
	for d in "$@"; do
		gw=$("$of" "$d")
		(
			for _ in 1 2 3; do
				ip netns exec "${G[$d]}" ping -c 1 -W 1 "$gw" >/dev/null 2>&1 && exit 0
			done
			echo "$d" >>"$SB/unreached"
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	sort -n "$SB/unreached" | tr '\n' ' ' | sed 's/ $//'
}

# records DIR: the firewall's records in $XEN_RUN_DIR/DIR (nft-bridge,
# nft-inet, nft-masquerade: one file per device that has rules), sorted.
records() {
	names "$XEN_RUN_DIR/$1"
}

# dev_lines FORMAT D...: FORMAT (a printf format of one %s) for each D, sorted.
dev_lines() {
	local fmt=$1
	shift
	# shellcheck disable=SC2059 # the format is the caller's
	printf "$fmt\n" "$@" | LC_ALL=C sort
}

# assert_ruleset_forgets D...: no table of the host's ruleset names vif<D>.0.
assert_ruleset_forgets() {
	local rs d
	rs=$(nft_h list ruleset)
	for d in "$@"; do
		[[ $rs =~ vif$d\.0([^0-9]|$) ]] && fail "the ruleset still names vif$d.0"
	done
	return 0
}

# ---------------------------------------------------------------- bridged

# nb ARGS...: network-bridge as xend runs it; the NFS-root check reads the
# sandbox's mount table and command line (a local root), never the real ones.
nb() {
	[[ -e $SB/mounts ]] || echo "/dev/vda1 / ext4 rw,relatime 0 0" >"$SB/mounts"
	[[ -e $SB/cmdline ]] || echo "root=/dev/vda1 ro quiet" >"$SB/cmdline"
	run_env network-bridge "NETWORK_BRIDGE_MOUNTS=$SB/mounts" \
		"NETWORK_BRIDGE_CMDLINE=$SB/cmdline" -- "$@"
}

# A Xen host as xend leaves it at boot: eth0 (lan_new: 192.0.2.2/24 and the
# default route, the LAN's router 192.0.2.1) already taken into xenbr0 by
# network-bridge start. A second NIC eth1 with jumbo frames (MTU 9000) on
# 198.51.100.0/24 (its LAN end lan1, 198.51.100.1, in the same LAN
# namespace) carries 198.51.100.2/24, a route to 203.0.113.0/24 and a
# default route in table 100; it is not bridged yet.
bridged_host() {
	lan_new 192.0.2.2
	inh sysctl -qw net.ipv4.conf.all.rp_filter=0
	nb start netdev=eth0 bridge=xenbr0
	assert_eq 0 "$RC" "network-bridge start of eth0: $OUT"
	ip -n "$HOST" link add eth1 mtu 9000 type veth peer name lan1 mtu 9000 netns "$LAN" ||
		fail "cannot create eth1"
	ip -n "$LAN" -batch - <<-EOF || fail "cannot configure lan1"
		link set lan1 up
		addr add 198.51.100.1/24 dev lan1
	EOF
	ip -n "$HOST" -batch - <<-EOF || fail "cannot configure eth1"
		link set eth1 up
		addr add 198.51.100.2/24 dev eth1
		route add 203.0.113.0/24 via 198.51.100.1 dev eth1
		route add default via 198.51.100.1 dev eth1 table 100
	EOF
}

# Which bridge guest D's vif is configured for: that of every tenth guest
# of the first burst is xenbr1, the bridge network-bridge start makes during
# it; the others' (and those of the guests that boot later) xenbr0.
on_xenbr1() { (($1 <= BRIDGED_N && $1 % 10 == 0)); }
bridge_of() { if on_xenbr1 "$1"; then echo xenbr1; else echo xenbr0; fi; }
# Guest D's address on its bridge's LAN, that LAN's router, the bridge's MTU.
baddr_of() { if on_xenbr1 "$1"; then echo "198.51.100.$((100 + $1))"; else echo "192.0.2.$((100 + $1))"; fi; }
bgw_of() { if on_xenbr1 "$1"; then echo 198.51.100.1; else echo 192.0.2.1; fi; }
bmtu_of() { if on_xenbr1 "$1"; then echo 9000; else echo 1500; fi; }

# bguest D: guest D behind vif<D>.0, the store seeded by the toolstack with
# its bridge and address, which its eth0 carries.
bguest() {
	local d=$1 addr
	addr=$(baddr_of "$d")
	vif_add "$d" 0 || fail "cannot create vif$d.0"
	G[$d]=$GUEST
	xs_vif_seed "$d" 0 "bridge=$(bridge_of "$d")" "ip=$addr" || fail "cannot seed vif$d.0"
	ip -n "$GUEST" addr add "$addr/24" dev eth0 || fail "cannot give guest $d $addr"
}

# The addresses and routes (IPv4, all tables) of a host link: what
# network-bridge moves to the bridge and back.
nic_state() {
	ip -n "$HOST" -4 -j addr show dev "$1" | jq -c '.[0].addr_info[] | {local, prefixlen, scope}'
	ip -n "$HOST" -4 -j route show table all dev "$1" | jq -S -c '.[] | del(.dev)' | LC_ALL=C sort
}

# The per-vif lines of the bridge table for vifs D... (expected_fw of each,
# its port element naming its own bridge: the reference's is xenbr0).
bridged_expected_fw() {
	local d
	for d in "$@"; do
		expected_fw "$REF" vif999.0 192.0.2.99 "$(vif_mac 999 0)" "$d" "$(baddr_of "$d")" |
			sed "s/^ports xenbr0 \\. /ports $(bridge_of "$d") . /"
		echo
	done | sed '/^$/d' | LC_ALL=C sort
}

# assert_bridged_online D...: each vif<D>.0 is a port of its bridge, up, with
# the dummy MAC and its bridge's MTU, reported connected with that MTU in its
# frontend (its set elements: bridged_expected_fw).
assert_bridged_online() {
	local d want="" st=() fe=() w
	for d in "$@"; do
		want+="vif$d.0 $(bridge_of "$d") up $DUMMY_MAC $(bmtu_of "$d")"$'\n'
	done
	w=$(grep -E "^vif($(IFS='|' && echo "$*"))\.0 " <<<"$(vif_links)")
	assert_same "$(LC_ALL=C sort <<<"${want%$'\n'}")" "$w" "the vifs' links"
	mapfile -t st < <(xs_values hotplug-status "$@")
	want=""
	for d in "$@"; do
		want+="vif$d.0 connected $(bmtu_of "$d")"$'\n'
		fe+=("$(xenstore-read "$(xs_frontend "$d" 0)/mtu" 2>/dev/null || echo -)")
	done
	w=""
	local k=0
	for d in "$@"; do
		w+="vif$d.0 ${st[$k]} ${fe[$k]}"$'\n'
		k=$((k + 1))
	done
	assert_same "${want%$'\n'}" "${w%$'\n'}" "hotplug-status and frontend MTU of the vifs"
}

# network-bridge start for eth1 ran to its end: eth1 in xenbr1, the bridge
# with eth1's MAC and MTU, up, and eth1's addresses and routes on it.
assert_eth1_taken_over() { # NIC_STATE_BEFORE
	assert_eq xenbr1 "$(link_master eth1)" "master of eth1"
	assert_eq "$(link_mac eth1)" "$(link_mac xenbr1)" "MAC of xenbr1"
	assert_eq 9000 "$(link_mtu xenbr1)" "MTU of xenbr1"
	assert_ok link_is_up xenbr1
	assert_same "$1" "$(nic_state xenbr1)" "addresses and routes of xenbr1 (those of eth1)"
	assert_eq "" "$(ip -n "$HOST" -4 -j addr show dev eth1 | jq -r '.[0].addr_info[]?.local')" \
		"addresses left on eth1"
}

# 100 vifs brought online at once, as udev does when the guests of a host
# boot together, while xend's network-bridge start takes a second NIC (eth1)
# into a new bridge xenbr1; then the guests shut down at once while others
# boot and the administrator stops that bridge.
#
# What the vifs see. Nine in ten are for xenbr0, which exists: all of them
# must end attached and connected. Every tenth is for xenbr1, which
# network-bridge start is making at that moment. vif-bridge and
# network-bridge share the lock network-bridge, so such a vif either runs
# before the start (xenbr1 does not exist yet: it is refused with a
# hotplug-error naming the bridge, exit 1, and nothing changed) or after
# it, and then it finds the takeover complete: the bridge with eth1 in it
# and eth1's MTU of 9000, which the vif takes on. Never a bridge half made
# (a bridge of MTU 1500 without eth1). A toolstack retries a failed
# hotplug (xl network-attach, or the guest's restart): the refused ones are
# fired once more and must then end like the others. Every vif ends
# attached and up on its bridge with the bridge's MTU, its own set elements
# with its own address and MAC and nothing else, hotplug-status connected, and
# its guest reaches its LAN's router while a forged source does not.
#
# The offlines: the guests shut down at once while 20 others boot (onlines
# for xenbr0) and the administrator stops xenbr1 with force=yes (the
# guests on it are leaving anyway; stop releases whatever ports remain). A
# shell holds the lock network-bridge with locking.sh while they all
# arrive: every one of them waits, the onlines with their rules already in
# (they go in before the lock, which guards the bridge), the offlines with
# their vifs still up and filtered. Afterwards nothing of the old vifs is
# left (no element naming it, no rule, not a port, down), eth1 has its
# addresses and routes back, xenbr1 and its state file are gone, and the
# lock directory is empty.
test_bridged_burst() {
	local n=$BRIDGED_N d i ids=() ids1=() before1 refused=() lost
	((n <= 130)) || fail "BURST_BRIDGED_N=$n: at most 130"
	bridged_host
	before1=$(nic_state eth1)
	local run_before
	run_before=$(names "$XEN_RUN_DIR")
	vif_add 999 0 || fail "cannot create vif999.0"
	xs_vif_seed 999 0 bridge=xenbr0 ip=192.0.2.99 || fail "cannot seed vif999.0"
	reference vif-bridge bridge 192.0.2.99 ''
	assert_ok has_line "$REF" "vifs vif999.0"
	assert_ok has_line "$REF" "ports xenbr0 . vif999.0"
	assert_ok has_line "$REF" "addr4 vif999.0 . 192.0.2.99"

	for ((d = 1; d <= n; d++)); do
		bguest "$d"
		ids+=("$d")
		on_xenbr1 "$d" && ids1+=("$d")
	done

	# The onlines and network-bridge start for eth1, at the same instant.
	burst_new
	for d in "${ids[@]}"; do
		job "on$d" run_udev vif-bridge "$d" 0 online
	done
	job start nb start netdev=eth1 bridge=xenbr1
	burst_fire
	burst_wait
	local on_ms=$BURST_MS
	assert_jobs_ok start
	assert_eth1_taken_over "$before1"
	local xenbr0_ids=()
	for d in "${ids[@]}"; do
		if ! on_xenbr1 "$d"; then
			xenbr0_ids+=("on$d")
		elif [[ $(job_rc "on$d") != 0 ]]; then
			refused+=("$d")
		fi
	done
	assert_jobs_ok "${xenbr0_ids[@]}"
	# A refused vif said why, and nothing of it was changed.
	for d in "${refused[@]}"; do
		assert_eq error "$(xs_read "$(xs_backend "$d" 0)/hotplug-status")" \
			"hotplug-status of refused vif$d.0"
		assert_contains "$(xs_read "$(xs_backend "$d" 0)/hotplug-error")" \
			"bridge xenbr1 does not exist" "hotplug-error of vif$d.0"
	done
	if [[ ${#refused[@]} -gt 0 ]]; then
		local links
		links=$(vif_links)
		for d in "${refused[@]}"; do
			assert_contains "$links" "vif$d.0 - down " "vif$d.0 after its refusal"
			assert_eq "" "$(fw_elems_of bridge "vif$d.0")" "rules of refused vif$d.0"
		done
		# The toolstack's retry.
		burst_new
		for d in "${refused[@]}"; do
			job "retry$d" run_udev vif-bridge "$d" 0 online
		done
		burst_fire
		burst_wait
		for d in "${refused[@]}"; do
			assert_jobs_ok "retry$d"
		done
	fi
	note "bridged: $n vif-bridge onlines and network-bridge start fired at once: all" \
		"done in $on_ms ms; ${#refused[@]} of the ${#ids1[@]} vifs for xenbr1 came" \
		"before the bridge and were refused cleanly, then retried"
	assert_bridged_online "${ids[@]}"
	assert_same "$(bridged_expected_fw "${ids[@]}")" "$(fw_lines bridge)" \
		"the vifs' set elements"
	# Every vif of xenbr1 a port beside eth1, forwarding (network-bridge status).
	nb status netdev=eth1 bridge=xenbr1 --json
	assert_eq 0 "$RC" "network-bridge status"
	local want_ports="eth1 forwarding"$'\n'
	for d in "${ids1[@]}"; do
		want_ports+="vif$d.0 forwarding"$'\n'
	done
	assert_same "$(LC_ALL=C sort <<<"${want_ports%$'\n'}")" \
		"$(jq -r '.ports[] | "\(.name) \(.state)"' <<<"$OUT" | LC_ALL=C sort)" \
		"the ports of xenbr1 (network-bridge status)"
	# Real packets: every guest reaches its LAN's router.
	lost=$(reach_all bgw_of "${ids[@]}")
	assert_eq "" "$lost" "guests that could not reach their LAN's router"
	# A forged source is dropped, on either bridge (the same guests' own
	# address just passed).
	local forged
	for d in 1 "${ids1[0]}"; do
		forged=192.0.2.250
		on_xenbr1 "$d" && forged=198.51.100.250
		ip -n "${G[$d]}" addr add "$forged/32" dev eth0
		assert_fail ip netns exec "${G[$d]}" ping -c 1 -W 1 -I "$forged" "$(bgw_of "$d")"
		ip -n "${G[$d]}" addr del "$forged/32" dev eth0
	done
	assert_no_lock_files
	assert_nothing_alarming

	# The offlines, while 20 guests boot and xenbr1 is stopped; all of them
	# arrive while a shell holds the lock.
	local booting=()
	for ((d = n + 1; d <= n + BOOTING_N; d++)); do
		bguest "$d"
		booting+=("$d")
	done
	local links_before fw_before
	links_before=$(vif_links)
	fw_before=$(fw_lines bridge)
	hold_lock network-bridge
	burst_new
	for d in "${ids[@]}"; do
		job "off$d" run_udev vif-bridge "$d" 0 offline
	done
	for d in "${booting[@]}"; do
		job "on$d" run_xl vif-bridge "$d" 0 online
	done
	job stop nb stop netdev=eth1 bridge=xenbr1 force=yes
	burst_fire
	await_waiters "$XEN_LOCK_DIR/network-bridge" "${#JOBS[@]}" "programs waiting for the lock"
	# All of them wait; not one went ahead.
	assert_eq 0 "$(jobs_done)" "programs that ended while the lock was held"
	assert_same "$links_before" "$(vif_links)" "the vifs while the lock is held"
	# The onlines put their rules in before they wait (the lock guards the bridge only); the
	# offlines take none out before their vif is down.
	assert_same "$(printf '%s\n%s\n' "$fw_before" "$(bridged_expected_fw "${booting[@]}")" |
		sed '/^$/d' | LC_ALL=C sort -u)" "$(fw_lines bridge)" "the rules while the lock is held"
	assert_eq xenbr1 "$(link_master eth1)" "master of eth1 while the lock is held"
	release_held
	burst_wait
	local off_ms=$BURST_MS
	assert_jobs_ok "${JOBS[@]}"
	note "bridged: $n vif-bridge offlines, $BOOTING_N onlines and network-bridge stop," \
		"all waiting for the lock a shell held: all done in $off_ms ms after it let go"

	# Nothing left of the old vifs: not a port, down, no element or rule.
	local want_links=""
	for d in "${ids[@]}"; do
		want_links+="vif$d.0 - down $DUMMY_MAC $(bmtu_of "$d")"$'\n'
	done
	assert_same "$(LC_ALL=C sort <<<"${want_links%$'\n'}")" \
		"$(grep -E "^vif($(IFS='|' && echo "${ids[*]}"))\.0 " <<<"$(vif_links)")" \
		"the old vifs after the offlines"
	assert_same "$(bridged_expected_fw "${booting[@]}")" "$(fw_lines bridge)" \
		"set elements after the offlines (the booted guests' only)"
	assert_ruleset_forgets "${ids[@]}"
	# The booted guests are attached and connected, and reach the LAN.
	assert_bridged_online "${booting[@]}"
	lost=$(reach_all bgw_of "${booting[@]}")
	assert_eq "" "$lost" "booted guests that could not reach the LAN"
	# xenbr1 is gone, eth1 has its own again.
	assert_fail link_exists xenbr1
	assert_eq "" "$(link_master eth1)" "master of eth1 after stop"
	assert_same "$before1" "$(nic_state eth1)" "addresses and routes of eth1 after stop"
	# The firewall's records (nft-bridge/) are the booted guests' only.
	assert_eq "$run_before" "$(names "$XEN_RUN_DIR" | grep -vx nft-bridge)" "state files after stop"
	assert_same "$(dev_lines vif%s.0 "${booting[@]}")" "$(records nft-bridge)" \
		"the firewall's records after the offlines"
	assert_no_lock_files
	assert_nothing_alarming
}

# ---------------------------------------------------------------- NAT

# A file's bytes, owner and mode, to compare before and after.
file_state() {
	stat -c '%u:%g %a' "$1"
	md5sum <"$1"
}

# nguest D: guest D behind vif<D>.0 with the store as the toolstack seeds it
# (no ip: vif-nat gives it 10.0.D.1, router 10.0.D.128).
nguest() {
	vif_add "$1" 0 || fail "cannot create vif$1.0"
	G[$1]=$GUEST
	xs_vif_seed "$1" 0 || fail "cannot seed vif$1.0"
}

# dhcp_lines KIND D...: the entry of each guest D, as vif-nat writes it for
# ISC dhcpd (isc) or dnsmasq, sorted.
dhcp_lines() {
	local kind=$1 d mac
	shift
	for d in "$@"; do
		mac=$(vif_mac "$d" 0)
		if [[ $kind == isc ]]; then
			echo "host dom$d { hardware ethernet $mac; fixed-address 10.0.$d.1;" \
				"option routers 10.0.$d.128; option host-name \"dom$d\"; }"
		else
			echo "$mac,10.0.$d.1,dom$d"
		fi
	done | LC_ALL=C sort
}

# added_lines FILE ORIGINAL: the lines of FILE that ORIGINAL (a text) does not
# have, sorted; and fails unless ORIGINAL's lines are all still there, in
# their order (the file is the original with lines added).
added_lines() {
	local added
	added=$(grep -vxF -f <(printf '%s\n' "$2") "$1" | LC_ALL=C sort)
	assert_same "$2" "$(grep -vxF -f <(printf '%s\n' "$added") "$1")" \
		"the administrator's lines of $1"
	printf '%s\n' "$added"
}

# lease NS: "<address> <router>" of the lease a DHCP client in NS gets.
lease() { dhcp_client "$1" eth0 10 2>/dev/null; }

# NAT guests booting at once, with DHCP by ISC dhcpd (KIND isc: the real
# server, restarted by each online as vif-nat does it) or by dnsmasq (KIND
# dnsmasq: the real one, told to reread by each online), while xend's
# network-nat start runs for eth0 with the same DHCP server: every one of
# them edits the same files under the lock vif-nat-dhcp. A shell holds that
# lock with locking.sh while they arrive: every program waits and the files
# stay untouched until it lets go. Then every guest's entry is there exactly
# once (a lost update would drop one), and network-nat's subnet
# declaration (ISC) once; the server runs and hands two sampled guests their
# lease, and one of them, configured by it, reaches the LAN through the
# masquerade. Then all guests shut down at once while network-nat stops:
# no entry is left, the administrator's files are byte for byte, owner and
# mode what they were, no element or route of a vif, no owned table,
# forwarding off again, no state file, no lock file.
nat_burst() {
	local kind=$1 n=$NAT_N d ids=() env=() files=() states=() f
	[[ $kind == isc ]] && n=$ISC_N
	((n <= 254)) || fail "BURST_NAT_N=$n: at most 254"
	lan_new 192.0.2.2
	if [[ $kind == isc ]]; then
		dhcpd_sandbox "$SB/isc"
		env=("${DHCPD_ENV[@]}")
		files=("$SB/isc/dhcpd.conf" "$SB/isc/isc-dhcp-server")
	else
		dnsmasq_sandbox "$SB/dm"
		env=("${DNSMASQ_ENV[@]}")
		files=("$SB/dm/dnsmasq.hosts")
	fi
	local -A orig=()
	for f in "${files[@]}"; do
		states+=("$(file_state "$f")")
		orig[$f]=$(cat "$f")
	done
	local fwd_before
	fwd_before=$(inh cat /proc/sys/net/ipv4/ip_forward)
	# The reference (dhcp=no: it leaves the files alone).
	vif_add 999 0 || fail "cannot create vif999.0"
	xs_vif_seed 999 0 || fail "cannot seed vif999.0"
	reference vif-nat inet 10.3.231.1 '' dhcp=no
	assert_ok has_line "$REF" "owners4 10.3.231.1 : vif999.0"
	assert_ok has_line "$REF" "claims4 10.3.231.1"
	for ((d = 1; d <= n; d++)); do
		nguest "$d"
		ids+=("$d")
	done

	hold_lock vif-nat-dhcp
	burst_new
	for d in "${ids[@]}"; do
		job "on$d" run_udev vif-nat "$d" 0 online "${env[@]}"
	done
	job start run_env network-nat -- start netdev=eth0 "${env[@]}"
	burst_fire
	await_waiters "$XEN_LOCK_DIR/vif-nat-dhcp" "${#JOBS[@]}" "programs waiting for vif-nat-dhcp"
	assert_eq 0 "$(jobs_done)" "programs that ended while the lock was held"
	local k=0
	for f in "${files[@]}"; do
		assert_eq "${states[$k]}" "$(file_state "$f")" "$f while the lock is held"
		k=$((k + 1))
	done
	release_held
	burst_wait
	assert_jobs_ok "${JOBS[@]}"
	note "NAT ($kind): $n vif-nat onlines and network-nat start, all waiting for the" \
		"lock a shell held: all done in $BURST_MS ms after it let go"
	assert_connected "${ids[@]}"

	# Every entry exactly once, nothing else touched.
	local want
	want=$(dhcp_lines "$kind" "${ids[@]}")
	if [[ $kind == isc ]]; then
		local subnet='subnet 10.0.0.0 netmask 255.0.0.0 { option subnet-mask 255.255.0.0; }'
		want=$(printf '%s\n%s\n' "$want" "$subnet" | LC_ALL=C sort)
		assert_same "$want" "$(added_lines "${files[0]}" "${orig[${files[0]}]}")" \
			"the lines added to dhcpd.conf"
		local ifs=""
		for d in "${ids[@]}"; do
			ifs+="vif$d.0"$'\n'
		done
		assert_same "$(LC_ALL=C sort <<<"${ifs%$'\n'}")" \
			"$(sed -n 's/^INTERFACESv4="\(.*\)"$/\1/p' "${files[1]}" | tr ' ' '\n' |
				LC_ALL=C sort)" "the interfaces dhcpd serves (INTERFACESv4)"
		assert_same "$(grep -v '^INTERFACESv4=' <<<"${orig[${files[1]}]}")" \
			"$(grep -v '^INTERFACESv4=' "${files[1]}")" "the rest of the defaults file"
		assert_ok dhcp_alive "$(cat "$SB/isc/dhcpd.pid")"
	else
		assert_same "$want" "$(added_lines "${files[0]}" "${orig[${files[0]}]}")" \
			"the lines added to the hosts file"
		assert_ok dhcp_alive "$(cat "$SB/dm/dnsmasq.pid")"
	fi
	# The vifs' set and map elements, and network-nat's masquerade.
	local pairs=()
	for d in "${ids[@]}"; do
		pairs+=("$d" "10.0.$d.1")
	done
	assert_same "$(printf '%s\n%s\n' "$(expected_fw "$REF" vif999.0 10.3.231.1 \
		"$(vif_mac 999 0)" "${pairs[@]}")" 'uplinks eth0' | LC_ALL=C sort)" \
		"$(fw_lines inet)" "the vifs' elements"
	assert_eq 1 "$(inh cat /proc/sys/net/ipv4/ip_forward)" "ip_forward"
	# Real packets: the server gives two guests their lease, and the guest
	# configured by it reaches the LAN, masqueraded.
	local last=${ids[-1]}
	assert_eq "10.0.1.1 10.0.1.128" "$(lease "${G[1]}")" "guest 1's lease"
	assert_eq "10.0.$last.1 10.0.$last.128" "$(lease "${G[$last]}")" "guest $last's lease"
	ip -n "${G[$last]}" addr add "10.0.$last.1/16" dev eth0
	ip -n "${G[$last]}" route add default via "10.0.$last.128"
	assert_ok ip netns exec "${G[$last]}" ping -c 1 -W 2 192.0.2.1
	assert_no_lock_files

	# All shut down, while network-nat stops.
	burst_new
	for d in "${ids[@]}"; do
		job "off$d" run_udev vif-nat "$d" 0 offline "${env[@]}"
	done
	job stop run_env network-nat -- stop netdev=eth0
	burst_fire
	burst_wait
	assert_jobs_ok "${JOBS[@]}"
	note "NAT ($kind): $n vif-nat offlines and network-nat stop fired at once: all" \
		"done in $BURST_MS ms"
	k=0
	for f in "${files[@]}"; do
		assert_eq "${states[$k]}" "$(file_state "$f")" "$f after the offlines"
		k=$((k + 1))
	done
	assert_eq "" "$(fw_lines inet)" "elements left"
	assert_eq "" "$(nft_h list tables)" "nft tables after the offlines and network-nat stop"
	assert_ruleset_forgets "${ids[@]}"
	assert_eq "" "$(ip -n "$HOST" -j route show | jq -r '.[] | select(.dev | startswith("vif"))
		| "\(.dst) dev \(.dev)"')" "routes through vifs"
	assert_eq "$fwd_before" "$(inh cat /proc/sys/net/ipv4/ip_forward)" "ip_forward after stop"
	assert_eq "" "$(ls -A "$XEN_RUN_DIR")" "state files after stop"
	if [[ $kind == isc ]]; then
		assert_fail dhcp_alive "$(cat "$SB/isc/dhcpd.pid" 2>/dev/null || echo 0)"
	else
		assert_fail test -e "$SB/dm/dnsmasq.conf"
	fi
	assert_no_lock_files
	assert_nothing_alarming
}

test_nat_burst_isc_dhcpd() { nat_burst isc; }
test_nat_burst_dnsmasq() { nat_burst dnsmasq; }

# ---------------------------------------------------------------- routed

# hvm_guest D [ADDR]: an HVM guest with address ADDR (default
# 192.0.2.(100+D)): its namespace
# (G[D]) holds eth0 behind netback's vif<D>.0 and eth1 behind the emulated
# card's tap vif<D>.0-emu, both with the guest's MAC; the store seeded with
# its ip list.
hvm_guest() {
	local d=$1 addr=${2:-192.0.2.$((100 + $1))}
	vif_add "$d" 0 || fail "cannot create vif$d.0"
	G[$d]=$GUEST
	ip -n "$HOST" link add "vif$d.0-emu" type veth peer name eth1 netns "$GUEST" ||
		fail "cannot create vif$d.0-emu"
	ip -n "$GUEST" link set eth1 address "$(vif_mac "$d" 0)" up
	ip -n "$GUEST" addr add "$addr/24" dev eth0
	xs_vif_seed "$d" 0 "ip=$addr" || fail "cannot seed vif$d.0"
}

# hvm_jobs WHAT D...: each guest D's two hotplug runs as jobs of the burst:
# udev's vif-route online|offline of vif<D>.0 and libxl's add|remove
# (type_if=tap) of vif<D>.0-emu.
hvm_jobs() {
	local what=$1 d
	shift
	for d in "$@"; do
		if [[ $what == up ]]; then
			job "on$d" run_udev vif-route "$d" 0 online
			job "add$d" run_xl vif-route "$d" 0 add type_if=tap
		else
			job "off$d" run_udev vif-route "$d" 0 offline
			job "remove$d" run_xl vif-route "$d" 0 remove type_if=tap
		fi
	done
}

# HVM guests in routed mode booting at once while xend starts network-route
# and network-nat for eth0 (both turn IPv4 forwarding on and record what they
# changed, in their state files, under the lock network-forwarding), then
# shutting down at once while both stop. An HVM guest's card is two
# devices, netback's vif (udev's online) and the emulated card's tap
# (libxl's add), which share the card's reverse rule and address claims:
# both hotplug runs of a guest come in the same burst. Each device ends up
# with the host's address, up, proxy ARP on, its route (metric 2 for the
# vif, 1 for the tap), its set elements, the card's claims once;
# the guest reaches the LAN through proxy ARP. Forwarding was turned on and
# recorded by exactly one of the two starts. Then the guests shut down at
# once while network-route stops: nothing of a card is left (an address
# claim left behind would refuse the next guest with that address), and
# forwarding stays on for network-nat, whose state file now holds its
# record, until network-nat stops too.
test_routed_burst() {
	local n=$ROUTED_N d ids=()
	lan_new 192.0.2.2
	# The LAN's neighbour requests for a guest get the host's proxy answer at once.
	inh sysctl -qw net.ipv4.neigh.eth0.proxy_delay=0
	hvm_guest 999 192.0.2.99
	reference vif-route inet 192.0.2.99 tap
	assert_ok has_line "$REF" "vifs vif999.0"
	assert_ok has_line "$REF" "vifs vif999.0-emu"
	assert_ok has_line "$REF" "owners4 192.0.2.99 : vif999.0"
	assert_ok has_line "$REF" "claims4 192.0.2.99"
	for ((d = 1; d <= n; d++)); do
		hvm_guest "$d"
		ids+=("$d")
	done

	# The two starts wait for the shell's lock; the vifs, which need none, do not.
	hold_lock network-forwarding
	burst_new
	hvm_jobs up "${ids[@]}"
	job route run_env network-route -- start netdev=eth0
	job nat run_env network-nat -- start netdev=eth0 dhcp=no
	burst_fire
	await_waiters "$XEN_LOCK_DIR/network-forwarding" 2 "starts waiting for network-forwarding"
	await_jobs $((2 * n)) "vif-route runs while network-forwarding is held"
	local vif_ms
	vif_ms=$(((LAST_END - $(usecs "$T0")) / 1000))
	assert_eq 0 "$(inh cat /proc/sys/net/ipv4/ip_forward)" "ip_forward while the lock is held"
	# Only the vifs' and taps' firewall records (nft-inet/): no start went ahead.
	assert_eq "" "$(names "$XEN_RUN_DIR" | grep -vx nft-inet)" "state files while the lock is held"
	assert_same "$({ dev_lines vif%s.0 "${ids[@]}"; dev_lines vif%s.0-emu "${ids[@]}"; } |
		LC_ALL=C sort)" "$(records nft-inet)" "the firewall's records while the lock is held"
	release_held
	burst_wait
	assert_jobs_ok "${JOBS[@]}"
	note "routed: $n HVM guests' vif-route online and add (type_if=tap) fired at once with" \
		"network-route and network-nat start, these two waiting for the lock a shell" \
		"held: the vifs were done in $vif_ms ms, the starts $BURST_MS ms after the shell" \
		"let go"
	assert_connected "${ids[@]}"
	local want="" addrs="" pairs=()
	for d in "${ids[@]}"; do
		want+="192.0.2.$((100 + d)) vif$d.0 192.0.2.2 2"$'\n'
		want+="192.0.2.$((100 + d)) vif$d.0-emu 192.0.2.2 1"$'\n'
		addrs+="vif$d.0 192.0.2.2/32 1"$'\n'"vif$d.0-emu 192.0.2.2/32 1"$'\n'
		pairs+=("$d" "192.0.2.$((100 + d))")
	done
	assert_same "$(LC_ALL=C sort <<<"${want%$'\n'}")" \
		"$(ip -n "$HOST" -j route show | jq -r '.[] | select(.dev | startswith("vif"))
			| "\(.dst) \(.dev) \(.prefsrc) \(.metric)"' | LC_ALL=C sort)" "routes through the vifs"
	assert_same "$(LC_ALL=C sort <<<"${addrs%$'\n'}")" "$(for d in "${ids[@]}"; do
		for dev in "vif$d.0" "vif$d.0-emu"; do
			echo "$dev $(link_addrs "$dev" | grep -v '^fe80' | tr '\n' ' ')$(inh cat \
				"/proc/sys/net/ipv4/conf/$dev/proxy_arp")"
		done
	done | LC_ALL=C sort)" "address and proxy ARP of the vifs and taps"
	assert_same "$(printf '%s\n%s\n' "$(expected_fw "$REF" vif999.0 192.0.2.99 \
		"$(vif_mac 999 0)" "${pairs[@]}")" 'uplinks eth0' | LC_ALL=C sort)" \
		"$(fw_lines inet)" "the cards' elements"
	# Forwarding: on, and recorded (as it was off before) by exactly one start.
	assert_eq 1 "$(inh cat /proc/sys/net/ipv4/ip_forward)" "ip_forward"
	assert_eq 1 "$(inh cat /proc/sys/net/ipv4/conf/eth0/proxy_arp)" "proxy_arp of eth0"
	assert_eq 1 "$(cat "$XEN_RUN_DIR"/network-route.eth0 "$XEN_RUN_DIR"/network-nat.eth0 |
		grep -cx 'sysctl ip_forward 0 1')" "records of the forwarding change"
	assert_eq 1 "$(grep -cx 'sysctl conf/eth0/proxy_arp 0 1' "$XEN_RUN_DIR/network-route.eth0")" \
		"network-route's record of proxy ARP"
	assert_eq 1 "$(grep -cx 'masquerade nft' "$XEN_RUN_DIR/network-nat.eth0")" \
		"network-nat's record of the masquerade"
	local lost
	lost=$(reach_all rgw_of "${ids[@]}")
	assert_eq "" "$lost" "guests that could not reach the LAN"
	assert_no_lock_files

	burst_new
	hvm_jobs down "${ids[@]}"
	job route run_env network-route -- stop netdev=eth0
	burst_fire
	burst_wait
	assert_jobs_ok "${JOBS[@]}"
	note "routed: $n HVM guests' vif-route offline and remove and network-route stop" \
		"fired at once: all done in $BURST_MS ms"
	assert_eq 'uplinks eth0' "$(fw_lines inet)" "elements left"
	assert_ruleset_forgets "${ids[@]}"
	assert_eq "" "$(ip -n "$HOST" -j route show | jq -r '.[] | select(.dev | startswith("vif"))
		| "\(.dst) dev \(.dev)"')" "routes through vifs"
	# network-nat still runs: forwarding stays on, its record now with network-nat.
	assert_eq 1 "$(inh cat /proc/sys/net/ipv4/ip_forward)" "ip_forward after network-route stop"
	assert_eq 0 "$(inh cat /proc/sys/net/ipv4/conf/eth0/proxy_arp)" "proxy_arp of eth0"
	assert_eq "network-nat.eth0 nft-masquerade" "$(names "$XEN_RUN_DIR" | xargs)" \
		"state files after network-route stop"
	assert_eq eth0 "$(records nft-masquerade)" "the masquerade's record"
	assert_eq 1 "$(grep -cx 'sysctl ip_forward 0 1' "$XEN_RUN_DIR/network-nat.eth0")" \
		"network-nat's record of the forwarding change"
	run_env network-nat -- stop netdev=eth0
	assert_eq 0 "$RC" "network-nat stop: $OUT"
	assert_eq 0 "$(inh cat /proc/sys/net/ipv4/ip_forward)" "ip_forward after the stops"
	assert_eq "" "$(fw_lines inet)" "elements left after network-nat stop"
	assert_eq "" "$(nft_h list tables)" "nft tables after network-nat stop"
	assert_eq "" "$(ls -A "$XEN_RUN_DIR")" "state files after the stops"
	assert_no_lock_files
	assert_nothing_alarming
}

rgw_of() { echo 192.0.2.1; }

# ---------------------------------------------------------------- iptables

# ipt_lines: the rules of the host's FORWARD chain (iptables -S, no policy), sorted.
ipt_lines() {
	inh iptables -w -S FORWARD | grep -v '^-P ' | LC_ALL=C sort
}

# With firewall=iptables the programs insert the Xen 4.x scripts' FORWARD
# rules and keep a record of them per vif (XEN_RUN_DIR), serialised by the
# lock iptables as the scripts' calls were; vif-route takes no other lock,
# so its runs contend for that one. Routed guests come up at once: each
# vif's rules are there once (those of a reference vif, with its own name
# and address); then they go at once: FORWARD is empty again, and no record
# or lock file is left.
test_iptables_burst() {
	local n=$IPTABLES_N d ids=() pairs=()
	lan_new 192.0.2.2
	RUN_ENV=(firewall=iptables)
	vif_add 999 0 || fail "cannot create vif999.0"
	xs_vif_seed 999 0 ip=192.0.2.99 || fail "cannot seed vif999.0"
	reference vif-route iptables 192.0.2.99/32 ''
	for ((d = 1; d <= n; d++)); do
		vif_add "$d" 0 || fail "cannot create vif$d.0"
		xs_vif_seed "$d" 0 "ip=192.0.2.$((100 + d))" || fail "cannot seed vif$d.0"
		ids+=("$d")
		pairs+=("$d" "192.0.2.$((100 + d))")
	done
	burst_new
	for d in "${ids[@]}"; do
		job "on$d" run_udev vif-route "$d" 0 online
	done
	burst_fire
	burst_wait
	assert_jobs_ok "${JOBS[@]}"
	note "iptables: $n vif-route onlines fired at once: all done in $BURST_MS ms"
	assert_same "$(expected_fw "$REF" vif999.0 192.0.2.99 "$(vif_mac 999 0)" "${pairs[@]}")" \
		"$(ipt_lines)" "the vifs' FORWARD rules"
	assert_not_contains "$(nft_h list tables)" xen_hotplug "nft tables with firewall=iptables"
	assert_no_lock_files
	burst_new
	for d in "${ids[@]}"; do
		job "off$d" run_udev vif-route "$d" 0 offline
	done
	burst_fire
	burst_wait
	assert_jobs_ok "${JOBS[@]}"
	RUN_ENV=()
	note "iptables: $n vif-route offlines fired at once: all done in $BURST_MS ms"
	assert_eq "" "$(ipt_lines)" "FORWARD after the offlines"
	assert_eq "" "$(find "$XEN_RUN_DIR" -type f)" "records left"
	assert_no_lock_files
	assert_nothing_alarming
}


run_tests "$@"
