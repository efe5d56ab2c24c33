#!/bin/bash
# Connection tracking at online: a new guest never inherits an earlier holder's connections.
. "$(dirname "$0")/../lib.sh"

# ct_insert SRC DST PROTO SPORT DPORT: one conntrack entry in the host namespace.
ct_insert() {
	inh conntrack -I -s "$1" -d "$2" -p "$3" --sport "$4" --dport "$5" -t 300 \
		${6:+--state "$6"} -u SEEN_REPLY >/dev/null 2>&1 ||
		fail "cannot create a conntrack entry $1 -> $2"
}

ct_count() {
	inh conntrack -L 2>/dev/null | grep -c -- "$1" || true
}

test_online_forgets_old_connections() {
	bridge_add xenbr0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=xenbr0 "ip=10.1.0.5 2001:db8::5 10.7.0.0/16"
	ct_insert 10.1.0.5 198.51.100.9 tcp 40000 443 ESTABLISHED
	ct_insert 198.51.100.9 10.1.0.5 tcp 50000 22 ESTABLISHED
	ct_insert 2001:db8::5 2001:db8::99 udp 1000 53
	ct_insert 10.1.0.6 198.51.100.9 tcp 40001 443 ESTABLISHED
	ct_insert 10.7.0.9 198.51.100.9 udp 1000 53
	assert_eq 2 "$(ct_count 'src=10.1.0.5 ')" "entries of the old holder before online"
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "online"
	assert_eq 0 "$(ct_count '=10.1.0.5 ')" "IPv4 entries of the guest's address after online"
	assert_eq 0 "$(ct_count '=2001:db8::5 ')" "IPv6 entries of the guest's address after online"
	assert_eq 1 "$(ct_count 'src=10.1.0.6 ')" "another address's entry is kept"
	# Prefixes are routed networks behind the guest, not addresses it took over.
	assert_eq 1 "$(ct_count 'src=10.7.0.9 ')" "an entry within a listed prefix is kept"
}

# A table larger than one unfiltered dump should carry: the kernel filters
# (one dump per address and direction) and the result is the same.
test_online_forgets_in_a_large_table() {
	bridge_add xenbr0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=xenbr0 "ip=10.1.0.5 2001:db8::5"
	local i
	for ((i = 0; i < 5000; i++)); do
		echo "-I -s 10.9.$((i / 250)).$((i % 250 + 1)) -d 198.51.100.9 -p udp --sport 1000 --dport 53 -t 300"
	done >"$SB/ct-load"
	inh conntrack -R "$SB/ct-load" >/dev/null 2>&1 || fail "cannot load 5000 conntrack entries"
	ct_insert 10.1.0.5 198.51.100.9 tcp 40000 443 ESTABLISHED
	ct_insert 198.51.100.9 10.1.0.5 tcp 50000 22 ESTABLISHED
	ct_insert 2001:db8::5 2001:db8::99 udp 1000 53
	local count
	count=$(inh cat /proc/sys/net/netfilter/nf_conntrack_count)
	((count > 4096)) || fail "only $count entries: the test needs more than 4096"
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "online"
	assert_eq 0 "$(ct_count '=10.1.0.5 ')" "IPv4 entries of the guest's address after online"
	assert_eq 0 "$(ct_count '=2001:db8::5 ')" "IPv6 entries of the guest's address after online"
	assert_eq 5000 "$(ct_count 'src=10.9.')" "the other entries are kept"
}

test_online_without_ip_keeps_connections() {
	bridge_add xenbr0
	vif_add 1 0
	xs_vif_seed 1 0 bridge=xenbr0
	ct_insert 10.1.0.5 198.51.100.9 tcp 40000 443 ESTABLISHED
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "online"
	assert_eq 1 "$(ct_count 'src=10.1.0.5 ')" "no ip list: nothing to forget"
}

run_tests "$@"
