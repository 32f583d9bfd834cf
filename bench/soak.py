#!/usr/bin/env python3
"""Soak: a mixed S3 workload against a real gateway for a fixed time, then a full content check.

Starts its own `fs-backend` and gateway (the release binary, config written to a temp dir, ports chosen by the
kernel), then runs WORKERS threads (boto3, one client each) for DURATION seconds. Each worker owns its keys, so it
knows what every object must contain. The mix: PutObject in every SSE mode (bucket default, SSE-S3, SSE-KMS,
SSE-C) and into a bucket whose default encryption is SSE-KMS, GetObject whole and by range, HeadObject,
multipart uploads, CopyObject (including out of SSE-C), ListObjectsV2, DeleteObject, and requests that must be
denied (a credential limited to another bucket: 403 AccessDenied; a wrong secret: 403 SignatureDoesNotMatch).

Every SAMPLE seconds it reads the gateway's RSS and open file descriptors from /proc and the window's
requests, errors and p99. At the end every object a worker believes exists is read back and compared by
SHA-256: nothing lost, nothing corrupt. Output: a table on stdout and a JSON report (--report).

Exit status 1 on any error, lost or corrupt object. RSS and fd growth is reported as a slope (least squares over
the samples after the first 10% of the run), not judged: the reader compares it with the run's length.

    nice -n 10 python3 bench/soak.py --duration 1800 --report target/soak.json
"""

import argparse
import base64
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import boto3
import botocore
from botocore.config import Config

CLIENT_AK, CLIENT_SK = "SOAKCLIENTAKID000001", "soakClientSecret/0123456789abcdefghijklmn"
LIMITED_AK, LIMITED_SK = "SOAKLIMITEDAKID00001", "soakLimitedSecret/0123456789abcdefghijklm"
BACKEND_AK, BACKEND_SK = "SOAKBACKENDAKID00001", "soakBackendSecret/0123456789abcdefghijklm"
MIB = 1024 * 1024


def content(seed, size):
    """The bytes of an object, from its seed: nothing to keep in memory but (seed, size)."""
    return random.Random(seed).randbytes(size)


def wait_line(proc, pred, what, timeout=30):
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        line = line.decode(errors="replace").rstrip("\n")
        lines.append(line)
        if pred(line):
            return line, lines
    sys.exit(f"{what} did not start: {lines}")


