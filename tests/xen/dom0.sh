#!/bin/bash
# dom0.sh: the real-Xen lane inside dom0, run by the image's PID 1 from the 9p share (/lane):
# brings up what a Debian dom0's boot would (xenfs, oxenstored, xenconsoled, netback), the
# LAN, installs the project's .deb over Debian's xen-utils-common, runs the tests and writes
# their ok/not ok lines to /lane/results/tap. The machine powers off when this returns.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C
LANE=/lane
RESULTS=$LANE/results

say() { echo "LANE: $*" >/dev/console; }

# What udev would have made: /dev/fd (bash's process substitution) and the std links.
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
for i in 0:stdin 1:stdout 2:stderr; do
	[[ -e /dev/${i#*:} ]] || ln -s "/proc/self/fd/${i%%:*}" "/dev/${i#*:}"
done
mkdir -p /dev/pts && mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/lock /var/log/xen /var/run/xen-hotplug
hostname dom0
say "dom0 up ($(uname -r), $(cat /sys/hypervisor/type 2>/dev/null) $(cat /sys/hypervisor/version/major 2>/dev/null).$(cat /sys/hypervisor/version/minor 2>/dev/null))"
[[ -e $LANE/probe ]] && exit 0

for m in virtio_net xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback \
	bridge 8021q bonding; do
	modprobe "$m" || say "modprobe $m failed"
done
mountpoint -q /proc/xen || mount -t xenfs xenfs /proc/xen
ip link set lo up
if ! /etc/init.d/xen start >"$RESULTS/xen-init.log" 2>&1; then
	say "/etc/init.d/xen start failed: $(tail -n 5 "$RESULTS/xen-init.log")"
fi
say "xen daemons: $(pgrep -l -x 'oxenstored|xenconsoled' | tr '\n' ' ')"

# The project's package over Debian's xen-utils-common, its diversions done by dpkg.
if ! dpkg -i "$LANE"/deb/*.deb >"$RESULTS/dpkg.log" 2>&1; then
	say "dpkg -i of the project's package failed: $(tail -n 5 "$RESULTS/dpkg.log")"
fi

if [[ -e $LANE/bench ]]; then
	bash "$LANE/tests/xen/bench.sh" >"$RESULTS/tap" 2>&1
else
	mapfile -t wanted <"$LANE/tests-wanted"
	[[ ${#wanted[@]} -eq 1 && -z ${wanted[0]} ]] && wanted=()
	bash "$LANE/tests/xen/tests.sh" "${wanted[@]}" >"$RESULTS/tap" 2>&1
fi
cp /var/log/xen/*.log "$RESULTS/" 2>/dev/null
dmesg >"$RESULTS/dmesg"
grep -m1 '^flags' /proc/cpuinfo >"$RESULTS/cpuflags"
mkdir -p "$RESULTS/console"
cp /var/log/xen/console/* "$RESULTS/console/" 2>/dev/null
say "dom0 done"
