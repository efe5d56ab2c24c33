#!/bin/bash
# Differential test: Debian's vif-route script (xen-utils-common) and our build/vif-route, each
# on its own identical host namespace and store; addresses, routes, sysctls, links and store
# nodes must be equal after each call, except where the reference is wrong (note lines).
#
# Each side's host has eth0 (192.0.2.10/24, default route) and eth1 (198.51.100.10/24) leading
# to LAN namespaces, and the guest's vif. The reference reads the store with xenstore-read from
# PATH (so XENSTORED_PATH reaches it) but has hard-coded places of its own: it appends its
# stderr to /var/log/xen/xen-hotplug.log and locks in /var/run/xen-hotplug. It runs in a
# private mount namespace (unshare -m) in which sandbox directories are bound over those two,
# so it leaves nothing in the real system; bind mounts rather than copies because the script
# must run unmodified from /etc/xen/scripts, where it finds its libraries. It calls ifconfig
# (net-tools), ip, xenstore-read/-write and logger; Debian disables its iptables step
# (handle_iptable returns at once), so firewall state is not compared: ours adds rules in its
# own nftables table, which none of the snapshots below look at.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../diff-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../diff-lib.sh"

REF=/etc/xen/scripts/vif-route
OURS_PROG=vif-route
COMPARE=(links_snapshot routes_snapshot sysctl_snapshot store_snapshot)
HOST_IP=192.0.2.10
HOST_IP1=198.51.100.10

# ---------------------------------------------------------------- twins

# lan_add IFNAME N: IFNAME in the host, a veth into a new LAN namespace whose end has
# <net>.1 and 2001:db8:N::1; the host end has <net>.10/24 and 2001:db8:N::10/64 and a MAC
# that is the same on both sides. N=0: 192.0.2.0/24, N=1: 198.51.100.0/24.
lan_add() {
	local ifname=$1 n=$2 lan net
	net=$([[ $n -eq 0 ]] && echo 192.0.2 || echo 198.51.100)
	ns_new lan
	ip -n "$HOST" link add "$ifname" address "02:00:00:00:0$n:10" type veth \
		peer name lan0 netns "$lan" || return 1
	ip -n "$lan" link set lan0 up
	ip -n "$lan" addr add "$net.1/24" dev lan0
	ip -n "$lan" addr add "2001:db8:$n::1/64" dev lan0 nodad
	ip -n "$HOST" link set "$ifname" up
	ip -n "$HOST" addr add "$net.10/24" dev "$ifname"
	ip -n "$HOST" addr add "2001:db8:$n::10/64" dev "$ifname" nodad
}

# Makes the two sides: "ours" is the sandbox's host and store, "ref" a second host namespace
# with a second store. Both get eth0 and eth1 (lan_add), a secondary address and a second
# primary one in another subnet on eth0 (the first primary is what the vif takes), IPv4 and IPv6 default routes through eth0 (unless
# nodefault), the vif (IFNAME, default vif1.0: netback's MAC fe:ff:ff:ff:ff:ff, down, MTU
# 1500) and the same seeded store (key=value extras).
twin_setup() { # [ifname=NAME] [nodefault] -- key=value...
	local ifname=vif1.0 nodefault=no side
	while [[ $# -gt 0 && $1 != -- ]]; do
		case $1 in
		ifname=*) ifname=${1#ifname=} ;;
		nodefault) nodefault=yes ;;
		esac
		shift
	done
	[[ ${1:-} == -- ]] && shift
	command -v ifconfig >/dev/null || fail "ifconfig missing (package net-tools): the reference needs it"
	ref_wrapper || fail "cannot write the reference's wrapper"
	twins_new
	for side in ref ours; do
		on "$side"
		lan_add eth0 0 || fail "lan_add eth0 on $side"
		lan_add eth1 1 || fail "lan_add eth1 on $side"
		inh ip addr add 192.0.2.11/24 dev eth0
		inh ip addr add 10.200.0.5/24 dev eth0
		if [[ $nodefault == no ]]; then
			inh ip route add default via 192.0.2.1
			inh ip -6 route add default via 2001:db8:0::1
		fi
		vif_add 1 0 "$ifname" || fail "vif_add on $side"
		inh ip link set "$ifname" address fe:ff:ff:ff:ff:ff
		xs_vif_seed 1 0 "$@" || fail "xs_vif_seed on $side"
	done
}

# The reference's ifconfig sets the address with the classful netmask first, then narrows it
# to /32 and keeps the old broadcast address: the vif carries "brd <net>.255" and a local
# broadcast route for the LAN's broadcast address, and for a moment a /24 route to the whole
# LAN through the vif. Ours adds a plain /32. Where the reference shows this, it is noted and
# that broadcast route is left out of the comparison (ROUTE_SKIP); nothing else.
BRD_SKIP='(.type == "broadcast" and (.dev | startswith("eth") | not))'
note_broadcast() { # DEV
	local brd
	on ref
	brd=$(ip -n "$HOST" -j addr show dev "$1" 2>/dev/null |
		jq -r '.[0].addr_info[]? | select(.family == "inet" and .prefixlen == 32) | .broadcast // empty')
	on ours
	assert_eq "" "$(ip -n "$HOST" -j addr show dev "$1" |
		jq -r '.[0].addr_info[]? | select(.family == "inet") | .broadcast // empty')" \
		"broadcast address of our /32 on $1"
	if [[ -n $brd ]]; then
		note "deliberate difference: the reference's ifconfig leaves the classful broadcast" \
			"$brd on the /32 of $1 (and a local broadcast route for it); ours sets none"
	fi
}

