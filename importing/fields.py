"""Normalization and validation of single client fields (names, e-mail, phone), shared by
hand-entered clients and imported rows. Pure: no database, no network, no DNS."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254

# Conservative shape of a plain ASCII address; anything else goes through email-validator.
_SIMPLE_EMAIL = re.compile(
    r"[a-z0-9](?:[a-z0-9._+\-]{0,62}[a-z0-9])?@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
)
_NANP = re.compile(r"\(?([2-9]\d{2})\)?[\s.\-]?([2-9]\d{2})[\s.\-]?(\d{4})")


_CONTROLS = dict.fromkeys([*range(0x20), 0x7F], " ")


class FieldInvalid(ValueError):
    """A field value a person must correct; the message names no value, only the rule."""


def clean_text(value: str | None) -> str:
    """Trim, fold inner white space and control characters, and compose to NFC."""
    if value is None:
        return ""
    # Control characters (a NUL from a damaged file) become spaces: PostgreSQL refuses NUL.
    return " ".join(unicodedata.normalize("NFC", value).translate(_CONTROLS).split())


def normalize_name(value: str | None, *, required: bool = True) -> str | None:
    name = clean_text(value)
    if not name:
        if required:
            raise FieldInvalid("is required")
        return None
    if len(name) > MAX_NAME_LENGTH:
        raise FieldInvalid(f"must be at most {MAX_NAME_LENGTH} characters")
    return name


def address_in_cell(value: str) -> str:
    """The address in a cell written as a mail program would: "Ava <ava@x.org>", "mailto:ava@x.org"."""
    text = value.strip()
    if text.endswith(">") and "<" in text:
        text = text[text.rindex("<") + 1 : -1]
    if text[:7].lower() == "mailto:":
        text = text[7:].split("?", 1)[0]
    return text


def normalize_email(value: str | None) -> str:
    """Trimmed, NFC, lower-cased address, or FieldInvalid."""
    text = unicodedata.normalize("NFC", (value or "").strip())
    if not text:
        raise FieldInvalid("is required")
    if len(text) > MAX_EMAIL_LENGTH:
        raise FieldInvalid("is too long to be an e-mail address")
    lowered = text.lower()
    if ".." not in lowered and _SIMPLE_EMAIL.fullmatch(lowered):
        return lowered
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise FieldInvalid("is not a valid e-mail address") from None
    return unicodedata.normalize("NFC", result.normalized.lower())


def normalize_phone(value: str | None, *, region: str = "US") -> str | None:
    """E.164 form of a phone number, None when blank, FieldInvalid when unreadable."""
    text = (value or "").strip()
    if not text:
        return None
    if region == "US" and (not text.startswith("+") or text.startswith("+1")):
        # Fast path for the common North American shapes; the same answer phonenumbers gives.
        match = _NANP.fullmatch(text.removeprefix("+").removeprefix("1").strip())
        if match:
            return "+1" + "".join(match.groups())
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise FieldInvalid("is not a phone number we can read") from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise FieldInvalid("is not a phone number we can read")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
