"""Derived name fields: display name, and the folded text that search and ordering use."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower-case and strip accents, so "Zoë" and "zoe" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def display_name(first: str, last: str, preferred: str | None) -> str:
    return f"{preferred or first} {last}".strip()


def search_fields(first: str, last: str, preferred: str | None, email: str) -> dict[str, str]:
    sort_name = fold(f"{last} {first}")[:256]
    text = fold(" ".join(p for p in (first, last, preferred or "", email) if p))[:512]
    return {"search_text": text, "sort_name": sort_name}
