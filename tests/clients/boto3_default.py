#!/usr/bin/env python3
"""boto3 against the gateway, with boto3's DEFAULT client configuration.

Current boto3 (>= 1.36) sends PutObject/UploadPart bodies over HTTPS as aws-chunked with
`x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER` and an `x-amz-checksum-crc32` trailer;
this script exercises that path, plus presigned URLs, multipart, ranges, listing, copy, tagging,
and two non-default clients: `request_checksum_calculation='when_required'` (plain body with a
SHA-256-signed payload) and the same with `payload_signing_enabled=False` (UNSIGNED-PAYLOAD).

Environment (set by the Rust test harness):
    S3_ENDPOINT            https://127.0.0.1:PORT of the gateway
    AWS_ACCESS_KEY_ID      client credential the gateway accepts
    AWS_SECRET_ACCESS_KEY
    AWS_DEFAULT_REGION     us-east-1
    S3_CA_FILE             PEM CA certificate of the gateway's TLS certificate
    S3_BUCKET              bucket to create (must not exist yet); removed again at the end
    WORK_DIR               scratch directory
    S3_BACKEND_ROOT        the backend's files (checked for plaintext and SSE-C keys)
    S3_CLIENT_PART         which steps: "main" (the default) or "sse-kms", which needs the S3_KMS_* variables
                           the harness sets (tests/clients.rs): S3_KMS_KIND ("local" or "aws"),
                           S3_KMS_DEFAULT_KEY_ARN (the gateway's default key), S3_KMS_KEY_ALIAS / _ID / _ARN
                           (one key three ways), S3_KMS_OTHER_KEY_ID / _ARN (another key), and for the local
                           KMS S3_KMS_ADMIN (the `kms` subcommand for this gateway) and S3_KMS_MASTER_KEY_DIR
                           (its master keys, 32 raw bytes a file: none may reach the backend)

Exit status 0 only if every check held. Each step is printed; a failure prints the step.
"""

import base64
import hashlib
import io
import json
import os
import shlex
import ssl
import subprocess
import sys
import traceback
import urllib.error
import urllib.request

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backend_leaks  # noqa: E402
import steps  # noqa: E402
from steps import check, check_eq, step  # noqa: E402

KIB = 1024
MIB = 1024 * 1024

def is_not_implemented(err):
    """The backend (e.g. the embedded s3s-fs) does not implement the operation: HTTP 501
    NotImplemented, passed through by the gateway unchanged."""
    return isinstance(err, ClientError) and err.response.get("Error", {}).get("Code") == "NotImplemented"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def env(name):
    value = os.environ.get(name)
    if not value:
        print(f"FAIL: environment variable {name} is not set", flush=True)
        sys.exit(2)
    return value


ENDPOINT = env("S3_ENDPOINT")
CA_FILE = env("S3_CA_FILE")
BUCKET = env("S3_BUCKET")
WORK_DIR = env("WORK_DIR")
BACKEND_ROOT = env("S3_BACKEND_ROOT")
env("AWS_ACCESS_KEY_ID")
env("AWS_SECRET_ACCESS_KEY")
REGION = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
PART = os.environ.get("S3_CLIENT_PART") or "main"
if PART not in ("main", "sse-kms"):
    print(f"FAIL: S3_CLIENT_PART must be main or sse-kms, not {PART}", flush=True)
    sys.exit(2)
KMS_VARS = ["KIND", "DEFAULT_KEY_ARN", "KEY_ALIAS", "KEY_ID", "KEY_ARN", "OTHER_KEY_ID", "OTHER_KEY_ARN"]
KMS = {v: env(f"S3_KMS_{v}") for v in KMS_VARS} if PART == "sse-kms" else {}
# DEFAULT configuration means no ~/.aws/config of whoever runs the tests either.
os.environ.setdefault("AWS_CONFIG_FILE", os.path.join(WORK_DIR, "boto3-no-config"))
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", os.path.join(WORK_DIR, "boto3-no-credentials"))


