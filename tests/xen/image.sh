#!/bin/bash
# image.sh: builds the real-Xen lane's machine from Debian packages alone, or reuses a cached
# build whose inputs are the same: Xen 4.17, a Debian 6.1 dom0 (root file system, kernel, a
# small initrd), and the guests' kernel and initrd inside that root.
#
#   bash tests/xen/image.sh
#
# Prints the directory that holds xen, vmlinuz, initrd and root.ext4. The cache lives in
# $XEN_LANE_CACHE (default /var/cache/xen-net-hooks/lane), one directory per input key: this
# file, the guest's init, rawsend.c and the archive's versions of the packages below. A build
# goes to a temporary directory and is renamed into place only when complete, so an
# interrupted build is never taken for a cached one.
set -Eeuo pipefail
trap 'echo "tests/xen/image.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${XEN_LANE_CACHE:-/var/cache/xen-net-hooks/lane}
SUITE=bookworm

# dom0's packages: Xen and its toolstack, the kernel, and what the tests run there.
PACKAGES=(
	linux-image-amd64 xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils
	iproute2 nftables iptables dnsmasq busybox-static kmod procps iputils-ping
	python3-minimal jq util-linux conntrack
)
# Modules that the dom0 initrd loads to reach its root file system (virtio disk, ext4).
DOM0_INITRD_MODULES=(virtio_pci virtio_blk ext4)
# Modules that a guest loads: its network card, and VLAN tags for the trunk tests.
GUEST_MODULES=(xen-netfront 8021q)
# Module directories no test needs (sound, graphics, wireless...): left out of the root.
TRIM_MODULES=(
	sound drivers/gpu drivers/media drivers/infiniband drivers/net/wireless drivers/staging
	drivers/iio drivers/bluetooth drivers/isdn drivers/scsi drivers/usb drivers/hid
	drivers/input drivers/mmc drivers/nfc drivers/thunderbolt drivers/video drivers/hwmon
	drivers/net/ethernet drivers/net/can drivers/md drivers/mtd drivers/ata drivers/target
	net/wireless net/mac80211 net/bluetooth fs/ocfs2 fs/xfs fs/btrfs fs/nfs fs/nfsd
	fs/smb fs/cifs fs/gfs2 fs/ceph fs/f2fs fs/jfs fs/reiserfs fs/ntfs3 fs/ubifs
)

die() {
	echo "tests/xen/image.sh: $*" >&2
	exit 1
}

# The Debian archive this machine's apt uses: the first URIs/deb line of its sources.
mirror() {
	local m
	m=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources \
		2>/dev/null | grep -v -- '-security' | head -n 1 || true)
	if [[ -z $m ]]; then
		m=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\)[[:space:]]\+'"$SUITE"'[[:space:]].*/\2/p' \
			/etc/apt/sources.list 2>/dev/null | head -n 1 || true)
	fi
	[[ -n $m ]] || die "no Debian archive in /etc/apt/sources.list*: the image needs one"
	echo "$m"
}

# What the cache key covers: our inputs, and the archive's version of every package.
input_key() {
	{
		cat "${BASH_SOURCE[0]}" "$HERE/guest-init" "$HERE/rawsend.c"
		apt-cache policy "${PACKAGES[@]}" 2>/dev/null | grep -E '^[^ ]|Candidate:'
	} | sha256sum | cut -c1-16
}

# make_initrd ROOT KVER OUT INIT EXTRA MODULE...: a gzipped cpio of busybox, the modules
# (with their dependencies, in load order, listed in /modules), INIT as /init and the files
# of the directory EXTRA (none if empty).
make_initrd() {
	local root=$1 kver=$2 out=$3 init=$4 extra=$5 dir m
	shift 5
	dir=$(mktemp -d)
	mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,newroot,tmp,lib/modules}
	cp "$root/bin/busybox" "$dir/bin/busybox"
	[[ -z $extra ]] || cp -a "$extra/." "$dir/"
	: >"$dir/modules"
	for m in "$@"; do
		chroot "$root" modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
	done | awk '!seen[$0]++' | while read -r m; do
		cp "$root$m" "$dir/lib/modules/"
		echo "/lib/modules/${m##*/}" >>"$dir/modules"
	done
	install -m 0755 "$init" "$dir/init"
	(cd "$dir" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible | gzip -9n) >"$out"
	rm -rf "$dir"
}

# The dom0 initrd's /init: modules, root file system, then the image's own init.
write_dom0_initrd_init() {
	cat >"$1" <<'EOF'
#!/bin/busybox sh
# The real-Xen lane's dom0 initrd: load the disk's modules, mount the root, switch to it.
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "$m"; done </modules
for i in $(seq 100); do [ -b /dev/vda ] && break; sleep 0.1; done
mount -o rw /dev/vda /newroot || { echo "lane initrd: no root on /dev/vda"; sleep 5; poweroff -f; }
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/lane-init
EOF
}

# dom0's PID 1 in the image: mount the lane's 9p share and hand over to its boot script, so
# the tests can change without a rebuild of the image.
write_lane_init() {
	cat >"$1" <<'EOF'
#!/bin/bash
# PID 1 of the real-Xen lane's dom0: mounts the share from the host and runs its dom0.sh.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /lane
modprobe 9pnet_virtio && modprobe 9p &&
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 lane /lane
if [[ -x /lane/tests/xen/dom0.sh ]]; then
	/lane/tests/xen/dom0.sh
else
	echo "lane-init: no /lane/tests/xen/dom0.sh: the share did not mount"
fi
sync
echo o >/proc/sysrq-trigger
sleep 10
EOF
}

