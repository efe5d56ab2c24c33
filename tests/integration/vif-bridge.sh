#!/bin/bash
# shellcheck disable=SC2034 # RUN_ENV is read by lib.sh's run_* helpers
# Integration tests for vif-bridge: real links in network namespaces, the
# xenstore stand-in, the program run exactly as udev (xend era) and xl run it.
# SPEC.md sections 1, 2 and 4 are the contract checked here.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

BE=/local/domain/0/backend/vif/1/0
FE=/local/domain/1/device/vif/0
DUMMY_MAC=fe:ff:ff:ff:ff:ff

# ---------------------------------------------------------------- helpers

# Everything the program said: its stdout/stderr and the hotplug log (where
# messages go when stderr is not a terminal).
msgs() {
	printf '%s\n' "$OUT"
	cat "$XEN_LOG_DIR/xen-hotplug.log" 2>/dev/null
}

# Every host link with what a vif program may change (name, MAC, MTU,
# master, flags, non-link-local addresses), canonical JSON: comparing two
# snapshots proves that nothing changed.
host_state() {
	ip -n "$HOST" -j -d addr show | jq -S -c '[.[] | {ifname, address, mtu,
		master: (.master // ""), flags: (.flags | sort),
		addrs: [.addr_info[]? | select(.local | startswith("fe80") | not)
			| "\(.local)/\(.prefixlen)"]}] | sort_by(.ifname) | .[]'
}

# A vif 1.0 with a seeded store and one bridge br0: the common starting point.
setup_one() {
	bridge_add br0
	vif_add 1 0
	xs_vif_seed 1 0 "$@"
}

# The vif is a working port of the bridge, as after a good online.
assert_port_of() { # BRIDGE DEV
	assert_eq "$1" "$(link_master "$2")" "master of $2"
	assert_ok link_is_up "$2"
	assert_eq "$DUMMY_MAC" "$(link_mac "$2")" "MAC of $2"
}

# The vif is down and belongs to no bridge, as after offline.
assert_released() { # DEV
	assert_eq "" "$(link_master "$1")" "master of $1"
	assert_fail link_is_up "$1"
}

# Installs a hook: NAME MODE BODY (written as is; no #! line, so it only
# works when run with bash, as the scripts sourced hooks).
hook_add() {
	local f=$XEN_SCRIPT_DIR/vif-post.d/$1
	printf '%s\n' "$3" >"$f"
	chmod "$2" "$f"
}

# ---------------------------------------------------------------- callers

test_udev_style_online_offline() {
	setup_one
	run_udev vif-bridge 1 0 online bridge=br0
	assert_eq 0 "$RC" "online exit"
	assert_port_of br0 vif1.0
	assert_eq connected "$(xs_read $BE/hotplug-status)" "hotplug-status"
	run_udev vif-bridge 1 0 offline bridge=br0
	assert_eq 0 "$RC" "offline exit"
	assert_released vif1.0
}

test_xl_style_online_offline() {
	setup_one
	run_xl vif-bridge 1 0 online
	assert_eq 0 "$RC" "online exit"
	assert_port_of br0 vif1.0
	assert_eq connected "$(xs_read $BE/hotplug-status)" "hotplug-status"
	run_xl vif-bridge 1 0 offline
	assert_eq 0 "$RC" "offline exit"
	assert_released vif1.0
}

# key=value after the command works as well as before it.
test_args_after_command() {
	bridge_add br0
	bridge_add br1
	vif_add 1 0
	xs_vif_seed 1 0
	run_env vif-bridge vif=vif1.0 XENBUS_PATH=backend/vif/1/0 XENBUS_TYPE=vif \
		-- online bridge=br1
	assert_eq 0 "$RC" "exit"
	assert_eq br1 "$(link_master vif1.0)" "master"
}

test_online_sets_up_port() {
	setup_one bridge=br0
	inh ip addr add 192.0.2.5/24 dev vif1.0
	inh ip addr add 2001:db8::5/64 dev vif1.0 nodad
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "exit"
	assert_port_of br0 vif1.0
	assert_eq "" "$(link_addrs vif1.0 | grep -v '^fe80')" "addresses left on vif1.0"
	assert_eq connected "$(xs_read $BE/hotplug-status)" "hotplug-status"
}

