#!/usr/bin/env python3
"""Versioned buckets as boto3 sees them through the gateway (issue 19): every version an object of its own,
read by versionId (whole, ranged, partNumber) with its own SSE-C key or SSE-KMS key id, copies from old
versions, delete markers, ListObjectVersions (plaintext sizes, ETags, pagination, encoding-type=url, the
gateway's own records never shown), suspended versioning and the null version, DeleteObjects with versions,
emptying and deleting a versioned bucket, and a backend that holds no plaintext of any version.

Usage: versioning.py CASE, one of the functions in CASES below. Each case creates its own bucket (S3_BUCKET with
a suffix), turns versioning on, and at the end deletes every version and delete marker and the bucket (asserted).
Each step is printed; a failure prints `FAIL at step: ...`; success prints `CASE: all checks passed`.

Environment (set by tests/versioning.rs):
  S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, S3_BUCKET (a unique base name),
  S3_CA_FILE (the gateway's CA; AWS_CA_BUNDLE must name it too, or botocore refuses the gateway's certificate);
  S3_KMS_KEY_ID / S3_KMS_KEY_ARN and S3_KMS_OTHER_KEY_ID / S3_KMS_OTHER_KEY_ARN: two keys of the gateway's KMS;
  S3_BACKEND_ROOT=s3+http://HOST:PORT, S3_BACKEND_ACCESS_KEY_ID, S3_BACKEND_SECRET_ACCESS_KEY: the backend itself,
  read directly by the check that it holds no plaintext (as tests/clients/backend_leaks.py does);
  VERSIONING_BACKEND=moto: the backend is moto's S3. Where moto's versioning differs from AWS's (each place is
  a call of `aws_behaviour` below, with what moto does), the AWS check is skipped, and the step says so.

VERSIONING_DIRECT=1 points the script at the backend itself (moto on plain HTTP, no gateway), to check that what
it asserts is S3's behaviour: only the checks about encryption (SSE response headers, SSE-C key checks, the
backend holding no plaintext) are skipped, since those are the gateway's. Then S3_BUCKET may be unset, and
without S3_KMS_* two keys are made in moto's KMS (same endpoint). For example:

    python3 -m moto.server -H 127.0.0.1 -p 5055 &
    VERSIONING_DIRECT=1 VERSIONING_BACKEND=moto S3_ENDPOINT=http://127.0.0.1:5055 AWS_ACCESS_KEY_ID=a \\
        AWS_SECRET_ACCESS_KEY=b AWS_DEFAULT_REGION=us-east-1 python3 tests/clients/versioning.py delete_markers

Keys are plain (letters, digits, `-`, `.`, one space): moto's signature check refuses keys holding `=`, `+`,
`%`, `:`, `,` or non-ASCII letters, and queries holding `/` (docs/compatibility.md), so no listing here has a
prefix or delimiter with a `/`.
"""

import base64
import hashlib
import os
import random
import sys
import urllib.parse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import steps  # noqa: E402
from steps import error_of, step  # noqa: E402

ENDPOINT = os.environ["S3_ENDPOINT"]
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
DIRECT = os.environ.get("VERSIONING_DIRECT") == "1"
# Through the gateway every answer about encryption is checked; straight to the backend none is.
ENCRYPTED = not DIRECT
BACKEND = os.environ.get("VERSIONING_BACKEND", "")
CA_FILE = os.environ.get("S3_CA_FILE") or os.environ.get("AWS_CA_BUNDLE")
BASE = os.environ.get("S3_BUCKET") or f"ver-direct-{os.getpid()}-{random.randrange(1 << 20):x}"
BASE = BASE.replace("_", "-").lower()
MIB = 1024 * 1024
PART = 5 * MIB
# What the gateway keeps in each bucket (adoption marker, multipart layouts): never listed, never counted.
RECORDS_PREFIX = ".s3-sse-proxy"
SKIPPED = []


def aws_behaviour(what, moto_does=None, gateway_answers=False, ceph_does=None):
    """Whether to check `what`, S3's documented behaviour, which moto (`moto_does`) or Ceph RGW 16 (`ceph_does`)
    does differently.

    With gateway_answers=True the gateway makes that answer itself (it does not depend on what the backend
    stores), so it is skipped only when the script talks to that backend directly; otherwise it is skipped whenever
    the backend is that one, behind the gateway or not. A skipped check is printed and listed at the end."""
    differs = {"moto": moto_does, "ceph": ceph_does}.get(BACKEND)
    skip = differs is not None and (DIRECT or not gateway_answers)
    if skip:
        SKIPPED.append(what)
        print(f"    SKIP ({BACKEND} differs from AWS): {what}; {BACKEND}: {differs}", flush=True)
    return not skip


# ------------------------------------------------------------------------------------------------
# Clients, bodies, buckets
# ------------------------------------------------------------------------------------------------


def check_no_such_version(s3, bucket, key, version, what):
    """GET of a version that is gone: 404 NoSuchVersion (Ceph RGW 16: NoSuchKey, passed on by the gateway)."""
    got = error_of(s3.get_object, Bucket=bucket, Key=key, VersionId=version)
    assert got[1] == 404, f"{what}: {got}, not 404"
    if aws_behaviour("GET of a deleted version is NoSuchVersion", ceph_does="answers NoSuchKey"):
        assert got == ("NoSuchVersion", 404), f"{what}: {got}, not 404 NoSuchVersion"


def client():
    # No retries: a 5xx must fail the step, not be retried into success.
    return boto3.session.Session().client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        verify=CA_FILE if ENDPOINT.startswith("https://") else None,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"}),
    )


def resource():
    return boto3.session.Session().resource(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        verify=CA_FILE if ENDPOINT.startswith("https://") else None,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"}),
    )


def body(tag, size):
    """`size` bytes that say what they are (`tag` first) and then never repeat: a range read at the wrong offset,
    or another version's bytes, cannot compare equal, and any 64 of them identify this body in the backend."""
    head = f"VERSIONING-PLAINTEXT {tag} ".encode()
    return (head + random.Random(tag).randbytes(size))[:size]




def all_versions(s3, b, **kwargs):
    """Every (Versions + DeleteMarkers) entry of the bucket, all pages, as boto3's paginator gives them."""
    versions, markers = [], []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=b, **kwargs):
        versions += page.get("Versions", [])
        markers += page.get("DeleteMarkers", [])
    return versions, markers


def assert_no_records(entries, what):
    for e in entries:
        assert not e["Key"].startswith(RECORDS_PREFIX), f"{what} shows the gateway's own record {e['Key']!r}"


def empty_and_delete(s3, b):
    """Delete every version and delete marker (by VersionId), then the bucket; asserts each step worked and that
    the bucket is gone."""
    versions, markers = all_versions(s3, b)
    assert_no_records(versions + markers, "ListObjectVersions")
    for e in versions + markers:
        got = s3.delete_object(Bucket=b, Key=e["Key"], VersionId=e["VersionId"])
        assert got.get("VersionId", e["VersionId"]) == e["VersionId"], (
            f"DeleteObject {e['Key']!r} versionId={e['VersionId']} answered versionId {got.get('VersionId')}"
        )
    versions, markers = all_versions(s3, b)
    assert not versions and not markers, (
        f"after deleting every version, ListObjectVersions still shows {[(e['Key'], e['VersionId']) for e in versions + markers]}"
    )
    s3.delete_bucket(Bucket=b)
    code, status = error_of(s3.head_bucket, Bucket=b)
    assert status == 404, f"HeadBucket after DeleteBucket answered {status} {code}, not 404: the bucket is still there"


class VersionedBucket:
    """A fresh bucket for one case with versioning Enabled; emptied (every version) and deleted at the end."""

    def __init__(self, s3, suffix, enable=True):
        self.s3 = s3
        self.name = f"{BASE[: 63 - len(suffix) - 1]}-{suffix}"
        self.enable = enable

    def __enter__(self):
        with step(f"CreateBucket {self.name}" + (" and PutBucketVersioning Enabled" if self.enable else "")):
            self.s3.create_bucket(Bucket=self.name)
            if self.enable:
                self.s3.put_bucket_versioning(Bucket=self.name, VersioningConfiguration={"Status": "Enabled"})
                got = self.s3.get_bucket_versioning(Bucket=self.name).get("Status")
                assert got == "Enabled", f"GetBucketVersioning after enabling says {got!r}"
        return self.name

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            with step("empty the bucket (every version and delete marker by VersionId) and delete it"):
                empty_and_delete(self.s3, self.name)
        else:
            try:
                empty_and_delete(self.s3, self.name)
            except Exception:  # noqa: BLE001 - best effort after a failure, which is what gets reported
                pass
        return False


