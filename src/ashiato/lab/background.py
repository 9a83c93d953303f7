"""Benign activity of every PC: logons, browsing, work on the file share.

Each lease (an "on" period from the DHCP plan) becomes a handful of activities. A PC's
activities share one generator seeded by (seed, day, PC), so what one PC does never depends
on what the others or the storyline do.
"""

from __future__ import annotations

import functools
import random

from ashiato.lab.clock import MINUTE, SECOND
from ashiato.lab.context import Ctx
from ashiato.lab.dhcp import Lease
from ashiato.lab.endpoint import EXCEL, OUTLOOK, WINWORD
from ashiato.lab.ids import alnum, rng_for
from ashiato.lab.internet import BENIGN_SITES, CDN, UPDATE_SITE, WebSite
from ashiato.lab.net import Req, ids_alert, smb_close, smb_connect, web
from ashiato.lab.share import TREE as SHARE_TREE
from ashiato.lab.share import FileEntry, fill_name, size_for
from ashiato.lab.story import ActivityFn
from ashiato.lab.winlogs import (
    LIST,
    READ,
    WRITE,
    fs_access,
    fs_logoff,
    fs_logon,
    machine_boot,
    user_logon,
)
from ashiato.lab.world import Host

_ASSET_TYPES = (("jpg", "image/jpeg"), ("png", "image/png"), ("gif", "image/gif"),
                ("js", "application/javascript"), ("css", "text/css"))


def plan_day(ctx: Ctx, day: int) -> list[tuple[int, ActivityFn]]:
    out: list[tuple[int, ActivityFn]] = []
    for leases in ctx.plan.by_host.values():
        host = leases[0].host
        rng = rng_for(ctx.seed, "bg", day, host.short)
        for lease in leases:
            out += _lease(lease, rng)
    return out


def _lease(lease: Lease, rng: random.Random) -> list[tuple[int, ActivityFn]]:
    h, ip, s, e = lease.host, lease.ip, lease.start, lease.end
    acts: list[tuple[int, ActivityFn]] = [
        (s + 20 * SECOND, functools.partial(boot, host=h, ip=ip, start=s + 20 * SECOND,
                                            first=lease.first, rng=rng))]
    hours = (e - s) / (60 * MINUTE)
    lo, hi = s + 6 * MINUTE, e - 15 * MINUTE
    if hi > lo:
        for _ in range(round(hours * rng.uniform(0.1, 0.3))):
            t = rng.randint(lo, hi)
            acts.append((t, functools.partial(browse, host=h, ip=ip, start=t, rng=rng)))
        for _ in range(round(hours * rng.uniform(0.06, 0.18))):
            t = rng.randint(lo, hi)
            acts.append((t, functools.partial(share_work, host=h, ip=ip, start=t, rng=rng)))
    if lease.last and e - 30 * SECOND > s:
        acts.append((e - 30 * SECOND, functools.partial(logoff, host=h, start=e - 30 * SECOND)))
    return acts


def boot(ctx: Ctx, host: Host, ip: str, start: int, first: bool, rng: random.Random) -> None:
    machine_boot(ctx, start, host, ip, rng)
    if not first:
        return
    logon = start + rng.randint(40, 400) * SECOND
    user_logon(ctx, logon, host, ip, rng)
    ep = ctx.endpoint(host)
    if ep is not None:
        ep.logon(logon, ip)
        ep.spawn(logon + rng.randint(30, 200) * SECOND, OUTLOOK, f'"{OUTLOOK}" ', ep.explorer)


def logoff(ctx: Ctx, host: Host, start: int) -> None:
    ep = ctx.endpoint(host)
    if ep is not None:
        ep.logoff(start)


def page(site: WebSite, rng: random.Random) -> list[Req]:
    """A page view: the page itself plus images and scripts, some from the CDN or cache."""
    if site.https:
        return [Req(f"https://{site.host}/", site.ip, rng.randint(4_000, 90_000), "-",
                    site.country, method="CONNECT", elapsed=rng.randint(400, 20_000))]
    url = f"http://{site.host}{rng.choice(site.pages)}"
    reqs = [Req(url, site.ip, rng.randint(8_000, 95_000), "text/html", site.country,
                elapsed=rng.randint(60, 900))]
    for _ in range(rng.randint(0, site.assets)):
        ext, ctype = rng.choice(_ASSET_TYPES)
        on_cdn = rng.random() < 0.5
        host = CDN if on_cdn else site
        prefix = site.host.split(".")[0] if on_cdn else "img"
        hit = rng.random() < 0.25
        reqs.append(Req(f"http://{host.host}/{prefix}/{alnum(rng, 8)}.{ext}", host.ip,
                        rng.randint(400, 60_000), ctype, host.country, referer=url,
                        gap=rng.randint(10, 120), elapsed=rng.randint(3, 30) if hit else
                        rng.randint(20, 400), code="TCP_HIT" if hit else "TCP_MISS"))
    return reqs


def browse(ctx: Ctx, host: Host, ip: str, start: int, rng: random.Random) -> None:
    t = start
    for _ in range(rng.randint(1, 5)):
        site = rng.choice(BENIGN_SITES)
        reqs = page(site, rng)
        t = web(ctx, host, ip, t, reqs, rng)
        if site.host == "video.example" and host.ie < 11:
            r = reqs[0]  # old IE ships an old Flash plug-in: a policy alert, not an attack
            ids_alert(ctx, r.at + 5, r.flow, ip, r.sport, r.ip, 80, 2014726,
                      "ET POLICY Outdated Flash Version M2", "Potential Corporate Privacy "
                      "Violation", 2)
        t += rng.randint(15, 240) * SECOND
    if rng.random() < 0.04:
        update_download(ctx, host, ip, t, rng)


