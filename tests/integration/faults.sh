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

BE=/local/domain/0/backend/vif/1/0
FE=/local/domain/1/device/vif/0
VIF_MAC=02:00:00:00:01:00
LAN=

# ---------------------------------------------------------------- set-up

# host_fresh: new host and LAN namespaces (the host's eth0 192.0.2.2/24 with the default route
# through the LAN), an empty store, run and lock directories: every run starts from scratch.
host_fresh() {
	local ns
	while read -r ns; do
		[[ -n $ns ]] && ip netns del "$ns" 2>/dev/null
	done < <(tac "$SB/namespaces")
	: >"$SB/namespaces"
	ns_new HOST
	lan_new 192.0.2.2
	inh ip link set dev eth0 address 02:00:00:00:0e:10
	inh sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	xs_rm /local/domain
	rm -rf "${XEN_RUN_DIR:?}"/* "${XEN_LOCK_DIR:?}"/*
}

# vif_fresh D I [IFNAME] [key=value...]: a vif (veth into a new guest namespace) with a fixed
# MAC, and the store seeded for it.
vif_fresh() {
	local d=$1 i=$2 name=vif$1.$2
	shift 2
	if [[ ${1:-} == vif* ]]; then
		name=$1
		shift
	fi
	vif_add "$d" "$i" "$name" || fail "cannot create $name"
	ip -n "$HOST" link set dev "$name" address "${VIF_MAC%?}$d" || fail "MAC of $name"
	xs_vif_seed "$d" "$i" "$@" || fail "cannot seed the store for $name"
}

# must PROG D I ACTION [ARGS...]: a clean run as udev makes it, which must succeed.
must() {
	run_udev "$@"
	assert_eq 0 "$RC" "$1 $4 of vif$2.$3 ($OUT)"
}

# ---------------------------------------------------------------- vif-bridge

# Another guest online on the bridge throughout: "as before" is a busy host.
bridge_host() { # FIREWALL
	host_fresh
	bridge_add xenbr0 1450 || fail "cannot create xenbr0"
	vif_fresh 2 0 bridge=xenbr0 "ip=192.0.2.60" "mac=$(vif_mac 2 0)"
	must vif-bridge 2 0 online "firewall=$1"
	vif_fresh 1 0 bridge=xenbr0 "ip=192.0.2.50 2001:db8::50/128" "mac=$(vif_mac 1 0)"
}

# The old holder of the guest's addresses left connections behind (online forgets them).
old_connections() {
	inh conntrack -I -s 192.0.2.50 -d 198.51.100.9 -p tcp --sport 40000 --dport 443 -t 300 \
		--state ESTABLISHED -u SEEN_REPLY >/dev/null 2>&1 || fail "cannot add a conntrack entry"
}

# A failed offline never leaves the vif up without its rules.
offline_safe() { # BEFORE NOW
	local dev=${DEV:-vif1.0}
	if link_is_up "$dev" && ! inh nft list ruleset 2>/dev/null | grep -q "\"$dev\"" &&
		! inh iptables-save 2>/dev/null | grep -q -- "--physdev-in $dev "; then
		echo "$dev is up without its firewall rules"
	fi
}

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

# The emulated NIC of an HVM guest (xl: add/remove type_if=tap), renamed by vifname.
tap_host() {
	bridge_host nft
	inh ip link del vif1.0
	vif_fresh 1 0 vif1.0-emu bridge=xenbr0 vifname=tap1 "ip=192.0.2.50" "mac=$(vif_mac 1 0)"
}

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

# network-route started (as its own test below checks), another routed guest online.
route_host() {
	host_fresh
	inh sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.eth0.proxy_arp=1
	vif_fresh 2 0 "ip=192.0.2.60"
	must vif-route 2 0 online netdev=eth0
	vif_fresh 1 0 "ip=192.0.2.50 2001:db8:1::/64" mtu=1400 vifname=guest0
}

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
	fault_setup() {
		host_fresh
		inh sysctl -qw net.ipv4.ip_forward=0
	}
	fault_run() { run_env network-route -- start netdev=eth0; }
	fault_loop "network-route start"
}

test_network_route_stop() {
	fault_setup() {
		host_fresh
		inh sysctl -qw net.ipv4.ip_forward=0
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
		host_fresh
		inh sysctl -qw net.ipv4.ip_forward=0
		run_env network-route -- start netdev=eth0
		assert_eq 0 "$RC" "network-route start ($OUT)"
		run_env network-nat -- start netdev=eth0 dhcp=no
		assert_eq 0 "$RC" "network-nat start ($OUT)"
	}
	fault_run() { run_env network-route -- stop netdev=eth0; }
	fault_loop "network-route stop (forwarding handed over)"
}

# ---------------------------------------------------------------- NAT

# The DHCP files of ISC dhcpd (the init script /bin/true: what is judged is the files; the
# restart is one step) or a real dnsmasq, told by SIGHUP.
isc_files() {
	printf '%s\n' 'default-lease-time 600;' 'host other { hardware ethernet 00:11:22:33:44:55; }' \
		>"$SB/dhcpd.conf"
	printf '%s\n' 'INTERFACESv4="eth1"' >"$SB/isc-dhcp-server"
	chmod 640 "$SB/dhcpd.conf"
	ISC=(dhcp=yes "dhcpd_conf=$SB/dhcpd.conf" "dhcpd_defaults=$SB/isc-dhcp-server"
		dhcpd_init=/bin/true)
	FAULT_FILES=("$SB/dhcpd.conf" "$SB/isc-dhcp-server")
}

# network-nat started with ISC's files, another NAT guest online.
nat_host() {
	host_fresh
	isc_files
	inh sysctl -qw net.ipv4.ip_forward=0
	run_env network-nat -- start netdev=eth0 "${ISC[@]}"
	assert_eq 0 "$RC" "network-nat start ($OUT)"
	vif_fresh 2 0
	must vif-nat 2 0 online "${ISC[@]}"
	vif_fresh 1 0 mtu=1400
	# ARP off, so that turning it on is one of the steps.
	inh ip link set vif1.0 arp off
}

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
	fault_setup() {
		host_fresh
		dnsmasq_sandbox "$SB/dnsmasq" || fail "dnsmasq sandbox"
		FAULT_FILES=("$SB/dnsmasq/dnsmasq.hosts")
		dnsmasq_conf "$SB/dnsmasq"
		dnsmasq_start "$SB/dnsmasq" >/dev/null || fail "dnsmasq does not start"
		vif_fresh 2 0
		must vif-nat 2 0 online "${DNSMASQ_ENV[@]}"
		vif_fresh 1 0
	}
	fault_run() { run_udev vif-nat 1 0 online "${DNSMASQ_ENV[@]}"; }
	FAULT_BACKEND=$BE FAULT_TOLERATED='^signal '
	fault_loop "vif-nat online (dhcp=dnsmasq)"
}

check_network_nat() { # start|stop ISC|DNSMASQ
	CMD=$1 KIND=$2
	fault_setup() {
		host_fresh
		inh sysctl -qw net.ipv4.ip_forward=0
		if [[ $KIND == ISC ]]; then
			isc_files
			DHCP=("${ISC[@]}")
		else
			# No hosts file yet: start makes it (empty) for dnsmasq.
			rm -f "$SB/dnsmasq.conf" "$SB/dnsmasq.hosts"
			DHCP=(dhcp=dnsmasq "dnsmasq_conf=$SB/dnsmasq.conf"
				"dnsmasq_hosts=$SB/dnsmasq.hosts" dnsmasq_init=/bin/true)
			FAULT_FILES=("$SB/dnsmasq.conf" "$SB/dnsmasq.hosts")
		fi
		# The owned table exists, as after any earlier start and stop (a failed first
		# start leaves it, empty, as start and stop do).
		run_env network-nat -- start netdev=eth0 firewall=nft
		run_env network-nat -- stop netdev=eth0
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
