"""An upload is never held whole: the API stores it in pieces read from its spooled file, the
worker streams its copy, and the duplicate memory of a file is compact and undoable."""

from __future__ import annotations

import json
import random
import tempfile
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from models import ClientImportFileChunk
from resolvers.imports.batches import email_key
from resolvers.imports.duplicates import DuplicateMemory
from resolvers.imports.files import FILE_CHUNK_BYTES
from tests.support import (
    Api,
    import_status,
    run_worker,
    sign_up_provider,
    start_import,
)
from tests.support.factories import START_IMPORT

ROWS = 5_000
# A few pieces in flight at once (a driver copies a piece into its buffers), never the file.
BOUND = 5 * FILE_CHUNK_BYTES
NOTES = "a long note kept in an ignored column " * 80  # ~3 KB a row: a large file, few rows


def large_csv(rows: int = ROWS) -> bytes:
    lines = ["First Name,Last Name,Email,Notes"]
    lines += [f"First{i},Last{i},person{i}@example.org,{NOTES}" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


async def peak_while(work: Callable[[], Awaitable[Any]]) -> tuple[Any, int]:
    """What work returns, and the most Python memory allocated at once while it ran."""
    tracemalloc.start()
    try:
        result = await work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_the_api_stores_an_upload_in_pieces_without_holding_it(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    data = large_csv()
    assert len(data) > 2 * BOUND
    operations = {"query": START_IMPORT, "variables": {"i": {"file": None}}}
    with tempfile.TemporaryFile() as body:  # the client streams it too
        body.write(data)
        body.seek(0)
        response, peak = await peak_while(
            lambda: api.http.post(
                f"{api.url}/graphql",
                files={
                    "operations": (None, json.dumps(operations)),
                    "map": (None, json.dumps({"0": ["variables.i.file"]})),
                    "0": ("large.csv", body, "text/csv"),
                },
                headers={"authorization": f"Bearer {token}", "apollo-require-preflight": "1"},
            )
        )
    job = response.json()["data"]["startClientImport"]["clientImport"]
    assert job["totalRows"] == ROWS
    # the server and this client share the process: neither held the file, nor a copy
    assert peak < BOUND, (peak, len(data))
    pieces = await ClientImportFileChunk.filter(client_import_id=job["id"]).order_by("seq")
    assert [p.seq for p in pieces] == list(range(len(data) // FILE_CHUNK_BYTES + 1))
    assert {len(p.data) for p in pieces[:-1]} == {FILE_CHUNK_BYTES}
    assert b"".join(p.data for p in pieces) == data


async def test_the_worker_streams_the_stored_file(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    data = large_csv()
    job = (await start_import(api, token, data, "large.csv", sendInvitations=False))["clientImport"]
    _, peak = await peak_while(lambda: run_worker(api.settings))
    status = await import_status(api, token, job["id"])
    assert (status["status"], status["createdCount"]) == ("COMPLETED", ROWS)
    assert len(data) > 2 * BOUND
    assert peak < BOUND, (peak, len(data))
    assert await ClientImportFileChunk.filter(client_import_id=job["id"]).count() == 0


def test_duplicate_memory_answers_as_a_dict_would() -> None:
    rng = random.Random(14)
    memory, model = DuplicateMemory(), {}
    keys = [email_key(f"p{i}@example.org") for i in range(20_000)]
    for step in range(60_000):
        key = rng.choice(keys)
        assert (key in memory) == (key in model)
        if key in model:
            assert memory[key] == model[key]
        elif step % 3:
            memory[key] = model[key] = step
    assert len(memory) == len(model)
    assert {key: memory[key] for key in keys if key in memory} == model
    with pytest.raises(KeyError):
        memory[email_key("nobody@example.org")]
    with pytest.raises(ValueError, match="16-byte"):
        _ = b"short" in memory


def test_duplicate_memory_rolls_back_to_its_mark() -> None:
    memory = DuplicateMemory()
    kept = [email_key(f"kept{i}@example.org") for i in range(500)]
    for row, key in enumerate(kept, 2):
        memory[key] = row
    memory.mark()
    undone = [email_key(f"undone{i}@example.org") for i in range(500)]
    for row, key in enumerate(undone, 1000):
        memory[key] = row
    memory[kept[0]] = 99_999
    memory.rollback()
    assert len(memory) == len(kept)
    assert [memory[key] for key in kept] == list(range(2, 502))
    assert not any(key in memory for key in undone)
    memory.rollback()  # nothing since the mark: still the same
    assert len(memory) == len(kept)


def _allocated(build: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()
    try:
        built = build()
        return built, tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_the_duplicate_memory_takes_a_fraction_of_a_dict() -> None:
    keys = [email_key(f"client.{i}@example.org") for i in range(200_000)]

    def compact() -> DuplicateMemory:
        memory = DuplicateMemory()
        for row, key in enumerate(keys, 2):
            memory[key] = row
        return memory

    def as_before() -> dict[int, int]:  # 128-bit ints -> rows, what it replaced
        return {int.from_bytes(key): row for row, key in enumerate(keys, 2)}

    memory, compact_bytes = _allocated(compact)
    _, dict_bytes = _allocated(as_before)
    assert len(memory) == len(keys)  # type: ignore[arg-type]
    # 18 bytes an entry and the buckets' headers (fewer per entry as the file grows)
    assert compact_bytes < dict_bytes / 2, (compact_bytes, dict_bytes)