# The reference's offline runs ifdown on the vif: without ifupdown it is a shell function that
# fails, with ifupdown an unconfigured interface is refused, so the vif stays up. Ours sets it
# down (SPEC section 5). Compared after offline: everything but the vif's up flag (and the
# reference's broadcast route, above); the reference's state is checked to be as described.
compare_offline() { # DEV
	local dev=$1
	ROUTE_SKIP=$BRD_SKIP compare routes_snapshot
	compare sysctl_snapshot
	compare store_snapshot
	local r o
	on ref
	r=$(links_snapshot | jq -c "if .ifname == \"$dev\" then del(.up) else . end")
	local ref_up=no
	link_exists "$dev" && link_is_up "$dev" && ref_up=yes
	on ours
	o=$(links_snapshot | jq -c "if .ifname == \"$dev\" then del(.up) else . end")
	assert_same "$r" "$o" "links after offline, up flag of $dev aside (< reference, > ours)"
	if link_exists "$dev"; then
		link_is_up "$dev" && fail "our $dev is still up after offline"
		if [[ $ref_up == yes ]]; then
			note "deliberate difference: the reference's offline leaves $dev up (its ifdown" \
				"does not act on a vif); ours sets it down"
		fi
	fi
}

# route_of DST: our route to DST as "dev src metric" (IPv4 main table).
route_of() {
	ip -n "$HOST" -j route show "$1" | jq -r '.[] | "\(.dev) \(.prefsrc // "-") \(.metric // 0)"'
}

# ---------------------------------------------------------------- scenarios

test_diff_one_address() {
	twin_setup -- ip=10.1.0.5
	both run_xl 1 0 online
	ROUTE_SKIP=$BRD_SKIP compare_all
	note_broadcast vif1.0
	on ours
	assert_eq "vif1.0 $HOST_IP 2" "$(route_of 10.1.0.5)" "our route to the guest"
	assert_eq "$HOST_IP/32" "$(link_addrs vif1.0 | grep -v ^fe80)" "our vif's address"
	assert_eq connected "$(xs_read "$(xs_backend 1 0)/hotplug-status")" "hotplug-status"
	both run_xl 1 0 offline
	compare_offline vif1.0
	on ours
	assert_eq "" "$(route_of 10.1.0.5)" "our route after offline"
}

test_diff_udev_style() {
	twin_setup -- ip=10.1.0.5
	both run_udev 1 0 online
	ROUTE_SKIP=$BRD_SKIP compare_all
	both run_udev 1 0 offline
	compare_offline vif1.0
}

test_diff_several_addresses() {
	twin_setup -- "ip=10.1.0.5 10.1.0.6 10.3.0.7"
	both run_xl 1 0 online
	ROUTE_SKIP=$BRD_SKIP compare_all
	on ours
	assert_eq "vif1.0 $HOST_IP 2" "$(route_of 10.3.0.7)" "our route to the third address"
	both run_xl 1 0 offline
	compare_offline vif1.0
}

test_diff_prefix() {
	twin_setup -- "ip=10.1.0.0/24 10.2.0.9"
	both run_xl 1 0 online
	ROUTE_SKIP=$BRD_SKIP compare_all
	on ours
	assert_eq "vif1.0 $HOST_IP 2" "$(route_of 10.1.0.0/24)" "our route to the prefix"
	both run_xl 1 0 offline
	compare_offline vif1.0
}

test_diff_no_ip() {
	twin_setup --
	both run_xl 1 0 online
	ROUTE_SKIP=$BRD_SKIP compare_all
	on ours
	assert_eq "$HOST_IP/32" "$(link_addrs vif1.0 | grep -v ^fe80)" "our vif's address"
	both run_xl 1 0 offline
	compare_offline vif1.0
}

