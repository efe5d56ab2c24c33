#!/bin/bash
# shellcheck disable=SC2034 # RUN_ENV is read by lib.sh's run_* helpers
# Integration tests for vif-nat (SPEC.md sections 2, 5 and 6): a host whose
# eth0 is a veth into a LAN namespace, network-nat started on it, guests in
# their own namespaces behind veth "vifs", real packets in both directions,
# and the kernel's, nftables' and xenstore's state read back after each step.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../pkt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../pkt-lib.sh"
# shellcheck source=SCRIPTDIR/../dhcp-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../dhcp-lib.sh"
# shellcheck source=SCRIPTDIR/../fault-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault-lib.sh"

LAN_IP=192.0.2.1
HOST_IP=192.0.2.2
BE=/local/domain/0/backend/vif/1/0
LAN=

# ---------------------------------------------------------------- set-up

# lan_setup: the LAN namespace ($LAN, $LAN_IP/24 on lan0) and the host's
# eth0 ($HOST_IP/24, default route via the LAN). Reverse-path filtering is
# off on the host, so that what drops a forged packet is the guest firewall.
lan_setup() {
	local s
	lan_new $HOST_IP
	for s in all default eth0; do
		ip netns exec "$HOST" sysctl -qw "net.ipv4.conf.$s.rp_filter=0"
	done
}

# nat_start: network-nat start on eth0 (nft, no DHCP), as xend runs it;
# must succeed.
nat_start() {
	run_env network-nat -- start netdev=eth0 firewall=nft dhcp=no
	assert_eq 0 "$RC" "network-nat start: $OUT"
}

# guest D I [KEY=VALUE...]: a guest behind vif<D>.<I> ($GUEST) with the
# store seeded as the toolstack does it (extras to the backend directory).
guest() {
	local d=$1 i=$2
	shift 2
	vif_add "$d" "$i"
	xs_vif_seed "$d" "$i" "$@"
}

# online|offline D I [ARGS...]: vif-nat as udev runs it; must succeed.
online() { vif_online vif-nat "$@"; }
offline() { vif_offline vif-nat "$@"; }

# guest_net NS ADDR ROUTER: the guest's side as its DHCP lease would set it.
guest_net() {
	ip -n "$1" addr add "$2/16" dev eth0 || fail "cannot give the guest $2"
	ip -n "$1" route add default via "$3" || fail "cannot route the guest via $3"
}

# ---------------------------------------------------------------- state

nft_h() { ip netns exec "$HOST" nft "$@"; }
# Lines sorted as fw_elems sorts them: an expected list of elements.
lines() { printf '%s\n' "$@" | sort; }

# The keys of map or set NAME of table inet xen_hotplug, one a line, sorted.
set_keys() {
	nft_h -j list table inet xen_hotplug 2>/dev/null | jq -r --arg n "$1" '.nftables[] |
		(.map // .set // empty) | select(.name == $n) | .elem[]? |
		if type == "array" then .[0] else . end |
		if type != "object" then tostring
		elif .prefix then "\(.prefix.addr)/\(.prefix.len)"
		else tojson end' | sort
}

sysctl_h() { ip netns exec "$HOST" cat "/proc/sys/net/ipv4/$1" 2>/dev/null; }
# sysctl_set KEY VALUE: KEY relative to /proc/sys/net/ipv4 (vif names hold dots).
# shellcheck disable=SC2016 # expanded by the inner sh
sysctl_set() { ip netns exec "$HOST" sh -c 'echo "$2" >"/proc/sys/net/ipv4/$1"' - "$1" "$2"; }

# The routes of the host's main table through DEV, as JSON lines.
routes_via() {
	ip -n "$HOST" -j route show dev "$1" 2>/dev/null | jq -c '.[]'
}

# Everything vif-nat may change on the host: links (name, MAC, MTU, the
# flags set by hand, not the carrier's, which follows the guest's end;
# addresses), the main routing table, the proxy_arp and arp settings of every
# link, and the nft ruleset. Two equal snapshots: nothing changed.
host_state() {
	local l
	ip -n "$HOST" -j -d addr show | jq -S -c '[.[] | {ifname, address, mtu,
		flags: (.flags - ["LOWER_UP", "NO-CARRIER", "M-DOWN"] | sort),
		addrs: [.addr_info[]? | select(.local | startswith("fe80") | not)
			| "\(.local)/\(.prefixlen)"]}] | sort_by(.ifname) | .[]'
	ip -n "$HOST" -j route show table main | jq -S -c 'sort_by(.dst) | .[]'
	for l in $(ip -n "$HOST" -j link show | jq -r '.[].ifname'); do
		echo "$l proxy_arp=$(sysctl_h "conf/$l/proxy_arp")"
	done
	nft_h list ruleset
}

