"""Version 1 of the standard billing and privacy forms.

Frozen data, not the live models: editing a form later is a new version (`caseload
publish-form`), never a change to what this migration inserted. The tests restore FORMS
after emptying the tables (tests/support/factories.py).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

FORMS = (
    (
        "6f1c2a3e-0b0d-4d38-9a57-0c2f4c4b1a01",
        "BILLING_POLICY",
        "Billing policy",
        "Your insurance is billed for each session. You are responsible for any copay, "
        "coinsurance or deductible your plan sets, charged to the billing method on file "
        "after the session. Sessions cancelled with less than 24 hours' notice may be "
        "charged a late-cancellation fee set by your provider.",
    ),
    (
        "6f1c2a3e-0b0d-4d38-9a57-0c2f4c4b1a02",
        "PRIVACY_POLICY",
        "Notice of privacy practices",
        "We keep your health information private as the law requires. We use it to provide "
        "care, to bill for it and to run our services, and we share it only as this notice "
        "describes or with your written permission. You may ask for a copy of your records "
        "and for corrections, and you may file a complaint without any penalty.",
    ),
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


INSERT = "INSERT INTO form_documents (id, kind, version, title, body, published_at) VALUES\n" + (
    ",\n".join(
        f"({_quote(id_)}, {_quote(kind)}, 1, {_quote(title)}, {_quote(body)}, CURRENT_TIMESTAMP)"
        for id_, kind, title, body in FORMS
    )
)


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [
        ops.RunSQL(INSERT, reverse_sql="DELETE FROM form_documents WHERE version = 1"),
    ]
