"""An import's invitation campaign: counters that move with its outbox rows, and its end.

The counters live on the import row and change in the transaction that changes the outbox
rows, so reading progress costs one primary-key read however large the database grows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from models import ClientImport, ImportStatus

TERMINAL = (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED)


@dataclass(frozen=True)
class InvitationCounts:
    requested: bool
    total: int
    sent: int
    failed: int
    finished_at: datetime | None

    @property
    def pending(self) -> int:
        return max(self.total - self.sent - self.failed, 0)


def counts_of(job: ClientImport) -> InvitationCounts:
    return InvitationCounts(
        requested=job.send_invitations and not job.dry_run,
        total=job.invitations_total,
        sent=job.invitations_sent,
        failed=job.invitations_failed,
        finished_at=job.invitations_finished_at,
    )


def is_done(job: ClientImport) -> bool:
    """Rows in a terminal state and no invitation left to send: progress may complete."""
    return job.status in TERMINAL and counts_of(job).pending == 0


def counts_snapshot(job: ClientImport) -> dict[str, Any]:
    finished = job.invitations_finished_at
    return {
        "invitations_total": job.invitations_total,
        "invitations_sent": job.invitations_sent,
        "invitations_failed": job.invitations_failed,
        "invitations_finished_at": finished.isoformat() if finished else None,
    }


def apply_counts(job: ClientImport, data: dict[str, Any]) -> None:
    for name in ("invitations_total", "invitations_sent", "invitations_failed"):
        setattr(job, name, int(data.get(name, 0)))
    finished = data.get("invitations_finished_at")
    job.invitations_finished_at = datetime.fromisoformat(finished) if finished else None


async def close_if_done(conn: BaseDBAsyncClient | None, import_id: UUID | str) -> None:
    """Stamp the campaign's end once rows are terminal and nothing is pending.

    One conditional UPDATE, so whichever of the last e-mail and the import's end commits
    second stamps it (PostgreSQL re-checks the condition on the row it waited for).
    """
    await (
        ClientImport.filter(
            id=import_id,
            send_invitations=True,
            dry_run=False,
            invitations_finished_at=None,
            status__in=TERMINAL,
            invitations_total__lte=F("invitations_sent") + F("invitations_failed"),
        )
        .using_db(conn)
        .update(invitations_finished_at=datetime.now(UTC))
    )


@dataclass
class Settled:
    """What one delivery batch did to each import's invitations."""

    sent: Counter[str]
    failed: Counter[str]
    cancelled: Counter[str]

    @classmethod
    def empty(cls) -> Settled:
        return cls(Counter(), Counter(), Counter())

    def imports(self) -> set[str]:
        return set(self.sent) | set(self.failed) | set(self.cancelled)


async def record_settled(conn: BaseDBAsyncClient, settled: Settled) -> set[str]:
    """Move the counters of every import the batch touched; the imports touched."""
    touched = settled.imports()
    for import_id in touched:
        await (
            ClientImport.filter(id=import_id)
            .using_db(conn)
            .update(
                invitations_sent=F("invitations_sent") + settled.sent[import_id],
                invitations_failed=F("invitations_failed") + settled.failed[import_id],
                # a cancelled invitation (entry accepted or gone, resent) is no longer due
                invitations_total=F("invitations_total") - settled.cancelled[import_id],
            )
        )
        await close_if_done(conn, import_id)
    return touched
