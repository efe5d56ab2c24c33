#!/bin/bash
# shellcheck disable=SC2034 # RUN_ENV is read by lib.sh's run_* helpers
# Integration tests for the DHCP side of NAT mode (SPEC.md section 5): a real
# ISC dhcpd and, separately, a real dnsmasq in the host namespace
# (tests/dhcp-lib.sh), configured by network-nat and vif-nat through their
# files; a DHCP client in a guest namespace must get exactly the address and
# router vif-nat set up. The administrator's files keep their other lines,
# owner and mode byte for byte, and no failure leaves them half edited.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=SCRIPTDIR/../dhcp-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../dhcp-lib.sh"

declare -A G=() # guest namespaces by domid
# The declaration network-nat dhcp=yes adds (a grep pattern: braces are literal).
SUBNET='subnet 10.0.0.0 netmask 255.0.0.0 { option subnet-mask 255.255.0.0; }'

# ---------------------------------------------------------------- set-up

# uplink: the host's eth0 (one end of a veth pair, with the default route),
# for network-nat to masquerade.
uplink() {
	ip -n "$HOST" link add eth0 type veth peer name eth0peer || fail "cannot create eth0"
	ip -n "$HOST" link set eth0peer up
	ip -n "$HOST" link set eth0 up
	ip -n "$HOST" addr add 192.0.2.2/24 dev eth0
	ip -n "$HOST" route add default via 192.0.2.1
}

# nat_start ARGS...: network-nat start on eth0; must succeed.
nat_start() {
	run_env network-nat -- start netdev=eth0 firewall=nft "$@"
	assert_eq 0 "$RC" "network-nat start: $OUT"
}

nat_stop() {
	run_env network-nat -- stop netdev=eth0
	assert_eq 0 "$RC" "network-nat stop: $OUT"
}

# guest D [KEY=VALUE...]: a guest behind vif<D>.0, its namespace in G[D].
guest() {
	local d=$1
	shift
	vif_add "$d" 0
	G[$d]=$GUEST
	xs_vif_seed "$d" 0 "$@"
}

online() { vif_online vif-nat "$1" 0 "${@:2}"; }   # D ARGS...
offline() { vif_offline vif-nat "$1" 0 "${@:2}"; } # D ARGS...

# lease NS [TIMEOUT]: "<address> <router>" of the lease a DHCP client in NS
# gets, nothing when none.
lease() { dhcp_client "$1" eth0 "${2:-10}" 2>/dev/null; }

# with_mac NS MAC: the guest's eth0 takes another MAC (to ask as that guest).
with_mac() {
	ip -n "$1" link set eth0 down
	ip -n "$1" link set eth0 address "$2"
	ip -n "$1" link set eth0 up
}

# A file's bytes, owner and mode, to compare before and after.
file_state() {
	stat -c '%u:%g %a' "$1"
	od -An -c "$1" | md5sum
}

# The lines of FILE that match PATTERN, counted.
count() { grep -c -- "$2" "$1"; }

# The host's links and routes, as vif-nat may change them.
host_state() {
	ip -n "$HOST" -j addr show | jq -S -c '.[] | {ifname, mtu, up: (.flags | index("UP") != null),
		addrs: [.addr_info[]? | select(.local | startswith("fe80") | not)
			| "\(.local)/\(.prefixlen)"]}'
	ip -n "$HOST" -4 -j route show | jq -S -c '.[]'
}

host_line() { # D
	echo "host dom$1 { hardware ethernet $(vif_mac "$1" 0); fixed-address 10.0.$1.1;" \
		"option routers 10.0.$1.128; option host-name \"dom$1\"; }"
}

# netlink_fds PID: the netlink sockets PID holds, one "fd protocol" a line.
# A server started through the init script must hold none of vif-nat's.
netlink_fds() {
	local fd ino
	for fd in /proc/"$1"/fd/*; do
		ino=$(readlink "$fd") || continue
		[[ $ino =~ ^socket:\[([0-9]+)\]$ ]] || continue
		awk -v ino="${BASH_REMATCH[1]}" -v fd="${fd##*/}" \
			'NR > 1 && $10 == ino { print fd, $2 }' "/proc/$1/net/netlink"
	done
}

