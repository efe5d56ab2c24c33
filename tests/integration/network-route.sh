#!/bin/bash
# shellcheck disable=SC2034 # RUN_ENV is read by lib.sh's run_* helpers
# Integration tests for network-route (SPEC.md section 5, and 1 and 7): a
# host namespace whose eth0 (and eth1) are veths into a LAN namespace; the
# program run as xend runs it. What start sets (IPv4 forwarding, proxy ARP
# on netdev), what stop puts back, the state file in XEN_RUN_DIR, status in
# text and JSON, and the hand-over of forwarding to network-nat. IPv6: the
# forwarding, proxy_ndp and accept_ra start sets and stop puts back, and a
# router advertisement from the LAN still taken while forwarding is on.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../pkt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../pkt-lib.sh"

LAN=

# ---------------------------------------------------------------- setup

# The LAN namespace with router 192.0.2.1/24 (lan0) and 198.51.100.1/24
# (lan1); the host's eth0 (192.0.2.2/24, default route) and eth1
# (198.51.100.2/24) are veths into it. Forwarding and proxy ARP start off,
# whatever the namespace inherited.
net_setup() {
	ns_new LAN
	ip -n "$HOST" link add name eth0 type veth peer name lan0 netns "$LAN" || fail "eth0"
	ip -n "$HOST" link add name eth1 type veth peer name lan1 netns "$LAN" || fail "eth1"
	ip -n "$LAN" -batch - <<-EOF || fail "cannot configure the LAN"
		link set lan0 up
		link set lan1 up
		addr add 192.0.2.1/24 dev lan0
		addr add 198.51.100.1/24 dev lan1
	EOF
	ip -n "$HOST" -batch - <<-EOF || fail "cannot configure the host"
		link set eth0 up
		link set eth1 up
		addr add 192.0.2.2/24 dev eth0
		addr add 198.51.100.2/24 dev eth1
		route add default via 192.0.2.1
	EOF
	set_sysctl ip_forward 0
	set_sysctl conf/eth0/proxy_arp 0
	set_sysctl conf/eth1/proxy_arp 0
	set_sysctl ../ipv6/conf/all/forwarding 0
	local d
	for d in eth0 eth1; do
		set_sysctl "../ipv6/conf/$d/proxy_ndp" 0
		set_sysctl "../ipv6/conf/$d/accept_ra" 1
	done
}

# KEY relative to /proc/sys/net/ipv4, in the host namespace.
get_sysctl() { inh cat "/proc/sys/net/ipv4/$1"; }
set_sysctl() {
	inh sh -c "echo $2 >/proc/sys/net/ipv4/$1" || fail "cannot set $1 to $2"
}
get6() { get_sysctl "../ipv6/$1"; }

nr() { run_env network-route -- "$@"; }
nn() { run_env network-nat -- "$@"; }

# ip_forward and proxy_arp of eth0 and eth1, and the state files: what
# start and stop may change.
settings() {
	echo "ip_forward=$(get_sysctl ip_forward)" \
		"eth0=$(get_sysctl conf/eth0/proxy_arp)" \
		"eth1=$(get_sysctl conf/eth1/proxy_arp)"
	settings6
	(cd "$XEN_RUN_DIR" && find . -type f | sort)
}

# The IPv6 ones: all.forwarding, then proxy_ndp and accept_ra of eth0 and eth1.
settings6() {
	echo "forwarding=$(get6 conf/all/forwarding)" \
		"ndp=$(get6 conf/eth0/proxy_ndp),$(get6 conf/eth1/proxy_ndp)" \
		"ra=$(get6 conf/eth0/accept_ra),$(get6 conf/eth1/accept_ra)"
}

assert_settings() { # IP_FORWARD ETH0 ETH1 MSG
	assert_eq "ip_forward=$1 eth0=$2 eth1=$3" "$(settings | head -n 1)" "$4"
}

assert_settings6() { # FORWARDING NDP0,NDP1 RA0,RA1 MSG
	assert_eq "forwarding=$1 ndp=$2 ra=$3" "$(settings6)" "IPv6 settings $4"
}

# A refused call: exit 1, a message naming every word given, no change.
assert_refused() { # BEFORE WORD...
	local before=$1 w
	shift
	assert_eq 1 "$RC" "exit status ($OUT)"
	for w in "$@"; do
		assert_contains "$OUT" "$w" "message"
	done
	assert_same "$before" "$(settings)" "settings and state files after the refusal"
}