# A vif left on another bridge (say, a changed configuration) ends up on the
# bridge asked for.
test_online_moves_from_other_bridge() {
	setup_one bridge=br0
	bridge_add br1
	inh ip link set vif1.0 master br1
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "exit"
	assert_port_of br0 vif1.0
}

test_offline_takes_down_and_releases() {
	setup_one bridge=br0
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "online exit"
	run_udev vif-bridge 1 0 offline
	assert_eq 0 "$RC" "offline exit"
	assert_released vif1.0
	assert_eq "" "$(inh bridge -j link show | jq -r '.[].ifname')" "ports left on br0"
}

test_offline_device_gone() {
	setup_one bridge=br0
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "online exit"
	inh ip link del vif1.0
	run_udev vif-bridge 1 0 offline
	assert_eq 0 "$RC" "offline of a vanished device"
	# Never there at all (netback removed it before udev ran us).
	xs_vif_seed 2 0 bridge=br0
	run_udev vif-bridge 2 0 offline
	assert_eq 0 "$RC" "offline of a device that never existed"
}

# udev starts many hotplug programs at once when guests boot.
test_concurrent_onlines() {
	bridge_add br0
	local i
	for i in 1 2 3 4; do
		vif_add "$i" 0
		xs_vif_seed "$i" 0 bridge=br0
	done
	for i in 1 2 3 4; do
		(
			run_udev vif-bridge "$i" 0 online
			echo "$RC" >"$SB/rc.$i"
		) &
	done
	wait
	for i in 1 2 3 4; do
		assert_eq 0 "$(cat "$SB/rc.$i")" "exit of vif$i.0"
		assert_port_of br0 "vif$i.0"
		assert_eq connected "$(xs_read /local/domain/0/backend/vif/$i/0/hotplug-status)" \
			"hotplug-status of vif$i.0"
	done
}

test_online_twice() {
	setup_one bridge=br0 mtu=1400
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "first online"
	local first
	first=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "second online"
	assert_same "$first" "$(host_state)" "state after the second online"
	assert_port_of br0 vif1.0
	assert_eq connected "$(xs_read $BE/hotplug-status)" "hotplug-status"
}

# ---------------------------------------------------------------- bridge choice

test_bridge_from_xenstore_wins() {
	bridge_add br0
	bridge_add br1
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br1
	# The argument and the environment say br0: xenstore has the last word.
	RUN_ENV=(bridge=br0)
	run_udev vif-bridge 1 0 online bridge=br0
	RUN_ENV=()
	assert_eq 0 "$RC" "exit"
	assert_eq br1 "$(link_master vif1.0)" "master"
}

test_bridge_from_argument() {
	bridge_add br0
	bridge_add br1
	vif_add 1 0
	xs_vif_seed 1 0
	# The argument beats the environment.
	RUN_ENV=(bridge=br0)
	run_udev vif-bridge 1 0 online bridge=br1
	RUN_ENV=()
	assert_eq 0 "$RC" "exit"
	assert_eq br1 "$(link_master vif1.0)" "master"
}

test_bridge_from_environment() {
	bridge_add br0
	bridge_add br1
	vif_add 1 0
	xs_vif_seed 1 0
	RUN_ENV=(bridge=br1)
	run_xl vif-bridge 1 0 online
	RUN_ENV=()
	assert_eq 0 "$RC" "exit"
	assert_eq br1 "$(link_master vif1.0)" "master"
}

test_only_bridge() {
	bridge_add lonely
	vif_add 1 0
	xs_vif_seed 1 0
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "exit"
	assert_port_of lonely vif1.0
}

test_several_bridges_first_by_name() {
	bridge_add xbr2
	bridge_add xbr0
	bridge_add xbr1
	vif_add 1 0
	xs_vif_seed 1 0
	# Control run with the bridge named: what the program says about xbr0
	# when there is nothing to warn about (progress lines).
	run_udev vif-bridge 1 0 online bridge=xbr0
	assert_eq 0 "$RC" "exit with the bridge named"
	local quiet
	quiet=$(msgs | grep xbr0 | sort -u)
	run_udev vif-bridge 1 0 offline bridge=xbr0
	: >"$XEN_LOG_DIR/xen-hotplug.log"
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "exit"
	assert_eq xbr0 "$(link_master vif1.0)" "master"
	# The warning: a message naming xbr0 that the control run did not have.
	local extra
	extra=$(comm -13 <(printf '%s\n' "$quiet") <(msgs | grep xbr0 | sort -u))
	assert_ne "" "$extra" "a warning naming xbr0"
}