# ---------------------------------------------------------------- ISC dhcpd

# The whole path with ISC dhcpd: network-nat declares the subnet, vif-nat
# adds each guest and restarts the server, the guests get exactly the address
# and router vif-nat set up; offline takes the guest away (the same client,
# asking as that guest through another vif, gets nothing any more); stop
# leaves dhcpd.conf as the administrator wrote it.
test_isc_leases() {
	uplink
	dhcpd_sandbox "$SB/isc"
	local conf=$SB/isc/dhcpd.conf defaults=$SB/isc/isc-dhcp-server orig
	orig=$(cat "$conf")
	nat_start "${DHCPD_ENV[@]}"
	assert_eq 1 "$(count "$conf" "^$SUBNET\$")" "subnet lines"
	guest 1
	guest 2
	online 1 "${DHCPD_ENV[@]}"
	online 2 "${DHCPD_ENV[@]}"
	assert_eq 'INTERFACESv4="vif1.0 vif2.0"' "$(grep '^INTERFACESv4=' "$defaults")" \
		"the interface list"
	assert_eq "10.0.1.1 10.0.1.128" "$(lease "${G[1]}")" "guest 1's lease"
	assert_eq "10.0.2.1 10.0.2.128" "$(lease "${G[2]}")" "guest 2's lease"
	assert_eq "" "$(netlink_fds "$(cat "$SB/isc/dhcpd.pid")")" "dhcpd's netlink sockets"
	# Guest 2's namespace asking as guest 1 (through vif2.0) gets guest 1's
	# entry: the check after offline can see a lease if there is one.
	with_mac "${G[2]}" "$(vif_mac 1 0)"
	assert_eq "10.0.1.1 10.0.1.128" "$(lease "${G[2]}")" "guest 1's entry through vif2.0"
	offline 1 "${DHCPD_ENV[@]}"
	assert_eq 0 "$(count "$conf" 'host dom1 ')" "guest 1's entries after offline"
	assert_eq 'INTERFACESv4="vif2.0"' "$(grep '^INTERFACESv4=' "$defaults")" \
		"the interface list after offline"
	assert_eq "" "$(lease "${G[2]}" 3)" "guest 1's entry through vif2.0 after offline"
	with_mac "${G[2]}" "$(vif_mac 2 0)"
	assert_eq "10.0.2.1 10.0.2.128" "$(lease "${G[2]}")" "guest 2's lease after offline of 1"
	offline 2 "${DHCPD_ENV[@]}"
	nat_stop
	assert_same "$orig" "$(cat "$conf")" "dhcpd.conf after everything"
	assert_eq 'INTERFACESv4=""' "$(grep '^INTERFACESv4=' "$defaults")" "the interface list"
}

# ---------------------------------------------------------------- dnsmasq

# dnsmasq_reads DIR: how often dnsmasq has read its hosts file (at start,
# then at each SIGHUP).
dnsmasq_reads() { grep -c "read $1/dnsmasq.hosts" "$1/dnsmasq.log" 2>/dev/null; }

# wait_reads DIR N: until dnsmasq has read its hosts file N times (bounded).
wait_reads() {
	local i
	for ((i = 0; i < 200; i++)); do
		(($(dnsmasq_reads "$1") >= $2)) && return 0
		sleep 0.02
	done
	fail "dnsmasq read its hosts file $(dnsmasq_reads "$1") times, not $2"
}

