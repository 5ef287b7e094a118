"""Real processes for benchmarks: API and workers on given database and Redis URLs, and a client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

from caseload.embedded_redis import free_port

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery"

START_IMPORT = """mutation($i: StartClientImportInput!) { startClientImport(input: $i) {
  __typename ... on StartClientImportSuccess { clientImport { id totalRows } }
  ... on MutationError { code message } } }"""
PROGRESS = """subscription($id: ID!) { clientImportProgress(id: $id) {
  status processedRows totalRows createdCount linkedCount errorCount duplicateCount } }"""


def stack_env(
    database_url: str | None, redis_url: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    """Settings for the processes; no database URL means the embedded default (SQLite in data_dir)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELOAD_")}
    env.update(
        {
            "CASELOAD_REDIS_URL": redis_url,
            "CASELOAD_DATA_DIR": str(data_dir),
            "PYTHONPATH": str(ROOT),
        }
    )
    if database_url:
        env["CASELOAD_DATABASE_URL"] = database_url
    env.update(extra)
    return env


@dataclass
class Stack:
    env: dict[str, str]
    api_ports: list[int] = field(default_factory=list)
    apis: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_api(self) -> str:
        port = free_port()
        self.apis.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "caseload.app:create_app",
                    "--factory",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                    "--no-proxy-headers",
                    "--ws",
                    "websockets-sansio",
                ],
                cwd=ROOT,
                env=self.env,
            )
        )
        self.api_ports.append(port)
        return f"http://127.0.0.1:{port}"

    def start_worker(self, **extra: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "caseload.cli", "worker"],
            cwd=ROOT,
            env={**self.env, **extra},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.workers.append(process)
        return process

    def stop(self) -> None:
        for process in [*self.workers, *self.apis]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.workers, *self.apis]:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "caseload.cli", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


async def wait_ready(base: str, limit: float = 20) -> None:
    async with httpx.AsyncClient() as http:
        started = time.monotonic()
        while time.monotonic() - started < limit:
            try:
                # the API is up once it reaches the database and Redis (workers start after it)
                checks = (await http.get(f"{base}/readyz")).json()
                if checks.get("database") and checks.get("redis"):
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{base} not ready")


VERIFY_EMAIL = """mutation($i: VerifyEmailInput!) { verifyEmail(input: $i) {
  __typename ... on MutationError { code message } } }"""


class FileInbox:
    """The `file` mail backend's directory: the .eml files the worker writes, read as they come."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seen: set[str] = set()
        self.recipients: list[str] = []
        self.contents: dict[str, bytes] = {}

    def poll(self) -> None:
        if not self.directory.exists():
            return
        for entry in os.scandir(self.directory):
            if entry.name in self._seen or not entry.name.endswith(".eml"):
                continue
            self._seen.add(entry.name)
            data = Path(entry.path).read_bytes()
            header = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
            match = re.search(rb"^To: (.+?)\r?$", header, re.MULTILINE)
            recipient = match.group(1).decode() if match else ""
            self.recipients.append(recipient)
            self.contents.setdefault(recipient, data)

    def count(self, domain: str) -> int:
        self.poll()
        return sum(1 for r in self.recipients if r.endswith("@" + domain))

    def message_to(self, address: str) -> bytes | None:
        self.poll()
        return self.contents.get(address)


class SmtpInbox:
    """A real SMTP server (aiosmtpd, its own thread) that keeps what it is sent, unparsed."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.recipients: list[str] = []
        self.contents: dict[str, bytes] = {}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: ARG002 - aiosmtpd calls it so
        for recipient in envelope.rcpt_tos:
            self.recipients.append(recipient)
            self.contents.setdefault(recipient, envelope.content)
        return "250 OK"

    def __enter__(self) -> SmtpInbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def count(self, domain: str) -> int:
        return sum(1 for r in list(self.recipients) if r.endswith("@" + domain))

    def message_to(self, address: str) -> bytes | None:
        return self.contents.get(address)


Inbox = FileInbox | SmtpInbox