# ---------------------------------------------------------------- start, stop

test_start_sets_and_records() {
	net_setup
	nr start netdev=eth0
	assert_eq 0 "$RC" "start ($OUT)"
	assert_settings 1 1 0 "after start"
	assert_ok test -s "$XEN_RUN_DIR/network-route.eth0"
	local rec
	rec=$(cat "$XEN_RUN_DIR/network-route.eth0")
	assert_contains "$rec" ip_forward "state file"
	assert_contains "$rec" conf/eth0/proxy_arp "state file"
}

test_stop_restores() {
	net_setup
	local before
	before=$(settings)
	nr start netdev=eth0
	assert_eq 0 "$RC" "start ($OUT)"
	nr stop netdev=eth0
	assert_eq 0 "$RC" "stop ($OUT)"
	assert_settings 0 0 0 "after stop"
	assert_same "$before" "$(settings)" "every setting after stop"
	assert_fail test -e "$XEN_RUN_DIR/network-route.eth0"
}

# IPv6: forwarding on, proxy NDP on netdev, whose accept_ra 1 becomes 2 (a
# device that forwards ignores router advertisements at 1); each recorded
# and put back by stop.
test_start_stop_ipv6() {
	net_setup
	local before rec
	before=$(settings)
	nr start netdev=eth0
	assert_eq 0 "$RC" "start ($OUT)"
	assert_settings6 1 1,0 2,1 "after start"
	rec=$(cat "$XEN_RUN_DIR/network-route.eth0")
	assert_contains "$rec" "sysctl ipv6/conf/all/forwarding 0 1" "state file"
	assert_contains "$rec" "sysctl ipv6/conf/eth0/proxy_ndp 0 1" "state file"
	assert_contains "$rec" "sysctl ipv6/conf/eth0/accept_ra 1 2" "state file"
	nr stop netdev=eth0
	assert_eq 0 "$RC" "stop ($OUT)"
	assert_settings6 0 0,0 1,1 "after stop"
	assert_same "$before" "$(settings)" "every setting after stop"
}

# accept_ra is changed only from 1: 0 (none taken) and 2 (taken anyway)
# stay as they are.
test_accept_ra_left_alone() {
	local ra before
	net_setup
	for ra in 0 2; do
		set_sysctl ../ipv6/conf/eth0/accept_ra "$ra"
		before=$(settings)
		nr start netdev=eth0
		assert_eq 0 "$RC" "start, accept_ra $ra ($OUT)"
		assert_eq "$ra" "$(get6 conf/eth0/accept_ra)" "accept_ra after start"
		assert_not_contains "$(cat "$XEN_RUN_DIR/network-route.eth0")" accept_ra \
			"state file, accept_ra $ra"
		nr stop netdev=eth0
		assert_eq 0 "$RC" "stop ($OUT)"
		assert_same "$before" "$(settings)" "every setting after stop, accept_ra $ra"
	done
}

# A router advertisement from the LAN: the host takes its default route
# before start (the control), and still does after start, forwarding on;
# the kernel's own rule checked too: accept_ra 1 with forwarding on ignores it.
test_router_advertisements_still_taken() {
	net_setup
	ra_default() { # WANT MSG: send an RA, then the host's RA default route is WANT (yes|no)
		inh ip -6 route flush proto ra
		probe "$LAN" lan0 "$HOST" eth0 ra "ra,ra,src=fe80::1,lifetime=600"
		assert_arrived ra
		local got=no
		inh ip -6 route show default proto ra | grep -q 'via fe80::1 dev eth0' && got=yes
		assert_eq "$1" "$got" "a default route from the RA, $2"
	}
	ra_default yes "before start"
	nr start netdev=eth0
	assert_eq 0 "$RC" "start ($OUT)"
	ra_default yes "after start (accept_ra $(get6 conf/eth0/accept_ra))"
	set_sysctl ../ipv6/conf/eth0/accept_ra 1
	ra_default no "accept_ra 1 with forwarding on"
	set_sysctl ../ipv6/conf/eth0/accept_ra 2
	nr stop netdev=eth0
	assert_eq 0 "$RC" "stop ($OUT)"
	ra_default yes "after stop"
}

