#!/bin/bash
# The whole test suite, as `make check` runs it: unit, stand-in self test, the fuzz targets
# (FUZZ_TIME seconds each, 45 by default), integration (twice: the normal build and the
# ASan/UBSan build), the real-Xen lane (tests/xen; XEN_LANE=0 leaves it out), with one total
# line at the end.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
ASAN_BUILD=${ASAN_BUILD:-$ROOT/build-asan}
passed=0 failed=0

# Run one suite, show its output, and add its counts to the totals.
suite() {
	local name=$1 out rc
	shift
	echo "=== $name"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	local p f
	if read -r p f < <(sed -n 's/^\(.*: \)\?\([0-9]\+\) passed, \([0-9]\+\) failed.*/\2 \3/p' "$out" | tail -1) && [[ -n $p ]]; then
		:
	elif grep -q '^\[  PASSED  \]' "$out"; then
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]\+\).*/\1/p' "$out" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]\+\) test.*/\1/p' "$out" | tail -1)
		f=${f:-0}
	else
		p=0 f=1
	fi
	[[ $rc -ne 0 && $f -eq 0 ]] && f=1
	passed=$((passed + p)) failed=$((failed + f))
	rm -f "$out"
}

for t in "$BUILD"/tests/unit/*; do
	[[ -x $t ]] && suite "unit: $(basename "$t")" "$t"
done
suite "xenstored stand-in" bash "$ROOT/tests/xenstored/selftest.sh" "$BUILD/xenstored-stub"
suite "fuzz" env FUZZ_TIME="${FUZZ_TIME:-45}" bash "$ROOT/tests/fuzz/run.sh"
suite "integration" env BUILD="$BUILD" bash "$ROOT/tests/run-integration.sh"
if [[ -x $ASAN_BUILD/vif-bridge ]]; then
	suite "integration (ASan/UBSan build)" env BUILD="$ASAN_BUILD" \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		bash "$ROOT/tests/run-integration.sh"
fi
# The same programs under the real toolstack: Xen, xl/libxl, oxenstored and netback in qemu.
if [[ ${XEN_LANE:-1} != 0 ]]; then
	suite "real-Xen lane" bash "$ROOT/tests/xen/run.sh"
fi

echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
