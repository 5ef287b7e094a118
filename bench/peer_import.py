"""Run inside the peer's own virtual environment: django-import-export importing one CSV.

Standalone on purpose (no Caseload import): bench/peer.py writes a tiny Django project at run
time (an app with a Client model) and runs this script with the peer venv's Python. Settings
are django-import-export's fastest documented ones: `use_bulk`, `skip_diff`, `batch_size`,
and `force_init_instance` (no look-up of an existing row per row). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

APP_MODELS = """
from django.db import models


class Client(models.Model):
    client_code = models.CharField(max_length=64, blank=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254, db_index=True)
    mobile_phone = models.CharField(max_length=40, blank=True)
    date_of_birth = models.DateField(null=True)
    insurance = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=32, blank=True)

    class Meta:
        app_label = "peerapp"
"""


def database_settings(url: str) -> dict[str, object]:
    if url.startswith("sqlite:"):
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": url.removeprefix("sqlite:")}
    parts = urlparse(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", required=True, type=Path)
    parser.add_argument("--database", required=True)
    parser.add_argument("--csv", required=True, type=Path)
    args = parser.parse_args()

    app = args.project / "peerapp"
    app.mkdir(parents=True, exist_ok=True)
    (app / "__init__.py").write_text("")
    (app / "models.py").write_text(APP_MODELS)
    sys.path.insert(0, str(args.project))

    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": database_settings(args.database)},
        INSTALLED_APPS=["peerapp"],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()

    import tablib
    from django.db import connection
    from import_export import fields, resources, widgets
    from peerapp.models import Client  # type: ignore[import-not-found]

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # the settings Caseload's SQLite runs with (WAL, synchronous NORMAL)
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
    with connection.schema_editor() as editor:
        editor.create_model(Client)

    def column(attribute: str, name: str, widget: object = None) -> fields.Field:
        return fields.Field(attribute=attribute, column_name=name, widget=widget)

    class ClientResource(resources.ModelResource):
        client_code = column("client_code", "Client ID")
        first_name = column("first_name", "First Name")
        last_name = column("last_name", "Last Name")
        preferred_name = column("preferred_name", "Preferred Name")
        email = column("email", "Email")
        mobile_phone = column("mobile_phone", "Mobile Phone")
        date_of_birth = column(
            "date_of_birth", "Date of Birth", widgets.DateWidget(format="%m/%d/%Y")
        )
        insurance = column("insurance", "Primary Insurance")
        status = column("status", "Status")

        class Meta:
            model = Client
            fields = (
                "client_code",
                "first_name",
                "last_name",
                "preferred_name",
                "email",
                "mobile_phone",
                "date_of_birth",
                "insurance",
                "status",
            )
            import_id_fields = ("email",)
            use_bulk = True
            skip_diff = True
            batch_size = 5000
            force_init_instance = True

    started = time.perf_counter()
    dataset = tablib.Dataset().load(args.csv.read_text(encoding="utf-8-sig"), format="csv")
    result = ClientResource().import_data(dataset, dry_run=False, use_transactions=True)
    seconds = time.perf_counter() - started
    stored = Client.objects.count()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": len(dataset),
                "stored": stored,
                "invalid": len(result.invalid_rows),
                "errors": len(result.row_errors()) + len(result.base_errors),
                "totals": dict(result.totals),
            }
        )
    )
    with connection.schema_editor() as editor:
        editor.delete_model(Client)


if __name__ == "__main__":
    main()