def put(s3, b, key, data, **kwargs):
    """PutObject; its VersionId, checked to be a real version (not null, S3's id of unversioned objects)."""
    got = s3.put_object(Bucket=b, Key=key, Body=data, **kwargs)
    vid = got.get("VersionId")
    assert vid and vid != "null", f"PutObject {key!r} in a versioned bucket answered x-amz-version-id {vid!r}"
    return got


def check_read(got, data, vid, what):
    """A GetObject answer: the bytes, the version, the length."""
    read = got["Body"].read()
    assert read == data, f"{what}: got {len(read)} bytes that are not that version's {len(data)} bytes"
    assert got.get("VersionId") == vid, f"{what}: x-amz-version-id is {got.get('VersionId')!r}, not {vid!r}"
    assert got["ContentLength"] == len(data), f"{what}: Content-Length {got['ContentLength']}, not {len(data)}"


def sse_c(key):
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def kms_keys():
    """(id, ARN) of two KMS keys: the gateway's (S3_KMS_*), or, straight to moto, two made in moto's KMS."""
    if os.environ.get("S3_KMS_KEY_ID"):
        return [
            (os.environ["S3_KMS_KEY_ID"], os.environ["S3_KMS_KEY_ARN"]),
            (os.environ["S3_KMS_OTHER_KEY_ID"], os.environ["S3_KMS_OTHER_KEY_ARN"]),
        ]
    assert DIRECT, "S3_KMS_KEY_ID / S3_KMS_OTHER_KEY_ID are not set: which keys of the gateway's KMS to use?"
    kms = boto3.session.Session().client("kms", endpoint_url=ENDPOINT, region_name=REGION)
    made = [kms.create_key(Description="versioning.py")["KeyMetadata"] for _ in range(2)]
    return [(m["KeyId"], m["Arn"]) for m in made]


# ------------------------------------------------------------------------------------------------
# The cases
# ------------------------------------------------------------------------------------------------


def get_head_by_version_id():
    s3 = client()
    with VersionedBucket(s3, "byid") as b:
        # Not multiples of 64 KiB (the gateway's segment), one of them smaller than a segment.
        datas = [body("byid v1", 200_000), body("byid v2", 70_001), body("byid v3", 131_077)]
        with step("three PutObjects of one key (SSE-S3, the default): three different version ids"):
            puts = [put(s3, b, "doc", d) for d in datas]
            vids = [p["VersionId"] for p in puts]
            assert len(set(vids)) == 3, f"three PUTs of one key gave version ids {vids}"
            if ENCRYPTED:
                for p in puts:
                    assert p.get("ServerSideEncryption") == "AES256", (
                        f"PutObject without SSE headers answered x-amz-server-side-encryption {p.get('ServerSideEncryption')!r}"
                    )
        with step("GetObject with each VersionId: that version's bytes and x-amz-version-id"):
            for i, (d, vid) in enumerate(zip(datas, vids)):
                got = s3.get_object(Bucket=b, Key="doc", VersionId=vid)
                check_read(got, d, vid, f"GET doc version {i + 1}")
                assert got["ETag"] == puts[i]["ETag"], f"GET version {i + 1}: ETag {got['ETag']} is not PUT's {puts[i]['ETag']}"
                if ENCRYPTED:
                    assert got.get("ServerSideEncryption") == "AES256", f"GET version {i + 1}: no SSE-S3 header"
        with step("HeadObject with each VersionId: plaintext Content-Length, x-amz-version-id, ETag"):
            for i, (d, vid) in enumerate(zip(datas, vids)):
                got = s3.head_object(Bucket=b, Key="doc", VersionId=vid)
                assert got["ContentLength"] == len(d), (
                    f"HEAD version {i + 1}: Content-Length {got['ContentLength']}, not the plaintext's {len(d)}"
                )
                assert got.get("VersionId") == vid, f"HEAD version {i + 1}: x-amz-version-id {got.get('VersionId')!r}"
                assert got["ETag"] == puts[i]["ETag"], f"HEAD version {i + 1}: ETag {got['ETag']} is not PUT's"
                if ENCRYPTED:
                    assert got.get("ServerSideEncryption") == "AES256", f"HEAD version {i + 1}: no SSE-S3 header"
        with step("GetObjectAttributes with each VersionId: that version's ETag and plaintext ObjectSize"):
            for i, (d, vid) in enumerate(zip(datas, vids)):
                got = s3.get_object_attributes(Bucket=b, Key="doc", VersionId=vid, ObjectAttributes=["ETag", "ObjectSize"])
                assert got["ObjectSize"] == len(d), f"GetObjectAttributes version {i + 1}: ObjectSize {got['ObjectSize']}"
                assert got["ETag"] == puts[i]["ETag"].strip('"'), f"GetObjectAttributes version {i + 1}: ETag {got['ETag']}"
                assert got.get("VersionId") == vid, f"GetObjectAttributes version {i + 1}: x-amz-version-id {got.get('VersionId')!r}"
        with step("GetObject without VersionId: the latest version"):
            check_read(s3.get_object(Bucket=b, Key="doc"), datas[2], vids[2], "GET doc")
        with step("ranged GetObject of old versions: the right slice of that version"):
            for i, rng, (lo, hi) in [
                (0, "bytes=65530-140000", (65530, 140000)),
                (0, "bytes=-100", (199_900, 199_999)),
                (1, "bytes=70000-", (70000, 70000)),
                (1, "bytes=1-2", (1, 2)),
            ]:
                got = s3.get_object(Bucket=b, Key="doc", VersionId=vids[i], Range=rng)
                read = got["Body"].read()
                want = datas[i][lo : hi + 1]
                assert read == want, f"GET version {i + 1} Range {rng}: {len(read)} bytes, not bytes {lo}-{hi} of it"
                assert got["ContentRange"] == f"bytes {lo}-{hi}/{len(datas[i])}", (
                    f"GET version {i + 1} Range {rng}: Content-Range {got.get('ContentRange')!r}"
                )
                assert got.get("VersionId") == vids[i], f"ranged GET version {i + 1}: x-amz-version-id {got.get('VersionId')!r}"
                assert got["ResponseMetadata"]["HTTPStatusCode"] == 206, f"ranged GET version {i + 1} is not 206"


def sse_c_versions_with_their_own_keys():
    s3 = client()
    key_a, key_b = os.urandom(32), os.urandom(32)
    md5 = {k: base64.b64encode(hashlib.md5(k).digest()).decode() for k in (key_a, key_b)}
    with VersionedBucket(s3, "ssec") as b:
        d1, d2 = body("ssec v1 key A", 100_000), body("ssec v2 key B", 70_000)
        with step("PutObject version 1 with SSE-C key A, version 2 with key B"):
            v1 = put(s3, b, "secret", d1, **sse_c(key_a))
            v2 = put(s3, b, "secret", d2, **sse_c(key_b))
            if ENCRYPTED:
                for v, k in [(v1, key_a), (v2, key_b)]:
                    assert v.get("SSECustomerAlgorithm") == "AES256", "PutObject with SSE-C: no SSECustomerAlgorithm"
                    assert v.get("SSECustomerKeyMD5") == md5[k], "PutObject with SSE-C: SSECustomerKeyMD5 is not the key's"
        vid1, vid2 = v1["VersionId"], v2["VersionId"]
        with step("GetObject and HeadObject of each version with its own key: its bytes, SSECustomerAlgorithm"):
            for vid, d, k, n in [(vid1, d1, key_a, 1), (vid2, d2, key_b, 2)]:
                got = s3.get_object(Bucket=b, Key="secret", VersionId=vid, **sse_c(k))
                check_read(got, d, vid, f"GET SSE-C version {n} with its key")
                head = s3.head_object(Bucket=b, Key="secret", VersionId=vid, **sse_c(k))
                assert head["ContentLength"] == len(d), f"HEAD SSE-C version {n}: Content-Length {head['ContentLength']}"
                assert head.get("VersionId") == vid, f"HEAD SSE-C version {n}: x-amz-version-id {head.get('VersionId')!r}"
                if ENCRYPTED:
                    for what, r in [("GET", got), ("HEAD", head)]:
                        assert r.get("SSECustomerAlgorithm") == "AES256", f"{what} SSE-C version {n}: no SSECustomerAlgorithm"
                        assert r.get("SSECustomerKeyMD5") == md5[k], f"{what} SSE-C version {n}: SSECustomerKeyMD5 wrong"
        with step("ranged GetObject of the old SSE-C version with its key"):
            got = s3.get_object(Bucket=b, Key="secret", VersionId=vid1, Range="bytes=65000-66000", **sse_c(key_a))
            assert got["Body"].read() == d1[65000:66001], "GET SSE-C version 1 bytes 65000-66000: wrong bytes"
        with step("GetObject without VersionId with key B: version 2"):
            check_read(s3.get_object(Bucket=b, Key="secret", **sse_c(key_b)), d2, vid2, "GET latest with key B")
        if ENCRYPTED:
            # moto's S3 ignores SSE-C altogether (no key check, no SSE-C headers in answers): the gateway's to do.
            with step("each version with the other version's key: 403; without a key: 400"):
                for vid, other, n in [(vid1, key_b, 1), (vid2, key_a, 2)]:
                    _, status = error_of(s3.get_object, Bucket=b, Key="secret", VersionId=vid, **sse_c(other))
                    assert status == 403, f"GET SSE-C version {n} with the other version's key answered {status}, not 403"
                    _, status = error_of(s3.head_object, Bucket=b, Key="secret", VersionId=vid, **sse_c(other))
                    assert status == 403, f"HEAD SSE-C version {n} with the other version's key answered {status}, not 403"
                    _, status = error_of(s3.get_object, Bucket=b, Key="secret", VersionId=vid)
                    assert status == 400, f"GET SSE-C version {n} without a key answered {status}, not 400"
                _, status = error_of(s3.get_object, Bucket=b, Key="secret", **sse_c(key_a))
                assert status == 403, f"GET of the latest (key B) with key A answered {status}, not 403"


