#!/bin/bash
# shellcheck disable=SC2034 # RUN_ENV is read by lib.sh's run_* helpers
# Integration tests for vif-route: a host whose eth0 is a veth into a LAN
# namespace, network-route started, guests in namespaces behind veth vifs,
# the program run as udev (xend era) and xl run it. Real packets, real
# routes, sysctls, nftables rules and xenstore nodes. SPEC.md sections 1, 2,
# 5, 6 and 7 are the contract checked here; vif-route-diff.sh compares the
# program with Debian's script.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../pkt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../pkt-lib.sh"
# shellcheck source=SCRIPTDIR/../fault-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault-lib.sh"

BE=/local/domain/0/backend/vif/1/0
FE=/local/domain/1/device/vif/0
NIC_MAC=02:00:00:00:0e:10
ROUTER_IP=192.0.2.1
HOST_IP=192.0.2.2
GUEST_IP=192.0.2.10
# A second NIC, eth1, on another network (lan_setup eth1).
HOST_IP1=198.51.100.2
LAN=
G=

# ---------------------------------------------------------------- setup

# lan_setup [eth1]: the LAN namespace $LAN (router 192.0.2.1/24 and
# 2001:db8::1/64 on lan0) and the host's eth0, a veth into it with
# 192.0.2.2/24 and 2001:db8::2/64 and default routes through the router.
# With eth1: a second veth into the LAN (lan1, 198.51.100.1/24), the host's
# eth1 with 198.51.100.2/24, no route through it but the connected one.
# Proxy ARP answers at once (no random delay), so one ping is enough.
lan_setup() {
	ns_new LAN
	ip -n "$HOST" link add name eth0 address $NIC_MAC type veth peer name lan0 netns "$LAN" ||
		fail "cannot create eth0"
	ip -n "$LAN" -batch - <<-EOF || fail "cannot configure the LAN"
		link set lan0 up
		addr add $ROUTER_IP/24 dev lan0
		addr add 2001:db8::1/64 dev lan0 nodad
	EOF
	ip -n "$HOST" -batch - <<-EOF || fail "cannot configure eth0"
		link set eth0 up
		addr add $HOST_IP/24 dev eth0
		addr add 2001:db8::2/64 dev eth0 nodad
		route add default via $ROUTER_IP
		route add default via 2001:db8::1
	EOF
	no_proxy_delay eth0
	if [[ ${1:-} == eth1 ]]; then
		ip -n "$HOST" link add name eth1 type veth peer name lan1 netns "$LAN" ||
			fail "cannot create eth1"
		ip -n "$LAN" addr add 198.51.100.1/24 dev lan1
		ip -n "$LAN" link set lan1 up
		ip -n "$HOST" addr add $HOST_IP1/24 dev eth1
		ip -n "$HOST" link set eth1 up
	fi
}

# A fresh namespace has no neigh/default to set once for all links.
no_proxy_delay() {
	inh sysctl -qw "net.ipv4.neigh.${1//./\/}.proxy_delay=0" || fail "proxy_delay of $1"
}

# guest_add DOMID DEVID [key=value...]: a vif (veth) with a guest namespace
# ($G) behind it, and the store seeded for it (extras to the backend).
guest_add() {
	local d=$1 i=$2
	shift 2
	vif_add "$d" "$i" || fail "cannot create vif$d.$i"
	no_proxy_delay "vif$d.$i"
	G=$GUEST
	xs_vif_seed "$d" "$i" "$@" || fail "cannot seed the store for vif$d.$i"
}

# guest_ip NS ADDR/LEN: the guest configures its own address.
guest_ip() {
	ip -n "$1" addr add "$2" dev eth0 || fail "cannot give the guest $2"
}

nr_start() {
	run_env network-route -- start netdev=eth0
	assert_eq 0 "$RC" "network-route start ($OUT)"
}

# Everything the program said: its output and the hotplug log.
msgs() {
	printf '%s\n' "$OUT"
	cat "$XEN_LOG_DIR/xen-hotplug.log" 2>/dev/null
}

# ---------------------------------------------------------------- state