test_xenbr_falls_back_to_eth() {
	bridge_add eth3
	vif_add 1 0
	xs_vif_seed 1 0 bridge=xenbr3
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "exit"
	assert_port_of eth3 vif1.0
}

test_missing_bridge() {
	setup_one bridge=nosuchbr
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_vif_refused $BE "$before" nosuchbr
	assert_contains "$(msgs)" nosuchbr "message"
}

test_no_bridge_at_all() {
	vif_add 1 0
	xs_vif_seed 1 0
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_vif_refused $BE "$before"
}

# A link that exists but is not a bridge must not be taken for one; whether
# the program refuses at once or fails at the enslaving step and undoes, the
# host ends as it was.
test_bridge_not_a_bridge_changes_nothing() {
	vif_add 1 0
	xs_vif_seed 1 0 bridge=notabr mtu=1400
	assert_ok inh ip link add notabr type veth peer name notabrp
	inh ip link set notabr up
	inh ip addr add 192.0.2.5/24 dev vif1.0
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_vif_refused $BE "$before" notabr
}

# A step that fails after others succeeded: the kernel refuses to enslave a
# bridge to a bridge, after the device was set down, given the dummy MAC, its
# addresses flushed and its MTU changed. All of it must be undone.
test_failure_at_enslave_undone() {
	bridge_add br0
	xs_vif_seed 1 0 bridge=br0 mtu=1400
	assert_ok inh ip link add vif1.0 type bridge
	inh ip link set vif1.0 address 02:00:00:00:01:00
	inh ip addr add 192.0.2.5/24 dev vif1.0
	inh ip addr add 2001:db8::5/64 dev vif1.0 nodad
	inh ip link set vif1.0 up
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_vif_refused $BE "$before"
}

# The store cannot be reached: a clear failure before any change.
test_store_unavailable() {
	setup_one bridge=br0
	kill "$(cat "$SB/xenstored.pid")"
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$(cat "$SB/xenstored.pid")" 2>/dev/null || break
		sleep 0.01
	done
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_ne 0 "$RC" "exit"
	assert_ne "" "$(msgs)" "a message"
	assert_same "$before" "$(host_state)" "host state"
}

# After a failed online the toolstack may retry: the error is replaced.
test_recovers_after_error() {
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0
	run_udev vif-bridge 1 0 online
	assert_ne 0 "$RC" "exit without the bridge"
	assert_eq error "$(xs_read $BE/hotplug-status)" "hotplug-status"
	bridge_add br0
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "exit with the bridge"
	assert_port_of br0 vif1.0
	assert_eq connected "$(xs_read $BE/hotplug-status)" "hotplug-status"
}

# xenbrN is not rewritten to an ethN that is not a bridge.
test_xenbr_eth_not_bridge() {
	vif_add 1 0
	xs_vif_seed 1 0 bridge=xenbr3
	assert_ok inh ip link add eth3 type veth peer name eth3p
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_vif_refused $BE "$before" xenbr3
}

# ---------------------------------------------------------------- vifname

test_vifname_rename() {
	setup_one bridge=br0 vifname=guest0
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "online exit"
	assert_fail link_exists vif1.0
	assert_port_of br0 guest0
	assert_eq connected "$(xs_read $BE/hotplug-status)" "hotplug-status"
	# udev still says vif=vif1.0 at offline: the program must find guest0.
	run_udev vif-bridge 1 0 offline
	assert_eq 0 "$RC" "offline exit"
	assert_released guest0
}

# SPEC section 7: running online twice is the same as once. The second time
# udev's vif1.0 is already called guest0: that guest0 is this very device,
# not another guest's.
test_online_twice_with_vifname() {
	setup_one bridge=br0 vifname=guest0
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "first online"
	local first
	first=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "second online"
	assert_same "$first" "$(host_state)" "state after the second online"
	assert_eq connected "$(xs_read $BE/hotplug-status)" "hotplug-status"
}

