#!/bin/bash
# shellcheck disable=SC2034 # FAULT_*, KILL_*, TEST_TIMEOUT and RUN_ENV are read by the libraries
# shellcheck disable=SC2317 # the fault_*, kill_* and status_run functions are called by fault-lib.sh
# SIGKILL at any point (SPEC §7, "Nothing lost"): libxl's timeout, the OOM killer or a power cut
# can stop a program between any two of its steps, with no chance to undo. Each program is
# killed just before each step that changes the system, in turn (tests/tools/nlfail.c,
# NLFAIL_MODE=kill), and tests/fault-lib.sh's kill_loop judges how the next ordinary command
# repairs the host, comparing exact dumps of the state:
# - a killed start: stop restores the state before start; or, from the same kill again, a new
#   start undoes the partial one and starts cleanly (a clean start's state), and stop then
#   restores the state before start. And right after the kill, once it changed something,
#   status and status --json exit non-zero (the host needs a repair: a monitor must see it),
#   say "interrupted" and name the command that mends it ("PROG stop" or "PROG start");
# - a killed stop: the next stop finishes (a clean stop's state, which is the state before
#   start);
# - a killed online: the guest destroyed leaves nothing (below); or, from the same kill again,
#   a new online completes (a clean online's state);
# - a killed offline: the next offline finishes (a clean offline's state).
#
# "Leaves nothing" is judged as the toolstack leaves the host when the guest goes: netback
# removes the vif, offline runs, libxl removes the backend and frontend directories. The
# reference is the state before online with the vif and those directories removed the same
# way. A vif that stayed would keep what only its removal takes (its MAC, MTU, address and
# proxy ARP: a clean online and offline leave them too), so it could not be compared.
#
# A lock file left counts as a difference after a recovery (it took the lock, so it unlinks
# the file, unless it skipped what the lock guards), not after the kill itself.
#
# The notes "kill: NAME: P points, F failed" count the points of each loop.
# KILL_REPORT=DIR bash tests/integration/kills.sh [test...] keeps, in a file per loop, the
# steps of the clean run and every failed point in full.

# A loop is some 3 to 30 points of one to three recoveries each; a point that fails waits 5 s
# per check for the kernel to settle (the longest loop takes some 5 minutes).
TEST_TIMEOUT=${TEST_TIMEOUT:-900}
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../dhcp-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../dhcp-lib.sh"
# shellcheck source=SCRIPTDIR/../fault-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault-lib.sh"
# shellcheck source=SCRIPTDIR/../hosts-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../hosts-lib.sh"
# shellcheck source=SCRIPTDIR/../network-bridge-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../network-bridge-lib.sh"

# ---------------------------------------------------------------- helpers

# stdout_of PROG ARGS...: PROG in the host namespace, OUT its stdout alone (for --json; the
# messages go to $SB/stderr), RC its exit status.
stdout_of() {
	local prog=$BUILD/$1
	shift
	_base_env
	OUT=$(ip netns exec "$HOST" env -i "${BASE_ENV[@]}" "$prog" "$@" </dev/null 2>>"$SB/stderr")
	RC=$?
}

# _status_says PROG WHAT: what is wrong with the status run just made (RC, OUT) after a kill.
_status_says() {
	local prog=$1 what=$2
	[[ $RC -ne 0 ]] || echo "$what exits 0 after an interrupted run"
	grep -qi interrupted <<<"$OUT" || echo "$what does not say 'interrupted'"
	grep -qE "$prog (start|stop)" <<<"$OUT" || echo "$what names no '$prog stop|start' to mend it"
}

# interrupted_status PROG BEFORE NOW: once the kill changed something (a lock file left is no
# change: the next run takes the lock and removes it), status and status --json report the
# interrupted run (see the top). The test defines status_run [--json].
interrupted_status() {
	local prog=$1
	[[ $(grep -v '^lock file left: ' <<<"$3") != "$(grep -v '^lock file left: ' <<<"$2")" ]] ||
		return 0
	status_run
	_status_says "$prog" status
	status_run --json
	if ! jq -e . >/dev/null 2>&1 <<<"$OUT"; then
		echo "status --json (exit $RC) is not JSON: $OUT"
		return
	fi
	_status_says "$prog" "status --json"
}

