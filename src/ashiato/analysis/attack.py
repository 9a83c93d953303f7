"""MITRE ATT&CK names for the technique ids rules tag (``attack.t1070.001``).

Only the techniques a ransomware or intrusion case meets; an unknown id keeps the id
and the incident takes the rule's title as its name.
"""

from __future__ import annotations

import re

NAMES = {
    "T1003": "OS Credential Dumping",
    "T1003.001": "LSASS Memory",
    "T1003.002": "Security Account Manager",
    "T1003.003": "NTDS",
    "T1003.006": "DCSync",
    "T1021": "Remote Services",
    "T1021.001": "Remote Desktop Protocol",
    "T1021.002": "SMB/Windows Admin Shares",
    "T1021.003": "Distributed Component Object Model",
    "T1021.006": "Windows Remote Management",
    "T1027": "Obfuscated Files or Information",
    "T1036": "Masquerading",
    "T1047": "Windows Management Instrumentation",
    "T1053": "Scheduled Task/Job",
    "T1053.005": "Scheduled Task",
    "T1055": "Process Injection",
    "T1059": "Command and Scripting Interpreter",
    "T1059.001": "PowerShell",
    "T1059.003": "Windows Command Shell",
    "T1059.005": "Visual Basic",
    "T1059.007": "JavaScript",
    "T1070": "Indicator Removal",
    "T1070.001": "Clear Windows Event Logs",
    "T1071": "Application Layer Protocol",
    "T1078": "Valid Accounts",
    "T1105": "Ingress Tool Transfer",
    "T1110": "Brute Force",
    "T1110.001": "Password Guessing",
    "T1110.003": "Password Spraying",
    "T1112": "Modify Registry",
    "T1133": "External Remote Services",
    "T1136": "Create Account",
    "T1140": "Deobfuscate/Decode Files or Information",
    "T1189": "Drive-by Compromise",
    "T1204": "User Execution",
    "T1204.002": "Malicious File",
    "T1218": "System Binary Proxy Execution",
    "T1218.005": "Mshta",
    "T1218.010": "Regsvr32",
    "T1218.011": "Rundll32",
    "T1486": "Data Encrypted for Impact",
    "T1489": "Service Stop",
    "T1490": "Inhibit System Recovery",
    "T1498": "Network Denial of Service",
    "T1543.003": "Windows Service",
    "T1548": "Abuse Elevation Control Mechanism",
    "T1550.002": "Pass the Hash",
    "T1558": "Steal or Forge Kerberos Tickets",
    "T1562": "Impair Defenses",
    "T1562.001": "Disable or Modify Tools",
    "T1562.002": "Disable Windows Event Logging",
    "T1563.002": "RDP Hijacking",
    "T1566": "Phishing",
    "T1566.001": "Spearphishing Attachment",
    "T1569.002": "Service Execution",
    "T1570": "Lateral Tool Transfer",
    "T1571": "Non-Standard Port",
    "T1573": "Encrypted Channel",
    "T1583": "Acquire Infrastructure",
}
TACTICS = (
    "initial-access", "execution", "persistence", "privilege-escalation", "defense-evasion",
    "credential-access", "discovery", "lateral-movement", "collection", "command-and-control",
    "exfiltration", "impact",
)  # fmt: skip
_TECH = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.I)


def technique(tags: list[str]) -> str | None:
    """The most specific technique id in the tags (a sub-technique wins)."""
    ids = [m.group(1).upper() for t in tags if (m := _TECH.match(str(t)))]
    ids.sort(key=lambda i: -len(i))
    return ids[0] if ids else None


def tactic(tags: list[str]) -> str | None:
    names = {str(t).lower().removeprefix("attack.").replace("_", "-") for t in tags}
    return next((t for t in TACTICS[::-1] if t in names), None)


def name(tech: str | None) -> str | None:
    if tech is None:
        return None
    return NAMES.get(tech) or NAMES.get(tech.split(".")[0])
