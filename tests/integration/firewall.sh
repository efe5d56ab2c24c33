#!/bin/bash
# shellcheck disable=SC2034 # RUN_ENV is read by lib.sh's run_* helpers
# Integration tests for the guest firewall (SPEC.md section 6, issue #3), with
# real frames: a guest namespace sends crafted Ethernet frames (tests/tools/
# pkt.py) through its vif, and another guest on the same bridge (or the LAN
# namespace behind a routing host) counts the ones that arrive. Bridged vifs
# go through vif-bridge as udev runs it; the routed and NAT entry points,
# which no program uses yet, through build/tests/fwtool.

# Most of the time goes into waiting for frames that must not arrive: more
# tests at once than there are CPUs still pays.
TEST_JOBS=${TEST_JOBS:-4}

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../pkt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../pkt-lib.sh"
# shellcheck source=SCRIPTDIR/../fault-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault-lib.sh"

BE=/local/domain/0/backend/vif/1/0
FWTOOL=$BUILD/tests/fwtool

# Guest 2's MAC (vif_mac 2 0) and a MAC no guest owns.
MAC2=00:16:3e:00:02:00
EVIL_MAC=00:16:3e:ee:ee:ee


# ---------------------------------------------------------------- frames

# bprobe FRAME...: from guest 1 (vif1.0) to guest 2 on the same bridge. A
# last frame of an ethertype no chain restricts, from the guest's own MAC,
# marks the end: once it is in, every earlier frame had its chance.
bprobe() {
	probe "$G1" eth0 "$G2" eth0 end "$@" end,raw
	assert_arrived end
}

# ---------------------------------------------------------------- nft state

nft_h() { ip netns exec "$HOST" nft "$@"; }

# What a vif's rules are: the elements that name it (tests/lib.sh's fw_elems_of).
vif_elems() { fw_elems_of "$@"; }

# The keys of map/set NAME of table FAMILY xen_hotplug, one a line, sorted;
# prefixes as ADDR/LEN. Read from the table's listing: `nft list set` does not
# list maps, and "masquerade" is a keyword to nft's parser.
set_keys() { # FAMILY NAME
	nft_h -j list table "$1" xen_hotplug 2>/dev/null | jq -r --arg n "$2" '.nftables[] |
		(.map // .set // empty) | select(.name == $n) | .elem[]? |
		if type == "array" then .[0] else . end |
		if type != "object" then tostring
		elif .prefix then "\(.prefix.addr)/\(.prefix.len)"
		elif .range then "\(.range[0])-\(.range[1])"
		else tojson end' |
		sort
}

# The whole ruleset of the host, as JSON.
ruleset_json() { nft_h -j list ruleset; }

# ---------------------------------------------------------------- setups

# Everything a vif program may change on the host's links (as in
# vif-bridge.sh): comparing two snapshots proves nothing changed.
host_state() {
	ip -n "$HOST" -j -d addr show | jq -S -c '[.[] | {ifname, address, mtu,
		master: (.master // ""), flags: (.flags | sort),
		addrs: [.addr_info[]? | select(.local | startswith("fe80") | not)
			| "\(.local)/\(.prefixlen)"]}] | sort_by(.ifname) | .[]'
}

# online|offline D I [ARGS...]: vif-bridge as udev runs it; must succeed.
online() { vif_online vif-bridge "$@"; }
offline() { vif_offline vif-bridge "$@"; }

