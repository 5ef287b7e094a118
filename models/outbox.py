"""Outgoing e-mail written in the same transaction as the change that causes it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"  # gave up after the configured attempts
    CANCELLED = "CANCELLED"  # superseded, e.g. an invitation to an address since changed


class OutboxMessage(Model):
    id = fields.UUIDField(primary_key=True)
    kind = fields.CharField(max_length=64)
    # ids only, never names, addresses or other PHI
    payload: dict[str, Any] = fields.JSONField(default=dict)
    # the account the message is about, so superseded messages can be found
    subject_id = fields.UUIDField(null=True, db_index=True)
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    last_error = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    available_at = fields.DatetimeField()
    locked_until = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)
    # the import whose invitation this is, so its campaign counters move with the row
    import_id = fields.UUIDField(null=True)

    class Meta:
        table = "outbox_messages"
        indexes = (("status", "available_at"),)
