# dhcp-lib.sh: DHCP servers (ISC dhcpd, dnsmasq) and a DHCP client for the
# vif-nat and network-nat tests. Source it after lib.sh.
# shellcheck shell=bash
#
# Each server lives in a directory DIR (best under $SB, which cleanup removes)
# holding its configuration, leases, pid file, log and an init script that the
# programs under test run as `<init> restart|stop`. The programs run in $HOST,
# so the daemons they (re)start run there too. Every daemon and DHCP client
# started here is stopped by sb_cleanup (wrapped below), also when a test
# fails or times out: the daemons are found through their pid files and are
# only signalled when their command name and command line still match.

# ---------------------------------------------------------------- common

# Shell text shared by the generated init scripts and this file: pid-file
# based stopping that never signals a process it did not start.
_DHCP_INIT_COMMON=$(
	cat <<'EOF'
# _dhcp_alive PID: the process exists and is not a zombie.
_dhcp_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# _dhcp_ours PID COMM TEXT: PID runs COMM (directly or through the dynamic
# loader) and its command line contains TEXT.
_dhcp_ours() {
	local comm cmd
	comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
	cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	[[ $comm == "$2" || ($comm == ld-* && $cmd == */"$2 "*) ]] || return 1
	[[ $cmd == *"$3"* ]]
}

# _dhcp_stop PIDFILE COMM: stops the COMM whose pid PIDFILE holds, if it is one
# started from PIDFILE's directory: TERM, then KILL after 5 s.
_dhcp_stop() {
	local pid i
	[[ -s $1 ]] || return 0
	read -r pid <"$1" || return 0
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	if _dhcp_ours "$pid" "$2" "$(dirname "$1")/" && _dhcp_alive "$pid"; then
		kill "$pid" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			_dhcp_alive "$pid" || break
			sleep 0.1
		done
		_dhcp_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$1"
	return 0
}
EOF
)
eval "$_DHCP_INIT_COMMON"

# dhcp_alive PID: the process (a daemon started here) runs and is no zombie.
dhcp_alive() { _dhcp_alive "$1"; }

# _dhcp_register DIR: remembers DIR so that sb_cleanup stops its daemons.
_dhcp_register() {
	[[ -n ${SB:-} && -d $SB ]] || return 0
	grep -qxF "$1" "$SB/dhcp-dirs" 2>/dev/null || echo "$1" >>"$SB/dhcp-dirs"
}

# dhcp_stop_all: stops every daemon of the registered directories and any
# DHCP client left running; sb_cleanup calls it first.
dhcp_stop_all() {
	[[ -n ${SB:-} && -d $SB ]] || return 0
	local dir
	if [[ -f $SB/dhcp-dirs ]]; then
		while read -r dir; do
			[[ -n $dir ]] || continue
			_dhcp_stop "$dir/dhcpd.pid" dhcpd
			_dhcp_stop "$dir/dnsmasq.pid" dnsmasq
		done <"$SB/dhcp-dirs"
	fi
	for dir in "$SB"/dhclient.*; do
		[[ -d $dir ]] && _dhcp_stop "$dir/client.pid" dhclient
	done
	return 0
}

# tmpfs_mount DIR SIZE: a tmpfs of SIZE (as mount's size=, e.g. 64k) on DIR
# (created; best under $SB), unmounted by sb_cleanup, also when a test fails.
# For the tests of a full file system.
tmpfs_mount() {
	mkdir -p "$1" || return 1
	# Recorded first: a mount that happened is unmounted even if this fails.
	echo "$1" >>"$SB/mounts"
	mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1"
}

# tmpfs_fill DIR: fills the file system of DIR to the last byte (a file
# DIR/.filler); what is written there next fails with ENOSPC.
tmpfs_fill() {
	dd if=/dev/zero of="$1/.filler" bs=4k status=none 2>/dev/null
	dd if=/dev/zero of="$1/.filler" bs=1 oflag=append conv=notrunc status=none 2>/dev/null
	return 0
}

# _dhcp_unmount_all: unmounts what tmpfs_mount mounted, the last first.
_dhcp_unmount_all() {
	[[ -n ${SB:-} && -f $SB/mounts ]] || return 0
	local dir
	while read -r dir; do
		[[ -n $dir ]] && mountpoint -q "$dir" && umount -l "$dir"
	done < <(tac "$SB/mounts")
	return 0
}

# sb_cleanup from lib.sh, preceded by dhcp_stop_all (a deleted namespace does
# not end the processes in it) and the unmounting of tmpfs_mount's file
# systems (rm -rf would stop at them). Wrapped once, however often this is
# sourced.
if ! declare -F _dhcp_sb_cleanup_base >/dev/null; then
	eval "_dhcp_sb_cleanup_base() $(declare -f sb_cleanup | tail -n +2)"
	sb_cleanup() {
		dhcp_stop_all
		_dhcp_unmount_all
		_dhcp_sb_cleanup_base
	}
