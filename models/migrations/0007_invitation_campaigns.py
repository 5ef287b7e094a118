from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("models", "0006_consent_records")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ClientImport",
            name="invitations_failed",
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name="ClientImport",
            name="invitations_finished_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="ClientImport",
            name="invitations_sent",
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name="ClientImport",
            name="invitations_total",
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name="OutboxMessage",
            name="import_id",
            field=fields.UUIDField(null=True),
        ),
    ]