# network-nat writes dnsmasq's configuration and starts it; vif-nat adds a
# hosts line and signals it (the same process rereads, and a guest that
# came after the start gets its lease); offline takes the line away; stop
# removes the configuration.
test_dnsmasq_leases() {
	uplink
	dnsmasq_sandbox "$SB/dm"
	local dir=$SB/dm hosts=$SB/dm/dnsmasq.hosts orig pid reads
	orig=$(cat "$hosts")
	nat_start "${DNSMASQ_ENV[@]}"
	assert_eq "dhcp-range=10.0.0.0,static,255.0.0.0
dhcp-option=option:netmask,255.255.0.0
dhcp-hostsfile=$hosts" "$(grep -v '^#' "$dir/dnsmasq.conf")" "dnsmasq.conf"
	pid=$(cat "$dir/dnsmasq.pid")
	assert_eq dnsmasq "$(cat "/proc/$pid/comm" 2>/dev/null)" "the process of the pid file"
	reads=$(dnsmasq_reads "$dir")
	guest 1
	guest 2
	online 1 "${DNSMASQ_ENV[@]}"
	wait_reads "$dir" $((reads + 1))
	online 2 "${DNSMASQ_ENV[@]}"
	wait_reads "$dir" $((reads + 2))
	assert_eq "$pid" "$(cat "$dir/dnsmasq.pid")" "dnsmasq's pid after two onlines"
	assert_ok dhcp_alive "$pid"
	assert_eq "$orig
$(vif_mac 1 0),10.0.1.1,dom1
$(vif_mac 2 0),10.0.2.1,dom2" "$(cat "$hosts")" "the hosts file"
	assert_eq "10.0.1.1 10.0.1.128" "$(lease "${G[1]}")" "guest 1's lease"
	assert_eq "10.0.2.1 10.0.2.128" "$(lease "${G[2]}")" "guest 2's lease"
	with_mac "${G[2]}" "$(vif_mac 1 0)"
	assert_eq 10.0.1.1 "$(lease "${G[2]}" | cut -d' ' -f1)" "guest 1's entry through vif2.0"
	offline 1 "${DNSMASQ_ENV[@]}"
	wait_reads "$dir" $((reads + 3))
	assert_eq "$orig
$(vif_mac 2 0),10.0.2.1,dom2" "$(cat "$hosts")" "the hosts file after offline"
	assert_eq "" "$(lease "${G[2]}" 3)" "guest 1's entry through vif2.0 after offline"
	assert_eq "$pid" "$(cat "$dir/dnsmasq.pid")" "dnsmasq's pid after offline"
	offline 2 "${DNSMASQ_ENV[@]}"
	assert_same "$orig" "$(cat "$hosts")" "the hosts file after both offlines"
	nat_stop
	assert_fail test -e "$dir/dnsmasq.conf"
	assert_fail dhcp_alive "$pid"
	assert_same "$orig" "$(cat "$hosts")" "the hosts file after stop"
}

# A dnsmasq configuration network-nat did not write is not overwritten.
test_dnsmasq_foreign_conf_refused() {
	uplink
	dnsmasq_sandbox "$SB/dm"
	printf '%s\n' "# mine" "dhcp-range=10.5.0.10,10.5.0.50" >"$SB/dm/dnsmasq.conf"
	local before
	before=$(file_state "$SB/dm/dnsmasq.conf")
	run_env network-nat -- start netdev=eth0 "${DNSMASQ_ENV[@]}"
	assert_ne 0 "$RC" "start over a foreign dnsmasq.conf"
	assert_contains "$OUT" "$SB/dm/dnsmasq.conf" "message"
	assert_contains "$OUT" "not written by network-nat" "message"
	assert_eq "$before" "$(file_state "$SB/dm/dnsmasq.conf")" "dnsmasq.conf"
	assert_eq 0 "$(ip netns exec "$HOST" cat /proc/sys/net/ipv4/ip_forward)" "ip_forward"
	assert_fail test -e "$XEN_RUN_DIR/network-nat.eth0"
}

# ---------------------------------------------------------------- the files

