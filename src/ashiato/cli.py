"""Command line: each command parses options, calls one library function, renders.

Exit codes: 0 success; 1 nothing could be read / nothing found where something was
required; 2 a usage or input problem explained on stderr (AshiatoError).
"""

from __future__ import annotations

import functools
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import orjson
import typer

from ashiato.errors import AshiatoError, QueryError
from ashiato.exports import iso, safe_cell, write_csv, write_jsonl
from ashiato.terminal import line, text, visible

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from ashiato.case import Case

app = typer.Typer(
    help="ashiato (足跡): reconstruct a ransomware or malware incident from logs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@functools.cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr)


class _LazyConsole:
    """A Rich console made when first used: a command printing JSON (``ingest --json``)
    never imports Rich (~25 ms)."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr

    def __getattr__(self, name: str) -> Any:
        return getattr(_console(self._stderr), name)


out = cast("Console", _LazyConsole())
err = cast("Console", _LazyConsole(stderr=True))

F = TypeVar("F", bound=Callable[..., Any])


# options shared by the commands that can run on either engine
EngineOption = Annotated[
    str | None, typer.Option(help="duckdb or spark (default: $ASHIATO_ENGINE, else duckdb).")
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option("--spark-master", help="Spark master, e.g. local[*], spark://h:7077, yarn."),
]


def friendly(fn: F) -> F:
    """Print AshiatoError as a one-line message (exit 2) instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AshiatoError as exc:
            err.print(line(("error:", "bold red"), " ", str(exc)))
            raise typer.Exit(2) from exc

    return wrapper  # type: ignore[return-value]


def _dump(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")


# -- ingest --------------------------------------------------------------------------


@app.command()
@friendly
def ingest(
    case: Annotated[Path, typer.Argument(help="Case folder (created if missing).")],
    evidence: Annotated[list[Path], typer.Argument(help="Files, folders or archives.")],
    tz: Annotated[
        str | None, typer.Option(help="Zone for times without offset, e.g. Asia/Tokyo.")
    ] = None,
    tz_for: Annotated[
        list[str] | None,
        typer.Option("--tz-for", help="Per-evidence zone: 'GLOB=ZONE' (repeatable)."),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Force a format (see `ashiato formats`).")
    ] = None,
    year: Annotated[int | None, typer.Option(help="Year for year-less syslog times.")] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="Column mapping (JSON/TOML) for generic CSV/JSON exports."),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="ASHIATO_PASSWORD", help="Password of encrypted zip/7z evidence."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Processes reading files at once (1: this one only; default: "
            "$ASHIATO_INGEST_WORKERS, else one per idle core when there are several files).",
        ),
    ] = None,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
) -> None:
    """Parse evidence into a case: hashed, read-only, nothing lost."""
    import contextlib

    from ashiato import engines, nopandas
    from ashiato.case import Case
    from ashiato.ingest import Options
    from ashiato.ingest import ingest as run

    overrides = []
    for item in tz_for or []:
        if "=" not in item:
            raise QueryError(f"--tz-for needs GLOB=ZONE, got {item!r}")
        pattern, zone = item.rsplit("=", 1)
        overrides.append((pattern, zone))
    on_spark = engines.resolve(engine) == "spark"  # the case may then be a URL (s3://...)
    # ~0.25 s that pyarrow and DuckDB would spend importing pandas (Spark needs it)
    with contextlib.nullcontext() if on_spark else nopandas.hidden():
        # the tables are made by the ingest's writer (the store opened once)
        c = None if on_spark else Case.create_or_open(case, tz=tz, tables=False)
        options = Options(
            tz=tz,
            tz_overrides=overrides,
            force_format=fmt,
            year=year,
            password=password,
            format_options={"mapping": str(mapping)} if mapping else {},
            workers=workers,
        )
        bar = _progress(as_json)
        # the bytes to read size the bar: not counted (every folder walked) for none
        total = 0 if isinstance(bar, _NoBar) else sum(_size(p) for p in evidence)
        with bar:
            task = bar.add_task("ingest", total=total or None)

            def advance(display: str, size: int) -> None:
                name = visible(Path(display).name[-40:], True)
                bar.update(task, advance=size, description=name)

            if c is None:
                from ashiato.engines.spark_ingest import ingest as spark_run

                report = spark_run(case, evidence, options, master=spark_master, progress=advance)
            else:
                report = run(c, evidence, options, progress=advance)
    if as_json:
        _dump(
            {
                "case": str(case),
                "files": [vars(f) for f in report.files],
                "skipped": [vars(s) for s in report.skipped],
                "rows": report.rows,
            }
        )
    else:
        _ingest_table(report)
    if not report.anything_read:
        raise typer.Exit(1)


