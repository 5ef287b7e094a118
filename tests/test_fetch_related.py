"""fetch_related builds a select_related page exactly as Tortoise's own executor does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tortoise.queryset import QuerySet

from models import Appointment, MessageThread
from resolvers.bulk_sql import fetch_related
from tests.support import (
    Api,
    accept_invitation,
    add_client,
    schedule,
    send,
    sign_up_provider,
)

RELATED = ("provider", "client", "client__user")


def state(obj: Any, depth: int = 0) -> Any:
    """An instance's fields and, recursively, its fetched related objects."""
    if obj is None or depth > 3:
        return obj
    fields = dict(vars(obj))
    for name in ("provider", "client", "user"):
        if f"_{name}" in fields:
            fields[f"_{name}"] = state(fields[f"_{name}"], depth + 1)
    return (type(obj).__name__, fields)


async def test_pages_are_built_as_tortoise_builds_them(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    accepted = await add_client(api, token, email="yes@example.org")
    pending = await add_client(api, token, email="not-yet@example.org")
    await accept_invitation(api, "yes@example.org")  # one client with an account, one without
    for n, entry in enumerate((accepted, pending)):
        client_id = entry["client"]["id"]
        await schedule(
            api, token, client_id, f"2031-03-1{n}T10:00:00+00:00", f"2031-03-1{n}T11:00:00+00:00"
        )
        await send(api, token, "Hello", clientId=client_id)
    queries: list[Callable[[], QuerySet[Any]]] = [
        lambda: Appointment.all().order_by("starts_at", "id").select_related(*RELATED),
        lambda: MessageThread.all().order_by("-last_message_at").limit(5).select_related(*RELATED),
        lambda: Appointment.filter(client__user_id__isnull=True).select_related(*RELATED[1:]),
    ]
    for query in queries:  # each run on a query of its own, as Tortoise needs
        expected = [state(row) for row in await query()]
        assert expected and [state(row) for row in await fetch_related(query())] == expected
    assert any(s[1]["_client"][1]["_user"] is None for s in expected)  # a LEFT JOIN that found none