fi

# _dhcp_loader PROG: prints the dynamic loader to start PROG through, so
# that an AppArmor profile attached to PROG's path (Debian confines dhcpd and
# dhclient to their system paths) does not apply; prints nothing when
# AppArmor is off. DHCP_UNCONFINE=yes|no overrides the detection.
_dhcp_loader() {
	local on=N path
	case ${DHCP_UNCONFINE:-auto} in
	yes) on=Y ;;
	no) ;;
	*) on=$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null) ;;
	esac
	[[ $on == Y ]] || return 0
	path=$(command -v "$1") || return 0
	ldd "$path" 2>/dev/null | awk '$1 ~ /^\/.*\/ld-linux/ { print $1; exit }'
}

# _dhcp_cmd VAR PROG: sets array VAR to the command starting PROG (through
# the loader if _dhcp_loader names one).
_dhcp_cmd() {
	local -n _dhcp_cmd_out=$1
	local loader
	loader=$(_dhcp_loader "$2")
	if [[ -n $loader ]]; then
		_dhcp_cmd_out=("$loader" "$(command -v "$2")")
	else
		_dhcp_cmd_out=("$2")
	fi
}

# The command line of every init script: BODY defines start() and $pidf.
_DHCP_INIT_MAIN=$(
	cat <<'EOF'
case ${1:-} in
restart)
	_dhcp_stop "$pidf" "$comm"
	start
	;;
start) start ;;
stop) _dhcp_stop "$pidf" "$comm" ;;
*)
	echo "usage: $0 restart|stop" >&2
	exit 2
	;;
esac
EOF
)

# _dhcp_write_init FILE BODY PROG: a root-owned 0755 bash script with the
# common functions, $prog (an array: how to start PROG), $comm (PROG), BODY
# and the restart|start|stop dispatch.
_dhcp_write_init() {
	local -a cmd
	_dhcp_cmd cmd "$3"
	{
		echo '#!/bin/bash'
		echo '# Generated by tests/dhcp-lib.sh.'
		echo 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'
		echo "prog=(${cmd[*]@Q}) comm=${3@Q}"
		# shellcheck disable=SC2016 # written as is into the script
		echo 'dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || exit 1'
		printf '%s\n%s\n%s\n' "$_DHCP_INIT_COMMON" "$2" "$_DHCP_INIT_MAIN"
	} >"$1" || return 1
	chown root:root "$1" && chmod 0755 "$1"
}

# ---------------------------------------------------------------- ISC dhcpd

