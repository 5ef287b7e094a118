"""Imports write less: clients.sort_name loses its index. Nothing reads clients in name order
since list pages read provider_clients' own copy (0008), and the index took a random page
write per imported row."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

INDEX = "idx_clients_sort_na_d71fba"


class DropIndexInPlace(ops.AlterField):
    """DROP INDEX alone: Tortoise's AlterField rebuilds the clients table on SQLite (and its
    copy loses the UNIQUE on user_id); undone by CREATE INDEX."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        if state_editor:
            await state_editor._run_sql(f'DROP INDEX IF EXISTS "{INDEX}"')

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        if state_editor:
            await state_editor._run_sql(f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "clients" ("sort_name")')


class Migration(migrations.Migration):
    dependencies = [('models', '0008_provider_list_order')]

    initial = False

    operations = [
        DropIndexInPlace(
            model_name='Client',
            name='sort_name',
            field=fields.CharField(default='', max_length=256),
        ),
    ]
