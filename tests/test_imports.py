"""Bulk import rules through the real API and worker: refusals, counts, dry runs, issues, cancel."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from tortoise.transactions import in_transaction

from bench.datagen import make_realistic_csv
from importing import ClientRow, inspect_file, iter_rows
from models import (
    Client,
    ClientImport,
    ClientImportFileChunk,
    ClientImportIssue,
    OutboxMessage,
    ProviderClient,
)
from resolvers.imports.batches import BatchWriter
from resolvers.imports.duplicates import DuplicateMemory
from resolvers.imports.runner import claim
from tests.support import (
    Api,
    add_client,
    csv_bytes,
    import_status,
    many,
    run_worker,
    sign_up_provider,
    start_import,
)
from workers.imports import ImportSlots, run_import_job


async def test_refusals_write_nothing(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    cases = {
        b"": "EMPTY_FILE",
        b"First Name,Last Name,Email\r\n": "EMPTY_FILE",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n": "UNSUPPORTED_FILE",
        b"PK\x03\x04garbage-not-a-real-zip": "UNSUPPORTED_FILE",
        b"First Name,Last Name,Phone\r\nA,B,1\r\n": "MISSING_REQUIRED_COLUMNS",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600: "UNSUPPORTED_FILE",
    }
    for data, code in cases.items():
        result = await start_import(api, token, data)
        assert result["__typename"] == "ImportFileError", (data[:20], result)
        assert result["code"] == code, (data[:20], result)
        assert result["message"]
    assert await ClientImport.all().count() == 0


async def test_too_many_rows_and_too_large(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    rows = await start_import(api, token, many(api.settings.max_import_rows + 1))
    assert rows["code"] == "TOO_MANY_ROWS"
    line = b"A,B,a@example.org\r\n"
    large = b"First Name,Last Name,Email\r\n" + line * (api.settings.max_upload_bytes // len(line))
    large += b"x" * (api.settings.max_upload_bytes + 1 - len(large))
    refused = await start_import(api, token, large)
    assert refused["code"] == "FILE_TOO_LARGE"
    assert "MB" in refused["message"]
    assert await ClientImport.all().count() == 0


async def test_counts_kept_apart(api: Api) -> None:
    token_a, _ = await sign_up_provider(api)
    token_b, _ = await sign_up_provider(api)
    await add_client(api, token_a, email="mine@example.org")
    await add_client(api, token_b, email="elsewhere@example.org")
    data = csv_bytes(
        [
            ["New", "Person", "new@example.org", "(212) 555-0100"],
            ["Mine", "Already", "MINE@example.org", ""],
            ["Else", "Where", "elsewhere@example.org", ""],
            ["New", "Again", "new@example.org", ""],
            ["", "", "", ""],
            ["Bad", "Mail", "not-an-email", ""],
            ["No", "Phone", "nophone@example.org", "12"],
        ]
    )
    result = await start_import(api, token_a, data)
    await run_worker(api.settings)
    job = await import_status(api, token_a, result["clientImport"]["id"])
    assert job["status"] == "COMPLETED"
    assert job["totalRows"] == 6 and job["processedRows"] == 6
    # an address with an account elsewhere is a new entry like any other: nothing is linked
    assert (job["createdCount"], job["linkedCount"], job["alreadyInListCount"]) == (3, 0, 1)
    assert (job["duplicateCount"], job["errorCount"]) == (1, 1)
    assert job["warningCount"] == 2  # the unreadable phone and the duplicate
    nophone = await Client.get(provider_links__email="nophone@example.org")
    assert nophone.mobile_phone is None
    issues = (
        await ClientImportIssue.filter(client_import_id=job["id"])
        .order_by("row")
        .values("row", "code", "severity")
    )
    assert issues == [
        {"row": 5, "code": "DUPLICATE_ROW", "severity": "WARNING"},
        {"row": 7, "code": "INVALID_EMAIL", "severity": "ERROR"},
        {"row": 8, "code": "INVALID_PHONE", "severity": "WARNING"},
    ]
    links = await ProviderClient.filter(source_import_id=job["id"]).count()
    assert links == 3
    assert await OutboxMessage.filter(kind="email.invitation").count() == 2 + 1 + 2


async def test_dry_run_writes_no_client_and_sends_nothing(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    data = csv_bytes(
        [["A", "B", "a@example.org", ""], ["A", "B", "a@example.org", ""], ["C", "D", "bad", ""]]
    )
    result = await start_import(api, token, data, dryRun=True)
    assert result["clientImport"]["dryRun"] is True
    await run_worker(api.settings)
    job = await import_status(api, token, result["clientImport"]["id"])
    assert (job["status"], job["createdCount"], job["duplicateCount"], job["errorCount"]) == (
        "COMPLETED",
        1,
        1,
        1,
    )
    assert await Client.all().count() == 0
    assert await OutboxMessage.filter(kind="email.invitation").count() == 0


async def test_no_invitations_when_asked(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    result = await start_import(api, token, many(3), sendInvitations=False)
    await run_worker(api.settings)
    assert (await import_status(api, token, result["clientImport"]["id"]))["createdCount"] == 3
    assert await OutboxMessage.filter(kind="email.invitation").count() == 0


async def test_explicit_mapping_overrides_the_guess(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    data = csv_bytes(
        [["Ann", "Lee", "work@example.org", "home@example.org"]],
        header=["Given", "Surname", "Work Email", "Home Email"],
    )
    mapping = [
        {"field": "FIRST_NAME", "column": "Given"},
        {"field": "LAST_NAME", "column": "Surname"},
        {"field": "EMAIL", "column": "Home Email"},
    ]
    result = await start_import(api, token, data, columnMapping=mapping)
    assert result["__typename"] == "StartClientImportSuccess", result
    mapped = {m["field"]: m["column"] for m in result["clientImport"]["columnMapping"]}
    assert mapped["EMAIL"] == "Home Email"
    await run_worker(api.settings)
    assert await Client.filter(provider_links__email="home@example.org").count() == 1
    missing = await start_import(
        api, token, data, columnMapping=[{"field": "EMAIL", "column": "Nope"}]
    )
    assert missing["code"] == "MISSING_REQUIRED_COLUMNS"


async def test_issues_are_paginated_and_downloadable_safely(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    rows = [['=HYPERLINK("x")', "B", "bad-email", ""] for _ in range(5)] + [
        ["A", "B", "ok@example.org", "99"]
    ]
    result = await start_import(
        api, token, csv_bytes(rows, header=["First Name", "Last Name", "=Email", "Mobile Phone"])
    )
    await run_worker(api.settings)
    import_id = result["clientImport"]["id"]
    query = """query($id: ID!, $after: String, $severity: RowIssueSeverity) { clientImport(id: $id) {
      issues(first: 2, after: $after, severity: $severity) { totalCount pageInfo { hasNextPage endCursor }
        edges { node { row column code severity message } } } } }"""
    page = (await api.gql(query, {"id": import_id}, token))["clientImport"]["issues"]
    assert page["totalCount"] == 6 and page["pageInfo"]["hasNextPage"] is True
    rows_seen = [e["node"]["row"] for e in page["edges"]]
    while page["pageInfo"]["hasNextPage"]:
        page = (
            await api.gql(query, {"id": import_id, "after": page["pageInfo"]["endCursor"]}, token)
        )["clientImport"]["issues"]
        rows_seen += [e["node"]["row"] for e in page["edges"]]
    assert rows_seen == [2, 3, 4, 5, 6, 7]
    warnings = (await api.gql(query, {"id": import_id, "severity": "WARNING"}, token))[
        "clientImport"
    ]["issues"]
    assert warnings["totalCount"] == 1
    download = await api.http.get(
        f"{api.url}/imports/{import_id}/issues.csv", headers={"authorization": f"Bearer {token}"}
    )
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(download.text)))
    assert table[0] == ["Row", "Column", "Severity", "Code", "Message"]
    assert len(table) == 7
    assert all(not cell.startswith(("=", "+", "-", "@")) for line in table for cell in line)
    other, _ = await sign_up_provider(api)
    denied = await api.http.get(
        f"{api.url}/imports/{import_id}/issues.csv", headers={"authorization": f"Bearer {other}"}
    )
    assert denied.status_code == 404
    anonymous = await api.http.get(f"{api.url}/imports/{import_id}/issues.csv")
    assert anonymous.status_code == 401


async def test_only_the_owner_reads_or_cancels(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    other, _ = await sign_up_provider(api)
    result = await start_import(api, token, many(2))
    import_id = result["clientImport"]["id"]
    assert await import_status(api, other, import_id) is None
    listed = await api.gql("{ clientImports { edges { node { id } } } }", token=other)
    assert listed["clientImports"]["edges"] == []
    cancel = """mutation($id: ID!) { cancelClientImport(id: $id) { __typename
      ... on StartClientImportSuccess { clientImport { status } } ... on MutationError { code } } }"""
    assert (await api.gql(cancel, {"id": import_id}, other))["cancelClientImport"][
        "code"
    ] == "NOT_FOUND"
    mine = await api.gql("{ clientImports { edges { node { id status } } } }", token=token)
    assert [e["node"]["id"] for e in mine["clientImports"]["edges"]] == [import_id]
    cancelled = (await api.gql(cancel, {"id": import_id}, token))["cancelClientImport"]
    assert cancelled["clientImport"]["status"] == "CANCELLED"
    again = (await api.gql(cancel, {"id": import_id}, token))["cancelClientImport"]
    assert again["__typename"] == "InvalidStateError"
    await run_worker(api.settings)
    assert await Client.all().count() == 0


@pytest.mark.parametrize("child_reader_rows", [0, 1_000_000], ids=["child-reader", "in-process"])
async def test_cancel_between_batches_keeps_committed_rows(
    api: Api, child_reader_rows: int
) -> None:
    settings = api.settings.model_copy(
        update={"import_batch_rows": 50, "import_child_reader_rows": child_reader_rows}
    )
    token, _ = await sign_up_provider(api)
    # enough batches that the cancel lands while some are still to go, however fast they run
    result = await start_import(api, token, many(4000))
    import_id = result["clientImport"]["id"]
    await ClientImport.filter(id=import_id).update(cancel_requested=False)
    worker = asyncio.create_task(run_worker(settings))
    for _ in range(500):
        job = await ClientImport.get(id=import_id)
        if job.processed_rows > 0:
            break
        await asyncio.sleep(0.005)
    cancel = "mutation($id: ID!) { cancelClientImport(id: $id) { __typename } }"
    await api.gql(cancel, {"id": import_id}, token)
    await worker
    job = await ClientImport.get(id=import_id)
    assert job.status.value == "CANCELLED"
    assert 0 < job.processed_rows < 4000
    assert job.created_count == job.processed_rows == await Client.all().count()


@pytest.mark.parametrize("child_reader_rows", [0, 1_000_000], ids=["child-reader", "in-process"])
async def test_a_mixed_file_counts_the_same_whoever_reads_it(
    api: Api, child_reader_rows: int
) -> None:
    """The first batch is read in the worker and the rest in the child (or all in the worker):
    the counts are those of the pure reader's rows, across the batch where the two meet."""
    settings = api.settings.model_copy(
        update={"import_batch_rows": 100, "import_child_reader_rows": child_reader_rows}
    )
    data = make_realistic_csv(1_500, domain="mixed.org")
    rows = list(iter_rows(data, inspect_file(data)))
    ok = [row for row in rows if isinstance(row, ClientRow)]
    firsts = list({row.email: row for row in reversed(ok)}.values())  # a duplicate's own
    # warnings are not reported: the row is skipped as a duplicate
    token, _ = await sign_up_provider(api)
    import_id = (await start_import(api, token, data))["clientImport"]["id"]
    await run_worker(settings)
    job = await ClientImport.get(id=import_id)
    assert job.status.value == "COMPLETED"
    assert job.processed_rows == len(rows)
    assert job.error_count == len(rows) - len(ok) > 0
    assert job.created_count == len({row.email for row in ok})
    assert job.duplicate_count == len(ok) - job.created_count > 0
    assert job.warning_count == job.duplicate_count + sum(len(row.warnings) for row in firsts)
    assert await ProviderClient.filter(source_import_id=import_id).count() == job.created_count


