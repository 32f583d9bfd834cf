#!/usr/bin/env python3
"""boto3 through the gateway on the embedded backend (s3s-fs): does it answer as S3 does? (issue 18; and
GetObjectAttributes, issue 20)

Usage: embedded_s3.py CASE, one of the functions in CASES below. Each case creates its own bucket (S3_BUCKET
with a suffix) and removes it again.

Environment (set by tests/embedded.rs): S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION,
S3_CA_FILE, S3_BUCKET, WORK_DIR.

Exit status 0 only if every check held. Each step is printed; a failure prints the step.
"""

import base64
import hashlib
import os
import sys
import threading

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import steps  # noqa: E402
from steps import check, check_eq, error_of, step  # noqa: E402

ENDPOINT = os.environ["S3_ENDPOINT"]
CA_FILE = os.environ["S3_CA_FILE"]
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
# The harness names it after the case (with underscores, which bucket names may not have).
BUCKET = os.environ["S3_BUCKET"].replace("_", "-")
MIB = 1024 * 1024


def client():
    # No retries: a 5xx must fail the step, not be retried into success.
    return boto3.session.Session().client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        verify=CA_FILE,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )




class Bucket:
    """A fresh bucket for one case, emptied and removed at the end."""

    def __init__(self, s3, suffix):
        self.s3 = s3
        self.name = f"{BUCKET[: 63 - len(suffix) - 1]}-{suffix}"

    def __enter__(self):
        self.s3.create_bucket(Bucket=self.name)
        return self.name

    def __exit__(self, *exc):
        try:
            boto3.session.Session().resource(
                "s3", endpoint_url=ENDPOINT, region_name=REGION, verify=CA_FILE
            ).Bucket(self.name).object_versions.delete()
            self.s3.delete_bucket(Bucket=self.name)
        except Exception:  # noqa: BLE001 - best effort after a failure; a passing case removed it itself
            if exc[0] is None:
                raise
        return False


def missing_and_directory_keys():
    s3 = client()
    with Bucket(s3, "dirs") as b:
        s3.put_object(Bucket=b, Key="dir/sub/f.bin", Body=b"x" * 100)
        for key in ["dir", "dir/sub", "missing", "dir/sub/f.bin/more"]:
            with step(f"HEAD {key!r}: bare 404"):
                check_eq(error_of(s3.head_object, Bucket=b, Key=key), ("404", 404), "HEAD")
            with step(f"GET {key!r}: 404 NoSuchKey"):
                check_eq(error_of(s3.get_object, Bucket=b, Key=key), ("NoSuchKey", 404), "GET")
        with step("the object under the directory still reads"):
            check_eq(s3.get_object(Bucket=b, Key="dir/sub/f.bin")["Body"].read(), b"x" * 100, "body")
        s3.delete_object(Bucket=b, Key="dir/sub/f.bin")
        with step("GET in a bucket that does not exist: 404 NoSuchBucket"):
            check_eq(error_of(s3.get_object, Bucket=b + "-none", Key="k"), ("NoSuchBucket", 404), "GET")


def prefix_keys_and_folder_markers():
    """A key that is also a prefix of others (`a` and `a/b`, in either order) and keys ending in `/` (folder markers,
    empty or not) are stored, read, listed, copied, uploaded in parts and deleted as S3 does. The embedded backend
    keeps objects as files named after their keys; those that cannot be files of the tree live beside it."""
    s3 = client()
    long_beside = "a/" + "k/" * 150 + "z"  # under a's file, too long for a file name as base64
    bodies = {"a": b"file a", "a/b": b"under a", "folder/": b"", "x/y": b"deep", "x": b"then x",
              "m/": b"marker with data", long_beside: b"long beside"}
    get = lambda b, k: s3.get_object(Bucket=b, Key=k)["Body"].read()  # noqa: E731
    with Bucket(s3, "prefixes") as b:
        with step("PUT a, then a/b under it; x/y, then x over its directory; two folder markers; a long key"):
            for k, body in bodies.items():
                s3.put_object(Bucket=b, Key=k, Body=body)
        with step("GET and HEAD answer each key's own body and size"):
            for k, body in bodies.items():
                check_eq(get(b, k), body, f"GET {k[:20]!r}")
                check_eq(s3.head_object(Bucket=b, Key=k)["ContentLength"], len(body), f"HEAD {k[:20]!r}")
        with step("ListObjectsV2 lists every key once, in S3's order, with its size"):
            got = s3.list_objects_v2(Bucket=b)["Contents"]
            want = sorted((k, len(v)) for k, v in bodies.items())
            check_eq([(e["Key"], e["Size"]) for e in got], want, "listing")
        with step("delimiter '/': a and x are objects; a/ folder/ m/ x/ are prefixes"):
            got = s3.list_objects_v2(Bucket=b, Delimiter="/")
            check_eq([e["Key"] for e in got.get("Contents", [])], ["a", "x"], "objects")
            check_eq([p["Prefix"] for p in got.get("CommonPrefixes", [])], ["a/", "folder/", "m/", "x/"], "prefixes")
        with step("prefix folder/ with delimiter '/' lists the marker itself"):
            got = s3.list_objects_v2(Bucket=b, Prefix="folder/", Delimiter="/")
            check_eq([e["Key"] for e in got.get("Contents", [])], ["folder/"], "objects")
        with step("PUT over a key beside the tree replaces it"):
            s3.put_object(Bucket=b, Key="a/b", Body=b"replaced")
            check_eq(get(b, "a/b"), b"replaced", "body")
        with step("CopyObject to a key under another's file, and onto a folder marker"):
            s3.copy_object(Bucket=b, Key="a/copy", CopySource={"Bucket": b, "Key": "x"})
            check_eq(get(b, "a/copy"), b"then x", "a/copy")
            s3.copy_object(Bucket=b, Key="m/", CopySource={"Bucket": b, "Key": "a"})
            check_eq(get(b, "m/"), b"file a", "m/")
        with step("a multipart upload to a key under another's file"):
            parts = [os.urandom(5 * MIB), b"tail"]
            up = s3.create_multipart_upload(Bucket=b, Key="a/mp")["UploadId"]
            done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=b, Key="a/mp", UploadId=up, PartNumber=n,
                                                             Body=body)["ETag"]}
                    for n, body in enumerate(parts, 1)]
            s3.complete_multipart_upload(Bucket=b, Key="a/mp", UploadId=up, MultipartUpload={"Parts": done})
            check_eq(hashlib.sha256(get(b, "a/mp")).hexdigest(), hashlib.sha256(b"".join(parts)).hexdigest(), "body")
        root = os.environ.get("S3_BACKEND_ROOT")
        if root:
            with step("a key left both in the tree and beside it (a write stopped between its two steps) is listed "
                      "once and read from the tree"):
                beside = os.path.join(root, beside_dir(b), base64.urlsafe_b64encode(b"x/y").decode().rstrip("="))
                with open(beside, "wb") as f:
                    f.write(b"stale copy")
                keys = [e["Key"] for e in s3.list_objects_v2(Bucket=b)["Contents"]]
                check_eq(keys.count("x/y"), 1, "x/y listed")
                check_eq(get(b, "x/y"), b"deep", "x/y")
                s3.delete_object(Bucket=b, Key="x/y")
                check(not os.path.exists(beside), "DELETE removes both copies")
                s3.put_object(Bucket=b, Key="x/y", Body=b"deep")
        with step("DELETE a: a/b and the keys under it stay; a is 404"):
            s3.delete_object(Bucket=b, Key="a")
            check_eq(error_of(s3.get_object, Bucket=b, Key="a"), ("NoSuchKey", 404), "GET a")
            check_eq(get(b, "a/b"), b"replaced", "a/b")
            check_eq(get(b, long_beside), b"long beside", "the long key")
        with step("DeleteObjects of a folder marker and a key beside the tree"):
            got = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "folder/"}, {"Key": "a/b"}]})
            check_eq(sorted(d["Key"] for d in got.get("Deleted", [])), ["a/b", "folder/"], "deleted")
            check_eq(error_of(s3.head_object, Bucket=b, Key="folder/"), ("404", 404), "HEAD folder/")
        with step("DeleteBucket while only a folder marker is left: 409 BucketNotEmpty"):
            for k in ["x", "x/y", "a/copy", "a/mp", long_beside]:
                s3.delete_object(Bucket=b, Key=k)
            check_eq([e["Key"] for e in s3.list_objects_v2(Bucket=b).get("Contents", [])], ["m/"], "left")
            check_eq(error_of(s3.delete_bucket, Bucket=b), ("BucketNotEmpty", 409), "DeleteBucket")
        s3.delete_object(Bucket=b, Key="m/")
    root = os.environ.get("S3_BACKEND_ROOT")
    if root:
        with step("the deleted bucket leaves nothing beside its tree"):
            check(not os.path.exists(os.path.join(root, beside_dir(b))), f"{beside_dir(b)} is gone")


