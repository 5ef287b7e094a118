"""The Date, DateTime and Upload scalars as strawberry makes them, with our descriptions."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

from strawberry.file_uploads import Upload
from strawberry.file_uploads.scalars import UploadDefinition
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

# Same parsing and serializing as strawberry's own: only the descriptions differ.
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {
    date: dataclasses.replace(
        DateDefinition, description="A calendar date, ISO 8601 (YYYY-MM-DD), with no time zone."
    ),
    datetime: dataclasses.replace(
        DateTimeDefinition,
        description="A moment in time, ISO 8601 with a UTC offset (`2026-03-01T14:30:00+00:00`). "
        "Answers are in UTC; send times with an offset.",
    ),
    Upload: dataclasses.replace(
        UploadDefinition,
        description="A file sent as a part of a multipart request (the GraphQL multipart "
        "request spec); the request needs an `apollo-require-preflight` (or "
        "`x-apollo-operation-name`) header.",
    ),
}
