#!/bin/bash
# Installation and the Debian package: `make install` and `make uninstall` (PREFIX, DESTDIR,
# XEN_SCRIPT_DIR, LIBEXECDIR, SBINDIR, SYSTEMDUNITDIR, MANDIR), `make deb` (contents, metadata,
# hardening, a reproducible build, lintian, the systemd unit), and a real dpkg install, upgrade
# and remove cycle that diverts Xen's scripts and gives them back byte for byte, and enables
# the unit and takes it away as Debian's helpers do. dpkg runs for real, but in a private mount
# namespace whose /etc, /usr and /var are overlays on the host's: every write lands in the
# test's own directory and vanishes with the namespace, so the host's /etc/xen and dpkg
# database are never touched, whatever happens to the test.

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# The package is built once per run from its own optimised build directory; the sanitizer run
# would build and check exactly the same package again.
if nm "$BUILD/vif-bridge" 2>/dev/null | grep -q __asan_init; then
	echo "# package.sh: skipped for the ASan build $BUILD: make deb builds from its own" \
		"optimised build, checked once in the normal run"
	echo "0 passed, 0 failed"
	exit 0
fi

PACKAGE=xen-net-hooks
# The hooks (linked from the script directory, Xen's scripts diverted) and the operator's tool
# (linked from SBINDIR); PROGS is all of them.
HOOKS=(network-bridge network-nat network-route vif-bridge vif-nat vif-route)
TOOLS=(xen-net-hooks)
PROGS=("${HOOKS[@]}" "${TOOLS[@]}")
LIBEXEC=/usr/libexec/$PACKAGE
SCRIPTS=/etc/xen/scripts
UNIT=xen-net-hooks-resync.service
UNITS=/lib/systemd/system

# ---------------------------------------------------------------- helpers

# listing DIR: every entry under DIR, one line each: type, mode, path (and a link's target),
# sorted.
listing() {
	find "$1" -mindepth 1 -printf '%y %#m %P\t%l\n' | sed -e 's/\t$//' -e 's/\t/ -> /' | sort
}

