"""Outgoing e-mail transports: .eml files (embedded default), SMTP, or the console."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.message import EmailMessage
from types import TracebackType
from typing import Protocol, runtime_checkable

import aiosmtplib

from caseload.mail_message import Mail, message_from, write_eml
from caseload.mail_writer import WriterProcess
from caseload.settings import EmailBackend, Settings

__all__ = [
    "BatchTransport",
    "Mail",
    "MailSession",
    "MailTransport",
    "build_message",
    "make_transport",
]

log = logging.getLogger(__name__)


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

    async def close(self) -> None:
        """What the transport holds (the file backend's writer process) let go."""


@runtime_checkable
class BatchTransport(MailTransport, Protocol):
    """A transport that takes a whole batch at once (the file backend)."""

    async def send_many(self, mails: Sequence[Mail]) -> list[str | None]:
        """Per mail, in order: None once it is delivered, or the name of the error."""
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


def build_message(settings: Settings, mail: Mail) -> EmailMessage:
    return message_from(settings.email_from, mail)


class FileTransport:
    """One .eml file per message, written whole and then renamed into place.

    An outbox message's file is named by its row (created_at, id), so sending it again (a
    worker died before recording it sent) replaces the file: never two copies, and the file
    holds the link of the last render, the one that works. A batch goes to the writer
    process, on another core.
    """

    replaces_repeats = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = settings.mail_dir
        self.writer = WriterProcess(self.directory, settings.email_from)

    async def send(self, mail: Mail) -> None:
        write_eml(self.directory, self.settings.email_from, mail)

    async def send_many(self, mails: Sequence[Mail]) -> list[str | None]:
        """A batch written by the writer process (caseload/mail_writer.py); per mail, None
        or the name of the error that kept it from being written."""
        return await self.writer.write(mails)

    async def close(self) -> None:
        await self.writer.close()

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

    async def close(self) -> None:
        return None  # a connection lives for one batch


class ConsoleTransport:
    replaces_repeats = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, mail: Mail) -> None:
        # The console is a developer's own terminal; it is not the application log.
        print(build_message(self.settings, mail).as_string(), flush=True)

    def session(self) -> MailSession:
        return _EachOnItsOwn(self)

    async def close(self) -> None:
        return None


def make_transport(settings: Settings) -> MailTransport:
    if settings.email_backend is EmailBackend.SMTP:
        return SmtpTransport(settings)
    if settings.email_backend is EmailBackend.CONSOLE:
        return ConsoleTransport(settings)
    return FileTransport(settings)
