#!/usr/bin/env python3
"""Check the example configurations in config/*.toml against the configuration schema.

The gateway parses its configuration with `#[serde(deny_unknown_fields)]` everywhere, so an
example with a misspelt or removed key would be rejected at start-up. This check mirrors the schema
of src/config.rs (keys, value types, enum values and the checks of `Config::validate`) and fails
if any example uses something else. Keep ALLOWED_* in sync with src/config.rs.

Usage: check_configs.py [CONFIG_DIR]   (default: <repo>/config)
Exit status 0 when every file is valid, 1 otherwise (each problem is printed).
"""

import ipaddress
import pathlib
import sys
import tomllib

# --- schema, from src/config.rs ----------------------------------------------------------------
ALLOWED_TOP = {"listen", "metrics_listen", "data_dir", "tls", "backend", "s3", "credentials"}
REQUIRED_TOP = {"backend"}
ALLOWED_TLS = {"cert", "key"}
ALLOWED_BACKEND = {
    "kind",
    "endpoint",
    "region",
    "access_key_id",
    "secret_access_key",
    "ca_file",
    "addressing",
    "connect_timeout_secs",
    "response_timeout_secs",
    "payload",
    "object_lock_checksum",
    "conditional_deletes",
}
ALLOWED_S3 = {"virtual_host_domains", "max_presign_expiry_secs", "max_clock_skew_secs", "account_id", "sigv2"}
ALLOWED_CREDENTIAL = {"access_key_id", "secret_access_key", "display_name", "allowed_buckets"}
REQUIRED_CREDENTIAL = {"access_key_id", "secret_access_key"}

BACKEND_KINDS = {"embedded", "s3"}
ADDRESSING = {"path", "virtual"}
MAX_PRESIGN = 7 * 24 * 3600

# Files the repository is expected to ship.
EXPECTED_FILES = {"embedded.toml", "aws-s3.toml", "minio.toml", "ceph-rgw.toml", "garage.toml"}
# Every example documents the environment override of the backend credentials.
ENV_VARS = ("S3_SSE_PROXY_BACKEND_ACCESS_KEY_ID", "S3_SSE_PROXY_BACKEND_SECRET_ACCESS_KEY")

U64_MAX = 2**64 - 1


def is_socket_addr(value):
    """Rust `SocketAddr` syntax: `1.2.3.4:443` or `[::1]:443` (no host names)."""
    if not isinstance(value, str):
        return False
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
        if not sep:
            return False
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
    else:
        host, sep, port = value.rpartition(":")
        if not sep:
            return False
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
    return port.isdigit() and 0 <= int(port) <= 65535