def _size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and not f.is_symlink())
    return 0


class _NoBar:
    """The progress bar when none is drawn (--json, stderr not a terminal), without
    importing rich.progress (~9 ms) for it."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None) -> Any:
        return 0

    def update(self, task: Any, advance: float = 0, description: str = "") -> None:
        return None


def _progress(quiet: bool) -> Progress | _NoBar:
    if quiet or not err.is_terminal:
        return _NoBar()
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description:40}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=_console(True),  # the console itself, not its stand-in (err)
        transient=True,
    )


def _status(quiet: bool, what: str) -> Any:
    """A spinner on stderr for a long step (nothing when quiet or not a terminal)."""
    import contextlib

    if quiet or not err.is_terminal:
        return contextlib.nullcontext()
    return err.status(what)


def _ingest_table(report: Any) -> None:
    from rich.table import Table

    table = Table(title="Evidence ingested", show_lines=False)
    for col in (
        "file",
        "format",
        "enc",
        "tz",
        "rows",
        "rejected",
        "first (UTC)",
        "last (UTC)",
        "status",
    ):
        table.add_column(col, overflow="fold")
    for f in report.files:
        style = {"done": "", "duplicate": "dim", "unrecognised": "yellow", "failed": "red"}
        table.add_row(
            text(_short(f.display), one_line=True),
            text(f.format or "-"),
            text(_encoding(f)),
            text(f.tz or "-"),
            f"{f.rows:,}",
            f"{f.rejected:,}",
            iso(f.first)[:19],
            iso(f.last)[:19],
            text(f.status if not f.error else f"{f.status}: {f.error}"),
            style=style.get(f.status, ""),
        )
    for f in report.files:  # a year-less log's year is an assumption the responder must see
        if f.assumption:
            out.print(text(f"assumed {_short(f.display)}: {f.assumption} (override with "
                           "--year YYYY)"), style="yellow", highlight=False)  # fmt: skip
    # what was not read is evidence the case lacks: it belongs in the same table
    for s in report.skipped:
        empty = s.kind == "empty"
        # the file column names it already
        reason = s.reason.removeprefix(f"{s.display}: ").removeprefix("not read: ")
        table.add_row(
            text(_short(s.display), one_line=True), "-", "-", "-", "0", "0", "", "",
            text(f"skipped: {reason}" if empty else f"not read: {reason}"),
            style="dim" if empty else "yellow",
        )  # fmt: skip
    out.print(table)
    done = [f for f in report.files if f.status == "done"]
    not_read = sum(1 for s in report.skipped if s.kind != "empty")
    out.print(
        f"{len(done)} file(s) ingested, {report.rows:,} events, "
        f"{sum(f.rejected for f in report.files):,} rejected records kept in `rejects`"
        + (f", {not_read} file(s) not read (listed above)." if not_read else "."),
        highlight=False,
        markup=False,
    )


def _encoding(f: Any) -> str:
    """The encoding, and how many lines were read in the other of UTF-8/CP932."""
    if not f.encoding:
        return "-"
    redecoded = getattr(f, "redecoded", 0)
    if not redecoded:
        return str(f.encoding)
    other = "utf-8" if "932" in str(f.encoding) else "cp932"
    return f"{f.encoding} (+{redecoded:,} {other} lines)"


def _short(display: str, width: int = 60) -> str:
    return display if len(display) <= width else "…" + display[-(width - 1) :]


# -- formats -------------------------------------------------------------------------


@app.command()
@friendly
def formats(
    explain: Annotated[Path | None, typer.Option(help="Show how this file would be read.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the formats ashiato reads (or explain how one file is read)."""
    from ashiato.formats import registry

    if explain is not None:
        from ashiato.explain import explain_file

        info = explain_file(explain)
        if as_json:
            _dump(info)
        else:
            for key, value in info.items():
                out.print(line((str(key), "bold"), ": ", str(value)))
        return
    from rich.table import Table

    fmts = registry.formats()
    if as_json:
        _dump(
            [
                {
                    "name": f.name,
                    "dataset": f.dataset,
                    "description": f.description,
                    "fields": list(f.fields),
                    "binary": f.binary,
                }
                for f in fmts
            ]
        )
        return
    table = Table(title="Formats")
    for col in ("name", "dataset", "description", "ECS fields filled"):
        table.add_column(col, overflow="fold")
    for f in fmts:
        table.add_row(f.name, f.dataset, f.description, ", ".join(f.fields))
    out.print(table)


