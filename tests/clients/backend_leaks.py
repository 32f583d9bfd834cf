#!/usr/bin/env python3
"""Checks that the backend's files hold neither an object's plaintext nor an SSE-C key (nor a KMS master key).

    backend_leaks.py DIR --plain FILE... [--key KEYFILE...] [--kms-master-keys]

DIR is the backend's directory of the bucket (the harness gives the backend root as S3_BACKEND_ROOT; the
embedded s3s-fs keeps object data as plain files under <root>/<bucket>/ and metadata beside them). Every file
under DIR's parent is read. A plaintext file is looked for by samples of 64 bytes (start, middle, end: the
clients' test files are random, so a sample occurs only where the plaintext does); a key file (32 raw bytes)
in every text form it could leak in: raw, base64 (with and without padding), base64url, hex.

--kms-master-keys adds every file in $S3_KMS_MASTER_KEY_DIR as a key file: the local KMS's master keys, which the
test harness writes there (32 raw bytes a file); without that variable (a KMS whose keys are not readable here,
such as moto's) it says so and looks for the rest.

DIR may instead be `s3+http://HOST:PORT/BUCKET`, for a backend whose storage is not files here (Ceph RGW, moto):
every object of the bucket is then read through the backend's own S3 API (as the backend's user, whose keys
are in S3_BACKEND_ACCESS_KEY_ID / S3_BACKEND_SECRET_ACCESS_KEY), its body and its metadata headers alike.

Exit status 0 only if no file holds any of them, and DIR holds at least one file (so that the check cannot
pass on an empty or wrong directory).
"""

import base64
import os
import sys


def needles_of_plain(path):
    data = open(path, "rb").read()
    if len(data) < 64:
        return [(f"{path} (all {len(data)} bytes)", data)] if len(data) >= 16 else []
    picks = sorted({0, len(data) // 2 - 32, len(data) - 64})
    return [(f"{path} bytes {i}..{i + 64}", data[i : i + 64]) for i in picks]


def needles_of_key(path):
    raw = open(path, "rb").read()
    b64 = base64.b64encode(raw)
    forms = {
        "raw": raw,
        "base64": b64,
        "base64 unpadded": b64.rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
    }
    return [(f"key {path} ({name})", v) for name, v in forms.items()]


S3_PREFIX = "s3+http://"


def local_files(root):
    for d, _, fs in os.walk(root):
        for f in fs:
            path = os.path.join(d, f)
            try:
                yield path, open(path, "rb").read()
            except OSError:
                continue


def backend_client(host):
    """boto3 talking to the backend at HOST:PORT itself, as the backend's user."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=f"http://{host}",
        aws_access_key_id=os.environ["S3_BACKEND_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["S3_BACKEND_SECRET_ACCESS_KEY"],
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}),
    )


def s3_objects(url):
    """(name, bytes) of every object of the bucket at s3+http://HOST:PORT/BUCKET: body, then metadata headers."""
    host, bucket = url[len(S3_PREFIX) :].split("/", 1)
    s3 = backend_client(host)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            got = s3.get_object(Bucket=bucket, Key=obj["Key"])
            headers = "".join(f"{k}: {v}\n" for k, v in got["ResponseMetadata"]["HTTPHeaders"].items())
            yield f"{url}/{obj['Key']}", got["Body"].read() + b"\n" + headers.encode()


def holds(root, bucket, key):
    """Whether the backend at `root` (S3_BACKEND_ROOT: a directory, or s3+http://HOST:PORT) has `bucket/key`."""
    if not root.startswith(S3_PREFIX):
        return os.path.exists(os.path.join(root, bucket, key))
    from botocore.exceptions import ClientError

    try:
        backend_client(root[len(S3_PREFIX) :]).head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise


def main(argv):
    if len(argv) < 3 or argv[1] not in ("--plain", "--key"):
        print(__doc__)
        return 2
    bucket_dir = argv[0]
    needles, mode = [], None
    for a in argv[1:]:
        if a in ("--plain", "--key"):
            mode = a
        elif a == "--kms-master-keys":
            master_dir = os.environ.get("S3_KMS_MASTER_KEY_DIR")
            if not master_dir:
                kind = os.environ.get("S3_KMS_KIND", "?")
                print(f"backend_leaks: the {kind} KMS's master keys are not readable here: not looked for")
                continue
            masters = sorted(os.listdir(master_dir))
            if not masters:
                print(f"FAIL: no master keys in {master_dir}")
                return 1
            for f in masters:
                needles += needles_of_key(os.path.join(master_dir, f))
        elif mode == "--plain":
            needles += needles_of_plain(a)
        elif mode == "--key":
            needles += needles_of_key(a)
    if bucket_dir.startswith(S3_PREFIX):
        blobs = list(s3_objects(bucket_dir))
        if not blobs:
            print(f"FAIL: no backend objects in {bucket_dir}")
            return 1
        where = f"{len(blobs)} backend objects in {bucket_dir}"
    else:
        bucket_files = [os.path.join(d, f) for d, _, fs in os.walk(bucket_dir) for f in fs]
        if not bucket_files:
            print(f"FAIL: no backend files under {bucket_dir}")
            return 1
        root = os.path.dirname(os.path.abspath(bucket_dir))
        blobs = list(local_files(root))
        where = f"{len(blobs)} backend files ({len(bucket_files)} in the bucket)"
    leaks = []
    for name, content in blobs:
        leaks += [f"{what} in {name}" for what, n in needles if n and n in content]
    print(f"backend_leaks: {len(needles)} needles, {where}")
    for leak in leaks:
        print(f"LEAK: {leak}")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
