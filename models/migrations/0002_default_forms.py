from tortoise import migrations
from tortoise.migrations import operations as ops

from models.default_forms import insert_sql


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [
        ops.RunSQL(insert_sql(), reverse_sql="DELETE FROM form_documents WHERE version = 1"),
    ]