# bridged_pair [KEY=VALUE...] [-- ARGS...]: bridge br0; guest 2 ($G2, vif2.0,
# no ip list) is the observer; guest 1 ($G1, vif1.0, xenstore extras KEY=VALUE)
# the sender, brought online with ARGS. Both online through vif-bridge.
bridged_pair() {
	local -a extras=() args=()
	while [[ $# -gt 0 && $1 != -- ]]; do
		extras+=("$1")
		shift
	done
	[[ ${1:-} == -- ]] && shift
	args=("$@")
	bridge_add br0
	vif_add 2 0
	G2=$GUEST
	vif_add 1 0
	G1=$GUEST
	xs_vif_seed 2 0 bridge=br0
	xs_vif_seed 1 0 bridge=br0 "${extras[@]}"
	online 2 0 "${args[@]}"
	online 1 0 "${args[@]}"
}

# ---------------------------------------------------------------- IPv4

test_ipv4_listed_source_passes_forged_dropped() {
	bridged_pair "ip=10.1.0.1 10.2.0.0/24"
	bprobe forged1,ipv4,src=10.1.0.66 forged2,ipv4,src=10.2.1.1 \
		forged3,ipv4,src=0.0.0.0 forged4,ipv4,src=10.1.0.2 \
		legit1,ipv4,src=10.1.0.1 legit2,ipv4,src=10.2.0.77
	assert_arrived legit1 legit2
	assert_dropped forged1 forged2 forged3 forged4
	assert_eq 10.1.0.1 "$(recv_field legit1 src)" "source of the legit frame"
}

# The same with the guests' own IP stacks: the listed address can talk, and
# once the guest takes another address it cannot (its ARP and IPv4 drop).
test_ipv4_real_stack() {
	bridged_pair "ip=10.1.0.1"
	ip -n "$G1" addr add 10.1.0.1/24 dev eth0
	ip -n "$G2" addr add 10.1.0.2/24 dev eth0
	assert_ok ip netns exec "$G1" ping -c 1 -W 2 10.1.0.2
	ip -n "$G1" addr flush dev eth0 scope global
	ip -n "$G1" addr add 10.1.0.66/24 dev eth0
	ip -n "$G1" neigh flush dev eth0
	ip -n "$G2" neigh flush dev eth0
	assert_fail ip netns exec "$G1" ping -c 1 -W 1 10.1.0.2
	assert_fail ip netns exec "$G2" ping -c 1 -W 1 10.1.0.66
}

test_dhcp_discover_passes() {
	bridged_pair "ip=10.1.0.1"
	# Only the client's form (UDP 68 -> 67) is let through from 0.0.0.0.
	bprobe notdhcp,ipv4,src=0.0.0.0,dst=255.255.255.255,sport=4000,dport=67 \
		discover,dhcp
	assert_arrived discover
	assert_eq 0.0.0.0 "$(recv_field discover src)" "source of the discover"
	assert_dropped notdhcp
}

# ---------------------------------------------------------------- ARP

test_arp_forged_sender_dropped_honest_passes() {
	bridged_pair "ip=10.1.0.1"
	bprobe forged_spa,arp,spa=10.1.0.66,tpa=10.1.0.2 \
		forged_reply,arp,op=reply,spa=10.1.0.2,tpa=10.1.0.2,dmac=$MAC2,tha=$MAC2 \
		forged_sha,arp,spa=10.1.0.1,tpa=10.1.0.2,sha=$EVIL_MAC \
		honest_req,arp,spa=10.1.0.1,tpa=10.1.0.2 \
		honest_reply,arp,op=reply,spa=10.1.0.1,tpa=10.1.0.2,dmac=$MAC2,tha=$MAC2 \
		gratuitous,arp,op=reply,spa=10.1.0.1,tpa=10.1.0.1 \
		probe,arp,spa=0.0.0.0,tpa=10.1.0.1
	assert_arrived honest_req honest_reply gratuitous probe
	assert_dropped forged_spa forged_reply forged_sha
}

# ARP whose header does not announce Ethernet/IPv4 addresses is dropped: its
# sender fields are not where the checks look.
test_arp_bad_shape_dropped() {
	bridged_pair "ip=10.1.0.1"
	bprobe htype,arp,spa=10.1.0.1,htype=6 ptype,arp,spa=10.1.0.1,ptype=0x86dd \
		hlen,arp,spa=10.1.0.1,hlen=8 plen,arp,spa=10.1.0.1,plen=16 \
		good,arp,spa=10.1.0.1
	assert_arrived good
	assert_dropped htype ptype hlen plen
}

# ---------------------------------------------------------------- Ethernet

test_forged_ethernet_source_dropped() {
	bridged_pair "ip=10.1.0.1"
	bprobe ip_evil,ipv4,src=10.1.0.1,smac=$EVIL_MAC \
		arp_evil,arp,spa=10.1.0.1,smac=$EVIL_MAC,sha=$EVIL_MAC \
		dhcp_evil,dhcp,smac=$EVIL_MAC raw_evil,raw,smac=$EVIL_MAC \
		ip6_evil,ipv6,src=fe80::1,smac=$EVIL_MAC \
		ip_own,ipv4,src=10.1.0.1
	assert_arrived ip_own
	assert_dropped ip_evil arp_evil dhcp_evil raw_evil ip6_evil
}

# Without a mac node the Ethernet source is free, the addresses still checked.
test_mac_unknown_addresses_still_checked() {
	bridge_add br0
	vif_add 2 0
	G2=$GUEST
	vif_add 1 0
	G1=$GUEST
	xs_vif_seed 2 0 bridge=br0
	xs_vif_seed 1 0 bridge=br0 ip=10.1.0.1
	xs_rm $BE/mac
	online 2 0
	online 1 0
	bprobe ip_evil_mac,ipv4,src=10.1.0.1,smac=$EVIL_MAC \
		arp_evil_mac,arp,spa=10.1.0.1,smac=$EVIL_MAC,sha=$EVIL_MAC \
		forged_ip,ipv4,src=10.1.0.66,smac=$EVIL_MAC
	assert_arrived ip_evil_mac arp_evil_mac
	assert_dropped forged_ip
}

# ---------------------------------------------------------------- IPv6

test_ipv6_listed_prefix_linklocal_dad_pass_others_dropped() {
	bridged_pair "ip=10.1.0.1 2001:db8:1::/64"
	bprobe forged6,ipv6,src=2001:db8:2::5 forged6b,ipv6,src=fd00::1 \
		forged_ns,ns,src=2001:db8:2::5,target=2001:db8:1::9 \
		forged4,ipv4,src=10.1.0.66 \
		listed,ipv6,src=2001:db8:1::5 \
		linklocal,ipv6,src=fe80::216:3eff:fe00:100 \
		dad,ns,src=::,target=2001:db8:1::5 \
		ll_ns,ns,src=fe80::216:3eff:fe00:100,target=fe80::216:3eff:fe00:200
	assert_arrived listed linklocal dad ll_ns
	assert_eq :: "$(recv_field dad src)" "source of the DAD probe"
	assert_dropped forged6 forged6b forged_ns forged4
}

test_ipv6_unrestricted_without_ipv6_in_list() {
	bridged_pair "ip=10.1.0.1"
	bprobe any6,ipv6,src=2001:db8:9::9 any_ns,ns,src=2001:db8:9::9,target=2001:db8:9::1 \
		forged4,ipv4,src=10.1.0.66
	assert_arrived any6 any_ns
	assert_dropped forged4
}

# The mirror case, as documented: a list with IPv6 entries only restricts
# IPv6 and leaves IPv4 and ARP alone.
test_ipv4_unrestricted_with_ipv6_only_list() {
	bridged_pair "ip=2001:db8:1::5"
	bprobe forged6,ipv6,src=2001:db8:2::5 \
		any4,ipv4,src=10.9.9.9 any_arp,arp,spa=10.9.9.9 listed,ipv6,src=2001:db8:1::5
	assert_arrived any4 any_arp listed
	assert_dropped forged6
	note "an IPv6-only ip list leaves IPv4 and ARP unrestricted (documented design)"
}

# ---------------------------------------------------------------- no list

test_no_ip_list_unrestricted() {
	bridged_pair
	bprobe ip,ipv4,src=10.9.9.9 arp,arp,spa=10.9.9.9 arp_sha,arp,spa=10.9.9.9,sha=$EVIL_MAC \
		mac,ipv4,src=10.9.9.9,smac=$EVIL_MAC ip6,ipv6,src=2001:db8:9::9 \
		vlan,ipv4,src=10.9.9.9,vlan=10
	assert_arrived ip arp arp_sha mac ip6 vlan
	# The vif is known (and registered on its bridge), with no restriction at all.
	assert_same "ports br0 . vif1.0
vifs vif1.0" "$(vif_elems bridge vif1.0)" "elements of an unrestricted vif"
}

# ---------------------------------------------------------------- VLAN

test_vlan_forged_inner_source_dropped() {
	bridged_pair "ip=10.1.0.1"
	bprobe vlan_forged,ipv4,src=10.1.0.66,vlan=10 \
		vlan_arp_forged,arp,spa=10.1.0.66,vlan=10 \
		vlan_legit,ipv4,src=10.1.0.1,vlan=10
	assert_arrived vlan_legit
	assert_eq 10 "$(recv_field vlan_legit vlan)" "VLAN of the legit tagged frame"
	assert_dropped vlan_forged vlan_arp_forged
}

# Without the firewall the very same tagged frames do arrive: the drop above is
# the firewall's doing, not the bridge's.
test_vlan_forged_arrives_without_firewall() {
	bridged_pair "ip=10.1.0.1" -- firewall=none
	bprobe vlan_forged,ipv4,src=10.1.0.66,vlan=10 vlan_arp_forged,arp,spa=10.1.0.66,vlan=10
	assert_arrived vlan_forged vlan_arp_forged
	assert_eq 10 "$(recv_field vlan_forged vlan)" "VLAN of the forged tagged frame"
}

# Two tags (802.1ad or 802.1Q outside, 802.1Q inside): the kernel takes only
# the outer one off before the bridge, so the inner header is still wrapped.
test_vlan_double_tagged_forged_dropped() {
	bridged_pair "ip=10.1.0.1"
	bprobe qinq_forged,ipv4,src=10.1.0.66,vlan=20/10,tpid=0x88a8 \
		dot1q2_forged,ipv4,src=10.1.0.66,vlan=20/10 \
		qinq_arp_forged,arp,spa=10.1.0.66,vlan=20/10,tpid=0x88a8
	assert_dropped qinq_forged dot1q2_forged qinq_arp_forged
}

# ---------------------------------------------------------------- firewall=none

test_firewall_none_installs_nothing() {
	bridged_pair "ip=10.1.0.1" -- firewall=none
	assert_eq "" "$(nft_h list tables)" "nft tables with firewall=none"
	assert_eq "" "$(ip netns exec "$HOST" iptables-save | grep -v '^#')" \
		"iptables rules with firewall=none"
	bprobe forged,ipv4,src=10.1.0.66 forged_mac,ipv4,src=10.1.0.1,smac=$EVIL_MAC
	assert_arrived forged forged_mac
	offline 1 0 firewall=none
	# The same through the environment.
	RUN_ENV=(firewall=none)
	online 1 0
	RUN_ENV=()
	assert_eq "" "$(nft_h list tables)" "nft tables with firewall=none (environment)"
}

# ---------------------------------------------------------------- admin rules

# The administrator's own tables and rules, one of them about vif1.0.
admin_rules_add() {
	nft_h -f - <<'EOF' || fail "cannot create the administrator's tables"
table inet admin {
	set blocked {
		type ipv4_addr
		elements = { 192.0.2.1, 192.0.2.2 }
	}
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr @blocked drop
		tcp dport 22 accept
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "vif*" ip daddr 198.51.100.0/24 drop
	}
}
table bridge filter {
	chain forward {
		type filter hook forward priority 0; policy accept;
		ether type arp accept
		ether saddr 02:00:00:00:00:01 drop
	}
}
EOF
	local -a ipt=(ip netns exec "$HOST" iptables -w)
	if ! { "${ipt[@]}" -A FORWARD -s 203.0.113.0/24 -j DROP &&
		"${ipt[@]}" -N ADMIN-CHAIN &&
		"${ipt[@]}" -A ADMIN-CHAIN -p tcp --dport 80 -j RETURN &&
		"${ipt[@]}" -A FORWARD -j ADMIN-CHAIN &&
		"${ipt[@]}" -A FORWARD -m physdev --physdev-in vif1.0 -p tcp --dport 25 -j DROP; }; then
		fail "cannot create the administrator's iptables rules"
	fi
}

# The administrator's tables with handles (a table deleted and made again
# would differ) and iptables-save without its comment/timestamp lines.
admin_state() {
	nft_h -a list table inet admin
	nft_h -a list table bridge filter
	ip netns exec "$HOST" iptables-save | grep -v '^#'
}

test_admin_rules_untouched() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 "ip=10.1.0.1 2001:db8:1::/64"
	admin_rules_add
	local before
	before=$(admin_state)
	online 1 0
	assert_ok fw_has_rules bridge vif1.0
	assert_same "$before" "$(admin_state)" "admin rules after online (nft)"
	offline 1 0
	assert_same "$before" "$(admin_state)" "admin rules after offline (nft)"
	# The iptables backend adds its own FORWARD rules, and takes exactly them away.
	online 1 0 firewall=iptables
	offline 1 0 firewall=iptables
	assert_same "$before" "$(admin_state)" "admin rules after online+offline (iptables)"
}