# Everything online may change on the host, canonical and sorted: links
# (name, MAC, MTU, up, addresses but link-local ones), routes of every table
# in both families (but the kernel's IPv6 link-local and multicast ones),
# proxy_arp of every link, and the project's inet table.
host_state() {
	{
		ip -n "$HOST" -j -d addr show | jq -S -c '.[] | {ifname, address, mtu,
			up: ((.flags // []) | index("UP") != null),
			addrs: [.addr_info[]? | select(.local | startswith("fe80") | not)
				| "\(.local)/\(.prefixlen)"]}'
		ip -n "$HOST" -4 -j route show table all | jq -S -c '.[]'
		ip -n "$HOST" -j -6 route show table all | jq -S -c '.[] |
			select((.dst | startswith("fe80") or startswith("ff00")) | not)'
		# The glob must expand inside the host namespace.
		inh sh -c 'grep -H . /proc/sys/net/ipv4/conf/*/proxy_arp'
		ip -n "$HOST" -6 neigh show proxy | sed 's/^/proxy /'
	} | sort
	inh nft list table inet xen_hotplug 2>/dev/null
}

# Routes through DEV in the main table, one "dst src metric" a line (src "-"
# when there is none), IPv4 then IPv6.
routes_via() {
	{
		ip -n "$HOST" -j route show dev "$1"
		ip -n "$HOST" -j -6 route show dev "$1"
	} | jq -r '.[] | select(.protocol != "kernel") |
		"\(.dst) \(.prefsrc // "-") \(.metric // 0)"'
}

proxy_arp() { inh cat "/proc/sys/net/ipv4/conf/$1/proxy_arp"; }

nft_h() { ip netns exec "$HOST" nft "$@"; }
# Lines sorted as fw_elems sorts them: an expected list of elements.
lines() { printf '%s\n' "$@" | sort; }
# The reverse-rule claims of card BASE (a vif's base name, the -emu twin's
# too), as "claims4|claims6 PREFIX : BASE": each prefix that the owners map
# gives to BASE and that the claims set (what the rule looks up) holds too.
claims_of() { # BASE
	fw_elems inet | awk -v b="$1" '
		$1 ~ /^claims[46]$/ && NF == 2 { claimed[substr($1, 7) " " $2] = 1 }
		$1 ~ /^owners[46]$/ && $NF == b { owned[substr($1, 7) " " $2] = 1 }
		END { for (k in owned) if (k in claimed) { split(k, f, " "); print "claims" f[1] " " f[2] " : " b } }' |
		sort
}

# After a good online of DEV with the ip list 192.0.2.10 2001:db8:1::/64
# (and the IPv6 address ADDR6): the host's address as /32, up, proxy ARP, a
# route per entry with METRIC, a proxy NDP entry on eth0 for ADDR6 only.
assert_online_state() { # DEV METRIC [HOST_ADDR [ADDR6]]
	local dev=$1 metric=$2 addr=${3:-$HOST_IP} a6=${4:-}
	local -a routes=("$GUEST_IP $addr $metric" "2001:db8:1::/64 - $metric")
	local -a elems=("vifs $dev" "restricted4 $dev" "restricted6 $dev"
		"addr4 $dev . $GUEST_IP" "net6 $dev . 2001:db8:1::/64")
	local -a claims=("claims4 $GUEST_IP : ${dev%-emu}" "claims6 2001:db8:1::/64 : ${dev%-emu}")
	if [[ -n $a6 ]]; then
		routes+=("$a6 - $metric")
		elems+=("addr6 $dev . $a6")
		claims+=("claims6 $a6 : ${dev%-emu}")
	fi
	assert_eq "$addr/32" "$(link_addrs "$dev" | grep -v '^fe80')" "addresses of $dev"
	assert_ok link_is_up "$dev"
	assert_eq 1 "$(proxy_arp "$dev")" "proxy_arp of $dev"
	assert_same "$(lines "${routes[@]}")" "$(routes_via "$dev" | sort)" "routes through $dev"
	assert_ok fw_has_rules inet "$dev"
	# Its sources: the listed addresses and prefix, restricted in both families.
	assert_same "$(lines "${elems[@]}")" \
		"$(fw_elems_of inet "$dev" | grep -v '^owners')" "the elements of $dev"
	# The reverse rule belongs to the guest's card, shared by the vif and its -emu twin.
	assert_same "$(lines "${claims[@]}")" "$(claims_of "${dev%-emu}")" \
		"the reverse-rule claims of ${dev%-emu}"
	assert_eq "${a6:+$a6 eth0}" "$(proxies)" "proxy NDP entries"
}

# ---------------------------------------------------------------- packets

# lprobe SENDER_NS RECEIVER_NS WANT FRAME...: probe (pkt-lib.sh) between a guest
# (eth0) and the LAN (lan0).
lprobe() {
	local sif=eth0 rif=eth0
	[[ $1 == "$LAN" ]] && sif=lan0
	[[ $2 == "$LAN" ]] && rif=lan0
	probe "$1" "$sif" "$2" "$rif" "${@:3}"
}

# ---------------------------------------------------------------- packets end to end

# The guest reaches the LAN through the host, and the LAN reaches the guest:
# the host answers the LAN's ARP for the guest's address with its own MAC.
test_guest_and_lan_reach_each_other() {
	lan_setup
	nr_start
	guest_add 1 0 ip=$GUEST_IP
	guest_ip "$G" $GUEST_IP/24
	assert_fail ip netns exec "$G" ping -c 1 -W 1 $ROUTER_IP
	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	assert_ok ip netns exec "$G" ping -c 1 -W 2 $ROUTER_IP
	assert_ok ip netns exec "$LAN" ping -c 1 -W 2 $GUEST_IP
	assert_eq $NIC_MAC "$(ip -n "$LAN" -j neigh show $GUEST_IP dev lan0 |
		jq -r '.[0].lladdr')" "the MAC the LAN resolves the guest's address to"
	# The guest sees the host's vif as its neighbour for the LAN's addresses.
	assert_eq "$(link_mac vif1.0)" "$(ip -n "$G" -j neigh show $ROUTER_IP dev eth0 |
		jq -r '.[0].lladdr')" "the MAC the guest resolves the router to"
	run_udev vif-route 1 0 offline
	assert_eq 0 "$RC" "offline ($OUT)"
	assert_fail ip netns exec "$LAN" ping -c 1 -W 1 $GUEST_IP
}

# The proxy NDP entries of the host, one "ADDR DEV" a line, sorted.
proxies() {
	ip -n "$HOST" -j -6 neigh show proxy | jq -r '.[] | "\(.dst) \(.dev)"' | sort
}

