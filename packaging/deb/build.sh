#!/bin/bash
# Builds the Debian package with dpkg-deb alone (no debhelper): `make install` into a staging
# tree from an optimised build with Debian's hardening flags, then what Debian policy asks of a
# binary package (stripped programs, gzipped man pages and changelog, copyright, md5sums,
# maintainer scripts that divert Xen's scripts and enable, start and stop the systemd unit the
# way dh_installsystemd's would). Run by `make deb`; DEB_BUILD is the build and output
# directory. Reproducible: the same commit gives the same .deb, byte for byte.
set -euo pipefail
umask 022

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/packaging/deb
DEB_BUILD=${DEB_BUILD:-build-deb}
[[ $DEB_BUILD == /* ]] || DEB_BUILD=$ROOT/$DEB_BUILD
MAKE=${MAKE:-make}
PACKAGE=xen-net-hooks
SCRIPT_DIR=/etc/xen/scripts
LIBEXEC_DIR=/usr/libexec/$PACKAGE
SBIN_DIR=/usr/sbin
# Debian 12's place for units shipped by packages.
UNIT_DIR=/lib/systemd/system
DOC_DIR=/usr/share/doc/$PACKAGE

die() {
	echo "packaging/deb/build.sh: $*" >&2
	exit 1
}

cd "$ROOT"
for tool in dpkg-deb dpkg-shlibdeps dpkg-parsechangelog dpkg-buildflags strip gzip; do
	command -v "$tool" >/dev/null || die "'$tool' is missing: install dpkg-dev and binutils"
done

# The version comes from common/version.h; the Debian changelog must have an entry for it.
upstream=$(sed -n 's/^#define XNH_VERSION "\(.*\)"$/\1/p' common/version.h)
[[ -n $upstream ]] || die "no XNH_VERSION in common/version.h"
version=$(dpkg-parsechangelog -l "$HERE/changelog" -S Version)
[[ ${version%-*} == "$upstream" ]] ||
	die "packaging/deb/changelog is at $version but common/version.h says $upstream: add a changelog entry for $upstream-1"
maintainer=$(dpkg-parsechangelog -l "$HERE/changelog" -S Maintainer)
arch=$(dpkg --print-architecture)

# Every time stamp in the package is the last commit's (else the changelog entry's).
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
	SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null) ||
		SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$HERE/changelog" -S Timestamp)
fi
export SOURCE_DATE_EPOCH

# Debian's build flags (hardening, the source path mapped away for reproducibility), from the
# source directory; the Makefile adds its own warnings and -std.
eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
stage=$DEB_BUILD/stage
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"
"$MAKE" --no-print-directory BUILD="$DEB_BUILD" SAN= CFLAGS="$CFLAGS $CPPFLAGS" LDFLAGS="$LDFLAGS" \
	DESTDIR="$stage" PREFIX=/usr XEN_SCRIPT_DIR=$SCRIPT_DIR LIBEXECDIR=$LIBEXEC_DIR \
	SBINDIR=$SBIN_DIR SYSTEMDUNITDIR=$UNIT_DIR MANDIR=/usr/share/man/man8 DOCDIR=$DOC_DIR install

programs=()
for f in "$stage$LIBEXEC_DIR"/*; do
	programs+=("${f##*/}")
	strip --remove-section=.comment --remove-section=.note "$f"
done
# The hooks are the programs linked from the script directory: the names to divert there.
hooks=()
for f in "$stage$SCRIPT_DIR"/*; do
	[[ -L $f ]] && hooks+=("${f##*/}")
done
[[ ${#hooks[@]} -gt 0 ]] || die "no hook in $stage$SCRIPT_DIR"
units=()
for f in "$stage$UNIT_DIR"/*; do
	units+=("${f##*/}")
done
gzip -9n "$stage"/usr/share/man/man8/*.8
# Policy 12.3: documentation larger than 4 KiB is compressed.
find "$stage$DOC_DIR" -type f -size +4k -exec gzip -9n {} +
install -m 0644 "$HERE/copyright" "$stage$DOC_DIR/copyright"
gzip -9n <"$HERE/changelog" >"$stage$DOC_DIR/changelog.Debian.gz"
chmod 0644 "$stage$DOC_DIR/changelog.Debian.gz"
install -D -m 0644 "$HERE/lintian-overrides" "$stage/usr/share/lintian/overrides/$PACKAGE"

# Depends from the programs' real shared-library needs. dpkg-shlibdeps wants a debian/control
# around it, so it gets a minimal one of its own.
shl=$DEB_BUILD/shlibdeps
rm -rf "$shl"
mkdir -p "$shl/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$PACKAGE" "$PACKAGE" >"$shl/debian/control"
depends=$(cd "$shl" && dpkg-shlibdeps -O "${programs[@]/#/-e$stage$LIBEXEC_DIR/}" |
	sed -n 's/^shlibs:Depends=//p')
[[ -n $depends ]] || die "dpkg-shlibdeps found no dependencies"
rm -rf "$shl"

# libnl, libnftnl and libxenstore are linked statically: Built-Using names their sources, whose
# licenses (LGPL, GPL) ask that they stay available with the binaries.
built_using=$(dpkg-query -W -f='${source:Package} (= ${source:Version})\n' \
	libnl-3-dev libnl-route-3-dev libnftnl-dev libxen-dev | sort -u | paste -sd, - | sed 's/,/, /g')

# Installed-Size as dpkg-gencontrol counts it: KiB per file, rounded up, and 1 per other entry.
installed_size=$(cd "$stage" && find . -path ./DEBIAN -prune -o ! -path . -printf '%y %s\n' |
	awk '{ n += ($1 == "f") ? int(($2 + 1023) / 1024) : 1 } END { print n }')

fill() { # TEMPLATE: the template with the package's values in place
	sed -e "s|@PACKAGE@|$PACKAGE|g" -e "s|@VERSION@|$version|g" -e "s|@ARCH@|$arch|g" \
		-e "s|@MAINTAINER@|$maintainer|g" -e "s|@INSTALLED_SIZE@|$installed_size|g" \
		-e "s|@DEPENDS@|$depends|g" -e "s|@BUILT_USING@|$built_using|g" \
		-e "s|@HOOKS@|${hooks[*]}|g" -e "s|@SCRIPT_DIR@|$SCRIPT_DIR|g" \
		-e "s|@UNITS@|${units[*]}|g" "$1"
}
fill "$HERE/control.in" >"$stage/DEBIAN/control"
for script in preinst postinst prerm postrm; do
	fill "$HERE/$script.in" >"$stage/DEBIAN/$script"
	chmod 0755 "$stage/DEBIAN/$script"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort |
	xargs -d '\n' md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb=$DEB_BUILD/${PACKAGE}_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "built $deb"
if command -v lintian >/dev/null; then
	echo "lintian $deb:"
	# The package must be lintian clean: an error or warning fails the build.
	if ! lintian --info --fail-on error,warning "$deb"; then
		echo "make deb: lintian found errors or warnings in $deb" >&2
		exit 1
	fi
fi
