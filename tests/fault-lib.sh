# fault-lib.sh: fault injection for the integration tests, one loop for every program.
# Source it after lib.sh.
# shellcheck shell=bash
# shellcheck disable=SC2034 # RUN_ENV is read by lib.sh's run_* helpers
#
# The shim tests/tools/nlfail.c (LD_PRELOAD) counts the steps a program takes that change the
# system (netlink changes, nf_tables batches, conntrack deletions, /proc/sys writes, file
# renames and unlinks, xenstore writes, programs started, signals) and fails the Nth. fault_loop
# runs the program once to count and name the steps, then once per step and mode with that step
# failed, and judges each outcome:
#   - a step the program must undo on failure (the default): exit non-zero, a message, for a vif
#     program hotplug-status "error" with a hotplug-error, no trouble reported by the undo, and
#     the state exactly as before the run;
#   - a step whose failure the program rides over (FAULT_TOLERATED): exit 0, a warning, and the
#     state as after a clean run;
#   - with FAULT_ON_FAIL=continue (offline, which cannot be undone): exit non-zero, a message,
#     hotplug-error, and what fault_check_partial (if defined) requires of the state left;
# and after every failure a clean run must succeed and leave the state of a clean run: nothing
# the failure left stands in the way. kill_loop (at the end) kills the program instead, just
# before each step in turn, and judges how the next ordinary commands repair the host.
#
# The caller defines:
#   fault_setup      brings the system to the starting state (from whatever a run left)
#   fault_run        runs the program once (run_udev, run_xl, run_env...: RUN_ENV is honoured)
#   fault_snapshot   prints the state (optional; default fault_state)
# and may set:
#   FAULT_BACKEND    the vif's xenstore backend directory (vif programs)
#   FAULT_TOLERATED  an extended regex matched against a step's "KIND DETAIL" (see nlfail.c)
#   FAULT_ON_FAIL    undo (default) or continue
#   FAULT_BOTH_MODES an extended regex on the kind: steps tried both ways (the call fails, the
#                    other side refuses); the others only refused. Default: ^(route|nft)$
#   FAULT_FILES      files outside the sandbox's run directory that fault_state shows (DHCP)
#   FAULT_SKIP       an extended regex on "KIND DETAIL": known gaps, not failed (noted)

NLFAIL=$BUILD/tests/nlfail.so
FAULT_BACKEND=
FAULT_TOLERATED=
FAULT_ON_FAIL=undo
FAULT_BOTH_MODES='^(route|nft)$'
FAULT_FILES=()
FAULT_SKIP=

# The LD_PRELOAD value for the shim; a program built with ASan needs its runtime loaded first.
fault_preload() {
	local asan
	asan=$(ldd "$BUILD/vif-bridge" 2>/dev/null | awk '/libasan/ {print $3; exit}')
	echo "${asan:+$asan }$NLFAIL"
}

