#!/usr/bin/env python3
"""Stored checksums through the gateway, as boto3 (current, default checksums) sees them (issue 20).

S3 keeps the checksum of every object's data: the one the client sent (header or aws-chunked trailer), or a
CRC64NVME it computes. It answers it on GET and HEAD only with `x-amz-checksum-mode: ENABLED`, only for the whole
object, and in GetObjectAttributes. The gateway must answer the checksum of the plaintext, never the backend's
(which describe ciphertext), and must not show it to a reader without the SSE-C key.

Usage: checksums.py CASE (one of CASES below). Environment as for embedded_s3.py (set by tests/checksums.rs),
plus S3_BACKEND_ROOT (the fs backend's directory, to look at what the backend holds).

CRC32C and CRC64NVME are computed here by the reference tables below (botocore needs awscrt for them, which these
tests do not install); each checks itself against the standard "123456789" check value first.
"""

import base64
import hashlib
import os
import sys
import zlib

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import steps  # noqa: E402
from embedded_s3 import Bucket  # noqa: E402
from steps import check, check_eq, error_of, step  # noqa: E402

ENDPOINT = os.environ["S3_ENDPOINT"]
CA_FILE = os.environ["S3_CA_FILE"]
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
BACKEND_ROOT = os.environ.get("S3_BACKEND_ROOT")
# At most 64 KiB: the gateway reads it whole before sending, so its checksum goes in the envelope. Larger: the
# checksum of a trailer (boto3's default) is known only at the end, and goes in a record.
SMALL = 1000
LARGE = 200_000


def _table(poly):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _table(0x82F63B78)
_CRC64NVME = _table(0x9A6C9329AC4BC9B5)


def _crc(table, init, data):
    c = init
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ init


def b64(b):
    return base64.b64encode(b).decode()


def checksum(algorithm, data):
    """S3's value of `algorithm` for `data`: base64 of the big-endian digest."""
    if algorithm == "CRC32":
        return b64(zlib.crc32(data).to_bytes(4, "big"))
    if algorithm == "CRC32C":
        return b64(_crc(_CRC32C, 0xFFFFFFFF, data).to_bytes(4, "big"))
    if algorithm == "CRC64NVME":
        return b64(_crc(_CRC64NVME, 0xFFFFFFFFFFFFFFFF, data).to_bytes(8, "big"))
    if algorithm == "SHA1":
        return b64(hashlib.sha1(data).digest())
    return b64(hashlib.sha256(data).digest())


assert _crc(_CRC32C, 0xFFFFFFFF, b"123456789") == 0xE3069283
assert _crc(_CRC64NVME, 0xFFFFFFFFFFFFFFFF, b"123456789") == 0xAE8B14860A799888

ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]


def client(**config):
    # No retries: a 5xx must fail the step, not be retried into success.
    return boto3.session.Session().client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        verify=CA_FILE,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


def checksums_of(resp):
    return {k: v for k, v in resp.items() if k.startswith("Checksum")}


def unchecked():
    """A client that does not ask for checksums (boto3's default GET sends `x-amz-checksum-mode: ENABLED` and
    validates a FULL_OBJECT checksum against the body it reads)."""
    return client(response_checksum_validation="when_required")


def expect_stored(s3, b, key, data, algorithm, **extra):
    """GET and HEAD with checksum mode answer `algorithm`'s value of `data`, FULL_OBJECT; without it, nothing."""
    want = {f"Checksum{algorithm}": checksum(algorithm, data), "ChecksumType": "FULL_OBJECT"}
    g = s3.get_object(Bucket=b, Key=key, ChecksumMode="ENABLED", **extra)
    check_eq(g["Body"].read(), data, "GET body")
    check_eq(checksums_of(g), want, "GET checksum")
    check_eq(checksums_of(s3.head_object(Bucket=b, Key=key, ChecksumMode="ENABLED", **extra)), want, "HEAD")
    plain = unchecked()
    check_eq(checksums_of(plain.head_object(Bucket=b, Key=key, **extra)), {}, "HEAD without checksum mode")
    g = plain.get_object(Bucket=b, Key=key, **extra)
    g["Body"].read()
    check_eq(checksums_of(g), {}, "GET without checksum mode")


