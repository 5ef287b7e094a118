"""The operator CLI as a real subprocess against the test database and Redis."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from models import (
    AuditEvent,
    Client,
    ClientImport,
    FormDocument,
    FormKind,
    ImportStatus,
    OutboxMessage,
    OutboxStatus,
    Role,
    User,
)
from resolvers.actor import OPERATOR
from tests.support import FIXTURES, Api, sign_up_provider

pytestmark = pytest.mark.slow


FIXTURE = FIXTURES / "jane-patient-list.csv"
ROOT = Path(__file__).resolve().parent.parent


async def _cli(api: Api, *args: str, **extra_env: str) -> tuple[int, str, str]:
    settings = api.settings
    env = {**os.environ, **extra_env}
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

    # The listings go through the staff use cases, audited as the console operator.
    reads = await AuditEvent.filter(actor_id=OPERATOR.user_id).order_by("created_at")
    assert [(e.action, e.actor_role) for e in reads] == [
        ("staff.imports.list", "STAFF"),
        ("staff.outbox.list", "STAFF"),
    ]


async def test_cli_import_refused(api: Api, tmp_path: Path) -> None:
    await sign_up_provider(api, email="cli-refused@example.com")
    bad = tmp_path / "no-email.csv"
    bad.write_text("First Name,Last Name\nAda,Lovelace\n")
    code, _, err = await _cli(api, "import", str(bad), "--provider", "cli-refused@example.com")
    assert code == 1
    assert "Import refused:" in err
    code, _, err = await _cli(api, "import", str(bad), "--provider", "nobody@example.com")
    assert code == 1


async def test_create_staff_and_publish_form(api: Api, tmp_path: Path) -> None:
    code, out, err = await _cli(
        api, "create-staff", "ops@example.org", CASELOAD_STAFF_PASSWORD="correct-horse-battery"
    )
    assert code == 0, err
    staff = await User.get(email="ops@example.org")
    assert staff.role is Role.STAFF and f"Staff account {staff.id} created." in out
    code, _, err = await _cli(
        api, "create-staff", "ops2@example.org", CASELOAD_STAFF_PASSWORD="short"
    )
    assert code == 1 and "password:" in err
    assert not await User.filter(email="ops2@example.org").exists()

    form = tmp_path / "billing.txt"
    form.write_text("Billing policy\nPayment is due at each session.\n")
    code, out, err = await _cli(api, "publish-form", "BILLING_POLICY", str(form))
    assert code == 0, err
    latest = await FormDocument.filter(kind=FormKind.BILLING_POLICY).order_by("-version").first()
    assert latest is not None and f"version {latest.version} ({latest.id})" in out
    form.write_text("")
    code, _, err = await _cli(api, "publish-form", "BILLING_POLICY", str(form))
    assert code == 1 and "title:" in err
