"""The raw baseline of bench/list_clients.py: the same 50 rows as plain Starlette JSON."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiosqlite
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DATABASE = os.environ["BENCH_SQLITE_PATH"]
PROVIDER = os.environ["BENCH_PROVIDER_ID"]

PAGE = """
SELECT c.id, c.legal_first_name, c.legal_last_name, c.preferred_name,
       CASE WHEN pc.accepted_at IS NULL THEN pc.email ELSE u.email END AS email,
       pc.accepted_at IS NOT NULL AS verified, c.mobile_phone,
       c.insurance_carrier, c.insurance_member_id, c.billing_brand, c.billing_last4,
       pc.added_at, pc.added_via
FROM provider_clients pc JOIN clients c ON c.id = pc.client_id LEFT JOIN users u ON u.id = c.user_id
WHERE pc.provider_id = ? AND pc.archived_at IS NULL
ORDER BY pc.sort_name, pc.id LIMIT 50
"""

state: dict[str, aiosqlite.Connection] = {}


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    state["db"] = await aiosqlite.connect(DATABASE)
    yield
    await state["db"].close()


async def clients(_request: Request) -> JSONResponse:
    cursor = await state["db"].execute(PAGE, (PROVIDER,))
    rows = await cursor.fetchall()
    keys = [d[0] for d in cursor.description]
    return JSONResponse({"clients": [dict(zip(keys, row, strict=True)) for row in rows]})


app = Starlette(routes=[Route("/clients", clients)], lifespan=lifespan)
