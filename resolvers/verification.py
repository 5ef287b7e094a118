"""Single-use e-mail link tokens: issued when an e-mail is sent, spent by verifyEmail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from caseload.security import hash_password, new_token, token_digest
from models import Client, User, VerificationPurpose, VerificationToken
from resolvers import audit
from resolvers.actor import Actor
from resolvers.client_events import announce_client_change
from resolvers.credentials import check_password, invalid_input
from resolvers.errors import AuthFailure, FieldProblem, InvalidInput
from resolvers.names import search_fields
from resolvers.ports import Services
from resolvers.sessions import IssuedSession, open_session
from resolvers.unit_of_work import unit_of_work


def invalid_token() -> AuthFailure:
    return AuthFailure(
        "This link has expired or was already used. Ask for a new one.", code="INVALID_TOKEN"
    )


async def issue_token(
    services: Services,
    user_id: UUID,
    purpose: VerificationPurpose,
    *,
    new_email: str | None = None,
    ttl_seconds: int | None = None,
) -> str:
    """A fresh token for the link in an e-mail; older unused ones of the same purpose stop working."""
    lifetime = ttl_seconds or services.settings.invitation_ttl_seconds
    token = new_token()
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        await (
            VerificationToken.filter(
                user_id=user_id, purpose=purpose, used_at=None, revoked_at=None
            )
            .using_db(conn)
            .update(revoked_at=now)
        )
        await VerificationToken.create(
            user_id=user_id,
            purpose=purpose,
            token_hash=token_digest(token),
            new_email=new_email,
            expires_at=now + timedelta(seconds=lifetime),
            using_db=conn,
        )
    return token


async def revoke_tokens(user_id: UUID, purpose: VerificationPurpose, conn: object = None) -> None:
    query = VerificationToken.filter(
        user_id=user_id, purpose=purpose, used_at=None, revoked_at=None
    )
    if conn is not None:
        query = query.using_db(conn)  # type: ignore[arg-type]
    await query.update(revoked_at=datetime.now(UTC))


async def verify_email(services: Services, token: str, password: str | None) -> IssuedSession:
    """Spend a link token: verify the address (or switch to a new one), set a first password."""
    now = datetime.now(UTC)
    record = await VerificationToken.get_or_none(token_hash=token_digest(token or ""))
    if record is None or record.used_at or record.revoked_at or record.expires_at <= now:
        raise invalid_token()
    if record.purpose is VerificationPurpose.RESET_PASSWORD:  # spent by resetPassword only
        raise invalid_token()
    user = await User.get(id=record.user_id)
    if user.password_hash is None:
        if not password:
            raise InvalidInput(
                [FieldProblem("password", "choose a password of at least 10 characters")],
                "Choose a password to finish setting up your account.",
            )
        problems = await check_password(services.settings, password, user_inputs=[user.email])
        if problems:
            raise invalid_input(problems)
    # hashed before the transaction, which must not hold the write lock for a hash's time
    new_hash = (
        await hash_password(services.settings, password)
        if user.password_hash is None and password
        else None
    )
    async with unit_of_work(services) as uow:
        conn = uow.conn
        spent = (
            await VerificationToken.filter(id=record.id, used_at=None)
            .using_db(conn)
            .update(used_at=now)
        )
        if spent != 1:
            raise invalid_token()
        updates: dict[str, object] = {"email_verified_at": now}
        if new_hash is not None:
            updates["password_hash"] = new_hash
        if record.purpose is VerificationPurpose.CHANGE_EMAIL and record.new_email:
            updates["email"] = record.new_email
            # links sent to the old address must not verify the new one
            await revoke_tokens(user.id, VerificationPurpose.VERIFY_EMAIL, conn)
        try:
            await User.filter(id=user.id).using_db(conn).update(**updates)
        except IntegrityError:
            raise InvalidInput(
                [FieldProblem("email", "already belongs to another account")]
            ) from None
        client = await Client.get_or_none(user_id=user.id, using_db=conn)
        if client is not None:
            if "email" in updates:
                fields = search_fields(
                    client.legal_first_name,
                    client.legal_last_name,
                    client.preferred_name,
                    str(updates["email"]),
                )
                await Client.filter(id=client.id).using_db(conn).update(**fields)
            actor = Actor(user_id=user.id, role=user.role, client_id=client.id)
            await audit.record(
                actor, f"client.{record.purpose.value.lower()}", client_id=client.id, conn=conn
            )
            # providers listing the client see the step done live
            await announce_client_change(uow, client.id)
    await user.refresh_from_db()
    return await open_session(services.settings, user)
