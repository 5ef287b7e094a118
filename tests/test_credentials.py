"""The credentials policy: strong passwords, hashing off the loop, client addresses, lockouts."""

from __future__ import annotations

import asyncio
import threading
import time
from ipaddress import ip_network
from typing import Any

import pytest
from starlette.requests import Request

from caseload.graphql_view import client_address
from caseload.security import hash_password, verify_password
from resolvers.accounts.authentication import create_staff
from resolvers.errors import InvalidInput
from tests.support import (
    AUTH_FIELDS,
    PASSWORD,
    Api,
    add_client,
    link_token_of,
    mail_files,
    read_mail,
    run_worker,
    sign_up_provider,
    verify,
)

SIGN_UP_PROVIDER = (
    f"mutation($i: SignUpProviderInput!) {{ signUpProvider(input: $i) {{ {AUTH_FIELDS} }} }}"
)
SIGN_UP_CLIENT = (
    f"mutation($i: SignUpClientInput!) {{ signUpClient(input: $i) {{ {AUTH_FIELDS} }} }}"
)
LOG_IN = f"mutation($i: LogInInput!) {{ logIn(input: $i) {{ {AUTH_FIELDS} }} }}"
WEAK = ("aaaaaaaaaa", "password1234", "qwertyuiop", "1234567890")
LOOPBACK = [ip_network("127.0.0.1/32")]


async def _post(api: Api, query: str, variables: dict[str, Any], via: str | None = None) -> Any:
    """A request from 127.0.0.1, with an X-Forwarded-For header when `via` is given."""
    headers = {"x-forwarded-for": via} if via else {}
    response = await api.http.post(
        f"{api.url}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _refused_for_strength(result: dict[str, Any], password: str, field: str = "password") -> None:
    assert result["__typename"] == "InputError", result
    assert result["code"] == "INVALID_INPUT"
    [problem] = [f for f in result["fields"] if f["field"] == field]
    assert problem["message"].startswith("is too easy to guess.")
    assert len(problem["message"]) > len("is too easy to guess. ")  # zxcvbn says why
    assert password not in result["message"] and password not in problem["message"]


async def test_weak_and_common_passwords_are_refused_at_sign_up(api: Api) -> None:
    for n, password in enumerate(WEAK):
        provider = await api.gql(
            SIGN_UP_PROVIDER,
            {"i": {"email": f"p{n}@example.com", "password": password, "displayName": "Dr P"}},
        )
        _refused_for_strength(provider["signUpProvider"], password)
        assert "too easy to guess" in provider["signUpProvider"]["message"]
        client = await api.gql(
            SIGN_UP_CLIENT,
            {
                "i": {
                    "email": f"c{n}@example.com",
                    "password": password,
                    "firstName": "Cy",
                    "lastName": "Dee",
                }
            },
        )
        _refused_for_strength(client["signUpClient"], password)
    # the account's own e-mail is a known word too
    own = await api.gql(
        SIGN_UP_PROVIDER,
        {"i": {"email": "gwendolyn@example.com", "password": "gwendolyn1", "displayName": "G"}},
    )
    _refused_for_strength(own["signUpProvider"], "gwendolyn1")


async def test_weak_passwords_are_refused_when_an_invitation_sets_one(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    assert (await add_client(api, provider, email="invited@example.org"))["__typename"] == (
        "AddClientSuccess"
    )
    await run_worker(api.settings)
    mails = [read_mail(path) for path in mail_files(api.settings)]
    [mail] = [m for m in mails if m["To"] == "invited@example.org"]
    weak = await verify(api, link_token_of(mail), password="aaaaaaaaaa")
    _refused_for_strength(weak, "aaaaaaaaaa")
    assert (await verify(api, link_token_of(mail)))["__typename"] == "AuthSuccess"


async def test_weak_passwords_are_refused_for_staff(api: Api) -> None:
    with pytest.raises(InvalidInput) as refused:
        await create_staff("ops@example.org", "aaaaaaaaaa", settings=api.settings)
    assert "too easy to guess" in refused.value.message
    staff = await create_staff("ops@example.org", PASSWORD, settings=api.settings)
    assert staff.password_hash and staff.password_hash.startswith("$argon2id$")


async def test_hashing_runs_off_the_loop_with_a_bound_on_threads(api: Api) -> None:
    # production-like cost, and a pool of its own (its threads are named after the cost)
    settings = api.settings.model_copy(
        update={
            "password_hash_time_cost": 2,
            "password_hash_memory_cost": 16384,
            "password_hash_threads": 2,
        }
    )
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    hashes = await asyncio.gather(*(hash_password(settings, f"pass-{n}-word") for n in range(4)))
    took = time.perf_counter() - started
    done.set()
    await ticking
    assert all(h.startswith("$argon2id$v=19$m=16384,t=2") for h in hashes)
    assert await verify_password(settings, hashes[0], "pass-0-word")
    assert not await verify_password(settings, hashes[0], "pass-1-word")
    assert not await verify_password(settings, None, "pass-0-word")
    pool_threads = [t for t in threading.enumerate() if t.name.startswith("password-t2-m16384")]
    assert 1 <= len(pool_threads) <= 2
    # four hashes took a while; the loop kept turning between them
    assert max(gaps) < max(0.1, took / 3), (max(gaps), took)


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "client": (peer, 40000), "headers": headers})