def sse_kms_versions_under_two_key_ids():
    s3 = client()
    (id1, arn1), (id2, arn2) = kms_keys()
    with VersionedBucket(s3, "kms") as b:
        d1, d2 = body("kms v1", 90_000), body("kms v2", 150_000)
        with step("PutObject version 1 under one KMS key id, version 2 under another"):
            v1 = put(s3, b, "doc", d1, ServerSideEncryption="aws:kms", SSEKMSKeyId=id1)
            v2 = put(s3, b, "doc", d2, ServerSideEncryption="aws:kms", SSEKMSKeyId=id2)
        vids = [v1["VersionId"], v2["VersionId"]]
        with step("HeadObject and GetObject of each version: its bytes, its own key (the key's ARN), aws:kms"):
            for vid, d, arn, n in [(vids[0], d1, arn1, 1), (vids[1], d2, arn2, 2)]:
                head = s3.head_object(Bucket=b, Key="doc", VersionId=vid)
                got = s3.get_object(Bucket=b, Key="doc", VersionId=vid)
                check_read(got, d, vid, f"GET SSE-KMS version {n}")
                assert head["ContentLength"] == len(d), f"HEAD SSE-KMS version {n}: Content-Length {head['ContentLength']}"
                assert head.get("VersionId") == vid, f"HEAD SSE-KMS version {n}: x-amz-version-id {head.get('VersionId')!r}"
                if ENCRYPTED:
                    # S3 reports the key's ARN (README "SSE-KMS"); moto echoes the id as it was given.
                    for what, r in [("HEAD", head), ("GET", got)]:
                        assert r.get("ServerSideEncryption") == "aws:kms", f"{what} version {n}: SSE is {r.get('ServerSideEncryption')!r}"
                        assert r.get("SSEKMSKeyId") == arn, (
                            f"{what} version {n}: SSEKMSKeyId {r.get('SSEKMSKeyId')!r}, not its own key {arn}"
                        )
        with step("ranged GetObject of the old SSE-KMS version"):
            got = s3.get_object(Bucket=b, Key="doc", VersionId=vids[0], Range="bytes=65536-65600")
            assert got["Body"].read() == d1[65536:65601], "GET SSE-KMS version 1 bytes 65536-65600: wrong bytes"


def multipart_version_overwritten_by_a_single_put():
    s3 = client()
    with VersionedBucket(s3, "mpu") as b:
        # A whole-segment first part: an upload with a non-last part of odd size is re-encrypted into one stream
        # at Complete (README, "Listings without lookups"), and has no parts to read by PartNumber afterwards.
        p1, p2 = body("mpu part 1", PART), body("mpu part 2", MIB + 7)
        whole = p1 + p2
        single = body("mpu single", 300_001)
        (kms_id, _), _ = kms_keys()
        with step("multipart version (SSE-KMS): 2 parts (5 MiB, 1 MiB + 7 bytes), then a single-part PUT over it"):
            up = s3.create_multipart_upload(Bucket=b, Key="big", ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_id)
            etags = [
                s3.upload_part(Bucket=b, Key="big", UploadId=up["UploadId"], PartNumber=n, Body=p)["ETag"]
                for n, p in [(1, p1), (2, p2)]
            ]
            done = s3.complete_multipart_upload(
                Bucket=b,
                Key="big",
                UploadId=up["UploadId"],
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip([1, 2], etags)]},
            )
            vm = done.get("VersionId")
            assert vm and vm != "null", f"CompleteMultipartUpload in a versioned bucket answered x-amz-version-id {vm!r}"
            if ENCRYPTED:
                assert done.get("ServerSideEncryption") == "aws:kms", "CompleteMultipartUpload: no SSE-KMS header"
            vs = put(s3, b, "big", single)["VersionId"]
            assert vs != vm, "the single-part PUT got the multipart version's id"
        with step("both versions read back whole"):
            check_read(s3.get_object(Bucket=b, Key="big", VersionId=vm), whole, vm, "GET the multipart version")
            check_read(s3.get_object(Bucket=b, Key="big", VersionId=vs), single, vs, "GET the single-part version")
            check_read(s3.get_object(Bucket=b, Key="big"), single, vs, "GET without VersionId (latest)")
        # Its ETag is the one Complete answered (the gateway may have re-encrypted odd-sized SSE-S3 parts into one
        # stream at Complete, README "Listings without lookups", so not necessarily S3's `-2` form).
        with step("HeadObject of the multipart version: its length and the ETag Complete answered"):
            head = s3.head_object(Bucket=b, Key="big", VersionId=vm)
            assert head["ContentLength"] == len(whole), f"HEAD multipart version: Content-Length {head['ContentLength']}"
            assert head["ETag"] == done["ETag"], f"HEAD multipart version: ETag {head['ETag']}, Complete said {done['ETag']}"
        with step("ranged GETs of both versions (one across the part boundary)"):
            for vid, data, lo, hi in [
                (vm, whole, PART - 10, PART + 2000),
                (vm, whole, len(whole) - 70_000, len(whole) - 1),
                (vs, single, 65_000, 200_000),
            ]:
                got = s3.get_object(Bucket=b, Key="big", VersionId=vid, Range=f"bytes={lo}-{hi}")
                assert got["Body"].read() == data[lo : hi + 1], f"GET version {vid} bytes {lo}-{hi}: wrong bytes"
                assert got.get("VersionId") == vid, f"ranged GET: x-amz-version-id {got.get('VersionId')!r}, not {vid}"
        with step("GetObject PartNumber=1 / 2 of the multipart version: that part"):
            if aws_behaviour(
                "GetObject partNumber of a version",
                "answers 200 with the whole object, no Content-Range, no x-amz-mp-parts-count",
                gateway_answers=True,
            ):
                for n, part, lo in [(1, p1, 0), (2, p2, len(p1))]:
                    got = s3.get_object(Bucket=b, Key="big", VersionId=vm, PartNumber=n)
                    read = got["Body"].read()
                    assert read == part, f"GET multipart version PartNumber={n}: {len(read)} bytes, not part {n}'s {len(part)}"
                    assert got.get("PartsCount") == 2, f"GET PartNumber={n}: x-amz-mp-parts-count {got.get('PartsCount')!r}"
                    assert got["ContentRange"] == f"bytes {lo}-{lo + len(part) - 1}/{len(whole)}", (
                        f"GET PartNumber={n}: Content-Range {got.get('ContentRange')!r}"
                    )
                    assert got.get("VersionId") == vm, f"GET PartNumber={n}: x-amz-version-id {got.get('VersionId')!r}"
            head = s3.head_object(Bucket=b, Key="big", VersionId=vm, PartNumber=1)
            assert head["ContentLength"] == len(p1), f"HEAD PartNumber=1: Content-Length {head['ContentLength']}, not {len(p1)}"
            assert head.get("PartsCount") == 2, f"HEAD PartNumber=1: x-amz-mp-parts-count {head.get('PartsCount')!r}"


