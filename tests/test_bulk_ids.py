"""Ids made in bulk for import batches: text UUIDs (version 7) as Tortoise writes them, never
repeated, in the order they were made; the batch timestamp as the SQLite adapter writes it."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime

from resolvers.bulk_sql import new_ids


def test_ids_are_version_7_uuids_in_their_canonical_text() -> None:
    for text in new_ids(3) + new_ids(5000)[-3:]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert str(parsed) == text  # the same text as every id stored before


def test_ids_never_repeat_and_sort_in_the_order_they_were_made() -> None:
    batches = [new_ids(n) for n in (1, 500, 1500, 5000, 2, 4097)]
    made = [text for batch in batches for text in batch]
    assert len(set(made)) == len(made) == 11100
    assert made == sorted(made)  # within a batch and from one batch to the next


def test_the_id_carries_the_time_it_was_made() -> None:
    before = datetime.now(UTC).timestamp() * 1000
    millis = uuid.UUID(new_ids(1)[0]).int >> 80
    assert before - 1 <= millis <= datetime.now(UTC).timestamp() * 1000 + 1000


def test_the_batch_timestamp_is_the_text_sqlite_would_store() -> None:
    now = datetime(2026, 12, 2, 4, 30, 1, 250000, tzinfo=UTC)
    db = sqlite3.connect(":memory:")
    # Tortoise's SQLite executor registers this adapter for every datetime parameter
    from tortoise.backends.sqlite import executor  # noqa: F401 - registers the adapter

    adapted = db.execute("SELECT ?", (now,)).fetchone()[0]
    assert adapted == now.isoformat(" ") == "2026-12-02 04:30:01.250000+00:00"
