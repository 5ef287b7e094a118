"""CSV uploads: encodings, delimiters, quoting, header search, columns and per-row rules."""

from __future__ import annotations

import datetime
import time

import pytest

from importing import ClientField, ImportFileError, ImportFormat, RowError, inspect_file, iter_rows
from tests.importing.builders import csv_bytes, read

F = ClientField
HEADER = ["First Name", "Last Name", "Email", "Mobile Phone"]
ROW = ["Zoë", "Müller", "zoe@example.org", "(462) 555-1931"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
def test_encodings_keep_accents(encoding: str) -> None:
    data = csv_bytes([HEADER, ["José", "Müller", "jose@example.org", ""]], encoding=encoding)
    plan, ok, _, _ = read(data)
    assert plan.format is ImportFormat.CSV
    assert (ok[0].first_name, ok[0].last_name) == ("José", "Müller")
    assert plan.headers[0] == "First Name"


def test_windows_1252_bytes_that_are_not_utf8() -> None:
    data = "First Name;Last Name;Email\r\nRené;Côté;rene@example.org\r\n".encode("cp1252")
    _, ok, _, _ = read(data)
    assert (ok[0].first_name, ok[0].last_name) == ("René", "Côté")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(delimiter: str) -> None:
    data = csv_bytes([HEADER, ROW, ["A, B", "C", "ab@example.org", ""]], delimiter=delimiter)
    plan, ok, _, _ = read(data)
    assert plan.layout.delimiter == delimiter
    assert [r.first_name for r in ok] == ["Zoë", "A, B"]


def test_quoted_fields_with_newlines_commas_and_quotes() -> None:
    data = (
        b'First Name,Last Name,Email,Notes\r\n"Mary\r\nAnn","O""Neil, Jr",m@example.org,"a\nb"\r\n'
        b"Leo,Silva,leo@example.org,\r\n"
    )
    _, ok, _, _ = read(data)
    assert (ok[0].first_name, ok[0].last_name) == ("Mary Ann", 'O"Neil, Jr')
    assert [r.row for r in ok] == [2, 3]  # a record is one spreadsheet row, newlines or not


def test_lf_and_cr_line_ends() -> None:
    for end in ("\n", "\r"):
        data = end.join(["First Name,Last Name,Email", "Ava,Nguyen,ava@example.org", ""]).encode()
        assert read(data)[1][0].email == "ava@example.org"


def test_header_below_title_rows_and_blank_rows_are_skipped() -> None:
    data = csv_bytes(
        [["Client export"], ["Printed 2024-01-05"], [], HEADER, ROW, [], ["", " ", ""], ROW]
    )
    plan, ok, bad, rows = read(data)
    assert plan.layout.header_index == 3
    assert plan.total_rows == 2 == len(rows)
    assert [r.row for r in ok] == [5, 8]
    assert not bad


def test_aliases_match_case_space_and_punctuation_blind() -> None:
    data = csv_bytes(
        [["  given NAME ", "SURNAME", "e_mail", "Cell-Phone", "d.o.b.", "nick name"],
         ["Ava", "Nguyen", "AVA@Example.ORG", "212.555.0199", "1990-02-03", "Avi"]]
    )  # fmt: skip
    plan, ok, _, _ = read(data)
    assert set(plan.mapping) == {
        F.FIRST_NAME, F.LAST_NAME, F.EMAIL, F.MOBILE_PHONE, F.DATE_OF_BIRTH, F.PREFERRED_NAME,
    }  # fmt: skip
    row = ok[0]
    assert (row.email, row.mobile_phone, row.preferred_name) == (
        "ava@example.org", "+12125550199", "Avi",
    )  # fmt: skip
    assert row.date_of_birth == datetime.date(1990, 2, 3)


def test_theranest_and_outlook_spellings() -> None:
    data = csv_bytes(
        [["Client First Name", "Client Last Name", "Client Email", "Client Mobile Phone Number"],
         ["Ava", "Nguyen", "ava@example.org", "2125550199"]]
    )  # fmt: skip
    assert read(data)[1][0].mobile_phone == "+12125550199"


def test_generic_phone_only_without_a_mobile_column() -> None:
    only_phone = csv_bytes(
        [["First Name", "Last Name", "Email", "Phone"], [*ROW[:3], "2125550199"]]
    )
    assert read(only_phone)[0].mapping[F.MOBILE_PHONE] == "Phone"
    both = csv_bytes([[*HEADER, "Phone"], [*ROW, "2125550100"]])
    plan, ok, _, _ = read(both)
    assert plan.mapping[F.MOBILE_PHONE] == "Mobile Phone"
    assert ok[0].mobile_phone == "+14625551931"
    home = csv_bytes([["First Name", "Last Name", "Email", "Home Phone"], [*ROW[:3], "2125550199"]])
    plan, ok, _, _ = read(home)
    assert F.MOBILE_PHONE not in plan.mapping and ok[0].mobile_phone is None


def test_full_name_column_split_when_no_first_or_last() -> None:
    data = csv_bytes(
        [["Name", "Email"],
         ["Mary Ann Smith", "m@example.org"],
         ["Kowalski, Chen", "c@example.org"],
         ["Dr. Nora García Jr.", "n@example.org"],
         ["Cher", "cher@example.org"]]
    )  # fmt: skip
    plan, ok, bad, _ = read(data)
    assert plan.mapping == {F.FULL_NAME: "Name", F.EMAIL: "Email"}
    assert [(r.first_name, r.last_name) for r in ok] == [
        ("Mary Ann", "Smith"), ("Chen", "Kowalski"), ("Nora", "García Jr."),
    ]  # fmt: skip
    [issue] = bad[0].issues
    assert (issue.code, issue.column) == ("MISSING_FIELD", "Name")


def test_full_name_ignored_when_first_and_last_exist() -> None:
    data = csv_bytes([["Name", *HEADER], ["Someone Else", *ROW]])
    plan, ok, _, _ = read(data)
    assert F.FULL_NAME not in plan.mapping and "Name" in plan.ignored_columns
    assert ok[0].first_name == "Zoë"


def test_google_phone_label_is_read_per_row() -> None:
    header = ["Given Name", "Family Name", "E-mail 1 - Value",
              "Phone 1 - Label", "Phone 1 - Value", "Phone 2 - Type", "Phone 2 - Value"]  # fmt: skip
    data = csv_bytes(
        [header,
         ["A", "One", "a@example.org", "Mobile", "212 555 0101", "Home", "212 555 0102"],
         ["B", "Two", "b@example.org", "Home", "212 555 0103", "* Mobile", "212 555 0104"],
         ["C", "Three", "c@example.org", "Work", "212 555 0105", "Home", "212 555 0106"],
         ["D", "Four", "d@example.org ::: d2@example.org", "Mobile", "212 555 0107 ::: 1", "", ""]]
    )  # fmt: skip
    plan, ok, _, _ = read(data)
    assert [r.mobile_phone for r in ok] == ["+12125550101", "+12125550104", None, "+12125550107"]
    assert ok[3].email == "d@example.org"
    assert "Phone 1 - Label" not in plan.ignored_columns


def test_ignored_columns_list_every_unmapped_header_and_never_import_insurance() -> None:
    data = csv_bytes(
        [
            [*HEADER, "Insurance Member ID", "Payer", "Credit Card", "Notes", ""],
            [*ROW, "W1", "X", "4111", "n", ""],
        ]
    )
    plan, _, _, _ = read(data)
    assert plan.ignored_columns == ["Insurance Member ID", "Payer", "Credit Card", "Notes"]


def test_explicit_mapping_overrides_the_guess() -> None:
    data = csv_bytes(
        [["Col A", "Col B", "Work Email", "Email"], ["Ava", "Nguyen", "w@example.org", "x"]]
    )
    mapping = {F.FIRST_NAME: "Col A", F.LAST_NAME: "col b", F.EMAIL: "Work Email"}
    plan, ok, bad, _ = read(data, column_mapping=mapping)
    assert plan.mapping[F.LAST_NAME] == "Col B"
    assert (ok[0].first_name, ok[0].email, bad) == ("Ava", "w@example.org", [])
    assert "Email" in plan.ignored_columns


def test_explicit_full_name_mapping_drops_guessed_first_and_last() -> None:
    data = csv_bytes(
        [["First Name", "Last Name", "Display", "Email"], ["x", "y", "Ava Nguyen", "a@example.org"]]
    )
    _, ok, _, _ = read(data, column_mapping={F.FULL_NAME: "Display"})
    assert (ok[0].first_name, ok[0].last_name) == ("Ava", "Nguyen")


def test_mapped_column_absent_or_protected_is_refused() -> None:
    data = csv_bytes([HEADER, ROW])
    with pytest.raises(ImportFileError) as caught:
        inspect_file(data, column_mapping={F.EMAIL: "E-mail Adres"})
    assert caught.value.code == "MISSING_REQUIRED_COLUMNS"
    assert caught.value.missing_columns == ["E-mail Adres"]
    assert caught.value.found_columns == HEADER
    data = csv_bytes([[*HEADER, "Subscriber Email"], [*ROW, "s@example.org"]])
    with pytest.raises(ImportFileError) as caught:
        inspect_file(data, column_mapping={F.EMAIL: "Subscriber Email"})
    assert "insurance" in caught.value.message


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        (["First Name", "Last Name", "Phone"], ["Email"]),
        (["Email", "Phone"], ["First Name", "Last Name"]),
        (["First Name", "E-mail"], ["Last Name"]),
    ],
)
def test_missing_required_columns(header: list[str], missing: list[str]) -> None:
    with pytest.raises(ImportFileError) as caught:
        inspect_file(csv_bytes([header, ["x"] * len(header)]))
    assert caught.value.code == "MISSING_REQUIRED_COLUMNS"
    assert caught.value.missing_columns == missing
    assert caught.value.found_columns == header


