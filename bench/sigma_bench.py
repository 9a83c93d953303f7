"""Sigma benchmark: ``ashiato ingest`` + ``ashiato hunt`` against Zircolite's method.

    python bench/sigma_bench.py                    # SigmaHQ rules/windows over the EVTX corpus
    python bench/sigma_bench.py --repeat 3 --cold  # medians of 3; also time an empty rule cache
    python bench/sigma_bench.py --events 1000000   # the hunt alone over 1M replicated events

Corpus: every ``*.evtx`` of ``evtx-attack-samples`` and ``deepbluecli`` (../shared/data).
Rules: ``sigmahq/rules/windows``. Goal (issue 14): ashiato ingest + hunt <= 0.5x the
time of Zircolite with the same rules pre-converted, peak RSS <= 300 MB.

Zircolite is not on PyPI, so its method is rebuilt here from its documentation, in a
child process: each EVTX record read by the ``evtx`` package (pyevtx-rs, which Zircolite
uses when evtx_dump is absent) as JSON, flattened to leaf names (``#attributes`` become
``Parent_Name``, e.g. ``Provider_Name``), loaded into one in-memory SQLite table ``logs``
(TEXT columns ``COLLATE NOCASE``, INTEGER for numbers), a Python ``regexp`` function
registered, then one ``SELECT`` per rule, every result fetched. The rules are converted
beforehand by pySigma's SQLite backend (``pysigma-backend-sqlite``, output format
``zircolite``; pip install it to run this bench) without a processing pipeline, as
Zircolite's generic ruleset is; the conversion is not timed ("pre-converted"). Its
optional event filter (by channel/event id) is not applied: with the generic ruleset
the rules name no channel.

ashiato runs as the responder would: ``python -m ashiato ingest`` into a fresh case, then
``python -m ashiato hunt --sigma RULES --min-level informational`` (every rule, as
Zircolite). The compiled rule set is cached by content hash (the counterpart of the
pre-conversion): one untimed hunt fills the cache first; ``--cold`` also times a hunt
with an empty cache. Runs are interleaved; peak RSS is sampled (10 ms) over each
whole process tree, workers included.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CORPUS = ("evtx-attack-samples", "deepbluecli")


# -- measuring a process tree ------------------------------------------------------------


def run_tree(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command: wall and CPU seconds (its waited-for descendants included), peak
    of the summed RSS of the process and its descendants (sampled), stdout."""
    import psutil

    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, text=True, env=env)
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            try:
                root = psutil.Process(proc.pid)
            except psutil.Error:
                return
            while not done.is_set():
                total = 0
                try:
                    procs = [root, *root.children(recursive=True)]
                except psutil.Error:
                    break
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak = max(peak, total)
                done.wait(0.01)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        done.set()
        t.join()
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if code != 0:
        raise SystemExit(f"{' '.join(cmd[:5])} failed ({code}):\n{err[-2000:]}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, peak / 2**20, out)


@dataclass
class Run:
    seconds: float
    cpu: float
    mb: float
    out: str


# -- Zircolite's method --------------------------------------------------------------------


def convert(rules: Path, out: Path) -> tuple[int, int]:
    """Pre-convert the rules with pySigma's SQLite backend (Zircolite format); not timed."""
    try:
        from sigma.backends.sqlite import sqliteBackend
    except ImportError as exc:
        raise SystemExit("pip install pysigma-backend-sqlite (the Zircolite baseline)") from exc
    from sigma.collection import SigmaCollection

    files = sorted(p for p in rules.rglob("*") if p.suffix in (".yml", ".yaml"))
    coll = SigmaCollection.load_ruleset(files, collect_errors=True)
    backend = sqliteBackend(collect_errors=True)
    converted = json.loads(backend.convert(coll, "zircolite"))
    out.write_text(json.dumps(converted), "utf-8")
    return len(converted), len(backend.errors)


def _flatten(node: Any, name: str, out: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "#attributes" and isinstance(value, dict):
                for attr, v in value.items():
                    _flatten(v, f"{name}_{attr}" if name else attr, out)
            elif key == "#text":
                _flatten(value, name, out)
            else:
                _flatten(value, key, out)
    elif isinstance(node, list):
        out[name] = json.dumps(node)
    elif name:
        out[name] = node


def zircolite_child(ruleset: Path, folders: list[Path]) -> None:
    """Parse, flatten, load into SQLite, one SELECT per rule; prints counts and timings."""
    import sqlite3

    import evtx

    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for folder in folders:
        for path in sorted(folder.rglob("*.evtx")):
            try:
                records = evtx.PyEvtxParser(str(path)).records_json()
            except Exception:  # a damaged sample is skipped, as Zircolite does
                continue
            while True:
                try:
                    rec = next(records)
                except StopIteration:
                    break
                except Exception:
                    continue
                flat: dict[str, Any] = {"OriginalLogfile": path.name}
                _flatten(json.loads(rec["data"]), "", flat)
                rows.append(flat)
    # SQLite names are case-insensitive: SourceProcessGuid and SourceProcessGUID are one
    types: dict[str, tuple[str, str]] = {}
    for row in rows:
        for key, value in row.items():
            if key.lower() not in types:
                kind = "INTEGER" if isinstance(value, int) else "TEXT COLLATE NOCASE"
                types[key.lower()] = (key, kind)
    cols = list(types)
    con = sqlite3.connect(":memory:")

    def regexp(pattern: str, value: Any) -> int:
        if value is None:
            return 0
        try:
            return 1 if re.search(pattern, str(value)) else 0
        except re.error:
            return 0

    con.create_function("regexp", 2, regexp, deterministic=True)
    defs = ", ".join(f'"{name}" {kind}' for name, kind in types.values())
    con.execute(f"CREATE TABLE logs (row_id INTEGER PRIMARY KEY, {defs})")
    marks = ", ".join("?" for _ in cols)
    names = ", ".join(f'"{types[c][0]}"' for c in cols)
    index = {c: i for i, c in enumerate(cols)}

    def values(row: dict[str, Any]) -> list[Any]:
        out: list[Any] = [None] * len(cols)
        for key, value in row.items():
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                value = str(value)  # beyond SQLite's INTEGER (e.g. some u64 handles)
            out[index[key.lower()]] = value
        return out

    con.executemany(f"INSERT INTO logs ({names}) VALUES ({marks})", map(values, rows))
    con.commit()
    t1 = time.perf_counter()
    rules = json.loads(ruleset.read_text("utf-8"))
    hits = failed = matched = 0
    for rule in rules:
        n = 0
        for sql in rule["rule"]:
            try:
                n += len(con.execute(sql).fetchall())
            except sqlite3.Error:
                failed += 1
        hits += n
        matched += n > 0
    t2 = time.perf_counter()
    print(json.dumps({"events": len(rows), "rules": len(rules), "failed": failed,
                      "rules_matched": matched, "hits": hits,
                      "seconds_load": t1 - t0, "seconds_match": t2 - t1}))  # fmt: skip


# -- the comparison ------------------------------------------------------------------------


def compare(args: argparse.Namespace) -> None:
    folders = [args.data / c for c in CORPUS if (args.data / c).is_dir()]
    if not folders or not args.rules.is_dir():
        raise SystemExit(f"need {args.rules} and {', '.join(CORPUS)} under {args.data}")
    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="ashiato-sigma-bench-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "ASHIATO_CACHE_DIR": str(work / "cache")}
    try:
        ruleset = work / "zircolite.json"
        t = time.perf_counter()
        n_conv, n_err = convert(args.rules, ruleset)
        print(f"pre-converted {n_conv} rules ({n_err} unsupported by the SQLite backend) "
              f"in {time.perf_counter() - t:.1f}s (not timed)")  # fmt: skip
        ingest = [py, "-m", "ashiato", "ingest", "--json"]
        hunt = [py, "-m", "ashiato", "hunt", "--sigma", str(args.rules),
                "--min-level", "informational", "--json"]  # fmt: skip
        zirc = [py, str(Path(__file__).resolve()), "--zircolite-child", str(ruleset),
                *map(str, folders)]  # fmt: skip
        # fill the rule cache (the counterpart of the pre-conversion), untimed
        run_tree([*ingest[:-1], str(work / "warm"), *map(str, folders), "--json"], env)
        run_tree([*hunt[:4], str(work / "warm"), *hunt[4:]], env)
        zs: list[Run] = []
        ingests: list[Run] = []
        hunts: list[Run] = []
        colds: list[Run] = []
        print(f"{os.cpu_count()} CPUs, load {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for i in range(args.repeat):
            zs.append(run_tree(zirc, env))
            case = work / f"case{i}"
            ingests.append(run_tree([*ingest[:-1], str(case), *map(str, folders), "--json"], env))
            hunts.append(run_tree([*hunt[:4], str(case), *hunt[4:]], env))
            if args.cold:
                shutil.rmtree(work / "cache", ignore_errors=True)
                colds.append(run_tree([*hunt[:4], str(case), *hunt[4:]], env))
        z_info = json.loads(zs[-1].out)
        a_info = json.loads(hunts[-1].out)
        print(f"load now {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"Zircolite method: {z_info['events']} events, {z_info['rules']} rules, "
              f"{z_info['rules_matched']} matched, {z_info['hits']} hits, "
              f"{z_info['failed']} queries failed (fields absent from every event)")  # fmt: skip
        matched = sum(1 for r in a_info["rules"] if r["hits"])
        print(f"ashiato: {len(a_info['rules'])} rules ran, {matched} matched, "
              f"{a_info['stored']} hits, {len(a_info['not_run'])} not run")  # fmt: skip
        med = statistics.median
        head = f"(median of {args.repeat})"
        print(f"{head:30}{'wall s':>8}{'CPU s':>8}{'peak RSS':>11}")

        def line(name: str, runs: list[Run], extra: str = "") -> None:
            print(f"{name:30}{med(r.seconds for r in runs):8.2f}{med(r.cpu for r in runs):8.2f}"
                  f"{max(r.mb for r in runs):8.0f} MB{extra}")  # fmt: skip

        line(
            "Zircolite (parse+load+match)",
            zs,
            f"   load {z_info['seconds_load']:.2f}s + match {z_info['seconds_match']:.2f}s",
        )
        line("ashiato ingest", ingests)
        line("ashiato hunt", hunts)
        if colds:
            line("ashiato hunt, empty cache", colds)
        both = [Run(a.seconds + b.seconds, a.cpu + b.cpu, max(a.mb, b.mb), "")
                for a, b in zip(ingests, hunts, strict=True)]  # fmt: skip
        line("ashiato ingest + hunt", both)
        wall = med(r.seconds for r in both) / med(r.seconds for r in zs)
        cpu = med(r.cpu for r in both) / med(r.cpu for r in zs)
        mb = max(r.mb for r in both)
        ok = wall <= 0.5 and mb <= 300
        print(f"ashiato / Zircolite: {wall:.2f}x wall, {cpu:.2f}x CPU, {mb:.0f} MB; "
              f"goal <= 0.5x and <= 300 MB: {'met' if ok else 'NOT met'}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the hunt alone at scale (replicated events, in process) -------------------------------


def parse_samples(folder: Path) -> Any:
    import pyarrow as pa

    from ashiato.formats import evtx
    from ashiato.formats.testing import parse_file

    tables = []
    for path in sorted(folder.rglob("*.evtx")):
        try:
            table, _ = parse_file(evtx.FORMAT, path)
        except Exception as exc:  # a damaged sample must not stop the bench
            print(f"  skipped {path.name}: {exc}", file=sys.stderr)
            continue
        if table.num_rows:
            tables.append(table)
    return pa.concat_tables(tables)


def build_case(root: Path, sample: Any, n: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    from ashiato.case import Case, EventWriter

    case = Case.create_or_open(root, tz="UTC")
    copies = -(-n // sample.num_rows)
    left = n
    for i in range(copies):
        part = sample.slice(0, min(left, sample.num_rows))
        left -= part.num_rows
        ev = pa.array([f"bench{i:04d}"] * part.num_rows, pa.string())
        rec = pa.array(range(1, part.num_rows + 1), pa.int64())
        part = part.set_column(part.schema.get_field_index("evidence_id"), "evidence_id", ev)
        part = part.set_column(part.schema.get_field_index("record"), "record", rec)
        ds = str(pc.min(part.column("event.dataset")).as_py() or "windows")
        writer = EventWriter(case, f"bench{i:04d}", "bench-" + ds.split(".")[0])
        writer.add(part.combine_chunks().to_batches()[0])
        writer.close()


def at_scale(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    import ibis

    from ashiato.case import Case
    from ashiato.detect import sigma

    t = time.perf_counter()
    sample = parse_samples(args.data / CORPUS[0])
    print(f"parsed {sample.num_rows} sample events in {time.perf_counter() - t:.1f}s")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "case"
        build_case(root, sample, args.events)
        case = Case.open(root)
        with case.writer() as con:
            t0 = time.perf_counter()
            rules, _ = sigma.load([args.rules])
            t_load = time.perf_counter() - t0
            events = ibis.duckdb.from_connection(con).table("events")
            t1 = time.perf_counter()
            result = sigma.hunt(events, rules, "informational")
            t_hunt = time.perf_counter() - t1
        st = result.stats
        print(f"rules: {len(rules)} loaded in {t_load:.1f}s, {len(result.rules)} ran")
        print(f"hunt: {t_hunt:.1f}s (prepare {st.seconds_prepare:.1f}s, match "
              f"{st.seconds_match:.1f}s in {st.queries} queries), "
              f"{len(result.detections)} detections")  # fmt: skip
        total = t_load + t_hunt
        print(f"TOTAL {total:.1f}s = {args.events / total:,.0f} events/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rules", type=Path, default=SHARED / "sigmahq" / "rules" / "windows")
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cold", action="store_true", help="also time a hunt with an empty cache")
    ap.add_argument("--events", type=int, default=0, help="hunt alone over N replicated events")
    ap.add_argument("--zircolite-child", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.zircolite_child:
        zircolite_child(args.zircolite_child[0], args.zircolite_child[1:])
    elif args.events:
        at_scale(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
