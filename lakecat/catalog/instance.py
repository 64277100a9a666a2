"""A catalog instance: where it lives, which modules it has, and its write paths.

`init()` creates a catalog (a folder or bucket prefix with `lakecat.json`, one
Delta table per registry and link table, `objects/` for artifact bytes) and
connects to it; `connect()` opens an existing one. The catalog in use is
remembered in `$LAKECAT_HOME/settings.json` (default `~/.lakecat`) so a new process
can `import lakecat as lc` and go on; `LAKECAT_CATALOG` overrides it.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from lakecat.catalog.batch import Batch
from lakecat.engine.compiler import Compiler
from lakecat.engine.errors import StorageError
from lakecat.engine.ids import IdAllocator, random_uid
from lakecat.engine.objects import ObjectStore, is_remote
from lakecat.engine.tables import TableStore
from lakecat.schemas import SchemaIndex, index_for

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
IDENTITY_FILE = "lakecat.json"
#: reserved branch ids: 1 main (visible), 0 archive and -1 trash (hidden)
BRANCHES = ((1, "main"), (0, "archive"), (-1, "trash"))

_current: Catalog | None = None


def now() -> datetime:
    """The current time, UTC, at the microsecond precision the tables store."""
    return datetime.now(timezone.utc)


def _normalize_root(storage: str | os.PathLike) -> str:
    storage = str(storage)
    if is_remote(storage):
        return storage.rstrip("/")
    return str(Path(storage.removeprefix("file://")).expanduser().resolve())


def settings_path() -> Path:
    home = os.environ.get("LAKECAT_HOME") or Path.home() / ".lakecat"
    return Path(home) / "settings.json"


class Catalog:
    """One connected catalog: its schema index, tables, objects and id allocator."""

    def __init__(
        self,
        root: str,
        identity: dict[str, Any],
        storage_options: dict[str, str] | None = None,
        *,
        read_only: bool = False,
        as_of: int | str | None = None,
    ) -> None:
        self.root = root
        self.identity = identity
        self.name: str = identity["name"]
        self.uid: str = identity["uid"]
        self.modules: tuple[str, ...] = tuple(identity["modules"])
        self.storage_options = dict(storage_options or {})
        self.index: SchemaIndex = index_for(self.modules)
        self.objects = ObjectStore(self.storage_options)
        self.tables = TableStore(
            root,
            self.index.tables(),
            self.storage_options,
            read_only=read_only,
            as_of=as_of,
        )
        self.ids = IdAllocator(self.objects, self.tables.uri)
        self.user_id = int(identity.get("user_id", 1))
        self.branch_id = 1
        self.run_id: int | None = None
        self.batch: Batch | None = None
        self.compiler = Compiler(self.index, self.frame, self._feature_resolver)

    def __repr__(self) -> str:
        return f"Catalog(name={self.name!r}, root={self.root!r}, modules={list(self.modules)})"

    @property
    def read_only(self) -> bool:
        return self.tables.read_only

    # reads

    def frame(self, table: str) -> pl.DataFrame:
        """Rows of a table as this process sees them (including an open batch)."""
        base = self.tables.frame(table)
        if self.batch is not None:
            return self.batch.overlay(table, base)
        return base

    def _feature_resolver(self, registry: str, lookup):
        from lakecat.catalog.features import feature_predicate

        return feature_predicate(self, registry, lookup)

    # writes

    def allocate_ids(self, table: str, count: int) -> range:
        if self.batch is not None:
            return self.batch.allocate(table, count)
        return self.ids.allocate(table, count, self.tables.max_id(table))

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Append rows (ids already set), or buffer them in an open batch."""
        if not rows:
            return
        if self.batch is not None:
            self.batch.insert(table, rows)
            return
        self.tables.append(table, self._frame_of(table, rows))

    def update(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.batch is not None:
            self.batch.update(table, rows)
            return
        self.tables.update(table, self._frame_of(table, rows))

    def upsert(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert new ids and replace existing ones, in one commit."""
        if not rows:
            return
        if self.batch is not None:
            present = set(self.frame(table).get_column("id").to_list())
            self.batch.update(table, [r for r in rows if r["id"] in present])
            self.batch.insert(table, [r for r in rows if r["id"] not in present])
            return
        self.tables.update(table, self._frame_of(table, rows), insert=True)

    def delete_rows(self, table: str, column: str, ids: Iterable[int]) -> None:
        ids = list(ids)
        if not ids:
            return
        if self.batch is not None:
            self.batch.delete(table, column, ids)
            return
        self.tables.delete(table, column, ids)

    def _frame_of(self, table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
        return pl.DataFrame(rows, schema=self.tables.schemas[table], strict=False)

    @contextmanager
    def batching(self) -> Iterator[Batch]:
        if self.batch is not None:
            yield self.batch
            return
        self.batch = Batch(self)
        try:
            yield self.batch
        except BaseException:
            self.batch = None
            raise
        batch, self.batch = self.batch, None
        batch.commit()

    # identity

    @classmethod
    def create(
        cls,
        root: str,
        *,
        name: str | None,
        modules: tuple[str, ...],
        storage_options: dict[str, str] | None,
        user: str | None,
        user_name: str | None,
    ) -> Catalog:
        objects = ObjectStore(storage_options)
        identity_path = f"{root}/{IDENTITY_FILE}"
        if not is_remote(root):
            folder = Path(root)
            if folder.exists() and not folder.is_dir():
                msg = f"cannot create a catalog at {root}: it is a file"
                raise StorageError(msg)
            if folder.is_dir() and any(folder.iterdir()) and not (folder / IDENTITY_FILE).exists():
                msg = (
                    f"cannot create a catalog at {root}: the folder is not empty and "
                    f"has no {IDENTITY_FILE}; pick an empty or new folder"
                )
                raise StorageError(msg)
        identity = {
            "uid": random_uid(12),
            "name": name or root.rstrip("/").rsplit("/", 1)[-1],
            "modules": ["core", *(m for m in modules if m != "core")],
            "format_version": FORMAT_VERSION,
            "created_at": now().isoformat(),
            "user_id": 1,
        }
        index_for(tuple(identity["modules"]))  # validates module names
        catalog = cls(root, identity, storage_options)
        catalog.tables.create_all()
        catalog._seed(user or os.environ.get("LAKECAT_USER") or getpass.getuser(), user_name)
        objects.write_bytes(identity_path, orjson.dumps(identity, option=orjson.OPT_INDENT_2))
        return catalog

    def _seed(self, handle: str, user_name: str | None) -> None:
        """The rows every catalog starts with: its user, space, branches and storage."""
        t = now()
        common = {"created_at": t, "created_by_id": 1}
        if self.tables.frame("user").height:
            return
        self.insert("user", [{"id": 1, "uid": random_uid(8), "handle": handle,
                              "name": user_name, "created_at": t, "updated_at": t}])  # fmt: skip
        self.insert("space", [{"id": 1, "uid": "a" * 12, "name": "all", **common}])
        self.insert("branch", [
            {"id": i, "uid": random_uid(12), "name": n, "space_id": 1, **common}
            for i, n in BRANCHES
        ])  # fmt: skip
        storage_type = self.root.split("://", 1)[0] if is_remote(self.root) else "local"
        self.insert("storage", [{
            "id": 1, "uid": random_uid(12), "root": self.root, "type": storage_type,
            "instance_uid": self.uid, "space_id": 1, "is_locked": False,
            "branch_id": 1, "updated_at": t, **common,
        }])  # fmt: skip
        for table in ("user", "space", "storage"):
            self.ids.allocate(table, 1, 0)

    @classmethod
    def open(
        cls,
        root: str,
        storage_options: dict[str, str] | None = None,
        *,
        read_only: bool = False,
        as_of: int | str | None = None,
    ) -> Catalog:
        objects = ObjectStore(storage_options)
        path = f"{root}/{IDENTITY_FILE}"
        if not objects.exists(path):
            msg = f"{root} is not a lakecat catalog: {IDENTITY_FILE} is missing"
            raise StorageError(msg)
        identity = orjson.loads(objects.read_bytes(path))
        version = identity.get("format_version", 0)
        if version > FORMAT_VERSION:
            msg = (
                f"catalog at {root} has format version {version}, newer than this "
                f"lakecat understands ({FORMAT_VERSION}); upgrade lakecat"
            )
            raise StorageError(msg)
        return cls(root, identity, storage_options, read_only=read_only, as_of=as_of)


def current() -> Catalog:
    """The connected catalog, auto-connecting to the remembered one."""
    global _current
    if _current is None:
        root = os.environ.get("LAKECAT_CATALOG")
        if root is None and settings_path().exists():
            root = orjson.loads(settings_path().read_bytes()).get("root")
        if root is None:
            msg = "no catalog connected: call lc.init(storage=...) or lc.connect(root)"
            raise StorageError(msg)
        _current = Catalog.open(_normalize_root(root))
    return _current


def _remember(catalog: Catalog) -> None:
    global _current
    _current = catalog
    path = settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps({"root": catalog.root}))
    except OSError as error:  # a read-only home must not stop work
        logger.debug("could not remember the catalog: %s", error)


def init(
    storage: str | os.PathLike,
    *,
    modules: Iterable[str] | str | None = None,
    name: str | None = None,
    storage_options: dict[str, str] | None = None,
    user: str | None = None,
    user_name: str | None = None,
) -> Catalog:
    """Create a catalog at `storage` (a folder, `gs://…` or `s3://…`) and connect.

    If a catalog already exists there, connect to it.

    Parameters
    ----------
    storage
        Where the catalog lives.
    modules
        Extra modules, e.g. ``["bio"]`` (also accepts ``"bionty"``).
    name
        A name; defaults to the last path component.
    storage_options
        Credentials and endpoints passed to deltalake and fsspec alike.
    user, user_name
        The handle and name of the catalog's user (default: ``$LAKECAT_USER`` or
        the login name).
    """
    if isinstance(modules, str):
        modules = [m.strip() for m in modules.split(",") if m.strip()]
    mods = tuple("bio" if m == "bionty" else m for m in (modules or ()))
    root = _normalize_root(storage)
    objects = ObjectStore(storage_options)
    if objects.exists(f"{root}/{IDENTITY_FILE}"):
        catalog = Catalog.open(root, storage_options)
        missing = [m for m in mods if m not in catalog.modules]
        if missing:
            msg = f"catalog at {root} exists without module(s) {missing}"
            raise StorageError(msg)
    else:
        catalog = Catalog.create(
            root,
            name=name,
            modules=mods,
            storage_options=storage_options,
            user=user,
            user_name=user_name,
        )
    _remember(catalog)
    logger.info("connected lakecat: %s", catalog.name)
    return catalog


def connect(
    root: str | os.PathLike | None = None,
    *,
    storage_options: dict[str, str] | None = None,
    read_only: bool = False,
    as_of: int | str | None = None,
) -> Catalog:
    """Connect to an existing catalog (the remembered one if `root` is None).

    `as_of` (a table version number or an ISO datetime) opens the catalog as it was
    then, read-only.
    """
    global _current
    if root is None:
        catalog = current()
        root = catalog.root
    catalog = Catalog.open(
        _normalize_root(root), storage_options, read_only=read_only, as_of=as_of
    )
    if read_only or as_of is not None:
        _current = catalog
    else:
        _remember(catalog)
    return catalog
