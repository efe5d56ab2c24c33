#!/bin/bash
# The bad-input matrix (SPEC §1) of all six programs: every way a value arrives (key=value
# argument, environment, a vif's xenstore backend node), bad values refused before anything
# changes, with a message naming the parameter and the value; valid but unusual values
# accepted; nothing from input ever run as a command.
#
# Each case is one line of CASES:   program | command | via | key | value | expect [| node]
#   command  the command, optionally preceded by key=value settings the case needs
#            (e.g. "dhcp=yes online"); they go before it, the case's own value after it
#   via      arg (key=value after the command), env (environment), xs (the vif's backend
#            node), cmd (the value is the command), raw (the value is one argument as is),
#            unset (the variable is taken out of the environment every call has; value -)
#   value    printf %b escapes (\n, \t, \x01, \xff, \x20 for a blank at either end) and
#            macros: @C the canary file (relative, in the program's working directory),
#            @SB the sandbox, @100K 100 KB of 'a', @4K 4000 of them (a xenstore node's
#            limit), @IPS33 33 addresses; or a class of values, *name (see class_values)
#   expect   words of the message saying what is wrong; or OK: the value must be accepted
#            (the call succeeds; its work is undone afterwards)
#   node     vif programs: where hotplug-error must appear, default the vif's backend
#            directory; "none": nowhere (the call had no usable XENBUS_PATH, or the Xen
#            scripts wrote none either, as for an unknown command)
#
# A refused case must: exit non-zero; say on stderr and in xen-hotplug.log the parameter,
# the value (as the programs show values: control characters and non-ASCII bytes as \xNN)
# and the expect words, on lines of its own (a newline in a value forges no line); for vif
# programs write hotplug-error (same words) and hotplug-status=error; leave the host exactly
# as it was (links, addresses, routes of both families, nftables and iptables rules, sysctls,
# the lock, run and DHCP files, the real DHCP configuration, the store but the hotplug
# nodes); and never create the canary file. One sandbox per program serves all its cases,
# compared with a snapshot taken before them.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

export LC_ALL=C
BE=/local/domain/0/backend/vif/1/0
CANARY=CANARY