def beside_dir(bucket):
    """The embedded backend's directory (in its root) of `bucket`'s keys that cannot be files of its tree."""
    return ".bucket-" + base64.urlsafe_b64encode(bucket.encode()).decode().rstrip("=") + ".beside"


def check_entry(e, size, what):
    check_eq(e["Size"], size, f"{what} Size")
    etag = e.get("ETag", "")
    check(len(etag) > 2 and etag.startswith('"') and etag.endswith('"'), f"{what} ETag {etag!r} is quoted")
    check("LastModified" in e, f"{what} has LastModified")
    check_eq(e.get("StorageClass"), "STANDARD", f"{what} StorageClass")


def listings():
    s3 = client()
    with Bucket(s3, "list") as b:
        etags = {}
        for key, size in [("a.txt", 10), ("p/b.bin", 2000), ("p/q/c.bin", 0)]:
            etags[key] = s3.put_object(Bucket=b, Key=key, Body=b"z" * size)["ETag"]
        heads = {k: s3.head_object(Bucket=b, Key=k)["ETag"] for k in etags}
        with step("ListObjectsV2: ETag (as HEAD says), Size, LastModified, StorageClass; no Owner unasked"):
            got = s3.list_objects_v2(Bucket=b)["Contents"]
            check_eq([e["Key"] for e in got], ["a.txt", "p/b.bin", "p/q/c.bin"], "keys")
            for e, size in zip(got, [10, 2000, 0]):
                check_entry(e, size, e["Key"])
                check_eq(e["ETag"], heads[e["Key"]], f"{e['Key']} ETag listed vs HEAD")
                check("Owner" not in e, f"{e['Key']} has no Owner without fetch-owner")
        with step("ListObjectsV2 fetch-owner=true: each entry has an Owner"):
            for e in s3.list_objects_v2(Bucket=b, FetchOwner=True)["Contents"]:
                check(e.get("Owner", {}).get("ID"), f"{e['Key']} Owner ID")
        with step("ListObjects (V1): ETag, Size, StorageClass, Owner"):
            got = s3.list_objects(Bucket=b, Prefix="p/", Delimiter="/")
            check_eq([e["Key"] for e in got["Contents"]], ["p/b.bin"], "keys")
            check_eq([p["Prefix"] for p in got["CommonPrefixes"]], ["p/q/"], "prefixes")
            check_entry(got["Contents"][0], 2000, "p/b.bin")
            check(got["Contents"][0].get("Owner", {}).get("ID"), "Owner ID")
        # The gateway's own records sort first (`.s3-sse-proxy/`): they must not take the places of a page.
        for name, call, page_key in [
            ("ListObjectsV2", lambda **kw: s3.list_objects_v2(Bucket=b, **kw), "StartAfter"),
            ("ListObjects", lambda **kw: s3.list_objects(Bucket=b, **kw), "Marker"),
        ]:
            with step(f"{name} MaxKeys=1: one key a page, every key once, MaxKeys as asked"):
                seen, after = [], None
                while True:
                    got = call(MaxKeys=1, **({page_key: after} if after else {}))
                    keys = [e["Key"] for e in got.get("Contents", [])]
                    check_eq(len(keys), 1, f"keys on the page after {after!r}")
                    check_eq(got["MaxKeys"], 1, "MaxKeys")
                    seen += keys
                    after = keys[-1]
                    if not got["IsTruncated"]:
                        break
                check_eq(seen, ["a.txt", "p/b.bin", "p/q/c.bin"], "keys paged one by one")
        with step("ListObjectsV2 MaxKeys=1 with a delimiter: the first entry is the client's"):
            got = s3.list_objects_v2(Bucket=b, MaxKeys=1, Delimiter="/")
            check_eq([e["Key"] for e in got.get("Contents", [])], ["a.txt"], "first page")
            check_eq(got.get("KeyCount"), 1, "KeyCount")
        for key in etags:
            s3.delete_object(Bucket=b, Key=key)


def versions():
    s3 = client()
    with Bucket(s3, "vers") as b:
        keys = ["a", "b/1", "b/2", "c"]
        for k in keys:
            s3.put_object(Bucket=b, Key=k, Body=k.encode())
        with step("GetBucketVersioning: no Status"):
            got = s3.get_bucket_versioning(Bucket=b)
            check("Status" not in got and "MFADelete" not in got, f"versioning {got}")
        with step("PutBucketVersioning: 501 NotImplemented"):
            check_eq(
                error_of(s3.put_bucket_versioning, Bucket=b, VersioningConfiguration={"Status": "Enabled"}),
                ("NotImplemented", 501),
                "PutBucketVersioning",
            )
        with step("ListObjectVersions: each object once, VersionId null, IsLatest, ETag, Size, StorageClass"):
            got = s3.list_object_versions(Bucket=b)
            vs = got["Versions"]
            check_eq([v["Key"] for v in vs], keys, "keys")
            for v in vs:
                check_eq(v["VersionId"], "null", "VersionId")
                check_eq(v["IsLatest"], True, "IsLatest")
                check_entry(v, len(v["Key"]), v["Key"])
            check("DeleteMarkers" not in got, "no delete markers")
        with step("ListObjectVersions prefix/delimiter"):
            got = s3.list_object_versions(Bucket=b, Delimiter="/")
            check_eq([v["Key"] for v in got["Versions"]], ["a", "c"], "keys")
            check_eq([p["Prefix"] for p in got["CommonPrefixes"]], ["b/"], "prefixes")
            got = s3.list_object_versions(Bucket=b, Prefix="b/")
            check_eq([v["Key"] for v in got["Versions"]], ["b/1", "b/2"], "keys under b/")
        with step("ListObjectVersions max-keys and key-marker page through"):
            seen, marker = [], None
            for _ in range(10):
                kw = {"KeyMarker": marker} if marker else {}
                got = s3.list_object_versions(Bucket=b, MaxKeys=3, **kw)
                seen += [v["Key"] for v in got.get("Versions", [])]
                if not got["IsTruncated"]:
                    break
                marker = got["NextKeyMarker"]
            check_eq(seen, keys, "keys over pages")
        with step("bucket.object_versions.delete() empties the bucket; DeleteBucket succeeds"):
            res = boto3.session.Session().resource("s3", endpoint_url=ENDPOINT, region_name=REGION, verify=CA_FILE)
            res.Bucket(b).object_versions.delete()
            check_eq(s3.list_objects_v2(Bucket=b)["KeyCount"], 0, "objects left")
            s3.delete_bucket(Bucket=b)
            check_eq(error_of(s3.head_bucket, Bucket=b), ("404", 404), "HEAD of the deleted bucket")
            s3.create_bucket(Bucket=b)  # for the case's own cleanup


def delete_objects_and_location():
    s3 = client()
    with Bucket(s3, "dels") as b:
        for k in ["x/1", "x/2", "y"]:
            s3.put_object(Bucket=b, Key=k, Body=b"1")
        with step("DeleteObjects: every key reported deleted (a missing one too), none left"):
            got = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in ["x/1", "x/2", "y", "nope"]]})
            check_eq(sorted(d["Key"] for d in got.get("Deleted", [])), ["nope", "x/1", "x/2", "y"], "deleted")
            check_eq(got.get("Errors", []), [], "errors")
            check_eq(s3.list_objects_v2(Bucket=b)["KeyCount"], 0, "objects left")
        with step("DeleteObjects in a bucket that does not exist: 404 NoSuchBucket"):
            got = error_of(s3.delete_objects, Bucket=b + "-none", Delete={"Objects": [{"Key": "k"}]})
            check_eq(got, ("NoSuchBucket", 404), "DeleteObjects")
        with step("GetBucketLocation: us-east-1 (null LocationConstraint)"):
            check_eq(s3.get_bucket_location(Bucket=b).get("LocationConstraint"), None, "LocationConstraint")
        with step("GetBucketLocation of a bucket that does not exist: 404 NoSuchBucket"):
            check_eq(error_of(s3.get_bucket_location, Bucket=b + "-none"), ("NoSuchBucket", 404), "location")


def delete_bucket_not_empty():
    s3 = client()
    with Bucket(s3, "full") as b:
        s3.put_object(Bucket=b, Key="d/k", Body=b"kept")
        with step("DeleteBucket of a bucket with an object: 409 BucketNotEmpty, the object kept"):
            check_eq(error_of(s3.delete_bucket, Bucket=b), ("BucketNotEmpty", 409), "DeleteBucket")
            check_eq(s3.get_object(Bucket=b, Key="d/k")["Body"].read(), b"kept", "body")
        with step("once the object is deleted, DeleteBucket succeeds"):
            s3.delete_object(Bucket=b, Key="d/k")
            s3.delete_bucket(Bucket=b)
            check_eq(error_of(s3.head_bucket, Bucket=b), ("404", 404), "HEAD of the deleted bucket")
            s3.create_bucket(Bucket=b)  # for the case's own cleanup


