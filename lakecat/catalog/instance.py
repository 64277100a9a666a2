"""A catalog instance: where it lives, which modules it has, and its write paths.

`init()` creates a catalog (a folder or bucket prefix with `lakecat.json`, one
Delta table per registry and link table, `objects/` for artifact bytes) and
connects to it; `connect()` opens an existing one. The catalog in use is
remembered in `$LAKECAT_HOME/settings.json` (default `~/.lakecat`) so a new process
can `import lakecat as lc` and go on; `LAKECAT_CATALOG` overrides it.

`lakecat.json` is written last, so a folder without it is not (yet) a catalog; an
`init()` that was interrupted is finished by the next `init()` of the same place.

Time travel is catalog-wide and by time: `connect(root, as_of=when)` or
`catalog.at(when)` opens a read-only catalog in which every table is at its latest
version committed at or before `when` (a datetime or an ISO string; naive means
UTC). A version number belongs to one table, so `catalog.at(7, table="artifact")`
means "when the artifact table reached version 7". Versions removed by vacuum or
log cleanup raise `StorageError` instead of answering from a later state.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from lakecat.catalog.batch import Batch
from lakecat.engine.compiler import Compiler
from lakecat.engine.errors import InvalidArgument, StorageError
from lakecat.engine.ids import IdAllocator, random_uid
from lakecat.engine.objects import ObjectStore, is_remote
from lakecat.engine.tables import TableStore
from lakecat.schemas import SchemaIndex, index_for

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
IDENTITY_FILE = "lakecat.json"
#: what a catalog folder holds besides `lakecat.json` (an interrupted init leaves these)
CATALOG_ENTRIES = frozenset({"tables", "objects"})
#: how many past catalogs `Catalog.at()` keeps open
PAST_CATALOGS = 4
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


def as_datetime(when: datetime | str) -> datetime:
    """A point in time as an aware UTC datetime (naive values and strings are UTC)."""
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
        except ValueError:
            msg = f"as_of takes a datetime or an ISO 8601 string, got {when!r}"
            raise InvalidArgument(msg) from None
    if not isinstance(when, datetime):
        msg = (
            "as_of takes a datetime or an ISO 8601 string (a version number only "
            f"with `table=`), got {type(when).__name__} {when!r}"
        )
        raise InvalidArgument(msg)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


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
        as_of: datetime | None = None,
    ) -> None:
        self.root = root
        self.identity = identity
        self.name: str = identity["name"]
        self.uid: str = identity["uid"]
        self.modules: tuple[str, ...] = tuple(identity["modules"])
        self.storage_options = dict(storage_options or {})
        self.index: SchemaIndex = index_for(self.modules)
        read_only = read_only or as_of is not None
        self.objects = ObjectStore(self.storage_options, read_only=read_only)
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
        #: catalogs opened by `at()`, most recently used last
        self._past: dict[datetime, Catalog] = {}

    def __repr__(self) -> str:
        return f"Catalog(name={self.name!r}, root={self.root!r}, modules={list(self.modules)})"

    @property
    def read_only(self) -> bool:
        return self.tables.read_only

    @property
    def as_of(self) -> datetime | None:
        """The time this catalog shows, or None for the present."""
        return self.tables.as_of

    def at(self, when: datetime | str | int, *, table: str | None = None) -> Catalog:
        """This catalog as it was at `when`, read-only.

        `when` is a datetime or ISO string, or a version number of `table` (the
        catalog when that table reached that version; `table` is ignored for
        times). The last few past catalogs are kept open, so repeated queries
        at one time read each table once.

        >>> catalog.at("2025-01-31T12:00:00Z").frame("artifact")  # doctest: +SKIP
        """
        if isinstance(when, int) and not isinstance(when, bool):
            when = self._version_time(when, table)
        moment = as_datetime(when)
        past = self._past.pop(moment, None)
        if past is None:
            past = Catalog.open(self.root, self.storage_options, as_of=moment)
        self._past[moment] = past
        while len(self._past) > PAST_CATALOGS:
            del self._past[next(iter(self._past))]
        return past

    def _version_time(self, version: int, table: str | None) -> datetime:
        """When `table` committed `version` (the store's time of its log entry)."""
        if table is None:
            msg = (
                f"a version number ({version}) belongs to one table: pass `table=` "
                "(e.g. `table='artifact'`) or give a datetime"
            )
            raise InvalidArgument(msg)
        if table not in self.tables.specs:
            msg = (
                f"unknown table {table!r}; the catalog has {sorted(self.tables.specs)}"
            )
            raise InvalidArgument(msg)
        entry = self.tables.log_entry(table, version)
        if version < 0 or not self.objects.exists(entry):
            msg = (
                f"table `{table}` has no version {version} in its log (not committed "
                "yet, or cleaned up: outside the retention window)"
            )
            raise StorageError(msg)
        return self.objects.modified(entry)

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
        self.tables._check_writable()
        if self.batch is not None:
            return self.batch.allocate(table, count)
        return self.ids.allocate(table, count, self.tables.max_id(table))

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Append rows (ids already set), or buffer them in an open batch."""
        self.tables._check_writable()
        if not rows:
            return
        if self.batch is not None:
            self.batch.insert(table, rows)
            return
        self.tables.append(table, self._frame_of(table, rows))

    def update(
        self, table: str, rows: list[dict[str, Any]], *, keep: Iterable[str] = ()
    ) -> None:
        """Replace rows by id; columns in `keep` keep their committed values."""
        self.tables._check_writable()
        if not rows:
            return
        if self.batch is not None:
            self.batch.update(table, rows, keep=keep)
            return
        self.tables.update(table, self._frame_of(table, rows), keep=keep)

    def insert_version(
        self,
        table: str,
        resolve: Callable[[pl.DataFrame], list[dict[str, Any]]],
        *,
        family: str | None = None,
    ) -> None:
        """Commit a new version and its demoted predecessors in one merge.

        `resolve(committed)` returns those rows computed from the table's committed
        rows; after a conflict with a concurrent writer it is called again on the
        fresh rows, so two writers of one family never both become the latest.
        `family` is the column that names a family (`key`): a rival writer's first
        version of the same family conflicts too. Inside a batch `resolve` runs
        once now (for queries in the batch) and again at the batch's commit.
        """
        self.tables._check_writable()
        families = () if family is None else (family,)
        if self.batch is not None:
            self.batch.insert_version(table, resolve, family=families)
            return
        self.tables.update(
            table,
            lambda committed: self._frame_of(table, resolve(committed)),
            insert=True,
            family=families,
        )

    def upsert(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert new ids and replace existing ones, in one commit."""
        self.tables._check_writable()
        if not rows:
            return
        if self.batch is not None:
            present = set(self.frame(table).get_column("id").to_list())
            self.batch.update(table, [r for r in rows if r["id"] in present])
            self.batch.insert(table, [r for r in rows if r["id"] not in present])
            return
        self.tables.update(table, self._frame_of(table, rows), insert=True)

    def delete_rows(self, table: str, column: str, ids: Iterable[int]) -> None:
        self.tables._check_writable()
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
        self.tables._check_writable()
        if self.batch is not None:
            yield self.batch
            return
        self.batch = Batch(self)
        try:
            yield self.batch
        except BaseException:
            batch, self.batch = self.batch, None
            batch.release_ids()
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
        if not is_remote(root) and Path(root).exists() and not Path(root).is_dir():
            msg = f"cannot create a catalog at {root}: it is a file"
            raise StorageError(msg)
        foreign = sorted(set(objects.list_names(root)) - CATALOG_ENTRIES)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
            msg = (
                f"cannot create a catalog at {root}: the folder is not empty and has "
                f"no {IDENTITY_FILE} (it holds {shown}); pick an empty or new folder"
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
        catalog._seed(
            user or os.environ.get("LAKECAT_USER") or getpass.getuser(), user_name
        )
        # the identity goes last and only once: a concurrent init that wrote it
        # first wins, and this process connects to that catalog
        written = orjson.dumps(identity, option=orjson.OPT_INDENT_2)
        if not objects.create_exclusive(identity_path, written):
            return cls.open(root, storage_options)
        return catalog

    def _seed(self, handle: str, user_name: str | None) -> None:
        """The rows every catalog starts with: its user, space, branches and storage.

        Each table is seeded only while empty, by id, so an interrupted or
        concurrent init never leaves two users or two storages.
        """
        t = now()
        common = {"created_at": t, "created_by_id": 1}
        storage_type = self.root.split("://", 1)[0] if is_remote(self.root) else "local"
        seeds = {
            "user": [{"id": 1, "uid": random_uid(8), "handle": handle, "name": user_name,
                      "created_at": t, "updated_at": t}],
            "space": [{"id": 1, "uid": "a" * 12, "name": "all", **common}],
            "branch": [{"id": i, "uid": random_uid(12), "name": n, "space_id": 1, **common}
                       for i, n in BRANCHES],
            "storage": [{"id": 1, "uid": random_uid(12), "root": self.root,
                         "type": storage_type, "instance_uid": self.uid, "space_id": 1,
                         "is_locked": False, "branch_id": 1, "updated_at": t, **common}],
        }  # fmt: skip
        for table, rows in seeds.items():
            if self.tables.frame(table).is_empty():
                self.tables.update(table, self._frame_of(table, rows), insert=True)
        for table in ("user", "space", "storage"):
            self.ids.allocate(table, 1, 0)

    @classmethod
    def open(
        cls,
        root: str,
        storage_options: dict[str, str] | None = None,
        *,
        read_only: bool = False,
        as_of: datetime | str | None = None,
    ) -> Catalog:
        identity = read_identity(root, storage_options)
        moment = None if as_of is None else as_datetime(as_of)
        if moment is not None and identity.get("created_at"):
            created = datetime.fromisoformat(identity["created_at"])
            if moment < created:
                msg = (
                    f"catalog at {root} did not exist as of {moment.isoformat()}: "
                    f"it was created at {created.isoformat()}"
                )
                raise StorageError(msg)
        return cls(root, identity, storage_options, read_only=read_only, as_of=moment)


def read_identity(root: str, storage_options: dict[str, str] | None) -> dict[str, Any]:
    """The checked contents of a catalog's `lakecat.json`."""
    objects = ObjectStore(storage_options)
    path = f"{root}/{IDENTITY_FILE}"
    if not objects.exists(path):
        msg = f"{root} is not a lakecat catalog: {IDENTITY_FILE} is missing"
        raise StorageError(msg)
    try:
        identity = orjson.loads(objects.read_bytes(path))
    except orjson.JSONDecodeError as error:
        msg = f"{path} is damaged (not JSON: {error}); restore it from a backup"
        raise StorageError(msg) from error
    missing = [
        k
        for k in ("uid", "name", "modules")
        if not isinstance(identity, dict) or k not in identity
    ]
    if missing:
        msg = f"{path} is damaged: it lacks {', '.join(missing)}"
        raise StorageError(msg)
    version = identity.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        msg = (
            f"catalog at {root} has format version {version!r}, newer than this "
            f"lakecat understands ({FORMAT_VERSION}); upgrade lakecat"
        )
        raise StorageError(msg)
    return identity


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
    as_of: datetime | str | None = None,
    remember: bool = True,
) -> Catalog:
    """Connect to an existing catalog (the remembered one if `root` is None).

    With `remember=False` the catalog is used by this process only and the one
    remembered for new processes stays as it was. `read_only=True` refuses every
    write with `StorageError`. `as_of` (a datetime
    or ISO string) opens the catalog as it was then, read-only: each table at its
    latest version committed at or before that time. For a version number of one
    table use `catalog.at(version, table=...)`.
    """
    global _current
    if root is None:
        catalog = current()
        root = catalog.root
    catalog = Catalog.open(
        _normalize_root(root), storage_options, read_only=read_only, as_of=as_of
    )
    if read_only or as_of is not None or not remember:
        _current = catalog
    else:
        _remember(catalog)
    return catalog
