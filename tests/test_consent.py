"""Consent, not look-up: the security review's attacks, replayed over HTTP, now learn nothing.

A provider's entry and a person's own profile are separate until the person accepts the entry
(opening its invitation, with their password if they have an account, or writing to the
provider). These tests replay each finding of the review and check the rules that close it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from models import AuditEvent, Client, ClientImport, ProviderClient, Session, User
from resolvers.accounts.authentication import create_staff
from tests.support import (
    AUTH_FIELDS,
    CLIENT,
    CLIENT_FIELDS,
    PASSWORD,
    Api,
    accept_invitation,
    add_billing,
    add_client,
    import_status,
    link_token_of,
    mail_files,
    read_mail,
    run_worker,
    set_insurance,
    sign_up_client,
    sign_up_provider,
    start_import,
    verify,
)

UPDATE = f"""
mutation($i: UpdateClientInput!) {{ updateClient(input: $i) {{
  __typename
  ... on ClientSuccess {{ client {{ {CLIENT_FIELDS} }} }}
  ... on MutationError {{ code message }}
}} }}
"""
LOG_IN = f"mutation($i: LogInInput!) {{ logIn(input: $i) {{ {AUTH_FIELDS} }} }}"
ME = "{ me { email role client { id legalFirstName mobilePhone insurance { memberId } } } }"
THREADS = "{ messageThreads(first: 10) { edges { node { id } } } }"
APPOINTMENTS = "{ appointments(first: 10) { edges { node { id } } } }"
LIST = f"{{ clients(first: 50) {{ totalCount edges {{ node {{ {CLIENT_FIELDS} }} }} }} }}"
INVITATION = "query($id: ID!) { client(id: $id) { invitation { status sentAt acceptedAt } } }"
SEND = """
mutation($i: SendMessageInput!) { sendMessage(input: $i) {
  __typename ... on MessageSuccess { thread { id } } ... on MutationError { code message }
} }
"""
SCHEDULE = """
mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) {
  __typename ... on AppointmentSuccess { appointment { id } }
} }
"""
STAFF_CLIENTS = """
query($id: ID!) { staff { providerClients(providerId: $id) {
  edges { node { id viewerCanEdit editLockedReason } } } } }
