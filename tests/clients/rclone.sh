#!/usr/bin/env bash
# rclone against the gateway.
#
# Environment (set by the Rust test harness): S3_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, S3_CA_FILE, S3_BUCKET (created here, removed at the
# end), WORK_DIR (scratch directory), S3_BACKEND_ROOT (the backend's files, checked for leaks),
# S3_CLIENT_PART (which steps: "main", the default, or "sse-kms"; the latter needs the S3_KMS_* variables listed
# at sse_kms_steps below).
#
# Exit status 0 only if every check held; on failure the failing step is printed.
set -Eeuo pipefail
# One output stream; step, fail, client_part and the ERR trap that prints the failing step.
# shellcheck source=steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/steps.sh"

client_part S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY S3_CA_FILE S3_BUCKET WORK_DIR S3_BACKEND_ROOT -- \
    S3_KMS_KIND S3_KMS_DEFAULT_KEY_ARN S3_KMS_KEY_ID S3_KMS_KEY_ARN

# rclone's AWS SDK fails ("LoadCustomCABundleError ... unsupported transport") while
# AWS_CA_BUNDLE is set; the CA comes from --ca-cert instead.
unset AWS_CA_BUNDLE

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
B="$S3_BUCKET"
D="$(mktemp -d "$WORK_DIR/rclone.XXXXXX")"
BUCKET_CREATED=0

# The remote "gw:" is configured entirely from the environment; no rclone.conf of the user.
export RCLONE_CONFIG="$D/rclone.conf"
: >"$RCLONE_CONFIG"
export RCLONE_CONFIG_GW_TYPE=s3
export RCLONE_CONFIG_GW_PROVIDER=Other
export RCLONE_CONFIG_GW_ENDPOINT="$S3_ENDPOINT"
export RCLONE_CONFIG_GW_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
export RCLONE_CONFIG_GW_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export RCLONE_CONFIG_GW_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# Never -vv: rclone's debug log prints the secret key.
# --retries 1 / --low-level-retries 1: a failed operation or HTTP request fails the command instead
# of being retried into success (and a 5xx answer costs no back-off time).
RCLONE=(rclone --ca-cert "$S3_CA_FILE" --retries 1 --low-level-retries 1)

on_exit() {
    local rc=$?
    if [[ $rc -ne 0 && $BUCKET_CREATED -eq 1 ]]; then
        echo "(best-effort cleanup of gw:$B after failure)"
        "${RCLONE[@]}" purge "gw:$B" >/dev/null 2>&1 || true
    fi
    rm -rf "$D"
    exit "$rc"
}
trap on_exit EXIT

rclone_() {
    echo "+ rclone $*" >&2
    "${RCLONE[@]}" "$@"
}

# check_cat_range REMOTE_PATH LOCAL_FILE OFFSET COUNT: rclone cat --offset --count gives those bytes of LOCAL_FILE.
check_cat_range() {
    rclone_ cat --offset "$3" --count "$4" "$1" >"$D/range"
    dd if="$2" of="$D/range-expected" iflag=skip_bytes,count_bytes skip="$3" count="$4" status=none
    cmp "$D/range-expected" "$D/range" || fail "rclone cat --offset $3 --count $4 $1 differs"
}

# check_json_log LOGFILE EXPECTED_TRANSFERS: reads an rclone --use-json-log log, prints its
# messages, and checks the final stats: that many transfers, no errors; with 0 expected, also no
# per-file "Copied"/"Updated modification time" messages.
check_json_log() {
    PYTHONIOENCODING=utf-8 python3 - "$1" "$2" <<'PYEOF'
import json, sys
path, expected = sys.argv[1], int(sys.argv[2])
stats, problems, copied, touched = None, [], [], []
with open(path, encoding="utf-8") as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            print("  (non-JSON log line) " + line)
            continue
        msg = rec.get("msg", "")
        print(f"  [{rec.get('level')}] {rec.get('object', '')}{': ' if rec.get('object') else ''}{msg.strip()}")
        if "stats" in rec:
            stats = rec["stats"]
        if rec.get("level") in ("error", "critical"):
            problems.append(f"error logged: {msg.strip()}")
        if msg.startswith("Copied"):
            copied.append(rec.get("object", "?"))
        if "modification time" in msg and "Updated" in msg:
            touched.append(rec.get("object", "?"))
if stats is None:
    problems.append("no stats record in the log")
else:
    print(f"  stats: transfers={stats.get('transfers')} checks={stats.get('checks')} errors={stats.get('errors')}")
    if stats.get("transfers") != expected:
        problems.append(f"stats.transfers = {stats.get('transfers')}, expected {expected}")
    if stats.get("errors"):
        problems.append(f"stats.errors = {stats.get('errors')}")
if expected == 0 and copied:
    problems.append(f"files copied although nothing changed: {copied}")
if expected == 0 and touched:
    problems.append(f"modification times rewritten although nothing changed (metadata lost?): {touched}")
if expected and len(copied) != expected:
    problems.append(f"{len(copied)} 'Copied' messages, expected {expected}")
for p in problems:
    print("  PROBLEM: " + p)
sys.exit(1 if problems else 0)
PYEOF
}

