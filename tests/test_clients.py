"""The Clients tab: add one or many, list, search, filters, order, pagination, edits, archive."""

from __future__ import annotations

from datetime import UTC, datetime

from models import AuditEvent, Client, OutboxMessage, ProviderClient, User
from tests.support import (
    ADD_CLIENT,
    CLIENT_FIELDS,
    Api,
    accept_invitation,
    add_client,
    count_queries,
    sign_up_client,
    sign_up_provider,
)

LIST = f"""
query($first: Int, $after: String, $search: String, $archived: Boolean,
      $onboarding: OnboardingFilter, $order: ClientOrder) {{
  clients(first: $first, after: $after, search: $search, archived: $archived,
          onboarding: $onboarding, orderBy: $order) {{
    totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ {CLIENT_FIELDS} }} }}
  }}
}}
"""

UPDATE = f"""
mutation($i: UpdateClientInput!) {{ updateClient(input: $i) {{
  __typename
  ... on ClientSuccess {{ client {{ {CLIENT_FIELDS} }} }}
  ... on MutationError {{ code message }}
  ... on InputError {{ fields {{ field message }} }}
}} }}
"""

ARCHIVE = """
mutation($id: ID!) { archiveClient(id: $id) { __typename ... on ClientSuccess { client { id archived archivedAt } } ... on MutationError { code } } }
"""
UNARCHIVE = ARCHIVE.replace("archiveClient", "unarchiveClient")


async def _names(api: Api, token: str, **variables: object) -> list[str]:
    data = await api.gql(LIST, dict(variables), token)
    return [edge["node"]["displayName"] for edge in data["clients"]["edges"]]