# The guest's end as the toolstack makes it: netback removes the vif (by either name), libxl
# removes the backend and frontend directories after offline.
vif_gone() {
	local dev
	for dev in "$@"; do
		inh ip link del "$dev" 2>/dev/null
	done
	return 0
}
store_gone() {
	xs_rm "$BE"
	xs_rm "$FE"
}

# kill_online NAME DEV...: the kill loop of online, vif_run CMD running the test's program (and
# fault_run its online); DEV the names the vif can have.
kill_online() {
	local name=$1
	shift
	DEVS=("$@")
	fault_run() { vif_run online; }
	kill_state_destroyed() {
		vif_gone "${DEVS[@]}"
		store_gone
	}
	kill_run() {
		if [[ $1 == destroy ]]; then
			vif_gone "${DEVS[@]}"
			vif_run offline
			local rc=$RC out=$OUT
			store_gone
			RC=$rc OUT=$out
		else
			vif_run "$1"
		fi
	}
	FAULT_BACKEND=$BE
	KILL_RECOVERIES=("destroy=destroyed" "online=after")
	kill_loop "$name online"
}

# kill_offline NAME: the kill loop of offline after a clean online (fault_setup's), vif_run as
# for kill_online.
kill_offline() {
	fault_run() { vif_run offline; }
	kill_run() { vif_run "$1"; }
	FAULT_BACKEND=$BE
	KILL_RECOVERIES=("offline=after")
	kill_loop "$1 offline"
}

# kill_network PROG [DETAIL]: the kill loop of CMD (start or stop) of PROG, a network-* program
# run by net_run CMD; for start, status_run as interrupted_status needs it.
kill_network() {
	PROG=$1
	fault_run() { net_run "$CMD"; }
	kill_run() { net_run "$1"; }
	if [[ $CMD == start ]]; then
		kill_check() { interrupted_status "$PROG" "$@"; }
		KILL_RECOVERIES=("stop=before" "start=after stop=before")
	else
		KILL_RECOVERIES=("stop=after")
	fi
	kill_loop "$PROG $CMD${2:+ ($2)}"
}

# ---------------------------------------------------------------- network-bridge

check_network_bridge() { # start|stop LAYOUT
	nb_fault_host "$1" "$2"
	fault_snapshot() { nb_full_state; }
	net_run() { nb "$1" "${ARGS[@]}"; }
	status_run() {
		if [[ ${1:-} == --json ]]; then
			nb_stdout status --json "${ARGS[@]}"
		else
			nb status "${ARGS[@]}"
		fi
	}
	kill_network network-bridge "$2 layout"
}

test_network_bridge_start() { check_network_bridge start classic; }
test_network_bridge_start_rename() { check_network_bridge start rename; }
test_network_bridge_stop() { check_network_bridge stop classic; }
test_network_bridge_stop_rename() { check_network_bridge stop rename; }

# ---------------------------------------------------------------- network-route

check_network_route() { # start|stop
	route_fault_host "$1"
	net_run() { run_env network-route -- "$1" netdev=eth0; }
	status_run() {
		if [[ ${1:-} == --json ]]; then
			stdout_of network-route status --json netdev=eth0
		else
			run_env network-route -- status netdev=eth0
		fi
	}
	kill_network network-route
}

test_network_route_start() { check_network_route start; }
test_network_route_stop() { check_network_route stop; }

# ---------------------------------------------------------------- network-nat

