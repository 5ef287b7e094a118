"""The text of each kind of e-mail. Links and generic words only: no names, no PHI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from models import Client, ProviderClient, User, VerificationPurpose
from resolvers.accounts.email_change import reissue_pending_token
from resolvers.accounts.verification import issue_invitation_tokens, issue_token
from resolvers.clients.events import announce_client_change
from resolvers.effects import ClientsChanged, EmailKind, clients_channel
from resolvers.messaging.threads import has_unread
from resolvers.onboarding.steps import STEPS, clients_with_current_forms, state_of
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Rendered:
    to: str
    subject: str
    text: str
    # run in the transaction that marks the message sent (e.g. stamp Client.invited_at)
    after_send: Callable[[UnitOfWork], Awaitable[None]] | None = None
    # run once delivery is given up after the last attempt
    after_give_up: Callable[[], Awaitable[None]] | None = None


class Undeliverable(Exception):
    """The message no longer makes sense (account gone); it is cancelled, not retried."""


Renderer = Callable[[Services, dict[str, str]], Awaitable[Rendered]]

# An outbox row's `kind` -> the function that writes its e-mail (see `renders`).
RENDERERS: dict[str, Renderer] = {}


def renders(kind: EmailKind) -> Callable[[Renderer], Renderer]:
    """Register the decorated function as the renderer of e-mails of `kind`."""

    def register(renderer: Renderer) -> Renderer:
        RENDERERS[kind] = renderer
        return renderer

    return register


def _link(services: Services, path: str, token: str) -> str:
    return f"{services.settings.public_url.rstrip('/')}/{path}?token={token}"


async def _user(payload: dict[str, str]) -> User:
    user = await User.get_or_none(id=UUID(payload["user_id"]))
    if user is None:
        raise Undeliverable("account no longer exists")
    return user


@renders(EmailKind.CONFIRM_ACCOUNT)
async def confirm_account(services: Services, payload: dict[str, str]) -> Rendered:
    user = await _user(payload)
    if user.email_verified_at is not None:
        raise Undeliverable("already verified")
    token = await issue_token(services, user.id, VerificationPurpose.VERIFY_EMAIL)
    return Rendered(
        to=user.email,
        subject="Confirm your e-mail address",
        text=(
            "Please confirm your e-mail address for your Caseload account by opening this link:\n\n"
            f"{_link(services, 'verify', token)}\n\n"
            "If you did not create an account, you can ignore this message.\n"
        ),
    )


def _page(services: Services, path: str) -> str:
    return f"{services.settings.public_url.rstrip('/')}/{path}"


@renders(EmailKind.INSURANCE_REQUEST)
async def insurance_request(services: Services, payload: dict[str, str]) -> Rendered:
    """Sent when a provider schedules a client who has no insurance on file."""
    user = await _user(payload)
    client = await Client.get_or_none(id=UUID(payload["client_id"]))
    if client is None:
        raise Undeliverable("client no longer exists")
    if client.insurance_carrier and client.insurance_member_id:
        raise Undeliverable("insurance already on file")
    return Rendered(
        to=user.email,
        subject="Please add your insurance information",
        text=(
            "To use your insurance with Caseload, please add your insurance information "
            "to your account:\n\n"
            f"{_page(services, 'insurance')}\n\n"
            "It takes a minute: your insurance company, member ID and date of birth.\n"
        ),
    )


@renders(EmailKind.NEW_MESSAGE)
async def new_message(services: Services, payload: dict[str, str]) -> Rendered:
    """A nudge without the message, the sender or any name; skipped once the thread is read."""
    user = await _user(payload)
    thread_id = UUID(payload["thread_id"])
    if not await has_unread(thread_id, user.id):
        raise Undeliverable("already read")
    return Rendered(
        to=user.email,
        subject="You have a new message",
        text=(
            "You have a new message on Caseload. Log in to read it:\n\n"
            f"{_page(services, f'messages/{thread_id}')}\n\n"
            "For your privacy, messages are never included in e-mail.\n"
        ),
    )


async def _client_of(user: User) -> Client:
    client = await Client.get_or_none(user_id=user.id)
    if client is None:
        raise Undeliverable("not a client account")
    return client


def _lifetime(services: Services) -> str:
    days, seconds = divmod(services.settings.invitation_ttl_seconds, 86400)
    return f"{days} days" if days > 1 else f"{max(1, seconds // 3600 + 24 * days)} hours"


@renders(EmailKind.INVITATION)
async def invitation(services: Services, payload: dict[str, str]) -> Rendered:
    """The link is the whole content: no provider, practice or client name.

    One text for every address: whether it has an account shows only once the link is opened.
    """
    if "record_id" not in payload:
        raise Undeliverable("an invitation of the earlier kind, superseded")
    record_id = UUID(payload["record_id"])
    link = await ProviderClient.get_or_none(id=record_id)
    if link is None:
        raise Undeliverable("list entry no longer exists")
    if link.accepted_at is not None:
        raise Undeliverable("already accepted")
    token = await issue_token(services, None, VerificationPurpose.INVITATION, record_id=record_id)

    async def mark_invited(uow: UnitOfWork) -> None:
        await _mark_invited(uow, [link])

    async def mark_failed() -> None:
        await ProviderClient.filter(id=record_id).update(invitation_failed_at=datetime.now(UTC))

    return Rendered(
        to=link.email,
        subject=INVITATION_SUBJECT,
        text=invitation_text(services, token),
        after_send=mark_invited,
        after_give_up=mark_failed,
    )


INVITATION_SUBJECT = "You are invited to Caseload"


def invitation_text(services: Services, token: str) -> str:
    """The invitation's whole text (bench/floors.py renders this same message)."""
    return (
        "You have been invited to connect with a provider on Caseload. Open this link to "
        "accept: you will choose a password, or enter yours if you already have a "
        "Caseload account.\n\n"
        f"{_link(services, 'verify', token)}\n\n"
        f"The link works once and expires in {_lifetime(services)}. "
        "If you were not expecting this, you can ignore this message.\n"
    )


