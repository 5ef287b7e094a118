"""Whatever bytes arrive, inspect_file and iter_rows answer or raise ImportFileError, quickly."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importing import ImportFileError, inspect_file, iter_rows
from tests.importing.builders import FIXTURES, csv_bytes

CODES = {
    "UNSUPPORTED_FILE",
    "PASSWORD_PROTECTED_FILE",
    "EMPTY_FILE",
    "FILE_TOO_LARGE",
    "TOO_MANY_ROWS",
    "MISSING_REQUIRED_COLUMNS",
}
# About 300 examples in all by default; IMPORT_FUZZ_SCALE=20 for a long hunt.
SCALE = float(os.environ.get("IMPORT_FUZZ_SCALE", "1"))
FIXTURE_BYTES = {p.name: p.read_bytes() for p in sorted(FIXTURES.iterdir()) if p.suffix != ".json"}


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=2000,
        derandomize=SCALE == 1,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def check(data: bytes) -> None:
    try:
        plan = inspect_file(data, max_rows=5_000, max_bytes=1_000_000)
    except ImportFileError as error:
        assert error.code in CODES and error.message
        return
    try:
        rows = list(iter_rows(data, plan))
    except ImportFileError as error:
        assert error.code in CODES
        return
    assert len(rows) == plan.total_rows
    if rows:
        assert list(iter_rows(data, plan, start_after=len(rows) - 1)) == rows[-1:]


@fuzz(70)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@fuzz(50)
@given(st.text(max_size=1500), st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
def test_arbitrary_text(text: str, encoding: str) -> None:
    check(text.encode(encoding, "replace"))


MUTATION = st.tuples(
    st.floats(0, 1, exclude_max=True), st.sampled_from("fidt"), st.binary(min_size=1, max_size=8)
)


def mutate(data: bytes, mutations: list[tuple[float, str, bytes]]) -> bytes:
    out = bytearray(data)
    for where, kind, blob in mutations:
        at = int(where * len(out)) if out else 0
        if kind == "f":  # overwrite
            out[at : at + len(blob)] = blob
        elif kind == "i":
            out[at:at] = blob
        elif kind == "d":
            del out[at : at + len(blob)]
        else:
            del out[at:]
    return bytes(out)


@fuzz(90)
@given(st.sampled_from(sorted(FIXTURE_BYTES)), st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_fixtures(name: str, mutations: list[tuple[float, str, bytes]]) -> None:
    check(mutate(FIXTURE_BYTES[name], mutations))


HEADERS = ["First Name", "Last Name", "Email", "Mobile Phone", "Name", "Birth Date", "Phone 1 - Label",
           "Phone 1 - Value", "Nickname", "Insurance", ""]  # fmt: skip
CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["a@example.org", "(212) 555-0100", "1990-02-03", "02/30/1990", "Mobile", " "]),
)


@fuzz(50)
@given(
    st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8),
    st.lists(st.lists(CELL, max_size=9), max_size=12),
    st.sampled_from([",", ";", "\t"]),
)
def test_sheets_with_known_headers(
    header: list[str], rows: list[list[str]], delimiter: str
) -> None:
    check(csv_bytes([header, *rows], delimiter=delimiter))


PROPERTY = st.sampled_from(
    ["N", "FN", "EMAIL;TYPE=pref", "EMAIL;PREF=1", "item1.TEL;type=CELL", "item1.X-ABLabel", "TEL;CELL",
     "BDAY", "NICKNAME", "KIND", "N;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8", "BEGIN", "END", " "]
)  # fmt: skip
VALUE = st.one_of(
    st.text(max_size=16),
    st.sampled_from(["VCARD", "group", "a@example.org", "A;B;;;", "=C3=", "x="]),
)


@fuzz(50)
@given(st.lists(st.tuples(PROPERTY, VALUE), max_size=15), st.sampled_from(["\r\n", "\n", "\r"]))
def test_vcards_with_known_properties(lines: list[tuple[str, str]], end: str) -> None:
    body = end.join(f"{name}:{value}" for name, value in lines)
    check(f"BEGIN:VCARD{end}{body}{end}END:VCARD{end}".encode())
