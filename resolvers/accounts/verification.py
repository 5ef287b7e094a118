"""Single-use e-mail link tokens: issued when an e-mail is sent, spent by verifyEmail.

A token belongs to an account (confirming its address or a new one) or, for an invitation,
to one provider's list entry: following that link is how the person accepts the entry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from caseload.security import hash_password, new_token, token_digest, verify_password
from models import Client, ProviderClient, Role, User, VerificationPurpose, VerificationToken
from resolvers import audit
from resolvers.accounts.credentials import check_password, invalid_input
from resolvers.accounts.sessions import IssuedSession, open_session
from resolvers.actor import Actor
from resolvers.clients.acceptance import accept_into, accept_into_new_account
from resolvers.clients.events import announce_client_change
from resolvers.errors import AuthFailure, ErrorCode, FieldProblem, InvalidInput, RateLimited
from resolvers.names import search_fields
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work

# wrong passwords on one invitation link before it is held back for a while
ACCEPT_ATTEMPTS = 5
ACCEPT_WINDOW_SECONDS = 15 * 60


def invalid_token() -> AuthFailure:
    return AuthFailure(
        "This link has expired or was already used. Ask for a new one.",
        code=ErrorCode.INVALID_TOKEN,
    )


async def issue_token(
    services: Services,
    user_id: UUID | None,
    purpose: VerificationPurpose,
    *,
    new_email: str | None = None,
    record_id: UUID | None = None,
    ttl_seconds: int | None = None,
) -> str:
    """A fresh token for the link in an e-mail; older unused ones of the same purpose stop working.

    An invitation's token belongs to its list entry (`record_id`), every other to an account.
    """
    lifetime = ttl_seconds or services.settings.invitation_ttl_seconds
    token = new_token()
    now = datetime.now(UTC)
    owner = {"record_id": record_id} if record_id is not None else {"user_id": user_id}
    async with in_transaction() as conn:
        await (
            VerificationToken.filter(**owner, purpose=purpose, used_at=None, revoked_at=None)
            .using_db(conn)
            .update(revoked_at=now)
        )
        await VerificationToken.create(
            **owner,
            purpose=purpose,
            token_hash=token_digest(token),
            new_email=new_email,
            expires_at=now + timedelta(seconds=lifetime),
            using_db=conn,
        )
    return token


async def issue_invitation_tokens(services: Services, record_ids: list[UUID]) -> dict[UUID, str]:
    """A fresh invitation token for each list entry, in one transaction (a delivery batch).

    As `issue_token`: each entry's older unused invitation links stop working.
    """
    if not record_ids:
        return {}
    lifetime = services.settings.invitation_ttl_seconds
    now = datetime.now(UTC)
    tokens = {record_id: new_token() for record_id in record_ids}
    async with in_transaction() as conn:
        await (
            VerificationToken.filter(
                record_id__in=record_ids,
                purpose=VerificationPurpose.INVITATION,
                used_at=None,
                revoked_at=None,
            )
            .using_db(conn)
            .update(revoked_at=now)
        )
        await VerificationToken.bulk_create(
            [
                VerificationToken(
                    record_id=record_id,
                    purpose=VerificationPurpose.INVITATION,
                    token_hash=token_digest(token),
                    expires_at=now + timedelta(seconds=lifetime),
                    created_at=now,
                )
                for record_id, token in tokens.items()
            ],
            using_db=conn,
        )
    return tokens


async def revoke_tokens(user_id: UUID, purpose: VerificationPurpose, conn: object = None) -> None:
    query = VerificationToken.filter(
        user_id=user_id, purpose=purpose, used_at=None, revoked_at=None
    )
    if conn is not None:
        query = query.using_db(conn)  # type: ignore[arg-type]
    await query.update(revoked_at=datetime.now(UTC))


async def _chosen_password_hash(services: Services, email: str, password: str | None) -> str:
    """The hash of a first password, once it passes the credentials policy."""
    if not password:
        raise InvalidInput(
            [FieldProblem("password", "choose a password of at least 10 characters")],
            "Choose a password to finish setting up your account.",
        )
    problems = await check_password(services.settings, password, user_inputs=[email])
    if problems:
        raise invalid_input(problems)
    return await hash_password(services.settings, password)


async def _new_password_hash(services: Services, user: User, password: str | None) -> str | None:
    """A first password for an account that has none yet; None when it has one."""
    if user.password_hash is not None:
        return None
    return await _chosen_password_hash(services, user.email, password)


async def _spend(uow: UnitOfWork, token_id: UUID, now: datetime) -> None:
    """Mark the token used; a second use of the same link, even a parallel one, fails."""
    spent = (
        await VerificationToken.filter(id=token_id, used_at=None)
        .using_db(uow.conn)
        .update(used_at=now)
    )
    if spent != 1:
        raise invalid_token()


async def _accept_new_account(
    services: Services, token: VerificationToken, link: ProviderClient, password_hash: str
) -> User:
    now = datetime.now(UTC)

    async def work(uow: UnitOfWork) -> User:
        await _spend(uow, token.id, now)
        user = await User.create(
            email=link.email,
            role=Role.CLIENT,
            password_hash=password_hash,
            email_verified_at=now,
            using_db=uow.conn,
        )
        await accept_into_new_account(uow, link, user.id)
        actor = Actor(user_id=user.id, role=Role.CLIENT, client_id=link.client_id)
        await audit.record(actor, "client.accept", client_id=link.client_id, conn=uow.conn)
        return user

    user = await in_unit_of_work(services, work)
    return user


async def _check_account_password(
    services: Services, token: VerificationToken, user: User, password: str | None
) -> None:
    if not await services.limiter.hit(
        f"accept:{token.id}", limit=ACCEPT_ATTEMPTS, window_seconds=ACCEPT_WINDOW_SECONDS
    ):
        raise RateLimited("Too many wrong passwords for this link. Try again in 15 minutes.")
    if not await verify_password(services.settings, user.password_hash, password or ""):
        raise AuthFailure(
            "This address already has a Caseload account: enter its password to accept "
            "the invitation.",
            code=ErrorCode.INVALID_CREDENTIALS,
        )


async def _accept_existing_account(
    services: Services,
    token: VerificationToken,
    link: ProviderClient,
    user: User,
    password: str | None,
) -> User:
    """Into an account that exists: only with its password, else nothing changes."""
    if user.role is not Role.CLIENT:
        raise InvalidInput(
            [FieldProblem("email", "belongs to a provider or staff account")],
            "This address has a provider or staff account. Ask for an invitation to another address.",
        )
    # an account nobody chose a password for yet: the link sets the first one
    new_hash = await _new_password_hash(services, user, password)
    if new_hash is None:
        await _check_account_password(services, token, user, password)
    person = await Client.get(user_id=user.id)
    now = datetime.now(UTC)

    async def work(uow: UnitOfWork) -> None:
        await _spend(uow, token.id, now)
        updates: dict[str, object] = {}
        if user.email_verified_at is None:
            updates["email_verified_at"] = now  # the link proves the address
        if new_hash is not None:
            updates["password_hash"] = new_hash
        if updates:
            await User.filter(id=user.id).using_db(uow.conn).update(**updates)
        await accept_into(uow, link, person)
        actor = Actor(user_id=user.id, role=Role.CLIENT, client_id=person.id)
        await audit.record(actor, "client.accept", client_id=person.id, conn=uow.conn)

    await in_unit_of_work(services, work)
    await user.refresh_from_db()
    return user


async def _accept_invitation(
    services: Services, token: VerificationToken, password: str | None
) -> IssuedSession:
    link = await ProviderClient.get_or_none(id=token.record_id)
    if link is None or link.accepted_at is not None:
        raise invalid_token()
    user = await User.get_or_none(email=link.email)
    if user is None:
        password_hash = await _chosen_password_hash(services, link.email, password)
        try:
            user = await _accept_new_account(services, token, link, password_hash)
        except IntegrityError:
            # the address got an account a moment ago: accept into it, with its password
            user = await User.get(email=link.email)
            user = await _accept_existing_account(services, token, link, user, password)
    else:
        user = await _accept_existing_account(services, token, link, user, password)
    return await open_session(services.settings, user)


async def verify_email(services: Services, token: str, password: str | None) -> IssuedSession:
    """Spend a link token: accept an invitation, verify an address (or switch to a new one)."""
    now = datetime.now(UTC)
    record = await VerificationToken.get_or_none(token_hash=token_digest(token or ""))
    if record is None or record.used_at or record.revoked_at or record.expires_at <= now:
        raise invalid_token()
    if record.purpose is VerificationPurpose.INVITATION:
        return await _accept_invitation(services, record, password)
    if record.purpose not in (VerificationPurpose.VERIFY_EMAIL, VerificationPurpose.CHANGE_EMAIL):
        raise invalid_token()  # other links (a password reset) are spent elsewhere
    user = await User.get(id=record.user_id)
    # hashed before the transaction, which must not hold the write lock for a hash's time
    new_hash = await _new_password_hash(services, user, password)

    async def work(uow: UnitOfWork) -> None:
        conn = uow.conn
        await _spend(uow, record.id, now)
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

    await in_unit_of_work(services, work)
    await user.refresh_from_db()
    return await open_session(services.settings, user)
