"""The findings contract (``ashiato.findings/2``), written to CASE/findings.json.

Documented in docs/findings.md. Times are ISO 8601 UTC strings. Every claim carries
``evidence``: items with time, dataset, a one-line summary and ``ref`` (EVIDENCE_ID:RECORD)
that ``ashiato show CASE REF`` prints in full.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ashiato import i18n
from ashiato.exports import iso

SCHEMA = "ashiato.findings/2"
FILE = "findings.json"


@dataclass
class Evidence:
    time: str | None
    dataset: str
    summary: str
    ref: str

    @classmethod
    def of(cls, row: dict[str, Any], summary: str) -> Evidence:
        ts = row.get("@timestamp")
        return cls(
            time=iso(ts) if isinstance(ts, datetime) else ts,
            dataset=str(row.get("event.dataset") or ""),
            summary=summary,
            ref=f"{row.get('evidence_id')}:{row.get('record')}",
        )


@dataclass
class PatientZero:
    host: str
    ip: str | None
    user: str | None
    confidence: float
    signals: list[str]
    evidence: list[Evidence] = field(default_factory=list)
    why_not_others: list[str] = field(default_factory=list)
    cannot_be_excluded: list[str] = field(default_factory=list)


@dataclass
class HostFinding:
    host: str
    ips: list[str]
    users: list[str]
    verdict: str  # infected | suspicious | clean | unknown
    first_malicious: str | None
    first_encryption: str | None
    reasons: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class Vector:
    host: str
    type: str  # email_attachment | web_driveby | removable_media | remote_access |
    # lateral_movement | unknown
    first_event_time: str | None
    confidence: float
    artifacts: list[str]
    chain: list[Evidence]
    late_av_detection: str | None = None
    missing: list[str] = field(default_factory=list)


@dataclass
class Missing:
    what: str
    why_it_matters: str
    advice: str


@dataclass
class Tampering:
    host: str | None
    time: str | None
    kind: str
    evidence: list[Evidence]


@dataclass
class ClockSkew:
    source: str
    offset_seconds: float  # the whole offset against the reference clocks
    basis: str
    applied: bool = False
    pairs: int = 0  # shared sightings on the edge that measured it
    spread_seconds: float = 0.0  # interquartile range of their differences
    zone_error_hours: float | None = None  # the whole-hour part: a zone misread, not drift
    skew_seconds: float = 0.0  # the rest: the clock's own error (what apply corrects)


@dataclass
class Incident:
    """One act: detections of one technique on one host (or one mass deployment) in a window."""

    id: str
    technique: str | None  # ATT&CK id, e.g. T1070.001
    technique_name: str
    tactic: str | None
    severity: str  # informational | low | medium | high | critical
    count: int  # distinct events (an event matched by several rules counts once)
    first: str | None
    last: str | None
    hosts: list[str]
    accounts: list[str]
    key_values: list[str]
    rules: list[str]
    evidence: list[Evidence] = field(default_factory=list)
    # False: says where files were hit or sign-ins failed, not who acted or fell
    weighed: bool = True
    # each host's own first event: a mass deployment reaches its hosts one by one
    host_first: dict[str, str] = field(default_factory=dict)


@dataclass
class LateralEdge:
    """A move from one machine to another, oriented by where each event was logged."""

    source: str  # host name, else the address
    source_ip: str | None
    target: str
    account: str | None
    technique: str  # psexec | service | wmi | dcom | winrm | rdp | task | smb | logon
    attack: str  # ATT&CK id of the technique
    first: str | None
    last: str | None
    count: int
    execution: bool  # execution on the target is shown (service, task, WMI child, same logon)
    why: str  # why this is a move and not routine traffic, as a sentence
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class Findings:
    incident: dict[str, Any]
    patient_zero: PatientZero | None
    candidates: list[dict[str, Any]]
    hosts: list[HostFinding]
    vectors: list[Vector]
    impact: dict[str, Any]
    coverage: dict[str, Any]
    tampering: list[Tampering]
    clock_skew: list[ClockSkew]
    next_steps: list[str]
    notes: list[dict[str, Any]] = field(default_factory=list)
    generated: str = ""
    incidents: list[Incident] = field(default_factory=list)
    lateral_movement: list[LateralEdge] = field(default_factory=list)
    # issue 16 (docs/findings.md): the way in, the accounts used, data theft, the servers
    entry: dict[str, Any] = field(default_factory=dict)
    accounts: dict[str, Any] = field(default_factory=dict)
    exfiltration: dict[str, Any] = field(default_factory=dict)
    servers: dict[str, Any] = field(default_factory=dict)
    # URLs, domains, IPs, hashes and file names with their evidence (analysis/iocs.py)
    iocs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {"schema": SCHEMA}
        data.update(asdict(self))
        # sentences named by id get their *_msg / *_msgs companions (docs/i18n.md)
        out: dict[str, Any] = i18n.companions(data)
        return out


def load(case_root: Path) -> dict[str, Any]:
    """Read CASE/findings.json as plain data (what reports and the web UI consume)."""
    data: dict[str, Any] = json.loads((case_root / FILE).read_text("utf-8"))
    return data