# The guest's IPv6 side: its address as /128 (nothing else is on its link
# but the host) and a default route through the host's link-local address
# on the vif, as the IPv4 guest has the host as its gateway.
guest_ip6() { # NS ADDR
	local ll
	ll=$(ip -n "$HOST" -j -6 addr show dev vif1.0 scope link | jq -r '.[0].addr_info[0].local')
	[[ $ll == fe80:* ]] || fail "no link-local address on vif1.0 ($ll)"
	ip -n "$1" addr add "$2/128" dev eth0 nodad || fail "cannot give the guest $2"
	ip -n "$1" -6 route add default via "$ll" dev eth0 || fail "guest's IPv6 default route"
}

# IPv6 end to end: the LAN peer, on-link in the guest's /64, reaches the
# guest through the host's proxy NDP entry on eth0, and the guest reaches
# the LAN through the host; offline takes the entry away, and the LAN no
# longer reaches the guest. A prefix entry gets no proxy entry.
test_ipv6_guest_and_lan_reach_each_other() {
	lan_setup
	nr_start
	local before
	before=$(proxies)
	guest_add 1 0 "ip=$GUEST_IP 2001:db8::10 2001:db8:1::/64"
	guest_ip "$G" $GUEST_IP/24
	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	assert_not_contains "$(msgs)" "proxy_ndp" "warnings after network-route start"
	guest_ip6 "$G" 2001:db8::10
	assert_same "$(lines "$before" "2001:db8::10 eth0" | sed '/^$/d')" "$(proxies)" \
		"proxy entries after online"
	assert_ok ip netns exec "$LAN" ping -6 -c 1 -W 3 2001:db8::10
	assert_ok ip netns exec "$G" ping -6 -c 1 -W 3 2001:db8::1
	assert_eq "$(link_mac eth0)" "$(ip -n "$LAN" -j -6 neigh show 2001:db8::10 dev lan0 |
		jq -r '.[0].lladdr')" "the MAC the LAN resolves the guest's IPv6 address to"
	# A second online changes nothing.
	local first
	first=$(host_state)
	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "second online ($OUT)"
	assert_same "$first" "$(host_state)" "host state after the second online"
	run_udev vif-route 1 0 offline
	assert_eq 0 "$RC" "offline ($OUT)"
	assert_same "$before" "$(proxies)" "proxy entries after offline"
	inh ip -6 neigh flush dev eth0
	ip -n "$LAN" -6 neigh flush dev lan0
	assert_fail ip netns exec "$LAN" ping -6 -c 1 -W 1 2001:db8::10
}

# Without network-route start, online still succeeds and says what is
# missing for the LAN to reach the guest's IPv6 address.
test_ipv6_warns_without_proxy_ndp() {
	lan_setup
	guest_add 1 0 "ip=$GUEST_IP 2001:db8::10"
	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	assert_contains "$(msgs)" "does not forward IPv6" "warning"
	assert_contains "$(msgs)" "network-route start netdev=eth0" "warning's mend"
	assert_eq "2001:db8::10 eth0" "$(proxies)" "proxy entries"
	run_udev vif-route 1 0 offline
	assert_eq "" "$(proxies)" "proxy entries after offline"
}

# offline finds the entries wherever online put them: here netdev=eth1 at
# online, and no netdev (the default route's eth0) at offline; and with the
# vif gone.
test_ipv6_offline_finds_entries() {
	lan_setup eth1
	guest_add 1 0 "ip=$GUEST_IP 2001:db8::10 2001:db8::11"
	run_udev vif-route 1 0 online netdev=eth1
	assert_eq 0 "$RC" "online ($OUT)"
	assert_same "$(lines "2001:db8::10 eth1" "2001:db8::11 eth1")" "$(proxies)" "after online"
	inh ip link del vif1.0
	run_udev vif-route 1 0 offline
	assert_eq 0 "$RC" "offline ($OUT)"
	assert_eq "" "$(proxies)" "proxy entries after offline"
	run_udev vif-route 1 0 offline
	assert_eq 0 "$RC" "second offline ($OUT)"
}

# forged_probes KIND FORGED GUEST ROUTER [COMMAND...]: online with
# firewall=none (then COMMAND, the guest's set-up that needs the vif up),
# the guest sends a forged and a legitimate source to the LAN, the LAN one
# claiming the guest's address and a reply: all arrive (the control: nothing
# else drops them). Online again with the default nft backend: only the
# legitimate ones arrive, and the guest still resolves its neighbours (ARP,
# or neighbour discovery from its own and link-local addresses) through the
# rules.
forged_probes() {
	local kind=$1 forged=$2 guest=$3 router=$4 vmac
	shift 4
	run_udev vif-route 1 0 online firewall=none
	assert_eq 0 "$RC" "online, firewall=none ($OUT)"
	assert_eq "" "$(nft_h list tables)" "nft tables with firewall=none"
	"${@:-:}"
	# Neighbours resolved, so no frame waits for ARP or neighbour discovery.
	assert_ok ip netns exec "$G" ping -c 1 -W 3 "$router"
	vmac=$(link_mac vif1.0)
	local -a to_lan=("forged,$kind,src=$forged,dst=$router,dmac=$vmac"
		"legit,$kind,src=$guest,dst=$router,dmac=$vmac")
	local -a to_guest=("spoof,$kind,src=$guest,dst=$guest,dmac=$NIC_MAC"
		"reply,$kind,src=$router,dst=$guest,dmac=$NIC_MAC")
	lprobe "$G" "$LAN" legit "${to_lan[@]}"
	assert_arrived forged legit
	lprobe "$LAN" "$G" reply "${to_guest[@]}"
	assert_arrived spoof reply

	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "online, nft ($OUT)"
	inh ip neigh flush dev vif1.0
	ip -n "$G" neigh flush dev eth0
	assert_ok ip netns exec "$G" ping -c 1 -W 3 "$router"
	lprobe "$G" "$LAN" legit "${to_lan[@]}"
	assert_arrived legit
	assert_dropped forged
	lprobe "$LAN" "$G" reply "${to_guest[@]}"
	assert_arrived reply
	assert_dropped spoof
}

