#!/usr/bin/env bash
# The quick-start benchmark of BENCHMARKS.md ("Quick start against nginx serving files"), one command:
#
#     bash bench/quickstart.sh          # 256 MiB and 1 GiB, medians of 3
#     BENCH_QUICK=1 bash bench/quickstart.sh    # 16 MiB, one round: a smoke of the harness (seconds)
#
# curl over TLS (HTTP/1.1, as boto3 and aws-cli speak it; BENCH_HTTP2=1: curl's choice), one transfer at a time,
# interleaved in every round:
#   - nginx serving the file as a static file (GET) and accepting it with WebDAV (`dav_methods PUT`);
#   - the quick-start gateway (`s3-sse-proxy --data-dir DIR`: embedded backend, in-process), with SSE-S3, SSE-C
#     and SSE-KMS request headers, signed by curl (`--aws-sigv4`, UNSIGNED-PAYLOAD);
#   - the same gateway with 1 worker thread (SSE-S3), for the 1-against-2 threads figure;
#   - with BENCH_VS=path/to/other/s3-sse-proxy: that binary's quick start too (SSE-S3, SSE-C, SSE-KMS, columns
#     `vs …`), interleaved in the same rounds, for a before/after comparison of two builds;
#   - with BENCH_LOOPBACK=1 instead: the columns `vs …` are this binary's gateway in front of its embedded backend
#     over a loopback socket (`fs-backend`, a process of its own with as many workers), as the quick start was
#     before it called the backend in process.
# Every file and data directory is on tmpfs (/dev/shm) so that no disk decides. nginx and the gateway get
# TOKIO_WORKER_THREADS (default 2) workers. Prints a markdown table: MB/s (median) and the ratio to nginx.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/common.sh

THREADS="${TOKIO_WORKER_THREADS:-2}"
unset TOKIO_WORKER_THREADS
if [[ -n "${BENCH_QUICK:-}" ]]; then SIZES=(16MiB) ROUNDS=1; else SIZES=(256MiB 1GiB) ROUNDS=3; fi
[[ -z "${BENCH_SIZES:-}" ]] || IFS=, read -r -a SIZES <<<"$BENCH_SIZES"
ROUNDS="${BENCH_ROUNDS:-$ROUNDS}"
cargo build --release --bin s3-sse-proxy >&2
BIN="${BENCH_BIN:-target/release/s3-sse-proxy}"
W="$(mktemp -d /dev/shm/s3sp-quick-XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ -n "${BENCH_KEEP:-}" ]]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT

AK=QUICKBENCHAKID000001 SK=quickbenchsecretkey00000000000000000001
P_NGINX=18121 P_GW=18122 P_GW1=18123 P_VS=18124

mkdir -p "$W/nginx/logs" "$W/nginx/root/up" "$W/nginx/body"
# nginx's workers may run as another user (www-data when started as root): they read and write these.
chmod 755 "$W" "$W/nginx" "$W/nginx/root"
chmod 777 "$W/nginx/root/up" "$W/nginx/body"
bench_tls_cert "$W/nginx"
# Static files for GET, WebDAV PUT under /up/ (the body goes to a temporary file on the same tmpfs, then is
# renamed into place, as nginx does), TLS 1.3, sendfile off (TLS needs the bytes in user space anyway).
{ bench_nginx_conf_head "$W/nginx" "$THREADS" 1024; cat <<CONF; } >"$W/nginx/nginx.conf"
    server {
        listen 127.0.0.1:$P_NGINX ssl;
        ssl_certificate $W/nginx/cert.pem;
        ssl_certificate_key $W/nginx/key.pem;
        ssl_protocols TLSv1.3;
        root $W/nginx/root;
        output_buffers 2 256k;
        client_body_buffer_size 256k;
        location /up/ { dav_methods PUT; create_full_put_path on; }
    }
}
CONF
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" &
PIDS+=($!)

quickstart() { # port threads [binary]
    mkdir -p "$W/gw-$1"
    TOKIO_WORKER_THREADS=$2 S3_SSE_PROXY_LOG=warn S3_SSE_PROXY_ACCESS_KEY_ID=$AK S3_SSE_PROXY_SECRET_ACCESS_KEY=$SK \
        "${3:-$BIN}" --data-dir "$W/gw-$1" --listen "127.0.0.1:$1" --metrics-listen 127.0.0.1:0 >"$W/gw-$1/log" 2>&1 &
    PIDS+=($!)
}
quickstart $P_GW "$THREADS"
quickstart $P_GW1 1
GWS=($P_GW $P_GW1)
loopback() { # port: fs-backend on port+1, and a gateway with the quick start's settings in front of it
    local b=$(($1 + 1))
    mkdir -p "$W/gw-$1" "$W/fs-$1"
    TOKIO_WORKER_THREADS=$THREADS "$BIN" fs-backend --listen "127.0.0.1:$b" --root "$W/fs-$1" \
        --access-key LOOPBACKAKID00000001 --secret-key loopbacksecretkey000000000000000000001 >"$W/fs-$1.log" 2>&1 &
    PIDS+=($!)
    bench_gateway "$W/gw-$1" "$1" $b LOOPBACKAKID00000001 loopbacksecretkey000000000000000000001 "$AK" "$SK"
}
if [[ -n "${BENCH_VS:-}" ]]; then
    quickstart $P_VS "$THREADS" "$BENCH_VS"
    GWS+=($P_VS)
