"""Who is asking: the authenticated account behind a request, a job or a CLI command."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from models import Role


@dataclass(frozen=True)
class Actor:
    user_id: UUID
    role: Role
    session_id: UUID | None = None
    provider_id: UUID | None = None
    client_id: UUID | None = None
    # the account's own e-mail is confirmed (providers need it to add, import, message, schedule)
    email_verified: bool = False

    @property
    def is_provider(self) -> bool:
        return self.role is Role.PROVIDER and self.provider_id is not None

    @property
    def is_client(self) -> bool:
        return self.role is Role.CLIENT and self.client_id is not None

    @property
    def is_staff(self) -> bool:
        return self.role is Role.STAFF


# Narrowed actors: what `resolvers.policies.require_*` return once a role is checked, so
# the type says which id is there and no caller asserts it again.


@dataclass(frozen=True, kw_only=True)
class ProviderActor(Actor):
    provider_id: UUID


@dataclass(frozen=True, kw_only=True)
class ClientActor(Actor):
    client_id: UUID


@dataclass(frozen=True, kw_only=True)
class StaffActor(Actor):
    pass


# A provider or a client: the two sides of appointments and conversations.
PartyActor = ProviderActor | ClientActor

# The operator at the server's console (`caseload imports`, `caseload outbox`): staff rights,
# and audit rows that name this fixed id, which no account has, with the role STAFF.
OPERATOR = StaffActor(user_id=UUID("00000000-0000-0000-0000-00000000c11a"), role=Role.STAFF)
