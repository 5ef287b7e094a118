"""E-mail as the tests read it: the file backend's folder, a real SMTP server (aiosmtpd), links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from caseload.embedded_redis import free_port
from caseload.settings import EmailBackend, Settings


def read_mail_dir(directory: Path) -> list[Path]:
    """The .eml files the file backend wrote, oldest name first."""
    return sorted(directory.glob("*.eml")) if directory.exists() else []


def mail_files(settings: Settings) -> list[Path]:
    return read_mail_dir(settings.mail_dir)


def read_mail(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def link_token_of(message: EmailMessage) -> str:
    match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", message.get_content())
    assert match, "no link in the e-mail"
    return match.group(1)


class SmtpInbox:
    """The handler of a real SMTP server (aiosmtpd): keeps every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: ARG002
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@contextmanager
def smtp_server(settings: Settings) -> Iterator[tuple[Settings, SmtpInbox]]:
    """An SMTP server on a free port, and a copy of `settings` that sends mail to it."""
    inbox = SmtpInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            settings.model_copy(
                update={
                    "email_backend": EmailBackend.SMTP,
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                }
            ),
            inbox,
        )
    finally:
        controller.stop()