# -- timeline, sql, show ---------------------------------------------------------------


@app.command()
@friendly
def timeline(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    host: Annotated[str | None, typer.Option(help="Host name (any case, short or FQDN).")] = None,
    user: Annotated[str | None, typer.Option(help="Account name.")] = None,
    ip: Annotated[str | None, typer.Option(help="Source, destination or host address.")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="ISO time; case zone if naive.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="ISO time; case zone if naive.")] = None,
    search: Annotated[str | None, typer.Option(help="Text anywhere in the event.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset, * allowed.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or jsonl.")] = "table",
    limit: Annotated[int | None, typer.Option(help="At most this many rows.")] = None,
) -> None:
    """Events in time order, filtered."""
    from rich.table import Table

    from ashiato import timeline as tl
    from ashiato.case import Case

    c = Case.open(case)
    filters = tl.Filters(host, user, ip, start, end, search, dataset)
    if fmt not in ("table", "csv", "jsonl"):
        raise QueryError(f"--format must be table, csv or jsonl, not {fmt!r}")
    if fmt == "table" and limit is None:
        limit = 200
    rows = _rows(tl.batches(c, filters, limit))
    if fmt == "csv":
        write_csv(sys.stdout, list(tl.COLUMNS), rows)
    elif fmt == "jsonl":
        write_jsonl(sys.stdout, ({k: v for k, v in r.items() if v is not None} for r in rows))
    else:
        table = Table(show_lines=False)
        for col in ("time (UTC)", "dataset", "host", "user", "from → to", "what", "ref"):
            table.add_column(col, overflow="fold")
        n = 0
        for r in rows:
            n += 1
            table.add_row(
                iso(r["@timestamp"])[:23],
                text(r["event.dataset"]),
                text(r["host.name"] or ""),
                text(r["user.name"] or ""),
                text(_flow(r)),
                text(_what(r)),
                text(f"{r['evidence_id']}:{r['record']}"),
            )
        out.print(table)
        if limit is not None and n >= limit:
            out.print(f"(first {limit} rows; use --limit or --format csv for more)")


def _rows(batches: Iterator[Any]) -> Iterator[dict[str, Any]]:
    for b in batches:
        yield from b.to_pylist()


def _flow(r: dict[str, Any]) -> str:
    src, dst = r.get("source.ip"), r.get("destination.ip")
    if not src and not dst:
        return ""
    dport = r.get("destination.port")
    return f"{src or '?'} → {dst or '?'}{':' + str(dport) if dport else ''}"


def _what(r: dict[str, Any]) -> str:
    parts = [r.get("event.code"), r.get("event.action")]
    for key in ("rule.name", "url.original", "file.path", "process.command_line", "message"):
        if r.get(key):
            parts.append(str(r[key])[:160])
            break
    return " ".join(str(p) for p in parts if p)


@app.command()
@friendly
def sql(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    query: Annotated[str, typer.Argument(help="A read-only SQL query over the case tables.")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv or jsonl.")] = "table",
) -> None:
    """Run read-only SQL over the case (tables: events, evidence, rejects, aliases)."""
    import duckdb
    from rich.table import Table

    from ashiato.case import Case

    c = Case.open(case)
    with c.reader() as con:
        try:
            kinds = {stmt.type for stmt in con.extract_statements(query)}
            if kinds - {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}:
                raise QueryError("only SELECT (and EXPLAIN) queries are allowed on a case")
            cur = con.execute(query)
        except duckdb.Error as exc:
            raise QueryError(f"query refused: {exc}") from exc
        if cur.description is None:
            return
        cols = [d[0] for d in cur.description]
        records = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    if fmt == "csv":
        write_csv(sys.stdout, cols, records)
    elif fmt == "jsonl":
        write_jsonl(sys.stdout, records)
    else:
        table = Table()
        for col in cols:
            table.add_column(text(col), overflow="fold")
        for r in records:
            table.add_row(*(text(safe_cell(r[c])) for c in cols))
        out.print(table)


@app.command()
@friendly
def show(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    ref: Annotated[str, typer.Argument(help="EVIDENCE_ID:RECORD as printed in timelines.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print the stored event and the original record behind a reference."""
    from ashiato.case import Case
    from ashiato.show import show as run

    shown = run(Case.open(case), ref)
    if as_json:
        _dump(vars(shown))
        return
    sha = shown.evidence.get("sha256") or ""
    out.print(
        line(
            ("evidence", "bold"),
            f" {shown.evidence['path']} ({shown.evidence['format']}"
            + (f", sha256 {sha[:16]}…)" if sha else ")"),
        )
    )
    for ev in shown.events:
        for k, v in ev.items():
            out.print(text(f"  {k}: {v}"))
    if shown.note:
        out.print(text(shown.note, style="yellow"))
    if shown.original:
        out.print(line(("original record", "bold")))
        out.print(text(shown.original))


# -- investigate, note, report -------------------------------------------------------


@app.command()
@friendly
def investigate(
    target: Annotated[list[Path], typer.Argument(help="A case folder, or evidence with --case.")],
    case: Annotated[
        Path | None, typer.Option(help="Case folder to ingest EVIDENCE into first.")
    ] = None,
    tz: Annotated[str | None, typer.Option(help="Zone for naive times when ingesting.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print findings.json.")] = False,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
    sigma: Annotated[
        list[Path] | None,
        typer.Option(
            "--sigma",
            help="Your own Sigma rules (file or folder, repeatable), run beside the bundled "
            "ones; also $ASHIATO_SIGMA.",
        ),
    ] = None,
    lang: Annotated[
        str | None, typer.Option(help="ja or en (default: ja when LANG starts with ja).")
    ] = None,
) -> None:
    """Answer the responders' questions; writes findings.json into the case."""
    from ashiato import engines
    from ashiato.analysis.pipeline import investigate as run
    from ashiato.case import Case
    from ashiato.engines import store

    on_spark = engines.resolve(engine) == "spark"
    if case is not None:
        from ashiato.ingest import Options
        from ashiato.ingest import ingest as do_ingest

        if on_spark:
            from ashiato.engines.spark_ingest import ingest as spark_ingest

            report = spark_ingest(case, target, Options(tz=tz), master=spark_master)
        else:
            report = do_ingest(Case.create_or_open(case, tz=tz), target, Options(tz=tz))
        if not report.anything_read:
            raise typer.Exit(1)
        where = store.normalise(case)
    else:
        if len(target) != 1:
            raise QueryError("give one case folder, or evidence paths with --case DIR")
        where = store.normalise(target[0])
    c = store.open_case(where).case if on_spark else Case.open(Path(where))
    with _status(as_json, "investigating: identity, impact, hosts, vectors, coverage…"):
        findings = run(where if on_spark else c, engine, master=spark_master, sigma=sigma or ())
    data = findings.to_dict()
    if as_json:
        _dump(data)
        return
    from ashiato.report.text import LANGS, default_lang

    language = lang or default_lang()
    if language not in LANGS:
        raise QueryError(f"--lang must be ja or en, not {language!r}")
    _print_findings(data, c, language)


def _print_findings(raw: dict[str, Any], c: Case, lang: str = "en") -> None:
    """The summary in ``lang``: sentences by id (docs/i18n.md), times in the case's zone
    with UTC beside them."""
    from rich.table import Table

    from ashiato import i18n
    from ashiato.report.html import when_text
    from ashiato.report.text import vector_type, verdict

    tz = c.tz or "UTC"

    def when(v: Any) -> str:
        return when_text(v, tz)

    f = i18n.localise(raw, lang, when)

    def say(msgid: str, **args: Any) -> str:
        return i18n.gettext(lang, f"term.{msgid}", **args)

    out.rule(f"[bold]{say('title')}[/]")
    out.print(text(f["incident"]["summary"]))
    pz = f["patient_zero"]
    if pz:
        out.print(
            line(
                (say("pz"), "bold"),
                " " + say("pz_line", host=pz["host"], ip=pz["ip"], user=pz["user"],
                          confidence=pz["confidence"], signals=", ".join(pz["signals"])),
            )
        )  # fmt: skip
    table = Table(title=say("hosts"))
    for col in ("host", "verdict", "ips", "first_malicious", "reasons"):
        table.add_column(say(f"col.{col}"), overflow="fold")
    for h in f["hosts"]:
        if h["verdict"] in ("infected", "suspicious"):
            table.add_row(
                text(h["host"]),
                text(verdict(lang, h["verdict"])),
                text(", ".join(h["ips"][:3])),
                text(when(h["first_malicious"]) if h["first_malicious"] else ""),
                text("; ".join(h["reasons"][:3])),
            )
    counts: dict[str, int] = {}
    for h in f["hosts"]:
        counts[h["verdict"]] = counts.get(h["verdict"], 0) + 1
    out.print(table)
    out.print(text(say("verdicts", counts=", ".join(
        f"{verdict(lang, k)} {v}" for k, v in sorted(counts.items())))))  # fmt: skip
    _print_incidents(f)
    for v in f["vectors"]:
        out.print(
            line(
                (say("vector"), "bold"),
                " " + say("vector_line", host=v["host"], type=vector_type(lang, v["type"]),
                          confidence=v["confidence"], artifacts=", ".join(v["artifacts"][:5])),
            )
        )  # fmt: skip
    imp = f["impact"]
    out.print(
        line(
            (say("impact"), "bold"),
            " " + say("impact_line", files=imp["encrypted_files"],
                      csv=c.root / imp["encrypted_files_csv"], notes=imp["ransom_notes"],
                      shares=list(imp["shares"]), c2=imp["c2"], payment=imp["payment_sites"]),
        )
    )  # fmt: skip
    from ashiato.report import intrusion  # not at start-up: babel (~40 ms)

    for ln in intrusion.terminal_lines(f, lang, when):  # issue 16: way in, accounts, theft
        out.print(text(ln))
    for t in f["tampering"]:
        kind = i18n.gettext(lang, f"tampering_kind.{t['kind']}")
        out.print(
            line((say("tampering"), "bold red"),
                 f" {kind} {t['host'] or ''} {when(t['time']) if t['time'] else ''}")
        )  # fmt: skip
    for m in f["coverage"].get("missing", []):
        out.print(line((say("missing"), "yellow"), f" {m['what']} — {m['advice']}"))
    not_read = f["coverage"].get("not_read", [])
    if not_read:
        out.print(line((say("not_read"), "yellow"), " " + say("not_read_line", n=len(not_read))))
    for i, step in enumerate(f["next_steps"], 1):
        out.print(text(f"{i}. {step}"))
    out.print(text(say("findings", path=c.root / "findings.json")))


def _print_incidents(f: dict[str, Any]) -> None:
    """Incidents above low and the lateral moves, one line each (log text as text)."""
    shown = [i for i in f.get("incidents", []) if i["severity"] in ("medium", "high", "critical")]
    if shown:
        from rich.table import Table

        table = Table(title="Incidents")
        for col in ("id", "severity", "technique", "count", "first (UTC)", "hosts", "key value"):
            table.add_column(col, overflow="fold")
        for i in shown[:30]:
            table.add_row(
                text(i["id"]), i["severity"],
                text(f"{i['technique'] or ''} {i['technique_name']}".strip()), str(i["count"]),
                (i["first"] or "")[:19], text(", ".join(i["hosts"][:5])),
                text((i["key_values"][0] if i["key_values"] else "")[:160]),
            )  # fmt: skip
        out.print(table)
    for e in f.get("lateral_movement", [])[:30]:
        out.print(
            line(
                ("Lateral", "bold"),
                f" {e['source']} → {e['target']} ({e['technique']}, "
                f"{e['account'] or 'account unknown'}, {(e['first'] or '')[:19]}): {e['why']}",
            )
        )


@app.command()
@friendly
def note(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    text: Annotated[str, typer.Argument(help="What the analyst learned.")],
    time: Annotated[str | None, typer.Option("--time", help="When it happened (ISO).")] = None,
    host: Annotated[str | None, typer.Option(help="Host it is about.")] = None,
    user: Annotated[str | None, typer.Option(help="User it is about.")] = None,
    tags: Annotated[str | None, typer.Option(help="Comma-separated tags.")] = None,
) -> None:
    """Record an interview finding or setting as an event in the case."""
    from ashiato.case import Case
    from ashiato.notes import NOTES_ID, add_note

    record = add_note(Case.open(case), text, time, host, user, tags)
    out.print(f"note stored as {NOTES_ID}:{record}")


@app.command()
@friendly
def report(
    case: Annotated[Path, typer.Argument(help="Case folder (investigated).")],
    lang: Annotated[
        str | None, typer.Option(help="ja or en (default: ja when LANG starts with ja).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, md or json.")] = "html",
    output: Annotated[Path | None, typer.Option(help="Where to write it ('-' for stdout).")] = None,
    display_tz: Annotated[
        str | None,
        typer.Option(help="Show times in this zone (default: the case's zone), UTC beside."),
    ] = None,
) -> None:
    """Write the report for the case: self-contained HTML, Markdown or JSON."""
    from ashiato.analysis.pipeline import FINDINGS
    from ashiato.analysis.pipeline import investigate as run
    from ashiato.case import Case
    from ashiato.report.html import FORMATS, build, check_zone, write_report
    from ashiato.report.text import LANGS, default_lang

    language = lang or default_lang()
    if language not in LANGS:
        raise QueryError(f"--lang must be ja or en, not {language!r}")
    if fmt not in FORMATS:
        raise QueryError(f"--format must be html, md or json, not {fmt!r}")
    if display_tz:
        check_zone(display_tz)
    c = Case.open(case)
    if not (c.root / FINDINGS).exists():
        run(c)
    if output is not None and str(output) == "-":
        sys.stdout.write(visible(build(c, language, fmt, display_tz)))  # a terminal may read
        return
    path = write_report(c, language, output, fmt, display_tz)
    out.print(text(f"report: {path}"))


# -- lab and demo ----------------------------------------------------------------------

lab_app = typer.Typer(help="Simulated incidents with their ground truth.", no_args_is_help=True)
app.add_typer(lab_app, name="lab")


@lab_app.command("generate")
@friendly
def lab_generate(
    scenario: Annotated[str, typer.Argument(help="Scenario name (see `ashiato lab list`).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")],
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 1,
    scale: Annotated[int, typer.Option(help="Grow hosts and days.")] = 1,
    missing: Annotated[list[str] | None, typer.Option(help="Drop a log source.")] = None,
    no_audit: Annotated[bool, typer.Option("--no-audit", help="File-share auditing off.")] = False,
    variant: Annotated[
        str | None,
        typer.Option(help="Logging variant: full (default) or default-logging (intrusions)."),
    ] = None,
) -> None:
    """Write DIR/evidence/... and DIR/truth.json for a scenario."""
    from ashiato import lab

    if scenario not in lab.SCENARIOS:
        raise QueryError(f"unknown scenario {scenario!r}; known: {', '.join(lab.SCENARIOS)}")
    lab.generate(
        scenario,
        out_dir,
        seed=seed,
        scale=scale,
        missing=missing or (),
        audit=not no_audit,
        variant=variant,
    )
    out.print(text(f"evidence: {out_dir / 'evidence'}  truth: {out_dir / 'truth.json'}"))


@lab_app.command("list")
def lab_list() -> None:
    """List the scenarios and log sources."""
    from ashiato import lab

    out.print("scenarios: " + ", ".join(lab.SCENARIOS))
    for name, variants in lab.VARIANTS.items():
        if len(variants) > 1:
            out.print(f"variants of {name} (--variant): " + ", ".join(variants))
    out.print("sources (for --missing): " + ", ".join(lab.SOURCES))


@app.command()
@friendly
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Working folder.")] = Path("ashiato-demo"),
    scenario: Annotated[str, typer.Option(help="Lab scenario.")] = "fileserver-encryption",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    lang: Annotated[str, typer.Option(help="Report language: ja or en.")] = "en",
) -> None:
    """Simulate an incident, ingest it, investigate it and write the report."""
    from ashiato import lab
    from ashiato.analysis.pipeline import investigate as run
    from ashiato.case import Case
    from ashiato.ingest import Options
    from ashiato.ingest import ingest as do_ingest
    from ashiato.report.html import write_report

    lab_dir = out_dir / "lab"
    case_dir = out_dir / "case"
    # the demo owns its folder: a second run starts afresh rather than failing
    if (lab_dir / "truth.json").exists():
        shutil.rmtree(lab_dir)
    if (case_dir / "manifest.json").exists():
        shutil.rmtree(case_dir)
    out.print(text(f"1/4 simulating '{scenario}' into {lab_dir}"))
    lab.generate(scenario, lab_dir, seed=seed)
    out.print(text(f"2/4 ingesting into {case_dir}"))
    c = Case.create_or_open(case_dir, tz="Asia/Tokyo")
    rep = do_ingest(c, [lab_dir / "evidence"], Options(tz="Asia/Tokyo"))
    _ingest_table(rep)
    out.print("3/4 investigating")
    with _status(False, "investigating…"):
        findings = run(c)
    _print_findings(findings.to_dict(), c)
    path = write_report(c, lang)
    out.print(line("4/4 report: ", (visible(path.resolve()), "bold"),
                   f" (truth: {lab_dir / 'truth.json'})"))  # fmt: skip


# -- hunt (Sigma rules and IOC lists) -------------------------------------------------


@app.command()
@friendly
def hunt(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    sigma: Annotated[
        list[Path] | None,
        typer.Option("--sigma", help="Sigma rule file or folder (repeatable); default: bundled."),
    ] = None,
    ioc: Annotated[
        list[Path] | None,
        typer.Option("--ioc", help="IOC list: STIX 2.1, MISP JSON, CSV or TXT (repeatable)."),
    ] = None,
    min_level: Annotated[
        str, typer.Option("--min-level", help="informational, low, medium, high or critical.")
    ] = "low",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
) -> None:
    """Run Sigma rules and IOC lists; store hits as `ashiato.detection` events."""
    from rich.table import Table

    from ashiato.case import Case
    from ashiato.detect.hunt import hunt as run

    with _status(False, "hunting: compiling and running the rules…"):
        rep = run(Case.open(case), sigma or [], ioc or [], min_level)
    if as_json:
        _dump({"stored": rep.stored, "rules": [vars(r) for r in rep.rules],
               "not_run": [vars(p) for p in rep.problems],
               "ioc_sources": [vars(s) for s in rep.ioc_sources], "stats": rep.stats})  # fmt: skip
        return
    table = Table(title=f"detections stored: {rep.stored}")
    for col in ("rule", "level", "hits", "hosts"):
        table.add_column(col, overflow="fold")
    for r in rep.rules:
        if r.hits:
            hosts = ", ".join(r.hosts[:5]) + (f" (+{len(r.hosts) - 5})" if len(r.hosts) > 5 else "")
            table.add_row(text(r.title), text(r.level), str(r.hits), text(hosts))
    out.print(table)
    quiet = sum(1 for r in rep.rules if not r.hits)
    out.print(f"{len(rep.rules) - quiet} rule(s) matched, {quiet} ran without a match.")
    for s in rep.ioc_sources:
        out.print(text(f"IOC {s.path}: {s.indicators} indicator(s) ({s.format})"))
        for why in s.skipped[:20]:
            out.print(text(f"  skipped: {why}"))
        if len(s.skipped) > 20:
            out.print(f"  ... and {len(s.skipped) - 20} more skipped", highlight=False)
    if rep.problems:
        bad = Table(title=f"rules not run: {len(rep.problems)}")
        for col in ("rule", "file", "reason"):
            bad.add_column(col, overflow="fold")
        for p in rep.problems:
            bad.add_row(
                text(safe_cell(p.title)), text(safe_cell(p.path)), text(safe_cell(p.reason))
            )
        err.print(bad)


# -- serve (local web UI) ---------------------------------------------------------------


@app.command()
@friendly
def serve(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="ASHIATO_TOKEN",
            help="Token every request must carry; required (generated if absent) "
            "when binding to a non-loopback address.",
        ),
    ] = None,
) -> None:
    """Serve the case in a local web UI: dashboard, timeline, hosts, raw records, notes."""
    import secrets

    from ashiato.case import Case

    try:
        import uvicorn

        from ashiato.web.app import LOOPBACK_NAMES, create_app, is_loopback
    except ImportError as exc:
        raise QueryError(
            f"the web UI needs its extra ({exc.name} is missing): "
            "python3 -m pip install 'ashiato[web]'"
        ) from exc
    c = Case.open(case)
    loopback = is_loopback(host)
    if not loopback and not token:
        token = secrets.token_urlsafe(24)
    # on loopback only loopback Host headers are answered (DNS rebinding); elsewhere the
    # token guards every request
    allowed = (*LOOPBACK_NAMES, host.lower()) if loopback else None
    application = create_app(c, token=token, allowed_hosts=allowed)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    out.print(text(f"serving {c.root} at {url}  (Ctrl-C to stop)"))
    uvicorn.run(application, host=host, port=port, log_level="warning")


# -- export (timeline, encrypted files, IOCs) ---------------------------------------------


@app.command(
    help="Export the timeline (Timesketch CSV/JSONL), the encrypted-file "
    "list or the IOCs found (CSV/JSONL/STIX 2.1)."
)
@friendly
def export(
    case: Annotated[Path, typer.Argument(help="Case folder (investigated).")],
    what: Annotated[str, typer.Option(help="timeline, encrypted or iocs.")] = "timeline",
    fmt: Annotated[str, typer.Option("--format", help="csv, jsonl or stix (iocs).")] = "csv",
    output: Annotated[Path | None, typer.Option(help="File to write; stdout if absent.")] = None,
    host: Annotated[str | None, typer.Option(help="timeline: host name.")] = None,
    user: Annotated[str | None, typer.Option(help="timeline: account name.")] = None,
    ip: Annotated[str | None, typer.Option(help="timeline: address.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="timeline: ISO time.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="timeline: ISO time.")] = None,
    search: Annotated[str | None, typer.Option(help="timeline: text.")] = None,
    dataset: Annotated[str | None, typer.Option(help="timeline: dataset, * allowed.")] = None,
) -> None:
    """Export the timeline (Timesketch CSV/JSONL), the encrypted files or the IOCs (STIX)."""
    # declared here, not in report.export: registering it there imported the case store
    # (pyarrow, DuckDB) on every start of the CLI
    from ashiato.report.export import main_command
    from ashiato.timeline import Filters

    filters = Filters(host, user, ip, start, end, search, dataset)
    try:
        path, n = main_command(case, what, fmt, output, filters)
    except AshiatoError as exc:
        typer.echo(visible(f"error: {exc}"), err=True)
        raise typer.Exit(2) from exc
    if path is not None:
        typer.echo(visible(f"{n:,} rows written to {path}"), err=True)


def main() -> None:
    # typer builds every command's options before it runs one (~11 ms of signatures and
    # type hints, on every run): a run names its command first, so only that one is
    # built, ~3 ms (the top level's --help, or no name, still lists them all)
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    chosen = [c for c in app.registered_commands if _command_name(c) == name]
    if chosen:
        app.registered_commands = chosen
    app()


def _command_name(info: typer.models.CommandInfo) -> str:
    if info.name:
        return info.name
    assert info.callback is not None
    return typer.main.get_command_name(info.callback.__name__)


if __name__ == "__main__":
    main()