# Everything the programs may change on the host, canonical and sorted:
# - links: name, MAC, MTU, the flags set by hand (not the carrier's), master, kind;
# - addresses but the kernel's link-local ones (without the lifetime counters);
# - routes of every table, both families, but the kernel's link-local and multicast ones;
# - the forwarding and proxy ARP settings of every link;
# - the nftables rule set, and the iptables rules when iptables is there;
# - the files in XEN_RUN_DIR and FAULT_FILES (content, owner, mode), the temporary (dot) files
#   beside FAULT_FILES, the lock files left;
# - the xenstore tree but the hotplug-error and hotplug-status nodes.
fault_state() {
	local f
	printf '%s\n' "link show" "addr show" "route show table all root 0.0.0.0/0" \
		"route show table all root ::/0" |
		ip -n "$HOST" -j -d -batch - | jq -n -S -c '[inputs] as [$links, $addrs, $r4, $r6]
		| ($links[] | {k: "link", ifname, address, mtu, master: (.master // ""),
			flags: ((.flags // []) - ["LOWER_UP", "NO-CARRIER", "M-DOWN"] | sort),
			kind: (.linkinfo.info_kind // "")}),
		  ($addrs[] | .ifname as $d | .addr_info[]?
			| select(.local | startswith("fe80:") | not)
			| {k: "addr", dev: $d} + del(.valid_life_time, .preferred_life_time, .tentative)),
		  (($r4[] | .k = "route4"), ($r6[] | .k = "route6")
			| select((.dst | startswith("fe80:")) or .dst == "ff00::/8" | not)
			| .flags = ((.flags // []) - ["linkdown"]) | del(.expires))' | LC_ALL=C sort
	# The globs must expand inside the host namespace (/proc/sys/net is per namespace).
	inh sh -c 'cd /proc/sys/net && grep -H . ipv4/ip_forward ipv4/conf/*/proxy_arp \
		ipv4/conf/*/forwarding ipv6/conf/*/forwarding ipv6/conf/*/proxy_ndp \
		ipv6/conf/*/accept_ra' 2>/dev/null
	ip -n "$HOST" -6 neigh show proxy | LC_ALL=C sort | sed 's/^/proxy /'
	inh nft list ruleset 2>/dev/null
	if command -v iptables-save >/dev/null; then
		inh iptables-save 2>/dev/null | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]//'
	fi
	for f in $(find "$XEN_RUN_DIR" "${FAULT_FILES[@]}" -type f 2>/dev/null | LC_ALL=C sort); do
		echo "== $f $(stat -c '%u:%g %a' "$f")"
		cat "$f"
	done
	for f in "${FAULT_FILES[@]}"; do
		[[ -e $f ]] || echo "== $f missing"
	done
	# An edit is a temporary file renamed over the file: one left is a run's leftover.
	for f in "${FAULT_FILES[@]}"; do
		echo "${f%/*}"
	done | LC_ALL=C sort -u | while read -r f; do
		find "$f" -maxdepth 1 -type f -name '.*' -printf 'temporary file left: %p\n'
	done | LC_ALL=C sort
	for f in "$XEN_LOCK_DIR"/*; do
		[[ -e $f ]] || continue
		if flock -n "$f" true; then echo "lock file left: ${f##*/}"; else echo "lock held: ${f##*/}"; fi
	done
	xenstore-ls -f /local 2>/dev/null | grep -v -e '/hotplug-error = ' -e '/hotplug-status = '
}

_fault_snap() {
	if declare -F fault_snapshot >/dev/null; then fault_snapshot; else fault_state; fi
}

# Everything the last run said: its output and the hotplug log.
_fault_msgs() {
	printf '%s\n' "$OUT"
	cat "$XEN_LOG_DIR/xen-hotplug.log" 2>/dev/null
}

# _fault_run [NLFAIL_VAR=value...]: the program under the shim, the vif's reports and the log
# cleared first.
_fault_run() {
	if [[ -n $FAULT_BACKEND ]]; then
		xs_rm "$FAULT_BACKEND/hotplug-error"
		xs_rm "$FAULT_BACKEND/hotplug-status"
	fi
	: >"$XEN_LOG_DIR/xen-hotplug.log"
	rm -f "$SB/nlfail.log"
	RUN_ENV=("LD_PRELOAD=$(fault_preload)" "NLFAIL_LOG=$SB/nlfail.log" "$@")
	fault_run
	RUN_ENV=()
}

# _fault_diff A B: the lines that differ (< A, > B).
_fault_diff() {
	diff <(printf '%s\n' "$1") <(printf '%s\n' "$2") | grep '^[<>]'
}

# _fault_judge BEFORE AFTER STEP: what is wrong with the outcome of the run that failed STEP
# ("KIND DETAIL"), nothing when it is right.
_fault_judge() {
	local before=$1 after=$2 step=$3 now msgs
	now=$(_fault_snap)
	msgs=$(_fault_msgs)
	if [[ $msgs == *Sanitizer* || $msgs == *"runtime error"* ]]; then
		echo "a sanitizer report: $msgs"
		return
	fi
	if [[ -n $FAULT_TOLERATED && $step =~ $FAULT_TOLERATED ]]; then
		if [[ $RC -ne 0 ]]; then
			echo "exit $RC for a failure it should ride over: $msgs"
		elif [[ $now != "$after" ]] && ! _fault_settled "$after"; then
			echo "the state differs from a clean run's (< clean, > now):"
			_fault_diff "$after" "$(_fault_snap)"
		elif [[ -z ${msgs//[[:space:]]/} ]]; then
			echo "no warning"
		fi
		return
	fi
	if [[ $RC -eq 0 ]]; then
		echo "exit 0"
		return
	fi
	if [[ -z ${msgs//[[:space:]]/} ]]; then
		echo "exit $RC without a message"
		return
	fi
	if [[ -n $FAULT_BACKEND ]] && { ! xs_exists "$FAULT_BACKEND/hotplug-error" ||
		[[ $(xs_read "$FAULT_BACKEND/hotplug-status" 2>/dev/null) != error ]]; }; then
		echo "no hotplug-error / hotplug-status error in xenstore: $msgs"
		return
	fi
	if [[ $FAULT_ON_FAIL == continue ]]; then
		declare -F fault_check_partial >/dev/null && fault_check_partial "$before" "$now"
		return
	fi
	if [[ $now != "$before" ]] && ! _fault_settled "$before"; then
		echo "the state differs (< before, > after):"
		_fault_diff "$before" "$(_fault_snap)"
		echo "program said (exit $RC): $msgs"
	elif [[ $msgs =~ could\ not\ (restore|put\ back)|could\ not\ be\ undone ]]; then
		echo "the undo reported a problem (yet the state is as before): $msgs"
	fi
}

# _fault_settled STATE: the state is STATE within five seconds (the kernel finishes some
# changes, e.g. a new link's carrier, after the command that made them returned; a loaded
# machine can take a while). Only a run whose state differs waits. Five seconds of the clock,
# not a number of tries: a big state takes a good part of a second to dump, and a kill loop
# waits for every point that fails.
_fault_settled() {
	local end=$((${EPOCHREALTIME//[!0-9]/} + 5000000))
	while [[ $(_fault_snap) != "$1" ]]; do
		((${EPOCHREALTIME//[!0-9]/} < end)) || return 1
		sleep 0.1
	done
}

# _fault_count NAME: one clean run from the state fault_setup makes, under the shim, counted:
# the states before and after it in FAULT_BEFORE and FAULT_AFTER, its steps ("KIND DETAIL")
# in FAULT_STEPS; noted by kind.
_fault_count() {
	local name=$1
	[[ -f $NLFAIL ]] || fail "$NLFAIL is missing: run make"
	fault_setup
	FAULT_BEFORE=$(_fault_snap)
	_fault_run "NLFAIL_COUNT=$SB/nlfail.count"
	[[ $RC -eq 0 ]] || fail "$name under the shim, nothing failed: exit $RC: $(_fault_msgs)"
	FAULT_AFTER=$(_fault_snap)
	# A repeated online renews what is there: steps, but the same state.
	[[ $FAULT_AFTER != "$FAULT_BEFORE" ]] || note "$name: a clean run leaves the state as it found it"
	mapfile -t FAULT_STEPS < <(sed 's/^[0-9]* //' "$SB/nlfail.log")
	((${#FAULT_STEPS[@]} > 0)) || fail "$name: the shim counted no step"
	note "$name: ${#FAULT_STEPS[@]} steps ($(printf '%s\n' "${FAULT_STEPS[@]}" | cut -d' ' -f1 |
		sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}'))"
}

# _fault_reset NAME WHAT: fault_setup again, which must bring back FAULT_BEFORE (WHAT says which
# run it prepares, for the message).
_fault_reset() {
	fault_setup
	_fault_settled "$FAULT_BEFORE" ||
		fail "$1: fault_setup did not bring back the starting state ($2):
$(_fault_diff "$FAULT_BEFORE" "$(_fault_snap)")"
}

# _fault_landed STEP: nothing when the last run's failed step was STEP ("KIND DETAIL"), numbers
# aside (a pid in a signal step); else what it was.
_fault_landed() {
	local step=$1 line
	line=$(grep -m1 ' failed$' "$SB/nlfail.log" 2>/dev/null)
	if [[ ${line#* } != "$step failed" && ${line//[0-9]/} != *"${step//[0-9]/} failed" ]]; then
		echo "the shim failed '${line:-nothing}', not '$step': the run took other steps"
	fi
}

# _fault_clean_after: nothing when a clean run, made now, succeeds and leaves FAULT_AFTER:
# nothing the failure or the interruption left stands in its way; else what is wrong.
_fault_clean_after() {
	_fault_run
	if [[ $RC -ne 0 ]]; then
		echo "the clean run after it failed: exit $RC: $(_fault_msgs)"
	elif ! _fault_settled "$FAULT_AFTER"; then
		echo "the clean run after it left another state (< clean, > now):
$(_fault_diff "$FAULT_AFTER" "$(_fault_snap)")"
	fi
}

# fault_loop NAME: counts the steps of one clean run from the state fault_setup makes, then
# fails each in turn (see the top of this file). Notes the steps by kind; fails the test with
# the first wrong outcome and the list of steps that had one.
fault_loop() {
	local name=$1 total n k mode why step bad=() first='' runs=0
	local -a modes
	_fault_count "$name"
	total=${#FAULT_STEPS[@]}
	for ((n = 1; n <= total; n++)); do
		step=${FAULT_STEPS[n - 1]}
		k=${step%% *}
		if [[ -n $FAULT_SKIP && $step =~ $FAULT_SKIP ]]; then
			note "$name: step $n ($step) not failed: a known gap"
			continue
		fi
		modes=(nack)
		[[ $k =~ $FAULT_BOTH_MODES ]] && modes=(nack send)
		for mode in "${modes[@]}"; do
			_fault_reset "$name" "step $n, $mode"
			_fault_run "NLFAIL_AT=$n" "NLFAIL_MODE=$mode"
			runs=$((runs + 1))
			why=$(_fault_landed "$step")
			[[ -n $why ]] || why=$(_fault_judge "$FAULT_BEFORE" "$FAULT_AFTER" "$step")
			[[ -n $why ]] || why=$(_fault_clean_after)
			if [[ -n $why ]]; then
				bad+=("$n/$mode")
				[[ -n $first ]] || first="step $n ($step, $mode): $why"
			fi
		done
	done
	((${#bad[@]} == 0)) || fail "$name: wrong outcome when step N failed, for N/mode in:" \
		"${bad[*]}; the first:
$first"
	note "$name: $runs runs with a step failed, each outcome right"
}

# ---------------------------------------------------------------- kills

# _kill_landed N STEP: nothing when the last run died of SIGKILL just before step N, STEP
# ("KIND DETAIL"), as NLFAIL_MODE=kill makes it; else what happened instead.
_kill_landed() {
	local n=$1 why
	if [[ $RC -ne 137 ]]; then
		echo "exit $RC, not death by SIGKILL (137): $(_fault_msgs)"
		return
	fi
	why=$(_fault_landed "$2")
	if [[ -n $why ]]; then
		echo "$why"
	elif [[ $(wc -l <"$SB/nlfail.log") -ne $n || $(tail -n 1 "$SB/nlfail.log") != *" failed" ]]; then
		echo "the shim's log goes on after the step:
$(cat "$SB/nlfail.log")"
	elif [[ $(cat "$SB/nlfail.count" 2>/dev/null) != "$n" ]]; then
		echo "the count file says '$(cat "$SB/nlfail.count" 2>/dev/null)', not $n"
	fi
}

# _kill_recover RECOVERY: RECOVERY's commands (CMD=STATE words) in order; prints what went
# wrong with the first that went wrong.
_kill_recover() {
	local word cmd state msgs now why
	for word in $1; do
		cmd=${word%=*} state=${word##*=}
		: >"$XEN_LOG_DIR/xen-hotplug.log"
		kill_run "$cmd"
		msgs=$(_fault_msgs)
		why=
		if [[ $msgs == *Sanitizer* || $msgs == *"runtime error"* ]]; then
			why="a sanitizer report: $msgs"$'\n'
		elif [[ $RC -ne 0 ]]; then
			why="exit $RC: $msgs"$'\n'
		fi
		if ! _fault_settled "${KILL_STATES[$state]}"; then
			now=$(_fault_snap)
			why+="the state differs from $state's (< $state, > now):
$(_fault_diff "${KILL_STATES[$state]}" "$now")"
			# What a run that succeeded thought it did (e.g. that nothing was left to do).
			[[ $RC -ne 0 || -z ${msgs//[[:space:]]/} ]] ||
				why+=$'\n'"exit 0, saying: $(head -n 3 <<<"$msgs")"
		fi
		if [[ -n $why ]]; then
			printf '%s: %s\n' "$cmd" "$why"
			return
		fi
	done
}

# _kill_steps "N...": the numbers as ranges ("3-7 9").
_kill_steps() {
	tr -s ' ' '\n' <<<"${1# }" | awk 'NR == 1 { a = b = $1; next }
		$1 == b + 1 { b = $1; next }
		{ printf "%s ", (a == b ? a : a "-" b); a = b = $1 }
		END { if (NR) print (a == b ? a : a "-" b) }'
}

# kill_loop NAME: SPEC §7's SIGKILL at any point. Counts the steps of one clean run as
# fault_loop does; then, for each step N and each recovery of KILL_RECOVERIES, from a fresh
# fault_setup: the program is SIGKILLed just before step N (NLFAIL_MODE=kill: the step never
# happens), and the recovery's commands run, each of which must exit 0 and leave exactly the
# state it names. Before that, each recovery runs once from the end of a clean run, which must
# give the same states: a reference the programs cannot reach would make every point fail,
# and says that the test, not the repair, is wrong. Notes "kill: NAME: P points, F failed" and
# fails the test when F > 0, naming the failed steps of each check and the first failure;
# KILL_REPORT, when set, is a directory that gets a file per loop: the steps, and every failure
# in full (the test's output is cut short).
#
# Besides fault_setup, fault_run and (optionally) fault_snapshot, as for fault_loop, the caller
# defines:
#   kill_run CMD       runs recovery command CMD (RC and OUT set, as run_env does)
#   kill_state_NAME    for each state NAME but before and after: turns the state fault_setup
#                      makes into that reference (e.g. the guest gone, as the toolstack leaves it)
#   kill_check         (optional) judges what the kill left, given the states before the run
#                      and now: prints what is wrong (run after the kill of the first recovery)
# and sets KILL_RECOVERIES, one recovery a word list "CMD=STATE...", STATE being before
# (fault_setup's), after (a clean run's) or a NAME of kill_state_NAME.
KILL_RECOVERIES=()
KILL_REPORT=${KILL_REPORT:-}
kill_loop() {
	local name=$1 total n r step why word state now failed=() first='' out report=
	local -A checks=()
	declare -g -A KILL_STATES=()
	((${#KILL_RECOVERIES[@]} > 0)) || fail "$name: no KILL_RECOVERIES"
	_fault_count "$name"
	total=${#FAULT_STEPS[@]}
	if [[ -n $KILL_REPORT ]]; then
		mkdir -p "$KILL_REPORT" || fail "cannot make $KILL_REPORT"
		report=$KILL_REPORT/$(printf %s "$name" | tr -c 'A-Za-z0-9.=-' _).txt
		{
			echo "== kill: $name: $total steps"
			cat "$SB/nlfail.log"
		} >"$report"
	fi
	KILL_STATES[before]=$FAULT_BEFORE
	KILL_STATES[after]=$FAULT_AFTER
	for r in "${KILL_RECOVERIES[@]}"; do
		for word in $r; do
			state=${word##*=}
			[[ -n ${KILL_STATES[$state]+set} ]] && continue
			declare -F "kill_state_$state" >/dev/null || fail "$name: no kill_state_$state"
			_fault_reset "$name" "the reference $state"
			"kill_state_$state"
			KILL_STATES[$state]=$(_fault_snap)
		done
	done
	for r in "${KILL_RECOVERIES[@]}"; do
		_fault_reset "$name" "$r from a clean run"
		_fault_run
		[[ $RC -eq 0 ]] || fail "$name: the clean run before '$r': exit $RC: $(_fault_msgs)"
		why=$(_kill_recover "$r")
		[[ -z $why ]] || fail "$name: harness: '$r' after a clean run does not give its states" \
			"either, so the kill points cannot be judged by them: $why"
	done
	for ((n = 1; n <= total; n++)); do
		step=${FAULT_STEPS[n - 1]}
		out=
		for r in "${KILL_RECOVERIES[@]}"; do
			_fault_reset "$name" "kill at step $n"
			_fault_run "NLFAIL_AT=$n" NLFAIL_MODE=kill "NLFAIL_COUNT=$SB/nlfail.count"
			why=$(_kill_landed "$n" "$step")
			[[ -z $why ]] || fail "$name: harness: the kill before step $n ($step) did not land:" \
				"$why"
			if [[ $r == "${KILL_RECOVERIES[0]}" ]] && declare -F kill_check >/dev/null; then
				now=$(_fault_snap)
				why=$(kill_check "$FAULT_BEFORE" "$now")
				if [[ -n $why ]]; then
					checks[check]+=" $n"
					out+="[check] $why"$'\n'
				fi
			fi
			why=$(_kill_recover "$r")
			if [[ -n $why ]]; then
				checks[$r]+=" $n"
				out+="[$r] $why"$'\n'
			fi
		done
		if [[ -n $out ]]; then
			failed+=("$n")
			[[ -n $first ]] || first="killed before step $n ($step): $out"
			[[ -z $report ]] ||
				printf '%s\n' "-- killed before step $n ($step):" "$out" >>"$report"
		fi
	done
	note "kill: $name: $total points, ${#failed[@]} failed"
	[[ -z $report ]] ||
		echo "== $total points, ${#failed[@]} failed: $(_kill_steps "${failed[*]}") ($SECONDS s)" >>"$report"
	((${#failed[@]} == 0)) && return 0
	why=
	[[ -n ${checks[check]:-} ]] && why+="  kill_check: $(_kill_steps "${checks[check]}")"$'\n'
	for r in "${KILL_RECOVERIES[@]}"; do
		[[ -n ${checks[$r]:-} ]] && why+="  '$r': $(_kill_steps "${checks[$r]}")"$'\n'
	done
	fail "kill: $name: $total points, ${#failed[@]} failed, by check:
$why the first (KILL_REPORT=DIR for all), $(head -n 4 <<<"$first")"
}

# ---------------------------------------------------------------- signals

# _signal_stopped FILE: the process named first in FILE (NLFAIL_STOPPED) has stopped itself.
_signal_stopped() {
	local stopped rest state
	[[ -s $1 ]] && read -r stopped rest <"$1" || return 1
	state=$(awk '{print $3}' "/proc/$stopped/stat" 2>/dev/null)
	[[ $state == T ]]
}

# signal_loop NAME: SPEC §7's SIGINT, SIGTERM and SIGHUP at any moment. Counts the steps of one
# clean run as fault_loop does; then, for each step N, from a fresh fault_setup: the program
# stops itself just before step N (NLFAIL_MODE=stop, which names the stopped process and the
# program in NLFAIL_STOPPED), is sent the signal (SIGTERM, SIGINT and SIGHUP in turn over the
# steps) and continued: the test acts on the program's own progress, never on a sleep. The run
# must exit 128 + the signal's number, name the signal in its message (and in hotplug-error,
# with hotplug-status error, for a vif program), and leave the state as before it; with
# FAULT_ON_FAIL=continue (offline) what fault_check_partial (if defined) requires. Then a clean
# run must succeed and leave a clean run's state. Notes "signal: NAME: P points, F failed".
signal_loop() {
	local name=$1 total n step sig num why msgs stopped program bad=() first=''
	local -a sigs=(TERM INT HUP) nums=(15 2 1)
	_fault_count "$name"
	total=${#FAULT_STEPS[@]}
	for ((n = 1; n <= total; n++)); do
		step=${FAULT_STEPS[n - 1]}
		sig=${sigs[n % 3]} num=${nums[n % 3]}
		_fault_reset "$name" "signal before step $n"
		rm -f "$SB/stopped" "$SB/signal.rc" "$SB/signal.out"
		(
			_fault_run "NLFAIL_AT=$n" NLFAIL_MODE=stop "NLFAIL_STOPPED=$SB/stopped"
			echo "$RC" >"$SB/signal.rc"
			printf '%s\n' "$OUT" >"$SB/signal.out"
		) &
		local bg=$! i
		for ((i = 0; i < 1000; i++)); do
			_signal_stopped "$SB/stopped" && break
			[[ -e $SB/signal.rc ]] && break
			sleep 0.01
		done
		why=
		if ! _signal_stopped "$SB/stopped"; then
			why="the program did not stop before step $n ($step)"
			[[ -s $SB/stopped ]] && read -r stopped program <"$SB/stopped" && kill -CONT "$stopped"
			wait "$bg"
		else
			read -r stopped program <"$SB/stopped"
			kill "-$sig" "$program"
			kill -CONT "$stopped"
			wait "$bg"
			RC=$(cat "$SB/signal.rc") OUT=$(cat "$SB/signal.out")
			msgs=$(_fault_msgs)
			if [[ $msgs == *Sanitizer* || $msgs == *"runtime error"* ]]; then
				why="a sanitizer report: $msgs"
			elif [[ $RC -ne $((128 + num)) ]]; then
				why="exit $RC, not $((128 + num)) (SIG$sig): $msgs"
			elif [[ $msgs != *SIG$sig* ]]; then
				why="the message does not name SIG$sig: $msgs"
			elif [[ -n $FAULT_BACKEND ]] && { ! xs_exists "$FAULT_BACKEND/hotplug-error" ||
				[[ $(xs_read "$FAULT_BACKEND/hotplug-status" 2>/dev/null) != error ]]; }; then
				why="no hotplug-error / hotplug-status error in xenstore: $msgs"
			elif [[ $FAULT_ON_FAIL == continue ]]; then
				declare -F fault_check_partial >/dev/null &&
					why=$(fault_check_partial "$FAULT_BEFORE" "$(_fault_snap)")
			elif ! _fault_settled "$FAULT_BEFORE"; then
				why="the state differs (< before, > after):
$(_fault_diff "$FAULT_BEFORE" "$(_fault_snap)")
program said (exit $RC): $msgs"
			fi
		fi
		[[ -n $why ]] || why=$(_fault_clean_after)
		if [[ -n $why ]]; then
			bad+=("$n")
			[[ -n $first ]] || first="SIG$sig before step $n ($step): $why"
		fi
	done
	note "signal: $name: $total points, ${#bad[@]} failed"
	((${#bad[@]} == 0)) || fail "signal: $name: wrong outcome for a signal before step" \
		"$(_kill_steps "${bad[*]}"); the first:
$first"
}
