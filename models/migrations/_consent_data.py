"""Data step of 0006: today's shared client rows become consent-based list entries.

Frozen SQL, not the live models, so later model changes never alter what this step did.

- Every list entry gets the address it was added with (the account's e-mail today).
- An entry whose client verified their e-mail is accepted: the provider keeps seeing the
  person's own profile, as today.
- An entry of a client who never verified keeps what it shows today, as the provider's own
  entries: each such entry gets its own copy of the profile (names, phone, date of birth,
  insurance; never a billing token), and that provider's appointments and conversation move
  to the copy. An account that nobody ever set a password for was made by a provider's add and
  has no owner: it goes, its profile staying with the first entry. An account with a password
  (a client who signed up and has not confirmed yet) keeps its own profile.
- Every entry not accepted gets a fresh invitation of its own: the links sent so far belonged
  to accounts and accept nothing now; waiting old-style invitations are cancelled.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

# the profile columns a provider's entry keeps; billing and form acknowledgements are the person's
_PROFILE = (
    "legal_first_name, legal_last_name, preferred_name, search_text, sort_name, mobile_phone,"
    " date_of_birth, insurance_carrier, insurance_member_id, insurance_date_of_birth,"
    " invited_at, reminders_sent, insurance_requested_at, created_at, updated_at"
)


async def sqlite_drop_not_null(client: Any, table: str, column: str) -> None:
    """SQLite's documented way to drop a NOT NULL: edit the CREATE TABLE text in place."""
    rows = await client.execute_query_dict(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    )
    create = rows[0]["sql"]
    before = f'"{column}" CHAR(36) NOT NULL'
    if before not in create:
        raise RuntimeError(f"unexpected definition of {table}.{column}")
    create = create.replace(before, f'"{column}" CHAR(36)', 1)
    version = (await client.execute_query_dict("PRAGMA schema_version"))[0]["schema_version"]
    await client.execute_query("PRAGMA writable_schema = ON")
    await client.execute_query(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", [create, table]
    )
    await client.execute_query(f"PRAGMA schema_version = {int(version) + 1}")
    await client.execute_query("PRAGMA writable_schema = OFF")


class _Sql:
    """Placeholders and values as the connection's driver takes them."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.postgres = client.capabilities.dialect == "postgres"

    def sql(self, text: str) -> str:
        if not self.postgres:
            return text
        parts = text.split("?")
        return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))

    def id(self, value: Any) -> Any:
        return uuid.UUID(str(value)) if self.postgres else str(value)

    def time(self, value: datetime) -> Any:
        return value if self.postgres else str(value)

    async def rows(self, text: str, *args: Any) -> list[dict[str, Any]]:
        return list(await self.client.execute_query_dict(self.sql(text), list(args)))

    async def run(self, text: str, *args: Any) -> None:
        await self.client.execute_query(self.sql(text), list(args))


async def _own_copy(db: _Sql, client_id: Any, link: dict[str, Any]) -> None:
    """Give one entry its own copy of the profile, with its provider's appointments and thread."""
    copy = uuid.uuid4()
    await db.run(
        f"INSERT INTO clients (id, user_id, {_PROFILE}) SELECT ?, NULL, {_PROFILE}"
        " FROM clients WHERE id = ?",
        db.id(copy),
        db.id(client_id),
    )
    await db.run("UPDATE provider_clients SET client_id = ? WHERE id = ?", db.id(copy), db.id(link["id"]))
    for table in ("appointments", "message_threads"):
        await db.run(
            f"UPDATE {table} SET client_id = ? WHERE client_id = ? AND provider_id = ?",
            db.id(copy),
            db.id(client_id),
            db.id(link["provider_id"]),
        )


async def _separate_unverified(db: _Sql) -> None:
    unverified = await db.rows(
        "SELECT c.id AS client_id, u.id AS user_id, u.password_hash AS password_hash"
        " FROM clients c JOIN users u ON u.id = c.user_id"
        " WHERE u.role = 'CLIENT' AND u.email_verified_at IS NULL"
    )
    for person in unverified:
        links = await db.rows(
            "SELECT id, provider_id FROM provider_clients WHERE client_id = ? ORDER BY added_at, id",
            db.id(person["client_id"]),
        )
        if not links:
            continue
        if person["password_hash"] is None:
            # made by a provider's add, never opened: the first entry keeps the profile itself
            await db.run("UPDATE clients SET user_id = NULL WHERE id = ?", db.id(person["client_id"]))
            for link in links[1:]:
                await _own_copy(db, person["client_id"], link)
            await db.run("DELETE FROM users WHERE id = ?", db.id(person["user_id"]))
        else:
            for link in links:
                await _own_copy(db, person["client_id"], link)


async def _requeue_invitations(db: _Sql) -> None:
    await db.run(
        "UPDATE outbox_messages SET status = 'CANCELLED', last_error = 'superseded: invitations"
        " belong to list entries' WHERE kind = 'email.invitation' AND status IN ('PENDING', 'SENDING')"
    )
    waiting = await db.rows(
        "SELECT id FROM provider_clients WHERE accepted_at IS NULL"
        " AND invitation_queued_at IS NOT NULL"
    )
    now = datetime.now(UTC)
    await db.run(
        "UPDATE provider_clients SET invitation_queued_at = ?, invitation_sent_at = NULL"
        " WHERE accepted_at IS NULL AND invitation_queued_at IS NOT NULL",
        db.time(now),
    )
    for record in waiting:
        await db.run(
            "INSERT INTO outbox_messages (id, kind, payload, subject_id, status, attempts,"
            " created_at, available_at) VALUES (?, 'email.invitation', ?, ?, 'PENDING', 0, ?, ?)",
            db.id(uuid.uuid4()),
            json.dumps({"record_id": str(record["id"])}),
            db.id(record["id"]),
            db.time(now),
            db.time(now),
        )


async def forward(apps: Any, schema_editor: Any) -> None:
    db = _Sql(schema_editor.client)
    await db.run(
        "UPDATE provider_clients SET email = (SELECT u.email FROM clients c"
        " JOIN users u ON u.id = c.user_id WHERE c.id = provider_clients.client_id)"
    )
    await db.run(
        "UPDATE provider_clients SET accepted_at = (SELECT CASE"
        " WHEN u.email_verified_at > provider_clients.added_at THEN u.email_verified_at"
        " ELSE provider_clients.added_at END FROM clients c JOIN users u ON u.id = c.user_id"
        " WHERE c.id = provider_clients.client_id AND u.email_verified_at IS NOT NULL)"
    )
    await db.run(
        "UPDATE provider_clients SET invitation_queued_at = added_at,"
        " invitation_sent_at = (SELECT c.invited_at FROM clients c"
        " WHERE c.id = provider_clients.client_id)"
        " WHERE added_via <> 'MESSAGE' AND NOT EXISTS (SELECT 1 FROM client_imports i"
        " WHERE i.id = provider_clients.source_import_id AND i.send_invitations = FALSE)"
    )
    await _separate_unverified(db)
    await _requeue_invitations(db)
