#!/bin/bash
# shellcheck disable=SC2034 # RUN_ENV is read by lib.sh's run_* helpers
# Integration tests for the bounded lock waits (SPEC.md section 7, "No wait is
# unbounded"): a process that holds a lock and never lets go costs a program
# run a failure after XEN_LOCK_TIMEOUT seconds whose message names the lock
# and the holder's pid, with the host unchanged, and the next run after the
# holder is gone succeeds; SIGTERM ends a wait at once.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../fault-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault-lib.sh"

BE=/local/domain/0/backend/vif/1/0
HOLDER=
MS=

# ---------------------------------------------------------------- holders

# hold LOCK [STYLE]: a process, $HOLDER, holding LOCK (a lock file, or the
# lock directory) exclusively until holder_end; recorded for the sandbox's
# clean-up, so that a failed test leaves no holder behind.
#   script (default): as the Xen scripts' locking.sh does it, the shell opens
#     the file and runs flock(1) on that descriptor: /proc/locks names the
#     pid of that flock(1), gone at once, and the lock stays with the shell
#     (here exec'ed into sleep).
#   flock: flock(1) holds it itself, its command without the descriptor
#     (-o): /proc/locks names flock(1).
hold() {
	local lock=$1 style=${2:-script} i child=
	rm -f "$SB/held"
	if [[ $style == flock ]]; then
		flock -x -o "$lock" sh -c ": >'$SB/held'; exec sleep 600" &
	elif [[ -d $lock ]]; then
		(exec 9<"$lock" && flock -x 9 && : >"$SB/held" && exec sleep 600) &
	else
		(exec 9<>"$lock" && flock -x 9 && : >"$SB/held" && exec sleep 600) &
	fi
	HOLDER=$!
	echo "$HOLDER" >>"$SB/pids"
	for ((i = 0; i < 500; i++)); do
		[[ -e $SB/held ]] && break
		sleep 0.01
	done
	[[ -e $SB/held ]] || fail "the holder of $lock did not get it"
	if [[ $style == flock ]]; then
		read -r child <"/proc/$HOLDER/task/$HOLDER/children"
		[[ -n $child ]] && echo "$child" >>"$SB/pids"
		HOLDER_CHILD=$child
	else
		HOLDER_CHILD=
		# Its name is the one the message gives: sleep, once the shell has exec'ed it.
		for ((i = 0; i < 500; i++)); do
			[[ $(cat "/proc/$HOLDER/comm" 2>/dev/null) == sleep ]] && break
			sleep 0.01
		done
	fi
}

# holder_end: the holder goes, and the lock with it.
holder_end() {
	[[ -n ${HOLDER_CHILD:-} ]] && kill "$HOLDER_CHILD" 2>/dev/null
	kill "$HOLDER" 2>/dev/null
	wait "$HOLDER" 2>/dev/null
	HOLDER=
}

# ---------------------------------------------------------------- runs

# timed CMD...: runs CMD (a run_* helper: OUT and RC), MS is how long it took.
timed() {
	local t0 t1
	t0=$(date +%s%N)
	"$@"
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
}

# Everything the last run said: its output and the hotplug log.
msgs() {
	printf '%s\n' "$OUT"
	cat "$XEN_LOG_DIR/xen-hotplug.log" 2>/dev/null
}

# assert_gave_up BOUND_MS TEXT: the run failed no sooner than the bound and
# not much later (a program starts in milliseconds: 4 s is room for a loaded
# machine), saying TEXT.
assert_gave_up() {
	assert_ne 0 "$RC" "exit status ($OUT)"
	((MS >= $1)) || fail "gave up after $MS ms, before the bound of $1 ms: $(msgs)"
	((MS < $1 + 4000)) || fail "gave up after $MS ms, long after the bound of $1 ms"
	assert_contains "$(msgs)" "$2" "the message"
}

