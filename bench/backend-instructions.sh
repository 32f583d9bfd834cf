#!/usr/bin/env bash
# Instructions per 4 KiB request in the embedded backend itself (`fs-backend`, plain HTTP) under callgrind, PUT and
# GET at concurrency 1, 10 s each (bench/instructions.sh counts the gateway, with the backend native).
#
#     bash bench/backend-instructions.sh BINARY NAME
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=$1 NAME=$2
W=$(mktemp -d /tmp/bi-XXXXXX); ROOT=$(mktemp -d /dev/shm/bi-root-XXXXXX)
trap 'kill $P 2>/dev/null; wait 2>/dev/null; rm -rf $ROOT' EXIT
BAK=BENCHBACKENDAKID0001 BSK=benchbackendsecretkey0000000000000000001
# Without the tunable set, the binary re-executes itself with it on AMD CPUs (src/memcpy.rs), out of valgrind's sight.
export GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4294967295
valgrind --tool=callgrind --instr-atstart=no --dump-instr=no --callgrind-out-file=$W/cg.%p $BIN fs-backend --listen 127.0.0.1:18711 --root $ROOT --access-key $BAK --secret-key $BSK > $W/log 2>&1 &
P=$!
for _ in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/18711) 2>/dev/null && break; sleep 0.2; done
cat > $W/hook <<HOOK
#!/bin/sh
if [ "\$1" = begin ]; then callgrind_control -z $P >/dev/null; exec callgrind_control -i on $P >/dev/null; fi
callgrind_control -d "\$2-\$3" $P >/dev/null
callgrind_control -i off $P >/dev/null
echo "\$2 \$3 \$4" >> $W/requests
HOOK
chmod +x $W/hook
target/release/bench-load --sizes 4KiB --concurrency 1 --seconds 10 --hook $W/hook --target "$NAME,http://127.0.0.1:18711,$BAK,$BSK,none" > $W/load.out 2>&1
sleep 1
for f in $W/cg.*.*; do
  t=$(grep "^desc: Trigger: dump" $f | sed 's/.*dump //'); op=${t##*-}
  n=$(awk -v o=$op '$2==o{print $3}' $W/requests)
  tot=$(grep "^totals:" $f | awk '{print $2}')
  echo "$NAME $op $((tot/n)) instructions/request ($n requests)"
done
