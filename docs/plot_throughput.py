#!/usr/bin/env python3
"""Render the dashboard's throughput panel (plaintext vs ciphertext bytes/s by SSE mode and direction) from the
CSV that `cargo test --release --test observability` writes (target/tmp/observability-throughput.csv: the
panel's two queries, run through Prometheus's query_range API over the test's load, 1 s steps, rate over 4 s).

    python3 docs/plot_throughput.py [CSV] [PNG]

Defaults: docs/dashboard-throughput.csv -> docs/dashboard-throughput.png. Needs matplotlib.
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"SSE-S3": "tab:blue", "SSE-C": "tab:orange", "SSE-KMS": "tab:green"}


def main() -> None:
    src = sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard-throughput.csv"
    dst = sys.argv[2] if len(sys.argv) > 2 else "docs/dashboard-throughput.png"
    series = defaultdict(list)
    with open(src, newline="") as f:
        for row in csv.DictReader(f):
            series[row["series"]].append((float(row["seconds"]), float(row["bytes_per_second"])))
    fig, axes = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    for ax, direction in zip(axes, ("upload", "download")):
        for name in sorted(series):
            kind, d, mode = name.split(" ")
            if d != direction:
                continue
            points = sorted(series[name])
            ax.plot(
                [t for t, _ in points],
                [v / 1e6 for _, v in points],
                color=COLOURS.get(mode, "grey"),
                linestyle="-" if kind == "plaintext" else "--",
                label=f"{kind} {mode}",
            )
        ax.set_title(f"{direction}: plaintext (solid) vs ciphertext (dashed)", fontsize=10, loc="left")
        ax.set_ylabel("MB/s")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=3, loc="upper right")
    axes[-1].set_xlabel("seconds since the load started")
    fig.suptitle("s3-sse-proxy: throughput by SSE mode (tests/observability.rs run, real Prometheus)")
    fig.tight_layout()
    fig.savefig(dst, dpi=100)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