# Deliberate difference (SPEC section 7): a second online of the reference fails on its own
# routes ("File exists") and reports hotplug-status error; ours is the same as one online.
test_diff_online_twice() {
	twin_setup -- "ip=10.1.0.5 10.1.0.6"
	both run_xl 1 0 online
	on ref
	run_xl "$REF_CMD" 1 0 online
	local ref_rc=$RC
	ref_log
	on ours
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "our second online: $OUT"
	assert_eq connected "$(xs_read "$(xs_backend 1 0)/hotplug-status")" "our hotplug-status"
	compare links_snapshot
	ROUTE_SKIP=$BRD_SKIP compare routes_snapshot
	compare sysctl_snapshot
	if [[ $ref_rc -ne 0 ]]; then
		note "deliberate difference: the reference's second online fails (exit $ref_rc," \
			"hotplug-status error) on the routes it added the first time; ours succeeds"
	else
		compare store_snapshot
	fi
}

test_diff_tap_add_remove() {
	twin_setup ifname=vif1.0-emu -- ip=10.1.0.5
	both run_xl 1 0 add type_if=tap
	ROUTE_SKIP=$BRD_SKIP compare_all
	on ours
	assert_eq "vif1.0-emu $HOST_IP 1" "$(route_of 10.1.0.5)" "our tap route (metric 1)"
	assert_fail xs_exists "$(xs_backend 1 0)/hotplug-status"
	both run_xl 1 0 remove type_if=tap
	compare_offline vif1.0-emu
}

test_diff_tap_vifname() {
	twin_setup ifname=vif1.0-emu -- ip=10.1.0.5 vifname=guest0
	both run_xl 1 0 add type_if=tap
	ROUTE_SKIP=$BRD_SKIP compare_all
	on ours
	assert_eq "guest0-emu $HOST_IP 1" "$(route_of 10.1.0.5)" "our route through guest0-emu"
	both run_xl 1 0 remove type_if=tap
	compare_offline guest0-emu
}

# online/offline do nothing for a tap, add/remove nothing for a vif.
test_diff_wrong_type_noop() {
	twin_setup ifname=vif1.0-emu -- ip=10.1.0.5
	both run_xl 1 0 online type_if=tap
	compare_all
	both run_xl 1 0 add
	compare_all
}

# ip from the xend vif-script line (an argument) and from xenstore: the store wins.
test_diff_ip_precedence() {
	twin_setup --
	both run_udev 1 0 online ip=10.9.9.9
	ROUTE_SKIP=$BRD_SKIP compare_all
	on ours
	assert_eq "vif1.0 $HOST_IP 2" "$(route_of 10.9.9.9)" "our route from the argument"
	both run_udev 1 0 offline ip=10.9.9.9
	local side
	for side in ref ours; do
		on "$side"
		xs_write "$(xs_backend 1 0)/ip" 10.1.0.5
	done
	both run_udev 1 0 online ip=10.9.9.9
	ROUTE_SKIP=$BRD_SKIP compare_all
	on ours
	assert_eq "vif1.0 $HOST_IP 2" "$(route_of 10.1.0.5)" "our route from xenstore"
	assert_eq "" "$(route_of 10.9.9.9)" "no route from the overridden argument"
}

# A vif taken offline and brought online again (the reference leaves it up in between).
test_diff_online_after_offline() {
	twin_setup -- ip=10.1.0.5
	both run_xl 1 0 online
	both run_xl 1 0 offline
	both run_xl 1 0 online
	ROUTE_SKIP=$BRD_SKIP compare_all
}

# libxl passes netdev in the environment, a xend vif-script line as an argument.
test_diff_netdev_env() {
	twin_setup -- ip=10.1.0.5
	RUN_ENV=(netdev=eth1)
	both run_xl 1 0 online
	ROUTE_SKIP=$BRD_SKIP compare_all
	on ours
	assert_eq "vif1.0 $HOST_IP1 2" "$(route_of 10.1.0.5)" "our route's source from eth1"
	both run_xl 1 0 offline
	RUN_ENV=()
	compare_offline vif1.0
}

test_diff_netdev_argument() {
	twin_setup -- ip=10.1.0.5
	both run_udev 1 0 online netdev=eth1
	ROUTE_SKIP=$BRD_SKIP compare_all
	on ours
	assert_eq "$HOST_IP1/32" "$(link_addrs vif1.0 | grep -v ^fe80)" "our vif's address from eth1"
	both run_udev 1 0 offline netdev=eth1
	compare_offline vif1.0
}

