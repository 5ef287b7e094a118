"""`caseload serve` as a real process: embedded Redis, a worker, HTTP and WebSocket, clean exit."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
import websockets

from caseload.embedded_redis import free_port
from tests.support import PASSWORD

pytestmark = pytest.mark.slow


SIGN_UP = """mutation($i: SignUpProviderInput!) { signUpProvider(input: $i) {
  __typename ... on AuthSuccess { token } } }"""
LOG_IN = (
    """mutation($i: LogInInput!) { logIn(input: $i) { __typename ... on AuthSuccess { token } } }"""
)

LOG_IN_CODE = """mutation($i: LogInInput!) { logIn(input: $i) {
  __typename ... on MutationError { code } } }"""


def _start(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELOAD_")}
    env.update({"CASELOAD_PORT": str(port), "CASELOAD_DATA_DIR": str(tmp_path / "var")})
    return subprocess.Popen(
        [sys.executable, "-m", "caseload.cli", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def _wait_ready(url: str, process: subprocess.Popen[bytes], limit: float = 15.0) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient() as http:
        while time.monotonic() - started < limit:
            assert process.poll() is None, "serve exited early"
            try:
                response = await http.post(url, json={"query": "{ __typename }"})
                if response.status_code == 200:
                    assert response.json() == {"data": {"__typename": "Query"}}
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("serve did not answer within 15 s")


async def test_serve_runs_everything_and_leaves_nothing_behind(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    process = _start(tmp_path, port)
    try:
        await _wait_ready(url, process)
        children = psutil.Process(process.pid).children(recursive=True)
        names = " ".join(" ".join(child.cmdline()) for child in children)
        assert "valkey-server" in names or "redis-server" in names
        assert "caseload.cli worker" in names
        # the worker yields the CPU to requests (CASELOAD_WORKER_NICENESS, default 5); the
        # API processes keep the priority serve started with
        for child in children:
            command = " ".join(child.cmdline())
            if "caseload.cli worker" in command:
                assert child.nice() == 5
            elif "serve-api" in command:
                assert child.nice() == psutil.Process(process.pid).nice()

        async with httpx.AsyncClient() as http:
            variables = {
                "i": {"email": "serve@example.com", "password": PASSWORD, "displayName": "Dr S"}
            }
            signed = (await http.post(url, json={"query": SIGN_UP, "variables": variables})).json()
            assert signed["data"]["signUpProvider"]["__typename"] == "AuthSuccess"
            login_vars = {"i": {"email": "serve@example.com", "password": PASSWORD}}
            token = (await http.post(url, json={"query": LOG_IN, "variables": login_vars})).json()[
                "data"
            ]["logIn"]["token"]
            me = await http.post(
                url,
                json={"query": "{ me { email } }"},
                headers={"authorization": f"Bearer {token}"},
            )
            assert me.json() == {"data": {"me": {"email": "serve@example.com"}}}
            # uvicorn believes no X-Forwarded-For on its own, not even from loopback: a new
            # forged address per guess does not escape the per-(account, address) limit
            wrong = {"i": {"email": "serve@example.com", "password": "not-the-password"}}
            for n in range(5):
                forged = {"x-forwarded-for": f"203.0.113.{n + 1}"}
                guess = await http.post(
                    url, json={"query": LOG_IN_CODE, "variables": wrong}, headers=forged
                )
                assert guess.json()["data"]["logIn"]["code"] == "INVALID_CREDENTIALS"
            blocked = await http.post(
                url,
                json={"query": LOG_IN_CODE, "variables": login_vars},
                headers={"x-forwarded-for": "203.0.113.200"},
            )
            assert blocked.json()["data"]["logIn"]["code"] == "RATE_LIMITED"

        async with websockets.connect(
            url.replace("http", "ws"), subprotocols=["graphql-transport-ws"]
        ) as ws:
            assert ws.subprotocol == "graphql-transport-ws"
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                )
            )
            ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert ack["type"] == "connection_ack"

        # the worker delivers the confirmation e-mail as a file
        mail_dir = tmp_path / "var" / "mail"
        for _ in range(100):
            if list(mail_dir.glob("*.eml")):
                break
            await asyncio.sleep(0.1)
        assert len(list(mail_dir.glob("*.eml"))) == 1
    finally:
        pids = (
            [c.pid for c in psutil.Process(process.pid).children(recursive=True)]
            if process.poll() is None
            else []
        )
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert process.returncode == 0
    await asyncio.sleep(0.5)
    alive = [
        pid
        for pid in pids
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert alive == []


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = _start(tmp_path, port)
    try:
        asyncio.run(_wait_ready(f"http://127.0.0.1:{port}/graphql", process))
        pids = [c.pid for c in psutil.Process(process.pid).children(recursive=True)]
        assert len(pids) >= 2
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    # A clean exit: the cleanup ran (workers and the embedded Redis stopped in order).
    assert process.returncode == 0
    time.sleep(0.5)
    alive = [
        pid
        for pid in pids
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert alive == []
