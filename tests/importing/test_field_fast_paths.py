"""The fast and cached paths of field normalization answer exactly as the libraries they skip."""

from __future__ import annotations

import datetime
import itertools
import unicodedata

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from importing import inspect_file
from importing.csv_reader import _data_rows
from importing.fields import (
    _SIMPLE_EMAIL,
    FieldInvalid,
    _is_valid,
    _refuse_reserved,
    clean_text,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from importing.model import ClientField
from importing.rows import RowBuilder
from importing.source import source_of
from importing.tabular import client_rows, picked_rows
from importing.xlsx_reader import cell_text
from resolvers.names import fold, search_fields


def reference_email(value: str) -> str:
    """normalize_email as it was before the domain cache: email-validator on every address
    that is not plain ASCII."""
    text = unicodedata.normalize("NFC", value.strip())
    if not text:
        raise FieldInvalid("is required")
    if len(text) > 254:
        raise FieldInvalid("is too long to be an e-mail address")
    if ".." not in text.lower() and _SIMPLE_EMAIL.fullmatch(text.lower()):
        return text.lower()
    _refuse_reserved(text.lower().rpartition("@")[2].rstrip("."))
    try:
        result = validate_email(text, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise FieldInvalid("is not a valid e-mail address") from None
    if "." not in result.ascii_domain:
        raise FieldInvalid("is not a valid e-mail address")
    _refuse_reserved(result.ascii_domain)
    return unicodedata.normalize("NFC", result.normalized.lower())


def reference_phone(value: str) -> str | None:
    """normalize_phone through phonenumbers alone, no fast path and no cache."""
    text = value.strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        raise FieldInvalid("is not a phone number we can read") from None
    if (
        phonenumbers.is_possible_number_with_reason(number)
        != phonenumbers.ValidationResult.IS_POSSIBLE
    ):
        raise FieldInvalid("is not a phone number we can read")
    if not _is_valid(number):
        raise FieldInvalid("is not a phone number that can exist (check the area code and number)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def outcome(fn: object, value: str) -> tuple[str, str | None]:
    try:
        return "ok", fn(value)  # type: ignore[operator]
    except FieldInvalid as exc:
        return "invalid", str(exc)


LOCALS = [
    "ava", "Ava.Lee", "zéño.ma", "ZÉÑO", "ze\u0301no", "info", "INFO", "post+tag", "a..b", ".ava",
    "ava.", "用户", "ö" * 64, "ö" * 65, "a" * 64, "a" * 65, "a b", "a\u200bb", "ava\u0000",
    "Ω", "ß", "İstanbul", "a,b", "ñu-ø", "x" * 40 + "é",
]  # fmt: skip
DOMAINS = [
    "example.org", "EXAMPLE.ORG", "bücher-example-org.de", "BÜCHER.de", "xn--bcher-kva.de",
    "xn--bcher-xxx.de", "münchen.test", "example.invalid", "mail.localhost", "ex_ample.org",
    "-bad.org", "bad-.org", "a.b", "localhost", "example.org.", "ex..org", "123.456",
    "例え.テスト", "例え.jp", "\u0301x.org", "\u0301", "ünï.example", "x" * 63 + ".org",
    "x" * 64 + ".org", ".".join(["abcdefghi"] * 24) + ".org", "faß.de", "\uff25\uff38ample.org",
    "a\u200db.org", "ex ample.org", "[127.0.0.1]", "",
]  # fmt: skip
ODD = [
    "", " ", "ava", "@example.org", "ava@", "ava@@example.org", '"ava lee"@example.org',
    "Ava <ava@example.org>", "ava\uff20example.org", "a\\b@example.org", "a@b@example.org",
    "ava@example.org\u0301", "ava@\u0301example.org", "ä@" + "b" * 250 + ".de",
]  # fmt: skip


def test_email_matches_email_validator_on_the_hard_cases() -> None:
    cases = [f"{local}@{domain}" for local, domain in itertools.product(LOCALS, DOMAINS)]
    for value in [*cases, *ODD]:
        assert outcome(normalize_email, value) == outcome(reference_email, value), value
        # The second time answers from the domain cache: the same again.
        assert outcome(normalize_email, value) == outcome(reference_email, value), value


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(DOMAINS) | st.text(min_size=1, max_size=20),
)
def test_email_matches_email_validator_on_any_text(local: str, domain: str) -> None:
    value = f"{local}@{domain}"
    assert outcome(normalize_email, value) == outcome(reference_email, value)


NANP = ["(212) 555-0100", "212-555-0100", "212.555.0100", "2125550100", "+1 212 555 0100",
        "1 (212) 555-0100", "(911) 555-0100", "(212) 155-0100", "(123) 555-0100", "+1 911 555 0100",
        "+ 1 212 555 0100", "11 212 555 0100", "+2125550100"]  # fmt: skip
EXTENSIONS = [
    "", " ext. 12", " ext 12", " ext.12", "ext.12", " x12", "x12", " X 12", " Ext. 123456",
    " EXT 1", " extension 12", " x1234567", " ext. 1234567890", " #12", ",12", ";ext=12",
    " ext. ١٢", " ext.", " x", " ext 12 ", " ext 12a", " xx12", " ext. 12 x3",
]  # fmt: skip


def test_phone_fast_path_matches_phonenumbers() -> None:
    for number, extension in itertools.product(NANP, EXTENSIONS):
        value = number + extension
        assert outcome(normalize_phone, value) == outcome(reference_phone, value), value
        assert outcome(normalize_phone, value) == outcome(reference_phone, value), value


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.from_regex(r"\+?1? ?\(?[0-9]{3}\)?[ .\-]?[0-9]{3}[ .\-]?[0-9]{4}", fullmatch=True),
    st.sampled_from(EXTENSIONS),
)
def test_phone_fast_path_matches_phonenumbers_on_any_number(number: str, extension: str) -> None:
    value = number + extension
    assert outcome(normalize_phone, value) == outcome(reference_phone, value)


def reference_clean(value: str) -> str:
    controls = dict.fromkeys([*range(0x20), 0x7F], " ")
    return " ".join(unicodedata.normalize("NFC", value).translate(controls).split())


@pytest.mark.parametrize(
    "value",
    ["Ava", " Ava  Lee ", "Ava\tLee", "A\x00va", "Zoë", "Zoe\u0308", "Ann\u00a0Lee", "\u2003", "",
     "O'Brien", "x" * 101, "Ava\x7f", "Ava\u0085Lee", "\uff21\uff56\uff41"],
)  # fmt: skip
def test_names_clean_as_before(value: str) -> None:
    assert clean_text(value) == reference_clean(value)
    assert outcome(lambda v: normalize_name(v, required=False), value) == outcome(
        lambda v: _reference_name(v), value
    )


def _reference_name(value: str) -> str | None:
    name = reference_clean(value)
    if not name:
        return None
    if len(name) > 100:
        raise FieldInvalid("must be at most 100 characters")
    return name


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(max_size=30))
def test_clean_text_matches_on_any_text(value: str) -> None:
    assert clean_text(value) == reference_clean(value)
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    assert fold(value) == (value.lower() if value.isascii() else stripped)


