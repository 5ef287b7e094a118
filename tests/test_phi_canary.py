"""PHI canary: a full flow with canary data, then no log line, Redis entry, URL or e-mail holds it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from tests.support import (
    AUTH_FIELDS,
    PASSWORD,
    Api,
    acknowledge,
    add_billing,
    add_client,
    client_id_of,
    confirm,
    confirm_own_email,
    link_token_of,
    mail_files,
    provider_id_of,
    read_mail,
    record_outcome,
    run_worker,
    schedule,
    send,
    set_insurance,
    start_import,
    verify,
)

PROVIDER_NAME = "Dr Zzcanaryprovider"
PROVIDER_EMAIL = "canary.provider@canary-mail.example"
PERSON = {
    "firstName": "Zzcanaryfirst",
    "lastName": "Zzcanarylast",
    "preferredName": "Zzcanarypref",
    "email": "canary.person@canary-mail.example",
    "mobilePhone": "+1 212 555 0142",
}
INSURANCE = {
    "carrier": "Canarycarrier Mutual",
    "memberId": "CANARYMEMBER123",
    "dateOfBirth": "1913-03-17",
}
IMPORTED_EMAIL = "canary.imported@canary-mail.example"
IMPORT_CSV = (
    "First Name,Last Name,Email,Mobile Phone\r\n"
    f"Zzcanaryimpfirst,Zzcanaryimplast,{IMPORTED_EMAIL},(212) 555-0143\r\n"
    "Zzcanarybadfirst,Zzcanarybadlast,canary.not-an-address,212 555 0144\r\n"
).encode()
MESSAGE_TO_CLIENT = "Zzcanarymessage to the client"
MESSAGE_TO_PROVIDER = "Zzcanarymessage to the provider"

# Lower-cased needles; each PHI value above contains at least one of them.
CANARIES = [
    "zzcanary",
    "canary-mail",
    "canary.person",
    "canary.provider",
    "canary.imported",
    "canary.not-an-address",
    "canarycarrier",
    "canarymember",
    "1913-03-17",
    "03/17/1913",
    # phones as typed and in E.164
    "212 555 014",
    "555-014",
    "555 014",
    "+1212555014",
    "212555014",
    "555014",
]


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [canary for canary in CANARIES if canary in lowered]


@contextmanager
def sql_loggers_off() -> Iterator[None]:
    """Tortoise (and aiosqlite under it) log SQL with bound values at DEBUG by design; the
    app's own logging set-up (`caseload/logs.py`) turns them to WARNING, and so does this test.
    Every other logger stays at DEBUG and is searched."""
    loggers = [logging.getLogger(name) for name in ("tortoise", "aiosqlite")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


async def _full_flow(api: Api) -> None:
    signed_up = await api.gql(
        f"mutation($i: SignUpProviderInput!) {{ signUpProvider(input: $i) {{ {AUTH_FIELDS} }} }}",
        {
            "i": {
                "email": PROVIDER_EMAIL,
                "password": PASSWORD,
                "displayName": PROVIDER_NAME,
                "practiceName": "Zzcanary Practice",
            }
        },
    )
    assert signed_up["signUpProvider"]["__typename"] == "AuthSuccess"
    provider = signed_up["signUpProvider"]["token"]
    # the provider confirms their own e-mail (its mail and link are searched like the rest)
    await confirm_own_email(api, signed_up["signUpProvider"]["viewer"]["id"])

    added = await add_client(api, provider, **PERSON)
    assert added["__typename"] == "AddClientSuccess", added
    client_id = added["client"]["id"]
    assert added["client"]["mobilePhone"] == "+12125550142"

    started = await start_import(api, provider, IMPORT_CSV)
    assert started["__typename"] == "StartClientImportSuccess", started
    await run_worker(api.settings)
    imported = (
        await api.gql(
            "query($id: ID!) { clientImport(id: $id) { status createdCount errorCount } }",
            {"id": started["clientImport"]["id"]},
            provider,
        )
    )["clientImport"]
    assert imported == {"status": "COMPLETED", "createdCount": 1, "errorCount": 1}

    [invitation] = [
        read_mail(path)
        for path in mail_files(api.settings)
        if read_mail(path)["To"] == PERSON["email"]
    ]
    session = await verify(api, link_token_of(invitation))
    assert session["__typename"] == "AuthSuccess", session
    client = session["token"]
    for step in (
        await set_insurance(api, client, **INSURANCE),
        await add_billing(api, client, "tok_visa"),
        await acknowledge(api, client),
    ):
        assert step["__typename"] == "ClientSuccess", step
    assert await client_id_of(api, client) == client_id

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    scheduled = await schedule(
        api, provider, client_id, start.isoformat(), (start + timedelta(hours=1)).isoformat()
    )
    assert scheduled["__typename"] == "AppointmentSuccess", scheduled
    confirmed = await confirm(api, provider, scheduled["appointment"]["id"])
    assert confirmed["__typename"] == "AppointmentSuccess", confirmed

    sent = await send(api, provider, MESSAGE_TO_CLIENT, clientId=client_id)
    assert sent["__typename"] == "MessageSuccess", sent
    provider_id = await provider_id_of(api, provider)
    reply = await send(api, client, MESSAGE_TO_PROVIDER, providerId=provider_id)
    assert reply["__typename"] == "MessageSuccess", reply

    await run_worker(api.settings)


async def _redis_dump(url: str) -> list[tuple[str, str]]:
    """Every key of the test Redis and its value(s), bytes read as latin-1 (arq pickles)."""
    redis = aioredis.from_url(url)
    entries: list[tuple[str, str]] = []
    try:
        async for raw_key in redis.scan_iter(count=500):
            key = raw_key.decode("latin-1")
            kind = (await redis.type(raw_key)).decode()
            parts: list[bytes]
            if kind == "string":
                parts = [await redis.get(raw_key) or b""]
            elif kind == "hash":
                parts = [b for pair in (await redis.hgetall(raw_key)).items() for b in pair]
            elif kind == "list":
                parts = await redis.lrange(raw_key, 0, -1)
            elif kind == "set":
                parts = list(await redis.smembers(raw_key))
            elif kind == "zset":
                parts = [
                    member for member, _ in await redis.zrange(raw_key, 0, -1, withscores=True)
                ]
            else:
                raise AssertionError(f"unexpected Redis type {kind} for {key}")
            entries.append((key, "\n".join(p.decode("latin-1") for p in parts)))
    finally:
        await redis.aclose()
    return entries


async def test_canaries_reach_no_log_redis_url_or_email(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with sql_loggers_off():
        await _full_flow(api)

    records = caplog.records
    # The capture is live: the in-process server, worker and HTTP client all logged.
    assert {"arq.worker", "httpx"} <= {record.name for record in records}
    logged = [
        (record.name, record.getMessage())
        for record in records
        if leaks(record.getMessage()) or (record.exc_text and leaks(record.exc_text))
    ]
    assert logged == []

    entries = await _redis_dump(api.settings.redis_url or "")
    assert any(key.startswith("arq:") for key, _ in entries), [key for key, _ in entries]
    in_redis = [(key, leaks(key + "\n" + value)) for key, value in entries]
    assert [(key, found) for key, found in in_redis if found] == []

    messages = [read_mail(path) for path in mail_files(api.settings)]
    recipients = sorted(str(message["To"]) for message in messages)
    # confirmation, two invitations, the message nudge to the client (and any to the provider)
    assert {PROVIDER_EMAIL, PERSON["email"], IMPORTED_EMAIL} <= set(recipients), recipients
    for message in messages:
        body = message.get_content()
        assert isinstance(body, str)
        urls = re.findall(r"https?://[^\s<>\"']+", body)
        assert urls, (message["Subject"], "no link")
        for url in urls:
            assert leaks(url) == [], url
            query = url.partition("?")[2]
            assert all(p.startswith("token=") for p in query.split("&") if p), url
        text = f"{message['From']}\n{message['Subject']}\n{body}"
        assert leaks(text) == [], (message["Subject"], leaks(text))
    searched = len(records) + len(entries) + len(messages)
    hits = len(logged) + sum(1 for _, found in in_redis if found)
    record_outcome(
        "PHI canary",
        f"canary names, e-mails, phones, DOB, insurance and messages through sign-up, add, "
        f"import, onboarding, appointments and messaging → searched {len(records)} log records, "
        f"{len(entries)} Redis entries, {len(messages)} e-mails and their links: {hits} hits",
        unit="PHI leaks",
        expected=searched,
        found=searched - hits,
    )
