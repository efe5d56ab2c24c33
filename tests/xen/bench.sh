#!/bin/bash
# bench.sh (real-Xen lane): xl network-attach + network-detach of one vif on a running guest,
# with the project's vif-bridge (script=vif-bridge, the diverted place's occupant) against
# Debian's own script (script=vif-bridge.distrib), alternated round by round in one run on
# the same dom0, so that the machine's noise falls on both alike. Each timed cycle runs from
# the attach command to the moment the vif and its backend are gone again: everything libxl,
# netback and the script do for one card, nothing deferred left out. Prints the medians and
# the ratio script/ours. A cycle that does not leave the card connected on xenbr0, or does
# not take it away again, fails the run.
#   bash bench.sh        (in dom0, from dom0.sh; make bench-xen from the host)
# XEN_BENCH_ROUNDS (default 10) rounds of one cycle each.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/xen/lib.sh
. "$HERE/lib.sh"

ROUNDS=${XEN_BENCH_ROUNDS:-10}
TEST_DIR=$RESULTS/bench-work
TEST_FAILED=$TEST_DIR/failed
rm -rf "$TEST_DIR"
mkdir -p "$TEST_DIR"
: >"$TEST_DIR/guests"

die() {
	echo "bench: $*"
	[[ -s $TEST_DIR/transcript ]] && sed 's/^/#   /' "$TEST_DIR/transcript"
	reset_dom0 >/dev/null 2>&1
	exit 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# cycle SCRIPT MAC: one timed attach + detach; MS its milliseconds.
MS=0
cycle() {
	local script=$1 mac=$2 t0 devid v be
	t0=$(now_ms)
	run xl network-attach bench "mac=$mac" "script=$script"
	[[ $RC -eq 0 ]] || die "xl network-attach script=$script exited $RC: $OUT"
	devid=$(xl network-list bench | awk -v m="$mac" '$3 == m {print $1}')
	[[ -n $devid ]] || die "no card with $mac after network-attach: $(xl network-list bench)"
	v=vif$(domid bench).$devid
	be=/local/domain/0/backend/vif/$(domid bench)/$devid
	[[ $(ip -j link show dev "$v" 2>/dev/null | jq -r '.[0].master') == xenbr0 ]] ||
		die "script=$script: $v is not on xenbr0 after network-attach"
	[[ $(xenstore-read "$be/hotplug-status" 2>&1) == connected ]] ||
		die "script=$script: hotplug-status of $v: $(xenstore-read "$be/hotplug-status" 2>&1)"
	run xl network-detach bench "$devid"
	[[ $RC -eq 0 ]] || die "xl network-detach script=$script exited $RC: $OUT"
	while ip link show dev "$v" >/dev/null 2>&1 || xenstore-exists "$be" 2>/dev/null; do
		(($(now_ms) - t0 < 60000)) || die "script=$script: $v or its backend still there after 60 s"
		sleep 0.05
	done
	MS=$(($(now_ms) - t0))
}

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }

net_baseline
[[ -x $SCRIPTS/vif-bridge.distrib ]] || die "$SCRIPTS/vif-bridge.distrib (Debian's script, diverted) is missing"
run "$SCRIPTS/network-bridge" start
[[ $RC -eq 0 ]] || die "network-bridge start exited $RC: $OUT"
guest_create bench "mac=$(printf '00:16:3e:00:01:%02x' 0)"
[[ $RC -eq 0 ]] || die "xl create exited $RC: $OUT"
guest_wait bench || die "the guest did not come up"

echo "xl network-attach + network-detach of one vif, $ROUNDS rounds, alternated (Xen $(xl info | awk '/^xen_version/ {print $3}'))"
: >"$TEST_DIR/ours"
: >"$TEST_DIR/script"
for ((r = 1; r <= ROUNDS; r++)); do
	# Which goes first alternates, so that neither always follows the other.
	if ((r % 2)); then order="vif-bridge vif-bridge.distrib"; else order="vif-bridge.distrib vif-bridge"; fi
	for s in $order; do
		cycle "$s" "$(printf '00:16:3e:00:01:%02x' "$r")"
		if [[ $s == vif-bridge ]]; then echo "$MS" >>"$TEST_DIR/ours"; else echo "$MS" >>"$TEST_DIR/script"; fi
	done
	echo "# round $r: ours $(tail -n 1 "$TEST_DIR/ours") ms, script $(tail -n 1 "$TEST_DIR/script") ms"
done
ours=$(median <"$TEST_DIR/ours")
script=$(median <"$TEST_DIR/script")
printf '  %-28s %6d ms (median)\n' "ours (vif-bridge)" "$ours" "script (vif-bridge.distrib)" "$script"
awk -v s="$script" -v o="$ours" 'BEGIN {printf "  ratio script/ours: %.2f\n", s / o}'
# The script's own share: the same cycle minus what libxl and netback cost alike is what
# differs; the difference per cycle, in ms, is the saving a host sees per card.
echo "  saved per card: $((script - ours)) ms"
guest_destroy bench
reset_dom0 >/dev/null 2>&1
echo "bench done"
