#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: the floor (bench-floor), the floor with SigV4 (bench-floor
# --sigv4: verify the client's signature and body, sign again for the backend), the pass-through gateway and
# the SSE gateway (SSE-S3, SSE-C, SSE-KMS), 4 KiB PUT and GET at a small concurrency. One command:
#
#     bash bench/instructions.sh [SECONDS] [CONCURRENCY]        (defaults 10 and 4)
#
# Why: on this shared 2-core host, requests/s and even CPU seconds per request drift by 10-30 % between minutes.
# An instruction count does not: the same binary and load count the same within a fraction of a percent, whatever
# else runs. It is the before/after figure for per-request work (BENCHMARKS.md), not a speed: valgrind hides
# SHA-NI (sha2 and aws-lc fall back to software SHA-256, about 10x the instructions) and counts `rep movsb`
# copies per iteration, so hashing and large copies weigh more here than on the CPU.
#
# The backend runs natively; each server under test runs under callgrind with instrumentation off, switched on for
# its own cells only (bench-load --hook). Output: a markdown table of instructions per request, and the callgrind
# files (one per target and operation) in the scratch directory it names, for `callgrind_annotate`.
# BENCH_ONLY: a regex of the targets to count besides the floor (e.g. '^floor-sigv4$|^passthrough$').
# BENCH_BIN: another build of the gateway to count (e.g. a copy of main's, for a before/after).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/common.sh
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }

SECONDS_PER_CELL="${1:-10}"
CONC="${2:-4}"
THREADS=2
cargo build --release --bins >&2
BIN="${BENCH_BIN:-target/release/s3-sse-proxy}"
W="$(mktemp -d /tmp/s3sp-instr-XXXXXX)"
ROOT="$(mktemp -d /dev/shm/s3sp-instr-backend-XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$ROOT"
}
trap cleanup EXIT

BAK=BENCHBACKENDAKID0001 BSK=benchbackendsecretkey0000000000000000001
CAK=BENCHCLIENTAKID00001 CSK=benchclientsecretkey00000000000000000001
P_BACKEND=18111 P_PLAIN=18113 P_SSE=18114 P_FLOOR=18115 P_SIGV4=18116
bench_fs_backend $P_BACKEND "$ROOT" "$W/backend.log"

# The gateway and bench-floor re-execute themselves with this tunable on AMD CPUs (src/memcpy.rs): valgrind does not
# follow an exec, so the servers would run natively, uncounted. Set here, they run under callgrind as started.
export GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4294967295
VG=(valgrind --tool=callgrind --instr-atstart=no --dump-instr=no "--callgrind-out-file=$W/callgrind.%p")
mkdir -p "$W/floor"
bench_tls_cert "$W/floor"
TOKIO_WORKER_THREADS=$THREADS "${VG[@]}" target/release/bench-floor 127.0.0.1:$P_FLOOR \
    http://127.0.0.1:$P_BACKEND "$W/floor/cert.pem" "$W/floor/key.pem" >"$W/floor/log" 2>&1 &
PIDS+=($!)
echo $! >"$W/floor/pid"
TOKIO_WORKER_THREADS=$THREADS "${VG[@]}" target/release/bench-floor 127.0.0.1:$P_SIGV4 \
    http://127.0.0.1:$P_BACKEND "$W/floor/cert.pem" "$W/floor/key.pem" --sigv4 $CAK $CSK $BAK $BSK \
    >"$W/floor/sigv4.log" 2>&1 &
PIDS+=($!)
echo $! >"$W/floor/sigv4.pid"
# bench_gateway runs "$BIN": here, the gateway under callgrind.
GATEWAY="$BIN"
BIN="$W/under-callgrind"
printf '#!/bin/sh\nexec %s "$@"\n' "${VG[*]} $GATEWAY" >"$BIN"
chmod +x "$BIN"
bench_gateway "$W/plain" $P_PLAIN $P_BACKEND $BAK $BSK $CAK $CSK $'[sse]\nenabled = false'
bench_gateway "$W/sse" $P_SSE $P_BACKEND $BAK $BSK $CAK $CSK
# Under valgrind a gateway takes seconds to start.
for port in $P_BACKEND $P_FLOOR $P_SIGV4 $P_PLAIN $P_SSE; do
    for _ in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.2; done
