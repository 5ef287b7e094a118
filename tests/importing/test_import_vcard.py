"""vCard uploads: 2.1 quoted-printable, 3.0 folding and groups, 4.0 PREF, choice of e-mail and phone."""

from __future__ import annotations

import datetime

import pytest

from importing import ClientField, ImportFileError, ImportFormat, inspect_file, iter_rows
from tests.importing.builders import read

F = ClientField


def vcf(*cards: str, end: str = "\r\n") -> bytes:
    text = "".join(f"BEGIN:VCARD\n{c.strip()}\nEND:VCARD\n" for c in cards)
    return text.replace("\n", end).encode()


def test_vcard_21_quoted_printable_with_soft_line_breaks() -> None:
    card = """VERSION:2.1
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;Zo=C3=AB;;;
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Zo=C3=AB =
M=C3=BC=
ller
NICKNAME;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:Ren=
=E9
TEL;HOME:+1 212 555 0100
TEL;CELL;PREF:(585) 555-2069
EMAIL;HOME:zoe@example.org"""
    plan, ok, _, _ = read(vcf(card))
    assert plan.format is ImportFormat.VCF
    row = ok[0]
    assert (row.first_name, row.last_name, row.preferred_name) == ("Zoë", "Müller", "René")
    assert row.mobile_phone == "+15855552069"


def test_vcard_30_folded_lines_escapes_and_item_labels() -> None:
    card = """VERSION:3.0
N:O'Brien\\, Jr;Mary\\;Ann;;;
FN:Mary Ann O'Brien
EMAIL;type=INTERNET;type=WORK:work@exa
 mple.org
EMAIL;type=INTERNET;type=HOME;type=pref:home@example.org
item1.TEL;type=VOICE:(212) 555-0101
item1.X-ABLabel:_$!<Mobile>!$_
item2.TEL;type=VOICE:(212) 555-0102
item2.X-ABLabel:Office
BDAY;value=date:1990-02-03
NOTE:line one\\nline two"""
    _, ok, _, _ = read(vcf(card, end="\n"))
    row = ok[0]
    assert (row.first_name, row.last_name) == ("Mary;Ann", "O'Brien, Jr")
    assert row.email == "home@example.org"
    assert row.mobile_phone == "+12125550101"
    assert row.date_of_birth == datetime.date(1990, 2, 3)


def test_vcard_40_pref_numbers_and_uri_values() -> None:
    card = """VERSION:4.0
FN:Leo Silva
N:Silva;Leo;;;
EMAIL;TYPE=work;PREF=2:second@example.org
EMAIL;TYPE=home;PREF=1:first@example.org
TEL;VALUE=uri;TYPE="voice,cell";PREF=2:tel:+1-212-555-0103
TEL;VALUE=uri;TYPE="cell";PREF=1:tel:+1-212-555-0104;ext=1
TEL;VALUE=uri;TYPE=home;PREF=1:tel:+1-212-555-0105
BDAY:--0203
KIND:individual"""
    _, ok, _, _ = read(vcf(card))
    assert (ok[0].email, ok[0].mobile_phone) == ("first@example.org", "+12125550104")
    assert ok[0].date_of_birth is None and not ok[0].warnings


def test_phone_choice_first_email_and_home_only_cards() -> None:
    cards = [
        "VERSION:3.0\nN:A;B;;;\nEMAIL:one@example.org\nEMAIL:two@example.org\nTEL;TYPE=HOME:2125550100",
        "VERSION:3.0\nN:C;D;;;\nEMAIL:d@example.org\nTEL;TYPE=CELL:2125550101\nTEL;TYPE=CELL,PREF:2125550102",
        "VERSION:3.0\nN:E;F;;;\nEMAIL:f@example.org\nTEL;TYPE=IPHONE:2125550103",
        "VERSION:3.0\nN:G;H;;;\nEMAIL:h@example.org\nTEL;TYPE=CELL:12",
    ]
    _, ok, _, _ = read(vcf(*cards))
    assert ok[0].email == "one@example.org"
    assert [r.mobile_phone for r in ok] == [None, "+12125550102", "+12125550103", None]
    assert [w.code for w in ok[3].warnings] == ["INVALID_PHONE"]
    assert ok[3].warnings[0].column == "TEL"