def start_stack(binary, tmp):
    backend = subprocess.Popen(
        [binary, "fs-backend", "--listen", "127.0.0.1:0", "--root", os.path.join(tmp, "backend"),
         "--access-key", BACKEND_AK, "--secret-key", BACKEND_SK],
        stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "fs-backend.log"), "w"))
    line, _ = wait_line(backend, lambda l: l.startswith("fs-backend ready on "), "fs-backend")
    backend_url = line.split()[3]
    config = os.path.join(tmp, "gateway.toml")
    with open(config, "w") as f:
        f.write(f"""listen = "127.0.0.1:0"
metrics_listen = "127.0.0.1:0"
data_dir = "{tmp}/gw"

[backend]
kind = "s3"
endpoint = "{backend_url}"
access_key_id = "{BACKEND_AK}"
secret_access_key = "{BACKEND_SK}"

[[credentials]]
access_key_id = "{CLIENT_AK}"
secret_access_key = "{CLIENT_SK}"

[[credentials]]
access_key_id = "{LIMITED_AK}"
secret_access_key = "{LIMITED_SK}"
allowed_buckets = ["soak-limited"]
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3_SSE_PROXY_")}
    gateway = subprocess.Popen([binary, "--config", config], stdout=subprocess.PIPE,
                               stderr=open(os.path.join(tmp, "gateway.log"), "w"), cwd=tmp, env=env)
    _, lines = wait_line(gateway, lambda l: l.strip().startswith("metrics:"), "gateway")
    endpoint = next(l.split()[1] for l in lines if l.strip().startswith("endpoint:"))
    ca = next(l.split(":", 1)[1].strip() for l in lines if l.strip().startswith("CA file:"))
    return backend, gateway, endpoint, ca


def client(endpoint, ca, ak=CLIENT_AK, sk=CLIENT_SK, pool=10):
    """A boto3 client (thread-safe: the workers share them) that never retries: every failure is counted."""
    cfg = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, max_pool_connections=pool,
                 connect_timeout=30, read_timeout=120)
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1", verify=ca, config=cfg)


def proc_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss_kib = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return rss_kib * 1024, len(os.listdir(f"/proc/{pid}/fd"))


def slope_per_hour(points):
    """Least-squares slope of (t seconds, v) points, per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return 0.0 if den == 0 else sum((t - mt) * (v - mv) for t, v in points) / den * 3600


def p99(values):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = {}
        self.errors = []
        self.latencies = []  # this window's
        self.all_latencies = []

    def record(self, op, seconds):
        with self.lock:
            self.ops[op] = self.ops.get(op, 0) + 1
            self.latencies.append(seconds)

    def error(self, op, what):
        with self.lock:
            self.errors.append(f"{op}: {what}")

    def window(self):
        with self.lock:
            lat, self.latencies = self.latencies, []
            self.all_latencies.extend(lat)
            return lat


SSE_MODES = ["default", "AES256", "aws:kms", "SSE-C"]


def sse_args(mode, ckey):
    if mode == "AES256":
        return {"ServerSideEncryption": "AES256"}
    if mode == "aws:kms":
        return {"ServerSideEncryption": "aws:kms"}
    if mode == "SSE-C":
        return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": ckey}
    return {}


class Worker(threading.Thread):
    def __init__(self, n, clients, buckets, stats, stop):
        super().__init__(daemon=True)
        self.n, self.stats, self.stop = n, stats, stop
        self.s3, self.limited, self.forger = clients
        self.buckets = buckets
        self.rng = random.Random(n)
        self.objects = {}  # (bucket, key) -> {seed, size, mode, ckey, sha}
        self.serial = 0

    def new_key(self):
        self.serial += 1
        return f"w{self.n:02d}/{self.serial:07d}"

    def timed(self, op, fn):
        t = time.monotonic()
        try:
            out = fn()
        except Exception as e:  # noqa: BLE001 - every failure is a soak error, whatever raised it
            self.stats.error(op, repr(e)[:300])
            return None
        self.stats.record(op, time.monotonic() - t)
        return out

    def put(self):
        bucket = self.rng.choice(self.buckets)
        mode = self.rng.choice(SSE_MODES)
        size = self.rng.choice([0, 1, 100, 65535, 65536, 65537, 300_000, self.rng.randrange(1, 2 * MIB)])
        seed = self.rng.getrandbits(64)
        data = content(seed, size)
        ckey = base64.b64encode(self.rng.randbytes(32)).decode() if mode == "SSE-C" else None
        key = self.new_key()
        # boto3 wants the raw key for SSECustomerKey and computes the MD5 itself.
        args = sse_args(mode, base64.b64decode(ckey) if ckey else None)
        if self.timed("PutObject", lambda: self.s3.put_object(Bucket=bucket, Key=key, Body=data, **args)) is not None:
            self.objects[(bucket, key)] = {"seed": seed, "size": size, "mode": mode, "ckey": ckey,
                                           "sha": hashlib.sha256(data).hexdigest()}

    def pick(self):
        if not self.objects:
            return None
        return self.rng.choice(list(self.objects.items()))

    def ckey_args(self, obj):
        return {"SSECustomerAlgorithm": "AES256",
                "SSECustomerKey": base64.b64decode(obj["ckey"])} if obj["mode"] == "SSE-C" else {}

    def get(self):
        picked = self.pick()
        if not picked:
            return
        (bucket, key), obj = picked

        def run():
            body = self.s3.get_object(Bucket=bucket, Key=key, **self.ckey_args(obj))["Body"].read()
            if hashlib.sha256(body).hexdigest() != obj["sha"]:
                raise AssertionError(f"{bucket}/{key}: content differs ({len(body)} bytes, want {obj['size']})")
            return True
        self.timed("GetObject", run)

    def get_range(self):
        picked = self.pick()
        if not picked or picked[1]["size"] == 0:
            return
        (bucket, key), obj = picked
        size = obj["size"]
        first = self.rng.randrange(size)
        last = min(size - 1, first + self.rng.randrange(1, 200_000))

        def run():
            body = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}",
                                      **self.ckey_args(obj))["Body"].read()
            if body != content(obj["seed"], size)[first:last + 1]:
                raise AssertionError(f"{bucket}/{key} bytes={first}-{last}: content differs")
            return True
        self.timed("GetObject(range)", run)

    def head(self):
        picked = self.pick()
        if not picked:
            return
        (bucket, key), obj = picked

        def run():
            h = self.s3.head_object(Bucket=bucket, Key=key, **self.ckey_args(obj))
            if h["ContentLength"] != obj["size"]:
                raise AssertionError(f"{bucket}/{key}: HEAD says {h['ContentLength']}, want {obj['size']}")
            return True
        self.timed("HeadObject", run)

    def multipart(self):
        bucket = self.rng.choice(self.buckets)
        mode = self.rng.choice(SSE_MODES)
        ckey = base64.b64encode(self.rng.randbytes(32)).decode() if mode == "SSE-C" else None
        raw = base64.b64decode(ckey) if ckey else None
        seed = self.rng.getrandbits(64)
        size = 5 * MIB + self.rng.randrange(1, MIB)
        data = content(seed, size)
        key = self.new_key()
        cargs = sse_args(mode, raw)
        pargs = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": raw} if mode == "SSE-C" else {}

        def run():
            up = self.s3.create_multipart_upload(Bucket=bucket, Key=key, **cargs)["UploadId"]
            parts = []
            for i, (a, b) in enumerate([(0, 5 * MIB), (5 * MIB, size)], start=1):
                r = self.s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=i, Body=data[a:b], **pargs)
                parts.append({"PartNumber": i, "ETag": r["ETag"]})
            self.s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up,
                                              MultipartUpload={"Parts": parts})
            return True
        if self.timed("MultipartUpload", run):
            self.objects[(bucket, key)] = {"seed": seed, "size": size, "mode": mode, "ckey": ckey,
                                           "sha": hashlib.sha256(data).hexdigest()}

    def copy(self):
        picked = self.pick()
        if not picked:
            return
        (bucket, key), obj = picked
        dest_bucket = self.rng.choice(self.buckets)
        mode = self.rng.choice(["default", "AES256", "aws:kms"])
        dest = self.new_key()
        extra = {}
        if obj["mode"] == "SSE-C":
            extra = {"CopySourceSSECustomerAlgorithm": "AES256",
                     "CopySourceSSECustomerKey": base64.b64decode(obj["ckey"])}
        args = sse_args(mode, None)

        def run():
            return self.s3.copy_object(Bucket=dest_bucket, Key=dest, CopySource={"Bucket": bucket, "Key": key},
                                       **args, **extra)
        if self.timed("CopyObject", run) is not None:
            self.objects[(dest_bucket, dest)] = dict(obj, mode=mode, ckey=None)

    def list(self):
        bucket = self.rng.choice(self.buckets)
        mine = {k for (b, k) in self.objects if b == bucket}

        def run():
            seen = set()
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"w{self.n:02d}/"):
                seen.update(o["Key"] for o in page.get("Contents", []))
            if not mine <= seen:
                raise AssertionError(f"listing of {bucket} misses {sorted(mine - seen)[:3]}")
            return True
        self.timed("ListObjectsV2", run)

    def delete(self):
        picked = self.pick()
        if not picked or len(self.objects) < 20:
            return
        (bucket, key), _ = picked
        if self.timed("DeleteObject", lambda: self.s3.delete_object(Bucket=bucket, Key=key)) is not None:
            del self.objects[(bucket, key)]

    def denied(self):
        bucket = self.rng.choice(self.buckets)
        who, want = self.rng.choice([(self.limited, "AccessDenied"), (self.forger, "SignatureDoesNotMatch")])

        def run():
            try:
                who.get_object(Bucket=bucket, Key="w00/0000001")
            except botocore.exceptions.ClientError as e:
                code = e.response["Error"]["Code"]
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                if code == want and status == 403:
                    return True
                raise AssertionError(f"denial: {status} {code}, want 403 {want}")
            raise AssertionError("denial: the request succeeded")
        self.timed("Denied", run)

    def run(self):
        mix = ([self.put] * 20 + [self.get] * 20 + [self.get_range] * 15 + [self.head] * 10 + [self.copy] * 8
               + [self.list] * 5 + [self.delete] * 5 + [self.denied] * 5 + [self.multipart] * 1)
        while not self.stop.is_set():
            self.rng.choice(mix)()


