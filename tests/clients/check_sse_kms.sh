#!/usr/bin/env bash
# check_sse_kms.sh KEY ARN [BYTES]: HEADs s3://$S3_BUCKET/KEY with curl (SigV4 by curl's --aws-sigv4, not by the
# client under test) and checks that the gateway says the object is SSE-KMS under the KMS key ARN (and BYTES
# long). For the clients that cannot show these headers themselves (rclone, s3cmd).
#
# Environment: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, S3_CA_FILE, S3_BUCKET.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 KEY ARN [BYTES]" >&2
    exit 2
fi
key="$1" arn="$2" bytes="${3:-}"
# S3 wants the payload's hash; curl (7.88) signs the header given but does not add it. No body: the empty hash.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
# curl reads the credentials from a config file on stdin, so that they are not in its command line.
headers="$(printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
    curl --config - --silent --show-error --fail --head --noproxy '*' --cacert "$S3_CA_FILE" \
        --aws-sigv4 "aws:amz:${AWS_DEFAULT_REGION:-us-east-1}:s3" --header "x-amz-content-sha256: $EMPTY_SHA256" \
        "$S3_ENDPOINT/$S3_BUCKET/$key" | tr -d '\r')"
# header NAME: the value of response header NAME (case-insensitive), or nothing.
header() { awk -v n="$1" 'index(tolower($0), tolower(n) ": ") == 1 { sub(/^[^:]*: /, ""); print }' <<<"$headers"; }
sse="$(header x-amz-server-side-encryption)"
got_arn="$(header x-amz-server-side-encryption-aws-kms-key-id)"
len="$(header content-length)"
echo "HEAD $key: x-amz-server-side-encryption: $sse; key id: $got_arn; content-length: $len"
problems=0
[[ "$sse" == aws:kms ]] || { echo "FAIL: $key: x-amz-server-side-encryption is '$sse', expected aws:kms"; problems=1; }
[[ "$got_arn" == "$arn" ]] || { echo "FAIL: $key: the KMS key is '$got_arn', expected $arn"; problems=1; }
if [[ -n "$bytes" && "$len" != "$bytes" ]]; then
    echo "FAIL: $key: content-length $len, expected $bytes"
    problems=1
fi
exit "$problems"
