"""How the patient zero got infected: a zip with a .js in a mail, or a drive-by exploit kit.

Each vector plans its activities and leaves ``Infection.payload_path``/``payload_parent`` set
for the moment the payload runs (``t_exec``), where the ransomware chain takes over.
"""

from __future__ import annotations

import functools
import random

from ashiato.lab.clock import MINUTE, SECOND, date_of
from ashiato.lab.context import Ctx
from ashiato.lab.endpoint import IEXPLORE, WSCRIPT
from ashiato.lab.ids import alnum, letters
from ashiato.lab.internet import (
    BENIGN_SITES,
    DOWNLOADER_DOMAINS,
    EK_GATE_DOMAINS,
    EK_LANDING_DOMAINS,
    LURES,
    MAL_SENDER_DOMAINS,
)
from ashiato.lab.mail import Mail, deliver_inbound
from ashiato.lab.net import Req, ids_alert, web
from ashiato.lab.scenarios.ransomware import Infection
from ashiato.lab.story import Story

WINHTTP_UA = "Mozilla/4.0 (compatible; Win32; WinHttp.WinHttpRequest.5)"
EXEC_DELAY = 20 * SECOND  # from opening the attachment / loading the page to the payload running


def mail_attachment(story: Story, inf: Infection, t_open: int) -> int:
    """Plan delivery and opening; returns when the payload runs."""
    rng = inf.rng
    d = date_of(story.day or 0)
    lure = rng.choice(LURES)
    zip_name, js_name = f"{lure}_{d:%m%d}.zip", f"{lure}_{d:%m%d}.js"
    sender = f"{rng.choice(('info', 'billing', 'fax', 'order'))}@{rng.choice(MAL_SENDER_DOMAINS)}"
    subject = f"【{lure}】{d.month}月分のご確認をお願いします"
    dl_host = f"{letters(rng, 5)}.{rng.choice(DOWNLOADER_DOMAINS)}"
    url = f"http://{dl_host}/{alnum(rng, 5)}.exe"
    mail = Mail(sender, f"203.0.113.{rng.randint(90, 99)}", inf.host.user.mail, subject,
                [(zip_name, rng.randint(3_000, 9_000))], body=rng.randint(1_500, 3_000))
    t_mail = t_open - rng.randint(15, 80) * MINUTE
    story.add(t_mail, functools.partial(_deliver, inf=inf, mail=mail, start=t_mail))
    story.add(t_open, functools.partial(_open, inf=inf, zip_name=zip_name, js_name=js_name,
                                        url=url, start=t_open))
    story.facts.vector_time = t_mail
    story.facts.artifact(subject, sender, zip_name, js_name, dl_host, url)
    return t_open + EXEC_DELAY


def _deliver(ctx: Ctx, inf: Infection, mail: Mail, start: int) -> None:
    deliver_inbound(ctx, start, mail, inf.rng)
    ctx.story.facts.artifact(mail.message_id)


def _open(ctx: Ctx, inf: Infection, zip_name: str, js_name: str, url: str, start: int) -> None:
    """Outlook saves the zip, Explorer opens it (Temp1_*.zip), wscript runs the .js."""
    ep, rng = inf.ep, inf.rng
    ctx.story.facts.malicious(start)
    ip = inf.ip(ctx, start)
    outlook_dir = ep.ie_cache.rpartition("\\")[0] + f"\\Content.Outlook\\{alnum(rng, 8).upper()}"
    ep.create_file(start, ep.explorer or ep.system, f"{outlook_dir}\\{zip_name}",
                   rng.randint(3_000, 9_000))
    js_path = f"{ep.temp}\\Temp1_{zip_name}\\{js_name}"
    ep.create_file(start + 600, ep.explorer or ep.system, js_path, rng.randint(6_000, 20_000))
    ws = ep.spawn(start + 1_200, WSCRIPT, f'"{WSCRIPT}" "{js_path}"', ep.explorer)
    if ip is None:
        return
    req = Req(url, f"203.0.113.{rng.randint(110, 119)}", rng.randint(150_000, 400_000),
              "application/octet-stream", "Netherlands", ua=WINHTTP_UA, auth=False,
              elapsed=rng.randint(1_500, 7_000), gap=2_000)
    done = web(ctx, inf.host, ip, start + 1_500, [req], rng, proc=ws)
    ids_alert(ctx, done, req.flow, req.ip, 80, ip, req.sport, 2019714,
              "ET CURRENT_EVENTS Terse alphanumeric executable downloader high likelihood of "
              "being hostile", "A Network Trojan was detected", 1)
    inf.payload_path = f"{ep.temp}\\{alnum(rng, 6)}.exe"
    inf.payload_parent = ws
    ep.create_file(done + 200, ws, inf.payload_path, req.size)
    ctx.story.facts.artifact(inf.payload_path.rpartition("\\")[2])


def drive_by(story: Story, inf: Infection, t_visit: int) -> int:
    rng = inf.rng
    news = BENIGN_SITES[0]  # news.example.jp, compromised with an injected script
    gate = f"{letters(rng, 4)}{rng.randint(10, 99)}.{rng.choice(EK_GATE_DOMAINS)}"
    landing = f"{alnum(rng, 6)}.{rng.choice(EK_LANDING_DOMAINS)}"
    story.add(t_visit, functools.partial(_exploit, inf=inf, news=news.host, news_ip=news.ip,
                                         gate=gate, landing=landing, start=t_visit))
    story.facts.vector_time = t_visit
    story.facts.artifact(news.host, gate, landing)
    return t_visit + EXEC_DELAY