def copy_from_an_old_version():
    s3 = client()
    with VersionedBucket(s3, "copy") as b:
        d1, d2 = body("copy src v1", 150_000), body("copy src v2", 90_000)
        big1, big2 = body("copy big v1", PART + 100), body("copy big v2", 1000)
        with step("two versions of 'src' and of 'big' (the old 'big' is over 5 MiB)"):
            v1, v2 = (put(s3, b, "src", d)["VersionId"] for d in (d1, d2))
            bv1 = put(s3, b, "big", big1)["VersionId"]
            put(s3, b, "big", big2)
        with step("CopyObject of the old version onto another key: CopySourceVersionId, a new VersionId, its bytes"):
            got = s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
            assert got.get("CopySourceVersionId") == v1, (
                f"CopyObject from versionId {v1}: x-amz-copy-source-version-id {got.get('CopySourceVersionId')!r}"
            )
            vd = got.get("VersionId")
            assert vd and vd not in ("null", v1, v2), f"CopyObject into a versioned bucket: x-amz-version-id {vd!r}"
            check_read(s3.get_object(Bucket=b, Key="dst"), d1, vd, "GET the copy of the old version")
            head = s3.head_object(Bucket=b, Key="dst")
            assert head["ContentLength"] == len(d1), f"HEAD the copy: Content-Length {head['ContentLength']}"
            if ENCRYPTED:
                assert got.get("ServerSideEncryption") == "AES256", "CopyObject: no SSE-S3 header"
        with step("CopyObject of the old version onto its own key restores it as the current version"):
            got = s3.copy_object(Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
            assert got.get("CopySourceVersionId") == v1, (
                f"CopyObject onto itself from {v1}: x-amz-copy-source-version-id {got.get('CopySourceVersionId')!r}"
            )
            v3 = got.get("VersionId")
            assert v3 and v3 not in ("null", v1, v2), f"restoring copy: x-amz-version-id {v3!r}"
            check_read(s3.get_object(Bucket=b, Key="src"), d1, v3, "GET 'src' after restoring version 1")
            check_read(s3.get_object(Bucket=b, Key="src", VersionId=v2), d2, v2, "GET 'src' version 2 after the restore")
            check_read(s3.get_object(Bucket=b, Key="src", VersionId=v1), d1, v1, "GET 'src' version 1 after the restore")
            got = s3.get_object(Bucket=b, Key="src", VersionId=v3, Range="bytes=100000-100099")
            assert got["Body"].read() == d1[100_000:100_100], "ranged GET of the restored version: wrong bytes"
            versions, _ = all_versions(s3, b, Prefix="src")
            listed = {(e["VersionId"], e["IsLatest"], e["Size"]) for e in versions}
            want = {(v1, False, len(d1)), (v2, False, len(d2)), (v3, True, len(d1))}
            assert listed == want, f"ListObjectVersions of 'src' after the restore: {listed}, not {want}"
        with step("UploadPartCopy from old versions (a range of one, the whole of another), then Complete"):
            up = s3.create_multipart_upload(Bucket=b, Key="assembled")
            parts = []
            for n, source, rng in [(1, ("big", bv1), f"bytes=0-{PART - 1}"), (2, ("src", v2), None)]:
                kwargs = {"CopySourceRange": rng} if rng else {}
                got = s3.upload_part_copy(
                    Bucket=b,
                    Key="assembled",
                    UploadId=up["UploadId"],
                    PartNumber=n,
                    CopySource={"Bucket": b, "Key": source[0], "VersionId": source[1]},
                    **kwargs,
                )
                parts.append({"PartNumber": n, "ETag": got["CopyPartResult"]["ETag"]})
                if aws_behaviour(
                    "UploadPartCopy answers x-amz-copy-source-version-id",
                    "leaves the header out",
                    gateway_answers=True,
                ):
                    assert got.get("CopySourceVersionId") == source[1], (
                        f"UploadPartCopy part {n} from {source}: x-amz-copy-source-version-id {got.get('CopySourceVersionId')!r}"
                    )
            done = s3.complete_multipart_upload(
                Bucket=b, Key="assembled", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
            )
            want = big1[:PART] + d2
            check_read(s3.get_object(Bucket=b, Key="assembled"), want, done.get("VersionId"), "GET the assembled copy")


def delete_markers():
    s3 = client()
    with VersionedBucket(s3, "markers") as b:
        d1 = body("markers v1", 100_000)
        with step("PutObject, then DeleteObject without VersionId: a delete marker with a version id"):
            v1 = put(s3, b, "k", d1)["VersionId"]
            got = s3.delete_object(Bucket=b, Key="k")
            assert got.get("DeleteMarker") is True, f"DeleteObject in a versioned bucket: x-amz-delete-marker {got.get('DeleteMarker')!r}"
            dm = got.get("VersionId")
            assert dm and dm not in ("null", v1), f"DeleteObject's delete marker has x-amz-version-id {dm!r}"
        with step("GetObject without VersionId: 404 NoSuchKey; HeadObject: 404 with x-amz-delete-marker"):
            assert error_of(s3.get_object, Bucket=b, Key="k") == ("NoSuchKey", 404), "GET of a deleted key is not 404 NoSuchKey"
            try:
                s3.head_object(Bucket=b, Key="k")
                raise AssertionError("HEAD of a key whose latest version is a delete marker succeeded")
            except ClientError as e:
                meta = e.response["ResponseMetadata"]
                assert meta["HTTPStatusCode"] == 404, f"HEAD of a deleted key answered {meta['HTTPStatusCode']}, not 404"
                if aws_behaviour(
                    "HEAD of a key whose latest version is a delete marker answers x-amz-delete-marker: true",
                    ceph_does="leaves the header out",
                ):
                    assert meta["HTTPHeaders"].get("x-amz-delete-marker") == "true", (
                        f"HEAD of a deleted key: x-amz-delete-marker {meta['HTTPHeaders'].get('x-amz-delete-marker')!r}"
                    )
        with step("GetObject of the older version still works"):
            check_read(s3.get_object(Bucket=b, Key="k", VersionId=v1), d1, v1, "GET version 1 behind a delete marker")
        with step("ListObjectVersions: the marker in DeleteMarkers, IsLatest; the version not latest; no ListObjects entry"):
            versions, markers = all_versions(s3, b)
            assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in markers] == [("k", dm, True)], (
                f"DeleteMarkers: {[(m['Key'], m['VersionId'], m['IsLatest']) for m in markers]}"
            )
            assert [(v["Key"], v["VersionId"], v["IsLatest"], v["Size"]) for v in versions] == [("k", v1, False, len(d1))], (
                f"Versions: {[(v['Key'], v['VersionId'], v['IsLatest'], v['Size']) for v in versions]}"
            )
            listed = s3.list_objects_v2(Bucket=b).get("Contents", [])
            assert not listed, f"ListObjectsV2 shows a deleted key: {[e['Key'] for e in listed]}"
        with step("DeleteObject of the marker by its VersionId: the object is back"):
            got = s3.delete_object(Bucket=b, Key="k", VersionId=dm)
            assert got.get("VersionId") == dm, f"DeleteObject versionId={dm}: answered x-amz-version-id {got.get('VersionId')!r}"
            if aws_behaviour("DeleteObject of a delete marker answers x-amz-delete-marker: true", "leaves it out"):
                assert got.get("DeleteMarker") is True, "DeleteObject of a delete marker: no x-amz-delete-marker: true"
            check_read(s3.get_object(Bucket=b, Key="k"), d1, v1, "GET after deleting the delete marker")
            versions, markers = all_versions(s3, b)
            assert not markers, f"DeleteMarkers after deleting the marker: {markers}"
            assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v1, True)], f"Versions: {versions}"
        with step("DeleteObject with a version's VersionId deletes that version for good: 404 NoSuchVersion"):
            d2 = body("markers v2", 5000)
            v2 = put(s3, b, "k", d2)["VersionId"]
            got = s3.delete_object(Bucket=b, Key="k", VersionId=v1)
            assert got.get("VersionId") == v1, f"DeleteObject versionId={v1}: x-amz-version-id {got.get('VersionId')!r}"
            assert not got.get("DeleteMarker"), "DeleteObject of a version (not a marker) says x-amz-delete-marker"
            check_no_such_version(s3, b, "k", v1, "GET of a deleted version")
            check_read(s3.get_object(Bucket=b, Key="k"), d2, v2, "GET the remaining version")


