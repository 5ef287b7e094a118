"""clientUpdated over a real graphql-transport-ws socket: each step within a second, no leaks."""

from __future__ import annotations

from typing import Any

from tests.support import (
    CLIENT_UPDATED,
    Api,
    Subscription,
    accept_invitation,
    acknowledge,
    add_billing,
    add_client,
    assert_no_event,
    link_token_of,
    mail_files,
    read_mail,
    run_worker,
    set_insurance,
    sign_up_client,
    sign_up_provider,
    socket_close_code,
    subscribe,
    subscribe_listening,
    verify,
)

WITHIN = 1.0  # seconds: the promise to providers


async def _update(subscription: Subscription) -> dict[str, Any]:
    return (await subscription.next(timeout=WITHIN))["clientUpdated"]


async def test_provider_sees_each_step_of_their_client_and_nothing_else(api: Api) -> None:
    token_a, _ = await sign_up_provider(api)
    token_b, _ = await sign_up_provider(api)
    async with (
        subscribe_listening(api, CLIENT_UPDATED, token=token_a) as a,
        subscribe_listening(api, CLIENT_UPDATED, token=token_b) as b,
    ):
        added = await add_client(api, token_a, email="live@example.org")
        client_id = added["client"]["id"]
        event = await _update(a)
        assert event["id"] == client_id and event["addedVia"] == "MANUAL"
        assert event["onboarding"]["missingSteps"] == [
            "VERIFY_EMAIL",
            "ADD_INSURANCE",
            "ADD_BILLING",
            "ACKNOWLEDGE_FORMS",
        ]

        await run_worker(api.settings)  # another process's change: the invitation is sent
        event = await _update(a)
        assert event["onboarding"]["invitedAt"] is not None
        [invitation] = [
            m for m in map(read_mail, mail_files(api.settings)) if m["To"] == "live@example.org"
        ]
        client = await verify(api, link_token_of(invitation))
        assert (await _update(a))["onboarding"]["emailVerified"] is True
        token = client["token"]

        await set_insurance(api, token)
        event = await _update(a)
        assert event["insurance"]["carrier"] == "Blue Heron Health"
        assert event["onboarding"]["missingSteps"] == ["ADD_BILLING", "ACKNOWLEDGE_FORMS"]
        await add_billing(api, token)
        event = await _update(a)
        assert event["billingMethod"] == {"brand": "visa", "last4": "4242"}
        await acknowledge(api, token)
        event = await _update(a)
        assert event["onboarding"]["complete"] is True
        assert event["viewerCanEdit"] is False and event["archived"] is False

        await assert_no_event(b)
        await assert_no_event(a, within=0.2)

        # B adds the same address: B's own entry, which B hears about, and A does not
        added_b = await add_client(api, token_b, email="live@example.org")
        assert added_b["linkedExistingAccount"] is False
        assert (await _update(b))["id"] == added_b["client"]["id"] != client_id
        # once the person accepts B's invitation too, B follows the person
        await accept_invitation(api, "live@example.org")
        seen = [(await _update(b))["id"] for _ in range(2)]  # the invitation sent, accepted
        assert seen[-1] == client_id


async def test_a_client_on_two_lists_is_announced_to_both(api: Api) -> None:
    token_a, _ = await sign_up_provider(api)
    token_b, _ = await sign_up_provider(api)
    client_token, _ = await sign_up_client(api, email="both@example.org")
    await add_client(api, token_a, email="both@example.org")
    await add_client(api, token_b, email="both@example.org")
    await accept_invitation(api, "both@example.org")  # both entries, into the one account
    async with (
        subscribe_listening(api, CLIENT_UPDATED, token=token_a) as a,
        subscribe_listening(api, CLIENT_UPDATED, token=token_b) as b,
    ):
        await add_billing(api, client_token, "tok_mastercard")
        for subscription in (a, b):
            assert (await _update(subscription))["billingMethod"]["last4"] == "4444"


async def test_only_providers_may_subscribe(api: Api) -> None:
    client_token, _ = await sign_up_client(api)
    async with subscribe(api, CLIENT_UPDATED, token=client_token) as subscription:
        message = await subscription.message(timeout=2)
        assert message["type"] in ("error", "next"), message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "FORBIDDEN", errors
    # Without an account there is no socket at all to subscribe on.
    assert await socket_close_code(api, {}) == 4403