# Forged sources are dropped, the guest's own traffic passes; the reverse
# rule drops what claims the guest's address from the LAN side.
test_firewall_forged_sources() {
	local s
	for s in all default; do
		inh sysctl -qw "net.ipv4.conf.$s.rp_filter=0" || fail "rp_filter"
	done
	lan_setup
	nr_start
	guest_add 1 0 ip=$GUEST_IP
	guest_ip "$G" $GUEST_IP/24
	forged_probes ipv4 192.0.2.99 $GUEST_IP $ROUTER_IP
}

# The same for IPv6.
test_ipv6_forged_sources() {
	lan_setup
	nr_start
	guest_add 1 0 "ip=$GUEST_IP 2001:db8::10"
	forged_probes ipv6 2001:db8::99 2001:db8::10 2001:db8::1 guest_ip6 "$G" 2001:db8::10
}

# ---------------------------------------------------------------- state after online

test_online_state_udev() {
	lan_setup
	guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64"
	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	assert_online_state vif1.0 2
	assert_eq connected "$(xs_read $BE/hotplug-status)" "hotplug-status"
}

test_online_state_xl() {
	lan_setup
	guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64"
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	assert_online_state vif1.0 2
	assert_eq connected "$(xs_read $BE/hotplug-status)" "hotplug-status"
}

# The emulated NIC of an HVM guest: add/remove with type_if=tap, metric 1.
test_tap_add_remove() {
	lan_setup
	vif_add 1 0 vif1.0-emu
	xs_vif_seed 1 0 "ip=$GUEST_IP 2001:db8:1::/64"
	run_xl vif-route 1 0 add type_if=tap
	assert_eq 0 "$RC" "add ($OUT)"
	assert_online_state vif1.0-emu 1
	# libxl waits for hotplug-status only for the vif.
	assert_fail xs_exists $BE/hotplug-status
	run_xl vif-route 1 0 remove type_if=tap
	assert_eq 0 "$RC" "remove ($OUT)"
	assert_eq "" "$(routes_via vif1.0-emu)" "routes after remove"
	assert_fail link_is_up vif1.0-emu
	assert_fail fw_has_rules inet vif1.0-emu
	# It was the only device of the card: nothing of it is left, not even the table.
	assert_eq "" "$(fw_elems_of inet vif1.0-emu)$(claims_of vif1.0)" "the card's elements"
	assert_eq "" "$(nft_h list tables)" "nft tables after the remove"
	# online/offline do nothing for a tap, add/remove nothing for a vif.
	local before
	before=$(host_state)
	run_xl vif-route 1 0 online type_if=tap
	assert_eq 0 "$RC" "online type_if=tap"
	run_xl vif-route 1 0 add
	assert_eq 0 "$RC" "add type_if=vif"
	assert_same "$before" "$(host_state)" "host state after the no-op commands"
}

# An HVM guest has both: netback's vif and qemu's tap, with the same ip
# list from the same backend directory. Both must work at once (the tap's
# route wins, metric 1), and each must go without taking the other's rules.
test_tap_and_vif_together() {
	lan_setup
	guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64"
	vif_add 1 0 vif1.0-emu
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "online of the vif ($OUT)"
	run_xl vif-route 1 0 add type_if=tap
	assert_eq 0 "$RC" "add of the tap ($OUT)"
	assert_online_state vif1.0 2
	assert_online_state vif1.0-emu 1
	# One reverse rule for the card: what claims the guest's address may come in
	# through either device, and through nothing else.
	# The card's claim, and the sources the reverse rule lets through: from
	# either device, and from nothing else.
	local card
	card=$(lines "addr4 vif1.0 . $GUEST_IP" "addr4 vif1.0-emu . $GUEST_IP" \
		"claims4 $GUEST_IP" "owners4 $GUEST_IP : vif1.0")
	assert_same "$card" "$(fw_elems inet | grep -F "$GUEST_IP")" "reverse rule"
	run_xl vif-route 1 0 remove type_if=tap
	assert_eq 0 "$RC" "remove of the tap ($OUT)"
	assert_online_state vif1.0 2
	assert_fail fw_has_rules inet vif1.0-emu
	# The card's shared entries stay while the vif has rules.
	assert_same "$card" "$(fw_elems inet | grep -F "$GUEST_IP")" \
		"the vif's addresses after the tap's removal"
	run_xl vif-route 1 0 offline
	assert_eq 0 "$RC" "offline of the vif ($OUT)"
	assert_eq "" "$(claims_of vif1.0)" "claims after both are gone"
	assert_eq "" "$(nft_h list tables)" "nft tables after both are gone"
}