def list_object_versions():
    s3 = client()
    with VersionedBucket(s3, "list") as b:
        sizes = {"a": [10, 70_000, 200_001], "b": [65_536], "c": [3000], "d e.txt": [12]}
        with step("versions of four keys (one with a space), a delete marker on 'c', a multipart version of 'b'"):
            written, latest = {}, {}  # (key, version id) -> plaintext size; key -> its latest version id
            for key, ss in sizes.items():
                for i, size in enumerate(ss):
                    latest[key] = put(s3, b, key, body(f"list {key} {i}", size))["VersionId"]
                    written[(key, latest[key])] = size
            up = s3.create_multipart_upload(Bucket=b, Key="b")
            p1, p2 = body("list b mpu 1", PART), body("list b mpu 2", 33)
            etags = [
                s3.upload_part(Bucket=b, Key="b", UploadId=up["UploadId"], PartNumber=n, Body=p)["ETag"]
                for n, p in [(1, p1), (2, p2)]
            ]
            done = s3.complete_multipart_upload(
                Bucket=b,
                Key="b",
                UploadId=up["UploadId"],
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip([1, 2], etags)]},
            )
            latest["b"] = done["VersionId"]
            written[("b", latest["b"])] = PART + 33
            marker = s3.delete_object(Bucket=b, Key="c")["VersionId"]
            latest["c"] = marker
        # SSE-C uploads with parts of odd sizes completed without the key (S3 does not ask for it): the gateway
        # cannot rewrite them as one stream; listings read the size it recorded at Complete (docs/format.md §6.6).
        secret = os.urandom(32)
        with step("two versions of 'e': SSE-C multipart uploads with odd parts, completed without the key"):
            for parts in [[PART + 1, 7], [PART + 3, 1]]:
                up = s3.create_multipart_upload(Bucket=b, Key="e", **sse_c(secret))
                done_parts = [
                    {"PartNumber": n, "ETag": s3.upload_part(Bucket=b, Key="e", UploadId=up["UploadId"], PartNumber=n,
                                                             Body=body(f"list e {n}", size), **sse_c(secret))["ETag"]}
                    for n, size in enumerate(parts, 1)
                ]
                done = s3.complete_multipart_upload(Bucket=b, Key="e", UploadId=up["UploadId"],
                                                    MultipartUpload={"Parts": done_parts})
                latest["e"] = done["VersionId"]
                written[("e", latest["e"])] = sum(parts)
        with step("ListObjectVersions: plaintext Size, ETag as HEAD of that version says, IsLatest, the marker"):
            versions, markers = all_versions(s3, b)
            assert_no_records(versions + markers, "ListObjectVersions")
            got = {(v["Key"], v["VersionId"]): v for v in versions}
            assert set(got) == set(written), f"listed versions {sorted(got)}, written {sorted(written)}"
            for (key, vid), v in got.items():
                assert v["Size"] == written[(key, vid)], (
                    f"{key!r} version {vid}: listed Size {v['Size']}, the plaintext is {written[(key, vid)]} bytes"
                )
                head = s3.head_object(Bucket=b, Key=key, VersionId=vid, **(sse_c(secret) if key == "e" else {}))
                assert v["ETag"] == head["ETag"], f"{key!r} version {vid}: listed ETag {v['ETag']}, HEAD says {head['ETag']}"
                assert v["IsLatest"] is (latest.get(key) == vid), f"{key!r} version {vid}: IsLatest {v['IsLatest']}"
            assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in markers] == [("c", marker, True)], (
                f"DeleteMarkers {[(m['Key'], m['VersionId'], m['IsLatest']) for m in markers]}"
            )
            order = [(v["Key"]) for v in versions]
            assert order == sorted(order), f"versions not in key order: {order}"
        with step("MaxKeys=1 pagination (KeyMarker/VersionIdMarker) walks every version and marker exactly once"):
            seen, kwargs, pages = [], {}, 0
            while True:
                page = s3.list_object_versions(Bucket=b, MaxKeys=1, **kwargs)
                pages += 1
                entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
                assert_no_records(entries, f"ListObjectVersions page {pages}")
                assert len(entries) == 1, (
                    f"page {pages} with MaxKeys=1 has {len(entries)} entries"
                    + (" (the gateway's own records counted in MaxKeys?)" if not entries else "")
                )
                seen += [(e["Key"], e["VersionId"]) for e in entries]
                if not page["IsTruncated"]:
                    break
                assert page.get("NextKeyMarker") and page.get("NextVersionIdMarker"), (
                    f"truncated page {pages} without NextKeyMarker/NextVersionIdMarker"
                )
                kwargs = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
                assert pages <= 3 * len(written), "pagination does not end"
            want = sorted(list(written) + [("c", marker)])
            assert len(seen) == len(set(seen)), f"pagination returned an entry twice: {seen}"
            assert sorted(seen) == want, f"pagination walked {sorted(seen)}, not every version and marker {want}"
        with step("KeyMarker alone: the listing resumes after that key"):
            page = s3.list_object_versions(Bucket=b, KeyMarker="b")
            keys = {e["Key"] for e in page.get("Versions", []) + page.get("DeleteMarkers", [])}
            assert_no_records(page.get("Versions", []) + page.get("DeleteMarkers", []), "KeyMarker='b'")
            assert {"c", "d e.txt"} <= keys and "a" not in keys, f"KeyMarker='b': listed keys {keys}"
            if aws_behaviour(
                "key-marker without version-id-marker starts after that key",
                "starts at that key",
                ceph_does="starts at that key",
            ):
                assert "b" not in keys, f"KeyMarker='b' without VersionIdMarker lists 'b' itself: {keys}"
        with step("MaxKeys=2 first page: two entries, not the gateway's records"):
            page = s3.list_object_versions(Bucket=b, MaxKeys=2)
            entries = [(e["Key"], e["VersionId"]) for e in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            assert len(entries) == 2 and all(k == "a" for k, _ in entries), f"MaxKeys=2 first page: {entries}"
            assert page["IsTruncated"], "MaxKeys=2 first page is not truncated"
        with step("EncodingType='url' (asked explicitly, so boto3 does not decode): keys url-encoded"):
            page = s3.list_object_versions(Bucket=b, EncodingType="url")
            keys = [v["Key"] for v in page.get("Versions", [])]
            assert len(keys) == len(written), f"EncodingType=url listed {len(keys)} versions, not {len(written)}"
            assert {urllib.parse.unquote_plus(k) for k in keys} == {k for k, _ in written}, f"EncodingType=url keys {keys}"
            if aws_behaviour(
                "ListObjectVersions encoding-type=url encodes keys and answers EncodingType",
                "neither encodes the keys nor answers EncodingType",
                # The gateway passes the backend's listing on (AWS and Ceph encode; so does the embedded backend).
                gateway_answers=False,
            ):
                assert page.get("EncodingType") == "url", f"EncodingType=url: the answer says {page.get('EncodingType')!r}"
                assert "d e.txt" not in keys and ("d+e.txt" in keys or "d%20e.txt" in keys), (
                    f"EncodingType=url: the key 'd e.txt' is listed as {[k for k in keys if k.startswith('d')]}"
                )


def suspended_versioning_and_the_null_version():
    s3 = client()
    with VersionedBucket(s3, "null") as b:
        d1, d2, d3 = body("null v1", 80_000), body("null second", 70_000), body("null third", 66_000)
        d4 = body("null v4", 65_537)
        with step("enabled: PutObject version 1; suspend versioning"):
            v1 = put(s3, b, "k", d1)["VersionId"]
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
            got = s3.get_bucket_versioning(Bucket=b).get("Status")
            assert got == "Suspended", f"GetBucketVersioning after suspending says {got!r}"
        with step("suspended: two PutObjects of the key (the second replaces the null version)"):
            for d in (d2, d3):
                got = s3.put_object(Bucket=b, Key="k", Body=d)
                assert got.get("VersionId") in (None, "null"), (
                    f"PutObject in a suspended bucket: x-amz-version-id {got.get('VersionId')!r}, not null"
                )
        with step("suspended: GetObject without VersionId is the last PUT"):
            got = s3.get_object(Bucket=b, Key="k")
            assert got["Body"].read() == d3, "GET in the suspended bucket: not the last PUT's bytes"
            if aws_behaviour(
                "GET of the null version answers x-amz-version-id: null",
                "leaves the header out",
                ceph_does="leaves the header out",
            ):
                assert got.get("VersionId") == "null", f"GET of the null version: x-amz-version-id {got.get('VersionId')!r}"
        with step("suspended: GetObject and HeadObject VersionId='null' are the last PUT"):
            if aws_behaviour(
                "GET and HEAD with a versionId while versioning is suspended",
                "HEAD with any versionId answers 400 unless versioning is Enabled (the gateway HEADs before a GET)",
            ):
                got = s3.get_object(Bucket=b, Key="k", VersionId="null")
                check_read(got, d3, "null", "GET versionId=null while suspended")
                head = s3.head_object(Bucket=b, Key="k", VersionId="null")
                assert head["ContentLength"] == len(d3), f"HEAD versionId=null: Content-Length {head['ContentLength']}"
                got = s3.get_object(Bucket=b, Key="k", VersionId=v1)
                check_read(got, d1, v1, "GET version 1 while suspended")
        with step("suspended: ListObjectVersions shows one null version, latest, with the last PUT's size"):
            versions, _ = all_versions(s3, b)
            nulls = [(v["VersionId"], v["IsLatest"], v["Size"]) for v in versions if v["VersionId"] == "null"]
            assert nulls == [("null", True, len(d3))], f"null versions listed: {nulls}"
            if aws_behaviour(
                "a PUT while versioning is suspended keeps the versions written while it was enabled",
                "deletes every version of the key",
            ):
                rest = [(v["VersionId"], v["IsLatest"], v["Size"]) for v in versions if v["VersionId"] != "null"]
                assert rest == [(v1, False, len(d1))], f"the version written before suspending is listed as {rest}"
        with step("re-enabled: GetObject / HeadObject VersionId='null' still the last PUT; a new version on top"):
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
            got = s3.get_object(Bucket=b, Key="k", VersionId="null")
            assert got["Body"].read() == d3, "GET versionId=null after re-enabling: not the last suspended PUT's bytes"
            head = s3.head_object(Bucket=b, Key="k", VersionId="null")
            assert head["ContentLength"] == len(d3), f"HEAD versionId=null: Content-Length {head['ContentLength']}"
            if aws_behaviour(
                "GET and HEAD of the null version answer x-amz-version-id: null",
                "leave the header out",
                ceph_does="leaves the header out",
            ):
                for what, r in [("GET", got), ("HEAD", head)]:
                    assert r.get("VersionId") == "null", f"{what} versionId=null: x-amz-version-id {r.get('VersionId')!r}"
            v4 = put(s3, b, "k", d4)["VersionId"]
            versions, _ = all_versions(s3, b)
            listed = [(v["VersionId"], v["IsLatest"]) for v in versions]
            assert ("null", False) in listed and (v4, True) in listed, f"after a PUT on top of the null version: {listed}"
        with step("DeleteObject VersionId='null': the null version is gone, the others stay"):
            got = s3.delete_object(Bucket=b, Key="k", VersionId="null")
            assert got.get("VersionId") == "null", f"DeleteObject versionId=null: x-amz-version-id {got.get('VersionId')!r}"
            versions, markers = all_versions(s3, b)
            assert not any(v["VersionId"] == "null" for v in versions + markers), "a null version is still listed"
            assert error_of(s3.get_object, Bucket=b, Key="k", VersionId="null")[1] == 404, (
                "GET versionId=null after deleting it is not 404"
            )
            check_read(s3.get_object(Bucket=b, Key="k"), d4, v4, "GET after deleting the null version")
            if aws_behaviour("the version written before suspending is still there", "deleted it at the suspended PUT"):
                listed = [(v["VersionId"], v["IsLatest"]) for v in versions]
                assert listed == [(v4, True), (v1, False)], f"versions after deleting the null version: {listed}"
                check_read(s3.get_object(Bucket=b, Key="k", VersionId=v1), d1, v1, "GET version 1 at the end")


def delete_objects_with_versions():
    s3 = client()
    with VersionedBucket(s3, "multidel") as b:
        xs = [body(f"multidel x {i}", 20_000 + i) for i in range(3)]
        ys = [body(f"multidel y {i}", 30_000 + i) for i in range(2)]
        with step("three versions of 'x', two of 'y'"):
            vx = [put(s3, b, "x", d)["VersionId"] for d in xs]
            vy = [put(s3, b, "y", d)["VersionId"] for d in ys]
        with step("DeleteObjects with Objects=[{Key, VersionId}]: exactly those versions are deleted"):
            asked = [("x", vx[0]), ("x", vx[2]), ("y", vy[1])]
            got = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k, "VersionId": v} for k, v in asked]})
            assert not got.get("Errors"), f"DeleteObjects errors: {got.get('Errors')}"
            deleted = sorted((d["Key"], d.get("VersionId")) for d in got.get("Deleted", []))
            assert deleted == sorted(asked), f"DeleteObjects says it deleted {deleted}, asked {sorted(asked)}"
            assert not any(d.get("DeleteMarker") for d in got["Deleted"]), "DeleteObjects of versions made delete markers"
            versions, markers = all_versions(s3, b)
            left = sorted((v["Key"], v["VersionId"], v["IsLatest"]) for v in versions)
            assert left == sorted([("x", vx[1], True), ("y", vy[0], True)]), f"versions left: {left}"
            assert not markers, f"delete markers after DeleteObjects of versions: {markers}"
            check_read(s3.get_object(Bucket=b, Key="x"), xs[1], vx[1], "GET 'x' (its version 2 is now the latest)")
            check_read(s3.get_object(Bucket=b, Key="y"), ys[0], vy[0], "GET 'y' (its version 1 is now the latest)")
            for k, v in asked:
                check_no_such_version(s3, b, k, v, f"GET {k!r} versionId={v} after DeleteObjects")
        with step("DeleteObjects without VersionId: delete markers (DeleteMarker, DeleteMarkerVersionId)"):
            got = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "x"}, {"Key": "y"}]})
            assert not got.get("Errors"), f"DeleteObjects errors: {got.get('Errors')}"
            marks = {d["Key"]: d for d in got.get("Deleted", [])}
            assert set(marks) == {"x", "y"}, f"DeleteObjects Deleted: {got.get('Deleted')}"
            for k, d in marks.items():
                assert d.get("DeleteMarker") is True, f"DeleteObjects of {k!r} without version: DeleteMarker {d.get('DeleteMarker')!r}"
                assert d.get("DeleteMarkerVersionId"), f"DeleteObjects of {k!r}: no DeleteMarkerVersionId"
            _, markers = all_versions(s3, b)
            assert sorted((m["Key"], m["VersionId"]) for m in markers) == sorted(
                (k, d["DeleteMarkerVersionId"]) for k, d in marks.items()
            ), f"listed markers {markers}"
            check_read(s3.get_object(Bucket=b, Key="x", VersionId=vx[1]), xs[1], vx[1], "GET 'x' version 2 behind its marker")


