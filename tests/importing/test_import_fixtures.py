"""Every shared export fixture reads to the outcome expected.json gives it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from importing import ClientRow, ImportFileError, iter_rows
from tests.importing.builders import FIXTURES, read

EXPECTED: dict[str, dict[str, Any]] = json.loads((FIXTURES / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_outcome(name: str) -> None:
    expected = EXPECTED[name]
    data = (FIXTURES / name).read_bytes()
    if "rejected" in expected:
        with pytest.raises(ImportFileError) as caught:
            read(data)
        assert caught.value.code == expected["rejected"]
        assert caught.value.missing_columns == expected["missing"]
        return
    plan, ok, bad, rows = read(data)
    assert plan.format.value == expected["format"]
    assert plan.total_rows == len(rows)
    assert len(ok) == expected["created"] + expected.get("duplicates", 0)
    assert len({r.email for r in ok}) == expected["created"]
    assert len(bad) == expected["errors"]
    if "phones" in expected:
        assert sum(1 for r in ok if r.mobile_phone) == expected["phones"]
    for column in expected.get("ignored_includes", []):
        assert column in plan.ignored_columns


def test_missing_email_column_names_what_was_found() -> None:
    with pytest.raises(ImportFileError) as caught:
        read((FIXTURES / "missing-email-column.csv").read_bytes())
    error = caught.value
    assert error.found_columns == ["First Name", "Last Name", "Phone"]
    assert error.message == (
        "The file has no Email column. Found columns: First Name, Last Name, Phone. "
        "Add a column named Email, or map one."
    )
    assert "Ava" not in error.message and "0101" not in error.message


def test_jane_rows_keep_file_line_numbers_and_one_missing_email() -> None:
    plan, ok, bad, _ = read((FIXTURES / "jane-patient-list.csv").read_bytes())
    assert [r.row for r in ok] == [2, 3, 4, 6, 7, 8]
    assert ok[-1].email == ok[0].email  # row 8 repeats row 2; the job dedupes
    assert bad[0].row == 5
    [issue] = bad[0].issues
    assert (issue.column, issue.code, issue.severity) == ("Email", "MISSING_FIELD", "ERROR")
    assert "Fatima" not in issue.message
    assert ok[0].first_name == "Liam" and ok[0].last_name == "García"
    assert ok[0].mobile_phone == "+12875555915"
    assert str(ok[0].date_of_birth) == "2003-03-24"
    assert "Home Phone" in plan.ignored_columns and "Work Phone" in plan.ignored_columns


def test_simplepractice_splits_the_client_column_and_ignores_insurance() -> None:
    plan, ok, _, _ = read((FIXTURES / "simplepractice-client-details.csv").read_bytes())
    assert (ok[1].first_name, ok[1].last_name) == ("Zoë", "Nguyen")
    assert str(ok[0].date_of_birth) == "1980-11-19"
    assert plan.ignored_columns == [
        "Client ID",
        "Primary Insurance",
        "Insurance Member ID",
        "Status",
    ]
    assert "Primary Insurance" not in plan.mapping.values()


def test_google_contacts_picks_the_phone_labelled_mobile() -> None:
    plan, ok, _, _ = read((FIXTURES / "google-contacts.csv").read_bytes())
    assert ok[0].mobile_phone == "+19605555874"  # Phone 2 (Mobile), not Phone 1 (Home)
    assert plan.mapping[next(f for f in plan.mapping if f.value == "MOBILE_PHONE")] == (
        "Phone 2 - Value"
    )


def test_theranest_workbook_reads_title_rows_number_phones_and_dates() -> None:
    _, ok, _, _ = read((FIXTURES / "theranest-clients.xlsx").read_bytes())
    assert ok[0].row == 4
    assert ok[0].mobile_phone == "+13065556489"
    assert str(ok[0].date_of_birth) == "1980-03-03"
    assert ok[1].first_name == "Zoë"


def test_vcard_fixtures_skip_the_group_card_and_home_phones() -> None:
    _, ok, _, rows = read((FIXTURES / "iphone-contacts.vcf").read_bytes())
    assert len(rows) == 3
    assert ok[0].mobile_phone == "+16055550791"
    _, ok, _, _ = read((FIXTURES / "android-contacts.vcf").read_bytes())
    assert (ok[1].first_name, ok[1].mobile_phone) == ("Zoë", "+14545558296")


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if "rejected" not in EXPECTED[n]))
def test_fixture_resumes_after_any_checkpoint(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    plan, _, _, rows = read(data)
    for start in range(len(rows) + 1):
        assert list(iter_rows(data, plan, start_after=start)) == rows[start:]


def test_every_row_is_a_client_row_or_a_row_error() -> None:
    for name, expected in EXPECTED.items():
        if "rejected" in expected:
            continue
        _, ok, bad, rows = read((FIXTURES / name).read_bytes())
        assert len(ok) + len(bad) == len(rows)
        assert all(isinstance(r, ClientRow) for r in ok)
