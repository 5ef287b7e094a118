"""Decode vCard values: quoted-printable and base64, and each value's declared CHARSET."""

from __future__ import annotations

import binascii
import codecs
import contextlib

from importing.model import RowIssue

UNKNOWN_CHARSET = "UNKNOWN_CHARSET"
# The fallback the sniffer picks for text that is not UTF-8. Such a vCard is read as
# Latin-1 instead, which keeps every byte, so each value can be decoded with its own
# CHARSET (vCard 2.1 phones mix windows-1251 or ISO-8859-1 values with UTF-8 ones).
EIGHT_BIT = "cp1252"
_LABELS = {
    "N": "name",
    "FN": "name",
    "NICKNAME": "preferred name",
    "EMAIL": "e-mail address",
    "TEL": "phone number",
}


def text_encoding(encoding: str) -> str:
    """The codec to read a vCard's lines with, given the encoding the sniffer found."""
    return "latin-1" if encoding == EIGHT_BIT else encoding


def codec(label: str) -> tuple[str, bool]:
    """(codec name, unknown) for a CHARSET label. A vCard line is ASCII-compatible, so only
    a text encoding that reads ASCII as ASCII counts (not zlib or hex, not UTF-16)."""
    if not label:
        return "", False
    try:
        info = codecs.lookup(label)
        if b"a=".decode(info.name, "replace") == "a=":
            return info.name, False
    except (LookupError, UnicodeError):
        pass
    return "", True


def decode(value: str, quoted_printable: bool, charset: str, eight_bit: bool) -> str:
    """A quoted-printable (else base64) value, from a line read as Latin-1 when eight_bit."""
    raw = value.encode("latin-1" if eight_bit else "utf-8", "replace")
    with contextlib.suppress(binascii.Error, ValueError):  # damaged: kept as written
        raw = binascii.a2b_qp(raw) if quoted_printable else binascii.a2b_base64(raw)
    return text(raw, charset)


def text(raw: bytes, charset: str) -> str:
    """Bytes in their declared charset; undeclared (or unknown), UTF-8 when they are, else
    Windows-1252, the two that exporters write without saying."""
    if charset:
        try:
            return raw.decode(charset, "replace")
        except UnicodeError:  # a stateful codec can refuse the replacement
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def unknown_charset(row: int, prop: str) -> RowIssue:
    """The warning for a card whose non-ASCII value named a charset we do not know."""
    what = _LABELS.get(prop, "details")
    return RowIssue(
        row,
        prop,
        UNKNOWN_CHARSET,
        f"The contact's {what} is marked with a character set we do not know; it was read as "
        "UTF-8 or Windows-1252, so check its letters after the import",
        "WARNING",
    )
