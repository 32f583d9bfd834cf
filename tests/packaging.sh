#!/usr/bin/env bash
# The Debian package, end to end (issue 22): build it with cargo-deb from the release build, install it with
# dpkg -i, check its unit with systemd-analyze verify and its conffile, run the installed binary's quick start
# (embedded backend, in a temp dir) and do one PUT and GET with curl's SigV4, check the secret files it created
# are 0600; build the container image (packaging/Containerfile) from the installed binary with podman and do the
# same PUT and GET against it running as uid 65532 on a read-only root file system; then dpkg -r (the conffile
# stays) and dpkg -P (it goes). Needs root (dpkg), cargo-deb, curl, systemd (systemd-analyze), podman and runc.
# Run after `cargo build --release`; exit status 0 only if every check held.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() { echo "packaging.sh: FAIL: $*" >&2; exit 1; }
step() { echo "packaging.sh: $*"; }

[[ -x target/release/s3-sse-proxy ]] || fail "no target/release/s3-sse-proxy: run cargo build --release first"
step "cargo deb --no-build"
cargo deb --no-build >/dev/null
DEB=$(ls -t target/debian/s3-sse-proxy_*.deb | head -1)

WORK=$(mktemp -d /tmp/s3sp-packaging.XXXXXX)
GW_PID=""
CONTAINER=""
cleanup() {
    [[ -n "$GW_PID" ]] && kill "$GW_PID" 2>/dev/null || true
    [[ -n "$CONTAINER" ]] && podman --runtime runc rm -f "$CONTAINER" >/dev/null 2>&1 || true
    dpkg -P s3-sse-proxy >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

step "dpkg -i $DEB"
dpkg -i "$DEB" >/dev/null
[[ -x /usr/bin/s3-sse-proxy ]] || fail "/usr/bin/s3-sse-proxy not installed"
dpkg-query -W -f='${Conffiles}\n' s3-sse-proxy | grep -q '/etc/s3-sse-proxy/config.toml' \
    || fail "/etc/s3-sse-proxy/config.toml is not a conffile"
[[ "$(stat -c '%U:%G %a' /etc/s3-sse-proxy/config.toml)" == "root:s3-sse-proxy 640" ]] \
    || fail "config.toml is $(stat -c '%U:%G %a' /etc/s3-sse-proxy/config.toml), want root:s3-sse-proxy 640"
getent passwd s3-sse-proxy >/dev/null || fail "no s3-sse-proxy user"

UNIT=/lib/systemd/system/s3-sse-proxy.service
step "systemd-analyze verify $UNIT"
systemd-analyze verify "$UNIT" 2>&1 | tee "$WORK/verify.txt"
grep -v -e '^$' "$WORK/verify.txt" | grep -q . && fail "systemd-analyze verify complained (above)"
for want in 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'PrivateTmp=yes' 'CapabilityBoundingSet=$' \
    'StateDirectory=s3-sse-proxy' 'LimitNOFILE=' 'User=s3-sse-proxy'; do
    grep -q "^${want}" "$UNIT" || fail "the unit lacks ${want}"
done
# LimitNOFILE covers twice the shipped max_connections (a client and a backend socket each).
nofile=$(sed -n 's/^LimitNOFILE=//p' "$UNIT")
maxconn=$(sed -n 's/^max_connections = //p' /etc/s3-sse-proxy/config.toml)
(( nofile >= 2 * maxconn )) || fail "LimitNOFILE=$nofile < 2 x max_connections ($maxconn)"
step "the shipped config passes check-config"
/usr/bin/s3-sse-proxy check-config --config /etc/s3-sse-proxy/config.toml >/dev/null

step "the installed binary's quick start"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(port)
MPORT=$(port)
AK=PACKAGINGAKID0000001
SK=packagingSecretKey/Example+0123456789abcd
(cd "$WORK" && exec env -u S3_SSE_PROXY_LOG S3_SSE_PROXY_ACCESS_KEY_ID=$AK S3_SSE_PROXY_SECRET_ACCESS_KEY=$SK \
    /usr/bin/s3-sse-proxy --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$MPORT" \
    >"$WORK/out.txt" 2>"$WORK/err.txt") &
GW_PID=$!
for _ in $(seq 100); do
    grep -q 'metrics:' "$WORK/out.txt" 2>/dev/null && break
    sleep 0.1
done
grep -q 'metrics:' "$WORK/out.txt" || { cat "$WORK/out.txt" "$WORK/err.txt"; fail "the gateway did not start"; }
curl -sf "http://127.0.0.1:$MPORT/readyz" >/dev/null || fail "/readyz is not 200"

# One SSE-S3 PUT and GET with curl's SigV4 against the gateway at $1 (CA $2, data dir $3, bucket $4): the bytes come
# back equal, and their plaintext is nowhere under the data dir (the embedded backend stores there).
roundtrip() {
    local url=$1 ca=$2 data=$3 bucket=$4
    local s3=(curl -sS --fail-with-body --cacert "$ca" --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK"
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
    head -c 100000 /dev/urandom >"$WORK/object"
    "${s3[@]}" -X PUT --data-binary "" "$url/$bucket"
    "${s3[@]}" -T "$WORK/object" -H 'x-amz-server-side-encryption: AES256' "$url/$bucket/object" >/dev/null
    "${s3[@]}" -o "$WORK/back" "$url/$bucket/object"
    cmp "$WORK/object" "$WORK/back" || fail "GET returned other bytes than the PUT sent"
    python3 - "$WORK/object" "$data" <<'PY' || fail "the object's plaintext is stored at the backend"
import os, sys
needle = open(sys.argv[1], "rb").read()[:4096]
for root, _, files in os.walk(sys.argv[2]):
    for f in files:
        if needle in open(os.path.join(root, f), "rb").read():
            sys.exit(1)
PY
}
roundtrip "https://127.0.0.1:$PORT" "$WORK/data/tls/ca.pem" "$WORK/data" packaging

step "secret files are 0600"
for f in tls/key.pem keyring.toml kms-keys.toml backend-credentials.toml; do
    [[ -e "$WORK/data/$f" ]] || fail "no $f in the data dir"
    mode=$(stat -c '%a' "$WORK/data/$f")
    [[ "$mode" == 600 ]] || fail "$f is $mode, not 600"
done
kill "$GW_PID"
wait "$GW_PID" || true
GW_PID=""

step "container image: packaging/Containerfile from packaging/image-rootfs.sh's context (podman)"
# This machine (a container itself) has cgroup v1 in hybrid mode, which crun refuses, and no CAP_SYS_RESOURCE,
# so podman's default ulimits cannot be set: runc, and no default ulimits (README "Container image").
command -v podman >/dev/null || fail "podman is not installed (Debian packages podman, runc)"
printf '[containers]\ndefault_ulimits = []\n' >"$WORK/containers.conf"
export CONTAINERS_CONF="$WORK/containers.conf"
PODMAN=(podman --runtime runc)
bash packaging/image-rootfs.sh /usr/bin/s3-sse-proxy "$WORK/image"
"${PODMAN[@]}" build -q -f packaging/Containerfile -t localhost/s3-sse-proxy:packaging-test "$WORK/image" >/dev/null
size=$("${PODMAN[@]}" image inspect -f '{{.Size}}' localhost/s3-sse-proxy:packaging-test)
step "image: ${size} bytes"
test ! -e "$WORK/image/rootfs/bin/sh" || fail "the image has a shell"
mkdir -p "$WORK/cdata"
chown 65532:65532 "$WORK/cdata"
chmod 0700 "$WORK/cdata"
CPORT=$(port)
CMPORT=$(port)
CONTAINER=s3sp-packaging-$$
"${PODMAN[@]}" run -d --name "$CONTAINER" --read-only --network host -v "$WORK/cdata:/data" \
    -e S3_SSE_PROXY_LISTEN="127.0.0.1:$CPORT" -e S3_SSE_PROXY_METRICS_LISTEN="127.0.0.1:$CMPORT" \
    -e S3_SSE_PROXY_ACCESS_KEY_ID="$AK" -e S3_SSE_PROXY_SECRET_ACCESS_KEY="$SK" \
    localhost/s3-sse-proxy:packaging-test >/dev/null
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$CMPORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$CMPORT/readyz" >/dev/null || { "${PODMAN[@]}" logs "$CONTAINER"; fail "the container is not ready"; }
[[ "$(stat -c '%u' "$WORK/cdata/keyring.toml")" == 65532 ]] || fail "the container did not run as uid 65532"
roundtrip "https://127.0.0.1:$CPORT" "$WORK/cdata/tls/ca.pem" "$WORK/cdata" container
"${PODMAN[@]}" rm -f "$CONTAINER" >/dev/null
"${PODMAN[@]}" rmi -f localhost/s3-sse-proxy:packaging-test >/dev/null

step "dpkg -r"
dpkg -r s3-sse-proxy >/dev/null
[[ ! -e /usr/bin/s3-sse-proxy ]] || fail "/usr/bin/s3-sse-proxy left after dpkg -r"
[[ -e /etc/s3-sse-proxy/config.toml ]] || fail "dpkg -r removed the conffile (only a purge may)"
dpkg -P s3-sse-proxy >/dev/null
[[ ! -e /etc/s3-sse-proxy/config.toml ]] || fail "/etc/s3-sse-proxy/config.toml left after dpkg -P"
step "OK"
