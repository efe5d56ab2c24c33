#!/bin/bash
# make bench (storm): 100 guests' vifs brought online at the same instant and taken offline, and one vif cycled back to back.
#
# What a host sees when guests boot together (udev or libxl start every vif's hotplug script at
# once) and when one guest is restarted again and again, measured with this project's
# vif-bridge against Debian's script, side by side in one run on the same setup. Only ratios
# are stable on a shared 2-core machine, so they are what is judged.
#
# Setup: one xenstore stand-in; one host namespace with bridge xenbr0 and the storm's vifs
# vif2.0..vif<N+1>.0 (veths whose peers wait in one guest namespace), plus vif1.0 for the
# back-to-back part (its peer in a guest namespace of its own). The store holds, for every
# vif, what the toolstack writes before it runs the script: frontend and backend nodes, the
# bridge, a mac (00:16:3e:..) and an ip list of an IPv4 and an IPv6 address
# (10.2.<d/256>.<d%256> 2001:db8:2::<d hex> for vif<d>.0; "10.1.0.5 2001:db8:1::5" for vif1.0).
# Every program is called as libxl calls it: argv `PROG online|offline type_if=vif`, the
# environment script, XENBUS_TYPE, XENBUS_PATH=backend/vif/<d>/0, XENBUS_BASE_PATH, netdev=,
# vif, and for ours firewall=nft|none (in the environment: xl passes on its own).
# The programs and the driver run from copies in the sandbox, so a rebuild meanwhile cannot
# break the run. The lock and run directories (records, lock files) are on tmpfs, as a Debian
# host's /run is (lib.sh's sb_state_tmpfs); every benchmark here does the same.
#
# 1. The storm. The driver (bench.c --storm) forks one process per vif, parks all of them at
#    a gate and opens it at once; the online storm is timed from the opening to the exit of
#    the last, then likewise the offline storm. bench.c --reap makes the driver a subreaper,
#    so what a program leaves behind (our nft programs hand their netfilter sockets to a
#    closer process that closes them once the ruleset is quiet, see common/nft.c) is
#    reparented to it, and each storm is
#    also timed until every such process is gone: "all done" (the figure judged) beside "last
#    return" (NAME:ret, what the toolstack waited for). Cases:
#      nft-on / nft-off        ours, firewall=nft
#      none-on / none-off      ours, firewall=none (the same program without rules: the control)
#      script-on / script-off  Debian's vif-bridge, in fewer rounds: it is slow
#    Each round is one driver run (-n 1: every kind's online storm, then its offline storm,
#    the kinds in reverse order every other round) and one round of the floor (below), before
#    the driver in odd rounds and after it in even ones; this script pools the samples
#    (bench.c --samples) and computes medians as bench.c does.
#    Debian's script installs no rules at all (its handle_iptable returns at once: Debian bug
#    #894013), so script/none is the like-for-like ratio and script/nft compares it with our
#    filtered program; both are printed without a target. Targets: nft/none <= 1.15 for the
#    online and for the offline storm (all done). After every storm, with the clock stopped,
#    a check (this script's --check, run by the driver) fails the run unless the end state is
#    right: after online every vif is up on xenbr0 with hotplug-status connected, and each
#    vif's name appears in table bridge xen_hotplug (nft) or in no rule set, nft's or
#    iptables' (none; nothing is asserted for the script); after offline no vif is on the
#    bridge and no name appears in `nft list ruleset` or iptables-save. It then writes
#    hotplug-status "" again, as libxl does before it runs the script.
#
# 2. Back to back. Online+offline of vif1.0, BENCH_B2B_CYCLES times in a row (bench.c -r):
#    each cycle starts as soon as the previous offline returned, so the closer that holds the
#    previous cycles' netfilter sockets competes with it, as it would on the host; the driver
#    waits for leftovers only after the last cycle of a block (added to that cycle's time).
#    Blocks of nft, of firewall=none and of the floor alternate, in reverse order every other
#    block, the first block a warm-up. Run twice: "alone" (no other guest, so each online
#    creates table bridge xen_hotplug and each offline deletes it: what a host with one guest
#    sees) and "beside" (vif2.0 online with its rules meanwhile, so the table stays). Target:
#    nft/none <= 1.2 per cycle (medians) in both. The end state is checked after each run
#    (vif1.0 down, on no bridge, its name in no rule set, connected), not per cycle: a check
#    between cycles would have to wait for the leftovers the measurement must let compete.
#
# 3. The floor (nftfloor.c): the same nf_tables requests (fw_bridged_vif_add/del of
#    common/firewall.h with the same addresses and MAC) from one in-process client, no
#    process start, store, links or locks: in the storm's rounds, the storm's vifs added one
#    after another then deleted (floor-add, floor-del), and after the deletions the wait
#    for the kernel's freeing of what they released, which the last close of any netfilter
#    socket pays (floor-del+free: the floor of the offline storm until all is done, which
#    our closer's close is part of); in the back-to-back blocks, vif1.0's add and delete per
#    cycle. Printed beside the program's figures with the difference and the ratio
#    program/floor, and the firewall's share in the program (nft - none) beside the floor.
#
# Knobs (environment): BENCH_STORM_VIFS (default 100), BENCH_STORM_ROUNDS (default 10: storms
# of ours per case), BENCH_STORM_SCRIPT_ROUNDS (default 3, spread over the same rounds),
# BENCH_STORM_WARMUP (default 1 round, not counted, the script's included), BENCH_B2B_CYCLES
# (default 40 per block), BENCH_B2B_BLOCKS (default 5 per case), REF_SCRIPT (default
# /etc/xen/scripts/vif-bridge.distrib when Debian's script is diverted there, as this
# project's package does, else /etc/xen/scripts/vif-bridge), BUILD.