INVALID_BUCKET_NAMES = ["ab", "AB", "a..b", "a" * 64, "192.168.1.2", "-ab", "ab-"]
# Names of the right shape that S3 reserves (prefixes and suffixes of its general purpose bucket naming rules).
# Not `--x-s3`: botocore takes such a name for a directory bucket and signs it for S3 Express (unit-tested).
RESERVED_BUCKET_NAMES = ["sthree-ab", "amzn-s3-demo-ab", "ab-s3alias", "ab--ol-s3", "ab.mrap", "ab--table-s3"]


def invalid_bucket_names():
    from botocore.exceptions import ClientError

    s3 = client()
    for name in INVALID_BUCKET_NAMES + RESERVED_BUCKET_NAMES:
        with step(f"CreateBucket {name!r}: 400 InvalidBucketName, in S3's words, and no bucket"):
            try:
                s3.create_bucket(Bucket=name)
                raise AssertionError(f"CreateBucket {name!r} succeeded")
            except ClientError as e:
                err, status = e.response["Error"], e.response["ResponseMetadata"]["HTTPStatusCode"]
                check_eq((err["Code"], status), ("InvalidBucketName", 400), "CreateBucket")
                check_eq(err.get("Message"), "The specified bucket is not valid.", "message")
            check(name not in [b["Name"] for b in s3.list_buckets()["Buckets"]], "listed")
    for name in INVALID_BUCKET_NAMES:
        for op, kw in [
            (s3.put_object, {"Key": "k", "Body": b"1"}),
            (s3.get_object, {"Key": "k"}),
            (s3.list_objects_v2, {}),
            (s3.delete_bucket, {}),
        ]:
            with step(f"{op.__name__} on {name!r}: 400 InvalidBucketName or 404 NoSuchBucket, in S3's words"):
                try:
                    op(Bucket=name, **kw)
                    raise AssertionError(f"{op.__name__} on {name!r} succeeded")
                except ClientError as e:
                    code, status = e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
                    message = e.response["Error"].get("Message", "")
                check((code, status) in [("InvalidBucketName", 400), ("NoSuchBucket", 404)], f"{code} {status}")
                # Never the gateway's own record it was reading (its bucket state under .s3-sse-proxy/).
                check(".s3-sse-proxy" not in message and "backend" not in message, message)


def conditional_writes():
    s3 = client()
    with Bucket(s3, "cond") as b:
        with step("PUT If-None-Match: * on a new key: 200; again: 412"):
            first = s3.put_object(Bucket=b, Key="k", Body=b"one", IfNoneMatch="*")["ETag"]
            check_eq(error_of(s3.put_object, Bucket=b, Key="k", Body=b"two", IfNoneMatch="*"),
                     ("PreconditionFailed", 412), "second PUT")
            check_eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"one", "the first body stays")
        with step("PUT If-Match with a wrong ETag: 412, object unchanged"):
            check_eq(error_of(s3.put_object, Bucket=b, Key="k", Body=b"two", IfMatch='"0123456789abcdef0123456789abcdef"'),
                     ("PreconditionFailed", 412), "PUT")
            check_eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"one", "body")
        with step("PUT If-Match on a missing key: 404 NoSuchKey"):
            check_eq(error_of(s3.put_object, Bucket=b, Key="none", Body=b"x", IfMatch=first),
                     ("NoSuchKey", 404), "PUT")
        with step("CompleteMultipartUpload If-None-Match: * over an existing key: 412; on a new key: 200"):
            for key, want in [("k", ("PreconditionFailed", 412)), ("mp", None)]:
                up = s3.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
                etag = s3.upload_part(Bucket=b, Key=key, UploadId=up, PartNumber=1, Body=b"p" * 1000)["ETag"]
                kw = dict(Bucket=b, Key=key, UploadId=up, IfNoneMatch="*",
                          MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
                if want:
                    check_eq(error_of(s3.complete_multipart_upload, **kw), want, f"Complete {key}")
                    s3.abort_multipart_upload(Bucket=b, Key=key, UploadId=up)
                else:
                    s3.complete_multipart_upload(**kw)
            check_eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"one", "k unchanged")
            check_eq(s3.get_object(Bucket=b, Key="mp")["Body"].read(), b"p" * 1000, "mp")
        with step("CompleteMultipartUpload If-Match with a wrong ETag: 412"):
            up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
            etag = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"q" * 10)["ETag"]
            check_eq(error_of(s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=up,
                              IfMatch='"0123456789abcdef0123456789abcdef"',
                              MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}),
                     ("PreconditionFailed", 412), "Complete")
            s3.abort_multipart_upload(Bucket=b, Key="k", UploadId=up)
        with step("DeleteObject If-Match with a wrong ETag: 412, object kept"):
            check_eq(error_of(s3.delete_object, Bucket=b, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"'),
                     ("PreconditionFailed", 412), "DELETE")
            check_eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"one", "body")
        for k in ["k", "mp"]:
            s3.delete_object(Bucket=b, Key=k)


def conditional_copies():
    """CopyObject's destination conditions (S3, 2025): If-None-Match: * refuses to overwrite, If-Match compares the
    ETag the client sees (the gateway translates it to the backend's), and a refused copy changes nothing."""
    s3 = client()
    with Bucket(s3, "condcopy") as b:
        s3.put_object(Bucket=b, Key="src", Body=b"source")
        etag = s3.put_object(Bucket=b, Key="dst", Body=b"dest")["ETag"]
        src = {"Bucket": b, "Key": "src"}
        with step("If-None-Match: * onto an existing key: 412 PreconditionFailed, the destination unchanged"):
            check_eq(error_of(s3.copy_object, Bucket=b, Key="dst", CopySource=src, IfNoneMatch="*"),
                     ("PreconditionFailed", 412), "copy")
            check_eq(s3.get_object(Bucket=b, Key="dst")["Body"].read(), b"dest", "destination")
        with step("If-Match with a stale ETag: 412, unchanged"):
            check_eq(error_of(s3.copy_object, Bucket=b, Key="dst", CopySource=src, IfMatch='"0123abcd"'),
                     ("PreconditionFailed", 412), "copy")
            check_eq(s3.get_object(Bucket=b, Key="dst")["Body"].read(), b"dest", "destination")
        with step("If-Match on a key that does not exist: 404 NoSuchKey"):
            check_eq(error_of(s3.copy_object, Bucket=b, Key="none", CopySource=src, IfMatch=etag),
                     ("NoSuchKey", 404), "copy")
        with step("If-Match with the ETag the client saw: copied"):
            s3.copy_object(Bucket=b, Key="dst", CopySource=src, IfMatch=etag)
            check_eq(s3.get_object(Bucket=b, Key="dst")["Body"].read(), b"source", "destination")
        with step("If-None-Match: * onto a new key: copied"):
            s3.copy_object(Bucket=b, Key="new", CopySource=src, IfNoneMatch="*")
            check_eq(s3.get_object(Bucket=b, Key="new")["Body"].read(), b"source", "new")
        for k in ["src", "dst", "new"]:
            s3.delete_object(Bucket=b, Key=k)


def conditional_writes_with_the_current_etag():
    """If-Match with the ETag the client was given (HEAD, PutObject) succeeds."""
    s3 = client()
    with Bucket(s3, "cond-ok") as b:
        first = s3.put_object(Bucket=b, Key="k", Body=b"one")["ETag"]
        with step("PUT If-Match with the object's ETag: 200, object replaced"):
            s3.put_object(Bucket=b, Key="k", Body=b"two", IfMatch=first)
            check_eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"two", "body")
        with step("CompleteMultipartUpload If-Match with the object's ETag: 200"):
            up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
            etag = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"q" * 10)["ETag"]
            s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, IfMatch=s3.head_object(Bucket=b, Key="k")["ETag"],
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
            check_eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"q" * 10, "body")
        with step("DeleteObject If-Match with the object's ETag: deleted"):
            s3.delete_object(Bucket=b, Key="k", IfMatch=s3.head_object(Bucket=b, Key="k")["ETag"])
            check_eq(error_of(s3.head_object, Bucket=b, Key="k"), ("404", 404), "HEAD after delete")