# The administrator's lines, owner and mode survive: online adds one line
# and nothing else, offline gives back the file byte for byte. A host name
# that merely starts like the guest's (dom10 for dom1) is not the guest's.
test_admin_files_survive() {
	local conf=$SB/dhcpd.conf defaults=$SB/defaults hosts=$SB/hosts link=$SB/dhcpd-link.conf
	cat >"$conf" <<'EOF'
# The lab's DHCP server.
default-lease-time 600;   
host dom10 { hardware ethernet 00:16:3e:00:0a:00; fixed-address 10.0.10.1; }
host "dom1-2" { hardware ethernet 00:16:3e:00:01:01; fixed-address 10.0.1.2; }
subnet 192.168.77.0 netmask 255.255.255.0 {
	range 192.168.77.100 192.168.77.200;
}
EOF
	printf '%s\n' '# Set by the administrator.' 'export INTERFACES="eth1 eth2" # the lab' \
		'OPTIONS=""' >"$defaults"
	printf '%s\n' '# MAC,address,name' '00:16:3e:00:0a:00,10.0.10.1,dom10' \
		'00:11:22:33:44:55,192.168.77.10,labprinter' >"$hosts"
	printf 'no newline at the end' >>"$hosts"
	chown 123:45 "$conf" "$defaults" "$hosts"
	chmod 640 "$conf" "$defaults" "$hosts"
	# dhcpd.conf reached through a symbolic link: the target is edited, the
	# link stays a link.
	ln -s "$conf" "$link"
	local c d h
	c=$(file_state "$conf")
	d=$(file_state "$defaults")
	h=$(file_state "$hosts")
	local orig_conf orig_hosts
	orig_conf=$(cat "$conf")
	orig_hosts=$(cat "$hosts")
	local -a isc=(dhcp=yes "dhcpd_conf=$link" "dhcpd_defaults=$defaults" dhcpd_init=/bin/true)
	local -a dm=(dhcp=dnsmasq "dnsmasq_hosts=$hosts" "dnsmasq_pid=$SB/none.pid")
	guest 1
	online 1 "${isc[@]}"
	assert_same "$orig_conf
$(host_line 1)" "$(cat "$conf")" "dhcpd.conf after online"
	assert_eq 'export INTERFACES="eth1 eth2 vif1.0" # the lab' "$(sed -n 2p "$defaults")" \
		"the interface list after online"
	assert_eq "123:45 640" "$(stat -c '%u:%g %a' "$conf")" "owner and mode of dhcpd.conf"
	assert_eq "123:45 640" "$(stat -c '%u:%g %a' "$defaults")" "owner and mode of the defaults"
	assert_ok test -L "$link"
	offline 1 "${isc[@]}"
	assert_eq "$c" "$(file_state "$conf")" "dhcpd.conf after offline"
	assert_eq "$d" "$(file_state "$defaults")" "the defaults file after offline"
	assert_ok test -L "$link"

	online 1 "${dm[@]}"
	assert_same "$orig_hosts
$(vif_mac 1 0),10.0.1.1,dom1" "$(cat "$hosts")" "the hosts file after online"
	assert_eq "123:45 640" "$(stat -c '%u:%g %a' "$hosts")" "owner and mode of the hosts file"
	offline 1 "${dm[@]}"
	# The missing last newline was added with the entry, and stays.
	assert_same "$orig_hosts" "$(cat "$hosts")" "the hosts file after offline"
	assert_eq "123:45 640" "$(stat -c '%u:%g %a' "$hosts")" "owner and mode after offline"
	assert_eq "" "$(find "$SB" -maxdepth 1 -name '.*.??????')" "temporary files left"
}

