"""The schema layer maps types: it reaches the import pipeline and the ORM only through use cases."""

from __future__ import annotations

import ast
import importlib
import inspect
from enum import Enum
from pathlib import Path

from tortoise.models import Model

SCHEMA = Path(__file__).resolve().parents[1] / "schema"


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text())
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def test_schema_never_imports_the_import_pipeline() -> None:
    offenders = [
        f"{path.name}: {module}"
        for path in sorted(SCHEMA.glob("*.py"))
        for module, _ in _imports(path)
        if module == "importing" or module.startswith("importing.")
    ]
    assert offenders == []


def test_schema_takes_only_enums_and_row_types_from_models() -> None:
    models = importlib.import_module("models")
    taken = {
        name
        for path in sorted(SCHEMA.glob("*.py"))
        for module, names in _imports(path)
        if module == "models" or module.startswith("models.")
        for name in names
    }
    assert taken, "the schema names row types such as ClientImport"
    for name in taken:
        value = getattr(models, name)
        assert inspect.isclass(value) and issubclass(value, Enum | Model), name


RESOLVERS = SCHEMA.parent / "resolvers"


def test_use_cases_release_effects_only_through_the_unit_of_work() -> None:
    """A job enqueued or an event published before its transaction commits (or after it
    rolled back) is the bug DESIGN §6 rules out: use cases call `uow.enqueue` and
    `uow.publish`, which unit_of_work.py releases after commit."""
    offenders = []
    for path in sorted(RESOLVERS.rglob("*.py")):
        if path.name == "unit_of_work.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in {"publish", "enqueue"}
                and isinstance(node.value, ast.Attribute)
                and node.value.attr in {"events", "queue"}
            ):
                offenders.append(f"{path.relative_to(RESOLVERS)}:{node.lineno}")
    assert offenders == []