_DHCPD_INIT_BODY=$(
	cat <<'EOF'
# dhcpd-init restart|stop: the sandbox's ISC dhcpd, on the interfaces the
# defaults file lists (INTERFACESv4, INTERFACES, DHCPD_INTERFACE, DHCPDARGS).
conf=$dir/dhcpd.conf defaults=$dir/isc-dhcp-server
leases=$dir/dhcpd.leases pidf=$dir/dhcpd.pid log=$dir/dhcpd.log

start() {
	local ifaces pid start i
	# shellcheck disable=SC1090
	ifaces=$(
		INTERFACESv4='' INTERFACES='' DHCPD_INTERFACE='' DHCPDARGS=''
		. "$defaults" >/dev/null 2>&1
		echo "$INTERFACESv4 $INTERFACES $DHCPD_INTERFACE $DHCPDARGS"
	)
	read -ra ifaces <<<"$ifaces"
	if [[ ${#ifaces[@]} -eq 0 ]]; then
		echo "dhcpd-init: no interfaces in $defaults, not starting" >&2
		return 0
	fi
	[[ -e $leases ]] || : >"$leases"
	start=$(stat -c %s "$log" 2>/dev/null || echo 0)
	echo "=== $(date '+%T.%N') dhcpd ${ifaces[*]}" >>"$log"
	start=$((start + 1))
	# -d: foreground, log to stderr (into the log file); runs as root.
	"${prog[@]}" -4 -d -cf "$conf" -lf "$leases" -pf "$pidf" "${ifaces[@]}" \
		</dev/null >>"$log" 2>&1 &
	pid=$!
	echo "$pid" >"$pidf"
	for ((i = 0; i < 100; i++)); do
		if tail -c "+$start" "$log" | grep -q '^Server starting service'; then
			return 0
		fi
		_dhcp_alive "$pid" || break
		sleep 0.05
	done
	echo "dhcpd-init: dhcpd did not start:" >&2
	tail -c "+$start" "$log" | tail -n 15 >&2
	_dhcp_stop "$pidf" dhcpd
	return 1
}
EOF
)

# dhcpd_sandbox DIR: an ISC dhcpd set-up in DIR (created if needed):
#   DIR/dhcpd.conf        an administrator-looking configuration (comments,
#                         lease times, an unrelated host), no subnet
#   DIR/isc-dhcp-server   Debian-style defaults: INTERFACESv4="" INTERFACESv6=""
#   DIR/dhcpd.leases      empty leases file
#   DIR/dhcpd-init        restart|stop (root, 0755): restart stops this DIR's
#                         dhcpd and starts `dhcpd -4 -d -cf .. -lf .. -pf ..
#                         IFACES` with the interfaces listed in the defaults
#                         file; none listed: exits 0 without starting; exits 1
#                         (log tail on stderr) if dhcpd does not come up
#                         within 5 s. Run it in $HOST.
#   DIR/dhcpd.pid, DIR/dhcpd.log (all runs, appended)
# Sets DHCPD_ENV to the dhcp=yes dhcpd_conf= dhcpd_defaults= dhcpd_init=
# settings pointing there. sb_cleanup stops the daemon.
dhcpd_sandbox() {
	local dir=$1
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd) || return 1
	_dhcp_register "$dir"
	cat >"$dir/dhcpd.conf" <<'EOF'
# dhcpd.conf for the lab network.
# Edited by hand; keep the host entries sorted by name.

default-lease-time 600;
max-lease-time 7200;
ddns-update-style none;

# The lab printer keeps its address.
host labprinter { hardware ethernet 00:11:22:33:44:55; fixed-address 192.168.77.10; }
EOF
	cat >"$dir/isc-dhcp-server" <<'EOF'
# Defaults for the DHCP server, sourced by its init script.

# Interfaces the DHCPv4 and DHCPv6 servers listen on, space separated.
INTERFACESv4=""
INTERFACESv6=""
EOF
	: >"$dir/dhcpd.leases"
	_dhcp_write_init "$dir/dhcpd-init" "$_DHCPD_INIT_BODY" dhcpd || return 1
	# shellcheck disable=SC2034 # for the tests
	DHCPD_ENV=(dhcp=yes "dhcpd_conf=$dir/dhcpd.conf"
		"dhcpd_defaults=$dir/isc-dhcp-server" "dhcpd_init=$dir/dhcpd-init")
}

# ---------------------------------------------------------------- dnsmasq

_DNSMASQ_INIT_BODY=$(
	cat <<'EOF'
# dnsmasq-init restart|stop: the sandbox's dnsmasq, DHCP only (port 0), with
# no system configuration; it answers on every interface whose address is in
# a dhcp-range, including interfaces that appear later.
conf=$dir/dnsmasq.conf pidf=$dir/dnsmasq.pid log=$dir/dnsmasq.log

start() {
	local out
	# As a system dnsmasq whose /etc/dnsmasq.d lost network-nat's file: it
	# runs on, serving no DHCP. Here that is no dnsmasq at all.
	if [[ ! -f $conf ]]; then
		echo "dnsmasq-init: no $conf: not serving DHCP" >&2
		return 0
	fi
	# Forks; the parent exits 0 only once the daemon is serving and the
	# pid file is written, otherwise non-zero with the reason on stderr.
	if ! out=$("${prog[@]}" --conf-file="$conf" --pid-file="$pidf" --port=0 \
		--dhcp-leasefile="$dir/dnsmasq.leases" --user=root --group=root \
		--no-resolv --no-hosts --no-poll --log-facility="$log" --log-dhcp \
		</dev/null 2>&1); then
		echo "dnsmasq-init: dnsmasq did not start: $out" >&2
		return 1
	fi
}
EOF
)

# dnsmasq_sandbox DIR: a dnsmasq set-up in DIR (created if needed):
#   DIR/dnsmasq.hosts     hosts file with one unrelated administrator line
#   DIR/dnsmasq-init      restart|stop (root, 0755): restart stops this DIR's
#                         dnsmasq and starts one with DIR/dnsmasq.conf (the
#                         file network-nat writes; see dnsmasq_conf), pid
#                         file DIR/dnsmasq.pid, leases DIR/dnsmasq.leases,
#                         log DIR/dnsmasq.log, no DNS; without
#                         DIR/dnsmasq.conf (network-nat stop removed it)
#                         exits 0 with no dnsmasq running, as a system
#                         dnsmasq would run on without the file but serve
#                         no DHCP; exits 1 if dnsmasq fails.
# Sets DNSMASQ_ENV to the dhcp=dnsmasq dnsmasq_conf= dnsmasq_hosts=
# dnsmasq_pid= dnsmasq_init= settings pointing there. sb_cleanup stops the
# daemon.
dnsmasq_sandbox() {
	local dir=$1
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd) || return 1
	_dhcp_register "$dir"
	echo "00:11:22:33:44:55,192.168.77.10,labprinter" >"$dir/dnsmasq.hosts"
	# Never through the loader: vif-nat checks that /proc/PID/comm is
	# dnsmasq (and Debian ships no AppArmor profile for it).
	DHCP_UNCONFINE=no _dhcp_write_init "$dir/dnsmasq-init" "$_DNSMASQ_INIT_BODY" dnsmasq || return 1
	# shellcheck disable=SC2034 # for the tests
	DNSMASQ_ENV=(dhcp=dnsmasq "dnsmasq_conf=$dir/dnsmasq.conf"
		"dnsmasq_hosts=$dir/dnsmasq.hosts" "dnsmasq_pid=$dir/dnsmasq.pid"
		"dnsmasq_init=$dir/dnsmasq-init")
}

# dnsmasq_conf DIR: writes DIR/dnsmasq.conf as network-nat dhcp=dnsmasq
# would: the static 10.0.0.0/8 range (guests told the /16 of their address)
# and DIR/dnsmasq.hosts as hosts file.
dnsmasq_conf() {
	printf '%s\n' "dhcp-range=10.0.0.0,static,255.0.0.0" "dhcp-option=option:netmask,255.255.0.0" \
		"dhcp-hostsfile=$1/dnsmasq.hosts" >"$1/dnsmasq.conf"
}

# dnsmasq_start DIR: for tests without network-nat: writes DIR/dnsmasq.conf
# with dnsmasq_conf if there is none and (re)starts dnsmasq in $HOST.
dnsmasq_start() {
	[[ -f $1/dnsmasq.conf ]] || dnsmasq_conf "$1" || return 1
	ip netns exec "$HOST" "$1/dnsmasq-init" restart
}

# ---------------------------------------------------------------- client

_DHCLIENT_SCRIPT=$(
	cat <<'EOF'
#!/bin/sh
# Records the lease; configures nothing (not even resolv.conf).
# shellcheck disable=SC2154 # dhclient sets reason, interface, new_*
case $reason in
PREINIT) ip link set dev "$interface" up ;;
BOUND | RENEW | REBIND | REBOOT)
	echo "$new_subnet_mask" >"${0%/*}/mask"
	echo "$new_ip_address${new_routers:+ $new_routers}" >"${0%/*}/result.tmp" &&
		mv "${0%/*}/result.tmp" "${0%/*}/result"
	;;
