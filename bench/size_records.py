#!/usr/bin/env python3
"""What size records cost a listing (docs/format.md §6.6): two buckets of N one-part multipart objects each, one of
them also holding an SSE-C upload with odd parts completed without its key (so its listings read one size record
per multipart entry); ListObjectsV2 of the N entries, interleaved, median and minimum. Usage (any running gateway;
BENCHMARKS.md, "Size records"):

    AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… python3 bench/size_records.py \
        --endpoint https://127.0.0.1:8443 --ca s3-sse-proxy-data/tls/ca.pem -n 1000 --rounds 12
"""
import argparse
import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3

MIB = 1024 * 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=12)
    a = ap.parse_args()
    s3 = boto3.client("s3", endpoint_url=a.endpoint, verify=a.ca, region_name="us-east-1")
    run = uuid.uuid4().hex[:8]
    buckets = {"without size records": f"sizes-plain-{run}", "with size records": f"sizes-recorded-{run}"}

    def one(bucket, i):
        k = f"obj/{i:05d}"
        up = s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"]
        e = s3.upload_part(Bucket=bucket, Key=k, UploadId=up, PartNumber=1, Body=b"z" * 100)["ETag"]
        s3.complete_multipart_upload(Bucket=bucket, Key=k, UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})

    for b in buckets.values():
        s3.create_bucket(Bucket=b)
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda i, b=b: one(b, i), range(a.n)))
    marked = buckets["with size records"]
    c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
    up = s3.create_multipart_upload(Bucket=marked, Key="odd", **c)["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=marked, Key="odd", UploadId=up, PartNumber=n,
                                                      Body=b"a" * size, **c)["ETag"]}
             for n, size in [(1, 5 * MIB + 1), (2, 3)]]
    s3.complete_multipart_upload(Bucket=marked, Key="odd", UploadId=up, MultipartUpload={"Parts": parts})
    times = {name: [] for name in buckets}
    for _ in range(a.rounds):
        for name, b in buckets.items():
            t = time.perf_counter()
            listed = s3.list_objects_v2(Bucket=b, Prefix="obj/")
            times[name].append(time.perf_counter() - t)
            assert listed["KeyCount"] == min(a.n, 1000), listed["KeyCount"]
    for name, ts in times.items():
        print(f"{name}: median {1000 * statistics.median(ts):.1f} ms, min {1000 * min(ts):.1f} ms "
              f"({a.n} entries, {a.rounds} rounds)")


if __name__ == "__main__":
    main()