# ---------------------------------------------------------------- removal

# A guest brought up by an earlier version with a MAC now refused (multicast): online
# refuses it, but its offline still takes its rules away, with a warning.
test_offline_cleans_up_after_a_refused_mac() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 ip=10.1.0.1
	online 1 0
	# What an earlier version left: the store's MAC, and the rules made from it.
	local be mac
	be=$(xs_backend 1 0)
	mac=$(xs_read "$be/mac")
	xs_write "$be/mac" 01:00:5e:00:00:01
	nft_h delete element bridge xen_hotplug macs "{ vif1.0 . $mac }"
	nft_h add element bridge xen_hotplug macs "{ vif1.0 . 01:00:5e:00:00:01 }"
	run_udev vif-bridge 1 0 online
	assert_ne 0 "$RC" "online with a multicast MAC"
	assert_contains "$(xs_read "$be/hotplug-error")" "01:00:5e:00:00:01" "hotplug-error"
	offline 1 0
	assert_contains "$OUT" "not a unicast address" "the warning"
	assert_fail fw_has_rules bridge vif1.0
	assert_not_contains "$(ruleset_json)" vif1.0 "ruleset after offline"
}

test_offline_leaves_nothing_of_the_vif() {
	bridge_add br0
	local d
	for d in 1 2 3; do
		vif_add "$d" 0
		xs_vif_seed "$d" 0 bridge=br0 "ip=10.1.0.$d 2001:db8:1::$d"
		online "$d" 0
	done
	local others
	others=$(vif_elems bridge vif2.0
		vif_elems bridge vif3.0)
	[[ $others == *"addr4 vif2.0 . 10.1.0.2"* ]] || fail "vif2.0's rules: $others"
	offline 1 0
	local rs
	rs=$(ruleset_json)
	assert_not_contains "$rs" vif1.0 "ruleset after offline"
	assert_fail fw_has_rules bridge vif1.0
	assert_same "vif2.0
vif3.0" "$(set_keys bridge vifs)" "set elements after offline"
	assert_same "$others" "$(vif_elems bridge vif2.0
		vif_elems bridge vif3.0)" "other vifs' rules"
}

