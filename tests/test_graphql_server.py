"""The GraphQL server's guards: limits, batching, GET, uploads, body cap, masking, health."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets

from caseload.settings import Environment
from schema.root import build_schema
from tests.support import Api, sign_up_provider, worker_running


async def _errors(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["message"] for e in response.json()["errors"]]


async def test_too_deep_a_query_is_a_validation_error(test_settings) -> None:  # type: ignore[no-untyped-def]
    shallow_limit = test_settings.model_copy(update={"max_query_depth": 3})
    schema = build_schema(shallow_limit)
    result = await schema.execute("{ clients { edges { node { onboarding { complete } } } } }")
    assert result.errors is not None
    assert "exceeds maximum operation depth" in result.errors[0].message
    within = await schema.execute("{ __typename }")
    assert within.errors is None


async def test_circular_fragments_are_a_validation_error(api: Api) -> None:
    looped = "query { me { ...A } } fragment A on Viewer { id ...B } fragment B on Viewer { ...A }"
    messages = await _errors(await api.post(looped))
    assert any("within itself" in m for m in messages)


async def test_alias_and_token_limits(api: Api) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(api.settings.max_aliases + 1))
    messages = await _errors(await api.post("{ " + aliases + " }"))
    assert any("aliases" in m.lower() for m in messages)
    hidden = "query { ...F } fragment F on Query { " + aliases + " }"
    assert any("aliases" in m.lower() for m in await _errors(await api.post(hidden)))
    # short names: the document stays under the byte cap, so the token cap is what refuses it
    many = "{ " + " ".join("x" for _ in range(api.settings.max_query_tokens + 10)) + " }"
    assert any("token" in m.lower() for m in await _errors(await api.post(many)))


async def test_batching_is_refused(api: Api) -> None:
    response = await api.http.post(
        f"{api.url}/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}]
    )
    assert response.status_code == 400


async def test_get_answers_queries_but_never_mutations(api: Api) -> None:
    query = await api.http.get(f"{api.url}/graphql", params={"query": "{ __typename }"})
    assert query.status_code == 200 and query.json() == {"data": {"__typename": "Query"}}
    mutation = await api.http.get(f"{api.url}/graphql", params={"query": "mutation { logOut }"})
    assert mutation.status_code == 405 and mutation.headers["allow"] == "POST"
    assert mutation.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_multipart_needs_the_preflight_header(api: Api) -> None:
    operations = json.dumps({"query": "{ __typename }", "variables": {}})
    files = {"operations": (None, operations), "map": (None, "{}")}
    refused = await api.http.post(f"{api.url}/graphql", files=files)
    assert refused.status_code == 400
    accepted = await api.http.post(
        f"{api.url}/graphql", files=files, headers={"apollo-require-preflight": "true"}
    )
    assert accepted.status_code == 200


async def test_a_body_over_the_cap_is_413(api: Api) -> None:
    big = "x" * (api.settings.max_upload_bytes + 128 * 1024)
    response = await api.http.post(
        f"{api.url}/graphql",
        content=json.dumps({"query": "{ __typename }", "variables": {"pad": big}}),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413

    async def chunks():  # no content-length: the cap is counted while reading
        for _ in range(30):
            yield b"x" * (1024 * 1024)

    streamed = await api.http.post(
        f"{api.url}/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_unexpected_errors_are_masked(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    response = await api.post('{ clients(after: "bm90IGpzb24") { totalCount } }', token=token)
    body = response.json()
    assert body["errors"][0]["message"] == "Some fields need attention: after"
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_legacy_websocket_protocol_is_refused(api: Api) -> None:
    with pytest.raises(websockets.exceptions.WebSocketException) as refused:
        async with websockets.connect(f"{api.ws_url}/graphql", subprotocols=["graphql-ws"]) as ws:
            await ws.recv()
    if isinstance(refused.value, websockets.exceptions.ConnectionClosed):
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 4406


async def test_subscribe_before_connection_init_closes_the_socket(api: Api) -> None:
    async with websockets.connect(
        f"{api.ws_url}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": "subscription { clientUpdated { id } }"},
                }
            )
        )
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_a_bad_token_in_connection_init_is_rejected(api: Api) -> None:
    async with websockets.connect(
        f"{api.ws_url}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer nope"}})
        )
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_health_and_readiness(api: Api, redis_server) -> None:  # type: ignore[no-untyped-def]
    assert (await api.http.get(f"{api.url}/healthz")).json() == {"status": "ok"}
    # no worker: not ready, and the body says why
    idle = await api.http.get(f"{api.url}/readyz")
    assert idle.status_code == 503
    assert idle.json()["worker"] is False and idle.json()["database"] is True
    assert "no worker has reported" in idle.json()["reason"]
    async with worker_running(api.settings):
        ready = await api.http.get(f"{api.url}/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
    redis_server.stop()
    try:
        down = await api.http.get(f"{api.url}/readyz")
        assert down.status_code == 503
        body = down.json()
        assert {k: body[k] for k in ("ready", "database", "redis")} == {
            "ready": False,
            "database": True,
            "redis": False,
        }
        assert "Redis is unreachable" in body["reason"]
        assert (await api.http.get(f"{api.url}/healthz")).status_code == 200
    finally:
        redis_server.restart()
    async with worker_running(api.settings):
        assert (await api.http.get(f"{api.url}/readyz")).status_code == 200


def test_production_turns_introspection_off(test_settings) -> None:  # type: ignore[no-untyped-def]
    production = test_settings.model_copy(update={"env": Environment.PRODUCTION})
    result = build_schema(production).execute_sync("{ __schema { types { name } } }")
    assert result.errors
    development = build_schema(test_settings).execute_sync("{ __schema { queryType { name } } }")
    assert development.errors is None


async def test_nul_characters_are_an_input_error_not_a_database_failure(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    search = "query($s: String) { clients(search: $s) { totalCount } }"
    add = """mutation($i: AddClientInput!) { addClient(input: $i) { __typename } }"""
    attempts = [
        (search, {"s": "ava\x00"}),
        ('{ clients(search: "ava\\u0000") { totalCount } }', {}),
        (add, {"i": {"firstName": "A\x00", "lastName": "B", "email": "a@example.org"}}),
    ]
    for query, variables in attempts:
        response = await api.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "INVALID_INPUT"
        assert "NUL" in error["message"]
    assert (await api.gql(search, {"s": "ava"}, token))["clients"]["totalCount"] == 0
