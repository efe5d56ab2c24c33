#!/bin/bash
# make demo: the three network modes of Xen, narrated step by step (MODE=bridge|route|nat: one).
#  bridge  1. vif-bridge connecting two stand-in guests to a bridge made by hand.
#          2. network-bridge taking a host's "physical" eth0 into a bridge as xend does at
#             its start, a guest reaching the LAN through it, and network-bridge giving eth0
#             back at xend's stop, with `ip -j` dumps showing that nothing changed.
#  route   network-route turning on forwarding and proxy ARP, a guest brought up by
#          vif-route reaching the LAN and reached from it, and everything put back.
#  nat     network-nat masquerading and making dnsmasq serve the guests, a guest brought
#          up by vif-nat getting its address by DHCP and reaching the LAN behind the host's
#          address, the DHCP entry and everything else taken away again.
# MODE empty (the default) runs all three in turn; anything else is refused.
#
# No Xen runs here, so every piece Xen would provide gets a stand-in (tests/lib.sh): a
# network namespace plays dom0 (the "host"), a veth pair plays each netback vif with its
# guest end in a namespace of its own, another veth pair plays the host's network card
# with a LAN namespace behind it, and a small xenstored stand-in serves the store on a
# unix socket. The programs themselves are the real ones from build/ (make builds them
# first). Everything is torn down at the end, also on failure or Ctrl-C. Exit status is
# non-zero when any step that should work does not (or a ping that should fail succeeds).

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../tests/lib.sh
. "$HERE/../tests/lib.sh"
# The sandboxed dnsmasq and the DHCP client of the NAT part; its sb_cleanup also stops them.
# shellcheck source=SCRIPTDIR/../tests/dhcp-lib.sh
. "$HERE/../tests/dhcp-lib.sh"

MODE=${MODE:-}
MODES=(bridge route nat)

# Documentation addresses (RFC 5737, RFC 3849): they cannot clash with anything real, and
# they live only inside the sandbox's namespaces anyway. One plan for every part: the LAN's
# router is .1, the host .2, the guests on the LAN .11 and up (one domain each: 1 to 4).
LAN_ADDR=192.0.2.1
HOST_ADDR=192.0.2.2
GUEST1_ADDR=192.0.2.11
GUEST2_ADDR=192.0.2.12
GUEST3_ADDR=192.0.2.13
GUEST4_ADDR=192.0.2.14
# The NAT guest, domain 5 with one card (device 0): the address vif-nat derives from those
# numbers, 10.<5/256>.<5%256>.<0+1>, and the router address, +127 on the last part.
NAT_DOMID=5
NAT_GUEST=10.0.5.1
NAT_ROUTER=10.0.5.128
NAT_PREFIX=16
PREFIX=24
LAN_ADDR6=2001:db8::1
HOST_ADDR6=2001:db8::2
PREFIX6=64
# Part 1 sets it on the hand-made bridge, as a bridge holding the physical card would have
# it (a bridge with only vifs as ports would otherwise adopt their fe:ff:ff:ff:ff:ff, which
# would only confuse); part 2 gives it to the host's card, and network-bridge to the bridge.
HOST_MAC=02:00:c0:00:02:02

if [[ -t 1 ]]; then
	BOLD=$'\e[1m' DIM=$'\e[2m' RED=$'\e[31m' GREEN=$'\e[32m' RESET=$'\e[0m'
else
	BOLD='' DIM='' RED='' GREEN='' RESET=''
fi
STEP=0

heading() {
	STEP=$((STEP + 1))
	printf '\n%s== Step %d: %s ==%s\n' "$BOLD" "$STEP" "$*" "$RESET"
}

# Narration: plain words for a newcomer, one paragraph per argument.
say() {
	local p
	for p in "$@"; do
		printf '%s\n' "$p" | fold -s -w 88 | sed 's/ *$//'
	done
	echo
}

