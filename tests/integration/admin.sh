#!/bin/bash
# What the administrator reads, kept true (issue 6, "the administrator's experience"): for each
# of the six hooks and the operator's tool xen-net-hooks, --help, -h, --version and a wrong
# option behave as documented, and the man page documents every parameter, option, command
# and environment variable that --help names, has the sections an administrator looks for
# (with xend and xl examples and the differences from the Xen scripts), and renders without a
# warning.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VERSION=$(sed -n 's/^#define XNH_VERSION "\(.*\)"$/\1/p' "$ROOT/common/version.h")

# The man page's source as text: roff's escaped hyphens and font changes taken out.
man_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$ROOT/man/$1.8"; }

# The body of one section of the man page (.SH NAME up to the next .SH).
man_section() { # PROG NAME
	man_text "$1" | awk -v s=".SH $2" '$0 == s || $0 == s "\"" { on = 1; next }
		/^\.SH / { on = 0 } on'
}

# Lines of --help from the one starting with FROM up to the next line starting with a capital.
help_part() { # TEXT FROM
	awk -v f="$2" 'index($0, f) == 1 { on = 1; print; next } /^[A-Z]/ { on = 0 } on' <<<"$1"
}

# has TEXT WORD WHERE: WORD is in TEXT (which is long: the failure names only WHERE).
has() { grep -qF -- "$2" <<<"$1" || fail "$3 does not mention $2"; }

check_program() {
	local prog=$1 bin=$BUILD/$1 help w man usage cmds
	help=$("$bin" --help 2>&1)
	assert_eq 0 "$?" "$prog --help exit"
	usage=$(head -n 1 <<<"$help")
	assert_contains "$usage" "Usage: $prog " "first line of --help"
	assert_contains "$help" "$prog(8)" "--help points to the man page"
	assert_same "$help" "$("$bin" -h 2>&1)" "-h is --help"
	assert_eq "$prog $VERSION" "$("$bin" --version 2>&1)" "--version"

	"$bin" --no-such-option >/dev/null 2>"$SB/err"
	assert_ne 0 "$?" "$prog --no-such-option exit"
	assert_contains "$(cat "$SB/err")" "--no-such-option" "the wrong option is named"

	man=$(man_text "$prog")
	# Every parameter --help lists (key=...), in the man page's PARAMETERS (or a section
	# of its own, such as DHCP or FIREWALL, which the PARAMETERS section points to).
	local keys
	keys=$(sed -n '/^Parameters/,/^Options:/s/^ *//p' <<<"$help" |
		grep -oE '(^|, )[a-z][a-z0-9_]*=' | sed 's/^, //' | sort -u)
	[[ -n $keys ]] || fail "no parameters found in $prog --help"
	for w in $keys; do
		has "$man" "$w" "$prog(8)"
	done
	# Every option.
	for w in $(help_part "$help" "Options:" | grep -oE '(^| )--?[a-z][a-z-]*' | sort -u); do
		has "$(man_section "$prog" OPTIONS)" "$w" "OPTIONS of $prog(8)"
	done
	# Every command of the usage line, in COMMANDS.
	cmds=$(sed -n 's/.*\] \([a-z|]*\) \[.*/\1/p' <<<"$usage")
	[[ -n $cmds ]] || fail "no commands in the usage line: $usage"
	for w in ${cmds//|/ }; do
		has "$(man_section "$prog" COMMANDS)" "$w" "COMMANDS of $prog(8)"
	done
	# Every environment variable --help names, in ENVIRONMENT.
	for w in $(help_part "$help" "Environment:" | sed 's/^Environment://' |
		grep -oE '\b([A-Z][A-Z_]{2,}|vif)\b' | sort -u); do
		has "$(man_section "$prog" ENVIRONMENT)" "$w" "ENVIRONMENT of $prog(8)"
	done

	# The sections an administrator looks for.
	local s
	for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS PARAMETERS ENVIRONMENT FILES \
		"EXIT STATUS" EXAMPLES "DIFFERENCES FROM THE XEN SCRIPTS" "SEE ALSO"; do
		has "$(grep '^\.SH' "$ROOT/man/$prog.8")" ".SH $s" "$prog(8)"
	done
	local ex
	ex=$(man_section "$prog" EXAMPLES)
	has "$ex" "xend-config.sxp" "EXAMPLES of $prog(8)"
	has "$ex" "xl" "EXAMPLES of $prog(8)"

	# It renders, with no warning from groff.
	local warnings
	warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$ROOT/man/$prog.8" 2>&1 >/dev/null)
	assert_eq "" "$warnings" "man --warnings $prog.8"
}

test_network_bridge() { check_program network-bridge; }
test_vif_bridge() { check_program vif-bridge; }
test_network_route() { check_program network-route; }
test_vif_route() { check_program vif-route; }
test_network_nat() { check_program network-nat; }
test_vif_nat() { check_program vif-nat; }
test_xen_net_hooks() { check_program xen-net-hooks; }

run_tests "$@"
