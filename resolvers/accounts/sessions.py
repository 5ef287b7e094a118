"""Log-in sessions: opaque bearer tokens with an absolute lifetime and an idle timeout."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from uuid import UUID

from caseload.security import new_token, token_digest
from caseload.settings import Settings
from models import Client, Provider, Role, Session, User
from resolvers.actor import Actor
from resolvers.bulk_sql import columns_of, placeholders, row_reader, select_list
from resolvers.effects import SESSIONS_REVOKED, SessionsRevoked
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work

# last_seen_at is written at most this often, so reads do not each cost a write
_TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: datetime
    user: User


async def open_session(settings: Settings, user: User) -> IssuedSession:
    token = new_token()
    now = datetime.now(UTC)
    expires_at = now + timedelta(seconds=settings.session_lifetime_seconds)
    profile = await actor_for_user(user)
    await Session.create(
        user=user,
        token_hash=token_digest(token),
        provider_id=profile.provider_id,
        client_id=profile.client_id,
        last_seen_at=now,
        expires_at=expires_at,
    )
    return IssuedSession(token=token, expires_at=expires_at, user=user)


def _usable(settings: Settings, session: Session, now: datetime) -> bool:
    idle_limit = session.last_seen_at + timedelta(seconds=settings.session_idle_seconds)
    return session.revoked_at is None and session.expires_at > now and idle_limit > now


async def actor_for_user(user: User) -> Actor:
    provider_id = client_id = None
    if user.role is Role.PROVIDER:
        provider = await Provider.get_or_none(user_id=user.id)
        provider_id = provider.id if provider else None
    elif user.role is Role.CLIENT:
        client = await Client.get_or_none(user_id=user.id)
        client_id = client.id if client else None
    return Actor(
        user_id=user.id,
        role=user.role,
        provider_id=provider_id,
        client_id=client_id,
        email_verified=user.email_verified_at is not None,
    )


@cache
def _session_lookup() -> tuple[str, Callable[[Sequence[Any]], Session], Callable[[Any], Any]]:
    """The session of a token digest with its account's role and confirmation, as one plain
    row (every request reads it: the ORM's query building and select_related cost more than
    the statement). Made on first use, once Tortoise has added the foreign key columns."""
    columns = columns_of(Session)
    sql = (
        f'SELECT {select_list("s", columns)}, u."role", u."email_verified_at" '  # noqa: S608 - our names; the digest is a parameter
        'FROM "sessions" s JOIN "users" u ON u."id" = s."user_id" WHERE s."token_hash" = {mark}'
    )
    return sql, row_reader(Session, columns), User._meta.fields_map["role"].to_python_value


async def authenticate(
    settings: Settings, token: str | None, *, touch: bool = True
) -> Actor | None:
    """The actor behind a bearer token, or None when it is unknown, revoked or expired."""
    if not token:
        return None
    sql, read_session, read_role = _session_lookup()
    conn = Session._meta.db
    _, rows = await conn.execute_query(
        sql.format(mark=placeholders(conn, 1)[0]), [token_digest(token)]
    )
    if not rows:
        return None
    values = tuple(rows[0])
    session = read_session(values[:-2])
    now = datetime.now(UTC)
    if not _usable(settings, session, now):
        return None
    if touch and now - session.last_seen_at > _TOUCH_EVERY:
        await Session.filter(id=session.id).update(last_seen_at=now)
    return Actor(
        user_id=session.user_id,
        role=read_role(values[-2]),
        session_id=session.id,
        provider_id=session.provider_id,
        client_id=session.client_id,
        email_verified=values[-1] is not None,
    )


async def session_is_live(settings: Settings, session_id: object) -> bool:
    session = await Session.get_or_none(id=session_id)
    return session is not None and _usable(settings, session, datetime.now(UTC))


def revoked_event(session_ids: list[UUID]) -> SessionsRevoked:
    return SessionsRevoked(tuple(str(session_id) for session_id in session_ids))


async def end_sessions(uow: UnitOfWork, user_id: UUID, *, keep: UUID | None = None) -> None:
    """Revoke every live session of an account but `keep`; open sockets close after commit."""
    live = Session.filter(user_id=user_id, revoked_at=None).using_db(uow.conn)
    if keep is not None:
        live = live.exclude(id=keep)
    ids: list[UUID] = list(await live.values_list("id", flat=True))  # type: ignore[arg-type]
    if not ids:
        return
    await Session.filter(id__in=ids).using_db(uow.conn).update(revoked_at=datetime.now(UTC))
    uow.publish(SESSIONS_REVOKED, revoked_event(ids))


async def revoke_session(services: Services, session_id: UUID) -> None:
    """Log one session out; its open sockets on every API process close after commit."""

    async def work(uow: UnitOfWork) -> None:
        await (
            Session.filter(id=session_id, revoked_at=None)
            .using_db(uow.conn)
            .update(revoked_at=datetime.now(UTC))
        )
        uow.publish(SESSIONS_REVOKED, revoked_event([session_id]))

    await in_unit_of_work(services, work)


async def session_deadlines(
    settings: Settings, session_ids: Collection[UUID | str], *, touch: bool = False
) -> dict[str, datetime]:
    """When each still usable session next ends (idle or absolute limit); the others are left out.

    One query for any number of sessions. With `touch`, the use counts as activity and
    postpones the idle limit (written at most every 30 s, like `authenticate`).
    """
    if not session_ids:
        return {}
    now = datetime.now(UTC)
    sessions = await Session.filter(id__in=[UUID(str(value)) for value in session_ids])
    deadlines: dict[str, datetime] = {}
    for session in sessions:
        if not _usable(settings, session, now):
            continue
        if touch and now - session.last_seen_at > _TOUCH_EVERY:
            await Session.filter(id=session.id).update(last_seen_at=now)
            session.last_seen_at = now
        idle_limit = session.last_seen_at + timedelta(seconds=settings.session_idle_seconds)
        deadlines[str(session.id)] = min(session.expires_at, idle_limit)
    return deadlines
