#!/usr/bin/env python3
"""Stored checksums with raw signed requests, per algorithm and payload mode (issue 20's Tests): what the SDKs
send, signed here by hand (raw_streaming_signed.py's signer), so each mode is exercised whatever a stock client
picks.

For each of CRC32, CRC32C, CRC64NVME, SHA1, SHA256, a PUT with the checksum
  (a) in an `x-amz-checksum-<alg>` header, the payload's SHA-256 signed;
  (b) in the header, with UNSIGNED-PAYLOAD;
  (c) in an aws-chunked trailer, STREAMING-UNSIGNED-PAYLOAD-TRAILER with `x-amz-trailer`;
  (d) in a signed trailer, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (signed chunks, trailer signature).
Each object reads back identical; GET and HEAD with `x-amz-checksum-mode: ENABLED` answer the value and
`x-amz-checksum-type: FULL_OBJECT`; without checksum mode, no checksum header. A wrong value in each mode is 400
BadDigest (S3's XML) and leaves no object; a wrong trailer signature is 403 SignatureDoesNotMatch, no object.
Then a multipart upload per algorithm and checksum type S3 allows (COMPOSITE: CRC32, CRC32C, SHA1, SHA256;
FULL_OBJECT: CRC32, CRC32C, CRC64NVME), one part's checksum in a header and the other's in a trailer.

Usage: raw_checksums.py all. Environment as for raw_streaming_signed.py (tests/matrix.rs runs it against s3s-fs, Ceph RGW and moto).
Exit status 0 only if every check held; on failure the failing step is printed.
"""

import hashlib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checksums import ALGORITHMS, checksum, expected_multipart  # noqa: E402
from raw_streaming_signed import BUCKET, CHUNK, chunked, request_full  # noqa: E402
from steps import check, check_eq, step  # noqa: E402
import steps  # noqa: E402

SIZE = 3 * CHUNK + 4321
MIB = 1024 * 1024
MODES = ["header-signed", "header-unsigned", "unsigned-trailer", "signed-trailer"]
COMPOSITE = ["CRC32", "CRC32C", "SHA1", "SHA256"]
FULL_OBJECT = ["CRC32", "CRC32C", "CRC64NVME"]


