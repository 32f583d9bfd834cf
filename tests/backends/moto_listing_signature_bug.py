#!/usr/bin/env python3
"""Shows that moto's signature check, not the gateway, rejects ListObjects requests whose query holds a `/`, and
(with the argument `keys`) requests for object keys holding `=`, `+`, `%`, `:` or `,`.

    moto_listing_signature_bug.py [keys]

boto3 talks to moto DIRECTLY here (no gateway): moto started with signature checking (three unauthenticated IAM
calls make a user and key), a bucket and object `d/x`, then ListObjectsV2 without parameters (accepted) and with
Prefix="d/" and with Delimiter="/", and a GetObject with ResponseContentType="text/plain" (moto answers 403
SignatureDoesNotMatch to boto3's own correctly signed requests).
With `keys`: PutObject of `a b` and `a~b` (accepted) and of `a=b`, `a+b`, `a%b`, `a:b`, `a,b` and `dir/a b=c.bin`
(each refused with SignatureDoesNotMatch: boto3 percent-encodes these characters in the path, as SigV4 says).

Exit 0 when moto behaves so (the gaps in docs/compatibility.md are moto's), 1 when moto accepts such requests (the
gap is gone: remove it from tests/matrix.rs KNOWN_GAPS), 2 on any other failure.
"""

import os
import socket
import subprocess
import sys
import time

import boto3
from botocore.exceptions import ClientError

os.environ.pop("AWS_CA_BUNDLE", None)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
proc = subprocess.Popen(
    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
    env=env,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
try:
    ep = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    iam.create_user(UserName="u")
    key = iam.create_access_key(UserName="u")["AccessKey"]
    iam.put_user_policy(
        UserName="u",
        PolicyName="all",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=ep,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    s3.create_bucket(Bucket="listing-bug")

    def refused(what, call):
        """Whether moto refuses `call()` with SignatureDoesNotMatch; exits 2 on any other error."""
        try:
            call()
            print(f"{what}: accepted")
            return False
        except ClientError as e:
            code = e.response["Error"]["Code"]
            print(f"{what}: {code}")
            if code != "SignatureDoesNotMatch":
                sys.exit(2)
            return True

    def put(k):
        return lambda: s3.put_object(Bucket="listing-bug", Key=k, Body=b"1")

    if sys.argv[1:] == ["keys"]:
        if any(refused(f"PutObject {k!r}", put(k)) for k in ("a b", "a~b")):
            sys.exit(2)
        bad_keys = ("a=b", "a+b", "a%b", "a:b", "a,b", "dir/a b=c.bin")
        sys.exit(0 if all([refused(f"PutObject {k!r}", put(k)) for k in bad_keys]) else 1)
    put("d/x")()
    plain = [o["Key"] for o in s3.list_objects_v2(Bucket="listing-bug").get("Contents", [])]
    print(f"ListObjectsV2 without parameters: {plain}")
    if plain != ["d/x"]:
        sys.exit(2)
    calls = [(f"ListObjectsV2 {kw}", lambda kw=kw: s3.list_objects_v2(Bucket="listing-bug", **kw)) for kw in (
        {"Prefix": "d/"},
        {"Delimiter": "/"},
    )]
    # Any query value holding a `/` is refused so, not only listings': a GetObject with response-content-type.
    calls.append((
        "GetObject with ResponseContentType='text/plain'",
        lambda: s3.get_object(Bucket="listing-bug", Key="d/x", ResponseContentType="text/plain"),
    ))
    sys.exit(0 if all([refused(what, call) for what, call in calls]) else 1)
finally:
    proc.kill()
