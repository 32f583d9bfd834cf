#!/usr/bin/env bash
# Fuzz smoke run (CI): build every cargo-fuzz target with the nightly toolchain, then run each one for
# FUZZ_SECONDS (default 25) from its committed seed corpus (fuzz/corpus/<target>). Fails on the first crash (a panic,
# a failed assertion, an overflow) or timeout; the crashing input is left in fuzz/artifacts/<target>/.
#
# Needs: the nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz (`cargo install cargo-fuzz
# --locked`); `.ci/run` installs both. Long runs and their results: docs/fuzzing.md.
#
#   bash fuzz/smoke.sh                 # every target, 25 s each
#   FUZZ_SECONDS=600 bash fuzz/smoke.sh policy xml
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

SECONDS_PER_TARGET=${FUZZ_SECONDS:-25}
TOOLCHAIN=${FUZZ_TOOLCHAIN:-nightly}
# No sanitizer: the crate and this one forbid unsafe code, so ASan would mostly instrument dependencies at half
# the speed. Debug assertions (and with them overflow checks) stay on: an overflow is a finding.
BUILD_FLAGS=(--sanitizer none --debug-assertions)

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo "+${TOOLCHAIN}" fuzz list)
fi

start=$(date +%s)
cargo "+${TOOLCHAIN}" fuzz build "${BUILD_FLAGS[@]}"
echo "fuzz build: $(($(date +%s) - start))s"

for t in "${targets[@]}"; do
    # New inputs go to a scratch directory; the committed seeds are only read.
    scratch="target/smoke-corpus/${t}"
    mkdir -p "${scratch}"
    log="target/smoke-${t}.log"
    echo "==> fuzz ${t} for ${SECONDS_PER_TARGET}s"
    if ! cargo "+${TOOLCHAIN}" fuzz run "${BUILD_FLAGS[@]}" "${t}" "${scratch}" "corpus/${t}" -- \
        -max_total_time="${SECONDS_PER_TARGET}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"${log}" 2>&1; then
        tail -n 80 "${log}" >&2
        echo "fuzz ${t}: FAILED (the input is in fuzz/artifacts/${t}/)" >&2
        exit 1
    fi
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "${log}" || true
done
echo "fuzz smoke: ${#targets[@]} targets, $(($(date +%s) - start))s"
