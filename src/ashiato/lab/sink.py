"""Streaming writer: events from many activities in, time-ordered lines per evidence file out.

Activities run in order of their start time and may emit events anywhere at or after that
start. The sink keeps emitted events in a heap and, when the engine moves on to an activity
starting at ``t``, writes every event older than ``t``: nothing emitted later can precede
them. Memory therefore holds only the events of activities still "in flight" (minutes of
traffic), whatever the number of days or hosts.

Records are rendered when they are written, not when they are emitted, so per-file counters
(EventRecordID, FortiGate session ids) increase in time order like on a real device.
"""

from __future__ import annotations

import heapq
import itertools
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

Data = dict[str, Any]


@dataclass(slots=True)
class StreamState:
    """Per-file counters a renderer may advance, and what the truth needs to know."""

    spec: StreamSpec
    record: int = 0  # last EventRecordID handed out (Windows channels)
    lines: int = 0  # physical lines written so far, header included
    first_ts: int | None = None
    last_ts: int | None = None
    lost_records: list[int] = field(default_factory=list)
    garbled: list[int] = field(default_factory=list)
    scratch: dict[str, int] = field(default_factory=dict)

    def next_record(self) -> int:
        self.record += 1
        return self.record


Renderer = Callable[[StreamState, int, Data], str | None]


@dataclass(slots=True)
class StreamSpec:
    """One evidence stream: where it goes, how a record looks, and how the device misbehaves."""

    key: str
    source: str  # a name from lab.SOURCES; missing= drops every stream of a source
    path: str  # relative to the output folder; see path_for for per-day files
    render: Renderer
    fmt: str  # format id reported in truth.json
    device: str
    time_zone: str  # "UTC" or "Asia/Tokyo" (how the text is written)
    zone_in_record: bool  # does each record carry its offset (Z, +0900, tz=)?
    encoding: str = "utf-8"
    bom: bool = False
    newline: str = "\n"
    header: tuple[str, ...] = ()
    skew_ms: int = 0  # device clock minus true time
    garble_at: tuple[int, ...] = ()  # physical line numbers that get a junk line
    lost: tuple[tuple[int, int], ...] = ()  # [start, end) whose records are numbered, not kept
    silent_after: int | None = None  # the device stops logging (service stopped, log cleared)
    newest_first: bool = False  # Event Viewer exports newest first: buffer, then reverse
    path_for: Callable[[int], str] | None = None  # per-day files (DHCP keeps one per weekday)


def touch(path: Path, ms: int) -> None:
    ns = ms * 1_000_000
    os.utime(path, ns=(ns, ns))


class Sink:
    def __init__(self, out: Path, specs: list[StreamSpec], seed: int) -> None:
        self.out = out
        self.specs = {s.key: s for s in specs}
        self.states = {s.key: StreamState(s) for s in specs}
        self._heap: list[tuple[int, int, str, Data]] = []
        self._seq = itertools.count()
        self._files: dict[str, IO[bytes]] = {}
        self._paths: dict[str, str] = {}
        self._buffers: dict[str, list[bytes]] = {}
        self._garble_rng = {s.key: random.Random(f"{seed}|garble|{s.key}") for s in specs}
        self.watermark = -(1 << 62)
        # Per-day files that were overwritten keep only their last content: path -> (first, last).
        self.coverage: dict[str, tuple[int, int]] = {}
        for s in specs:
            if s.path_for is None:
                self._open(s, s.path)

    def has(self, key: str) -> bool:
        return key in self.specs

    def emit(self, key: str, ts: int, data: Data) -> None:
        if key not in self.specs:  # source missing, or a host nobody collected
            return
        if ts < self.watermark:
            raise RuntimeError(f"lab bug: event for {key} at {ts} precedes {self.watermark}")
        heapq.heappush(self._heap, (ts, next(self._seq), key, data))

    def advance(self, now: int) -> None:
        """Write every event strictly older than ``now``; callers promise none will follow."""
        heap = self._heap
        while heap and heap[0][0] < now:
            ts, _, key, data = heapq.heappop(heap)
            self._write(key, ts, data)
        self.watermark = max(self.watermark, now)

    def close(self, collected_at: int) -> None:
        """Flush everything; file times become the last write (or the collection time).

        Year-less formats (syslog) are dated from the file's mtime by analysts and tools, so
        a 2015 log must not look as if it were written today.
        """
        self.advance(1 << 62)
        for key, buf in self._buffers.items():
            f = self._files[key]
            for chunk in reversed(buf):
                f.write(chunk)
        for f in self._files.values():
            f.close()
        for spec in self.specs.values():
            if spec.path_for is None:
                last = self.states[spec.key].last_ts
                touch(self.out / spec.path, last if last is not None else collected_at)
        for rel, (_, last) in self.coverage.items():
            touch(self.out / rel, last)

    # -- internals ---------------------------------------------------------------------

    def _open(self, spec: StreamSpec, rel: str) -> None:
        old = self._files.pop(spec.key, None)
        if old is not None:
            old.close()
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        f = path.open("wb")  # truncates: a weekday DHCP file is overwritten a week later
        self._files[spec.key] = f
        self._paths[spec.key] = rel
        if spec.bom:
            f.write(b"\xef\xbb\xbf")
        nl = spec.newline.encode()
        for line in spec.header:
            f.write(line.encode(spec.encoding) + nl)
        self.states[spec.key].lines = sum(h.count("\n") + 1 for h in spec.header)
        if spec.newest_first:
            self._buffers[spec.key] = []

    def _write(self, key: str, ts: int, data: Data) -> None:
        spec = self.specs[key]
        st = self.states[key]
        if spec.silent_after is not None and ts > spec.silent_after:
            return
        if spec.path_for is not None:
            rel = spec.path_for(ts)
            if self._paths.get(key) != rel:
                self._open(spec, rel)
                st.first_ts = None
        text = spec.render(st, ts + spec.skew_ms, data)
        if text is None:
            return
        if any(a <= ts < b for a, b in spec.lost):
            st.lost_records.append(st.record)
            return
        if st.first_ts is None:
            st.first_ts = ts
        st.last_ts = ts
        if spec.path_for is not None:
            self.coverage[self._paths[key]] = (st.first_ts, ts)
        nl = spec.newline.encode()
        chunk = text.replace("\n", spec.newline).encode(spec.encoding) + nl
        if spec.garble_at and st.lines + 1 in spec.garble_at:
            chunk = self._junk(key, chunk) + chunk
            st.garbled.append(st.lines + 1)
            st.lines += 1
        st.lines += 1 + text.count("\n")
        if spec.newest_first:
            self._buffers[key].append(chunk)
        else:
            self._files[key].write(chunk)

    def _junk(self, key: str, line: bytes) -> bytes:
        """A line cut short by a relay, or bytes from a corrupted block; never a real record."""
        rng = self._garble_rng[key]
        nl = self.specs[key].newline.encode()
        if rng.random() < 0.5:
            cut = rng.randint(8, max(9, len(line) // 2))
            return line[:cut].replace(b"\n", b"").replace(b"\r", b"") + nl
        junk = bytes(rng.choice((0, 0, 0, 0xFF, 0x8F, 0xFE, 0x1B, 0x7F, 0xA0, 0xC3))
                     for _ in range(rng.randint(20, 90)))
        return junk + nl