def test_a_file_without_a_header_row_is_refused_without_echoing_data() -> None:
    with pytest.raises(ImportFileError) as caught:
        inspect_file(b"Ava,Nguyen,ava@example.org,212-555-0199\r\nLeo,Silva,leo@example.org,\r\n")
    assert caught.value.code == "MISSING_REQUIRED_COLUMNS"
    assert "ava@example.org" not in caught.value.message and "Nguyen" not in caught.value.message


def test_row_errors_and_warnings_name_columns_not_values() -> None:
    data = csv_bytes(
        [[*HEADER, "DOB"],
         ["", "Nguyen", "not-an-address", "", ""],
         ["Leo", "Silva", "leo@example.org", "12345", "31/31/1990"],
         ["Mia", "Garcia", "mia@example.org", "+44 20 7946 0958", "02/03/1990"],
         ["x" * 101, "Lee", "lee@example.org", "", "1990-02-03T00:00:00"]]
    )  # fmt: skip
    _, ok, bad, rows = read(data)
    assert isinstance(rows[0], RowError)
    codes = [(i.column, i.code, i.severity) for i in bad[0].issues]
    assert codes == [("First Name", "MISSING_FIELD", "ERROR"), ("Email", "INVALID_EMAIL", "ERROR")]
    assert bad[0].issues[1].message == "Email is not a valid e-mail address"
    leo = ok[0]
    assert leo.mobile_phone is None and leo.date_of_birth is None
    assert [(w.code, w.column, w.severity) for w in leo.warnings] == [
        ("INVALID_PHONE", "Mobile Phone", "WARNING"), ("INVALID_DATE", "DOB", "WARNING"),
    ]  # fmt: skip
    assert all("12345" not in w.message and "31/31" not in w.message for w in leo.warnings)
    mia = ok[1]
    assert (mia.mobile_phone, mia.date_of_birth) == ("+442079460958", datetime.date(1990, 2, 3))
    assert bad[1].issues[0].code == "INVALID_NAME"


