#!/usr/bin/env bash
# The side-by-side end-to-end benchmark of BENCHMARKS.md ("End to end"), one command:
#
#     bash bench/e2e.sh [bench-load flags...]     e.g. --sizes 4KiB,1MiB --concurrency 1,16 --seconds 3
#
# Starts on 127.0.0.1, in a scratch directory:
#   - the fs-backend (s3s-fs, plain HTTP, SigV4-verifying), its data on tmpfs (/dev/shm) unless
#     BENCH_BACKEND_ROOT is set, so that the backend's disk does not dominate;
#   - nginx (Debian package) as a plain TLS reverse proxy to it: what a user runs without encryption;
#   - bench-floor (src/bin/bench-floor.rs): a TLS reverse proxy made of the gateway's own parts (tokio, rustls,
#     hyper) that only forwards: the floor under the gateway's per-request cost; and again with `--sigv4`
#     (`floor-sigv4`): the floor plus what no S3 gateway can leave out, the client's SigV4 and body verified and the
#     request signed again, with the gateway's own code;
#   - two gateways: one with `[sse] enabled = false` (pass-through: TLS, SigV4 verify, re-sign) and one with SSE,
#     used with SSE-S3, SSE-C and SSE-KMS (local KMS) request headers;
# then runs `bench-load` against all eight, interleaved, with nginx as the baseline, and prints the gateways' peak
# RSS (VmHWM). Gateways run TOKIO_WORKER_THREADS (default 2) worker threads; nginx runs as many workers.
# BENCH_ONLY=REGEX keeps only the targets whose name matches. Then bench/quickstart.sh (curl against the
# quick-start gateway and nginx serving files) unless BENCH_QUICKSTART=0. BENCH_QUICK=1: a short smoke of both.
# Results: the markdown table on stdout, one JSON line per cell in $BENCH_OUT (default target/tmp/bench-e2e.jsonl).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/common.sh

THREADS="${TOKIO_WORKER_THREADS:-2}"
# Only the gateways (and nginx) get $THREADS; the backend and the load generator keep tokio's default.
unset TOKIO_WORKER_THREADS
OUT="${BENCH_OUT:-target/tmp/bench-e2e.jsonl}"
mkdir -p "$(dirname "$OUT")"
cargo build --release --bins >&2
# BENCH_BIN: another build of the gateway to measure (e.g. a copy of main's, for a before/after); bench-load is this tree's.
BIN="${BENCH_BIN:-target/release/s3-sse-proxy}"
W="$(mktemp -d /tmp/s3sp-bench-XXXXXX)"
ROOT="${BENCH_BACKEND_ROOT:-$(mktemp -d /dev/shm/s3sp-bench-backend-XXXXXX)}"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    # BENCH_KEEP=1 keeps the scratch directory (gateway and nginx logs, configs).
    if [[ -n "${BENCH_KEEP:-}" ]]; then echo "kept $W" >&2; else rm -rf "$W"; fi
    [[ -n "${BENCH_BACKEND_ROOT:-}" ]] || rm -rf "$ROOT"
}
trap cleanup EXIT

BAK=BENCHBACKENDAKID0001 BSK=benchbackendsecretkey0000000000000000001
CAK=BENCHCLIENTAKID00001 CSK=benchclientsecretkey00000000000000000001
P_BACKEND=18101 P_NGINX=18102 P_PLAIN=18103 P_SSE=18104 P_FLOOR=18105 P_FLOOR_SIGV4=18106

bench_fs_backend $P_BACKEND "$ROOT" "$W/backend.log"

# nginx: the TLS proxy baseline (bench/common.sh).
bench_nginx_proxy "$W/nginx" $P_NGINX $P_BACKEND "$THREADS"

# The floor: nginx's certificate, $THREADS worker threads.
bench_floor $P_FLOOR $P_BACKEND "$W/nginx" "$W/floor.log"
FLOOR_PID=$!
bench_floor $P_FLOOR_SIGV4 $P_BACKEND "$W/nginx" "$W/floor-sigv4.log" --sigv4 $CAK $CSK $BAK $BSK
FLOOR_SIGV4_PID=$!

