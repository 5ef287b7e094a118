"""XLSX uploads: header search, sheet choice, cell types, formulas, and hostile workbooks."""

from __future__ import annotations

import datetime
import io
import time
import tracemalloc

import openpyxl
import pytest

from importing import ClientField, ImportFileError, ImportFormat, inspect_file, iter_rows
from tests.importing.builders import (
    deflate,
    raw_zip,
    read,
    workbook_with,
    xlsx_from_sheets,
    zeros_deflated,
    zip_of,
)

F = ClientField
HEADER = ["First Name", "Last Name", "Email", "Mobile Phone", "Date of Birth"]


def openpyxl_workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_cells_of_every_type() -> None:
    data = openpyxl_workbook(
        {"Clients": [
            HEADER,
            ["Ava", "Nguyen", "ava@example.org", 2125550199, datetime.datetime(1990, 2, 3)],
            ["Leo", "Silva", "leo@example.org", 12125550198.0, datetime.date(1985, 7, 1)],
            ["Mia", 7, "mia@example.org", "(212) 555-0197", "02/03/1990"],
            ["Kai", "Ito", "kai@example.org", 4.5, 33000],
        ]}
    )  # fmt: skip
    plan, ok, bad, _ = read(data)
    assert plan.format is ImportFormat.XLSX and not bad
    assert [r.mobile_phone for r in ok] == ["+12125550199", "+12125550198", "+12125550197", None]
    assert [r.date_of_birth for r in ok[:3]] == [
        datetime.date(1990, 2, 3), datetime.date(1985, 7, 1), datetime.date(1990, 2, 3),
    ]  # fmt: skip
    assert ok[2].last_name == "7"
    assert [w.code for w in ok[3].warnings] == ["INVALID_PHONE", "INVALID_DATE"]


def test_shared_strings_title_rows_and_line_numbers() -> None:
    rows: list[list[str | int | float | None]] = [
        ["Client List Export"], [], ["Printed by", "Someone"],
        [None, *HEADER], [None, "Ava", "Nguyen", "ava@example.org", 2125550199, None], [],
        [None, "Leo", "Silva", "leo@example.org", None, None],
    ]  # fmt: skip
    plan, ok, _, _ = read(xlsx_from_sheets({"Export": rows}))
    assert plan.headers == HEADER and plan.layout.sheet == "Export"
    assert [r.row for r in ok] == [5, 7]
    assert ok[0].mobile_phone == "+12125550199"


def test_the_first_sheet_with_the_required_columns_is_used() -> None:
    data = xlsx_from_sheets(
        {
            "Summary": [["Total clients", 2], ["Name", "Count"]],
            "Blank": [],
            "Clients": [HEADER, ["Ava", "Nguyen", "ava@example.org", None, None]],
            "Later": [HEADER, ["Leo", "Silva", "leo@example.org", None, None]],
        }
    )
    plan, ok, _, _ = read(data)
    assert plan.layout.sheet == "Clients"
    assert [r.first_name for r in ok] == ["Ava"]


def test_formula_cells_are_read_as_their_cached_values() -> None:
    rows: list[list[str | int | float | None]] = [
        [*HEADER[:3], "Mobile Phone"],
        ["Ava", "Nguyen", "ava@example.org", 2125550199],
    ]
    data = xlsx_from_sheets(
        {"Clients": rows}, formulas={"C2": 'LOWER("AVA@EXAMPLE.ORG")', "D2": "2125550000+199"}
    )
    _, ok, _, _ = read(data)
    assert (ok[0].email, ok[0].mobile_phone) == ("ava@example.org", "+12125550199")


def test_formula_without_a_cached_value_is_an_empty_cell_not_formula_text() -> None:
    data = openpyxl_workbook(
        {"Clients": [HEADER[:3], ["Ava", "Nguyen", '=CONCAT("ava","@example.org")']]}
    )
    _, _, bad, _ = read(data)
    assert bad[0].issues[0].code == "MISSING_FIELD"


def test_missing_columns_name_the_sheet_headers() -> None:
    data = xlsx_from_sheets(
        {"Clients": [["First Name", "Last Name", "Phone"], ["Ava", "Nguyen", 1]]}
    )
    with pytest.raises(ImportFileError) as caught:
        inspect_file(data)
    assert (caught.value.code, caught.value.missing_columns) == (
        "MISSING_REQUIRED_COLUMNS",
        ["Email"],
    )
    assert caught.value.found_columns == ["First Name", "Last Name", "Phone"]