async def _mark_invited(uow: UnitOfWork, links: list[ProviderClient]) -> None:
    """Stamp the entries and their profiles sent, and tell each list once, in a few statements."""
    now = datetime.now(UTC)
    await (
        ProviderClient.filter(id__in=[link.id for link in links])
        .using_db(uow.conn)
        .update(invitation_sent_at=now, invitation_failed_at=None)
    )
    client_ids = list({link.client_id for link in links})
    await Client.filter(id__in=client_ids).using_db(uow.conn).update(invited_at=now)
    if len(client_ids) == 1:
        await announce_client_change(uow, client_ids[0])
        return
    lists: dict[UUID, list[str]] = {}
    for row in (
        await ProviderClient.filter(client_id__in=client_ids)
        .using_db(uow.conn)
        .values("provider_id", "client_id")
    ):
        lists.setdefault(row["provider_id"], []).append(str(row["client_id"]))
    for provider_id, ids in lists.items():
        uow.publish(clients_channel(provider_id), ClientsChanged.of(*ids))


@dataclass(frozen=True)
class RenderedBatch:
    """A delivery batch rendered at once: the mail of each outbox id, and effects in bulk."""

    mails: dict[UUID, Rendered]
    cancelled: dict[UUID, str]  # outbox id -> why it no longer makes sense
    # in the transaction that marks these outbox ids sent / given up
    after_send: Callable[[UnitOfWork, list[UUID]], Awaitable[None]]
    after_give_up: Callable[[UnitOfWork, list[UUID]], Awaitable[None]]


