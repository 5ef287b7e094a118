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

__all__ = [
    "ClientField",
    "ClientRow",
    "FilePlan",
    "ImportFileError",
    "ImportFormat",
    "RowError",
    "RowIssue",
    "inspect_file",
    "iter_rows",
]