test_vifname_taken_refused() {
	setup_one bridge=br0 vifname=taken0
	assert_ok inh ip link add taken0 type veth peer name taken0p
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_vif_refused $BE "$before" taken0
}

# A failure after the rename must undo the rename too.
test_failure_after_rename_undone() {
	vif_add 1 0
	xs_vif_seed 1 0 bridge=nosuchbr vifname=guest0
	bridge_add br0
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_vif_refused $BE "$before" nosuchbr
	assert_ok link_exists vif1.0
}

# ---------------------------------------------------------------- MTU

test_mtu_from_xenstore() {
	setup_one bridge=br0 mtu=1400
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "exit"
	assert_eq 1400 "$(link_mtu vif1.0)" "vif MTU"
	assert_eq 1400 "$(xs_read $FE/mtu)" "frontend mtu"
}

test_mtu_from_bridge() {
	bridge_add br0 1450
	vif_add 1 0
	xs_vif_seed 1 0 bridge=br0
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "exit"
	assert_eq 1450 "$(link_mtu vif1.0)" "vif MTU"
	assert_eq 1450 "$(xs_read $FE/mtu)" "frontend mtu"
}

# The frontend path comes from the backend's frontend node, not from the ids.
test_mtu_to_frontend_node() {
	setup_one bridge=br0 mtu=1420 frontend=/local/domain/1/device/vif/7
	run_xl vif-bridge 1 0 online
	assert_eq 0 "$RC" "exit"
	assert_eq 1420 "$(xs_read /local/domain/1/device/vif/7/mtu)" "frontend mtu"
	assert_fail xs_exists $FE/mtu
}

# ---------------------------------------------------------------- type_if

test_tap_add_remove() {
	bridge_add br0 1450
	vif_add 1 0 vif1.0-emu
	xs_vif_seed 1 0 bridge=br0
	run_xl vif-bridge 1 0 add type_if=tap
	assert_eq 0 "$RC" "add exit"
	assert_port_of br0 vif1.0-emu
	assert_eq 1450 "$(link_mtu vif1.0-emu)" "tap MTU"
	run_xl vif-bridge 1 0 remove type_if=tap
	assert_eq 0 "$RC" "remove exit"
	assert_released vif1.0-emu
}

test_tap_vifname() {
	setup_one bridge=br0 vifname=guest0
	vif_add 1 0 vif1.0-emu
	run_xl vif-bridge 1 0 add type_if=tap
	assert_eq 0 "$RC" "add exit"
	assert_port_of br0 guest0-emu
	assert_fail link_exists vif1.0-emu
	# The vif itself is not touched by the tap's add.
	assert_eq "" "$(link_master vif1.0)" "vif1.0 master"
	run_xl vif-bridge 1 0 remove type_if=tap
	assert_eq 0 "$RC" "remove exit"
	assert_released guest0-emu
}

# vifname is valid for the vif, but with -emu appended it is too long for
# the tap: refused, nothing renamed.
test_tap_vifname_too_long_with_emu() {
	setup_one bridge=br0 vifname=abcdefghijkl
	vif_add 1 0 vif1.0-emu
	local before
	before=$(host_state)
	run_xl vif-bridge 1 0 add type_if=tap
	assert_vif_refused $BE "$before" abcdefghijkl
}

test_noop_commands() {
	setup_one bridge=br0
	vif_add 1 0 vif1.0-emu
	local before
	before=$(host_state)
	run_xl vif-bridge 1 0 online type_if=tap
	assert_eq 0 "$RC" "tap online exit"
	run_xl vif-bridge 1 0 offline type_if=tap
	assert_eq 0 "$RC" "tap offline exit"
	run_xl vif-bridge 1 0 add
	assert_eq 0 "$RC" "vif add exit"
	run_xl vif-bridge 1 0 remove
	assert_eq 0 "$RC" "vif remove exit"
	assert_same "$before" "$(host_state)" "host state after no-op commands"
	assert_fail xs_exists $BE/hotplug-status
}

