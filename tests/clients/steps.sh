# Sourced by the client scripts (tests/clients/*.sh), after `set -Eeuo pipefail`: named steps, and the
# `FAIL at step: ...` line the harness reads (tests/matrix.rs compares its start with KNOWN_GAPS).
#
#     client_part VAR... [-- KMS_VAR...]
#                          PART from S3_CLIENT_PART ("main", the default, or "sse-kms"); exit 2 unless every VAR
#                          (and for sse-kms every KMS_VAR) is set and not empty; HOME defaults to WORK_DIR
#     step TEXT...         start the step TEXT
#     fail TEXT...         fail the current step, saying why
#     make_tree DIR        the tree of 10 files (one of 12 MiB) that the copy and sync steps move
# A command that fails outside a condition fails the current step too (the ERR trap below).

# One stream, so the harness shows commands, output and errors in order.
exec 2>&1

client_part() {
    PART="${S3_CLIENT_PART:-main}"
    local needed=() kms=() after=0 v
    for v in "$@"; do
        if [[ "$v" == -- ]]; then
            after=1
        elif ((after)); then
            kms+=("$v")
        else
            needed+=("$v")
        fi
    done
    case "$PART" in
    main) ;;
    sse-kms) needed+=("${kms[@]}") ;;
    *)
        echo "FAIL: S3_CLIENT_PART must be main or sse-kms, not $PART"
        exit 2
        ;;
    esac
    for v in "${needed[@]}"; do
        if [[ -z "${!v:-}" ]]; then
            echo "FAIL: environment variable $v is not set"
            exit 2
        fi
    done
    # Some clients want a home directory; the harness may run with a minimal environment.
    export HOME="${HOME:-$WORK_DIR}"
}

STEP="setup"

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

make_tree() {
    mkdir -p "$1/sub/deeper"
    head -c 0 /dev/urandom >"$1/empty.txt"
    head -c 1 /dev/urandom >"$1/one-byte.bin"
    head -c 1024 /dev/urandom >"$1/one-kib.bin"
    head -c 65537 /dev/urandom >"$1/sub/64k-plus-one.bin"
    head -c 1000000 /dev/urandom >"$1/sub/million.bin"
    head -c 4096 /dev/urandom >"$1/sub/deeper/four-kib.bin"
    head -c 3000 /dev/urandom >"$1/with space.txt"
    head -c 3001 /dev/urandom >"$1/unicode-ü-é.txt"
    head -c 3002 /dev/urandom >"$1/sub/plus+sign=equals.txt"
    head -c $((12 * 1024 * 1024)) /dev/urandom >"$1/twelve-mib.bin"
    local n
    n="$(find "$1" -type f | wc -l)"
    [[ "$n" == 10 ]] || fail "created $n files, expected 10"
}