def racing_creates():
    """Two writers PUT one key with If-None-Match: * at the same time, many rounds: exactly one wins each."""
    s3 = client()
    with Bucket(s3, "race") as b:
        clients = [client(), client()]
        bodies = [b"A" * (4 * MIB), b"B" * (4 * MIB)]
        with step("20 rounds of two racing If-None-Match: * PUTs: one 200 and one 412 each; object whole"):
            for r in range(20):
                key = f"race-{r}"
                results = [None, None]
                barrier = threading.Barrier(2)

                def put(i):
                    barrier.wait()
                    try:
                        clients[i].put_object(Bucket=b, Key=key, Body=bodies[i], IfNoneMatch="*")
                        results[i] = 200
                    except ClientError as e:
                        results[i] = (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])

                threads = [threading.Thread(target=put, args=(i,)) for i in range(2)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                check_eq(sorted(results, key=str), sorted([200, (412, "PreconditionFailed")], key=str),
                         f"round {r} results")
                winner = results.index(200)
                check_eq(s3.get_object(Bucket=b, Key=key)["Body"].read(), bodies[winner], f"round {r} object")
                s3.delete_object(Bucket=b, Key=key)


def delimiters_never_show_records():
    """The gateway's records (`.s3-sse-proxy/…`) never show as a common prefix, whatever the delimiter (issue 23),
    and a prefix the client's own keys share with them stays."""
    s3 = client()
    with Bucket(s3, "delims") as b:
        for key in ["a.txt", "p/b.bin", "z-1"]:
            s3.put_object(Bucket=b, Key=key, Body=b"x")

        def prefixes(call, **kw):
            got = call(Bucket=b, **kw)
            return sorted(p["Prefix"] for p in got.get("CommonPrefixes", [])), got

        with step("Delimiter '-' and '.': no prefix made of the records alone; KeyCount counts what is shown"):
            for name, call in [("V2", s3.list_objects_v2), ("V1", s3.list_objects), ("versions", s3.list_object_versions)]:
                got, page = prefixes(call, Delimiter="-")
                check_eq(got, ["z-"], f"{name} Delimiter='-' prefixes")
                got, page = prefixes(call, Delimiter=".")
                check_eq(got, ["a.", "p/b."], f"{name} Delimiter='.' prefixes")
                if name == "V2":
                    shown = len(page.get("Contents", [])) + len(page.get("CommonPrefixes", []))
                    check_eq(page["KeyCount"], shown, "V2 KeyCount")
                got, _ = prefixes(call, Delimiter="s")
                check(all(not ".s3-sse-proxy".startswith(p) for p in got), f"{name} Delimiter='s': {got}")
        with step("a key of the client's under '.s3-': that prefix is shown"):
            s3.put_object(Bucket=b, Key=".s3-mine", Body=b"m")
            for name, call in [("V2", s3.list_objects_v2), ("V1", s3.list_objects), ("versions", s3.list_object_versions)]:
                got, _ = prefixes(call, Delimiter="-")
                check_eq(got, [".s3-", "z-"], f"{name} Delimiter='-' with .s3-mine")
        for key in ["a.txt", "p/b.bin", "z-1", ".s3-mine"]:
            s3.delete_object(Bucket=b, Key=key)


def object_attributes():
    """GetObjectAttributes answered by the gateway: the plaintext's size and parts, the client's ETag, SSE-C's key
    rules (issue 20). The backend would describe the ciphertext."""
    import base64
    import hashlib

    def sse_c(key):
        # boto3 does not encode the key for GetObjectAttributes (it does for GetObject): send it as S3 wants it.
        return {
            "SSECustomerAlgorithm": "AES256",
            "SSECustomerKey": base64.b64encode(key).decode(),
            "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
        }

    every = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
    s3 = client()
    with Bucket(s3, "attrs") as b:
        with step("one PutObject (SSE-S3): ETag as PutObject said, plaintext ObjectSize, STANDARD, no parts"):
            put = s3.put_object(Bucket=b, Key="one", Body=b"abc")
            got = s3.get_object_attributes(Bucket=b, Key="one", ObjectAttributes=every)
            check_eq(got["ETag"], put["ETag"].strip('"'), "ETag (S3 answers it unquoted)")
            check_eq(got["ObjectSize"], 3, "ObjectSize")
            check_eq(got["StorageClass"], "STANDARD", "StorageClass")
            check("ObjectParts" not in got, f"ObjectParts of a single-part object: {got.get('ObjectParts')}")
            # The plaintext's checksum boto3 sent (CRC32 by default), never the backend's ciphertext one.
            check_eq(got.get("Checksum"), {"ChecksumCRC32": put["ChecksumCRC32"], "ChecksumType": "FULL_OBJECT"},
                     "Checksum")
            check("LastModified" in got, "LastModified")
        # (A non-last part of odd size would be re-encrypted into one stream at Complete: README, "Listings without
        # lookups".)
        with step("a multipart object (SSE-KMS, parts of 5 MiB and 1003 bytes): plaintext part sizes, paginated"):
            p1, p2 = b"p" * (5 * MIB), b"q" * 1003
            up = s3.create_multipart_upload(Bucket=b, Key="multi", ServerSideEncryption="aws:kms")
            parts = [
                {"PartNumber": n, "ETag": s3.upload_part(Bucket=b, Key="multi", UploadId=up["UploadId"], PartNumber=n, Body=p)["ETag"]}
                for n, p in [(1, p1), (2, p2)]
            ]
            done = s3.complete_multipart_upload(Bucket=b, Key="multi", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
            got = s3.get_object_attributes(Bucket=b, Key="multi", ObjectAttributes=every)
            check_eq(got["ETag"], done["ETag"].strip('"'), "ETag")
            check_eq(got["ObjectSize"], len(p1) + len(p2), "ObjectSize")
            op = got["ObjectParts"]
            check_eq(op["TotalPartsCount"], 2, "PartsCount")
            check_eq([(p["PartNumber"], p["Size"]) for p in op["Parts"]], [(1, len(p1)), (2, len(p2))], "parts")
            check_eq(op["IsTruncated"], False, "IsTruncated")
            page = s3.get_object_attributes(Bucket=b, Key="multi", ObjectAttributes=["ObjectParts"], MaxParts=1)["ObjectParts"]
            check_eq([p["PartNumber"] for p in page["Parts"]], [1], "MaxParts=1: first page")
            check(page["IsTruncated"], "MaxParts=1: truncated")
            rest = s3.get_object_attributes(
                Bucket=b, Key="multi", ObjectAttributes=["ObjectParts"], MaxParts=1, PartNumberMarker=page["NextPartNumberMarker"]
            )["ObjectParts"]
            check_eq([(p["PartNumber"], p["Size"]) for p in rest["Parts"]], [(2, len(p2))], "the page after the marker")
        with step("an unaligned multipart object (rewritten as one stream at Complete) still has the client's parts"):
            sizes = [5 * MIB + 1, 5 * MIB + 70_001, 7]
            data = [os.urandom(n) for n in sizes]
            up = s3.create_multipart_upload(Bucket=b, Key="odd")
            parts = [
                {"PartNumber": n, "ETag": s3.upload_part(Bucket=b, Key="odd", UploadId=up["UploadId"], PartNumber=n, Body=p)["ETag"]}
                for n, p in enumerate(data, 1)
            ]
            done = s3.complete_multipart_upload(Bucket=b, Key="odd", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
            got = s3.get_object_attributes(Bucket=b, Key="odd", ObjectAttributes=every)
            check_eq(got["ETag"], done["ETag"].strip('"'), "ETag")
            check_eq(got["ObjectSize"], sum(sizes), "ObjectSize")
            check_eq(got["ObjectParts"]["TotalPartsCount"], 3, "PartsCount")
            check_eq([(p["PartNumber"], p["Size"]) for p in got["ObjectParts"]["Parts"]], list(enumerate(sizes, 1)), "parts")
            for n in [1, 2, 3]:
                start = sum(sizes[: n - 1])
                g = s3.get_object(Bucket=b, Key="odd", PartNumber=n)
                check_eq((g["PartsCount"], g["ContentRange"]), (3, f"bytes {start}-{start + sizes[n - 1] - 1}/{sum(sizes)}"), f"GET part {n}")
                check(g["Body"].read() == data[n - 1], f"GET part {n}: its bytes")
                h = s3.head_object(Bucket=b, Key="odd", PartNumber=n)
                check_eq((h["PartsCount"], h["ContentLength"]), (3, sizes[n - 1]), f"HEAD part {n}")
            check_eq(error_of(s3.get_object, Bucket=b, Key="odd", PartNumber=4), ("InvalidPartNumber", 416), "part 4")
        with step("the same key replaced by one PutObject: one piece again, no parts (the old part list is not used)"):
            s3.put_object(Bucket=b, Key="odd", Body=b"x" * 10)
            got = s3.get_object_attributes(Bucket=b, Key="odd", ObjectAttributes=every)
            check_eq(got["ObjectSize"], 10, "ObjectSize")
            check("ObjectParts" not in got, f"ObjectParts of the replacement: {got.get('ObjectParts')}")
            check("PartsCount" not in s3.head_object(Bucket=b, Key="odd"), "HEAD without partNumber: no PartsCount")
            check_eq(error_of(s3.get_object, Bucket=b, Key="odd", PartNumber=2), ("InvalidPartNumber", 416), "part 2")
        with step("SSE-C: the key is needed (400 without, 403 with another), and opens the attributes"):
            key = os.urandom(32)
            s3.put_object(Bucket=b, Key="secret", Body=b"s" * 70_000, SSECustomerAlgorithm="AES256", SSECustomerKey=key)
            check_eq(error_of(s3.get_object_attributes, Bucket=b, Key="secret", ObjectAttributes=every), ("InvalidRequest", 400), "no key")
            check_eq(
                error_of(s3.get_object_attributes, Bucket=b, Key="secret", ObjectAttributes=every, **sse_c(os.urandom(32))),
                ("AccessDenied", 403),
                "another key",
            )
            got = s3.get_object_attributes(Bucket=b, Key="secret", ObjectAttributes=every, **sse_c(key))
            check_eq(got["ObjectSize"], 70_000, "ObjectSize with the key")
        with step("errors: a missing key is 404 NoSuchKey; an unknown attribute 400 InvalidArgument"):
            check_eq(error_of(s3.get_object_attributes, Bucket=b, Key="nothing", ObjectAttributes=every), ("NoSuchKey", 404), "missing")
            check_eq(
                error_of(s3.get_object_attributes, Bucket=b, Key="one", ObjectAttributes=["ETag", "Size"]),
                ("InvalidArgument", 400),
                "unknown attribute",
            )
        for k in ["one", "multi", "odd", "secret"]:
            s3.delete_object(Bucket=b, Key=k)


def conditional_deletes():
    """S3's conditional deletes: DeleteObject's If-Match and the ETag of a DeleteObjects entry compare the ETag the
    client sees (the gateway names the backend's to it); a stale one is 412 PreconditionFailed (DeleteObjects: that
    entry's <Error>), one on a missing key 404 NoSuchKey, and nothing refused is deleted."""
    s3 = client()
    with Bucket(s3, "conddel") as b:
        etags = {k: s3.put_object(Bucket=b, Key=k, Body=k.encode() * 100)["ETag"] for k in ["a", "b", "c", "d"]}
        up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
        part = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=b"m" * 1000)["ETag"]
        etags["mp"] = s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up,
                                                   MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part}]})["ETag"]
        stale = '"0123456789abcdef0123456789abcdef"'
        with step("DeleteObject If-Match on a missing key: 404 NoSuchKey"):
            check_eq(error_of(s3.delete_object, Bucket=b, Key="none", IfMatch=etags["a"]), ("NoSuchKey", 404), "DELETE")
        with step("DeleteObject If-Match with the ETag PutObject answered: deleted"):
            s3.delete_object(Bucket=b, Key="a", IfMatch=etags["a"])
            check_eq(error_of(s3.head_object, Bucket=b, Key="a"), ("404", 404), "HEAD after delete")
        with step("DeleteObjects with per-entry ETags: current ones deleted, a stale one 412, a missing key 404"):
            got = s3.delete_objects(Bucket=b, Delete={"Objects": [
                {"Key": "b", "ETag": etags["b"]},
                {"Key": "c", "ETag": stale},
                {"Key": "none", "ETag": etags["b"]},
                {"Key": "d"},
                {"Key": "mp", "ETag": etags["mp"]},
            ]})
            check_eq(sorted(d["Key"] for d in got.get("Deleted", [])), ["b", "d", "mp"], "Deleted")
            check_eq(sorted((e["Key"], e["Code"]) for e in got.get("Errors", [])),
                     [("c", "PreconditionFailed"), ("none", "NoSuchKey")], "Errors")
        with step("the refused entry's object is unchanged; the deleted ones are gone"):
            check_eq(s3.get_object(Bucket=b, Key="c")["Body"].read(), b"c" * 100, "c")
            for k in ["b", "d", "mp"]:
                check_eq(error_of(s3.head_object, Bucket=b, Key=k), ("404", 404), f"HEAD {k}")
        s3.delete_object(Bucket=b, Key="c")


