"""The peer measured in the same run: django-import-export in a virtual environment of its own.

The bench creates bench/.peer-venv on first use (pip from the package index, pinned versions;
Django 5.2 LTS, as 6.x needs Python 3.12),
then runs bench/peer_import.py there on the very file Caseload imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "bench" / ".peer-venv"
PINS = ["django==5.2.19", "django-import-export==4.4.3", "psycopg[binary]==3.3.9"]
STAMP = VENV / ".installed"


def peer_python() -> Path | None:
    """The peer venv's interpreter, creating and filling the venv when needed; None if it fails."""
    python = VENV / "bin" / "python"
    wanted = "\n".join(PINS)
    if python.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return python
    base = getattr(sys, "_base_executable", sys.executable)
    steps = [
        [base, "-m", "venv", "--clear", str(VENV)],
        [str(python), "-m", "pip", "install", "--quiet", *PINS],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(
                f"peer venv: {' '.join(step[:4])} failed:\n{done.stderr[-2000:]}", file=sys.stderr
            )
            return None
    STAMP.write_text(wanted)
    return python


def run_peer(data: bytes, database: str) -> dict[str, Any] | None:
    """django-import-export on `data` (a CSV) into `database` ("sqlite:PATH" or a PostgreSQL
    URL): seconds from reading the file to the end of import_data, rows stored; None if the
    peer could not be set up."""
    python = peer_python()
    if python is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clients.csv"
        path.write_bytes(data)
        if database == "sqlite":
            database = f"sqlite:{Path(tmp) / 'peer.sqlite3'}"
        done = subprocess.run(
            [
                str(python),
                str(ROOT / "bench" / "peer_import.py"),
                "--project",
                str(Path(tmp) / "project"),
                "--database",
                database,
                "--csv",
                str(path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        print(f"peer import failed:\n{done.stderr[-3000:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["rows_per_s"] = result["rows"] / result["seconds"]
    return result
