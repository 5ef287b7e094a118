"""Client import jobs (the row is the source of truth) and their per-row issues."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import Provider


class ImportStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class IssueSeverity(StrEnum):
    """The `severity` column of an import's row issue (importing.model.Severity's values)."""

    ERROR = "ERROR"
    WARNING = "WARNING"


class ClientImport(Model):
    id = fields.UUIDField(primary_key=True)
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="imports", on_delete=fields.CASCADE
    )
    file_name = fields.CharField(max_length=255)
    format = fields.CharField(max_length=8)
    status = fields.CharEnumField(ImportStatus, max_length=16, default=ImportStatus.QUEUED)
    dry_run = fields.BooleanField(default=False)
    send_invitations = fields.BooleanField(default=True)
    explicit_mapping: dict[str, Any] = fields.JSONField(default=dict)
    column_mapping: list[Any] = fields.JSONField(default=list)
    ignored_columns: list[Any] = fields.JSONField(default=list)
    # how to read the rows again (importing.plans), so the worker skips a second inspection
    file_plan: dict[str, Any] = fields.JSONField(null=True)
    total_rows = fields.IntField(null=True)
    processed_rows = fields.IntField(default=0)
    created_count = fields.IntField(default=0)
    linked_count = fields.IntField(default=0)
    already_in_list_count = fields.IntField(default=0)
    duplicate_count = fields.IntField(default=0)
    error_count = fields.IntField(default=0)
    warning_count = fields.IntField(default=0)
    # the invitation campaign: queued (less those cancelled), sent, given up; pending is the rest
    invitations_total = fields.IntField(default=0, db_default=0)
    invitations_sent = fields.IntField(default=0, db_default=0)
    invitations_failed = fields.IntField(default=0, db_default=0)
    invitations_finished_at = fields.DatetimeField(null=True)
    failure_reason = fields.CharField(max_length=500, null=True)
    cancel_requested = fields.BooleanField(default=False)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    provider_id: UUID

    class Meta:
        table = "client_imports"
        indexes = (("provider_id", "created_at"),)


class ClientImportFileChunk(Model):
    """A piece of an uploaded file, written once and read by the worker in seq order.

    Kept apart from the job row, which changes with every batch: SQLite rewrites a whole
    row on UPDATE, and every read of a job (lists, progress) would otherwise carry the file.
    In pieces (a mebibyte each, the last one less), so that neither the API nor the worker
    ever holds the whole file, nor does the database driver build one value of its size.
    """

    id = fields.BigIntField(primary_key=True)
    client_import: fields.ForeignKeyRelation[ClientImport] = fields.ForeignKeyField(
        "models.ClientImport", related_name="file_chunks", on_delete=fields.CASCADE
    )
    seq = fields.IntField()
    data = fields.BinaryField()

    client_import_id: UUID

    class Meta:
        table = "client_import_file_chunks"
        unique_together = (("client_import", "seq"),)


class ClientImportIssue(Model):
    id = fields.BigIntField(primary_key=True)
    client_import: fields.ForeignKeyRelation[ClientImport] = fields.ForeignKeyField(
        "models.ClientImport", related_name="issues", on_delete=fields.CASCADE
    )
    row = fields.IntField()
    column = fields.CharField(max_length=255, null=True)
    code = fields.CharField(max_length=32)
    message = fields.CharField(max_length=500)
    severity = fields.CharField(max_length=8)

    class Meta:
        table = "client_import_issues"
        indexes = (("client_import_id", "row"),)