def _ek_path(rng: random.Random) -> str:
    words = ("index", "search", "forum", "topic", "view", "read", "post", "dream", "spring")
    return (f"/{rng.choice(words)}-{rng.choice(words)}_{rng.choice(words)}/"
            f"?{letters(rng, 5)}={rng.randint(10**11, 10**13)}")


def _exploit(ctx: Ctx, inf: Infection, news: str, news_ip: str, gate: str, landing: str,
             start: int) -> None:
    """news page -> injected gate -> EK landing -> Flash exploit -> encrypted payload."""
    ep, rng, facts = inf.ep, inf.rng, ctx.story.facts
    facts.malicious(start)
    ip = inf.ip(ctx, start)
    if ip is None:
        return
    browser = ep.ensure_browser(start)
    tab = ep.spawn(start + 50, IEXPLORE, f'"{IEXPLORE}" SCODEF:{browser.pid} CREDAT:79106',
                   browser, "Low")
    page = f"http://{news}/national/{date_of(ctx.plan.day):%Y%m%d}.html"
    gate_url = f"http://{gate}/gate.php?id={rng.randint(10, 99)}"
    landing_url = f"http://{landing}{_ek_path(rng)}"
    swf_url = f"http://{landing}/{alnum(rng, 24)}"
    payload_url = f"http://{landing}/{alnum(rng, 5)}"
    ek_ip = f"203.0.113.{rng.randint(70, 79)}"
    reqs = [
        Req(page, news_ip, rng.randint(30_000, 80_000), "text/html", elapsed=rng.randint(90, 600)),
        Req(f"http://{news}/img/{alnum(rng, 8)}.jpg", news_ip, rng.randint(5_000, 40_000),
            "image/jpeg", referer=page, gap=40, elapsed=rng.randint(20, 200)),
        Req(gate_url, f"203.0.113.{rng.randint(60, 69)}", rng.randint(300, 1_500), "text/html",
            "Netherlands", referer=page, gap=rng.randint(100, 600), elapsed=rng.randint(150, 900)),
        Req(landing_url, ek_ip, rng.randint(40_000, 90_000), "text/html", "Russian Federation",
            referer=gate_url, gap=rng.randint(100, 500), elapsed=rng.randint(300, 1_300)),
        Req(swf_url, ek_ip, rng.randint(30_000, 60_000), "application/x-shockwave-flash",
            "Russian Federation", referer=landing_url, gap=rng.randint(200, 900),
            elapsed=rng.randint(300, 1_300)),
        Req(payload_url, ek_ip, rng.randint(100_000, 500_000), "application/octet-stream",
            "Russian Federation", gap=rng.randint(800, 3_000), elapsed=rng.randint(600, 3_000)),
    ]
    done = web(ctx, inf.host, ip, start + 100, reqs, rng, proc=tab)
    land, swf, pay = reqs[3], reqs[4], reqs[5]
    ids_alert(ctx, land.at + land.elapsed, land.flow, ek_ip, 80, ip, land.sport, 2021100,
              "ET CURRENT_EVENTS Angler EK Landing URI Struct (example)",
              "A Network Trojan was detected", 1)
    ids_alert(ctx, swf.at + swf.elapsed, swf.flow, ek_ip, 80, ip, swf.sport, 2021000,
              "ET CURRENT_EVENTS Angler EK Flash Exploit (example)",
              "A Network Trojan was detected", 1)
    ctx.emit("fw:FG-TOKYO", swf.at + swf.elapsed, {
        "kind": "ips", "severity": "high", "srcip": ek_ip, "dstip": ip, "srcport": 80,
        "dstport": swf.sport, "action": "detected", "service": "HTTP",
        "attack": "Angler.Exploit.Kit", "attackid": 40001, "direction": "incoming",
        "hostname": landing, "url": swf_url.split(landing, 1)[1],
        "msg": "web_client: Angler.Exploit.Kit,"})
    ctx.emit("ids", pay.at + pay.elapsed + 1, {
        "flow_id": pay.flow, "event_type": "fileinfo", "src_ip": ek_ip, "src_port": 80,
        "dest_ip": ip, "dest_port": pay.sport, "app_proto": "http",
        "http": {"hostname": landing, "url": payload_url.split(landing, 1)[1]},
        "fileinfo": {"filename": payload_url.split(landing, 1)[1], "magic": "data",
                     "gaps": False, "state": "CLOSED", "stored": False, "size": pay.size,
                     "tx_id": 0}})
    cache = f"{ep.ie_cache}\\{rng.choice(ep.cache_dirs)}"
    inf.payload_path = f"{cache}\\{alnum(rng, 4)}.tmp"
    inf.payload_parent = tab
    inf.payload_integrity = "Low"
    ep.create_file(done + 150, tab, inf.payload_path, pay.size)
    facts.artifact(swf_url, payload_url, inf.payload_path.rpartition("\\")[2])
