"""Client types, the client list queries and the provider's client mutations."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from graphql import FieldNode

from resolvers import names
from resolvers.clients import adding as clients
from resolvers.clients import edits as client_edits
from resolvers.clients import listing as client_list
from resolvers.clients.adding import AddedClient
from resolvers.clients.checks import ClientChanges, InsuranceData, NewClient
from resolvers.clients.views import ClientView, invitation_of, onboarding_of
from resolvers.errors import DomainError
from resolvers.onboarding.steps import OnboardingState
from resolvers.policies import edit_permission
from schema.context import Info
from schema.enum_docs import describe_enum
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
from schema.nodes import (
    CURSOR,
    EDGES,
    NODE,
    PAGE_INFO,
    After,
    Counted,
    First,
    Node,
    PageInfo,
    connection,
)

if TYPE_CHECKING:
    from schema.messaging import MessageThreadType

NEVER_REVEALED = "Always false: whether an address has an account is never revealed."

describe_enum(
    AddedVia,
    "How a client came onto a provider's list.",
    {
        "MANUAL": "The provider added them (addClient, addClients).",
        "IMPORT": "A file import added them.",
        "MESSAGE": "They wrote to the provider first.",
    },
)
describe_enum(
    OnboardingFilter,
    "Which clients to list by onboarding.",
    {
        "ANY": "Every client.",
        "COMPLETE": "Clients who finished every onboarding step.",
        "INCOMPLETE": "Clients with a step left.",
    },
)
describe_enum(
    ClientOrder,
    "The order of a client list.",
    {
        "NAME_ASC": "By last name, then first name, A to Z.",
        "NAME_DESC": "By last name, then first name, Z to A.",
        "ADDED_DESC": "Most recently added first.",
        "ADDED_ASC": "Earliest added first.",
    },
)
describe_enum(
    InvitationStatus,
    "Where a list entry's invitation stands.",
    {
        "PENDING": "Queued, not sent yet.",
        "SENT": "Sent; not accepted yet.",
        "FAILED": "Given up after retries; resendInvitation tries again.",
        "ACCEPTED": "The person accepted this provider's entry.",
    },
)
# Contact details are stored normalized: what is returned may differ from what was sent.
E164 = "in E.164 form (`+15555550123`); a national number is read in the server's region"
NULL_KEEPS = "null leaves it as it is"
CLIENT_ID = "The client's id."


@strawberry.type(description="A client's health insurance.")
class Insurance:
    carrier: str = strawberry.field(description="The insurance company.")
    member_id: str = strawberry.field(description="The member id on the insurance card.")
    date_of_birth: date = strawberry.field(description="The insured person's date of birth.")


@strawberry.type(description="A client's card, as the payment processor describes it.")
class BillingMethod:
    brand: str = strawberry.field(description="The card's brand, e.g. `visa`.")
    last4: str = strawberry.field(description="The card number's last four digits.")


@strawberry.type(
    description="A client's onboarding steps. Until the client accepts the provider's "
    "invitation, every step reads as not done."
)
class Onboarding:
    email_verified: bool = strawberry.field(description="The e-mail address is confirmed.")
    insurance_added: bool = strawberry.field(description="Insurance is on file.")
    billing_added: bool = strawberry.field(description="A billing method is on file.")
    forms_acknowledged: bool = strawberry.field(
        description="The current version of every required form is acknowledged."
    )
    missing_steps: list[OnboardingStep] = strawberry.field(
        description="The steps left, in the order a client takes them."
    )
    complete: bool = strawberry.field(description="No step is left: appointments can be confirmed.")
    invited_at: datetime | None = strawberry.field(
        description="When an invitation e-mail went out; null if none has."
    )


@strawberry.type(description="The invitation of one provider's list entry.")
class Invitation:
    status: InvitationStatus = strawberry.field(description="Where it stands.")
    sent_at: datetime | None = strawberry.field(
        description="When it was last sent; null before the first send."
    )
    accepted_at: datetime | None = strawberry.field(
        description="When the person accepted it; null until then."
    )


def _onboarding(state: OnboardingState) -> Onboarding:
    return Onboarding(
        email_verified=state.email_verified,
        insurance_added=state.insurance_added,
        billing_added=state.billing_added,
        forms_acknowledged=state.forms_acknowledged,
        missing_steps=[OnboardingStep(s) for s in state.missing_steps],
        complete=state.complete,
        invited_at=state.invited_at,
    )


def _onboarding_field(root: ClientType, info: Info) -> Onboarding:
    view = root.view
    if not view.accepted or view.forms_acknowledged is not None:
        return _onboarding(onboarding_of(view, bool(view.forms_acknowledged)))
    # Not read with the page: graphql-core awaits the awaitable a resolver returns, so the
    # field stays synchronous (no coroutine per item) where the answer is already known.
    return cast("Onboarding", _load_onboarding(info, view))


async def _load_onboarding(info: Info, view: ClientView) -> Onboarding:
    forms = await info.context.loaders.forms_acknowledged.load(view.client.id)
    return _onboarding(onboarding_of(view, forms))


@strawberry.type(
    name="Client",
    description="A client, as the viewer sees them. A provider sees its own list entry (what "
    "it entered) until the client accepts the invitation, then the client's own information, "
    "read-only.",
)
class ClientType(Node):
    view: strawberry.Private[ClientView]
    legal_first_name: str = strawberry.field(description="Legal first name.")
    legal_last_name: str = strawberry.field(description="Legal last name.")
    preferred_name: str | None = strawberry.field(
        description="The name they go by, if not their legal first name."
    )
    display_name: str = strawberry.field(
        description="The preferred (or legal first) name and the legal last name."
    )
    email: str = strawberry.field(description="Their e-mail address.")
    email_verified: bool = strawberry.field(
        description="They confirmed this address (for a provider: they accepted the invitation)."
    )
    mobile_phone: str | None = strawberry.field(description="Mobile phone, in E.164 form.")
    date_of_birth: date | None = strawberry.field(description="Date of birth.")

    # Plain values, set by from_view: a field with a resolver costs graphql-core and Strawberry
    # an info object, argument parsing and an extension chain per item of every page.
    insurance: Insurance | None = strawberry.field(
        description="Their insurance; null until it is added."
    )
    billing_method: BillingMethod | None = strawberry.field(
        description="Their card on file; null until one is added."
    )

    # declared as a value (not a method) to keep its place in the schema's field order
    onboarding: Onboarding = strawberry.field(
        resolver=_onboarding_field,
        description="Their onboarding steps.",
    )
    archived: bool = strawberry.field(
        description="Archived on the viewing provider's list (hidden from its default list)."
    )
    archived_at: datetime | None = strawberry.field(
        description="When the viewing provider archived them; null if not archived."
    )
    added_at: datetime | None = strawberry.field(
        description="When they came onto the viewing provider's list; null for the client's own "
        "record."
    )
    added_via: AddedVia | None = strawberry.field(
        description="How they came onto the viewing provider's list; null for the client's own "
        "record."
    )

    @strawberry.field(description="The viewer may change this information now.")
    def viewer_can_edit(self, info: Info) -> bool:
        return edit_permission(info.context.actor, self.view) is None

    @strawberry.field(
        description="Why the viewer may not change this information, for a person; null when "
        "they may."
    )
    def edit_locked_reason(self, info: Info) -> str | None:
        return edit_permission(info.context.actor, self.view)

    @strawberry.field(
        description="This entry's invitation; null for a client who came by messaging, one "
        "imported without invitations, and the client's own record."
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

    @strawberry.field(
        description="The viewing provider's conversation with this client; null while there "
        "is none."
    )
    async def message_thread(
        self, info: Info
    ) -> Annotated[MessageThreadType, strawberry.lazy("schema.messaging")] | None:
        from schema.messaging import thread_of_client

        return await thread_of_client(info, self.view)

    @classmethod
    def from_view(cls, view: ClientView) -> ClientType:
        c, link = view.client, view.link
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
            insurance=Insurance(
                carrier=c.insurance_carrier,
                member_id=c.insurance_member_id,
                date_of_birth=c.insurance_date_of_birth,
            )
            if c.insurance_carrier and c.insurance_member_id and c.insurance_date_of_birth
            else None,
            billing_method=BillingMethod(brand=c.billing_brand, last4=c.billing_last4)
            if c.billing_brand and c.billing_last4
            else None,
            archived=link is not None and link.archived_at is not None,
            archived_at=link.archived_at if link else None,
            added_at=link.added_at if link else None,
            added_via=link.added_via if link else None,
        )


@strawberry.type(description="A client in a client list.")
class ClientEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: ClientType = strawberry.field(description=NODE)


@strawberry.type(description="A page of a provider's client list.")
class ClientConnection(Counted):
    edges: list[ClientEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)


@strawberry.input(description="A client's health insurance; every field is required.")
class InsuranceInput:
    carrier: str = strawberry.field(description="The insurance company.")
    member_id: str = strawberry.field(
        description="The member id on the card; spaces are dropped; at most 100 characters."
    )
    date_of_birth: date = strawberry.field(
        description="The insured person's date of birth: a real one, not before 1900."
    )

    def to_data(self) -> InsuranceData:
        return InsuranceData(self.carrier, self.member_id, self.date_of_birth)


@strawberry.input(description="A client to put on the provider's list.")
class AddClientInput:
    first_name: str = strawberry.field(description="Legal first name.")
    last_name: str = strawberry.field(description="Legal last name.")
    email: str = strawberry.field(description="E-mail address; the invitation goes to it.")
    mobile_phone: str | None = strawberry.field(
        default=None, description=f"Mobile phone, stored {E164}."
    )
    preferred_name: str | None = strawberry.field(
        default=None, description="The name they go by, if not their legal first name."
    )
    insurance: InsuranceInput | None = strawberry.field(
        default=None, description="Their insurance, if known."
    )

    def to_data(self) -> NewClient:
        return NewClient(
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            mobile_phone=self.mobile_phone,
            preferred_name=self.preferred_name,
            insurance=self.insurance.to_data() if self.insurance else None,
        )


@strawberry.type(description="The client is on the list.")
class AddClientSuccess:
    client: ClientType = strawberry.field(description="The list entry.")
    already_in_list: bool = strawberry.field(
        description="The address was on the list already: nothing was added or sent."
    )
    linked_existing_account: bool = strawberry.field(
        description="Always false.", deprecation_reason=NEVER_REVEALED
    )

    @classmethod
    def from_added(cls, added: AddedClient) -> AddClientSuccess:
        return cls(
            client=ClientType.from_view(added.view),
            already_in_list=added.already_in_list,
            linked_existing_account=added.linked_existing_account,
        )


AddClientResult = Annotated[
    AddClientSuccess | InputError | AuthError,
    strawberry.union("AddClientResult", description="The client added, or why not."),
]


@strawberry.input(description="Several clients to put on the list at once.")
class AddClientsInput:
    clients: list[AddClientInput] = strawberry.field(
        description="At most 100; use an import for more."
    )


@strawberry.type(description="Each client's own answer.")
class AddClientsSuccess:
    results: list[AddClientResult] = strawberry.field(
        description="One per input item, in the same order."
    )


AddClientsResult = Annotated[
    AddClientsSuccess | InputError | AuthError,
    strawberry.union(
        "AddClientsResult", description="Each client's answer, or why the batch was refused."
    ),
]


@strawberry.input(
    description="Changes to a provider's list entry; for every field, null leaves it as it is."
)
class UpdateClientInput:
    id: strawberry.ID = strawberry.field(description="The client's id.")
    legal_first_name: str | None = strawberry.field(
        default=None, description=f"Legal first name; {NULL_KEEPS}."
    )
    legal_last_name: str | None = strawberry.field(
        default=None, description=f"Legal last name; {NULL_KEEPS}."
    )
    preferred_name: str | None = strawberry.field(
        default=None, description=f"Preferred name; an empty string clears it; {NULL_KEEPS}."
    )
    email: str | None = strawberry.field(
        default=None,
        description="E-mail address; the invitation goes to the new address instead; "
        f"{NULL_KEEPS}.",
    )
    mobile_phone: str | None = strawberry.field(
        default=None,
        description=f"Mobile phone, stored {E164}; an empty string clears it; {NULL_KEEPS}.",
    )
    date_of_birth: date | None = strawberry.field(
        default=None, description=f"Date of birth; {NULL_KEEPS}."
    )
    insurance: InsuranceInput | None = strawberry.field(
        default=None, description=f"Insurance, replaced as a whole; {NULL_KEEPS}."
    )

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


@strawberry.type(description="The client, as changed.")
class ClientSuccess:
    client: ClientType = strawberry.field(description="The client after the change.")


ClientResult = Annotated[
    ClientSuccess | InputError | AuthError | NotFoundError | EditLockedError | InvalidStateError,
    strawberry.union("ClientResult", description="The client as changed, or why not."),
]


def client_result(view: ClientView) -> ClientSuccess:
    return ClientSuccess(client=ClientType.from_view(view))


async def own_client(info: Info) -> ClientType | None:
    view = await client_list.own_client(info.context.actor)
    return ClientType.from_view(view) if view else None


def _selects_onboarding(info: Info) -> bool:
    """Whether a page's nodes select `onboarding` (read then with the page, not per item).

    Read from the document itself (strawberry's selected_fields converts every selection);
    a fragment anywhere counts as yes rather than working out what it selects.
    """
    path = ("edges", "node", "onboarding")
    level: list[Any] = list(info._raw_info.field_nodes)
    for name in path:
        below: list[Any] = []
        for node in level:
            for selection in node.selection_set.selections if node.selection_set else ():
                if not isinstance(selection, FieldNode):
                    return True
                if selection.name.value == name:
                    below.append(selection)
        level = below
    return bool(level)


@strawberry.type
class ClientQueries:
    @strawberry.field(description="The provider's client list (providers only).")
    async def clients(
        self,
        info: Info,
        first: First = 50,
        after: After = None,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Words each found in the client's names or e-mail address (case "
                "and accents ignored); at most 12 words."
            ),
        ] = None,
        archived: Annotated[
            bool | None,
            strawberry.argument(description="True lists the archived clients instead."),
        ] = False,
        onboarding: Annotated[
            OnboardingFilter | None,
            strawberry.argument(description="Only clients whose onboarding is so."),
        ] = OnboardingFilter.ANY,
        order_by: Annotated[
            ClientOrder | None,
            strawberry.argument(description="The list's order."),
        ] = ClientOrder.NAME_ASC,
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
            page = await client_list.list_clients(
                info.context.actor, args, with_onboarding=_selects_onboarding(info)
            )
        except DomainError as error:
            raise public_error(error) from None
        return connection(ClientConnection, ClientEdge, page, ClientType.from_view, after)

    @strawberry.field(
        description="A client on the provider's list, or a client's own record; null for any "
        "other id."
    )
    async def client(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=CLIENT_ID)]
    ) -> ClientType | None:
        view = await client_list.get_client(info.context.actor, id)
        return ClientType.from_view(view) if view else None


@strawberry.type
class ClientMutations:
    @strawberry.mutation(
        description="Put a client on the provider's list and queue their invitation (providers "
        "with a confirmed e-mail). An address already on the list answers `alreadyInList` and "
        "sends nothing."
    )
    async def add_client(
        self,
        info: Info,
        input: Annotated[AddClientInput, strawberry.argument(description="The client.")],
    ) -> AddClientResult:
        ctx = info.context
        try:
            added = await clients.add_client(ctx.services, ctx.actor, input.to_data())
        except DomainError as error:
            return expected(error, InputError, AuthError)
        return AddClientSuccess.from_added(added)

    @strawberry.mutation(
        description="Put up to 100 clients on the list at once (providers with a confirmed "
        "e-mail); each answers for itself, in order, and the valid ones are added together."
    )
    async def add_clients(
        self,
        info: Info,
        input: Annotated[AddClientsInput, strawberry.argument(description="The clients.")],
    ) -> AddClientsResult:
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

    @strawberry.mutation(
        description="Change an entry of the provider's list; only until the client accepts the "
        "invitation (then CLIENT_MANAGES_OWN_INFO)."
    )
    async def update_client(
        self,
        info: Info,
        input: Annotated[UpdateClientInput, strawberry.argument(description="The changes.")],
    ) -> ClientResult:
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

    @strawberry.mutation(
        description="Archive a client on the provider's list: hidden from the default list, "
        "nothing deleted."
    )
    async def archive_client(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=CLIENT_ID)]
    ) -> ClientResult:
        return await _set_archived(info, id, True)

    @strawberry.mutation(description="Bring an archived client back onto the provider's list.")
    async def unarchive_client(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=CLIENT_ID)]
    ) -> ClientResult:
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