async def test_add_client_normalizes_and_queues_an_invitation(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    result = await add_client(
        api,
        token,
        firstName="  Zoë ",
        lastName="Nguyen",
        email=" Zoe.Nguyen@Example.ORG ",
        mobilePhone="(462) 555-1931",
        preferredName="Z",
        insurance={"carrier": "Aetna", "memberId": "W 123 456", "dateOfBirth": "1990-04-01"},
    )
    assert result["__typename"] == "AddClientSuccess"
    client = result["client"]
    assert client["legalFirstName"] == "Zoë"
    assert client["email"] == "zoe.nguyen@example.org"
    assert client["mobilePhone"] == "+14625551931"
    assert client["displayName"] == "Z Nguyen"
    assert client["insurance"] == {
        "carrier": "Aetna",
        "memberId": "W123456",
        "dateOfBirth": "1990-04-01",
    }
    # until the person accepts, nothing of onboarding counts, whatever the provider entered
    assert client["onboarding"]["insuranceAdded"] is False
    assert client["onboarding"]["missingSteps"] == [
        "VERIFY_EMAIL",
        "ADD_INSURANCE",
        "ADD_BILLING",
        "ACKNOWLEDGE_FORMS",
    ]
    assert client["addedVia"] == "MANUAL"
    assert client["viewerCanEdit"] is True and client["editLockedReason"] is None
    assert result["alreadyInList"] is False and result["linkedExistingAccount"] is False
    outbox = await OutboxMessage.filter(kind="email.invitation").values("payload")
    assert len(outbox) == 1
    entry = await ProviderClient.get(email="zoe.nguyen@example.org")
    assert outbox[0]["payload"] == {"record_id": str(entry.id)}
    assert not await User.filter(email="zoe.nguyen@example.org").exists()  # no account made


async def test_field_errors_come_back_one_per_field(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    result = (
        await api.gql(
            ADD_CLIENT,
            {"i": {"firstName": "", "lastName": "X", "email": "not-an-email", "mobilePhone": "12"}},
            token,
        )
    )["addClient"]
    assert result["__typename"] == "InputError"
    assert {f["field"] for f in result["fields"]} == {"firstName", "email", "mobilePhone"}
    assert await Client.all().count() == 0


async def test_same_email_twice_is_already_in_list(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    first = await add_client(api, token, email="dup@example.org")
    second = await add_client(api, token, email="DUP@example.org", firstName="Other")
    assert second["alreadyInList"] is True
    assert second["client"]["id"] == first["client"]["id"]
    assert second["client"]["legalFirstName"] == "Ada"
    assert await ProviderClient.all().count() == 1
    assert await OutboxMessage.filter(kind="email.invitation").count() == 1


async def test_an_address_on_another_list_makes_a_separate_entry(api: Api) -> None:
    token_a, _ = await sign_up_provider(api)
    token_b, _ = await sign_up_provider(api)
    a = await add_client(api, token_a, email="shared@example.org", firstName="Sam")
    b = await add_client(
        api, token_b, email="shared@example.org", firstName="Samuel", mobilePhone="212 555 0100"
    )
    assert b["linkedExistingAccount"] is False and b["alreadyInList"] is False
    assert b["client"]["id"] != a["client"]["id"]
    assert b["client"]["legalFirstName"] == "Samuel"  # what B entered, never A's entries
    assert b["client"]["mobilePhone"] == "+12125550100"
    assert a["client"]["mobilePhone"] is None  # and A's entry is untouched
    assert not await User.filter(email="shared@example.org").exists()
    assert await OutboxMessage.filter(kind="email.invitation").count() == 2


async def test_a_self_signed_up_client_is_neither_revealed_nor_touched(api: Api) -> None:
    _, viewer = await sign_up_client(api, email="self@example.org")
    await User.filter(id=viewer["id"]).update(email_verified_at=datetime.now(UTC))
    token, _ = await sign_up_provider(api)
    result = await add_client(
        api, token, email="self@example.org", firstName="Wrong", mobilePhone="212 555 0100"
    )
    assert result["linkedExistingAccount"] is False
    assert result["client"]["legalFirstName"] == "Wrong"  # the provider's own entry
    assert result["client"]["mobilePhone"] == "+12125550100"
    assert result["client"]["emailVerified"] is False
    assert result["client"]["viewerCanEdit"] is True
    own = await Client.get(user_id=viewer["id"])
    assert (own.legal_first_name, own.mobile_phone) == ("Cleo", None)


async def test_add_clients_in_order_with_per_item_results(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    query = """
    mutation($i: AddClientsInput!) { addClients(input: $i) { __typename
      ... on AddClientsSuccess { results { __typename
        ... on AddClientSuccess { alreadyInList client { email } }
        ... on InputError { code fields { field } } } }
      ... on MutationError { code message } } }
    """
    items = [
        {"firstName": "A", "lastName": "One", "email": "one@example.org"},
        {"firstName": "B", "lastName": "Two", "email": "bad"},
        {"firstName": "C", "lastName": "Three", "email": "one@example.org"},
    ]
    results = (await api.gql(query, {"i": {"clients": items}}, token))["addClients"]["results"]
    assert [r["__typename"] for r in results] == [
        "AddClientSuccess",
        "InputError",
        "AddClientSuccess",
    ]
    assert results[1]["fields"] == [{"field": "email"}]
    assert results[2]["alreadyInList"] is True
    too_many = [
        {"firstName": "A", "lastName": "B", "email": f"x{i}@example.org"} for i in range(101)
    ]
    refused = (await api.gql(query, {"i": {"clients": too_many}}, token))["addClients"]
    assert refused["__typename"] == "InputError"
    assert await Client.all().count() == 1


async def test_providers_never_see_each_others_clients(api: Api) -> None:
    token_a, _ = await sign_up_provider(api)
    token_b, _ = await sign_up_provider(api)
    mine = await add_client(api, token_a, firstName="Private")
    client_id = mine["client"]["id"]
    assert await _names(api, token_b) == []
    query = f"query($id: ID!) {{ client(id: $id) {{ {CLIENT_FIELDS} }} }}"
    assert (await api.gql(query, {"id": client_id}, token_b))["client"] is None
    assert (await api.gql(query, {"id": "00000000-0000-0000-0000-000000000000"}, token_b))[
        "client"
    ] is None
    assert (await api.gql(query, {"id": "garbage"}, token_b))["client"] is None
    assert (await api.gql(query, {"id": client_id}, token_a))["client"][
        "legalFirstName"
    ] == "Private"
    for mutation in (ARCHIVE, UNARCHIVE):
        result = await api.gql(mutation, {"id": client_id}, token_b)
        assert next(iter(result.values()))["code"] == "NOT_FOUND"
    update = await api.gql(UPDATE, {"i": {"id": client_id, "legalFirstName": "Hacked"}}, token_b)
    assert update["updateClient"]["code"] == "NOT_FOUND"
    assert (await Client.get(id=client_id)).legal_first_name == "Private"


async def test_anonymous_and_clients_cannot_use_the_list(api: Api) -> None:
    response = await api.post(LIST)
    assert response.status_code == 200
    assert "errors" in response.json() or response.json()["data"] is None
    client_token, _ = await sign_up_client(api)
    denied = await add_client(api, client_token)
    assert denied["__typename"] == "AuthError" and denied["code"] == "FORBIDDEN"
    anonymous = await add_client(api, "")
    assert anonymous["code"] == "UNAUTHENTICATED"


async def test_search_is_case_and_accent_insensitive(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    await add_client(api, token, firstName="Zoë", lastName="Kowalski", email="zk@example.org")
    await add_client(api, token, firstName="José", lastName="Brown", email="jb@example.org")
    await add_client(api, token, firstName="Liam", lastName="García", email="lg@clinic.net")
    assert await _names(api, token, search="zoe") == ["Zoë Kowalski"]
    assert await _names(api, token, search="GARCIA") == ["Liam García"]
    assert await _names(api, token, search="clinic.net") == ["Liam García"]
    assert await _names(api, token, search="jose brown") == ["José Brown"]
    assert await _names(api, token, search="nobody") == []


async def test_order_and_pagination_survive_inserts(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    for last in ["Delta", "Alpha", "Echo", "Charlie", "Bravo"]:
        await add_client(api, token, firstName="X", lastName=last, email=f"{last}@example.org")
    assert await _names(api, token) == ["X Alpha", "X Bravo", "X Charlie", "X Delta", "X Echo"]
    assert await _names(api, token, order="NAME_DESC") == [
        "X Echo",
        "X Delta",
        "X Charlie",
        "X Bravo",
        "X Alpha",
    ]
    assert await _names(api, token, order="ADDED_DESC") == [
        "X Bravo",
        "X Charlie",
        "X Echo",
        "X Alpha",
        "X Delta",
    ]
    assert await _names(api, token, order="ADDED_ASC") == [
        "X Delta",
        "X Alpha",
        "X Echo",
        "X Charlie",
        "X Bravo",
    ]

    page1 = (await api.gql(LIST, {"first": 2}, token))["clients"]
    assert page1["totalCount"] == 5 and page1["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["legalLastName"] for e in page1["edges"]] == ["Alpha", "Bravo"]
    # a client added before the page already read must not shift the next page
    await add_client(api, token, firstName="X", lastName="Aardvark", email="aa@example.org")
    page2 = (await api.gql(LIST, {"first": 2, "after": page1["pageInfo"]["endCursor"]}, token))[
        "clients"
    ]
    assert [e["node"]["legalLastName"] for e in page2["edges"]] == ["Charlie", "Delta"]
    page3 = (await api.gql(LIST, {"first": 2, "after": page2["pageInfo"]["endCursor"]}, token))[
        "clients"
    ]
    assert [e["node"]["legalLastName"] for e in page3["edges"]] == ["Echo"]
    assert page3["pageInfo"]["hasNextPage"] is False
    capped = (await api.gql(LIST, {"first": 1000}, token))["clients"]
    assert len(capped["edges"]) == 6
    bad = await api.post(LIST, {"after": "not-a-cursor"}, token)
    assert bad.json()["errors"][0]["message"] != "Unexpected error."


async def test_archive_toggle_keeps_everything(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    keep = await add_client(api, token, lastName="Keep", email="keep@example.org")
    gone = await add_client(api, token, lastName="Gone", email="gone@example.org")
    gone_id = gone["client"]["id"]
    archived = (await api.gql(ARCHIVE, {"id": gone_id}, token))["archiveClient"]
    assert archived["client"]["archived"] is True
    again = (await api.gql(ARCHIVE, {"id": gone_id}, token))["archiveClient"]
    assert again["client"]["archivedAt"] == archived["client"]["archivedAt"]
    assert await _names(api, token) == ["Ada Keep"]
    assert await _names(api, token, archived=True) == ["Ada Gone"]
    assert await Client.all().count() == 2
    await api.gql(UNARCHIVE, {"id": gone_id}, token)
    assert await _names(api, token) == ["Ada Gone", "Ada Keep"]
    assert keep["client"]["archived"] is False


async def test_edit_only_while_unverified(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    added = await add_client(api, token, email="edit@example.org")
    client_id = added["client"]["id"]
    changed = (
        await api.gql(
            UPDATE,
            {
                "i": {
                    "id": client_id,
                    "legalFirstName": "Augusta",
                    "preferredName": "Gus",
                    "mobilePhone": "+1 212 555 0123",
                    "dateOfBirth": "1985-12-10",
                    "insurance": {
                        "carrier": "Cigna",
                        "memberId": "C1",
                        "dateOfBirth": "1985-12-10",
                    },
                }
            },
            token,
        )
    )["updateClient"]
    assert changed["__typename"] == "ClientSuccess"
    assert changed["client"]["displayName"] == "Gus Lovelace"
    assert changed["client"]["mobilePhone"] == "+12125550123"
    assert changed["client"]["insurance"]["carrier"] == "Cigna"
    assert await _names(api, token, search="augusta") == ["Gus Lovelace"]

    await accept_invitation(api, "edit@example.org")
    locked = (await api.gql(UPDATE, {"i": {"id": client_id, "legalFirstName": "Nope"}}, token))[
        "updateClient"
    ]
    assert locked["__typename"] == "EditLockedError"
    assert locked["code"] == "CLIENT_MANAGES_OWN_INFO"
    assert (await Client.get(id=client_id)).legal_first_name == "Augusta"
    query = "query($id: ID!) { client(id: $id) { viewerCanEdit editLockedReason } }"
    seen = (await api.gql(query, {"id": client_id}, token))["client"]
    assert seen["viewerCanEdit"] is False
    assert "verified" in seen["editLockedReason"]


async def test_changing_email_replaces_the_invitation(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    added = await add_client(api, token, email="old@example.org")
    result = (
        await api.gql(
            UPDATE, {"i": {"id": added["client"]["id"], "email": "New@Example.org"}}, token
        )
    )["updateClient"]
    assert result["client"]["email"] == "new@example.org"
    statuses = sorted(
        await OutboxMessage.filter(kind="email.invitation").values_list("status", flat=True)
    )
    assert statuses == ["CANCELLED", "PENDING"]
    other = await add_client(api, token, email="other@example.org")
    taken = (
        await api.gql(
            UPDATE, {"i": {"id": other["client"]["id"], "email": "new@example.org"}}, token
        )
    )["updateClient"]
    assert taken["__typename"] == "InputError" and taken["code"] == "EMAIL_TAKEN"


async def test_reads_and_changes_are_audited_without_phi(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    added = await add_client(api, token, firstName="Canary", email="canary@example.org")
    client_id = added["client"]["id"]
    await api.gql("query($id: ID!) { client(id: $id) { email } }", {"id": client_id}, token)
    await api.gql(UPDATE, {"i": {"id": client_id, "legalLastName": "Bird"}}, token)
    await api.gql(ARCHIVE, {"id": client_id}, token)
    events = await AuditEvent.filter(client_id=client_id).order_by("created_at").values()
    assert [e["action"] for e in events] == [
        "client.add",
        "client.read",
        "client.update",
        "client.archive",
    ]
    for event in events:
        assert "Canary" not in str(event) and "canary@" not in str(event)


async def test_onboarding_filter(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    await add_client(api, token, lastName="Incomplete", email="inc@example.org")
    assert await _names(api, token, onboarding="INCOMPLETE") == ["Ada Incomplete"]
    assert await _names(api, token, onboarding="COMPLETE") == []


async def test_list_query_count_does_not_grow_with_rows(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    for i in range(100):
        await add_client(
            api,
            token,
            lastName=f"N{i:03}",
            email=f"n{i}@example.org",
            insurance={"carrier": "Aetna", "memberId": f"M{i}", "dateOfBirth": "1990-01-01"},
        )
    counts = []
    for first in (1, 100):
        with count_queries() as counter:
            data = await api.gql(LIST, {"first": first}, token)
        assert len(data["clients"]["edges"]) == first
        counts.append(counter.count)
    assert counts[0] == counts[1]
    assert counts[1] <= 6  # 5 reads, and the page's audit events in one INSERT


async def test_forged_cursors_are_input_errors_not_crashes(api: Api) -> None:
    import base64
    import json

    token, _ = await sign_up_provider(api)
    bad_id = ["zzz", "not-a-uuid"]
    bad_time = ["not-a-time", "00000000-0000-0000-0000-000000000000"]
    cases = [
        (bad_id, "{ clients(after: $c) { totalCount } }"),
        (bad_id, "{ clients(after: $c, orderBy: ADDED_DESC) { totalCount } }"),
        (bad_time, "{ clients(after: $c, orderBy: ADDED_DESC) { totalCount } }"),
        (bad_id, "{ clientImports(after: $c) { edges { node { id } } } }"),
        (bad_time, "{ clientImports(after: $c) { edges { node { id } } } }"),
    ]
    for values, body in cases:
        cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode()
        response = await api.post("query($c: String) " + body, {"c": cursor}, token)
        errors = response.json()["errors"]
        assert errors[0]["message"] != "Unexpected error.", (values, body)
        assert errors[0]["extensions"]["code"] == "INVALID_INPUT"
