# diff-lib.sh: the two sides of a differential test against one of Debian's Xen scripts
# (xen-utils-common): "ref", a host namespace with a store of its own where the script runs,
# and "ours", the sandbox's host and store where this project's program runs. Source it after
# lib.sh. A test file sets REF (the script's path) and OURS_PROG (our program's name in
# $BUILD), makes both sides with twins_new and its own set-up (on ref / on ours), runs calls
# with both, and compares with compare or compare_all.
# shellcheck shell=bash

# Extra environment for each side's calls (NAME=value), e.g. vif-nat's dhcp settings.
REF_ENV=()
OURS_ENV=()
# What compare_all compares: snapshot functions, in order.
COMPARE=(links_snapshot store_snapshot)

# twins_new: the reference's host namespace (REF_HOST) and store (REF_XS) beside ours, and
# REF_CMD, how the reference is run (the script itself until ref_wrapper says otherwise).
twins_new() {
	[[ -x $REF ]] || fail "$REF missing (package xen-utils-common)"
	OURS_HOST=$HOST
	OURS_XS=$XENSTORED_PATH
	REF_CMD=${REF_CMD:-$REF}
	ns_new REF_HOST
	stub_new REF_XS ref || fail "cannot start the reference's store"
}

# ref_wrapper [SRC=DST...]: REF_CMD becomes $SB/ref/<script>, which runs $REF with its
# arguments in a private mount namespace (unshare -m) where $SB/ref/log is /var/log/xen (its
# stderr goes there), $SB/ref/run is /run (its locks) and each directory SRC is bound over
# DST. The script runs unmodified from its directory, where it finds its libraries, and
# writes nothing in the real system.
ref_wrapper() {
	local d=$SB/ref b
	REF_CMD=$d/$(basename "$REF")
	[[ -f $REF_CMD ]] && return 0
	mkdir -p "$d/log" "$d/run" || return 1
	[[ -d /var/log/xen ]] || mkdir -p /var/log/xen || return 1
	# shellcheck disable=SC2016 # the wrapper's own expansions, written as they are
	{
		echo '#!/bin/bash'
		echo "# The reference $(basename "$REF") in a private mount namespace (diff-lib.sh)."
		echo 'if [[ ${1:-} != --inside ]]; then'
		echo '	exec unshare --mount --propagation private "$0" --inside "$@"'
		echo 'fi'
		echo 'shift'
		printf 'mount --bind %q /var/log/xen || exit 1\n' "$d/log"
		printf 'mount --bind %q /run || exit 1\n' "$d/run"
		for b in "$@"; do
			printf 'mount --bind %q %q || exit 1\n' "${b%%=*}" "${b#*=}"
		done
		printf 'exec %q "$@"\n' "$REF"
	} >"$REF_CMD" && chmod 0755 "$REF_CMD"
}

# ref_log: moves what the wrapped reference wrote to its log (its stderr) into the
# transcript, which a failing test shows.
ref_log() {
	local log=$SB/ref/log/xen-hotplug.log
	[[ -s $log ]] || return 0
	sed 's/^/  reference: /' "$log" >>"$SB/transcript"
	: >"$log"
}

# on ref|ours: point the lib helpers (HOST, XENSTORED_PATH) at one side.
on() {
	case $1 in
	ref) HOST=$REF_HOST XENSTORED_PATH=$REF_XS ;;
	ours) HOST=$OURS_HOST XENSTORED_PATH=$OURS_XS ;;
	esac
}

# both CALLER DOMID DEVID ACTION [EXTRA...]: the same call on each side, with the test's
# RUN_ENV and, for the reference, REF_ENV, for ours ($BUILD/$OURS_PROG) OURS_ENV; both must
# succeed or both fail. REF_RC and OURS_RC keep the exit statuses.
both() {
	local caller=$1 keep=("${RUN_ENV[@]}")
	shift
	on ref
	RUN_ENV=("${keep[@]}" "${REF_ENV[@]}")
	"$caller" "$REF_CMD" "$@"
	REF_RC=$RC
	ref_log
	on ours
	RUN_ENV=("${keep[@]}" "${OURS_ENV[@]}")
	"$caller" "$OURS_PROG" "$@"
	OURS_RC=$RC
	RUN_ENV=("${keep[@]}")
	assert_eq "$([[ $REF_RC -eq 0 ]] && echo ok || echo fail)" \
		"$([[ $OURS_RC -eq 0 ]] && echo ok || echo fail)" \
		"outcome of $caller $* (reference exit $REF_RC, ours $OURS_RC)"
}

# The host's links: what a vif program may change (name, master, MAC, MTU, up, ARP,
# addresses but link-local ones; with LINKS_BRD=yes, their broadcast addresses too).
links_snapshot() {
	ip -n "$HOST" -j -d addr show | jq -S -c --arg brd "${LINKS_BRD:-no}" '
		[.[] | select(.ifname != "lo") |
		{ifname, address, mtu, master: (.master // ""),
		up: ((.flags // []) | index("UP") != null),
		noarp: ((.flags // []) | index("NOARP") != null),
		addrs: [.addr_info[]? | select(.local | startswith("fe80") | not)
			| "\(.local)/\(.prefixlen)\(if $brd == "yes" and .broadcast
				then " brd \(.broadcast)" else "" end)"]}]
		| sort_by(.ifname) | .[]'
}

# Every route of both families in every table, one JSON object a line, sorted; the kernel's
# own IPv6 link-local and multicast routes aside (they follow the link state, with timing).
# ip -j names devices, never ifindexes, so the two namespaces compare as they are. Routes
# matching the jq filter ROUTE_SKIP (default none) are left out.
routes_snapshot() {
	{
		ip -n "$HOST" -j -4 route show table all
		ip -n "$HOST" -j -6 route show table all
	} | jq -S -c ".[] | select((.dst // \"\") | test(\"^(fe80|ff00)\") | not)
		| select(${ROUTE_SKIP:-false} | not)" | sort
}

# The IPv4 sysctls routing depends on: forwarding and proxy ARP, globally and per device.
sysctl_snapshot() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	ip netns exec "$HOST" bash -c 'cd /proc/sys/net/ipv4 || exit 1
		echo "ip_forward=$(<ip_forward)"
		for d in conf/*; do
			[[ $d == conf/lo ]] && continue
			echo "$d: forwarding=$(<"$d/forwarding") proxy_arp=$(<"$d/proxy_arp")"
		done'
}

# The whole store, one "path = value" a line, without hotplug-error (its text is ours to
# word) and without the nodes matching SKIP_NODES (a regex).
store_snapshot() {
	xenstore-ls -f / 2>/dev/null | grep -v '/hotplug-error = ' |
		{ if [[ -n ${SKIP_NODES:-} ]]; then grep -Ev "$SKIP_NODES"; else cat; fi; }
}

# compare SNAPSHOT: the same snapshot of both sides, line by line, naming each difference.
compare() {
	local what=$1 r o
	on ref
	r=$($what)
	on ours
	o=$($what)
	if [[ "$r" != "$o" ]]; then
		fail "$what differs (< reference, > ours):
$(diff <(printf '%s\n' "$r") <(printf '%s\n' "$o") | grep '^[<>]')"
	fi
}

compare_all() {
	local what
	for what in "${COMPARE[@]}"; do
		compare "$what"
	done
}
