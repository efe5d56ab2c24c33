#!/bin/bash
# tests.sh (real-Xen lane): the programs under xl/libxl 4.17, oxenstored and netback, with
# real PV guests whose netfront sends real frames. Runs inside dom0 (dom0.sh), each test
# with its own clean-up; prints ok/not ok lines and "N passed, N failed".
#   bash tests.sh [test_NAME...]
# shellcheck disable=SC2016 # guest commands in single quotes run in the guest's shell
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/xen/lib.sh
. "$HERE/lib.sh"

# A guest's MAC and addresses by number: 00:16:3e:00:00:N, 192.0.2.N, 2001:db8:1::N.
mac_of() { printf '00:16:3e:00:00:%02x' "$1"; }

# vif_dev GUEST [DEVID]: the backend vif of a guest's card.
vif_dev() { echo "vif$(domid "$1").${2:-0}"; }

backend() { echo "/local/domain/0/backend/vif/$(domid "$1")/${2:-0}"; }

# assert_attached GUEST DEVID BRIDGE: the card's vif is up on BRIDGE and libxl was told so.
assert_attached() {
	local v
	v=$(vif_dev "$1" "$2")
	assert_eq "$3" "$(ip -j link show dev "$v" | jq -r '.[0].master')" "bridge of $v"
	assert_contains "$(ip -j link show dev "$v" | jq -r '.[0].flags | join(",")')" UP "flags of $v"
	assert_eq connected "$(xenstore-read "$(backend "$1" "$2")/hotplug-status" 2>&1)" \
		"hotplug-status of $v"
}

# The state the programs must give back once the guests are gone and network-bridge (or
# -route, -nat) is stopped: links, nft, the programs' state and lock files, the store's vif
# backends (SPEC §6: the owned tables go with the last of those); rules without their
# counters (-s), which traffic moves.
trace_state() {
	leftovers
	nft -s list ruleset
	find /var/run/xen -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null |
		grep -v -E '^(xl-|qmp|xenconsoled|domid-history)' | sort
}

# assert_no_vif_left WHAT: no vif link, no rule naming a vif, no vif backend in the store
# (while network-bridge still runs, its table may stay, empty).
assert_no_vif_left() {
	local links rules store
	links=$(ip -o link show | awk -F': ' '$2 ~ /^vif/ {print $2}')
	rules=$(nft list ruleset | grep -E 'vif[0-9]+\.[0-9]+')
	store=$(xenstore-list /local/domain/0/backend/vif 2>/dev/null)
	[[ -z $links ]] || fail "$1: vif links left: $links"
	[[ -z $rules ]] || fail "$1: rules naming a vif left: $rules"
	[[ -z $store ]] || fail "$1: vif backends left in the store: $store"
}

# ---------------------------------------------------------------- the package

test_package_installed_over_xen_utils_common() {
	local p
	assert_eq "install ok installed" "$(dpkg-query -W -f='${Status}' xen-net-hooks)" \
		"xen-net-hooks package"
	assert_eq "install ok installed" "$(dpkg-query -W -f='${Status}' xen-utils-common)" \
		"xen-utils-common package"
	for p in vif-bridge vif-route vif-nat; do
		assert_eq "/usr/libexec/xen-net-hooks/$p" "$(readlink "$SCRIPTS/$p")" "$SCRIPTS/$p"
		assert_contains "$(dpkg-divert --list "$SCRIPTS/$p")" "$SCRIPTS/$p.distrib" "diversion of $p"
		assert_eq '#!/bin/bash' "$(head -n 1 "$SCRIPTS/$p.distrib")" "Debian's $p, diverted"
		run "$SCRIPTS/$p" --version
		assert_eq 0 "$RC" "$p --version: $OUT"
	done
	# xl's own defaults name the diverted place's occupant: the programs.
	assert_contains "$(xl info 2>&1)" "xen_major              : 4" "xl info"
}

# ---------------------------------------------------------------- bridged

