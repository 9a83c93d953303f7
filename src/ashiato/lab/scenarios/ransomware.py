"""CryptoWall after the payload runs: persistence, C2, shadow-copy deletion, encryption.

The chain follows domain.md 1.2: copy to %APPDATA%, inject into a new explorer.exe, public-IP
check, POSTs to .php pages on compromised WordPress sites, ``vssadmin Delete Shadows``,
local files first, then every share the user can write (over SMB, folder by folder, notes
in each folder it touched), the victim browsing the Tor payment gateway, and an antivirus
signature that only arrives hours later.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field

from ashiato.lab.av import av_hit
from ashiato.lab.background import save_in_folder
from ashiato.lab.clock import MINUTE, SECOND
from ashiato.lab.context import Ctx
from ashiato.lab.endpoint import EXPLORER, IEXPLORE, SYSTEM32, VSSADMIN, Endpoint, Proc
from ashiato.lab.ids import alnum, hex_id, letters
from ashiato.lab.internet import C2_PATHS, COMPROMISED_SITES, IP_CHECK_HOSTS, TOR_GATEWAYS
from ashiato.lab.net import Req, ids_alert, smb_close, smb_connect, web
from ashiato.lab.share import FileEntry
from ashiato.lab.story import Encrypted, Story
from ashiato.lab.winlogs import DELETE, LIST, READ, WRITE, Session, fs_access, fs_logoff, fs_logon
from ashiato.lab.world import Host

NOTE_SIZES = {"TXT": (3_900, 6_200), "HTML": (8_800, 12_500), "PNG": (52_000, 91_000)}
SKIP_EXT = (".exe", ".dll", ".sys", ".lnk")
ENC_RATE = 4_000  # bytes per ms: read + encrypt + write back over the WAN


@dataclass(slots=True)
class Family:
    name: str
    rename: str  # "random" (CryptoWall 4: name and extension randomised) or "append"
    ext: str  # appended extension for "append"
    notes: tuple[str, ...]
    detection: str

    def new_name(self, name: str, rng: random.Random) -> str:
        if self.rename == "append":
            return name + self.ext
        return f"{alnum(rng, rng.randint(6, 10))}.{alnum(rng, rng.randint(3, 6))}"

    def is_ours(self, name: str) -> bool:
        return name in self.notes or (self.rename == "append" and name.endswith(self.ext))


def pick_family(rng: random.Random) -> Family:
    if rng.random() < 0.5:
        return Family("cryptowall4", "random", "", ("HELP_YOUR_FILES.TXT", "HELP_YOUR_FILES.HTML",
                                                     "HELP_YOUR_FILES.PNG"), "RANSOM_CRYPWALL.SMJ4")
    ext = rng.choice((".ccc", ".vvv", ".xxx", ".zzz"))
    return Family("cryptowall3-variant", "append", ext,
                  ("HELP_DECRYPT.TXT", "HELP_DECRYPT.HTML", "HELP_DECRYPT.PNG"),
                  "RANSOM_CRYPWALL.SM3")


@dataclass(slots=True)
class C2:
    host: str
    ip: str
    path: str


@dataclass
class Infection:
    """State shared by the activities of one infected PC."""

    host: Host
    ep: Endpoint
    family: Family
    rng: random.Random
    cut_at: int  # IT unplugs the PC
    encrypt_share: bool
    c2: list[C2] = field(default_factory=list)
    ip_check: str = ""
    ip_check_ip: str = "198.51.100.60"
    tor: str = ""
    payload_path: str = ""  # set by the vector before the payload runs
    payload_parent: Proc | None = None
    payload_integrity: str = "Medium"
    payload: Proc | None = None
    injected: Proc | None = None
    persisted: str = ""
    last_ip: str = ""

    def ip(self, ctx: Ctx, ts: int) -> str | None:
        ip = ctx.plan.ip_of(self.host, ts)
        if ip is not None:
            self.last_ip = ip
        return ip


def new_infection(host: Host, ep: Endpoint, rng: random.Random, cut_at: int,
                  encrypt_share: bool) -> Infection:
    inf = Infection(host, ep, pick_family(rng), rng, cut_at, encrypt_share)
    for i, site in enumerate(rng.sample(COMPROMISED_SITES, 3)):
        path = rng.choice(C2_PATHS).format(w=letters(rng, rng.randint(4, 8)))
        inf.c2.append(C2(site, f"192.0.2.{201 + i}", path))
    inf.ip_check = rng.choice(IP_CHECK_HOSTS)
    inf.tor = f"{alnum(rng, 16)}.{rng.choice(TOR_GATEWAYS)}"
    return inf


def schedule(story: Story, inf: Infection, t_exec: int) -> None:
    """Plan the chain from the moment the payload runs (the vector sets ``payload_path``)."""
    story.add(t_exec, functools.partial(_execute, inf=inf, start=t_exec))
    story.add(t_exec + 2 * SECOND, functools.partial(_persist, inf=inf, start=t_exec + 2 * SECOND))
    t_net = t_exec + 15 * SECOND
    story.add(t_net, functools.partial(_check_in, inf=inf, start=t_net))
    t_vss = t_exec + 45 * SECOND
    story.add(t_vss, functools.partial(_inhibit_recovery, inf=inf, start=t_vss))
    t_enc = t_exec + 75 * SECOND
    story.add(t_enc, functools.partial(_encrypt_local, inf=inf, start=t_enc))
    t_av = t_exec + inf.rng.randint(3 * 60, 6 * 60) * MINUTE
    story.add(t_av, functools.partial(_late_detection, inf=inf, start=t_av))


def _execute(ctx: Ctx, inf: Infection, start: int) -> None:
    ep = inf.ep
    path = inf.payload_path
    inf.payload = ep.spawn(start, path, f'"{path}"', inf.payload_parent, inf.payload_integrity)


def _persist(ctx: Ctx, inf: Infection, start: int) -> None:
    ep = inf.ep
    inf.persisted = f"{ep.profile}\\AppData\\Roaming\\{alnum(inf.rng, 8)}.exe"
    payload = inf.payload or ep.system
    ep.create_file(start, payload, inf.persisted, inf.rng.randint(180_000, 320_000))
    copy = ep.spawn(start + 400, inf.persisted, f'"{inf.persisted}"', payload)
    inf.injected = ep.spawn(start + 1_500, EXPLORER, EXPLORER, copy)


def _check_in(ctx: Ctx, inf: Infection, start: int) -> None:
    ip = inf.ip(ctx, start)
    if ip is None:
        return
    rng = inf.rng
    reqs = [Req(f"http://{inf.ip_check}/", inf.ip_check_ip, rng.randint(180, 400), "text/plain",
                "Spain", elapsed=rng.randint(80, 400))]
    for c in inf.c2:
        body = 2 * rng.randint(40, 90)  # one short form field holding a long hex value
        reqs.append(Req(f"http://{c.host}{c.path}", c.ip, rng.randint(190, 700), "text/html",
                        "United States", method="POST", sent=body + 380,
                        elapsed=rng.randint(200, 1500), gap=rng.randint(300, 4000)))
    web(ctx, inf.host, ip, start, reqs, rng, proc=inf.injected)
    first = reqs[1]
    ids_alert(ctx, first.at + 3, first.flow, ip, first.sport, first.ip, 80, 2020001,
              "ET TROJAN CryptoWall Check-in (example)", "A Network Trojan was detected", 1,
              http={"hostname": first.hostname, "url": inf.c2[0].path, "http_method": "POST"})
    ids_alert(ctx, reqs[0].at + 3, reqs[0].flow, ip, reqs[0].sport, reqs[0].ip, 80, 2020002,
              "ET POLICY External IP Lookup (example)",
              "Device Retrieving External IP Address Detected", 2)
    ctx.story.facts.c2 += [c.host for c in inf.c2 if c.host not in ctx.story.facts.c2]


def _inhibit_recovery(ctx: Ctx, inf: Infection, start: int) -> None:
    ep = inf.ep
    parent = inf.injected or ep.system
    ep.spawn(start, VSSADMIN, f"{VSSADMIN} Delete Shadows /All /Quiet", parent, "High")
    if inf.family.rename == "random":  # CryptoWall 4 also disables startup repair
        bcd = f"{SYSTEM32}\\bcdedit.exe"
        ep.spawn(start + 2_000, bcd, f"{bcd} /set {{default}} recoveryenabled No", parent, "High")
        ep.spawn(start + 2_600, bcd, f"{bcd} /set {{default}} bootstatuspolicy ignoreallfailures",
                 parent, "High")


def schedule_log_clearing(story: Story, inf: Infection, clear_at: int) -> None:
    story.add(clear_at - 3 * SECOND, functools.partial(_clear_logs, inf=inf, clear_at=clear_at,
                                                       start=clear_at - 3 * SECOND))


def _clear_logs(ctx: Ctx, inf: Infection, clear_at: int, start: int) -> None:
    """``wevtutil cl Security``; Sysmon and auditing are stopped with it (silence follows)."""
    wevtutil = f"{SYSTEM32}\\wevtutil.exe"
    inf.ep.spawn(start, wevtutil, f"{wevtutil} cl Security", inf.injected, "High")
    inf.ep.clear_security_log(clear_at)


def _note_size(name: str, rng: random.Random) -> int:
    lo, hi = NOTE_SIZES[name.rsplit(".", 1)[1]]
    return rng.randint(lo, hi)


def _encrypt_local(ctx: Ctx, inf: Infection, start: int) -> None:
    """The PC's own documents: new encrypted files replace the originals, notes per folder."""
    ep, rng, facts = inf.ep, inf.rng, ctx.story.facts
    proc = inf.injected or ep.system
    t = start
    for folder in (f"{ep.profile}\\Desktop", f"{ep.profile}\\Documents"):
        touched = False
        for path, entry in sorted(ep.mft.files_under(folder)):
            name = entry.name
            if inf.family.is_ours(name) or name.lower().endswith(SKIP_EXT) or t >= inf.cut_at:
                continue
            t += 300 + entry.size // (ENC_RATE * 4) + rng.randint(0, 400)
            new_path = path.rpartition("\\")[0] + "\\" + inf.family.new_name(name, rng)
            ep.create_file(t, proc, new_path, entry.size + rng.randint(560, 1_100))
            ep.mft.delete(path, t + 30)
            facts.encrypted.append(Encrypted("local", inf.host.short, path, new_path, t,
                                             inf.host.user.account, inf.host.user.account))
            touched = True
        if touched:
            for note in inf.family.notes:
                t += 90
                ep.create_file(t, proc, f"{folder}\\{note}", _note_size(note, rng))
                facts.notes.append(("local", inf.host.short, f"{folder}\\{note}", t))
    t += 3 * SECOND
    note_html = f"{ep.profile}\\Desktop\\{inf.family.notes[1]}"
    if t < inf.cut_at:
        ep.spawn(t, IEXPLORE, f'"{IEXPLORE}" {note_html}', proc)
    t_pay = t + rng.randint(5, 20) * MINUTE
    if t_pay < inf.cut_at:
        ctx.later(t_pay, functools.partial(_visit_payment, inf=inf, start=t_pay))
    if inf.encrypt_share and t + 30 * SECOND < inf.cut_at:
        ctx.later(t + 30 * SECOND, functools.partial(_share_start, inf=inf, start=t + 30 * SECOND))