def test_client_address_believes_forwarded_for_only_from_trusted_proxies() -> None:
    proxies = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]
    # no trusted proxies (the default): the header is ignored
    assert client_address(_request("10.1.1.1", "203.0.113.5")) == "10.1.1.1"
    # an untrusted peer cannot claim another address
    assert client_address(_request("198.51.100.2", "203.0.113.5"), proxies) == "198.51.100.2"
    # behind our proxies: the right-most hop that is not one of them
    assert client_address(_request("10.1.1.1", "203.0.113.5"), proxies) == "203.0.113.5"
    forged = "1.2.3.4, 203.0.113.5, 10.2.2.2"  # the client wrote 1.2.3.4 itself
    assert client_address(_request("10.1.1.1", forged), proxies) == "203.0.113.5"
    assert client_address(_request("10.1.1.1", "garbage, 203.0.113.5"), proxies) == "203.0.113.5"
    assert client_address(_request("10.1.1.1", "203.0.113.5, garbage"), proxies) == "10.1.1.1"
    assert client_address(_request("10.1.1.1", "10.3.3.3"), proxies) == "10.3.3.3"
    assert client_address(_request("10.1.1.1"), proxies) == "10.1.1.1"
    assert client_address(_request("fd00::1", "2001:db8::7"), proxies) == "2001:db8::7"
    assert client_address(_request("::ffff:10.1.1.1", "203.0.113.5"), proxies) == "203.0.113.5"


def _provider(n: int | str) -> dict[str, Any]:
    return {"i": {"email": f"signup-{n}@example.com", "password": PASSWORD, "displayName": "D"}}


async def test_forwarded_for_from_an_untrusted_peer_changes_no_limit(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.settings, "signup_max_per_hour", 2)
    # the test talks to uvicorn from loopback, which uvicorn itself must not trust either
    for n in range(2):
        ok = await _post(api, SIGN_UP_PROVIDER, _provider(n), via=f"203.0.113.{n + 1}")
        assert ok["signUpProvider"]["__typename"] == "AuthSuccess"
    limited = await _post(api, SIGN_UP_PROVIDER, _provider(2), via="203.0.113.99")
    assert limited["signUpProvider"]["code"] == "RATE_LIMITED"

    monkeypatch.setattr(api.settings, "trusted_proxies", LOOPBACK)
    for n in range(3, 5):
        ok = await _post(api, SIGN_UP_PROVIDER, _provider(n), via="203.0.113.50")
        assert ok["signUpProvider"]["__typename"] == "AuthSuccess"
    # a forged left-hand hop does not buy a fresh limit: the right-most untrusted hop counts
    forged = await _post(api, SIGN_UP_PROVIDER, _provider(5), via="192.0.2.1, 203.0.113.50")
    assert forged["signUpProvider"]["code"] == "RATE_LIMITED"
    other = await _post(api, SIGN_UP_PROVIDER, _provider(6), via="203.0.113.51")
    assert other["signUpProvider"]["__typename"] == "AuthSuccess"


async def _log_in(api: Api, email: str, password: str, via: str | None = None) -> dict[str, Any]:
    variables = {"i": {"email": email, "password": password}}
    return dict((await _post(api, LOG_IN, variables, via=via))["logIn"])


async def test_a_stranger_cannot_lock_the_owner_out_from_another_address(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.settings, "trusted_proxies", LOOPBACK)
    email = "target@example.com"
    await sign_up_provider(api, email=email, verified=False)
    for _ in range(api.settings.login_max_failures):
        wrong = await _log_in(api, email, "guess-guess-guess", via="203.0.113.66")
        assert wrong["code"] == "INVALID_CREDENTIALS"
    locked = await _log_in(api, email, PASSWORD, via="203.0.113.66")
    assert locked["code"] == "RATE_LIMITED" and "reset your password" in locked["message"]
    owner = await _log_in(api, email, PASSWORD, via="198.51.100.7")
    assert owner["__typename"] == "AuthSuccess"


async def test_many_addresses_together_meet_the_account_wide_limit(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.settings, "trusted_proxies", LOOPBACK)
    monkeypatch.setattr(api.settings, "login_max_failures_per_account", 8)
    email = "hunted@example.com"
    await sign_up_provider(api, email=email, verified=False)
    for n in range(8):
        wrong = await _log_in(api, email, "guess-guess-guess", via=f"203.0.113.{n + 1}")
        assert wrong["code"] == "INVALID_CREDENTIALS"
    everywhere = await _log_in(api, email, PASSWORD, via="198.51.100.7")
    assert everywhere["code"] == "RATE_LIMITED"


async def test_failures_on_some_accounts_lock_no_other_behind_one_proxy(api: Api) -> None:
    # every request comes from 127.0.0.1, like everyone behind one untrusted proxy
    await sign_up_provider(api, email="bystander@example.com", verified=False)
    for n in range(12):  # 60 failures from one address, on twelve accounts
        for _ in range(api.settings.login_max_failures):
            wrong = await _log_in(api, f"victim{n}@example.com", "guess-guess-guess")
            assert wrong["code"] == "INVALID_CREDENTIALS"
    assert (await _log_in(api, "bystander@example.com", PASSWORD))["__typename"] == ("AuthSuccess")
