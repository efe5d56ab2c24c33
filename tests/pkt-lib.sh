# pkt-lib.sh: real packets for the integration tests: crafted frames sent through a vif and
# counted where they arrive (tests/tools/pkt.py), and UDP datagrams whose source a LAN sees.
# Source it after lib.sh.
# shellcheck shell=bash

PKT=$ROOT/tests/tools/pkt.py
# Debian's python3 starts in a tenth of the time a version manager's shim does.
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3

declare -A FRAME_SPEC=()
RECV=

# await_ready FILE PID OUT WHAT: a bounded wait (5 s) until the receiver PID has
# made FILE, its socket being ready, so that nothing is sent early; fails with
# its output OUT when it ends or does not get there.
await_ready() {
	local i
	for ((i = 0; i < 500; i++)); do
		[[ -e $1 ]] && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.01
	done
	[[ -e $1 ]] || fail "$4 did not start: $(cat "$3")"
}

# probe SENDER_NS SENDER_IF RECEIVER_NS RECEIVER_IF WANT FRAME...: a receiver
# listens on RECEIVER_IF, then the FRAMEs (pkt.py NAME,KIND,...) are sent in
# order from SENDER_IF. The receiver stops shortly after the frames named in
# WANT (space-separated) arrived, at the latest after 5 s. RECV gets its
# report: one line per frame name that arrived.
probe() {
	local sns=$1 sif=$2 rns=$3 rif=$4 want=$5 w pid
	shift 5
	local prefix="X${BASHPID}r${RANDOM}-" ready=$SB/ready.$RANDOM out=$SB/recv.$RANDOM
	local -a wargs=()
	for w in $want; do
		wargs+=(--want "$w")
	done
	for w in "$@"; do
		FRAME_SPEC[${w%%,*}]=${w#*,}
	done
	ip netns exec "$rns" "$PY" "$PKT" recv "$rif" --prefix "$prefix" "${wargs[@]}" \
		--timeout 5 --ready "$ready" >"$out" 2>&1 &
	pid=$!
	await_ready "$ready" "$pid" "$out" "pkt.py recv"
	local err
	if ! err=$(ip netns exec "$sns" "$PY" "$PKT" send "$sif" --prefix "$prefix" "$@" 2>&1); then
		kill "$pid" 2>/dev/null
		fail "pkt.py send failed: $err"
	fi
	wait "$pid"
	RECV=$(cat "$out")
}

_recv_line() { grep -E "^$1 " <<<"$RECV"; }

assert_arrived() { # NAME...
	local n
	for n in "$@"; do
		[[ -n $(_recv_line "$n") ]] ||
			fail "frame $n (${FRAME_SPEC[$n]:-}) should have arrived but did not; received:
${RECV:-nothing}"
	done
}

assert_dropped() { # NAME...
	local n
	for n in "$@"; do
		[[ -z $(_recv_line "$n") ]] ||
			fail "frame $n (${FRAME_SPEC[$n]:-}) should have been dropped but arrived: $(_recv_line "$n")"
	done
}

# recv_field NAME KEY: a field of the report line of frame NAME (src, vlan...).
recv_field() {
	local l
	l=$(_recv_line "$1")
	[[ $l =~ \ $2=([^ ]+) ]] && echo "${BASH_REMATCH[1]}"
	return 0
}

# lan_udp NS PAYLOAD: NS sends PAYLOAD in a UDP datagram to $LAN_IP:5555, on
# which a listener in the namespace $LAN waits; prints the source address the
# LAN saw it come from, nothing if it did not arrive within 3 s.
lan_udp() {
	local ready=$SB/udp.ready.$RANDOM out=$SB/udp.out.$RANDOM pid
	ip netns exec "$LAN" "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5555))
open(sys.argv[2], "w").close()
end = time.monotonic() + 3
while time.monotonic() < end:
    s.settimeout(max(0.01, end - time.monotonic()))
    try:
        data, peer = s.recvfrom(2048)
    except socket.timeout:
        break
    if data.strip() == sys.argv[3].encode():
        print(peer[0])
        break
' $LAN_IP "$ready" "$2" >"$out" 2>&1 &
	pid=$!
	await_ready "$ready" "$pid" "$out" "the LAN's UDP listener"
	ip netns exec "$1" bash -c "echo $2 >/dev/udp/$LAN_IP/5555" ||
		fail "cannot send from $1 to $LAN_IP"
	wait "$pid"
	cat "$out"
}