# The device vanished (the guest died) before offline: the rules still go.
test_offline_after_device_gone() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 ip=10.1.0.1
	online 1 0
	assert_ok fw_has_rules bridge vif1.0
	ip -n "$HOST" link del vif1.0
	offline 1 0
	assert_not_contains "$(ruleset_json)" vif1.0 "ruleset after offline"
}

test_offline_without_rules() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 ip=10.1.0.1
	# No table at all yet.
	offline 1 0
	offline 1 0
	# The table exists, but not this vif's chain.
	vif_add 2 0
	xs_vif_seed 2 0 bridge=br0 ip=10.1.0.2
	online 2 0
	offline 1 0
	# Online without rules, offline with the default backend; then twice.
	online 1 0 firewall=none
	offline 1 0
	offline 1 0
	online 1 0
	offline 1 0
	offline 1 0
	assert_not_contains "$(ruleset_json)" vif1.0 "ruleset after offline"
	assert_eq vif2.0 "$(set_keys bridge vifs)" "set elements"
}

# ---------------------------------------------------------------- renewal

test_online_twice_renews_rules() {
	bridged_pair ip=10.1.0.1
	local first
	first=$(vif_elems bridge vif1.0)
	[[ $first == *"addr4 vif1.0 . 10.1.0.1"* ]] || fail "no rules after online: $first"
	online 1 0
	assert_same "$first" "$(vif_elems bridge vif1.0)" "rules after a second online"
	# The list changed in between: the new list replaces the old.
	xs_write $BE/ip 10.1.0.5
	online 1 0
	assert_same "${first//10.1.0.1/10.1.0.5}" "$(vif_elems bridge vif1.0)" "rules after a new list"
	bprobe old,ipv4,src=10.1.0.1 new,ipv4,src=10.1.0.5
	assert_arrived new
	assert_dropped old
	assert_eq vif1.0$'\n'vif2.0 "$(set_keys bridge vifs)" "set elements"
	# And without a list any more: no restriction.
	xs_rm $BE/ip
	online 1 0
	assert_same "ports br0 . vif1.0
vifs vif1.0" "$(vif_elems bridge vif1.0)" "rules after the list was removed"
	bprobe old,ipv4,src=10.1.0.1 other,ipv4,src=10.9.9.9
	assert_arrived old other
}

# ---------------------------------------------------------------- atomicity

# A failed online: exit non-zero, hotplug-status error, no rules of the vif,
# the vif neither enslaved nor up, the (pre-made) table as it was.
assert_failed_without_trace() { # TABLE_BEFORE
	assert_ne 0 "$RC" "online exit"
	assert_eq error "$(xs_read $BE/hotplug-status)" "hotplug-status"
	assert_fail fw_has_rules bridge vif1.0
	assert_eq "" "$(link_master vif1.0)" "master of vif1.0 after the failure"
	assert_fail link_is_up vif1.0
	assert_same "$1" "$(nft_h -a list table bridge xen_hotplug)" "table after the failure"
}

# The map already holds vif1.0 jumping elsewhere: the batch (chain, rules,
# element) fails at its last message, and nothing of it may stay.
test_failed_batch_element_clash() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 ip=10.1.0.1
	nft_h -f - <<'EOF' || fail "cannot pre-create the table"
table bridge xen_hotplug {
	chain other {
	}
	map vifs {
		type ifname : verdict
		elements = { "vif1.0" : jump other }
	}
}
EOF
	local before
	before=$(nft_h -a list table bridge xen_hotplug)
	run_udev vif-bridge 1 0 online
	assert_failed_without_trace "$before"
}

# A map of the wrong key type (an older or foreign layout): the element's
# key does not fit, after the chain and its rules were accepted.
test_failed_batch_wrong_map_type() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 ip=10.1.0.1
	nft_h -f - <<'EOF' || fail "cannot pre-create the table"
