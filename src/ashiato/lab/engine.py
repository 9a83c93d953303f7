"""One run: build the world, walk the days activity by activity, write snapshots and truth."""

from __future__ import annotations

import functools
import heapq
import itertools
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ashiato.lab import background, decoys, mail, scenarios, streams, truth
from ashiato.lab.clock import HOUR, MINUTE, at, day_of, jst_tm, previous_workday
from ashiato.lab.context import Ctx
from ashiato.lab.dhcp import DayPlan, Planner, emit_day
from ashiato.lab.endpoint import Endpoint
from ashiato.lab.ids import rng_for
from ashiato.lab.share import build_share
from ashiato.lab.sink import Sink, touch
from ashiato.lab.story import ActivityFn, Story
from ashiato.lab.world import DOMAIN, build_world
from ashiato.lab.writers import filtered, listing, mftecmd

SNAPSHOT_SOURCES = {"hypervisor-listing": "hypervisor"}  # snapshot kind -> its source


def run(scenario: str, out: Path, *, seed: int, scale: int, missing: Sequence[str],
        audit: bool, variant: str = "full") -> dict[str, Any]:
    world = build_world(seed, scale)
    share = build_share(world, rng_for(seed, "share", scale))
    story = scenarios.plan(scenario, world, seed, variant)
    skip = set(missing)
    sink = Sink(out, streams.build(story, seed, skip), seed)
    endpoints = {h.short: Endpoint(h, seed, sink, proc_audit=variant == "full")
                 for h in story.collected}
    ctx = Ctx(world, seed, sink, share, story, endpoints, audit)
    scenarios.arm(story, world, seed, endpoints, sink, audit)
    kept = _run_days(ctx, story)
    collected_at = at(world.days - 1, 23, 30)  # after the last PC went home
    sink.close(collected_at)
    files: dict[str, list[str]] = {}  # snapshot source -> files written
    if "fileserver-listing" not in skip:
        rel = "evidence/fileserver-listing/share_listing.csv"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        listing.write(out / rel, share)
        touch(out / rel, collected_at)
        files["fileserver-listing"] = [rel]
    if "dc" not in skip:  # the DC's other channels, handed over as a filtered export
        rel = "evidence/dc/DC01_System_PowerShell_filtered.jsonl"
        filtered.write(out / rel, f"DC01.{DOMAIN}", world.days, rng_for(seed, "filtered-export"))
        touch(out / rel, collected_at)
        files["dc-filtered-export"] = [rel]
    if "endpoint" not in skip:
        for i, ep in enumerate(endpoints.values()):
            t, _ = jst_tm(collected_at + i * 7 * MINUTE)
            rel = (f"evidence/endpoint/{ep.host.short}/"
                   f"{t.tm_year:04d}{t.tm_mon:02d}{t.tm_mday:02d}{t.tm_hour:02d}{t.tm_min:02d}"
                   f"{t.tm_sec:02d}_MFTECmd_$MFT_Output.csv")
            mftecmd.write(out / rel, ep.mft.entries)
            touch(out / rel, collected_at + i * 7 * MINUTE)
            files.setdefault("endpoint-mft", []).append(rel)
    for kind, write in story.snapshots:
        if SNAPSHOT_SOURCES[kind] not in skip:
            rel = write(out, collected_at)
            touch(out / rel, collected_at)
            files.setdefault(kind, []).append(rel)
    doc = truth.build(ctx, kept, sink, files, scale=scale, missing=list(missing), audit=audit)
    truth.write_encrypted_list(out / "encrypted_files.csv", story)
    (out / "truth.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return doc


def _run_days(ctx: Ctx, story: Story) -> dict[int, DayPlan]:
    """Run every day; returns the DHCP plans of the storyline's days (for truth.json)."""
    world, sink = ctx.world, ctx.sink
    planner = Planner(world, ctx.seed)
    keep = {d for d in (story.day, story.details.get("spam_day1")) if d is not None}
    if story.day is not None and story.day > 0:
        keep.add(previous_workday(story.day))  # whose addresses the patient zero inherited
    kept: dict[int, DayPlan] = {}
    seq = itertools.count()
    for day in range(world.days):
        constraints = {short: hd for (d, short), hd in story.host_days.items() if d == day}
        ctx.plan = planner.plan(day, constraints)
        ctx.dns_cache.clear()
        if day in keep:
            kept[day] = ctx.plan
        queue: list[tuple[int, int, ActivityFn]] = []

        def schedule(start: int, fn: ActivityFn, today: int = day,
                     queue: list[tuple[int, int, ActivityFn]] = queue) -> None:
            if day_of(start) > today:  # spills into tomorrow: tomorrow's list is not built yet
                story.add(start, fn)
            else:
                heapq.heappush(queue, (start, next(seq), fn))

        ctx.schedule = schedule
        dhcp_rng = rng_for(ctx.seed, "dhcp-log", day)
        schedule(at(day, 0, 0, 1.0), functools.partial(_dhcp, plan=ctx.plan, rng=dhcp_rng))
        for start, fn in (background.plan_day(ctx, day) + mail.plan_day(ctx, day)
                          + decoys.plan_day(ctx, day, story.decoys)
                          + story.activities.pop(day, [])):
            schedule(start, fn)
        while queue:
            start, _, fn = heapq.heappop(queue)
            sink.advance(start)
            fn(ctx)
        sink.advance(at(day, 0) + 24 * HOUR - 1)
    return kept


def _dhcp(ctx: Ctx, plan: DayPlan, rng: random.Random) -> None:
    emit_day(ctx.sink, plan, rng)
