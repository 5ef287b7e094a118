from tortoise import migrations
from tortoise.migrations import operations as ops
from models.accounts import Role
from models.appointments import AppointmentStatus
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_default_forms')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Appointment',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('provider', fields.ForeignKeyField('models.Provider', source_field='provider_id', db_constraint=True, to_field='id', related_name='appointments', on_delete=OnDelete.CASCADE)),
                ('client', fields.ForeignKeyField('models.Client', source_field='client_id', db_constraint=True, to_field='id', related_name='appointments', on_delete=OnDelete.CASCADE)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=AppointmentStatus.SCHEDULED, description='SCHEDULED: SCHEDULED\nCONFIRMED: CONFIRMED\nCANCELLED: CANCELLED', enum_type=AppointmentStatus, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'appointments', 'app': 'models', 'indexes': [Index(fields=['provider_id', 'starts_at']), Index(fields=['client_id', 'starts_at'])], 'pk_attr': 'id', 'table_description': "A session slot. Confirming it needs the client's onboarding to be complete."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MessageThread',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('provider', fields.ForeignKeyField('models.Provider', source_field='provider_id', db_constraint=True, to_field='id', related_name='message_threads', on_delete=OnDelete.CASCADE)),
                ('client', fields.ForeignKeyField('models.Client', source_field='client_id', db_constraint=True, to_field='id', related_name='message_threads', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_message_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('provider_notified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('client_notified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'message_threads', 'app': 'models', 'unique_together': (('provider', 'client'),), 'indexes': [Index(fields=['provider_id', 'last_message_at']), Index(fields=['client_id', 'last_message_at'])], 'pk_attr': 'id', 'table_description': 'The one conversation of a provider and a client, with per-side notification times.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('thread', fields.ForeignKeyField('models.MessageThread', source_field='thread_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('sender_role', fields.CharEnumField(description='PROVIDER: PROVIDER\nCLIENT: CLIENT\nSTAFF: STAFF', enum_type=Role, max_length=16)),
                ('sender_user_id', fields.UUIDField()),
                ('body', fields.TextField(unique=False)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'messages', 'app': 'models', 'indexes': [Index(fields=['thread_id', 'sent_at']), Index(fields=['thread_id', 'read_at'])], 'pk_attr': 'id', 'table_description': 'One message. The body is stored as text and never leaves the API in e-mail or logs.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Client',
            name='insurance_requested_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
