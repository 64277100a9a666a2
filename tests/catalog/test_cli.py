"""The `lakecat` command line, run in-process through `main()` and once as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import orjson
import pandas as pd
import pytest

import lakecat as lc
from lakecat.catalog import instance
from lakecat.catalog.cli import NO_CATALOG, main, parse_lookups, resolve_registry
from lakecat.engine import errors


@pytest.fixture
def filled(catalog, tmp_path):
    """The shared bio catalog with three artifacts and five records."""
    files = tmp_path / "files"
    files.mkdir()
    (files / "image.jpg").write_bytes(b"x" * 100)
    (files / "reads.fastq.gz").write_bytes(b"y" * 300)
    frame = pd.DataFrame({"a": [1, 2]})
    lc.Artifact.from_dataframe(
        frame, key="tables/one.parquet", description="first table"
    ).save()
    lc.Artifact(files / "image.jpg", key="images/cat.jpg").save()
    lc.Artifact(
        files / "reads.fastq.gz", key="reads/sample.fastq.gz", description="raw reads"
    ).save()
    lc.Record(name="Sample", is_type=True).save()
    for name in ("experiment_1", "experiment_2", "x=y", "42"):
        lc.Record(name=name).save()
    return catalog


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str):
    code, out, err = run(capsys, *argv, "--json")
    assert (code, err) == (0, "")
    return json.loads(out)


def table_ids(text: str) -> list[int]:
    """The id index of a pandas table: every line after the two header lines."""
    return [int(line.split()[0]) for line in text.splitlines()[2:]]


# init and info


def test_init_creates_and_remembers(capsys, tmp_path, monkeypatch):
    root = tmp_path / "lab"
    code, out, err = run(
        capsys, "init", "--storage", str(root), "--modules", "bio", "--name", "lab",
        "--user", "alice",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out == f"catalog 'lab' at {root} (modules: core, bio)\n"
    assert orjson.loads(instance.settings_path().read_bytes()) == {"root": str(root)}
    monkeypatch.setattr(instance, "_current", None)  # as in a new process
    info = run_json(capsys, "info")
    assert (info["root"], info["name"], info["modules"]) == (
        str(root),
        "lab",
        ["core", "bio"],
    )
    assert run_json(capsys, "get", "user", "1")["handle"] == "alice"


def test_init_json_reports_identity(capsys, tmp_path):
    identity = run_json(capsys, "init", "--storage", str(tmp_path / "c"))
    assert set(identity) == {"root", "name", "uid", "modules", "format_version"}
    assert (identity["name"], identity["modules"], identity["format_version"]) == (
        "c", ["core"], 1,
    )  # fmt: skip


def test_init_unknown_module_is_a_usage_error(capsys, tmp_path):
    code, out, err = run(
        capsys, "init", "--storage", str(tmp_path / "c"), "--modules", "bioo"
    )
    assert (code, out) == (2, "")
    assert err == (
        "lakecat: error: argument --modules: unknown module 'bioo'; available: core, bio "
        "(see `lakecat init --help`)\n"
    )


def test_init_into_non_empty_folder_fails(capsys, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    code, out, err = run(capsys, "init", "--storage", str(tmp_path / "busy"))
    assert (code, out) == (1, "")
    assert err.startswith(
        f"lakecat: error: cannot create a catalog at {tmp_path / 'busy'}:"
    )


def test_info_lists_identity_and_registries(capsys, filled):
    code, out, err = run(capsys, "info")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:5] == [
        f"root            {filled.root}",
        "name            catalog",
        f"uid             {filled.uid}",
        "modules         core, bio",
        "format version  1",
    ]
    assert lines[6].split() == ["registry", "rows", "version"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[7:]}
    assert rows["Artifact"] == ["3", "3"]
    assert rows["Record"] == ["5", "5"]
    assert rows["bio.CellType"] == ["0", "0"]


def test_info_json(capsys, filled):
    info = run_json(capsys, "info")
    assert info["uid"] == filled.uid
    assert info["registries"]["Artifact"] == {
        "table": "artifact",
        "rows": 3,
        "version": 3,
    }
    assert info["registries"]["Branch"]["rows"] == 3
    assert list(info["registries"])[-1] == "bio.Phenotype"


def test_no_catalog_connected(capsys):
    code, out, err = run(capsys, "info")
    assert (code, out, err) == (1, "", f"lakecat: error: {NO_CATALOG}\n")


def test_catalog_from_environment(capsys, filled, monkeypatch):
    monkeypatch.setattr(instance, "_current", None)
    instance.settings_path().unlink()
    monkeypatch.setenv("LAKECAT_CATALOG", filled.root)
    assert run_json(capsys, "info")["root"] == filled.root


def test_catalog_option_is_not_remembered(capsys, filled, tmp_path):
    other = lc.init(storage=tmp_path / "other")
    lc.connect(filled.root)
    assert run_json(capsys, "--catalog", other.root, "info")["name"] == "other"
    assert run_json(capsys, "info", "--catalog", other.root)["name"] == "other"
    assert orjson.loads(instance.settings_path().read_bytes()) == {"root": filled.root}


def test_missing_catalog_root(capsys, tmp_path):
    code, out, err = run(capsys, "--catalog", str(tmp_path / "nothing"), "info")
    assert (code, out) == (1, "")
    assert (
        err
        == f"lakecat: error: {tmp_path / 'nothing'} is not a lakecat catalog: lakecat.json is missing\n"
    )


# view


def test_view_prints_newest_rows_per_registry(capsys, filled):
    code, out, err = run(capsys, "view", "--registry", "record", "--limit", "2")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Record"
    assert table_ids("\n".join(lines[1:])) == [5, 4]
    assert "Artifact" not in out


def test_view_json(capsys, filled):
    shown = run_json(capsys, "view", "--limit", "1")
    assert list(shown) == ["Artifact", "Record", "Storage"]
    assert [r["key"] for r in shown["Artifact"]] == ["reads/sample.fastq.gz"]
    assert [r["name"] for r in shown["Record"]] == ["42"]
    shown = run_json(capsys, "view", "--registry", "Artifact", "bt.CellType")
    assert [r["id"] for r in shown["Artifact"]] == [3, 2, 1]
    assert list(shown) == ["Artifact"]


# search and get


def test_search_ranks_records(capsys, filled):
    code, out, err = run(capsys, "search", "record", "experiment")
    assert (code, err) == (0, "")
    assert table_ids(out) == [2, 3]
    found = run_json(capsys, "search", "Artifact", "reads", "--field", "description")
    assert [r["key"] for r in found] == ["reads/sample.fastq.gz"]
    found = run_json(capsys, "search", "record", "experiment", "--limit", "1")
    assert [r["name"] for r in found] == ["experiment_1"]


def test_search_without_matches(capsys, filled):
    assert run(capsys, "search", "record", "zebrafish") == (
        0,
        "no Record records\n",
        "",
    )
    assert run_json(capsys, "search", "record", "zebrafish") == []


def test_search_unknown_field(capsys, filled):
    code, out, err = run(capsys, "search", "record", "x", "--field", "nme")
    assert (code, out) == (1, "")
    assert err.startswith(
        "lakecat: error: Unknown field 'nme'. Available fields: id, uid, name,"
    )


def test_get_by_id_uid_and_prefix(capsys, filled):
    uid = lc.Artifact.get(2).uid
    code, out, err = run(capsys, "get", "artifact", "2")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["id", "2"]
    assert lines[1].split() == ["uid", uid]
    assert lines[2].split() == ["key", "images/cat.jpg"]
    assert run_json(capsys, "get", "Artifact", uid)["key"] == "images/cat.jpg"
    record = run_json(capsys, "get", "artifact", uid[:8])
    assert (record["id"], record["size"], record["suffix"]) == (2, 100, ".jpg")
    created = datetime.fromisoformat(record["created_at"])
    assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0


def test_get_missing_record(capsys, filled):
    assert run(capsys, "get", "artifact", "zzzzzzzz") == (
        1, "", "lakecat: error: no Artifact with uid zzzzzzzz\n",
    )  # fmt: skip
    assert run(capsys, "get", "record", "99") == (
        1, "", "lakecat: error: no Record with id 99\n",
    )  # fmt: skip


# filter


def test_filter_typed_values(capsys, filled):
    def keys(*lookups: str) -> list[str]:
        return [r["key"] for r in run_json(capsys, "filter", "artifact", *lookups)]

    assert keys("size__gt=1000") == ["tables/one.parquet"]
    assert keys("size__lte=100") == ["images/cat.jpg"]
    assert keys("description=null") == ["images/cat.jpg"]
    assert keys("description__isnull=false", "suffix=.parquet") == [
        "tables/one.parquet"
    ]
    assert keys("created_at__gte=2000-01-01") == [
        "tables/one.parquet", "images/cat.jpg", "reads/sample.fastq.gz",
    ]  # fmt: skip
    assert keys("created_at__lt=2000-01-01T00:00:00Z") == []
    assert keys(
        f"created_at__year={date.today().year}", "is_latest=true", "size=300"
    ) == ["reads/sample.fastq.gz"]
    assert keys(
        "created_by__handle=testuser1", "created_by=1", "key__startswith=im"
    ) == ["images/cat.jpg"]


def test_filter_text_values_stay_text(capsys, filled):
    names = [r["name"] for r in run_json(capsys, "filter", "record", "name=42")]
    assert names == ["42"]
    names = [r["name"] for r in run_json(capsys, "filter", "record", "name=x=y")]
    assert names == ["x=y"]
    types = [r["name"] for r in run_json(capsys, "filter", "record", "is_type=true")]
    assert types == ["Sample"]


def test_filter_in_and_range(capsys, filled):
    found = run_json(capsys, "filter", "artifact", "suffix__in=.jpg,.fastq.gz")
    assert [r["id"] for r in found] == [2, 3]
    found = run_json(capsys, "filter", "artifact", "size__range=50,500")
    assert [r["id"] for r in found] == [2, 3]
    found = run_json(capsys, "filter", "artifact", "id__in=1,3,99")
    assert [r["id"] for r in found] == [1, 3]


def test_filter_order_by_and_limit(capsys, filled):
    code, out, err = run(capsys, "filter", "artifact", "--order-by", "-size")
    assert (code, err) == (0, "")
    assert table_ids(out) == [1, 3, 2]
    code, out, err = run(
        capsys, "filter", "artifact", "--order-by", "-size", "--limit", "2"
    )
    assert table_ids(out) == [1, 3]
    found = run_json(
        capsys, "filter", "record", "--order-by=is_type,-name", "--limit", "3"
    )
    assert [r["name"] for r in found] == ["x=y", "experiment_2", "experiment_1"]
    found = run_json(
        capsys, "filter", "record", "--order-by", "-is_type", "--order-by", "name"
    )
    assert [r["name"] for r in found] == [
        "Sample",
        "42",
        "experiment_1",
        "experiment_2",
        "x=y",
    ]


def test_filter_without_matches(capsys, filled):
    assert run(capsys, "filter", "artifact", "size__gt=10000") == (
        0, "no Artifact records\n", "",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["size=abc"], "Artifact `size` takes an integer, got 'abc'"),
        (["is_latest=maybe"], "Artifact `is_latest` takes true or false, got 'maybe'"),
        (
            ["created_at__gt=yesterday"],
            "Artifact `created_at__gt` takes an ISO datetime such as 2025-01-31 or "
            "2025-01-31T12:00, got 'yesterday'",
        ),
        (["size__range=1,2,3"], "Artifact `size__range` takes two values lo,hi, got '1,2,3'"),
        (["size__in=1,two"], "Artifact `size__in` takes an integer, got 'two'"),
        (["description__isnull=no"], "Artifact `description__isnull` takes true or false, got 'no'"),
    ],
)  # fmt: skip
def test_filter_bad_value(capsys, filled, argv, message):
    assert run(capsys, "filter", "artifact", *argv) == (
        1,
        "",
        f"lakecat: error: {message}\n",
    )


def test_filter_unknown_field(capsys, filled):
    code, out, err = run(capsys, "filter", "record", "nam=x")
    assert (code, out) == (1, "")
    assert err.startswith("lakecat: error: Unknown field 'nam'. Available fields:")
    assert "\n" not in err.rstrip("\n")
    code, out, err = run(capsys, "filter", "record", "--order-by", "-nam")
    assert (code, out) == (1, "")
    assert err.startswith("lakecat: error: Unknown field 'nam'.")


def test_filter_lookup_without_equals_is_a_usage_error(capsys, filled):
    assert run(capsys, "filter", "artifact", "size") == (
        2, "", "lakecat: error: lookups are written key=value (e.g. suffix=.jpg), got 'size'\n",
    )  # fmt: skip


def test_traceback_option_reraises(filled):
    with pytest.raises(errors.FieldValueError, match="takes an integer"):
        main(["filter", "artifact", "size=abc", "--traceback"])


# parsing values and names


@pytest.mark.parametrize(
    ("registry", "item", "expected"),
    [
        ("Artifact", "size=10", {"size": 10}),
        ("Artifact", "size__in=1,2", {"size__in": [1, 2]}),
        ("Artifact", "key=10", {"key": "10"}),
        ("Artifact", "key__in=.jpg,null", {"key__in": [".jpg", None]}),
        ("Artifact", "size__contains=1", {"size__contains": "1"}),
        ("Artifact", "key__icontains=null", {"key__icontains": "null"}),
        ("Artifact", "description=null", {"description": None}),
        ("Artifact", "run__created_at__year__gte=2025", {"run__created_at__year__gte": 2025}),
        ("Artifact", "records__isnull=true", {"records__isnull": True}),
        ("Artifact", "is_latest=FALSE", {"is_latest": False}),
        ("Artifact", "created_at__year=2025", {"created_at__year": 2025}),
        ("Artifact", "created_at__date=2025-01-31", {"created_at__date": date(2025, 1, 31)}),
        (
            "Artifact",
            "created_at__range=2025-01-01,2025-02-01T12:00:00+00:00",
            {"created_at__range": [
                datetime(2025, 1, 1), datetime(2025, 2, 1, 12, tzinfo=timezone.utc),
            ]},
        ),
        ("Artifact", "created_by__handle=42", {"created_by__handle": "42"}),
        ("Artifact", "created_by=1", {"created_by": 1}),
        ("Artifact", "_aux__af__flag=true", {"_aux__af__flag": True}),
        ("Artifact", "temperature__gt=21.5", {"temperature__gt": 21.5}),
        ("Artifact", "cell_type=T cell", {"cell_type": "T cell"}),
        ("Record", "name=a=b", {"name": "a=b"}),
        ("bio.CellType", "ontology_id=CL:0000084", {"ontology_id": "CL:0000084"}),
    ],
)  # fmt: skip
def test_parse_lookups(catalog, registry, item, expected):
    schema = catalog.index.registry(registry)
    assert parse_lookups(catalog.index, schema, [item]) == expected


@pytest.mark.parametrize(
    ("name", "qualified"),
    [
        ("Artifact", "Artifact"),
        ("artifact", "Artifact"),
        ("ULABEL", "ULabel"),
        ("ln.Record", "Record"),
        ("bt.CellType", "bio.CellType"),
        ("bio.celltype", "bio.CellType"),
        ("bionty.CellType", "bio.CellType"),
        ("celltype", "bio.CellType"),
    ],
)
def test_resolve_registry(catalog, name, qualified):
    assert resolve_registry(catalog, name)._schema.qualified_name == qualified


def test_unknown_registry(capsys, filled):
    code, out, err = run(capsys, "filter", "artifacts")
    valid = ", ".join(filled.index.registries)
    assert (code, out) == (2, "")
    assert err == (
        f"lakecat: error: unknown registry 'artifacts'; valid names: {valid}. "
        "Did you mean 'Artifact'?\n"
    )
    code, _, err = run(capsys, "get", "xx.Artifact", "1")
    assert code == 2
    assert err == (
        "lakecat: error: unknown module prefix 'xx' in 'xx.Artifact'; use bt. or bio. "
        "for bio registries\n"
    )


def test_bio_registry_on_core_catalog(capsys, tmp_path):
    lc.init(storage=tmp_path / "core-only")
    assert run(capsys, "search", "bt.CellType", "T cell") == (
        2, "",
        "lakecat: error: registry bio.CellType belongs to module 'bio', which catalog "
        "'core-only' does not have\n",
    )  # fmt: skip


# usage


def test_usage_errors(capsys):
    assert run(capsys) == (
        2, "", "lakecat: error: the following arguments are required: COMMAND "
        "(see `lakecat --help`)\n",
    )  # fmt: skip
    code, out, err = run(capsys, "view", "--limit", "-1")
    assert (code, out) == (2, "")
    assert err == (
        "lakecat: error: argument --limit: expected a count (0, 1, 2, …), got '-1' "
        "(see `lakecat view --help`)\n"
    )
    code, _, err = run(capsys, "frobnicate")
    assert code == 2
    assert err.startswith(
        "lakecat: error: argument COMMAND: invalid choice: 'frobnicate'"
    )


def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert out.startswith("usage: lakecat [-h]")
    for name in ("init", "info", "view", "search", "get", "filter", "optimize"):
        assert f"\n    {name} " in out
    assert run(capsys, "--version") == (0, f"lakecat {lc.__version__}\n", "")


# optimize


def test_optimize_reports_each_table(capsys, filled):
    record = lc.Record.get(name="experiment_1")
    record.description = "rewritten"
    record.save()
    reports = run_json(capsys, "optimize", "--vacuum-hours", "0")
    assert set(reports) == set(filled.tables.specs)
    before = {t: r["files_before"] for t, r in reports.items()}
    assert (before["artifact"], before["record"]) == (3, 5)
    for table, report in reports.items():
        # with no retention, the files a table still uses are all that is left
        files = list(Path(filled.tables.uri(table)).glob("*.parquet"))
        assert (report["table"], report["files_after"]) == (table, len(files))
    again = run_json(capsys, "optimize", "--vacuum-hours", "0")
    assert {r.get("compacted", 0) for r in again.values()} == {0}

    code, out, err = run(capsys, "optimize")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == [
        "table", "files", "before", "compacted", "vacuumed", "files", "after",
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == list(reports)


def test_optimize_bad_hours(capsys, filled):
    code, _, err = run(capsys, "optimize", "--vacuum-hours", "soon")
    assert code == 2
    assert err.startswith(
        "lakecat: error: argument --vacuum-hours: expected a number of hours"
    )


# the installed entry points


def test_console_script_and_module_run(filled, tmp_path):
    env = {**os.environ, "LAKECAT_HOME": str(tmp_path / "process-home")}
    script = Path(sys.executable).with_name("lakecat")
    done = subprocess.run(
        [str(script), "--catalog", filled.root, "filter", "artifact", "suffix=.jpg", "--json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert [r["key"] for r in json.loads(done.stdout)] == ["images/cat.jpg"]

    done = subprocess.run(
        [sys.executable, "-m", "lakecat", "get", "artifact", "1"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"lakecat: error: {NO_CATALOG}\n"
