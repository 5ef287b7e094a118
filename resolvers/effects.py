"""Every effect outside the database, named once: jobs, job ids, channels, events, e-mail kinds.

Use cases declare them on the unit of work (`uow.enqueue`, `uow.publish`, `uow.add_outbox`),
which releases them only after commit. Workers and sweepers, which hold no transaction,
enqueue through the same `Job` names and id builders. Payloads and events carry ids only.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from models import ClientImport, ImportStatus


class Job(StrEnum):
    """arq job names; `workers/settings.py` registers each under this name."""

    RUN_IMPORT = "run_import"
    # the same work, re-queued by a worker whose import slots were all busy (no result kept)
    RUN_IMPORT_LATER = "run_import_later"
    DELIVER_OUTBOX = "deliver_outbox"
    DELIVER_OUTBOX_BATCH = "deliver_outbox_batch"


# Job ids. arq runs one job per id and keeps its result for a while, so every attempt that
# must run again gets an id of its own; a second enqueue under the same id is a no-op.


def import_job_id(import_id: UUID | str, generation: str | None = None) -> str:
    """The first run (`import:<id>`), or the sweeper's re-queue of a stalled one: `generation`
    is 'q' for a job never started, else its expired lease's timestamp, so each stall is
    queued once."""
    return f"import:{import_id}" + (f":{generation}" if generation else "")


def import_wait_job_id(import_id: UUID | str) -> str:
    """A re-queue while every import slot of a worker was busy."""
    return f"import:{import_id}:wait:{time.time_ns()}"


def import_retry_job_id(import_id: UUID | str) -> str:
    """A staff retry of a failed import."""
    return f"import:{import_id}:retry:{uuid.uuid4().hex}"


def outbox_job_id(message_id: UUID | str, attempts: int) -> str:
    """One id per delivery attempt."""
    return f"outbox:{message_id}:{attempts}"


def outbox_sweep_job_id(message_id: UUID | str, attempts: int, stale_claim: datetime | None) -> str:
    """The sweeper's re-queue: per attempt and per stale claim, so kept results never block."""
    suffix = f":s{int(stale_claim.timestamp())}" if stale_claim else ":s"
    return outbox_job_id(message_id, attempts) + suffix


def outbox_retry_job_id(message_id: UUID | str) -> str:
    """A staff retry of a failed or cancelled message."""
    return f"outbox:{message_id}:retry:{uuid.uuid4().hex}"


def outbox_batch_job_id(first_message_id: UUID | str) -> str:
    """The delivery of one import batch's invitations, named by its first message."""
    return f"outbox-batch:{first_message_id}"


def outbox_batch_sweep_job_id(
    first_message_id: UUID | str, attempts: int, stale_claim: datetime | None
) -> str:
    """The sweeper's re-queue of an import's rows as one batch (per attempt, per stale claim)."""
    suffix = f":s{int(stale_claim.timestamp())}" if stale_claim else ":s"
    return f"{outbox_batch_job_id(first_message_id)}:{attempts}{suffix}"


# Pub/sub channels.


def clients_channel(provider_id: UUID | str) -> str:
    """A provider's client list changed (`ClientsChanged`)."""
    return f"provider-clients:{provider_id}"


def import_channel(import_id: UUID | str) -> str:
    """An import's progress (`ImportProgress`)."""
    return f"client-import:{import_id}"


def messages_channel(user_id: UUID | str) -> str:
    """New messages for one account (`MessagePosted`)."""
    return f"user-messages:{user_id}"


# Every API process listens here and closes the open WebSockets of the sessions named.
SESSIONS_REVOKED = "sessions-revoked"


# Typed events: the one wire format of each channel, written and read only here.


@dataclass(frozen=True)
class ClientsChanged:
    client_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        if len(self.client_ids) == 1:
            return {"client_id": self.client_ids[0]}
        return {"client_ids": list(self.client_ids)}

    @classmethod
    def of(cls, *client_ids: UUID | str) -> ClientsChanged:
        return cls(tuple(str(i) for i in client_ids))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientsChanged:
        ids = data.get("client_ids") or ([data["client_id"]] if data.get("client_id") else [])
        return cls(tuple(str(i) for i in ids))