def delete_objects_removes_records():
    """DeleteObjects removes the gateway's checksum records and part layouts of the keys it deleted, as
    DeleteObject does (they used to stay until DeleteBucket)."""
    s3 = client()
    root = os.environ["S3_BACKEND_ROOT"]
    with Bucket(s3, "delrec") as b:
        checksums = os.path.join(root, b, ".s3-sse-proxy", "checksum")
        layouts = os.path.join(root, b, ".s3-sse-proxy", "layout")
        with step("objects with checksum records (trailer checksums) and a multipart object with a part layout"):
            for k in ["x", "y"]:
                s3.put_object(Bucket=b, Key=k, Body=os.urandom(200_000), ChecksumAlgorithm="CRC32")
            up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
            parts = [s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=n, Body=os.urandom(size))["ETag"]
                     for n, size in [(1, 5 * MIB), (2, 1000)]]
            s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={
                "Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(parts)]})
            s3.put_object(Bucket=b, Key="kept", Body=os.urandom(200_000), ChecksumAlgorithm="CRC32")
            named = {hashlib.sha256(k.encode()).hexdigest(): k for k in ["x", "y", "mp", "kept"]}
            before = sorted(named.get(n, n) for n in os.listdir(checksums))
            check({"x", "y", "kept"} <= set(before), f"checksum records of {before}, not of x, y and kept")
            check(os.path.isdir(layouts) and len(os.listdir(layouts)) == 1, "a part layout at the backend")
        with step("DeleteObjects of x, y and mp: their records are gone, the kept object's stays"):
            got = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in ["x", "y", "mp"]]})
            check_eq(sorted(d["Key"] for d in got.get("Deleted", [])), ["mp", "x", "y"], "Deleted")
            check_eq(sorted(named.get(n, n) for n in os.listdir(checksums)), ["kept"], "checksum records left")
            check_eq(os.listdir(layouts) if os.path.isdir(layouts) else [], [], "part layouts left")
            check_eq(s3.get_object(Bucket=b, Key="kept", ChecksumMode="ENABLED").get("ChecksumCRC32") is not None, True,
                     "the kept object's checksum")
        s3.delete_object(Bucket=b, Key="kept")


def retried_and_gone_uploads():
    """A Complete retried after it succeeded (its answer lost on the way back) answers success again, as S3 does;
    every other operation on a completed, aborted or made-up upload is 404 NoSuchUpload (s3s-fs: 403 AccessDenied)."""
    s3 = client()
    sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
    with Bucket(s3, "retry") as b:
        for what, extra in [("SSE-S3, unaligned parts (realigned)", {}), ("SSE-C with the key", sse_c)]:
            pieces = [os.urandom(5 * MIB), os.urandom(1000)]
            up = s3.create_multipart_upload(Bucket=b, Key="mp", ChecksumAlgorithm="CRC32", **extra)["UploadId"]
            parts = []
            for n, piece in enumerate(pieces, 1):
                r = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=n, Body=piece, ChecksumAlgorithm="CRC32",
                                   **extra)
                parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
            complete = dict(Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Parts": parts}, **extra)
            first = s3.complete_multipart_upload(**complete)
            with step(f"{what}: Complete again answers the same ETag and checksum, the object unchanged"):
                again = s3.complete_multipart_upload(**complete)
                check_eq(again["ETag"], first["ETag"], "ETag")
                check_eq(again.get("ChecksumCRC32"), first.get("ChecksumCRC32"), "ChecksumCRC32")
                check(first.get("ChecksumCRC32") is not None, "the first Complete answered the checksum")
                check_eq(again["Key"], "mp", "Key")
                got = s3.get_object(Bucket=b, Key="mp", **extra)
                check_eq(got["ETag"], first["ETag"], "GET's ETag")
                check_eq(hashlib.sha256(got["Body"].read()).hexdigest(), hashlib.sha256(b"".join(pieces)).hexdigest(),
                         "the object's content")
            with step(f"{what}: the completed upload takes no parts, lists none, aborts not: 404 NoSuchUpload"):
                check_eq(error_of(s3.upload_part, Bucket=b, Key="mp", UploadId=up, PartNumber=3, Body=b"x", **extra),
                         ("NoSuchUpload", 404), "UploadPart")
                check_eq(error_of(s3.list_parts, Bucket=b, Key="mp", UploadId=up), ("NoSuchUpload", 404), "ListParts")
                check_eq(error_of(s3.abort_multipart_upload, Bucket=b, Key="mp", UploadId=up), ("NoSuchUpload", 404),
                         "AbortMultipartUpload")
            with step(f"{what}: once another object replaced it, the retried Complete is 404 NoSuchUpload"):
                s3.put_object(Bucket=b, Key="mp", Body=b"another object")
                check_eq(error_of(s3.complete_multipart_upload, **complete), ("NoSuchUpload", 404), "Complete")
                check_eq(s3.get_object(Bucket=b, Key="mp")["Body"].read(), b"another object", "the other object stays")
        with step("an aborted upload: Complete and Abort are 404 NoSuchUpload"):
            up = s3.create_multipart_upload(Bucket=b, Key="ab")["UploadId"]
            r = s3.upload_part(Bucket=b, Key="ab", UploadId=up, PartNumber=1, Body=b"x" * 1000)
            s3.abort_multipart_upload(Bucket=b, Key="ab", UploadId=up)
            check_eq(error_of(s3.complete_multipart_upload, Bucket=b, Key="ab", UploadId=up,
                              MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]}), ("NoSuchUpload", 404),
                     "Complete")
            check_eq(error_of(s3.abort_multipart_upload, Bucket=b, Key="ab", UploadId=up), ("NoSuchUpload", 404), "Abort")
            check_eq(error_of(s3.head_object, Bucket=b, Key="ab"), ("404", 404), "no object")
        with step("a made-up upload ID: 404 NoSuchUpload"):
            for upload_id in ["0f0e0d0c-0b0a-0908-0706-050403020100", "not-an-upload"]:
                check_eq(error_of(s3.list_parts, Bucket=b, Key="x", UploadId=upload_id), ("NoSuchUpload", 404), upload_id)
        s3.delete_object(Bucket=b, Key="mp")


