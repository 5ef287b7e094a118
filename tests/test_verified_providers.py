"""A provider confirms their own e-mail before storing clients' data or mailing them."""

from __future__ import annotations

from typing import Any

from models import OutboxMessage
from tests.support import (
    PASSWORD,
    Api,
    confirm_own_email,
    link_token_of,
    mail_files,
    read_mail,
    run_worker,
    sign_up_client,
    sign_up_provider,
    start_import,
)

RESULT = "__typename ... on MutationError { code message }"
ME = "{ me { provider { id } } }"
ADD = f"mutation($i: AddClientInput!) {{ addClient(input: $i) {{ {RESULT} }} }}"
ADD_MANY = f"mutation($i: AddClientsInput!) {{ addClients(input: $i) {{ {RESULT} }} }}"
SEND = f"mutation($i: SendMessageInput!) {{ sendMessage(input: $i) {{ {RESULT} }} }}"
SCHEDULE = (
    f"mutation($i: ScheduleAppointmentInput!) {{ scheduleAppointment(input: $i) {{ {RESULT} }} }}"
)
THREAD = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { ... on MessageSuccess { thread { client { id } } } } }"
RESEND = "mutation { resendEmailConfirmation }"
VERIFY = "mutation($i: VerifyEmailInput!) { verifyEmail(input: $i) { __typename } }"
CSV = b"First Name,Last Name,Email\nIma,Port,ima.port@example.org\n"


async def _five(api: Api, token: str, client_id: str, n: int) -> dict[str, dict[str, Any]]:
    """The outcome of each of the five guarded mutations for this provider."""

    def fresh(prefix: str) -> dict[str, str]:
        return {"firstName": "Nia", "lastName": "Vale", "email": f"{prefix}{n}@example.org"}

    start = f"2031-05-0{n}T09:00:00+00:00"
    end = f"2031-05-0{n}T09:50:00+00:00"
    results = {
        "addClient": (await api.gql(ADD, {"i": fresh("one")}, token))["addClient"],
        "addClients": (await api.gql(ADD_MANY, {"i": {"clients": [fresh("many")]}}, token))[
            "addClients"
        ],
        "startClientImport": await start_import(api, token, CSV, dryRun=True),
        "sendMessage": (
            await api.gql(SEND, {"i": {"clientId": client_id, "body": "Hello"}}, token)
        )["sendMessage"],
        "scheduleAppointment": (
            await api.gql(
                SCHEDULE, {"i": {"clientId": client_id, "startsAt": start, "endsAt": end}}, token
            )
        )["scheduleAppointment"],
    }
    return results


async def test_an_unconfirmed_provider_gets_email_not_verified_until_confirming(
    api: Api,
) -> None:
    provider, viewer = await sign_up_provider(api, verified=False)
    provider_id = (await api.gql(ME, token=provider))["me"]["provider"]["id"]
    # a client writing first is unaffected, and is on the provider's list at once
    client, _ = await sign_up_client(api)
    sent = await api.gql(THREAD, {"i": {"providerId": provider_id, "body": "Hi"}}, client)
    client_id = sent["sendMessage"]["thread"]["client"]["id"]

    refused = await _five(api, provider, client_id, 1)
    for name, result in refused.items():
        assert result["__typename"] == "AuthError", (name, result)
        assert result["code"] == "EMAIL_NOT_VERIFIED", (name, result)
        assert "Confirm your e-mail address" in result["message"]
    assert await OutboxMessage.filter(kind="email.invitation").count() == 0

    await confirm_own_email(api, viewer["id"])  # the same session works on, now confirmed
    allowed = await _five(api, provider, client_id, 2)
    assert {name: result["__typename"] for name, result in allowed.items()} == {
        "addClient": "AddClientSuccess",
        "addClients": "AddClientsSuccess",
        "startClientImport": "StartClientImportSuccess",
        "sendMessage": "MessageSuccess",
        "scheduleAppointment": "AppointmentSuccess",
    }


async def _confirmation_links(api: Api, address: str) -> list[str]:
    await run_worker(api.settings)
    mails = [read_mail(p) for p in mail_files(api.settings)]
    return [link_token_of(m) for m in mails if m["To"] == address]


async def test_the_confirmation_can_be_sent_again(api: Api) -> None:
    provider, _ = await sign_up_provider(api, email="again@example.com", verified=False)
    [lost] = await _confirmation_links(api, "again@example.com")  # the sign-up's own
    assert (await api.gql(RESEND))["resendEmailConfirmation"] is False  # no session
    assert (await api.gql(RESEND, token=provider))["resendEmailConfirmation"] is True
    links = await _confirmation_links(api, "again@example.com")
    [fresh] = [link for link in links if link != lost]
    # the new mail's link works; it retired the older one
    old = await api.gql(VERIFY, {"i": {"token": lost, "password": PASSWORD}})
    assert old["verifyEmail"]["__typename"] == "AuthError"
    new = await api.gql(VERIFY, {"i": {"token": fresh, "password": PASSWORD}})
    assert new["verifyEmail"]["__typename"] == "AuthSuccess"
    added = (await api.gql(ADD, {"i": _person()}, provider))["addClient"]
    assert added["__typename"] == "AddClientSuccess"

    # once confirmed, or past the hourly limit, the answer stays true and nothing is queued
    queued = await OutboxMessage.filter(kind="email.confirm_account").count()
    assert (await api.gql(RESEND, token=provider))["resendEmailConfirmation"] is True
    assert await OutboxMessage.filter(kind="email.confirm_account").count() == queued


async def test_confirmation_resends_are_rate_limited(api: Api) -> None:
    provider, _ = await sign_up_provider(api, verified=False)
    limit = api.settings.email_confirmation_resends_per_hour
    for _ in range(limit + 2):
        assert (await api.gql(RESEND, token=provider))["resendEmailConfirmation"] is True
    # the sign-up's own confirmation, and `limit` more
    assert await OutboxMessage.filter(kind="email.confirm_account").count() == 1 + limit


def _person() -> dict[str, str]:
    return {"firstName": "Ada", "lastName": "Byron", "email": "ada.byron@example.org"}
