"""Every list query of the real schema answers the same bytes by the plan and by graphql-core.

The data comes through the API (clients added, imported, one accepted with onboarding done,
an appointment, a conversation); each document runs in-process through a schema built with
the planned executor and one without it, for the provider, the client, another provider, a
staff-less anonymous caller (permission errors) and with variables, fragments and aliases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from strawberry.types import ExecutionResult

from caseload.redis import connect, make_services
from resolvers.accounts.sessions import authenticate
from resolvers.ports import Services
from schema.context import Context
from schema.root import build_schema
from tests.support import (
    Api,
    accept_invitation,
    add_client,
    complete_onboarding,
    csv_bytes,
    run_worker,
    schedule,
    send,
    sign_up_provider,
    start_import,
)

CLIENT = """id legalFirstName legalLastName preferredName displayName email emailVerified
  mobilePhone dateOfBirth insurance { carrier memberId dateOfBirth } billingMethod { brand last4 }
  onboarding { emailVerified insuranceAdded billingAdded formsAcknowledged missingSteps complete
  invitedAt } archived archivedAt addedAt addedVia viewerCanEdit editLockedReason
  invitation { status sentAt acceptedAt } messageThread { id unreadCount } __typename"""
PAGE = "pageInfo { hasNextPage endCursor hasPreviousPage startCursor } totalCount"
DOCUMENTS: list[tuple[str, dict[str, Any]]] = [
    (f"{{ clients(first: 50) {{ edges {{ cursor node {{ {CLIENT} }} }} {PAGE} }} }}", {}),
    (
        "query($o: ClientOrder, $n: Int) { a: clients(orderBy: $o, first: $n) { edges { node "
        "{ ...C } } } b: clients(archived: true) { edges { node { id archived } } } } "
        f"fragment C on Client {{ {CLIENT} }}",
        {"o": "ADDED_DESC", "n": 2},
    ),
    (
        "{ clients(onboarding: COMPLETE) { edges { node { id onboarding { complete } } } } "
        'i: clients(onboarding: INCOMPLETE, search: "zed") { edges { node { id } } totalCount } }',
        {},
    ),
    (
        "{ clientImports(first: 5) { edges { cursor node { id fileName format status dryRun "
        "totalRows processedRows createdCount linkedCount alreadyInListCount duplicateCount "
        "errorCount warningCount ignoredColumns failureReason createdAt startedAt finishedAt "
        "invitations { requested total sent failed pending finishedAt } columnMapping "
        f"{{ field column }} }} }} {PAGE} }} }}",
        {},
    ),
    (
        "{ appointments(first: 10) { edges { cursor node { id startsAt endsAt status "
        "client { id displayName onboarding { complete } } provider { id displayName "
        f"practiceName }} }} }} {PAGE} }} }}",
        {},
    ),
    (
        "{ messageThreads(first: 10) { edges { cursor node { id lastMessageAt unreadCount "
        "client { id email } provider { id displayName } messages(first: 5) { edges { node "
        f"{{ id body sentAt senderRole readAt }} }} totalCount }} }} }} {PAGE} }} }}",
        {},
    ),
    ("{ forms { id kind version title body __typename } me { id email role } }", {}),
    (
        "query($skip: Boolean!) { clients { edges { node { id email @skip(if: $skip) "
        "... on Client { displayName } } } } }",
        {"skip": True},
    ),
]


@pytest.fixture
async def services(api: Api) -> AsyncIterator[Services]:
    redis = await connect(api.settings.redis_url or "")
    try:
        yield make_services(api.settings, redis)
    finally:
        await redis.aclose()


def answer(result: ExecutionResult) -> bytes:
    """What the HTTP view sends: data, then formatted errors, then extensions."""
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        body["extensions"] = result.extensions
    return orjson.dumps(body)


async def _people(api: Api) -> dict[str, str | None]:
    token, _ = await sign_up_provider(api)
    other, _ = await sign_up_provider(api)
    accepted = await add_client(api, token, email="zed@example.org", insurance=None)
    await add_client(api, token, email="amy@example.org")
    archived = await add_client(api, token, email="old@example.org")
    await api.gql(
        "mutation($id: ID!) { archiveClient(id: $id) { __typename } }",
        {"id": archived["client"]["id"]},
        token,
    )
    rows = [["First", "Last", "Email"], ["Ima", "Ported", "ima@example.org"], ["Bad", "", "x"]]
    await start_import(api, token, csv_bytes(rows[1:], rows[0]))
    client = await accept_invitation(api, "zed@example.org")
    await run_worker(api.settings)
    await complete_onboarding(api, client)
    client_id = accepted["client"]["id"]
    await schedule(api, token, client_id, "2031-03-10T10:00:00+00:00", "2031-03-10T11:00:00+00:00")
    await send(api, token, "Hello there", clientId=client_id)
    await send(api, client, "Hi back", providerId=(await _provider_of(api, token)))
    return {"provider": token, "client": client, "other provider": other, "anonymous": None}


async def _provider_of(api: Api, token: str) -> str:
    me = await api.gql("{ me { provider { id } } }", token=token)
    return str(me["me"]["provider"]["id"])


async def test_every_list_query_answers_the_same_bytes(api: Api, services: Services) -> None:
    people = await _people(api)
    core, planned = build_schema(api.settings, planned=False), build_schema(api.settings)
    compared = errors = 0
    seen: dict[tuple[str, int], Any] = {}
    for who, token in people.items():
        actor = await authenticate(api.settings, token) if token else None
        for index, (document, variables) in enumerate(DOCUMENTS):
            answers = []
            for schema in (core, planned):
                context = Context(services=services, actor=actor, address="127.0.0.1", token=token)
                result = await schema.execute(document, variables, context_value=context)
                answers.append(answer(result))
            assert answers[1] == answers[0], (who, document)
            seen[who, index] = orjson.loads(answers[1])
            compared += 1
            errors += b'"errors"' in answers[0]
    assert compared == len(people) * len(DOCUMENTS)
    # the provider's answers carry data; the others' are permission errors or empty pages
    assert errors >= 2 * 5
    mine = {index: seen["provider", index]["data"] for index in range(len(DOCUMENTS))}
    assert [len(mine[0]["clients"]["edges"]), mine[0]["clients"]["totalCount"]] == [3, 3]
    assert len(mine[1]["b"]["edges"]) == 1
    assert len(mine[3]["clientImports"]["edges"]) == 1
    assert len(mine[4]["appointments"]["edges"]) == 1
    assert len(mine[5]["messageThreads"]["edges"][0]["node"]["messages"]["edges"]) == 2
    assert seen["other provider", 0]["data"]["clients"]["edges"] == []
    assert seen["anonymous", 0]["data"] is None