def make_client(config=None):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        verify=CA_FILE,
        config=config,
    )


def https_opener():
    ctx = ssl.create_default_context(cafile=CA_FILE)
    # No proxies: the gateway is on loopback.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx))


def urlopen(opener, req):
    try:
        return opener.open(req, timeout=60)
    except urllib.error.HTTPError as e:
        body = e.read()[:2000]
        raise AssertionError(f"HTTP {e.code} {e.reason} for {req.get_method()} {req.full_url}: {body!r}") from None


def get_bytes(s3, key, **kwargs):
    resp = s3.get_object(Bucket=BUCKET, Key=key, **kwargs)
    return resp, resp["Body"].read()


def client_error(fn, **kwargs):
    """(error code, HTTP status) of the ClientError that `fn(**kwargs)` must raise."""
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{fn.__name__} succeeded where it must fail")


def cleanup(s3, strict):
    """Delete every object and upload in the bucket, then the bucket. Raises if `strict`."""
    try:
        try:
            uploads = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        except ClientError as e:
            if not is_not_implemented(e):
                raise
            uploads = []  # not implemented by the backend; nothing to abort that we know of
        for up in uploads:
            s3.abort_multipart_upload(Bucket=BUCKET, Key=up["Key"], UploadId=up["UploadId"])
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=BUCKET):
            objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objs:
                resp = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": objs, "Quiet": True})
                check(not resp.get("Errors"), f"delete_objects errors during cleanup: {resp.get('Errors')}")
        s3.delete_bucket(Bucket=BUCKET)
    except Exception:
        if strict:
            raise
        print("    (best-effort cleanup after failure also failed:)", flush=True)
        traceback.print_exc()


def delete_bucket(s3):
    """The last step of either part."""
    with step("delete everything and the bucket"):
        cleanup(s3, strict=True)
        names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
        check(BUCKET not in names, f"bucket {BUCKET} still listed after delete_bucket")


