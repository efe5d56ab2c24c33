#!/bin/bash
# make bench (routed, NAT): vif-route and vif-nat online+offline cycles against Debian's scripts and the floor.
#
# One sandbox: a host namespace whose eth0 (192.0.2.2/24, default route through 192.0.2.1)
# is a veth into a LAN namespace, the routed guest's vif1.0 (ip=192.0.2.11 in the store)
# and the NAT guest's vif2.0 (no ip: 10.0.2.1 by the rule of SPEC §5, router 10.0.2.128),
# each a veth into a guest namespace, and the xenstore stand-in seeded as the toolstack
# would. The driver (bench.c), run inside the host namespace, times five cases in turn in
# one run against the same store:
#   route-ours    $BUILD/vif-route online, then offline, as udev ran it for xend with
#                 (vif-script vif-route): the action appended, the vif in the environment
#   route-script  Debian's /etc/xen/scripts/vif-route, the same calls
#   nat-ours      $BUILD/vif-nat dhcp=no online, then offline (vif-script 'vif-nat dhcp=no')
#   nat-script    Debian's /etc/xen/scripts/vif-nat, the same calls
# (our programs and the driver are run from copies in the sandbox, so that a rebuild of
# $BUILD meanwhile cannot break the run)
#   floor         two bare process starts (/bin/true twice): the least two calls can cost
# and prints the medians and, per mode, the ratios script/ours (target >= 30) and ours/floor
# (target <= 3). A missed target is a warning, not a failure: timings on a shared machine
# are noisy.
#
# Every cycle is checked, with the clock stopped (bench.c's --untimed): after online, the
# vif is up with its address (the host's 192.0.2.2/32, or the router address), the route to
# the guest has the right source (and metric 2 for vif-route), proxy ARP is on and
# hotplug-status says connected, and for ours the guest's firewall rules exist (its name in
# the owned inet table); after offline, the route and the rules are gone (and vif-nat's vif
# is down). Then the vif is put back as netback hands it over (down, no address, proxy ARP
# off, no hotplug-status), which the scripts need: Debian's vif-nat fails on an address left
# by an earlier online. So a cycle that did not do its work stops the run instead of being
# timed.
#
# No network-route or network-nat start runs first: forwarding and the masquerade concern
# the host, not what a vif program does per guest.
#
# Knobs (environment): BENCH_ROUNDS (default 200: cycles of ours and of the floor),
# BENCH_SCRIPT_RUNS (default 50: cycles of each script, spread over the same rounds, since
# they are slow), REF_SCRIPT_DIR (default /etc/xen/scripts: where vif-route and vif-nat are
# taken from), BUILD, CC.

set -u

# The sandbox's plan, also what the checks compare with.
HOST_ADDR=192.0.2.2
LAN_ADDR=192.0.2.1
ROUTE_VIF=vif1.0
ROUTE_GUEST=192.0.2.11
NAT_VIF=vif2.0
NAT_GUEST=10.0.2.1
NAT_ROUTER=10.0.2.128

# ---------------------------------------------------------------- the checks
# `routed-nat.sh --check WHAT [ours]`: run by the driver between the timed commands, inside
# the host namespace, so kept to bash, ip, nft and xenstore (lib.sh is not even sourced).
# Prints what is wrong and exits 1 (the driver then shows it and stops).

check_fail() {
	echo "check: $*"
	exit 1
}

# check_link VIF up|down
check_link() {
	local l
	l=$(ip -o link show dev "$1" 2>&1) || check_fail "$1: $l"
	if [[ $2 == up ]]; then
		[[ $l =~ \<([^>]*)\> && ,${BASH_REMATCH[1]}, == *,UP,* ]] || check_fail "$1 is not up: $l"
	else
		[[ $l =~ \<([^>]*)\> && ,${BASH_REMATCH[1]}, != *,UP,* ]] || check_fail "$1 is not down: $l"
	fi
}

# check_addr VIF ADDR/LEN: VIF has that IPv4 address.
check_addr() {
	local a
	a=$(ip -4 -o addr show dev "$1")
	[[ $a == *" inet $2 "* ]] || check_fail "$1 does not have $2: ${a:-(no address)}"
}

# check_route VIF DEST WORDS: the host route to DEST through VIF exists and contains WORDS
# (e.g. "src 192.0.2.2 metric 2").
check_route() {
	local r
	r=$(ip -4 -o route show exact "$2/32" dev "$1")
	[[ -n $r ]] || check_fail "no route to $2 through $1"
	[[ " $r " == *" $3 "* ]] || check_fail "the route to $2 through $1 is '$r', expected '$3'"
}