# The tree `make install` lays out for PREFIX, XEN_SCRIPT_DIR and LIBEXECDIR ($1 $2 $3), with
# the hooks as symlinks in XEN_SCRIPT_DIR unless it is LIBEXECDIR, the tool as a symlink in
# PREFIX/sbin (relative when both are under the same top-level directory) and the unit in
# /lib/systemd/system (PREFIX=/usr) or PREFIX/lib/systemd/system.
expected_install() {
	local prefix=${1#/} scripts=${2#/} libexec=${3#/} p d units
	units=$([[ $prefix == usr ]] || echo "$prefix/")lib/systemd/system
	{
		for d in "$scripts" "$libexec" "$prefix/sbin" "$units" "$prefix/share/man/man8" \
			"$prefix/share/doc/$PACKAGE"; do
			while [[ $d == */* ]]; do
				echo "d 0755 $d"
				d=${d%/*}
			done
			echo "d 0755 $d"
		done
		for p in "${PROGS[@]}"; do
			echo "f 0755 $libexec/$p"
			echo "f 0644 $prefix/share/man/man8/$p.8"
		done
		for p in "${HOOKS[@]}"; do
			[[ $scripts != "$libexec" ]] && echo "l 0777 $scripts/$p -> /$libexec/$p"
		done
		for p in "${TOOLS[@]}"; do
			if [[ ${libexec%%/*} == "${prefix%%/*}" ]]; then
				echo "l 0777 $prefix/sbin/$p -> ../libexec/$PACKAGE/$p"
			else
				echo "l 0777 $prefix/sbin/$p -> /$libexec/$p"
			fi
		done
		echo "f 0644 $units/$UNIT"
		echo "f 0644 $prefix/share/doc/$PACKAGE/README.md"
		echo "f 0644 $prefix/share/doc/$PACKAGE/xend-config.sxp.example"
	} | sort -u
}

# pmake ARGS...: make in the source tree, quietly (its output goes to the transcript), with
# the programs of the package's build, built once before the tests: one make at a time there,
# as the tests run in parallel; and without the sandbox's XEN_SCRIPT_DIR, which make would
# take for its own variable.
pmake() {
	local rc
	(cd "$ROOT" && flock "$PKG_TMP/make.lock" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		-u XEN_SCRIPT_DIR make --no-print-directory BUILD="$PKG_TMP/deb" "$@") \
		>>"$SB/transcript" 2>&1
	rc=$?
	echo "\$ make $* -> exit $rc" >>"$SB/transcript"
	return "$rc"
}

deb_file() { echo "$PKG_TMP"/deb/${PACKAGE}_*.deb; }

# The built package; ends the test when the build failed.
need_deb() {
	[[ $(cat "$PKG_TMP/deb.rc" 2>/dev/null) == 0 && -f $(deb_file) ]] ||
		fail "make deb failed: $(tail -n 20 "$PKG_TMP/deb.log" 2>/dev/null)"
}

# The package's version: common/version.h's, Debian revision 1.
deb_version() {
	echo "$(sed -n 's/^#define XNH_VERSION "\(.*\)"$/\1/p' "$ROOT/common/version.h")-1"
}

# ---------------------------------------------------------------- make install

test_install_layout() {
	umask 022
	local d=$SB/dest p
	pmake install DESTDIR="$d" PREFIX=/usr || fail "make install failed (transcript below)"
	assert_same "$(expected_install /usr $SCRIPTS $LIBEXEC)" "$(listing "$d")" "installed tree"
	for p in "${PROGS[@]}"; do
		cmp -s "$PKG_TMP/deb/$p" "$d$LIBEXEC/$p" || fail "$LIBEXEC/$p is not the built $p"
		cmp -s "$ROOT/man/$p.8" "$d/usr/share/man/man8/$p.8" || fail "man page $p.8 differs"
		# It runs (XEN_SCRIPT_DIR from the sandbox aside).
		assert_contains "$(XEN_SCRIPT_DIR='' "$d$LIBEXEC/$p" --version 2>&1)" "$p" "$p --version"
	done
	assert_eq "xen-net-hooks $(deb_version | sed 's/-1$//')" \
		"$("$d/usr/sbin/xen-net-hooks" --version 2>&1)" "/usr/sbin/xen-net-hooks --version"
	# The unit names the tool where it is installed.
	assert_eq "/usr/sbin/xen-net-hooks resync" "$(sed -n 's/^ExecStart=//p' "$d$UNITS/$UNIT")" \
		"ExecStart of the installed unit"
	cmp -s "$ROOT/xend-config.sxp.example" "$d/usr/share/doc/$PACKAGE/xend-config.sxp.example" ||
		fail "xend-config.sxp.example differs"
}

# Each directory variable moves what it names, and nothing else.
test_install_directories() {
	umask 022
	local d=$SB/local
	pmake install DESTDIR="$d" PREFIX=/usr/local XEN_SCRIPT_DIR=/srv/xen/scripts ||
		fail "make install PREFIX=/usr/local failed"
	assert_same "$(expected_install /usr/local /srv/xen/scripts /usr/local/libexec/$PACKAGE)" \
		"$(listing "$d")" "tree for PREFIX=/usr/local XEN_SCRIPT_DIR=/srv/xen/scripts"
	assert_eq "/usr/local/sbin/xen-net-hooks resync" \
		"$(sed -n 's/^ExecStart=//p' "$d/usr/local/lib/systemd/system/$UNIT")" \
		"ExecStart of the unit for PREFIX=/usr/local"

	# LIBEXECDIR equal to XEN_SCRIPT_DIR: the programs themselves, no symlinks.
	d=$SB/flat
	pmake install DESTDIR="$d" PREFIX=/usr LIBEXECDIR=$SCRIPTS || fail "make install flat failed"
	assert_same "$(expected_install /usr $SCRIPTS $SCRIPTS)" "$(listing "$d")" \
		"tree for LIBEXECDIR=XEN_SCRIPT_DIR"
	pmake uninstall DESTDIR="$d" PREFIX=/usr LIBEXECDIR=$SCRIPTS || fail "make uninstall flat failed"
	assert_eq "" "$(find "$d" ! -type d)" "files left by the flat uninstall"
	[[ -d $d$SCRIPTS ]] || fail "the flat uninstall removed the script directory"

	d=$SB/mandir
	pmake install DESTDIR="$d" PREFIX=/usr MANDIR=/usr/man/man8 DOCDIR=/usr/doc/xnh ||
		fail "make install MANDIR= DOCDIR= failed"
	assert_eq "$(printf '%s.8\n' "${PROGS[@]}")" "$(ls "$d/usr/man/man8")" "pages in MANDIR"
	assert_eq "$(printf '%s\n' README.md xend-config.sxp.example)" "$(ls "$d/usr/doc/xnh")" \
		"files in DOCDIR"
	[[ ! -e $d/usr/share ]] || fail "MANDIR and DOCDIR set, yet usr/share was created"
}

# uninstall takes back exactly what install added: files that were there before stay, and so
# does a script the administrator put in place of one of our symlinks since.
test_uninstall_symmetric() {
	umask 022
	local d=$SB/dest before
	mkdir -p "$d$SCRIPTS" "$d/usr/share/man/man8"
	echo '# Xen' >"$d$SCRIPTS/vif-common.sh"
	echo 'other' >"$d/usr/share/man/man8/xl.1"
	before=$(listing "$d")
	pmake install DESTDIR="$d" PREFIX=/usr || fail "make install failed"
	rm "$d$SCRIPTS/vif-nat" && printf '#!/bin/sh\n' >"$d$SCRIPTS/vif-nat"
	pmake uninstall DESTDIR="$d" PREFIX=/usr || fail "make uninstall failed"
	assert_same "$(printf '%s\n' "$before" "f 0644 ${SCRIPTS#/}/vif-nat" "d 0755 usr/libexec" \
		"d 0755 usr/share/doc" "d 0755 usr/sbin" "d 0755 lib" "d 0755 lib/systemd" \
		"d 0755 lib/systemd/system" | sort)" "$(listing "$d")" "tree after uninstall"
	# A second uninstall finds nothing to do and does not fail.
	pmake uninstall DESTDIR="$d" PREFIX=/usr || fail "a second make uninstall failed"
}

# ---------------------------------------------------------------- make deb

test_deb_builds() {
	need_deb
	local log p f
	log=$(cat "$PKG_TMP/deb.log")
	assert_contains "$log" "built $(deb_file)" "make deb's report"
	# Compiled with -O2 and Debian's flags, never with a sanitizer.
	assert_contains "$log" "-O2 -ffile-prefix-map=$ROOT=. -fstack-protector-strong" "CFLAGS"
	assert_contains "$log" "-D_FORTIFY_SOURCE=2" "CPPFLAGS"
	assert_not_contains "$log" "-fsanitize" "sanitizer flags"
	for p in "${PROGS[@]}"; do
		f=$PKG_TMP/deb/stage$LIBEXEC/$p
		# Optimised and hardened the Debian way, stripped, and no sanitizer.
		readelf -h "$f" | grep -q 'Type: *DYN' || fail "$p is not PIE"
		readelf -l "$f" | grep -q GNU_RELRO || fail "$p has no RELRO"
		readelf -d "$f" | grep -q 'FLAGS.*BIND_NOW' || fail "$p is not linked with -z now"
		nm -D "$f" | grep -q __stack_chk_fail || fail "$p has no stack protector"
		nm -D "$f" | grep -q '__[a-z]*_chk\b' || fail "$p has no fortified calls"
		nm -D "$f" | grep -q __asan && fail "$p is a sanitizer build"
		readelf -S "$f" | grep -qE '\.symtab|\.debug_' && fail "$p is not stripped"
	done
	return 0
}

# The same sources give the same package, byte for byte, in another build directory.
test_deb_reproducible() {
	need_deb
	[[ $(cat "$PKG_TMP/deb2.rc" 2>/dev/null) == 0 ]] ||
		fail "second make deb failed: $(tail -n 20 "$PKG_TMP/deb2.log")"
	local a b
	a=$(sha256sum <"$(deb_file)")
	b=$(sha256sum <"$PKG_TMP"/deb2/${PACKAGE}_*.deb)
	assert_eq "$a" "$b" "sha256 of two builds of the package"
}

test_deb_contents() {
	need_deb
	local expected p doc=usr/share/doc/$PACKAGE actual
	expected=$(
		for d in etc etc/xen etc/xen/scripts lib lib/systemd lib/systemd/system usr \
			usr/libexec usr/libexec/$PACKAGE usr/sbin usr/share usr/share/doc "$doc" \
			usr/share/lintian usr/share/lintian/overrides usr/share/man usr/share/man/man8; do
			echo "drwxr-xr-x root/root ./$d/"
		done
		echo "drwxr-xr-x root/root ./"
		for p in "${PROGS[@]}"; do
			echo "-rwxr-xr-x root/root .$LIBEXEC/$p"
			echo "-rw-r--r-- root/root ./usr/share/man/man8/$p.8.gz"
		done
		for p in "${HOOKS[@]}"; do
			echo "lrwxrwxrwx root/root .$SCRIPTS/$p -> $LIBEXEC/$p"
		done
		for p in "${TOOLS[@]}"; do
			echo "lrwxrwxrwx root/root ./usr/sbin/$p -> ../libexec/$PACKAGE/$p"
		done
		echo "-rw-r--r-- root/root .$UNITS/$UNIT"
		for f in README.md.gz changelog.Debian.gz copyright xend-config.sxp.example.gz; do
			echo "-rw-r--r-- root/root ./$doc/$f"
		done
		echo "-rw-r--r-- root/root ./usr/share/lintian/overrides/$PACKAGE"
	)
	actual=$(dpkg-deb -c "$(deb_file)" | awk '{ $3 = $4 = $5 = ""; print }' | tr -s ' ')
	assert_same "$(sort <<<"$expected")" "$(sort <<<"$actual")" "dpkg-deb -c"

	# Every time stamp is SOURCE_DATE_EPOCH's (by default the last commit's).
	local epoch stamps
	epoch=$(cat "$PKG_TMP/epoch")
	stamps=$(dpkg-deb --fsys-tarfile "$(deb_file)" | tar -tv --full-time --utc |
		awk '{ print $4 "T" $5 }' | sort -u)
	assert_eq "$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%S)" "$stamps" "mtimes in the package"

	# The files themselves: the programs as built there, the pages and docs gzip -9n of ours.
	local x=$SB/x
	dpkg-deb -x "$(deb_file)" "$x" || fail "dpkg-deb -x failed"
	for p in "${PROGS[@]}"; do
		cmp -s "$x/usr/share/man/man8/$p.8.gz" <(gzip -9n <"$ROOT/man/$p.8") ||
			fail "$p.8.gz is not gzip -9n of man/$p.8"
		"$x$LIBEXEC/$p" --version 2>&1 | grep -q "^$p " || fail "$p --version from the package"
	done
	cmp -s "$x/$doc/README.md.gz" <(gzip -9n <"$ROOT/README.md") || fail "README.md.gz"
	cmp -s "$x/$doc/copyright" "$ROOT/packaging/deb/copyright" || fail "copyright"
	cmp -s "$x/$doc/changelog.Debian.gz" <(gzip -9n <"$ROOT/packaging/deb/changelog") ||
		fail "changelog.Debian.gz"
	assert_eq "$(deb_version)" "$(zcat "$x/$doc/changelog.Debian.gz" |
		dpkg-parsechangelog -l - -S Version)" "version in changelog.Debian.gz"
}

test_deb_metadata() {
	need_deb
	local deb
	deb=$(deb_file)
	field() { dpkg-deb -f "$deb" "$1"; }
	assert_eq "$PACKAGE" "$(field Package)" "Package"
	assert_eq "$(deb_version)" "$(field Version)" "Version (common/version.h)"
	assert_eq "$(dpkg --print-architecture)" "$(field Architecture)" "Architecture"
	assert_eq net "$(field Section)" "Section"
	assert_eq optional "$(field Priority)" "Priority"
	[[ $(field Maintainer) =~ ^[^\<]+\ \<[^@\>]+@[^\>]+\>$ ]] || fail "Maintainer: $(field Maintainer)"
	assert_contains "$(field Description)" "/etc/xen/scripts" "Description"

	# Depends: exactly the packages of the shared libraries the programs need.
	local x=$SB/x lib path pkgs=() dep
	dpkg-deb -x "$deb" "$x" || fail "dpkg-deb -x failed"
	for lib in $(for p in "${PROGS[@]}"; do
		readelf -d "$x$LIBEXEC/$p" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
	done | sort -u); do
		path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
		[[ -n $path ]] || fail "no $lib on this system"
		# dpkg knows the path the package ships, before or after merged /usr.
		pkgs+=("$( (dpkg -S "$path" || dpkg -S "$(readlink -f "$path")") 2>/dev/null |
			head -n 1 | cut -d: -f1)")
	done
	dep=$(field Depends | sed 's/ *([^)]*)//g; s/, */\n/g' | sort)
	assert_same "$(printf '%s\n' "${pkgs[@]}" | sort -u)" "$dep" "Depends against NEEDED"

	# Installed-Size as dpkg counts it, md5sums of every file, executable maintainer scripts.
	local size
	size=$(cd "$x" && find . ! -path . -printf '%y %s\n' |
		awk '{ n += ($1 == "f") ? int(($2 + 1023) / 1024) : 1 } END { print n }')
	assert_eq "$size" "$(field Installed-Size)" "Installed-Size"
	dpkg-deb -e "$deb" "$SB/control" || fail "dpkg-deb -e failed"
	assert_eq "$(cd "$x" && find . -type f | wc -l)" "$(wc -l <"$SB/control/md5sums")" \
		"files in md5sums"
	(cd "$x" && md5sum --quiet -c "$SB/control/md5sums") || fail "md5sums do not match"
	# No conffiles: the package has only symlinks in /etc.
	assert_eq "control md5sums postinst postrm preinst prerm" "$(cd "$SB/control" && echo *)" \
		"control members"
	local s
	for s in preinst postinst prerm postrm; do
		[[ -x $SB/control/$s ]] || fail "$s not executable"
		sh -n "$SB/control/$s" || fail "$s syntax"
	done
	# The hooks are diverted, the tool is not (no Xen script has its name).
	assert_contains "$(cat "$SB/control/preinst")" "for p in ${HOOKS[*]}; do" "preinst's diversions"
	# Built-Using names the sources of the statically linked libraries, as installed.
	assert_contains "$(field Built-Using)" \
		"libnftnl (= $(dpkg-query -W -f='${source:Version}' libnftnl-dev))" "Built-Using"
}

# The unit ships where Debian 12 keeps packages' units, runs the installed tool, passes
# systemd-analyze verify (in a copy whose paths lead into the extracted package: verify wants
# the program and the man page of Documentation= to exist), and the maintainer scripts
# enable, start, stop, mask and purge it with Debian's helpers, as dh_installsystemd would.
test_deb_systemd_unit() {
	need_deb
	local x=$SB/x c=$SB/control u out
	dpkg-deb -x "$(deb_file)" "$x" || fail "dpkg-deb -x failed"
	dpkg-deb -e "$(deb_file)" "$c" || fail "dpkg-deb -e failed"
	u=$x$UNITS/$UNIT
	[[ -f $u ]] || fail "no $UNITS/$UNIT in the package"
	assert_eq "/usr/sbin/xen-net-hooks resync" "$(sed -n 's/^ExecStart=//p' "$u")" "ExecStart"
	assert_eq "/usr/sbin/xen-net-hooks resync" "$(sed -n 's/^ExecReload=//p' "$u")" "ExecReload"
	if command -v systemd-analyze >/dev/null; then
		mkdir -p "$SB/units"
		sed "s|/usr/sbin/|$x/usr/sbin/|g" "$u" >"$SB/units/$UNIT"
		out=$(MANPATH=$x/usr/share/man systemd-analyze verify "$SB/units/$UNIT" 2>&1)
		assert_eq 0 "$?" "systemd-analyze verify: $out"
		assert_eq "" "$out" "systemd-analyze verify's output"
	else
		note "systemd-analyze verify skipped: systemd-analyze is not installed (package systemd)"
	fi
	assert_contains "$(cat "$c/postinst")" "deb-systemd-helper enable" "postinst"
	assert_contains "$(cat "$c/postinst")" "deb-systemd-helper --quiet was-enabled" "postinst"
	assert_contains "$(cat "$c/postinst")" "deb-systemd-invoke \$action $UNIT" "postinst"
	assert_contains "$(cat "$c/prerm")" "deb-systemd-invoke stop $UNIT" "prerm"
	assert_contains "$(cat "$c/postrm")" "deb-systemd-helper mask $UNIT" "postrm"
	assert_contains "$(cat "$c/postrm")" "deb-systemd-helper purge $UNIT" "postrm"
}

# No lintian error or warning. Info and pedantic tags are opinions and only shown; the one
# override (no ITP bug to close: the package is not uploaded to Debian) must still match.
test_lintian() {
	need_deb
	if ! command -v lintian >/dev/null; then
		note "skipped: lintian is not installed (make deps installs it)"
		return 0
	fi
	local out rc tag
	# (--show-overrides would make an overridden warning fail too.)
	lintian --pedantic --info --fail-on error,warning "$(deb_file)" >"$SB/lintian" 2>&1
	rc=$?
	out=$(grep -v -e '^N:' -e 'running with root privileges' "$SB/lintian")
	[[ $rc -eq 0 ]] || fail "lintian (exit $rc): $out"
	assert_not_contains "$out" "unused-override" "lintian override no longer needed"
	while read -r tag; do
		[[ -n $tag ]] && note "lintian: $tag"
	done < <(grep -E '^[IP]: ' <<<"$out")
	return 0
}

# ---------------------------------------------------------------- dpkg, for real

# In the private mount namespace: /etc, /usr and /var become overlays whose writes go under
# $1. Refuses (before any dpkg command) unless all three really are overlays in a namespace of
# their own, and /lib, where the package puts its unit, lies in /usr (merged /usr).
ns_overlays() {
	local d
	[[ $(readlink /proc/self/ns/mnt) != "$PKG_HOST_MNTNS" ]] ||
		fail "not in a private mount namespace: refusing to run dpkg"
	[[ $(readlink -f /lib) == /usr/lib ]] || fail "/lib is not /usr/lib: refusing to run dpkg"
	for d in etc usr var; do
		mkdir -p "$1/$d/up" "$1/$d/work"
		mount -t overlay overlay -o "lowerdir=/$d,upperdir=$1/$d/up,workdir=$1/$d/work" "/$d" ||
			fail "cannot mount an overlay on /$d"
		[[ $(findmnt -n -o FSTYPE,OPTIONS --mountpoint "/$d" | tail -n 1) == \
			overlay*"upperdir=$1/$d/up,"* ]] || fail "/$d is not our overlay: refusing to run dpkg"
	done
	# No service starts; no man-db index rebuild (seconds, and not ours to test).
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
	rm -f /var/lib/man-db/auto-update
}

# What must come back exactly: every entry of /etc/xen with mode, owner, size, contents and,
# for files, the modification time (directories' times change with any entry, so not theirs).
etc_xen_state() {
	local t f
	find /etc/xen -printf '%y %p\n' | sort -k2 | while read -r t f; do
		case $t in
		f) echo "f $(stat -c '%#a %U:%G %s %.9Y' "$f") $(sha256sum <"$f" | cut -c1-64) $f" ;;
		l) echo "l $f -> $(readlink "$f")" ;;
		*) echo "$t $(stat -c '%#a %U:%G' "$f") $f" ;;
		esac
	done
}

# What deb-systemd-helper keeps of the unit: links under /etc/systemd, its own state.
unit_state() {
	find /etc/systemd /var/lib/systemd -name "*$UNIT*" -printf '%y %p -> %l\n' 2>/dev/null | sort
}

# dpkg's view: packages and states, diversions, and what --verify says of xen-utils-common.
dpkg_state() {
	dpkg-query -W -f='${binary:Package} ${Version} ${db:Status-Abbrev}\n' | sort
	dpkg-divert --list | sort
	dpkg --verify xen-utils-common
}

# The xen-utils-common .deb of the installed version, from apt's cache or downloaded; empty
# when neither works.
xen_utils_deb() {
	local ver arch f
	ver=$(dpkg-query -W -f='${Version}' xen-utils-common)
	arch=$(dpkg-query -W -f='${Architecture}' xen-utils-common)
	f=/var/cache/apt/archives/xen-utils-common_${ver//:/%3a}_$arch.deb
	if [[ ! -f $f ]]; then
		mkdir -p "$SB/apt" && (cd "$SB/apt" &&
			timeout 60 apt-get download -qq "xen-utils-common=$ver" >/dev/null 2>&1)
		f=$(echo "$SB"/apt/xen-utils-common_*.deb)
	fi
	[[ -f $f ]] && echo "$f"
}

in_ns_cycle() { # DEB OVERLAY_DIR XEN_UTILS_DEB
	local deb=$1 xu=$3 etc0 dpkg0 unit0 out p
	ns_overlays "$2"
	etc0=$(etc_xen_state)
	dpkg0=$(dpkg_state)
	unit0=$(unit_state)
	[[ -f $SCRIPTS/vif-bridge && ! -L $SCRIPTS/vif-bridge ]] || fail "no Xen vif-bridge script"

	out=$(dpkg -i "$deb" 2>&1) || fail "dpkg -i failed: $out"
	assert_eq "install ok installed" "$(dpkg-query -W -f='${Status}' $PACKAGE)" "status"
	# The tool in PATH; the unit enabled as deb-systemd-helper enables it: a link in
	# nftables.service.wants, so that it starts whenever nftables.service does.
	assert_contains "$(xen-net-hooks --version 2>&1)" "xen-net-hooks " "xen-net-hooks in PATH"
	assert_eq "$UNITS/$UNIT" "$(readlink "/etc/systemd/system/nftables.service.wants/$UNIT")" \
		"the unit's link in nftables.service.wants"
	for p in "${HOOKS[@]}"; do
		assert_eq "$LIBEXEC/$p" "$(readlink "$SCRIPTS/$p")" "$SCRIPTS/$p after install"
		assert_eq $PACKAGE "$(dpkg-divert --listpackage "$SCRIPTS/$p")" "diversion of $p"
		assert_eq "$SCRIPTS/$p.distrib" "$(dpkg-divert --truename "$SCRIPTS/$p")" "divert-to of $p"
	done
	# Xen's scripts wait under their .distrib names, untouched.
	local names
	names=$(printf '%s\\|' "${HOOKS[@]}")
	assert_same "$(sed -n "s,^\(f .* $SCRIPTS/\(${names%\\|}\)\)$,\1.distrib,p" <<<"$etc0")" \
		"$(etc_xen_state | grep '\.distrib$')" "Xen's scripts, diverted"
	dpkg --verify $PACKAGE || fail "dpkg --verify $PACKAGE"
	# dpkg follows the diversions for xen-utils-common's conffiles too.
	assert_same "$(dpkg --verify xen-utils-common)" "" "dpkg --verify xen-utils-common"

	# xl runs the program by its path in the script directory: a vif comes up and goes down.
	run_xl "$SCRIPTS/vif-bridge" 1 0 online
	assert_eq 0 "$RC" "online through $SCRIPTS/vif-bridge ($OUT)"
	assert_eq br0 "$(link_master vif1.0)" "vif1.0's bridge"
	assert_eq connected "$(xs_read "$(xs_backend 1 0)/hotplug-status")" "hotplug-status"
	run_xl "$SCRIPTS/vif-bridge" 1 0 offline
	assert_eq 0 "$RC" "offline through $SCRIPTS/vif-bridge ($OUT)"
	assert_eq "" "$(link_master vif1.0)" "vif1.0's bridge after offline"

	# Reinstalling (an upgrade) keeps one diversion each and the same files.
	out=$(dpkg -i "$deb" 2>&1) || fail "dpkg -i again failed: $out"
	assert_eq 6 "$(dpkg-divert --list "$SCRIPTS/*" | grep -c "by $PACKAGE$")" "diversions after upgrade"

	# An upgrade of xen-utils-common lands in the .distrib files and leaves our links alone.
	if [[ -n $xu ]]; then
		out=$(dpkg -i "$xu" 2>&1) || fail "dpkg -i xen-utils-common failed: $out"
		for p in vif-bridge vif-route vif-nat; do
			assert_eq "$LIBEXEC/$p" "$(readlink "$SCRIPTS/$p")" "$p after xen-utils-common upgrade"
		done
		assert_eq "" "$(find /etc/xen -name '*.dpkg-*')" "dpkg leftovers in /etc/xen"
		assert_same "$(dpkg --verify xen-utils-common)" "" "verify after xen-utils-common upgrade"
	else
		note "xen-utils-common upgrade not tried: no .deb in apt's cache and none downloadable"
	fi

	# An upgrade keeps the unit enabled.
	assert_eq "$UNITS/$UNIT" "$(readlink "/etc/systemd/system/nftables.service.wants/$UNIT")" \
		"the unit's link after the upgrade"

	out=$(dpkg -r $PACKAGE 2>&1) || fail "dpkg -r failed: $out"
	assert_same "$etc0" "$(etc_xen_state)" "/etc/xen after remove (< before install)"
	# Removed but not purged: masked, as dh_installsystemd's postrm leaves it.
	assert_eq /dev/null "$(readlink "/etc/systemd/system/$UNIT")" "the unit's mask after remove"
	[[ ! -e $UNITS/$UNIT ]] || fail "$UNITS/$UNIT left by dpkg -r"
	out=$(dpkg -P $PACKAGE 2>&1) || fail "dpkg -P failed: $out"
	assert_same "$etc0" "$(etc_xen_state)" "/etc/xen after purge (< before install)"
	assert_same "$dpkg0" "$(dpkg_state)" "dpkg's database after purge (< before install)"
	assert_same "$unit0" "$(unit_state)" "the unit's links and state after purge (< before)"
}

# A failed install (here: another package already diverts vif-route, so the preinst stops
# half-way) takes back the diversions it made and renames Xen's scripts back.
in_ns_failed_install() { # DEB OVERLAY_DIR
	local deb=$1 etc0 dpkg0 out
	ns_overlays "$2"
	dpkg-divert --quiet --no-rename --package other-pkg --divert /var/tmp/vif-route.other \
		"$SCRIPTS/vif-route"
	etc0=$(etc_xen_state)
	dpkg0=$(dpkg_state)
	out=$(dpkg -i "$deb" 2>&1) && fail "dpkg -i succeeded over a foreign diversion"
	assert_contains "$out" "vif-route" "dpkg's error names the file"
	assert_same "$etc0" "$(etc_xen_state)" "/etc/xen after the failed install"
	# dpkg may remember the package as not installed; nothing else may differ.
	assert_same "$dpkg0" "$(dpkg_state | grep -v "^$PACKAGE ")" "dpkg's database after the failure"
	out=$(dpkg-query -W -f='${Status}' $PACKAGE 2>/dev/null)
	[[ -z $out || $out == *" not-installed" ]] || fail "$PACKAGE after the failure: $out"
}

# ns_run FUNCTION ARGS...: FUNCTION in a fresh private mount namespace; then checks that the
# host saw none of it.
ns_run() {
	local host_etc host_div host_fs rc
	command -v unshare >/dev/null || fail "unshare is missing"
	dpkg-query -W -f='${Status}' xen-utils-common 2>/dev/null | grep -q 'ok installed' ||
		fail "xen-utils-common is not installed (make deps installs it)"
	if dpkg-query -W -f='${Status}' $PACKAGE 2>/dev/null | grep -q 'ok installed'; then
		note "skipped: $PACKAGE is installed on this host"
		return 0
	fi
	host_etc=$(etc_xen_state)
	host_div=$(dpkg-divert --list "$SCRIPTS/*")
	host_fs=$(findmnt -n -o TARGET,FSTYPE --target /etc; findmnt -n -o TARGET,FSTYPE --target /usr
		findmnt -n -o TARGET,FSTYPE --target /var)
	PKG_HOST_MNTNS=$(readlink /proc/self/ns/mnt) SB=$SB HOST=$HOST \
		TEST_FAILED_FILE=$TEST_FAILED_FILE \
		unshare -m --propagation private -- bash "$0" --in-mount-ns "$@"
	rc=$?
	assert_same "$host_fs" "$(findmnt -n -o TARGET,FSTYPE --target /etc
		findmnt -n -o TARGET,FSTYPE --target /usr; findmnt -n -o TARGET,FSTYPE --target /var)" \
		"the host's mounts of /etc, /usr and /var"
	assert_same "$host_etc" "$(etc_xen_state)" "the host's /etc/xen"
	assert_same "$host_div" "$(dpkg-divert --list "$SCRIPTS/*")" "the host's diversions"
	dpkg-query -W -f='${Status}' $PACKAGE 2>/dev/null | grep -q 'ok installed' &&
		fail "$PACKAGE installed on the host"
	[[ $rc -eq 0 ]] || fail "the dpkg cycle failed (above)"
}

test_dpkg_install_remove_cycle() {
	need_deb
	bridge_add br0 || fail "bridge"
	vif_add 1 0 || fail "vif"
	xs_vif_seed 1 0 bridge=br0 || fail "xenstore seed"
	ns_run in_ns_cycle "$(deb_file)" "$SB/overlay" "$(xen_utils_deb)"
}

test_dpkg_failed_install() {
	need_deb
	ns_run in_ns_failed_install "$(deb_file)" "$SB/overlay"
}

# ---------------------------------------------------------------- main

if [[ ${1:-} == --in-mount-ns ]]; then
	shift
	"$@"
	exit
fi

# Once, before the tests: two package builds in their own directories, side by side (the
# second for the reproducibility test), for the time of the last commit as make deb takes it
# (fixed here, so that a commit landing meanwhile changes neither). The tests read the
# results from PKG_TMP.
if [[ -z ${_LIB_ONE_TEST:-} ]]; then
	lib_require
	PKG_TMP=$(mktemp -d /tmp/xhpkg.XXXXXX) || exit 1
	export PKG_TMP
	trap 'rm -rf "$PKG_TMP"' EXIT
	SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct) || exit 1
	export SOURCE_DATE_EPOCH
	echo "$SOURCE_DATE_EPOCH" >"$PKG_TMP/epoch"
	for b in deb deb2; do
		(
			cd "$ROOT" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory \
				deb DEB_BUILD="$PKG_TMP/$b" >"$PKG_TMP/$b.log" 2>&1
			echo $? >"$PKG_TMP/$b.rc"
		) &
	done
	wait
fi

run_tests "$@"