async def test_the_uploaded_file_is_dropped_once_the_import_is_over(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    done = (await start_import(api, token, many(3)))["clientImport"]["id"]
    cancelled = (await start_import(api, token, many(2, "other.org")))["clientImport"]["id"]
    stored = ClientImportFileChunk.all().distinct().values_list("client_import_id", flat=True)
    assert len(await stored) == 2  # kept while the job waits for a worker
    cancel = "mutation($id: ID!) { cancelClientImport(id: $id) { __typename } }"
    await api.gql(cancel, {"id": cancelled}, token)
    assert await ClientImportFileChunk.filter(client_import_id=cancelled).count() == 0
    await run_worker(api.settings)
    assert (await import_status(api, token, done))["status"] == "COMPLETED"
    assert await ClientImportFileChunk.all().count() == 0  # client data is not kept past its use


@pytest.mark.slow
async def test_a_busy_worker_leaves_further_imports_for_a_free_slot(api: Api) -> None:
    settings = api.settings.model_copy(update={"worker_import_slots": 1, "import_batch_rows": 100})
    token, _ = await sign_up_provider(api)
    first = (await start_import(api, token, many(600)))["clientImport"]["id"]
    second = (await start_import(api, token, many(600, "other.org")))["clientImport"]["id"]
    # One worker takes both queued jobs at once; with one slot it runs one import and hands
    # the other back to the queue until the slot is free.
    await run_worker(settings)
    done = {job.id: job for job in await ClientImport.filter(id__in=[first, second])}
    assert {job.status.value for job in done.values()} == {"COMPLETED"}
    assert sum(job.created_count for job in done.values()) == 1200 == await Client.all().count()
    earlier, later = sorted(done.values(), key=lambda job: job.started_at)
    assert earlier.finished_at is not None and later.started_at is not None
    assert later.started_at >= earlier.finished_at


async def test_a_worker_takes_back_its_own_stale_lease_but_never_anothers(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    import_id = (await start_import(api, token, many(3)))["clientImport"]["id"]
    held_until = datetime.now(UTC) + timedelta(minutes=5)
    await ClientImport.filter(id=import_id).update(
        status="RUNNING", lease_owner="worker-a", lease_expires_at=held_until
    )
    # An attempt of worker-a failed while the database was away and could not let go of its
    # lease; its retry (nothing of worker-a runs the import now) may take it straight back.
    assert await claim(UUID(import_id), "worker-a", 15) is None
    assert await claim(UUID(import_id), "worker-b", 15, reclaim=True) is None
    taken = await claim(UUID(import_id), "worker-a", 15, reclaim=True)
    assert taken is not None and taken.lease_owner == "worker-a"


async def test_a_second_job_for_an_import_running_in_this_worker_does_nothing(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    import_id = (await start_import(api, token, many(3)))["clientImport"]["id"]
    # The sweeper's job for an import this very worker runs must not take its lease back.
    slots = ImportSlots(free=2, running={import_id})
    assert await run_import_job({"import_slots": slots}, import_id) == "already-running-here"
    assert slots.free == 2
    assert (await ClientImport.get(id=import_id)).status.value == "QUEUED"


async def test_the_batch_look_up_is_planned_for_the_list_as_it_is(api: Api) -> None:
    """asyncpg prepares the look-up once per connection; PostgreSQL would switch it to a
    generic plan made while a new list was small, and keep scanning the list whole as the
    import grows it. SQLite plans every statement afresh anyway; there the look-up's answer
    is checked."""
    token, _ = await sign_up_provider(api)
    added = await add_client(api, token, email="on-the-list@example.org")
    assert added["__typename"] == "AddClientSuccess", added
    job = await ClientImport.get(id=(await start_import(api, token, many(2)))["clientImport"]["id"])
    async with in_transaction() as conn:
        for _ in range(8):  # past the five custom plans after which a generic one may stick
            found = await BatchWriter(conn, job, DuplicateMemory())._on_list(
                ["on-the-list@example.org", "not-on-it@example.org"]
            )
            assert found == {"on-the-list@example.org": None}
        if conn.capabilities.dialect == "postgres":
            plans = await conn.execute_query_dict(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE '%source_import_id FROM provider_clients%' "
                "AND statement NOT LIKE '%pg_prepared_statements%'"  # not this query itself
            )
            assert plans and sum(p["custom_plans"] for p in plans) >= 8, plans
            assert all(p["generic_plans"] == 0 for p in plans), plans