# bridged_guest_reaches_all LAYOUT-BRIDGE PORT NETWORK-BRIDGE-ARGS...: network-bridge start
# as given; a guest with xl's default vif script reaches the LAN and dom0 over IPv4 and
# IPv6, the LAN reaches it; stop gives dom0's card back exactly.
bridged_guest_reaches_all() {
	local br=$1 port=$2 before
	shift 2
	before=$(net_state)
	must "$SCRIPTS/network-bridge" start "$@"
	assert_eq "$br" "$(ip -j link show dev "$port" | jq -r '.[0].master')" "master of $port"
	assert_contains "$(ip -o addr show dev "$br")" "inet $DOM0_IP/$PREFIX" "address of $br"
	local vifspec
	vifspec="mac=$(mac_of 11)"
	[[ $br != xenbr0 ]] && vifspec+=",bridge=$br"
	guest_up g1 "$vifspec"
	assert_attached g1 0 "$br"
	guest_net g1 eth0 192.0.2.11/24 "$LAN_IP" 2001:db8:1::11/64
	guest_ping g1 "$LAN_IP"
	guest_ping g1 "$DOM0_IP"
	guest_ping g1 "$LAN_IP6"
	guest_ping g1 "$DOM0_IP6"
	lan_ping 192.0.2.11
	lan_ping 2001:db8:1::11
	guest_destroy g1
	assert_eq 0 "$RC" "xl destroy: $OUT"
	must "$SCRIPTS/network-bridge" stop "$@"
	assert_same "$before" "$(net_state)" "dom0's network after network-bridge stop"
}

test_bridged_classic_layout() {
	bridged_guest_reaches_all xenbr0 "$DOM0_IF"
}

test_bridged_rename_layout() {
	bridged_guest_reaches_all "$DOM0_IF" "p$DOM0_IF" "netdev=$DOM0_IF" "bridge=$DOM0_IF"
}

# A guest that forges its IPv4 source, its ARP sender or its MAC gets none of it through to
# the LAN; its own frames, DHCP and ping still flow.
test_bridged_forged_frames_dropped() {
	local mac
	mac=$(mac_of 21)
	must "$SCRIPTS/network-bridge" start
	guest_up g2 "mac=$mac,ip=192.0.2.21"
	assert_attached g2 0 xenbr0
	guest_net g2 eth0 192.0.2.21/24 "$LAN_IP"
	frames_probe g2 eth0 "$mac" "good4 goodarp dhcp" \
		good4,ipv4,src=192.0.2.21,dst=$LAN_IP \
		forged4,ipv4,src=192.0.2.99,dst=$LAN_IP \
		goodarp,arp,spa=192.0.2.21,tpa=$LAN_IP \
		arpspa,arp,spa=192.0.2.99,tpa=$LAN_IP \
		arpsha,arp,spa=192.0.2.21,tpa=$LAN_IP,sha=00:16:3e:66:66:66 \
		forgedmac,ipv4,src=192.0.2.21,dst=$LAN_IP,smac=00:16:3e:66:66:66 \
		dhcp,dhcp
	assert_arrived good4 goodarp dhcp
	assert_dropped forged4 arpspa arpsha forgedmac
	guest_ping g2 "$LAN_IP"
	lan_ping 192.0.2.21
}

# vlan_wrapper NAME SPEC: a vif script that writes the backend's vlan node, as libxl 4.19 does
# from the vif spec (xl 4.17 writes none), before it runs vif-bridge: the node is in the
# store when vif-bridge reads it, as it would be under 4.19.
vlan_wrapper() {
	printf '#!/bin/sh\nxenstore-write "/local/domain/0/$XENBUS_PATH/vlan" %s || exit 1\nexec %s "$@"\n' \
		"$2" "$SCRIPTS/vif-bridge" >"$SCRIPTS/$1"
	chmod 755 "$SCRIPTS/$1"
}

# recv_vlan NAME: the VLAN of frame NAME as the LAN received it (of the last frames_probe).
recv_vlan() { grep -E "^$1 " <<<"$RECV" | sed -n 's/.* vlan=\([0-9/]*\).*/\1/p'; }

