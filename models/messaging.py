"""Provider-client conversations: one thread per pair, and its messages."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import Provider
    from models.clients import Client

from models.accounts import Role


class MessageThread(Model):
    """The one conversation of a provider and a client, with per-side notification times."""

    id = fields.UUIDField(primary_key=True)
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="message_threads", on_delete=fields.CASCADE
    )
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="message_threads", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    last_message_at = fields.DatetimeField()
    # when each side was last e-mailed about a new message (at most one per 15 minutes)
    provider_notified_at = fields.DatetimeField(null=True)
    client_notified_at = fields.DatetimeField(null=True)

    provider_id: UUID
    client_id: UUID

    class Meta:
        table = "message_threads"
        unique_together = (("provider", "client"),)
        indexes = (("provider_id", "last_message_at"), ("client_id", "last_message_at"))


class Message(Model):
    """One message. The body is stored as text and never leaves the API in e-mail or logs."""

    id = fields.UUIDField(primary_key=True)
    thread: fields.ForeignKeyRelation[MessageThread] = fields.ForeignKeyField(
        "models.MessageThread", related_name="messages", on_delete=fields.CASCADE
    )
    sender_role = fields.CharEnumField(Role, max_length=16)
    sender_user_id = fields.UUIDField()
    body = fields.TextField()
    sent_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)

    thread_id: UUID

    class Meta:
        table = "messages"
        indexes = (("thread_id", "sent_at"), ("thread_id", "read_at"))