def round_trip_per_algorithm():
    s3 = client()
    with Bucket(s3, "algs") as b:
        for size in [SMALL, LARGE]:
            data = os.urandom(size)
            for alg in ALGORITHMS:
                key = f"{alg}-{size}"
                with step(f"{alg}, {size} bytes, as a header: PutObject answers it, GET/HEAD keep it"):
                    r = s3.put_object(Bucket=b, Key=key, Body=data, **{f"Checksum{alg}": checksum(alg, data)})
                    check_eq(r.get(f"Checksum{alg}"), checksum(alg, data), "PutObject's checksum")
                    expect_stored(s3, b, key, data, alg)
            for alg in ["CRC32", "SHA1", "SHA256"]:
                key = f"{alg}-{size}-trailer"
                with step(f"{alg}, {size} bytes, computed by boto3 (an aws-chunked trailer): kept"):
                    r = s3.put_object(Bucket=b, Key=key, Body=data, ChecksumAlgorithm=alg)
                    check_eq(r.get(f"Checksum{alg}"), checksum(alg, data), "PutObject's checksum")
                    expect_stored(s3, b, key, data, alg)
        with step("an empty object has one too"):
            s3.put_object(Bucket=b, Key="empty", Body=b"", ChecksumAlgorithm="SHA256")
            expect_stored(s3, b, "empty", b"", "SHA256")
        with step("the listing shows only the client's objects"):
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", [])]
            check_eq(len(keys), 2 * (5 + 3) + 1, f"keys {keys}")


def default_crc64nvme():
    s3 = client(request_checksum_calculation="when_required")
    with Bucket(s3, "default") as b:
        for size in [0, SMALL, LARGE]:
            data = os.urandom(size)
            with step(f"{size} bytes without any checksum: the gateway stores S3's CRC64NVME"):
                s3.put_object(Bucket=b, Key=f"k{size}", Body=data)
                expect_stored(s3, b, f"k{size}", data, "CRC64NVME")


def ranges_and_parts_answer_none():
    s3 = client()
    with Bucket(s3, "ranges") as b:
        data = os.urandom(LARGE)
        s3.put_object(Bucket=b, Key="k", Body=data, ChecksumAlgorithm="SHA256")
        with step("a ranged GET with checksum mode: the part's bytes, no whole-object checksum"):
            g = s3.get_object(Bucket=b, Key="k", Range="bytes=10-99", ChecksumMode="ENABLED")
            check_eq(g["Body"].read(), data[10:100], "range")
            check_eq(checksums_of(g), {}, "checksums")
        with step("GET partNumber=1 with checksum mode: no whole-object checksum either"):
            g = s3.get_object(Bucket=b, Key="k", PartNumber=1, ChecksumMode="ENABLED")
            check_eq(g["Body"].read(), data, "part 1")


def wrong_checksum_stores_nothing():
    s3 = client()
    with Bucket(s3, "wrong") as b:
        data = os.urandom(LARGE)
        for alg in ["CRC32", "CRC64NVME", "SHA256"]:
            for size in [SMALL, LARGE]:
                with step(f"{alg} header that does not match {size} bytes: 400 BadDigest, nothing stored"):
                    wrong = checksum(alg, data[:size] + b"x")
                    got = error_of(s3.put_object, Bucket=b, Key="k", Body=data[:size], **{f"Checksum{alg}": wrong})
                    check_eq(got, ("BadDigest", 400), "PutObject")
                    check_eq(error_of(s3.head_object, Bucket=b, Key="k"), ("404", 404), "HEAD after")
        with step("and the bucket holds none of the gateway's checksum records"):
            if BACKEND_ROOT:
                records = os.path.join(BACKEND_ROOT, b, ".s3-sse-proxy", "checksum")
                check(not os.path.isdir(records) or not os.listdir(records), f"records in {records}")


