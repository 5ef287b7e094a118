"""Reading appointments: a provider's calendar, or a client's own, in keyset pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from models import Appointment
from resolvers import audit
from resolvers.actor import Actor
from resolvers.appointments.scheduling import AppointmentView, as_utc
from resolvers.bulk_sql import fetch_related
from resolvers.clients.views import client_view, links_of
from resolvers.cursors import count_of, read_time_cursor, time_cursor
from resolvers.errors import NotFound
from resolvers.pages import Page, page_size
from resolvers.policies import appointments_visible_to, parse_id, require_party


@dataclass(frozen=True)
class AppointmentListArgs:
    first: int = 50
    after: str | None = None
    client_id: str | None = None
    starts_before: datetime | None = None  # the range's end ("to")
    ends_after: datetime | None = None  # the range's start ("from")


async def _views(actor: Actor, rows: list[Appointment]) -> list[AppointmentView]:
    """Each appointment with its client as the viewer sees it, in one query for the lot."""
    links = await links_of(actor, {row.client_id for row in rows})
    return [
        AppointmentView(row, client_view(row.client, links.get(row.client_id)), row.provider)
        for row in rows
    ]


async def list_appointments(
    actor: Actor | None, args: AppointmentListArgs
) -> Page[AppointmentView]:
    """Appointments overlapping the range (if any), earliest first, cancelled ones included."""
    party = require_party(actor)
    first = page_size(args.first)
    query = appointments_visible_to(party)
    if args.client_id:
        try:
            query = query.filter(client_id=parse_id(args.client_id))
        except NotFound:
            return Page(items=[], has_next_page=False)
    if args.ends_after is not None:
        query = query.filter(ends_at__gt=as_utc(args.ends_after))
    if args.starts_before is not None:
        query = query.filter(starts_at__lt=as_utc(args.starts_before))
    count = count_of(query)
    if args.after:
        starts_at, last_id = read_time_cursor(args.after)
        query = query.filter(Q(starts_at__gt=starts_at) | Q(starts_at=starts_at, id__gt=last_id))
    rows = await fetch_related(
        query.order_by("starts_at", "id")
        .limit(first + 1)
        .select_related("provider", "client", "client__user")
    )
    views = await _views(party, rows[:first])
    items = [(time_cursor(v.appointment.starts_at, v.appointment.id), v) for v in views]
    # a page of appointments shows each client's name: audited, in one INSERT
    await audit.record_each(party, "appointments.list", [v.appointment.client_id for v in views])
    return Page(items=items, has_next_page=len(rows) > first, count=count)
