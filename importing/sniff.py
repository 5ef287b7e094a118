"""Tell an upload's format from its bytes (never its name), and a text file's encoding."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from importing import ole, zip_guard
from importing.errors import (
    FileErrorCode,
    ImportFileError,
    empty_file,
    not_a_table,
    old_excel,
    password_protected,
    unsupported,
)
from importing.model import ImportFormat
from importing.source import Source, source_of
from importing.vcard_lines import GROUPED_BEGIN

SAMPLE = 64 << 10
_CHECK_CHUNK = 1 << 20
# Kinds of file told by their first bytes, each refused with its own advice.
_MAGIC_KINDS = (
    (b"%PDF", "pdf"),
    (b"\x89PNG", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF8", "image"),
    (b"II*\x00", "image"),
    (b"MM\x00*", "image"),
    (b"\x1f\x8b", "archive"),
    (b"Rar!", "archive"),
    (b"7z\xbc\xaf", "archive"),
)
_BINARY_MAGIC = (
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"{\\rtf",
)
# A JSON document or JSON lines: an object, or an array of values; a CSV header never
# starts like this.
_JSON = re.compile(r'(?:\{\s*(?:"|\})|\[\s*(?:[\[{"\]\d-]|true|false|null))')
_HTML = re.compile(r"<(?:!doctype\s+html|html|head|body|table|meta|!--)", re.IGNORECASE)
_LIST_SUFFIXES = (".csv", ".tsv", ".xlsx", ".vcf")
_BLANK = " \t\r\n\x0b\x0c\ufeff"
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Sniffed:
    format: ImportFormat
    encoding: str = ""


def sniff(data: bytes | Source) -> Sniffed:
    """The format and, for text, the encoding; ImportFileError for anything we cannot read.

    Only the first SAMPLE bytes are held; the rest is read a chunk at a time where needed.
    """
    source = source_of(data)
    head = source.head(SAMPLE)
    if head.startswith(ole.OLE_MAGIC):
        # A refused file whose sectors point anywhere in it: read whole, once.
        raise _ole_refusal(source.read_all())
    if zip_guard.is_zip(head):
        return Sniffed(_zip_kind(source))
    for magic, kind in _MAGIC_KINDS:
        if head.startswith(magic):
            raise not_a_table(kind)
    if head.startswith(_BINARY_MAGIC):
        raise unsupported("This file is not a spreadsheet or contact file.")
    return _sniff_text(source, head)


def _ole_refusal(data: bytes) -> ImportFileError:
    """Why an OLE compound file (legacy Office, or an encrypted package) is refused."""
    if ole.is_encrypted_package(data):
        return password_protected()
    if ole.is_old_excel(data):
        return old_excel()
    return unsupported("This is an older Microsoft Office file, not a client list we can read.")


def _sniff_text(source: Source, sample: bytes) -> Sniffed:
    """A text file: vCard or CSV in its detected encoding; markup and JSON are refused."""
    encoding = detect_encoding(source)
    head = sample.decode(encoding, "replace").lstrip(_BLANK)
    if not head.strip():
        if not any(text.strip(_BLANK) for text in source.decoded(encoding, "replace")):
            raise empty_file()
        raise unsupported("This file holds nothing but blank space at its start.")
    if _looks_binary(head):
        raise unsupported("This file is not text we can read.")
    if head[:11].upper() == "BEGIN:VCARD" or _is_grouped_vcard(head):
        return Sniffed(ImportFormat.VCF, encoding)
    if head.startswith("<"):
        raise not_a_table("html" if _HTML.match(head) else "xml")
    if head[:1] in ("{", "[") and _JSON.match(head):
        raise not_a_table("json")
    return Sniffed(ImportFormat.CSV, encoding)


def _is_grouped_vcard(head: str) -> bool:
    begin = GROUPED_BEGIN.match(head)
    return begin is not None and head[begin.end() : begin.end() + 5].upper() == "VCARD"


def detect_encoding(data: bytes | Source) -> str:
    """utf-8-sig or utf-16 by their byte-order mark, else UTF-8 when valid, else Windows-1252."""
    source = source_of(data)
    head = source.head(1024)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4 and b"\x00" in head:
        # UTF-16 written without a mark: every other byte of Latin text is zero.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > len(head) // 4 and even == 0:
            return "utf-16-le"
        if even > len(head) // 4 and odd == 0:
            return "utf-16-be"
    return "utf-8" if _is_utf8(source) else "cp1252"


def _is_utf8(source: Source) -> bool:
    # Chunked so that checking a large file never holds it, nor a copy of it as text; a
    # sequence cut at the very end is forgiven (the reader replaces it).
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in source.chunks(_CHECK_CHUNK):
            decoder.decode(chunk)
    except UnicodeDecodeError:
        return False
    return True


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    return len(_CONTROLS.findall(text)) > 2 + len(text) // 100


def _zip_kind(source: Source) -> ImportFormat:
    with zip_guard.open_zip(source) as archive:
        names = {name.lower() for name in archive.namelist()}
    if "xl/workbook.xml" in names:
        return ImportFormat.XLSX
    if "xl/workbook.bin" in names:
        detail = "This is an Excel binary workbook (.xlsb)."
    elif "mimetype" in names or "content.xml" in names:
        detail = "This is an OpenDocument spreadsheet (.ods)."
    elif any(name.startswith("index/") for name in names):
        detail = "This is an Apple Numbers file."
    elif "word/document.xml" in names:
        detail = "This is a Word document."
    elif any(name.endswith(_LIST_SUFFIXES) for name in names):
        raise not_a_table("zip_with_list")
    else:
        raise unsupported("This zip archive holds no client list we can read.")
    raise ImportFileError(
        FileErrorCode.UNSUPPORTED_FILE,
        f"{detail} Open it, save or export it as .xlsx or .csv, and upload the new file.",
    )