# A netdev without an IPv4 address: both refuse, and neither changes anything.
test_diff_netdev_without_address() {
	twin_setup -- ip=10.1.0.5
	local side
	for side in ref ours; do
		on "$side"
		inh ip link add eth2 address 02:00:00:00:02:10 type veth \
			peer name eth2p address 02:00:00:00:02:11 || fail "cannot add eth2 on $side"
		inh ip link set eth2 up
	done
	RUN_ENV=(netdev=eth2)
	both run_xl 1 0 online
	RUN_ENV=()
	compare_all
	on ours
	assert_eq error "$(xs_read "$(xs_backend 1 0)/hotplug-status")" "our hotplug-status"
	assert_contains "$(xs_read "$(xs_backend 1 0)/hotplug-error")" "eth2 has no IPv4 address" \
		"our hotplug-error"
}

test_diff_vifname() {
	twin_setup -- ip=10.1.0.5 vifname=guest0
	both run_xl 1 0 online
	ROUTE_SKIP=$BRD_SKIP compare_all
	on ours
	assert_eq "guest0 $HOST_IP 2" "$(route_of 10.1.0.5)" "our route through the renamed vif"
	assert_fail link_exists vif1.0
	both run_xl 1 0 offline
	compare_offline guest0
}

test_diff_vifname_taken() {
	twin_setup -- ip=10.1.0.5 vifname=guest0
	local side
	for side in ref ours; do
		on "$side"
		inh ip link add guest0 address 02:00:00:00:00:98 type veth \
			peer name guest0p address 02:00:00:00:00:99 || fail "cannot add guest0 on $side"
	done
	both run_xl 1 0 online
	compare_all
	on ours
	assert_contains "$(xs_read "$(xs_backend 1 0)/hotplug-error")" "already exists" \
		"our hotplug-error"
}

test_diff_offline_device_gone() {
	twin_setup -- ip=10.1.0.5
	both run_xl 1 0 online
	local side
	for side in ref ours; do
		on "$side"
		inh ip link del vif1.0
	done
	both run_xl 1 0 offline
	compare_all
}

# Deliberate difference: the reference adds every entry of ip with the IPv4 source of netdev,
# which the kernel refuses for an IPv6 destination; the reference then fails (hotplug-status
# error) with the IPv4 routes before it in place. Ours routes IPv6 entries without a source.
test_diff_ipv6_entry() {
	twin_setup -- "ip=10.1.0.5 2001:db8:5::/64"
	on ref
	run_xl "$REF_CMD" 1 0 online
	local ref_rc=$RC ref_status
	ref_log
	ref_status=$(xs_read "$(xs_backend 1 0)/hotplug-status" 2>/dev/null)
	on ours
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "our online with an IPv6 entry: $OUT"
	assert_eq "vif1.0 $HOST_IP 2" "$(route_of 10.1.0.5)" "our IPv4 route"
	assert_eq "vif1.0 2" "$(ip -n "$HOST" -j -6 route show 2001:db8:5::/64 |
		jq -r '.[] | "\(.dev) \(.metric)"')" "our IPv6 route"
	if [[ $ref_rc -ne 0 ]]; then
		note "deliberate difference: the reference fails on the IPv6 entry (exit $ref_rc," \
			"hotplug-status $ref_status): it gives the route an IPv4 source; ours routes it"
	else
		ROUTE_SKIP=$BRD_SKIP compare_all
	fi
}

# Deliberate difference (SPEC section 2): the reference ignores the backend's mtu node in routed
# mode; ours sets the vif's MTU and tells the guest through its frontend.
test_diff_mtu_from_xenstore() {
	twin_setup -- ip=10.1.0.5 mtu=1400
	SKIP_NODES="^/local/domain/1/device/vif/0/mtu = "
	both run_xl 1 0 online
	ROUTE_SKIP=$BRD_SKIP compare routes_snapshot
	compare sysctl_snapshot
	compare store_snapshot
	on ours
	assert_eq 1400 "$(link_mtu vif1.0)" "our vif's MTU"
	assert_eq 1400 "$(xs_read "$(xs_frontend 1 0)/mtu")" "our frontend mtu"
	on ref
	if [[ $(link_mtu vif1.0) == 1500 ]] && ! xs_exists "$(xs_frontend 1 0)/mtu"; then
		note "deliberate difference: the reference ignores the backend's mtu (the vif keeps" \
			"1500, the guest is not told); ours sets 1400 and writes the frontend's mtu"
	else
		fail "the reference now honours the mtu node: compare the links again"
	fi
}

