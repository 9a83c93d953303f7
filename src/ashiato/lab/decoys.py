"""Innocent things that look alarming: the nightly backup, a mass renamer, adware, EICAR.

A correct analysis must not take any of these for the incident; naive ones do (the backup
reads more SMB bytes than anyone, the renamer makes hundreds of DELETE/rename accesses).
"""

from __future__ import annotations

import functools
import random

from ashiato.lab.av import av_hit
from ashiato.lab.clock import MINUTE, SECOND, at, day_of, is_workday
from ashiato.lab.context import Ctx
from ashiato.lab.ids import rng_for
from ashiato.lab.internet import ADWARE_SITE
from ashiato.lab.net import Req, ids_flow, smb_close, smb_connect, web
from ashiato.lab.share import FileEntry
from ashiato.lab.story import ActivityFn, Decoys
from ashiato.lab.winlogs import DELETE, LIST, READ, Session, fs_access, fs_logoff, fs_logon
from ashiato.lab.world import BACKUP_ACCOUNT, DOMAIN_SID, SERVERS, Host

BKUP01 = SERVERS["BKUP01"]
FS01 = SERVERS["FS01"]
BACKUP_SID = f"{DOMAIN_SID}-1103"
BACKUP_RATE = 55_000  # bytes per ms (~55 MB/s on the server LAN)


def plan_day(ctx: Ctx, day: int, decoys: Decoys) -> list[tuple[int, ActivityFn]]:
    rng = rng_for(ctx.seed, "decoys", day)
    start = at(day, 2) + rng.randint(0, 90) * SECOND
    out: list[tuple[int, ActivityFn]] = [
        (start, functools.partial(backup, start=start, rng=rng))]
    if day_of(decoys.renamer_at) == day:
        t = decoys.renamer_at
        out.append((t, functools.partial(rename_spree, host=decoys.renamer, start=t, rng=rng)))
    if day_of(decoys.adware_at) == day:
        t = decoys.adware_at
        out.append((t, functools.partial(adware, host=decoys.adware, start=t, rng=rng)))
    if rng.random() < 0.3:  # a developer testing the AV with EICAR
        t = at(day, 10) + rng.randint(0, 6 * 60) * MINUTE
        out.append((t, functools.partial(eicar, start=t, rng=rng)))
    return out


# -- nightly backup -------------------------------------------------------------------------


def backup(ctx: Ctx, start: int, rng: random.Random) -> None:
    """BKUP01 reads every file over SMB, folder by folder (one activity per folder)."""
    if not ctx.share_online(start):  # IT took the share offline after the incident
        return
    sess = fs_logon(ctx, start, BACKUP_ACCOUNT, BACKUP_SID, BKUP01.ip, "BKUP01", rng)
    folders = [rel for rel, _ in ctx.share.walk()]
    ctx.later(start + 2 * SECOND, functools.partial(
        _backup_folder, sess=sess, folders=folders, idx=0, t=start + 2 * SECOND, total=0,
        start=start))


