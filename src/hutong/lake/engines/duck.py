"""DuckDB, embedded: the default engine. No extension is installed or loaded at run time."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class DuckDialect:
    def ms(self, column: str) -> str:
        return f"epoch_ms({column})"


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
        self.con.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT "  # noqa: S608 - hutong's own paths
            + ", ".join(f.name for f in schema)
            + f" FROM read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"
        )

    def view_arrow(self, name: str, table: pa.Table) -> None:
        self._tables[name] = table  # the view reads it in place; keep it alive
        self.con.register(f"{name}__arrow", table)
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}__arrow")  # noqa: S608

    def query(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def close(self) -> None:
        self.con.close()
