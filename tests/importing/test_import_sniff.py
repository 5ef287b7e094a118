"""The format is told from content: workbooks, encrypted and old Office files, and junk."""

from __future__ import annotations

import io

import pytest

from importing import ImportFileError, ImportFormat, inspect_file
from importing.ole import stream_names
from tests.importing.builders import FIXTURES, ole_file, read, xlsx_from_sheets, zip_of

PASSWORD_MESSAGE = (
    "This workbook is password-protected. Export it again without password protection "
    "(in SimplePractice, uncheck the password-protection box) and upload the new file."
)


def refused(data: bytes) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        inspect_file(data)
    return caught.value


def test_format_comes_from_content_not_name() -> None:
    for name, expected in [
        ("theranest-clients.xlsx", ImportFormat.XLSX),
        ("iphone-contacts.vcf", ImportFormat.VCF),
        ("headway-template.csv", ImportFormat.CSV),
    ]:
        assert read((FIXTURES / name).read_bytes())[0].format is expected
    vcard = b"\r\n  \xef\xbb\xbfBEGIN:VCARD\r\nN:A;B\r\nEMAIL:b@example.org\r\nEND:VCARD"
    assert inspect_file(vcard).format is ImportFormat.VCF


def test_encrypted_workbook_from_office() -> None:
    from msoffcrypto.format import ooxml

    plain = xlsx_from_sheets(
        {"Clients": [["First Name", "Last Name", "Email"], ["A", "B", "a@example.org"]]}
    )
    encrypted = io.BytesIO()
    ooxml.OOXMLFile(io.BytesIO(plain)).encrypt("secret", encrypted)
    error = refused(encrypted.getvalue())
    assert (error.code, error.message) == ("PASSWORD_PROTECTED_FILE", PASSWORD_MESSAGE)


def test_encrypted_package_in_a_crafted_compound_file() -> None:
    data = ole_file(["EncryptionInfo", "EncryptedPackage"])
    assert stream_names(data) == {"Root Entry", "EncryptionInfo", "EncryptedPackage"}
    assert refused(data).code == "PASSWORD_PROTECTED_FILE"
    damaged = data[:0x30] + b"\xff\xff\xff\x7f" + data[0x34:]
    assert refused(damaged).code == "PASSWORD_PROTECTED_FILE"


def test_old_excel_and_other_office_files() -> None:
    error = refused(ole_file(["Workbook", "SummaryInformation"]))
    assert error.code == "UNSUPPORTED_FILE" and ".xlsx" in error.message and ".xls" in error.message
    assert refused(ole_file(["WordDocument"])).code == "UNSUPPORTED_FILE"
    assert refused(ole_file([])[:700]).code == "UNSUPPORTED_FILE"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\xff\xd8\xff\xe0\x00\x10JFIF",
        bytes(range(256)) * 4,
        b"\x00\x01\x02\x03" * 100,
        zip_of({"readme.txt": b"hello"}),
        zip_of({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b""}),
        zip_of({"xl/workbook.bin": b""}),
        b"<html><body><table><tr><td>First Name</td></tr></table></body></html>",
        b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>',
        b"PK\x03\x04 not really a zip",
    ],
)
def test_unreadable_files(data: bytes) -> None:
    error = refused(data)
    assert error.code == "UNSUPPORTED_FILE"
    assert "." in error.message and error.missing_columns == []


def test_empty_inputs_of_each_kind() -> None:
    for data in (b"", b" \n\t\r\n ", "  ".encode("utf-16"), b"\xef\xbb\xbf\r\n"):
        assert refused(data).code == "EMPTY_FILE"


def test_too_large_is_decided_before_anything_is_read() -> None:
    error = refused(b"\x00" * 2_000_001)
    assert error.code == "UNSUPPORTED_FILE"
    with pytest.raises(ImportFileError) as caught:
        inspect_file(b"x" * 101, max_bytes=100)
    assert caught.value.code == "FILE_TOO_LARGE"
    assert caught.value.message.startswith("The file is larger than 100 bytes.")
    with pytest.raises(ImportFileError) as caught:
        inspect_file(b"x" * 21_000_000)
    assert "20 MB" in caught.value.message
