"""Every root field, for every role, against A's objects: the outcome matches the table below.

A root field added to the schema without rows in EXPECTED fails the test.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from models import Client, OutboxMessage
from models.accounts import User
from resolvers.accounts.authentication import create_staff
from tests.support import (
    AUTH_FIELDS,
    PASSWORD,
    Api,
    accept_invitation,
    add_client,
    our_schema,
    sign_up_client,
    sign_up_provider,
    socket_close_code,
    subscribe,
)

ROLES = (
    "anonymous",
    "provider_b",
    "verified",
    "unverified",
    "unrelated",
    "staff",
    "unconfirmed_provider",  # a provider who has not confirmed their own e-mail yet
    "provider_a",
)

RESULT = "__typename ... on MutationError { code }"
CONNECTION = "edges { node { id } }"


@dataclass
class World:
    """A's objects and a token per role (None for anonymous)."""

    tokens: dict[str, str | None] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    a_email: str = ""


Variables = Callable[[World, str], dict[str, Any]]


def _none(world: World, role: str) -> dict[str, Any]:
    return {}


def _id(key: str, name: str = "id") -> Variables:
    return lambda world, role: {name: world.ids[key]}


def _fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.org"


_slots = iter(range(1000))


def _schedule(world: World, role: str) -> dict[str, Any]:
    start = datetime(2031, 3, 3, 9, tzinfo=UTC) + timedelta(hours=next(_slots))
    return {
        "i": {
            "clientId": world.ids["verified_client"],
            "startsAt": start.isoformat(),
            "endsAt": (start + timedelta(minutes=50)).isoformat(),
        }
    }


def _message(world: World, role: str) -> dict[str, Any]:
    if role in ("verified", "unverified", "unrelated"):  # the clients write to a provider
        return {"i": {"providerId": world.ids["provider_a"], "body": "hello"}}
    return {"i": {"clientId": world.ids["verified_client"], "body": "hello"}}


QUERIES: dict[str, tuple[str, Variables]] = {
    "me": ("{ me { id } }", _none),
    "clients": (f"{{ clients {{ {CONNECTION} }} }}", _none),
    "client": ("query($id: ID!) { client(id: $id) { id } }", _id("verified_client")),
    "clientImport": ("query($id: ID!) { clientImport(id: $id) { id } }", _id("import")),
    "clientImports": (f"{{ clientImports {{ {CONNECTION} }} }}", _none),
    "appointments": (f"{{ appointments {{ {CONNECTION} }} }}", _none),
    "messageThreads": (f"{{ messageThreads {{ {CONNECTION} }} }}", _none),
    "messageThread": ("query($id: ID!) { messageThread(id: $id) { id } }", _id("thread")),
    "provider": ("query($id: ID!) { provider(id: $id) { id } }", _id("provider_a")),
    "forms": ("{ forms { id } }", _none),
    "staff": (
        f"query($id: ID!) {{ staff {{ providerClients(providerId: $id) {{ {CONNECTION} }} }} }}",
        _id("provider_a"),
    ),
}

SUBSCRIPTIONS: dict[str, tuple[str, Variables]] = {
    "clientUpdated": ("subscription { clientUpdated { id } }", _none),
    "messageReceived": (
        "subscription($id: ID) { messageReceived(threadId: $id) { id } }",
        _id("thread"),
    ),
    "clientImportProgress": (
        "subscription($id: ID!) { clientImportProgress(id: $id) { id } }",
        _id("import"),
    ),
}