set -u

# ---------------------------------------------------------------- the checks
# `storm.sh --check online|offline nft|none|script FIRST LAST`: run by the driver after a
# storm, inside the host namespace; kept to bash, ip, nft, iptables-save and xenstore-utils.

check_fail() {
	echo "check: $*"
	exit 1
}

# The vif names vif<d>.<i> in stdin, as keys of the associative array named $1.
# shellcheck disable=SC2034 # into is a nameref: the caller's array is set
names_in() {
	local -n into=$1
	local n
	while read -r n; do
		into["$n"]=1
	done < <(grep -oE 'vif[0-9]+\.[0-9]+' | sort -u)
}

check() {
	local when=$1 fw=$2 first=$3 last=$4 d dev line bad=() paths=() status
	local -A port=() up=() owned=() anywhere=()
	local re_up='<([^>]*)>'
	while read -r line; do
		[[ $line =~ ^[0-9]+:\ ([^@:]+)[@:] ]] || continue
		dev=${BASH_REMATCH[1]}
		port[$dev]=1
		[[ $line =~ $re_up && ,${BASH_REMATCH[1]}, == *,UP,* ]] && up[$dev]=1
	done < <(ip -o link show master xenbr0)
	names_in owned < <(nft list table bridge xen_hotplug 2>/dev/null)
	names_in anywhere < <(
		nft list ruleset 2>/dev/null
		iptables-save 2>/dev/null
	)
	for ((d = first; d <= last; d++)); do
		dev=vif$d.0
		if [[ $when == online ]]; then
			[[ -n ${port[$dev]:-} && -n ${up[$dev]:-} ]] || bad+=("$dev is not up on xenbr0")
			case $fw in
			nft) [[ -n ${owned[$dev]:-} ]] || bad+=("$dev is not in table bridge xen_hotplug") ;;
			none) [[ -z ${anywhere[$dev]:-} ]] || bad+=("$dev has rules with firewall=none") ;;
			esac
			paths+=("/local/domain/0/backend/vif/$d/0/hotplug-status")
		else
			[[ -z ${port[$dev]:-} ]] || bad+=("$dev is still on xenbr0")
			[[ -z ${anywhere[$dev]:-} ]] || bad+=("$dev still has rules")
			paths+=("/local/domain/0/backend/vif/$d/0/hotplug-status" "")
		fi
		((${#bad[@]} >= 5)) && break
	done
	((${#bad[@]} == 0)) || check_fail "after the $fw $when storm: ${bad[*]}"
	if [[ $when == online ]]; then
		status=$(xenstore-read "${paths[@]}" 2>&1 | grep -vcx connected)
		[[ $status == 0 ]] ||
			check_fail "after the $fw online storm, $status vifs' hotplug-status is not connected"
	else
		xenstore-write "${paths[@]}" || check_fail "cannot reset hotplug-status"
	fi
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

VIFS=${BENCH_STORM_VIFS:-100}
ROUNDS=${BENCH_STORM_ROUNDS:-10}
SCRIPT_ROUNDS=${BENCH_STORM_SCRIPT_ROUNDS:-3}
WARMUP=${BENCH_STORM_WARMUP:-1}
B2B=${BENCH_B2B_CYCLES:-40}
B2B_BLOCKS=${BENCH_B2B_BLOCKS:-5}
if [[ -z ${REF_SCRIPT:-} ]]; then
	REF_SCRIPT=/etc/xen/scripts/vif-bridge
	[[ -x $REF_SCRIPT.distrib ]] && REF_SCRIPT=$REF_SCRIPT.distrib
fi
STORM_TARGET=1.15
B2B_TARGET=1.2

FIRST=2
LAST=$((VIFS + 1))
B2B_IP="10.1.0.5 2001:db8:1::5"
B2B_MAC=$(vif_mac 1 0)

die() {
	echo "bench: $*" >&2
	exit 1
}

BUILD=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd) || die "cannot create the build directory"

check_inputs() {
	local p
	for p in vif-bridge bench tests/nftfloor; do
		[[ -x $BUILD/$p ]] || die "$BUILD/$p is missing: run make bench"
	done
	[[ -x $REF_SCRIPT ]] ||
		die "$REF_SCRIPT is missing: install Debian's xen-utils-common (the reference script)"
	# Installed, this project's package puts its program in the script's place: the
	# reference must be Debian's shell script, not a link to ours.
	[[ $(head -c 2 "$REF_SCRIPT") == '#!' ]] ||
		die "$REF_SCRIPT is not Debian's shell script; set REF_SCRIPT to it"
	for p in nft iptables-save xenstore-write xenstore-read seq; do
		command -v "$p" >/dev/null || die "missing tool '$p'"
	done
	((VIFS >= 1 && VIFS <= 1000 && ROUNDS >= 1 && SCRIPT_ROUNDS >= 1 && B2B >= 1 &&
		B2B_BLOCKS >= 1)) || die "a knob is out of range (BENCH_STORM_VIFS is 1..1000)"
	# The script sends its stderr to this log unconditionally and dies without it.
	mkdir -p /var/log/xen || die "cannot create /var/log/xen (the script needs it)"
}

# Microseconds since the epoch, without a process start.
now_us() { NOW=${EPOCHREALTIME/./}; }

# The environment the driver starts from and passes on: a minimal one as libxl gives, plus
# the sandbox's XEN_* and XENSTORED_PATH.
driver_env() {
	local v
	DRIVER_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
	for v in $(compgen -e); do
		case $v in
		XEN_* | XENSTORED_PATH) DRIVER_ENV+=("$v=${!v}") ;;
		esac
	done
}

# vif_line D: vif<D>.0's "DEV BRIDGE MAC IP...", as the store is seeded and as nftfloor reads
# its vifs.
vif_line() {
	local d=$1
	printf 'vif%d.0 xenbr0 00:16:3e:%02x:%02x:00 10.2.%d.%d 2001:db8:2::%x\n' "$d" \
		$(((d >> 8) & 255)) $((d & 255)) $((d >> 8)) $((d & 255)) "$d"
}

# The store as the toolstack leaves it, up to 100 vifs' nodes per xenstore-write call (one
# call per node would cost a process start each).
seed_store() {
	local d be fe dev br mac ip
	local -a args=()
	xs_vif_seed 1 0 "ip=$B2B_IP" bridge=xenbr0 || die "cannot seed vif1.0"
	for ((d = FIRST; d <= LAST; d++)); do
		be=/local/domain/0/backend/vif/$d/0
		fe=/local/domain/$d/device/vif/0
		read -r dev br mac ip < <(vif_line "$d")
		args+=("$be/frontend" "$fe" "$be/frontend-id" "$d" "$be/handle" 0
			"$be/mac" "$mac" "$be/online" 1 "$be/state" 2
			"$be/script" /etc/xen/scripts/vif-bridge "$be/bridge" "$br" "$be/ip" "$ip"
			"$fe/backend" "$be" "$fe/backend-id" 0 "$fe/handle" 0 "$fe/mac" "$mac")
		if ((${#args[@]} >= 2600 || d == LAST)); then
			xenstore-write "${args[@]}" || die "cannot seed the store"
			args=()
		fi
	done
}

setup() {
	local d peers t0
	now_us
	t0=$NOW
	sb_new
	sb_state_tmpfs || die "cannot mount a tmpfs for the lock and run directories"
	mkdir -p "$SB/bin" || die "cannot create $SB/bin"
	cp "$BUILD/vif-bridge" "$BUILD/bench" "$BUILD/tests/nftfloor" "$SB/bin/" ||
		die "cannot copy the programs"
	PROG=$SB/bin/vif-bridge
	bridge_add xenbr0 || die "cannot create xenbr0"
	vif_add 1 0 || die "cannot create vif1.0"
	ns_new peers
	# One `ip -batch` for all the veths: a process per link would cost seconds.
	for ((d = FIRST; d <= LAST; d++)); do
		echo "link add name vif$d.0 type veth peer name p$d netns $peers"
	done | ip -n "$HOST" -batch - >>"$SB/setup.log" 2>&1 || die "creating the veths failed"
	seed_store
	for ((d = FIRST; d <= LAST; d++)); do vif_line "$d"; done >"$SB/vifs"
	driver_env
	now_us
	printf 'setup: %d vifs on xenbr0 (and vif1.0), the store seeded: %d ms\n' "$VIFS" \
		$(((NOW - t0) / 1000))
}

# libxl_words PROG ACTION D [FIREWALL]: bench.c words of PROG ACTION for vif<D>.0 ("{}" in a
# storm), as libxl runs it.
libxl_words() {
	local prog=$1 action=$2 d=$3 fw=${4:-}
	WORDS=("script=$prog" XENBUS_TYPE=vif "XENBUS_PATH=backend/vif/$d/0"
		XENBUS_BASE_PATH=backend netdev= "vif=vif$d.0" ${fw:+"firewall=$fw"}
		"$prog" "$action" type_if=vif)
}

# driver OUT WORD...: bench.c in the host namespace with WORD..., its samples appended to
# OUT; exits on failure, with the driver's output shown. It runs in the background, recorded
# for sb_cleanup while it runs, so that a signal to this script stops a storm at once (bash
# runs a trap only after the foreground command; the driver kills what it started).
driver() {
	local out=$1 log=$SB/driver.out pid rc
	shift
	ip netns exec "$HOST" env -i "${DRIVER_ENV[@]}" "$SB/bin/bench" --reap --samples \
		-n 1 -w 0 "$@" >"$log" 2>&1 &
	pid=$!
	echo "$pid" >>"$SB/pids"
	wait "$pid"
	rc=$?
	# Ended: its pid must not be killed later, once another process may have it.
	sed -i "/^$pid\$/d" "$SB/pids"
	((rc == 0)) || {
		cat "$log" >&2
		die "the driver failed (see above)"
	}
	grep '^sample ' "$log" >>"$out"
}

# floor_samples OUT NAME WORD...: nftfloor WORD... -a in the host namespace, its samples
# appended to OUT as "sample NAME-add|NAME-del US" (storm) or "sample NAME US" (cycles).
floor_samples() {
	local out=$1 name=$2 text line
	shift 2
	text=$(inh "$SB/bin/nftfloor" -a "$@" 2>&1) || die "nftfloor failed: $text"
	while read -r line; do
		if [[ $line =~ ^add_us=([0-9.]+)\ del_us=([0-9.]+)\ free_us=([0-9.]+)$ ]]; then
			echo "sample $name-add ${BASH_REMATCH[1]}"
			echo "sample $name-del ${BASH_REMATCH[2]}"
			echo "sample $name-del+free $(awk -v d="${BASH_REMATCH[2]}" \
				-v f="${BASH_REMATCH[3]}" 'BEGIN { printf "%.1f", d + f }')"
		elif [[ $line =~ ^cycle_us=([0-9.]+)$ ]]; then
			echo "sample $name ${BASH_REMATCH[1]}"
		fi
	done <<<"$text" >>"$out"
}

# in_round RUNS ROUND: whether a case of RUNS cycles has one in ROUND (bench.c's spreading;
# every warm-up round has one).
in_round() {
	(($2 < 0 || ($2 + 1) * $1 / ROUNDS != $2 * $1 / ROUNDS))
}

# storm_case NAME PROG ACTION FIREWALL|script: --case words of one checked storm, into CASE.
storm_case() {
	local name=$1 prog=$2 action=$3 fw=$4 ours=$4
	[[ $fw == script ]] && ours=
	libxl_words "$prog" "$action" '{}' "$ours"
	CASE+=(--case "$name" --storm "$FIRST-$LAST" "${WORDS[@]}"
		--untimed /bin/bash "$SELF" --check "$action" "$fw" "$FIRST" "$LAST")
}

# The storm's rounds: per round one driver run (each kind's online storm then its offline
# storm, the kinds reversed every other round) and one floor round, before the driver in odd
# rounds and after it in even ones. Warm-up rounds are not counted.
run_storm() {
	local round kind out k
	local -a kinds rev
	echo "storm: $VIFS vifs online at once, then offline at once; $ROUNDS rounds" \
		"($SCRIPT_ROUNDS for the script, $REF_SCRIPT), $WARMUP warm-up, interleaved with" \
		"the floor"
	for ((round = -WARMUP; round < ROUNDS; round++)); do
		out=$SB/storm.samples
		((round < 0)) && out=/dev/null
		kinds=(nft none)
		in_round "$SCRIPT_ROUNDS" "$round" && kinds+=(script)
		if ((round % 2)); then
			rev=()
			for ((k = ${#kinds[@]} - 1; k >= 0; k--)); do rev+=("${kinds[k]}"); done
			kinds=("${rev[@]}")
			floor_samples "$out" floor -n 1 -w 0 storm <"$SB/vifs"
		fi
		CASE=()
		for kind in "${kinds[@]}"; do
			if [[ $kind == script ]]; then
				storm_case script-on "$REF_SCRIPT" online script
				storm_case script-off "$REF_SCRIPT" offline script
			else
				storm_case "$kind-on" "$PROG" online "$kind"
				storm_case "$kind-off" "$PROG" offline "$kind"
			fi
		done
		driver "$out" -t 300 "${CASE[@]}"
		((round % 2)) || floor_samples "$out" floor -n 1 -w 0 storm <"$SB/vifs"
	done
	echo "checks: after every storm, warm-up included, the vifs were up on xenbr0 and" \
		"connected, with their rules (nft) or without (none), and gone after offline: ok"
}

# b2b_case NAME FIREWALL: --case words of -r B2B online+offline cycles of vif1.0, into CASE.
b2b_case() {
	local name=$1 fw=$2
	CASE=(--case "$name" -r "$B2B")
	libxl_words "$PROG" online 1 "$fw"
	CASE+=("${WORDS[@]}" --then)
	libxl_words "$PROG" offline 1 "$fw"
	CASE+=("${WORDS[@]}")
}

# vif1.0 after a run of cycles: down, on no bridge, in no rule set, connected.
check_vif1() {
	local status
	[[ -z $(link_master vif1.0) ]] || die "$1: vif1.0 is still on a bridge after offline"
	! link_is_up vif1.0 || die "$1: vif1.0 is still up after offline"
	! inh nft list ruleset | grep -qE 'vif1\.0([^0-9]|$)' || die "$1: vif1.0 still has rules"
	status=$(xs_read "$(xs_backend 1 0)/hotplug-status" 2>/dev/null)
	[[ $status == connected ]] || die "$1: hotplug-status of vif1.0 is '$status'"
}

# run_b2b LABEL: the back-to-back blocks of nft, none and the floor, in an order reversed
# every other block; the first block is a warm-up.
run_b2b() {
	local label=$1 block kind out
	local -a kinds
	for ((block = -1; block < B2B_BLOCKS; block++)); do
		out=$SB/b2b.samples
		((block < 0)) && out=/dev/null
		kinds=(nft none floor)
		((block % 2)) && kinds=(floor none nft)
		for kind in "${kinds[@]}"; do
			if [[ $kind == floor ]]; then
				floor_samples "$out" "floor-$label" -n "$B2B" -w 1 dev=vif1.0 \
					"ip=$B2B_IP" "mac=$B2B_MAC" bridge=xenbr0
			else
				b2b_case "b2b-$kind-$label" "$kind"
				driver "$out" "${CASE[@]}"
			fi
		done
	done
	check_vif1 "back to back ($label)"
}

# vif2.0 online or offline (with nft), for the "beside" run.
vif2() {
	libxl_words "$PROG" "$1" 2 nft
	inh env -i "${DRIVER_ENV[@]}" "${WORDS[@]}" </dev/null >>"$SB/vif2.log" 2>&1 ||
		die "vif-bridge $1 of vif2.0 failed: $(tail -n 5 "$SB/vif2.log")"
}

# load_stats FILE: per sample name of FILE, "COUNT MEDIAN MIN P90 MAX" (as bench.c computes
# them) into STAT[NAME].
load_stats() {
	local name rest
	STAT=()
	while read -r name rest; do
		STAT[$name]=$rest
	done < <(awk '
	$1 == "sample" { k = $2; n[k]++; s[k, n[k]] = $3 }
	END {
		for (k in n) {
			c = n[k]
			for (i = 1; i <= c; i++)
				v[i] = s[k, i]
			for (i = 2; i <= c; i++) {
				t = v[i]
				for (j = i - 1; j >= 1 && v[j] > t; j--)
					v[j + 1] = v[j]
				v[j + 1] = t
			}
			m = c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
			r = int(0.9 * c + 0.999999)
			printf "%s %d %.1f %.1f %.1f %.1f\n", k, c, m, v[1], v[r < 1 ? 1 : r], v[c]
		}
	}' "$1")
}

# rows NAME...: the table of the named samples, as bench.c prints it.
rows() {
	local name count med min p90 max
	printf '%-20s %6s %12s %12s %12s %12s\n' case cycles median_us min_us p90_us max_us
	for name in "$@"; do
		[[ -n ${STAT[$name]:-} ]] || die "no samples of $name"
		read -r count med min p90 max <<<"${STAT[$name]}"
		printf '%-20s %6d %12.1f %12.1f %12.1f %12.1f\n' "$name" "$count" "$med" "$min" \
			"$p90" "$max"
	done
}

# med NAME: its median, into VAL.
med() {
	local count
	read -r count VAL _ <<<"${STAT[$1]}"
}

# ratio A B [TARGET]: median(A)/median(B), judged as printed against "<= TARGET".
ratio() {
	local a b verdict
	med "$1" && a=$VAL
	med "$2" && b=$VAL
	verdict=$(awk -v a="$a" -v b="$b" -v t="${3:-}" 'BEGIN {
		r = sprintf("%.2f", a / b) + 0
		printf "%.2f", r
		if (t != "")
			printf "  (target <= %s: %s)", t, r <= t + 0 ? "PASS" : "MISS"
	}')
	echo "ratio $1/$2 = $verdict"
	[[ $verdict == *MISS* ]] && MISSES=$((MISSES + 1))
	return 0
}

# close_to WHAT PROGRAM FLOOR [MINUS]: median(PROGRAM) (less median(MINUS)) against
# median(FLOOR): the difference and the ratio, in ms.
close_to() {
	local p f m=0
	med "$2" && p=$VAL
	med "$3" && f=$VAL
	[[ -n ${4:-} ]] && med "$4" && m=$VAL
	awk -v w="$1" -v p="$p" -v m="$m" -v f="$f" 'BEGIN {
		p -= m
		printf "  %-38s program %8.2f ms  floor %8.2f ms  program - floor %8.2f ms  program/floor %6.2f\n",
			w, p / 1000, f / 1000, (p - f) / 1000, p / f }'
}

report_storm() {
	local c
	local -a names=()
	load_stats "$SB/storm.samples"
	for c in nft-on nft-off none-on none-off script-on script-off; do
		names+=("$c" "$c:ret")
	done
	echo "storm results (NAME: until every process of the storm had ended, the deferred"
	echo "socket closes included; NAME:ret: until the last program returned)"
	rows "${names[@]}" floor-add floor-del floor-del+free
	ratio nft-on none-on "$STORM_TARGET"
	ratio nft-off none-off "$STORM_TARGET"
	ratio nft-on:ret none-on:ret
	ratio nft-off:ret none-off:ret
	ratio script-on none-on
	ratio script-off none-off
	ratio script-on nft-on
	ratio script-off nft-off
	echo "floor: nftfloor, the same nf_tables requests from one in-process client, the" \
		"$VIFS vifs added one after another, then deleted; how close the program comes:"
	close_to "online storm, nft" nft-on floor-add
	close_to "online storm, nft - none" nft-on floor-add none-on
	close_to "offline storm, nft" nft-off floor-del+free
	close_to "offline storm, nft - none" nft-off floor-del+free none-off
	close_to "offline storm to the return, nft - none" nft-off:ret floor-del none-off:ret
}

report_b2b() {
	local label
	load_stats "$SB/b2b.samples"
	echo "back-to-back results, per cycle (NAME: the wait for the last block's leftovers" \
		"in its last cycle; NAME:ret: without it)"
	rows b2b-nft-alone b2b-nft-alone:ret b2b-none-alone b2b-none-alone:ret floor-alone \
		b2b-nft-beside b2b-nft-beside:ret b2b-none-beside b2b-none-beside:ret floor-beside
	for label in alone beside; do
		ratio "b2b-nft-$label" "b2b-none-$label" "$B2B_TARGET"
	done
	echo "floor: nftfloor, one vif's add and delete per cycle; how close the program comes:"
	for label in alone beside; do
		close_to "one vif's cycle ($label), nft" "b2b-nft-$label" "floor-$label"
		close_to "one vif's cycle ($label), nft - none" "b2b-nft-$label" "floor-$label" \
			"b2b-none-$label"
	done
}

main() {
	local t_all
	declare -gA STAT=()
	MISSES=0
	now_us
	t_all=$NOW
	check_inputs
	setup
	: >"$SB/storm.samples"
	: >"$SB/b2b.samples"
	run_storm
	report_storm
	echo "back to back: online+offline of vif1.0, $B2B cycles per block, $B2B_BLOCKS blocks" \
		"per case (+1 warm-up), nft, none and the floor alternating"
	echo "  alone: no other guest (each online creates the table, each offline deletes it)"
	run_b2b alone
	echo "  beside: vif2.0 online meanwhile, with its rules (the table stays)"
	vif2 online
	run_b2b beside
	vif2 offline
	check_vif1 "after vif2.0's offline"
	! inh nft list ruleset | grep -q xen_hotplug ||
		die "a table xen_hotplug is left after the last vif's offline"
	report_b2b
	((MISSES == 0)) ||
		echo "bench: warning: $MISSES target(s) missed (timings are noisy; rerun on an idle machine)" >&2
	now_us
	echo "total time: $(((NOW - t_all) / 1000000)) s"
}

main "$@"
