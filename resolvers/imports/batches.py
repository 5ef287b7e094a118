"""One batch of an import: classify rows against the database and write them in one transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from importing.model import ClientRow, RowError, RowIssue
from models import Client, ClientImport, ClientImportIssue, OutboxMessage, ProviderClient
from resolvers.bulk_sql import (
    db_date,
    db_timestamp,
    insert_rows,
    is_postgres,
    new_ids,
    placeholders,
    select_in,
)
from resolvers.effects import EmailKind
from resolvers.imports.duplicates import DuplicateMemory
from resolvers.names import search_fields


@dataclass
class BatchResult:
    rows: int = 0
    created: int = 0
    linked: int = 0
    already_in_list: int = 0
    duplicates: int = 0
    errors: int = 0
    warnings: int = 0
    outbox_ids: list[str] = field(default_factory=list)
    client_ids: list[str] = field(default_factory=list)


def email_key(email: str) -> bytes:
    """A 128-bit digest of an e-mail, the key of the duplicate memory: no address stays in
    memory, and a million of them fit in about 22 MB (see DuplicateMemory)."""
    return hashlib.blake2b(email.encode(), digest_size=16).digest()


def _duplicate(row: ClientRow, first_row: int | None) -> RowIssue:
    where = f" as row {first_row}" if first_row else " as an earlier row"
    return RowIssue(
        row=row.row,
        column=None,
        code="DUPLICATE_ROW",
        message=f"Same e-mail{where} of this file; skipped.",
        severity="WARNING",
    )


# per ClientRow of a batch: (email_key, search_text, sort_name, date_of_birth in the driver's form)
Derived = tuple[bytes, str, str, object]


@dataclass(slots=True)
class Prepared:
    """A batch with what its rows need from no database (duplicate keys, search and sort
    fields, the date in the driver's form) worked out: the runner prepares the next batch in
    a thread while the writing of this one holds no GIL."""

    items: list[ClientRow | RowError]
    derived: list[Derived]  # one per ClientRow of items, in order


def prepare(items: list[ClientRow | RowError], postgres: bool) -> Prepared:
    derived: list[Derived] = []
    for item in items:
        if isinstance(item, ClientRow):
            fields = search_fields(item.first_name, item.last_name, item.preferred_name, item.email)
            derived.append(
                (
                    email_key(item.email),
                    fields["search_text"],
                    fields["sort_name"],
                    db_date(postgres, item.date_of_birth),
                )
            )
    return Prepared(items, derived)


class BatchWriter:
    """Classifies one batch and writes clients, list entries, invitations and issues."""

    def __init__(self, conn: BaseDBAsyncClient, job: ClientImport, seen: DuplicateMemory) -> None:
        self.conn = conn
        self.job = job
        # email_key -> first row, for duplicates within the file (dry runs keep it in memory)
        self.seen = seen
        self.result = BatchResult()
        self.issues: list[RowIssue] = []
        self.now = datetime.now(UTC)
        self.provider_id = str(job.provider_id)
        self.job_id = str(job.id)

    async def apply(self, batch: Prepared) -> BatchResult:
        rows: list[tuple[ClientRow, Derived]] = []
        derived = iter(batch.derived)
        for item in batch.items:
            self.result.rows += 1
            if isinstance(item, RowError):
                self.result.errors += 1
                self.issues.extend(item.issues)
                continue
            fields = next(derived)
            key = fields[0]
            if key in self.seen:
                self.result.duplicates += 1
                self.issues.append(_duplicate(item, self.seen[key]))
                continue
            self.seen[key] = item.row
            self.issues.extend(item.warnings)
            rows.append((item, fields))
        await self._place(rows)
        self.result.warnings += sum(1 for issue in self.issues if issue.severity == "WARNING")
        await self._write_issues()
        return self.result

    async def _on_list(self, emails: list[str]) -> dict[str, str | None]:
        """This provider's entries for these addresses: e-mail -> the import that added it.

        Only the provider's own list is looked at, never accounts: a file of addresses
        learns nothing about who has one (DESIGN §3).
        """
        if is_postgres(self.conn):
            # Planned with the list as it is now: asyncpg prepares the look-up once per
            # connection, and a generic plan PostgreSQL settles on while a new list is small
            # keeps scanning it whole as the import grows it (1,300 rows/s on a first
            # 100,000-row import against 11,000 on the next). For this transaction only.
            await self.conn.execute_script("SET LOCAL plan_cache_mode = force_custom_plan")
        return {
            str(row["email"]): str(row["source_import_id"]) if row["source_import_id"] else None
            for row in await select_in(
                self.conn,
                ENTRIES_OF_PROVIDER.replace("{provider}", placeholders(self.conn, 1)[0]),
                emails,
                self.provider_id,
            )
        }

    async def _place(self, rows: list[tuple[ClientRow, Derived]]) -> None:
        if not rows:
            return
        job = self.job
        on_list = await self._on_list([row.email for row, _ in rows])
        fresh: list[tuple[ClientRow, Derived]] = []
        for row, fields in rows:
            if row.email not in on_list:
                fresh.append((row, fields))
            elif on_list[row.email] == self.job_id:  # a replayed row of this very import
                self.result.duplicates += 1
                self.issues.append(_duplicate(row, None))
            else:
                self.result.already_in_list += 1
        self.result.created += len(fresh)
        if job.dry_run or not fresh:
            return
        count = len(fresh)
        # one id per client and per list entry (and per invitation), made together
        ids = new_ids((3 if job.send_invitations else 2) * count)
        client_ids, link_ids = ids[:count], ids[count : 2 * count]
        # the batch's one timestamp, in the driver's form once for every row
        now = db_timestamp(self.conn, self.now)
        new_clients: list[tuple[object, ...]] = []
        new_links: list[tuple[object, ...]] = []
        job_id, provider_id = self.job_id, self.provider_id
        invited_at = now if job.send_invitations else None
        for client_id, link_id, (row, (_, search_text, sort_name, date_of_birth)) in zip(
            client_ids, link_ids, fresh, strict=True
        ):
            # the entry's own profile (no account): what the file says, nothing looked up
            new_clients.append(
                (
                    client_id,
                    None,
                    row.first_name,
                    row.last_name,
                    row.preferred_name,
                    search_text,
                    sort_name,
                    row.mobile_phone,
                    date_of_birth,
                    0,
                    now,
                    now,
                )
            )
            new_links.append(
                (
                    link_id,
                    provider_id,
                    client_id,
                    row.email,
                    "IMPORT",
                    now,
                    job_id,
                    invited_at,
                    sort_name,
                )
            )
        self.result.client_ids = client_ids
        conn = self.conn
        await insert_rows(conn, Client, CLIENT_COLUMNS, new_clients, ready=True)
        await insert_rows(conn, ProviderClient, LINK_COLUMNS, new_links, ready=True)
        if job.send_invitations:
            outbox_ids = ids[2 * count :]
            self.result.outbox_ids = outbox_ids
            kind = EmailKind.INVITATION.value
            invitations = [
                (
                    outbox_id,
                    kind,
                    f'{{"record_id": "{link_id}"}}',
                    link_id,
                    "PENDING",
                    0,
                    now,
                    now,
                    job_id,
                )
                for outbox_id, link_id in zip(outbox_ids, link_ids, strict=True)
            ]
            await insert_rows(conn, OutboxMessage, OUTBOX_COLUMNS, invitations, ready=True)

    async def _write_issues(self) -> None:
        await insert_rows(
            self.conn,
            ClientImportIssue,
            ["client_import_id", "row", "column", "code", "message", "severity"],
            [
                [self.job_id, i.row, i.column, i.code, i.message[:500], i.severity]
                for i in self.issues
            ],
            ready=True,
        )


# {provider} becomes the first placeholder; {marks} the IN list (see select_in)
ENTRIES_OF_PROVIDER = (
    "SELECT email, source_import_id FROM provider_clients"
    " WHERE provider_id = {provider} AND email IN ({marks})"
)

LINK_COLUMNS = [
    "id",
    "provider_id",
    "client_id",
    "email",
    "added_via",
    "added_at",
    "source_import_id",
    "invitation_queued_at",
    "sort_name",
]

OUTBOX_COLUMNS = [
    "id",
    "kind",
    "payload",
    "subject_id",
    "status",
    "attempts",
    "created_at",
    "available_at",
    "import_id",
]

CLIENT_COLUMNS = [
    "id",
    "user_id",
    "legal_first_name",
    "legal_last_name",
    "preferred_name",
    "search_text",
    "sort_name",
    "mobile_phone",
    "date_of_birth",
    "reminders_sent",
    "created_at",
    "updated_at",
]
