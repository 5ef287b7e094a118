"""Operator commands: import a file with a live progress bar, list imports and the outbox."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO, TypeVar

from caseload.db import apply_migrations, close_db, init_db
from caseload.embedded_redis import EmbeddedRedis, embedded_redis_for
from caseload.settings import Settings
from models import ClientImport, ClientImportIssue, ImportStatus, OutboxStatus
from resolvers.actor import OPERATOR
from resolvers.effects import ImportProgress
from resolvers.pages import MAX_PAGE, Page
from resolvers.staff import tools as staff

COMMANDS = ("import", "imports", "outbox")
BAR_WIDTH = 30
ISSUES_SHOWN = 10

M = TypeVar("M")


def add_commands(commands: Any) -> None:
    """Register the operator subcommands on the `caseload` parser."""
    imp = commands.add_parser("import", help="import a client file for a provider, in-process")
    imp.add_argument("file", help="a .csv, .xlsx or .vcf file")
    imp.add_argument("--provider", required=True, help="the provider's account e-mail")
    imp.add_argument("--dry-run", action="store_true", help="check the file; change nothing")
    imp.add_argument("--no-invitations", action="store_true", help="do not e-mail new clients")
    imports = commands.add_parser("imports", help="list recent imports")
    imports.add_argument("--limit", type=int, default=20)
    outbox = commands.add_parser("outbox", help="list pending and failed outgoing messages")
    outbox.add_argument("--status", type=str.upper, choices=[s.value for s in OutboxStatus])
    outbox.add_argument("--limit", type=int, default=50)


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "import":
        return _with_redis(settings, args)
    if args.command == "imports":
        return asyncio.run(_with_db(settings, _list_imports(args.limit)))
    if args.command == "outbox":
        status = OutboxStatus(args.status) if args.status else None
        return asyncio.run(_with_db(settings, _list_outbox(status, args.limit)))
    return 2


async def _with_db(settings: Settings, work: Any) -> int:
    await apply_migrations(settings)
    await init_db(settings)
    try:
        return int(await work)
    finally:
        await close_db()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], out: TextIO) -> None:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


async def _staff_rows(read: Callable[[str | None], Awaitable[Page[M]]], limit: int) -> list[M]:
    """Up to `limit` rows, newest first, read page by page through a staff use case."""
    rows: list[M] = []
    after: str | None = None
    while len(rows) < limit:
        page = await read(after)
        rows.extend(row for _, row in page.items)
        if not page.has_next_page or not page.items:
            break
        after = page.items[-1][0]
    return rows[:limit]


async def _list_imports(limit: int) -> int:
    # The same use case as the GraphQL staff tools, so the read is audited the same way.
    jobs = await _staff_rows(
        lambda after: staff.list_client_imports(OPERATOR, None, MAX_PAGE, after), max(1, limit)
    )
    rows = [
        (
            j.id,
            j.provider_id,
            j.format,
            j.status.value + (" (dry run)" if j.dry_run else ""),
            f"{j.processed_rows}/{j.total_rows if j.total_rows is not None else '?'}",
            j.created_count,
            j.linked_count,
            j.already_in_list_count,
            j.duplicate_count,
            j.error_count,
            _when(j.created_at),
        )
        for j in jobs
    ]
    headers = (
        "id",
        "provider",
        "format",
        "status",
        "rows",
        "created",
        "linked",
        "in list",
        "duplicates",
        "errors",
        "created at",
    )
    table(headers, rows, sys.stdout)
    return 0


async def _list_outbox(status: OutboxStatus | None, limit: int) -> int:
    # Ids, kinds and error class names only: never the recipient or the payload.
    messages = await _staff_rows(
        lambda after: staff.list_outbox(
            OPERATOR, status, MAX_PAGE, after, among=(OutboxStatus.PENDING, OutboxStatus.FAILED)
        ),
        max(1, limit),
    )
    rows = [
        (m.id, m.kind, m.status.value, m.attempts, m.last_error, _when(m.created_at))
        for m in messages
    ]
    table(("id", "kind", "status", "attempts", "last error", "created"), rows, sys.stdout)
    return 0


def _with_redis(settings: Settings, args: argparse.Namespace) -> int:
    embedded: EmbeddedRedis | None = None
    try:
        if not settings.redis_url:
            embedded = embedded_redis_for(settings)
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            settings = settings.model_copy(update={"redis_url": embedded.start()})
        return asyncio.run(_with_db(settings, _import_file(settings, args)))
    finally:
        if embedded is not None:
            embedded.stop()


def progress_line(progress: ImportProgress) -> str:
    done, total = progress.processed_rows, progress.total_rows
    if not total:
        return f"\r[{'.' * BAR_WIDTH}] {done} rows"
    filled = min(BAR_WIDTH, BAR_WIDTH * done // total)
    return f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} rows"


async def _draw(events: AsyncIterator[dict[str, Any]]) -> None:
    async for event in events:
        line = progress_line(ImportProgress.from_json(event))
        print(line, end="", file=sys.stderr, flush=True)


async def _import_file(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        upload = path.open("rb")  # read a chunk at a time while it is checked and stored
    except OSError as error:
        print(f"cannot read {path}: {error.strerror}", file=sys.stderr)
        return 1
    with upload:
        return await _import_upload(settings, args, path, upload)


async def _import_upload(
    settings: Settings, args: argparse.Namespace, path: Path, upload: BinaryIO
) -> int:
    from caseload.redis import connect, make_services
    from importing.errors import ImportFileError
    from models import User
    from resolvers.accounts.sessions import actor_for_user
    from resolvers.effects import import_channel
    from resolvers.errors import DomainError
    from resolvers.imports.client_imports import ImportRequest, open_upload, start_import
    from resolvers.imports.runner import run_import

    user = await User.get_or_none(email=args.provider.strip().lower())
    actor = await actor_for_user(user) if user else None
    if actor is None or not actor.is_provider:
        print("No provider account has that e-mail.", file=sys.stderr)
        return 1
    redis = await connect(settings.redis_url or "")
    services = make_services(settings, redis)
    request = ImportRequest(
        file_name=path.name,
        file=open_upload(upload),
        dry_run=args.dry_run,
        send_invitations=not args.no_invitations,
    )
    try:
        try:
            job = await start_import(services, actor, request)
        except (ImportFileError, DomainError) as error:
            print(f"Import refused: {error.message}", file=sys.stderr)
            return 1
        async with services.events.listen(import_channel(job.id)) as events:
            drawer = asyncio.create_task(_draw(events))
            try:
                await run_import(services, job.id, f"cli:{uuid.uuid4().hex}")
            finally:
                await asyncio.sleep(0.05)  # let the last snapshot arrive before stopping
                drawer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drawer
        print(file=sys.stderr)
        job = await ClientImport.get(id=job.id)
        await _print_summary(job)
    finally:
        await redis.aclose()
    if job.status is not ImportStatus.COMPLETED:
        if job.failure_reason:
            print(f"Import {job.status.value.lower()}: {job.failure_reason}", file=sys.stderr)
        return 1
    return 0


async def _print_summary(job: ClientImport) -> None:
    print(f"Import {job.id}: {job.status.value}" + (" (dry run)" if job.dry_run else ""))
    counts = [
        ("rows", job.total_rows),
        ("processed", job.processed_rows),
        ("created", job.created_count),
        ("linked", job.linked_count),
        ("already in list", job.already_in_list_count),
        ("duplicates", job.duplicate_count),
        ("errors", job.error_count),
        ("warnings", job.warning_count),
    ]
    table(("count", "value"), counts, sys.stdout)
    issues = (
        await ClientImportIssue.filter(client_import_id=job.id)
        .order_by("row", "id")
        .limit(ISSUES_SHOWN)
    )
    if issues:
        print()
        print(f"First {len(issues)} issues:")
        table(
            ("row", "column", "code", "message"),
            [(i.row, i.column, i.code, i.message) for i in issues],
            sys.stdout,
        )
