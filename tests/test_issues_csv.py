"""The issues CSV: every cell quoted, no cell a formula in a spreadsheet, whatever it splits on."""

from __future__ import annotations

import csv
import io
import re

from caseload.downloads import csv_text
from tests.support import Api, run_worker, sign_up_provider, start_import

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
HOSTILE = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+2",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "note;=cmd|' /C calc'!A0",
    "note,=1+1",
    "a; @SUM(1)",
    'a;"=1',
    "a;'=1",
    "x;;;-1",
    "\uff1d1+1",
    "plain text",
    "12-3 (not a formula)",
]


def _is_formula(start: str) -> bool:
    return start.startswith(TRIGGERS)


def test_hostile_cells_and_headers_are_quoted_and_neutralised() -> None:
    header = [*HOSTILE[:3], "Row"]
    rows = [[cell, cell, cell, 7] for cell in HOSTILE]
    text = csv_text([header, *rows])
    lines = list(csv.reader(io.StringIO(text)))
    assert len(lines) == len(HOSTILE) + 1
    # every cell is quoted: each record is "…","…",…
    for record in csv.reader(io.StringIO(text)):
        assert len(record) == 4
    assert text.count('"') >= 2 * 4 * len(lines)
    assert re.fullmatch(r'("([^"]|"")*"(,|\r\n))+', text, flags=re.S)
    # parsed as the CSV it is, or split on `;` or `,` ignoring quotes: no cell starts a formula
    for line in lines:
        for cell in line:
            assert not _is_formula(cell), cell
    for raw in re.split(r"[,;\r\n]", text):
        stripped = raw.lstrip(' "')
        assert not _is_formula(stripped), raw
    # nothing is lost: removing the inserted apostrophes gives the original text back
    for original, written in zip(HOSTILE, (line[0] for line in lines[1:]), strict=True):
        assert written.replace("'", "") == original.replace("'", "")
    assert lines[1 + HOSTILE.index("plain text")][0] == "plain text"
    assert lines[1 + HOSTILE.index("12-3 (not a formula)")][0] == "12-3 (not a formula)"


async def test_the_downloaded_issues_csv_neutralises_a_hostile_column_header(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    hostile = 'Mail;=HYPERLINK("http://evil.example")'
    data = (
        f'First Name,Last Name,"{hostile.replace(chr(34), chr(34) * 2)}"\r\n'
        "Ada,Lovelace,not-an-address\r\n"
        "Alan,Turing,@also-bad\r\n"
    ).encode()
    mapping = [{"field": "EMAIL", "column": hostile}]
    result = await start_import(api, token, data, columnMapping=mapping)
    assert result["__typename"] == "StartClientImportSuccess", result
    await run_worker(api.settings)
    download = await api.http.get(
        f"{api.url}/imports/{result['clientImport']['id']}/issues.csv",
        headers={"authorization": f"Bearer {token}"},
    )
    assert download.status_code == 200
    text = download.text
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["Row", "Column", "Severity", "Code", "Message"]
    assert len(lines) == 3  # both rows have an invalid e-mail
    assert {line[1] for line in lines[1:]} == {'Mail;\'=HYPERLINK("http://evil.example")'}
    assert re.fullmatch(r'("([^"]|"")*"(,|\r\n))+', text, flags=re.S)
    for raw in re.split(r"[,;\r\n]", text):
        assert not _is_formula(raw.lstrip(' "')), raw