# In this order, and for each field every role in ROLES order: A, who may change the
# object, goes last, so the others meet it unchanged.
MUTATIONS: dict[str, tuple[str, Variables]] = {
    "signUpProvider": (
        f"mutation($i: SignUpProviderInput!) {{ signUpProvider(input: $i) {{ {AUTH_FIELDS} }} }}",
        lambda w, r: {"i": {"email": _fresh("p"), "password": PASSWORD, "displayName": "P"}},
    ),
    "signUpClient": (
        f"mutation($i: SignUpClientInput!) {{ signUpClient(input: $i) {{ {AUTH_FIELDS} }} }}",
        lambda w, r: {
            "i": {"email": _fresh("c"), "password": PASSWORD, "firstName": "C", "lastName": "D"}
        },
    ),
    "logIn": (
        f"mutation($i: LogInInput!) {{ logIn(input: $i) {{ {AUTH_FIELDS} }} }}",
        lambda w, r: {"i": {"email": w.a_email, "password": PASSWORD}},
    ),
    "verifyEmail": (
        f"mutation($i: VerifyEmailInput!) {{ verifyEmail(input: $i) {{ {AUTH_FIELDS} }} }}",
        lambda w, r: {"i": {"token": "not-a-real-token"}},
    ),
    "requestPasswordReset": (
        "mutation($i: RequestPasswordResetInput!) { requestPasswordReset(input: $i) }",
        lambda w, r: {"i": {"email": _fresh("reset")}},
    ),
    "resetPassword": (
        f"mutation($i: ResetPasswordInput!) {{ resetPassword(input: $i) {{ {AUTH_FIELDS} }} }}",
        lambda w, r: {"i": {"token": "not-a-real-token", "password": NEW_PASSWORD}},
    ),
    "resendEmailConfirmation": ("mutation { resendEmailConfirmation }", _none),
    "addClient": (
        f"mutation($i: AddClientInput!) {{ addClient(input: $i) {{ {RESULT} }} }}",
        lambda w, r: {"i": {"firstName": "N", "lastName": "E", "email": _fresh("n")}},
    ),
    "addClients": (
        f"mutation($i: AddClientsInput!) {{ addClients(input: $i) {{ {RESULT} }} }}",
        lambda w, r: {
            "i": {"clients": [{"firstName": "N", "lastName": "E", "email": _fresh("m")}]}
        },
    ),
    "updateClient": (
        f"mutation($i: UpdateClientInput!) {{ updateClient(input: $i) {{ {RESULT} }} }}",
        lambda w, r: {"i": {"id": w.ids["unverified_client"], "preferredName": "Changed"}},
    ),
    "archiveClient": (
        f"mutation($id: ID!) {{ archiveClient(id: $id) {{ {RESULT} }} }}",
        _id("spare_client"),
    ),
    "unarchiveClient": (
        f"mutation($id: ID!) {{ unarchiveClient(id: $id) {{ {RESULT} }} }}",
        _id("spare_client"),
    ),
    "startClientImport": ("upload", _none),
    "retryClientImport": (
        f"mutation($id: ID!) {{ retryClientImport(id: $id) {{ {RESULT} }} }}",
        _id("import"),
    ),
    "retryOutboxMessage": (
        f"mutation($id: ID!) {{ retryOutboxMessage(id: $id) {{ {RESULT} }} }}",
        _id("outbox_message"),
    ),
    "cancelClientImport": (
        f"mutation($id: ID!) {{ cancelClientImport(id: $id) {{ {RESULT} }} }}",
        _id("import"),
    ),
    "scheduleAppointment": (
        f"mutation($i: ScheduleAppointmentInput!) {{ scheduleAppointment(input: $i) {{ {RESULT} }} }}",
        _schedule,
    ),
    "confirmAppointment": (
        f"mutation($id: ID!) {{ confirmAppointment(id: $id) {{ {RESULT} }} }}",
        _id("appointment"),
    ),
    "cancelAppointment": (
        f"mutation($id: ID!) {{ cancelAppointment(id: $id) {{ {RESULT} }} }}",
        _id("appointment"),
    ),
    "markThreadRead": (
        f"mutation($id: ID!) {{ markThreadRead(threadId: $id) {{ {RESULT} }} }}",
        _id("thread", "id"),
    ),
    "resendInvitation": (
        f"mutation($id: ID!) {{ resendInvitation(clientId: $id) {{ {RESULT} }} }}",
        _id("unverified_client"),
    ),
    "updateMyProfile": (
        f"mutation($i: UpdateMyProfileInput!) {{ updateMyProfile(input: $i) {{ {RESULT} }} }}",
        lambda w, r: {"i": {"preferredName": "Me"}},
    ),
    "setMyInsurance": (
        f"mutation($i: InsuranceInput!) {{ setMyInsurance(input: $i) {{ {RESULT} }} }}",
        lambda w, r: {"i": {"carrier": "C", "memberId": "M1", "dateOfBirth": "1990-01-01"}},
    ),
    "addMyBillingMethod": (
        f"mutation($i: BillingMethodInput!) {{ addMyBillingMethod(input: $i) {{ {RESULT} }} }}",
        lambda w, r: {"i": {"paymentToken": "tok_visa"}},
    ),
    "acknowledgeForms": (
        f"mutation($i: AcknowledgeFormsInput!) {{ acknowledgeForms(input: $i) {{ {RESULT} }} }}",
        lambda w, r: {"i": {"documentIds": [w.ids["form"]]}},
    ),
    # a client messaging A joins A's list: late, so it changes nothing checked before
    "sendMessage": (
        f"mutation($i: SendMessageInput!) {{ sendMessage(input: $i) {{ {RESULT} }} }}",
        _message,
    ),
    # late: it changes the role's password (after logIn) and keeps the role's own session
    "changePassword": (
        f"mutation($i: ChangePasswordInput!) {{ changePassword(input: $i) {{ {AUTH_FIELDS} }} }}",
        lambda w, r: {"i": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}},
    ),
    # last: it ends the role's session
    "logOut": ("mutation { logOut }", _none),
}

