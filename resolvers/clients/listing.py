"""Reading a provider's client list: search, filters, order and keyset pagination."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from typing import Any
from uuid import UUID

from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from models import Client, FormAcknowledgement, ProviderClient
from resolvers import audit
from resolvers.actor import Actor, ClientActor, ProviderActor
from resolvers.bulk_sql import columns_of, row_reader, select_list, sql_of
from resolvers.clients.views import ClientView, client_view, entry_view, link_view
from resolvers.cursors import count_of, encode_cursor, read_cursor, read_time_cursor
from resolvers.errors import NotFound
from resolvers.names import fold
from resolvers.onboarding.steps import clients_with_current_forms, current_form_ids
from resolvers.pages import Page, page_size
from resolvers.policies import links_visible_to, party_or_none, require_provider, visible_link


class ClientOrder(StrEnum):
    NAME_ASC = "NAME_ASC"
    NAME_DESC = "NAME_DESC"
    ADDED_DESC = "ADDED_DESC"
    ADDED_ASC = "ADDED_ASC"


class OnboardingFilter(StrEnum):
    ANY = "ANY"
    COMPLETE = "COMPLETE"
    INCOMPLETE = "INCOMPLETE"


@dataclass(frozen=True)
class ClientListArgs:
    first: int = 50
    after: str | None = None
    search: str | None = None
    archived: bool = False
    onboarding: OnboardingFilter = OnboardingFilter.ANY
    order: ClientOrder = ClientOrder.NAME_ASC


_ORDER_KEY = {
    # the entry's copy of the sort name: ORDER BY reads (provider, archived, sort_name, id)
    ClientOrder.NAME_ASC: ("sort_name", False),
    ClientOrder.NAME_DESC: ("sort_name", True),
    ClientOrder.ADDED_ASC: ("added_at", False),
    ClientOrder.ADDED_DESC: ("added_at", True),
}


def _sort_value(link: ProviderClient, order: ClientOrder) -> str:
    if order in (ClientOrder.NAME_ASC, ClientOrder.NAME_DESC):
        return str(link.sort_name)
    return link.added_at.isoformat()


async def _complete_clients_query(form_ids: list[UUID]) -> Any:
    return Subquery(
        FormAcknowledgement.filter(document_id__in=form_ids)
        .group_by("client_id")
        .annotate(n=Count("id"))
        .filter(n=len(form_ids))
        .values("client_id")
    )


async def _filtered(actor: Actor, args: ClientListArgs) -> QuerySet[ProviderClient]:
    query = links_visible_to(actor).filter(archived_at__isnull=not args.archived)
    if args.search and (needle := fold(" ".join(args.search.split()))):
        for word in needle.split(" "):
            query = query.filter(client__search_text__contains=word)
    if args.onboarding is not OnboardingFilter.ANY:
        form_ids = await current_form_ids()
        complete = Q(
            accepted_at__isnull=False,
            client__insurance_carrier__isnull=False,
            client__billing_token__isnull=False,
        )
        if form_ids:
            complete &= Q(client_id__in=await _complete_clients_query(form_ids))
        else:
            complete &= Q(id__in=[])
        query = query.filter(
            complete if args.onboarding is OnboardingFilter.COMPLETE else ~complete
        )
    return query


async def page_query(
    provider: ProviderActor, args: ClientListArgs
) -> tuple[Any, QuerySet[ProviderClient], list[str]]:
    """The page's ids (read in the order of one provider_clients index), the whole filtered
    list's query (for totalCount), and the page's order."""
    first = page_size(args.first)
    field, descending = _ORDER_KEY[args.order]
    query = await _filtered(provider, args)
    page_query = query
    if args.after:
        value: Any
        if field == "added_at":
            value, last_id = read_time_cursor(args.after)
        else:
            value, last_id = read_cursor(args.after)
        op = "lt" if descending else "gt"
        page_query = page_query.filter(
            Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"id__{op}": last_id})
        )
    prefix = "-" if descending else ""
    # ids only: no join unless a filter needs one, so the page is read from the provider's
    # index in order (the rows themselves are fetched by id around it)
    # On the active list archived_at is NULL throughout: ordering by it changes nothing, and
    # it lets PostgreSQL see that the index's order is the page's (an IS NULL condition does
    # not make a column constant for its planner; SQLite reads the index in order either way)
    order = [f"{prefix}{field}", f"{prefix}id"]
    if not args.archived:
        order.insert(0, f"{prefix}archived_at")
    page = page_query.order_by(*order).limit(first + 1).values("id")
    return page, query, order


@cache
def _page_rows() -> tuple[str, int, Callable[..., ProviderClient], Callable[..., Client]]:
    """The page's rows with their profiles and the account's address, read as plain rows
    (building them through select_related cost more than the rest of the request); {page} is
    the page's ids in order: the ORM's query of the provider's list, filters and policy
    included. Made on first use, once Tortoise has added the foreign key columns."""
    links, clients = columns_of(ProviderClient), columns_of(Client)
    columns = f"{select_list('pc', links)}, {select_list('c', clients)}, u.email"
    sql = (
        "SELECT " + columns + ' FROM "provider_clients" pc JOIN "clients" c ON c.id = '  # noqa: S608 - our names; {page} is parameterized
        'pc.client_id LEFT JOIN "users" u ON u.id = c.user_id WHERE pc.id IN ({page}) '
        "ORDER BY {order}"
    )
    return sql, len(links), row_reader(ProviderClient, links), row_reader(Client, clients)


def _order_sql(order: list[str]) -> str:
    return ", ".join(
        f'pc."{key.lstrip("-")}" {"DESC" if key.startswith("-") else "ASC"}' for key in order
    )


async def _page_views(page: Any, order: list[str]) -> list[ClientView]:
    template, split, read_link, read_client = _page_rows()
    inner, params = sql_of(page)
    sql = template.format(page=inner, order=_order_sql(order))
    _, rows = await ProviderClient._meta.db.execute_query(sql, params)
    views = []
    for row in rows:
        values = tuple(row)
        link, client = read_link(values[:split]), read_client(values[split:-1])
        views.append(entry_view(client, link, values[-1]))
    return views


async def list_clients(
    actor: Actor | None, args: ClientListArgs, *, with_onboarding: bool = False
) -> Page[ClientView]:
    """A page of the provider's list; `with_onboarding` reads the page's form acknowledgements
    with it (one query for the page, none per item)."""
    provider = require_provider(actor)
    first = page_size(args.first)
    page, query, order = await page_query(provider, args)
    # one statement: the page's ids, read from the index in order, then those rows with their
    # profiles (the outer ORDER BY sorts the page's rows only)
    found = await _page_views(page, order)
    views = found[:first]
    if with_onboarding:
        done = await clients_with_current_forms([v.client.id for v in views if v.accepted])
        views = [replace(v, forms_acknowledged=v.client.id in done) for v in views]
    items = [
        (encode_cursor([_sort_value(v.link, args.order), str(v.link.id)]), v)
        for v in views
        if v.link is not None
    ]
    # every read of client data is audited, a page in one INSERT
    await audit.record_each(provider, "client.list", [v.client.id for v in views])
    return Page(items=items, has_next_page=len(found) > first, count=count_of(query))


async def get_client(
    actor: Actor | None, client_id: str, *, audit_read: bool = True
) -> ClientView | None:
    """A client on the provider's own list (or a client's own record); else None, like an unknown id."""
    party = party_or_none(actor)
    if isinstance(party, ClientActor) and str(party.client_id) == str(client_id):
        return await own_client(party)
    if not isinstance(party, ProviderActor):
        return None
    try:
        link = await visible_link(party, client_id)
    except NotFound:
        return None
    if audit_read:
        await audit.record(party, "client.read", client_id=link.client_id)
    return link_view(link)


async def own_client(actor: Actor | None) -> ClientView | None:
    """A client's own record, as the client sees it."""
    person = party_or_none(actor)
    if not isinstance(person, ClientActor):
        return None
    client = await Client.get_or_none(id=person.client_id).select_related("user")
    if client is None:
        return None
    await audit.record(person, "client.read", client_id=client.id)
    return client_view(client, None)


async def get_clients(actor: Actor | None, client_ids: Sequence[str]) -> list[ClientView]:
    """The clients among `client_ids` on the provider's own list, in the order asked.

    One query for any number of ids (a live event of an import batch names thousands);
    ids not on the list, or not ids at all, are left out like unknown ones.
    """
    provider = party_or_none(actor)
    if not isinstance(provider, ProviderActor) or not client_ids:
        return []
    wanted: dict[UUID, None] = {}
    for raw in client_ids:
        try:
            wanted[UUID(str(raw))] = None
        except ValueError:
            continue
    links = await (
        links_visible_to(provider)
        .filter(client_id__in=list(wanted))
        .select_related("client", "client__user")
    )
    by_client = {link.client_id: link for link in links}
    return [
        link_view(link) for client_id in wanted if (link := by_client.get(client_id)) is not None
    ]
