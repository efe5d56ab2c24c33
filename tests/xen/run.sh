#!/bin/bash
# run.sh: the real-Xen lane, from this machine's side. Builds the project's .deb and the
# image (tests/xen/image.sh, cached), boots Xen 4.17 and its Debian dom0 under qemu, where
# dom0.sh installs the .deb and runs the tests (tests/xen/tests.sh) under xl, oxenstored and
# netback, and prints their ok/not ok lines and "N passed, N failed".
#
#   bash tests/xen/run.sh [TEST...]       (as root; make check-xen)
#
# XEN_LANE_ACCEL=kvm|tcg forces an accelerator (default: KVM when a probe boots with it, else
# TCG); XEN_LANE_BENCH=1 runs the benchmark (tests/xen/bench.sh) instead of the tests;
# XEN_LANE_TIMEOUT bounds the whole boot (seconds, default 1800); XEN_LANE_CPU the CPU model
# under TCG.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${XEN_LANE_OUT:-$ROOT/build/xen-lane}
TIMEOUT=${XEN_LANE_TIMEOUT:-1800}
MEM=3072

fail_all() {
	echo "not ok - real-Xen lane: $*"
	echo "0 passed, 1 failed"
	exit 1
}

[[ $(id -u) -eq 0 ]] || {
	echo "# SKIPPED: the real-Xen lane needs root (debootstrap, the image build)"
	echo "0 passed, 0 failed"
	exit 0
}
command -v qemu-system-x86_64 >/dev/null || fail_all "qemu-system-x86_64 is missing (make deps)"

mkdir -p "$OUT"
t0=$SECONDS
echo "# building the package (make deb)"
if ! make -C "$ROOT" --no-print-directory deb >"$OUT/deb.log" 2>&1; then
	tail -n 20 "$OUT/deb.log" | sed 's/^/#   /'
	fail_all "make deb failed"
fi
deb=$(find "$ROOT/build-deb" -maxdepth 1 -name 'xen-net-hooks_*.deb' -printf '%T@ %p\n' 2>/dev/null |
	sort -rn | head -n 1 | cut -d' ' -f2-)
[[ -n $deb ]] || fail_all "make deb made no package"

echo "# the image (tests/xen/image.sh)"
# The build's messages go to the terminal as they come, its one line of output to $image.
exec 3>&1
image=$({
	bash "$ROOT/tests/xen/image.sh" 2>&1 >&4 | sed 's/^/# /' >&3
	exit "${PIPESTATUS[0]}"
} 4>&1) || fail_all "the image could not be built"
exec 3>&-
echo "# image ready after $((SECONDS - t0)) s: $image"

# The share: the tests, the package, and a results directory dom0 writes.
share=$OUT/share
rm -rf "$share"
mkdir -p "$share/tests/tools" "$share/deb" "$share/results"
cp -a "$ROOT/tests/xen" "$share/tests/"
cp -a "$ROOT/tests/tools/pkt.py" "$share/tests/tools/"
cp -a "$ROOT/tests/tap-lib.sh" "$share/tests/"
cp -a "$ROOT/tests/xenstored" "$share/tests/"
cp "$deb" "$share/deb/"
printf '%s\n' "$@" >"$share/tests-wanted"
[[ ${XEN_LANE_BENCH:-0} == 1 ]] && touch "$share/bench"

serial=$OUT/serial.log
# boot ACCEL CPU LIMIT: one run of the machine, its serial console in $serial.
boot() {
	local accel=$1 cpu=$2 limit=$3
	: >"$serial"
	timeout -k 10 "$limit" qemu-system-x86_64 -machine pc -accel "$accel" -cpu "$cpu" \
		-smp 2 -m "$MEM" -nographic -no-reboot -monitor none -serial "file:$serial" \
		-kernel "$image/xen" \
		-append "smap=0 dom0_mem=1024M,max:1024M console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all noreboot" \
		-initrd "$image/vmlinuz console=hvc0 earlyprintk=xen quiet,$image/initrd" \
		-drive "file=$image/root.ext4,if=virtio,format=raw,snapshot=on" \
		-virtfs "local,path=$share,mount_tag=lane,security_model=none,id=lane" \
		-netdev hubport,id=h0,hubid=0 -device virtio-net-pci,netdev=h0,mac=52:54:00:00:00:01 \
		-netdev hubport,id=h1,hubid=0 -device virtio-net-pci,netdev=h1,mac=52:54:00:00:00:02 \
		</dev/null >"$OUT/qemu.log" 2>&1
}

accel=${XEN_LANE_ACCEL:-}
if [[ -z $accel ]]; then
	accel=tcg
	# KVM only when Xen and dom0 really come up with it: on some hosts (kvm-pvm) -cpu host
	# aborts at once, and other CPU models hang in the boot.
	if [[ -r /dev/kvm ]]; then
		touch "$share/probe"
		# (A subshell, so that the shell's "Aborted" of a failed probe stays out of the output.)
		(boot kvm host 60) 2>/dev/null
		grep -q '^LANE: dom0 up' "$serial" && accel=kvm
		rm -f "$share/probe"
	fi
fi
# Nehalem: no XSAVE. With qemu's "max" (XSAVE, XSAVEOPT, AVX), processes in dom0 (xl, bash,
# vif-bridge) died of heap corruption in 5 of 7 runs that created four guests at once, also
# with AVX off and with single-threaded TCG; with Nehalem, in none. (Most likely the XSAVE
# family under TCG and Xen's context switches; Xen then saves state with FXSAVE.)
cpu=${XEN_LANE_CPU:-Nehalem}
[[ $accel == kvm ]] && cpu=host
echo "# booting Xen and dom0 (qemu -accel $accel)"
t1=$SECONDS
results=$share/results/tap
boot "$accel" "$cpu" "$TIMEOUT" &
qemu=$!
# dom0 writes its ok/not ok lines to the share as the tests run: shown as they come.
tail -n +1 -F --pid="$qemu" "$results" 2>/dev/null
wait "$qemu"
rc=$?
echo "# machine ran $((SECONDS - t1)) s (exit $rc); the lane took $((SECONDS - t0)) s in all"
done_line='^[0-9]+ passed, [0-9]+ failed$'
[[ ${XEN_LANE_BENCH:-0} == 1 ]] && done_line='^bench done$'
if ! tail -n 1 "$results" 2>/dev/null | grep -qE "$done_line"; then
	cp "$serial" "$OUT/serial-failed.log"
	echo "# the serial console's last lines ($OUT/serial-failed.log):"
	tail -n 40 "$serial" | sed 's/^/#   /'
	[[ $rc -eq 124 ]] && echo "# the machine was stopped after ${TIMEOUT} s"
	fail_all "dom0 did not finish its tests"
fi
if tail -n 1 "$results" | grep -qE ' 0 failed$|^bench done$'; then
	exit 0
fi
cp "$serial" "$OUT/serial-failed.log"
echo "# serial console kept in $OUT/serial-failed.log; guest consoles in $share/results/"
exit 1
