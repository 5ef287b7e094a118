"""A client as each viewer sees them: a provider's list entry, or the person themselves.

Consent decides what a provider sees: until the person accepted the entry, the entry's own
profile (what the provider entered) and every onboarding step missing; afterwards the
person's own profile and onboarding, read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from models import AddedVia, Client, ProviderClient, User
from resolvers.actor import Actor
from resolvers.onboarding.steps import OnboardingState, state_of


@dataclass(frozen=True)
class ClientView:
    """A client as one viewer sees them; `link` is the viewing provider's entry (None: self)."""

    client: Client
    link: ProviderClient | None
    email: str
    email_verified: bool
    # whether the person acknowledged every current form, when read with the page; None: not read
    forms_acknowledged: bool | None = None

    @property
    def accepted(self) -> bool:
        """The person's own profile is what this view shows (always so for the person)."""
        return self.link is None or self.link.accepted_at is not None


def link_view(link: ProviderClient) -> ClientView:
    """A client as the provider owning `link` sees it; `link.client` (and its user) loaded."""
    return client_view(link.client, link)


def entry_view(client: Client, link: ProviderClient, account_email: str | None) -> ClientView:
    """`link_view` from rows read together: `account_email` is the person's account's address."""
    if link.accepted_at is None:
        return ClientView(client, link, link.email, False)
    assert account_email is not None, "an accepted entry shows the person's own profile"
    return ClientView(client, link, account_email, True)


def account_of(client: Client) -> User:
    """The person's account (loaded); only a list entry's own profile has none."""
    user = client.user
    assert user is not None, "a list entry's own profile has no account"
    return user


def client_view(client: Client, link: ProviderClient | None) -> ClientView:
    """`client.user` must be loaded; `link` is the viewing provider's entry, None for the client."""
    if link is None:
        user = account_of(client)
        return ClientView(client, None, user.email, user.email_verified_at is not None)
    if link.accepted_at is None:
        # the entry's own address; whether it has an account is never shown
        return ClientView(client, link, link.email, False)
    return ClientView(client, link, account_of(client).email, True)


def onboarding_of(view: ClientView, forms_acknowledged: bool) -> OnboardingState:
    """Before acceptance every step is missing, whatever the provider entered."""
    if not view.accepted:
        sent = view.link.invitation_sent_at if view.link else None
        return OnboardingState(False, False, False, False, invited_at=sent)
    return state_of(view.client, view.email_verified, forms_acknowledged)


async def links_of(actor: Actor, client_ids: set[UUID]) -> dict[UUID, ProviderClient]:
    """The viewing provider's list entries for these clients, in one query."""
    if not actor.is_provider or not client_ids:
        return {}
    links = await ProviderClient.filter(provider_id=actor.provider_id, client_id__in=client_ids)
    return {link.client_id: link for link in links}


class InvitationStatus(StrEnum):
    PENDING = "PENDING"  # queued, not sent yet
    SENT = "SENT"
    FAILED = "FAILED"  # given up after retries; resendInvitation tries again
    ACCEPTED = "ACCEPTED"  # the person accepted this provider's entry


@dataclass(frozen=True)
class InvitationView:
    status: InvitationStatus
    sent_at: datetime | None
    accepted_at: datetime | None


def invitation_of(view: ClientView) -> InvitationView | None:
    """The entry's invitation; None for the person's own view and entries never invited."""
    link = view.link
    if link is None:
        return None
    sent = link.invitation_sent_at
    if link.accepted_at is not None:
        if link.added_via is AddedVia.MESSAGE:
            return None  # they wrote first: there was nothing to invite them to
        return InvitationView(InvitationStatus.ACCEPTED, sent, link.accepted_at)
    queued = link.invitation_queued_at
    if queued is None:
        return None  # imported without invitations
    if link.invitation_failed_at is not None:
        return InvitationView(InvitationStatus.FAILED, sent, None)
    if sent is None or queued > sent:
        return InvitationView(InvitationStatus.PENDING, sent, None)
    return InvitationView(InvitationStatus.SENT, sent, None)
