#!/bin/bash
# PUT of 256 MiB with curl, straight into `fs-backend` and through the quick start, for two builds side by side.
# usage: bench/embedded_put.sh BIN_BEFORE BIN_AFTER ROUNDS   (BENCHMARKS.md, "Embedded backend PUT without the MD5")
set -u
[ -f /tmp/f256 ] || head -c $((256<<20)) /dev/urandom > /tmp/f256
run_direct() { # bin port
  local bin=$1 port=$2 root; root=$(mktemp -d /tmp/pb.XXXX)
  $bin fs-backend --listen 127.0.0.1:$port --root "$root" --access-key BENCHAK --secret-key BENCHSK >/dev/null 2>&1 &
  local pid=$!; sleep 1
  S=(curl -sS --fail --aws-sigv4 "aws:amz:us-east-1:s3" --user BENCHAK:BENCHSK -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -H "x-amz-meta-s3sp: bench")
  "${S[@]}" -X PUT http://127.0.0.1:$port/bench >/dev/null
  c0=$(awk '{print $14+$15}' /proc/$pid/stat)
  t=$("${S[@]}" -T /tmp/f256 http://127.0.0.1:$port/bench/obj -o /dev/null -w "%{time_total}")
  c1=$(awk '{print $14+$15}' /proc/$pid/stat)
  echo "direct $(basename $bin) $(python3 -c "print(round(256*1.048576/$t))") MB/s cpu_ticks=$((c1-c0))"
  kill $pid; wait $pid 2>/dev/null; rm -rf "$root"
}
run_gw() { # bin port
  local bin=$1 port=$2 d; d=$(mktemp -d /tmp/pg.XXXX)
  S3_SSE_PROXY_ACCESS_KEY_ID=BENCHAK S3_SSE_PROXY_SECRET_ACCESS_KEY=BENCHSECRETBENCHSECRET $bin --data-dir $d --listen 127.0.0.1:$port --metrics-listen 127.0.0.1:$((port+1)) >$d/log 2>&1 &
  local pid=$!
  for i in $(seq 50); do [ -f $d/tls/ca.pem ] && curl -s http://127.0.0.1:$((port+1))/readyz >/dev/null && break; sleep 0.2; done
  S=(curl -sS --fail --cacert $d/tls/ca.pem --aws-sigv4 "aws:amz:us-east-1:s3" --user BENCHAK:BENCHSECRETBENCHSECRET -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
  "${S[@]}" -X PUT --data-binary "" -H "Content-Type:" https://127.0.0.1:$port/bench >/dev/null
  c0=$(awk '{print $14+$15}' /proc/$pid/stat)
  t=$("${S[@]}" -T /tmp/f256 https://127.0.0.1:$port/bench/obj -o /dev/null -w "%{time_total}")
  c1=$(awk '{print $14+$15}' /proc/$pid/stat)
  "${S[@]}" https://127.0.0.1:$port/bench/obj -o /tmp/pg.out
  cmp -s /tmp/pg.out /tmp/f256 || echo "MISMATCH"
  echo "gateway $(basename $bin) $(python3 -c "print(round(256*1.048576/$t))") MB/s cpu_ticks=$((c1-c0))"
  kill $pid; wait $pid 2>/dev/null; rm -rf "$d" /tmp/pg.out
}
for r in $(seq $3); do
  run_direct $1 18014; run_direct $2 18016
  run_gw $1 18443; run_gw $2 18453
done
