#!/bin/bash
# valgrind memcheck on the main paths of every program: no errors, no leaks.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../dhcp-lib.sh"

if ! command -v valgrind >/dev/null; then
	echo "valgrind.sh: valgrind is not installed" >&2
	exit 1
fi

# memcheck cannot run a sanitizer build; the sanitizers check that one themselves.
if nm "$BUILD/vif-bridge" 2>/dev/null | grep -q __asan_init; then
	echo "# valgrind.sh: skipped for the ASan build $BUILD"
	echo "0 passed, 0 failed"
	exit 0
fi

# run_udev with the program wrapped in memcheck; a report turns into exit 99.
vg_udev() {
	local wrapper=$SB/vg-$1
	cat >"$wrapper" <<-WRAP
		#!/bin/sh
		exec valgrind -q --error-exitcode=99 --leak-check=full \
			--show-leak-kinds=definite,indirect,possible \
			--errors-for-leak-kinds=definite,indirect,possible \
			--log-file=$SB/valgrind.%p.log $BUILD/$1 "\$@"
	WRAP
	chmod +x "$wrapper"
	shift
	run_udev "$wrapper" "$@"
}

# vg_run PROG ARGS...: PROG under memcheck in the host namespace, as xend would run it.
vg_run() {
	local prog=$1
	shift
	run_env /usr/bin/valgrind -- -q --error-exitcode=99 --leak-check=full \
		--show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible \
		"--log-file=$SB/valgrind.%p.log" "$BUILD/$prog" "$@"
}

vg_reports() {
	cat "$SB"/valgrind.*.log 2>/dev/null
}

test_valgrind_online_offline() {
	bridge_add xenbr0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=xenbr0 mtu=1400
	mkdir -p "$XEN_SCRIPT_DIR/vif-post.d"
	printf 'true\n' >"$XEN_SCRIPT_DIR/vif-post.d/10-ok.hook"
	chmod 755 "$XEN_SCRIPT_DIR/vif-post.d/10-ok.hook"
	vg_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "online under valgrind: $(vg_reports)"
	assert_eq xenbr0 "$(link_master vif1.0)" "vif enslaved"
	vg_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "second online under valgrind: $(vg_reports)"
	vg_udev vif-bridge 1 0 offline
	assert_eq 0 "$RC" "offline under valgrind: $(vg_reports)"
	assert_eq "" "$(link_master vif1.0)" "vif released"
}

test_valgrind_failures() {
	bridge_add xenbr0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=nosuchbr
	vg_udev vif-bridge 1 0 online
	assert_eq 1 "$RC" "missing bridge under valgrind: $(vg_reports)"
	xs_vif_seed 1 0 bridge=xenbr0 mtu=12
	vg_udev vif-bridge 1 0 online
	assert_eq 1 "$RC" "bad mtu under valgrind: $(vg_reports)"
	xs_rm "$(xs_backend 1 0)/mtu"
	xs_vif_seed 1 0 bridge=xenbr0 vifname=taken
	ip -n "$HOST" link add taken type veth peer name taken-peer
	vg_udev vif-bridge 1 0 online
	assert_eq 1 "$RC" "vifname taken under valgrind: $(vg_reports)"
	assert_contains "$OUT" "already exists" "vifname refusal"
	ip -n "$HOST" link del vif1.0
	xs_rm "$(xs_backend 1 0)/vifname"
	vg_udev vif-bridge 1 0 offline
	assert_eq 0 "$RC" "offline of a gone device under valgrind: $(vg_reports)"
}

# network-bridge's start, status and stop on a host whose eth0 leads to a LAN namespace.
test_valgrind_network_bridge() {
	lan_new 192.0.2.10
	ip -n "$HOST" addr add 2001:db8::10/64 dev eth0 nodad
	ip -n "$HOST" route add 203.0.113.0/24 via 192.0.2.1 table 100
	local cmd
	for cmd in start status "status --json" stop; do
		vg_run network-bridge $cmd netdev=eth0 bridge=xenbr0
		assert_eq 0 "$RC" "network-bridge $cmd under valgrind: $(vg_reports)"
	done
	# A refusal, and a failure that unwinds (the bridge name is taken by a non-bridge).
	ip -n "$HOST" link add xenbr0 type veth peer name xenbr0-peer
	vg_run network-bridge start netdev=eth0 bridge=xenbr0
	assert_eq 1 "$RC" "refused start under valgrind: $(vg_reports)"
}

