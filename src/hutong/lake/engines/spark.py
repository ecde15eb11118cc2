"""Apache Spark (PySpark), for a lake beyond one machine; locally a ``local[N]`` session.

``HUTONG_SPARK_MASTER`` names the cluster (``local[2]`` by default). The session runs in UTC
(timestamps are instants; days are cut in Asia/Shanghai by hutong, not by the session), with
the web UI off and bound to loopback when local, so nothing listens or resolves outside.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa


class SparkDialect:
    def ms(self, column: str) -> str:
        return f"unix_millis({column})"

    def struct(self, fields: list[tuple[str, str]]) -> str:
        return "struct(" + ", ".join(f"{expr} AS {name}" for expr, name in fields) + ")"

    def arg_max(self, arg: str, key: str) -> str:
        return f"max_by({arg}, {key})"

    def arg_min(self, arg: str, key: str) -> str:
        return f"min_by({arg}, {key})"


class SparkEngine:
    name = "spark"

    def __init__(self) -> None:
        master = os.environ.get("HUTONG_SPARK_MASTER", "local[2]")
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        self.spark: Any = (
            SparkSession.builder.master(master)
            .appName("hutong")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.shuffle.partitions", os.environ.get("HUTONG_SPARK_PARTITIONS", "8"))
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")
        self.dialect = SparkDialect()

    def view_parquet(self, name: str, files: list[Path], schema: pa.Schema) -> None:
        if not files:
            self.view_arrow(name, schema.empty_table())
            return
        frame = self.spark.read.option("mergeSchema", "true").parquet(*(str(f) for f in files))
        present = set(frame.columns)
        from pyspark.sql import functions as F

        columns = [
            F.col(f.name)
            if f.name in present
            else F.lit(None).cast(_spark_type(f.type)).alias(f.name)
            for f in schema
        ]
        frame.select(*columns).createOrReplaceTempView(name)

    def view_arrow(self, name: str, table: pa.Table) -> None:
        self.spark.createDataFrame(table).createOrReplaceTempView(name)

    def materialize(self, name: str, sql: str) -> None:
        frame = self.spark.sql(sql).cache()
        frame.count()  # computed now, once
        frame.createOrReplaceTempView(name)

    def query(self, sql: str) -> pa.Table:
        result: pa.Table = self.spark.sql(sql).toArrow()
        return result

    def close(self) -> None:
        """Leaves the session up: a JVM takes seconds to start, and one process may run several
        queries (tests share it); the JVM ends with the process."""


def _spark_type(typ: pa.DataType) -> str:
    if pa.types.is_timestamp(typ):
        return "timestamp"
    if pa.types.is_boolean(typ):
        return "boolean"
    if pa.types.is_integer(typ):
        return "bigint"
    if pa.types.is_floating(typ):
        return "double"
    return "string"
