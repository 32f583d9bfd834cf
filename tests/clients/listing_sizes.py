#!/usr/bin/env python3
"""Listed sizes of multipart uploads with odd part sizes, as the SDKs' transfer managers make them.

    listing_sizes.py [NAME]   (NAME is ignored: tests/common names the run by it)

boto3's upload_file (s3transfer) and `aws s3 cp` with a multipart chunk size of 5 MiB + 1 (every part but the last
unaligned to the gateway's 64 KiB segments), with SSE-S3, SSE-KMS and SSE-C: both send the SSE-C key on
CompleteMultipartUpload, so the gateway can re-encrypt the object as one stream, and ListObjects V1, V2 and
ListObjectVersions show the exact plaintext size; the objects read back byte for byte.

Environment: what tests/common's Gateway::client_env sets (S3_ENDPOINT, S3_CA_FILE, S3_BUCKET, WORK_DIR, AWS_*).
Exit status 0 only if every check held; each step is printed.
"""

import base64
import hashlib
import os
import subprocess
import sys

import boto3
from boto3.s3.transfer import TransferConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from steps import check_eq, step  # noqa: E402

ENDPOINT = os.environ["S3_ENDPOINT"]
CA_FILE = os.environ["S3_CA_FILE"]
BUCKET = os.environ["S3_BUCKET"]
WORK_DIR = os.environ["WORK_DIR"]
MIB = 1024 * 1024
CHUNK = 5 * MIB + 1
SIZE = 2 * CHUNK + 333  # three parts: 5 MiB + 1, 5 MiB + 1, 333 bytes


def main():
    s3 = boto3.client("s3", endpoint_url=ENDPOINT, verify=CA_FILE)
    s3.create_bucket(Bucket=BUCKET)
    key = os.urandom(32)
    sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    path = os.path.join(WORK_DIR, "odd-parts.bin")
    data = os.urandom(SIZE)
    with open(path, "wb") as f:
        f.write(data)
    tc = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=CHUNK, preferred_transfer_client="classic")
    modes = {"sse-s3": {}, "sse-kms": {"ServerSideEncryption": "aws:kms"}, "sse-c": sse_c}
    for mode, extra in modes.items():
        with step(f"boto3 upload_file, {mode}, parts of 5 MiB + 1"):
            s3.upload_file(path, BUCKET, f"boto3/{mode}", ExtraArgs=extra, Config=tc)
    key_file = os.path.join(WORK_DIR, "sse-c.key")
    with open(key_file, "wb") as f:
        f.write(key)
    config = os.path.join(WORK_DIR, "aws-config")
    with open(config, "w") as f:
        f.write(f"[default]\ns3 =\n  multipart_threshold = {5 * MIB}\n  multipart_chunksize = {CHUNK}\n")
    cli_modes = {
        "sse-s3": [],
        "sse-kms": ["--sse", "aws:kms"],
        "sse-c": ["--sse-c", "AES256", "--sse-c-key", f"fileb://{key_file}"],
    }
    for mode, args in cli_modes.items():
        with step(f"aws s3 cp, {mode}, parts of 5 MiB + 1"):
            cmd = ["aws", "--endpoint-url", ENDPOINT, "s3", "cp", path, f"s3://{BUCKET}/cli/{mode}", *args]
            p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "AWS_CONFIG_FILE": config})
            check_eq(p.returncode, 0, f"aws s3 cp: {p.stdout} {p.stderr}")
    keys = sorted(f"{tool}/{mode}" for tool in ("boto3", "cli") for mode in modes)
    want = [(k, SIZE) for k in keys]
    with step("ListObjectsV2, ListObjects and ListObjectVersions: the exact plaintext size of each"):
        v2 = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
        check_eq([(o["Key"], o["Size"]) for o in v2], want, "ListObjectsV2")
        v1 = s3.list_objects(Bucket=BUCKET)["Contents"]
        check_eq([(o["Key"], o["Size"]) for o in v1], want, "ListObjects")
        versions = s3.list_object_versions(Bucket=BUCKET)["Versions"]
        check_eq([(o["Key"], o["Size"]) for o in versions], want, "ListObjectVersions")
        # Re-encrypted as one stream (a `-1` ETag), so the uploads did have odd parts (with the default 8 MiB
        # chunks they would be aligned 2-part uploads, `-2`).
        check_eq([(o["Key"], o["ETag"][-3:]) for o in v2], [(k, '-1"') for k in keys], "one-stream ETags")
    with step("each reads back byte for byte (SSE-C with its key)"):
        digest = hashlib.sha256(data).hexdigest()
        for k in keys:
            extra = sse_c if k.endswith("sse-c") else {}
            got = s3.get_object(Bucket=BUCKET, Key=k, **extra)
            check_eq(got["ContentLength"], SIZE, f"{k}: Content-Length")
            check_eq(hashlib.sha256(got["Body"].read()).hexdigest(), digest, f"{k}: body")
    with step("the SSE-C objects still need their key"):
        md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
        for k in keys:
            if k.endswith("sse-c"):
                head = s3.head_object(Bucket=BUCKET, Key=k, **sse_c)
                check_eq(head["SSECustomerKeyMD5"], md5, f"{k}: key MD5")
                try:
                    s3.head_object(Bucket=BUCKET, Key=k)
                    raise AssertionError(f"{k}: HEAD without the key succeeded")
                except s3.exceptions.ClientError as e:
                    check_eq(e.response["ResponseMetadata"]["HTTPStatusCode"], 400, f"{k}: HEAD without the key")
    print("listing_sizes: all checks passed", flush=True)


if __name__ == "__main__":
    main()