# host_eth0: the host's eth0, a veth into a LAN namespace, with 192.0.2.10/24 and the default
# route through 192.0.2.1.
host_eth0() { lan_new 192.0.2.10; }

# vif-route online (twice: the second finds everything in place), offline, a refusal and an
# offline of a device that is gone; IPv4 and IPv6 entries, firewall rules with a MAC.
test_valgrind_vif_route() {
	host_eth0
	vif_add 1 0
	xs_vif_seed 1 0 "ip=10.1.0.5 10.1.1.0/24 2001:db8:5::/64 2001:db8::5" mtu=1400
	vg_udev vif-route 1 0 online
	assert_eq 0 "$RC" "online under valgrind: $(vg_reports)"
	assert_eq "192.0.2.10/32" "$(link_addrs vif1.0 | grep -v ^fe80)" "vif address"
	assert_eq 1400 "$(link_mtu vif1.0)" "vif MTU"
	assert_contains "$(ip -n "$HOST" -6 neigh show proxy)" "2001:db8::5 dev eth0" "proxy entry"
	vg_udev vif-route 1 0 online
	assert_eq 0 "$RC" "second online under valgrind: $(vg_reports)"
	vg_udev vif-route 1 0 offline
	assert_eq 0 "$RC" "offline under valgrind: $(vg_reports)"
	assert_eq "" "$(ip -n "$HOST" route show 10.1.0.5)" "route gone"
	assert_eq "" "$(ip -n "$HOST" -6 neigh show proxy)" "proxy entry gone"
	ip -n "$HOST" link add eth2 type veth peer name eth2p
	ip -n "$HOST" link set eth2 up
	vg_udev vif-route 1 0 online netdev=eth2
	assert_eq 1 "$RC" "netdev without an address under valgrind: $(vg_reports)"
	assert_contains "$OUT" "no IPv4 address" "refusal"
	ip -n "$HOST" link del vif1.0
	vg_udev vif-route 1 0 offline
	assert_eq 0 "$RC" "offline of a gone device under valgrind: $(vg_reports)"
}

# vif-nat with dnsmasq: the hosts line added at online (and a second online, "already up"),
# removed at offline; a router address past .255 refused.
test_valgrind_vif_nat_dnsmasq() {
	host_eth0
	vif_add 1 0
	xs_vif_seed 1 0
	dnsmasq_sandbox "$SB/dnsmasq" || fail "dnsmasq_sandbox"
	dnsmasq_start "$SB/dnsmasq" || fail "dnsmasq_start"
	RUN_ENV=("${DNSMASQ_ENV[@]}")
	vg_udev vif-nat 1 0 online
	assert_eq 0 "$RC" "online under valgrind: $(vg_reports)"
	assert_contains "$(cat "$SB/dnsmasq/dnsmasq.hosts")" "00:16:3e:00:01:00,10.0.1.1,dom1" \
		"hosts line"
	vg_udev vif-nat 1 0 online
	assert_eq 0 "$RC" "second online under valgrind: $(vg_reports)"
	vg_udev vif-nat 1 0 offline
	assert_eq 0 "$RC" "offline under valgrind: $(vg_reports)"
	assert_not_contains "$(cat "$SB/dnsmasq/dnsmasq.hosts")" "dom1" "hosts line removed"
	xs_vif_seed 1 0 ip=10.0.0.200
	vg_udev vif-nat 1 0 online
	assert_eq 1 "$RC" "router past .255 under valgrind: $(vg_reports)"
	RUN_ENV=()
}

