#!/usr/bin/env bash
# The container image's build context: rootfs/ holds BINARY as /usr/bin/s3-sse-proxy, the shared libraries
# `ldd` says it needs (at their paths), the host's CA roots, /etc/passwd and /etc/group with the nonroot user
# 65532, and /data owned by it. Usage: image-rootfs.sh BINARY OUT_DIR (OUT_DIR is replaced).
set -euo pipefail
bin=$1
out=$2
rm -rf "$out"
root="$out/rootfs"
mkdir -p "$root/usr/bin" "$root/etc/ssl/certs" "$root/data" "$root/tmp"
install -m 0755 "$bin" "$root/usr/bin/s3-sse-proxy"
# Line tables are for a debugger, not for the image.
strip --strip-debug "$root/usr/bin/s3-sse-proxy" 2>/dev/null || true
# Every library the dynamic loader resolves, and the loader itself.
ldd "$bin" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
echo 'nonroot:x:65532:65532:nonroot:/data:/sbin/nologin' >"$root/etc/passwd"
echo 'nonroot:x:65532:' >"$root/etc/group"
chown 65532:65532 "$root/data"
chmod 0700 "$root/data"
chmod 1777 "$root/tmp"