# A device without IPv6: start still does the IPv4 part, and says so.
test_start_without_ipv6() {
	net_setup
	set_sysctl ../ipv6/conf/eth0/disable_ipv6 1
	local before
	before=$(settings)
	nr start netdev=eth0
	assert_eq 0 "$RC" "start ($OUT)"
	assert_contains "$OUT" "eth0 has no IPv6" "warning"
	assert_settings 1 1 0 "after start"
	assert_same "$(sed -n 2p <<<"$before")" "$(settings6)" "IPv6 settings after start"
	nr status netdev=eth0
	assert_not_contains "$OUT" ipv6 "status without IPv6"
	nr stop netdev=eth0
	assert_eq 0 "$RC" "stop ($OUT)"
	assert_same "$before" "$(settings)" "every setting after stop"
}

# xend runs start and stop with the same network-script line: here none,
# so both take the default-route device, and stop finds it again.
test_start_stop_without_parameters() {
	net_setup
	nr start
	assert_eq 0 "$RC" "start ($OUT)"
	assert_settings 1 1 0 "after start"
	nr stop
	assert_eq 0 "$RC" "stop ($OUT)"
	assert_settings 0 0 0 "after stop"
}

# A value that was 1 before start stays 1 after stop.
test_stop_keeps_what_was_on() {
	net_setup
	set_sysctl ip_forward 1
	nr start netdev=eth0
	assert_eq 0 "$RC" "start ($OUT)"
	assert_settings 1 1 0 "after start"
	nr stop netdev=eth0
	assert_eq 0 "$RC" "stop ($OUT)"
	assert_settings 1 0 0 "after stop"
}

# A value the administrator changed after start is theirs: stop leaves it.
test_stop_leaves_admin_changes() {
	net_setup
	nr start netdev=eth0
	assert_eq 0 "$RC" "start ($OUT)"
	set_sysctl conf/eth0/proxy_arp 2
	nr stop netdev=eth0
	assert_eq 0 "$RC" "stop ($OUT)"
	assert_settings 0 2 0 "after stop"
}

test_start_twice() {
	net_setup
	nr start netdev=eth0
	assert_eq 0 "$RC" "first start ($OUT)"
	local first rec
	first=$(settings)
	rec=$(cat "$XEN_RUN_DIR/network-route.eth0")
	nr start netdev=eth0
	assert_eq 0 "$RC" "second start ($OUT)"
	assert_same "$first" "$(settings)" "settings after the second start"
	assert_same "$rec" "$(cat "$XEN_RUN_DIR/network-route.eth0")" "state file"
	nr stop netdev=eth0
	assert_eq 0 "$RC" "stop ($OUT)"
	assert_settings 0 0 0 "after stop: the values before the first start"
}

test_stop_not_started() {
	net_setup
	set_sysctl ip_forward 1
	set_sysctl conf/eth0/proxy_arp 1
	local before
	before=$(settings)
	nr stop netdev=eth0
	assert_eq 0 "$RC" "stop ($OUT)"
	nr stop
	assert_eq 0 "$RC" "stop without netdev ($OUT)"
	assert_same "$before" "$(settings)" "settings"
	# Nothing started and no default route: still nothing to do.
	inh ip route del default
	nr stop
	assert_eq 0 "$RC" "stop without netdev nor default route ($OUT)"
	assert_same "$before" "$(settings)" "settings"
}

# stop without netdev finds the device start was run for, even when it is
# not the default-route device.
test_stop_finds_the_started_device() {
	net_setup
	nr start netdev=eth1
	assert_eq 0 "$RC" "start ($OUT)"
	assert_settings 1 0 1 "after start"
	nr stop
	assert_eq 0 "$RC" "stop ($OUT)"
	assert_settings 0 0 0 "after stop"
	assert_eq "" "$(ls "$XEN_RUN_DIR")" "state files left"
}

# The device went away since start: its settings went with it; the rest is
# put back and the state forgotten.
test_stop_device_gone() {
	net_setup
	nr start netdev=eth1
	assert_eq 0 "$RC" "start ($OUT)"
	inh ip link del eth1
	nr stop netdev=eth1
	assert_eq 0 "$RC" "stop ($OUT)"
	assert_eq 0 "$(get_sysctl ip_forward)" "ip_forward after stop"
	assert_eq "" "$(ls "$XEN_RUN_DIR")" "state files left"
}

test_netdev_default_is_default_route_device() {
	net_setup
	inh ip route replace default via 198.51.100.1 dev eth1
	nr start
	assert_eq 0 "$RC" "start ($OUT)"
	assert_settings 1 0 1 "after start"
	assert_ok test -e "$XEN_RUN_DIR/network-route.eth1"
}

