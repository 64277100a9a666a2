"""An S3 emulator for tests: moto's ``ThreadedMotoServer`` on 127.0.0.1.

The moto server runs in a child Python process, which also gives every
emulator its own, empty S3 state (moto keeps state per process).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Any

__all__ = ["S3Emulator"]

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


def _serve_child(port: int) -> None:
    """Entry point of the emulator process: moto on 127.0.0.1 until stdin EOF."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from moto.server import ThreadedMotoServer

    # werkzeug logs every request at INFO level to stderr unless configured
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # werkzeug writes headers and body separately; without TCP_NODELAY each
    # response can wait for the client's delayed ACK (~40 ms)
    MotoRequestHandler.disable_nagle_algorithm = True
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    if host != "127.0.0.1":  # pragma: no cover - defensive
        server.stop()
        raise SystemExit(f"moto bound {host}, expected 127.0.0.1")
    sys.stdout.write(f"{bound}\n")
    sys.stdout.flush()
    os.dup2(2, 1)  # later prints must not fill the (unread) stdout pipe
    try:
        while sys.stdin.buffer.read(1):
            pass
    except KeyboardInterrupt:  # pragma: no cover
        pass
    server.stop()


class S3Emulator:
    """moto S3 server on 127.0.0.1 with an ephemeral port.

    Usage::

        with S3Emulator() as s3:
            s3.create_bucket("bucket")
            write_deltalake("s3://bucket/t", df, storage_options=s3.storage_options("bucket"))
            fs = s3fs.S3FileSystem(**s3.fsspec_options())
    """

    def __init__(self, port: int = 0, *, start_timeout: float = 60.0) -> None:
        self._port = port
        self._start_timeout = start_timeout
        self._proc: Any = None
        self._client: Any = None
        self.endpoint = ""

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> S3Emulator:
        if self._proc is not None:
            return self
        import selectors
        import subprocess

        from . import isolate_cloud_env

        isolate_cloud_env()
        port = self._port  # 0: moto binds an ephemeral port and reports it
        self._proc = subprocess.Popen(
            [sys.executable, "-u", os.path.abspath(__file__), "--port", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            ready = sel.select(timeout=self._start_timeout)
        line = self._proc.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self._terminate()
            raise RuntimeError(f"moto server process did not start (got {line!r})")
        self._port = int(line)
        self.endpoint = f"http://127.0.0.1:{self._port}"
        return self

    def _terminate(self) -> None:
        import subprocess

        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.close()  # the child exits on EOF
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def stop(self) -> None:
        self._client = None
        self._terminate()

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
                config=Config(
                    s3={"addressing_style": "path"}, retries={"max_attempts": 2}
                ),
            )
        return self._client

    def create_bucket(self, name: str) -> None:
        """Create a bucket (no-op if it already exists)."""
        with contextlib.suppress(self.client.exceptions.BucketAlreadyOwnedByYou):
            self.client.create_bucket(Bucket=name)

    def list_objects(self, bucket: str, prefix: str = "") -> list[str]:
        """Keys in ``bucket`` starting with ``prefix`` (sorted)."""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return sorted(keys)

    # -- client options ---------------------------------------------------------

    def storage_options(self, bucket: str | None = None) -> dict[str, str]:
        """Options for ``deltalake`` and ``polars`` (Rust object_store).

        delta-rs 1.x commits a log entry with a create-if-absent put, which
        object_store sends to S3 as ``If-None-Match: *``; moto enforces it
        (412 when the key exists). ``AWS_CONDITIONAL_PUT="etag"`` states that
        mode explicitly (it is also delta-rs 1.6's default), so concurrent
        writers are safe without ``AWS_S3_ALLOW_UNSAFE_RENAME`` or a lock
        table. Both deltalake and polars accept these upper-case keys.
        ``bucket`` is accepted for symmetry; the bucket comes from the URL.
        """
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_CONDITIONAL_PUT": "etag",
        }

    def fsspec_options(self) -> dict[str, Any]:
        """Keyword arguments for ``s3fs.S3FileSystem`` / ``fsspec.filesystem("s3")``."""
        return {
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "endpoint_url": self.endpoint,
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": REGION},
        }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="moto S3 server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    _serve_child(parser.parse_args().port)
