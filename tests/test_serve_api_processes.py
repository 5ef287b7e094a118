"""`caseload serve` with several API processes: one port, one pub/sub connection each, supervised."""

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
import redis.asyncio as aioredis
import websockets

from caseload.embedded_redis import free_port
from tests.support import PASSWORD

pytestmark = pytest.mark.slow

PROCESSES = 3
SIGN_UP = """mutation($i: SignUpProviderInput!) { signUpProvider(input: $i) {
  __typename ... on AuthSuccess { token } } }"""
ME = "{ me { email } }"


def _start(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELOAD_")}
    env.update(
        {
            "CASELOAD_PORT": str(port),
            "CASELOAD_DATA_DIR": str(tmp_path / "var"),
            "CASELOAD_API_PROCESSES": str(PROCESSES),
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "caseload.cli", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _apis(process: subprocess.Popen[bytes]) -> list[int]:
    """The live API processes of `serve` (a killed one is a zombie until reaped)."""
    pids = []
    for child in psutil.Process(process.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "caseload.cli serve-api" in " ".join(
                child.cmdline()
            ):
                pids.append(child.pid)
        except psutil.Error:
            continue
    return pids


def _redis_port(process: subprocess.Popen[bytes]) -> int:
    for child in psutil.Process(process.pid).children():
        if "-server" in " ".join(child.cmdline()):
            for conn in child.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    return int(conn.laddr.port)
    raise AssertionError("no embedded Redis")


async def _until(check: object, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not reached in time")


async def _ready(http: httpx.AsyncClient, base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited early"
        try:
            if (await http.get(f"{base}/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("serve never became ready")


async def _pubsub_connections(serve: subprocess.Popen[bytes], port: int) -> dict[int, int]:
    """Redis's pub/sub clients, counted per process of `serve` that holds them."""
    client = aioredis.from_url(f"redis://127.0.0.1:{port}")
    try:
        listed = await client.client_list()
    finally:
        await client.aclose()
    owners: dict[int, int] = {}
    by_port = {
        conn.laddr.port: proc.pid
        for proc in psutil.Process(serve.pid).children()
        for conn in _connections(proc)
        if conn.raddr and conn.raddr.port == port
    }
    for entry in listed:
        if "P" in entry["flags"] or int(entry.get("psub", 0)) or int(entry.get("sub", 0)):
            owner = by_port.get(int(entry["addr"].rsplit(":", 1)[1]), 0)
            owners[owner] = owners.get(owner, 0) + 1
    return owners


def _connections(proc: psutil.Process) -> list[object]:
    try:
        return list(proc.net_connections(kind="tcp"))
    except psutil.Error:
        return []


async def _kept_alive_past_a_clients_idle_expiry(port: int) -> None:
    """A connection idle for 6 s still takes a request: clients such as httpx reuse an idle
    connection for 5 s, and one the server closed meanwhile fails the request sent on it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    try:
        for pause in (0, 6):
            await asyncio.sleep(pause)
            writer.write(request)
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 10)
            assert status.startswith(b"HTTP/1.1 200"), (pause, status)
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
    finally:
        writer.close()


async def test_several_api_processes_share_the_port_and_are_supervised(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _start(tmp_path, port)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await _ready(http, base, process)
            apis = _apis(process)
            assert len(apis) == PROCESSES
            # every API process serves the one port; a session made on one works on all
            variables = {"i": {"email": "multi@example.com", "password": PASSWORD}}
            variables["i"]["displayName"] = "Dr Multi"
            signed = await http.post(
                f"{base}/graphql", json={"query": SIGN_UP, "variables": variables}
            )
            token = signed.json()["data"]["signUpProvider"]["token"]
            for _ in range(12):  # a fresh connection each: the kernel spreads them
                async with httpx.AsyncClient() as fresh:
                    me = await fresh.post(
                        f"{base}/graphql",
                        json={"query": ME},
                        headers={"authorization": f"Bearer {token}"},
                    )
                assert me.json() == {"data": {"me": {"email": "multi@example.com"}}}
            # WebSockets on any of them
            sockets = []
            for _ in range(6):
                ws = await websockets.connect(
                    f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]
                )
                init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                await ws.send(json.dumps(init))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                sockets.append(ws)
            # each process has its own single pub/sub connection, whatever its sockets
            owners = await _pubsub_connections(process, _redis_port(process))
            assert sorted(owners) == sorted(apis), owners
            assert set(owners.values()) == {1}
            for ws in sockets:
                await ws.close()

            await _kept_alive_past_a_clients_idle_expiry(port)

            # a killed API process is replaced; the others answer meanwhile
            victim = apis[0]
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            for _ in range(10):
                assert (await http.get(f"{base}/healthz")).status_code == 200
            await _until(lambda: len(_apis(process)) == PROCESSES, 10)
            assert time.monotonic() - killed_at < 5
            assert victim not in _apis(process)
            await _ready(http, base, process)
    finally:
        pids = (
            [c.pid for c in psutil.Process(process.pid).children(recursive=True)]
            if process.poll() is None
            else []
        )
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    output = process.stdout.read().decode(errors="replace") if process.stdout else ""
    assert process.returncode == 0, output[-2000:]
    assert "API process" in output and "starting another in" in output
    await asyncio.sleep(0.5)
    alive = [
        pid
        for pid in pids
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert alive == []
