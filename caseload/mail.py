"""Outgoing e-mail transports: .eml files (embedded default), SMTP, or the console."""

from __future__ import annotations

import email.policy
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from types import TracebackType
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
    created_at: datetime | None = None  # the outbox row's; it names the file backend's file


class MailSession(Protocol):
    """Messages sent one after another over one connection (for SMTP), closed on exit."""

    async def __aenter__(self) -> MailSession: ...

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def send(self, mail: Mail) -> None: ...


class MailTransport(Protocol):
    # True when a second send of one message (same message_id and created_at) replaces the
    # first instead of delivering it twice: the outbox then needs no marks of accepted sends.
    replaces_repeats: bool

    async def send(self, mail: Mail) -> None: ...

    def session(self) -> MailSession:
        """A batch's connection; after a failed send, open a new session for the rest."""
        ...


class _EachOnItsOwn:
    """A session for transports without connections: every send stands alone."""

    def __init__(self, transport: MailTransport) -> None:
        self.transport = transport

    async def __aenter__(self) -> _EachOnItsOwn:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def send(self, mail: Mail) -> None:
        await self.transport.send(mail)


class _HeaderClasses(HeaderRegistry):
    """The email package's header registry, each header class made once: the stock one makes
    a new class for every header of every message (40% of rendering one, in the profile),
    and those classes are cyclic garbage the collector then sweeps every few messages."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


POLICY = email.policy.default.clone(header_factory=_HeaderClasses())


def build_message(settings: Settings, mail: Mail) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["From"] = settings.email_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # The same for every attempt of one outbox row, so a receiver drops a repeat.
    message["Message-ID"] = f"<{mail.message_id}@caseload.invalid>"
    message.set_content(mail.text)
    return message


class FileTransport:
    """One .eml file per message, written whole and then renamed into place.

    An outbox message's file is named by its row (created_at, id), so sending it again (a
    worker died before recording it sent) replaces the file: never two copies, and the file
    holds the link of the last render, the one that works.
    """

    replaces_repeats = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = settings.mail_dir

    async def send(self, mail: Mail) -> None:
        if mail.created_at is not None:
            stamp = mail.created_at.strftime("%Y%m%dT%H%M%S%f")
            name = f"{stamp}-{mail.message_id}-outbox.eml"
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            name = f"{stamp}-{mail.message_id}-{uuid.uuid4().hex[:6]}.eml"
        path = self.directory / name
        tmp = path.with_suffix(".tmp")
        data = bytes(build_message(self.settings, mail))
        try:
            tmp.write_bytes(data)
        except FileNotFoundError:  # the first message (or the folder was removed since)
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
        tmp.replace(path)

    def session(self) -> MailSession:
        return _EachOnItsOwn(self)


class SmtpSession:
    """One SMTP connection, opened on entry, used for every message of a batch."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=10,
        )

    async def __aenter__(self) -> SmtpSession:
        await self.client.connect()
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            if self.client.is_connected:
                await self.client.quit()
        except (aiosmtplib.SMTPException, OSError):
            self.client.close()  # the server went away first; nothing more to say to it

    async def send(self, mail: Mail) -> None:
        await self.client.send_message(build_message(self.settings, mail))


class SmtpTransport:
    replaces_repeats = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, mail: Mail) -> None:
        async with self.session() as session:
            await session.send(mail)

    def session(self) -> SmtpSession:
        return SmtpSession(self.settings)


class ConsoleTransport:
    replaces_repeats = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, mail: Mail) -> None:
        # The console is a developer's own terminal; it is not the application log.
        print(build_message(self.settings, mail).as_string(), flush=True)

    def session(self) -> MailSession:
        return _EachOnItsOwn(self)


def make_transport(settings: Settings) -> MailTransport:
    if settings.email_backend is EmailBackend.SMTP:
        return SmtpTransport(settings)
    if settings.email_backend is EmailBackend.CONSOLE:
        return ConsoleTransport(settings)
    return FileTransport(settings)
