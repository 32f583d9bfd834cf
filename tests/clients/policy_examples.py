#!/usr/bin/env python3
"""AWS's example bucket policies (tests/fixtures/policies, verbatim but for the bucket name and key ARN), put
and exercised through one real client: boto3, or aws-cli (v2 or v1) run as a process.

    policy_examples.py boto3
    policy_examples.py awscli /usr/bin/aws
    policy_examples.py awscli python3 -m awscli

For each policy: PutBucketPolicy through the client, GetBucketPolicy returns it, then every upload the policy
allows succeeds (single part and multipart) and every upload it denies fails with AccessDenied, leaving no
object behind (HEAD answers 404 through the gateway and the backend holds no file for it). After
DeleteBucketPolicy a denied upload succeeds. A policy whose Resource names another bucket is refused with
MalformedPolicy.

Environment (set by the Rust test harness, tests/policy.rs): S3_ENDPOINT, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, S3_CA_FILE, S3_BUCKET (a prefix for the buckets made here), WORK_DIR,
S3_BACKEND_ROOT (the backend, as tests/clients/backend_leaks.py takes it), S3_POLICY_DIR (the fixtures).
Exit status 0 only if every check held.
"""

import hashlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backend_leaks  # noqa: E402
from steps import check, step  # noqa: E402

KIB = 1024
MIB = 1024 * KIB


def env(name):
    value = os.environ.get(name)
    if not value:
        print(f"FAIL: environment variable {name} is not set", flush=True)
        sys.exit(2)
    return value


ENDPOINT = env("S3_ENDPOINT")
CA_FILE = env("S3_CA_FILE")
PREFIX = env("S3_BUCKET")
WORK_DIR = env("WORK_DIR")
BACKEND_ROOT = env("S3_BACKEND_ROOT")
POLICY_DIR = env("S3_POLICY_DIR")
REGION = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
os.environ.setdefault("AWS_CONFIG_FILE", os.path.join(WORK_DIR, "no-aws-config"))
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", os.path.join(WORK_DIR, "no-aws-credentials"))
os.environ["AWS_CA_BUNDLE"] = CA_FILE
os.environ["AWS_PAGER"] = ""

# The customer key for SSE-C uploads (32 bytes) and a file holding it, for aws-cli's fileb://.
SSE_C_KEY = hashlib.sha256(b"policy examples").digest()
SSE_C_KEY_FILE = os.path.join(WORK_DIR, "policy-ssec.key")
with open(SSE_C_KEY_FILE, "wb") as f:
    f.write(SSE_C_KEY)

SMALL = os.path.join(WORK_DIR, "policy-small.bin")
BIG = os.path.join(WORK_DIR, "policy-big.bin")  # above both clients' 8 MiB multipart threshold
with open(SMALL, "wb") as f:
    f.write(os.urandom(100 * KIB))
with open(BIG, "wb") as f:
    f.write(os.urandom(9 * MIB))


class Denied(Exception):
    pass


class Boto3:
    name = "boto3"

    def __init__(self):
        import boto3
        from botocore.exceptions import ClientError

        self.ClientError = ClientError
        self.s3 = boto3.session.Session().client("s3", endpoint_url=ENDPOINT, region_name=REGION, verify=CA_FILE)

    def _call(self, fn, **kw):
        try:
            return fn(**kw)
        except self.ClientError as e:
            err = e.response.get("Error", {})
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise Denied(f"{err.get('Code')} {status}: {err.get('Message')}") from None

    def create_bucket(self, b):
        self.s3.create_bucket(Bucket=b)

    def put_bucket_policy(self, b, text):
        self._call(self.s3.put_bucket_policy, Bucket=b, Policy=text)

    def get_bucket_policy(self, b):
        return self.s3.get_bucket_policy(Bucket=b)["Policy"]

    def delete_bucket_policy(self, b):
        self.s3.delete_bucket_policy(Bucket=b)

    @staticmethod
    def _sse(sse):
        kw = {}
        if sse.get("sse"):
            kw["ServerSideEncryption"] = sse["sse"]
        if sse.get("kms_key"):
            kw["SSEKMSKeyId"] = sse["kms_key"]
        if sse.get("ssec"):
            kw["SSECustomerAlgorithm"] = "AES256"
            kw["SSECustomerKey"] = SSE_C_KEY
        return kw

    def put(self, b, key, path, sse):
        with open(path, "rb") as f:
            self._call(self.s3.put_object, Bucket=b, Key=key, Body=f, **self._sse(sse))

    def upload(self, b, key, path, sse):
        from boto3.s3.transfer import TransferConfig

        cfg = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
        try:
            self.s3.upload_file(path, b, key, ExtraArgs=self._sse(sse), Config=cfg)
        except Exception as e:  # S3UploadFailedError wraps the ClientError
            if "AccessDenied" in str(e):
                raise Denied(str(e)) from None
            raise

    def exists(self, b, key, sse):
        kw = {}
        if sse.get("ssec"):
            kw = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSE_C_KEY}
        try:
            self.s3.head_object(Bucket=b, Key=key, **kw)
            return True
        except self.ClientError as e:
            code = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            check(code == 404, f"HEAD {b}/{key}: {code}, expected 200 or 404")
            return False