# The guest kernel as a plain ELF: Xen loads it without decompressing a bzImage.
extract_vmlinux() {
	local in=$1 out=$2 off
	off=$(grep -abo $'\xfd7zXZ\x00' "$in" | head -n 1 | cut -d: -f1)
	[[ -n $off ]] || die "$in: no xz stream (the kernel is not xz-compressed)"
	# xz stops at the stream's end; tail's broken pipe is no error.
	xz -dc --single-stream < <(tail -c +$((off + 1)) "$in" 2>/dev/null || true) >"$out"
	[[ $(head -c 4 "$out" | od -An -tx1 | tr -d ' ') == 7f454c46 ]] || die "$out is not an ELF file"
}

build() {
	local out=$1 root=$1/root kver
	mkdir -p "$root"
	echo "image: debootstrap $SUITE (minbase)" >&2
	debootstrap --variant=minbase "$SUITE" "$root" "$(mirror)" >"$out/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$out/debootstrap.log" >&2; die "debootstrap failed"; }
	# The same archive as this machine, security and updates included.
	cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
	[[ -s /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
	cp /etc/apt/apt.conf.d/* "$root/etc/apt/apt.conf.d/" 2>/dev/null || true
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	mount -t proc proc "$root/proc"
	trap 'umount "'"$root"'/proc" 2>/dev/null' RETURN
	echo "image: apt-get install ${PACKAGES[*]}" >&2
	if ! chroot "$root" apt-get update -qq >"$out/apt.log" 2>&1 ||
		! DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq \
			--no-install-recommends "${PACKAGES[@]}" >>"$out/apt.log" 2>&1; then
		tail -n 20 "$out/apt.log" >&2
		die "apt-get install in the image failed"
	fi
	kver=$(ls "$root/lib/modules")
	chroot "$root" dpkg-query -W >"$out/packages"

	# The boot files, outside the root.
	gunzip -c "$root"/boot/xen-4.17-amd64.gz >"$out/xen"
	cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
	write_dom0_initrd_init "$out/dom0-initrd-init"
	make_initrd "$root" "$kver" "$out/initrd" "$out/dom0-initrd-init" "" "${DOM0_INITRD_MODULES[@]}"

	# The guests' kernel and initrd, inside the root where xl finds them.
	mkdir -p "$root/var/lib/lane"
	extract_vmlinux "$root/boot/vmlinuz-$kver" "$root/var/lib/lane/vmlinux"
	local gdir
	gdir=$(mktemp -d)
	mkdir -p "$gdir/extra/usr/bin"
	gcc -static -O2 -Wall -Wextra -Werror -o "$gdir/extra/usr/bin/rawsend" "$HERE/rawsend.c"
	make_initrd "$root" "$kver" "$root/var/lib/lane/initrd" "$HERE/guest-init" "$gdir/extra" \
		"${GUEST_MODULES[@]}"
	rm -rf "$gdir"

	# What no test needs, out of the root.
	local d
	for d in "${TRIM_MODULES[@]}"; do
		rm -rf "$root/lib/modules/$kver/kernel/$d"
	done
	chroot "$root" depmod "$kver"
	rm -rf "$root"/usr/share/{doc,man,info,locale} "$root"/var/cache/apt/*.bin \
		"$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/boot/initrd.img* \
		"$root"/boot/*.efi
	umount "$root/proc"
	trap - RETURN

	# dom0's own configuration: a small PID 1, host name, xl's defaults kept.
	write_lane_init "$root/sbin/lane-init"
	chmod 755 "$root/sbin/lane-init"
	echo dom0 >"$root/etc/hostname"
	# Guest consoles logged, for a failed test's transcript.
	sed -i 's/^#XENCONSOLED_TRACE=.*/XENCONSOLED_TRACE=guest/' "$root/etc/default/xen"
	rm -f "$root/usr/sbin/policy-rc.d"

	echo "image: mkfs.ext4 root.ext4" >&2
	mkfs.ext4 -q -F -L laneroot -E root_owner=0:0 -d "$root" "$out/root.ext4" 1600M >/dev/null
	rm -rf "$root"
}

main() {
	local key dir tmp
	for t in debootstrap mkfs.ext4 cpio xz gcc; do
		command -v "$t" >/dev/null || die "'$t' is missing (make deps installs it)"
	done
	key=$(input_key)
	dir=$CACHE/$key
	if [[ -s $dir/root.ext4 && -s $dir/xen && -s $dir/vmlinuz && -s $dir/initrd ]]; then
		echo "$dir"
		return 0
	fi
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/build.XXXXXX")
	chmod 755 "$tmp"
	# A failed or interrupted build leaves no half image behind.
	trap 'umount "'"$tmp"'/root/proc" 2>/dev/null; rm -rf "'"$tmp"'"' EXIT
	local t0=$SECONDS
	build "$tmp"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	trap - EXIT
	# Older images are of no further use.
	find "$CACHE" -mindepth 1 -maxdepth 1 -type d -regextype egrep -regex '.*/[0-9a-f]{16}' \
		! -name "$key" -exec rm -rf {} +
	echo "image: built in $((SECONDS - t0)) s in $dir" >&2
	echo "$dir"
}

main "$@"