# Prints a command the way one would type it, wrapped with backslashes when long.
print_cmd() {
	local line='$' word q
	for word in "$@"; do
		printf -v q '%q' "$word"
		if ((${#line} + ${#q} + 1 > 88)); then
			printf '%s%s \\%s\n' "$DIM" "$line" "$RESET"
			line="   "
		fi
		line+=" $q"
	done
	printf '%s%s%s\n' "$DIM" "$line" "$RESET"
}

# show CMD...: print the command, run it, indent its output; returns its status.
show() {
	local out rc
	print_cmd "$@"
	out=$("$@" </dev/null 2>&1)
	rc=$?
	[[ -n $out ]] && printf '%s\n' "$out" | sed 's/^/    /'
	return "$rc"
}

bad() {
	printf '%sFAILED: %s%s\n' "$RED" "$*" "$RESET" >&2
	exit 1
}

# must CMD...: a step that has to work.
must() {
	show "$@" || bad "the command above should have worked (exit status $?)"
}

# must_sh 'PIPELINE': a step written as a shell pipeline (ip ... | jq ...): printed as it
# is, run by bash with pipefail, so that a failure anywhere in it counts.
must_sh() {
	local out rc
	printf '%s$ %s%s\n' "$DIM" "$1" "$RESET"
	out=$(bash -o pipefail -c "$1" </dev/null 2>&1)
	rc=$?
	[[ -n $out ]] && printf '%s\n' "$out" | sed 's/^/    /'
	((rc == 0)) || bad "the command above should have worked (exit status $rc)"
}

# quote WORD...: the words as one shell-quoted string, for must_sh.
quote() {
	local q
	printf -v q '%q ' "$@"
	printf '%s' "${q% }"
}

# must_fail CMD...: a step that has to fail (a ping that must not get through).
must_fail() {
	if show "$@"; then
		bad "the command above should have failed"
	fi
	printf '%s(failed, as it should)%s\n' "$GREEN" "$RESET"
}

# The environment of every call: a minimal one, as udev gives, plus the variables that
# point the program at the sandbox (store socket, log, lock and hook directories).
sandbox_env() {
	local v
	SANDBOX_ENV=(PATH=/usr/sbin:/usr/bin:/sbin:/bin)
	for v in XENSTORED_PATH XEN_LOG_DIR XEN_LOCK_DIR XEN_SCRIPT_DIR XEN_RUN_DIR; do
		SANDBOX_ENV+=("$v=${!v}")
	done
}

# udev_call PROG DOMID DEVID ACTION [KEY=VALUE...]: a vif program run exactly as udev ran it
# for xend: the vif-script string ("vif-bridge bridge=xenbr0") with the action appended, so
# the key=value words come before the command, and the device described in the environment.
udev_call() {
	local prog=$1 d=$2 i=$3 action=$4
	shift 4
	must ip netns exec "$HOST" env -i "${SANDBOX_ENV[@]}" \
		"vif=vif$d.$i" "XENBUS_PATH=backend/vif/$d/$i" XENBUS_TYPE=vif \
		"ACTION=$action" "script=$BUILD/$prog" \
		"$BUILD/$prog" "$@" "$action"
}

# Three quick pings, summary only; a failure takes about a second.
PING=(ping -q -c 3 -i 0.2 -W 1)
# The same, waiting longer for the answers: through proxy ARP, each ARP answer comes after a
# random delay of up to 0.8 s (proxy_delay), and a ping across the host may need two.
PING_PROXIED=(ping -q -c 3 -i 0.2 -W 3)

show_vif_state() {
	local d=$1 i=$2
	must ip -n "$HOST" -br link
	must bridge -n "$HOST" link
	must xenstore-read "$(xs_backend "$d" "$i")/hotplug-status"
	must xenstore-read "$(xs_frontend "$d" "$i")/mtu"
}

# The modes to run, from MODE: one of them, or all in turn when it is empty.
check_mode() {
	local m
	if [[ -z $MODE ]]; then
		RUN_MODES=("${MODES[@]}")
		return
	fi
	for m in "${MODES[@]}"; do
		if [[ $MODE == "$m" ]]; then
			RUN_MODES=("$m")
			return
		fi
	done
	printf 'demo: unknown MODE "%s": the modes are %s (no MODE: all of them in turn)\n' \
		"$MODE" "$(printf '%s, ' "${MODES[@]}" | sed 's/, $//')" >&2
	exit 2
}

running() {
	[[ " ${RUN_MODES[*]} " == *" $1 "* ]]
}

mode_words() {
	case $MODE in
	bridge) echo "the bridged mode" ;;
	route) echo "the routed mode" ;;
	nat) echo "the NAT mode" ;;
	*) echo "all three, one after the other" ;;
	esac
}

check_tools() {
	local t
	for t in ping bridge xenstore-ls fold; do
		command -v "$t" >/dev/null 2>&1 ||
			bad "the demo needs '$t' (iputils-ping, iproute2, xenstore-utils, coreutils)"
	done
	for t in jq diff; do
		command -v "$t" >/dev/null 2>&1 || bad "the demo needs '$t' (jq, diffutils)"
	done
	if running route || running nat; then
		command -v nft >/dev/null 2>&1 || bad "the demo needs 'nft' (nftables)"
	fi
	if running nat; then
		for t in dnsmasq dhclient tcpdump; do
			command -v "$t" >/dev/null 2>&1 ||
				bad "the demo needs '$t' (dnsmasq, isc-dhcp-client, tcpdump)"
		done
	fi
	for t in vif-bridge network-bridge vif-route network-route vif-nat network-nat; do
		[[ -x $BUILD/$t ]] || bad "$BUILD/$t is missing: run make first"
	done
	# Absolute, so that the commands shown can be pasted anywhere.
	BUILD=$(cd "$BUILD" && pwd)
}

intro() {
	printf '%sDemo: how a Xen host connects its guests to the network%s\n\n' "$BOLD" "$RESET"
	say "When a Xen guest boots, the toolstack (xend or xl) describes each of its network cards in xenstore, the hypervisor's small configuration database. The netback driver in dom0 then creates a network device for the card, named vif<domain>.<device>, and udev runs a hotplug program for it, the vif script, which connects the device and reports back through xenstore. At its own start and stop, xend also runs a network script, which prepares the host for its guests and tidies up after them."
	say "Xen has three ways to connect guests, and a pair of programs for each: bridged (network-bridge, vif-bridge: the guests share the host's network card through a software bridge), routed (network-route, vif-route: the host routes each guest's addresses) and NAT (network-nat, vif-nat: the guests have private addresses behind the host's). This demo shows $(mode_words) (make demo MODE=bridge, route or nat shows one)."
	say "There is no hypervisor here, so we stand in for each piece: a network namespace plays dom0 (the host), a veth pair plays each vif with its guest end in a namespace of its own, and a small xenstore stand-in answers on a unix socket. The programs themselves are the real ones from $BUILD, talking to them exactly as they would on a Xen host."
}

step_sandbox() {
	heading "make the sandbox"
	say "Start the xenstore stand-in and create an empty network namespace to play dom0 (the parts that need a LAN make a fresh one with a network card)." \
		"Everything is removed again at the end, also if something fails or you press Ctrl-C."
	sb_new
	sandbox_env
	echo "host namespace: $HOST"
	echo "xenstore socket: $XENSTORED_PATH"
	echo "the programs log to: $XEN_LOG_DIR/xen-hotplug.log"
}

part1_intro() {
	printf '\n%sBridged mode, part 1: vif-bridge, the program that plugs a Xen guest into a bridge%s\n\n' \
		"$BOLD" "$RESET"
	say "vif-bridge plugs the guest's vif into a software bridge, so the guest sits on the same network as the host."
}