# The proxy NDP entry of an HVM guest's card is the vif's and the tap's: it
# stays while the other one is up, whichever goes first, and goes with the
# second.
test_tap_and_vif_share_proxy_entries() {
	lan_setup
	guest_add 1 0 "ip=$GUEST_IP 2001:db8::10"
	vif_add 1 0 vif1.0-emu
	local first
	for first in vif tap; do
		run_xl vif-route 1 0 online
		assert_eq 0 "$RC" "online of the vif ($OUT)"
		run_xl vif-route 1 0 add type_if=tap
		assert_eq 0 "$RC" "add of the tap ($OUT)"
		assert_eq "2001:db8::10 eth0" "$(proxies)" "one proxy entry for the card"
		if [[ $first == vif ]]; then
			run_xl vif-route 1 0 offline
		else
			run_xl vif-route 1 0 remove type_if=tap
		fi
		assert_eq 0 "$RC" "the $first goes first ($OUT)"
		assert_eq "2001:db8::10 eth0" "$(proxies)" "proxy entry while the other is up"
		if [[ $first == vif ]]; then
			run_xl vif-route 1 0 remove type_if=tap
		else
			run_xl vif-route 1 0 offline
		fi
		assert_eq 0 "$RC" "the other goes ($OUT)"
		assert_eq "" "$(proxies)" "proxy entries after both are gone"
	done
}

# Two guests whose lists overlap: the second is refused with words that say
# so, before any change, and the first keeps its rules.
test_overlapping_guests() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "online of the first guest ($OUT)"
	guest_add 2 0 "ip=192.0.2.8/29"
	local before
	before=$(host_state)
	run_udev vif-route 2 0 online
	assert_ne 0 "$RC" "online of the overlapping guest"
	assert_contains "$(msgs)" "must not overlap" "message"
	assert_eq error "$(xs_read /local/domain/0/backend/vif/2/0/hotplug-status)" "hotplug-status"
	assert_same "$before" "$(host_state)" "host state"
	assert_eq "claims4 $GUEST_IP : vif1.0" "$(claims_of vif1.0)" "the first guest's claim"
	assert_ok fw_has_rules inet vif1.0
	assert_fail fw_has_rules inet vif2.0
}

# xenstore mtu: set on the vif and written to the guest's frontend.
test_mtu() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP mtu=1400
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	assert_eq 1400 "$(link_mtu vif1.0)" "MTU of vif1.0"
	assert_eq 1400 "$(xs_read $FE/mtu)" "frontend mtu"
}

# A guest without an ip list: the vif is set up, no route, no restriction.
test_no_ip_list() {
	lan_setup
	guest_add 1 0
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	assert_eq "$HOST_IP/32" "$(link_addrs vif1.0 | grep -v '^fe80')" "addresses of vif1.0"
	assert_eq "" "$(routes_via vif1.0)" "routes through vif1.0"
	# Rules, but no restriction and no claim: its only element is in vifs.
	assert_eq "vifs vif1.0" "$(fw_elems inet)" "elements of the inet table"
}

# ---------------------------------------------------------------- netdev

test_netdev_from_argument() {
	lan_setup eth1
	guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64"
	run_udev vif-route 1 0 online netdev=eth1
	assert_eq 0 "$RC" "online ($OUT)"
	assert_online_state vif1.0 2 $HOST_IP1
}

# Environment < argument (SPEC section 1).
test_netdev_from_environment() {
	lan_setup eth1
	guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64"
	RUN_ENV=(netdev=eth1)
	run_udev vif-route 1 0 online
	RUN_ENV=()
	assert_eq 0 "$RC" "online ($OUT)"
	assert_online_state vif1.0 2 $HOST_IP1
	guest_add 2 0 ip=192.0.2.20
	RUN_ENV=(netdev=eth1)
	run_udev vif-route 2 0 online netdev=eth0
	RUN_ENV=()
	assert_eq 0 "$RC" "online ($OUT)"
	assert_eq "192.0.2.20 $HOST_IP 2" "$(routes_via vif2.0)" "route of vif2.0 (argument wins)"
}

# libxl passes netdev= empty: the device of the default route, which here
# is eth1, not eth0 (the scripts' fixed default).
test_netdev_empty_means_default_route() {
	lan_setup eth1
	inh ip route replace default via 198.51.100.1 dev eth1
	guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64"
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	assert_online_state vif1.0 2 $HOST_IP1
}

# The default route is found by the kernel's lookup of 255.255.255.254: the main table's
# default with the lowest metric. A route that covers that address (class E) or a policy rule
# that sends it to another table must not mislead it: both point at eth0 here, the main
# table's best default at eth1.
test_netdev_default_route_lowest_metric() {
	lan_setup eth1
	inh ip route del default via 192.0.2.1 dev eth0
	inh ip route add default via 192.0.2.1 dev eth0 metric 10
	inh ip route add default via 198.51.100.1 dev eth1 metric 5
	guest_add 1 0 "ip=$GUEST_IP"
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	assert_eq "$HOST_IP1/32" "$(link_addrs vif1.0 | grep -v '^fe80')" "the lowest metric's device"
	run_xl vif-route 1 0 offline
	inh ip route add 240.0.0.0/4 dev eth0
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "online with a class E route ($OUT)"
	assert_eq "$HOST_IP1/32" "$(link_addrs vif1.0 | grep -v '^fe80')" "despite a class E route"
	run_xl vif-route 1 0 offline
	inh ip route del 240.0.0.0/4 dev eth0
	inh ip rule add to 255.255.255.254 lookup 100
	inh ip route add default via 192.0.2.1 dev eth0 table 100
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "online with a policy rule ($OUT)"
	assert_eq "$HOST_IP1/32" "$(link_addrs vif1.0 | grep -v '^fe80')" "despite a policy rule"
}