esac
exit 0
EOF
)

# dhcp_client NS [DEV] [TIMEOUT]: runs dhclient once in namespace NS on DEV
# (default eth0) for at most TIMEOUT seconds (default 10) and prints
# "<address> <router>" of the lease it got (the routers option as sent:
# several are space-separated; without one just "<address>"; with
# DHCP_CLIENT_MASK=1 in the environment "<address>/<netmask>"). Prints nothing
# and returns 1 without a lease. Nothing is configured (the guest's eth0 keeps
# no address), all files stay in $SB/dhclient.XXXXXX (kept on failure, with
# the client's log), and the client is gone when it returns.
dhcp_client() {
	local ns=$1 dev=${2:-eth0} t=${3:-10} dir pid i
	local -a cmd
	dir=$(mktemp -d "${SB:-/tmp}/dhclient.XXXXXX") || return 1
	printf '%s\n' "$_DHCLIENT_SCRIPT" >"$dir/script"
	chmod 0755 "$dir/script"
	# Retries every second or two instead of dhclient's 10 s intervals.
	printf '%s\n' "timeout $t;" "initial-interval 1;" "backoff-cutoff 2;" \
		"request subnet-mask, routers, host-name;" >"$dir/dhclient.conf"
	# -1: try once, exit 2 after the timeout; -d: stay in the foreground
	# (known pid, no daemon); `ip netns exec` execs it, so $! is dhclient.
	_dhcp_cmd cmd dhclient
	ip netns exec "$ns" "${cmd[@]}" -4 -d -1 -sf "$dir/script" -cf "$dir/dhclient.conf" \
		-lf "$dir/dhclient.leases" -pf "$dir/dhclient.pid" "$dev" \
		</dev/null >"$dir/log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/client.pid"
	for ((i = 0; i < (t + 2) * 20; i++)); do
		[[ -s $dir/result ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [[ -s $dir/result ]]; then
		if [[ -n ${DHCP_CLIENT_MASK:-} ]]; then
			local r
			r=$(cat "$dir/result")
			echo "${r%% *}/$(cat "$dir/mask")${r#"${r%% *}"}"
		else
			cat "$dir/result"
		fi
		rm -rf "$dir"
		return 0
	fi
	rm -f "$dir/client.pid"
	if [[ -n ${SB:-} ]]; then
		echo "dhcp_client: no lease on $dev in ${t}s (log: $dir/log)" >&2
	else
		rm -rf "$dir"
	fi
	return 1
}
