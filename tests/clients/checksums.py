#!/usr/bin/env python3
"""Stored checksums through the gateway, as boto3 (current, default checksums) sees them (issue 20).

S3 keeps the checksum of every object's data: the one the client sent (header or aws-chunked trailer), or a
CRC64NVME it computes. It answers it on GET and HEAD only with `x-amz-checksum-mode: ENABLED`, only for the whole
object, and in GetObjectAttributes. The gateway must answer the checksum of the plaintext, never the backend's
(which describe ciphertext), and must not show it to a reader without the SSE-C key.

Usage: checksums.py CASE (one of CASES below). Environment as for embedded_s3.py (set by tests/embedded.rs and
tests/versioning.rs), plus S3_BACKEND_ROOT (the fs backend's directory, to look at what the backend holds; unset
for other backends) and CHECKSUMS_VERSIONED=1 (each case's bucket has versioning enabled).

CRC32C and CRC64NVME are computed here by the reference tables below (botocore needs awscrt for them, which these
tests do not install); each checks itself against the standard "123456789" check value first.
"""

import base64
import functools
import hashlib
import os
import sys
import zlib

import boto3
import xxhash  # PyPI `xxhash`: XXHASH64, XXHASH3 and XXHASH128 (seed 0)
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import steps  # noqa: E402
import embedded_s3  # noqa: E402
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


@functools.lru_cache(maxsize=64)
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
    if algorithm == "SHA512":
        return b64(hashlib.sha512(data).digest())
    if algorithm == "MD5":
        return b64(hashlib.md5(data).digest())
    if algorithm.startswith("XXHASH"):
        # Seed 0; digest() is the canonical (big-endian) form.
        fn = {"XXHASH64": xxhash.xxh64, "XXHASH3": xxhash.xxh3_64, "XXHASH128": xxhash.xxh3_128}[algorithm]
        return b64(fn(data).digest())
    assert algorithm == "SHA256", algorithm
    return b64(hashlib.sha256(data).digest())


assert _crc(_CRC32C, 0xFFFFFFFF, b"123456789") == 0xE3069283
assert _crc(_CRC64NVME, 0xFFFFFFFFFFFFFFFF, b"123456789") == 0xAE8B14860A799888

ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512", "MD5", "XXHASH64", "XXHASH3", "XXHASH128"]
# The ones botocore computes itself (without the CRT), sent as an aws-chunked trailer.
TRAILER_ALGORITHMS = ["CRC32", "SHA1", "SHA256", "SHA512"]
VERSIONED = os.environ.get("CHECKSUMS_VERSIONED") == "1"


class Bucket(embedded_s3.Bucket):
    """embedded_s3's bucket, versioned under CHECKSUMS_VERSIONED=1."""

    def __enter__(self):
        name = super().__enter__()
        if VERSIONED:
            self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name


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
            for alg in TRAILER_ALGORITHMS:
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
            check_eq(len(keys), 2 * (len(ALGORITHMS) + len(TRAILER_ALGORITHMS)) + 1, f"keys {keys}")


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
        for alg in ["CRC32", "CRC64NVME", "SHA256", "MD5", "XXHASH3"]:
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
            with step(f"CopyObject naming another algorithm ({size} bytes): the copy's is computed, as S3 does"):
                r = s3.copy_object(Bucket=b, Key=f"sha256-{size}", CopySource={"Bucket": b, "Key": f"dst-{size}"},
                                   ChecksumAlgorithm="SHA256")
                check_eq(r["CopyObjectResult"].get("ChecksumSHA256"), checksum("SHA256", data), "CopyObject")
                expect_stored(s3, b, f"sha256-{size}", data, "SHA256")
                expect_stored(s3, b, f"dst-{size}", data, "SHA1")
        if BACKEND_ROOT:
            data = os.urandom(LARGE)
            with open(os.path.join(BACKEND_ROOT, b, "plain.bin"), "wb") as f:
                f.write(data)
            with step("a copy of a plaintext source (written at the backend) gets S3's CRC64NVME, or the algorithm asked"):
                r = s3.copy_object(Bucket=b, Key="enc-default", CopySource={"Bucket": b, "Key": "plain.bin"})
                check_eq(r["CopyObjectResult"].get("ChecksumCRC64NVME"), checksum("CRC64NVME", data), "CopyObject")
                expect_stored(s3, b, "enc-default", data, "CRC64NVME")
                r = s3.copy_object(Bucket=b, Key="enc-sha256", CopySource={"Bucket": b, "Key": "plain.bin"},
                                   ChecksumAlgorithm="SHA256")
                check_eq(r["CopyObjectResult"].get("ChecksumSHA256"), checksum("SHA256", data), "CopyObject")
                expect_stored(s3, b, "enc-sha256", data, "SHA256")


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


