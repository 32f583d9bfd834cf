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
