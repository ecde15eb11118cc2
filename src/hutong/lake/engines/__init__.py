"""The lake's two query engines behind one protocol: DuckDB (embedded, the default) and Apache
Spark (``--engine spark``, for data beyond one machine).

A query is written once, in the SQL both engines speak (CTEs, joins, window functions, CASE;
no ASOF JOIN, no ``EXCLUDE``, no engine-only functions). The few spellings that differ are
rendered per engine by the ``Dialect`` (e.g. a timestamp's epoch milliseconds): a spec is a
function of the dialect that returns the text. Views are registered from explicit file lists
that hutong chooses (so a query over a period reads only that period's day partitions), or
from Arrow tables for small reference data; an empty list is an empty view of the right
schema, the same on both engines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pyarrow as pa

ENGINES = ("duckdb", "spark")


class Dialect(Protocol):
    def ms(self, column: str) -> str:
        """The epoch milliseconds (BIGINT) of a TIMESTAMP column."""
        ...

    def struct(self, fields: list[tuple[str, str]]) -> str:
        """A struct of ``(expression, name)`` pairs, ordered field by field."""
        ...

    def arg_max(self, arg: str, key: str) -> str:
        """The aggregate: ``arg`` at the row of the largest ``key`` (a unique key: ties would
        make the engines choose differently)."""
        ...

    def arg_min(self, arg: str, key: str) -> str: ...


class Engine(Protocol):
    name: str

    @property
    def dialect(self) -> Dialect: ...

    def view_parquet(self, name: str, files: list[Path], schema: pa.Schema) -> None:
        """A view over Parquet files; files written before a column existed read it as null."""
        ...

    def view_arrow(self, name: str, table: pa.Table) -> None: ...

    def materialize(self, name: str, sql: str) -> None:
        """``sql``'s result kept under ``name``, computed once for the queries that follow."""
        ...

    def query(self, sql: str) -> pa.Table: ...

    def close(self) -> None: ...


def open_engine(name: str) -> Engine:
    """An engine by name; Spark is imported only when asked for (it needs Java and pyspark)."""
    if name == "duckdb":
        from hutong.lake.engines.duck import DuckEngine

        return DuckEngine()
    if name == "spark":
        from hutong.lake.engines.spark import SparkEngine

        return SparkEngine()
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
