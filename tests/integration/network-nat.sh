#!/bin/bash
# shellcheck disable=SC2034 # RUN_ENV is read by lib.sh's run_* helpers
# Integration tests for network-nat start|stop|status (SPEC.md sections 1, 5
# and 7; DHCP in dhcp.sh): a host whose eth0 is a veth into a LAN namespace,
# IPv4 forwarding and the masquerade read back from the kernel, nftables and
# iptables, real packets through the host, and the record in XEN_RUN_DIR.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../pkt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../pkt-lib.sh"

LAN_IP=192.0.2.1
HOST_IP=192.0.2.2
LAN=
INSIDE=

# ---------------------------------------------------------------- set-up

# net_setup: the LAN namespace ($LAN, $LAN_IP/24 on lan0), the host's eth0
# ($HOST_IP/24, default route via the LAN) and IPv4 forwarding off.
net_setup() {
	lan_new $HOST_IP
	fwd_set 0
}

# inside_setup: a namespace ($INSIDE, 10.9.0.2/24) routed through the host
# (10.9.0.1 on in0) with no NAT of its own: what masquerades it is network-nat.
inside_setup() {
	ns_new INSIDE
	ip -n "$HOST" link add in0 type veth peer name eth0 netns "$INSIDE" || fail "inside veth"
	ip -n "$HOST" link set in0 up
	ip -n "$HOST" addr add 10.9.0.1/24 dev in0
	ip -n "$INSIDE" link set eth0 up
	ip -n "$INSIDE" addr add 10.9.0.2/24 dev eth0
	ip -n "$INSIDE" route add default via 10.9.0.1
}

fwd() { ip netns exec "$HOST" cat /proc/sys/net/ipv4/ip_forward; }
fwd_set() { ip netns exec "$HOST" sh -c "echo $1 >/proc/sys/net/ipv4/ip_forward"; }
nft_h() { ip netns exec "$HOST" nft "$@"; }
ipt_nat() { ip netns exec "$HOST" iptables -w -t nat -S POSTROUTING; }

# nn ARGS...: network-nat as xend runs it (no terminal, the sandbox's
# XEN_* directories); sets OUT and RC.
nn() { run_env network-nat -- "$@"; }

# The elements of the owned masquerade set (empty when there is none).
masq_set() {
	nft_h -j list table inet xen_hotplug 2>/dev/null | jq -r '.nftables[] | .set // empty |
		select(.name == "uplinks") | .elem[]?' | sort
}

# Everything network-nat may change: forwarding, the nft ruleset, the
# iptables rules, the record in XEN_RUN_DIR, and the links with their
# addresses and routes (which it must not touch).
net_state() {
	local f
	echo "ip_forward=$(fwd)"
	nft_h list ruleset 2>/dev/null
	ip netns exec "$HOST" iptables-save | grep -v '^#'
	for f in "$XEN_RUN_DIR"/*; do
		[[ -e $f ]] && echo "== ${f##*/}" && cat "$f"
	done
	# Link-local IPv6 items come and go with the kernel's DAD: left out.
	ip -n "$HOST" -j addr show | jq -S -c '.[] | {ifname, address, mtu,
		addrs: [.addr_info[]? | select(.local | startswith("fe80") | not)
			| "\(.local)/\(.prefixlen)"]}'
	ip -n "$HOST" -j route show table all | jq -S -c '.[] |
		select(.dst | startswith("fe80") or startswith("ff00") | not)'
}

# A refused call: exit non-zero, a message naming every word given, nothing
# changed since BEFORE.
assert_refused() { # BEFORE WORD...
	local before=$1 w
	shift
	assert_ne 0 "$RC" "exit status"
	for w in "$@"; do
		assert_contains "$OUT" "$w" "message"
	done
	assert_same "$before" "$(net_state)" "state after the refusal"
}

# ---------------------------------------------------------------- start, stop

