"""Read client rows from an .xlsx workbook with calamine, after the zip has been vetted."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain, islice
from typing import Any

from python_calamine import (
    CalamineError,
    CalamineWorkbook,
    PasswordError,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from importing import errors, zip_guard
from importing.columns import HEADER_SEARCH_ROWS, header_quality, pick_header, plan_columns
from importing.model import ClientField, ClientRow, FilePlan, ImportFormat, Layout, RowError
from importing.source import Source
from importing.tabular import client_rows, count_rows

_SAMPLE_ROWS = HEADER_SEARCH_ROWS * 2
_HEAD_LIMIT = 1_000
_MAX_SHEETS = 50
Row = list[Any]


def cell_text(value: Any) -> str:
    """A cell as text: whole numbers without ".0" (a phone stored as a number), dates in ISO."""
    kind = type(value)
    if kind is str:
        return str(value)
    if kind is float:
        return str(int(value)) if value.is_integer() else repr(value)
    if kind is bool:
        return "TRUE" if value else "FALSE"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def _is_blank(cells: Row) -> bool:
    for cell in cells:
        if cell == "" or (type(cell) is str and cell.isspace()):
            continue
        return False
    return True


def _open(data: Source) -> CalamineWorkbook:
    try:
        return CalamineWorkbook.from_filelike(data.open())
    except PasswordError:
        raise errors.password_protected() from None
    except (CalamineError, ValueError, OSError):
        raise errors.unsafe_workbook() from None


def _rows(workbook: CalamineWorkbook, sheet: str) -> Iterator[Row]:
    try:
        yield from workbook.get_sheet_by_name(sheet).iter_rows()
    except (CalamineError, ValueError, OSError):
        raise errors.unsafe_workbook() from None


def _sheet_order(workbook: CalamineWorkbook) -> list[str]:
    """Worksheets, visible ones first, in workbook order; a workbook listing thousands of
    sheets is only looked into as far as its first ones."""
    sheets = [m for m in workbook.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
    visible = [m.name for m in sheets if m.visible == SheetVisibleEnum.Visible]
    return (visible + [m.name for m in sheets if m.name not in visible])[:_MAX_SHEETS]


def _head(rows: Iterator[Row]) -> list[Row]:
    head: list[Row] = []
    filled = 0
    for cells in rows:
        head.append(cells)
        filled += not _is_blank(cells)
        if filled >= _SAMPLE_ROWS or len(head) >= _HEAD_LIMIT:
            break
    return head


def _numbered(rows: Iterable[Row], start: int) -> Iterator[tuple[int, Row]]:
    # calamine yields rows from the sheet's first line, so position + 1 is the line number.
    for number, cells in enumerate(rows, start + 1):
        if not _is_blank(cells):
            yield number, cells


def inspect_xlsx(
    data: Source, explicit: Mapping[ClientField, str] | None, max_rows: int, max_bytes: int
) -> FilePlan:
    """The first worksheet whose header (within its first rows) has the required columns."""
    zip_guard.check_workbook(data, max_bytes)
    digest = data.digest()
    fallback: tuple[list[str], list[list[str]]] | None = None
    header_only = False
    with _open(data) as workbook:
        for sheet in _sheet_order(workbook):
            rows = _rows(workbook, sheet)
            head = _head(rows)
            text = [[cell_text(c) for c in cells] for cells in head]
            index = pick_header(text, explicit)
            if index is None:
                continue
            headers = [h.strip() for h in text[index]]
            sample = [r for r in text[index + 1 :] if any(c.strip() for c in r)]
            if not header_quality(headers, explicit)[0]:
                fallback = fallback or (headers, sample)
                continue
            columns = plan_columns(headers, explicit, sample)
            body = _numbered(chain(head[index + 1 :], rows), index + 1)
            total = count_rows(body, max_rows, lambda: errors.too_many_rows(max_rows))
            if not total:
                header_only = True
                continue
            layout = Layout(sheet=sheet, header_index=index, sources=columns.sources, digest=digest)
            return FilePlan(
                ImportFormat.XLSX, columns.headers, columns.mapping, columns.ignored, total, layout
            )
    if fallback and fallback[1] and not header_only:
        plan_columns(fallback[0], explicit, fallback[1])
    raise errors.empty_file()


def iter_xlsx(
    data: Source, plan: FilePlan, start_after: int, region: str
) -> Iterator[ClientRow | RowError]:
    layout = plan.layout
    if layout.digest != data.digest():
        zip_guard.check_workbook(data, data.size)
    with _open(data) as workbook:
        rows = islice(_rows(workbook, layout.sheet or ""), layout.header_index + 1, None)
        body = _numbered(rows, layout.header_index + 1)
        yield from client_rows(body, plan, start_after=start_after, region=region, text=cell_text)
