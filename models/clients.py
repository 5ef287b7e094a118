"""Clients (one person's own profile, or a provider's entries not yet accepted) and client lists.

A `Client` with an account (`user` set) is the person's own profile. A `Client` without one
holds what one provider entered for one list entry that the person has not accepted yet: it
belongs to that entry alone, is never shared, and on acceptance either becomes the person's
profile (a new account) or is merged into the profile they already have.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.accounts import Provider, User


class AddedVia(StrEnum):
    MANUAL = "MANUAL"
    IMPORT = "IMPORT"
    MESSAGE = "MESSAGE"


class Client(Model):
    id = fields.UUIDField(primary_key=True)
    # None: the entries of a provider's list entry that its person has not accepted yet
    user: fields.OneToOneNullableRelation[User] = fields.OneToOneField(
        "models.User", related_name="client", on_delete=fields.CASCADE, null=True
    )
    legal_first_name = fields.CharField(max_length=100)
    legal_last_name = fields.CharField(max_length=100)
    preferred_name = fields.CharField(max_length=100, null=True)
    # lower-cased, accent-free names and e-mail: what search and name ordering use
    search_text = fields.CharField(max_length=512, default="")
    sort_name = fields.CharField(max_length=256, default="")
    mobile_phone = fields.CharField(max_length=20, null=True)
    date_of_birth = fields.DateField(null=True)
    insurance_carrier = fields.CharField(max_length=200, null=True)
    insurance_member_id = fields.CharField(max_length=100, null=True)
    insurance_date_of_birth = fields.DateField(null=True)
    billing_processor = fields.CharField(max_length=32, null=True)
    billing_token = fields.CharField(max_length=255, null=True)
    billing_brand = fields.CharField(max_length=32, null=True)
    billing_last4 = fields.CharField(max_length=4, null=True)
    invited_at = fields.DatetimeField(null=True)
    reminders_sent = fields.IntField(default=0)
    # the last insurance request e-mail, so scheduling sends at most one a day
    insurance_requested_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    user_id: UUID | None

    class Meta:
        table = "clients"


class ProviderClient(Model):
    """One entry of a provider's client list. Archiving hides it, nothing is deleted.

    `email` is the address the provider entered (unique on their list); the invitation goes
    there. Until `accepted_at`, `client` is the entry's own profile holding the provider's
    entries; after it, `client` is the person's own profile, which only they change.
    """

    id = fields.UUIDField(primary_key=True)
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="client_links", on_delete=fields.CASCADE
    )
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="provider_links", on_delete=fields.CASCADE
    )
    added_via = fields.CharEnumField(AddedVia, max_length=16)
    added_at = fields.DatetimeField(auto_now_add=True)
    archived_at = fields.DatetimeField(null=True)
    source_import_id = fields.UUIDField(null=True)
    email = fields.CharField(max_length=254, default="")
    accepted_at = fields.DatetimeField(null=True)
    # the entry's invitation: when one was asked for, last sent, and given up on
    invitation_queued_at = fields.DatetimeField(null=True)
    invitation_sent_at = fields.DatetimeField(null=True)
    invitation_failed_at = fields.DatetimeField(null=True)
    # a copy of the visible profile's `sort_name` (the entry's own, then the person's), so a
    # page in name order reads the provider's index in order instead of sorting the list;
    # kept in step by every write that changes it (resolvers/clients/events.py)
    sort_name = fields.CharField(max_length=256, default="")

    provider_id: UUID
    client_id: UUID

    class Meta:
        table = "provider_clients"
        unique_together = (("provider", "client"), ("provider", "email"))
        # one index per order of the list page, each the page's filter then its keyset
        indexes = (
            ("client_id",),
            ("provider_id", "archived_at", "sort_name", "id"),
            ("provider_id", "archived_at", "added_at", "id"),
        )
