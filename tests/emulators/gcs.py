"""A small in-memory Google Cloud Storage emulator for tests.

:class:`GCSEmulator` runs a threaded stdlib HTTP server on 127.0.0.1
(ephemeral port) in a child Python process (this file run as a script) and
implements the part of the GCS JSON and XML APIs used by

* Rust ``object_store`` (delta-rs, polars): XML API object PUT/GET/HEAD/DELETE
  with ranges and ``x-goog-if-generation-match``, ``x-goog-copy-source`` copies,
  XML multipart uploads and ``GET /{bucket}?list-type=2`` listings;
* gcsfs: JSON API metadata, listing, media/multipart/resumable uploads,
  ``alt=media`` downloads, delete, patch, rewrite, compose, moveTo and buckets.

Anything else is answered with ``501 Not Implemented`` and recorded in
:attr:`GCSEmulator.unhandled` as ``"METHOD /path?query"``.

Objects are not versioned: only the live generation of each object is kept.
The parent process talks to the child through a small control API under
``/_emulator/`` (buckets, direct object access, request log, and
:meth:`GCSEmulator.rendezvous_writes` to make concurrent writers race).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import email.utils
import hashlib
import json
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape as xml_escape

__all__ = ["GCSEmulator", "RequestRecord"]

PROJECT = "test"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_LIST_RESULTS = 1000
#: path prefix of the emulator's own control API (bucket names cannot start with "_")
CONTROL_PREFIX = "/_emulator/"
XML_NS = "http://doc.s3.amazonaws.com/2006-03-01"


# ---------------------------------------------------------------------------
# checksums and time formats


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def _crc32c(data: bytes) -> int:
    try:  # fast path: google-crc32c is installed with gcsfs
        import google_crc32c

        return google_crc32c.value(bytes(data))
    except Exception:  # pragma: no cover - fallback
        crc = 0xFFFFFFFF
        table = _CRC32C_TABLE
        for b in data:
            crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF


def _rfc3339(ts: float) -> str:
    ms = round((ts - int(ts)) * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{ms:03d}Z"


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


# ---------------------------------------------------------------------------
# data model


@dataclass
class _Object:
    bucket: str
    name: str
    data: bytes
    generation: int
    content_type: str = DEFAULT_CONTENT_TYPE
    metadata: dict[str, str] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)  # cacheControl, ...
    metageneration: int = 1
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    component_count: int | None = None
    _md5: bytes | None = None
    _crc: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def md5(self) -> bytes:
        if self._md5 is None:
            self._md5 = hashlib.md5(self.data).digest()
        return self._md5

    @property
    def crc32c(self) -> int:
        if self._crc is None:
            self._crc = _crc32c(self.data)
        return self._crc

    @property
    def etag(self) -> str:
        """XML API ETag (quoted), as GCS: the MD5 for non-composite objects."""
        if self.component_count is not None:
            return f'"{self.md5.hex()}-{self.component_count}"'
        return f'"{self.md5.hex()}"'

    def resource(self, endpoint: str) -> dict[str, Any]:
        """JSON API object resource."""
        qname = quote(self.name, safe="")
        res: dict[str, Any] = {
            "kind": "storage#object",
            "id": f"{self.bucket}/{self.name}/{self.generation}",
            "selfLink": f"{endpoint}/storage/v1/b/{self.bucket}/o/{qname}",
            "mediaLink": (
                f"{endpoint}/download/storage/v1/b/{self.bucket}/o/{qname}"
                f"?generation={self.generation}&alt=media"
            ),
            "name": self.name,
            "bucket": self.bucket,
            "generation": str(self.generation),
            "metageneration": str(self.metageneration),
            "contentType": self.content_type,
            "storageClass": "STANDARD",
            "size": str(self.size),
            "md5Hash": base64.b64encode(self.md5).decode(),
            "crc32c": base64.b64encode(self.crc32c.to_bytes(4, "big")).decode(),
            "etag": base64.b64encode(
                hashlib.md5(
                    f"{self.generation}/{self.metageneration}".encode()
                ).digest()
            ).decode(),
            "timeCreated": _rfc3339(self.created),
            "updated": _rfc3339(self.updated),
            "timeStorageClassUpdated": _rfc3339(self.created),
        }
        if self.component_count is not None:
            res["componentCount"] = self.component_count
            res.pop("md5Hash")
        if self.metadata:
            res["metadata"] = dict(self.metadata)
        res.update(self.fixed)
        return res


@dataclass
class _Bucket:
    name: str
    created: float = field(default_factory=time.time)
    objects: dict[str, _Object] = field(default_factory=dict)

    def resource(self, endpoint: str) -> dict[str, Any]:
        return {
            "kind": "storage#bucket",
            "id": self.name,
            "selfLink": f"{endpoint}/storage/v1/b/{self.name}",
            "name": self.name,
            "projectNumber": "0",
            "metageneration": "1",
            "location": "US",
            "locationType": "multi-region",
            "storageClass": "STANDARD",
            "etag": "CAE=",
            "timeCreated": _rfc3339(self.created),
            "updated": _rfc3339(self.created),
            "iamConfiguration": {
                "uniformBucketLevelAccess": {"enabled": True},
            },
        }


@dataclass
class _ResumableUpload:
    bucket: str
    name: str
    content_type: str
    metadata: dict[str, str]
    fixed: dict[str, str]
    preconditions: dict[str, str]
    buffer: bytearray = field(default_factory=bytearray)


@dataclass
class _MultipartUpload:
    bucket: str
    name: str
    content_type: str
    metadata: dict[str, str]
    preconditions: dict[str, str]
    parts: dict[int, tuple[str, bytes]] = field(default_factory=dict)


class RequestRecord(NamedTuple):
    """One request seen by the emulator."""

    method: str
    path: str
    status: int
    #: value of ``x-goog-if-generation-match`` / ``ifGenerationMatch``, if sent
    if_generation_match: str | None


class _HTTPError(Exception):
    def __init__(self, status: int, code: str, message: str, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


_FIXED_KEYS = (
    "cacheControl",
    "contentDisposition",
    "contentEncoding",
    "contentLanguage",
    "customTime",
)

_FIXED_HEADERS = {
    "cache-control": "cacheControl",
    "content-disposition": "contentDisposition",
    "content-encoding": "contentEncoding",
    "content-language": "contentLanguage",
}


def _glob_to_regex(glob: str) -> re.Pattern[str]:
    """Translate a GCS ``matchGlob`` pattern (``**``, ``*``, ``?``, ``[..]``, ``{a,b}``)."""
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = glob.find("]", i)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j
        elif c == "{":
            j = glob.find("}", i)
            if j == -1:
                out.append(re.escape(c))
            else:
                alts = glob[i + 1 : j].split(",")
                out.append("(?:" + "|".join(re.escape(a) for a in alts) + ")")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.S)


# ---------------------------------------------------------------------------
# storage backend


class _Store:
    """All emulator state, guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.buckets: dict[str, _Bucket] = {}
        self.resumable: dict[str, _ResumableUpload] = {}
        self.multipart: dict[str, _MultipartUpload] = {}
        self._last_generation = 0

    def next_generation(self) -> int:
        # GCS generations are microsecond timestamps; keep them strictly increasing.
        gen = max(self._last_generation + 1, time.time_ns() // 1000)
        self._last_generation = gen
        return gen

    def bucket(self, name: str) -> _Bucket:
        try:
            return self.buckets[name]
        except KeyError:
            raise _HTTPError(
                404, "NoSuchBucket", f"The specified bucket does not exist: {name}"
            ) from None

    def get(self, bucket: str, name: str) -> _Object:
        obj = self.bucket(bucket).objects.get(name)
        if obj is None:
            raise _HTTPError(404, "NoSuchKey", f"No such object: {bucket}/{name}")
        return obj

    @staticmethod
    def check_preconditions(obj: _Object | None, pre: dict[str, str]) -> None:
        """Apply ifGenerationMatch & co. (values are strings, possibly absent)."""

        def fail(what: str) -> None:
            raise _HTTPError(
                412,
                "PreconditionFailed",
                f"At least one of the pre-conditions you specified did not hold: {what}",
            )

        gen = obj.generation if obj is not None else 0
        mgen = obj.metageneration if obj is not None else 0
        if (v := pre.get("ifGenerationMatch")) is not None and int(v) != gen:
            fail("ifGenerationMatch")
        if (v := pre.get("ifGenerationNotMatch")) is not None and int(v) == gen:
            fail("ifGenerationNotMatch")
        v = pre.get("ifMetagenerationMatch")
        if v is not None and (obj is None or int(v) != mgen):
            fail("ifMetagenerationMatch")
        v = pre.get("ifMetagenerationNotMatch")
        if v is not None and obj is not None and int(v) == mgen:
            fail("ifMetagenerationNotMatch")

    def put(
        self,
        bucket: str,
        name: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        fixed: dict[str, str] | None = None,
        preconditions: dict[str, str] | None = None,
        component_count: int | None = None,
    ) -> _Object:
        if not name:
            raise _HTTPError(400, "InvalidArgument", "Object name must not be empty")
        with self.lock:
            b = self.bucket(bucket)
            existing = b.objects.get(name)
            self.check_preconditions(existing, preconditions or {})
            now = time.time()
            obj = _Object(
                bucket=bucket,
                name=name,
                data=bytes(data),
                generation=self.next_generation(),
                content_type=content_type or DEFAULT_CONTENT_TYPE,
                metadata=dict(metadata or {}),
                fixed=dict(fixed or {}),
                created=now,
                updated=now,
                component_count=component_count,
            )
            b.objects[name] = obj
            return obj

    def delete(self, bucket: str, name: str, preconditions: dict[str, str]) -> None:
        with self.lock:
            obj = self.get(bucket, name)
            self.check_preconditions(obj, preconditions)
            del self.buckets[bucket].objects[name]

    def list(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start_after: str | None = None,
        start_offset: str | None = None,
        end_offset: str | None = None,
        token: str | None = None,
        max_results: int = MAX_LIST_RESULTS,
        match_glob: str | None = None,
        include_trailing_delimiter: bool = False,
    ) -> tuple[list[_Object], list[str], str | None]:
        """Return (objects, prefixes, next_token); entries sorted by name."""
        with self.lock:
            objs = sorted(self.bucket(bucket).objects.values(), key=lambda o: o.name)
        pattern = _glob_to_regex(match_glob) if match_glob else None
        entries: list[tuple[str, _Object | None]] = []
        seen_prefixes: set[str] = set()
        for o in objs:
            n = o.name
            if not n.startswith(prefix):
                continue
            if start_after is not None and n <= start_after:
                continue
            if start_offset is not None and n < start_offset:
                continue
            if end_offset is not None and n >= end_offset:
                continue
            if pattern is not None and not pattern.match(n):
                continue
            if delimiter:
                rest = n[len(prefix) :]
                idx = rest.find(delimiter)
                if idx != -1:
                    p = prefix + rest[: idx + len(delimiter)]
                    if p not in seen_prefixes:
                        seen_prefixes.add(p)
                        entries.append((p, None))
                    if not (include_trailing_delimiter and p == n):
                        continue
            entries.append((n, o))
        entries.sort(key=lambda e: (e[0], e[1] is not None))
        if token is not None:
            entries = [e for e in entries if e[0] > token]
        max_results = max(1, min(max_results, MAX_LIST_RESULTS))
        page, rest_entries = entries[:max_results], entries[max_results:]
        next_token = page[-1][0] if rest_entries else None
        items = [o for _, o in page if o is not None]
        prefixes = [p for p, o in page if o is None]
        return items, prefixes, next_token


def _encode_token(name: str | None) -> str | None:
    if name is None:
        return None
    return base64.urlsafe_b64encode(name.encode()).decode()


def _decode_token(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except Exception:
        raise _HTTPError(400, "InvalidArgument", "Invalid page token") from None


# ---------------------------------------------------------------------------
# HTTP handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes
    server_version = "lakecat-gcs-emulator"
    sys_version = ""

    # set on the subclass created per server
    state: _ServerState

    # -- plumbing ---------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are recorded in GCSEmulator.requests instead

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._status = status
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if status in (204, 304):
            body = b""  # these responses have no body and no Content-Length
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _send_json(self, status: int, obj: Any, headers=None) -> None:
        self._send(
            status,
            json.dumps(obj).encode(),
            content_type="application/json; charset=UTF-8",
            headers=headers,
        )

    def _send_xml(self, status: int, xml: str, headers=None) -> None:
        self._send(
            status,
            ('<?xml version="1.0" encoding="UTF-8"?>' + xml).encode(),
            content_type="application/xml; charset=UTF-8",
            headers=headers,
        )

    def _send_error(self, err: _HTTPError, api: str) -> None:
        if err.status == 304:
            self._send(304, headers=err.headers)
        elif api == "json":
            self._send_json(
                err.status,
                {
                    "error": {
                        "code": err.status,
                        "message": err.message,
                        "errors": [
                            {
                                "message": err.message,
                                "domain": "global",
                                "reason": err.code,
                            }
                        ],
                    }
                },
                headers=err.headers,
            )
        else:
            self._send_xml(
                err.status,
                f"<Error><Code>{xml_escape(err.code)}</Code>"
                f"<Message>{xml_escape(err.message)}</Message></Error>",
                headers=err.headers,
            )

    def _dispatch(self) -> None:
        emu = self.state
        self._status = 0
        split = urlsplit(self.path)
        raw_path = split.path
        query = {
            k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()
        }
        api = (
            "json"
            if raw_path.startswith(("/storage/", "/upload/", "/download/", "/batch/"))
            else "xml"
        )
        if raw_path.startswith(CONTROL_PREFIX):
            self._control(raw_path[len(CONTROL_PREFIX) :], query)
            return
        body = b""
        try:
            body = self._read_body()
            if api == "json":
                handled = self._route_json(raw_path, query, body)
            else:
                handled = self._route_xml(raw_path, query, body)
            if not handled:
                emu._record_unhandled(self.command, self.path)
                raise _HTTPError(
                    501,
                    "NotImplemented",
                    f"GCS emulator does not implement {self.command} {self.path}",
                )
        except _HTTPError as err:
            self._send_error(err, api)
        except ConnectionError:
            # the client went away (e.g. gcsfs cancels one of two concurrent
            # lookups); nothing to answer
            self.close_connection = True
        except Exception as exc:  # pragma: no cover - emulator bug
            emu._record_error(self.command, self.path, exc)
            self._send_error(_HTTPError(500, "InternalError", repr(exc)), api)
        finally:
            pre = self.headers.get("x-goog-if-generation-match")
            if pre is None:
                pre = query.get("ifGenerationMatch")
            emu._record_request(
                RequestRecord(self.command, self.path, self._status, pre)
            )

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

    # -- control API (used by GCSEmulator in the parent process) -------------

    def _control(self, path: str, query: dict[str, str]) -> None:
        state = self.state
        store = state.store
        m = self.command
        segs = [unquote(p) for p in path.split("/")] if path else []
        try:
            body = self._read_body()
            if m == "GET" and segs == ["state"]:
                with state.log_lock:
                    out = {
                        "unhandled": list(state.unhandled),
                        "errors": list(state.errors),
                        "requests": [list(r) for r in state.requests],
                        "rendezvous_armed": len(state.rendezvous),
                    }
                self._send_json(200, out)
            elif m == "POST" and segs == ["rendezvous"]:
                req = json.loads(body or b"{}")
                rv = _Rendezvous(
                    req["pattern"],
                    int(req.get("count", 2)),
                    float(req.get("timeout", 10)),
                )
                with state.log_lock:
                    state.rendezvous.append(rv)
                self._send(204)
            elif m == "POST" and segs == ["reset-log"]:
                with state.log_lock:
                    state.unhandled.clear()
                    state.errors.clear()
                    state.requests.clear()
                self._send(204)
            elif m == "GET" and segs == ["buckets"]:
                with store.lock:
                    self._send_json(200, sorted(store.buckets))
            elif m == "POST" and len(segs) == 2 and segs[0] == "buckets":
                with store.lock:
                    store.buckets.setdefault(segs[1], _Bucket(segs[1]))
                self._send(204)
            elif m == "GET" and len(segs) == 2 and segs[0] == "objects":
                prefix = query.get("prefix", "")
                with store.lock:
                    names = sorted(
                        n for n in store.bucket(segs[1]).objects if n.startswith(prefix)
                    )
                self._send_json(200, names)
            elif len(segs) >= 3 and segs[0] == "object":
                bucket, name = segs[1], "/".join(segs[2:])
                if m == "GET":
                    with store.lock:
                        obj = store.get(bucket, name)
                    self._send(
                        200,
                        obj.data,
                        headers={"x-goog-generation": str(obj.generation)},
                    )
                elif m == "PUT":
                    obj = store.put(bucket, name, body)
                    self._send_json(200, {"generation": obj.generation})
                else:
                    raise _HTTPError(405, "MethodNotAllowed", m)
            else:
                raise _HTTPError(404, "NotFound", f"no control endpoint {m} {path}")
        except _HTTPError as err:
            self._send_error(err, "json")

    # -- helpers ------------------------------------------------------------

    @property
    def store(self) -> _Store:
        return self.state.store

    def _put(self, bucket: str, name: str, data: bytes, **kwargs: Any) -> _Object:
        """Store an object written by a client, honouring an armed rendezvous."""
        rv = self.state.claim_rendezvous(bucket, name)
        if rv is None:
            return self.store.put(bucket, name, data, **kwargs)
        ticket = rv.arrive()
        try:
            return self.store.put(bucket, name, data, **kwargs)
        finally:
            rv.done(ticket)

    def _json_body(self, body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        try:
            return json.loads(body)
        except ValueError:
            raise _HTTPError(
                400, "InvalidArgument", "Request body is not JSON"
            ) from None

    @staticmethod
    def _preconditions(query: dict[str, str]) -> dict[str, str]:
        keys = (
            "ifGenerationMatch",
            "ifGenerationNotMatch",
            "ifMetagenerationMatch",
            "ifMetagenerationNotMatch",
        )
        return {k: query[k] for k in keys if query.get(k) not in (None, "")}

    def _xml_preconditions(self) -> dict[str, str]:
        pre = {}
        for header, key in (
            ("x-goog-if-generation-match", "ifGenerationMatch"),
            ("x-goog-if-metageneration-match", "ifMetagenerationMatch"),
        ):
            if (v := self.headers.get(header)) is not None:
                pre[key] = v.strip()
        return pre

    def _xml_metadata(self) -> tuple[str, dict[str, str], dict[str, str]]:
        ctype = self.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE
        meta = {}
        fixed = {}
        for k, v in self.headers.items():
            lk = k.lower()
            if lk.startswith("x-goog-meta-"):
                meta[lk[len("x-goog-meta-") :]] = v
            elif lk in _FIXED_HEADERS:
                fixed[_FIXED_HEADERS[lk]] = v
        return ctype, meta, fixed

    def _check_get_conditions(self, obj: _Object) -> None:
        h = self.headers
        if (v := h.get("If-Match")) is not None and v.strip() not in ("*", obj.etag):
            raise _HTTPError(412, "PreconditionFailed", "If-Match")
        if (v := h.get("x-goog-if-generation-match")) is not None and int(
            v
        ) != obj.generation:
            raise _HTTPError(412, "PreconditionFailed", "x-goog-if-generation-match")
        if (v := h.get("If-Unmodified-Since")) is not None:
            t = email.utils.parsedate_to_datetime(v).timestamp()
            if int(obj.updated) > t:
                raise _HTTPError(412, "PreconditionFailed", "If-Unmodified-Since")
        not_modified = {"ETag": obj.etag, "Last-Modified": _http_date(obj.updated)}
        if (v := h.get("If-None-Match")) is not None:
            if v.strip() in ("*", obj.etag):
                raise _HTTPError(304, "NotModified", "If-None-Match", not_modified)
        elif (v := h.get("If-Modified-Since")) is not None:
            t = email.utils.parsedate_to_datetime(v).timestamp()
            if int(obj.updated) <= t:
                raise _HTTPError(304, "NotModified", "If-Modified-Since", not_modified)

    def _parse_range(self, size: int) -> tuple[int, int] | None:
        """Return inclusive (start, end) for a Range header, None for whole object."""
        header = self.headers.get("Range")
        if not header:
            return None
        m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
        if not m or (m.group(1) == "" and m.group(2) == ""):
            return None  # ignore unsupported forms (multi-range), like GCS
        first, last = m.group(1), m.group(2)
        if first == "":
            n = int(last)
            if n == 0:
                raise self._unsatisfiable(size)
            start, end = max(0, size - n), size - 1
        else:
            start = int(first)
            end = size - 1 if last == "" else min(int(last), size - 1)
            if start >= size or start > end:
                raise self._unsatisfiable(size)
        if size == 0:
            raise self._unsatisfiable(size)
        return start, end

    @staticmethod
    def _unsatisfiable(size: int) -> _HTTPError:
        return _HTTPError(
            416,
            "InvalidRange",
            "The requested range cannot be satisfied.",
            {"Content-Range": f"bytes */{size}"},
        )

    def _send_media(self, obj: _Object, extra: dict[str, str] | None = None) -> None:
        """Send object bytes (GET) or only its headers (HEAD), honouring Range."""
        self._check_get_conditions(obj)
        headers = {
            "ETag": obj.etag,
            "Last-Modified": _http_date(obj.updated),
            "x-goog-generation": str(obj.generation),
            "x-goog-metageneration": str(obj.metageneration),
            "x-goog-stored-content-length": str(obj.size),
            "x-goog-hash": (
                f"crc32c={base64.b64encode(obj.crc32c.to_bytes(4, 'big')).decode()},"
                f"md5={base64.b64encode(obj.md5).decode()}"
            ),
            "x-goog-storage-class": "STANDARD",
            "Accept-Ranges": "bytes",
        }
        for k, v in obj.metadata.items():
            headers[f"x-goog-meta-{k}"] = v
        for header, key in _FIXED_HEADERS.items():
            if key in obj.fixed:
                headers[header.title()] = obj.fixed[key]
        headers.update(extra or {})
        rng = self._parse_range(obj.size)
        if rng is None:
            self._send(200, obj.data, content_type=obj.content_type, headers=headers)
            return
        start, end = rng
        headers["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
        self._send(
            206,
            obj.data[start : end + 1],
            content_type=obj.content_type,
            headers=headers,
        )

    # -- JSON API -------------------------------------------------------------

    def _route_json(self, raw_path: str, query: dict[str, str], body: bytes) -> bool:
        m = self.command
        endpoint = self.state.endpoint
        store = self.store

        if raw_path.startswith("/upload/storage/v1/b/"):
            segs = raw_path[len("/upload/storage/v1/b/") :].split("/")
            if len(segs) == 2 and segs[1] == "o":
                bucket = unquote(segs[0])
                if m == "POST" and "upload_id" not in query:
                    return self._json_upload_start(bucket, query, body)
                if m in ("PUT", "POST") and "upload_id" in query:
                    return self._json_upload_chunk(query["upload_id"], body)
                if m == "DELETE" and "upload_id" in query:
                    with store.lock:
                        store.resumable.pop(query["upload_id"], None)
                    self._send(499)
                    return True
            return False

        if raw_path.startswith("/download/storage/v1/b/"):
            segs = raw_path[len("/download/storage/v1/b/") :].split("/", 2)
            if len(segs) == 3 and segs[1] == "o" and m in ("GET", "HEAD"):
                obj = self._json_get_object(unquote(segs[0]), unquote(segs[2]), query)
                self._send_media(obj)
                return True
            return False

        if not raw_path.startswith("/storage/v1/"):
            return False
        rest = raw_path[len("/storage/v1/") :].rstrip("/")
        segs = rest.split("/")
        if segs[0] != "b":
            return False

        # buckets
        if len(segs) == 1:
            if m == "GET":
                with store.lock:
                    items = [
                        b.resource(endpoint) for _, b in sorted(store.buckets.items())
                    ]
                self._send_json(200, {"kind": "storage#buckets", "items": items})
                return True
            if m == "POST":
                name = self._json_body(body).get("name")
                if not name:
                    raise _HTTPError(400, "InvalidArgument", "Bucket name is required")
                with store.lock:
                    if name in store.buckets:
                        raise _HTTPError(
                            409, "conflict", f"Bucket {name} already exists"
                        )
                    store.buckets[name] = _Bucket(name)
                    res = store.buckets[name].resource(endpoint)
                self._send_json(200, res)
                return True
            return False

        bucket = unquote(segs[1])
        if len(segs) == 2:
            if m == "GET":
                with store.lock:
                    res = store.bucket(bucket).resource(endpoint)
                self._send_json(200, res)
                return True
            if m == "DELETE":
                with store.lock:
                    b = store.bucket(bucket)
                    if b.objects:
                        raise _HTTPError(
                            409, "conflict", f"Bucket {bucket} is not empty"
                        )
                    del store.buckets[bucket]
                self._send(204)
                return True
            return False

        if segs[2] != "o":
            return False

        # object listing
        if len(segs) == 3:
            if m == "GET":
                return self._json_list(bucket, query)
            return False

        # object operations; names are %2F-encoded, but accept literal slashes
        obj_raw = "/".join(segs[3:])
        if m == "POST" and obj_raw.endswith("/compose"):
            return self._json_compose(
                bucket, unquote(obj_raw[: -len("/compose")]), query, body
            )
        mm = re.fullmatch(r"(.+)/rewriteTo/b/([^/]+)/o/(.+)", obj_raw)
        if m == "POST" and mm:
            return self._json_copy(
                bucket,
                unquote(mm.group(1)),
                unquote(mm.group(2)),
                unquote(mm.group(3)),
                query,
                body,
                rewrite=True,
            )
        mm = re.fullmatch(r"(.+)/copyTo/b/([^/]+)/o/(.+)", obj_raw)
        if m == "POST" and mm:
            return self._json_copy(
                bucket,
                unquote(mm.group(1)),
                unquote(mm.group(2)),
                unquote(mm.group(3)),
                query,
                body,
                rewrite=False,
            )
        mm = re.fullmatch(r"(.+)/moveTo/o/(.+)", obj_raw)
        if m == "POST" and mm:
            return self._json_move(
                bucket, unquote(mm.group(1)), unquote(mm.group(2)), query
            )

        name = unquote(obj_raw)
        if m in ("GET", "HEAD"):
            obj = self._json_get_object(bucket, name, query)
            if query.get("alt") == "media":
                self._send_media(obj)
            else:
                self._send_json(200, obj.resource(endpoint))
            return True
        if m == "DELETE":
            pre = self._preconditions(query)
            if query.get("generation"):
                self._json_get_object(bucket, name, query)  # 404 on a stale generation
            store.delete(bucket, name, pre)
            self._send(204)
            return True
        if m in ("PATCH", "PUT"):
            return self._json_patch(bucket, name, query, body)
        return False

    def _json_get_object(
        self, bucket: str, name: str, query: dict[str, str]
    ) -> _Object:
        with self.store.lock:
            obj = self.store.get(bucket, name)
            if query.get("generation") and int(query["generation"]) != obj.generation:
                raise _HTTPError(
                    404,
                    "NoSuchKey",
                    f"No such object: {bucket}/{name}#{query['generation']}",
                )
            self.store.check_preconditions(obj, self._preconditions(query))
            return obj

    def _json_list(self, bucket: str, query: dict[str, str]) -> bool:
        unsupported = {"versions": "true"}
        for k, v in unsupported.items():
            if query.get(k) == v:
                return False
        items, prefixes, next_name = self.store.list(
            bucket,
            prefix=query.get("prefix", ""),
            delimiter=query.get("delimiter", ""),
            start_offset=query.get("startOffset") or None,
            end_offset=query.get("endOffset") or None,
            token=_decode_token(query.get("pageToken")),
            max_results=int(query.get("maxResults") or MAX_LIST_RESULTS),
            match_glob=query.get("matchGlob") or None,
            include_trailing_delimiter=query.get("includeTrailingDelimiter") == "true",
        )
        out: dict[str, Any] = {"kind": "storage#objects"}
        if items:
            out["items"] = [o.resource(self.state.endpoint) for o in items]
        if prefixes:
            out["prefixes"] = prefixes
        if next_name is not None:
            out["nextPageToken"] = _encode_token(next_name)
        self._send_json(200, out)
        return True

    @staticmethod
    def _split_json_metadata(
        meta: dict[str, Any],
    ) -> tuple[str | None, dict[str, str], dict[str, str]]:
        ctype = meta.get("contentType")
        user = {
            k: str(v) for k, v in (meta.get("metadata") or {}).items() if v is not None
        }
        fixed = {k: meta[k] for k in _FIXED_KEYS if meta.get(k) is not None}
        return ctype, user, fixed

    def _json_upload_start(
        self, bucket: str, query: dict[str, str], body: bytes
    ) -> bool:
        store = self.store
        upload_type = query.get("uploadType", "media")
        pre = self._preconditions(query)
        if upload_type == "media":
            name = query.get("name")
            if not name:
                raise _HTTPError(400, "InvalidArgument", "name is required")
            obj = self._put(
                bucket,
                name,
                body,
                content_type=self.headers.get("Content-Type"),
                preconditions=pre,
            )
            self._send_json(200, obj.resource(self.state.endpoint))
            return True
        if upload_type == "multipart":
            meta, data, data_type = self._parse_multipart_related(body)
            name = meta.get("name") or query.get("name")
            if not name:
                raise _HTTPError(400, "InvalidArgument", "name is required")
            ctype, user, fixed = self._split_json_metadata(meta)
            obj = self._put(
                bucket,
                name,
                data,
                content_type=ctype or data_type,
                metadata=user,
                fixed=fixed,
                preconditions=pre,
            )
            self._send_json(200, obj.resource(self.state.endpoint))
            return True
        if upload_type == "resumable":
            meta = self._json_body(body)
            name = meta.get("name") or query.get("name")
            if not name:
                raise _HTTPError(400, "InvalidArgument", "name is required")
            ctype, user, fixed = self._split_json_metadata(meta)
            with store.lock:
                store.bucket(bucket)
                # fail early like GCS does when the precondition already fails
                store.check_preconditions(store.buckets[bucket].objects.get(name), pre)
                upload_id = uuid.uuid4().hex
                store.resumable[upload_id] = _ResumableUpload(
                    bucket=bucket,
                    name=name,
                    content_type=ctype
                    or self.headers.get("X-Upload-Content-Type")
                    or DEFAULT_CONTENT_TYPE,
                    metadata=user,
                    fixed=fixed,
                    preconditions=pre,
                )
            location = (
                f"{self.state.endpoint}/upload/storage/v1/b/{quote(bucket, safe='')}/o"
                f"?uploadType=resumable&upload_id={upload_id}"
            )
            self._send(
                200, headers={"Location": location, "X-GUploader-UploadID": upload_id}
            )
            return True
        return False

    def _json_upload_chunk(self, upload_id: str, body: bytes) -> bool:
        store = self.store
        with store.lock:
            up = store.resumable.get(upload_id)
            if up is None:
                raise _HTTPError(404, "NoSuchUpload", f"No such upload: {upload_id}")
            crange = (self.headers.get("Content-Range") or "").strip()
            total: int | None = None
            if crange:
                m = re.fullmatch(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)", crange)
                if not m:
                    raise _HTTPError(
                        400, "InvalidArgument", f"Bad Content-Range: {crange}"
                    )
                if m.group(1) is not None:
                    start = int(m.group(1))
                    if start != len(up.buffer):
                        if start > len(up.buffer):
                            raise _HTTPError(
                                400, "InvalidArgument", "Chunk leaves a gap"
                            )
                        # client re-sent already stored bytes: keep the new tail only
                        body = body[len(up.buffer) - start :]
                    up.buffer += body
                if m.group(3) != "*":
                    total = int(m.group(3))
            else:
                up.buffer += body
                total = len(up.buffer)
            if total is None or len(up.buffer) < total:
                headers = {}
                if up.buffer:
                    headers["Range"] = f"bytes=0-{len(up.buffer) - 1}"
                self._send(308, headers=headers)
                return True
            del store.resumable[upload_id]
        obj = self._put(
            up.bucket,
            up.name,
            bytes(up.buffer[:total]),
            content_type=up.content_type,
            metadata=up.metadata,
            fixed=up.fixed,
            preconditions=up.preconditions,
        )
        self._send_json(200, obj.resource(self.state.endpoint))
        return True

    def _parse_multipart_related(
        self, body: bytes
    ) -> tuple[dict[str, Any], bytes, str | None]:
        ctype = self.headers.get("Content-Type", "")
        m = re.search(r'boundary="?([^";]+)"?', ctype)
        if not m:
            raise _HTTPError(
                400, "InvalidArgument", "multipart upload without boundary"
            )
        delim = b"--" + m.group(1).encode()
        pieces = body.split(delim)
        parts: list[tuple[dict[str, str], bytes]] = []
        for piece in pieces[1:]:
            if piece.startswith(b"--"):
                break
            # drop the line break that follows the delimiter and the one before the next
            if piece.startswith(b"\r\n"):
                piece = piece[2:]
            elif piece.startswith(b"\n"):
                piece = piece[1:]
            if piece.endswith(b"\r\n"):
                piece = piece[:-2]
            elif piece.endswith(b"\n"):
                piece = piece[:-1]
            sep = re.search(rb"\r?\n\r?\n", piece)
            if sep is None:
                head, content = piece, b""
            else:
                head, content = piece[: sep.start()], piece[sep.end() :]
            headers = {}
            for line in re.split(rb"\r?\n", head):
                if b":" in line:
                    k, v = line.split(b":", 1)
                    headers[k.strip().lower().decode()] = v.strip().decode()
            parts.append((headers, content))
        if len(parts) != 2:
            raise _HTTPError(
                400, "InvalidArgument", f"expected 2 multipart parts, got {len(parts)}"
            )
        meta = json.loads(parts[0][1] or b"{}")
        return meta, parts[1][1], parts[1][0].get("content-type")

    def _json_patch(
        self, bucket: str, name: str, query: dict[str, str], body: bytes
    ) -> bool:
        patch = self._json_body(body)
        with self.store.lock:
            obj = self._json_get_object(bucket, name, query)
            if "metadata" in patch:
                if patch["metadata"] is None:
                    obj.metadata = {}
                else:
                    for k, v in patch["metadata"].items():
                        if v is None:
                            obj.metadata.pop(k, None)
                        else:
                            obj.metadata[k] = str(v)
            if patch.get("contentType"):
                obj.content_type = patch["contentType"]
            for k in _FIXED_KEYS:
                if k in patch:
                    if patch[k] is None:
                        obj.fixed.pop(k, None)
                    else:
                        obj.fixed[k] = patch[k]
            obj.metageneration += 1
            obj.updated = time.time()
            res = obj.resource(self.state.endpoint)
        self._send_json(200, res)
        return True

    def _json_copy(
        self,
        src_bucket: str,
        src: str,
        dst_bucket: str,
        dst: str,
        query: dict[str, str],
        body: bytes,
        *,
        rewrite: bool,
    ) -> bool:
        override = self._json_body(body)
        with self.store.lock:
            sobj = self.store.get(src_bucket, src)
            if (
                query.get("sourceGeneration")
                and int(query["sourceGeneration"]) != sobj.generation
            ):
                raise _HTTPError(
                    404, "NoSuchKey", f"No such object: {src_bucket}/{src}"
                )
            ctype, user, fixed = self._split_json_metadata(override)
            new = self.store.put(
                dst_bucket,
                dst,
                sobj.data,
                content_type=ctype or sobj.content_type,
                metadata=user if "metadata" in override else sobj.metadata,
                fixed={**sobj.fixed, **fixed},
                preconditions=self._preconditions(query),
            )
            res = new.resource(self.state.endpoint)
        if rewrite:
            n = str(new.size)
            self._send_json(
                200,
                {
                    "kind": "storage#rewriteResponse",
                    "totalBytesRewritten": n,
                    "objectSize": n,
                    "done": True,
                    "resource": res,
                },
            )
        else:
            self._send_json(200, res)
        return True

    def _json_move(
        self, bucket: str, src: str, dst: str, query: dict[str, str]
    ) -> bool:
        pre = self._preconditions(query)  # they apply to the destination
        with self.store.lock:
            sobj = self.store.get(bucket, src)
            if (
                query.get("sourceGeneration")
                and int(query["sourceGeneration"]) != sobj.generation
            ):
                raise _HTTPError(404, "NoSuchKey", f"No such object: {bucket}/{src}")
            new = self.store.put(
                bucket,
                dst,
                sobj.data,
                content_type=sobj.content_type,
                metadata=sobj.metadata,
                fixed=sobj.fixed,
                preconditions=pre,
            )
            del self.store.buckets[bucket].objects[src]
            res = new.resource(self.state.endpoint)
        self._send_json(200, res)
        return True

    def _json_compose(
        self, bucket: str, dst: str, query: dict[str, str], body: bytes
    ) -> bool:
        req = self._json_body(body)
        sources = req.get("sourceObjects") or []
        if not sources:
            raise _HTTPError(400, "InvalidArgument", "sourceObjects is required")
        dest = req.get("destination") or {}
        with self.store.lock:
            datas = []
            count = 0
            for s in sources:
                o = self.store.get(bucket, s["name"])
                if s.get("generation") and int(s["generation"]) != o.generation:
                    raise _HTTPError(
                        404, "NoSuchKey", f"No such object: {bucket}/{s['name']}"
                    )
                datas.append(o.data)
                count += o.component_count or 1
            ctype, user, fixed = self._split_json_metadata(dest)
            new = self.store.put(
                bucket,
                dst,
                b"".join(datas),
                content_type=ctype,
                metadata=user,
                fixed=fixed,
                preconditions=self._preconditions(query),
                component_count=count,
            )
            res = new.resource(self.state.endpoint)
        self._send_json(200, res)
        return True

    # -- XML API --------------------------------------------------------------

    def _route_xml(self, raw_path: str, query: dict[str, str], body: bytes) -> bool:
        m = self.command
        path = raw_path.lstrip("/")
        if not path:
            return False  # service-level operations (list buckets) not implemented
        bucket_raw, _, obj_raw = path.partition("/")
        bucket = unquote(bucket_raw)
        name = unquote(obj_raw)
        store = self.store

        if not name:
            if m == "GET" and not (
                set(query)
                - {
                    "list-type",
                    "prefix",
                    "delimiter",
                    "continuation-token",
                    "start-after",
                    "max-keys",
                    "marker",
                    "fetch-owner",
                    "encoding-type",
                }
            ):
                return self._xml_list(bucket, query)
            if m == "HEAD" and not query:
                with store.lock:
                    store.bucket(bucket)
                self._send(200)
                return True
            return False

        if m in ("GET", "HEAD") and not (set(query) - {"generation"}):
            with store.lock:
                obj = store.get(bucket, name)
                if (
                    query.get("generation")
                    and int(query["generation"]) != obj.generation
                ):
                    raise _HTTPError(
                        404, "NoSuchKey", f"No such object: {bucket}/{name}"
                    )
            self._send_media(obj)
            return True

        if m == "PUT" and not query:
            ctype, meta, fixed = self._xml_metadata()
            copy_source = self.headers.get("x-goog-copy-source")
            if copy_source is not None:
                src_bucket, _, src_name = unquote(copy_source.lstrip("/")).partition(
                    "/"
                )
                with store.lock:
                    src = store.get(src_bucket, src_name)
                directive = (
                    self.headers.get("x-goog-metadata-directive") or "COPY"
                ).upper()
                if directive == "COPY":
                    ctype, meta, fixed = src.content_type, src.metadata, src.fixed
                obj = self._put(
                    bucket,
                    name,
                    src.data,
                    content_type=ctype,
                    metadata=meta,
                    fixed=fixed,
                    preconditions=self._xml_preconditions(),
                )
                self._send_xml(
                    200,
                    f"<CopyObjectResult><LastModified>{_rfc3339(obj.updated)}</LastModified>"
                    f"<ETag>{xml_escape(obj.etag)}</ETag></CopyObjectResult>",
                    headers={
                        "x-goog-generation": str(obj.generation),
                        "ETag": obj.etag,
                    },
                )
                return True
            obj = self._put(
                bucket,
                name,
                body,
                content_type=ctype,
                metadata=meta,
                fixed=fixed,
                preconditions=self._xml_preconditions(),
            )
            self._send(
                200,
                headers={
                    "ETag": obj.etag,
                    "x-goog-generation": str(obj.generation),
                    "x-goog-metageneration": str(obj.metageneration),
                    "Last-Modified": _http_date(obj.updated),
                },
            )
            return True

        if m == "DELETE" and not query:
            store.delete(bucket, name, self._xml_preconditions())
            self._send(204)
            return True

        # XML multipart uploads
        if m == "POST" and set(query) == {"uploads"}:
            ctype, meta, _fixed = self._xml_metadata()
            with store.lock:
                store.bucket(bucket)
                upload_id = uuid.uuid4().hex
                store.multipart[upload_id] = _MultipartUpload(
                    bucket=bucket,
                    name=name,
                    content_type=ctype,
                    metadata=meta,
                    preconditions=self._xml_preconditions(),
                )
            self._send_xml(
                200,
                f'<InitiateMultipartUploadResult xmlns="{XML_NS}">'
                f"<Bucket>{xml_escape(bucket)}</Bucket><Key>{xml_escape(name)}</Key>"
                f"<UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>",
            )
            return True
        if m == "PUT" and set(query) == {"uploadId", "partNumber"}:
            with store.lock:
                up = self._get_multipart(query["uploadId"], bucket, name)
                etag = f'"{hashlib.md5(body).hexdigest()}"'
                up.parts[int(query["partNumber"])] = (etag, bytes(body))
            self._send(200, headers={"ETag": etag})
            return True
        if m == "POST" and set(query) == {"uploadId"}:
            return self._xml_complete_multipart(bucket, name, query["uploadId"], body)
        if m == "DELETE" and set(query) == {"uploadId"}:
            with store.lock:
                self._get_multipart(query["uploadId"], bucket, name)
                del store.multipart[query["uploadId"]]
            self._send(204)
            return True
        return False

    def _get_multipart(
        self, upload_id: str, bucket: str, name: str
    ) -> _MultipartUpload:
        up = self.store.multipart.get(upload_id)
        if up is None or up.bucket != bucket or up.name != name:
            raise _HTTPError(404, "NoSuchUpload", f"No such upload: {upload_id}")
        return up

    def _xml_complete_multipart(
        self, bucket: str, name: str, upload_id: str, body: bytes
    ) -> bool:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise _HTTPError(
                400, "MalformedXML", "Cannot parse CompleteMultipartUpload"
            ) from None
        wanted: list[tuple[int, str]] = []
        for part in root.iter():
            if part.tag.rsplit("}", 1)[-1] != "Part":
                continue
            num = etag = None
            for child in part:
                tag = child.tag.rsplit("}", 1)[-1]
                if tag == "PartNumber":
                    num = int((child.text or "").strip())
                elif tag == "ETag":
                    etag = (child.text or "").strip()
            if num is None:
                raise _HTTPError(400, "MalformedXML", "Part without PartNumber")
            wanted.append((num, etag or ""))
        if not wanted:
            raise _HTTPError(400, "MalformedXML", "No parts")
        store = self.store
        with store.lock:
            up = self._get_multipart(upload_id, bucket, name)
            datas = []
            for num, etag in wanted:
                if num not in up.parts:
                    raise _HTTPError(400, "InvalidPart", f"Part {num} was not uploaded")
                stored_etag, data = up.parts[num]
                if etag and etag.strip('"') != stored_etag.strip('"'):
                    raise _HTTPError(
                        400, "InvalidPart", f"ETag mismatch for part {num}"
                    )
                datas.append(data)
        obj = self._put(
            bucket,
            name,
            b"".join(datas),
            content_type=up.content_type,
            metadata=up.metadata,
            preconditions=up.preconditions,
            component_count=len(wanted),
        )
        with store.lock:
            store.multipart.pop(upload_id, None)
        self._send_xml(
            200,
            f'<CompleteMultipartUploadResult xmlns="{XML_NS}">'
            f"<Location>{xml_escape(self.state.endpoint)}/{xml_escape(quote(bucket))}/{xml_escape(quote(name))}</Location>"
            f"<Bucket>{xml_escape(bucket)}</Bucket><Key>{xml_escape(name)}</Key>"
            f"<ETag>{xml_escape(obj.etag)}</ETag></CompleteMultipartUploadResult>",
            headers={"x-goog-generation": str(obj.generation), "ETag": obj.etag},
        )
        return True

    def _xml_list(self, bucket: str, query: dict[str, str]) -> bool:
        v2 = query.get("list-type") == "2"
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        max_keys = int(query.get("max-keys") or MAX_LIST_RESULTS)
        if v2:
            token = _decode_token(query.get("continuation-token"))
            start_after = query.get("start-after") or None
        else:
            token = None
            start_after = query.get("marker") or None
        items, prefixes, next_name = self.store.list(
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            start_after=start_after,
            token=token,
            max_results=max_keys,
        )
        parts = [
            f'<ListBucketResult xmlns="{XML_NS}">',
            f"<Name>{xml_escape(bucket)}</Name>",
            f"<Prefix>{xml_escape(prefix)}</Prefix>",
        ]
        if delimiter:
            parts.append(f"<Delimiter>{xml_escape(delimiter)}</Delimiter>")
        parts.append(f"<MaxKeys>{max_keys}</MaxKeys>")
        parts.append(
            f"<IsTruncated>{'true' if next_name is not None else 'false'}</IsTruncated>"
        )
        if v2:
            parts.append(f"<KeyCount>{len(items) + len(prefixes)}</KeyCount>")
            if query.get("continuation-token"):
                parts.append(
                    f"<ContinuationToken>{xml_escape(query['continuation-token'])}</ContinuationToken>"
                )
            if start_after:
                parts.append(f"<StartAfter>{xml_escape(start_after)}</StartAfter>")
            if next_name is not None:
                parts.append(
                    f"<NextContinuationToken>{_encode_token(next_name)}</NextContinuationToken>"
                )
        else:
            if start_after:
                parts.append(f"<Marker>{xml_escape(start_after)}</Marker>")
            if next_name is not None:
                parts.append(f"<NextMarker>{xml_escape(next_name)}</NextMarker>")
        for o in items:
            parts.append(
                "<Contents>"
                f"<Key>{xml_escape(o.name)}</Key>"
                f"<Generation>{o.generation}</Generation>"
                f"<MetaGeneration>{o.metageneration}</MetaGeneration>"
                f"<LastModified>{_rfc3339(o.updated)}</LastModified>"
                f"<ETag>{xml_escape(o.etag)}</ETag>"
                f"<Size>{o.size}</Size>"
                "<StorageClass>STANDARD</StorageClass>"
                "</Contents>"
            )
        for p in prefixes:
            parts.append(
                f"<CommonPrefixes><Prefix>{xml_escape(p)}</Prefix></CommonPrefixes>"
            )
        parts.append("</ListBucketResult>")
        self._send_xml(200, "".join(parts))
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # client closed the connection: not an emulator failure
        super().handle_error(request, client_address)


class _Rendezvous:
    """Hold ``count`` writes until all arrived, then apply them in arrival order."""

    def __init__(self, pattern: str, count: int, timeout: float) -> None:
        self.pattern = re.compile(pattern)
        self.count = count
        self.timeout = timeout
        self.claimed = 0
        self.arrived = 0
        self.turn = 0
        self.cond = threading.Condition()

    def arrive(self) -> int:
        deadline = time.monotonic() + self.timeout
        with self.cond:
            ticket = self.arrived
            self.arrived += 1
            self.cond.notify_all()
            while self.arrived < self.count or self.turn < ticket:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return ticket

    def done(self, ticket: int) -> None:
        with self.cond:
            self.turn = max(self.turn, ticket + 1)
            self.cond.notify_all()


class _ServerState:
    """What the request handler needs: the store plus the request logs."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.store = _Store()
        self.log_lock = threading.Lock()
        self.unhandled: list[str] = []
        self.errors: list[str] = []
        self.requests: collections.deque[RequestRecord] = collections.deque(
            maxlen=50000
        )
        self.rendezvous: list[_Rendezvous] = []

    def claim_rendezvous(self, bucket: str, name: str) -> _Rendezvous | None:
        with self.log_lock:
            for rv in self.rendezvous:
                if rv.pattern.fullmatch(f"{bucket}/{name}"):
                    rv.claimed += 1
                    if rv.claimed >= rv.count:
                        self.rendezvous.remove(rv)
                    return rv
        return None

    def _record_unhandled(self, method: str, path: str) -> None:
        with self.log_lock:
            self.unhandled.append(f"{method} {path}")

    def _record_error(self, method: str, path: str, exc: Exception) -> None:
        with self.log_lock:
            self.errors.append(f"{method} {path}: {exc!r}")

    def _record_request(self, record: RequestRecord) -> None:
        with self.log_lock:
            self.requests.append(record)


def _make_server(port: int = 0) -> _Server:
    """Bind a server on 127.0.0.1 (it does not serve until serve_forever())."""
    handler = type("GCSEmulatorHandler", (_Handler,), {})
    server = _Server(("127.0.0.1", port), handler)
    handler.state = _ServerState(f"http://127.0.0.1:{server.server_address[1]}")
    return server


def _serve_child(port: int) -> None:
    """Entry point of the emulator process.

    Prints the bound port on stdout, then serves until stdin reaches EOF
    (the parent closed it or died).
    """
    import os
    import sys

    server = _make_server(port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    os.dup2(2, 1)  # later prints must not fill the (unread) stdout pipe
    try:
        while sys.stdin.buffer.read(1):
            pass
    except KeyboardInterrupt:  # pragma: no cover
        pass
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------------
# public API


class GCSEmulator:
    """In-memory GCS server on 127.0.0.1 with an ephemeral port.

    The server runs in a child Python process (started with
    ``sys.executable``, stopped by closing its stdin, then by its pid), not in
    a thread: some deltalake calls, e.g. ``DeltaTable.history()``, do their
    HTTP requests while holding the GIL, which would deadlock against a server
    thread of the same interpreter. ``in_process=True`` runs it in a thread
    instead (handy for debugging, unsafe with such calls).

    Usage::

        with GCSEmulator() as gcs:
            gcs.create_bucket("bucket")
            write_deltalake("gs://bucket/t", df, storage_options=gcs.storage_options("bucket"))
            fs = gcsfs.GCSFileSystem(**gcs.fsspec_options())
            assert gcs.unhandled == []
    """

    def __init__(
        self, port: int = 0, *, in_process: bool = False, start_timeout: float = 30.0
    ) -> None:
        self._port = port
        self._in_process = in_process
        self._start_timeout = start_timeout
        self._proc: Any = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> GCSEmulator:
        if self._proc is not None or self._server is not None:
            return self
        from . import isolate_cloud_env

        isolate_cloud_env()
        if self._in_process:
            self._server = _make_server(self._port)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="gcs-emulator",
                daemon=True,
            )
            self._thread.start()
            self._port = self._server.server_address[1]
        else:
            self._port = self._start_child()
        self.endpoint = f"http://127.0.0.1:{self._port}"
        return self

    def _start_child(self) -> int:
        import os
        import selectors
        import subprocess
        import sys

        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-u",
                os.path.abspath(__file__),
                "--port",
                str(self._port),
            ],
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
            raise RuntimeError(f"GCS emulator process did not start (got {line!r})")
        return int(line)

    def _terminate(self) -> None:
        import subprocess

        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.close()  # the child exits on EOF
        try:
            proc.wait(timeout=5)
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
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None
            self._thread = None
        self._terminate()

    def __enter__(self) -> GCSEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    # -- control API ------------------------------------------------------------

    def _control(self, method: str, path: str, body: bytes | None = None) -> bytes:
        import http.client

        if not self.endpoint:
            raise RuntimeError("GCS emulator is not running")
        conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
        try:
            conn.request(method, CONTROL_PREFIX + path, body=body)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if resp.status >= 300:
            message = data.decode(errors="replace")
            if resp.status == 404:
                raise FileNotFoundError(message)
            raise RuntimeError(
                f"control request {method} {path} failed: {resp.status} {message}"
            )
        return data

    def create_bucket(self, name: str) -> None:
        """Create an empty bucket (no-op if it already exists)."""
        self._control("POST", "buckets/" + quote(name, safe=""))

    def buckets(self) -> list[str]:
        return json.loads(self._control("GET", "buckets"))

    def list_objects(self, bucket: str, prefix: str = "") -> list[str]:
        """Names of the objects in ``bucket`` starting with ``prefix`` (sorted)."""
        return json.loads(
            self._control(
                "GET",
                f"objects/{quote(bucket, safe='')}?prefix={quote(prefix, safe='')}",
            )
        )

    def get_object(self, bucket: str, name: str) -> bytes:
        """Bytes of an object (FileNotFoundError if missing)."""
        return self._control(
            "GET", f"object/{quote(bucket, safe='')}/{quote(name, safe='')}"
        )

    def put_object(self, bucket: str, name: str, data: bytes) -> int:
        """Store an object directly (unconditionally); returns its generation."""
        out = self._control(
            "PUT", f"object/{quote(bucket, safe='')}/{quote(name, safe='')}", data
        )
        return int(json.loads(out)["generation"])

    def _state(self) -> dict[str, Any]:
        return json.loads(self._control("GET", "state"))

    @property
    def unhandled(self) -> list[str]:
        """``"METHOD /path?query"`` of every request answered with 501."""
        return self._state()["unhandled"]

    @property
    def errors(self) -> list[str]:
        """Exceptions raised inside the emulator (those requests got a 500)."""
        return self._state()["errors"]

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests served so far (at most the last 50000), oldest first."""
        return [RequestRecord(*r) for r in self._state()["requests"]]

    def rendezvous_writes(
        self, pattern: str, count: int = 2, timeout: float = 10.0
    ) -> None:
        """Make the next ``count`` client writes to one object race deterministically.

        Writes (XML PUT or copy, JSON media/multipart/resumable upload, XML
        multipart completion) to an object whose ``"bucket/name"`` fully
        matches the regular expression ``pattern`` are held until ``count`` of
        them have arrived (or ``timeout`` seconds passed), then applied one at
        a time in arrival order. With create-if-absent writers the first one
        wins and the others get 412, e.g. two Delta writers committing the
        same version.
        """
        body = json.dumps(
            {"pattern": pattern, "count": count, "timeout": timeout}
        ).encode()
        self._control("POST", "rendezvous", body)

    @property
    def rendezvous_armed(self) -> int:
        """Number of rendezvous that still wait for writes."""
        return self._state()["rendezvous_armed"]

    def reset_log(self) -> None:
        """Forget recorded requests, unhandled requests and errors."""
        self._control("POST", "reset-log")

    # -- client options ---------------------------------------------------------

    def storage_options(self, bucket: str | None = None) -> dict[str, str]:
        """Options for ``deltalake`` and ``polars`` (Rust object_store).

        A service-account key with ``disable_oauth`` makes object_store use an
        empty static bearer token, so it never asks a metadata server or an
        OAuth endpoint for credentials; ``gcs_base_url`` / ``google_base_url``
        point it at this emulator and ``allow_http`` permits plain HTTP.
        ``bucket`` is accepted for symmetry with :class:`S3Emulator`; the
        bucket comes from the ``gs://bucket/...`` URL.
        """
        key = {
            "gcs_base_url": self.endpoint,
            "disable_oauth": True,
            "client_email": "",
            "private_key": "",
            "private_key_id": "",
        }
        return {
            "google_service_account_key": json.dumps(key),
            "google_base_url": self.endpoint,
            "allow_http": "true",
        }

    def fsspec_options(self) -> dict[str, Any]:
        """Keyword arguments for ``gcsfs.GCSFileSystem`` / ``fsspec.filesystem("gs")``.

        ``retry_timeout`` only matters for gcsfs' experimental
        ``ExtendedGcsFileSystem`` (the default ``gcsfs.GCSFileSystem`` unless
        ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false`` was set before gcsfs was
        imported): it asks the endpoint for the bucket layout over gRPC+TLS
        before most operations, which this HTTP emulator cannot answer, and
        by default retries that for 60 s. With a short retry budget the
        lookup fails at once and gcsfs falls back to the JSON API.
        """
        return {
            "endpoint_url": self.endpoint,
            "token": "anon",
            "project": PROJECT,
            "retry_timeout": 0.1,
        }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="in-memory GCS emulator on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    _serve_child(parser.parse_args().port)