def test_addresses_written_as_mail_programs_write_them() -> None:
    data = csv_bytes(
        [["First Name", "Last Name", "Email"],
         ["Ava", "Nguyen", "Ava Nguyen <AVA@Example.ORG>"],
         ["Liam", "Smith", "mailto:liam@example.org"],
         ["Noah", "Lee", '"Lee, Noah" <noah@example.org>'],
         ["Zoe", "Park", "zoe@example.org <broken"],
         ["Mia", "Ruiz", "mailto:"]]
    )  # fmt: skip
    _, ok, bad, _ = read(data)
    assert [r.email for r in ok] == ["ava@example.org", "liam@example.org", "noah@example.org"]
    assert [(r.row, r.issues[0].code) for r in bad] == [(5, "INVALID_EMAIL"), (6, "INVALID_EMAIL")]


def test_dates_iso_us_short_year_and_year_less_birthdays() -> None:
    values = [
        "1990-02-03",
        "2/3/1990",
        "02/03/90",
        "19900203",
        "--02-03",
        "2999-01-01",
        "1800-01-01",
    ]
    data = csv_bytes(
        [[*HEADER[:3], "Birthday"]]
        + [["A", "B", f"a{i}@example.org", v] for i, v in enumerate(values)]
    )
    _, ok, _, _ = read(data)
    born = datetime.date(1990, 2, 3)
    assert [r.date_of_birth for r in ok] == [born, born, born, born, None, None, None]
    assert [len(r.warnings) for r in ok] == [0, 0, 0, 0, 0, 1, 1]


