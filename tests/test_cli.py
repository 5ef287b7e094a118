"""The operator CLI as a real subprocess against the test database and Redis."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from models import Client, ClientImport, ImportStatus, OutboxMessage, OutboxStatus
from tests.support import Api, sign_up_provider

FIXTURE = Path("/work/shared/fixtures/imports/jane-patient-list.csv")
ROOT = Path(__file__).resolve().parent.parent


async def _cli(api: Api, *args: str) -> tuple[int, str, str]:
    settings = api.settings
    env = dict(os.environ)
    env.update(
        CASELOAD_DATABASE_URL=settings.resolved_database_url(),
        CASELOAD_REDIS_URL=settings.redis_url or "",
        CASELOAD_DATA_DIR=str(settings.data_dir.resolve()),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "caseload.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return int(process.returncode or 0), out.decode(), err.decode()


def _count(summary: str, label: str) -> int:
    match = re.search(rf"^{re.escape(label)}\s+(\d+)\s*$", summary, re.MULTILINE)
    assert match, summary
    return int(match.group(1))


async def test_cli_import_then_listings(api: Api) -> None:
    await sign_up_provider(api, email="cli-provider@example.com")

    code, out, err = await _cli(
        api, "import", str(FIXTURE), "--provider", "cli-provider@example.com"
    )
    assert code == 0, (out, err)
    assert "] 7/7 rows" in err  # the progress bar, fed by the import's own events
    assert (_count(out, "created"), _count(out, "duplicates"), _count(out, "errors")) == (5, 1, 1)
    assert "First 2 issues:" in out and "MISSING_FIELD" in out and "DUPLICATE_ROW" in out
    assert await Client.all().count() == 5
    [job] = await ClientImport.all()
    assert job.status is ImportStatus.COMPLETED

    code, out, _ = await _cli(api, "imports")
    assert code == 0
    assert str(job.id) in out and "COMPLETED" in out and "@" not in out

    code, out, _ = await _cli(api, "outbox")
    assert code == 0
    pending = await OutboxMessage.filter(status=OutboxStatus.PENDING, kind="email.invitation")
    assert len(pending) == 5
    assert all(str(m.id) in out for m in pending)
    assert "@" not in out


async def test_cli_import_refused(api: Api, tmp_path: Path) -> None:
    await sign_up_provider(api, email="cli-refused@example.com")
    bad = tmp_path / "no-email.csv"
    bad.write_text("First Name,Last Name\nAda,Lovelace\n")
    code, _, err = await _cli(api, "import", str(bad), "--provider", "cli-refused@example.com")
    assert code == 1
    assert "Import refused:" in err
    code, _, err = await _cli(api, "import", str(bad), "--provider", "nobody@example.com")
    assert code == 1