def sse_kms_steps(s3):
    """SSE-KMS (S3_CLIENT_PART=sse-kms), with the keys the harness made in the gateway's KMS (see KMS above)."""
    kms = {"ServerSideEncryption": "aws:kms"}
    data = os.urandom(200 * KIB + 7)

    def check_kms(resp, arn, what, bucket_key=False):
        check_eq(resp.get("ServerSideEncryption"), "aws:kms", f"{what}: ServerSideEncryption")
        check_eq(resp.get("SSEKMSKeyId"), arn, f"{what}: SSEKMSKeyId")
        check_eq(bool(resp.get("BucketKeyEnabled")), bucket_key, f"{what}: BucketKeyEnabled")

    with step("SSE-KMS: put_object with the default key; get_object (whole and Range), head_object"):
        put = s3.put_object(Bucket=BUCKET, Key="kms/default.bin", Body=data, **kms)
        check_kms(put, KMS["DEFAULT_KEY_ARN"], "put_object")
        check(put["ETag"] != f'"{hashlib.md5(data).hexdigest()}"', "an SSE-KMS ETag is not the data's MD5")
        resp, got = get_bytes(s3, "kms/default.bin")
        check_eq(got, data, "get_object body")
        check_kms(resp, KMS["DEFAULT_KEY_ARN"], "get_object")
        check_eq(resp["ETag"], put["ETag"], "get_object ETag = put_object ETag")
        resp, got = get_bytes(s3, "kms/default.bin", Range="bytes=65530-140000")
        check_eq(resp["ResponseMetadata"]["HTTPStatusCode"], 206, "ranged get_object status")
        check_eq(got, data[65530:140001], "ranged get_object body")
        check_eq(resp["ContentRange"], f"bytes 65530-140000/{len(data)}", "ranged get_object ContentRange")
        head = s3.head_object(Bucket=BUCKET, Key="kms/default.bin")
        check_eq(head["ContentLength"], len(data), "head_object ContentLength")
        check_kms(head, KMS["DEFAULT_KEY_ARN"], "head_object")

    with step("SSE-KMS: put_object with SSEKMSKeyId (alias, key id, ARN), SSEKMSEncryptionContext, BucketKeyEnabled"):
        context = {"department": "finance", "suite": "boto3"}
        ctx = base64.b64encode(json.dumps(context).encode()).decode()
        for ref in (KMS["KEY_ALIAS"], KMS["KEY_ID"], KMS["KEY_ARN"]):
            put = s3.put_object(
                Bucket=BUCKET,
                Key="kms/named.bin",
                Body=data,
                SSEKMSKeyId=ref,
                SSEKMSEncryptionContext=ctx,
                BucketKeyEnabled=True,
                **kms,
            )
            check_kms(put, KMS["KEY_ARN"], f"put_object with SSEKMSKeyId={ref}", bucket_key=True)
            # The same context; the gateway echoes it re-serialized (compact JSON), not byte for byte.
            echoed = json.loads(base64.b64decode(put.get("SSEKMSEncryptionContext", "")))
            check_eq(echoed, context, "put_object SSEKMSEncryptionContext (decoded)")
            resp, got = get_bytes(s3, "kms/named.bin")
            check_eq(got, data, "get_object body")
            check_kms(resp, KMS["KEY_ARN"], "get_object", bucket_key=True)
            check_kms(s3.head_object(Bucket=BUCKET, Key="kms/named.bin"), KMS["KEY_ARN"], "head_object", True)

    with step("SSE-KMS: upload_file / download_file multipart (12 MiB + 3, 5 MiB parts) with ExtraArgs"):
        src = os.path.join(WORK_DIR, "boto3-kms-multipart.bin")
        dst = os.path.join(WORK_DIR, "boto3-kms-multipart.down")
        with open(src, "wb") as f:
            f.write(os.urandom(12 * MIB + 3))
        tc = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, preferred_transfer_client="classic")
        s3.upload_file(src, BUCKET, "kms/multipart.bin", ExtraArgs={**kms, "SSEKMSKeyId": KMS["KEY_ID"]}, Config=tc)
        head = s3.head_object(Bucket=BUCKET, Key="kms/multipart.bin")
        check_eq(head["ContentLength"], 12 * MIB + 3, "multipart ContentLength")
        check(head["ETag"].endswith('-3"'), f"multipart ETag {head['ETag']} is not a 3-part one")
        check_kms(head, KMS["KEY_ARN"], "head_object of the multipart object")
        s3.download_file(BUCKET, "kms/multipart.bin", dst, Config=tc)
        check_eq(sha256_file(dst), sha256_file(src), "sha256 of the downloaded multipart object")
        with open(src, "rb") as f:
            f.seek(5 * MIB - 10)
            expected = f.read(20)
        _, got = get_bytes(s3, "kms/multipart.bin", Range=f"bytes={5 * MIB - 10}-{5 * MIB + 9}")
        check_eq(got, expected, "a range across the first part boundary")
        os.remove(dst)

    with step("SSE-KMS: copy_object to another key"):
        copied = s3.copy_object(
            Bucket=BUCKET,
            Key="kms/copied.bin",
            CopySource={"Bucket": BUCKET, "Key": "kms/default.bin"},
            SSEKMSKeyId=KMS["OTHER_KEY_ID"],
            **kms,
        )
        check_kms(copied, KMS["OTHER_KEY_ARN"], "copy_object")
        resp, got = get_bytes(s3, "kms/copied.bin")
        check_eq(got, data, "get_object of the copy")
        check_kms(resp, KMS["OTHER_KEY_ARN"], "get_object of the copy")
        check_kms(s3.head_object(Bucket=BUCKET, Key="kms/default.bin"), KMS["DEFAULT_KEY_ARN"], "the source")

    missing = {"Bucket": BUCKET, "Key": "kms/missing.bin"}
    with step("SSE-KMS: an unknown key id is KMS.NotFoundException (400), and nothing is written"):
        unknown = {**kms, "SSEKMSKeyId": "alias/boto3-no-such-key"}
        code = client_error(s3.put_object, **missing, Body=b"x", **unknown)
        check_eq(code, ("KMS.NotFoundException", 400), "put_object under an unknown key")
        code = client_error(s3.create_multipart_upload, **missing, **unknown)
        check_eq(code, ("KMS.NotFoundException", 400), "create_multipart_upload under an unknown key")
        check_eq(client_error(s3.head_object, **missing), ("404", 404), "head_object of what was refused")

    disabled_step = "SSE-KMS: a disabled key is KMS.DisabledException (400), and nothing is written; enabled, it works"
    if KMS["KIND"] != "local":
        print(
            f"--- {disabled_step}\n    SKIPPED for the {KMS['KIND']} KMS (moto): moto accepts a disabled key for "
            "GenerateDataKey and Decrypt (DisableKey only changes DescribeKey), so there is nothing to see here; "
            "tests/kms_aws.rs checks the gateway's answer to the DisabledException AWS gives",
            flush=True,
        )
    else:
        with step(disabled_step):
            admin = shlex.split(env("S3_KMS_ADMIN"))
            other = {**kms, "SSEKMSKeyId": KMS["OTHER_KEY_ID"]}
            subprocess.run([*admin, "disable", KMS["OTHER_KEY_ID"]], check=True)
            try:
                code = client_error(s3.put_object, **missing, Body=b"x", **other)
                check_eq(code, ("KMS.DisabledException", 400), "put_object under a disabled key")
                check_eq(client_error(s3.head_object, **missing), ("404", 404), "head_object of what was refused")
            finally:
                subprocess.run([*admin, "enable", KMS["OTHER_KEY_ID"]], check=True)
            put = s3.put_object(**missing, Body=b"x", **other)
            check_kms(put, KMS["OTHER_KEY_ARN"], "put_object under the key enabled again")

    with step("SSE-KMS: the backend's files hold neither the data nor the KMS's master keys"):
        plain = os.path.join(WORK_DIR, "boto3-kms-object.bin")
        with open(plain, "wb") as f:
            f.write(data)
        rc = backend_leaks.main([os.path.join(BACKEND_ROOT, BUCKET), "--plain", plain, src, "--kms-master-keys"])
        check_eq(rc, 0, "backend_leaks")
        os.remove(plain)
        os.remove(src)