table bridge xen_hotplug {
	map vifs {
		type ipv4_addr : verdict
	}
	chain prerouting {
		type filter hook prerouting priority -200; policy accept;
	}
}
EOF
	local before
	before=$(nft_h -a list table bridge xen_hotplug)
	run_udev vif-bridge 1 0 online
	assert_failed_without_trace "$before"
}

# The rules went in, then joining the bridge failed (a macvlan on the vif
# holds its receive handler): the undo takes the rules away again.
test_failure_after_rules_undone() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 ip=10.1.0.1
	ip -n "$HOST" link add mv0 link vif1.0 type macvlan || fail "cannot add a macvlan"
	run_udev vif-bridge 1 0 online
	assert_ne 0 "$RC" "online exit"
	assert_eq error "$(xs_read $BE/hotplug-status)" "hotplug-status"
	assert_eq "" "$(link_master vif1.0)" "master of vif1.0 after the failure"
	assert_fail fw_has_rules bridge vif1.0
	assert_eq "" "$(set_keys bridge vifs)" "set elements after the failure"
	assert_not_contains "$(ruleset_json)" vif1.0 "ruleset after the failure"
}

# ---------------------------------------------------------------- concurrency

# The rules of vif D (its elements) with its name, address (10.3.D.1) and MAC
# replaced by placeholders: the same text for every complete vif.
elems_norm() { # D
	local mac
	printf -v mac '00:16:3e:%02x:%02x:00' $((($1 >> 8) & 255)) $(($1 & 255))
	vif_elems bridge "vif$1.0" | sed -e "s/vif$1\.0/DEV/g" -e "s/10\.3\.$1\.1/ADDR/g" -e "s/$mac/MAC/g" |
		tr '\n' '|'
}

test_50_concurrent_onlines() {
	local n=50 d ref
	bridge_add br0
	# Veth pairs with both ends on the host (the test is about the rules),
	# made and seeded in bulk (what xs_vif_seed writes, one call for all).
	local -a kv=()
	local be fe
	for d in $(seq 1 $n) 99; do
		echo "link add vif$d.0 type veth peer name peer$d"
		be=$(xs_backend "$d" 0)
		fe=$(xs_frontend "$d" 0)
		kv+=("$be/frontend" "$fe" "$be/frontend-id" "$d" "$be/handle" 0
			"$be/mac" "$(vif_mac "$d" 0)" "$fe/mac" "$(vif_mac "$d" 0)" "$be/online" 1 "$be/state" 2
			"$be/script" /etc/xen/scripts/vif-bridge "$be/bridge" br0 "$be/ip" "10.3.$d.1"
			"$fe/backend" "$be" "$fe/backend-id" 0 "$fe/handle" 0)
	done >"$SB/links"
	ip -n "$HOST" -b "$SB/links" || fail "cannot create the vifs"
	xenstore-write "${kv[@]}" || fail "cannot seed the store"
	# What complete rules are: one vif brought online alone, then taken away.
	online 99 0
	ref=$(elems_norm 99)
	[[ $ref == *"addr4 DEV . ADDR"* && $ref == *"macs DEV . MAC"* ]] ||
		fail "incomplete reference rules: $ref"
	offline 99 0
	assert_fail nft_h list table bridge xen_hotplug
	for ((d = 1; d <= n; d++)); do
		(
			run_udev vif-bridge "$d" 0 online
			echo "$RC" >"$SB/rc.on.$d"
		) &
	done
	wait
	local failing="" expected="" actual="" rc statuses=() paths=()
	for ((d = 1; d <= n; d++)); do
		rc=
		read -r rc <"$SB/rc.on.$d"
		[[ $rc == 0 ]] || failing+=" vif$d.0"
		paths+=("$(xs_backend "$d" 0)/hotplug-status")
	done
	assert_eq "" "$failing" "onlines that failed"
	mapfile -t statuses < <(xenstore-read "${paths[@]}")
	assert_eq "$n connected" "$(printf '%s\n' "${statuses[@]}" | uniq -c | sed 's/^ *//')" \
		"hotplug-status of the $n vifs"
	assert_eq $n "$(ip -n "$HOST" -j link show master br0 | jq length)" "ports of br0"
	# Every vif's rules complete: the reference's, but for its own name,
	# address and MAC; and nothing else in the table.
	for ((d = 1; d <= n; d++)); do
		expected+="$d $ref"$'\n'
		actual+="$d $(elems_norm "$d")"$'\n'
	done
	assert_same "$expected" "$actual" "the $n vifs' rules"
	assert_eq $((n * $(tr -cd '|' <<<"$ref" | wc -c))) "$(fw_elems bridge | wc -l)" \
		"elements in the table"

	for ((d = 1; d <= n; d++)); do
		(
			run_udev vif-bridge "$d" 0 offline
			echo "$RC" >"$SB/rc.off.$d"
		) &
	done
	wait
	for ((d = 1; d <= n; d++)); do
		rc=
		read -r rc <"$SB/rc.off.$d"
		[[ $rc == 0 ]] || failing+=" vif$d.0"
	done
	assert_eq "" "$failing" "offlines that failed"
	# The last one took the table with it.
	assert_fail nft_h list table bridge xen_hotplug
}

