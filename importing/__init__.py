"""Pure reading of client data: field normalization, file sniffing, readers, header mapping."""

from importing.errors import ImportFileError
from importing.files import inspect_file, iter_rows
from importing.model import (
    ClientField,
    ClientRow,
    FilePlan,
    ImportFormat,
    RowError,
    RowIssue,
)
from importing.source import BytesSource, FileSource, Source, open_upload

__all__ = [
    "BytesSource",
    "ClientField",
    "ClientRow",
    "FilePlan",
    "FileSource",
    "ImportFileError",
    "ImportFormat",
    "RowError",
    "RowIssue",
    "Source",
    "inspect_file",
    "iter_rows",
    "open_upload",
]