# Never twice: a line left by a crash is replaced, a vif already in the
# interface list is not added again, and a repeated online makes no second
# entry.
test_never_duplicated() {
	local conf=$SB/dhcpd.conf defaults=$SB/defaults hosts=$SB/hosts
	printf '%s\n' "host dom1 { hardware ethernet $(vif_mac 1 0); fixed-address 10.9.9.9; }" \
		'default-lease-time 600;' >"$conf"
	printf '%s\n' 'INTERFACES="vif1.0"' >"$defaults"
	printf '%s\n' "$(vif_mac 1 0),10.9.9.9,olddom" "00:16:3e:99:99:99,10.9.9.8,dom1" >"$hosts"
	local -a isc=(dhcp=yes "dhcpd_conf=$conf" "dhcpd_defaults=$defaults" dhcpd_init=/bin/true)
	local -a dm=(dhcp=dnsmasq "dnsmasq_hosts=$hosts" "dnsmasq_pid=$SB/none.pid")
	guest 1
	online 1 "${isc[@]}"
	assert_same "default-lease-time 600;
$(host_line 1)" "$(cat "$conf")" "dhcpd.conf after online over a stale line"
	assert_eq 'INTERFACES="vif1.0"' "$(cat "$defaults")" "the interface list"
	# Not "already up" (no route through the vif): online does it all again.
	ip -n "$HOST" route del 10.0.1.1 dev vif1.0
	online 1 "${isc[@]}"
	assert_eq 1 "$(count "$conf" 'host dom1 ')" "entries after the second online"
	assert_eq 'INTERFACES="vif1.0"' "$(cat "$defaults")" "the interface list"
	ip -n "$HOST" route del 10.0.1.1 dev vif1.0
	online 1 "${dm[@]}"
	assert_same "$(vif_mac 1 0),10.0.1.1,dom1" "$(cat "$hosts")" \
		"the hosts file after online over stale lines (same MAC; same name)"
	ip -n "$HOST" route del 10.0.1.1 dev vif1.0
	online 1 "${dm[@]}"
	assert_same "$(vif_mac 1 0),10.0.1.1,dom1" "$(cat "$hosts")" "after the second online"
}

# An interface list vif-nat cannot edit safely (a shell expansion): online
# fails, dhcpd.conf is not left with a host line whose interface is not
# served, both files are byte for byte as before, and so is the host.
test_uneditable_defaults_take_back_host_line() {
	local conf=$SB/dhcpd.conf defaults=$SB/defaults c d before
	printf '%s\n' 'default-lease-time 600;' \
		"host dom1 { hardware ethernet $(vif_mac 1 0); fixed-address 10.9.9.9; }" >"$conf"
	# shellcheck disable=SC2016 # the file's text
	printf '%s\n' 'MYIFACES="eth1"' 'INTERFACESv4="$MYIFACES"' >"$defaults"
	c=$(file_state "$conf")
	d=$(file_state "$defaults")
	guest 1
	before=$(host_state)
	run_udev vif-nat 1 0 online dhcp=yes "dhcpd_conf=$conf" "dhcpd_defaults=$defaults" \
		dhcpd_init=/bin/true
	assert_ne 0 "$RC" "online exit"
	assert_eq error "$(xs_read "$(xs_backend 1 0)/hotplug-status")" "hotplug-status"
	assert_contains "$(xs_read "$(xs_backend 1 0)/hotplug-error")" "$defaults" "hotplug-error"
	assert_eq "$c" "$(file_state "$conf")" "dhcpd.conf (with its stale line) after the failure"
	assert_eq "$d" "$(file_state "$defaults")" "the defaults file after the failure"
	assert_same "$before" "$(host_state)" "host state after the failure"
}

# A real write failure: the file system is full. The file being written is
# untouched and no temporary file is left; when it is the second of the two
# ISC files, the first one is put back byte for byte.
test_full_disk_leaves_files_intact() {
	local full=$SB/full conf=$SB/dhcpd.conf before c d h
	tmpfs_mount "$full" 64k || fail "cannot mount a tmpfs on $full"
	printf '%s\n' 'default-lease-time 600;' >"$conf"
	printf '%s\n' 'INTERFACESv4="eth1"' >"$full/defaults"
	printf '%s\n' '00:11:22:33:44:55,192.168.77.10,labprinter' >"$full/hosts"
	chmod 640 "$full/defaults"
	tmpfs_fill "$full"
	c=$(file_state "$conf")
	d=$(file_state "$full/defaults")
	h=$(file_state "$full/hosts")
	guest 1
	before=$(host_state)
	run_udev vif-nat 1 0 online dhcp=yes "dhcpd_conf=$conf" "dhcpd_defaults=$full/defaults" \
		dhcpd_init=/bin/true
	assert_ne 0 "$RC" "online with the defaults file on a full disk"
	assert_contains "$(xs_read "$(xs_backend 1 0)/hotplug-error")" "No space left" \
		"hotplug-error"
	assert_eq "$c" "$(file_state "$conf")" "dhcpd.conf after the failure"
	assert_eq "$d" "$(file_state "$full/defaults")" "the defaults file after the failure"
	assert_same "$before" "$(host_state)" "host state after the failure"
	run_udev vif-nat 1 0 online dhcp=dnsmasq "dnsmasq_hosts=$full/hosts" \
		"dnsmasq_pid=$SB/none.pid"
	assert_ne 0 "$RC" "online with the hosts file on a full disk"
	assert_eq "$h" "$(file_state "$full/hosts")" "the hosts file after the failure"
	assert_same "$before" "$(host_state)" "host state after the second failure"
	assert_eq "" "$(find "$SB" "$full" -maxdepth 1 -name '.*.??????')" "temporary files left"
	# With room again, the same online works.
	rm -f "$full/.filler"
	online 1 dhcp=yes "dhcpd_conf=$conf" "dhcpd_defaults=$full/defaults" dhcpd_init=/bin/true
	assert_eq 'INTERFACESv4="eth1 vif1.0"' "$(cat "$full/defaults")" "the interface list"
}