async def wait_mails(inbox: Inbox, domain: str, expected: int, limit: float = 900) -> float:
    """perf_counter time at which `expected` messages to `domain` had arrived."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if inbox.count(domain) >= expected:
            return time.perf_counter()
        await asyncio.sleep(0.02)
    raise RuntimeError(f"only {inbox.count(domain)} of {expected} e-mails arrived")


async def sign_up(base: str, inbox: Inbox | None = None) -> str:
    """A provider, signed up and, given the inbox its mail reaches, confirmed through the link
    of the e-mail (a worker must run): only a confirmed provider may import."""
    query = """mutation($i: SignUpProviderInput!) { signUpProvider(input: $i) {
      ... on AuthSuccess { token } ... on MutationError { code message } } }"""
    email = f"bench-{uuid.uuid4().hex[:10]}@bench-providers.org"
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/graphql",
            json={
                "query": query,
                "variables": {"i": {"email": email, "password": PASSWORD, "displayName": "Dr B"}},
            },
        )
        token = str(response.json()["data"]["signUpProvider"]["token"])
        if inbox is None:
            return token
        deadline = time.monotonic() + 60
        while (mail := inbox.message_to(email)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the sign-up confirmation e-mail never arrived")
            await asyncio.sleep(0.05)
        message = BytesParser(policy=policy.default).parsebytes(mail)
        body = message.get_body(("plain",))
        found = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", body.get_content() if body else "")
        if not found:
            raise RuntimeError("no link in the confirmation e-mail")
        variables = {"i": {"token": found.group(1), "password": PASSWORD}}
        verified = await http.post(
            f"{base}/graphql", json={"query": VERIFY_EMAIL, "variables": variables}
        )
        if verified.json()["data"]["verifyEmail"]["__typename"] != "AuthSuccess":
            raise RuntimeError(f"verifyEmail failed: {verified.json()}")
    return token


async def upload(base: str, token: str, data: bytes, name: str, **options: Any) -> dict[str, Any]:
    operations = {"query": START_IMPORT, "variables": {"i": {"file": None, **options}}}
    async with httpx.AsyncClient(timeout=600) as http:
        response = await http.post(
            f"{base}/graphql",
            files={
                "operations": (None, json.dumps(operations)),
                "map": (None, json.dumps({"0": ["variables.i.file"]})),
                "0": (name, data, "application/octet-stream"),
            },
            headers={"authorization": f"Bearer {token}", "apollo-require-preflight": "1"},
        )
    result = response.json()["data"]["startClientImport"]
    if "clientImport" not in result:
        raise RuntimeError(f"import refused: {result}")
    return dict(result["clientImport"])


async def follow(
    base: str, token: str, import_id: str, on_event: Any = None
) -> list[dict[str, Any]]:
    """Every progress event of an import until it completes, with arrival times."""
    events: list[dict[str, Any]] = []
    url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], max_size=None) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        await ws.recv()
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": PROGRESS, "variables": {"id": import_id}},
                }
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 600))
            if message["type"] == "complete":
                return events
            if message["type"] != "next" or message["payload"].get("errors"):
                raise RuntimeError(f"subscription failed: {message}")
            event = dict(message["payload"]["data"]["clientImportProgress"])
            event["at"] = time.perf_counter()
            events.append(event)
            if on_event:
                on_event(event)


class PeakRss:
    """Samples the resident memory of a process and its child processes (the import's row
    reader runs in one) until stopped; keeps the peak of their sum in MB."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            try:
                total = self.process.memory_info().rss
            except psutil.Error:
                return
            for child in self._children():
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
            self.peak = max(self.peak, total / 1e6)
            await asyncio.sleep(0.02)

    def _children(self) -> list[psutil.Process]:
        try:
            return self.process.children(recursive=True)
        except psutil.Error:
            return []

    def __enter__(self) -> PeakRss:
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()


def machine_load() -> str:
    """`uptime` of this shared machine, so a figure taken while it was busy says so."""
    done = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    busy = os.getloadavg()[0] > (os.cpu_count() or 1)
    return done.stdout.strip() + ("  [BUSY: load above the core count]" if busy else "")
