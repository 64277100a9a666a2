"""The GCS and S3 emulators against the clients lakecat uses.

deltalake (delta-rs) and polars talk to the emulators through Rust
``object_store``; gcsfs and s3fs through fsspec. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import pytest

# Import the emulators before any cloud client: this isolates the process
# (metadata hosts, proxies, gcsfs' gRPC mode) before those packages load.
from . import GCSEmulator, S3Emulator  # isort: skip

import fsspec
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from polars.testing import assert_frame_equal

BUCKET = "bucket"


@dataclass
class Backend:
    name: str
    scheme: str
    emulator: Any

    @property
    def storage_options(self) -> dict[str, str]:
        return self.emulator.storage_options(BUCKET)

    def uri(self, path: str) -> str:
        return f"{self.scheme}://{BUCKET}/{path}"

    def fs(self) -> fsspec.AbstractFileSystem:
        return fsspec.filesystem(
            self.scheme, skip_instance_cache=True, **self.emulator.fsspec_options()
        )

    def keys(self, prefix: str) -> list[str]:
        return self.emulator.list_objects(BUCKET, prefix)


@pytest.fixture(scope="module")
def gcs():
    with GCSEmulator() as emu:
        emu.create_bucket(BUCKET)
        yield emu


@pytest.fixture(scope="module")
def s3():
    with S3Emulator() as emu:
        emu.create_bucket(BUCKET)
        yield emu


@pytest.fixture(params=["gcs", "s3"])
def backend(request) -> Backend:
    if request.param == "gcs":
        return Backend("gcs", "gs", request.getfixturevalue("gcs"))
    return Backend("s3", "s3", request.getfixturevalue("s3"))


def _rows(ids: list[int], prefix: str = "v") -> pa.Table:
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "v": pa.array([f"{prefix}{i}" for i in ids], pa.string()),
        }
    )


def _frame(rows: list[tuple[int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"id": [r[0] for r in rows], "v": [r[1] for r in rows]},
        schema={"id": pl.Int64, "v": pl.String},
    )


def _data_files(backend: Backend, table: str) -> set[str]:
    """Parquet files of a table in the bucket, relative to the table root."""
    prefix = f"{table}/"
    return {
        k[len(prefix) :]
        for k in backend.keys(prefix)
        if k.endswith(".parquet") and not k.startswith(f"{prefix}_delta_log/")
    }


def _assert_gcs_clean(backend: Backend) -> None:
    if backend.name == "gcs":
        assert backend.emulator.unhandled == []
        assert backend.emulator.errors == []


# ---------------------------------------------------------------------------
# deltalake + polars


def test_delta_table_lifecycle(backend: Backend) -> None:
    uri = backend.uri("t1")
    so = backend.storage_options

    write_deltalake(uri, _rows([0, 1, 2]), storage_options=so)
    write_deltalake(uri, _rows([3, 4, 5]), storage_options=so, mode="append")
    write_deltalake(uri, _rows([6, 7, 8]), storage_options=so, mode="append")

    dt = DeltaTable(uri, storage_options=so)
    assert dt.version() == 2
    assert dt.to_pyarrow_table().num_rows == 9
    expected = _frame([(i, f"v{i}") for i in range(9)])
    assert_frame_equal(pl.read_delta(uri, storage_options=so).sort("id"), expected)
    assert_frame_equal(
        pl.scan_delta(uri, storage_options=so).collect().sort("id"), expected
    )
    first_file = sorted(dt.file_uris())[0]
    assert pl.read_parquet(first_file, storage_options=so).height == 3

    deleted = dt.delete("id < 2")
    assert deleted["num_deleted_rows"] == 2
    assert dt.version() == 3

    source = pa.table({"id": pa.array([2, 3, 42], pa.int64()), "v": ["x", "y", "z"]})
    merged = (
        dt.merge(
            source=source, predicate="t.id = s.id", source_alias="s", target_alias="t"
        )
        .when_matched_update(updates={"v": "s.v"})
        .execute()
    )
    assert merged["num_target_rows_updated"] == 2
    assert merged["num_target_rows_inserted"] == 0
    assert dt.version() == 4
    after_merge = _frame(
        [(2, "x"), (3, "y"), (4, "v4"), (5, "v5"), (6, "v6"), (7, "v7"), (8, "v8")]
    )
    assert_frame_equal(pl.read_delta(uri, storage_options=so).sort("id"), after_merge)

    dt.create_checkpoint()
    log = backend.keys("t1/_delta_log/")
    assert "t1/_delta_log/00000000000000000004.checkpoint.parquet" in log
    assert "t1/_delta_log/_last_checkpoint" in log
    reopened = DeltaTable(uri, storage_options=so)
    assert reopened.version() == 4
    assert reopened.to_pyarrow_table().num_rows == 7

    files_before = len(dt.file_uris())
    assert files_before == 2
    compacted = dt.optimize.compact()
    assert compacted["numFilesAdded"] == 1
    assert compacted["numFilesRemoved"] == files_before
    assert dt.version() == 5
    assert len(dt.file_uris()) == 1

    live = {u.rsplit("/", 1)[1] for u in dt.file_uris()}
    stale = _data_files(backend, "t1") - live
    assert len(stale) == 5  # 3 writes + delete + merge, all superseded
    vacuumed = dt.vacuum(
        retention_hours=0, enforce_retention_duration=False, dry_run=False
    )
    assert sorted(vacuumed) == sorted(stale)
    assert _data_files(backend, "t1") == live
    assert dt.version() == 7  # VACUUM START + VACUUM END commits

    final = DeltaTable(uri, storage_options=so)
    assert final.version() == 7
    assert [h["operation"] for h in final.history()] == [
        "VACUUM END",
        "VACUUM START",
        "OPTIMIZE",
        "MERGE",
        "DELETE",
        "WRITE",
        "WRITE",
        "WRITE",
    ]
    assert_frame_equal(pl.read_delta(uri, storage_options=so).sort("id"), after_merge)
    assert_frame_equal(
        pl.scan_delta(uri, storage_options=so).collect().sort("id"), after_merge
    )
    _assert_gcs_clean(backend)


def test_concurrent_writers_lose_no_commit(backend: Backend) -> None:
    uri = backend.uri("t_concurrent")
    so = backend.storage_options
    write_deltalake(uri, _rows([0]), storage_options=so)

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(base: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(10):
                write_deltalake(
                    uri, _rows([base + i]), storage_options=so, mode="append"
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(base,)) for base in (100, 200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert not any(t.is_alive() for t in threads)

    dt = DeltaTable(uri, storage_options=so)
    assert dt.version() == 20
    assert len(dt.history()) == 21
    ids = sorted(dt.to_pyarrow_table()["id"].to_pylist())
    assert ids == [0, *range(100, 110), *range(200, 210)]
    commits = [
        k for k in backend.keys("t_concurrent/_delta_log/") if k.endswith(".json")
    ]
    assert len(commits) == 21
    _assert_gcs_clean(backend)


def test_gcs_racing_delta_commits_conflict_and_retry(gcs: GCSEmulator) -> None:
    """Two writers commit version 1 at the same time: one gets 412 and retries."""
    so = gcs.storage_options(BUCKET)
    uri = f"gs://{BUCKET}/t_race"
    write_deltalake(uri, _rows([0]), storage_options=so)
    gcs.rendezvous_writes(rf"{BUCKET}/t_race/_delta_log/0+1\.json", count=2, timeout=10)

    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            write_deltalake(uri, _rows([i]), storage_options=so, mode="append")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert gcs.rendezvous_armed == 0

    dt = DeltaTable(uri, storage_options=so)
    assert dt.version() == 2
    assert sorted(dt.to_pyarrow_table()["id"].to_pylist()) == [0, 1, 2]
    commit_puts = sorted(  # the log order of the two racing PUTs is arbitrary
        (unquote(r.path).rsplit("/", 1)[1], r.status, r.if_generation_match)
        for r in gcs.requests
        if r.method == "PUT" and "t_race/_delta_log/" in unquote(r.path)
    )
    assert commit_puts == [
        ("00000000000000000000.json", 200, "0"),
        ("00000000000000000001.json", 200, "0"),
        ("00000000000000000001.json", 412, "0"),
        ("00000000000000000002.json", 200, "0"),
    ]


def test_gcs_large_file_uses_multipart_upload(gcs: GCSEmulator) -> None:
    so = gcs.storage_options(BUCKET)
    uri = f"gs://{BUCKET}/t_big"
    blob = bytes(range(256)) * 16  # 4 KiB, repeated with a per-row prefix
    table = pa.table(
        {
            "id": pa.array(range(3000), pa.int64()),
            "blob": pa.array(
                [i.to_bytes(4, "big") + blob for i in range(3000)], pa.binary()
            ),
        }
    )
    write_deltalake(
        uri,
        table,
        storage_options=so,
        writer_properties=_uncompressed_writer_properties(),
    )
    started = [
        r
        for r in gcs.requests
        if r.method == "POST"
        and "t_big/" in unquote(r.path)
        and r.path.split("?")[1:] in (["uploads"], ["uploads="])
    ]
    assert len(started) == 1
    parts = [
        r
        for r in gcs.requests
        if r.method == "PUT" and "t_big/" in unquote(r.path) and "partNumber=" in r.path
    ]
    assert len(parts) == 3  # 12 MiB in 5 MiB parts
    back = pl.read_delta(uri, storage_options=so).sort("id")
    assert back.height == 3000
    assert back["blob"][2999] == (2999).to_bytes(4, "big") + blob


def _uncompressed_writer_properties():
    from deltalake import WriterProperties

    return WriterProperties(compression="UNCOMPRESSED")


# ---------------------------------------------------------------------------
# fsspec


def test_fsspec_put_get_ls_exists_rm(backend: Backend, tmp_path) -> None:
    fs = backend.fs()
    local = tmp_path / "local.bin"
    payload = b"lakecat\x00" * 1000
    local.write_bytes(payload)
    base = f"{BUCKET}/fsspec"

    fs.put(str(local), f"{base}/a.bin")
    fs.pipe(f"{base}/sub/b.txt", b"hello")
    assert fs.exists(f"{base}/a.bin")
    assert fs.info(f"{base}/a.bin")["size"] == len(payload)
    assert sorted(fs.ls(base, detail=False)) == [f"{base}/a.bin", f"{base}/sub"]
    assert fs.find(base) == [f"{base}/a.bin", f"{base}/sub/b.txt"]
    assert fs.cat(f"{base}/sub/b.txt") == b"hello"
    assert fs.cat_file(f"{base}/a.bin", start=8, end=16) == b"lakecat\x00"

    out = tmp_path / "out.bin"
    fs.get(f"{base}/a.bin", str(out))
    assert out.read_bytes() == payload

    fs.rm(f"{base}/a.bin")
    fs.invalidate_cache()
    assert not fs.exists(f"{base}/a.bin")
    fs.rm(base, recursive=True)
    fs.invalidate_cache()
    assert not fs.exists(f"{base}/sub/b.txt")
    assert backend.keys("fsspec/") == []
    _assert_gcs_clean(backend)


def test_gcsfs_large_resumable_upload_and_copy(gcs: GCSEmulator) -> None:
    fs = fsspec.filesystem("gs", skip_instance_cache=True, **gcs.fsspec_options())
    data = bytes(range(256)) * (40 * 1024)  # 10 MiB: resumable upload in chunks
    with fs.open(f"{BUCKET}/gcsfs/big.bin", "wb") as f:
        f.write(data)
    assert fs.info(f"{BUCKET}/gcsfs/big.bin")["size"] == len(data)
    assert gcs.get_object(BUCKET, "gcsfs/big.bin") == data
    fs.cp(f"{BUCKET}/gcsfs/big.bin", f"{BUCKET}/gcsfs/copy.bin")
    fs.mv(f"{BUCKET}/gcsfs/copy.bin", f"{BUCKET}/gcsfs/moved.bin")
    assert gcs.list_objects(BUCKET, "gcsfs/") == ["gcsfs/big.bin", "gcsfs/moved.bin"]
    assert fs.cat_file(f"{BUCKET}/gcsfs/moved.bin", start=len(data) - 3) == bytes(
        [253, 254, 255]
    )
    fs.rm(f"{BUCKET}/gcsfs", recursive=True)
    assert gcs.list_objects(BUCKET, "gcsfs/") == []
    assert gcs.unhandled == []
    assert gcs.errors == []


def test_gcsfs_extended_filesystem_does_not_stall(gcs: GCSEmulator) -> None:
    """gcsfs' experimental gRPC file system falls back to JSON at once."""
    from gcsfs.extended_gcsfs import ExtendedGcsFileSystem

    fs = ExtendedGcsFileSystem(skip_instance_cache=True, **gcs.fsspec_options())
    started = time.monotonic()
    fs.pipe(f"{BUCKET}/extended/x.txt", b"x")
    assert fs.cat(f"{BUCKET}/extended/x.txt") == b"x"
    assert fs.ls(f"{BUCKET}/extended", detail=False) == [f"{BUCKET}/extended/x.txt"]
    fs.rm(f"{BUCKET}/extended/x.txt")
    assert gcs.list_objects(BUCKET, "extended/") == []
    assert time.monotonic() - started < 15  # 60 s per call without retry_timeout