# ---------------------------------------------------------------- hooks

test_hooks_run_in_order() {
	setup_one bridge=br0 "ip=192.0.2.7 2001:db8::7/128"
	local out=$SB/hooks.out
	# [[ ]] and ${BASH_VERSION} prove the hook is run by bash.
	hook_add 20-second.hook 0755 "[[ -n \$BASH_VERSION ]] && echo \"20 \$command|\$dev|\$vif|\$bridge|\$ip|\$mac|\$type_if|\$XENBUS_PATH\" >>$out"
	hook_add 10-first.hook 0755 "echo \"10 \$command|\$dev\" >>$out"
	# As in the Xen scripts, the hooks run before the toolstack is told: the guest's
	# traffic must not flow before what a hook sets up is in place.
	hook_add 05-status.hook 0755 "[[ \$command == online ]] && echo \"status \$(xenstore-read \$XENBUS_PATH/hotplug-status 2>&1)\" >$SB/hook-status"
	hook_add 30-not-executable.hook 0644 "echo 30 >>$out"
	hook_add 15-not-a-hook.sh 0755 "echo 15 >>$out"
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "online exit"
	run_udev vif-bridge 1 0 offline
	assert_eq 0 "$RC" "offline exit"
	local got
	got=$(cat "$out" 2>/dev/null)
	local mac
	mac=$(vif_mac 1 0)
	local l1 l2 l3 l4
	{
		read -r l1
		read -r l2
		read -r l3
		read -r l4
	} <<<"$got"
	assert_eq "10 online|vif1.0" "$l1" "first hook line"
	assert_eq "20 online|vif1.0|vif1.0|br0|192.0.2.7 2001:db8::7/128|$mac|vif|" \
		"${l2%|*}|" "second hook line"
	assert_contains "${l2##*|}" backend/vif/1/0 "XENBUS_PATH in hook"
	assert_eq "10 offline|vif1.0" "$l3" "third hook line"
	assert_contains "$l4" "20 offline|vif1.0" "fourth hook line"
	assert_eq 4 "$(wc -l <"$out")" "hook lines"
	assert_contains "$(cat "$SB/hook-status" 2>/dev/null)" "status " "the hook read the store"
	assert_not_contains "$(cat "$SB/hook-status" 2>/dev/null)" connected \
		"hotplug-status is written after the hooks"
}

test_insecure_hooks_skipped() {
	setup_one bridge=br0
	local out=$SB/hooks.out
	hook_add 10-world.hook 0757 "echo world >>$out"
	hook_add 20-group.hook 0775 "echo group >>$out"
	hook_add 30-notroot.hook 0755 "echo notroot >>$out"
	chown 65534 "$XEN_SCRIPT_DIR/vif-post.d/30-notroot.hook"
	hook_add 40-good.hook 0755 "echo good >>$out"
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "online exit"
	assert_eq good "$(cat "$out" 2>/dev/null)" "hooks that ran"
	local m
	m=$(msgs)
	assert_contains "$m" 10-world.hook "warning for the world-writable hook"
	assert_contains "$m" 20-group.hook "warning for the group-writable hook"
	assert_contains "$m" 30-notroot.hook "warning for the hook not owned by root"
}

# ---------------------------------------------------------------- locking

# A shell holding the lock the way network-bridge does makes vif-bridge wait
# before it touches the bridge, and finish only after the release.
test_waits_for_network_bridge_lock() {
	setup_one bridge=br0
	local lock=$XEN_LOCK_DIR/network-bridge
	# The holder lets go only when told, so that a loaded machine cannot race the checks.
	flock -x "$lock" -c "touch $SB/held; while [ ! -e $SB/release ]; do sleep 0.05; done;
		date +%s%N >$SB/released" &
	local holder=$!
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -e $SB/held ]] && break
		sleep 0.01
	done
	assert_ok test -e "$SB/held"
	(
		run_udev vif-bridge 1 0 online
		echo "$RC $(date +%s%N)" >"$SB/finished"
	) &
	local runner=$!
	sleep 0.8
	assert_fail test -e "$SB/finished"
	assert_eq "" "$(link_master vif1.0)" "master while the lock is held"
	assert_fail xs_exists $BE/hotplug-status
	touch "$SB/release"
	wait "$holder"
	wait "$runner"
	local rc fin rel
	read -r rc fin <"$SB/finished"
	rel=$(cat "$SB/released")
	assert_eq 0 "$rc" "exit"
	((fin > rel)) || fail "vif-bridge finished before the lock was released"
	assert_port_of br0 vif1.0
}