# Everything the program said: its output and the hotplug log.
msgs() {
	printf '%s\n' "$OUT"
	cat "$XEN_LOG_DIR/xen-hotplug.log" 2>/dev/null
}

# The vif carries guest D's NAT set-up for guest address ADDR and router
# ROUTER: up, ARP on, ROUTER/32, a host route to ADDR with source ROUTER,
# proxy ARP, the firewall's set elements: DEV has rules, restricted to
# ADDR, and ADDR is claimed for DEV (the reverse rule).
assert_nat_vif() { # DEV ADDR ROUTER
	local dev=$1 addr=$2 router=$3 flags
	flags=$(ip -n "$HOST" -j link show dev "$dev" | jq -r '.[0].flags | join(",")')
	assert_contains ",$flags," ",UP," "flags of $dev"
	assert_not_contains ",$flags," ",NOARP," "flags of $dev"
	assert_eq "$router/32" "$(link_addrs "$dev" | grep -v '^fe80')" "addresses of $dev"
	assert_eq "{\"dst\":\"$addr\",\"flags\":[],\"prefsrc\":\"$router\",\"scope\":\"link\"}" \
		"$(routes_via "$dev" | jq -S -c '{dst, flags, prefsrc, scope}')" "routes through $dev"
	assert_eq 1 "$(sysctl_h "conf/$dev/proxy_arp")" "proxy_arp of $dev"
	assert_ok fw_has_rules inet "$dev"
	assert_same "$(lines "vifs $dev" "restricted4 $dev" "addr4 $dev . $addr" \
		"owners4 $addr : $dev")" "$(fw_elems_of inet "$dev")" "the elements of $dev"
	assert_contains "$(fw_elems inet)" "claims4 $addr"$'\n' "the reverse rule's claim"
}

# ---------------------------------------------------------------- packets


# ---------------------------------------------------------------- end to end

# The guest configured as its lease would say reaches the LAN, and the LAN
# sees the host's address as the source: the masquerade of network-nat.
test_guest_reaches_lan_masqueraded() {
	lan_setup
	nat_start
	guest 1 0
	local g=$GUEST
	online 1 0
	guest_net "$g" 10.0.1.1 10.0.1.128
	assert_eq $HOST_IP "$(lan_udp "$g" hello-lan)" "source the LAN saw"
	assert_ok ip netns exec "$g" ping -c 1 -W 2 $LAN_IP
	# A second guest beside it works the same, and the first one still does.
	guest 2 0
	local g2=$GUEST
	online 2 0
	guest_net "$g2" 10.0.2.1 10.0.2.128
	assert_eq $HOST_IP "$(lan_udp "$g2" hello-from-2)" "source the LAN saw from guest 2"
	assert_eq $HOST_IP "$(lan_udp "$g" again-from-1)" "source the LAN saw from guest 1"
	# Guests reach each other through the host.
	assert_ok ip netns exec "$g" ping -c 1 -W 2 10.0.2.1
}

# Without network-nat the same guest reaches the host's router address but
# nothing beyond: what the LAN saw above was the masquerade's doing.
test_without_network_nat_no_masquerade() {
	lan_setup
	ip netns exec "$HOST" sysctl -qw net.ipv4.ip_forward=1
	guest 1 0
	local g=$GUEST
	online 1 0
	guest_net "$g" 10.0.1.1 10.0.1.128
	assert_ok ip netns exec "$g" ping -c 1 -W 2 10.0.1.128
	# Forwarded unchanged: the LAN sees the guest's own address (and has no
	# route back to it).
	assert_eq 10.0.1.1 "$(lan_udp "$g" unmasqueraded)" "source the LAN saw"
}