# shellcheck disable=SC2016 # the values are meant literally: nothing may expand them
CASES=$(
	cat <<'EOF'
# ---- network-bridge
network-bridge | start  | arg | netdev     | *ifname
network-bridge | start  | env | netdev     | *ifname
network-bridge | start  | arg | bridge     | *ifname
network-bridge | start  | env | bridge     | *ifname
network-bridge | stop   | arg | netdev     | a/b                  | an interface name
network-bridge | status | arg | bridge     | a\nb                 | an interface name
network-bridge | start  | arg | netdev     | nosuch0              | does not exist
network-bridge | start  | arg | vifnum     | -1                   | a decimal number
network-bridge | start  | arg | vifnum     | 10000                | a decimal number
network-bridge | start  | env | vifnum     | 1e3                  | a decimal number
network-bridge | start  | arg | vifnum     | $(touch @C)          | a decimal number
network-bridge | start  | arg | force      | maybe                | yes or no
network-bridge | stop   | env | force      | `touch @C`           | yes or no
network-bridge | start  | arg | antispoof  | \xff                 | yes or no
network-bridge | start  | cmd | command    | frobnicate           | valid commands are start, stop and status
network-bridge | start  | cmd | command    | start;touch @C       | valid commands are start, stop and status
network-bridge | start  | cmd | command    | \x1b[2J              | valid commands are start, stop and status
network-bridge | start  | raw | option     | --frobnicate         | unknown option
network-bridge | start  | raw | argument   | =value               | non-empty key
network-bridge | start  | arg | bridge     | abcdefghijklmno      | OK
network-bridge | start  | arg | bobbridge  | $(touch @C)          | OK
# ---- network-route
network-route  | start  | arg | netdev     | *ifname
network-route  | start  | env | netdev     | *ifname
network-route  | stop   | arg | netdev     | ..                   | an interface name
network-route  | status | env | netdev     | \x01                 | an interface name
network-route  | start  | arg | netdev     | nosuch0              | does not exist
network-route  | start  | cmd | command    | restart              | valid commands are start, stop and status
network-route  | start  | cmd | command    | |touch @C            | valid commands are start, stop and status
network-route  | start  | raw | option     | -x                   | unknown option
network-route  | start  | arg | netdev     | abcdefghijklmno      | OK
network-route  | start  | arg | nedtev     | $(touch @C)          | OK
# ---- network-nat
network-nat    | start  | arg | netdev     | *ifname
network-nat    | start  | env | netdev     | *ifname
network-nat    | start  | arg | netdev     | nosuch0              | does not exist
network-nat    | start  | arg | dhcp       | *word
network-nat    | start  | env | dhcp       | bogus                | no, yes (ISC dhcpd) or dnsmasq
network-nat    | stop   | arg | dhcp       | bogus                | no, yes (ISC dhcpd) or dnsmasq
network-nat    | start  | arg | firewall   | *word
network-nat    | start  | env | firewall   | bogus                | nft, iptables or none
network-nat    | status | arg | firewall   | bogus                | nft, iptables or none
network-nat    | start  | arg | dnsmasq_conf | *path
network-nat    | start  | env | dnsmasq_hosts | *path
network-nat    | start  | arg | dnsmasq_init | *path
network-nat    | start  | arg | dnsmasq_init | @SB/nosuch          | No such file
network-nat    | start  | arg | dnsmasq_init | @SB/dhcp/init-notroot | owned by root
network-nat    | start  | arg | dnsmasq_init | @SB/dhcp/init-writable | owned by root
network-nat    | dhcp=yes start | arg | dhcpd_conf | *path
network-nat    | dhcp=yes start | env | dhcpd_init | *path
network-nat    | dhcp=yes start | arg | dhcpd_init | @SB/dhcp/init-notroot | owned by root
network-nat    | dhcp=yes start | arg | dhcpd_init | @SB/dhcp/init-writable | owned by root
network-nat    | dhcp=yes start | arg | dhcpd_init | @SB/dhcp             | not an executable file
network-nat    | dhcp=yes start | arg | dhcpd_conf | @SB/nosuch.conf      | No such file
network-nat    | start  | cmd | command    | `touch @C`           | valid commands are start, stop and status
network-nat    | start  | arg | netdev     | abcdefghijklmno      | OK
network-nat    | start  | arg | firewall   | none                 | network-nat needs nftables or iptables
# ---- vif-bridge
vif-bridge     | online | xs  | bridge     | *ifname
vif-bridge     | online | arg | bridge     | *ifname
vif-bridge     | online | env | bridge     | *ifname
vif-bridge     | online | xs  | bridge     | nosuchbr             | does not exist
vif-bridge     | online | xs  | bridge     | guest2               | is not a bridge
vif-bridge     | online | xs  | vifname    | *ifname
vif-bridge     | online | arg | vifname    | *ifname
vif-bridge     | online | xs  | vifname    | guest2               | already exists
vif-bridge     | online | xs  | mtu        | *mtu
vif-bridge     | online | arg | mtu        | *mtu
vif-bridge     | online | env | mtu        | 67                   | a decimal MTU from 68 to 65535
vif-bridge     | online | xs  | mac        | *mac
vif-bridge     | online | arg | mac        | *mac
vif-bridge     | online | env | mac        | 00:16:3e:01:02       | MAC address
vif-bridge     | online | xs  | ip         | *ip
vif-bridge     | online | arg | ip         | *ip
vif-bridge     | online | env | ip         | 1.2.3.4/33           | IPv4 or IPv6
vif-bridge     | offline | xs | ip         | 999.1.1.1            | IPv4 or IPv6
vif-bridge     | online | xs  | vlan       | *vlan
vif-bridge     | online | arg | vlan       | *vlan
vif-bridge     | online | env | vlan       | 10p/20p              | there are two PVIDs, 10 and 20
vif-bridge     | online | xs  | vlan       | 10/20                | no ID is the PVID
vif-bridge     | online | xs  | vlan       | 0                    | 0 is no VLAN ID
vif-bridge     | online | arg | vlan       | 4095                 | an ID is above 4094
vif-bridge     | online | xs  | vlan       | 1p/5-10/8-12         | VLAN 8 is given twice
vif-bridge     | online | xs  | vlan       | 100+1000x5/1p        | go past 4094
vif-bridge     | online | xs  | vlan       | 30-20/1p             | runs backwards
vif-bridge     | online | arg | type_if    | *word
vif-bridge     | online | env | type_if    | bogus                | vif or tap
vif-bridge     | online | arg | firewall   | *word
vif-bridge     | online | env | firewall   | bogus                | nft, iptables or none
vif-bridge     | online | env | vif        | *ifname
vif-bridge     | online | env | vif        |                      | vif is not set
vif-bridge     | online | unset | vif      | -                    | vif is not set
vif-bridge     | online | unset | XENBUS_PATH | -                 | XENBUS_PATH is not set | none
vif-route      | online | unset | vif      | -                    | vif is not set
vif-nat        | online | unset | XENBUS_PATH | -                 | XENBUS_PATH is not set | none
vif-bridge     | online | arg | vif        | vif1.0;touch @C      | an interface name
vif-bridge     | online | env | vif        | nosuch0              | does not exist
vif-bridge     | online | env | XENBUS_PATH | *xbpath
vif-bridge     | add type_if=tap | env | INTERFACE | *ifname
vif-bridge     | add type_if=tap | env | INTERFACE |        | INTERFACE is not set
vif-bridge     | add type_if=tap | env | INTERFACE | vif1.0 | -emu
vif-bridge     | online | cmd | command    | *command
vif-bridge     | online | raw | option     | --json               | unknown option | none
vif-bridge     | online | xs  | mtu        | 68                   | OK
vif-bridge     | online | xs  | mtu        | 65535                | OK
vif-bridge     | online | arg | mtu        | 1500                 | OK
vif-bridge     | online | xs  | mac        | 00:16:3E:AB:CD:EF    | OK
vif-bridge     | online | xs  | vifname    | abcdefghijklmno      | OK
vif-bridge     | online | xs  | ip         | 192.0.2.9 2001:db8::9/128 10.9.0.0/24 | OK
vif-bridge     | online | arg | brigde     | $(touch @C)          | OK
vif-bridge     | online | env | mtu        |                      | OK
# ---- vif-route
vif-route      | online | arg | netdev     | *ifname
vif-route      | online | env | netdev     | nosuch0              | does not exist
vif-route      | online | arg | netdev     | guest2               | has no IPv4 address
vif-route      | online | xs  | vifname    | *ifname
vif-route      | online | xs  | vifname    | guest2               | already exists
vif-route      | online | xs  | mtu        | *mtu
vif-route      | online | xs  | mac        | *mac
vif-route      | online | xs  | ip         | *ip
vif-route      | online | arg | ip         | *ip
vif-route      | online | xs  | ip         | 192.0.2.2            | the host's own address
vif-route      | online | xs  | ip         | 10.1.0.5 192.0.2.0/24 | the host's own address
vif-route      | online | arg | ip         | 10.1.0.5\t192.0.2.2  | the host's own address
vif-route      | online | arg | type_if    | bogus                | vif or tap
vif-route      | online | env | firewall   | *word
vif-route      | online | env | vif        | *ifname
vif-route      | online | env | XENBUS_PATH | *xbpath
vif-route      | online | cmd | command    | *command
vif-route      | online | xs  | mtu        | 68                   | OK
vif-route      | online | xs  | ip         | 10.1.0.5 10.2.0.0/16 2001:db8:1::/64 | OK
vif-route      | online | xs  | vifname    | abcdefghijklmno      | OK
# ---- vif-nat
vif-nat        | online | xs  | vifname    | *ifname
vif-nat        | online | xs  | vifname    | guest2               | already exists
vif-nat        | online | xs  | mtu        | *mtu
vif-nat        | online | xs  | mac        | *mac
vif-nat        | online | xs  | ip         | *ip
vif-nat        | online | xs  | ip         | 10.0.1.200           | at most 128
vif-nat        | online | xs  | handle     | -1                   | a decimal id
vif-nat        | online | xs  | frontend-id | 1;touch @C          | a decimal id
vif-nat        | online | arg | dhcp       | *word
vif-nat        | online | env | dhcp       | bogus                | no, yes (ISC dhcpd) or dnsmasq
vif-nat        | online | arg | dnsmasq_hosts | *path
vif-nat        | online | env | dnsmasq_pid | *path
vif-nat        | dhcp=yes online | arg | dhcpd_conf | *path
vif-nat        | dhcp=yes online | arg | dhcpd_defaults | *path
vif-nat        | dhcp=yes online | arg | dhcpd_init | *path
vif-nat        | dhcp=yes online | arg | dhcpd_init | @SB/dhcp/init-notroot | owned by root
vif-nat        | dhcp=yes online | env | dhcpd_init | @SB/dhcp/init-writable | owned by root
vif-nat        | dhcp=yes online | arg | dhcpd_conf | @SB/nosuch.conf     | No such file
vif-nat        | dhcp=yes online | arg | dhcpd_defaults | @SB/nosuch      | No such file
vif-nat        | online | arg | firewall   | bogus                | nft, iptables or none
vif-nat        | online | env | vif        | *ifname
vif-nat        | online | env | XENBUS_PATH | *xbpath
vif-nat        | online | cmd | command    | *command
vif-nat        | online | xs  | mtu        | 65535                | OK
vif-nat        | online | xs  | mac        | 00:16:3E:AB:CD:EF    | OK
vif-nat        | dhcp=yes online | xs | vifname | $(>@C)        | an interface name
vif-nat        | online | xs  | vifname    | abcdefghijklmno      | OK
EOF
)

# shellcheck disable=SC2016 # the values are meant literally: nothing may expand them
# class_values NAME VIA: the values of a class, one "value<US>expect<US>node" a line (the
# same escapes and macros as the table). Long values are 100 KB, or 4000 bytes in xenstore.
class_values() {
	local long=@100K inject c
	[[ $2 == xs ]] && long=@4K
	local ifn='an interface name'
	case $1 in
	ifname)
		for c in abcdefghijklmnop "$long" a/b 'a b' '\x20eth0' 'a\tb' a:b 'a%d' . .. -eth0 \
			'a\xffb' 'a\x01b' 'a\x7f' 'eth0\ntouch @C'; do
			printf '%s\x1f%s\x1f\n' "$c" "$ifn"
		done
		for inject in '$(touch @C)' '`touch @C`' ';touch @C' '|touch @C' '$(>@C)' '`>@C`'; do
			printf '%s\x1f%s\x1f\n' "$inject" "$ifn"
		done
		;;
	mtu)
		for c in 0 67 65536 -1 abc 1e3 '\x201500' 1500x 01500 0x5dc 99999999999999999999 \
			"$long" '1500\n' '$(touch @C)' '1500;touch @C'; do
			printf '%s\x1f%s\x1f\n' "$c" 'a decimal MTU from 68 to 65535'
		done
		;;
	mac)
		for c in 00:16:3e:01:02 00:16:3e:01:02:03:04 00:16:3e:zz:02:03 0016.3e01.0203 \
			01:00:5e:00:00:01 ff:ff:ff:ff:ff:ff 00:00:00:00:00:00 "$long" \
			'00:16:3e:01:02:03\n' '00:16:3e:01:02:03;touch @C' '$(touch @C)'; do
			printf '%s\x1f%s\x1f\n' "$c" 'MAC address'
		done
		;;
	ip)
		for c in 999.1.1.1 1.2.3.4/33 ::1/129 garbage '10.0.0.1 foo' 1.2.3.4/-1 1.2.3 \
			@IPS33 "$long" '10.0.0.1\n10.0.0.2' '10.0.0.1;touch @C' '$(touch @C)' \
			'`touch @C`' '10.0.0.1|touch @C'; do
			case $c in
			@IPS33) printf '%s\x1f%s\x1f\n' "$c" 'at most 32 addresses' ;;
			*) printf '%s\x1f%s\x1f\n' "$c" 'IPv4 or IPv6' ;;
			esac
		done
		;;
	vlan) # vif-bridge's VLAN list (common/vlan.c)
		for c in 0 4095 10p/20p 10/20 10p/10 1p/5-10/8-12 100+1000x5/1p 1p/100+10x0 \
			30-20/1p garbage '10\x20' '\x2010' 10,20 010 10pu 10p/ /10 "$long" '10\n20' \
			'10;touch @C' '$(touch @C)' '`touch @C`' '\xff' '10p/20|touch @C'; do
			printf '%s\x1f%s\x1f\n' "$c" 'VLAN IDs from 1 to 4094'
		done
		;;
	word) # an enumerated setting: dhcp, firewall, type_if
		for c in bogus YES ' nft' "$long" 'a\nb' '\xff' '$(touch @C)' ';touch @C'; do
			printf '%s\x1f%s\x1f\n' "$c" 'expected'
		done
		;;
	path)
		for c in relative/file file '\x20/tmp/x' '/tmp/a b' '/tmp/a\nb' '/tmp/\x01' \
			'/tmp/\xff' "/$long" '$(touch @C)' '/tmp/x;touch @C' '/tmp/`touch @C`' \
			'/tmp/$(touch @C)'; do
			printf '%s\x1f%s\x1f\n' "$c" 'an absolute path without blanks'
		done
		;;
	xbpath) # XENBUS_PATH: malformed, another device's or another domain's, not the vif's
		# Nothing is written for any of them: the backend directory is not known.
		printf '%s\x1f%s\x1fnone\n' '' 'XENBUS_PATH is not set' \
			'backend/vif/1/0;touch @C' 'backend directory' \
			'$(touch @C)' 'backend directory' \
			'backend/vif/1/0\n' 'backend directory' \
			'backend//vif/1/0' 'backend directory' \
			'backend/vif/1/0/' 'backend directory' \
			'backend/vif/../1/0' 'backend directory' \
			'backend/vif/1/x' 'backend directory' \
			'/local/domain/1/device/vif/0' 'backend directory' \
			'backend/vbd/1/51712' 'backend directory' \
			'backend/vif/2/0' 'vif1.0' \
			'/local/domain/0/backend/vif/1/1' 'vif1.0'
		;;
	command)
		for c in frobnicate ONLINE 'online;touch @C' '$(touch @C)' 'online\nx' '\xff'; do
			printf '%s\x1f%s\x1f%s\n' "$c" 'valid commands are online, offline, add and remove' none
		done
		;;
	esac
}

