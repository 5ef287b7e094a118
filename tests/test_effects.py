"""Effects are named once: every job is registered, every e-mail kind rendered, events round-trip."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from models import ImportStatus
from resolvers.effects import (
    ClientsChanged,
    EmailKind,
    ImportProgress,
    Job,
    MessagePosted,
    SessionsRevoked,
)
from tests.support import Api
from workers.emails import RENDERERS
from workers.settings import build_worker


def test_every_email_kind_has_one_renderer() -> None:
    assert set(RENDERERS) == {kind.value for kind in EmailKind}


async def test_the_worker_registers_every_job_under_its_name(api: Api) -> None:
    worker = build_worker(
        api.settings, api.settings.redis_url or "", own_database=False, handle_signals=False
    )
    try:
        assert {name for name in worker.functions if not name.startswith("cron:")} == {
            job.value for job in Job
        }
    finally:
        await worker.close()


def test_events_read_back_what_was_written() -> None:
    one, two = uuid4(), uuid4()
    assert ClientsChanged.of(one).to_json() == {"client_id": str(one)}
    for event in (ClientsChanged.of(one), ClientsChanged.of(one, two)):
        assert ClientsChanged.from_json(event.to_json()) == event
    posted = MessagePosted(str(one), str(two))
    assert MessagePosted.from_json(posted.to_json()) == posted
    revoked = SessionsRevoked((str(one), str(two)))
    assert SessionsRevoked.from_json(revoked.to_json()) == revoked
    progress = ImportProgress(
        status=ImportStatus.RUNNING,
        processed_rows=3,
        created_count=2,
        linked_count=1,
        already_in_list_count=0,
        duplicate_count=0,
        error_count=0,
        warning_count=1,
        total_rows=10,
        failure_reason=None,
        started_at=datetime(2026, 12, 2, 2, 0, tzinfo=UTC),
        finished_at=None,
        id=str(one),
    )
    data = progress.to_json()
    assert data["status"] == "RUNNING" and data["started_at"] == "2026-12-02T02:00:00+00:00"
    assert ImportProgress.from_json(data) == progress
