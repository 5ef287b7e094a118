"""Scan a workbook's XML as it is inflated, for what would make the parser blow up in memory."""

# calamine (Rust) aborts the whole process when an allocation fails, so these are refused before
# it runs: DTDs (entity expansion), UTF-16 XML (blind to the byte scans), a shared-string table
# claiming billions of entries (calamine reserves that many up front), and cells whose
# positions span a huge area (calamine allocates the full rectangle, and python-calamine pads
# every row above the first). Every member is scanned, as relationships may point a sheet at
# any member name.

from __future__ import annotations

import re
from itertools import repeat

from importing.errors import FileErrorCode, ImportFileError, unsafe_workbook

# About 64 bytes a cell across calamine and python-calamine: 6 M cells stay under 400 MB.
MAX_CELLS = 6_000_000
MAX_SHEET_ROWS = 1_048_576  # Excel's own limit
MAX_SHARED_STRINGS = 5_000_000
_MAX_OPEN_TAG = 1 << 20
_DTD = re.compile(rb"<!\s*(?:doctype|entity)", re.IGNORECASE)
_UNIQUE_COUNT = re.compile(rb"uniqueCount\s*=\s*[\"']\s*(\d+)")
# An attribute named r (a cell or row reference) in any spacing and quoting calamine accepts.
# The fast forms need the usual " r=\"" shape, checked per window; others use the exact ones.
_FAST_LETTERS = re.compile(rb" r=\"([A-Za-z]+)")
_FAST_DIGITS = re.compile(rb" r=\"[A-Za-z]*0*([1-9]\d*)")
_EXACT_LETTERS = re.compile(rb"[\s\"']r\s*=\s*[\"']([A-Za-z]+)")
_EXACT_DIGITS = re.compile(rb"[\s\"']r\s*=\s*[\"'][A-Za-z]*0*([1-9]\d*)")
_ODD_EQUALS = re.compile(rb"r\s+=|r=\s|r='")
# Cells or rows without a leading r="..." (placed one after another), or with a namespace
# prefix: then the reference bounds alone are not enough.
_IRREGULAR = (
    re.compile(rb'<c(?:[\t\n\r/>]| (?!r="))'),
    re.compile(rb'<row(?:[\t\n\r/>]| (?!r="))'),
    re.compile(rb":(?:c|row)[\s/>]"),
)  # three searches: with a literal start each is many times faster than one alternation


def _too_big(rows: int, columns: int) -> ImportFileError:
    return ImportFileError(
        FileErrorCode.UNSUPPORTED_FILE,
        f"This workbook has cells spread over too large an area (down to row {rows:,}, across "
        f"{columns:,} columns). Delete stray cells far below or to the right of the client "
        "list, save the workbook, and upload it again.",
    )


class MemberScan:
    """Feed one member's inflated bytes in order, then call finish()."""

    def __init__(self) -> None:
        self.first = True
        self.carry = b""
        self.letters: set[bytes] = set()
        self.max_row = 0
        self.irregular = False
        self.row_elements = 0
        self.open_row_cells = 0
        self.max_row_cells = 0

    def feed(self, out: bytes) -> None:
        if self.first and out:
            self.first = False
            if out[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<"):
                raise unsafe_workbook()
        data = self.carry + out
        # Cut after the last ">" so no tag (and no attribute) is split between two windows.
        cut = data.rfind(b">") + 1
        self.carry = data[cut:]
        if b"<" in self.carry and len(self.carry) > _MAX_OPEN_TAG:
            raise unsafe_workbook()
        if b"<" not in self.carry:
            cut, self.carry = len(data), b""
        self._window(data[:cut])

    def finish(self) -> None:
        self._window(self.carry)
        self.carry = b""
        self._end_row()
        columns = max((_column_number(x) for x in self.letters), default=0)
        rows = self.max_row
        if self.irregular:
            columns += self.max_row_cells
            rows += self.row_elements
        if rows > MAX_SHEET_ROWS or (rows + 1) * (columns + 1) > MAX_CELLS:
            raise _too_big(rows, columns)

    def _window(self, window: bytes) -> None:
        if not window:
            return
        if b"<!" in window and _DTD.search(window):
            raise unsafe_workbook()
        if b"uniqueCount" in window:
            for count in _UNIQUE_COUNT.findall(window):
                if len(count) > 9 or int(count) > MAX_SHARED_STRINGS:
                    raise unsafe_workbook()
        usual = window.count(b'r="') == window.count(b' r="') and not _ODD_EQUALS.search(window)
        letters = set((_FAST_LETTERS if usual else _EXACT_LETTERS).findall(window)) - self.letters
        if any(len(x) > 3 for x in letters):
            raise _too_big(0, 18_279)
        self.letters |= letters
        digits = set((_FAST_DIGITS if usual else _EXACT_DIGITS).findall(window))
        if digits:
            if max(map(len, digits)) > 7:
                raise _too_big(10_000_000, 0)
            self.max_row = max(self.max_row, max(map(int, digits)))
        if self.irregular or any(p.search(window) for p in _IRREGULAR):
            self.irregular = True
            self._count_cells(window)

    def _count_cells(self, window: bytes) -> None:
        """Upper bounds for cells placed one after another: cells in the longest row, rows."""
        self.row_elements += window.count(b"<row") + window.count(b":row")
        segments = window.split(b"<row")
        cells = list(map(bytes.count, segments, repeat(b"<c")))
        prefixed = list(map(bytes.count, segments, repeat(b":c")))
        self.open_row_cells += cells[0] + prefixed[0]
        for inside, more in zip(cells[1:], prefixed[1:], strict=True):
            self._end_row()
            self.open_row_cells = inside + more

    def _end_row(self) -> None:
        self.max_row_cells = max(self.max_row_cells, self.open_row_cells)
        self.open_row_cells = 0


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ch - 64
    return number
