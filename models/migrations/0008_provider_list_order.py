"""List pages in index order: provider_clients.sort_name (a copy of the visible profile's) and
one index per order of the page, (provider, archived, key, id)."""

from typing import Any

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class AddColumnWithDefault(ops.AddField):
    """ADD COLUMN ... NOT NULL DEFAULT '' in place (no table rebuild on SQLite); filled below."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        if not state_editor:
            return
        table = new_state.apps.get_model(f"{app_label}.{self.model_name}")._meta.db_table
        await state_editor._run_sql(
            f'ALTER TABLE "{table}" ADD COLUMN "{self.name}" VARCHAR({self.field.max_length}) NOT NULL DEFAULT \'\''
        )


async def copy_sort_names(apps: Any, schema_editor: Any) -> None:
    await schema_editor.client.execute_script(
        "UPDATE provider_clients SET sort_name = COALESCE((SELECT c.sort_name FROM clients c"
        " WHERE c.id = provider_clients.client_id), '')"
    )


class Migration(migrations.Migration):
    dependencies = [('models', '0007_invitation_campaigns')]

    initial = False

    operations = [
        AddColumnWithDefault(
            model_name='ProviderClient',
            name='sort_name',
            field=fields.CharField(default='', max_length=256),
        ),
        ops.RunPython(copy_sort_names),
        ops.AddIndex(
            model_name='ProviderClient',
            index=Index(fields=['provider_id', 'archived_at', 'sort_name', 'id']),
        ),
        ops.AddIndex(
            model_name='ProviderClient',
            index=Index(fields=['provider_id', 'archived_at', 'added_at', 'id']),
        ),
    ]