# ---------------------------------------------------------------- addresses

# domid 300, handle 2: guest 10.1.44.3, router 10.1.44.130, host name
# dom300-3 (the DHCP entry shows it).
test_address_arithmetic_domid_300_handle_2() {
	guest 300 2
	online 300 2 dhcp=dnsmasq "dnsmasq_hosts=$SB/hosts" "dnsmasq_pid=$SB/none.pid"
	assert_nat_vif vif300.2 10.1.44.3 10.1.44.130
	assert_eq "$(vif_mac 300 2),10.1.44.3,dom300-3" "$(cat "$SB/hosts")" "the DHCP entry"
}

# domid and handle come from the store's frontend-id and handle, not from
# the backend path or the device name.
test_ids_from_frontend_id_and_handle() {
	guest 7 0 frontend-id=300 handle=2
	online 7 0 dhcp=dnsmasq "dnsmasq_hosts=$SB/hosts" "dnsmasq_pid=$SB/none.pid"
	assert_nat_vif vif7.0 10.1.44.3 10.1.44.130
	assert_eq "$(vif_mac 7 0),10.1.44.3,dom300-3" "$(cat "$SB/hosts")" "the DHCP entry"
	# Handle 0 is vifid 1: no suffix on the host name; domid 0 is 10.0.0.x.
	guest 0 0
	online 0 0 dhcp=dnsmasq "dnsmasq_hosts=$SB/hosts" "dnsmasq_pid=$SB/none.pid"
	assert_nat_vif vif0.0 10.0.0.1 10.0.0.128
	assert_contains "$(cat "$SB/hosts")" "$(vif_mac 0 0),10.0.0.1,dom0" "the DHCP entries"
}

# ip= gives the guest's address; the router is its last octet + 127. With a
# prefix (the form of the default, 10.x.y.z/16) other NAT guests still work:
# the firewall claims the guest's address only, not the whole subnet.
test_ip_given() {
	lan_setup
	nat_start
	guest 1 0 ip=192.168.50.7
	online 1 0
	assert_nat_vif vif1.0 192.168.50.7 192.168.50.134
	guest 2 0 ip=10.0.2.1/16
	local g2=$GUEST
	online 2 0
	assert_nat_vif vif2.0 10.0.2.1 10.0.2.128
	guest 3 0
	local g3=$GUEST
	online 3 0
	assert_nat_vif vif3.0 10.0.3.1 10.0.3.128
	guest_net "$g2" 10.0.2.1 10.0.2.128
	guest_net "$g3" 10.0.3.1 10.0.3.128
	assert_eq $HOST_IP "$(lan_udp "$g3" from-3)" "source the LAN saw from guest 3"
	assert_ok ip netns exec "$g3" ping -c 1 -W 2 10.0.2.1
}

# An address whose router would pass 255 is an error naming ip; the same
# for a derived address (handle 200 makes .201), naming the handle.
test_router_past_255_refused() {
	local before
	guest 1 0 ip=192.168.50.129
	before=$(host_state)
	run_udev vif-nat 1 0 online
	assert_vif_refused $BE "$before" ip 192.168.50.129 "last octet"
	assert_eq "" "$(msgs | grep -i sanitizer)" "sanitizer reports"
	# 128 is the last that works: router .255.
	xs_write $BE/ip 192.168.50.128
	online 1 0
	assert_nat_vif vif1.0 192.168.50.128 192.168.50.255
	guest 2 200
	before=$(host_state)
	run_udev vif-nat 2 200 online
	assert_vif_refused "$(xs_backend 2 200)" "$before" handle 200
}

# ---------------------------------------------------------------- already up

