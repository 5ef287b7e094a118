"""Sign-up, log-in, me and log-out over real HTTP against the running app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models import Session, User
from tests.support import (
    AUTH_FIELDS,
    PASSWORD,
    Api,
    link_token_of,
    mail_files,
    read_mail,
    run_worker,
    sign_up_provider,
)

ME = "{ me { id email role provider { displayName practiceName } } }"
LOG_IN = f"mutation($i: LogInInput!) {{ logIn(input: $i) {{ {AUTH_FIELDS} }} }}"
SIGN_UP = f"mutation($i: SignUpProviderInput!) {{ signUpProvider(input: $i) {{ {AUTH_FIELDS} }} }}"


async def test_sign_up_log_in_me_log_out(api: Api) -> None:
    token, viewer = await sign_up_provider(api, email=" Dr.Ana@Example.COM ", name="Dr Ana")
    assert viewer["email"] == "dr.ana@example.com"
    assert viewer["role"] == "PROVIDER"
    me = (await api.gql(ME, token=token))["me"]
    assert me["provider"] == {"displayName": "Dr Ana", "practiceName": None}

    logged = (await api.gql(LOG_IN, {"i": {"email": "DR.ANA@example.com", "password": PASSWORD}}))[
        "logIn"
    ]
    assert logged["__typename"] == "AuthSuccess"
    second = logged["token"]
    assert second != token
    assert (await api.gql(ME, token=second))["me"]["id"] == viewer["id"]

    assert (await api.gql("mutation { logOut }", token=second))["logOut"] is True
    assert await _refused(api, second)
    # the first session is unaffected
    assert (await api.gql(ME, token=token))["me"]["id"] == viewer["id"]


async def test_passwords_are_hashed_and_tokens_are_stored_hashed(api: Api) -> None:
    token, viewer = await sign_up_provider(api, verified=False)
    user = await User.get(id=viewer["id"])
    assert user.password_hash and user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash
    session = await Session.get(user_id=user.id)
    assert session.token_hash != token and len(session.token_hash) == 64


async def test_short_password_and_bad_email_are_input_errors(api: Api) -> None:
    result = (
        await api.gql(SIGN_UP, {"i": {"email": "nope", "password": "short", "displayName": " "}})
    )["signUpProvider"]
    assert result["__typename"] == "InputError"
    assert result["code"] == "INVALID_INPUT"
    assert {f["field"] for f in result["fields"]} == {"email", "password", "displayName"}
    password_problem = next(f for f in result["fields"] if f["field"] == "password")
    assert "10 characters" in password_problem["message"]


async def test_email_taken(api: Api) -> None:
    await sign_up_provider(api, email="taken@example.com")
    again = (
        await api.gql(
            SIGN_UP,
            {"i": {"email": "Taken@example.com", "password": PASSWORD, "displayName": "X"}},
        )
    )["signUpProvider"]
    assert again["__typename"] == "InputError"
    assert again["code"] == "EMAIL_TAKEN"


async def test_wrong_password_then_throttled(api: Api) -> None:
    await sign_up_provider(api, email="locked@example.com")
    for _ in range(api.settings.login_max_failures):
        wrong = (
            await api.gql(LOG_IN, {"i": {"email": "locked@example.com", "password": "x" * 12}})
        )["logIn"]
        assert wrong["code"] == "INVALID_CREDENTIALS"
    blocked = (await api.gql(LOG_IN, {"i": {"email": "locked@example.com", "password": PASSWORD}}))[
        "logIn"
    ]
    assert blocked["__typename"] == "AuthError"
    assert blocked["code"] == "RATE_LIMITED"
    unknown = (await api.gql(LOG_IN, {"i": {"email": "nobody@example.com", "password": PASSWORD}}))[
        "logIn"
    ]
    assert unknown["code"] == "INVALID_CREDENTIALS"


async def _refused(api: Api, token: str) -> bool:
    """An ended session's token is UNAUTHENTICATED (HTTP 401), never an anonymous request."""
    response = await api.post(ME, token=token)
    code = response.json()["errors"][0]["extensions"]["code"]
    return response.status_code == 401 and code == "UNAUTHENTICATED"


async def test_expired_and_idle_sessions_are_refused(api: Api) -> None:
    token, viewer = await sign_up_provider(api)
    past = datetime.now(UTC) - timedelta(seconds=1)
    await Session.filter(user_id=viewer["id"]).update(expires_at=past)
    assert await _refused(api, token)

    token, viewer = await sign_up_provider(api)
    idle = datetime.now(UTC) - timedelta(seconds=api.settings.session_idle_seconds + 1)
    await Session.filter(user_id=viewer["id"]).update(last_seen_at=idle)
    assert await _refused(api, token)


async def test_sign_up_sends_confirmation_through_the_outbox(api: Api) -> None:
    _token, viewer = await sign_up_provider(
        api, email="confirm@example.com", name="Dr Secret", verified=False
    )
    await run_worker(api.settings)
    files = mail_files(api.settings)
    assert len(files) == 1
    message = read_mail(files[0])
    assert message["To"] == "confirm@example.com"
    assert "Dr Secret" not in message.get_content()
    link_token = link_token_of(message)
    verify = f"mutation($i: VerifyEmailInput!) {{ verifyEmail(input: $i) {{ {AUTH_FIELDS} }} }}"
    result = (await api.gql(verify, {"i": {"token": link_token}}))["verifyEmail"]
    assert result["__typename"] == "AuthSuccess"
    user = await User.get(id=viewer["id"])
    assert user.email_verified_at is not None
    again = (await api.gql(verify, {"i": {"token": link_token}}))["verifyEmail"]
    assert again["code"] == "INVALID_TOKEN"