async def invitations(
    services: Services, messages: list[tuple[UUID, dict[str, str]]]
) -> RenderedBatch:
    """Invitations of a batch: one read of the entries, one transaction for all their tokens."""
    cancelled: dict[UUID, str] = {}
    record_of: dict[UUID, UUID] = {}
    for message_id, payload in messages:
        if "record_id" in payload:
            record_of[message_id] = UUID(payload["record_id"])
        else:
            cancelled[message_id] = "an invitation of the earlier kind, superseded"
    links = {
        link.id: link for link in await ProviderClient.filter(id__in=list(set(record_of.values())))
    }
    due: dict[UUID, ProviderClient] = {}
    for message_id, record_id in record_of.items():
        link = links.get(record_id)
        if link is None:
            cancelled[message_id] = "list entry no longer exists"
        elif link.accepted_at is not None:
            cancelled[message_id] = "already accepted"
        else:
            due[message_id] = link
    tokens = await issue_invitation_tokens(services, list({link.id for link in due.values()}))
    mails = {
        message_id: Rendered(
            to=link.email,
            subject=INVITATION_SUBJECT,
            text=invitation_text(services, tokens[link.id]),
        )
        for message_id, link in due.items()
    }

    async def after_send(uow: UnitOfWork, sent: list[UUID]) -> None:
        if sent:
            await _mark_invited(uow, [due[message_id] for message_id in sent])

    async def after_give_up(uow: UnitOfWork, given_up: list[UUID]) -> None:
        if given_up:
            await (
                ProviderClient.filter(id__in=[due[m].id for m in given_up])
                .using_db(uow.conn)
                .update(invitation_failed_at=datetime.now(UTC))
            )

    return RenderedBatch(mails, cancelled, after_send, after_give_up)


async def one_by_one(
    services: Services, renderer: Renderer, messages: list[tuple[UUID, dict[str, str]]]
) -> RenderedBatch:
    """A batch of a kind without a batch renderer: each rendered, and its effects run, alone."""
    mails: dict[UUID, Rendered] = {}
    cancelled: dict[UUID, str] = {}
    for message_id, payload in messages:
        try:
            mails[message_id] = await renderer(services, payload)
        except Undeliverable as reason:
            cancelled[message_id] = str(reason)

    async def after_send(uow: UnitOfWork, sent: list[UUID]) -> None:
        for message_id in sent:
            effect = mails[message_id].after_send
            if effect is not None:
                await effect(uow)

    async def after_give_up(_uow: UnitOfWork, given_up: list[UUID]) -> None:
        for message_id in given_up:
            effect = mails[message_id].after_give_up
            if effect is not None:
                await effect()

    return RenderedBatch(mails, cancelled, after_send, after_give_up)


@renders(EmailKind.CONFIRM_NEW_ADDRESS)
async def confirm_new_address(services: Services, payload: dict[str, str]) -> Rendered:
    """Sent to the new address; the account keeps the old one until the link is followed."""
    await _user(payload)
    issued = await reissue_pending_token(services, UUID(payload["token_id"]))
    if issued is None:
        raise Undeliverable("change superseded, revoked or already made")
    token, new_address = issued
    return Rendered(
        to=new_address,
        subject="Confirm your new e-mail address",
        text=(
            "This address was entered as the new e-mail address of a Caseload account. "
            "To start using it, open this link:\n\n"
            f"{_link(services, 'verify', token)}\n\n"
            "Until then the account keeps its current address. "
            "If this was not you, you can ignore this message.\n"
        ),
    )


_STEP_WORDS = {
    "VERIFY_EMAIL": "confirm your e-mail address",
    "ADD_INSURANCE": "add your insurance",
    "ADD_BILLING": "add a payment method",
    "ACKNOWLEDGE_FORMS": "read and acknowledge the billing and privacy policies",
}


