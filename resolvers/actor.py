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
