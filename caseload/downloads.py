"""GET /imports/{id}/issues.csv: an import's row issues as CSV, safe from formula injection."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from caseload.graphql_view import bearer_token
from resolvers.accounts.sessions import authenticate
from resolvers.errors import DomainError
from resolvers.imports import client_imports as imports
from resolvers.imports import download_links
from resolvers.ports import Services

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
        import_id = request.path_params["import_id"]
        signature = request.query_params.get("signature")
        if signature is not None:  # ClientImport.issuesReportUrl: the signature is the permission
            expires = request.query_params.get("expires", "")
            if not download_links.link_is_valid(services.settings, import_id, expires, signature):
                return _refusal(403, "This link has expired or is not valid: ask for a new one.")
            try:
                issues = await imports.issues_by_signed_link(import_id)
            except DomainError:
                return _refusal(404, "No import with that id.")
            return _csv(issues)
        actor = await authenticate(
            services.settings, bearer_token(request.headers.get("authorization"))
        )
        if actor is None:
            return _refusal(401, "Log in to download this file, or use its issuesReportUrl.")
        try:
            issues = await imports.issues_for_download(actor, import_id)
        except DomainError:
            return _refusal(404, "No import with that id is yours.")
        return _csv(issues)

    return endpoint


_CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND"}


def _refusal(status: int, message: str) -> JSONResponse:
    """Refusals in the GraphQL error shape, so a client reads them as it reads the API's."""
    body = {"errors": [{"message": message, "extensions": {"code": _CODES[status]}}]}
    return JSONResponse(body, status)


def _csv(issues: list[Any]) -> Response:
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