def abandoned_complete():
    """A CompleteMultipartUpload whose client goes away once it has sent it (a killed process, a dropped
    connection) still completes, records and all, as S3 finishes a request it has read: the object reads back
    whole, with its checksum, and the upload is gone. The gateway's Complete is several steps (the backend's, the
    object's layout, a realignment of unaligned parts, the checksum records): cut between two, the object would
    be left without what it is read with."""
    import socket
    import ssl
    import time
    import zlib
    from urllib.parse import urlsplit

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest

    s3 = client()
    with Bucket(s3, "abandoned") as b:
        # Unaligned parts: the gateway rewrites the object after the backend's Complete (about 40 MiB), which
        # keeps its Complete going well after the client has gone.
        pieces = [os.urandom(20 * MIB + 1000), os.urandom(20 * MIB)]
        up = s3.create_multipart_upload(Bucket=b, Key="mp", ChecksumAlgorithm="CRC32")["UploadId"]
        parts = []
        xml = "<CompleteMultipartUpload>"
        for n, piece in enumerate(pieces, 1):
            r = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=n, Body=piece, ChecksumAlgorithm="CRC32")
            parts.append(r["ChecksumCRC32"])
            xml += (f"<Part><PartNumber>{n}</PartNumber><ETag>{r['ETag']}</ETag>"
                    f"<ChecksumCRC32>{r['ChecksumCRC32']}</ChecksumCRC32></Part>")
        body = (xml + "</CompleteMultipartUpload>").encode()
        with step("the Complete is sent on a connection the client closes before any answer"):
            url = f"{ENDPOINT}/{b}/mp?uploadId={up}"
            req = AWSRequest(method="POST", url=url, data=body,
                             headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
            creds = boto3.session.Session().get_credentials().get_frozen_credentials()
            S3SigV4Auth(creds, "s3", REGION).add_auth(req)
            prepared = req.prepare()
            target = urlsplit(prepared.url)
            head = f"POST {target.path}?{target.query} HTTP/1.1\r\nHost: {target.netloc}\r\n"
            head += f"Content-Length: {len(body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in prepared.headers.items() if k.lower() != "host")
            tls = ssl.create_default_context(cafile=CA_FILE)
            with socket.create_connection((target.hostname, target.port)) as raw:
                with tls.wrap_socket(raw, server_hostname=target.hostname) as conn:
                    conn.sendall(head.encode() + b"\r\n" + body)
                    # Read what the server sent after the handshake (TLS 1.3 session tickets), so that the close
                    # is a FIN, not a reset: a reset can discard the request before the gateway reads it.
                    conn.settimeout(0.02)
                    try:
                        answered = conn.recv(1)
                    except (TimeoutError, socket.timeout, ssl.SSLError):
                        answered = b""
            check_eq(answered, b"", "an answer before the client went away")
        with step("the object appears, whole, with the checksum of its parts, and the upload is gone"):
            composite = zlib.crc32(b"".join(base64.b64decode(c) for c in parts)).to_bytes(4, "big")
            want = base64.b64encode(composite).decode() + "-2"
            deadline = time.monotonic() + 30
            while True:
                try:
                    got = s3.head_object(Bucket=b, Key="mp", ChecksumMode="ENABLED")
                    state = (got["ContentLength"], got.get("ChecksumCRC32"))
                except ClientError as e:
                    state = e.response["Error"]["Code"]
                uploads = s3.list_multipart_uploads(Bucket=b).get("Uploads", [])
                if (state == (len(b"".join(pieces)), want) and not uploads) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            check_eq(state, (len(b"".join(pieces)), want), "the object's size and ChecksumCRC32")
            check_eq([u["UploadId"] for u in uploads], [], "uploads in progress")
            got = s3.get_object(Bucket=b, Key="mp", ChecksumMode="ENABLED")
            check_eq(hashlib.sha256(got["Body"].read()).hexdigest(), hashlib.sha256(b"".join(pieces)).hexdigest(),
                     "the object's content")
            check_eq(got.get("ChecksumCRC32"), want, "GET's ChecksumCRC32")
        s3.delete_object(Bucket=b, Key="mp")


def subresources_on_ciphertext_are_refused():
    """GetObjectTorrent, SelectObjectContent and RenameObject cannot work on the ciphertext the backend holds: 501
    NotImplemented, and the object stays as it was (RenameObject was a PutObject of an empty body before)."""
    s3 = client()
    with Bucket(s3, "subres") as b:
        s3.put_object(Bucket=b, Key="k.csv", Body=b"a,b\n1,2\n")
        with step("GetObjectTorrent: 501 NotImplemented"):
            check_eq(error_of(s3.get_object_torrent, Bucket=b, Key="k.csv"), ("NotImplemented", 501), "torrent")
        with step("SelectObjectContent: 501 NotImplemented"):
            check_eq(error_of(s3.select_object_content, Bucket=b, Key="k.csv", Expression="select * from s3object",
                              ExpressionType="SQL", InputSerialization={"CSV": {}}, OutputSerialization={"CSV": {}}),
                     ("NotImplemented", 501), "select")
        with step("RenameObject: 501 NotImplemented, nothing renamed, nothing overwritten"):
            check_eq(error_of(s3.rename_object, Bucket=b, Key="new.csv", RenameSource=f"{b}/k.csv"),
                     ("NotImplemented", 501), "rename")
            check_eq(s3.get_object(Bucket=b, Key="k.csv")["Body"].read(), b"a,b\n1,2\n", "the object")
            check_eq(error_of(s3.head_object, Bucket=b, Key="new.csv"), ("404", 404), "no renamed object")
        s3.delete_object(Bucket=b, Key="k.csv")


def copy_onto_itself():
    """CopyObject of an object onto itself must change something (metadata with REPLACE, storage class, website
    redirect, encryption, checksum algorithm); S3 refuses one that changes nothing with 400 InvalidRequest, and
    the object stays as it was. A named source version is another object: allowed."""
    s3 = client()
    with Bucket(s3, "selfcopy") as b:
        put = s3.put_object(Bucket=b, Key="k", Body=b"self", Metadata={"a": "1"})
        src = {"Bucket": b, "Key": "k"}
        with step("onto itself, nothing changed: 400 InvalidRequest, the object unchanged"):
            check_eq(error_of(s3.copy_object, Bucket=b, Key="k", CopySource=src), ("InvalidRequest", 400), "COPY")
            h = s3.head_object(Bucket=b, Key="k")
            check_eq((h["ETag"], h["Metadata"]), (put["ETag"], {"a": "1"}), "the object")
        with step("onto itself with REPLACE, with SSE named, with a checksum algorithm: allowed"):
            s3.copy_object(Bucket=b, Key="k", CopySource=src, MetadataDirective="REPLACE", Metadata={"a": "2"})
            check_eq(s3.head_object(Bucket=b, Key="k")["Metadata"], {"a": "2"}, "metadata replaced")
            s3.copy_object(Bucket=b, Key="k", CopySource=src, ServerSideEncryption="aws:kms")
            check_eq(s3.head_object(Bucket=b, Key="k")["ServerSideEncryption"], "aws:kms", "now SSE-KMS")
            s3.copy_object(Bucket=b, Key="k", CopySource=src, ChecksumAlgorithm="SHA256")
            check_eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"self", "the data")
        with step("onto another key, nothing named: allowed"):
            s3.copy_object(Bucket=b, Key="k2", CopySource=src)
            check_eq(s3.get_object(Bucket=b, Key="k2")["Body"].read(), b"self", "the copy")
        for k in ["k", "k2"]:
            s3.delete_object(Bucket=b, Key=k)


