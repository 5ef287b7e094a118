"""Read client rows from CSV text: delimiter sniffed, header located, records streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from itertools import islice

from importing import errors
from importing.columns import HEADER_SEARCH_ROWS, header_quality, pick_header, plan_columns
from importing.errors import ImportFileError
from importing.model import ClientField, ClientRow, FilePlan, ImportFormat, Layout, RowError
from importing.source import Source
from importing.tabular import client_rows, count_rows

DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_RECORDS = HEADER_SEARCH_ROWS * 2
_HEAD_LIMIT = 1_000


def _records(data: Source, encoding: str, delimiter: str) -> Iterator[list[str]]:
    stream = io.TextIOWrapper(data.open(), encoding=encoding, errors="replace", newline="")
    try:
        yield from csv.reader(stream, delimiter=delimiter)
    except csv.Error:
        raise errors.unsupported(
            "A cell in this file is too long, or a quotation mark is never closed."
        ) from None


def _is_blank(record: list[str]) -> bool:
    return not (record and record[0].strip()) and not "".join(record).strip()


def _head(records: Iterator[list[str]]) -> list[list[str]]:
    """The first records, enough to hold the header search and a sample of data rows."""
    head: list[list[str]] = []
    filled = 0
    for record in records:
        head.append(record)
        filled += not _is_blank(record)
        if filled >= _SAMPLE_RECORDS or len(head) >= _HEAD_LIMIT:
            break
    return head


def _data_rows(data: Source, layout: Layout) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records under the header, each with its 1-based record number."""
    records = _records(data, layout.encoding, layout.delimiter)
    start = layout.header_index + 1
    for number, record in enumerate(islice(records, start, None), start + 1):
        # Most records have a first cell, so the join runs only for the rare blank-looking one.
        if (record and record[0].strip()) or "".join(record).strip():
            yield number, record


def inspect_csv(
    data: Source, encoding: str, explicit: Mapping[ClientField, str] | None, max_rows: int
) -> FilePlan:
    best: tuple[tuple[bool, int, int], str, list[list[str]], int] | None = None
    failure: ImportFileError | None = None
    for delimiter in DELIMITERS:
        try:
            head = _head(_records(data, encoding, delimiter))
        except ImportFileError as exc:
            failure = exc
            continue
        index = pick_header(head, explicit)
        if index is None:
            continue
        complete, count = header_quality(head[index], explicit)
        rank = (complete, count, len(head[index]))
        if best is None or rank > best[0]:
            best = (rank, delimiter, head, index)
    if best is None:
        # Every sampled record is blank, or the file cannot be split at all.
        raise failure or errors.empty_file()
    _, delimiter, head, index = best
    headers = [h.strip().lstrip("\ufeff") for h in head[index]]
    sample = [r for r in head[index + 1 :] if not _is_blank(r)][:HEADER_SEARCH_ROWS]
    try:
        columns = plan_columns(headers, explicit, sample)
    except ImportFileError:
        if not sample and len(head) < _HEAD_LIMIT:
            raise errors.empty_file() from None
        raise
    layout = Layout(
        encoding=encoding, delimiter=delimiter, header_index=index, sources=columns.sources
    )
    total = count_rows(_data_rows(data, layout), max_rows, lambda: errors.too_many_rows(max_rows))
    if not total:
        raise errors.empty_file()
    return FilePlan(
        ImportFormat.CSV, columns.headers, columns.mapping, columns.ignored, total, layout
    )


def iter_csv(
    data: Source, plan: FilePlan, start_after: int, region: str
) -> Iterator[ClientRow | RowError]:
    return client_rows(_data_rows(data, plan.layout), plan, start_after=start_after, region=region)