step_bridge() {
	heading "the host's bridge"
	say "On a Xen host, network-bridge (or the distribution's network configuration) creates the bridge xenbr0 at boot, with the MAC address of the host's network card, and gives it the host's address. We create it by hand, with a made-up MAC address."
	must ip -n "$HOST" link add name xenbr0 address "$HOST_MAC" type bridge \
		stp_state 0 forward_delay 0
	must ip -n "$HOST" addr add "$HOST_ADDR/$PREFIX" dev xenbr0
	must ip -n "$HOST" link set dev xenbr0 up
}

# add_guest NUM ADDR VAR: the netback device vif<NUM>.0 and its guest, addressed (ADDR
# empty: not addressed, as a guest that asks by DHCP). What lib.sh's vif_add does, spelt out
# here so that every command is on the screen.
add_guest() {
	local d=$1 addr=$2 ns
	ns_new ns
	echo "guest $d: namespace $ns"
	must ip -n "$HOST" link add name "vif$d.0" type veth peer name eth0 netns "$ns"
	must ip -n "$ns" link set dev eth0 address "$(vif_mac "$d" 0)" up
	[[ -z $addr ]] || must ip -n "$ns" addr add "$addr/$PREFIX" dev eth0
	printf -v "$3" %s "$ns"
}

step_guests() {
	heading "two guests boot"
	say "Two guests, domains 1 and 2, each with one network card (device 0). Netback would create vif1.0 and vif2.0 in dom0; we create veth pairs of those names, with the other end (eth0, carrying the guest's MAC address) inside each guest's namespace. Inside each guest, its operating system gives eth0 an address."
	add_guest 1 "$GUEST1_ADDR" GUEST1
	add_guest 2 "$GUEST2_ADDR" GUEST2
}

step_store() {
	heading "the toolstack writes the store"
	say "Before the hotplug program runs, the toolstack writes each card's backend directory (under dom0's /local/domain/0/backend/vif/<domain>/<device>: which bridge, which MAC, where the guest's side is) and the guest's frontend directory. We write the same nodes (with xenstore-write, through xs_vif_seed in tests/lib.sh)."
	xs_vif_seed 1 0 bridge=xenbr0 || bad "could not seed the store for vif1.0"
	xs_vif_seed 2 0 bridge=xenbr0 || bad "could not seed the store for vif2.0"
	must xenstore-ls -f "$(xs_backend 1 0)"
	must xenstore-ls -f "$(xs_frontend 1 0)"
}

step_before() {
	heading "before vif-bridge runs, the guest is cut off"
	say "The new vif is down and belongs to no bridge, so nothing the guest sends reaches the host."
	must ip -n "$HOST" -br link show dev vif1.0
	must_fail ip netns exec "$GUEST1" "${PING[@]}" "$HOST_ADDR"
}

step_online() {
	heading "udev runs vif-bridge online"
	say "Netback announces vif1.0 and udev runs the vif-script with 'online' appended, describing the device in the environment: vif (the device), XENBUS_PATH (its backend directory, relative to dom0's), XENBUS_TYPE and ACTION. The key=value argument before the command comes from the vif-script setting in xend-config.sxp."
	udev_call vif-bridge 1 0 online bridge=xenbr0
	say "vif-bridge read the backend directory, set vif1.0 down, gave it the MAC address fe:ff:ff:ff:ff:ff (so the bridge never takes it as its own), gave it the bridge's MTU, put it on xenbr0 and set it up. Then it told the toolstack through the store: hotplug-status is 'connected', and the guest's side has the MTU to use."
	show_vif_state 1 0
	say "The same for the second guest, as udev would do when domain 2 boots:"
	udev_call vif-bridge 2 0 online bridge=xenbr0
	must bridge -n "$HOST" link
}

step_ping() {
	heading "the guests are on the network"
	say "Guest 1 now reaches the host's bridge address, and guest 2 through the bridge."
	must ip netns exec "$GUEST1" "${PING[@]}" "$HOST_ADDR"
	must ip netns exec "$GUEST1" "${PING[@]}" "$GUEST2_ADDR"
}

step_offline() {
	heading "guest 1 shuts down: udev runs vif-bridge offline"
	say "When the guest disconnects its card, netback announces it and udev runs the same program with 'offline': vif-bridge sets vif1.0 down and takes it off the bridge. (Netback then deletes the device; offline also succeeds when it is already gone.)"
	udev_call vif-bridge 1 0 offline bridge=xenbr0
	must ip -n "$HOST" -br link show dev vif1.0
	must bridge -n "$HOST" link
}

step_after() {
	heading "guest 1 is cut off again, guest 2 is not"
	must_fail ip netns exec "$GUEST1" "${PING[@]}" "$HOST_ADDR"
	must ip netns exec "$GUEST2" "${PING[@]}" "$HOST_ADDR"
}

step_log() {
	heading "what the programs logged"
	say "Under udev and xend nobody reads the terminal, so the programs log to syslog (facility daemon) and, as the Xen scripts did, their errors and warnings to xen-hotplug.log.${LOG_NOTE:-}"
	if [[ -s $XEN_LOG_DIR/xen-hotplug.log ]]; then
		must cat "$XEN_LOG_DIR/xen-hotplug.log"
	else
		echo "(nothing: a successful run has nothing to complain about)"
	fi
}

# ---------------------------------------------------------------- part 2: network-bridge

# What network-bridge's NFS-root check reads (the mount table and the kernel command line)
# describes the real machine, not the sandbox's host: give it a sandbox host with a local
# root disk, through the variables the program reads for that.
NB_ENV=()