# netdev refusals: before any change, naming the device, in xenstore.
refuse_netdev() { # WORD... (the call is in $CALL)
	local before
	before=$(host_state)
	"${CALL[@]}"
	assert_vif_refused $BE "$before" "$@"
	assert_eq 1 "$RC" "exit status"
}

test_netdev_without_ipv4() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	inh ip link add eth2 type veth peer name eth2p
	inh ip link set eth2 up
	CALL=(run_udev vif-route 1 0 online netdev=eth2)
	refuse_netdev eth2 "no IPv4 address"
}

test_netdev_missing() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	CALL=(run_udev vif-route 1 0 online netdev=eth9)
	refuse_netdev eth9 "does not exist"
}

test_no_default_route() {
	lan_setup
	inh ip route del default
	guest_add 1 0 ip=$GUEST_IP
	CALL=(run_xl vif-route 1 0 online)
	refuse_netdev "default route" netdev=
}

# ---------------------------------------------------------------- offline

test_offline_removes_routes_and_rules() {
	lan_setup
	guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64"
	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	run_udev vif-route 1 0 offline
	assert_eq 0 "$RC" "offline ($OUT)"
	assert_fail link_is_up vif1.0
	assert_eq "" "$(routes_via vif1.0)" "routes after offline"
	assert_fail fw_has_rules inet vif1.0
	assert_eq "" "$(claims_of vif1.0)" "claims after offline"
	# The last vif gone: nothing of the owned table is left behind.
	assert_eq "" "$(nft_h list ruleset)" "ruleset after offline"
	# Twice is fine.
	run_udev vif-route 1 0 offline
	assert_eq 0 "$RC" "second offline ($OUT)"
}

# netback removes the device around offline: the rules still go, exit 0.
test_offline_device_gone() {
	lan_setup
	guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64"
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	inh ip link del vif1.0
	run_xl vif-route 1 0 offline
	assert_eq 0 "$RC" "offline of a vanished device ($OUT)"
	assert_fail fw_has_rules inet vif1.0
	assert_eq "" "$(claims_of vif1.0)" "claims after offline"
	assert_eq "" "$(nft_h list ruleset)" "ruleset after offline"
	xs_vif_seed 2 0 ip=192.0.2.20
	run_xl vif-route 2 0 offline
	assert_eq 0 "$RC" "offline of a device that never existed ($OUT)"
}

test_online_twice() {
	lan_setup
	guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64" mtu=1400
	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "first online ($OUT)"
	local first
	first=$(host_state)
	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "second online ($OUT)"
	assert_same "$first" "$(host_state)" "host state after the second online"
	assert_eq connected "$(xs_read $BE/hotplug-status)" "hotplug-status"
}

# vifname: the device is renamed at online and found by that name after.
test_vifname_rename() {
	lan_setup
	guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64" vifname=guest0
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	assert_fail link_exists vif1.0
	assert_online_state guest0 2
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "second online ($OUT)"
	assert_online_state guest0 2
	run_xl vif-route 1 0 offline
	assert_eq 0 "$RC" "offline ($OUT)"
	assert_fail link_is_up guest0
	assert_eq "" "$(routes_via guest0)" "routes after offline"
	assert_fail fw_has_rules inet guest0
	assert_eq "" "$(nft_h list ruleset)" "ruleset after offline"
}

# A vifname another link has already: refused, nothing changed.
test_vifname_taken() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP vifname=guest0
	inh ip link add guest0 type veth peer name guest0p
	local before
	before=$(host_state)
	run_xl vif-route 1 0 online
	assert_vif_refused $BE "$before" guest0 vifname
}

# A guest whose online was refused because its vifname is another guest's:
# its offline (the toolstack's clean-up) must leave that other guest alone.
test_vifname_taken_offline_spares_the_other() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP vifname=guest0
	run_xl vif-route 1 0 online
	assert_eq 0 "$RC" "online of the first guest ($OUT)"
	guest_add 2 0 ip=192.0.2.20 vifname=guest0
	run_xl vif-route 2 0 online
	assert_ne 0 "$RC" "online of the second guest with the same vifname"
	local before
	before=$(host_state)
	run_xl vif-route 2 0 offline
	assert_eq 0 "$RC" "offline of the second guest ($OUT)"
	assert_same "$before" "$(host_state)" "the first guest's device, routes and rules"
	assert_ok link_is_up guest0
	assert_eq "$GUEST_IP $HOST_IP 2" "$(routes_via guest0)" "the first guest's route"
	assert_ok fw_has_rules inet guest0
	assert_eq "claims4 $GUEST_IP : guest0" "$(claims_of guest0)" "the first guest's claim"
}