def _backup_folder(ctx: Ctx, sess: Session, folders: list[str], idx: int, t: int, total: int,
                   start: int) -> None:
    folder = ctx.share.folders.get(folders[idx])
    if folder is not None:
        fs_access(ctx, t, sess, folders[idx], LIST)
        for name, entry in list(folder.files.items()):
            t += 40 + entry.size // BACKUP_RATE
            fs_access(ctx, t, sess, f"{folders[idx]}\\{name}", READ)
            total += entry.size
    t += 50
    if idx + 1 < len(folders):
        ctx.later(t, functools.partial(_backup_folder, sess=sess, folders=folders, idx=idx + 1,
                                       t=t, total=total, start=start))
    else:
        fs_logoff(ctx, t + SECOND, sess)
        ids_flow(ctx, BKUP01.ip, FS01.ip, 445, start, t + SECOND, 90_000 + total // 200,
                 total + total // 40, "smb")


# -- the user who renames hundreds of files on purpose --------------------------------------


def rename_spree(ctx: Ctx, host: Host, start: int, rng: random.Random) -> None:
    """Tidying up before a reorganisation: every file outside 開発 gets ``_old`` or moves
    into a ``旧年度`` subfolder (hundreds of renames in minutes, by a person, on purpose)."""
    ip = ctx.plan.ip_of(host, start)
    if ip is None or not ctx.share_online(start):
        return
    u = host.user
    style = "suffix" if rng.random() < 0.5 else "move"
    depts = {"営業", "経理", "人事", "総務"}
    sess = fs_logon(ctx, start, u.sam, u.sid, ip, host.name, rng)
    smb_connect(ctx, host, ip, start)
    t = start + 3 * SECOND
    renamed = 0
    for rel in list(ctx.share.folder_list):
        if rel.split("\\", 1)[0] not in depts or rel.endswith("旧年度"):
            continue
        files = ctx.share.folders[rel].files
        if not files:
            continue
        fs_access(ctx, t, sess, rel, LIST)
        target = rel
        if style == "move":
            target = f"{rel}\\旧年度"
            ctx.share.add_folder(target, t)
        for name in sorted(files):
            t += rng.randint(250, 900)
            old = ctx.share.remove(rel, name, t)
            new_name = name
            if style == "suffix":
                stem, dot, ext = name.rpartition(".")
                new_name = f"{stem}_old.{ext}" if dot else f"{name}_old"
            fs_access(ctx, t, sess, f"{rel}\\{name}", DELETE)
            # A rename keeps the file's times and owner: nothing like a ransomware rewrite.
            ctx.share.add(target, FileEntry(new_name, old.size, old.ctime, old.mtime, old.owner),
                          t)
            renamed += 1
    fs_logoff(ctx, t + 20 * SECOND, sess)
    smb_close(ctx, host, ip, start, t + 20 * SECOND, 60_000 + renamed * 900,
              40_000 + renamed * 600, sport=sess.port)
    ctx.story.facts.renamed += renamed
    ctx.story.details.setdefault("renamer_style", style)


# -- adware and EICAR -------------------------------------------------------------------------


def adware(ctx: Ctx, host: Host, start: int, rng: random.Random) -> None:
    ip = ctx.plan.ip_of(host, start)
    if ip is None:
        return
    url = f"http://{ADWARE_SITE.host}{ADWARE_SITE.pages[0]}"
    req = Req(url, ADWARE_SITE.ip, rng.randint(900_000, 2_500_000), "application/octet-stream",
              ADWARE_SITE.country, elapsed=rng.randint(2_000, 9_000))
    done = web(ctx, host, ip, start, [req], rng)
    ctx.emit("fw:FG-TOKYO", done + 3, {
        "kind": "virus", "severity": "medium", "srcip": ADWARE_SITE.ip, "dstip": ip,
        "srcport": 80, "dstport": req.sport, "action": "passthrough", "service": "HTTP",
        "filename": "toolbar_setup.exe", "virus": "Adware/Toolbar", "url": url})
    path = f"C:\\Users\\{host.user.sam}\\Downloads\\toolbar_setup.exe"
    ep = ctx.endpoint(host)
    if ep is not None and ep.browser is not None:
        ep.create_file(done + 500, ep.browser, path, req.size, zone="[ZoneTransfer]  ZoneId=3")
    av_hit(ctx, done + rng.randint(5, 90) * SECOND, host, ip, "ADW_TOOLBAR", path, "隔離")


def eicar(ctx: Ctx, start: int, rng: random.Random) -> None:
    online = [lease for lease in ctx.plan.leases if lease.start < start < lease.end]
    if not online:
        return
    lease = rng.choice(online)
    path = f"C:\\Users\\{lease.host.user.sam}\\Desktop\\eicar.com"
    av_hit(ctx, start, lease.host, lease.ip, "Eicar_test_file", path, "削除")


def pick_decoys(world_hosts: list[Host], rng: random.Random, exclude: set[str],
                days: int) -> Decoys:
    """Renamer and adware PCs (never the patient zero), on workdays before the incident."""
    pool = [h for h in world_hosts if h.short not in exclude and not h.mobile]
    renamer, adware_host = rng.sample(pool, 2)
    workdays = [d for d in range(days - 1) if is_workday(d)] or [0]
    renamer_day = rng.choice(workdays[:-1] or workdays)
    return Decoys(renamer, at(renamer_day, 14) + rng.randint(0, 90) * MINUTE, adware_host,
                  at(rng.choice(workdays), 12, 20) + rng.randint(0, 30) * MINUTE)

