"""The one place formats are registered.

Order matters for sniffing: specific formats come before generic ones. Adding a
format = adding its module and one line here.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator

from ashiato.errors import FormatError
from ashiato.formats.base import Format, Sample

BUILTIN: tuple[str, ...] = (
    "ashiato.formats.evtx",
    "ashiato.formats.evtx_jsonl",
    "ashiato.formats.winlogbeat",
    "ashiato.formats.splunk_json",  # before nxlog_json: a bare result may hold EventID too
    "ashiato.formats.nxlog_json",
    "ashiato.formats.wevtutil_xml",
    "ashiato.formats.eventviewer_csv",
    "ashiato.formats.dhcp",
    "ashiato.formats.isc_dhcpd",
    "ashiato.formats.suricata",
    "ashiato.formats.fortigate",
    "ashiato.formats.trendmicro",
    "ashiato.formats.postfix",
    "ashiato.formats.squid",
    "ashiato.formats.mftecmd",
    "ashiato.formats.file_listing",
    "ashiato.formats.ls_listing",
    "ashiato.formats.ez_csv",
    "ashiato.formats.prefetch",
    "ashiato.formats.amcache",
    "ashiato.formats.panos",
    "ashiato.formats.cisco_asa",
    "ashiato.formats.esxi",
    "ashiato.formats.pulse_secure",
    "ashiato.formats.sonicwall",
    "ashiato.formats.synology",
    "ashiato.formats.qnap",
    "ashiato.formats.veeam",
    "ashiato.formats.iptables",
    "ashiato.formats.w3c",
    "ashiato.formats.zeek",
    "ashiato.formats.snort_fast",
    "ashiato.formats.web_access",
    "ashiato.formats.yamaha_rtx",
    "ashiato.formats.nfdump",
    "ashiato.formats.exchange_tracking",
    "ashiato.formats.windows_dns",
    "ashiato.formats.bind_query",
    "ashiato.formats.symantec_sep",
    "ashiato.formats.generic_table",  # the catch-all: keep it last
)


_LOADED: list[Format] = []  # the first formats of BUILTIN, imported so far, in order
_LOCK = threading.Lock()


def _in_order() -> Iterator[Format]:
    """The formats in sniffing order, each module imported when first needed: an EVTX
    file is recognised by the first format, without importing the other forty (their
    modules and regular expressions cost ~0.1 s, a tenth of ingesting 300 small EVTX)."""
    for i in range(len(BUILTIN)):
        if i == len(_LOADED):
            with _LOCK:
                if i == len(_LOADED):
                    fmt = importlib.import_module(BUILTIN[i]).FORMAT
                    if any(f.name == fmt.name for f in _LOADED):
                        raise FormatError(f"two formats are called {fmt.name!r} ({BUILTIN[i]})")
                    _LOADED.append(fmt)
        yield _LOADED[i]


def formats() -> tuple[Format, ...]:
    return tuple(_in_order())


def get(name: str) -> Format:
    for fmt in formats():
        if fmt.name == name:
            return fmt
    names = ", ".join(f.name for f in formats())
    raise FormatError(f"unknown format {name!r}; known formats: {names}")


def sniff(sample: Sample) -> Format | None:
    for fmt in _in_order():
        if fmt.binary != (sample.text is None):
            continue
        try:
            if fmt.sniff(sample):
                return fmt
        except Exception:  # noqa: S112 - a sniff must never stop detection
            continue
    return None
