"""Turn one row's raw values into a ClientRow (with warnings) or a RowError, naming no values."""

from __future__ import annotations

import datetime
import re

from importing.fields import (
    _SIMPLE_EMAIL,
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    FieldInvalid,
    address_in_cell,
    clean_text,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from importing.model import FIELD_LABELS, ClientField, ClientRow, RowError, RowIssue

F = ClientField
MISSING_FIELD = "MISSING_FIELD"
INVALID_EMAIL = "INVALID_EMAIL"
INVALID_NAME = "INVALID_NAME"
INVALID_PHONE = "INVALID_PHONE"
INVALID_DATE = "INVALID_DATE"

_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_US = re.compile(r"(\d{1,2})[/\-.](\d{1,2})[/\-.](\d{4}|\d{2})(?: .*)?")
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v", "md", "phd"})
_ZERO_DATE = "0/-. "
# Entries in each per-file cache of a RowBuilder (cleared when full): names and birth dates
# recur down a client list, so most rows find theirs already cleaned or parsed.
_KEPT = 50_000
_BAD = object()
_BLANK_DATE = object()


def split_full_name(text: str) -> tuple[str, str]:
    """(first, last): "Last, First" as written, else the last word is the last name."""
    before, comma, after = text.partition(",")
    if comma and after.strip() and after.strip().lower().strip(".") not in _SUFFIXES:
        return after.strip(), before.strip()
    words = text.replace(",", " ").split()
    if len(words) > 1 and words[0].lower().strip(".") in _TITLES:
        words = words[1:]
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    cut = -2 if len(words) > 2 and words[-1].lower().strip(".") in _SUFFIXES else -1
    return " ".join(words[:cut]), " ".join(words[cut:])


def _same_name(part: str, known: str) -> bool:
    return bool(known) and part.strip().casefold() == known.casefold()


def parse_date(value: object, today: datetime.date) -> datetime.date:
    """A plausible birth date from a cell, or ValueError: ISO, YYYYMMDD, or US MM/DD/YYYY."""
    if isinstance(value, datetime.datetime):
        found = value.date()
    elif isinstance(value, datetime.date):
        found = value
    elif isinstance(value, str):
        found = _parse_text_date(value.strip(), today)
    else:
        raise ValueError("not a date")
    if found.year < 1900 or found > today:
        raise ValueError("not a plausible birth date")
    return found


def _parse_text_date(text: str, today: datetime.date) -> datetime.date:
    if len(text) == 10 and text.isascii():
        # The two shapes nearly every export uses, without a regular expression.
        if text[4] == "-" and text[7] == "-" and text[:4].isdigit():
            return datetime.date(int(text[:4]), int(text[5:7]), int(text[8:]))
        if text[2] == "/" and text[5] == "/" and text[6:].isdigit():
            return datetime.date(int(text[6:]), int(text[:2]), int(text[3:5]))
    if match := _ISO.fullmatch(text) or _COMPACT.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
        return datetime.date(year, month, day)
    if match := _US.fullmatch(text):
        month, day, year = (int(g) for g in match.groups())
        if len(match.group(3)) == 2:
            # A two-digit birth year is in the past: 24 -> 1924 once 2024 is today or later.
            year += 2000 if 2000 + year <= today.year else 1900
        return datetime.date(year, month, day)
    raise ValueError("not a date")


def _email_or_none(cell: str) -> str | None:
    """normalize_email of the cell as build_checked reads it, None where that finds an error."""
    text = cell.strip()
    if text.isascii() and "<" not in text and ":" not in text:
        # ASCII is its own NFC form: normalize_email's first steps, without a call.
        lowered = text.lower()
        if len(lowered) <= MAX_EMAIL_LENGTH and ".." not in lowered:
            if _SIMPLE_EMAIL.fullmatch(lowered):
                return lowered
        cell = text
    elif "<" in cell or ":" in cell:
        cell = address_in_cell(cell)
    try:
        return normalize_email(cell)
    except FieldInvalid:
        return None


class RowBuilder:
    """Validates rows for one file; columns name the header each field was read from."""

    def __init__(self, columns: dict[ClientField, str], region: str) -> None:
        full = columns.get(F.FULL_NAME)
        self.first_column = columns.get(F.FIRST_NAME, full)
        self.last_column = columns.get(F.LAST_NAME, full)
        self.email_column = columns.get(F.EMAIL)
        self.phone_column = columns.get(F.MOBILE_PHONE)
        self.preferred_column = columns.get(F.PREFERRED_NAME)
        self.dob_column = columns.get(F.DATE_OF_BIRTH)
        self.region = region
        self.today = datetime.date.today()
        self._names: dict[str, str | None] = {}
        self._dates: dict[str, object] = {}

    def build(
        self,
        row: int,
        first: str,
        last: str,
        email: str,
        phone: str = "",
        preferred: str = "",
        dob: object = None,
        full: str = "",
    ) -> ClientRow | RowError:
        """build_checked's answer: rows with no error take a shorter way, with cached names
        and dates; any row with an error (or a full name to split) goes build_checked's way."""
        names = self._names
        first_name = names.get(first) or self._name_of(first)
        last_name = names.get(last) or self._name_of(last)
        # Both halves present: the full name is not read (build_checked reads it only then).
        address = None if first_name is None or last_name is None else _email_or_none(email)
        if address is None:
            return self.build_checked(row, first, last, email, phone, preferred, dob, full)
        client = ClientRow(row, first_name, last_name, address)  # type: ignore[arg-type]
        if phone:
            try:
                client.mobile_phone = normalize_phone(phone, region=self.region)
            except FieldInvalid as exc:
                client.warnings.append(self._phone_warning(row, exc))
        if preferred:
            preferred_name = names.get(preferred) or self._name_of(preferred)
            if preferred_name is not None:
                client.preferred_name = preferred_name
            else:
                self._preferred(client, row, preferred)
        if type(dob) is str:
            if dob:
                found = self._dates.get(dob) or self._date_of(dob)
                if found is _BAD:
                    client.warnings.append(self._date_warning(row))
                elif found is not _BLANK_DATE:
                    client.date_of_birth = found  # type: ignore[assignment]
        elif dob is not None:
            self._date(client, row, dob)
        return client

    def _name_of(self, value: str) -> str | None:
        """The cleaned name, None when blank or too long (the checked way then says which)."""
        name = clean_text(value)
        found = name if name and len(name) <= MAX_NAME_LENGTH else None
        if len(self._names) >= _KEPT:
            self._names.clear()
        self._names[value] = found
        return found

    def _date_of(self, value: str) -> object:
        """The date in a text cell, _BLANK_DATE when it stands for no date, _BAD when unreadable."""
        text = value.strip()
        found: object
        if (
            text.startswith(("--", "0")) and (text[0] == "-" or not text.strip(_ZERO_DATE))
        ) or not text:
            found = _BLANK_DATE
        else:
            try:
                found = parse_date(text, self.today)
            except ValueError:
                found = _BAD
        if len(self._dates) >= _KEPT:
            self._dates.clear()
        self._dates[value] = found
        return found

    def build_checked(
        self,
        row: int,
        first: str,
        last: str,
        email: str,
        phone: str = "",
        preferred: str = "",
        dob: object = None,
        full: str = "",
    ) -> ClientRow | RowError:
        one_part = False
        if full and not (first.strip() and last.strip()):
            split_first, split_last = split_full_name(full)
            # A half taken from the full name must not be the half already read: "N:Cher;;;;"
            # with "FN:Cher" holds no first name, and reusing "Cher" would double the name.
            known_first, known_last = first.strip(), last.strip()
            if not known_first:
                first = "" if _same_name(split_first, known_last) else split_first
            if not known_last:
                last = "" if _same_name(split_last, known_first) else split_last
            one_part = bool(first.strip()) != bool(last.strip())
        issues: list[RowIssue] = []
        first_name = self._name(row, first, F.FIRST_NAME, self.first_column, issues, one_part)
        last_name = self._name(row, last, F.LAST_NAME, self.last_column, issues, one_part)
        cell = email
        try:
            email = normalize_email(address_in_cell(cell) if "<" in cell or ":" in cell else cell)
        except FieldInvalid as exc:
            code = MISSING_FIELD if not cell.strip() else INVALID_EMAIL
            issues.append(self._issue(row, self.email_column, code, f"Email {exc}", "ERROR"))
        if issues:
            return RowError(row, issues)
        client = ClientRow(row, first_name or "", last_name or "", email)
        if phone:
            try:
                client.mobile_phone = normalize_phone(phone, region=self.region)
            except FieldInvalid as exc:
                client.warnings.append(self._phone_warning(row, exc))
        if preferred:
            self._preferred(client, row, preferred)
        self._date(client, row, dob)
        return client

    def _preferred(self, client: ClientRow, row: int, preferred: str) -> None:
        try:
            client.preferred_name = normalize_name(preferred, required=False)
        except FieldInvalid as exc:
            client.warnings.append(
                self._issue(
                    row, self.preferred_column, INVALID_NAME,
                    f"Preferred Name {exc}; it was left out", "WARNING",
                )
            )  # fmt: skip

    def _date(self, client: ClientRow, row: int, dob: object) -> None:
        # A birthday without a year ("--04-07", Google and vCard 4) is not a date of birth.
        if isinstance(dob, str):
            dob = dob.strip()
            # Outlook writes "0/0/00" (or 00/00/0000) for an empty birthday: a blank, not a date.
            if dob.startswith(("--", "0")) and (dob[0] == "-" or not dob.strip(_ZERO_DATE)):
                dob = None
        if dob is not None and dob != "":
            try:
                client.date_of_birth = parse_date(dob, self.today)
            except ValueError:
                client.warnings.append(self._date_warning(row))

    def _phone_warning(self, row: int, exc: FieldInvalid) -> RowIssue:
        return self._issue(
            row,
            self.phone_column,
            INVALID_PHONE,
            f"Mobile Phone {exc}; the client is imported without it",
            "WARNING",
        )

    def _date_warning(self, row: int) -> RowIssue:
        return self._issue(
            row,
            self.dob_column,
            INVALID_DATE,
            "Date of Birth is not a date we can read (use YYYY-MM-DD or MM/DD/YYYY); "
            "it was left out",
            "WARNING",
        )

    def _name(
        self,
        row: int,
        value: str,
        field: ClientField,
        column: str | None,
        issues: list[RowIssue],
        one_part: bool,
    ) -> str | None:
        try:
            return normalize_name(value)
        except FieldInvalid as exc:
            code = MISSING_FIELD if not value.strip() else INVALID_NAME
            message = f"{FIELD_LABELS[field]} {exc}"
            if code == MISSING_FIELD and one_part:
                message += " (the name in the file has one part only; add the other)"
            issues.append(self._issue(row, column, code, message, "ERROR"))
            return None

    @staticmethod
    def _issue(row: int, column: str | None, code: str, message: str, severity: str) -> RowIssue:
        return RowIssue(row, column, code, message, "ERROR" if severity == "ERROR" else "WARNING")
