"""The two entry points: inspect_file plans an upload, iter_rows streams its clients."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from importing import errors
from importing.csv_reader import inspect_csv, iter_csv
from importing.model import ClientField, ClientRow, FilePlan, ImportFormat, RowError
from importing.sniff import sniff
from importing.source import Source, source_of
from importing.vcard_reader import inspect_vcf, iter_vcf
from importing.xlsx_reader import inspect_xlsx, iter_xlsx


def inspect_file(
    data: bytes | Source,
    *,
    column_mapping: Mapping[ClientField, str] | None = None,
    max_rows: int = 100_000,
    max_bytes: int = 20_000_000,
) -> FilePlan:
    """Sniff, vet and count an upload, and match its columns; ImportFileError when refused.

    column_mapping (field -> header as in the file) overrides the guessed columns; vCard
    files have fixed properties and ignore it. data is read a chunk at a time when it is a
    Source over a file (FileSource), so a large upload is never held in memory.
    """
    data = source_of(data)
    if data.size > max_bytes:
        raise errors.too_large(max_bytes)
    found = sniff(data)
    if found.format is ImportFormat.XLSX:
        return inspect_xlsx(data, column_mapping, max_rows, max_bytes)
    if found.format is ImportFormat.VCF:
        return inspect_vcf(data, found.encoding, max_rows)
    return inspect_csv(data, found.encoding, column_mapping, max_rows)


def iter_rows(
    data: bytes | Source, plan: FilePlan, *, start_after: int = 0, phone_region: str = "US"
) -> Iterator[ClientRow | RowError]:
    """Every non-blank data row of the file inspect_file planned, in file order.

    start_after skips that many data rows (a resume checkpoint; errored rows count, blank
    rows do not). Rows are read lazily, so memory stays flat however long the file is.
    """
    data = source_of(data)
    if plan.format is ImportFormat.XLSX:
        return iter_xlsx(data, plan, start_after, phone_region)
    if plan.format is ImportFormat.VCF:
        return iter_vcf(data, plan, start_after, phone_region)
    return iter_csv(data, plan, start_after, phone_region)
