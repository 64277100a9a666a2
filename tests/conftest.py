"""Shared fixtures: every test gets its own settings folder and, on request, a catalog."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ.setdefault("NO_GCE_CHECK", "True")
os.environ.setdefault("LAKECAT_VERBOSITY", "WARNING")
# gcsfs' experimental file system probes endpoints over gRPC; emulators speak HTTP
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep the remembered catalog and the cache inside the test's temp folder."""
    home = tmp_path_factory.mktemp("lakecat-home")
    monkeypatch.setenv("LAKECAT_HOME", str(home))
    monkeypatch.setenv("LAKECAT_CACHE", str(home / "cache"))
    monkeypatch.delenv("LAKECAT_CATALOG", raising=False)
    from lakecat.catalog import instance

    monkeypatch.setattr(instance, "_current", None)
    yield


@pytest.fixture
def catalog(tmp_path):
    """A fresh local catalog with the bio module, connected."""
    import lakecat as lc

    return lc.init(
        storage=tmp_path / "catalog",
        modules=["bio"],
        user="testuser1",
        user_name="Test User1",
    )
