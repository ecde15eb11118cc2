"""The data lake: append-only event logs per process, compacted into day-partitioned Parquet."""
