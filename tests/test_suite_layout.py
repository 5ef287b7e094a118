"""The test suite's own habits: helpers live in tests/support, never in another test module;
no test names an absolute path (they derive it from the repository, tests/support/paths.py)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# modules a test may import besides tests.support: the pure readers' byte builders
HELPER_MODULES = {"tests.support", "tests.importing.builders"}


def _modules() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def _is_helper(module: str) -> bool:
    return any(module == h or module.startswith(h + ".") for h in HELPER_MODULES)


def test_no_test_module_imports_another() -> None:
    offending = [
        f"{path.relative_to(TESTS)}:{line} imports {module}"
        for path in _modules()
        for line, module in _imported(ast.parse(path.read_text(), str(path)))
        if module.startswith("tests.") and not _is_helper(module)
    ]
    assert offending == [], "move shared helpers into tests/support:\n" + "\n".join(offending)


def test_no_absolute_paths() -> None:
    offending = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Path"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value.startswith("/")
            ):
                offending.append(f"{path.relative_to(TESTS)}:{node.lineno} {node.args[0].value}")
    assert offending == [], "derive paths from tests/support/paths.py:\n" + "\n".join(offending)


def test_the_checks_see_the_suite() -> None:
    # the two checks above walk real files: the suite and its support package are among them
    names = {path.relative_to(TESTS).as_posix() for path in _modules()}
    assert {"support/__init__.py", "support/paths.py", "conftest.py"} <= names
    assert sum(1 for name in names if name.startswith("test_")) > 30
