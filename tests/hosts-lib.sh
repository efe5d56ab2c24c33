# hosts-lib.sh: the busy hosts the fault and kill loops start from (tests/integration/faults.sh,
# kills.sh): a host namespace with its LAN, a store, guests already online, DHCP files.
# Source it after lib.sh and dhcp-lib.sh.
# shellcheck shell=bash
# shellcheck disable=SC2034 # ISC, FAULT_FILES, DHCP and LAN are read by the sourcing files

BE=/local/domain/0/backend/vif/1/0
FE=/local/domain/1/device/vif/0
VIF_MAC=02:00:00:00:01:00
LAN=

# ---------------------------------------------------------------- common

# host_fresh: new host and LAN namespaces (the host's eth0 192.0.2.2/24 with the default route
# through the LAN), an empty store, run and lock directories, no temporary file a killed edit
# left beside the DHCP files: every run starts from scratch.
host_fresh() {
	local ns
	while read -r ns; do
		[[ -n $ns ]] && ip netns del "$ns" 2>/dev/null
	done < <(tac "$SB/namespaces")
	: >"$SB/namespaces"
	ns_new HOST
	lan_new 192.0.2.2
	inh ip link set dev eth0 address 02:00:00:00:0e:10
	inh sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	xs_rm /local/domain
	# Dot files too: a killed program's temporary files.
	find "${XEN_RUN_DIR:?}" "${XEN_LOCK_DIR:?}" -mindepth 1 -delete
	find "$SB" -maxdepth 2 -type f -name '.*' -delete
}

# vif_fresh D I [IFNAME] [key=value...]: a vif (veth into a new guest namespace) with a fixed
# MAC, and the store seeded for it.
vif_fresh() {
	local d=$1 i=$2 name=vif$1.$2
	shift 2
	if [[ ${1:-} == vif* ]]; then
		name=$1
		shift
	fi
	vif_add "$d" "$i" "$name" || fail "cannot create $name"
	ip -n "$HOST" link set dev "$name" address "${VIF_MAC%?}$d" || fail "MAC of $name"
	xs_vif_seed "$d" "$i" "$@" || fail "cannot seed the store for $name"
}

# must PROG D I ACTION [ARGS...]: a clean run as udev makes it, which must succeed.
must() {
	run_udev "$@"
	assert_eq 0 "$RC" "$1 $4 of vif$2.$3 ($OUT)"
}

# ---------------------------------------------------------------- bridged

# Another guest online on the bridge throughout: "as before" is a busy host.
bridge_host() { # FIREWALL
	host_fresh
	bridge_add xenbr0 1450 || fail "cannot create xenbr0"
	vif_fresh 2 0 bridge=xenbr0 "ip=192.0.2.60" "mac=$(vif_mac 2 0)"
	must vif-bridge 2 0 online "firewall=$1"
	vif_fresh 1 0 bridge=xenbr0 "ip=192.0.2.50 2001:db8::50/128" "mac=$(vif_mac 1 0)"
}

# The old holder of the guest's addresses left connections behind (online forgets them).
old_connections() {
	inh conntrack -I -s 192.0.2.50 -d 198.51.100.9 -p tcp --sport 40000 --dport 443 -t 300 \
		--state ESTABLISHED -u SEEN_REPLY >/dev/null 2>&1 || fail "cannot add a conntrack entry"
}

# ---------------------------------------------------------------- routed

# network-route started (as the fault test of its start checks), another routed guest online.
route_host() {
	host_fresh
	inh sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.eth0.proxy_arp=1 \
		net.ipv6.conf.all.forwarding=1 net.ipv6.conf.eth0.proxy_ndp=1
	vif_fresh 2 0 "ip=192.0.2.60 2001:db8::60"
	must vif-route 2 0 online netdev=eth0
	vif_fresh 1 0 "ip=192.0.2.50 2001:db8:1::/64 2001:db8::50" mtu=1400 vifname=guest0
}

# Forwarding off, network-route not started.
route_stopped_host() {
	host_fresh
	inh sysctl -qw net.ipv4.ip_forward=0
}

# ---------------------------------------------------------------- NAT

# The DHCP files of ISC dhcpd (the init script /bin/true: what is judged is the files; the
# restart is one step) or a real dnsmasq, told by SIGHUP.
isc_files() {
	printf '%s\n' 'default-lease-time 600;' 'host other { hardware ethernet 00:11:22:33:44:55; }' \
		>"$SB/dhcpd.conf"
	printf '%s\n' 'INTERFACESv4="eth1"' >"$SB/isc-dhcp-server"
	chmod 640 "$SB/dhcpd.conf"
	ISC=(dhcp=yes "dhcpd_conf=$SB/dhcpd.conf" "dhcpd_defaults=$SB/isc-dhcp-server"
		dhcpd_init=/bin/true)
	FAULT_FILES=("$SB/dhcpd.conf" "$SB/isc-dhcp-server")
}

