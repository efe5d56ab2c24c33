#!/bin/bash
# tap-lib.sh: one test's result lines, as the namespace lane (tests/lib.sh) and the real-Xen
# lane (tests/xen/lib.sh) both print them.
# shellcheck shell=bash

# tap_result NAME RC LOG [TRANSCRIPT]: "ok - NAME" and the test's notes, or "not ok - NAME"
# and the end of its log (and of TRANSCRIPT, when it has one); counts into the caller's
# passed and failed.
tap_result() {
	local name=$1 rc=$2 log=$3 transcript=${4:-}
	if [[ $rc -eq 0 ]]; then
		echo "ok - $name"
		sed -n 's/^#note: /# /p' "$log"
		passed=$((passed + 1))
		return
	fi
	echo "not ok - $name"
	[[ $rc -eq 124 || $rc -eq 137 ]] && echo "# timed out after ${TEST_TIMEOUT}s"
	sed 's/^/#   /' "$log" | tail -n 40
	if [[ -n $transcript && -s $transcript ]]; then
		echo "#   transcript:"
		tail -n 30 "$transcript" | sed 's/^/#     /'
	fi
	failed=$((failed + 1))
}