def empty_and_delete_a_versioned_bucket():
    s3 = client()
    (id1, _), (id2, _) = kms_keys()
    key_a, key_b = os.urandom(32), os.urandom(32)
    b = f"{BASE[:55]}-empty"
    with step(f"CreateBucket {b}, versioning Enabled"):
        s3.create_bucket(Bucket=b)
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    try:
        with step("versions in every SSE mode, a multipart version, delete markers"):
            for i in range(2):
                put(s3, b, "s3", body(f"empty sse-s3 {i}", 70_000 + i))
            put(s3, b, "ssec", body("empty sse-c a", 66_000), **sse_c(key_a))
            put(s3, b, "ssec", body("empty sse-c b", 1000), **sse_c(key_b))
            put(s3, b, "kms", body("empty kms 1", 5000), ServerSideEncryption="aws:kms", SSEKMSKeyId=id1)
            put(s3, b, "kms", body("empty kms 2", 70_000), ServerSideEncryption="aws:kms", SSEKMSKeyId=id2)
            up = s3.create_multipart_upload(Bucket=b, Key="mpu", **sse_c(key_a))
            etags = [
                s3.upload_part(Bucket=b, Key="mpu", UploadId=up["UploadId"], PartNumber=n, Body=p, **sse_c(key_a))["ETag"]
                for n, p in [(1, body("empty mpu 1", PART)), (2, body("empty mpu 2", 12_345))]
            ]
            s3.complete_multipart_upload(
                Bucket=b,
                Key="mpu",
                UploadId=up["UploadId"],
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip([1, 2], etags)]},
            )
            put(s3, b, "mpu", body("empty mpu over", 10))
            s3.delete_object(Bucket=b, Key="s3")
            s3.delete_object(Bucket=b, Key="kms")
            versions, markers = all_versions(s3, b)
            assert (len(versions), len(markers)) == (8, 2), f"listed {len(versions)} versions and {len(markers)} markers, not 8 and 2"
        with step("boto3.resource('s3').Bucket(b).object_versions.delete(): no errors, nothing left"):
            answers = resource().Bucket(b).object_versions.delete()
            errors = [e for a in answers for e in a.get("Errors", [])]
            assert not errors, f"object_versions.delete() errors: {errors}"
            deleted = sum(len(a.get("Deleted", [])) for a in answers)
            assert deleted == 10, f"object_versions.delete() deleted {deleted} entries, not the 8 versions and 2 markers"
            versions, markers = all_versions(s3, b)
            assert not versions and not markers, f"after object_versions.delete(): {versions + markers}"
        with step("DeleteBucket succeeds; HeadBucket is then 404"):
            s3.delete_bucket(Bucket=b)
            code, status = error_of(s3.head_bucket, Bucket=b)
            assert status == 404, f"HeadBucket after DeleteBucket answered {status} {code}: the bucket is still there"
    except Exception:
        try:
            empty_and_delete(s3, b)
        except Exception:  # noqa: BLE001 - best effort; the first failure is the one reported
            pass
        raise


