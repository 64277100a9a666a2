"""Bytes in the catalog's storage, through the local file system or fsspec.

Local paths use `os` directly (fast, and `O_EXCL` gives an atomic create-if-absent);
`gs://` and `s3://` go through fsspec with the catalog's storage options, using
the stores' conditional writes for create-if-absent.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

#: fsspec protocol per URL scheme
PROTOCOLS = {"gs": "gcs", "gcs": "gcs", "s3": "s3"}


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def fsspec_options(protocol: str, storage_options: dict[str, str]) -> dict[str, Any]:
    """Translate Delta-style storage options into fsspec keyword arguments."""
    opts = {k.lower(): v for k, v in storage_options.items()}
    if protocol == "s3":
        kwargs: dict[str, Any] = {}
        if "aws_access_key_id" in opts:
            kwargs["key"] = opts["aws_access_key_id"]
            kwargs["secret"] = opts.get("aws_secret_access_key")
        client: dict[str, Any] = {}
        if "aws_endpoint_url" in opts:
            client["endpoint_url"] = opts["aws_endpoint_url"]
        if "aws_region" in opts:
            client["region_name"] = opts["aws_region"]
        if client:
            kwargs["client_kwargs"] = client
        return kwargs
    kwargs = {}
    if "google_base_url" in opts or "gcs_base_url" in opts:
        kwargs["endpoint_url"] = opts.get("google_base_url") or opts["gcs_base_url"]
    if opts.get("google_skip_signature", "").lower() == "true" or "endpoint_url" in kwargs:
        kwargs["token"] = "anon"
    if "google_service_account_path" in opts:
        kwargs["token"] = opts["google_service_account_path"]
    kwargs.setdefault("project", opts.get("google_project", "lakecat"))
    return kwargs


class ObjectStore:
    """Read and write whole objects under a catalog root."""

    def __init__(self, storage_options: dict[str, str] | None = None) -> None:
        self.storage_options = dict(storage_options or {})
        self._filesystems: dict[str, Any] = {}

    def filesystem(self, path: str):
        scheme = path.split("://", 1)[0]
        protocol = PROTOCOLS.get(scheme)
        if protocol is None:
            msg = f"unsupported storage scheme `{scheme}://`; use a local path, gs:// or s3://"
            raise ValueError(msg)
        if protocol not in self._filesystems:
            import fsspec

            options = fsspec_options(protocol, self.storage_options)
            self._filesystems[protocol] = fsspec.filesystem(protocol, **options)
        return self._filesystems[protocol]

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Write `data` to `path` unless it exists; return whether we wrote it."""
        if not is_remote(path):
            path = path.removeprefix("file://")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            return True
        fs = self.filesystem(path)
        try:
            with fs.open(path, "xb") as handle:
                handle.write(data)
        except FileExistsError:
            return False
        return True

    def read_bytes(self, path: str) -> bytes:
        if not is_remote(path):
            return Path(path.removeprefix("file://")).read_bytes()
        return self.filesystem(path).cat_file(path)

    def write_bytes(self, path: str, data: bytes) -> None:
        if not is_remote(path):
            target = Path(path.removeprefix("file://"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            return
        self.filesystem(path).pipe_file(path, data)

    def list_names(self, folder: str) -> list[str]:
        if not is_remote(folder):
            try:
                return os.listdir(folder.removeprefix("file://"))
            except FileNotFoundError:
                return []
        fs = self.filesystem(folder)
        try:
            return [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False)]
        except FileNotFoundError:
            return []

    def exists(self, path: str) -> bool:
        if not is_remote(path):
            return os.path.exists(path.removeprefix("file://"))
        return self.filesystem(path).exists(path)

    def put(self, source: Path, path: str) -> None:
        """Copy a local file or folder to `path`."""
        if not is_remote(path):
            target = Path(path.removeprefix("file://"))
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                tmp = target.with_name(target.name + ".partial")
                shutil.copyfile(source, tmp)
                os.replace(tmp, target)
            return
        self.filesystem(path).put(str(source), path, recursive=source.is_dir())

    def get(self, path: str, destination: Path) -> None:
        """Copy `path` to a local file or folder."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not is_remote(path):
            source = Path(path.removeprefix("file://"))
            if source.is_dir():
                shutil.copytree(source, destination, dirs_exist_ok=True)
            else:
                shutil.copyfile(source, destination)
            return
        self.filesystem(path).get(path, str(destination), recursive=True)

    def remove(self, path: str) -> None:
        if not is_remote(path):
            target = Path(path.removeprefix("file://"))
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            return
        fs = self.filesystem(path)
        if fs.exists(path):
            fs.rm(path, recursive=True)
