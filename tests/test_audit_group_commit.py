"""Audited reads share commits under load, and each read's rows are committed before its answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from models import AuditEvent
from tests.support import Api, add_client, sign_up_provider

LIST = "{ clients(first: 10) { edges { node { id } } } }"


class _AuditInserts(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        # Tortoise logs ("%s: %s", query, values)
        query = record.args[0] if isinstance(record.args, tuple) and record.args else ""
        self.count += str(query).startswith('INSERT INTO "audit_events"')


@contextmanager
def audit_inserts() -> Iterator[_AuditInserts]:
    """Counts the INSERTs into audit_events Tortoise sends (it logs each one at DEBUG)."""
    logger = logging.getLogger("tortoise.db_client")
    handler = _AuditInserts()
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


async def _listed(api: Api, token: str) -> None:
    await api.gql(LIST, token=token)


async def test_every_concurrent_read_is_audited_once_and_before_its_answer(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    for i in range(3):
        await add_client(api, token, email=f"c{i}@example.org")
    # one at a time: the rows are there (committed, read from another connection) as soon as
    # the answer is
    for done in range(1, 4):
        await _listed(api, token)
        assert await AuditEvent.filter(action="client.list").count() == 3 * done
    # 24 reads at once: every one written, none twice, whichever commit carried it
    with audit_inserts() as inserts:
        await asyncio.gather(*(_listed(api, token) for _ in range(24)))
    assert 1 <= inserts.count < 24  # commits shared
    events = await AuditEvent.filter(action="client.list").values_list("client_id", flat=True)
    assert len(events) == 3 * 27
    assert {events.count(e) for e in set(events)} == {27}
