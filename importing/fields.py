"""Normalization and validation of single client fields (names, e-mail, phone), shared by
hand-entered clients and imported rows. Pure: no database, no network, no DNS."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import email_validator
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.syntax import (
    LocalPartValidationResult,
    validate_email_domain_name,
    validate_email_length,
    validate_email_local_part,
)
from email_validator.types import ValidatedEmail

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
# The same in a whole (stripped) cell, after "+1" or "1": what removing those, then the white
# space after them, leaves for _NANP.
_NANP_CELL = re.compile(r"(?:\+?1)?\s*" + _NANP.pattern)
# An extension after such a number ("ext. 12", "x12"): phonenumbers keeps it out of E.164.
_EXTENSION = re.compile(r" *(?:ext\.?|extension|x) *[0-9]{1,6}", re.IGNORECASE)
# Addresses split_email would cut at the one "@" as written: no quotes, brackets or escapes.
_NOT_PLAIN = frozenset('"<\\[')
# Distinct values kept by the caches below: domains and phones recur across a client list.
_CACHED = 8192


_IMPOSSIBLE = "is not a phone number that can exist (check the area code and number)"

_CONTROLS = dict.fromkeys([*range(0x20), 0x7F], " ")


class FieldInvalid(ValueError):
    """A field value a person must correct; the message names no value, only the rule."""


def clean_text(value: str | None) -> str:
    """Trim, fold inner white space and control characters, and compose to NFC."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", value)
    if text.isprintable():
        # No control character, and a plain space is the only white space a printable text
        # can hold: most cells need neither the translation nor the split.
        if "  " not in text and text[:1] != " " and text[-1:] != " ":
            return text
        return " ".join(text.split())
    # Control characters (a NUL from a damaged file) become spaces: PostgreSQL refuses NUL.
    return " ".join(text.translate(_CONTROLS).split())


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
    normalized, ascii_domain = _validated(text)
    if "." not in ascii_domain:
        raise FieldInvalid("is not a valid e-mail address")
    _refuse_reserved(ascii_domain)
    return unicodedata.normalize("NFC", normalized.lower())


def _validated(text: str) -> tuple[str, str]:
    """(normalized address, ASCII domain) exactly as email-validator's validate_email (no DNS,
    test_environment) gives them, or FieldInvalid. A plain address, one "@" and no quoting, is
    checked in its two halves as validate_email does, with the domain's answer cached: the IDNA
    checks of a domain cost ten times the rest, and the same domains recur down a list."""
    local, _, domain = text.partition("@")
    if (
        not domain
        or "@" in domain
        or unicodedata.combining(domain[0])
        or not _NOT_PLAIN.isdisjoint(text)
    ):
        try:
            result = validate_email(text, check_deliverability=False, test_environment=True)
        except EmailNotValidError:
            raise FieldInvalid("is not a valid e-mail address") from None
        return result.normalized, result.ascii_domain
    names = _domain_names(domain)
    if names is None:
        raise FieldInvalid("is not a valid e-mail address")
    try:
        info = _local_part(local)
        if (nfc := unicodedata.normalize("NFC", local)) != local:
            info = _local_part(nfc)
        found = ValidatedEmail()
        found.original, found.display_name, found.smtputf8 = text, None, info["smtputf8"]
        found.local_part, found.ascii_local_part = info["local_part"], info["ascii_local_part"]
        found.domain, found.ascii_domain = names
        found.normalized = found.local_part + "@" + found.domain
        found.ascii_email = (
            found.ascii_local_part + "@" + found.ascii_domain if found.ascii_local_part else None
        )
        validate_email_length(found)
    except EmailNotValidError:
        raise FieldInvalid("is not a valid e-mail address") from None
    return found.normalized, found.ascii_domain


def _local_part(local: str) -> LocalPartValidationResult:
    return validate_email_local_part(
        local,
        allow_smtputf8=email_validator.ALLOW_SMTPUTF8,
        allow_empty_local=email_validator.ALLOW_EMPTY_LOCAL,
        quoted_local_part=False,
        strict=email_validator.STRICT,
    )


@lru_cache(maxsize=_CACHED)
def _domain_names(domain: str) -> tuple[str, str] | None:
    """(domain, ASCII domain) of a domain email-validator accepts, None when it refuses it."""
    try:
        info = validate_email_domain_name(
            domain, test_environment=True, globally_deliverable=email_validator.GLOBALLY_DELIVERABLE
        )
    except EmailNotValidError:
        return None
    return info["domain"], info["ascii_domain"]


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
    if region == "US":
        # Fast path for the common North American shapes, with or without an extension
        # ("ext. 12", which E.164 leaves out); the same answer as the slow path.
        match = _NANP_CELL.fullmatch(text)
        if match is None and (not text.startswith("+") or text.startswith("+1")):
            national = text.removeprefix("+").removeprefix("1").strip()
            if extension := _EXTENSION.search(national):
                match = _NANP.fullmatch(national, 0, extension.start())
                if match is not None and extension.end() != len(national):
                    match = None
        if match:
            return "+1" + "".join(match.groups())
    return _parsed_phone(text, region)


@lru_cache(maxsize=_CACHED)
def _parsed_phone(text: str, region: str) -> str:
    """The phonenumbers path, cached by the cell's text: a shared line recurs down a list."""
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