# The lock is released, and its file removed, when the program ends.
test_lock_released() {
	setup_one bridge=br0
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "exit"
	assert_ok flock -x -n "$XEN_LOCK_DIR/network-bridge" true
	rm -f "$XEN_LOCK_DIR/network-bridge"
	run_udev vif-bridge 1 0 offline
	assert_fail test -e "$XEN_LOCK_DIR/network-bridge"
}

# A lock file planted as a symlink is never followed (it could point at any
# file root can write).
test_lock_symlink_not_followed() {
	setup_one bridge=br0
	ln -s "$SB/victim" "$XEN_LOCK_DIR/network-bridge"
	echo precious >"$SB/precious"
	ln -s "$SB/precious" "$XEN_LOCK_DIR/other"
	run_udev vif-bridge 1 0 online
	assert_fail test -e "$SB/victim"
	assert_eq precious "$(cat "$SB/precious")" "file behind a symlink"
}

# ---------------------------------------------------------------- bad values

# Each bad value, through xenstore: refused before any change, hotplug-error
# naming the parameter and the value.
refuse_xs() { # KEY VALUE
	setup_one bridge=br0
	xs_write "$BE/$1" "$2"
	inh ip addr add 192.0.2.5/24 dev vif1.0
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online
	assert_vif_refused $BE "$before" "$1" "$2"
}

# The same through a key=value argument (udev style).
refuse_arg() { # KEY VALUE
	setup_one
	bridge_add br1
	inh ip addr add 192.0.2.5/24 dev vif1.0
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online bridge=br1 "$1=$2"
	assert_vif_refused $BE "$before" "$1" "$2"
}

test_bad_ip_octet() { refuse_xs ip 10.0.0.300; }
test_bad_ip_arg() { refuse_arg ip 10.0.0.300; }
test_bad_ip_prefix() { refuse_xs ip 10.0.0.1/33; }

test_bad_ip_injection() {
	# A value that would run a command if anything evaluated it.
	refuse_xs ip "1.2.3.4; touch $SB/pwned"
	assert_fail test -e "$SB/pwned"
}

test_bad_vifname_too_long() { refuse_xs vifname abcdefghijklmnop; }
test_bad_vifname_slash() { refuse_xs vifname a/b; }
test_bad_vifname_space() { refuse_xs vifname "a b"; }
test_bad_vifname_dotdot() { refuse_xs vifname ..; }

test_bad_mtu_zero() { refuse_xs mtu 0; }
test_bad_mtu_67() { refuse_xs mtu 67; }
test_bad_mtu_65536() { refuse_xs mtu 65536; }
test_bad_mtu_text() { refuse_xs mtu abc; }
test_bad_mtu_arg() { refuse_arg mtu 67; }

test_bad_bridge_slash() { refuse_xs bridge br/0; }
test_bad_bridge_too_long() { refuse_xs bridge bridgebridgebrid; }
test_bad_bridge_arg() {
	setup_one
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online "bridge=br 0"
	assert_vif_refused $BE "$before" bridge "br 0"
}

test_bad_mac() { refuse_xs mac 00:16:3e:zz:00:01; }

test_missing_xenbus_path() {
	setup_one bridge=br0
	local before
	before=$(host_state)
	run_env vif-bridge vif=vif1.0 XENBUS_TYPE=vif -- online
	assert_eq 1 "$RC" "exit"
	assert_contains "$(msgs)" XENBUS_PATH "message"
	assert_same "$before" "$(host_state)" "host state"
}