# assert_vif_error TEXT: hotplug-status error and a hotplug-error saying TEXT.
assert_vif_error() {
	assert_eq error "$(xs_read $BE/hotplug-status 2>&1)" "hotplug-status"
	assert_contains "$(xs_read $BE/hotplug-error 2>&1)" "$1" "hotplug-error"
}

# A vif 1.0 on bridge br0, the store seeded as the toolstack does it.
bridged_vif() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0
}

# ---------------------------------------------------------------- timeouts

# vif-bridge waits for network-bridge's lock (a takeover is under way); held
# as the scripts hold it, the holder is found through its descriptor.
test_vif_bridge_gives_up_on_the_network_bridge_lock() {
	local lock=$XEN_LOCK_DIR/network-bridge before
	bridged_vif
	hold "$lock"
	before=$(fault_state)
	RUN_ENV=(XEN_LOCK_TIMEOUT=1)
	timed run_udev vif-bridge 1 0 online
	RUN_ENV=()
	local said="gave up after 1 s waiting for the lock $lock, held by process $HOLDER (sleep)"
	assert_gave_up 1000 "$said"
	assert_vif_error "$said"
	assert_same "$before" "$(fault_state)" "the host after the timeout"
	holder_end
	vif_online vif-bridge 1 0
	assert_eq br0 "$(link_master vif1.0)" "master of vif1.0 after the holder went"
}

# The holder is a shell that took the lock with the real locking.sh of the
# Xen scripts (claim_lock), whose flock(1) is long gone: the message names
# the shell, found through its descriptor.
test_holder_behind_the_scripts_locking_sh() {
	local lock=$XEN_LOCK_DIR/network-bridge before
	local locking=${LOCKING_SH:-/etc/xen/scripts/locking.sh}
	[[ -r $locking ]] || fail "$locking missing (package xen-utils-common)"
	bridged_vif
	rm -f "$SB/held"
	(
		set +u
		# shellcheck source=/dev/null
		source "$locking"
		LOCK_BASEDIR=$XEN_LOCK_DIR
		claim_lock network-bridge
		: >"$SB/held"
		exec sleep 600
	) &
	HOLDER=$!
	echo "$HOLDER" >>"$SB/pids"
	local i
	for ((i = 0; i < 500; i++)); do
		[[ -e $SB/held && $(cat "/proc/$HOLDER/comm" 2>/dev/null) == sleep ]] && break
		sleep 0.01
	done
	[[ -e $SB/held ]] || fail "locking.sh's claim_lock did not return"
	before=$(fault_state)
	RUN_ENV=(XEN_LOCK_TIMEOUT=1)
	timed run_udev vif-bridge 1 0 online
	RUN_ENV=()
	assert_gave_up 1000 "waiting for the lock $lock, held by process $HOLDER (sleep)"
	assert_same "$before" "$(fault_state)" "the host after the timeout"
	holder_end
	vif_online vif-bridge 1 0
}

# network-route and network-nat share the lock network-forwarding; a
# fraction of a second is a bound too, and flock(1)'s own hold is named.
test_network_route_gives_up_on_the_forwarding_lock() {
	local lock=$XEN_LOCK_DIR/network-forwarding before
	lan_new 192.0.2.2
	inh sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward'
	hold "$lock" flock
	before=$(fault_state)
	timed run_env network-route XEN_LOCK_TIMEOUT=0.5 -- start netdev=eth0
	assert_gave_up 500 \
		"gave up after 0.5 s waiting for the lock $lock, held by process $HOLDER (flock)"
	assert_same "$before" "$(fault_state)" "the host after the timeout"
	holder_end
	run_env network-route XEN_LOCK_TIMEOUT=0.5 -- start netdev=eth0
	assert_eq 0 "$RC" "start after the holder went: $OUT"
	assert_eq 1 "$(inh cat /proc/sys/net/ipv4/ip_forward)" "ip_forward after start"
}

