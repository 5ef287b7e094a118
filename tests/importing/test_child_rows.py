"""The child-process row reader gives exactly iter_rows' rows, errors and order, and stops cleanly."""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice

import pytest

from bench.datagen import make_realistic_csv, make_vcf, make_xlsx
from importing import FileSource, ImportFileError, RowError, inspect_file, iter_rows
from importing.child_rows import ChildRowsFailed, rows_in_child
from tests.importing.builders import FIXTURES

READABLE = sorted(
    p.name
    for p in FIXTURES.iterdir()
    if p.suffix in {".csv", ".vcf", ".xlsx"} and p.name != "missing-email-column.csv"
)


@contextmanager
def on_disk(data: bytes) -> Iterator[FileSource]:
    with tempfile.TemporaryFile() as file:
        file.write(data)
        file.flush()
        yield FileSource(file)


@pytest.mark.parametrize("name", READABLE)
def test_every_fixture_reads_the_same_in_the_child(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    plan = inspect_file(data)
    with on_disk(data) as source, rows_in_child(source, plan) as rows:
        assert list(rows) == list(iter_rows(data, plan))


@pytest.mark.parametrize("maker", [make_realistic_csv, make_xlsx, make_vcf])
def test_a_large_mixed_file_reads_the_same_from_a_checkpoint(maker: object) -> None:
    data = maker(3_000, domain="child.org")  # type: ignore[operator]
    plan = inspect_file(data)
    expected = list(iter_rows(data, plan, start_after=1_234, phone_region="GB"))
    if maker is make_realistic_csv:
        assert any(isinstance(row, RowError) for row in expected)
    with (
        on_disk(data) as source,
        rows_in_child(source, plan, start_after=1_234, phone_region="GB") as rows,
    ):
        assert list(rows) == expected
    assert len(expected) == plan.total_rows - 1_234


def test_leaving_early_stops_the_child() -> None:
    data = make_realistic_csv(20_000, domain="early.org")
    plan = inspect_file(data)
    before = _children()
    with on_disk(data) as source, rows_in_child(source, plan) as rows:
        first = list(islice(rows, 300))
        assert _children() - before, "no child process was reading"
    assert [r.row for r in first] == [r.row for r in islice(iter_rows(data, plan), 300)]
    assert not _children() - before, "the child outlived the block"


def test_a_file_error_in_the_child_is_raised_as_itself() -> None:
    workbook = make_xlsx(50, domain="e.org")
    plan = inspect_file(workbook)
    damaged = workbook[: len(workbook) // 2]  # the plan of a workbook, its file cut short
    with pytest.raises(ImportFileError) as direct:
        list(iter_rows(damaged, plan))
    with (
        on_disk(damaged) as source,
        rows_in_child(source, plan) as rows,
        pytest.raises(ImportFileError) as caught,
    ):
        list(rows)
    assert (caught.value.code, caught.value.message) == (direct.value.code, direct.value.message)
    assert caught.value.code == "UNSUPPORTED_FILE"


def test_a_child_that_dies_is_an_error_not_an_end() -> None:
    data = make_realistic_csv(20_000, domain="dies.org")
    plan = inspect_file(data)
    before = _children()
    with on_disk(data) as source, rows_in_child(source, plan) as rows:
        next(rows)
        for pid in _children() - before:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(ChildRowsFailed):
            list(rows)


def _children() -> set[int]:
    """Pids of this process's live child processes running the row reader."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmd:
                line = cmd.read()
        except OSError:
            continue
        if parent == os.getpid() and b"importing.child_rows" in line:
            found.add(int(entry))
    return found