# ---------------------------------------------------------------- refusals

test_missing_netdev() {
	net_setup
	local before
	before=$(settings)
	nr start netdev=eth9
	assert_refused "$before" eth9 "does not exist"
}

test_bad_netdev_name() {
	net_setup
	local before v
	before=$(settings)
	for v in "eth 0" ../eth0 abcdefghijklmnop; do
		nr start "netdev=$v"
		assert_refused "$before" netdev "$v"
	done
	RUN_ENV=("netdev=a/b")
	nr start
	RUN_ENV=()
	assert_refused "$before" netdev a/b
}

test_no_default_route() {
	net_setup
	inh ip route del default
	local before
	before=$(settings)
	nr start
	assert_refused "$before" "default route" netdev=
}

test_unknown_command() {
	net_setup
	local before c
	before=$(settings)
	nr frobnicate
	assert_refused "$before" frobnicate
	for c in start stop status; do
		assert_contains "$OUT" $c "valid commands listed"
	done
	nr start --json
	assert_refused "$before" --json
}

# ---------------------------------------------------------------- status

test_status_text() {
	net_setup
	nr status netdev=eth0
	assert_eq 0 "$RC" "status ($OUT)"
	assert_contains "$OUT" "not started for eth0" "status before start"
	assert_contains "$OUT" "net.ipv4.ip_forward = 0" "status before start"
	assert_contains "$OUT" "net.ipv4.conf.eth0.proxy_arp = 0" "status before start"
	nr start
	assert_eq 0 "$RC" "start ($OUT)"
	nr status
	assert_eq 0 "$RC" "status ($OUT)"
	assert_contains "$OUT" "started for eth0" "status after start"
	assert_not_contains "$OUT" "not started" "status after start"
	assert_contains "$OUT" "net.ipv4.ip_forward = 1 (0 before start)" "status after start"
	assert_contains "$OUT" "net.ipv4.conf.eth0.proxy_arp = 1 (0 before start)" \
		"status after start"
	assert_contains "$OUT" "net.ipv6.conf.all.forwarding = 1 (0 before start)" \
		"status after start"
	assert_contains "$OUT" "net.ipv6.conf.eth0.proxy_ndp = 1 (0 before start)" \
		"status after start"
	assert_contains "$OUT" "net.ipv6.conf.eth0.accept_ra = 2 (1 before start)" \
		"status after start"
	nr stop
	nr status
	assert_contains "$OUT" "not started for eth0" "status after stop"
	assert_contains "$OUT" "net.ipv4.ip_forward = 0" "status after stop"
}

test_status_json() {
	net_setup
	set_sysctl ip_forward 1
	nr status --json netdev=eth0
	assert_eq 0 "$RC" "status ($OUT)"
	assert_ok jq -e . <<<"$OUT"
	assert_eq 'false eth0' "$(jq -r '"\(.started) \(.netdev)"' <<<"$OUT")" "before start"
	nr start
	assert_eq 0 "$RC" "start ($OUT)"
	nr status --json
	assert_eq 0 "$RC" "status ($OUT)"
	assert_ok jq -e . <<<"$OUT"
	assert_eq 'network-route true eth0' "$(jq -r '"\(.program) \(.started) \(.netdev)"' \
		<<<"$OUT")" "program, started, netdev"
	# ip_forward was on already: no before_start; proxy_arp was 0.
	assert_same 'net.ipv4.ip_forward 1 -
net.ipv4.conf.eth0.proxy_arp 1 0
net.ipv6.conf.all.forwarding 1 0
net.ipv6.conf.eth0.proxy_ndp 1 0
net.ipv6.conf.eth0.accept_ra 2 1' "$(jq -r '.settings[] |
		"\(.name) \(.value) \(.before_start // "-")"' <<<"$OUT")" "settings"
}

# ---------------------------------------------------------------- dry run