class AwsCli:
    def __init__(self, cmd):
        self.cmd = cmd
        self.name = "aws-cli " + self.run(["--version"]).split()[0]

    def run(self, args):
        full = self.cmd + ["--endpoint-url", ENDPOINT, "--ca-bundle", CA_FILE, "--output", "json"] + args
        p = subprocess.run(full, capture_output=True, text=True, timeout=300)
        out = p.stdout + p.stderr
        if p.returncode != 0:
            if "AccessDenied" in out or "MalformedPolicy" in out:
                raise Denied(out.strip())
            raise AssertionError(f"`{' '.join(full)}` exited {p.returncode}:\n{out}")
        return out

    def create_bucket(self, b):
        self.run(["s3api", "create-bucket", "--bucket", b])

    def put_bucket_policy(self, b, text):
        path = os.path.join(WORK_DIR, "policy.json")
        with open(path, "w") as f:
            f.write(text)
        self.run(["s3api", "put-bucket-policy", "--bucket", b, "--policy", f"file://{path}"])

    def get_bucket_policy(self, b):
        return json.loads(self.run(["s3api", "get-bucket-policy", "--bucket", b]))["Policy"]

    def delete_bucket_policy(self, b):
        self.run(["s3api", "delete-bucket-policy", "--bucket", b])

    # The SSE options of `s3api` (low level) and `s3 cp` (high level): (SSE, KMS key id, SSE-C algorithm, key).
    S3API = ("--server-side-encryption", "--ssekms-key-id", "--sse-customer-algorithm", "--sse-customer-key")
    S3CP = ("--sse", "--sse-kms-key-id", "--sse-c", "--sse-c-key")

    @staticmethod
    def _sse(sse, names):
        args = []
        for value, name in zip((sse.get("sse"), sse.get("kms_key")), names):
            if value:
                args += [name, value]
        if sse.get("ssec"):
            args += [names[2], "AES256", names[3], f"fileb://{SSE_C_KEY_FILE}"]
        return args

    def put(self, b, key, path, sse):
        self.run(["s3api", "put-object", "--bucket", b, "--key", key, "--body", path] + self._sse(sse, self.S3API))

    def upload(self, b, key, path, sse):
        self.run(["s3", "cp", "--no-progress", path, f"s3://{b}/{key}"] + self._sse(sse, self.S3CP))

    def exists(self, b, key, sse):
        args = ["s3api", "head-object", "--bucket", b, "--key", key] + self._sse({"ssec": sse.get("ssec")}, self.S3API)
        try:
            self.run(args)
            return True
        except AssertionError as e:
            check("404" in str(e) or "Not Found" in str(e), f"HEAD {b}/{key}: {e}")
            return False


def backend_has(b, key):
    return backend_leaks.holds(BACKEND_ROOT, b, key)


def expect(client, b, key, sse, allowed, multipart=False):
    what = f"{'multipart upload' if multipart else 'put'} {key} with {sse or 'no SSE headers'}"
    upload = client.upload if multipart else client.put
    try:
        upload(b, key, BIG if multipart else SMALL, sse)
        check(allowed, f"{what}: succeeded, but the policy denies it")
        check(client.exists(b, key, sse), f"{what}: succeeded but HEAD finds no object")
        check(backend_has(b, key), f"{what}: succeeded but the backend holds no object")
        print(f"    allowed: {what}", flush=True)
    except Denied as e:
        check(not allowed, f"{what}: refused, but the policy allows it: {e}")
        check("AccessDenied" in str(e), f"{what}: expected AccessDenied, got {e}")
        check(not client.exists(b, key, sse), f"{what}: denied, yet the object is visible")
        check(not backend_has(b, key), f"{what}: denied, yet the backend holds an object")
        print(f"    denied:  {what}", flush=True)


def fixture(name, bucket):
    with open(os.path.join(POLICY_DIR, name)) as f:
        return f.read().replace("DOC-EXAMPLE-BUCKET", bucket)


def put_policy(client, b, text):
    client.put_bucket_policy(b, text)
    check(json.loads(client.get_bucket_policy(b)) == json.loads(text), "GetBucketPolicy returns another policy")


