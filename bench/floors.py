"""Raw floors measured in the same run: csv.reader + sqlite3 executemany, and asyncpg COPY."""

from __future__ import annotations

import csv
import io
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import asyncpg

from caseload.mail import Mail, build_message
from caseload.settings import Settings
from workers.emails import INVITATION_SUBJECT, invitation_text


def _rows(data: bytes) -> list[tuple[str, str, str, str]]:
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    header = next(reader)
    first, last, email, phone = (
        header.index(h) for h in ("First Name", "Last Name", "Email", "Mobile Phone")
    )
    return [(r[first], r[last], r[email], r[phone]) for r in reader]


def sqlite_floor(data: bytes) -> float:
    """Rows/s of csv.reader feeding sqlite3 executemany in one transaction (unique e-mail index)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "floor.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE c (first TEXT, last TEXT, email TEXT UNIQUE, phone TEXT)")
        started = time.perf_counter()
        rows = _rows(data)
        db.execute("BEGIN")
        db.executemany("INSERT INTO c VALUES (?, ?, ?, ?)", rows)
        db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        db.close()
    return len(rows) / elapsed


async def postgres_floor(data: bytes, url: str) -> float:
    """Rows/s of csv.reader feeding asyncpg COPY into a table with a unique e-mail index."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_floor")
        await conn.execute(
            "CREATE TABLE bench_floor (first TEXT, last TEXT, email TEXT UNIQUE, phone TEXT)"
        )
        started = time.perf_counter()
        rows = _rows(data)
        await conn.copy_records_to_table("bench_floor", records=rows)
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_floor")
    finally:
        await conn.close()
    return len(rows) / elapsed


def eml_floor(count: int, directory: Path) -> float:
    """Messages/s of rendering the invitation (its subject and text, a link with a token of
    its length, an address of an import's shape) and writing it as one .eml file, as the
    file backend writes one: the whole file, then a rename; no fsync in either."""
    directory.mkdir(parents=True, exist_ok=True)
    mails = _invitations(count, "floor-mail.org")
    started = time.perf_counter()
    for i, mail in enumerate(mails):
        path = directory / f"{i}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(build_message(SETTINGS, mail)))
        tmp.replace(path)
    return count / (time.perf_counter() - started)


SETTINGS = Settings(secret_key="floor")


def _invitations(count: int, domain: str) -> list[Mail]:
    """The invitations the worker sends, made up front (ids and addresses are not render)."""
    text = invitation_text(SimpleNamespace(settings=SETTINGS), "x" * 43)  # type: ignore[arg-type]
    return [
        Mail(
            to=f"first{i}.last{i}@{domain}",
            subject=INVITATION_SUBJECT,
            text=text,
            message_id=str(uuid.uuid4()),
        )
        for i in range(count)
    ]


async def smtp_floor(count: int, port: int) -> float:
    """Messages/s of aiosmtplib sending the rendered invitation over one reused connection."""
    import aiosmtplib

    mails = _invitations(count, "floor-smtp.org")
    started = time.perf_counter()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10) as smtp:
        for mail in mails:
            await smtp.send_message(build_message(SETTINGS, mail))
    return count / (time.perf_counter() - started)
