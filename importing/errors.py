"""Why a whole file cannot be imported, with a message a person can act on and no file content."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum


class FileErrorCode(StrEnum):
    """Why a file is refused; each is also a member of the API's `ErrorCode` (tested)."""

    UNSUPPORTED_FILE = "UNSUPPORTED_FILE"
    PASSWORD_PROTECTED_FILE = "PASSWORD_PROTECTED_FILE"
    EMPTY_FILE = "EMPTY_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    TOO_MANY_ROWS = "TOO_MANY_ROWS"
    MISSING_REQUIRED_COLUMNS = "MISSING_REQUIRED_COLUMNS"


_SAVE_AS = "Upload a .csv, .xlsx or .vcf file."
# A header cell that looks like an address or a phone number is client data, not a column name.
_LOOKS_LIKE_DATA = re.compile(r"@|\d[\d\s().+\-]{5,}\d")
_MAX_LISTED = 25


class ImportFileError(Exception):
    """The file as a whole is refused; `code` is stable, `message` is for people."""

    def __init__(
        self,
        code: FileErrorCode,
        message: str,
        *,
        missing_columns: Sequence[str] = (),
        found_columns: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.missing_columns = list(missing_columns)
        self.found_columns = list(found_columns)

    def __repr__(self) -> str:
        return f"ImportFileError({self.code.value!r}, {self.message!r})"


def unsupported(detail: str = "We can't read this file.") -> ImportFileError:
    return ImportFileError(FileErrorCode.UNSUPPORTED_FILE, f"{detail} {_SAVE_AS}")


def old_excel() -> ImportFileError:
    return ImportFileError(
        FileErrorCode.UNSUPPORTED_FILE,
        "This is an old-style Excel workbook (.xls). Open it in Excel, save it as .xlsx "
        "(Excel Workbook) or .csv, and upload the new file.",
    )


# What a file that holds no table is, and what to do instead; keys are the sniffer's kinds.
_NOT_A_TABLE = {
    "json": "This is a JSON data file, not a spreadsheet or contact file. Export your clients "
    "from your practice software as .csv or .xlsx (or your contacts as .vcf) and upload that "
    "file.",
    "pdf": "This is a PDF document, and the rows of a PDF can't be read back reliably. Export "
    "the client list as .csv or .xlsx instead of as a PDF report, and upload that file.",
    "html": "This is a web page (HTML), not a spreadsheet. Use your practice software's export "
    "to .csv or .xlsx instead of saving the page; or open the page in Excel, save it as .xlsx "
    "or .csv, and upload the new file.",
    "xml": "This file is XML, not a spreadsheet. Open it in Excel, save it as .xlsx or .csv, "
    "and upload the new file.",
    "image": "This is a picture, not a spreadsheet. Export the client list from your practice "
    "software as .csv or .xlsx and upload that file.",
    "archive": "This is a compressed archive, not a spreadsheet. Unpack it and upload the "
    ".csv, .xlsx or .vcf file inside.",
    "zip_with_list": "This is a zip archive. Unzip it and upload the .csv, .xlsx or .vcf file "
    "inside.",
}


def not_a_table(kind: str) -> ImportFileError:
    """A file of a kind that holds no client table (JSON, PDF, a web page, a picture...)."""
    return ImportFileError(FileErrorCode.UNSUPPORTED_FILE, _NOT_A_TABLE[kind])


def unsafe_workbook() -> ImportFileError:
    return ImportFileError(
        FileErrorCode.UNSUPPORTED_FILE,
        "This workbook is damaged or built in a way we refuse to open for safety. Open it in "
        "Excel, save it again as .xlsx or .csv, and upload the new file.",
    )


def password_protected() -> ImportFileError:
    return ImportFileError(
        FileErrorCode.PASSWORD_PROTECTED_FILE,
        "This workbook is password-protected. Export it again without password protection "
        "(in SimplePractice, uncheck the password-protection box) and upload the new file.",
    )


def empty_file() -> ImportFileError:
    return ImportFileError(
        FileErrorCode.EMPTY_FILE,
        "The file has no client rows. Check that the export includes your clients, then "
        "upload it again.",
    )


def too_large(max_bytes: int) -> ImportFileError:
    return ImportFileError(
        FileErrorCode.FILE_TOO_LARGE,
        f"The file is larger than {_size(max_bytes)}. Split it into smaller files, or export "
        "only the columns you need, and upload them one by one.",
    )


def too_many_rows(max_rows: int) -> ImportFileError:
    return ImportFileError(
        FileErrorCode.TOO_MANY_ROWS,
        f"The file has more than {max_rows:,} client rows. Split it into files of at most "
        f"{max_rows:,} rows and upload them one by one.",
    )


def missing_columns(missing: Sequence[str], found: Sequence[str]) -> ImportFileError:
    """Required columns that no header matched; found are the headers as in the file."""
    names = " and ".join(missing) if len(missing) < 3 else ", ".join(missing)
    noun = "column" if len(missing) == 1 else "columns"
    add = (
        f"Add a column named {missing[0]}, or map one."
        if len(missing) == 1
        else f"Add columns named {names}, or map them."
    )
    return ImportFileError(
        FileErrorCode.MISSING_REQUIRED_COLUMNS,
        f"The file has no {names} {noun}. Found columns: {_listing(found)}. {add}",
        missing_columns=missing,
        found_columns=found,
    )


def headerless(missing: Sequence[str], found: Sequence[str]) -> ImportFileError:
    """The first row holds client data instead of column names."""
    return ImportFileError(
        FileErrorCode.MISSING_REQUIRED_COLUMNS,
        "The first row looks like client data, not column names. Add a first row with the "
        "column names (First Name, Last Name, Email) and upload the file again.",
        missing_columns=missing,
        found_columns=found,
    )


def contacts_lack(missing: Sequence[str], found: Sequence[str]) -> ImportFileError:
    """A contact file where no card has a name, or none has an e-mail address."""
    what = "an e-mail address" if list(missing) == ["Email"] else "a name"
    return ImportFileError(
        FileErrorCode.MISSING_REQUIRED_COLUMNS,
        f"None of the contacts in this file has {what}. Add it to the contacts, export them "
        "again and upload the new file.",
        missing_columns=missing,
        found_columns=found,
    )


def mapped_column_absent(field_label: str, header: str, found: Sequence[str]) -> ImportFileError:
    return ImportFileError(
        FileErrorCode.MISSING_REQUIRED_COLUMNS,
        f"The column{_quote(header)} chosen for {field_label} is not in the file. Found "
        f"columns: {_listing(found)}. Choose one of these columns.",
        missing_columns=[header],
        found_columns=found,
    )


def mapped_column_protected(field_label: str, header: str, found: Sequence[str]) -> ImportFileError:
    return ImportFileError(
        FileErrorCode.MISSING_REQUIRED_COLUMNS,
        f"The column{_quote(header)} chosen for {field_label} holds insurance or payment "
        "details, which are never imported. Choose another column.",
        missing_columns=[header],
        found_columns=found,
    )


def _quote(header: str) -> str:
    if _LOOKS_LIKE_DATA.search(header):
        return ""
    return f' "{header[:60]}"'


def _listing(found: Sequence[str]) -> str:
    shown = [h[:60] for h in found if h.strip() and not _LOOKS_LIKE_DATA.search(h)]
    listed = ", ".join(shown[:_MAX_LISTED]) or "none"
    rest = len([h for h in found if h.strip()]) - len(shown[:_MAX_LISTED])
    return f"{listed} and {rest} more" if rest > 0 else listed


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    if n >= 1_000:
        return f"{n / 1_000:g} KB"
    return f"{n} bytes"
