"""Signed, short-lived links to one import's issues CSV, usable without an Authorization header."""

from __future__ import annotations

import hashlib
import hmac
import time

from caseload.settings import Settings


def _signature(secret: str, import_id: str, expires: int) -> str:
    message = f"import-issues:{import_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def issues_report_path(settings: Settings, import_id: str, *, now: float | None = None) -> str:
    """The path and query of a link valid for `download_link_seconds`, for this import only."""
    expires = int(now if now is not None else time.time()) + settings.download_link_seconds
    signature = _signature(settings.secret_key, import_id, expires)
    return f"/imports/{import_id}/issues.csv?expires={expires}&signature={signature}"


def link_is_valid(
    settings: Settings, import_id: str, expires: str, signature: str, *, now: float | None = None
) -> bool:
    if not expires.isdigit() or int(expires) < (now if now is not None else time.time()):
        return False
    expected = _signature(settings.secret_key, import_id, int(expires))
    return hmac.compare_digest(expected, signature)
