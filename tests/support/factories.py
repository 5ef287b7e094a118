"""Factories over the real API: accounts, clients, imports, appointments, messages, forms."""

from __future__ import annotations

import csv
import importlib
import io
import json
import uuid
from email.message import EmailMessage
from typing import Any

from caseload.mail import make_transport
from caseload.redis import connect, make_services
from models import FormDocument, FormKind, OutboxMessage
from tests.support.api import Api
from tests.support.documents import (
    ADD_CLIENT,
    AUTH_FIELDS,
    CONFIRM,
    IMPORT_FIELDS,
    ME,
    SCHEDULE,
    SEND,
    START_IMPORT,
    VERIFY_EMAIL,
)
from tests.support.mail import link_token_of, mail_files, read_mail
from tests.support.worker import run_worker
from workers.outbox import deliver

PASSWORD = "correct-horse-battery"


async def sign_up_provider(
    api: Api, *, email: str | None = None, name: str = "Dr Who", verified: bool = True
) -> tuple[str, dict[str, Any]]:
    """A provider over HTTP; `verified` also confirms their e-mail, which adding clients needs."""
    email = email or f"provider-{uuid.uuid4().hex[:8]}@example.com"
    data = await api.gql(
        f"mutation($i: SignUpProviderInput!) {{ signUpProvider(input: $i) {{ {AUTH_FIELDS} }} }}",
        {"i": {"email": email, "password": PASSWORD, "displayName": name}},
    )
    result = data["signUpProvider"]
    assert result["__typename"] == "AuthSuccess", result
    if verified:
        await confirm_own_email(api, result["viewer"]["id"])
    return result["token"], result["viewer"]


async def confirm_own_email(api: Api, user_id: str, password: str = PASSWORD) -> None:
    """Confirm an account's own e-mail as its owner would: the sign-up confirmation is
    delivered (the real renderer and mail transport, this one message only, so no other queued
    job runs early), and its link is followed over HTTP. The session that verifyEmail opens is
    logged out again, so the account keeps exactly the sessions a test made."""
    message = (
        await OutboxMessage.filter(kind="email.confirm_account", subject_id=user_id)
        .order_by("-created_at")
        .first()
    )
    assert message is not None, "no confirmation e-mail was queued"
    redis = await connect(api.settings.redis_url or "")
    try:
        services = make_services(api.settings, redis)
        outcome = await deliver(services, make_transport(api.settings), message.id)
    finally:
        await redis.aclose()
    assert outcome == "sent", outcome
    [path] = [p for p in mail_files(api.settings) if f"-{message.id}-" in p.name]
    await follow_confirmation(api, read_mail(path), password)


async def follow_confirmation(api: Api, mail: EmailMessage, password: str = PASSWORD) -> None:
    """Open the link of a confirmation e-mail (verifyEmail), then end the session it opened."""
    verified = await api.gql(
        VERIFY_EMAIL, {"i": {"token": link_token_of(mail), "password": password}}
    )
    result = verified["verifyEmail"]
    assert result["__typename"] == "AuthSuccess", result
    assert (await api.gql("mutation { logOut }", token=result["token"]))["logOut"] is True


async def sign_up_client(api: Api, *, email: str | None = None) -> tuple[str, dict[str, Any]]:
    email = email or f"client-{uuid.uuid4().hex[:8]}@example.com"
    data = await api.gql(
        f"mutation($i: SignUpClientInput!) {{ signUpClient(input: $i) {{ {AUTH_FIELDS} }} }}",
        {"i": {"email": email, "password": PASSWORD, "firstName": "Cleo", "lastName": "Client"}},
    )
    result = data["signUpClient"]
    assert result["__typename"] == "AuthSuccess", result
    return result["token"], result["viewer"]


async def add_client(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    payload = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": f"c-{uuid.uuid4().hex[:8]}@example.org",
    }
    payload.update(fields)
    data = await api.gql(ADD_CLIENT, {"i": payload}, token)
    return data["addClient"]


