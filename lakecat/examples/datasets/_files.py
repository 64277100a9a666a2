"""Example files and small data frames, all made offline.

Files are either shipped in ``lakecat/examples/data`` or written by code here.
Every function that returns a file path writes a new copy, so callers may move,
edit or delete it without touching the package data.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import tempfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
"""Folder with the example files shipped as package data."""

JPG_NAME = "grace_hopper.jpg"
FASTQ_NAME = "my_fastq.fastq.gz"
MINI_CSV_NAME = "mini.csv"

IRIS_FEATURES = (
    "sepal length (cm)",
    "sepal width (cm)",
    "petal length (cm)",
    "petal width (cm)",
)
IRIS_SPECIES = ("setosa", "versicolor", "virginica")

# Fisher's iris data (Fisher 1936; the corrected version also used by R and
# scikit-learn). Each group of four numbers is one flower: sepal length, sepal
# width, petal length, petal width in cm. 50 setosa, then 50 versicolor, then
# 50 virginica.
_IRIS_CM = """
5.1 3.5 1.4 0.2  4.9 3.0 1.4 0.2  4.7 3.2 1.3 0.2  4.6 3.1 1.5 0.2  5.0 3.6 1.4 0.2
5.4 3.9 1.7 0.4  4.6 3.4 1.4 0.3  5.0 3.4 1.5 0.2  4.4 2.9 1.4 0.2  4.9 3.1 1.5 0.1
5.4 3.7 1.5 0.2  4.8 3.4 1.6 0.2  4.8 3.0 1.4 0.1  4.3 3.0 1.1 0.1  5.8 4.0 1.2 0.2
5.7 4.4 1.5 0.4  5.4 3.9 1.3 0.4  5.1 3.5 1.4 0.3  5.7 3.8 1.7 0.3  5.1 3.8 1.5 0.3
5.4 3.4 1.7 0.2  5.1 3.7 1.5 0.4  4.6 3.6 1.0 0.2  5.1 3.3 1.7 0.5  4.8 3.4 1.9 0.2
5.0 3.0 1.6 0.2  5.0 3.4 1.6 0.4  5.2 3.5 1.5 0.2  5.2 3.4 1.4 0.2  4.7 3.2 1.6 0.2
4.8 3.1 1.6 0.2  5.4 3.4 1.5 0.4  5.2 4.1 1.5 0.1  5.5 4.2 1.4 0.2  4.9 3.1 1.5 0.2
5.0 3.2 1.2 0.2  5.5 3.5 1.3 0.2  4.9 3.6 1.4 0.1  4.4 3.0 1.3 0.2  5.1 3.4 1.5 0.2
5.0 3.5 1.3 0.3  4.5 2.3 1.3 0.3  4.4 3.2 1.3 0.2  5.0 3.5 1.6 0.6  5.1 3.8 1.9 0.4
4.8 3.0 1.4 0.3  5.1 3.8 1.6 0.2  4.6 3.2 1.4 0.2  5.3 3.7 1.5 0.2  5.0 3.3 1.4 0.2
7.0 3.2 4.7 1.4  6.4 3.2 4.5 1.5  6.9 3.1 4.9 1.5  5.5 2.3 4.0 1.3  6.5 2.8 4.6 1.5
5.7 2.8 4.5 1.3  6.3 3.3 4.7 1.6  4.9 2.4 3.3 1.0  6.6 2.9 4.6 1.3  5.2 2.7 3.9 1.4
5.0 2.0 3.5 1.0  5.9 3.0 4.2 1.5  6.0 2.2 4.0 1.0  6.1 2.9 4.7 1.4  5.6 2.9 3.6 1.3
6.7 3.1 4.4 1.4  5.6 3.0 4.5 1.5  5.8 2.7 4.1 1.0  6.2 2.2 4.5 1.5  5.6 2.5 3.9 1.1
5.9 3.2 4.8 1.8  6.1 2.8 4.0 1.3  6.3 2.5 4.9 1.5  6.1 2.8 4.7 1.2  6.4 2.9 4.3 1.3
6.6 3.0 4.4 1.4  6.8 2.8 4.8 1.4  6.7 3.0 5.0 1.7  6.0 2.9 4.5 1.5  5.7 2.6 3.5 1.0
5.5 2.4 3.8 1.1  5.5 2.4 3.7 1.0  5.8 2.7 3.9 1.2  6.0 2.7 5.1 1.6  5.4 3.0 4.5 1.5
6.0 3.4 4.5 1.6  6.7 3.1 4.7 1.5  6.3 2.3 4.4 1.3  5.6 3.0 4.1 1.3  5.5 2.5 4.0 1.3
5.5 2.6 4.4 1.2  6.1 3.0 4.6 1.4  5.8 2.6 4.0 1.2  5.0 2.3 3.3 1.0  5.6 2.7 4.2 1.3
5.7 3.0 4.2 1.2  5.7 2.9 4.2 1.3  6.2 2.9 4.3 1.3  5.1 2.5 3.0 1.1  5.7 2.8 4.1 1.3
6.3 3.3 6.0 2.5  5.8 2.7 5.1 1.9  7.1 3.0 5.9 2.1  6.3 2.9 5.6 1.8  6.5 3.0 5.8 2.2
7.6 3.0 6.6 2.1  4.9 2.5 4.5 1.7  7.3 2.9 6.3 1.8  6.7 2.5 5.8 1.8  7.2 3.6 6.1 2.5
6.5 3.2 5.1 2.0  6.4 2.7 5.3 1.9  6.8 3.0 5.5 2.1  5.7 2.5 5.0 2.0  5.8 2.8 5.1 2.4
6.4 3.2 5.3 2.3  6.5 3.0 5.5 1.8  7.7 3.8 6.7 2.2  7.7 2.6 6.9 2.3  6.0 2.2 5.0 1.5
6.9 3.2 5.7 2.3  5.6 2.8 4.9 2.0  7.7 2.8 6.7 2.0  6.3 2.7 4.9 1.8  6.7 3.3 5.7 2.1
7.2 3.2 6.0 1.8  6.2 2.8 4.8 1.8  6.1 3.0 4.9 1.8  6.4 2.8 5.6 2.1  7.2 3.0 5.8 1.6
7.4 2.8 6.1 1.9  7.9 3.8 6.4 2.0  6.4 2.8 5.6 2.2  6.3 2.8 5.1 1.5  6.1 2.6 5.6 1.4
7.7 3.0 6.1 2.3  6.3 3.4 5.6 2.4  6.4 3.1 5.5 1.8  6.0 3.0 4.8 1.8  6.9 3.1 5.4 2.1
6.7 3.1 5.6 2.4  6.9 3.1 5.1 2.3  5.8 2.7 5.1 1.9  6.8 3.2 5.9 2.3  6.7 3.3 5.7 2.5
6.7 3.0 5.2 2.3  6.3 2.5 5.0 1.9  6.5 3.0 5.2 2.0  6.2 3.4 5.4 2.3  5.9 3.0 5.1 1.8
"""

# The mock sequencing run behind ``file_fastq``.
_FASTQ_READS = 4
_FASTQ_READ_LENGTH = 36


def _fresh_dir() -> Path:
    """Make a new, empty folder in the system's temp space."""
    return Path(tempfile.mkdtemp(prefix="lakecat-example-"))


