"""Catalog-wide time travel and read-only catalogs that never write."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

import lakecat as lc
from lakecat.catalog import instance


def _moment() -> datetime:
    """A time strictly between two commits (store times have millisecond resolution)."""
    time.sleep(0.005)
    moment = datetime.now(timezone.utc)
    time.sleep(0.005)
    return moment


def _fingerprint(folder: Path) -> dict[str, tuple[int, str]]:
    return {
        str(p.relative_to(folder)): (
            p.stat().st_mtime_ns,
            hashlib.md5(p.read_bytes()).hexdigest(),
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def history(catalog, tmp_path):
    """Three moments: before `a`, after `a` and its label, after `b` and a rename."""
    label = lc.Record(name="label").save()
    first = tmp_path / "a.txt"
    first.write_text("a")
    t0 = _moment()
    with lc.batch():
        a = lc.Artifact(first, key="a.txt", description="first").save()
        a.records.add(label)
    t1 = _moment()
    second = tmp_path / "b.txt"
    second.write_text("b")
    lc.Artifact(second, key="a.txt").save()  # a new version of a.txt
    a.description = "renamed"
    a.save()
    t2 = _moment()
    return catalog, (t0, t1, t2)


def test_as_of_shows_each_moment_across_tables(history):
    catalog, (t0, t1, t2) = history

    at0, at1, at2 = (catalog.at(t) for t in (t0, t1, t2))

    assert at0.frame("artifact").is_empty() and at0.frame("artifact_record").is_empty()
    one = at1.frame("artifact")
    assert one.select("description", "is_latest").rows() == [("first", True)]
    assert at1.frame("artifact_record").height == 1
    two = at2.frame("artifact").sort("id")
    assert two.select("description", "is_latest").rows() == [
        ("renamed", False),
        (None, True),
    ]
    assert at1.frame("record").get_column("name").to_list() == ["label"]


def test_connect_as_of_makes_queries_historical(history):
    catalog, (_, t1, _) = history

    lc.connect(catalog.root, as_of=t1.isoformat())

    assert instance.current().read_only
    assert lc.Artifact.filter(key="a.txt").one().description == "first"
    assert lc.Artifact.filter(records__name="label").count() == 1
    lc.connect(catalog.root)
    assert lc.Artifact.filter(key="a.txt", is_latest=True).one().description is None


def test_as_of_accepts_iso_strings_and_naive_utc(history):
    catalog, (_, t1, _) = history
    naive = t1.replace(tzinfo=None)

    by_string = catalog.at(t1.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    by_naive = catalog.at(naive)

    assert by_string.as_of == by_naive.as_of == t1
    assert by_naive.frame("artifact").height == 1


def test_version_number_means_when_that_table_reached_it(history):
    catalog, (_, t1, _) = history
    version = catalog.at(t1).tables.version("artifact")

    then = catalog.at(version, table="artifact")

    assert then.tables.version("artifact") == version
    assert then.frame("artifact").get_column("description").to_list() == ["first"]
    assert then.frame("artifact_record").height == 1


def test_past_catalogs_are_reused(history):
    catalog, (_, t1, t2) = history

    first = catalog.at(t1)
    first.frame("artifact")

    assert catalog.at(t1.isoformat()) is first
    assert catalog.at(t2) is not first
    assert catalog.at(t1, table="artifact") is first  # `table` only names versions


def test_bad_as_of_values_raise_clear_errors(history):
    catalog, (t0, _, _) = history
    with pytest.raises(lc.errors.InvalidArgument, match="belongs to one table"):
        catalog.at(3)
    with pytest.raises(lc.errors.InvalidArgument, match="datetime or an ISO 8601"):
        lc.connect(catalog.root, as_of=3)
    with pytest.raises(
        lc.errors.InvalidArgument, match="ISO 8601 string, got 'yesterday'"
    ):
        catalog.at("yesterday")
    with pytest.raises(lc.errors.StorageError, match="has no version 999"):
        catalog.at(999, table="artifact")
    with pytest.raises(lc.errors.StorageError, match="did not exist as of"):
        catalog.at(t0 - timedelta(days=1))


def _every_write(tmp_path: Path, label: lc.Record, artifact: lc.Artifact) -> dict:
    new_file = tmp_path / "new.txt"
    new_file.write_text("new")

    def update_artifact():
        artifact.description = "changed"
        artifact.save()

    def in_batch():
        with lc.batch():
            lc.Record(name="in batch").save()

    return {
        "record save": lambda: lc.Record(name="new").save(),
        "record update": lambda: setattr(label, "name", "x") or label.save(),
        "artifact save": lambda: lc.Artifact(new_file, key="new.txt").save(),
        "artifact update": update_artifact,
        "new version": lambda: lc.Artifact(new_file, key="a.txt").save(),
        "link": lambda: artifact.records.add(lc.Record.get(name="other")),
        "unlink": lambda: artifact.records.remove(label),
        "trash": lambda: artifact.delete(),
        "delete": lambda: label.delete(permanent=True),
        "save many": lambda: lc.save([lc.Record(name="m1"), lc.Record(name="m2")]),
        "batch": in_batch,
        "optimize": lambda: lc.optimize(),
    }


@pytest.mark.parametrize("how", ["read_only", "as_of"])
def test_read_only_catalog_never_writes(history, tmp_path, how):
    catalog, _ = history
    lc.Record(name="other").save()
    folder = Path(catalog.root)
    if how == "read_only":
        lc.connect(catalog.root, read_only=True)
    else:
        lc.connect(catalog.root, as_of=datetime.now(timezone.utc))
    label = lc.Record.get(name="label")
    artifact = lc.Artifact.filter(key="a.txt", is_latest=True).one()
    before = _fingerprint(folder)

    for name, write in _every_write(tmp_path, label, artifact).items():
        with pytest.raises(lc.errors.StorageError, match="read-only"):
            write()
        assert _fingerprint(folder) == before, name


def test_read_only_catalog_sees_new_commits_but_as_of_does_not(history, tmp_path):
    catalog, _ = history
    reader = instance.Catalog.open(catalog.root, read_only=True)
    frozen = catalog.at(datetime.now(timezone.utc))
    before = reader.frame("record").height
    assert frozen.frame("record").height == before

    lc.Record(name="later").save()

    assert reader.frame("record").height == before + 1
    assert frozen.frame("record").height == before
    assert "later" not in frozen.frame("record").get_column("name").to_list()
    assert pl.Series(reader.frame("record")["name"]).to_list()[-1] == "later"


def test_time_before_the_kept_log_raises_storage_error(catalog):
    """Log entries cleaned up after the retention window: no silent later state."""
    from deltalake import DeltaTable

    lc.Record(name="one").save()
    moment = _moment()
    lc.Record(name="two").save()
    lc.Record(name="three").save()
    log = Path(catalog.tables.uri("record")) / "_delta_log"
    delta = DeltaTable(catalog.tables.uri("record"))
    delta.create_checkpoint()
    for entry in log.glob("*.json"):
        if int(entry.name[:20]) < delta.version():
            entry.unlink()  # what log cleanup does once entries expire

    with pytest.raises(lc.errors.StorageError, match="retention window"):
        catalog.at(moment).frame("record")
    assert catalog.at(datetime.now(timezone.utc)).frame("record").height == 3
