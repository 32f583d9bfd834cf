# Sourced by the bench scripts (e2e.sh, quickstart.sh): what their nginx baselines and process start-up share.

# A throwaway CA and a certificate for 127.0.0.1 signed by it: DIR/ca.pem, DIR/cert.pem, DIR/key.pem.
bench_tls_cert() { # DIR
    local d=$1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
        -keyout "$d/ca-key.pem" -out "$d/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
        -keyout "$d/key.pem" -out "$d/cert.csr" 2>/dev/null
    openssl x509 -req -in "$d/cert.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
        -days 2 -extfile <(printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n') \
        -out "$d/cert.pem" 2>/dev/null
}

# The head of an nginx.conf whose files all live under DIR (logs, pid, temp paths), up to the open `http {`.
bench_nginx_conf_head() { # DIR WORKERS CONNECTIONS
    cat <<CONF
daemon off;
worker_processes $2;
error_log $1/logs/error.log warn;
pid $1/nginx.pid;
events { worker_connections $3; }
http {
    access_log off;
    client_max_body_size 0;
    client_body_temp_path $1/body; proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fcgi; uwsgi_temp_path $1/uwsgi; scgi_temp_path $1/scgi;
CONF
}

# nginx as a TLS reverse proxy to an S3 backend, the baseline bench/e2e.sh and bench/syscalls.sh measure against:
# TLS 1.3 with its own throwaway certificate (DIR/ca.pem), HTTP/1.1 keep-alive upstream, no buffering either way.
# Started in the background from DIR (DIR/nginx.pid); its pid is added to PIDS.
bench_nginx_proxy() { # DIR PORT BACKEND_PORT WORKERS
    mkdir -p "$1/logs"
    bench_tls_cert "$1"
    { bench_nginx_conf_head "$1" "$4" 4096; cat <<CONF; } >"$1/nginx.conf"
    upstream backend { server 127.0.0.1:$3; keepalive 128; }
    server {
        listen 127.0.0.1:$2 ssl;
        ssl_certificate $1/cert.pem;
        ssl_certificate_key $1/key.pem;
        ssl_protocols TLSv1.3;
        keepalive_requests 100000;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$http_host;
            # Streaming both ways, as the gateway does, with room to read and write in large chunks: with
            # proxy_buffering off, nginx forwards a response a page (4 KiB) at a time; buffering in memory
            # only (no temp files) keeps it a streaming proxy with backpressure.
            proxy_request_buffering off;
            client_body_buffer_size 256k;
            proxy_buffering on;
            proxy_buffer_size 64k;
            proxy_buffers 16 64k;
            proxy_busy_buffers_size 256k;
            proxy_max_temp_file_size 0;
        }
    }
}
CONF
    nginx -p "$1" -c "$1/nginx.conf" &
    PIDS+=($!)
}

# The embedded backend (`fs-backend`, plain HTTP) of $BIN on 127.0.0.1:PORT with the benchmarks' backend
# credentials ($BAK, $BSK), in the background; its pid is added to PIDS (and is `$!`).
bench_fs_backend() { # PORT ROOT LOG
    "$BIN" fs-backend --listen "127.0.0.1:$1" --root "$2" --access-key "$BAK" --secret-key "$BSK" >"$3" 2>&1 &
    PIDS+=($!)
}

# The floor (bench-floor: tokio, rustls, hyper, forwarding only) on 127.0.0.1:PORT in front of the backend, with
# CERT_DIR's certificate and $THREADS worker threads, in the background; extra arguments (`--sigv4 ...`) go to it.
# Its pid is added to PIDS (and is `$!`).
bench_floor() { # PORT BACKEND_PORT CERT_DIR LOG [ARG...]
    local port=$1 backend=$2 certs=$3 log=$4
    shift 4
    TOKIO_WORKER_THREADS=$THREADS target/release/bench-floor "127.0.0.1:$port" "http://127.0.0.1:$backend" \
        "$certs/cert.pem" "$certs/key.pem" "$@" >"$log" 2>&1 &
    PIDS+=($!)
}

# Wait (up to 10 s each) until every port on 127.0.0.1 accepts connections.
bench_wait_for_ports() { # PORT...
    local port
    for port in "$@"; do
        for _ in $(seq 100); do
            (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
            sleep 0.1
        done
    done
}

# A gateway with the benchmarks' settings in front of an S3 backend on 127.0.0.1:BACKEND_PORT, in DIR
# (DIR/gateway.toml, DIR/log, DIR/pid), run from $BIN with $THREADS worker threads; its pid is added to PIDS.
bench_gateway() { # DIR PORT BACKEND_PORT BACKEND_AK BACKEND_SK CLIENT_AK CLIENT_SK [EXTRA_TOML]
    mkdir -p "$1"
    cat >"$1/gateway.toml" <<CONF
listen = "127.0.0.1:$2"
metrics_listen = "127.0.0.1:0"
data_dir = "$1"
[backend]
kind = "s3"
endpoint = "http://127.0.0.1:$3"
region = "us-east-1"
access_key_id = "$4"
secret_access_key = "$5"
[[credentials]]
access_key_id = "$6"
secret_access_key = "$7"
allowed_buckets = ["*"]
${8:-}
CONF
    TOKIO_WORKER_THREADS=$THREADS S3_SSE_PROXY_LOG=warn "$BIN" --config "$1/gateway.toml" >"$1/log" 2>&1 &
    PIDS+=($!)
    echo $! >"$1/pid"
}
