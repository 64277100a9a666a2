"""`get()` by id, uid, uid prefix (with versioned-family rules) and field lookups."""

from __future__ import annotations

import re

import pytest

import lakecat as lc
from lakecat.catalog import getting, instance

STEM = "Wc8F4siRSKMZ"


@pytest.fixture
def family(catalog):
    """Transforms: a family v1 → v2 → v3 (latest), an unrelated one, one trashed."""
    rows = [
        (STEM + "0000", "intro.ipynb", "Introduction", None, False),
        (STEM + "0001", "intro.ipynb", "Other", "2", False),
        (STEM + "0002", "intro.ipynb", "Introduction", None, True),
        ("AbCdEfGhIjKl0000", "other.py", "Introduction", None, True),
        ("ZzTrashedZzz0000", "gone.py", "Trashed", None, True),
    ]
    for uid, key, description, version, latest in rows:
        lc.Transform(
            uid=uid, key=key, description=description, version=version, is_latest=latest
        ).save()
    lc.Transform.get(5).delete()
    return catalog


def test_get_by_int_id(family):
    assert lc.Transform.get(3).uid == STEM + "0002"
    assert lc.Transform.get(id=3).uid == STEM + "0002"


def test_get_by_id_ignores_branches(family):
    assert lc.Transform.get(5).branch_id == -1
    assert lc.Transform.get(id=5).key == "gone.py"


def test_get_missing_id_raises_registry_does_not_exist(family):
    with pytest.raises(
        lc.Transform.DoesNotExist, match=r"Transform matching query does not exist."
    ):
        lc.Transform.get(99)
    with pytest.raises(lc.errors.DoesNotExist):
        lc.Transform.get(id=99)


def test_get_by_full_uid(family):
    assert lc.Transform.get(STEM + "0001").id == 2
    assert lc.Transform.get(uid=STEM + "0001").id == 2


def test_get_by_uid_finds_trashed(family):
    assert lc.Transform.get("ZzTrashedZzz0000").id == 5
    assert lc.Transform.get(uid="ZzTrashedZzz0000").id == 5


def test_get_by_stem_prefers_latest_version(family):
    assert lc.Transform.get(STEM).id == 3
    assert lc.Transform.get(STEM[:5]).id == 3


def test_get_by_stem_falls_back_to_newest_when_none_is_latest(family):
    latest = lc.Transform.get(3)
    latest.is_latest = False
    latest.save()
    assert lc.Transform.get(STEM).id == 3


def test_get_by_longer_prefix_needs_one_match(family):
    with pytest.raises(
        lc.errors.MultipleResultsFound, match="3 Transform records have"
    ):
        lc.Transform.get(STEM + "000")
    assert lc.Transform.get(STEM + "0001").id == 2


def test_get_unknown_uid_message(family):
    message = (
        "No record found with uid 'some-label-name'. Did you forget a keyword as in "
        "Record.get(name='some-label-name')?"
    )
    with pytest.raises(lc.errors.DoesNotExist, match=re.escape(message)):
        lc.Record.get("some-label-name")
    with pytest.raises(lc.Record.DoesNotExist):
        lc.Record.get("some-label-name")


def test_get_kwargs_injects_is_latest(family):
    assert lc.Transform.get(description="Introduction", key="intro.ipynb").id == 3


def test_get_kwargs_is_latest_retry_returns_newest(family):
    assert lc.Transform.get(key="intro.ipynb", version="2").id == 2
    assert lc.Transform.get(key="intro.ipynb", version="2").is_latest is False


def test_get_kwargs_multiple_latest_raises(family):
    with pytest.raises(
        lc.Transform.MultipleObjectsReturned,
        match=r"get.. returned more than one Transform -- it returned 2!",
    ):
        lc.Transform.get(description="Introduction")


def test_get_kwargs_default_scoping(family):
    with pytest.raises(lc.Transform.DoesNotExist):
        lc.Transform.get(key="gone.py")
    assert lc.Transform.get(key="gone.py", branch_id=-1).id == 5
    assert lc.Transform.get(key="gone.py", branch=None).id == 5


def test_get_kwargs_non_versioned(catalog):
    lc.Record(name="Experiment 1").save()
    lc.Record(name="Experiment 2").save()
    assert lc.Record.get(name="Experiment 2").id == 2
    with pytest.raises(lc.errors.MultipleResultsFound, match="it returned 2!"):
        lc.Record.get(name__startswith="Experiment")
    with pytest.raises(
        lc.Record.DoesNotExist, match=r"Record matching query does not exist."
    ):
        lc.Record.get(name="Experiment 3")


def test_get_on_queryset_restricts_to_it(family):
    qs = lc.Transform.filter(key="other.py")
    assert qs.get(4).id == 4
    assert qs.get(description="Introduction").id == 4
    with pytest.raises(lc.Transform.DoesNotExist):
        qs.get(1)
    with pytest.raises(lc.Transform.DoesNotExist, match="No record found with uid"):
        qs.get(STEM)


def test_get_errors(family):
    with pytest.raises(
        lc.errors.FieldError, match=r"Unknown field 'nonexistent'. Available fields:"
    ):
        lc.Artifact.get(nonexistent="value")
    with pytest.raises(
        ValueError, match=r"Field 'id' expected a number but got 'abc'."
    ):
        lc.Artifact.get(id="abc")
    with pytest.raises(TypeError, match="takes an id/uid or keyword lookups, not both"):
        lc.Transform.get(1, key="x")
    with pytest.raises(TypeError, match=r"takes an int id or a str uid, got 1.5"):
        lc.Transform.get(1.5)
    with pytest.raises(TypeError, match="needs an id, a uid or keyword lookups"):
        lc.Transform.get()


def test_get_does_not_interpret_features(catalog):
    lc.Feature(name="temperature", dtype=float).save()
    with pytest.raises(lc.errors.FieldError, match="Unknown field 'temperature'"):
        lc.Artifact.get(temperature=21.6)


def test_get_uid_index_used_on_large_tables(catalog, monkeypatch):
    monkeypatch.setattr(getting, "INDEX_MIN_ROWS", 3)
    for name in ["a", "b", "c", "d"]:
        lc.Record(name=name).save()
    uids = lc.Record.filter().order_by("id").to_list("uid")
    assert lc.Record.get(uids[2]).name == "c"  # scan, remembers the snapshot
    assert lc.Record.get(uids[3]).name == "d"  # builds the index
    key = (id(instance.current()), "record")
    assert getting._UID_INDEXES[key].uids is not None
    assert [lc.Record.get(u).name for u in uids] == ["a", "b", "c", "d"]
    assert lc.Record.get(uid=uids[0]).name == "a"
    with pytest.raises(lc.Record.DoesNotExist, match="No record found with uid 'zzz'"):
        lc.Record.get("zzz")
    lc.Record(name="e").save()  # a new snapshot: the index is rebuilt lazily
    assert lc.Record.get(lc.Record.get(5).uid).name == "e"


def test_get_warm_reads_no_table(family):
    catalog = instance.current()
    lc.Transform.get(STEM)
    reads = dict(catalog.tables.reads)
    assert lc.Transform.get(STEM).id == 3
    assert lc.Transform.get(2).id == 2
    assert lc.Transform.get(key="other.py").id == 4
    assert catalog.tables.reads == reads
