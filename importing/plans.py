"""A FilePlan as plain JSON, so a worker reads the rows without inspecting the file again."""

from __future__ import annotations

from typing import Any

from importing.model import ClientField, FilePlan, ImportFormat, Layout, Source

VERSION = 1


def plan_to_json(plan: FilePlan) -> dict[str, Any]:
    layout = plan.layout
    return {
        "version": VERSION,
        "format": plan.format.value,
        "headers": list(plan.headers),
        "mapping": {f.value: c for f, c in plan.mapping.items()},
        "ignored_columns": list(plan.ignored_columns),
        "total_rows": plan.total_rows,
        "layout": {
            "encoding": layout.encoding,
            "delimiter": layout.delimiter,
            "sheet": layout.sheet,
            "header_index": layout.header_index,
            "row_offset": layout.row_offset,
            "sources": {
                f.value: [[s.column, s.label_column] for s in sources]
                for f, sources in layout.sources.items()
            },
            "digest": layout.digest.hex(),
        },
    }


def plan_from_json(data: dict[str, Any]) -> FilePlan | None:
    """The plan, or None when it was stored by another version (inspect the file again)."""
    if not data or data.get("version") != VERSION:
        return None
    raw = data["layout"]
    layout = Layout(
        encoding=raw["encoding"],
        delimiter=raw["delimiter"],
        sheet=raw["sheet"],
        header_index=int(raw["header_index"]),
        row_offset=int(raw["row_offset"]),
        sources={
            ClientField(f): tuple(Source(column=c, label_column=label) for c, label in sources)
            for f, sources in raw["sources"].items()
        },
        digest=bytes.fromhex(raw["digest"]),
    )
    return FilePlan(
        format=ImportFormat(data["format"]),
        headers=list(data["headers"]),
        mapping={ClientField(f): c for f, c in data["mapping"].items()},
        ignored_columns=list(data["ignored_columns"]),
        total_rows=int(data["total_rows"]),
        layout=layout,
    )
