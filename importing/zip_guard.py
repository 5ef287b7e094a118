"""Refuse zip bombs in a workbook before any parser sees it, inflating each member once."""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator

from importing.errors import unsafe_workbook
from importing.source import Source, source_of
from importing.xml_guard import MemberScan

MAX_MEMBERS = 2_000
# Apache POI refuses below 1:100; Excel's own sheets stay far under 1:200.
MAX_RATIO = 200
# The ratio is judged once a member has grown past this, so small members may be any shape.
RATIO_GRACE = 1 << 20
MIN_TOTAL = 100 << 20
MAX_TOTAL = 500 << 20
_IN_CHUNK = 16 << 10
_OUT_CHUNK = 1 << 20
_LOCAL_HEADER = b"PK\x03\x04"


def open_zip(data: bytes | Source) -> zipfile.ZipFile:
    """The archive, after a cheap look at its entry count; ImportFileError when not a zip."""
    source = source_of(data)
    tail = source.tail(65_557)
    end = tail.rfind(b"PK\x05\x06")
    if end >= 0 and len(tail) >= end + 12:
        entries = struct.unpack_from("<H", tail, end + 10)[0]
        if entries > MAX_MEMBERS:
            raise unsafe_workbook()
    try:
        archive = zipfile.ZipFile(source.open())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise unsafe_workbook() from None
    if len(archive.infolist()) > MAX_MEMBERS:
        raise unsafe_workbook()
    return archive


def check_workbook(data: bytes | Source, max_bytes: int) -> None:
    """Inflate every member once, bounded, and refuse bombs, DTDs and non-UTF-8 XML."""
    source = source_of(data)
    budget = min(MAX_TOTAL, max(MIN_TOTAL, 50 * max_bytes))
    with open_zip(source) as archive:
        total = 0
        for info in archive.infolist():
            if info.is_dir():
                continue
            _check_declared(info, budget)
            total += _inflate(source, info, budget - total)
            if total > budget:
                raise unsafe_workbook()


def _check_declared(info: zipfile.ZipInfo, budget: int) -> None:
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise unsafe_workbook()
    if info.file_size > budget:
        raise unsafe_workbook()
    if info.file_size > RATIO_GRACE and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise unsafe_workbook()


def _raw(source: Source, start: int, length: int, size: int) -> Iterator[bytes]:
    """A member's stored bytes, `size` at a time."""
    for begin in range(start, start + length, size):
        yield source.read_at(begin, min(size, start + length - begin))


def _inflate(source: Source, info: zipfile.ZipInfo, budget: int) -> int:
    """The member's real size, found by inflating it; the sizes written in the zip may lie."""
    start = _data_offset(source, info)
    if max(0, min(source.size, start + info.compress_size) - start) != info.compress_size:
        raise unsafe_workbook()
    scan = MemberScan()
    if info.compress_type == zipfile.ZIP_STORED:
        for block in _raw(source, start, info.compress_size, _OUT_CHUNK):
            scan.feed(block)
        scan.finish()
        return info.compress_size
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced, fed = 0, 0
    try:
        for chunk in _raw(source, start, info.compress_size, _IN_CHUNK):
            fed += len(chunk)
            while chunk:
                out = inflater.decompress(chunk, _OUT_CHUNK)
                chunk = inflater.unconsumed_tail
                produced += len(out)
                if produced > budget or (produced > RATIO_GRACE and produced > MAX_RATIO * fed):
                    raise unsafe_workbook()
                scan.feed(out)
            if inflater.eof:
                break
        rest = inflater.flush()
    except zlib.error:
        raise unsafe_workbook() from None
    scan.feed(rest)
    scan.finish()
    return produced + len(rest)


def _data_offset(source: Source, info: zipfile.ZipInfo) -> int:
    offset = info.header_offset
    if offset < 0:
        raise unsafe_workbook()
    header = source.read_at(offset, 30)
    if header[:4] != _LOCAL_HEADER or len(header) < 30:
        raise unsafe_workbook()
    flags, method = struct.unpack_from("<HH", header, 6)
    local_compressed = struct.unpack_from("<I", header, 18)[0]
    name_len, extra_len = struct.unpack_from("<HH", header, 26)
    # Another reader may trust the local header's size, so it must agree with the directory.
    if method != info.compress_type or (
        not flags & 0x8 and local_compressed not in (0xFFFFFFFF, info.compress_size)
    ):
        raise unsafe_workbook()
    return offset + 30 + int(name_len) + int(extra_len)


def is_zip(data: bytes) -> bool:
    """data: the file's first bytes."""
    return data[:4] in (_LOCAL_HEADER, b"PK\x05\x06")