check_no_route() {
	local r
	r=$(ip -4 -o route show exact "$2/32" dev "$1" 2>/dev/null)
	[[ -z $r ]] || check_fail "the route to $2 through $1 is still there: $r"
}

check_proxy_arp() {
	local v
	v=$(<"/proc/sys/net/ipv4/conf/$1/proxy_arp") || check_fail "cannot read proxy_arp of $1"
	[[ $v == 1 ]] || check_fail "proxy ARP is $v on $1, expected 1"
}

check_connected() {
	local s
	s=$(xenstore-read "/local/domain/0/backend/vif/$1/hotplug-status" 2>&1)
	[[ $s == connected ]] || check_fail "hotplug-status of vif $1 is '$s', expected connected"
}

# check_chain VIF yes|no: the guest's rules in this project's inet table (only ours makes
# one), whatever their layout (a chain per vif, or elements of shared sets): the vif's name
# appears in the table or not.
check_chain() {
	local t
	t=$(nft list table inet xen_hotplug 2>/dev/null)
	if [[ $t == *"\"$1\""* ]]; then
		[[ $2 == yes ]] || check_fail "the firewall rules of $1 are still there"
	else
		[[ $2 == no ]] || check_fail "the firewall rules of $1 are missing"
	fi
}

# reset_vif VIF DOMID/DEVID: the vif as netback hands a new one over.
reset_vif() {
	if ! { ip addr flush dev "$1" && ip link set dev "$1" down &&
		echo 0 >"/proc/sys/net/ipv4/conf/$1/proxy_arp" &&
		xenstore-rm "/local/domain/0/backend/vif/$2/hotplug-status"; }; then
		check_fail "cannot reset $1"
	fi
}

check() {
	local what=$1 ours=${2:-}
	case $what in
	route-online)
		check_link "$ROUTE_VIF" up
		check_addr "$ROUTE_VIF" "$HOST_ADDR/32"
		check_route "$ROUTE_VIF" "$ROUTE_GUEST" "src $HOST_ADDR metric 2"
		check_proxy_arp "$ROUTE_VIF"
		check_connected 1/0
		[[ -z $ours ]] || check_chain "$ROUTE_VIF" yes
		;;
	route-offline)
		# Debian's vif-route leaves the vif up (its ifdown fails quietly), so only the
		# route is checked, which both promise to delete.
		check_no_route "$ROUTE_VIF" "$ROUTE_GUEST"
		check_chain "$ROUTE_VIF" no
		reset_vif "$ROUTE_VIF" 1/0
		;;
	nat-online)
		check_link "$NAT_VIF" up
		check_addr "$NAT_VIF" "$NAT_ROUTER/32"
		check_route "$NAT_VIF" "$NAT_GUEST" "src $NAT_ROUTER"
		check_proxy_arp "$NAT_VIF"
		check_connected 2/0
		[[ -z $ours ]] || check_chain "$NAT_VIF" yes
		;;
	nat-offline)
		check_link "$NAT_VIF" down
		check_no_route "$NAT_VIF" "$NAT_GUEST"
		check_chain "$NAT_VIF" no
		reset_vif "$NAT_VIF" 2/0
		;;
	*) check_fail "unknown check '$what'" ;;
	esac
}

if [[ ${1:-} == --check ]]; then
	shift
	check "$@"
	exit 0
fi

# ---------------------------------------------------------------- the benchmark

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
# shellcheck source=SCRIPTDIR/../lib.sh
. "$HERE/../lib.sh"

ROUNDS=${BENCH_ROUNDS:-200}
SCRIPT_RUNS=${BENCH_SCRIPT_RUNS:-50}
REF_SCRIPT_DIR=${REF_SCRIPT_DIR:-/etc/xen/scripts}

die() {
	echo "bench: $*" >&2
	exit 1
}

# Absolute, since the commands run from wherever make or the caller happens to be.
BUILD=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd) || die "cannot create the build directory"

check_inputs() {
	local p
	for p in vif-route vif-nat bench; do
		[[ -x $BUILD/$p ]] || die "$BUILD/$p is missing: run make bench"
	done
	for p in vif-route vif-nat; do
		[[ -x $REF_SCRIPT_DIR/$p ]] ||
			die "$REF_SCRIPT_DIR/$p is missing: install Debian's xen-utils-common (the reference scripts)"
	done
	for p in ifconfig nft xenstore-rm; do
		command -v "$p" >/dev/null 2>&1 ||
			die "'$p' is missing (net-tools for the scripts, nftables, xenstore-utils)"
	done
	# The scripts send their stderr to this log unconditionally and die without it.
	mkdir -p /var/log/xen || die "cannot create /var/log/xen (the scripts need it)"
}

