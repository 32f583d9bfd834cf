"""The steps of the Python client scripts: each printed with its name, its checks raising AssertionError.

A script run on its own stops at the first failing step (the exception propagates; CURRENT names the step). A
part run by `run_part` (tests/clients/backend_suite.py) goes on past a failing step and returns the names of the
steps that failed, so that one step a backend cannot do (listed in tests/matrix.rs KNOWN_GAPS) does not hide
whether the others work there.
"""

import contextlib
import hashlib
import sys
import time
import traceback

# The step running now; left set when a step fails, for the script's `FAIL at step:` line.
CURRENT = None
# Under run_part: the names of the steps that failed so far.
_failed = None
# The last step begun, whatever its end.
_last = None


@contextlib.contextmanager
def step(name):
    global CURRENT, _last
    CURRENT = _last = name
    start = time.monotonic()
    print(f"--- {name}", flush=True)
    try:
        yield
    except Exception as e:
        if _failed is None:
            raise
        _failed.append(name)
        print(f"    FAIL: {type(e).__name__}: {e}", flush=True)
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
        return
    print(f"    ok ({time.monotonic() - start:.2f}s)", flush=True)
    CURRENT = None


def run_part(fn):
    """Run `fn` going on past failing steps: the names of the steps that failed (empty if none). An exception
    outside any step ends the part; it counts as a failure of the step it came after."""
    global _failed, _last
    _failed, _last = [], None
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - reported as the part's failure
        _failed.append(f"after {_last or 'the start'}: {type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stdout)
    failed, _failed = _failed, None
    return failed


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def check_eq(actual, expected, what):
    if actual != expected:
        if isinstance(actual, (bytes, bytearray)) and isinstance(expected, (bytes, bytearray)):
            raise AssertionError(
                f"{what}: got {len(actual)} bytes (sha256 {hashlib.sha256(actual).hexdigest()}), "
                f"expected {len(expected)} bytes (sha256 {hashlib.sha256(expected).hexdigest()})"
            )
        raise AssertionError(f"{what}: got {actual!r}, expected {expected!r}")


def error_of(fn, **kwargs):
    """(error code, HTTP status) of the botocore ClientError that `fn(**kwargs)` must raise."""
    from botocore.exceptions import ClientError

    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{fn.__name__}({kwargs}) succeeded where S3 answers an error")


def run_case(cases, doc, after=None):
    """A script's main: run the case `sys.argv[1]` names, print `FAIL at step: …` and exit 1 at the first failed
    check, else `after()`'s note (if any) and `<case>: all checks passed`. An unknown case prints the usage."""
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print(doc)
        print("cases:", " ".join(cases))
        sys.exit(2)
    try:
        cases[sys.argv[1]]()
    except Exception:  # noqa: BLE001 - reported as the failed step
        traceback.print_exc(file=sys.stdout)
        print(f"FAIL at step: {CURRENT}", flush=True)
        sys.exit(1)
    if after is not None:
        after()
    print(f"{sys.argv[1]}: all checks passed", flush=True)
