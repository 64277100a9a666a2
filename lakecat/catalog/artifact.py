"""Artifacts: files, folders, dataframes and AnnData registered with their bytes.

`Artifact(path, key=...)` describes a file (suffix, size, md5 hash); `save()` copies
its bytes to `objects/<uid><suffix>` under the catalog root and then commits the
row, so a row is never visible before its bytes. Content that is already in the
catalog returns the existing artifact; a new file under an existing key (or with
`revises=`) becomes its next version, and the old version loses `is_latest` in the
same commit.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl

from lakecat.catalog import instance
from lakecat.catalog.record import SQLRecord
from lakecat.engine import errors
from lakecat.engine.ids import base62_increment, random_uid
from lakecat.schemas.core import ARTIFACT

logger = logging.getLogger(__name__)

#: compression suffixes that belong to the suffix before them (`.fastq.gz`)
COMPRESSIONS = frozenset({".gz", ".bz2", ".xz", ".zst", ".zip", ".tar"})
CHUNK = 1 << 20

#: (path, size, mtime_ns) → (hash, hash type, n_files), so a file is hashed once
_hash_cache: dict[tuple[str, int, int], tuple[str, str, int | None]] = {}


def suffix_of(path: PurePosixPath | Path) -> str:
    suffixes = path.suffixes
    if not suffixes:
        return ""
    if len(suffixes) >= 2 and suffixes[-1] in COMPRESSIONS and len(suffixes[-2]) <= 8:
        return "".join(suffixes[-2:])
    return suffixes[-1]


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hash_file(path: Path) -> str:
    """md5 of the bytes, base64url without padding (LaminDB's `hash` for files)."""
    md5 = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            md5.update(chunk)
    return _b64(md5.digest())


def describe_path(path: Path) -> tuple[int, str, str, int | None]:
    """(size, hash, hash type, n_files) of a file or folder."""
    stat = path.stat()
    cache_key = (str(path), stat.st_size, stat.st_mtime_ns)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in files)
        digest = hashlib.md5()
        for p in files:
            digest.update(f"{p.relative_to(path).as_posix()}:{hash_file(p)}\n".encode())
        return size, _b64(digest.digest()), "md5-d", len(files)
    cached = _hash_cache.get(cache_key)
    if cached is None:
        cached = (hash_file(path), "md5", None)
        _hash_cache[cache_key] = cached
    return stat.st_size, cached[0], cached[1], cached[2]


def check_key(key: str) -> str:
    """A key is a relative POSIX path inside the catalog: no `..`, no root."""
    if not isinstance(key, str) or not key.strip():
        msg = f"Artifact.key must be a non-empty string, got {key!r}"
        raise errors.ValidationError(msg, registry="Artifact", field="key")
    posix = PurePosixPath(key)
    if key.startswith(("/", "\\")) or posix.is_absolute() or ":" in posix.parts[0]:
        msg = f"Artifact.key must be a relative path, got the absolute path {key!r}"
        raise errors.ValidationError(msg, registry="Artifact", field="key")
    if ".." in posix.parts or "\\" in key:
        msg = f"Artifact.key {key!r} would escape the catalog: `..` and `\\` are not allowed"
        raise errors.ValidationError(msg, registry="Artifact", field="key")
    return key


