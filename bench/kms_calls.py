#!/usr/bin/env python3
"""KMS calls per N PutObject requests, with and without S3 bucket keys, through a running gateway.

Reads the gateway's /metrics before and after each run (s3_sse_proxy_kms_requests_total), so it counts what the
gateway actually asked its KMS. Usage (against the quick start, see BENCHMARKS.md):

    AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… python3 bench/kms_calls.py \
        --endpoint https://127.0.0.1:8443 --ca s3-sse-proxy-data/tls/ca.pem --metrics http://127.0.0.1:9464 -n 1000
"""
import argparse
import time
import urllib.request
import uuid

import boto3
from botocore.config import Config


def kms_calls(metrics_url):
    text = urllib.request.urlopen(metrics_url + "/metrics").read().decode()
    calls = {}
    for line in text.splitlines():
        if line.startswith("s3_sse_proxy_kms_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            op = labels.split('operation="')[1].split('"')[0]
            calls[op] = calls.get(op, 0) + float(value)
    return calls


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("--size", type=int, default=1024)
    a = p.parse_args()
    s3 = boto3.client("s3", endpoint_url=a.endpoint, verify=a.ca, region_name="us-east-1",
                      config=Config(retries={"max_attempts": 1}))
    bucket = "kms-bench-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    body = b"x" * a.size
    print(f"{a.n} PutObject of {a.size} bytes each, SSE-KMS with the gateway's default key")
    print("| bucket key | GenerateDataKey | Decrypt | Encrypt | PUT/s |")
    print("|---|---:|---:|---:|---:|")
    for bucket_key in (False, True):
        before = kms_calls(a.metrics)
        t = time.monotonic()
        for i in range(a.n):
            s3.put_object(Bucket=bucket, Key=f"{bucket_key}/{i}", Body=body,
                          ServerSideEncryption="aws:kms", BucketKeyEnabled=bucket_key)
        rate = a.n / (time.monotonic() - t)
        after = kms_calls(a.metrics)
        d = {op: after.get(op, 0) - before.get(op, 0) for op in ("GenerateDataKey", "Decrypt", "Encrypt")}
        print(f"| {'on' if bucket_key else 'off'} | {d['GenerateDataKey']:.0f} | {d['Decrypt']:.0f} | "
              f"{d['Encrypt']:.0f} | {rate:.0f} |")
    # Leave nothing behind.
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=bucket)


if __name__ == "__main__":
    main()