@dataclass(frozen=True)
class MessagePosted:
    message_id: str
    thread_id: str

    def to_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "thread_id": self.thread_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessagePosted:
        return cls(str(data.get("message_id")), str(data.get("thread_id")))


@dataclass(frozen=True)
class SessionsRevoked:
    session_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"session_ids": list(self.session_ids)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionsRevoked:
        return cls(tuple(str(value) for value in data.get("session_ids", [])))


@dataclass(frozen=True)
class ImportProgress:
    """What progress subscribers receive: status, counts and times (no PHI)."""

    status: ImportStatus
    processed_rows: int
    created_count: int
    linked_count: int
    already_in_list_count: int
    duplicate_count: int
    error_count: int
    warning_count: int
    total_rows: int | None
    failure_reason: str | None
    started_at: datetime | None
    finished_at: datetime | None
    id: str | None = None
    # the import's invitation campaign (resolvers/imports/campaigns.py)
    invitations_total: int = 0
    invitations_sent: int = 0
    invitations_failed: int = 0
    invitations_finished_at: datetime | None = None

    @classmethod
    def of(cls, job: ClientImport) -> ImportProgress:
        values = {f.name: getattr(job, f.name) for f in fields(cls) if f.name != "id"}
        return cls(**values, id=str(job.id))

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["status"] = self.status.value
        for name in ("started_at", "finished_at", "invitations_finished_at"):
            value = data[name]
            data[name] = value.isoformat() if value else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportProgress:
        def when(name: str) -> datetime | None:
            value = data.get(name)
            return datetime.fromisoformat(value) if value else None

        return cls(
            status=ImportStatus(data["status"]),
            processed_rows=int(data["processed_rows"]),
            created_count=int(data["created_count"]),
            linked_count=int(data["linked_count"]),
            already_in_list_count=int(data["already_in_list_count"]),
            duplicate_count=int(data["duplicate_count"]),
            error_count=int(data["error_count"]),
            warning_count=int(data["warning_count"]),
            total_rows=data.get("total_rows"),
            failure_reason=data.get("failure_reason"),
            started_at=when("started_at"),
            finished_at=when("finished_at"),
            id=data.get("id"),
            invitations_total=int(data.get("invitations_total", 0)),
            invitations_sent=int(data.get("invitations_sent", 0)),
            invitations_failed=int(data.get("invitations_failed", 0)),
            invitations_finished_at=when("invitations_finished_at"),
        )

    def moves_past(self, job: ClientImport) -> bool:
        """Whether this snapshot is newer than the state held: rows and e-mails only go
        forward (a cancelled invitation lowers the total), so one published before the read
        that made `job` is dropped."""
        terminal = (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED)
        if job.status in terminal and self.status not in terminal:
            return False
        counts = ("processed_rows", "invitations_sent", "invitations_failed")
        if any(getattr(self, name) < getattr(job, name) for name in counts):
            return False
        return (
            self.status is not job.status
            or any(getattr(self, name) > getattr(job, name) for name in counts)
            or self.invitations_total != job.invitations_total
        )

    def apply_to(self, job: ClientImport) -> None:
        """Bring a loaded job up to this snapshot, without reading the database."""
        for f in fields(self):
            if f.name != "id":
                setattr(job, f.name, getattr(self, f.name))


Event = ClientsChanged | MessagePosted | SessionsRevoked | ImportProgress


class EmailKind(StrEnum):
    """The `kind` of an outbox e-mail; `workers/emails.py` registers one renderer per kind."""

    CONFIRM_ACCOUNT = "email.confirm_account"
    CONFIRM_NEW_ADDRESS = "email.confirm_new_address"
    PASSWORD_RESET = "email.password_reset"
    INVITATION = "email.invitation"
    NEW_MESSAGE = "email.new_message"
    INSURANCE_REQUEST = "email.insurance_request"
    ONBOARDING_REMINDER = "email.onboarding_reminder"
