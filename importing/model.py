"""The values the readers hand out: fields, formats, row outcomes and the plan for one file."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["ERROR", "WARNING"]


class ClientField(enum.Enum):
    FIRST_NAME = "FIRST_NAME"
    LAST_NAME = "LAST_NAME"
    EMAIL = "EMAIL"
    MOBILE_PHONE = "MOBILE_PHONE"
    FULL_NAME = "FULL_NAME"
    PREFERRED_NAME = "PREFERRED_NAME"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"


class ImportFormat(enum.Enum):
    CSV = "CSV"
    XLSX = "XLSX"
    VCF = "VCF"


FIELD_LABELS: dict[ClientField, str] = {
    ClientField.FIRST_NAME: "First Name",
    ClientField.LAST_NAME: "Last Name",
    ClientField.EMAIL: "Email",
    ClientField.MOBILE_PHONE: "Mobile Phone",
    ClientField.FULL_NAME: "Full Name",
    ClientField.PREFERRED_NAME: "Preferred Name",
    ClientField.DATE_OF_BIRTH: "Date of Birth",
}


@dataclass(slots=True)
class RowIssue:
    row: int
    column: str | None
    code: str
    message: str
    severity: Severity


@dataclass(slots=True)
class ClientRow:
    """A row that can be imported; row is the line (or card) number a person sees."""

    row: int
    first_name: str
    last_name: str
    email: str
    mobile_phone: str | None = None
    preferred_name: str | None = None
    date_of_birth: datetime.date | None = None
    warnings: list[RowIssue] = field(default_factory=list)


@dataclass(slots=True)
class RowError:
    """A row that is skipped, with every reason found."""

    row: int
    issues: list[RowIssue]


@dataclass(frozen=True, slots=True)
class Source:
    """One cell a field may be read from; with a label column, only when that cell says mobile."""

    column: int
    label_column: int | None = None


@dataclass(frozen=True)
class Layout:
    """What a reader needs to find the rows again; opaque to callers, plain data (picklable)."""

    encoding: str = "utf-8"
    delimiter: str = ","
    sheet: str | None = None
    # Position of the header among the reader's raw rows (CSV records or calamine rows).
    header_index: int = 0
    # Added to a raw row's 0-based position to give the line number a person sees.
    row_offset: int = 1
    sources: dict[ClientField, tuple[Source, ...]] = field(default_factory=dict)
    # blake2b of the bytes a plan was made from: iter_rows skips the safety scan it already did.
    digest: bytes = b""


@dataclass
class FilePlan:
    """What inspect_file found; hand it back to iter_rows with the same bytes."""

    format: ImportFormat
    headers: list[str]
    mapping: dict[ClientField, str]
    ignored_columns: list[str]
    total_rows: int
    layout: Layout = field(default_factory=Layout, repr=False, compare=False)
