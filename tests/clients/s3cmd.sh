#!/usr/bin/env bash
# s3cmd against the gateway (path-style, SigV4, HTTPS with the gateway's CA).
#
# Environment (set by the Rust test harness): S3_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, S3_CA_FILE, S3_BUCKET (created here, removed at the
# end), WORK_DIR (scratch directory), S3_CLIENT_PART (which steps: "main", the default, or "sse-kms"; the latter
# needs S3_BACKEND_ROOT and the S3_KMS_* variables listed at sse_kms_steps below).
#
# No SSE-C steps: s3cmd (2.3, Debian 12) has no option for customer-provided keys. Its encryption options are
# `--server-side-encryption` (SSE-S3), `--server-side-encryption-kms-id` (SSE-KMS) and `-e` (client-side GPG);
# it never sends `x-amz-server-side-encryption-customer-*` headers, so it cannot write or read SSE-C objects.
#
# Exit status 0 only if every check held; on failure the failing step is printed.
set -Eeuo pipefail
# One output stream; step, fail, client_part and the ERR trap that prints the failing step.
# shellcheck source=steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/steps.sh"

client_part S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY S3_CA_FILE S3_BUCKET WORK_DIR -- S3_BACKEND_ROOT \
    S3_KMS_KIND S3_KMS_KEY_ID S3_KMS_KEY_ARN S3_KMS_OTHER_KEY_ID S3_KMS_OTHER_KEY_ARN
if [[ "$S3_ENDPOINT" != https://* ]]; then
    echo "FAIL: S3_ENDPOINT must be an https:// URL: $S3_ENDPOINT"
    exit 2
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
B="$S3_BUCKET"
D="$(mktemp -d "$WORK_DIR/s3cmd.XXXXXX")"
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

# The last step of either part.
remove_bucket() {
    step "s3cmd rb"
    s3cmd_ rb "s3://$B"
    BUCKET_CREATED=0
    out="$(s3cmd_ ls)"
    if awk -v b="s3://$B" '$NF == b { found = 1 } END { exit !found }' <<<"$out"; then
        fail "bucket s3://$B still listed after rb"
    fi
}

# SSE-KMS steps (S3_CLIENT_PART=sse-kms). s3cmd's `--server-side-encryption-kms-id=K` sends
# `x-amz-server-side-encryption: aws:kms` with K on PUT, CreateMultipartUpload and COPY (alone: together with
# `--server-side-encryption`, which means SSE-S3, s3cmd warns and uses KMS). Without a key id it cannot ask for
# the default KMS key. The harness made the keys in the gateway's KMS (S3_KMS_KIND: "local", or "aws" for moto's
# AWS KMS API): S3_KMS_KEY_ID / _ARN and S3_KMS_OTHER_KEY_ID / _ARN; S3_KMS_MASTER_KEY_DIR (local only) holds the
# KMS's master keys, which must not reach the backend either. s3cmd shows no key id: check_sse_kms.sh HEADs the
# objects with curl.
sse_kms_steps() {
    local out f n
    head -c 1024 /dev/urandom >"$D/kms-small.bin"
    head -c $((17 * 1024 * 1024)) /dev/urandom >"$D/kms-big.bin"

    step "SSE-KMS: s3cmd put --server-side-encryption-kms-id (1 KiB; 17 MiB multipart in 15 MiB chunks)"
    for f in small big; do
        s3cmd_checked put --server-side-encryption-kms-id="$S3_KMS_KEY_ID" "$D/kms-$f.bin" "s3://$B/kms/$f.bin"
        bash "$HERE/check_sse_kms.sh" "kms/$f.bin" "$S3_KMS_KEY_ARN" "$(stat -c %s "$D/kms-$f.bin")"
    done
    out="$(s3cmd_ info "s3://$B/kms/small.bin")"
    echo "$out"
    grep -Eq '^ +SSE: +aws:kms$' <<<"$out" || fail "s3cmd info does not show SSE: aws:kms"

    step "SSE-KMS: s3cmd ls shows the plaintext sizes; s3cmd get and cmp"
    out="$(s3cmd_ ls "s3://$B/kms/")"
    echo "$out"
    for f in small big; do
        n="$(stat -c %s "$D/kms-$f.bin")"
        awk -v o="s3://$B/kms/$f.bin" -v n="$n" '$NF == o && $3 == n { found = 1 } END { exit !found }' <<<"$out" \
            || fail "s3cmd ls does not show kms/$f.bin with $n bytes"
        s3cmd_checked get "s3://$B/kms/$f.bin" "$D/kms-$f.down"
        cmp "$D/kms-$f.bin" "$D/kms-$f.down" || fail "downloaded kms/$f.bin differs"
    done

    step "SSE-KMS: s3cmd cp to another key (--server-side-encryption-kms-id)"
    s3cmd_checked cp --server-side-encryption-kms-id="$S3_KMS_OTHER_KEY_ID" "s3://$B/kms/small.bin" \
        "s3://$B/kms/other.bin"
    bash "$HERE/check_sse_kms.sh" kms/other.bin "$S3_KMS_OTHER_KEY_ARN" 1024
    s3cmd_checked get "s3://$B/kms/other.bin" "$D/kms-other.down"
    cmp "$D/kms-small.bin" "$D/kms-other.down" || fail "the copy under the other key differs"

    step "SSE-KMS: an unknown key id fails with KMS.NotFoundException; nothing written"
    if out="$(s3cmd_ put --server-side-encryption-kms-id=alias/s3cmd-no-such-key "$D/kms-small.bin" \
        "s3://$B/kms-missing/small.bin" 2>&1)"; then
        echo "$out"
        fail "an upload under an unknown key succeeded"
    fi
    echo "$out"
    grep -q "KMS.NotFoundException" <<<"$out" || fail "expected KMS.NotFoundException"
    out="$(s3cmd_ ls --recursive "s3://$B")"
    echo "$out"
    if grep -q "s3://$B/kms-missing/" <<<"$out"; then
        fail "an object under kms-missing/ after a refused upload"
    fi

    step "SSE-KMS: the backend's files hold neither the data nor the KMS's master keys"
    python3 "$HERE/backend_leaks.py" "$S3_BACKEND_ROOT/$B" --plain "$D/kms-small.bin" "$D/kms-big.bin" \
        --kms-master-keys
}

step "version"
s3cmd --version

# ------------------------------------------------------------------------------------------
step "s3cmd mb s3://$B"
s3cmd_ mb "s3://$B"
BUCKET_CREATED=1

if [[ "$PART" == sse-kms ]]; then
    sse_kms_steps
    step "s3cmd del --recursive"
    s3cmd_ del --recursive --force "s3://$B"
    remove_bucket
    echo "s3cmd sse-kms: all checks passed"
    exit 0
fi

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

remove_bucket

echo "s3cmd main: all checks passed"