# Part sizes of the multipart cases: not whole 64 KiB segments (the gateway rewrites such an object as one stream
# at Complete, so the checksum record must follow), and whole ones (no rewrite). Every part but the last has
# S3's minimum of 5 MiB (the embedded backend enforces it, as S3).
MIB = 1024 * 1024
UNALIGNED = [5 * MIB + 7, 5 * MIB + 100_003, 3]
ALIGNED = [5 * MIB, 5 * MIB, 65536]
MULTIPART_KINDS = [
    ("CRC32", "COMPOSITE"),
    ("CRC32C", "COMPOSITE"),
    ("SHA1", "COMPOSITE"),
    ("SHA256", "COMPOSITE"),
    ("SHA512", "COMPOSITE"),
    ("XXHASH128", "COMPOSITE"),
    ("CRC32", "FULL_OBJECT"),
    ("CRC32C", "FULL_OBJECT"),
    ("CRC64NVME", "FULL_OBJECT"),
]


def expected_multipart(algorithm, kind, parts):
    """S3's checksum of a multipart object: the checksum of the parts' raw checksums, `-N` (COMPOSITE), or the
    checksum of the whole (FULL_OBJECT)."""
    if kind == "FULL_OBJECT":
        return checksum(algorithm, b"".join(parts))
    raw = b"".join(base64.b64decode(checksum(algorithm, p)) for p in parts)
    return f"{checksum(algorithm, raw)}-{len(parts)}"


def upload_parts(s3, b, key, parts, algorithm=None, **extra):
    """Create an upload (with `algorithm`'s checksum if given), upload `parts` each with its checksum header; the
    list Complete takes."""
    create = dict(extra)
    if algorithm:
        create["ChecksumAlgorithm"] = algorithm
    up = s3.create_multipart_upload(Bucket=b, Key=key, **create)
    done = []
    for n, data in enumerate(parts, 1):
        own = {f"Checksum{algorithm}": checksum(algorithm, data)} if algorithm else {}
        r = s3.upload_part(Bucket=b, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=data, **own, **extra)
        entry = {"PartNumber": n, "ETag": r["ETag"]}
        if algorithm:
            check_eq(r.get(f"Checksum{algorithm}"), checksum(algorithm, data), f"UploadPart {n}'s checksum")
            entry[f"Checksum{algorithm}"] = r[f"Checksum{algorithm}"]
        done.append(entry)
    return up, done


