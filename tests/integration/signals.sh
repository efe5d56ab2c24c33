#!/bin/bash
# shellcheck disable=SC2034 # FAULT_* and TEST_TIMEOUT are read by the libraries
# shellcheck disable=SC2317 # the fault_* functions are called by fault-lib.sh
# SIGINT, SIGTERM and SIGHUP at any moment (SPEC §7, "Nothing lost"): a person's Ctrl-C, a
# service manager stopping xend, a closed terminal. Each program is stopped just before each
# step that changes the system, in turn (tests/tools/nlfail.c, NLFAIL_MODE=stop), sent the
# signal and continued, so that the signal lands between exactly those two steps: the run must
# undo what it did, exit 128 + the signal, name it in its message (and in hotplug-error for a
# vif program), and a clean run afterwards must work (tests/fault-lib.sh, signal_loop). An
# offline cannot be undone (the guest is going): it stops, reports, and the next offline
# finishes; it never leaves the vif up without its rules.

# Some 10 to 30 points of two runs each.
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

# ---------------------------------------------------------------- network programs

check_network_bridge() { # start|stop LAYOUT
	nb_fault_host "$1" "$2"
	fault_snapshot() { nb_full_state; }
	fault_run() { nb "$CMD" "${ARGS[@]}"; }
	signal_loop "network-bridge $CMD ($2 layout)"
}

test_network_bridge_start() { check_network_bridge start classic; }
test_network_bridge_stop_rename() { check_network_bridge stop rename; }

check_network_route() { # start|stop
	route_fault_host "$1"
	fault_run() { run_env network-route -- "$CMD" netdev=eth0; }
	signal_loop "network-route $CMD"
}

test_network_route_start() { check_network_route start; }
test_network_route_stop() { check_network_route stop; }

check_network_nat() { # start|stop ISC|DNSMASQ
	nat_fault_host "$1" "$2"
	fault_run() { run_env network-nat -- "$CMD" netdev=eth0 "${DHCP[@]}"; }
	signal_loop "network-nat $CMD ($KIND)"
}

test_network_nat_start_isc() { check_network_nat start ISC; }
test_network_nat_stop_dnsmasq() { check_network_nat stop DNSMASQ; }

# ---------------------------------------------------------------- vif programs

test_vif_bridge_online() {
	fault_setup() {
		bridge_host nft
		old_connections
	}
	fault_run() { run_udev vif-bridge 1 0 online firewall=nft; }
	FAULT_BACKEND=$BE
	signal_loop "vif-bridge online (firewall=nft)"
}

test_vif_bridge_offline() {
	fault_setup() {
		bridge_host nft
		must vif-bridge 1 0 online firewall=nft
	}
	fault_run() { run_udev vif-bridge 1 0 offline firewall=nft; }
	fault_check_partial() { offline_safe "$@"; }
	FAULT_BACKEND=$BE FAULT_ON_FAIL=continue
	signal_loop "vif-bridge offline (firewall=nft)"
}

test_vif_route_online() {
	fault_setup() { route_host; }
	fault_run() { run_xl vif-route 1 0 online; }
	FAULT_BACKEND=$BE
	signal_loop "vif-route online"
}

test_vif_nat_online_isc() {
	fault_setup() { nat_host; }
	fault_run() { run_udev vif-nat 1 0 online "${ISC[@]}"; }
	FAULT_BACKEND=$BE
	signal_loop "vif-nat online (dhcp=yes)"
}

test_vif_nat_offline_isc() {
	fault_setup() {
		nat_host
		must vif-nat 1 0 online "${ISC[@]}"
	}
	fault_run() { run_udev vif-nat 1 0 offline "${ISC[@]}"; }
	fault_check_partial() { offline_safe "$@"; }
	FAULT_BACKEND=$BE FAULT_ON_FAIL=continue
	signal_loop "vif-nat offline (dhcp=yes)"
}

run_tests "$@"