def test_explicit_mapping_picks_the_sheet_that_has_the_mapped_columns() -> None:
    data = xlsx_from_sheets(
        {
            "Clients": [HEADER[:3], ["Ava", "Nguyen", "ava@example.org"]],
            "Other": [["Given", "Family", "Mail"], ["Leo", "Silva", "leo@example.org"]],
        }
    )
    mapping = {F.FIRST_NAME: "Given", F.LAST_NAME: "Family", F.EMAIL: "Mail"}
    plan, ok, _, _ = read(data, column_mapping=mapping)
    assert plan.layout.sheet == "Other" and ok[0].first_name == "Leo"


@pytest.mark.parametrize(
    "sheets",
    [{"Empty": []}, {"Clients": [HEADER]}, {"A": [], "B": [HEADER, [None, None, "  "]]}],
)
def test_empty_workbooks(sheets: dict[str, list[list[str | int | float | None]]]) -> None:
    with pytest.raises(ImportFileError) as caught:
        inspect_file(xlsx_from_sheets(sheets))
    assert caught.value.code == "EMPTY_FILE"


def test_row_cap_and_resume() -> None:
    rows: list[list[str | int | float | None]] = [HEADER[:3]]
    rows += [["A", "B", f"c{i}@example.org"] if i % 3 else ["", "", ""] for i in range(30)]
    data = xlsx_from_sheets({"Clients": rows})
    plan, _, _, everything = read(data)
    assert plan.total_rows == 20 == len(everything)
    for start in (0, 1, 7, 19, 20, 25):
        assert list(iter_rows(data, plan, start_after=start)) == everything[start:]
    with pytest.raises(ImportFileError) as caught:
        inspect_file(data, max_rows=19)
    assert caught.value.code == "TOO_MANY_ROWS"


def _refused_quickly(data: bytes, code: str = "UNSUPPORTED_FILE") -> ImportFileError:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ImportFileError) as caught:
            inspect_file(data)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.code == code
    assert elapsed < 2.0
    assert peak < 32 << 20
    return caught.value


def test_zip_bomb_sheet_is_refused_fast_with_bounded_memory() -> None:
    bomb = zeros_deflated(400)  # 400 MiB of zeros in about 400 KB
    data = raw_zip(
        [
            ("xl/workbook.xml", deflate(b"<workbook/>"), 11),
            ("xl/worksheets/sheet1.xml", bomb, 400 << 20),
        ]
    )
    assert len(data) < 1 << 20
    _refused_quickly(data)


def test_zip_bomb_that_lies_about_its_size_is_refused_too() -> None:
    data = raw_zip(
        [
            ("xl/workbook.xml", deflate(b"<workbook/>"), 11),
            ("xl/worksheets/sheet1.xml", zeros_deflated(400), 4_000),
        ]
    )
    _refused_quickly(data)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b"<si><t>&lol9;</t></si></sst>"
)


def test_billion_laughs_shared_strings_are_refused() -> None:
    sheet = b'<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>'
    data = workbook_with(
        {"xl/sharedStrings.xml": BILLION_LAUGHS, "xl/worksheets/sheet1.xml": sheet}
    )
    _refused_quickly(data)


@pytest.mark.parametrize(
    "member",
    [
        (
            "xl/workbook.xml",
            b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.org/x"><workbook/>',
        ),
        ("xl/worksheets/sheet1.xml", "<worksheet><!ENTITY a 'b'></worksheet>".encode("utf-16")),
        ("xl/worksheets/sheet1.xml", b"<worksheet>" + b" " * 70_000 + b"<!doctype x></worksheet>"),
    ],
)
def test_dtds_anywhere_and_utf16_xml_are_refused(member: tuple[str, bytes]) -> None:
    _refused_quickly(workbook_with(dict([member])))