# A guest whose list changed to take another guest's address: its second
# online is refused and the other keeps its claim; its offline, too, takes
# away only its own.
test_changed_list_cannot_take_another_guests_address() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "online of the first guest ($OUT)"
	guest_add 2 0 ip=192.0.2.20
	run_udev vif-route 2 0 online
	assert_eq 0 "$RC" "online of the second guest ($OUT)"
	xs_write /local/domain/0/backend/vif/2/0/ip "192.0.2.20 $GUEST_IP"
	run_udev vif-route 2 0 online
	assert_ne 0 "$RC" "second online with a list that overlaps the first guest's"
	assert_contains "$(msgs)" "already claimed by another guest's vif" "message"
	assert_same "$(lines "claims4 $GUEST_IP : vif1.0" "claims4 192.0.2.20 : vif2.0")" \
		"$(claims_of vif1.0; claims_of vif2.0)" "the first guest's claim and the second's own"
	run_udev vif-route 2 0 offline
	assert_eq 0 "$RC" "offline of the second guest ($OUT)"
	assert_eq "claims4 $GUEST_IP" "$(fw_elems inet | grep '^claims4 ')" \
		"the claims after: the first guest's, none of the second's"
	assert_eq "claims4 $GUEST_IP : vif1.0" "$(claims_of vif1.0)" "the first guest's claim after"
	assert_eq "" "$(fw_elems_of inet vif2.0)" "the second guest's elements after its offline"
	assert_ok fw_has_rules inet vif1.0
}

# Without the firewall to catch an overlap, the route itself must: a route to
# the same address through another guest's vif is not this guest's.
test_route_through_another_vif_refused() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	run_udev vif-route 1 0 online firewall=none
	assert_eq 0 "$RC" "online of the first guest ($OUT)"
	guest_add 2 0 ip=$GUEST_IP
	run_udev vif-route 2 0 online firewall=none
	assert_ne 0 "$RC" "online of a second guest with the same address"
	assert_contains "$(msgs)" "another interface" "message"
	assert_eq error "$(xs_read /local/domain/0/backend/vif/2/0/hotplug-status)" "hotplug-status"
	assert_eq "" "$(routes_via vif2.0)" "routes through vif2.0"
	assert_contains "$(routes_via vif1.0)" "$GUEST_IP" "the first guest's route"
}

# udev starts many hotplug programs at once when guests boot.
test_concurrent_onlines() {
	lan_setup
	local i
	for i in 1 2 3 4; do
		guest_add "$i" 0 "ip=192.0.2.$((10 + i)) 2001:db8:$i::/64"
	done
	for i in 1 2 3 4; do
		(
			run_udev vif-route "$i" 0 online
			echo "$RC $OUT" >"$SB/rc.$i"
		) &
	done
	wait
	for i in 1 2 3 4; do
		assert_eq 0 "$(cut -d' ' -f1 "$SB/rc.$i")" "exit of vif$i.0: $(cat "$SB/rc.$i")"
		assert_same "192.0.2.$((10 + i)) $HOST_IP 2
2001:db8:$i::/64 - 2" "$(routes_via "vif$i.0")" "routes through vif$i.0"
		assert_ok fw_has_rules inet "vif$i.0"
		assert_same "$(lines "claims4 192.0.2.$((10 + i)) : vif$i.0" \
			"claims6 2001:db8:$i::/64 : vif$i.0")" "$(claims_of "vif$i.0")" \
			"the reverse-rule claims of vif$i.0"
		assert_eq connected "$(xs_read "/local/domain/0/backend/vif/$i/0/hotplug-status")" \
			"hotplug-status of vif$i.0"
	done
}

test_hooks_get_the_variables() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	local out=$SB/hook.out
	printf '%s\n' "echo \"\$command|\$dev|\$vif|\$bridge|\$ip|\$type_if|\$XENBUS_PATH\" >>$out" \
		>"$XEN_SCRIPT_DIR/vif-post.d/10-log.hook"
	chmod 0755 "$XEN_SCRIPT_DIR/vif-post.d/10-log.hook"
	run_udev vif-route 1 0 online
	assert_eq 0 "$RC" "online ($OUT)"
	run_udev vif-route 1 0 offline
	assert_eq 0 "$RC" "offline ($OUT)"
	assert_same "online|vif1.0|vif1.0||$GUEST_IP|vif|backend/vif/1/0
offline|vif1.0|vif1.0||$GUEST_IP|vif|backend/vif/1/0" "$(cat "$out" 2>&1)" "what the hook saw"
}

# ---------------------------------------------------------------- bad values

# Each bad value, through xenstore: refused before any change.
refuse_xs() { # KEY VALUE
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	xs_write "$BE/$1" "$2"
	local before
	before=$(host_state)
	run_udev vif-route 1 0 online
	assert_vif_refused $BE "$before" "$1" "$2"
}

# The same through a key=value argument (udev style).
refuse_arg() { # KEY VALUE
	lan_setup
	guest_add 1 0
	local before
	before=$(host_state)
	run_udev vif-route 1 0 online "$1=$2"
	assert_vif_refused $BE "$before" "$1" "$2"
}

test_bad_ip() { refuse_xs ip 192.0.2.300; }
test_bad_ip_prefix() { refuse_xs ip 192.0.2.10/33; }
test_bad_ip_arg() { refuse_arg ip "192.0.2.10 nonsense"; }
test_bad_ip_injection() {
	refuse_xs ip "192.0.2.10; touch $SB/pwned"
	assert_fail test -e "$SB/pwned"
}
test_bad_mac() { refuse_xs mac 00:16:3e:zz:00:01; }
test_bad_mtu() { refuse_xs mtu 67; }
test_bad_mtu_arg() { refuse_arg mtu 65536; }
test_bad_vifname() { refuse_xs vifname abcdefghijklmnop; }
test_bad_vifname_slash() { refuse_xs vifname a/b; }
test_bad_netdev_arg() { refuse_arg netdev "eth 0"; }
test_bad_netdev_env() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	local before
	before=$(host_state)
	RUN_ENV=(netdev=../eth0)
	run_udev vif-route 1 0 online
	RUN_ENV=()
	assert_vif_refused $BE "$before" netdev ../eth0
}
test_bad_type_if() { refuse_arg type_if bogus; }

