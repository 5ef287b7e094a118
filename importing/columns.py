"""Match a file's column headers to client fields: aliases, explicit mappings, ignored columns."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from importing import errors
from importing.fields import clean_text
from importing.model import FIELD_LABELS, ClientField, Source

F = ClientField
HEADER_SEARCH_ROWS = 20
# Columns past this are never read: no export has that many, and matching is per cell.
MAX_COLUMNS = 1_000

# Per field, tiers of header spellings from the exports people bring (SimplePractice, Jane,
# TheraNest, Headway, Google Contacts, Outlook, generic sheets); a lower tier wins.
_ALIASES: dict[ClientField, tuple[tuple[str, ...], ...]] = {
    F.FIRST_NAME: (
        (
            "First Name", "Given Name", "First", "Client First Name", "Legal First Name",
            "Patient First Name", "Client Legal First Name", "FName", "Forename",
            "First Given Name", "Name First",
        ),
    ),
    F.LAST_NAME: (
        (
            "Last Name", "Family Name", "Surname", "Last", "Client Last Name", "Legal Last Name",
            "Patient Last Name", "Client Legal Last Name", "LName", "Name Last",
        ),
    ),
    F.EMAIL: (
        (
            "Email", "E-mail Address", "Email Address", "E-mail 1 - Value", "Client Email",
            "Client Email Address", "Primary Email", "Primary Email Address", "Patient Email",
            "Patient Email Address", "Email 1", "Email Address 1", "Contact Email",
        ),
        (
            "Personal Email", "Home Email", "Other Email", "E-mail 2 Address", "E-mail 2 - Value",
            "Email 2", "Work Email", "Business Email", "E-mail 3 Address", "E-mail 3 - Value",
        ),
    ),
    F.MOBILE_PHONE: (
        (
            "Mobile Phone", "Mobile", "Cell", "Cell Phone", "Mobile Number", "Mobile Phone Number",
            "Cell Phone Number", "Cell Number", "Cellular Phone", "Client Mobile Phone Number",
            "Client Mobile Phone", "Client Mobile", "Client Cell Phone", "Patient Mobile Phone",
            "Patient Cell Phone", "Primary Mobile Phone", "Mobile Telephone", "Phone (Mobile)",
            "Text Number", "SMS Number",
        ),
        # Tier 1 is Google's per-row labelled "Phone N - Value" (see _labelled_phones).
        (),
        (
            "Phone", "Phone Number", "Primary Phone", "Primary Phone Number", "Client Phone",
            "Client Phone Number", "Patient Phone", "Telephone", "Contact Number", "Contact Phone",
        ),
    ),
    F.FULL_NAME: (
        (
            "Client", "Name", "Client Name", "Full Name", "Patient Name", "Patient",
            "Client Full Name", "Patient Full Name", "Display Name", "Contact Name",
        ),
    ),
    F.PREFERRED_NAME: (
        (
            "Preferred Name", "Nickname", "Preferred First Name", "Goes By", "Chosen Name",
            "Client Preferred Name", "Patient Preferred Name", "Preferred",
        ),
    ),
    F.DATE_OF_BIRTH: (
        (
            "Birth Date", "Date of Birth", "DOB", "Birthday", "Client DOB",
            "Client Date of Birth", "Client Birth Date", "Patient DOB", "Patient Date of Birth",
            "Date of Birth (MM/DD/YYYY)", "DOB (MM/DD/YYYY)",
        ),
    ),
}  # fmt: skip

_MULTI_SOURCE = (F.EMAIL, F.MOBILE_PHONE)
_LABELLED_TIER = 1
_PHONE_VALUE = re.compile(r"phone(\d+)value")
_PHONE_LABEL = re.compile(r"phone(\d+)(?:label|type)")
# Insurance and payment details are never imported, whatever the header is mapped to.
_PROTECTED = re.compile(
    r"insur|member(?:id|number|no)|policy|payer|payor|carrier|group(?:number|no|id)|subscriber"
    r"|card|credit|billing|payment|copay|coinsurance|deductible|balance|bank|routing|account"
    r"|ssn|socialsecurity|medicaid|medicare|claim|authorization|eligibility|iban|invoice"
)
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalize_header(text: str) -> str:
    """Case-, space-, accent- and punctuation-blind key of a header."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text).lower() if ch.isalnum())


_BY_KEY: dict[str, tuple[ClientField, int]] = {
    normalize_header(alias): (field, tier)
    for field, tiers in _ALIASES.items()
    for tier, aliases in enumerate(tiers)
    for alias in aliases
}


def is_protected(key: str) -> bool:
    return bool(_PROTECTED.search(key))


def is_mobile_label(text: str) -> bool:
    key = normalize_header(text)
    return "mobile" in key or "cell" in key or "iphone" in key


@dataclass
class ColumnPlan:
    headers: list[str]  # as in the file, blank header cells left out
    mapping: dict[ClientField, str]
    sources: dict[ClientField, tuple[Source, ...]]
    ignored: list[str]


def header_quality(
    cells: Sequence[str], explicit: Mapping[ClientField, str] | None
) -> tuple[bool, int]:
    """(has every required column, number of fields recognised) for a candidate header row."""
    keys = [normalize_header(c) for c in cells]
    if explicit and any(_find(cells, keys, header) is None for header in explicit.values()):
        return False, 0
    found = set(_guess(keys, set()).keys()) | set(explicit or ())
    return _missing(found) == [], len(found)


