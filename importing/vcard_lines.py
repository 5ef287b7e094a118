"""Split vCard text into cards of unfolded property lines (RFC folding and 2.1 soft breaks)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from itertools import chain

from importing.source import Source

_CHUNK = 1 << 18  # 256 KiB of text: a few MB of line strings at a time, however long the file
_GROUP_KINDS = ("KIND", "X-ADDRESSBOOKSERVER-KIND")
# RFC 6350 allows a group on any line, BEGIN and END too: "item.BEGIN:VCARD".
GROUPED_BEGIN = re.compile(r"[A-Za-z0-9-]{1,64}\.BEGIN:", re.IGNORECASE)
_GROUPED_STRUCTURE = re.compile(r"[A-Za-z0-9-]{1,64}\.(?=(?:BEGIN|END):)", re.IGNORECASE)


def logical_lines(data: Source, encoding: str) -> Iterator[str]:
    """Unfolded lines: a line starting with a space or tab continues the one before, and in a
    quoted-printable value a trailing "=" is a soft break before the next line."""
    for lines in logical_chunks(data, encoding):
        yield from lines


def logical_chunks(data: Source, encoding: str) -> Iterator[list[str]]:
    """logical_lines a chunk of the file at a time (a list per chunk, fewer generator steps)."""
    # Universal newlines turn CRLF and CR into LF; reading in large chunks keeps memory flat
    # and is several times faster than iterating the stream line by line.
    stream = io.TextIOWrapper(data.open(), encoding=encoding, errors="replace", newline=None)
    current: str | None = None
    soft = False
    rest = ""
    while True:
        chunk = stream.read(_CHUNK)
        text = rest + chunk
        lines = text.split("\n")
        rest = lines.pop() if chunk else ""
        out: list[str] = []
        # A chunk with no folded line and no soft break (most files) needs no look at each
        # line past its first, which may continue the last line of the chunk before.
        plain = len(lines) > 1 and "\n " not in text and "\n\t" not in text and "=\n" not in text
        for line in lines[:1] if plain else lines:
            if current is not None:
                if soft:
                    current = current[:-1] + line
                    soft = line.endswith("=")
                    continue
                if line and (line[0] == " " or line[0] == "\t"):
                    current += line[1:]
                    continue
                out.append(current)
            current = line
            soft = line.endswith("=") and _is_quoted_printable(line)
        if plain:
            # Neither the first line (followed by a newline, so no "=" at its end) nor any
            # other line continues or is continued: each stands alone.
            if current is not None:
                out.append(current)
            out.extend(lines[1:-1])
            current, soft = lines[-1], False
        if out:
            yield out
        if not chunk:
            break
    if current is not None:
        yield [current]


def _is_quoted_printable(line: str) -> bool:
    colon = line.find(":")
    return colon > 0 and "QUOTED-PRINTABLE" in line[:colon].upper()


def cards(  # noqa: C901 - the BEGIN/END nesting state machine reads best in one loop
    data: Source, encoding: str
) -> Iterator[tuple[list[str], bool]]:
    """Each top-level card's property lines, and whether it is a group (list) card; a nested
    card (a 2.1 AGENT) and an empty card are left out; a file cut short gives its last card."""
    card: list[str] | None = None
    group = False
    depth = 0
    # Set once a grouped BEGIN is seen: only then are lines inside a card looked at for a
    # grouped END, which keeps the common file on its fast path.
    grouped = False
    for line in chain.from_iterable(logical_chunks(data, encoding)):
        first = line[:1]
        if first in (" ", "\t", "\ufeff"):
            # Stray blanks or a byte-order mark before BEGIN:VCARD.
            line = line.lstrip(" \t\ufeff")
            first = line[:1]
        if (card is None or grouped) and first not in ("B", "E", "b", "e"):
            prefix = _GROUPED_STRUCTURE.match(line)
            if prefix:
                line = line[prefix.end() :]
                first = line[:1]
                grouped = True
        if first in ("B", "E", "b", "e"):
            head = line[:6].upper()
            if head == "BEGIN:" and line[6:].strip().upper() == "VCARD":
                depth += 1
                if card is None:
                    card, group, depth = [], False, 1
                continue
            if head[:4] == "END:" and line[4:].strip().upper() == "VCARD":
                depth -= 1
                if depth <= 0 and card is not None:
                    if card:
                        yield card, group
                    card, depth = None, 0
                continue
        elif first in ("K", "X", "k", "x") and card is not None and depth == 1:
            # Only KIND and X-ADDRESSBOOKSERVER-KIND lines can say so (not X-ABLabel...).
            group = group or (line[:4].upper() in ("KIND", "X-AD") and _is_group_kind(line))
        if card is not None and depth == 1 and line:
            card.append(line)
    if card:
        yield card, group


def _is_group_kind(line: str) -> bool:
    """Apple's X-ADDRESSBOOKSERVER-KIND:group and vCard 4's KIND:group mark list cards."""
    name, _, value = line.partition(":")
    return name.split(";", 1)[0].upper() in _GROUP_KINDS and value.strip().lower() == "group"


def property_name(line: str) -> str:
    """N, EMAIL, TEL... with any group prefix (item1.) and parameters removed."""
    end = len(line)
    for sep in (":", ";"):
        at = line.find(sep, 0, end)
        if at >= 0:
            end = at
    return line[:end].rsplit(".", 1)[-1].upper()
