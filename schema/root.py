"""The root schema, assembled from per-domain classes, with its limits and error masking."""

from __future__ import annotations

import logging
import traceback
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.types import ExecutionContext

from caseload.settings import Settings
from schema.accounts import AccountMutations, AccountQueries
from schema.appointments import AppointmentMutations, AppointmentQueries
from schema.clients import ClientMutations, ClientQueries
from schema.cost_limits import BudgetedValidationCache, QuietParserCache
from schema.error_codes import CodedMaskErrors, ErrorCodes
from schema.fast_execution import PlannedExecutor
from schema.import_progress import ImportSubscriptions
from schema.imports import ImportMutations, ImportQueries
from schema.input_caps import InputCaps
from schema.messaging import MessagingMutations, MessagingQueries
from schema.onboarding import OnboardingMutations, OnboardingQueries
from schema.passwords import PasswordMutations
from schema.scalars import SCALAR_OVERRIDES
from schema.staff import StaffMutations, StaffRootQueries
from schema.subscriptions import Subscription as ClientSubscriptions
from schema.text_guard import RejectNulCharacters

log = logging.getLogger("caseload.graphql")


@strawberry.type(
    description="Reads. Paged lists are Relay-style connections, at most 100 items a page."
)
class Query(
    AccountQueries,
    ClientQueries,
    ImportQueries,
    AppointmentQueries,
    MessagingQueries,
    OnboardingQueries,
    StaffRootQueries,
):
    pass


@strawberry.type(
    description="Writes. Expected failures come back as a member of the result union that "
    "implements MutationError, with a code; only unexpected ones reach `errors`."
)
class Mutation(
    AccountMutations,
    PasswordMutations,
    ClientMutations,
    ImportMutations,
    AppointmentMutations,
    MessagingMutations,
    OnboardingMutations,
    StaffMutations,
):
    pass


@strawberry.type(description="Live updates over WebSocket (the graphql-transport-ws protocol).")
class Subscription(ClientSubscriptions, ImportSubscriptions):
    pass


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class CaseloadSchema(strawberry.Schema):
    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,  # noqa: ARG002 - strawberry's signature
    ) -> None:
        # Exception text can carry PHI (a database error quoting a value): log type and path only.
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, GraphQLError):
                continue
            frames = "".join(traceback.format_tb(original.__traceback__))
            log.error(
                "unexpected %s at %s\n%s",
                type(original).__name__,
                ".".join(str(p) for p in error.path or ()),
                frames,
            )


def build_schema(settings: Settings, *, planned: bool = True) -> strawberry.Schema:
    """The schema; `planned` runs plain fields by a compiled plan (schema/fast_execution.py),
    False leaves every field to graphql-core (the equivalence tests compare the two)."""
    # Order matters: ErrorCodes first, so its exit hooks run last and see every error; the
    # selection budget is checked by the validation cache, before it validates anything.
    extensions: list[Any] = [
        partial(ErrorCodes, production=settings.production),
        partial(CodedMaskErrors, should_mask_error=_should_mask, error_message="Unexpected error."),
        partial(QueryDepthLimiter, max_depth=settings.max_query_depth),
        partial(MaxAliasesLimiter, max_alias_count=settings.max_aliases),
        partial(MaxTokensLimiter, max_token_count=settings.max_query_tokens),
        partial(QuietParserCache, maxsize=512),
        partial(
            BudgetedValidationCache,
            maxsize=512,
            max_selections=settings.max_selections,
            max_repeated=settings.max_repeated_field,
        ),
        RejectNulCharacters,  # these two check after validation, so they exit first
        InputCaps,
    ]
    if settings.production:
        extensions.append(DisableIntrospection)
    return CaseloadSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=PlannedExecutor if planned else None,
    )