NEW_PASSWORD = "a-new-and-longer-passphrase"
ME = "{ me { provider { id } } }"
FORMS = "{ forms { id } }"
THREAD = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { ... on MessageSuccess { thread { id } } } }"
SCHEDULE = f"mutation($i: ScheduleAppointmentInput!) {{ scheduleAppointment(input: $i) {{ {RESULT} ... on AppointmentSuccess {{ appointment {{ id }} }} }} }}"
UPLOAD = f"mutation($i: StartClientImportInput!) {{ startClientImport(input: $i) {{ {RESULT} ... on StartClientImportSuccess {{ clientImport {{ id }} }} }} }}"
CSV = b"First Name,Last Name,Email\nIma,Port,ima.port@example.org\n"


async def _upload(api: Api, token: str | None) -> dict[str, Any]:
    files = {
        "operations": (None, json.dumps({"query": UPLOAD, "variables": {"i": {"file": None}}})),
        "map": (None, json.dumps({"0": ["variables.i.file"]})),
        "0": ("clients.csv", CSV, "text/csv"),
    }
    headers = {"apollo-require-preflight": "true"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await api.http.post(f"{api.url}/graphql", files=files, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _client_account(api: Api, *, verified: bool) -> tuple[str, str]:
    email = _fresh("client")
    token, viewer = await sign_up_client(api, email=email)
    if verified:
        await User.filter(id=viewer["id"]).update(email_verified_at=datetime.now(UTC))
    return token, email


async def _world(api: Api) -> World:
    world = World(a_email=_fresh("provider-a"))
    a, _ = await sign_up_provider(api, email=world.a_email)
    b, _ = await sign_up_provider(api)
    world.ids["provider_a"] = (await api.gql(ME, token=a))["me"]["provider"]["id"]
    assert (await add_client(api, b))["__typename"] == "AddClientSuccess"
    unconfirmed, _ = await sign_up_provider(api, verified=False)
    world.tokens = {
        "anonymous": None,
        "provider_a": a,
        "provider_b": b,
        "unconfirmed_provider": unconfirmed,
    }
    for role, verified in (("verified", True), ("unverified", False), ("unrelated", True)):
        token, email = await _client_account(api, verified=verified)
        world.tokens[role] = token
        if role != "unrelated":
            added = await add_client(api, a, email=email)
            assert added["__typename"] == "AddClientSuccess", added
            world.ids[f"{role}_client"] = added["client"]["id"]
        if role == "verified":
            # the person accepts A's invitation (with their password): A's entry is theirs now
            await accept_invitation(api, email)
            world.ids["verified_client"] = str((await Client.get(user__email=email)).id)
    world.ids["spare_client"] = (await add_client(api, a))["client"]["id"]
    staff_email = _fresh("staff")
    await create_staff(staff_email, PASSWORD)
    logged_in = await api.gql(
        f"mutation($i: LogInInput!) {{ logIn(input: $i) {{ {AUTH_FIELDS} }} }}",
        {"i": {"email": staff_email, "password": PASSWORD}},
    )
    world.tokens["staff"] = logged_in["logIn"]["token"]
    sent = await api.gql(THREAD, _message(world, "provider_a"), a)
    world.ids["thread"] = sent["sendMessage"]["thread"]["id"]
    scheduled = await api.gql(SCHEDULE, _schedule(world, "provider_a"), a)
    world.ids["appointment"] = scheduled["scheduleAppointment"]["appointment"]["id"]
    started = (await _upload(api, a))["data"]["startClientImport"]
    world.ids["import"] = started["clientImport"]["id"]
    outbox = await OutboxMessage.first()
    assert outbox is not None
    world.ids["outbox_message"] = str(outbox.id)
    world.ids["form"] = (await api.gql(FORMS))["forms"][0]["id"]
    return world


def _classify(body: dict[str, Any], name: str) -> str:
    """ok | null | rows:N | true/false | an error code (top-level or of the result union)."""
    value = (body.get("data") or {}).get(name)
    if value is None and body.get("errors"):
        return str(body["errors"][0].get("extensions", {}).get("code", "error"))
    assert not body.get("errors"), body
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return f"rows:{len(value)}"
    if len(value) == 1 and isinstance(nested := next(iter(value.values())), dict):
        value = nested  # the staff query object: what its one field shows
    if "edges" in value:
        return f"rows:{len(value['edges'])}"
    if "code" in value:
        return str(value["code"])
    return "ok"


async def _run(
    api: Api, world: World, name: str, document: str, variables: Variables, role: str
) -> str:
    token = world.tokens[role]
    if document == "upload":
        return _classify(await _upload(api, token), name)
    response = await api.post(document, variables(world, role), token)
    assert response.status_code == 200, (name, role, response.text)
    return _classify(response.json(), name)


async def _first_message(
    api: Api, world: World, document: str, variables: Variables, role: str
) -> str:
    """The first message of a subscription: ok, an error code, or open (nothing yet)."""
    if world.tokens[role] is None:
        # No account, no socket: connection_init is refused before any subscription.
        return "UNAUTHENTICATED" if await socket_close_code(api, {}) == 4403 else "open"
    async with subscribe(api, document, variables(world, role), world.tokens[role]) as sub:
        try:
            message = await sub.message(1.5)  # "open" means nothing came in this long
        except TimeoutError:
            return "open"
    if message["type"] == "error":
        return str(message["payload"][0].get("extensions", {}).get("code", "error"))
    assert message["type"] == "next", message
    payload = message["payload"]
    if payload.get("errors"):
        return str(payload["errors"][0].get("extensions", {}).get("code", "error"))
    return "ok"


def _schema_root_fields() -> set[str]:
    schema = our_schema()
    roots = (schema.query_type, schema.mutation_type, schema.subscription_type)
    return {name for root in roots if root for name in root.fields}


def test_the_table_covers_every_root_field() -> None:
    written = {*QUERIES, *MUTATIONS, *SUBSCRIPTIONS}
    tabled = {name for name, _ in EXPECTED}
    assert written == _schema_root_fields()
    assert tabled == _schema_root_fields()
    assert set(EXPECTED) == {(name, role) for name in tabled for role in ROLES}


async def test_every_root_field_for_every_role(api: Api) -> None:
    world = await _world(api)
    seen: dict[tuple[str, str], str] = {}
    for name, (document, variables) in QUERIES.items():
        for role in ROLES:
            seen[name, role] = await _run(api, world, name, document, variables, role)
    outcomes = await asyncio.gather(
        *(
            _first_message(api, world, document, variables, role)
            for document, variables in SUBSCRIPTIONS.values()
            for role in ROLES
        )
    )
    keys = [(name, role) for name in SUBSCRIPTIONS for role in ROLES]
    seen.update(zip(keys, outcomes, strict=True))
    for name, (document, variables) in MUTATIONS.items():
        for role in ROLES:
            seen[name, role] = await _run(api, world, name, document, variables, role)
    differences = {
        key: f"{outcome} != expected {EXPECTED.get(key)}"
        for key, outcome in seen.items()
        if EXPECTED.get(key) != outcome
    }
    assert differences == {}


# Columns in ROLES order: anonymous, provider_b, verified, unverified, unrelated, staff,
# unconfirmed_provider, provider_a. "null" is how a query answers an id the viewer may not see (exactly as an id
# that does not exist); "open" is a subscription that was accepted and waits for events;
# rows:N counts what a list shows (B has one client of its own, A three). Staff read
# clients only through the audited `staff` object; retrying a queued import or a pending
# message is INVALID_STATE, which still shows the staff member got past authorization. A
# provider who has not confirmed their own e-mail gets EMAIL_NOT_VERIFIED from everything
# that stores a client's data or mails them (add, import, message, schedule).
TABLE: dict[str, str] = {
    "me": "null ok ok ok ok ok ok ok",
    "clients": "UNAUTHENTICATED rows:1 FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN rows:0 rows:3",
    "client": "null null ok null null null null ok",
    "clientImport": "null null null null null null null ok",
    "clientImports": "UNAUTHENTICATED rows:0 FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN rows:0 rows:1",
    "appointments": "UNAUTHENTICATED rows:0 rows:1 rows:0 rows:0 FORBIDDEN rows:0 rows:1",
    "messageThreads": "UNAUTHENTICATED rows:0 rows:1 rows:0 rows:0 FORBIDDEN rows:0 rows:1",
    "messageThread": "null null ok null null null null ok",
    "provider": "ok ok ok ok ok ok ok ok",
    "forms": "rows:2 rows:2 rows:2 rows:2 rows:2 rows:2 rows:2 rows:2",
    "staff": "UNAUTHENTICATED FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN rows:3 FORBIDDEN FORBIDDEN",
    "clientUpdated": "UNAUTHENTICATED open FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN open open",
    "messageReceived": "UNAUTHENTICATED NOT_FOUND open NOT_FOUND NOT_FOUND FORBIDDEN NOT_FOUND open",
    "clientImportProgress": "UNAUTHENTICATED NOT_FOUND FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN NOT_FOUND ok",
    "signUpProvider": "ok ok ok ok ok ok ok ok",
    "signUpClient": "ok ok ok ok ok ok ok ok",
    "logIn": "ok ok ok ok ok ok ok ok",
    "requestPasswordReset": "true true true true true true true true",
    "resetPassword": "INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN",
    "resendEmailConfirmation": "false true true true true true true true",
    "verifyEmail": "INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN INVALID_TOKEN",
    "addClient": "UNAUTHENTICATED ok FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN EMAIL_NOT_VERIFIED ok",
    "addClients": "UNAUTHENTICATED ok FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN EMAIL_NOT_VERIFIED ok",
    "updateClient": "UNAUTHENTICATED NOT_FOUND FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN NOT_FOUND ok",
    "archiveClient": "UNAUTHENTICATED NOT_FOUND FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN NOT_FOUND ok",
    "unarchiveClient": "UNAUTHENTICATED NOT_FOUND FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN NOT_FOUND ok",
    "startClientImport": "UNAUTHENTICATED ok FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN EMAIL_NOT_VERIFIED ok",
    "retryClientImport": "UNAUTHENTICATED FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN INVALID_STATE FORBIDDEN FORBIDDEN",
    "retryOutboxMessage": "UNAUTHENTICATED FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN INVALID_STATE FORBIDDEN FORBIDDEN",
    "cancelClientImport": "UNAUTHENTICATED NOT_FOUND FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN NOT_FOUND ok",
    "scheduleAppointment": "UNAUTHENTICATED NOT_FOUND FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN EMAIL_NOT_VERIFIED ok",
    "confirmAppointment": "UNAUTHENTICATED NOT_FOUND FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN NOT_FOUND ONBOARDING_INCOMPLETE",
    "cancelAppointment": "UNAUTHENTICATED NOT_FOUND FORBIDDEN FORBIDDEN FORBIDDEN FORBIDDEN NOT_FOUND ok",
    "markThreadRead": "UNAUTHENTICATED NOT_FOUND ok NOT_FOUND NOT_FOUND FORBIDDEN NOT_FOUND ok",
    "resendInvitation": "UNAUTHENTICATED NOT_FOUND FORBIDDEN FORBIDDEN FORBIDDEN ok NOT_FOUND ok",
    "updateMyProfile": "UNAUTHENTICATED FORBIDDEN ok ok ok FORBIDDEN FORBIDDEN FORBIDDEN",
    "setMyInsurance": "UNAUTHENTICATED FORBIDDEN ok ok ok FORBIDDEN FORBIDDEN FORBIDDEN",
    "addMyBillingMethod": "UNAUTHENTICATED FORBIDDEN ok ok ok FORBIDDEN FORBIDDEN FORBIDDEN",
    "acknowledgeForms": "UNAUTHENTICATED FORBIDDEN ok ok ok FORBIDDEN FORBIDDEN FORBIDDEN",
    "sendMessage": "UNAUTHENTICATED NOT_FOUND ok ok ok FORBIDDEN EMAIL_NOT_VERIFIED ok",
    "changePassword": "UNAUTHENTICATED ok ok ok ok ok ok ok",
    "logOut": "false true true true true true true true",
}

EXPECTED: dict[tuple[str, str], str] = {
    (name, role): outcome
    for name, outcomes in TABLE.items()
    for role, outcome in zip(ROLES, outcomes.split(), strict=True)
}
