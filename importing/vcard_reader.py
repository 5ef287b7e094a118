"""Read contacts from vCard 2.1, 3.0 and 4.0 files: plan the file, then yield its clients."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from importing import errors
from importing.columns import is_mobile_label
from importing.model import (
    ClientField,
    ClientRow,
    FilePlan,
    ImportFormat,
    Layout,
    RowError,
)
from importing.rows import RowBuilder
from importing.source import Source
from importing.vcard_lines import cards, property_name
from importing.vcard_text import EIGHT_BIT, codec, decode, text, text_encoding, unknown_charset

F = ClientField
_WANTED = frozenset({"N", "FN", "EMAIL", "TEL", "BDAY", "NICKNAME", "X-ABLABEL"})
_KINDS = frozenset({"KIND", "X-ADDRESSBOOKSERVER-KIND"})
_STRUCTURE = frozenset({"BEGIN", "END", "VERSION", "PRODID", "REV", "UID", "X-ABLABEL"}) | _KINDS
_MOBILE_TYPES = frozenset({"CELL", "MOBILE", "IPHONE"})
_NO_PREF = 100
_COLUMNS: dict[ClientField, str] = {
    F.FIRST_NAME: "N",
    F.LAST_NAME: "N",
    F.FULL_NAME: "FN",
    F.EMAIL: "EMAIL",
    F.MOBILE_PHONE: "TEL",
    F.PREFERRED_NAME: "NICKNAME",
    F.DATE_OF_BIRTH: "BDAY",
}
_UNESCAPED_SEMICOLON = re.compile(r"(?<!\\);")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_ESCAPE = re.compile(r"\\(.)")
# Property names are read from every line of the first cards, then only looked for.
_NAME_SAMPLE_CARDS = 1_000
_MAX_NAMES = 200
_NAME = re.compile(r"[A-Z0-9-]{1,64}")


def inspect_vcf(data: Source, encoding: str, max_rows: int) -> FilePlan:
    """Count the person cards (group cards left out) and note which properties the file has."""
    names: dict[str, None] = {}
    total = 0
    for card, group in cards(data, text_encoding(encoding)):
        if group:
            continue
        total += 1
        if total > max_rows:
            raise errors.too_many_rows(max_rows)
        if total <= _NAME_SAMPLE_CARDS or "EMAIL" not in names or "N" not in names:
            for line in card:
                name = property_name(line)
                if name not in names and _NAME.fullmatch(name):
                    if len(names) < _MAX_NAMES or name in _COLUMNS.values():
                        names[name] = None
    if not total:
        raise errors.empty_file()
    mapping = {field: name for field, name in _COLUMNS.items() if name in names}
    if "N" not in names and "FN" not in names:
        raise errors.contacts_lack(["First Name", "Last Name"], list(names))
    if "EMAIL" not in names:
        raise errors.contacts_lack(["Email"], list(names))
    ignored = [n for n in names if n not in _STRUCTURE and n not in mapping.values()]
    return FilePlan(
        ImportFormat.VCF, list(names), mapping, ignored, total, Layout(encoding=encoding)
    )


def iter_vcf(
    data: Source, plan: FilePlan, start_after: int, region: str
) -> Iterator[ClientRow | RowError]:
    builder = RowBuilder(_COLUMNS, region)
    eight_bit = plan.layout.encoding == EIGHT_BIT
    seen = 0
    for number, (card, group) in enumerate(cards(data, text_encoding(plan.layout.encoding)), 1):
        if group:
            continue
        seen += 1
        if seen <= start_after:
            continue
        c = _parse(card, eight_bit)
        result = builder.build(
            number, c.first, c.last, c.email, c.phone, c.nickname, c.birthday or None, c.full
        )
        if c.unknown_charset:
            issue = unknown_charset(number, c.unknown_charset)
            (result.warnings if isinstance(result, ClientRow) else result.issues).append(issue)
        yield result


@dataclass(frozen=True, slots=True)
class _Params:
    types: frozenset[str] = frozenset()
    pref: int = _NO_PREF
    quoted_printable: bool = False
    base64: bool = False
    # The declared CHARSET as a Python codec name; "" when none is declared or it is unknown.
    charset: str = ""
    unknown_charset: bool = False
    omit_year: bool = False
    # Quoted-printable or base64: the value is decoded before it is read.
    encoded: bool = False
    # A TYPE says mobile (CELL, MOBILE, IPHONE).
    mobile: bool = False


_PLAIN = _Params()


@functools.lru_cache(maxsize=512)
def _params(text: str) -> _Params:
    types: set[str] = set()
    pref, qp, b64, charset, unknown, omit = _NO_PREF, False, False, "", False, False
    for item in text.split(";"):
        key, eq, value = item.partition("=")
        key = key.strip().upper()
        values = [v.strip().upper() for v in value.strip().strip('"').split(",")] if eq else [key]
        if not eq or key == "TYPE":
            # vCard 2.1 writes bare types (TEL;CELL;PREF); 3.0 writes type=cell,pref.
            types.update(values)
            qp = qp or "QUOTED-PRINTABLE" in values
            b64 = b64 or "BASE64" in values
        elif key == "PREF":
            pref = min(pref, int(values[0])) if values[0].isdigit() else 1
        elif key == "ENCODING":
            qp = qp or values[0] == "QUOTED-PRINTABLE"
            b64 = b64 or values[0] in ("B", "BASE64")
        elif key == "CHARSET":
            charset, unknown = codec(value.strip().strip('"'))
        elif key == "X-APPLE-OMIT-YEAR":
            omit = True
    if "PREF" in types:
        pref = min(pref, 1)
    return _Params(
        frozenset(types), pref, qp, b64, charset, unknown, omit, qp or b64,
        not _MOBILE_TYPES.isdisjoint(types),
    )  # fmt: skip


_Head = tuple[str, str, _Params] | None
_HEADS: dict[str, _Head] = {}
_HEADS_KEPT = 4_096


def _read_head(head: str) -> _Head:
    """(NAME, GROUP, params) of a property we read, None for the rest; cached, as the same
    heads ("item1.TEL;type=CELL;type=pref") come back card after card."""
    try:
        return _HEADS[head]
    except KeyError:
        pass
    semi = head.find(";")
    group, _, name = (head if semi < 0 else head[:semi]).rpartition(".")
    name = name.upper()
    found = None
    if name in _WANTED:
        found = (name, group.upper(), _params(head[semi + 1 :]) if semi >= 0 else _PLAIN)
    if len(_HEADS) >= _HEADS_KEPT:
        _HEADS.clear()
    _HEADS[head] = found
    return found


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _component(value: str) -> str:
    """One N component; several values in it (3.0 lists) become words."""
    if "," in value:
        value = _UNESCAPED_COMMA.sub(" ", value)
    return _unescape(value)


@dataclass(slots=True)
class _Card:
    first: str = ""
    last: str = ""
    full: str = ""
    email: str = ""
    phone: str = ""
    nickname: str = ""
    birthday: str = ""
    # The first property whose non-ASCII value named a charset we do not know.
    unknown_charset: str = ""


def _parse(card: list[str], eight_bit: bool) -> _Card:  # noqa: C901 - one branch per vCard property
    """One card's fields; eight_bit when its lines were read as Latin-1 (vcard_text.EIGHT_BIT)."""
    found = _Card()
    emails: list[tuple[int, int, str]] = []
    phones: list[tuple[int, int, str, str, bool]] = []
    labels: dict[str, str] = {}
    heads = _HEADS
    for line in card:
        colon = line.find(":")
        if colon <= 0:
            continue
        key = line[:colon]
        head = heads[key] if key in heads else _read_head(key)
        if head is None:
            continue
        name, group, params = head
        value = line[colon + 1 :]
        if params.encoded:
            value = decode(value, params.quoted_printable, params.charset, eight_bit)
            if params.unknown_charset and not value.isascii():
                found.unknown_charset = found.unknown_charset or name
        elif not value.isascii():
            if eight_bit:
                value = text(value.encode("latin-1"), params.charset)
            if params.unknown_charset:
                found.unknown_charset = found.unknown_charset or name
        if name == "N":
            parts = _UNESCAPED_SEMICOLON.split(value) if "\\" in value else value.split(";")
            found.last = _component(parts[0])
            found.first = _component(parts[1]) if len(parts) > 1 else ""
        elif name == "FN":
            found.full = _unescape(value)
        elif name == "EMAIL":
            address = _unescape(value).strip()
            if address[:7].lower() == "mailto:":
                address = address[7:]
            if address:
                emails.append((params.pref, len(emails), address))
        elif name == "TEL":
            number = value.strip()
            if number[:4].lower() == "tel:":
                number = number[4:].split(";", 1)[0]
            if number:
                phones.append((params.pref, len(phones), number, group, params.mobile))
        elif name == "X-ABLABEL":
            labels[group] = value
        elif name == "NICKNAME":
            found.nickname = _UNESCAPED_COMMA.split(value, 1)[0].replace("\\", "")
        elif not params.omit_year:
            found.birthday = value.strip().split("T", 1)[0]
    if emails:
        found.email = min(emails)[2]
    mobiles = [
        (pref, order, number)
        for pref, order, number, group, mobile in phones
        if mobile or (group and is_mobile_label(labels.get(group, "")))
    ]
    if mobiles:
        found.phone = min(mobiles)[2]
    return found
