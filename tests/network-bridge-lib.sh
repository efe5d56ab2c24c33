# network-bridge-lib.sh: the host network-bridge takes over (a NIC into a LAN namespace, with
# addresses and routes of both families in two tables), its dump, and the program as xend runs
# it; for tests/integration/network-bridge.sh and kills.sh. Source it after lib.sh.
# shellcheck shell=bash
# shellcheck disable=SC2034 # BR, PORT, ARGS and LAN are read by the sourcing files

NIC_MAC=02:00:00:00:0e:10
NIC_MTU=1400
LAN=

# ---------------------------------------------------------------- network

# net_setup [NIC]: the host's link to the world. A veth (named NIC, default
# eth0; with NIC=bond0 a veth eth0 enslaved to bond0) into a new LAN namespace
# ($LAN: 192.0.2.1/24, 2001:db8::1/64). NIC carries two IPv4 addresses (the
# second a secondary with a label), an IPv6 address, IPv4 and IPv6 default
# routes, a route with a metric and a route of each family in table 100.
# Returns 2 when the kernel cannot make a bond.
net_setup() {
	local nic=${1:-eth0} phys=${1:-eth0}
	[[ $nic == bond* ]] && phys=eth0
	ns_new LAN
	ip -n "$HOST" link add name "$phys" address $NIC_MAC mtu $NIC_MTU type veth \
		peer name lan0 mtu $NIC_MTU netns "$LAN" || fail "cannot create the veth $phys"
	ip -n "$LAN" -batch - <<-EOF || fail "cannot configure the LAN namespace"
		link set lan0 up
		addr add 192.0.2.1/24 dev lan0
		addr add 2001:db8::1/64 dev lan0 nodad
	EOF
	if [[ $nic != "$phys" ]]; then
		ip -n "$HOST" link add name "$nic" type bond mode active-backup 2>"$SB/bond.err" ||
			return 2
		ip -n "$HOST" link set dev "$phys" master "$nic" || fail "cannot enslave $phys to $nic"
		ip -n "$HOST" link set dev "$nic" mtu $NIC_MTU || fail "cannot set the MTU of $nic"
	fi
	ip -n "$HOST" -batch - <<-EOF || fail "cannot configure $nic"
		link set $phys up
		link set $nic up
		addr add 192.0.2.10/24 dev $nic
		addr add 192.0.2.11/24 dev $nic label $nic:1
		addr add 2001:db8::10/64 dev $nic nodad
		route add default via 192.0.2.1 dev $nic
		route add ::/0 via 2001:db8::1 dev $nic
		route add 198.51.100.0/24 via 192.0.2.1 dev $nic metric 50
		route add default via 192.0.2.1 dev $nic table 100
		route add 2001:db8:100::/48 via 2001:db8::1 dev $nic table 100
	EOF
}

# fresh_net [NIC]: new host and LAN namespaces with net_setup, the previous
# ones deleted and no state or lock file left (a killed run leaves its lock's):
# each step of the fault and kill loops starts from scratch, cheaply.
# shellcheck disable=SC2120 # the NIC is optional
fresh_net() {
	[[ -n $LAN ]] && ip netns del "$LAN" 2>/dev/null
	ip netns del "$HOST" 2>/dev/null
	ns_new HOST
	find "${XEN_RUN_DIR:?}" "${XEN_LOCK_DIR:?}" -mindepth 1 -delete
	net_setup "$@"
}

# use_layout classic|rename [NIC]: the bridge ($BR), the device the bridge
# enslaves ($PORT) and the arguments ($ARGS) of that layout.
use_layout() {
	NIC=${2:-eth0}
	if [[ $1 == rename ]]; then
		BR=$NIC PORT=p$NIC
	else
		BR=xenbr0 PORT=$NIC
	fi
	ARGS=("netdev=$NIC" "bridge=$BR")
}

# ---------------------------------------------------------------- dumps

