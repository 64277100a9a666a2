"""Time cold loads of lakecat.bio.sources tables.

Usage::

    python benchmarks/bench_sources.py [--runs 5] [--json results.json]

Each case is timed in two ways, ``--runs`` times each, and the medians are
printed:

* ``subprocess``: a fresh interpreter imports ``lakecat.bio.sources`` (and so
  polars), then times the first call; this is the cold start a user sees.
* ``in-process``: this interpreter clears the module's caches before each call,
  so the files are read and parsed again while Python modules stay imported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from lakecat.bio import sources  # noqa: E402

CASES: dict[str, Callable[[], object]] = {
    "load_ontology('CellType')  CL": lambda: sources.load_ontology("CellType"),
    "load_ontology('Tissue')    UBERON": lambda: sources.load_ontology("Tissue"),
    "load_ontology('Disease')   MONDO": lambda: sources.load_ontology("Disease"),
    "load_genes('human')": lambda: sources.load_genes("human"),
}


def time_call(case: str) -> float:
    """Time one call of a case in this process, in seconds."""
    start = time.perf_counter()
    CASES[case]()
    return time.perf_counter() - start


def time_in_subprocess(case: str) -> float:
    """Time the first call of a case in a fresh interpreter, in seconds."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", case],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    return float(out.stdout.strip())


def time_in_process(case: str) -> float:
    """Time a call of a case after clearing the module's caches, in seconds."""
    sources.clear_caches()
    return time_call(case)


def bench(runs: int) -> dict[str, dict[str, float]]:
    """Return the median seconds of every case, per way of timing."""
    results = {}
    for case in CASES:
        time_in_process(case)  # warm imports (zstandard, orjson) once
        cold = [time_in_subprocess(case) for _ in range(runs)]
        warm = [time_in_process(case) for _ in range(runs)]
        results[case] = {
            "subprocess_median_s": statistics.median(cold),
            "in_process_median_s": statistics.median(warm),
        }
    return results


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a table of medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(time_call(args.child))
        return
    results = bench(args.runs)
    print(f"median of {args.runs} runs, seconds")
    print(f"{'case':40} {'subprocess':>11} {'in-process':>11}")
    for case, row in results.items():
        cold, warm = row["subprocess_median_s"], row["in_process_median_s"]
        print(f"{case:40} {cold:11.3f} {warm:11.3f}")
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "results": results}))


if __name__ == "__main__":
    main()