def main():
    client = Boto3() if sys.argv[1] == "boto3" else AwsCli(sys.argv[2:])
    print(f"client: {client.name}", flush=True)
    run_examples(client)
    print(f"policy examples ({client.name}): all checks passed", flush=True)


def run_examples(client):
    """Every example policy, each on its own bucket named PREFIX-*."""
    aes = {"sse": "AES256"}
    kms = {"sse": "aws:kms"}
    ssec = {"ssec": True}
    none = {}

    b = f"{PREFIX}-aes"
    with step("PutObjPolicy (DenyIncorrectEncryptionHeader + DenyUnEncryptedObjectUploads): AES256 only"):
        client.create_bucket(b)
        put_policy(client, b, fixture("put-obj-policy-aes256.json", b))
        expect(client, b, "plain", none, False)
        expect(client, b, "kms", kms, False)
        expect(client, b, "ssec", ssec, False)
        expect(client, b, "aes", aes, True)
        expect(client, b, "plain-mp", none, False, multipart=True)
        expect(client, b, "aes-mp", aes, True, multipart=True)

    with step("DeleteBucketPolicy: the denied upload now succeeds"):
        client.delete_bucket_policy(b)
        expect(client, b, "plain", none, True)

    b = f"{PREFIX}-null"
    with step("DenyUnEncryptedObjectUploads alone (Null with JSON true): any SSE header passes"):
        client.create_bucket(b)
        put_policy(client, b, fixture("deny-unencrypted-object-uploads.json", b))
        expect(client, b, "plain", none, False)
        expect(client, b, "aes", aes, True)
        expect(client, b, "kms", kms, True)
        expect(client, b, "plain-mp", none, False, multipart=True)

    b = f"{PREFIX}-ssec"
    with step("RestrictSSECObjectUploads: SSE-C denied, the rest allowed"):
        client.create_bucket(b)
        put_policy(client, b, fixture("deny-sse-c.json", b))
        expect(client, b, "ssec", ssec, False)
        expect(client, b, "ssec-mp", ssec, False, multipart=True)
        expect(client, b, "plain", none, True)
        expect(client, b, "aes", aes, True)

    b = f"{PREFIX}-tls"
    with step("AllowSSLRequestsOnly: every request reaches the gateway over TLS, so nothing is denied"):
        client.create_bucket(b)
        put_policy(client, b, fixture("allow-ssl-requests-only.json", b))
        expect(client, b, "plain", none, True)
        expect(client, b, "plain-mp", none, True, multipart=True)

    b = f"{PREFIX}-kms"
    with step("DenyObjectsThatAreNotSSEKMSWithSpecificKey: only SSE-KMS under the gateway's default key ARN"):
        client.create_bucket(b)
        # The gateway's default key, by ARN: what a HEAD of an SSE-KMS object names.
        expect(client, b, "probe", kms, True)
        if isinstance(client, Boto3):
            arn = client.s3.head_object(Bucket=b, Key="probe")["SSEKMSKeyId"]
        else:
            arn = json.loads(client.run(["s3api", "head-object", "--bucket", b, "--key", "probe"]))["SSEKMSKeyId"]
        check(arn.startswith("arn:aws:kms:"), f"HEAD names {arn!r}, not a key ARN")
        text = fixture("require-sse-kms-specific-key.json", b).replace(
            "arn:aws:kms:us-east-2:111122223333:key/01234567-89ab-cdef-0123-456789abcdef", arn
        )
        put_policy(client, b, text)
        expect(client, b, "right-key", {"sse": "aws:kms", "kms_key": arn}, True)
        expect(client, b, "right-key-mp", {"sse": "aws:kms", "kms_key": arn}, True, multipart=True)
        expect(client, b, "no-key-id", kms, False)
        expect(client, b, "alias", {"sse": "aws:kms", "kms_key": "alias/aws/s3"}, False)
        expect(client, b, "aes", aes, False)
        expect(client, b, "plain-mp", none, False, multipart=True)

    with step("PutBucketPolicy naming another bucket's objects: MalformedPolicy, nothing stored"):
        other = fixture("put-obj-policy-aes256.json", f"{PREFIX}-other")
        try:
            client.put_bucket_policy(b, other)
            raise AssertionError("a policy for another bucket was accepted")
        except Denied as e:
            check("MalformedPolicy" in str(e), f"expected MalformedPolicy, got {e}")
        check(json.loads(client.get_bucket_policy(b)) == json.loads(text), "the stored policy changed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - print the failing step's error and exit 1
        import traceback

        traceback.print_exc()
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