# The last vif's removal deletes the table; an addition at the same moment must never be
# left unfiltered by it (its rules half made, or made and then taken with the table).
# vif-bridge runs under the network-bridge lock, so the table of routed and NAT vifs,
# whose programs run at once, is where the firewall's own serialisation is tested.
test_last_removal_races_an_addition() {
	local round ref elems failing=""
	assert_ok fwtool routed-add dev=vif2.0 "ip=10.1.0.2 2001:db8:1::2"
	ref=$(vif_elems inet vif2.0)
	assert_ok fwtool routed-del dev=vif2.0
	assert_fail nft_h list table inet xen_hotplug
	for round in $(seq 1 20); do
		fwtool routed-add dev=vif1.0 ip=10.1.0.1
		fwtool routed-del dev=vif1.0 &
		fwtool routed-add dev=vif2.0 "ip=10.1.0.2 2001:db8:1::2" &
		wait
		elems=$(vif_elems inet vif2.0)
		[[ $elems == "$ref" ]] || failing+=" round $round: [$elems]"
		fw_has_rules inet vif1.0 && failing+=" round $round: vif1.0 still has rules"
		fwtool routed-del dev=vif2.0
	done
	assert_eq "" "$failing" "vif2.0's rules after an addition that raced the last removal"
	assert_fail nft_h list table inet xen_hotplug
}

# wait_for SECONDS CMD...: poll CMD (every 50 ms) until it succeeds; false at the end.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.05
	done
}

# The same race made certain: the last removal is stopped (the shim's stop mode) just before
# the batch that deletes the table, and an addition runs meanwhile. The addition must wait
# for the deletion and then make the table anew, not be deleted with it.
test_table_teardown_never_takes_an_addition() {
	local ref k pid rc
	assert_ok fwtool routed-add dev=vif2.0 "ip=10.1.0.2 2001:db8:1::2"
	ref=$(vif_elems inet vif2.0)
	assert_ok fwtool routed-del dev=vif2.0
	# Which step of the last removal deletes the table: its last nf_tables batch.
	assert_ok fwtool routed-add dev=vif1.0 ip=10.1.0.1
	RUN_ENV=("LD_PRELOAD=$(fault_preload)" "NLFAIL_LOG=$SB/steps")
	assert_ok fwtool routed-del dev=vif1.0
	k=$(awk '$2 == "nft" {k = $1} END {print k}' "$SB/steps")
	[[ -n $k ]] || fail "no nf_tables step in the removal: $(cat "$SB/steps")"
	assert_fail nft_h list table inet xen_hotplug
	RUN_ENV=()
	assert_ok fwtool routed-add dev=vif1.0 ip=10.1.0.1
	RUN_ENV=("LD_PRELOAD=$(fault_preload)" "NLFAIL_AT=$k" NLFAIL_MODE=stop)
	(
		fwtool routed-del dev=vif1.0
		echo "$RC" >"$SB/rc.del"
	) &
	wait_for 5 bash -c "pgrep -r T -f '$FWTOOL' >'$SB/stopped'" ||
		fail "the removal did not stop before its step $k"
	pid=$(head -n 1 "$SB/stopped")
	RUN_ENV=()
	(
		fwtool routed-add dev=vif2.0 "ip=10.1.0.2 2001:db8:1::2"
		echo "$RC" >"$SB/rc.add"
	) &
	# The addition has every chance to finish (it must not: it waits for the lock).
	wait_for 2 test -s "$SB/rc.add"
	kill -CONT "$pid"
	wait
	read -r rc <"$SB/rc.del"
	assert_eq 0 "$rc" "the removal"
	read -r rc <"$SB/rc.add"
	assert_eq 0 "$rc" "the addition"
	assert_same "$ref" "$(vif_elems inet vif2.0)" "vif2.0's rules after the race"
	assert_fail fw_has_rules inet vif1.0
}

# ---------------------------------------------------------------- iptables

# The rules the Xen 4.x scripts' frob_iptable would insert for DEV and LIST
# (their command lines, run on an empty FORWARD chain of a scratch namespace;
# an IPv6 address makes their iptables call fail, so it adds nothing).
scripts_rules() { # DEV LIST
	local ns dev=$1 addr
	ns_new ns
	local -a ipt=(ip netns exec "$ns" iptables -w)
	pair() {
		"${ipt[@]}" -I FORWARD -m physdev --physdev-is-bridged --physdev-in "$dev" "$@" \
			-j ACCEPT 2>/dev/null &&
			"${ipt[@]}" -I FORWARD -m physdev --physdev-is-bridged --physdev-out "$dev" \
				-j ACCEPT 2>/dev/null
	}
	if [[ -n $2 ]]; then
		for addr in $2; do
			pair -s "$addr"
		done
		pair -p udp --sport 68 --dport 67
	else
		pair
	fi
	"${ipt[@]}" -S FORWARD
}

ipt_forward() { ip netns exec "$HOST" iptables -w -S FORWARD; }

test_iptables_backend_rules() {
	local list="10.1.0.1 10.2.0.0/24 2001:db8:1::5"
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 "ip=$list"
	local expected
	expected=$(scripts_rules vif1.0 "$list")
	assert_eq 7 "$(wc -l <<<"$expected")" "reference rule lines (policy + 3 pairs)"
	online 1 0 firewall=iptables
	assert_same "$expected" "$(ipt_forward)" "iptables -S FORWARD after online"
	# Nothing of the nft backend.
	assert_fail nft_h list table bridge xen_hotplug
	offline 1 0 firewall=iptables
	assert_same "-P FORWARD ACCEPT" "$(ipt_forward)" "iptables -S FORWARD after offline"
}

test_iptables_backend_no_list_one_pair() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0
	local expected
	expected=$(scripts_rules vif1.0 "")
	assert_eq 3 "$(wc -l <<<"$expected")" "reference rule lines (policy + 1 pair)"
	RUN_ENV=(firewall=iptables)
	online 1 0
	assert_same "$expected" "$(ipt_forward)" "iptables -S FORWARD after online"
	offline 1 0
	RUN_ENV=()
	assert_same "-P FORWARD ACCEPT" "$(ipt_forward)" "iptables -S FORWARD after offline"
}

