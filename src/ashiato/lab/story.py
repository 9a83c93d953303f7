"""What a scenario plans before the run, and the facts activities record while it runs.

A scenario returns a :class:`Story`: activities to slot into given days, constraints on some
PCs' days (the patient zero must be switched on before the infection, and is unplugged when
IT reacts), and which PCs the responders collected. Activities append to :class:`Facts` as
they emit evidence, so truth.json counts exactly what was written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ashiato.lab.clock import day_of
from ashiato.lab.world import Host

if TYPE_CHECKING:
    from ashiato.lab.context import Ctx

ActivityFn = Callable[["Ctx"], None]


@dataclass(slots=True)
class HostDay:
    """Constraints on one PC's day."""

    boot_before: int | None = None  # switched on before this instant
    cut_at: int | None = None  # network unplugged at this instant (no DHCP release)
    reuse_ip: bool = False  # gets an address another PC held the previous workday
    absent: bool = False  # quarantined after isolation: never switched on again


@dataclass(slots=True)
class Encrypted:
    location: str  # "share" or "local"
    host: str  # where the file lives: "fs01" or the PC's short name
    original: str
    new: str
    ts: int
    owner: str  # who owns the encrypted file now (the encrypting user)
    orig_owner: str  # whose file it was


@dataclass(slots=True)
class Facts:
    encrypted: list[Encrypted] = field(default_factory=list)
    notes: list[tuple[str, str, str, int]] = field(default_factory=list)  # loc, host, path, ts
    first_malicious: int | None = None
    vector_time: int | None = None
    artifacts: list[str] = field(default_factory=list)
    c2: list[str] = field(default_factory=list)
    payment: list[str] = field(default_factory=list)
    spam_connections: int = 0
    spam_domains: set[str] = field(default_factory=set)
    tampering: list[dict[str, Any]] = field(default_factory=list)
    renamed: int = 0

    def malicious(self, ts: int) -> None:
        if self.first_malicious is None or ts < self.first_malicious:
            self.first_malicious = ts

    def artifact(self, *items: str) -> None:
        for i in items:
            if i not in self.artifacts:
                self.artifacts.append(i)


@dataclass(slots=True)
class Decoys:
    renamer: Host
    renamer_at: int
    adware: Host
    adware_at: int


@dataclass(slots=True)
class Story:
    scenario: str
    kind: str | None  # "ransomware" | "spam" | None
    decoys: Decoys
    collected: list[Host]
    pz: Host | None = None
    day: int | None = None
    vector: str | None = None  # "email_attachment" | "web_driveby" | "unknown"
    csv_security: str | None = None  # PC whose Security log came as an Event Viewer CSV
    share_offline_at: int | None = None  # IT took the share offline
    clear_at: int | None = None  # log-tampering: Security log cleared
    sysmon_lost: tuple[int, int] | None = None  # log-tampering: Sysmon records removed
    details: dict[str, Any] = field(default_factory=dict)  # family, note names, ...
    activities: dict[int, list[tuple[int, ActivityFn]]] = field(default_factory=dict)
    host_days: dict[tuple[int, str], HostDay] = field(default_factory=dict)
    facts: Facts = field(default_factory=Facts)
    variant: str = "full"  # "default-logging": no Sysmon, no 4688, no file-share auditing
    extra_streams: list[Any] = field(default_factory=list)  # StreamSpecs the story adds
    lost: dict[str, int] = field(default_factory=dict)  # sink key -> log cleared at
    # Files the responders produced after the incident (kind, writer(out, collected_at) -> path).
    snapshots: list[tuple[str, Callable[[Path, int], str]]] = field(default_factory=list)

    def add(self, start: int, fn: ActivityFn) -> None:
        self.activities.setdefault(day_of(start), []).append((start, fn))

    def quarantine(self, host: Host, after_day: int, days: int) -> None:
        """An isolated PC stays off the network for the rest of the run (kept as evidence)."""
        for d in range(after_day + 1, days):
            self.constrain(d, host, absent=True)

    def constrain(self, day: int, host: Host, **kw: Any) -> None:
        hd = self.host_days.setdefault((day, host.short), HostDay())
        for k, v in kw.items():
            setattr(hd, k, v)
