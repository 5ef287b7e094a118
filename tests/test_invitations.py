"""Invitation e-mails, following their link with verifyEmail, and resending them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from models import (
    AuditEvent,
    Client,
    OutboxMessage,
    OutboxStatus,
    ProviderClient,
    User,
    VerificationToken,
)
from resolvers.accounts.authentication import create_staff
from tests.support import (
    AUTH_FIELDS,
    PASSWORD,
    RESEND,
    Api,
    add_client,
    link_token_of,
    mail_files,
    read_mail,
    run_worker,
    sign_up_client,
    sign_up_provider,
    verify,
)

LOG_IN = f"mutation($i: LogInInput!) {{ logIn(input: $i) {{ {AUTH_FIELDS} }} }}"
ME = "{ me { role client { id emailVerified onboarding { emailVerified missingSteps } } } }"


def _mail_to(api: Api, address: str) -> list[str]:
    """The text of every e-mail sent to `address` (in no particular order)."""
    messages = [read_mail(path) for path in mail_files(api.settings)]
    return [m.get_content() for m in messages if m["To"] == address]


def _links_to(api: Api, address: str) -> set[str]:
    messages = [read_mail(path) for path in mail_files(api.settings)]
    return {link_token_of(m) for m in messages if m["To"] == address}


async def _invite(api: Api, provider: str, email: str, **fields: object) -> str:
    added = await add_client(api, provider, email=email, **fields)
    assert added["__typename"] == "AddClientSuccess", added
    return str(added["client"]["id"])


async def test_invitation_is_a_link_and_stamps_invited_at(api: Api) -> None:
    provider, _ = await sign_up_provider(api, name="Dr Marigold Finch")
    client_id = await _invite(
        api,
        provider,
        "wren@example.org",
        firstName="Wren",
        lastName="Halloway",
        mobilePhone="212 555 0187",
        insurance={"carrier": "Aetna", "memberId": "QX81723", "dateOfBirth": "1991-03-04"},
    )
    assert (await Client.get(id=client_id)).invited_at is None  # not sent yet
    await run_worker(api.settings)
    [text] = _mail_to(api, "wren@example.org")
    assert f"{api.settings.public_url}/verify?token=" in text
    assert "7 days" in text
    # the link itself is left out: its port and random token may contain "555" by chance
    prose = re.sub(r"\S+/verify\?token=\S+", "<link>", text)
    for secret in ("Wren", "Halloway", "555", "0187", "Aetna", "QX81723", "Marigold", "Finch"):
        assert secret not in prose
    client = await Client.get(id=client_id)
    assert client.invited_at is not None
    assert datetime.now(UTC) - client.invited_at < timedelta(minutes=1)
    message = await OutboxMessage.get(kind="email.invitation")
    assert message.status is OutboxStatus.SENT
    entry = await ProviderClient.get(email="wren@example.org")
    assert message.payload == {"record_id": str(entry.id)}  # ids only


async def test_invited_client_sets_a_password_by_verifying(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    await _invite(api, provider, "newbie@example.org")
    await run_worker(api.settings)
    [link] = _links_to(api, "newbie@example.org")

    missing = await verify(api, link, password=None)
    assert missing["__typename"] == "InputError"
    assert [f["field"] for f in missing["fields"]] == ["password"]
    short = await verify(api, link, password="short")
    assert short["__typename"] == "InputError"
    assert not await User.filter(email="newbie@example.org").exists()  # nothing changed

    done = await verify(api, link)
    assert done["__typename"] == "AuthSuccess"
    assert done["viewer"]["role"] == "CLIENT"
    me = (await api.gql(ME, token=done["token"]))["me"]
    assert me["client"]["emailVerified"] is True
    assert me["client"]["onboarding"]["missingSteps"] == [
        "ADD_INSURANCE",
        "ADD_BILLING",
        "ACKNOWLEDGE_FORMS",
    ]
    logged = await api.gql(LOG_IN, {"i": {"email": "newbie@example.org", "password": PASSWORD}})
    assert logged["logIn"]["__typename"] == "AuthSuccess"

    used = await verify(api, link)
    assert used["__typename"] == "AuthError" and used["code"] == "INVALID_TOKEN"
    for garbled in ("", "x" * 43, link[:-1], link + "A", "../../etc/passwd"):
        result = await verify(api, garbled)
        assert result["__typename"] == "AuthError" and result["code"] == "INVALID_TOKEN"


async def test_an_expired_link_is_refused(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    await _invite(api, provider, "late@example.org")
    await run_worker(api.settings)
    [link] = _links_to(api, "late@example.org")
    token = await VerificationToken.get(
        record__email="late@example.org", used_at=None, revoked_at=None
    )
    assert token.expires_at - datetime.now(UTC) > timedelta(days=6, hours=23)
    await VerificationToken.filter(id=token.id).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    expired = await verify(api, link)
    assert expired["__typename"] == "AuthError" and expired["code"] == "INVALID_TOKEN"
    assert "expired" in expired["message"]
    assert not await User.filter(email="late@example.org").exists()  # nothing changed


async def test_resend_issues_a_fresh_link_and_voids_the_old_one(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    client_id = await _invite(api, provider, "again@example.org")
    await run_worker(api.settings)
    [first] = _links_to(api, "again@example.org")

    resent = (await api.gql(RESEND, {"id": client_id}, provider))["resendInvitation"]
    assert resent["__typename"] == "ClientSuccess"
    assert resent["client"]["id"] == client_id
    # two quick clicks make one e-mail, not two
    await api.gql(RESEND, {"id": client_id}, provider)
    statuses = await OutboxMessage.filter(kind="email.invitation").values_list("status", flat=True)
    assert sorted(statuses) == ["CANCELLED", "PENDING", "SENT"]
    await run_worker(api.settings)
    [second] = _links_to(api, "again@example.org") - {first}

    old = await verify(api, first)
    assert old["__typename"] == "AuthError" and old["code"] == "INVALID_TOKEN"
    assert (await verify(api, second))["__typename"] == "AuthSuccess"

    verified = (await api.gql(RESEND, {"id": client_id}, provider))["resendInvitation"]
    assert verified["__typename"] == "InvalidStateError"
    assert verified["code"] == "INVALID_STATE"
    assert "already verified" in verified["message"]


async def test_who_may_resend(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    other, _ = await sign_up_provider(api)
    client_id = await _invite(api, provider, "who@example.org")
    client_token, _ = await sign_up_client(api)

    def code_of(data: dict[str, Any]) -> str:
        return str(data["resendInvitation"].get("code"))

    assert code_of(await api.gql(RESEND, {"id": client_id}, other)) == "NOT_FOUND"
    assert code_of(await api.gql(RESEND, {"id": "garbage"}, other)) == "NOT_FOUND"
    assert code_of(await api.gql(RESEND, {"id": client_id}, client_token)) == "FORBIDDEN"
    assert code_of(await api.gql(RESEND, {"id": client_id})) == "UNAUTHENTICATED"

    await create_staff("staff@example.com", PASSWORD)
    staff = await api.gql(LOG_IN, {"i": {"email": "staff@example.com", "password": PASSWORD}})
    staff_token = staff["logIn"]["token"]
    by_staff = (await api.gql(RESEND, {"id": client_id}, staff_token))["resendInvitation"]
    assert by_staff["__typename"] == "ClientSuccess"  # staff may, for any provider's entry
    missing = "00000000-0000-0000-0000-000000000000"
    assert code_of(await api.gql(RESEND, {"id": missing}, staff_token)) == "NOT_FOUND"
    audit = await AuditEvent.filter(action="client.invitation_resend").values(
        "actor_role", "client_id"
    )
    assert audit == [{"actor_role": "STAFF", "client_id": UUID(client_id)}]


async def test_resending_is_rate_limited(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    client_id = await _invite(api, provider, "spam@example.org")
    codes = [
        (await api.gql(RESEND, {"id": client_id}, provider))["resendInvitation"]["__typename"]
        for _ in range(6)
    ]
    assert codes == ["ClientSuccess"] * 5 + ["AuthError"]
    limited = (await api.gql(RESEND, {"id": client_id}, provider))["resendInvitation"]
    assert limited["code"] == "RATE_LIMITED"