# The ip list changed between online and offline (the toolstack rewrote it,
# or the administrator did): offline still takes away what online put in.
test_offline_after_list_change() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 "ip=10.1.0.1 10.2.0.0/24"
	online 1 0 firewall=iptables
	xs_write $BE/ip 10.1.0.9
	offline 1 0 firewall=iptables
	assert_same "-P FORWARD ACCEPT" "$(ipt_forward)" "iptables -S FORWARD after offline (iptables)"
	xs_write $BE/ip "10.1.0.1 10.2.0.0/24"
	online 1 0
	xs_write $BE/ip 10.1.0.9
	offline 1 0
	assert_not_contains "$(ruleset_json)" vif1.0 "ruleset after offline (nft)"
}

# An administrator's rule of the very shape the scripts insert (left from the
# Xen scripts' days, or written by hand) is not the program's to remove: not
# by an offline of a vif that never was online, nor by online then offline.
test_iptables_admin_rule_of_same_shape_kept() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 ip=10.1.0.1
	ip netns exec "$HOST" iptables -w -A FORWARD -m physdev --physdev-is-bridged \
		--physdev-out vif1.0 -j ACCEPT || fail "cannot add the administrator's rule"
	local before
	before=$(ipt_forward)
	offline 1 0 firewall=iptables
	assert_same "$before" "$(ipt_forward)" "FORWARD after an offline without online"
	online 1 0 firewall=iptables
	offline 1 0 firewall=iptables
	assert_same "$before" "$(ipt_forward)" "FORWARD after online and offline"
}

# ---------------------------------------------------------------- bad value

test_bad_firewall_value_refused() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 ip=10.1.0.1
	local before err
	before=$(host_state)
	run_udev vif-bridge 1 0 online firewall=bogus
	assert_ne 0 "$RC" "exit"
	assert_eq error "$(xs_read $BE/hotplug-status)" "hotplug-status"
	err=$(xs_read $BE/hotplug-error)
	assert_contains "$err" firewall "hotplug-error"
	assert_contains "$err" bogus "hotplug-error"
	assert_same "$before" "$(host_state)" "host state"
	assert_eq "" "$(nft_h list tables)" "nft tables"
	# The same from the environment.
	xs_rm $BE/hotplug-status
	xs_rm $BE/hotplug-error
	RUN_ENV=(firewall=bogus)
	run_udev vif-bridge 1 0 online
	RUN_ENV=()
	assert_ne 0 "$RC" "exit (environment)"
	err=$(xs_read $BE/hotplug-error)
	assert_contains "$err" firewall "hotplug-error (environment)"
	assert_contains "$err" bogus "hotplug-error (environment)"
	assert_same "$before" "$(host_state)" "host state (environment)"
	assert_eq "" "$(nft_h list tables)" "nft tables (environment)"
}

# ---------------------------------------------------------------- routed, NAT

GUEST_IP=10.77.0.2
LAN_IP=192.168.77.2
HOST_LAN_IP=192.168.77.1

# The host routes between a guest ($GR, behind vif2.0 with a /32 route) and
# a LAN namespace ($LAN, behind the host's lan0). Reverse-path filtering is
# off, so that only the firewall drops forged sources. Sets VIF_MAC and
# LAN0_MAC (the host's ends, where the two sides send their frames).
routed_setup() {
	local s
	for s in net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0; do
		ip netns exec "$HOST" sysctl -qw "$s" || fail "sysctl $s"
	done
	vif_add 2 0
	GR=$GUEST
	ns_new LAN
	ip -n "$HOST" link add lan0 type veth peer name eth0 netns "$LAN" || fail "lan veth"
	ip -n "$LAN" link set eth0 up
	ip -n "$LAN" addr add $LAN_IP/24 dev eth0
	ip -n "$HOST" link set lan0 up
	ip -n "$HOST" addr add $HOST_LAN_IP/24 dev lan0
	ip -n "$HOST" link set vif2.0 up
	ip -n "$HOST" addr add 10.77.0.1/32 dev vif2.0
	ip -n "$HOST" route add $GUEST_IP/32 dev vif2.0
	ip -n "$GR" addr add $GUEST_IP/32 dev eth0
	# Neighbours fixed in advance: no first frame waits for ARP.
	ip -n "$HOST" neigh replace $LAN_IP lladdr "$(ip -n "$LAN" -j link show eth0 |
		jq -r '.[0].address')" dev lan0 nud permanent
	ip -n "$HOST" neigh replace $GUEST_IP lladdr "$(vif_mac 2 0)" dev vif2.0 nud permanent
	for s in vif2.0 lan0; do
		ip netns exec "$HOST" sysctl -qw "net/ipv4/conf/$s/rp_filter=0"
	done
	VIF_MAC=$(link_mac vif2.0)
	LAN0_MAC=$(link_mac lan0)
}

fwtool() {
	OUT=$(ip netns exec "$HOST" env -i PATH="$PATH" XEN_LOCK_DIR="$XEN_LOCK_DIR" \
		XEN_RUN_DIR="$XEN_RUN_DIR" "${RUN_ENV[@]}" "$FWTOOL" "$@" 2>&1)
	RC=$?
	echo "\$ fwtool $* -> exit $RC${OUT:+
$OUT}" >>"$SB/transcript"
	return $RC
}

# From the guest towards the LAN (routed by the host); want the last frame.
gprobe() { # WANT FRAME...
	local want=$1
	shift
	probe "$GR" eth0 "$LAN" eth0 "$want" "$@"
}

# From the LAN towards the guest's address.
lprobe() { # WANT FRAME...
	local want=$1
	shift
	probe "$LAN" eth0 "$GR" eth0 "$want" "$@"
}

