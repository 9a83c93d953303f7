"""ashiato's own rules, each with events it must match and look-alikes it must not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from detect_events import T0, sysmon

from ashiato.detect import sigma
from ashiato.detect.hunt import bundled_rules


def titles(events_of: Any, rows: list[dict[str, Any]]) -> list[str]:
    rules, problems = sigma.load([bundled_rules()])
    assert not problems
    res = sigma.hunt(events_of(rows), rules, "low")
    assert not res.problems, res.problems
    return sorted(d.rule.title for d in res.detections)


def proxy(second: int, url: str, mime: str, ip: str = "10.0.0.5") -> dict[str, Any]:
    dom = url.split("/")[2]
    return {
        "@timestamp": T0 + timedelta(seconds=second),
        "event.dataset": "squid.access",
        "observer.type": "proxy",
        "source.ip": ip,
        "url.original": url,
        "url.domain": dom,
        "url.path": "/" + url.split("/", 3)[-1],
        "http.response.mime_type": mime,
    }


def fw(second: int, src: str, dst: str, port: int, action: str = "accept") -> dict[str, Any]:
    return {
        "@timestamp": T0 + timedelta(seconds=second),
        "event.dataset": "fortinet.fortigate",
        "observer.type": "firewall",
        "source.ip": src,
        "destination.ip": dst,
        "destination.port": port,
        "event.action": action,
    }


def proc(
    cmd: str,
    image: str = "C:\\Windows\\System32\\cmd.exe",
    parent: str = "C:\\Windows\\explorer.exe",
) -> dict[str, Any]:
    return sysmon(1, 1, Image=image, CommandLine=cmd, ParentImage=parent)


POSITIVE = [
    ("Ransom Note Written", [sysmon(11, 1, TargetFilename="D:\\share\\HELP_DECRYPT.HTML")]),
    (
        "Ransom Note Written",
        [
            {
                "event.dataset": "windows.mft",
                "file.path": "C:\\Users\\a\\_Locky_recover_instructions.txt",
            }
        ],
    ),
    ("File With a Ransomware Extension", [sysmon(11, 1, TargetFilename="D:\\s\\a.docx.locky")]),
    ("Shadow Copy or Backup Deletion", [proc("vssadmin.exe Delete Shadows /All /Quiet")]),
    ("Shadow Copy or Backup Deletion", [proc("wmic shadowcopy delete")]),
    ("Shadow Copy or Backup Deletion", [proc("bcdedit /set {default} recoveryenabled No")]),
    ("Shadow Copy or Backup Deletion", [proc("wbadmin delete catalog -quiet")]),
    (
        "Script Host Started From Mail Client or Archive",
        [
            proc(
                'wscript.exe "C:\\Users\\a\\AppData\\Local\\Temp\\Temp1_invoice.zip\\invoice.js"',
                image="C:\\Windows\\System32\\wscript.exe",
            )
        ],
    ),
    (
        "Script Host Started From Mail Client or Archive",
        [
            proc(
                "mshta.exe x.hta",
                image="C:\\Windows\\System32\\mshta.exe",
                parent="C:\\Program Files\\Microsoft Office\\OUTLOOK.EXE",
            )
        ],
    ),
    (
        "Program Run From a Browser Cache, Opened Archive or Browser Temp Folder",
        [
            proc(
                "x",
                image="C:\\Users\\a\\AppData\\Local\\Temp\\Low\\abc.exe",
                parent="C:\\Program Files\\Internet Explorer\\iexplore.exe",
            )
        ],
    ),
    (
        "Program Run From a Browser Cache, Opened Archive or Browser Temp Folder",
        [
            proc(
                "x",
                image="C:\\Users\\a\\AppData\\Local\\Temp\\rad1F.tmp",
                parent="C:\\Program Files\\Internet Explorer\\iexplore.exe",
            )
        ],
    ),
    (
        "Tor or Tor2web Site Visited Through the Proxy",
        [proxy(1, "http://paytoc4gtpn5czl2.torexplorer.com/x", "text/html")],
    ),
    ("Tor or Tor2web Name Resolved", [sysmon(22, 1, QueryName="kpai7ycr7jxqkilp.onion.to")]),
    (
        "Security Log Cleared",
        [
            {
                "event.dataset": "windows.security",
                "event.code": "1102",
                "event.provider": "Microsoft-Windows-Eventlog",
            }
        ],
    ),
    (
        "Event Log Cleared",
        [
            {
                "event.dataset": "windows.system",
                "event.code": "104",
                "event.provider": "Microsoft-Windows-Eventlog",
            }
        ],
    ),
    ("Event Log Clearing Command", [proc("wevtutil.exe cl Security")]),
    (
        "Program Named Like a Windows System Process Started Outside the Windows Folder",
        [proc("svchost.exe", image="C:\\Users\\a\\AppData\\Roaming\\svchost.exe")],
    ),
    (
        "Service Started a Program From a Truncated Unquoted Path",
        [
            proc(
                "C:\\Program Files\\Acme Backup\\agent.exe",
                image="C:\\Program Files\\Acme.exe",
                parent="C:\\Windows\\System32\\services.exe",
            )
        ],
    ),
]

NEGATIVE = [
    [
        sysmon(11, 1, TargetFilename="D:\\share\\help.html"),
        sysmon(11, 1, TargetFilename="D:\\readme.txt"),
    ],
    [
        sysmon(11, 1, TargetFilename="D:\\s\\report.docx.bak"),
        sysmon(11, 1, TargetFilename="D:\\s\\~$a.docx.tmp"),
    ],
    [proc("vssadmin list shadows"), proc("wbadmin start backup"), proc("bcdedit /enum")],
    [proc('wscript.exe "\\\\dc\\netlogon\\logon.vbs"', image="C:\\Windows\\System32\\wscript.exe")],
    [
        proc(
            "setup.exe",
            image="C:\\Users\\a\\AppData\\Local\\Temp\\is-1.tmp\\setup.tmp",
            parent="C:\\Users\\a\\Downloads\\setup.exe",
        )
    ],
    [
        proxy(1, "http://onion.example.com/x", "text/html"),
        sysmon(22, 1, QueryName="www.onion.example"),
    ],
    [{"event.dataset": "windows.security", "event.code": "4624"}, proc("wevtutil qe Security")],
    [
        proxy(1, "http://a.example/x.swf", "application/x-shockwave-flash"),
        proxy(30, "http://download.windowsupdate.com/k.cab", "application/octet-stream"),
    ],
    [fw(i, "10.0.0.9", f"198.51.100.{i}", 25, "deny") for i in range(12)],
    # Windows' own processes, services in their folders, ordinary rundll32, attrib and wusa
    [
        proc("svchost.exe -k netsvcs", image="C:\\Windows\\System32\\svchost.exe"),
        proc(
            '"C:\\Program Files\\Acme Backup\\agent.exe"',
            image="C:\\Program Files\\Acme Backup\\agent.exe",
            parent="C:\\Windows\\System32\\services.exe",
        ),
        proc(
            "rundll32.exe shell32.dll,Control_RunDLL desk.cpl",
            image="C:\\Windows\\System32\\rundll32.exe",
        ),
        proc("attrib -h -s desktop.ini", image="C:\\Windows\\System32\\attrib.exe"),
        proc(
            "wusa.exe C:\\Users\\a\\Downloads\\kb5005565.msu /quiet /norestart",
            image="C:\\Windows\\System32\\wusa.exe",
        ),
    ],
    # a per-user COM server installed under AppData (OneDrive, Teams do this)
    [
        sysmon(
            13,
            1,
            EventType="SetValue",
            Image="C:\\Users\\a\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe",
            TargetObject="HKU\\S-1-5-21-1-2-3-1001_Classes\\CLSID\\{01234567-89AB-CDEF-0123-"
            "456789ABCDEF}\\InprocServer32\\(Default)",
            Details="C:\\Users\\a\\AppData\\Local\\Microsoft\\OneDrive\\FileSyncShell64.dll",
        )
    ],
]


@pytest.mark.parametrize(("title", "rows"), POSITIVE)
def test_positive(events_of: Any, title: str, rows: list[dict[str, Any]]) -> None:
    assert title in titles(events_of, rows)


@pytest.mark.parametrize("rows", NEGATIVE)
def test_negative(events_of: Any, rows: list[dict[str, Any]]) -> None:
    assert titles(events_of, rows) == []


def test_mass_encryption(events_of: Any) -> None:
    rows = [sysmon(11, i, TargetFilename=f"D:\\s\\f{i}.xlsx.cerber3") for i in range(25)]
    got = titles(events_of, rows)
    assert "Mass File Encryption (Many Renamed or Ransomware-Extension Files)" in got
    assert titles(events_of, rows[:10]).count("File With a Ransomware Extension") == 10


def test_exploit_kit_chain(events_of: Any) -> None:
    rows = [
        proxy(1, "http://qwe.abc.example/land.php", "text/html"),
        proxy(5, "http://qwe.abc.example/a.swf", "application/x-shockwave-flash"),
        proxy(20, "http://qwe.abc.example/p", "application/octet-stream"),
    ]
    assert "Exploit Kit Chain (Plug-in Content Then Binary Download)" in titles(events_of, rows)
    late = [rows[1], proxy(400, "http://qwe.abc.example/p", "application/octet-stream")]
    assert "Exploit Kit Chain (Plug-in Content Then Binary Download)" not in titles(events_of, late)


def test_smtp_spam(events_of: Any) -> None:
    rows = [fw(i, "10.0.0.9", f"198.51.100.{i}", 25) for i in range(12)]
    assert "SMTP to Many Servers From One Host (Spam Bot, Not a Mail Relay)" in titles(
        events_of, rows
    )
    assert titles(events_of, rows[:5]) == []