bench_gateway "$W/plain" $P_PLAIN $P_BACKEND $BAK $BSK $CAK $CSK $'[sse]\nenabled = false'
bench_gateway "$W/sse" $P_SSE $P_BACKEND $BAK $BSK $CAK $CSK

bench_wait_for_ports $P_BACKEND $P_NGINX $P_PLAIN $P_SSE $P_FLOOR $P_FLOOR_SIGV4
sleep 0.5

H=https://127.0.0.1
TARGETS=(
    "direct,http://127.0.0.1:$P_BACKEND,$BAK,$BSK,none"
    "nginx,$H:$P_NGINX,$BAK,$BSK,none,$W/nginx/ca.pem"
    "floor,$H:$P_FLOOR,$BAK,$BSK,none,$W/nginx/ca.pem"
    "floor-sigv4,$H:$P_FLOOR_SIGV4,$CAK,$CSK,none,$W/nginx/ca.pem"
    "passthrough,$H:$P_PLAIN,$CAK,$CSK,none,$W/plain/tls/ca.pem"
    "sse-s3,$H:$P_SSE,$CAK,$CSK,s3,$W/sse/tls/ca.pem"
    "sse-c,$H:$P_SSE,$CAK,$CSK,c,$W/sse/tls/ca.pem"
    "sse-kms,$H:$P_SSE,$CAK,$CSK,kms,$W/sse/tls/ca.pem"
)
ARGS=()
for t in "${TARGETS[@]}"; do
    # BENCH_ONLY: a regex of target names to run (e.g. '^sse-s3$' for the memory run); all by default.
    [[ "${t%%,*}" =~ ${BENCH_ONLY:-.} ]] && ARGS+=(--target "$t")
done
# The processes serving each target, for bench-load's CPU-per-GiB figures.
NGINX_PIDS=$(cat "$W/nginx/nginx.pid" 2>/dev/null || true)
[[ -z "$NGINX_PIDS" ]] || NGINX_PIDS=$(echo "$NGINX_PIDS" $(pgrep -P "$NGINX_PIDS") | tr ' ' '+')
CPU=(--cpu "direct=${PIDS[0]}" --cpu "floor=$FLOOR_PID" --cpu "floor-sigv4=$FLOOR_SIGV4_PID" --cpu "passthrough=$(cat "$W/plain/pid")")
[[ -z "$NGINX_PIDS" ]] || CPU+=(--cpu "nginx=$NGINX_PIDS")
for t in sse-s3 sse-c sse-kms; do CPU+=(--cpu "$t=$(cat "$W/sse/pid")"); done
# BENCH_QUICK=1 without flags: a short smoke of the harness (seconds, not minutes).
LOAD=("$@")
if [[ ${#LOAD[@]} -eq 0 && -n "${BENCH_QUICK:-}" ]]; then
    LOAD=(--sizes 4KiB,1MiB --concurrency 1,4 --seconds 1 --max-gib 1)
fi
"target/release/bench-load" --baseline nginx --json "$OUT" "${CPU[@]}" "${ARGS[@]}" "${LOAD[@]}"

# Peak memory, and the CPU time each gateway used (user + system; robust to other load on the machine, unlike
# throughput: divide by the bytes moved through it for CPU per GiB).
TICKS=$(getconf CLK_TCK)
for g in plain sse; do
    pid=$(cat "$W/$g/pid")
    cpu=$(awk -v t="$TICKS" '{ printf "%.2f", ($14 + $15) / t }' /proc/"$pid"/stat)
    echo "gateway $g: $(grep -E 'VmHWM|VmRSS' /proc/"$pid"/status | tr -s ' \n' ' ')cpu ${cpu} s"
done

# Then the quick-start cells against nginx serving files (static GET, WebDAV PUT), with curl: BENCH_QUICKSTART=0
# skips them; BENCH_QUICK=1 makes them a 16 MiB smoke too.
[[ "${BENCH_QUICKSTART:-1}" == 0 ]] || TOKIO_WORKER_THREADS=$THREADS bash bench/quickstart.sh
