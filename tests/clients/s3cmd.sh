#!/usr/bin/env bash
# s3cmd against the gateway (path-style, SigV4, HTTPS with the gateway's CA).
#
# Environment (set by the Rust test harness): S3_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, S3_CA_FILE, S3_BUCKET (created here, removed at the
# end), WORK_DIR (scratch directory).
#
# No SSE-C steps: s3cmd (2.3, Debian 12) has no option for customer-provided keys. Its encryption options are
# `--server-side-encryption` (SSE-S3), `--server-side-encryption-kms-id` (SSE-KMS) and `-e` (client-side GPG);
# it never sends `x-amz-server-side-encryption-customer-*` headers, so it cannot write or read SSE-C objects.
#
# Exit status 0 only if every check held; on failure the failing step is printed.
set -Eeuo pipefail
# One stream, so the harness shows commands, output and errors in order.
exec 2>&1

for v in S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY S3_CA_FILE S3_BUCKET WORK_DIR; do
    if [[ -z "${!v:-}" ]]; then
        echo "FAIL: environment variable $v is not set"
        exit 2
    fi
done
# Some clients want a home directory; the harness may run with a minimal environment.
export HOME="${HOME:-$WORK_DIR}"
if [[ "$S3_ENDPOINT" != https://* ]]; then
    echo "FAIL: S3_ENDPOINT must be an https:// URL: $S3_ENDPOINT"
    exit 2
fi

B="$S3_BUCKET"
D="$(mktemp -d "$WORK_DIR/s3cmd.XXXXXX")"
STEP="setup"
BUCKET_CREATED=0

# host:port of the gateway, e.g. 127.0.0.1:18443.
HOSTPORT="${S3_ENDPOINT#https://}"
HOSTPORT="${HOSTPORT%%/*}"
REGION="${AWS_DEFAULT_REGION:-us-east-1}"

CFG="$D/s3cfg"
# host_bucket without %(bucket)s: path-style requests (https://host:port/bucket/key).
# multipart_chunk_size_mb = 15 is s3cmd's default, spelled out: the 17 MiB upload takes 2 parts.
# max_retries = 1: a failing request is not quietly retried into success (s3cmd's default is 5,
# with growing pauses).
cat >"$CFG" <<EOF
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $HOSTPORT
host_bucket = $HOSTPORT
use_https = True
ca_certs_file = $S3_CA_FILE
check_ssl_certificate = True
check_ssl_hostname = True
signature_v2 = False
bucket_location = $REGION
multipart_chunk_size_mb = 15
enable_multipart = True
progress_meter = False
max_retries = 1
EOF
chmod 600 "$CFG"

step() {
    STEP="$*"
    echo "--- $STEP"
}

fail() {
    echo "FAIL at step: $STEP: $*"
    exit 1
}

on_err() {
    echo "FAIL at step: $STEP (line $1: $2 exited with status $3)"
}
trap 'on_err "$LINENO" "$BASH_COMMAND" "$?"' ERR

on_exit() {
    local rc=$?
    if [[ $rc -ne 0 && $BUCKET_CREATED -eq 1 ]]; then
        echo "(best-effort cleanup of s3://$B after failure)"
        s3cmd -c "$CFG" del --recursive --force "s3://$B" >/dev/null 2>&1 || true
        s3cmd -c "$CFG" rb "s3://$B" >/dev/null 2>&1 || true
    fi
    rm -rf "$D"
    exit "$rc"
}
trap on_exit EXIT

s3cmd_() {
    echo "+ s3cmd $*" >&2
    s3cmd -c "$CFG" "$@"
}

# s3cmd_checked ARGS...: like s3cmd_, but also fails on s3cmd's integrity warnings, which do not
# always change its exit status: an upload whose returned ETag is not the MD5 of the data
# ("MD5 Sums don't match!", then a retry), or a download whose content does not match the ETag
# (single PUT) or the MD5 s3cmd stored in x-amz-meta-s3cmd-attrs (multipart).
s3cmd_checked() {
    local out rc=0
    out="$(s3cmd_ "$@" 2>&1)" || rc=$?
    echo "$out"
    [[ $rc -eq 0 ]] || fail "s3cmd $1 exited with status $rc"
    if grep -Eq "MD5 Sums don.t match|MD5 signatures do not match|does not match received size|Retrying" <<<"$out"; then
        fail "s3cmd $1 reported an MD5 mismatch or had to retry"
    fi
}

step "version"
s3cmd --version

# ------------------------------------------------------------------------------------------
step "s3cmd mb s3://$B"
s3cmd_ mb "s3://$B"
BUCKET_CREATED=1

# ------------------------------------------------------------------------------------------
step "s3cmd put 1 KiB and 17 MiB files (the latter multipart, 15 MiB chunks)"
head -c 1024 /dev/urandom >"$D/small.bin"
head -c $((17 * 1024 * 1024)) /dev/urandom >"$D/big.bin"
s3cmd_checked put "$D/small.bin" "s3://$B/small.bin"
s3cmd_checked put "$D/big.bin" "s3://$B/dir/big.bin"

# ------------------------------------------------------------------------------------------
step "s3cmd ls"
out="$(s3cmd_ ls)"
echo "$out"
awk -v b="s3://$B" '$NF == b { found = 1 } END { exit !found }' <<<"$out" || fail "s3cmd ls does not list s3://$B"
out="$(s3cmd_ ls "s3://$B/")"
echo "$out"
awk -v o="s3://$B/small.bin" '$NF == o && $3 == 1024 { found = 1 } END { exit !found }' <<<"$out" \
    || fail "s3cmd ls does not show small.bin with 1024 bytes"
awk -v o="s3://$B/dir/" '$1 == "DIR" && $NF == o { found = 1 } END { exit !found }' <<<"$out" \
    || fail "s3cmd ls does not show the prefix dir/"
out="$(s3cmd_ ls --recursive "s3://$B")"
echo "$out"
awk -v o="s3://$B/dir/big.bin" -v n=$((17 * 1024 * 1024)) '$NF == o && $3 == n { found = 1 } END { exit !found }' \
    <<<"$out" || fail "s3cmd ls --recursive does not show dir/big.bin with 17 MiB"

# ------------------------------------------------------------------------------------------
step "s3cmd get and cmp"
s3cmd_checked get "s3://$B/small.bin" "$D/small.down"
s3cmd_checked get "s3://$B/dir/big.bin" "$D/big.down"
cmp "$D/small.bin" "$D/small.down" || fail "downloaded small.bin differs"
cmp "$D/big.bin" "$D/big.down" || fail "downloaded big.bin differs"

# ------------------------------------------------------------------------------------------
step "s3cmd del"
s3cmd_ del "s3://$B/small.bin" "s3://$B/dir/big.bin"
out="$(s3cmd_ ls --recursive "s3://$B")"
[[ -z "$out" ]] || fail "objects left after del: $out"

step "s3cmd rb"
s3cmd_ rb "s3://$B"
BUCKET_CREATED=0
out="$(s3cmd_ ls)"
if awk -v b="s3://$B" '$NF == b { found = 1 } END { exit !found }' <<<"$out"; then
    fail "bucket s3://$B still listed after rb"
fi

echo "s3cmd: all checks passed"
