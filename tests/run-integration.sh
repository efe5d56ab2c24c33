#!/bin/bash
# Runs every tests/integration/*.sh, shows their lines, and ends with the
# total "N passed, N failed"; exits non-zero when any test or file failed.

set -u
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
passed=0
failed=0
for f in "$dir"/integration/*.sh; do
	name=${f#"$dir"/}
	echo "# $name"
	out=$(bash "$f" 2>&1)
	rc=$?
	summary=$(printf '%s\n' "$out" | tail -n 1)
	if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		printf '%s\n' "$out" | sed '$d'
		echo "# $name: $summary"
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
		# A file that exits non-zero with no failed test still counts once.
		if [[ $rc -ne 0 && ${BASH_REMATCH[2]} -eq 0 ]]; then
			echo "not ok - $name (exit $rc)"
			failed=$((failed + 1))
		fi
	else
		# The file could not run its tests (not root, not built...).
		printf '%s\n' "$out"
		echo "not ok - $name (exit $rc, no summary line)"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