test_start_stop_nft() {
	net_setup
	inside_setup
	local before
	before=$(net_state)
	nn start netdev=eth0 firewall=nft
	assert_eq 0 "$RC" "start: $OUT"
	assert_eq 1 "$(fwd)" "ip_forward after start"
	assert_eq eth0 "$(masq_set)" "the masquerade set"
	assert_contains "$(nft_h list chain inet xen_hotplug postrouting)" \
		'oifname @uplinks masquerade' "the postrouting chain"
	local rec
	rec=$(cat "$XEN_RUN_DIR/network-nat.eth0")
	assert_contains "$rec" "sysctl ip_forward 0 1" "the record"
	assert_contains "$rec" "masquerade nft" "the record"
	assert_ok test -e "$XEN_RUN_DIR/nft-masquerade/eth0"
	# Real packets: what leaves eth0 carries the host's address.
	assert_eq $HOST_IP "$(lan_udp "$INSIDE" masq1)" "source the LAN saw after start"
	nn stop netdev=eth0
	assert_eq 0 "$RC" "stop: $OUT"
	assert_eq 0 "$(fwd)" "ip_forward after stop"
	assert_eq "" "$(masq_set)" "the masquerade set after stop"
	assert_fail test -e "$XEN_RUN_DIR/network-nat.eth0"
	assert_fail test -e "$XEN_RUN_DIR/nft-masquerade/eth0"
	# Forwarding off again: nothing goes through.
	assert_eq "" "$(lan_udp "$INSIDE" after-stop)" "source the LAN saw after stop"
	# Everything as before: the owned table went with the masquerade, its last
	# content (nothing left behind).
	assert_eq "" "$(nft_h list tables)" "nft tables after stop"
	assert_same "$before" "$(net_state)" "state after stop"
}

test_start_stop_iptables() {
	net_setup
	inside_setup
	# The administrator's own NAT rule, before and after ours.
	ip netns exec "$HOST" iptables -w -t nat -A POSTROUTING -s 198.51.100.0/24 -o eth0 \
		-j SNAT --to-source $HOST_IP
	local before
	before=$(net_state)
	nn start netdev=eth0 firewall=iptables
	assert_eq 0 "$RC" "start: $OUT"
	assert_eq 1 "$(fwd)" "ip_forward after start"
	assert_eq "-P POSTROUTING ACCEPT
-A POSTROUTING -s 198.51.100.0/24 -o eth0 -j SNAT --to-source $HOST_IP
-A POSTROUTING -o eth0 -j MASQUERADE" "$(ipt_nat)" "POSTROUTING after start"
	assert_eq "" "$(nft_h list table inet xen_hotplug 2>/dev/null)" "the nft table"
	assert_contains "$(cat "$XEN_RUN_DIR/network-nat.eth0")" "masquerade iptables" "the record"
	fwd_set 1
	assert_eq $HOST_IP "$(lan_udp "$INSIDE" masq-ipt)" "source the LAN saw"
	# stop finds the backend in the record: no firewall= needed.
	nn stop netdev=eth0
	assert_eq 0 "$RC" "stop: $OUT"
	assert_same "$before" "$(net_state)" "state after stop"
}

# xend runs the same string for start and stop; a second start changes
# nothing, a stop when not started does nothing.
test_start_twice_stop_twice() {
	net_setup
	local before started
	before=$(net_state)
	nn stop netdev=eth0
	assert_eq 0 "$RC" "stop when not started: $OUT"
	assert_same "$before" "$(net_state)" "state after a stop when not started"
	nn start netdev=eth0 firewall=nft
	assert_eq 0 "$RC" "first start: $OUT"
	started=$(net_state)
	nn start netdev=eth0 firewall=nft
	assert_eq 0 "$RC" "second start: $OUT"
	assert_same "$started" "$(net_state)" "state after the second start"
	# Even with another backend asked for: it is started already.
	nn start netdev=eth0 firewall=iptables
	assert_eq 0 "$RC" "third start: $OUT"
	assert_same "$started" "$(net_state)" "state after the third start"
	nn stop netdev=eth0
	assert_eq 0 "$RC" "stop: $OUT"
	assert_eq 0 "$(fwd)" "ip_forward after stop"
	local stopped
	stopped=$(net_state)
	nn stop netdev=eth0
	assert_eq 0 "$RC" "second stop: $OUT"
	assert_same "$stopped" "$(net_state)" "state after the second stop"
}

# Forwarding that was on before start stays on after stop: start did not
# change it, so stop has nothing to put back.
test_forwarding_on_before_stays_on() {
	net_setup
	fwd_set 1
	nn start netdev=eth0
	assert_eq 0 "$RC" "start: $OUT"
	assert_not_contains "$(cat "$XEN_RUN_DIR/network-nat.eth0")" "ip_forward" "the record"
	nn stop netdev=eth0
	assert_eq 0 "$RC" "stop: $OUT"
	assert_eq 1 "$(fwd)" "ip_forward after stop"
	assert_eq "" "$(masq_set)" "the masquerade set after stop"
}

