"""A writer killed with SIGKILL mid-save leaves a readable, consistent catalog."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import polars as pl
from conftest import spawn

import lakecat as lc

LABELS = ["label-a", "label-b"]

#: a fresh interpreter opens the catalog and reads every table
READ_ALL = """
import json, sys
import lakecat as lc
catalog = lc.connect(sys.argv[1], read_only=True)
print(json.dumps({t: catalog.frame(t).height for t in catalog.tables.specs}))
"""


def _kill_during_saves(root: str, files, seed: int, rounds: int) -> int:
    """Start the saving loop `rounds` times and SIGKILL it at random moments."""
    rng = random.Random(seed)
    saved = 0
    for _ in range(rounds):
        process = spawn("crash_loop", root=root, files=str(files), labels=LABELS)
        first = process.stdout.readline()  # the loop is running: imports are done
        assert first, process.stderr.read()[-2000:]
        time.sleep(rng.uniform(0.0, 0.4))
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate(timeout=10)
        assert process.returncode == -signal.SIGKILL
        saved += 1 + sum(1 for line in out.splitlines() if line.startswith("{"))
    return saved


def test_sigkill_mid_save_leaves_catalog_consistent(tmp_path):
    root = str(tmp_path / "catalog")
    lc.init(storage=root)
    for name in LABELS:
        lc.Record(name=name).save()
    files = tmp_path / "files"
    files.mkdir()

    reported = _kill_during_saves(root, files, seed=7, rounds=8)

    check = subprocess.run(
        [sys.executable, "-c", READ_ALL, root],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr[-2000:]
    heights = json.loads(check.stdout)
    catalog = lc.connect(root)
    artifacts = catalog.frame("artifact")
    assert heights["artifact"] == artifacts.height >= reported
    assert artifacts.get_column("id").is_unique().all()
    assert artifacts.get_column("uid").is_unique().all()
    for row in artifacts.iter_rows(named=True):
        stored = tmp_path / "catalog" / "objects" / f"{row['uid']}{row['suffix']}"
        assert stored.stat().st_size == row["size"]
    links = catalog.frame("artifact_record")
    per_artifact = links.group_by("artifact_id").len()
    visible = per_artifact.join(
        artifacts.select(pl.col("id").alias("artifact_id")), on="artifact_id"
    )
    assert visible.height == artifacts.height  # no artifact without its links
    assert set(visible.get_column("len")) == {len(LABELS)}
    latest = artifacts.filter(pl.col("is_latest")).group_by("key").len()
    assert set(latest.get_column("len")) == {1}
    assert latest.height == artifacts.get_column("key").n_unique()
