"""Which words of a report are prose in the wrong language (tests/report/test_language_purity).

Evidence is whatever came from the logs or names something: code spans and ``<code>``,
every value findings.json and the chart data hold outside the sentences the analyses
write (host, account and file names, addresses, log lines, rule titles), the ``args`` of
the sentences named by id, and a short list of terms Japanese responders use as they are.
What is left of the page is prose: in Japanese it must have no ASCII word of 3+ letters,
in English no Japanese.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

from ashiato.report.markdown import md

# terms and product names Japanese responders write in Latin letters as they are
ALLOWED = frozenset(
    """
    IP IPs SMB RDP VPN DHCP DNS NTP NAS SIEM EVTX IDS AV JST UTC LAN Wi Fi SSH TCP UDP HTTP
    HTTPS URL CSV PDF ID IDs Sigma MITRE ATT CK ashiato Tor Windows Sysmon PowerShell Security
    System FortiGate FortiAnalyzer Palo Alto GlobalProtect Cisco ASA Ivanti Pulse SonicWall
    Squid syslog NPS MB KB GB TB MiB KiB GiB Wget WMI DCOM WinRM RPC PsExec Web ESXi krbtgt
    rclone WinSCP UTM SMTP
    """.split()
)

# sentences the analyses write (English, with a *_msg companion once they have an id):
# their words are prose, not evidence
SENTENCE_PATHS = frozenset(
    """
    incident.summary incident.entry hosts[].reasons[] next_steps[]
    coverage.missing[].what coverage.missing[].why_it_matters coverage.missing[].advice
    coverage.not_read[].reason clock_skew[].basis vectors[].missing[]
    vectors[].late_av_detection patient_zero.why_not_others[] lateral_movement[].why
    entry.next_steps[] entry.signals[].detail accounts.actions[].detail
    accounts.hosts_reached[].detail accounts.why_domain_compromised[] exfiltration.reasons[]
    exfiltration.settle[] servers.notes[] servers.hypervisors[].note
    impact.count_basis.*.basis
    """.split()
)

# keys whose values are our own words (a verdict, a severity), not names from the logs
ENUM_KEYS = frozenset(
    "verdict severity kind type tactic stage status measure counted_from confidence "
    "via direction result".split()
)

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def _sentence(path: str) -> bool:
    generic = re.sub(r"^impact\.count_basis\.[^.]+\.", "impact.count_basis.*.", path)
    return path in SENTENCE_PATHS or generic in SENTENCE_PATHS


def values(tree: Any, path: str = "") -> Iterator[str]:
    """Every string in ``tree`` that is not one of the analyses' sentences."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            key = str(k)
            if key.endswith(("_msg", "_msgs")):
                yield from _args(v)
                continue
            said = tree.get(f"{key[:-1] if key.endswith('s') else key}_msgs")
            if isinstance(v, list) and isinstance(said, list) and len(said) == len(v):
                # a list of sentences and values: the items named by id are sentences
                v = [x for x, m in zip(v, said, strict=True) if not m]
            elif isinstance(tree.get(f"{key}_msg"), dict):
                continue  # a sentence named by id: its values are in its args
            sub = f"{path}.{key}" if path else key
            if key in ENUM_KEYS:
                continue
            if isinstance(v, dict) and path.endswith(("count_basis", "shares", "users")):
                yield key  # a share or an owner as a key
            elif not isinstance(v, (dict, list)) and path.endswith(("shares", "users")):
                yield key
            yield from values(v, sub)
    elif isinstance(tree, list):
        for x in tree:
            yield from values(x, path + "[]")
    elif isinstance(tree, str) and not _sentence(path):
        yield tree


def _args(m: Any) -> Iterator[str]:
    """The values inside sentences named by id (nested messages included)."""
    if isinstance(m, list):
        for x in m:
            yield from _args(x)
    elif isinstance(m, dict):
        for x in m.get("msgs") or []:
            yield from _args(x)
        for v in (m.get("args") or {}).values():
            if isinstance(v, dict):
                yield from _args(v)
            elif isinstance(v, list):
                for x in v:
                    yield from (_args(x) if isinstance(x, dict) else [str(x)])
            elif v is not None:
                yield str(v)


def _strip(text: str, evidence: set[str], markdown: bool) -> str:
    for v in sorted(evidence, key=len, reverse=True):
        if len(v) < 2:
            continue
        if markdown:
            text = text.replace(md(v), " ")
        text = text.replace(v, " ")
    return text


class _Text(HTMLParser):
    """The text a reader sees, without ``<code>``, scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("code", "script", "style"):
            self.skip += 1
        if tag in ("p", "div", "td", "th", "li", "tr", "br", "h1", "h2", "h3", "text"):
            self.parts.append("\n")
        title = dict(attrs).get("title")
        if title and not self.skip:
            self.parts.append(f"\n{title}\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "script", "style") and self.skip:
            self.skip -= 1
        self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def prose(page: str, fmt: str) -> str:
    if fmt == "html":
        p = _Text()
        p.feed(page)
        return "".join(p.parts)
    return _CODE_SPAN.sub(" ", page)


def offending(page: str, fmt: str, lang: str, *trees: Any) -> dict[str, str]:
    """Wrong-language words of ``page`` → a line they stand in (to find them)."""
    evidence = {v for tree in trees for v in values(tree)}
    text = _strip(prose(page, fmt), evidence, fmt == "md")
    out: dict[str, str] = {}
    # evidence cut short for a chart label ("windows.microsoft_windows…"): its words are
    # the words of some value
    vocabulary = {w for v in evidence for w in re.findall(r"[A-Za-z]{3,}", v)}
    cut_vocabulary = {w[:n] for w in vocabulary for n in range(3, len(w))}
    characters = {c for v in evidence for c in _JAPANESE.findall(v)}
    for line in text.splitlines():
        if lang == "ja":
            words = [w for w in re.findall(r"[A-Za-z]{3,}", line) if w not in ALLOWED]
            if "…" in line:  # a word cut short is the start of a word of a value
                words = [w for w in words if w not in vocabulary | cut_vocabulary]
        else:
            words = _JAPANESE.findall(line)
            if "…" in line:
                words = [w for w in words if w not in characters]
        for w in words:
            out.setdefault(w, line.strip()[:160])
    return out
