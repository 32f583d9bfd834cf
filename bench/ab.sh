#!/usr/bin/env bash
# A/B on the CPU: two gateway binaries (each with SSE off and on) in front of one fs-backend, 4 KiB at concurrency
# 64, interleaved rounds; bench-load prints requests/s, latency and CPU seconds per GiB of each (its --cpu).
#
#     bash bench/ab.sh BIN_A BIN_B [ROUNDS] [SECONDS]        (defaults 5 and 3)
#
# For changes of a few percent the rounds' spread on this shared host is larger than the effect; the instruction
# count (bench/instructions.sh with BENCH_BIN) resolves smaller ones.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/common.sh
A=$1 B=$2 ROUNDS=${3:-5} SECS=${4:-3}
THREADS=2
W=$(mktemp -d /tmp/ab-XXXXXX); ROOT=$(mktemp -d /dev/shm/ab-backend-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W" "$ROOT"; }
trap cleanup EXIT
BAK=BENCHBACKENDAKID0001 BSK=benchbackendsecretkey0000000000000000001
CAK=BENCHCLIENTAKID00001 CSK=benchclientsecretkey00000000000000000001
target/release/s3-sse-proxy fs-backend --listen 127.0.0.1:18301 --root "$ROOT" --access-key $BAK --secret-key $BSK >"$W/backend.log" 2>&1 &
PIDS+=($!)
BIN=$A bench_gateway "$W/a-pt" 18302 18301 $BAK $BSK $CAK $CSK $'[sse]\nenabled = false'
BIN=$A bench_gateway "$W/a-sse" 18303 18301 $BAK $BSK $CAK $CSK
BIN=$B bench_gateway "$W/b-pt" 18304 18301 $BAK $BSK $CAK $CSK $'[sse]\nenabled = false'
BIN=$B bench_gateway "$W/b-sse" 18305 18301 $BAK $BSK $CAK $CSK
bench_wait_for_ports 18301 18302 18303 18304 18305
sleep 0.5
H=https://127.0.0.1
target/release/bench-load --sizes 4KiB --concurrency 64 --seconds $SECS --rounds $ROUNDS --baseline a-pt \
  --target "a-pt,$H:18302,$CAK,$CSK,none,$W/a-pt/tls/ca.pem" --cpu "a-pt=$(cat $W/a-pt/pid)" \
  --target "b-pt,$H:18304,$CAK,$CSK,none,$W/b-pt/tls/ca.pem" --cpu "b-pt=$(cat $W/b-pt/pid)" \
  --target "a-s3,$H:18303,$CAK,$CSK,s3,$W/a-sse/tls/ca.pem" --cpu "a-s3=$(cat $W/a-sse/pid)" \
  --target "b-s3,$H:18305,$CAK,$CSK,s3,$W/b-sse/tls/ca.pem" --cpu "b-s3=$(cat $W/b-sse/pid)"
