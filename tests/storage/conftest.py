"""Fixtures of the storage tests: writer processes and object-store emulators."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("_worker.py")
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tests.emulators` whichever way pytest was started
    sys.path.insert(0, str(REPO))
#: seconds a worker may take to import lakecat before the workers start together
START_DELAY = 2.5


def spawn(task: str, **args) -> subprocess.Popen:
    """Start `_worker.py TASK` in a fresh interpreter."""
    return subprocess.Popen(
        [sys.executable, str(WORKER), task, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float) -> dict:
    """Wait for a worker and return the JSON it printed last."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"worker timed out after {timeout} s:\n{err[-3000:]}")
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def run_workers(task: str, arguments: list[dict], timeout: float = 60) -> list[dict]:
    """Run one worker per argument dict at once; their results in the same order."""
    start_at = time.time() + START_DELAY
    processes = [spawn(task, start_at=start_at, **args) for args in arguments]
    return [finish(p, timeout) for p in processes]


@pytest.fixture(scope="session")
def s3():
    """A moto S3 server on 127.0.0.1 for the whole session."""
    pytest.importorskip("moto")
    pytest.importorskip("s3fs")
    from tests.emulators import S3Emulator

    with S3Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def gcs():
    """An in-memory GCS server on 127.0.0.1 for the whole session."""
    pytest.importorskip("gcsfs")
    from tests.emulators import GCSEmulator

    with GCSEmulator() as emulator:
        yield emulator


@pytest.fixture
def s3_root(s3) -> tuple[str, dict[str, str]]:
    """A fresh bucket: the catalog root and the storage options to reach it."""
    bucket = f"lakecat-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(bucket)
    return f"s3://{bucket}/catalog", s3.storage_options(bucket)


@pytest.fixture
def gcs_root(gcs) -> tuple[str, dict[str, str]]:
    bucket = f"lakecat-{uuid.uuid4().hex[:12]}"
    gcs.create_bucket(bucket)
    return f"gs://{bucket}/catalog", gcs.storage_options(bucket)


@pytest.fixture(params=["local", "s3", "gcs"])
def where(request, tmp_path) -> tuple[str, dict[str, str]]:
    """A catalog location on local disk, the S3 emulator and the GCS emulator."""
    if request.param == "local":
        return str(tmp_path / "catalog"), {}
    return request.getfixturevalue(f"{request.param}_root")