# network-bridge holds its lock throughout a takeover: a second one gives up.
test_network_bridge_gives_up_on_its_lock() {
	local lock=$XEN_LOCK_DIR/network-bridge before
	lan_new 192.0.2.2
	echo "/dev/vda1 / ext4 rw,relatime 0 0" >"$SB/mounts"
	echo "root=/dev/vda1 ro quiet" >"$SB/cmdline"
	local -a nb=(network-bridge "NETWORK_BRIDGE_MOUNTS=$SB/mounts"
		"NETWORK_BRIDGE_CMDLINE=$SB/cmdline" XEN_LOCK_TIMEOUT=1)
	hold "$lock"
	before=$(fault_state)
	timed run_env "${nb[@]}" -- start netdev=eth0
	assert_gave_up 1000 "gave up after 1 s waiting for the lock $lock, held by process $HOLDER"
	assert_same "$before" "$(fault_state)" "the host after the timeout"
	holder_end
	run_env "${nb[@]}" -- start netdev=eth0
	assert_eq 0 "$RC" "start after the holder went: $OUT"
	assert_eq xenbr0 "$(link_master eth0)" "master of eth0 after start"
}

# vif-nat edits the DHCP files under vif-nat-dhcp, its last step: everything
# it did before (firewall, address, route, proxy ARP) is undone.
test_vif_nat_gives_up_on_the_dhcp_lock() {
	local lock=$XEN_LOCK_DIR/vif-nat-dhcp before
	local -a dhcp=(dhcp=dnsmasq "dnsmasq_hosts=$SB/hosts" "dnsmasq_pid=$SB/none.pid")
	echo "00:11:22:33:44:55,192.168.77.10,labprinter" >"$SB/hosts"
	FAULT_FILES=("$SB/hosts")
	vif_add 1 0
	xs_vif_seed 1 0
	hold "$lock"
	before=$(fault_state)
	RUN_ENV=(XEN_LOCK_TIMEOUT=1)
	timed run_udev vif-nat 1 0 online "${dhcp[@]}"
	RUN_ENV=()
	local said="gave up after 1 s waiting for the lock $lock, held by process $HOLDER (sleep)"
	assert_gave_up 1000 "$said"
	assert_vif_error "$said"
	assert_same "$before" "$(fault_state)" "the host after the timeout"
	holder_end
	vif_online vif-nat 1 0 "${dhcp[@]}"
	assert_contains "$(cat "$SB/hosts")" "$(vif_mac 1 0),10.0.1.1,dom1" "the DHCP entry"
}

# A firewall change holds the lock directory itself, shared; a removal of
# the last rules holds it exclusively, and so does this holder.
test_firewall_gives_up_on_the_lock_directory() {
	local before
	bridged_vif
	hold "$XEN_LOCK_DIR"
	before=$(fault_state)
	RUN_ENV=(XEN_LOCK_TIMEOUT=1)
	timed run_udev vif-bridge 1 0 online firewall=nft
	RUN_ENV=()
	local said="cannot install the firewall rules of vif1.0: gave up after 1 s waiting for"
	said+=" the lock on the directory $XEN_LOCK_DIR, held by process $HOLDER (sleep)"
	assert_gave_up 1000 "$said"
	assert_vif_error "$said"
	assert_same "$before" "$(fault_state)" "the host after the timeout"
	holder_end
	vif_online vif-bridge 1 0 firewall=nft
	assert_ok fw_has_rules bridge vif1.0
}

# ---------------------------------------------------------------- signals

# The pid of a process waiting for the flock on FILE, from /proc/locks.
lock_waiter() { # FILE
	local ino
	ino=$(stat -c %i "$1") || return 1
	awk -v ino="$ino" '$2 == "->" && $3 == "FLOCK" {
		n = split($7, d, ":"); if (d[n] == ino) { print $6; exit } }' /proc/locks
}

