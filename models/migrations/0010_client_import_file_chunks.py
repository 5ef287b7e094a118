"""Uploaded files are stored in pieces (client_import_file_chunks), never as one value."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_drop_client_sort_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ClientImportFileChunk',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('client_import', fields.ForeignKeyField('models.ClientImport', source_field='client_import_id', db_constraint=True, to_field='id', related_name='file_chunks', on_delete=OnDelete.CASCADE)),
                ('seq', fields.IntField()),
                ('data', fields.BinaryField()),
            ],
            options={'table': 'client_import_file_chunks', 'app': 'models', 'unique_together': (('client_import', 'seq'),), 'pk_attr': 'id', 'table_description': 'A piece of an uploaded file, written once and read by the worker in seq order.'},
            bases=['Model'],
        ),
        # Files of imports made before this migration move over as one piece each.
        ops.RunSQL(
            'INSERT INTO "client_import_file_chunks" ("client_import_id", "seq", "data") '
            'SELECT "client_import_id", 0, "data" FROM "client_import_files"'
        ),
        ops.DeleteModel(name='ClientImportFile'),
    ]