def multipart_composite_and_full_object():
    s3 = client()
    with Bucket(s3, "mpu") as b:
        for layout, sizes in [("unaligned", UNALIGNED), ("aligned", ALIGNED)]:
            parts = [os.urandom(n) for n in sizes]
            whole = b"".join(parts)
            for alg, kind in MULTIPART_KINDS:
                key = f"{alg}-{kind}-{layout}"
                want = expected_multipart(alg, kind, parts)
                with step(f"{alg} {kind}, parts {sizes}: Create, each part and Complete answer it"):
                    up = s3.create_multipart_upload(Bucket=b, Key=key, ChecksumAlgorithm=alg, ChecksumType=kind)
                    check_eq((up.get("ChecksumAlgorithm"), up.get("ChecksumType")), (alg, kind), "Create")
                    done = []
                    for n, data in enumerate(parts, 1):
                        r = s3.upload_part(
                            Bucket=b, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=data,
                            **{f"Checksum{alg}": checksum(alg, data)},
                        )
                        check_eq(r.get(f"Checksum{alg}"), checksum(alg, data), f"part {n}")
                        done.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{alg}": r[f"Checksum{alg}"]})
                    c = s3.complete_multipart_upload(
                        Bucket=b, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": done}
                    )
                    check_eq((c.get(f"Checksum{alg}"), c.get("ChecksumType")), (want, kind), "Complete")
                with step(f"{alg} {kind}, parts {sizes}: GET, HEAD and GetObjectAttributes keep it"):
                    stored = {f"Checksum{alg}": want, "ChecksumType": kind}
                    g = s3.get_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
                    check_eq(g["Body"].read(), whole, "GET body")
                    check_eq(checksums_of(g), stored, "GET")
                    check_eq(checksums_of(s3.head_object(Bucket=b, Key=key, ChecksumMode="ENABLED")), stored, "HEAD")
                    a = s3.get_object_attributes(Bucket=b, Key=key, ObjectAttributes=["Checksum", "ObjectSize"])
                    check_eq((a["ObjectSize"], a.get("Checksum")), (len(whole), stored), "attributes")
                # An unaligned object is one stream after Complete (rewritten); it still lists the client's parts.
                with step(f"{alg} {kind}, {layout}: GetObjectAttributes' ObjectParts lists each part, by page"):
                    a = s3.get_object_attributes(Bucket=b, Key=key, ObjectAttributes=["ObjectParts"], MaxParts=2)
                    got = [(p["PartNumber"], p["Size"], p.get(f"Checksum{alg}")) for p in a["ObjectParts"]["Parts"]]
                    want_parts = [(n, len(d), checksum(alg, d)) for n, d in enumerate(parts, 1)]
                    check_eq(got, want_parts[:2], "first page")
                    a = s3.get_object_attributes(Bucket=b, Key=key, ObjectAttributes=["ObjectParts"],
                                                 PartNumberMarker=2)
                    got = [(p["PartNumber"], p["Size"], p.get(f"Checksum{alg}")) for p in a["ObjectParts"]["Parts"]]
                    check_eq(got, want_parts[2:], "after part 2")
        with step("no part records are left once the uploads are complete"):
            if BACKEND_ROOT:
                left = [f for _, _, fs in os.walk(os.path.join(BACKEND_ROOT, b, ".s3-sse-proxy", "checksum")) for f in fs]
                check_eq(len(left), 2 * len(MULTIPART_KINDS), "records (one per object)")