# The start of every network-bridge call: as xend runs it in the host, the network-script
# string of xend-config.sxp split on spaces, with the command inserted after the program
# name; stdin, stdout and stderr are not a terminal (show and must capture them).
NB=()
nb_prepare() {
	NB=(ip netns exec "$HOST" env -i "${SANDBOX_ENV[@]}" "${NB_ENV[@]}"
		"$BUILD/network-bridge")
}

# The normalization of the dumps: the kernel makes link-local (fe80::) addresses and routes
# for every link by itself, and marks a fresh IPv6 address "tentative" for a moment while
# it checks that nobody else uses it; neither is the host's configuration, so both are left
# out. Everything else ip prints stays. One object a line, keys sorted, so that diff points
# at the item that changed.
# shellcheck disable=SC2016 # $d is jq's variable, not the shell's
ADDR_JQ='.[] | .ifname as $d | {link: del(.addr_info)}, (.addr_info[]
 | select(.local | startswith("fe80:") | not) | {addr: ({dev: $d} + del(.tentative))})'
ROUTE_JQ='.[] | select(.dst | startswith("fe80:") | not)'

# dump_cmds DIR: the three dumps of SPEC §7, each normalized into a file in DIR; the
# commands are separated by NUL bytes (the jq programs span lines).
dump_cmds() {
	local ns
	ns=$(quote "$HOST")
	printf '%s\0' \
		"ip -n $ns -j addr | jq -c -S '$ADDR_JQ' > $1/addr" \
		"ip -n $ns -j route show table all | jq -c -S '$ROUTE_JQ' > $1/route" \
		"ip -n $ns -j -6 route show table all | jq -c -S '$ROUTE_JQ' > $1/route6"
}

part2_intro() {
	printf '\n%sBridged mode, part 2: network-bridge, what xend runs at its start and stop%s\n\n' \
		"$BOLD" "$RESET"
	say "In part 1 we made the bridge xenbr0 by hand. On a Xen host under xend, the program named by the network-script setting of /etc/xen/xend-config.sxp does that when xend starts: network-bridge creates xenbr0, moves the host's addresses and routes from its network card eth0 to the bridge (so the host keeps its connection), and puts eth0 on the bridge, where the guests' vifs join it. When xend stops, network-bridge gives everything back to eth0 and deletes the bridge."
	say "This part starts from a fresh host namespace, whose eth0 is one end of a veth pair: the other end sits in a LAN namespace that plays the rest of the network, with a router at $LAN_ADDR and $LAN_ADDR6."
}

step_lan() {
	if [[ -n ${LAN_SHOWN:-} ]]; then
		heading "a fresh host with a network card on a LAN"
		say "Made as in the bridged part: a LAN namespace with the router's end of the cable, and a fresh host namespace whose eth0 is the other end, with the host's addresses and its default route."
	else
		heading "a host with a network card on a LAN"
		say "First the LAN: a namespace with the router's end of the cable (lan0) and its addresses. ('nodad' skips IPv6 duplicate address detection, so that the address is usable at once; nobody else on this LAN can have it.)"
	fi
	LAN_SHOWN=yes
	ns_new LAN
	echo "LAN namespace: $LAN"
	ns_new HOST
	echo "host namespace: $HOST"
	must ip -n "$HOST" link add name eth0 address "$HOST_MAC" type veth peer name lan0 \
		netns "$LAN"
	must ip -n "$LAN" link set dev lan0 up
	must ip -n "$LAN" addr add "$LAN_ADDR/$PREFIX" dev lan0
	must ip -n "$LAN" addr add "$LAN_ADDR6/$PREFIX6" dev lan0 nodad
	[[ -n ${LAN_SHOWN_HOST:-} ]] ||
		say "Then the host, configured as a distribution's network setup would leave it at boot: eth0 up, with an IPv4 address, a default route through the router, and an IPv6 address."
	LAN_SHOWN_HOST=yes
	must ip -n "$HOST" link set dev eth0 up
	must ip -n "$HOST" addr add "$HOST_ADDR/$PREFIX" dev eth0
	must ip -n "$HOST" addr add "$HOST_ADDR6/$PREFIX6" dev eth0 nodad
	must ip -n "$HOST" route add default via "$LAN_ADDR" dev eth0
	must ip -n "$HOST" -br addr
	must ip -n "$HOST" route
	say "The host reaches the router over IPv4 and IPv6:"
	must ip netns exec "$HOST" "${PING[@]}" "$LAN_ADDR"
	must ip netns exec "$HOST" "${PING[@]}" "$LAN_ADDR6"
}

step_dump_before() {
	heading "a snapshot of the host's network, before"
	say "network-bridge promises to give back exactly what it took. To check that, we save the host's addresses (ip -j addr: every link with its name, MAC address, MTU, state and addresses) and its IPv4 and IPv6 routes of every routing table, as JSON, and compare them with the same dumps at the end. jq puts one item on a line with its keys sorted, and leaves out what the kernel makes by itself: link-local (fe80::) addresses and routes, and the short-lived 'tentative' mark of a new IPv6 address."
	mkdir -p "$SB/before" "$SB/after" || bad "cannot create the dump directories"
	local cmd
	while IFS= read -r -d '' cmd; do
		must_sh "$cmd"
	done < <(dump_cmds "$SB/before")
	say "(This ip lists the routes of both families for 'route show table all', so the IPv6 routes appear in both route dumps.)"
	must_sh "cat $SB/before/addr $SB/before/route $SB/before/route6"
}