# A route through the vif means an earlier online did the work: the second
# one exits 0 and changes nothing (not even a setting changed since).
test_already_up() {
	guest 1 0
	online 1 0
	sysctl_set conf/vif1.0/proxy_arp 0
	local before
	before=$(host_state)
	xs_rm $BE/hotplug-status
	online 1 0
	assert_same "$before" "$(host_state)" "host state after the second online"
	assert_eq 0 "$(sysctl_h conf/vif1.0/proxy_arp)" "proxy_arp left alone"
	# Without the route it is not up: online does it all again.
	ip -n "$HOST" route del 10.0.1.1 dev vif1.0
	online 1 0
	assert_nat_vif vif1.0 10.0.1.1 10.0.1.128
}

# ---------------------------------------------------------------- offline

# dnsmasq settings for a test without a dnsmasq: the hosts file with an
# administrator's line, and a pid file of no process.
dnsmasq_files() {
	echo "00:11:22:33:44:55,192.168.77.10,labprinter" >"$SB/hosts"
	DNSMASQ=(dhcp=dnsmasq "dnsmasq_hosts=$SB/hosts" "dnsmasq_pid=$SB/none.pid")
}

assert_vif_gone_from_firewall() { # DEV
	assert_fail fw_has_rules inet "$1"
	assert_eq "" "$(fw_elems_of inet "$1")" "the elements of $1"
	assert_not_contains "$(set_keys vifs)" "$1" "the vifs set"
	assert_not_contains "$(nft_h list ruleset)" "$1" "the ruleset"
}

test_offline_removes_entry_and_rules() {
	dnsmasq_files
	local admin
	admin=$(cat "$SB/hosts")
	guest 1 0
	guest 2 0
	online 2 0 "${DNSMASQ[@]}"
	online 1 0 "${DNSMASQ[@]}"
	assert_eq "$admin
$(vif_mac 2 0),10.0.2.1,dom2
$(vif_mac 1 0),10.0.1.1,dom1" "$(cat "$SB/hosts")" "hosts file after online"
	offline 1 0 "${DNSMASQ[@]}"
	assert_eq "$admin
$(vif_mac 2 0),10.0.2.1,dom2" "$(cat "$SB/hosts")" "hosts file after offline"
	assert_fail link_is_up vif1.0
	assert_eq "" "$(routes_via vif1.0)" "routes through vif1.0"
	assert_vif_gone_from_firewall vif1.0
	assert_eq "10.0.2.1" "$(set_keys claims4)" "claims4 after offline"
	# The other guest is untouched.
	assert_nat_vif vif2.0 10.0.2.1 10.0.2.128
	# Offline again: nothing left to do, still fine.
	offline 1 0 "${DNSMASQ[@]}"
}

# netback removes the vif around offline: the rules and the DHCP entry go
# all the same, and offline exits 0.
test_offline_device_gone() {
	dnsmasq_files
	local admin
	admin=$(cat "$SB/hosts")
	guest 1 0
	online 1 0 "${DNSMASQ[@]}"
	ip -n "$HOST" link del vif1.0
	offline 1 0 "${DNSMASQ[@]}"
	assert_eq "$admin" "$(cat "$SB/hosts")" "hosts file after offline"
	assert_vif_gone_from_firewall vif1.0
	assert_eq "" "$(set_keys claims4)" "claims4 after offline"
	# Its last vif gone, the owned table goes too.
	assert_eq "" "$(nft_h list ruleset)" "ruleset after offline"
	# Gone with its backend directory too (domid and handle from the path).
	guest 2 1
	online 2 1 "${DNSMASQ[@]}"
	ip -n "$HOST" link del vif2.1
	xs_rm "$(xs_backend 2 1)"
	offline 2 1 "${DNSMASQ[@]}"
	assert_eq "$admin" "$(cat "$SB/hosts")" "hosts file after offline of vif2.1"
	assert_vif_gone_from_firewall vif2.1
	assert_eq "" "$(nft_h list ruleset)" "ruleset after offline of vif2.1"
	# A device that never existed.
	xs_vif_seed 3 0
	offline 3 0 "${DNSMASQ[@]}"
}

