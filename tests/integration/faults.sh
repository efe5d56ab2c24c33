#!/bin/bash
# shellcheck disable=SC2034 # FAULT_* and RUN_ENV are read by fault-lib.sh and lib.sh
# shellcheck disable=SC2317 # the fault_* functions are called by fault-lib.sh
# Fault injection across the programs (SPEC §7, "Nothing lost"): every step that changes the
# system (netlink changes, nf_tables batches, conntrack deletions, sysctl writes, file
# replacements, xenstore writes, programs started, signals: see tests/tools/nlfail.c) fails in
# turn, and each outcome is judged by tests/fault-lib.sh: a failed online, add, start or stop
# leaves the host, the firewall, the files and the store exactly as before, with the reason in
# the message (and in hotplug-error for the vif programs), and a clean run afterwards succeeds.
#
# offline and remove cannot be undone the same way: the guest is going (SPEC §2: clean up what
# can be cleaned). A failed offline reports the failure (exit 1, hotplug-error) and never
# leaves a vif up without its firewall rules (SPEC §6: rules removed only after the vif is
# down); running it again finishes the job.
#
# Failures the programs ride over, with a warning, by design: a conntrack deletion (the entry
# may have gone meanwhile; the guest still comes up), the DHCP server's restart or SIGHUP (the
# entry is in its file; the server's own failure is its log's business).
#
# Both ways of failing (the call fails; the other side refuses) are tried for netlink changes
# and nf_tables batches; the other kinds only the second way (their code paths do not differ).

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../dhcp-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../dhcp-lib.sh"
# shellcheck source=SCRIPTDIR/../fault-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault-lib.sh"
# shellcheck source=SCRIPTDIR/../hosts-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../hosts-lib.sh"

# ---------------------------------------------------------------- vif-bridge

check_bridge_online() { # FIREWALL [again]
	FW=$1 AGAIN=${2:-}
	fault_setup() {
		bridge_host "$FW"
		[[ $FW == nft ]] && old_connections
		[[ -n $AGAIN ]] && must vif-bridge 1 0 online "firewall=$FW"
	}
	fault_run() { run_udev vif-bridge 1 0 online "firewall=$FW"; }
	FAULT_BACKEND=$BE FAULT_TOLERATED='^ct '
	fault_loop "vif-bridge ${AGAIN:+repeated }online (firewall=$FW)"
}

test_bridge_online_nft() { check_bridge_online nft; }
test_bridge_online_again_nft() { check_bridge_online nft again; }
test_bridge_online_iptables() { check_bridge_online iptables; }

check_bridge_offline() { # FIREWALL
	FW=$1
	fault_setup() {
		bridge_host "$FW"
		must vif-bridge 1 0 online "firewall=$FW"
	}
	fault_run() { run_udev vif-bridge 1 0 offline "firewall=$FW"; }
	fault_check_partial() { offline_safe "$@"; }
	FAULT_BACKEND=$BE FAULT_ON_FAIL=continue
	fault_loop "vif-bridge offline (firewall=$FW)"
}

# Only nft: iptables -D exits 1 both for a rule that is not there (no error: SPEC §6) and for
# a failure, so a failed deletion under firewall=iptables is not seen.
test_bridge_offline_nft() { check_bridge_offline nft; }

test_bridge_add_tap() {
	fault_setup() { tap_host; }
	fault_run() { run_xl vif-bridge 1 0 add type_if=tap; }
	FAULT_BACKEND=$BE
	fault_loop "vif-bridge add (tap)"
}

test_bridge_remove_tap() {
	fault_setup() {
		tap_host
		run_xl vif-bridge 1 0 add type_if=tap
		assert_eq 0 "$RC" "add ($OUT)"
	}
	fault_run() { run_xl vif-bridge 1 0 remove type_if=tap; }
	fault_check_partial() { DEV=tap1-emu offline_safe "$@"; }
	FAULT_BACKEND=$BE FAULT_ON_FAIL=continue
	fault_loop "vif-bridge remove (tap)"
}

