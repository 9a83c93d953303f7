"""A spam bot: the PC talks SMTP straight to mail servers on the Internet.

It never touches mx01, so the maillog shows nothing of it; the firewalls and Suricata see
hundreds of TCP/25 sessions from a workstation. Noticed when partners start rejecting the
company's own mail (its public address landed on a block list).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from ashiato.lab.clock import MINUTE, SECOND, at
from ashiato.lab.context import Ctx
from ashiato.lab.endpoint import Proc
from ashiato.lab.ids import alnum, letters
from ashiato.lab.internet import SPAM_RECIPIENT_DOMAINS
from ashiato.lab.net import DNS_SERVER, fw_session, ids_alert
from ashiato.lab.story import Story
from ashiato.lab.world import Host


@dataclass
class Bot:
    host: Host
    rng: random.Random
    path: str
    proc: Proc | None = None
    alerted: bool = False


def _mx_ip(domain: str) -> str:
    return f"203.0.113.{160 + sum(map(ord, domain)) % 60}"


def plan(story: Story, host: Host, rng: random.Random, day1: int, day2: int) -> Bot:
    """Bursts from ~13:00 on day1 until the PC goes home, and on day2 until IT unplugs it."""
    bot = Bot(host, rng, f"C:\\Users\\{host.user.sam}\\AppData\\Roaming\\Microsoft\\"
                         f"{alnum(rng, 7)}\\svchost.exe")
    start = at(day1, 13) + rng.randint(0, 90) * MINUTE
    cut = at(day2, 10, 30) + rng.randint(0, 40) * MINUTE
    story.constrain(day1, host, boot_before=start)
    story.constrain(day2, host, boot_before=at(day2, 9), cut_at=cut)
    story.details["blacklisted_at"] = at(day2, 8, 50)
    story.details["isolated_at"] = cut
    for t0, t1 in ((start, at(day1, 18, 20)), (at(day2, 9, 10), cut)):
        t = t0
        while t < t1:
            story.add(t, functools.partial(_burst, bot=bot, start=t, n=rng.randint(4, 14)))
            t += rng.randint(3, 9) * MINUTE + rng.randint(0, 59_999)
    return bot


def _burst(ctx: Ctx, bot: Bot, start: int, n: int) -> None:
    ip = ctx.plan.ip_of(bot.host, start)
    if ip is None:
        return
    rng, facts = bot.rng, ctx.story.facts
    ep = ctx.endpoint(bot.host)
    if ep is not None and bot.proc is None:
        bot.proc = ep.spawn(start, bot.path, f'"{bot.path}" -k netsvcs', ep.explorer)
    t = start + 500
    for _ in range(n):
        domain = rng.choice(SPAM_RECIPIENT_DOMAINS)
        mx = _mx_ip(domain)
        ctx.emit("ids", t, {"flow_id": ctx.flow_id(), "event_type": "dns", "src_ip": ip,
                            "src_port": ctx.port(), "dest_ip": DNS_SERVER, "dest_port": 53,
                            "proto": "UDP", "dns": {"type": "query", "id": rng.randint(1, 65535),
                                                    "rrname": domain, "rrtype": "MX",
                                                    "tx_id": 0}})
        dur = rng.randint(900, 6_000)
        sport, flow = ctx.port(), ctx.flow_id()
        rcpts = [f"<{letters(rng, rng.randint(4, 9))}@{domain}>"
                 for _ in range(rng.randint(1, 5))]
        ctx.emit("ids", t + dur - 100, {
            "flow_id": flow, "event_type": "smtp", "src_ip": ip, "src_port": sport,
            "dest_ip": mx, "dest_port": 25, "app_proto": "smtp", "tx_id": 0,
            "smtp": {"helo": f"{letters(rng, 6).upper()}-PC", "rcpt_to": rcpts,
                     "mail_from": f"<{letters(rng, 6)}@{alnum(rng, 7)}.example>"}})
        if not bot.alerted:
            bot.alerted = True
            ids_alert(ctx, t + 300, flow, ip, sport, mx, 25, 2019320,
                      "ET POLICY Direct SMTP from internal workstation (example)",
                      "Potential Corporate Privacy Violation", 2)
        if ep is not None and bot.proc is not None:
            ep.connect(t + 5, bot.proc, ip, mx, 25, "")
        fw_session(ctx, bot.host, ip, t, t + dur, mx, 25, "SMTP", rng.randint(2_500, 9_000),
                   rng.randint(300, 700), "United States", sport=sport)
        facts.malicious(t)
        facts.spam_connections += 1
        facts.spam_domains.add(domain)
        t += dur + rng.randint(200, 8 * SECOND)
