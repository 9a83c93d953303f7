"""Compiled rule sets cached by content: same answers, no pySigma on a hit, rebuilt on change."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from detect_events import sysmon

from ashiato.detect import sigma
from ashiato.detect.hunt import bundled_rules
from ashiato.detect.sigma import cache

RULE = """title: Marker Tool
id: 7d1f3f0e-1c2a-4e55-9a61-2b8f4c6d9e01
status: test
level: high
logsource: {product: windows, category: process_creation}
detection:
  selection: {Image|endswith: '\\\\%s.exe'}
  condition: selection
"""
ROWS = [
    sysmon(1, 1, Image="C:\\x\\markertool.exe", CommandLine="markertool -a"),
    sysmon(1, 2, Image="C:\\x\\othertool.exe", CommandLine="othertool -a"),
]


def test_round_trip_is_the_same_program() -> None:
    rules, _ = sigma.load([bundled_rules()])
    program = sigma.compile_rules(rules)
    assert program.correlations, "the bundled rules have correlations: they must round-trip"
    again = cache.decode(cache.encode(program))
    assert again == program


def test_second_run_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    events_of: Any) -> None:  # fmt: skip
    rule = tmp_path / "rules" / "marker.yml"
    rule.parent.mkdir()
    rule.write_text(RULE % "markertool", "utf-8")
    first = sigma.compiled([rule.parent])
    assert list((Path(cache.folder())).glob("*.json"))

    def no_parsing(*_a: Any) -> Any:
        raise AssertionError("pySigma parsing on a cache hit")

    monkeypatch.setattr(sigma, "load", no_parsing)
    second = sigma.compiled([rule.parent])
    assert second == first
    hits = sigma.execute(events_of(ROWS), second, "low").detections
    assert [h.event["record"] for h in hits] == [1]
    # an edited rule is compiled afresh (and pySigma is called again)
    rule.write_text(RULE % "othertool", "utf-8")
    with pytest.raises(AssertionError, match="pySigma parsing"):
        sigma.compiled([rule.parent])


def test_a_damaged_cache_file_means_compiling_again(tmp_path: Path) -> None:
    rule = tmp_path / "marker.yml"
    rule.write_text(RULE % "markertool", "utf-8")
    key = cache.fingerprint([rule], False)
    cache.folder().mkdir(parents=True, exist_ok=True)
    (cache.folder() / f"{key}.json").write_bytes(b'{"format": 1, "jobs": [[')
    program = sigma.compiled([rule])
    assert [i.title for i in program.infos] == ["Marker Tool"]
    assert cache.get(key) == program  # and the good one replaced it


def test_cached_hunt_does_not_import_pysigma(tmp_path: Path) -> None:
    """The point of the cache: a hunt whose rules are cached never loads pySigma/Ibis."""
    import subprocess

    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from ashiato.detect import sigma\n"
        f"sigma.compiled([Path({str(bundled_rules())!r})])\n"
        "print(sorted(m for m in ('sigma', 'yaml', 'ibis') if m in sys.modules))\n"
    )
    env = {"ASHIATO_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(Path(sigma.__file__).parents[3])}
    run = [sys.executable, "-c", code]
    first = subprocess.run(run, capture_output=True, text=True, env=env, check=True)
    assert "sigma" in first.stdout  # compiling needs pySigma
    second = subprocess.run(run, capture_output=True, text=True, env=env, check=True)
    assert second.stdout.strip() == "[]", second.stderr