# network-nat started with ISC's files, another NAT guest online.
nat_host() {
	host_fresh
	isc_files
	inh sysctl -qw net.ipv4.ip_forward=0
	run_env network-nat -- start netdev=eth0 "${ISC[@]}"
	assert_eq 0 "$RC" "network-nat start ($OUT)"
	vif_fresh 2 0
	must vif-nat 2 0 online "${ISC[@]}"
	vif_fresh 1 0 mtu=1400
	# ARP off, so that turning it on is one of the steps.
	inh ip link set vif1.0 arp off
}

# A real dnsmasq running in the host (it gets SIGHUP for a new entry), another NAT guest online.
dnsmasq_host() {
	host_fresh
	dnsmasq_sandbox "$SB/dnsmasq" || fail "dnsmasq sandbox"
	FAULT_FILES=("$SB/dnsmasq/dnsmasq.hosts")
	dnsmasq_conf "$SB/dnsmasq"
	dnsmasq_start "$SB/dnsmasq" >/dev/null || fail "dnsmasq does not start"
	vif_fresh 2 0
	must vif-nat 2 0 online "${DNSMASQ_ENV[@]}"
	vif_fresh 1 0
}

# nat_stopped_host ISC|DNSMASQ: forwarding off, network-nat not started, its DHCP arguments in
# DHCP: ISC's files, or no dnsmasq files yet (start makes the hosts file, empty).
nat_stopped_host() {
	host_fresh
	inh sysctl -qw net.ipv4.ip_forward=0
	if [[ $1 == ISC ]]; then
		isc_files
		DHCP=("${ISC[@]}")
	else
		rm -f "$SB/dnsmasq.conf" "$SB/dnsmasq.hosts"
		DHCP=(dhcp=dnsmasq "dnsmasq_conf=$SB/dnsmasq.conf"
			"dnsmasq_hosts=$SB/dnsmasq.hosts" dnsmasq_init=/bin/true)
		FAULT_FILES=("$SB/dnsmasq.conf" "$SB/dnsmasq.hosts")
	fi
	# The owned table exists, as after any earlier start and stop (a failed first start
	# leaves it, empty, as start and stop do).
	run_env network-nat -- start netdev=eth0 firewall=nft
	run_env network-nat -- stop netdev=eth0
}

# A failed offline never leaves the vif up without its rules.
offline_safe() { # BEFORE NOW
	local dev=${DEV:-vif1.0}
	if link_is_up "$dev" && ! inh nft list ruleset 2>/dev/null | grep -q "\"$dev\"" &&
		! inh iptables-save 2>/dev/null | grep -q -- "--physdev-in $dev "; then
		echo "$dev is up without its firewall rules"
	fi
}

# route_fault_host COMMAND / nat_fault_host COMMAND ISC|DNSMASQ: what the kill and signal loops
# of network-route and network-nat start from (fault_setup): a host where neither is started,
# and for stop, the program started on it.
# shellcheck disable=SC2317 # fault_setup is called by fault-lib.sh
route_fault_host() {
	CMD=$1
	fault_setup() {
		route_stopped_host
		if [[ $CMD == stop ]]; then
			run_env network-route -- start netdev=eth0
			assert_eq 0 "$RC" "start before stop ($OUT)"
		fi
	}
}

# shellcheck disable=SC2317 # fault_setup is called by fault-lib.sh
nat_fault_host() {
	CMD=$1 KIND=$2
	fault_setup() {
		nat_stopped_host "$KIND"
		# stop leaves dnsmasq's hosts file (network-nat(8)), made by an earlier start: the
		# state before start that stop can restore.
		[[ $KIND == ISC ]] || install -m 644 /dev/null "$SB/dnsmasq.hosts"
		if [[ $CMD == stop ]]; then
			run_env network-nat -- start netdev=eth0 "${DHCP[@]}"
			assert_eq 0 "$RC" "start before stop ($OUT)"
		fi
	}
}

# The emulated NIC of an HVM guest (xl: add/remove type_if=tap), renamed by vifname.
tap_host() {
	bridge_host nft
	inh ip link del vif1.0
	vif_fresh 1 0 vif1.0-emu bridge=xenbr0 vifname=tap1 "ip=192.0.2.50" "mac=$(vif_mac 1 0)"
}
