"""A writer process for the storage tests: `python _worker.py TASK JSON`.

Each task connects to the catalog named in the JSON arguments, writes, and prints
one JSON line with what it wrote (only writes whose call returned), so the test
can check that every one of them is present exactly once.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def connect(args: dict):
    import lakecat as lc

    return lc, lc.connect(args["root"], storage_options=args.get("options") or None)


def wait_for(start_at: float | None) -> None:
    """Start together with the other workers (after the slow imports)."""
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.time()))


def mixed(args: dict) -> dict:
    """Save artifacts, link them, version one shared key, rewrite descriptions."""
    lc, _ = connect(args)
    worker, count, files = args["worker"], args["count"], Path(args["files"])
    label = lc.Record.get(name=args["label"])
    out: dict = {"artifacts": [], "links": [], "shared": [], "descriptions": {}}
    wait_for(args.get("start_at"))
    for i in range(count):
        path = files / f"w{worker}-{i}.txt"
        path.write_text(f"worker {worker} file {i} pid {os.getpid()}")
        artifact = lc.Artifact(
            path, key=f"w{worker}/f{i}.txt", description="new"
        ).save()
        out["artifacts"].append([artifact.id, artifact.uid])
        artifact.records.add(label)
        out["links"].append([artifact.id, label.id])
        artifact.description = f"worker {worker} step {i}"
        artifact.save()
        out["descriptions"][str(artifact.id)] = artifact.description
        if i % 2 == 0:
            shared = files / f"shared-w{worker}-{i}.txt"
            shared.write_text(f"shared version by {worker} at {i} pid {os.getpid()}")
            version = lc.Artifact(shared, key="shared/data.txt").save()
            out["shared"].append([version.id, version.uid])
    return out


def records(args: dict) -> dict:
    """Save records one at a time; report their ids in the order they were saved."""
    from lakecat.engine import maintenance

    maintenance.SMALL_FILES = args.get("small_files", maintenance.SMALL_FILES)
    lc, _ = connect(args)
    wait_for(args.get("start_at"))
    ids = []
    for i in range(args["count"]):
        ids.append(lc.Record(name=f"w{args['worker']}-r{i}").save().id)
    return {"ids": ids}


def crash_loop(args: dict) -> dict:
    """Save artifacts with their links in batches until killed."""
    lc, _ = connect(args)
    files = Path(args["files"])
    labels = [lc.Record.get(name=name) for name in args["labels"]]
    i = 0
    while True:
        path = files / f"crash-{os.getpid()}-{i}.txt"
        path.write_bytes(os.urandom(64))
        with lc.batch():
            artifact = lc.Artifact(path, key=f"crash/{i % 3}.txt").save()
            artifact.records.add(*labels)
        print(json.dumps({"saved": artifact.id}), flush=True)
        i += 1


def conflicting(args: dict) -> dict:
    """Rewrite one artifact over and over with no retries: some writes give up."""
    from lakecat.engine import tables

    tables.MAX_RETRIES = 0
    lc, _ = connect(args)
    artifact = lc.Artifact.get(key=args["key"])
    wait_for(args.get("start_at"))
    done, gave_up = [], 0
    for i in range(args["count"]):
        artifact.description = f"{args['worker']}-{i}"
        try:
            artifact.save()
        except lc.errors.ConflictError as error:
            assert error.table == "artifact", error.table
            gave_up += 1
        else:
            done.append(artifact.description)
    return {"done": done, "gave_up": gave_up}


def optimizing(args: dict) -> dict:
    """Run `lc.optimize()` repeatedly while the writers write."""
    lc, _ = connect(args)
    wait_for(args.get("start_at"))
    runs = skipped = 0
    deadline = time.time() + args["seconds"]
    while time.time() < deadline:
        reports = lc.optimize()
        skipped += sum("skipped" in r for r in reports.values())
        runs += 1
    return {"runs": runs, "skipped": skipped}


TASKS = {
    "mixed": mixed,
    "records": records,
    "crash_loop": crash_loop,
    "conflicting": conflicting,
    "optimizing": optimizing,
}

if __name__ == "__main__":
    task, raw = sys.argv[1], sys.argv[2]
    result = TASKS[task](json.loads(raw))
    print(json.dumps(result), flush=True)
