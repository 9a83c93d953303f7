"""What every activity gets handed: the world, the sink, the share, today's leases."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from ashiato.lab.dhcp import DayPlan
from ashiato.lab.endpoint import Endpoint
from ashiato.lab.share import Share
from ashiato.lab.sink import Data, Sink
from ashiato.lab.story import ActivityFn, Story
from ashiato.lab.world import Host, World


@dataclass(slots=True)
class Ctx:
    world: World
    seed: int
    sink: Sink
    share: Share
    story: Story
    endpoints: dict[str, Endpoint]
    audit: bool  # Detailed File Share / File System auditing on FS01
    plan: DayPlan = field(default_factory=lambda: DayPlan(-1))
    _flow: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _port: itertools.count[int] = field(default_factory=lambda: itertools.count(0))
    schedule: Callable[[int, ActivityFn], None] | None = None  # set by the engine
    dns_cache: dict[str, set[str]] = field(default_factory=dict)  # PC -> names (reset daily)

    def later(self, start: int, fn: ActivityFn) -> None:
        """Run ``fn`` at ``start`` (chains such as a backup walking folder by folder)."""
        assert self.schedule is not None
        self.schedule(start, fn)

    def emit(self, key: str, ts: int, data: Data) -> None:
        self.sink.emit(key, ts, data)

    def endpoint(self, host: Host) -> Endpoint | None:
        return self.endpoints.get(host.short)

    def flow_id(self) -> int:
        # Suricata flow ids look random; a multiplicative walk keeps them unique and stable.
        return (next(self._flow) * 2_654_435_761 + 1_294_873_001) % (1 << 50)

    def port(self) -> int:
        """The next ephemeral client port (Windows 7 range 49152-65535)."""
        return 49152 + (next(self._port) * 7919) % 16383

    def share_online(self, ts: int) -> bool:
        off = self.story.share_offline_at
        return off is None or ts < off