# The last step of either part.
remove_bucket() {
    step "rclone purge gw:$B"
    rclone_ purge "gw:$B"
    BUCKET_CREATED=0
    out="$(rclone_ lsd gw:)"
    echo "$out"
    if awk -v b="$B" '$NF == b { found = 1 } END { exit !found }' <<<"$out"; then
        fail "bucket $B still listed after purge"
    fi
}

# SSE-KMS steps (S3_CLIENT_PART=sse-kms). The harness made the keys in the gateway's KMS (S3_KMS_KIND: "local", or
# "aws" for moto's AWS KMS API) and names them: S3_KMS_DEFAULT_KEY_ARN (the gateway's default key), S3_KMS_KEY_ID
# and S3_KMS_KEY_ARN (another key); S3_KMS_MASTER_KEY_DIR (local only) holds the KMS's master keys, which must
# not reach the backend either. rclone shows no SSE headers: check_sse_kms.sh HEADs the objects with curl.
sse_kms_steps() {
    local out f n
    local src="$D/kms-src"
    mkdir -p "$src"
    head -c 1024 /dev/urandom >"$src/one-kib.bin"
    head -c 70000 /dev/urandom >"$src/seventy-k.bin"
    head -c $((12 * 1024 * 1024 + 5)) /dev/urandom >"$src/twelve-mib.bin"
    local kms=(--s3-server-side-encryption aws:kms --s3-sse-kms-key-id "$S3_KMS_KEY_ID")
    local parts=(--s3-upload-cutoff 5M --s3-chunk-size 5M)

    step "SSE-KMS: rclone copy up with --s3-server-side-encryption aws:kms --s3-sse-kms-key-id (12 MiB goes multipart)"
    rclone_ copy -v "${parts[@]}" "${kms[@]}" "$src" "gw:$B/kms"
    for f in "$src"/*; do
        bash "$HERE/check_sse_kms.sh" "kms/${f##*/}" "$S3_KMS_KEY_ARN" "$(stat -c %s "$f")"
    done

    step "SSE-KMS: rclone lsl shows the plaintext sizes"
    out="$(rclone_ lsl "gw:$B/kms")"
    echo "$out"
    for f in "$src"/*; do
        n="$(stat -c %s "$f")"
        awk -v k="${f##*/}" -v n="$n" '$NF == k && $1 == n { found = 1 } END { exit !found }' <<<"$out" \
            || fail "rclone lsl does not show ${f##*/} with $n bytes"
    done

    step "SSE-KMS: rclone copy down, bytes identical"
    rclone_ copy -v "gw:$B/kms" "$D/kms-down"
    diff -r "$src" "$D/kms-down" || fail "SSE-KMS objects downloaded differ"
    check_cat_range "gw:$B/kms/twelve-mib.bin" "$src/twelve-mib.bin" 5242870 30 # across the part boundary

    step "SSE-KMS: --s3-server-side-encryption aws:kms without a key id uses the gateway's default key"
    rclone_ copyto -v --s3-server-side-encryption aws:kms "$src/seventy-k.bin" "gw:$B/kms-default/seventy-k.bin"
    bash "$HERE/check_sse_kms.sh" kms-default/seventy-k.bin "$S3_KMS_DEFAULT_KEY_ARN" 70000
    rclone_ cat "gw:$B/kms-default/seventy-k.bin" >"$D/kms-default.down"
    cmp "$src/seventy-k.bin" "$D/kms-default.down" || fail "the object under the default key differs"

    step "SSE-KMS: an unknown key id fails with KMS.NotFoundException (single part and multipart); nothing written"
    for f in one-kib.bin twelve-mib.bin; do
        if rclone_ copyto "${parts[@]}" --s3-server-side-encryption aws:kms \
            --s3-sse-kms-key-id alias/rclone-no-such-key "$src/$f" "gw:$B/kms-missing/$f" >"$D/missing.log" 2>&1; then
            cat "$D/missing.log"
            fail "an upload of $f under an unknown key succeeded"
        fi
        cat "$D/missing.log"
        grep -q "KMS.NotFoundException" "$D/missing.log" || fail "$f: expected KMS.NotFoundException"
    done
    out="$(rclone_ lsf -R --files-only "gw:$B")"
    echo "$out"
    if grep -q '^kms-missing/' <<<"$out"; then
        fail "objects under kms-missing/ after refused uploads"
    fi

    step "SSE-KMS: the backend's files hold neither the data nor the KMS's master keys"
    python3 "$HERE/backend_leaks.py" "$S3_BACKEND_ROOT/$B" --plain "$src"/*.bin --kms-master-keys
}

step "version"
rclone version | sed -n 1p

# ------------------------------------------------------------------------------------------
step "rclone mkdir gw:$B"
rclone_ mkdir "gw:$B"
BUCKET_CREATED=1
out="$(rclone_ lsd gw:)"
echo "$out"
awk -v b="$B" '$NF == b { found = 1 } END { exit !found }' <<<"$out" || fail "lsd gw: does not list $B"

if [[ "$PART" == sse-kms ]]; then
    sse_kms_steps
    remove_bucket
    echo "rclone sse-kms: all checks passed"
    exit 0
fi

# ------------------------------------------------------------------------------------------
step "create a directory of 10 files (one of 12 MiB)"
SRC="$D/src"
make_tree "$SRC"

# ------------------------------------------------------------------------------------------
step "rclone copy with --s3-upload-cutoff 5M --s3-chunk-size 5M (12 MiB file goes multipart)"
rclone_ copy -v --s3-upload-cutoff 5M --s3-chunk-size 5M "$SRC" "gw:$B/copy"
# lsf -R lists with ListR: one ListObjects request with an empty `delimiter=` (which S3 treats as
# no delimiter) and the prefix copy/.
out="$(rclone_ lsf -R --files-only "gw:$B/copy" | sort)"
echo "$out"
expected="$(cd "$SRC" && find . -type f | sed 's|^\./||' | sort)"
if [[ "$out" != "$expected" ]]; then
    echo "expected:"
    echo "$expected"
    fail "rclone lsf -R of copy/ does not list the source files"
fi

# ------------------------------------------------------------------------------------------
step "rclone check (hashes) and rclone check --download (contents)"
out="$(rclone_ check "$SRC" "gw:$B/copy" 2>&1)" || { echo "$out"; fail "rclone check reported differences"; }
echo "$out"
# Encrypted single-part objects carry a non-MD5 ETag (`<md5 of ciphertext>-1`, as AWS does for SSE-C and
# SSE-KMS), so rclone cannot compare their MD5 and says so; the multipart file has rclone's own
# X-Amz-Meta-Md5chksum and is compared. What must hold: no differences, and the contents match (--download).
grep -q "0 differences found" <<<"$out" || fail "rclone check did not report 0 differences"
grep -q "10 matching files" <<<"$out" || fail "rclone check did not report 10 matching files"
rclone_ check --download "$SRC" "gw:$B/copy"

# ------------------------------------------------------------------------------------------
step "rclone sync (first run uploads 10 files)"
rclone_ sync -v --use-json-log --log-file "$D/sync1.log" "$SRC" "gw:$B/sync"
check_json_log "$D/sync1.log" 10 || fail "first sync did not transfer exactly the 10 files"

step "rclone sync again (must transfer nothing)"
rclone_ sync -v --use-json-log --log-file "$D/sync2.log" "$SRC" "gw:$B/sync"
check_json_log "$D/sync2.log" 0 || fail "second sync was not a no-op"
rclone_ check "$SRC" "gw:$B/sync"

# ------------------------------------------------------------------------------------------
step "rclone cat (whole objects and a range)"
rclone_ cat "gw:$B/copy/twelve-mib.bin" >"$D/cat-big"
cmp "$SRC/twelve-mib.bin" "$D/cat-big" || fail "rclone cat of the multipart object differs"
rclone_ cat "gw:$B/copy/with space.txt" >"$D/cat-space"
cmp "$SRC/with space.txt" "$D/cat-space" || fail "rclone cat of 'with space.txt' differs"
check_cat_range "gw:$B/copy/twelve-mib.bin" "$SRC/twelve-mib.bin" 100 5000

# ------------------------------------------------------------------------------------------
step "SSE-C: rclone copy up and down with --s3-sse-customer-key-base64 (a 12 MiB file goes multipart)"
head -c 32 /dev/urandom >"$D/key.bin"
head -c 32 /dev/urandom >"$D/key2.bin"
# Never echo the key: rclone_ prints its arguments, so the SSE-C options go through the environment.
export RCLONE_S3_SSE_CUSTOMER_ALGORITHM=AES256
export RCLONE_S3_SSE_CUSTOMER_KEY_BASE64="$(base64 -w0 "$D/key.bin")"
SSEC_SRC="$D/ssec-src"
mkdir -p "$SSEC_SRC"
head -c 1024 /dev/urandom >"$SSEC_SRC/one-kib.bin"
head -c 70000 /dev/urandom >"$SSEC_SRC/seventy-k.bin"
head -c $((12 * 1024 * 1024 + 5)) /dev/urandom >"$SSEC_SRC/twelve-mib.bin"
rclone_ copy -v --s3-upload-cutoff 5M --s3-chunk-size 5M "$SSEC_SRC" "gw:$B/ssec"
rclone_ copy -v "gw:$B/ssec" "$D/ssec-down"
diff -r "$SSEC_SRC" "$D/ssec-down" || fail "SSE-C objects downloaded with their key differ"
check_cat_range "gw:$B/ssec/twelve-mib.bin" "$SSEC_SRC/twelve-mib.bin" 5242870 30 # across the part boundary

step "SSE-C: without the key, or with another key, downloads fail"
# (rclone cat of a single path HEADs it first; an SSE-C object answers that HEAD with 400 without its key,
# and rclone then takes the path for an empty directory and prints nothing. A directory copy GETs each
# listed object and reports the errors.)
unset RCLONE_S3_SSE_CUSTOMER_ALGORITHM RCLONE_S3_SSE_CUSTOMER_KEY_BASE64
# expect_failed_download DIR STATUS: rclone copy gw:$B/ssec DIR must fail with STATUS and write no file.
expect_failed_download() {
    if rclone_ copy "gw:$B/ssec" "$1" >"$1.log" 2>&1; then
        cat "$1.log"
        fail "rclone copy of SSE-C objects into $1 succeeded"
    fi
    cat "$1.log"
    grep -Eq "(StatusCode|status code): $2" "$1.log" || fail "expected HTTP $2 from the gateway"
    if [[ -d "$1" ]] && [[ -n "$(find "$1" -type f)" ]]; then
        find "$1" -type f
        fail "a failed SSE-C download left files"
    fi
}
expect_failed_download "$D/nokey-down" 400
export RCLONE_S3_SSE_CUSTOMER_ALGORITHM=AES256
export RCLONE_S3_SSE_CUSTOMER_KEY_BASE64="$(base64 -w0 "$D/key2.bin")"
expect_failed_download "$D/wrongkey-down" 403
unset RCLONE_S3_SSE_CUSTOMER_ALGORITHM RCLONE_S3_SSE_CUSTOMER_KEY_BASE64

step "SSE-C: the backend's files hold neither the data nor the keys"
python3 "$HERE/backend_leaks.py" "$S3_BACKEND_ROOT/$B" --plain "$SSEC_SRC"/*.bin --key "$D/key.bin" "$D/key2.bin"

# ------------------------------------------------------------------------------------------
remove_bucket

echo "rclone main: all checks passed"
