"""Object-store emulators for tests, each in its own child process.

Both emulators listen on 127.0.0.1 only and keep their data in memory:

* :class:`GCSEmulator` -- a small Google Cloud Storage server (JSON + XML API
  subset) for delta-rs / polars (Rust ``object_store``) and gcsfs.
* :class:`S3Emulator` -- moto's ``ThreadedMotoServer`` for delta-rs / polars
  and s3fs.

They run in child processes because some deltalake calls (e.g.
``DeltaTable.history()``) do HTTP while holding the GIL, which deadlocks
against a Python server thread in the same interpreter.

Importing this package, and starting either emulator, calls
:func:`isolate_cloud_env`, which points every cloud metadata lookup at a dead
loopback port so that a misconfigured client fails fast instead of reaching
for 169.254.169.254 or metadata.google.internal.
"""

from __future__ import annotations

import os

#: A loopback address on which nothing listens (the "discard" port); any
#: metadata lookup sent here fails with "connection refused".
DEAD_METADATA_HOST = "127.0.0.1:9"

_ISOLATION_ENV = {
    # google-auth and Rust object_store (GCS instance credentials)
    "GCE_METADATA_HOST": DEAD_METADATA_HOST,
    "GCE_METADATA_ROOT": DEAD_METADATA_HOST,
    "GCE_METADATA_IP": DEAD_METADATA_HOST,
    "NO_GCE_CHECK": "True",
    # boto3 / botocore / aws-sdk-rust / object_store (S3 instance credentials)
    "AWS_EC2_METADATA_DISABLED": "true",
    # gcsfs' experimental zonal/HNS file system talks gRPC+TLS to the endpoint;
    # the emulator speaks plain HTTP. Only effective before gcsfs is imported.
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    # keep grpc's C core from logging failed TLS handshakes to stderr
    "GRPC_VERBOSITY": "ERROR",
}

_LOOPBACK = ("127.0.0.1", "localhost")

# Variables that would make a client pick up real credentials or endpoints.
_REMOVED_ENV = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_PATH",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "GOOGLE_BASE_URL",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


def isolate_cloud_env() -> None:
    """Make cloud SDKs in this process unable to reach any metadata service.

    Sets the metadata host variables to a dead loopback port, disables EC2
    metadata, removes variables that point at real credentials or endpoints,
    adds 127.0.0.1/localhost to ``NO_PROXY`` and turns off gcsfs' experimental
    gRPC file system. The change is process-wide and deliberately not undone
    on ``stop()``.
    """
    os.environ.update(_ISOLATION_ENV)
    for name in _REMOVED_ENV:
        os.environ.pop(name, None)
    # never send loopback traffic through a proxy configured in the environment
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h for h in os.environ.get(name, "").split(",") if h.strip()]
        hosts += [h for h in _LOOPBACK if h not in hosts]
        os.environ[name] = ",".join(hosts)


# Importing the emulators already isolates the process, so that variables read
# once at import time (gcsfs, grpc) are set before those packages load.
isolate_cloud_env()


from .gcs import GCSEmulator  # noqa: E402
from .s3 import S3Emulator  # noqa: E402

__all__ = ["DEAD_METADATA_HOST", "GCSEmulator", "S3Emulator", "isolate_cloud_env"]
