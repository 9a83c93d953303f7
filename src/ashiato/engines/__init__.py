"""Query engines for a case: DuckDB (one machine) or Spark (a cluster), chosen at run time.

Analyses are Ibis expressions over the ``events`` table; they run unchanged on either
engine. The few places where the engines need different code are declared here, once:
``CAPABILITIES`` says what each engine can do, and the expression helpers below
(:func:`json_field`, :func:`epoch_seconds`) pick the right implementation from the
backend an expression is bound to, so analyses call them instead of branching.

    eng = engines.connect(case, "spark", master="local[2]")
    ctx = Context(events=eng.events, tz=eng.case.tz)

Engine choice: the explicit argument, else ``ASHIATO_ENGINE``, else ``duckdb``; the Spark
master: the argument, else ``ASHIATO_SPARK_MASTER``, else ``local[*]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ashiato.case import Case
from ashiato.errors import AshiatoError

ENGINES = ("duckdb", "spark")
ENV_ENGINE = "ASHIATO_ENGINE"
ENV_MASTER = "ASHIATO_SPARK_MASTER"
DEFAULT_MASTER = "local[*]"

# ORDER BY on a key with ties leaves their order to the engine (DuckDB and Spark differ):
# event rows are ordered by time, then by their unique (evidence_id, record)
EVENT_ORDER = ("@timestamp", "evidence_id", "record")


@dataclass(frozen=True)
class Capabilities:
    """What one engine can do, and how it does what the engines do differently."""

    backend: str  # the Ibis backend name expressions report (expr.get_backend().name)
    remote_case: bool  # the case may live at a URL (s3://, hdfs://, file://)
    parallel_ingest: bool  # evidence files are parsed on many workers
    json_fields: str  # how a field of the ``extra`` JSON string is read
    epoch: str  # how a timestamp becomes epoch seconds (with the fraction)
    regex: str  # the regular-expression dialect ``re_search`` runs in
    catalogue: str  # where the evidence table comes from
    notes: tuple[str, ...] = field(default_factory=tuple)


CAPABILITIES: dict[str, Capabilities] = {
    "duckdb": Capabilities(
        backend="duckdb",
        remote_case=False,
        parallel_ingest=False,
        json_fields="CAST(extra AS JSON) -> path, unwrapped to the wanted type",
        epoch="epoch(ts) (DOUBLE)",
        regex="RE2",
        catalogue="case.duckdb, opened read-only",
        notes=("a JSON value of another type than asked for reads as NULL",),
    ),
    "spark": Capabilities(
        backend="pyspark",
        remote_case=True,
        parallel_ingest=True,
        json_fields="get_json_object(extra, '$.a.b'), cast to the wanted type",
        epoch="unix_micros(ts) / 1e6",
        regex="java.util.regex (RE2 patterns used here are compatible)",
        catalogue="case.duckdb read on the driver, registered as a temporary view",
        notes=(
            "a JSON number asked for as a string reads as its text, not NULL",
            "timestamps are TIMESTAMP (UTC session time zone), typed UTC for Ibis",
        ),
    ),
}


def resolve(engine: str | None) -> str:
    """The engine to use: the argument, else ``ASHIATO_ENGINE``, else ``duckdb``."""
    name = (engine or os.environ.get(ENV_ENGINE) or "duckdb").strip().lower()
    if name not in CAPABILITIES:
        raise AshiatoError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
    return name


def spark_master(master: str | None) -> str:
    return master or os.environ.get(ENV_MASTER) or DEFAULT_MASTER


@dataclass
class Engine:
    """An Ibis backend connected to one case, and that case's ``events`` table."""

    name: str
    case: Case  # the local case folder (for a remote case: its local working copy)
    backend: Any  # ibis backend
    events: Any  # ibis Table
    remote: str | None = None  # the case's URL when it doesn't live on this machine
    _publish: Callable[[Sequence[str]], None] | None = None

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES[self.name]

    def pin(self, name: str, expr: Any) -> Any:
        """``expr`` as a temporary view named ``name``: analyses that build on it compile
        only their own part (a deep base expression, e.g. the clock-skew fix, is otherwise
        compiled again into every one of their ~100 queries)."""
        if self.name != "duckdb":
            return self.backend.create_view(name, expr, overwrite=True)  # Spark: a temp view
        import sqlglot.expressions as sge

        # the case database is read-only: a TEMP view; the SQL is Ibis's compilation
        view = sge.Create(
            this=sge.to_identifier(name, quoted=True), kind="VIEW", replace=True,
            properties=sge.Properties(expressions=[sge.TemporaryProperty()]),
            expression=self.backend.compile(expr),
        )  # fmt: skip
        self.backend.raw_sql(view.sql("duckdb"))
        return self.backend.table(name)

    def publish(self, names: Sequence[str]) -> None:
        """Copy files the analyses wrote into the case folder back to a remote case."""
        if self._publish is not None:
            self._publish(names)


def connect(case: Case | str | Path, engine: str | None = None, *,
            master: str | None = None) -> Engine:  # fmt: skip
    """Connect ``engine`` to a case (a Case, a folder, or for Spark a URL)."""
    name = resolve(engine)
    if name == "spark":
        from ashiato.engines import spark

        return spark.connect(case, master=spark_master(master))
    from ashiato.engines import duckdb

    return duckdb.connect(case)


# -- expression helpers: one implementation per backend -------------------------------


def backend_name(expr: Any) -> str:
    """The Ibis backend an expression is bound to ("duckdb", "pyspark"...)."""
    try:
        return str(expr.get_backend().name)
    except Exception:  # an unbound expression (tests building SQL): the default dialect
        return "duckdb"


def json_field(col: Any, *path: str, as_: str = "string") -> Any:
    """A field of a JSON object held in a string column (``extra``), as ``as_``.

    ``json_field(t["extra"], "winlog", "event_data", "State")``; NULL where the path is
    absent or the text isn't JSON.
    """
    if not path:
        raise ValueError("json_field needs at least one key")
    if backend_name(col) == CAPABILITIES["spark"].backend:
        from ashiato.engines import spark

        return spark.json_field(col, path, as_)
    from ashiato.engines import duckdb

    return duckdb.json_field(col, path, as_)


def epoch_seconds(ts: Any) -> Any:
    """Seconds since 1970 as float64, keeping the fraction of a second."""
    if backend_name(ts) == CAPABILITIES["spark"].backend:
        from ashiato.engines import spark

        return spark.epoch_seconds(ts)
    from ashiato.engines import duckdb

    return duckdb.epoch_seconds(ts)
