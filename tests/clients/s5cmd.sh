#!/usr/bin/env bash
# s5cmd against the gateway (HTTPS with the gateway's CA, path-style; the Go AWS SDK v1 inside).
#
# Environment (set by the Rust test harness): S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_DEFAULT_REGION, S3_CA_FILE, S3_BUCKET (created here, removed at the end), WORK_DIR (scratch directory),
# S3_BACKEND_ROOT (the backend's files, checked for leaks), S3_CLIENT_PART (which steps: "main", the default, or
# "sse-kms"; the latter needs the S3_KMS_* variables listed at sse_kms_steps below).
#
# The CA: s5cmd's SDK reads AWS_CA_BUNDLE (set here to the gateway's CA); --no-verify-ssl is never used, and a
# first step checks that without the CA the certificate is refused.
#
# No SSE-C steps: s5cmd (2.3) has no option for customer-provided keys. Its encryption options are `--sse`
# (AES256 or aws:kms) and `--sse-kms-key-id`; it never sends `x-amz-server-side-encryption-customer-*` headers,
# so it cannot write or read SSE-C objects.
#
# Exit status 0 only if every check held; on failure the failing step is printed.
set -Eeuo pipefail
# One output stream; step, fail, client_part and the ERR trap that prints the failing step.
# shellcheck source=steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/steps.sh"

client_part S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY S3_CA_FILE S3_BUCKET WORK_DIR S3_BACKEND_ROOT -- \
    S3_KMS_KIND S3_KMS_DEFAULT_KEY_ARN S3_KMS_KEY_ID S3_KMS_KEY_ARN
export AWS_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_CA_BUNDLE="$S3_CA_FILE"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
B="$S3_BUCKET"
D="$(mktemp -d "$WORK_DIR/s5cmd.XXXXXX")"
BUCKET_CREATED=0
# --retry-count 0: a failed request fails the command instead of being retried into success.
S5CMD=(s5cmd --endpoint-url "$S3_ENDPOINT" --retry-count 0)
# Multipart both ways: 5 MiB parts (S3's smallest), 4 at a time; downloads then are concurrent ranged GETs.
PARTS=(-p 5 -c 4)

on_exit() {
    local rc=$?
    if [[ $rc -ne 0 && $BUCKET_CREATED -eq 1 ]]; then
        echo "(best-effort cleanup of s3://$B after failure)"
        "${S5CMD[@]}" rm "s3://$B/*" >/dev/null 2>&1 || true
        "${S5CMD[@]}" rb "s3://$B" >/dev/null 2>&1 || true
    fi
    rm -rf "$D"
    exit "$rc"
}
trap on_exit EXIT

s5cmd_() {
    echo "+ s5cmd $*" >&2
    "${S5CMD[@]}" "$@"
}

# head_field KEY FIELD: a field of `s5cmd head`'s JSON for s3://$B/KEY.
head_field() {
    s5cmd_ --json head "s3://$B/$1" |
        python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$2"
}

# check_multipart KEY PARTS: the object was uploaded in PARTS parts (its ETag is `<md5>-PARTS`).
check_multipart() {
    local etag
    etag="$(head_field "$1" etag)"
    echo "$1: ETag $etag"
    [[ "$etag" == *-"$2" ]] || fail "$1 has ETag $etag, not that of a $2-part upload"
}

# check_sse KEY MODE: `s5cmd head` says the object is encrypted with MODE (AES256 or aws:kms).
check_sse() {
    local got
    got="$(head_field "$1" server_side_encryption)"
    echo "$1: server_side_encryption $got"
    [[ "$got" == "$2" ]] || fail "$1 is encrypted with '$got', expected $2"
}

# count_ops JSON_LOG OP: how many successful OP operations an `s5cmd --json` run logged.
count_ops() {
    python3 - "$1" "$2" <<'PYEOF'
import json, sys
path, op = sys.argv[1], sys.argv[2]
n = 0
with open(path, encoding="utf-8") as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        rec = json.loads(line)
        print(f"  {json.dumps(rec)}", file=sys.stderr)
        if rec.get("operation") == op and rec.get("success"):
            n += 1
        elif "error" in rec:
            sys.exit(f"an error was logged: {rec['error']}")
print(n)
PYEOF
}

# The last step of either part.
remove_bucket() {
    step "s5cmd rm everything, s5cmd rb"
    s5cmd_ rm "s3://$B/*"
    s5cmd_ rb "s3://$B"
    BUCKET_CREATED=0
    if s5cmd_ ls | awk -v b="s3://$B" '$NF == b { found = 1 } END { exit !found }'; then
        fail "bucket $B still listed after rb"
    fi
}