# Deliberate difference (SPEC section 5): with netdev unset the reference takes eth0, whatever
# the default route; ours takes the device of the IPv4 default route.
test_diff_default_route_not_eth0() {
	twin_setup nodefault -- ip=10.1.0.5
	local side
	for side in ref ours; do
		on "$side"
		inh ip route add default via 198.51.100.1
	done
	on ref
	run_xl "$REF_CMD" 1 0 online
	ref_log
	assert_eq 0 "$RC" "the reference's online"
	assert_eq "vif1.0 $HOST_IP 2" "$(route_of 10.1.0.5)" "the reference's route (eth0)"
	on ours
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "our online: $OUT"
	assert_eq "vif1.0 $HOST_IP1 2" "$(route_of 10.1.0.5)" "our route (default-route device eth1)"
	note "deliberate difference: with no netdev the reference takes eth0's address; ours takes" \
		"the default-route device's (eth1 here)"
}

# Deliberate difference (SPEC section 5): with no netdev and no default route the reference
# still takes eth0; ours refuses with a clear error, before any change.
test_diff_no_default_route() {
	twin_setup nodefault -- ip=10.1.0.5
	on ref
	run_xl "$REF_CMD" 1 0 online
	local ref_rc=$RC
	ref_log
	on ours
	local before
	before=$(links_snapshot)
	run_xl vif-route 1 0 online
	assert_eq 1 "$RC" "our online without a default route"
	assert_contains "$(xs_read "$(xs_backend 1 0)/hotplug-error")" "no IPv4 default route" \
		"our hotplug-error"
	assert_same "$before" "$(links_snapshot)" "our links after the refusal"
	if [[ $ref_rc -eq 0 ]]; then
		note "deliberate difference: with no netdev and no default route the reference" \
			"takes eth0's address; ours asks for netdev="
	else
		compare_all
	fi
}

# Deliberate difference: an entry with host bits below its prefix (10.1.0.5/24) makes the
# reference fail (the kernel refuses the route); ours routes the prefix, 10.1.0.0/24.
test_diff_prefix_with_host_bits() {
	twin_setup -- ip=10.1.0.5/24
	on ref
	run_xl "$REF_CMD" 1 0 online
	local ref_rc=$RC
	ref_log
	on ours
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "our online: $OUT"
	assert_eq "vif1.0 $HOST_IP 2" "$(route_of 10.1.0.0/24)" "our route to the prefix"
	if [[ $ref_rc -ne 0 ]]; then
		note "deliberate difference: the reference fails (exit $ref_rc) on 10.1.0.5/24;" \
			"ours routes 10.1.0.0/24"
	else
		ROUTE_SKIP=$BRD_SKIP compare_all
	fi
}

# Deliberate difference: an address already on the vif (192.0.2.99/24 here) is replaced by the
# reference's ifconfig, which sets the device's first address; ours adds the /32 beside it
# and leaves what it did not put there.
test_diff_vif_with_address() {
	twin_setup -- ip=10.1.0.5
	local side
	for side in ref ours; do
		on "$side"
		inh ip addr add 192.0.2.99/24 dev vif1.0
	done
	both run_xl 1 0 online
	ROUTE_SKIP="$BRD_SKIP or .prefsrc == \"192.0.2.99\" or .dst == \"192.0.2.99\"" \
		compare routes_snapshot
	compare sysctl_snapshot
	compare store_snapshot
	on ours
	assert_same "$(printf '%s\n' 192.0.2.99/24 "$HOST_IP/32")" \
		"$(link_addrs vif1.0 | grep -v ^fe80)" "our vif's addresses"
	assert_eq "vif1.0 $HOST_IP 2" "$(route_of 10.1.0.5)" "our route to the guest"
	on ref
	if [[ $(link_addrs vif1.0 | grep -v ^fe80) == "$HOST_IP/32" ]]; then
		note "deliberate difference: the reference's ifconfig replaced the vif's address" \
			"192.0.2.99/24 with the /32; ours keeps it beside the /32"
	else
		compare links_snapshot
	fi
}

# Without XENBUS_PATH both refuse, and neither changes anything.
test_diff_missing_xenbus_path() {
	twin_setup -- ip=10.1.0.5
	on ref
	run_env "$REF_CMD" vif=vif1.0 -- online
	local ref_rc=$RC
	ref_log
	on ours
	run_env vif-route vif=vif1.0 -- online
	assert_eq 1 "$RC" "our exit"
	assert_contains "$OUT" "XENBUS_PATH" "our message"
	assert_ne 0 "$ref_rc" "the reference's exit"
	compare_all
}

run_tests "$@"