def complete_upload(s3, b, key, parts, alg, kind):
    """A multipart upload of `parts` with `alg`'s checksum of `kind`: Complete's answer."""
    up = s3.create_multipart_upload(Bucket=b, Key=key, ChecksumAlgorithm=alg, ChecksumType=kind)
    done = []
    for n, data in enumerate(parts, 1):
        r = s3.upload_part(Bucket=b, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=data,
                           **{f"Checksum{alg}": checksum(alg, data)})
        done.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{alg}": r[f"Checksum{alg}"]})
    return s3.complete_multipart_upload(Bucket=b, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": done})


def multipart_versions_keep_their_checksums():
    """In a versioned bucket (CHECKSUMS_VERSIONED=1), each version of a multipart object answers its own checksum
    by its version id: the record follows the version, not the key."""
    s3 = client()
    with Bucket(s3, "mpuversions") as b:
        if not VERSIONED:
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        first = [os.urandom(n) for n in UNALIGNED]
        second = [os.urandom(n) for n in ALIGNED]
        with step("two multipart versions of one key, CRC32 COMPOSITE then CRC64NVME FULL_OBJECT"):
            v1 = complete_upload(s3, b, "k", first, "CRC32", "COMPOSITE")
            v2 = complete_upload(s3, b, "k", second, "CRC64NVME", "FULL_OBJECT")
            check(v1.get("VersionId") and v1["VersionId"] != v2.get("VersionId"), f"version ids {v1} {v2}")
        for c, parts, alg, kind in [(v1, first, "CRC32", "COMPOSITE"), (v2, second, "CRC64NVME", "FULL_OBJECT")]:
            vid = c["VersionId"]
            want = {f"Checksum{alg}": expected_multipart(alg, kind, parts), "ChecksumType": kind}
            with step(f"version {vid}: GET, HEAD and GetObjectAttributes by version id answer its {alg} {kind}"):
                g = s3.get_object(Bucket=b, Key="k", VersionId=vid, ChecksumMode="ENABLED")
                check_eq(g["Body"].read(), b"".join(parts), "GET body")
                check_eq(checksums_of(g), want, "GET")
                h = s3.head_object(Bucket=b, Key="k", VersionId=vid, ChecksumMode="ENABLED")
                check_eq(checksums_of(h), want, "HEAD")
                a = s3.get_object_attributes(Bucket=b, Key="k", VersionId=vid, ObjectAttributes=["Checksum", "ObjectSize"])
                check_eq((a["ObjectSize"], a.get("Checksum")), (sum(map(len, parts)), want), "attributes")
        with step("the latest version (no version id) answers the second's"):
            h = s3.head_object(Bucket=b, Key="k", ChecksumMode="ENABLED")
            check_eq(h.get("ChecksumCRC64NVME"), expected_multipart("CRC64NVME", "FULL_OBJECT", second), "HEAD")
        with step("deleting the second version: the first is the latest again, with its own checksum"):
            s3.delete_object(Bucket=b, Key="k", VersionId=v2["VersionId"])
            h = s3.head_object(Bucket=b, Key="k", ChecksumMode="ENABLED")
            check_eq(h.get("ChecksumCRC32"), expected_multipart("CRC32", "COMPOSITE", first), "HEAD")


def multipart_default_and_transfers():
    plain = client(request_checksum_calculation="when_required")
    with Bucket(plain, "mpudefault") as b:
        parts = [os.urandom(n) for n in UNALIGNED]
        whole = b"".join(parts)
        with step("an upload without any checksum: S3's FULL_OBJECT CRC64NVME of the whole"):
            up, done = upload_parts(plain, b, "k", parts)
            check_eq(up.get("ChecksumAlgorithm"), None, "Create names no algorithm")
            c = plain.complete_multipart_upload(Bucket=b, Key="k", UploadId=up["UploadId"], MultipartUpload={"Parts": done})
            check_eq((c.get("ChecksumCRC64NVME"), c.get("ChecksumType")), (checksum("CRC64NVME", whole), "FULL_OBJECT"), "Complete")
            expect_stored(client(), b, "k", whole, "CRC64NVME")
        s3 = client()
        from boto3.s3.transfer import TransferConfig
        import io
        data = os.urandom(3 * 1024 * 1024 + 12345)
        with step("boto3's managed upload (s3transfer, 1 MiB parts, its default checksums): GET validates it"):
            cfg = TransferConfig(multipart_threshold=1024 * 1024, multipart_chunksize=1024 * 1024)
            s3.upload_fileobj(io.BytesIO(data), b, "managed", Config=cfg)
            g = s3.get_object(Bucket=b, Key="managed", ChecksumMode="ENABLED")
            check_eq(g["Body"].read(), data, "body")
            check(checksums_of(g), "a checksum is answered")
            out = io.BytesIO()
            s3.download_fileobj(b, "managed", out)
            check_eq(out.getvalue(), data, "download_fileobj")


def multipart_checksum_errors():
    s3 = client()
    with Bucket(s3, "mpuerrors") as b:
        parts = [os.urandom(n) for n in UNALIGNED]
        whole = b"".join(parts)
        with step("CreateMultipartUpload: CRC64NVME COMPOSITE and SHA256 FULL_OBJECT are 400 InvalidRequest"):
            for alg, kind in [("CRC64NVME", "COMPOSITE"), ("SHA256", "FULL_OBJECT")]:
                got = error_of(s3.create_multipart_upload, Bucket=b, Key="k", ChecksumAlgorithm=alg, ChecksumType=kind)
                check_eq(got, ("InvalidRequest", 400), f"{alg} {kind}")
        up = s3.create_multipart_upload(Bucket=b, Key="k", ChecksumAlgorithm="CRC32")
        uid = up["UploadId"]
        with step("a part with another algorithm's checksum: 400 InvalidRequest"):
            got = error_of(s3.upload_part, Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=parts[0],
                           ChecksumSHA256=checksum("SHA256", parts[0]))
            check_eq(got, ("InvalidRequest", 400), "UploadPart")
        with step("a part whose checksum does not match: 400 BadDigest"):
            got = error_of(s3.upload_part, Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=parts[0],
                           ChecksumCRC32=checksum("CRC32", parts[0] + b"x"))
            check_eq(got, ("BadDigest", 400), "UploadPart")
        done = []
        for n, data in enumerate(parts, 1):
            r = s3.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=n, Body=data, ChecksumCRC32=checksum("CRC32", data))
            done.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
        with step("ListParts lists each part's checksum and the upload's algorithm"):
            listed = s3.list_parts(Bucket=b, Key="k", UploadId=uid)
            check_eq((listed.get("ChecksumAlgorithm"), listed.get("ChecksumType")), ("CRC32", "COMPOSITE"), "upload")
            got = [(p["PartNumber"], p["Size"], p.get("ChecksumCRC32")) for p in listed["Parts"]]
            want = [(n, len(d), checksum("CRC32", d)) for n, d in enumerate(parts, 1)]
            check_eq(got, want, "parts")
        complete = lambda **kw: s3.complete_multipart_upload(  # noqa: E731
            Bucket=b, Key="k", UploadId=uid, MultipartUpload={"Parts": kw.pop("ps")}, **kw)
        with step("Complete without a part's checksum: 400 InvalidRequest, nothing stored"):
            missing = [dict(p) for p in done]
            del missing[1]["ChecksumCRC32"]
            check_eq(error_of(complete, ps=missing), ("InvalidRequest", 400), "Complete")
            check_eq(error_of(s3.head_object, Bucket=b, Key="k"), ("404", 404), "HEAD")
        with step("Complete listing a wrong part checksum: 400 InvalidPart, nothing stored"):
            wrong = [dict(p) for p in done]
            wrong[2]["ChecksumCRC32"] = checksum("CRC32", b"other")
            check_eq(error_of(complete, ps=wrong), ("InvalidPart", 400), "Complete")
            check_eq(error_of(s3.head_object, Bucket=b, Key="k"), ("404", 404), "HEAD")
        with step("Complete with another checksum type: 400 InvalidRequest"):
            check_eq(error_of(complete, ps=done, ChecksumType="FULL_OBJECT"), ("InvalidRequest", 400), "Complete")
        with step("x-amz-mp-object-size that is not the plaintext's size: 400 InvalidRequest"):
            check_eq(error_of(complete, ps=done, MpuObjectSize=len(whole) + 1), ("InvalidRequest", 400), "Complete")
        with step("Complete with the right list and the plaintext size: stored, with its checksum"):
            c = complete(ps=done, MpuObjectSize=len(whole))
            check_eq(c.get("ChecksumCRC32"), expected_multipart("CRC32", "COMPOSITE", parts), "Complete")
            check_eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), whole, "GET")
        up = s3.create_multipart_upload(Bucket=b, Key="full", ChecksumAlgorithm="CRC32C", ChecksumType="FULL_OBJECT")
        done = []
        for n, data in enumerate(parts, 1):
            r = s3.upload_part(Bucket=b, Key="full", UploadId=up["UploadId"], PartNumber=n, Body=data,
                               ChecksumCRC32C=checksum("CRC32C", data))
            done.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32C": r["ChecksumCRC32C"]})
        full = lambda **kw: s3.complete_multipart_upload(  # noqa: E731
            Bucket=b, Key="full", UploadId=up["UploadId"], MultipartUpload={"Parts": done}, ChecksumType="FULL_OBJECT", **kw)
        with step("FULL_OBJECT: a whole-object checksum on Complete that does not match: 400 BadDigest"):
            check_eq(error_of(full, ChecksumCRC32C=checksum("CRC32C", whole + b"x")), ("BadDigest", 400), "Complete")
            check_eq(error_of(s3.head_object, Bucket=b, Key="full"), ("404", 404), "HEAD")
        with step("FULL_OBJECT: the right one is accepted"):
            c = full(ChecksumCRC32C=checksum("CRC32C", whole))
            check_eq(c.get("ChecksumCRC32C"), checksum("CRC32C", whole), "Complete")


