"""Every export in shared/fixtures/imports ends as expected.json says, through the API and a worker."""

from __future__ import annotations

import json

import pytest

from models import Client, OutboxMessage
from tests.support import FIXTURES, Api, import_status, run_worker, sign_up_provider, start_import

EXPECTED: dict[str, dict[str, object]] = json.loads((FIXTURES / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_fixture_outcome(api: Api, name: str) -> None:
    expected = EXPECTED[name]
    token, _ = await sign_up_provider(api)
    # the name is a label only: the format comes from the content
    result = await start_import(api, token, (FIXTURES / name).read_bytes(), file_name="upload.bin")
    if "rejected" in expected:
        assert result["__typename"] == "ImportFileError"
        assert result["code"] == expected["rejected"]
        assert result["missingColumns"] == expected["missing"]
        assert result["foundColumns"]
        assert await Client.all().count() == 0
        return
    assert result["__typename"] == "StartClientImportSuccess", result
    job = result["clientImport"]
    assert job["status"] == "QUEUED"
    assert job["format"] == expected["format"]
    await run_worker(api.settings)
    done = await import_status(api, token, job["id"])
    assert done["status"] == expected["status"]
    assert done["createdCount"] == expected["created"]
    assert done["errorCount"] == expected["errors"]
    assert done["duplicateCount"] == expected.get("duplicates", 0)
    assert done["processedRows"] == done["totalRows"]
    for column in expected.get("ignored_includes", []):  # type: ignore[attr-defined]
        assert column in done["ignoredColumns"]
    assert await Client.all().count() == expected["created"]
    if "phones" in expected:
        assert await Client.filter(mobile_phone__isnull=False).count() == expected["phones"]
    assert await OutboxMessage.filter(kind="email.invitation").count() == expected["created"]