# The vlan node (this machine's kernel has the bridge VLAN filtering the namespace lane's
# lacks): an access guest (vlan=10) and a trunk guest (vlan=10p/20) on xenbr0, whose uplink
# carries VLANs 10 and 20 tagged (the administrator's part). vif-bridge turns on the bridge's
# VLAN filtering, dom0 keeps its own traffic (the default PVID), each port holds exactly its
# list; on the LAN the access guest's frames arrive tagged 10 and a frame it tags 20 not at
# all; the trunk guest's untagged frames arrive as 10, its tagged 20 as 20, 30 not at all,
# and a forged source tagged 20 is dropped (the tag hides nothing from the firewall).
test_bridged_vlan() {
	local ma mt va vt src
	ma=$(mac_of 41)
	mt=$(mac_of 42)
	must "$SCRIPTS/network-bridge" start
	must bridge vlan add dev "$DOM0_IF" vid 10
	must bridge vlan add dev "$DOM0_IF" vid 20
	vlan_wrapper vif-bridge-access 10
	vlan_wrapper vif-bridge-trunk 10p/20
	guest_up va "mac=$ma,ip=192.0.2.41,script=vif-bridge-access"
	guest_up vt "mac=$mt,ip=192.0.2.42,script=vif-bridge-trunk"
	assert_attached va 0 xenbr0
	assert_attached vt 0 xenbr0
	va=$(vif_dev va)
	vt=$(vif_dev vt)
	assert_eq 1 "$(cat /sys/class/net/xenbr0/bridge/vlan_filtering)" "VLAN filtering of xenbr0"
	src='.[0].vlans[] | "\(.vlan) \(.flags // [] | join(","))"'
	assert_eq "10 PVID,Egress Untagged" "$(bridge -j vlan show dev "$va" | jq -r "$src")" \
		"VLANs of $va"
	assert_same "10 PVID,Egress Untagged
20 " "$(bridge -j vlan show dev "$vt" | jq -r "$src")" "VLANs of $vt"
	must ping -c 1 -W 3 "$LAN_IP"
	guest_must va "ip link set eth0 up"
	guest_must vt "ip link set eth0 up"
	# qemu's virtio NIC drops tagged frames of VLANs its driver did not register, unless it
	# is promiscuous: the LAN's listener sees every tag that way.
	lan ip link set "$LAN_IF" promisc on
	frames_probe va eth0 "$ma" "u" \
		u,ipv4,src=192.0.2.41,dst=$LAN_IP \
		t20,ipv4,src=192.0.2.41,dst=$LAN_IP,vlan=20
	assert_arrived u
	assert_eq 10 "$(recv_vlan u)" "VLAN of the access guest's frame on the LAN"
	assert_dropped t20
	frames_probe vt eth0 "$mt" "u t20" \
		u,ipv4,src=192.0.2.42,dst=$LAN_IP \
		t20,ipv4,src=192.0.2.42,dst=$LAN_IP,vlan=20 \
		t30,ipv4,src=192.0.2.42,dst=$LAN_IP,vlan=30 \
		forged20,ipv4,src=192.0.2.99,dst=$LAN_IP,vlan=20
	assert_arrived u t20
	assert_eq 10 "$(recv_vlan u)" "VLAN of the trunk guest's untagged frame on the LAN"
	assert_eq 20 "$(recv_vlan t20)" "VLAN of the trunk guest's tagged frame on the LAN"
	assert_dropped t30 forged20
	lan ip link set "$LAN_IF" promisc off
	guest_destroy va
	guest_destroy vt
	wait_until 20 "$va gone" bash -c "! ip link show $va"
	wait_until 20 "$vt gone" bash -c "! ip link show $vt"
	must "$SCRIPTS/network-bridge" stop
	rm -f "$SCRIPTS/vif-bridge-access" "$SCRIPTS/vif-bridge-trunk"
}

