"""S3 and GCS: create-if-absent, safe Delta commits, time travel, bytes."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import polars as pl
import pytest

import lakecat as lc
from lakecat.catalog.instance import Catalog
from lakecat.engine.ids import IdAllocator
from lakecat.engine.objects import ObjectStore
from lakecat.engine.tables import delta_options


@pytest.fixture(params=["s3", "gcs"])
def bucket(request) -> tuple[str, dict[str, str]]:
    return request.getfixturevalue(f"{request.param}_root")


def _race(count: int, target) -> list:
    """Run `target(i)` in `count` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = target(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_create_exclusive_has_exactly_one_winner(bucket):
    root, options = bucket
    path = f"{root}/claims/000000000001"

    won = _race(
        8, lambda i: ObjectStore(options).create_exclusive(path, f"{i}".encode())
    )

    assert won.count(True) == 1
    assert ObjectStore(options).read_bytes(path) == str(won.index(True)).encode()


def test_gcs_create_exclusive_sends_if_generation_match(gcs, gcs_root):
    root, options = gcs_root
    store = ObjectStore(options)
    store.create_exclusive(f"{root}/claim", b"1")

    assert not store.create_exclusive(f"{root}/claim", b"2")

    uploads = [r for r in gcs.requests if "claim" in r.path and r.method == "POST"]
    assert uploads and all("ifGenerationMatch=0" in r.path for r in uploads)


def test_id_ranges_are_disjoint_across_allocators(bucket):
    root, options = bucket

    def allocate(i: int) -> list[range]:
        allocator = IdAllocator(
            ObjectStore(options), lambda table: f"{root}/tables/{table}"
        )
        return [allocator.allocate("record", 3, 0) for _ in range(3)]

    ranges = [r for result in _race(4, allocate) for r in result]

    ids = [i for r in ranges for i in r]
    assert len(ids) == len(set(ids)) == 36


def test_s3_commits_use_conditional_put_by_default(s3):
    options = {
        k: v for k, v in s3.storage_options().items() if k != "AWS_CONDITIONAL_PUT"
    }

    chosen = delta_options("s3://bucket/catalog", options)

    assert chosen["conditional_put"] == "etag"
    assert delta_options("s3://b/c", {"aws_conditional_put": "none"}) == {
        "aws_conditional_put": "none"
    }
    assert "conditional_put" not in delta_options("gs://b/c", options)


def test_s3_concurrent_appends_lose_no_commit(s3_root):
    root, options = s3_root
    options = {k: v for k, v in options.items() if k != "AWS_CONDITIONAL_PUT"}
    catalog = lc.init(storage=root, storage_options=options)
    version = catalog.tables.version("record")
    t = datetime.now(timezone.utc)

    def append(i: int) -> None:
        store = Catalog.open(root, options).tables
        for j in range(3):
            row = {"id": 100 * i + j, "uid": f"{i:08d}{j:08d}", "name": f"{i}-{j}",
                   "created_at": t, "branch_id": 1}  # fmt: skip
            store.append("record", pl.DataFrame([row], schema=store.schemas["record"]))

    _race(4, append)

    fresh = Catalog.open(root, options)
    assert fresh.frame("record").height == 12
    assert fresh.tables.version("record") == version + 12


def test_time_travel_on_object_stores(bucket, tmp_path):
    root, options = bucket
    catalog = lc.init(storage=root, storage_options=options)
    lc.Record(name="first").save()
    time.sleep(1.1)  # S3 reports modification times to the second
    middle = datetime.now(timezone.utc)
    time.sleep(1.1)
    lc.Record(name="second").save()

    then = catalog.at(middle)

    assert then.frame("record").get_column("name").to_list() == ["first"]
    assert catalog.frame("record").height == 2


def test_artifact_bytes_round_trip(bucket, tmp_path):
    root, options = bucket
    lc.init(storage=root, storage_options=options)
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")

    artifact = lc.Artifact(path, key="data.csv").save()
    again = tmp_path / "data2.csv"
    again.write_text("a,b\n3,4\n")
    second = lc.Artifact(again, key="data.csv").save()

    assert ObjectStore(options).read_bytes(artifact.path) == b"a,b\n1,2\n"
    assert second.uid[:16] == artifact.uid[:16] and second.uid.endswith("0001")
    assert second.load()["a"].to_list() == [3]
