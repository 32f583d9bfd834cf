#!/usr/bin/env python3
"""A raw client for STREAMING-AWS4-HMAC-SHA256-PAYLOAD: no stock CLI sends it, but the Java, Go and .NET SDKs do.

Computes the seed and chained chunk signatures itself (only the standard library), PUTs objects of several sizes
(empty, under one chunk, several 64 KiB chunks with a short last one) with SSE-S3 and with SSE-C, reads them
back, and checks that a chunk with a wrong signature is refused with SignatureDoesNotMatch and leaves no object.

Environment (set by the Rust test harness): S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_DEFAULT_REGION, S3_CA_FILE, S3_BUCKET (created here, removed at the end).
Exit status 0 only if every check held; on failure the failing step is printed.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import os
import ssl
import sys
import urllib.parse

EMPTY = hashlib.sha256(b"").hexdigest()
CHUNK = 64 * 1024
ENDPOINT = urllib.parse.urlparse(os.environ["S3_ENDPOINT"])
AK = os.environ["AWS_ACCESS_KEY_ID"]
SK = os.environ["AWS_SECRET_ACCESS_KEY"]
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
BUCKET = os.environ["S3_BUCKET"]
CTX = ssl.create_default_context(cafile=os.environ["S3_CA_FILE"])
STEP = "setup"


def hm(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(date):
    k = hm(("AWS4" + SK).encode(), date)
    return hm(hm(hm(k, REGION), "s3"), "aws4_request")


def request(method, path, headers=None, body=b"", payload_hash=None):
    """A SigV4-signed request (the body's SHA-256 signed unless `payload_hash` is given); (status, body)."""
    status, _, data = request_full(method, path, headers, body, payload_hash)
    return status, data


def request_full(method, path, headers=None, body=b"", payload_hash=None, query=None):
    """As `request`, with a query (a dict; a value of "" for a bare name such as `uploads`); (status, headers
    with lower-case names, body)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    h = {k.lower(): v for k, v in (headers or {}).items()}
    h["host"] = ENDPOINT.netloc
    h["x-amz-date"] = amz_date
    h["x-amz-content-sha256"] = payload_hash or hashlib.sha256(body).hexdigest()
    if "content-length" not in h:
        h["content-length"] = str(len(body))
    signed = sorted(h)
    q = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in sorted((query or {}).items())
    )
    canonical = "\n".join(
        [method, urllib.parse.quote(path), q, "".join(f"{k}:{h[k].strip()}\n" for k in signed), ";".join(signed),
         h["x-amz-content-sha256"]]
    )
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = signing_key(amz_date[:8])
    seed = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = f"AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders={';'.join(signed)}, Signature={seed}"
    if callable(body):
        body = body(key, amz_date, scope, seed)
    conn = http.client.HTTPSConnection(ENDPOINT.hostname, ENDPOINT.port, context=CTX, timeout=120)
    conn.request(method, urllib.parse.quote(path) + (f"?{q}" if q else ""), body=body, headers=h)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def chunked(data, corrupt_chunk=None, trailer=None, corrupt_trailer=False):
    """The aws-chunked body of `data` as a function of the signing inputs, with chained signatures; with
    `trailer` (a `name:value` line), STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER's signed trailer after the last
    chunk (its signature zeroed if `corrupt_trailer`)."""

    def build(key, amz_date, scope, seed):
        out, previous = [], seed
        pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] + [b""]
        for n, piece in enumerate(pieces):
            sts = f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{EMPTY}\n{hashlib.sha256(piece).hexdigest()}"
            sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            previous = sig
            if n == corrupt_chunk:
                sig = "0" * 64
            out.append(f"{len(piece):x};chunk-signature={sig}\r\n".encode() + piece + (b"\r\n" if piece or not trailer else b""))
        if trailer:
            canonical = hashlib.sha256(f"{trailer}\n".encode()).hexdigest()
            sts = f"AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{previous}\n{canonical}"
            sig = "0" * 64 if corrupt_trailer else hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            out.append(f"{trailer}\r\nx-amz-trailer-signature:{sig}\r\n\r\n".encode())
        return b"".join(out)

    return build


def encoded_len(n):
    sizes = [CHUNK] * (n // CHUNK) + ([n % CHUNK] if n % CHUNK else []) + [0]
    return sum(len(f"{s:x}") + 17 + 64 + 2 + s + 2 for s in sizes)


def put_streaming(key, data, extra=None, corrupt_chunk=None):
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "content-length": str(encoded_len(len(data))),
        **(extra or {}),
    }
    return request("PUT", f"/{BUCKET}/{key}", headers, chunked(data, corrupt_chunk), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")


def step(name):
    global STEP
    STEP = name
    print(f"--- {name}", flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    step("create bucket")
    st, body = request("PUT", f"/{BUCKET}")
    check(st == 200, f"CreateBucket: {st} {body[:300]!r}")
    try:
        for size in (0, 1000, CHUNK, 3 * CHUNK + 4321):
            data = os.urandom(size)
            step(f"SSE-S3: streaming-signed PUT of {size} bytes, GET it back")
            st, body = put_streaming(f"s3-{size}", data, {"x-amz-server-side-encryption": "AES256"})
            check(st == 200, f"PUT: {st} {body[:300]!r}")
            st, body = request("GET", f"/{BUCKET}/s3-{size}")
            check(st == 200 and body == data, f"GET: {st}, {len(body)} bytes")
        step("SSE-C: streaming-signed PUT of 200000 bytes, GET with the key")
        key = os.urandom(32)
        ssec = {
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
            "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(hashlib.md5(key).digest()).decode(),
        }
        data = os.urandom(200000)
        st, body = put_streaming("ssec", data, ssec)
        check(st == 200, f"PUT: {st} {body[:300]!r}")
        st, body = request("GET", f"/{BUCKET}/ssec", ssec)
        check(st == 200 and body == data, f"GET: {st}, {len(body)} bytes")
        step("a wrong chunk signature: 403 SignatureDoesNotMatch, no object")
        st, body = put_streaming("bad", os.urandom(3 * CHUNK), corrupt_chunk=1)
        check(st == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body, f"PUT: {st} {body[:300]!r}")
        st, _ = request("HEAD", f"/{BUCKET}/bad")
        check(st == 404, f"HEAD after a refused upload: {st}")
    finally:
        for k in ["s3-0", "s3-1000", f"s3-{CHUNK}", f"s3-{3 * CHUNK + 4321}", "ssec", "bad"]:
            request("DELETE", f"/{BUCKET}/{k}")
        request("DELETE", f"/{BUCKET}")
    print("raw streaming signer: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - one report for every failure
        print(f"FAIL at step: {STEP}: {e}", flush=True)
        sys.exit(1)