# net_dump [SKIP]: the host's state, one JSON object a line, sorted; the
# links whose name matches the regex SKIP (and their addresses) left out.
# From one `ip -j -d` batch (links, addresses, IPv4 and IPv6 routes of every
# table) and one jq, as the fault loops take many dumps:
# - links: name, index, MAC, MTU, up, master, kind (and kind as a port);
# - addresses: every field ip shows except the kernel's link-local ones, the
#   transient tentative flag and the lifetime counters (kept as
#   forever/finite);
# - routes: every field, except what the kernel makes for link-local and
#   multicast, and the transient linkdown flag;
# - the state network-bridge keeps in XEN_RUN_DIR: a failed run must not
#   leave (or lose) a state file either.
# shellcheck disable=SC2120 # network-bridge.sh passes SKIP
net_dump() {
	local f run=
	# Files: the firewall's records (directories) belong to the vifs, checked elsewhere.
	for f in "$XEN_RUN_DIR"/*; do
		[[ -f $f ]] && run+="== ${f##*/}"$'\n'"$(cat "$f")"$'\n'
	done
	printf '%s\n' "link show" "addr show" "route show table all root 0.0.0.0/0" \
		"route show table all root ::/0" | ip -n "$HOST" -j -d -batch - |
		jq -n -S -c --arg skip "${1:-}" --arg run "$run" '[inputs] as [$links, $addrs, $r4, $r6]
		| ($links[] | {k: "link", ifname, ifindex, address, mtu,
			up: (.flags | index("UP") != null), master: (.master // ""),
			kind: (.linkinfo.info_kind // ""), slave: (.linkinfo.info_slave_kind // "")}),
		  ($addrs[] | .ifname as $d | .addr_info[]?
			| select(.local | startswith("fe80:") | not)
			| {k: "addr", dev: $d, life: (if .valid_life_time == 4294967295 and
				.preferred_life_time == 4294967295 then "forever" else "finite" end)}
			+ del(.valid_life_time, .preferred_life_time, .tentative)),
		  (($r4[] | .k = "route4"), ($r6[] | .k = "route6")
			| select((.dst | startswith("fe80:")) or .dst == "ff00::/8" | not)
			| .flags = ((.flags // []) - ["linkdown"]) | del(.expires)),
		  (select($run != "") | {k: "run", text: $run})
		| select($skip == "" or ((.ifname // .dev // "") | test($skip) | not))' |
		LC_ALL=C sort
}

# nb_state: net_dump without the link indexes (a link made again gets another index: not a
# difference), for the fault and kill loops.
# shellcheck disable=SC2119 # nothing skipped
nb_state() { net_dump | sed 's/"ifindex":[0-9]*,//'; }

# on_bridge DUMP FROM TO: the address and route lines of DUMP with device FROM
# renamed TO (IPv4 labels too): what TO must carry after start.
on_bridge() {
	printf '%s\n' "$1" | jq -S -c --arg f "$2" --arg t "$3" 'select(.k != "link" and .k != "run")
		| if .dev == $f then .dev = $t else . end
		| if $f != "" and (.label // "" | startswith($f))
		  then .label = $t + .label[($f | length):] else . end' | LC_ALL=C sort
}

# ---------------------------------------------------------------- callers

# The mount table and kernel command line the NFS check reads: a local root
# unless a test writes its own.
nfs_files() {
	[[ -e $SB/mounts ]] || echo "/dev/vda1 / ext4 rw,relatime 0 0" >"$SB/mounts"
	[[ -e $SB/cmdline ]] || echo "root=/dev/vda1 ro quiet" >"$SB/cmdline"
}

# nb ARGS...: network-bridge as xend runs it, in the host namespace; the NFS
# check reads the sandbox's mount table and command line, never the real ones.
nb() {
	nfs_files
	run_env network-bridge "NETWORK_BRIDGE_MOUNTS=$SB/mounts" \
		"NETWORK_BRIDGE_CMDLINE=$SB/cmdline" -- "$@"
}

# nb_stdout ARGS...: the same, stdout only (for --json), into OUT; RC as usual.
nb_stdout() {
	nfs_files
	_base_env
	OUT=$(ip netns exec "$HOST" env -i "${BASE_ENV[@]}" "NETWORK_BRIDGE_MOUNTS=$SB/mounts" \
		"NETWORK_BRIDGE_CMDLINE=$SB/cmdline" "$BUILD/network-bridge" "$@" \
		</dev/null 2>>"$SB/stderr")
	RC=$?
}

# shellcheck disable=SC2317 # fault_setup is called by fault-lib.sh
# nb_fault_host COMMAND LAYOUT: what the fault, kill and signal loops of network-bridge start
# from (fault_setup): a fresh network, and for stop, network-bridge started on it in LAYOUT.
nb_fault_host() {
	CMD=$1
	use_layout "$2"
	fault_setup() {
		# shellcheck disable=SC2119 # the default NIC, eth0
		fresh_net
		if [[ $CMD == stop ]]; then
			nb start "${ARGS[@]}"
			assert_eq 0 "$RC" "start before stop ($OUT)"
		fi
	}
}

# nb_full_state: network-bridge's own dump (up/down states, address lifetimes, ports) and the
# loops' common one (fault_state) without the addresses and routes, which the first shows.
nb_full_state() {
	nb_state
	fault_state | grep -v -E '"k":"(addr|route4|route6)"'
}