# network-bridge antispoof=yes: a real guest, whose vif vif-bridge registered, reaches the
# LAN; a port that no vif program registered (a veth enslaved by hand) reaches dom0 itself
# but nothing bridged, neither the LAN nor the guest. The administrator's table is
# untouched, and stop leaves the ruleset as it was.
test_bridged_antispoof() {
	local before mac
	mac=$(mac_of 25)
	nft -f - <<-'EOF' || fail "cannot add the administrator's table"
		table bridge admin { chain forward_watch { type filter hook forward priority 10; policy accept; counter; }; }
	EOF
	echo "nft delete table bridge admin" >>"$TEST_DIR/cleanup"
	before=$(trace_state)
	must "$SCRIPTS/network-bridge" start antispoof=yes
	run "$SCRIPTS/network-bridge" status
	assert_contains "$OUT" "antispoof: on" "network-bridge status"
	guest_up g5 "mac=$mac,ip=192.0.2.25"
	assert_attached g5 0 xenbr0
	guest_net g5 eth0 192.0.2.25/24 "$LAN_IP"
	ip netns add rogue || fail "cannot add the rogue namespace"
	echo "ip netns del rogue" >>"$TEST_DIR/cleanup"
	ip link add rogue0 type veth peer name rogue1 netns rogue || fail "cannot add the veth"
	echo "ip link del rogue0" >>"$TEST_DIR/cleanup"
	ip link set rogue0 master xenbr0 up || fail "cannot enslave rogue0"
	ip -n rogue addr add 192.0.2.77/24 dev rogue1
	ip -n rogue link set rogue1 up
	ip -n rogue link set lo up
	guest_ping g5 "$LAN_IP"
	lan_ping 192.0.2.25
	# The unregistered port's link works (dom0 answers it) ...
	run ip netns exec rogue ping -c 2 -W 2 "$DOM0_IP"
	assert_eq 0 "$RC" "the rogue port pings dom0: $OUT"
	# ... but what it sends is not bridged: not to the LAN, not to the guest.
	run ip netns exec rogue ping -c 2 -W 2 "$LAN_IP"
	[[ $RC -ne 0 ]] || fail "the rogue port reached the LAN through the bridge: $OUT"
	run ip netns exec rogue ping -c 2 -W 2 192.0.2.25
	[[ $RC -ne 0 ]] || fail "the rogue port reached the guest through the bridge: $OUT"
	assert_contains "$(nft list table bridge admin)" "counter packets" "the administrator's table"
	ip link del rogue0
	guest_destroy g5
	assert_eq 0 "$RC" "xl destroy: $OUT"
	wait_until 20 "the backends gone" bash -c "! xenstore-list /local/domain/0/backend/vif | grep -q ."
	must "$SCRIPTS/network-bridge" stop
	assert_same "$before" "$(trace_state)" "links, rules, state files and store after stop"
}

# nft flush ruleset (what a restart of Debian's nftables.service does) takes a real guest's
# rules away: xen-net-hooks status says so, resync (from what libxl wrote in oxenstored, its
# script node naming the mode) puts them back without bouncing the guest's link.
test_resync_after_flush() {
	local before mac v ifindex
	mac=$(mac_of 26)
	before=$(trace_state)
	must "$SCRIPTS/network-bridge" start
	guest_up g6 "mac=$mac,ip=192.0.2.26"
	assert_attached g6 0 xenbr0
	v=$(vif_dev g6)
	ifindex=$(ip -j link show dev "$v" | jq -r '.[0].ifindex')
	guest_net g6 eth0 192.0.2.26/24 "$LAN_IP"
	frames_probe g6 eth0 "$mac" "good4" good4,ipv4,src=192.0.2.26,dst=$LAN_IP \
		forged4,ipv4,src=192.0.2.99,dst=$LAN_IP
	assert_arrived good4
	assert_dropped forged4
	must nft flush ruleset
	run xen-net-hooks status
	assert_eq 1 "$RC" "xen-net-hooks status after the flush: $OUT"
	assert_contains "$OUT" "$v" "status names the vif"
	assert_contains "$OUT" "resync" "status names the mend"
	frames_probe g6 eth0 "$mac" "forged4" forged4,ipv4,src=192.0.2.99,dst=$LAN_IP
	assert_arrived forged4
	must xen-net-hooks resync
	run xen-net-hooks status
	assert_eq 0 "$RC" "xen-net-hooks status after resync: $OUT"
	frames_probe g6 eth0 "$mac" "good4" good4,ipv4,src=192.0.2.26,dst=$LAN_IP \
		forged4,ipv4,src=192.0.2.99,dst=$LAN_IP
	assert_arrived good4
	assert_dropped forged4
	assert_eq "$ifindex" "$(ip -j link show dev "$v" | jq -r '.[0].ifindex')" "ifindex of $v"
	assert_attached g6 0 xenbr0
	guest_ping g6 "$LAN_IP"
	guest_destroy g6
	assert_eq 0 "$RC" "xl destroy: $OUT"
	wait_until 20 "the backends gone" bash -c "! xenstore-list /local/domain/0/backend/vif | grep -q ."
	must "$SCRIPTS/network-bridge" stop
	assert_same "$before" "$(trace_state)" "links, rules, state files and store after stop"
}

