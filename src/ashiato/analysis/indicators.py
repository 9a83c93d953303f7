"""Indicator patterns, written for RE2 (DuckDB and Spark run them inside the engine).

Sources: docs/domain.md sections 1 and 4 (ransom-note names, extensions, Tor gateways,
recovery inhibition, vector paths). Names are matched against basenames.
"""

from __future__ import annotations

import functools
import ipaddress
import re

# CryptoWall/TeslaCrypt/Locky/Cerber/WannaCry-era notes and the common modern ones
RANSOM_NOTE = (
    r"(?i)^("
    r"decrypt_instructions?\.(txt|html?|url)|howdecrypt\.(txt|html?)"
    r"|help_decrypt\.(txt|html?|png|url)|help_your_files\.(txt|html?|png)"
    r"|help_decrypt_your_files\.(txt|html?)|help_restore_files(_[a-z0-9]+)?\.(txt|html?|bmp)"
    r"|help_to_(save|decrypt_your)_files\.(txt|bmp)|recovery_(file|key)\.txt"
    r"|(restore_files_|howto_restore_files)[^\\/]*\.(txt|html?)"
    r"|\+-xxx-help-xxx-\+[^\\/]*\.(png|txt|html?)|help_recover_instructions\+[^\\/]*\.(txt|html?|png)"
    r"|_?how_recover[^\\/]*\.(txt|html?)|_locky_recover_instructions\.txt"
    r"|_help_instructions\.(html?|bmp|txt)|[^\\/]*_howdo_text\.(html?|bmp)"
    r"|help_recover_files_\.html|# (decrypt my files|help decrypt) #\.(txt|html?|vbs|url)"
    r"|de_crypt_readme\.(html?|txt|bmp)|!decrypt-all-files[^\\/]*\.(txt|bmp)"
    r"|your_files_are_encrypted\.html?|@please_read_me@\.txt|!please read me!\.txt"
    r"|restore-my-files\.txt|conti_readme\.txt|r3adm3\.txt|decrypt-files\.txt"
    r"|akira_readme\.txt|!!!read_me_medusa!!!\.txt|[a-z0-9]{9}\.readme\.txt"
    r"|!_karakurt_read_me_!\.txt|!_\^_readme_notes_ragnar_\^_!\.txt"
    r"|(diablo6|ykcol|asasin)-[^\\/]+\.htm|desktoposiris\.htm|readme\.hta"
    r")$"
)

# extensions ransomware appends (kept names: report.xlsx.locky)
RANSOM_EXTENSION = (
    r"(?i)\.(ecc|exx|ezz|xyz|zzz|aaa|abc|ccc|vvv|micro|ttt|xxx|locky|zepto|odin|thor|aesir"
    r"|zzzzz|osiris|loptr|diablo6|ykcol|asasin|cerber[23]?|wncry|wncryt|wcry|lockbit|conti"
    r"|akira|medusa|encrypted|crypted|crypt|enc)$"
)

# CryptoWall 4 / Cerber style whole-name randomisation: only meaningful in bulk
RANDOM_NAME = r"(?i)^[a-z0-9]{6,12}\.[a-z0-9]{3,9}$"

# extensions users really keep on a file server; a burst of anything else is suspect
COMMON_EXTENSIONS = frozenset(
    "doc docx xls xlsx xlsm ppt pptx pdf txt csv rtf jpg jpeg png gif bmp tif tiff zip lzh "
    "7z rar msg eml pst vsd vsdx mpp dwg dxf html htm xml json log ini bak tmp old mp4 mov "
    "wav mp3 odt ods odp one accdb mdb sql py js css java c h cs ps1 bat cmd exe dll lnk "
    "url ai psd indd eps svg jtd jtdc".split()
)

TOR_GATEWAY = (
    r"(?i)(\.onion(\.(to|city|cab|link|direct|ink|it|lt|lu|nu|pet|plus|rip|sh|top|ca|casa"
    r"|dog|glass|gq))?|\.tor2web\.(org|com|fi|io|xyz|blutmagie\.de|ae\.org)|\.t2w\.pw"
    r"|\.torlink\.co|\.hiddenservice\.net|\.s[1-5]\.tor-gateways\.de|torexplorer\.com)$"
)

# public-IP lookups malware makes before talking to its C2
IP_LOOKUP = (
    r"(?i)^(www\.)?(ip-addr\.es|myexternalip\.com|ipinfo\.io|icanhazip\.com|api\.ipify\.org"
    r"|checkip\.dyndns\.org|wtfismyip\.com|ifconfig\.me|ip\.anysrc\.net|l2\.io|whatismyipaddress\.com"
    r"|(my|check|whatismy|get)ip(addr)?\.[a-z.]+)$"
)

