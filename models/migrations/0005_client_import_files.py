from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


class DropColumn(ops.RemoveField):
    """RemoveField with a plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+ and PostgreSQL).

    On SQLite, Tortoise rebuilds the table to remove a column: it drops the old table, and
    with foreign keys on that deletes every row that cascades from it (the issues and the
    files copied just before).
    """

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        if state_editor:
            table = old_state.apps.get_model(f"{app_label}.{self.model_name}")._meta.db_table
            await state_editor._run_sql(f'ALTER TABLE "{table}" DROP COLUMN "{self.name}"')


class Migration(migrations.Migration):
    dependencies = [('models', '0004_client_import_file_plan')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ClientImportFile',
            fields=[
                ('client_import', fields.OneToOneField('models.ClientImport', source_field='client_import_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='file', on_delete=OnDelete.CASCADE)),
                ('data', fields.BinaryField()),
            ],
            options={'table': 'client_import_files', 'app': 'models', 'pk_attr': 'client_import_id', 'table_description': 'The uploaded bytes, written once and read by the worker.'},
            bases=['Model'],
        ),
        # Files of imports made before this migration move over before the column goes.
        ops.RunSQL(
            'INSERT INTO "client_import_files" ("client_import_id", "data") '
            'SELECT "id", "file_data" FROM "client_imports"'
        ),
        DropColumn(model_name='ClientImport', name='file_data'),
    ]