def update_download(ctx: Ctx, host: Host, ip: str, start: int, rng: random.Random) -> None:
    """A legitimate installer download: scary IDS policy alert, nothing else."""
    url = f"http://{UPDATE_SITE.host}{UPDATE_SITE.pages[0]}"
    req = Req(url, UPDATE_SITE.ip, rng.randint(2_000_000, 9_000_000), "application/octet-stream",
              UPDATE_SITE.country, elapsed=rng.randint(3_000, 30_000))
    web(ctx, host, ip, start, [req], rng)
    ids_alert(ctx, req.at + req.elapsed, req.flow, UPDATE_SITE.ip, 80, ip, req.sport, 2018959,
              "ET POLICY PE EXE or DLL Windows file download HTTP",
              "Potential Corporate Privacy Violation", 1)
    ctx.emit("ids", req.at + req.elapsed + 1, {
        "flow_id": req.flow, "event_type": "fileinfo", "src_ip": UPDATE_SITE.ip, "src_port": 80,
        "dest_ip": ip, "dest_port": req.sport, "app_proto": "http",
        "http": {"hostname": UPDATE_SITE.host, "url": UPDATE_SITE.pages[0]},
        "fileinfo": {"filename": UPDATE_SITE.pages[0], "magic": "PE32 executable (GUI) Intel "
                     "80386, for MS Windows", "gaps": False, "state": "CLOSED", "stored": False,
                     "size": req.size, "tx_id": 0}})


def share_work(ctx: Ctx, host: Host, ip: str, start: int, rng: random.Random) -> None:
    """Open a few files on \\\\FS01\\share, save some, create the odd new one."""
    if not ctx.share_online(start):
        return
    u = host.user
    sess = fs_logon(ctx, start, u.sam, u.sid, ip, host.name, rng)
    smb_connect(ctx, host, ip, start)
    ep = ctx.endpoint(host)
    t = start + 500
    sent = rcvd = 4_000
    depts = (u.dept,) if rng.random() < 0.8 else None
    listed: set[str] = set()
    for _ in range(rng.randint(1, 6)):
        t += rng.randint(2, 90) * SECOND
        if not ctx.share_online(t):
            break
        picked = ctx.share.pick(rng, depts)
        if picked is None:
            break
        folder, entry = picked
        rel = f"{folder}\\{entry.name}"
        if folder not in listed:  # Explorer lists a folder once per visit
            listed.add(folder)
            fs_access(ctx, t, sess, folder, LIST)
        fs_access(ctx, t + 30, sess, rel, READ)
        rcvd += entry.size
        if ep is not None and entry.name.endswith((".xlsx", ".docx")):
            app = EXCEL if entry.name.endswith(".xlsx") else WINWORD
            ep.spawn(t - 400, app, f'"{app}" "\\\\10.0.0.20\\share\\{rel}"', ep.explorer)
        roll = rng.random()
        if roll < 0.22:  # saved after editing
            t += rng.randint(30, 600) * SECOND
            fs_access(ctx, t, sess, rel, WRITE)
            entry.size = max(1_000, entry.size + rng.randint(-4_000, 30_000))
            entry.mtime = t
            ctx.share.folders[folder].mtime = max(ctx.share.folders[folder].mtime, t)
            sent += entry.size
        elif roll < 0.30:  # a new document next to it
            t += rng.randint(30, 300) * SECOND
            sub = folder.split("\\")
            archived = folder.endswith("旧年度")  # nobody files new work in the archive
            templates = (SHARE_TREE.get(sub[0], {}).get(sub[1], ())
                         if len(sub) > 1 and not archived else ())
            if templates:
                name = fill_name(rng.choice(templates), rng, rng.randint(100, 999))
                if name not in ctx.share.folders[folder].files:
                    fs_access(ctx, t, sess, f"{folder}\\{name}", WRITE)
                    new = FileEntry(name, size_for(name, rng), t, t, u.account)
                    ctx.share.add(folder, new, t)
                    sent += new.size
    end = t + rng.randint(5, 60) * SECOND
    fs_logoff(ctx, end, sess)
    smb_close(ctx, host, ip, start, end, sent, rcvd, sport=sess.port)


def save_in_folder(ctx: Ctx, folder: str, start: int, exclude: str, rng: random.Random) -> None:
    """A colleague saves a new document into a share folder while it is being encrypted
    (benign writes inside the window, in a note folder, by another account)."""
    if not ctx.share_online(start) or folder not in ctx.share.folders:
        return
    online = [lease for lease in ctx.plan.leases
              if lease.start < start < lease.end and lease.host.short != exclude]
    if not online:
        return
    lease = rng.choice(online)
    host, u = lease.host, lease.host.user
    sess = fs_logon(ctx, start, u.sam, u.sid, lease.ip, host.name, rng)
    smb_connect(ctx, host, lease.ip, start)
    t = start + rng.randint(3, 40) * SECOND
    fs_access(ctx, t, sess, folder, LIST)
    sub = folder.split("\\")
    templates = SHARE_TREE.get(sub[0], {}).get(sub[1], ()) if len(sub) > 1 else ()
    name = (fill_name(rng.choice(templates), rng, rng.randint(100, 999)) if templates
            else f"メモ_{rng.randint(100, 999)}.txt")
    t += rng.randint(20, 240) * SECOND
    if name in ctx.share.folders[folder].files or not ctx.share_online(t):
        return
    fs_access(ctx, t, sess, f"{folder}\\{name}", WRITE)
    new = FileEntry(name, size_for(name, rng), t, t, u.account)
    ctx.share.add(folder, new, t)
    end = t + rng.randint(5, 60) * SECOND
    fs_logoff(ctx, end, sess)
    smb_close(ctx, host, lease.ip, start, end, 4_000 + new.size, 6_000, sport=sess.port)