def test_names_fall_back_to_fn_and_errors_name_properties() -> None:
    cards = [
        "VERSION:3.0\nFN:Nora García\nEMAIL:nora@example.org",
        "VERSION:3.0\nN:Tanaka;;;;\nFN:Ken Tanaka\nEMAIL:ken@example.org",
        "VERSION:3.0\nN:;;;;\nFN:Solo\nEMAIL:bad-address",
    ]
    _, ok, bad, _ = read(vcf(*cards))
    assert [(r.first_name, r.last_name) for r in ok] == [("Nora", "García"), ("Ken", "Tanaka")]
    assert [(i.column, i.code) for i in bad[0].issues] == [
        ("N", "MISSING_FIELD"), ("EMAIL", "INVALID_EMAIL"),
    ]  # fmt: skip
    assert bad[0].row == 3


def test_group_cards_are_skipped_and_not_counted() -> None:
    person = "VERSION:3.0\nN:A;B;;;\nEMAIL:{}@example.org"
    data = vcf(
        "VERSION:3.0\nN:Clients;;;;\nFN:Clients\nX-ADDRESSBOOKSERVER-KIND:group",
        person.format("one"),
        "VERSION:4.0\nFN:Friends\nKIND:group\nMEMBER:urn:uuid:1",
        person.format("two"),
    )
    plan, ok, _, rows = read(data)
    assert plan.total_rows == 2 == len(rows)
    assert [r.row for r in ok] == [2, 4]  # the card's place in the file
    assert [r.email for r in iter_rows(data, plan, start_after=1)] == ["two@example.org"]


def test_plan_lists_properties_and_ignores_the_rest() -> None:
    card = "VERSION:3.0\nPRODID:x\nN:A;B;;;\nFN:B A\nORG:Clinic\nEMAIL:a@example.org\nTEL;CELL:2125550100\nADR:;;1 Main St"
    plan = inspect_file(vcf(card))
    assert plan.mapping[F.EMAIL] == "EMAIL" and plan.mapping[F.MOBILE_PHONE] == "TEL"
    assert plan.ignored_columns == ["ORG", "ADR"]
    assert plan.headers == ["VERSION", "PRODID", "N", "FN", "ORG", "EMAIL", "TEL", "ADR"]


def test_nested_agent_card_and_missing_end() -> None:
    data = (
        b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:A;B\r\nEMAIL:b@example.org\r\nAGENT:\r\nBEGIN:VCARD\r\n"
        b"N:Agent;Smith\r\nEMAIL:agent@example.org\r\nEND:VCARD\r\nEND:VCARD\r\n"
        b"begin:vcard\r\nn:C;D\r\nemail:d@example.org\r\n"
    )
    _, ok, _, rows = read(data)
    assert [r.email for r in ok] == ["b@example.org", "d@example.org"] and len(rows) == 2


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"BEGIN:VCARD\r\nEND:VCARD\r\n", "EMPTY_FILE"),
        (b"BEGIN:VCARD\r\nN:A;B\r\nTEL:1\r\nEND:VCARD\r\n", "MISSING_REQUIRED_COLUMNS"),
        (b"BEGIN:VCARD\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nEND:VCARD\r\n", "EMPTY_FILE"),
        (b"\xef\xbb\xbf  begin:vcard", "EMPTY_FILE"),
    ],
)
def test_vcards_without_clients(data: bytes, code: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        inspect_file(data)
    assert caught.value.code == code


def test_missing_email_message_for_contacts() -> None:
    with pytest.raises(ImportFileError) as caught:
        inspect_file(b"BEGIN:VCARD\r\nN:Nguyen;Ava\r\nEND:VCARD\r\n")
    assert caught.value.missing_columns == ["Email"]
    assert "Nguyen" not in caught.value.message


def test_row_cap_and_utf16_vcard() -> None:
    cards = [f"VERSION:3.0\nN:A;B;;;\nEMAIL:c{i}@example.org" for i in range(5)]
    data = vcf(*cards).decode().encode("utf-16")
    assert inspect_file(data, max_rows=5).total_rows == 5
    with pytest.raises(ImportFileError) as caught:
        inspect_file(data, max_rows=4)
    assert caught.value.code == "TOO_MANY_ROWS"
