"""An S3 emulator for tests: moto's ``ThreadedMotoServer`` on 127.0.0.1.

moto keeps its state per process, so all S3Emulator instances running at the
same time share one S3 namespace; each emulator removes the buckets it
created when it stops.
"""

from __future__ import annotations

import socket
from typing import Any

__all__ = ["S3Emulator"]

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Emulator:
    """moto S3 server on 127.0.0.1 with an ephemeral port.

    Usage::

        with S3Emulator() as s3:
            s3.create_bucket("bucket")
            write_deltalake("s3://bucket/t", df, storage_options=s3.storage_options("bucket"))
            fs = s3fs.S3FileSystem(**s3.fsspec_options())
    """

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._server: Any = None
        self._client: Any = None
        self._created: list[str] = []
        self.endpoint = ""

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> S3Emulator:
        if self._server is not None:
            return self
        from . import isolate_cloud_env

        isolate_cloud_env()
        from moto.server import ThreadedMotoServer

        port = self._port or _free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        host, self._port = self._server.get_host_and_port()
        assert host == "127.0.0.1", host
        self.endpoint = f"http://127.0.0.1:{self._port}"
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._forget_buckets()
        self._server.stop()
        self._server = None
        self._client = None

    def __enter__(self) -> S3Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    # -- data helpers -----------------------------------------------------------

    @property
    def client(self) -> Any:
        """A boto3 S3 client bound to this emulator (explicit credentials)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint,
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
                region_name=REGION,
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
            )
        return self._client

    def create_bucket(self, name: str) -> None:
        """Create a bucket (no-op if this emulator already created it)."""
        if name in self._created:
            return
        self.client.create_bucket(Bucket=name)
        self._created.append(name)

    def list_objects(self, bucket: str, prefix: str = "") -> list[str]:
        """Keys in ``bucket`` starting with ``prefix`` (sorted)."""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return sorted(keys)

    def _forget_buckets(self) -> None:
        """Drop the buckets this emulator created from moto's in-process state."""
        try:
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.s3.models import s3_backends

            backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
            for name in self._created:
                backend.buckets.pop(name, None)
        except Exception:  # pragma: no cover - moto internals moved
            pass
        self._created.clear()

    # -- client options ---------------------------------------------------------

    def storage_options(self, bucket: str | None = None) -> dict[str, str]:
        """Options for ``deltalake`` and ``polars`` (Rust object_store).

        ``aws_conditional_put="etag"`` makes object_store send
        ``If-None-Match: *`` for create-if-absent writes, which moto enforces
        (412 when the key exists); delta-rs 1.x commits with it, so concurrent
        writers are safe without ``AWS_S3_ALLOW_UNSAFE_RENAME`` or a lock table.
        ``bucket`` is accepted for symmetry; the bucket comes from the URL.
        """
        return {
            "aws_endpoint_url": self.endpoint,
            "aws_allow_http": "true",
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
            "aws_region": REGION,
            "aws_conditional_put": "etag",
        }

    def fsspec_options(self) -> dict[str, Any]:
        """Keyword arguments for ``s3fs.S3FileSystem`` / ``fsspec.filesystem("s3")``."""
        return {
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "endpoint_url": self.endpoint,
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": REGION},
        }
