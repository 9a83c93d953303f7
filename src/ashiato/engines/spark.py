"""The Spark engine: Ibis' PySpark backend over the case's Parquet, wherever it lives.

``connect`` builds (or reuses) a SparkSession for the master, opens an isolated session
on it per case (its own temporary views), and registers:

- ``events``: every ``*.parquet`` below ``CASE/events`` (both layouts: one file per
  evidence file, and ``dataset=…/day=…/`` parts from a Spark ingest), read with the
  schema declared in ``schema.py``;
- ``evidence`` and ``aliases``: the case's catalogue, read from ``case.duckdb`` on the
  driver (small) and handed to Spark.

Two adjustments to the Ibis backend keep results identical to DuckDB's: Spark's
TIMESTAMP is typed as UTC (the session time zone is UTC), so results come back as aware
datetimes; and results are fetched through Arrow (``DataFrame.toArrow``), not pandas.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.schema as sch
import pyarrow as pa

from ashiato import __version__
from ashiato.case import Case
from ashiato.errors import AshiatoError
from ashiato.schema import EVENT_SCHEMA

if TYPE_CHECKING:
    from ashiato.engines import Engine

ENV_CONF = "ASHIATO_SPARK_CONF"  # extra Spark settings: "key=value,key=value"
_SESSIONS: dict[str, Any] = {}


class SparkUnavailable(AshiatoError):
    """pyspark or Java is missing."""


def available() -> str | None:
    """None when Spark can run here, else why not (for skips and error messages)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'ashiato[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else None
    if not (java and java.exists()) and shutil.which("java") is None:
        return "no Java runtime (Spark needs Java 17: install a JDK or set JAVA_HOME)"
    return None


def session(master: str, conf: dict[str, str] | None = None) -> Any:
    """The SparkSession for ``master`` (one per process; later calls reuse it)."""
    why = available()
    if why is not None:
        raise SparkUnavailable(why)
    if master in _SESSIONS:
        return _SESSIONS[master]
    from pyspark.sql import SparkSession

    settings = {
        "spark.app.name": "ashiato",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.enabled": "true",
    }
    if master.startswith("local"):
        # PySpark starts its workers with $PYSPARK_PYTHON, else whatever "python3" is on
        # PATH: from a virtualenv that is not activated, a python without ashiato.
        # Locally the workers are this machine: they run this very interpreter.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        settings["spark.ui.enabled"] = "false"
        settings["spark.sql.shuffle.partitions"] = str(max(4, 2 * _local_cores(master)))
        settings["spark.driver.memory"] = os.environ.get("ASHIATO_SPARK_DRIVER_MEMORY", "4g")
    for item in (os.environ.get(ENV_CONF) or "").split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            settings[key.strip()] = value.strip()
    settings.update(conf or {})
    builder = SparkSession.builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("ASHIATO_SPARK_LOG", "ERROR"))
    if not master.startswith("local"):
        why = executors_missing(spark.sparkContext)
        if why is not None:
            spark.stop()
            raise SparkUnavailable(why)
    _SESSIONS[master] = spark
    return spark


def executors_missing(sc: Any) -> str | None:
    """None when the executors can run ashiato's Python code, else what to install where.

    Asked with one tiny task before any work is sent, so a cluster without ashiato is
    one sentence, not pages of Java stack trace from the first real job.
    """

    def probe(_: Any) -> str:  # nested: shipped by value, it needs no ashiato to load
        import importlib

        missing = []
        for name in ("ashiato", "pyarrow", "orjson"):
            try:
                importlib.import_module(name)
            except ImportError:
                missing.append(name)
        import sys as worker_sys

        return f"{worker_sys.executable}|{','.join(missing)}"

    try:
        answer = sc.parallelize([0], 1).map(probe).collect()[0]
    except Exception as exc:  # py4j wraps whatever the executor hit
        text = str(exc).strip()
        first = text.splitlines()[0][:200] if text else type(exc).__name__
        return (
            f"the Spark executors could not run a Python task ({first}); install ashiato "
            f"{__version__} with its spark extra (pip install 'ashiato[spark]=={__version__}') "
            "into the Python every worker node runs, and point PYSPARK_PYTHON at it"
        )
    python, _, missing = str(answer).partition("|")
    if missing:
        return (
            f"the Spark executors' Python ({python}) lacks {missing.replace(',', ', ')}: "
            f"install ashiato {__version__} (pip install 'ashiato[spark]=={__version__}') "
            "into that Python on every worker node, or set PYSPARK_PYTHON to one that has it"
        )
    return None