# netdev defaults to the device of the default route at start, and to the
# device start was run for at stop and status.
test_netdev_defaults() {
	net_setup
	nn start
	assert_eq 0 "$RC" "start: $OUT"
	assert_eq eth0 "$(masq_set)" "the masquerade set"
	assert_ok test -e "$XEN_RUN_DIR/network-nat.eth0"
	# The default route gone, stop still knows the device.
	ip -n "$HOST" route del default
	nn status
	assert_eq 0 "$RC" "status: $OUT"
	assert_contains "$OUT" "started for eth0" "status"
	nn stop
	assert_eq 0 "$RC" "stop: $OUT"
	assert_eq "" "$(masq_set)" "the masquerade set after stop"
	assert_eq 0 "$(fwd)" "ip_forward after stop"
	nn start
	assert_ne 0 "$RC" "start without netdev or default route"
	assert_contains "$OUT" "netdev=" "message"
}

# ---------------------------------------------------------------- status

test_status_text_and_json() {
	net_setup
	local before
	before=$(net_state)
	nn status netdev=eth0
	assert_eq 0 "$RC" "status: $OUT"
	assert_contains "$OUT" "not started for eth0" "status before start"
	assert_contains "$OUT" "ip_forward = 0" "status before start"
	assert_contains "$OUT" "masquerade of what leaves eth0: off" "status before start"
	nn status netdev=eth0 --json
	assert_eq 0 "$RC" "status --json: $OUT"
	assert_eq 'false null "no" "0" null' "$(jq -r '[.started, .masquerade, .dhcp,
		.settings[0].value, .dhcp_file] | map(tojson) | join(" ")' <<<"$OUT")" \
		"JSON before start"
	assert_same "$before" "$(net_state)" "state after status"

	nn start netdev=eth0 firewall=nft
	assert_eq 0 "$RC" "start: $OUT"
	nn status netdev=eth0
	assert_eq 0 "$RC" "status: $OUT"
	assert_contains "$OUT" "network-nat: started for eth0" "status"
	assert_contains "$OUT" "net.ipv4.ip_forward = 1 (0 before start)" "status"
	assert_contains "$OUT" "masquerade of what leaves eth0: on (nft)" "status"
	assert_contains "$OUT" "DHCP: no" "status"
	nn status --json
	assert_eq 0 "$RC" "status --json: $OUT"
	assert_eq "network-nat eth0 true nft no net.ipv4.ip_forward 1 0" \
		"$(jq -r '[.program, .netdev, .started, .masquerade, .dhcp, .settings[0].name,
			.settings[0].value, .settings[0].before_start] | join(" ")' <<<"$OUT")" \
		"JSON after start"
	nn start --json
	assert_ne 0 "$RC" "start --json"
	assert_contains "$OUT" "--json goes with status only" "message"
}

# ---------------------------------------------------------------- dry run

test_dry_run_changes_nothing() {
	net_setup
	local before
	before=$(net_state)
	nn -n start netdev=eth0
	assert_eq 0 "$RC" "start -n: $OUT"
	assert_contains "$OUT" "would set net.ipv4.ip_forward to 1" "start -n output"
	assert_contains "$OUT" "would masquerade what leaves eth0" "start -n output"
	assert_same "$before" "$(net_state)" "state after start -n"
	nn start netdev=eth0
	assert_eq 0 "$RC" "start: $OUT"
	before=$(net_state)
	nn -n stop netdev=eth0
	assert_eq 0 "$RC" "stop -n: $OUT"
	assert_contains "$OUT" "would stop masquerading what leaves eth0" "stop -n output"
	assert_contains "$OUT" "would set net.ipv4.ip_forward back to 0" "stop -n output"
	assert_same "$before" "$(net_state)" "state after stop -n"
}

# ---------------------------------------------------------------- refusals

