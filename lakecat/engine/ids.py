"""Integer ids that stay unique when many processes insert at once, and uids.

Blind Delta appends do not conflict with each other, so ids cannot come from
"max(id) + 1" alone. Each table keeps a chain of claims next to its Delta log:
`_lakecat_ids/<n>` (n = 1, 2, …) holds the range `start end` claimed by the n-th
allocation. A writer creates claim n+1 with create-if-absent; losing the race
means someone else took n+1, so it reads that claim and tries n+2. Ranges are
therefore disjoint and increasing, ids stay dense within a process, and an id is
never reused (a crashed writer leaves a gap, not a duplicate). The underscore
keeps the folder out of Delta's sight, including vacuum's.

Create-if-absent is `os.link` locally, `If-None-Match: *` on S3 and
`ifGenerationMatch=0` on GCS (see `ObjectStore.create_exclusive`); a claim is
written whole, so a writer killed mid-claim leaves either no claim or a full one.
Claims are never deleted: a writer that remembers claim n must find it again.
"""

from __future__ import annotations

import secrets
import string

from lakecat.engine.objects import ObjectStore

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
CLAIMS = "_lakecat_ids"


def random_uid(length: int) -> str:
    """A random base62 string."""
    return "".join(secrets.choice(BASE62) for _ in range(length))


def base62_increment(counter: str) -> str:
    """The next base62 counter of the same width (`0000` → `0001`, `000z` → `0010`)."""
    digits = list(counter)
    for i in range(len(digits) - 1, -1, -1):
        position = BASE62.index(digits[i])
        if position < len(BASE62) - 1:
            digits[i] = BASE62[position + 1]
            return "".join(digits)
        digits[i] = BASE62[0]
    msg = f"version counter {counter!r} overflowed"
    raise OverflowError(msg)


class IdAllocator:
    """Allocates id ranges per table through the claim chain."""

    def __init__(self, objects: ObjectStore, table_uri) -> None:
        self.objects = objects
        self.table_uri = table_uri
        #: per table, the last claim seen (number, end of its range): the next
        #: probe starts there, so a process reads each claim at most once
        self._last: dict[str, tuple[int, int]] = {}

    def _claim_path(self, table: str, n: int) -> str:
        return f"{self.table_uri(table)}/{CLAIMS}/{n:012d}"

    def allocate(self, table: str, count: int, floor: int) -> range:
        """Claim `count` consecutive ids above `floor` (the table's current max id)."""
        if count < 1:
            return range(0)
        n, high = self._last.get(table) or self._latest(table)
        high = max(high, floor)
        while True:
            start = high + 1
            end = start + count - 1
            if self.objects.create_exclusive(
                self._claim_path(table, n + 1), f"{start} {end}".encode()
            ):
                self._last[table] = (n + 1, end)
                return range(start, end + 1)
            n += 1
            high = max(high, self._read_claim(table, n)[1])

    def release(self, table: str, unused: range) -> None:
        """Give back the unused tail of this process's last claim.

        Only while nobody has claimed after it: the claim is rewritten with a
        shorter range. A writer that read the old range starts after it, one that
        reads the new range starts after that; neither overlaps an id in use.
        """
        last = self._last.get(table)
        if not unused or last is None or unused.stop - 1 != last[1]:
            return
        n, _ = last
        if self.objects.exists(self._claim_path(table, n + 1)):
            return
        start, _ = self._read_claim(table, n)
        end = max(unused.start - 1, start - 1)
        self.objects.write_bytes(self._claim_path(table, n), f"{start} {end}".encode())
        self._last[table] = (n, end)

    def _read_claim(self, table: str, n: int) -> tuple[int, int]:
        start, end = self.objects.read_bytes(self._claim_path(table, n)).split()
        return int(start), int(end)

    def _latest(self, table: str) -> tuple[int, int]:
        """The highest claim in the chain and the end of its range ((0, 0) if none)."""
        names = self.objects.list_names(f"{self.table_uri(table)}/{CLAIMS}")
        numbers = [int(name) for name in names if name.isdigit()]
        if not numbers:
            return 0, 0
        n = max(numbers)
        return n, self._read_claim(table, n)[1]