async def _entry_reminder(
    services: Services, payload: dict[str, str]
) -> tuple[str, str, list[str]]:
    """A list entry nobody accepted yet: every step left, and a fresh link to accept it."""
    link = await ProviderClient.get_or_none(id=UUID(payload["record_id"]))
    if link is None:
        raise Undeliverable("list entry no longer exists")
    if link.accepted_at is not None:
        raise Undeliverable("accepted since")
    token = await issue_token(services, None, VerificationPurpose.INVITATION, record_id=link.id)
    return link.email, _link(services, "verify", token), list(STEPS)


async def _account_reminder(
    services: Services, payload: dict[str, str]
) -> tuple[str, str, list[str]]:
    user = await _user(payload)
    client = await _client_of(user)
    forms_done = client.id in await clients_with_current_forms([client.id])
    state = state_of(client, user.email_verified_at is not None, forms_done)
    if state.complete:
        raise Undeliverable("onboarding complete")
    if state.email_verified:
        link = _page(services, "onboarding")
    else:
        link = _link(
            services,
            "verify",
            await issue_token(services, user.id, VerificationPurpose.VERIFY_EMAIL),
        )
    return user.email, link, state.missing_steps


@renders(EmailKind.ONBOARDING_REMINDER)
async def onboarding_reminder(services: Services, payload: dict[str, str]) -> Rendered:
    """Generic steps left and a link; skipped when the client finished in the meantime."""
    if "record_id" in payload:
        to, link, missing = await _entry_reminder(services, payload)
    else:
        to, link, missing = await _account_reminder(services, payload)
    steps = "".join(f"  - {_STEP_WORDS[step]}\n" for step in missing)
    return Rendered(
        to=to,
        subject="A few steps left to set up your Caseload account",
        text=(
            "Your Caseload account is almost ready. Still to do:\n\n"
            f"{steps}\n"
            f"Continue here:\n\n{link}\n\n"
            "If you were not expecting this, you can ignore this message.\n"
        ),
    )


@renders(EmailKind.PASSWORD_RESET)
async def password_reset(services: Services, payload: dict[str, str]) -> Rendered:
    """The link only; it works once, for a short time, and ends every session when used."""
    user = await _user(payload)
    ttl = services.settings.password_reset_ttl_seconds
    token = await issue_token(
        services, user.id, VerificationPurpose.RESET_PASSWORD, ttl_seconds=ttl
    )
    minutes = max(1, ttl // 60)
    hours = minutes // 60
    lifetime = f"{hours} hour{'s' * (hours > 1)}" if minutes % 60 == 0 else f"{minutes} minutes"
    return Rendered(
        to=user.email,
        subject="Reset your Caseload password",
        text=(
            "Someone asked to reset the password of the Caseload account with this e-mail "
            "address. To choose a new password, open this link:\n\n"
            f"{_link(services, 'reset-password', token)}\n\n"
            f"The link works once and expires in {lifetime}. Choosing a new password logs "
            "you out everywhere else.\n"
            "If you did not ask for this, you can ignore this message: your password stays "
            "as it is.\n"
        ),
    )


BatchRenderer = Callable[[Services, list[tuple[UUID, dict[str, str]]]], Awaitable[RenderedBatch]]

BATCH_RENDERERS: dict[str, BatchRenderer] = {EmailKind.INVITATION: invitations}


async def invitations_sent_before(uow: UnitOfWork, payloads: list[dict[str, str]]) -> None:
    """Invitations a dead worker had sent: their entries stamped sent, not rendered again (a
    second render issues a new link, which revokes the one in the e-mail)."""
    record_ids = [UUID(p["record_id"]) for p in payloads if "record_id" in p]
    links = await ProviderClient.filter(id__in=record_ids).using_db(uow.conn) if record_ids else []
    if links:
        await _mark_invited(uow, list(links))


SentBefore = Callable[[UnitOfWork, list[dict[str, str]]], Awaitable[None]]

# The after-send effects of e-mails found already accepted (a kind not here has none).
SENT_BEFORE: dict[str, SentBefore] = {EmailKind.INVITATION: invitations_sent_before}