def _storage_root() -> Path:
    """Return the local root of the current lakecat storage location.

    Mirrors LaminDB's ``settings.storage.root``; only local roots can be written.
    """
    import lakecat

    storage = getattr(getattr(lakecat, "settings", None), "storage", None)
    root = getattr(storage, "root", None)
    if root is None:
        raise RuntimeError(
            "in_storage_root=True needs a configured storage: "
            "lakecat.settings.storage.root is not available"
        )
    text = str(root)
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif "://" in text:
        raise NotImplementedError(
            f"example files can only be written to a local storage root, not {text}"
        )
    return Path(text)


def _target_dir(in_storage_root: bool) -> Path:
    """Pick the folder an example file is written to."""
    if in_storage_root:
        root = _storage_root()
        root.mkdir(parents=True, exist_ok=True)
        return root
    return _fresh_dir()


def _copy_package_file(name: str) -> Path:
    """Copy one shipped example file into a fresh folder and return the copy."""
    source = DATA_DIR / name
    if not source.is_file():
        raise FileNotFoundError(f"example file {name!r} is missing from {DATA_DIR}")
    target = _fresh_dir() / name
    shutil.copyfile(source, target)
    return target


def file_jpg_paradisi05() -> Path:
    """Return a small JPEG photograph.

    Kept under LaminDB's name for API compatibility; the picture is not the
    one LaminDB uses. It is the official U.S. Navy portrait of Commodore Grace
    M. Hopper (512 x 600 pixels, 61,306 bytes), a work of the U.S. federal
    government in the public domain, as shipped in Matplotlib's sample data.
    See ``lakecat/examples/data/LICENSES.md``.

    Returns
    -------
    pathlib.Path
        Path to ``grace_hopper.jpg`` in a new temporary folder; the caller may
        move or delete it.
    """
    return _copy_package_file(JPG_NAME)


def _fastq_read(number: int) -> tuple[str, str]:
    """Make the sequence and Phred+33 quality string of one mock read.

    Bases and qualities come from a SHAKE-256 stream seeded by the read number,
    so they never change.
    """
    size = _FASTQ_READ_LENGTH
    stream = hashlib.shake_256(f"lakecat-fastq-read{number}".encode()).digest(2 * size)
    bases = "".join("ACGT"[byte % 4] for byte in stream[:size])
    quality = "".join(chr(33 + 20 + byte % 21) for byte in stream[size:])
    return bases, quality