# The environment the driver starts from, and passes on: a minimal one as udev gives, plus
# the sandbox's XEN_* and XENSTORED_PATH (read by our programs through libxenstore, by the
# scripts' xenstore-read/-write, and by the checks).
driver_env() {
	local v
	DRIVER_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
	for v in $(compgen -e); do
		case $v in
		XEN_* | XENSTORED_PATH) DRIVER_ENV+=("$v=${!v}") ;;
		esac
	done
}

# udev_cycle MODE PROG DOMID [ours] -- ARG...: the bench.c words for one checked
# online+offline cycle of vif<DOMID>.0, as udev ran the vif script in the xend era (the
# vif-script string, here PROG ARG..., with the action appended).
udev_cycle() {
	local mode=$1 prog=$2 d=$3 ours=$4 action
	shift 5
	local -a common=("vif=vif$d.0" "XENBUS_PATH=backend/vif/$d/0" XENBUS_TYPE=vif
		"script=$prog")
	CYCLE=()
	for action in online offline; do
		[[ $action == offline ]] && CYCLE+=(--then)
		CYCLE+=("${common[@]}" "ACTION=$action" "$prog" "$@" "$action"
			--untimed /bin/bash "$SELF" --check "$mode-$action" ${ours:+"$ours"})
	done
}

run_bench() {
	local -a route_ours route_script nat_ours nat_script
	udev_cycle route "$PROGS/vif-route" 1 ours --
	route_ours=("${CYCLE[@]}")
	udev_cycle route "$REF_SCRIPT_DIR/vif-route" 1 '' --
	route_script=("${CYCLE[@]}")
	udev_cycle nat "$PROGS/vif-nat" 2 ours -- dhcp=no
	nat_ours=("${CYCLE[@]}")
	udev_cycle nat "$REF_SCRIPT_DIR/vif-nat" 2 '' -- dhcp=no
	nat_script=("${CYCLE[@]}")
	driver_env
	echo "vif-route and vif-nat online+offline, $ROUNDS rounds ($SCRIPT_RUNS for each script)," \
		"interleaved; every cycle checked, untimed"
	# The driver itself runs in the host namespace, so each timed child starts there directly.
	ip netns exec "$HOST" env -i "${DRIVER_ENV[@]}" "$PROGS/bench" -n "$ROUNDS" \
		--ratio 'route-script/route-ours>=30' --ratio 'route-ours/floor<=3' \
		--ratio 'nat-script/nat-ours>=30' --ratio 'nat-ours/floor<=3' \
		--case route-ours "${route_ours[@]}" \
		--case route-script -n "$SCRIPT_RUNS" "${route_script[@]}" \
		--case nat-ours "${nat_ours[@]}" \
		--case nat-script -n "$SCRIPT_RUNS" "${nat_script[@]}" \
		--case floor /bin/true --then /bin/true
}

setup() {
	local lan p
	sb_new
	sb_state_tmpfs || die "cannot mount a tmpfs for the lock and run directories"
	# Copies: other builds may replace build/ while the benchmark runs, and an execve that
	# meets a half-written program would stop it.
	mkdir -p "$SB/bin" || die "cannot create $SB/bin"
	for p in vif-route vif-nat bench; do
		cp "$BUILD/$p" "$SB/bin/$p" || die "cannot copy $BUILD/$p"
	done
	PROGS=$SB/bin
	ns_new lan
	if ! { ip -n "$HOST" link add name eth0 type veth peer name lan0 netns "$lan" &&
		ip -n "$lan" link set dev lan0 up &&
		ip -n "$lan" addr add "$LAN_ADDR/24" dev lan0 &&
		ip -n "$HOST" link set dev eth0 up &&
		ip -n "$HOST" addr add "$HOST_ADDR/24" dev eth0 &&
		ip -n "$HOST" route add default via "$LAN_ADDR" dev eth0; }; then
		die "cannot give the host its eth0 on a LAN"
	fi
	vif_add 1 0 || die "cannot create $ROUTE_VIF"
	xs_vif_seed 1 0 "ip=$ROUTE_GUEST" script=/etc/xen/scripts/vif-route ||
		die "cannot seed the xenstore stand-in for $ROUTE_VIF"
	vif_add 2 0 || die "cannot create $NAT_VIF"
	xs_vif_seed 2 0 script=/etc/xen/scripts/vif-nat ||
		die "cannot seed the xenstore stand-in for $NAT_VIF"
}

main() {
	check_inputs
	setup
	run_bench || die "the benchmark failed (see above)"
	# The last cycle of every case ended with its checks and the reset: say so.
	echo "checks: every counted and warm-up cycle did its work (routes, addresses," \
		"proxy ARP, hotplug-status, firewall rules): ok"
}

main "$@"