# ---------------------------------------------------------------- routed

test_route_online() {
	fault_setup() { route_host; }
	fault_run() { run_xl vif-route 1 0 online; }
	FAULT_BACKEND=$BE
	fault_loop "vif-route online"
}

test_route_offline() {
	fault_setup() {
		route_host
		run_xl vif-route 1 0 online
		assert_eq 0 "$RC" "online ($OUT)"
	}
	fault_run() { run_xl vif-route 1 0 offline; }
	fault_check_partial() { DEV=guest0 offline_safe "$@"; }
	# Down, the vif lost its routes already: deleting them is a formality.
	FAULT_BACKEND=$BE FAULT_ON_FAIL=continue FAULT_TOLERATED='^route RTM_DELROUTE'
	fault_loop "vif-route offline"
}

test_network_route_start() {
	fault_setup() { route_stopped_host; }
	fault_run() { run_env network-route -- start netdev=eth0; }
	fault_loop "network-route start"
}

test_network_route_stop() {
	fault_setup() {
		route_stopped_host
		run_env network-route -- start netdev=eth0
		assert_eq 0 "$RC" "start ($OUT)"
	}
	fault_run() { run_env network-route -- stop netdev=eth0; }
	fault_loop "network-route stop"
}

# network-route stop while network-nat still needs forwarding: the record of it is handed
# over to network-nat's state file, a step of its own.
test_network_route_stop_hand_over() {
	fault_setup() {
		route_stopped_host
		run_env network-route -- start netdev=eth0
		assert_eq 0 "$RC" "network-route start ($OUT)"
		run_env network-nat -- start netdev=eth0 dhcp=no
		assert_eq 0 "$RC" "network-nat start ($OUT)"
	}
	fault_run() { run_env network-route -- stop netdev=eth0; }
	fault_loop "network-route stop (forwarding handed over)"
}

# ---------------------------------------------------------------- NAT

test_nat_online_isc() {
	fault_setup() { nat_host; }
	fault_run() { run_udev vif-nat 1 0 online "${ISC[@]}"; }
	FAULT_BACKEND=$BE FAULT_TOLERATED='^exec /bin/true'
	fault_loop "vif-nat online (dhcp=yes)"
}

test_nat_offline_isc() {
	fault_setup() {
		nat_host
		must vif-nat 1 0 online "${ISC[@]}"
	}
	fault_run() { run_udev vif-nat 1 0 offline "${ISC[@]}"; }
	fault_check_partial() { offline_safe "$@"; }
	FAULT_BACKEND=$BE FAULT_ON_FAIL=continue FAULT_TOLERATED='^exec /bin/true'
	fault_loop "vif-nat offline (dhcp=yes)"
}

# dnsmasq, running in the host, gets SIGHUP for the new entry.
test_nat_online_dnsmasq() {
	fault_setup() { dnsmasq_host; }
	fault_run() { run_udev vif-nat 1 0 online "${DNSMASQ_ENV[@]}"; }
	FAULT_BACKEND=$BE FAULT_TOLERATED='^signal '
	fault_loop "vif-nat online (dhcp=dnsmasq)"
}

check_network_nat() { # start|stop ISC|DNSMASQ
	CMD=$1 KIND=$2
	fault_setup() {
		nat_stopped_host "$KIND"
		if [[ $CMD == stop ]]; then
			run_env network-nat -- start netdev=eth0 "${DHCP[@]}"
			assert_eq 0 "$RC" "start ($OUT)"
		fi
	}
	fault_run() { run_env network-nat -- "$CMD" netdev=eth0 "${DHCP[@]}"; }
	FAULT_TOLERATED='^exec /bin/true'
	fault_loop "network-nat $CMD ($KIND)"
}

test_network_nat_start_isc() { check_network_nat start ISC; }
test_network_nat_stop_isc() { check_network_nat stop ISC; }
test_network_nat_start_dnsmasq() { check_network_nat start DNSMASQ; }
test_network_nat_stop_dnsmasq() { check_network_nat stop DNSMASQ; }

run_tests "$@"
