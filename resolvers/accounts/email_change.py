"""A client's new e-mail address: pending until they follow the link sent to that address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from caseload.security import new_token, token_digest
from models import OutboxMessage, OutboxStatus, User, VerificationPurpose, VerificationToken
from resolvers.accounts.verification import revoke_tokens
from resolvers.effects import EmailKind
from resolvers.errors import EmailTaken, FieldProblem
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork


def _expiry(services: Services) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=services.settings.invitation_ttl_seconds)


async def request_email_change(
    services: Services, uow: UnitOfWork, user_id: UUID, new_email: str
) -> None:
    """Keep the new address on a pending CHANGE_EMAIL token and queue the link to it.

    The address lives on the token row, not in the outbox payload (ids only). Its secret
    is chosen when the e-mail is sent; until then no one holds a matching one.
    """
    conn = uow.conn
    if await User.filter(email=new_email).exclude(id=user_id).using_db(conn).exists():
        raise EmailTaken([FieldProblem("email", "already belongs to another account")])
    await revoke_tokens(user_id, VerificationPurpose.CHANGE_EMAIL, conn)
    await (
        OutboxMessage.filter(
            kind=EmailKind.CONFIRM_NEW_ADDRESS, subject_id=user_id, status=OutboxStatus.PENDING
        )
        .using_db(conn)
        .update(status=OutboxStatus.CANCELLED, last_error="superseded by a newer address")
    )
    pending = await VerificationToken.create(
        user_id=user_id,
        purpose=VerificationPurpose.CHANGE_EMAIL,
        token_hash=token_digest(new_token()),
        new_email=new_email,
        expires_at=_expiry(services),
        using_db=conn,
    )
    await uow.add_outbox(
        EmailKind.CONFIRM_NEW_ADDRESS, {"user_id": str(user_id), "token_id": str(pending.id)}
    )


async def reissue_pending_token(services: Services, token_id: UUID) -> tuple[str, str] | None:
    """A fresh secret for a pending change at each send attempt: (token, new address).

    None once the change was made, superseded by a newer address or revoked.
    """
    token = new_token()
    changed = await VerificationToken.filter(
        id=token_id,
        purpose=VerificationPurpose.CHANGE_EMAIL,
        used_at=None,
        revoked_at=None,
        new_email__isnull=False,
    ).update(token_hash=token_digest(token), expires_at=_expiry(services))
    if changed != 1:
        return None
    new_email = await VerificationToken.get(id=token_id).values_list("new_email", flat=True)
    return token, str(new_email)