def is_u64(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= U64_MAX


def is_str_list(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_table(errors, where, table, allowed, required=frozenset()):
    if not isinstance(table, dict):
        errors.append(f"{where}: expected a table, found {type(table).__name__}")
        return False
    for key in sorted(set(table) - allowed):
        errors.append(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required - set(table)):
        errors.append(f"{where}: missing required key {key!r}")
    return True


def expect(errors, where, ok, what):
    if not ok:
        errors.append(f"{where}: {what}")


def check_config(doc):
    errors = []
    check_table(errors, "top level", doc, ALLOWED_TOP, REQUIRED_TOP)

    for key in ("listen", "metrics_listen"):
        if key in doc:
            expect(errors, key, is_socket_addr(doc[key]), f"not an IP:port socket address: {doc[key]!r}")
    if "data_dir" in doc:
        expect(errors, "data_dir", isinstance(doc["data_dir"], str), "must be a string (path)")

    tls = doc.get("tls", {})
    if check_table(errors, "[tls]", tls, ALLOWED_TLS):
        for key in ("cert", "key"):
            if key in tls:
                expect(errors, f"tls.{key}", isinstance(tls[key], str), "must be a string (path)")
        expect(errors, "[tls]", ("cert" in tls) == ("key" in tls), "tls.cert and tls.key go together")

    backend = doc.get("backend")
    if backend is not None and check_table(errors, "[backend]", backend, ALLOWED_BACKEND):
        kind = backend.get("kind", "embedded")
        expect(errors, "backend.kind", kind in BACKEND_KINDS, f"must be one of {sorted(BACKEND_KINDS)}: {kind!r}")
        if kind == "s3":
            expect(errors, "backend.endpoint", "endpoint" in backend, 'required when kind = "s3"')
        if "endpoint" in backend:
            ep = backend["endpoint"]
            expect(
                errors,
                "backend.endpoint",
                isinstance(ep, str) and (ep.startswith("http://") or ep.startswith("https://")),
                f"must start with http:// or https://: {ep!r}",
            )
        for key in ("region", "access_key_id", "secret_access_key", "ca_file"):
            if key in backend:
                expect(errors, f"backend.{key}", isinstance(backend[key], str), "must be a string")
        if "addressing" in backend:
            expect(
                errors,
                "backend.addressing",
                backend["addressing"] in ADDRESSING,
                f"must be one of {sorted(ADDRESSING)}: {backend['addressing']!r}",
            )
        for key in ("connect_timeout_secs", "response_timeout_secs"):
            if key in backend:
                expect(errors, f"backend.{key}", is_u64(backend[key]), "must be a non-negative integer")
        for key in ("object_lock_checksum", "conditional_deletes"):
            if key in backend:
                expect(errors, f"backend.{key}", isinstance(backend[key], bool), "must be a boolean")

    s3 = doc.get("s3", {})
    if check_table(errors, "[s3]", s3, ALLOWED_S3):
        if "virtual_host_domains" in s3:
            expect(errors, "s3.virtual_host_domains", is_str_list(s3["virtual_host_domains"]), "must be a list of strings")
        for key in ("max_presign_expiry_secs", "max_clock_skew_secs"):
            if key in s3:
                expect(errors, f"s3.{key}", is_u64(s3[key]), "must be a non-negative integer")
        if is_u64(s3.get("max_presign_expiry_secs")):
            expect(
                errors,
                "s3.max_presign_expiry_secs",
                s3["max_presign_expiry_secs"] <= MAX_PRESIGN,
                f"cannot exceed {MAX_PRESIGN} (7 days)",
            )

    creds = doc.get("credentials", [])
    if not isinstance(creds, list):
        errors.append("credentials: must be an array of tables ([[credentials]])")
        creds = []
    for i, cred in enumerate(creds):
        where = f"[[credentials]] #{i + 1}"
        if not check_table(errors, where, cred, ALLOWED_CREDENTIAL, REQUIRED_CREDENTIAL):
            continue
        for key in ("access_key_id", "secret_access_key", "display_name"):
            if key in cred:
                expect(errors, f"{where} {key}", isinstance(cred[key], str), "must be a string")
        for key in ("access_key_id", "secret_access_key"):
            if isinstance(cred.get(key), str):
                expect(errors, f"{where} {key}", cred[key] != "", "must not be empty")
        if "allowed_buckets" in cred:
            expect(errors, f"{where} allowed_buckets", is_str_list(cred["allowed_buckets"]), "must be a list of strings")
    return errors


def main(argv):
    if len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    if len(argv) == 2:
        config_dir = pathlib.Path(argv[1])
    else:
        config_dir = pathlib.Path(__file__).resolve().parents[2] / "config"

    files = sorted(config_dir.glob("*.toml"))
    failed = False
    missing = EXPECTED_FILES - {f.name for f in files}
    if missing:
        print(f"FAIL {config_dir}: missing example configs: {', '.join(sorted(missing))}")
        failed = True
    if not files:
        print(f"FAIL {config_dir}: no *.toml files")
        return 1

    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            print(f"FAIL {path}: TOML syntax: {e}")
            failed = True
            continue
        errors = check_config(doc)
        for var in ENV_VARS:
            if var not in text:
                errors.append(f"does not mention the backend credential environment variable {var}")
        if errors:
            failed = True
            for err in errors:
                print(f"FAIL {path}: {err}")
        else:
            kind = doc.get("backend", {}).get("kind", "embedded")
            creds = len(doc.get("credentials", []))
            print(f"ok   {path} (backend {kind}, {creds} credential(s))")

    if failed:
        print("check_configs: FAILED")
        return 1
    print(f"check_configs: {len(files)} file(s) ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