def bucket_versioning_round_trip():
    s3 = client()
    with VersionedBucket(s3, "config", enable=False) as b:
        with step("a new bucket: GetBucketVersioning has no Status (never enabled)"):
            got = s3.get_bucket_versioning(Bucket=b)
            assert "Status" not in got and "MFADelete" not in got, f"GetBucketVersioning of a new bucket: {got}"
        for status in ["Enabled", "Suspended", "Enabled"]:
            with step(f"PutBucketVersioning {status}: GetBucketVersioning says {status}"):
                got = s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": status})
                assert got["ResponseMetadata"]["HTTPStatusCode"] == 200, f"PutBucketVersioning {status}: {got}"
                got = s3.get_bucket_versioning(Bucket=b)
                assert got.get("Status") == status, f"GetBucketVersioning after setting {status}: {got.get('Status')!r}"
        with step("a PUT in the re-enabled bucket gets a version id"):
            put(s3, b, "k", b"after re-enabling")


def backend_client():
    root = os.environ["S3_BACKEND_ROOT"]
    assert root.startswith("s3+http://"), f"S3_BACKEND_ROOT {root!r} is not s3+http://HOST:PORT"
    return boto3.session.Session().client(
        "s3",
        endpoint_url="http://" + root[len("s3+http://") :].rstrip("/"),
        aws_access_key_id=os.environ["S3_BACKEND_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["S3_BACKEND_SECRET_ACCESS_KEY"],
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}),
    )


def needles(data, what):
    """64-byte samples of a plaintext (start, middle, end): each occurs only where that plaintext does."""
    return [(f"{what} bytes {i}..{i + 64}", data[i : i + 64]) for i in sorted({0, len(data) // 2 - 32, len(data) - 64})]


def key_forms(key, what):
    b64 = base64.b64encode(key)
    return [(f"{what} ({n})", v) for n, v in [("raw", key), ("base64", b64), ("hex", key.hex().encode())]]


def backend_holds_no_plaintext():
    s3 = client()
    (id1, _), (id2, _) = kms_keys()
    key_a, key_b = os.urandom(32), os.urandom(32)
    with VersionedBucket(s3, "leaks") as b:
        plain = {}  # (key, version id) -> (plaintext, the SSE-C headers that read it)

        def write(key, data, **kwargs):
            vid = put(s3, b, key, data, **kwargs)["VersionId"]
            plain[(key, vid)] = (data, {k: v for k, v in kwargs.items() if k.startswith("SSECustomer")})
            return vid

        with step("versions with recognisable plaintext: SSE-S3, SSE-C (two keys), SSE-KMS (two keys), multipart, copies"):
            first = [write("s3", body(f"leaks sse-s3 {i}", 70_000 + 1000 * i)) for i in range(3)][0]
            for key, tag in [(key_a, "a"), (key_b, "b")]:
                write("ssec", body(f"leaks sse-c {tag}", 90_000), **sse_c(key))
            for kid, tag in [(id1, "1"), (id2, "2")]:
                write("kms", body(f"leaks kms {tag}", 100_000), ServerSideEncryption="aws:kms", SSEKMSKeyId=kid)
            parts = [body("leaks mpu 1", PART), body("leaks mpu 2", 4321)]
            up = s3.create_multipart_upload(Bucket=b, Key="mpu")
            etags = [
                s3.upload_part(Bucket=b, Key="mpu", UploadId=up["UploadId"], PartNumber=n + 1, Body=p)["ETag"]
                for n, p in enumerate(parts)
            ]
            done = s3.complete_multipart_upload(
                Bucket=b,
                Key="mpu",
                UploadId=up["UploadId"],
                MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]},
            )
            plain[("mpu", done["VersionId"])] = (parts[0] + parts[1], {})
            write("mpu", body("leaks mpu over", 2000))
            got = s3.copy_object(Bucket=b, Key="s3", CopySource={"Bucket": b, "Key": "s3", "VersionId": first})
            plain[("s3", got["VersionId"])] = plain[("s3", first)]
            s3.delete_object(Bucket=b, Key="kms")
        with step("every version reads back through the endpoint"):
            for (key, vid), (d, extra) in plain.items():
                check_read(s3.get_object(Bucket=b, Key=key, VersionId=vid, **extra), d, vid, f"GET {key!r} version {vid}")
        if not ENCRYPTED:
            return
        with step("every object version in the backend, read directly: no plaintext, no SSE-C key"):
            backend = backend_client()
            found = []
            for page in backend.get_paginator("list_object_versions").paginate(Bucket=b):
                for v in page.get("Versions", []):
                    got = backend.get_object(Bucket=b, Key=v["Key"], VersionId=v["VersionId"])
                    headers = "".join(f"{k}: {h}\n" for k, h in got["ResponseMetadata"]["HTTPHeaders"].items())
                    found.append((v["Key"], v["VersionId"], v["Size"], got["Body"].read() + b"\n" + headers.encode()))
            # Version ids are the backend's (PutObject, Complete and CopyObject pass them on): each version the
            # client wrote is one backend version, holding more bytes than its plaintext (the envelope).
            for (key, vid), (d, _) in plain.items():
                sizes = [size for k, v, size, _ in found if k == key and v == vid]
                assert sizes and sizes[0] > len(d), (
                    f"{key!r} version {vid}: the backend's object has {sizes} bytes, not more than the plaintext's {len(d)}"
                )
            look_for = [n for (key, vid), (d, _) in plain.items() for n in needles(d, f"{key!r} version {vid}")]
            look_for += key_forms(key_a, "SSE-C key A") + key_forms(key_b, "SSE-C key B")
            leaks = [f"{what} in backend {k!r} version {v}" for k, v, _, blob in found for what, n in look_for if n in blob]
            assert not leaks, "the backend holds plaintext or keys:\n" + "\n".join(leaks)


def empty_and_delete_locked(s3, b):
    """Empty an Object Lock bucket (legal holds off, GOVERNANCE retention bypassed) and delete it."""
    versions, markers = all_versions(s3, b)
    for e in versions + markers:
        if e in versions and s3.get_object_legal_hold(Bucket=b, Key=e["Key"], VersionId=e["VersionId"]).get(
            "LegalHold", {}
        ).get("Status") == "ON":
            s3.put_object_legal_hold(Bucket=b, Key=e["Key"], VersionId=e["VersionId"], LegalHold={"Status": "OFF"})
        s3.delete_object(Bucket=b, Key=e["Key"], VersionId=e["VersionId"], BypassGovernanceRetention=True)
    s3.delete_bucket(Bucket=b)


def object_lock_bucket():
    """An Object Lock bucket with a default retention: S3 (and moto) refuse a write there that carries neither
    `Content-MD5` nor a checksum, and the client's describe the plaintext, so the gateway's writes carry a
    checksum of the ciphertext (README, `object_lock_checksum`)."""
    s3 = client()
    b = f"{BASE[:57]}-lock"
    key_c = os.urandom(32)
    try:
        with step("CreateBucket with Object Lock, and a default retention (GOVERNANCE, 1 day)"):
            s3.create_bucket(Bucket=b, ObjectLockEnabledForBucket=True)
            got = s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
            assert got.get("ObjectLockEnabled") == "Enabled", f"GetObjectLockConfiguration: {got}"
            s3.put_object_lock_configuration(
                Bucket=b,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
                },
            )
        if not DIRECT:
            with step("the backend enforces it: a PUT straight to it without Content-MD5 or checksum is refused"):
                direct = boto3.session.Session().client(
                    "s3",
                    endpoint_url="http://" + os.environ["S3_BACKEND_ROOT"][len("s3+http://") :].rstrip("/"),
                    aws_access_key_id=os.environ["S3_BACKEND_ACCESS_KEY_ID"],
                    aws_secret_access_key=os.environ["S3_BACKEND_SECRET_ACCESS_KEY"],
                    region_name=REGION,
                    config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
                )
                got = error_of(direct.put_object, Bucket=b, Key="direct", Body=b"no integrity value")
                assert got[1] == 400, f"a PUT without Content-MD5 into the lock bucket answered {got}, not 400"
        objects = {}
        with step("PutObject SSE-S3 and SSE-C, single part"):
            for key, data, extra in [
                ("s3", body("lock sse-s3", 300_001), {}),
                ("ssec", body("lock sse-c", 70_000), sse_c(key_c)),
            ]:
                objects[key] = (put(s3, b, key, data, **extra)["VersionId"], data, extra)
        with step("multipart SSE-S3 and SSE-C (5 MiB + 1234 bytes)"):
            for key, extra in [("mpu", {}), ("mpu-c", sse_c(key_c))]:
                parts = [body(f"lock {key} 1", PART), body(f"lock {key} 2", 1234)]
                up = s3.create_multipart_upload(Bucket=b, Key=key, **extra)
                etags = [
                    s3.upload_part(Bucket=b, Key=key, UploadId=up["UploadId"], PartNumber=n + 1, Body=p, **extra)["ETag"]
                    for n, p in enumerate(parts)
                ]
                done = s3.complete_multipart_upload(
                    Bucket=b,
                    Key=key,
                    UploadId=up["UploadId"],
                    MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]},
                    **extra,
                )
                objects[key] = (done["VersionId"], parts[0] + parts[1], extra)
        with step("each reads back whole, and carries the bucket's default retention"):
            for key, (vid, data, extra) in objects.items():
                check_read(s3.get_object(Bucket=b, Key=key, **extra), data, vid, f"GET {key!r}")
                if key.startswith("mpu") and not aws_behaviour(
                    "a multipart object gets the bucket's default retention", moto_does="gives it none"
                ):
                    continue
                head = s3.head_object(Bucket=b, Key=key, **extra)
                assert head.get("ObjectLockMode") == "GOVERNANCE", f"HEAD {key!r}: ObjectLockMode {head.get('ObjectLockMode')!r}"
        with step("PutObject with retention and legal hold headers: HEAD, GetObjectRetention and GetObjectLegalHold"):
            import datetime

            until = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(days=2)
            data = body("lock explicit", 5000)
            vid = put(
                s3, b, "held", data, ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON"
            )["VersionId"]
            check_read(s3.get_object(Bucket=b, Key="held"), data, vid, "GET 'held'")
            head = s3.head_object(Bucket=b, Key="held")
            assert head.get("ObjectLockMode") == "GOVERNANCE", f"HEAD: ObjectLockMode {head.get('ObjectLockMode')!r}"
            assert head.get("ObjectLockRetainUntilDate") == until, f"HEAD: RetainUntilDate {head.get('ObjectLockRetainUntilDate')}, not {until}"
            assert head.get("ObjectLockLegalHoldStatus") == "ON", f"HEAD: LegalHoldStatus {head.get('ObjectLockLegalHoldStatus')!r}"
            if aws_behaviour("GetObjectRetention", moto_does="answers 500 InternalError"):
                got = s3.get_object_retention(Bucket=b, Key="held")["Retention"]
                assert got["Mode"] == "GOVERNANCE" and got["RetainUntilDate"] == until, f"GetObjectRetention: {got}"
            assert s3.get_object_legal_hold(Bucket=b, Key="held")["LegalHold"]["Status"] == "ON", "GetObjectLegalHold"
        with step("a locked version cannot be deleted without bypassing governance"):
            got = error_of(s3.delete_object, Bucket=b, Key="s3", VersionId=objects["s3"][0])
            assert got[1] in (400, 403), f"DeleteObject of a locked version answered {got}"
            check_read(s3.get_object(Bucket=b, Key="s3"), objects["s3"][1], objects["s3"][0], "GET 's3' after the refused delete")
        with step("empty the bucket (legal hold off, governance bypassed) and delete it"):
            empty_and_delete_locked(s3, b)
            code, status = error_of(s3.head_bucket, Bucket=b)
            assert status == 404, f"HeadBucket after DeleteBucket answered {status} {code}"
    except Exception:
        try:
            empty_and_delete_locked(s3, b)
        except Exception:  # noqa: BLE001 - best effort after a failure, which is what gets reported
            pass
        raise