# A run waiting for a lock that SIGTERM reaches stops waiting at once (the
# bound is far), fails, says why, and leaves the host as it was.
test_sigterm_ends_a_lock_wait() {
	local lock=$XEN_LOCK_DIR/network-bridge before pid i t0 t1 rc
	bridged_vif
	hold "$lock"
	before=$(fault_state)
	(
		RUN_ENV=(XEN_LOCK_TIMEOUT=30)
		run_udev vif-bridge 1 0 online
		printf '%s\n' "$RC" >"$SB/rc"
		printf '%s\n' "$OUT" >"$SB/out"
	) &
	local runner=$!
	# Waiting for certain before the signal: it shows in /proc/locks.
	pid=
	for ((i = 0; i < 1000; i++)); do
		pid=$(lock_waiter "$lock")
		[[ -n $pid ]] && break
		sleep 0.01
	done
	[[ -n $pid ]] || fail "vif-bridge never waited for $lock"
	assert_eq vif-bridge "$(cat "/proc/$pid/comm")" "the waiter"
	t0=$(date +%s%N)
	kill -TERM "$pid"
	wait "$runner"
	t1=$(date +%s%N)
	(((t1 - t0) / 1000000 < 2000)) ||
		fail "vif-bridge took $(((t1 - t0) / 1000000)) ms to end after SIGTERM"
	read -r rc <"$SB/rc"
	OUT=$(cat "$SB/out")
	assert_ne 0 "$rc" "exit status ($OUT)"
	local said="interrupted by SIGTERM while waiting for the lock $lock"
	assert_contains "$(msgs)" "$said" "the message"
	assert_vif_error "$said"
	assert_same "$before" "$(fault_state)" "the host after the signal"
}

# ---------------------------------------------------------------- values

# XEN_LOCK_TIMEOUT is validated as the parameters are: a bad value stops a
# program before any change, naming the variable, the value and what was
# expected (but a vif's offline, which cleans up anyway); a good one is taken.
test_bad_timeout_refused() {
	local v before
	lan_new 192.0.2.2
	inh sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward'
	before=$(fault_state)
	for v in abc 0 0.0 -1 +1 1e3 3601 0.0001 1. .5 "1 " 0x10 01; do
		run_env network-route "XEN_LOCK_TIMEOUT=$v" -- start netdev=eth0
		assert_eq 1 "$RC" "exit status for XEN_LOCK_TIMEOUT='$v' ($OUT)"
		assert_contains "$OUT" "invalid XEN_LOCK_TIMEOUT '$v': expected a number of seconds"
		assert_same "$before" "$(fault_state)" "the host after XEN_LOCK_TIMEOUT='$v'"
	done
	bridged_vif
	before=$(fault_state)
	RUN_ENV=(XEN_LOCK_TIMEOUT=soon)
	run_udev vif-bridge 1 0 online
	RUN_ENV=()
	assert_ne 0 "$RC" "vif-bridge's exit status"
	assert_vif_error "invalid XEN_LOCK_TIMEOUT 'soon'"
	assert_same "$before" "$(fault_state)" "the host after vif-bridge's refusal"
	# A guest that goes is cleaned up all the same, with a warning.
	vif_online vif-bridge 1 0
	RUN_ENV=(XEN_LOCK_TIMEOUT=soon)
	run_udev vif-bridge 1 0 offline
	RUN_ENV=()
	assert_eq 0 "$RC" "offline with a bad XEN_LOCK_TIMEOUT ($OUT)"
	assert_contains "$(msgs)" "invalid XEN_LOCK_TIMEOUT 'soon'" "the warning"
	assert_eq "" "$(link_master vif1.0)" "master of vif1.0 after offline"
	for v in 3600 0.001 2.5 20; do
		run_env network-route "XEN_LOCK_TIMEOUT=$v" -- status netdev=eth0
		assert_eq 0 "$RC" "status with XEN_LOCK_TIMEOUT=$v ($OUT)"
	done
}

run_tests "$@"