def list_multipart_uploads():
    """ListMultipartUploads (s3s-fs does not implement it; the embedded backend does): the open uploads by key,
    with prefix, delimiter and MaxUploads paging; completed and aborted uploads are gone; a listed upload ID
    aborts its upload (what `rclone cleanup` and scripts do)."""
    s3 = client()
    with Bucket(s3, "uploads") as b:
        with step("three open uploads: every one listed, in key order, STANDARD, with an initiator"):
            ids = {k: s3.create_multipart_upload(Bucket=b, Key=k)["UploadId"] for k in ["d/y", "a", "d/x"]}
            got = s3.list_multipart_uploads(Bucket=b)
            check_eq([u["Key"] for u in got.get("Uploads", [])], ["a", "d/x", "d/y"], "keys")
            check(all(u["StorageClass"] == "STANDARD" and "Initiated" in u and u.get("Initiator") for u in got["Uploads"]),
                  f"uploads: {got['Uploads']}")
            check_eq(got["IsTruncated"], False, "IsTruncated")
        with step("prefix and delimiter: d/ rolled up; under d/, both"):
            got = s3.list_multipart_uploads(Bucket=b, Delimiter="/")
            check_eq(([u["Key"] for u in got.get("Uploads", [])], [p["Prefix"] for p in got.get("CommonPrefixes", [])]),
                     (["a"], ["d/"]), "Delimiter=/")
            got = s3.list_multipart_uploads(Bucket=b, Prefix="d/")
            check_eq([u["Key"] for u in got.get("Uploads", [])], ["d/x", "d/y"], "Prefix=d/")
        with step("MaxUploads=1 pages through each upload once"):
            seen, kw = [], {}
            for _ in range(5):
                page = s3.list_multipart_uploads(Bucket=b, MaxUploads=1, **kw)
                seen += [u["Key"] for u in page.get("Uploads", [])]
                if not page["IsTruncated"]:
                    break
                kw = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
            check_eq(seen, ["a", "d/x", "d/y"], "pages")
        with step("a listed upload ID aborts its upload; a completed upload is gone too"):
            listed = {u["Key"]: u["UploadId"] for u in s3.list_multipart_uploads(Bucket=b)["Uploads"]}
            s3.abort_multipart_upload(Bucket=b, Key="a", UploadId=listed["a"])
            part = s3.upload_part(Bucket=b, Key="d/x", UploadId=ids["d/x"], PartNumber=1, Body=b"x" * 10)
            s3.complete_multipart_upload(Bucket=b, Key="d/x", UploadId=ids["d/x"],
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
            got = s3.list_multipart_uploads(Bucket=b)
            check_eq([u["Key"] for u in got.get("Uploads", [])], ["d/y"], "left open")
            s3.abort_multipart_upload(Bucket=b, Key="d/y", UploadId=ids["d/y"])
            check_eq(s3.list_multipart_uploads(Bucket=b).get("Uploads", []), [], "none left")
        with step("a bucket that does not exist: 404 NoSuchBucket"):
            check_eq(error_of(s3.list_multipart_uploads, Bucket=b + "-none"), ("NoSuchBucket", 404), "missing bucket")
        s3.delete_object(Bucket=b, Key="d/x")


def object_tagging():
    """Object tagging on the embedded backend (s3s-fs answered 501 and dropped x-amz-tagging silently): tags set by
    PutObject, PutObjectTagging, CopyObject (COPY and REPLACE) and CreateMultipartUpload, counted on GET, replaced
    by a new write, removed by DeleteObjectTagging and DeleteObject; S3's limits refused with 400 InvalidTag,
    storing nothing."""
    s3 = client()
    tagset = lambda k: s3.get_object_tagging(Bucket=b, Key=k)["TagSet"]  # noqa: E731
    with Bucket(s3, "tagging") as b:
        with step("PutObject with Tagging: GetObjectTagging lists them, GET counts them"):
            s3.put_object(Bucket=b, Key="t", Body=b"tagged", Tagging="project=blue%20green&team=x")
            check_eq(tagset("t"), [{"Key": "project", "Value": "blue green"}, {"Key": "team", "Value": "x"}], "tags")
            check_eq(s3.get_object(Bucket=b, Key="t").get("TagCount"), 2, "x-amz-tagging-count")
        with step("PutObjectTagging replaces them; DeleteObjectTagging removes them"):
            s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
            check_eq(tagset("t"), [{"Key": "k", "Value": "v"}], "replaced")
            s3.delete_object_tagging(Bucket=b, Key="t")
            check_eq(tagset("t"), [], "removed")
            check_eq(s3.get_object(Bucket=b, Key="t").get("TagCount"), None, "no count without tags")
        with step("CopyObject: the source's tags by default, the request's with REPLACE"):
            s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": [{"Key": "src", "Value": "1"}]})
            s3.copy_object(Bucket=b, Key="c1", CopySource={"Bucket": b, "Key": "t"})
            check_eq(tagset("c1"), [{"Key": "src", "Value": "1"}], "COPY")
            s3.copy_object(Bucket=b, Key="c2", CopySource={"Bucket": b, "Key": "t"}, TaggingDirective="REPLACE",
                           Tagging="new=2")
            check_eq(tagset("c2"), [{"Key": "new", "Value": "2"}], "REPLACE")
        with step("a new PutObject of the key has only the tags it names"):
            s3.put_object(Bucket=b, Key="t", Body=b"again")
            check_eq(tagset("t"), [], "after an overwrite without Tagging")
        with step("CreateMultipartUpload with Tagging: the completed object has them"):
            up = s3.create_multipart_upload(Bucket=b, Key="m", Tagging="mp=yes")["UploadId"]
            part = s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=b"m" * 100)
            s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=up,
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
            check_eq(tagset("m"), [{"Key": "mp", "Value": "yes"}], "multipart")
        with step("odd part sizes (the gateway rewrites the object as one stream at Complete): the tags stay"):
            up = s3.create_multipart_upload(Bucket=b, Key="odd", Tagging="odd=1&b=x%20y")["UploadId"]
            done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=b, Key="odd", UploadId=up, PartNumber=n,
                                                             Body=b"o" * size)["ETag"]}
                    for n, size in [(1, 5 * MIB + 1), (2, 7)]]
            etag = s3.complete_multipart_upload(Bucket=b, Key="odd", UploadId=up, MultipartUpload={"Parts": done})["ETag"]
            check(etag.endswith('-1"'), f"rewritten as one stream (ETag {etag})")
            check_eq(tagset("odd"), [{"Key": "odd", "Value": "1"}, {"Key": "b", "Value": "x y"}], "after the rewrite")
            check_eq(s3.head_object(Bucket=b, Key="odd")["ContentLength"], 5 * MIB + 8, "size")
        with step("S3's limits: 400 InvalidTag, nothing stored or changed"):
            eleven = "&".join(f"k{i}=v" for i in range(11))
            check_eq(error_of(s3.put_object, Bucket=b, Key="bad", Body=b"x", Tagging=eleven), ("InvalidTag", 400), "11 tags")
            check_eq(error_of(s3.head_object, Bucket=b, Key="bad"), ("404", 404), "nothing stored")
            check_eq(error_of(s3.put_object_tagging, Bucket=b, Key="m",
                              Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}),
                     ("InvalidTag", 400), "a key twice")
            check_eq(tagset("m"), [{"Key": "mp", "Value": "yes"}], "unchanged")
        with step("tagging a key that does not exist: 404 NoSuchKey; DeleteObject takes the tags with it"):
            check_eq(error_of(s3.get_object_tagging, Bucket=b, Key="none"), ("NoSuchKey", 404), "GET tagging")
            check_eq(error_of(s3.put_object_tagging, Bucket=b, Key="none", Tagging={"TagSet": []}),
                     ("NoSuchKey", 404), "PUT tagging")
            s3.delete_object(Bucket=b, Key="c1")
            s3.put_object(Bucket=b, Key="c1", Body=b"fresh")
            check_eq(tagset("c1"), [], "a new object at a deleted key")
        for k in ["t", "c1", "c2", "m", "odd"]:
            s3.delete_object(Bucket=b, Key=k)


def backend_files(bucket, containing):
    """The embedded backend's per-object files (in its root) of `bucket` whose names contain `containing`."""
    mark = ".bucket-" + base64.urlsafe_b64encode(bucket.encode()).decode().rstrip("=") + ".object"
    return [n for n in os.listdir(os.environ["S3_BACKEND_ROOT"]) if n.startswith(mark) and containing in n]