# A DHCP entry that cannot be removed does not stop the rest of offline:
# the vif goes down and its rules go; the failure is reported.
test_offline_dhcp_failure_still_cleans_up() {
	local conf=$SB/dhcpd.conf
	: >"$conf"
	local -a isc=(dhcp=yes "dhcpd_conf=$conf" dhcpd_init=/bin/true)
	guest 1 0
	online 1 0 "${isc[@]}"
	# The administrator declares the host over several lines meanwhile:
	# vif-nat refuses to edit a declaration it did not write.
	printf 'host dom1 {\n  hardware ethernet 00:16:3e:00:01:00;\n}\n' >>"$conf"
	run_udev vif-nat 1 0 offline "${isc[@]}"
	assert_ne 0 "$RC" "offline exit status"
	assert_contains "$(msgs)" "$conf" "message"
	assert_contains "$(msgs)" "several lines" "message"
	assert_fail link_is_up vif1.0
	assert_vif_gone_from_firewall vif1.0
}

# ---------------------------------------------------------------- refusals

# Each bad value: refused before any change, the message naming the
# parameter and the value; nothing on the host, the store or the DHCP files
# changes.
test_bad_values_refused() {
	dnsmasq_files
	local conf=$SB/dhcpd.conf bad_init=$SB/init.sh
	printf 'default-lease-time 600;\n' >"$conf"
	printf '#!/bin/sh\nexit 0\n' >"$bad_init"
	chmod 0775 "$bad_init"
	guest 2 0
	online 2 0 "${DNSMASQ[@]}"
	guest 1 0
	local before files case kind key value
	before=$(host_state)
	files=$(cat "$SB/hosts" "$conf")
	# KIND|KEY|VALUE|WORD...: KIND xs (a backend node), arg (a key=value
	# argument), env (the environment) or isc (an argument, with ISC dhcpd
	# settings otherwise right); the WORDs must be in the message.
	local -a cases=(
		"xs|ip|10.0.1.300|ip|10.0.1.300"
		"xs|ip|2001:db8::5|ip|2001:db8::5|IPv4"
		"xs|mac|00:16:3e:zz:01:00|mac|00:16:3e:zz:01:00"
		"xs|mtu|10|mtu|10"
		"xs|vifname|a/b|vifname|a/b"
		"xs|frontend-id|abc|frontend-id|abc"
		"xs|handle|99999|handle|99999"
		"arg|firewall|pf|firewall|pf"
		"arg|dhcp|maybe|dhcp|maybe"
		"env|dhcp|sometimes|dhcp|sometimes"
		"arg|dnsmasq_hosts|hosts.txt|dnsmasq_hosts|hosts.txt"
		"arg|dnsmasq_pid|/run/my pid|dnsmasq_pid|/run/my pid"
		"isc|dhcpd_conf|relative/dhcpd.conf|dhcpd_conf|relative/dhcpd.conf"
		"isc|dhcpd_init|$bad_init|dhcpd_init|$bad_init|writable"
	)
	for case in "${cases[@]}"; do
		IFS='|' read -r kind key value _ <<<"$case"
		local -a words
		IFS='|' read -ra words <<<"${case#*|*|*|}"
		xs_vif_seed 1 0
		xs_rm $BE/hotplug-status
		xs_rm $BE/hotplug-error
		case $kind in
		xs)
			xs_write "$BE/$key" "$value"
			run_udev vif-nat 1 0 online "${DNSMASQ[@]}"
			xs_rm "$BE/$key"
			;;
		arg) run_udev vif-nat 1 0 online "${DNSMASQ[@]}" "$key=$value" ;;
		env)
			RUN_ENV=("$key=$value")
			run_udev vif-nat 1 0 online "dnsmasq_hosts=$SB/hosts" "dnsmasq_pid=$SB/none.pid"
			RUN_ENV=()
			;;
		isc)
			run_udev vif-nat 1 0 online dhcp=yes "dhcpd_conf=$conf" dhcpd_init=/bin/true \
				"$key=$value"
			;;
		esac
		assert_vif_refused $BE "$before" "${words[@]}"
		assert_eq "$files" "$(cat "$SB/hosts" "$conf")" "DHCP files after $key=$value"
	done
	# DHCP without the guest's MAC cannot make an entry.
	xs_vif_seed 1 0
	xs_rm $BE/mac
	run_udev vif-nat 1 0 online "${DNSMASQ[@]}"
	assert_vif_refused $BE "$before" mac dhcp=dnsmasq
	# Missing device variables.
	run_env vif-nat XENBUS_PATH=backend/vif/1/0 -- online
	assert_ne 0 "$RC" "exit without vif"
	assert_contains "$OUT" "vif is not set" "message without vif"
	run_env vif-nat vif=vif1.0 -- online
	assert_ne 0 "$RC" "exit without XENBUS_PATH"
	assert_contains "$OUT" "XENBUS_PATH" "message without XENBUS_PATH"
	run_env vif-nat vif=vif1.0 XENBUS_PATH=backend/vif/1/0 -- start
	assert_ne 0 "$RC" "exit of an unknown command"
	assert_contains "$OUT" "valid commands are online, offline" "message of an unknown command"
	assert_same "$before" "$(host_state)" "host state at the end"
}

