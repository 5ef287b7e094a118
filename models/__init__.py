"""Tortoise models of Caseload; the app label is ``models``."""

from models.accounts import Provider, Role, Session, User, VerificationPurpose, VerificationToken
from models.appointments import Appointment, AppointmentStatus
from models.audit import AuditEvent
from models.clients import AddedVia, Client, ProviderClient
from models.forms import FormAcknowledgement, FormDocument, FormKind
from models.imports import (
    ClientImport,
    ClientImportFileChunk,
    ClientImportIssue,
    ImportStatus,
    IssueSeverity,
)
from models.messaging import Message, MessageThread
from models.outbox import OutboxMessage, OutboxStatus

__all__ = [
    "AddedVia",
    "Appointment",
    "AppointmentStatus",
    "AuditEvent",
    "Client",
    "ClientImport",
    "ClientImportFileChunk",
    "ClientImportIssue",
    "FormAcknowledgement",
    "FormDocument",
    "FormKind",
    "ImportStatus",
    "IssueSeverity",
    "Message",
    "MessageThread",
    "OutboxMessage",
    "OutboxStatus",
    "Provider",
    "ProviderClient",
    "Role",
    "Session",
    "User",
    "VerificationPurpose",
    "VerificationToken",
]
