"""The collector held back during a run, and handed back as it was."""

from __future__ import annotations

import gc

import pytest

from ashiato.collector import YOUNG_OBJECTS, few_collections


def test_a_run_freezes_what_is_alive_and_hands_the_collector_back() -> None:
    before = gc.get_threshold()
    with few_collections():
        assert gc.get_threshold()[0] == YOUNG_OBJECTS > before[0]
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_failed_run_hands_it_back_too() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), few_collections():
        raise RuntimeError("a file the run could not read")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