test_bad_values_refused() {
	net_setup
	local before
	before=$(net_state)
	nn start netdev=bad/name
	assert_refused "$before" netdev bad/name
	nn start netdev=nosuchdev0
	assert_refused "$before" netdev nosuchdev0 "does not exist"
	nn start netdev=eth0 dhcp=maybe
	assert_refused "$before" dhcp maybe
	nn start netdev=eth0 firewall=pf
	assert_refused "$before" firewall pf
	nn start netdev=eth0 firewall=none
	assert_refused "$before" firewall=none
	nn start netdev=eth0 dhcp=yes dhcpd_conf=dhcpd.conf
	assert_refused "$before" dhcpd_conf dhcpd.conf
	nn start netdev=eth0 dhcp=dnsmasq "dnsmasq_conf=/etc/dnsmasq.d/xen nat"
	assert_refused "$before" dnsmasq_conf "xen nat"
	nn start netdev=eth0 dhcp=no dnsmasq_hosts=hosts
	assert_refused "$before" dnsmasq_hosts
	# An init script anyone may rewrite is never run as root.
	local init=$SB/init
	printf '#!/bin/sh\nexit 0\n' >"$init"
	chmod 0777 "$init"
	: >"$SB/dhcpd.conf"
	nn start netdev=eth0 dhcp=yes "dhcpd_conf=$SB/dhcpd.conf" "dhcpd_init=$init"
	assert_refused "$before" dhcpd_init "$init" writable
	nn restart netdev=eth0
	assert_refused "$before" restart "start, stop and status"
	# Bad values stop a stop too, and it stays started.
	nn start netdev=eth0
	assert_eq 0 "$RC" "start: $OUT"
	before=$(net_state)
	nn stop netdev=eth0 firewall=pf
	assert_refused "$before" firewall pf
	nn stop netdev=eth0 dhcp=maybe
	assert_refused "$before" dhcp maybe
	nn stop netdev=eth0
	assert_eq 0 "$RC" "stop: $OUT"
}

# A start that fails half-way puts back what it had done.
# A missing dhcpd.conf is found before anything changes. (A start that fails half-way is
# undone: faults.sh fails each of its steps in turn.)
test_missing_dhcpd_conf_refused_first() {
	net_setup
	local before
	before=$(net_state)
	nn start netdev=eth0 firewall=nft dhcp=yes "dhcpd_conf=$SB/missing.conf" \
		dhcpd_init=/bin/true
	assert_ne 0 "$RC" "start with a missing dhcpd.conf"
	assert_contains "$OUT" "$SB/missing.conf" "message"
	assert_eq 0 "$(fwd)" "ip_forward after the failed start"
	assert_eq "" "$(masq_set)" "the masquerade set after the failed start"
	assert_fail test -e "$XEN_RUN_DIR/network-nat.eth0"
	assert_eq "" "$(nft_h list tables)" "nft tables after the failed start"
	assert_same "$before" "$(net_state)" "state after the failed start"
}

# ---------------------------------------------------------------- others' rules

admin_rules() {
	nft_h list table inet admin
	nft_h list table ip natadmin
	ip netns exec "$HOST" iptables-save -t filter | grep -v '^#'
}

test_admin_rules_untouched() {
	net_setup
	nft_h -f - <<'EOF' || fail "cannot create the administrator's tables"
table inet admin {
	set blocked {
		type ipv4_addr
		elements = { 203.0.113.7 }
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		ip saddr @blocked drop
		oifname "eth0" tcp dport 25 drop
	}
}
table ip natadmin {
	chain post {
		type nat hook postrouting priority 100; policy accept;
		oifname "eth0" ip saddr 198.51.100.0/24 snat to 192.0.2.2
	}
}
EOF
	ip netns exec "$HOST" iptables -w -A FORWARD -i eth0 -p udp --dport 53 -j ACCEPT
	local before
	before=$(admin_rules)
	local fw
	for fw in nft iptables; do
		nn start netdev=eth0 firewall=$fw
		assert_eq 0 "$RC" "start ($fw): $OUT"
		assert_same "$before" "$(admin_rules)" "the administrator's rules after start ($fw)"
		nn stop netdev=eth0
		assert_eq 0 "$RC" "stop ($fw): $OUT"
		assert_same "$before" "$(admin_rules)" "the administrator's rules after stop ($fw)"
	done
}

# network-route and network-nat both need forwarding: the first stop leaves
# it on for the other, the last puts back the value from before either.
test_forwarding_shared_with_network_route() {
	net_setup
	inside_setup
	nn start netdev=eth0
	assert_eq 0 "$RC" "network-nat start: $OUT"
	run_env network-route -- start netdev=in0
	assert_eq 0 "$RC" "network-route start: $OUT"
	nn stop netdev=eth0
	assert_eq 0 "$RC" "network-nat stop: $OUT"
	assert_eq 1 "$(fwd)" "ip_forward while network-route is started"
	assert_eq "" "$(masq_set)" "the masquerade set after network-nat stop"
	assert_eq "" "$(nft_h list tables)" "nft tables after network-nat stop"
	run_env network-route -- stop netdev=in0
	assert_eq 0 "$RC" "network-route stop: $OUT"
	assert_eq 0 "$(fwd)" "ip_forward after both stopped"
}

run_tests "$@"
