"""Test helpers: a GraphQL client over real HTTP, factories, an in-process burst worker."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx

from caseload.mail import read_mail_dir
from caseload.settings import Settings
from workers.settings import build_worker

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures" / "imports"
PASSWORD = "correct-horse-battery"


@dataclass
class Api:
    url: str
    settings: Settings
    http: httpx.AsyncClient
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The data of a query that must not produce top-level errors."""
        response = await self.post(query, variables, token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


AUTH_FIELDS = """
__typename
... on AuthSuccess { token expiresAt viewer { id email role } }
... on MutationError { code message }
... on InputError { fields { field message } }
"""


async def sign_up_provider(
    api: Api, *, email: str | None = None, name: str = "Dr Who"
) -> tuple[str, dict[str, Any]]:
    email = email or f"provider-{uuid.uuid4().hex[:8]}@example.com"
    data = await api.gql(
        f"mutation($i: SignUpProviderInput!) {{ signUpProvider(input: $i) {{ {AUTH_FIELDS} }} }}",
        {"i": {"email": email, "password": PASSWORD, "displayName": name}},
    )
    result = data["signUpProvider"]
    assert result["__typename"] == "AuthSuccess", result
    return result["token"], result["viewer"]


async def sign_up_client(api: Api, *, email: str | None = None) -> tuple[str, dict[str, Any]]:
    email = email or f"client-{uuid.uuid4().hex[:8]}@example.com"
    data = await api.gql(
        f"mutation($i: SignUpClientInput!) {{ signUpClient(input: $i) {{ {AUTH_FIELDS} }} }}",
        {"i": {"email": email, "password": PASSWORD, "firstName": "Cleo", "lastName": "Client"}},
    )
    result = data["signUpClient"]
    assert result["__typename"] == "AuthSuccess", result
    return result["token"], result["viewer"]


CLIENT_FIELDS = """
id legalFirstName legalLastName preferredName displayName email emailVerified mobilePhone
dateOfBirth insurance { carrier memberId dateOfBirth } billingMethod { brand last4 }
onboarding { emailVerified insuranceAdded billingAdded formsAcknowledged missingSteps complete invitedAt }
archived archivedAt addedAt addedVia viewerCanEdit editLockedReason
"""

ADD_CLIENT = f"""
mutation($i: AddClientInput!) {{ addClient(input: $i) {{
  __typename
  ... on AddClientSuccess {{ alreadyInList linkedExistingAccount client {{ {CLIENT_FIELDS} }} }}
  ... on MutationError {{ code message }}
  ... on InputError {{ fields {{ field message }} }}
}} }}
"""


async def add_client(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    payload = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": f"c-{uuid.uuid4().hex[:8]}@example.org",
    }
    payload.update(fields)
    data = await api.gql(ADD_CLIENT, {"i": payload}, token)
    return data["addClient"]


async def run_worker(settings: Settings) -> None:
    """A real arq worker in burst mode, in this process: runs what is queued, then returns."""
    worker = build_worker(
        settings,
        settings.redis_url or "",
        own_database=False,
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
        cron_jobs=[],
    )
    try:
        await worker.main()
    finally:
        await worker.close()


def mail_files(settings: Settings) -> list[Path]:
    return read_mail_dir(settings.mail_dir)


def read_mail(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def link_token_of(message: EmailMessage) -> str:
    match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", message.get_content())
    assert match, "no link in the e-mail"
    return match.group(1)


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextmanager
def count_queries() -> Iterator[_Counter]:
    """Counts SQL statements Tortoise sends (it logs each one at DEBUG)."""
    logger = logging.getLogger("tortoise.db_client")
    counter = _Counter()
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