def main():
    s3 = make_client()
    print(f"boto3 {boto3.__version__} / botocore {botocore.__version__}; endpoint {ENDPOINT}; bucket {BUCKET}")
    bucket_created = False

    small = os.urandom(KIB)
    big = os.urandom(5 * MIB + 1)

    try:
        with step(f"create_bucket {BUCKET}"):
            s3.create_bucket(Bucket=BUCKET)
            bucket_created = True
            s3.head_bucket(Bucket=BUCKET)
            names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
            check(BUCKET in names, f"list_buckets does not show {BUCKET}: {names}")

        if PART == "sse-kms":
            sse_kms_steps(s3)
            delete_bucket(s3)
            print("boto3_default sse-kms: all checks passed", flush=True)
            return 0

        etags = {}
        with step("put_object small.bin (1 KiB) and get it back"):
            put = s3.put_object(Bucket=BUCKET, Key="small.bin", Body=small)
            etags["small.bin"] = put["ETag"]
            resp, data = get_bytes(s3, "small.bin")
            check_eq(data, small, "GET small.bin body")
            check_eq(resp["ContentLength"], len(small), "GET small.bin Content-Length")
            check_eq(resp["ETag"], put["ETag"], "GET small.bin ETag vs PUT ETag")

        with step("put_object big/five-mib-plus-one.bin (5 MiB + 1, random) and get it back"):
            put = s3.put_object(Bucket=BUCKET, Key="big/five-mib-plus-one.bin", Body=big)
            etags["big"] = put["ETag"]
            resp, data = get_bytes(s3, "big/five-mib-plus-one.bin")
            check_eq(resp["ContentLength"], len(big), "GET big Content-Length")
            check_eq(data, big, "GET big body")

        with step("head_object big/five-mib-plus-one.bin"):
            head = s3.head_object(Bucket=BUCKET, Key="big/five-mib-plus-one.bin")
            check_eq(head["ContentLength"], len(big), "HEAD Content-Length")
            check_eq(head["ETag"], etags["big"], "HEAD ETag vs PUT ETag")
            check("LastModified" in head, "HEAD has no Last-Modified")

        with step("ranged get bytes=100-199 and bytes=-10"):
            resp, data = get_bytes(s3, "big/five-mib-plus-one.bin", Range="bytes=100-199")
            check_eq(data, big[100:200], "bytes=100-199 body")
            check_eq(resp["ContentLength"], 100, "bytes=100-199 Content-Length")
            check_eq(resp.get("ContentRange"), f"bytes 100-199/{len(big)}", "bytes=100-199 Content-Range")
            check_eq(resp["ResponseMetadata"]["HTTPStatusCode"], 206, "bytes=100-199 status")
            resp, data = get_bytes(s3, "big/five-mib-plus-one.bin", Range="bytes=-10")
            check_eq(data, big[-10:], "bytes=-10 body")
            check_eq(resp["ContentLength"], 10, "bytes=-10 Content-Length")
            check_eq(resp.get("ContentRange"), f"bytes {len(big) - 10}-{len(big) - 1}/{len(big)}", "bytes=-10 Content-Range")
            resp, data = get_bytes(s3, "small.bin", Range="bytes=1000-")
            check_eq(data, small[1000:], "small.bin bytes=1000- body")

        # `+`, space and `%2B` in keys and in a common prefix: boto3 asks for encoding-type=url and decodes `+` as
        # a space, so a backend that does not encode its listing shows other names (s3s-fs 0.14 did).
        list_keys = ["list/a.txt", "list/b+c d%2B.txt", "list/s+b d/c.txt"]
        with step("list_objects_v2 with prefix (and delimiter)"):
            for k in list_keys:
                s3.put_object(Bucket=BUCKET, Key=k, Body=k.encode())
            resp = s3.list_objects_v2(Bucket=BUCKET, Prefix="list/")
            got = sorted(o["Key"] for o in resp.get("Contents", []))
            check_eq(got, sorted(list_keys), "keys under prefix list/")
            check_eq(resp.get("KeyCount"), len(list_keys), "KeyCount under prefix list/")
            sizes = {o["Key"]: o["Size"] for o in resp["Contents"]}
            for k in list_keys:
                check_eq(sizes[k], len(k.encode()), f"listed size of {k}")
            resp = s3.list_objects_v2(Bucket=BUCKET, Prefix="list/", Delimiter="/")
            got = sorted(o["Key"] for o in resp.get("Contents", []))
            check_eq(got, ["list/a.txt", "list/b+c d%2B.txt"], "keys under list/ with delimiter /")
            prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
            check_eq(prefixes, ["list/s+b d/"], "common prefixes under list/")
            resp = s3.list_objects(Bucket=BUCKET, Prefix="list/s+b d/")
            check_eq([o["Key"] for o in resp.get("Contents", [])], ["list/s+b d/c.txt"], "ListObjects (v1) under list/s+b d/")
            resp = s3.list_objects_v2(Bucket=BUCKET, Prefix="big/")
            got = [(o["Key"], o["Size"]) for o in resp.get("Contents", [])]
            check_eq(got, [("big/five-mib-plus-one.bin", len(big))], "listing of prefix big/")

        with step("copy_object small.bin -> copy/small-copy.bin"):
            s3.copy_object(Bucket=BUCKET, Key="copy/small-copy.bin", CopySource={"Bucket": BUCKET, "Key": "small.bin"})
            resp, data = get_bytes(s3, "copy/small-copy.bin")
            check_eq(data, small, "GET copy body")
            check_eq(resp["ContentLength"], len(small), "GET copy Content-Length")

        with step("delete_objects list/*"):
            resp = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in list_keys]})
            check(not resp.get("Errors"), f"delete_objects returned errors: {resp.get('Errors')}")
            deleted = sorted(d["Key"] for d in resp.get("Deleted", []))
            check_eq(deleted, sorted(list_keys), "deleted keys")
            resp = s3.list_objects_v2(Bucket=BUCKET, Prefix="list/")
            check_eq(resp.get("KeyCount"), 0, "KeyCount under list/ after delete_objects")

        with step("multipart upload_fileobj (12 MiB, 5 MiB parts) + download_fileobj, compare sha256"):
            src = os.path.join(WORK_DIR, "boto3-multipart-12MiB.bin")
            dst = os.path.join(WORK_DIR, "boto3-multipart-12MiB.down")
            with open(src, "wb") as f:
                f.write(os.urandom(12 * MIB))
            calls = {"UploadPart": 0, "CreateMultipartUpload": 0, "CompleteMultipartUpload": 0}

            def count(event_name, **_kwargs):
                calls[event_name.split(".")[-1]] += 1

            for op in calls:
                s3.meta.events.register(f"after-call.s3.{op}", count)
            tc = TransferConfig(
                multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, preferred_transfer_client="classic"
            )
            with open(src, "rb") as f:
                s3.upload_fileobj(f, BUCKET, "multipart/twelve-mib.bin", Config=tc)
            for op in calls:
                s3.meta.events.unregister(f"after-call.s3.{op}", count)
            check_eq(calls, {"UploadPart": 3, "CreateMultipartUpload": 1, "CompleteMultipartUpload": 1}, "multipart API calls")
            head = s3.head_object(Bucket=BUCKET, Key="multipart/twelve-mib.bin")
            check_eq(head["ContentLength"], 12 * MIB, "multipart object Content-Length")
            print(f"    multipart ETag {head['ETag']}")
            with open(dst, "wb") as f:
                s3.download_fileobj(BUCKET, "multipart/twelve-mib.bin", f, Config=tc)
            check_eq(sha256_file(dst), sha256_file(src), "sha256 of downloaded multipart object")
            os.remove(src)
            os.remove(dst)

        # Every backend of the suite implements object tagging (the embedded one since s3s-fs's 501 was replaced).
        with step("put_object_tagging / get_object_tagging"):
            tags = [{"Key": "project", "Value": "s3-sse-proxy"}, {"Key": "env", "Value": "ci test"}]
            s3.put_object_tagging(Bucket=BUCKET, Key="small.bin", Tagging={"TagSet": tags})
            got = s3.get_object_tagging(Bucket=BUCKET, Key="small.bin")["TagSet"]
            check_eq(
                sorted((t["Key"], t["Value"]) for t in got),
                sorted((t["Key"], t["Value"]) for t in tags),
                "tag set",
            )

        opener = https_opener()
        presigner = make_client(Config(signature_version="s3v4"))

        with step("presigned GET (s3v4) fetched with urllib"):
            url = presigner.generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": "big/five-mib-plus-one.bin"}, ExpiresIn=300
            )
            check("X-Amz-Signature=" in url, f"not a SigV4 presigned URL: {url}")
            with urlopen(opener, urllib.request.Request(url, method="GET")) as r:
                data = r.read()
                check_eq(r.status, 200, "presigned GET status")
            check_eq(data, big, "presigned GET body")

        with step("presigned PUT (s3v4) uploaded with urllib, then get_object"):
            payload = os.urandom(64 * KIB + 7)
            url = presigner.generate_presigned_url(
                "put_object", Params={"Bucket": BUCKET, "Key": "presigned/put.bin"}, ExpiresIn=300
            )
            check("X-Amz-Signature=" in url, f"not a SigV4 presigned URL: {url}")
            req = urllib.request.Request(
                url, data=payload, method="PUT", headers={"Content-Type": "application/octet-stream"}
            )
            with urlopen(opener, req) as r:
                r.read()
                check_eq(r.status, 200, "presigned PUT status")
            resp, data = get_bytes(s3, "presigned/put.bin")
            check_eq(data, payload, "GET of presigned-PUT object")

        # Without a checksum, botocore signs the payload (x-amz-content-sha256 = hex SHA-256, plain
        # Content-Length body).
        with step("client with request_checksum_calculation='when_required': put/get round trip"):
            s3_wr = make_client(Config(request_checksum_calculation="when_required"))
            payload = os.urandom(256 * KIB + 3)
            s3_wr.put_object(Bucket=BUCKET, Key="when-required/object.bin", Body=payload)
            resp, data = get_bytes(s3_wr, "when-required/object.bin")
            check_eq(data, payload, "when_required round trip body")
            check_eq(resp["ContentLength"], len(payload), "when_required round trip Content-Length")

        # x-amz-content-sha256 = UNSIGNED-PAYLOAD, plain Content-Length body.
        with step("client with when_required + payload_signing_enabled=False (UNSIGNED-PAYLOAD): put/get"):
            s3_unsigned = make_client(
                Config(request_checksum_calculation="when_required", s3={"payload_signing_enabled": False})
            )
            payload = os.urandom(100 * KIB + 1)
            s3_unsigned.put_object(Bucket=BUCKET, Key="unsigned-payload/object.bin", Body=payload)
            resp, data = get_bytes(s3_unsigned, "unsigned-payload/object.bin")
            check_eq(data, payload, "unsigned-payload round trip body")

        # SSE-C: boto3 base64-encodes SSECustomerKey and adds its MD5 itself.
        key_a, key_b = os.urandom(32), os.urandom(32)
        ssec_a = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key_a}
        ssec_b = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key_b}
        md5_a = base64.b64encode(hashlib.md5(key_a).digest()).decode()
        ssec_data = os.urandom(200 * KIB + 7)
        with step("SSE-C: put_object, get_object (whole and Range), head_object with SSECustomerKey"):
            put = s3.put_object(Bucket=BUCKET, Key="ssec/object.bin", Body=ssec_data, **ssec_a)
            check_eq(put.get("SSECustomerAlgorithm"), "AES256", "put_object SSECustomerAlgorithm")
            check_eq(put.get("SSECustomerKeyMD5"), md5_a, "put_object SSECustomerKeyMD5")
            check(put["ETag"] != f'"{hashlib.md5(ssec_data).hexdigest()}"', "an SSE-C ETag is not the data's MD5")
            resp, data = get_bytes(s3, "ssec/object.bin", **ssec_a)
            check_eq(data, ssec_data, "SSE-C get_object body")
            check_eq(resp.get("SSECustomerKeyMD5"), md5_a, "get_object SSECustomerKeyMD5")
            check_eq(resp["ETag"], put["ETag"], "get_object ETag = put_object ETag")
            resp, data = get_bytes(s3, "ssec/object.bin", Range="bytes=65530-140000", **ssec_a)
            check_eq(data, ssec_data[65530:140001], "SSE-C ranged get_object body")
            check_eq(resp["ContentRange"], f"bytes 65530-140000/{len(ssec_data)}", "SSE-C ranged ContentRange")
            head = s3.head_object(Bucket=BUCKET, Key="ssec/object.bin", **ssec_a)
            check_eq(head["ContentLength"], len(ssec_data), "SSE-C head_object ContentLength")
            check_eq(head.get("SSECustomerAlgorithm"), "AES256", "head_object SSECustomerAlgorithm")
            check_eq(head.get("SSECustomerKeyMD5"), md5_a, "head_object SSECustomerKeyMD5")

        with step("SSE-C: errors boto3 sees without the key and with another key"):
            get = s3.get_object
            head = s3.head_object
            where = {"Bucket": BUCKET, "Key": "ssec/object.bin"}
            check_eq(client_error(get, **where), ("InvalidRequest", 400), "get_object without the key")
            check_eq(client_error(head, **where), ("400", 400), "head_object without the key")
            check_eq(client_error(get, **where, **ssec_b), ("AccessDenied", 403), "get_object with another key")
            check_eq(client_error(head, **where, **ssec_b), ("403", 403), "head_object with another key")

        with step("SSE-C: upload_file / download_file multipart (12 MiB + 3, 5 MiB parts) with ExtraArgs"):
            src = os.path.join(WORK_DIR, "boto3-ssec-multipart.bin")
            dst = os.path.join(WORK_DIR, "boto3-ssec-multipart.down")
            with open(src, "wb") as f:
                f.write(os.urandom(12 * MIB + 3))
            tc = TransferConfig(
                multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, preferred_transfer_client="classic"
            )
            s3.upload_file(src, BUCKET, "ssec/multipart.bin", ExtraArgs=ssec_a, Config=tc)
            head = s3.head_object(Bucket=BUCKET, Key="ssec/multipart.bin", **ssec_a)
            check_eq(head["ContentLength"], 12 * MIB + 3, "SSE-C multipart ContentLength")
            check(head["ETag"].endswith('-3"'), f"SSE-C multipart ETag {head['ETag']} is not a 3-part one")
            s3.download_file(BUCKET, "ssec/multipart.bin", dst, ExtraArgs=ssec_a, Config=tc)
            check_eq(sha256_file(dst), sha256_file(src), "sha256 of the SSE-C multipart object")
            check_eq(
                client_error(s3.head_object, Bucket=BUCKET, Key="ssec/multipart.bin"),
                ("400", 400),
                "head_object of the SSE-C multipart object without the key",
            )
            os.remove(dst)

        with step("SSE-C: copy_object with CopySourceSSECustomer* (key A -> key B), then read with B only"):
            copied = s3.copy_object(
                Bucket=BUCKET,
                Key="ssec/rotated.bin",
                CopySource={"Bucket": BUCKET, "Key": "ssec/object.bin"},
                CopySourceSSECustomerAlgorithm="AES256",
                CopySourceSSECustomerKey=key_a,
                **ssec_b,
            )
            check_eq(
                copied.get("SSECustomerKeyMD5"),
                base64.b64encode(hashlib.md5(key_b).digest()).decode(),
                "copy_object SSECustomerKeyMD5 (of the new key)",
            )
            _, data = get_bytes(s3, "ssec/rotated.bin", **ssec_b)
            check_eq(data, ssec_data, "the copy read with the new key")
            check_eq(
                client_error(s3.get_object, Bucket=BUCKET, Key="ssec/rotated.bin", **ssec_a),
                ("AccessDenied", 403),
                "the copy read with the old key",
            )

        with step("SSE-C: the backend's files hold neither the data nor the keys"):
            plain = os.path.join(WORK_DIR, "boto3-ssec-object.bin")
            key_files = [os.path.join(WORK_DIR, "boto3-key-a"), os.path.join(WORK_DIR, "boto3-key-b")]
            for path, content in [(plain, ssec_data), (key_files[0], key_a), (key_files[1], key_b)]:
                with open(path, "wb") as f:
                    f.write(content)
            rc = backend_leaks.main([os.path.join(BACKEND_ROOT, BUCKET), "--plain", plain, src, "--key", *key_files])
            check_eq(rc, 0, "backend_leaks")
            for path in [plain, src, *key_files]:
                os.remove(path)

        delete_bucket(s3)
        bucket_created = False

    except Exception:
        print(f"FAIL at step: {steps.CURRENT}", flush=True)
        traceback.print_exc()
        sys.stdout.flush()
        if bucket_created:
            cleanup(s3, strict=False)
        return 1

    print("boto3_default main: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