# xl network-attach and network-detach on a running guest; xl destroy then leaves nothing.
test_network_attach_detach_destroy() {
	local before_guest before_net v1
	before_net=$(net_state)
	before_guest=$(trace_state)
	must "$SCRIPTS/network-bridge" start
	guest_up g3 "mac=$(mac_of 31)"
	must xl network-attach g3 "mac=$(mac_of 32)" ip=192.0.2.32
	v1=$(vif_dev g3 1)
	assert_attached g3 1 xenbr0
	assert_contains "$(nft list ruleset)" "$v1" "the attached card's firewall"
	guest_net g3 eth1 192.0.2.32/24 "$LAN_IP"
	guest_ping g3 "$LAN_IP"
	must xl network-detach g3 1
	wait_until 20 "$v1 gone after network-detach" bash -c "! ip link show $v1"
	wait_until 20 "the backend of card 1 gone" bash -c "! xenstore-exists $(backend g3 1)"
	[[ $(nft list ruleset) == *"$v1"* ]] && fail "rules of $v1 left after network-detach"
	guest_destroy g3
	assert_eq 0 "$RC" "xl destroy: $OUT"
	wait_until 20 "the guest's backends gone" bash -c "! xenstore-list /local/domain/0/backend/vif | grep -q ."
	assert_no_vif_left "after xl destroy"
	must "$SCRIPTS/network-bridge" stop
	assert_same "$before_net" "$(net_state)" "dom0's network after network-bridge stop"
	assert_same "$before_guest" "$(trace_state)" "links, rules, state files and store after stop"
}

# A vif line naming a bridge that does not exist: xl create fails and shows the program's
# hotplug-error; no domain, link, rule or store node is left.
test_missing_bridge_refused() {
	local before
	before=$(trace_state)
	must "$SCRIPTS/network-bridge" start
	guest_create g4 "mac=$(mac_of 41),bridge=nosuchbr0"
	[[ $RC -ne 0 ]] || fail "xl create with a missing bridge succeeded"
	assert_contains "$OUT" "nosuchbr0" "xl's message"
	assert_contains "$OUT" "does not exist" "xl's message"
	printf 'xl create said:\n%s\n' "$OUT" >>"$TEST_DIR/transcript"
	note "xl said: $(grep -m1 -i 'nosuchbr0' <<<"$OUT")"
	wait_until 30 "domain g4 gone" bash -c "! xl domid g4"
	wait_until 20 "the backends gone" bash -c "! xenstore-list /local/domain/0/backend/vif | grep -q ."
	assert_no_vif_left "after the refusal"
	must "$SCRIPTS/network-bridge" stop
	assert_same "$before" "$(trace_state)" "links, rules, state files and store after stop"
}

