"""The models need no new migration: Tortoise's autodetector (what `tortoise makemigrations`
runs) replays models/migrations and finds nothing the models have that the migrations lack.

When this fails, run `.venv/bin/tortoise --config caseload.db.TORTOISE_ORM makemigrations -n WHAT`,
read the file it writes and commit it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from caseload.db import TORTOISE_ORM


async def _pending_operations(config: dict[str, Any]) -> tuple[list[str], set[str]]:
    """What a new migration would do, and the names of the models compared."""
    # a context of its own on an in-memory SQLite (nothing is applied), so the app's Tortoise
    # (the running test server) is left alone
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        assert ctx.apps is not None
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
        models = {model.__name__ for model in ctx.apps["models"].values()}
    return [op.describe() for writer in writers for op in writer.operations], models


async def test_the_models_need_no_new_migration() -> None:
    pending, models = await _pending_operations(copy.deepcopy(TORTOISE_ORM))
    assert pending == []
    assert len(models) >= 14  # every model was compared


async def test_the_check_sees_every_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # against an empty migrations package the same detector plans every table from scratch
    (tmp_path / "no_migrations_yet").mkdir()
    (tmp_path / "no_migrations_yet" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = copy.deepcopy(TORTOISE_ORM)
    config["apps"]["models"]["migrations"] = "no_migrations_yet"
    pending, models = await _pending_operations(config)
    created = {op.removeprefix("Create model ") for op in pending if op.startswith("Create model")}
    assert created == models, pending