def multipart_sse_c_copies_and_aborts():
    s3 = client()
    key = os.urandom(32)
    sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    with Bucket(s3, "mpusse") as b:
        parts = [os.urandom(n) for n in UNALIGNED]
        whole = b"".join(parts)
        with step("SSE-C with the key on Complete (as the SDKs send it): the checksum, only with the key"):
            up, done = upload_parts(s3, b, "c", parts, "SHA256", **sse_c)
            c = s3.complete_multipart_upload(Bucket=b, Key="c", UploadId=up["UploadId"], MultipartUpload={"Parts": done}, **sse_c)
            want = expected_multipart("SHA256", "COMPOSITE", parts)
            check_eq(c.get("ChecksumSHA256"), want, "Complete")
            h = s3.head_object(Bucket=b, Key="c", ChecksumMode="ENABLED", **sse_c)
            check_eq(h.get("ChecksumSHA256"), want, "HEAD with the key")
            check_eq(error_of(s3.head_object, Bucket=b, Key="c", ChecksumMode="ENABLED"), ("400", 400), "without")
        with step("UploadPartCopy: the copied part's checksum is computed from the source's plaintext"):
            s3.put_object(Bucket=b, Key="src", Body=whole)
            up = s3.create_multipart_upload(Bucket=b, Key="copy", ChecksumAlgorithm="CRC32")
            r = s3.upload_part_copy(Bucket=b, Key="copy", UploadId=up["UploadId"], PartNumber=1,
                                    CopySource={"Bucket": b, "Key": "src"})
            check_eq(r["CopyPartResult"].get("ChecksumCRC32"), checksum("CRC32", whole), "CopyPartResult")
            done = [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"], "ChecksumCRC32": checksum("CRC32", whole)}]
            c = s3.complete_multipart_upload(Bucket=b, Key="copy", UploadId=up["UploadId"], MultipartUpload={"Parts": done})
            check_eq(c.get("ChecksumCRC32"), expected_multipart("CRC32", "COMPOSITE", [whole]), "Complete")
        with step("AbortMultipartUpload removes the parts' checksum records"):
            up, _ = upload_parts(s3, b, "aborted", parts, "CRC32")
            s3.abort_multipart_upload(Bucket=b, Key="aborted", UploadId=up["UploadId"])
            if BACKEND_ROOT:
                left = [f for _, _, fs in os.walk(os.path.join(BACKEND_ROOT, b, ".s3-sse-proxy", "checksum")) for f in fs]
                check_eq(len(left), 3, "records: c, src, copy")


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
        multipart_composite_and_full_object,
        multipart_default_and_transfers,
        multipart_versions_keep_their_checksums,
        multipart_checksum_errors,
        multipart_sse_c_copies_and_aborts,
    ]
}

if __name__ == "__main__":
    steps.run_case(CASES, __doc__)