def test_too_many_members_and_damaged_zips_are_refused() -> None:
    many = zip_of({"xl/workbook.xml": b"<workbook/>", **{f"x/{i}.xml": b"" for i in range(2_100)}})
    assert _refused_quickly(many).code == "UNSUPPORTED_FILE"
    good = xlsx_from_sheets({"Clients": [HEADER[:3], ["Ava", "Nguyen", "ava@example.org"]]})
    _refused_quickly(good[: len(good) // 2])
    broken_member = workbook_with({"xl/worksheets/sheet1.xml": b"<worksheet>"})
    _refused_quickly(broken_member[:60] + b"\xff" * 40 + broken_member[100:])


def test_iter_rows_vets_bytes_it_was_not_planned_with() -> None:
    good = xlsx_from_sheets({"Clients": [HEADER[:3], ["Ava", "Nguyen", "ava@example.org"]]})
    plan = inspect_file(good)
    bomb = raw_zip(
        [
            ("xl/workbook.xml", deflate(b"<workbook/>"), 11),
            ("xl/worksheets/sheet1.xml", zeros_deflated(300), 9),
        ]
    )
    with pytest.raises(ImportFileError):
        list(iter_rows(bomb, plan))


NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
HEAD_ROWS = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>First Name</t></is></c><c r="B1" t="inlineStr">'
    b'<is><t>Last Name</t></is></c><c r="C1" t="inlineStr"><is><t>Email</t></is></c></row><row r="2">'
    b'<c r="A2" t="inlineStr"><is><t>Ava</t></is></c><c r="B2" t="inlineStr"><is><t>Nguyen</t></is>'
    b'</c><c r="C2" t="inlineStr"><is><t>ava@example.org</t></is></c></row>'
)


def sheet_xml(body: bytes) -> bytes:
    return b"<worksheet " + NS + b"><sheetData>" + HEAD_ROWS + body + b"</sheetData></worksheet>"


# calamine allocates the whole rectangle its cells span, and aborts the process (uncatchable)
# when that fails; every spelling of a far-away cell it accepts must be caught first.
FAR_CELLS = {
    "far cell": b'<row r="3"><c r="XFD1048576"><v>1</v></c></row>',
    "far row": b'<row r="1048576"><c><v>1</v></c></row>',
    "single quotes": b"<row r='3'><c r='XFD104857'><v>1</v></c></row>",
    "spaces and newlines": b'<row r="3"><c\n  r\n=\n"XFD104857"><v>1</v></c></row>',
    "tab before r": b'<row r="3"><c\tr="XFD104857"><v>1</v></c></row>',
    "no space after a quote": b'<row r="3"><c t="n"r="XFD104857"><v>1</v></c></row>',
    "r not first": b'<row r="3"><c t="n" r="XFD104857"><v>1</v></c></row>',
    "r twice, the last wins": b'<row r="3"><c r="A3" r="XFD104857"><v>1</v></c></row>',
    "lower case": b'<row r="3"><c r="xfd104857"><v>1</v></c></row>',
    "four letters": b'<row r="3"><c r="AAAA3"><v>1</v></c></row>',
    "eight digits": b'<row r="3"><c r="A10000000"><v>1</v></c></row>',
    "cells one after another": b'<row r="3">'
    + b"<c/>" * 20_000
    + b'<c><v>1</v></c></row><row r="900"><c><v>1</v></c></row>',
    "rows one after another": b"<row><c><v>1</v></c></row>" * 3
    + b'<row r="500000"><c r="Z500000"><v>1</v></c></row>',
}


@pytest.mark.parametrize("body", FAR_CELLS.values(), ids=FAR_CELLS.keys())
def test_cells_spanning_a_huge_area_are_refused_before_calamine(body: bytes) -> None:
    error = _refused_quickly(workbook_with({"xl/worksheets/sheet1.xml": sheet_xml(body)}))
    assert "too large an area" in error.message or "damaged" in error.message


def test_prefixed_elements_are_bounded_too() -> None:
    xml = (
        b'<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<x:sheetData><x:row r="1"><x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row></x:sheetData>'
        b"</x:worksheet>"
    )
    _refused_quickly(workbook_with({"xl/worksheets/sheet1.xml": xml}))


def test_shared_string_table_claiming_billions_is_refused() -> None:
    sst = b"<sst " + NS + b' count="1" uniqueCount="4000000000"><si><t>a</t></si></sst>'
    _refused_quickly(workbook_with({"xl/sharedStrings.xml": sst}))


def test_cells_without_references_are_read_in_order() -> None:
    cells = b"".join(
        b'<c t="inlineStr"><is><t>' + v + b"</t></is></c>"
        for v in (b"First Name", b"Last Name", b"Email")
    )
    row = b"".join(
        b'<c t="inlineStr"><is><t>' + v + b"</t></is></c>"
        for v in (b"Leo", b"Silva", b"leo@example.org")
    )
    xml = (
        b"<worksheet "
        + NS
        + b"><sheetData><row>"
        + cells
        + b"</row><row>"
        + row
        + b"</row></sheetData></worksheet>"
    )
    _, ok, _, _ = read(workbook_with({"xl/worksheets/sheet1.xml": xml}))
    assert [(r.row, r.email) for r in ok] == [(2, "leo@example.org")]
