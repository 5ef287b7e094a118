"""Normalization and validation of single client fields (names, e-mail, phone), shared by
hand-entered clients and imported rows. Pure: no database, no network, no DNS."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254

# Endings that can never receive mail (RFC 6761 .invalid and .localhost, RFC 6762 .local,
# RFC 7686 .onion, infrastructure .arpa), the ones email-validator refuses besides .test.
# .test and .example are accepted like example.com: RFC 6761 says applications SHOULD NOT
# treat test or example names as special, and all three are reserved in the same way.
RESERVED_ENDINGS = frozenset({"invalid", "localhost", "local", "onion", "arpa"})
# Conservative shape of a plain ASCII address; anything else (a reserved ending included)
# goes the slow way, through the checks below and email-validator.
_SIMPLE_EMAIL = re.compile(
    r"[a-z0-9](?:[a-z0-9._+\-]{0,62}[a-z0-9])?@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+"
    rf"(?!(?:{'|'.join(sorted(RESERVED_ENDINGS))})\Z)[a-z]{{2,24}}"
)
# The common North American shapes; an N11 area code (411, 911) goes the slow way.
_NANP = re.compile(r"\(?((?!\d11)[2-9]\d{2})\)?[\s.\-]?([2-9]\d{2})[\s.\-]?(\d{4})")


_IMPOSSIBLE = "is not a phone number that can exist (check the area code and number)"

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
    _refuse_reserved(lowered.rpartition("@")[2].rstrip("."))
    try:
        # test_environment only lets .test through, which the rule above accepts too; the
        # reserved endings are checked here, before and after IDNA mapping, by one rule.
        result = validate_email(text, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise FieldInvalid("is not a valid e-mail address") from None
    if "." not in result.ascii_domain:
        raise FieldInvalid("is not a valid e-mail address")
    _refuse_reserved(result.ascii_domain)
    return unicodedata.normalize("NFC", result.normalized.lower())


def _refuse_reserved(domain: str) -> None:
    """FieldInvalid when the text after the last dot is an ending that never receives mail."""
    if domain.rpartition(".")[2] in RESERVED_ENDINGS:
        raise FieldInvalid(
            "is not a deliverable address: its domain ending (such as .invalid or .localhost) "
            "never receives mail"
        )


def normalize_phone(value: str | None, *, region: str = "US") -> str | None:
    """E.164 form of a phone number, None when blank, FieldInvalid when unreadable or when
    no such number can exist (+1 123 555 0100)."""
    text = (value or "").strip()
    if not text:
        return None
    if region == "US" and (not text.startswith("+") or text.startswith("+1")):
        # Fast path for the common North American shapes; the same answer as the slow path.
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
    if not _is_valid(number):
        raise FieldInvalid(_IMPOSSIBLE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _is_valid(number: phonenumbers.PhoneNumber) -> bool:
    """phonenumbers' is_valid_number, except that a North American number is judged by the
    numbering plan (area code and exchange start 2-9, no N11 area code), not by phonenumbers'
    list of area codes in service: that list lags new area codes, whose numbers are real."""
    if number.country_code != 1:
        return phonenumbers.is_valid_number(number)
    digits = str(number.national_number)
    return (
        len(digits) == 10
        and digits[0] not in "01"
        and digits[3] not in "01"
        and digits[1:3] != "11"
    )