# ---------------------------------------------------------------- firewall

# The guest may send from its own address only, and nobody else may use
# that address: with firewall=none the same frames go through, so the drops
# are the firewall's doing.
test_guest_firewall() {
	lan_setup
	nat_start
	guest 1 0
	local g=$GUEST vif_mac lan_mac host_mac
	online 1 0 firewall=none
	guest_net "$g" 10.0.1.1 10.0.1.128
	vif_mac=$(link_mac vif1.0)
	host_mac=$(link_mac eth0)
	local g2l="ipv4,dst=$LAN_IP,dmac=$vif_mac" l2g="ipv4,dst=10.0.1.1,dmac=$host_mac"
	probe "$g" eth0 "$LAN" lan0 legit0 "forged0,$g2l,src=10.0.9.9,sport=4000" \
		"legit0,$g2l,src=10.0.1.1,sport=4001"
	assert_arrived forged0 legit0
	probe "$LAN" lan0 "$g" eth0 control0 "spoof0,$l2g,src=10.0.1.1,sport=4002" \
		"control0,$l2g,src=$LAN_IP,sport=4003"
	assert_arrived spoof0 control0

	offline 1 0 firewall=none
	online 1 0
	assert_nat_vif vif1.0 10.0.1.1 10.0.1.128
	probe "$g" eth0 "$LAN" lan0 legit "forged,$g2l,src=10.0.9.9,sport=4010" \
		"forged_net,$g2l,src=10.0.0.0,sport=4011" "legit,$g2l,src=10.0.1.1,sport=4012"
	assert_arrived legit
	assert_eq $HOST_IP "$(recv_field legit src)" "source of the guest's packet on the LAN"
	assert_dropped forged forged_net
	probe "$LAN" lan0 "$g" eth0 control "spoof,$l2g,src=10.0.1.1,sport=4013" \
		"control,$l2g,src=$LAN_IP,sport=4014"
	assert_arrived control
	assert_dropped spoof
}

# ---------------------------------------------------------------- faults

# reset_vif1 [ARGS...]: vif1.0 as before the first online of fault_loop:
# offline (which leaves the router address, proxy ARP, ARP and the MTU, as
# the scripts did), then those by hand.
reset_vif1() {
	offline 1 0 "$@"
	ip -n "$HOST" addr flush dev vif1.0
	ip -n "$HOST" link set vif1.0 mtu 1500 arp off
	sysctl_set conf/vif1.0/proxy_arp 0
}