# expand_value TEXT: the table's escapes and macros, into VALUE.
expand_value() {
	local t=$1 a100k a4k ips i
	if [[ $t == *@100K* ]]; then
		printf -v a100k '%*s' 102400 ''
		t=${t//@100K/${a100k// /a}}
	fi
	if [[ $t == *@4K* ]]; then
		printf -v a4k '%*s' 4000 ''
		t=${t//@4K/${a4k// /a}}
	fi
	if [[ $t == *@IPS33* ]]; then
		ips=
		for ((i = 1; i <= 33; i++)); do ips+="10.7.0.$i "; done
		t=${t//@IPS33/${ips% }}
	fi
	t=${t//@SB/$SB}
	t=${t//@C/$CANARY}
	printf -v VALUE '%b.' "$t"
	VALUE=${VALUE%.}
}

# shown VALUE: the start of VALUE as the programs show values (params.c printable()).
shown() {
	local s=$1 out='' c i
	for ((i = 0; i < ${#s} && ${#out} < 40; i++)); do
		c=${s:i:1}
		if [[ $c == [[:print:]] && $c != "\\" ]]; then
			out+=$c
		else
			printf -v c '\\x%02x' "'$c"
			out+=${c: -4}
		fi
	done
	printf '%s' "${out:0:40}"
}

# ---------------------------------------------------------------- the programs

# Per program: SETUP (the sandbox), ENV0 (every call's environment) and UNDO (the command that
# takes an accepted call's work back).
DHCP_DIR=

dhcp_files() {
	DHCP_DIR=$SB/dhcp
	mkdir -p "$DHCP_DIR"
	printf 'subnet 10.0.0.0 netmask 255.0.0.0 { option subnet-mask 255.255.0.0; }\n' >"$DHCP_DIR/dhcpd.conf"
	printf 'INTERFACESv4=""\n' >"$DHCP_DIR/defaults"
	: >"$DHCP_DIR/hosts"
	# An init script that reads the defaults file as Debian's does (it is shell), so that
	# anything the programs write there that the shell would run, runs, where the canary is
	# looked for.
	printf '#!/bin/sh\ncd %s/cwd || exit 1\n. %s/defaults\n' "$SB" "$DHCP_DIR" >"$DHCP_DIR/init"
	chmod 0755 "$DHCP_DIR/init"
	cp "$DHCP_DIR/init" "$DHCP_DIR/init-notroot"
	chown 65534 "$DHCP_DIR/init-notroot"
	cp "$DHCP_DIR/init" "$DHCP_DIR/init-writable"
	chmod 0777 "$DHCP_DIR/init-writable"
	DHCP_ENV=(dhcp=dnsmasq "dnsmasq_hosts=$DHCP_DIR/hosts" "dnsmasq_pid=$DHCP_DIR/none.pid"
		"dnsmasq_conf=$DHCP_DIR/xen-nat" "dnsmasq_init=$DHCP_DIR/init"
		"dhcpd_conf=$DHCP_DIR/dhcpd.conf" "dhcpd_defaults=$DHCP_DIR/defaults"
		"dhcpd_init=$DHCP_DIR/init")
}

# The guest vif1.0 with its store nodes, and guest2, a link some other guest owns.
vif_setup() {
	vif_add 1 0 || return 1
	xs_vif_seed 1 0 || return 1
	ip -n "$HOST" link add guest2 type veth peer name guest2-peer
	VIF_INDEX=$(ip -n "$HOST" -j link show dev vif1.0 | jq '.[0].ifindex')
	ENV0=(vif=vif1.0 XENBUS_PATH=backend/vif/1/0 XENBUS_TYPE=vif)
	UNDO=offline
}

setup_program() {
	case $PROG in
	network-bridge)
		lan_new 192.0.2.2
		: >"$SB/mounts"
		: >"$SB/cmdline"
		ENV0=(netdev=eth0 bridge=xenbr0 "NETWORK_BRIDGE_MOUNTS=$SB/mounts"
			"NETWORK_BRIDGE_CMDLINE=$SB/cmdline")
		UNDO=stop
		;;
	network-route)
		lan_new 192.0.2.2
		ip -n "$HOST" link add abcdefghijklmno type veth peer name abc-peer
		ENV0=(netdev=eth0)
		UNDO=stop
		;;
	network-nat)
		lan_new 192.0.2.2
		ip -n "$HOST" link add abcdefghijklmno type veth peer name abc-peer
		dhcp_files
		ENV0=(netdev=eth0 "${DHCP_ENV[@]}")
		UNDO=stop
		;;
	vif-bridge)
		bridge_add br0
		vif_setup
		;;
	vif-route)
		lan_new 192.0.2.2
		vif_setup
		;;
	vif-nat)
		dhcp_files
		vif_setup
		ENV0+=("${DHCP_ENV[@]}")
		;;
	esac
}

# ---------------------------------------------------------------- snapshot

# Everything a refused call must leave alone, as text: one shell in the host namespace, few
# processes (it runs after every case).
snapshot() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	inh bash -c '
		# (bridge timers tick, a new IPv6 link-local address stops being tentative and
		# gets its local route when ready: left out)
		echo "== links and addresses"
		{ ip -d -o link show; ip -o addr show; } |
			sed -E "s/[a-z_]+_timer +[0-9.]+//g; s/ tentative//"
		echo "== routes"
		{ ip -4 route show table all; ip -6 route show table all; } | grep -v "^local fe80:"
		echo "== nft"; nft list ruleset 2>&1
		echo "== iptables"
		{ iptables-save; ip6tables-save; } 2>&1 | sed -E "/^#/d; s/\[[0-9]+:[0-9]+\]//"
		echo "== sysctl"
		cd /proc/sys/net || exit 1
		for f in ipv4/ip_forward ipv6/conf/all/forwarding ipv4/conf/*/proxy_arp \
			ipv4/conf/*/forwarding; do
			echo "$f=$(<"$f")"
		done
		echo "== files"
		find "$@" -printf "%p %M %U %s\n" -type f -exec md5sum {} + 2>&1 | sort
		# The host'"'"'s own DHCP configuration, which no call here may touch.
		md5sum /etc/dhcp/dhcpd.conf /etc/default/isc-dhcp-server \
			/var/lib/xen/dnsmasq-hosts /etc/dnsmasq.d/xen-nat 2>&1
		echo "== store"
		# (sorted: a node written again moves to the end of its directory'"'"'s list)
		xenstore-ls -f / 2>&1 | grep -Ev "/hotplug-(error|status) = " | sort
	' snapshot "$SB/lock" "$SB/run" "$SB/cwd" "$SB/scripts" ${DHCP_DIR:+"$DHCP_DIR"}
}

# ---------------------------------------------------------------- one case

# call ENV... -- ARGS...: $BUILD/$PROG in the host namespace, in $SB/cwd, stdin /dev/null,
# with ENV0 (but the variable UNSET) and ENV...; sets RC, and $SB/out and $SB/err.
UNSET=
call() {
	local -a envs=()
	while [[ $1 != -- ]]; do
		envs+=("$1")
		shift
	done
	shift
	_base_env
	local -a env0=()
	local e
	for e in "${ENV0[@]}"; do
		[[ -n $UNSET && $e == "$UNSET="* ]] || env0+=("$e")
	done
	(cd "$SB/cwd" && exec ip netns exec "$HOST" env -i "${BASE_ENV[@]}" "${env0[@]}" \
		"${envs[@]}" "$BUILD/$PROG" "$@" </dev/null >"$SB/out" 2>"$SB/err")
	RC=$?
	{
		printf '$'
		printf ' %q' "${envs[@]}" "$PROG" "$@"
		echo "-> exit $RC"
		cat "$SB/err"
	} >>"$SB/transcript"
}

PROBLEMS=()
problem() { PROBLEMS+=("$*"); }

# has_word TEXT WORD: WORD in TEXT, not as part of a longer name.
has_word() {
	local re="(^|[^[:alnum:]_])$2([^[:alnum:]_]|$)"
	[[ $1 =~ $re ]]
}

# check_message WHERE TEXT KEY VALUE EXPECT: the message names the parameter and the value and
# says what is wrong; no control character or forged line in it.
check_message() {
	local where=$1 text=$2 key=$3 value=$4 expect=$5 line
	if [[ -z $text ]]; then
		problem "$where: empty"
		return
	fi
	[[ $key == - ]] || has_word "$text" "$key" || problem "$where: the parameter '$key' is not named: $text"
	if [[ -n $value ]]; then
		local s
		s=$(shown "$value")
		[[ $text == *"$s"* ]] || problem "$where: the value ('$s') is not shown: $text"
	fi
	[[ $text == *"$expect"* ]] || problem "$where: '$expect' missing: $text"
	[[ $text =~ [^[:print:]$'\n'] ]] && problem "$where: raw control or non-ASCII bytes: $(shown "$text")"
	if [[ $where != hotplug-error ]]; then
		while IFS= read -r line; do
			[[ $line == "$PROG: "* ]] || problem "$where: a line that is not the program's: $(shown "$line")"
		done <<<"$text"
	fi
}

# The absolute store path of a XENBUS_PATH.
abs_node() {
	if [[ $1 == /* ]]; then echo "$1"; else echo "/local/domain/0/$1"; fi
}

# vif_back: a vifname and an MTU stay after offline: the vif gets its name and MTU back for
# the next case (an MTU under 1280 would turn IPv6 off on it).
vif_back() {
	[[ $PROG == vif-* ]] || return 0
	local name
	if ! link_exists vif1.0; then
		name=$(ip -n "$HOST" -j link show | jq -r ".[] | select(.ifindex == $VIF_INDEX) | .ifname")
		[[ -n $name ]] && inh ip link set dev "$name" name vif1.0
	fi
	inh ip link set dev vif1.0 mtu 1500
}

# undo_call: the call of run_case again, with the command that takes its work back.
undo_call() {
	local -a undo=("${args[@]}")
	local i
	for i in "${!undo[@]}"; do
		[[ ${undo[$i]} == "$cmd" ]] && undo[i]=$UNDO
	done
	call "${envs[@]}" -- "${undo[@]}"
}

BASELINE=
# run_case NAME PREFIX CMD VIA KEY VALUE EXPECT NODE
run_case() {
	local name=$1 prefix=$2 cmd=$3 via=$4 key=$5 value=$6 expect=$7 node=$8
	local -a envs=() args=()
	local vif_prog=false logn=0 had_xs=false old_xs=
	[[ $PROG == vif-* ]] && vif_prog=true
	PROBLEMS=()
	# shellcheck disable=SC2206 # settings are plain words
	args=($prefix)
	case $via in
	arg) args+=("$cmd" "$key=$value") ;;
	env) envs+=("$key=$value") args+=("$cmd") ;;
	cmd) args+=("$value") ;;
	raw) args+=("$cmd" "$value") ;;
	xs | unset) args+=("$cmd") ;;
	esac
	UNSET=
	[[ $via == unset ]] && UNSET=$key value=
	# A backend node wins over arguments and environment: the case's key has none but its own.
	if $vif_prog && [[ $key =~ ^(bridge|ip|mac|mtu|vifname|vlan|handle|frontend-id)$ ]]; then
		if old_xs=$(xenstore-read "$BE/$key" 2>/dev/null); then had_xs=true; fi
		xs_rm "$BE/$key"
		[[ $via == xs ]] && xenstore-write -R -- "$BE/$key" "$value"
	fi
	local err_node=$BE
	case $node in
	none) err_node= ;;
	'') ;;
	*) err_node=$(abs_node "$node") ;;
	esac
	if $vif_prog; then
		xs_rm "$BE/hotplug-error"
		xs_rm "$BE/hotplug-status"
		[[ -n $err_node ]] && xs_rm "$err_node/hotplug-error" && xs_rm "$err_node/hotplug-status"
	fi
	rm -f "$SB/cwd/$CANARY"
	[[ -f $XEN_LOG_DIR/xen-hotplug.log ]] && logn=$(wc -l <"$XEN_LOG_DIR/xen-hotplug.log")

	call "${envs[@]}" -- "${args[@]}"

	local err log
	err=$(<"$SB/err")
	log=$(tail -n +$((logn + 1)) "$XEN_LOG_DIR/xen-hotplug.log" 2>/dev/null)
	if [[ $expect == OK ]]; then
		[[ $RC -eq 0 ]] || problem "refused a valid value (exit $RC): $err"
		if $vif_prog && [[ $cmd == online ]]; then
			local st
			st=$(xenstore-read "$BE/hotplug-status" 2>&1)
			[[ $st == connected ]] || problem "hotplug-status '$st', not connected"
		fi
		undo_call
		[[ $RC -eq 0 ]] || problem "$UNDO after it failed (exit $RC): $(<"$SB/err")"
		vif_back
	else
		if [[ $RC -eq 0 ]]; then
			problem "accepted (exit 0)"
			# Take its work back, or it spoils the cases after it.
			[[ $cmd =~ ^(start|online)$ ]] && undo_call
			vif_back
		fi
		check_message stderr "$err" "$key" "$value" "$expect"
		check_message xen-hotplug.log "$log" "$key" "$value" "$expect"
		if $vif_prog && [[ -n $err_node ]]; then
			local he hs
			he=$(xenstore-read -R "$err_node/hotplug-error" 2>&1)
			hs=$(xenstore-read "$err_node/hotplug-status" 2>&1)
			check_message hotplug-error "$he" "$key" "$value" "$expect"
			[[ $hs == error ]] || problem "hotplug-status under $err_node: '$hs', not error"
		elif $vif_prog && xs_exists "$BE/hotplug-error"; then
			problem "hotplug-error written under $BE where none was expected: $(xenstore-read "$BE/hotplug-error")"
		fi
	fi
	[[ -e $SB/cwd/$CANARY ]] && problem "the canary file was created: a value was run as a command"
	if $vif_prog && [[ $key =~ ^(bridge|ip|mac|mtu|vifname|vlan|handle|frontend-id)$ ]]; then
		xs_rm "$BE/$key"
		$had_xs && xenstore-write -R -- "$BE/$key" "$old_xs"
	fi
	if [[ $expect == OK ]]; then
		BASELINE=$(snapshot)
	else
		local now
		now=$(snapshot)
		if [[ $now != "$BASELINE" ]]; then
			problem "the host changed (< before, > after):
$(diff <(printf '%s\n' "$BASELINE") <(printf '%s\n' "$now") | grep '^[<>]' | head -n 20)"
			BASELINE=$now
		fi
	fi
	if [[ ${#PROBLEMS[@]} -eq 0 ]]; then
		echo "ok - $name"
	else
		echo "not ok - $name"
		printf '#   %s\n' "${PROBLEMS[@]}" | head -n 30
		echo "#   transcript:"
		tail -n 8 "$SB/transcript" | sed 's/^/#     /' | cut -c 1-300
	fi
}

# The cases of the table, expanded: one "prog<US>prefix<US>cmd<US>via<US>key<US>value<US>
# expect<US>node" a line.
expand_cases() {
	local line prog command via key value expect node prefix cmd v e n
	local US=$'\x1f'
	while IFS= read -r line; do
		[[ -z ${line// /} || $line == '#'* ]] && continue
		line=${line// | /$US}
		IFS=$US read -r prog command via key value expect node <<<"$line"
		prog=${prog%% *} via=${via// /} key=${key// /}
		expect=${expect%"${expect##*[! ]}"} node=${node// /}
		value=${value%"${value##*[! ]}"}
		[[ $expect == - ]] && expect=
		command=${command%"${command##*[! ]}"}
		cmd=${command##* } prefix=
		[[ $command == *' '* ]] && prefix=${command% *}
		if [[ $value == '*'* ]]; then
			while IFS=$US read -r v e n; do
				printf '%s\n' "$prog$US$prefix$US$cmd$US$via$US$key$US$v$US${expect:-$e}$US${node:-$n}"
			done < <(class_values "${value#\*}" "$via")
		else
			printf '%s\n' "$prog$US$prefix$US$cmd$US$via$US$key$US$value$US$expect$US$node"
		fi
	done <<<"$CASES"
}

# All the cases of one program, in one sandbox.
run_program() {
	sb_new
	mkdir -p "$SB/cwd"
	: >"$SB/transcript"
	setup_program || {
		echo "not ok - $PROG: cannot set up the sandbox"
		return 1
	}
	# The plain call works: a refusal below is the bad value's doing.
	local -a first=(online)
	[[ $PROG == network-* ]] && first=(start)
	call -- "${first[@]}"
	local rc=$RC
	call -- "$UNDO"
	if [[ $rc -ne 0 || $RC -ne 0 ]]; then
		echo "not ok - $PROG: the plain call fails (exit $rc, $UNDO $RC): $(<"$SB/err")"
		return 1
	fi
	BASELINE=$(snapshot)
	local prog prefix cmd via key value expect node name
	while IFS=$'\x1f' read -r prog prefix cmd via key value expect node; do
		[[ $prog == "$PROG" ]] || continue
		expand_value "$value"
		name="$prog ${prefix:+$prefix }$cmd $via $key=$(shown "$VALUE")"
		[[ ${#VALUE} -gt 40 ]] && name+="... (${#VALUE} bytes)"
		run_case "$name" "$prefix" "$cmd" "$via" "$key" "$VALUE" "$expect" "$node"
	done < <(expand_cases)
}

# ---------------------------------------------------------------- driver

if [[ -n ${BAD_INPUT_PROG:-} ]]; then
	PROG=$BAD_INPUT_PROG
	run_program
	exit 0
fi

lib_require
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
programs=(network-bridge network-route network-nat vif-bridge vif-route vif-nat)
running=0
# The programs with the most cases first: the last to start then end soonest.
for p in vif-bridge vif-nat vif-route network-nat network-bridge network-route; do
	while ((running >= TEST_JOBS)); do
		wait -n
		running=$((running - 1))
	done
	# A limit that grows with the cases (3 s each, at least 300 s): a loaded machine running
	# the ASan build must not cut a healthy run short.
	limit=$(($(expand_cases | grep -c "^$p"$'\x1f') * 3))
	((limit < 300)) && limit=300
	BAD_INPUT_PROG=$p timeout -k 5 "$limit" bash "$0" >"$dir/$p.log" 2>&1 &
	running=$((running + 1))
done
wait
passed=0
failed=0
for p in "${programs[@]}"; do
	cat "$dir/$p.log"
	ok=$(grep -c '^ok - ' "$dir/$p.log")
	bad=$(grep -c '^not ok - ' "$dir/$p.log")
	total=$(expand_cases | grep -c "^$p"$'\x1f')
	# Cases a crashed or timed-out run never reached count as failed.
	if ((ok + bad < total)); then
		echo "not ok - $p: $((total - ok - bad)) cases did not run"
		bad=$((total - ok))
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