MALICIOUS_SIGNATURE = (
    r"(?i)(ransom|crypt[o]?wall|cryptolocker|teslacrypt|locky|cerber|wannacry|check-?in"
    r"|trojan|exploit.?kit|\bek\b|angler|nuclear|neutrino|magnitude|rig ek|malware|cnc|c2)"
)
EXPLOIT_SIGNATURE = (
    r"(?i)(exploit|\bek\b|angler|nuclear|neutrino|magnitude|\brig\b|flash|silverlight|java"
    r"|cve-\d{4}-\d+|web_client|client-side)"
)
RANSOM_DETECTION = (
    r"(?i)(ransom|crypwall|cryptowall|crypt|filecoder|locker|teslacrypt|tescrypt|locky"
    r"|cerber|wannacry|wcry)"
)
# AV detections that are not infections: test files, and unwanted-but-not-malicious software
AV_TEST_FILE = r"(?i)eicar"
AV_UNWANTED = r"(?i)(adware|\badw_|\bpua\b|\bpup\b|grayware|hacktool|\bhktl_)"
# credential dumpers and attack frameworks: a person brought them, even when quarantined
AV_HACKTOOL = (
    r"(?i)(hacktool|\bhktl_|mimikatz|mimidump|lazagne|cobalt.?strike|meterpreter|metasploit"
    r"|bloodhound|sharphound|rubeus|kekeo|impacket)"
)

INHIBIT_RECOVERY = (
    r"(?i)(vssadmin(\.exe)?[\"\s]+delete\s+shadows|wmic(\.exe)?[\"\s]+.*shadowcopy\s+delete"
    r"|wbadmin(\.exe)?[\"\s]+delete\s+(catalog|systemstatebackup|backup)"
    r"|bcdedit(\.exe)?[\"\s]+/set\s+.*(recoveryenabled\s+no|bootstatuspolicy\s+ignoreallfailures))"
)
LOG_TAMPER = r"(?i)(wevtutil(\.exe)?[\"\s]+(cl|clear-log)\s|clear-eventlog|remove-eventlog)"

SCRIPT_HOST = r"(?i)\\(wscript|cscript|mshta|powershell|cmd)\.exe$"
MAIL_CLIENT = r"(?i)\\(outlook|thunderbird|winmail|msimn)\.exe$"
BROWSER = r"(?i)\\(iexplore|chrome|firefox|msedge|microsoftedge|opera)\.exe$"
PLUGIN_HOST = r"(?i)\\(flashplayer[^\\]*|flashutil[^\\]*|java|javaw|agcp|sllauncher)\.exe$"
MAIL_OPEN_PATH = r"(?i)\\(temp1_[^\\]+\.zip|content\.outlook\\[a-z0-9]{8})\\"
BROWSER_CACHE_PATH = (
    r"(?i)\\(temporary internet files\\content\.ie5|inetcache\\ie|appdata\\local\\temp\\low)\\"
)
TEMP_PATH = r"(?i)\\(appdata\\local\\temp|appdata\\roaming|temp)\\"
DANGEROUS_ATTACHMENT = (
    r"(?i)\.(zip|rar|7z|js|jse|wsf|wsh|vbs|vbe|hta|scr|pif|com|exe|jar|docm|xlsm|doc|xls|lnk)"
    r"(\s*[,;]|$)"
)
EXPLOIT_MIME = (
    r"(?i)^application/(x-shockwave-flash|x-silverlight-app|x-silverlight-2|java-archive"
    r"|x-java-archive)"
)
PAYLOAD_MIME = r"(?i)^application/(octet-stream|x-msdownload|x-dosexec|x-msdos-program)"

_PRIVATE = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
]


# the three below are asked for every address of every row an analysis reads (tens of
# thousands of times per case): parsing each address once keeps that out of the profile
@functools.lru_cache(maxsize=65536)
def is_internal(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in _PRIVATE)


# addresses that are never a machine someone could be sitting at: the host talking to
# itself (loopback: Postfix's content filter re-injects every message from 127.0.0.1),
# self-assigned link-local, multicast, broadcast and "this network"
_NEVER_HOST = [
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "169.254.0.0/16",
        "224.0.0.0/4",
        "0.0.0.0/8",
        "255.255.255.255/32",
        "::1/128",
        "::/128",
        "fe80::/10",
        "ff00::/8",
    )
]
# ports a mail server hands messages to its own content filter on, and takes them back
# (amavisd-new 10024/10025/10026, spamd 783, rspamd's proxy 11332, common milter ports):
# whoever sits there is the filter, not a client sending mail (domain.md 8.2)
MAIL_FILTER_PORTS = frozenset((783, 10024, 10025, 10026, 10027, 11332, 8891, 8892, 8893))


@functools.lru_cache(maxsize=65536)
def never_a_host(ip: str | None) -> bool:
    """True for an address that must never be shown, counted or ranked as a host."""
    if not ip:
        return True
    try:
        addr = ipaddress.ip_address(ip.strip().strip("[]"))
    except ValueError:
        return False  # a name, not an address: the caller decides
    mapped = getattr(addr, "ipv4_mapped", None)
    if mapped is not None:
        addr = mapped
    return any(addr.version == net.version and addr in net for net in _NEVER_HOST)


@functools.lru_cache(maxsize=65536)
def is_client(ip: str | None) -> bool:
    """An internal address that can stand for a machine (not loopback, link-local, ...)."""
    return is_internal(ip) and not never_a_host(ip)


def py(pattern: str) -> re.Pattern[str]:
    """The same RE2 pattern for Python-side checks (RE2 syntax here is Python-compatible)."""
    return re.compile(pattern)