# Each step of online fails in turn (tests/fault-lib.sh): the run fails and
# the host, the firewall and the DHCP files are as before. Another guest stays
# online throughout (and the owned table exists), so "as before" is a busy
# host, not an empty one. The DHCP server's restart is the one step whose
# failure online rides over, with a warning.
test_fault_online() {
	local conf=$SB/dhcpd.conf defaults=$SB/isc-dhcp-server
	printf 'default-lease-time 600;\n' >"$conf"
	printf 'INTERFACESv4="eth1"\n' >"$defaults"
	ISC=(dhcp=yes "dhcpd_conf=$conf" "dhcpd_defaults=$defaults" dhcpd_init=/bin/true)
	guest 2 0
	online 2 0 "${ISC[@]}"
	guest 1 0 mtu=1400
	# ARP off, so that turning it on is one of the steps.
	ip -n "$HOST" link set vif1.0 arp off
	# A dry run counts nothing.
	RUN_ENV=("LD_PRELOAD=$(fault_preload)" "NLFAIL_COUNT=$SB/nlfail.count")
	run_udev vif-nat 1 0 -n online "${ISC[@]}"
	RUN_ENV=()
	assert_eq "" "$(cat "$SB/nlfail.count" 2>/dev/null)" "steps counted in a dry run"
	FIRST=1
	fault_setup() {
		[[ -n $FIRST ]] || reset_vif1 "${ISC[@]}"
		FIRST=
	}
	fault_run() { run_udev vif-nat 1 0 online "${ISC[@]}"; }
	# shellcheck disable=SC2317 # called by fault-lib.sh
	fault_snapshot() {
		host_state
		cat "$conf" "$defaults"
	}
	FAULT_BACKEND=$BE FAULT_TOLERATED='^exec /bin/true'
	fault_loop online
	assert_nat_vif vif1.0 10.0.1.1 10.0.1.128
}

# ---------------------------------------------------------------- callers

test_xl_style_online_offline() {
	guest 1 0
	run_xl vif-nat 1 0 online
	assert_eq 0 "$RC" "online exit: $OUT"
	assert_eq connected "$(xs_read $BE/hotplug-status)" "hotplug-status"
	assert_nat_vif vif1.0 10.0.1.1 10.0.1.128
	run_xl vif-nat 1 0 offline
	assert_eq 0 "$RC" "offline exit: $OUT"
	assert_fail link_is_up vif1.0
	assert_vif_gone_from_firewall vif1.0
	assert_eq "" "$(nft_h list ruleset)" "ruleset after offline"
}

# The emulated NIC of an HVM guest: NAT mode does nothing for it.
test_tap_does_nothing() {
	vif_add 1 0 vif1.0-emu
	xs_vif_seed 1 0
	local before
	before=$(host_state)
	run_xl vif-nat 1 0 add type_if=tap
	assert_eq 0 "$RC" "add exit: $OUT"
	run_xl vif-nat 1 0 remove type_if=tap
	assert_eq 0 "$RC" "remove exit: $OUT"
	assert_same "$before" "$(host_state)" "host state"
	assert_fail xs_exists $BE/hotplug-status
}

test_vifname() {
	guest 1 0 vifname=natguest1
	online 1 0
	assert_fail link_exists vif1.0
	assert_nat_vif natguest1 10.0.1.1 10.0.1.128
	offline 1 0
	assert_fail link_is_up natguest1
	assert_vif_gone_from_firewall natguest1
	assert_eq "" "$(nft_h list ruleset)" "ruleset after offline"
}

test_dry_run_changes_nothing() {
	guest 1 0
	local before
	before=$(host_state)
	run_udev vif-nat 1 0 -n online
	assert_eq 0 "$RC" "exit: $OUT"
	assert_contains "$OUT" "would give vif1.0 the router address 10.0.1.128" "output"
	assert_contains "$OUT" "would route 10.0.1.1 through vif1.0 (source 10.0.1.128)" "output"
	assert_same "$before" "$(host_state)" "host state after -n online"
	assert_fail xs_exists $BE/hotplug-status
}

# The hooks see the derived address, as the scripts' hooks did.
test_hooks_see_derived_address() {
	local f=$XEN_SCRIPT_DIR/vif-post.d/10-record.hook
	# shellcheck disable=SC2016 # the hook's text
	printf '%s\n' 'echo "$command $dev $ip $mac $type_if" >>"${0%/*}/../../hook.log"' >"$f"
	chmod 0755 "$f"
	guest 1 0
	online 1 0
	offline 1 0
	assert_eq "online vif1.0 10.0.1.1/16 $(vif_mac 1 0) vif
offline vif1.0 10.0.1.1/16 $(vif_mac 1 0) vif" "$(cat "$SB/hook.log")" "what the hook saw"
}

run_tests "$@"