step_nb_start() {
	heading "xend starts: network-bridge start"
	say "xend-config.sxp says (network-script 'network-bridge netdev=eth0 bridge=xenbr0'), so at its start xend runs the program with 'start' after its name, and with nothing but a log file to tell anyone what happened. (Here the environment also points the program at the sandbox: its state, lock and log directories, and a mount table saying the host's root file system is on a local disk. network-bridge refuses to touch the card an NFS root is mounted through, and the real machine's mount table says nothing about this sandbox.)"
	if ! printf '%s\n' "/dev/vda1 / ext4 rw,relatime 0 0" >"$SB/mounts" ||
		! printf '%s\n' "root=/dev/vda1 ro quiet" >"$SB/cmdline"; then
		bad "cannot write the sandbox's mount table"
	fi
	NB_ENV=("NETWORK_BRIDGE_MOUNTS=$SB/mounts" "NETWORK_BRIDGE_CMDLINE=$SB/cmdline")
	nb_prepare
	must "${NB[@]}" start netdev=eth0 bridge=xenbr0
	say "It prints nothing when all goes well. Now xenbr0 exists, with eth0's MAC address, and eth0 is its port. The addresses and the default route moved from eth0 to xenbr0:"
	must ip -n "$HOST" -br link
	must ip -n "$HOST" -br addr
	must ip -n "$HOST" route
	must bridge -n "$HOST" link
	say "The host still reaches the router, now through the bridge:"
	must ip netns exec "$HOST" "${PING[@]}" "$LAN_ADDR"
	must ip netns exec "$HOST" "${PING[@]}" "$LAN_ADDR6"
	say "xend may run start again (after a restart of xend, say). The program sees that xenbr0 already holds eth0 and changes nothing:"
	must "${NB[@]}" start netdev=eth0 bridge=xenbr0
}

step_nb_status() {
	heading "network-bridge status"
	say "status shows the bridge, its ports and their state, the addresses and the routes it carries, without brctl, ifconfig or route. Without parameters it finds eth0 and xenbr0 by itself, from the default route and from what start noted down:"
	must "${NB[@]}" status
	say "The same for programs, as JSON (here made readable by jq):"
	must_sh "$(quote "${NB[@]}" status --json) | jq ."
}

step_guest3() {
	heading "a guest boots and reaches the LAN"
	say "Guest 3 boots with one card. As in part 1: netback's vif3.0 (a veth pair here), the toolstack's xenstore nodes (written by xs_vif_seed, as before), and udev running vif-bridge online, which puts vif3.0 on xenbr0, the bridge network-bridge made."
	add_guest 3 "$GUEST3_ADDR" GUEST3
	xs_vif_seed 3 0 bridge=xenbr0 || bad "could not seed the store for vif3.0"
	udev_call vif-bridge 3 0 online bridge=xenbr0
	must bridge -n "$HOST" link
	say "The guest reaches the router on the LAN, through xenbr0 and eth0, and the host too:"
	must ip netns exec "$GUEST3" "${PING[@]}" "$LAN_ADDR"
	must ip netns exec "$GUEST3" "${PING[@]}" "$HOST_ADDR"
}

step_stop_refused() {
	heading "network-bridge stop will not cut a running guest off"
	say "Stopping xend while a guest still has a vif on the bridge would cut that guest off the network, so network-bridge refuses and names the ports (force=yes would stop anyway):"
	must_fail "${NB[@]}" stop netdev=eth0 bridge=xenbr0
}

step_guest3_off() {
	heading "the guest shuts down"
	say "udev runs vif-bridge offline, and netback deletes the vif (here: we delete the veth)."
	udev_call vif-bridge 3 0 offline bridge=xenbr0
	must ip -n "$HOST" link del dev vif3.0
}

step_nb_stop() {
	heading "xend stops: network-bridge stop"
	say "At its stop xend runs the same line with 'stop'. network-bridge takes eth0 off the bridge, moves the addresses and routes back to it and deletes xenbr0:"
	must "${NB[@]}" stop netdev=eth0 bridge=xenbr0
	must ip -n "$HOST" -br link
	must ip -n "$HOST" -br addr
	must ip -n "$HOST" route
	must ip netns exec "$HOST" "${PING[@]}" "$LAN_ADDR"
	must ip netns exec "$HOST" "${PING[@]}" "$LAN_ADDR6"
}

step_dump_after() {
	heading "a snapshot after, compared with the one before"
	say "The same three dumps again, into another directory, and diff to compare them:"
	local cmd
	while IFS= read -r -d '' cmd; do
		must_sh "$cmd"
	done < <(dump_cmds "$SB/after")
	must diff -r -u "$SB/before" "$SB/after"
	say "diff printed nothing: the two snapshots are identical. Every address, every route of every table and both families, and the name, MAC address, MTU and state of every link are exactly what they were before xend started."
}

# ---------------------------------------------------------------- routed mode

# show_sysctls NAME...: the host's values of /proc/sys/net/ipv4/NAME.
show_sysctls() {
	local n
	local -a files=()
	for n in "$@"; do
		files+=("/proc/sys/net/ipv4/$n")
	done
	must ip netns exec "$HOST" grep -H . "${files[@]}"
}

# sysctl_is NAME VALUE: the host's /proc/sys/net/ipv4/NAME holds VALUE, or the demo fails.
sysctl_is() {
	local v
	v=$(ip netns exec "$HOST" cat "/proc/sys/net/ipv4/$1") || bad "cannot read $1"
	[[ $v == "$2" ]] || bad "/proc/sys/net/ipv4/$1 is $v, expected $2"
}

route_intro() {
	printf '\n%sRouted mode: network-route and vif-route%s\n\n' "$BOLD" "$RESET"
	say "In routed mode a guest's vif is on no bridge: it is a link between the host and that one guest, and the host routes the guest's addresses through it. The guest keeps an address of the LAN's own subnet. The host answers the LAN's ARP requests for that address on its network card (proxy ARP), answers the guest's ARP requests on the vif, and forwards the packets in between."
	say "At its start xend runs network-route, which turns on IPv4 forwarding, and proxy ARP on the card; at its stop network-route puts back what it changed. udev runs vif-route for each guest's vif."
}