def _visit_payment(ctx: Ctx, inf: Infection, start: int) -> None:
    """The victim follows the note to the Tor gateway (the browser, not the malware)."""
    ip = inf.ip(ctx, start)
    if ip is None:
        return
    rng = inf.rng
    req = Req(f"http://{inf.tor}/{hex_id(rng, 6).lower()}", "198.51.100.66",
              rng.randint(6_000, 14_000), "text/html", "Germany", elapsed=rng.randint(900, 6000))
    web(ctx, inf.host, ip, start, [req], rng)
    ids_alert(ctx, req.at + 2, req.flow, ip, req.sport, req.ip, 80, 2014939,
              f"ET POLICY DNS Query to .onion proxy Domain ({inf.tor.split('.', 1)[1]})",
              "Potential Corporate Privacy Violation", 2)
    if inf.tor not in ctx.story.facts.payment:
        ctx.story.facts.payment.append(inf.tor)


@dataclass(slots=True)
class _ShareRun:
    sess: Session
    ip: str
    start: int
    folders: list[str]
    sent: int = 0
    rcvd: int = 0
    colleagues: random.Random = field(default_factory=random.Random)


def _share_start(ctx: Ctx, inf: Infection, start: int) -> None:
    ip = inf.ip(ctx, start)
    if ip is None or not ctx.share_online(start):
        return
    u = inf.host.user
    sess = fs_logon(ctx, start, u.sam, u.sid, ip, inf.host.name, inf.rng)
    smb_connect(ctx, inf.host, ip, start)
    # The walk starts in the user's own department, then the rest in tree order.
    walk = [rel for rel, _ in ctx.share.walk()]
    mine = [r for r in walk if r.split("\\", 1)[0] == u.dept]
    run = _ShareRun(sess, ip, start, mine + [r for r in walk if r not in mine],
                    colleagues=random.Random(inf.rng.random()))
    ctx.later(start + 2 * SECOND, functools.partial(_share_folder, inf=inf, run=run, idx=0,
                                                    t=start + 2 * SECOND))


