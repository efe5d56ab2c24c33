#!/bin/bash
# shellcheck disable=SC2034 # FAULT_* and RUN_ENV are read by fault-lib.sh and lib.sh
# shellcheck disable=SC2317 # the fault_* functions are called by fault-lib.sh
# Integration tests for vif-bridge's vlan node (SPEC.md section 4, issue 14): libxl 4.19 writes
# it from the vif spec, and the port must carry exactly those VLANs, with the bridge filtering
# VLANs, its other ports keeping what they carried, and the guest firewall seeing through the
# tags. The host's uplink eth0 is a veth to a LAN namespace; there, 802.1Q sub-interfaces of
# lan0 moved into namespaces of their own are a peer on VLAN 10 and one on VLAN 20, and raw
# frames (tests/tools/pkt.py) show which tags cross the wire.
#
# The kernel's bridge needs CONFIG_BRIDGE_VLAN_FILTERING. Where it is missing, every test checks
# instead that a vif with a vlan node is refused before any change, names the node and what the
# kernel lacks, and notes that its own check was not run.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../pkt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../pkt-lib.sh"
# shellcheck source=SCRIPTDIR/../fault-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault-lib.sh"
# shellcheck source=SCRIPTDIR/../hosts-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../hosts-lib.sh"

BE=/local/domain/0/backend/vif/1/0
EVIL_MAC=00:16:3e:ee:ee:ee
LAN=

# ---------------------------------------------------------------- state

# Everything a vif program may change on the host's links (as in vif-bridge.sh).
host_state() {
	ip -n "$HOST" -j -d addr show | jq -S -c '[.[] | {ifname, address, mtu,
		master: (.master // ""), flags: (.flags | sort),
		addrs: [.addr_info[]? | select(.local | startswith("fe80") | not)
			| "\(.local)/\(.prefixlen)"]}] | sort_by(.ifname) | .[]'
}