elif [[ -n "${BENCH_LOOPBACK:-}" ]]; then
    loopback $P_VS
    GWS+=($P_VS)
fi
bench_wait_for_ports $P_NGINX "${GWS[@]}"
sleep 0.5

bytes() { numfmt --from=iec-i "${1%B}"; }
S3=(--aws-sigv4 aws:amz:us-east-1:s3 --user "$AK:$SK" -H x-amz-content-sha256:UNSIGNED-PAYLOAD)
SSEC_KEY=$(head -c 32 /dev/urandom | base64)
SSEC_MD5=$(printf %s "$SSEC_KEY" | base64 -d | openssl md5 -binary | base64)
SSEC=(-H "x-amz-server-side-encryption-customer-algorithm: AES256"
    -H "x-amz-server-side-encryption-customer-key: $SSEC_KEY" -H "x-amz-server-side-encryption-customer-key-md5: $SSEC_MD5")
for port in "${GWS[@]}"; do
    curl -sS --fail --cacert "$W/gw-$port/tls/ca.pem" "${S3[@]}" -X PUT -H 'content-length: 0' \
        "https://127.0.0.1:$port/bench" -o /dev/null
done

# HTTP/1.1 to every target, as boto3, aws-cli and s3cmd speak it (nginx here offers nothing else; the gateway also
# offers HTTP/2, which curl would pick): BENCH_HTTP2=1 lets curl choose instead.
if [[ -n "${BENCH_HTTP2:-}" ]]; then HTTP=(); else HTTP=(--http1.1); fi
# One transfer: prints the seconds it took; fails the run on any HTTP error.
transfer() { # target op size-name
    local t=$1 op=$2 f="$W/src-$3" url args=(-sS --fail -o /dev/null -w '%{time_total}' "${HTTP[@]}")
    case $t in
        nginx) args+=(--cacert "$W/nginx/ca.pem"); url="https://127.0.0.1:$P_NGINX" ;;
        *-1thread) args+=(--cacert "$W/gw-$P_GW1/tls/ca.pem" "${S3[@]}"); url="https://127.0.0.1:$P_GW1/bench" ;;
        vs-*) args+=(--cacert "$W/gw-$P_VS/tls/ca.pem" "${S3[@]}"); url="https://127.0.0.1:$P_VS/bench" ;;
        *) args+=(--cacert "$W/gw-$P_GW/tls/ca.pem" "${S3[@]}"); url="https://127.0.0.1:$P_GW/bench" ;;
    esac
    case ${t#vs-} in
        sse-s3*) [[ $op == GET ]] || args+=(-H "x-amz-server-side-encryption: AES256") ;;
        sse-kms) [[ $op == GET ]] || args+=(-H "x-amz-server-side-encryption: aws:kms") ;;
        sse-c) args+=("${SSEC[@]}") ;;
    esac
    if [[ $op == PUT ]]; then
        [[ $t == nginx ]] && url+=/up
        curl "${args[@]}" -T "$f" "$url/$t-$3"
    else
        [[ $t == nginx ]] && url+=/up
        curl "${args[@]}" "$url/$t-$3"
    fi
}

TARGETS=(nginx sse-s3 sse-c sse-kms sse-s3-1thread)
[[ -z "${BENCH_VS:-}${BENCH_LOOPBACK:-}" ]] || TARGETS+=(vs-sse-s3 vs-sse-c vs-sse-kms)
declare -A MBPS
for size in "${SIZES[@]}"; do
    head -c "$(bytes "$size")" /dev/urandom >"$W/src-$size"
    for op in PUT GET; do
        for t in "${TARGETS[@]}"; do MBPS[$op,$size,$t]=""; done
        for _ in $(seq "$ROUNDS"); do
            for t in "${TARGETS[@]}"; do
                s=$(transfer "$t" "$op" "$size")
                MBPS[$op,$size,$t]+="$(awk -v b="$(bytes "$size")" -v s="$s" 'BEGIN { printf "%.1f ", b / s / 1e6 }')"
                echo "$op $size $t $s s" >&2
            done
        done
    done
    rm -f "$W/src-$size" "$W/nginx/root/up/"*-"$size"
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
header="| op | size | nginx MB/s | sse-s3 | sse-c | sse-kms | sse-s3, 1 thread |"
rule="|---|---|---:|---:|---:|---:|---:|"
[[ -z "${BENCH_VS:-}${BENCH_LOOPBACK:-}" ]] || { header+=" vs sse-s3 | vs sse-c | vs sse-kms |"; rule+="---:|---:|---:|"; }
echo "$header"
echo "$rule"
for size in "${SIZES[@]}"; do
    for op in PUT GET; do
        base=$(median "${MBPS[$op,$size,nginx]}")
        row="| $op | $size | $base"
        for t in "${TARGETS[@]:1}"; do
            m=$(median "${MBPS[$op,$size,$t]}")
            row+=" | $m **$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.2f", a / b }')×**"
        done
        echo "$row |"
    done
done
echo "(medians of $ROUNDS; gateways and nginx with $THREADS workers unless marked; rounds interleaved)"