"""


def _invitation_links(api: Api, address: str) -> list[str]:
    sent = [read_mail(p) for p in mail_files(api.settings)]
    return [link_token_of(m) for m in sent if m["To"] == address and "invited" in m["Subject"]]


async def _victim(api: Api) -> tuple[str, str]:
    """A client with a password who verified her e-mail and entered her own details."""
    token, viewer = await sign_up_client(api, email="victim@example.org")
    await User.filter(id=viewer["id"]).update(email_verified_at=datetime.now(UTC))
    await set_insurance(api, token, memberId="VICTIM-123")
    await add_billing(api, token)
    return token, viewer["id"]


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    """An addClient answer without what differs by nature: the id and the typed names."""
    client = {k: v for k, v in answer["client"].items() if k not in ("id", "addedAt")}
    for key in ("legalFirstName", "legalLastName", "displayName", "email"):
        client.pop(key)
    return {**answer, "client": client}


async def test_typing_an_existing_address_answers_exactly_like_a_fresh_one(api: Api) -> None:
    await _victim(api)
    provider, _ = await sign_up_provider(api)
    existing = await add_client(
        api, provider, firstName="Vic", lastName="Tim", email="victim@example.org"
    )
    fresh = await add_client(api, provider, firstName="New", lastName="Person")
    assert existing["__typename"] == fresh["__typename"] == "AddClientSuccess"
    assert _comparable(existing) == _comparable(fresh)
    seen = existing["client"]
    assert seen["legalFirstName"] == "Vic"  # what the provider typed, nothing of hers
    assert seen["insurance"] is None and seen["billingMethod"] is None
    assert seen["mobilePhone"] is None and seen["emailVerified"] is False
    assert existing["linkedExistingAccount"] is False
    # her own profile stayed hers and as it was
    own = await Client.get(user__email="victim@example.org")
    assert own.insurance_member_id == "VICTIM-123"
    assert not await ProviderClient.filter(client_id=own.id).exists()


async def test_the_account_takeover_fails(api: Api) -> None:
    victim_token, victim_id = await _victim(api)
    provider_a, _ = await sign_up_provider(api)
    await add_client(api, provider_a, email="victim@example.org")
    await accept_invitation(api, "victim@example.org")
    a_client_id = str((await Client.get(user_id=victim_id)).id)
    sent = await api.gql(SEND, {"i": {"clientId": a_client_id, "body": "private"}}, provider_a)
    assert sent["sendMessage"]["__typename"] == "MessageSuccess"

    # the attacker, a provider, adds her address and re-addresses it to their own mailbox
    attacker, _ = await sign_up_provider(api)
    added = await add_client(api, attacker, email="victim@example.org")
    entry_id = added["client"]["id"]
    moved = (
        await api.gql(UPDATE, {"i": {"id": entry_id, "email": "attacker@example.net"}}, attacker)
    )["updateClient"]
    assert moved["__typename"] == "ClientSuccess"
    victim = await User.get(id=victim_id)
    assert victim.email == "victim@example.org"  # the login e-mail never moves

    await run_worker(api.settings)
    [link] = _invitation_links(api, "attacker@example.net")
    opened = await verify(api, link)
    assert opened["__typename"] == "AuthSuccess"
    assert opened["viewer"]["email"] == "attacker@example.net"  # a new account, not hers
    assert opened["viewer"]["id"] != victim_id
    me = (await api.gql(ME, token=opened["token"]))["me"]
    assert me["client"]["insurance"] is None
    assert (await api.gql(THREADS, token=opened["token"]))["messageThreads"]["edges"] == []
    assert (await api.gql(APPOINTMENTS, token=opened["token"]))["appointments"]["edges"] == []
    seen = (await api.gql(CLIENT, {"id": a_client_id}, opened["token"]))["client"]
    assert seen is None

    # the victim keeps her account, her password and her session
    logged = await api.gql(LOG_IN, {"i": {"email": "victim@example.org", "password": PASSWORD}})
    assert logged["logIn"]["__typename"] == "AuthSuccess"
    mine = (await api.gql(ME, token=victim_token))["me"]
    assert mine["email"] == "victim@example.org"
    assert mine["client"]["insurance"] == {"memberId": "VICTIM-123"}


async def test_an_invitation_into_an_existing_account_needs_its_password(api: Api) -> None:
    _, victim_id = await _victim(api)
    provider, _ = await sign_up_provider(api)
    entry_id = (await add_client(api, provider, email="victim@example.org"))["client"]["id"]
    await run_worker(api.settings)
    [link] = _invitation_links(api, "victim@example.org")

    for wrong in (None, "not-her-password-at-all"):
        refused = await verify(api, link, password=wrong)
        assert refused["__typename"] == "AuthError", refused
        assert refused["code"] == "INVALID_CREDENTIALS"
    assert (await ProviderClient.get(client_id=entry_id)).accepted_at is None  # unchanged
    assert await Session.filter(user_id=victim_id).count() == 1  # no session was opened

    accepted = await verify(api, link)
    assert accepted["__typename"] == "AuthSuccess"
    assert accepted["viewer"]["id"] == victim_id
    [node] = (await api.gql(LIST, token=provider))["clients"]["edges"]
    client = node["node"]
    own = await Client.get(user_id=victim_id)
    assert client["id"] == str(own.id)  # the person's own profile now
    assert client["insurance"]["memberId"] == "VICTIM-123"
    assert client["emailVerified"] is True
    assert client["viewerCanEdit"] is False
    assert client["editLockedReason"] and "only they" in client["editLockedReason"]
    locked = await api.gql(UPDATE, {"i": {"id": client["id"], "legalFirstName": "X"}}, provider)
    assert locked["updateClient"]["code"] == "CLIENT_MANAGES_OWN_INFO"
    assert not await Client.filter(id=entry_id).exists()  # the entry's copy is gone
    again = await verify(api, link)
    assert again["code"] == "INVALID_TOKEN"


async def test_a_new_address_accepts_by_choosing_a_password(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    added = await add_client(api, provider, firstName="Nia", email="nia@example.org")
    entry_id = added["client"]["id"]
    status = (await api.gql(INVITATION, {"id": entry_id}, provider))["client"]["invitation"]
    assert status == {"status": "PENDING", "sentAt": None, "acceptedAt": None}
    await run_worker(api.settings)
    status = (await api.gql(INVITATION, {"id": entry_id}, provider))["client"]["invitation"]
    assert status["status"] == "SENT" and status["sentAt"] is not None
    token = await accept_invitation(api, "nia@example.org")
    me = (await api.gql(ME, token=token))["me"]
    assert me["client"]["id"] == entry_id  # the provider's id stays the same
    assert me["client"]["legalFirstName"] == "Nia"  # what was entered becomes theirs
    status = (await api.gql(INVITATION, {"id": entry_id}, provider))["client"]["invitation"]
    assert status["status"] == "ACCEPTED" and status["acceptedAt"] is not None


async def test_an_email_edit_readdresses_the_entrys_invitation(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    entry_id = (await add_client(api, provider, email="first@example.org"))["client"]["id"]
    await run_worker(api.settings)
    [old] = _invitation_links(api, "first@example.org")
    changed = (
        await api.gql(UPDATE, {"i": {"id": entry_id, "email": "second@example.org"}}, provider)
    )["updateClient"]
    assert changed["client"]["email"] == "second@example.org"
    await run_worker(api.settings)
    assert (await verify(api, old))["code"] == "INVALID_TOKEN"
    [new] = _invitation_links(api, "second@example.org")
    assert (await verify(api, new))["__typename"] == "AuthSuccess"
    assert not await User.filter(email="first@example.org").exists()


async def test_a_person_who_writes_accepts_the_providers_entry_at_once(api: Api) -> None:
    client_token, viewer = await sign_up_client(api, email="writer@example.org")
    provider, _ = await sign_up_provider(api)
    entry_id = (await add_client(api, provider, email="writer@example.org"))["client"]["id"]
    when = {"startsAt": "2030-01-01T09:00:00Z", "endsAt": "2030-01-01T10:00:00Z"}
    scheduled = await api.gql(SCHEDULE, {"i": {"clientId": entry_id, **when}}, provider)
    assert scheduled["scheduleAppointment"]["__typename"] == "AppointmentSuccess"
    assert (await api.gql(APPOINTMENTS, token=client_token))["appointments"]["edges"] == []

    provider_id = (await api.gql("{ me { provider { id } } }", token=provider))["me"]
    written = await api.gql(
        SEND, {"i": {"providerId": provider_id["provider"]["id"], "body": "hi"}}, client_token
    )
    assert written["sendMessage"]["__typename"] == "MessageSuccess"
    [node] = (await api.gql(LIST, token=provider))["clients"]["edges"]
    own = await Client.get(user_id=viewer["id"])
    assert node["node"]["id"] == str(own.id) and node["node"]["addedVia"] == "MANUAL"
    assert node["node"]["emailVerified"] is True
    # what the provider had with the entry moved to the person
    assert len((await api.gql(APPOINTMENTS, token=client_token))["appointments"]["edges"]) == 1
    assert await ProviderClient.all().count() == 1


async def test_imports_of_existing_addresses_link_nothing(api: Api) -> None:
    await _victim(api)
    provider, _ = await sign_up_provider(api)
    data = b"First Name,Last Name,Email\r\nVic,Tim,victim@example.org\r\nNo,Body,nobody@example.org\r\n"
    for options in ({"dryRun": True}, {"sendInvitations": False}):
        started = await start_import(api, provider, data, **options)
        await run_worker(api.settings)
        job = await import_status(api, provider, started["clientImport"]["id"])
        assert job["status"] == "COMPLETED"
        assert (job["createdCount"], job["linkedCount"]) == (2, 0), options
    own = await Client.get(user__email="victim@example.org")
    assert not await ProviderClient.filter(client_id=own.id).exists()
    assert await ClientImport.filter(linked_count__gt=0).count() == 0


async def test_list_reads_are_audited_one_event_per_client(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    ids = [(await add_client(api, provider))["client"]["id"] for _ in range(3)]
    before = await AuditEvent.filter(action="client.list").count()
    listed = (await api.gql(LIST, token=provider))["clients"]
    assert listed["totalCount"] == 3
    events = await AuditEvent.filter(action="client.list").values_list("client_id", flat=True)
    assert before == 0 and sorted(map(str, events)) == sorted(ids)


async def test_staff_may_read_but_never_edit(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    await add_client(api, provider)
    provider_id = (await api.gql("{ me { provider { id } } }", token=provider))["me"]["provider"]
    await create_staff("auditor@example.com", PASSWORD)
    staff = await api.gql(LOG_IN, {"i": {"email": "auditor@example.com", "password": PASSWORD}})
    data = await api.gql(STAFF_CLIENTS, {"id": provider_id["id"]}, staff["logIn"]["token"])
    [edge] = data["staff"]["providerClients"]["edges"]
    assert edge["node"]["viewerCanEdit"] is False
    assert "read-only" in edge["node"]["editLockedReason"]


async def test_conversation_and_appointment_pages_are_audited(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    entry_id = (await add_client(api, provider))["client"]["id"]
    when = {"startsAt": "2030-01-01T09:00:00Z", "endsAt": "2030-01-01T10:00:00Z"}
    await api.gql(SCHEDULE, {"i": {"clientId": entry_id, **when}}, provider)
    await api.gql(SEND, {"i": {"clientId": entry_id, "body": "hello"}}, provider)
    assert len((await api.gql(THREADS, token=provider))["messageThreads"]["edges"]) == 1
    assert len((await api.gql(APPOINTMENTS, token=provider))["appointments"]["edges"]) == 1
    for action in ("messages.list", "appointments.list"):
        events = await AuditEvent.filter(action=action).values_list("client_id", flat=True)
        assert [str(e) for e in events] == [entry_id], action