# An entry holding the host's own address would hand the guest the host's
# network: the reverse rule would drop what the LAN sends the host.
test_ip_holding_host_address() {
	lan_setup
	guest_add 1 0 "ip=$GUEST_IP 192.0.2.10/24"
	local before
	before=$(host_state)
	run_udev vif-route 1 0 online
	assert_vif_refused $BE "$before" ip 192.0.2.10/24 $HOST_IP eth0
	assert_ok inh ping -c 1 -W 2 $ROUTER_IP
	xs_write $BE/ip $HOST_IP
	run_udev vif-route 1 0 online
	assert_vif_refused $BE "$before" ip $HOST_IP
}

test_bad_xenbus_path() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	local before
	before=$(host_state)
	run_env vif-route vif=vif1.0 "XENBUS_PATH=backend/vif/1/0;x" XENBUS_TYPE=vif -- online
	assert_eq 1 "$RC" "exit"
	assert_contains "$(msgs)" XENBUS_PATH "message"
	assert_contains "$(msgs)" "backend/vif/1/0;x" "message"
	assert_same "$before" "$(host_state)" "host state"
}

test_missing_xenbus_path() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	local before
	before=$(host_state)
	run_env vif-route vif=vif1.0 XENBUS_TYPE=vif -- online
	assert_eq 1 "$RC" "exit"
	assert_contains "$(msgs)" XENBUS_PATH "message"
	assert_same "$before" "$(host_state)" "host state"
}

test_bad_vif() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	local before
	before=$(host_state)
	run_env vif-route "vif=vif1.0 x" XENBUS_PATH=backend/vif/1/0 XENBUS_TYPE=vif -- online
	assert_vif_refused $BE "$before" vif "vif1.0 x"
}

test_missing_vif_device() {
	lan_setup
	xs_vif_seed 1 0 ip=$GUEST_IP
	local before
	before=$(host_state)
	run_udev vif-route 1 0 online
	assert_vif_refused $BE "$before" vif1.0 "does not exist"
}

test_unknown_command() {
	lan_setup
	guest_add 1 0 ip=$GUEST_IP
	local before c
	before=$(host_state)
	run_udev vif-route 1 0 frobnicate
	assert_eq 1 "$RC" "exit"
	assert_contains "$(msgs)" frobnicate "message"
	for c in online offline add remove; do
		assert_contains "$(msgs)" "$c" "valid commands listed"
	done
	assert_same "$before" "$(host_state)" "host state"
}

# ---------------------------------------------------------------- options

test_dry_run_changes_nothing() {
	lan_setup
	guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64 2001:db8::10" mtu=1400 vifname=guest0
	local before
	before=$(host_state)
	run_udev vif-route 1 0 online -n
	assert_eq 0 "$RC" "exit ($OUT)"
	assert_contains "$OUT" "would route $GUEST_IP/32 through guest0 (source $HOST_IP, metric 2)" \
		"plan"
	assert_contains "$OUT" "would route 2001:db8:1::/64 through guest0 (metric 2)" "plan"
	assert_contains "$OUT" "would answer for 2001:db8::10 on eth0 (proxy NDP)" "plan"
	assert_not_contains "$OUT" "answer for 2001:db8:1::" "plan: no proxy entry for a prefix"
	assert_same "$before" "$(host_state)" "host state"
	assert_fail xs_exists $BE/hotplug-status
}

test_help_and_version() {
	run_env vif-route -- --help
	assert_eq 0 "$RC" "--help exit"
	assert_contains "$OUT" "netdev=" "--help text"
	run_env vif-route -- --version
	assert_eq 0 "$RC" "--version exit"
	assert_contains "$OUT" vif-route "--version text"
}

# ---------------------------------------------------------------- faults

# A vif as netback makes it: the old one (renamed or not) deleted, a new
# veth vif1.0 (with a fixed MAC) into a new guest namespace.
fresh_vif() {
	inh ip link del guest0 2>/dev/null
	inh ip link del vif1.0 2>/dev/null
	vif_add 1 0 || fail "cannot make vif1.0 again"
	inh ip link set dev vif1.0 address 02:00:00:00:01:01
}

# Fails each step of online in turn (tests/fault-lib.sh: rename, MTU, rules,
# address, proxy ARP, up, routes, xenstore): whatever step fails, the host
# ends up as it was, and the failure is reported in xenstore.
test_fault_online() {
	# shellcheck disable=SC2317 # called by fault-lib.sh
	fault_setup() {
		if [[ -z $LAN ]]; then
			lan_setup
			guest_add 1 0 "ip=$GUEST_IP 2001:db8:1::/64 2001:db8::10" mtu=1400 vifname=guest0
			# A first online and offline, as before every run: the owned
			# table is deleted with its last vif, so each run starts without it.
			run_xl vif-route 1 0 online
		fi
		run_xl vif-route 1 0 offline
		fresh_vif
	}
	# shellcheck disable=SC2317 # called by fault-lib.sh
	fault_run() { run_xl vif-route 1 0 online; }
	# shellcheck disable=SC2317 # called by fault-lib.sh
	fault_snapshot() { host_state; }
	FAULT_BACKEND=$BE
	fault_loop online
	assert_online_state guest0 2 "$HOST_IP" 2001:db8::10
}

run_tests "$@"