step_nr_start() {
	heading "xend starts: network-route start"
	NR=(ip netns exec "$HOST" env -i "${SANDBOX_ENV[@]}" "$BUILD/network-route")
	say "A fresh namespace forwards nothing, and its eth0 answers ARP only for the host's own addresses:"
	show_sysctls ip_forward conf/eth0/proxy_arp
	say "xend-config.sxp says (network-script 'network-route netdev=eth0'), so at its start xend runs:"
	must "${NR[@]}" start netdev=eth0
	show_sysctls ip_forward conf/eth0/proxy_arp
	sysctl_is ip_forward 1
	sysctl_is conf/eth0/proxy_arp 1
	say "network-route noted what it changed, and the values it found, in its state file in XEN_RUN_DIR (in the sandbox here; /var/run/xen on a real host). status shows them:"
	must "${NR[@]}" status
	say "xend may run start again (after a restart of xend, say); nothing changes:"
	must "${NR[@]}" start netdev=eth0
}

step_route_guest() {
	heading "a guest boots in routed mode"
	say "Guest 4 has one card, with the LAN address $GUEST4_ADDR. Its vif line names the address and the program, vif = [ 'mac=$(vif_mac 4 0),ip=$GUEST4_ADDR,script=vif-route' ], so the toolstack writes ip and script into the card's backend directory. Inside the guest, its own network configuration gives eth0 that address and the host's address as its gateway."
	add_guest 4 "$GUEST4_ADDR" GUEST4
	must ip -n "$GUEST4" route add default via "$HOST_ADDR" dev eth0
	xs_vif_seed 4 0 "ip=$GUEST4_ADDR" script=/etc/xen/scripts/vif-route ||
		bad "could not seed the store for vif4.0"
	must xenstore-ls -f "$(xs_backend 4 0)"
}

step_route_online() {
	heading "udev runs vif-route online"
	say "With (vif-script 'vif-route netdev=eth0') in xend-config.sxp, udev runs:"
	udev_call vif-route 4 0 online netdev=eth0
	say "vif-route gave vif4.0 the host's own address on eth0, $HOST_ADDR, as a /32 (the host speaks on the link with its usual address, and no subnet is spent on it), turned on proxy ARP on it, set it up, and routed the guest's address through it, with the host's address as the source and metric 2. Before the vif came up it put in the guest's firewall, in this project's own table: vif-vif4.0 drops IPv4 the guest sends from any address but its own (DHCP requests aside), and rev-vif4.0 drops what claims the guest's address but arrives on another interface."
	must ip -n "$HOST" -br addr show dev vif4.0
	must ip -n "$HOST" route
	show_sysctls conf/vif4.0/proxy_arp
	sysctl_is conf/vif4.0/proxy_arp 1
	must ip netns exec "$HOST" nft list table inet xen_hotplug
	must xenstore-read "$(xs_backend 4 0)/hotplug-status"
}

step_route_ping() {
	heading "the guest and the LAN reach each other"
	say "The guest reaches the router on the LAN, and the host. (The first answers take a while: the host waits a random moment, up to 0.8 s, before it answers an ARP request on behalf of another machine, the proxy_delay of the kernel's ARP settings.)"
	must ip netns exec "$GUEST4" "${PING_PROXIED[@]}" "$LAN_ADDR"
	must ip netns exec "$GUEST4" "${PING[@]}" "$HOST_ADDR"
	say "And the LAN reaches the guest. The router takes $GUEST4_ADDR for a neighbour on its own subnet and asks by ARP who has it; the host answers on eth0 with eth0's MAC address (proxy ARP), and routes what the router then sends through vif4.0:"
	must ip netns exec "$LAN" "${PING_PROXIED[@]}" "$GUEST4_ADDR"
	must ip -n "$LAN" neigh show dev lan0
	local n
	n=$(ip -n "$LAN" neigh show dev lan0 "$GUEST4_ADDR")
	[[ $n == *"lladdr $HOST_MAC"* ]] ||
		bad "the router should have $GUEST4_ADDR at the host's MAC $HOST_MAC, not: $n"
	say "In the router's neighbour table, the guest's address has the host's MAC address, $HOST_MAC, as the host's own address has."
}

step_route_offline() {
	heading "the guest shuts down: vif-route offline"
	udev_call vif-route 4 0 offline netdev=eth0
	say "vif-route set vif4.0 down and deleted the route to the guest (netback deletes the vif soon after anyway), and took the guest's firewall chains away:"
	must ip -n "$HOST" -br link show dev vif4.0
	must ip -n "$HOST" route
	must ip netns exec "$HOST" nft list table inet xen_hotplug
	must_fail ip netns exec "$LAN" "${PING[@]}" "$GUEST4_ADDR"
	say "Netback deletes the vif (here: we delete the veth)."
	must ip -n "$HOST" link del dev vif4.0
}

step_nr_stop() {
	heading "xend stops: network-route stop"
	say "At its stop xend runs the same line with 'stop'. network-route puts back the values it noted (had someone changed one of them since start, it would leave that one alone):"
	must "${NR[@]}" stop netdev=eth0
	show_sysctls ip_forward conf/eth0/proxy_arp
	sysctl_is ip_forward 0
	sysctl_is conf/eth0/proxy_arp 0
	must "${NR[@]}" status
}

# ---------------------------------------------------------------- NAT mode

nat_intro() {
	printf '\n%sNAT mode: network-nat and vif-nat%s\n\n' "$BOLD" "$RESET"
	say "In NAT mode the guests have private addresses, in 10.0.0.0/8, that the LAN knows nothing about. The host forwards what they send and rewrites its source to the host's own address (masquerade), and rewrites the answers back. vif-nat derives each guest's address from its domain and card numbers, 10.<domain/256>.<domain%256>.<card+1>, and gives the vif a router address: the guest's address with 127 added to its last number. With DHCP the guest learns both from a DHCP server on the host: here dnsmasq (dhcp=dnsmasq); ISC dhcpd works too (dhcp=yes)."
}

