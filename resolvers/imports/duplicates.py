"""The e-mails an import has met so far, as compact digests, undoable back to the last batch."""

from __future__ import annotations

_BUCKETS = 1 << 16  # chosen by a digest's first two bytes
_REST = 14  # the digest's other bytes, kept in the bucket
_ENTRY = _REST + 4  # and the row the digest was first met on, little-endian


class DuplicateMemory:
    """16-byte e-mail digest -> the row of the file it first appeared on.

    A dict of a million 128-bit ints and their rows takes about 130 MB (and the retry copy
    of it as much again); here an entry is 18 bytes of a bytes bucket, about 22 MB for a
    million. Changes since `mark()` are undone by `rollback()`: a batch whose transaction
    is retried starts again from the memory it began with.
    """

    def __init__(self) -> None:
        self._buckets: list[bytes] = [b""] * _BUCKETS
        self._undo: dict[int, bytes] = {}  # bucket -> its content at the last mark
        self._count = 0
        self._count_at_mark = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: bytes) -> bool:
        return _find(self._buckets[_bucket(key)], key) >= 0

    def __getitem__(self, key: bytes) -> int:
        bucket = self._buckets[_bucket(key)]
        at = _find(bucket, key)
        if at < 0:
            raise KeyError(key)
        return int.from_bytes(bucket[at + _REST : at + _ENTRY], "little")

    def __setitem__(self, key: bytes, row: int) -> None:
        index = _bucket(key)
        bucket = self._buckets[index]
        self._undo.setdefault(index, bucket)
        value = row.to_bytes(4, "little")
        at = _find(bucket, key)
        if at >= 0:
            self._buckets[index] = bucket[: at + _REST] + value + bucket[at + _ENTRY :]
        else:
            self._buckets[index] = bucket + key[2:] + value
            self._count += 1

    def mark(self) -> None:
        """What rollback() returns to: the memory as it is now."""
        self._undo.clear()
        self._count_at_mark = self._count

    def rollback(self) -> None:
        for index, bucket in self._undo.items():
            self._buckets[index] = bucket
        self._undo.clear()
        self._count = self._count_at_mark


def _bucket(key: bytes) -> int:
    if len(key) != _REST + 2:
        raise ValueError("a key is a 16-byte digest")
    return (key[0] << 8) | key[1]


def _find(bucket: bytes, key: bytes) -> int:
    """The offset of the key's entry in its bucket, or -1 (a match must start an entry)."""
    rest = key[2:]
    at = bucket.find(rest)
    while at >= 0 and at % _ENTRY:
        at = bucket.find(rest, at + 1)
    return at