check_network_nat() { # start|stop ISC|DNSMASQ
	nat_fault_host "$1" "$2"
	net_run() { run_env network-nat -- "$1" netdev=eth0 "${DHCP[@]}"; }
	status_run() {
		if [[ ${1:-} == --json ]]; then
			stdout_of network-nat status --json netdev=eth0 "${DHCP[@]}"
		else
			run_env network-nat -- status netdev=eth0 "${DHCP[@]}"
		fi
	}
	kill_network network-nat "$KIND"
}

test_network_nat_start_isc() { check_network_nat start ISC; }
test_network_nat_start_dnsmasq() { check_network_nat start DNSMASQ; }
test_network_nat_stop_isc() { check_network_nat stop ISC; }
test_network_nat_stop_dnsmasq() { check_network_nat stop DNSMASQ; }

# ---------------------------------------------------------------- vif-bridge

test_vif_bridge_online() {
	fault_setup() {
		bridge_host nft
		old_connections
	}
	vif_run() { run_udev vif-bridge 1 0 "$1" firewall=nft; }
	kill_online "vif-bridge (firewall=nft)" vif1.0
}

test_vif_bridge_offline() {
	fault_setup() {
		bridge_host nft
		must vif-bridge 1 0 online firewall=nft
	}
	vif_run() { run_udev vif-bridge 1 0 "$1" firewall=nft; }
	kill_offline "vif-bridge (firewall=nft)"
}

# The emulated NIC of an HVM guest: add and remove with type_if=tap, as xl runs them; the
# online and offline of the loops are its add and remove.
tap_run() {
	local action=$1
	[[ $action == online ]] && action=add
	[[ $action == offline ]] && action=remove
	run_xl vif-bridge 1 0 "$action" type_if=tap
}

test_vif_bridge_add_tap() {
	fault_setup() { tap_host; }
	vif_run() { tap_run "$1"; }
	kill_online "vif-bridge (tap)" vif1.0-emu tap1-emu
}

test_vif_bridge_remove_tap() {
	fault_setup() {
		tap_host
		tap_run online
		assert_eq 0 "$RC" "add ($OUT)"
	}
	vif_run() { tap_run "$1"; }
	kill_offline "vif-bridge (tap)"
}

# ---------------------------------------------------------------- vif-route

# vifname renames vif1.0 guest0 (netback removes it by either name).
test_vif_route_online() {
	fault_setup() { route_host; }
	vif_run() { run_xl vif-route 1 0 "$1"; }
	kill_online vif-route vif1.0 guest0
}

test_vif_route_offline() {
	fault_setup() {
		route_host
		run_xl vif-route 1 0 online
		assert_eq 0 "$RC" "online ($OUT)"
	}
	vif_run() { run_xl vif-route 1 0 "$1"; }
	kill_offline vif-route
}

# ---------------------------------------------------------------- vif-nat

test_vif_nat_online_isc() {
	fault_setup() { nat_host; }
	vif_run() { run_udev vif-nat 1 0 "$1" "${ISC[@]}"; }
	kill_online "vif-nat (dhcp=yes)" vif1.0
}

test_vif_nat_online_dnsmasq() {
	fault_setup() { dnsmasq_host; }
	vif_run() { run_udev vif-nat 1 0 "$1" "${DNSMASQ_ENV[@]}"; }
	kill_online "vif-nat (dhcp=dnsmasq)" vif1.0
}

test_vif_nat_offline_isc() {
	fault_setup() {
		nat_host
		must vif-nat 1 0 online "${ISC[@]}"
	}
	vif_run() { run_udev vif-nat 1 0 "$1" "${ISC[@]}"; }
	kill_offline "vif-nat (dhcp=yes)"
}

test_vif_nat_offline_dnsmasq() {
	fault_setup() {
		dnsmasq_host
		must vif-nat 1 0 online "${DNSMASQ_ENV[@]}"
	}
	vif_run() { run_udev vif-nat 1 0 "$1" "${DNSMASQ_ENV[@]}"; }
	kill_offline "vif-nat (dhcp=dnsmasq)"
}

run_tests "$@"