# udev starts many vif-nat at once when guests boot: the lock vif-nat-dhcp
# keeps every entry, in both files, and the offlines at once take them all.
test_concurrent_onlines_keep_every_entry() {
	local conf=$SB/dhcpd.conf defaults=$SB/defaults c d i n=8
	printf '%s\n' 'default-lease-time 600;' >"$conf"
	printf '%s\n' 'INTERFACESv4=""' >"$defaults"
	c=$(file_state "$conf")
	d=$(file_state "$defaults")
	local -a isc=(dhcp=yes "dhcpd_conf=$conf" "dhcpd_defaults=$defaults" dhcpd_init=/bin/true)
	for ((i = 1; i <= n; i++)); do
		guest "$i"
	done
	for ((i = 1; i <= n; i++)); do
		(
			run_udev vif-nat "$i" 0 online "${isc[@]}"
			echo "$RC $OUT" >"$SB/rc.$i"
		) &
	done
	wait
	local want=""
	for ((i = 1; i <= n; i++)); do
		assert_eq 0 "$(cut -d' ' -f1 "$SB/rc.$i")" "online of vif$i.0: $(cat "$SB/rc.$i")"
		assert_eq 1 "$(grep -cxF "$(host_line "$i")" "$conf")" "entries of dom$i"
		want+="vif$i.0"$'\n'
	done
	assert_eq "$n" "$(count "$conf" '^host ')" "host lines"
	assert_eq "$(sort <<<"${want%$'\n'}")" \
		"$(sed -n 's/^INTERFACESv4="\(.*\)"$/\1/p' "$defaults" | tr ' ' '\n' | sort)" \
		"the interface list"
	for ((i = 1; i <= n; i++)); do
		(
			run_udev vif-nat "$i" 0 offline "${isc[@]}"
			echo "$RC $OUT" >"$SB/rc.$i"
		) &
	done
	wait
	for ((i = 1; i <= n; i++)); do
		assert_eq 0 "$(cut -d' ' -f1 "$SB/rc.$i")" "offline of vif$i.0: $(cat "$SB/rc.$i")"
	done
	assert_eq "$c" "$(file_state "$conf")" "dhcpd.conf after the offlines"
	assert_eq "$d" "$(file_state "$defaults")" "the defaults file after the offlines"
}

# ---------------------------------------------------------------- every domain

