"""Password reset by e-mail link and password change, over real HTTP with a real worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from models import OutboxMessage, Session, User, VerificationPurpose, VerificationToken
from tests.support import (
    AUTH_FIELDS,
    PASSWORD,
    VERIFY_EMAIL,
    Api,
    link_token_of,
    mail_files,
    read_mail,
    run_worker,
    sign_up_provider,
)

REQUEST = "mutation($i: RequestPasswordResetInput!) { requestPasswordReset(input: $i) }"
RESET = f"mutation($i: ResetPasswordInput!) {{ resetPassword(input: $i) {{ {AUTH_FIELDS} }} }}"
CHANGE = f"mutation($i: ChangePasswordInput!) {{ changePassword(input: $i) {{ {AUTH_FIELDS} }} }}"
LOG_IN = f"mutation($i: LogInInput!) {{ logIn(input: $i) {{ {AUTH_FIELDS} }} }}"
ME = "{ me { id } }"
NEW_PASSWORD = "violet-lantern-orbit-42"


async def _log_in(api: Api, email: str, password: str) -> dict[str, Any]:
    return (await api.gql(LOG_IN, {"i": {"email": email, "password": password}}))["logIn"]


async def _request(api: Api, email: str) -> Any:
    response = await api.post(REQUEST, {"i": {"email": email}})
    assert response.status_code == 200, response.text
    return response.json()


async def _reset(api: Api, token: str, password: str = NEW_PASSWORD) -> dict[str, Any]:
    return (await api.gql(RESET, {"i": {"token": token, "password": password}}))["resetPassword"]


async def _reset_mails(api: Api, address: str) -> list[EmailMessage]:
    await run_worker(api.settings)
    mails = [read_mail(path) for path in mail_files(api.settings)]
    return [m for m in mails if m["To"] == address and "password" in str(m["Subject"]).lower()]


async def _reset_link(api: Api, address: str) -> str:
    """Ask for a reset and return the link of the one new reset e-mail."""
    before = {link_token_of(m) for m in await _reset_mails(api, address)}
    assert await _request(api, address) == {"data": {"requestPasswordReset": True}}
    [link] = {link_token_of(m) for m in await _reset_mails(api, address)} - before
    return link


async def _rejected(api: Api, token: str) -> bool:
    """The bearer token no longer identifies anyone (anonymous, or refused outright)."""
    response = await api.post(ME, token=token)
    body = response.json()
    if body.get("errors"):
        return str(body["errors"][0].get("extensions", {}).get("code")) == "UNAUTHENTICATED"
    return bool(body["data"]["me"] is None)


async def test_a_reset_link_works_once_and_ends_every_session(api: Api) -> None:
    email = "forgetful@example.com"
    first, viewer = await sign_up_provider(api, email=email, name="Dr Forgetful")
    second = (await _log_in(api, email, PASSWORD))["token"]
    link = await _reset_link(api, email)

    reset = await _reset(api, link)
    assert reset["__typename"] == "AuthSuccess", reset
    assert reset["viewer"]["id"] == viewer["id"]
    # every earlier session ends: an HTTP request with its bearer token is nobody's now
    assert await _rejected(api, first) and await _rejected(api, second)
    assert await Session.filter(user_id=viewer["id"], revoked_at=None).count() == 1
    assert (await api.gql(ME, token=reset["token"]))["me"]["id"] == viewer["id"]
    assert (await _log_in(api, email, PASSWORD))["code"] == "INVALID_CREDENTIALS"
    assert (await _log_in(api, email, NEW_PASSWORD))["__typename"] == "AuthSuccess"

    again = await _reset(api, link, "another-fine-passphrase")
    assert again["__typename"] == "AuthError" and again["code"] == "INVALID_TOKEN"
    assert (await _log_in(api, email, NEW_PASSWORD))["__typename"] == "AuthSuccess"


async def test_an_expired_link_is_refused_and_a_reset_link_is_no_verify_link(api: Api) -> None:
    email = "late@example.com"
    await sign_up_provider(api, email=email, verified=False)
    link = await _reset_link(api, email)
    record = await VerificationToken.get(purpose=VerificationPurpose.RESET_PASSWORD)
    lifetime = record.expires_at - record.created_at
    assert abs(lifetime.total_seconds() - api.settings.password_reset_ttl_seconds) < 5

    # spending it on verifyEmail (no password needed there) neither logs in nor verifies
    as_verify = (await api.gql(VERIFY_EMAIL, {"i": {"token": link}}))["verifyEmail"]
    assert as_verify["code"] == "INVALID_TOKEN"
    assert (await User.get(email=email)).email_verified_at is None

    await VerificationToken.filter(id=record.id).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    expired = await _reset(api, link)
    assert expired["__typename"] == "AuthError" and expired["code"] == "INVALID_TOKEN"
    assert "Ask for a new one" in expired["message"]
    assert (await _log_in(api, email, PASSWORD))["__typename"] == "AuthSuccess"

    # a newer link makes the older unused one stop working
    older = await _reset_link(api, email)
    newer = await _reset_link(api, email)
    assert (await _reset(api, older))["code"] == "INVALID_TOKEN"
    assert (await _reset(api, newer))["__typename"] == "AuthSuccess"


async def test_unknown_and_known_addresses_get_the_same_answer(api: Api) -> None:
    await sign_up_provider(api, email="known@example.com", verified=False)
    before = await OutboxMessage.filter(kind="email.password_reset").count()
    unknown = await _request(api, "nobody-here@example.com")
    known = await _request(api, "Known@Example.com")
    assert unknown == known == {"data": {"requestPasswordReset": True}}
    assert await OutboxMessage.filter(kind="email.password_reset").count() == before + 1
    assert await _reset_mails(api, "nobody-here@example.com") == []
    assert len(await _reset_mails(api, "known@example.com")) == 1


async def test_requests_are_rate_limited_per_address_asked_for(api: Api) -> None:
    await sign_up_provider(api, email="popular@example.com", verified=False)
    limit = api.settings.password_reset_max_per_email_per_hour
    for _ in range(limit + 3):
        assert await _request(api, "popular@example.com") == {
            "data": {"requestPasswordReset": True}
        }
    assert await OutboxMessage.filter(kind="email.password_reset").count() == limit


async def test_the_reset_mail_carries_a_link_only(api: Api) -> None:
    email = "dr.private@example.com"
    await sign_up_provider(api, email=email, name="Dr Hypatia Quill")
    await _request(api, email)
    [mail] = await _reset_mails(api, email)
    text = f"{mail['Subject']}\n{mail.get_content()}".lower()
    assert f"{api.settings.public_url}/reset-password?token=" in mail.get_content()
    assert "expires in 1 hour" in text
    for secret in ("hypatia", "quill", "dr.private", "@example.com"):
        assert secret not in text


async def test_a_weak_new_password_is_refused_and_the_link_still_works(api: Api) -> None:
    email = "weak@example.com"
    await sign_up_provider(api, email=email, verified=False)
    link = await _reset_link(api, email)
    weak = await _reset(api, link, "aaaaaaaaaa")
    assert weak["__typename"] == "InputError" and weak["code"] == "INVALID_INPUT"
    assert weak["fields"][0]["field"] == "password"
    assert "too easy to guess" in weak["message"] and "Repeats" in weak["message"]
    assert "aaaaaaaaaa" not in weak["message"]
    assert (await _reset(api, link))["__typename"] == "AuthSuccess"


async def test_a_reset_clears_the_failed_log_in_lockout(api: Api) -> None:
    email = "locked-out@example.com"
    await sign_up_provider(api, email=email, verified=False)
    for _ in range(api.settings.login_max_failures):
        assert (await _log_in(api, email, "not-my-password-1"))["code"] == "INVALID_CREDENTIALS"
    locked = await _log_in(api, email, PASSWORD)
    assert locked["code"] == "RATE_LIMITED"
    assert "reset your password" in locked["message"]

    reset = await _reset(api, await _reset_link(api, email))
    assert reset["__typename"] == "AuthSuccess"
    assert (await _log_in(api, email, NEW_PASSWORD))["__typename"] == "AuthSuccess"


async def test_change_keeps_the_current_session_and_ends_the_others(api: Api) -> None:
    email = "changer@example.com"
    current, viewer = await sign_up_provider(api, email=email)
    other = (await _log_in(api, email, PASSWORD))["token"]

    def change(old: str, new: str) -> dict[str, Any]:
        return {"i": {"currentPassword": old, "newPassword": new}}

    anonymous = (await api.gql(CHANGE, change(PASSWORD, NEW_PASSWORD)))["changePassword"]
    assert anonymous["code"] == "UNAUTHENTICATED"
    wrong = (await api.gql(CHANGE, change("not-the-password", NEW_PASSWORD), current))[
        "changePassword"
    ]
    assert wrong["__typename"] == "AuthError" and wrong["code"] == "INVALID_CREDENTIALS"
    weak = (await api.gql(CHANGE, change(PASSWORD, "password123"), current))["changePassword"]
    assert weak["__typename"] == "InputError"
    assert [f["field"] for f in weak["fields"]] == ["newPassword"]
    assert not await _rejected(api, other)  # refused changes end nothing

    changed = (await api.gql(CHANGE, change(PASSWORD, NEW_PASSWORD), current))["changePassword"]
    assert changed["__typename"] == "AuthSuccess", changed
    assert changed["token"] == current
    assert (await api.gql(ME, token=current))["me"]["id"] == viewer["id"]
    assert await _rejected(api, other)
    assert (await _log_in(api, email, PASSWORD))["code"] == "INVALID_CREDENTIALS"
    assert (await _log_in(api, email, NEW_PASSWORD))["__typename"] == "AuthSuccess"


async def test_wrong_current_passwords_count_as_failed_log_ins(api: Api) -> None:
    email = "guessed@example.com"
    token, _ = await sign_up_provider(api, email=email, verified=False)
    variables = {"i": {"currentPassword": "a-wrong-guess", "newPassword": NEW_PASSWORD}}
    for _ in range(api.settings.login_max_failures):
        result = (await api.gql(CHANGE, variables, token))["changePassword"]
        assert result["code"] == "INVALID_CREDENTIALS"
    variables["i"]["currentPassword"] = PASSWORD
    assert (await api.gql(CHANGE, variables, token))["changePassword"]["code"] == "RATE_LIMITED"
