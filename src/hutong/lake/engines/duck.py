"""DuckDB, embedded: the default engine. No extension is installed or loaded at run time."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class DuckDialect:
    def ms(self, column: str) -> str:
        return f"epoch_ms({column})"

    def struct(self, fields: list[tuple[str, str]]) -> str:
        return "struct_pack(" + ", ".join(f"{name} := {expr}" for expr, name in fields) + ")"

    def arg_max(self, arg: str, key: str) -> str:
        return f"arg_max({arg}, {key})"

    def arg_min(self, arg: str, key: str) -> str:
        return f"arg_min({arg}, {key})"


class DuckEngine:
    name = "duckdb"

    def __init__(self, threads: int | None = None) -> None:
        config: dict[str, object] = dict(OFFLINE)
        if threads:
            config["threads"] = threads
        self.con = duckdb.connect(config=config)  # type: ignore[arg-type]
        self.dialect = DuckDialect()
        self._tables: dict[str, pa.Table] = {}

    def view_parquet(self, name: str, files: list[Path], schema: pa.Schema) -> None:
        if not files:
            self.view_arrow(name, schema.empty_table())
            return
        listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        source = f"read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"
        # the paths are hutong's own (quotes doubled); the names are the schema's
        described = self.con.sql(f"DESCRIBE SELECT * FROM {source}")  # noqa: S608
        present = {row[0] for row in described.fetchall()}
        columns = ", ".join(
            f.name if f.name in present else f"CAST(NULL AS {_duck_type(f.type)}) AS {f.name}"
            for f in schema
        )
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {columns} FROM {source}")  # noqa: S608

    def view_arrow(self, name: str, table: pa.Table) -> None:
        self._tables[name] = table  # the view reads it in place; keep it alive
        self.con.register(f"{name}__arrow", table)
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}__arrow")  # noqa: S608

    def materialize(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def query(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def close(self) -> None:
        self.con.close()


def _duck_type(typ: pa.DataType) -> str:
    if pa.types.is_timestamp(typ):
        return "TIMESTAMPTZ"
    if pa.types.is_boolean(typ):
        return "BOOLEAN"
    if pa.types.is_integer(typ):
        return "BIGINT"
    if pa.types.is_floating(typ):
        return "DOUBLE"
    return "VARCHAR"