def pick_header(
    rows: Sequence[Sequence[str]], explicit: Mapping[ClientField, str] | None
) -> int | None:
    """Index of the header among the first non-blank rows, or None when every row is blank."""
    best: tuple[int, int] | None = None
    first_filled: int | None = None
    filled = 0
    for index, cells in enumerate(rows):
        if not any(c.strip() for c in cells):
            continue
        filled += 1
        if filled > HEADER_SEARCH_ROWS:
            break
        if first_filled is None:
            first_filled = index
        complete, count = header_quality(cells[:MAX_COLUMNS], explicit)
        if complete:
            return index
        if count and (best is None or count > best[0]):
            best = (count, index)
    return best[1] if best else first_filled


def plan_columns(
    headers: Sequence[str],
    explicit: Mapping[ClientField, str] | None,
    sample: Sequence[Sequence[str]] = (),
) -> ColumnPlan:
    """Sources per field for these headers; ImportFileError when required columns are absent."""
    headers = [clean_text(h) for h in headers[:MAX_COLUMNS]]
    keys = [normalize_header(h) for h in headers]
    named = [h for h in headers if h.strip()]
    chosen: dict[ClientField, tuple[Source, ...]] = {}
    for field, header in (explicit or {}).items():
        index = _find(headers, keys, header)
        if index is None:
            raise errors.mapped_column_absent(FIELD_LABELS[field], header, named)
        if is_protected(keys[index]):
            raise errors.mapped_column_protected(FIELD_LABELS[field], header, named)
        chosen[field] = (Source(index),)
    taken = {s.column for sources in chosen.values() for s in sources}
    sources = {**_guess(keys, taken), **chosen}
    if F.FULL_NAME in chosen:
        for field in (F.FIRST_NAME, F.LAST_NAME):
            if field not in chosen:
                sources.pop(field, None)
    elif F.FIRST_NAME in sources and F.LAST_NAME in sources:
        sources.pop(F.FULL_NAME, None)
    missing = _missing(set(sources))
    if missing:
        if any(_EMAIL_LIKE.fullmatch(h.strip()) for h in headers):
            raise errors.headerless(missing, named)
        raise errors.missing_columns(missing, named)
    mapping = {field: headers[_display(srcs, sample)] for field, srcs in sources.items()}
    used = {c for srcs in sources.values() for s in srcs for c in (s.column, s.label_column)}
    ignored = [h for i, h in enumerate(headers) if i not in used and h.strip()]
    return ColumnPlan(named, mapping, sources, list(dict.fromkeys(ignored)))


def _missing(found: set[ClientField]) -> list[str]:
    full = F.FULL_NAME in found
    missing = [
        FIELD_LABELS[field]
        for field in (F.FIRST_NAME, F.LAST_NAME)
        if field not in found and not full
    ]
    if F.EMAIL not in found:
        missing.append(FIELD_LABELS[F.EMAIL])
    return missing


def _find(headers: Sequence[str], keys: Sequence[str], header: str) -> int | None:
    if header in headers:
        return list(headers).index(header)
    key = normalize_header(header)
    if key and key in keys:
        return list(keys).index(key)
    return None


def _guess(keys: Sequence[str], taken: set[int]) -> dict[ClientField, tuple[Source, ...]]:
    ranked: dict[ClientField, list[tuple[int, int, Source]]] = {}
    for index, key in enumerate(keys):
        if index in taken or not key or is_protected(key) or key not in _BY_KEY:
            continue
        field, tier = _BY_KEY[key]
        ranked.setdefault(field, []).append((tier, index, Source(index)))
    for number, (value, label) in enumerate(_labelled_phones(keys, taken)):
        ranked.setdefault(F.MOBILE_PHONE, []).append((_LABELLED_TIER, number, Source(value, label)))
    chosen: dict[ClientField, tuple[Source, ...]] = {}
    for field, candidates in ranked.items():
        candidates.sort(key=lambda c: (c[0], c[1]))
        if field is F.MOBILE_PHONE:
            # A generic "Phone" column counts only when there is no better mobile column.
            best = candidates[0][0]
            candidates = [c for c in candidates if c[0] <= max(best, _LABELLED_TIER)]
        elif field not in _MULTI_SOURCE:
            candidates = candidates[:1]
        chosen[field] = tuple(c[2] for c in candidates)
    return chosen


def _labelled_phones(keys: Sequence[str], taken: set[int]) -> list[tuple[int, int]]:
    values: dict[str, int] = {}
    labels: dict[str, int] = {}
    for index, key in enumerate(keys):
        if index in taken:
            continue
        if match := _PHONE_VALUE.fullmatch(key):
            values.setdefault(match.group(1), index)
        elif match := _PHONE_LABEL.fullmatch(key):
            labels.setdefault(match.group(1), index)
    pairs = [(int(n), values[n], labels[n]) for n in values if n in labels]
    return [(value, label) for _, value, label in sorted(pairs)]


def _display(sources: tuple[Source, ...], sample: Sequence[Sequence[str]]) -> int:
    """The column to show as the field's source: for labelled phones, the one most often mobile."""
    labelled = [s for s in sources if s.label_column is not None]
    if not labelled or labelled[0] is not sources[0]:
        return sources[0].column
    votes = {s.column: 0 for s in labelled}
    for row in sample:
        for s in labelled:
            label = s.label_column
            if label is not None and label < len(row) and is_mobile_label(row[label]):
                votes[s.column] += 1
    return max(votes, key=lambda column: (votes[column], -column))
