#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/image.sh - gather the kiln container image's files into a build
# context and build it with podman (`make image` runs this).
#
#   tools/image.sh [--context-only] [TAG]
#
# TAG defaults to kiln:VERSION, and then the image is tagged kiln:latest
# as well (what compose.yaml and deploy/kubernetes run).
#
# The image is FROM scratch (no registry is needed): the built binary and
# plugins (stripped), exactly the shared libraries they load - what ldd
# names for each, plus what kiln dlopen()s at run time (src/http.c's
# libmicrohttpd, src/tlslib.c's GnuTLS, hogweed and GMP: every
# "libNAME.so.N" string in src/*.c) and what those need in turn - the
# dynamic loader, /etc/passwd and /etc/group with the user kiln (UID
# 10001), the container config conf/compose/cluster.yaml as
# /opt/kiln/conf/cluster.yaml, the DAGs of conf/dags and examples/data.
# Run from the build tree (top_srcdir may differ: $srcdir).  Honours
# $CONTAINERS_CONF, $PODMAN (default podman) and $KILN_IMAGE_CONTEXT.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
build=$(pwd)
podman=${PODMAN:-podman}
only=
if [ "${1:-}" = --context-only ]; then only=1; shift; fi
ctx=${KILN_IMAGE_CONTEXT:-$build/image-context}

die() { echo "image.sh: $*" >&2; exit 1; }
[ -x "$build/kiln" ] || die "no ./kiln here: run make first"
version=$("$build/kiln" --version | sed -n '1s/^kiln //p')
tag=${1:-kiln:$version}
also=${1:+$tag}
also=${also:-kiln:latest}
ls "$build"/plugins/lib/*.so >/dev/null 2>&1 || die "no plugins in plugins/lib"

rm -rf "$ctx"
root=$ctx/rootfs
mkdir -p "$root/usr/local/bin" "$root/opt/kiln/plugins/lib" \
	"$root/opt/kiln/conf/dags" "$root/opt/kiln/examples/data" \
	"$root/etc" "$root/tmp" "$root/var/lib/kiln"

# The binary and plugins, without debug information (the dynamic symbol
# table, which plugins and the loader use, stays).
strip --strip-unneeded -o "$root/usr/local/bin/kiln" "$build/kiln"
for so in "$build"/plugins/lib/*.so; do
	strip --strip-unneeded -o "$root/opt/kiln/plugins/lib/${so##*/}" "$so"
done

# Where the dynamic loader finds SONAME on this machine.
soname_path() {
	/sbin/ldconfig -p | awk -v n="$1" '
		$1 == n && /x86-64|AArch64/ { print $NF; found = 1; exit }
		$1 == n && p == "" { p = $NF }
		END { if (!found && p != "") print p }'
}

# Every library FILES load: ldd's list, the dlopen()ed ones and theirs.
libs=$ctx/libs.txt
: > "$libs"
for f in "$build/kiln" "$build"/plugins/lib/*.so; do
	ldd "$f" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' >> "$libs"
done
for n in $(grep -ho '"lib[A-Za-z0-9_+-]*\.so\.[0-9][0-9.]*"' "$srcdir"/src/*.c | tr -d '"' | sort -u); do
	p=$(soname_path "$n")
	[ -n "$p" ] || die "kiln dlopen()s $n, which this machine lacks"
	echo "$p" >> "$libs"
	ldd "$p" | awk '/=> \// { print $3 }' >> "$libs"
done
for p in $(sort -u "$libs"); do
	mkdir -p "$root$(dirname "$p")"
	cp -L "$p" "$root$p"
done
# The loader is named by its absolute path in every binary; with a
# merged /usr the path ldd prints may be /lib64 or /usr/lib64.
for ld in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1; do
	[ -e "$ld" ] && [ ! -e "$root$ld" ] && mkdir -p "$root$(dirname "$ld")" &&
		cp -L "$ld" "$root$ld"
done

cp "$srcdir/conf/compose/cluster.yaml" "$root/opt/kiln/conf/cluster.yaml"
cp "$srcdir"/conf/dags/*.yaml "$root/opt/kiln/conf/dags/"
cp "$srcdir"/examples/data/*.csv "$root/opt/kiln/examples/data/"
cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
kiln:x:10001:10001:kiln:/var/lib/kiln:/sbin/nologin
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
kiln:x:10001:
EOF
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp"
cp "$srcdir/Containerfile" "$ctx/Containerfile"
echo "image.sh: context in $ctx ($(du -sh "$root" | cut -f1) uncompressed)"
[ -z "$only" ] || exit 0

command -v "$podman" >/dev/null 2>&1 ||
	die "$podman not found (Debian: apt-get install podman runc); or build $ctx with docker build"
# Docker format: OCI images have no HEALTHCHECK.
"$podman" build --format docker -f "$ctx/Containerfile" -t "$tag" -t "$also" "$ctx"
echo "image.sh: built $tag"
