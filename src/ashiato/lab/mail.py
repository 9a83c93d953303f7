"""Mail through mx01 (Postfix) and its gateway's export, plus what Suricata sees in the DMZ.

Inbound mail: Internet -> mx01 (10.0.1.25) -> MAIL01 (10.0.0.30). Outbound mail from users:
MAIL01 -> mx01 -> the recipient's MX. Postfix never logs attachment names; the gateway CSV
does, and Suricata's smtp/fileinfo records carry them too.

mx01 runs amavisd-new as a content filter (domain.md 8.2): every message is handed to it on
127.0.0.1:10024 under one queue id, amavis logs its verdict, and the message comes back
from 127.0.0.1 on port 10025 under a second queue id, which then goes on to its relay.
So 127.0.0.1 is a client of Postfix for every message, including all outbound mail.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field

from ashiato.lab.clock import MINUTE, at, is_workday
from ashiato.lab.context import Ctx
from ashiato.lab.ids import hex_id, rng_for
from ashiato.lab.internet import (
    BENIGN_ATTACHMENTS,
    BENIGN_SUBJECTS,
    MAIL_PARTNERS,
    SPAM_SENDERS,
)
from ashiato.lab.story import ActivityFn
from ashiato.lab.world import MX_PUBLIC_IP, SERVERS, User

MX = SERVERS["mx01"]
MAIL01 = SERVERS["MAIL01"]


@dataclass(slots=True)
class Mail:
    sender: str
    sender_ip: str
    rcpt: str
    subject: str
    attachments: list[tuple[str, int]] = field(default_factory=list)  # name, bytes
    body: int = 3_000
    queue_id: str = ""
    message_id: str = ""

    @property
    def size(self) -> int:
        # base64 inflates attachments by a third
        return self.body + sum(n * 4 // 3 for _, n in self.attachments)


def _pid(rng: random.Random) -> int:
    return rng.randint(2000, 32000)


Line = tuple[int, str, int, str]
FILTER = "127.0.0.1"


def _filter_hop(q: str, m_from: str, rcpt: str, size: int, message_id: str, client: str,
                policy: str, at_ms: int, rng: random.Random) -> tuple[str, list[Line], int]:
    """Queue ``q`` through amavis and back; returns the re-injected queue id, the lines
    (offsets from ``at_ms``) and the offset where the re-injected message is queued."""
    q2 = hex_id(rng, 10)
    amavis, smtp, smtpd, cleanup = _pid(rng), _pid(rng), _pid(rng), _pid(rng)
    took = rng.randint(300, 2_500)
    back = f"localhost[{FILTER}]"
    verdict = (f"({amavis}-{rng.randint(1, 99):02d}) Passed CLEAN {{{policy}}}, [{client}]:"
               f"{rng.randint(1024, 65000)} [{client}] <{m_from}> -> <{rcpt}>, Queue-ID: {q}, "
               f"Message-ID: {message_id}, mail_id: {hex_id(rng, 12)}, Hits: "
               f"{rng.uniform(-2.5, 2.0):.3f}, size: {size}, queued_as: {q2}, {took} ms")
    lines: list[Line] = [
        (took - 60, "smtpd", smtpd, f"connect from {back}"),
        (took - 50, "smtpd", smtpd, f"{q2}: client={back}"),
        (took - 40, "cleanup", cleanup, f"{q2}: message-id={message_id}"),
        (took - 20, "qmgr", 1021, f"{q2}: from=<{m_from}>, size={size + 620}, nrcpt=1 "
                                  "(queue active)"),
        (took, "amavis", amavis, verdict),
        (took + 5, "smtp", smtp,
         f"{q}: to=<{rcpt}>, relay={FILTER}[{FILTER}]:10024, delay={took / 1000 + 0.2:.1f}, "
         f"delays=0.1/0/0/{took / 1000:.1f}, dsn=2.0.0, status=sent (250 2.0.0 from "
         f"MTA(smtp:[{FILTER}]:10025): 250 2.0.0 Ok: queued as {q2})"),
        (took + 10, "qmgr", 1021, f"{q}: removed"),
        (took + 15, "smtpd", smtpd, f"disconnect from {back}"),
    ]
    return q2, [(at_ms + off, d, pid, msg) for off, d, pid, msg in lines], at_ms + took + 20


def blocked_inbound(ctx: Ctx, ts: int, rng: random.Random) -> None:
    """Known malware in a spam run: amavis blocks it, nothing is re-injected or delivered."""
    sender, ip = rng.choice(SPAM_SENDERS)
    pz = ctx.story.pz
    rcpt = rng.choice([u for u in ctx.world.users if pz is None or u is not pz.user]).mail
    q, smtpd, cleanup, smtp, amavis = (hex_id(rng, 10), _pid(rng), _pid(rng), _pid(rng),
                                       _pid(rng))
    virus = rng.choice(("Win.Trojan.Agent-1388596", "Doc.Downloader.Emotet-6333374-0",
                        "Js.Downloader.Nemucod-5861453-0"))
    size = rng.randint(20_000, 90_000)
    mid = f"<{ts // 1000}.{rng.randint(1000, 9999)}@{sender.split('@')[1]}>"
    am = f"{amavis}-{rng.randint(1, 99):02d}"
    peer = f"unknown[{ip}]"
    took = rng.randint(400, 3_000)
    _emit_lines(ctx, ts, [
        (0, "smtpd", smtpd, f"connect from {peer}"),
        (600, "smtpd", smtpd, f"{q}: client={peer}"),
        (800, "cleanup", cleanup, f"{q}: message-id={mid}"),
        (900, "qmgr", 1021, f"{q}: from=<{sender}>, size={size}, nrcpt=1 (queue active)"),
        (1000, "smtpd", smtpd, f"disconnect from {peer}"),
        (1000 + took, "amavis", amavis,
         f"({am}) Blocked INFECTED ({virus}) {{DiscardedInbound,Quarantined}}, [{ip}]:"
         f"{rng.randint(1024, 65000)} [{ip}] <{sender}> -> <{rcpt}>, quarantine: "
         f"virus-{hex_id(rng, 12)}, Queue-ID: {q}, Message-ID: {mid}, mail_id: "
         f"{hex_id(rng, 12)}, Hits: -, size: {size}, {took} ms"),
        (1010 + took, "smtp", smtp,
         f"{q}: to=<{rcpt}>, relay={FILTER}[{FILTER}]:10024, delay={took / 1000 + 0.2:.1f}, "
         f"delays=0.1/0/0/{took / 1000:.1f}, dsn=2.7.0, status=sent (250 2.7.0 Ok, "
         f"discarded, id={am} - INFECTED: {virus})"),
        (1020 + took, "qmgr", 1021, f"{q}: removed"),
    ])


def _emit_lines(ctx: Ctx, ts: int, lines: list[Line]) -> None:
    for off, daemon, pid, msg in sorted(lines, key=lambda x: x[0]):
        app = "amavis" if daemon == "amavis" else f"postfix/{daemon}"
        ctx.emit("maillog", ts + off, {"daemon": daemon, "app": app, "pid": pid, "msg": msg})


def deliver_inbound(ctx: Ctx, ts: int, m: Mail, rng: random.Random) -> int:
    """Receive from the Internet and relay to MAIL01; returns the time it reached MAIL01."""
    m.queue_id = m.queue_id or hex_id(rng, 10)
    dom = m.sender.split("@")[1]
    m.message_id = m.message_id or f"<{ts // 1000}.{rng.randint(10, 99)}@{dom}>"
    smtpd, cleanup, smtp = _pid(rng), _pid(rng), _pid(rng)
    peer = f"unknown[{m.sender_ip}]"
    q = m.queue_id
    lines = [
        (0, "smtpd", smtpd, f"connect from {peer}"),
        (900, "smtpd", smtpd, f"{q}: client={peer}"),
        (1300, "cleanup", cleanup, f"{q}: message-id={m.message_id}"),
        (1500, "qmgr", 1021, f"{q}: from=<{m.sender}>, size={m.size}, nrcpt=1 (queue active)"),
        (1700, "smtpd", smtpd, f"disconnect from {peer}"),
    ]
    q2, hop, back = _filter_hop(q, m.sender, m.rcpt, m.size, m.message_id, m.sender_ip,
                                "RelayedInbound", 1600, rng)
    delay = rng.randint(400, 2500)
    lines += [
        *hop,
        (back + delay, "smtp", smtp,
         f"{q2}: to=<{m.rcpt}>, relay={MAIL01.ip}[{MAIL01.ip}]:25, "
         f"delay={(delay + back) / 1000:.1f}, delays=0.1/0/0.3/{delay / 1000:.1f}, "
         "dsn=2.0.0, status=sent (250 2.0.0 Queued)"),
        (back + delay + 100, "qmgr", 1021, f"{q2}: removed"),
    ]
    _emit_lines(ctx, ts, lines)
    ctx.emit("mailgw", ts + 1500, {"sender": m.sender, "rcpt": m.rcpt, "subject": m.subject,
                                   "attachments": [n for n, _ in m.attachments],
                                   "size": m.size, "result": "配送"})
    flow, sport = ctx.flow_id(), ctx.port()
    ids = {"flow_id": flow, "src_ip": m.sender_ip, "src_port": sport, "dest_ip": MX.ip,
           "dest_port": 25, "app_proto": "smtp"}
    ctx.emit("ids", ts + 1400, {**ids, "event_type": "smtp", "tx_id": 0,
                                "smtp": {"helo": dom, "mail_from": f"<{m.sender}>",
                                         "rcpt_to": [f"<{m.rcpt}>"]},
                                "email": {"status": "PARSE_DONE", "from": m.sender,
                                          "to": [m.rcpt], "subject": m.subject,
                                          "attachment": [n for n, _ in m.attachments]}})
    for name, size in m.attachments:
        ctx.emit("ids", ts + 1450, {**ids, "event_type": "fileinfo", "fileinfo": {
            "filename": name, "magic": _magic(name), "gaps": False, "state": "CLOSED",
            "stored": False, "size": size, "tx_id": 0}})
    return ts + back + delay + 100


def _magic(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower()
    return {"pdf": "PDF document, version 1.5", "zip": "Zip archive data, at least v2.0 to "
            "extract", "xlsx": "Microsoft Excel 2007+", "docx": "Microsoft Word 2007+"
            }.get(ext, "data")


def reject_spam(ctx: Ctx, ts: int, rng: random.Random, rcpt: str) -> None:
    sender, ip = rng.choice(SPAM_SENDERS)
    pid = _pid(rng)
    ctx.emit("maillog", ts, {"daemon": "smtpd", "pid": pid, "msg": f"connect from unknown[{ip}]"})
    ctx.emit("maillog", ts + 700, {"daemon": "smtpd", "pid": pid, "msg": (
        f"NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1 Service unavailable; Client host "
        f"[{ip}] blocked using zen.spamhaus.example; from=<{sender}> to=<{rcpt}> proto=ESMTP "
        f"helo=<{sender.split('@')[1]}>")})
    ctx.emit("maillog", ts + 900, {"daemon": "smtpd", "pid": pid,
                                   "msg": f"disconnect from unknown[{ip}]"})
    ctx.emit("mailgw", ts + 700, {"sender": sender, "rcpt": rcpt, "subject": "【広告】限定オファー",
                                  "attachments": [], "size": 0, "result": "拒否"})


def send_outbound(ctx: Ctx, ts: int, user: User, rng: random.Random) -> None:
    partner, partner_ip = rng.choice(MAIL_PARTNERS)
    q = hex_id(rng, 10)
    smtpd, cleanup, smtp = _pid(rng), _pid(rng), _pid(rng)
    peer = f"{MAIL01.fqdn.lower()}[{MAIL01.ip}]"
    size = rng.randint(2_000, 900_000)
    message_id = f"<{ts // 1000}.{user.sam}@{MAIL01.fqdn}>"
    rows: list[Line] = [
        (0, "smtpd", smtpd, f"connect from {peer}"),
        (300, "smtpd", smtpd, f"{q}: client={peer}"),
        (500, "cleanup", cleanup, f"{q}: message-id={message_id}"),
        (700, "qmgr", 1021, f"{q}: from=<{user.mail}>, size={size}, nrcpt=1 (queue active)"),
        (900, "smtpd", smtpd, f"disconnect from {peer}"),
    ]
    # the message reaches the Internet from the filter's re-injection (client 127.0.0.1)
    q, hop, back = _filter_hop(q, user.mail, partner, size, message_id, MAIL01.ip,
                               "ORIGINATING", 950, rng)
    rows += [
        *hop,
        (back + 1200, "smtp", smtp, f"{q}: to=<{partner}>, relay=mx.{partner.split('@')[1]}"
         f"[{partner_ip}]:25, delay=1.4, delays=0.1/0/0.6/0.7, dsn=2.0.0, status=sent "
         f"(250 ok)"),
        (back + 1300, "qmgr", 1021, f"{q}: removed"),
    ]
    final = len(rows) - 2
    listed_at = ctx.story.details.get("blacklisted_at")
    if listed_at is not None and ts >= listed_at:
        # The spam bot got the company's address onto a block list: partners refuse mail.
        rows[final] = (back + 1200, "smtp", smtp, (
            f"{q}: to=<{partner}>, relay=mx.{partner.split('@')[1]}[{partner_ip}]:25, "
            f"delay=1.1, delays=0.1/0/0.6/0.4, dsn=5.7.1, status=bounced (host "
            f"mx.{partner.split('@')[1]}[{partner_ip}] said: 554 5.7.1 Service unavailable; "
            f"Client host [{MX_PUBLIC_IP}] blocked using bl.spamcop.example (in reply to RCPT "
            "TO command))"))
        rows.insert(final + 1, (back + 1250, "bounce", smtp + 1,
                                f"{q}: sender non-delivery notification: {hex_id(rng, 10)}"))
    _emit_lines(ctx, ts, rows)
    ctx.emit("mailgw", ts + 700, {"sender": user.mail, "rcpt": partner,
                                  "subject": "Re: " + rng.choice(BENIGN_SUBJECTS),
                                  "attachments": [], "size": size, "result": "配送"})


def _inbound(ctx: Ctx, ts: int, rng: random.Random) -> None:
    user = rng.choice(ctx.world.users)
    sender, ip = rng.choice(MAIL_PARTNERS)
    m = Mail(sender, ip, user.mail, rng.choice(BENIGN_SUBJECTS), body=rng.randint(2_000, 9_000))
    if rng.random() < 0.4:
        name = rng.choice(BENIGN_ATTACHMENTS)
        m.attachments.append((name, rng.randint(30_000, 1_500_000)))
    deliver_inbound(ctx, ts, m, rng)


def plan_day(ctx: Ctx, day: int) -> list[tuple[int, ActivityFn]]:
    rng = rng_for(ctx.seed, "mail", day)
    n_users = len(ctx.world.users)
    busy = is_workday(day)
    out: list[tuple[int, ActivityFn]] = []
    for _ in range(int(n_users * (1.2 if busy else 0.15))):
        ts = at(day, 7) + rng.randint(0, 13 * 60) * MINUTE + rng.randint(0, 59_999)
        out.append((ts, functools.partial(_inbound, ts=ts, rng=rng)))
    for _ in range(int(n_users * (0.5 if busy else 0.02))):
        ts = at(day, 9) + rng.randint(0, 9 * 60) * MINUTE + rng.randint(0, 59_999)
        user = rng.choice(ctx.world.users)
        out.append((ts, functools.partial(send_outbound, ts=ts, user=user, rng=rng)))
    for _ in range(rng.randint(2, 6)):
        ts = at(day, 0) + rng.randint(0, 24 * 60 - 1) * MINUTE + rng.randint(0, 59_999)
        rcpt = rng.choice(ctx.world.users).mail
        out.append((ts, functools.partial(reject_spam, ts=ts, rng=rng, rcpt=rcpt)))
    if busy and rng.random() < 0.5:
        ts = at(day, 6) + rng.randint(0, 14 * 60) * MINUTE + rng.randint(0, 59_999)
        out.append((ts, functools.partial(blocked_inbound, ts=ts, rng=rng)))
    return out