def attributes_and_sse_c():
    s3 = client()
    key = os.urandom(32)
    sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    with Bucket(s3, "attrs") as b:
        for size in [SMALL, LARGE]:
            data = os.urandom(size)
            s3.put_object(Bucket=b, Key=f"s3-{size}", Body=data, ChecksumAlgorithm="SHA256")
            s3.put_object(Bucket=b, Key=f"c-{size}", Body=data, ChecksumAlgorithm="CRC32", **sse_c)
            with step(f"GetObjectAttributes Checksum, SSE-S3, {size} bytes"):
                a = s3.get_object_attributes(Bucket=b, Key=f"s3-{size}", ObjectAttributes=["Checksum", "ObjectSize"])
                check_eq(a["ObjectSize"], size, "ObjectSize")
                check_eq(
                    a.get("Checksum"),
                    {"ChecksumSHA256": checksum("SHA256", data), "ChecksumType": "FULL_OBJECT"},
                    "Checksum",
                )
            with step(f"SSE-C, {size} bytes: the checksum only with the key"):
                expect_stored(s3, b, f"c-{size}", data, "CRC32", **sse_c)
                # botocore encodes the key for GetObject, not for GetObjectAttributes.
                sse_c_attrs = {
                    "SSECustomerAlgorithm": "AES256",
                    "SSECustomerKey": b64(key),
                    "SSECustomerKeyMD5": b64(hashlib.md5(key).digest()),
                }
                a = s3.get_object_attributes(
                    Bucket=b, Key=f"c-{size}", ObjectAttributes=["Checksum"], **sse_c_attrs
                )
                check_eq(a.get("Checksum", {}).get("ChecksumCRC32"), checksum("CRC32", data), "with the key")
                got = error_of(s3.get_object_attributes, Bucket=b, Key=f"c-{size}", ObjectAttributes=["Checksum"])
                check_eq(got, ("InvalidRequest", 400), "attributes without the key")
                got = error_of(s3.head_object, Bucket=b, Key=f"c-{size}", ChecksumMode="ENABLED")
                check_eq(got, ("400", 400), "HEAD without the key")
                other = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
                got = error_of(s3.get_object, Bucket=b, Key=f"c-{size}", ChecksumMode="ENABLED", **other)
                check_eq(got, ("AccessDenied", 403), "GET with another key")


def copies_keep_the_checksum():
    s3 = client()
    with Bucket(s3, "copies") as b:
        for size in [SMALL, LARGE]:
            data = os.urandom(size)
            s3.put_object(Bucket=b, Key=f"src-{size}", Body=data, ChecksumAlgorithm="SHA1")
            with step(f"CopyObject of {size} bytes: the copy has the source's checksum"):
                s3.copy_object(Bucket=b, Key=f"dst-{size}", CopySource={"Bucket": b, "Key": f"src-{size}"})
                expect_stored(s3, b, f"dst-{size}", data, "SHA1")
            with step(f"the source overwritten afterwards: each answers its own ({size} bytes)"):
                new = os.urandom(size)
                s3.put_object(Bucket=b, Key=f"src-{size}", Body=new, ChecksumAlgorithm="SHA1")
                expect_stored(s3, b, f"src-{size}", new, "SHA1")
                expect_stored(s3, b, f"dst-{size}", data, "SHA1")


def records_follow_their_objects():
    s3 = client()
    with Bucket(s3, "records") as b:
        data = os.urandom(LARGE)
        records = os.path.join(BACKEND_ROOT, b, ".s3-sse-proxy", "checksum")
        with step("a large object with a trailer checksum has a record at the backend"):
            s3.put_object(Bucket=b, Key="k", Body=data, ChecksumAlgorithm="CRC32")
            check_eq(len(os.listdir(records)), 1, "records")
        with step("the record is sealed: the backend never sees the checksum"):
            (name,) = os.listdir(records)
            with open(os.path.join(records, name), "rb") as f:
                text = f.read().decode()
            check(checksum("CRC32", data) not in text, f"record {text!r} shows the checksum")
        with step("a record that names another object is not used: no checksum, the data still reads"):
            path = os.path.join(records, name)
            with open(path, "w") as f:
                f.write(text.replace("etag=", "etag=0", 1))
            g = s3.get_object(Bucket=b, Key="k", ChecksumMode="ENABLED")
            check_eq(g["Body"].read(), data, "body")
            check_eq(checksums_of(g), {}, "checksums")
        with step("a record whose sealed value was altered: 500, never an unauthenticated checksum"):
            sealed = base64.b64decode(text.split(";x=")[1])
            altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
            with open(path, "w") as f:
                f.write(text.split(";x=")[0] + ";x=" + b64(altered))
            check_eq(error_of(s3.head_object, Bucket=b, Key="k", ChecksumMode="ENABLED"), ("500", 500), "HEAD")
            got = unchecked().get_object(Bucket=b, Key="k")["Body"].read()
            check_eq(got, data, "GET without checksum mode")
        with step("DeleteObject removes the record with the object"):
            s3.delete_object(Bucket=b, Key="k")
            check_eq(os.listdir(records), [], "records left")


CASES = {
    f.__name__: f
    for f in [
        round_trip_per_algorithm,
        default_crc64nvme,
        ranges_and_parts_answer_none,
        wrong_checksum_stores_nothing,
        attributes_and_sse_c,
        copies_keep_the_checksum,
        records_follow_their_objects,
    ]
}

if __name__ == "__main__":
    steps.run_case(CASES, __doc__)
