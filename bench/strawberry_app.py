"""The framework floor of bench/list_clients.py: a minimal Strawberry app returning 50 clients.

The same fields as the benchmark's query, the 50 rows read once at start-up and kept as
pre-built objects: what Strawberry itself costs per request, with no database and no logic.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime

import strawberry
from strawberry.asgi import GraphQL

from bench.plain_app import PAGE

DATABASE = os.environ["BENCH_SQLITE_PATH"]
PROVIDER = os.environ["BENCH_PROVIDER_ID"]


@strawberry.type
class Onboarding:
    email_verified: bool
    insurance_added: bool
    billing_added: bool
    forms_acknowledged: bool
    missing_steps: list[str]
    complete: bool


@strawberry.type
class Insurance:
    carrier: str
    member_id: str


@strawberry.type
class BillingMethod:
    brand: str
    last4: str


@strawberry.type
class Client:
    id: strawberry.ID
    display_name: str
    email: str
    email_verified: bool
    mobile_phone: str | None
    added_at: datetime
    added_via: str
    archived: bool
    onboarding: Onboarding
    insurance: Insurance | None
    billing_method: BillingMethod | None


@strawberry.type
class ClientEdge:
    cursor: str
    node: Client


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class ClientConnection:
    edges: list[ClientEdge]
    page_info: PageInfo


def _load() -> ClientConnection:
    db = sqlite3.connect(DATABASE)
    db.row_factory = sqlite3.Row
    rows = db.execute(PAGE, (PROVIDER,)).fetchall()
    db.close()
    edges = []
    for row in rows:
        insured = row["insurance_carrier"] is not None
        billed = row["billing_brand"] is not None
        onboarding = Onboarding(
            email_verified=bool(row["verified"]),
            insurance_added=insured,
            billing_added=billed,
            forms_acknowledged=False,
            missing_steps=["FORMS"],
            complete=False,
        )
        node = Client(
            id=strawberry.ID(row["id"]),
            display_name=f"{row['preferred_name'] or row['legal_first_name']} {row['legal_last_name']}",
            email=row["email"],
            email_verified=bool(row["verified"]),
            mobile_phone=row["mobile_phone"],
            added_at=datetime.fromisoformat(row["added_at"]),
            added_via=row["added_via"],
            archived=False,
            onboarding=onboarding,
            insurance=Insurance(
                carrier=row["insurance_carrier"], member_id=row["insurance_member_id"]
            )
            if insured
            else None,
            billing_method=BillingMethod(brand=row["billing_brand"], last4=row["billing_last4"])
            if billed
            else None,
        )
        edges.append(ClientEdge(cursor=str(row["id"]), node=node))
    return ClientConnection(edges=edges, page_info=PageInfo(has_next_page=True, end_cursor=None))


PAGE_OF_CLIENTS = _load()


@strawberry.type
class Query:
    @strawberry.field
    def clients(self, first: int = 50) -> ClientConnection:  # noqa: ARG002 - the same argument as ours, ignored
        return PAGE_OF_CLIENTS


app = GraphQL(strawberry.Schema(query=Query))
