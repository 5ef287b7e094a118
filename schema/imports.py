"""Client import types, the upload mutation, cancel, and the import queries."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload

from importing.errors import ImportFileError as FileRefused
from importing.model import ClientField as ClientFieldValue
from models import ClientImport as ClientImportRow
from resolvers import campaigns, download_links, imports
from resolvers.errors import DomainError
from schema.context import Info
from schema.errors import (
    AuthError,
    ErrorCode,
    ImportFileError,
    InputError,
    InvalidStateError,
    NotFoundError,
    public_error,
    to_error,
)
from schema.nodes import Counted, Node, PageInfo

ClientField = strawberry.enum(ClientFieldValue, name="ClientField")


@strawberry.enum
class ImportFormat(Enum):
    CSV = "CSV"
    XLSX = "XLSX"
    VCF = "VCF"


@strawberry.enum
class ClientImportStatus(Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


@strawberry.enum
class RowIssueSeverity(Enum):
    ERROR = "ERROR"
    WARNING = "WARNING"


@strawberry.type
class ColumnMapping:
    field: ClientField  # type: ignore[valid-type]
    column: str


@strawberry.type
class RowIssue:
    row: int
    column: str | None
    code: str
    message: str
    severity: RowIssueSeverity


@strawberry.type
class RowIssueEdge:
    cursor: str
    node: RowIssue


@strawberry.type
class RowIssueConnection(Counted):
    edges: list[RowIssueEdge]
    page_info: PageInfo


@strawberry.type(
    description="How an import's invitation e-mails are going; counts move as batches are sent."
)
class InvitationProgress:
    requested: bool = strawberry.field(
        description="False for a dry run or an import started with sendInvitations: false."
    )
    total: int = strawberry.field(
        description="Invitations due: one per entry the import added, less those no longer due "
        "(accepted, removed or sent again since)."
    )
    sent: int = strawberry.field(description="Invitations the mail server accepted.")
    failed: int = strawberry.field(
        description="Invitations given up after every delivery attempt failed."
    )
    pending: int = strawberry.field(description="Invitations still to send: total - sent - failed.")
    finished_at: datetime | None = strawberry.field(
        description="When the last invitation was settled after the rows were done; null before."
    )


@strawberry.type(name="ClientImport")
class ClientImportType(Node):
    row: strawberry.Private[ClientImportRow]
    file_name: str
    format: ImportFormat
    status: ClientImportStatus
    dry_run: bool
    total_rows: int | None
    processed_rows: int
    created_count: int
    linked_count: int = strawberry.field(
        deprecation_reason="Always 0: whether an address has an account is never revealed."
    )
    already_in_list_count: int
    duplicate_count: int
    error_count: int
    warning_count: int
    ignored_columns: list[str]
    failure_reason: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @strawberry.field(
        description=(
            "A link that downloads the row-issues CSV without an Authorization header; valid for "
            "a few minutes, for this import only; null while there is nothing to download."
        )
    )
    def issues_report_url(self, info: Info) -> str | None:
        if self.error_count + self.warning_count == 0:
            return None
        path = download_links.issues_report_path(info.context.services.settings, str(self.row.id))
        return _http_base(info.context.request) + path

    @strawberry.field(
        description="The invitation e-mails of this import: clientImportProgress keeps "
        "reporting them after the rows are done."
    )
    def invitations(self) -> InvitationProgress:
        counts = campaigns.counts_of(self.row)
        return InvitationProgress(
            requested=counts.requested,
            total=counts.total,
            sent=counts.sent,
            failed=counts.failed,
            pending=counts.pending,
            finished_at=counts.finished_at,
        )

    @strawberry.field
    def column_mapping(self) -> list[ColumnMapping]:
        return [
            ColumnMapping(field=ClientFieldValue(m["field"]), column=m["column"])
            for m in self.row.column_mapping
        ]

    @strawberry.field
    async def issues(
        self,
        first: int | None = 50,
        after: str | None = None,
        severity: RowIssueSeverity | None = None,
    ) -> RowIssueConnection:
        try:
            page, more, total = await imports.list_issues(
                self.row,
                50 if first is None else first,
                after,
                severity.value if severity else None,
            )
        except DomainError as error:
            raise public_error(error) from None
        edges = [
            RowIssueEdge(
                cursor=cursor,
                node=RowIssue(
                    row=i.row,
                    column=i.column,
                    code=i.code,
                    message=i.message,
                    severity=RowIssueSeverity(i.severity),
                ),
            )
            for cursor, i in page
        ]
        return RowIssueConnection(
            edges=edges,
            page_info=PageInfo.of(edges, more, after),
            count=total,
        )

    @classmethod
    def from_row(cls, row: ClientImportRow) -> ClientImportType:
        return cls(
            id=strawberry.ID(str(row.id)),
            row=row,
            file_name=row.file_name,
            format=ImportFormat(row.format),
            status=ClientImportStatus(row.status.value),
            dry_run=row.dry_run,
            total_rows=row.total_rows,
            processed_rows=row.processed_rows,
            created_count=row.created_count,
            linked_count=row.linked_count,
            already_in_list_count=row.already_in_list_count,
            duplicate_count=row.duplicate_count,
            error_count=row.error_count,
            warning_count=row.warning_count,
            ignored_columns=list(row.ignored_columns),
            failure_reason=row.failure_reason,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )


@strawberry.type
class ClientImportEdge:
    cursor: str
    node: ClientImportType


def _http_base(request: Any) -> str:
    """This API's own base URL, from an HTTP request or a WebSocket (ws:// becomes http://)."""
    if request is None:
        return ""
    base = str(request.base_url).rstrip("/")
    for socket, http in (("ws://", "http://"), ("wss://", "https://")):
        if base.startswith(socket):
            return http + base[len(socket) :]
    return base


