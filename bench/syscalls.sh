#!/usr/bin/env bash
# System calls, page faults and CPU time per request: nginx as a TLS proxy, the floor (bench-floor), the
# pass-through gateway and the SSE-S3 gateway, on one fs-backend. One command:
#
#     bash bench/syscalls.sh [SIZE] [CONCURRENCY] [SECONDS]        (defaults 4KiB, 64 and 6)
#
# `strace -c` is attached to every thread of the server under test for its own cells only (bench-load --hook);
# /proc/PID/stat is read at the start and end of each cell. strace slows the traced server (and so the counts per
# second), not the counts per request. Needs strace (apt-get install strace) and nginx.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/common.sh
command -v strace >/dev/null || { echo "needs strace (apt-get install strace)" >&2; exit 2; }
SIZE=${1:-4KiB} CONC=${2:-64} SECS=${3:-6}
THREADS=2
cargo build --release --bins >&2
BIN="${BENCH_BIN:-target/release/s3-sse-proxy}"
W=$(mktemp -d /tmp/syscalls-XXXXXX) ROOT=$(mktemp -d /dev/shm/syscalls-backend-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W" "$ROOT"; }
trap cleanup EXIT
BAK=BENCHBACKENDAKID0001 BSK=benchbackendsecretkey0000000000000000001
CAK=BENCHCLIENTAKID00001 CSK=benchclientsecretkey00000000000000000001
P_BACKEND=18501 P_FLOOR=18502 P_NGINX=18503 P_PLAIN=18504 P_SSE=18505
bench_fs_backend $P_BACKEND "$ROOT" "$W/backend.log"
bench_nginx_proxy "$W/nginx" $P_NGINX $P_BACKEND "$THREADS"
bench_floor $P_FLOOR $P_BACKEND "$W/nginx" "$W/floor.log"
echo $! >"$W/floor.pid"
bench_gateway "$W/plain" $P_PLAIN $P_BACKEND $BAK $BSK $CAK $CSK $'[sse]\nenabled = false'
bench_gateway "$W/sse" $P_SSE $P_BACKEND $BAK $BSK $CAK $CSK
bench_wait_for_ports $P_BACKEND $P_FLOOR $P_PLAIN $P_SSE $P_NGINX
sleep 0.5

# The hook: strace on for a target's cell (every thread of its processes: nginx's workers), /proc read around it.
cat >"$W/hook" <<HOOK
#!/usr/bin/env bash
case "\$2" in
    nginx) pids=\$(pgrep -P "\$(cat $W/nginx/nginx.pid)" | tr '\n' ' ') ;;
    floor) pids=\$(cat $W/floor.pid) ;;
    passthrough) pids=\$(cat $W/plain/pid) ;;
    *) pids=\$(cat $W/sse/pid) ;;
esac
stat=0
for p in \$pids; do stat="\$stat \$(awk '{ print \$10 + 0, \$14 + \$15 }' /proc/\$p/stat)"; done
echo "\$1 \$2 \$3 \${4:-0} \$(echo \$stat | awk '{ f = 0; t = 0; for (i = 2; i <= NF; i += 2) { f += \$i; t += \$(i + 1) } print f, t }')" >>$W/stat
if [ "\$1" = begin ]; then
    args=""
    for p in \$pids; do for t in /proc/\$p/task/*; do args="\$args -p \${t##*/}"; done; done
    (setsid strace -c -o "$W/\$2-\$3.strace" \$args >/dev/null 2>&1 & echo \$! >$W/strace.pid)
    sleep 1
else
    kill -INT "\$(cat $W/strace.pid)"
    sleep 1
fi
HOOK
chmod +x "$W/hook"
H=https://127.0.0.1
target/release/bench-load --sizes "$SIZE" --concurrency "$CONC" --seconds "$SECS" --max-gib 1 --hook "$W/hook" \
    --target "nginx,$H:$P_NGINX,$BAK,$BSK,none,$W/nginx/ca.pem" \
    --target "floor,$H:$P_FLOOR,$BAK,$BSK,none,$W/nginx/ca.pem" \
    --target "passthrough,$H:$P_PLAIN,$CAK,$CSK,none,$W/plain/tls/ca.pem" \
    --target "sse-s3,$H:$P_SSE,$CAK,$CSK,s3,$W/sse/tls/ca.pem" >"$W/load.out"
python3 - "$W" "$(getconf CLK_TCK)" <<'PY'
import re, sys
w, ticks = sys.argv[1], int(sys.argv[2])
begin, rows = {}, []
for line in open(f"{w}/stat"):
    event, target, op, n, faults, cpu = line.split()
    if event == "begin":
        begin[(target, op)] = (int(faults), int(cpu))
        continue
    n = int(n)
    f0, c0 = begin[(target, op)]
    calls = {}
    for l in open(f"{w}/{target}-{op}.strace"):
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", l.rstrip())
        if m and m.group(2) != "total":
            calls[m.group(2)] = int(m.group(1)) / n
    top = ", ".join(f"{k} {v:.2f}" for k, v in sorted(calls.items(), key=lambda kv: -kv[1]) if v >= 0.05)
    rows.append((op, target, n, sum(calls.values()), top, (int(faults) - f0) / n, (int(cpu) - c0) * 1e6 / ticks / n))
print("| op | target | requests | system calls/request | the most frequent | page faults/request | CPU µs/request (traced) |")
print("|---|---|---:|---:|---|---:|---:|")
for op, target, n, total, top, faults, cpu in rows:
    print(f"| {op} | {target} | {n} | {total:.2f} | {top} | {faults:.2f} | {cpu:.0f} |")
PY
