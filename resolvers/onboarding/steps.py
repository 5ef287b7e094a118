"""Onboarding derived from data: e-mail verified, insurance, billing, current forms acknowledged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from tortoise.functions import Max

from models import Client, FormAcknowledgement, FormDocument, FormKind
from resolvers.bulk_sql import select_in


class OnboardingStep(StrEnum):
    """What a client still has to do before an appointment can be confirmed, in order."""

    VERIFY_EMAIL = "VERIFY_EMAIL"
    ADD_INSURANCE = "ADD_INSURANCE"
    ADD_BILLING = "ADD_BILLING"
    ACKNOWLEDGE_FORMS = "ACKNOWLEDGE_FORMS"


STEPS = tuple(OnboardingStep)


@dataclass(frozen=True)
class OnboardingState:
    email_verified: bool
    insurance_added: bool
    billing_added: bool
    forms_acknowledged: bool
    invited_at: datetime | None

    @property
    def missing_steps(self) -> list[str]:
        done = (
            self.email_verified,
            self.insurance_added,
            self.billing_added,
            self.forms_acknowledged,
        )
        return [step for step, ok in zip(STEPS, done, strict=True) if not ok]

    @property
    def complete(self) -> bool:
        return not self.missing_steps


def state_of(client: Client, email_verified: bool, forms_acknowledged: bool) -> OnboardingState:
    return OnboardingState(
        email_verified=email_verified,
        insurance_added=bool(client.insurance_carrier and client.insurance_member_id),
        billing_added=bool(client.billing_token),
        forms_acknowledged=forms_acknowledged,
        invited_at=client.invited_at,
    )


async def current_form_ids() -> list[UUID]:
    """The newest version of each required form."""
    latest = (
        await FormDocument.annotate(latest=Max("version")).group_by("kind").values("kind", "latest")
    )
    if len(latest) < len(FormKind):
        return []
    ids: list[UUID] = []
    for row in latest:
        doc = await FormDocument.get(kind=row["kind"], version=row["latest"]).values_list(
            "id", flat=True
        )
        ids.append(doc)  # type: ignore[arg-type]
    return ids


# The clients among {marks} with an acknowledgement of the newest version of every kind of
# form: one statement, as a list page asks it on every read.
_CURRENT_FORMS_DONE = (
    'SELECT a.client_id FROM "form_acknowledgements" a '
    'JOIN "form_documents" d ON d.id = a.document_id '
    "WHERE a.client_id IN ({marks}) AND d.version = "
    '(SELECT MAX(n.version) FROM "form_documents" n WHERE n.kind = d.kind) '
    "GROUP BY a.client_id HAVING COUNT(DISTINCT d.kind) = {kinds}"
)


async def clients_with_current_forms(client_ids: Iterable[UUID]) -> set[UUID]:
    """Which of these clients acknowledged the current version of every required form."""
    ids = [str(i) for i in client_ids]
    if not ids:
        return set()
    rows = await select_in(
        FormAcknowledgement._meta.db,
        _CURRENT_FORMS_DONE.replace("{kinds}", str(len(FormKind))),
        ids,
    )
    return {UUID(str(row["client_id"])) for row in rows}