def stop() -> None:
    """Stop the process's SparkSession (tests and benchmarks call this at the end)."""
    for spark in _SESSIONS.values():
        spark.stop()
    _SESSIONS.clear()


def _local_cores(master: str) -> int:
    hit = re.match(r"local\[(\d+)", master)
    return int(hit.group(1)) if hit else (os.cpu_count() or 2)


def _utc(t: dt.DataType) -> dt.DataType:
    if t.is_timestamp() and t.timezone is None:
        return dt.Timestamp(timezone="UTC", scale=t.scale, nullable=t.nullable)
    return t


def _backend_class() -> type:
    from ibis.backends.pyspark import Backend

    Backend().register_options()  # as loading ``ibis.pyspark`` would (compiler options)

    class UTCBackend(Backend):  # type: ignore[misc]
        """PySpark with TIMESTAMP typed as UTC and results fetched through Arrow."""

        def get_schema(self, table_name: str, *, catalog: str | None = None,
                       database: str | None = None) -> sch.Schema:  # fmt: skip
            schema = super().get_schema(table_name, catalog=catalog, database=database)
            return sch.Schema({name: _utc(t) for name, t in schema.items()})

        def _get_schema_using_query(self, query: str) -> sch.Schema:
            schema = super()._get_schema_using_query(query)
            return sch.Schema({name: _utc(t) for name, t in schema.items()})

        def to_pyarrow(self, expr: Any, /, *, params: Any = None, limit: Any = None,
                       **kwargs: Any) -> pa.Table:  # fmt: skip
            from ibis.formats.pyarrow import PyArrowData

            self._run_pre_execute_hooks(expr)
            table_expr = expr.as_table()
            sql = self.compile(table_expr, params=params, limit=limit, **kwargs)
            with self._safe_raw_sql(sql) as frame:
                table = to_arrow(frame)
            table = PyArrowData.convert_table(table, table_expr.schema())
            return expr.__pyarrow_result__(table)

    return UTCBackend


def spark_schema() -> Any:
    """EVENT_SCHEMA as a Spark StructType (Parquet is read with it, never inferred)."""
    from pyspark.sql import types as T

    def one(t: pa.DataType) -> Any:
        if pa.types.is_timestamp(t):
            return T.TimestampType()
        if pa.types.is_int32(t):
            return T.IntegerType()
        if pa.types.is_int64(t):
            return T.LongType()
        return T.StringType()

    return T.StructType([T.StructField(f.name, one(f.type), True) for f in EVENT_SCHEMA])


def read_events(spark: Any, events_url: str) -> Any:
    """A DataFrame of every event Parquet file below ``events_url`` (both layouts)."""
    from ashiato.engines.store import spark_url

    return (
        spark.read.schema(spark_schema())
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", "*.parquet")
        .parquet(spark_url(events_url))
    )


