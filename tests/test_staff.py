"""The staff API: STAFF only, every read audited, and retrying failed e-mails and imports."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from models import AuditEvent, ClientImport, ImportStatus, OutboxMessage, OutboxStatus
from resolvers.accounts.authentication import create_staff
from resolvers.policies import STAFF_READ_ONLY
from tests.support import (
    AUTH_FIELDS,
    PASSWORD,
    Api,
    add_client,
    mail_files,
    read_mail,
    run_worker,
    sign_up_client,
    sign_up_provider,
    start_import,
)

LOG_IN = f"mutation($i: LogInInput!) {{ logIn(input: $i) {{ {AUTH_FIELDS} }} }}"
PROVIDERS = """query($s: String) { staff { providers(search: $s) {
  edges { cursor node { id displayName email } } pageInfo { hasNextPage endCursor } } } }"""
PROVIDER_CLIENTS = """query($p: ID!, $first: Int!, $after: String) { staff {
  providerClients(providerId: $p, first: $first, after: $after) {
    edges { cursor node { id email } } pageInfo { hasNextPage endCursor } } } }"""
IMPORTS = """query($s: ClientImportStatus) { staff { clientImports(status: $s) {
  edges { node { id status createdCount } } } } }"""
OUTBOX = """query($s: OutboxStatus) { staff { outboxMessages(status: $s) {
  edges { node { id kind status attempts lastError createdAt sentAt } } } } }"""
AUDIT = """query($a: ID, $c: ID) { staff { auditEvents(actorId: $a, clientId: $c) {
  edges { node { id actorId actorRole action clientId subjectId createdAt } } } } }"""
RETRY_OUTBOX = """mutation($id: ID!) { retryOutboxMessage(id: $id) { __typename
  ... on OutboxMessageSuccess { outboxMessage { id status attempts } }
  ... on MutationError { code message } } }"""
RETRY_IMPORT = """mutation($id: ID!) { retryClientImport(id: $id) { __typename
  ... on RetryClientImportSuccess { clientImport { id status } }
  ... on MutationError { code message } } }"""

CSV = b"First Name,Last Name,Email\nAda,Lovelace,ada@example.org\nAlan,Turing,alan@example.org\n"


async def _staff_token(api: Api) -> str:
    await create_staff("staff@example.com", PASSWORD)
    data = await api.gql(LOG_IN, {"i": {"email": "staff@example.com", "password": PASSWORD}})
    return str(data["logIn"]["token"])


async def _top_level_code(api: Api, query: str, token: str | None) -> str:
    response = await api.post(query, {}, token)
    body: dict[str, Any] = response.json()
    assert body["data"] is None, body
    return str(body["errors"][0]["extensions"]["code"])


async def test_only_staff_may_use_staff_tools(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    client, _ = await sign_up_client(api)
    query = "{ staff { providers { edges { node { id } } } } }"
    assert await _top_level_code(api, query, provider) == "FORBIDDEN"
    assert await _top_level_code(api, query, client) == "FORBIDDEN"
    assert await _top_level_code(api, query, None) == "UNAUTHENTICATED"
    missing = "00000000-0000-0000-0000-000000000000"
    for token, code in ((provider, "FORBIDDEN"), (client, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
        for mutation, field in (
            (RETRY_OUTBOX, "retryOutboxMessage"),
            (RETRY_IMPORT, "retryClientImport"),
        ):
            result = (await api.gql(mutation, {"id": missing}, token))[field]
            assert (result["__typename"], result["code"]) == ("AuthError", code)
    assert await AuditEvent.filter(action__startswith="staff.").count() == 0


async def test_staff_reads_are_audited(api: Api) -> None:
    provider, viewer = await sign_up_provider(api, name="Dr Hazel Quill")
    added = [await add_client(api, provider) for _ in range(3)]
    client_ids = {c["client"]["id"] for c in added}
    staff = await _staff_token(api)

    found = (await api.gql(PROVIDERS, {"s": "hazel"}, staff))["staff"]["providers"]["edges"]
    assert len(found) == 1
    provider_id = found[0]["node"]["id"]
    assert (await api.gql(PROVIDERS, {"s": "nobody-like-that"}, staff))["staff"]["providers"][
        "edges"
    ] == []

    first = (await api.gql(PROVIDER_CLIENTS, {"p": provider_id, "first": 2}, staff))["staff"]
    page = first["providerClients"]
    assert len(page["edges"]) == 2 and page["pageInfo"]["hasNextPage"] is True
    after = page["pageInfo"]["endCursor"]
    rest = await api.gql(PROVIDER_CLIENTS, {"p": provider_id, "first": 2, "after": after}, staff)
    edges = page["edges"] + rest["staff"]["providerClients"]["edges"]
    assert {e["node"]["id"] for e in edges} == client_ids

    await api.gql(IMPORTS, {}, staff)
    await api.gql(OUTBOX, {}, staff)
    events = (await api.gql(AUDIT, {"c": added[0]["client"]["id"]}, staff))["staff"]
    actions = [e["node"]["action"] for e in events["auditEvents"]["edges"]]
    assert "staff.client.read" in actions

    rows = await AuditEvent.filter(action__startswith="staff.").values("action", "client_id")
    by_action: dict[str, int] = {}
    for row in rows:
        by_action[row["action"]] = by_action.get(row["action"], 0) + 1
    assert by_action == {
        "staff.providers.list": 2,
        "staff.client.read": 3,
        "staff.imports.list": 1,
        "staff.outbox.list": 1,
        "staff.audit.list": 1,
    }
    read = {str(r["client_id"]) for r in rows if r["action"] == "staff.client.read"}
    assert read == client_ids
    assert all(
        r["actor_role"] == "STAFF"
        for r in await AuditEvent.filter(action__startswith="staff.").values("actor_role")
    )
    assert viewer["role"] == "PROVIDER"


async def test_retry_failed_outbox_message_is_delivered(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    await add_client(api, provider, email="retry-me@example.org")
    message = await OutboxMessage.get(kind="email.invitation")
    await OutboxMessage.filter(id=message.id).update(
        status=OutboxStatus.FAILED, attempts=12, last_error="SMTPServerDisconnected"
    )
    staff = await _staff_token(api)

    failed = (await api.gql(OUTBOX, {"s": "FAILED"}, staff))["staff"]["outboxMessages"]["edges"]
    assert [e["node"]["id"] for e in failed] == [str(message.id)]
    assert failed[0]["node"]["lastError"] == "SMTPServerDisconnected"
    assert "retry-me" not in str(failed)

    retried = (await api.gql(RETRY_OUTBOX, {"id": str(message.id)}, staff))["retryOutboxMessage"]
    assert retried["outboxMessage"] == {"id": str(message.id), "status": "PENDING", "attempts": 0}
    again = (await api.gql(RETRY_OUTBOX, {"id": str(message.id)}, staff))["retryOutboxMessage"]
    assert again["code"] == "INVALID_STATE"
    missing = (await api.gql(RETRY_OUTBOX, {"id": "garbage"}, staff))["retryOutboxMessage"]
    assert missing["code"] == "NOT_FOUND"

    await run_worker(api.settings)
    assert (await OutboxMessage.get(id=message.id)).status is OutboxStatus.SENT
    sent_to = [read_mail(path)["To"] for path in mail_files(api.settings)]
    assert sent_to.count("retry-me@example.org") == 1
    retry_audit = await AuditEvent.filter(action="staff.outbox.retry").values_list(
        "subject_id", flat=True
    )
    assert retry_audit == [message.id]


async def test_retry_failed_import_completes(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    started = await start_import(api, provider, CSV)
    import_id = started["clientImport"]["id"]
    await ClientImport.filter(id=import_id).update(
        status=ImportStatus.FAILED, failure_reason="database went away"
    )
    staff = await _staff_token(api)

    listed = (await api.gql(IMPORTS, {"s": "FAILED"}, staff))["staff"]["clientImports"]["edges"]
    assert [e["node"]["id"] for e in listed] == [import_id]

    retried = (await api.gql(RETRY_IMPORT, {"id": import_id}, staff))["retryClientImport"]
    assert retried["clientImport"] == {"id": import_id, "status": "QUEUED"}
    again = (await api.gql(RETRY_IMPORT, {"id": import_id}, staff))["retryClientImport"]
    assert again["code"] == "INVALID_STATE"

    await run_worker(api.settings)
    job = await ClientImport.get(id=import_id)
    assert (job.status, job.created_count, job.failure_reason) == (ImportStatus.COMPLETED, 2, None)
    retry_audit = await AuditEvent.filter(action="staff.import.retry").values_list(
        "subject_id", flat=True
    )
    assert retry_audit == [UUID(import_id)]


async def test_staff_sees_client_entries_read_only(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    await add_client(api, provider)
    staff = await _staff_token(api)
    query = """query($p: ID!) { staff { providerClients(providerId: $p, first: 5) {
      edges { node { viewerCanEdit editLockedReason } } } } }"""
    me = await api.gql("{ me { provider { id } } }", token=provider)
    provider_id = me["me"]["provider"]["id"]
    [edge] = (await api.gql(query, {"p": provider_id}, staff))["staff"]["providerClients"]["edges"]
    assert edge["node"] == {"viewerCanEdit": False, "editLockedReason": STAFF_READ_ONLY}