# Four guests created at once: every vif connected, every guest reaches the LAN.
test_four_guests_at_once() {
	local i pids=() before
	before=$(trace_state)
	must "$SCRIPTS/network-bridge" start
	for i in 1 2 3 4; do
		(guest_create "q$i" "mac=$(mac_of $((50 + i))),ip=192.0.2.$((50 + i))" >"$TEST_DIR/create.$i" 2>&1
			echo "$RC $OUT" >"$TEST_DIR/create.$i") &
		pids+=($!)
		echo "q$i" >>"$TEST_DIR/guests"
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	for i in 1 2 3 4; do
		read -r rc rest <"$TEST_DIR/create.$i"
		assert_eq 0 "$rc" "xl create q$i: $rest"
	done
	for i in 1 2 3 4; do
		guest_wait "q$i" || continue
		assert_attached "q$i" 0 xenbr0
		guest_net "q$i" eth0 "192.0.2.$((50 + i))/24" "$LAN_IP"
	done
	for i in 1 2 3 4; do
		guest_ping "q$i" "$LAN_IP"
		lan_ping "192.0.2.$((50 + i))"
	done
	for i in 1 2 3 4; do
		guest_destroy "q$i"
	done
	wait_until 30 "the backends gone" bash -c "! xenstore-list /local/domain/0/backend/vif | grep -q ."
	assert_no_vif_left "after four destroys"
	must "$SCRIPTS/network-bridge" stop
	assert_same "$before" "$(trace_state)" "links, rules, state files and store after stop"
}

# network-bridge on a bond (the namespace lane's kernel has no bonding).
test_bridged_bond_netdev() {
	# Loading the bonding module may make a bond0 of its own (max_bonds=1): then that one.
	ip link add bond0 type bond mode active-backup miimon 100 2>/dev/null ||
		{ ip -d link show dev bond0 | grep -q "bond mode" &&
			ip link set dev bond0 down &&
			ip link set dev bond0 type bond mode active-backup miimon 100; } || {
		fail "no bonding in this kernel"
		return 1
	}
	ip link set "$DOM0_IF" down
	ip addr flush dev "$DOM0_IF"
	ip link set "$DOM0_IF" master bond0
	ip link set bond0 up
	sysctl -q -w net.ipv6.conf.bond0.accept_dad=0
	ip addr add "$DOM0_IP/$PREFIX" dev bond0
	ip addr add "$DOM0_IP6/$PREFIX6" dev bond0 nodad
	ip route add default via "$LAN_IP" dev bond0
	ip -6 route add default via "$LAN_IP6" dev bond0
	wait_until 10 "bond0 forwards" lan ping -c 1 -W 1 "$DOM0_IP"
	local before
	before=$(net_state)
	must "$SCRIPTS/network-bridge" start netdev=bond0 bridge=xenbr0
	assert_eq xenbr0 "$(ip -j link show dev bond0 | jq -r '.[0].master')" "master of bond0"
	assert_eq bond0 "$(ip -j link show dev "$DOM0_IF" | jq -r '.[0].master')" "$DOM0_IF stays in bond0"
	guest_up g5 "mac=$(mac_of 61)"
	assert_attached g5 0 xenbr0
	guest_net g5 eth0 192.0.2.61/24 "$LAN_IP" 2001:db8:1::61/64
	guest_ping g5 "$LAN_IP"
	guest_ping g5 "$LAN_IP6"
	lan_ping 192.0.2.61
	guest_destroy g5
	must "$SCRIPTS/network-bridge" stop netdev=bond0 bridge=xenbr0
	assert_same "$before" "$(net_state)" "dom0's network after network-bridge stop"
}

# ---------------------------------------------------------------- routed and NAT

sysctls() {
	sysctl net.ipv4.ip_forward "net.ipv4.conf.$DOM0_IF.proxy_arp" net.ipv6.conf.all.forwarding \
		"net.ipv6.conf.$DOM0_IF.proxy_ndp" "net.ipv6.conf.$DOM0_IF.accept_ra"
}

