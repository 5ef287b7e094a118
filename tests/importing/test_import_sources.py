"""A file read where it lies (FileSource) plans and reads exactly as its bytes do, a chunk at
a time: a large CSV or vCard is inspected and streamed without being held in memory."""

from __future__ import annotations

import codecs
import io
import tempfile
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from bench.datagen import Cell, make_csv, make_vcf
from importing import FileSource, ImportFileError, Source, inspect_file, iter_rows
from importing.source import CHUNK, BytesSource, open_upload
from tests.importing.builders import (
    FIXTURES,
    csv_bytes,
    deflate,
    ole_file,
    raw_zip,
    workbook_with,
    xlsx_from_sheets,
    zeros_deflated,
)

HEADER = ["First Name", "Last Name", "Email", "Mobile Phone"]
ROW = ["Zoë", "Müller", "zoe@example.org", "212-555-0199"]
SHEET: list[list[Cell]] = [list(HEADER), list(ROW)]


@contextmanager
def on_disk(data: bytes) -> Iterator[FileSource]:
    with tempfile.TemporaryFile() as file:
        file.write(data)
        file.flush()
        yield FileSource(file)


def outcome(data: bytes | Source, **options: Any) -> tuple[str, object]:
    """What a reader makes of a file: the plan and every row, or the refusal in full."""
    try:
        plan = inspect_file(data, **options)
        return "read", (
            plan,
            list(iter_rows(data, plan)),
            list(iter_rows(data, plan, start_after=1)),
        )
    except ImportFileError as error:
        return "refused", (error.code, error.message, error.missing_columns, error.found_columns)


def shapes() -> Iterator[tuple[str, bytes]]:
    for path in sorted(FIXTURES.iterdir()):
        if path.name != "expected.json":
            yield path.name, path.read_bytes()
    body = [HEADER, *([ROW] * 40)]
    yield "utf-8 with a mark", codecs.BOM_UTF8 + csv_bytes(body)
    yield "utf-16", csv_bytes(body, encoding="utf-16")
    yield "utf-16-le unmarked", csv_bytes(body, encoding="utf-16-le")
    yield "windows-1252", csv_bytes(body, encoding="cp1252")
    yield "semicolons", csv_bytes(body, delimiter=";")
    # a two-byte character cut by every chunk boundary of the encoding check and the reader
    yield "chunk boundaries", csv_bytes([HEADER, *([["é" * 700, "Ng", "a@example.org", ""]] * 800)])
    yield "empty", b""
    yield "blank", b" \r\n\t" * 30_000
    yield "blank start", b" " * 70_000 + csv_bytes(body)
    yield "json", b'[{"First Name": "Ava"}]'
    yield "html", b"<!doctype html><table></table>"
    yield "vcard", make_vcf(30, domain="v.example.org")
    yield "xlsx", xlsx_from_sheets({"Clients": SHEET})
    yield (
        "xlsx bomb",
        raw_zip(
            [
                ("xl/workbook.xml", deflate(b"<workbook/>"), 11),
                ("xl/worksheets/sheet1.xml", zeros_deflated(300), 4_000),
            ]
        ),
    )
    yield (
        "xlsx lying sizes",
        workbook_with(
            {"xl/worksheets/sheet1.xml": b"<worksheet/>" * 10}, lie={"xl/worksheets/sheet1.xml": 3}
        ),
    )
    yield "encrypted workbook", ole_file(["EncryptionInfo", "EncryptedPackage"])
    yield "old excel", ole_file(["Workbook"])
    yield "truncated zip", xlsx_from_sheets({"Clients": SHEET})[:-30]


@pytest.mark.parametrize(("name", "data"), list(shapes()), ids=[n for n, _ in shapes()])
def test_a_file_on_disk_reads_as_its_bytes_do(name: str, data: bytes) -> None:
    with on_disk(data) as source:
        assert outcome(source) == outcome(data), name
        assert outcome(source, max_rows=3) == outcome(data, max_rows=3)
        assert outcome(source, max_bytes=len(data) - 1) == outcome(data, max_bytes=len(data) - 1)


def test_streams_of_one_file_keep_their_own_positions() -> None:
    data = bytes(range(256)) * (3 * CHUNK // 256 + 7)
    with on_disk(data) as source:
        first, second = source.open(), source.open()
        assert first.read(10) == data[:10]
        assert second.read(CHUNK + 3) == data[: CHUNK + 3]
        assert first.read(5) == data[10:15]
        first.seek(-4, 2)
        assert first.read() == data[-4:]
        assert source.read_at(len(data) - 2, 100) == data[-2:]
        assert b"".join(source.chunks()) == data
        assert source.tail(6) == data[-6:]


def test_a_spooled_upload_is_read_where_it_lies() -> None:
    data = csv_bytes([HEADER, *([ROW] * 100)])
    with tempfile.SpooledTemporaryFile(max_size=1 << 20) as small:
        small.write(data)
        source = open_upload(small)  # type: ignore[arg-type]
        assert isinstance(source, FileSource)  # moved to its temporary file, not copied
        assert source.read_all() == data
    assert isinstance(open_upload(io.BytesIO(data)), BytesSource)


def _peak_reading(data: bytes) -> int:
    """Peak bytes allocated while a file on disk is planned and its first rows are read."""
    with on_disk(data) as source:
        tracemalloc.start()
        try:
            plan = inspect_file(source, max_rows=1_000_000, max_bytes=100_000_000)
            for count, _ in enumerate(iter_rows(source, plan), 1):
                if count == 2_000:
                    break
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


@pytest.mark.parametrize(("make", "rows"), [(make_csv, 40_000), (make_vcf, 40_000)])
def test_a_large_file_is_planned_and_streamed_in_bounded_memory(make: Any, rows: int) -> None:
    small, large = make(rows, domain="big.example.org"), make(2 * rows, domain="big.example.org")
    peak_small, peak_large = _peak_reading(small), _peak_reading(large)
    # never the file, nor a decoded copy of it: a few chunk buffers and their text, however
    # long the file is
    assert peak_large < len(large) // 2, (peak_large, len(large))
    assert peak_large < peak_small + CHUNK, (peak_small, peak_large)