done

# The hook: instrumentation on for a target's cell, then a dump named after the cell, and off again.
cat >"$W/hook" <<HOOK
#!/bin/sh
case "\$2" in floor) pid=\$(cat $W/floor/pid) ;; floor-sigv4) pid=\$(cat $W/floor/sigv4.pid) ;; passthrough) pid=\$(cat $W/plain/pid) ;; *) pid=\$(cat $W/sse/pid) ;; esac
if [ "\$1" = begin ]; then callgrind_control -z "\$pid" >/dev/null; exec callgrind_control -i on "\$pid" >/dev/null; fi
callgrind_control -d "\$2-\$3" "\$pid" >/dev/null
callgrind_control -i off "\$pid" >/dev/null
echo "\$2 \$3 \$4" >>$W/requests
HOOK
chmod +x "$W/hook"

H=https://127.0.0.1
TARGETS=()
for t in "floor,$H:$P_FLOOR,$BAK,$BSK,none,$W/floor/ca.pem" \
    "floor-sigv4,$H:$P_SIGV4,$CAK,$CSK,none,$W/floor/ca.pem" \
    "passthrough,$H:$P_PLAIN,$CAK,$CSK,none,$W/plain/tls/ca.pem" \
    "sse-s3,$H:$P_SSE,$CAK,$CSK,s3,$W/sse/tls/ca.pem" \
    "sse-c,$H:$P_SSE,$CAK,$CSK,c,$W/sse/tls/ca.pem" \
    "sse-kms,$H:$P_SSE,$CAK,$CSK,kms,$W/sse/tls/ca.pem"; do
    # BENCH_ONLY: a regex of the target names to count (the floor is always counted: the ratios are to it).
    if [[ "${t%%,*}" == floor || "${t%%,*}" =~ ${BENCH_ONLY:-.} ]]; then TARGETS+=(--target "$t"); fi
done
target/release/bench-load --sizes 4KiB --concurrency "$CONC" --seconds "$SECONDS_PER_CELL" --hook "$W/hook" \
    "${TARGETS[@]}" >"$W/bench-load.out"

# One callgrind part per cell: its trigger names the cell, its summary is the cell's instruction count.
python3 - "$W" <<'PY'
import glob, re, subprocess, sys
w = sys.argv[1]


def sha256_part(f):
    """The instructions spent in SHA-256's block functions (software under valgrind, SHA-NI on the CPU)."""
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", f], capture_output=True, text=True)
    total = 0
    for line in out.stdout.splitlines():
        m = re.match(r"\s*([\d,]+) \(", line)
        if m and re.search(r"sha2::sha256::|sha256_block_data_order", line):
            total += int(m.group(1).replace(",", ""))
    return total


requests = {}
for line in open(f"{w}/requests"):
    name, op, n = line.split()
    requests[(name, op)] = int(n)
counts = {}
for f in glob.glob(f"{w}/callgrind.*"):
    text = open(f, errors="replace").read()
    trigger = re.search(r"^desc: Trigger: dump (\S+)-(PUT|GET)$", text, re.M)
    # `totals`: the part's own count (valgrind 3.19's `summary` of a later part subtracts the one before).
    total = re.search(r"^totals: (\d+)$", text, re.M)
    if trigger and total:
        counts[(trigger.group(1), trigger.group(2))] = (int(total.group(1)), sha256_part(f))
names = ["floor", "floor-sigv4", "passthrough", "sse-s3", "sse-c", "sse-kms"]
print("| op | " + " | ".join(names) + " |")
print("|---|" + "---:|" * len(names))
for without_sha in [False, True]:
    for op in ["PUT", "GET"]:
        per = {}
        for n in names:
            if (n, op) in counts and requests.get((n, op)):
                all_, sha = counts[(n, op)]
                per[n] = (all_ - sha if without_sha else all_) / requests[(n, op)]
        base = per.get("floor")
        cells = [f"{per[n] / 1000:.1f}k ({per[n] / base:.2f}×)" if n in per and base else "-" for n in names]
        print(f"| {op}{' without SHA-256' if without_sha else ''} | " + " | ".join(cells) + " |")
print(f"\ninstructions per request (thousands; ratio to the floor); callgrind files in {w}")
PY
