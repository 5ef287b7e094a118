"""Cells of sheet-like rows (CSV records, XLSX rows) to clients, through the plan's sources."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from importing.columns import is_mobile_label
from importing.model import ClientField, ClientRow, FilePlan, RowError, Source
from importing.rows import RowBuilder

F = ClientField
Text = Callable[[Any], str]
Picker = Callable[[Sequence[Any]], str]


def _same(value: Any) -> str:
    return str(value)


def _picker(sources: tuple[Source, ...], text: Text | None) -> Picker:
    if not sources:
        return lambda _cells: ""
    if len(sources) == 1 and sources[0].label_column is None:
        column = sources[0].column
        if text is None:
            return lambda cells: cells[column] if column < len(cells) else ""
        return lambda cells: text(cells[column]) if column < len(cells) else ""
    convert = text or _same

    def pick(cells: Sequence[Any]) -> str:
        # The first source with a value; a labelled one only when its label says mobile.
        width = len(cells)
        for source in sources:
            if source.column >= width:
                continue
            value = convert(cells[source.column])
            if not value.strip():
                continue
            label = source.label_column
            if label is not None and (label >= width or not is_mobile_label(convert(cells[label]))):
                continue
            return value
        return ""

    return pick


def _date_picker(sources: tuple[Source, ...], text: Text | None) -> Callable[[Sequence[Any]], Any]:
    if not sources:
        return lambda _cells: None
    column = sources[0].column
    convert = text or _same

    def pick(cells: Sequence[Any]) -> Any:
        if column >= len(cells):
            return None
        value = cells[column]
        return value if isinstance(value, datetime.date) else convert(value)

    return pick


_ORDER = (F.FIRST_NAME, F.LAST_NAME, F.EMAIL, F.MOBILE_PHONE, F.PREFERRED_NAME, F.DATE_OF_BIRTH)


def client_rows(
    rows: Iterable[tuple[int, Sequence[Any]]],
    plan: FilePlan,
    *,
    start_after: int,
    region: str,
    text: Text | None = None,
) -> Iterator[ClientRow | RowError]:
    """rows are the non-blank data rows with their line numbers; text converts a cell."""
    sources = plan.layout.sources
    if F.FULL_NAME not in sources and all(
        len(s) == 1 and s[0].label_column is None for s in sources.values()
    ):
        # Every field from one plain cell (most files): one itemgetter call takes them all.
        return _plain_rows(rows, plan, start_after, region, text)
    return picked_rows(rows, plan, start_after, region, text)


def picked_rows(
    rows: Iterable[tuple[int, Sequence[Any]]],
    plan: FilePlan,
    start_after: int,
    region: str,
    text: Text | None,
) -> Iterator[ClientRow | RowError]:
    """client_rows for any plan: one picker per field (labelled phones, several columns)."""
    sources = plan.layout.sources
    first = _picker(sources.get(F.FIRST_NAME, ()), text)
    last = _picker(sources.get(F.LAST_NAME, ()), text)
    full = _picker(sources.get(F.FULL_NAME, ()), text)
    email = _picker(sources.get(F.EMAIL, ()), text)
    phone = _picker(sources.get(F.MOBILE_PHONE, ()), text)
    preferred = _picker(sources.get(F.PREFERRED_NAME, ()), text)
    born = _date_picker(sources.get(F.DATE_OF_BIRTH, ()), text)
    build = RowBuilder(plan.mapping, region).build
    seen = 0
    for number, cells in rows:
        seen += 1
        if seen <= start_after:
            continue
        address = email(cells)
        if ":::" in address:
            # Google Contacts puts several addresses in one cell: "a@x.org ::: b@y.org".
            address = address.split(":::", 1)[0]
        mobile = phone(cells)
        if ":::" in mobile:
            mobile = mobile.split(":::", 1)[0]
        yield build(
            number, first(cells), last(cells), address, mobile, preferred(cells), born(cells),
            full(cells),
        )  # fmt: skip


def _plain_rows(
    rows: Iterable[tuple[int, Sequence[Any]]],
    plan: FilePlan,
    start_after: int,
    region: str,
    text: Text | None,
) -> Iterator[ClientRow | RowError]:
    """client_rows when each field reads one column (no labels, no full name)."""
    sources = plan.layout.sources
    # A field the file lacks reads the blank cell appended after the row's last one.
    width = 1 + max((s[0].column for s in sources.values()), default=0)
    blank = [""] * (width + 1)
    columns = [sources[f][0].column if f in sources else -1 for f in _ORDER]
    take = itemgetter(*columns)
    build = RowBuilder(plan.mapping, region).build
    for seen, (number, cells) in enumerate(rows, 1):
        if seen <= start_after:
            continue
        first, last, address, mobile, preferred, born = take(
            [*cells, ""] if len(cells) >= width else [*cells, *blank[len(cells) :]]
        )
        if text is not None:
            # Sheet cells that are not text (numbers, dates) as the pickers convert them.
            if type(first) is not str:
                first = text(first)
            if type(last) is not str:
                last = text(last)
            if type(address) is not str:
                address = text(address)
            if type(mobile) is not str:
                mobile = text(mobile)
            if type(preferred) is not str:
                preferred = text(preferred)
            if type(born) is not str and not isinstance(born, datetime.date):
                born = text(born)
        if ":::" in address:
            # Google Contacts puts several addresses in one cell: "a@x.org ::: b@y.org".
            address = address.split(":::", 1)[0]
        if ":::" in mobile:
            mobile = mobile.split(":::", 1)[0]
        yield build(number, first, last, address, mobile, preferred, born)


def count_rows(rows: Iterable[object], max_rows: int, too_many: Callable[[], Exception]) -> int:
    """Number of rows, stopping (and raising) as soon as there are more than max_rows."""
    total = 0
    for _ in rows:
        total += 1
        if total > max_rows:
            raise too_many()
    return total
