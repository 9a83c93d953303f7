"""fetch.rows: the rows, order and limit of the plain query, read in two steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from case_rows import make_ctx

from ashiato.analysis import fetch
from ashiato.analysis.context import Context
from ashiato.engines import EVENT_ORDER

T0 = datetime(2015, 11, 6, 4, 30, tzinfo=UTC)


def _rows() -> list[dict[str, Any]]:
    # proxy lines of two files; some reach a Tor gateway; equal times across files, so the
    # order needs evidence_id and record to break ties
    out: list[dict[str, Any]] = []
    for ev in ("proxy-b", "proxy-a"):
        for i in range(40):
            dom = "kpai7ycr7jxqkilp.onion.to" if i % 3 == 0 else f"news{i}.example.jp"
            out.append({"evidence_id": ev, "event.dataset": "squid.access",
                        "@timestamp": T0 + timedelta(seconds=i // 2),
                        "source.ip": f"10.31.3.{i % 7 + 10}", "url.domain": dom,
                        "url.original": f"http://{dom}/{i}", "observer.type": "proxy"})  # fmt: skip
    return out


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    return make_ctx(tmp_path_factory.mktemp("fetch"), _rows())


def _plain(ctx: Context, q: Any, limit: int | None) -> list[dict[str, Any]]:
    return ctx.rows(ctx.select(q).order_by(list(EVENT_ORDER)), limit=limit)


@pytest.mark.parametrize("limit", [None, 5, 27, 28, 100])
def test_same_rows_order_and_limit_as_the_plain_query(ctx: Context, limit: int | None) -> None:
    t = ctx.events
    q = t.filter(t["url.domain"].re_search(r"\.onion\.to$"))
    got = fetch.rows(ctx, q, limit=limit)
    assert got == _plain(ctx, q, limit)
    assert len(got) == min(28, limit or 28)  # 14 of each file's 40 lines
    assert all(r["url.domain"].endswith(".onion.to") for r in got)


def test_more_matches_than_the_cap_fall_back(ctx: Context,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(fetch, "MAX_REFS", 10)
    t = ctx.events
    q = t.filter(t["url.domain"].re_search(r"\.onion\.to$"))
    assert fetch.rows(ctx, q) == _plain(ctx, q, None)
    assert fetch.rows(ctx, q, limit=12) == _plain(ctx, q, 12)


def test_computed_columns_and_no_match(ctx: Context) -> None:
    t = ctx.events
    q = t.filter(t["source.ip"] == "10.31.3.10").mutate(_dom=t["url.domain"].upper())
    cols = ["@timestamp", "evidence_id", "record", "_dom"]
    got = fetch.rows(ctx, q, cols)
    assert got == ctx.rows(q.select(cols).order_by(list(EVENT_ORDER)))
    assert {r["_dom"] for r in got} >= {"KPAI7YCR7JXQKILP.ONION.TO"}
    assert fetch.rows(ctx, t.filter(t["source.ip"] == "192.0.2.1")) == []


def test_any_of_is_the_in_filter(tmp_path_factory: pytest.TempPathFactory) -> None:
    rows = _rows()
    rows += [{"evidence_id": "fw", "event.dataset": "fortinet.fortigate", "@timestamp": T0,
              "source.ip": "10.31.3.10", "observer.type": "firewall"},
             {"evidence_id": "mft", "event.dataset": "windows.mft", "@timestamp": T0,
              "file.name": "a.txt"}]  # fmt: skip
    ctx = make_ctx(tmp_path_factory.mktemp("any_of"), rows)
    t = ctx.events

    def refs(q: Any) -> list[tuple[str, int]]:
        return sorted((r["evidence_id"], r["record"]) for r in ctx.rows(q.select(*fetch.REFS)))

    for values in (["squid.access"], ["windows.mft", "fortinet.fortigate", "windows.mft"],
                   ["no.such"], []):  # fmt: skip
        got = refs(fetch.any_of(t, "event.dataset", values))
        assert got == refs(t.filter(t["event.dataset"].isin(values or ["-"])))
    assert len(refs(fetch.any_of(t, "event.dataset", ["squid.access", "windows.mft"]))) == 81


def test_row_wise_queries_are_read_over_their_own_records(ctx: Context) -> None:
    """A query that reads the events row by row (filters, computed columns, a union) is
    read back over just the files and records the narrow query named; one that needs
    other rows to decide (here: domains few clients reach) is filtered as it is."""
    t = ctx.events
    onion = t.filter(t["url.domain"].re_search(r"\.onion\.to$"))
    q = onion.union(t.filter(t["source.ip"] == "10.31.3.11"))
    q = q.mutate(_u=q["url.domain"].upper())
    cols = ["@timestamp", "evidence_id", "record", "url.domain", "_u"]
    found = ctx.rows(q.select(*fetch.REFS))
    assert fetch._over_refs(q, t, found) is not None
    assert fetch.rows(ctx, q, cols) == ctx.rows(q.select(cols).order_by(list(EVENT_ORDER)))

    reach = t.group_by("url.domain").aggregate(n=t["source.ip"].nunique())
    rare = t.filter(t["url.domain"].isin(reach.filter(reach["n"] <= 1)["url.domain"]))
    assert fetch._over_refs(rare, t, ctx.rows(rare.select(*fetch.REFS))) is None
    got = fetch.rows(ctx, rare)
    assert got == _plain(ctx, rare, None) and got


def test_a_repeated_record_number_is_still_judged_by_the_query(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A recovered log may repeat a record number: the references narrow the read, the
    query's own filter still picks the row."""
    rows = [{"evidence_id": "sec", "event.dataset": "windows.security", "record": 7,
             "@timestamp": T0 + timedelta(seconds=i), "event.code": code}
            for i, code in enumerate(("4624", "1102", "4624"))]  # fmt: skip
    ctx = make_ctx(tmp_path_factory.mktemp("repeat"), rows)
    t = ctx.events
    got = fetch.rows(ctx, t.filter(t["event.code"] == "1102"))
    assert [(r["record"], r["event.code"]) for r in got] == [(7, "1102")]


def test_rows_of_hundreds_of_files(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A folder of a few hundred small logs (the public EVTX samples: ~300): the read
    over references gives way to one query past MAX_FILES, and unions are written
    pairwise (a chain of 300 made the SQL writer recurse past Python's limit)."""
    rows = [{"evidence_id": f"f{i:03d}", "event.dataset": "windows.security", "record": r,
             "@timestamp": T0 + timedelta(seconds=r), "event.code": ("4624", "5145")[r % 2]}
            for i in range(300) for r in range(3)]  # fmt: skip
    ctx = make_ctx(tmp_path_factory.mktemp("many"), rows)
    t = ctx.events
    q = t.filter(t["event.code"] == "5145")
    found = ctx.rows(q.select(*fetch.REFS))
    assert len({r["evidence_id"] for r in found}) == 300 > fetch.MAX_FILES
    assert fetch._over_refs(q, t, found) is None
    assert fetch.rows(ctx, q) == _plain(ctx, q, None) and len(found) == 300
    few = [r for r in found if r["evidence_id"] < "f010"]
    assert fetch._over_refs(q, t, few) is not None
    deep = fetch.union_all([t.filter(t["evidence_id"] == f"f{i:03d}") for i in range(300)])
    assert ctx.rows(deep.aggregate(n=deep.count()))[0]["n"] == 900
