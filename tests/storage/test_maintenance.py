"""Checkpoints, automatic compaction, `lc.optimize()`, vacuum and the snapshot cache."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

import lakecat as lc
from lakecat.catalog.instance import Catalog
from lakecat.engine import maintenance


def _record_rows(ids: list[int]) -> list[dict]:
    t = datetime.now(timezone.utc)
    return [
        {"id": i, "uid": f"{i:016d}", "name": f"r{i}", "created_at": t, "branch_id": 1}
        for i in ids
    ]


def _append_one_by_one(catalog: Catalog, table: str, ids: list[int]) -> None:
    for row in _record_rows(ids):
        catalog.tables.append(table, catalog._frame_of(table, [row]))


def _data_files(catalog: Catalog, table: str) -> list[str]:
    return DeltaTable(catalog.tables.uri(table)).file_uris()


def test_tables_checkpoint_every_100_commits(catalog):
    delta = DeltaTable(catalog.tables.uri("record"))
    assert delta.metadata().configuration["delta.checkpointInterval"] == "100"
    catalog.tables.auto_compact = False

    _append_one_by_one(catalog, "record", list(range(1, 101)))

    log = Path(catalog.tables.uri("record")) / "_delta_log"
    assert (log / f"{99:020d}.checkpoint.parquet").exists()
    assert (log / "_last_checkpoint").exists()


def test_many_small_commits_are_compacted_and_sorted(catalog, monkeypatch):
    monkeypatch.setattr(maintenance, "SMALL_FILES", 8)
    ids = list(range(1, 31))
    random.Random(3).shuffle(ids)

    _append_one_by_one(catalog, "record", ids)

    files = _data_files(catalog, "record")
    assert len(files) <= 9
    compacted = [f for f in files if pl.read_parquet(f).height > 1]
    assert compacted
    assert pl.read_parquet(compacted[0]).get_column("id").is_sorted()
    fresh = Catalog.open(catalog.root).frame("record")
    assert sorted(fresh.get_column("id")) == sorted(ids)


def test_large_tables_only_have_their_tail_rewritten(catalog, monkeypatch):
    catalog.tables.auto_compact = False
    _append_one_by_one(catalog, "record", list(range(1, 11)))
    maintenance.compact(catalog.tables, "record")
    (large,) = _data_files(catalog, "record")
    monkeypatch.setattr(maintenance, "RESORT_BYTES", 0)
    monkeypatch.setattr(maintenance, "LARGE_FILE_BYTES", Path(large).stat().st_size)
    monkeypatch.setattr(maintenance, "SMALL_FILES", 4)
    catalog.tables.auto_compact = True

    _append_one_by_one(catalog, "record", list(range(11, 17)))

    files = _data_files(catalog, "record")
    assert large in files and len(files) <= 5  # the large file was left alone
    tail = [pl.read_parquet(f).get_column("id") for f in files if f != large]
    assert max(len(ids) for ids in tail) > 1  # the small files were compacted
    assert sorted(i for ids in tail for i in ids) == list(range(11, 17))
    rows = Catalog.open(catalog.root).frame("record")
    assert rows.get_column("id").to_list() == list(range(1, 17))


def test_racing_compactions_never_duplicate_rows(catalog):
    """delta-rs lets two `optimize` commits remove the same files; ours conflict."""
    from deltalake.exceptions import CommitFailedError

    catalog.tables.auto_compact = False
    _append_one_by_one(catalog, "record", list(range(1, 9)))
    uri = catalog.tables.uri("record")
    first, second = DeltaTable(uri), DeltaTable(uri)
    files = pl.DataFrame(first.get_add_actions(flatten=True))

    maintenance._rewrite(catalog.tables, first, files, 1, 8)
    with pytest.raises(CommitFailedError):
        maintenance._rewrite(catalog.tables, second, files, 1, 8)

    assert sorted(Catalog.open(catalog.root).frame("record").get_column("id")) == list(
        range(1, 9)
    )


def test_first_open_stays_cheap_after_many_commits(catalog, monkeypatch):
    """The mechanism behind a flat first-query cost: a recent checkpoint, few files."""
    monkeypatch.setattr(maintenance, "SMALL_FILES", 16)

    _append_one_by_one(catalog, "record", list(range(1, 251)))

    log = Path(catalog.tables.uri("record")) / "_delta_log"
    delta = DeltaTable(catalog.tables.uri("record"))
    checkpoints = sorted(log.glob("*.checkpoint.parquet"))
    newest = int(checkpoints[-1].name.split(".")[0])
    assert delta.version() - newest < 100  # at most 99 JSON entries to replay
    assert len(delta.file_uris()) <= 17
    assert Catalog.open(catalog.root).frame("record").height == 250


def test_optimize_compacts_sorts_and_keeps_the_retention_window(catalog):
    catalog.tables.auto_compact = False
    _append_one_by_one(catalog, "record", [5, 3, 9, 1])
    before = datetime.now(timezone.utc)

    reports = lc.optimize()

    report = reports["record"]
    assert (report["files_before"], report["files_after"]) == (4, 1)
    assert report["compacted"] == 4 and report["vacuumed"] == 0
    (only,) = _data_files(catalog, "record")
    assert pl.read_parquet(only).get_column("id").to_list() == [1, 3, 5, 9]
    old = catalog.at(before)  # inside the retention window: still readable
    assert sorted(old.frame("record").get_column("id")) == [1, 3, 5, 9]
    again = lc.optimize()
    assert {r["compacted"] for r in again.values()} == {0}


def test_vacuum_outside_retention_makes_time_travel_fail_clearly(catalog):
    catalog.tables.auto_compact = False
    _append_one_by_one(catalog, "record", [1, 2, 3])
    before = datetime.now(timezone.utc)

    reports = lc.optimize(vacuum_hours=0)

    assert reports["record"]["vacuumed"] == 3
    with pytest.raises(lc.errors.StorageError, match=r"vacuumed|retention"):
        catalog.at(before).frame("record")
    assert catalog.frame("record").height == 3


def test_snapshot_cache_matches_a_fresh_read_after_every_kind_of_write(catalog):
    """Appends, merges, deletes and compactions: the cache reads only changed files."""
    rng = random.Random(11)
    table = "record"
    store = catalog.tables
    next_id = 1
    for step in range(40):
        action = rng.choice(["append", "append", "update", "delete", "compact"])
        current = store.frame(table)
        if action == "append" or current.is_empty():
            ids = list(range(next_id, next_id + rng.randint(1, 3)))
            next_id += len(ids)
            store.append(table, catalog._frame_of(table, _record_rows(ids)))
        elif action == "update":
            row = current.sample(1, seed=step).to_dicts()[0]
            row["description"] = f"step {step}"
            store.update(table, pl.DataFrame([row]))
        elif action == "delete":
            store.delete(table, "id", current.sample(1, seed=step).get_column("id"))
        else:
            maintenance.compact(store, table)
        reads = dict(store.reads)
        cached = store.frame(table)
        assert store.reads.get(table, 0) <= reads.get(table, 0) + 1
        fresh = Catalog.open(catalog.root).tables.frame(table)
        assert_frame_equal(cached, fresh)
        assert cached.get_column("id").is_sorted()