def unsigned_trailer_body(data, trailer):
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER: `hex(size)\\r\\n<data>\\r\\n`, `0\\r\\n`, the trailer, an empty line."""
    pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + f"0\r\n{trailer}\r\n\r\n".encode()


def put(path, data, alg, mode, value, query=None, corrupt_trailer=False):
    """`data` to `path` with `value` as `alg`'s checksum in `mode`: (status, headers, body)."""
    name = f"x-amz-checksum-{alg.lower()}"
    if mode == "header-signed":
        return request_full("PUT", path, {name: value}, data, query=query)
    if mode == "header-unsigned":
        return request_full("PUT", path, {name: value}, data, "UNSIGNED-PAYLOAD", query=query)
    trailer = f"{name}:{value}"
    headers = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)), "x-amz-trailer": name}
    if mode == "unsigned-trailer":
        body = unsigned_trailer_body(data, trailer)
        headers["content-length"] = str(len(body))
        return request_full("PUT", path, headers, body, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", query=query)
    body = chunked(data, trailer=trailer, corrupt_trailer=corrupt_trailer)
    # The body's length does not depend on the signatures' values, only on their (fixed) length.
    headers["content-length"] = str(len(body(b"k" * 32, "20000101T000000Z", "scope", "0" * 64)))
    return request_full("PUT", path, headers, body, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", query=query)


def checksum_headers(headers):
    return {k: v for k, v in headers.items() if k.startswith("x-amz-checksum-")}


def expect_stored(key, data, alg, value, kind="FULL_OBJECT"):
    """GET/HEAD with checksum mode answer `value` and `kind`; without it, no checksum header."""
    want = {f"x-amz-checksum-{alg.lower()}": value, "x-amz-checksum-type": kind}
    st, h, body = request_full("GET", f"/{BUCKET}/{key}", {"x-amz-checksum-mode": "ENABLED"})
    check(st == 200 and body == data, f"GET: {st}, {len(body)} bytes")
    check_eq(checksum_headers(h), want, "GET's checksum")
    st, h, _ = request_full("HEAD", f"/{BUCKET}/{key}", {"x-amz-checksum-mode": "ENABLED"})
    check_eq((st, checksum_headers(h)), (200, want), "HEAD's checksum")
    st, h, body = request_full("GET", f"/{BUCKET}/{key}")
    check(st == 200 and body == data, f"GET without checksum mode: {st}, {len(body)} bytes")
    check_eq(checksum_headers(h), {}, "GET without checksum mode")
    st, h, _ = request_full("HEAD", f"/{BUCKET}/{key}")
    check_eq((st, checksum_headers(h)), (200, {}), "HEAD without checksum mode")


def expect_error(got, status, code, what):
    st, _, body = got
    check(st == status and f"<Code>{code}</Code>".encode() in body, f"{what}: {st} {body[:300]!r}")


def expect_absent(key):
    st, _, _ = request_full("HEAD", f"/{BUCKET}/{key}")
    check_eq(st, 404, f"HEAD {key} after a refused upload")


def single_part(keys):
    data = os.urandom(SIZE)
    for alg in ALGORITHMS:
        value = checksum(alg, data)
        for mode in MODES:
            key = f"{alg}-{mode}"
            with step(f"{alg}, {mode}: stored, read back, GET/HEAD answer it only with checksum mode"):
                st, h, body = put(f"/{BUCKET}/{key}", data, alg, mode, value)
                check(st == 200, f"PUT: {st} {body[:300]!r}")
                check_eq(h.get(f"x-amz-checksum-{alg.lower()}"), value, "PutObject's checksum")
                keys.append(key)
                expect_stored(key, data, alg, value)
            with step(f"{alg}, {mode}: a wrong value is 400 BadDigest, no object"):
                wrong = checksum(alg, data + b"x")
                expect_error(put(f"/{BUCKET}/bad", data, alg, mode, wrong), 400, "BadDigest", "PUT")
                expect_absent("bad")
        with step(f"{alg}, signed trailer with a wrong trailer signature: 403 SignatureDoesNotMatch, no object"):
            got = put(f"/{BUCKET}/bad", data, alg, "signed-trailer", value, corrupt_trailer=True)
            expect_error(got, 403, "SignatureDoesNotMatch", "PUT")
            expect_absent("bad")


def tag(xml, name):
    m = re.search(f"<{name}>([^<]*)</{name}>".encode(), xml)
    return m.group(1).decode() if m else None


def multipart(alg, kind, parts, keys):
    """Create with `alg` and `kind`, part 1's checksum in a signed header, part 2's in a signed trailer, Complete
    listing both; the object answers S3's checksum of that kind."""
    key = f"mpu-{alg}-{kind}"
    path = f"/{BUCKET}/{key}"
    st, _, body = request_full(
        "POST", path, {"x-amz-checksum-algorithm": alg, "x-amz-checksum-type": kind}, query={"uploads": ""}
    )
    check(st == 200, f"CreateMultipartUpload: {st} {body[:300]!r}")
    upload = tag(body, "UploadId")
    listed = []
    for n, (data, mode) in enumerate(zip(parts, ["header-signed", "signed-trailer"]), 1):
        value = checksum(alg, data)
        st, h, body = put(path, data, alg, mode, value, {"partNumber": str(n), "uploadId": upload})
        check(st == 200, f"UploadPart {n} ({mode}): {st} {body[:300]!r}")
        check_eq(h.get(f"x-amz-checksum-{alg.lower()}"), value, f"UploadPart {n}'s checksum")
        listed.append(f"<Part><PartNumber>{n}</PartNumber><ETag>{h['etag']}</ETag>"
                      f"<Checksum{alg}>{value}</Checksum{alg}></Part>")
    xml = f"<CompleteMultipartUpload>{''.join(listed)}</CompleteMultipartUpload>".encode()
    st, _, body = request_full("POST", path, {"x-amz-checksum-type": kind}, xml, query={"uploadId": upload})
    check(st == 200 and b"<Error>" not in body, f"CompleteMultipartUpload: {st} {body[:300]!r}")
    keys.append(key)
    want = expected_multipart(alg, kind, parts)
    check_eq((tag(body, f"Checksum{alg}"), tag(body, "ChecksumType")), (want, kind), "Complete's checksum")
    expect_stored(key, b"".join(parts), alg, want, kind)


def main():
    keys = []
    with step("create bucket"):
        st, _, body = request_full("PUT", f"/{BUCKET}")
        check(st == 200, f"CreateBucket: {st} {body[:300]!r}")
    try:
        single_part(keys)
        parts = [os.urandom(5 * MIB), os.urandom(70_000)]
        for kind, algs in [("COMPOSITE", COMPOSITE), ("FULL_OBJECT", FULL_OBJECT)]:
            for alg in algs:
                with step(f"multipart {alg} {kind}: part checksums in a header and a trailer, Complete, GET/HEAD"):
                    multipart(alg, kind, parts, keys)
    finally:
        for k in keys + ["bad"]:
            request_full("DELETE", f"/{BUCKET}/{k}")
        request_full("DELETE", f"/{BUCKET}")


if __name__ == "__main__":
    steps.run_case({"all": main}, __doc__)
