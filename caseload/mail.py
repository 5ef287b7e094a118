"""Outgoing e-mail transports: .eml files (embedded default), SMTP, or the console."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol

import aiosmtplib

from caseload.settings import EmailBackend, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    message_id: str  # stable per outbox row, so a receiver can drop a repeat


class MailTransport(Protocol):
    async def send(self, mail: Mail) -> None: ...


def build_message(settings: Settings, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.email_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(idstring=mail.message_id, domain="caseload.invalid")
    message.set_content(mail.text)
    return message


class FileTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = settings.mail_dir

    async def send(self, mail: Mail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{mail.message_id}-{uuid.uuid4().hex[:6]}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(build_message(self.settings, mail)))
        tmp.rename(path)


class SmtpTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, mail: Mail) -> None:
        s = self.settings
        await aiosmtplib.send(
            build_message(s, mail),
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=10,
        )


class ConsoleTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, mail: Mail) -> None:
        # The console is a developer's own terminal; it is not the application log.
        print(build_message(self.settings, mail).as_string(), flush=True)


def make_transport(settings: Settings) -> MailTransport:
    if settings.email_backend is EmailBackend.SMTP:
        return SmtpTransport(settings)
    if settings.email_backend is EmailBackend.CONSOLE:
        return ConsoleTransport(settings)
    return FileTransport(settings)