@strawberry.type
class ClientImportConnection(Counted):
    edges: list[ClientImportEdge]
    page_info: PageInfo


@strawberry.input
class ColumnMappingInput:
    field: ClientField  # type: ignore[valid-type]
    column: str


@strawberry.input
class StartClientImportInput:
    file: Upload
    dry_run: bool | None = False
    send_invitations: bool | None = True
    column_mapping: list[ColumnMappingInput] | None = None


@strawberry.type
class StartClientImportSuccess:
    client_import: ClientImportType


StartClientImportResult = Annotated[
    StartClientImportSuccess | ImportFileError | InputError | AuthError,
    strawberry.union("StartClientImportResult"),
]
ClientImportResult = Annotated[
    StartClientImportSuccess | NotFoundError | InvalidStateError | AuthError,
    strawberry.union("ClientImportResult"),
]


def file_error(error: FileRefused) -> ImportFileError:
    return ImportFileError(
        code=ErrorCode(error.code),
        message=error.message,
        missing_columns=error.missing_columns,
        found_columns=error.found_columns,
    )


@strawberry.type
class ImportQueries:
    @strawberry.field
    async def client_import(self, info: Info, id: strawberry.ID) -> ClientImportType | None:
        row = await imports.get_import(info.context.actor, id)
        return ClientImportType.from_row(row) if row else None

    @strawberry.field
    async def client_imports(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> ClientImportConnection:
        try:
            page, more, count = await imports.list_imports(
                info.context.actor, 20 if first is None else first, after
            )
        except DomainError as error:
            raise public_error(error) from None
        edges = [ClientImportEdge(cursor=c, node=ClientImportType.from_row(r)) for c, r in page]
        return ClientImportConnection(
            edges=edges, page_info=PageInfo.of(edges, more, after), count=count
        )


@strawberry.type
class ImportMutations:
    @strawberry.mutation
    async def start_client_import(
        self, info: Info, input: StartClientImportInput
    ) -> StartClientImportResult:
        ctx = info.context
        upload: Any = input.file  # a Starlette UploadFile
        request = imports.ImportRequest(
            file_name=getattr(upload, "filename", None) or "upload",
            data=await upload.read(ctx.services.settings.max_upload_bytes + 1),
            dry_run=bool(input.dry_run),
            send_invitations=input.send_invitations is not False,
            column_mapping={m.field: m.column for m in input.column_mapping or []} or None,
        )
        try:
            row = await imports.start_import(ctx.services, ctx.actor, request)
        except FileRefused as error:
            return file_error(error)
        except DomainError as error:
            return to_error(error)  # type: ignore[return-value]
        return StartClientImportSuccess(client_import=ClientImportType.from_row(row))

    @strawberry.mutation
    async def cancel_client_import(self, info: Info, id: strawberry.ID) -> ClientImportResult:
        ctx = info.context
        try:
            row = await imports.cancel_import(ctx.services, ctx.actor, id)
        except DomainError as error:
            return to_error(error)  # type: ignore[return-value]
        return StartClientImportSuccess(client_import=ClientImportType.from_row(row))
