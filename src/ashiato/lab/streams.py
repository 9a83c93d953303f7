"""Every evidence file the run streams to, with its format, zone and device quirks.

This is the one table of "what the responders received": file paths, encodings, which
devices are skewed or log without an offset, where a line gets garbled, and which
endpoint log was tampered with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ashiato.lab.ids import rng_for
from ashiato.lab.sink import StreamSpec
from ashiato.lab.story import Story
from ashiato.lab.world import DOMAIN, SITES
from ashiato.lab.writers import (
    dhcp,
    evtcsv,
    fortigate,
    mailgw,
    postfix,
    squid,
    suricata,
    trendmicro,
)
from ashiato.lab.writers.winevt import (
    SYSMON_CHANNEL,
    jsonl_renderer,
    nxlog_renderer,
    xml_renderer,
)

CRLF = "\r\n"
_EARLIEST = -(1 << 62)


@dataclass(frozen=True, slots=True)
class Firewall:
    name: str
    tz_field: bool  # newer firmware writes tz="+0900" and eventtime
    skew_s: int  # device clock minus true time


# Branch boxes without NTP drift; FG-OSAKA is the one domain.md's analyst catches out.
FIREWALLS = {
    "FG-TOKYO": Firewall("FG-TOKYO", True, 0),
    "FG-OSAKA": Firewall("FG-OSAKA", False, 200),
    "FG-NAGOYA": Firewall("FG-NAGOYA", True, 0),
    "FG-FUKUOKA": Firewall("FG-FUKUOKA", False, 0),
    "FG-SAPPORO": Firewall("FG-SAPPORO", False, -47),
}


def build(story: Story, seed: int, missing: set[str]) -> list[StreamSpec]:
    g = rng_for(seed, "garble-positions")
    # some seeds get a Japanese DHCP server: localised preamble and descriptions, CP932
    ja = rng_for(seed, "dhcp-locale").random() < 0.5
    specs = [
        StreamSpec("dhcp", "dhcp", "evidence/dhcp/DhcpSrvLog-Mon.log",
                   dhcp.render_ja if ja else dhcp.render, "windows-dhcp", "DC01", "Asia/Tokyo",
                   False, encoding="cp932" if ja else "utf-8", newline=CRLF,
                   header=dhcp.PREAMBLE_JA if ja else dhcp.PREAMBLE, path_for=dhcp.path_for),
        StreamSpec("proxy", "proxy", "evidence/proxy/access.log", squid.render, "squid",
                   "PROXY01", "UTC", True,
                   garble_at=(g.randint(400, 2_500), g.randint(2_600, 6_000))),
        StreamSpec("ids", "ids", "evidence/ids/eve.json", suricata.render, "suricata-eve",
                   "IDS01", "Asia/Tokyo", True),
        StreamSpec("maillog", "mail", "evidence/mail/maillog", postfix.render, "postfix",
                   "mx01", "Asia/Tokyo", False),
        StreamSpec("mailgw", "mail", "evidence/mail/gateway.csv", mailgw.render, "mailgw-csv",
                   "mx01", "Asia/Tokyo", False, encoding="cp932", newline=CRLF,
                   header=(mailgw.HEADER,)),
        StreamSpec("av", "av", "evidence/av/virus_log.csv", trendmicro.render,
                   "trendmicro-csv", "OSCE01", "Asia/Tokyo", False, encoding="cp932",
                   newline=CRLF, header=(trendmicro.HEADER,)),
        StreamSpec("fs01", "fileserver-audit", "evidence/fileserver-audit/FS01_Security.xml",
                   xml_renderer("Security", f"FS01.{DOMAIN}"), "wevtutil-xml", "fs01", "UTC",
                   True, newline=CRLF),
        # shipped by NXLog through Logstash: local EventTime, receipt @timestamp in UTC
        StreamSpec("dc01", "dc", "evidence/dc/DC01_Security.json",
                   nxlog_renderer("Security", f"DC01.{DOMAIN}", f"siem01.{DOMAIN}"),
                   "nxlog-json", "dc01", "Asia/Tokyo", False),
    ]
    for site in SITES:
        fw = FIREWALLS[site.firewall]
        specs.append(StreamSpec(
            f"fw:{fw.name}", "firewall", f"evidence/firewall/{fw.name}.log", fortigate.render,
            "fortigate", fw.name, "Asia/Tokyo", fw.tz_field, skew_ms=fw.skew_s * 1000,
            garble_at=(g.randint(60, 300),) if fw.name == "FG-OSAKA" else ()))
    for host in story.collected:
        base = f"evidence/endpoint/{host.short}"
        tampered = story.pz is host and story.clear_at is not None
        sec_lost = ((_EARLIEST, story.clear_at),) if tampered and story.clear_at else ()
        sys_lost = (story.sysmon_lost,) if tampered and story.sysmon_lost else ()
        silent = story.clear_at if tampered else None
        computer = host.fqdn
        if story.csv_security == host.short:
            specs.append(StreamSpec(
                f"ep:{host.short}:security", "endpoint", f"{base}/Security.csv", evtcsv.render,
                "evtviewer-csv-ja", host.short, "Asia/Tokyo", False, bom=True, newline=CRLF,
                header=(evtcsv.HEADER,), newest_first=True))
        else:
            specs.append(StreamSpec(
                f"ep:{host.short}:security", "endpoint", f"{base}/Security.jsonl",
                jsonl_renderer("Security", computer), "evtx-jsonl", host.short, "UTC", True,
                lost=sec_lost, silent_after=silent))
        if story.variant == "full":  # the default-logging variant has no Sysmon anywhere
            specs.append(StreamSpec(
                f"ep:{host.short}:sysmon", "endpoint", f"{base}/Sysmon.jsonl",
                jsonl_renderer(SYSMON_CHANNEL, computer), "evtx-jsonl", host.short, "UTC",
                True, lost=sys_lost, silent_after=silent))
    specs += story.extra_streams
    # A cleared log keeps numbering its records, but what came before the clearing is gone.
    specs = [dataclasses.replace(s, lost=(*s.lost, (_EARLIEST, story.lost[s.key])))
             if s.key in story.lost else s for s in specs]
    return [s for s in specs if s.source not in missing]
