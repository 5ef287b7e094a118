"""GET /imports/{id}/issues.csv: an import's row issues as CSV, safe from formula injection."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from caseload.graphql_view import bearer_token
from resolvers import imports
from resolvers.errors import DomainError
from resolvers.ports import Services
from resolvers.sessions import authenticate

# A spreadsheet starts a formula at a cell beginning with one of these (full-width forms
# too, in East Asian locales) ...
_FORMULA_CHARS = "=+\\-@\t\r\n\uff1d\uff0b\uff0d\uff20"
# ... and a cell may begin anywhere after a `,` or `;` when the program splits on the other
# separator (or ignores our quotes), or after a line break, after spaces or quotes it trims. An apostrophe before
# the formula character makes every such start plain text.
_FORMULA_START = re.compile(rf"(^|[,;\r\n])([ \"']*)(?=[{_FORMULA_CHARS}])")


def safe_cell(value: object) -> str:
    """A spreadsheet shows this as text, never runs it as a formula, however it splits."""
    text = "" if value is None else str(value)
    return _FORMULA_START.sub(r"\1\2'", text)


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """CSV with every cell quoted and neutralised (headers included)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def issues_csv(services: Services):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        actor = await authenticate(
            services.settings, bearer_token(request.headers.get("authorization"))
        )
        if actor is None:
            return JSONResponse({"error": "Log in to download this file."}, status_code=401)
        try:
            issues = await imports.issues_for_download(actor, request.path_params["import_id"])
        except DomainError:
            return JSONResponse({"error": "No import with that id is yours."}, status_code=404)
        header = ["Row", "Column", "Severity", "Code", "Message"]
        body = [[i.row, i.column, i.severity, i.code, i.message] for i in issues]
        return Response(
            csv_text([header, *body]),
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": 'attachment; filename="import-issues.csv"',
                "cache-control": "no-store",
            },
        )

    return endpoint