def conditional_writes():
    """Conditional writes through the gateway on this backend (issue 20): If-None-Match: * (PutObject and
    CompleteMultipartUpload) and If-Match (PutObject, DeleteObject, a DeleteObjects entry) compare the ETag the
    client sees; the backend decides (docs/compatibility.md, "Conditional writes")."""
    s3 = client()
    stale = '"0123456789abcdef0123456789abcdef"'
    with VersionedBucket(s3, "cond", enable=False) as b:
        with step("PUT If-None-Match: * on a new key: 200; again: 412, the first body stays"):
            first = s3.put_object(Bucket=b, Key="k", Body=b"one", IfNoneMatch="*")["ETag"]
            got = error_of(s3.put_object, Bucket=b, Key="k", Body=b"two", IfNoneMatch="*")
            assert got == ("PreconditionFailed", 412), f"second If-None-Match: * PUT: {got}"
            assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"one", "the first body was replaced"
        with step("PUT If-Match with a stale ETag: 412, unchanged; on a missing key: 404 NoSuchKey"):
            got = error_of(s3.put_object, Bucket=b, Key="k", Body=b"two", IfMatch=stale)
            assert got == ("PreconditionFailed", 412), f"stale If-Match PUT: {got}"
            assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"one", "a refused PUT replaced the body"
            got = error_of(s3.put_object, Bucket=b, Key="none", Body=b"x", IfMatch=first)
            assert got == ("NoSuchKey", 404), f"If-Match PUT on a missing key: {got}"
        with step("PUT If-Match with the ETag the client saw: 200, replaced"):
            second = s3.put_object(Bucket=b, Key="k", Body=b"two", IfMatch=first)["ETag"]
            assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"two", "the If-Match PUT did not replace"
        with step("CompleteMultipartUpload If-None-Match: * over an existing key: 412, unchanged"):
            up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
            part = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"p" * 1000)["ETag"]
            got = error_of(s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=up, IfNoneMatch="*",
                           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part}]})
            assert got == ("PreconditionFailed", 412), f"Complete If-None-Match: * over k: {got}"
            s3.abort_multipart_upload(Bucket=b, Key="k", UploadId=up)
            assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"two", "a refused Complete replaced k"
        with step("DeleteObject If-Match with a stale ETag: 412, kept; with the current one: deleted"):
            got = error_of(s3.delete_object, Bucket=b, Key="k", IfMatch=stale)
            assert got == ("PreconditionFailed", 412), f"stale If-Match DELETE: {got}"
            assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"two", "a refused DELETE deleted k"
            s3.delete_object(Bucket=b, Key="k", IfMatch=second)
            assert error_of(s3.head_object, Bucket=b, Key="k")[1] == 404, "k is still there"
        with step("DeleteObjects entries with ETags: the current one deleted, a stale one kept"):
            etags = {k: s3.put_object(Bucket=b, Key=k, Body=k.encode())["ETag"] for k in ["d1", "d2"]}
            got = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "d1", "ETag": etags["d1"]},
                                                                  {"Key": "d2", "ETag": stale}]})
            deleted = sorted(d["Key"] for d in got.get("Deleted", []))
            errors = sorted((e["Key"], e["Code"]) for e in got.get("Errors", []))
            if aws_behaviour("a DeleteObjects entry's ETag is its If-Match", moto_does="ignores it: deletes both"):
                assert deleted == ["d1"] and errors == [("d2", "PreconditionFailed")], f"Deleted {deleted}, Errors {errors}"
            s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "d1"}, {"Key": "d2"}]})


CASES = {
    f.__name__: f
    for f in [
        get_head_by_version_id,
        sse_c_versions_with_their_own_keys,
        sse_kms_versions_under_two_key_ids,
        multipart_version_overwritten_by_a_single_put,
        copy_from_an_old_version,
        delete_markers,
        list_object_versions,
        suspended_versioning_and_the_null_version,
        delete_objects_with_versions,
        empty_and_delete_a_versioned_bucket,
        bucket_versioning_round_trip,
        backend_holds_no_plaintext,
        object_lock_bucket,
        conditional_writes,
    ]
}

def note_skipped():
    if SKIPPED:
        print(f"skipped (moto differs from AWS): {'; '.join(SKIPPED)}", flush=True)


if __name__ == "__main__":
    steps.run_case(CASES, __doc__, after=note_skipped)
