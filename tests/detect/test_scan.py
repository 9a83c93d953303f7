"""The scan inside investigate: bundled rules always, plus --sigma and $ASHIATO_SIGMA."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from detect_events import sysmon

from ashiato.detect import scan
from ashiato.detect.hunt import bundled_rules
from ashiato.errors import QueryError

RULE = """title: Test Marker Tool
id: 0f3c8a52-5a36-4b8e-9d0e-3c1b7f1e2a11
status: test
level: high
tags: [attack.execution, attack.t1204.002]
logsource: {product: windows, category: process_creation}
detection:
  selection: {Image|endswith: '\\\\markertool.exe'}
  condition: selection
"""


def test_bundled_then_flags_then_env_without_repeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    monkeypatch.setenv(scan.ENV, os.pathsep.join([str(b), str(a)]))
    assert scan.rule_paths([a]) == [bundled_rules(), a, b]


def test_a_missing_rule_folder_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(scan.ENV, raising=False)
    with pytest.raises(QueryError, match="no-such-rules"):
        scan.rule_paths([Path("no-such-rules")])


def test_user_rules_run_with_the_bundled_ones(
    tmp_path: Path, events_of: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mine.yml").write_text(RULE, "utf-8")
    monkeypatch.setenv(scan.ENV, str(tmp_path))
    events = events_of([
        sysmon(1, Image=r"C:\Users\a\markertool.exe", CommandLine="markertool.exe -x"),
        sysmon(1, 2, Image=r"C:\Windows\System32\vssadmin.exe",
               CommandLine="vssadmin.exe delete shadows /all /quiet"),
    ])  # fmt: skip
    result = scan.scan(events)
    titles = {d.rule.title for d in result.detections}
    assert "Test Marker Tool" in titles  # the user's rule
    assert len(titles) >= 2  # and a bundled shadow-copy rule on the second event
    monkeypatch.delenv(scan.ENV)
    assert "Test Marker Tool" not in {d.rule.title for d in scan.scan(events).detections}
