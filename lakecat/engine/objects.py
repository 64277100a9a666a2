"""Bytes in the catalog's storage, through the local file system or fsspec.

Local paths use `os` directly: a file is written under a temporary name and then
linked (create-if-absent) or renamed (replace) into place, so a reader or a crash
never leaves half an object behind. `gs://` and `s3://` go through fsspec with the
catalog's storage options; create-if-absent is the stores' conditional write
(`If-None-Match: *` on S3, `ifGenerationMatch=0` on GCS), which s3fs and gcsfs
send for `open(path, "xb")` and report as `FileExistsError`.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lakecat.engine.errors import StorageError

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
    if (
        opts.get("google_skip_signature", "").lower() == "true"
        or "endpoint_url" in kwargs
    ):
        kwargs["token"] = "anon"
    if "google_service_account_path" in opts:
        kwargs["token"] = opts["google_service_account_path"]
    kwargs.setdefault("project", opts.get("google_project", "lakecat"))
    return kwargs


def _local(path: str) -> str:
    return path.removeprefix("file://")


def _temporary(path: str) -> str:
    """A unique sibling name for writing `path` before it is moved into place."""
    return f"{path}.{uuid.uuid4().hex[:12]}.partial"


class ObjectStore:
    """Read and write whole objects under a catalog root.

    A read-only store raises `StorageError` on every write, before touching storage.
    """

    def __init__(
        self, storage_options: dict[str, str] | None = None, *, read_only: bool = False
    ) -> None:
        self.storage_options = dict(storage_options or {})
        self.read_only = read_only
        self._filesystems: dict[str, Any] = {}

    def _check_writable(self, path: str) -> None:
        if self.read_only:
            msg = f"cannot write {path}: the catalog is open read-only"
            raise StorageError(msg)

    def filesystem(self, path: str):
        scheme = path.split("://", 1)[0]
        protocol = PROTOCOLS.get(scheme)
        if protocol is None:
            msg = f"unsupported storage scheme `{scheme}://`; use a local path, gs:// or s3://"
            raise ValueError(msg)
        if protocol not in self._filesystems:
            import fsspec

            options = fsspec_options(protocol, self.storage_options)
            # listings must be fresh: claims and catalog markers are found by listing
            options.setdefault("use_listings_cache", False)
            self._filesystems[protocol] = fsspec.filesystem(protocol, **options)
        return self._filesystems[protocol]

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Write `data` to `path` unless it exists; return whether we wrote it.

        Atomic: of several concurrent callers exactly one gets `True`, and the
        object is never seen without all of `data`.
        """
        return self._exclusive(path, lambda handle: handle.write(data))

    def read_bytes(self, path: str) -> bytes:
        if not is_remote(path):
            return Path(_local(path)).read_bytes()
        return self.filesystem(path).cat_file(path)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write (or replace) a whole object; readers see the old or the new bytes."""
        self._check_writable(path)
        try:
            if not is_remote(path):
                target = _local(path)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                temporary = _temporary(target)
                Path(temporary).write_bytes(data)
                os.replace(temporary, target)
                return
            self.filesystem(path).pipe_file(path, data)
        except OSError as error:
            raise _write_error(path, error) from error

    def modified(self, path: str) -> datetime:
        """When the object was last written, as the store reports it (UTC)."""
        if not is_remote(path):
            ns = os.stat(_local(path)).st_mtime_ns
            return datetime.fromtimestamp(ns // 1000 / 1e6, timezone.utc)
        info = self.filesystem(path).info(path)
        value = info.get("LastModified") or info.get("updated") or info.get("mtime")
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if isinstance(value, (int, float)):
            value = datetime.fromtimestamp(value, timezone.utc)
        if value is None:
            msg = f"the store reports no modification time for {path}"
            raise StorageError(msg)
        return value.astimezone(timezone.utc)

    def list_names(self, folder: str) -> list[str]:
        if not is_remote(folder):
            try:
                return os.listdir(_local(folder))
            except FileNotFoundError:
                return []
        fs = self.filesystem(folder)
        try:
            return [
                p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False)
            ]
        except FileNotFoundError:
            return []

    def exists(self, path: str) -> bool:
        if not is_remote(path):
            return os.path.exists(_local(path))
        return self.filesystem(path).exists(path)

    def put(self, source: Path, path: str) -> None:
        """Copy a local file or folder to `path`; a file appears whole or not at all."""
        self._check_writable(path)
        try:
            if not is_remote(path):
                target = Path(_local(path))
                target.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, target, dirs_exist_ok=True)
                else:
                    temporary = _temporary(str(target))
                    shutil.copyfile(source, temporary)
                    os.replace(temporary, target)
                return
            self.filesystem(path).put(str(source), path, recursive=source.is_dir())
        except OSError as error:
            raise _write_error(path, error) from error

    def put_exclusive(self, source: Path, path: str) -> bool:
        """Copy a local file or folder to `path` unless it exists; whether we did.

        A file is created whole with create-if-absent; a folder is claimed first
        (`mkdir` locally, a `<path>.claim` marker object remotely) and then copied.
        """
        if not source.is_dir():

            def copy(handle) -> None:
                with open(source, "rb") as data:
                    shutil.copyfileobj(data, handle, length=8 * 2**20)

            return self._exclusive(path, copy)
        self._check_writable(path)
        try:
            if is_remote(path):
                if not self.create_exclusive(f"{path}.claim", b""):
                    return False
                self.filesystem(path).put(str(source), path, recursive=True)
                return True
            target = _local(path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                os.mkdir(target)
            except FileExistsError:
                return False
            shutil.copytree(source, target, dirs_exist_ok=True)
            return True
        except StorageError:
            raise
        except OSError as error:
            raise _write_error(path, error) from error

    def _exclusive(self, path: str, write: Callable[[Any], object]) -> bool:
        """Create `path` with what `write(handle)` writes, unless it exists.

        Locally the bytes go to a temporary file that `os.link` then names: the
        link fails if `path` exists, and the name appears with the full content.
        Remotely `open(path, "xb")` makes the upload conditional.
        """
        self._check_writable(path)
        try:
            if is_remote(path):
                try:
                    with self.filesystem(path).open(path, "xb") as handle:
                        write(handle)
                except FileExistsError:
                    return False
                return True
            target = _local(path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            temporary = _temporary(target)
            with open(temporary, "wb") as handle:
                write(handle)
            try:
                os.link(temporary, target)
            except FileExistsError:
                return False
            finally:
                os.unlink(temporary)
            return True
        except StorageError:
            raise
        except OSError as error:
            raise _write_error(path, error) from error

    def get(self, path: str, destination: Path) -> None:
        """Copy `path` to a local file or folder."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not is_remote(path):
            source = Path(_local(path))
            if source.is_dir():
                shutil.copytree(source, destination, dirs_exist_ok=True)
            else:
                shutil.copyfile(source, destination)
            return
        self.filesystem(path).get(path, str(destination), recursive=True)

    def remove(self, path: str) -> None:
        self._check_writable(path)
        if not is_remote(path):
            target = Path(_local(path))
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            return
        fs = self.filesystem(path)
        if fs.exists(path):
            fs.rm(path, recursive=True)


def _write_error(path: str, error: OSError) -> StorageError:
    if isinstance(error, PermissionError):
        reason = "the storage is read-only or not writable for this user"
    else:
        reason = str(error) or type(error).__name__
    msg = f"cannot write {path}: {reason}"
    return StorageError(msg)
