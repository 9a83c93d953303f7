"""Small helpers shared by the CSV-by-header formats (``generic_table`` profiles)."""

from __future__ import annotations

from ashiato.formats.generic_table import Row


def split_domain_user(row: Row) -> None:
    """``DOMAIN\\user`` in ``user.name`` becomes ``user.name`` + ``user.domain``."""
    user = row.get("user.name")
    if user and "\\" in user:
        dom, _, name = user.rpartition("\\")
        row["user.name"], row["user.domain"] = name, dom