class Artifact(SQLRecord, schema=ARTIFACT):
    """A file, folder, table or AnnData in the catalog.

    Examples
    --------
    >>> artifact = lc.Artifact(path, key="images/my_image.jpg").save()  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        key: str | None = None,
        description: str | None = None,
        revises: Artifact | None = None,
        kind: str | None = None,
        **kwargs: Any,
    ) -> None:
        if path is None:
            super().__init__(key=key, description=description, kind=kind, **kwargs)
            self._local_path = None
            self._revises = revises
            return
        local = _local_file(path)
        size, digest, hash_type, n_files = describe_path(local)
        if key is not None:
            check_key(key)
        suffix = suffix_of(PurePosixPath(key)) if key and not local.is_dir() else ""
        path_suffix = "" if local.is_dir() else suffix_of(local)
        if key is not None and suffix != path_suffix:
            msg = (
                f"Artifact.key {key!r} has suffix {suffix!r} but the file has "
                f"{path_suffix!r}; keys keep the file's suffix"
            )
            raise errors.ValidationError(msg, registry="Artifact", field="key")
        if revises is not None and not isinstance(revises, Artifact):
            msg = f"Artifact(revises=...) takes an Artifact, got {revises!r}"
            raise TypeError(msg)
        super().__init__(
            key=key,
            description=description,
            kind=kind,
            suffix=path_suffix,
            size=size,
            hash=digest,
            _hash_type=hash_type,
            n_files=n_files,
            _key_is_virtual=True,
            **kwargs,
        )
        self._local_path = local
        self._revises = revises

    @classmethod
    def _existing(cls, path=None, **kwargs: Any) -> Artifact | None:
        if path is None or kwargs.get("revises") is not None:
            return None
        local = _local_file(path)
        _, digest, _, _ = describe_path(local)
        found = cls.filter(hash=digest).first()
        if found is not None:
            logger.warning("returning existing artifact with same hash: %r", found)
        return found

    @classmethod
    def from_dataframe(cls, df, *, key: str | None = None, description: str | None = None,
                       revises: Artifact | None = None, **kwargs: Any) -> Artifact:  # fmt: skip
        """An artifact from a pandas or Polars DataFrame, stored as Parquet."""
        path = _scratch_path(key, "dataset.parquet")
        if isinstance(df, pl.DataFrame):
            df.write_parquet(path)
            n = df.height
        elif hasattr(df, "to_parquet"):
            df.to_parquet(path)
            n = len(df)
        else:
            msg = f"Artifact.from_dataframe takes a pandas or Polars DataFrame, got {type(df).__name__}"
            raise TypeError(msg)
        artifact = cls(
            path, key=key, description=description, revises=revises, **kwargs
        )
        return artifact._as_dataset("DataFrame", n)

    @classmethod
    def from_df(cls, df, **kwargs: Any) -> Artifact:
        return cls.from_dataframe(df, **kwargs)

    @classmethod
    def from_anndata(cls, adata, *, key: str | None = None, description: str | None = None,
                     revises: Artifact | None = None, **kwargs: Any) -> Artifact:  # fmt: skip
        """An artifact from an AnnData object or `.h5ad` file."""
        if isinstance(adata, (str, os.PathLike)):
            import anndata as ad

            path = Path(adata)
            n = ad.read_h5ad(path, backed="r").n_obs
        else:
            path = _scratch_path(key, "dataset.h5ad")
            adata.write_h5ad(path)
            n = adata.n_obs
        artifact = cls(
            path, key=key, description=description, revises=revises, **kwargs
        )
        return artifact._as_dataset("AnnData", n)

    def _as_dataset(self, otype: str, n_observations: int) -> Artifact:
        """Mark a new artifact as a dataset of `otype` (an existing one is unchanged)."""
        if self.id is None:
            self._values.update(
                kind="dataset", otype=otype, n_observations=n_observations
            )
        return self

    # storage

    @property
    def path(self) -> str:
        """Where the bytes live in the catalog's storage."""
        catalog = instance.current()
        return f"{catalog.root}/objects/{self.uid}{self.suffix}"

    def cache(self) -> Path:
        """A local path to the bytes (downloaded once for remote catalogs)."""
        from lakecat.engine.objects import is_remote

        path = self.path
        if not is_remote(path):
            return Path(path)
        catalog = instance.current()
        target = _cache_dir(catalog) / f"{self.uid}{self.suffix}"
        if not target.exists():
            catalog.objects.get(path, target)
        return target

    def load(self):
        """The content as a Python object: DataFrame for tables, AnnData for `.h5ad`."""
        path = self.cache()
        suffix = self.suffix
        if suffix == ".parquet":
            import pandas as pd

            return pd.read_parquet(path)
        if suffix == ".csv":
            import pandas as pd

            return pd.read_csv(path)
        if suffix == ".h5ad":
            import anndata as ad

            return ad.read_h5ad(path)
        msg = (
            f"cannot load a {suffix or 'suffix-less'} artifact into memory; "
            "supported: .parquet, .csv, .h5ad — use `.cache()` for a path"
        )
        raise errors.UnsupportedError(msg)

    def save(self) -> Artifact:
        catalog = instance.current()
        if self.id is not None:
            # `is_latest` belongs to versioning: a stale copy of this record must
            # not promote or demote it again, so the committed value is kept
            self._fill_defaults(catalog)
            catalog.update("artifact", [self._row()], keep=("is_latest",))
            return self
        if getattr(self, "_local_path", None) is None:
            return super().save()
        self._fill_defaults(catalog)
        self._values["id"] = catalog.allocate_ids("artifact", 1)[0]
        stored: list[str] = []  # where this save put the bytes (its uid may change)
        taken: set[str] = set()  # uids another writer holds bytes under

        def resolve(committed: pl.DataFrame) -> list[dict[str, Any]]:
            """This version and its demoted predecessors, computed on `committed`.

            Called again after a conflict: the version counter and the previous
            latest come from the fresh rows. The bytes go first, create-if-absent
            under the uid, so a row never precedes its bytes and two writers
            never share a uid.
            """
            previous = self._previous_version(catalog, committed)
            while True:
                self._assign_version_uid(previous, committed, taken)
                path = self.path
                if stored and stored[-1] == path:
                    break
                if catalog.objects.put_exclusive(self._local_path, path):
                    if stored:
                        catalog.objects.remove(stored[-1])
                    stored.append(path)
                    break
                taken.add(self.uid)
            return [self._row(), *({**row, "is_latest": False} for row in previous)]

        if self.key is None and self._revises is None:
            catalog.insert("artifact", resolve(pl.DataFrame()))
        else:
            catalog.insert_version("artifact", resolve, family="key")
        self._local_path = None
        return self

    def _previous_version(
        self, catalog, committed: pl.DataFrame
    ) -> list[dict[str, Any]]:
        """The latest rows of this artifact's family in `committed`, newest first.

        The family is the key's (or, with `revises=`, the uid stem's); more than
        one latest row only in a catalog damaged by an older writer, and this
        version demotes them all.
        """
        if self._revises is not None:
            stem = self._revises.uid[:16]
            family = committed.filter(pl.col("uid").str.starts_with(stem))
            latest = family.filter(pl.col("is_latest"))
            if latest.is_empty():
                latest = family.filter(pl.col("id") == self._revises.id)
        elif self.key is not None:
            branches = sorted({1, catalog.branch_id})
            latest = committed.filter(
                (pl.col("key") == self.key)
                & pl.col("is_latest")
                & pl.col("branch_id").is_in(branches)
            )
        else:
            return []
        latest = latest.filter(pl.col("id") != self.id)
        return latest.sort("created_at", "id", descending=True).to_dicts()

    def _assign_version_uid(
        self, previous: list[dict[str, Any]], committed: pl.DataFrame, taken: set[str]
    ) -> None:
        """The next uid of the family (its highest counter + 1), skipping `taken`."""
        if not previous:
            uid = self._values["uid"]
            if len(uid) == 16:
                uid += "0000"
            if uid in taken:  # a random stem already in use: draw another
                uid = random_uid(16) + "0000"
            self._values["uid"] = uid
            return
        stem = previous[0]["uid"][:16]
        family = committed.filter(pl.col("uid").str.starts_with(stem)).get_column("uid")
        counters = [uid[16:] for uid in [*family.to_list(), *taken] if uid[:16] == stem]
        self._values["uid"] = stem + base62_increment(max(counters, default="0000"))
        if self._values.get("key") is None:
            self._values["key"] = previous[0]["key"]

    def delete(
        self, permanent: bool | None = None, storage: bool | None = None
    ) -> None:
        """Trash the artifact; `permanent=True` removes its row, links and bytes."""
        catalog = instance.current()
        if self.id is None:
            msg = "cannot delete an unsaved Artifact"
            raise ValueError(msg)
        promote = None
        if self.is_latest:
            stem = self.uid[:16]
            others = (
                Artifact.filter(uid__startswith=stem)
                .exclude(id=self.id)
                .order_by("-created_at")
            )
            promote = others.first()
        path = self.path
        with catalog.batching():
            if promote is not None:
                promote._values["is_latest"] = True
                catalog.update("artifact", [promote._row()])
            if permanent:
                self._delete_permanently(catalog)
            else:
                self._values["branch_id"] = -1
                if promote is not None:
                    self._values["is_latest"] = False
                catalog.update("artifact", [self._row()])
        if permanent and storage is not False:
            catalog.objects.remove(path)

    def restore(self) -> None:
        """Bring the artifact back; it is the latest again if no newer version is."""
        catalog = instance.current()
        latest = (
            Artifact.filter(uid__startswith=self.uid[:16], is_latest=True)
            .exclude(id=self.id)
            .first()
        )
        self._values["branch_id"] = 1
        with catalog.batching():
            if latest is None or latest.created_at < self.created_at:
                self._values["is_latest"] = True
                if latest is not None:
                    latest._values["is_latest"] = False
                    catalog.update("artifact", [latest._row()])
            else:
                self._values["is_latest"] = False
            catalog.update("artifact", [self._row()])

    @property
    def versions(self):
        """Every version of this artifact, newest first."""
        return Artifact.objects.filter(uid__startswith=self.uid[:16]).order_by(
            "-created_at"
        )

    @property
    def stem_uid(self) -> str:
        return self.uid[:16]

    @property
    def features(self):
        from lakecat.catalog.features import FeatureManager

        return FeatureManager(self)


def _scratch_path(key: str | None, default: str) -> Path:
    """A fresh temporary path named like the key, where an object is serialized."""
    folder = Path(tempfile.mkdtemp(prefix="lakecat-"))
    return folder / (PurePosixPath(key).name if key else default)


def _local_file(path: str | os.PathLike) -> Path:
    text = os.fspath(path)
    if "://" in text and not text.startswith("file://"):
        msg = f"registering remote paths in place is not supported yet: {text}"
        raise errors.UnsupportedError(msg)
    local = Path(text.removeprefix("file://")).expanduser()
    if not local.exists():
        msg = f"Artifact: no such file or folder: {local}"
        raise FileNotFoundError(msg)
    return local.resolve()


def _cache_dir(catalog) -> Path:
    base = Path(os.environ.get("LAKECAT_CACHE", Path.home() / ".cache" / "lakecat"))
    path = base / catalog.uid
    path.mkdir(parents=True, exist_ok=True)
    return path