# ---------------------------------------------------------------------------
# conditional creates


def _http(gcs: GCSEmulator, method: str, path: str, body: bytes = b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", gcs.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_gcs_if_generation_match_zero_rejects_existing_object(gcs: GCSEmulator) -> None:
    path = f"/{BUCKET}/{quote('cond/obj.json', safe='')}"
    create = {"x-goog-if-generation-match": "0"}

    status, headers, _ = _http(gcs, "PUT", path, b"first", create)
    assert status == 200
    generation = int(headers["x-goog-generation"])

    status, _, body = _http(gcs, "PUT", path, b"second", create)
    assert status == 412
    assert b"PreconditionFailed" in body
    assert gcs.get_object(BUCKET, "cond/obj.json") == b"first"

    # JSON API: ifGenerationMatch=0 on a media upload
    status, _, body = _http(
        gcs,
        "POST",
        f"/upload/storage/v1/b/{BUCKET}/o?uploadType=media&name=cond%2Fobj.json&ifGenerationMatch=0",
        b"third",
    )
    assert status == 412
    assert json.loads(body)["error"]["code"] == 412

    # matching generation replaces, a stale one is refused
    status, headers, _ = _http(
        gcs, "PUT", path, b"fourth", {"x-goog-if-generation-match": str(generation)}
    )
    assert status == 200
    assert int(headers["x-goog-generation"]) > generation
    status, _, _ = _http(
        gcs, "PUT", path, b"fifth", {"x-goog-if-generation-match": str(generation)}
    )
    assert status == 412
    assert gcs.get_object(BUCKET, "cond/obj.json") == b"fourth"

    # gcsfs exclusive create maps the 412 to FileExistsError
    fs = fsspec.filesystem("gs", skip_instance_cache=True, **gcs.fsspec_options())
    with pytest.raises(FileExistsError), fs.open(f"{BUCKET}/cond/obj.json", "xb") as f:
        f.write(b"sixth")
    with fs.open(f"{BUCKET}/cond/new.json", "xb") as f:
        f.write(b"new")
    assert gcs.get_object(BUCKET, "cond/new.json") == b"new"
    assert gcs.get_object(BUCKET, "cond/obj.json") == b"fourth"


def test_s3_if_none_match_rejects_existing_object(s3: S3Emulator) -> None:
    from botocore.exceptions import ClientError

    s3.client.put_object(
        Bucket=BUCKET, Key="cond/obj.json", Body=b"first", IfNoneMatch="*"
    )
    with pytest.raises(ClientError) as info:
        s3.client.put_object(
            Bucket=BUCKET, Key="cond/obj.json", Body=b"second", IfNoneMatch="*"
        )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert info.value.response["Error"]["Code"] == "PreconditionFailed"
    body = s3.client.get_object(Bucket=BUCKET, Key="cond/obj.json")["Body"].read()
    assert body == b"first"


# ---------------------------------------------------------------------------
# GCS emulator details


def test_gcs_listing_pages_and_prefixes(gcs: GCSEmulator) -> None:
    for name in ["ls/a", "ls/b", "ls/d1/x", "ls/d1/y", "ls/d2/z", "ls/e"]:
        gcs.put_object(BUCKET, name, name.encode())

    # XML API (object_store): list-type=2 with continuation tokens
    seen_keys, seen_prefixes, token = [], [], None
    pages = 0
    while True:
        q = "list-type=2&prefix=ls%2F&delimiter=%2F&max-keys=2"
        if token:
            q += f"&continuation-token={quote(token, safe='')}"
        status, _, body = _http(gcs, "GET", f"/{BUCKET}?{q}")
        assert status == 200
        pages += 1
        text = body.decode()
        seen_keys += re.findall(r"<Key>([^<]+)</Key>", text)
        seen_prefixes += re.findall(r"<CommonPrefixes><Prefix>([^<]+)</Prefix>", text)
        m = re.search(r"<NextContinuationToken>([^<]+)</NextContinuationToken>", text)
        if not m:
            break
        token = m.group(1)
    assert pages == 3
    assert seen_keys == ["ls/a", "ls/b", "ls/e"]
    assert seen_prefixes == ["ls/d1/", "ls/d2/"]

    status, _, body = _http(
        gcs, "GET", f"/{BUCKET}?list-type=2&prefix=ls%2F&start-after=ls%2Fd1%2Fx"
    )
    assert re.findall(r"<Key>([^<]+)</Key>", body.decode()) == [
        "ls/d1/y",
        "ls/d2/z",
        "ls/e",
    ]

    # JSON API (gcsfs): pageToken / nextPageToken, items and prefixes
    items, prefixes, token = [], [], None
    while True:
        q = "prefix=ls%2F&delimiter=%2F&maxResults=3"
        if token:
            q += f"&pageToken={quote(token, safe='')}"
        status, _, body = _http(gcs, "GET", f"/storage/v1/b/{BUCKET}/o?{q}")
        page = json.loads(body)
        items += [i["name"] for i in page.get("items", [])]
        prefixes += page.get("prefixes", [])
        token = page.get("nextPageToken")
        if not token:
            break
    assert items == ["ls/a", "ls/b", "ls/e"]
    assert prefixes == ["ls/d1/", "ls/d2/"]

    status, _, body = _http(
        gcs,
        "GET",
        f"/storage/v1/b/{BUCKET}/o?prefix=ls%2F&startOffset=ls%2Fd1%2Fy&endOffset=ls%2Fe",
    )
    assert [i["name"] for i in json.loads(body)["items"]] == ["ls/d1/y", "ls/d2/z"]


def test_gcs_ranged_reads_and_metadata(gcs: GCSEmulator) -> None:
    gcs.put_object(BUCKET, "range/obj", b"0123456789")
    path = f"/{BUCKET}/{quote('range/obj', safe='')}"
    assert _http(gcs, "GET", path, headers={"Range": "bytes=2-4"})[::2] == (206, b"234")
    assert _http(gcs, "GET", path, headers={"Range": "bytes=7-"})[::2] == (206, b"789")
    assert _http(gcs, "GET", path, headers={"Range": "bytes=-3"})[::2] == (206, b"789")
    status, headers, _ = _http(gcs, "GET", path, headers={"Range": "bytes=20-"})
    assert (status, headers["Content-Range"]) == (416, "bytes */10")
    status, headers, body = _http(gcs, "HEAD", path)
    assert (status, headers["Content-Length"], body) == (200, "10", b"")
    assert headers["ETag"] == '"781e5e245d69b566979b86e28d23f2c7"'  # md5("0123456789")

    status, _, body = _http(
        gcs, "GET", f"/storage/v1/b/{BUCKET}/o/{quote('range/obj', safe='')}"
    )
    meta = json.loads(body)
    assert (status, meta["name"], meta["size"], meta["md5Hash"]) == (
        200,
        "range/obj",
        "10",
        "eB5eJF1ptWaXm4bijSPyxw==",
    )
    assert meta["crc32c"] == "KAwGng=="
    status, _, body = _http(
        gcs, "GET", f"/storage/v1/b/{BUCKET}/o/{quote('range/obj', safe='')}?alt=media"
    )
    assert (status, body) == (200, b"0123456789")
    assert _http(gcs, "GET", f"/{BUCKET}/missing")[0] == 404


def test_gcs_unhandled_requests_are_501_and_recorded() -> None:
    with GCSEmulator() as emu:
        emu.create_bucket(BUCKET)
        status, _, body = _http(emu, "GET", f"/storage/v1/b/{BUCKET}/iam")
        assert status == 501
        assert json.loads(body)["error"]["code"] == 501
        status, _, _ = _http(emu, "POST", f"/{BUCKET}/obj?restore")
        assert status == 501
        assert emu.unhandled == [
            f"GET /storage/v1/b/{BUCKET}/iam",
            f"POST /{BUCKET}/obj?restore",
        ]
        assert emu.errors == []
        emu.reset_log()
        assert emu.unhandled == []
