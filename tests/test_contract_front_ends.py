"""The contract's "Front ends" block: sentMessage, Relay page info, lazy totalCount, report links."""

from __future__ import annotations

import csv
import io
import time
from urllib.parse import parse_qs, urlsplit

from resolvers.imports import download_links
from tests.support import (
    Api,
    count_queries,
    run_worker,
    sign_up_client,
    sign_up_provider,
    start_import,
    subscribe,
)

ME = "{ me { provider { id } } }"
# The natural selection every client writes: before sentMessage it was invalid.
SEND = """
mutation($i: SendMessageInput!) { sendMessage(input: $i) {
  __typename
  ... on MessageSuccess { sentMessage { id body } legacy: message { id } thread { id } }
  ... on MutationError { code message }
} }
"""
THREADS = """
query($first: Int, $after: String) { messageThreads(first: $first, after: $after) {
  totalCount
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { id messages(first: 1) { totalCount edges { node { id } } } } }
} }
"""
IMPORTS = "{ clientImports(first: 5) { %s edges { node { id issuesReportUrl } } } }"


async def test_send_message_selects_sent_message_beside_mutation_error_message(api: Api) -> None:
    provider, _ = await sign_up_provider(api)
    provider_id = (await api.gql(ME, token=provider))["me"]["provider"]["id"]
    client, _ = await sign_up_client(api)
    sent = (await api.gql(SEND, {"i": {"providerId": provider_id, "body": "Hello"}}, client))[
        "sendMessage"
    ]
    assert sent["__typename"] == "MessageSuccess"
    assert sent["sentMessage"]["body"] == "Hello"
    assert sent["legacy"]["id"] == sent["sentMessage"]["id"]  # deprecated, still answered
    refused = (await api.gql(SEND, {"i": {"providerId": provider_id, "body": " "}}, client))[
        "sendMessage"
    ]
    assert refused["code"] == "INVALID_INPUT" and isinstance(refused["message"], str)


async def test_page_info_has_previous_page_and_start_cursor(api: Api) -> None:
    client, _ = await sign_up_client(api)
    for _ in range(3):
        provider, _ = await sign_up_provider(api)
        provider_id = (await api.gql(ME, token=provider))["me"]["provider"]["id"]
        await api.gql(SEND, {"i": {"providerId": provider_id, "body": "Hi"}}, client)
    first = (await api.gql(THREADS, {"first": 2}, client))["messageThreads"]
    assert first["totalCount"] == 3
    info = first["pageInfo"]
    assert info["hasNextPage"] is True and info["hasPreviousPage"] is False
    assert info["startCursor"] == first["edges"][0]["cursor"]
    assert info["endCursor"] == first["edges"][-1]["cursor"]
    assert first["edges"][0]["node"]["messages"]["totalCount"] == 1
    rest = (await api.gql(THREADS, {"first": 2, "after": info["endCursor"]}, client))[
        "messageThreads"
    ]
    assert rest["pageInfo"]["hasPreviousPage"] is True and rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["startCursor"] == rest["edges"][0]["cursor"]
    assert rest["totalCount"] == 3  # the whole list, not the page
    empty = (await api.gql(THREADS, {"first": 0}, client))["messageThreads"]
    assert empty["pageInfo"]["startCursor"] is None and empty["totalCount"] == 3


async def test_total_count_is_counted_only_when_selected(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    for _ in range(2):
        await start_import(api, token, b"First Name,Last Name,Email\nA,B,a@example.org\n")
    query = "{ clientImports(first: 1) { %s edges { node { id } } } }"
    await api.gql(query % "totalCount", token=token)  # warm every cache first
    with count_queries() as without:
        await api.gql(query % "", token=token)
    with count_queries() as selected:
        data = await api.gql(query % "totalCount", token=token)
    assert data["clientImports"]["totalCount"] == 2
    assert selected.count == without.count + 1


async def _imported_with_issues(api: Api, token: str) -> str:
    rows = "First Name,Last Name,Email\nA,B,not-an-address\nC,D,c@example.org\n"
    result = await start_import(api, token, rows.encode())
    await run_worker(api.settings)
    return str(result["clientImport"]["id"])


async def test_issues_report_url_downloads_without_a_header(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    import_id = await _imported_with_issues(api, token)
    clean = await start_import(api, token, b"First Name,Last Name,Email\nE,F,e@example.org\n")
    await run_worker(api.settings)
    nodes = {
        e["node"]["id"]: e["node"]["issuesReportUrl"]
        for e in (await api.gql(IMPORTS % "", token=token))["clientImports"]["edges"]
    }
    assert nodes[clean["clientImport"]["id"]] is None  # nothing to download
    url = nodes[import_id]
    assert url.startswith(api.url + f"/imports/{import_id}/issues.csv?")
    download = await api.http.get(url)  # no Authorization header
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(download.text)))
    assert table[0][0] == "Row" and len(table) == 2


async def test_issues_report_url_refuses_expired_tampered_and_other_imports(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    import_id = await _imported_with_issues(api, token)
    other_id = await _imported_with_issues(api, token)
    settings = api.settings
    expired = download_links.issues_report_path(settings, import_id, now=time.time() - 3600)
    valid = download_links.issues_report_path(settings, import_id)
    params = parse_qs(urlsplit(valid).query)
    signature, expires = params["signature"][0], params["expires"][0]
    tampered = valid.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    later = valid.replace(f"expires={expires}", f"expires={int(expires) + 3600}")
    elsewhere = valid.replace(f"/imports/{import_id}/", f"/imports/{other_id}/")
    for path in (expired, tampered, later, elsewhere):
        refused = await api.http.get(api.url + path)
        assert refused.status_code == 403, path
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await api.http.get(api.url + valid)).status_code == 200


async def test_issues_report_url_over_a_websocket_is_an_http_link(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    import_id = await _imported_with_issues(api, token)
    query = "subscription($id: ID!) { clientImportProgress(id: $id) { id issuesReportUrl } }"
    async with subscribe(api, query, {"id": import_id}, token) as subscription:
        event = (await subscription.rest())[0]["clientImportProgress"]
    url = event["issuesReportUrl"]
    assert url.startswith(f"{api.url}/imports/{import_id}/issues.csv?"), url
    assert (await api.http.get(url)).status_code == 200