def test_search_fields_as_before() -> None:
    def reference(first: str, last: str, preferred: str | None, email: str) -> dict[str, str]:
        first_f, last_f = fold(first), fold(last)
        parts = [first_f, last_f, fold(preferred) if preferred else "", fold(email)]
        return {
            "search_text": " ".join(p for p in parts if p)[:512],
            "sort_name": f"{last_f} {first_f}"[:256],
        }

    for args in [
        ("Ava", "Lee", None, "ava@example.org"),
        ("Zoë", "Müller", "Zo", "zoë@bücher.de"),
        ("x" * 300, "y" * 300, "z" * 300, "e@x.org"),
        ("Ava", "Lee", "", "ava@example.org"),
        ("", "Lee", "Al", "ava@example.org"),
        ("Ava", "", None, ""),
        ("", "", "", ""),
    ]:
        assert search_fields(*args) == reference(*args)


NAMES = ["", " ", "Ava", " Ava  Lee ", "A\x00va", "\x01", "\u2001", "Zoë", "Zoe\u0308", "x" * 101,
         "Cher", "O'Brien", "Dr.", "Jr"]  # fmt: skip
EMAILS = ["", " ", "ava@example.org", " AVA@EXAMPLE.ORG ", "Ava Lee <ava@example.org>",
          "mailto:ava@example.org?subject=x", "zoë@bücher.de", "ava@", "a..b@example.org",
          "ava@example.invalid", "ava@localhost", "a" * 250 + "@x.org", "ava@xn--bcher-kva.de"]  # fmt: skip