def connect(target: Case | str | Path, *, master: str) -> Engine:
    from ashiato.engines import Engine
    from ashiato.engines.store import open_case

    at = open_case(target)
    base = session(master)
    spark = base.newSession()  # its own temporary views: one case per connection
    # not cached: persisting all 70 columns made a 1.9M-event investigate 2.4x slower
    events = read_events(spark, at.events_url)
    with at.case.reader() as con:
        # as the DuckDB view: parts a killed ingest left without a catalogue row stay
        # hidden (listed for a local case; the next ingest removes them either way)
        hidden = [p.resolve().as_uri() for p in at.case.hidden_parts(con)]
        if hidden:
            from pyspark.sql import functions as F

            names = [F.lit(h) for h in hidden]
            events = events.where(~F.input_file_name().isin(*names))
        events.createOrReplaceTempView("events")
        for name in ("evidence", "aliases"):
            sql = f"SELECT * FROM {name}"  # noqa: S608 - a name from the tuple above
            got = con.execute(sql).arrow()  # a Table before DuckDB 1.4, then a reader
            table = got.read_all() if isinstance(got, pa.RecordBatchReader) else got
            from_arrow(spark, _plain(table)).createOrReplaceTempView(name)
    backend = _backend_class()().connect(spark)

    def publish(names: Sequence[str]) -> None:
        at.push(list(names))

    return Engine(name="spark", case=at.case, backend=backend, events=backend.table("events"),
                  remote=at.url if at.remote else None, _publish=publish)  # fmt: skip


def to_arrow(frame: Any) -> pa.Table:
    """A Spark DataFrame's rows as Arrow (``toArrow`` from Spark 4; pandas before)."""
    if hasattr(frame, "toArrow"):
        table: pa.Table = frame.toArrow()
        return table
    return pa.Table.from_pandas(frame.toPandas(), preserve_index=False)


def from_arrow(spark: Any, table: pa.Table) -> Any:
    """An Arrow table as a Spark DataFrame (Spark 4 takes Arrow; 3.5 pandas and a schema)."""
    import pyspark

    if int(pyspark.__version__.split(".")[0]) >= 4:
        return spark.createDataFrame(table)
    ddl = {pa.types.is_timestamp: "TIMESTAMP", pa.types.is_int64: "BIGINT",
           pa.types.is_int32: "INT", pa.types.is_floating: "DOUBLE",
           pa.types.is_boolean: "BOOLEAN"}  # fmt: skip
    cols = [f"`{f.name}` " + next((t for test, t in ddl.items() if test(f.type)), "STRING")
            for f in table.schema]  # fmt: skip
    return spark.createDataFrame(table.to_pandas(), schema=", ".join(cols))


def _plain(table: pa.Table) -> pa.Table:
    """Catalogue rows as types Spark takes (zoned timestamps in UTC, no blobs)."""
    cols = []
    for f in table.schema:
        col = table.column(f.name)
        if pa.types.is_timestamp(f.type):
            col = col.cast(pa.timestamp("us", tz="UTC"))
        cols.append(col)
    return pa.table(cols, names=table.column_names)


# -- expression helpers (see engines/__init__.py) -------------------------------------


def _json_path(path: Sequence[str]) -> str:
    out = "$"
    for key in path:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            out += "." + key
        else:
            out += "['" + key.replace("'", "\\'") + "']"
    return out


def _get_json_object_sig(json_text: str, path: str) -> str:  # type: ignore[empty-body]
    """Spark's own JSON path lookup (text of the value; NULL when absent or not JSON)."""


def _unix_micros_sig(ts: datetime) -> int:  # type: ignore[empty-body]
    """Microseconds since 1970 (Spark 3.1+)."""


# Spark built-ins Ibis has no operation for, called by name
_get_json_object: Any = ibis.udf.scalar.builtin(_get_json_object_sig, name="get_json_object")
_unix_micros: Any = ibis.udf.scalar.builtin(_unix_micros_sig, name="unix_micros")


def json_field(col: Any, path: Sequence[str], as_: str) -> Any:
    value = _get_json_object(col, _json_path(path))
    return value if as_ == "string" else value.cast(as_)


def epoch_seconds(ts: Any) -> Any:
    # Ibis compiles epoch_seconds() to unix_timestamp(), which drops the fraction
    return _unix_micros(ts).cast("float64") / 1e6