def test_other_phone_region() -> None:
    data = csv_bytes([HEADER, [*ROW[:3], "020 7946 0958"]])
    plan = inspect_file(data)
    [row] = iter_rows(data, plan, phone_region="GB")
    assert not isinstance(row, RowError) and row.mobile_phone == "+442079460958"


def test_resume_counts_error_rows_but_not_blank_rows() -> None:
    data = csv_bytes(
        [HEADER, ROW, [], ["", "", "bad", ""], [], ["Leo", "Silva", "leo@example.org", ""]]
    )
    plan, _, _, rows = read(data)
    assert plan.total_rows == 3
    assert [r.row for r in rows] == [2, 4, 6]
    assert [r.row for r in iter_rows(data, plan, start_after=2)] == [6]
    assert list(iter_rows(data, plan, start_after=3)) == []


@pytest.mark.parametrize(
    "data",
    [b"", b"   \r\n\t ", b"\xef\xbb\xbf", "\ufeff \r\n".encode("utf-16"), csv_bytes([HEADER]),
     csv_bytes([HEADER, [], ["", "", "", ""]]), csv_bytes([["Name"]])],
)  # fmt: skip
def test_empty_files(data: bytes) -> None:
    with pytest.raises(ImportFileError) as caught:
        inspect_file(data)
    assert caught.value.code == "EMPTY_FILE"


def test_size_and_row_caps() -> None:
    data = csv_bytes([HEADER] + [[*ROW[:2], f"c{i}@example.org", ""] for i in range(5)])
    assert inspect_file(data, max_rows=5).total_rows == 5
    with pytest.raises(ImportFileError) as caught:
        inspect_file(data, max_rows=4)
    assert caught.value.code == "TOO_MANY_ROWS" and "4" in caught.value.message
    assert inspect_file(data, max_bytes=len(data)).total_rows == 5
    with pytest.raises(ImportFileError) as caught:
        inspect_file(data, max_bytes=len(data) - 1)
    assert caught.value.code == "FILE_TOO_LARGE"


def test_row_cap_stops_counting_early() -> None:
    data = csv_bytes([HEADER] + [[*ROW[:2], f"c{i}@example.org", ""] for i in range(200_000)])
    started = time.perf_counter()
    with pytest.raises(ImportFileError):
        inspect_file(data, max_rows=10, max_bytes=len(data))
    assert time.perf_counter() - started < 0.1


def test_an_unclosed_quote_is_an_unsupported_file() -> None:
    data = b'First Name,Last Name,Email\r\n"Ava,Nguyen,ava@example.org\r\n' + b"x" * 200_000
    with pytest.raises(ImportFileError) as caught:
        read(data)
    assert caught.value.code == "UNSUPPORTED_FILE"


def test_control_characters_never_reach_names_or_headers() -> None:
    # A NUL in the first 64 KB makes the file binary; past that, it is cleaned like the rest.
    rows = b"".join(b"A,B,a%d@example.org\r\n" % i for i in range(4_000))
    data = b"First\x01Name,Last Name,Email\r\n" + rows + b"B\x00b,C\x1fD,bob@example.org\r\n"
    plan, ok, _, _ = read(data)
    ok = ok[-1:]
    assert plan.headers[0] == "First Name"
    assert (ok[0].first_name, ok[0].last_name) == ("B b", "C D")
