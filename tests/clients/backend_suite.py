#!/usr/bin/env python3
"""The backend suite: the gateway's features beyond the clients' main parts, with boto3 and curl, through a
gateway in front of any backend (tests/matrix.rs runs it against s3s-fs, Ceph RGW and moto).

    backend_suite.py [PART...]

PARTs (all by default), each on buckets of its own, each ending with one line the matrix records:
`PART <name> pass` or `PART <name> FAIL at step: <step>; <step>...`. A part goes on past a failing step, so
the line names every step that failed (a step a backend cannot do, listed in KNOWN_GAPS, hides nothing else).

    sse-kms             boto3_default.py's SSE-KMS steps: put/get/head/range/multipart/copy under the default
                        key and named keys (alias, id, ARN) shown in HEAD, an unknown key refused with
                        KMS.NotFoundException and nothing written, a disabled key (local KMS), no plaintext and
                        no master key at the backend
    default-encryption  PutBucketEncryption (aws:kms with a named key, then AES256): plain uploads (single
                        part, multipart, copy) land encrypted as HEAD shows; DeleteBucketEncryption; a bucket
                        policy denying unencrypted uploads still refuses a plain upload on such a bucket
    policy              policy_examples.py with boto3: AWS's example bucket policies allow and deny uploads
                        (single part and multipart) as documented, a denied upload leaves no object at the
                        gateway nor at the backend
    sigv2               sigv2_post.py's SigV2 part: header-signed put/get/head/range/list (the listing with a
                        prefix its own step), SSE-C, boto3's default (SigV2) presigned GET and PUT, refusals
    post                sigv2_post.py's POST part: generate_presigned_post (SigV4 and SigV2) and `curl -F`,
                        SSE-S3, SSE-C and SSE-KMS fields, success_action_status and redirect

Each part checks that the backend holds no plaintext of what it uploaded (backend_leaks.py).

Environment: what Gateway::client_env sets (S3_ENDPOINT, S3_CA_FILE, S3_BUCKET: the prefix of the part's
buckets, WORK_DIR, AWS_*), S3_BACKEND_ROOT (and S3_BACKEND_ACCESS_KEY_ID / _SECRET_ACCESS_KEY for a backend
read over S3), S3_POLICY_DIR (tests/fixtures/policies) and the S3_KMS_* variables of boto3_default.py's
sse-kms part (the local KMS: S3_KMS_ADMIN and S3_KMS_MASTER_KEY_DIR too). Exit status 0 only if every part
passed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backend_leaks  # noqa: E402
import boto3_default  # noqa: E402
import policy_examples  # noqa: E402
import sigv2_post  # noqa: E402
import steps  # noqa: E402
from steps import check, check_eq, step  # noqa: E402

PREFIX = boto3_default.BUCKET
KMS = {v: boto3_default.env(f"S3_KMS_{v}") for v in boto3_default.KMS_VARS}
MIB = 1024 * 1024


def leaks(bucket, *plain_files):
    rc = backend_leaks.main([os.path.join(boto3_default.BACKEND_ROOT, bucket), "--plain", *plain_files])
    check_eq(rc, 0, f"backend_leaks of {bucket}")


def part_sse_kms():
    # boto3_default's steps use its module's bucket and keys.
    boto3_default.BUCKET = f"{PREFIX}-kms"
    boto3_default.KMS = KMS
    s3 = boto3_default.make_client()
    with step(f"create_bucket {boto3_default.BUCKET}"):
        s3.create_bucket(Bucket=boto3_default.BUCKET)
    boto3_default.sse_kms_steps(s3)
    with step("SSE-KMS: managed multipart copy (UploadPartCopy, 5 MiB ranges) of the 12 MiB object, another key"):
        b = boto3_default.BUCKET
        tc = boto3_default.TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS["OTHER_KEY_ID"]}
        s3.copy({"Bucket": b, "Key": "kms/multipart.bin"}, b, "kms/multipart-copy.bin", ExtraArgs=extra, Config=tc)
        head = s3.head_object(Bucket=b, Key="kms/multipart-copy.bin")
        check_eq((head["ContentLength"], head["SSEKMSKeyId"]), (12 * MIB + 3, KMS["OTHER_KEY_ARN"]), "the copy")
        check_eq(head["ETag"][-3:], '-3"', "a 3-part ETag")
        original = s3.get_object(Bucket=b, Key="kms/multipart.bin")["Body"].read()
        check_eq(s3.get_object(Bucket=b, Key="kms/multipart-copy.bin")["Body"].read(), original, "the copy's body")
    boto3_default.delete_bucket(s3)


def default_sse(algorithm, key_id=None):
    rule = {"SSEAlgorithm": algorithm}
    if key_id:
        rule["KMSMasterKeyID"] = key_id
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": rule}]}


def part_default_encryption():
    client = policy_examples.Boto3()
    s3 = client.s3
    b = f"{PREFIX}-enc"
    data = os.urandom(300 * 1024 + 5)
    plain = os.path.join(boto3_default.WORK_DIR, "suite-default-sse.bin")
    with open(plain, "wb") as f:
        f.write(data)

    def sse_of(resp):
        return resp.get("ServerSideEncryption"), resp.get("SSEKMSKeyId")

    with step("PutBucketEncryption aws:kms with a key id; GetBucketEncryption returns it"):
        s3.create_bucket(Bucket=b)
        config = default_sse("aws:kms", KMS["KEY_ID"])
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=config)
        got = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"]
        check_eq(got[0]["ApplyServerSideEncryptionByDefault"], config["Rules"][0]["ApplyServerSideEncryptionByDefault"], "rule")

    with step("default aws:kms: a put_object without SSE headers lands SSE-KMS under that key (put, HEAD, GET)"):
        put = s3.put_object(Bucket=b, Key="plain", Body=data)
        check_eq(sse_of(put), ("aws:kms", KMS["KEY_ARN"]), "put_object SSE")
        check_eq(sse_of(s3.head_object(Bucket=b, Key="plain")), ("aws:kms", KMS["KEY_ARN"]), "head_object SSE")
        got = s3.get_object(Bucket=b, Key="plain", Range="bytes=1000-1999")
        check_eq(got["Body"].read(), data[1000:2000], "ranged get_object")
        put = s3.put_object(Bucket=b, Key="explicit-aes", Body=data, ServerSideEncryption="AES256")
        check_eq(sse_of(put), ("AES256", None), "an explicit SSE header wins over the default")

    with step("PutBucketEncryption AES256: a plain multipart upload and a plain copy land SSE-S3"):
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=default_sse("AES256"))
        big = os.path.join(boto3_default.WORK_DIR, "suite-default-sse-mp.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(6 * MIB))
        tc = boto3_default.TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
        s3.upload_file(big, b, "multipart", Config=tc)
        head = s3.head_object(Bucket=b, Key="multipart")
        check_eq((head["ContentLength"], sse_of(head)), (6 * MIB, ("AES256", None)), "multipart object")
        check_eq(head["ETag"][-3:], '-2"', "a 2-part ETag")
        s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "plain"})
        head = s3.head_object(Bucket=b, Key="copy")
        check_eq(sse_of(head), ("AES256", None), "the copy of an SSE-KMS object, without SSE headers")
        check_eq(s3.get_object(Bucket=b, Key="copy")["Body"].read(), data, "the copy's body")

    with step("DeleteBucketEncryption: GetBucketEncryption says AES256 (S3's default), plain puts are SSE-S3"):
        s3.delete_bucket_encryption(Bucket=b)
        got = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"]
        check_eq(got[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256", "default rule")
        check_eq(sse_of(s3.put_object(Bucket=b, Key="after", Body=b"x" * 100)), ("AES256", None), "put_object")

    with step("DenyUnEncryptedObjectUploads on a bucket with default aws:kms: a plain upload is AccessDenied"):
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=default_sse("aws:kms"))
        policy_examples.put_policy(client, b, policy_examples.fixture("deny-unencrypted-object-uploads.json", b))
        policy_examples.expect(client, b, "denied-plain", {}, False)
        policy_examples.expect(client, b, "allowed-kms", {"sse": "aws:kms"}, True)
        policy_examples.expect(client, b, "denied-plain-mp", {}, False, multipart=True)

    with step("the backend holds no plaintext of these objects"):
        leaks(b, plain, big)

    with step("DeleteObjects of every object, then DeleteBucket of the bucket with its encryption and policy"):
        keys = [{"Key": o["Key"]} for o in s3.list_objects_v2(Bucket=b).get("Contents", [])]
        check_eq(len(keys), 6, f"objects listed in {b}")
        check_eq(s3.delete_objects(Bucket=b, Delete={"Objects": keys}).get("Errors"), None, "DeleteObjects errors")
        s3.delete_bucket(Bucket=b)
        check(b not in [x["Name"] for x in s3.list_buckets()["Buckets"]], f"{b} still listed")


def part_policy():
    policy_examples.PREFIX = f"{PREFIX}-pol"
    policy_examples.run_examples(policy_examples.Boto3())
    with step("the backend holds no plaintext of the allowed uploads"):
        leaks(f"{policy_examples.PREFIX}-aes", policy_examples.SMALL, policy_examples.BIG)


def part_sigv2():
    sigv2_post.BUCKET = f"{PREFIX}-v2"
    sigv2_post.part_sigv2()


def part_post():
    sigv2_post.BUCKET = f"{PREFIX}-post"
    sigv2_post.part_post()


PARTS = {
    "sse-kms": part_sse_kms,
    "default-encryption": part_default_encryption,
    "policy": part_policy,
    "sigv2": part_sigv2,
    "post": part_post,
}


def main(names):
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        print(f"unknown parts {unknown}; parts: {list(PARTS)}")
        return 2
    results = {}
    for name in names or PARTS:
        print(f"===== part {name}", flush=True)
        results[name] = steps.run_part(PARTS[name])
    for name, failed in results.items():
        print(f"PART {name} " + (f"FAIL at step: {'; '.join(failed)}" if failed else "pass"), flush=True)
    return 1 if any(results.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