# network-route + vif-route: the LAN reaches the guest at an address of its own subnet
# through proxy ARP, and the guest the LAN.
test_routed_guest() {
	local before_sys before v
	before_sys=$(sysctls)
	before=$(trace_state)
	must "$SCRIPTS/network-route" start
	assert_eq 1 "$(cat /proc/sys/net/ipv4/ip_forward)" "ip_forward after network-route start"
	guest_up r1 "mac=$(mac_of 71),ip=192.0.2.71,script=vif-route"
	v=$(vif_dev r1)
	assert_eq connected "$(xenstore-read "$(backend r1)/hotplug-status")" "hotplug-status of $v"
	assert_contains "$(ip -o addr show dev "$v")" "inet $DOM0_IP/32" "the host's address on $v"
	assert_contains "$(ip route show 192.0.2.71)" "dev $v" "route to the guest"
	guest_must r1 "ip link set eth0 up && ip addr add 192.0.2.71/32 dev eth0 &&
		ip route add $DOM0_IP dev eth0 && ip route add default via $DOM0_IP"
	guest_ping r1 "$DOM0_IP"
	guest_ping r1 "$LAN_IP"
	lan_ping 192.0.2.71
	guest_destroy r1
	wait_until 20 "$v gone" bash -c "! ip link show $v"
	[[ -z $(ip route show 192.0.2.71) ]] || fail "route to the guest left: $(ip route show 192.0.2.71)"
	must "$SCRIPTS/network-route" stop
	assert_same "$before_sys" "$(sysctls)" "sysctls after network-route stop"
	assert_same "$before" "$(trace_state)" "links, rules, state files and store after stop"
}