def fastq_text() -> str:
    """Return the uncompressed content of the example FASTQ file.

    Returns
    -------
    str
        Four records of four lines each (``@read1`` to ``@read4``), 36 bases
        per read, Phred+33 qualities between 20 and 40.
    """
    lines = []
    for number in range(1, _FASTQ_READS + 1):
        bases, quality = _fastq_read(number)
        lines += [f"@read{number}", bases, "+", quality]
    return "\n".join(lines) + "\n"


def _gzip_stored(payload: bytes) -> bytes:
    """Wrap bytes in a gzip member whose bytes depend on nothing but the input.

    The deflate stream uses stored (uncompressed) blocks, so the output is the
    same whatever zlib build Python links to; the header has no name and a
    zero modification time.
    """
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x00\xff"
    step = 0xFFFF  # the largest stored block
    chunks = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
    blocks = []
    for index, chunk in enumerate(chunks):
        final = int(index == len(chunks) - 1)
        size = len(chunk)
        blocks.append(struct.pack("<BHH", final, size, size ^ 0xFFFF) + chunk)
    trailer = struct.pack("<II", zlib.crc32(payload), len(payload) & 0xFFFFFFFF)
    return header + b"".join(blocks) + trailer


def file_fastq(in_storage_root: bool = False) -> Path:
    """Write a small gzipped FASTQ file with four mock reads.

    The content is made in code (see :func:`fastq_text`) and its bytes are the
    same on every call and every machine.

    Parameters
    ----------
    in_storage_root
        If true, write the file into the local root of the current lakecat
        storage (``lakecat.settings.storage.root``), as LaminDB does, instead
        of into a new temporary folder.

    Returns
    -------
    pathlib.Path
        Path to ``my_fastq.fastq.gz``.
    """
    target = _target_dir(in_storage_root) / FASTQ_NAME
    target.write_bytes(_gzip_stored(fastq_text().encode("ascii")))
    return target


def file_mini_csv(in_storage_root: bool = False) -> Path:
    """Write a one-column CSV file holding ``test`` = 1, 2, 3.

    Parameters
    ----------
    in_storage_root
        If true, write into the local root of the current lakecat storage
        instead of into a new temporary folder.

    Returns
    -------
    pathlib.Path
        Path to ``mini.csv``.
    """
    target = _target_dir(in_storage_root) / MINI_CSV_NAME
    target.write_text("test\n1\n2\n3\n", encoding="utf-8")
    return target


def _iris_rows() -> list[list[float]]:
    """Parse the iris literal into 150 rows of four floats."""
    values = [float(token) for token in _IRIS_CM.split()]
    return [values[i : i + 4] for i in range(0, len(values), 4)]


def df_iris() -> pd.DataFrame:
    """Return Fisher's iris data as scikit-learn's ``load_iris`` frame.

    150 flowers, 50 of each species, with the same columns and dtypes as
    LaminDB's ``df_iris``: four float64 measurements in cm
    (``"sepal length (cm)"``, ``"sepal width (cm)"``, ``"petal length (cm)"``,
    ``"petal width (cm)"``) and an int64 ``"target"`` (0 setosa,
    1 versicolor, 2 virginica).

    Returns
    -------
    pandas.DataFrame
        Shape (150, 5), default RangeIndex.
    """
    import numpy as np
    import pandas as pd

    data = np.asarray(_iris_rows(), dtype=np.float64)
    frame = pd.DataFrame(data, columns=list(IRIS_FEATURES))
    frame["target"] = np.repeat(np.arange(3, dtype=np.int64), 50)
    return frame


def df_iris_in_meter() -> pd.DataFrame:
    """Return the iris data with lengths in meters and species names.

    Returns
    -------
    pandas.DataFrame
        Columns ``sepal_length``, ``sepal_width``, ``petal_length``,
        ``petal_width`` (float64, m) and ``iris_organism_name`` (str).
    """
    frame = df_iris()
    renames = {name: name.split(" (")[0].replace(" ", "_") for name in IRIS_FEATURES}
    frame = frame.rename(columns=renames)
    measures = list(renames.values())
    frame[measures] = frame[measures] / 100
    frame["iris_organism_name"] = frame.pop("target").map(dict(enumerate(IRIS_SPECIES)))
    return frame


def df_iris_in_meter_study1() -> pd.DataFrame:
    """Return the first 75 rows of :func:`df_iris_in_meter`.

    Returns
    -------
    pandas.DataFrame
        Rows 0 to 74.
    """
    frame = df_iris_in_meter()
    return frame.iloc[: len(frame) // 2]


def df_iris_in_meter_study2() -> pd.DataFrame:
    """Return the last 75 rows of :func:`df_iris_in_meter`.

    Returns
    -------
    pandas.DataFrame
        Rows 75 to 149.
    """
    frame = df_iris_in_meter()
    return frame.iloc[len(frame) // 2 :]
