"""The models need no new migration: Tortoise's autodetector (what `tortoise makemigrations`
runs) replays models/migrations and finds nothing the models have that the migrations lack.

When this fails, run `.venv/bin/tortoise --config caseload.db.TORTOISE_ORM makemigrations -n WHAT`,
read the file it writes and commit it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

# In a process of its own: Tortoise initialised on SQLite in this process would leave its
# SQLite query builder behind for the PostgreSQL run of the rest of the suite.
DETECT = """
import asyncio, copy, json, sys
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector
from caseload.db import TORTOISE_ORM

async def main():
    config = copy.deepcopy(TORTOISE_ORM)
    if len(sys.argv) > 1:
        sys.path.insert(0, sys.argv[1])
        config["apps"]["models"]["migrations"] = "no_migrations_yet"
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
        models = sorted(model.__name__ for model in ctx.apps["models"].values())
    ops = [op.describe() for writer in writers for op in writer.operations]
    print(json.dumps({"pending": ops, "models": models}))

asyncio.run(main())
"""


def _pending_operations(*args: str) -> tuple[list[str], set[str]]:
    """What a new migration would do, and the names of the models compared."""
    done = subprocess.run(
        [sys.executable, "-c", DETECT, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return list(result["pending"]), set(result["models"])


def test_the_models_need_no_new_migration() -> None:
    pending, models = _pending_operations()
    assert pending == []
    assert len(models) >= 14  # every model was compared


def test_the_check_sees_every_model(tmp_path: Path) -> None:
    # against an empty migrations package the same detector plans every table from scratch
    (tmp_path / "no_migrations_yet").mkdir()
    (tmp_path / "no_migrations_yet" / "__init__.py").write_text("")
    pending, models = _pending_operations(str(tmp_path))
    created = {op.removeprefix("Create model ") for op in pending if op.startswith("Create model")}
    assert created == models, pending