# The VLAN table of one port (or of all, without DEV), one "DEV VID [PVID] [untagged]" a line,
# ranges written out.
vlan_table() { # [DEV]
	inh bridge -j vlan show ${1:+dev "$1"} 2>/dev/null | jq -r '.[]? | .ifname as $d |
		.vlans[]? | . as $v | range($v.vlan; ($v.vlanEnd // $v.vlan) + 1) |
		"\($d) \(.)" + (if ($v.flags // []) | index("PVID") then " PVID" else "" end)
			+ (if ($v.flags // []) | index("Egress Untagged") then " untagged" else "" end)'
}

# The bridge's vlan_filtering (0 or 1).
filtering() { # BRIDGE
	ip -n "$HOST" -j -d link show dev "$1" | jq -r '.[0].linkinfo.info_data.vlan_filtering'
}

# Does this kernel's bridge filter VLANs?
kernel_has_bridge_vlan() {
	local ns
	ns_new ns
	ip -n "$ns" link add vprobe type bridge vlan_filtering 1 2>/dev/null
}

# need_vlan_kernel WHAT: where the kernel has no bridge VLAN filtering, check instead that a
# vif with a vlan node is refused before any change, note it, and end the test (passed).
need_vlan_kernel() {
	kernel_has_bridge_vlan && return 0
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0 vlan=10p/20
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_vif_refused $BE "$before" vlan=10p/20 CONFIG_BRIDGE_VLAN_FILTERING
	assert_eq "" "$(ip netns exec "$HOST" nft list tables)" "nft tables after the refusal"
	note "this kernel's bridges have no VLAN filtering: $1 was not checked, only the refusal"
	exit 0
}

# ---------------------------------------------------------------- hosts

# vlan_host: bridge br0 (filtering off, as created) with the uplink eth0, which the
# administrator has made a trunk of VLANs 10 and 20 (tagged; where the kernel filters VLANs); lan0 at the other end in $LAN;
# its sub-interfaces for VLAN 10 and 20 in namespaces $PEER10 and $PEER20, with ADDR10 and
# ADDR20 (default 10.0.0.1/24 and 10.0.1.2/24).
vlan_host() { # [ADDR10 [ADDR20]]
	bridge_add br0
	# The LAN of hosts-lib.sh's host_fresh serves as it is.
	if [[ -z $LAN ]]; then
		ns_new LAN
		ip -n "$HOST" link add eth0 type veth peer name lan0 netns "$LAN" ||
			fail "cannot create the uplink"
	fi
	if ! { ip -n "$HOST" link set eth0 master br0 up && ip -n "$LAN" link set lan0 up; }; then
		fail "cannot set up the uplink"
	fi
	# Without bridge VLAN filtering (nor, here, 802.1Q links) the LAN is lan0 alone.
	kernel_has_bridge_vlan || return 0
	if ! { inh bridge vlan add dev eth0 vid 10 && inh bridge vlan add dev eth0 vid 20; }; then
		fail "cannot make the uplink a trunk"
	fi
	ns_new PEER10
	ns_new PEER20
	if ! { ip -n "$LAN" link add link lan0 name v10 type vlan id 10 &&
		ip -n "$LAN" link add link lan0 name v20 type vlan id 20 &&
		ip -n "$LAN" link set v10 netns "$PEER10" &&
		ip -n "$LAN" link set v20 netns "$PEER20" &&
		ip -n "$PEER10" addr add "${1:-10.0.0.1/24}" dev v10 &&
		ip -n "$PEER10" link set v10 up &&
		ip -n "$PEER20" addr add "${2:-10.0.1.2/24}" dev v20 &&
		ip -n "$PEER20" link set v20 up; }; then
		fail "cannot make the VLAN peers"
	fi
}

# guest D I [KEY=VALUE...]: vif D.I ($GUEST) seeded with bridge=br0 and the extras.
guest() {
	local d=$1 i=$2
	shift 2
	vif_add "$d" "$i" || fail "cannot create vif$d.$i"
	xs_vif_seed "$d" "$i" bridge=br0 "$@" || fail "cannot seed vif$d.$i"
}

pings() { # NS ADDR
	ip netns exec "$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1
}

# --help names the parameter and where it is described.
test_help_names_vlan() {
	run_env vif-bridge -- --help
	assert_eq 0 "$RC" "--help exit"
	assert_contains "$OUT" "vlan=SPEC" "--help text"
	assert_contains "$OUT" "VLANS in vif-bridge(8)" "--help text"
}

# ---------------------------------------------------------------- access port

# vlan=10: the guest's untagged frames are on VLAN 10 only. It reaches the peer on VLAN 10
# and not the one on VLAN 20 (same subnet: only the tag tells them apart).
test_access_guest_reaches_its_vlan_only() {
	need_vlan_kernel "an access port's reach"
	vlan_host 10.0.0.1/24 10.0.0.2/24
	guest 1 0 vlan=10
	local g=$GUEST others
	ip -n "$g" addr add 10.0.0.5/24 dev eth0
	assert_eq 0 "$(filtering br0)" "filtering before"
	others=$(vlan_table)
	vif_online vif-bridge 1 0
	assert_eq 1 "$(filtering br0)" "filtering after online"
	assert_eq "vif1.0 10 PVID untagged" "$(vlan_table vif1.0)" "VLANs of vif1.0"
	# The default PVID the port got on joining is gone; the others' tables are as they were.
	assert_same "$others" "$(vlan_table | grep -v '^vif1\.0 ')" "other ports' VLANs"
	assert_ok pings "$g" 10.0.0.1
	assert_fail pings "$g" 10.0.0.2
	vif_offline vif-bridge 1 0
	assert_eq "" "$(vlan_table vif1.0)" "VLANs of vif1.0 after offline"
	assert_same "$others" "$(vlan_table)" "VLANs after offline"
	# Left on (see vif-bridge(8), VLANS): the trunk on eth0 relies on it.
	assert_eq 1 "$(filtering br0)" "filtering after offline"
}

# ---------------------------------------------------------------- trunk port

# vlan=10p/20: VLAN 10 untagged (the PVID), VLAN 20 tagged, both ways; nothing else.
test_trunk_guest_tags() {
	need_vlan_kernel "a trunk port's tags"
	vlan_host
	guest 1 0 vlan=10p/20
	local g=$GUEST
	ip -n "$g" addr add 10.0.0.6/24 dev eth0
	ip -n "$g" link add link eth0 name eth0.20 type vlan id 20
	ip -n "$g" addr add 10.0.1.6/24 dev eth0.20
	ip -n "$g" link set eth0.20 up
	vif_online vif-bridge 1 0
	assert_same "vif1.0 10 PVID untagged
vif1.0 20" "$(vlan_table vif1.0)" "VLANs of vif1.0"
	assert_ok pings "$g" 10.0.0.1
	assert_ok pings "$g" 10.0.1.2
	# Out: untagged leaves on the uplink as 10, tagged 20 as 20, tagged 30 not at all.
	probe "$g" eth0 "$LAN" lan0 "untagged t20" untagged,raw t20,raw,vlan=20 t30,raw,vlan=30
	assert_arrived untagged t20
	assert_eq 10 "$(recv_field untagged vlan)" "VLAN of the guest's untagged frame on the LAN"
	assert_eq 20 "$(recv_field t20 vlan)" "VLAN of the guest's tagged frame on the LAN"
	assert_dropped t30
	# In: 10 reaches the guest untagged, 20 tagged, 30 not at all.
	probe "$LAN" lan0 "$g" eth0 "in10 in20" in10,raw,vlan=10 in20,raw,vlan=20 in30,raw,vlan=30
	assert_arrived in10 in20
	assert_eq "" "$(recv_field in10 vlan)" "VLAN 10 reaches the guest untagged"
	assert_eq 20 "$(recv_field in20 vlan)" "VLAN 20 reaches the guest tagged"
	assert_dropped in30
}

# ---------------------------------------------------------------- the table

# The list, exactly, in the forms of the grammar, from an argument (no node); a changed node
# on a repeated online changes the table to the new list, nothing more.
test_table_is_exactly_the_list() {
	need_vlan_kernel "the port's table"
	vlan_host
	guest 1 0
	vif_online vif-bridge 1 0 vlan=10p/100+10x4/200-202u/7u
	assert_same "vif1.0 7 untagged
vif1.0 10 PVID untagged
vif1.0 100
vif1.0 110
vif1.0 120
vif1.0 130
vif1.0 200 untagged
vif1.0 201 untagged
vif1.0 202 untagged" "$(vlan_table vif1.0)" "VLANs of vif1.0"
	local state
	state=$(host_state)
	xs_write $BE/vlan 20p/110
	vif_online vif-bridge 1 0
	assert_same "vif1.0 20 PVID untagged
vif1.0 110" "$(vlan_table vif1.0)" "VLANs after the list changed"
	# A renewed online does not bounce the guest's link.
	assert_same "$state" "$(host_state)" "links after the renewed online"
	vif_online vif-bridge 1 0
	assert_same "vif1.0 20 PVID untagged
vif1.0 110" "$(vlan_table vif1.0)" "VLANs after online twice"
}

# Precedence as for every node: environment < key=value < xenstore.
test_vlan_precedence() {
	need_vlan_kernel "the precedence of the vlan sources"
	vlan_host
	guest 1 0
	RUN_ENV=(vlan=30)
	vif_online vif-bridge 1 0
	assert_eq "vif1.0 30 PVID untagged" "$(vlan_table vif1.0)" "from the environment"
	vif_online vif-bridge 1 0 vlan=40
	assert_eq "vif1.0 40 PVID untagged" "$(vlan_table vif1.0)" "argument over environment"
	xs_write $BE/vlan 50
	vif_online vif-bridge 1 0 vlan=40
	RUN_ENV=()
	assert_eq "vif1.0 50 PVID untagged" "$(vlan_table vif1.0)" "xenstore over both"
}

# ---------------------------------------------------------------- other ports

# A guest without a vlan node, online before filtering is turned on, keeps reaching the LAN
# untagged (the bridge's default PVID) afterwards; one that comes after gets that default.
test_other_ports_keep_what_they_carry() {
	need_vlan_kernel "the other ports' traffic"
	vlan_host
	ip -n "$LAN" addr add 192.0.2.1/24 dev lan0
	guest 2 0
	local g2=$GUEST
	ip -n "$g2" addr add 192.0.2.7/24 dev eth0
	vif_online vif-bridge 2 0
	assert_ok pings "$g2" 192.0.2.1
	local before
	before=$(vlan_table)
	assert_contains "$before" "vif2.0 1 PVID untagged" "the plain guest's default PVID"
	guest 1 0 vlan=10
	vif_online vif-bridge 1 0
	assert_same "$before" "$(vlan_table | grep -v '^vif1\.0 ')" "other ports' VLANs"
	assert_ok pings "$g2" 192.0.2.1
	guest 3 0
	local g3=$GUEST
	ip -n "$g3" addr add 192.0.2.8/24 dev eth0
	vif_online vif-bridge 3 0
	assert_eq "vif3.0 1 PVID untagged" "$(vlan_table vif3.0)" "a later plain guest's VLANs"
	assert_ok pings "$g3" 192.0.2.1
}

# Filtering already on (the administrator's): left as it is, by online and offline alike.
test_filtering_already_on() {
	need_vlan_kernel "a bridge already filtering"
	vlan_host
	inh ip link set br0 type bridge vlan_filtering 1
	guest 1 0 vlan=20
	vif_online vif-bridge 1 0
	assert_eq "vif1.0 20 PVID untagged" "$(vlan_table vif1.0)" "VLANs of vif1.0"
	vif_offline vif-bridge 1 0
	assert_eq 1 "$(filtering br0)" "filtering after offline"
}

# A bridge without a default PVID: turning filtering on would cut its other ports off.
test_no_default_pvid_refused() {
	need_vlan_kernel "the refusal of a bridge without a default PVID"
	vlan_host
	inh ip link set br0 type bridge vlan_default_pvid 0
	guest 1 0 vlan=10
	local before vlans
	before=$(host_state)
	vlans=$(vlan_table)
	run_udev vif-bridge 1 0 online
	assert_vif_refused $BE "$before" "default PVID" vlan=10
	assert_same "$vlans" "$(vlan_table)" "VLANs after the refusal"
	assert_eq 0 "$(filtering br0)" "filtering after the refusal"
}

# ---------------------------------------------------------------- offline

test_offline_device_gone() {
	need_vlan_kernel "offline of a vanished vlan port"
	vlan_host
	guest 1 0 vlan=10p/20
	vif_online vif-bridge 1 0
	inh ip link del vif1.0
	vif_offline vif-bridge 1 0
	assert_eq "" "$(vlan_table vif1.0)" "VLANs of the vanished vif"
}

# A vlan node spoilt since online does not stop the clean-up.
test_offline_with_bad_node() {
	need_vlan_kernel "offline with a bad vlan node"
	vlan_host
	guest 1 0 vlan=10
	vif_online vif-bridge 1 0
	xs_write $BE/vlan 10p/20p
	vif_offline vif-bridge 1 0
	assert_eq "" "$(link_master vif1.0)" "master after offline"
	assert_eq "" "$(vlan_table vif1.0)" "VLANs after offline"
}

# ---------------------------------------------------------------- firewall

# A trunk guest cannot hide a forged source behind a tag: the kernel takes the one tag into
# the frame's metadata before the bridge's prerouting hook, so the checks see the header it
# wrapped. Legitimate tagged frames pass with their tag.
test_firewall_sees_through_the_tag() {
	local -a extra=(vlan=10p/20)
	if ! kernel_has_bridge_vlan; then
		# Without filtering the bridge passes tags as they are: the firewall's part alone.
		extra=()
		note "no bridge VLAN filtering in this kernel: the firewall checked without a vlan node"
	fi
	vlan_host
	guest 1 0 "ip=10.0.0.6 10.0.1.6" "mac=$(vif_mac 1 0)" "${extra[@]}"
	local g=$GUEST
	vif_online vif-bridge 1 0
	probe "$g" eth0 "$LAN" lan0 "legit20 legit end" \
		forged_ip20,ipv4,src=10.0.1.66,vlan=20 \
		forged_arp20,arp,spa=10.0.1.66,vlan=20 \
		forged_mac20,ipv4,src=10.0.1.6,smac=$EVIL_MAC,vlan=20 \
		forged_ip,ipv4,src=10.0.0.66 \
		legit20,ipv4,src=10.0.1.6,vlan=20 legit,ipv4,src=10.0.0.6 end,raw,vlan=20
	assert_arrived legit20 legit end
	assert_eq 20 "$(recv_field legit20 vlan)" "VLAN of the legitimate tagged frame"
	assert_dropped forged_ip20 forged_arp20 forged_mac20 forged_ip
	if [[ ${#extra[@]} -gt 0 ]]; then
		assert_eq 10 "$(recv_field legit vlan)" "VLAN of the legitimate untagged frame"
	fi
}

# The control: with firewall=none the same forged tagged frames cross the bridge, tag and all,
# so the drops above are the firewall's, not the VLAN filter's.
test_forged_tagged_arrive_without_firewall() {
	local -a extra=(vlan=10p/20)
	kernel_has_bridge_vlan || extra=()
	vlan_host
	guest 1 0 "ip=10.0.0.6 10.0.1.6" "mac=$(vif_mac 1 0)" "${extra[@]}"
	local g=$GUEST
	vif_online vif-bridge 1 0 firewall=none
	probe "$g" eth0 "$LAN" lan0 "forged_ip20 forged_arp20 forged_mac20" \
		forged_ip20,ipv4,src=10.0.1.66,vlan=20 \
		forged_arp20,arp,spa=10.0.1.66,vlan=20 \
		forged_mac20,ipv4,src=10.0.1.6,smac=$EVIL_MAC,vlan=20
	assert_arrived forged_ip20 forged_arp20 forged_mac20
	assert_eq 20 "$(recv_field forged_ip20 vlan)" "VLAN of the forged frame without a firewall"
}

# ---------------------------------------------------------------- faults

# The fault and signal loops' host: vlan_host with a plain guest online and vif1.0, a trunk
# guest with rules, not yet; fixed MACs, as each setup makes the links anew.
vlan_fault_host() {
	host_fresh
	vlan_host
	inh ip link set br0 address 02:00:00:00:0e:10
	guest 2 0 "ip=10.0.0.7"
	inh ip link set vif2.0 address 02:00:00:00:01:02
	run_udev vif-bridge 2 0 online
	assert_eq 0 "$RC" "online of vif2.0 ($OUT)"
	guest 1 0 vlan=10p/20 "ip=10.0.0.6" "mac=$(vif_mac 1 0)"
	inh ip link set vif1.0 address 02:00:00:00:01:01
}

# fault-lib.sh's state, with every port's VLANs and the bridge's filtering.
vlan_snapshot() {
	fault_state
	vlan_table
	echo "vlan_filtering $(filtering br0)"
}

# Every step of an online with a vlan node fails in turn (tests/fault-lib.sh): the port's
# and the bridge's VLAN state (filtering included) are as before, and so is everything else.
test_faults_leave_vlan_state() {
	need_vlan_kernel "the fault loop of a vlan online"
	fault_setup() { vlan_fault_host; }
	fault_snapshot() { vlan_snapshot; }
	fault_run() { run_udev vif-bridge 1 0 online; }
	FAULT_BACKEND=$BE FAULT_TOLERATED='^ct '
	fault_loop "vif-bridge online (vlan=10p/20)"
}

# SIGTERM, SIGINT or SIGHUP between any two steps: undone the same way, filtering included.
test_signals_leave_vlan_state() {
	need_vlan_kernel "the signal loop of a vlan online"
	fault_setup() { vlan_fault_host; }
	fault_snapshot() { vlan_snapshot; }
	fault_run() { run_udev vif-bridge 1 0 online; }
	FAULT_BACKEND=$BE
	signal_loop "vif-bridge online (vlan=10p/20)"
}

run_tests "$@"
