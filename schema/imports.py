"""Client import types, the upload mutation, cancel, and the import queries."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload

from models import ClientImport as ClientImportRow
from models import ClientImportIssue as ClientImportIssueRow
from resolvers.errors import DomainError
from resolvers.imports import campaigns, download_links
from resolvers.imports import client_imports as imports
from resolvers.imports.client_imports import ImportFileError as FileRefused
from schema.context import Info
from schema.enum_docs import describe_enum
from schema.enums import ClientField, ErrorCode, ImportFormat, ImportStatus, IssueSeverity
from schema.errors import (
    AuthError,
    ImportFileError,
    InputError,
    InvalidStateError,
    NotFoundError,
    expected,
    public_error,
)
from schema.nodes import (
    CURSOR,
    EDGES,
    NODE,
    PAGE_INFO,
    After,
    Counted,
    First,
    Node,
    PageInfo,
    connection,
)

describe_enum(
    ClientField,
    "A client field an import reads from a column of the file.",
    {
        "FIRST_NAME": "Legal first name.",
        "LAST_NAME": "Legal last name.",
        "EMAIL": "E-mail address.",
        "MOBILE_PHONE": "Mobile phone.",
        "FULL_NAME": "First and last name in one column, split on import.",
        "PREFERRED_NAME": "The name the client goes by.",
        "DATE_OF_BIRTH": "Date of birth.",
    },
)
IMPORT_ID = "The import's id."


describe_enum(
    ImportFormat,
    "The kind of file an import reads.",
    {
        "CSV": "Comma- (or otherwise) separated values.",
        "XLSX": "An Excel workbook (.xlsx).",
        "VCF": "vCard contacts (.vcf).",
    },
)


describe_enum(
    ImportStatus,
    "Where an import stands.",
    {
        "QUEUED": "Waiting for a worker.",
        "RUNNING": "Reading rows and writing clients, batch by batch.",
        "COMPLETED": "Done: every row is in, or in the issues.",
        "FAILED": "Stopped by a fault (`failureReason`); staff can retry it.",
        "CANCELLED": "Stopped on request; rows written before that stay.",
    },
)


describe_enum(
    IssueSeverity,
    "How bad a row's issue is.",
    {
        "ERROR": "The row was skipped.",
        "WARNING": "The row was imported, with this part left out or changed.",
    },
)


@strawberry.type(description="Which column of the file a client field is read from.")
class ColumnMapping:
    field: ClientField = strawberry.field(description="The client field.")
    column: str = strawberry.field(description="The column's header, as in the file.")


@strawberry.type(description="Something wrong with one row of an imported file.")
class RowIssue:
    row: int = strawberry.field(
        description="The row's number in the file, counting the header row as 1 (in a vCard "
        "file, the contact's number)."
    )
    column: str | None = strawberry.field(
        description="The column's header; null when the issue is the whole row's."
    )
    code: str = strawberry.field(
        description="What is wrong, for the program: e.g. `MISSING_FIELD`, `INVALID_EMAIL`, "
        "`INVALID_PHONE`, `DUPLICATE_ROW`."
    )
    message: str = strawberry.field(description="What is wrong, for a person; no cell values.")
    severity: IssueSeverity = strawberry.field(
        description="Whether the row was skipped or imported."
    )

    @classmethod
    def from_row(cls, issue: ClientImportIssueRow) -> RowIssue:
        return cls(
            row=issue.row,
            column=issue.column,
            code=issue.code,
            message=issue.message,
            severity=IssueSeverity(issue.severity),
        )


@strawberry.type(description="A row issue in a list.")
class RowIssueEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: RowIssue = strawberry.field(description=NODE)


@strawberry.type(description="A page of an import's row issues, in the order they were found.")
class RowIssueConnection(Counted):
    edges: list[RowIssueEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)


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


@strawberry.type(
    name="ClientImport",
    description="A file of clients being put on a provider's list, row by row, by a worker.",
)
class ClientImportType(Node):
    row: strawberry.Private[ClientImportRow]
    file_name: str = strawberry.field(description="The uploaded file's name.")
    format: ImportFormat = strawberry.field(description="The kind of file.")
    status: ImportStatus = strawberry.field(description="Where it stands.")
    dry_run: bool = strawberry.field(
        description="Validate and count only: nothing is written and nothing is sent."
    )
    total_rows: int | None = strawberry.field(
        description="The file's data rows; null until they are counted."
    )
    processed_rows: int = strawberry.field(description="The data rows read so far.")
    created_count: int = strawberry.field(description="New entries put on the list.")
    linked_count: int = strawberry.field(
        description="Always 0.",
        deprecation_reason="Always 0: whether an address has an account is never revealed.",
    )
    already_in_list_count: int = strawberry.field(
        description="Rows whose address was on the list already."
    )
    duplicate_count: int = strawberry.field(
        description="Repeats of an earlier row in the same file."
    )
    error_count: int = strawberry.field(description="Rows skipped (issues of severity ERROR).")
    warning_count: int = strawberry.field(
        description="Rows imported with an issue of severity WARNING."
    )
    ignored_columns: list[str] = strawberry.field(
        description="The file's headers that no client field is read from."
    )
    failure_reason: str | None = strawberry.field(
        description="Why it failed, for a person; null unless FAILED."
    )
    created_at: datetime = strawberry.field(description="When it was started.")
    started_at: datetime | None = strawberry.field(
        description="When a worker began it; null while queued."
    )
    finished_at: datetime | None = strawberry.field(
        description="When it reached COMPLETED, FAILED or CANCELLED; null before."
    )

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

    @strawberry.field(description="Which column each client field is read from.")
    def column_mapping(self) -> list[ColumnMapping]:
        return [
            ColumnMapping(field=ClientField(m["field"]), column=m["column"])
            for m in self.row.column_mapping
        ]

    @strawberry.field(description="The rows with an issue, in the order they were found.")
    async def issues(
        self,
        first: First = 50,
        after: After = None,
        severity: Annotated[
            IssueSeverity | None,
            strawberry.argument(description="Only issues of this severity."),
        ] = None,
    ) -> RowIssueConnection:
        try:
            page = await imports.list_issues(
                self.row,
                50 if first is None else first,
                after,
                severity.value if severity else None,
            )
        except DomainError as error:
            raise public_error(error) from None
        return connection(RowIssueConnection, RowIssueEdge, page, RowIssue.from_row, after)

    @classmethod
    def from_row(cls, row: ClientImportRow) -> ClientImportType:
        return cls(
            id=strawberry.ID(str(row.id)),
            row=row,
            file_name=row.file_name,
            format=ImportFormat(row.format),
            status=row.status,
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


@strawberry.type(description="An import in a list.")
class ClientImportEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: ClientImportType = strawberry.field(description=NODE)


def _http_base(request: Any) -> str:
    """This API's own base URL, from an HTTP request or a WebSocket (ws:// becomes http://)."""
    if request is None:
        return ""
    base = str(request.base_url).rstrip("/")
    for socket, http in (("ws://", "http://"), ("wss://", "https://")):
        if base.startswith(socket):
            return http + base[len(socket) :]
    return base