g2lan() { echo "$1,ipv4,src=$2,dst=$LAN_IP,dmac=$VIF_MAC${3:+,$3}"; }
lan2g() { echo "$1,ipv4,src=$2,dst=$GUEST_IP,dmac=$LAN0_MAC"; }

test_routed_add_filters_sources() {
	routed_setup
	# Without rules everything goes through: what follows is the firewall's doing.
	gprobe legit "$(g2lan forged 10.77.0.99)" "$(g2lan legit $GUEST_IP)"
	assert_arrived forged legit
	lprobe reply "$(lan2g spoof $GUEST_IP)" "$(lan2g reply $LAN_IP)"
	assert_arrived spoof reply

	assert_ok fwtool routed-add dev=vif2.0 ip=$GUEST_IP
	gprobe legit "$(g2lan forged 10.77.0.99)" "$(g2lan forged_net 10.77.0.0)" \
		"$(g2lan legit $GUEST_IP)"
	assert_arrived legit
	assert_eq $GUEST_IP "$(recv_field legit src)" "source seen on the LAN"
	assert_dropped forged forged_net
	# Packets claiming the guest's address from the LAN side are not forwarded.
	lprobe reply "$(lan2g spoof $GUEST_IP)" "$(lan2g reply $LAN_IP)"
	assert_arrived reply
	assert_dropped spoof

	assert_ok fwtool routed-del dev=vif2.0 ip=$GUEST_IP
	local rs
	rs=$(ruleset_json)
	assert_not_contains "$rs" vif2.0 "ruleset after routed-del"
	assert_eq "" "$(set_keys inet vifs)" "vifs after routed-del"
	assert_eq "" "$(set_keys inet claims4)" "claims4 after routed-del"
	assert_fail fw_has_rules inet vif2.0
	gprobe forged "$(g2lan forged 10.77.0.99)"
	assert_arrived forged
	# Deleting again is fine.
	assert_ok fwtool routed-del dev=vif2.0 ip=$GUEST_IP
}

test_routed_add_twice_replaces() {
	routed_setup
	assert_ok fwtool routed-add dev=vif2.0 "ip=$GUEST_IP 2001:db8:77::2"
	assert_ok fwtool routed-add dev=vif2.0 "ip=10.77.0.3 10.78.0.0/24"
	assert_eq "10.77.0.3
10.78.0.0/24" "$(set_keys inet claims4)" \
		"claims4 after the second add"
	assert_eq "" "$(set_keys inet claims6)" "claims6 after the second add"
	assert_eq vif2.0 "$(set_keys inet vifs)" "vifs after the second add"
	assert_not_contains "$(fw_elems inet)" $GUEST_IP "the table after the second add"
	gprobe new "$(g2lan old $GUEST_IP)" "$(g2lan new 10.77.0.3)"
	assert_arrived new
	assert_dropped old
	assert_ok fwtool routed-del dev=vif2.0 "ip=10.77.0.3 10.78.0.0/24"
	assert_not_contains "$(ruleset_json)" vif2.0 "ruleset after routed-del"
	assert_eq "" "$(set_keys inet claims4)" "claims4 after routed-del"
}

# routed-del with another list than routed-add still removes every interval
# the vif had.
test_routed_del_with_other_list() {
	routed_setup
	assert_ok fwtool routed-add dev=vif2.0 "ip=$GUEST_IP 10.78.0.0/24 2001:db8:77::/64"
	assert_ok fwtool routed-del dev=vif2.0 ip=10.79.0.1
	assert_not_contains "$(ruleset_json)" vif2.0 "ruleset after routed-del"
	assert_eq "" "$(set_keys inet claims4)" "claims4 after routed-del"
	assert_eq "" "$(set_keys inet claims6)" "claims6 after routed-del"
	assert_eq "" "$(set_keys inet vifs)" "vifs after routed-del"
}

# What an administrator does to keep the ruleset (nft list ruleset > /etc/nftables.conf):
# the owned tables, with bridged, routed and NAT rules, load back as listed.
test_owned_tables_load_back_as_listed() {
	local saved ns
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 "ip=10.1.0.1 10.2.0.0/24 2001:db8:1::1"
	online 1 0
	assert_ok fwtool routed-add dev=vif2.0 "ip=10.1.0.2 10.3.0.0/24 2001:db8:2::/64"
	assert_ok fwtool masquerade-add dev=lan0
	saved=$(nft_h list ruleset)
	ns_new ns
	ip netns exec "$ns" nft -f - <<<"$saved" 2>"$SB/load.err" ||
		fail "the listed ruleset does not load: $(cat "$SB/load.err")"
	assert_same "$saved" "$(ip netns exec "$ns" nft list ruleset)" "the ruleset loaded back"
	offline 1 0
	assert_ok fwtool routed-del dev=vif2.0
	assert_ok fwtool masquerade-del dev=lan0
	assert_eq "" "$(nft_h list ruleset)" "the ruleset after everything went"
}

test_masquerade() {
	routed_setup
	assert_ok fwtool masquerade-add dev=lan0
	gprobe nat "$(g2lan nat $GUEST_IP sport=4001)"
	assert_arrived nat
	assert_eq $HOST_LAN_IP "$(recv_field nat src)" "source of the masqueraded packet"
	assert_eq lan0 "$(set_keys inet uplinks)" "the set of NAT uplinks"
	assert_ok fwtool masquerade-del dev=lan0
	assert_eq "" "$(set_keys inet masquerade)" "masquerade set after masquerade-del"
	# A new flow (another port: the first one's NAT mapping lives on in
	# conntrack) leaves with the guest's own address.
	gprobe plain "$(g2lan plain $GUEST_IP sport=4002)"
	assert_arrived plain
	assert_eq $GUEST_IP "$(recv_field plain src)" "source after masquerade-del"
	assert_ok fwtool masquerade-del dev=lan0
}

run_tests "$@"
