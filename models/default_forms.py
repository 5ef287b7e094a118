"""Version 1 of the standard billing and privacy forms, installed by migration 0002."""

from __future__ import annotations

from models.forms import FormDocument, FormKind

BILLING_POLICY_V1_ID = "6f1c2a3e-0b0d-4d38-9a57-0c2f4c4b1a01"
PRIVACY_POLICY_V1_ID = "6f1c2a3e-0b0d-4d38-9a57-0c2f4c4b1a02"

DEFAULT_FORMS = (
    (
        BILLING_POLICY_V1_ID,
        FormKind.BILLING_POLICY,
        "Billing policy",
        "Your insurance is billed for each session. You are responsible for any copay, "
        "coinsurance or deductible your plan sets, charged to the billing method on file "
        "after the session. Sessions cancelled with less than 24 hours' notice may be "
        "charged a late-cancellation fee set by your provider.",
    ),
    (
        PRIVACY_POLICY_V1_ID,
        FormKind.PRIVACY_POLICY,
        "Notice of privacy practices",
        "We keep your health information private as the law requires. We use it to provide "
        "care, to bill for it and to run our services, and we share it only as this notice "
        "describes or with your written permission. You may ask for a copy of your records "
        "and for corrections, and you may file a complaint without any penalty.",
    ),
)


def insert_sql() -> str:
    def quote(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    rows = ",\n".join(
        f"({quote(id_)}, {quote(kind.value)}, 1, {quote(title)}, {quote(body)}, CURRENT_TIMESTAMP)"
        for id_, kind, title, body in DEFAULT_FORMS
    )
    return (
        "INSERT INTO form_documents (id, kind, version, title, body, published_at) VALUES\n" + rows
    )


async def ensure_default_forms() -> None:
    """Put version 1 back where it is missing (tests empty every table between cases)."""
    for id_, kind, title, body in DEFAULT_FORMS:
        if not await FormDocument.filter(kind=kind, version=1).exists():
            await FormDocument.create(id=id_, kind=kind, version=1, title=title, body=body)