def _share_folder(ctx: Ctx, inf: Infection, run: _ShareRun, idx: int, t: int) -> None:
    rng, facts, share = inf.rng, ctx.story.facts, ctx.share
    rel = run.folders[idx]
    folder = share.folders.get(rel)
    targets = sorted(n for n in (folder.files if folder else ())
                     if not inf.family.is_ours(n) and not n.lower().endswith(SKIP_EXT))
    touched = False
    if targets and t < inf.cut_at:
        fs_access(ctx, t, run.sess, rel, LIST)
    for name in targets:
        if t >= inf.cut_at:
            break
        entry = share.folders[rel].files[name]
        dur = 250 + entry.size // ENC_RATE + rng.randint(0, 300)
        new = inf.family.new_name(name, rng)
        while new in share.folders[rel].files:
            new = inf.family.new_name(name, rng)
        fs_access(ctx, t, run.sess, f"{rel}\\{name}", READ)
        fs_access(ctx, t + dur // 2, run.sess, f"{rel}\\{new}", WRITE)
        fs_access(ctx, t + dur, run.sess, f"{rel}\\{name}", DELETE)
        share.remove(rel, name, t + dur)
        size = entry.size + rng.randint(560, 1_100)
        share.add(rel, FileEntry(new, size, t + dur // 2, t + dur, inf.host.user.account), t + dur)
        facts.encrypted.append(Encrypted("share", "fs01", f"{rel}\\{name}", f"{rel}\\{new}",
                                         t + dur // 2, inf.host.user.account, entry.owner))
        run.rcvd += entry.size
        run.sent += size
        touched = True
        t += dur + rng.randint(40, 300)
    if touched:
        for note in inf.family.notes:
            t += rng.randint(60, 200)
            size = _note_size(note, rng)
            fs_access(ctx, t, run.sess, f"{rel}\\{note}", WRITE)
            share.add(rel, FileEntry(note, size, t, t, inf.host.user.account), t)
            facts.notes.append(("share", "fs01", f"{rel}\\{note}", t))
            run.sent += size
        if run.colleagues.random() < 0.12:
            # colleagues keep working: a new document lands in the encrypted folder
            when = t + run.colleagues.randint(1, 25) * MINUTE
            ctx.later(when, functools.partial(
                save_in_folder, folder=rel, start=when, exclude=inf.host.short,
                rng=run.colleagues))
    t += 100
    if idx + 1 < len(run.folders) and t < inf.cut_at:
        ctx.later(t, functools.partial(_share_folder, inf=inf, run=run, idx=idx + 1, t=t))
        return
    end = min(t, inf.cut_at)
    if t < inf.cut_at:
        fs_logoff(ctx, end + SECOND, run.sess)
    smb_close(ctx, inf.host, run.ip, run.start, end + SECOND, run.sent + 80_000,
              run.rcvd + 120_000)


def _late_detection(ctx: Ctx, inf: Infection, start: int) -> None:
    """The pattern file that knows this build arrives hours after the infection."""
    ip = inf.ip(ctx, start) or inf.last_ip or "-"
    for i, path in enumerate(p for p in (inf.payload_path, inf.persisted) if p):
        av_hit(ctx, start + i * 1_300, inf.host, ip, inf.family.detection, path, "隔離")