step_nat_dnsmasq() {
	heading "the host's DHCP server"
	say "On a Debian host dnsmasq runs as a service, started by /etc/init.d/dnsmasq, and network-nat and vif-nat use its files in their usual places: /etc/dnsmasq.d/xen-nat (which network-nat writes), /var/lib/xen/dnsmasq-hosts (where vif-nat puts a line per guest) and /run/dnsmasq/dnsmasq.pid. Here a stand-in init script (from tests/dhcp-lib.sh) runs dnsmasq in the host namespace, with every file in the sandbox, and the parameters dnsmasq_conf=, dnsmasq_hosts=, dnsmasq_init= and dnsmasq_pid= point the programs there. The hosts file already has a line of the administrator's, for a printer:"
	DNSMASQ_DIR=$SB/dnsmasq
	dnsmasq_sandbox "$DNSMASQ_DIR" || bad "cannot set up the sandbox's dnsmasq"
	must ls -l "$DNSMASQ_DIR"
	must cat "$DNSMASQ_DIR/dnsmasq.hosts"
	NN=(ip netns exec "$HOST" env -i "${SANDBOX_ENV[@]}" "$BUILD/network-nat")
	NN_ARGS=(netdev=eth0 dhcp=dnsmasq "dnsmasq_conf=$DNSMASQ_DIR/dnsmasq.conf"
		"dnsmasq_hosts=$DNSMASQ_DIR/dnsmasq.hosts" "dnsmasq_init=$DNSMASQ_DIR/dnsmasq-init")
	VN_ARGS=(dhcp=dnsmasq "dnsmasq_hosts=$DNSMASQ_DIR/dnsmasq.hosts"
		"dnsmasq_pid=$DNSMASQ_DIR/dnsmasq.pid")
}

step_nn_start() {
	heading "xend starts: network-nat start"
	say "xend-config.sxp says (network-script 'network-nat netdev=eth0 dhcp=dnsmasq'); with the sandbox's paths added, xend runs:"
	must "${NN[@]}" start "${NN_ARGS[@]}"
	say "network-nat turned on IPv4 forwarding, put the masquerade of what leaves eth0 into this project's own nftables table, wrote dnsmasq's configuration (serve 10.0.0.0/8, fixed addresses from the hosts file only) and restarted dnsmasq, which now runs in the host:"
	show_sysctls ip_forward
	sysctl_is ip_forward 1
	must ip netns exec "$HOST" nft list table inet xen_hotplug
	must cat "$DNSMASQ_DIR/dnsmasq.conf"
	must_sh "ps -o pid,args -p \"\$(cat $(quote "$DNSMASQ_DIR/dnsmasq.pid"))\""
	must "${NN[@]}" status
}

step_nat_guest() {
	heading "a guest boots in NAT mode"
	say "Guest $NAT_DOMID has one card and no address yet: its operating system will ask for one by DHCP. The toolstack writes the card's backend directory as before; there is no ip node, so vif-nat derives the address."
	add_guest "$NAT_DOMID" "" GUEST5
	xs_vif_seed "$NAT_DOMID" 0 script=/etc/xen/scripts/vif-nat ||
		bad "could not seed the store for vif$NAT_DOMID.0"
	must xenstore-ls -f "$(xs_backend "$NAT_DOMID" 0)"
}

step_nat_online() {
	heading "udev runs vif-nat online"
	say "With (vif-script 'vif-nat dhcp=dnsmasq') in xend-config.sxp, and the sandbox's paths added, udev runs:"
	udev_call vif-nat "$NAT_DOMID" 0 online "${VN_ARGS[@]}"
	say "vif-nat worked out the guest's address, $NAT_GUEST, and its router address, $NAT_ROUTER. It gave vif$NAT_DOMID.0 the router address, routed the guest's address through it, turned on proxy ARP and put in the guest's firewall chains. Then it added a line for the guest to dnsmasq's hosts file (MAC address, address, host name dom$NAT_DOMID), leaving the administrator's line alone, and told dnsmasq to read the file again (SIGHUP, no restart):"
	must ip -n "$HOST" -br addr show dev "vif$NAT_DOMID.0"
	must ip -n "$HOST" route
	must cat "$DNSMASQ_DIR/dnsmasq.hosts"
	grep -qx "$(vif_mac "$NAT_DOMID" 0),$NAT_GUEST,dom$NAT_DOMID" "$DNSMASQ_DIR/dnsmasq.hosts" ||
		bad "the guest's line is not in the hosts file"
	must xenstore-read "$(xs_backend "$NAT_DOMID" 0)/hotplug-status"
}

step_nat_lease() {
	heading "the guest gets its address by DHCP"
	say "The guest's DHCP client asks. (dhcp_client, from tests/dhcp-lib.sh, runs dhclient once in the guest's namespace and prints the address and the router of the lease it got.)"
	local lease
	print_cmd dhcp_client "$GUEST5"
	lease=$(dhcp_client "$GUEST5" eth0 15) || bad "the guest got no lease"
	printf '    %s\n' "$lease"
	[[ $lease == "$NAT_GUEST $NAT_ROUTER" ]] ||
		bad "the lease should be address $NAT_GUEST with router $NAT_ROUTER"
	say "Exactly the address and router vif-nat set up. dnsmasq's log shows whom it answered:"
	must grep -E 'DHCP(OFFER|ACK)' "$DNSMASQ_DIR/dnsmasq.log"
	say "The guest's operating system would now configure the lease (dhcp_client configures nothing); we do it by hand:"
	must ip -n "$GUEST5" addr add "$NAT_GUEST/$NAT_PREFIX" dev eth0
	must ip -n "$GUEST5" route add default via "$NAT_ROUTER" dev eth0
}

