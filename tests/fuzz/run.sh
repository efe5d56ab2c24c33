#!/bin/bash
# Build the libFuzzer targets (make fuzz-build) and run each for FUZZ_TIME seconds (default 60)
# from the committed seed corpus.  The corpus is only read: what a run finds goes to a
# temporary directory, removed at the end.  Any crash, leak, timeout, out-of-memory or
# sanitizer report fails the target; its input is kept in $FUZZ_BUILD/artifacts with the
# command that replays it.  Ends with "N passed, N failed", one count per target.
# FUZZ_TARGETS="params json" runs only those.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
[[ $FUZZ_BUILD == /* ]] || FUZZ_BUILD=$ROOT/$FUZZ_BUILD
FUZZ_TIME=${FUZZ_TIME:-60}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10} # seconds one input may take
src=$ROOT/tests/fuzz
artifacts=$FUZZ_BUILD/artifacts
passed=0 failed=0

if ! make --no-print-directory -s -C "$ROOT" FUZZ_BUILD="$FUZZ_BUILD" fuzz-build; then
	echo "not ok - fuzz: the targets do not build (clang with libFuzzer is needed: make deps)"
	echo "0 passed, 1 failed"
	exit 1
fi
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -n ${FUZZ_TARGETS:-} ]]; then
	read -ra targets <<<"$FUZZ_TARGETS"
else
	targets=()
	for f in "$src"/*.c; do
		targets+=("$(basename "$f" .c)")
	done
fi
for t in "${targets[@]}"; do
	bin=$FUZZ_BUILD/$t
	new=$work/$t
	log=$work/$t.log
	mkdir -p "$new"
	args=(-max_total_time="$FUZZ_TIME" -rss_limit_mb="$FUZZ_RSS_MB" -malloc_limit_mb="$FUZZ_RSS_MB"
		-timeout="$FUZZ_TIMEOUT" -print_final_stats=1 -artifact_prefix="$artifacts/$t-")
	[[ -f $src/$t.dict ]] && args+=(-dict="$src/$t.dict")
	seeds=()
	[[ -d $src/corpus/$t ]] && seeds=("$src/corpus/$t")
	# The first directory takes the new inputs; the seed directories are only read.
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:symbolize=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$bin" "${args[@]}" "$new" "${seeds[@]}" >"$log" 2>&1
	rc=$?
	done_line=$(grep -a "^#[0-9]*[[:space:]]*DONE" "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/cov: \1 ft: \2/p' <<<"$done_line")
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	summary="${runs:-?} runs, ${speed:-?} exec/s, ${cov:-no coverage line}"
	if [[ $rc -eq 0 ]] && ! grep -aqE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|property violated' "$log"; then
		echo "ok - fuzz $t: ${FUZZ_TIME}s, $summary"
		passed=$((passed + 1))
	else
		echo "not ok - fuzz $t (exit $rc): $summary"
		grep -aE 'property violated|ERROR:|SUMMARY:|runtime error:' "$log" | head -5 | sed 's/^/#   /'
		grep -a -A25 -E 'ERROR: |property violated' "$log" | grep -a -E '^ +#[0-9]+ .* in ' |
			grep -av -E "libFuzzer|fuzzer::|libc\.so|libc_start|_start |__sanitizer|abort|raise|pthread_kill| in main " |
			head -8 | sed 's/^/#   /'
		sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | while read -r a; do
			echo "#   input kept: $a"
			echo "#   replay it:  $bin $a"
		done
		cp "$log" "$artifacts/$t.log"
		echo "#   whole log:  $artifacts/$t.log"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
