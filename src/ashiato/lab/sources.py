"""Names of the evidence sources, usable with ``missing=``."""

from __future__ import annotations

SOURCES: tuple[str, ...] = (
    "dhcp", "proxy", "firewall", "ids", "mail", "av", "fileserver-audit", "fileserver-listing",
    "dc", "endpoint", "hypervisor",
)