# vif-nat with ISC dhcpd: the host line and the interface list edited and put back, the
# server restarted through its init script.
test_valgrind_vif_nat_isc() {
	host_eth0
	vif_add 300 2
	xs_vif_seed 300 2
	dhcpd_sandbox "$SB/dhcpd" || fail "dhcpd_sandbox"
	RUN_ENV=("${DHCPD_ENV[@]}")
	vg_udev vif-nat 300 2 online
	assert_eq 0 "$RC" "online under valgrind: $(vg_reports)"
	assert_contains "$(cat "$SB/dhcpd/dhcpd.conf")" "host dom300-3 {" "host line"
	vg_udev vif-nat 300 2 offline
	assert_eq 0 "$RC" "offline under valgrind: $(vg_reports)"
	assert_not_contains "$(cat "$SB/dhcpd/dhcpd.conf")" "dom300-3" "host line removed"
	RUN_ENV=()
}

# network-route start (twice), status, stop, and a refusal.
test_valgrind_network_route() {
	host_eth0
	local cmd
	for cmd in start start status "status --json" stop; do
		vg_run network-route $cmd netdev=eth0
		assert_eq 0 "$RC" "network-route $cmd under valgrind: $(vg_reports)"
		if [[ $cmd == start ]]; then
			assert_eq 1 "$(ip netns exec "$HOST" cat /proc/sys/net/ipv4/conf/eth0/proxy_arp)" \
				"proxy ARP on"
			assert_eq 1 "$(ip netns exec "$HOST" cat /proc/sys/net/ipv6/conf/eth0/proxy_ndp)" \
				"proxy NDP on"
		fi
	done
	assert_eq 0 "$(ip netns exec "$HOST" cat /proc/sys/net/ipv4/ip_forward)" "forwarding restored"
	assert_eq 0 "$(ip netns exec "$HOST" cat /proc/sys/net/ipv6/conf/all/forwarding)" \
		"IPv6 forwarding restored"
	vg_run network-route start netdev=nosuch0
	assert_eq 1 "$RC" "missing netdev under valgrind: $(vg_reports)"
}

# network-nat with dnsmasq: start (twice), status, stop, and a refusal; then with ISC dhcpd.
test_valgrind_network_nat() {
	host_eth0
	dnsmasq_sandbox "$SB/dnsmasq" || fail "dnsmasq_sandbox"
	local cmd
	for cmd in start start status "status --json" stop; do
		vg_run network-nat $cmd netdev=eth0 "${DNSMASQ_ENV[@]}"
		assert_eq 0 "$RC" "network-nat $cmd under valgrind: $(vg_reports)"
		if [[ $cmd == start ]]; then
			assert_ok test -f "$SB/dnsmasq/dnsmasq.conf"
			assert_eq 1 "$(ip netns exec "$HOST" cat /proc/sys/net/ipv4/ip_forward)" \
				"forwarding on"
		fi
	done
	assert_fail test -e "$SB/dnsmasq/dnsmasq.conf"
	assert_eq 0 "$(ip netns exec "$HOST" cat /proc/sys/net/ipv4/ip_forward)" "forwarding restored"
	vg_run network-nat start netdev=eth0 dhcp=maybe
	assert_eq 1 "$RC" "bad dhcp value under valgrind: $(vg_reports)"
	# ISC dhcpd: the subnet declaration added and taken out again.
	dhcpd_sandbox "$SB/dhcpd" || fail "dhcpd_sandbox"
	for cmd in start status stop; do
		vg_run network-nat $cmd netdev=eth0 "${DHCPD_ENV[@]}"
		assert_eq 0 "$RC" "network-nat $cmd dhcp=yes under valgrind: $(vg_reports)"
		if [[ $cmd == start ]]; then
			assert_contains "$(cat "$SB/dhcpd/dhcpd.conf")" "subnet 10.0.0.0 netmask 255.0.0.0" \
				"subnet declared"
		fi
	done
	assert_not_contains "$(cat "$SB/dhcpd/dhcpd.conf")" "subnet 10.0.0.0" "subnet removed"
}

run_tests "$@"
