"""`caseload serve` restarts a killed worker; /readyz says when none is alive; the import finishes."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from caseload.embedded_redis import free_port
from tests.support import (
    AUTH_FIELDS,
    IMPORT_FIELDS,
    PASSWORD,
    START_IMPORT,
    link_token_of,
    read_mail,
    record_outcome,
)

pytestmark = pytest.mark.slow


ROWS = 20_000
PROVIDER_EMAIL = "supervised@example.com"
SIGN_UP = (
    f"""mutation($i: SignUpProviderInput!) {{ signUpProvider(input: $i) {{ {AUTH_FIELDS} }} }}"""
)
VERIFY = f"mutation($i: VerifyEmailInput!) {{ verifyEmail(input: $i) {{ {AUTH_FIELDS} }} }}"
STATUS = f"query($id: ID!) {{ clientImport(id: $id) {{ {IMPORT_FIELDS} }} }}"


def _start(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELOAD_")}
    env.update(
        {
            "CASELOAD_PORT": str(port),
            "CASELOAD_DATA_DIR": str(tmp_path / "var"),
            "CASELOAD_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "CASELOAD_IMPORT_BATCH_ROWS": "500",
            "CASELOAD_IMPORT_LEASE_SECONDS": "4",
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "caseload.cli", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=(tmp_path / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _workers(process: subprocess.Popen[bytes]) -> list[int]:
    """The live worker processes of `serve` (a killed one is a zombie until reaped)."""
    pids = []
    for child in psutil.Process(process.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "caseload.cli worker" in " ".join(
                child.cmdline()
            ):
                pids.append(child.pid)
        except psutil.Error:
            continue
    return pids


async def _ready(http: httpx.AsyncClient, base: str) -> tuple[int, dict[str, Any]]:
    response = await http.get(f"{base}/readyz")
    return response.status_code, response.json()


async def _wait_ready(http: httpx.AsyncClient, base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited early"
        try:
            if (await _ready(http, base))[0] == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("serve never became ready")


async def _confirmed_provider(http: httpx.AsyncClient, base: str, mail_dir: Path) -> str:
    variables = {"i": {"email": PROVIDER_EMAIL, "password": PASSWORD, "displayName": "Dr Sup"}}
    signed = await http.post(f"{base}/graphql", json={"query": SIGN_UP, "variables": variables})
    token: str = signed.json()["data"]["signUpProvider"]["token"]
    for _ in range(200):
        files = list(mail_dir.glob("*.eml"))
        if files:
            break
        await asyncio.sleep(0.1)
    link = link_token_of(read_mail(files[0]))
    verified = await http.post(
        f"{base}/graphql", json={"query": VERIFY, "variables": {"i": {"token": link}}}
    )
    assert verified.json()["data"]["verifyEmail"]["__typename"] == "AuthSuccess"
    return token


def _csv(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["First Name", "Last Name", "Email"])
    for n in range(rows):
        writer.writerow([f"Row{n}", "Person", f"row{n}@supervised.example"])
    return out.getvalue().encode()


async def _start_import(http: httpx.AsyncClient, base: str, token: str) -> str:
    variables = {"i": {"file": None, "sendInvitations": False}}
    response = await http.post(
        f"{base}/graphql",
        files={
            "operations": (None, json.dumps({"query": START_IMPORT, "variables": variables})),
            "map": (None, json.dumps({"0": ["variables.i.file"]})),
            "0": ("clients.csv", _csv(ROWS), "text/csv"),
        },
        headers={"authorization": f"Bearer {token}", "apollo-require-preflight": "true"},
    )
    started = response.json()["data"]["startClientImport"]
    assert started["__typename"] == "StartClientImportSuccess", started
    return str(started["clientImport"]["id"])


async def _status(http: httpx.AsyncClient, base: str, token: str, import_id: str) -> dict[str, Any]:
    response = await http.post(
        f"{base}/graphql",
        json={"query": STATUS, "variables": {"id": import_id}},
        headers={"authorization": f"Bearer {token}"},
    )
    status: dict[str, Any] = response.json()["data"]["clientImport"]
    return status


async def test_a_killed_worker_is_replaced_and_the_import_finishes(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _start(tmp_path, port)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await _wait_ready(http, base, process)
            token = await _confirmed_provider(http, base, tmp_path / "var" / "mail")
            import_id = await _start_import(http, base, token)
            polls: list[tuple[str, int]] = []
            while True:  # kill the worker in the middle of the import
                status = await _status(http, base, token, import_id)
                polls.append((status["status"], status["processedRows"]))
                assert status["status"] != "COMPLETED", f"ended before the kill: {polls}"
                if status["status"] == "RUNNING":
                    break
                await asyncio.sleep(0.02)
            [victim] = _workers(process)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()

            seen_not_ready: dict[str, Any] | None = None
            replaced_in: float | None = None
            while time.monotonic() - killed_at < 10:
                code, body = await _ready(http, base)
                if code == 503 and seen_not_ready is None:
                    seen_not_ready = body
                if code == 200 and [p for p in _workers(process) if p != victim]:
                    replaced_in = time.monotonic() - killed_at
                    break
                await asyncio.sleep(0.05)
            assert seen_not_ready is not None, "/readyz never said no worker was alive"
            assert seen_not_ready["worker"] is False and "no worker" in seen_not_ready["reason"]
            assert replaced_in is not None and replaced_in < 5, replaced_in

            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                status = await _status(http, base, token, import_id)
                if status["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                    break
                await asyncio.sleep(0.25)
            total = await http.post(
                f"{base}/graphql",
                json={"query": "{ clients { totalCount } }"},
                headers={"authorization": f"Bearer {token}"},
            )
            listed = total.json()["data"]["clients"]["totalCount"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    log = (tmp_path / "serve.log").read_text(errors="replace")
    record_outcome(
        "worker killed (SIGKILL) under `caseload serve` mid-import",
        f"replaced in {replaced_in:.1f} s; import {status['status']}",
        unit="rows",
        expected=ROWS,
        found=listed,
        duplicates=max(status["createdCount"] - ROWS, 0),
    )
    assert status["status"] == "COMPLETED", status
    assert status["processedRows"] == status["createdCount"] == ROWS, json.dumps(status)
    assert status["errorCount"] == status["duplicateCount"] == 0
    assert listed == ROWS
    assert log.count(f"worker process {victim} stopped (signal 9)") == 1, log[-3000:]
    assert PROVIDER_EMAIL not in log and "supervised.example" not in log
    assert process.returncode == 0
