"""Accounts, login sessions, providers and single-use e-mail tokens."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.clients import ProviderClient


class Role(StrEnum):
    PROVIDER = "PROVIDER"
    CLIENT = "CLIENT"
    STAFF = "STAFF"


class User(Model):
    id = fields.UUIDField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=255, null=True)
    role = fields.CharEnumField(Role, max_length=16)
    email_verified_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    provider: fields.BackwardOneToOneRelation[Provider]

    class Meta:
        table = "users"


class Session(Model):
    """A log-in, of which only the SHA-256 of the bearer token is stored."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    # the account's provider or client profile, so authenticating is one query
    provider_id = fields.UUIDField(null=True)
    client_id = fields.UUIDField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    user_id: UUID

    class Meta:
        table = "sessions"
        indexes = (("user_id",),)


class Provider(Model):
    id = fields.UUIDField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="provider", on_delete=fields.CASCADE
    )
    display_name = fields.CharField(max_length=200)
    practice_name = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    user_id: UUID

    class Meta:
        table = "providers"


class VerificationPurpose(StrEnum):
    VERIFY_EMAIL = "VERIFY_EMAIL"  # an account's own address (sign-up confirmation)
    CHANGE_EMAIL = "CHANGE_EMAIL"  # a client's new address, effective once followed
    INVITATION = "INVITATION"  # one provider's list entry, accepted by following it
    RESET_PASSWORD = "RESET_PASSWORD"  # a forgotten password, replaced by following it


class VerificationToken(Model):
    """A single-use link token, of which only the SHA-256 is stored.

    It belongs to an account (`user`), or for an invitation to one list entry (`record`).
    """

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="verification_tokens", on_delete=fields.CASCADE, null=True
    )
    record: fields.ForeignKeyNullableRelation[ProviderClient] = fields.ForeignKeyField(
        "models.ProviderClient",
        related_name="invitation_tokens",
        on_delete=fields.CASCADE,
        null=True,
    )
    purpose = fields.CharEnumField(VerificationPurpose, max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    new_email = fields.CharField(max_length=254, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    user_id: UUID | None
    record_id: UUID | None

    class Meta:
        table = "verification_tokens"
        indexes = (("user_id", "purpose"), ("record_id",))