@strawberry.type(description="A page of imports, newest first.")
class ClientImportConnection(Counted):
    edges: list[ClientImportEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)


@strawberry.input(description="Read a client field from this column of the file.")
class ColumnMappingInput:
    field: ClientField = strawberry.field(description="The client field.")
    column: str = strawberry.field(description="The column's header, as in the file.")


@strawberry.input(description="A file of clients to import.")
class StartClientImportInput:
    file: Upload = strawberry.field(
        description="The file: .csv, .xlsx or .vcf, within the server's size and row limits."
    )
    dry_run: bool | None = strawberry.field(
        default=False, description="Validate and count, write nothing, send nothing."
    )
    send_invitations: bool | None = strawberry.field(
        default=True, description="Queue an invitation to each new entry."
    )
    column_mapping: list[ColumnMappingInput] | None = strawberry.field(
        default=None,
        description="Which column to read a field from, where the headers are not recognized; "
        "the other fields are found by their headers.",
    )


@strawberry.type(description="The import, as it stands now.")
class StartClientImportSuccess:
    client_import: ClientImportType = strawberry.field(
        description="The import; follow it with clientImportProgress."
    )


StartClientImportResult = Annotated[
    StartClientImportSuccess | ImportFileError | InputError | AuthError,
    strawberry.union(
        "StartClientImportResult", description="The import queued, or why the file was refused."
    ),
]
ClientImportResult = Annotated[
    StartClientImportSuccess | NotFoundError | InvalidStateError | AuthError,
    strawberry.union("ClientImportResult", description="The import as changed, or why not."),
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
    @strawberry.field(description="One of the provider's imports; null for any other id.")
    async def client_import(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=IMPORT_ID)]
    ) -> ClientImportType | None:
        row = await imports.get_import(info.context.actor, id)
        return ClientImportType.from_row(row) if row else None

    @strawberry.field(description="The provider's imports, newest first.")
    async def client_imports(
        self, info: Info, first: First = 20, after: After = None
    ) -> ClientImportConnection:
        try:
            page = await imports.list_imports(
                info.context.actor, 20 if first is None else first, after
            )
        except DomainError as error:
            raise public_error(error) from None
        return connection(
            ClientImportConnection, ClientImportEdge, page, ClientImportType.from_row, after
        )


@strawberry.type
class ImportMutations:
    @strawberry.mutation(
        description="Upload a file of clients (providers with a confirmed e-mail; a multipart "
        "request). The file is checked at once (ImportFileError); a worker then imports its "
        "rows; rate-limited."
    )
    async def start_client_import(
        self,
        info: Info,
        input: Annotated[StartClientImportInput, strawberry.argument(description="The file.")],
    ) -> StartClientImportResult:
        ctx = info.context
        upload: Any = input.file  # a Starlette UploadFile, spooled to a temporary file
        request = imports.ImportRequest(
            file_name=getattr(upload, "filename", None) or "upload",
            # read from that file a chunk at a time, never copied into memory whole
            file=await asyncio.to_thread(imports.open_upload, upload.file),
            dry_run=bool(input.dry_run),
            send_invitations=input.send_invitations is not False,
            column_mapping={m.field: m.column for m in input.column_mapping or []} or None,
        )
        try:
            row = await imports.start_import(ctx.services, ctx.actor, request)
        except FileRefused as error:
            return file_error(error)
        except DomainError as error:
            return expected(error, InputError, AuthError)
        return StartClientImportSuccess(client_import=ClientImportType.from_row(row))

    @strawberry.mutation(
        description="Stop an import that is queued or running; rows already written stay."
    )
    async def cancel_client_import(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=IMPORT_ID)]
    ) -> ClientImportResult:
        ctx = info.context
        try:
            row = await imports.cancel_import(ctx.services, ctx.actor, id)
        except DomainError as error:
            return expected(error, NotFoundError, InvalidStateError, AuthError)
        return StartClientImportSuccess(client_import=ClientImportType.from_row(row))
