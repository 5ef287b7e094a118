"""Append-only record of who read or changed which client's data; ids only."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AuditEvent(Model):
    id = fields.UUIDField(primary_key=True)
    actor_id = fields.UUIDField(null=True)
    actor_role = fields.CharField(max_length=16, null=True)
    action = fields.CharField(max_length=64)
    client_id = fields.UUIDField(null=True, db_index=True)
    subject_id = fields.UUIDField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_events"
