"""Files shaped as real exporters write them (Apple, Android, feature phones, Outlook, Google)
that were once read wrong: one-part names, declared charsets, Outlook's empty dates, grouped
BEGIN lines, reserved domains, impossible numbers, and files that hold no table at all."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from importing import ImportFileError, ImportFormat, RowError, inspect_file
from importing.fields import FieldInvalid, normalize_email, normalize_phone
from tests.importing.builders import csv_bytes, read, zip_of

FILES = Path(__file__).resolve().parent / "exporters"


def load(name: str) -> bytes:
    return (FILES / name).read_bytes()


def refused(data: bytes) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        inspect_file(data)
    return caught.value


# 1. One-part names


def test_apple_contact_with_only_a_last_name_is_a_row_error_not_a_doubled_name() -> None:
    _, ok, bad, rows = read(load("apple-one-name.vcf"))
    assert [(r.first_name, r.last_name) for r in ok] == [("Ken", "Tanaka")]
    assert [r.row for r in rows if isinstance(r, RowError)] == [1, 2, 3]
    cher, sting, madonna = bad
    # N:Cher;;;; with FN:Cher, and N:Sting;;;Mr.; with FN:Mr. Sting: no first name.
    for error in (cher, sting):
        assert [(i.column, i.code, i.severity) for i in error.issues] == [
            ("N", "MISSING_FIELD", "ERROR")
        ]
        assert error.issues[0].message == (
            "First Name is required (the name in the file has one part only; add the other)"
        )
    # N:;Madonna;;; with FN:Madonna: no last name.
    assert [(i.column, i.code) for i in madonna.issues] == [("N", "MISSING_FIELD")]
    assert madonna.issues[0].message.startswith("Last Name is required (the name in the file")
    assert all("Cher" not in i.message for e in bad for i in e.issues)


def test_android_one_name_contacts_and_fn_only_cards() -> None:
    _, ok, bad, _ = read(load("android-one-name.vcf"))
    assert [(r.first_name, r.last_name) for r in ok] == [("Kwame", "Osei")]
    # N:;Prince;;;, FN:Adele without N, and quoted-printable N:Björk;;;; with FN:Björk.
    assert [(e.row, [(i.column, i.code) for i in e.issues]) for e in bad] == [
        (1, [("N", "MISSING_FIELD")]),
        (2, [("N", "MISSING_FIELD")]),
        (3, [("N", "MISSING_FIELD")]),
    ]
    assert [e.issues[0].message.split(" is")[0] for e in bad] == [
        "Last Name", "Last Name", "First Name",
    ]  # fmt: skip


def test_a_full_name_still_fills_a_missing_half_when_it_holds_more() -> None:
    card = b"BEGIN:VCARD\r\nN:Tanaka;;;;\r\nFN:Ken Tanaka\r\nEMAIL:k@example.org\r\nEND:VCARD\r\n"
    _, ok, _, _ = read(card)
    assert (ok[0].first_name, ok[0].last_name) == ("Ken", "Tanaka")
    data = csv_bytes(
        [["Name", "Email"], ["Cher", "cher@example.org"], ["Ann Lee", "a@example.org"]]
    )
    _, ok, bad, _ = read(data)
    assert [(r.first_name, r.last_name) for r in ok] == [("Ann", "Lee")]
    assert [(i.column, i.code) for i in bad[0].issues] == [("Name", "MISSING_FIELD")]


def test_a_blank_full_name_is_not_called_a_one_part_name() -> None:
    card = b"BEGIN:VCARD\r\nN:;;;;\r\nFN: \r\nEMAIL:k@example.org\r\nEND:VCARD\r\n"
    _, _, bad, _ = read(card)
    assert [i.message for i in bad[0].issues] == [
        "First Name is required", "Last Name is required",
    ]  # fmt: skip


# 2. Declared charsets on 8-bit values


def test_windows_1251_vcard_from_a_feature_phone() -> None:
    data = load("nokia-windows-1251.vcf")
    plan, ok, _, _ = read(data)
    assert plan.format is ImportFormat.VCF
    ivan, petr, anna = ok
    assert (ivan.first_name, ivan.last_name) == ("Иван", "Иванов")
    assert ivan.mobile_phone == "+79123456789" and not ivan.warnings
    assert (petr.first_name, petr.last_name) == ("Пётр", "Петров")  # quoted-printable
    assert not petr.warnings
    # CHARSET=X-NOKIA-CYRILLIC is not one we know: read as Windows-1252, with a warning.
    assert (anna.first_name, anna.last_name) == ("Àííà", "Ñèäîðîâà")
    assert [(w.column, w.code, w.severity) for w in anna.warnings] == [
        ("N", "UNKNOWN_CHARSET", "WARNING")
    ]
    assert "character set we do not know" in anna.warnings[0].message


def test_iso_8859_1_utf_8_and_undeclared_values_in_one_file() -> None:
    data = load("mixed-charsets.vcf")
    _, ok, _, _ = read(data)
    assert [(r.first_name, r.last_name) for r in ok] == [
        ("René", "Müller"), ("Zoë", "Kowalski"), ("Inés", "Núñez"),
    ]  # fmt: skip
    assert not any(r.warnings for r in ok)


def test_unknown_charset_in_a_utf8_file_and_on_quoted_printable_values() -> None:
    cards = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=x-unknown:Brandt;Zoë\r\n"
        "EMAIL:z@example.org\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=zlib;ENCODING=QUOTED-PRINTABLE:Ren=C3=A9;Ada\r\n"
        "EMAIL:r@example.org\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=x-unknown:Plain;Ascii\r\n"
        "EMAIL:p@example.org\r\nEND:VCARD\r\n"
    ).encode()
    _, ok, _, _ = read(cards)
    assert [(r.first_name, r.last_name) for r in ok] == [
        ("Zoë", "Brandt"), ("Ada", "René"), ("Ascii", "Plain"),
    ]  # fmt: skip
    assert [[w.code for w in r.warnings] for r in ok] == [
        ["UNKNOWN_CHARSET"], ["UNKNOWN_CHARSET"], [],
    ]  # fmt: skip


# 3. Outlook's empty-date placeholder


def test_outlook_zero_dates_are_blank_not_warnings() -> None:
    data = load("outlook-desktop.csv")
    plan, ok, bad, _ = read(data)
    assert not bad and len(ok) == 5
    assert [r.date_of_birth for r in ok] == [None, datetime.date(1985, 4, 7), None, None, None]
    assert ok[0].last_name == "García"  # Outlook writes the ANSI code page
    assert [[w.code for w in r.warnings] for r in ok] == [[], [], [], [], ["INVALID_DATE"]]
    assert "Anniversary" in plan.ignored_columns


# 4. A group prefix on BEGIN


def test_vcard_whose_begin_line_has_a_group_prefix() -> None:
    data = load("grouped-begin.vcf")
    plan, ok, bad, _ = read(data)
    assert plan.format is ImportFormat.VCF and plan.total_rows == 2 and not bad
    assert [(r.first_name, r.last_name, r.email) for r in ok] == [
        ("Omar", "Haddad", "omar.haddad@example.org"),
        ("Sara", "Lindqvist", "sara.lindqvist@example.org"),
    ]
    assert ok[0].mobile_phone == "+13035550162"


# 5. Reserved domains: one rule for every path


def test_google_csv_with_reserved_domains() -> None:
    _, ok, bad, _ = read(load("google-reserved-domains.csv"))
    assert [r.email for r in ok] == [
        "iris.novak@clinic.test", "zoë@clinic.test", "leo.marsh@staging.example",
        "ada.wong@example.com",
    ]  # fmt: skip
    assert [e.row for e in bad] == [2, 3, 4, 5, 6, 7]
    for error in bad:
        [issue] = error.issues
        assert (issue.column, issue.code, issue.severity) == (
            "E-mail 1 - Value", "INVALID_EMAIL", "ERROR",
        )  # fmt: skip
        assert issue.message.startswith("Email is not a deliverable address")


@pytest.mark.parametrize(
    ("address", "accepted"),
    [
        # The fast path (plain ASCII) and email-validator's path (non-ASCII, IDN) agree.
        ("ava@clinic.invalid", False), ("ávila@clinic.invalid", False),
        ("ava@localhost", False), ("ava@mail.localhost", False), ("ávila@mail.localhost", False),
        ("ava@printer.local", False), ("ávila@printer.local", False),
        ("ava@hidden.onion", False), ("ava@1.in-addr.arpa", False), ("ava@X.INVALID", False),
        ("ava@clinic.test", True), ("ávila@clinic.test", True),
        ("ava@staging.example", True), ("ávila@staging.example", True),
        ("ava@example.com", True), ("ava@example.org", True), ("ávila@example.net", True),
        ("ava@müller.example", True),
    ],
)  # fmt: skip
def test_every_path_that_normalizes_an_address_applies_one_rule(
    address: str, accepted: bool
) -> None:
    if accepted:
        assert normalize_email(address) == address.lower()
        return
    with pytest.raises(FieldInvalid) as caught:
        normalize_email(address)
    assert str(caught.value).startswith("is not a deliverable address")


# 6. Impossible numbers


def test_impossible_numbers_are_dropped_with_a_warning() -> None:
    _, ok, bad, _ = read(load("android-impossible-phones.vcf"))
    assert not bad and len(ok) == 6
    assert [r.mobile_phone for r in ok] == [
        None, None, None, None, "+14625551931", "+447911123456",
    ]  # fmt: skip
    for row in ok[:4]:
        assert [(w.column, w.code, w.severity) for w in row.warnings] == [
            ("TEL", "INVALID_PHONE", "WARNING")
        ]
        assert row.warnings[0].message == (
            "Mobile Phone is not a phone number that can exist (check the area code and "
            "number); the client is imported without it"
        )
    assert not ok[4].warnings and not ok[5].warnings


def test_csv_numbers_use_the_same_rule_on_the_fast_and_the_slow_path() -> None:
    impossible = ["+1 123 555 0100", "(123) 555-0100", "1-012-555-0100", "212.155.0100",
                  "(911) 555-0100", "+1 (411) 555-0100 ext. 2", "+44 1000 000000"]  # fmt: skip
    for number in impossible:
        with pytest.raises(FieldInvalid):
            normalize_phone(number)
    # A North American area code not in phonenumbers' list yet is still a real number.
    assert normalize_phone("(462) 555-1931") == "+14625551931"
    assert normalize_phone("+1 (462) 555-1931 ext. 4") == "+14625551931"
    data = csv_bytes(
        [["First Name", "Last Name", "Email", "Mobile Phone"],
         ["Ava", "Nguyen", "ava@example.org", "(123) 555-0100"],
         ["Liam", "Smith", "liam@example.org", "(212) 555-0100"]]
    )  # fmt: skip
    _, ok, _, _ = read(data)
    assert [(r.mobile_phone, [w.code for w in r.warnings]) for r in ok] == [
        (None, ["INVALID_PHONE"]), ("+12125550100", []),
    ]  # fmt: skip


# 7. Files that hold no table


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("clients.json", "This is a JSON data file"),
        ("clients.ndjson", "This is a JSON data file"),
        ("client-list.pdf", "This is a PDF document"),
        ("client-list.html", "This is a web page (HTML)"),
    ],
)
def test_json_pdf_and_web_pages_are_refused_for_what_they_are(name: str, start: str) -> None:
    error = refused(load(name))
    assert error.code == "UNSUPPORTED_FILE" and error.message.startswith(start)
    assert ".csv" in error.message and "Found columns" not in error.message
    assert "García" not in error.message and error.missing_columns == []


def test_zip_archives_that_are_not_workbooks() -> None:
    error = refused(zip_of({"export/clients.csv": load("outlook-desktop.csv")}))
    assert error.code == "UNSUPPORTED_FILE"
    assert error.message == (
        "This is a zip archive. Unzip it and upload the .csv, .xlsx or .vcf file inside."
    )
    error = refused(zip_of({"readme.txt": b"hello"}))
    assert error.code == "UNSUPPORTED_FILE" and "zip archive" in error.message
    error = refused(zip_of({"photo.jpg": b"\xff\xd8\xff"}))
    assert error.message.startswith("This zip archive holds no client list we can read.")


def test_a_csv_that_starts_with_a_bracket_is_still_a_csv() -> None:
    data = csv_bytes([["[First Name]", "[Last Name]", "[Email]"], ["Ava", "Lee", "a@example.org"]])
    assert inspect_file(data).format is ImportFormat.CSV
