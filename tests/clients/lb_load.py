#!/usr/bin/env python3
"""Mixed load through a load balancer from retrying boto3 clients, then every object read back.

Workers loop over: PUT SSE-S3, PUT SSE-C, PUT SSE-KMS, GET (checked), a multipart upload whose parts each go
out on a new connection (so the balancer spreads them over instances), a copy, a listing. Every client retries
(botocore "standard" mode, 10 attempts): an instance killed mid-request costs a retry, never an error. The load
runs until STOP_FILE exists; then every object written is read back and compared byte for byte.

Environment (set by tests/instances.rs):
    S3_ENDPOINT, S3_CA_FILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION
    S3_BUCKET       an existing bucket
    STOP_FILE       the load stops once this file exists
    READY_FILE      written once every worker has finished its first round
    REPORT          where the JSON report goes: counts per operation, errors (each with its traceback summary)
    WORKERS         number of worker threads (default 6)

Exit status 0 only if no error reached the caller and every object read back identical.
"""

import hashlib
import json
import os
import random
import sys
import threading
import time
import traceback

import boto3
from botocore.config import Config

MIB = 1024 * 1024
BUCKET = os.environ["S3_BUCKET"]
CONFIG = Config(
    retries={"max_attempts": 10, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=4,
)


def client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT"],
        verify=os.environ["S3_CA_FILE"],
        config=CONFIG,
    )


lock = threading.Lock()
objects = {}  # key -> (sha256, sse-c key or None)
counts = {}
errors = []


def record(key, data, sse_c_key=None):
    with lock:
        objects[key] = (hashlib.sha256(data).hexdigest(), sse_c_key)


def count(op):
    with lock:
        counts[op] = counts.get(op, 0) + 1


def sse_c(key):
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def read_back(s3, key, sse_c_key):
    extra = sse_c(sse_c_key) if sse_c_key else {}
    return s3.get_object(Bucket=BUCKET, Key=key, **extra)["Body"].read()


def multipart(s3, rng, key):
    up = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ServerSideEncryption="AES256")
    parts, pieces = [], [rng.randbytes(5 * MIB), rng.randbytes(rng.randint(1, MIB))]
    for n, piece in enumerate(pieces, start=1):
        # A new client is a new connection: the balancer picks an instance for each part.
        r = client().upload_part(Bucket=BUCKET, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=piece)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    client().complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    record(key, b"".join(pieces))


def round_of(s3, rng, w, i):
    prefix = f"w{w}/"
    data = rng.randbytes(rng.randint(1, 256 * 1024))
    key = f"{prefix}s3-{i}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=data, ServerSideEncryption="AES256")
    record(key, data)
    count("put-sse-s3")

    ck = rng.randbytes(32)
    key_c = f"{prefix}c-{i}"
    s3.put_object(Bucket=BUCKET, Key=key_c, Body=data, **sse_c(ck))
    record(key_c, data, ck)
    count("put-sse-c")

    key_k = f"{prefix}kms-{i}"
    s3.put_object(Bucket=BUCKET, Key=key_k, Body=data, ServerSideEncryption="aws:kms")
    record(key_k, data)
    count("put-sse-kms")

    with lock:
        some = rng.choice(sorted(objects))
        want, some_ck = objects[some]
    got = read_back(s3, some, some_ck)
    if hashlib.sha256(got).hexdigest() != want:
        raise AssertionError(f"GET {some}: content differs")
    count("get")

    if i % 3 == 0:
        multipart(s3, rng, f"{prefix}mp-{i}")
        count("multipart")

    s3.copy_object(Bucket=BUCKET, Key=f"{prefix}copy-{i}", CopySource={"Bucket": BUCKET, "Key": key})
    record(f"{prefix}copy-{i}", data)
    count("copy")

    with lock:
        mine = sum(1 for k in objects if k.startswith(prefix))
    listed = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        listed += page.get("KeyCount", 0)
    if listed < mine:
        raise AssertionError(f"ListObjectsV2 {prefix}: {listed} keys, {mine} written")
    count("list")


def worker(w, started):
    rng = random.Random(w)
    s3 = client()
    i = 0
    while not os.path.exists(os.environ["STOP_FILE"]):
        try:
            round_of(s3, rng, w, i)
        except Exception as e:  # noqa: BLE001 - every error is the test's finding
            with lock:
                errors.append(f"worker {w} round {i}: {e!r}\n{traceback.format_exc(limit=3)}")
        if i == 0:
            started.release()
        i += 1


def main():
    workers = int(os.environ.get("WORKERS", "6"))
    started = threading.Semaphore(0)
    threads = [threading.Thread(target=worker, args=(w, started)) for w in range(workers)]
    for t in threads:
        t.start()
    for _ in threads:
        started.acquire()
    with open(os.environ["READY_FILE"], "w") as f:
        f.write("ready\n")
    for t in threads:
        t.join()

    s3 = client()
    corrupt = []
    for key, (want, ck) in sorted(objects.items()):
        try:
            if hashlib.sha256(read_back(s3, key, ck)).hexdigest() != want:
                corrupt.append(key)
        except Exception as e:  # noqa: BLE001
            corrupt.append(f"{key}: {e!r}")
    report = {"counts": counts, "objects": len(objects), "errors": errors, "corrupt": corrupt}
    with open(os.environ["REPORT"], "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps({"counts": counts, "objects": len(objects), "errors": len(errors), "corrupt": len(corrupt)}))
    return 0 if not errors and not corrupt else 1


if __name__ == "__main__":
    started_at = time.time()
    rc = main()
    print(f"lb_load: done in {time.time() - started_at:.1f}s, exit {rc}")
    sys.exit(rc)