def verify_all(workers, s3, threads=16):
    """GET every object a worker believes exists (in parallel) and compare its SHA-256."""
    from concurrent.futures import ThreadPoolExecutor

    def check(item):
        (bucket, key), obj = item
        args = {"SSECustomerAlgorithm": "AES256",
                "SSECustomerKey": base64.b64decode(obj["ckey"])} if obj["mode"] == "SSE-C" else {}
        try:
            body = s3.get_object(Bucket=bucket, Key=key, **args)["Body"].read()
        except Exception as e:  # noqa: BLE001
            return "lost", f"{bucket}/{key}: {repr(e)[:200]}"
        return ("ok", None) if hashlib.sha256(body).hexdigest() == obj["sha"] else ("corrupt", f"{bucket}/{key}")

    items = [item for w in workers for item in w.objects.items()]
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(check, items))
    lost = [what for r, what in results if r == "lost"]
    corrupt = [what for r, what in results if r == "corrupt"]
    return sum(1 for r, _ in results if r == "ok"), lost, corrupt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=120, help="seconds of workload (default 120)")
    ap.add_argument("--workers", type=int, default=64, help="concurrent clients (default 64)")
    ap.add_argument("--sample", type=float, default=10, help="seconds between samples (default 10)")
    ap.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "../target/release/s3-sse-proxy"))
    ap.add_argument("--report", help="write the JSON report here")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="s3sp-soak-")
    ok = False
    backend, gateway, endpoint, ca = start_stack(os.path.abspath(args.binary), tmp)
    try:
        s3 = client(endpoint, ca)
        buckets = ["soak-plain", "soak-kms-default"]
        for b in buckets + ["soak-limited"]:
            s3.create_bucket(Bucket=b)
        s3.put_bucket_encryption(Bucket="soak-kms-default", ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
        stats, stop = Stats(), threading.Event()
        clients = (client(endpoint, ca, pool=args.workers), client(endpoint, ca, LIMITED_AK, LIMITED_SK),
                   client(endpoint, ca, CLIENT_AK, "not-the-secret-" + "x" * 25))
        workers = [Worker(n, clients, buckets, stats, stop) for n in range(args.workers)]
        start = time.monotonic()
        samples = []
        for w in workers:
            w.start()
        print(f"{'t(s)':>6} {'ops':>7} {'errors':>6} {'p99(ms)':>8} {'rss(MiB)':>9} {'fds':>5}", flush=True)
        while True:
            time.sleep(args.sample)
            t = time.monotonic() - start
            rss, fds = proc_sample(gateway.pid)
            lat = stats.window()
            s = {"t": round(t, 1), "ops": len(lat), "errors": len(stats.errors), "p99_ms": round(p99(lat) * 1000, 1),
                 "rss_bytes": rss, "fds": fds}
            samples.append(s)
            print(f"{s['t']:6.0f} {s['ops']:7d} {s['errors']:6d} {s['p99_ms']:8.1f} {rss / MIB:9.1f} {fds:5d}",
                  flush=True)
            if t >= args.duration:
                break
        stop.set()
        for w in workers:
            w.join(timeout=300)
        elapsed = time.monotonic() - start
        stats.window()
        checked, lost, corrupt = verify_all(workers, clients[0])
        # Once the load is gone, what the gateway still holds: connections and memory should fall back.
        rss_idle, fds_idle = proc_sample(gateway.pid)
        settled = [s for s in samples if s["t"] >= args.duration * 0.1]
        report = {
            "duration_s": round(elapsed, 1),
            "workers": args.workers,
            "operations": stats.ops,
            "total_operations": sum(stats.ops.values()),
            "errors": len(stats.errors),
            "first_errors": stats.errors[:20],
            "p50_ms": round(sorted(stats.all_latencies)[len(stats.all_latencies) // 2] * 1000, 1)
            if stats.all_latencies else 0,
            "p99_ms": round(p99(stats.all_latencies) * 1000, 1),
            "rss_mib": {"first": round(samples[0]["rss_bytes"] / MIB, 1),
                        "last": round(samples[-1]["rss_bytes"] / MIB, 1),
                        "max": round(max(s["rss_bytes"] for s in samples) / MIB, 1),
                        "slope_mib_per_hour": round(slope_per_hour(
                            [(s["t"], s["rss_bytes"] / MIB) for s in settled]), 2)},
            "fds": {"first": samples[0]["fds"], "last": samples[-1]["fds"], "max": max(s["fds"] for s in samples),
                    "slope_per_hour": round(slope_per_hour([(s["t"], s["fds"]) for s in settled]), 2)},
            "after_load": {"rss_mib": round(rss_idle / MIB, 1), "fds": fds_idle},
            "objects_verified": checked,
            "objects_lost": lost[:20],
            "objects_corrupt": corrupt[:20],
            "samples": samples,
        }
        print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
        if args.report:
            with open(args.report, "w") as f:
                json.dump(report, f, indent=2)
        ok = not stats.errors and not lost and not corrupt
        print("soak: OK" if ok else f"soak: FAILED (logs in {tmp})")
        return 0 if ok else 1
    finally:
        gateway.terminate()
        backend.terminate()
        gateway.wait(timeout=60)
        backend.wait(timeout=60)
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