PHONES = ["", "(212) 555-0100", "212 555 0100 ext. 7", "+44 20 7946 0000", "555", "not a phone",
          "(123) 555-0100"]  # fmt: skip
DATES = [None, "", " ", "1980-02-29", "02/30/1980", "7/4/76", "0/0/00", "--04-07", "2999-01-01",
         "19800101", "soon", datetime.date(1980, 1, 1), datetime.datetime(1980, 1, 1, 5),
         datetime.date(1800, 1, 1), 12.5]  # fmt: skip
FULLS = ["", "Cher", "Lee, Ava", "Ava Lee", "Dr. Ava Lee Jr.", "Ava Lee, MD", " "]


@settings(max_examples=400, derandomize=True, deadline=None)
@given(
    st.sampled_from(NAMES), st.sampled_from(NAMES), st.sampled_from(EMAILS),
    st.sampled_from(PHONES), st.sampled_from(NAMES), st.sampled_from(DATES), st.sampled_from(FULLS),
)  # fmt: skip
def test_row_fast_path_answers_as_the_checked_way(
    first: str, last: str, email: str, phone: str, preferred: str, dob: object, full: str
) -> None:
    columns = {
        ClientField.FIRST_NAME: "First", ClientField.LAST_NAME: "Last",
        ClientField.EMAIL: "Email", ClientField.MOBILE_PHONE: "Cell",
        ClientField.PREFERRED_NAME: "Nick", ClientField.DATE_OF_BIRTH: "DOB",
    }  # fmt: skip
    builder = RowBuilder(columns, "US")
    args = (7, first, last, email, phone, preferred, dob, full)
    expected = RowBuilder(columns, "US").build_checked(*args)
    assert builder.build(*args) == expected
    assert builder.build(*args) == expected  # from the caches this time


def test_plain_columns_read_as_the_pickers_do() -> None:
    lines = [
        "First Name,Last Name,Email,Mobile Phone,Date of Birth,Notes",
        "Ava,Lee,ava@example.org,(212) 555-0100,1980-01-01,x",
        "Bo,Ng,bo@example.org",  # short: the phone and birth date cells are absent
        "Cy,Oh,cy@example.org,,,,,,,extra",  # longer than the header
        "Di",
        ",Ma,ma@example.org ::: other@example.org,+44 20 7946 0000 ::: 1,0/0/00",
    ]
    data = ("\r\n".join(lines) + "\r\n").encode()
    plan = inspect_file(data)
    records = list(_data_rows(source_of(data), plan.layout))
    plain = list(client_rows(records, plan, start_after=1, region="US"))
    assert plain == list(picked_rows(records, plan, 1, "US", None))
    assert len(plain) == 4
    # Sheet cells: numbers, dates and booleans are converted as the pickers convert them.
    sheet: list[tuple[int, list[object]]] = [
        (2, ["Ava", "Lee", "ava@example.org", 2125550100.0, datetime.date(1980, 1, 2), 1.5]),
        (3, [True, 12.0, "bo@example.org", 2125550100, datetime.datetime(1980, 1, 2, 3), ""]),
        (4, ["Cy", "Oh", "cy@example.org", "", 29221.0]),
        (5, ["Di", "Ma"]),
    ]
    assert list(client_rows(sheet, plan, start_after=0, region="US", text=cell_text)) == list(
        picked_rows(sheet, plan, 0, "US", cell_text)
    )
