from tortoise import migrations
from tortoise.migrations import operations as ops
from models.accounts import VerificationPurpose
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

from models.migrations import _consent_data as consent_records


class DropNotNull(ops.AlterField):
    """Make a column nullable without rebuilding its table.

    On SQLite, Tortoise rebuilds a table to change a column: it drops the old table, and with
    foreign keys on that deletes every row that cascades from it (appointments, threads, forms
    of every client). Removing a NOT NULL changes nothing on disk, so SQLite's documented
    shortcut applies: edit the table's CREATE statement in the schema table.
    """

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        if not state_editor:
            return
        model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        table = model._meta.db_table
        column = model._meta.fields_map[self.name].source_field or f"{self.name}_id"
        if state_editor.DIALECT == "sqlite":
            await consent_records.sqlite_drop_not_null(state_editor.client, table, column)
        else:
            await state_editor._run_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP NOT NULL')


class AddColumnWithDefault(ops.AddField):
    """ADD COLUMN ... NOT NULL DEFAULT '' : the table already has rows, filled in below."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        if not state_editor:
            return
        table = new_state.apps.get_model(f"{app_label}.{self.model_name}")._meta.db_table
        await state_editor._run_sql(
            f'ALTER TABLE "{table}" ADD COLUMN "{self.name}" VARCHAR({self.field.max_length}) NOT NULL DEFAULT \'\''
        )


class Migration(migrations.Migration):
    dependencies = [('models', '0005_client_import_files')]

    initial = False

    operations = [
        DropNotNull(
            model_name='Client',
            name='user',
            field=fields.OneToOneField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='client', on_delete=OnDelete.CASCADE),
        ),
        ops.AddIndex(
            model_name='ClientImport',
            index=Index(fields=['provider_id', 'created_at']),
        ),
        ops.AlterModelOptions(
            name='ClientImportFile',
            options={'table': 'client_import_files', 'app': 'models', 'pk_attr': 'client_import_id', 'table_description': 'The uploaded bytes, written once and read by the worker.'},
        ),
        ops.AddField(
            model_name='ProviderClient',
            name='accepted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        AddColumnWithDefault(
            model_name='ProviderClient',
            name='email',
            field=fields.CharField(default='', max_length=254),
        ),
        ops.AddField(
            model_name='ProviderClient',
            name='invitation_failed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ProviderClient',
            name='invitation_queued_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ProviderClient',
            name='invitation_sent_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        # Every column exists now; fill them from today's data before the new unique index.
        ops.RunPython(consent_records.forward),
        ops.AddIndex(
            model_name='ProviderClient',
            index=Index(fields=['client_id']),
        ),
        ops.AddConstraint(
            model_name='ProviderClient',
            constraint=UniqueConstraint(fields=('provider', 'email'), name=None),
        ),
        ops.AddIndex(
            model_name='Session',
            index=Index(fields=['user_id']),
        ),
        ops.AlterField(
            model_name='VerificationToken',
            name='purpose',
            field=fields.CharEnumField(description='VERIFY_EMAIL: VERIFY_EMAIL\nCHANGE_EMAIL: CHANGE_EMAIL\nINVITATION: INVITATION\nRESET_PASSWORD: RESET_PASSWORD', enum_type=VerificationPurpose, max_length=16),
        ),
        ops.AlterField(
            model_name='VerificationToken',
            name='user',
            field=fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='verification_tokens', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='VerificationToken',
            name='record',
            field=fields.ForeignKeyField('models.ProviderClient', source_field='record_id', null=True, db_constraint=True, to_field='id', related_name='invitation_tokens', on_delete=OnDelete.CASCADE),
        ),
        ops.AddIndex(
            model_name='VerificationToken',
            index=Index(fields=['user_id', 'purpose']),
        ),
        ops.AddIndex(
            model_name='VerificationToken',
            index=Index(fields=['record_id']),
        ),
    ]
