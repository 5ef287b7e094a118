"""Onboarding end to end with a real SMTP server, a live subscription and a Redis outage."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx

from caseload.embedded_redis import EmbeddedRedis
from caseload.redis import connect, make_services
from models import Client, OutboxMessage, OutboxStatus
from resolvers.onboarding.reminders import queue_due_reminders
from tests.support import (
    AUTH_FIELDS,
    CLIENT,
    CLIENT_UPDATED,
    INSURANCE,
    PASSWORD,
    RESEND,
    UPDATE_PROFILE,
    Api,
    Subscription,
    acknowledge,
    add_billing,
    add_client,
    follow_confirmation,
    link_token_of,
    record_outcome,
    run_worker,
    set_insurance,
    sign_up_provider,
    smtp_server,
    subscribe_listening,
    verify,
)
from workers.outbox import sweep

PROVIDER = {"name": "Dr Imogen Ashdown", "practice": "Ashdown Counselling"}
PERSON = {
    "firstName": "Octavia",
    "lastName": "Bramblewood",
    "preferredName": "Tavi",
    "email": "octavia.b@example.org",
    "mobilePhone": "(415) 555-0199",
}


async def _steps(subscription: Subscription) -> list[str]:
    event = (await subscription.next(timeout=1.0))["clientUpdated"]
    return list(event["onboarding"]["missingSteps"])


async def test_add_invite_verify_and_finish_onboarding_over_smtp(api: Api) -> None:
    provider, _ = await sign_up_provider(api, name=PROVIDER["name"])
    with smtp_server(api.settings) as (settings, inbox):
        async with subscribe_listening(api, CLIENT_UPDATED, token=provider) as live:
            added = await add_client(api, provider, **PERSON)
            client_id = added["client"]["id"]
            assert await _steps(live) == [
                "VERIFY_EMAIL",
                "ADD_INSURANCE",
                "ADD_BILLING",
                "ACKNOWLEDGE_FORMS",
            ]

            await run_worker(settings)
            [invitation] = inbox.to(PERSON["email"])
            assert (await live.next(timeout=1.0))["clientUpdated"]["onboarding"]["invitedAt"]
            session = await verify(api, link_token_of(invitation))
            assert session["__typename"] == "AuthSuccess"
            token = session["token"]
            assert await _steps(live) == ["ADD_INSURANCE", "ADD_BILLING", "ACKNOWLEDGE_FORMS"]

            assert (await set_insurance(api, token))["__typename"] == "ClientSuccess"
            assert await _steps(live) == ["ADD_BILLING", "ACKNOWLEDGE_FORMS"]
            assert (await add_billing(api, token, "tok_visa"))["__typename"] == "ClientSuccess"
            assert await _steps(live) == ["ACKNOWLEDGE_FORMS"]
            assert (await acknowledge(api, token))["__typename"] == "ClientSuccess"
            assert await _steps(live) == []

    seen = (await api.gql(CLIENT, {"id": client_id}, provider))["client"]
    assert seen["onboarding"]["complete"] is True
    assert seen["emailVerified"] is True and seen["viewerCanEdit"] is False
    assert seen["billingMethod"] == {"brand": "visa", "last4": "4242"}


def _readable(message: EmailMessage) -> str:
    """Sender, subject and text, with link tokens blanked (random letters match anything)."""
    text = f"{message['From']}\n{message['Subject']}\n{message.get_content()}"
    return re.sub(r"token=[A-Za-z0-9_\-]+", "token=...", text).lower()


async def test_no_email_of_the_flow_carries_phi(api: Api) -> None:
    signed_up = await api.gql(
        f"mutation($i: SignUpProviderInput!) {{ signUpProvider(input: $i) {{ {AUTH_FIELDS} }} }}",
        {
            "i": {
                "email": "imogen@clinic.test",
                "password": PASSWORD,
                "displayName": PROVIDER["name"],
                "practiceName": PROVIDER["practice"],
            }
        },
    )
    provider = signed_up["signUpProvider"]["token"]
    other, _ = await sign_up_provider(api, name="Dr Second Opinion", verified=False)
    with smtp_server(api.settings) as (settings, inbox):
        await run_worker(settings)  # both providers confirm their own e-mail before adding
        for confirmation in list(inbox.messages):
            await follow_confirmation(api, confirmation)
        added = await add_client(api, provider, **PERSON, insurance=INSURANCE)
        client_id = added["client"]["id"]
        await run_worker(settings)
        await api.gql(RESEND, {"id": client_id}, provider)
        await run_worker(settings)
        links = [link_token_of(m) for m in inbox.to(PERSON["email"])]
        session = await verify(api, links[-1])
        token = session["token"]
        await add_client(api, other, email=PERSON["email"], firstName="X", lastName="Y")
        await api.gql(UPDATE_PROFILE, {"i": {"email": "tavi.new@example.org"}}, token)
        await run_worker(settings)
        await Client.filter(id=client_id).update(invited_at=datetime.now(UTC) - timedelta(days=4))
        redis = await connect(api.settings.redis_url or "")
        try:
            assert await queue_due_reminders(make_services(settings, redis)) == 1
        finally:
            await redis.aclose()
        await run_worker(settings)
        kinds = await OutboxMessage.filter(status=OutboxStatus.SENT).values_list("kind", flat=True)
        assert sorted(set(kinds)) == [
            "email.confirm_account",
            "email.confirm_new_address",
            "email.invitation",
            "email.onboarding_reminder",
        ]
    # two providers' confirmations, invitation, resend, the second provider's, new address, reminder
    assert len(inbox.messages) == len(kinds) == 7
    secrets = [
        PERSON["firstName"],
        PERSON["lastName"],
        PERSON["preferredName"],
        "5550199",
        "555-0199",
        INSURANCE["carrier"],
        "Heron",
        "BHX",
        "7712345",
        "1988-02-29",
        "02/29/1988",
        PROVIDER["name"],
        "Imogen",
        "Ashdown",
        "Second Opinion",
        "Counselling",
        "octavia",
        "tavi.new",
        "@example",
    ]
    for message in inbox.messages:
        text = _readable(message)
        leaked = [s for s in secrets if s.lower() in text]
        assert leaked == [], (message["Subject"], leaked)


async def test_redis_down_while_adding_a_client_delays_the_invitation_only(
    api: Api, redis_server: EmbeddedRedis
) -> None:
    provider, _ = await sign_up_provider(api)
    with smtp_server(api.settings) as (settings, inbox):
        await run_worker(settings)  # the provider's own confirmation, out of the way
        redis_server.stop()
        try:
            added = await add_client(api, provider, email="outage@example.org")
            assert added["__typename"] == "AddClientSuccess"
        finally:
            redis_server.restart()
        pending = await OutboxMessage.get(kind="email.invitation")
        assert pending.status is OutboxStatus.PENDING
        await run_worker(settings)
        assert inbox.to("outage@example.org") == []  # nothing was queued during the outage

        # The API's own connection pool is back: the next commit enqueues at once.
        async with httpx.AsyncClient() as http:
            ready: dict[str, Any] = (await http.get(f"{api.url}/readyz")).json()
        assert ready["redis"] is True
        await add_client(api, provider, email="after@example.org")
        await run_worker(settings)
        assert len(inbox.to("after@example.org")) == 1
        assert inbox.to("outage@example.org") == []

        redis = await connect(settings.redis_url or "")
        services = make_services(settings, redis)
        try:
            past = datetime.now(UTC) - timedelta(seconds=settings.outbox_sweep_after_seconds + 1)
            await OutboxMessage.filter(id=pending.id).update(available_at=past)
            assert await sweep(services) == 1
            await run_worker(settings)
            assert await sweep(services) == 0
            await run_worker(settings)
        finally:
            await redis.aclose()
    delivered = len(inbox.to("outage@example.org")) + len(inbox.to("after@example.org"))
    assert len(inbox.to("outage@example.org")) == 1
    await pending.refresh_from_db()
    assert pending.status is OutboxStatus.SENT
    assert (await Client.get(provider_links__email="outage@example.org")).invited_at is not None
    record_outcome(
        "Redis down while a client is added",
        "Redis stopped → addClient still succeeded (database only), the invitation waited in "
        "the outbox; after Redis returned it was swept and sent, the next one at once: "
        f"{delivered}/2 delivered, once each",
        unit="messages",
        expected=2,
        found=delivered,
    )
