"""Onboarding reminders: due intervals, at most one per interval with two workers, capped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from caseload.redis import connect, make_services
from models import Client, OutboxMessage, OutboxStatus, ProviderClient, User
from resolvers.onboarding.reminders import queue_due_reminders
from resolvers.ports import Services
from tests.support import (
    Api,
    add_client,
    complete_onboarding,
    link_token_of,
    mail_files,
    read_mail,
    run_worker,
    sign_up_provider,
    verify,
)

REMINDER = "email.onboarding_reminder"


@pytest.fixture
async def services(api: Api) -> AsyncIterator[Services]:
    redis = await connect(api.settings.redis_url or "")
    try:
        yield make_services(api.settings, redis)
    finally:
        await redis.aclose()


async def _invited(api: Api, provider: str, email: str, days_ago: float | None) -> Client:
    added = await add_client(api, provider, email=email)
    client = await Client.get(id=added["client"]["id"])
    if days_ago is not None:
        client.invited_at = datetime.now(UTC) - timedelta(days=days_ago)
        await client.save(update_fields=["invited_at"])
    return client


async def _invited_days_ago(client: Client, days: float) -> None:
    await Client.filter(id=client.id).update(invited_at=datetime.now(UTC) - timedelta(days=days))


async def _two_workers(services: Services) -> int:
    """Two reminder runs at the same moment, as two workers' cron ticks would be."""
    results = await asyncio.gather(queue_due_reminders(services), queue_due_reminders(services))
    return sum(results)


async def _reminded(client: Client) -> int:
    """Reminders about this client: to their account, or to the entry nobody accepted yet."""
    user = await User.get_or_none(client__id=client.id)
    subject = user.id if user else (await ProviderClient.get(client_id=client.id)).id
    return await OutboxMessage.filter(kind=REMINDER, subject_id=subject).count()


async def test_one_reminder_per_interval_even_with_two_workers(
    api: Api, services: Services
) -> None:
    provider, _ = await sign_up_provider(api)
    due = await _invited(api, provider, "due@example.org", days_ago=3.1)
    fresh = await _invited(api, provider, "fresh@example.org", days_ago=2.9)
    never = await _invited(api, provider, "never@example.org", days_ago=None)
    archived = await _invited(api, provider, "archived@example.org", days_ago=10)
    await ProviderClient.filter(client_id=archived.id).update(archived_at=datetime.now(UTC))

    assert await _two_workers(services) == 1
    assert await _reminded(due) == 1
    assert [await _reminded(c) for c in (fresh, never, archived)] == [0, 0, 0]
    assert (await Client.get(id=due.id)).reminders_sent == 1
    assert await _two_workers(services) == 0  # same interval: nothing new

    await _invited_days_ago(due, 5.9)
    assert await _two_workers(services) == 0  # the second interval starts at day 6
    await _invited_days_ago(due, 6.1)
    assert await _two_workers(services) == 1
    await _invited_days_ago(due, 9.1)
    assert await _two_workers(services) == 1
    assert (await Client.get(id=due.id)).reminders_sent == 3
    await _invited_days_ago(due, 60)
    assert await _two_workers(services) == 0  # at most reminder_max
    assert await _reminded(due) == 3

    await _invited_days_ago(fresh, 3.1)  # its turn
    assert await _two_workers(services) == 1
    assert await _reminded(fresh) == 1


async def test_a_long_outage_sends_one_reminder_per_run_not_a_burst(
    api: Api, services: Services
) -> None:
    provider, _ = await sign_up_provider(api)
    client = await _invited(api, provider, "late@example.org", days_ago=30)
    assert await queue_due_reminders(services) == 1
    assert (await Client.get(id=client.id)).reminders_sent == 1


async def test_settings_shape_the_schedule(api: Api, services: Services) -> None:
    provider, _ = await sign_up_provider(api)
    client = await _invited(api, provider, "quick@example.org", days_ago=1.1)
    custom = make_services(
        api.settings.model_copy(
            update={"reminder_first_days": 1, "reminder_every_days": 1, "reminder_max": 1}
        ),
        services.queue.redis,  # type: ignore[attr-defined]
    )
    assert await queue_due_reminders(custom) == 1
    await _invited_days_ago(client, 5)
    assert await queue_due_reminders(custom) == 0
    assert await queue_due_reminders(services) == 0  # by the defaults the second is due at day 6


async def test_complete_clients_get_none_and_the_email_is_generic(
    api: Api, services: Services
) -> None:
    provider, _ = await sign_up_provider(api, name="Dr Pemberton")
    pending = await _invited(api, provider, "pending@example.org", days_ago=None)
    verified = await _invited(api, provider, "verified@example.org", days_ago=None)
    done = await _invited(api, provider, "done@example.org", days_ago=None)
    await run_worker(api.settings)  # the invitations, which stamp invited_at
    invitations = {m["To"]: m for m in map(read_mail, mail_files(api.settings))}
    await verify(api, link_token_of(invitations["verified@example.org"]))
    login = await verify(api, link_token_of(invitations["done@example.org"]))
    await complete_onboarding(api, login["token"])
    for client in (pending, verified, done):
        await _invited_days_ago(client, 4)

    assert await _two_workers(services) == 2
    assert await _reminded(done) == 0
    payloads = await OutboxMessage.filter(kind=REMINDER).values_list("payload", flat=True)
    # ids only: the account, or the entry not accepted yet
    assert all(set(p) in ({"user_id", "reminder"}, {"record_id", "reminder"}) for p in payloads)  # type: ignore[arg-type]
    await run_worker(api.settings)
    reminders = {
        m["To"]: m.get_content()
        for m in map(read_mail, mail_files(api.settings))
        if "Still to do" in m.get_content()
    }
    assert set(reminders) == {"pending@example.org", "verified@example.org"}
    unverified_text = reminders["pending@example.org"]
    assert f"{api.settings.public_url}/verify?token=" in unverified_text
    assert "confirm your e-mail address" in unverified_text
    verified_text = reminders["verified@example.org"]
    assert "token=" not in verified_text
    assert f"{api.settings.public_url}/onboarding" in verified_text
    assert "confirm your e-mail" not in verified_text and "add a payment method" in verified_text
    for text in reminders.values():
        for secret in ("Ada", "Lovelace", "Pemberton", "@example.org"):
            assert secret not in text


async def test_a_reminder_is_dropped_when_the_client_finishes_first(
    api: Api, services: Services
) -> None:
    provider, _ = await sign_up_provider(api)
    client = await _invited(api, provider, "quick@example.org", days_ago=None)
    await run_worker(api.settings)
    [invitation] = [
        m for m in map(read_mail, mail_files(api.settings)) if m["To"] == "quick@example.org"
    ]
    login = await verify(api, link_token_of(invitation))
    await _invited_days_ago(client, 4)
    assert await queue_due_reminders(services) == 1
    await complete_onboarding(api, login["token"])
    await run_worker(api.settings)
    reminder = await OutboxMessage.get(kind=REMINDER)
    assert reminder.status is OutboxStatus.CANCELLED
    assert reminder.last_error == "onboarding complete"
