"""Refuse zip bombs in a workbook before any parser sees it, inflating each member once."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from importing.errors import unsafe_workbook
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


def open_zip(data: bytes) -> zipfile.ZipFile:
    """The archive, after a cheap look at its entry count; ImportFileError when not a zip."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end >= 0 and len(data) >= end + 12:
        entries = struct.unpack_from("<H", data, end + 10)[0]
        if entries > MAX_MEMBERS:
            raise unsafe_workbook()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise unsafe_workbook() from None
    if len(archive.infolist()) > MAX_MEMBERS:
        raise unsafe_workbook()
    return archive


def check_workbook(data: bytes, max_bytes: int) -> None:
    """Inflate every member once, bounded, and refuse bombs, DTDs and non-UTF-8 XML."""
    budget = min(MAX_TOTAL, max(MIN_TOTAL, 50 * max_bytes))
    with open_zip(data) as archive:
        total = 0
        for info in archive.infolist():
            if info.is_dir():
                continue
            _check_declared(info, budget)
            total += _inflate(data, info, budget - total)
            if total > budget:
                raise unsafe_workbook()


def _check_declared(info: zipfile.ZipInfo, budget: int) -> None:
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise unsafe_workbook()
    if info.file_size > budget:
        raise unsafe_workbook()
    if info.file_size > RATIO_GRACE and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise unsafe_workbook()


def _inflate(data: bytes, info: zipfile.ZipInfo, budget: int) -> int:
    """The member's real size, found by inflating it; the sizes written in the zip may lie."""
    start = _data_offset(data, info)
    raw = memoryview(data)[start : start + info.compress_size]
    if len(raw) != info.compress_size:
        raise unsafe_workbook()
    scan = MemberScan()
    if info.compress_type == zipfile.ZIP_STORED:
        for begin in range(0, len(raw), _OUT_CHUNK):
            scan.feed(bytes(raw[begin : begin + _OUT_CHUNK]))
        scan.finish()
        return len(raw)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced, fed = 0, 0
    try:
        for begin in range(0, len(raw), _IN_CHUNK):
            chunk: bytes | memoryview = raw[begin : begin + _IN_CHUNK]
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


def _data_offset(data: bytes, info: zipfile.ZipInfo) -> int:
    offset = info.header_offset
    if data[offset : offset + 4] != _LOCAL_HEADER or len(data) < offset + 30:
        raise unsafe_workbook()
    flags, method = struct.unpack_from("<HH", data, offset + 6)
    local_compressed = struct.unpack_from("<I", data, offset + 18)[0]
    name_len, extra_len = struct.unpack_from("<HH", data, offset + 26)
    # Another reader may trust the local header's size, so it must agree with the directory.
    if method != info.compress_type or (
        not flags & 0x8 and local_compressed not in (0xFFFFFFFF, info.compress_size)
    ):
        raise unsafe_workbook()
    return offset + 30 + int(name_len) + int(extra_len)


def is_zip(data: bytes) -> bool:
    return data[:4] in (_LOCAL_HEADER, b"PK\x05\x06")
