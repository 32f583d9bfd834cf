#!/usr/bin/env bash
# User and system CPU time and context switches per request, 4 KiB at concurrency 64: the floor (bench-floor), the
# floor with SigV4 (bench-floor --sigv4) and the pass-through gateway, on one fs-backend. One command:
#
#     bash bench/cpu-split.sh [ROUNDS] [SECONDS]        (defaults 2 and 4)
#
# bench-load's CPU figure is user + system of the serving process; this splits it (from /proc/PID/stat and the
# threads' context-switch counts, read by bench-load's --hook at the start and end of each target's cell), to say
# whether what the gateway adds is its own work (user time) or the kernel's (system calls, wake-ups).
# BENCH_BIN: the gateway binary to measure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/common.sh
ROUNDS=${1:-2} SECS=${2:-4}
THREADS=2
cargo build --release --bins >&2
BIN="${BENCH_BIN:-target/release/s3-sse-proxy}"
W=$(mktemp -d /tmp/cpu-split-XXXXXX) ROOT=$(mktemp -d /dev/shm/cpu-split-backend-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W" "$ROOT"; }
trap cleanup EXIT
BAK=BENCHBACKENDAKID0001 BSK=benchbackendsecretkey0000000000000000001
CAK=BENCHCLIENTAKID00001 CSK=benchclientsecretkey00000000000000000001
P_BACKEND=18401 P_FLOOR=18402 P_SIGV4=18403 P_PLAIN=18404
bench_fs_backend $P_BACKEND "$ROOT" "$W/backend.log"
mkdir -p "$W/floor"
bench_tls_cert "$W/floor"
bench_floor $P_FLOOR $P_BACKEND "$W/floor" "$W/floor.log"
echo $! >"$W/floor/pid"
bench_floor $P_SIGV4 $P_BACKEND "$W/floor" "$W/floor-sigv4.log" --sigv4 $CAK $CSK $BAK $BSK
echo $! >"$W/floor/sigv4.pid"
bench_gateway "$W/plain" $P_PLAIN $P_BACKEND $BAK $BSK $CAK $CSK $'[sse]\nenabled = false'
bench_wait_for_ports $P_BACKEND $P_FLOOR $P_SIGV4 $P_PLAIN
sleep 0.5

# The hook: one line per cell's start and end, with the process's user and system ticks and context switches.
cat >"$W/hook" <<HOOK
#!/usr/bin/env bash
case "\$2" in floor) pid=\$(cat $W/floor/pid) ;; floor-sigv4) pid=\$(cat $W/floor/sigv4.pid) ;; *) pid=\$(cat $W/plain/pid) ;; esac
cs=0
for t in /proc/\$pid/task/*/status; do cs=\$((cs + \$(awk '/ctxt_switches/ { s += \$2 } END { print s }' "\$t"))); done
echo "\$1 \$2 \$3 \${4:-0} \$(awk '{ print \$14, \$15 }' /proc/\$pid/stat) \$cs" >>$W/snaps
HOOK
chmod +x "$W/hook"
H=https://127.0.0.1
target/release/bench-load --sizes 4KiB --concurrency 64 --seconds "$SECS" --rounds "$ROUNDS" --hook "$W/hook" \
    --target "floor,$H:$P_FLOOR,$BAK,$BSK,none,$W/floor/ca.pem" \
    --target "floor-sigv4,$H:$P_SIGV4,$CAK,$CSK,none,$W/floor/ca.pem" \
    --target "passthrough,$H:$P_PLAIN,$CAK,$CSK,none,$W/plain/tls/ca.pem" >"$W/load.out"
python3 - "$W/snaps" "$(getconf CLK_TCK)" <<'PY'
import sys
ticks = int(sys.argv[2])
begin, rows = {}, []
for line in open(sys.argv[1]):
    event, target, op, n, user, system, switches = line.split()
    n, user, system, switches = int(n), int(user), int(system), int(switches)
    if event == "begin":
        begin[(target, op)] = (user, system, switches)
    elif n:
        u0, s0, c0 = begin[(target, op)]
        rows.append((op, target, (user - u0) * 1e6 / ticks / n, (system - s0) * 1e6 / ticks / n, (switches - c0) / n))
print("| op | target | user µs/request | system µs/request | context switches/request |")
print("|---|---|---:|---:|---:|")
for op, target, u, s, c in sorted(rows, key=lambda r: (r[0] != "PUT", r[1])):
    print(f"| {op} | {target} | {u:.1f} | {s:.1f} | {c:.2f} |")
PY
