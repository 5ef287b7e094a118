"""The standard forms: reading the current version of each, and publishing a new one."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from models import FormDocument, FormKind
from resolvers.errors import FieldProblem, InvalidInput
from resolvers.unit_of_work import in_transaction_retried

MAX_TITLE = 200


async def current_forms() -> list[FormDocument]:
    """The newest version of each required form, in FormKind order."""
    forms: list[FormDocument] = []
    for kind in FormKind:
        latest = await FormDocument.filter(kind=kind).order_by("-version").first()
        if latest is not None:
            forms.append(latest)
    return forms


def split_form_text(text: str) -> tuple[str, str]:
    """The first non-blank line is the title, the rest the body."""
    lines = text.strip().splitlines()
    title = lines[0].strip() if lines else ""
    body = "\n".join(lines[1:]).strip()
    problems = []
    if not title:
        problems.append(FieldProblem("title", "the first line of the file must be the title"))
    elif len(title) > MAX_TITLE:
        problems.append(FieldProblem("title", f"must be at most {MAX_TITLE} characters"))
    if not body:
        problems.append(FieldProblem("body", "the file has no text after its title line"))
    if problems:
        raise InvalidInput(problems)
    return title, body


async def publish_form(kind: FormKind, text: str) -> FormDocument:
    """Version N+1 of a form. Clients must acknowledge it: older acknowledgements stop counting."""
    title, body = split_form_text(text)

    async def publish(conn: BaseDBAsyncClient) -> FormDocument:
        latest = await FormDocument.filter(kind=kind).using_db(conn).order_by("-version").first()
        version = latest.version + 1 if latest else 1
        return await FormDocument.create(
            kind=kind, version=version, title=title, body=body, using_db=conn
        )

    for _attempt in range(3):
        try:
            return await in_transaction_retried(publish)
        except IntegrityError:
            continue  # another publisher took this version number a moment ago
    raise InvalidInput([FieldProblem("kind", "is being published by someone else; try again")])