async def accept_invitation(api: Api, email: str, *, password: str = PASSWORD) -> str:
    """The person at `email` opens every invitation sent there and accepts it: their token.

    A new address chooses `password`; an address with an account enters its password.
    """
    await run_worker(api.settings)
    sent = [read_mail(p) for p in mail_files(api.settings)]
    invitations = [m for m in sent if m["To"] == email and "invited" in str(m["Subject"])]
    assert invitations, f"no invitation was sent to {email}"
    token = None
    for message in invitations:
        variables = {"i": {"token": link_token_of(message), "password": password}}
        result = (await api.gql(VERIFY_EMAIL, variables))["verifyEmail"]
        if result["__typename"] == "AuthSuccess":
            token = str(result["token"])
        else:  # a link already followed, or replaced by a newer one
            assert result.get("code") == "INVALID_TOKEN", result
    assert token is not None, f"no invitation to {email} could be accepted"
    return token


async def start_import(
    api: Api,
    token: str,
    data: bytes,
    file_name: str = "clients.csv",
    **options: Any,
) -> dict[str, Any]:
    """startClientImport as a real GraphQL multipart upload."""
    variables = {"i": {"file": None, **options}}
    files: dict[str, tuple[str | None, str | bytes] | tuple[str, bytes, str]] = {
        "operations": (None, json.dumps({"query": START_IMPORT, "variables": variables})),
        "map": (None, json.dumps({"0": ["variables.i.file"]})),
        "0": (file_name, data, "application/octet-stream"),
    }
    response = await api.http.post(
        f"{api.url}/graphql",
        files=files,
        headers={"authorization": f"Bearer {token}", "apollo-require-preflight": "true"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["startClientImport"]


async def import_status(api: Api, token: str, import_id: str) -> dict[str, Any]:
    query = f"query($id: ID!) {{ clientImport(id: $id) {{ {IMPORT_FIELDS} }} }}"
    return (await api.gql(query, {"id": import_id}, token))["clientImport"]


def csv_bytes(rows: list[list[str]], header: list[str] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header or ["First Name", "Last Name", "Email", "Mobile Phone"])
    writer.writerows(rows)
    return buffer.getvalue().encode()


def many(n: int, domain: str = "example.org") -> bytes:
    """A CSV of n distinct clients (names and e-mails only)."""
    return csv_bytes([[f"First{i}", f"Last{i}", f"person{i}@{domain}", ""] for i in range(n)])


async def schedule(api: Api, token: str, client_id: str, start: str, end: str) -> dict[str, Any]:
    variables = {"i": {"clientId": client_id, "startsAt": start, "endsAt": end}}
    return (await api.gql(SCHEDULE, variables, token))["scheduleAppointment"]


async def confirm(api: Api, token: str, appointment_id: str) -> dict[str, Any]:
    return (await api.gql(CONFIRM, {"id": appointment_id}, token))["confirmAppointment"]


async def send(api: Api, token: str, body: str, **target: str) -> dict[str, Any]:
    return (await api.gql(SEND, {"i": {"body": body, **target}}, token))["sendMessage"]


async def provider_id_of(api: Api, token: str) -> str:
    return str((await api.gql(ME, token=token))["me"]["provider"]["id"])


async def client_id_of(api: Api, token: str) -> str:
    return str((await api.gql(ME, token=token))["me"]["client"]["id"])


# The forms migration 0002 installed, read from the migration itself (its data is frozen there).
DEFAULT_FORMS = importlib.import_module("models.migrations.0002_default_forms").FORMS


async def ensure_default_forms() -> None:
    """Put version 1 of the standard forms back where it is missing (the tests empty every
    table between cases), exactly as migration 0002 inserted it."""
    for id_, kind, title, body in DEFAULT_FORMS:
        if not await FormDocument.filter(kind=FormKind(kind), version=1).exists():
            await FormDocument.create(
                id=id_, kind=FormKind(kind), version=1, title=title, body=body
            )
