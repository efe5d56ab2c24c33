#!/bin/bash
# make demo: vif-bridge connecting two stand-in guests to a bridge, narrated step by step.
#
# No Xen runs here, so every piece Xen would provide gets a stand-in (tests/lib.sh): a
# network namespace plays dom0 (the "host"), a veth pair plays each netback vif with its
# guest end in a namespace of its own, and a small xenstored stand-in serves the store on a
# unix socket. The programs themselves are the real ones from build/ (make builds them
# first). Everything is torn down at the end, also on failure or Ctrl-C. Exit status is
# non-zero when any step that should work does not (or a ping that should fail succeeds).

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../tests/lib.sh
. "$HERE/../tests/lib.sh"

# Documentation addresses (RFC 5737): they cannot clash with anything real, and they live
# only inside the sandbox's namespaces anyway.
HOST_ADDR=192.0.2.1
GUEST1_ADDR=192.0.2.11
GUEST2_ADDR=192.0.2.12
PREFIX=24
# Set explicitly, as a bridge holding the physical card would have it: a bridge with only
# vifs as ports would otherwise adopt their fe:ff:ff:ff:ff:ff, which would only confuse.
HOST_MAC=02:00:c0:00:02:01

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

# udev_call DOMID DEVID ACTION: vif-bridge run exactly as udev ran it for xend: the
# vif-script string ("vif-bridge bridge=xenbr0") with the action appended, so the key=value
# comes before the command, and the device described in the environment.
udev_call() {
	local d=$1 i=$2 action=$3
	must ip netns exec "$HOST" env -i "${SANDBOX_ENV[@]}" \
		"vif=vif$d.$i" "XENBUS_PATH=backend/vif/$d/$i" XENBUS_TYPE=vif \
		"ACTION=$action" "script=$BUILD/vif-bridge" \
		"$BUILD/vif-bridge" bridge=xenbr0 "$action"
}

# Three quick pings, summary only; a failure takes about a second.
PING=(ping -q -c 3 -i 0.2 -W 1)

show_vif_state() {
	local d=$1 i=$2
	must ip -n "$HOST" -br link
	must bridge -n "$HOST" link
	must xenstore-read "$(xs_backend "$d" "$i")/hotplug-status"
	must xenstore-read "$(xs_frontend "$d" "$i")/mtu"
}

check_tools() {
	local t
	for t in ping bridge xenstore-ls fold; do
		command -v "$t" >/dev/null 2>&1 ||
			bad "the demo needs '$t' (iputils-ping, iproute2, xenstore-utils, coreutils)"
	done
	[[ -x $BUILD/vif-bridge ]] || bad "$BUILD/vif-bridge is missing: run make first"
	# Absolute, so that the commands shown can be pasted anywhere.
	BUILD=$(cd "$BUILD" && pwd)
}

intro() {
	printf '%sDemo: vif-bridge, the program that plugs a Xen guest into a bridge%s\n\n' \
		"$BOLD" "$RESET"
	say "When a Xen guest boots, the toolstack (xend or xl) describes each of its network cards in xenstore, the hypervisor's small configuration database. The netback driver in dom0 then creates a network device for the card, named vif<domain>.<device>, and udev runs a hotplug program for it: vif-bridge plugs the device into a software bridge, so the guest sits on the same network as the host, and reports back through xenstore."
	say "There is no hypervisor here, so we stand in for each piece: a network namespace plays dom0 (the host), a veth pair plays each vif with its guest end in a namespace of its own, and a small xenstore stand-in answers on a unix socket. vif-bridge itself is the real program from $BUILD, talking to them exactly as it would on a Xen host."
}

step_sandbox() {
	heading "make the sandbox"
	say "Start the xenstore stand-in and create an empty network namespace to play dom0." \
		"Everything is removed again at the end, also if something fails or you press Ctrl-C."
	sb_new
	sandbox_env
	echo "host namespace: $HOST"
	echo "xenstore socket: $XENSTORED_PATH"
	echo "vif-bridge logs to: $XEN_LOG_DIR/xen-hotplug.log"
}

step_bridge() {
	heading "the host's bridge"
	say "On a Xen host, network-bridge (or the distribution's network configuration) creates the bridge xenbr0 at boot, with the MAC address of the host's network card, and gives it the host's address. We create it by hand, with a made-up MAC address."
	must ip -n "$HOST" link add name xenbr0 address "$HOST_MAC" type bridge \
		stp_state 0 forward_delay 0
	must ip -n "$HOST" addr add "$HOST_ADDR/$PREFIX" dev xenbr0
	must ip -n "$HOST" link set dev xenbr0 up
}

# add_guest NUM ADDR VAR: the netback device vif<NUM>.0 and its guest, addressed. What
# lib.sh's vif_add does, spelt out here so that every command is on the screen.
add_guest() {
	local d=$1 addr=$2 ns
	ns_new ns
	echo "guest $d: namespace $ns"
	must ip -n "$HOST" link add name "vif$d.0" type veth peer name eth0 netns "$ns"
	must ip -n "$ns" link set dev eth0 address "$(vif_mac "$d" 0)" up
	must ip -n "$ns" addr add "$addr/$PREFIX" dev eth0
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
	udev_call 1 0 online
	say "vif-bridge read the backend directory, set vif1.0 down, gave it the MAC address fe:ff:ff:ff:ff:ff (so the bridge never takes it as its own), gave it the bridge's MTU, put it on xenbr0 and set it up. Then it told the toolstack through the store: hotplug-status is 'connected', and the guest's side has the MTU to use."
	show_vif_state 1 0
	say "The same for the second guest, as udev would do when domain 2 boots:"
	udev_call 2 0 online
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
	udev_call 1 0 offline
	must ip -n "$HOST" -br link show dev vif1.0
	must bridge -n "$HOST" link
}

step_after() {
	heading "guest 1 is cut off again, guest 2 is not"
	must_fail ip netns exec "$GUEST1" "${PING[@]}" "$HOST_ADDR"
	must ip netns exec "$GUEST2" "${PING[@]}" "$HOST_ADDR"
}

step_log() {
	heading "what vif-bridge logged"
	say "Under udev nobody reads the terminal, so vif-bridge logs to syslog (facility daemon) and, as the Xen scripts did, to xen-hotplug.log:"
	if [[ -s $XEN_LOG_DIR/xen-hotplug.log ]]; then
		must cat "$XEN_LOG_DIR/xen-hotplug.log"
	else
		echo "(nothing: a successful run has nothing to complain about)"
	fi
}

main() {
	check_tools
	intro
	step_sandbox
	step_bridge
	step_guests
	step_store
	step_before
	step_online
	step_ping
	step_offline
	step_after
	step_log
	heading "tear down"
	say "Remove the namespaces (which takes their devices with them), stop the xenstore stand-in and delete the sandbox directory."
	sb_cleanup
	trap - EXIT
	printf '%sDemo finished: every step did what it should.%s\n' "$GREEN" "$RESET"
}

main "$@"
