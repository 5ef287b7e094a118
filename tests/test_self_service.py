"""A client's own onboarding steps: profile and e-mail change, insurance, billing and forms."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from models import AuditEvent, Client, OutboxMessage, OutboxStatus, User
from resolvers.accounts.authentication import create_staff
from tests.support import (
    ACKNOWLEDGE,
    ADD_BILLING,
    PASSWORD,
    REPO,
    SET_INSURANCE,
    UPDATE_PROFILE,
    Api,
    acknowledge,
    add_billing,
    current_forms,
    link_token_of,
    mail_files,
    read_mail,
    run_worker,
    set_insurance,
    sign_up_client,
    sign_up_provider,
    verify,
)

LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { ... on AuthSuccess { token } } }"


def _links_to(api: Api, address: str) -> set[str]:
    messages = [read_mail(path) for path in mail_files(api.settings)]
    return {link_token_of(m) for m in messages if m["To"] == address}


async def test_only_the_client_may_take_their_own_steps(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    await create_staff("staff@example.com", PASSWORD)
    staff = await api.gql(LOG_IN, {"i": {"email": "staff@example.com", "password": PASSWORD}})
    calls = [
        (UPDATE_PROFILE, {"i": {"legalFirstName": "X"}}),
        (SET_INSURANCE, {"i": {"carrier": "A", "memberId": "1", "dateOfBirth": "1990-01-01"}}),
        (ADD_BILLING, {"i": {"paymentToken": "tok_visa"}}),
        (ACKNOWLEDGE, {"i": {"documentIds": [f["id"] for f in await current_forms(api)]}}),
    ]
    for query, variables in calls:
        for token, code in (
            (provider, "FORBIDDEN"),
            (staff["logIn"]["token"], "FORBIDDEN"),
            (None, "UNAUTHENTICATED"),
        ):
            result = next(iter((await api.gql(query, variables, token)).values()))
            assert result["__typename"] == "AuthError", result
            assert result["code"] == code
    assert await AuditEvent.all().count() == 0


async def test_profile_changes_at_once_and_a_new_email_only_once_confirmed(api: Api) -> None:
    token, viewer = await sign_up_client(api, email="me@example.org")
    await sign_up_client(api, email="taken@example.org")
    changes = {
        "legalFirstName": "Cleopatra",
        "preferredName": "Cleo",
        "mobilePhone": "(212) 555-0142",
        "dateOfBirth": "1990-05-17",
        "email": " New.Me@Example.org ",
    }
    result = (await api.gql(UPDATE_PROFILE, {"i": changes}, token))["updateMyProfile"]
    assert result["__typename"] == "ClientSuccess", result
    client = result["client"]
    assert client["displayName"] == "Cleo Client"
    assert client["mobilePhone"] == "+12125550142"
    assert client["dateOfBirth"] == "1990-05-17"
    assert client["email"] == "me@example.org"  # not yet
    assert (await Client.get(user_id=viewer["id"])).search_text.startswith("cleopatra client")
    [change] = await OutboxMessage.filter(kind="email.confirm_new_address").values("payload")
    assert set(change["payload"]) == {"user_id", "token_id"}  # ids only, never the address

    await run_worker(api.settings)
    [link] = _links_to(api, "new.me@example.org")
    [old_link] = _links_to(api, "me@example.org")  # the sign-up confirmation
    assert (await User.get(id=viewer["id"])).email == "me@example.org"
    done = await verify(api, link, password=None)
    assert done["__typename"] == "AuthSuccess"
    assert done["viewer"]["email"] == "new.me@example.org"
    user = await User.get(id=viewer["id"])
    assert user.email == "new.me@example.org" and user.email_verified_at is not None
    stale = await verify(api, old_link, password=None)
    assert stale["code"] == "INVALID_TOKEN"  # a link to the old address proves nothing now

    taken = (await api.gql(UPDATE_PROFILE, {"i": {"email": "taken@example.org"}}, token))[
        "updateMyProfile"
    ]
    assert taken["__typename"] == "InputError" and taken["code"] == "EMAIL_TAKEN"
    bad = (await api.gql(UPDATE_PROFILE, {"i": {"legalLastName": " ", "email": "x"}}, token))[
        "updateMyProfile"
    ]
    assert {f["field"] for f in bad["fields"]} == {"legalLastName", "email"}
    actions = await AuditEvent.filter(client_id=client["id"]).values_list("action", flat=True)
    assert sorted(actions) == [
        "client.change_email",
        "client.email_change_request",
        "client.self_update",
    ]


async def test_a_newer_address_supersedes_the_pending_one(api: Api) -> None:
    token, _ = await sign_up_client(api)
    await api.gql(UPDATE_PROFILE, {"i": {"email": "first@example.org"}}, token)
    await api.gql(UPDATE_PROFILE, {"i": {"email": "second@example.org"}}, token)
    statuses = await OutboxMessage.filter(kind="email.confirm_new_address").values_list(
        "status", flat=True
    )
    assert sorted(statuses) == [OutboxStatus.CANCELLED, OutboxStatus.PENDING]
    await run_worker(api.settings)
    assert _links_to(api, "first@example.org") == set()
    [second] = _links_to(api, "second@example.org")
    await api.gql(UPDATE_PROFILE, {"i": {"email": "third@example.org"}}, token)
    await run_worker(api.settings)
    assert (await verify(api, second))["code"] == "INVALID_TOKEN"
    [third] = _links_to(api, "third@example.org")
    assert (await verify(api, third))["viewer"]["email"] == "third@example.org"


async def test_insurance_is_checked_and_saved(api: Api) -> None:
    token, _ = await sign_up_client(api)
    bad = await set_insurance(api, token, carrier=" ", memberId="", dateOfBirth="2999-01-01")
    assert bad["__typename"] == "InputError"
    assert {f["field"] for f in bad["fields"]} == {"carrier", "memberId", "dateOfBirth"}
    good = await set_insurance(api, token)
    assert good["client"]["insurance"] == {
        "carrier": "Blue Heron Health",
        "memberId": "BHX7712345",
        "dateOfBirth": "1988-02-29",
    }
    assert good["client"]["onboarding"]["insuranceAdded"] is True


async def test_billing_goes_through_the_payment_processor(api: Api) -> None:
    token, viewer = await sign_up_client(api)
    visa = await add_billing(api, token, "tok_visa")
    assert visa["client"]["billingMethod"] == {"brand": "visa", "last4": "4242"}
    assert visa["client"]["onboarding"]["billingAdded"] is True
    client = await Client.get(user_id=viewer["id"])
    assert client.billing_processor == "test"
    assert client.billing_token and client.billing_token.startswith("pm_test_")
    assert "tok_visa" not in str(await Client.filter(id=client.id).values())

    master = await add_billing(api, token, "tok_mastercard")
    assert master["client"]["billingMethod"] == {"brand": "mastercard", "last4": "4444"}
    for payment_token, message in (
        ("tok_chargeDeclined", "was declined"),
        ("tok_nonsense", "is not a payment token the processor knows"),
        ("  ", "is required"),
    ):
        refused = await add_billing(api, token, payment_token)
        assert refused["__typename"] == "InputError" and refused["code"] == "INVALID_INPUT"
        assert refused["fields"] == [{"field": "paymentToken", "message": message}]
    kept = await Client.get(id=client.id)
    assert (kept.billing_brand, kept.billing_last4) == ("mastercard", "4444")


async def test_forms_are_acknowledged_by_current_version(api: Api) -> None:
    token, _ = await sign_up_client(api)
    forms = await current_forms(api)
    assert [(f["kind"], f["version"]) for f in forms] == [
        ("BILLING_POLICY", 1),
        ("PRIVACY_POLICY", 1),
    ]
    assert all(f["title"] and len(f["body"]) > 100 for f in forms)
    unknown = "00000000-0000-0000-0000-000000000000"
    for ids in ([unknown], ["garbage"], [], [forms[0]["id"], unknown]):
        refused = await acknowledge(api, token, ids)
        assert refused["__typename"] == "InputError", ids
        assert refused["fields"][0]["field"] == "documentIds"
    half = await acknowledge(api, token, [forms[0]["id"]])
    assert half["client"]["onboarding"]["formsAcknowledged"] is False
    both = await acknowledge(api, token)
    assert both["client"]["onboarding"]["formsAcknowledged"] is True
    again = await acknowledge(api, token)  # harmless
    assert again["client"]["onboarding"]["formsAcknowledged"] is True


async def _publish_form(api: Api, tmp_path: Path, kind: str, text: str) -> tuple[int, str]:
    path = tmp_path / "form.txt"
    path.write_text(text, encoding="utf-8")
    env = {
        **os.environ,
        "CASELOAD_DATABASE_URL": api.settings.database_url or "",
        "CASELOAD_DATA_DIR": str(api.settings.data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "caseload.cli",
        "publish-form",
        kind,
        str(path),
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, (out + err).decode()


async def test_publishing_a_form_asks_for_a_new_acknowledgement(api: Api, tmp_path: Path) -> None:
    token, _ = await sign_up_client(api)
    old = {f["kind"]: f["id"] for f in await current_forms(api)}
    await acknowledge(api, token)
    code, output = await _publish_form(
        api, tmp_path, "privacy_policy", "Privacy notice, 2025\n\nWe changed who we share with.\n"
    )
    assert code == 0, output
    assert "PRIVACY_POLICY version 2" in output
    forms = await current_forms(api)
    privacy = next(f for f in forms if f["kind"] == "PRIVACY_POLICY")
    assert privacy["version"] == 2
    assert privacy["title"] == "Privacy notice, 2025"
    assert privacy["body"] == "We changed who we share with."
    assert next(f for f in forms if f["kind"] == "BILLING_POLICY")["id"] == old["BILLING_POLICY"]

    me = await acknowledge(api, token, [old["PRIVACY_POLICY"]])  # the old version again
    assert me["client"]["onboarding"]["formsAcknowledged"] is False
    assert me["client"]["onboarding"]["missingSteps"][-1] == "ACKNOWLEDGE_FORMS"
    me = await acknowledge(api, token, [privacy["id"]])
    assert me["client"]["onboarding"]["formsAcknowledged"] is True

    code, output = await _publish_form(api, tmp_path, "BILLING_POLICY", "Only a title\n")
    assert code == 1 and "body" in output
    assert len(await current_forms(api)) == 2