# SSE-KMS steps (S3_CLIENT_PART=sse-kms). The harness made the keys in the gateway's KMS (S3_KMS_KIND: "local", or
# "aws" for moto's AWS KMS API) and names them: S3_KMS_DEFAULT_KEY_ARN (the gateway's default key), S3_KMS_KEY_ID
# and S3_KMS_KEY_ARN (another key); S3_KMS_MASTER_KEY_DIR (local only) holds the KMS's master keys, which must
# not reach the backend either. s5cmd head shows no KMS key id: check_sse_kms.sh HEADs the objects with curl.
sse_kms_steps() {
    local f
    local src="$D/kms-src"
    mkdir -p "$src"
    head -c 1024 /dev/urandom >"$src/one-kib.bin"
    head -c $((12 * 1024 * 1024 + 5)) /dev/urandom >"$src/twelve-mib.bin"

    step "SSE-KMS: s5cmd cp --sse aws:kms --sse-kms-key-id (1 KiB; 12 MiB multipart)"
    for f in one-kib.bin twelve-mib.bin; do
        s5cmd_ cp "${PARTS[@]}" --sse aws:kms --sse-kms-key-id "$S3_KMS_KEY_ID" "$src/$f" "s3://$B/kms/$f"
        bash "$HERE/check_sse_kms.sh" "kms/$f" "$S3_KMS_KEY_ARN" "$(stat -c %s "$src/$f")"
    done
    check_multipart kms/twelve-mib.bin 3

    step "SSE-KMS: s5cmd cp down (multipart, ranged) and cat, bytes identical"
    s5cmd_ cp "${PARTS[@]}" "s3://$B/kms/*" "$D/kms-down/"
    diff -r "$src" "$D/kms-down" || fail "SSE-KMS objects downloaded differ"
    s5cmd_ cat "s3://$B/kms/one-kib.bin" | cmp "$src/one-kib.bin" - || fail "s5cmd cat of an SSE-KMS object differs"

    step "SSE-KMS: --sse aws:kms without a key id uses the gateway's default key"
    s5cmd_ cp --sse aws:kms "$src/one-kib.bin" "s3://$B/kms-default/one-kib.bin"
    bash "$HERE/check_sse_kms.sh" kms-default/one-kib.bin "$S3_KMS_DEFAULT_KEY_ARN" 1024

    step "SSE-KMS: an unknown key id fails with KMS.NotFoundException (single part and multipart); nothing written"
    for f in one-kib.bin twelve-mib.bin; do
        if s5cmd_ cp "${PARTS[@]}" --sse aws:kms --sse-kms-key-id alias/s5cmd-no-such-key \
            "$src/$f" "s3://$B/kms-missing/$f" >"$D/missing.log" 2>&1; then
            cat "$D/missing.log"
            fail "an upload of $f under an unknown key succeeded"
        fi
        cat "$D/missing.log"
        grep -q "KMS.NotFoundException" "$D/missing.log" || fail "$f: expected KMS.NotFoundException"
    done
    if s5cmd_ ls "s3://$B/*" | grep -q 'kms-missing/'; then
        fail "objects under kms-missing/ after refused uploads"
    fi

    step "SSE-KMS: the backend's files hold neither the data nor the KMS's master keys"
    python3 "$HERE/backend_leaks.py" "$S3_BACKEND_ROOT/$B" --plain "$src"/*.bin --kms-master-keys
}

step "version"
s5cmd version

# ------------------------------------------------------------------------------------------
step "without the gateway's CA, s5cmd refuses its certificate"
if env -u AWS_CA_BUNDLE "${S5CMD[@]}" ls >"$D/noca.log" 2>&1; then
    cat "$D/noca.log"
    fail "s5cmd talked to the gateway without trusting its CA"
fi
cat "$D/noca.log"
grep -q "certificate" "$D/noca.log" || fail "expected a certificate error"

# ------------------------------------------------------------------------------------------
step "s5cmd mb s3://$B"
s5cmd_ mb "s3://$B"
BUCKET_CREATED=1
s5cmd_ ls | awk -v b="s3://$B" '$NF == b { found = 1 } END { exit !found }' || fail "s5cmd ls does not list $B"

if [[ "$PART" == sse-kms ]]; then
    sse_kms_steps
    remove_bucket
    echo "s5cmd sse-kms: all checks passed"
    exit 0
fi

# ------------------------------------------------------------------------------------------
step "create a directory of 10 files (one of 12 MiB)"
SRC="$D/src"
make_tree "$SRC"

# ------------------------------------------------------------------------------------------
step "s5cmd cp up: single-part files, and 12 MiB in 5 MiB parts (multipart)"
s5cmd_ cp "$SRC/one-kib.bin" "s3://$B/cp/one-kib.bin"
s5cmd_ cp "$SRC/empty.txt" "s3://$B/cp/empty.txt"
s5cmd_ cp "${PARTS[@]}" "$SRC/twelve-mib.bin" "s3://$B/cp/twelve-mib.bin"
check_multipart cp/twelve-mib.bin 3

step "s5cmd ls shows the plaintext sizes"
out="$(s5cmd_ ls "s3://$B/cp/")"
echo "$out"
for f in one-kib.bin empty.txt twelve-mib.bin; do
    n="$(stat -c %s "$SRC/$f")"
    awk -v k="$f" -v n="$n" '$NF == k && $(NF - 1) == n { found = 1 } END { exit !found }' <<<"$out" \
        || fail "s5cmd ls does not show $f with $n bytes"
done

step "s5cmd cp down (the 12 MiB object as concurrent 5 MiB ranged GETs) and s5cmd cat"
s5cmd_ cp "${PARTS[@]}" "s3://$B/cp/twelve-mib.bin" "$D/down/twelve-mib.bin"
s5cmd_ cp "s3://$B/cp/one-kib.bin" "$D/down/one-kib.bin"
s5cmd_ cp "s3://$B/cp/empty.txt" "$D/down/empty.txt"
for f in one-kib.bin empty.txt twelve-mib.bin; do
    cmp "$SRC/$f" "$D/down/$f" || fail "downloaded $f differs"
done
s5cmd_ cat "s3://$B/cp/twelve-mib.bin" | cmp "$SRC/twelve-mib.bin" - ||
    fail "s5cmd cat of the multipart object differs"

# ------------------------------------------------------------------------------------------
step "s5cmd cp --sse AES256 (single part and multipart)"
s5cmd_ cp --sse AES256 "$SRC/one-kib.bin" "s3://$B/sse-s3/one-kib.bin"
s5cmd_ cp "${PARTS[@]}" --sse AES256 "$SRC/twelve-mib.bin" "s3://$B/sse-s3/twelve-mib.bin"
check_multipart sse-s3/twelve-mib.bin 3
for f in one-kib.bin twelve-mib.bin; do
    check_sse "sse-s3/$f" AES256
done
s5cmd_ cp "${PARTS[@]}" "s3://$B/sse-s3/*" "$D/sse-s3-down/"
for f in one-kib.bin twelve-mib.bin; do
    cmp "$SRC/$f" "$D/sse-s3-down/$f" || fail "SSE-S3 $f downloaded differs"
done

step "s5cmd cp --sse aws:kms (the gateway's default KMS key; single part and multipart)"
s5cmd_ cp --sse aws:kms "$SRC/one-kib.bin" "s3://$B/sse-kms/one-kib.bin"
s5cmd_ cp "${PARTS[@]}" --sse aws:kms "$SRC/twelve-mib.bin" "s3://$B/sse-kms/twelve-mib.bin"
check_multipart sse-kms/twelve-mib.bin 3
for f in one-kib.bin twelve-mib.bin; do
    check_sse "sse-kms/$f" aws:kms
done
s5cmd_ cp "${PARTS[@]}" "s3://$B/sse-kms/*" "$D/sse-kms-down/"
for f in one-kib.bin twelve-mib.bin; do
    cmp "$SRC/$f" "$D/sse-kms-down/$f" || fail "SSE-KMS $f downloaded differs"
done

# ------------------------------------------------------------------------------------------
step "s5cmd sync (first run uploads 10 files, the 12 MiB one multipart)"
s5cmd_ --json sync "${PARTS[@]}" "$SRC/" "s3://$B/sync/" >"$D/sync1.log"
n="$(count_ops "$D/sync1.log" cp)"
[[ "$n" == 10 ]] || fail "first sync copied $n files, expected 10"
check_multipart sync/twelve-mib.bin 3

step "s5cmd sync again (must transfer nothing)"
s5cmd_ --json sync "${PARTS[@]}" "$SRC/" "s3://$B/sync/" >"$D/sync2.log"
n="$(count_ops "$D/sync2.log" cp)"
[[ "$n" == 0 ]] || fail "second sync copied $n files, expected none"

step "s5cmd sync down: the same tree, bytes identical"
s5cmd_ sync "${PARTS[@]}" "s3://$B/sync/*" "$D/sync-down/"
diff -r "$SRC" "$D/sync-down" || fail "the tree synced down differs"

# ------------------------------------------------------------------------------------------
step "s5cmd rm (one object, then a wildcard)"
s5cmd_ rm "s3://$B/cp/one-kib.bin"
if s5cmd_ ls "s3://$B/cp/" | awk '$NF == "one-kib.bin" { found = 1 } END { exit !found }'; then
    fail "cp/one-kib.bin still listed after rm"
fi
s5cmd_ --json rm "s3://$B/sync/sub/*" >"$D/rm.log"
n="$(count_ops "$D/rm.log" rm)"
[[ "$n" == 4 ]] || fail "rm of sync/sub/* removed $n objects, expected 4"
out="$(s5cmd_ ls "s3://$B/sync/*")"
echo "$out"
if grep -q 'sub/' <<<"$out"; then
    fail "objects under sync/sub/ after rm"
fi

# ------------------------------------------------------------------------------------------
step "the backend's files hold none of the data"
python3 "$HERE/backend_leaks.py" "$S3_BACKEND_ROOT/$B" --plain "$SRC/twelve-mib.bin" "$SRC/one-kib.bin" \
    "$SRC/with space.txt"

# ------------------------------------------------------------------------------------------
remove_bucket

echo "s5cmd main: all checks passed"
