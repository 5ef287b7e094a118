"""Client types, the client list queries and the provider's client mutations."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from resolvers import client_edits, client_list, clients, names
from resolvers.client_input import ClientChanges, InsuranceData, NewClient
from resolvers.client_views import ClientView, invitation_of, onboarding_of
from resolvers.clients import AddedClient
from resolvers.errors import DomainError
from resolvers.policies import edit_permission
from schema.context import Info
from schema.enums import (
    AddedVia,
    ClientOrder,
    InvitationStatus,
    OnboardingFilter,
    OnboardingStep,
)
from schema.errors import (
    AuthError,
    EditLockedError,
    InputError,
    InvalidStateError,
    NotFoundError,
    expected,
    public_error,
)
from schema.nodes import Counted, Node, PageInfo

if TYPE_CHECKING:
    from schema.messaging import MessageThreadType

NEVER_REVEALED = "Always false: whether an address has an account is never revealed."


@strawberry.type
class Insurance:
    carrier: str
    member_id: str
    date_of_birth: date


@strawberry.type
class BillingMethod:
    brand: str
    last4: str


@strawberry.type
class Onboarding:
    email_verified: bool
    insurance_added: bool
    billing_added: bool
    forms_acknowledged: bool
    missing_steps: list[OnboardingStep]
    complete: bool
    invited_at: datetime | None


@strawberry.type(description="The invitation of one provider's list entry.")
class Invitation:
    status: InvitationStatus
    sent_at: datetime | None
    accepted_at: datetime | None


@strawberry.type(name="Client")
class ClientType(Node):
    view: strawberry.Private[ClientView]
    legal_first_name: str
    legal_last_name: str
    preferred_name: str | None
    display_name: str
    email: str
    email_verified: bool
    mobile_phone: str | None
    date_of_birth: date | None

    @strawberry.field
    def insurance(self) -> Insurance | None:
        c = self.view.client
        if not (c.insurance_carrier and c.insurance_member_id and c.insurance_date_of_birth):
            return None
        return Insurance(
            carrier=c.insurance_carrier,
            member_id=c.insurance_member_id,
            date_of_birth=c.insurance_date_of_birth,
        )

    @strawberry.field
    def billing_method(self) -> BillingMethod | None:
        c = self.view.client
        if not (c.billing_brand and c.billing_last4):
            return None
        return BillingMethod(brand=c.billing_brand, last4=c.billing_last4)

    @strawberry.field
    async def onboarding(self, info: Info) -> Onboarding:
        forms = await info.context.loaders.forms_acknowledged.load(self.view.client.id)
        state = onboarding_of(self.view, forms)
        return Onboarding(
            email_verified=state.email_verified,
            insurance_added=state.insurance_added,
            billing_added=state.billing_added,
            forms_acknowledged=state.forms_acknowledged,
            missing_steps=[OnboardingStep(s) for s in state.missing_steps],
            complete=state.complete,
            invited_at=state.invited_at,
        )

    @strawberry.field
    def archived(self) -> bool:
        return self.view.link is not None and self.view.link.archived_at is not None

    @strawberry.field
    def archived_at(self) -> datetime | None:
        return self.view.link.archived_at if self.view.link else None

    @strawberry.field
    def added_at(self) -> datetime | None:
        return self.view.link.added_at if self.view.link else None

    @strawberry.field
    def added_via(self) -> AddedVia | None:
        return self.view.link.added_via if self.view.link else None

    @strawberry.field
    def viewer_can_edit(self, info: Info) -> bool:
        return edit_permission(info.context.actor, self.view) is None

    @strawberry.field
    def edit_locked_reason(self, info: Info) -> str | None:
        return edit_permission(info.context.actor, self.view)

    @strawberry.field(
        description="This entry's invitation; null for a client who came by messaging."
    )
    def invitation(self) -> Invitation | None:
        invitation = invitation_of(self.view)
        if invitation is None:
            return None
        return Invitation(
            status=invitation.status,
            sent_at=invitation.sent_at,
            accepted_at=invitation.accepted_at,
        )

    @strawberry.field(description="The viewing provider's conversation with this client.")
    async def message_thread(
        self, info: Info
    ) -> Annotated[MessageThreadType, strawberry.lazy("schema.messaging")] | None:
        from schema.messaging import thread_of_client

        return await thread_of_client(info, self.view)

    @classmethod
    def from_view(cls, view: ClientView) -> ClientType:
        c = view.client
        return cls(
            id=strawberry.ID(str(c.id)),
            view=view,
            legal_first_name=c.legal_first_name,
            legal_last_name=c.legal_last_name,
            preferred_name=c.preferred_name,
            display_name=names.display_name(
                c.legal_first_name, c.legal_last_name, c.preferred_name
            ),
            email=view.email,
            email_verified=view.email_verified,
            mobile_phone=c.mobile_phone,
            date_of_birth=c.date_of_birth,
        )


@strawberry.type
class ClientEdge:
    cursor: str
    node: ClientType


@strawberry.type
class ClientConnection(Counted):
    edges: list[ClientEdge]
    page_info: PageInfo


@strawberry.input
class InsuranceInput:
    carrier: str
    member_id: str
    date_of_birth: date

    def to_data(self) -> InsuranceData:
        return InsuranceData(self.carrier, self.member_id, self.date_of_birth)


@strawberry.input
class AddClientInput:
    first_name: str
    last_name: str
    email: str
    mobile_phone: str | None = None
    preferred_name: str | None = None
    insurance: InsuranceInput | None = None

    def to_data(self) -> NewClient:
        return NewClient(
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            mobile_phone=self.mobile_phone,
            preferred_name=self.preferred_name,
            insurance=self.insurance.to_data() if self.insurance else None,
        )


@strawberry.type
class AddClientSuccess:
    client: ClientType
    already_in_list: bool
    linked_existing_account: bool = strawberry.field(deprecation_reason=NEVER_REVEALED)

    @classmethod
    def from_added(cls, added: AddedClient) -> AddClientSuccess:
        return cls(
            client=ClientType.from_view(added.view),
            already_in_list=added.already_in_list,
            linked_existing_account=added.linked_existing_account,
        )


AddClientResult = Annotated[
    AddClientSuccess | InputError | AuthError, strawberry.union("AddClientResult")
]


@strawberry.input
class AddClientsInput:
    clients: list[AddClientInput]


@strawberry.type
class AddClientsSuccess:
    results: list[AddClientResult]


AddClientsResult = Annotated[
    AddClientsSuccess | InputError | AuthError, strawberry.union("AddClientsResult")
]


@strawberry.input
class UpdateClientInput:
    id: strawberry.ID
    legal_first_name: str | None = None
    legal_last_name: str | None = None
    preferred_name: str | None = None
    email: str | None = None
    mobile_phone: str | None = None
    date_of_birth: date | None = None
    insurance: InsuranceInput | None = None

    def to_changes(self) -> ClientChanges:
        return ClientChanges(
            legal_first_name=self.legal_first_name,
            legal_last_name=self.legal_last_name,
            preferred_name=self.preferred_name,
            email=self.email,
            mobile_phone=self.mobile_phone,
            date_of_birth=self.date_of_birth,
            insurance=self.insurance.to_data() if self.insurance else None,
        )


@strawberry.type
class ClientSuccess:
    client: ClientType


ClientResult = Annotated[
    ClientSuccess | InputError | AuthError | NotFoundError | EditLockedError | InvalidStateError,
    strawberry.union("ClientResult"),
]


def client_result(view: ClientView) -> ClientSuccess:
    return ClientSuccess(client=ClientType.from_view(view))


async def own_client(info: Info) -> ClientType | None:
    view = await client_list.own_client(info.context.actor)
    return ClientType.from_view(view) if view else None


@strawberry.type
class ClientQueries:
    @strawberry.field
    async def clients(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        search: str | None = None,
        archived: bool | None = False,
        onboarding: OnboardingFilter | None = OnboardingFilter.ANY,
        order_by: ClientOrder | None = ClientOrder.NAME_ASC,
    ) -> ClientConnection:
        args = client_list.ClientListArgs(
            first=50 if first is None else first,
            after=after,
            search=search,
            archived=bool(archived),
            onboarding=onboarding or client_list.OnboardingFilter.ANY,
            order=order_by or client_list.ClientOrder.NAME_ASC,
        )
        try:
            page = await client_list.list_clients(info.context.actor, args)
        except DomainError as error:
            raise public_error(error) from None
        edges = [ClientEdge(cursor=c, node=ClientType.from_view(v)) for c, v in page.items]
        return ClientConnection(
            edges=edges,
            page_info=PageInfo.of(edges, page.has_next_page, after),
            count=page.count,
        )

    @strawberry.field
    async def client(self, info: Info, id: strawberry.ID) -> ClientType | None:
        view = await client_list.get_client(info.context.actor, id)
        return ClientType.from_view(view) if view else None


@strawberry.type
class ClientMutations:
    @strawberry.mutation
    async def add_client(self, info: Info, input: AddClientInput) -> AddClientResult:
        ctx = info.context
        try:
            added = await clients.add_client(ctx.services, ctx.actor, input.to_data())
        except DomainError as error:
            return expected(error, InputError, AuthError)
        return AddClientSuccess.from_added(added)

    @strawberry.mutation
    async def add_clients(self, info: Info, input: AddClientsInput) -> AddClientsResult:
        ctx = info.context
        try:
            results = await clients.add_clients(
                ctx.services, ctx.actor, [item.to_data() for item in input.clients]
            )
        except DomainError as error:
            return expected(error, InputError, AuthError)
        return AddClientsSuccess(
            results=[
                AddClientSuccess.from_added(r)
                if isinstance(r, AddedClient)
                else expected(r, InputError, AuthError)
                for r in results
            ]
        )

    @strawberry.mutation
    async def update_client(self, info: Info, input: UpdateClientInput) -> ClientResult:
        ctx = info.context
        try:
            view = await client_edits.update_client(
                ctx.services, ctx.actor, input.id, input.to_changes()
            )
        except DomainError as error:
            return expected(
                error, InputError, AuthError, NotFoundError, EditLockedError, InvalidStateError
            )
        return client_result(view)

    @strawberry.mutation
    async def archive_client(self, info: Info, id: strawberry.ID) -> ClientResult:
        return await _set_archived(info, id, True)

    @strawberry.mutation
    async def unarchive_client(self, info: Info, id: strawberry.ID) -> ClientResult:
        return await _set_archived(info, id, False)


async def _set_archived(info: Info, client_id: str, archived: bool) -> ClientResult:
    ctx = info.context
    try:
        view = await client_edits.set_archived(ctx.services, ctx.actor, client_id, archived)
    except DomainError as error:
        return expected(
            error, InputError, AuthError, NotFoundError, EditLockedError, InvalidStateError
        )
    return client_result(view)
