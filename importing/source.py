"""An upload's bytes as the readers take them: in memory, or a file read a chunk at a time."""

from __future__ import annotations

import codecs
import hashlib
import io
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import BinaryIO

CHUNK = 1 << 20


class Source(ABC):
    """Bytes read from the start as often as a reader needs, each stream independent of the
    others, so that a reader never needs the whole file as one bytes object."""

    size: int

    @abstractmethod
    def read_at(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset` (fewer at the end of the file)."""

    @abstractmethod
    def open(self) -> BinaryIO:
        """A new seekable stream at offset 0."""

    def head(self, length: int) -> bytes:
        return self.read_at(0, length)

    def tail(self, length: int) -> bytes:
        start = max(0, self.size - length)
        return self.read_at(start, self.size - start)

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        for offset in range(0, self.size, size):
            yield self.read_at(offset, size)

    def digest(self) -> bytes:
        """A 128-bit digest of the content, read a chunk at a time."""
        hasher = hashlib.blake2b(digest_size=16)
        for chunk in self.chunks():
            hasher.update(chunk)
        return hasher.digest()

    def decoded(self, encoding: str, errors: str = "strict") -> Iterator[str]:
        """The content as text, a chunk at a time (a sequence cut between chunks is joined)."""
        decoder = codecs.getincrementaldecoder(encoding)(errors)
        for chunk in self.chunks():
            yield decoder.decode(chunk)
        yield decoder.decode(b"", final=True)

    def read_all(self) -> bytes:
        """The whole content: only for the small or refused files that need random access."""
        return self.read_at(0, self.size)


class BytesSource(Source):
    """Bytes already in memory (a test, a small file); streams share them, never copy them."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def read_at(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)  # CPython shares the buffer until it is written to

    def read_all(self) -> bytes:
        return self.data


class FileSource(Source):
    """A file read with positional reads: streams do not share a position, and the file's
    bytes are only in memory a buffer at a time. The file must not change while it is read;
    the caller keeps it open (and closes it)."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.fd = file.fileno()
        self.size = os.fstat(self.fd).st_size

    def read_at(self, offset: int, length: int) -> bytes:
        parts: list[bytes] = []
        end = min(offset + length, self.size)
        while offset < end:
            part = os.pread(self.fd, end - offset, offset)
            if not part:
                break
            parts.append(part)
            offset += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def open(self) -> BinaryIO:
        return io.BufferedReader(_PositionalReader(self.fd, self.size), CHUNK)


class _PositionalReader(io.RawIOBase):
    """A raw stream over a file descriptor with its own position (pread, never lseek)."""

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        self.fd, self.size, self.position = fd, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = os.preadv(self.fd, [buffer], self.position) if self.position < self.size else 0
        self.position += count
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position


def source_of(data: bytes | Source) -> Source:
    return data if isinstance(data, Source) else BytesSource(data)


def open_upload(file: BinaryIO) -> Source:
    """A Source over an uploaded file object: read where it lies when it is a real file (a
    spooled upload is moved to disk first), else from the bytes it holds."""
    try:
        file.fileno()  # a SpooledTemporaryFile rolls over to its temporary file here
    except (OSError, io.UnsupportedOperation, AttributeError):
        file.seek(0)
        return BytesSource(file.read())
    file.flush()
    return FileSource(file)