# every_domain isc|dnsmasq: guests of domains 1, 300 and 32000 (Xen's highest domids are just
# below 32752), their addresses derived by vif-nat (10.0.1.1, 10.1.44.1, 10.125.0.1), each get
# their lease from the server network-nat set up, told the /16 of their address and their
# router; after the offlines and stop the file the entries went to is as before.
every_domain() {
	local d want file orig
	local -a env
	local -A addr=([1]=10.0.1 [300]=10.1.44 [32000]=10.125.0)
	if [[ $1 == isc ]]; then
		dhcpd_sandbox "$SB/isc"
		file=$SB/isc/dhcpd.conf env=("${DHCPD_ENV[@]}")
	else
		dnsmasq_sandbox "$SB/dm"
		file=$SB/dm/dnsmasq.hosts env=("${DNSMASQ_ENV[@]}")
	fi
	orig=$(file_state "$file")
	uplink
	nat_start "${env[@]}"
	for d in 1 300 32000; do
		guest "$d"
		online "$d" "${env[@]}"
	done
	for d in 1 300 32000; do
		want="${addr[$d]}.1/255.255.0.0 ${addr[$d]}.128"
		assert_eq "$want" "$(DHCP_CLIENT_MASK=1 lease "${G[$d]}")" "domain $d's lease"
	done
	for d in 1 300 32000; do
		offline "$d" "${env[@]}"
	done
	nat_stop
	assert_eq "$orig" "$(file_state "$file")" "${file##*/} after stop"
	assert_fail test -e "$SB/dm/dnsmasq.conf"
}

test_isc_leases_every_domain() { every_domain isc; }
test_dnsmasq_leases_every_domain() { every_domain dnsmasq; }

# ---------------------------------------------------------------- network-nat

# network-nat dhcp=yes declares 10.0.0.0/8 once, and stop takes away only
# what start added: not a declaration the administrator had (a commented-out
# one does not count).
test_network_nat_subnet_declaration() {
	uplink
	local conf=$SB/dhcpd.conf c
	local -a isc=(dhcp=yes "dhcpd_conf=$conf" dhcpd_init=/bin/true)
	printf '%s\n' "# $SUBNET" 'default-lease-time 600;' >"$conf"
	chown 123:45 "$conf"
	c=$(file_state "$conf")
	nat_start "${isc[@]}"
	assert_eq 1 "$(count "$conf" "^$SUBNET\$")" "subnet lines"
	nat_start "${isc[@]}"
	assert_eq 1 "$(count "$conf" "^$SUBNET\$")" \
		"subnet lines after a second start"
	run_env network-nat -- status netdev=eth0 --json
	assert_eq "yes $conf" "$(jq -r '"\(.dhcp) \(.dhcp_file)"' <<<"$OUT")" "status --json"
	nat_stop
	assert_eq "$c" "$(file_state "$conf")" "dhcpd.conf after stop"

	# The administrator's own declaration of the subnet serves.
	printf '%s\n' 'subnet 10.0.0.0 netmask 255.0.0.0 {' '	option domain-name "nat";' '}' \
		>>"$conf"
	c=$(file_state "$conf")
	nat_start "${isc[@]}"
	assert_eq "$c" "$(file_state "$conf")" "dhcpd.conf after start"
	run_env network-nat -- status netdev=eth0
	assert_contains "$OUT" "declared there before start" "status"
	nat_stop
	assert_eq "$c" "$(file_state "$conf")" "dhcpd.conf after stop"
}

# A start by version 0.1.0 declared 10.0.0.0/16 and recorded no subnet: its stop, run by this
# version after an upgrade, takes that declaration away and leaves the file as before.
test_network_nat_stop_after_upgrade() {
	uplink
	local conf=$SB/dhcpd.conf state=$XEN_RUN_DIR/network-nat.eth0 c
	local -a isc=(dhcp=yes "dhcpd_conf=$conf" dhcpd_init=/bin/true)
	printf '%s\n' 'default-lease-time 600;' >"$conf"
	c=$(file_state "$conf")
	nat_start "${isc[@]}"
	assert_ok grep -q ' 10.0.0.0/8$' "$state"
	# What 0.1.0 left: its declaration, its record's dhcp line without the subnet.
	sed -i "s|^$SUBNET\$|subnet 10.0.0.0 netmask 255.255.0.0 {}|" "$conf"
	sed -i 's| 10.0.0.0/8$||' "$state"
	run_env network-nat -- status netdev=eth0
	assert_contains "$OUT" "10.0.0.0/16 served through $conf" "status of the old start"
	nat_stop
	assert_eq "$c" "$(file_state "$conf")" "dhcpd.conf after stop"
}

run_tests "$@"