# The same over IPv6: the LAN reaches the guest's address, on-link in the LAN's /64, through
# dom0's proxy NDP entry on its card, and the guest, whose default route goes through dom0's
# link-local address on the vif, reaches the LAN; destroy takes the entry away.
test_routed_guest_ipv6() {
	local before_sys before v ll a6=2001:db8:1::72
	before_sys=$(sysctls)
	before=$(trace_state)
	must "$SCRIPTS/network-route" start
	assert_eq 1 "$(cat /proc/sys/net/ipv6/conf/all/forwarding)" "IPv6 forwarding after start"
	assert_eq 1 "$(cat "/proc/sys/net/ipv6/conf/$DOM0_IF/proxy_ndp")" "proxy_ndp after start"
	guest_up r2 "mac=$(mac_of 72),ip=192.0.2.72 $a6,script=vif-route"
	v=$(vif_dev r2)
	assert_eq connected "$(xenstore-read "$(backend r2)/hotplug-status")" "hotplug-status of $v"
	assert_contains "$(ip -6 route show "$a6")" "dev $v" "route to the guest's IPv6 address"
	assert_eq "$a6 dev $DOM0_IF proxy" "$(ip -6 neigh show proxy | sed 's/ *$//')" \
		"dom0's proxy NDP entries"
	ll=$(ip -6 -o addr show dev "$v" scope link | awk '{print $4}')
	ll=${ll%/*}
	# netback's MAC fe:ff:ff:ff:ff:ff makes it, as vif-route(8) tells the guest's administrator.
	assert_eq fe80::fcff:ffff:feff:ffff "$ll" "dom0's link-local address on $v"
	guest_must r2 "ip link set eth0 up && ip -6 addr add $a6/128 dev eth0 &&
		ip -6 route add default via $ll dev eth0"
	guest_ping r2 "$LAN_IP6"
	lan_ping "$a6"
	guest_destroy r2
	wait_until 20 "$v gone" bash -c "! ip link show $v"
	wait_until 20 "the proxy NDP entry gone" bash -c "[ -z \"\$(ip -6 neigh show proxy)\" ]"
	must "$SCRIPTS/network-route" stop
	assert_same "$before_sys" "$(sysctls)" "sysctls after network-route stop"
	assert_same "$before" "$(trace_state)" "links, rules, state files and store after stop"
}

# guest_lease NAME: the guest asks for a lease with busybox udhcpc, takes it (address and
# default route) and OUT is "lease <address>/<prefix> <router>".
guest_lease() {
	guest_must "$1" 'cat >/tmp/dhcp.sh <<"EOF"
#!/bin/sh
[ "$1" = bound ] || exit 0
ip addr add "$ip/$mask" dev "$interface"
ip route add default via "$router"
echo "lease $ip/$mask $router" >/tmp/lease
EOF
chmod +x /tmp/dhcp.sh && ip link set eth0 up' || return 1
	guest_run "$1" 'udhcpc -i eth0 -n -q -t 6 -T 2 -s /tmp/dhcp.sh >/dev/null 2>&1; cat /tmp/lease' 40
}

# network-nat dhcp=dnsmasq + vif-nat: the guest gets its address and router from dnsmasq
# with busybox udhcpc and reaches the LAN masqueraded (the LAN has no route back to 10/8).
# xl passes a vif script no parameters of the administrator's, so dhcp= goes into a wrapper,
# as README.md shows. The server serves every domain's address: xl cannot give a guest the
# domain id 300 or 32000, so two more guests are given those domains' derived addresses
# (10.1.44.1, 10.125.0.1) by ip= and must get their leases too.
test_nat_guest_dhcp_dnsmasq() {
	local before_sys before id v g a wrapper=$SCRIPTS/vif-nat-dnsmasq
	local -A far=([n300]=10.1.44 [n32000]=10.125.0)
	before_sys=$(sysctls)
	before=$(trace_state)
	printf '#!/bin/sh\nexec %s dhcp=dnsmasq "$@"\n' "$SCRIPTS/vif-nat" >"$wrapper"
	chmod 755 "$wrapper"
	must "$SCRIPTS/network-nat" start dhcp=dnsmasq
	wait_until 10 "dnsmasq running" pgrep -x dnsmasq
	guest_up n1 "mac=$(mac_of 81),script=vif-nat-dnsmasq"
	id=$(domid n1)
	v=$(vif_dev n1)
	assert_eq connected "$(xenstore-read "$(backend n1)/hotplug-status")" "hotplug-status of $v"
	assert_contains "$(ip -o addr show dev "$v")" "inet 10.0.$id.128/" "router address on $v"
	assert_contains "$(cat /var/lib/xen/dnsmasq-hosts)" "$(mac_of 81),10.0.$id.1" "dnsmasq hosts"
	guest_lease n1
	assert_eq "lease 10.0.$id.1/16 10.0.$id.128" "$OUT" "the guest's DHCP lease"
	guest_ping n1 "$LAN_IP"
	guest_up n300 "mac=$(mac_of 82),ip=${far[n300]}.1,script=vif-nat-dnsmasq"
	guest_up n32000 "mac=$(mac_of 83),ip=${far[n32000]}.1,script=vif-nat-dnsmasq"
	for g in n300 n32000; do
		a=${far[$g]}
		guest_lease "$g"
		assert_eq "lease $a.1/16 $a.128" "$OUT" "the DHCP lease of $g (address $a.1)"
		guest_ping "$g" "$LAN_IP"
	done
	for g in n1 n300 n32000; do
		v=$(vif_dev "$g")
		guest_destroy "$g"
		wait_until 20 "$v gone" bash -c "! ip link show $v"
	done
	[[ -s /var/lib/xen/dnsmasq-hosts ]] &&
		fail "dnsmasq entries left after destroy: $(cat /var/lib/xen/dnsmasq-hosts)"
	must "$SCRIPTS/network-nat" stop dhcp=dnsmasq
	rm -f "$wrapper"
	assert_same "$before_sys" "$(sysctls)" "sysctls after network-nat stop"
	assert_same "$before" "$(trace_state)" "links, rules, state files and store after stop"
}

# ---------------------------------------------------------------- the stand-in

# The namespace lane's xenstored stand-in is faithful where that lane relies on it: its
# self test passes against the real oxenstored.
test_xenstore_selftest_against_oxenstored() {
	run bash "$LANE/tests/xenstored/selftest.sh" --store
	printf '%s\n' "$OUT" | sed 's/^/#   /' >>"$TEST_DIR/transcript"
	local last
	last=$(tail -n 1 <<<"$OUT")
	[[ $last =~ ^([0-9]+)\ passed,\ 0\ failed$ && ${BASH_REMATCH[1]} -gt 10 ]] ||
		fail "selftest against oxenstored: $(grep -E '^not ok|passed' <<<"$OUT" | tr '\n' ';')"
	note "stand-in self test against oxenstored: $last"
}

# ---------------------------------------------------------------- main

if [[ -z ${_LANE_ONE:-} ]]; then
	net_baseline
fi
run_tests "$@"
