"""Small makers of test uploads: CSV text, workbooks, hostile zips and OLE compound files."""

from __future__ import annotations

import csv
import io
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from bench.datagen import Sheet, xlsx_from_sheets
from importing import ClientRow, FilePlan, RowError, inspect_file, iter_rows

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "imports"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

__all__ = ["FIXTURES", "Sheet", "read", "xlsx_from_sheets"]


def csv_bytes(
    rows: Sequence[Sequence[str]], *, delimiter: str = ",", encoding: str = "utf-8"
) -> bytes:
    """Rows joined as a spreadsheet program writes them: CRLF, quotes where needed."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def read(
    data: bytes, **options: object
) -> tuple[FilePlan, list[ClientRow], list[RowError], list[ClientRow | RowError]]:
    """inspect_file then iter_rows: (plan, ok rows, error rows, everything in order)."""
    plan = inspect_file(data, **options)  # type: ignore[arg-type]
    rows = list(iter_rows(data, plan))
    ok = [r for r in rows if isinstance(r, ClientRow)]
    bad = [r for r in rows if isinstance(r, RowError)]
    return plan, ok, bad, rows


def raw_zip(members: Sequence[tuple[str, bytes, int] | tuple[str, bytes, int, int]]) -> bytes:
    """A zip from already deflated members: (name, raw deflate data, declared size[, crc]).

    The declared size is written as given, so a test can make a zip that lies about it.
    """
    body = bytearray()
    central = bytearray()
    for member in members:
        name, payload, size = member[:3]
        crc = member[3] if len(member) > 3 else 0
        encoded = name.encode()
        offset = len(body)
        body += struct.pack(
            "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(payload), size, len(encoded), 0
        )
        body += encoded + payload
        central += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(payload), size, len(encoded),
            0, 0, 0, 0, 0, offset,
        )  # fmt: skip
        central += encoded
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(body), 0
    )
    return bytes(body + central + end)


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def zeros_deflated(megabytes: int) -> bytes:
    """A deflate stream of megabytes MiB of zeros, made in milliseconds: after a full flush a
    deflate block stands alone, so one compressed MiB can be repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * megabytes + b"\x03\x00"  # an empty final block


def workbook_with(members: dict[str, bytes], *, lie: dict[str, int] | None = None) -> bytes:
    """A one-sheet workbook ("Clients") with members replaced or added; lie gives declared
    sizes to write instead of the true ones."""
    with zipfile.ZipFile(io.BytesIO(xlsx_from_sheets({"Clients": []}))) as skeleton:
        parts = {name: skeleton.read(name) for name in skeleton.namelist()}
    parts.update(members)
    lie = lie or {}
    return raw_zip(
        [
            (name, deflate(data), lie.get(name, len(data)), zlib.crc32(data))
            for name, data in parts.items()
        ]
    )


def ole_file(streams: Sequence[str]) -> bytes:
    """A minimal compound file (one FAT sector, one directory sector) naming empty streams."""
    header = bytearray(512)
    header[0:8] = OLE_MAGIC
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIII", header, 0x2C, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([0xFFFFFFFF] * 108))
    fat = struct.pack("<128I", 0xFFFFFFFD, 0xFFFFFFFE, *([0xFFFFFFFF] * 126))
    directory = bytearray(512)
    for index, (name, kind) in enumerate([("Root Entry", 5), *((s, 2) for s in streams[:3])]):
        encoded = (name + "\0").encode("utf-16-le")
        entry = index * 128
        directory[entry : entry + len(encoded)] = encoded
        struct.pack_into("<HB", directory, entry + 64, len(encoded), kind)
    return bytes(header + fat + directory)


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
