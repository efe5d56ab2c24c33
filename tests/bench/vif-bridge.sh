#!/bin/bash
# make bench: one vif-bridge online+offline cycle, this project against Debian's script and the floor.
#
# One sandbox (host namespace with bridge xenbr0, vif1.0 behind a guest namespace, the
# xenstore stand-in seeded as the toolstack would), then the driver (bench.c), run inside the
# host namespace, times three cases alternately in one run against the same store:
#   ours    $BUILD/vif-bridge online, then offline, called as udev calls it
#   script  Debian's /etc/xen/scripts/vif-bridge, the same calls
#   floor   two bare process starts (/bin/true twice): the least two calls can cost
# and prints the medians and the ratios script/ours (target >= 30) and ours/floor (target
# <= 3). A missed target is a warning, not a failure: timings on a shared machine are noisy.
# A failing command, or a vif not left as offline should leave it, fails the run.
#
# Knobs (environment): BENCH_ROUNDS (default 200: cycles of ours and of the floor),
# BENCH_SCRIPT_RUNS (default 50: cycles of the script, spread over the same rounds, since
# it is slow), REF_SCRIPT (default /etc/xen/scripts/vif-bridge), BUILD, CC.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$HERE/../lib.sh"

ROUNDS=${BENCH_ROUNDS:-200}
SCRIPT_RUNS=${BENCH_SCRIPT_RUNS:-50}
REF_SCRIPT=${REF_SCRIPT:-/etc/xen/scripts/vif-bridge}

die() {
	echo "bench: $*" >&2
	exit 1
}

# Absolute, since the commands run from wherever make or the caller happens to be.
BUILD=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd) || die "cannot create the build directory"


check_inputs() {
	[[ -x $BUILD/vif-bridge && -x $BUILD/bench ]] ||
		die "$BUILD/vif-bridge or $BUILD/bench is missing: run make bench"
	[[ -x $REF_SCRIPT ]] ||
		die "$REF_SCRIPT is missing: install Debian's xen-utils-common (the reference script)"
	# The script sends its stderr to this log unconditionally and dies without it.
	mkdir -p /var/log/xen || die "cannot create /var/log/xen (the script needs it)"
}

# The environment the driver starts from, and passes on: a minimal one as udev gives, plus
# the sandbox's XEN_* and XENSTORED_PATH (read by our program through libxenstore and by the
# script's xenstore-read/-write).
driver_env() {
	local v
	DRIVER_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
	for v in $(compgen -e); do
		case $v in
		XEN_* | XENSTORED_PATH) DRIVER_ENV+=("$v=${!v}") ;;
		esac
	done
}

# udev_cycle PROG: the bench.c words for one online+offline cycle, as udev ran the vif script
# in the xend era (vif-script "vif-bridge bridge=xenbr0": key=value before the command).
udev_cycle() {
	local prog=$1 action
	local -a common=(vif=vif1.0 XENBUS_PATH=backend/vif/1/0 XENBUS_TYPE=vif "script=$prog")
	CYCLE=()
	for action in online offline; do
		[[ $action == offline ]] && CYCLE+=(--then)
		CYCLE+=("${common[@]}" "ACTION=$action" "$prog" bridge=xenbr0 "$action")
	done
}

run_bench() {
	local -a ours script
	udev_cycle "$BUILD/vif-bridge"
	ours=("${CYCLE[@]}")
	udev_cycle "$REF_SCRIPT"
	script=("${CYCLE[@]}")
	driver_env
	echo "vif-bridge online+offline, $ROUNDS rounds ($SCRIPT_RUNS for the script), interleaved"
	# The driver itself runs in the host namespace, so each timed child starts there directly.
	ip netns exec "$HOST" env -i "${DRIVER_ENV[@]}" "$BUILD/bench" -n "$ROUNDS" \
		--ratio 'script/ours>=30' --ratio 'ours/floor<=3' \
		--case ours "${ours[@]}" \
		--case script -n "$SCRIPT_RUNS" "${script[@]}" \
		--case floor /bin/true --then /bin/true
}

# The last cycle of every case ended with offline: the vif is down and on no bridge, and
# the store still says connected from the last online.
verify_end_state() {
	local master status
	link_exists vif1.0 || die "vif1.0 disappeared during the benchmark"
	master=$(link_master vif1.0)
	[[ -z $master ]] || die "vif1.0 is still enslaved to '$master' after offline"
	! link_is_up vif1.0 || die "vif1.0 is still up after offline"
	status=$(xs_read "$(xs_backend 1 0)/hotplug-status" 2>/dev/null)
	[[ $status == connected ]] ||
		die "hotplug-status is '$status' after the last online, expected 'connected'"
	echo "end state: vif1.0 down and on no bridge, hotplug-status connected: ok"
}

main() {
	check_inputs
	sb_new
	sb_state_tmpfs || die "cannot mount a tmpfs for the lock and run directories"
	bridge_add xenbr0 || die "cannot create bridge xenbr0"
	vif_add 1 0 || die "cannot create vif1.0"
	xs_vif_seed 1 0 bridge=xenbr0 || die "cannot seed the xenstore stand-in"
	run_bench || die "the benchmark failed (see above)"
	verify_end_state
}

main "$@"
