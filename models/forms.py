"""Standard billing and privacy forms, versioned, and clients' acknowledgements of them."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.clients import Client


class FormKind(StrEnum):
    BILLING_POLICY = "BILLING_POLICY"
    PRIVACY_POLICY = "PRIVACY_POLICY"


class FormDocument(Model):
    id = fields.UUIDField(primary_key=True)
    kind = fields.CharEnumField(FormKind, max_length=32)
    version = fields.IntField()
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    published_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "form_documents"
        unique_together = (("kind", "version"),)


class FormAcknowledgement(Model):
    id = fields.UUIDField(primary_key=True)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="form_acknowledgements", on_delete=fields.CASCADE
    )
    document: fields.ForeignKeyRelation[FormDocument] = fields.ForeignKeyField(
        "models.FormDocument", related_name="acknowledgements", on_delete=fields.CASCADE
    )
    acknowledged_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "form_acknowledgements"
        unique_together = (("client", "document"),)