def long_key(prefix, size, fill):
    """A key of exactly `size` UTF-8 bytes: `prefix`, then segments of `fill` (a 1-, 2-, 3- or 4-byte character)
    of at most 250 bytes each, between `/`."""
    key = prefix
    while len(key.encode()) < size:
        room = size - len(key.encode())
        seg = fill * (min(room, 250) // len(fill.encode()))
        seg += "x" * (min(room, 250) - len(seg.encode()))
        key += seg
        if len(key.encode()) < size:
            key += "/"
    check_eq(len(key.encode()), size, f"length of {key[:20]!r}")
    check(all(len(s.encode()) <= 255 for s in key.split("/")), "segments of at most 255 bytes")
    return key


def long_keys():
    """Keys of up to 1024 bytes (S3's limit), multi-byte UTF-8 too, whose `/` segments are at most 255 bytes, work
    as any key; a longer key is 400 KeyTooLongError; a segment over 255 bytes (the embedded backend keeps each as a
    file name) is 400 KeyTooLongError too. Neither stores anything. s3s-fs answered 500 InternalError from about
    150 bytes on (its per-object files are named after base64 of bucket and key)."""
    s3 = client()
    with Bucket(s3, "longkeys") as b:
        k200 = long_key("lk/a/", 200, "k")
        k500 = long_key("lk/b/", 500, "\u00fc")
        k1024 = long_key("lk/c/", 1024, "\u65e5")
        emoji = long_key("lk/d/", 1024, "\U0001F600")
        bodies = {k: os.urandom(n) for k, n in [(k200, 1000), (k500, 70_000), (k1024, 0), (emoji, 5)]}
        for k, body in bodies.items():
            with step(f"{len(k.encode())}-byte key {k[:8]!r}: PutObject, GetObject, HeadObject"):
                s3.put_object(Bucket=b, Key=k, Body=body)
                check_eq(s3.get_object(Bucket=b, Key=k)["Body"].read(), body, "body")
                check_eq(s3.head_object(Bucket=b, Key=k)["ContentLength"], len(body), "HEAD ContentLength")
        keys = sorted(bodies)
        with step("ListObjectsV2 lists each key exactly, with its size"):
            got = s3.list_objects_v2(Bucket=b, Prefix="lk/")
            check_eq([o["Key"] for o in got.get("Contents", [])], keys, "keys")
            check_eq([o["Size"] for o in got["Contents"]], [len(bodies[k]) for k in keys], "sizes")
        with step("ListObjectsV2 with a delimiter, a long prefix, StartAfter"):
            got = s3.list_objects_v2(Bucket=b, Prefix="lk/", Delimiter="/")
            check_eq([p["Prefix"] for p in got.get("CommonPrefixes", [])], ["lk/a/", "lk/b/", "lk/c/", "lk/d/"],
                     "common prefixes")
            deep = k1024.rsplit("/", 1)[0] + "/"
            got = s3.list_objects_v2(Bucket=b, Prefix=deep, Delimiter="/")
            check_eq([o["Key"] for o in got.get("Contents", [])], [k1024], "under the long prefix")
            got = s3.list_objects_v2(Bucket=b, StartAfter=k500)
            check_eq([o["Key"] for o in got.get("Contents", [])], [k for k in keys if k > k500], "after k500")
            got = s3.list_objects(Bucket=b, Prefix="lk/b/")
            check_eq([o["Key"] for o in got.get("Contents", [])], [k500], "V1")
        copy = long_key("lk/e/", 1000, "\u00e9")
        with step("CopyObject from a long key to another long key"):
            s3.copy_object(Bucket=b, Key=copy, CopySource={"Bucket": b, "Key": k500})
            check_eq(s3.get_object(Bucket=b, Key=copy)["Body"].read(), bodies[k500], "copied body")
            check_eq(s3.get_object(Bucket=b, Key=k500)["Body"].read(), bodies[k500], "source body")
        mp = long_key("lk/f/", 1024, "\u00df")
        with step("a multipart upload to a 1024-byte key: 2 parts, ListParts, Complete"):
            pieces = [os.urandom(5 * MIB), os.urandom(1000)]
            up = s3.create_multipart_upload(Bucket=b, Key=mp)["UploadId"]
            parts = []
            for n, piece in enumerate(pieces, 1):
                r = s3.upload_part(Bucket=b, Key=mp, UploadId=up, PartNumber=n, Body=piece)
                parts.append({"PartNumber": n, "ETag": r["ETag"]})
            listed = s3.list_parts(Bucket=b, Key=mp, UploadId=up)
            check_eq([(p["PartNumber"], p["Size"]) for p in listed["Parts"]], [(1, 5 * MIB), (2, 1000)], "parts")
            check_eq(listed["Key"], mp, "ListParts Key")
            done = s3.complete_multipart_upload(Bucket=b, Key=mp, UploadId=up, MultipartUpload={"Parts": parts})
            check_eq(done["Key"], mp, "Complete Key")
            got = s3.get_object(Bucket=b, Key=mp)["Body"].read()
            check_eq(hashlib.sha256(got).hexdigest(), hashlib.sha256(b"".join(pieces)).hexdigest(), "body")
            check_eq(s3.head_object(Bucket=b, Key=mp)["ContentLength"], 5 * MIB + 1000, "HEAD ContentLength")
        keys = sorted(keys + [copy, mp])
        with step("DeleteObject of a long key"):
            s3.delete_object(Bucket=b, Key=k200)
            check_eq(error_of(s3.head_object, Bucket=b, Key=k200), ("404", 404), "HEAD after delete")
            check_eq(error_of(s3.get_object, Bucket=b, Key=k200), ("NoSuchKey", 404), "GET after delete")
        too_long = long_key("lk/g/", 1025, "z")
        segment = "lk/h/" + "s" * 256
        for what, k in [("a 1025-byte key", too_long), ("a 256-byte segment", segment)]:
            with step(f"{what}: PutObject, CreateMultipartUpload, CopyObject are 400 KeyTooLongError"):
                check_eq(error_of(s3.put_object, Bucket=b, Key=k, Body=b"never"), ("KeyTooLongError", 400), "PUT")
                check_eq(error_of(s3.create_multipart_upload, Bucket=b, Key=k), ("KeyTooLongError", 400), "Create")
                check_eq(error_of(s3.copy_object, Bucket=b, Key=k, CopySource={"Bucket": b, "Key": k500}),
                         ("KeyTooLongError", 400), "Copy")
            with step(f"{what}: nothing stored, GET/HEAD answer as for any missing key"):
                check_eq([o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", [])],
                         [k for k in keys if k != k200], "keys")
                check_eq(backend_files(b, ".upload-"), [], "the backend's files of open uploads")
                check(not os.path.exists(os.path.join(os.environ["S3_BACKEND_ROOT"], b, "lk", "g")), "no directory")
                check(not os.path.exists(os.path.join(os.environ["S3_BACKEND_ROOT"], b, "lk", "h")), "no directory")
                check(error_of(s3.head_object, Bucket=b, Key=k)[1] in (400, 404), "HEAD")
                check(error_of(s3.get_object, Bucket=b, Key=k) in [("KeyTooLongError", 400), ("NoSuchKey", 404)],
                      "GET")
        with step("DeleteObjects of long keys (and of a 256-byte segment key, which names nothing)"):
            rest = [k for k in keys if k != k200] + [segment]
            got = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in rest]})
            check_eq(sorted(d["Key"] for d in got.get("Deleted", [])), sorted(rest), "Deleted")
            check_eq(got.get("Errors", []), [], "Errors")
            check_eq(s3.list_objects_v2(Bucket=b).get("KeyCount"), 0, "objects left")


def errors_in_s3s_words():
    """Every error carries S3's code, status and message (s3s-fs names most by code alone: aws-cli then prints
    "Unknown"); re-creating one's own bucket is BucketAlreadyOwnedByYou (s3s-fs: BucketAlreadyExists)."""
    from botocore.exceptions import ClientError

    s3 = client()

    def error(fn, **kw):
        try:
            fn(**kw)
        except ClientError as e:
            err = e.response["Error"]
            return err["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], err.get("Message")
        raise AssertionError(f"{fn.__name__}({kw}) succeeded where S3 answers an error")

    with Bucket(s3, "errs") as b:
        s3.put_object(Bucket=b, Key="k", Body=b"12345")
        for what, fn, kw, expected in [
            ("GetObject of a missing key", s3.get_object, {"Bucket": b, "Key": "missing"},
             ("NoSuchKey", 404, "The specified key does not exist.")),
            ("GetObjectTagging of a missing key", s3.get_object_tagging, {"Bucket": b, "Key": "missing"},
             ("NoSuchKey", 404, "The specified key does not exist.")),
            ("CopyObject from a missing key", s3.copy_object,
             {"Bucket": b, "Key": "c", "CopySource": {"Bucket": b, "Key": "missing"}},
             ("NoSuchKey", 404, "The specified key does not exist.")),
            ("GetObject in a missing bucket", s3.get_object, {"Bucket": "no-such-bucket-errs", "Key": "k"},
             ("NoSuchBucket", 404, "The specified bucket does not exist")),
            ("ListObjectsV2 of a missing bucket", s3.list_objects_v2, {"Bucket": "no-such-bucket-errs"},
             ("NoSuchBucket", 404, "The specified bucket does not exist")),
            ("DeleteBucket of a bucket with an object", s3.delete_bucket, {"Bucket": b},
             ("BucketNotEmpty", 409, "The bucket you tried to delete is not empty")),
            ("CreateBucket of one's own bucket", s3.create_bucket, {"Bucket": b},
             ("BucketAlreadyOwnedByYou", 409,
              "Your previous request to create the named bucket succeeded and you already own it.")),
            ("a range past the end", s3.get_object, {"Bucket": b, "Key": "k", "Range": "bytes=10-20"},
             ("InvalidRange", 416, "The requested range is not satisfiable")),
        ]:
            with step(f"{what}: {expected[0]} {expected[1]}, in S3's words"):
                check_eq(error(fn, **kw), expected, what)
        with step("the object and the bucket are still there"):
            check_eq(s3.get_object(Bucket=b, Key="k")["Body"].read(), b"12345", "body")


CASES = {f.__name__: f for f in [missing_and_directory_keys, prefix_keys_and_folder_markers, errors_in_s3s_words, listings, versions, delete_objects_and_location,
                                  delete_bucket_not_empty,
                                  invalid_bucket_names, conditional_writes,
                                  conditional_writes_with_the_current_etag, conditional_copies, racing_creates, object_attributes,
                                  delimiters_never_show_records, conditional_deletes,
                                  delete_objects_removes_records, retried_and_gone_uploads, abandoned_complete,
                                  subresources_on_ciphertext_are_refused, copy_onto_itself,
                                  list_multipart_uploads, long_keys, object_tagging]}

if __name__ == "__main__":
    steps.run_case(CASES, __doc__)