step_nat_ping() {
	heading "the guest reaches the LAN, behind the host's address"
	say "The LAN has no route to 10.0.0.0/8, so the router could not even answer the guest's own address:"
	must ip -n "$LAN" route
	say "We listen on the router's end of the cable with tcpdump (in the background, for the first two ICMP packets) while the guest pings the router:"
	local cap=$SB/lan-capture pid i
	printf '%s$ %s%s\n' "$DIM" "ip netns exec $LAN tcpdump -i lan0 -n -t -l -c 2 icmp > $cap &" "$RESET"
	ip netns exec "$LAN" timeout 20 tcpdump -i lan0 -n -t -l -c 2 icmp \
		>"$cap" 2>"$cap.err" </dev/null &
	pid=$!
	echo "$pid" >>"$SB/pids"
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$cap.err" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	grep -q 'listening on' "$cap.err" 2>/dev/null || bad "tcpdump did not start: $(cat "$cap.err")"
	must ip netns exec "$GUEST5" "${PING[@]}" "$LAN_ADDR"
	wait "$pid" || bad "tcpdump did not see two ICMP packets: $(cat "$cap.err")"
	must cat "$cap"
	grep -q "IP $HOST_ADDR > $LAN_ADDR: ICMP echo request" "$cap" ||
		bad "the router should have seen the host's address $HOST_ADDR as the source"
	! grep -q "$NAT_GUEST" "$cap" || bad "the guest's own address reached the LAN"
	say "The router saw the host's address, $HOST_ADDR, as the source of the guest's ping, and answered the host; the host passed the answers on to the guest. That is the masquerade."
}

step_nat_offline() {
	heading "the guest shuts down: vif-nat offline"
	udev_call vif-nat "$NAT_DOMID" 0 offline "${VN_ARGS[@]}"
	say "vif-nat took the guest's line out of the hosts file (the administrator's line stays, and the file keeps its owner and mode) and told dnsmasq, then set vif$NAT_DOMID.0 down, which takes the route with it, and took the firewall chains away:"
	must ls -l "$DNSMASQ_DIR/dnsmasq.hosts"
	must cat "$DNSMASQ_DIR/dnsmasq.hosts"
	! grep -q "$(vif_mac "$NAT_DOMID" 0)" "$DNSMASQ_DIR/dnsmasq.hosts" ||
		bad "the guest's line is still in the hosts file"
	grep -q labprinter "$DNSMASQ_DIR/dnsmasq.hosts" || bad "the administrator's line is gone"
	must ip -n "$HOST" -br link show dev "vif$NAT_DOMID.0"
	must ip -n "$HOST" route
	say "Netback deletes the vif (here: we delete the veth)."
	must ip -n "$HOST" link del dev "vif$NAT_DOMID.0"
}

step_nn_stop() {
	heading "xend stops: network-nat stop"
	say "At its stop xend runs the same line with 'stop'. network-nat undoes what start did, in reverse: it removes its dnsmasq configuration and restarts dnsmasq (the stand-in init script says what that leaves: here dnsmasq had nothing else to serve), ends the masquerade and puts forwarding back as it found it:"
	must "${NN[@]}" stop "${NN_ARGS[@]}"
	show_sysctls ip_forward
	sysctl_is ip_forward 0
	must ls "$DNSMASQ_DIR"
	[[ ! -e $DNSMASQ_DIR/dnsmasq.conf ]] || bad "network-nat stop left dnsmasq.conf behind"
	say "The set of devices whose outgoing traffic is masqueraded is empty again (the table itself stays, empty, for the next start):"
	local set
	set=$(quote ip netns exec "$HOST" nft -j list table inet xen_hotplug)
	# shellcheck disable=SC2016 # jq's program, not the shell's
	must_sh "$set | jq -c '.nftables[] | select(.set.name == \"masquerade\") | .set'"
	set=$(ip netns exec "$HOST" nft -j list table inet xen_hotplug |
		jq -c '[.nftables[] | select(.set.name == "masquerade") | .set.elem]')
	[[ $set == '[null]' ]] || bad "the masquerade set should be there and empty, not $set"
	must "${NN[@]}" status
}

# ---------------------------------------------------------------- the parts

part_bridge() {
	part1_intro
	step_bridge
	step_guests
	step_store
	step_before
	step_online
	step_ping
	step_offline
	step_after
	part2_intro
	step_lan
	step_dump_before
	step_nb_start
	step_nb_status
	step_guest3
	step_stop_refused
	step_guest3_off
	step_nb_stop
	step_dump_after
	LOG_NOTE=" The error about network-bridge stop is the refused stop of the bridged part."
}

part_route() {
	route_intro
	step_lan
	step_nr_start
	step_route_guest
	step_route_online
	step_route_ping
	step_route_offline
	step_nr_stop
}

part_nat() {
	nat_intro
	step_lan
	step_nat_dnsmasq
	step_nn_start
	step_nat_guest
	step_nat_online
	step_nat_lease
	step_nat_ping
	step_nat_offline
	step_nn_stop
}

main() {
	check_mode
	check_tools
	intro
	step_sandbox
	if running bridge; then part_bridge; fi
	if running route; then part_route; fi
	if running nat; then part_nat; fi
	step_log
	heading "tear down"
	say "Stop the daemons the demo started, remove the namespaces (which takes their devices with them), stop the xenstore stand-in and delete the sandbox directory."
	sb_cleanup
	trap - EXIT
	printf '%sDemo finished: every step did what it should.%s\n' "$GREEN" "$RESET"
}

main "$@"