test_missing_vif() {
	setup_one bridge=br0
	local before
	before=$(host_state)
	run_env vif-bridge XENBUS_PATH=backend/vif/1/0 XENBUS_TYPE=vif -- online
	assert_eq 1 "$RC" "exit"
	# The message names the missing variable (not just the program's name).
	local m
	m=$(msgs)
	m=${m//vif-bridge/}
	m=${m//backend\/vif/}
	assert_contains "$m" vif "message naming vif"
	assert_same "$before" "$(host_state)" "host state"
}

# A XENBUS_PATH that is no xenstore path (characters xenstored refuses).
test_bad_xenbus_path() {
	setup_one bridge=br0
	local before
	before=$(host_state)
	run_env vif-bridge vif=vif1.0 "XENBUS_PATH=backend/vif/1/0;x" XENBUS_TYPE=vif -- online
	assert_ne 0 "$RC" "exit"
	assert_contains "$(msgs)" "backend/vif/1/0;x" "message naming the path"
	assert_same "$before" "$(host_state)" "host state"
}

test_bad_vif_env() {
	setup_one bridge=br0
	local before
	before=$(host_state)
	run_env vif-bridge "vif=vif1.0 x" XENBUS_PATH=backend/vif/1/0 XENBUS_TYPE=vif -- online
	assert_ne 0 "$RC" "exit"
	assert_contains "$(msgs)" "vif1.0 x" "message naming the value"
	assert_same "$before" "$(host_state)" "host state"
}

test_bad_type_if() {
	setup_one bridge=br0
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online type_if=bogus
	assert_ne 0 "$RC" "exit"
	assert_contains "$(msgs)" bogus "message naming the value"
	assert_same "$before" "$(host_state)" "host state"
}

test_unknown_command() {
	setup_one bridge=br0
	local before m c
	before=$(host_state)
	run_udev vif-bridge 1 0 frobnicate
	assert_eq 1 "$RC" "exit"
	m=$(msgs)
	assert_contains "$m" frobnicate "message"
	for c in online offline add remove; do
		assert_contains "$m" "$c" "valid commands listed"
	done
	assert_same "$before" "$(host_state)" "host state"
}

# ---------------------------------------------------------------- options

test_dry_run_changes_nothing() {
	setup_one bridge=br0 mtu=1400 vifname=guest0
	local before
	before=$(host_state)
	run_udev vif-bridge 1 0 online -n
	assert_eq 0 "$RC" "exit"
	assert_ne "" "$OUT" "a plan printed"
	assert_same "$before" "$(host_state)" "host state"
	assert_fail xs_exists $BE/hotplug-status
	assert_fail xs_exists $FE/mtu
}

test_help_and_version() {
	run_env vif-bridge -- --help
	assert_eq 0 "$RC" "--help exit"
	assert_contains "$OUT" online "--help text"
	run_env vif-bridge -- --version
	assert_eq 0 "$RC" "--version exit"
	assert_ne "" "$OUT" "--version text"
}

test_errors_logged() {
	setup_one bridge=nosuchbr
	run_udev vif-bridge 1 0 online
	assert_ne 0 "$RC" "exit"
	assert_contains "$(cat "$XEN_LOG_DIR/xen-hotplug.log" 2>/dev/null)" nosuchbr \
		"xen-hotplug.log"
}

# ---------------------------------------------------------------- packets

test_guests_ping_across_bridge() {
	bridge_add br0
	vif_add 1 0
	local g1=$GUEST
	vif_add 2 0
	local g2=$GUEST
	xs_vif_seed 1 0 bridge=br0
	xs_vif_seed 2 0 bridge=br0
	ip -n "$g1" addr add 10.99.0.1/24 dev eth0
	ip -n "$g2" addr add 10.99.0.2/24 dev eth0
	assert_fail ip netns exec "$g1" ping -c 1 -W 1 10.99.0.2
	run_udev vif-bridge 1 0 online
	assert_eq 0 "$RC" "online 1.0"
	run_udev vif-bridge 2 0 online
	assert_eq 0 "$RC" "online 2.0"
	assert_ok ip netns exec "$g1" ping -c 1 -W 2 10.99.0.2
	assert_ok ip netns exec "$g2" ping -c 1 -W 2 10.99.0.1
	run_udev vif-bridge 2 0 offline
	assert_eq 0 "$RC" "offline 2.0"
	assert_fail ip netns exec "$g1" ping -c 1 -W 1 10.99.0.2
}

run_tests "$@"
