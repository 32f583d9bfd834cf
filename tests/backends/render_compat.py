#!/usr/bin/env python3
"""Renders the compatibility matrix from the test run's records into markdown.

    python3 tests/backends/render_compat.py [RECORD_DIR] > docs/compatibility.md

RECORD_DIR (default target/tmp/compat) holds one JSON record per cell, written by tests/matrix.rs and
tests/clients.rs: {"client", "backend", "feature", "outcome": "pass" | "fail" | "gap", "detail"}.
"""

import datetime
import json
import os
import sys

MARK = {"pass": "pass", "fail": "**FAIL**", "gap": "gap"}
BACKENDS = ["s3s-fs", "ceph-rgw-16", "moto"]


def main(argv):
    d = argv[0] if argv else "target/tmp/compat"
    recs = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".json"):
            with open(os.path.join(d, name)) as f:
                recs.append(json.load(f))
    if not recs:
        print(f"no records in {d}", file=sys.stderr)
        return 1
    backends = [b for b in BACKENDS if any(r["backend"] == b for r in recs)]
    backends += sorted({r["backend"] for r in recs} - set(backends))
    rows = sorted({(r["client"], r["feature"]) for r in recs})
    cell = {(r["client"], r["feature"], r["backend"]): r for r in recs}
    out = []
    out.append("| client | feature | " + " | ".join(backends) + " |")
    out.append("|---|---|" + "---|" * len(backends))
    notes = []
    for client, feature in rows:
        cols = []
        for b in backends:
            r = cell.get((client, feature, b))
            if r is None:
                cols.append("not run")
                continue
            text = MARK.get(r["outcome"], r["outcome"])
            if r["outcome"] != "pass" and r.get("detail"):
                notes.append(f"{len(notes) + 1}. {client} / {feature} / {b}: {r['detail']}")
                text += f" [{len(notes)}]"
            cols.append(text)
        out.append(f"| {client} | {feature} | " + " | ".join(cols) + " |")
    print("\n".join(out))
    if notes:
        print()
        print("\n".join(notes))
    print()
    print(f"_{len(recs)} cells, rendered {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC._")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
