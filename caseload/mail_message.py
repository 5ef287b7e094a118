"""One e-mail as it is sent: the message built from a `Mail`, and its .eml file.

Kept apart from the transports so the file backend's writer process (caseload/mail_writer.py)
imports only this: the email package, no settings, no drivers.
"""

from __future__ import annotations

import email.policy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    message_id: str  # stable per outbox row, so a receiver can drop a repeat
    created_at: datetime | None = None  # the outbox row's; it names the file backend's file


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


def message_from(sender: str, mail: Mail) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # The same for every attempt of one outbox row, so a receiver drops a repeat.
    message["Message-ID"] = f"<{mail.message_id}@caseload.invalid>"
    message.set_content(mail.text)
    return message


def eml_name(mail: Mail) -> str:
    """An outbox message's file is named by its row (created_at, id), so sending it again
    replaces the file; a message without a row gets a random part in its name."""
    if mail.created_at is not None:
        return f"{mail.created_at.strftime('%Y%m%dT%H%M%S%f')}-{mail.message_id}-outbox.eml"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{mail.message_id}-{uuid.uuid4().hex[:6]}.eml"


def write_eml(directory: Path, sender: str, mail: Mail) -> None:
    """The message written whole to a temporary name, then renamed into place."""
    path = directory / eml_name(mail)
    tmp = path.with_suffix(".tmp")
    data = bytes(message_from(sender, mail))
    try:
        tmp.write_bytes(data)
    except FileNotFoundError:  # the first message (or the folder was removed since)
        directory.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
    tmp.replace(path)


def write_emls(directory: Path, sender: str, mails: Sequence[Mail]) -> list[str | None]:
    """Each mail written as by `write_eml`; per mail, None or the error's name."""
    errors: list[str | None] = []
    for mail in mails:
        try:
            write_eml(directory, sender, mail)
        except Exception as error:  # noqa: BLE001 - that one is retried; the rest are written
            errors.append(type(error).__name__)
        else:
            errors.append(None)
    return errors
