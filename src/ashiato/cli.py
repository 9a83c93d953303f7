"""Command line: each command parses options, calls one library function, renders.

Exit codes: 0 success; 1 nothing could be read / nothing found where something was
required; 2 a usage or input problem explained on stderr (AshiatoError).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ashiato.case import Case
from ashiato.errors import AshiatoError, QueryError
from ashiato.exports import iso, safe_cell, write_csv, write_jsonl

app = typer.Typer(
    help="ashiato (足跡): reconstruct a ransomware or malware incident from logs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def friendly(fn: F) -> F:
    """Print AshiatoError as a one-line message (exit 2) instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AshiatoError as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
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
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
) -> None:
    """Parse evidence into a case: hashed, read-only, nothing lost."""
    from ashiato.ingest import Options
    from ashiato.ingest import ingest as run

    overrides = []
    for item in tz_for or []:
        if "=" not in item:
            raise QueryError(f"--tz-for needs GLOB=ZONE, got {item!r}")
        pattern, zone = item.rsplit("=", 1)
        overrides.append((pattern, zone))
    c = Case.create_or_open(case, tz=tz)
    options = Options(tz=tz, tz_overrides=overrides, force_format=fmt, year=year)
    total = sum(_size(p) for p in evidence)
    with _progress(as_json) as bar:
        task = bar.add_task("ingest", total=total or None)

        def advance(display: str, size: int) -> None:
            bar.update(task, advance=size, description=Path(display).name[-40:])

        report = run(c, evidence, options, progress=advance)
    if as_json:
        _dump({"case": str(case), "files": [vars(f) for f in report.files],
               "skipped": [vars(s) for s in report.skipped], "rows": report.rows})  # fmt: skip
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


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description:40}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
        transient=True,
    )


def _ingest_table(report: Any) -> None:
    table = Table(title="Evidence ingested", show_lines=False)
    for col in ("file", "format", "enc", "tz", "rows", "rejected", "first (UTC)", "last (UTC)",
                "status"):  # fmt: skip
        table.add_column(col, overflow="fold")
    for f in report.files:
        style = {"done": "", "duplicate": "dim", "unrecognised": "yellow", "failed": "red"}
        table.add_row(
            _short(f.display), f.format or "-", f.encoding or "-", f.tz or "-",
            f"{f.rows:,}", f"{f.rejected:,}", iso(f.first)[:19], iso(f.last)[:19],
            f.status if not f.error else f"{f.status}: {f.error}",
            style=style.get(f.status, ""),
        )  # fmt: skip
    out.print(table)
    for s in report.skipped:
        out.print(f"[yellow]skipped[/] {s.display}: {s.reason}", highlight=False)
    done = [f for f in report.files if f.status == "done"]
    out.print(
        f"{len(done)} file(s) ingested, {report.rows:,} events, "
        f"{sum(f.rejected for f in report.files):,} rejected records kept in `rejects`.",
        highlight=False,
    )


def _short(display: str, width: int = 60) -> str:
    return display if len(display) <= width else "…" + display[-(width - 1) :]


# -- formats -------------------------------------------------------------------------


@app.command()
@friendly
def formats(
    explain: Annotated[
        Path | None, typer.Option(help="Show how this file would be read.")
    ] = None,
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
                out.print(f"[bold]{key}[/]: {value}", highlight=False)
        return
    fmts = registry.formats()
    if as_json:
        _dump([{"name": f.name, "dataset": f.dataset, "description": f.description,
                "fields": list(f.fields), "binary": f.binary} for f in fmts])  # fmt: skip
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
    from ashiato import timeline as tl

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
                iso(r["@timestamp"])[:23], r["event.dataset"], r["host.name"] or "",
                r["user.name"] or "", _flow(r), _what(r), f"{r['evidence_id']}:{r['record']}",
            )  # fmt: skip
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

    c = Case.open(case)
    with c.reader() as con:
        try:
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
            table.add_column(col, overflow="fold")
        for r in records:
            table.add_row(*(safe_cell(r[c]) for c in cols))
        out.print(table)


@app.command()
@friendly
def show(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    ref: Annotated[str, typer.Argument(help="EVIDENCE_ID:RECORD as printed in timelines.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print the stored event and the original record behind a reference."""
    from ashiato.show import show as run

    shown = run(Case.open(case), ref)
    if as_json:
        _dump(vars(shown))
        return
    out.print(f"[bold]evidence[/] {shown.evidence['path']} ({shown.evidence['format']}, "
              f"sha256 {shown.evidence['sha256'][:16]}…)", highlight=False)  # fmt: skip
    for ev in shown.events:
        for k, v in ev.items():
            out.print(f"  {k}: {v}", highlight=False, markup=False)
    if shown.note:
        out.print(f"[yellow]{shown.note}[/]", highlight=False)
    if shown.original:
        out.print("[bold]original record[/]")
        out.print(shown.original, highlight=False, markup=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
