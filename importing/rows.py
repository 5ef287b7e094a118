"""Turn one row's raw values into a ClientRow (with warnings) or a RowError, naming no values."""

from __future__ import annotations

import datetime
import re

from importing.fields import (
    FieldInvalid,
    address_in_cell,
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

    def build(  # noqa: C901 - one flat pass over a row's fields, each a guarded branch
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
                client.warnings.append(
                    self._issue(
                        row,
                        self.phone_column,
                        INVALID_PHONE,
                        f"Mobile Phone {exc}; the client is imported without it",
                        "WARNING",
                    )
                )
        if preferred:
            try:
                client.preferred_name = normalize_name(preferred, required=False)
            except FieldInvalid as exc:
                client.warnings.append(
                    self._issue(
                        row, self.preferred_column, INVALID_NAME,
                        f"Preferred Name {exc}; it was left out", "WARNING",
                    )
                )  # fmt: skip
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
                client.warnings.append(
                    self._issue(
                        row,
                        self.dob_column,
                        INVALID_DATE,
                        "Date of Birth is not a date we can read (use YYYY-MM-DD or MM/DD/YYYY); "
                        "it was left out",
                        "WARNING",
                    )
                )
        return client

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