test_dry_run_changes_nothing() {
	net_setup
	set_sysctl ip_forward 1
	local before
	before=$(settings)
	nr -n start netdev=eth0
	assert_eq 0 "$RC" "start -n ($OUT)"
	assert_contains "$OUT" "would set net.ipv4.conf.eth0.proxy_arp to 1" "plan"
	assert_contains "$OUT" "would set net.ipv6.conf.eth0.accept_ra to 2" "plan"
	assert_contains "$OUT" "would set net.ipv6.conf.all.forwarding to 1" "plan"
	assert_contains "$OUT" "would set net.ipv6.conf.eth0.proxy_ndp to 1" "plan"
	# What has its value already is no step.
	assert_not_contains "$OUT" "ip_forward" "plan"
	assert_same "$before" "$(settings)" "settings after start -n"
	nr start netdev=eth0
	assert_eq 0 "$RC" "start ($OUT)"
	before=$(settings)
	nr --dry-run stop
	assert_eq 0 "$RC" "stop -n ($OUT)"
	assert_contains "$OUT" "would set net.ipv4.conf.eth0.proxy_arp back to 0" "plan"
	assert_contains "$OUT" "would set net.ipv6.conf.all.forwarding back to 0" "plan"
	assert_same "$before" "$(settings)" "settings after stop -n"
}

test_help_and_version() {
	nr --help
	assert_eq 0 "$RC" "--help"
	assert_contains "$OUT" "start|stop|status" "--help text"
	assert_contains "$OUT" "netdev=" "--help text"
	nr --version
	assert_eq 0 "$RC" "--version"
	assert_contains "$OUT" network-route "--version text"
}

# ---------------------------------------------------------------- with network-nat

# Both turn forwarding on: stopping one leaves it on while the other runs,
# stopping both puts back the value before the first start. Each order.
handover() { # FIRST SECOND (nr or nn each)
	local first=$1 second=$2 p
	net_setup
	for p in "$first" "$second"; do
		"$p" start netdev=eth0 firewall=nft dhcp=no
		assert_eq 0 "$RC" "$p start ($OUT)"
	done
	assert_eq 1 "$(get_sysctl ip_forward)" "ip_forward with both started"
	"$first" stop netdev=eth0 firewall=nft dhcp=no
	assert_eq 0 "$RC" "$first stop ($OUT)"
	assert_eq 1 "$(get_sysctl ip_forward)" "ip_forward while $second runs"
	"$second" stop netdev=eth0 firewall=nft dhcp=no
	assert_eq 0 "$RC" "$second stop ($OUT)"
	assert_settings 0 0 0 "after both stopped"
	assert_eq "" "$(ls "$XEN_RUN_DIR")" "state files left"
}

test_forwarding_handover_route_first() { handover nr nn; }
test_forwarding_handover_nat_first() { handover nn nr; }

# Started on two devices: stopping one leaves forwarding to the other.
test_two_devices() {
	net_setup
	local before
	before=$(settings)
	nr start netdev=eth0
	assert_eq 0 "$RC" "start eth0 ($OUT)"
	nr start netdev=eth1
	assert_eq 0 "$RC" "start eth1 ($OUT)"
	assert_settings 1 1 1 "both started"
	# eth1 forwards once eth0's start turned forwarding on for all: its
	# accept_ra becomes 2 all the same.
	assert_settings6 1 1,1 2,2 "both started"
	nr stop netdev=eth0
	assert_eq 0 "$RC" "stop eth0 ($OUT)"
	assert_settings 1 0 1 "eth1 still started"
	# IPv6 forwarding too stays on for eth1; eth0's accept_ra is back.
	assert_settings6 1 0,1 1,2 "eth1 still started"
	nr stop netdev=eth1
	assert_eq 0 "$RC" "stop eth1 ($OUT)"
	assert_settings 0 0 0 "both stopped"
	assert_same "$before" "$(settings)" "every setting after both stopped"
}

# network-nat does not forward IPv6: network-route's stop puts IPv6
# forwarding back although network-nat still runs, and IPv4 forwarding stays.
test_ipv6_forwarding_not_handed_to_nat() {
	net_setup
	nr start netdev=eth0
	assert_eq 0 "$RC" "network-route start ($OUT)"
	nn start netdev=eth0 firewall=nft dhcp=no
	assert_eq 0 "$RC" "network-nat start ($OUT)"
	nr stop netdev=eth0
	assert_eq 0 "$RC" "network-route stop ($OUT)"
	assert_eq 1 "$(get_sysctl ip_forward)" "ip_forward while network-nat runs"
	assert_settings6 0 0,0 1,1 "while network-nat runs"
	nn stop netdev=eth0 firewall=nft dhcp=no
	assert_eq 0 "$RC" "network-nat stop ($OUT)"
	assert_settings 0 0 0 "after both stopped"
}

run_tests "$@"
